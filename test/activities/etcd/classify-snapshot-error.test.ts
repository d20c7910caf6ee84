// Unit (no lab): which errors of an etcd snapshot's activities retrying can fix. The messages are the
// ones etcd3 (grpc-js) gave in the lab: a member killed while the worker's proxy to it handshook, and
// the other cluster's CA.
import { describe, expect, it } from '@jest/globals';
import { classifySnapshotError } from '../../../activities/etcd/snapshot.js';

const where = { cluster: 'primary', endpoints: 'https://127.0.0.1:12379', bucket: 'lifeboat' };
const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${code === 14 ? 'UNAVAILABLE' : 'UNKNOWN'}: ${details}`), { code, details });

describe('classifySnapshotError', () => {
  it('a connection lost during the TLS handshake (a member dead or starting) is retryable, not a TLS error', () => {
    const err = grpcError(
      14,
      'No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established. Resolution note: ',
    );
    expect(classifySnapshotError(err, where)).toBe(err);
  });

  it('a certificate etcd refuses is a non-retryable EtcdTlsError', () => {
    const err = grpcError(14, 'No connection established. Last error: Error: unable to verify the first certificate');
    expect(classifySnapshotError(err, where)).toMatchObject({ type: 'EtcdTlsError', nonRetryable: true });
  });
});
