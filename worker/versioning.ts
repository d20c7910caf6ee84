// Worker versioning (Temporal worker deployments): which version this worker polls as. A version's build
// id changes exactly when the workflow code does, so a rollout that changes no workflow keeps one version
// (no set-current-version step) and one that does gets a new version whose runs start on it while runs
// pinned to the old one finish there, never replayed on code they were not written by.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WorkerDeploymentOptions, WorkerOptions } from '@temporalio/worker';
import type { LifeboatConfig } from './config.js';

/** A versioned worker without the prebuilt bundle and without a `buildId`: nothing to derive one from. */
export class BuildIdError extends Error {
  override readonly name = 'BuildIdError';
}

/** `wf-` and the first 16 hex digits of the bundle's SHA-256: the same bundle, the same build id, on every replica. */
export const bundleBuildId = (bundlePath: string): string =>
  `wf-${createHash('sha256').update(readFileSync(bundlePath)).digest('hex').slice(0, 16)}`;

/**
 * The Worker's `workerDeploymentOptions` for `temporal.deployment`, or undefined (unversioned) without
 * that block. `source` is what the worker loads its workflows from (worker.ts workflowSource()).
 */
export function workerDeploymentOptions(
  config: LifeboatConfig,
  source: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>,
): WorkerDeploymentOptions | undefined {
  const deployment = config.temporal.deployment;
  if (!deployment) return undefined;
  let buildId = deployment.buildId;
  if (buildId === undefined) {
    const bundle = source.workflowBundle;
    if (!bundle || !('codePath' in bundle))
      throw new BuildIdError(
        'temporal.deployment has no buildId and the worker has no prebuilt workflow bundle to derive one from (npm run build writes it); set temporal.deployment.buildId',
      );
    buildId = bundleBuildId(bundle.codePath);
  }
  return {
    version: { deploymentName: deployment.name, buildId },
    useWorkerVersioning: true,
    defaultVersioningBehavior: deployment.defaultVersioningBehavior,
  };
}
