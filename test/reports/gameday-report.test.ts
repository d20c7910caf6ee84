// Game day report rendering: Markdown and HTML text from a realistic report, then the HTML page rendered
// by real headless Chromium (Debian's /usr/bin/chromium, installed by lab/install-chromium.sh): its DOM,
// the laid-out geometry of the timeline, and the pixels of a screenshot. No lab needed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { renderGameDayReport } from '../../reports/gameday-report.js';
import type { Step } from '../../model/steps.js';
import type { GameDayReport } from '../../model/verification.js';

const at = (clock: string) => `2026-11-21T${clock}Z`;
const step = (name: string, state: Step['state'], startedAt?: string, finishedAt?: string, detail?: string): Step => ({
  name,
  state,
  ...(startedAt === undefined ? {} : { startedAt: at(startedAt) }),
  ...(finishedAt === undefined ? {} : { finishedAt: at(finishedAt) }),
  ...(detail === undefined ? {} : { detail }),
});

const secondaryFailure = `compare inventory: 3 keys missing under /registry/secrets; etcd said <script>alert("pwned")</script> & 'quoted'`;
const shopError = 'backup failed: Velero Backup velero/shop-20261121-0900 ended PartiallyFailed; errors: "<b>restic</b> & timeout"';

/** Two etcd entries (one passed with a fresh backup, one whose verification failed) and a Velero entry whose backup failed. */
const report: GameDayReport = {
  kind: 'lifeboat.gameday-report',
  formatVersion: 1,
  id: '2026-11-21T09-00-00Z',
  workflowId: 'gameday/2026-11-21T09-00-00Z',
  runId: '0197a1c2-5b7e-7d41-9a6e-3f0c2b8e4d11',
  startedAt: at('09:00:00'),
  finishedAt: at('09:07:30'),
  passed: false,
  entries: [
    {
      name: 'etcd/primary',
      kind: 'etcd',
      backup: {
        workflowId: 'etcd-snapshot/primary/2026-11-21T09-00-00Z',
        id: 'snap-01a7c3',
        passed: true,
        detail: 'uploaded 12.3 MiB at revision 48213',
        steps: [
          step('preflight', 'done', '09:00:00.500', '09:00:04', 'both control planes healthy'),
          step('stream snapshot', 'done', '09:00:04', '09:00:41', '12.3 MiB at revision 48213'),
          step('record inventory', 'done', '09:00:41', '09:00:47', '48,213 keys in 61 prefixes'),
          step('write manifest', 'done', '09:00:47', '09:00:48'),
        ],
      },
      verification: {
        kind: 'etcd',
        subject: 'primary',
        sourceCluster: 'primary',
        restoredTo: 'scratch',
        backup: {
          id: 'snap-01a7c3',
          createdAt: at('09:00:04'),
          location: 's3://lifeboat-backups/etcd/primary/snap-01a7c3/snapshot.a1.db.lbenc',
          sizeBytes: 12_897_484,
          items: 48_213,
        },
        passed: true,
        checks: [
          { name: 'stored object sha256', passed: true, detail: 'matches the manifest' },
          { name: 'inventory', passed: true, detail: '48,213 of 48,213 keys' },
        ],
        steps: [
          step('download snapshot', 'done', '09:00:50', '09:01:20'),
          step('decrypt and restore', 'done', '09:01:20', '09:02:05', 'etcdutl restore into scratch dir'),
          step('compare inventory', 'done', '09:02:05', '09:02:30'),
          step('check hashes', 'done', '09:02:30', '09:02:40'),
        ],
        rtoSeconds: 110,
        rpoSeconds: 46,
        objectives: { rtoSeconds: 600, rpoSeconds: 3600 },
        workflowId: 'verify/etcd/primary/2026-11-21T09-00-00Z',
        runId: '0197a1c3-0000-7000-8000-000000000001',
        startedAt: at('09:00:50'),
        finishedAt: at('09:02:40'),
      },
      passed: true,
      rtoMet: true,
      rpoMet: true,
    },
    {
      name: 'etcd/secondary',
      kind: 'etcd',
      verification: {
        kind: 'etcd',
        subject: 'secondary',
        sourceCluster: 'secondary',
        restoredTo: 'scratch',
        backup: {
          id: 'snap-00f9e2',
          createdAt: at('08:30:00'),
          location: 's3://lifeboat-backups/etcd/secondary/snap-00f9e2/snapshot.a1.db.lbenc',
          sizeBytes: 9_122_611,
          items: 31_877,
        },
        passed: false,
        failureReason: secondaryFailure,
        checks: [
          { name: 'stored object sha256', passed: true, detail: 'matches the manifest' },
          { name: 'inventory', passed: false, detail: '31,874 of 31,877 keys; missing <img src=x onerror=alert(1)>' },
        ],
        steps: [
          step('download snapshot', 'done', '09:00:30', '09:00:52'),
          step('decrypt and restore', 'done', '09:00:52', '09:01:40'),
          step('compare inventory', 'failed', '09:01:40', '09:06:10', 'inventory mismatch: <script>alert("x")</script> & 2 more'),
          step('check hashes', 'skipped', undefined, undefined, 'an earlier step failed'),
        ],
        rtoSeconds: 340,
        rpoSeconds: 1830,
        objectives: { rtoSeconds: 300, rpoSeconds: 3600 },
        workflowId: 'verify/etcd/secondary/2026-11-21T09-00-00Z',
        runId: '0197a1c3-0000-7000-8000-000000000002',
        startedAt: at('09:00:30'),
        finishedAt: at('09:06:10'),
      },
      passed: false,
      rtoMet: false,
      rpoMet: true,
    },
    {
      name: 'velero/shop',
      kind: 'velero',
      backup: {
        workflowId: 'velero-backup/shop/2026-11-21T09-00-00Z',
        id: 'shop-20261121-0900',
        passed: false,
        detail: 'phase PartiallyFailed: 2 errors',
        steps: [
          step('preflight', 'done', '09:00:01', '09:00:03'),
          step('create backup', 'done', '09:00:03', '09:00:05'),
          step('wait for completion', 'failed', '09:00:05', '09:03:05', 'phase PartiallyFailed: pod volume "data" <timeout> & retry'),
          step('record backup', 'pending'),
        ],
      },
      error: shopError,
      passed: false,
      rtoMet: false,
      rpoMet: false,
    },
  ],
};

