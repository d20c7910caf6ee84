// Every activity factory, registered by the worker with its injected clients.
import type { LifeboatClients } from '../worker/clients.js';
import { createHealthActivities } from './health.js';

export const createActivities = (clients: LifeboatClients) => ({
  ...createHealthActivities(clients),
});

export type LifeboatActivities = ReturnType<typeof createActivities>;
