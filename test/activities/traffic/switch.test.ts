// Integration (lab: kube-apiserver/standby with ExternalDNS's DNSEndpoint CRD, made by `lab up`). No
// Temporal server: the activities run in MockActivityEnvironment. The webhook is a real HTTP server this
// test starts on 127.0.0.1. The record switched is the test's own, beside the lab's shop record (which
// failover tests and game days switch): created pointing at the primary, deleted afterwards.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  createTrafficSwitchActivities,
  dnsEndpointFor,
  pointDnsEndpoint,
  readDnsEndpoint,
  trafficAnnotations,
  type DnsEndpoint,
  type DnsEndpointLocation,
  type ExternalDnsTraffic,
  type SwitchTrafficInput,
  type WebhookTraffic,
} from '../../../activities/traffic/switch.js';
import { clusterPaths } from '../../../lab/topology.js';
import { createClients, loadKubeConfig, type LifeboatClients } from '../../../worker/clients.js';
import type { AppConfig, LifeboatConfig } from '../../../worker/config.js';
import { adminKubeConfig, labConfig } from '../../helpers/lab.js';
import { activityDeps } from '../../../activities/deps.js';

const config = labConfig();
const labShop = config.apps.find((a) => a.name === 'shop')!;
const traffic: ExternalDnsTraffic = {
  ...(labShop.failover!.traffic as ExternalDnsTraffic),
  name: `shop-traffic-test-${randomBytes(3).toString('hex')}`,
};
const shop: AppConfig = { ...labShop, failover: { ...labShop.failover!, traffic } };
const clients: LifeboatClients = { ...createClients(config), config: { ...config, apps: [shop] } };
const standby = clients.clusters.get(traffic.cluster)!;
const at: DnsEndpointLocation = { kubeConfig: standby.kubeConfig, cluster: traffic.cluster, traffic };
/** The traffic activities as the worker builds them, from these clients and their configuration. */
const trafficActivities = (c: LifeboatClients) => createTrafficSwitchActivities(activityDeps(c, undefined));
const acts = trafficActivities(clients);
// The test's own reads and writes of the record: the admin's (Lifeboat's role may not delete it).
const api = adminKubeConfig('standby').makeApiClient(CustomObjectsApi);
const ref = { group: 'externaldns.k8s.io', version: 'v1alpha1', plural: 'dnsendpoints', namespace: traffic.namespace, name: traffic.name };

const inActivity = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn);
const tag = () => randomBytes(4).toString('hex');
const switchInput = (from: string, to: string, key = `failover/shop/test-${tag()}/traffic`): SwitchTrafficInput => ({
  app: 'shop',
  from,
  to,
  reason: `test: ${from} → ${to}`,
  idempotencyKey: key,
  workflowId: key.replace(/\/traffic$/, ''),
});

interface Failure {
  type?: string;
  nonRetryable?: boolean;
  message: string;
  nextRetryDelay?: unknown;
}
const failureOf = (run: Promise<unknown>): Promise<Failure> =>
  run.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as Failure,
  );

/** Clients whose configuration has the shop app with other failover settings (or others apps). */
const withApps = (apps: AppConfig[]): LifeboatClients => ({ ...clients, config: { ...config, apps } satisfies LifeboatConfig });
const shopWithTraffic = (t: ExternalDnsTraffic | WebhookTraffic): AppConfig => ({ ...shop, failover: { ...shop.failover!, traffic: t } });

/** Someone other than Lifeboat edits the record: a read, a change, a write (as kubectl edit does). */
async function editAsSomeoneElse(change: (obj: DnsEndpoint) => void): Promise<DnsEndpoint> {
  const obj = (await api.getNamespacedCustomObject(ref)) as DnsEndpoint;
  change(obj);
  return (await api.replaceNamespacedCustomObject({ ...ref, body: obj })) as DnsEndpoint;
}
const record = (obj: DnsEndpoint | undefined) => obj?.spec?.endpoints?.[0];

