// `lifeboat cluster health`
import type { Command } from 'commander';
import type { clusterHealth } from '../workflows/clusterHealth.js';
import { clusterByName, loadConfig } from '../worker/config.js';
import { connectClient, requireWorker } from './temporal.js';
import { exitCodes, printJson, table } from './output.js';

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('clusters Lifeboat manages');
  cluster
    .command('health')
    .description('check Nodes, etcd, Velero and the object store; exit 1 if anything is unhealthy')
    .option('--cluster <name...>', 'only these clusters (default: all configured)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { cluster?: string[]; json?: boolean }) => {
      const config = loadConfig();
      const clusters = (opts.cluster ?? config.clusters.map((c) => c.name)).map((name) => clusterByName(config, name).name);
      const client = await connectClient(config);
      await requireWorker(client, config);
      const workflowId = `cluster-health/${clusters.join('+')}/${new Date().toISOString()}`;
      const report = await client.workflow.execute<typeof clusterHealth>('clusterHealth', {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ clusters }],
        workflowExecutionTimeout: '2 minutes',
      });
      await client.connection.close();
      if (opts.json) printJson({ workflowId, ...report });
      else {
        process.stdout.write(
          table(
            ['component', 'healthy', 'address', 'detail'],
            report.components.map((c) => [c.component, c.healthy ? 'yes' : 'NO', c.address, c.detail]),
          ),
        );
        process.stdout.write(`\n${report.healthy ? 'all healthy' : 'UNHEALTHY'} (workflow ${workflowId})\n`);
      }
      process.exitCode = report.healthy ? exitCodes.ok : exitCodes.failed;
    });
}
