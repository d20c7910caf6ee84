// Unit: the registry of building blocks runbook documents name (model/runbook/registry.ts) is the
// catalogue the interpreter runs (model/runbook/catalog.ts), with an input schema for each block.
import { describe, expect, it } from '@jest/globals';
import { blockCatalog, type CatalogBlock } from '../../../model/runbook/catalog.js';
import { formatProblems, parseRunbook } from '../../../model/runbook/parse.js';
import { runbookBlocks } from '../../../model/runbook/registry.js';
import { documentErrorMap } from '../../../model/runbook/validate.js';

const issues = (block: string, input: unknown) => {
  const result = runbookBlocks.get(block)!.input.safeParse(input, { error: documentErrorMap });
  return result.success ? { data: result.data } : { issues: result.error.issues.map((i) => [i.path.join('.'), i.message]) };
};

/** What a restoreVerification step's result carries that a game day report reads. */
const verification = {
  kind: 'etcd',
  subject: 'primary',
  passed: true,
  rtoSeconds: 42.5,
  rpoSeconds: 310,
  objectives: { rtoSeconds: 1800, rpoSeconds: 86_400 },
  startedAt: '2026-12-01T09:00:00.000Z',
};

describe('runbookBlocks', () => {
  it('names exactly the blocks of the catalogue, with their kind, description, read-only flag and default retry', () => {
    const fromCatalog = Object.entries(blockCatalog as Record<string, CatalogBlock>).map(([name, b]) => ({
      name,
      kind: b.kind,
      description: b.description,
      readOnly: b.readOnly ?? false,
      defaultRetry: b.kind === 'activity' ? b.defaultRetry : undefined,
    }));
    const registered = [...runbookBlocks.values()].map((b) => ({
      name: b.name,
      kind: b.kind,
      description: b.description,
      readOnly: b.readOnly,
      defaultRetry: b.defaultRetry,
    }));
    expect(registered).toEqual(fromCatalog);
    expect([...runbookBlocks.keys()]).toEqual([
      'clusterHealth',
      'etcdSnapshot',
      'veleroBackup',
      'restoreVerification',
      'failover',
      'failback',
      'gameDay',
      'scaleDeployment',
      'cordonNode',
      'uncordonNode',
      'preflightNode',
      'drainNode',
      'deletePods',
      'fenceNode',
      'taintOutOfService',
      'removeOutOfServiceTaint',
      'releaseFencedNodePods',
      'waitVolumesDetached',
      'deleteNode',
      'provisionNode',
      'waitNodeReady',
      'verifyPodsMoved',
      'planEtcdMemberReplacement',
      'moveEtcdLeaderOff',
      'stopEtcdMember',
      'removeEtcdMember',
      'moveEtcdDataAside',
      'addEtcdLearner',
      'startEtcdMember',
      'promoteEtcdLearner',
      'preflightEtcdRestore',
      'stopControlPlaneComponent',
      'startControlPlaneComponent',
      'restartControlPlaneComponent',
      'stopEtcdMembers',
      'startEtcdMembers',
      'moveEtcdDataDirsAside',
      'restoreEtcdMembers',
      'rollBackEtcdDataDirs',
      'waitEtcdRestored',
      'checkRestoredApi',
      'verifyEtcdRestoreWorkloads',
      'removeRestoreLeftovers',
      'removeStagedSnapshot',
      'claimOwner',
      'findClaimBackup',
      'scaleWorkload',
      'keepLostClaim',
      'restoreClaim',
      'waitClaimBound',
      'waitForCondition',
      'gameDayReport',
      'notify',
      'probeClusterApi',
      'probeClusterEtcd',
      'probeObjectStore',
      'readSiteWitness',
      'decidePartition',
      'resolveDataCheck',
      'runDataCheck',
      'httpCheck',
    ]);
  });

  it('takes the input each workflow and activity takes, with the defaults written once', () => {
    expect([
      issues('clusterHealth', { clusters: ['primary', 'standby'] }),
      issues('etcdSnapshot', { cluster: 'primary', skipRetention: true }),
      issues('veleroBackup', { app: 'shop', ttl: '24h30m', labelSelector: { tier: 'web' }, timeoutSeconds: 600 }),
      issues('restoreVerification', {
        kind: 'etcd',
        cluster: 'primary',
        objects: [
          { resource: 'secrets', namespace: 'shop', name: 'db' },
          { resource: 'namespaces', name: 'shop' },
        ],
      }),
      issues('restoreVerification', { kind: 'velero', app: 'shop', backupName: 'b-1' }),
      issues('failover', { app: 'shop', from: 'primary', to: 'standby', reason: 'drill', autoApprove: { approver: 'alice' } }),
      issues('failback', { app: 'shop', from: 'standby', to: 'primary', reason: 'home' }),
      issues('gameDay', { clusters: ['primary'], apps: [], freshBackups: true, failover: false }),
      issues('scaleDeployment', { cluster: 'primary', namespace: 'shop', name: 'web', replicas: 0 }),
      issues('cordonNode', { cluster: 'primary', node: 'n1' }),
      issues('uncordonNode', { cluster: 'primary', node: 'n1' }),
      issues('waitForCondition', { cluster: 'primary', apiVersion: 'v1', kind: 'Node', name: 'n1', condition: 'Ready' }),
      issues('httpCheck', { url: 'https://shop.example/healthz' }),
      issues('gameDayReport', { verifications: [verification] }),
      issues('runDataCheck', { cluster: 'primary', namespace: 'ledger', app: '', url: '', bodyContains: '' }),
      issues('resolveDataCheck', { cluster: 'primary', namespace: 'ledger', url: 'https://ledger.example/check' }),
    ]).toEqual([
      { data: { clusters: ['primary', 'standby'] } },
      { data: { cluster: 'primary', skipRetention: true } },
      { data: { app: 'shop', ttl: '24h30m', labelSelector: { tier: 'web' }, timeoutSeconds: 600 } },
      {
        data: {
          kind: 'etcd',
          cluster: 'primary',
          objects: [
            { resource: 'secrets', namespace: 'shop', name: 'db' },
            { resource: 'namespaces', name: 'shop' },
          ],
        },
      },
      { data: { kind: 'velero', app: 'shop', backupName: 'b-1' } },
      { data: { app: 'shop', from: 'primary', to: 'standby', reason: 'drill', autoApprove: { approver: 'alice' } } },
      { data: { app: 'shop', from: 'standby', to: 'primary', reason: 'home' } },
      { data: { clusters: ['primary'], apps: [], freshBackups: true, failover: false } },
      { data: { cluster: 'primary', namespace: 'shop', name: 'web', replicas: 0 } },
      { data: { cluster: 'primary', node: 'n1' } },
      { data: { cluster: 'primary', node: 'n1' } },
      { data: { cluster: 'primary', apiVersion: 'v1', kind: 'Node', name: 'n1', condition: 'Ready', status: 'True' } },
      { data: { url: 'https://shop.example/healthz', expectStatus: 200, timeoutSeconds: 10 } },
      { data: { verifications: [verification], failovers: [] } },
      { data: { cluster: 'primary', namespace: 'ledger', app: '', url: '', bodyContains: '' } },
      { data: { cluster: 'primary', namespace: 'ledger', url: 'https://ledger.example/check' } },
    ]);
  });

  it('refuses what the blocks cannot take, saying what was expected', () => {
    expect([
      issues('clusterHealth', { clusters: [] }),
      issues('clusterHealth', { cluster: 'primary' }),
      issues('veleroBackup', {}),
      issues('veleroBackup', { app: 'shop', ttl: '30d' }),
      issues('restoreVerification', { kind: 'etcd', cluster: 'primary', objects: [{ resource: 'secrets', name: 'db' }] }),
      issues('restoreVerification', { kind: 'both', app: 'shop' }),
      // A plan is the runbook's own (`lifeboat runbook plan`); a document never writes dryRun.
      issues('failover', { app: 'shop', from: 'primary', to: 'standby', reason: 'drill', dryRun: true }),
      issues('scaleDeployment', { cluster: 'primary', namespace: 'shop', name: 'web', replicas: -1 }),
      issues('waitForCondition', { cluster: 'primary', apiVersion: 'v1', kind: 'Node', name: 'n1', condition: 'Ready', status: 'true' }),
      issues('httpCheck', { url: 'ftp://shop.example/' }),
      issues('runDataCheck', { cluster: 'primary', namespace: 'ledger', url: 'ftp://ledger.example/' }),
      issues('resolveDataCheck', { cluster: 'primary', app: 'ledger' }),
      // What a report reads of each result must be there: a reference to the wrong step's result is caught.
      issues('gameDayReport', { verifications: [{ kind: 'etcd', subject: 'primary', passed: true }] }),
      issues('gameDayReport', {
        verifications: [],
        failovers: [{ name: 'shop', from: 'primary', to: 'standby', failover: verification, failback: { kind: 'failback' } }],
      }),
    ]).toEqual([
      { issues: [['clusters', 'expected at least one cluster']] },
      {
        issues: [
          ['clusters', 'missing required key (expected array)'],
          ['', 'Unrecognized key: "cluster"'],
        ],
      },
      { issues: [['', 'expected cluster or app (or both)']] },
      { issues: [['ttl', 'expected a Go duration like 720h or 24h30m']] },
      { issues: [['objects.0', 'namespace is required for namespaced resources and absent for namespaces']] },
      { issues: [['kind', "Invalid discriminator value. Expected 'etcd' | 'velero'"]] },
      { issues: [['', 'Unrecognized key: "dryRun"']] },
      { issues: [['replicas', 'expected a whole number of replicas, 0 or more']] },
      { issues: [['status', 'Invalid option: expected one of "True"|"False"|"Unknown"']] },
      { issues: [['url', 'expected an http or https URL']] },
      { issues: [['url', 'expected an http or https URL, or empty']] },
      { issues: [['namespace', 'missing required key (expected string)']] },
      {
        issues: [
          ['verifications.0.rtoSeconds', 'missing required key (expected number)'],
          ['verifications.0.rpoSeconds', 'missing required key (expected number)'],
          ['verifications.0.objectives', 'missing required key (expected object)'],
          ['verifications.0.startedAt', 'expected an ISO 8601 time, e.g. 2026-12-01T09:00:00.000Z'],
        ],
      },
      {
        issues: [
          ['failovers.0.failover.kind', 'Invalid option: expected one of "failover"|"failback"'],
          ['failovers.0.failover.status', 'missing required key (expected string)'],
          ['failovers.0.failover.requestedAt', 'expected an ISO 8601 time, e.g. 2026-12-01T09:00:00.000Z'],
          ['failovers.0.failover.steps', 'missing required key (expected array)'],
          ['failovers.0.failback.status', 'missing required key (expected string)'],
          ['failovers.0.failback.requestedAt', 'expected an ISO 8601 time, e.g. 2026-12-01T09:00:00.000Z'],
          ['failovers.0.failback.steps', 'missing required key (expected array)'],
        ],
      },
    ]);
  });

  it('is what a document is checked against: a literal input is refused at its line, a ${{ }} one waits for the run', () => {
    const text = [
      'apiVersion: lifeboat.io/v1',
      'kind: Runbook',
      'metadata:',
      '  name: registry-check',
      'parameters:',
      '  replicas:',
      '    type: number',
      '    default: 2',
      'steps:',
      '  - id: scale',
      '    action: scaleDeployment',
      '    with:',
      '      cluster: primary',
      '      namespace: shop',
      '      name: web',
      '      replicas: ${{ params.replicas }}',
      '  - id: health',
      '    run: clusterHealth',
      '    with:',
      '      cluster: primary',
      '  - id: probe',
      '    run: httpCheck',
      '    with:',
      '      url: https://shop.example/',
      '',
    ].join('\n');
    const result = parseRunbook('registry-check.yaml', text, { blocks: runbookBlocks });
    expect(result.ok ? [] : formatProblems(result.problems)).toEqual([
      'registry-check.yaml:20:7: steps[1].with.clusters: missing required key (expected array)',
      'registry-check.yaml:20:7: steps[1].with.cluster: unknown key "cluster"',
      'registry-check.yaml:22:10: steps[2].run: "httpCheck" is an activity; write action:',
    ]);
  });
});
