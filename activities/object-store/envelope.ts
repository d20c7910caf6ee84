// Client-side encryption of etcd snapshots on their way to and from the object store, as a stream, so a
// multi-GiB snapshot never sits in memory. The format is the STREAM construction (Hoang, Reyhanitabar,
// Rogaway, Vizár), as age and Tink's streaming AEAD use it, over AES-256-GCM:
//
//   header = "LBSNAP" | version (1 byte) | key-id length (1 byte) | key id (1..64 bytes of
//            [A-Za-z0-9._-]) | chunk size (uint32 BE) | nonce prefix (7 random bytes)
//            and, in version 2 only: | cluster length (1 byte) | cluster | snapshot-id length (1 byte) |
//            snapshot id (each 1..255 bytes of [A-Za-z0-9._-])
//   body   = one record per chunk of `chunk size` plaintext bytes (the last may be shorter, and is empty
//            only when the whole input is): ciphertext || 16-byte GCM tag
//   nonce  = nonce prefix | chunk index (uint32 BE) | 0x01 on the final chunk, else 0x00
//   AAD    = the whole header, for every chunk
//
// The index in the nonce catches reordered or dropped chunks, the final flag catches truncation at a chunk
// boundary, and the header as AAD catches edits to the key id or chunk size. Version 2 (what is written)
// also binds the snapshot to its cluster and snapshot id: a snapshot copied under another id or cluster is
// refused before any byte is decrypted (the header names what it is), and editing those header fields to
// match fails authentication. Version 1 (written before) stays readable; it binds neither.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Defaults for {@link createEncryptStream} and {@link encryptedSize}. */
export const envelopeDefaults = {
  /** Plaintext bytes per authenticated chunk: 64 KiB, as age uses. */
  chunkSize: 65536,
} as const;

/** Returns the 32-byte AES-256 key for a key id, or `undefined` when that id is not configured. */
export type KeyLookup = (keyId: string) => Buffer | undefined;

/** Why a snapshot could not be decrypted. */
export type EnvelopeErrorReason =
  /** Not a Lifeboat encrypted snapshot, an unsupported format version, or a corrupt header. */
  | 'bad-header'
  /** The header names a key id the lookup does not know. */
  | 'unknown-key'
  /** A chunk failed GCM authentication: wrong key, or modified, reordered or spliced data. */
  | 'authentication-failed'
  /** The stream ended before the final chunk. */
  | 'truncated'
  /** Data follows the final chunk. */
  | 'trailing-data'
  /** A version 2 snapshot written for another cluster or snapshot id than the one being read: copied or swapped. */
  | 'wrong-snapshot';

/** A snapshot that cannot be decrypted; `reason` says why, the message says where. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';

  constructor(
    readonly reason: EnvelopeErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Which snapshot an envelope belongs to: written into a version 2 header and authenticated with every
 * chunk. Each is 1 to 255 characters of `A-Z a-z 0-9 . _ -` (cluster names are DNS labels; snapshot ids
 * are `<time>-<run id tail>`).
 */
export interface SnapshotBinding {
  cluster: string;
  snapshotId: string;
}

/** Options for {@link createEncryptStream}. */
export interface EncryptStreamOptions {
  /** The 32-byte AES-256 key. Required. */
  key: Buffer;
  /**
   * Written in the clear in the header so decryption can find the key after rotation: 1 to 64 characters
   * of `A-Z a-z 0-9 . _ -`. Required.
   */
  keyId: string;
  /** The cluster and snapshot id the output is for; decryption refuses it under any other. Required. */
  binding: SnapshotBinding;
  /**
   * Plaintext bytes per authenticated chunk, 1 to 16 MiB. Memory use is about two chunks.
   * @default envelopeDefaults.chunkSize (65536)
   */
  chunkSize?: number;
}

/** Options for {@link createDecryptStream}. */
export interface DecryptStreamOptions {
  /** Finds the key for the key id in the snapshot's header. Required. */
  lookupKey: KeyLookup;
  /**
   * The cluster and snapshot id the caller reads this snapshot as (where it was found, not what the
   * snapshot says). A version 2 snapshot bound to anything else fails with reason `wrong-snapshot`; a
   * version 1 snapshot binds nothing, so `formatVersion` tells the caller it could not be checked. Required.
   */
  expected: SnapshotBinding;
  /**
   * The key ids the lookup knows, only to name them when a snapshot's key id is not among them.
   * @default undefined (the message then names only the snapshot's key id)
   */
  configuredKeyIds?: string[];
}

