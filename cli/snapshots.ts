// `lifeboat snapshots list | prune | fetch`
import { existsSync } from 'node:fs';
import { link, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { pruneEtcdSnapshots } from '../workflows/etcdSnapshot.js';
import { EnvelopeError } from '../activities/object-store/envelope.js';
import { listManifests, readManifest } from '../activities/object-store/manifests.js';
import { fetchSnapshot, SnapshotIntegrityError } from '../activities/object-store/snapshot-fetch.js';
import { ManifestTamperedError } from '../activities/object-store/manifest-mac.js';
import type { SnapshotManifest } from '../model/snapshot-layout.js';
import { clusterByName, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { loadKeyRing } from '../worker/keys.js';
import { createS3Client } from '../worker/s3.js';
import { connectClient, requireWorker } from './temporal.js';
import { CliError, exitCodes, printJson, table } from './output.js';

const age = (iso: string, now: number) => {
  const minutes = Math.round((now - Date.parse(iso)) / 60_000);
  return minutes < 120 ? `${minutes}m` : minutes < 48 * 60 ? `${Math.round(minutes / 60)}h` : `${Math.round(minutes / 1440)}d`;
};

/** What `snapshots fetch` wrote: the plaintext etcd snapshot, checked against its manifest. */
export interface FetchedSnapshotFile {
  cluster: string;
  snapshotId: string;
  status: SnapshotManifest['status'];
  startedAt: string;
  /** Absolute path of the written file (mode 0600). */
  file: string;
  bytes: number;
  /** sha256 of the plaintext, equal to the manifest's plaintextSha256. */
  sha256: string;
  /** sha256 of the stored (encrypted) object, equal to the manifest's storedSha256. */
  storedSha256: string;
  keyId: string;
  /** The etcd revision the snapshot's stream started at (the manifest's etcd.revisionAtStart). */
  revision: number;
  /** The manifest's signature was checked (false: an unsigned manifest, fetched because of allowUnsigned). */
  signed: boolean;
}

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException).code === code;

/**
 * Renames `from` to `to` unless `to` exists, atomically where the filesystem has hard links (a link
 * fails on an existing name; a rename would replace it). Elsewhere: checked, then renamed.
 */
async function renameNoReplace(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new CliError(`--out ${to}: created by something else while the snapshot downloaded; left as it is`);
    if (existsSync(to)) throw new CliError(`--out ${to}: created by something else while the snapshot downloaded; left as it is`);
    await rename(from, to);
    return;
  }
  await unlink(from);
}

/**
 * Downloads snapshot `snapshotId` of `cluster`, decrypts it, checks both sha256s against its manifest,
 * and writes the plaintext (what `etcdutl snapshot restore` takes) to `out`: to `out.partial` first (mode
 * 0600, created exclusively), renamed into place only once every check passed, removed on any failure.
 * An existing `out` is refused and left unchanged. Ctrl-C stops the download and removes the partial.
 */
