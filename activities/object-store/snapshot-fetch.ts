// Streams a stored snapshot back: download, check the stored sha256, decrypt (authenticating every
// chunk), check the plaintext sha256 against the manifest. The destination gets plaintext; the caller
// decides where that may live (restore verification writes it to a scratch directory only).
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { createDecryptStream } from './envelope.js';
import { Sha256Tap } from '../etcd/snapshot-stream.js';
import type { SnapshotManifest } from '../../model/snapshot-layout.js';
import type { KeyRing } from '../../worker/keys.js';

export class SnapshotIntegrityError extends Error {
  override readonly name = 'SnapshotIntegrityError';
}

export interface FetchedSnapshot {
  plaintextBytes: number;
  plaintextSha256: string;
  keyId: string;
}

export async function fetchSnapshot(options: {
  s3: S3Client;
  bucket: string;
  manifest: SnapshotManifest;
  keyRing: KeyRing;
  destination: Writable;
  signal?: AbortSignal;
}): Promise<FetchedSnapshot> {
  const { manifest } = options;
  const got = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: manifest.object.objectKey }), {
    abortSignal: options.signal,
  });
  const stored = new Sha256Tap();
  const plain = new Sha256Tap();
  const decrypt = createDecryptStream({ lookupKey: options.keyRing.lookup, configuredKeyIds: options.keyRing.ids });
  await pipeline(got.Body as Readable, stored, decrypt, plain, options.destination, { signal: options.signal });
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
