// The `lifeboat` command: the one entry point for people.
import { Command, CommanderError } from 'commander';
import { ConfigError, UnknownNameError } from '../worker/config.js';
import { registerClusterCommands } from './cluster.js';
import { registerLabCommands } from './lab.js';
import { registerBackupCommands } from './backup.js';
import { registerScheduleCommands } from './schedule.js';
import { registerSnapshotCommands } from './snapshots.js';
import { registerVerifyCommands } from './verify.js';
import { registerGameDayCommands } from './gameday.js';
import { registerFailoverCommands } from './failover.js';
import { registerRunbookCommands } from './runbook-commands.js';
import { registerNodeCommands } from './node.js';
import { registerEtcdCommands } from './etcd.js';
import { registerCodecServerCommand } from './codec-server.js';
import { registerHistoryCommand } from './history.js';
import { registerWitnessCommand } from './witness.js';
import { CliError, exitCodes } from './output.js';
import { setIdentityOverride } from './identity.js';
import { endCommandTrace, startCommandTrace } from './tracing.js';

const program = new Command('lifeboat')
  .description('Disaster-recovery runbooks for Kubernetes, on Temporal')
  .showHelpAfterError()
  .exitOverride()
  .option(
    '--as <name>',
    'act as NAME instead of the OS user, where the configuration allows it (cli.allowIdentityOverride); also LIFEBOAT_AS',
  )
  .option('--verbose', "also print this command's trace id on stderr (tracing: tracing.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT)")
  .hook('preAction', async (_, actionCommand) => {
    const { as, verbose } = program.opts<{ as?: string; verbose?: boolean }>();
    setIdentityOverride(as);
    const traceId = await startCommandTrace(actionCommand);
    if (verbose)
      process.stderr.write(
        traceId
          ? `lifeboat: trace id ${traceId}\n`
          : 'lifeboat: no trace (tracing is off: set tracing.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT)\n',
      );
  });

program
  .command('worker')
  .description('run a worker: polls the configured task queue until SIGTERM')
  .action(async () => {
    const { runWorkerProcess } = await import('../worker/main.js');
    process.exitCode = await runWorkerProcess();
  });
registerLabCommands(program);
registerClusterCommands(program);
registerBackupCommands(program);
registerSnapshotCommands(program);
registerScheduleCommands(program);
registerVerifyCommands(program);
registerGameDayCommands(program);
registerFailoverCommands(program);
registerRunbookCommands(program);
registerNodeCommands(program);
registerEtcdCommands(program);
registerCodecServerCommand(program);
registerHistoryCommand(program);
registerWitnessCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? exitCodes.ok : exitCodes.badInput;
  } else if (err instanceof ConfigError || err instanceof UnknownNameError) {
    // A configuration that cannot be used, or a name on the command line it does not have: bad input.
    process.stderr.write(`lifeboat: ${err.message}\n`);
    process.exitCode = exitCodes.badInput;
  } else if (err instanceof CliError) {
    process.stderr.write(`lifeboat: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    // Expected failures (a component down, a start-up that timed out) read as one message; the stack
    // is for developers who ask for it.
    process.stderr.write(`lifeboat: ${process.env.LIFEBOAT_DEBUG ? (err as Error).stack : (err as Error).message}\n`);
    process.exitCode = exitCodes.failed;
  }
}
await endCommandTrace(Number(process.exitCode ?? 0));
