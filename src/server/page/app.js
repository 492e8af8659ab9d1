// ordo labeling page. Plain JavaScript, no build step. Every piece of text
// that comes from the server (labels, names) goes into the page through
// textContent (never as markup), so a label like "<script>" stays text.
'use strict';

const $ = (id) => document.getElementById(id);
const SPECIAL = { not: 'not-sports', unclear: 'unclear', skip: 'skip' };

const st = {
  me: null,
  view: 'label',
  queue: [],          // prefetched items, queue[0] is on screen
  seen: new Set(),    // ids answered in this page (never shown again unless undone)
  history: [],        // answered items, newest last, for undo
  pending: 0,         // label requests not yet acknowledged
  acked: 0,           // labels acknowledged by the server in this session
  progress: null,
  vocab: [],          // [{label, text, key}] for completion
  names: new Map(),   // wnid -> synset name
  fetching: false,
  grid: [], gridFocus: 0,
};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function labelText(label) {
  const n = st.names.get(label);
  return n ? n + ' (' + label + ')' : label;
}

// ---- HTTP -----------------------------------------------------------------

async function api(path, form) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const opts = { credentials: 'same-origin', headers: {} };
    if (form) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      opts.headers['X-Ordo-CSRF'] = st.me ? st.me.csrf : '';
      opts.body = new URLSearchParams(form).toString();
    }
    const r = await fetch(path, opts);
    if (r.status === 401) { showLogin(); throw new Error('sign in first'); }
    if (r.status === 403 && form && attempt === 0) { await loadMe(); continue; }  // server restarted
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (!r.ok) throw new Error((j && j.error) || ('HTTP ' + r.status));
    return j;
  }
}

async function loadMe() {
  st.me = await api('/api/me');
  $('who').textContent = 'annotator: ' + st.me.annotator;
}

function showLogin() {
  for (const s of document.querySelectorAll('main > section')) s.hidden = true;
  $('view-login').hidden = false;
}

function setSaving() {
  $('saving').textContent = st.pending ? 'saving ' + st.pending + '...' : 'all saved';
}

// ---- completion -------------------------------------------------------------

async function loadVocab() {
  const v = await api('/api/vocab');
  const out = [];
  const have = new Set();
  for (const [wnid, name] of v.synsets) st.names.set(wnid, name);
  for (const l of v.labels) {
    if (v.special.includes(l)) continue;
    have.add(l);
    out.push({ label: l, text: labelText(l), key: 'label', rank: 0 });
  }
  for (const [wnid, name] of v.synsets) {
    if (have.has(wnid)) continue;
    out.push({ label: wnid, text: name + ' (' + wnid + ')', key: 'WordNet', rank: 1 });
  }
  st.vocab = out;
}