/** Step names as the timeline must list them: per entry, the backup's steps, then the verification's. */
const expectedRows = report.entries.flatMap((e) => [...(e.backup?.steps ?? []), ...(e.verification?.steps ?? [])]);

const unescapeHtml = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

describe('renderGameDayReport text', () => {
  const { json, markdown, html } = renderGameDayReport(report);

  it('renders JSON that parses back to the report', () => {
    expect(JSON.parse(json)).toEqual(report);
    expect(json).toContain('\n  "kind": "lifeboat.gameday-report",\n');
  });

  it('is deterministic: the same report renders to the same bytes', () => {
    expect(renderGameDayReport(structuredClone(report))).toEqual({ json, markdown, html });
  });

  it('renders the Markdown verdict and summary rows with figures against objectives', () => {
    expect(markdown.startsWith('# Game day 2026-11-21T09-00-00Z: FAILED\n')).toBe(true);
    expect(markdown).toContain('1 of 3 entries passed.');
    expect(markdown).toContain('| Entry | Kind | Backup id | Passed | RTO vs objective | RPO vs objective | Size / items |\n| --- |');
    expect(markdown).toContain(
      '\n| etcd/primary | etcd | snap-01a7c3 | ✅ yes | 1 min 50 s of 10 min: ✅ met | 46 s of 1 h: ✅ met | 12.3 MiB, 48,213 items |\n',
    );
    expect(markdown).toContain(
      '\n| etcd/secondary | etcd | snap-00f9e2 | ❌ no | 5 min 40 s of 5 min: ❌ missed | 30 min 30 s of 1 h: ✅ met | 8.7 MiB, 31,877 items |\n',
    );
    expect(markdown).toContain(
      '\n| velero/shop | velero | shop-20261121-0900 | ❌ no | not measured: ❌ missed | not measured: ❌ missed | — |\n',
    );
  });

  it('renders each entry with its checks, timed steps and failure, hostile text escaped or fenced', () => {
    expect(markdown).toContain('\n## etcd/secondary (etcd): FAILED\n');
    expect(markdown).toContain(`\nFailure reason:\n\n\`\`\`text\n${secondaryFailure}\n\`\`\`\n`);
    expect(markdown).toContain(`\nError:\n\n\`\`\`text\n${shopError}\n\`\`\`\n`);
    expect(markdown).toContain('\n| inventory | ❌ failed | 31,874 of 31,877 keys; missing \\<img src=x onerror=alert(1)\\> |\n');
    expect(markdown).toContain('\n| backup | stream snapshot | done | 09:00:04Z | 37 s | 12.3 MiB at revision 48213 |\n');
    expect(markdown).toContain(
      '\n| verification | compare inventory | failed | 09:01:40Z | 4 min 30 s | inventory mismatch: \\<script\\>alert("x")\\</script\\> \\& 2 more |\n',
    );
    expect(markdown).toContain('\n| verification | check hashes | skipped | unknown | no timestamps | an earlier step failed |\n');
    expect(markdown).toContain('\n| backup | record backup | pending | unknown | no timestamps |  |\n');
    // Outside fenced blocks, no tag from the data survives unescaped.
    const outsideFences = markdown.replace(/^```text\n[\s\S]*?\n```$/gm, '');
    expect(outsideFences).not.toMatch(/(?<!\\)<(script|img|b)\b/);
  });

  it('escapes every hostile string in the HTML and loads nothing external', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img|<b>/i);
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;');
    expect(html).toContain('errors: &quot;&lt;b&gt;restic&lt;/b&gt; &amp; timeout&quot;');
    expect(html).toContain('missing &lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('pod volume &quot;data&quot; &lt;timeout&gt; &amp; retry');
  });
});

