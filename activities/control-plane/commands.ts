// The `commands` control-plane driver: each action is a configured argv list run on a control-plane
// host over SSH (ssh.ts), with `{host}`, `{member}`, `{dataDir}` and `{initialCluster}` replaced in each
// argument. The configured commands say how this cluster runs etcd and its components (systemd units,
// kubeadm's static pods: deploy/control-plane/); what the driver does to a data dir is fixed here, not
// configurable: `test -e`, `mv -T -n`, `rm -rf` of exactly the given path, `df -PB1`, and a restore
// that streams the snapshot over ssh's stdin, checks its sha256 on arrival, runs etcdutl there and
// removes the copy.
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import type { CommandsControlPlaneConfig, ControlPlaneCommands } from '../../worker/config.js';
import { type ControlPlaneComponent, type ControlPlaneDriver, type EtcdMemberConfig } from './driver.js';
import { SshRunner, tail, type ControlPlaneHost } from './ssh.js';

/** The configuration keys of a component's commands: `kube-controller-manager` is `...KubeControllerManager`. */
const keyOf = (component: ControlPlaneComponent) =>
  component
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('') as 'KubeApiserver' | 'KubeControllerManager' | 'KubeScheduler' | 'Kubelet';

/** `argv` with each placeholder replaced in every argument. */
export function substitute(argv: string[], values: Record<string, string>): string[] {
  return argv.map((arg) => arg.replace(/\{(host|member|dataDir|initialCluster)\}/g, (whole, name: string) => values[name] ?? whole));
}

/** The data dir a restore writes, read from etcdutl's arguments (`--data-dir=...`). */
const restoreTargetOf = (args: string[]) => {
  const i = args.findIndex((a) => a === '--data-dir' || a.startsWith('--data-dir='));
  return i === -1 ? undefined : args[i]!.includes('=') ? args[i]!.slice('--data-dir='.length) : args[i + 1];
};

/** Where a restore's snapshot copy lives on the member's host: beside the restore target, on its filesystem. */
export const snapshotCopyPath = (restoreTarget: string) => `${restoreTarget}.snapshot.db`;

// The fixed file operations, each one `sh -c` script with its paths as positional parameters (never in the script).
const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'lifeboat', ...args];
const scripts = {
  pathsExist: 'for p; do if test -e "$p"; then echo 1; else echo 0; fi; done',
  // mv -n never replaces: a target already there is a failure the check reports, not data lost.
  rename: 'mv -T -n -- "$1" "$2" && test ! -e "$1" && test -e "$2" || { echo "after mv: $1 still there or $2 missing" >&2; exit 3; }',
  remove: 'rm -rf -- "$1"',
  // Each entry beside the data dir named <base>.lifeboat-*: its change time (seconds since the epoch), the time now, its path.
  asideEntries:
    'd=$(dirname -- "$1"); b=$(basename -- "$1"); now=$(date +%s); for p in "$d/$b".lifeboat-*; do test -e "$p" && printf "%s %s %s\\n" "$(stat -c %Z -- "$p")" "$now" "$p"; done; true',
  writeMark: 'umask 077 && cat > "$1"',
  freeBytes: 'p=$1; while test ! -e "$p" && test "$p" != /; do p=$(dirname -- "$p"); done; df -PB1 -- "$p"',
  receive: 'umask 077 && cat > "$1" && sha256sum -- "$1"',
};