function matches(q) {
  q = q.trim().toLowerCase();
  if (!q) return [];
  const scored = [];
  for (const v of st.vocab) {
    const t = v.text.toLowerCase();
    const i = t.indexOf(q);
    if (i < 0) continue;
    // whole-name prefix first, then a synonym's prefix, then anywhere
    const word = i === 0 ? 0 : (t[i - 1] === ' ' || t[i - 1] === ',' || t[i - 1] === '(') ? 1 : 2;
    scored.push([word * 2 + v.rank, t.length, v]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return scored.slice(0, 10).map((s) => s[2]);
}

// A search box with a keyboard-driven completion list. onPick(label).
function completer(input, list, onPick) {
  let items = [], sel = 0;
  function render() {
    list.replaceChildren();
    items.forEach((v, i) => {
      const li = el('li', v.text);
      li.appendChild(el('span', v.key, 'k'));
      li.dataset.label = v.label;
      if (i === sel) li.className = 'sel';
      li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(v.label); });
      list.appendChild(li);
    });
  }
  function pick(label) {
    input.value = ''; items = []; render(); input.blur();
    onPick(label);
  }
  let timer = null;
  function update(remote) {
    items = matches(input.value);
    // then the rest of WordNet, searched by the server
    for (const r of remote || []) {
      if (items.length >= 12) break;
      if (!items.some((v) => v.label === r.label)) items.push(r);
    }
    // the typed text itself is always on offer, last, as a new label of the
    // customer's own (unless it already is one)
    const typed = input.value.trim();
    if (typed && !items.some((v) => v.label === typed || v.text === typed))
      items.push({ label: typed, text: typed, key: 'new label', rank: 9 });
    if (!remote) sel = 0;
    render();
  }
  input.addEventListener('input', () => {
    update(null);
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(async () => {
      try {
        const j = await api('/api/search?n=10&q=' + encodeURIComponent(q));
        if (input.value.trim() !== q) return;   // typed on meanwhile
        update(j.synsets.map(([wnid, name]) => ({ label: wnid, text: name + ' (' + wnid + ')', key: 'WordNet', rank: 1 })));
      } catch (e) { /* the local list still works */ }
    }, 150);
  });
  input.addEventListener('keydown', (e) => {
    e.stopPropagation();
    if (e.key === 'ArrowDown') { sel = Math.min(sel + 1, items.length - 1); render(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { sel = Math.max(sel - 1, 0); render(); e.preventDefault(); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      const typed = input.value.trim();
      if (items.length) pick(items[sel].label);
      else if (typed) pick(typed);      // a new label of the customer's own
    } else if (e.key === 'Escape') { input.value = ''; items = []; render(); input.blur(); }
  });
  input.addEventListener('blur', () => { setTimeout(() => { items = []; render(); }, 100); });
}

// ---- labeling view ------------------------------------------------------------

function current() { return st.queue[0] || null; }

async function fetchMore() {
  if (st.fetching) return;
  st.fetching = true;
  try {
    const j = await api('/api/next?n=8');
    st.progress = j.progress;
    const have = new Set(st.queue.map((q) => q.id));
    for (const it of j.items)
      if (!have.has(it.id) && !st.seen.has(it.id)) st.queue.push(it);
    prefetch();
    if (!st.queue.length && j.progress.refilling) {
      // the composer is preparing the next batch: ask again shortly
      $('msg').textContent = 'preparing the next batch...';
      setTimeout(() => fetchMore().then(() => { $('msg').textContent = ''; renderItem(); }).catch(showError), 1000);
    }
  } finally { st.fetching = false; }
}

function prefetch() {
  // the next images are fetched ahead so moving on is instant
  for (const it of st.queue.slice(1, 5)) {
    if (it.pre) continue;
    it.pre = new Image();
    it.pre.src = '/api/image/' + it.id;
  }
}

function renderProgress() {
  const p = st.progress;
  if (p) {
    $('p-batch').max = Math.max(1, p.batch_total); $('p-batch').value = p.batch_done;
    $('p-batch-t').textContent = p.batch_done + ' / ' + p.batch_total;
    $('p-all').max = Math.max(1, p.images); $('p-all').value = p.labeled;
    $('p-all-t').textContent = p.labeled + ' / ' + p.images;
  }
  const left = st.queue.length;
  $('p-session').max = Math.max(1, st.acked + st.pending + left); $('p-session').value = st.acked;
  $('p-session-t').textContent = st.acked + ' labeled';
}

function renderItem() {
  const it = current();
  $('empty').hidden = !!it;
  $('img').hidden = !it;
  const ol = $('sugg');
  ol.replaceChildren();
  renderProgress();
  if (!it) { $('meta').textContent = ''; $('eval-note').hidden = true; return; }
  $('img').src = '/api/image/' + it.id;
  $('img').dataset.id = it.id;
  $('meta').textContent = 'image ' + it.id + ' - queued as ' + it.reason;
  $('eval-note').hidden = !it.eval;
  (it.eval ? [] : it.suggestions).forEach((s, i) => {
    const li = el('li');
    li.appendChild(el('kbd', i + 1));
    li.appendChild(el('span', s.name || labelText(s.label)));
    li.appendChild(el('span', (100 * s.p).toFixed(1) + '%', 'p'));
    li.dataset.label = s.label;
    li.addEventListener('click', () => answer(s.label));
    ol.appendChild(li);
  });
}

async function answer(label) {
  const it = current();
  if (!it) return;
  st.queue.shift();
  st.seen.add(it.id);
  st.history.push(it);
  st.pending++; setSaving();
  renderItem();
  if (st.queue.length < 4) fetchMore().then(renderProgress).catch(showError);
  else prefetch();
  try {
    await api('/api/label', { id: it.id, label: label });
    st.acked++;
    if (!st.vocab.some((v) => v.label === label) && !Object.values(SPECIAL).includes(label))
      st.vocab.unshift({ label: label, text: labelText(label), key: 'label', rank: 0 });
  } catch (e) {
    // not saved: put it back in front so nothing is lost silently
    st.history = st.history.filter((h) => h !== it);
    st.seen.delete(it.id);
    st.queue.unshift(it);
    renderItem();
    showError(e);
  } finally { st.pending--; setSaving(); renderProgress(); }
  if (!current()) fetchMore().then(renderItem).catch(showError);
}

async function undo() {
  const it = st.history.pop();
  if (!it) { showError(new Error('nothing to undo')); return; }
  try {
    await api('/api/undo', { id: it.id });
    st.acked = Math.max(0, st.acked - 1);
    st.seen.delete(it.id);
    st.queue = st.queue.filter((q) => q.id !== it.id);
    st.queue.unshift(it);
    renderItem();
    $('msg').textContent = 'undone: image ' + it.id;
  } catch (e) { st.history.push(it); showError(e); }
}

function showError(e) { $('msg').textContent = String(e.message || e); }

// ---- grid view ------------------------------------------------------------------

async function loadGrid() {
  $('g-msg').textContent = '';
  const n = $('grid-n').value;
  const j = await api('/api/grid?n=' + encodeURIComponent(n));
  st.grid = j.items.map((it) => ({ ...it, on: true }));
  st.gridFocus = 0;
  renderGrid();
  if (!st.grid.length) $('g-msg').textContent = 'no unlabeled images left';
}

function renderGrid() {
  const g = $('grid');
  g.replaceChildren();
  st.grid.forEach((it, i) => {
    const f = el('figure');
    if (!it.on) f.classList.add('off');
    if (i === st.gridFocus) f.classList.add('focus');
    const img = el('img'); img.src = '/api/thumb/' + it.id; img.alt = 'image ' + it.id;
    f.appendChild(img);
    const top = it.suggestions && it.suggestions[0];
    f.appendChild(el('figcaption', top ? top.name : 'image ' + it.id));
    f.dataset.id = it.id;
    f.addEventListener('click', () => { it.on = !it.on; st.gridFocus = i; renderGrid(); });
    g.appendChild(f);
  });
}

async function gridLabel(label) {
  const ids = st.grid.filter((it) => it.on).map((it) => it.id);
  if (!ids.length) { $('g-msg').textContent = 'no image selected'; return; }
  st.pending++; setSaving();
  try {
    await api('/api/label_many', { ids: ids.join(','), label: label });
    st.acked += ids.length;
    for (const id of ids) st.seen.add(id);
    st.queue = st.queue.filter((q) => !st.seen.has(q.id));
    await loadGrid();
    $('g-msg').textContent = 'labeled ' + ids.length + ' images "' + labelText(label) + '"';
  } catch (e) { $('g-msg').textContent = String(e.message || e); }
  finally { st.pending--; setSaving(); }
}

function gridKey(e) {
  const n = st.grid.length, cols = Math.max(1, Math.round($('grid').clientWidth / 190));
  if (!n) return false;
  if (e.key === 'ArrowRight') st.gridFocus = Math.min(n - 1, st.gridFocus + 1);
  else if (e.key === 'ArrowLeft') st.gridFocus = Math.max(0, st.gridFocus - 1);
  else if (e.key === 'ArrowDown') st.gridFocus = Math.min(n - 1, st.gridFocus + cols);
  else if (e.key === 'ArrowUp') st.gridFocus = Math.max(0, st.gridFocus - cols);
  else if (e.key === ' ') st.grid[st.gridFocus].on = !st.grid[st.gridFocus].on;
  else if (e.key === 'a') st.grid.forEach((it) => { it.on = true; });
  else if (e.key === 'x') st.grid.forEach((it) => { it.on = false; });
  else if (e.key === 'm') { loadGrid().catch((er) => { $('g-msg').textContent = er.message; }); return true; }
  else return false;
  renderGrid();
  return true;
}

// ---- dashboard -------------------------------------------------------------------

function fmt(x, d) { return x === null || x === undefined ? '-' : Number(x).toFixed(d); }

// Accuracy per model version with its 95 % interval, as inline SVG.
function chart(history) {
  const NS = 'http://www.w3.org/2000/svg', W = 320, H = 140, P = 28;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H);
  svg.setAttribute('role', 'img');
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e); return e;
  };
  mk('line', { x1: P, y1: H - P, x2: W - 8, y2: H - P, stroke: '#555' });
  mk('line', { x1: P, y1: 8, x2: P, y2: H - P, stroke: '#555' });
  mk('text', { x: 2, y: 14 }, '100%');
  mk('text', { x: 8, y: H - P }, '0%');
  if (!history.length) { mk('text', { x: P + 10, y: H / 2 }, 'no evaluations yet'); return svg; }
  const n = history.length;
  const x = (i) => P + (n === 1 ? (W - P) / 2 : 6 + i * (W - P - 20) / (n - 1));
  const y = (a) => H - P - a * (H - P - 8);
  let path = '';
  history.forEach((h, i) => {
    mk('line', { x1: x(i), x2: x(i), y1: y(h.lo), y2: y(h.hi), stroke: '#7a8fb0', 'stroke-width': 3 });
    path += (i ? 'L' : 'M') + x(i) + ' ' + y(h.accuracy);
    mk('text', { x: x(i) - 6, y: H - P + 14 }, 'v' + h.version);
  });
  mk('path', { d: path, fill: 'none', stroke: '#e0b060', 'stroke-width': 2 });
  history.forEach((h, i) => mk('circle', { cx: x(i), cy: y(h.accuracy), r: 3, fill: '#e0b060' }));
  return svg;
}

