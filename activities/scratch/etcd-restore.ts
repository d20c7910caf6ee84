// Activities of etcd restore verification: pick a snapshot, restore it into a scratch etcd and a scratch
// kube-apiserver on the worker, check through both that the cluster is there, tear everything down,
// and record the outcome in the snapshot's manifest.
//
// The scratch processes live on the worker that started them, so the restore and its checks are one
// activity: a retry (say, after the worker was killed) starts over on whichever worker takes it, and
// first stops whatever an earlier attempt of the same run left (scratch-dir.ts: how it finds it).
//
// The scratch etcd serves the whole restored keyspace, Secrets included: it listens only with TLS on
// 127.0.0.1 and accepts only client certificates from a CA made for the attempt (pki.ts); the scratch
// kube-apiserver likewise. Keys are files 0600 in the attempt's 0700 directory (the processes read
// them) or in memory only (Lifeboat's own client certificate; the CA's key); none enters a result,
// a heartbeat or workflow history.
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import type { ActivityDeps } from '../deps.js';
import type { LifeboatConfig, ObjectRef } from '../../worker/config.js';
import type { Step } from '../../model/steps.js';
import { timeStep } from '../../model/steps.js';
import type { VerificationCheck } from '../../model/verification.js';
import type { Inventory, SnapshotManifest } from '../../model/snapshot-layout.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { withEtcdEndpoints } from '../etcd/client.js';
import { countRegistry } from '../etcd/inventory.js';
import { EnvelopeError } from '../object-store/envelope.js';
import { fetchSnapshot, SnapshotIntegrityError } from '../object-store/snapshot-fetch.js';
import { listingFailure, listManifests, readManifest, updateManifestVerification } from '../object-store/manifests.js';
import { ManifestTamperedError, manifestFailure } from '../object-store/manifest-mac.js';
import {
  freePort,
  removeScratch,
  ScratchStartError,
  ScratchToolError,
  startScratchProcess,
  waitServing,
  type ScratchProcess,
} from './processes.js';
import { failureTypes } from '../../model/failures.js';
import { apiMessageOf, httpStatusOf } from '../kubernetes/api.js';
import { compareData, dataCompareKey, dataKeyCount, keysText, readObject, type KubeObject } from '../kubernetes/objects.js';
import { compareInventory } from '../../model/verification.js';
import { etcdutlRestoreArgs, scratchApiserverArgs, scratchEtcdArgs } from './command-lines.js';
import { makeScratchPki, writeScratchPki } from './pki.js';
import { createScratchDir, ensureScratchBaseForActivity, isPrivateScratchBase, scratchDirsOf } from './scratch-dir.js';

export interface EtcdVerificationPlan {
  cluster: string;
  snapshot: {
    snapshotId: string;
    status: SnapshotManifest['status'];
    /** When the snapshot was taken: its point in time. */
    startedAt: string;
    objectKey: string;
    storedBytes: number;
    plaintextBytes: number;
    revision: number;
    inventoryKeys: number;
  };
  objects: ObjectRef[];
  objectives: { rtoSeconds: number; rpoSeconds: number };
}

export interface ScratchRestoreInput {
  cluster: string;
  snapshotId: string;
  /**
   * Names the scratch directories of this run's attempts (`<scratchId>-<random>`); derived from the
   * workflow and run IDs, so a retry finds its predecessors' (scratch-dir.ts).
   */
  scratchId: string;
  objects: ObjectRef[];
}

export interface ScratchRestoreResult {
  passed: boolean;
  failureReason?: string;
  checks: VerificationCheck[];
  /** fetch, restore-db, start-etcd, check-inventory, start-apiserver, check-objects, teardown. */
  steps: Step[];
  restoredRevision?: number;
}

/** A finding that the backup does not restore: reported, not retried. */
class NotRestorable extends Error {
  override readonly name = 'NotRestorable';
}

/** Sub-steps of the scratch restore, with timestamps, reported back to the workflow's step list. */
class StepLog {
  readonly steps: Step[] = [];

