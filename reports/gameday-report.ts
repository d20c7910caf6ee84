// Renders a game day report for people: JSON (the report as stored), Markdown (for a ticket or a chat)
// and one self-contained HTML page with a timeline an SRE can read from file:// (inline CSS and SVG, no
// scripts, fonts or images). Pure: no I/O and no clock, so one report always renders to the same bytes.
// Every string from the report is treated as hostile: error messages carry whatever a cluster said.
import type { GameDayEntry, GameDayReport, VerificationResult } from '../model/verification.js';
import type { Step, StepState } from '../model/steps.js';
import { formatDuration } from '../model/durations.js';

export interface RenderedGameDayReport {
  /** The report itself, pretty-printed (two spaces), ending in a newline. */
  json: string;
  /** GitHub-flavoured Markdown: verdict, summary table, then each entry's checks and steps. */
  markdown: string;
  /** One HTML page with inline CSS and an inline SVG timeline; nothing external is loaded. */
  html: string;
}

/** Renders one game day report as JSON, Markdown and HTML; deterministic for a given report. */
export function renderGameDayReport(report: GameDayReport): RenderedGameDayReport {
  return { json: `${JSON.stringify(report, null, 2)}\n`, markdown: renderMarkdown(report), html: renderHtml(report) };
}

type Phase = 'backup' | 'verification';

interface PhaseSteps {
  phase: Phase;
  steps: Step[];
}

/** An entry's steps in the order they ran: the fresh backup's, then the verification's. */
function phasesOf(entry: GameDayEntry): PhaseSteps[] {
  const phases: PhaseSteps[] = [];
  if (entry.backup) phases.push({ phase: 'backup', steps: entry.backup.steps });
  if (entry.verification) phases.push({ phase: 'verification', steps: entry.verification.steps });
  return phases;
}

// --- Formatting shared by Markdown and HTML -------------------------------------------------------

/** Epoch ms of an ISO-8601 date-time, or undefined when absent or unparseable (drawn as unknown). */
function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : time;
}

function stepSeconds(step: Step): number | undefined {
  const start = parseTime(step.startedAt);
  const end = parseTime(step.finishedAt);
  return start !== undefined && end !== undefined ? (end - start) / 1000 : undefined;
}

/** Binary units, one decimal: `12.3 MiB`. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Thousands separated by commas, independent of the machine's locale. */
const formatCount = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** `09:01:05Z`: the page and the Markdown say once that times are UTC wall time. */
const utcClock = (time: number) => `${new Date(time).toISOString().slice(11, 19)}Z`;

const clockOf = (iso: string | undefined) => {
  const time = parseTime(iso);
  return time === undefined ? 'unknown' : utcClock(time);
};

function sizeAndItems(verification: VerificationResult | undefined): string {
  if (!verification) return '—';
  const { sizeBytes, items } = verification.backup;
  const parts = [
    sizeBytes === undefined ? undefined : formatBytes(sizeBytes),
    items === undefined ? undefined : `${formatCount(items)} items`,
  ];
  const known = parts.filter((p): p is string => p !== undefined);
  return known.length > 0 ? known.join(', ') : 'unknown';
}

interface ObjectiveFigure {
  /** The measured value, e.g. `2 min 10 s`, or `not measured` without a verification. */
  actual: string;
  /** The objective, e.g. `10 min`; undefined without a verification (objectives come with it). */
  objective?: string;
  /** The entry's own verdict: the renderer reports it and never re-judges the figures. */
  met: boolean;
}

function rtoOf(entry: GameDayEntry): ObjectiveFigure {
  const v = entry.verification;
  if (!v) return { actual: 'not measured', met: entry.rtoMet };
  return { actual: formatDuration(v.rtoSeconds), objective: formatDuration(v.objectives.rtoSeconds), met: entry.rtoMet };
}

function rpoOf(entry: GameDayEntry): ObjectiveFigure {
  const v = entry.verification;
  if (!v) return { actual: 'not measured', met: entry.rpoMet };
  return { actual: formatDuration(v.rpoSeconds), objective: formatDuration(v.objectives.rpoSeconds), met: entry.rpoMet };
}

const backupIdOf = (entry: GameDayEntry) => entry.verification?.backup.id ?? entry.backup?.id;

