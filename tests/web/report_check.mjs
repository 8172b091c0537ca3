#!/usr/bin/env node
// Opens a coreclean report.html in headless Chromium and checks that it renders:
// no console errors, page errors, failed or network requests; the four charts
// (#cc-chart-auc, #cc-chart-fixed-share, #cc-chart-found, #cc-chart-importance)
// each hold a drawn canvas of non-zero size; the gallery shows one item per
// example of the embedded JSON; the iteration table has one row per iteration;
// nothing overflows horizontally at desktop (1280 px) and phone (390 px) widths.
// Writes a full-page screenshot at each width.
//
// Usage: node tests/web/report_check.mjs REPORT.html SCREENSHOT.png
//   -> SCREENSHOT.png (1280 px wide) and SCREENSHOT-narrow.png (390 px wide)
// Prints one line of JSON; exit 0 = passed, 1 = failed, 2 = bad usage,
// 77 = skipped (no Chromium at /usr/bin/chromium).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const CHART_IDS = ['cc-chart-auc', 'cc-chart-fixed-share', 'cc-chart-found', 'cc-chart-importance'];
const DESKTOP = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const TIMEOUT_MS = 90_000;

function usage(message) {
  if (message) console.error(`report_check: ${message}`);
  console.error('usage: node tests/web/report_check.mjs REPORT.html SCREENSHOT.png');
  process.exit(2);
}

function narrowPath(shot) {
  return shot.toLowerCase().endsWith('.png') ? `${shot.slice(0, -4)}-narrow.png` : `${shot}-narrow.png`;
}

const argv = process.argv.slice(2);
if (argv.length !== 2) usage(argv.length ? 'expected two arguments' : '');
const reportPath = path.resolve(argv[0]);
const shotPath = path.resolve(argv[1]);
const shotNarrowPath = narrowPath(shotPath);
if (!fs.existsSync(reportPath)) usage(`${reportPath}: no such file`);

if (!fs.existsSync(CHROMIUM)) {
  console.log(JSON.stringify({ ok: false, skipped: true, reason: `${CHROMIUM} not found` }));
  console.error(`report_check: skipped, ${CHROMIUM} not found`);
  process.exit(77);
}

// playwright-core lives in the repository's web/node_modules, whatever the working directory.
const requireWeb = createRequire(new URL('../../web/package.json', import.meta.url));
let chromium;
try {
  ({ chromium } = requireWeb('playwright-core'));
} catch (e) {
  console.log(JSON.stringify({ ok: false, problems: [`playwright-core not found: ${e.message}`] }));
  console.error('report_check: FAILED: playwright-core is not installed in web/node_modules (run npm ci in web/)');
  process.exit(1);
}

const problems = [];
const fail = (msg) => problems.push(msg);

// Runs in the page: measures the charts, the gallery, the table and the layout.
function inspectPage(chartIds) {
  const out = { charts: {}, overflow: 0, examplesExpected: null, examplesShown: 0, iterationsExpected: null,
    tableRows: 0, brokenImages: [], errorBox: null, dataError: null };
  for (const id of chartIds) {
    const host = document.getElementById(id);
    const c = { exists: !!host, canvas: false, width: 0, height: 0, drawn: false };
    const canvas = host && host.querySelector('canvas');
    if (canvas) {
      const r = canvas.getBoundingClientRect();
      c.canvas = true;
      c.width = Math.round(r.width);
      c.height = Math.round(r.height);
      try {
        const ctx = canvas.getContext('2d');
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < px.length; i += 4 * 7) if (px[i] !== 0) { c.drawn = true; break; }
      } catch (e) {
        c.drawn = null;
      }
    }
    out.charts[id] = c;
  }
  const doc = document.documentElement;
  out.overflow = Math.max(0, doc.scrollWidth - doc.clientWidth);
  try {
    const data = JSON.parse(document.getElementById('report-data').textContent);
    out.examplesExpected = Array.isArray(data.examples) ? data.examples.length : 0;
    out.iterationsExpected = Array.isArray(data.iterations) ? data.iterations.length : 0;
  } catch (e) {
    out.dataError = String(e && e.message);
  }
  out.examplesShown = document.querySelectorAll('#report .cc-gallery > .cc-example').length;
  out.tableRows = document.querySelectorAll('#report table.cc-iterations > tbody > tr').length;
  document.querySelectorAll('#report .cc-gallery img').forEach((img, i) => {
    if (!img.complete || img.naturalWidth === 0) out.brokenImages.push(img.alt || `image ${i}`);
  });
  const err = document.querySelector('#report .cc-error');
  out.errorBox = err ? err.textContent.trim() : null;
  return out;
}

