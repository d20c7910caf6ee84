// Which data check a run takes: the runbook's explicit URL, the named app's `dataCheck`, or that of the
// one configured app that owns the claim's namespace on the run's cluster.
import { ApplicationFailure } from '@temporalio/activity';
import type { AppConfig, DataCheckConfig } from '../../worker/config.js';
import { failureTypes } from '../../model/failures.js';
import { appOf } from '../configuration.js';

export interface DataCheckRequest {
  /** The cluster the run is on: the command's KUBECONFIG is this cluster's. */
  cluster: string;
  /** The namespace of what was restored (the claim's): an app is found by it when none is named. */
  namespace: string;
  /** The app whose `dataCheck` runs. Empty or absent: the one configured app that owns `namespace` on `cluster`. */
  app?: string;
  /** An HTTP GET expecting 200, given with the run (a runbook's `dataCheckUrl`): it wins over the app's check. Empty: none. */
  url?: string;
  /** With `url`: a text the body must contain. Empty: none. */
  bodyContains?: string;
}

/** The check a request resolves to; `none` when nothing is configured for it. */
export type ResolvedDataCheck =
  | { kind: 'none'; source: 'none'; app: string; why: string }
  | { kind: 'http' | 'command'; source: 'parameter' | 'app'; app: string; check: DataCheckConfig };

/** Whether the app runs in `namespace` on `cluster`: its own cluster, or its failover standby (where it runs after a failover). */
export const ownsNamespace = (app: AppConfig, cluster: string, namespace: string) =>
  app.namespaces.includes(namespace) && (app.cluster === cluster || app.failover?.standby === cluster);

const where = (r: DataCheckRequest) => `namespace ${r.namespace} on cluster ${r.cluster}`;

export function resolveDataCheckOf(apps: readonly AppConfig[], request: DataCheckRequest): ResolvedDataCheck {
  const named = request.app ?? '';
  if (request.url) {
    if (named) appOf(apps, named);
    return {
      kind: 'http',
      source: 'parameter',
      app: named,
      check: { kind: 'http', url: request.url, ...(request.bodyContains ? { bodyContains: request.bodyContains } : {}), timeout: 10 },
    };
  }
  if (named) {
    const app = appOf(apps, named);
    if (!ownsNamespace(app, request.cluster, request.namespace))
      throw ApplicationFailure.nonRetryable(
        `app '${named}' does not run in ${where(request)} (its namespaces: ${app.namespaces.join(', ')}; its cluster ${app.cluster}${app.failover ? `, standby ${app.failover.standby}` : ''}): its data check would prove nothing of this claim`,
        failureTypes.DataCheckUnresolved,
      );
    if (!app.dataCheck)
      throw ApplicationFailure.nonRetryable(
        `app '${named}' has no data check; configure apps[].dataCheck for it, or give the check's URL (dataCheckUrl)`,
        failureTypes.DataCheckUnresolved,
      );
    return { kind: app.dataCheck.kind, source: 'app', app: named, check: app.dataCheck };
  }
  const owners = apps.filter((a) => ownsNamespace(a, request.cluster, request.namespace));
  if (owners.length > 1)
    throw ApplicationFailure.nonRetryable(
      `apps ${owners.map((a) => `'${a.name}'`).join(', ')} all run in ${where(request)}; name the one whose data check runs (app parameter)`,
      failureTypes.DataCheckUnresolved,
    );
  const owner = owners[0];
  if (!owner) return { kind: 'none', source: 'none', app: '', why: `no configured app runs in ${where(request)}` };
  if (!owner.dataCheck) return { kind: 'none', source: 'none', app: owner.name, why: `app '${owner.name}' has no dataCheck configured` };
  return { kind: owner.dataCheck.kind, source: 'app', app: owner.name, check: owner.dataCheck };
}

/** A URL as a report may show it: a password in it masked. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return url;
  }
}

/** One line naming the check, for the plan, the approval and the report; never an `env` value. */
export function describeDataCheck(resolved: ResolvedDataCheck): string {
  if (resolved.kind === 'none') return `none (${resolved.why})`;
  const whose = resolved.source === 'parameter' ? "the run's dataCheckUrl" : `app ${resolved.app}'s dataCheck`;
  const check = resolved.check;
  if (check.kind === 'http')
    return `${whose}: GET ${shownUrl(check.url)}${check.bodyContains ? ` containing ${JSON.stringify(check.bodyContains)}` : ''} (timeout ${check.timeout} s)`;
  const names = Object.keys(check.env);
  return `${whose}: command ${JSON.stringify(check.command)}${names.length ? ` with ${names.join(', ')} set` : ''} (timeout ${check.timeout} s)`;
}
