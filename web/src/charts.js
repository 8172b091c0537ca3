/*
 * coreclean charts: the four progress charts of a cleaning session and a
 * key-figures block, drawn from the report data object (the same object the
 * HTML report embeds and the review page gets from GET /api/report).
 *
 * Plain browser script (no modules); needs the global `uPlot`.
 * Defines window.CorecleanCharts:
 *   render(element, data, options?)  -> handle {plots, resize(), destroy()}
 *     options.headingLevel: 2..6, level of the chart headings (default 3)
 *     options.printWidth:   chart width in CSS px when printing (default 300)
 *   renderSummary(element, data)     -> the <dl> it appended
 *   destroy(element)                 -> removes the charts rendered into element
 *
 * Colours come from CSS custom properties (see report.css, `--cc-*`), read at
 * render time, so a host page can theme the charts without touching this file.
 */
(function (global) {
  'use strict';

  var FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';

  // Elements rendered into -> {plots, observer, listeners}; lets a second
  // render() on the same element clean up the first one.
  var rendered = typeof WeakMap === 'function' ? new WeakMap() : null;

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function isNum(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function num(v) {
    return isNum(v) ? v : null;
  }

  var intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function fmtInt(v) {
    return isNum(v) ? intFmt.format(v) : '\u2014';
  }

  function fmtFixed(v, digits) {
    return isNum(v) ? v.toFixed(digits) : '\u2014';
  }

  function fmtPct(v, digits) {
    if (!isNum(v)) return '\u2014';
    return (v * 100).toFixed(digits === undefined ? 1 : digits) + '\u00a0%';
  }

  // Signed number with a real minus sign.
  function fmtSigned(v, digits) {
    if (!isNum(v)) return '\u2014';
    var s = Math.abs(v).toFixed(digits);
    if (Number(s) === 0) return '\u00b1' + s;
    return (v < 0 ? '\u2212' : '+') + s;
  }

  // Counts may be fractional for baselines (expected values): one decimal then.
  function fmtCount(v) {
    if (!isNum(v)) return '\u2014';
    return Number.isInteger(v) ? intFmt.format(v) : v.toFixed(1);
  }

  function cssVar(node, name, fallback) {
    var v = '';
    try {
      v = getComputedStyle(node).getPropertyValue(name).trim();
    } catch (e) {
      v = '';
    }
    return v || fallback;
  }

  function theme(node) {
    return {
      text: cssVar(node, '--cc-chart-text', '#3d4450'),
      grid: cssVar(node, '--cc-chart-grid', '#e3e6ea'),
      axis: cssVar(node, '--cc-chart-axis', '#b8bec7'),
      primary: cssVar(node, '--cc-chart-primary', '#1f5fbf'),
      primaryFill: cssVar(node, '--cc-chart-primary-fill', 'rgba(31, 95, 191, 0.14)'),
      bar: cssVar(node, '--cc-chart-bar', '#2a7d5f'),
      first: cssVar(node, '--cc-chart-first', '#8a929c'),
      firstFill: cssVar(node, '--cc-chart-first-fill', 'rgba(138, 146, 156, 0.22)'),
      baselines: [
        cssVar(node, '--cc-chart-baseline-1', '#c4581b'),
        cssVar(node, '--cc-chart-baseline-2', '#7a4fb3'),
        cssVar(node, '--cc-chart-baseline-3', '#6b7280'),
        cssVar(node, '--cc-chart-baseline-4', '#a3367a')
      ]
    };
  }

  function iterationsOf(data) {
    var list = data && Array.isArray(data.iterations) ? data.iterations.slice() : [];
    list = list.filter(function (it) { return it && isNum(it.iteration); });
    list.sort(function (a, b) { return a.iteration - b.iteration; });
    return list;
  }

  function heightFor(width) {
    return Math.max(190, Math.min(260, Math.round(width * 0.52)));
  }

  // Smallest "nice" number (1, 2, 2.5, 5 times a power of ten) >= v.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * p >= v - 1e-12) return steps[i] * p;
    }
    return 10 * p;
  }

  // Range of an iteration axis, padded so end points and bars are not cut.
  function iterationRange(xs, pad, empty) {
    if (!xs.length) return empty || [0, 1];
    var lo = xs[0];
    var hi = xs[xs.length - 1];
    if (hi - lo < 1) hi = lo + 1;
    return [lo - pad, hi + pad];
  }

  // y axis width that fits its longest tick label.
  function axisSize(u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1 && axis._size) return axis._size;
    var size = (axis.ticks && axis.ticks.show === false ? 0 : (axis.ticks.size || 0)) + (axis.gap || 0);
    var longest = (values || []).reduce(function (acc, v) {
      v = v == null ? '' : String(v);
      return v.length > acc.length ? v : acc;
    }, '');
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / (uPlot.pxRatio || 1);
    }
    return Math.ceil(size) + 2;
  }

  function baseAxis(t, label, extra) {
    var a = {
      label: label,
      stroke: t.text,
      font: '12px ' + FONT_FAMILY,
      labelFont: '600 12px ' + FONT_FAMILY,
      labelSize: 22,
      labelGap: 2,
      gap: 4,
      grid: { stroke: t.grid, width: 1 },
      ticks: { stroke: t.axis, width: 1, size: 4 },
      border: { show: true, stroke: t.axis, width: 1 }
    };
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  var INT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];

  function iterationAxis(t) {
    return baseAxis(t, 'Iteration', {
      size: 26,
      incrs: INT_INCRS,
      space: 28,
      values: function (u, splits) {
        return splits.map(function (v) { return Number.isInteger(v) ? String(v) : ''; });
      }
    });
  }

  // Hover read-out: a small box next to the cursor listing x and the series
  // values at the hovered index. rows(u, idx) -> [[label, value, colour], ...].
  function tooltipPlugin(title, rows) {
    var tip = null;
    return {
      hooks: {
        init: function (u) {
          tip = el('div', 'cc-tooltip');
          tip.setAttribute('aria-hidden', 'true');
          tip.style.display = 'none';
          u.over.appendChild(tip);
        },
        setCursor: function (u) {
          var idx = u.cursor.idx;
          if (idx == null || u.cursor.left == null || u.cursor.left < 0) {
            tip.style.display = 'none';
            return;
          }
          var lines = rows(u, idx);
          if (!lines || !lines.length) {
            tip.style.display = 'none';
            return;
          }
          tip.textContent = '';
          tip.appendChild(el('div', 'cc-tooltip-title', title(u, idx)));
          lines.forEach(function (r) {
            var line = el('div', 'cc-tooltip-row');
            var sw = el('span', 'cc-tooltip-swatch');
            sw.style.background = r[2];
            line.appendChild(sw);
            line.appendChild(el('span', 'cc-tooltip-label', r[0]));
            line.appendChild(el('span', 'cc-tooltip-value', r[1]));
            tip.appendChild(line);
          });
          tip.style.display = 'block';
          var w = tip.offsetWidth;
          var h = tip.offsetHeight;
          var ow = u.over.clientWidth;
          var oh = u.over.clientHeight;
          var left = u.cursor.left + 12;
          if (left + w > ow) left = u.cursor.left - 12 - w;
          if (left < 0) left = Math.max(0, Math.min(ow - w, u.cursor.left - w / 2));
          var top = Math.max(0, Math.min(oh - h, u.cursor.top - h - 8));
          tip.style.transform = 'translate(' + Math.round(left) + 'px,' + Math.round(top) + 'px)';
        }
      }
    };
  }

  // Centered message over the plotting area (e.g. "No iterations yet").
  function messagePlugin(text) {
    return {
      hooks: {
        init: function (u) {
          if (!text) return;
          u.over.appendChild(el('div', 'cc-chart-message', text));
        }
      }
    };
  }

  var CURSOR = {
    drag: { x: false, y: false, setScale: false },
    points: { size: 8, width: 2 },
    focus: { prox: -1 }
  };

  // -------------------------------------------------------- chart builders
  // Each returns {title, desc, aria, make(width) -> uPlot options, data}.

  // uPlot series of a chart comparing coreclean (`main`) with baselines: the x series, then
  // `main`, then one dashed line per baseline (names[1..], colors[1..]).
  function comparedSeries(main, names, colors) {
    var series = [{}, main];
    for (var i = 1; i < names.length; i++) {
      series.push({ label: names[i], stroke: colors[i], width: 2, dash: [6, 4], points: { show: false } });
    }
    return series;
  }

  function aucChart(data, t) {
    var its = iterationsOf(data).filter(function (it) { return isNum(it.auc); });
    var xs = its.map(function (it) { return it.iteration; });
    var ys = its.map(function (it) { return it.auc; });
    // Baselines with an AUC series (one value per iteration, aligned by iteration number).
    var all = iterationsOf(data);
    var baselines = (data && Array.isArray(data.baselines) ? data.baselines : []).filter(function (b) {
      return b && Array.isArray(b.auc) && b.auc.length;
    });
    var bseries = baselines.map(function (b) {
      return xs.map(function (x) {
        var pos = -1;
        for (var k = 0; k < all.length; k++) if (all[k].iteration === x) { pos = k; break; }
        return pos >= 0 && pos < b.auc.length && isNum(b.auc[pos]) ? b.auc[pos] : null;
      });
    });
    var names = ['coreclean'].concat(baselines.map(function (b, i) { return String(b.name || ('baseline ' + (i + 1))); }));
    var colors = [t.primary].concat(baselines.map(function (b, i) { return t.baselines[i % t.baselines.length]; }));
    var values = ys.concat.apply(ys, bseries).filter(isNum);
    var lo = Math.min.apply(null, values.length ? values : [0.5]);
    var hi = Math.max.apply(null, values.length ? values : [1]);
    var span = Math.max(hi - lo, 0.01);
    var yr = [Math.max(0, lo - span * 0.25), Math.min(1, hi + span * 0.25)];
    if (yr[1] - yr[0] < 1e-6) yr = [Math.max(0, yr[0] - 0.01), yr[1] + 0.01];
    var aria;
    if (!ys.length) aria = 'AUC per iteration: no iterations yet.';
    else if (ys.length === 1) aria = 'AUC per iteration: ' + fmtFixed(ys[0], 4) + ' at iteration ' + xs[0] + '.';
    else aria = 'AUC per iteration: from ' + fmtFixed(ys[0], 4) + ' at iteration ' + xs[0] + ' to ' +
      fmtFixed(ys[ys.length - 1], 4) + ' at iteration ' + xs[xs.length - 1] +
      baselines.map(function (b, i) {
        var v = bseries[i][bseries[i].length - 1];
        return '; ' + names[i + 1] + ' ' + (isNum(v) ? fmtFixed(v, 4) : 'n/a');
      }).join('') + '.';
    var series = comparedSeries({
      label: names[0],
      stroke: t.primary,
      width: 2.5,
      fill: baselines.length ? undefined : t.primaryFill,
      fillTo: function (u) { return u.scales.y.min; },
      points: { show: true, size: 7, width: 2, fill: '#ffffff', stroke: t.primary }
    }, names, colors);
    return {
      key: 'auc',
      title: 'AUC per iteration',
      // The legend names coreclean and each baseline: the caption does not repeat them.
      desc: baselines.length
        ? 'How well the model separates the classes after each review round, compared with the ' +
          (baselines.length === 1 ? 'baseline' : 'baselines') + ' in the legend.'
        : 'How well the model separates the classes after each review round.',
      aria: aria,
      data: [xs, ys].concat(bseries),
      make: function () {
        return {
          legend: { show: baselines.length > 0, live: false },
          cursor: CURSOR,
          scales: {
            x: { time: false, auto: false, range: iterationRange(xs, 0.3) },
            y: { auto: false, range: yr }
          },
          axes: [
            iterationAxis(t),
            baseAxis(t, 'AUC', {
              size: axisSize,
              values: function (u, splits, ai, space, incr) {
                var d = incr >= 0.01 ? 2 : 3;
                return splits.map(function (v) { return v.toFixed(d); });
              }
            })
          ],
          series: series,
          plugins: [
            tooltipPlugin(
              function (u, i) { return 'Iteration ' + u.data[0][i]; },
              function (u, i) {
                return names.map(function (n, si) {
                  var v = u.data[si + 1][i];
                  return [n, isNum(v) ? fmtFixed(v, 4) : '\u2014', colors[si]];
                });
              }
            ),
            messagePlugin(xs.length ? null : 'No iterations yet')
          ]
        };
      }
    };
  }

  function fixedShareChart(data, t) {
    var its = iterationsOf(data).filter(function (it) { return it.iteration >= 1; });
    var xs = its.map(function (it) { return it.iteration; });
    var ys = its.map(function (it) { return num(it.fixed_share); });
    var vals = ys.filter(isNum);
    var top = Math.min(1, niceCeil(Math.max(0.1, vals.length ? Math.max.apply(null, vals) * 1.18 : 0.5)));
    var mean = null;
    var rev = 0;
    var fixed = 0;
    its.forEach(function (it) {
      if (isNum(it.reviewed)) rev += it.reviewed;
      if (isNum(it.fixed)) fixed += it.fixed;
    });
    if (rev > 0) mean = fixed / rev;
    var aria = xs.length
      ? 'Share of reviewed boxes that were fixed, per iteration: ' +
        its.map(function (it, i) { return 'iteration ' + it.iteration + ' ' + fmtPct(ys[i]); }).join(', ') + '.'
      : 'Share of reviewed boxes that were fixed: no reviewed iterations yet.';
    return {
      key: 'fixed-share',
      title: 'Share of reviewed boxes fixed',
      desc: mean === null
        ? 'Relabelled or deleted boxes as a share of the boxes reviewed in each iteration.'
        : 'Relabelled or deleted boxes as a share of the boxes reviewed in each iteration (overall ' + fmtPct(mean) + ').',
      aria: aria,
      data: [xs, ys],
      make: function () {
        return {
          legend: { show: false },
          cursor: { drag: CURSOR.drag, focus: CURSOR.focus, points: { show: false } },
          scales: {
            x: { time: false, auto: false, range: iterationRange(xs, 0.6, [0.4, 1.6]) },
            y: { auto: false, range: [0, top] }
          },
          axes: [
            iterationAxis(t),
            baseAxis(t, 'Share fixed', {
              size: axisSize,
              values: function (u, splits, ai, space, incr) {
                var d = incr * 100 < 1 ? 1 : 0;
                return splits.map(function (v) { return (v * 100).toFixed(d) + '%'; });
              }
            })
          ],
          series: [
            {},
            {
              label: 'Share fixed',
              stroke: t.bar,
              fill: t.bar,
              width: 0,
              paths: uPlot.paths.bars({ size: [0.62, 56], align: 0, radius: 0.12 }),
              points: { show: false }
            }
          ],
          hooks: {
            // Value labels above the bars when they are wide enough to read.
            draw: [function (u) {
              var xsd = u.data[0];
              var ysd = u.data[1];
              if (xsd.length === 0) return;
              var step = xsd.length > 1
                ? Math.abs(u.valToPos(xsd[1], 'x', true) - u.valToPos(xsd[0], 'x', true))
                : u.bbox.width / 2;
              var pr = uPlot.pxRatio || 1;
              if (step < 34 * pr) return;
              var ctx = u.ctx;
              ctx.save();
              ctx.font = Math.round(11 * pr) + 'px ' + FONT_FAMILY;
              ctx.fillStyle = t.text;
              ctx.textAlign = 'center';
              ctx.textBaseline = 'bottom';
              for (var i = 0; i < xsd.length; i++) {
                if (!isNum(ysd[i])) continue;
                ctx.fillText(Math.round(ysd[i] * 100) + '%',
                  u.valToPos(xsd[i], 'x', true), u.valToPos(ysd[i], 'y', true) - 3 * pr);
              }
              ctx.restore();
            }]
          },
          plugins: [
            tooltipPlugin(
              function (u, i) { return 'Iteration ' + u.data[0][i]; },
              function (u, i) {
                var it = its[i];
                return [
                  ['Share fixed', fmtPct(u.data[1][i]), t.bar],
                  ['Fixed / reviewed', fmtInt(it.fixed) + ' / ' + fmtInt(it.reviewed), 'transparent']
                ];
              }
            ),
            messagePlugin(xs.length ? null : 'No reviewed iterations yet')
          ]
        };
      }
    };
  }

  function foundChart(data, t) {
    var its = iterationsOf(data);
    var xs = its.map(function (it) { return it.iteration; });
    var mine = its.map(function (it) { return num(it.cumulative_fixed); });
    var baselines = (data && Array.isArray(data.baselines) ? data.baselines : []).filter(function (b) {
      return b && Array.isArray(b.cumulative_found);
    });
    // Baselines hold one value per iteration, aligned by position.
    var bseries = baselines.map(function (b) {
      return xs.map(function (x, i) { return i < b.cumulative_found.length ? num(b.cumulative_found[i]) : null; });
    });
    var all = mine.concat.apply(mine, bseries).filter(isNum);
    var top = niceCeil(Math.max(1, all.length ? Math.max.apply(null, all) * 1.08 : 1));
    var reviewedAny = its.some(function (it) { return it.iteration >= 1; });
    var names = ['coreclean'].concat(baselines.map(function (b, i) { return String(b.name || ('baseline ' + (i + 1))); }));
    var colors = [t.primary].concat(baselines.map(function (b, i) { return t.baselines[i % t.baselines.length]; }));
    var last = xs.length - 1;
    var aria = !xs.length
      ? 'Cumulative errors found: no iterations yet.'
      : 'Cumulative errors found by iteration ' + xs[last] + ': ' +
        names.map(function (n, si) { return n + ' ' + fmtCount(si === 0 ? mine[last] : bseries[si - 1][last]); }).join(', ') + '.';
    var series = comparedSeries({
      label: names[0],
      stroke: colors[0],
      width: 2.5,
      points: { show: true, size: 6, width: 2, fill: '#ffffff', stroke: colors[0] }
    }, names, colors);
    return {
      key: 'found',
      title: 'Errors found (cumulative)',
      desc: baselines.length
        ? 'Boxes relabelled or deleted so far, compared with the ' +
          (baselines.length === 1 ? 'baseline' : 'baselines') + ' in the legend (same number of boxes reviewed).'
        : 'Boxes relabelled or deleted so far.',
      aria: aria,
      data: [xs, mine].concat(bseries),
      make: function () {
        return {
          legend: { show: baselines.length > 0, live: false },
          cursor: CURSOR,
          scales: {
            x: { time: false, auto: false, range: iterationRange(xs, 0.3) },
            y: { auto: false, range: [0, top] }
          },
          axes: [
            iterationAxis(t),
            baseAxis(t, 'Errors found', { size: axisSize })
          ],
          series: series,
          plugins: [
            tooltipPlugin(
              function (u, i) { return 'Iteration ' + u.data[0][i]; },
              function (u, i) {
                return names.map(function (n, si) {
                  return [n, fmtCount(u.data[si + 1][i]), colors[si]];
                });
              }
            ),
            messagePlugin(!xs.length ? 'No iterations yet' : (reviewedAny ? null : 'No reviewed iterations yet'))
          ]
        };
      }
    };
  }

  function importanceChart(data, t) {
    var imp = (data && data.importance) || {};
    var edges = Array.isArray(imp.edges) ? imp.edges.filter(isNum) : [];
    var first = Array.isArray(imp.first) ? imp.first : [];
    var lastC = Array.isArray(imp.last) ? imp.last : [];
    var bins = Math.max(0, edges.length - 1);
    if (bins > 0) bins = Math.min(bins, Math.max(first.length, lastC.length));
    var its = iterationsOf(data);
    var lastIt = its.length ? its[its.length - 1].iteration : 0;
    var showLast = lastC.length > 0 && lastIt > 0;
    var showFirst = first.length > 0;

    function counts(arr) {
      var out = [];
      for (var i = 0; i < bins; i++) out.push(i < arr.length && isNum(arr[i]) ? arr[i] : 0);
      // Repeat the last count so the step line closes the last bin.
      if (bins > 0) out.push(out[bins - 1]);
      return out;
    }

    var xs = bins > 0 ? edges.slice(0, bins + 1) : [];
    var data0 = [xs];
    var series = [{}];
    var meta = [];
    var stepped = uPlot.paths.stepped({ align: 1 });
    if (bins > 0 && showFirst) {
      data0.push(counts(first));
      series.push({ label: 'Iteration 0', stroke: t.first, fill: t.firstFill, width: 1.5, paths: stepped, points: { show: false } });
      meta.push(['Iteration 0', t.first]);
    }
    if (bins > 0 && showLast) {
      data0.push(counts(lastC));
      series.push({ label: 'Iteration ' + lastIt, stroke: t.primary, fill: t.primaryFill, width: 2, paths: stepped, points: { show: false } });
      meta.push(['Iteration ' + lastIt, t.primary]);
    }
    if (series.length === 1) {
      // Nothing to draw: keep one empty series so the frame still renders.
      data0.push([]);
      series.push({ label: 'Count', stroke: t.primary, points: { show: false } });
    }
    var maxCount = 0;
    data0.slice(1).forEach(function (s) {
      s.forEach(function (v) { if (isNum(v) && v > maxCount) maxCount = v; });
    });
    var xr = bins > 0 ? [edges[0], edges[bins]] : [0, 1];
    if (xr[1] <= xr[0]) xr = [xr[0], xr[0] + 1];

    function binIndex(xv) {
      if (bins === 0 || !isNum(xv)) return null;
      if (xv < edges[0] || xv > edges[bins]) return null;
      var lo = 0;
      var hi = bins - 1;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (edges[mid] <= xv) lo = mid; else hi = mid - 1;
      }
      return lo;
    }

    var aria = bins === 0
      ? 'Importance histogram: no importance data yet.'
      : 'Histogram of importance scores of the class of interest over ' + bins + ' bins from ' +
        fmtFixed(edges[0], 2) + ' to ' + fmtFixed(edges[bins], 2) + ', ' + meta.map(function (m) { return m[0]; }).join(' and ') + '.';

    return {
      key: 'importance',
      title: 'Importance distribution',
      desc: showLast
        ? 'Importance of the class-of-interest boxes at iteration 0 and at iteration ' + lastIt + '.'
        : 'Importance of the class-of-interest boxes at iteration 0.',
      aria: aria,
      data: data0,
      make: function () {
        return {
          legend: { show: meta.length > 1, live: false },
          cursor: {
            drag: CURSOR.drag,
            focus: CURSOR.focus,
            points: { show: false },
            dataIdx: function (u, si, closest, xv) { return binIndex(xv); }
          },
          scales: {
            x: { time: false, auto: false, range: xr },
            y: { auto: false, range: [0, niceCeil(Math.max(1, maxCount * 1.1))] }
          },
          axes: [
            baseAxis(t, 'Importance', { space: 44, size: 26 }),
            baseAxis(t, 'Boxes', { size: axisSize })
          ],
          series: series,
          plugins: [
            tooltipPlugin(
              function (u, i) { return 'Importance ' + fmtFixed(edges[i], 2) + '\u2013' + fmtFixed(edges[i + 1], 2); },
              function (u, i) {
                if (i == null || i >= bins) return null;
                return meta.map(function (m, k) { return [m[0], fmtInt(u.data[k + 1][i]), m[1]]; });
              }
            ),
            messagePlugin(bins === 0 ? 'No importance data yet' : null)
          ]
        };
      }
    };
  }

  // ----------------------------------------------------------------- render

  function destroy(element) {
    if (!rendered || !element) return;
    var st = rendered.get(element);
    if (!st) return;
    st.plots.forEach(function (p) { p.plot.destroy(); });
    if (st.observer) st.observer.disconnect();
    st.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2]); });
    if (st.grid && st.grid.parentNode === element) element.removeChild(st.grid);
    rendered.delete(element);
  }

  function render(element, data, options) {
    if (!element) throw new Error('CorecleanCharts.render: no element');
    options = options || {};
    destroy(element);
    element.textContent = '';
    data = data || {};
    var level = Math.max(2, Math.min(6, options.headingLevel || 3));
    var t = theme(element);

    var grid = el('div', 'cc-charts');
    element.appendChild(grid);

    if (typeof uPlot !== 'function') {
      grid.appendChild(el('p', 'cc-chart-message-static', 'Charts are unavailable: the chart library did not load.'));
      return { plots: [], resize: function () {}, destroy: function () {} };
    }

    var specs = [aucChart(data, t), fixedShareChart(data, t), foundChart(data, t), importanceChart(data, t)];
    var plots = [];

    specs.forEach(function (spec) {
      var fig = el('figure', 'cc-chart');
      fig.id = 'cc-chart-' + spec.key;
      var head = el('figcaption', 'cc-chart-head');
      head.appendChild(el('h' + level, 'cc-chart-title', spec.title));
      head.appendChild(el('p', 'cc-chart-desc', spec.desc));
      fig.appendChild(head);
      var box = el('div', 'cc-chart-plot');
      box.setAttribute('role', 'img');
      box.setAttribute('aria-label', spec.aria);
      fig.appendChild(box);
      grid.appendChild(fig);

      // A hidden container (e.g. an inactive tab) has no width yet; draw at a
      // default size and let the resize observer fix it once it is shown.
      var width = box.clientWidth || 560;
      var opts = spec.make();
      opts.width = width;
      opts.height = heightFor(width);
      var plot = new uPlot(opts, spec.data, box);
      // The canvas is decorative next to the aria-label and the data table.
      var canv = plot.root.querySelectorAll('canvas');
      for (var i = 0; i < canv.length; i++) canv[i].setAttribute('aria-hidden', 'true');
      plots.push({ key: spec.key, box: box, plot: plot });
    });

    var pending = false;
    function resize() {
      pending = false;
      plots.forEach(function (p) {
        var w = p.box.clientWidth;
        if (w > 0 && Math.abs(w - p.plot.width) >= 1) {
          p.plot.setSize({ width: w, height: heightFor(w) });
        }
      });
    }
    function schedule() {
      if (pending) return;
      pending = true;
      (global.requestAnimationFrame || setTimeout)(resize);
    }

    var observer = null;
    var listeners = [];
    if (typeof ResizeObserver === 'function') {
      observer = new ResizeObserver(schedule);
      plots.forEach(function (p) { observer.observe(p.box); });
    } else {
      global.addEventListener('resize', schedule);
      listeners.push([global, 'resize', schedule]);
    }
    // Paper is narrower than most screens and print layout happens after
    // 'beforeprint': draw at a paper-friendly width first (report.css caps
    // canvases at 100 % of their column as a safety net), restore afterwards.
    var printWidth = options.printWidth || 300;
    function beforePrint() {
      plots.forEach(function (p) {
        var w = Math.min(printWidth, p.box.clientWidth || printWidth);
        p.plot.setSize({ width: w, height: heightFor(w) });
      });
    }
    global.addEventListener('beforeprint', beforePrint);
    global.addEventListener('afterprint', resize);
    listeners.push([global, 'beforeprint', beforePrint], [global, 'afterprint', resize]);

    if (rendered) rendered.set(element, { plots: plots, observer: observer, listeners: listeners, grid: grid });

    return {
      plots: plots.map(function (p) { return { key: p.key, uplot: p.plot }; }),
      resize: resize,
      destroy: function () { destroy(element); }
    };
  }

  // ---------------------------------------------------------- key figures

  function aucFigure(start, end, nIt) {
    var f = { key: 'auc', label: 'AUC', value: '\u2014', note: '' };
    if (start === null && end === null) return f;
    if (!nIt || start === null || end === null) {
      f.value = fmtFixed(start !== null ? start : end, 4);
      f.note = nIt ? '' : 'before any review';
      return f;
    }
    f.value = fmtFixed(start, 4) + ' \u2192 ' + fmtFixed(end, 4);
    f.note = fmtSigned(end - start, 4) + ' over ' + fmtInt(nIt) + (nIt === 1 ? ' iteration' : ' iterations');
    return f;
  }

  function summaryFigures(data) {
    var s = (data && data.summary) || {};
    var its = iterationsOf(data);
    var reviewed = num(s.reviewed);
    var rel = num(s.relabelled);
    var del = num(s.deleted);
    var fixed = rel === null && del === null ? null : (rel || 0) + (del || 0);
    var share = reviewed > 0 && fixed !== null ? fixed / reviewed : null;
    var nIt = isNum(s.iterations) ? s.iterations : (its.length ? its[its.length - 1].iteration : 0);
    var aucStart = num(s.auc_start);
    var aucEnd = num(s.auc_end);
    var coi = data && data.class_of_interest ? String(data.class_of_interest) : 'class of interest';

    var status;
    var statusNote = s.plateau_rule ? 'Rule: ' + String(s.plateau_rule) : '';
    var statusKind;
    if (!nIt) {
      status = 'Not started';
      statusKind = 'idle';
    } else if (s.plateaued === true) {
      status = 'Plateaued';
      statusKind = 'done';
    } else {
      status = 'Still improving';
      statusKind = 'active';
    }

    var figures = [
      { key: 'reviewed', label: 'Reviewed', value: fmtInt(reviewed),
        note: nIt ? 'boxes in ' + fmtInt(nIt) + (nIt === 1 ? ' iteration' : ' iterations') : 'no review yet' },
      { key: 'fixed', label: 'Fixed', value: fmtInt(fixed),
        note: fixed === null ? '' : fmtInt(rel || 0) + ' relabelled \u00b7 ' + fmtInt(del || 0) + ' deleted' },
      { key: 'share', label: 'Share fixed', value: fmtPct(share),
        note: reviewed > 0 ? 'of reviewed boxes' : 'nothing reviewed yet' },
      aucFigure(aucStart, aucEnd, nIt),
      { key: 'status', label: 'Status', value: status, note: statusNote, kind: statusKind },
      { key: 'dataset', label: 'Boxes in session', value: fmtInt(num(s.samples)),
        note: isNum(s.class_size) ? fmtInt(s.class_size) + ' labelled \u201c' + coi + '\u201d' : '' }
    ];
    var left = auditFigure(data && data.audit, coi);
    if (left) figures.push(left);
    return figures;
  }

  // The random audits' estimate of the wrong labels left among the unseen boxes of the class
  // (share fixed in the audits, with its 95 % Wilson interval, times the unseen boxes).
  function auditFigure(a, coi) {
    if (!a || typeof a !== 'object' || !(num(a.audited) > 0)) return null;
    var share = num(a.share);
    var range = isNum(a.wrong_unseen_low) && isNum(a.wrong_unseen_high)
      ? fmtInt(Math.round(a.wrong_unseen_low)) + '\u2013' + fmtInt(Math.round(a.wrong_unseen_high))
      : '';
    return {
      key: 'left',
      label: 'Errors left (estimate)',
      value: isNum(a.wrong_unseen) ? '\u2248\u00a0' + fmtInt(Math.round(a.wrong_unseen)) : '\u2014',
      note: (range ? range + ' (95\u00a0%) of ' : 'of ') + fmtInt(num(a.unseen)) + ' unseen \u201c' + coi +
        '\u201d boxes \u00b7 random audit: ' + fmtInt(num(a.fixed)) + ' of ' + fmtInt(a.audited) +
        ' fixed (' + fmtPct(share) + ', Wilson interval ' + fmtPct(num(a.low)) + '\u2013' + fmtPct(num(a.high)) + ')'
    };
  }

  function renderSummary(element, data) {
    if (!element) throw new Error('CorecleanCharts.renderSummary: no element');
    var dl = el('dl', 'cc-figures');
    summaryFigures(data).forEach(function (f) {
      var item = el('div', 'cc-figure cc-figure-' + f.key + (f.kind ? ' cc-status-' + f.kind : ''));
      item.appendChild(el('dt', 'cc-figure-label', f.label));
      var dd = el('dd', 'cc-figure-value');
      if (f.kind) {
        var dot = el('span', 'cc-status-dot');
        dot.setAttribute('aria-hidden', 'true');
        dd.appendChild(dot);
        dd.appendChild(document.createTextNode(f.value));
      } else {
        dd.textContent = f.value;
      }
      item.appendChild(dd);
      if (f.note) item.appendChild(el('dd', 'cc-figure-note', f.note));
      dl.appendChild(item);
    });
    element.appendChild(dl);
    return dl;
  }

  global.CorecleanCharts = {
    version: 1,
    render: render,
    renderSummary: renderSummary,
    destroy: destroy,
    format: {
      int: fmtInt,
      fixed: fmtFixed,
      pct: fmtPct,
      signed: fmtSigned,
      count: fmtCount
    }
  };
})(window);
