// The `lab` control-plane driver: the lab's etcd members are processes of the lab's own process
// manager on this machine (lab/processes.ts), named `etcd/<member>`. Starting a member to join an
// existing cluster is its lab command line with `--initial-cluster-state existing` and the
// `--initial-cluster` the member add answered; once its data dir holds data, etcd ignores both, so a
// later `lab up` that starts it with the lab's own flags changes nothing.
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { labComponents } from '../../lab/components.js';
import { logTail, runningPid, startDaemon, stopDaemon } from '../../lab/processes.js';
import type { DaemonSpec } from '../../lab/processes.js';
import { failureTypes } from '../../model/failures.js';
import type { ControlPlaneDriver, EtcdMemberConfig } from './index.js';

/** `--flag value` replaced (or appended) in an argument list. */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return i === -1 ? [...args, flag, value] : [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

export function labControlPlane(cluster: string): ControlPlaneDriver {
  const specOf = (member: EtcdMemberConfig): DaemonSpec => {
    const c = labComponents.find((x) => x.daemon.name === `etcd/${member.name}`);
    if (!c)
      throw ApplicationFailure.nonRetryable(
        `the lab has no process etcd/${member.name} (cluster '${cluster}'): is this the lab's configuration?`,
        failureTypes.ControlPlaneActionFailed,
      );
    return c.daemon;
  };
  return {
    pathsExist(_member, paths) {
      return Promise.resolve(paths.map((p) => existsSync(p)));
    },
    async rename(_member, from, to) {
      await rename(from, to);
    },
    async stopEtcdMember(member) {
      return { wasRunning: await stopDaemon(specOf(member).name) };
    },
    async startEtcdMemberJoining(member, initialCluster) {
      const base = specOf(member);
      const spec: DaemonSpec = {
        ...base,
        args: withFlag(withFlag(base.args, '--initial-cluster', initialCluster), '--initial-cluster-state', 'existing'),
      };
      const before = await runningPid(spec.name);
      const pid = await startDaemon(spec);
      // A member that exits at once (a flag it refuses, a data dir it cannot use) fails here, saying why, not at the promote's deadline.
      await new Promise((r) => setTimeout(r, 2_000));
      if (!(await runningPid(spec.name)))
        throw ApplicationFailure.nonRetryable(
          `etcd member ${member.name} of '${cluster}' exited right after it was started: ${(await logTail(spec.name, 5)).replaceAll('\n', ' | ')}`,
          failureTypes.ControlPlaneActionFailed,
        );
      return { alreadyRunning: before === pid, pid };
    },
  };
}
