// What a control-plane driver does on a cluster's control-plane hosts: stop and start its etcd members
// and its Kubernetes components, and touch an etcd member's data dir (look, rename, free space, restore
// a snapshot into it). The activities (index.ts, restore.ts) decide what is safe; a driver only does
// it, and every operation is idempotent: stopping a stopped process, starting a running one (with the
// same command line), renaming what is already renamed are each "done".
//
// Drivers: `lab` (lab.ts: the lab's own process manager, on this machine) and `commands` (commands.ts:
// configured argv lists run on each control-plane host over SSH).
import type { ControlPlaneConfig } from '../../worker/config.js';

export type EtcdMemberConfig = ControlPlaneConfig['etcdMembers'][number];

/** The Kubernetes components an etcd restore stops and starts, in the order Kubernetes' restore guide gives. */
export const controlPlaneComponents = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet'] as const;
export type ControlPlaneComponent = (typeof controlPlaneComponents)[number];

/** The plaintext snapshot on the worker, to be restored on a member's host. */
export interface StagedSnapshot {
  /** Absolute path on the worker (mode 0600). */
  localPath: string;
  sha256: string;
  bytes: number;
}

export interface ControlPlaneDriver {
  /** Whether each path exists on the member's host. */
  pathsExist(member: EtcdMemberConfig, paths: string[]): Promise<boolean[]>;
  /** Renames `from` to `to` on the member's host (siblings: one atomic rename on one filesystem). */
  rename(member: EtcdMemberConfig, from: string, to: string): Promise<void>;
  /**
   * Removes a directory tree on the member's host that this run's restore wrote and did not finish
   * (etcdutl killed half way). The activity checks the name is this run's scratch name before it asks;
   * a driver never removes anything else.
   */
  removeUnfinishedRestore(member: EtcdMemberConfig, path: string): Promise<void>;
  /**
   * The entries beside `dataDir` whose names start with `<basename of dataDir>.lifeboat-` (data dirs
   * moved aside, restores rolled aside, unfinished restores), each with the seconds since it was last
   * renamed or changed (its inode's change time: a rename sets it).
   */
  asideEntries(member: EtcdMemberConfig, dataDir: string): Promise<{ path: string; ageSeconds: number }[]>;
  /** Writes `text` to a small file at `path` on the member's host (the mark of a finished restore). */
  writeMark(member: EtcdMemberConfig, path: string, text: string): Promise<void>;
  /** Free bytes on the filesystem that holds `path` (or its nearest existing ancestor) on the member's host. */
  freeBytes(member: EtcdMemberConfig, path: string): Promise<number>;
  /** Whether the member's etcd process runs (as the driver knows it: a PID, a unit, a static pod's manifest). */
  etcdMemberRunning(member: EtcdMemberConfig): Promise<boolean>;
  /** Stops the member's etcd; `wasRunning: false` when it was not running. */
  stopEtcdMember(member: EtcdMemberConfig): Promise<{ wasRunning: boolean }>;
  /** Starts the member's etcd as configured, on whatever its data dir holds (the old data, or a restore). */
  startEtcdMember(member: EtcdMemberConfig): Promise<{ alreadyRunning: boolean }>;
  /** Starts the member's etcd to join the existing cluster (`--initial-cluster-state existing`, this `--initial-cluster`). */
  startEtcdMemberJoining(member: EtcdMemberConfig, initialCluster: string): Promise<{ alreadyRunning: boolean }>;
  /** `etcdutl version`'s etcdutl version on the member's host, e.g. `3.5.21`. */
  etcdutlVersion(member: EtcdMemberConfig): Promise<string>;
  /**
   * Restores `snapshot` on the member's host: copies it there when the host is not the worker (checking
   * its sha256 on arrival), runs `etcdutl` with `etcdutlArgs(pathOnHost)`, and removes the copy.
   * `beat` is called while it runs (gigabytes take a while).
   */
  restoreEtcdMember(
    member: EtcdMemberConfig,
    snapshot: StagedSnapshot,
    etcdutlArgs: (snapshotPathOnHost: string) => string[],
    beat: (what: string) => void,
  ): Promise<void>;
  /** Stops every instance of the component; returns what was acted on (process names, hosts). */
  stopComponent(component: ControlPlaneComponent): Promise<string[]>;
  /** Starts every instance of the component (those running are left running). */
  startComponent(component: ControlPlaneComponent): Promise<string[]>;
  /** Restarts every instance of the component, so it re-reads the API (its informers re-list). */
  restartComponent(component: ControlPlaneComponent): Promise<string[]>;
  /** Releases what the driver holds (SSH connections). */
  close?(): Promise<void>;
}
