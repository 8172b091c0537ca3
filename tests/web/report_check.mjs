#!/usr/bin/env node
// Opens a coreclean report.html in headless Chromium and checks that it renders:
// no console errors, page errors, failed or network requests; the four charts
// (#cc-chart-auc, #cc-chart-fixed-share, #cc-chart-found, #cc-chart-importance)
// each hold a drawn canvas of non-zero size; the gallery shows one item per
// example of the embedded JSON; the iteration table has one row per iteration;
// the confusion matrix (when the data has one) has one row and column per class,
// the class of interest's column and the largest off-diagonal cell marked; the
// decisions table (opened when folded) has one row per decision and its CSV link
// resolves to the file beside the report; each chart names a baseline once (in
// its legend, not again in its caption); the examples state the scores' scales and call the dimmed view "In
// context"; nothing overflows horizontally at desktop (1280 px) and phone
// (390 px) widths. Writes a full-page screenshot at each width.
//
// Usage: node tests/web/report_check.mjs REPORT.html SCREENSHOT.png
//   -> SCREENSHOT.png (1280 px wide) and SCREENSHOT-narrow.png (390 px wide)
// Prints one line of JSON; exit 0 = passed, 1 = failed, 2 = bad usage,
// 77 = skipped (no Chromium at /usr/bin/chromium).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
    tableRows: 0, fusionCells: [], brokenImages: [], errorBox: null, dataError: null };
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
  out.fusionCells = Array.from(document.querySelectorAll('#report table.cc-iterations td.cc-col-fusion'))
    .map((td) => td.textContent.trim());
  document.querySelectorAll('#report .cc-gallery img').forEach((img, i) => {
    if (!img.complete || img.naturalWidth === 0) out.brokenImages.push(img.alt || `image ${i}`);
  });
  const err = document.querySelector('#report .cc-error');
  out.errorBox = err ? err.textContent.trim() : null;

  // Confusion matrix, decisions table and its CSV link, chart captions, example scores.
  let data = null;
  try { data = JSON.parse(document.getElementById('report-data').textContent); } catch (e) { /* reported above */ }
  const cm = document.querySelector('#confusion table.cc-cm-table');
  out.confusion = {
    expected: data && data.confusion && Array.isArray(data.confusion.classes) ? data.confusion.classes.length : 0,
    shown: !!cm && cm.getBoundingClientRect().width > 0,
    rows: cm ? cm.querySelectorAll('tbody > tr').length : 0,
    columns: cm ? cm.querySelectorAll('thead th.cc-cm-col').length : 0,
    interestColumns: cm ? cm.querySelectorAll('thead th.cc-cm-interest').length : 0,
    maxCells: cm ? cm.querySelectorAll('td.cc-cm-max').length : 0,
    caption: (document.querySelector('#confusion .cc-cm-caption') || {}).textContent || '',
  };
  const dt = document.querySelector('#decisions table.cc-decisions');
  const link = document.querySelector('#decisions a.cc-file-link');
  out.decisions = {
    expected: data && Array.isArray(data.decisions) ? data.decisions.length : 0,
    shown: !!dt && dt.getBoundingClientRect().width > 0,
    rows: dt ? dt.querySelectorAll('tbody > tr').length : 0,
    revisedExpected: data && Array.isArray(data.decisions) ? data.decisions.filter((d) => d.revised).length : 0,
    revisedMarked: dt ? dt.querySelectorAll('tbody > tr.cc-revised').length : 0,
    link: link ? link.href : null,
    linkAttr: link ? link.getAttribute('href') : null,
  };
  // Each chart names every baseline once: in its legend, not again in its caption.
  out.captions = [];
  document.querySelectorAll('#report .cc-chart').forEach((fig) => {
    const caption = fig.textContent || '';
    const names = data && Array.isArray(data.baselines) ? data.baselines.map((b) => String(b.name)) : [];
    for (const name of names) {
      // Count whole mentions: "random review" inside "random review (mean of 500 orders)" is not one.
      const others = names.filter((n) => n !== name && n.includes(name));
      let text = caption;
      for (const o of others) text = text.split(o).join('');
      const count = text.split(name).length - 1;
      if (count > 1) out.captions.push(`${fig.id}: "${name}" ${count} times in "${caption.trim()}"`);
    }
  });
  out.examples = [];
  document.querySelectorAll('#report .cc-gallery > .cc-example').forEach((ex) => {
    const score = (cls) => {
      const d = ex.querySelector(`.cc-score.${cls}`);
      return d ? [d.querySelector('dt').textContent, d.querySelector('dd').textContent] : null;
    };
    out.examples.push({
      misfit: score('cc-score-misfit'),
      atypical: score('cc-score-atypical'),
      captions: [...ex.querySelectorAll('figcaption')].map((f) => f.textContent),
    });
  });
  out.galleryIntro = ((document.querySelector('#examples .cc-section-intro') || {}).textContent || '');
  out.galleryScales = ((document.querySelector('#examples .cc-split-legend') || {}).textContent || '');
  out.saysAttention = /attention/i.test(document.getElementById('report').innerText);
  return out;
}