async function loadDash() {
  const s = await api('/api/stats');
  $('d-progress').textContent = s.labeled + ' of ' + s.images + ' images labeled';
  const tb = $('d-labels').tBodies[0];
  tb.replaceChildren();
  const max = Math.max(1, ...s.per_label.map((r) => r.count));
  for (const r of s.per_label) {
    const tr = el('tr');
    tr.appendChild(el('td', r.name ? r.name + ' (' + r.label + ')' : r.label));
    tr.appendChild(el('td', r.count, 'n'));
    const td = el('td'); const bar = el('div', null, 'bar');
    bar.style.width = Math.round(160 * r.count / max) + 'px';
    td.appendChild(bar); tr.appendChild(td);
    tb.appendChild(tr);
  }
  const at = $('d-ann').tBodies[0];
  at.replaceChildren();
  for (const a of s.annotators) {
    const tr = el('tr'); tr.appendChild(el('td', a.name)); tr.appendChild(el('td', a.labels, 'n'));
    at.appendChild(tr);
  }
  const au = s.audit;
  $('d-audit').textContent = au && au.run ? au.suspects + ' suspected label errors (' +
    au.recheck_pending + ' waiting for a recheck), ' + au.dup_groups + ' near-duplicate groups (' +
    au.dup_images + ' images), ' + au.leaks + ' evaluation leaks kept out of training' :
    'not audited yet (ordo audit)';
  const ag = s.agreement;
  $('d-kappa').textContent = ag.pairs + ' double-annotated images (share ' +
    fmt(100 * ag.double_share, 0) + '%), Cohen\'s kappa ' + fmt(ag.kappa, 2);
  const kt = $('d-kappa-t').tBodies[0];
  kt.replaceChildren();
  for (const k of ag.per_label) {
    const tr = el('tr'); tr.appendChild(el('td', labelText(k.label)));
    tr.appendChild(el('td', fmt(k.kappa, 2), 'n')); tr.appendChild(el('td', k.a + k.b, 'n'));
    kt.appendChild(tr);
  }
  const sp = s.sports, t = $('d-sports');
  t.replaceChildren();
  for (const [k, v] of [['answered sports', sp.answered_sports], ['answered not sports', sp.answered_not_sports],
    ['prior precision (p >= 0.5)', fmt(sp.prior_precision, 3)], ['prior recall (p >= 0.5)', fmt(sp.prior_recall, 3)]]) {
    const tr = el('tr'); tr.appendChild(el('td', k)); tr.appendChild(el('td', v, 'n')); t.appendChild(tr);
  }
  const ev = s.eval;
  $('d-eval').textContent = ev.available
    ? fmt(100 * ev.accuracy, 1) + '% (95% interval ' + fmt(100 * ev.lo, 1) + '-' + fmt(100 * ev.hi, 1) +
      '%, ' + ev.correct + ' of ' + ev.n + ' evaluation images, model v' + ev.version + ')'
    : 'no evaluation yet: label evaluation images and retrain';
  $('d-chart').replaceChildren(chart(ev.history.filter((h) => h.n > 0)));
  $('d-retrain').disabled = ev.training;
  $('d-retrain-msg').textContent = (ev.training ? 'training in the background... ' : '') + ev.message +
    (ev.retrain_every > 0 ? ' (retrains by itself every ' + ev.retrain_every + ' answers; ' + ev.since + ' so far)' : '');
  if (ev.training && st.view === 'dash') setTimeout(() => loadDash().catch(showError), 1500);
}

