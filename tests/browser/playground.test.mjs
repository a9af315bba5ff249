// Browser test of the web playground: starts build/reluserve on an ephemeral
// loopback port, drives the page in Debian's headless Chromium through
// playwright-core, and checks what a person would see. Prints one line per
// test and, last, "N passed, N failed"; exits non-zero on any failure.
//
// Environment: RELUSERVE_BIN (default build/reluserve), RELUSERVE_MODELS
// (default models/ when it holds iris/1/model.json, else a temporary
// repository with a small hand-made iris-shaped model; BROWSER_MODEL=handmade
// forces that one), CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT_DIR (default build/browser).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.RELUSERVE_BIN || path.join(ROOT, 'build/reluserve');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.SCREENSHOT_DIR || path.join(ROOT, 'build/browser');
const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];
const STEP_TIMEOUT_MS = 10000;

// ------------------------------------------------------------ model repository

/* An iris-shaped classifier whose weights are chosen by hand so that petal
 * length alone separates the three sample flowers; hidden unit 3 reads
 * -sepal length and is therefore dead on every real flower. */
function handMadeIris() {
  return {
    format: 'reluserve-mlp', version: 1, name: 'iris', task: 'classification',
    input: { name: 'input', size: 4 },
    output: { name: 'output', labels: IRIS_LABELS },
    layers: [
      {
        units: 4, activation: 'relu',
        weight: [[0, 0, -1, 0], [0, 0, 1, 0], [0, 0, 1, 0], [-1, 0, 0, 0]],
        bias: [2.5, -2.5, -4.85, 0],
      },
      {
        units: 3, activation: 'softmax',
        weight: [[3, 0, 0, 0], [0, 2, -6, 0], [0, 0, 8, 0]],
        bias: [0, 0, 0],
      },
    ],
  };
}

