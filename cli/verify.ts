// `lifeboat verify etcd | velero`: prove, now, that a backup restores.
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import type { restoreVerification, RestoreVerificationInput } from '../workflows/restoreVerification.js';
import { appByName, clusterByName, loadConfig, objectRefSchema, type LifeboatConfig, type ObjectRef } from '../worker/config.js';
import { CliError, exitCodes, printJson } from './output.js';
import { runRunbook } from './runbook.js';
import { describeRootFailure } from '../model/failure-chain.js';
import { failedVerification, formatVerification } from './verification-output.js';

/** `secrets/shop/shop-payment` or `namespaces/shop` → an ObjectRef; bad input names the flag. */
export function parseObjectRef(text: string): ObjectRef {
  const parts = text.split('/');
  const [resource, a, b] = parts;
  const candidate = parts.length === 2 ? { resource, name: a } : parts.length === 3 ? { resource, namespace: a, name: b } : undefined;
  const parsed = objectRefSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new CliError(
      `--object '${text}': expected RESOURCE/NAME for namespaces or RESOURCE/NAMESPACE/NAME, RESOURCE one of namespaces, deployments, secrets, configmaps, services, serviceaccounts`,
      exitCodes.badInput,
    );
  }
  return parsed.data;
}

async function runVerification(
  config: LifeboatConfig,
  workflowId: string,
  input: RestoreVerificationInput,
  opts: { wait?: boolean; json?: boolean },
): Promise<void> {
  await runRunbook<typeof restoreVerification>(config, { type: 'restoreVerification', workflowId, args: [input] }, opts, async (result) => {
    try {
      const r = await result;
      if (opts.json) printJson(r);
      else process.stdout.write(formatVerification(r));
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const r = failedVerification(err);
      if (!r) throw new CliError(`verification ${workflowId} failed before it had a result: ${describeRootFailure(err)}`);
      if (opts.json) printJson(r);
      else process.stdout.write(formatVerification(r));
      process.exitCode = exitCodes.failed;
    }
  });
}

export function registerVerifyCommands(program: Command): void {
  const verify = program.command('verify').description('prove that a backup restores');
  verify
    .command('etcd')
    .description('restore an etcd snapshot into a scratch etcd and kube-apiserver and check the cluster is there')
    .requiredOption('--cluster <name>', 'cluster whose snapshot to verify')
    .option('--snapshot <id>', 'snapshot id (default: the newest uploaded or verified)')
    .option('--object <ref...>', 'also require this object, e.g. secrets/shop/shop-payment or namespaces/shop')
    .option('--wait', 'wait for the result, showing progress')
    .option('--json', 'print the result (or the started workflow) as JSON')
    .action(async (opts: { cluster: string; snapshot?: string; object?: string[]; wait?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const cluster = clusterByName(config, opts.cluster).name;
      const objects = (opts.object ?? []).map(parseObjectRef);
      if (opts.snapshot !== undefined && !/^[0-9TZ]+-[0-9a-f]{8,12}$/.test(opts.snapshot)) {
        throw new CliError(
          `--snapshot '${opts.snapshot}': expected a snapshot id like 20261121T093000Z-0123456789ab (see \`lifeboat snapshots list --cluster ${cluster}\`)`,
          exitCodes.badInput,
        );
      }
      await runVerification(
        config,
        `verify-etcd/${cluster}/${new Date().toISOString()}`,
        { kind: 'etcd', cluster, snapshotId: opts.snapshot, objects },
        opts,
      );
    });
  verify
    .command('velero')
    .description("restore an app's Velero backup into its verify cluster, in a scratch namespace, and check it")
    .requiredOption('--app <name>', 'app whose backup to verify')
    .option('--backup <name>', "Velero Backup name (default: the newest Completed one of the app's namespaces)")
    .option('--wait', 'wait for the result, showing progress')
    .option('--json', 'print the result (or the started workflow) as JSON')
    .action(async (opts: { app: string; backup?: string; wait?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const app = appByName(config, opts.app).name;
      if (opts.backup !== undefined && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(opts.backup)) {
        throw new CliError(
          `--backup '${opts.backup}': expected a Velero Backup name (lower-case letters, digits, '-' and '.')`,
          exitCodes.badInput,
        );
      }
      await runVerification(
        config,
        `verify-velero/${app}/${new Date().toISOString()}`,
        { kind: 'velero', app, backupName: opts.backup },
        opts,
      );
    });
}
