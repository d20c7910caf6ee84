// Integration (no lab process): the `commands` control-plane driver against a real OpenSSH server, the
// lab's own sshd code (lab/sshd.ts) started on a temporary directory and a free port. Needs the lab's
// tools in the cache (lab/install-tools.sh openssh_server etcd): sshd, etcd, etcdctl, etcdutl. Every
// process it stops or starts is its own: a `sleep`, a throwaway etcd.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa, type ResultPromise } from 'execa';
import fc from 'fast-check';
import { commandsControlPlane, snapshotCopyPath } from '../../../activities/control-plane/commands.js';
import type { ControlPlaneDriver, EtcdMemberConfig } from '../../../activities/control-plane/driver.js';
import { quoteForShell, SshRunner } from '../../../activities/control-plane/ssh.js';
import { freePort } from '../../../activities/scratch/processes.js';
import { startSshd, type RunningSshd } from '../../../lab/sshd.js';
import { bin } from '../../../lab/topology.js';
import { controlPlaneSchema, type CommandsControlPlaneConfig } from '../../../worker/config.js';

const root = mkdtempSync(join(tmpdir(), 'lifeboat-ssh-test-'));
// A space and a quote in every path the driver is given: the quoting is exercised by every test.
const work = join(root, "it's data");
const procDir = join(root, 'proc');
const componentLog = join(root, 'components.log');
const proc = fileURLToPath(new URL('../../../lab/proc.js', import.meta.url));
mkdirSync(work);
mkdirSync(procDir);

let sshd: RunningSshd;
let cp: CommandsControlPlaneConfig;
let driver: ControlPlaneDriver;
let member: EtcdMemberConfig;
const children: ResultPromise[] = [];

const pidOf = join(procDir, '{member}.pid');
/** A throwaway "etcd": a sleep started in its own session, so the ssh session ends at once. */
const startSleep = 'setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! >"$1"';

function commandsConfig(overrides: { knownHostsFile?: string; port?: number } = {}): CommandsControlPlaneConfig {
  const config = controlPlaneSchema.parse({
    driver: 'commands',
    ssh: {
      user: userInfo().username,
      port: overrides.port ?? sshd.port,
      identityFile: sshd.files.identityFile,
      knownHostsFile: overrides.knownHostsFile ?? sshd.files.knownHostsFile,
      connectTimeout: '5s',
    },
    hosts: [
      { name: 'cp-a', address: '127.0.0.1' },
      { name: 'cp-b', address: '127.0.0.1' },
    ],
    etcdMembers: [
      { name: 'm0', host: 'cp-a', dataDir: join(work, 'm0'), peerUrl: 'http://127.0.0.1:2380', clientUrl: 'http://127.0.0.1:2379' },
    ],
    etcdutl: bin.etcdutl,
    commands: {
      stopEtcd: ['sh', '-c', 'if [ -e "$1" ]; then kill "$(cat "$1")" 2>/dev/null || true; rm -f "$1"; fi', 'lifeboat', pidOf],
      startEtcd: ['sh', '-c', startSleep, 'lifeboat', pidOf],
      startEtcdJoining: ['sh', '-c', `printf '%s' "$2" >"$1.joined"; ${startSleep}`, 'lifeboat', pidOf, '{initialCluster}'],
      etcdRunning: ['sh', '-c', 'test -e "$1" && kill -0 "$(cat "$1")" 2>/dev/null', 'lifeboat', pidOf],
      ...Object.fromEntries(
        ['KubeApiserver', 'KubeControllerManager', 'KubeScheduler', 'Kubelet'].flatMap((c) =>
          ['stop', 'start'].map((a) => [`${a}${c}`, ['sh', '-c', 'echo "$1 $2" >>"$3"', 'lifeboat', `${a}${c}`, '{host}', componentLog]]),
        ),
      ),
      restartKubelet: ['sh', '-c', 'echo "$1 $2" >>"$3"', 'lifeboat', 'restartKubelet', '{host}', componentLog],
    },
  });
  if (config.driver !== 'commands') throw new Error('expected the commands driver');
  return config;
}

