// Streaming snapshot encryption: pure node:crypto, needs no lab component.
import { describe, expect, it } from '@jest/globals';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import {
  createDecryptStream,
  createEncryptStream,
  encryptedSize,
  envelopeDefaults,
  EnvelopeError,
  type EnvelopeErrorReason,
  parseKey,
} from '../../../activities/object-store/envelope.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const keys = new Map([
  ['k1', k1],
  ['k2', k2],
]);
const lookupKey = (id: string) => keys.get(id);
const chunkSize = 1024;
const record = chunkSize + 16;
const binding = { cluster: 'primary', snapshotId: '20261207T041000Z-0123456789ab' };
/** "LBSNAP" + version + key-id length + "k1" + chunk size + nonce prefix + cluster and snapshot id, each with its length */
const headerLength = 6 + 1 + 1 + 2 + 4 + 7 + 1 + binding.cluster.length + 1 + binding.snapshotId.length;

/** Deterministic write sizes, so a failure reproduces. */
function* splitSizes(seed: number, max: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    yield 1 + (state % max);
  }
}

function split(data: Buffer, sizes: Iterator<number>): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length;) {
    const n = sizes.next().value as number;
    pieces.push(data.subarray(offset, offset + n));
    offset += n;
  }
  return pieces;
}

async function run(pieces: Buffer[], transform: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), transform, async (stream: AsyncIterable<Buffer>) => {
    for await (const piece of stream) out.push(piece);
  });
  return Buffer.concat(out);
}

const encrypt = (plaintext: Buffer, options: { key?: Buffer; keyId?: string; chunkSize?: number } = {}, pieces = [plaintext]) =>
  run(
    pieces,
    createEncryptStream({ key: options.key ?? k1, keyId: options.keyId ?? 'k1', binding, chunkSize: options.chunkSize ?? chunkSize }),
  );

const decrypt = (ciphertext: Buffer, lookup = lookupKey, pieces = [ciphertext]) =>
  run(pieces, createDecryptStream({ lookupKey: lookup, expected: binding, configuredKeyIds: [...keys.keys()] }));

async function decryptFailure(ciphertext: Buffer, lookup = lookupKey): Promise<EnvelopeError> {
  try {
    await decrypt(ciphertext, lookup);
  } catch (err) {
    expect(err).toBeInstanceOf(EnvelopeError);
    return err as EnvelopeError;
  }
  throw new Error('decryption succeeded but should have failed');
}

async function expectFailure(ciphertext: Buffer, reason: EnvelopeErrorReason, message?: string | RegExp): Promise<void> {
  const err = await decryptFailure(ciphertext);
  expect({ reason: err.reason, name: err.name }).toEqual({ reason, name: 'EnvelopeError' });
  if (message !== undefined) expect(err.message).toMatch(message);
}

const flip = (data: Buffer, at: number, mask = 0x01) => {
  const copy = Buffer.from(data);
  copy[at]! ^= mask;
  return copy;
};

/** The records of a "k1" ciphertext with `chunkSize`. */
const records = (ciphertext: Buffer) => {
  const out: Buffer[] = [];
  for (let at = headerLength; at < ciphertext.length; at += record) out.push(ciphertext.subarray(at, at + record));
  return out;
};

