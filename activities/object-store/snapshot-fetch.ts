// Streams a stored snapshot back: check the manifest's signature, download, check the stored sha256,
// decrypt (authenticating every chunk, and that the object is this snapshot's: envelope version 2 binds
// cluster and snapshot id), check the plaintext sha256 against the manifest. The destination gets
// plaintext; the caller decides where that may live (restore verification writes it to a scratch
// directory only).
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { createDecryptStream } from './envelope.js';
import { Sha256Tap } from '../etcd/snapshot-stream.js';
import { snapshotManifestKey, type SnapshotManifest } from '../../model/snapshot-layout.js';
import { checkManifest, isSigned, ManifestTamperedError } from './manifest-mac.js';
import type { KeyRing } from '../../worker/keys.js';

export class SnapshotIntegrityError extends Error {
  override readonly name = 'SnapshotIntegrityError';
}

export interface FetchedSnapshot {
  plaintextBytes: number;
  plaintextSha256: string;
  keyId: string;
}

/**
 * Fetches the snapshot `manifest` describes into `destination`. Callers read the manifest with
 * readManifest or listManifests, which check its MAC and where it was found; here only that it names an
 * object under its own snapshot's prefix, and (for an unsigned one) that its signature was not removed.
 * Throws ManifestTamperedError, EnvelopeError or SnapshotIntegrityError.
 */
export async function fetchSnapshot(options: {
  s3: S3Client;
  bucket: string;
  manifest: SnapshotManifest;
  keyRing: KeyRing;
  destination: Writable;
  signal?: AbortSignal;
}): Promise<FetchedSnapshot> {
  const { manifest } = options;
  const manifestKey = snapshotManifestKey(manifest.cluster, manifest.snapshotId);
  checkManifest(manifest, { cluster: manifest.cluster, snapshotId: manifest.snapshotId, key: manifestKey }, undefined);
  const got = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: manifest.object.objectKey }), {
    abortSignal: options.signal,
  });
  const stored = new Sha256Tap();
  const plain = new Sha256Tap();
  const decrypt = createDecryptStream({
    lookupKey: options.keyRing.lookup,
    expected: { cluster: manifest.cluster, snapshotId: manifest.snapshotId },
    configuredKeyIds: options.keyRing.ids,
  });
  // Only a signing Lifeboat writes version 2 envelopes: an unsigned manifest of one had its MAC removed.
  // Checked at the first authenticated chunk, before more is written.
  const signatureKept = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      if (!isSigned(manifest) && decrypt.formatVersion === 2)
        return done(
          new ManifestTamperedError(
            'signature-removed',
            manifestKey,
            `manifest ${manifestKey} is unsigned, but its snapshot was written by a Lifeboat that signs every manifest (envelope version 2): its signature was removed. It is refused`,
          ),
        );
      done(null, chunk);
    },
  });
  await pipeline(got.Body as Readable, stored, decrypt, signatureKept, plain, options.destination, { signal: options.signal });
  if (stored.digest !== manifest.object.storedSha256) {
    throw new SnapshotIntegrityError(
      `stored object s3://${options.bucket}/${manifest.object.objectKey} has sha256 ${stored.digest}, the manifest says ${manifest.object.storedSha256}`,
    );
  }
  if (plain.digest !== manifest.object.plaintextSha256 || plain.bytes !== manifest.object.plaintextBytes) {
    throw new SnapshotIntegrityError(
      `decrypted snapshot has sha256 ${plain.digest} (${plain.bytes} bytes), the manifest says ${manifest.object.plaintextSha256} (${manifest.object.plaintextBytes} bytes)`,
    );
  }
  return { plaintextBytes: plain.bytes, plaintextSha256: plain.digest, keyId: decrypt.keyId ?? manifest.encryption.keyId };
}
