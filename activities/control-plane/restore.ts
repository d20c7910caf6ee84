// Activities of the etcd-recovery runbook (runbooks/etcd-recovery.yaml): restore every member of a
// cluster's etcd from one snapshot, in place, and bring the control plane back on it.
//
// Safety, in the order a restore meets it:
// - preflight (preflightEtcdRestore) does everything that can refuse before anything is stopped: the
//   snapshot chosen (model/etcd-recovery.ts chooseRestoreSnapshot), streamed down, decrypted, both
//   sha256s checked, read by `etcdutl snapshot status`; etcdutl new enough on every host; free disk.
// - a data dir is only ever renamed: aside to `<dataDir>.lifeboat-<tail>` (the rollback and the
//   evidence), and a restore is written to `<dataDir>.lifeboat-<tail>-restoring`, marked with the run,
//   then renamed into place. A data dir is this run's restore if and only if it carries the run's mark;
//   the one thing ever removed is an unfinished `-restoring-<attempt>` dir of this run (etcdutl's own
//   output). Each attempt writes its own: an etcdutl an earlier attempt's dead worker left running
//   (over SSH it may outlive the connection) never writes where the retry does; the cleanup step
//   removes those leftovers at the end, long after any of them finished.
// - nothing is moved or restored while the member runs (the driver's view *and* its client URL).
// - rollback (rollBackEtcdDataDirs) renames this run's restore aside to `<dataDir>.lifeboat-<tail>-restored`
//   and the old data dir back; the old members then start on their own data.
//
// The plaintext snapshot is staged on the worker under verification.scratchDir (0700/0600), named from
// the run; an activity on another worker stages it again (and checks it again) before it restores.
import { createWriteStream, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { execa } from 'execa';
import type { ActivityDeps } from '../deps.js';
import { failureTypes } from '../../model/failures.js';
import {
  chooseRestoreSnapshot,
  etcdutlRestoreArgs,
  etcdutlSupportsRevisionBump,
  planEtcdRestore,
  quorum,
  type EtcdRestorePlan,
  type PlannedMemberRestore,
} from '../../model/etcd-recovery.js';
import { runIdTail, type Inventory, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { compareInventory, type VerificationCheck } from '../../model/verification.js';
import { deadlineMsOf, type DeadlineInput } from '../deadline.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { httpStatusOf, apiMessageOf } from '../kubernetes/api.js';
import { isDeploymentAvailable } from '../kubernetes/deployments.js';
import { readObject } from '../kubernetes/objects.js';
import { withEtcdClient } from '../etcd/client.js';
import { answeredStatuses, etcdEndpointAnswers, followsLeader } from '../etcd/health.js';
import { countRegistry } from '../etcd/inventory.js';
import { EnvelopeError } from '../object-store/envelope.js';
import { fetchSnapshot, SnapshotIntegrityError } from '../object-store/snapshot-fetch.js';
import { listingFailure, listManifests, readManifest } from '../object-store/manifests.js';
import { isStoreThrottling } from '../object-store/throttling.js';
import { ManifestTamperedError, tamperedType } from '../object-store/manifest-mac.js';
import { scratchRootOf } from '../scratch/etcd-restore.js';
import { ensureScratchBaseForActivity } from '../scratch/scratch-dir.js';
import { controlPlaneOf, withDriver } from './index.js';
import {
  controlPlaneComponents,
  type ControlPlaneComponent,
  type ControlPlaneDriver,
  type EtcdMemberConfig,
  type StagedSnapshot,
} from './driver.js';
import type { ControlPlaneConfig } from '../../worker/config.js';

type Deps = Pick<ActivityDeps, 'clusters' | 'tools' | 'verification' | 's3' | 'bucket' | 'keyRing'>;

export interface PreflightEtcdRestoreInput {
  cluster: string;
  /** The etcdRestore run's ID: every name the restore makes derives from it. */
  runId: string;
  /** Restore exactly this snapshot. Default: the newest verified one (before `before`). */
  snapshotId?: string;
  /** The newest verified snapshot taken before this ISO-8601 time (with a zone). */
  before?: string;
  /** Allow an `uploaded`, never verified snapshot. Default: false. */
  force?: boolean;
  /** Allow a snapshot whose manifest is unsigned (written before manifests were signed). Default: false. */
  allowUnsigned?: boolean;
}

/** One member as the preflight found it: running or not, and whether its host has room for the restore. */
export interface MemberPreflight {
  name: string;
  clientUrl: string;
  /** What its client URL answered: `leader`, `follower`, `no leader`, or the error. */
  answer: string;
  revision?: number;
  etcdutlVersion: string;
  freeBytes: number;
  /** The restored db and, where the host is not the worker, the snapshot's copy; doubled for members sharing the host. */
  neededBytes: number;
}

/** The preflight's answer: the plan the approver reads and every later step follows. No secrets, no bytes. */
export interface EtcdRestorePreflight extends EtcdRestorePlan {
  runId: string;
  snapshot: {
    snapshotId: string;
    status: SnapshotManifest['status'];
    startedAt: string;
    why: string;
    plaintextBytes: number;
    plaintextSha256: string;
    keyId: string;
    /** The revision etcdutl read in the snapshot file: the restored data is this revision's. */
    fileRevision: number;
    inventory: Inventory;
  };
  members: (PlannedMemberRestore & MemberPreflight)[];
  /** How many configured members answered with a leader, and whether that is a quorum. */
  before: { answeringWithLeader: number; quorum: number; quorumHolds: boolean };
  /** For the approver, in words: the data-loss window, what is stopped, what is unverified. */
  notes: string[];
}

export interface EtcdRestoreStepInput {
  cluster: string;
  runId: string;
}

export interface RestoreMembersInput extends EtcdRestoreStepInput {
  plan: EtcdRestorePreflight;
}

export interface ControlPlaneComponentInput {
  cluster: string;
  component: ControlPlaneComponent;
}

const mib = 1024 * 1024;
/** etcd's own files beside the db (WAL, snap) and what the filesystem needs to stay usable. */
const restoreMarginBytes = 256 * mib;

/**
 * The mark a data dir restored by this run carries (inside `member/`, where etcd does not look), named
 * from the run: a data dir an earlier restore marked is never taken for this run's.
 */
export const restoreMark = (dataDir: string, runId: string) => join(dataDir, 'member', `lifeboat-restore-${runIdTail(runId)}`);
/** Where a member's restore is written before it is renamed into place. */
export const restoringDir = (dataDir: string, runId: string, attempt: number) =>
  `${dataDir}.lifeboat-${runIdTail(runId)}-restoring-${attempt}`;
/** At most this many attempts of the restore step (its retry profile's maximum, with room to spare): the leftovers the cleanup looks for. */
const maxRestoreAttempts = 10;
/** Where a rollback puts this run's restore: kept, as every data dir is. */
export const rolledBackRestoreDir = (dataDir: string, runId: string) => `${dataDir}.lifeboat-${runIdTail(runId)}-restored`;

const stagingDir = (deps: Deps, runId: string) => join(scratchRootOf(deps.verification), `etcd-restore-${runIdTail(runId)}`);

const nonRetryable = (message: string, type: (typeof failureTypes)[keyof typeof failureTypes]) =>
  ApplicationFailure.nonRetryable(message, type);

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** GET a path of the cluster's API with its kubeconfig's credentials: status and body. */
function apiGet(kc: KubeConfig, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  return new Promise((resolve, reject) => {
    const options = { hostname: server.hostname, port: server.port, path, method: 'GET', timeout: timeoutMs, headers: {} };
    kc.applyToHTTPSOptions(options)
      .then(() => {
        const req = request(options, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end();
      })
      .catch(reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether anything accepts TCP connections at a URL's host and port (within 2 s): a stopped member's
 * client port refuses at once, where etcdctl would retry its dial until its timeout.
 */
function portAccepts(url: string): Promise<boolean> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || (protocol === 'https:' ? 443 : 80)) });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Runs an activity heartbeating every 2 s: a worker that dies while it holds a restore step is noticed
 * within the block's heartbeat timeout (10 s), not its start-to-close timeout, and the step retried
 * on another worker at once. Every step is idempotent (module comment), so the retry finds its work.
 */
function beating<A extends unknown[], R>(work: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(), 2_000);
    try {
      return await work(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

export function createEtcdRestoreRunbookActivities(deps: Deps) {
  const activities = etcdRestoreRunbookActivities(deps);
  return Object.fromEntries(
    Object.entries(activities).map(([name, work]) => [name, beating(work as (...args: unknown[]) => Promise<unknown>)]),
  ) as typeof activities;
}

function etcdRestoreRunbookActivities(deps: Deps) {
  const { s3, bucket, keyRing } = deps;
  const membersOf = (cp: ControlPlaneConfig, plan: EtcdRestorePreflight) =>
    plan.members.map((p) => {
      const m = cp.etcdMembers.find((x) => x.name === p.name);
      if (!m)
        throw nonRetryable(
          `etcd member ${p.name} of the plan is no longer in clusters[].controlPlane.etcdMembers of '${plan.cluster}': the configuration changed under the restore`,
          failureTypes.UnknownEtcdMember,
        );
      return { planned: p, m };
    });

  /** The member must not run: neither as its driver knows it, nor answering at its client URL. */
  async function requireStopped(cluster: string, driver: ControlPlaneDriver, m: EtcdMemberConfig) {
    const [runs, listening] = await Promise.all([driver.etcdMemberRunning(m), portAccepts(m.clientUrl)]);
    if (runs || listening)
      throw nonRetryable(
        `etcd member ${m.name} of '${cluster}' is running${listening ? ` (something accepts connections at ${m.clientUrl})` : ''}: its data dir is neither moved nor restored while it runs. Nothing was touched; stop it (or whatever restarts it) and retry the restore`,
        failureTypes.EtcdMemberRunning,
      );
  }

  /** Removes this run's staged snapshot from the worker; whether there was one. */
  async function removeStaged(runId: string): Promise<boolean> {
    const dir = stagingDir(deps, runId);
    const had = existsSync(dir) && (await readdir(dir)).length > 0;
    await rm(dir, { recursive: true, force: true });
    return had;
  }

  /**
   * The plaintext snapshot on this worker: the staged file when it is there and hashes to the manifest's
   * sha256, else streamed down again (decrypted, both sha256s checked).
   */
  async function staged(manifest: SnapshotManifest, runId: string): Promise<StagedSnapshot> {
    if (!keyRing)
      throw nonRetryable(
        'this worker has no encryption keys configured (encryption in its config); it cannot decrypt snapshots',
        failureTypes.EncryptionNotConfigured,
      );
    // The plaintext snapshot holds every Secret: only under a base no one else can enter.
    await ensureScratchBaseForActivity(scratchRootOf(deps.verification));
    const dir = stagingDir(deps, runId);
    const localPath = join(dir, 'snapshot.db');
    const want = { sha256: manifest.object.plaintextSha256, bytes: manifest.object.plaintextBytes };
    if (existsSync(localPath) && (await stat(localPath)).size === want.bytes && (await sha256OfFile(localPath)) === want.sha256)
      return { localPath, ...want };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ctx = Context.current();
    const destination = createWriteStream(localPath, { mode: 0o600 });
    destination.on('drain', () => ctx.heartbeat({ step: 'fetch', bytes: destination.bytesWritten }));
    try {
      await fetchSnapshot({ s3, bucket, manifest, keyRing, destination, signal: ctx.cancellationSignal });
    } catch (err) {
      await rm(localPath, { force: true });
      if (err instanceof ManifestTamperedError) throw nonRetryable(`${err.message}. Nothing was stopped`, tamperedType(err));
      if (err instanceof SnapshotIntegrityError || err instanceof EnvelopeError)
        throw nonRetryable(`snapshot ${manifest.snapshotId} is corrupt: ${err.message}. Nothing was stopped`, failureTypes.SnapshotCorrupt);
      if ((err as Error).name === 'NoSuchKey')
        throw nonRetryable(
          `snapshot object s3://${bucket}/${manifest.object.objectKey} of ${manifest.snapshotId} is missing. Nothing was stopped`,
          failureTypes.SnapshotCorrupt,
        );
      throw err;
    }
    return { localPath, ...want };
  }

  return {
    /**
     * Everything that can refuse a restore, before anything is stopped (module comment): the snapshot
     * chosen, downloaded, decrypted, hashed and read by etcdutl; etcdutl on every host new enough to
     * bump revisions; room on every host; and the plan (model/etcd-recovery.ts planEtcdRestore).
     * Changes nothing but the staged file.
     */
    async preflightEtcdRestore(input: PreflightEtcdRestoreInput): Promise<EtcdRestorePreflight> {
      const { cluster, runId } = input;
      const cp = controlPlaneOf(deps, cluster);
      if (!keyRing)
        throw nonRetryable(
          'this worker has no encryption keys configured (encryption in its config); it cannot check manifests or decrypt snapshots',
          failureTypes.EncryptionNotConfigured,
        );
      const listing = await listManifests(s3, bucket, cluster, keyRing);
      const choice = chooseRestoreSnapshot(listing, {
        cluster,
        ...(input.snapshotId ? { snapshotId: input.snapshotId } : {}),
        ...(input.before ? { before: input.before } : {}),
        force: input.force ?? false,
        allowUnsigned: input.allowUnsigned ?? false,
      });
      if (!choice.ok) {
        if (choice.type === failureTypes.SnapshotListingIncomplete) {
          // A store asking to slow down is said as such (ObjectStoreThrottled), not as a listing gap.
          if (isStoreThrottling(listing.failure)) throw listingFailure(listing);
          throw ApplicationFailure.retryable(choice.reason, choice.type);
        }
        throw nonRetryable(`${choice.reason}. Nothing was stopped`, choice.type);
      }
      const manifest = choice.snapshot;
      const file = await staged(manifest, runId);
      const status = await execa(deps.tools.etcdutl, ['snapshot', 'status', file.localPath, '-w', 'json'], { reject: false, all: true });
      if (status.exitCode !== 0)
        throw nonRetryable(
          `etcdutl cannot read snapshot ${manifest.snapshotId} (its sha256s match the manifest, so it was stored this way): ${(status.all ?? '').trim().split('\n').slice(-2).join(' | ')}. Nothing was stopped`,
          failureTypes.SnapshotCorrupt,
        );
      const fileRevision = Number((JSON.parse(status.stdout) as { revision: number }).revision);
      if (!(fileRevision >= manifest.etcd.revisionAtStart))
        throw nonRetryable(
          `snapshot ${manifest.snapshotId} holds revision ${fileRevision}, below the ${manifest.etcd.revisionAtStart} its manifest says the stream started at: it is not the snapshot the manifest describes. Nothing was stopped`,
          failureTypes.SnapshotCorrupt,
        );

      const answers = await etcdEndpointAnswers(deps, cluster);
      const statuses = answeredStatuses(answers);
      const revisionBeforeRestore = statuses.length ? Math.max(...statuses.map((s) => s.revision)) : undefined;
      const withLeader = statuses.filter(followsLeader).length;

      const decision = planEtcdRestore({
        cluster,
        runId,
        snapshot: manifest,
        members: cp.etcdMembers.map((m) => ({ name: m.name, peerURLs: [m.peerUrl], dataDir: m.dataDir })),
        now: new Date().toISOString(),
        ...(revisionBeforeRestore === undefined ? {} : { revisionBeforeRestore }),
      });
      if (!decision.ok) throw nonRetryable(`${decision.reason}. Nothing was stopped`, decision.type);

      const members = await withDriver(cluster, cp, (driver) =>
        Promise.all(
          decision.members.map(async (planned): Promise<PlannedMemberRestore & MemberPreflight> => {
            const m = cp.etcdMembers.find((x) => x.name === planned.name)!;
            const version = await driver.etcdutlVersion(m);
            if (!etcdutlSupportsRevisionBump(version))
              throw nonRetryable(
                `etcdutl ${version} on the host of member ${m.name} cannot --bump-revision (3.5.10 or later can): watchers would see revisions go backwards. Install a newer etcdutl there. Nothing was stopped`,
                failureTypes.EtcdutlTooOld,
              );
            const free = await driver.freeBytes(m, m.dataDir);
            // Members sharing a host (the lab: one machine) each need room on it.
            const sharing = cp.etcdMembers.length;
            const needed = (file.bytes * 2 + restoreMarginBytes) * (cp.driver === 'lab' ? sharing : 1);
            if (free < needed)
              throw nonRetryable(
                `the filesystem of ${m.dataDir} (member ${m.name}) has ${Math.floor(free / mib)} MiB free; the restore needs ${Math.ceil(needed / mib)} MiB (the ${Math.ceil(file.bytes / mib)} MiB snapshot copied and restored, and ${restoreMarginBytes / mib} MiB for etcd's own files). Nothing was stopped`,
                failureTypes.InsufficientDisk,
              );
            const answer = answers.find((a) => a.endpoint === m.clientUrl);
            const s = answer && 'status' in answer ? answer.status : undefined;
            return {
              ...planned,
              clientUrl: m.clientUrl,
              answer: !answer
                ? 'not in etcd.endpoints'
                : 'error' in answer
                  ? answer.error
                  : s!.isLeader
                    ? 'leader'
                    : followsLeader(s)
                      ? 'follower'
                      : 'no leader',
              ...(s ? { revision: s.revision } : {}),
              etcdutlVersion: version,
              freeBytes: free,
              neededBytes: needed,
            };
          }),
        ),
      );

      const need = quorum(cp.etcdMembers.length);
      const lost = decision.dataLoss.lostRevisionsAtMost;
      const notes = [
        `Restores snapshot ${manifest.snapshotId}: ${choice.why}.`,
        choice.unverified ? 'THE SNAPSHOT WAS NEVER VERIFIED: nobody has proved it restores.' : '',
        manifest.mac ? '' : 'ITS MANIFEST IS UNSIGNED (written before manifests were signed; taken because of allowUnsigned).',
        `Writes after ${decision.dataLoss.from} are lost (${Math.round(decision.dataLoss.seconds)} s so far${lost === undefined ? '' : `, at most ${lost} revisions`}).`,
        withLeader >= need
          ? `The quorum HOLDS now (${withLeader}/${cp.etcdMembers.length} members answer with a leader): this rolls a working cluster back.`
          : `The quorum is lost (${withLeader}/${cp.etcdMembers.length} members answer with a leader, ${need} needed).`,
        `Every kube-apiserver and etcd member is stopped; each data dir is moved aside (kept): ${decision.members.map((p) => p.movedAsideTo).join(', ')}.`,
      ].filter(Boolean);

      return {
        ...decision,
        runId,
        snapshot: {
          snapshotId: manifest.snapshotId,
          status: manifest.status,
          startedAt: manifest.startedAt,
          why: choice.why,
          plaintextBytes: file.bytes,
          plaintextSha256: file.sha256,
          keyId: manifest.encryption.keyId,
          fileRevision,
          inventory: manifest.inventory,
        },
        members,
        before: { answeringWithLeader: withLeader, quorum: need, quorumHolds: withLeader >= need },
        notes,
      };
    },

    /** Stops every instance of a component (the kube-apiservers first, so nothing writes while etcd is replaced). */
    async stopControlPlaneComponent({ cluster, component }: ControlPlaneComponentInput): Promise<{ component: string; stopped: string[] }> {
      requireComponent(component);
      return { component, stopped: await withDriver(cluster, controlPlaneOf(deps, cluster), (d) => d.stopComponent(component)) };
    },

    /** Starts every instance of a component. */
    async startControlPlaneComponent({
      cluster,
      component,
    }: ControlPlaneComponentInput): Promise<{ component: string; started: string[] }> {
      requireComponent(component);
      return { component, started: await withDriver(cluster, controlPlaneOf(deps, cluster), (d) => d.startComponent(component)) };
    },

    /** Restarts every instance of a component, so its informers re-list from the restored data. */
    async restartControlPlaneComponent({
      cluster,
      component,
    }: ControlPlaneComponentInput): Promise<{ component: string; restarted: string[] }> {
      requireComponent(component);
      return { component, restarted: await withDriver(cluster, controlPlaneOf(deps, cluster), (d) => d.restartComponent(component)) };
    },

    /** Stops every etcd member; `wasRunning` names those that ran (the rollback starts the old cluster again either way). */
    async stopEtcdMembers({ cluster }: { cluster: string }): Promise<{ wasRunning: string[] }> {
      const cp = controlPlaneOf(deps, cluster);
      const stopped = await withDriver(cluster, cp, (d) =>
        Promise.all(cp.etcdMembers.map(async (m) => ((await d.stopEtcdMember(m)).wasRunning ? m.name : undefined))),
      );
      return { wasRunning: stopped.filter((x): x is string => x !== undefined) };
    },

    /** Starts every etcd member as configured, on whatever its data dir holds (at once: they need each other for a quorum). */
    async startEtcdMembers({ cluster }: { cluster: string }): Promise<{ started: string[] }> {
      const cp = controlPlaneOf(deps, cluster);
      await withDriver(cluster, cp, (d) => Promise.all(cp.etcdMembers.map((m) => d.startEtcdMember(m))));
      return { started: cp.etcdMembers.map((m) => m.name) };
    },

    /**
     * Moves every member's data dir aside (renamed to the plan's `movedAsideTo`, never deleted), each
     * only while the member is stopped. Idempotent per member: moved already by this run, or no data dir
     * at all (a wiped disk), is done.
     */
    async moveEtcdDataDirsAside({
      cluster,
      runId,
      plan,
    }: RestoreMembersInput): Promise<{ moved: { member: string; from: string; to: string; existed: boolean }[] }> {
      const cp = controlPlaneOf(deps, cluster);
      return withDriver(cluster, cp, async (driver) => {
        const moved = [];
        for (const { planned, m } of membersOf(cp, plan)) {
          const [present = false, already = false] = await driver.pathsExist(m, [planned.dataDir, planned.movedAsideTo]);
          if (present && already) {
            // This run's restore already in place (the step ran again after the next one did part of its work).
            const [marked = false] = await driver.pathsExist(m, [restoreMark(planned.dataDir, runId)]);
            if (marked) {
              moved.push({ member: m.name, from: planned.dataDir, to: planned.movedAsideTo, existed: true });
              continue;
            }
            throw nonRetryable(
              `etcd member ${m.name} of '${cluster}': both ${planned.dataDir} and this run's ${planned.movedAsideTo} exist, and the data dir is not this run's restore: something wrote a data dir after it was moved aside. Nothing was touched`,
              failureTypes.UnsafeEtcdDataDir,
            );
          }
          if (present) {
            await requireStopped(cluster, driver, m);
            await driver.rename(m, planned.dataDir, planned.movedAsideTo);
          }
          moved.push({ member: m.name, from: planned.dataDir, to: planned.movedAsideTo, existed: present || already });
        }
        return { moved };
      });
    },

    /**
     * `etcdutl snapshot restore` for every member (model/etcd-recovery.ts etcdutlRestoreArgs: the new
     * cluster token, --bump-revision, --mark-compacted) into the member's `-restoring` dir, marked with
     * the run, renamed into place. Never over a running member, never over a data dir that is not this
     * run's restore. A member already restored by this run is left as it is.
     */
    async restoreEtcdMembers({ cluster, runId, plan }: RestoreMembersInput): Promise<{ restored: string[]; alreadyRestored: string[] }> {
      const cp = controlPlaneOf(deps, cluster);
      const ctx = Context.current();
      const restored: string[] = [];
      const alreadyRestored: string[] = [];
      await withDriver(cluster, cp, async (driver) => {
        // First every member's state, refusing before any restore starts; then the restores, at once
        // (each on its own host, as a person restoring by hand runs them in a terminal each).
        const attempt = Context.current().info.attempt;
        const todo: { planned: PlannedMemberRestore; m: EtcdMemberConfig }[] = [];
        for (const { planned, m } of membersOf(cp, plan)) {
          const [present = false, marked = false] = await driver.pathsExist(m, [planned.dataDir, restoreMark(planned.dataDir, runId)]);
          if (present && marked) {
            alreadyRestored.push(m.name);
            continue;
          }
          if (present)
            throw nonRetryable(
              `etcd member ${m.name} of '${cluster}': ${planned.dataDir} exists and is not this run's restore (was it moved aside? did a member start on an empty data dir?). Nothing was restored over it`,
              failureTypes.UnsafeEtcdDataDir,
            );
          await requireStopped(cluster, driver, m);
          todo.push({ planned, m });
        }
        if (!todo.length) return;
        const file = await staged(await manifestOf(plan), runId);
        await Promise.all(
          todo.map(async ({ planned, m }) => {
            const target = restoringDir(planned.dataDir, runId, attempt);
            // This attempt's own dir: only a worker that died inside this very attempt number could have left it.
            if ((await driver.pathsExist(m, [target]))[0]) await driver.removeUnfinishedRestore(m, target);
            const restoreInto = { ...planned, dataDir: target };
            await driver.restoreEtcdMember(
              m,
              file,
              (path) => etcdutlRestoreArgs(plan, restoreInto, path),
              (what) => ctx.heartbeat({ member: m.name, what }),
            );
            await driver.writeMark(m, restoreMark(target, runId), `${runId}\n`);
            await driver.rename(m, target, planned.dataDir);
            restored.push(m.name);
          }),
        );
      });
      return { restored, alreadyRestored };
    },

    /**
     * The rollback of a restore that failed before the kube-apiservers served it: every member stopped,
     * this run's restore renamed aside to `-restored` (kept), the old data dir renamed back. Idempotent.
     */
    async rollBackEtcdDataDirs({ cluster, runId, plan }: RestoreMembersInput): Promise<{ putBack: string[]; keptRestores: string[] }> {
      const cp = controlPlaneOf(deps, cluster);
      const putBack: string[] = [];
      const keptRestores: string[] = [];
      await withDriver(cluster, cp, async (driver) => {
        for (const { planned, m } of membersOf(cp, plan)) {
          await driver.stopEtcdMember(m);
          await requireStopped(cluster, driver, m);
          const keep = rolledBackRestoreDir(planned.dataDir, runId);
          const [present = false, marked = false, aside = false, kept = false] = await driver.pathsExist(m, [
            planned.dataDir,
            restoreMark(planned.dataDir, runId),
            planned.movedAsideTo,
            keep,
          ]);
          if (present && !marked && aside)
            throw nonRetryable(
              `etcd member ${m.name} of '${cluster}': ${planned.dataDir} is not this run's restore, and the old data is at ${planned.movedAsideTo}: put it back by hand. Nothing was touched`,
              failureTypes.UnsafeEtcdDataDir,
            );
          if (present && marked) {
            if (kept)
              throw nonRetryable(
                `etcd member ${m.name} of '${cluster}': both ${planned.dataDir} (this run's restore) and ${keep} exist. Nothing was touched`,
                failureTypes.UnsafeEtcdDataDir,
              );
            await driver.rename(m, planned.dataDir, keep);
            keptRestores.push(keep);
          }
          if (aside) {
            await driver.rename(m, planned.movedAsideTo, planned.dataDir);
            putBack.push(m.name);
          }
        }
      });
      return { putBack, keptRestores };
    },

    /**
     * Waits until every member answers with one leader at a revision at or above the plan's bumped one,
     * then counts the restored etcd's keys against the snapshot's inventory (before anything writes to
     * it: the kube-apiservers are still stopped). Writes between the inventory's revision and the
     * snapshot's may differ by at most one key each.
     */
    async waitEtcdRestored({ cluster, plan, timeoutSeconds }: RestoreMembersInput & DeadlineInput): Promise<{
      leader: string;
      revision: number;
      inventory: VerificationCheck;
    }> {
      const ctx = Context.current();
      const deadline = deadlineMsOf({ timeoutSeconds });
      const cp = controlPlaneOf(deps, cluster);
      const { config } = clusterClients(deps, cluster);
      let last = '';
      for (;;) {
        const answers = await etcdEndpointAnswers(deps, cluster);
        const statuses = answeredStatuses(answers);
        const led = statuses.filter(followsLeader);
        const leaders = new Set(led.map((s) => s.leaderId));
        const low = led.filter((s) => s.revision < plan.revisionAfterRestoreAtLeast);
        if (led.length === cp.etcdMembers.length && leaders.size === 1 && low.length === 0) {
          const leader = led.find((s) => s.isLeader)?.endpoint ?? [...leaders][0]!;
          const revision = Math.max(...led.map((s) => s.revision));
          const counted = await withEtcdClient(config, undefined, (etcd) =>
            countRegistry(etcd, revision, { onPage: (totalKeys) => ctx.heartbeat({ totalKeys }) }),
          );
          const allowed = plan.snapshot.fileRevision - plan.snapshot.inventory.revision;
          const check = compareInventory(plan.snapshot.inventory, counted);
          const prefixes = new Set([...Object.keys(counted.prefixes), ...Object.keys(plan.snapshot.inventory.prefixes)]);
          const prefixDiff = [...prefixes].reduce(
            (n, k) => n + Math.abs((counted.prefixes[k] ?? 0) - (plan.snapshot.inventory.prefixes[k] ?? 0)),
            0,
          );
          const off = Math.max(prefixDiff, Math.abs(counted.totalKeys - plan.snapshot.inventory.totalKeys));
          if (!check.passed && off > allowed)
            throw nonRetryable(
              `the restored etcd of '${cluster}' does not hold the snapshot's inventory: ${check.detail} (${off} keys differ; the ${allowed} revisions between the inventory and the snapshot explain at most ${allowed})`,
              failureTypes.EtcdRestoreNotHealthy,
            );
          return {
            leader,
            revision,
            inventory: check.passed
              ? check
              : {
                  ...check,
                  passed: true,
                  detail: `${check.detail}; explained by the ${allowed} revisions between the inventory (${plan.snapshot.inventory.revision}) and the snapshot (${plan.snapshot.fileRevision})`,
                },
          };
        }
        last = answers
          .map((a) => `${a.endpoint}: ${'error' in a ? a.error : followsLeader(a.status) ? `revision ${a.status.revision}` : 'no leader'}`)
          .join('; ');
        ctx.heartbeat({ waiting: last });
        if (Date.now() > deadline)
          throw nonRetryable(
            `the restored etcd of '${cluster}' has no quorum with a leader at revision ${plan.revisionAfterRestoreAtLeast} or above after ${timeoutSeconds} s: ${last}`,
            failureTypes.EtcdRestoreNotHealthy,
          );
        await sleep(1_000);
      }
    },

    /**
     * Proof the restored API serves, right after the kube-apiservers start and before any controller
     * does: /readyz, every named object (clusters[].restoreVerification.objects), the API's
     * resourceVersion above every one from before the restore, and a watch from then refused as too old
     * (informers re-list). Returns the Deployments the snapshot holds as Available: what
     * verifyEtcdRestoreWorkloads waits for once the controllers and kubelets run on the restored data.
     */
    async checkRestoredApi({ cluster, plan, timeoutSeconds }: RestoreMembersInput & DeadlineInput): Promise<{
      checks: VerificationCheck[];
      resourceVersion: number;
      apiReadyAt: string;
      availableDeployments: string[];
      unavailableDeployments: string[];
    }> {
      const ctx = Context.current();
      const deadline = deadlineMsOf({ timeoutSeconds });
      const { kubeConfig: kc, config } = clusterClients(deps, cluster);
      const checks: VerificationCheck[] = [];
      let ready = '';
      for (;;) {
        const r = await apiGet(kc, '/readyz').catch((err: Error) => ({ status: 0, body: err.message }));
        if (r.status === 200) break;
        ready = `${r.status || 'no answer'}: ${
          r.body
            .trim()
            .split('\n')
            .filter((l) => l.includes('[-]'))
            .join(' ') || r.body.trim().slice(0, 200)
        }`;
        ctx.heartbeat({ readyz: ready });
        if (Date.now() > deadline)
          throw nonRetryable(
            `the API of '${cluster}' is not ready ${timeoutSeconds} s after the restore: /readyz ${ready}`,
            failureTypes.EtcdRestoreVerificationFailed,
          );
        await sleep(500);
      }
      const apiReadyAt = new Date().toISOString();
      checks.push({ name: 'readyz', passed: true, detail: 'the API answers /readyz with ok' });

      for (const ref of config.restoreVerification.objects) {
        const name = `${ref.resource}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
        try {
          const o = await readObject(kc, ref);
          checks.push({ name, passed: true, detail: `found at resourceVersion ${o.metadata?.resourceVersion}` });
        } catch (err) {
          checks.push({
            name,
            passed: false,
            detail: httpStatusOf(err) === 404 ? 'not found in the restored cluster' : `unreadable: ${apiMessageOf(err)}`,
          });
        }
      }

      const list = await kc.makeApiClient(CoreV1Api).listNamespace({ limit: 1 });
      const resourceVersion = Number(list.metadata?.resourceVersion);
      const bumped = resourceVersion >= plan.revisionAfterRestoreAtLeast;
      checks.push({
        name: 'resourceVersion',
        passed: bumped,
        detail: bumped
          ? `${resourceVersion}, above every one before the restore (at most ${plan.dataLoss.revisionBeforeRestore ?? 'unknown'})`
          : `${resourceVersion}: below the ${plan.revisionAfterRestoreAtLeast} the bumped restore must serve; watchers could miss changes`,
      });
      const from = plan.dataLoss.revisionBeforeRestore ?? plan.snapshot.fileRevision;
      // A watch from the newest revision seen before the restore must be told it is too old, not replayed.
      const w = await apiGet(kc, `/api/v1/namespaces?watch=1&resourceVersion=${from}&timeoutSeconds=1`);
      const expired = w.status === 410 || /"code":\s*410|too old resource version|Expired/i.test(w.body);
      checks.push({
        name: 'watch from before the restore',
        passed: expired,
        detail: expired
          ? `a watch from resourceVersion ${from} is answered 410 Gone (too old): informers re-list`
          : `a watch from resourceVersion ${from} was not refused (HTTP ${w.status}): ${w.body.slice(0, 200)}`,
      });

      // The snapshot's own view of each Deployment (no controller has run on the restored data yet).
      const deployments = (await kc.makeApiClient(AppsV1Api).listDeploymentForAllNamespaces()).items;
      const key = (d: (typeof deployments)[number]) => `${d.metadata!.namespace}/${d.metadata!.name}`;
      const wanted = deployments.filter((d) => (d.spec?.replicas ?? 1) > 0);
      const availableDeployments = wanted.filter(isDeploymentAvailable).map(key).sort();
      const unavailableDeployments = wanted
        .filter((d) => !isDeploymentAvailable(d))
        .map(key)
        .sort();

      const failed = checks.filter((c) => !c.passed);
      if (failed.length)
        throw ApplicationFailure.create({
          message: `the restored API of '${cluster}' failed ${failed.length} check(s): ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`,
          type: failureTypes.EtcdRestoreVerificationFailed,
          nonRetryable: true,
          details: [{ checks }],
        });
      return { checks, resourceVersion, apiReadyAt, availableDeployments, unavailableDeployments };
    },

    /**
     * Once the kubelets, controller-managers and schedulers run on the restored data: every Deployment
     * the snapshot held as Available is Available again, observed by the restarted controllers
     * (observedGeneration current, every replica ready).
     */
    async verifyEtcdRestoreWorkloads({
      cluster,
      deployments,
      timeoutSeconds,
    }: { cluster: string; deployments: string[] } & DeadlineInput): Promise<{ checks: VerificationCheck[] }> {
      const ctx = Context.current();
      const deadline = deadlineMsOf({ timeoutSeconds });
      const apps = clusterClients(deps, cluster).kubeConfig.makeApiClient(AppsV1Api);
      for (;;) {
        const listed = new Map<string, V1Deployment>(
          (await apps.listDeploymentForAllNamespaces()).items.map((d) => [`${d.metadata!.namespace}/${d.metadata!.name}`, d]),
        );
        const waiting = deployments.filter((name) => {
          const d = listed.get(name);
          return (
            !d ||
            !isDeploymentAvailable(d) ||
            (d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) ||
            (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 1)
          );
        });
        ctx.heartbeat({ deploymentsNotAvailable: waiting.length });
        if (!waiting.length)
          return {
            checks: [
              {
                name: 'Deployments Available',
                passed: true,
                detail: `all ${deployments.length} Deployments the snapshot held as Available are Available, every replica ready`,
              },
            ],
          };
        if (Date.now() > deadline) {
          const checks = [
            {
              name: 'Deployments Available',
              passed: false,
              detail: `${waiting.length} of ${deployments.length} not Available after ${timeoutSeconds} s: ${waiting.slice(0, 10).join(', ')}`,
            },
          ];
          throw ApplicationFailure.create({
            message: `the restored control plane of '${cluster}': ${checks[0]!.detail}`,
            type: failureTypes.EtcdRestoreVerificationFailed,
            nonRetryable: true,
            details: [{ checks }],
          });
        }
        await sleep(1_000);
      }
    },

    /**
     * Removes what earlier attempts of this run's restore step left unfinished on the members' hosts
     * (`-restoring-<attempt>` dirs: etcdutl's partial output, never a data dir), the old data dirs of
     * earlier runs kept longer than `controlPlane.keepOldDataDirsFor` (never this run's), and this run's
     * staged snapshot from the worker. Run at the end, long after any etcdutl a dead worker left running.
     */
    async removeRestoreLeftovers({
      cluster,
      runId,
      plan,
    }: RestoreMembersInput): Promise<{ removed: string[]; expired: string[]; stagedSnapshotRemoved: boolean }> {
      const cp = controlPlaneOf(deps, cluster);
      const removed: string[] = [];
      const expired: string[] = [];
      await withDriver(cluster, cp, async (driver) => {
        for (const { planned, m } of membersOf(cp, plan)) {
          const candidates = Array.from({ length: maxRestoreAttempts }, (_, i) => restoringDir(planned.dataDir, runId, i + 1));
          const present = await driver.pathsExist(m, candidates);
          for (const [i, path] of candidates.entries()) {
            if (!present[i]) continue;
            await driver.removeUnfinishedRestore(m, path);
            removed.push(path);
          }
          // Old data dirs (moved aside, or restores rolled aside) of other runs, older than the configured
          // age: this run's are kept whatever their age (a name with this run's tail).
          for (const e of await driver.asideEntries(m, planned.dataDir)) {
            if (e.path.includes(`.lifeboat-${runIdTail(runId)}`) || e.ageSeconds < cp.keepOldDataDirsFor) continue;
            if (!/\.lifeboat-[0-9a-f]{12}(-restored|-restoring-\d+)?$/.test(e.path)) continue;
            await driver.removeUnfinishedRestore(m, e.path);
            expired.push(e.path);
          }
        }
      });
      const stagedSnapshotRemoved = await removeStaged(runId);
      return { removed, expired, stagedSnapshotRemoved };
    },

    /** Removes the staged plaintext snapshot of this run from the worker (the restore is done with it). */
    async removeStagedSnapshot({ runId }: { runId: string }): Promise<{ removed: boolean }> {
      return { removed: await removeStaged(runId) };
    },
  };

  /** The manifest of the plan's snapshot (re-read: the plan does not carry it whole). */
  function manifestOf(plan: EtcdRestorePreflight): Promise<SnapshotManifest> {
    return readManifest(s3, bucket, plan.cluster, plan.snapshot.snapshotId, keyRing).catch((err: unknown) => {
      // Changed since the preflight read it: whatever it now says is not what was approved.
      throw err instanceof ManifestTamperedError ? nonRetryable(err.message, tamperedType(err)) : err;
    });
  }
}

function requireComponent(component: string): asserts component is ControlPlaneComponent {
  if (!(controlPlaneComponents as readonly string[]).includes(component))
    throw ApplicationFailure.nonRetryable(
      `component '${component}': expected one of ${controlPlaneComponents.join(', ')}`,
      failureTypes.InvalidRunbookInput,
    );
}

export type EtcdRestoreRunbookActivities = ReturnType<typeof etcdRestoreRunbookActivities>;