beforeAll(async () => {
  sshd = await startSshd({ stateDir: join(root, 'sshd'), pidFile: join(root, 'sshd.pid'), port: await freePort() });
  cp = commandsConfig();
  driver = commandsControlPlane('test', cp);
  member = cp.etcdMembers[0]!;
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children);
  await driver?.stopEtcdMember(member).catch(() => undefined);
  await sshd?.stop();
  rmSync(root, { recursive: true, force: true });
});

const host = () => cp.hosts[0]!;

/** Strings a shell would mangle unquoted (or badly quoted). */
const nasty = [
  '',
  ' ',
  "it's",
  "'",
  "''",
  `'\\''`,
  '"double" quotes',
  '$HOME ${HOME} $(id) `id`',
  'a  b\tc',
  'line\nbreak\r\n',
  '\\ backslash \\\\',
  '* ? [a-z] ~ ~root {a,b} {}',
  '; rm -rf /nonexistent & | > < #',
  '!event !! ^a^b',
  '-n',
  '--',
  'ünïcødé 😀 ‮',
  'x=1',
  '%s %n',
];

describe('commands driver over a real sshd', () => {
  it('passes every argument to the remote command as it is, whatever it holds', async () => {
    const ssh = new SshRunner('test', cp.ssh);
    const r = await ssh.check(host(), ['printf', '%s\\0', ...nasty]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(nasty);
    expect(quoteForShell('plain/path-1.2:3')).toBe('plain/path-1.2:3');
    expect(quoteForShell("it's")).toBe(`'it'\\''s'`);
    // Any string without a NUL byte (not valid in an argv), in batches of arguments.
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replaceAll('\0', '')),
          { minLength: 1, maxLength: 8 },
        ),
        async (args) => {
          const out = await ssh.check(host(), ['printf', '%s\\0', ...args]);
          expect(out.stdout.split('\0').slice(0, -1)).toEqual(args);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it('looks at, renames, marks and measures paths; mv never replaces; removes exactly the path given', async () => {
    const from = join(work, 'data dir');
    const to = join(work, "data dir.lifeboat-'x'");
    mkdirSync(join(from, 'member'), { recursive: true });
    writeFileSync(join(work, 'other'), 'keep');
    expect(await driver.pathsExist(member, [from, to, join(work, 'missing $(x)')])).toEqual([true, false, false]);
    await driver.rename(member, from, to);
    expect(await driver.pathsExist(member, [from, to])).toEqual([false, true]);

    mkdirSync(from);
    await expect(driver.rename(member, from, to)).rejects.toMatchObject({
      type: 'ControlPlaneActionFailed',
      nonRetryable: true,
      message: expect.stringMatching(/control-plane host cp-a \(.*@127\.0\.0\.1:\d+\) of 'test': `sh -c .*mv -T -n.*` exited 3/),
    });
    expect(existsSync(from) && existsSync(join(to, 'member'))).toBe(true);

    await driver.writeMark(member, join(to, 'member', 'lifeboat-restore'), "run 'one'\n");
    expect(readFileSync(join(to, 'member', 'lifeboat-restore'), 'utf8')).toBe("run 'one'\n");

    const free = await driver.freeBytes(member, join(work, 'not yet', 'there'));
    const df = (await execa('df', ['-PB1', work])).stdout.split('\n')[1]!.split(/\s+/)[3]!;
    expect(Math.abs(free - Number(df))).toBeLessThan(64 * 1024 * 1024);

    await driver.removeUnfinishedRestore(member, to);
    expect([existsSync(to), existsSync(from), readFileSync(join(work, 'other'), 'utf8')]).toEqual([false, true, 'keep']);
    await expect(driver.removeUnfinishedRestore(member, 'relative')).rejects.toMatchObject({ type: 'UnsafeEtcdDataDir' });
  });

  it('stops and starts a member through its configured commands, and says what it found', async () => {
    expect(await driver.etcdMemberRunning(member)).toBe(false);
    expect(await driver.startEtcdMember(member)).toEqual({ alreadyRunning: false });
    const pid = Number(readFileSync(join(procDir, 'm0.pid'), 'utf8'));
    expect(await driver.etcdMemberRunning(member)).toBe(true);
    expect(await driver.startEtcdMember(member)).toEqual({ alreadyRunning: true });
    expect(await driver.stopEtcdMember(member)).toEqual({ wasRunning: true });
    expect(await exited(pid)).toBe(true);
    expect(await driver.stopEtcdMember(member)).toEqual({ wasRunning: false });

    const initialCluster = "m0=http://127.0.0.1:2380,m1=http://127.0.0.1:2382 'x'";
    expect(await driver.startEtcdMemberJoining(member, initialCluster)).toEqual({ alreadyRunning: false });
    expect(readFileSync(join(procDir, 'm0.pid.joined'), 'utf8')).toBe(initialCluster);
    expect(await driver.stopEtcdMember(member)).toEqual({ wasRunning: true });
  });

  it('runs component commands on every host; a restart is stop then start unless one is configured', async () => {
    writeFileSync(componentLog, '');
    expect(await driver.stopComponent('kube-apiserver')).toEqual(['kube-apiserver@cp-a', 'kube-apiserver@cp-b']);
    expect(await driver.restartComponent('kube-scheduler')).toEqual(['kube-scheduler@cp-a', 'kube-scheduler@cp-b']);
    expect(await driver.restartComponent('kubelet')).toEqual(['kubelet@cp-a', 'kubelet@cp-b']);
    expect(readFileSync(componentLog, 'utf8').trim().split('\n').sort()).toEqual(
      [
        'stopKubeApiserver cp-a',
        'stopKubeApiserver cp-b',
        'stopKubeScheduler cp-a',
        'startKubeScheduler cp-a',
        'stopKubeScheduler cp-b',
        'startKubeScheduler cp-b',
        'restartKubelet cp-a',
        'restartKubelet cp-b',
      ].sort(),
    );
  });

  it('an etcdRunning that exits other than 0 or 1 is an error naming the host and the command', async () => {
    const broken = commandsControlPlane('test', {
      ...cp,
      commands: { ...cp.commands, etcdRunning: ['sh', '-c', 'echo no crictl >&2; exit 7'] },
    });
    await expect(broken.etcdMemberRunning(member)).rejects.toMatchObject({
      type: 'ControlPlaneActionFailed',
      nonRetryable: true,
      message: expect.stringMatching(/host cp-a .*`sh -c 'echo no crictl >&2; exit 7'` \(etcdRunning\) exited 7.*no crictl/),
    });
  });

  it('reads etcdutl’s version on the host', async () => {
    expect(await driver.etcdutlVersion(member)).toBe('3.5.21');
  });

  it('restores a real snapshot: streamed over ssh, sha256 checked on arrival, etcdutl run there, the copy removed', async () => {
    const source = await throwawayEtcd(join(root, 'source-etcd'));
    await execa(bin.etcdctl, ['--endpoints', source.url, 'put', 'greeting', "hello 'ssh'"]);
    const snapshot = join(root, 'snapshot.db');
    await execa(bin.etcdctl, ['--endpoints', source.url, 'snapshot', 'save', snapshot]);
    await source.stop();
    const staged = {
      localPath: snapshot,
      sha256: createHash('sha256').update(readFileSync(snapshot)).digest('hex'),
      bytes: readFileSync(snapshot).length,
    };
    const target = `${member.dataDir}.lifeboat-abc-restoring`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const args = (path: string) => [
      'snapshot',
      'restore',
      path,
      '--name=m0',
      `--data-dir=${target}`,
      `--initial-cluster=m0=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      '--bump-revision=1000',
      '--mark-compacted',
    ];
    const beats: string[] = [];

    await expect(driver.restoreEtcdMember(member, { ...staged, sha256: '0'.repeat(64) }, args, (b) => beats.push(b))).rejects.toMatchObject(
      {
        type: 'ControlPlaneActionFailed',
        message: expect.stringContaining(`not the snapshot's ${'0'.repeat(64)}: nothing was restored`),
      },
    );
    expect([existsSync(target), existsSync(snapshotCopyPath(target))]).toEqual([false, false]);

    await driver.restoreEtcdMember(member, staged, args, (b) => beats.push(b));
    expect(beats).toContain('etcdutl snapshot restore on cp-a');
    expect([existsSync(join(target, 'member', 'snap', 'db')), existsSync(snapshotCopyPath(target))]).toEqual([true, false]);

    const restored = await throwawayEtcd(target, 'm0', peer);
    const { stdout } = await execa(bin.etcdctl, ['--endpoints', restored.url, 'get', 'greeting', '--print-value-only']);
    await restored.stop();
    expect(stdout).toBe("hello 'ssh'");
  }, 60_000);

  it('runs the lab’s process helper over ssh (a temporary lab directory: no lab process is touched)', async () => {
    const ssh = new SshRunner('test', cp.ssh);
    const labDir = join(root, 'lab');
    const run = (...args: string[]) => ssh.run(host(), ['env', `LIFEBOAT_LAB_DIR=${labDir}`, process.execPath, proc, ...args]);
    expect((await run('running', 'etcd/primary-0')).exitCode).toBe(1);
    const unknown = await run('running', 'etcd/nope');
    expect([unknown.exitCode, unknown.stderr]).toEqual([
      2,
      expect.stringContaining('no lab process etcd/nope; the lab has: temporal, codec-server, minio, sshd'),
    ]);
  });

  it('refuses a host whose key does not match known_hosts, non-retryably, naming the file', async () => {
    const other = join(root, 'other-key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const knownHostsFile = join(root, 'wrong_known_hosts');
    const [type, key] = readFileSync(`${other}.pub`, 'utf8').split(' ');
    writeFileSync(knownHostsFile, `[127.0.0.1]:${sshd.port} ${type} ${key}\n`);
    const wrong = commandsControlPlane('test', commandsConfig({ knownHostsFile }));
    await expect(wrong.pathsExist(member, [work])).rejects.toMatchObject({
      type: 'ControlPlaneActionFailed',
      nonRetryable: true,
      message: expect.stringMatching(
        new RegExp(
          `^control-plane host cp-a .*\`sh -c .*was not run: the host key did not match the one for it in known_hosts file ${knownHostsFile}`,
        ),
      ),
    });
    const empty = join(root, 'empty_known_hosts');
    writeFileSync(empty, '');
    await expect(commandsControlPlane('test', commandsConfig({ knownHostsFile: empty })).etcdMemberRunning(member)).rejects.toMatchObject({
      type: 'ControlPlaneActionFailed',
      nonRetryable: true,
      message: expect.stringContaining(`the host key did not match any in known_hosts file ${empty}`),
    });
  });

  it('a host that does not answer is retryable', async () => {
    const down = commandsControlPlane('test', commandsConfig({ port: await freePort() }));
    await expect(down.stopComponent('kubelet')).rejects.toMatchObject({
      type: 'ControlPlaneHostUnreachable',
      nonRetryable: false,
      message: expect.stringMatching(
        /control-plane host cp-[ab] .*`sh -c .*stopKubelet.*`: the host did not answer \(ssh: .*Connection refused\)/,
      ),
    });
  });
});

/** Whether a process is gone (or a zombie nobody reaped) within 5 s. */
async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) return true;
    await sleep(100);
  }
  return false;
}

/** An etcd of this test's own on free loopback ports, answering before this returns. */
async function throwawayEtcd(dataDir: string, name = 'default', peerUrl?: string) {
  const url = `http://127.0.0.1:${await freePort()}`;
  const peer = peerUrl ?? `http://127.0.0.1:${await freePort()}`;
  const child = execa(
    bin.etcd,
    [
      '--name',
      name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${name}=${peer}`,
      '--log-level',
      'error',
    ],
    { reject: false },
  );
  children.push(child);
  for (let i = 0; i < 100; i++) {
    if ((await execa(bin.etcdctl, ['--endpoints', url, 'endpoint', 'health'], { reject: false })).exitCode === 0) break;
    await sleep(100);
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await child;
    },
  };
}