describe('renderGameDayReport edge cases', () => {
  it('renders entries without steps, unparseable times and a step still running, dropping no step', () => {
    const odd: GameDayReport = {
      ...report,
      id: 'odd',
      startedAt: 'not a time',
      passed: false,
      entries: [
        {
          name: 'velero/empty',
          kind: 'velero',
          error: 'child workflow could not start: <already started>',
          passed: false,
          rtoMet: false,
          rpoMet: false,
        },
        {
          name: 'etcd/running',
          kind: 'etcd',
          passed: false,
          rtoMet: false,
          rpoMet: false,
          backup: {
            workflowId: 'etcd-snapshot/x',
            passed: false,
            detail: 'cancelled',
            steps: [
              step('preflight', 'done', '09:00:00', '09:00:02'),
              step('stream snapshot', 'running', '09:00:02'),
              { name: 'record inventory', state: 'done', startedAt: 'yesterday', finishedAt: at('09:05:00') },
            ],
          },
        },
      ],
    };
    const { markdown, html } = renderGameDayReport(odd);
    expect(html).toContain('>no steps recorded: child workflow could not start: &lt;already started&gt;</text>');
    expect([...html.matchAll(/<(rect|path) class="step-(bar|marker)" data-state="(\w+)"/g)].map((m) => `${m[2]}:${m[3]}`)).toEqual([
      'bar:done',
      'marker:running',
      'marker:done',
    ]);
    expect(html).toContain('>running · no finish time</text>');
    expect(html).toContain('>✓ done · no start time</text>');
    expect(markdown).toContain('\n| backup | stream snapshot | running | 09:00:02Z | no finish time |  |\n');
    expect(markdown).toContain('\n| velero/empty | velero | — | ❌ no | not measured: ❌ missed | not measured: ❌ missed | — |\n');
    expect(markdown).toContain('\n## velero/empty (velero): FAILED\n\nError:\n');

    const none = renderGameDayReport({ ...report, entries: [], passed: true });
    expect(none.markdown).toContain('# Game day 2026-11-21T09-00-00Z: PASSED\n\n0 of 0 entries passed.');
    expect(none.html).toContain('data-verdict="passed">✓ PASSED</div>');
    expect(none.html).not.toContain('class="step-row"');
  });
});

// --- Real Chromium ---------------------------------------------------------------------------------

const chromiumPath = '/usr/bin/chromium';
const viewportWidth = 1280;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Probe {
  svg: Box;
  labels: { text: string; width: number }[];
  marks: (Box & { kind: 'bar' | 'marker'; state: string; name: string })[];
}

/** Appended to a copy of the page (never to the page itself): measures the laid-out timeline into an attribute --dump-dom shows. */
const probeScript = `<script>
const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
const svg = document.querySelector('svg.timeline-chart');
document.documentElement.dataset.probe = JSON.stringify({
  svg: box(svg),
  labels: [...svg.querySelectorAll('text.step-label')].map((t) => ({ text: t.firstChild.textContent, width: t.getBBox().width })),
  marks: [...svg.querySelectorAll('.step-bar, .step-marker')].map((m) => ({
    ...box(m), kind: m.matches('.step-bar') ? 'bar' : 'marker', state: m.dataset.state,
    name: m.closest('.step-row').querySelector('text.step-label title').textContent,
  })),
});
</script>`;

