// Certificates for one scratch restore, made in memory for that attempt alone: a CA, the scratch etcd's
// serving (and peer) certificate, the scratch kube-apiserver's serving certificate, and the client
// certificates the kube-apiserver and Lifeboat present. The CA's private key is never written anywhere,
// so once the certificates exist nobody (Lifeboat included) can mint another one the scratch servers
// trust; the attempt's end makes the whole set worthless.
// @peculiar/x509 (tsyringe inside) needs the Reflect metadata API before it loads.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
  type Extension,
} from '@peculiar/x509';

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A certificate and its private key, both PEM. */
export interface IssuedCert {
  cert: string;
  key: string;
}

/** The scratch restore's certificates; `caCert` is the only trust anchor of every party. */
export interface ScratchPki {
  caCert: string;
  /** The scratch etcd's: client and peer URLs on 127.0.0.1 (serverAuth and clientAuth, as peers need both). */
  etcd: IssuedCert;
  /** The scratch kube-apiserver's serving certificate, for 127.0.0.1. */
  apiserver: IssuedCert;
  /** What the scratch kube-apiserver presents to the scratch etcd. */
  apiserverEtcdClient: IssuedCert;
  /** What Lifeboat presents to both (`system:masters` to the kube-apiserver); kept in memory only. */
  verifier: IssuedCert;
}

/**
 * How long the certificates are valid: longer than any attempt of the restore may run (its
 * start-to-close timeout is 2 h), short enough to be useless to anyone who copies one.
 */
const validityMs = 3 * 60 * 60 * 1000;
/** Tolerance for a clock that runs slightly behind on the verifying side. */
const backdateMs = 5 * 60 * 1000;

const loopbackNames = () => new SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]);

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
}

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  return PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A fresh CA and the four leaf certificates of one scratch restore attempt. */
export async function makeScratchPki(label: string): Promise<ScratchPki> {
  const notBefore = new Date(Date.now() - backdateMs);
  const notAfter = new Date(Date.now() + validityMs);
  const caKeys = await newKeys();
  // A common name is at most 64 characters (RFC 5280 ub-common-name).
  const caName = `CN=lifeboat scratch CA ${label.slice(-40)}`;
  const ca = await X509CertificateGenerator.createSelfSigned({
    name: caName,
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
    ],
  });
  const issue = async (subject: string, usages: ExtendedKeyUsage[], extra: Extension[] = []): Promise<IssuedCert> => {
    const keys = await newKeys();
    const cert = await X509CertificateGenerator.create({
      subject,
      issuer: caName,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm,
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        new ExtendedKeyUsageExtension(usages),
        ...extra,
      ],
    });
    return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
  };
  return {
    caCert: ca.toString('pem'),
    etcd: await issue('CN=lifeboat-scratch-etcd', [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth], [loopbackNames()]),
    apiserver: await issue('CN=lifeboat-scratch-apiserver', [ExtendedKeyUsage.serverAuth], [loopbackNames()]),
    apiserverEtcdClient: await issue('CN=lifeboat-scratch-apiserver-etcd-client', [ExtendedKeyUsage.clientAuth]),
    verifier: await issue('CN=lifeboat-verifier, O=system:masters', [ExtendedKeyUsage.clientAuth]),
  };
}

/** Where the scratch processes read their certificates (the verifier's never goes to disk). */
export interface ScratchPkiFiles {
  caCert: string;
  etcdCert: string;
  etcdKey: string;
  apiserverCert: string;
  apiserverKey: string;
  apiserverEtcdClientCert: string;
  apiserverEtcdClientKey: string;
}

/** Writes what the scratch etcd and kube-apiserver read into `dir` (0700): every file 0600, created new. */
export async function writeScratchPki(dir: string, pki: ScratchPki): Promise<ScratchPkiFiles> {
  const files: ScratchPkiFiles = {
    caCert: join(dir, 'ca.crt'),
    etcdCert: join(dir, 'etcd.crt'),
    etcdKey: join(dir, 'etcd.key'),
    apiserverCert: join(dir, 'apiserver.crt'),
    apiserverKey: join(dir, 'apiserver.key'),
    apiserverEtcdClientCert: join(dir, 'apiserver-etcd-client.crt'),
    apiserverEtcdClientKey: join(dir, 'apiserver-etcd-client.key'),
  };
  const contents: [string, string][] = [
    [files.caCert, pki.caCert],
    [files.etcdCert, pki.etcd.cert],
    [files.etcdKey, pki.etcd.key],
    [files.apiserverCert, pki.apiserver.cert],
    [files.apiserverKey, pki.apiserver.key],
    [files.apiserverEtcdClientCert, pki.apiserverEtcdClient.cert],
    [files.apiserverEtcdClientKey, pki.apiserverEtcdClient.key],
  ];
  // 'wx': never through a file (or a link) that is already there.
  for (const [file, text] of contents) await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  return files;
}
