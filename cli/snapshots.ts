// `lifeboat snapshots list | prune`
import type { Command } from 'commander';
import type { pruneEtcdSnapshots } from '../workflows/etcdSnapshot.js';
import { listManifests } from '../activities/object-store/manifests.js';
import { clusterByName, loadConfig } from '../worker/config.js';
import { createS3Client } from '../worker/s3.js';
import { connectClient, requireWorker } from './temporal.js';
import { CliError, exitCodes, printJson, table } from './output.js';

const age = (iso: string, now: number) => {
  const minutes = Math.round((now - Date.parse(iso)) / 60_000);
  return minutes < 120 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.round(minutes / 60)}h` : `${Math.round(minutes / 1440)}d`;
};

export function registerSnapshotCommands(program: Command): void {
  const snapshots = program.command('snapshots').description('etcd snapshots in the object store');
  snapshots
    .command('list')
    .description('snapshots of a cluster, newest first, from their manifests')
    .requiredOption('--cluster <name>', 'cluster')
    .option('--json', 'print the manifests as JSON')
    .action(async (opts: { cluster: string; json?: boolean }) => {
      const config = loadConfig();
      const cluster = clusterByName(config, opts.cluster).name;
      const s3 = createS3Client(config);
      const listing = await listManifests(s3, config.objectStore.bucket, cluster);
      s3.destroy();
      if (!listing.complete && !listing.manifests.length) throw new CliError(listing.problem ?? 'listing failed');
      const now = Date.now();
      if (opts.json) printJson({ cluster, complete: listing.complete, problem: listing.problem, snapshots: listing.manifests });
      else {
        process.stdout.write(
          table(
            ['snapshot', 'age', 'size', 'revision', 'status', 'key'],
            listing.manifests.map((m) => [
              m.snapshotId,
              age(m.startedAt, now),
              `${(m.object.plaintextBytes / 1024 / 1024).toFixed(1)} MiB`,
              String(m.etcd.revisionAtStart),
              m.status,
              m.encryption.keyId,
            ]),
          ),
        );
        if (!listing.complete) process.stdout.write(`warning: listing incomplete: ${listing.problem}\n`);
      }
      if (!listing.complete) process.exitCode = exitCodes.failed;
    });

  snapshots
    .command('prune')
    .description("apply the cluster's retention policy now")
    .requiredOption('--cluster <name>', 'cluster')
    .option('--dry-run', 'print what would be deleted and why; delete nothing')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: { cluster: string; dryRun?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const cluster = clusterByName(config, opts.cluster).name;
      const client = await connectClient(config);
      await requireWorker(client, config);
      const workflowId = `etcd-snapshot-prune/${cluster}/${new Date().toISOString()}`;
      const result = await client.workflow.execute<typeof pruneEtcdSnapshots>('pruneEtcdSnapshots', {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ cluster, dryRun: Boolean(opts.dryRun) }],
      });
      await client.connection.close();
      if (opts.json) {
        printJson({ workflowId, ...result });
        return;
      }
      const { plan } = result;
      if (plan.refused) throw new CliError(`nothing deleted: ${plan.refused}`);
      const rows = [
        ...plan.keep.map((k) => [k.id, 'keep', k.reasons.join(', ')]),
        ...plan.delete.map((d) => [d.id, opts.dryRun ? 'would delete' : 'deleted', d.reason]),
      ].sort((a, b) => b[0]!.localeCompare(a[0]!));
      process.stdout.write(table(['snapshot', 'action', 'why'], rows));
      if (result.abortedUploads.length) process.stdout.write(`aborted ${result.abortedUploads.length} incomplete upload(s)\n`);
    });
}
