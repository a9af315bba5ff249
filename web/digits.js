/*
 * reluserve playground: the digits pad. For a model with 64 inputs (the
 * bundled 8x8 digits classifier, inputs p0_0..p7_7 in 0..16 like sklearn's
 * digits) the page shows an 8x8 drawing pad as the input. Every change sends,
 * after a short pause, one v2 inference with diagnostics "full"; the answer
 * is shown as the predicted class with its probabilities, and the saliency —
 * the API's input_gradient, dg/dx with g the top logit (no labels sent) — as
 * an 8x8 heat map: blue positive, orange negative, white 0, each cell scaled
 * by the largest |value|.
 *
 * Brush (the training images are blurred strokes, so a lone 16 reads like
 * none of them): painting a cell sets it to 16 and raises its 4 neighbours
 * to at least 8; Delete/Backspace sets the cursor cell to 0; Clear zeroes
 * all. Pointer events (mouse, pen, touch) paint every cell the pointer
 * crosses while pressed; the keyboard moves a cursor cell with the arrow
 * keys (Home/End: row start/end) and paints it with Space or Enter.
 */
'use strict';

(function () {
  const N = 8;
  const FULL = 16;
  const NEIGHBOUR = 8;
  const DEBOUNCE_MS = 150;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const CELL = 10;

  const fmt = window.reluserveFormat.number;
  const $ = (id) => document.getElementById(id);

  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  const state = {
    values: new Array(N * N).fill(0),
    cursor: 0,
    ctx: null,      // {name, path, info, api} of the selected model, or null
    timer: null,
    seq: 0,         // id of the last request sent; older answers are dropped
    painting: false,
    lastCell: -1,
  };

  /* A 64-input model is drawn as 8x8 (the bundled digits, or one like it);
   * a model of another width cannot take the pad's 64 values, whatever its
   * name. */
  function applies(info) {
    return Boolean(info) && info.width === N * N;
  }

  /* ------------------------------------------------------------ the pad */

  function grid(svg, cls, label) {
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${N * CELL} ${N * CELL}`);
    const cells = [];
    for (let i = 0; i < N * N; i++) {
      const r = Math.floor(i / N), c = i % N;
      const rect = svgEl('rect', { x: c * CELL, y: r * CELL, width: CELL, height: CELL, class: cls });
      rect.dataset.index = String(i);
      rect.dataset.row = String(r);
      rect.dataset.col = String(c);
      rect.setAttribute('aria-label', label(r, c));
      svg.append(rect);
      cells.push(rect);
    }
    return cells;
  }

  let padCells = [];
  let cursorRect = null;

  function buildPad() {
    const pad = $('digits-pad');
    padCells = grid(pad, 'pad-cell', (r, c) => `p${r}_${c}`);
    cursorRect = svgEl('rect', { class: 'pad-cursor', width: CELL - 1, height: CELL - 1 });
    pad.append(cursorRect);
    drawPad();
  }

  function drawPad() {
    state.values.forEach((v, i) => {
      const rect = padCells[i];
      rect.dataset.value = String(v);
      // Ink: 0 is the card, 16 the darkest the palette allows.
      rect.style.fillOpacity = String(0.06 + 0.94 * (v / FULL));
    });
    const r = Math.floor(state.cursor / N), c = state.cursor % N;
    cursorRect.setAttribute('x', c * CELL + 0.5);
    cursorRect.setAttribute('y', r * CELL + 0.5);
    const pad = $('digits-pad');
    pad.dataset.values = state.values.join(',');
    pad.setAttribute('aria-label', `Drawing pad, 8 by 8. Cursor at row ${r + 1}, column ${c + 1}, value ${state.values[state.cursor]}. ` +
      'Arrow keys move, Space or Enter paints, Delete erases.');
  }

  function paint(i) {
    const r = Math.floor(i / N), c = i % N;
    state.values[i] = FULL;
    for (const [dr, dc] of [[-1, 0], [1, 0], [0, -1], [0, 1]]) {
      const rr = r + dr, cc = c + dc;
      if (rr < 0 || rr >= N || cc < 0 || cc >= N) continue;
      const j = rr * N + cc;
      state.values[j] = Math.max(state.values[j], NEIGHBOUR);
    }
    changed();
  }

  function changed() {
    drawPad();
    $('digits-readout').textContent = `Cursor p${Math.floor(state.cursor / N)}_${state.cursor % N} = ${state.values[state.cursor]}`;
    clearTimeout(state.timer);
    state.timer = setTimeout(send, DEBOUNCE_MS);
  }

  function cellAt(ev) {
    const pad = $('digits-pad');
    const box = pad.getBoundingClientRect();
    const c = Math.floor(((ev.clientX - box.left) / box.width) * N);
    const r = Math.floor(((ev.clientY - box.top) / box.height) * N);
    if (r < 0 || r >= N || c < 0 || c >= N) return -1;
    return r * N + c;
  }

  function onPointerDown(ev) {
    if (ev.button !== undefined && ev.button > 0) return;
    const i = cellAt(ev);
    if (i < 0) return;
    ev.preventDefault();
    $('digits-pad').setPointerCapture(ev.pointerId);
    state.painting = true;
    state.lastCell = i;
    state.cursor = i;
    paint(i);
  }
  function onPointerMove(ev) {
    if (!state.painting) return;
    const i = cellAt(ev);
    if (i < 0 || i === state.lastCell) return;
    state.lastCell = i;
    state.cursor = i;
    paint(i);
  }
  function onPointerUp() { state.painting = false; state.lastCell = -1; }

  function onKey(ev) {
    let r = Math.floor(state.cursor / N), c = state.cursor % N;
    switch (ev.key) {
      case 'ArrowRight': c = Math.min(N - 1, c + 1); break;
      case 'ArrowLeft': c = Math.max(0, c - 1); break;
      case 'ArrowDown': r = Math.min(N - 1, r + 1); break;
      case 'ArrowUp': r = Math.max(0, r - 1); break;
      case 'Home': c = 0; break;
      case 'End': c = N - 1; break;
      case ' ': case 'Enter':
        ev.preventDefault();
        paint(state.cursor);
        return;
      case 'Delete': case 'Backspace':
        ev.preventDefault();
        state.values[state.cursor] = 0;
        changed();
        return;
      default: return;
    }
    ev.preventDefault();
    state.cursor = r * N + c;
    drawPad();
    $('digits-readout').textContent = `Cursor p${r}_${c} = ${state.values[state.cursor]}`;
  }

  function clear() {
    state.values.fill(0);
    changed();
  }

  /* ------------------------------------------------------------ inference */

  async function send() {
    const ctx = state.ctx;
    if (!ctx) return;
    const id = ++state.seq;
    const body = {
      id: 'digits-' + id,
      inputs: [{ name: ctx.info.inputName, shape: [1, N * N], datatype: 'FP32', data: state.values.slice() }],
      parameters: { diagnostics: 'full' },
    };
    const status = $('digits-status');
    status.textContent = 'Running…';
    let res;
    try {
      res = await ctx.api('POST', ctx.path + '/infer', body);
    } catch (e) {
      if (id !== state.seq) return;
      status.textContent = '';
      const err = $('digits-error');
      err.textContent = 'Error: ' + (e.status ? `${e.message} (HTTP ${e.status})` : e.message);
      err.hidden = false;
      return;
    }
    if (id !== state.seq || ctx !== state.ctx) return; // a newer drawing is on its way
    $('digits-error').hidden = true;
    status.textContent = '';
    render(res, body.id, ctx.info);
  }

  function outputRow(res, info) {
    const outs = Array.isArray(res.outputs) ? res.outputs : [];
    const out = outs.find((o) => o.name === info.outputName) || outs[0];
    return out && Array.isArray(out.data) ? out.data.flat(Infinity) : [];
  }

  function softmax(z) {
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  function render(res, id, info) {
    const row = outputRow(res, info);
    const probs = info.lastAct === 'softmax' ? row : softmax(row);
    let best = 0;
    probs.forEach((p, i) => { if (p > probs[best]) best = i; });
    const label = (i) => (info.labels ? info.labels[i] : String(i));
    const box = $('digits-result');
    box.hidden = false;
    box.dataset.id = id;
    const pred = $('digits-pred');
    pred.dataset.class = String(best);
    pred.replaceChildren('Predicted: ');
    const strong = document.createElement('strong');
    strong.className = 'class-name';
    strong.textContent = label(best);
    const share = document.createElement('span');
    share.className = 'muted';
    share.textContent = ` · ${(probs[best] * 100).toFixed(1)}%`;
    pred.append(strong, share);

    const list = $('digits-probs');
    list.replaceChildren(...probs.map((p, i) => {
      const li = document.createElement('li');
      if (i === best) li.className = 'best';
      const name = document.createElement('span');
      name.className = 'plabel';
      name.textContent = label(i);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.setAttribute('role', 'presentation');
      const fill = document.createElement('span');
      fill.style.width = `${(p * 100).toFixed(2)}%`;
      bar.append(fill);
      const val = document.createElement('span');
      val.className = 'pval';
      val.textContent = `${(p * 100).toFixed(1)}%`;
      li.append(name, bar, val);
      return li;
    }));

    const d = res.diagnostics || {};
    const g = d.input_gradient && Array.isArray(d.input_gradient.data) ? d.input_gradient.data.flat(Infinity) : null;
    drawHeat(g);
  }

  /* ------------------------------------------------------------ saliency */

  let heatCells = [];

  function drawHeat(g) {
    const wrap = $('digits-heat-wrap');
    if (!g || g.length !== N * N) {
      wrap.hidden = true;
      return;
    }
    wrap.hidden = false;
    const maxAbs = Math.max(0, ...g.map((v) => (isFinite(v) ? Math.abs(v) : 0)));
    const colour = window.reluserveUnits.valueColour;
    const heat = $('digits-heat');
    heat.dataset.maxAbs = String(maxAbs);
    const focused = heatCells.findIndex((c) => c.tabIndex === 0);
    heatCells = grid(heat, 'heat-cell', (r, c) => `p${r}_${c}`);
    heatCells.forEach((rect, i) => {
      const v = g[i];
      rect.dataset.value = String(v);
      rect.style.fill = colour(v, maxAbs);
      rect.setAttribute('tabindex', i === Math.max(0, focused) ? '0' : '-1');
      rect.setAttribute('role', 'img');
      rect.setAttribute('aria-label', describe(i, v));
      const t = svgEl('title');
      t.textContent = describe(i, v);
      rect.append(t);
      rect.addEventListener('mouseenter', () => show(i));
      rect.addEventListener('focus', () => show(i));
    });
    $('digits-scale').textContent = `scale: ±${fmt(maxAbs)} (the largest |∂g/∂x|)`;
  }

  function describe(i, v) {
    const r = Math.floor(i / N), c = i % N;
    return `p${r}_${c} (row ${r + 1}, column ${c + 1}): ∂g/∂x = ${fmt(v)}, pixel ${state.values[i]}`;
  }
  function show(i) {
    $('digits-heat-info').textContent = describe(i, Number(heatCells[i].dataset.value));
  }

  /* Roving tabindex over the heat map's cells. */
  function onHeatKey(ev) {
    const cur = heatCells.indexOf(ev.target);
    if (cur < 0) return;
    let r = Math.floor(cur / N), c = cur % N;
    if (ev.key === 'ArrowRight') c = Math.min(N - 1, c + 1);
    else if (ev.key === 'ArrowLeft') c = Math.max(0, c - 1);
    else if (ev.key === 'ArrowDown') r = Math.min(N - 1, r + 1);
    else if (ev.key === 'ArrowUp') r = Math.max(0, r - 1);
    else return;
    ev.preventDefault();
    const next = heatCells[r * N + c];
    for (const h of heatCells) h.setAttribute('tabindex', '-1');
    next.setAttribute('tabindex', '0');
    next.focus();
  }

  /* ------------------------------------------------------------ wiring */

  /* Called by app.js whenever a model is selected: ctx = {name, path, info,
   * api}. Shows the card for a 64-input model and hides it otherwise. */
  function setModel(ctx) {
    const show = Boolean(ctx) && applies(ctx.info);
    $('digits').hidden = !show;
    state.ctx = show ? ctx : null;
    state.seq++;
    clearTimeout(state.timer);
    $('digits-result').hidden = true;
    $('digits-error').hidden = true;
    $('digits-status').textContent = '';
  }

  document.addEventListener('DOMContentLoaded', () => {
    buildPad();
    const pad = $('digits-pad');
    pad.addEventListener('pointerdown', onPointerDown);
    pad.addEventListener('pointermove', onPointerMove);
    pad.addEventListener('pointerup', onPointerUp);
    pad.addEventListener('pointercancel', onPointerUp);
    pad.addEventListener('keydown', onKey);
    $('digits-clear').addEventListener('click', clear);
    $('digits-heat').addEventListener('keydown', onHeatKey);
  });

  window.reluserveDigits = { setModel };
})();