function checkLayout(where, info, viewportWidth) {
  for (const id of CHART_IDS) {
    const c = info.charts[id];
    if (!c.exists) fail(`${where}: #${id} is missing`);
    else if (!c.canvas) fail(`${where}: #${id} has no canvas`);
    else if (!(c.width > 0 && c.height > 0)) fail(`${where}: #${id} canvas is ${c.width}x${c.height}`);
    else if (c.width > viewportWidth) fail(`${where}: #${id} canvas is ${c.width} px wide, wider than the ${viewportWidth} px viewport`);
    else if (c.drawn === false) fail(`${where}: #${id} canvas is blank`);
  }
  if (info.overflow > 1) fail(`${where}: page overflows horizontally by ${info.overflow} px`);
}

async function nextFrames(page) {
  await page.evaluate(() => new Promise((resolve) => {
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 50)));
  }));
}

async function run() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coreclean-report-check-'));
  let context;
  const summary = { ok: false, report: reportPath };
  try {
    // launch() refuses --user-data-dir; a persistent context takes the folder instead.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: DESKTOP,
      deviceScaleFactor: 1,
    });
    // The report must be self-contained: any network request is a failure (and is not sent).
    await context.route(/^(https?|wss?|ftp):/i, (route) => {
      fail(`network request: ${route.request().url()}`);
      return route.abort();
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') fail(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => fail(`page error: ${err.message}`));
    page.on('requestfailed', (req) => {
      const f = req.failure();
      fail(`request failed: ${req.url().slice(0, 120)} (${f ? f.errorText : 'unknown'})`);
    });
    page.on('crash', () => fail('page crashed'));

    await page.setViewportSize(DESKTOP);
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load', timeout: 30_000 });
    try {
      await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`#${id} canvas`)),
        CHART_IDS, { timeout: 10_000 });
    } catch {
      // reported below, per chart
    }
    await nextFrames(page);

    const desktop = await page.evaluate(inspectPage, CHART_IDS);
    if (desktop.dataError) fail(`report data is not valid JSON: ${desktop.dataError}`);
    if (desktop.errorBox) fail(`report shows an error: ${desktop.errorBox}`);
    checkLayout('1280 px', desktop, DESKTOP.width);
    if (desktop.examplesExpected !== null && desktop.examplesShown !== desktop.examplesExpected) {
      fail(`gallery shows ${desktop.examplesShown} examples, the data has ${desktop.examplesExpected}`);
    }
    if (desktop.iterationsExpected !== null && desktop.tableRows !== desktop.iterationsExpected) {
      fail(`iteration table has ${desktop.tableRows} rows, the data has ${desktop.iterationsExpected} iterations`);
    }
    if (desktop.brokenImages.length) fail(`images that did not load: ${desktop.brokenImages.join('; ')}`);
    fs.mkdirSync(path.dirname(shotPath), { recursive: true });
    await page.screenshot({ path: shotPath, fullPage: true });

    await page.setViewportSize(NARROW);
    await nextFrames(page);
    await nextFrames(page);
    const narrow = await page.evaluate(inspectPage, CHART_IDS);
    checkLayout('390 px', narrow, NARROW.width);
    fs.mkdirSync(path.dirname(shotNarrowPath), { recursive: true });
    await page.screenshot({ path: shotNarrowPath, fullPage: true });

    Object.assign(summary, {
      charts: Object.fromEntries(CHART_IDS.map((id) => [id, {
        desktop: [desktop.charts[id].width, desktop.charts[id].height],
        narrow: [narrow.charts[id].width, narrow.charts[id].height],
      }])),
      examples: desktop.examplesShown,
      iterations: desktop.tableRows,
      screenshot: shotPath,
      narrow_screenshot: shotNarrowPath,
    });
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  return summary;
}

const timer = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, report: reportPath, problems: [...problems, `timed out after ${TIMEOUT_MS / 1000} s`] }));
  console.error('report_check: FAILED: timed out');
  process.exit(1);
}, TIMEOUT_MS);
timer.unref();

let summary;
try {
  summary = await run();
} catch (e) {
  fail(`could not check the report: ${e && e.message ? e.message.split('\n')[0] : e}`);
  summary = { ok: false, report: reportPath };
}
summary.ok = problems.length === 0;
if (!summary.ok) summary.problems = problems;
console.log(JSON.stringify(summary));
if (!summary.ok) {
  console.error(`report_check: FAILED (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
process.exit(0);