describe('round trip', () => {
  for (const size of [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize]) {
    it(`${size} bytes, written whole and byte by byte`, async () => {
      const plaintext = randomBytes(size);
      const ciphertext = await encrypt(plaintext);
      expect(ciphertext.length).toBe(encryptedSize(size, 'k1', binding, chunkSize));
      expect(ciphertext.length).toBe(headerLength + size + 16 * Math.max(1, Math.ceil(size / chunkSize)));
      expect(await decrypt(ciphertext)).toEqual(plaintext);

      const bytes = (b: Buffer) => [...b].map((byte) => Buffer.of(byte));
      expect(await encrypt(plaintext, {}, bytes(plaintext))).toHaveLength(ciphertext.length);
      expect(await decrypt(ciphertext, lookupKey, bytes(ciphertext))).toEqual(plaintext);
    });
  }

  it('~5 MiB in random-sized writes, encrypted and decrypted', async () => {
    const plaintext = randomBytes(5 * 1024 * 1024 + 333);
    const ciphertext = await encrypt(plaintext, {}, split(plaintext, splitSizes(1, 5 * chunkSize)));
    expect(ciphertext.length).toBe(encryptedSize(plaintext.length, 'k1', binding, chunkSize));
    expect(ciphertext.includes(plaintext.subarray(0, 64))).toBe(false);
    const decrypted = await decrypt(ciphertext, lookupKey, split(ciphertext, splitSizes(2, 3 * record)));
    expect(decrypted.equals(plaintext)).toBe(true);
  });

  it('writes much larger than a chunk, mixed with tiny ones', async () => {
    const plaintext = randomBytes(40 * chunkSize + 7);
    const pieces = [
      plaintext.subarray(0, 3),
      plaintext.subarray(3, 20 * chunkSize + 5),
      plaintext.subarray(20 * chunkSize + 5, 20 * chunkSize + 6),
      plaintext.subarray(20 * chunkSize + 6),
    ];
    const ciphertext = await encrypt(plaintext, {}, pieces);
    expect(ciphertext.length).toBe(encryptedSize(plaintext.length, 'k1', binding, chunkSize));
    expect(await decrypt(ciphertext, lookupKey, [ciphertext.subarray(0, 5), ciphertext.subarray(5)])).toEqual(plaintext);
  });

  it('any size and any write boundaries (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        async (size, chunk, seed) => {
          const plaintext = randomBytes(size);
          const ciphertext = await encrypt(plaintext, { chunkSize: chunk }, split(plaintext, splitSizes(seed, 2 * chunk + 3)));
          expect(ciphertext.length).toBe(encryptedSize(size, 'k1', binding, chunk));
          expect(await decrypt(ciphertext, lookupKey, split(ciphertext, splitSizes(seed + 1, 2 * chunk + 40)))).toEqual(plaintext);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('uses 64 KiB chunks by default', async () => {
    expect(envelopeDefaults.chunkSize).toBe(65536);
    const plaintext = randomBytes(200_000);
    const ciphertext = await run([plaintext], createEncryptStream({ key: k1, keyId: 'k1', binding }));
    expect(ciphertext.readUInt32BE(10)).toBe(65536);
    expect(ciphertext.length).toBe(encryptedSize(200_000, 'k1', binding));
    expect(ciphertext.length).toBe(headerLength + 200_000 + 4 * 16);
    expect(await decrypt(ciphertext)).toEqual(plaintext);
  });
});

describe('format', () => {
  it('is the documented header and STREAM chunks, readable with plain AES-256-GCM', async () => {
    const plaintext = randomBytes(chunkSize + 10);
    const ciphertext = await encrypt(plaintext);
    const header = ciphertext.subarray(0, headerLength);
    expect(header.subarray(0, 6).toString('latin1')).toBe('LBSNAP');
    expect([header[6], header[7]]).toEqual([2, 2]);
    expect(header.subarray(8, 10).toString('utf8')).toBe('k1');
    expect(header.readUInt32BE(10)).toBe(chunkSize);
    expect(header[21]).toBe(binding.cluster.length);
    expect(header.subarray(22, 22 + binding.cluster.length).toString('utf8')).toBe('primary');
    expect(header[29]).toBe(binding.snapshotId.length);
    expect(header.subarray(30).toString('utf8')).toBe(binding.snapshotId);
    const noncePrefix = header.subarray(14, 21);

    const open = (index: number, flag: number, sealed: Buffer) => {
      const nonce = Buffer.concat([noncePrefix, Buffer.alloc(4), Buffer.of(flag)]);
      nonce.writeUInt32BE(index, 7);
      const decipher = createDecipheriv('aes-256-gcm', k1, nonce, { authTagLength: 16 });
      decipher.setAAD(header);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    };
    const [first, last] = records(ciphertext);
    expect(open(0, 0x00, first!)).toEqual(plaintext.subarray(0, chunkSize));
    expect(open(1, 0x01, last!)).toEqual(plaintext.subarray(chunkSize));
    // The last chunk's flag is part of its nonce: opened as a middle chunk, it does not authenticate.
    expect(() => open(1, 0x00, last!)).toThrow('Unsupported state or unable to authenticate data');
  });

  it('two encryptions of the same plaintext differ (random nonce prefix)', async () => {
    const plaintext = randomBytes(3000);
    const [a, b] = await Promise.all([encrypt(plaintext), encrypt(plaintext)]);
    expect(a.subarray(0, 14)).toEqual(b.subarray(0, 14));
    expect(a.subarray(14, 21).equals(b.subarray(14, 21))).toBe(false);
    expect(a.subarray(headerLength, headerLength + 32).equals(b.subarray(headerLength, headerLength + 32))).toBe(false);
  });
});

describe('streaming with bounded memory', () => {
  /** Bytes the stream has produced so far: consumed, plus buffered on its readable side. */
  const produced = (stream: Transform) => {
    let consumed = 0;
    stream.on('data', (piece: Buffer) => (consumed += piece.length));
    return () => consumed + stream.readableLength;
  };
  /** Resolves once the stream has processed every write so far. */
  const written = (stream: Transform, data: Buffer) =>
    new Promise<void>((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve())));

  it('the encryptor emits every chunk but the last before the input ends', async () => {
    const encryptor = createEncryptStream({ key: k1, keyId: 'k1', binding, chunkSize });
    const output = produced(encryptor);
    await written(encryptor, randomBytes(10 * chunkSize));
    expect(output()).toBe(headerLength + 9 * record);
    for (let i = 0; i < chunkSize - 1; i++) encryptor.write(Buffer.of(i & 0xff));
    await written(encryptor, Buffer.of(0));
    expect(output()).toBe(headerLength + 10 * record);
    await written(encryptor, Buffer.of(0));
    expect(output()).toBe(headerLength + 11 * record);
    encryptor.destroy();
  });

  it('the decryptor releases each chunk once it authenticates, and knows the key id after the header', async () => {
    const plaintext = randomBytes(5 * chunkSize);
    const ciphertext = await encrypt(plaintext);
    const decryptor = createDecryptStream({ lookupKey, expected: binding });
    const output = produced(decryptor);
    await written(decryptor, ciphertext.subarray(0, headerLength - 1));
    expect(decryptor.keyId).toBeUndefined();
    await written(decryptor, ciphertext.subarray(headerLength - 1, headerLength + 3 * record + 1));
    expect(decryptor.keyId).toBe('k1');
    expect(output()).toBe(3 * chunkSize);
    decryptor.destroy();
  });
});

