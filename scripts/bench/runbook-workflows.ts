// The bench:runbook worker's workflows entry: every Lifeboat workflow plus the hand-written baseline,
// bundled together so both run in one worker under the same conditions.
export * from '../../workflows/index.js';
export { runbookBaseline } from './runbook-baseline.js';
