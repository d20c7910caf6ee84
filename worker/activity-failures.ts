// Failures every activity classifies the same way, in one place: an activity that meets a throttling
// object store (after the S3 client's own retries) fails as ObjectStoreThrottled, whichever activity
// it is and whether or not its code knows about throttling.
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { objectStoreThrottledFailure } from '../activities/object-store/throttling.js';
import type { LifeboatConfig } from './config.js';

class ObjectStoreFailureInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly store: { endpoint?: string; bucket: string }) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      throw objectStoreThrottledFailure(err, this.store);
    }
  }
}

/** The activity interceptor that classifies object-store throttling (see activities/object-store/throttling.ts). */
export const objectStoreFailureInterceptors = (config: LifeboatConfig): ActivityInterceptorsFactory[] => {
  const store = { endpoint: config.objectStore.endpoint, bucket: config.objectStore.bucket };
  return [() => ({ inbound: new ObjectStoreFailureInterceptor(store) })];
};
