// The `lab` control-plane driver: the lab's etcd members and Kubernetes components are processes of the
// lab's own process manager on this machine (lab/processes.ts), named `etcd/<member>`,
// `kube-apiserver/<cluster>`, ...; kwok plays every kubelet (`kwok/<cluster>`). Starting a member to
// join an existing cluster is its lab command line with `--initial-cluster-state existing` and the
// `--initial-cluster` the member add answered; once its data dir holds data, etcd ignores both, so a
// later `lab up` that starts it with the lab's own flags changes nothing.
import { existsSync } from 'node:fs';
import { readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { execa } from 'execa';
import { joiningEtcdSpec, labComponents } from '../../lab/components.js';
import { bin } from '../../lab/topology.js';
import { logTail, runningPid, startDaemon, stopDaemon, unrecordedPids } from '../../lab/processes.js';
import type { DaemonSpec } from '../../lab/processes.js';
import { failureTypes } from '../../model/failures.js';
import type { ControlPlaneComponent, ControlPlaneDriver, EtcdMemberConfig } from './driver.js';

/** The lab process that plays each component on a cluster: kwok is every kubelet. */
const processOf = (component: ControlPlaneComponent, cluster: string) =>
  component === 'kubelet' ? `kwok/${cluster}` : `${component}/${cluster}`;

/** The nearest existing ancestor of a path (a data dir moved aside has none of its own). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Until the lab component's own probe (the API server's /readyz) passes; ControlPlaneActionFailed after 2 minutes. */
async function untilReady(name: string): Promise<void> {
  const c = labComponents.find((x) => x.daemon.name === name)!;
  let last = '';
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const r = await c.probe().catch((err: Error) => ({ ok: false, detail: err.message }));
    if (r.ok) return;
    last = r.detail;
  }
  throw ApplicationFailure.nonRetryable(`${name} did not become ready within 2 minutes: ${last}`, failureTypes.ControlPlaneActionFailed);
}

export function labControlPlane(cluster: string): ControlPlaneDriver {
  const specNamed = (name: string): DaemonSpec => {
    const c = labComponents.find((x) => x.daemon.name === name);
    if (!c)
      throw ApplicationFailure.nonRetryable(
        `the lab has no process ${name} (cluster '${cluster}'): is this the lab's configuration?`,
        failureTypes.ControlPlaneActionFailed,
      );
    return c.daemon;
  };
  const specOf = (member: EtcdMemberConfig) => specNamed(`etcd/${member.name}`);

  /** Starts a lab process and checks that it is still there 1 s later, so one that exits at once fails here, saying why. */
  async function start(spec: DaemonSpec, what: string): Promise<{ alreadyRunning: boolean }> {
    const before = await runningPid(spec.name);
    const pid = await startDaemon(spec);
    if (before === pid) return { alreadyRunning: true };
    await new Promise((r) => setTimeout(r, 1_000));
    if (!(await runningPid(spec.name)))
      throw ApplicationFailure.nonRetryable(
        `${what} of '${cluster}' exited right after it was started: ${(await logTail(spec.name, 5)).replaceAll('\n', ' | ')}`,
        failureTypes.ControlPlaneActionFailed,
      );
    return { alreadyRunning: false };
  }

  return {
    pathsExist(_member, paths) {
      return Promise.resolve(paths.map((p) => existsSync(p)));
    },
    async rename(_member, from, to) {
      await rename(from, to);
    },
    async removeUnfinishedRestore(_member, path) {
      await rm(path, { recursive: true, force: true });
    },
    async asideEntries(_member, dataDir) {
      const prefix = `${basename(dataDir)}.lifeboat-`;
      const names = (await readdir(dirname(dataDir))).filter((n) => n.startsWith(prefix));
      return Promise.all(
        names.map(async (n) => {
          const path = join(dirname(dataDir), n);
          return { path, ageSeconds: (Date.now() - (await stat(path)).ctimeMs) / 1000 };
        }),
      );
    },
    async writeMark(_member, path, text) {
      await writeFile(path, text, { mode: 0o600 });
    },
    async freeBytes(_member, path) {
      const s = await statfs(existingAncestor(path));
      return s.bavail * s.bsize;
    },
    async etcdMemberRunning(member) {
      return (await runningPid(specOf(member).name)) !== undefined || unrecordedPids(specOf(member)).length > 0;
    },
    async stopEtcdMember(member) {
      return { wasRunning: await stopDaemon(specOf(member).name, undefined, specOf(member)) };
    },
    startEtcdMember(member) {
      return start(specOf(member), `etcd member ${member.name}`);
    },
    startEtcdMemberJoining(member, initialCluster) {
      return start(joiningEtcdSpec(specOf(member), initialCluster), `etcd member ${member.name}`);
    },
    async etcdutlVersion() {
      const { stdout } = await execa(bin.etcdutl, ['version']);
      return /etcdutl version:\s*(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
    },
    async restoreEtcdMember(_member, snapshot, etcdutlArgs, beat) {
      // The worker is the member's host: etcdutl reads the staged file where it is. setpriv's
      // parent-death signal ends etcdutl with the worker, so a retry never races a dead worker's restore.
      const beating = setInterval(() => beat('etcdutl snapshot restore'), 5_000);
      try {
        const r = await execa('setpriv', ['--pdeathsig', 'KILL', bin.etcdutl, ...etcdutlArgs(snapshot.localPath)], {
          reject: false,
          all: true,
        });
        if (r.exitCode !== 0)
          throw ApplicationFailure.nonRetryable(
            `etcdutl snapshot restore failed (exit ${r.exitCode}): ${(r.all ?? '').trim().split('\n').slice(-3).join(' | ')}`,
            failureTypes.ControlPlaneActionFailed,
          );
      } finally {
        clearInterval(beating);
      }
    },
    async stopComponent(component) {
      const spec = specNamed(processOf(component, cluster));
      await stopDaemon(spec.name, undefined, spec);
      return [spec.name];
    },
    async startComponent(component) {
      const spec = specNamed(processOf(component, cluster));
      await start(spec, spec.name);
      // As `systemctl start` of a notify unit: the API server counts as started once it is ready. The
      // lab has no supervisor to restart a controller-manager started (by a rollback) before the API
      // answers, and kube-controller-manager exits when it cannot read its configuration from the API.
      if (component === 'kube-apiserver') await untilReady(spec.name);
      return [spec.name];
    },
    async restartComponent(component) {
      const spec = specNamed(processOf(component, cluster));
      await stopDaemon(spec.name, undefined, spec);
      await start(spec, spec.name);
      return [spec.name];
    },
  };
}
