// `npm run build` step: bundles the workflows once, so production workers load code, not source.
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from './temporal.js';
import { workflowBundlePath, workflowInterceptorModules, workflowsPath } from './worker.js';

const { code } = await bundleWorkflowCode({
  workflowsPath,
  workflowInterceptorModules,
  failureConverterPath,
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
await writeFile(workflowBundlePath, code);
process.stderr.write(`workflow bundle: ${workflowBundlePath} (${(code.length / 1024).toFixed(0)} KiB)\n`);