function checkContent(info, reportFile) {
  const c = info.confusion;
  if (!c.expected) fail('the report data has no confusion matrix (the demo passes its pick\'s)');
  else {
    if (!c.shown) fail('the confusion matrix is not shown');
    if (c.rows !== c.expected || c.columns !== c.expected) {
      fail(`confusion matrix is ${c.rows} x ${c.columns}, the data has ${c.expected} classes`);
    }
    if (c.interestColumns !== 1) fail(`confusion matrix marks ${c.interestColumns} columns as the class of interest`);
    if (c.maxCells !== 1) fail(`confusion matrix marks ${c.maxCells} cells as the largest confusion`);
    if (!/rows are the true classes, each normalised to 1/i.test(c.caption)) {
      fail(`confusion matrix caption does not say rows are true classes normalised to 1: "${c.caption}"`);
    }
  }
  const d = info.decisions;
  if (!d.expected) fail('the report data has no decisions');
  if (!d.shown) fail('the decisions table is not shown');
  if (d.rows !== d.expected) fail(`decisions table has ${d.rows} rows, the data has ${d.expected} decisions`);
  if (d.revisedMarked !== d.revisedExpected) fail(`${d.revisedMarked} decisions marked revised, the data has ${d.revisedExpected}`);
  if (!d.link) fail('no link to the decisions CSV');
  else if (!d.link.startsWith('file:') || /^[a-z][a-z0-9+.-]*:|^\//i.test(d.linkAttr)) {
    fail(`the decisions CSV link is not relative: ${d.linkAttr}`);
  } else {
    const file = fileURLToPath(d.link);
    if (path.dirname(file) !== path.dirname(reportFile)) fail(`the decisions CSV link leaves the report's folder: ${file}`);
    else if (!fs.existsSync(file)) fail(`the decisions CSV link does not resolve: ${file} does not exist`);
    else {
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
      if (!lines[0].startsWith('batch,id,decision,')) fail(`${file}: unexpected header ${lines[0]}`);
      if (lines.length !== d.expected + 1) fail(`${file} has ${lines.length - 1} rows, the page ${d.expected}`);
    }
  }
  // The view weights after every iteration: "r / h / n", each with two decimals.
  if (!info.fusionCells || !info.fusionCells.length) fail('the iteration table has no view weights column');
  else {
    info.fusionCells.forEach((t, i) => {
      if (!/^\d+\.\d{2} \/ \d+\.\d{2} \/ \d+\.\d{2}$/.test(t)) fail(`iteration ${i}: view weights "${t}" are not "r / h / n"`);
    });
  }
  for (const c2 of info.captions) fail(`a chart names a baseline more than once: ${c2}`);
  info.examples.forEach((x, i) => {
    if (!x.misfit || !/^\d+\.\d{3}$/.test(x.misfit[1])) fail(`example ${i}: misfit is not a number (${x.misfit && x.misfit[1]})`);
    if (!x.atypical || !/\u00d7 class average$/.test(x.atypical[1])) {
      fail(`example ${i}: atypical is not shown as \u00d7 class average (${x.atypical && x.atypical[1]})`);
    }
    if (!x.captions.includes('In context') && !x.captions.includes('In its image')) {
      fail(`example ${i}: no "In context" view (${x.captions.join(', ')})`);
    }
  });
  if (info.examples.length && !/importance = \u2212log\(1 \u2212 misfit\) \+ 0\.01 \u00d7 atypical/i.test(info.galleryIntro)) {
    fail(`the examples do not state importance = \u2212log(1 \u2212 misfit) + 0.01 \u00d7 atypical: "${info.galleryIntro}"`);
  }
  // The README's scales: misfit 0 = confident agreement, 1 = another class confidently named;
  // atypical relative to its class average.
  if (info.examples.length && !(/0 = a held-out model confidently agrees with the label/.test(info.galleryScales) &&
      /1 = it confidently names another class/.test(info.galleryScales) && /\u00d7 class average/.test(info.galleryScales))) {
    fail(`the examples do not state the scales of misfit and atypical: "${info.galleryScales}"`);
  }
  if (info.saysAttention) fail('the page still calls a view "Attention"');
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
    // A long decisions table starts folded: open it, as a reader would.
    await page.evaluate(() => document.querySelectorAll('#decisions details').forEach((d) => { d.open = true; }));
    await nextFrames(page);

    const desktop = await page.evaluate(inspectPage, CHART_IDS);
    checkContent(desktop, reportPath);
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
    if (!narrow.decisions.shown) fail('390 px: the decisions table is not shown');
    if (!narrow.confusion.shown) fail('390 px: the confusion matrix is not shown');
    fs.mkdirSync(path.dirname(shotNarrowPath), { recursive: true });
    await page.screenshot({ path: shotNarrowPath, fullPage: true });

    Object.assign(summary, {
      charts: Object.fromEntries(CHART_IDS.map((id) => [id, {
        desktop: [desktop.charts[id].width, desktop.charts[id].height],
        narrow: [narrow.charts[id].width, narrow.charts[id].height],
      }])),
      examples: desktop.examplesShown,
      iterations: desktop.tableRows,
      confusion_classes: desktop.confusion.rows,
      decisions: desktop.decisions.rows,
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
