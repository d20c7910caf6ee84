// Integration (lab: kube-apiserver/standby, which has every namespace the example bindings name).
// deploy/kubernetes as an operator applies it: rendered by `kubectl kustomize`, accepted by a real API
// server (server-side dry-run: its OpenAPI schemas, field validation Strict, admission), and as strict
// as it says: Pod Security `restricted`, a locked-down worker, default-deny networking, roles without
// wildcards that equal what Lifeboat's refusals name (activities/kubernetes/permissions.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { lifeboatRoles } from '../../activities/kubernetes/permissions.js';
import { applyLabRbac, deployDir, renderDeployManifests } from '../../lab/rbac.js';
import { bin, clusterPaths } from '../../lab/topology.js';
import { configSchema } from '../../worker/config/schema.js';
import { labConfig } from '../helpers/lab.js';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Container {
  securityContext: Record<string, unknown>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  volumeMounts: { name: string; readOnly?: boolean }[];
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; secret?: { defaultMode: number }; configMap?: { name: string } }[];
}

const standbyAdmin = clusterPaths('standby').kubeconfig('admin');
const components = readdirSync(join(deployDir, 'components'));
let manifests: Manifest[];
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);

beforeAll(async () => {
  manifests = await renderDeployManifests();
  // lifeboat-system must exist for a dry-run of what goes in it: the lab makes it as `lab up` does.
  await applyLabRbac(labConfig());
});

describe('deploy/kubernetes', () => {
  it('is accepted by the API server, server-side dry-run with strict field validation, with every component', async () => {
    const all = await execa(bin.kubectl, [
      ...['--kubeconfig', standbyAdmin, 'apply', '--dry-run=server', '--validate=strict'],
      ...['--server-side', '--force-conflicts', '--field-manager', 'lifeboat-deploy-test', '-k', deployDir],
    ]);
    const applied = all.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'));
    expect(applied).toHaveLength(manifests.length);
    // Pod Security admission warns of a Deployment whose Pods `restricted` would refuse; it has nothing to say.
    expect(all.stderr).toBe('');
    // A component not in the default kustomization (the kwok provider's) is valid on its own too.
    for (const c of components) {
      const one = await execa(bin.kubectl, [
        '--kubeconfig',
        standbyAdmin,
        'apply',
        '--dry-run=server',
        '--validate=strict',
        '-f',
        join(deployDir, 'components', c, 'bindings.yaml'),
      ]);
      expect(one.stdout).toMatch(/\(server dry run\)$/m);
    }
  });

  it('has a worker Pod that Pod Security restricted admits in lifeboat-system', async () => {
    const [deployment] = byKind('Deployment') as (Manifest & { spec: { template: { metadata: object; spec: PodSpec } } })[];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...deployment!.spec.template.metadata, name: 'lifeboat-worker-dry-run', namespace: 'lifeboat-system' },
      spec: deployment!.spec.template.spec,
    };
    const created = await execa(bin.kubectl, ['--kubeconfig', standbyAdmin, 'create', '--dry-run=server', '--validate=strict', '-f', '-'], {
      input: JSON.stringify(pod),
    });
    expect(created.stdout).toBe('pod/lifeboat-worker-dry-run created (server dry run)');
    // The same Pod running as root is refused: the namespace does enforce.
    const root = { ...pod, spec: { ...pod.spec, securityContext: { ...pod.spec.securityContext, runAsNonRoot: false, runAsUser: 0 } } };
    const refused = await execa(bin.kubectl, ['--kubeconfig', standbyAdmin, 'create', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify(root),
      reject: false,
    });
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  it('enforces Pod Security restricted on its namespace and runs the worker locked down', () => {
    const [ns] = byKind('Namespace');
    expect(ns!.metadata).toMatchObject({
      name: 'lifeboat-system',
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
    });
    const [deployment] = byKind('Deployment') as (Manifest & { spec: { template: { spec: PodSpec } } })[];
    const pod = deployment!.spec.template.spec;
    expect(pod.serviceAccountName).toBe('lifeboat');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    for (const c of pod.containers) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(Object.keys(c.resources.requests)).toEqual(expect.arrayContaining(['cpu', 'memory']));
      expect(Object.keys(c.resources.limits)).toEqual(expect.arrayContaining(['cpu', 'memory']));
      expect([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path]).toEqual(['/healthz', '/readyz']);
    }
    const secrets = pod.volumes.filter((v) => v.secret);
    expect(secrets.map((v) => v.name).sort()).toEqual(['credentials', 'keys']);
    for (const v of secrets) expect(v.secret!.defaultMode).toBe(0o400);
    const config = pod.volumes.find((v) => v.configMap)!;
    expect(byKind('ConfigMap').map((m) => m.metadata.name)).toEqual([config.configMap!.name]);
  });

  it('ships a configuration the worker accepts, with the cluster it runs in reached through its ServiceAccount', () => {
    const parsed = configSchema.safeParse(parse(readFileSync(join(deployDir, 'lifeboat.yaml'), 'utf8')));
    expect(parsed.error).toBeUndefined();
    expect(parsed.data!.clusters.map((c) => c.kubeconfig)).toEqual([undefined, '/etc/lifeboat/credentials/standby.kubeconfig']);
    expect(parsed.data!.metrics).toEqual({ host: '0.0.0.0', port: 9464, runtimePort: 9465 });
  });

  it('denies all traffic by default and lets the worker out only to DNS, the API server, etcd, Temporal and the object store', () => {
    const policies = byKind('NetworkPolicy') as (Manifest & {
      spec: { podSelector: object; policyTypes: string[]; egress?: { ports: { port: number }[] }[] };
    })[];
    const deny = policies.find((p) => p.metadata.name === 'default-deny')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const worker = policies.find((p) => p.metadata.name === 'lifeboat-worker')!;
    expect(worker.spec.egress!.map((e) => e.ports.map((p) => p.port))).toEqual([[53, 53], [6443, 443], [2379], [7233], [443, 9000]]);
  });

  it('has one set of roles per runbook family, without wildcards, equal to what Lifeboat names when refused', () => {
    const roles = byKind('ClusterRole') as (Manifest & { rules: Rule[] })[];
    for (const role of [...roles, ...(byKind('Role') as (Manifest & { rules: Rule[] })[])]) {
      for (const rule of role.rules) {
        for (const value of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs, ...(rule.resourceNames ?? [])])
          expect(`${role.metadata.name}: ${value}`).not.toMatch(/\*/);
        expect(rule.nonResourceURLs).toBeUndefined();
      }
    }
    const shipped = roles.map((r) => ({
      name: r.metadata.name,
      family: r.metadata.labels!['lifeboat.io/family'],
      rules: r.rules.map((rule) => ({
        group: rule.apiGroups![0],
        resources: rule.resources,
        verbs: rule.verbs,
        ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}),
      })),
    }));
    const sortByName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));
    expect(sortByName(shipped)).toEqual(sortByName(lifeboatRoles.map((r) => ({ name: r.name, family: r.family, rules: r.rules }))));
    for (const role of roles) expect(role.rules.every((rule) => rule.apiGroups!.length === 1)).toBe(true);
    // Every family a role belongs to has a component that binds it, and nothing else binds anything.
    expect(components.sort()).toEqual([...new Set(lifeboatRoles.map((r) => r.family))].sort());
    const bindings = [...byKind('ClusterRoleBinding'), ...byKind('RoleBinding')] as (Manifest & {
      roleRef: { name: string };
      subjects: object[];
    })[];
    // Each binds the ServiceAccount its role names: the worker's, or the site witness's (its Lease only).
    for (const b of bindings) {
      const account = lifeboatRoles.find((r) => r.name === b.roleRef.name)?.serviceAccount ?? 'lifeboat';
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: account, namespace: 'lifeboat-system' }]);
      expect(roles.map((r) => r.metadata.name)).toContain(b.roleRef.name);
    }
    // The scratch reader is never bound by the manifests: Lifeboat binds it in each scratch namespace it makes.
    expect(bindings.map((b) => b.roleRef.name)).not.toContain('lifeboat-velero-scratch-reader');
  });
});