describe('tampering', () => {
  it('a flipped byte anywhere in the body fails authentication', async () => {
    const small = 64;
    const ciphertext = await encrypt(randomBytes(3 * small + 20), { chunkSize: small });
    for (let at = headerLength; at < ciphertext.length; at++) {
      const err = await decryptFailure(flip(ciphertext, at));
      expect(err.reason).toBe('authentication-failed');
      expect(err.message).toContain(`chunk ${Math.floor((at - headerLength) / (small + 16))} `);
    }
  });

  it('reports the chunk, and says the key is right once earlier chunks authenticated', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize + 100));
    await expectFailure(
      flip(ciphertext, headerLength + 2 * record + 5),
      'authentication-failed',
      `authentication failed on chunk 2 (bytes ${headerLength + 2 * record} to ${headerLength + 3 * record}): the key is right`,
    );
  });

  describe('a changed header fails', () => {
    let ciphertext: Buffer;
    const cases: [string, (c: Buffer) => Buffer, EnvelopeErrorReason, RegExp][] = [
      ['magic', (c) => flip(c, 2), 'bad-header', /not a Lifeboat encrypted snapshot/],
      ['format version', (c) => flip(c, 6, 0x04), 'bad-header', /format version 6; this Lifeboat reads versions 1 and 2/],
      ['format version, down to 1 (no binding)', (c) => flip(c, 6, 0x03), 'authentication-failed', /chunk 0/],
      ['cluster length, to 0', (c) => flip(c, 21, 0x07), 'bad-header', /its cluster is empty/],
      [
        'cluster, to another valid name',
        (c) => flip(c, 22, 0x02),
        'wrong-snapshot',
        /snapshot 20261207T041000Z-0123456789ab of cluster 'rrimary'/,
      ],
      ['key id length', (c) => flip(c, 7, 0xff), 'bad-header', /key id length is 253/],
      ['key id, to a configured one', (c) => flip(c, 9, 0x03), 'authentication-failed', /chunk 0 .*wrong key for key id "k2"/],
      ['key id, to an unknown one', (c) => flip(c, 9, 0x01), 'unknown-key', /"k0"/],
      ['key id, to invalid characters', (c) => flip(c, 9, 0x10), 'bad-header', /key id "k!" is not/],
      ['chunk size, out of range', (c) => flip(c, 10, 0x01), 'bad-header', /chunk size 16778240 is not from 1 to 16777216/],
      ['chunk size, larger', (c) => flip(c, 11, 0x01), 'authentication-failed', /chunk 0 .*or cut short/],
      ['chunk size, in range', (c) => flip(c, 13, 0x01), 'authentication-failed', /chunk 0/],
      ...[14, 15, 16, 17, 18, 19, 20].map((at): [string, (c: Buffer) => Buffer, EnvelopeErrorReason, RegExp] => [
        `nonce prefix byte ${at - 14}`,
        (c) => flip(c, at),
        'authentication-failed',
        /chunk 0/,
      ]),
    ];
    for (const [field, change, reason, message] of cases) {
      it(`${field}: ${reason}`, async () => {
        ciphertext ??= await encrypt(randomBytes(2 * chunkSize + 9));
        await expectFailure(change(ciphertext), reason, message);
      });
    }

    it('key id, to one with the same key: only the header as AAD can catch it', async () => {
      const ciphertext = await encrypt(randomBytes(100));
      const sameKey = (id: string) => (id === 'k1' || id === 'k2' ? k1 : undefined);
      expect(await decrypt(ciphertext, sameKey)).toHaveLength(100);
      const err = await decryptFailure(flip(ciphertext, 9, 0x03), sameKey);
      expect(err.reason).toBe('authentication-failed');
    });
  });

  it('swapped chunks fail authentication', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize + 100));
    const [c0, c1, c2, c3] = records(ciphertext);
    const header = ciphertext.subarray(0, headerLength);
    await expectFailure(Buffer.concat([header, c1!, c0!, c2!, c3!]), 'authentication-failed', /chunk 0 /);
    await expectFailure(Buffer.concat([header, c0!, c2!, c1!, c3!]), 'authentication-failed', /chunk 1 .*reordered/);
  });

  it('a chunk spliced in from another snapshot under the same key fails authentication', async () => {
    const a = await encrypt(randomBytes(2 * chunkSize + 1));
    const b = await encrypt(randomBytes(2 * chunkSize + 1));
    const [a0, , a2] = records(a);
    const [, b1] = records(b);
    await expectFailure(Buffer.concat([a.subarray(0, headerLength), a0!, b1!, a2!]), 'authentication-failed', /chunk 1 /);
  });
});

