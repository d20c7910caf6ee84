// What activities are given: the clients the worker builds once and the few settings they read. Each
// system's factory takes a `Pick` of this, only what it uses, never the whole configuration.
import type { S3Client } from '@aws-sdk/client-s3';
import type { ClusterClients, LifeboatClients } from '../worker/clients.js';
import type { AppConfig, LifeboatConfig, ObjectLockConfig } from '../worker/config.js';
import type { KeyRing } from '../worker/keys.js';

export interface ActivityDeps {
  /** Each configured cluster's API clients and settings (etcd endpoints and certificates, Velero). */
  clusters: ReadonlyMap<string, ClusterClients>;
  /** Lifeboat's object store client. */
  s3: S3Client;
  /** Lifeboat's own bucket: snapshots, manifests, game day reports. */
  bucket: string;
  /** The object store's endpoint, for messages. */
  objectStoreEndpoint: string | undefined;
  /** S3 Object Lock retention for snapshots and manifests; undefined: written unlocked. */
  objectLock: ObjectLockConfig | undefined;
  apps: readonly AppConfig[];
  /** Paths of etcdctl, etcdutl, etcd, kube-apiserver. */
  tools: LifeboatConfig['tools'];
  verification: LifeboatConfig['verification'];
  gameDay: LifeboatConfig['gameDay'];
  /** Who each `group:<name>` of an approver list stands for (`runbooks.approverGroups`). */
  approverGroups: LifeboatConfig['runbooks']['approverGroups'];
  /** The encryption keys; undefined when `encryption:` is not configured. */
  keyRing: KeyRing | undefined;
  /** Receivers and routes of run notifications. */
  notifications: LifeboatConfig['notifications'];
  /** The Temporal UI's URL, for links to runs in messages. */
  temporalUi: string | undefined;
}

export function activityDeps(clients: LifeboatClients, keyRing: KeyRing | undefined): ActivityDeps {
  const { config } = clients;
  return {
    clusters: clients.clusters,
    s3: clients.s3,
    bucket: config.objectStore.bucket,
    objectStoreEndpoint: config.objectStore.endpoint,
    objectLock: config.objectStore.objectLock,
    apps: config.apps,
    tools: config.tools,
    verification: config.verification,
    gameDay: config.gameDay,
    approverGroups: config.runbooks.approverGroups,
    keyRing,
    notifications: config.notifications,
    temporalUi: config.temporal.ui,
  };
}
