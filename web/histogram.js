/*
 * reluserve playground: histogram of one layer's pre-activations Z for the
 * last request (diagnostics.preactivations, asked for with
 * parameters.preactivations). Where the mass sits against 0 explains the
 * dead fraction: a ReLU passes nothing for Z <= 0. Bins are right-closed,
 * (lo, hi], with 0 always an edge, so the bars left of 0 count exactly the
 * entries <= 0. The bins are kept in data-bins for the browser test.
 */
'use strict';

(function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const N_BINS = 24;

  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return e;
  }
  const fmt = (x) => (x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5 ? String(Number(x.toPrecision(3))) : x.toExponential(1));

  /* Bins (k·w, (k+1)·w] for integers k, covering [min, max] and 0: the
   * width w gives about N_BINS bins, and 0 is the edge k = 0. */
  function bins(values) {
    const finite = values.filter(Number.isFinite);
    if (!finite.length) return [];
    const lo = Math.min(0, ...finite), hi = Math.max(0, ...finite);
    const w = hi - lo > 0 ? (hi - lo) / (N_BINS - 1) : 1;
    const kLo = Math.ceil(lo / w) - 1, kHi = Math.max(Math.ceil(hi / w), kLo + 1);
    const out = [];
    for (let k = kLo; k < kHi; k++) out.push({ lo: k * w, hi: (k + 1) * w, count: 0 });
    for (const v of finite) {
      let i = Math.max(0, Math.min(out.length - 1, Math.ceil(v / w) - 1 - kLo));
      // v / w can round across an edge: settle on the bin with lo < v <= hi.
      while (i > 0 && v <= out[i].lo) i--;
      while (i < out.length - 1 && v > out[i].hi) i++;
      out[i].count++;
    }
    return out;
  }

  function render(container, select, res) {
    const d = res.diagnostics || {};
    const pre = Array.isArray(d.preactivations) ? d.preactivations : null;
    const layers = Array.isArray(d.layers) ? d.layers : [];
    if (!pre || !pre.length) return false;
    const prev = select.value;
    select.replaceChildren(...pre.map((_, l) => {
      const o = document.createElement('option');
      o.value = String(l);
      o.textContent = `L${l} ${layers[l] ? layers[l].activation : ''}${l === pre.length - 1 ? ' (output)' : ''}`;
      return o;
    }));
    select.value = prev !== '' && Number(prev) < pre.length ? prev : '0';
    const draw = () => {
      const l = Number(select.value);
      const t = pre[l];
      const values = (t.data || []).flat(Infinity);
      const bs = bins(values);
      const total = values.length;
      const nonfinite = values.filter((v) => !Number.isFinite(v)).length;
      const le0 = values.filter((v) => Number.isFinite(v) && v <= 0).length;
      const W = 360, H = 150, P = { l: 30, r: 8, t: 8, b: 24 };
      const x0 = P.l, x1 = W - P.r, y0 = H - P.b, y1 = P.t;
      const maxC = Math.max(1, ...bs.map((b) => b.count));
      const lo = bs.length ? bs[0].lo : -1, hi = bs.length ? bs[bs.length - 1].hi : 1;
      const sx = (v) => x0 + (v - lo) / (hi - lo) * (x1 - x0);
      const sy = (c) => y0 + c / maxC * (y1 - y0);
      const r = (v) => Math.round(v * 100) / 100;
      const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart hist-chart', role: 'img',
        'aria-label': `Histogram of layer ${l} pre-activations: ${total} values, ${total ? (le0 / total * 100).toFixed(1) : 0}% at or below 0` },
      svg('title', {}, `Layer ${l} pre-activations Z`));
      for (const c of [0, maxC]) {
        root.append(svg('line', { class: 'grid', x1: x0, x2: x1, y1: r(sy(c)), y2: r(sy(c)) }),
          svg('text', { class: 'tick', x: x0 - 4, y: r(sy(c)) + 3, 'text-anchor': 'end' }, String(c)));
      }
      for (const b of bs) {
        if (!b.count) continue;
        root.append(svg('rect', { class: b.hi <= 0 ? 'h-neg' : 'h-pos', x: r(sx(b.lo)) + 0.5, width: Math.max(0.5, r(sx(b.hi) - sx(b.lo)) - 1),
          y: r(sy(b.count)), height: r(y0 - sy(b.count)) }, svg('title', {}, `(${fmt(b.lo)}, ${fmt(b.hi)}]: ${b.count}`)));
      }
      root.append(svg('line', { class: 'zero', x1: r(sx(0)), x2: r(sx(0)), y1: y0, y2: y1 }),
        svg('text', { class: 'tick', x: r(sx(0)), y: H - 8, 'text-anchor': 'middle' }, '0'),
        svg('text', { class: 'tick', x: x0, y: H - 8 }, fmt(lo)),
        svg('text', { class: 'tick', x: x1, y: H - 8, 'text-anchor': 'end' }, fmt(hi)));
      root.dataset.bins = JSON.stringify(bs);
      root.dataset.layer = String(l);
      const note = document.createElement('p');
      note.className = 'help';
      note.id = 'hist-note';
      note.textContent = `${total} values (${t.shape ? t.shape.join(' × ') : ''} rows × units); ${le0} (${total ? (le0 / total * 100).toFixed(1) : 0}%) at or below 0` +
        (layers[l] && ['relu', 'leaky_relu'].includes(layers[l].activation) ? ', where the ReLU passes no gradient' : '') +
        (nonfinite ? `; ${nonfinite} non-finite, not drawn` : '') + '.';
      container.replaceChildren(root, note);
    };
    select.onchange = draw;
    draw();
    return true;
  }

  window.reluserveHistogram = { render, bins };
})();
