// A short-lived etcd client, over mutual TLS to a cluster's etcd or to a scratch one (with the scratch
// restore's own certificates). Retries belong to Temporal, so the client's own retry and circuit-breaker
// policies are off.
import { readFileSync } from 'node:fs';
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import type { ClusterConfig } from '../../worker/config.js';

export async function withEtcdEndpoints<T>(
  hosts: string[],
  credentials: IOptions['credentials'],
  use: (client: Etcd3) => Promise<T>,
): Promise<T> {
  const client = new Etcd3({
    hosts,
    credentials,
    dialTimeout: 5_000,
    grpcOptions: {
      // A 16 MiB HTTP/2 window: snapshot streaming runs ~1.5x faster than with the 64 KiB default.
      'grpc-node.flow_control_window': 16 * 1024 * 1024,
      // A member that hangs (a frozen host, a partition) closes nothing: without pings a snapshot stream
      // from it waits forever while its heartbeats go on. A ping unanswered for 10 s ends the call
      // (UNAVAILABLE); etcd allows a ping every 5 s (--grpc-keepalive-min-time) and answers them even
      // while a slow object store holds the stream back.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 10_000,
    },
    faultHandling: { host: () => noop, global: noop },
  });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** A client of the cluster's etcd: any of its endpoints, or only those given (one member, to read that member's data). */
export function withEtcdClient<T>(cluster: ClusterConfig, endpoints: string[] | undefined, use: (client: Etcd3) => Promise<T>): Promise<T> {
  const { etcd } = cluster;
  return withEtcdEndpoints(
    endpoints ?? etcd.endpoints,
    { rootCertificate: readFileSync(etcd.caFile), certChain: readFileSync(etcd.certFile), privateKey: readFileSync(etcd.keyFile) },
    use,
  );
}
