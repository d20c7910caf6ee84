// Integration tests run against the real lab: bring it up once per run, or reuse a running one.
import { labUp } from '../../lab/lab.js';

export default async function globalSetup(): Promise<void> {
  const status = await labUp();
  const unhealthy = status.filter((c) => !c.healthy);
  if (unhealthy.length) throw new Error(`lab unhealthy: ${unhealthy.map((c) => `${c.name} (${c.detail})`).join(', ')}`);
}
