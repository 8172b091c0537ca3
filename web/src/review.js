/*
 * coreclean review page.
 *
 * The reviewer works through the open batch (highest importance first), one focused box at a
 * time, and decides keep / delete / relabel. Every decision is sent to the server at once
 * (POST /api/decision) and committed there, so a reload or a crash loses nothing: the page's
 * state always comes from GET /api/state. Keyboard first; every key has a button.
 *
 * Plain browser script, no modules. Data text is only ever written with textContent.
 */
(function () {
  'use strict';

  const STORE_REVIEWER = 'coreclean.reviewer';
  const STORE_UNDO = 'coreclean.undo.';          // + session + '.' + batch number (sessionStorage)
  const DIGIT_CLASSES = 9;                         // keys 1–9 relabel to the first nine classes

  const $ = (id) => document.getElementById(id);

  const ui = {
    sessionName: $('session-name'), task: $('task'), chips: $('status-chips'),
    tabReview: $('tab-review'), tabCharts: $('tab-charts'),
    panelReview: $('panel-review'), panelCharts: $('panel-charts'),
    reviewer: $('reviewer'), btnGuidelines: $('btn-guidelines'), btnHelp: $('btn-help'),
    batchbar: $('batchbar'), batchTitle: $('batch-title'), batchSub: $('batch-sub'),
    progress: $('progress'), segKeep: $('seg-keep'), segRelabel: $('seg-relabel'), segDelete: $('seg-delete'),
    progressLegend: $('progress-legend'), btnUndo: $('btn-undo'), batchSize: $('batch-size'), btnApply: $('btn-apply'),
    notice: $('notice'), empty: $('empty'), emptyTitle: $('empty-title'), emptyText: $('empty-text'), btnFetch: $('btn-fetch'),
    workspace: $('workspace'), focus: $('focus'), views: $('views'), noImages: $('no-images'),
    imgCrop: $('img-crop'), imgOverlay: $('img-overlay'), imgAttention: $('img-attention'),
    focusTitle: $('focus-title'), focusMeta: $('focus-meta'), btnPrev: $('btn-prev'), btnNext: $('btn-next'),
    labelName: $('label-name'), decisionPill: $('decision-pill'),
    importance: $('importance'), whyBar: $('why-bar'), whyMisfit: $('why-misfit'), whyAtypical: $('why-atypical'),
    whyLegend: $('why-legend'), whyWords: $('why-words'),
    btnKeep: $('btn-keep'), btnDelete: $('btn-delete'), btnSuggest: $('btn-suggest'),
    classGrid: $('class-grid'), btnPicker: $('btn-picker'), strip: $('strip'),
    charts: $('charts'), chartsSummary: $('charts-summary'), chartsSub: $('charts-sub'), chartsFallback: $('charts-fallback'), iterationsBody: $('iterations-body'),
    guidelines: $('guidelines'), guidelinesBody: $('guidelines-body'), btnGuidelinesClose: $('btn-guidelines-close'),
    help: $('help'), picker: $('picker'), pickerInput: $('picker-input'), pickerList: $('picker-list'),
    busy: $('busy'), busyText: $('busy-text'), announcer: $('announcer'), toasts: $('toasts'),
  };

  const st = {
    data: null,            // last /api/state answer
    batchNumber: null,     // number of the batch the strip was built for
    items: [],             // batch items (decisions updated in place, optimistically)
    byId: new Map(),       // id → item
    thumbs: new Map(),     // id → strip button
    current: 0,            // index of the focused box
    tab: 'review',
    undo: [],              // [{id, summary}] decisions made on this page, most recent last
    queue: Promise.resolve(),  // writes go out one after another, in the order they were made
    pending: 0,            // writes not answered yet
    busy: false,           // an apply is running
    readyMarked: false,    // cc-batch-ready already measured on this page load
    applyStartedAt: null,  // performance.now() when the reviewer confirmed an apply
    endOfClass: false,     // the last apply found no unseen boxes left
    warnedNoName: false,   // the "no reviewer name" hint was shown
  };

  // ---------------------------------------------------------------- small helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function kbd(text) { return el('kbd', null, text); }

  const fmtInt = new Intl.NumberFormat('en-US');
  const fmt2 = (v) => (typeof v === 'number' && isFinite(v) ? v.toFixed(2) : '—');
  const fmt3 = (v) => (typeof v === 'number' && isFinite(v) ? v.toFixed(3) : '—');
  const fmtSigned = (v, d) => (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(d);

  function isTyping(target) {
    if (!target || !(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
    if (tag !== 'INPUT') return false;
    return !['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'color', 'file'].includes(target.type);
  }

  function announce(text) {
    ui.announcer.textContent = '';
    // a separate task so screen readers notice the same text twice in a row
    setTimeout(() => { ui.announcer.textContent = text; }, 30);
  }

  // ---------------------------------------------------------------- toasts

  function toast(message, kind, title) {
    const node = el('div', 'toast ' + (kind || 'info'));
    node.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    const text = el('div', 'toast-text');
    if (title) text.appendChild(el('strong', null, title));
    text.appendChild(document.createTextNode(message));
    const close = el('button', null, '✕');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.addEventListener('click', () => node.remove());
    node.append(text, close);
    ui.toasts.appendChild(node);
    while (ui.toasts.children.length > 4) ui.toasts.firstChild.remove();
    // errors stay until read for a while; the rest fade quickly
    setTimeout(() => node.remove(), kind === 'error' ? 12000 : 3500);
    return node;
  }

  function toastError(err, what) {
    const msg = err && err.message ? err.message : String(err);
    toast(msg, 'error', what || 'Error');
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    // 503 = the server has more writes waiting than it takes at once: wait as it asks, retry.
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(path, init);
      } catch (e) {
        throw new ApiError('Cannot reach the coreclean server. Is `coreclean review` still running?', 0);
      }
      if (res.status !== 503 || attempt >= 5) break;
      const wait = Math.min(Math.max(Number(res.headers.get('Retry-After')) || 1, 1), 10);
      await new Promise((resolve) => setTimeout(resolve, 1000 * wait));
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!res.ok) {
      const detail = json && json.error ? json.error : (text || res.statusText);
      throw new ApiError(`${detail} (HTTP ${res.status})`, res.status);
    }
    if (json === null) throw new ApiError(`${method} ${path}: the server's answer is not JSON`, res.status);
    return json;
  }

  // Writes run one after another so that "decide, then undo" reaches the server in that order.
  function serial(task) {
    st.pending++;
    const p = st.queue.then(task);
    st.queue = p.catch(() => {}).then(() => { st.pending--; });
    return p;
  }

  // Leaving while a decision is still on its way would lose it: ask first.
  window.addEventListener('beforeunload', (e) => {
    if (st.pending > 0) e.preventDefault();
  });

  // ---------------------------------------------------------------- state

  async function loadState(opts) {
    const data = await api('GET', '/api/state');
    st.data = data;
    renderHeader();
    renderGuidelines();
    const batch = data.batch && !data.batch.applied ? data.batch : null;
    if (!batch) {
      st.batchNumber = null;
      st.items = [];
      st.byId.clear();
      renderEmpty();
      return;
    }
    const fresh = batch.number !== st.batchNumber;
    st.items = batch.items;
    st.byId = new Map(st.items.map((it) => [it.id, it]));
    if (fresh) {
      st.batchNumber = batch.number;
      loadUndo();
      const keepId = opts && opts.keepId;
      const idx = keepId != null ? st.items.findIndex((it) => it.id === keepId) : -1;
      st.current = idx >= 0 ? idx : Math.max(0, firstUndecidedFrom(0));
      buildStrip();
    } else {
      st.current = Math.min(st.current, st.items.length - 1);
      for (const it of st.items) updateThumb(it);
    }
    ui.empty.hidden = true;
    ui.batchbar.hidden = false;
    ui.workspace.hidden = st.items.length === 0;
    renderBatchbar();
    renderFocus();
    if (fresh) measureReady();
  }

  function decided(it) { return it.decision != null; }

  function firstUndecidedFrom(start) {
    const n = st.items.length;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!decided(st.items[i])) return i;
    }
    return -1;
  }

  function classById(id) {
    return (st.data.classes || []).find((c) => c.id === id) || null;
  }

  // ---------------------------------------------------------------- header and status

  function renderHeader() {
    const d = st.data;
    ui.sessionName.textContent = d.session || '';
    document.title = `coreclean · review${d.session ? ' · ' + d.session : ''}`;
    ui.task.replaceChildren();
    if (d.class_of_interest) {
      ui.task.append('Cleaning ', el('b', null, d.class_of_interest.name));
      if (d.confused_with && d.confused_with.id !== d.class_of_interest.id) {
        ui.task.append(' · confused with ', el('b', null, d.confused_with.name));
      }
    }
    const s = d.status || {};
    const chips = [
      ['Iteration', s.iteration != null ? String(s.iteration) : '—'],
      ['AUC', fmt3(s.auc)],
      ['Reviewed', s.reviewed != null ? fmtInt.format(s.reviewed) + (s.class_size ? ' of ' + fmtInt.format(s.class_size) : '') : '—'],
      ['Relabelled', s.relabelled != null ? fmtInt.format(s.relabelled) : '—'],
      ['Deleted', s.deleted != null ? fmtInt.format(s.deleted) : '—'],
    ];
    ui.chips.replaceChildren();
    for (const [k, v] of chips) {
      const li = el('li');
      li.append(k + ' ', el('b', null, v));
      ui.chips.appendChild(li);
    }
    if (s.plateaued) {
      const li = el('li', 'warn', 'AUC has plateaued');
      li.title = 'The AUC gained less than 0.002 over the last two iterations: reviewing more of this class no longer pays.';
      ui.chips.appendChild(li);
    }
    if (!ui.batchSize.value) ui.batchSize.value = String(d.default_batch_size || 60);
    syncTopbarHeight();
  }

  function syncTopbarHeight() {
    const h = document.querySelector('.topbar').getBoundingClientRect().height;
    document.documentElement.style.setProperty('--topbar-h', Math.round(h) + 'px');
  }

  function renderEmpty() {
    ui.batchbar.hidden = true;
    ui.workspace.hidden = true;
    ui.empty.hidden = false;
    const d = st.data;
    const cls = d.class_of_interest ? d.class_of_interest.name : 'the class';
    if (st.endOfClass) {
      ui.emptyTitle.textContent = `Every box of ${cls} has been reviewed`;
      ui.emptyText.textContent = 'There are no unseen boxes left in this class. The Charts tab shows what the cleaning achieved; export the corrected labels with `coreclean export`.';
      ui.btnFetch.hidden = true;
    } else {
      ui.emptyTitle.textContent = 'No batch open';
      ui.emptyText.textContent = `Fetch the next ${ui.batchSize.value || d.default_batch_size || 60} most important unseen boxes of ${cls} to review.`;
      ui.btnFetch.hidden = false;
    }
    if (d.status && d.status.plateaued) {
      showNotice('The AUC has plateaued (less than 0.002 gained over the last two iterations): reviewing more of this class no longer pays.', 'warn');
    }
  }

  function showNotice(text, kind) {
    ui.notice.textContent = text;
    ui.notice.className = 'notice' + (kind ? ' ' + kind : '');
    ui.notice.hidden = !text;
  }

  // ---------------------------------------------------------------- batch bar

  function counts() {
    const c = { keep: 0, relabel: 0, delete: 0, open: 0 };
    for (const it of st.items) {
      if (it.decision) c[it.decision.decision] = (c[it.decision.decision] || 0) + 1;
      else c.open++;
    }
    return c;
  }

  function renderBatchbar() {
    const n = st.items.length;
    const c = counts();
    const done = n - c.open;
    ui.batchTitle.textContent = `Batch ${st.batchNumber}`;
    ui.batchSub.textContent = `${n} box${n === 1 ? '' : 'es'} · ${done} decided`;
    const pct = (v) => (n ? (100 * v) / n : 0) + '%';
    ui.segKeep.style.width = pct(c.keep);
    ui.segRelabel.style.width = pct(c.relabel);
    ui.segDelete.style.width = pct(c.delete);
    ui.progress.setAttribute('aria-valuemax', String(n));
    ui.progress.setAttribute('aria-valuenow', String(done));
    ui.progress.setAttribute('aria-valuetext', `${done} of ${n} boxes decided`);
    ui.progressLegend.replaceChildren();
    const part = (label, value, color) => {
      const span = el('span');
      if (color) {
        const dot = el('span', 'dot');
        dot.style.background = color;
        span.appendChild(dot);
      }
      span.append(el('b', null, String(value)), ' ' + label);
      ui.progressLegend.appendChild(span);
    };
    part('kept', c.keep, 'var(--keep)');
    part('relabelled', c.relabel, 'var(--relabel-solid)');
    part('deleted', c.delete, 'var(--delete)');
    part(c.open === 0 ? 'to go — ready to apply' : 'to go', c.open, '#c5cbd5');
    ui.btnApply.classList.toggle('btn-apply-ready', n > 0 && c.open === 0);
    ui.btnUndo.disabled = st.undo.length === 0;
  }

  // ---------------------------------------------------------------- strip

  function decisionCaption(d) {
    if (!d) return 'undecided';
    if (d.decision === 'keep') return '✓ keep';
    if (d.decision === 'delete') return '✕ delete';
    return '→ ' + (d.new_label_name || d.new_label);
  }

  function decisionText(d) {
    if (!d) return 'undecided';
    if (d.decision === 'keep') return 'kept';
    if (d.decision === 'delete') return 'deleted';
    return 'relabelled to ' + (d.new_label_name || d.new_label);
  }

  function buildStrip() {
    st.thumbs.clear();
    const frag = document.createDocumentFragment();
    st.items.forEach((it, i) => {
      const li = el('li');
      const b = el('button', 'thumb');
      b.type = 'button';
      b.dataset.id = String(it.id);
      b.dataset.index = String(i);
      const box = el('span', 'thumb-img');
      if (it.images && it.images.crop) {
        const img = el('img');
        img.alt = '';
        img.src = it.images.crop;
        img.addEventListener('error', () => img.classList.add('broken'), { once: true });
        box.appendChild(img);
      }
      box.appendChild(el('span', 'thumb-rank', String(i + 1)));
      const badge = el('span', 'thumb-badge');
      badge.setAttribute('aria-hidden', 'true');
      box.appendChild(badge);
      b.append(box, el('span', 'thumb-caption'));
      b.addEventListener('click', () => go(i));
      li.appendChild(b);
      frag.appendChild(li);
      st.thumbs.set(it.id, b);
      updateThumb(it);
    });
    ui.strip.replaceChildren(frag);
  }

  function updateThumb(it) {
    const b = st.thumbs.get(it.id);
    if (!b) return;
    const i = Number(b.dataset.index);
    const d = it.decision;
    if (d) b.dataset.decision = d.decision; else delete b.dataset.decision;
    b.querySelector('.thumb-badge').textContent = d ? (d.decision === 'keep' ? '✓' : d.decision === 'delete' ? '✕' : '↻') : '';
    b.querySelector('.thumb-caption').textContent = decisionCaption(d);
    b.setAttribute('aria-label', `Box ${i + 1}: #${it.id}, ${it.label_name}, ${decisionText(d)}`);
    b.title = `#${it.id} · ${it.label_name} · importance ${fmt2(it.importance)} · ${decisionText(d)}`;
    b.setAttribute('aria-current', i === st.current ? 'true' : 'false');
  }

  // ---------------------------------------------------------------- the focused box

  function renderFocus() {
    const it = st.items[st.current];
    if (!it) return;
    const n = st.items.length;
    ui.focus.dataset.id = String(it.id);
    ui.focusTitle.textContent = `Box ${st.current + 1} of ${n}`;
    ui.focusMeta.textContent = `#${it.id}` + (it.image ? ` · ${it.image}` : '');
    ui.btnPrev.disabled = st.current === 0;
    ui.btnNext.disabled = st.current === n - 1;

    // views
    const imgs = it.images;
    ui.views.hidden = !imgs;
    ui.noImages.hidden = !!imgs;
    if (imgs) {
      setImage(ui.imgCrop, imgs.crop, `Box #${it.id}, labelled ${it.label_name}`);
      setImage(ui.imgOverlay, imgs.overlay, `Box #${it.id} outlined in its image${it.image ? ' ' + it.image : ''}`);
      setImage(ui.imgAttention, imgs.attention, `Box #${it.id} with its surroundings dimmed`);
    }

    // label and decision
    ui.labelName.textContent = it.label_name;
    const d = it.decision;
    ui.decisionPill.className = 'decision-pill' + (d ? ' ' + d.decision : '');
    ui.decisionPill.textContent = d
      ? (d.decision === 'keep' ? 'Kept' : d.decision === 'delete' ? 'Deleted' : '→ ' + (d.new_label_name || d.new_label)) +
        (d.reviewer ? ' · ' + d.reviewer : '')
      : 'Undecided';

    renderWhy(it);

    // decision buttons
    ui.btnKeep.setAttribute('aria-pressed', String(!!d && d.decision === 'keep'));
    ui.btnDelete.setAttribute('aria-pressed', String(!!d && d.decision === 'delete'));
    const sug = suggestionOf(it);
    ui.btnSuggest.hidden = !sug;
    ui.btnSuggest.classList.toggle('suggests-delete', !!sug && sug.decision === 'delete');
    if (sug && sug.decision === 'delete') {
      ui.btnSuggest.replaceChildren('Delete (suggested) ', kbd('s'));
      ui.btnSuggest.title = sug.reason || '';
      ui.btnSuggest.setAttribute('aria-pressed', String(!!d && d.decision === 'delete'));
    } else if (sug) {
      ui.btnSuggest.replaceChildren(`Relabel to ${sug.new_label_name} (suggested) `, kbd('s'));
      ui.btnSuggest.title = sug.reason || '';
      ui.btnSuggest.setAttribute('aria-pressed', String(!!d && d.decision === 'relabel' && d.new_label === sug.new_label));
    }
    renderClassGrid(it);

    for (const other of st.thumbs.values()) {
      const cur = Number(other.dataset.index) === st.current;
      if ((other.getAttribute('aria-current') === 'true') !== cur) other.setAttribute('aria-current', String(cur));
    }
    const thumb = st.thumbs.get(it.id);
    if (thumb) revealThumb(thumb);
    preloadAround(st.current);
  }

  function setImage(img, src, alt) {
    img.alt = alt;
    if (img.getAttribute('src') === src) return;
    img.classList.remove('broken', 'upscaled');
    img.onerror = () => img.classList.add('broken');
    img.onload = () => {
      // small crops are magnified: show their pixels rather than a blur
      const frame = img.parentElement.getBoundingClientRect();
      img.classList.toggle('upscaled', img.naturalWidth > 0 && img.naturalWidth * 3 < frame.width && img.naturalHeight * 3 < frame.height);
    };
    img.src = src;
  }

  // Keeps the focused thumbnail visible inside the strip without scrolling the page away
  // from the focused box.
  function revealThumb(node) {
    const list = ui.strip;
    if (list.scrollHeight <= list.clientHeight + 1) return;
    const top = node.offsetTop;
    const bottom = top + node.offsetHeight;
    if (top < list.scrollTop) list.scrollTop = Math.max(0, top - 6);
    else if (bottom > list.scrollTop + list.clientHeight) list.scrollTop = bottom - list.clientHeight + 6;
  }

  const preloaded = new Set();
  function preloadAround(index) {
    for (const k of [1, 2, -1]) {
      const it = st.items[index + k];
      if (!it || !it.images) continue;
      for (const src of [it.images.overlay, it.images.attention, it.images.crop]) {
        if (!src || preloaded.has(src)) continue;
        preloaded.add(src);
        const img = new Image();
        img.src = src;
      }
    }
  }

  // The session's suggestion when it is to change something (delete, or relabel to another
  // class); null when it suggests keeping the label.
  function suggestionOf(it) {
    const sug = it.suggestion;
    if (sug && sug.decision === 'delete') return sug;
    if (sug && sug.decision === 'relabel' && sug.new_label != null && sug.new_label !== it.label) return sug;
    if (!sug && it.suggested_label != null && it.suggested_label !== it.label)
      return { decision: 'relabel', new_label: it.suggested_label, new_label_name: it.suggested_name, reason: '' };
    return null;
  }

  function acceptSuggestion(it) {
    const sug = it && suggestionOf(it);
    if (!sug) toast('The session suggests no change for this box.', 'info');
    else if (sug.decision === 'delete') decide('delete');
    else relabel(sug.new_label);
  }

  function renderWhy(it) {
    const misfit = Math.max(0, Number(it.misfit) || 0);
    const atyp = Math.max(0, Number(it.atypical) || 0);
    // importance = −log(1 − misfit) + w · atypical, w the session tree's weight: the bar shows
    // the label's surprisal and the atypical part, on the scale of the batch's largest
    // importance (at least 1)
    const weight = Number.isFinite(st.data && st.data.atypical_weight) ? st.data.atypical_weight : 0.01;
    const atypPart = weight * atyp;
    const surprisal = Math.max(0, (Number(it.importance) || 0) - atypPart);
    const total = surprisal + atypPart;
    const scale = Math.max(1, ...st.items.map((x) => Number(x.importance) || 0));
    ui.whyMisfit.style.width = (100 * surprisal) / scale + '%';
    ui.whyAtypical.style.width = (100 * atypPart) / scale + '%';
    ui.importance.replaceChildren('importance ', el('b', null, fmt2(it.importance)), ` · rank ${st.current + 1}`);
    ui.whyBar.setAttribute('aria-label',
      `Importance ${fmt2(it.importance)}: surprisal of the label ${fmt2(surprisal)} (misfit ${fmt2(misfit)}) plus atypical ${fmt2(atypPart)}`);

    ui.whyLegend.replaceChildren();
    const legend = (color, label, value, extra, title) => {
      const span = el('span');
      if (title) span.title = title;
      const sw = el('span', 'swatch');
      sw.style.background = color;
      span.append(sw, label + ' ', el('b', null, value));
      if (extra) span.append(' ' + extra);
      ui.whyLegend.appendChild(span);
    };
    legend('var(--misfit)', 'misfit', fmt2(misfit), null,
      'How badly models that did not see this box disagree with its label (a ridge classifier, logistic regressions and its nearest neighbours, fused): 0 when they agree confidently, 1 when they confidently name another class. Counts as \u2212log(1 \u2212 misfit) towards the importance.');
    legend('var(--atypical)', 'atypical', atyp.toFixed(1) + '×', `class average (+${atypPart.toFixed(2)})`,
      `How unusual the box looks for its class (the class average is 1×). High values point to boxes that miss their object or span two objects. Counts ${weight} × towards the importance.`);

    const words = [];
    const label = it.label_name;
    const other = it.suggested_label != null && it.suggested_label !== it.label ? it.suggested_name : null;
    const lead = atypPart > misfit ? 'atypical' : 'misfit';
    if (misfit >= 0.75) {
      words.push(['misfit', other
        ? `A model that never saw this box clearly prefers ${other}.`
        : `A model that never saw this box clearly doubts ${label}.`]);
    } else if (misfit >= 0.5) {
      words.push(['misfit', other
        ? `The model leans towards ${other} rather than ${label}.`
        : `The model is unsure about ${label}.`]);
    } else if (misfit >= 0.25) {
      words.push(['misfit', other
        ? `The model slightly prefers ${other}; ${label} is plausible.`
        : `The model mostly agrees with ${label}.`]);
    } else {
      words.push(['misfit', `The model agrees with ${label}.`]);
    }
    if (atyp >= 2) {
      words.push(['atypical', `Unusual for ${label} (${atyp.toFixed(1)}× the class average): check that the box covers exactly one whole object.`]);
    } else if (atyp >= 1.3) {
      words.push(['atypical', `Somewhat unusual for ${label} (${atyp.toFixed(1)}× the class average).`]);
    } else {
      words.push(['atypical', `Looks typical for ${label}.`]);
    }
    if (lead === 'atypical') words.reverse();
    // The classes the held-out model weighs for this box: what to compare the label with.
    const probs = Array.isArray(it.probabilities) ? it.probabilities : [];
    if (probs.length) {
      words.push(['probs', 'Held-out model: ' + probs.map((c) => `${c.name}\u00a0${Math.round(100 * c.p)}\u00a0%`).join(' · ')]);
    }
    // Findings of the box checks come first: a degenerate or duplicate box is wrong whatever
    // its label.
    const findings = Array.isArray(it.findings) ? it.findings : [];
    ui.whyWords.replaceChildren();
    findings.forEach((f) => ui.whyWords.appendChild(el('li', 'finding', `Box check: ${f.check} — ${f.detail}`)));
    words.forEach(([kind, text], i) => {
      const li = el('li', kind + (i === 0 && total > 0 && !findings.length ? ' lead' : ''), text);
      ui.whyWords.appendChild(li);
    });
  }

  function renderClassGrid(it) {
    const classes = st.data.classes || [];
    const d = it.decision;
    ui.classGrid.replaceChildren();
    classes.slice(0, DIGIT_CLASSES).forEach((c, i) => {
      const b = el('button', 'class-btn');
      b.type = 'button';
      const num = el('span', 'num', String(i + 1));
      num.setAttribute('aria-hidden', 'true');
      const name = el('span', 'name', c.name);
      b.append(num, name);
      let tag = '';
      if (c.id === it.label) { b.classList.add('is-label'); tag = 'label'; }
      else if (c.id === it.suggested_label) { b.classList.add('is-suggested'); tag = 'suggested'; }
      if (tag) b.appendChild(el('span', 'tag', tag));
      const pressed = !!d && d.decision === 'relabel' && d.new_label === c.id;
      b.setAttribute('aria-pressed', String(pressed));
      b.title = c.id === it.label ? `${c.name} is the current label: same as keep (${i + 1})` : `Relabel to ${c.name} (${i + 1})`;
      b.setAttribute('aria-label', c.id === it.label ? `Keep as ${c.name}` : `Relabel to ${c.name}`);
      b.setAttribute('aria-keyshortcuts', String(i + 1));
      b.addEventListener('click', () => relabel(c.id));
      ui.classGrid.appendChild(b);
    });
    const more = classes.length - DIGIT_CLASSES;
    ui.btnPicker.replaceChildren(more > 0 ? `Other class… (${more} more) ` : 'Find a class… ', kbd('/'));
  }

  // ---------------------------------------------------------------- navigation

  function go(index) {
    if (!st.items.length) return;
    const i = Math.max(0, Math.min(st.items.length - 1, index));
    const prev = st.items[st.current];
    st.current = i;
    if (prev) updateThumb(prev);
    renderFocus();
    const it = st.items[i];
    announce(`Box ${i + 1} of ${st.items.length}, labelled ${it.label_name}, ${decisionText(it.decision)}`);
  }

  function goNextUndecided(from) {
    const n = st.items.length;
    const next = firstUndecidedFrom((from + 1) % n);
    if (next >= 0) go(next);
    else {
      go(from);
      announce('Every box of the batch is decided. Press Shift+A to apply it and fetch the next batch.');
    }
  }

  // ---------------------------------------------------------------- decisions

  function currentItem() { return st.items[st.current] || null; }

  function reviewerName() { return ui.reviewer.value.trim(); }

  function decide(kind, newLabel) {
    const it = currentItem();
    if (!it || st.busy) return;
    if (kind === 'relabel' && newLabel === it.label) kind = 'keep';  // relabelling to its own class keeps it
    const reviewer = reviewerName();
    const optimistic = { decision: kind, reviewer };
    const body = { id: it.id, decision: kind, reviewer };
    if (kind === 'relabel') {
      const c = classById(newLabel);
      optimistic.new_label = newLabel;
      optimistic.new_label_name = c ? c.name : String(newLabel);
      body.new_label = newLabel;
    }
    const previous = it.decision;
    it.decision = optimistic;
    const index = st.current;
    const entry = { id: it.id, summary: `${decisionText(optimistic)} of box #${it.id} (${it.label_name})` };
    st.undo.push(entry);
    saveUndo();
    if (!reviewer && !st.warnedNoName) {
      st.warnedNoName = true;
      toast('Decisions are saved without a reviewer name. Type yours in the header to sign them.', 'info');
    }
    updateThumb(it);
    renderBatchbar();
    goNextUndecided(index);

    serial(() => api('POST', '/api/decision', body))
      .then((res) => {
        if (res && res.decision && it.decision === optimistic) {
          it.decision = res.decision;
          updateThumb(it);
          if (currentItem() === it) renderFocus();
        }
      })
      .catch((err) => {
        toastError(err, `Box #${it.id} was not saved`);
        if (it.decision === optimistic) {  // show what the server holds, not what failed
          it.decision = previous;
          st.undo = st.undo.filter((e) => e !== entry);
          saveUndo();
          refreshItem(it);
        }
        resync();
      });
  }

  function refreshItem(it) {
    updateThumb(it);
    renderBatchbar();
    if (currentItem() === it) renderFocus();
  }

  function relabel(classId) { decide('relabel', classId); }

  function undo() {
    if (st.busy) return;
    let entry = null;
    while (st.undo.length) {
      const e = st.undo.pop();
      const it = st.byId.get(e.id);
      if (it && it.decision) { entry = e; break; }
    }
    if (!entry) {
      saveUndo();
      renderBatchbar();
      toast('Nothing to undo: no decision made on this page is still pending.', 'info');
      return;
    }
    const it = st.byId.get(entry.id);
    const previous = it.decision;
    it.decision = null;
    // the server keeps one decision per box: undoing removes it, so earlier entries for it go too
    st.undo = st.undo.filter((e) => e.id !== it.id);
    saveUndo();
    updateThumb(it);
    renderBatchbar();
    go(st.items.indexOf(it));
    toast(`Undid: ${entry.summary}. The box is undecided again.`, 'info');

    serial(() => api('POST', '/api/undo', { id: it.id }))
      .then((res) => {
        if (res && res.removed === false) toast(`Box #${it.id} had no saved decision to remove.`, 'info');
      })
      .catch((err) => {
        toastError(err, `Undo of box #${it.id} failed`);
        if (it.decision === null) {  // the decision is still on the server
          it.decision = previous;
          st.undo.push(entry);
          saveUndo();
          refreshItem(it);
        }
        resync();
      });
  }

  // After a failed write the server is the truth: reload it, staying on the same box.
  function resync() {
    const it = currentItem();
    loadState({ keepId: it ? it.id : null }).catch((err) => {
      if (err.status !== 0) toastError(err, 'Cannot reload the state');  // "cannot reach" was just said
    });
  }

  function undoKey() {
    return STORE_UNDO + (st.data ? st.data.session : '') + '.' + st.batchNumber;
  }

  function loadUndo() {
    st.undo = [];
    try {
      const saved = JSON.parse(sessionStorage.getItem(undoKey()) || '[]');
      if (Array.isArray(saved)) st.undo = saved.filter((e) => e && st.byId.has(e.id) && st.byId.get(e.id).decision);
    } catch (e) { st.undo = []; }
  }

  function saveUndo() {
    try { sessionStorage.setItem(undoKey(), JSON.stringify(st.undo.slice(-500))); } catch (e) { /* private mode */ }
  }

  // ---------------------------------------------------------------- apply and fetch next

  async function applyBatch() {
    if (st.busy) return;
    const n = parseInt(ui.batchSize.value, 10);
    if (!(n >= 1)) {
      toast('The size of the next batch must be a whole number of at least 1.', 'error', 'Cannot fetch');
      ui.batchSize.focus();
      return;
    }
    const hasBatch = st.batchNumber != null && st.items.length > 0;
    let undecided = null;  // what the reviewer said undecided boxes mean, when there are some
    if (hasBatch) {
      const open = counts().open;
      if (open > 0) {
        const ok = window.confirm(
          `${open} of ${st.items.length} boxes are undecided: they will count as “keep”.\n\n` +
          `Apply batch ${st.batchNumber} and fetch the next ${n}?`);
        if (!ok) return;
        undecided = 'keep';
      }
    }
    st.busy = true;
    st.applyStartedAt = performance.now();
    ui.busyText.textContent = hasBatch ? `Applying batch ${st.batchNumber} and fetching the next…` : 'Fetching the next batch…';
    ui.busy.hidden = false;
    const before = st.data && st.data.status ? st.data.status.auc : null;
    try {
      await st.queue;  // every decision reaches the server before the apply
      const res = await api('POST', '/api/apply', undecided ? { n, undecided } : { n });
      st.endOfClass = res.next_batch == null;
      if (res.applied_batch != null) {
        const gain = typeof res.auc === 'number' && typeof before === 'number' ? ` (${fmtSigned(res.auc - before, 3)})` : '';
        toast(
          res.next_batch != null
            ? `AUC ${fmt3(res.auc)}${gain}. Batch ${res.next_batch}: ${res.items} boxes.`
            : `AUC ${fmt3(res.auc)}${gain}. No unseen boxes left in this class.`,
          'success', `Batch ${res.applied_batch} applied`);
      } else if (res.next_batch != null) {
        toast(`Batch ${res.next_batch}: ${res.items} boxes.`, 'success', 'Next batch ready');
      }
      showNotice('', null);
      await loadState();
    } catch (err) {
      st.applyStartedAt = null;
      toastError(err, 'Apply failed');
      resync();
    } finally {
      st.busy = false;
      ui.busy.hidden = true;
      if (st.tab === 'charts') loadCharts();
    }
  }

  // ---------------------------------------------------------------- batch readiness

  // Once every image of a freshly shown batch is decoded: mark it with the Performance API.
  function measureReady() {
    const imgs = [ui.imgCrop, ui.imgOverlay, ui.imgAttention, ...ui.strip.querySelectorAll('img')]
      .filter((img) => img.getAttribute('src'));
    const batch = st.batchNumber;
    Promise.all(imgs.map((img) => img.decode().catch(() => {}))).then(() => {
      requestAnimationFrame(() => {
        if (batch !== st.batchNumber) return;
        const now = performance.now();
        performance.mark('cc-batch-ready', { detail: { batch } });
        if (!st.readyMarked) {
          st.readyMarked = true;
          window.ccBatchReadyMs = now;  // relative to navigation start
        }
        if (st.applyStartedAt != null) {
          performance.mark('cc-next-batch-ready', { detail: { batch } });
          performance.measure('cc-next-batch', { start: st.applyStartedAt, end: now });
          window.ccNextBatchReadyMs = now - st.applyStartedAt;
          st.applyStartedAt = null;
        }
        document.body.dataset.batchReady = String(batch);
      });
    });
  }

  // ---------------------------------------------------------------- class picker

  const picker = { matches: [], active: 0 };

  function openPicker() {
    const it = currentItem();
    if (!it || st.busy) return;
    ui.pickerInput.value = '';
    filterPicker();
    ui.picker.showModal();
    ui.pickerInput.focus();
  }

  function filterPicker() {
    const it = currentItem();
    const q = ui.pickerInput.value.trim().toLowerCase();
    const classes = st.data.classes || [];
    picker.matches = classes
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => !q || c.name.toLowerCase().includes(q) || String(c.id) === q);
    // names that start with the query come first
    if (q) picker.matches.sort((a, b) => Number(!a.c.name.toLowerCase().startsWith(q)) - Number(!b.c.name.toLowerCase().startsWith(q)));
    const sug = picker.matches.findIndex(({ c }) => it && c.id === it.suggested_label && c.id !== it.label);
    picker.active = q ? 0 : Math.max(0, sug);
    renderPicker();
  }

  function renderPicker() {
    const it = currentItem();
    ui.pickerList.replaceChildren();
    if (!picker.matches.length) {
      const li = el('li', 'none', 'No class matches');
      li.setAttribute('role', 'option');
      li.setAttribute('aria-disabled', 'true');
      ui.pickerList.appendChild(li);
      ui.pickerInput.removeAttribute('aria-activedescendant');
      return;
    }
    picker.matches.forEach(({ c, i }, k) => {
      const li = el('li');
      li.id = 'picker-opt-' + k;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(k === picker.active));
      li.append(el('span', 'num', i < DIGIT_CLASSES ? String(i + 1) : ''), el('span', 'name', c.name));
      if (it && c.id === it.label) li.appendChild(el('span', 'tag', 'current label'));
      else if (it && c.id === it.suggested_label) li.appendChild(el('span', 'tag', 'suggested'));
      li.addEventListener('mousedown', (e) => e.preventDefault());
      li.addEventListener('click', () => choosePicker(k));
      ui.pickerList.appendChild(li);
    });
    ui.pickerInput.setAttribute('aria-activedescendant', 'picker-opt-' + picker.active);
    const active = $('picker-opt-' + picker.active);
    if (active) active.scrollIntoView({ block: 'nearest' });
  }

  function choosePicker(k) {
    const m = picker.matches[k];
    if (!m) return;
    ui.picker.close();
    relabel(m.c.id);
  }

  ui.pickerInput.addEventListener('input', filterPicker);
  ui.pickerInput.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = picker.matches.length;
      if (!n) return;
      picker.active = (picker.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      renderPicker();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      choosePicker(picker.active);
    }
  });

  // ---------------------------------------------------------------- guidelines (Markdown)

  // A small, safe Markdown subset: headings, lists, paragraphs, **bold**, *italic*, `code`.
  // Everything is written as text nodes; no HTML from the data is ever parsed.
  function renderMarkdown(src, into) {
    const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
    let para = null;
    let list = null;
    const flush = () => {
      if (para) { const p = el('p'); inline(para.join(' '), p); into.appendChild(p); para = null; }
    };
    for (const raw of lines) {
      const line = raw.replace(/\s+$/, '');
      let m;
      if (!line.trim()) { flush(); list = null; continue; }
      if ((m = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*$/.exec(line))) {
        flush(); list = null;
        const h = el('h' + Math.min(6, m[1].length + 1));  // the drawer's own title is the h2 level
        inline(m[2], h);
        into.appendChild(h);
        continue;
      }
      if ((m = /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line))) {
        flush();
        const ordered = /\d/.test(m[1]);
        if (!list || list.ordered !== ordered) {
          list = { node: el(ordered ? 'ol' : 'ul'), ordered };
          into.appendChild(list.node);
        }
        const li = el('li');
        inline(m[2], li);
        list.node.appendChild(li);
        continue;
      }
      if (list && /^\s{2,}\S/.test(raw)) {  // continuation of a list item
        const last = list.node.lastElementChild;
        last.append(' ');
        inline(line.trim(), last);
        continue;
      }
      list = null;
      (para = para || []).push(line.trim());
    }
    flush();
  }

  function inline(text, into) {
    const re = /(\*\*|__)(.+?)\1|`([^`]+)`|(\*|_)([^*_\s](?:.*?[^*_\s])?)\4/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) into.append(text.slice(last, m.index));
      if (m[2] !== undefined) { const b = el('strong'); inline(m[2], b); into.appendChild(b); }
      else if (m[3] !== undefined) into.appendChild(el('code', null, m[3]));
      else { const i = el('em'); inline(m[5], i); into.appendChild(i); }
      last = re.lastIndex;
    }
    if (last < text.length) into.append(text.slice(last));
  }

  let guidelinesSource = null;
  function renderGuidelines() {
    const src = st.data.guidelines || '';
    if (src === guidelinesSource) return;
    guidelinesSource = src;
    ui.guidelinesBody.replaceChildren();
    if (src.trim()) renderMarkdown(src, ui.guidelinesBody);
    else ui.guidelinesBody.appendChild(el('p', 'muted', 'This session has no labelling guidelines. Give them to `coreclean init --guidelines RULES.md` when starting a session.'));
  }

  function toggleGuidelines(force) {
    const open = force !== undefined ? force : ui.guidelines.hidden;
    ui.guidelines.hidden = !open;
    ui.btnGuidelines.setAttribute('aria-pressed', String(open));
    syncTopbarHeight();
  }

  // ---------------------------------------------------------------- help

  function toggleHelp() {
    if (ui.help.open) ui.help.close();
    else ui.help.showModal();
  }

  for (const dlg of [ui.help, ui.picker]) {
    dlg.addEventListener('click', (e) => {
      if (e.target === dlg || e.target.closest('[data-close]')) dlg.close();  // backdrop or ✕
    });
  }

  // ---------------------------------------------------------------- tabs and charts

  function setTab(tab) {
    st.tab = tab;
    const review = tab === 'review';
    ui.tabReview.setAttribute('aria-selected', String(review));
    ui.tabCharts.setAttribute('aria-selected', String(!review));
    ui.tabReview.tabIndex = review ? 0 : -1;
    ui.tabCharts.tabIndex = review ? -1 : 0;
    ui.panelReview.hidden = !review;
    ui.panelCharts.hidden = review;
    if (!review) loadCharts();
  }

  let chartsToken = 0;
  async function loadCharts() {
    const token = ++chartsToken;
    let data;
    try {
      data = await api('GET', '/api/report');
    } catch (err) {
      toastError(err, 'Cannot load the charts');
      return;
    }
    if (token !== chartsToken || st.tab !== 'charts') return;
    const its = Array.isArray(data.iterations) ? data.iterations : [];
    // The report data names classes as strings; the page state as {id, name}.
    const nameOf = (c) => (typeof c === 'string' ? c : c && c.name);
    const coi = nameOf(data.class_of_interest);
    const cw = nameOf(data.confused_with);
    ui.chartsSub.textContent = (coi ? `Cleaning ${coi}` + (cw && cw !== coi ? ` (confused with ${cw})` : '') + '. ' : '') +
      (its.length > 1 ? `${its.length - 1} batch${its.length === 2 ? '' : 'es'} applied.` : 'No batch applied yet: the charts fill in as batches are applied.');
    ui.chartsSummary.replaceChildren();
    if (window.CorecleanCharts && typeof window.CorecleanCharts.renderSummary === 'function') {
      try { window.CorecleanCharts.renderSummary(ui.chartsSummary, data); } catch (err) { toastError(err, 'Cannot show the key figures'); }
    }
    if (window.CorecleanCharts && typeof window.CorecleanCharts.render === 'function') {
      ui.chartsFallback.hidden = true;
      if (typeof window.CorecleanCharts.destroy === 'function') window.CorecleanCharts.destroy(ui.charts);
      ui.charts.replaceChildren();
      try {
        window.CorecleanCharts.render(ui.charts, data);
      } catch (err) {
        toastError(err, 'Cannot draw the charts');
      }
    } else {
      // without the chart library: the iterations as a table
      ui.chartsFallback.hidden = false;
      ui.iterationsBody.replaceChildren();
      for (const x of its) {
        const tr = el('tr');
        for (const v of [x.iteration, fmt3(x.auc), x.reviewed, x.relabelled, x.deleted,
          typeof x.fixed_share === 'number' ? (100 * x.fixed_share).toFixed(0) + ' %' : '—']) {
          tr.appendChild(el('td', null, v));
        }
        ui.iterationsBody.appendChild(tr);
      }
    }
  }

  // ---------------------------------------------------------------- keyboard

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target)) {
      // Enter or Escape in the header's fields hands the keyboard back to the review
      if ((e.key === 'Escape' || e.key === 'Enter') && (e.target === ui.reviewer || e.target === ui.batchSize)) {
        e.preventDefault();
        e.target.blur();
      }
      return;
    }
    if (ui.picker.open) return;  // the picker's input handles its own keys
    if (ui.help.open) {
      if (e.key === '?') { e.preventDefault(); ui.help.close(); }
      return;
    }
    const key = e.key;
    let handled = true;
    if (key === '?') toggleHelp();
    else if (key === 'g') toggleGuidelines();
    else if (key === 'c') setTab(st.tab === 'review' ? 'charts' : 'review');
    else if (key === 'Escape' && !ui.guidelines.hidden) toggleGuidelines(false);
    else if (st.busy) handled = false;
    else if (key === 'A' && e.shiftKey) applyBatch();
    else if (st.tab !== 'review' || !st.items.length) handled = false;
    else if (key === 'k') decide('keep');
    else if (key === 'd') decide('delete');
    else if (key === 's') acceptSuggestion(currentItem());
    else if (/^[1-9]$/.test(key)) {
      const c = (st.data.classes || [])[Number(key) - 1];
      if (c) relabel(c.id);
      else toast(`There is no class ${key}: this session has ${st.data.classes.length}.`, 'info');
    } else if (key === '/') openPicker();
    else if (key === 'ArrowRight' || key === 'l') go(st.current + 1);
    else if (key === 'ArrowLeft' || key === 'j') go(st.current - 1);
    else if (key === 'n') goNextUndecided(st.current);
    else if (key === 'u') undo();
    else handled = false;
    if (handled) e.preventDefault();
  });

  // ---------------------------------------------------------------- wiring

  ui.btnKeep.addEventListener('click', () => decide('keep'));
  ui.btnDelete.addEventListener('click', () => decide('delete'));
  ui.btnSuggest.addEventListener('click', () => acceptSuggestion(currentItem()));
  ui.btnPicker.addEventListener('click', openPicker);
  ui.btnPrev.addEventListener('click', () => go(st.current - 1));
  ui.btnNext.addEventListener('click', () => go(st.current + 1));
  ui.btnUndo.addEventListener('click', undo);
  ui.btnApply.addEventListener('click', applyBatch);
  ui.btnFetch.addEventListener('click', applyBatch);
  ui.btnHelp.addEventListener('click', toggleHelp);
  ui.btnGuidelines.addEventListener('click', () => toggleGuidelines());
  ui.btnGuidelinesClose.addEventListener('click', () => toggleGuidelines(false));
  ui.tabReview.addEventListener('click', () => setTab('review'));
  ui.tabCharts.addEventListener('click', () => setTab('charts'));
  for (const tab of [ui.tabReview, ui.tabCharts]) {
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        e.preventDefault();
        e.stopPropagation();
        const next = tab === ui.tabReview ? ui.tabCharts : ui.tabReview;
        setTab(next === ui.tabReview ? 'review' : 'charts');
        next.focus();
      }
    });
  }

  try { ui.reviewer.value = localStorage.getItem(STORE_REVIEWER) || ''; } catch (e) { /* storage off */ }
  ui.reviewer.addEventListener('input', () => {
    try { localStorage.setItem(STORE_REVIEWER, ui.reviewer.value.trim()); } catch (e) { /* storage off */ }
  });
  ui.batchSize.addEventListener('change', () => { if (ui.empty.hidden === false) renderEmpty(); });
  window.addEventListener('resize', syncTopbarHeight);

  loadState().catch((err) => {
    toastError(err, 'Cannot load the session');
    showNotice('The session could not be loaded. Check that `coreclean review` is running, then reload the page.', 'warn');
  });
})();