describe('binding to a cluster and snapshot id (version 2)', () => {
  const decryptAs = (ciphertext: Buffer, expected: { cluster: string; snapshotId: string }) =>
    run([ciphertext], createDecryptStream({ lookupKey, expected }));

  it('a snapshot read under another snapshot id is refused before anything is decrypted', async () => {
    const ciphertext = await encrypt(randomBytes(3000));
    const err = await decryptAs(ciphertext, { ...binding, snapshotId: '20261208T000000Z-ffffffffffff' }).then(
      () => undefined,
      (e: unknown) => e as EnvelopeError,
    );
    expect(err).toBeInstanceOf(EnvelopeError);
    expect(err!.reason).toBe('wrong-snapshot');
    expect(err!.message).toBe(
      `this object is snapshot ${binding.snapshotId} of cluster 'primary', but it was read as snapshot 20261208T000000Z-ffffffffffff of cluster 'primary': it was copied or moved under another name, and is refused`,
    );
  });

  it('a snapshot read under another cluster is refused', async () => {
    const ciphertext = await encrypt(randomBytes(3000));
    await expect(decryptAs(ciphertext, { ...binding, cluster: 'standby' })).rejects.toMatchObject({
      reason: 'wrong-snapshot',
      message: expect.stringContaining("read as snapshot 20261207T041000Z-0123456789ab of cluster 'standby'"),
    });
  });

  it('a header rewritten to the expected id fails authentication: the binding is in the AAD', async () => {
    const other = { ...binding, snapshotId: '20261207T041000Z-0123456789ac' };
    const ciphertext = await encrypt(randomBytes(3000));
    // The last character of the id, the only difference, is the header's last byte.
    const rewritten = flip(ciphertext, headerLength - 1, 'b'.charCodeAt(0) ^ 'c'.charCodeAt(0));
    const err = await decryptAs(rewritten, other).then(
      () => undefined,
      (e: unknown) => e as EnvelopeError,
    );
    expect(err!.reason).toBe('authentication-failed');
    expect(err!.message).toMatch(/chunk 0 .*wrong key for key id "k1", or the data was modified/);
  });

  it('the decryptor reports the format version once the header is read', async () => {
    const decryptor = createDecryptStream({ lookupKey, expected: binding });
    expect(await run([await encrypt(randomBytes(10))], decryptor)).toHaveLength(10);
    expect(decryptor.formatVersion).toBe(2);
  });

  it('createEncryptStream and createDecryptStream refuse a binding that cannot be written', () => {
    for (const bad of [
      { cluster: '', snapshotId: 'x' },
      { cluster: 'a/b', snapshotId: 'x' },
      { cluster: 'a', snapshotId: 'x'.repeat(256) },
    ]) {
      expect(() => createEncryptStream({ key: k1, keyId: 'k1', binding: bad })).toThrow('cannot be bound to a snapshot');
      expect(() => createDecryptStream({ lookupKey, expected: bad })).toThrow('cannot be bound to a snapshot');
    }
  });
});