export function commandsControlPlane(cluster: string, cp: CommandsControlPlaneConfig): ControlPlaneDriver {
  const ssh = new SshRunner(cluster, cp.ssh);
  const commands: ControlPlaneCommands = cp.commands;

  const hostOf = (member: EtcdMemberConfig): ControlPlaneHost => {
    const name = 'host' in member ? member.host : undefined;
    const host = cp.hosts.find((h) => h.name === name);
    if (!host)
      throw ApplicationFailure.nonRetryable(
        `etcd member ${member.name} of '${cluster}' names no host of clusters[].controlPlane.hosts (${cp.hosts.map((h) => h.name).join(', ')})`,
        failureTypes.ControlPlaneActionFailed,
      );
    return host;
  };
  const memberCommand = (member: EtcdMemberConfig, argv: string[], initialCluster?: string) =>
    substitute(argv, {
      host: hostOf(member).name,
      member: member.name,
      dataDir: member.dataDir,
      ...(initialCluster !== undefined ? { initialCluster } : {}),
    });

  async function etcdMemberRunning(member: EtcdMemberConfig): Promise<boolean> {
    const host = hostOf(member);
    const argv = memberCommand(member, commands.etcdRunning);
    const r = await ssh.run(host, argv);
    if (r.exitCode === 0 || r.exitCode === 1) return r.exitCode === 0;
    throw ssh.commandFailed(
      host,
      argv,
      `(etcdRunning) exited ${r.exitCode}, neither 0 (running) nor 1 (not running): ${tail(r.stderr || r.stdout) || '(no output)'}`,
    );
  }

  async function startEtcd(member: EtcdMemberConfig, argv: string[], initialCluster?: string) {
    if (await etcdMemberRunning(member)) return { alreadyRunning: true };
    await ssh.check(hostOf(member), memberCommand(member, argv, initialCluster));
    return { alreadyRunning: false };
  }

  /** Runs a component's command on every host at once; one failure fails the action after all have finished. */
  async function onEveryHost(component: ControlPlaneComponent, argvOf: (host: ControlPlaneHost) => string[][]): Promise<string[]> {
    const results = await Promise.allSettled(
      cp.hosts.map(async (host) => {
        for (const argv of argvOf(host)) await ssh.check(host, substitute(argv, { host: host.name }));
        return `${component}@${host.name}`;
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<string>).value);
  }

  const componentCommands = (component: ControlPlaneComponent) => {
    const key = keyOf(component);
    return { stop: commands[`stop${key}`], start: commands[`start${key}`], restart: commands[`restart${key}`] };
  };

  return {
    async pathsExist(member, paths) {
      if (!paths.length) return [];
      const { stdout } = await ssh.check(hostOf(member), sh(scripts.pathsExist, ...paths));
      return stdout
        .trim()
        .split('\n')
        .map((line) => line === '1');
    },
    async rename(member, from, to) {
      await ssh.check(hostOf(member), sh(scripts.rename, from, to));
    },
    async removeUnfinishedRestore(member, path) {
      if (!path.startsWith('/') || path.replace(/\/+$/, '') === '')
        throw ApplicationFailure.nonRetryable(
          `refusing to remove '${path}' on ${ssh.describe(hostOf(member))}: not an absolute path below /`,
          failureTypes.UnsafeEtcdDataDir,
        );
      await ssh.check(hostOf(member), sh(scripts.remove, path));
    },
    async asideEntries(member, dataDir) {
      const { stdout } = await ssh.check(hostOf(member), sh(scripts.asideEntries, dataDir));
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [changed, now, ...path] = line.split(' ');
          return { path: path.join(' '), ageSeconds: Number(now) - Number(changed) };
        });
    },
    async writeMark(member, path, text) {
      await ssh.check(hostOf(member), sh(scripts.writeMark, path), { input: text });
    },
    async freeBytes(member, path) {
      const host = hostOf(member);
      const argv = sh(scripts.freeBytes, path);
      const { stdout } = await ssh.check(host, argv);
      // POSIX df -P: a header, then `filesystem blocks used available capacity mountpoint`.
      const available = Number(stdout.trim().split('\n')[1]?.trim().split(/\s+/)[3]);
      if (!Number.isSafeInteger(available)) throw ssh.commandFailed(host, argv, `printed no available byte count: ${tail(stdout)}`);
      return available;
    },
    etcdMemberRunning,
    async stopEtcdMember(member) {
      const wasRunning = await etcdMemberRunning(member);
      await ssh.check(hostOf(member), memberCommand(member, commands.stopEtcd));
      return { wasRunning };
    },
    startEtcdMember(member) {
      return startEtcd(member, commands.startEtcd);
    },
    startEtcdMemberJoining(member, initialCluster) {
      return startEtcd(member, commands.startEtcdJoining, initialCluster);
    },
    async etcdutlVersion(member) {
      const host = hostOf(member);
      const argv = [cp.etcdutl, 'version'];
      const { stdout } = await ssh.check(host, argv);
      const version = /etcdutl version:\s*(\S+)/.exec(stdout)?.[1];
      if (!version) throw ssh.commandFailed(host, argv, `printed no etcdutl version: ${tail(stdout)}`);
      return version;
    },
    async restoreEtcdMember(member, snapshot, etcdutlArgs, beat) {
      const host = hostOf(member);
      const copy = snapshotCopyPath(restoreTargetOf(etcdutlArgs('')) ?? `${member.dataDir}.lifeboat-restore`);
      const beating = setInterval(() => beat(`snapshot to ${host.name}, etcdutl snapshot restore there`), 5_000);
      try {
        const receive = sh(scripts.receive, copy);
        const { stdout } = await ssh.check(host, receive, { inputFile: snapshot.localPath });
        const arrived = stdout.trim().split(/\s+/)[0];
        if (arrived !== snapshot.sha256)
          throw ssh.commandFailed(
            host,
            receive,
            `received ${snapshot.localPath} as ${copy} with sha256 ${arrived}, not the snapshot's ${snapshot.sha256}: nothing was restored`,
          );
        beat(`etcdutl snapshot restore on ${host.name}`);
        await ssh.check(host, [cp.etcdutl, ...etcdutlArgs(copy)]);
      } finally {
        clearInterval(beating);
        // The copy is the snapshot's plaintext: removed in every outcome where the host still answers.
        await ssh.run(host, ['rm', '-f', '--', copy]).catch(() => undefined);
      }
    },
    stopComponent(component) {
      const { stop } = componentCommands(component);
      return onEveryHost(component, () => [stop]);
    },
    startComponent(component) {
      const { start } = componentCommands(component);
      return onEveryHost(component, () => [start]);
    },
    restartComponent(component) {
      const { stop, start, restart } = componentCommands(component);
      return onEveryHost(component, () => (restart ? [restart] : [stop, start]));
    },
  };
}