const magic = Buffer.from('LBSNAP', 'latin1');
/** What is written. */
const formatVersion = 2;
/** What is read. */
const readableVersions = [1, 2];
const keyLength = 32;
const tagLength = 16;
const noncePrefixLength = 7;
const nonceLength = noncePrefixLength + 4 + 1;
const maxKeyIdLength = 64;
const keyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
const keyIdRule = '1 to 64 characters of A-Z a-z 0-9 . _ -';
/** magic + version + key-id length: enough to know the version 1 header's full length. */
const headerPrefixLength = magic.length + 2;
/** The version 1 header without its key id; in version 2, where the binding starts (after the key id). */
const fixedHeaderLength = headerPrefixLength + 4 + noncePrefixLength;
const bindingPattern = /^[A-Za-z0-9._-]{1,255}$/;
const bindingRule = '1 to 255 characters of A-Z a-z 0-9 . _ -';
const maxHeaderLength = fixedHeaderLength + maxKeyIdLength + 2 * (1 + 255);
// The header is authenticated only by the first chunk, which the decryptor reads using the header's chunk
// size; capping it stops a corrupt header from making the decryptor buffer gigabytes before it finds out.
const maxChunkSize = 16 * 1024 * 1024;
/** The index is a uint32; the format allows at most 2^32 - 1 chunks. */
const maxChunks = 0xffff_ffff;

/**
 * Encrypts a byte stream into the format above. Emits the header at once, then one record per chunk; it
 * holds back one chunk until it knows whether more input follows, since the final chunk's nonce differs.
 * Empty input yields the header and one empty final chunk. Throws if the key is not 32 bytes, the key id is
 * not {@link EncryptStreamOptions.keyId | valid}, or the chunk size is out of range.
 */
export function createEncryptStream(options: EncryptStreamOptions): Transform {
  return new SnapshotEncryptStream(options);
}

/**
 * Decrypts the format above. Reads the header, finds the key with `lookupKey`, then releases each chunk's
 * plaintext only once that chunk has authenticated. Fails with an {@link EnvelopeError} on any tampering,
 * truncation, reordering, trailing data or wrong key; because earlier chunks are already released by
 * then, only a stream that finishes without error is the whole snapshot (write to a temporary file and
 * rename it on success). `keyId` and `formatVersion` are set once the header has been read.
 */
export function createDecryptStream(
  options: DecryptStreamOptions,
): Transform & { readonly keyId?: string; readonly formatVersion?: number } {
  return new SnapshotDecryptStream(options);
}

/**
 * The exact size of the encrypted output for `plaintextBytes` of input (for a Content-Length, or to check
 * an object's size before downloading it).
 * @param chunkSize default {@link envelopeDefaults}.chunkSize (65536)
 */
export function encryptedSize(
  plaintextBytes: number,
  keyId: string,
  binding: SnapshotBinding,
  chunkSize: number = envelopeDefaults.chunkSize,
): number {
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
    throw new Error(`plaintext size must be a non-negative integer number of bytes, got ${plaintextBytes}`);
  }
  assertKeyId(keyId);
  assertBinding(binding);
  assertChunkSize(chunkSize);
  const chunks = Math.max(1, Math.ceil(plaintextBytes / chunkSize));
  if (chunks > maxChunks) throw tooManyChunksError(chunkSize);
  return encodeHeader(keyId, chunkSize, Buffer.alloc(noncePrefixLength), binding).length + plaintextBytes + chunks * tagLength;
}

/**
 * Parses a 32-byte AES-256 key written as base64 (44 characters, or 43 without padding; URL-safe
 * alphabet accepted) or as 64 hex digits. Surrounding whitespace, such as a file's trailing newline, is
 * ignored. Throws an Error naming `source` (a file path, an environment variable) and what was expected;
 * the message never contains the key material.
 */
