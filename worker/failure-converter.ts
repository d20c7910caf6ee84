// Failure messages and stack traces travel in the failure's encoded attributes, a payload, so the
// history codec (worker/codec.ts) encrypts them too: a message naming a host, a key or a Secret is not
// left in clear in Temporal's history. Loaded by path (the workflow bundle, the worker, every client).
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
