// `lifeboat lab up | status | env | down | fault`
import { Option, type Command } from 'commander';
import { labDown, labEnv, labStatus, labUp, type ComponentStatus } from '../lab/lab.js';
import { exitCodes, printJson, table } from './output.js';
import { registerLabFaultCommands } from './lab-fault.js';

function printStatus(components: ComponentStatus[], json: boolean | undefined): void {
  if (json) printJson({ components });
  else {
    process.stdout.write(
      table(
        ['component', 'healthy', 'rss', 'address', 'detail'],
        components.map((c) => [c.name, c.healthy ? 'yes' : 'NO', c.rssMiB === undefined ? '-' : `${c.rssMiB} MiB`, c.address, c.detail]),
      ),
    );
    process.stdout.write(`total RSS of lab processes: ${components.reduce((sum, c) => sum + (c.rssMiB ?? 0), 0)} MiB\n`);
  }
  process.exitCode = components.every((c) => c.healthy) ? exitCodes.ok : exitCodes.failed;
}

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('the local lab of real components: Temporal, two Kubernetes clusters, MinIO, Velero');
  lab
    .command('up')
    .description('install (cached) and start every lab component; does nothing on a running lab')
    .option('--with-worker', 'also run a Lifeboat worker as a lab process')
    .addOption(
      new Option('--profile <profile>', 'cluster: also PostgreSQL and the Temporal server built from source (frontend 127.0.0.1:7243)')
        .choices(['default', 'cluster'])
        .default('default'),
    )
    .option('--json', 'print the resulting status as JSON')
    .action(async (opts: { withWorker?: boolean; profile: 'default' | 'cluster'; json?: boolean }) =>
      printStatus(await labUp({ withWorker: opts.withWorker, profile: opts.profile }), opts.json),
    );
  lab
    .command('status')
    .description('each component, its address and health; exit 1 if any is unhealthy')
    .option('--json', 'print {"components":[{name,healthy,address,detail}]}')
    .action(async (opts: { json?: boolean }) => printStatus(await labStatus(), opts.json));
  lab
    .command('env')
    .description('the variables the worker and tests read (eval "$(lifeboat lab env)")')
    .option('--json', 'print them as one JSON object')
    .action((opts: { json?: boolean }) => {
      const env = labEnv();
      if (opts.json) printJson(Object.fromEntries(env));
      else process.stdout.write(env.map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`).join('\n') + '\n');
    });
  lab
    .command('down')
    .description('stop the processes the lab started (by PID); data is kept')
    .option('--wipe', 'also delete the lab data, certificates and logs')
    .action(async (opts: { wipe?: boolean }) => {
      const stopped = await labDown({ wipe: opts.wipe });
      process.stderr.write(
        `[lab] stopped ${stopped.length ? stopped.join(', ') : 'nothing (no lab process was running)'}${opts.wipe ? '; data wiped' : ''}\n`,
      );
    });
  registerLabFaultCommands(lab);
}