afterAll(async () => {
  await api.deleteNamespacedCustomObject(ref).catch((err: { code?: number }) => {
    if (err.code !== 404) throw err;
  });
  clients.s3.destroy();
});

describe('ExternalDNS DNSEndpoint', () => {
  beforeAll(async () => {
    // The test's record, as `lab up` makes the shop's: pointing at the primary.
    await api.createNamespacedCustomObject({ ...ref, body: dnsEndpointFor(traffic, 'primary') });
  });

  it('switches primary → standby: the real object gets the standby targets and the annotations; a second identical switch changes nothing', async () => {
    const before = (await readDnsEndpoint(at))!;
    expect(record(before)?.targets).toEqual(['192.0.2.10']);
    const input = switchInput('primary', 'standby');

    const first = await inActivity(() => acts.switchTraffic(input));
    expect(first).toMatchObject({ changed: true, activeCluster: 'standby' });
    expect(first.detail).toContain("pointed at 192.0.2.10 (cluster 'primary')");
    const after = (await readDnsEndpoint(at))!;
    expect(after.spec?.endpoints).toEqual([{ dnsName: 'shop.lab.example', recordType: 'A', recordTTL: 30, targets: ['198.51.100.10'] }]);
    expect(after.metadata.annotations).toMatchObject({
      [trafficAnnotations.activeCluster]: 'standby',
      [trafficAnnotations.switchedBy]: input.idempotencyKey,
      [trafficAnnotations.reason]: 'test: primary → standby',
      [trafficAnnotations.workflowId]: input.workflowId,
    });
    expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);

    const again = await inActivity(() => acts.switchTraffic(input));
    expect(again).toMatchObject({ changed: false, activeCluster: 'standby' });
    expect((await readDnsEndpoint(at))!.metadata.resourceVersion).toBe(after.metadata.resourceVersion);

    const status = await inActivity(() => acts.trafficStatus({ app: 'shop' }));
    expect(status).toMatchObject({ provider: 'externalDNS', activeCluster: 'standby', targets: ['198.51.100.10'] });
  });

  it('switches back to the primary', async () => {
    const back = await inActivity(() => acts.switchTraffic(switchInput('standby', 'primary')));
    expect(back).toMatchObject({ changed: true, activeCluster: 'primary' });
    expect(record(await readDnsEndpoint(at))?.targets).toEqual(['192.0.2.10']);
    expect(await inActivity(() => acts.trafficStatus({ app: 'shop' }))).toMatchObject({
      activeCluster: 'primary',
      targets: ['192.0.2.10'],
    });
  });

  it('does not overwrite a record whose spec someone else changed between the read and the write', async () => {
    const seen = (await readDnsEndpoint(at))!;
    const theirs = await editAsSomeoneElse((obj) => {
      obj.spec!.endpoints![0]!.targets = ['203.0.113.7'];
    });
    expect(theirs.metadata.resourceVersion).not.toBe(seen.metadata.resourceVersion);

    const err = await failureOf(
      inActivity(() => pointDnsEndpoint(at, seen, 'standby', { [trafficAnnotations.switchedBy]: `test-${tag()}` })),
    );
    expect(err).toMatchObject({ type: 'TrafficRecordConflict', nonRetryable: true });
    expect(err.message).toContain('changed by someone else');
    expect(err.message).toContain('203.0.113.7 (no configured cluster)');
    expect(record(await readDnsEndpoint(at))?.targets).toEqual(['203.0.113.7']);

    const status = await inActivity(() => acts.trafficStatus({ app: 'shop' }));
    expect(status.activeCluster).toBeUndefined();
    expect(status.detail).toContain('203.0.113.7 (no configured cluster)');

    // A switch decided on a fresh read does go ahead, and says what it replaced.
    const restored = await inActivity(() => acts.switchTraffic(switchInput('standby', 'primary')));
    expect(restored).toMatchObject({ changed: true, activeCluster: 'primary' });
    expect(restored.detail).toContain('it pointed at 203.0.113.7');
  });

  it("keeps someone else's metadata-only change: the lost conditional write starts again from the new version", async () => {
    const seen = (await readDnsEndpoint(at))!;
    const label = `test-${tag()}`;
    await editAsSomeoneElse((obj) => {
      obj.metadata.labels = { ...(obj.metadata.labels as Record<string, string> | undefined), 'lifeboat.io/test': label };
    });

    const result = await inActivity(() => pointDnsEndpoint(at, seen, 'standby', { [trafficAnnotations.activeCluster]: 'standby' }));
    expect(result).toMatchObject({ changed: true, activeCluster: 'standby' });
    const now = (await readDnsEndpoint(at))!;
    expect(record(now)?.targets).toEqual(['198.51.100.10']);
    // A write of the stale object without its resourceVersion would have dropped the label.
    expect((now.metadata.labels as Record<string, string>)['lifeboat.io/test']).toBe(label);
  });

  it('finds the switch done when someone else made the same switch meanwhile', async () => {
    await inActivity(() => acts.switchTraffic(switchInput('standby', 'primary')));
    const seen = (await readDnsEndpoint(at))!;
    const otherKey = `failover/shop/other-${tag()}/traffic`;
    await inActivity(() => acts.switchTraffic(switchInput('primary', 'standby', otherKey)));

    const result = await inActivity(() => pointDnsEndpoint(at, seen, 'standby', { [trafficAnnotations.switchedBy]: `test-${tag()}` }));
    expect(result).toMatchObject({ changed: false, activeCluster: 'standby' });
    expect(result.detail).toContain(`by someone else meanwhile (${otherKey})`);
    expect((await readDnsEndpoint(at))!.metadata.annotations?.[trafficAnnotations.switchedBy]).toBe(otherKey);
  });

  it('creates the record when there is none', async () => {
    const other: ExternalDnsTraffic = { ...traffic, name: `shop-test-${tag()}` };
    const acts2 = trafficActivities(withApps([shopWithTraffic(other)]));
    expect(await inActivity(() => acts2.trafficStatus({ app: 'shop' }))).toEqual({
      provider: 'externalDNS',
      detail: `DNSEndpoint ${other.namespace}/${other.name} on cluster 'standby' does not exist`,
    });
    try {
      expect(await inActivity(() => acts2.switchTraffic(switchInput('primary', 'standby')))).toMatchObject({
        changed: true,
        activeCluster: 'standby',
      });
      expect(await inActivity(() => acts2.trafficStatus({ app: 'shop' }))).toMatchObject({ activeCluster: 'standby' });
    } finally {
      await api.deleteNamespacedCustomObject({ ...ref, name: other.name });
    }
  });
});

