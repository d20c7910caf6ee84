// Workflow histories for tests: as JSON with every payload opened by the client's codec (so a recorded
// history replays without the keys), with their payloads decoded for searching, and recorded into
// test/histories/ (for the replay test) when LIFEBOAT_RECORD_HISTORIES=1.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { decodeHistoryJSON } from '../../worker/temporal.js';

export interface FetchedHistory {
  json: string;
  /** The JSON plus every payload decoded from base64: what to search for secrets. */
  searchable: string;
}

export async function fetchHistory(client: Client, workflowId: string, record?: string): Promise<FetchedHistory> {
  const json = await decodeHistoryJSON(client, historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory()));
  const decoded = [...json.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  if (record && process.env.LIFEBOAT_RECORD_HISTORIES === '1') {
    await writeFile(fileURLToPath(new URL(`../../../test/histories/${record}.json`, import.meta.url)), json);
    // Replay needs the original ID when the workflow derives commands from it (child workflow IDs).
    await writeFile(fileURLToPath(new URL(`../../../test/histories/${record}.workflow-id`, import.meta.url)), `${workflowId}\n`);
  }
  return { json, searchable: [json, ...decoded].join('\n') };
}