export async function fetchSnapshotToFile(
  config: LifeboatConfig,
  opts: { cluster: string; snapshot: string; out: string; allowUnsigned?: boolean },
): Promise<FetchedSnapshotFile> {
  const cluster = clusterByName(config, opts.cluster).name;
  if (!/^[A-Za-z0-9._-]+$/.test(opts.snapshot))
    throw new CliError(
      `--snapshot '${opts.snapshot}': expected a snapshot id, as \`lifeboat snapshots list --cluster ${cluster}\` prints it`,
      exitCodes.badInput,
    );
  const out = resolve(opts.out);
  const partial = `${out}.partial`;
  if (existsSync(out))
    throw new CliError(`--out ${out}: exists; refusing to replace it (remove it, or name another file)`, exitCodes.badInput);
  if (existsSync(partial))
    throw new CliError(
      `--out ${out}: ${partial} exists: another fetch is writing it, or one was killed; remove it once none runs`,
      exitCodes.badInput,
    );
  const dir = await stat(dirname(out)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new CliError(`--out ${out}: directory ${dirname(out)} does not exist`, exitCodes.badInput);
  if (!config.encryption)
    throw new CliError(
      'the configuration has no encryption keys (encryption.keys): snapshots are stored encrypted, and nothing here can decrypt them',
      exitCodes.badInput,
    );
  // A key file that is missing or malformed is a ConfigError naming it (exit 2).
  const keyRing = loadKeyRing(config.encryption);
  // The S3 client alone: createClients would also load every cluster's kubeconfig, which a way out
  // of a broken cluster must not depend on.
  const s3 = createS3Client(config);
  const bucket = config.objectStore.bucket;
  try {
    const manifest = await readManifest(s3, bucket, cluster, opts.snapshot, keyRing).catch((err: Error) => {
      if (err.name === 'NoSuchKey')
        throw new CliError(
          `cluster '${cluster}' has no snapshot ${opts.snapshot} in s3://${bucket} (see \`lifeboat snapshots list --cluster ${cluster}\`)`,
        );
      if (err instanceof ManifestTamperedError) throw new CliError(`${err.message}. Nothing written to ${out}`);
      throw err;
    });
    if (!manifest.mac && !opts.allowUnsigned)
      throw new CliError(
        `snapshot ${opts.snapshot} of '${cluster}' has an unsigned manifest (written before Lifeboat signed manifests): nothing proves it was not swapped or edited in the bucket. Fetch it anyway with --allow-unsigned`,
        exitCodes.badInput,
      );
    if (manifest.cluster !== cluster)
      throw new CliError(
        `snapshot ${opts.snapshot} is listed for cluster '${cluster}' but its manifest names cluster '${manifest.cluster}': it is not a snapshot of '${cluster}'`,
      );
    if (!keyRing.ids.includes(manifest.encryption.keyId))
      throw new CliError(
        `snapshot ${opts.snapshot} is encrypted with key '${manifest.encryption.keyId}', which the configuration does not have (encryption.keys: ${keyRing.ids.join(', ')})`,
        exitCodes.badInput,
      );

    let file;
    try {
      file = await open(partial, 'wx', 0o600);
    } catch (err) {
      if (isErrno(err, 'EEXIST'))
        throw new CliError(`--out ${out}: ${partial} appeared meanwhile: another fetch is writing it`, exitCodes.badInput);
      throw err;
    }
    // flush: fsync before the stream closes the file, so the renamed file is on disk, not in the page cache.
    const destination = file.createWriteStream({ flush: true });
    const interrupted = new AbortController();
    const onSignal = () => interrupted.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      // The mode open() gives is masked by the umask; the plaintext is the cluster's Secrets.
      await file.chmod(0o600);
      const fetched = await fetchSnapshot({ s3, bucket, manifest, keyRing, destination, signal: interrupted.signal });
      await renameNoReplace(partial, out);
      return {
        cluster,
        snapshotId: manifest.snapshotId,
        status: manifest.status,
        startedAt: manifest.startedAt,
        file: out,
        bytes: fetched.plaintextBytes,
        sha256: fetched.plaintextSha256,
        storedSha256: manifest.object.storedSha256,
        keyId: fetched.keyId,
        revision: manifest.etcd.revisionAtStart,
        signed: manifest.mac !== undefined,
      };
    } catch (err) {
      destination.destroy();
      await file.close().catch(() => undefined);
      await rm(partial, { force: true });
      if (interrupted.signal.aborted) throw new CliError(`interrupted: nothing written to ${out}`);
      if (err instanceof ManifestTamperedError) throw new CliError(`${err.message}. Nothing written to ${out}`);
      if (err instanceof SnapshotIntegrityError || err instanceof EnvelopeError)
        throw new CliError(`snapshot ${opts.snapshot} of '${cluster}' is corrupt: ${err.message}. Nothing written to ${out}`);
      if ((err as Error).name === 'NoSuchKey')
        throw new CliError(
          `snapshot object s3://${bucket}/${manifest.object.objectKey} of ${opts.snapshot} is missing (its manifest is there). Nothing written to ${out}`,
        );
      throw err;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  } finally {
    s3.destroy();
  }
}

export function formatFetchedSnapshot(f: FetchedSnapshotFile): string {
  const unverified = {
    verified: '',
    uploaded: ' (never verified: nobody has proved it restores)',
    failed: ' (it FAILED its restore verification)',
  }[f.status];
  return (
    [
      `snapshot ${f.snapshotId} of ${f.cluster}, taken ${f.startedAt}, status ${f.status}${unverified}`,
      `wrote ${f.file} (mode 0600): ${f.bytes} bytes (${(f.bytes / 1024 / 1024).toFixed(1)} MiB), revision ${f.revision}`,
      `sha256 ${f.sha256} (plaintext, matches the manifest; stored object ${f.storedSha256} matches too)`,
      `decrypted with key ${f.keyId}; ${f.signed ? 'manifest signature checked' : 'MANIFEST UNSIGNED (written before signing): nothing proves it is this snapshot'}`,
      `check it with \`etcdutl snapshot status ${f.file}\`; it holds the cluster's Secrets: remove it once restored`,
    ].join('\n') + '\n'
  );
}

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
      // Without keys the signatures cannot be checked: the listing says so.
      const keyRing = config.encryption ? loadKeyRing(config.encryption) : undefined;
      const s3 = createS3Client(config);
      const listing = await listManifests(s3, config.objectStore.bucket, cluster, keyRing);
      s3.destroy();
      if (!listing.complete && !listing.manifests.length && !listing.tampered.length)
        throw new CliError(listing.problem ?? 'listing failed');
      const now = Date.now();
      const signature = (m: SnapshotManifest) => (!m.mac ? 'unsigned' : listing.macsChecked ? 'signed' : 'not checked');
      if (opts.json)
        printJson({
          cluster,
          complete: listing.complete,
          problem: listing.problem,
          macsChecked: listing.macsChecked,
          snapshots: listing.manifests,
          tampered: listing.tampered,
        });
      else {
        process.stdout.write(
          table(
            ['snapshot', 'age', 'size', 'revision', 'status', 'key', 'manifest'],
            listing.manifests.map((m) => [
              m.snapshotId,
              age(m.startedAt, now),
              `${(m.object.plaintextBytes / 1024 / 1024).toFixed(1)} MiB`,
              String(m.etcd.revisionAtStart),
              m.status,
              m.encryption.keyId,
              signature(m),
            ]),
          ),
        );
        for (const t of listing.tampered) process.stdout.write(`REFUSED: ${t.reason}\n`);
        if (!listing.macsChecked) process.stdout.write('warning: no encryption keys configured: manifest signatures were not checked\n');
        if (!listing.complete) process.stdout.write(`warning: listing incomplete: ${listing.problem}\n`);
      }
      if (!listing.complete || listing.tampered.length) process.exitCode = exitCodes.failed;
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
        ...(plan.locked ?? []).map((l) => [
          l.id,
          `locked until ${l.until}`,
          `${l.reason}; the object lock (${l.mode ?? 'unknown mode'}) forbids deleting it yet`,
        ]),
      ].sort((a, b) => b[0]!.localeCompare(a[0]!));
      process.stdout.write(table(['snapshot', 'action', 'why'], rows));
      if (result.abortedUploads.length) process.stdout.write(`aborted ${result.abortedUploads.length} incomplete upload(s)\n`);
    });

  snapshots
    .command('fetch')
    .description(
      "download a snapshot, decrypt it, check both sha256s against its manifest and write the plaintext etcd snapshot (what `etcdutl snapshot restore` takes) to a file: the way out when Lifeboat's own restore cannot run",
    )
    .requiredOption('--cluster <name>', 'cluster')
    .requiredOption('--snapshot <id>', 'snapshot id, as `lifeboat snapshots list` prints it')
    .requiredOption('--out <file>', 'where to write it (mode 0600); must not exist')
    .option('--allow-unsigned', 'fetch a snapshot whose manifest is unsigned (written before Lifeboat signed manifests)')
    .option('--json', 'print what was written as one JSON object')
    .action(async (opts: { cluster: string; snapshot: string; out: string; allowUnsigned?: boolean; json?: boolean }) => {
      const fetched = await fetchSnapshotToFile(loadConfig(), opts);
      if (opts.json) printJson(fetched);
      else process.stdout.write(formatFetchedSnapshot(fetched));
    });
}
