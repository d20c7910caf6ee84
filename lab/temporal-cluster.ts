// `lab up --profile cluster`: the Temporal server itself (built from go.temporal.io/server) on PostgreSQL
// (Debian's, extracted), as docker-compose.yml and a production cluster run it, beside the dev server
// every other test uses. Its own loopback ports, its own data under the lab dir, and its schema made and
// upgraded by temporal-sql-tool on every start, as the compose file's schema job does.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { writeSecretFile } from '../worker/secret-files.js';
import type { LabComponent } from './components.js';
import { registerSearchAttributes } from './search-attributes.js';
import { httpProbe, type ProbeResult } from './probes.js';
import { logFile, logTail, runningPid, startDaemon, stopDaemon } from './processes.js';
import { bin, host, labDir } from './topology.js';

/** Ports of the cluster profile, all on 127.0.0.1, none the dev server's (7233, 7235, 8233). */
export const clusterPorts = {
  postgresql: 15432,
  frontend: 7243,
  frontendHttp: 7244,
  history: 7245,
  matching: 7246,
  worker: 7247,
  metrics: 7249,
  /** Each service's membership (ringpop) port is its gRPC port + 10. */
  membershipOffset: 10,
} as const;

/** The namespace the profile creates, with Lifeboat's search attributes. */
export const clusterNamespace = 'lifeboat';
export const clusterAddress = `${host}:${clusterPorts.frontend}`;

const dir = join(labDir, 'temporal-cluster');
export const clusterPaths = {
  dir,
  pgData: join(dir, 'postgresql'),
  serverConfig: join(dir, 'temporal-server.yaml'),
  /** The database role's password (made once, 0600); the server's config file (0600) carries it too. */
  dbPasswordFile: join(labDir, 'keys', 'temporal-cluster-db.password'),
};
const dbUser = 'temporal';
const databases = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;
const pgEnv = { LD_LIBRARY_PATH: bin.postgresqlLibDir };
const pg = (name: string) => join(bin.postgresqlBinDir, name);

/**
 * PostgreSQL refuses to run as root, and the lab runs as root with its cache and state under a 0700
 * home. `unshare --user` maps this user to `nobody` in a user namespace of its own: PostgreSQL runs with
 * no capabilities as a non-root user, and the lab's files (root's outside) are its own inside, so
 * neither /etc/passwd nor the home directory's permissions change. unshare execs postgres (no fork), so
 * the recorded PID is the postmaster's, which `lab down` stops with SIGINT (fast shutdown).
 */
const asNobody = ['--user', '--map-user=65534', '--map-group=65534'];
const postgresArgs = [
  '-D',
  clusterPaths.pgData,
  '-c',
  `listen_addresses=${host}`,
  '-c',
  `port=${clusterPorts.postgresql}`,
  // TCP on loopback only: no socket directory to own.
  '-c',
  'unix_socket_directories=',
  // The LLVM JIT module is not extracted (lab/install-tools.sh).
  '-c',
  'jit=off',
  // A lab's share of memory (the default is 128MB).
  '-c',
  'shared_buffers=32MB',
];

export const postgresqlComponent: LabComponent = {
  name: 'postgresql',
  address: `postgresql://${host}:${clusterPorts.postgresql}`,
  after: [],
  daemon: {
    name: 'postgresql',
    command: 'unshare',
    args: [...asNobody, pg('postgres'), ...postgresArgs],
    runsAs: [pg('postgres'), ...postgresArgs],
    env: pgEnv,
    // Fast shutdown: clients (the Temporal server) are disconnected, not waited for.
    stopSignal: 'SIGINT',
  },
  probe: () => pgReady(),
};

async function pgReady(): Promise<ProbeResult> {
  const r = await execa(pg('pg_isready'), ['-h', host, '-p', String(clusterPorts.postgresql), '-U', dbUser, '-t', '2'], {
    env: pgEnv,
    reject: false,
  });
  return { ok: r.exitCode === 0, detail: (r.stdout || r.stderr).trim() || `pg_isready exit ${r.exitCode}` };
}

const service = (grpcPort: number) => ({
  rpc: { grpcPort, membershipPort: grpcPort + clusterPorts.membershipOffset, bindOnIP: host },
});