describe('version 1 (written before snapshots were bound)', () => {
  // Written by the version 1 encryptor (commit 22c1688): key 00..1f, key id legacy-1, 64-byte chunks,
  // plaintext bytes i % 251 for i in 0..199.
  const v1 = readFileSync(fileURLToPath(new URL('../../../../test/fixtures/envelope/v1-200-bytes.lbenc', import.meta.url)));
  const legacyKey = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  const plaintext = Buffer.from(Array.from({ length: 200 }, (_, i) => i % 251));
  const lookup = (id: string) => (id === 'legacy-1' ? legacyKey : undefined);

  it('still decrypts, under any expected binding, and says it is version 1', async () => {
    expect(v1[6]).toBe(1);
    for (const expected of [binding, { cluster: 'standby', snapshotId: 'anything' }]) {
      const decryptor = createDecryptStream({ lookupKey: lookup, expected });
      expect(await run([v1], decryptor)).toEqual(plaintext);
      expect(decryptor.formatVersion).toBe(1);
      expect(decryptor.keyId).toBe('legacy-1');
    }
  });

  it('still authenticates: a flipped byte fails', async () => {
    const err = await run([flip(v1, v1.length - 3)], createDecryptStream({ lookupKey: lookup, expected: binding })).then(
      () => undefined,
      (e: unknown) => e as EnvelopeError,
    );
    expect(err!.reason).toBe('authentication-failed');
  });
});

