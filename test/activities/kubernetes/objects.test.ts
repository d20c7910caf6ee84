// Secret and ConfigMap data compared by keyed MAC (no lab): only whether it matched and which key names
// differ come out, never a digest of the data.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { compareData, dataCompareKey, keysText } from '../../../activities/kubernetes/objects.js';
import { deriveKey } from '../../../worker/keys.js';

const keyRing = (material: Buffer) => ({ currentKeyId: 'k1', ids: ['k1'], lookup: (id: string) => (id === 'k1' ? material : undefined) });

describe('compareData', () => {
  const key = dataCompareKey(keyRing(randomBytes(32)));
  const password = Buffer.from('hunter2').toString('base64');

  it('matches equal data in any key order, and says nothing else', () => {
    const result = compareData({ data: { password, user: 'YWRtaW4=' } }, { data: { user: 'YWRtaW4=', password } }, key);
    expect(result).toEqual({ same: true, differingKeys: [] });
  });

  it('names the keys that differ or exist on one side only, and carries no digest of the data', () => {
    const source = { data: { password, user: 'YWRtaW4=', gone: 'eA==' }, binaryData: { blob: 'AAE=' } };
    const restored = {
      data: { password: Buffer.from('hunter3').toString('base64'), user: 'YWRtaW4=', added: 'eQ==' },
      binaryData: { blob: 'AAE=' },
    };
    const result = compareData(source, restored, key);
    expect(result).toEqual({ same: false, differingKeys: ['added', 'gone', 'password'] });
    expect(keysText(result.differingKeys)).toBe('keys added, gone, password');
    const text = JSON.stringify(result);
    for (const digest of [source, restored].flatMap((o) => Object.values(o.data).map((v) => createHash('sha256').update(v).digest('hex'))))
      expect(text).not.toContain(digest.slice(0, 8));
    expect(text).not.toMatch(/\b(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/);
  });

  it('tells data from binaryData of the same name', () => {
    expect(compareData({ data: { a: 'eA==' } }, { binaryData: { a: 'eA==' } }, key)).toEqual({
      same: false,
      differingKeys: ['a', 'binaryData/a'],
    });
  });

  it("compares under the keyring's secret-compare key, or a key of this process when there is no keyring", () => {
    const material = randomBytes(32);
    expect(dataCompareKey(keyRing(material))).toEqual(deriveKey(keyRing(material), 'secret-compare'));
    expect(dataCompareKey(undefined)).toHaveLength(32);
    expect(dataCompareKey(undefined)).toEqual(dataCompareKey(undefined));
    expect(dataCompareKey(undefined)).not.toEqual(dataCompareKey(keyRing(material)));
  });
});
