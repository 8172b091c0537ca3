// Browser test of the review page: a reviewer works through a whole batch with the keyboard,
// undoes a decision, reloads, and applies the batch; the decisions are checked on the page and
// in session.db. Screenshots go to OUT_DIR.
//
// Usage: node tests/web/review_test.mjs CORECLEAN_BIN SESSION_DIR OUT_DIR
// Exit: 0 pass, 1 fail (playwright-core missing included: ./run setup installs it), 77 skip (no Chromium).
// The session comes from tests/web/make_session.sh (one open batch, nothing decided yet).

import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const PYTHON = '/usr/bin/python3';
const REVIEWER = 'web-test reviewer';
const STEP_MS = 20000;

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function usage() {
  console.error('usage: node tests/web/review_test.mjs CORECLEAN_BIN SESSION_DIR OUT_DIR');
  process.exit(2);
}

const [bin, sessionArg, outArg] = process.argv.slice(2);
if (!bin || !sessionArg || !outArg) usage();
const sessionDir = path.resolve(sessionArg);
const outDir = path.resolve(outArg);
const dbPath = path.join(sessionDir, 'session.db');

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is missing (Debian package "chromium"); the review page test needs it.`);
  process.exit(77);
}
let chromium;
try {
  const require = createRequire(path.join(repo, 'web', 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  // A missing dev dependency means the set-up did not run: a failure, not a skip.
  console.log(`FAIL: playwright-core is not installed in ${path.join(repo, 'web', 'node_modules')} (run ./run setup, or npm ci in web/): ${e.message}`);
  process.exit(1);
}
if (!fs.existsSync(dbPath)) {
  console.error(`FAIL: ${dbPath} does not exist (make the session with tests/web/make_session.sh)`);
  process.exit(1);
}
fs.mkdirSync(outDir, { recursive: true });

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeout = STEP_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Failure(`timed out waiting for ${what}${last instanceof Error ? ': ' + last.message : ''}`);
    await sleep(100);
  }
}

// ---- the server --------------------------------------------------------------------------

let server = null;
let serverLog = '';

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ['review', sessionDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Failure(`the server printed no http://127.0.0.1:PORT/ line within 30 s\n${serverLog}`)), 30000);
    server.stdout.on('data', (chunk) => {
      serverLog += chunk;
      out += chunk;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    });
    server.stderr.on('data', (chunk) => { serverLog += chunk; });
    server.on('error', (e) => { clearTimeout(timer); reject(new Failure(`cannot start ${bin}: ${e.message}`)); });
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Failure(`the server exited early (code ${code}, signal ${signal}):\n${serverLog}`));
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const t = setTimeout(() => server.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (server) server.kill('SIGKILL');
    process.exit(1);
  });
}

// ---- session.db ----------------------------------------------------------------------------

function dbDecisions(batch) {
  const script = [
    'import json, sqlite3, sys',
    'db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)',
    'rows = db.execute("SELECT sample_id, decision, old_label, new_label, reviewer, applied FROM decisions WHERE batch = ?", (int(sys.argv[2]),)).fetchall()',
    'print(json.dumps([dict(zip(["id", "decision", "old_label", "new_label", "reviewer", "applied"], r)) for r in rows]))',
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script, dbPath, String(batch)], { encoding: 'utf8' });
  return new Map(JSON.parse(out).map((r) => [r.id, r]));
}

// ---- the test ------------------------------------------------------------------------------

