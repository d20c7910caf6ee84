// Unit: the history codec seals payloads with the current key, opens them with any configured key,
// and refuses a payload that was altered, re-labelled with another key id, or sealed with a key that is
// not configured. Also: the data converter every client and worker uses. No lab needed.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ENCRYPTED_ENCODING, HistoryCodec, METADATA_KEY_ID } from '../../worker/codec.js';
import type { KeyRing } from '../../worker/keys.js';

const keyOld = randomBytes(32);
const keyNew = randomBytes(32);
const ring = (currentKeyId: string, keys: Record<string, Buffer>): KeyRing => ({
  currentKeyId,
  lookup: (id) => keys[id],
  ids: Object.keys(keys),
});

const marker = `marker-${randomBytes(6).toString('hex')}`;
const value = { reason: `drill ${marker}`, replicas: 3, nested: { host: 'db.internal' } };
const plain = () => defaultPayloadConverter.toPayload(value);
const text = (p: Payload) =>
  Buffer.concat([...Object.values(p.metadata ?? {}), p.data ?? new Uint8Array()].map((b) => Buffer.from(b))).toString('latin1');
const meta = (p: Payload, key: string) => Buffer.from(p.metadata![key]!).toString();

describe('HistoryCodec', () => {
  it('seals a payload (nothing of it readable, the key id in metadata) and opens it back to the same payload', async () => {
    const codec = new HistoryCodec(ring('k1', { k1: keyOld }));
    const [sealed] = await codec.encode([plain()]);
    expect(meta(sealed!, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(meta(sealed!, METADATA_KEY_ID)).toBe('k1');
    expect(text(sealed!)).not.toContain(marker);
    expect(text(sealed!)).not.toContain('json/plain');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(value);
    // A fresh IV each time: equal values do not give equal ciphertexts.
    const [again] = await codec.encode([plain()]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
  });

  it('after rotation seals with the new key and still opens what the old key sealed', async () => {
    const [before] = await new HistoryCodec(ring('k1', { k1: keyOld })).encode([plain()]);
    const rotated = new HistoryCodec(ring('k2', { k1: keyOld, k2: keyNew }));
    const [after] = await rotated.encode([plain()]);
    expect(meta(after!, METADATA_KEY_ID)).toBe('k2');
    const opened = await rotated.decode([before!, after!]);
    expect(opened.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([value, value]);
  });

  it('refuses a payload sealed with a key that is not configured, naming the key', async () => {
    const [sealed] = await new HistoryCodec(ring('k1', { k1: keyOld })).encode([plain()]);
    await expect(new HistoryCodec(ring('k2', { k2: keyNew })).decode([sealed!])).rejects.toThrow(
      "payload encrypted with key 'k1', which is not configured (configured: k2); add it to encryption.keys to read this history",
    );
  });

  it('refuses an altered payload, and one whose metadata names another configured key', async () => {
    const codec = new HistoryCodec(ring('k1', { k1: keyOld, k2: keyNew }));
    const [sealed] = await codec.encode([plain()]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(
      "encrypted payload (key 'k1') failed authentication: it was altered or sealed with another key",
    );
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [METADATA_KEY_ID]: Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow("encrypted payload (key 'k2') failed authentication");
    await expect(codec.decode([{ ...sealed!, data: Buffer.from(sealed!.data!).subarray(0, 10) }])).rejects.toThrow(
      'encrypted payload too short (10 bytes)',
    );
  });

  it('passes a payload that was never sealed through as it is (history from before encryption)', async () => {
    const codec = new HistoryCodec(ring('k1', { k1: keyOld }));
    const [opened] = await codec.decode([plain()]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(value);
  });
});
