/*
 * reluserve playground: the activation panel. Plots ReLU, leaky ReLU,
 * sigmoid and tanh and their derivatives on [-10, 10] as the server computes
 * them (f'(0) = 0 for ReLU and alpha for leaky ReLU, PyTorch's choice at the
 * kink), and shades where sigmoid/tanh saturate: |f'(x)| < 0.01, the
 * server's saturated_fraction definition. Every curve carries the points it
 * was drawn from (data-samples) so the browser test can check them against
 * the formulas. Plain DOM and SVG, no dependencies.
 */
'use strict';

(function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const X_MIN = -10, X_MAX = 10, STEP = 0.05;
  const SAT = 0.01; // |f'| below this counts as saturated (lib/diagnostics.c)

  const sigmoid = (x) => 1 / (1 + Math.exp(-x));
  /* The x beyond which |f'(x)| < SAT: solve s(1-s) = SAT for sigmoid and
   * 1 - t^2 = SAT for tanh. */
  const SIG_EDGE = (() => { const s = (1 - Math.sqrt(1 - 4 * SAT)) / 2; return Math.log((1 - s) / s); })();
  const TANH_EDGE = Math.atanh(Math.sqrt(1 - SAT));

  const FUNCS = {
    relu: {
      label: 'ReLU', formula: 'f(x) = max(0, x)',
      f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0), kink: true,
      note: 'Not differentiable at 0; the server (like PyTorch) takes f′(0) = 0, so a unit whose pre-activation is ≤ 0 on every row gets no gradient at all: a dead unit.',
    },
    leaky_relu: {
      label: 'leaky ReLU', formula: 'f(x) = x for x > 0, αx otherwise',
      f: (x, a) => (x > 0 ? x : a * x), df: (x, a) => (x > 0 ? 1 : a), kink: true,
      note: 'The slope α on the negative side keeps a gradient flowing, so a unit cannot die; f′(0) = α. The server reads α from the model (default 0.01).',
    },
    sigmoid: {
      label: 'sigmoid', formula: 'f(x) = 1 / (1 + e^−x)',
      f: sigmoid, df: (x) => { const s = sigmoid(x); return s * (1 - s); }, edge: SIG_EDGE,
      note: `f′ is at most 0.25 and falls below 0.01 for |x| > ${SIG_EDGE.toFixed(3)}: gradients through a saturated unit vanish.`,
    },
    tanh: {
      label: 'tanh', formula: 'f(x) = tanh x',
      f: Math.tanh, df: (x) => { const t = Math.tanh(x); return 1 - t * t; }, edge: TANH_EDGE,
      note: `f′ falls below 0.01 for |x| > ${TANH_EDGE.toFixed(3)}: gradients through a saturated unit vanish.`,
    },
  };

  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return e;
  }
  const fmt = (v) => (v === 0 ? '0' : String(Number(v.toPrecision(4))));

  /* The sample grid: exact multiples of STEP, 0 included. */
  const XS = [];
  for (let i = 0; i <= Math.round((X_MAX - X_MIN) / STEP); i++) XS.push(Math.round((X_MIN + i * STEP) * 100) / 100);

  /* Points of one curve; null breaks the line (the derivative's jump at 0). */
  function samples(fn, a, which) {
    const g = which === 'f' ? fn.f : fn.df;
    const pts = [];
    for (const x of XS) {
      if (which === 'df' && fn.kink && x > 0 && pts[pts.length - 1] && pts[pts.length - 1][0] === 0) pts.push(null);
      pts.push([x, g(x, a)]);
    }
    return pts;
  }

  const W = 320, H = 190, PAD = { l: 34, r: 8, t: 10, b: 24 };
  const box = { x0: PAD.l, x1: W - PAD.r, y0: H - PAD.b, y1: PAD.t }; // pixel box (y0 bottom)

  function plot(title, pts, yr, fn, a, which) {
    const sx = (x) => box.x0 + (x - X_MIN) / (X_MAX - X_MIN) * (box.x1 - box.x0);
    const sy = (y) => box.y0 + (y - yr[0]) / (yr[1] - yr[0]) * (box.y1 - box.y0);
    const r = (v) => Math.round(v * 100) / 100;
    const root = svg('svg', {
      viewBox: `0 0 ${W} ${H}`, class: 'act-chart', role: 'img', 'aria-label': title,
      'data-domain': [X_MIN, X_MAX, yr[0], yr[1]].join(','), 'data-box': [box.x0, box.x1, box.y0, box.y1].join(','),
    }, svg('title', {}, title));
    // Shaded regions first, under the grid and the curve.
    if (fn.edge !== undefined) {
      for (const [lo, hi] of [[X_MIN, -fn.edge], [fn.edge, X_MAX]]) {
        root.append(svg('rect', { class: 'sat', x: r(sx(lo)), y: box.y1, width: r(sx(hi) - sx(lo)), height: box.y0 - box.y1,
          'data-from': lo, 'data-to': hi }, svg('title', {}, `saturated: |f′(x)| < ${SAT} for |x| > ${fn.edge.toFixed(3)}`)));
      }
    } else if (fn === FUNCS.relu) {
      root.append(svg('rect', { class: 'deadzone', x: sx(X_MIN), y: box.y1, width: r(sx(0) - sx(X_MIN)), height: box.y0 - box.y1 },
        svg('title', {}, 'x ≤ 0: f′ = 0, no gradient passes')));
    }
    const step = yr[1] - yr[0] > 4 ? 5 : 0.5;
    const yTicks = [];
    for (let v = Math.ceil(yr[0] / step) * step; v <= yr[1]; v += step) yTicks.push(v);
    for (const v of yTicks) {
      root.append(svg('line', { class: 'grid', x1: box.x0, x2: box.x1, y1: r(sy(v)), y2: r(sy(v)) }),
        svg('text', { class: 'tick', x: box.x0 - 4, y: r(sy(v)) + 3, 'text-anchor': 'end' }, fmt(v)));
    }
    for (const v of [-10, -5, 0, 5, 10]) {
      root.append(svg('line', { class: v === 0 ? 'axis' : 'grid', x1: r(sx(v)), x2: r(sx(v)), y1: box.y0, y2: box.y1 }),
        svg('text', { class: 'tick', x: r(sx(v)), y: box.y0 + 14, 'text-anchor': 'middle' }, String(v)));
    }
    root.append(svg('line', { class: 'axis', x1: box.x0, x2: box.x1, y1: r(sy(0)), y2: r(sy(0)) }));
    let d = '', move = true;
    for (const p of pts) {
      if (p === null) { move = true; continue; }
      d += `${move ? 'M' : 'L'}${r(sx(p[0]))},${r(sy(p[1]))}`;
      move = false;
    }
    root.append(svg('path', { class: 'curve ' + which, d, 'data-curve': which, 'data-samples': JSON.stringify(pts) }));
    if (fn.kink) {
      if (which === 'f') {
        root.append(svg('circle', { class: 'kink', cx: r(sx(0)), cy: r(sy(0)), r: 4 }, svg('title', {}, 'kink at 0: not differentiable')),
          svg('text', { class: 'mark', x: r(sx(0)) - 6, y: r(sy(0)) - 8, 'text-anchor': 'end' }, 'kink at 0'));
      } else {
        const at0 = fn.df(0, a);
        root.append(svg('circle', { class: 'open', cx: r(sx(0)), cy: r(sy(1)), r: 3.5 }, svg('title', {}, 'f′ → 1 from the right')),
          svg('circle', { class: 'kink', cx: r(sx(0)), cy: r(sy(at0)), r: 3.5, 'data-x': 0, 'data-y': at0 },
            svg('title', {}, `f′(0) = ${fmt(at0)}`)),
          svg('text', { class: 'mark', x: r(sx(0)) + 6, y: r(sy(at0)) - 6 }, fn === FUNCS.relu ? 'f′(0) = 0' : `f′(0) = α = ${fmt(at0)}`));
      }
    }
    root.append(svg('line', { class: 'cursor', x1: 0, x2: 0, y1: box.y0, y2: box.y1, visibility: 'hidden' }));
    root.cursorAt = (x) => {
      const c = root.querySelector('.cursor');
      c.setAttribute('x1', r(sx(x)));
      c.setAttribute('x2', r(sx(x)));
      c.setAttribute('visibility', 'visible');
    };
    return root;
  }

  function render() {
    const name = document.querySelector('input[name="actfn"]:checked').value;
    const fn = FUNCS[name];
    const a = Number(document.getElementById('act-slope').value);
    document.getElementById('act-slope-val').textContent = fmt(a);
    document.getElementById('act-slope-field').hidden = name !== 'leaky_relu';
    const fPts = samples(fn, a, 'f');
    const ys = fPts.map((p) => p[1]);
    const lo = Math.min(0, ...ys), hi = Math.max(1, ...ys);
    const padY = (hi - lo) * 0.08;
    const fr = [lo - padY, hi + padY];
    const plots = document.getElementById('act-plots');
    plots.dataset.fn = name;
    plots.dataset.slope = String(a);
    if (fn.edge !== undefined) plots.dataset.saturatedBeyond = String(fn.edge);
    else delete plots.dataset.saturatedBeyond;
    const fPlot = plot(`${fn.label}: f(x) on [−10, 10]`, fPts, fr, fn, a, 'f');
    const dPlot = plot(`${fn.label}: derivative f′(x) on [−10, 10]`, samples(fn, a, 'df'), [-0.08, 1.08], fn, a, 'df');
    plots.replaceChildren(
      figure(fPlot, fn.formula), figure(dPlot, 'f′(x)' + (fn.edge !== undefined ? ` · shaded: |f′| < ${SAT} (saturated)`
        : fn === FUNCS.relu ? ' · shaded: f′ = 0 (no gradient)' : '')));
    document.getElementById('act-note').textContent = fn.note;
    readout(fn, a, [fPlot, dPlot]);
  }

  function figure(chart, caption) {
    const f = document.createElement('figure');
    const c = document.createElement('figcaption');
    c.textContent = caption;
    f.append(c, chart);
    return f;
  }

  function readout(fn, a, charts) {
    const x = Number(document.getElementById('act-x').value);
    for (const c of charts) c.cursorAt(x);
    const out = document.getElementById('act-readout');
    const dfx = fn.df(x, a);
    out.textContent = `x = ${fmt(x)}: f(x) = ${fmt(fn.f(x, a))}, f′(x) = ${fmt(dfx)}` +
      (fn.edge !== undefined && Math.abs(dfx) < SAT ? ' (saturated)' : '') +
      (fn === FUNCS.relu && x <= 0 ? ' (no gradient)' : '');
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const r of document.querySelectorAll('input[name="actfn"]')) r.addEventListener('change', render);
    document.getElementById('act-slope').addEventListener('input', render);
    document.getElementById('act-x').addEventListener('input', render);
    render();
  });
})();
