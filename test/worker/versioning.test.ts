// Unit: worker versioning from configuration (temporal.deployment): the build id is the workflow
// bundle's hash unless given, PINNED by default, off without the block, and a bad block is refused at
// its line. No lab needed; the versioned workers themselves run in test/lab/temporal-cluster.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig, type LifeboatConfig } from '../../worker/config.js';
import { BuildIdError, bundleBuildId, workerDeploymentOptions } from '../../worker/versioning.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-versioning-'));
writeFileSync(join(dir, 'k'), 'contexts: [{ name: c, context: {} }]\ncurrent-context: c\n');
for (const name of ['ca', 'crt', 'key']) writeFileSync(join(dir, name), 'PEM\n');
const base = `objectStore: { bucket: backups }
clusters:
  - name: primary
    kubeconfig: ${join(dir, 'k')}
    etcd: { endpoints: [https://e:2379], caFile: ${join(dir, 'ca')}, certFile: ${join(dir, 'crt')}, keyFile: ${join(dir, 'key')} }
`;
const load = (temporal: string): LifeboatConfig => {
  const file = join(dir, `${Math.random()}.yaml`);
  writeFileSync(file, `${temporal}\n${base}`);
  return loadConfig({ file, env: {} });
};
const bundle = (name: string, code: string) => {
  const codePath = join(dir, name);
  writeFileSync(codePath, code);
  return { workflowBundle: { codePath } };
};

describe('temporal.deployment', () => {
  it('off without the block: the worker is unversioned', () => {
    expect(workerDeploymentOptions(load(''), bundle('a.js', 'code'))).toBeUndefined();
  });

  it("versions the worker by the workflow bundle's hash, PINNED by default: the same code, the same build id", () => {
    const config = load('temporal:\n  deployment: { name: lifeboat }');
    const one = workerDeploymentOptions(config, bundle('one.js', 'workflow code v1'));
    expect(one).toEqual({
      version: { deploymentName: 'lifeboat', buildId: expect.stringMatching(/^wf-[0-9a-f]{16}$/) },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'PINNED',
    });
    expect(workerDeploymentOptions(config, bundle('copy.js', 'workflow code v1'))!.version).toEqual(one!.version);
    expect(workerDeploymentOptions(config, bundle('two.js', 'workflow code v2'))!.version.buildId).not.toBe(one!.version.buildId);
    expect(one!.version.buildId).toBe(bundleBuildId(join(dir, 'one.js')));
  });

  it('takes a build id and a behaviour as given', () => {
    const config = load('temporal:\n  deployment: { name: lifeboat, buildId: release-42, defaultVersioningBehavior: AUTO_UPGRADE }');
    expect(workerDeploymentOptions(config, { workflowsPath: '/src/workflows' })).toEqual({
      version: { deploymentName: 'lifeboat', buildId: 'release-42' },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'AUTO_UPGRADE',
    });
  });

  it('without a bundle to hash, asks for a build id', () => {
    expect(() => workerDeploymentOptions(load('temporal:\n  deployment: { name: lifeboat }'), { workflowsPath: '/src/workflows' })).toThrow(
      BuildIdError,
    );
  });

  it('refuses a bad block at its line', () => {
    const problems = (temporal: string) => {
      try {
        load(temporal);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problems('temporal:\n  deployment:\n    name: life.boat\n    defaultVersioningBehavior: SOMETIMES')).toEqual([
      expect.stringMatching(/\.yaml:3:11: temporal\.deployment\.name: a name without dots or spaces$/),
      expect.stringMatching(/\.yaml:4:32: temporal\.deployment\.defaultVersioningBehavior: expected PINNED or AUTO_UPGRADE$/),
    ]);
  });
});