export function parseKey(material: string, source: string): Buffer {
  const text = material.trim();
  const expected = `expected a ${keyLength}-byte AES-256 key as base64 (44 characters) or hex (64 characters)`;
  if (text.length === 0) throw new Error(`${source}: ${expected}; found nothing (empty)`);
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) {
    if (text.length === keyLength * 2) return Buffer.from(text, 'hex');
    throw new Error(`${source}: ${expected}; found ${text.length} hex characters (${text.length / 2} bytes)`);
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === keyLength) return key;
    throw new Error(`${source}: ${expected}; found ${text.length} base64 characters (${key.length} bytes)`);
  }
  throw new Error(`${source}: ${expected}; found ${text.length} characters that are neither base64 nor hex`);
}

function assertKeyId(keyId: string): void {
  if (!keyIdPattern.test(keyId)) throw new Error(`key id ${JSON.stringify(keyId)} is not valid: use ${keyIdRule}`);
}

function assertBinding(binding: SnapshotBinding): void {
  for (const field of ['cluster', 'snapshotId'] as const) {
    if (!bindingPattern.test(binding[field] ?? ''))
      throw new Error(`${field} ${JSON.stringify(binding[field])} cannot be bound to a snapshot: use ${bindingRule}`);
  }
}

/** The version 2 header (the module comment's layout). */
function encodeHeader(keyId: string, chunkSize: number, noncePrefix: Buffer, binding: SnapshotBinding): Buffer {
  const keyIdBytes = Buffer.from(keyId, 'utf8');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(chunkSize);
  const field = (text: string) => Buffer.concat([Buffer.of(Buffer.byteLength(text)), Buffer.from(text, 'utf8')]);
  return Buffer.concat([
    magic,
    Buffer.of(formatVersion, keyIdBytes.length),
    keyIdBytes,
    size,
    noncePrefix,
    field(binding.cluster),
    field(binding.snapshotId),
  ]);
}

/**
 * How many bytes the header has in all, as far as its first `have` bytes tell: each length field read
 * makes the answer grow, until it equals `have` (the header is complete). Needs `have` >= the prefix.
 */
function headerLengthSoFar(header: Buffer, have: number): number {
  const v1Length = fixedHeaderLength + header[headerPrefixLength - 1]!;
  if (header[magic.length] === 1) return v1Length;
  if (have < v1Length + 1) return v1Length + 1;
  const snapshotIdLengthAt = v1Length + 1 + header[v1Length]!;
  if (have < snapshotIdLengthAt + 1) return snapshotIdLengthAt + 1;
  return snapshotIdLengthAt + 1 + header[snapshotIdLengthAt]!;
}

function assertChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > maxChunkSize) {
    throw new Error(`chunk size must be an integer from 1 to ${maxChunkSize} bytes, got ${chunkSize}`);
  }
}

function tooManyChunksError(chunkSize: number): Error {
  return new Error(`snapshot is too large for chunk size ${chunkSize}: the format allows at most ${maxChunks} chunks`);
}

function chunkNonce(noncePrefix: Buffer, index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(nonceLength);
  noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, noncePrefixLength);
  nonce[nonceLength - 1] = final ? 0x01 : 0x00;
  return nonce;
}

/**
 * Cuts a byte stream into fixed-size records and hands each one on only once a byte after it has arrived,
 * so the last record (full, short or empty) is left for {@link end}. Records wholly inside one write are
 * slices of it; only records that straddle writes are copied, into one reused staging buffer.
 */
class HoldBackChunker {
  readonly #recordSize: number;
  readonly #staging: Buffer;
  #stagedBytes = 0;
  #held: Buffer | undefined;

  constructor(recordSize: number) {
    this.#recordSize = recordSize;
    this.#staging = Buffer.allocUnsafe(recordSize);
  }

  /** `emit` runs synchronously and must be done with the record when it returns: staging is reused. */
  write(data: Buffer, emit: (record: Buffer) => void): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#held) {
        const record = this.#held;
        this.#held = undefined;
        emit(record);
      }
      const remaining = data.length - offset;
      if (this.#stagedBytes === 0 && remaining >= this.#recordSize) {
        this.#held = data.subarray(offset, offset + this.#recordSize);
        offset += this.#recordSize;
      } else {
        const n = Math.min(this.#recordSize - this.#stagedBytes, remaining);
        data.copy(this.#staging, this.#stagedBytes, offset, offset + n);
        this.#stagedBytes += n;
        offset += n;
        if (this.#stagedBytes === this.#recordSize) {
          this.#held = this.#staging;
          this.#stagedBytes = 0;
        }
      }
    }
  }

  /** The last record, once input has ended. */
  end(): Buffer {
    return this.#held ?? this.#staging.subarray(0, this.#stagedBytes);
  }
}

