/*
 * reluserve playground: the network unit by unit for the last response.
 * The input and output layers are coloured by their values (the request's
 * rows and the output tensor); a hidden unit by its activation f(Z), Z from
 * diagnostics.preactivations (mean over the rows of a batch), and a
 * ReLU-family unit the API lists as dead (diagnostics.layers[l].dead_units:
 * Z <= 0 on every row of the request) is marked dead whatever else. Without
 * preactivations ("summary") only dead/active is shown; leaky ReLU's slope is
 * not in the metadata, so its units are coloured by Z. The diagram is one tab stop; arrow keys
 * move between units and layers (roving tabindex), and the unit under focus
 * or the pointer is described in #unit-info.
 */
'use strict';

(function () {
  const fmt = window.reluserveFormat.number;

  /* Diverging colour for a value against the layer's largest |value|:
   * blue for positive, orange for negative, white at 0. */
  function valueColour(v, maxAbs) {
    if (!isFinite(v)) return 'rgb(128, 128, 128)';
    const t = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 0;
    const to = v >= 0 ? [11, 98, 196] : [214, 110, 20];
    const c = to.map((k) => Math.round(255 + (k - 255) * t));
    return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  }

  function columns(rows, width) {
    const cols = [];
    for (let j = 0; j < width; j++) cols.push(rows.map((r) => r[j]));
    return cols;
  }
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;

  /* f(Z) where the metadata determines f; null where it does not. */
  const ACT = {
    relu: (z) => (z > 0 ? z : 0),
    sigmoid: (z) => 1 / (1 + Math.exp(-z)),
    tanh: Math.tanh,
    identity: (z) => z,
  };

  /* Layers to draw: [{title, units: [{state, value, rowValues, label}]}]. */
  function model(info, res, inputRows) {
    const d = res.diagnostics || null;
    const dl = d && Array.isArray(d.layers) ? d.layers : [];
    const n = inputRows.length;
    const layers = [];
    const valued = (title, cols, names) => {
      const means = cols.map(mean);
      return {
        title, kind: 'values', maxAbs: Math.max(0, ...means.map((v) => (isFinite(v) ? Math.abs(v) : 0))),
        units: cols.map((c, j) => ({
          state: 'value', value: means[j], rowValues: c,
          label: `${names ? names[j] : 'unit ' + j}: ${n > 1 ? `mean ${fmt(means[j])} (rows: ${c.map(fmt).join(', ')})` : fmt(c[0])}`,
        })),
      };
    };
    layers.push(valued(`input · ${info.width} values`, columns(inputRows, info.width), info.features));
    const specs = info.layers.length ? info.layers : dl.map((l) => ({ units: l.units, activation: l.activation }));
    specs.forEach((spec, l) => {
      const last = l === specs.length - 1;
      const diag = dl[l] || {};
      const act = spec.activation || diag.activation || '';
      if (last) {
        const out = (res.outputs || []).find((o) => o.name === info.outputName) || (res.outputs || [])[0];
        const data = out && Array.isArray(out.data) ? out.data.flat(Infinity) : [];
        if (data.length === n * spec.units && data.every((v) => typeof v === 'number')) {
          const rows = [];
          for (let r = 0; r < n; r++) rows.push(data.slice(r * spec.units, (r + 1) * spec.units));
          const lay = valued(`L${l} ${act} (output) · ${spec.units} units`, columns(rows, spec.units), info.labels);
          layers.push(lay);
          return;
        }
      }
      const dead = Array.isArray(diag.dead_units) ? new Set(diag.dead_units) : null;
      const pre = d && Array.isArray(d.preactivations) ? d.preactivations[l] : null;
      const zData = pre && Array.isArray(pre.data) ? pre.data.flat(Infinity) : null;
      const f = ACT[act] || null;
      const units = [];
      let maxAbs = 0;
      for (let j = 0; j < spec.units; j++) {
        let state = 'unknown', label = `unit ${j}: no per-unit data`;
        if (zData && zData.length === n * spec.units) {
          const zs = [];
          for (let r = 0; r < n; r++) zs.push(zData[r * spec.units + j]);
          const vals = f ? zs.map(f) : zs;
          const v = mean(vals);
          const what = f ? 'activation' : 'pre-activation';
          const isDead = dead && dead.has(j);
          if (isFinite(v) && !isDead) maxAbs = Math.max(maxAbs, Math.abs(v));
          units.push({
            state: isDead ? 'dead' : 'alive', value: v,
            label: `unit ${j}: ${isDead ? 'dead (Z ≤ 0 on every row), ' : ''}${what} ${n > 1 ? `mean ${fmt(v)} (rows: ${vals.map(fmt).join(', ')})` : fmt(vals[0])}` +
              `, Z ${zs.map(fmt).join(', ')}`,
          });
          continue;
        }
        if (dead) {
          state = dead.has(j) ? 'dead' : 'alive';
          label = dead.has(j)
            ? `unit ${j}: dead — pre-activation ≤ 0 on ${n > 1 ? `all ${n} rows` : 'this row'}, output 0, no gradient`
            : `unit ${j}: active (pre-activation > 0) on ${n > 1 ? 'at least one row' : 'this row'}`;
        } else if (diag.dead_fraction !== undefined) {
          label = `unit ${j}: per-unit state needs "full" diagnostics`;
        } else if (diag.activation && diag.dead_fraction === undefined) {
          label = `unit ${j}: ${act} has no dead state`;
        }
        units.push({ state, label });
      }
      const nDead = dead ? dead.size : null;
      const nonfinite = diag.nonfinite_units || 0;
      layers.push({
        maxAbs, coloured: units.some((u) => u.value !== undefined),
        title: `L${l} ${act}${last ? ' (output)' : ''} · ${spec.units} units` +
          (nDead !== null ? ` · ${nDead} dead` : '') + (nonfinite ? ` · ${nonfinite} with a non-finite pre-activation (not identified per unit)` : ''),
        kind: 'states', units,
      });
    });
    return layers;
  }

  function render(container, info, res, inputRows) {
    const layers = model(info, res, inputRows);
    const infoLine = document.getElementById('unit-info');
    container.replaceChildren();
    const show = (u) => { infoLine.textContent = u.dataset.label; };
    layers.forEach((lay, l) => {
      const row = document.createElement('div');
      row.className = 'unit-layer';
      const title = document.createElement('div');
      title.className = 'unit-title';
      title.id = `unit-layer-${l}`;
      title.textContent = lay.title;
      const cells = document.createElement('div');
      cells.className = 'unit-cells';
      cells.setAttribute('role', 'group');
      cells.setAttribute('aria-labelledby', title.id);
      lay.units.forEach((u, j) => {
        const c = document.createElement('span');
        c.className = 'unit ' + u.state;
        c.tabIndex = l === 0 && j === 0 ? 0 : -1;
        c.setAttribute('role', 'img');
        c.setAttribute('aria-label', `layer ${lay.title.split(' ·')[0]}, ${u.label}`);
        c.dataset.layer = String(l);
        c.dataset.unit = String(j);
        c.dataset.state = u.state;
        c.dataset.label = `${lay.title.split(' ·')[0]} — ${u.label}`;
        if (u.value !== undefined) c.dataset.value = String(u.value);
        if (u.state === 'value' || (u.state === 'alive' && u.value !== undefined)) {
          c.style.background = valueColour(u.value, lay.maxAbs);
        }
        if (u.state === 'dead') c.textContent = '×';
        c.title = u.label;
        c.addEventListener('mouseenter', () => show(c));
        c.addEventListener('focus', () => show(c));
        cells.append(c);
      });
      row.append(title, cells);
      container.append(row);
    });
    container.onkeydown = (e) => move(container, e);
  }

  /* Roving tabindex: arrows move within a layer, up/down between layers. */
  function move(container, e) {
    const cur = e.target.closest && e.target.closest('.unit');
    if (!cur) return;
    const rows = [...container.querySelectorAll('.unit-cells')].map((r) => [...r.children]);
    let l = Number(cur.dataset.layer), j = Number(cur.dataset.unit);
    if (e.key === 'ArrowRight') j++;
    else if (e.key === 'ArrowLeft') j--;
    else if (e.key === 'ArrowDown') l++;
    else if (e.key === 'ArrowUp') l--;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = Infinity;
    else return;
    e.preventDefault();
    l = Math.max(0, Math.min(rows.length - 1, l));
    j = Math.max(0, Math.min(rows[l].length - 1, j));
    const next = rows[l][j];
    for (const r of rows) for (const u of r) u.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  window.reluserveUnits = { render, valueColour };
})();