/** The step's duration, or what is missing when it has no two timestamps. */
function stepTiming(step: Step): string {
  const seconds = stepSeconds(step);
  if (seconds !== undefined) return formatDuration(seconds);
  const hasStart = parseTime(step.startedAt) !== undefined;
  const hasEnd = parseTime(step.finishedAt) !== undefined;
  if (!hasStart && !hasEnd) return 'no timestamps';
  return hasStart ? 'no finish time' : 'no start time';
}

function reportWindow(report: GameDayReport): string {
  const start = parseTime(report.startedAt);
  const end = parseTime(report.finishedAt);
  const took = start !== undefined && end !== undefined ? ` (${formatDuration((end - start) / 1000)})` : '';
  return `${report.startedAt} to ${report.finishedAt}${took}`;
}

const passedCount = (report: GameDayReport) => report.entries.filter((e) => e.passed).length;

// --- Markdown --------------------------------------------------------------------------------------

// CommonMark lets any ASCII punctuation be backslash-escaped: these could open markup inside a line
// (emphasis, links, raw HTML, entities, code spans, table cells). Line breaks would end a table row.
const md = (text: string) => text.replace(/\r\n?|\n/g, ' ').replace(/[\\`*_[\]<>&|~]/g, '\\$&');

/** A fenced block keeps multi-line errors intact; its fence is longer than any backtick run inside. */
function mdFence(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${text}\n${fence}`;
}

const mdVerdict = (passed: boolean) => (passed ? '✅ yes' : '❌ no');
const mdMet = (met: boolean) => (met ? '✅ met' : '❌ missed');

function mdObjective(figure: ObjectiveFigure): string {
  const against = figure.objective === undefined ? '' : ` of ${figure.objective}`;
  return `${figure.actual}${against}: ${mdMet(figure.met)}`;
}

function renderMarkdown(report: GameDayReport): string {
  const lines: string[] = [
    `# Game day ${md(report.id)}: ${report.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `${passedCount(report)} of ${report.entries.length} entries passed. Workflow ${md(report.workflowId)}, run ${md(report.runId)}, ` +
      `${md(reportWindow(report))}. Times are UTC.`,
    '',
    '| Entry | Kind | Backup id | Passed | RTO vs objective | RPO vs objective | Size / items |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...report.entries.map(
      (entry) =>
        `| ${[
          md(entry.name),
          md(entry.kind),
          md(backupIdOf(entry) ?? '—'),
          mdVerdict(entry.passed),
          mdObjective(rtoOf(entry)),
          mdObjective(rpoOf(entry)),
          md(sizeAndItems(entry.verification)),
        ].join(' | ')} |`,
    ),
  ];
  for (const entry of report.entries) lines.push('', ...markdownEntry(entry));
  return `${lines.join('\n')}\n`;
}

function markdownEntry(entry: GameDayEntry): string[] {
  const lines = [`## ${md(entry.name)} (${md(entry.kind)}): ${entry.passed ? 'PASSED' : 'FAILED'}`, ''];
  if (entry.backup) {
    lines.push(
      `Fresh backup ${md(entry.backup.id ?? '(no id)')}: ${entry.backup.passed ? 'taken' : 'failed'}; ` +
        `${md(entry.backup.detail)} (workflow ${md(entry.backup.workflowId)}).`,
      '',
    );
  }
  const v = entry.verification;
  if (v) {
    lines.push(
      `Backup ${md(v.backup.id)} of ${md(v.sourceCluster)}, taken ${md(v.backup.createdAt)}, stored at ${md(v.backup.location)}; ` +
        `restored to ${md(v.restoredTo)} by ${md(v.workflowId)} (run ${md(v.runId)}), ${md(v.startedAt)} to ${md(v.finishedAt)}.`,
      '',
      `RTO ${mdObjective(rtoOf(entry))}. RPO ${mdObjective(rpoOf(entry))}.`,
      '',
    );
  }
  if (v?.failureReason !== undefined) lines.push('Failure reason:', '', mdFence(v.failureReason), '');
  if (entry.error !== undefined) lines.push('Error:', '', mdFence(entry.error), '');
  if (v) {
    lines.push('### Checks', '');
    if (v.checks.length === 0) lines.push('No checks ran.', '');
    else {
      lines.push(
        '| Check | Result | Detail |',
        '| --- | --- | --- |',
        ...v.checks.map((c) => `| ${md(c.name)} | ${c.passed ? '✅ passed' : '❌ failed'} | ${md(c.detail)} |`),
        '',
      );
    }
  }
  const phases = phasesOf(entry);
  lines.push('### Steps', '');
  if (phases.every((p) => p.steps.length === 0)) lines.push('No steps recorded.');
  else {
    lines.push('| Phase | Step | State | Started | Duration | Detail |', '| --- | --- | --- | --- | --- | --- |');
    for (const { phase, steps } of phases) {
      for (const step of steps) {
        lines.push(
          `| ${phase} | ${md(step.name)} | ${step.state} | ${clockOf(step.startedAt)} | ${stepTiming(step)} | ${md(step.detail ?? '')} |`,
        );
      }
    }
  }
  return lines;
}

// --- HTML ------------------------------------------------------------------------------------------

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for element content and quoted attribute values alike. */
const esc = (text: string) => text.replace(/[&<>"']/g, (c) => htmlEscapes[c] ?? c);

/** Bar fills; each state is also named in words beside its bar, so colour is never the only cue. */
const stateColours: Record<StepState, string> = {
  done: '#2da44e',
  failed: '#cf222e',
  skipped: '#8c959f',
  running: '#0969da',
  pending: '#d0d7de',
};
const stateOrder: StepState[] = ['done', 'failed', 'skipped', 'running', 'pending'];

const badge = (ok: boolean, yes: string, no: string) =>
  `<span class="badge ${ok ? 'ok' : 'bad'}">${ok ? '✓' : '✗'} ${ok ? yes : no}</span>`;

function htmlObjective(figure: ObjectiveFigure): string {
  const objective = figure.objective === undefined ? 'no verification result' : `objective ${esc(figure.objective)}`;
  return `<span class="figure">${esc(figure.actual)}</span><span class="objective">${objective}</span>${badge(figure.met, 'met', 'missed')}`;
}

const css = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --ok: #116329; --ok-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 12px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; }
header.card { display: flex; gap: 24px; align-items: center; border-left-width: 8px; }
header.passed { border-left-color: #2da44e; }
header.failed { border-left-color: #cf222e; }
.verdict { font-size: 28px; font-weight: 700; padding: 4px 16px; border-radius: 6px; white-space: nowrap; }
.verdict.passed { background: var(--ok-bg); color: var(--ok); }
.verdict.failed { background: var(--bad-bg); color: var(--bad); }
.meta { color: var(--muted); margin: 0; }
.meta code, td code { font-size: 12px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
th, td { padding: 8px 12px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
tr:last-child td { border-bottom: 0; }
tr.failed td { background: #fff8f7; }
td.figures { white-space: nowrap; }
.figure { font-weight: 600; font-variant-numeric: tabular-nums; }
.objective { display: block; color: var(--muted); font-size: 12px; }
td.figures .badge { display: block; width: fit-content; }
.badge { display: inline-block; margin-top: 2px; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 8px; color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; border-radius: 2px; vertical-align: -1px; }
.timeline { overflow-x: auto; padding: 8px 4px; }
.timeline svg { display: block; }
.timeline text { font-family: inherit; font-size: 12px; fill: var(--ink); }
.timeline text.entry-label { font-size: 13px; font-weight: 700; }
.timeline text.phase-label, .timeline text.tick-label, .timeline text.note { fill: var(--muted); font-size: 11px; }
.timeline text.step-status { font-variant-numeric: tabular-nums; }
.timeline text.step-status.failed, .timeline text.entry-label.failed { fill: var(--bad); }
pre.failure { margin: 8px 0; padding: 10px 12px; background: #fff8f7; border: 1px solid #ffcecb; border-radius: 6px; white-space: pre-wrap; word-break: break-word; font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 8px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
section.entry { margin-top: 24px; }
section.entry h2 { display: flex; gap: 12px; align-items: center; margin-top: 0; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

function renderHtml(report: GameDayReport): string {
  const verdict = report.passed ? 'passed' : 'failed';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Game day ${esc(report.id)}: ${verdict.toUpperCase()}</title>
<style>${css}</style>
</head>
<body>
<main>
<header class="card ${verdict}">
<div class="verdict ${verdict}" data-verdict="${verdict}">${report.passed ? '✓ PASSED' : '✗ FAILED'}</div>
<div>
<h1>Game day ${esc(report.id)}</h1>
<p class="meta">${passedCount(report)} of ${report.entries.length} entries passed · ${esc(reportWindow(report))} · times are UTC</p>
<p class="meta">workflow <code>${esc(report.workflowId)}</code> · run <code>${esc(report.runId)}</code></p>
</div>
</header>
<h2>Summary</h2>
${htmlSummary(report)}
<h2>Timeline</h2>
<div class="card timeline">
<p class="legend">${stateOrder.map((s) => `<span><span class="swatch" style="background:${stateColours[s]}"></span>${s}</span>`).join('')}<span>◆ step without start and finish time</span></p>
${timelineSvg(report)}
</div>
${report.entries.map((entry, i) => htmlEntry(entry, i)).join('\n')}
<footer>Rendered by Lifeboat from report format ${report.formatVersion} (${esc(report.kind)}).</footer>
</main>
</body>
</html>
`;
}

function htmlSummary(report: GameDayReport): string {
  const rows = report.entries.map(
    (entry, i) => `<tr data-entry="${esc(entry.name)}">
<td><a href="#entry-${i}">${esc(entry.name)}</a></td>
<td>${esc(entry.kind)}</td>
<td><code>${esc(backupIdOf(entry) ?? '—')}</code></td>
<td data-result="${entry.passed ? 'passed' : 'failed'}">${badge(entry.passed, 'passed', 'failed')}</td>
<td class="figures">${htmlObjective(rtoOf(entry))}</td>
<td class="figures">${htmlObjective(rpoOf(entry))}</td>
<td>${esc(sizeAndItems(entry.verification))}</td>
</tr>`,
  );
  return `<table class="summary">
<thead><tr><th>Entry</th><th>Kind</th><th>Backup id</th><th>Result</th><th>RTO</th><th>RPO</th><th>Size / items</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function htmlEntry(entry: GameDayEntry, index: number): string {
  const v = entry.verification;
  const facts: [string, string][] = [['kind', entry.kind]];
  if (entry.backup) {
    facts.push(
      ['fresh backup', `${entry.backup.id ?? '(no id)'}: ${entry.backup.passed ? 'taken' : 'failed'}; ${entry.backup.detail}`],
      ['backup workflow', entry.backup.workflowId],
    );
  }
  if (v) {
    facts.push(
      ['backup', `${v.backup.id} of ${v.sourceCluster}, taken ${v.backup.createdAt}`],
      ['stored at', v.backup.location],
      ['restored to', v.restoredTo],
      ['verification', `${v.workflowId} (run ${v.runId})`],
      ['verification ran', `${v.startedAt} to ${v.finishedAt}`],
    );
  } else facts.push(['verification', 'did not run']);
  const parts = [
    `<section class="entry card" id="entry-${index}">`,
    `<h2>${esc(entry.name)} ${badge(entry.passed, 'passed', 'failed')}</h2>`,
    `<dl class="facts">${facts.map(([k, val]) => `<dt>${esc(k)}</dt><dd>${esc(val)}</dd>`).join('')}</dl>`,
  ];
  if (v?.failureReason !== undefined) parts.push('<h3>Failure reason</h3>', `<pre class="failure">${esc(v.failureReason)}</pre>`);
  if (entry.error !== undefined) parts.push('<h3>Error</h3>', `<pre class="failure">${esc(entry.error)}</pre>`);
  if (v) {
    parts.push(
      '<h3>Checks</h3>',
      v.checks.length === 0
        ? '<p class="meta">No checks ran.</p>'
        : `<table class="checks">
<thead><tr><th>Check</th><th>Result</th><th>Detail</th></tr></thead>
<tbody>
${v.checks.map((c) => `<tr class="${c.passed ? 'passed' : 'failed'}"><td>${esc(c.name)}</td><td>${badge(c.passed, 'passed', 'failed')}</td><td>${esc(c.detail)}</td></tr>`).join('\n')}
</tbody>
</table>`,
    );
  }
  const stepRows = phasesOf(entry).flatMap(({ phase, steps }) =>
    steps.map(
      (s) =>
        `<tr class="${s.state}"><td>${phase}</td><td>${esc(s.name)}</td>` +
        `<td>${s.state === 'done' ? '✓ ' : s.state === 'failed' ? '✗ ' : ''}${s.state}</td><td>${clockOf(s.startedAt)}</td>` +
        `<td>${stepTiming(s)}</td><td>${esc(s.detail ?? '')}</td></tr>`,
    ),
  );
  parts.push(
    '<h3>Steps</h3>',
    stepRows.length === 0
      ? '<p class="meta">No steps recorded.</p>'
      : `<table class="steps">
<thead><tr><th>Phase</th><th>Step</th><th>State</th><th>Started</th><th>Duration</th><th>Detail</th></tr></thead>
<tbody>
${stepRows.join('\n')}
</tbody>
</table>`,
    '</section>',
  );
  return parts.join('\n');
}

// --- Timeline (inline SVG) -------------------------------------------------------------------------

const layout = {
  width: 1120,
  labelWidth: 240,
  statusWidth: 190,
  axisHeight: 26,
  entryHeight: 30,
  phaseHeight: 18,
  rowHeight: 22,
  barHeight: 12,
  /** Wider labels are cut with an ellipsis; the full name stays in the label's tooltip. */
  labelChars: 34,
};
const plotLeft = layout.labelWidth;
const plotRight = layout.width - layout.statusWidth;

/** The x axis: the report's window, widened to any step outside it (clock skew between workers). */
function timeDomain(report: GameDayReport): { start: number; end: number } {
  const stepTimes = report.entries
    .flatMap((e) => phasesOf(e).flatMap((p) => p.steps.flatMap((s) => [parseTime(s.startedAt), parseTime(s.finishedAt)])))
    .filter((t): t is number => t !== undefined);
  const reportStart = parseTime(report.startedAt);
  const reportEnd = parseTime(report.finishedAt);
  const starts = [reportStart, ...stepTimes].filter((t): t is number => t !== undefined);
  const ends = [reportEnd, ...stepTimes].filter((t): t is number => t !== undefined);
  const start = starts.length > 0 ? Math.min(...starts) : 0;
  const end = ends.length > 0 ? Math.max(...ends) : start;
  // A zero-width window (one instant, or no times at all) would divide by zero.
  return { start, end: end > start ? end : start + 1000 };
}

// Tick spacing: the smallest of these that keeps the axis to at most 8 intervals.
const tickSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400].map((s) => s * 1000);

function ticksOf(start: number, end: number): { time: number; label: string }[] {
  const span = end - start;
  const step = tickSteps.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86_400_000) * 86_400_000;
  const label = (t: number) => {
    const iso = new Date(t).toISOString();
    const clock = step < 60_000 ? iso.slice(11, 19) : iso.slice(11, 16);
    return span >= 86_400_000 ? `${iso.slice(5, 10)} ${clock}` : clock;
  };
  const ticks: { time: number; label: string }[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push({ time: t, label: label(t) });
  return ticks;
}

const cut = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars - 1)}…` : text);
const px = (n: number) => (Math.round(n * 10) / 10).toString();

function stepTooltip(phase: Phase, step: Step): string {
  const seconds = stepSeconds(step);
  const timing = seconds === undefined ? stepTiming(step) : `took ${formatDuration(seconds)}`;
  return [
    `${step.name} (${phase})`,
    `${step.state}, ${timing}`,
    `started ${step.startedAt ?? 'unknown'}, finished ${step.finishedAt ?? 'unknown'}`,
    ...(step.detail === undefined ? [] : [step.detail]),
  ].join('\n');
}

function timelineSvg(report: GameDayReport): string {
  const { start, end } = timeDomain(report);
  const x = (t: number) => plotLeft + ((t - start) / (end - start)) * (plotRight - plotLeft);
  const body: string[] = [];
  // Row stripes sit under the grid lines, so they are drawn first.
  const stripes: string[] = [];
  let y = layout.axisHeight;

  report.entries.forEach((entry) => {
    const verdict = entry.passed ? 'passed' : 'failed';
    y += layout.entryHeight;
    body.push(
      `<g class="entry" data-entry="${esc(entry.name)}" data-result="${verdict}">`,
      `<line x1="0" x2="${layout.width}" y1="${y - layout.entryHeight + 4}" y2="${y - layout.entryHeight + 4}" stroke="#d1d9e0"/>`,
      `<text class="entry-label ${verdict}" x="4" y="${y - 9}">${esc(entry.name)} · ${entry.passed ? '✓ PASSED' : '✗ FAILED'}</text>`,
    );
    const phases = phasesOf(entry);
    if (phases.every((p) => p.steps.length === 0)) {
      y += layout.rowHeight;
      const why = entry.error === undefined ? 'no steps recorded' : `no steps recorded: ${cut(entry.error, 90)}`;
      body.push(`<text class="note" x="16" y="${y - 7}">${esc(why)}</text>`);
    }
    // Where a step without timestamps is marked: after the previous step of the same entry (or the start of
    // its verification), where it would have run.
    let cursor = start;
    for (const { phase, steps } of phases) {
      if (steps.length === 0) continue;
      if (phase === 'verification') cursor = parseTime(entry.verification?.startedAt) ?? cursor;
      y += layout.phaseHeight;
      body.push(`<text class="phase-label" x="16" y="${y - 5}">${phase}</text>`);
      steps.forEach((step, i) => {
        const top = y;
        y += layout.rowHeight;
        const mid = top + layout.rowHeight / 2;
        const stepStart = parseTime(step.startedAt);
        const stepEnd = parseTime(step.finishedAt);
        const title = `<title>${esc(stepTooltip(phase, step))}</title>`;
        const colour = stateColours[step.state];
        let mark: string;
        if (stepStart !== undefined && stepEnd !== undefined) {
          const x0 = x(Math.min(stepStart, stepEnd));
          // Sub-pixel steps stay visible as a 2 px sliver.
          const width = Math.max(2, x(Math.max(stepStart, stepEnd)) - x0);
          mark = `<rect class="step-bar" data-state="${step.state}" x="${px(x0)}" y="${px(mid - layout.barHeight / 2)}" width="${px(width)}" height="${layout.barHeight}" rx="2" fill="${colour}">${title}</rect>`;
          cursor = Math.max(stepStart, stepEnd);
        } else {
          const at = stepStart ?? stepEnd ?? cursor;
          cursor = at;
          const cx = x(at);
          mark = `<path class="step-marker" data-state="${step.state}" d="M${px(cx)} ${px(mid - 6)}l6 6l-6 6l-6 -6z" fill="${colour}" stroke="#1f2328" stroke-width="1">${title}</path>`;
        }
        if (i % 2 === 1) stripes.push(`<rect x="0" y="${top}" width="${layout.width}" height="${layout.rowHeight}" fill="#f6f8fa"/>`);
        body.push(
          `<g class="step-row" data-phase="${phase}" data-state="${step.state}">`,
          `<text class="step-label" x="28" y="${px(mid + 4)}">${esc(cut(step.name, layout.labelChars))}<title>${esc(step.name)}</title></text>`,
          mark,
          `<text class="step-status ${step.state}" x="${plotRight + 12}" y="${px(mid + 4)}">${step.state === 'failed' ? '✗ ' : step.state === 'done' ? '✓ ' : ''}${step.state} · ${stepTiming(step)}</text>`,
          '</g>',
        );
      });
    }
    body.push('</g>');
  });

  const height = y + 8 + layout.axisHeight;
  const ticks = ticksOf(start, end);
  const grid = ticks.map(
    (t) =>
      `<line x1="${px(x(t.time))}" x2="${px(x(t.time))}" y1="${layout.axisHeight - 4}" y2="${height - layout.axisHeight + 4}" stroke="#e6eaef"/>`,
  );
  const tickLabels = (ly: number) =>
    ticks.map((t) => `<text class="tick-label" x="${px(x(t.time))}" y="${ly}" text-anchor="middle">${t.label}</text>`);
  const bounds = [start, end].map(
    (t) =>
      `<line x1="${px(x(t))}" x2="${px(x(t))}" y1="${layout.axisHeight - 4}" y2="${height - layout.axisHeight + 4}" stroke="#8c959f" stroke-dasharray="3 3"/>`,
  );
  return `<svg class="timeline-chart" xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${height}" viewBox="0 0 ${layout.width} ${height}" role="img" aria-label="Timeline of every step of every entry, ${esc(utcClock(start))} to ${esc(utcClock(end))} UTC">
<title>Game day ${esc(report.id)} timeline, ${esc(utcClock(start))} to ${esc(utcClock(end))} UTC</title>
${stripes.join('\n')}
${grid.join('\n')}
${bounds.join('\n')}
<text class="tick-label" x="4" y="${layout.axisHeight - 10}">wall time, UTC</text>
${tickLabels(layout.axisHeight - 10).join('\n')}
${body.join('\n')}
${tickLabels(height - 8).join('\n')}
</svg>`;
}
