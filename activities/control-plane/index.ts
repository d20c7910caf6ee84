// The control-plane driver: how Lifeboat stops and starts a cluster's etcd members and moves a
// member's data dir aside, for etcd recovery. The cluster's `controlPlane` configuration names the
// driver; without one, these activities fail naming the missing key. Drivers: `lab` (the lab's own
// process manager, on this machine). Every action is idempotent: a member already stopped stays
// stopped, one already running with the asked command line is left running, a data dir already moved
// by this run is found where this run put it.
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from '../deps.js';
import { failureTypes } from '../../model/failures.js';
import { dataDirMoveRefusal, movedAsideDataDir } from '../../model/etcd-recovery.js';
import type { ControlPlaneConfig } from '../../worker/config.js';
import { clusterClients } from '../kubernetes/cluster.js';

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

/** What a driver does on a member's host: its process, and its data dir. */
export interface ControlPlaneDriver {
  /** Whether each path exists on the member's host. */
  pathsExist(member: EtcdMemberConfig, paths: string[]): Promise<boolean[]>;
  /** Renames `from` to `to` on the member's host (same directory, so one atomic rename). */
  rename(member: EtcdMemberConfig, from: string, to: string): Promise<void>;
  /** Stops the member's etcd; `wasRunning: false` when it was not running. */
  stopEtcdMember(member: EtcdMemberConfig): Promise<{ wasRunning: boolean }>;
  /** Starts the member's etcd to join the existing cluster; `alreadyRunning` when it ran with that command line. */
  startEtcdMemberJoining(member: EtcdMemberConfig, initialCluster: string): Promise<{ alreadyRunning: boolean; pid: number }>;
}

export type EtcdMemberConfig = ControlPlaneConfig['etcdMembers'][number];

export const createControlPlaneActivities = (deps: Pick<ActivityDeps, 'clusters'>) => {
  const controlPlaneOf = (cluster: string): ControlPlaneConfig => {
    const cp = clusterClients(deps, cluster).config.controlPlane;
    if (!cp)
      throw ApplicationFailure.nonRetryable(
        `cluster '${cluster}' has no clusters[].controlPlane in the configuration: its etcd members cannot be stopped, started or replaced`,
        failureTypes.ControlPlaneNotConfigured,
      );
    return cp;
  };
  const memberOf = ({ cluster, member }: EtcdMemberRef): { cp: ControlPlaneConfig; m: EtcdMemberConfig } => {
    const cp = controlPlaneOf(cluster);
    const m = cp.etcdMembers.find((x) => x.name === member);
    if (!m)
      throw ApplicationFailure.nonRetryable(
        `cluster '${cluster}' has no etcd member '${member}' in clusters[].controlPlane.etcdMembers (it has: ${cp.etcdMembers.map((x) => x.name).join(', ')})`,
        failureTypes.UnknownEtcdMember,
      );
    return { cp, m };
  };
  // The lab's driver is loaded only where the configuration names it: a production worker never loads the lab.
  const driverOf = async (cluster: string, cp: ControlPlaneConfig): Promise<ControlPlaneDriver> => {
    switch (cp.driver) {
      case 'lab':
        return (await import('./lab.js')).labControlPlane(cluster);
    }
  };

  return {
    /** Stops one etcd member through the cluster's driver (a dead member is already stopped). */
    async stopEtcdMember(ref: EtcdMemberRef): Promise<{ member: string; wasRunning: boolean }> {
      const { cp, m } = memberOf(ref);
      return { member: m.name, ...(await (await driverOf(ref.cluster, cp)).stopEtcdMember(m)) };
    },

    /** Starts one etcd member with `--initial-cluster-state existing`: a replacement joining the cluster it was added to. */
    async startEtcdMember(input: StartEtcdMemberInput): Promise<{ member: string; alreadyRunning: boolean; pid: number }> {
      const { cp, m } = memberOf(input);
      return { member: m.name, ...(await (await driverOf(input.cluster, cp)).startEtcdMemberJoining(m, input.initialCluster)) };
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
      const { cp, m } = memberOf(input);
      const others = cp.etcdMembers.filter((x) => x.name !== m.name).map((x) => x.dataDir);
      const unsafe = dataDirMoveRefusal(m.dataDir, others);
      if (unsafe)
        throw ApplicationFailure.nonRetryable(`etcd member ${m.name} of '${input.cluster}': ${unsafe}`, failureTypes.UnsafeEtcdDataDir);
      const movedTo = movedAsideDataDir(m.dataDir, input.runId);
      const driver = await driverOf(input.cluster, cp);
      const [present = false, alreadyMoved = false] = await driver.pathsExist(m, [m.dataDir, movedTo]);
      if (present && alreadyMoved)
        throw ApplicationFailure.nonRetryable(
          `etcd member ${m.name} of '${input.cluster}': both ${m.dataDir} and this run's ${movedTo} exist; a member wrote to the data dir after it was moved aside. Nothing was touched`,
          failureTypes.UnsafeEtcdDataDir,
        );
      if (!present) return { member: m.name, dataDir: m.dataDir, movedTo, moved: false, existed: alreadyMoved };
      await driver.rename(m, m.dataDir, movedTo);
      return { member: m.name, dataDir: m.dataDir, movedTo, moved: true, existed: true };
    },
  };
};

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;
