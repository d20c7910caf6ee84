// Integration (lab: Temporal): `lifeboat schedule apply | list` make Temporal Schedules from config.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { stringify } from 'yaml';
import { labConfig as labConfigText } from '../../lab/lab.js';
import { labConfigFile } from '../../lab/topology.js';
import { lifeboat } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-schedule-'));
const connection = await Connection.connect({ address: '127.0.0.1:7233' });
const client = new Client({ connection });
afterAll(async () => {
  await lifeboat(['schedule', 'apply'], { LIFEBOAT_CONFIG: labConfigFile });
  await connection.close();
});

describe('lifeboat schedule', () => {
  it('apply creates a schedule per configured cluster with overlap skip and the catch-up window', async () => {
    const result = await lifeboat(['schedule', 'apply', '--json'], { LIFEBOAT_CONFIG: labConfigFile });
    expect(result.exitCode).toBe(0);
    const applied = JSON.parse(result.stdout) as { created: string[]; updated: string[]; deleted: string[] };
    expect([...applied.created, ...applied.updated].sort()).toEqual(['etcd-snapshot/primary', 'etcd-snapshot/standby', 'gameday']);
    const d = await client.schedule.getHandle('etcd-snapshot/primary').describe();
    expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(d.policies.catchupWindow).toBe(3_600_000);
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'etcdSnapshot', args: [{ cluster: 'primary' }] });
    for (const t of d.info.nextActionTimes) expect(t.getUTCHours() % 6 === 0 && t.getUTCMinutes() === 0).toBe(true);

    const list = JSON.parse((await lifeboat(['schedule', 'list', '--json'], { LIFEBOAT_CONFIG: labConfigFile })).stdout) as { schedules: { id: string; cron: string; nextRuns: string[] }[] };
    expect(list.schedules.find((s) => s.id === 'etcd-snapshot/primary')).toMatchObject({ cron: '0 */6 * * *', nextRuns: expect.arrayContaining([expect.stringMatching(/T(00|06|12|18):00:00/)]) });
  });

  it('apply creates the quarterly game day schedule', async () => {
    await lifeboat(['schedule', 'apply'], { LIFEBOAT_CONFIG: labConfigFile });
    const d = await client.schedule.getHandle('gameday').describe();
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'gameDay', args: [{}] });
    expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    // '0 9 1 1,4,7,10 *': 09:00 UTC on the first day of each quarter.
    expect(d.info.nextActionTimes.length).toBeGreaterThan(0);
    for (const t of d.info.nextActionTimes) {
      expect([t.getUTCMonth() % 3, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes()]).toEqual([0, 1, 9, 0]);
    }
  });

  it('list shows the last run of a schedule with its status', async () => {
    await lifeboat(['schedule', 'apply'], { LIFEBOAT_CONFIG: labConfigFile });
    const handle = client.schedule.getHandle('etcd-snapshot/standby');
    await handle.trigger();
    let actions = 0;
    for (let i = 0; i < 50 && actions === 0; i++) {
      actions = (await handle.describe()).info.recentActions.length;
      if (!actions) await new Promise((r) => setTimeout(r, 200));
    }
    const list = JSON.parse((await lifeboat(['schedule', 'list', '--json'], { LIFEBOAT_CONFIG: labConfigFile })).stdout) as { schedules: { id: string; lastResult: string }[] };
    expect(list.schedules.find((s) => s.id === 'etcd-snapshot/standby')!.lastResult).toMatch(/^(RUNNING|COMPLETED) \(\d{4}-\d\d-\d\dT/);
    // No worker polls the lab's task queue during tests: end the run rather than leave it waiting.
    const last = (await handle.describe()).info.recentActions.at(-1)!;
    if ('workflow' in last.action) {
      await client.workflow.getHandle(last.action.workflow.workflowId).terminate('test cleanup').catch(() => undefined);
    }
  });

  it('apply follows the config: a changed cron updates, a cluster without a schedule loses it', async () => {
    const config = labConfigText() as { clusters: { name: string; etcdSnapshots: { schedule?: unknown } }[] };
    config.clusters[0]!.etcdSnapshots.schedule = { cron: '15 3 * * *', catchupWindow: '30m' };
    delete config.clusters[1]!.etcdSnapshots.schedule;
    const file = join(dir, 'lifeboat.yaml');
    writeFileSync(file, stringify(config));
    const applied = JSON.parse((await lifeboat(['schedule', 'apply', '--json'], { LIFEBOAT_CONFIG: file })).stdout) as { updated: string[]; deleted: string[] };
    expect(applied).toMatchObject({ updated: ['gameday', 'etcd-snapshot/primary'], deleted: ['etcd-snapshot/standby'] });
    const d = await client.schedule.getHandle('etcd-snapshot/primary').describe();
    expect(d.policies.catchupWindow).toBe(1_800_000);
    expect(d.info.nextActionTimes[0]!.getUTCHours()).toBe(3);
    expect(d.info.nextActionTimes[0]!.getUTCMinutes()).toBe(15);
  });
});