interface Png {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG: IHDR, the concatenated IDAT inflated, each row unfiltered. */
function decodePng(file: Buffer): Png {
  expect(file.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
  let width = 0,
    height = 0,
    bitDepth = 0,
    colourType = 0,
    interlace = 0;
  const idat: Buffer[] = [];
  for (let offset = 8; offset < file.length;) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const data = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      [bitDepth, colourType, interlace] = [data.readUInt8(8), data.readUInt8(9), data.readUInt8(12)];
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  expect({ bitDepth, interlace, rgb: colourType === 2 || colourType === 6 }).toEqual({ bitDepth: 8, interlace: 0, rgb: true });
  const channels = colourType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe(height * (stride + 1));
  const pixels = Buffer.alloc(height * stride);
  for (let row = 0; row < height; row++) {
    const filter = raw.readUInt8(row * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const value = raw.readUInt8(row * (stride + 1) + 1 + i);
      const left = i >= channels ? pixels.readUInt8(row * stride + i - channels) : 0;
      const up = row > 0 ? pixels.readUInt8((row - 1) * stride + i) : 0;
      const upLeft = row > 0 && i >= channels ? pixels.readUInt8((row - 1) * stride + i - channels) : 0;
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = left;
          break;
        case 2:
          predictor = up;
          break;
        case 3:
          predictor = Math.floor((left + up) / 2);
          break;
        case 4: {
          const p = left + up - upLeft;
          const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
          predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
          break;
        }
        default:
          throw new Error(`row ${row}: unknown PNG filter ${filter}`);
      }
      pixels.writeUInt8((value + predictor) & 0xff, row * stride + i);
    }
  }
  return { width, height, channels, pixels };
}

const hexColour = (hex: string): [number, number, number] =>
  [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const stateHex = { done: '#2da44e', failed: '#cf222e', skipped: '#8c959f', pending: '#d0d7de' };

function pixelAt(png: Png, x: number, y: number): [number, number, number] {
  const i = (Math.floor(y) * png.width + Math.floor(x)) * png.channels;
  return [png.pixels.readUInt8(i), png.pixels.readUInt8(i + 1), png.pixels.readUInt8(i + 2)];
}

const near = (a: [number, number, number], b: [number, number, number]) => a.every((v, i) => Math.abs(v - b[i]!) <= 8);

function countColour(png: Png, region: Box, hex: string): number {
  const colour = hexColour(hex);
  let count = 0;
  for (let y = Math.max(0, Math.floor(region.y)); y < Math.min(png.height, region.y + region.height); y++) {
    for (let x = Math.max(0, Math.floor(region.x)); x < Math.min(png.width, region.x + region.width); x++) {
      if (near(pixelAt(png, x, y), colour)) count++;
    }
  }
  return count;
}

describe('renderGameDayReport HTML in headless Chromium', () => {
  let dir: string;
  let pageUrl: string;

  const chromium = async (args: string[]): Promise<string> => {
    const { stdout } = await execa(
      chromiumPath,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--force-device-scale-factor=1',
        `--user-data-dir=${join(dir, 'profile')}`,
        ...args,
      ],
      { timeout: 60_000 },
    );
    return stdout;
  };

  beforeAll(async () => {
    // Missing Chromium is a failure, not a skip: the page's rendering is what this suite is for.
    if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} not found: run bash lab/install-chromium.sh`);
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-gameday-report-'));
    const page = join(dir, 'report.html');
    await writeFile(page, renderGameDayReport(report).html);
    pageUrl = pathToFileURL(page).href;
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('renders a DOM with one labelled timeline row per step of every entry, and the pass/fail markers', async () => {
    const dom = await chromium(['--dump-dom', pageUrl]);
    expect(dom.match(/<svg class="timeline-chart"/g)).toHaveLength(1);
    const labels = [...dom.matchAll(/<text class="step-label"[^>]*>([^<]*)<title>/g)].map((m) => unescapeHtml(m[1]!));
    expect(labels).toHaveLength(16);
    expect(labels).toEqual(expectedRows.map((s) => s.name));
    const rowStates = [...dom.matchAll(/<g class="step-row" data-phase="(\w+)" data-state="(\w+)">/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(rowStates).toEqual(
      report.entries.flatMap((e) => [
        ...(e.backup?.steps ?? []).map((s) => `backup:${s.state}`),
        ...(e.verification?.steps ?? []).map((s) => `verification:${s.state}`),
      ]),
    );
    expect(dom.match(/<rect class="step-bar"/g)).toHaveLength(14);
    expect(dom.match(/<path class="step-marker"/g)).toHaveLength(2);
    expect(dom.match(/<title>[^<]*<\/title><\/(rect|path)>/g)).toHaveLength(16);

    expect(dom).toContain('<div class="verdict failed" data-verdict="failed">✗ FAILED</div>');
    expect([...dom.matchAll(/<td data-result="(\w+)">/g)].map((m) => m[1])).toEqual(['passed', 'failed', 'failed']);
    expect(dom).toContain('>etcd/primary · ✓ PASSED</text>');
    expect(dom).toContain('>etcd/secondary · ✗ FAILED</text>');
    expect(dom.match(/✓ met/g)).toHaveLength(3);
    expect(dom.match(/✗ missed/g)).toHaveLength(3);
    // Hostile text arrived as text: no element was made of it.
    expect(dom).not.toMatch(/<script|<img|<b>/i);
    expect(dom).toContain(`&lt;script&gt;alert("pwned")&lt;/script&gt; &amp; 'quoted'</pre>`);
  });

  it('lays out and paints the timeline: labels in a real font, bars in their state colours where the probe measured them', async () => {
    const probed = join(dir, 'probed.html');
    await writeFile(probed, renderGameDayReport(report).html.replace('</body>', `${probeScript}</body>`));
    const dom = await chromium([`--window-size=${viewportWidth},1000`, '--dump-dom', pathToFileURL(probed).href]);
    const attribute = /<html lang="en" data-probe="([^"]*)">/.exec(dom);
    expect(attribute).not.toBeNull();
    const probe = JSON.parse(unescapeHtml(attribute![1]!)) as Probe;

    expect(probe.labels.map((l) => l.text)).toEqual(expectedRows.map((s) => s.name));
    for (const label of probe.labels) expect(label.width).toBeGreaterThan(4 * label.text.length);
    expect(probe.marks.map((m) => `${m.name}:${m.kind}:${m.state}`)).toEqual(
      expectedRows.map((s) => `${s.name}:${s.startedAt && s.finishedAt ? 'bar' : 'marker'}:${s.state}`),
    );
    for (const mark of probe.marks) {
      expect(mark.x).toBeGreaterThanOrEqual(probe.svg.x);
      expect(mark.x + mark.width).toBeLessThanOrEqual(probe.svg.x + probe.svg.width);
      expect(mark.y).toBeGreaterThanOrEqual(probe.svg.y);
      expect(mark.y + mark.height).toBeLessThanOrEqual(probe.svg.y + probe.svg.height);
    }
    // Bars are as long as their steps: the 4 min 30 s failed comparison is 27 times the 10 s hash check.
    const bar = (name: string, state: string) => probe.marks.find((m) => m.name === name && m.state === state && m.kind === 'bar')!;
    expect(bar('compare inventory', 'failed').width / bar('check hashes', 'done').width).toBeCloseTo(27, 0);

    // The screenshot's viewport holds the whole timeline; the page's layout does not depend on its height.
    const height = Math.ceil(probe.svg.y + probe.svg.height) + 40;
    const shot = join(dir, 'report.png');
    await chromium([`--window-size=${viewportWidth},${height}`, `--screenshot=${shot}`, pageUrl]);
    const png = decodePng(await readFile(shot));
    expect({ width: png.width, height: png.height }).toEqual({ width: viewportWidth, height });

    const colourOf = (m: Probe['marks'][number]) => hexColour(stateHex[m.state as keyof typeof stateHex]);
    const centre = (m: Box) => pixelAt(png, m.x + m.width / 2, m.y + m.height / 2);
    expect(probe.marks.filter((m) => !near(centre(m), colourOf(m))).map((m) => `${m.name} ${m.state}: ${centre(m).join(',')}`)).toEqual([]);
    const barArea = (state: string) =>
      probe.marks.filter((m) => m.kind === 'bar' && m.state === state).reduce((sum, m) => sum + m.width * m.height, 0);
    expect(countColour(png, probe.svg, stateHex.done)).toBeGreaterThan(0.8 * barArea('done'));
    expect(countColour(png, probe.svg, stateHex.failed)).toBeGreaterThan(0.8 * barArea('failed'));
  });
});