// The site witness (deploy/kubernetes/witness), applied in each cluster beside deploy/kubernetes.
describe('deploy/kubernetes/witness', () => {
  const witnessDir = join(deployDir, 'witness');
  let witness: Manifest[];
  beforeAll(async () => {
    witness = parseAllDocuments((await execa(bin.kubectl, ['kustomize', witnessDir])).stdout).map((d) => d.toJS() as Manifest);
  });

  it('is accepted by the API server, and Pod Security restricted admits its Pod', async () => {
    const applied = await execa(bin.kubectl, [
      ...['--kubeconfig', standbyAdmin, 'apply', '--dry-run=server', '--validate=strict'],
      ...['--server-side', '--force-conflicts', '--field-manager', 'lifeboat-deploy-test', '-k', witnessDir],
    ]);
    expect(applied.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'))).toHaveLength(witness.length);
    expect(applied.stderr).toBe('');
    const [deployment] = witness.filter((m) => m.kind === 'Deployment') as (Manifest & {
      spec: { template: { metadata: object; spec: PodSpec & { containers: (Container & { args: string[] })[] } } };
    })[];
    const pod = deployment!.spec.template.spec;
    const created = await execa(bin.kubectl, ['--kubeconfig', standbyAdmin, 'create', '--dry-run=server', '--validate=strict', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...deployment!.spec.template.metadata, name: 'lifeboat-witness-dry-run', namespace: 'lifeboat-system' },
        spec: pod,
      }),
    });
    expect(created.stdout).toBe('pod/lifeboat-witness-dry-run created (server dry run)');
    // It runs `lifeboat witness` as its own ServiceAccount: the one the site witness role is bound to, nothing else.
    expect(pod.containers[0]!.args[0]).toBe('witness');
    const account = lifeboatRoles.find((r) => r.name === 'lifeboat-site-witness')!.serviceAccount;
    expect(pod.serviceAccountName).toBe(account);
    expect(witness.filter((m) => m.kind === 'ServiceAccount').map((m) => m.metadata.name)).toEqual([account]);
    expect(lifeboatRoles.filter((r) => r.serviceAccount === account).map((r) => r.rules)).toEqual([
      [{ group: 'coordination.k8s.io', resources: ['leases'], verbs: ['get', 'create', 'update'] }],
    ]);
  });
});