describe('truncation and trailing data', () => {
  it('truncation at every chunk boundary fails as truncated', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize + 100));
    await expectFailure(ciphertext.subarray(0, headerLength), 'truncated', 'stream ended right after the header, before the first chunk');
    for (const chunks of [1, 2, 3]) {
      await expectFailure(
        ciphertext.subarray(0, headerLength + chunks * record),
        'truncated',
        `snapshot is truncated: stream ended after chunk ${chunks - 1} without the final chunk`,
      );
    }
  });

  it('removing the final chunk fails as truncated, whether it was full or short', async () => {
    for (const size of [3 * chunkSize, 3 * chunkSize + 100]) {
      const ciphertext = await encrypt(randomBytes(size));
      const kept = records(ciphertext).slice(0, -1);
      const withoutFinal = Buffer.concat([ciphertext.subarray(0, headerLength), ...kept]);
      await expectFailure(withoutFinal, 'truncated', `stream ended after chunk ${kept.length - 1} without the final chunk`);
    }
  });

  it('truncation inside the header or a tag fails as truncated; inside the final chunk, as authentication', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize + 100));
    await expectFailure(Buffer.alloc(0), 'truncated', 'snapshot is empty');
    await expectFailure(ciphertext.subarray(0, 5), 'truncated', 'inside the header');
    await expectFailure(ciphertext.subarray(0, headerLength - 1), 'truncated', 'inside the header');
    await expectFailure(
      ciphertext.subarray(0, headerLength + record + 15),
      'truncated',
      'stream ended 15 bytes into chunk 1, before its 16-byte tag',
    );
    // A short final chunk has no length field: cut short, it looks modified.
    await expectFailure(ciphertext.subarray(0, ciphertext.length - 1), 'authentication-failed', 'chunk 3 ');
  });

  it('bytes after the final chunk fail as trailing data', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize));
    await expectFailure(Buffer.concat([ciphertext, Buffer.of(0)]), 'trailing-data', /after its final chunk \(chunk 2, ending at byte/);
    await expectFailure(Buffer.concat([ciphertext, ciphertext]), 'trailing-data');
    expect(await decrypt(ciphertext)).toHaveLength(3 * chunkSize);
  });

  it('bytes after a short final chunk blend into it and fail authentication', async () => {
    const ciphertext = await encrypt(randomBytes(3 * chunkSize + 100));
    await expectFailure(Buffer.concat([ciphertext, Buffer.of(0)]), 'authentication-failed', 'chunk 3 ');
  });

  it('data that is not a snapshot is a bad header', async () => {
    await expectFailure(Buffer.from('etcd snapshot, unencrypted'), 'bad-header', 'does not start with "LBSNAP"');
    await expectFailure(Buffer.from('LBX'), 'bad-header', 'not a Lifeboat encrypted snapshot');
  });
});