async function run() {
  const base = await startServer();
  console.log(`server: ${base}`);
  const api = async (p) => {
    const res = await fetch(new URL(p, base));
    check(res.ok, `GET ${p}: HTTP ${res.status}`);
    return res.json();
  };

  const state0 = await api('/api/state');
  check(state0.batch && !state0.batch.applied && state0.batch.items.length > 0, 'the session has no open batch with boxes');
  const batchNo = state0.batch.number;
  const classes = state0.classes;
  const items = state0.batch.items;
  check(items.every((it) => it.decision === null), 'the open batch already holds decisions: make a fresh session');
  console.log(`batch ${batchNo}: ${items.length} boxes, ${classes.length} classes`);

  // What the reviewer will do with each box (by rank): mostly keep, some deletes, relabels with a
  // digit, and one relabel through the "/" picker.
  const digitTarget = (it) => {
    const digitable = classes.slice(0, 9);
    if (digitable.some((c) => c.id === it.suggested_label) && it.suggested_label !== it.label) return it.suggested_label;
    return digitable.find((c) => c.id !== it.label).id;
  };
  const pickerTarget = (it) => {
    const beyond = classes.slice(9).find((c) => c.id !== it.label);  // only reachable by the picker
    return (beyond || [...classes].reverse().find((c) => c.id !== it.label)).id;
  };
  const plan = new Map();
  items.forEach((it, i) => {
    let p;
    if (i === 2) p = { how: 'picker', decision: 'relabel', new_label: pickerTarget(it) };
    else if (i === 0 || i % 5 === 4) p = { how: 'digit', decision: 'relabel', new_label: digitTarget(it) };
    else if (i % 7 === 1) p = { how: 'key', decision: 'delete', new_label: null };
    else p = { how: 'key', decision: 'keep', new_label: null };
    plan.set(it.id, p);
  });
  const className = (id) => classes.find((c) => c.id === id).name;

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coreclean-review-test-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const noProblems = (when) => check(problems.length === 0, `${when}:\n  ${problems.join('\n  ')}`);

    const ready = async (batch) => {
      await page.waitForFunction((b) => document.body.dataset.batchReady === String(b), batch, { timeout: STEP_MS });
    };
    const currentId = () => page.$eval('#focus', (n) => Number(n.dataset.id));
    const thumbDecision = (id) => page.$eval(`.thumb[data-id="${id}"]`, (n) => n.dataset.decision || null);

    await page.goto(base, { waitUntil: 'load' });
    await ready(batchNo);
    const batchReadyMs = await page.evaluate(() => window.ccBatchReadyMs);
    check(typeof batchReadyMs === 'number', 'window.ccBatchReadyMs is not set');
    check((await page.evaluate(() => performance.getEntriesByName('cc-batch-ready').length)) === 1,
      'no performance mark cc-batch-ready');
    noProblems('after loading the page');

    // reviewer name: typed in the header, then Escape hands the keyboard back to the review
    await page.click('#reviewer');
    await page.keyboard.type(REVIEWER);
    await page.keyboard.press('Escape');
    check(await page.evaluate(() => localStorage.getItem('coreclean.reviewer')) === REVIEWER, 'the reviewer name is not remembered');

    // ---- the whole batch with the keyboard
    const order = [];
    for (let step = 0; step < items.length; step++) {
      const id = await currentId();
      check(plan.has(id), `the focused box #${id} is not in the batch`);
      check(!order.includes(id), `box #${id} is focused again after its decision (step ${step})`);
      check((await thumbDecision(id)) === null, `the focused box #${id} is already decided (step ${step})`);
      const p = plan.get(id);
      if (p.how === 'key') {
        await page.keyboard.press(p.decision === 'keep' ? 'k' : 'd');
      } else if (p.how === 'digit') {
        const digit = classes.findIndex((c) => c.id === p.new_label) + 1;
        check(digit >= 1 && digit <= 9, 'digit out of range');
        await page.keyboard.press(String(digit));
      } else {
        await page.keyboard.press('/');
        await page.waitForSelector('#picker[open]', { timeout: STEP_MS });
        const name = className(p.new_label);
        await page.keyboard.type(name.slice(0, Math.max(3, Math.ceil(name.length / 2))).toLowerCase());
        const active = await page.$eval('#picker-list [aria-selected="true"] .name', (n) => n.textContent);
        check(active === name, `the class picker offers "${active}" first, expected "${name}"`);
        await page.screenshot({ path: path.join(outDir, 'review-picker.png') });
        await page.keyboard.press('Enter');
        await page.waitForSelector('#picker:not([open])', { state: 'attached', timeout: STEP_MS });
      }
      await until(`box #${id} to show "${p.decision}"`, async () => (await thumbDecision(id)) === p.decision);
      if (p.decision === 'relabel') {
        const caption = await page.$eval(`.thumb[data-id="${id}"] .thumb-caption`, (n) => n.textContent);
        check(caption.includes(className(p.new_label)), `box #${id}: caption "${caption}" does not name ${className(p.new_label)}`);
      }
      order.push(id);
    }
    check(order.length === items.length, 'not every box was reviewed');
    const progress = await page.$eval('#progress', (n) => [n.getAttribute('aria-valuenow'), n.getAttribute('aria-valuemax')]);
    check(progress[0] === String(items.length) && progress[1] === String(items.length), `progress bar says ${progress.join('/')}`);
    noProblems('after the review');

    // ---- undo the most recent decision
    const undone = order[order.length - 1];
    await page.keyboard.press('u');
    await until(`box #${undone} to be undecided after u`, async () => (await thumbDecision(undone)) === null);
    const toastText = await page.$eval('#toasts', (n) => n.textContent);
    check(toastText.includes('Undid') && toastText.includes(`#${undone}`), `the undo toast does not name box #${undone}: "${toastText}"`);
    check((await currentId()) === undone, 'after undo the undone box is not focused');

    // every write has reached the server before the reload
    const expectOnServer = (state, skip) => state.batch.items.every((it) => {
      const p = plan.get(it.id);
      if (it.id === skip) return it.decision === null;
      return it.decision && it.decision.decision === p.decision && (p.decision !== 'relabel' || it.decision.new_label === p.new_label);
    });
    await until('the server to hold every decision but the undone one', async () => expectOnServer(await api('/api/state'), undone));

    // ---- reload: the page shows every decision
    await page.reload({ waitUntil: 'load' });
    await ready(batchNo);
    for (const it of items) {
      const shown = await thumbDecision(it.id);
      const want = it.id === undone ? null : plan.get(it.id).decision;
      check(shown === want, `after reload box #${it.id} shows ${shown}, expected ${want}`);
    }
    check((await page.inputValue('#reviewer')) === REVIEWER, 'the reviewer name is lost on reload');

    // ---- session.db holds the decisions
    const rows = dbDecisions(batchNo);
    for (const it of items) {
      const row = rows.get(it.id);
      if (it.id === undone) {
        check(!row, `session.db still holds the undone decision on box #${it.id}`);
        continue;
      }
      const p = plan.get(it.id);
      check(row, `session.db has no decision for box #${it.id}`);
      check(row.decision === p.decision, `session.db: box #${it.id} is ${row.decision}, expected ${p.decision}`);
      check(row.new_label === p.new_label, `session.db: box #${it.id} new_label ${row.new_label}, expected ${p.new_label}`);
      check(row.reviewer === REVIEWER, `session.db: box #${it.id} reviewer "${row.reviewer}"`);
      check(row.applied === 0, `session.db: box #${it.id} is already applied`);
      check(row.old_label === it.label, `session.db: box #${it.id} old_label ${row.old_label}, expected ${it.label}`);
    }
    check(rows.size === items.length - 1, `session.db holds ${rows.size} decisions for batch ${batchNo}, expected ${items.length - 1}`);

    // ---- re-decide the undone box: after the reload it is the first undecided, so it is focused
    check((await currentId()) === undone, `after reload the focused box is #${await currentId()}, expected the undecided #${undone}`);
    {
      const p = plan.get(undone);
      if (p.how === 'digit') await page.keyboard.press(String(classes.findIndex((c) => c.id === p.new_label) + 1));
      else if (p.how === 'picker') {
        await page.keyboard.press('/');
        await page.keyboard.type(className(p.new_label));
        await page.keyboard.press('Enter');
      } else await page.keyboard.press(p.decision === 'keep' ? 'k' : 'd');
      await until(`box #${undone} to be decided again`, async () => (await thumbDecision(undone)) === p.decision);
      await until('the server to hold every decision', async () => expectOnServer(await api('/api/state'), null));
    }
    noProblems('after the reload');

    // ---- screenshots
    for (let i = 0; i < items.length; i++) await page.keyboard.press('ArrowLeft');
    await until('the first box to be focused', async () => (await currentId()) === items[0].id);
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await sleep(300);  // let the last toasts fade
    await page.screenshot({ path: path.join(outDir, 'review-desktop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    await page.screenshot({ path: path.join(outDir, 'review-narrow.png') });
    await page.screenshot({ path: path.join(outDir, 'review-narrow-full.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `at 390 px the page scrolls sideways by ${overflow} px`);
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.keyboard.press('g');
    await page.waitForSelector('#guidelines:not([hidden])', { timeout: STEP_MS });
    await page.screenshot({ path: path.join(outDir, 'review-guidelines.png') });
    await page.keyboard.press('g');
    await page.waitForSelector('#guidelines[hidden]', { state: 'attached', timeout: STEP_MS });

    await page.keyboard.press('?');
    await page.waitForSelector('#help[open]', { timeout: STEP_MS });
    await page.screenshot({ path: path.join(outDir, 'review-help.png') });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#help:not([open])', { state: 'attached', timeout: STEP_MS });

    await page.keyboard.press('c');
    await page.waitForSelector('#panel-charts:not([hidden])', { timeout: STEP_MS });
    await page.waitForFunction(() => document.querySelector('#charts canvas, #charts svg') ||
      !document.querySelector('#charts-fallback').hidden, null, { timeout: STEP_MS });
    await sleep(300);
    await page.screenshot({ path: path.join(outDir, 'review-charts.png') });
    await page.keyboard.press('c');
    await page.waitForSelector('#panel-review:not([hidden])', { timeout: STEP_MS });
    noProblems('after the screenshots');

    // ---- apply with Shift+A and wait for the next batch
    page.on('dialog', (d) => d.accept());
    await page.keyboard.press('Shift+A');
    await ready(batchNo + 1);
    const nextMs = await page.evaluate(() => window.ccNextBatchReadyMs);
    check(typeof nextMs === 'number', 'window.ccNextBatchReadyMs is not set after the apply');
    const title = await page.$eval('#batch-title', (n) => n.textContent);
    check(title.includes(String(batchNo + 1)), `after the apply the page shows "${title}"`);
    const applied = dbDecisions(batchNo);
    check(applied.size === items.length, `session.db holds ${applied.size} decisions of batch ${batchNo} after the apply, expected ${items.length}`);
    for (const [id, row] of applied) check(row.applied === 1, `session.db: the decision on box #${id} is not applied`);
    await page.screenshot({ path: path.join(outDir, 'review-next-batch.png') });
    await page.keyboard.press('c');
    await page.waitForFunction(() => document.querySelector('#charts canvas, #charts svg') ||
      !document.querySelector('#charts-fallback').hidden, null, { timeout: STEP_MS });
    await sleep(300);
    await page.screenshot({ path: path.join(outDir, 'review-charts-applied.png') });
    noProblems('after the apply');

    // ---- the box checks' findings: a batch of flagged boxes; the page names each box's
    // findings and `s` takes the suggestion to delete the worse box of a duplicate pair
    await stopServer();
    execFileSync(bin, ['apply', sessionDir, '--undecided', 'return']);
    execFileSync(bin, ['next', sessionDir, '--findings', '-n', '8']);
    const findingsBase = await startServer();
    const state2 = await (await fetch(new URL('/api/state', findingsBase))).json();
    const flagged = state2.batch.items;
    check(flagged.length > 0 && flagged.every((it) => Array.isArray(it.findings) && it.findings.length > 0),
      'the findings batch holds a box without findings');
    const doomed = flagged.find((it) => it.suggestion && it.suggestion.decision === 'delete');
    check(doomed, 'no box of the findings batch is suggested for deletion');
    await page.goto(findingsBase, { waitUntil: 'load' });
    await ready(state2.batch.number);
    await page.click(`.thumb[data-id="${doomed.id}"]`);
    await until(`box #${doomed.id} in focus`, async () => (await currentId()) === doomed.id);
    const why = await page.$eval('#why-words', (n) => n.textContent);
    check(why.includes(`Box check: ${doomed.findings[0].check}`), `the page does not name the box's finding: "${why}"`);
    const suggestText = await page.$eval('#btn-suggest', (n) => n.textContent);
    check(suggestText.includes('Delete (suggested)'), `the suggestion button says "${suggestText}"`);
    await page.screenshot({ path: path.join(outDir, 'review-findings.png') });
    await page.keyboard.press('s');
    await until(`the delete of box #${doomed.id} in session.db`, () => {
      const row = dbDecisions(state2.batch.number).get(doomed.id);
      return row && row.decision === 'delete';
    });
    noProblems('after the findings batch');

    console.log(JSON.stringify({
      ccBatchReadyMs: Math.round(batchReadyMs * 10) / 10,
      ccNextBatchReadyMs: Math.round(nextMs * 10) / 10,
      reviewed: items.length,
      batch: batchNo,
      relabelled: [...plan.values()].filter((p) => p.decision === 'relabel').length,
      deleted: [...plan.values()].filter((p) => p.decision === 'delete').length,
      screenshots: outDir,
    }));
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

let code = 0;
try {
  await run();
  console.log('PASS');
} catch (e) {
  code = 1;
  console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
  if (serverLog && !(e instanceof Failure && e.message.includes(serverLog))) console.error(`--- server output ---\n${serverLog.slice(-4000)}`);
} finally {
  await stopServer().catch(() => {});
}
process.exit(code);
