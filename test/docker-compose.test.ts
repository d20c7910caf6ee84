// The docker-compose topology cannot run here (no Docker engine); this checks it parses and that
// every service the worker needs is wired, by loading the worker's real configuration from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { loadConfig } from '../worker/config.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  volumes?: string[];
  entrypoint?: string[];
}
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const { services } = compose;
const dependsOn = (s: Service) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));
/** Compose interpolation as a user with MINIO_ROOT_PASSWORD set would get it. */
const interpolate = (v: string) => v.replace(/\$\{(\w+)(?::?[-?])([^}]*)\}/g, (_, name: string, fallback: string) => (name === 'MINIO_ROOT_PASSWORD' ? 's3cret' : fallback));

describe('docker-compose.yml', () => {
  it('has Temporal on PostgreSQL, its UI, MinIO and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['minio', 'minio-init', 'postgresql', 'temporal', 'temporal-ui', 'worker']);
    expect(services.temporal!.environment!.DB).toBe('postgres12');
    expect(services.temporal!.environment!.POSTGRES_SEEDS).toBe('postgresql');
    expect(dependsOn(services.temporal!)).toContain('postgresql');
    expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('wires the worker to Temporal and MinIO through a configuration the worker accepts', () => {
    const worker = services.worker!;
    expect(worker.build).toBe('.');
    expect(dependsOn(worker)).toEqual(expect.arrayContaining(['temporal', 'minio-init']));
    const env = Object.fromEntries(Object.entries(worker.environment!).map(([k, v]) => [k, interpolate(v)]));
    const mount = worker.volumes!.find((v) => v.endsWith(':/etc/lifeboat:ro'))!;
    const hostDir = mount.split(':')[0]!;
    const config = loadConfig({ env: { ...env, LIFEBOAT_CONFIG: env.LIFEBOAT_CONFIG!.replace('/etc/lifeboat', root(hostDir)) } });
    const [temporalHost, temporalPort] = config.temporal.address.split(':');
    expect(services[temporalHost!]).toBeDefined();
    expect(services[temporalHost!]!.ports).toContain(`${temporalPort}:${temporalPort}`);
    const s3 = new URL(config.objectStore.endpoint!);
    expect(services[s3.hostname]).toBeDefined();
    expect(services[s3.hostname]!.ports).toContain(`${s3.port}:${s3.port}`);
    expect(config.objectStore.forcePathStyle).toBe(true);
    // The bucket the worker uses is the one minio-init creates.
    expect(services['minio-init']!.entrypoint?.join(' ')).toContain(`store/${config.objectStore.bucket}`);
    // Credentials come from the user's environment, never from the file.
    expect(env.AWS_SECRET_ACCESS_KEY).toBe('s3cret');
  });

  it('builds the worker image the service runs', () => {
    const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/lifeboat.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["worker"\]$/m);
    expect(services.worker!.command).toEqual(['worker']);
    expect(dockerfile).toContain('lab/install-tools.sh etcd velero');
  });
});
