// Live progress of a running workflow: its `progress` query (steps) and the heartbeat details of its
// pending activities (bytes), redrawn on a terminal and printed as step changes elsewhere.
import type { WorkflowClient, WorkflowHandle } from '@temporalio/client';
import type { Step } from '../model/steps.js';
import { decodePayload } from '../worker/temporal.js';

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

interface Observed {
  /** The first pending activity's latest heartbeat details, decoded. */
  heartbeat?: Record<string, number | string>;
  /** Attempts of a workflow task that keeps failing (e.g. a worker running an older Lifeboat). */
  workflowTaskAttempt: number;
  /** Workflow IDs of the child runs in progress (a game day's verifications, a runbook's `run:` step). */
  children: string[];
}

async function observe(handle: WorkflowHandle): Promise<Observed> {
  const { raw } = await handle.describe();
  const payload = raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  return {
    heartbeat: payload ? await decodePayload<Record<string, number | string>>(handle.client, payload) : undefined,
    workflowTaskAttempt: raw.pendingWorkflowTask?.attempt ?? 0,
    children: (raw.pendingChildren ?? []).map((c) => c.workflowId).filter((id): id is string => typeof id === 'string'),
  };
}

/** Children shown beside the parent's step: enough to see a game day's parallel proofs, not a wall of text. */
const maxChildrenShown = 3;

/** What a run is doing now, `step › child step` deep, with the innermost activity's heartbeat. */
async function describeRun(
  handle: WorkflowHandle,
  client: WorkflowClient,
  depth: number,
): Promise<{ line: string; beat?: Record<string, number | string>; steps: Step[] }> {
  const seen = await observe(handle);
  const steps = await handle.query<Step[]>('progress');
  const running = steps.find((s) => s.state === 'running');
  let line = running ? running.name : steps.every((s) => s.state !== 'pending') ? 'finishing' : 'starting';
  let beat = running ? seen.heartbeat : undefined;
  if (running && depth < 3 && seen.children.length) {
    const inner = await Promise.all(
      seen.children.slice(0, maxChildrenShown).map((id) =>
        describeRun(client.getHandle(id), client, depth + 1).then(
          (d) => ({ id, ...d }),
          () => undefined,
        ),
      ),
    );
    const shown = inner.filter((c) => c !== undefined);
    if (shown.length === 1) {
      line += ` › ${shown[0]!.line}`;
      beat = beat ?? shown[0]!.beat;
    } else if (shown.length > 1) {
      line += ` › ${shown.map((c) => `${c.id.split('/').slice(-2).join('/')}: ${c.line}`).join(', ')}${seen.children.length > maxChildrenShown ? ` (+${seen.children.length - maxChildrenShown})` : ''}`;
    }
  }
  return { line, beat, steps };
}

/**
 * Off a terminal: the steps a run has reached since the last poll, in order, so a step that began and
 * ended between two polls (a plan's preflight takes a fraction of a second) still has its line.
 */
function reachedSince(steps: Step[], printed: Set<string>, running?: string): string[] {
  const reached = steps.filter((s) => (s.state === 'done' || s.state === 'failed' || s.state === 'running') && !printed.has(s.name));
  for (const s of reached) printed.add(s.name);
  return reached.filter((s) => s.name !== running).map((s) => s.name);
}

export async function followProgress(handle: WorkflowHandle, until: Promise<unknown>): Promise<void> {
  const tty = process.stderr.isTTY;
  let done = false;
  void until
    .finally(() => {
      done = true;
    })
    .catch(() => undefined);
  let lastLine = '';
  const printed = new Set<string>();
  while (!done) {
    try {
      const seen = await observe(handle);
      if (seen.workflowTaskAttempt >= 3) {
        const line = `workflow task failing (attempt ${seen.workflowTaskAttempt}): is every worker on task queue running this version of Lifeboat? See the workflow in the Temporal UI.`;
        if (line !== lastLine) process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
        lastLine = line;
        await Promise.race([until.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]);
        continue;
      }
      const { line: described, beat, steps } = await describeRun(handle, handle.client, 0);
      const running = steps.find((s) => s.state === 'running')?.name;
      if (!tty) for (const name of reachedSince(steps, printed, running)) process.stderr.write(`${name}\n`);
      let line = described;
      // An activity that runs several steps itself names the one it is in.
      if (typeof beat?.step === 'string' && !line.endsWith(beat.step)) line += ` › ${beat.step}`;
      if (typeof beat?.bytesRead === 'number') {
        const total = beat.bytesRead + Number(beat.bytesRemaining ?? 0);
        const pct = total ? Math.floor((100 * beat.bytesRead) / total) : 0;
        const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
        line += ` [${bar}] ${pct}% read ${mib(beat.bytesRead)} of ${mib(total)}, uploaded ${mib(Number(beat.bytesUploaded ?? 0))}`;
      } else if (typeof beat?.bytes === 'number') {
        line += ` ${mib(beat.bytes)}`;
      } else if (typeof beat?.evicted === 'number' && typeof beat.remaining === 'number') {
        // A drain: how far, and which budget holds which Pod back since when.
        const blocked = (Array.isArray(beat.blocked) ? beat.blocked : []) as unknown as { pod: string; pdb: string; since: string }[];
        line += ` ${beat.evicted} evicted, ${beat.remaining} left`;
        if (blocked.length)
          line += `; ${blocked
            .slice(0, 3)
            .map((b) => `${b.pod} held by ${b.pdb} since ${b.since}`)
            .join(', ')}${blocked.length > 3 ? ` (+${blocked.length - 3})` : ''}`;
      }
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (line.split(' [')[0] !== lastLine.split(' [')[0]) process.stderr.write(`${line}\n`);
      lastLine = line;
    } catch {
      // The query can fail while the workflow is between tasks; the next poll answers.
    }
    await Promise.race([until.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
  }
  if (tty) process.stderr.write('\r\x1b[2K');
  else {
    // The steps it went through after the last poll, so the record off a terminal is whole.
    // Bounded: a query of a closed run needs a worker to replay it, and the result is already in.
    let timer: NodeJS.Timeout | undefined;
    const steps = await Promise.race([
      handle.query<Step[]>('progress').catch(() => [] as Step[]),
      new Promise<Step[]>((r) => (timer = setTimeout(() => r([]), 3_000))),
    ]);
    clearTimeout(timer);
    for (const name of reachedSince(steps, printed)) process.stderr.write(`${name}\n`);
  }
}