  async run<T>(name: string, work: () => Promise<T>, describe?: (r: T) => string): Promise<T> {
    const step: Step = { name, state: 'pending' };
    this.steps.push(step);
    const ctx = Context.current();
    ctx.heartbeat({ step: name });
    // Some steps are one long call (etcdutl restoring gigabytes): keep the worker's liveness visible.
    const beat = setInterval(() => ctx.heartbeat({ step: name }), 5_000);
    try {
      return await timeStep(step, work, describe);
    } finally {
      clearInterval(beat);
    }
  }
}

/** Resources whose object count the scratch API server must report as the manifest's inventory did. */
const countedResources = ['namespaces', 'secrets', 'configmaps', 'deployments', 'serviceaccounts'] as const;

async function countThroughApi(kc: KubeConfig, resource: (typeof countedResources)[number]): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  let total = 0;
  let cont: string | undefined;
  do {
    const page: { items: unknown[]; metadata?: { _continue?: string } } = await (resource === 'namespaces'
      ? core.listNamespace({ limit: 500, _continue: cont })
      : resource === 'secrets'
        ? core.listSecretForAllNamespaces({ limit: 500, _continue: cont })
        : resource === 'configmaps'
          ? core.listConfigMapForAllNamespaces({ limit: 500, _continue: cont })
          : resource === 'serviceaccounts'
            ? core.listServiceAccountForAllNamespaces({ limit: 500, _continue: cont })
            : apps.listDeploymentForAllNamespaces({ limit: 500, _continue: cont }));
    total += page.items.length;
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return total;
}

