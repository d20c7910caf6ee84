// What a health check reports: the report is the product, so an unreachable component is a result, not an error.

export interface ComponentHealth {
  /** e.g. `nodes/primary`, `etcd/primary`, `object-store`. */
  component: string;
  healthy: boolean;
  /** What was contacted. */
  address: string;
  detail: string;
}

export interface EtcdMemberStatus {
  endpoint: string;
  version: string;
  revision: number;
  dbSizeBytes: number;
  memberId: string;
  leaderId: string;
  isLeader: boolean;
}

export interface EtcdHealth extends ComponentHealth {
  members: EtcdMemberStatus[];
  /**
   * More than half of the configured endpoints answered, each following a leader: the cluster serves
   * writes even when `healthy` is false because a member is down. Absent in results from before members
   * were judged one by one (read as false).
   */
  quorum?: boolean;
}