function modelRepository() {
  if (process.env.RELUSERVE_MODELS) return { dir: process.env.RELUSERVE_MODELS, bundled: true };
  if (process.env.BROWSER_MODEL !== 'handmade' && fs.existsSync(path.join(ROOT, 'models/iris/1/model.json'))) return { dir: path.join(ROOT, 'models'), bundled: true };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reluserve-browser-'));
  fs.mkdirSync(path.join(dir, 'iris/1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'iris/1/model.json'), JSON.stringify(handMadeIris()));
  return { dir, bundled: false, temp: true };
}

// ------------------------------------------------------------ server

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(models, extra = [], key = '') {
  const port = await freePort();
  const proc = spawn(BIN, ['serve', '--models', models, '--host', '127.0.0.1', '--port', String(port), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = sig || code; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited !== null) throw new Error(`reluserve exited (${exited}) before it was ready:\n${log}`);
    try {
      const r = await fetch(url + '/v2/health/ready', key ? { headers: { Authorization: 'Bearer ' + key } } : {});
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`reluserve was not ready within 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    /* SIGTERM; resolves to the exit code (or signal name) once it exited. */
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await done;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

// ------------------------------------------------------------ harness

const results = [];
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split('\n').slice(0, 4).join('\n     ')}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function finish() {
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

async function runInference(page) {
  const before = await page.locator('#raw').textContent();
  await page.click('#run');
  await page.waitForFunction((prev) => {
    const err = document.getElementById('error');
    const raw = document.getElementById('raw').textContent;
    return (!err.hidden) || (raw && raw !== prev && !document.getElementById('result').hidden);
  }, before, { timeout: STEP_TIMEOUT_MS });
  const err = page.locator('#error');
  if (await err.isVisible()) throw new Error('page shows an error: ' + (await err.textContent()));
  return JSON.parse(await page.locator('#raw').textContent());
}

// ------------------------------------------------------------ tests

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(BIN)) {
    console.log(`FAIL setup: ${BIN} does not exist (run make first)`);
    results.push(false);
    return finish();
  }
  const repo = modelRepository();
  console.log(`# binary ${BIN}, models ${repo.dir}${repo.bundled ? '' : ' (hand-made iris)'}`);
  let server, browser;
  try {
    server = await startServer(repo.dir);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  } catch (e) {
    console.log(`FAIL setup: ${e.message}`);
    results.push(false);
    if (server) await server.stop();
    return finish();
  }

  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  // Every console error, uncaught exception, failed request and answer
  // >= 400 of the session is a failure, except the one 400 a test below
  // provokes on purpose (a row of the wrong width) while `provoking` is set.
  const jsErrors = [];
  const badRequests = [];
  let provoking = false;
  const watch = (p) => {
    p.on('pageerror', (e) => jsErrors.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error' && !(provoking && /status of 400/.test(m.text()))) jsErrors.push(m.text());
    });
    p.on('requestfailed', (r) => badRequests.push(`${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`));
    p.on('response', (r) => {
      if (r.status() >= 400 && !(provoking && r.status() === 400 && r.url().endsWith('/infer'))) {
        badRequests.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
      }
    });
  };
  watch(page);

  try {
    await test('the page loads and lists the served models', async () => {
      const res = await page.goto(server.url + '/');
      assert(res && res.status() === 200, `GET / answered ${res && res.status()}`);
      assert((await page.title()).includes('reluserve'), 'title should name reluserve');
      await page.waitForFunction(() => !document.getElementById('model').disabled);
      const names = await page.locator('#model option').allTextContents();
      assert(names.some((n) => n.startsWith('iris')), `model list ${JSON.stringify(names)} lacks iris`);
      await page.waitForFunction(() => /\S/.test(document.getElementById('server-info').textContent)
        && !/Connecting/.test(document.getElementById('server-info').textContent));
    });

    await test('the page links an icon the server serves', async () => {
      const icon = await page.evaluate(async () => {
        const link = document.querySelector('link[rel~="icon"]');
        if (!link) return null;
        const r = await fetch(link.href);
        return { status: r.status, type: r.headers.get('content-type') };
      });
      assert(icon, 'no <link rel=icon>');
      assert(icon.status === 200 && icon.type === 'image/x-icon', `icon answered ${JSON.stringify(icon)}`);
      const direct = await fetch(server.url + '/favicon.ico');
      assert(direct.status === 200, `/favicon.ico answered ${direct.status}`);
    });

    await test('choosing iris prefills a sample flower of the right width', async () => {
      const value = await page.locator('#model option', { hasText: 'iris' }).first().getAttribute('value');
      await page.selectOption('#model', value);
      await page.waitForFunction(() => !document.getElementById('run').disabled);
      const row = (await page.inputValue('#input')).split(/[\s,]+/).filter(Boolean).map(Number);
      assert(row.length === 4 && row.every(Number.isFinite), `prefilled row ${JSON.stringify(row)} is not 4 numbers`);
      assert((await page.locator('#model-info').textContent()).includes('classification'), 'model card should show the task');
    });

    let response;
    await test('an inference shows the predicted class', async () => {
      await page.check('input[name="diag"][value="full"]');
      response = await runInference(page);
      const cls = (await page.locator('#prediction .class-name').first().textContent()).trim();
      assert(IRIS_LABELS.includes(cls), `predicted class "${cls}" is not an iris label`);
      // The prefilled flower is the setosa sample; every sane iris model
      // (and the hand-made one) calls it setosa.
      assert(cls === 'setosa', `the setosa sample was shown as "${cls}"`);
      assert(await page.locator('#prediction .probs li').count() === 3, 'three class probabilities expected');
      assert((await page.locator('#prediction').textContent()).includes('%'), 'probabilities should be shown in percent');
    });

    await test('the per-layer diagnostics table and charts appear', async () => {
      assert(response && response.diagnostics && Array.isArray(response.diagnostics.layers),
        'response has no diagnostics.layers');
      const rows = await page.locator('#layers tbody tr').count();
      assert(rows === response.diagnostics.layers.length && rows >= 2,
        `table has ${rows} rows, response has ${response.diagnostics.layers.length} layers`);
      const head = (await page.locator('#layers thead').textContent()).toLowerCase();
      for (const col of ['dead', 'sparsity', 'mean act', '‖∂w‖']) assert(head.includes(col), `table lacks column "${col}"`);
      const firstDead = response.diagnostics.layers[0].dead_fraction;
      const cell = (await page.locator('#layers tbody tr').first().locator('td').nth(2).textContent()).trim();
      assert(cell === (firstDead * 100).toFixed(1) + '%', `layer 0 dead cell "${cell}" != ${firstDead}`);
      assert((await page.locator('#summary').textContent()).includes('dead units'), 'summary badge missing');
      assert(await page.locator('#charts svg rect').count() > 0, 'no bars in the per-layer chart');
    });

    await test('full diagnostics show the input gradient', async () => {
      await page.locator('#grad-wrap').waitFor({ state: 'visible' });
      const rows = await page.locator('#input-grad tbody tr').count();
      assert(rows === 4, `input gradient has ${rows} rows, expected 4`);
    });

    await test('the unit diagram colours each unit as the API answered', async () => {
      const expectColour = (v, maxAbs) => {
        const t = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 0;
        const to = v >= 0 ? [11, 98, 196] : [214, 110, 20];
        const c = to.map((k) => Math.round(255 + (k - 255) * t));
        return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
      };
      let sawDead = 0, sawAlive = 0;
      // A far-off flower kills units; with the setosa sample in the same
      // batch, only the units silent on both rows may be drawn dead.
      for (const input of ['-30, -30, -30, -30', '5.1, 3.5, 1.4, 0.2\n-30, -30, -30, -30']) {
        await page.fill('#input', input);
        const res = await runInference(page);
        const rows = input.split('\n').map((r) => r.split(',').map(Number));
        const drawn = await page.evaluate(() => {
          const ref = (v) => { const e = document.createElement('span'); e.style.background = v; document.body.append(e);
            const c = getComputedStyle(e).backgroundColor; e.remove(); return c; };
          return {
            dead: ref('var(--dead)'), alive: ref('var(--good)'),
            layers: [...document.querySelectorAll('#units .unit-cells')].map((r) => [...r.children].map((u) => ({
              state: u.dataset.state, value: u.dataset.value === undefined ? null : Number(u.dataset.value),
              bg: getComputedStyle(u).backgroundColor, text: u.textContent }))),
          };
        });
        const dl = res.diagnostics.layers;
        assert(drawn.layers.length === dl.length + 1, `${drawn.layers.length} drawn layers for ${dl.length} model layers + input`);
        // Input layer: the request's values (mean over rows).
        drawn.layers[0].forEach((u, j) => {
          const want = rows.reduce((a, r) => a + r[j], 0) / rows.length;
          assert(u.state === 'value' && Math.abs(u.value - want) < 1e-9, `input unit ${j}: ${u.value}, expected ${want}`);
        });
        dl.forEach((l, i) => {
          const units = drawn.layers[i + 1];
          assert(units.length === l.units, `layer ${i}: ${units.length} units drawn, API says ${l.units}`);
          if (i === dl.length - 1) {
            const out = res.outputs[0], k = out.shape[1];
            const means = [];
            for (let j = 0; j < k; j++) means.push(out.data.filter((_, q) => q % k === j).reduce((a, v) => a + v, 0) / out.shape[0]);
            const maxAbs = Math.max(...means.map(Math.abs));
            units.forEach((u, j) => {
              assert(Math.abs(u.value - means[j]) < 1e-6, `output unit ${j}: ${u.value}, API ${means[j]}`);
              assert(u.bg === expectColour(means[j], maxAbs), `output unit ${j}: colour ${u.bg}, expected ${expectColour(means[j], maxAbs)}`);
            });
            return;
          }
          assert(Array.isArray(l.dead_units), `layer ${i}: full diagnostics without dead_units`);
          const dead = new Set(l.dead_units);
          // A live unit's colour is its mean activation relu(Z) over the rows,
          // Z as the API returned it, against the layer's largest live mean.
          const pre = res.diagnostics.preactivations[i];
          assert(pre && pre.shape[0] === rows.length && pre.shape[1] === l.units, `layer ${i}: preactivations shape ${pre && pre.shape}`);
          const act = [];
          for (let j = 0; j < l.units; j++) {
            let s = 0;
            for (let q = 0; q < rows.length; q++) s += Math.max(0, pre.data[q * l.units + j]);
            act.push(s / rows.length);
          }
          const maxLive = Math.max(0, ...act.filter((_, j) => !dead.has(j)));
          units.forEach((u, j) => {
            const want = dead.has(j) ? 'dead' : 'alive';
            assert(u.state === want, `layer ${i} unit ${j}: drawn ${u.state}, API says ${want}`);
            assert(want === 'dead' || Math.abs(u.value - act[j]) < 1e-9, `layer ${i} unit ${j}: value ${u.value}, API relu(Z) ${act[j]}`);
            const bg = want === 'dead' ? drawn.dead : expectColour(act[j], maxLive);
            assert(u.bg === bg, `layer ${i} unit ${j}: colour ${u.bg} for ${want}, expected ${bg}`);
            if (want === 'dead') { sawDead++; assert(u.text === '×', 'a dead unit is not marked with ×'); } else sawAlive++;
          });
        });
      }
      assert(sawDead > 0 && sawAlive > 0, `the inputs should give both dead (${sawDead}) and live (${sawAlive}) units`);
      // Keyboard: one tab stop, arrows move; the focused unit is described.
      await page.locator('#units .unit[tabindex="0"]').focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowRight');
      const focused = await page.evaluate(() => ({ l: document.activeElement.dataset.layer, u: document.activeElement.dataset.unit }));
      assert(focused.l === '1' && focused.u === '1', `arrows moved focus to ${JSON.stringify(focused)}`);
      assert(/unit 1:/.test(await page.locator('#unit-info').textContent()), 'the focused unit is not described');
      assert(await page.locator('#units .unit[tabindex="0"]').count() === 1, 'the diagram should be a single tab stop');
      await page.locator('#units-wrap').screenshot({ path: path.join(OUT, 'playground-units.png') });

      // The histogram of the chosen layer counts the API's Z of this batch.
      const res2 = JSON.parse(await page.locator('#raw').textContent());
      await page.selectOption('#hist-layer', '1');
      const hist = await page.evaluate(() => {
        const c = document.querySelector('#hist svg');
        return { layer: c.dataset.layer, bins: JSON.parse(c.dataset.bins), note: document.getElementById('hist-note').textContent };
      });
      assert(hist.layer === '1', `histogram shows layer ${hist.layer}`);
      const z = res2.diagnostics.preactivations[1].data;
      const counts = hist.bins.map((b) => z.filter((v) => v > b.lo && v <= b.hi).length);
      assert(JSON.stringify(counts) === JSON.stringify(hist.bins.map((b) => b.count)), `bin counts ${hist.bins.map((b) => b.count)} != recount ${counts}`);
      assert(counts.reduce((a, b) => a + b, 0) === z.length, 'the bins do not hold every value');
      assert(hist.bins.some((b) => b.hi === 0), '0 is not a bin edge');
      const le0 = z.filter((v) => v <= 0).length;
      assert(hist.note.includes(`${le0} (`), `note "${hist.note}" lacks the ${le0} values at or below 0`);
      await page.locator('#hist-wrap').screenshot({ path: path.join(OUT, 'playground-histogram.png') });
      await page.fill('#input', '5.1, 3.5, 1.4, 0.2');
    });

    await test('the live-window dying-ReLU monitor reports', async () => {
      await page.click('#monitor-refresh');
      await page.waitForFunction(() => document.querySelector('#monitor-body table, #monitor-body dl, #monitor-body pre, #monitor-body .error-inline'));
      const text = await page.locator('#monitor-body').textContent();
      assert(!/unavailable/i.test(text), 'monitor: ' + text);
    });

    await test('the live monitor charts the never-active fraction per layer as traffic flows', async () => {
      await page.selectOption('#monitor-every', '1000');
      // Traffic from another client: the window covers every request served.
      const infer = await fetch(server.url + '/v2/models/iris/infer', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [6.9, 3.1, 5.4, 2.1, 6.0, 2.9, 4.5, 1.5] }] }),
      });
      assert(infer.status === 200, `inference answered ${infer.status}`);
      const rep = await (await fetch(server.url + '/v2/models/iris/diagnostics')).json();
      const want = rep.layers.filter((l) => l.relu_family).map((l) => ({ layer: l.index, f: l.never_active_fraction }));
      assert(want.length > 0 && rep.rows > 0, 'the monitor reports no ReLU layer or no rows');
      // The page polls on its own; wait until its latest point is this report.
      await page.waitForFunction((w) => {
        const c = document.querySelector('#monitor-chart svg');
        if (!c || !c.dataset.series) return false;
        const series = JSON.parse(c.dataset.series);
        return series.length === w.length && series.every((s, i) => s.layer === w[i].layer
          && s.values.length >= 2 && s.values[s.values.length - 1] === w[i].f);
      }, want);
      const lines = await page.locator('#monitor-chart path.mon-line').count();
      assert(lines === want.length, `${lines} lines for ${want.length} ReLU layers`);
      await page.selectOption('#monitor-every', '0');
    });

    await test('the activation panel plots each function and derivative as the formulas say', async () => {
      const sig = (x) => 1 / (1 + Math.exp(-x));
      const formulas = {
        relu: [(x) => Math.max(0, x), (x) => (x > 0 ? 1 : 0)],
        leaky_relu: [(x, a) => (x > 0 ? x : a * x), (x, a) => (x > 0 ? 1 : a)],
        sigmoid: [sig, (x) => sig(x) * (1 - sig(x))],
        tanh: [Math.tanh, (x) => 1 - Math.tanh(x) ** 2],
      };
      const XS = [-10, -7.5, -4.6, -2.5, -0.05, 0, 0.05, 1, 3, 6.25, 10];
      for (const name of Object.keys(formulas)) {
        await page.locator(`input[name="actfn"][value="${name}"]`).focus();
        await page.keyboard.press('Space');
        assert(await page.locator('#act-slope').isVisible() === (name === 'leaky_relu'), `${name}: slope control shown wrongly`);
        if (name === 'leaky_relu') {
          // The slope is adjustable by keyboard: three steps of 0.01 up.
          await page.locator('#act-slope').focus();
          for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
        }
        const got = await page.evaluate(() => {
          const root = document.getElementById('act-plots');
          return {
            fn: root.dataset.fn, slope: Number(root.dataset.slope),
            edge: root.dataset.saturatedBeyond === undefined ? null : Number(root.dataset.saturatedBeyond),
            curves: [...root.querySelectorAll('path.curve')].map((p) => {
              const svg = p.ownerSVGElement;
              return { which: p.dataset.curve, samples: JSON.parse(p.dataset.samples), d: p.getAttribute('d'),
                domain: svg.dataset.domain.split(',').map(Number), box: svg.dataset.box.split(',').map(Number),
                sat: [...svg.querySelectorAll('rect.sat')].map((r) => [Number(r.dataset.from), Number(r.dataset.to)]),
                kink: svg.querySelector('circle.kink[data-y]') ? Number(svg.querySelector('circle.kink[data-y]').dataset.y) : null };
            }),
          };
        });
        assert(got.fn === name, `panel shows ${got.fn}, expected ${name}`);
        const a = got.slope;
        if (name === 'leaky_relu') assert(Math.abs(a - 0.13) < 1e-9, `slope after three ArrowRight is ${a}, expected 0.13`);
        assert(got.curves.length === 2, `${name}: ${got.curves.length} curves`);
        for (const c of got.curves) {
          const g = formulas[name][c.which === 'f' ? 0 : 1];
          const pts = c.samples.filter(Boolean);
          assert(pts.length >= 400 && pts[0][0] === -10 && pts[pts.length - 1][0] === 10, `${name} ${c.which}: samples do not span [-10, 10]`);
          for (const x of XS) {
            const p = pts.find((q) => Math.abs(q[0] - x) < 1e-9);
            assert(p, `${name} ${c.which}: no sample at x=${x}`);
            const want = g(x, a);
            assert(Math.abs(p[1] - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${name} ${c.which}(${x}) = ${p[1]}, formula ${want}`);
          }
          // The drawn path is those samples, mapped to the plot box.
          const [x0, x1, y0, y1] = c.domain, [px0, px1, py0, py1] = c.box;
          const drawn = c.d.match(/-?[\d.]+,-?[\d.]+/g).map((s) => s.split(',').map(Number));
          assert(drawn.length === pts.length, `${name} ${c.which}: ${drawn.length} drawn points, ${pts.length} samples`);
          pts.forEach(([x, y], i) => {
            const ex = px0 + (x - x0) / (x1 - x0) * (px1 - px0), ey = py0 + (y - y0) / (y1 - y0) * (py1 - py0);
            assert(Math.abs(drawn[i][0] - ex) < 0.01 && Math.abs(drawn[i][1] - ey) < 0.01, `${name} ${c.which}: point ${i} drawn at ${drawn[i]}, expected ${ex},${ey}`);
          });
          const isKinked = name === 'relu' || name === 'leaky_relu';
          if (c.which === 'df' && isKinked) assert(c.kink === (name === 'relu' ? 0 : a), `${name}: f'(0) marked as ${c.kink}`);
          if (isKinked) assert(c.sat.length === 0, `${name}: shaded as saturated`);
        }
        if (name === 'sigmoid' || name === 'tanh') {
          // Shaded exactly where |f'| < 0.01 (the server's saturated_fraction).
          const df = formulas[name][1];
          assert(got.edge !== null && Math.abs(df(got.edge) - 0.01) < 1e-9, `${name}: saturation edge ${got.edge}, f' there ${got.edge && df(got.edge)}`);
          for (const c of got.curves) {
            const sat = JSON.stringify(c.sat.map((r) => r.map((v) => v.toFixed(6))));
            const want = JSON.stringify([[-10, -got.edge], [got.edge, 10]].map((r) => r.map((v) => v.toFixed(6))));
            assert(sat === want, `${name} ${c.which}: shaded ${sat}, expected ${want}`);
          }
        } else {
          assert(got.edge === null, `${name}: has a saturation edge`);
        }
      }
      await page.locator('#act-x').focus();
      await page.keyboard.press('End');
      const read = await page.locator('#act-readout').textContent();
      assert(/x = 10: f\(x\) = 1, f′\(x\) = 8\.2\d*e-9|x = 10:.*saturated/.test(read), `readout at x=10: "${read}"`);
      await page.locator('#activations').screenshot({ path: path.join(OUT, 'playground-activations.png') });
      await page.locator('input[name="actfn"][value="relu"]').check();
      await page.locator('#activations').screenshot({ path: path.join(OUT, 'playground-activations-relu.png') });
    });

    await page.screenshot({ path: path.join(OUT, 'playground.png'), fullPage: true });

    await test('a label switches the gradient to the loss', async () => {
      await page.selectOption('#label', '0');
      const res = await runInference(page);
      const loss = res.diagnostics && res.diagnostics.loss !== undefined ? res.diagnostics.loss : res.parameters && res.parameters.loss;
      assert(typeof loss === 'number', 'response has no loss');
      assert((await page.locator('#summary').textContent()).includes('loss'), 'loss badge missing');
      await page.selectOption('#label', '');
    });

    await test('a row of the wrong width shows the server\'s error', async () => {
      provoking = true;
      await page.fill('#input', '5.1, 3.5, 1.4');
      await page.click('#run');
      await page.locator('#error').waitFor({ state: 'visible' });
      const shown = await page.locator('#error').textContent();
      const direct = await fetch(server.url + '/v2/models/iris/infer', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [5.1, 3.5, 1.4] }] }),
      });
      const body = await direct.json();
      assert(direct.status === 400 && typeof body.error === 'string', `server answered ${direct.status}`);
      assert(shown.includes(body.error), `page shows "${shown}", server said "${body.error}"`);
      assert(shown.includes('HTTP 400'), 'status code not shown');
      assert(await page.locator('#result').isHidden(), 'a stale result stayed on screen');
      assert(await page.getAttribute('#input', 'aria-invalid') === 'true', 'input not marked invalid');
      await page.screenshot({ path: path.join(OUT, 'playground-error.png') });
    });

    await test('a non-number is refused before anything is sent', async () => {
      await page.fill('#input', '5.1, x, 1.4, 0.2');
      let sent = false;
      const onReq = (r) => { if (r.url().endsWith('/infer')) sent = true; };
      page.on('request', onReq);
      await page.click('#run');
      await page.locator('#error').waitFor({ state: 'visible' });
      page.off('request', onReq);
      assert((await page.locator('#error').textContent()).includes('"x" is not a number'), 'no client-side message');
      assert(!sent, 'the bad row was sent to the server');
    });

    await test('a batch of three flowers gets three predictions', async () => {
      provoking = false;
      await page.getByRole('button', { name: 'all as a batch' }).click();
      const res = await runInference(page);
      assert(res.outputs[0].shape[0] === 3, 'response is not a 3-row batch');
      const got = await page.locator('#prediction .class-name').allTextContents();
      assert(got.length === 3, `${got.length} predictions shown`);
      assert(got.every((c) => IRIS_LABELS.includes(c.trim())), `unexpected classes ${got}`);
    });

    await test('the digits pad is shown only for a 64-input model', async () => {
      // iris (4 inputs) is selected here: no pad.
      assert(await page.locator('#digits').isHidden(), 'the pad is shown for iris');
    });

    await test('the digits pad: keyboard and pointer paint, the heat map is the API\'s input gradient', async () => {
      if (!repo.bundled) return; // the hand-made repository has no digits model
      const pad = await context.newPage();
      watch(pad);
      await pad.setViewportSize({ width: 390, height: 844 });
      const sent = [];
      pad.on('request', (r) => { if (r.url().endsWith('/infer')) sent.push(r); });
      try {
        await pad.goto(server.url + '/?model=digits');
        await pad.locator('#digits').waitFor({ state: 'visible' });
        // A model with one example row (digits) shows no stray text beside the input.
        assert(!/null|undefined/.test(await pad.locator('#examples').textContent()), `examples box: "${await pad.locator('#examples').textContent()}"`);
        // The brush, restated: a painted cell is 16, its 4 neighbours at least 8.
        const want = new Array(64).fill(0);
        const paint = (r, c) => {
          want[r * 8 + c] = 16;
          for (const [dr, dc] of [[-1, 0], [1, 0], [0, -1], [0, 1]]) {
            const rr = r + dr, cc = c + dc;
            if (rr >= 0 && rr < 8 && cc >= 0 && cc < 8) want[rr * 8 + cc] = Math.max(want[rr * 8 + cc], 8);
          }
        };
        // Keyboard: the cursor starts at p0_0.
        await pad.locator('#digits-pad').focus();
        for (let i = 0; i < 3; i++) await pad.keyboard.press('ArrowRight');
        await pad.keyboard.press('ArrowDown');
        await pad.keyboard.press('Space'); paint(1, 3);
        await pad.keyboard.press('ArrowDown');
        await pad.keyboard.press('ArrowDown');
        await pad.keyboard.press('Enter'); paint(3, 3);
        // Pointer: a press on p5_2 and a drag through p5_3 to p5_4.
        const box = await pad.locator('#digits-pad').boundingBox();
        const at = (r, c) => [box.x + (c + 0.5) * box.width / 8, box.y + (r + 0.5) * box.height / 8];
        await pad.mouse.move(...at(5, 2));
        await pad.mouse.down(); paint(5, 2);
        await pad.mouse.move(...at(5, 3), { steps: 3 }); paint(5, 3);
        await pad.mouse.move(...at(5, 4), { steps: 3 }); paint(5, 4);
        await pad.mouse.up();
        const drawn = (await pad.locator('#digits-pad').getAttribute('data-values')).split(',').map(Number);
        assert(JSON.stringify(drawn) === JSON.stringify(want), `pad holds ${drawn}, brush gives ${want}`);
        const cells = await pad.locator('#digits-pad rect.pad-cell').evaluateAll((rs) => rs.map((r) => Number(r.dataset.value)));
        assert(JSON.stringify(cells) === JSON.stringify(want), `pad cells ${cells}`);

        // The page settles on one answer for the final drawing.
        await pad.waitForFunction(() => {
          const r = document.getElementById('digits-result');
          return !r.hidden && r.dataset.id && !document.getElementById('digits-heat-wrap').hidden;
        });
        const id = await pad.locator('#digits-result').getAttribute('data-id');
        const req = sent.find((r) => r.postDataJSON().id === id);
        assert(req, `no request with the shown id ${id}`);
        assert(req === sent[sent.length - 1], `the shown answer (${id}) is not for the last request sent`);
        const body = req.postDataJSON();
        assert(body.parameters.diagnostics === 'full', `diagnostics ${body.parameters.diagnostics}`);
        assert(body.inputs.length === 1 && JSON.stringify(body.inputs[0].shape) === '[1,64]', `inputs ${JSON.stringify(body.inputs)}`);
        assert(JSON.stringify(body.inputs[0].data) === JSON.stringify(want), `request data ${body.inputs[0].data}, pad ${want}`);
        const res = await (await req.response()).json();
        const grad = res.diagnostics.input_gradient;
        assert(JSON.stringify(grad.shape) === '[1,64]', `input_gradient shape ${grad.shape}`);
        const heat = await pad.locator('#digits-heat rect.heat-cell').evaluateAll((rs) => rs.map((r) => Number(r.dataset.value)));
        assert(heat.length === 64, `${heat.length} heat cells`);
        heat.forEach((v, i) => assert(v === grad.data[i], `heat cell ${i}: ${v}, API ${grad.data[i]}`));
        assert(grad.data.some((v) => v !== 0), 'the gradient is all zero: nothing to check the colours with');
        // Colours: diverging, scaled by the largest |value|.
        const maxAbs = Math.max(...grad.data.map(Math.abs));
        const fills = await pad.locator('#digits-heat rect.heat-cell').evaluateAll((rs) => rs.map((r) => getComputedStyle(r).fill));
        grad.data.forEach((v, i) => {
          const t = Math.min(1, Math.abs(v) / maxAbs), to = v >= 0 ? [11, 98, 196] : [214, 110, 20];
          const c = to.map((k) => Math.round(255 + (k - 255) * t));
          assert(fills[i] === `rgb(${c[0]}, ${c[1]}, ${c[2]})`, `heat cell ${i} (${v}) is ${fills[i]}`);
        });
        const out = res.outputs[0].data;
        const best = out.indexOf(Math.max(...out));
        assert(await pad.locator('#digits-pred').getAttribute('data-class') === String(best), `shown class is not argmax ${best}`);
        assert((await pad.locator('#digits-pred .class-name').textContent()).trim() === String(best), 'shown label differs');
        assert(await pad.locator('#digits-probs li').count() === 10, 'ten probabilities expected');

        // Values on hover and on focus.
        const hc = pad.locator('#digits-heat rect.heat-cell');
        await hc.nth(27).hover();
        assert((await pad.locator('#digits-heat-info').textContent()).includes(`p3_3 (row 4, column 4): ∂g/∂x = `),
          `hover readout "${await pad.locator('#digits-heat-info').textContent()}"`);
        await hc.first().focus();
        await pad.keyboard.press('ArrowRight');
        const info = await pad.locator('#digits-heat-info').textContent();
        const shown = Number(info.match(/= (\S+),/)[1]);
        assert(info.startsWith('p0_1') && Math.abs(shown - grad.data[1]) <= 5e-4 * Math.abs(grad.data[1]) + 1e-12,
          `focus readout "${info}", API ${grad.data[1]}`);

        const over = await pad.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        await pad.screenshot({ path: path.join(OUT, 'playground-digits.png'), fullPage: true });
        assert(over <= 0, `page is ${over}px wider than a 390px screen`);

        // Clear: all zeros, and that is what is sent next.
        const n = sent.length;
        await pad.click('#digits-clear');
        await pad.waitForFunction((k) => {
          const r = document.getElementById('digits-result');
          return r.dataset.id && r.dataset.id !== k;
        }, id);
        assert(sent.length > n, 'Clear sent nothing');
        assert(sent[sent.length - 1].postDataJSON().inputs[0].data.every((v) => v === 0), 'Clear did not send zeros');
        assert((await pad.locator('#digits-pad').getAttribute('data-values')).split(',').every((v) => v === '0'), 'pad not cleared');
      } finally {
        await pad.close();
      }
    });

    await test('a narrow screen needs no horizontal scrolling', async () => {
      const narrow = await context.newPage();
      watch(narrow);
      await narrow.setViewportSize({ width: 375, height: 800 });
      await narrow.goto(server.url + '/?model=iris');
      await narrow.waitForFunction(() => !document.getElementById('run').disabled);
      await runInference(narrow);
      const over = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await narrow.screenshot({ path: path.join(OUT, 'playground-narrow.png'), fullPage: true });
      await narrow.close();
      assert(over <= 0, `page is ${over}px wider than a 375px screen`);
    });

    await test('no console error on the page', async () => {
      assert(jsErrors.length === 0, jsErrors.join('; '));
    });

    await test('no failed request and no answer >= 400 but the provoked one', async () => {
      assert(badRequests.length === 0, badRequests.join('; '));
    });
  } finally {
    await context.close();
  }

  // Nothing the page did may have hurt the server: it still drains and
  // exits 0 on SIGTERM (under ASan, a leak or error would make this fail).
  await test('the server exits 0 on SIGTERM after the session', async () => {
    const code = await server.stop();
    assert(code === 0, `exit ${code}; last log lines:\n${server.log().split('\n').slice(-15).join('\n')}`);
  });

  // A server with --api-key: the page asks for the key and then works.
  let keyed;
  try {
    await test('with --api-key the page asks for the key, then works', async () => {
      keyed = await startServer(repo.dir, ['--api-key', 'playground-secret'], 'playground-secret');
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
      const p = await ctx.newPage();
      p.setDefaultTimeout(STEP_TIMEOUT_MS);
      try {
        const res = await p.goto(keyed.url + '/');
        assert(res && res.status() === 200, `GET / with --api-key answered ${res && res.status()}`);
        await p.locator('#error').waitFor({ state: 'visible' });
        assert(/API key/i.test(await p.locator('#error').textContent()), 'no API key hint in the error');
        assert(await p.locator('#auth').evaluate((d) => d.open), 'the key form did not open');
        await p.fill('#apikey', 'playground-secret');
        await p.click('#auth-form button[type=submit]');
        await p.waitForFunction(() => !document.getElementById('run').disabled);
        // the repository holds more than iris (models/digits comes first): pick it
        const iris = await p.locator('#model option', { hasText: 'iris' }).first().getAttribute('value');
        await p.selectOption('#model', iris);
        await p.waitForFunction(() => !document.getElementById('run').disabled);
        await runInference(p);
        assert(IRIS_LABELS.includes((await p.locator('#prediction .class-name').first().textContent()).trim()),
          'no prediction with the key');
      } finally {
        await ctx.close();
      }
    });
  } finally {
    if (keyed) await keyed.stop();
    await browser.close();
    if (repo.temp) fs.rmSync(repo.dir, { recursive: true, force: true });
  }
  return finish();
}

main().then((code) => process.exit(code), (e) => {
  console.log(`FAIL harness: ${e && e.stack || e}`);
  results.push(false);
  process.exit(finish());
});