describe('input and permission errors', () => {
  it('fails without retries on an unknown app, an app without failover, an unknown cluster, a cluster without targets', async () => {
    expect(await failureOf(inActivity(() => acts.switchTraffic({ ...switchInput('primary', 'standby'), app: 'nope' })))).toMatchObject({
      type: 'UnknownApp',
      nonRetryable: true,
    });
    const plain = trafficActivities(withApps([{ ...shop, failover: undefined }]));
    expect(await failureOf(inActivity(() => plain.trafficStatus({ app: 'shop' })))).toMatchObject({
      type: 'AppHasNoFailover',
      nonRetryable: true,
    });
    const unknown = await failureOf(inActivity(() => acts.switchTraffic(switchInput('primary', 'elsewhere'))));
    expect(unknown).toMatchObject({ type: 'UnknownCluster', nonRetryable: true });
    expect(unknown.message).toContain("unknown target cluster 'elsewhere'");
    const primaryOnly = trafficActivities(withApps([shopWithTraffic({ ...traffic, targets: { primary: ['192.0.2.10'] } })]));
    const noTargets = await failureOf(inActivity(() => primaryOnly.switchTraffic(switchInput('primary', 'standby'))));
    expect(noTargets).toMatchObject({ type: 'NoTrafficTargets', nonRetryable: true });
    expect(noTargets.message).toContain("no targets for cluster 'standby'");
  });

  it('a 403 from the Kubernetes API is KubernetesForbidden, not retried', async () => {
    // The standby's kube-scheduler identity: real credentials without rights on DNSEndpoints.
    const kubeConfig = loadKubeConfig({ ...standby.config, kubeconfig: clusterPaths('standby').kubeconfig('kube-scheduler') });
    const restricted = trafficActivities({ ...clients, clusters: new Map([...clients.clusters, ['standby', { ...standby, kubeConfig }]]) });
    const before = (await readDnsEndpoint(at))!;
    const err = await failureOf(inActivity(() => restricted.switchTraffic(switchInput('primary', 'standby'))));
    expect(err).toMatchObject({ type: 'KubernetesForbidden', nonRetryable: true });
    expect(err.message).toContain('HTTP 403');
    // The record is untouched: same version, same targets.
    const after = (await readDnsEndpoint(at))!;
    expect({ resourceVersion: after.metadata.resourceVersion, endpoints: after.spec?.endpoints }).toEqual({
      resourceVersion: before.metadata.resourceVersion,
      endpoints: before.spec?.endpoints,
    });
  });
});

