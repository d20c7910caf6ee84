// An OpenSSH server on 127.0.0.1, for the `commands` control-plane driver: Debian's sshd, extracted
// into the tool cache (lab/install-tools.sh), never installed, with its own sshd_config, host key and
// one authorized client key in a state directory. `lab up` runs one as the lab component `sshd`; tests
// start their own from the same code on a temporary directory and a free port (startSshd).
//
// Running as root, sshd insists on its privilege-separation user `sshd` and on /run/sshd (compiled in,
// not configurable). The user comes from nss_wrapper (LD_PRELOAD, a passwd file in the state
// directory), so /etc/passwd is not touched; /run/sshd is created (an empty root-owned 0755 directory
// on the runtime tmpfs, which is what Debian's own unit does). The sessions sshd starts do not inherit
// the preload: sshd builds their environment afresh.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { DaemonSpec } from './processes.js';
import type { ProbeResult } from './probes.js';
import { fileURLToPath } from 'node:url';
import { allLabClusters, bin, etcdMembersOf, host, sshdFiles } from './topology.js';
import { protectSecretFile } from '../worker/secret-files.js';

export interface SshdSetup {
  /** Host key, client key, known_hosts, sshd_config, passwd: created once, kept. */
  stateDir: string;
  /** sshd's own PidFile. */
  pidFile: string;
  /** On 127.0.0.1. */
  port: number;
}

const privsepUid = 64_999;
const runningAsRoot = () => process.getuid?.() === 0;

/** How the sshd of `setup` runs: in the foreground (`-D`), logging to stderr (`-e`). */
export function sshdDaemon(name: string, setup: SshdSetup): DaemonSpec {
  const files = sshdFiles(setup.stateDir);
  return {
    name,
    command: bin.sshd,
    args: ['-D', '-e', '-f', files.config],
    env: {
      LD_LIBRARY_PATH: bin.sshdLibDir,
      ...(runningAsRoot()
        ? { LD_PRELOAD: `${bin.sshdLibDir}/libnss_wrapper.so`, NSS_WRAPPER_PASSWD: files.passwd, NSS_WRAPPER_GROUP: files.group }
        : {}),
    },
  };
}

const sshdConfig = (setup: SshdSetup) => {
  const files = sshdFiles(setup.stateDir);
  return `# Written by lab/sshd.ts; rewritten on every start.
ListenAddress ${host}
Port ${setup.port}
HostKey ${files.hostKey}
PidFile ${setup.pidFile}
AuthorizedKeysFile ${files.identityFile}.pub
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
# The lab's sessions are not PAM sessions; with PAM off, sshd checks the account itself.
UsePAM no
# A test's state directory is below /tmp, which StrictModes refuses (group- and world-writable).
StrictModes no
UseDNS no
PrintMotd no
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
# Activities run a command per member and per host at once.
MaxStartups 64:30:128
`;
};

/** Keys (generated once), sshd_config, known_hosts and nss_wrapper's files for `setup`; /run/sshd when root. */
export async function prepareSshd(setup: SshdSetup): Promise<void> {
  const files = sshdFiles(setup.stateDir);
  await mkdir(setup.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(dirname(setup.pidFile), { recursive: true });
  for (const [key, comment] of [
    [files.hostKey, 'lifeboat lab sshd host key'],
    [files.identityFile, 'lifeboat lab client'],
  ] as const)
    if (!existsSync(key)) await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', key]);
    else await protectSecretFile(key);
  const [type, key] = (await readFile(`${files.hostKey}.pub`, 'utf8')).trim().split(/\s+/);
  await writeFile(files.knownHostsFile, `[${host}]:${setup.port} ${type} ${key}\n`);
  await writeFile(files.config, sshdConfig(setup), { mode: 0o600 });
  const me = userInfo();
  await writeFile(
    files.passwd,
    `${me.username}:x:${me.uid}:${me.gid}:${me.username}:${me.homedir}:${me.shell ?? '/bin/sh'}\nsshd:x:${privsepUid}:65534:sshd privilege separation:/run/sshd:/usr/sbin/nologin\n`,
  );
  await writeFile(files.group, `${me.username}:x:${me.gid}:\nnogroup:x:65534:\n`);
  if (runningAsRoot()) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
}

/** Whether an SSH server answers on 127.0.0.1:`port` with its banner (`SSH-2.0-...`). */
export function sshBannerProbe(port: number, timeoutMs = 3_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    let seen = '';
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      seen += chunk;
      const line = seen.split('\r\n')[0]!;
      if (seen.includes('\n'))
        done(line.startsWith('SSH-2.0-') ? { ok: true, detail: line } : { ok: false, detail: `not an SSH banner: ${line.slice(0, 80)}` });
    });
    socket.on('timeout', () => done({ ok: false, detail: `no SSH banner within ${timeoutMs} ms` }));
    socket.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
    socket.on('end', () => done({ ok: false, detail: 'closed without a banner' }));
  });
}

