// `lifeboat lab fault add <path> <kind> [options] | list | clear [<path>]`: real network faults on the
// lab's loopback paths, through its Toxiproxy (lab/faults.ts). lifeboat-faults.yaml uses the paths.
import type { Command } from 'commander';
import {
  addFault,
  clearFaults,
  faultFromOptions,
  faultKindOptions,
  faultKinds,
  faultPath,
  faultPaths,
  FaultArgumentError,
  listFaults,
  type FaultOptions,
} from '../lab/faults.js';
import { labFaultsConfigFile } from '../lab/topology.js';
import { CliError, exitCodes, printJson, table } from './output.js';

/** Runs an argument check; its FaultArgumentError is bad input (exit 2). */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof FaultArgumentError) throw new CliError(err.message, exitCodes.badInput);
    throw err;
  }
}

export function registerLabFaultCommands(lab: Command): void {
  const fault = lab
    .command('fault')
    .description(`network faults on the lab's paths (${labFaultsConfigFile} goes through them; lab/README.md says what each looks like)`);
  fault
    .command('add')
    .description(
      `set a fault on a path; kinds: ${faultKinds.map((k) => `${k} (${faultKindOptions[k].summary})`).join(', ')}. ` +
        'The same kind again replaces its settings; other kinds stay',
    )
    .argument('<path>', `one of ${faultPaths.map((p) => p.name).join(', ')}`)
    .argument('<kind>', faultKinds.join(' | '))
    .option('--ms <n>', 'latency: the delay in milliseconds')
    .option('--jitter <n>', 'latency: ± this many milliseconds (default 0)')
    .option('--kbps <n>', "bandwidth: kilobytes (not kilobits) per second, Toxiproxy's unit")
    .option('--after-bytes <n>', 'cut: bytes let through on each connection before it is closed')
    .option('--after-ms <n>', 'reset: milliseconds after the first data before the reset (default 0)')
    .option(
      '--direction <d>',
      'upstream (client → server), downstream (server → client) or both; default: both for blackhole, downstream otherwise',
    )
    .action(async (path: string, kind: string, opts: FaultOptions) => {
      const target = checked(() => faultPath(path));
      const parsed = checked(() => faultFromOptions(kind, opts));
      await addFault(target.name, parsed);
      process.stderr.write(`[lab] ${target.name} (${target.listen} → ${target.upstream}): ${kind} set\n`);
    });
  fault
    .command('list')
    .description('each path, where it listens, where it forwards, and its active faults')
    .option('--json', 'print {"paths":[{name,listen,upstream,labPath,faults}]}')
    .action(async (opts: { json?: boolean }) => {
      const paths = await listFaults();
      if (opts.json) printJson({ paths });
      else
        process.stdout.write(
          table(
            ['path', 'listen', 'upstream', 'faults'],
            paths.map((p) => [p.labPath ? p.name : `${p.name} (not a lab path)`, p.listen, p.upstream, p.faults.join('; ') || '-']),
          ),
        );
    });
  fault
    .command('clear')
    .description("remove every fault from a path, or from all the lab's paths")
    .argument('[path]', `one of ${faultPaths.map((p) => p.name).join(', ')}; default: all of them`)
    .action(async (path: string | undefined) => {
      const targets = path === undefined ? faultPaths : [checked(() => faultPath(path))];
      for (const p of targets) await clearFaults(p.name);
      process.stderr.write(`[lab] faults cleared on ${targets.map((p) => p.name).join(', ')}\n`);
    });
}
