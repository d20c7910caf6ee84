// Integration (lab: kube-apiserver/primary for the Node lookups; no worker): `lifeboat node` refuses
// bad arguments with a message naming the argument and what it expects, exit 2, and starts nothing.
import { describe, expect, it } from '@jest/globals';
import { lifeboat } from '../helpers/lab.js';

/** The cluster's Nodes follow, ten at most: other suites add Nodes of their own beside the lab's three, so which ten varies. */
const unknownNode = /^lifeboat: --node 'nosuch': no such Node on 'primary'; its Nodes: [a-z0-9-]+(, [a-z0-9-]+){2,9}( \(\+\d+ more\))?$/;

describe('lifeboat node: bad input', () => {
  it.each([
    [
      ['node', 'replace', '--cluster', 'nosuch', '--node', 'n', '--reason', 'r'],
      "lifeboat: --cluster: unknown cluster 'nosuch'; configured clusters: primary, standby",
    ],
    [['node', 'replace', '--cluster', 'primary', '--node', 'nosuch', '--reason', 'r'], unknownNode],
    [
      ['node', 'replace', '--cluster', 'primary', '--node', 'Not_A_Node', '--reason', 'r'],
      "lifeboat: --node 'Not_A_Node': expected a Node name (a DNS subdomain)",
    ],
    [
      ['node', 'replace', '--cluster', 'primary', '--node', 'primary-node-0', '--reason', ' '],
      'lifeboat: --reason: expected why the Node is replaced',
    ],
    [
      ['node', 'replace', '--cluster', 'primary', '--node', 'primary-node-0', '--reason', 'r', '--auto-approve'],
      'lifeboat: --auto-approve needs --approver NAME: who approves, recorded in the report',
    ],
    [
      // An approver named up front must be one the approval step lists (group:sre), or nothing starts.
      ['node', 'replace', '--cluster', 'primary', '--node', 'primary-node-0', '--reason', 'r', '--auto-approve', '--approver', 'mallory'],
      /^lifeboat: --approver 'mallory' refused: .*'mallory' is not an approver \(approvers: [^)]*alice[^)]*\)$/,
    ],
    [
      ['node', 'replace', '--cluster', 'primary', '--node', 'primary-node-0', '--reason', 'r', '--approver', 'x'],
      'lifeboat: --approver goes with --auto-approve',
    ],
    [
      ['node', 'drain', '--cluster', 'primary', '--node', 'primary-node-0', '--drain-timeout', '1m'],
      "lifeboat: --drain-timeout '1m': expected whole seconds, at least 1",
    ],
    [['node', 'plan', '--cluster', 'primary', '--node', 'nosuch'], unknownNode],
  ])('%j exits 2: %s', async (args, message: string | RegExp) => {
    const result = await lifeboat(args);
    expect([result.exitCode, result.stdout]).toEqual([2, '']);
    if (typeof message === 'string') expect(result.stderr).toBe(message);
    else expect(result.stderr).toMatch(message);
  });

  it('replace without --reason: commander names the option', async () => {
    const result = await lifeboat(['node', 'replace', '--cluster', 'primary', '--node', 'primary-node-0']);
    expect([result.exitCode, result.stderr.split('\n')[0]]).toEqual([2, "error: required option '--reason <text>' not specified"]);
  });
});