// ---- review ------------------------------------------------------------------------

async function loadReview() {
  const j = await api('/api/review');
  const box = $('review');
  box.replaceChildren();
  if (!j.items.length) box.appendChild(el('p', 'No disagreements to review.', 'muted'));
  for (const it of j.items) {
    const d = el('div', null, 'item');
    const img = el('img'); img.src = '/api/thumb/' + it.id; img.alt = 'image ' + it.id;
    d.appendChild(img);
    const choose = async (label) => {
      try { await api('/api/resolve', { id: it.id, label: label }); d.remove(); }
      catch (e) { d.appendChild(el('span', e.message)); }
    };
    for (const a of it.answers) {
      const b = el('button', a.annotator + ': ' + labelText(a.label));
      b.addEventListener('click', () => choose(a.label));
      d.appendChild(b);
    }
    const s = el('div', null, 'search');
    const inp = el('input'); inp.placeholder = 'another label';
    const ul = el('ul'); ul.setAttribute('role', 'listbox');
    s.appendChild(inp); s.appendChild(ul); d.appendChild(s);
    completer(inp, ul, choose);
    box.appendChild(d);
  }
}

// ---- views and keys ------------------------------------------------------------------

function show(view) {
  st.view = view;
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const b of document.querySelectorAll('#bar nav button[data-view]'))
    b.classList.toggle('on', b.dataset.view === view);
  const fail = (e) => showError(e);
  if (view === 'label') { if (!current()) fetchMore().then(renderItem).catch(fail); else renderItem(); }
  if (view === 'grid') loadGrid().catch((e) => { $('g-msg').textContent = e.message; });
  if (view === 'dash') loadDash().catch(fail);
  if (view === 'review') loadReview().catch(fail);
  if (location.hash !== '#' + view) history.replaceState(null, '', '#' + view);
}

