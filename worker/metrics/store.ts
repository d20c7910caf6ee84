// What the object store says about the backups: each cluster's etcd snapshot manifests and the newest
// game day report. A manifest or report is fetched again only when its ETag changes, so a refresh costs
// one listing per prefix and a GET per new or rewritten object.
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { snapshotPrefix, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { gameDayReportPrefix } from '../../model/gameday-layout.js';
import type { GameDayReport } from '../../model/verification.js';
import { checkManifest, manifestLocationOf, ManifestTamperedError } from '../../activities/object-store/manifest-mac.js';
import type { KeyRing } from '../keys.js';

/** A cluster's snapshots as their manifests record them. */
export interface ClusterSnapshots {
  /** Manifests by status (uploaded, verified, failed). */
  byStatus: Record<SnapshotManifest['status'], number>;
  /** Manifests refused: edited, swapped, signed with an unknown key, or not readable as a manifest. */
  refused: number;
  /** The newest snapshot (by start time). */
  newest?: SnapshotManifest;
  /** The newest snapshot whose latest verification says verified. */
  newestVerified?: SnapshotManifest;
  /** The latest verification of any snapshot: when, and whether it verified. */
  lastVerification?: { at: Date; verified: boolean };
  /** The latest verification that verified. */
  lastVerified?: Date;
}

interface Cached<T> {
  etag: string;
  value?: T;
}

export class StoreReader {
  private readonly manifests = new Map<string, Cached<SnapshotManifest>>();
  private report?: { key: string } & Cached<GameDayReport>;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly keyRing: KeyRing | undefined,
  ) {}

  private async list(prefix: string) {
    const objects: { key: string; etag: string; lastModified: number }[] = [];
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: prefix }))
      for (const o of page.Contents ?? []) objects.push({ key: o.Key!, etag: o.ETag ?? '', lastModified: o.LastModified?.getTime() ?? 0 });
    return objects;
  }

  private async text(key: string): Promise<string> {
    const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return got.Body!.transformToString();
  }

  /** A cluster's manifests, checked as restores check them (activities/object-store/manifest-mac.ts). */
  async clusterSnapshots(cluster: string): Promise<ClusterSnapshots> {
    const keys = (await this.list(snapshotPrefix(cluster))).filter((o) => o.key.endsWith('/manifest.json'));
    const state: ClusterSnapshots = { byStatus: { uploaded: 0, verified: 0, failed: 0 }, refused: 0 };
    const current = new Set(keys.map((k) => k.key));
    for (const key of this.manifests.keys()) if (key.startsWith(snapshotPrefix(cluster)) && !current.has(key)) this.manifests.delete(key);
    for (let i = 0; i < keys.length; i += 8) {
      await Promise.all(
        keys.slice(i, i + 8).map(async ({ key, etag }) => {
          if (this.manifests.get(key)?.etag === etag) return;
          let value: SnapshotManifest | undefined;
          try {
            value = JSON.parse(await this.text(key)) as SnapshotManifest;
            checkManifest(value, manifestLocationOf(key) ?? { cluster, snapshotId: key, key }, this.keyRing);
          } catch (err) {
            if (err instanceof SyntaxError || err instanceof ManifestTamperedError) value = undefined;
            else throw err;
          }
          this.manifests.set(key, { etag, value });
        }),
      );
    }
    for (const key of current) {
      const m = this.manifests.get(key)?.value;
      if (!m) {
        state.refused++;
        continue;
      }
      state.byStatus[m.status] = (state.byStatus[m.status] ?? 0) + 1;
      if (!state.newest || m.startedAt > state.newest.startedAt) state.newest = m;
      const v = m.verification;
      if (!v) continue;
      const at = new Date(v.at);
      const verified = v.result === 'verified';
      if (!state.lastVerification || at > state.lastVerification.at) state.lastVerification = { at, verified };
      if (verified) {
        if (!state.lastVerified || at > state.lastVerified) state.lastVerified = at;
        if (!state.newestVerified || m.startedAt > state.newestVerified.startedAt) state.newestVerified = m;
      }
    }
    return state;
  }

  /** The game day report written last, if any. */
  async newestGameDayReport(): Promise<GameDayReport | undefined> {
    const reports = (await this.list(gameDayReportPrefix)).filter((o) => o.key.endsWith('/report.json'));
    const newest = reports.reduce<(typeof reports)[number] | undefined>(
      (a, b) => (!a || b.lastModified > a.lastModified ? b : a),
      undefined,
    );
    if (!newest) return undefined;
    if (this.report?.key !== newest.key || this.report.etag !== newest.etag)
      this.report = { key: newest.key, etag: newest.etag, value: JSON.parse(await this.text(newest.key)) as GameDayReport };
    return this.report.value;
  }
}