export interface RunningSshd {
  files: ReturnType<typeof sshdFiles>;
  port: number;
  stop(): Promise<void>;
}

/** Starts an sshd of its own (a test's, not the lab's process): prepared as the lab's, answering before this returns. */
export async function startSshd(setup: SshdSetup): Promise<RunningSshd> {
  await prepareSshd(setup);
  const spec = sshdDaemon('sshd', setup);
  const child = execa(spec.command, spec.args, { env: spec.env, reject: false, all: true, stdin: 'ignore' });
  let exited = false;
  void child.then(() => (exited = true));
  const stop = async () => {
    child.kill('SIGTERM');
    await child;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if ((await sshBannerProbe(setup.port)).ok) break;
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`sshd on port ${setup.port} did not start: ${((await child).all ?? '').trim()}`);
    }
    await sleep(100);
  }
  return { files: sshdFiles(setup.stateDir), port: setup.port, stop };
}

/**
 * The `commands` control-plane driver's configuration for a lab cluster, over the lab's sshd: every
 * command is `node dist/lab/proc.js ...` on the lab's processes, as a kubeadm or systemd host's commands
 * would be `mv` of a manifest or `systemctl` (deploy/control-plane). kwok plays every kubelet. What the
 * etcd-recovery test runs a whole restore through, instead of the `lab` driver.
 */
export function labCommandsControlPlane(cluster: string, ssh: { identityFile: string; knownHostsFile: string; port: number }) {
  const proc = (...args: string[]) => [process.execPath, fileURLToPath(new URL('./proc.js', import.meta.url)), ...args];
  const spec = allLabClusters.find((c) => c.name === cluster);
  if (!spec) throw new Error(`the lab has no cluster ${cluster}`);
  const component = (name: string) => ({ stop: proc('stop', `${name}/${cluster}`), start: proc('start', `${name}/${cluster}`) });
  const [apiserver, controllerManager, scheduler, kubelet] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map(
    component,
  ) as [ReturnType<typeof component>, ReturnType<typeof component>, ReturnType<typeof component>, ReturnType<typeof component>];
  return {
    driver: 'commands' as const,
    ssh: {
      user: userInfo().username,
      port: ssh.port,
      identityFile: ssh.identityFile,
      knownHostsFile: ssh.knownHostsFile,
      connectTimeout: '10s',
    },
    hosts: [{ name: 'lab', address: host }],
    etcdMembers: etcdMembersOf(spec).map((m) => ({
      name: m.name,
      host: 'lab',
      dataDir: m.dataDir,
      peerUrl: m.peerUrl,
      clientUrl: m.clientUrl,
    })),
    etcdutl: bin.etcdutl,
    commands: {
      stopEtcd: proc('stop', 'etcd/{member}'),
      startEtcd: proc('start', 'etcd/{member}'),
      startEtcdJoining: proc('start-joining', 'etcd/{member}', '{initialCluster}'),
      etcdRunning: proc('running', 'etcd/{member}'),
      stopKubeApiserver: apiserver.stop,
      startKubeApiserver: apiserver.start,
      stopKubeControllerManager: controllerManager.stop,
      startKubeControllerManager: controllerManager.start,
      stopKubeScheduler: scheduler.stop,
      startKubeScheduler: scheduler.start,
      stopKubelet: kubelet.stop,
      startKubelet: kubelet.start,
    },
  };
}