function toggleHelp(on) { $('help').hidden = on === undefined ? !$('help').hidden : !on; }

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
  if (e.key === '?') { toggleHelp(); e.preventDefault(); return; }
  if (e.key === 'Escape') { toggleHelp(false); return; }
  if (!$('help').hidden) return;
  if (st.view === 'grid' && gridKey(e)) { e.preventDefault(); return; }
  const views = { l: 'label', g: 'grid', d: 'dash', r: 'review' };
  if (views[e.key] && st.view !== views[e.key]) { show(views[e.key]); e.preventDefault(); return; }
  if (e.key === '/') {
    $(st.view === 'grid' ? 'g-search' : 'search').focus(); e.preventDefault(); return;
  }
  if (st.view !== 'label') return;
  const it = current();
  if (e.key >= '1' && e.key <= '5') {
    const s = it && !it.eval ? it.suggestions[+e.key - 1] : null;
    if (s) answer(s.label);
  } else if (e.key === 'n') answer(SPECIAL.not);
  else if (e.key === 'u') answer(SPECIAL.unclear);
  else if (e.key === 's') answer(SPECIAL.skip);
  else if (e.key === 'z' || e.key === 'Backspace') undo();
  else return;
  e.preventDefault();
});

async function main() {
  for (const b of document.querySelectorAll('#bar nav button[data-view]'))
    b.addEventListener('click', () => show(b.dataset.view));
  $('nav-help').addEventListener('click', () => toggleHelp());
  $('help').addEventListener('click', () => toggleHelp(false));
  $('b-not').addEventListener('click', () => answer(SPECIAL.not));
  $('b-unclear').addEventListener('click', () => answer(SPECIAL.unclear));
  $('b-skip').addEventListener('click', () => answer(SPECIAL.skip));
  $('b-undo').addEventListener('click', () => undo());
  $('b-refresh').addEventListener('click', async () => {
    try { await api('/api/refresh', {}); await fetchMore(); renderItem(); } catch (e) { showError(e); }
  });
  $('g-all').addEventListener('click', () => { st.grid.forEach((it) => { it.on = true; }); renderGrid(); });
  $('g-none').addEventListener('click', () => { st.grid.forEach((it) => { it.on = false; }); renderGrid(); });
  $('g-more').addEventListener('click', () => loadGrid());
  $('grid-n').addEventListener('change', () => loadGrid());
  $('g-not').addEventListener('click', () => gridLabel(SPECIAL.not));
  $('d-retrain').addEventListener('click', async () => {
    try { await api('/api/retrain', {}); setTimeout(() => loadDash().catch(showError), 300); }
    catch (e) { $('d-retrain-msg').textContent = e.message; }
  });
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.href = '/login?t=' + encodeURIComponent($('login-token').value.trim());
  });
  completer($('search'), $('complete'), (label) => answer(label));
  completer($('g-search'), $('g-complete'), (label) => gridLabel(label));
  window.addEventListener('hashchange', () => {
    const v = location.hash.slice(1);
    if (['label', 'grid', 'dash', 'review'].includes(v) && v !== st.view) show(v);
  });
  window.addEventListener('beforeunload', (e) => { if (st.pending) e.preventDefault(); });
  try {
    await loadMe();
  } catch (e) { showLogin(); return; }
  await loadVocab().catch(showError);
  const v = location.hash.slice(1);
  show(['label', 'grid', 'dash', 'review'].includes(v) ? v : 'label');
  setSaving();
}

main();
