// `lifeboat backup etcd | velero`
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import type { etcdSnapshot } from '../workflows/etcdSnapshot.js';
import type { veleroBackup, VeleroBackupInput } from '../workflows/veleroBackup.js';
import { appByName, clusterByName, loadConfig } from '../worker/config.js';
import { parseSecondsDuration, secondsDurationExpectation } from '../model/durations.js';
import { CliError, printJson, table } from './output.js';
import { runRunbook } from './runbook.js';
import { describeRootFailure } from '../model/failure-chain.js';
import type { Step } from '../model/steps.js';

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

const badInput = (flag: string, expected: string, got: string) => new CliError(`${flag}: expected ${expected}, got '${got}'`, 2);

/** A comma-separated list whose every element matches `pattern`. */
function listOption(flag: string, value: string | undefined, pattern: RegExp, expected: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim());
  const bad = items.find((i) => !pattern.test(i));
  if (bad !== undefined) throw badInput(flag, `a comma-separated list of ${expected}`, bad || value);
  return items;
}

const dnsLabel = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/;
const resourceName = /^(\*|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)$/;
const labelKey = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

interface VeleroBackupOptions {
  cluster?: string;
  app?: string;
  includeNamespaces?: string;
  excludeNamespaces?: string;
  includeResources?: string;
  excludeResources?: string;
  selector?: string;
  ttl?: string;
  storageLocation?: string;
  timeout?: string;
  wait?: boolean;
  json?: boolean;
}

/** The workflow input the flags describe; bad input is a CliError with exit code 2, before anything starts. */
export function veleroBackupInput(opts: VeleroBackupOptions): VeleroBackupInput {
  if ((opts.cluster === undefined) === (opts.app === undefined)) {
    throw new CliError(`--cluster or --app: expected exactly one of them, got ${opts.cluster === undefined ? 'neither' : 'both'}`, 2);
  }
  const input: VeleroBackupInput = {};
  if (opts.cluster !== undefined) input.cluster = opts.cluster;
  if (opts.app !== undefined) input.app = opts.app;
  const lists: [keyof VeleroBackupInput, string, string | undefined, RegExp, string][] = [
    ['includeNamespaces', '--include-namespaces', opts.includeNamespaces, dnsLabel, 'namespace names'],
    ['excludeNamespaces', '--exclude-namespaces', opts.excludeNamespaces, dnsLabel, 'namespace names'],
    [
      'includeResources',
      '--include-resources',
      opts.includeResources,
      resourceName,
      'resources like deployments or certificates.cert-manager.io',
    ],
    [
      'excludeResources',
      '--exclude-resources',
      opts.excludeResources,
      resourceName,
      'resources like deployments or certificates.cert-manager.io',
    ],
  ];
  for (const [key, flag, value, pattern, expected] of lists) {
    const items = listOption(flag, value, pattern, expected);
    if (items) (input as Record<string, unknown>)[key] = items;
  }
  if (opts.selector !== undefined) {
    input.labelSelector = {};
    for (const pair of opts.selector.split(',')) {
      const [key, value, extra] = pair.trim().split('=');
      if (key === undefined || value === undefined || extra !== undefined || !labelKey.test(key) || !labelValue.test(value)) {
        throw badInput('--selector', 'label pairs like app=shop,tier=web', pair);
      }
      input.labelSelector[key] = value;
    }
  }
  if (opts.ttl !== undefined) {
    if (!/^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/.test(opts.ttl)) throw badInput('--ttl', 'a Go duration like 720h or 1h30m', opts.ttl);
    input.ttl = opts.ttl;
  }
  if (opts.storageLocation !== undefined) {
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(opts.storageLocation))
      throw badInput('--storage-location', 'a BackupStorageLocation name', opts.storageLocation);
    input.storageLocation = opts.storageLocation;
  }
  if (opts.timeout !== undefined) {
    const seconds = parseSecondsDuration(opts.timeout);
    if (seconds === undefined) throw badInput('--timeout', secondsDurationExpectation, opts.timeout);
    input.timeoutSeconds = seconds;
  }
  return input;
}

