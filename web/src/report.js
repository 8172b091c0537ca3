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

  // A link to a file written beside the report (by name only: relative to the page).
  var files = data.files && typeof data.files === 'object' ? data.files : {};
  function fileLink(key, text) {
    var name = files[key];
    if (typeof name !== 'string' || !name || /[\/\\]/.test(name) || /^[a-z][a-z0-9+.-]*:/i.test(name)) return null;
    var a = el('a', 'cc-file-link', text || name);
    a.href = encodeURIComponent(name);
    a.setAttribute('download', name);
    a.title = name;
    return a;
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
    var links = [['decisions_csv', 'decisions'], ['iterations_csv', 'iterations'], ['importance_csv', 'importance']]
      .filter(function (f) { return fileLink(f[0], f[1]); });
    if (links.length) {
      var span = el('span', 'cc-downloads');
      links.forEach(function (f, i) {
        if (i) append(span, ' \u00b7 ');
        append(span, fileLink(f[0], f[1]));
      });
      item('CSV files', span);
    }
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
      'Iteration 0 is the starting point before any review. Fixed = relabelled + deleted. ' +
      'View weights: how much the ranking trusts the ridge, held-out and neighbour views after ' +
      'the iteration; iteration 0 has the weights fitted to the labels, later ones move towards ' +
      'the views that agreed with the reviewer\u2019s verdicts.');
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
      ['Time', 'seconds'],
      ['View weights (ridge / held-out / neighbours)', 'fusion']
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
          case 'fusion':
            text = it.fusion && isNum(it.fusion.ridge) && isNum(it.fusion.held_out) && isNum(it.fusion.neighbour)
              ? [it.fusion.ridge, it.fusion.held_out, it.fusion.neighbour].map(function (v) { return fmtFixed(v, 2); }).join(' / ')
              : '\u2014';
            break;
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

  // The scores' scales (README, "coreclean build"): misfit = 1 − p(label) in [0, 1], atypical
  // relative to its class average, importance = −log(1 − misfit) + w · atypical.
  var scoreInfo = data.scores && typeof data.scores === 'object' ? data.scores : {};
  var ATYPICAL_WEIGHT = isNum(scoreInfo.atypical_weight) ? scoreInfo.atypical_weight : 0.01;
  function fmtWeight(w) { return String(Math.round(w * 1e4) / 1e4); }
  var IMPORTANCE_RULE = 'Importance = \u2212log(1 \u2212 misfit) + ' + fmtWeight(ATYPICAL_WEIGHT) +
    ' \u00d7 atypical: how surprising the label is, plus how odd the box is for its class.';
  var MISFIT_SCALE = 'Misfit: 1 \u2212 p(label) of the fused held-out views; 0 = they confidently ' +
    'agree with the label, 1 = they confidently name another class.';
  var ATYPICAL_SCALE = 'Atypical: the box\u2019s ridge leverage within its labelled class, scaled so that the ' +
    'class average is about 1 (shown as \u00d7 class average).';

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
    // The second view: the box in context (its surroundings dimmed), else outlined in its image.
    var inContext = images.attention || !images.overlay;
    append(imgs,
      imageFigure(images.crop, 'Crop', 'Crop of box ' + idText + ', labelled ' + str(x.old_label, 'unknown')),
      inContext
        ? imageFigure(images.attention, 'In context', 'Box ' + idText + ' in context, its surroundings dimmed')
        : imageFigure(images.overlay, 'In its image', 'Box ' + idText + ' outlined in its image'));
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

    // importance = −log(1 − misfit) + w · atypical: the weighted atypical part is w · atypical.
    var imp = isNum(x.importance) ? x.importance : null;
    var mis = isNum(x.misfit) ? x.misfit : null;
    var aty = isNum(x.atypical) ? x.atypical : null;
    var atyPart = aty !== null ? ATYPICAL_WEIGHT * aty : null;
    var scores = el('dl', 'cc-scores');
    function score(label, value, cls, title) {
      var d = el('div', 'cc-score ' + (cls || ''));
      var dt = el('dt', null, label);
      if (title) dt.title = title;
      append(d, dt, el('dd', null, value));
      scores.appendChild(d);
    }
    score('Importance', fmtFixed(imp, 3), 'cc-score-importance', IMPORTANCE_RULE);
    score('Misfit', fmtFixed(mis, 3), 'cc-score-misfit', MISFIT_SCALE);
    score('Atypical', aty === null ? '\u2014' : aty.toFixed(2) + '\u00d7 class average', 'cc-score-atypical',
      ATYPICAL_SCALE + (atyPart !== null ? ' Here it adds ' + atyPart.toFixed(3) + ' to the importance.' : ''));
    body.appendChild(scores);

    if (imp !== null && imp > 0 && mis !== null && mis >= 0) {
      var scale = maxImportance > 0 ? imp / maxImportance : 1;
      var bar = el('div', 'cc-split');
      bar.setAttribute('role', 'img');
      var misShare = Math.min(1, mis / imp);
      bar.setAttribute('aria-label', 'Importance ' + imp.toFixed(3) + ': ' + Math.round(misShare * 100) +
        ' % misfit, ' + Math.round((1 - misShare) * 100) + ' % weighted atypical');
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
        ' with the highest importance (' + parts.join(', ') + '). ' + IMPORTANCE_RULE +
        ' The bar splits the importance into its two parts.'
      : null;
    var sec = section('examples', 'Examples', intro);
    var list = el('ul', 'cc-gallery');
    list.setAttribute('role', 'list');
    var maxImp = 0;
    examples.forEach(function (x) { if (isNum(x.importance) && x.importance > maxImp) maxImp = x.importance; });
    examples.forEach(function (x) { list.appendChild(renderExample(x, maxImp)); });
    if (examples.length) {
      // The scales, once for every card.
      var legend = el('ul', 'cc-split-legend');
      var misKey = el('li');
      append(misKey, el('span', 'cc-key cc-key-misfit'), ' ', el('strong', null, 'Misfit'),
        ': 0 = a held-out model confidently agrees with the label, 1 = it confidently names another class');
      var atyKey = el('li');
      append(atyKey, el('span', 'cc-key cc-key-atypical'), ' ', el('strong', null, 'Atypical'),
        ' (bar: ' + fmtWeight(ATYPICAL_WEIGHT) + ' \u00d7 atypical): ridge leverage within the labelled class, ' +
        '\u00d7 class average (1\u00d7 = a typical box of the class)');
      append(legend, misKey, atyKey);
      sec.appendChild(legend);
      sec.appendChild(list);
    } else {
      sec.appendChild(el('p', 'cc-empty', 'No examples in this report.'));
    }
    return sec;
  }

  // ------------------------------------------------------- confusion matrix

  // The pick's normalised confusion matrix as a heat map: rows are the true
  // classes (each adds up to 1), columns the predicted ones. The class of
  // interest's column and the largest off-diagonal cell are highlighted.
  function renderConfusion() {
    var c = data.confusion;
    if (!c || typeof c !== 'object' || !Array.isArray(c.classes) || !Array.isArray(c.normalized)) return null;
    var names = c.classes.map(function (n) { return str(n, '?'); });
    var k = names.length;
    if (!k || c.normalized.length !== k) return null;
    var cell = function (i, j) {
      var row = c.normalized[i];
      return Array.isArray(row) && isNum(row[j]) ? row[j] : null;
    };
    var coiIdx = isNum(c.class_of_interest) ? c.class_of_interest : -1;
    var max = c.largest_off_diagonal && isNum(c.largest_off_diagonal.row) && isNum(c.largest_off_diagonal.column)
      ? c.largest_off_diagonal : null;

    var sec = section('confusion', 'Class confusion',
      'How the classifier that picked the class of interest mixes up the classes (' +
      (c.used_test_split ? 'predictions on the test split' : 'out-of-fold predictions on the training set') + ').');
    var fig = el('figure', 'cc-cm');
    var wrap = el('div', 'cc-cm-wrap');
    wrap.setAttribute('tabindex', '0');
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-labelledby', 'confusion-title');
    var table = el('table', 'cc-cm-table');
    var thead = el('thead');
    var hr = el('tr');
    var corner = el('th', 'cc-cm-corner');
    append(corner, el('span', 'cc-cm-axis-true', 'true \u2193'), el('span', 'cc-cm-axis-pred', 'predicted \u2192'));
    hr.appendChild(corner);
    names.forEach(function (n, j) {
      var th = el('th', 'cc-cm-col' + (j === coiIdx ? ' cc-cm-interest' : ''));
      th.setAttribute('scope', 'col');
      th.appendChild(el('span', 'cc-cm-col-name', n));
      th.title = 'Predicted: ' + n;
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    var tbody = el('tbody');
    for (var i = 0; i < k; i++) {
      var tr = el('tr');
      var rh = el('th', 'cc-cm-row' + (i === coiIdx ? ' cc-cm-interest-row' : ''), names[i]);
      rh.setAttribute('scope', 'row');
      tr.appendChild(rh);
      for (var j = 0; j < k; j++) {
        var v = cell(i, j);
        var td = el('td', 'cc-cm-cell' + (i === j ? ' cc-cm-diag' : ''), v === null ? '\u2014' : v.toFixed(2));
        if (j === coiIdx) td.classList.add('cc-cm-interest');
        if (max && max.row === i && max.column === j) td.classList.add('cc-cm-max');
        if (v !== null) {
          // Square root: small confusions stay visible next to a strong diagonal.
          var alpha = Math.sqrt(Math.max(0, Math.min(1, v))) * 0.92;
          td.style.backgroundColor = 'rgba(31, 95, 191, ' + alpha.toFixed(3) + ')';
          if (alpha > 0.5) td.classList.add('cc-cm-dark');
        }
        td.title = names[i] + ' predicted as ' + names[j] + ': ' + (v === null ? 'n/a' : fmtPct(v));
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    append(table, thead, tbody);
    wrap.appendChild(table);
    fig.appendChild(wrap);
    var cap = el('figcaption', 'cc-cm-caption');
    var parts = ['Rows are the true classes, each normalised to 1; columns are the predicted classes.'];
    if (coiIdx >= 0 && coiIdx < k) parts.push('Outlined column: \u201c' + names[coiIdx] + '\u201d, the class of interest.');
    var inSession = Array.isArray(c.in_session) ? c.in_session : [];
    if (inSession.some(function (v) { return v === false; })) {
      parts.push('Classes outside this session are shown by their id.');
    }
    if (max && max.row < k && max.column < k) {
      parts.push('Marked cell: the largest confusion, \u201c' + names[max.row] + '\u201d predicted as \u201c' +
        names[max.column] + '\u201d (' + fmtFixed(max.value, 2) + ').');
    }
    cap.textContent = parts.join(' ');
    fig.appendChild(cap);
    sec.appendChild(fig);
    return sec;
  }

  // -------------------------------------------------------------- box checks

  var CHECKS = {
    degenerate: 'Degenerate (a side of 1 px or less, or not a number)',
    tiny: 'Tiny (shorter side below the minimum)',
    outside: 'Outside the image (crosses or leaves it)',
    aspect: 'Odd aspect ratio',
    duplicate: 'Duplicate (lies on another box of the image)',
    missing_image: 'Missing image',
    unknown_category: 'Unknown category',
    conflicting_labels: 'Conflicting labels (a near-identical box of another image has another label)'
  };

  function renderFindings() {
    var f = data.findings;
    if (!f || typeof f !== 'object' || !f.checked) return null;
    var sec = section('findings', 'Box checks',
      'Model-free checks of every box of the COCO file, and pairs of boxes of different images ' +
      'whose embeddings are near-identical but whose labels differ, found when the session was created.');
    var flagged = isNum(f.flagged) ? f.flagged : 0;
    if (!(flagged > 0)) {
      sec.appendChild(el('p', 'cc-empty', 'The box checks flagged no box.'));
      return sec;
    }
    var reviewed = isNum(f.reviewed) ? f.reviewed : 0;
    var fixed = isNum(f.fixed) ? f.fixed : 0;
    var dl = el('dl', 'cc-figures cc-findings-figures');
    [['flagged', 'Flagged boxes', fmtInt(flagged), 'by at least one check'],
      ['reviewed', 'Reviewed', fmtInt(reviewed), fmtPct(reviewed / flagged) + ' of the flagged boxes'],
      ['fixed', 'Fixed', fmtInt(fixed), reviewed > 0 ? fmtPct(fixed / reviewed) + ' of those reviewed' : 'none reviewed yet']
    ].forEach(function (x) {
      var item = el('div', 'cc-figure cc-figure-findings-' + x[0]);
      append(item, el('dt', 'cc-figure-label', x[1]), el('dd', 'cc-figure-value', x[2]), el('dd', 'cc-figure-note', x[3]));
      dl.appendChild(item);
    });
    sec.appendChild(dl);
    var checks = Array.isArray(f.checks) ? f.checks.filter(function (c) { return c && c.check; }) : [];
    if (checks.length) {
      var table = el('table', 'cc-table cc-checks');
      var thead = el('thead');
      var hr = el('tr');
      ['Check', 'Findings'].forEach(function (h, i) {
        var th = el('th', i ? 'cc-col-count' : 'cc-col-check', h);
        th.setAttribute('scope', 'col');
        hr.appendChild(th);
      });
      thead.appendChild(hr);
      var tbody = el('tbody');
      checks.forEach(function (c) {
        var tr = el('tr');
        var th = el('th', 'cc-col-check', CHECKS[c.check] || str(c.check));
        th.setAttribute('scope', 'row');
        append(tr, th, el('td', 'cc-col-count', fmtInt(c.findings)));
        tbody.appendChild(tr);
      });
      append(table, thead, tbody);
      var wrap = el('div', 'cc-table-wrap cc-checks-wrap');
      wrap.appendChild(table);
      sec.appendChild(wrap);
      sec.appendChild(el('p', 'cc-note', 'A duplicate pair counts as one finding and flags both of its boxes.'));
    }
    if (f.command && reviewed < flagged) {
      var hint = el('p', 'cc-hint');
      append(hint, fmtInt(flagged - reviewed) + (flagged - reviewed === 1 ? ' flagged box is' : ' flagged boxes are') +
        ' not reviewed yet. Review them with ', el('code', 'cc-command', str(f.command)), '.');
      sec.appendChild(hint);
    }
    return sec;
  }

  // ---------------------------------------------------------------- decisions

  var DECISIONS_SHOWN_OPEN = 20;  // longer tables start folded

  function renderDecisions() {
    var rows = Array.isArray(data.decisions) ? data.decisions.filter(function (d) { return d && typeof d === 'object'; }) : [];
    var revised = rows.filter(function (d) { return d.revised === true; }).length;
    var intro = rows.length
      ? fmtInt(rows.length) + (rows.length === 1 ? ' decision' : ' decisions') + ', by batch, each in its final state' +
        (revised ? ' (' + fmtInt(revised) + (revised === 1 ? ' was revised after its batch was applied, marked)'
          : ' were revised after their batch was applied, marked)') : '') + '.'
      : null;
    var sec = section('decisions', 'Decisions', intro);
    var link = fileLink('decisions_csv');
    if (link) {
      var dl = el('p', 'cc-download');
      append(dl, 'Download the table: ', link);
      sec.appendChild(dl);
    }
    if (!rows.length) {
      sec.appendChild(el('p', 'cc-empty', 'No decisions yet.'));
      return sec;
    }
    var wrap = el('div', 'cc-table-wrap');
    wrap.setAttribute('tabindex', '0');
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-labelledby', 'decisions-title');
    var table = el('table', 'cc-table cc-decisions');
    var cols = ['Batch', 'Box', 'Decision', 'Label', 'New label', 'Reviewer', 'Decided', 'Applied', 'Revised from'];
    var thead = el('thead');
    var hr = el('tr');
    cols.forEach(function (c) {
      var th = el('th', null, c);
      th.setAttribute('scope', 'col');
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    var tbody = el('tbody');
    rows.forEach(function (d) {
      var tr = el('tr', d.revised === true ? 'cc-revised' : null);
      var kind = str(d.decision, '?');
      var info = DECISIONS[kind] || { text: kind, cls: 'other' };
      var badge = el('span', 'cc-badge cc-badge-' + info.cls, info.text);
      var from = '';
      if (d.revised === true) {
        var o = DECISIONS[str(d.original_decision)];
        from = (o ? o.text : str(d.original_decision, '?')) + (d.original_new_label ? ' \u2192 ' + str(d.original_new_label) : '');
      }
      var cells = [
        el('td', 'cc-num', isNum(d.batch) ? String(d.batch) : '\u2014'),
        el('td', 'cc-num', str(d.id, '?')),
        append(el('td'), badge),
        el('td', null, str(d.old_label)),
        el('td', null, str(d.new_label)),
        el('td', null, str(d.reviewer)),
        el('td', null, d.decided_at ? fmtDate(d.decided_at) : '\u2014'),
        el('td', null, d.applied === true ? 'yes' : 'pending'),
        el('td', 'cc-revised-from', from)
      ];
      cells.forEach(function (td) { tr.appendChild(td); });
      tbody.appendChild(tr);
    });
    append(table, thead, tbody);
    wrap.appendChild(table);
    if (rows.length > DECISIONS_SHOWN_OPEN) {
      var details = el('details', 'cc-collapsible');
      details.appendChild(el('summary', null, 'Show all ' + fmtInt(rows.length) + ' decisions'));
      details.appendChild(wrap);
      sec.appendChild(details);
    } else {
      sec.appendChild(wrap);
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
  append(root, renderHeader(), renderFigures(), renderCharts(), renderConfusion(), renderFindings(), renderTable(),
    renderGallery(), renderDecisions(), renderFooter());

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
