// Watches for tests that must act the moment the lab's API shows a change (kill a worker when the
// first of several Deployments has been patched), or once a run is inside an activity.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';

/**
 * Starts a watch of `path` (a list URL, e.g. /apis/apps/v1/namespaces/NS/deployments) and resolves once
 * the API has accepted it, with `match`: the first object, as the watch delivers it (the current ones
 * first), for which `matches` is true; the watch then stops. `match` rejects when the watch fails or
 * ends before.
 */
export async function watchFor<T>(kubeConfig: KubeConfig, path: string, matches: (obj: T) => boolean): Promise<{ match: Promise<T> }> {
  let settled = false;
  let resolveMatch!: (obj: T) => void;
  let rejectMatch!: (err: Error) => void;
  const match = new Promise<T>((resolve, reject) => {
    resolveMatch = resolve;
    rejectMatch = reject;
  });
  // Handled by whoever awaits it; never an unhandled rejection when nobody does.
  match.catch(() => undefined);
  const ref: { controller?: AbortController } = {};
  ref.controller = await new Watch(kubeConfig).watch(
    path,
    {},
    (_phase, obj: T) => {
      if (settled || !matches(obj)) return;
      settled = true;
      resolveMatch(obj);
      ref.controller?.abort();
    },
    (err: unknown) => {
      if (settled) return;
      settled = true;
      rejectMatch(err instanceof Error ? err : new Error(`watch of ${path} ended before a match`));
    },
  );
  if (settled) ref.controller.abort();
  return { match };
}

/** The first object under `path` for which `matches` is true (see {@link watchFor}). */
export async function firstWatched<T>(kubeConfig: KubeConfig, path: string, matches: (obj: T) => boolean): Promise<T> {
  return (await watchFor(kubeConfig, path, matches)).match;
}

/** Resolves once the run has an activity of `type` started and not yet finished (a worker is inside it). */
export async function activityRunning(handle: WorkflowHandle, type: string): Promise<void> {
  for (;;) {
    const { raw } = await handle.describe();
    // PENDING_ACTIVITY_STATE_STARTED
    if (raw.pendingActivities?.some((a) => a.activityType?.name === type && Number(a.state) === 2)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A watch that hands over every event until stopped (see {@link watchEvents}). */
export interface EventWatch {
  /** Stops the watch; rejects when it had failed before (events may have gone unseen). */
  stop(): Promise<void>;
}

/**
 * How long a watch of {@link watchEvents} may go without an event. The client's own limit (30 s) would
 * end it in the quiet while a run waits out a dead worker's timeout, and a watch started again from a
 * resourceVersion that old is refused (410) once the API server's watch cache has moved past it.
 */
const quietWatchMs = 10 * 60_000;

/**
 * Starts a watch of `path` with `query` (a labelSelector, say) and resolves once the API has accepted
 * it; `onEvent` gets every event (the current objects first, as ADDED) until {@link EventWatch.stop}.
 * A watch the API server or the connection ends is started again at once from the last
 * resourceVersion it saw; one the API server refuses to go on with (an ERROR event) fails.
 */
export async function watchEvents<T extends { metadata?: { resourceVersion?: string } }>(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string>,
  onEvent: (phase: string, obj: T) => void,
): Promise<EventWatch> {
  let stopped = false;
  let failure: Error | undefined;
  let resourceVersion: string | undefined;
  let controller: AbortController | undefined;
  const start = async (): Promise<void> => {
    const watch = new Watch(kubeConfig);
    // Not part of the client's typed API: its inactivity timeout, in milliseconds.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = quietWatchMs;
    const started = await watch.watch(
      path,
      { ...query, ...(resourceVersion ? { resourceVersion } : {}) },
      (phase: string, obj: T) => {
        if (phase === 'ERROR') {
          failure ??= new Error(`watch of ${path} failed: ${JSON.stringify(obj)}`);
          return;
        }
        resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
        onEvent(phase, obj);
      },
      () => {
        if (stopped || failure) return;
        start().catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new Error(String(err));
        });
      },
    );
    if (stopped) started.abort();
    controller = started;
  };
  await start();
  return {
    stop() {
      stopped = true;
      controller?.abort();
      return failure ? Promise.reject(failure) : Promise.resolve();
    },
  };
}
