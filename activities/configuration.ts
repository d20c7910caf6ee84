// What an activity reads from the worker's configuration by name: one lookup, one refusal. The CLI
// refuses unknown names before a run starts (worker/config.ts appByName); this is the worker's side,
// for a run started elsewhere or a configuration changed since.
import { ApplicationFailure } from '@temporalio/activity';
import type { AppConfig, FailoverConfig } from '../worker/config.js';
import { failureTypes } from '../model/failures.js';

/** The configured app, or a non-retryable `UnknownApp` naming the apps this worker knows. */
export function appOf(apps: readonly AppConfig[], name: string): AppConfig {
  const app = apps.find((a) => a.name === name);
  if (!app)
    throw ApplicationFailure.nonRetryable(
      `unknown app '${name}'; this worker knows ${apps.map((a) => a.name).join(', ') || 'none'}`,
      failureTypes.UnknownApp,
    );
  return app;
}

/** The configured app with its failover settings, or `UnknownApp` / `AppHasNoFailover`. */
export function failoverAppOf(apps: readonly AppConfig[], name: string): AppConfig & { failover: FailoverConfig } {
  const app = appOf(apps, name);
  if (!app.failover)
    throw ApplicationFailure.nonRetryable(`app '${name}' has no failover configuration (apps[].failover)`, failureTypes.AppHasNoFailover);
  return app as AppConfig & { failover: FailoverConfig };
}