class SnapshotEncryptStream extends Transform {
  readonly #key: Buffer;
  readonly #header: Buffer;
  readonly #noncePrefix: Buffer;
  readonly #chunkSize: number;
  readonly #chunks: HoldBackChunker;
  #chunkIndex = 0;

  constructor({ key, keyId, binding, chunkSize = envelopeDefaults.chunkSize }: EncryptStreamOptions) {
    super();
    if (key.length !== keyLength) {
      throw new Error(`encryption key for key id ${JSON.stringify(keyId)} is ${key.length} bytes; AES-256 needs ${keyLength}`);
    }
    assertKeyId(keyId);
    assertBinding(binding);
    assertChunkSize(chunkSize);
    this.#key = Buffer.from(key);
    this.#chunkSize = chunkSize;
    this.#noncePrefix = randomBytes(noncePrefixLength);
    this.#header = encodeHeader(keyId, chunkSize, this.#noncePrefix, binding);
    this.#chunks = new HoldBackChunker(chunkSize);
    this.push(this.#header);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#chunks.write(data, (chunk) => this.#seal(chunk, false));
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#seal(this.#chunks.end(), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  #seal(plaintext: Buffer, final: boolean): void {
    if (this.#chunkIndex >= maxChunks) throw tooManyChunksError(this.#chunkSize);
    const cipher = createCipheriv('aes-256-gcm', this.#key, chunkNonce(this.#noncePrefix, this.#chunkIndex, final), {
      authTagLength: tagLength,
    });
    cipher.setAAD(this.#header);
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    this.push(ciphertext);
    this.push(cipher.getAuthTag());
    this.#chunkIndex += 1;
  }
}

interface ParsedHeader {
  bytes: Buffer;
  version: number;
  keyId: string;
  key: Buffer;
  chunkSize: number;
  noncePrefix: Buffer;
}

class SnapshotDecryptStream extends Transform {
  readonly #lookupKey: KeyLookup;
  readonly #configuredKeyIds: string[] | undefined;
  readonly #expected: SnapshotBinding;
  readonly #headerBuffer = Buffer.alloc(maxHeaderLength);
  #headerBytes = 0;
  /** Set once the header, and so the chunk size, is known. */
  #body: { header: ParsedHeader; records: HoldBackChunker } | undefined;
  #chunkIndex = 0;

  constructor({ lookupKey, expected, configuredKeyIds }: DecryptStreamOptions) {
    super();
    assertBinding(expected);
    this.#lookupKey = lookupKey;
    this.#expected = expected;
    this.#configuredKeyIds = configuredKeyIds;
  }

  /** The key id from the snapshot's header, once the header has been read. */
  get keyId(): string | undefined {
    return this.#body?.header.keyId;
  }

  /** The snapshot's format version, once the header has been read: 1 binds no cluster or snapshot id. */
  get formatVersion(): number | undefined {
    return this.#body?.header.version;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const rest = this.#body ? data : this.#readHeader(data);
      const body = this.#body;
      if (body) body.records.write(rest, (record) => this.#openNonFinal(body.header, record));
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#openLast();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** Consumes header bytes from `data`; returns what follows the header (empty while it is incomplete). */
  #readHeader(data: Buffer): Buffer {
    let offset = 0;
    while (!this.#body && offset < data.length) {
      const wanted = this.#headerBytes < headerPrefixLength ? headerPrefixLength : this.#headerLength();
      const n = Math.min(wanted - this.#headerBytes, data.length - offset);
      data.copy(this.#headerBuffer, this.#headerBytes, offset, offset + n);
      this.#headerBytes += n;
      offset += n;
      this.#checkHeaderPrefix();
      if (this.#headerBytes > headerPrefixLength && this.#headerBytes === this.#headerLength()) this.#parseHeader();
    }
    return data.subarray(offset);
  }

  #headerLength(): number {
    return headerLengthSoFar(this.#headerBuffer, this.#headerBytes);
  }

  /** Fails as soon as the bytes so far cannot start a snapshot, rather than at the end of the header. */
  #checkHeaderPrefix(): void {
    const seen = Math.min(this.#headerBytes, magic.length);
    if (!this.#headerBuffer.subarray(0, seen).equals(magic.subarray(0, seen))) {
      throw new EnvelopeError(
        'bad-header',
        `not a Lifeboat encrypted snapshot: it does not start with "LBSNAP" ` +
          `(starts with 0x${this.#headerBuffer.subarray(0, seen).toString('hex')}); is it unencrypted, or from another tool?`,
      );
    }
    if (this.#headerBytes < headerPrefixLength) return;
    const version = this.#headerBuffer[magic.length]!;
    if (!readableVersions.includes(version)) {
      throw new EnvelopeError(
        'bad-header',
        `snapshot has format version ${version}; this Lifeboat reads versions ${readableVersions.join(' and ')}`,
      );
    }
    const keyIdLength = this.#headerBuffer[headerPrefixLength - 1]!;
    if (keyIdLength < 1 || keyIdLength > maxKeyIdLength) {
      throw new EnvelopeError('bad-header', `snapshot header is corrupt: key id length is ${keyIdLength}, must be 1 to ${maxKeyIdLength}`);
    }
    // Version 2's binding lengths, each as soon as it has arrived.
    const clusterLengthAt = fixedHeaderLength + keyIdLength;
    const snapshotIdLengthAt = clusterLengthAt + 1 + (this.#headerBuffer[clusterLengthAt] ?? 0);
    for (const [at, field] of [
      [clusterLengthAt, 'cluster'],
      [snapshotIdLengthAt, 'snapshot id'],
    ] as const) {
      if (version === 2 && this.#headerBytes > at && this.#headerBuffer[at] === 0)
        throw new EnvelopeError('bad-header', `snapshot header is corrupt: its ${field} is empty`);
    }
  }

  #parseHeader(): void {
    const bytes = Buffer.from(this.#headerBuffer.subarray(0, this.#headerLength()));
    const keyIdEnd = headerPrefixLength + bytes[headerPrefixLength - 1]!;
    const keyId = bytes.toString('utf8', headerPrefixLength, keyIdEnd);
    if (!keyIdPattern.test(keyId)) {
      throw new EnvelopeError('bad-header', `snapshot header is corrupt: key id ${JSON.stringify(keyId)} is not ${keyIdRule}`);
    }
    const chunkSize = bytes.readUInt32BE(keyIdEnd);
    if (chunkSize < 1 || chunkSize > maxChunkSize) {
      throw new EnvelopeError('bad-header', `snapshot header is corrupt: chunk size ${chunkSize} is not from 1 to ${maxChunkSize} bytes`);
    }
    if (bytes[magic.length] === 2) this.#checkBinding(bytes, keyIdEnd + 4 + noncePrefixLength);
    const key = this.#lookupKey(keyId);
    if (!key) {
      const configured = this.#configuredKeyIds ? ` (configured: ${this.#configuredKeyIds.join(', ') || 'none'})` : '';
      throw new EnvelopeError(
        'unknown-key',
        `snapshot was encrypted with key id ${JSON.stringify(keyId)}, which is not configured${configured}`,
      );
    }
    if (key.length !== keyLength) {
      throw new Error(`key configured for key id ${JSON.stringify(keyId)} is ${key.length} bytes; AES-256 needs ${keyLength}`);
    }
    const version = bytes[magic.length]!;
    const noncePrefix = bytes.subarray(keyIdEnd + 4, keyIdEnd + 4 + noncePrefixLength);
    this.#body = {
      header: { bytes, version, keyId, key, chunkSize, noncePrefix },
      records: new HoldBackChunker(chunkSize + tagLength),
    };
  }

  /**
   * Refuses a version 2 snapshot bound to another cluster or snapshot id than expected, before its key is
   * looked up. The header is not yet authenticated here; a header edited to match fails on chunk 0.
   */
  #checkBinding(bytes: Buffer, bindingAt: number): void {
    const clusterEnd = bindingAt + 1 + bytes[bindingAt]!;
    const bound = {
      cluster: bytes.toString('utf8', bindingAt + 1, clusterEnd),
      snapshotId: bytes.toString('utf8', clusterEnd + 1),
    };
    for (const field of ['cluster', 'snapshotId'] as const) {
      if (!bindingPattern.test(bound[field]))
        throw new EnvelopeError('bad-header', `snapshot header is corrupt: ${field} ${JSON.stringify(bound[field])} is not ${bindingRule}`);
    }
    if (bound.cluster !== this.#expected.cluster || bound.snapshotId !== this.#expected.snapshotId) {
      throw new EnvelopeError(
        'wrong-snapshot',
        `this object is snapshot ${bound.snapshotId} of cluster '${bound.cluster}', but it was read as snapshot ${this.#expected.snapshotId} of cluster '${this.#expected.cluster}': ` +
          'it was copied or moved under another name, and is refused',
      );
    }
  }

  /** A full record with more data after it: it must be a non-final chunk. */
  #openNonFinal(header: ParsedHeader, record: Buffer): void {
    this.#checkChunkCount();
    const plaintext = this.#open(header, record, false);
    if (!plaintext) {
      if (this.#open(header, record, true)) {
        throw new EnvelopeError(
          'trailing-data',
          `snapshot has data after its final chunk (chunk ${this.#chunkIndex}, ending at byte ${this.#recordEnd(header, record)}); ` +
            'was something appended to the file?',
        );
      }
      throw this.#authenticationError(header, record, '');
    }
    this.push(plaintext);
    this.#chunkIndex += 1;
  }

  #openLast(): void {
    if (!this.#body) {
      throw new EnvelopeError(
        'truncated',
        this.#headerBytes === 0
          ? 'snapshot is empty (0 bytes)'
          : `snapshot is truncated: stream ended after ${this.#headerBytes} bytes, inside the header`,
      );
    }
    const { header, records } = this.#body;
    const record = records.end();
    if (record.length === 0) throw this.#truncatedError();
    if (record.length < tagLength) {
      throw new EnvelopeError(
        'truncated',
        `snapshot is truncated: stream ended ${record.length} bytes into chunk ${this.#chunkIndex}, before its ${tagLength}-byte tag`,
      );
    }
    this.#checkChunkCount();
    const plaintext = this.#open(header, record, true);
    if (!plaintext) {
      const full = record.length === header.chunkSize + tagLength;
      if (full && this.#open(header, record, false)) {
        this.#chunkIndex += 1;
        throw this.#truncatedError();
      }
      throw this.#authenticationError(header, record, full ? '' : ' or cut short');
    }
    this.push(plaintext);
    this.#chunkIndex += 1;
  }

  #open(header: ParsedHeader, record: Buffer, final: boolean): Buffer | undefined {
    const decipher = createDecipheriv('aes-256-gcm', header.key, chunkNonce(header.noncePrefix, this.#chunkIndex, final), {
      authTagLength: tagLength,
    });
    decipher.setAAD(header.bytes);
    decipher.setAuthTag(record.subarray(record.length - tagLength));
    const plaintext = decipher.update(record.subarray(0, record.length - tagLength));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }

  #checkChunkCount(): void {
    if (this.#chunkIndex >= maxChunks) {
      throw new EnvelopeError(
        'trailing-data',
        `snapshot has more than ${maxChunks} chunks, the most the format allows; the rest is not part of it`,
      );
    }
  }

  #authenticationError(header: ParsedHeader, record: Buffer, alsoCutShort: string): EnvelopeError {
    const end = this.#recordEnd(header, record);
    const where = `chunk ${this.#chunkIndex} (bytes ${end - record.length} to ${end})`;
    const cause =
      this.#chunkIndex === 0
        ? `wrong key for key id ${JSON.stringify(header.keyId)}, or the data was modified${alsoCutShort}`
        : `the key is right (earlier chunks authenticated), so the data was modified${alsoCutShort}, or chunks were reordered`;
    return new EnvelopeError('authentication-failed', `authentication failed on ${where}: ${cause}`);
  }

  #truncatedError(): EnvelopeError {
    return new EnvelopeError(
      'truncated',
      this.#chunkIndex === 0
        ? 'snapshot is truncated: stream ended right after the header, before the first chunk'
        : `snapshot is truncated: stream ended after chunk ${this.#chunkIndex - 1} without the final chunk`,
    );
  }

  /** Byte offset in the encrypted stream where `record`, the current chunk, ends. */
  #recordEnd(header: ParsedHeader, record: Buffer): number {
    return header.bytes.length + this.#chunkIndex * (header.chunkSize + tagLength) + record.length;
  }
}