// The scale-out overlays (deploy/overlays): N versioned workers against Temporal Cloud (API key) or a
// self-hosted cluster (mTLS), their credentials from the Secret lifeboat-temporal.
describe('deploy/overlays: scale-out', () => {
  const overlaysDir = fileURLToPath(new URL('../../../deploy/overlays/', import.meta.url));
  const render = async (overlay: string) =>
    parseAllDocuments((await execa(bin.kubectl, ['kustomize', join(overlaysDir, overlay)])).stdout).map((d) => d.toJS() as Manifest);
  type WorkerDeployment = Manifest & {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: Omit<PodSpec, 'volumes'> & { volumes: { name: string; secret?: { secretName: string; defaultMode: number } }[] };
      };
    };
  };

  it.each(['scale-out', 'scale-out-mtls'])(
    '%s is accepted by the API server, server-side dry-run with strict field validation',
    async (overlay) => {
      const rendered = await render(overlay);
      const all = await execa(bin.kubectl, [
        ...['--kubeconfig', standbyAdmin, 'apply', '--dry-run=server', '--validate=strict'],
        ...['--server-side', '--force-conflicts', '--field-manager', 'lifeboat-deploy-test', '-k', join(overlaysDir, overlay)],
      ]);
      expect(all.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'))).toHaveLength(rendered.length);
      // No Pod Security warning for the replicas' Pods either.
      expect(all.stderr).toBe('');
    },
  );

  it.each([
    ['scale-out', { apiKeyFile: '/etc/lifeboat/temporal/api-key' }],
    [
      'scale-out-mtls',
      {
        tls: {
          serverName: 'temporal-frontend.temporal.svc',
          serverRootCaFile: '/etc/lifeboat/temporal/ca.crt',
          clientCertFile: '/etc/lifeboat/temporal/tls.crt',
          clientKeyFile: '/etc/lifeboat/temporal/tls.key',
        },
      },
    ],
  ])('%s runs several versioned workers of one release, with Temporal credentials from a Secret', async (overlay, credentials) => {
    const rendered = await render(overlay);
    const [deployment] = rendered.filter((m) => m.kind === 'Deployment') as WorkerDeployment[];
    expect(deployment!.spec.replicas).toBeGreaterThanOrEqual(2);
    // Its own name and selector per release, so the next release's Deployment runs beside it while pinned runs drain.
    expect(deployment!.metadata.name).toBe('lifeboat-worker-r1');
    expect(deployment!.spec.selector.matchLabels).toMatchObject({ 'lifeboat.io/release': 'r1' });
    expect(deployment!.spec.template.metadata.labels).toMatchObject(deployment!.spec.selector.matchLabels);
    const pod = deployment!.spec.template.spec;
    const temporal = pod.volumes.find((v) => v.secret?.secretName === 'lifeboat-temporal')!;
    expect(temporal.secret).toEqual({ secretName: 'lifeboat-temporal', defaultMode: 0o400 });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: temporal.name, mountPath: '/etc/lifeboat/temporal', readOnly: true });
    // The configuration the ConfigMap carries: the worker's schema accepts it; versioning on, PINNED.
    const [configMap] = rendered.filter((m) => m.kind === 'ConfigMap') as (Manifest & { data: Record<string, string> })[];
    const parsed = configSchema.safeParse(parse(configMap!.data['lifeboat.yaml']!));
    expect(parsed.error).toBeUndefined();
    expect(parsed.data!.temporal).toMatchObject({ ...credentials, deployment: { name: 'lifeboat', defaultVersioningBehavior: 'PINNED' } });
    expect(parsed.data!.temporal.deployment!.buildId).toBeUndefined();
    // A drain takes one worker at a time.
    const [pdb] = rendered.filter((m) => m.kind === 'PodDisruptionBudget') as (Manifest & {
      spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    })[];
    expect(pdb!.spec.maxUnavailable).toBe(1);
    expect(deployment!.spec.template.metadata.labels).toMatchObject(pdb!.spec.selector.matchLabels);
  });
});