describe('webhook', () => {
  interface Received {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: string;
  }
  const received: Received[] = [];
  let answer: (req: Received, res: ServerResponse) => void;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body };
      received.push(r);
      answer(r, res);
    });
  });
  const tokenEnv = 'LIFEBOAT_TEST_TRAFFIC_TOKEN';
  const token = `tok-${randomBytes(12).toString('hex')}`;
  let hook: WebhookTraffic;
  let webhookActs: ReturnType<typeof createTrafficSwitchActivities>;

  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hook = { provider: 'webhook', url: `${base}/switch`, statusUrl: `${base}/status`, tokenEnv, timeout: 1, attempts: 3 };
    webhookActs = trafficActivities(withApps([shopWithTraffic(hook)]));
    process.env[tokenEnv] = token;
  });
  afterAll(async () => {
    delete process.env[tokenEnv];
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  beforeEach(() => {
    received.length = 0;
  });

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  it('POSTs the decision once, with the Idempotency-Key header, the JSON body and the bearer token', async () => {
    answer = (_req, res) => json(res, 200, { ok: true });
    const input = switchInput('primary', 'standby');
    const result = await inActivity(() => webhookActs.switchTraffic(input));
    expect(result).toMatchObject({ changed: true, activeCluster: 'standby' });
    expect(JSON.stringify(result)).not.toContain(token);
    expect(received).toHaveLength(1);
    const [post] = received;
    expect(post).toMatchObject({ method: 'POST', url: '/switch' });
    expect(post!.headers['idempotency-key']).toBe(input.idempotencyKey);
    expect(post!.headers.authorization).toBe(`Bearer ${token}`);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post!.body)).toEqual({
      app: 'shop',
      from: 'primary',
      to: 'standby',
      reason: input.reason,
      workflowId: input.workflowId,
      idempotencyKey: input.idempotencyKey,
    });

    answer = (_req, res) => json(res, 200, { changed: false });
    expect(await inActivity(() => webhookActs.switchTraffic(input))).toMatchObject({ changed: false, activeCluster: 'standby' });
    expect(received[1]!.headers['idempotency-key']).toBe(input.idempotencyKey);
  });

  it('a 500 is a retryable failure after exactly one POST; a 503 with Retry-After sets the next retry delay', async () => {
    answer = (_req, res) => json(res, 500, { error: 'dns provider down' });
    const err = await failureOf(inActivity(() => webhookActs.switchTraffic(switchInput('primary', 'standby'))));
    expect(err).toMatchObject({ type: 'TrafficWebhookUnavailable', nonRetryable: false });
    expect(err.message).toContain('answered 500');
    expect(received).toHaveLength(1);

    answer = (_req, res) => json(res, 503, {}, { 'retry-after': '7' });
    expect(await failureOf(inActivity(() => webhookActs.switchTraffic(switchInput('primary', 'standby'))))).toMatchObject({
      type: 'TrafficWebhookUnavailable',
      nonRetryable: false,
      nextRetryDelay: '7s',
    });
  });

  it('a 400 is TrafficSwitchRejected, not retried; the token never appears in the message', async () => {
    // A webhook that echoes the request's headers in its error.
    answer = (req, res) => json(res, 400, { error: 'bad request', authorization: req.headers.authorization });
    const err = await failureOf(inActivity(() => webhookActs.switchTraffic(switchInput('primary', 'standby'))));
    expect(err).toMatchObject({ type: 'TrafficSwitchRejected', nonRetryable: true });
    expect(err.message).toContain('answered 400');
    expect(err.message).toContain('Bearer [token]');
    expect(err.message).not.toContain(token);
  });

  it('a webhook that does not answer times out after `timeout`, retryably', async () => {
    answer = () => undefined;
    const t0 = Date.now();
    const err = await failureOf(inActivity(() => webhookActs.switchTraffic(switchInput('primary', 'standby'))));
    const took = Date.now() - t0;
    expect(err).toMatchObject({ type: 'TrafficWebhookTimeout', nonRetryable: false });
    expect(err.message).toContain('no answer within 1 s');
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(5_000);
  });

  it('a webhook nobody listens on is a retryable network failure', async () => {
    const idle = createServer();
    idle.listen(0, '127.0.0.1');
    await once(idle, 'listening');
    const port = (idle.address() as AddressInfo).port;
    idle.close();
    await once(idle, 'close');
    const gone = trafficActivities(withApps([shopWithTraffic({ ...hook, url: `http://127.0.0.1:${port}/switch` })]));
    const err = await failureOf(inActivity(() => gone.switchTraffic(switchInput('primary', 'standby'))));
    expect(err).toMatchObject({ type: 'TrafficWebhookUnreachable', nonRetryable: false });
    expect(err.message).toContain('connection refused');
  });

  it('a token variable missing from the environment fails without a request', async () => {
    const noToken = trafficActivities(withApps([shopWithTraffic({ ...hook, tokenEnv: 'LIFEBOAT_TEST_TRAFFIC_TOKEN_UNSET' })]));
    expect(await failureOf(inActivity(() => noToken.switchTraffic(switchInput('primary', 'standby'))))).toMatchObject({
      type: 'TrafficWebhookTokenMissing',
      nonRetryable: true,
    });
    expect(received).toHaveLength(0);
  });

  it('reads the active cluster from statusUrl, with the token; without statusUrl it cannot tell', async () => {
    answer = (_req, res) => json(res, 200, { cluster: 'standby' });
    expect(await inActivity(() => webhookActs.trafficStatus({ app: 'shop' }))).toMatchObject({
      provider: 'webhook',
      activeCluster: 'standby',
    });
    expect(received).toMatchObject([{ method: 'GET', url: '/status', headers: { authorization: `Bearer ${token}` } }]);

    answer = (_req, res) => json(res, 200, { cluster: 'mars' });
    const unknown = await inActivity(() => webhookActs.trafficStatus({ app: 'shop' }));
    expect(unknown.activeCluster).toBeUndefined();
    expect(unknown.detail).toContain("names cluster 'mars'");

    const blind = trafficActivities(withApps([shopWithTraffic({ ...hook, statusUrl: undefined })]));
    expect(await inActivity(() => blind.trafficStatus({ app: 'shop' }))).toEqual({
      provider: 'webhook',
      detail: 'webhook without statusUrl',
    });
  });
});
