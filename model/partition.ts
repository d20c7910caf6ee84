// Telling a network partition from a death before acting (the networkPartition runbook): what each
// witness saw, the record a site witness keeps in its own cluster, and the decision table. Pure: the
// activities that ask the witnesses and the runbook's decide step both import it.

/** Where a site witness keeps what it sees of its peer: a Lease in its own cluster. */
export const siteWitnessNamespace = 'lifeboat-system';
export const siteWitnessLeaseName = (peer: string) => `peer-${peer}`;

/** The Lease's annotations: what the witness last saw of its peer's API, and since when. */
export const siteWitnessAnnotations = {
  /** `reachable` (its /readyz answered), `unreachable` (no answer), `error` (the witness could not ask: bad CA, bad address). */
  state: 'lifeboat.io/peer-state',
  /** When the state last changed (ISO 8601, the witness's clock). */
  since: 'lifeboat.io/peer-since',
  /** What the last check saw, in words (the HTTP status, or why there was no answer). */
  detail: 'lifeboat.io/peer-detail',
  /** The address the witness asks (the peer's API as the witness's network reaches it). */
  address: 'lifeboat.io/peer-address',
  /** The cluster the witness runs in. */
  observer: 'lifeboat.io/observer',
} as const;

export type PeerObservation = 'reachable' | 'unreachable' | 'error';

/** A reachability witness of the worker's own: a cluster's API or etcd, or the object store. */
export interface ReachabilityWitness {
  /** What was asked: `api/<cluster>`, `etcd/<cluster>`, `object-store`. */
  component: string;
  address: string;
  /** reachable: it answered (even "not ready"); unreachable: no answer within the deadline; error: could not ask. */
  state: PeerObservation;
  /** Answered, and ready (API /readyz 200, etcd with a leader, the object store's write-read-delete). */
  healthy: boolean;
  detail: string;
  /** How long the question took, in milliseconds. */
  tookMs: number;
}

/**
 * What one cluster's site witness says of its peer, as the worker read it through that cluster's API:
 * reachable/unreachable (fresh), stale (the witness stopped renewing: it is down, or cut from its own
 * API), missing (no record: no witness deployed), unreadable (the worker cannot read that cluster's API).
 */
export interface SiteWitnessView {
  /** The cluster whose witness this is. */
  cluster: string;
  peer: string;
  state: 'reachable' | 'unreachable' | 'error' | 'stale' | 'missing' | 'unreadable';
  detail: string;
  /** What the record said, when there was one. */
  observed?: PeerObservation;
  since?: string;
  renewedAt?: string;
  /** Seconds between the last renewal and the read (the worker's clock). */
  ageSeconds?: number;
  /** Renewals older than this are stale (the Lease's leaseDurationSeconds). */
  staleAfterSeconds?: number;
  holder?: string;
}

/** The fields of a Lease a reader needs, as the API returns them. */
export interface WitnessLease {
  metadata?: { annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: Date | string; leaseDurationSeconds?: number };
}

/** A witness record read at `now`: fresh (what it observed) or stale, in the words the plan shows. */
export function judgeWitnessRecord(cluster: string, peer: string, lease: WitnessLease, now: Date): SiteWitnessView {
  const a = lease.metadata?.annotations ?? {};
  const observed = a[siteWitnessAnnotations.state] as PeerObservation | undefined;
  const renewTime = lease.spec?.renewTime;
  const renewedAt = renewTime === undefined ? undefined : new Date(renewTime).toISOString();
  const staleAfterSeconds = lease.spec?.leaseDurationSeconds;
  const base = {
    cluster,
    peer,
    ...(observed ? { observed } : {}),
    ...(a[siteWitnessAnnotations.since] ? { since: a[siteWitnessAnnotations.since] } : {}),
    ...(renewedAt ? { renewedAt } : {}),
    ...(staleAfterSeconds ? { staleAfterSeconds } : {}),
    ...(lease.spec?.holderIdentity ? { holder: lease.spec.holderIdentity } : {}),
  };
  if (!renewedAt || !staleAfterSeconds || !observed || !['reachable', 'unreachable', 'error'].includes(observed))
    return { ...base, state: 'missing', detail: `the record of ${cluster}'s witness holds no observation of '${peer}'` };
  const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(renewedAt)) / 1000));
  if (ageSeconds > staleAfterSeconds)
    return {
      ...base,
      ageSeconds,
      state: 'stale',
      detail: `the witness on '${cluster}' last renewed its record ${ageSeconds} s ago (stale after ${staleAfterSeconds} s): the witness itself is down or cut from its own API; it last saw '${peer}' ${observed}`,
    };
  const detail = a[siteWitnessAnnotations.detail] ?? '';
  return {
    ...base,
    ageSeconds,
    state: observed,
    detail: `'${cluster}' sees '${peer}' ${observed} since ${base.since ?? 'its first check'}${detail ? ` (${detail})` : ''}; renewed ${ageSeconds} s ago`,
  };
}