/** The server's static configuration (Temporal's config/development-postgres12.yaml, on the profile's ports). */
function serverConfig(password: string): object {
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${host}:${clusterPorts.postgresql}`,
      connectProtocol: 'tcp',
      user: dbUser,
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      // Fixed for the life of the database.
      numHistoryShards: 4,
      datastores: { default: datastore(databases.temporal, 20), visibility: datastore(databases.visibility, 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: host },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${host}:${clusterPorts.metrics}` } },
    },
    services: {
      frontend: { rpc: { ...service(clusterPorts.frontend).rpc, httpPort: clusterPorts.frontendHttp } },
      history: service(clusterPorts.history),
      matching: service(clusterPorts.matching),
      worker: service(clusterPorts.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: clusterAddress,
          httpAddress: `${host}:${clusterPorts.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
  };
}

export const temporalServerComponent: LabComponent = {
  name: 'temporal-server',
  address: `${clusterAddress} (namespace ${clusterNamespace}, metrics http://${host}:${clusterPorts.metrics}/metrics)`,
  after: ['postgresql'],
  daemon: {
    name: 'temporal-server',
    command: bin.temporalServer,
    // No authorizer: loopback only, like the dev server.
    args: ['--config-file', clusterPaths.serverConfig, '--allow-no-auth', 'start'],
  },
  // The frontend's HTTP API answers once the frontend serves; the namespace check is ensureTemporalCluster's.
  probe: async () => {
    const r = await httpProbe(`http://${host}:${clusterPorts.frontendHttp}/api/v1/system-info`);
    return r.ok ? { ok: true, detail: 'frontend serving' } : r;
  },
};

/** The profile's components, in start order. */
export const clusterComponents: LabComponent[] = [postgresqlComponent, temporalServerComponent];

const say = (msg: string) => process.stderr.write(`[lab] ${msg}\n`);

async function waitHealthy(c: LabComponent, timeoutMs: number): Promise<void> {
  let last = '';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(250)) {
    const probe = await c.probe();
    if (probe.ok) return;
    last = probe.detail;
    if (!(await runningPid(c.daemon.name)))
      throw new Error(`${c.name} exited during start-up; last lines of ${logFile(c.daemon.name)}:\n${await logTail(c.daemon.name)}`);
  }
  throw new Error(`${c.name} at ${c.address} not healthy after ${timeoutMs / 1000}s (${last}); see ${logFile(c.daemon.name)}`);
}

async function dbPassword(): Promise<string> {
  if (!existsSync(clusterPaths.dbPasswordFile)) {
    await mkdir(join(labDir, 'keys'), { recursive: true, mode: 0o700 });
    await writeSecretFile(clusterPaths.dbPasswordFile, `${randomBytes(24).toString('hex')}\n`);
  }
  return (await readFile(clusterPaths.dbPasswordFile, 'utf8')).trim();
}

/** A new data directory (once): the role `temporal` is its superuser, with a password, scram on TCP. */
async function initDatabaseCluster(password: string): Promise<void> {
  if (existsSync(join(clusterPaths.pgData, 'PG_VERSION'))) return;
  await mkdir(clusterPaths.pgData, { recursive: true, mode: 0o700 });
  const pwfile = join(clusterPaths.dir, '.initdb-password');
  await writeSecretFile(pwfile, `${password}\n`);
  try {
    await execa(
      'unshare',
      [
        ...asNobody,
        pg('initdb'),
        '-D',
        clusterPaths.pgData,
        '-U',
        dbUser,
        `--pwfile=${pwfile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ],
      { env: pgEnv },
    );
  } finally {
    await writeFile(pwfile, '');
  }
  say(`postgresql: new data directory ${clusterPaths.pgData}`);
}

/** temporal-sql-tool against one database: the password through its environment, never its arguments. */
const sqlTool = (password: string, database: string, args: string[]) =>
  execa(
    bin.temporalSqlTool,
    [
      '--plugin',
      'postgres12',
      '--endpoint',
      host,
      '--port',
      String(clusterPorts.postgresql),
      '--user',
      dbUser,
      '--database',
      database,
      ...args,
    ],
    { env: { SQL_PASSWORD: password }, reject: false },
  );

const databaseExists = async (password: string, database: string) =>
  (
    await execa(
      pg('psql'),
      [
        '-h',
        host,
        '-p',
        String(clusterPorts.postgresql),
        '-U',
        dbUser,
        '-d',
        'postgres',
        '-tAc',
        `SELECT 1 FROM pg_database WHERE datname = '${database}'`,
      ],
      { env: { ...pgEnv, PGPASSWORD: password } },
    )
  ).stdout.trim() === '1';

/** Creates both databases when missing and brings each schema to the version this server ships (as Temporal's admin-tools image does). */
async function ensureSchemas(password: string): Promise<void> {
  for (const [kind, database] of Object.entries(databases)) {
    if (!(await databaseExists(password, database))) {
      const created = await sqlTool(password, database, ['create-database']);
      if (created.exitCode !== 0) throw new Error(`temporal-sql-tool create-database ${database}: ${created.stderr || created.stdout}`);
    }
    // Version 0.0 makes the schema_version table on a new database and is a no-op on one that has it.
    for (const args of [
      ['setup-schema', '-v', '0.0'],
      ['update-schema', '--schema-name', `postgresql/v12/${kind}`],
    ]) {
      const r = await sqlTool(password, database, args);
      if (r.exitCode !== 0) throw new Error(`temporal-sql-tool ${args[0]} ${database}: ${r.stderr || r.stdout}`);
    }
  }
}

/** The namespace (3 days' retention) and Lifeboat's search attributes on it; what exists is left. */
async function ensureNamespace(): Promise<void> {
  const connection = await Connection.connect({ address: clusterAddress });
  try {
    const service = connection.workflowService;
    try {
      await service.registerNamespace({ namespace: clusterNamespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
      say(`temporal-server: namespace ${clusterNamespace} registered`);
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
    // The frontend learns of a new namespace on its next registry refresh (seconds).
    let last = '';
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      try {
        const added = await registerSearchAttributes(connection, clusterNamespace);
        if (!added.length) return;
        say(`temporal-server: search attributes ${added.join(', ')} added to ${clusterNamespace}`);
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`namespace ${clusterNamespace}: search attributes not registered within 60 s: ${last}`);
    }
  } finally {
    await connection.close();
  }
}

/** Installs (cached) what the profile runs: the Temporal server and its SQL tool, PostgreSQL. */
export async function installClusterTools(installScript: string): Promise<void> {
  await execa('bash', [installScript, 'temporal_server', 'postgresql'], { stdout: 'inherit', stderr: 'inherit' });
}

/**
 * PostgreSQL and the Temporal server running, schemas current, the namespace and its search attributes
 * registered. Idempotent: what runs as specified is left running. Returns the frontend's address.
 */
export async function ensureTemporalCluster(installScript: string): Promise<string> {
  await installClusterTools(installScript);
  await mkdir(clusterPaths.dir, { recursive: true });
  const password = await dbPassword();
  await initDatabaseCluster(password);
  await startComponent(postgresqlComponent);
  await ensureSchemas(password);
  await writeSecretFile(
    clusterPaths.serverConfig,
    `# Written by \`lifeboat lab up --profile cluster\`.\n${stringify(serverConfig(password))}`,
  );
  await startComponent(temporalServerComponent);
  await ensureNamespace();
  return clusterAddress;
}

/** Starts `c` unless it runs as specified (one with another command line is restarted), and waits until it is healthy. */
async function startComponent(c: LabComponent): Promise<void> {
  const t0 = Date.now();
  const wasHealthy = (await runningPid(c.daemon.name)) !== undefined && (await c.probe()).ok;
  await startDaemon(c.daemon);
  await waitHealthy(c, 120_000);
  if (!wasHealthy) say(`${c.name} healthy at ${c.address} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

/**
 * Stops the Temporal server (SIGTERM, its graceful shutdown) and starts it again on the same database,
 * as an upgrade or a crashed pod does. For the tests; returns the PIDs before and after, once the
 * frontend serves again.
 */
export async function restartTemporalServer(): Promise<{ before?: number; after: number }> {
  const before = await runningPid(temporalServerComponent.daemon.name);
  await stopDaemon(temporalServerComponent.daemon.name, 30_000);
  const after = await startDaemon(temporalServerComponent.daemon);
  await waitHealthy(temporalServerComponent, 120_000);
  return { before, after };
}
