/*
 * coreclean HTML report: renders the cleaning report from the JSON embedded in
 * <script id="report-data"> into <main id="report">.
 * Needs window.CorecleanCharts (charts.js) and uPlot. All data strings go
 * through textContent / attributes, never through HTML parsing.
 */
(function () {
  'use strict';

  var root = document.getElementById('report');
  if (!root) return;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function append(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return parent;
  }

  function isNum(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function str(v, fallback) {
    return v === null || v === undefined || v === '' ? (fallback || '') : String(v);
  }

  function showError(message) {
    root.textContent = '';
    var box = el('div', 'cc-error');
    box.setAttribute('role', 'alert');
    append(box, el('h1', null, 'The report could not be displayed'), el('p', null, message));
    root.appendChild(box);
  }

  var data;
  try {
    var node = document.getElementById('report-data');
    data = JSON.parse(node ? node.textContent : 'null');
  } catch (e) {
    showError('Its data is not valid JSON: ' + e.message);
    return;
  }
  if (!data || typeof data !== 'object') {
    showError('It contains no data.');
    return;
  }

  var charts = window.CorecleanCharts;
  var fmt = charts ? charts.format : null;
  var fmtInt = fmt ? fmt.int : function (v) { return isNum(v) ? String(v) : '\u2014'; };
  var fmtFixed = fmt ? fmt.fixed : function (v, d) { return isNum(v) ? v.toFixed(d) : '\u2014'; };
  var fmtPct = fmt ? fmt.pct : function (v) { return isNum(v) ? (v * 100).toFixed(1) + ' %' : '\u2014'; };
  var fmtSigned = fmt ? fmt.signed : function (v, d) { return isNum(v) ? v.toFixed(d) : '\u2014'; };

  var iterations = (Array.isArray(data.iterations) ? data.iterations : [])
    .filter(function (it) { return it && isNum(it.iteration); })
    .sort(function (a, b) { return a.iteration - b.iteration; });
  var examples = Array.isArray(data.examples) ? data.examples.filter(function (x) { return x && typeof x === 'object'; }) : [];
  var coi = str(data.class_of_interest, 'class of interest');
  var other = str(data.confused_with);

  // "2026-11-28T05:00:00Z" -> "28 Nov 2026, 05:00 UTC" (UTC so every reader sees the same).
  function fmtDate(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return str(iso, 'unknown');
    var months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    function two(n) { return n < 10 ? '0' + n : String(n); }
    return d.getUTCDate() + ' ' + months[d.getUTCMonth()] + ' ' + d.getUTCFullYear() + ', ' +
      two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + ' UTC';
  }

  function fmtSeconds(s) {
    if (!isNum(s)) return '\u2014';
    if (s < 10) return s.toFixed(1) + '\u00a0s';
    if (s < 90) return Math.round(s) + '\u00a0s';
    var m = Math.floor(s / 60);
    var r = Math.round(s - m * 60);
    if (m < 90) return m + '\u00a0min ' + r + '\u00a0s';
    return Math.floor(m / 60) + '\u00a0h ' + (m % 60) + '\u00a0min';
  }

  function section(id, title, intro) {
    var sec = el('section', 'cc-section');
    sec.id = id;
    var h = el('h2', 'cc-section-title', title);
    h.id = id + '-title';
    sec.setAttribute('aria-labelledby', h.id);
    append(sec, h);
    if (intro) sec.appendChild(el('p', 'cc-section-intro', intro));
    return sec;
  }

  // ----------------------------------------------------------------- header

  function renderHeader() {
    var header = el('header', 'cc-header');
    append(header, el('p', 'cc-eyebrow', 'coreclean \u00b7 label-error cleaning'));
    append(header, el('h1', 'cc-title', str(data.title, 'coreclean cleaning report')));

    var pair = el('p', 'cc-pair');
    append(pair, el('span', 'cc-pair-label', 'Class of interest'));
    append(pair, el('span', 'cc-class cc-class-main', coi));
    if (other) {
      append(pair, el('span', 'cc-pair-vs', 'confused with'));
      append(pair, el('span', 'cc-class', other));
    }
    header.appendChild(pair);

    var meta = el('dl', 'cc-meta');
    function item(label, valueNode) {
      var d = el('div', 'cc-meta-item');
      append(d, el('dt', null, label));
      var dd = el('dd');
      append(dd, valueNode);
      d.appendChild(dd);
      meta.appendChild(d);
    }
    var time = el('time', null, fmtDate(data.generated_at));
    if (data.generated_at) time.setAttribute('datetime', String(data.generated_at));
    item('Generated', time);
    if (data.session) item('Session', el('code', 'cc-path', String(data.session)));
    var classes = Array.isArray(data.classes) ? data.classes.map(function (c) { return str(c); }) : [];
    if (classes.length > 2) item('Classes in session', classes.join(', '));
    header.appendChild(meta);
    return header;
  }

  // ------------------------------------------------------------ key figures

  function renderFigures() {
    var sec = section('summary', 'Key figures');
    if (charts) {
      charts.renderSummary(sec, data);
    } else {
      sec.appendChild(el('p', 'cc-empty', 'Key figures are unavailable: charts.js did not load.'));
    }
    return sec;
  }

  // ----------------------------------------------------------------- charts

  var chartHost = null;

  function renderCharts() {
    var sec = section('progress', 'Progress', null);
    chartHost = el('div', 'cc-chart-host');
    sec.appendChild(chartHost);
    return sec;
  }

  // ------------------------------------------------------- iteration table

  function renderTable() {
    var sec = section('iterations', 'Iterations',
      'Iteration 0 is the starting point before any review. Fixed = relabelled + deleted.');
    if (!iterations.length) {
      sec.appendChild(el('p', 'cc-empty', 'No iterations yet.'));
      return sec;
    }
    sec.appendChild(el('p', 'cc-scroll-hint', 'Scroll the table sideways to see all columns.'));
    var wrap = el('div', 'cc-table-wrap');
    wrap.setAttribute('tabindex', '0');
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-labelledby', 'iterations-title');
    var table = el('table', 'cc-table cc-iterations');
    var cols = [
      ['Iteration', 'iteration'],
      ['AUC', 'auc'],
      ['\u0394 AUC', 'dauc'],
      ['Reviewed', 'reviewed'],
      ['Relabelled', 'relabelled'],
      ['Deleted', 'deleted'],
      ['Kept', 'kept'],
      ['Fixed', 'fixed'],
      ['Share fixed', 'fixed_share'],
      ['Reviewed (total)', 'cumulative_reviewed'],
      ['Fixed (total)', 'cumulative_fixed'],
      ['Time', 'seconds']
    ];
    var thead = el('thead');
    var hr = el('tr');
    cols.forEach(function (c) {
      var th = el('th', 'cc-col-' + c[1], c[0]);
      th.setAttribute('scope', 'col');
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    var tbody = el('tbody');
    iterations.forEach(function (it, i) {
      var tr = el('tr');
      var prev = i > 0 ? iterations[i - 1] : null;
      cols.forEach(function (c) {
        var key = c[1];
        var text;
        switch (key) {
          case 'iteration': text = String(it.iteration); break;
          case 'auc': text = fmtFixed(it.auc, 4); break;
          case 'dauc': text = prev && isNum(prev.auc) && isNum(it.auc) ? fmtSigned(it.auc - prev.auc, 4) : '\u2014'; break;
          case 'fixed_share': text = fmtPct(it.fixed_share); break;
          case 'seconds': text = fmtSeconds(it.seconds); break;
          default: text = fmtInt(it[key]);
        }
        var cell;
        if (key === 'iteration') {
          cell = el('th', 'cc-col-' + key, text);
          cell.setAttribute('scope', 'row');
        } else {
          cell = el('td', 'cc-col-' + key, text);
        }
        if (key === 'dauc' && prev && isNum(prev.auc) && isNum(it.auc)) {
          var d = it.auc - prev.auc;
          if (d > 5e-5) cell.classList.add('cc-up');
          else if (d < -5e-5) cell.classList.add('cc-down');
        }
        tr.appendChild(cell);
      });
      tbody.appendChild(tr);
    });
    append(table, thead, tbody);
    wrap.appendChild(table);
    sec.appendChild(wrap);
    return sec;
  }

  // --------------------------------------------------------------- gallery

  var DECISIONS = {
    relabel: { text: 'Relabelled', cls: 'relabel' },
    'delete': { text: 'Deleted', cls: 'delete' },
    keep: { text: 'Kept', cls: 'keep' }
  };

  // Only embedded images or same-folder relative paths: the report never
  // loads anything from the network.
  function safeImage(src) {
    if (typeof src !== 'string' || !src) return null;
    if (/^data:image\/(png|jpe?g|gif|webp|svg\+xml|bmp|avif);/i.test(src)) return src;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(src) && src.indexOf('//') !== 0) return src;
    return null;
  }

  function imageFigure(src, caption, alt) {
    var fig = el('figure', 'cc-example-image');
    var url = safeImage(src);
    if (url) {
      var img = el('img');
      img.alt = alt;
      img.decoding = 'async';
      img.addEventListener('load', function () {
        // Small crops (e.g. 28 px) stay sharp when enlarged.
        if (img.naturalWidth && img.naturalWidth < 96) img.classList.add('cc-pixelated');
      });
      img.src = url;
      fig.appendChild(img);
    } else {
      var ph = el('div', 'cc-image-missing', 'No image');
      fig.appendChild(ph);
    }
    fig.appendChild(el('figcaption', null, caption));
    return fig;
  }

  function renderExample(x, maxImportance) {
    var decision = str(x.decision, 'unknown');
    var dinfo = DECISIONS[decision] || { text: decision, cls: 'other' };
    var li = el('li', 'cc-example cc-decision-' + dinfo.cls);
    var idText = isNum(x.id) || typeof x.id === 'string' ? String(x.id) : '?';

    var images = x.images && typeof x.images === 'object' ? x.images : {};
    var imgs = el('div', 'cc-example-images');
    var second = images.overlay || !images.attention ? 'overlay' : 'attention';
    append(imgs,
      imageFigure(images.crop, 'Crop', 'Crop of box ' + idText + ', labelled ' + str(x.old_label, 'unknown')),
      imageFigure(images[second], 'Attention',
        (second === 'overlay' ? 'Attention overlaid on box ' : 'Attention map of box ') + idText));
    li.appendChild(imgs);

    var body = el('div', 'cc-example-body');
    var head = el('p', 'cc-example-head');
    append(head,
      el('span', 'cc-badge cc-badge-' + dinfo.cls, dinfo.text),
      isNum(x.batch) ? el('span', 'cc-example-batch', 'batch ' + x.batch) : null);
    body.appendChild(head);

    var labels = el('p', 'cc-example-labels');
    var oldL = el('span', 'cc-label-old', str(x.old_label, 'unknown'));
    if (decision === 'relabel') {
      append(labels, oldL, el('span', 'cc-arrow', ' \u2192 '), el('span', 'cc-label-new', str(x.new_label, '?')));
      labels.setAttribute('aria-label', 'Relabelled from ' + str(x.old_label, 'unknown') + ' to ' + str(x.new_label, 'unknown'));
    } else if (decision === 'delete') {
      append(labels, oldL, el('span', 'cc-arrow', ' \u2192 '), el('span', 'cc-label-deleted', 'deleted'));
    } else {
      append(labels, oldL, el('span', 'cc-label-kept', ' (kept)'));
    }
    body.appendChild(labels);

    // importance = misfit + weight · atypicality: split it into the misfit part
    // and the atypicality part.
    var imp = isNum(x.importance) ? x.importance : null;
    var mis = isNum(x.misfit) ? x.misfit : null;
    var aty = isNum(x.atypical) ? x.atypical : null;
    var atyPart = imp !== null && mis !== null ? Math.max(0, imp - mis) : null;
    var scores = el('dl', 'cc-scores');
    function score(label, value, cls, extra, extraTitle) {
      var d = el('div', 'cc-score ' + (cls || ''));
      var dd = el('dd', null, value);
      if (extra) {
        var w = el('span', 'cc-score-weighted', extra);
        if (extraTitle) w.title = extraTitle;
        append(dd, ' ', w);
      }
      append(d, el('dt', null, label), dd);
      scores.appendChild(d);
    }
    score('Importance', fmtFixed(imp, 3), 'cc-score-importance');
    score('Misfit', fmtFixed(mis, 3), 'cc-score-misfit');
    score('Atypicality', fmtFixed(aty, 3), 'cc-score-atypical',
      atyPart !== null ? '(+' + atyPart.toFixed(3) + ')' : null,
      atyPart !== null ? 'Weighted, atypicality adds ' + atyPart.toFixed(3) + ' to the importance' : null);
    body.appendChild(scores);

    if (imp !== null && imp > 0 && mis !== null && mis >= 0) {
      var scale = maxImportance > 0 ? imp / maxImportance : 1;
      var bar = el('div', 'cc-split');
      bar.setAttribute('role', 'img');
      var misShare = Math.min(1, mis / imp);
      bar.setAttribute('aria-label', 'Importance ' + imp.toFixed(3) + ': ' + Math.round(misShare * 100) +
        ' % misfit, ' + Math.round((1 - misShare) * 100) + ' % atypicality');
      var track = el('div', 'cc-split-track');
      track.style.width = Math.max(4, scale * 100).toFixed(1) + '%';
      var a = el('span', 'cc-split-misfit');
      a.style.width = (misShare * 100).toFixed(1) + '%';
      var b = el('span', 'cc-split-atypical');
      b.style.width = ((1 - misShare) * 100).toFixed(1) + '%';
      append(track, a, b);
      bar.appendChild(track);
      body.appendChild(bar);
    }

    var foot = ['Box ' + idText];
    if (x.suggested_label && decision !== 'relabel') foot.push('Suggested: ' + str(x.suggested_label));
    else if (x.suggested_label && x.suggested_label !== x.new_label) foot.push('Suggested: ' + str(x.suggested_label));
    if (x.reviewer) foot.push('Reviewer: ' + str(x.reviewer));
    if (foot.length) body.appendChild(el('p', 'cc-example-foot', foot.join(' \u00b7 ')));

    li.appendChild(body);
    return li;
  }

  function renderGallery() {
    var counts = {};
    examples.forEach(function (x) {
      var k = str(x.decision, 'unknown');
      counts[k] = (counts[k] || 0) + 1;
    });
    var parts = Object.keys(counts).map(function (k) {
      var d = DECISIONS[k];
      return counts[k] + ' ' + (d ? d.text.toLowerCase() : k);
    });
    var intro = examples.length
      ? examples.length + (examples.length === 1 ? ' fixed box' : ' fixed boxes') +
        ' with the highest importance (' + parts.join(', ') + '). The bar splits the importance into misfit and atypicality.'
      : null;
    var sec = section('examples', 'Examples', intro);
    var list = el('ul', 'cc-gallery');
    list.setAttribute('role', 'list');
    var maxImp = 0;
    examples.forEach(function (x) { if (isNum(x.importance) && x.importance > maxImp) maxImp = x.importance; });
    examples.forEach(function (x) { list.appendChild(renderExample(x, maxImp)); });
    if (examples.length) {
      var legend = el('p', 'cc-split-legend');
      legend.setAttribute('aria-hidden', 'true');
      append(legend,
        el('span', 'cc-key cc-key-misfit'), 'misfit ',
        el('span', 'cc-key cc-key-atypical'), 'atypicality (weighted)');
      sec.appendChild(legend);
      sec.appendChild(list);
    } else {
      sec.appendChild(el('p', 'cc-empty', 'No examples in this report.'));
    }
    return sec;
  }

  // ------------------------------------------------------------------ page

  function renderFooter() {
    var f = el('footer', 'cc-footer');
    append(f, 'Generated by coreclean on ', fmtDate(data.generated_at), '.');
    return f;
  }

  root.textContent = '';
  root.classList.add('cc-report');
  append(root, renderHeader(), renderFigures(), renderCharts(), renderTable(), renderGallery(), renderFooter());

  if (charts && chartHost) {
    try {
      charts.render(chartHost, data, { headingLevel: 3 });
    } catch (e) {
      chartHost.textContent = '';
      chartHost.appendChild(el('p', 'cc-empty', 'The charts could not be drawn: ' + e.message));
      throw e;
    }
  } else if (chartHost) {
    chartHost.appendChild(el('p', 'cc-empty', 'Charts are unavailable: charts.js did not load.'));
  }
})();
