// The control-plane driver: how Lifeboat stops and starts a cluster's etcd members and moves a
// member's data dir aside, for etcd recovery. The cluster's `controlPlane` configuration names the
// driver; without one, these activities fail naming the missing key. Drivers: `lab` (the lab's own
// process manager, on this machine) and `commands` (configured commands on each host, over SSH).
// Every action is idempotent: a member already stopped stays stopped, one already running with the
// asked command line is left running, a data dir already moved by this run is found where this run
// put it.
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from '../deps.js';
import { failureTypes } from '../../model/failures.js';
import { dataDirMoveRefusal, movedAsideDataDir } from '../../model/etcd-recovery.js';
import type { ControlPlaneConfig } from '../../worker/config.js';
import { clusterClients } from '../kubernetes/cluster.js';
import type { ControlPlaneDriver, EtcdMemberConfig } from './driver.js';

export type { ControlPlaneDriver, EtcdMemberConfig } from './driver.js';

export interface EtcdMemberRef {
  cluster: string;
  /** The member's etcd name, as in `controlPlane.etcdMembers[].name`. */
  member: string;
}

export interface StartEtcdMemberInput extends EtcdMemberRef {
  /** `--initial-cluster` for a member joining an existing cluster (the member add's answer). */
  initialCluster: string;
}

export interface MoveEtcdDataAsideInput extends EtcdMemberRef {
  /** The run's ID: the moved-aside dir is named from it (model/etcd-recovery.ts movedAsideDataDir), so a retry finds its own move. */
  runId: string;
}

/** The cluster's `controlPlane` configuration, or ControlPlaneNotConfigured naming the missing key. */
export function controlPlaneOf(deps: Pick<ActivityDeps, 'clusters'>, cluster: string): ControlPlaneConfig {
  const cp = clusterClients(deps, cluster).config.controlPlane;
  if (!cp)
    throw ApplicationFailure.nonRetryable(
      `cluster '${cluster}' has no clusters[].controlPlane in the configuration: its etcd members and control-plane components cannot be stopped, started, replaced or restored`,
      failureTypes.ControlPlaneNotConfigured,
    );
  return cp;
}

/** One configured member, or UnknownEtcdMember naming the configured ones. */
export function memberOf(
  deps: Pick<ActivityDeps, 'clusters'>,
  { cluster, member }: EtcdMemberRef,
): { cp: ControlPlaneConfig; m: EtcdMemberConfig } {
  const cp = controlPlaneOf(deps, cluster);
  const m = cp.etcdMembers.find((x) => x.name === member);
  if (!m)
    throw ApplicationFailure.nonRetryable(
      `cluster '${cluster}' has no etcd member '${member}' in clusters[].controlPlane.etcdMembers (it has: ${cp.etcdMembers.map((x) => x.name).join(', ')})`,
      failureTypes.UnknownEtcdMember,
    );
  return { cp, m };
}

/**
 * The cluster's driver, used and closed. Each driver is loaded only where the configuration names it:
 * a production worker never loads the lab.
 */
export async function withDriver<T>(cluster: string, cp: ControlPlaneConfig, use: (driver: ControlPlaneDriver) => Promise<T>): Promise<T> {
  let driver: ControlPlaneDriver;
  switch (cp.driver) {
    case 'lab':
      driver = (await import('./lab.js')).labControlPlane(cluster);
      break;
    case 'commands':
      driver = (await import('./commands.js')).commandsControlPlane(cluster, cp);
      break;
  }
  try {
    return await use(driver);
  } finally {
    await driver.close?.();
  }
}

export const createControlPlaneActivities = (deps: Pick<ActivityDeps, 'clusters'>) => {
  return {
    /** Stops one etcd member through the cluster's driver (a dead member is already stopped). */
    async stopEtcdMember(ref: EtcdMemberRef): Promise<{ member: string; wasRunning: boolean }> {
      const { cp, m } = memberOf(deps, ref);
      return { member: m.name, ...(await withDriver(ref.cluster, cp, (d) => d.stopEtcdMember(m))) };
    },

    /** Starts one etcd member with `--initial-cluster-state existing`: a replacement joining the cluster it was added to. */
    async startEtcdMember(input: StartEtcdMemberInput): Promise<{ member: string; alreadyRunning: boolean }> {
      const { cp, m } = memberOf(deps, input);
      return { member: m.name, ...(await withDriver(input.cluster, cp, (d) => d.startEtcdMemberJoining(m, input.initialCluster))) };
    },

    /**
     * Moves the member's data dir aside (one rename; never a delete) to a name derived from the run.
     * Idempotent: already moved by this run, or no data dir at all (a wiped disk), is done. A data dir
     * *and* this run's moved-aside dir both present means a member wrote new data after the move:
     * UnsafeEtcdDataDir, nothing touched. Refuses a path that is not safe to move (dataDirMoveRefusal).
     */
    async moveEtcdDataAside(
      input: MoveEtcdDataAsideInput,
    ): Promise<{ member: string; dataDir: string; movedTo: string; moved: boolean; existed: boolean }> {
      const { cp, m } = memberOf(deps, input);
      const others = cp.etcdMembers.filter((x) => x.name !== m.name).map((x) => x.dataDir);
      const unsafe = dataDirMoveRefusal(m.dataDir, others);
      if (unsafe)
        throw ApplicationFailure.nonRetryable(`etcd member ${m.name} of '${input.cluster}': ${unsafe}`, failureTypes.UnsafeEtcdDataDir);
      const movedTo = movedAsideDataDir(m.dataDir, input.runId);
      return withDriver(input.cluster, cp, async (driver) => {
        const [present = false, alreadyMoved = false] = await driver.pathsExist(m, [m.dataDir, movedTo]);
        if (present && alreadyMoved)
          throw ApplicationFailure.nonRetryable(
            `etcd member ${m.name} of '${input.cluster}': both ${m.dataDir} and this run's ${movedTo} exist; a member wrote to the data dir after it was moved aside. Nothing was touched`,
            failureTypes.UnsafeEtcdDataDir,
          );
        if (!present) return { member: m.name, dataDir: m.dataDir, movedTo, moved: false, existed: alreadyMoved };
        await driver.rename(m, m.dataDir, movedTo);
        return { member: m.name, dataDir: m.dataDir, movedTo, moved: true, existed: true };
      });
    },
  };
};

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;
