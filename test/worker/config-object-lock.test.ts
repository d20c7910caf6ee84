// Unit: the object store's `objectLock` block (immutable backups): read as written, and refused at its
// line when the mode or the days are not what S3 Object Lock takes. No lab needed.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../worker/config.js';
import { configFilesDir, problemsOf } from '../helpers/config-problems.js';

const f = configFilesDir('lifeboat-config-lock-');
/** A valid configuration whose object store has `objectLock` as given (line 6). */
const withLock = (name: string, objectLock: string) => {
  const file = f(name);
  writeFileSync(
    file,
    `temporal:
  address: temporal.example:7233
objectStore:
  endpoint: http://127.0.0.1:9000
  bucket: backups
  objectLock: ${objectLock}
clusters:
  - name: primary
    kubeconfig: ${f('kubeconfig')}
    etcd:
      endpoints: [https://10.0.0.1:2379]
      caFile: ${f('etcd-ca.crt')}
      certFile: ${f('etcd.crt')}
      keyFile: ${f('etcd.key')}
`,
  );
  return file;
};

describe('objectStore.objectLock', () => {
  it('is read as written', () => {
    expect(loadConfig({ file: withLock('ok.yaml', '{ mode: COMPLIANCE, days: 30 }'), env: {} }).objectStore.objectLock).toEqual({
      mode: 'COMPLIANCE',
      days: 30,
    });
    expect(loadConfig({ file: withLock('governance.yaml', '{ mode: GOVERNANCE, days: 1 }'), env: {} }).objectStore.objectLock?.mode).toBe(
      'GOVERNANCE',
    );
  });

  it('a mode S3 does not have, a day count out of range and an unknown key are refused at their lines', () => {
    const bad = withLock('bad.yaml', '{ mode: FOREVER, days: 0 }');
    expect(problemsOf(bad)).toEqual([
      `${bad}:6:23: objectStore.objectLock.mode: expected GOVERNANCE or COMPLIANCE`,
      `${bad}:6:38: objectStore.objectLock.days: a whole number of days from 1 to 36500`,
    ]);
    const tooLong = withLock('too-long.yaml', '{ mode: GOVERNANCE, days: 36501 }');
    expect(problemsOf(tooLong)).toEqual([`${tooLong}:6:41: objectStore.objectLock.days: a whole number of days from 1 to 36500`]);
    const unknown = withLock('unknown.yaml', '{ mode: GOVERNANCE, days: 7, legalHold: true }');
    expect(problemsOf(unknown).join('\n')).toMatch(new RegExp(`^${unknown}:6:\\d+: objectStore.objectLock.*legalHold`, 'm'));
  });
});
