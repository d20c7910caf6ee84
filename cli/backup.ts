// `lifeboat backup etcd`
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import type { etcdSnapshot } from '../workflows/etcdSnapshot.js';
import { clusterByName, loadConfig } from '../worker/config.js';
import { connectClient, requireWorker } from './temporal.js';
import { CliError, printJson, table } from './output.js';
import { followProgress } from './progress.js';
import { failureSummary } from './failures.js';

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('take a backup now');
  backup.command('etcd')
    .description('stream an encrypted, verified etcd snapshot of a cluster into the object store')
    .requiredOption('--cluster <name>', 'cluster to snapshot')
    .option('--wait', 'wait for it to finish, showing progress')
    .option('--skip-retention', 'do not apply the retention policy afterwards')
    .option('--json', 'print the result (or the started workflow) as JSON')
    .action(async (opts: { cluster: string; wait?: boolean; json?: boolean; skipRetention?: boolean }) => {
      const config = loadConfig();
      const cluster = clusterByName(config, opts.cluster).name;
      const client = await connectClient(config);
      await requireWorker(client, config);
      const workflowId = `etcd-snapshot/${cluster}/${new Date().toISOString()}`;
      const handle = await client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue: config.temporal.taskQueue, workflowId, args: [{ cluster, skipRetention: opts.skipRetention }],
      });
      if (!opts.wait) {
        if (opts.json) printJson({ workflowId, runId: handle.firstExecutionRunId });
        else process.stdout.write(`started ${workflowId}\nfollow it with: lifeboat backup etcd ... --wait, or in the Temporal UI\n`);
        return;
      }
      const result = handle.result();
      if (!opts.json) await followProgress(handle, result);
      try {
        const r = await result;
        if (opts.json) printJson({ workflowId, ...r });
        else {
          const m = r.manifest;
          process.stdout.write(table(['step', 'state', 'started', 'finished', 'detail'], r.steps.map((s) => [s.name, s.state, s.startedAt ?? '', s.finishedAt ?? '', s.detail ?? ''])));
          process.stdout.write(`\nsnapshot ${m.snapshotId} of ${m.cluster}: ${mib(m.object.plaintextBytes)} at revision ${m.etcd.revisionAtStart}, stored s3://${config.objectStore.bucket}/${m.object.objectKey} (${mib(m.object.storedBytes)}, key ${m.encryption.keyId})\n`);
          if (r.retentionError) process.stdout.write(`retention failed (the snapshot is good): ${r.retentionError}\n`);
        }
      } catch (err) {
        if (err instanceof WorkflowFailedError) throw new CliError(`etcd snapshot of ${cluster} failed (${workflowId}): ${failureSummary(err)}`);
        throw err;
      } finally {
        await client.connection.close();
      }
    });
}
