// Signed manifests. Whoever can write the bucket could otherwise swap one snapshot's manifest for
// another's, write an older manifest over a newer snapshot id (so "the newest" restores old data), or edit
// a status or a hash. Each manifest carries an HMAC-SHA256 over its canonical JSON (RFC 8785, by the
// `canonicalize` package, so key order and number formatting cannot change what is signed), keyed with
// the keyring's `manifest-mac` subkey (worker/keys.ts deriveKey) of the key id it records. Readers check
// the MAC, then that the manifest is the one of the key it was read from.
//
// Manifests written before signing exist ("unsigned"): they are listed and counted by retention, but a
// restore takes one only when asked to (allowUnsigned), and nothing ever signs one after the fact: signing
// what an attacker may have written would launder it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import canonicalize from 'canonicalize';
import { snapshotPrefix, type ManifestMac, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { deriveKey, type KeyRing } from '../../worker/keys.js';
import { failureTypes, type FailureType } from '../../model/failures.js';

/** What a refused manifest is. */
export type ManifestTamperKind =
  /** The signature does not match the content: something in it was changed after it was written. */
  | 'edited'
  /** Another snapshot's manifest (another id or cluster) stored under this snapshot's key. */
  | 'swapped'
  /** An older snapshot's manifest written over a newer snapshot's key: "the newest" would be old data. */
  | 'rolled-back'
  /** An unsigned manifest for a snapshot only a signing Lifeboat writes (its envelope is version 2). */
  | 'signature-removed'
  /** Signed with a keyring key id that is not configured: it cannot be checked (not proof of tampering). */
  | 'unknown-key';

/** A manifest Lifeboat refuses to act on; `kind` says why, the message says which and what to do. */
export class ManifestTamperedError extends Error {
  override readonly name = 'ManifestTamperedError';

  constructor(
    readonly kind: ManifestTamperKind,
    /** The object key the manifest was read from. */
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** The failure type (model/failures.ts) an activity raises for a refused manifest: never retryable. */
export const tamperedType = (err: ManifestTamperedError): FailureType =>
  err.kind === 'unknown-key' ? failureTypes.ManifestKeyUnknown : failureTypes.ManifestTampered;

/** For an activity's catch: a refused manifest as its non-retryable failure, anything else as it is. */
export const manifestFailure = (err: unknown): unknown =>
  err instanceof ManifestTamperedError ? ApplicationFailure.nonRetryable(err.message, tamperedType(err)) : err;

/** Where a manifest was read from: the snapshot it must describe. */
export interface ManifestLocation {
  cluster: string;
  snapshotId: string;
  /** The object key, for messages. */
  key: string;
}

const algorithm = 'HMAC-SHA256';

/** The bytes the MAC covers: the manifest without the MAC value, with the algorithm and key id, canonical. */
function signedBytes(manifest: SnapshotManifest, keyId: string): Buffer {
  const content: Partial<SnapshotManifest> = { ...manifest };
  delete content.mac;
  return Buffer.from(`lifeboat.etcd-snapshot manifest\n${canonicalize({ ...content, mac: { algorithm, keyId } })!}`, 'utf8');
}

function macOf(manifest: SnapshotManifest, keyRing: KeyRing, keyId: string): Buffer | undefined {
  const key = deriveKey(keyRing, 'manifest-mac', keyId);
  return key && createHmac('sha256', key).update(signedBytes(manifest, keyId)).digest();
}

/** The manifest with a fresh MAC under the keyring's current key (any earlier MAC replaced). */
export function signManifest(manifest: SnapshotManifest, keyRing: KeyRing): SnapshotManifest {
  const keyId = keyRing.currentKeyId;
  const value = macOf(manifest, keyRing, keyId);
  if (!value) throw new Error(`the keyring has no key '${keyId}' (its current key id) to sign manifests with`);
  const mac: ManifestMac = { algorithm, keyId, value: value.toString('base64') };
  return { ...manifest, mac };
}

export const isSigned = (manifest: SnapshotManifest): boolean => manifest.mac !== undefined;

/**
 * Refuses a manifest that is not what Lifeboat wrote for `at` (see ManifestTamperKind): the MAC first
 * when there is one (and `keyRing` is given), then that its cluster, snapshot id and object key are those
 * of the key it was read from. An unsigned manifest passes the second check only; the caller decides
 * what an unsigned one may be used for.
 */
export function checkManifest(manifest: SnapshotManifest, at: ManifestLocation, keyRing: KeyRing | undefined): void {
  const { mac } = manifest;
  if (mac && keyRing) {
    // Read from the bucket: the type says HMAC-SHA256, the bytes may say anything.
    const named: unknown = mac.algorithm;
    if (named !== algorithm)
      throw new ManifestTamperedError(
        'edited',
        at.key,
        `manifest ${at.key} names MAC algorithm ${JSON.stringify(named)}; Lifeboat writes only ${algorithm}: it was edited`,
      );
    const want = macOf(manifest, keyRing, mac.keyId);
    if (!want)
      throw new ManifestTamperedError(
        'unknown-key',
        at.key,
        `manifest ${at.key} is signed with key id '${mac.keyId}', which is not configured (encryption.keys: ${keyRing.ids.join(', ')}): its signature cannot be checked, so it is not used; configure that key`,
      );
    const got = Buffer.from(mac.value, 'base64');
    if (got.length !== want.length || !timingSafeEqual(got, want))
      throw new ManifestTamperedError(
        'edited',
        at.key,
        `manifest ${at.key} was edited after Lifeboat wrote it: its signature (key '${mac.keyId}') does not match its content (or the key configured as '${mac.keyId}' is not the one it was signed with). It is refused; compare it with the bucket's earlier versions and find out who wrote it`,
      );
  }
  if (manifest.cluster !== at.cluster || manifest.snapshotId !== at.snapshotId) {
    // Snapshot ids begin with their UTC start time (model/snapshot-layout.ts), so they sort by age.
    const older = manifest.cluster === at.cluster && manifest.snapshotId < at.snapshotId;
    throw new ManifestTamperedError(
      older ? 'rolled-back' : 'swapped',
      at.key,
      older
        ? `manifest ${at.key} is rolled back: it is the manifest of the older snapshot ${manifest.snapshotId} (taken ${manifest.startedAt}) written over snapshot ${at.snapshotId}'s, so the newest snapshot would restore old data. It is refused`
        : `manifest ${at.key} is swapped: it is the manifest of snapshot ${manifest.snapshotId} of cluster '${manifest.cluster}', stored as snapshot ${at.snapshotId} of cluster '${at.cluster}'. It is refused`,
    );
  }
  const ownPrefix = `${snapshotPrefix(at.cluster)}${at.snapshotId}/`;
  // Read from the bucket: typed as a manifest, but only this check makes `object.objectKey` so.
  const objectKey: unknown = (manifest as { object?: { objectKey?: unknown } }).object?.objectKey;
  if (typeof objectKey !== 'string' || !objectKey.startsWith(ownPrefix))
    throw new ManifestTamperedError(
      'swapped',
      at.key,
      `manifest ${at.key} names object ${String(objectKey)}, outside its own snapshot's ${ownPrefix}: it points at another snapshot's data. It is refused`,
    );
}

/** The snapshot a manifest key names, or undefined for a key that is not `etcd/<cluster>/<id>/manifest.json`. */
export function manifestLocationOf(key: string): ManifestLocation | undefined {
  const m = /^etcd\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(key);
  return m ? { cluster: m[1]!, snapshotId: m[2]!, key } : undefined;
}
