// The shipped alert rules (deploy/prometheus/), checked by Prometheus's own promtool (lab tool, no lab
// process needed): they load, their unit tests (lifeboat-rules.test.yml) pass, and the PrometheusRule
// manifest carries exactly the rules file's groups.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { parse } from 'yaml';
import { bin } from '../../lab/topology.js';
import { prometheusRuleManifest, prometheusRulePath, rulesFilePath, type RuleGroups } from '../../model/prometheus-rules.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const rulesText = readFileSync(repo(rulesFilePath), 'utf8');

describe('deploy/prometheus', () => {
  it('promtool loads the rules file', async () => {
    const r = await execa(bin.promtool, ['check', 'rules', repo(rulesFilePath)], { reject: false });
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.exitCode).toBe(0);
  });

  it('promtool test rules: every alert fires when it should, once for several workers, and not before', async () => {
    const r = await execa(bin.promtool, ['test', 'rules', repo('deploy/prometheus/lifeboat-rules.test.yml')], { reject: false });
    expect(`${r.stdout}\n${r.stderr}`).toContain('SUCCESS');
    expect(r.exitCode).toBe(0);
  });

  it('the unit tests cover every alert the rules file defines', () => {
    const alerts = (parse(rulesText) as RuleGroups).groups.flatMap((g) => g.rules.map((r) => r.alert as string));
    const tested = new Set(
      [...readFileSync(repo('deploy/prometheus/lifeboat-rules.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
    );
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('the PrometheusRule manifest is generated from the rules file (node dist/scripts/prometheus-rule.js)', () => {
    const committed = readFileSync(repo(prometheusRulePath), 'utf8');
    expect(committed).toBe(prometheusRuleManifest(rulesText));
    const manifest = parse(committed) as { kind: string; spec: RuleGroups };
    expect(manifest.kind).toBe('PrometheusRule');
    expect(manifest.spec.groups).toEqual((parse(rulesText) as RuleGroups).groups);
  });
});
