// `node dist/lab/proc.js stop|start|running <process>` (and `start-joining <etcd member process> <initial cluster>`): the lab's process manager (lab/processes.ts) for
// one lab process by name (`etcd/primary-0`, `kube-apiserver/primary`), as a command a `commands`
// control-plane driver runs over SSH on the lab's sshd. `start` starts the process as `lab up` does,
// `stop` stops it, `running` exits 0 when it runs and 1 when it does not. Any other problem exits 2.
import { joiningEtcdSpec, labComponents } from './components.js';
import { runningPid, startDaemon, stopDaemon, unrecordedPids } from './processes.js';

const usage =
  'usage: proc.js stop|start|running <lab process, e.g. etcd/primary-0> | start-joining <etcd member process> <initial cluster>';

async function main(action: string | undefined, name: string | undefined, initialCluster: string | undefined): Promise<number> {
  const spec = labComponents.find((c) => c.daemon.name === name)?.daemon;
  if (!action || !name) return fail(usage);
  if (!spec) return fail(`no lab process ${name}; the lab has: ${labComponents.map((c) => c.daemon.name).join(', ')}`);
  switch (action) {
    case 'running':
      return (await runningPid(spec.name)) || unrecordedPids(spec).length ? 0 : 1;
    case 'start':
      process.stdout.write(`${spec.name}: pid ${await startDaemon(spec)}\n`);
      return 0;
    case 'start-joining':
      if (!initialCluster || !spec.name.startsWith('etcd/')) return fail(usage);
      process.stdout.write(`${spec.name}: pid ${await startDaemon(joiningEtcdSpec(spec, initialCluster))}\n`);
      return 0;
    case 'stop':
      process.stdout.write(`${spec.name}: ${(await stopDaemon(spec.name, undefined, spec)) ? 'stopped' : 'was not running'}\n`);
      return 0;
    default:
      return fail(usage);
  }
}

function fail(message: string): number {
  process.stderr.write(`${message}\n`);
  return 2;
}

process.exitCode = await main(process.argv[2], process.argv[3], process.argv[4]).catch((err: unknown) =>
  fail(`proc.js: ${(err as Error).message}`),
);