const refText = (ref: ObjectRef) => `${ref.resource}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
const apiError = (err: unknown) => ({ code: httpStatusOf(err), message: apiMessageOf(err) });

/** Where restore verification keeps scratch restores: verification.scratchDir, else the system temp directory. */
export const scratchRootOf = (verification: LifeboatConfig['verification']) =>
  verification.scratchDir ?? join(tmpdir(), 'lifeboat-scratch');

/** No scratch restore lives longer than its activity's start-to-close timeout (2 h in the workflow). */
export const staleScratchAgeMs = 3 * 60 * 60 * 1000;

export function createEtcdRestoreActivities(
  deps: Pick<ActivityDeps, 'clusters' | 'tools' | 'verification' | 's3' | 'bucket' | 'keyRing' | 'objectLock'>,
) {
  const { s3, bucket, keyRing, tools, verification } = deps;
  const compareKey = dataCompareKey(keyRing);
  const scratchRoot = scratchRootOf(verification);

  /** Stops and removes what earlier attempts of run `scratchId` left on this worker. */
  async function removeRunScratch(scratchId: string): Promise<{ stoppedPids: number[]; removed: boolean }> {
    const out = { stoppedPids: [] as number[], removed: false };
    // In a base others may write, an entry with this run's name is not necessarily this run's.
    if (!(await isPrivateScratchBase(scratchRoot))) return out;
    for (const dir of await scratchDirsOf(scratchRoot, scratchId)) {
      const r = await removeScratch(dir);
      out.stoppedPids.push(...r.stoppedPids);
      out.removed ||= r.removed;
    }
    return out;
  }

  /** Reads the source's copy of an object to compare its data with; why not, when it cannot be read. */
  async function sourceObject(cluster: string, ref: ObjectRef): Promise<KubeObject | string> {
    try {
      return await readObject(clusterClients(deps, cluster).kubeConfig, ref);
    } catch (err) {
      const { code, message } = apiError(err);
      return code === 404 ? 'deleted from the source since the snapshot' : `source unreadable (${message})`;
    }
  }

  async function checkObject(scratch: KubeConfig, cluster: string, ref: ObjectRef): Promise<VerificationCheck> {
    const name = refText(ref);
    let restored: KubeObject;
    try {
      restored = await readObject(scratch, ref);
    } catch (err) {
      const { code, message } = apiError(err);
      return {
        name,
        passed: false,
        detail: code === 404 ? 'not found in the restored cluster' : `could not be read from the restored cluster: ${message}`,
      };
    }
    if (ref.resource !== 'secrets' && ref.resource !== 'configmaps') {
      const replicas = ref.resource === 'deployments' ? (restored.spec as { replicas?: number } | undefined)?.replicas : undefined;
      return {
        name,
        passed: true,
        detail: `found at resourceVersion ${restored.metadata?.resourceVersion}${replicas === undefined ? '' : `, ${replicas} replicas`}`,
      };
    }
    const count = dataKeyCount(restored);
    const keys = `${count} data ${count === 1 ? 'key' : 'keys'}`;
    const source = await sourceObject(cluster, ref);
    if (typeof source === 'string') return { name, passed: true, detail: `found, ${keys}; ${source}, so not compared` };
    if (source.metadata?.resourceVersion !== restored.metadata?.resourceVersion) {
      return {
        name,
        passed: true,
        detail: `found, ${keys}; changed in the source since the snapshot (resourceVersion ${restored.metadata?.resourceVersion} → ${source.metadata?.resourceVersion}), so not compared`,
      };
    }
    // By keyed MAC, and only matched or not: a digest of a weak secret in a result lets its readers confirm guesses.
    const { same, differingKeys } = compareData(source, restored, compareKey);
    return same
      ? { name, passed: true, detail: `data matches the source's at resourceVersion ${restored.metadata?.resourceVersion}` }
      : {
          name,
          passed: false,
          detail: `data differs from the source's in ${keysText(differingKeys)} at the same resourceVersion ${restored.metadata?.resourceVersion}`,
        };
  }

  return {
    /** The snapshot to verify (the given one, or the newest uploaded or verified) and what to check. */
    async planEtcdVerification({ cluster, snapshotId }: { cluster: string; snapshotId?: string }): Promise<EtcdVerificationPlan> {
      const { config: clusterConfig } = clusterClients(deps, cluster);
      let manifest: SnapshotManifest;
      if (snapshotId) {
        try {
          manifest = await readManifest(s3, bucket, cluster, snapshotId, keyRing);
        } catch (err) {
          if (err instanceof ManifestTamperedError) throw manifestFailure(err);
          if ((err as Error).name === 'NoSuchKey')
            throw ApplicationFailure.nonRetryable(
              `no snapshot ${snapshotId} of cluster '${cluster}' (no manifest in s3://${bucket})`,
              failureTypes.SnapshotNotFound,
            );
          throw err;
        }
      } else {
        // Tampered manifests are not in `manifests`: the newest of the others is verified.
        const listing = await listManifests(s3, bucket, cluster, keyRing);
        if (!listing.complete) throw listingFailure(listing);
        const newest = listing.manifests.find((m) => m.status !== 'failed'); // newest first
        if (!newest)
          throw ApplicationFailure.nonRetryable(
            `cluster '${cluster}' has no snapshot to verify (${listing.manifests.length} manifests, none uploaded or verified); take one with \`lifeboat backup etcd --cluster ${cluster}\``,
            failureTypes.NoSnapshotToVerify,
          );
        manifest = newest;
      }
      const { objects, objectives } = clusterConfig.restoreVerification;
      return {
        cluster,
        snapshot: {
          snapshotId: manifest.snapshotId,
          status: manifest.status,
          startedAt: manifest.startedAt,
          objectKey: manifest.object.objectKey,
          storedBytes: manifest.object.storedBytes,
          plaintextBytes: manifest.object.plaintextBytes,
          revision: manifest.etcd.revisionAtStart,
          inventoryKeys: manifest.inventory.totalKeys,
        },
        objects,
        objectives: { rtoSeconds: objectives.rto, rpoSeconds: objectives.rpo },
      };
    },

    /**
     * Download, decrypt and check the snapshot, `etcdutl snapshot restore` it, start a scratch etcd and
     * kube-apiserver on it, check the inventory and the named objects, and tear it all down. A backup
     * that does not restore is a result (passed: false, with the reason), not an error; errors are
     * what a retry may fix (the object store unreachable, the worker gone).
     */
    async restoreSnapshotInScratch(input: ScratchRestoreInput): Promise<ScratchRestoreResult> {
      if (!keyRing)
        throw ApplicationFailure.nonRetryable(
          'this worker has no encryption keys configured (encryption in its config); it cannot decrypt snapshots',
          failureTypes.EncryptionNotConfigured,
        );
      const ctx = Context.current();
      const { config: clusterConfig } = clusterClients(deps, input.cluster);
      const log = new StepLog();
      const checks: VerificationCheck[] = [];
      const processes: ScratchProcess[] = [];
      const startTimeoutMs = verification.startTimeout * 1000;
      let restoredRevision: number | undefined;
      // What the restored etcd holds at its latest revision: what the API server must then serve.
      let restoredLatest: Inventory | undefined;
      let failureReason: string | undefined;

      await ensureScratchBaseForActivity(scratchRoot);
      // An earlier attempt of this verification may have left processes and files behind.
      await removeRunScratch(input.scratchId);
      const dir = await createScratchDir(scratchRoot, input.scratchId);
      try {
        const manifest = await readManifest(s3, bucket, input.cluster, input.snapshotId, keyRing).catch((err: unknown) => {
          throw manifestFailure(err);
        });
        const dbFile = join(dir, 'snapshot.db');
        // The decrypted snapshot and etcd's data directory restored from it (the same size again, plus a
        // 64 MiB WAL segment etcd preallocates) are on disk together until restore-db removes the first.
        const needed = 2 * manifest.object.plaintextBytes + walSegmentBytes;
        const fs = await statfs(dir);
        if (fs.bavail * fs.bsize < needed) throw scratchDiskFull(scratchRoot, needed, fs.bavail * fs.bsize, input.snapshotId);
        await log.run(
          'fetch',
          async () => {
            const destination = createWriteStream(dbFile, { mode: 0o600 });
            destination.on('drain', () => ctx.heartbeat({ step: 'fetch', bytes: destination.bytesWritten }));
            try {
              return await fetchSnapshot({ s3, bucket, manifest, keyRing, destination, signal: ctx.cancellationSignal });
            } catch (err) {
              if (err instanceof SnapshotIntegrityError || err instanceof EnvelopeError || err instanceof ManifestTamperedError)
                throw new NotRestorable(`snapshot ${input.snapshotId} is corrupt: ${err.message}`);
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC')
                throw scratchDiskFull(scratchRoot, needed, (await statfs(dir)).bavail * fs.bsize, input.snapshotId);
              if ((err as Error).name === 'NoSuchKey')
                throw new NotRestorable(`snapshot object s3://${bucket}/${manifest.object.objectKey} is missing`);
              throw err;
            }
          },
          (f) => `${f.plaintextBytes} bytes decrypted with key ${f.keyId}; sha256 ${f.plaintextSha256.slice(0, 12)} matches the manifest`,
        );

        const [clientPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
        const clientUrl = `https://127.0.0.1:${clientPort}`;
        const peerUrl = `https://127.0.0.1:${peerPort}`;
        const dataDir = join(dir, 'etcd-data');
        const pki = await makeScratchPki(input.scratchId);
        const pkiFiles = await writeScratchPki(dir, pki);
        const scratchEtcd = {
          name: 'scratch',
          dataDir,
          clientUrl,
          peerUrl,
          tls: { caFile: pkiFiles.caCert, certFile: pkiFiles.etcdCert, keyFile: pkiFiles.etcdKey },
        };
        const verifierCredentials = {
          rootCertificate: Buffer.from(pki.caCert),
          certChain: Buffer.from(pki.verifier.cert),
          privateKey: Buffer.from(pki.verifier.key),
        };
        await log.run(
          'restore-db',
          async () => {
            const r = await execa(tools.etcdutl, etcdutlRestoreArgs(dbFile, scratchEtcd), {
              reject: false,
              all: true,
              cancelSignal: ctx.cancellationSignal,
            });
            if ((r as { code?: string }).code === 'ENOENT')
              throw ApplicationFailure.nonRetryable(
                `etcdutl not found at '${tools.etcdutl}' (tools.etcdutl)`,
                failureTypes.ScratchToolMissing,
              );
            if (r.exitCode !== 0)
              throw new NotRestorable(
                `etcdutl snapshot restore refused the snapshot: ${(r.all ?? '').trim().split('\n').slice(-3).join(' ')}`,
              );
            // The plaintext copy is not needed once etcd's data directory exists.
            await rm(dbFile, { force: true });
          },
          () => 'etcdutl snapshot restore accepted the snapshot (its sha256 trailer included)',
        );

        const start = async (name: string, command: string, args: string[], tool: string) => {
          try {
            const p = await startScratchProcess(dir, name, command, args);
            processes.push(p);
            return p;
          } catch (err) {
            if (err instanceof ScratchToolError)
              throw ApplicationFailure.nonRetryable(
                `${err.message}; check ${tool} in the worker's configuration`,
                failureTypes.ScratchToolMissing,
              );
            throw err;
          }
        };
        const beat = (step: string) => () => {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
          ctx.heartbeat({ step });
        };

        await withEtcdEndpoints([clientUrl], verifierCredentials, async (etcd) => {
          await log.run(
            'start-etcd',
            async () => {
              const proc = await start('etcd', tools.etcd, scratchEtcdArgs(scratchEtcd), 'tools.etcd');
              await waitServing(
                proc,
                startTimeoutMs,
                async () => {
                  await etcd.maintenance.status();
                  return true;
                },
                beat('start-etcd'),
              ).catch((err: Error) => {
                throw err instanceof ScratchStartError ? new NotRestorable(err.message) : err;
              });
              restoredRevision = Number((await etcd.maintenance.status()).header.revision);
            },
            () => `serving at ${clientUrl}, revision ${restoredRevision}`,
          );

          await log.run(
            'check-inventory',
            async () => {
              restoredLatest = await countRegistry(etcd, restoredRevision!);
              if (manifest.inventory.revision > restoredRevision!) {
                return `not compared: the manifest's inventory was counted at revision ${manifest.inventory.revision} (the snapshot's had been compacted), after the ${restoredRevision} this snapshot holds`;
              }
              const restored = await countRegistry(etcd, manifest.inventory.revision, {
                onPage: (totalKeys) => ctx.heartbeat({ step: 'check-inventory', totalKeys }),
              });
              const check = compareInventory(manifest.inventory, restored);
              checks.push(check);
              return check.detail;
            },
            (d) => d,
          );
        });

        const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600, flag: 'wx' });
        await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
        const b64 = (pem: string) => Buffer.from(pem).toString('base64');
        const kc = new KubeConfig();
        kc.loadFromOptions({
          clusters: [{ name: 'scratch', server: `https://127.0.0.1:${apiPort}`, caData: b64(pki.caCert), skipTLSVerify: false }],
          users: [{ name: 'lifeboat-verifier', certData: b64(pki.verifier.cert), keyData: b64(pki.verifier.key) }],
          contexts: [{ name: 'scratch', cluster: 'scratch', user: 'lifeboat-verifier' }],
          currentContext: 'scratch',
        });
        const rv = clusterConfig.restoreVerification;
        await log.run(
          'start-apiserver',
          async () => {
            const proc = await start(
              'kube-apiserver',
              tools.kubeApiserver,
              scratchApiserverArgs({
                etcdUrl: clientUrl,
                etcdTls: { caFile: pkiFiles.caCert, certFile: pkiFiles.apiserverEtcdClientCert, keyFile: pkiFiles.apiserverEtcdClientKey },
                port: apiPort,
                servingCertFile: pkiFiles.apiserverCert,
                servingKeyFile: pkiFiles.apiserverKey,
                clientCaFile: pkiFiles.caCert,
                serviceAccountPublicKeyFile: join(dir, 'sa.pub'),
                serviceAccountSigningKeyFile: join(dir, 'sa.key'),
                issuer: 'https://lifeboat-scratch.invalid',
                serviceClusterIPRange: rv.serviceClusterIPRange,
                encryptionConfigFile: rv.encryptionConfigFile,
              }),
              'tools.kubeApiserver',
            );
            await waitServing(
              proc,
              startTimeoutMs,
              async () => {
                await kc.makeApiClient(CoreV1Api).listNamespace({ limit: 1 });
                return true;
              },
              beat('start-apiserver'),
            ).catch((err: Error) => {
              throw err instanceof ScratchStartError ? new NotRestorable(err.message) : err;
            });
          },
          () => `serving at https://127.0.0.1:${apiPort}${rv.encryptionConfigFile ? " with the cluster's EncryptionConfiguration" : ''}`,
        );

        await log.run(
          'check-objects',
          async () => {
            for (const resource of countedResources) {
              const expected = restoredLatest!.prefixes[resource] ?? 0;
              const seen = await countThroughApi(kc, resource);
              checks.push({
                name: `count ${resource}`,
                passed: seen === expected,
                detail: `${seen} through the restored API server, ${expected} in the restored etcd at revision ${restoredLatest!.revision}`,
              });
            }
            for (const ref of input.objects) {
              ctx.heartbeat({ step: 'check-objects', object: refText(ref) });
              checks.push(await checkObject(kc, input.cluster, ref));
            }
            const failed = checks.filter((c) => !c.passed);
            return `${checks.length - failed.length}/${checks.length} checks passed`;
          },
          (d) => d,
        );
        const failed = checks.find((c) => !c.passed);
        if (failed) failureReason = `check ${failed.name} failed: ${failed.detail}`;
      } catch (err) {
        if (!(err instanceof NotRestorable)) throw err;
        failureReason = err.message;
      } finally {
        // In every outcome, also on cancellation and on errors a retry will see again.
        await log
          .run(
            'teardown',
            async () => {
              await Promise.all(processes.map((p) => p.stop()));
              return removeScratch(dir);
            },
            (r) =>
              `stopped ${processes.length} scratch processes, removed ${dir}${r.stoppedPids.length ? ` (${r.stoppedPids.length} needed a second stop)` : ''}`,
          )
          .catch(() => undefined);
      }
      return { passed: failureReason === undefined, failureReason, checks, steps: log.steps, restoredRevision };
    },

    /** Final cleanup of a verification's scratch directory and processes on this worker: idempotent. */
    async removeVerificationScratch({ scratchId }: { scratchId: string }): Promise<{ stoppedPids: number[]; removed: boolean }> {
      return removeRunScratch(scratchId);
    },

    /** Records the outcome in the snapshot's manifest: `verified` only on success, `failed` otherwise. */
    async recordSnapshotVerification(input: {
      cluster: string;
      snapshotId: string;
      passed: boolean;
      verification: NonNullable<SnapshotManifest['verification']>;
    }): Promise<void> {
      if (!keyRing)
        throw ApplicationFailure.nonRetryable(
          'this worker has no encryption keys configured (encryption in its config); it cannot sign manifests',
          failureTypes.EncryptionNotConfigured,
        );
      await updateManifestVerification(
        s3,
        bucket,
        input.cluster,
        input.snapshotId,
        input.passed ? 'verified' : 'failed',
        input.verification,
        {
          keyRing,
          objectLock: deps.objectLock,
        },
      ).catch((err: unknown) => {
        throw manifestFailure(err);
      });
    },
  };
}

export type EtcdRestoreActivities = ReturnType<typeof createEtcdRestoreActivities>;

/** etcd's WAL segment size: each segment file is preallocated at this size. */
const walSegmentBytes = 64 * 1024 * 1024;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Too little space under the scratch directory: a retry would find the same, so non-retryable. */
const scratchDiskFull = (root: string, needed: number, free: number, snapshotId: string) =>
  ApplicationFailure.nonRetryable(
    `scratch directory ${root} has ${mib(free)} free; restoring snapshot ${snapshotId} needs about ${mib(needed)} (verification.scratchDir: point it at a larger filesystem)`,
    failureTypes.ScratchDiskFull,
  );