describe('keys', () => {
  it('a wrong key under the right id fails authentication on chunk 0', async () => {
    const ciphertext = await encrypt(randomBytes(5000));
    const err = await decryptFailure(ciphertext, (id) => (id === 'k1' ? k2 : undefined));
    expect(err.reason).toBe('authentication-failed');
    expect(err.message).toMatch(
      new RegExp(
        `^authentication failed on chunk 0 \\(bytes ${headerLength} to ${headerLength + record}\\): wrong key for key id "k1", or the data was modified$`,
      ),
    );
  });

  it('an unknown key id fails and names the configured ids', async () => {
    const ciphertext = await encrypt(randomBytes(10), { key: randomBytes(32), keyId: 'k0' });
    await expectFailure(
      ciphertext,
      'unknown-key',
      /^snapshot was encrypted with key id "k0", which is not configured \(configured: k1, k2\)$/,
    );
    const bare = createDecryptStream({ lookupKey, expected: binding });
    await expect(run([ciphertext], bare)).rejects.toMatchObject({
      reason: 'unknown-key',
      message: 'snapshot was encrypted with key id "k0", which is not configured',
    });
  });

  it('rotation: data under k1 and under k2 both decrypt with a lookup that knows both', async () => {
    const plaintext = randomBytes(2500);
    for (const [keyId, key] of keys) {
      const ciphertext = await encrypt(plaintext, { key, keyId });
      const decryptor = createDecryptStream({ lookupKey, expected: binding });
      expect(await run([ciphertext], decryptor)).toEqual(plaintext);
      expect(decryptor.keyId).toBe(keyId);
    }
    const underK2 = await encrypt(plaintext, { key: k2, keyId: 'k2' });
    expect((await decryptFailure(underK2, (id) => (id === 'k1' ? k1 : undefined))).reason).toBe('unknown-key');
  });

  it('a lookup that returns a key of the wrong length is a configuration error', async () => {
    const ciphertext = await encrypt(randomBytes(10));
    await expect(run([ciphertext], createDecryptStream({ lookupKey: () => randomBytes(16), expected: binding }))).rejects.toThrow(
      'key configured for key id "k1" is 16 bytes; AES-256 needs 32',
    );
  });

  it('createEncryptStream validates the key, key id and chunk size', () => {
    expect(() => createEncryptStream({ key: randomBytes(16), keyId: 'k1', binding })).toThrow(
      'encryption key for key id "k1" is 16 bytes; AES-256 needs 32',
    );
    for (const keyId of ['', 'a/b', 'ключ', 'x'.repeat(65)]) {
      expect(() => createEncryptStream({ key: k1, keyId, binding })).toThrow(
        `key id ${JSON.stringify(keyId)} is not valid: use 1 to 64 characters of A-Z a-z 0-9 . _ -`,
      );
    }
    expect(() => createEncryptStream({ key: k1, keyId: 'prod-2024.01_a'.padEnd(64, 'x'), binding })).not.toThrow();
    for (const size of [0, 1.5, 16 * 1024 * 1024 + 1]) {
      expect(() => createEncryptStream({ key: k1, keyId: 'k1', binding, chunkSize: size })).toThrow(
        `chunk size must be an integer from 1 to 16777216 bytes, got ${size}`,
      );
    }
    expect(() => encryptedSize(-1, 'k1', binding)).toThrow('non-negative integer');
    expect(() => encryptedSize(10, 'a b', binding)).toThrow('key id "a b" is not valid');
  });

  describe('parseKey', () => {
    const key = randomBytes(32);

    it('accepts base64 (padded, unpadded, URL-safe) and hex, ignoring surrounding whitespace', () => {
      expect(parseKey(key.toString('base64'), 'LIFEBOAT_KEY')).toEqual(key);
      expect(parseKey(`${key.toString('base64')}\n`, 'keys/k1')).toEqual(key);
      expect(parseKey(key.toString('base64').replace(/=+$/, ''), 'x')).toEqual(key);
      expect(parseKey(key.toString('base64url'), 'x')).toEqual(key);
      expect(parseKey(key.toString('hex'), 'x')).toEqual(key);
      expect(parseKey(` ${key.toString('hex').toUpperCase()}\n`, 'x')).toEqual(key);
    });

    it('rejects other lengths and other text, naming the source and never echoing the material', () => {
      const short = randomBytes(16);
      const cases: [string, string][] = [
        [short.toString('base64'), 'found 24 base64 characters (16 bytes)'],
        [short.toString('hex'), 'found 32 hex characters (16 bytes)'],
        [randomBytes(33).toString('base64'), 'found 44 base64 characters (33 bytes)'],
        ['not a key!', 'found 10 characters that are neither base64 nor hex'],
        [' \n', 'found nothing (empty)'],
      ];
      for (const [material, detail] of cases) {
        let message = '';
        try {
          parseKey(material, '/etc/lifeboat/keys/k1');
        } catch (err) {
          message = (err as Error).message;
        }
        expect(message).toBe(
          `/etc/lifeboat/keys/k1: expected a 32-byte AES-256 key as base64 (44 characters) or hex (64 characters); ${detail}`,
        );
        if (material.trim()) expect(message).not.toContain(material);
      }
    });
  });
});