/** Everything the decision reads: the worker's own witnesses and each site's view of the other. */
export interface PartitionWitnesses {
  /** The cluster the app runs on now, whose death or isolation is in question. */
  from: string;
  /** The standby that would take over. */
  to: string;
  sourceApi: ReachabilityWitness;
  sourceEtcd: ReachabilityWitness;
  targetApi: ReachabilityWitness;
  targetEtcd: ReachabilityWitness;
  objectStore: ReachabilityWitness;
  /** The standby's witness of the source: the deciding view from the other site. */
  standbyView: SiteWitnessView;
  /** The source's witness of the standby (shown; the decision does not need it). */
  sourceView?: SiteWitnessView;
}

/** The rows of the decision table, in the order they are tried. */
export const partitionRows = [
  'worker-isolated',
  'source-healthy',
  'partition-between-sites',
  'standby-view-unknown',
  'worker-cut-from-source',
  'source-view-unknown',
  'source-partly-reachable',
  'worker-impaired',
  'source-dead',
] as const;
export type PartitionRow = (typeof partitionRows)[number];

export interface PartitionDecision {
  row: PartitionRow;
  /** Only `source-dead` fails over (with force, after an approval); every other row changes nothing. */
  failover: boolean;
  /** Whether the source is to be fenced (never in a row that does not fail over: a partition fences nothing). */
  fence: boolean;
  /** What the row means and what is (or is not) done, in a sentence: the plan's and the approver's. */
  detail: string;
  /** One line per witness, as the plan shows them. */
  witnesses: string[];
}

const line = (w: ReachabilityWitness) =>
  `${w.component} from the worker: ${w.state}${w.state === 'reachable' && !w.healthy ? ' (not ready)' : ''} (${w.detail})`;

/**
 * The decision table. Only a source that nobody reaches (not the worker through its API nor its etcd,
 * not the standby's witness, freshly) while the worker itself reaches the standby and the object store
 * is treated as dead; anything less certain changes nothing and says which witness is missing.
 */
export function decidePartition(w: PartitionWitnesses): PartitionDecision {
  const witnesses = [
    line(w.sourceApi),
    line(w.sourceEtcd),
    line(w.targetApi),
    line(w.targetEtcd),
    line(w.objectStore),
    `'${w.to}' witness of '${w.from}': ${w.standbyView.state} (${w.standbyView.detail})`,
    ...(w.sourceView ? [`'${w.from}' witness of '${w.to}': ${w.sourceView.state} (${w.sourceView.detail})`] : []),
  ];
  const decide = (row: PartitionRow, detail: string): PartitionDecision => ({
    row,
    failover: row === 'source-dead',
    fence: row === 'source-dead',
    detail,
    witnesses,
  });
  const up = (x: ReachabilityWitness) => x.state === 'reachable';
  const { from, to } = w;
  const view = w.standbyView.state;
  if (![w.sourceApi, w.sourceEtcd, w.targetApi, w.targetEtcd, w.objectStore].some(up))
    return decide(
      'worker-isolated',
      `the worker reaches nothing (neither cluster's API or etcd, nor the object store): it is the one cut off. Nothing was changed; fix the worker's network, or run this runbook from another site`,
    );
  if (up(w.sourceApi)) {
    if (view === 'reachable') return decide('source-healthy', `'${from}' answers the worker and '${to}' sees it: healthy, nothing to do`);
    if (view === 'unreachable')
      return decide(
        'partition-between-sites',
        `PARTITION between sites: '${from}' answers the worker, but '${to}' cannot reach it (${w.standbyView.detail}). '${from}' is alive and serves: no failover, nothing fenced; restore the link between the sites`,
      );
    return decide(
      'standby-view-unknown',
      `'${from}' answers the worker, so it is alive: no failover. The standby's view is unknown (${w.standbyView.detail})`,
    );
  }
  if (view === 'reachable')
    return decide(
      'worker-cut-from-source',
      `the worker cannot reach '${from}', but '${to}' does (${w.standbyView.detail}): '${from}' is alive, the worker is cut from it. No failover`,
    );
  if (view !== 'unreachable')
    return decide(
      'source-view-unknown',
      `the worker cannot reach '${from}', and the standby's view is unknown (${w.standbyView.detail}): a partition cannot be told from a death. Nothing was changed; check the witness on '${to}'`,
    );
  if (up(w.sourceEtcd))
    return decide(
      'source-partly-reachable',
      `'${from}' API answers nobody, but its etcd answers the worker: its control plane is partly up and its Pods may still serve. No failover; recover its API (etcd-recovery, node-replacement) or fail over by hand with force`,
    );
  if (!up(w.objectStore) || !up(w.targetApi))
    return decide(
      'worker-impaired',
      `'${from}' answers nobody, but the worker's own network is impaired (${[w.objectStore, w.targetApi]
        .filter((x) => !up(x))
        .map((x) => `${x.component} ${x.state}`)
        .join(', ')}): its view cannot confirm a death. Nothing was changed`,
    );
  return decide(
    'source-dead',
    `'${from}' is reachable from nowhere (not its API nor etcd from the worker, not from '${to}'), while the worker reaches '${to}' and the object store: treated as dead. Fail over to '${to}' with force, fencing '${from}' by whatever reaches it (the failover fences it now if its API answers, else the moment it does)`,
  );
}
