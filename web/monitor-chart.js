/*
 * reluserve playground: the live monitor over time. Each report of
 * GET /v2/models/{m}/diagnostics (the server's sliding window over all the
 * traffic it served) becomes one point per ReLU-family layer: the fraction
 * of the layer's units never active in the window. A report whose window
 * holds no rows is a gap, not a 0: nothing was measured. History is kept per
 * model for the last MAX_POINTS reports; the chart carries its points in
 * data-series so the browser test can compare them with the API.
 */
'use strict';

(function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const MAX_POINTS = 120;
  const COLOURS = ['#0b62c4', '#d4483b', '#1a7f37', '#7a56c2', '#c28a00', '#00838f', '#ad1457', '#5d4037'];
  const history = new Map(); // model name -> [{t, rows, layers: [{index, f}]}]

  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return e;
  }

  function add(model, rep, t) {
    const list = history.get(model) || [];
    const layers = (Array.isArray(rep.layers) ? rep.layers : [])
      .filter((l) => l.relu_family !== undefined ? l.relu_family : ['relu', 'leaky_relu'].includes(l.activation))
      .map((l, i) => ({ index: l.index !== undefined ? l.index : i, f: rep.rows > 0 && typeof l.never_active_fraction === 'number' ? l.never_active_fraction : null }));
    list.push({ t, rows: rep.rows, layers });
    if (list.length > MAX_POINTS) list.splice(0, list.length - MAX_POINTS);
    history.set(model, list);
    return list;
  }

  function draw(container, model) {
    const list = history.get(model) || [];
    const W = 360, H = 150, P = { l: 34, r: 8, t: 8, b: 22 };
    const x0 = P.l, x1 = W - P.r, y0 = H - P.b, y1 = P.t;
    const tMax = list.length ? list[list.length - 1].t : 0;
    const tMin = list.length ? Math.min(list[0].t, tMax - 10000) : 0;
    const sx = (t) => x0 + (t - tMin) / Math.max(1, tMax - tMin) * (x1 - x0);
    const sy = (f) => y0 + f * (y1 - y0);
    const r = (v) => Math.round(v * 100) / 100;
    const indices = [];
    for (const p of list) for (const l of p.layers) if (!indices.includes(l.index)) indices.push(l.index);
    const last = list[list.length - 1];
    const summary = last ? indices.map((ix) => {
      const l = last.layers.find((q) => q.index === ix);
      return `layer ${ix}: ${l && l.f !== null ? (l.f * 100).toFixed(1) + '%' : 'no rows'}`;
    }).join(', ') : 'no reports yet';
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart mon-chart', role: 'img',
      'aria-label': `Never-active fraction per layer over the last ${list.length} reports; latest ${summary}` },
    svg('title', {}, 'Never-active fraction per ReLU layer over time'));
    for (const f of [0, 0.5, 1]) {
      root.append(svg('line', { class: 'grid', x1: x0, x2: x1, y1: r(sy(f)), y2: r(sy(f)) }),
        svg('text', { class: 'tick', x: x0 - 4, y: r(sy(f)) + 3, 'text-anchor': 'end' }, `${f * 100}%`));
    }
    if (list.length) {
      const secs = Math.round((tMax - tMin) / 1000);
      root.append(svg('text', { class: 'tick', x: x0, y: H - 6 }, `−${secs} s`),
        svg('text', { class: 'tick', x: x1, y: H - 6, 'text-anchor': 'end' }, 'now'));
    }
    const series = indices.map((ix, k) => {
      const pts = list.map((p) => { const l = p.layers.find((q) => q.index === ix); return [p.t, l ? l.f : null]; });
      let d = '', move = true;
      for (const [t, f] of pts) {
        if (f === null) { move = true; continue; }
        d += `${move ? 'M' : 'L'}${r(sx(t))},${r(sy(f))}`;
        move = false;
      }
      const colour = COLOURS[k % COLOURS.length];
      root.append(svg('path', { class: 'mon-line', d, stroke: colour, 'data-layer': ix }));
      // A lone point (or the latest one) gets a dot, so it shows at all.
      const lastPt = pts.filter((p) => p[1] !== null).pop();
      if (lastPt) root.append(svg('circle', { cx: r(sx(lastPt[0])), cy: r(sy(lastPt[1])), r: 2.5, fill: colour }));
      return { layer: ix, colour, values: pts.map((p) => p[1]) };
    });
    root.dataset.series = JSON.stringify(series);
    const legend = document.createElement('div');
    legend.className = 'legend';
    for (const s of series) {
      const key = document.createElement('span');
      key.className = 'key';
      key.style.background = s.colour;
      legend.append(key, `layer ${s.layer}`);
    }
    container.replaceChildren(legend, root);
  }

  window.reluserveMonitor = { add, draw };
})();
