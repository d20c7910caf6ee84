// Certificates for one lab cluster, made with openssl: a CA, etcd's serving and client certificates,
// the API server's serving certificate, client certificates for each control-plane user, and the
// service-account signing key. Existing files are kept, so a restarted lab keeps its identity.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { clusterPaths, host } from './topology.js';
import { protectSecretFile, writeSecretFile } from '../worker/secret-files.js';

const days = '3650';
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

interface LeafSpec {
  file: string;
  subject: string;
  usage: 'serverAuth' | 'clientAuth' | 'serverAuth,clientAuth';
  altNames?: string[];
}

async function issue(cluster: string, spec: LeafSpec): Promise<void> {
  const p = clusterPaths(cluster);
  const cert = join(p.pki, `${spec.file}.crt`);
  const key = join(p.pki, `${spec.file}.key`);
  // Private keys are 0600 however openssl's umask left them, also the ones an earlier lab made.
  if (existsSync(cert)) return protectSecretFile(key);
  const csr = join(p.pki, `${spec.file}.csr`);
  const ext = ['-addext', `extendedKeyUsage=${spec.usage}`, '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  if (spec.altNames) ext.push('-addext', `subjectAltName=${spec.altNames.join(',')}`);
  await execa('openssl', ['req', '-new', ...ecKey, '-keyout', key, '-out', csr, '-subj', spec.subject, ...ext]);
  await execa('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    p.caCert,
    '-CAkey',
    p.caKey,
    '-CAcreateserial',
    '-days',
    days,
    '-copy_extensions',
    'copyall',
    '-out',
    cert,
  ]);
  await rm(csr);
  await protectSecretFile(key);
}

/** The control-plane users that get a client certificate and a kubeconfig. */
export const kubeUsers = {
  admin: '/O=system:masters/CN=lifeboat-lab-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  kwok: '/O=system:masters/CN=kwok-controller',
  velero: '/O=system:masters/CN=velero',
} as const;
export type KubeUser = keyof typeof kubeUsers;

export async function ensureClusterPki(cluster: string, apiserverPort: number, encryptSecrets: boolean): Promise<void> {
  const p = clusterPaths(cluster);
  await mkdir(p.pki, { recursive: true, mode: 0o700 });
  if (!existsSync(p.caCert)) {
    await execa('openssl', [
      'req',
      '-x509',
      '-new',
      ...ecKey,
      '-keyout',
      p.caKey,
      '-out',
      p.caCert,
      '-days',
      days,
      '-subj',
      `/CN=lifeboat-lab-${cluster}-ca`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ]);
  }
  await protectSecretFile(p.caKey);
  const loopback = [`IP:${host}`, 'DNS:localhost'];
  await issue(cluster, { file: 'etcd-server', subject: `/CN=etcd-${cluster}`, usage: 'serverAuth,clientAuth', altNames: loopback });
  await issue(cluster, { file: 'apiserver-etcd-client', subject: '/CN=kube-apiserver-etcd-client', usage: 'clientAuth' });
  await issue(cluster, { file: 'lifeboat-etcd-client', subject: '/CN=lifeboat', usage: 'clientAuth' });
  await issue(cluster, {
    file: 'apiserver',
    subject: '/CN=kube-apiserver',
    usage: 'serverAuth',
    altNames: [
      ...loopback,
      'IP:10.96.0.1',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
  });
  for (const [user, subject] of Object.entries(kubeUsers)) {
    await issue(cluster, { file: `user-${user}`, subject, usage: 'clientAuth' });
    await writeKubeconfig(cluster, user as KubeUser, apiserverPort);
  }
  if (!existsSync(p.serviceAccountKey)) {
    await execa('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p.serviceAccountKey]);
    await execa('openssl', ['ec', '-in', p.serviceAccountKey, '-pubout', '-out', p.serviceAccountPub]);
  }
  await protectSecretFile(p.serviceAccountKey);
  if (encryptSecrets && !existsSync(p.encryptionConfig)) {
    const config = {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'EncryptionConfiguration',
      resources: [
        {
          resources: ['secrets'],
          providers: [{ aescbc: { keys: [{ name: 'key1', secret: randomBytes(32).toString('base64') }] } }, { identity: {} }],
        },
      ],
    };
    await writeSecretFile(p.encryptionConfig, stringify(config));
  }
  await protectSecretFile(p.encryptionConfig);
}

async function writeKubeconfig(cluster: string, user: KubeUser, apiserverPort: number): Promise<void> {
  const p = clusterPaths(cluster);
  const file = p.kubeconfig(user);
  if (existsSync(file)) return protectSecretFile(file);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: `https://${host}:${apiserverPort}`, 'certificate-authority': p.caCert } }],
    users: [{ name: user, user: { 'client-certificate': join(p.pki, `user-${user}.crt`), 'client-key': join(p.pki, `user-${user}.key`) } }],
    contexts: [{ name: cluster, context: { cluster, user } }],
    'current-context': cluster,
  };
  await writeSecretFile(file, stringify(kubeconfig));
}
