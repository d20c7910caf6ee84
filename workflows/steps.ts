// Step bookkeeping shared by runbooks: each step's state and timestamps, exposed by the `progress` query.
import { defineQuery, setHandler } from '@temporalio/workflow';
import { timeStep, type Step } from '../model/steps.js';

export const progressQuery = defineQuery<Step[]>('progress');

export class Steps {
  private readonly steps: Step[];

  /** Declares the runbook's steps in order and answers the `progress` query. */
  constructor(names: readonly string[]) {
    this.steps = names.map((name) => ({ name, state: 'pending' }));
    setHandler(progressQuery, () => this.steps);
  }

  private find(name: string): Step {
    const step = this.steps.find((s) => s.name === name);
    if (!step) throw new Error(`undeclared step ${name}`);
    return step;
  }

  /** Runs `work` as step `name`, recording when it started and finished and how it ended. */
  run<T>(name: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    return timeStep(this.find(name), work, describe);
  }

  /** Marks a step running without running it here (an activity runs it and reports back through `absorb`). */
  begin(name: string): void {
    Object.assign(this.find(name), { state: 'running', startedAt: new Date().toISOString() });
  }

  /** Takes over steps an activity ran and timed itself, by name. */
  absorb(reported: Step[]): void {
    for (const r of reported) Object.assign(this.find(r.name), r);
  }

  /** Marks every step still pending (but those in `except`) skipped, with `why` when given. */
  skipPending(why?: string, except: readonly string[] = []): void {
    for (const s of this.steps) {
      if (s.state !== 'pending' || except.includes(s.name)) continue;
      s.state = 'skipped';
      if (why !== undefined) s.detail = why;
    }
  }

  /** Declares one more step after the others: one only some runs take. */
  append(name: string): void {
    this.steps.push({ name, state: 'pending' });
  }

  skip(name: string, why: string): void {
    Object.assign(this.find(name), { state: 'skipped', detail: why });
  }

  get all(): Step[] {
    return this.steps;
  }
}
