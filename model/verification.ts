// What restore verifications and game days return: plain, versionable data (no secrets, no bytes).
import type { Step } from './steps.js';
import type { Inventory } from './snapshot-layout.js';

/** One check of a restored backup: an object found, a hash compared, a Deployment Available. */
export interface VerificationCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface VerificationResult {
  /** failover: a game day's failover and failback of an app, in this shape for the report. */
  kind: 'etcd' | 'velero' | 'failover';
  /** etcd: the cluster whose snapshot was restored; velero: the app. */
  subject: string;
  /** Cluster the backup was taken of. */
  sourceCluster: string;
  /** Where it was restored: a cluster name, or `scratch` for an etcd restore on the worker. */
  restoredTo: string;
  backup: {
    /** Snapshot id or Velero Backup name. */
    id: string;
    /** When the backup was taken (its data's point in time). */
    createdAt: string;
    /** Where it is stored, e.g. s3://bucket/key or velero/<location>. */
    location: string;
    sizeBytes?: number;
    items?: number;
  };
  passed: boolean;
  /** Why it did not pass: the first failed step or check, precisely. */
  failureReason?: string;
  checks: VerificationCheck[];
  /** Every step with its timestamps, in order. */
  steps: Step[];
  /** Start of the verification to the moment it was verified (or failed). */
  rtoSeconds: number;
  /** Age of the backup when the verification started. */
  rpoSeconds: number;
  objectives: { rtoSeconds: number; rpoSeconds: number };
  workflowId: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
}

export interface GameDayEntry {
  /** e.g. `etcd/primary`, `velero/shop` or `failover/shop`. */
  name: string;
  kind: 'etcd' | 'velero' | 'failover';
  /** The fresh backup taken first, when the game day takes one. */
  backup?: { workflowId: string; id?: string; passed: boolean; detail: string; steps: Step[] };
  verification?: VerificationResult;
  /** A failure before a verification result existed (the backup failed, a child could not start). */
  error?: string;
  passed: boolean;
  rtoMet: boolean;
  rpoMet: boolean;
}

export interface GameDayReport {
  kind: 'lifeboat.gameday-report';
  formatVersion: 1;
  /** The game day's id: its workflow ID's last segment, e.g. 2026-11-21T09-00-00Z. */
  id: string;
  workflowId: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  /** Every entry passed and met its objectives. */
  passed: boolean;
  entries: GameDayEntry[];
}

/** The restored etcd's inventory against the manifest's: every resource prefix's count, and the total. */
export function compareInventory(expected: Inventory, restored: Inventory): VerificationCheck {
  const names = [...new Set([...Object.keys(expected.prefixes), ...Object.keys(restored.prefixes)])].sort();
  const differing = names.filter((n) => (expected.prefixes[n] ?? 0) !== (restored.prefixes[n] ?? 0));
  return {
    name: 'inventory',
    passed: differing.length === 0 && expected.totalKeys === restored.totalKeys,
    detail:
      differing.length === 0 && expected.totalKeys === restored.totalKeys
        ? `${restored.totalKeys} keys in ${names.length} resource prefixes at revision ${restored.revision}, as the manifest says`
        : `at revision ${restored.revision}: ${restored.totalKeys} keys, manifest ${expected.totalKeys}; differing: ${differing
            .slice(0, 8)
            .map((n) => `${n} ${restored.prefixes[n] ?? 0} (manifest ${expected.prefixes[n] ?? 0})`)
            .join(', ')}`,
  };
}
