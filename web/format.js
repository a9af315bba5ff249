/*
 * reluserve playground: numbers the way a person reads them, the same in
 * every view (the page, the unit view, the digits pad): 4 significant
 * digits, exponent notation only where fixed notation would be long.
 */
'use strict';

(function () {
  function number(x) {
    if (x === null || x === undefined) return '—';
    if (typeof x === 'boolean') return x ? 'yes' : 'no';
    if (typeof x !== 'number') return String(x);
    if (!isFinite(x)) return x > 0 ? '∞' : (x < 0 ? '−∞' : 'NaN');
    if (x === 0) return '0';
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
    return x.toExponential(2);
  }

  window.reluserveFormat = { number };
})();