/** A backup's steps, with when each started and finished. */
const stepsTable = (steps: Step[]) =>
  table(
    ['step', 'state', 'started', 'finished', 'detail'],
    steps.map((s) => [s.name, s.state, s.startedAt ?? '', s.finishedAt ?? '', s.detail ?? '']),
  );

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('take a backup now');
  backup
    .command('etcd')
    .description('stream an encrypted, verified etcd snapshot of a cluster into the object store')
    .requiredOption('--cluster <name>', 'cluster to snapshot')
    .option('--wait', 'wait for it to finish, showing progress')
    .option('--skip-retention', 'do not apply the retention policy afterwards')
    .option('--json', 'print the result (or the started workflow) as JSON')
    .action(async (opts: { cluster: string; wait?: boolean; json?: boolean; skipRetention?: boolean }) => {
      const config = loadConfig();
      const cluster = clusterByName(config, opts.cluster).name;
      const workflowId = `etcd-snapshot/${cluster}/${new Date().toISOString()}`;
      await runRunbook<typeof etcdSnapshot>(
        config,
        { type: 'etcdSnapshot', workflowId, args: [{ cluster, skipRetention: opts.skipRetention }] },
        opts,
        async (result) => {
          const r = await result.catch((err: unknown) => {
            if (err instanceof WorkflowFailedError)
              throw new CliError(`etcd snapshot of ${cluster} failed (${workflowId}): ${describeRootFailure(err)}`);
            throw err;
          });
          if (opts.json) printJson({ workflowId, ...r });
          else {
            const m = r.manifest;
            process.stdout.write(stepsTable(r.steps));
            process.stdout.write(
              `\nsnapshot ${m.snapshotId} of ${m.cluster}: ${mib(m.object.plaintextBytes)} at revision ${m.etcd.revisionAtStart}, stored s3://${config.objectStore.bucket}/${m.object.objectKey} (${mib(m.object.storedBytes)}, key ${m.encryption.keyId})\n`,
            );
            if (r.retentionError) process.stdout.write(`retention failed (the snapshot is good): ${r.retentionError}\n`);
          }
        },
      );
    });

  backup
    .command('velero')
    .description("take a Velero backup of a cluster or of an app's namespaces, and report how it ended")
    .option('--cluster <name>', 'cluster to back up (or --app)')
    .option('--app <name>', 'app whose namespaces and backup settings to use (or --cluster)')
    .option('--include-namespaces <list>', "comma-separated namespaces (default: the app's, else all)")
    .option('--exclude-namespaces <list>', 'comma-separated namespaces to leave out')
    .option('--include-resources <list>', 'comma-separated resources, e.g. deployments,configmaps (default: all)')
    .option('--exclude-resources <list>', 'comma-separated resources to leave out')
    .option('--selector <k=v,...>', 'only objects with all these labels')
    .option('--ttl <duration>', "how long Velero keeps the backup, e.g. 720h (default: the app's, else 720h)")
    .option('--storage-location <name>', "BackupStorageLocation (default: the cluster's velero.storageLocation)")
    .option('--timeout <duration>', "fail if Velero has not finished after this long, e.g. 10m (default: the cluster's velero.timeout)")
    .option('--wait', 'wait for it to finish, showing progress')
    .option('--json', 'print the result (or the started workflow) as JSON')
    .action(async (opts: VeleroBackupOptions) => {
      const input = veleroBackupInput(opts);
      const config = loadConfig();
      const subject = input.app !== undefined ? appByName(config, input.app).name : clusterByName(config, input.cluster!).name;
      if (input.app !== undefined && input.cluster !== undefined) clusterByName(config, input.cluster);
      const workflowId = `velero-backup/${subject}/${new Date().toISOString()}`;
      await runRunbook<typeof veleroBackup>(config, { type: 'veleroBackup', workflowId, args: [input] }, opts, async (result) => {
        const r = await result.catch((err: unknown) => {
          if (err instanceof WorkflowFailedError)
            throw new CliError(`Velero backup of ${subject} failed (${workflowId}): ${describeRootFailure(err)}`);
          throw err;
        });
        if (opts.json) printJson({ workflowId, ...r });
        else {
          process.stdout.write(stepsTable(r.steps));
          process.stdout.write(
            `\nVelero backup ${r.veleroNamespace}/${r.name} of ${r.cluster}: ${r.phase}, ${r.itemsBackedUp}/${r.totalItems} items, ${r.warnings} warnings, ${r.errors} errors, location ${r.storageLocation}${r.expiration ? `, expires ${r.expiration}` : ''}\n`,
          );
          const p = r.problems;
          if (p) {
            for (const line of [
              p.failureReason && `failure reason: ${p.failureReason}`,
              ...(p.validationErrors ?? []).map((v) => `validation error: ${v}`),
              ...p.errors.map((e) => `error: ${e}`),
              ...p.warnings.map((w) => `warning: ${w}`),
              ...p.logErrors.map((l) => `log: ${l}`),
              ...(p.unreadable ?? []),
            ]) {
              if (line) process.stdout.write(`  ${line}\n`);
            }
          }
        }
        if (r.phase !== 'Completed') throw new CliError(`Velero backup ${r.name} of ${r.cluster} ended ${r.phase} (${workflowId})`);
      });
    });
}
