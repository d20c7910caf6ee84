// Process checks for tests that look for what a scratch restore or a killed worker left running, and
// the crash of a lab process.
import { runningPid } from '../../lab/processes.js';

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGKILLs a lab process (an etcd member, an API server) and waits until the lab no longer sees it run: a crash, not a shutdown. */
export async function killLabProcess(name: string): Promise<void> {
  const pid = await runningPid(name);
  if (!pid) throw new Error(`lab process ${name} is not running`);
  process.kill(pid, 'SIGKILL');
  while (await runningPid(name)) await new Promise((r) => setTimeout(r, 100));
}
