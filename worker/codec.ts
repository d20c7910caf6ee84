// Workflow history encryption: a Temporal PayloadCodec that seals every payload (workflow and activity
// inputs and results, signals, updates, queries, heartbeats, failure messages) with AES-256-GCM before it
// leaves the process, so Temporal's database, its UI and anyone who reads the namespace see only key ids.
// The key is the keyring's 'history-payloads' subkey (worker/keys.ts); like snapshots, payloads are sealed
// with the current key and opened with whichever configured key their metadata names, so rotating
// `encryption.currentKeyId` leaves old histories readable while the old key stays configured.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { deriveKey, type KeyRing } from './keys.js';

/** The encoding Temporal's samples and tools use for encrypted payloads. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the keyring key the payload is sealed with. */
export const METADATA_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * Associated data: the format and the key id. A payload whose metadata is edited to name another key
 * fails authentication instead of being opened with a key it was not sealed with.
 */
const associatedData = (keyId: string) => utf8(`lifeboat history-payload v1\0${keyId}`);

/** A payload the codec cannot seal or open; the message says which key and why, never what is inside. */
export class HistoryPayloadError extends Error {
  override readonly name = 'HistoryPayloadError';
  constructor(
    readonly keyId: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class HistoryCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly keyRing: KeyRing) {}

  private key(keyId: string): Buffer | undefined {
    let key = this.keys.get(keyId);
    if (!key) {
      key = deriveKey(this.keyRing, 'history-payloads', keyId);
      if (key) this.keys.set(keyId, key);
    }
    return key;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyRing.currentKeyId;
    const key = this.key(keyId);
    if (!key) return Promise.reject(new HistoryPayloadError(keyId, `history encryption key '${keyId}' is not configured`));
    return Promise.resolve(
      payloads.map((payload) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        cipher.setAAD(associatedData(keyId));
        const sealed = Buffer.concat([cipher.update(proto.temporal.api.common.v1.Payload.encode(payload).finish()), cipher.final()]);
        return {
          metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [METADATA_KEY_ID]: utf8(keyId) },
          data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
        };
      }),
    );
  }

  /**
   * Opens sealed payloads; a payload that is not sealed (written before encryption was configured, or by
   * a client without it) passes through as it is.
   */
  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((payload) => this.open(payload)));
  }

  private open(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || Buffer.from(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[METADATA_KEY_ID];
    if (!idBytes) throw new HistoryPayloadError(undefined, `encrypted payload without '${METADATA_KEY_ID}' metadata`);
    const keyId = Buffer.from(idBytes).toString('utf8');
    const key = this.key(keyId);
    if (!key) {
      throw new HistoryPayloadError(
        keyId,
        `payload encrypted with key '${keyId}', which is not configured (configured: ${this.keyRing.ids.join(', ')}); add it to encryption.keys to read this history`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES) throw new HistoryPayloadError(keyId, `encrypted payload too short (${data.length} bytes)`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(associatedData(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new HistoryPayloadError(
        keyId,
        `encrypted payload (key '${keyId}') failed authentication: it was altered or sealed with another key`,
      );
    }
    return proto.temporal.api.common.v1.Payload.decode(plain);
  }
}
