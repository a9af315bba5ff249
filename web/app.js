/*
 * reluserve playground: lists the served models, sends one Open Inference
 * Protocol v2 request and draws the answer — outputs, class probabilities,
 * the per-layer diagnostics, the input gradient — plus the server's live
 * dying-ReLU window. Plain DOM, no dependencies: the server embeds this file.
 */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  /* Sample rows for the bundled models; others get a row built from the
   * model's own input statistics (or small alternating values). */
  const EXAMPLES = {
    iris: [
      { name: 'setosa', row: [5.1, 3.5, 1.4, 0.2] },
      { name: 'versicolor', row: [6.0, 2.9, 4.5, 1.5] },
      { name: 'virginica', row: [6.9, 3.1, 5.4, 2.1] },
    ],
  };
  /* Feature names for the bundled models whose files carry none. */
  const FEATURES = {
    iris: ['sepal length', 'sepal width', 'petal length', 'petal width'],
  };
  const RELU_FAMILY = ['relu', 'leaky_relu'];

  const state = {
    key: sessionStorage.getItem('reluserve.apikey') || '',
    models: [],   // [{name, version, state}]
    meta: null,   // metadata of the selected model
    info: null,   // what the page derived from it (see describeModel)
  };

  /* ------------------------------------------------------------ HTTP */

  class ServerError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (state.key) headers.Authorization = 'Bearer ' + state.key;
    let res;
    try {
      // Relative to the page, so the playground also works behind a
      // reverse proxy that serves reluserve under a path prefix.
      res = await fetch(path.replace(/^\//, ''), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ServerError(0, 'Could not reach the server (' + e.message + ').');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      let msg = data && typeof data.error === 'string' ? data.error : (text.trim() || res.statusText);
      if (res.status === 401) {
        msg += state.key ? ' — check the API key.' : ' — this server needs an API key.';
        openAuth();
      }
      throw new ServerError(res.status, msg);
    }
    if (data === null) throw new ServerError(res.status, 'The server answered with something that is not JSON.');
    return data;
  }

  /* ------------------------------------------------------------ helpers */

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  const fmt = window.reluserveFormat.number; /* format.js */
  const pct = (x) => (typeof x === 'number' && isFinite(x) ? (x * 100).toFixed(1) + '%' : '—');

  function showError(msg) {
    const box = $('error');
    box.replaceChildren(el('strong', { text: 'Error: ' }), msg);
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  }
  function clearError() { $('error').hidden = true; $('error').textContent = ''; }
  function setStatus(msg) { $('status').textContent = msg; }

  function openAuth() {
    const d = $('auth');
    d.open = true;
    $('apikey').focus();
  }

  /* Looks a metadata field up wherever a server might put it: top level,
   * "parameters", or the first output/input tensor description. */
  function pick(meta, key) {
    const places = [meta, meta.parameters, meta.outputs && meta.outputs[0],
      meta.outputs && meta.outputs[0] && meta.outputs[0].parameters, meta.output, meta.model];
    for (const p of places) if (p && p[key] !== undefined && p[key] !== null) return p[key];
    return undefined;
  }

  function describeModel(meta) {
    const input = (meta.inputs && meta.inputs[0]) || { name: 'input', shape: [-1, 1] };
    const output = (meta.outputs && meta.outputs[0]) || { name: 'output', shape: [-1, 1] };
    const width = Number(input.shape[input.shape.length - 1]) || 1;
    const nOut = Number(output.shape[output.shape.length - 1]) || 1;
    let labels = pick(meta, 'labels');
    if (!Array.isArray(labels) || labels.length !== nOut) labels = null;
    let task = pick(meta, 'task');
    if (task !== 'classification' && task !== 'regression') task = labels ? 'classification' : 'regression';

    // Layers as [{units, activation}], from either a list of objects or
    // parallel arrays of sizes and activations.
    let layers = pick(meta, 'layers');
    if (!Array.isArray(layers) || typeof layers[0] !== 'object') {
      const sizes = pick(meta, 'layer_sizes') || (Array.isArray(layers) ? layers : null);
      const acts = pick(meta, 'activations');
      layers = Array.isArray(sizes)
        ? sizes.map((u, i) => ({ units: u, activation: Array.isArray(acts) ? acts[i] : undefined }))
        : [];
    }
    const lastAct = layers.length ? layers[layers.length - 1].activation : undefined;
    const mean = pick(meta, 'mean') || (meta.input && meta.input.mean);
    const features = pick(meta, 'feature_names') || pick(meta, 'features');
    return {
      inputName: input.name, outputName: output.name, width, nOut, labels, task, layers, lastAct,
      mean: Array.isArray(mean) && mean.length === width ? mean : null,
      features: Array.isArray(features) && features.length === width ? features : null,
      datatype: input.datatype || 'FP32',
    };
  }

  function examplesFor(name, info) {
    const known = EXAMPLES[name];
    if (known && known.every((e) => e.row.length === info.width)) return known;
    if (info.mean) return [{ name: 'input mean', row: info.mean.map((v) => Number(Number(v).toPrecision(4))) }];
    const row = [];
    for (let i = 0; i < info.width; i++) row.push(((i % 2) ? -1 : 1) * (0.25 + 0.25 * (i % 4)));
    return [{ name: 'sample', row }];
  }

  /* ------------------------------------------------------------ models */

  async function loadServer() {
    try {
      const v2 = await api('GET', '/v2');
      const ext = Array.isArray(v2.extensions) ? v2.extensions.join(', ') : '';
      $('server-info').textContent = `${v2.name || 'reluserve'} ${v2.version || ''}` + (ext ? ` · extensions: ${ext}` : '');
    } catch (e) {
      $('server-info').textContent = 'Server metadata unavailable.';
      if (e.status === 401) showError(e.message);
    }
  }

  async function loadModels() {
    const select = $('model');
    try {
      const index = await api('POST', '/v2/repository/index', {});
      const list = Array.isArray(index) ? index : (index.models || []);
      state.models = list.filter((m) => m && m.name);
    } catch (e) {
      select.replaceChildren(el('option', { text: 'unavailable' }));
      showError(e.message);
      return;
    }
    if (!state.models.length) {
      select.replaceChildren(el('option', { text: 'no models' }));
      showError('The server has no models in its repository.');
      return;
    }
    const names = new Set(state.models.map((m) => m.name));
    select.replaceChildren(...state.models.map((m, i) => {
      const ready = !m.state || String(m.state).toUpperCase() === 'READY';
      const ver = m.version ? ` v${m.version}` : '';
      return el('option', { value: String(i), disabled: !ready },
        `${m.name}${names.size < state.models.length ? ver : ''}${ready ? '' : ` (${String(m.state).toLowerCase()})`}`);
    }));
    const wanted = new URLSearchParams(location.search).get('model');
    const first = state.models.findIndex((m) => m.name === wanted && (!m.state || String(m.state).toUpperCase() === 'READY'));
    const firstReady = state.models.findIndex((m) => !m.state || String(m.state).toUpperCase() === 'READY');
    select.value = String(first >= 0 ? first : Math.max(firstReady, 0));
    select.disabled = false;
    await selectModel();
  }

  function modelPath(m) {
    const base = '/v2/models/' + encodeURIComponent(m.name);
    return m.version ? base + '/versions/' + encodeURIComponent(m.version) : base;
  }
  const current = () => state.models[Number($('model').value)];

  async function selectModel() {
    const m = current();
    if (!m) return;
    clearError();
    $('run').disabled = true;
    $('result').hidden = true;
    window.reluserveDigits.setModel(null);
    try {
      state.meta = await api('GET', modelPath(m));
    } catch (e) {
      showError(e.message);
      return;
    }
    state.info = describeModel(state.meta);
    if (!state.info.features && FEATURES[m.name] && FEATURES[m.name].length === state.info.width) {
      state.info.features = FEATURES[m.name];
    }
    renderModel(m, state.meta, state.info);
    window.reluserveDigits.setModel({ name: m.name, path: modelPath(m), info: state.info, api });
    $('run').disabled = false;
    refreshMonitor();
  }

  function renderModel(m, meta, info) {
    const facts = [
      ['Platform', meta.platform || '—'],
      ['Versions', (meta.versions || [m.version]).filter(Boolean).join(', ') || '—'],
      ['Task', info.task],
      ['Input', `${info.inputName} · ${info.datatype} [${(meta.inputs && meta.inputs[0] && meta.inputs[0].shape || []).join(', ')}]`],
      ['Output', `${info.outputName} [${(meta.outputs && meta.outputs[0] && meta.outputs[0].shape || []).join(', ')}]`],
    ];
    if (info.labels) facts.push(['Classes', info.labels.join(', ')]);
    $('model-info').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));

    const arch = $('model-arch');
    arch.replaceChildren();
    if (info.layers.length) {
      arch.append(el('span', { class: 'chip in' }, `${info.width} in`));
      for (const l of info.layers) {
        arch.append(' → ', el('span', { class: 'chip' }, `${l.units}`, l.activation ? el('small', {}, ' ' + l.activation) : null));
      }
    }

    $('input-hint').textContent = `(${info.width} value${info.width === 1 ? '' : 's'} each)`;
    const ex = examplesFor(m.name, info);
    $('input').value = ex[0].row.join(', ');
    $('examples').replaceChildren(...(ex.length > 1 ? [el('span', { class: 'muted', text: 'Examples:' })] : []),
      ...(ex.length > 1 ? ex.map((e) => {
        const b = el('button', { type: 'button', class: 'link' }, e.name);
        b.addEventListener('click', () => { $('input').value = e.row.join(', '); $('input').focus(); });
        return b;
      }) : []),
      ex.length > 1 ? (() => {
        const b = el('button', { type: 'button', class: 'link' }, 'all as a batch');
        b.addEventListener('click', () => { $('input').value = ex.map((e) => e.row.join(', ')).join('\n'); });
        return b;
      })() : '');  // replaceChildren would write a null out as the text "null"

    const isClf = info.task === 'classification';
    $('label-field').hidden = !isClf;
    $('target-field').hidden = isClf;
    const labelSel = $('label');
    labelSel.replaceChildren(el('option', { value: '' }, '— none (max-logit probe) —'));
    for (let i = 0; i < info.nOut; i++) {
      labelSel.append(el('option', { value: String(i) }, info.labels ? `${i}: ${info.labels[i]}` : `class ${i}`));
    }
    $('target').value = '';
  }

  /* ------------------------------------------------------------ request */

  /* Parses the textarea into rows; throws a sentence naming the bad row. */
  function parseRows(text) {
    const lines = text.split(/\r?\n|;/).map((s) => s.trim()).filter((s) => s.length);
    if (!lines.length) throw new Error('Type at least one input row.');
    return lines.map((line, r) => {
      const parts = line.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter((s) => s.length);
      const row = parts.map((p) => {
        const v = Number(p);
        if (p === '' || !isFinite(v)) throw new Error(`Row ${r + 1}: "${p}" is not a number.`);
        return v;
      });
      return row; // a wrong width is left to the server: its message is the contract
    });
  }

  function buildRequest(info) {
    const rows = parseRows($('input').value);
    const n = rows.length;
    const widthOk = rows.every((r) => r.length === rows[0].length);
    const cols = widthOk ? rows[0].length : info.width;
    const body = {
      id: 'playground-' + Date.now().toString(36),
      inputs: [{ name: info.inputName, shape: [n, cols], datatype: 'FP32', data: rows.flat() }],
      parameters: { diagnostics: document.querySelector('input[name="diag"]:checked').value },
    };
    // Full diagnostics also bring every layer's pre-activations, which the
    // histogram and the unit view draw.
    if (body.parameters.diagnostics === 'full') body.parameters.preactivations = true;
    if (info.task === 'classification' && $('label').value !== '') {
      const lab = Number($('label').value);
      body.inputs.push({ name: 'labels', shape: [n], datatype: 'INT64', data: rows.map(() => lab) });
    }
    if (info.task !== 'classification' && $('target').value.trim()) {
      const t = $('target').value.trim().split(/[\s,]+/).map(Number);
      if (t.some((v) => !isFinite(v))) throw new Error('Target: expected numbers separated by commas.');
      const row = t.length === 1 ? Array(info.nOut).fill(t[0]) : t;
      body.inputs.push({ name: 'targets', shape: [n, row.length], datatype: 'FP32', data: rows.flatMap(() => row) });
    }
    return { body, rows };
  }

  async function runInference(ev) {
    if (ev) ev.preventDefault();
    const m = current();
    if (!m || !state.info) return;
    clearError();
    let req;
    try {
      req = buildRequest(state.info);
    } catch (e) {
      showError(e.message);
      $('input').setAttribute('aria-invalid', 'true');
      $('input').focus();
      return;
    }
    $('input').removeAttribute('aria-invalid');
    $('run').disabled = true;
    setStatus('Running…');
    const t0 = performance.now();
    try {
      const res = await api('POST', modelPath(m) + '/infer', req.body);
      setStatus(`Answered in ${(performance.now() - t0).toFixed(1)} ms.`);
      renderResult(res, req.rows, state.info);
      refreshMonitor();
    } catch (e) {
      setStatus('');
      $('result').hidden = true;
      showError(e.status ? `${e.message} (HTTP ${e.status})` : e.message);
      if (e.status === 400) $('input').setAttribute('aria-invalid', 'true');
    } finally {
      $('run').disabled = false;
    }
  }

  /* ------------------------------------------------------------ result */

  function softmax(z) {
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  function tensorRows(t) {
    const data = (t.data || []).flat(Infinity);
    const shape = t.shape || [1, data.length];
    const cols = shape.length > 1 ? Number(shape[shape.length - 1]) : data.length / (Number(shape[0]) || 1);
    const rows = [];
    for (let i = 0; i < data.length; i += cols) rows.push(data.slice(i, i + cols));
    return rows;
  }

  function renderResult(res, inputRows, info) {
    $('result').hidden = false;
    $('raw').textContent = JSON.stringify(res, null, 2);
    const outputs = Array.isArray(res.outputs) ? res.outputs : [];
    const primary = outputs.find((o) => o.name === info.outputName) || outputs[0];
    renderPrediction(primary, outputs, info);
    const d = res.diagnostics || null;
    renderSummary(d, res.parameters || {});
    renderLayers(d);
    renderInputGradient(d, outputs, info);
    $('hist-wrap').hidden = !window.reluserveHistogram.render($('hist'), $('hist-layer'), res);
    $('units-wrap').hidden = false;
    window.reluserveUnits.render($('units'), info, res, inputRows);
  }

  function renderPrediction(primary, outputs, info) {
    const box = $('prediction');
    box.replaceChildren();
    if (!primary) { box.append(el('p', { class: 'muted', text: 'No output tensor in the response.' })); return; }
    const rows = tensorRows(primary);
    const classify = info.task === 'classification';
    rows.forEach((row, r) => {
      const block = el('div', { class: 'pred-row' });
      if (rows.length > 1) block.append(el('h3', { class: 'row-title', text: `Row ${r + 1}` }));
      if (classify && row.length > 1) {
        // Softmax output layers already give probabilities; otherwise the
        // outputs are logits and the page applies the softmax itself.
        const probs = info.lastAct === 'softmax' ? row : softmax(row);
        let best = 0;
        probs.forEach((p, i) => { if (p > probs[best]) best = i; });
        const name = info.labels ? info.labels[best] : `class ${best}`;
        block.append(el('p', { class: 'predicted' }, 'Predicted class: ',
          el('strong', { class: 'class-name', 'data-class': name, text: name }),
          el('span', { class: 'muted' }, ` · ${pct(probs[best])}`)));
        const list = el('ul', { class: 'probs' + (info.lastAct === 'softmax' ? '' : ' with-logits'), 'aria-label': 'Class probabilities' });
        probs.forEach((p, i) => {
          const label = info.labels ? info.labels[i] : `class ${i}`;
          list.append(el('li', { class: i === best ? 'best' : '' },
            el('span', { class: 'plabel', text: label }),
            el('span', { class: 'bar', role: 'presentation' }, el('span', { style: `width:${(p * 100).toFixed(2)}%` })),
            el('span', { class: 'pval', text: pct(p) }),
            info.lastAct === 'softmax' ? null : el('span', { class: 'raw-out muted', title: 'logit', text: fmt(row[i]) })));
        });
        block.append(list);
      } else {
        block.append(el('p', { class: 'predicted' }, `${primary.name}: `,
          el('strong', { class: 'class-name', text: row.map(fmt).join(', ') })));
      }
      box.append(block);
    });
    // Diagnostic tensors a strict v2 client asked for by name.
    const extra = outputs.filter((o) => o !== primary);
    if (extra.length) {
      box.append(el('dl', { class: 'facts' }, ...extra.flatMap((o) => [el('dt', { text: o.name }),
        el('dd', { text: (o.data || []).flat(Infinity).map(fmt).join(', ') })])));
    }
  }

  function badge(text, kind, title) {
    return el('span', { class: 'badge ' + (kind || ''), title }, text);
  }

  function renderSummary(d, params) {
    const box = $('summary');
    box.replaceChildren();
    const dead = d && d.dead_fraction !== undefined ? d.dead_fraction : params.dead_fraction;
    const loss = d && d.loss !== undefined ? d.loss : params.loss;
    if (dead === undefined && !d) {
      box.append(badge('diagnostics off', 'muted-badge'));
      return;
    }
    if (dead !== undefined) {
      box.append(badge(`dead units ${pct(dead)}`, dead >= 0.5 ? 'bad' : dead > 0 ? 'warn' : 'good',
        'Units whose pre-activation is ≤ 0 for every row of this request, over all ReLU hidden layers'));
    }
    if (d && d.collapsed) box.append(badge('collapsed: a hidden layer is entirely dead', 'bad'));
    if (d && d.gradient_target) {
      const names = { max_logit: 'max logit', cross_entropy: 'cross-entropy loss', mse: 'MSE loss' };
      box.append(badge(`g = ${names[d.gradient_target] || d.gradient_target.replace(/_/g, ' ')}`, 'muted-badge',
        'The scalar whose gradients the norms below measure'));
    }
    if (loss !== undefined && loss !== null) box.append(badge(`loss ${fmt(loss)}`, ''));
    if (d && d.gradient_ratio !== undefined) {
      box.append(badge(`gradient ratio ${fmt(d.gradient_ratio)}`, d.vanishing || d.exploding ? 'bad' : '',
        '‖∂g/∂W‖ of the first layer over that of the last layer'));
    }
    if (d && d.vanishing) box.append(badge('vanishing gradients', 'bad'));
    if (d && d.exploding) box.append(badge('exploding gradients', 'bad'));
    if (d && d.rows !== undefined) box.append(badge(`${d.rows} row${d.rows === 1 ? '' : 's'}`, 'muted-badge'));
  }

  const isRelu = (l) => RELU_FAMILY.includes(l.activation) || l.dead_fraction !== undefined;

  function renderLayers(d) {
    const wrap = $('layers-wrap');
    const layers = d && Array.isArray(d.layers) ? d.layers : [];
    wrap.hidden = !layers.length;
    if (!layers.length) return;
    const hasSat = layers.some((l) => l.saturated_fraction !== undefined);
    const hasGrad = layers.some((l) => l.weight_grad_norm !== undefined);
    const cols = [
      ['#', 'Layer index'], ['activation', ''], ['units', '', 'num'],
      ['dead', 'Fraction of units with Z ≤ 0 on every row', 'num'],
      ['sparsity', 'Fraction of activations exactly 0', 'num'],
      ['mean act.', 'Mean activation', 'num'],
    ];
    if (hasSat) cols.push(['saturated', 'Fraction of entries with |f′(z)| < 0.01', 'num']);
    if (hasGrad) {
      cols.push(['‖∂W‖', 'Frobenius norm of ∂g/∂W', 'num'], ['‖∂b‖', 'L2 norm of ∂g/∂b', 'num'],
        ['‖∂A‖', 'Frobenius norm of ∂g/∂A', 'num']);
    }
    $('layers').tHead.replaceChildren(el('tr', {}, cols.map(([c, t, k]) => el('th', { scope: 'col', class: k, title: t || null, text: c }))));

    const last = layers.length - 1;
    const body = layers.map((l, i) => {
      const cls = [];
      if (l.dead_fraction === 1) cls.push('row-dead');
      else if (l.dead_fraction >= 0.5) cls.push('row-warn');
      const frac = (v, kind) => el('td', { class: 'num' }, v === undefined ? '—'
        : el('span', { class: 'cellbar ' + kind }, el('span', { style: `width:${(v * 100).toFixed(1)}%` }), el('b', { text: pct(v) })));
      const tds = [
        el('th', { scope: 'row', text: String(l.index !== undefined ? l.index : i) }),
        el('td', { text: (l.activation || '—') + (i === last ? ' (output)' : '') }),
        el('td', { class: 'num', text: fmt(l.units) }),
        frac(l.dead_fraction, 'dead'),
        frac(l.sparsity, 'sparse'),
        el('td', { class: 'num', text: fmt(l.mean_activation) }),
      ];
      if (l.dead_units && l.dead_units.length) tds[3].title = 'dead units: ' + l.dead_units.join(', ');
      if (hasSat) tds.push(frac(l.saturated_fraction, 'sat'));
      if (hasGrad) {
        // The ratio that flags vanishing/exploding compares the first and the
        // last layer, so those are the two cells highlighted.
        const flag = (i === 0 || i === last) && (d.vanishing || d.exploding);
        const w = el('td', { class: 'num' + (flag ? ' flag' : '') + (l.weight_grad_norm === 0 ? ' zero' : '') },
          fmt(l.weight_grad_norm), flag ? el('span', { class: 'sr-only', text: d.vanishing ? ' (vanishing)' : ' (exploding)' }) : null);
        if (flag) w.title = d.vanishing ? 'vanishing: first/last ratio below threshold' : 'exploding: first/last ratio above threshold';
        tds.push(w, el('td', { class: 'num', text: fmt(l.bias_grad_norm) }), el('td', { class: 'num', text: fmt(l.activation_grad_norm) }));
      }
      return el('tr', { class: cls.join(' ') || null }, tds);
    });
    $('layers').tBodies[0].replaceChildren(...body);
    renderCharts(layers, hasGrad);
  }

  /* Grouped bars per layer: dead fraction and sparsity on a 0–1 scale, and
   * the weight-gradient norm on a log scale beside them. */
  function renderCharts(layers, hasGrad) {
    const fig = $('charts');
    fig.replaceChildren();
    const W = 100, H = 60, gap = 8;
    const groupW = Math.max(28, Math.min(70, 560 / layers.length));
    const width = layers.length * (groupW + gap) + 40;
    const frac = svg('svg', { viewBox: `0 0 ${width} ${H + 34}`, role: 'img', class: 'chart',
      'aria-label': 'Bar chart of dead fraction and sparsity per layer' });
    frac.append(svg('title', {}, 'Dead fraction and sparsity per layer'));
    for (const y of [0, 0.5, 1]) {
      const py = 8 + H * (1 - y);
      frac.append(svg('line', { x1: 30, x2: width, y1: py, y2: py, class: 'grid' }),
        svg('text', { x: 26, y: py + 3, class: 'tick', 'text-anchor': 'end' }, `${y * 100}%`));
    }
    layers.forEach((l, i) => {
      const x0 = 36 + i * (groupW + gap);
      const bw = (groupW - 4) / 2;
      const bars = [['dead', l.dead_fraction], ['sparse', l.sparsity]];
      bars.forEach(([k, v], j) => {
        if (v === undefined) return;
        const h = Math.max(v * H, v > 0 ? 1 : 0);
        frac.append(svg('rect', { x: x0 + j * (bw + 4), y: 8 + H - h, width: bw, height: h, class: 'b-' + k },
          svg('title', {}, `layer ${i} ${k === 'dead' ? 'dead fraction' : 'sparsity'} ${pct(v)}`)));
      });
      frac.append(svg('text', { x: x0 + groupW / 2, y: H + 22, class: 'tick', 'text-anchor': 'middle' }, `L${l.index !== undefined ? l.index : i}`));
    });
    const charts = [el('div', { class: 'chart-box' },
      el('div', { class: 'legend' }, el('span', { class: 'key dead' }), 'dead fraction', el('span', { class: 'key sparse' }), 'sparsity'), frac)];

    if (hasGrad) {
      const norms = layers.map((l) => l.weight_grad_norm).filter((v) => typeof v === 'number' && v > 0 && isFinite(v));
      if (norms.length) {
        // Baseline a little below the smallest norm, so every bar shows.
        const lo = Math.floor(Math.log10(Math.min(...norms)) - 0.3);
        const hi = Math.max(Math.ceil(Math.log10(Math.max(...norms))), lo + 1);
        const g = svg('svg', { viewBox: `0 0 ${width} ${H + 34}`, role: 'img', class: 'chart',
          'aria-label': 'Bar chart of weight gradient norm per layer, log scale' });
        g.append(svg('title', {}, 'Weight gradient norm per layer (log scale)'));
        const decades = [];
        for (let e = lo; e <= hi; e += Math.max(1, Math.ceil((hi - lo) / 4))) decades.push(e);
        if (decades[decades.length - 1] !== hi) decades.push(hi);
        for (const e of decades) {
          const py = 8 + H * (1 - (e - lo) / (hi - lo));
          g.append(svg('line', { x1: 30, x2: width, y1: py, y2: py, class: 'grid' }),
            svg('text', { x: 26, y: py + 3, class: 'tick', 'text-anchor': 'end' }, `1e${e}`));
        }
        layers.forEach((l, i) => {
          const x0 = 36 + i * (groupW + gap);
          const v = l.weight_grad_norm;
          if (typeof v === 'number' && v > 0 && isFinite(v)) {
            const h = Math.max(H * (Math.log10(v) - lo) / (hi - lo), 1);
            g.append(svg('rect', { x: x0 + groupW * 0.2, y: 8 + H - h, width: groupW * 0.6, height: h, class: 'b-grad' },
              svg('title', {}, `layer ${i} ‖∂W‖ ${fmt(v)}`)));
          }
          g.append(svg('text', { x: x0 + groupW / 2, y: H + 22, class: 'tick', 'text-anchor': 'middle' }, `L${l.index !== undefined ? l.index : i}`));
        });
        charts.push(el('div', { class: 'chart-box' },
          el('div', { class: 'legend' }, el('span', { class: 'key grad' }), '‖∂g/∂W‖ (log scale)'), g));
      }
    }
    fig.append(...charts, el('figcaption', { class: 'sr-only', text: 'Per-layer charts' }));
  }

  function renderInputGradient(d, outputs, info) {
    const wrap = $('grad-wrap');
    let g = d ? d.input_gradient : undefined;
    if (g === undefined) {
      const t = outputs.find((o) => o.name === 'input_gradient');
      if (t) g = t;
    }
    if (g === undefined || g === null) { wrap.hidden = true; return; }
    const rows = Array.isArray(g) ? (Array.isArray(g[0]) ? g : [g]) : tensorRows(g);
    const flatRows = rows.map((r) => (Array.isArray(r) ? r.flat(Infinity) : [r]));
    const maxAbs = Math.max(1e-30, ...flatRows.flat().map((v) => Math.abs(v)));
    const width = flatRows[0] ? flatRows[0].length : 0;
    const names = info.features || Array.from({ length: width }, (_, i) => `x${i}`);
    const table = el('table', { class: 'grad' },
      el('caption', { class: 'sr-only', text: 'Gradient of g with respect to each input value' }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'feature' }),
        flatRows.map((_, r) => el('th', { scope: 'col', class: 'num', text: flatRows.length > 1 ? `row ${r + 1}` : '∂g/∂x' })))),
      el('tbody', {}, names.map((n, j) => el('tr', {}, el('th', { scope: 'row', text: n }),
        flatRows.map((row) => {
          const v = row[j];
          const w = (Math.abs(v) / maxAbs) * 50;
          return el('td', { class: 'num' }, el('span', { class: 'signed' },
            el('span', { class: v < 0 ? 'neg' : 'pos', style: v < 0 ? `right:50%;width:${w}%` : `left:50%;width:${w}%` })),
          el('b', { text: fmt(v) }));
        })))));
    $('input-grad').replaceChildren(table);
    wrap.hidden = false;
  }

  /* ------------------------------------------------------------ monitor */

  /* GET /v2/models/{m}/diagnostics: per layer, the units that stayed silent
   * (Z <= 0) on every row served in the live window. Scalar fields of the
   * report become facts; per-layer scalars a later server adds become
   * columns of their own. */
  async function refreshMonitor() {
    const m = current();
    const body = $('monitor-body');
    if (!m) return;
    let rep;
    if (state.monitorBusy) return;
    state.monitorBusy = true;
    try {
      rep = await api('GET', '/v2/models/' + encodeURIComponent(m.name) + '/diagnostics');
    } catch (e) {
      // Polling stops until a refresh succeeds again (a model change, the
      // button): a 401 or a stopped server would otherwise repeat forever.
      state.monitorOk = false;
      body.replaceChildren(el('p', { class: 'error-inline', text: `Monitor unavailable: ${e.message}` }));
      return;
    } finally {
      state.monitorBusy = false;
    }
    state.monitorOk = true;
    window.reluserveMonitor.add(m.name, rep, Date.now());
    window.reluserveMonitor.draw($('monitor-chart'), m.name);
    const FACT_NAMES = { window_seconds: 'window', rows: 'rows seen', never_active_fraction: 'never active (all layers)' };
    const facts = [];
    for (const [k, v] of Object.entries(rep)) {
      if (k === 'model_name' || (v !== null && typeof v === 'object')) continue;
      let text = fmt(v);
      if (k === 'window_seconds') text = `${v} s`;
      else if (/fraction/.test(k)) text = pct(v);
      facts.push([FACT_NAMES[k] || k.replace(/_/g, ' '), text]);
    }
    const parts = [];
    if (facts.length) parts.push(el('dl', { class: 'facts inline' }, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])));
    const layers = Array.isArray(rep.layers) ? rep.layers : [];
    if (layers.length) {
      const known = ['index', 'activation', 'units', 'relu_family', 'never_active_fraction', 'never_active', 'never_active_units'];
      const extra = [];
      for (const l of layers) {
        for (const [k, v] of Object.entries(l)) {
          if (!known.includes(k) && (v === null || typeof v !== 'object') && !extra.includes(k)) extra.push(k);
        }
      }
      const head = el('tr', {}, el('th', { scope: 'col', text: '#' }), el('th', { scope: 'col', text: 'activation' }),
        el('th', { scope: 'col', class: 'num', text: 'units' }), el('th', { scope: 'col', class: 'num', text: 'never active' }),
        el('th', { scope: 'col', text: 'silent units' }), extra.map((k) => el('th', { scope: 'col', text: k.replace(/_/g, ' ') })));
      const rows = layers.map((l, i) => {
        const relu = l.relu_family !== undefined ? l.relu_family : RELU_FAMILY.includes(l.activation);
        const f = l.never_active_fraction;
        const ids = Array.isArray(l.never_active_units) ? l.never_active_units : [];
        return el('tr', { class: relu && f === 1 ? 'row-dead' : (relu && f >= 0.5 ? 'row-warn' : null) },
          el('th', { scope: 'row', text: String(l.index !== undefined ? l.index : i) }),
          el('td', { text: l.activation || '—' }),
          el('td', { class: 'num', text: fmt(l.units) }),
          el('td', { class: 'num' }, relu && typeof f === 'number'
            ? el('span', { class: 'cellbar dead' }, el('span', { style: `width:${(f * 100).toFixed(1)}%` }), el('b', { text: pct(f) }))
            : '—'),
          el('td', { class: 'ids', title: ids.join(', ') || null },
            !relu ? '—' : ids.length ? ids.slice(0, 12).join(', ') + (ids.length > 12 ? ` … (+${ids.length - 12})` : '') : 'none'),
          extra.map((k) => el('td', { class: typeof l[k] === 'number' ? 'num' : '', text: fmt(l[k]) })));
      });
      parts.push(el('div', { class: 'scroll' }, el('table', { id: 'monitor-table', class: 'compact' },
        el('caption', { class: 'sr-only', text: 'Units never active over the live window, per layer' }),
        el('thead', {}, head), el('tbody', {}, rows))));
    }
    if (!parts.length) parts.push(el('pre', { text: JSON.stringify(rep, null, 2) }));
    body.classList.remove('muted');
    body.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------ wiring */

  document.addEventListener('DOMContentLoaded', () => {
    $('apikey').value = state.key;
    $('auth-form').addEventListener('submit', (e) => {
      e.preventDefault();
      state.key = $('apikey').value.trim();
      if (state.key) sessionStorage.setItem('reluserve.apikey', state.key);
      else sessionStorage.removeItem('reluserve.apikey');
      $('auth').open = false;
      clearError();
      loadServer();
      loadModels();
    });
    $('model').addEventListener('change', selectModel);
    $('infer-form').addEventListener('submit', runInference);
    $('input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) runInference(e);
    });
    $('monitor-refresh').addEventListener('click', refreshMonitor);
    let timer = null;
    const schedule = () => {
      clearInterval(timer);
      const every = Number($('monitor-every').value);
      if (every > 0) timer = setInterval(() => { if (state.monitorOk && !document.hidden) refreshMonitor(); }, every);
    };
    $('monitor-every').addEventListener('change', schedule);
    schedule();
    loadServer();
    loadModels();
  });
})();
