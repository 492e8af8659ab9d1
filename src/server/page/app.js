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
  set: [],            // the project's label set [{name, parent, synset}]
  closed: false,
  back: null,         // an earlier answer brought back to see or change
  zoom: 1, panX: 0, panY: 0,
  keyAt: 0,           // performance.now() of the answering key press
  paint: [],          // key press -> next image painted, ms (window.__paint)
};
window.__paint = st.paint;

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
  st.set = v.set || [];
  st.closed = !!v.closed;
  const tied = new Set();
  for (const l of st.set) {
    have.add(l.name);
    if (l.synset) tied.add(l.synset);
    out.push({ label: l.name, text: l.parent ? l.parent + ' / ' + l.name : l.name,
               key: 'label', rank: 0, prefix: l.name.toLowerCase() });
  }
  for (const l of v.labels) {
    if (v.special.includes(l) || have.has(l)) continue;
    have.add(l);
    out.push({ label: l, text: labelText(l), key: 'label', rank: 0, prefix: l.toLowerCase() });
  }
  if (!st.closed)
    for (const [wnid, name] of v.synsets) {
      if (tied.has(wnid)) continue;
      out.push({ label: name.split(',')[0], synset: wnid, text: name + ' (' + wnid + ')', key: 'WordNet', rank: 1 });
    }
  st.vocab = out;
  st.codes = labelCodes(st.set.map((l) => l.name));
  // with a label set, letters are label keys: the buttons show what remains
  const setMode = st.set.length > 0;
  $('b-not').querySelector('kbd').hidden = setMode;
  $('b-unclear').querySelector('kbd').hidden = setMode;
  $('b-skip').querySelector('kbd').textContent = setMode ? 'space' : 's';
  $('mode').textContent = st.set.length ? st.set.length + ' labels' + (st.closed ? ' (closed set)' : '') : '';
}

// Fixed keys for the label set: a label whose initial no other label shares
// is one key (its letter); the others are two, the initial and a second
// letter from the name (the next word's initial if free, else its next
// letters, else any free letter). Stable for a given set.
function labelCodes(names) {
  const groups = new Map(), codes = new Map();
  for (const n of names) {
    const c = n.charAt(0).toLowerCase();
    if (c < 'a' || c > 'z') continue;
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(n);
  }
  for (const [c, g] of groups) {
    if (g.length === 1) { codes.set(g[0], c); continue; }
    const used = new Set();
    for (const n of g) {
      const low = n.toLowerCase(), words = low.split(/[^a-z]+/).filter(Boolean);
      const cand = [...words.slice(1).map((w) => w[0]), ...low.slice(1).replace(/[^a-z]/g, ''), ...'abcdefghijklmnopqrstuvwxyz'];
      const k = cand.find((x) => !used.has(x));
      if (!k) continue;   // more than 26 labels share an initial: search with /
      used.add(k);
      codes.set(n, c + k);
    }
  }
  return codes;
}

// The labels starting with a letter, best ranked for the image on screen first.
function byInitial(letter) {
  const it = current();
  const pos = new Map((it && it.order ? it.order : []).map((n, i) => [n, i]));
  return st.set.map((l) => l.name).filter((n) => (st.codes.get(n) || '')[0] === letter)
    .sort((a, b) => (pos.has(a) ? pos.get(a) : 1e6) - (pos.has(b) ? pos.get(b) : 1e6));
}

function renderKeys() {
  const ul = $('keys');
  ul.replaceChildren();
  ul.hidden = !st.prefix;
  if (!st.prefix) return;
  byInitial(st.prefix).forEach((n, i) => {
    const li = el('li');
    li.appendChild(el('kbd', i === 0 ? st.codes.get(n) + ' / Enter' : st.codes.get(n)));
    li.appendChild(el('span', n));
    li.dataset.label = n;
    li.dataset.code = st.codes.get(n);
    if (i === 0) li.className = 'sel';
    li.addEventListener('click', () => { st.prefix = null; renderKeys(); answer(n); });
    ul.appendChild(li);
  });
}

// A letter in the labeling view: one-key labels answer at once; otherwise the
// letter's labels are listed, and the second letter (or Enter for the best
// ranked) answers.
function prefixKey(key) {
  if (!st.prefix) {
    const g = byInitial(key);
    if (!g.length) return false;
    if (g.length === 1 && st.codes.get(g[0]) === key) { st.keyAt = performance.now(); answer(g[0]); return true; }
    st.prefix = key; renderKeys(); return true;
  }
  const g = byInitial(st.prefix);
  let pick = null;
  if (key === 'Enter') pick = g[0];
  else pick = g.find((n) => st.codes.get(n) === st.prefix + key) || null;
  if (key === 'Escape' || key === 'Backspace' || pick) { st.prefix = null; renderKeys(); }
  if (pick) { st.keyAt = performance.now(); answer(pick); }
  return true;
}

function matches(q) {
  q = q.trim().toLowerCase();
  if (!q) return [];
  const scored = [];
  // the project's labels starting with q come first, best ranked for the
  // image on screen first (the one-letter prefix search)
  const it = current();
  const order = it && it.order ? it.order : [];
  const pos = new Map(order.map((n, i) => [n, i]));
  for (const v of st.vocab) {
    if (v.rank !== 0 || !v.prefix || !v.prefix.startsWith(q)) continue;
    scored.push([-1, pos.has(v.label) ? pos.get(v.label) : 1e6 + v.text.length, v]);
  }
  for (const v of st.vocab) {
    if (v.rank === 0 && v.prefix && v.prefix.startsWith(q)) continue;
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
      li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(v.label, v.synset); });
      list.appendChild(li);
    });
  }
  function pick(label, synset) {
    input.value = ''; items = []; render(); input.blur();
    onPick(label, synset);
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
    if (typed && !st.closed && !items.some((v) => v.label === typed || v.text === typed))
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
        if (st.closed) return;   // a closed set offers only its own labels
        update(j.synsets.map(([wnid, name]) => ({ label: name.split(',')[0], synset: wnid, text: name + ' (' + wnid + ')', key: 'WordNet', rank: 1 })));
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
      if (items.length) pick(items[sel].label, items[sel].synset);
      else if (typed && !st.closed) pick(typed);      // a new label of the customer's own
    } else if (e.key === 'Escape') { input.value = ''; items = []; render(); input.blur(); }
  });
  // (a click on the list blurs first: clear a moment later, unless the
  // box has been focused again meanwhile, e.g. by the next prefix letter)
  input.addEventListener('blur', () => {
    setTimeout(() => { if (document.activeElement !== input) { items = []; render(); } }, 100);
  });
}

// ---- labeling view ------------------------------------------------------------

// The image on screen: an earlier answer brought back, else the queue's head.
function current() { return st.back || st.queue[0] || null; }

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
  // the next images are fetched and decoded ahead so moving on is instant
  for (const it of st.queue.slice(1, 5)) {
    if (it.pre) continue;
    it.pre = new Image();
    it.pre.src = '/api/image/' + it.id;
    if (it.pre.decode) it.pre.decode().catch(() => {});
  }
}

// One source for the counters: the server's ledger (the same numbers as
// `ordo labels` and the dashboard), refreshed with every acknowledged answer.
function renderProgress() {
  const p = st.progress;
  if (!p) return;
  if (p.batch_total !== undefined) {
    $('p-batch').max = Math.max(1, p.batch_total); $('p-batch').value = p.batch_done;
    $('p-batch-t').textContent = p.batch_done + ' / ' + p.batch_total;
  }
  $('p-all').max = Math.max(1, p.images); $('p-all').value = p.labeled;
  $('p-all-t').textContent = p.labeled + ' / ' + p.images;
  $('p-mine-t').textContent = p.mine + ' by ' + (st.me ? st.me.annotator : 'you');
}

function renderSuggestions(it) {
  const ol = $('sugg');
  ol.replaceChildren();
  ol.dataset.for = it ? it.id : '';
  ol.dataset.fresh = it && it.fresh ? '1' : '0';
  if (!it) return;
  (it.eval ? [] : it.suggestions).forEach((s, i) => {
    const li = el('li');
    li.appendChild(el('kbd', i + 1));
    li.appendChild(el('span', s.name || labelText(s.label)));
    li.appendChild(el('span', (100 * s.p).toFixed(1) + '%', 'p'));
    li.dataset.label = s.label;
    if (s.synset) li.dataset.synset = s.synset;
    li.addEventListener('click', () => answer(s.label, s.synset));
    ol.appendChild(li);
  });
}

// The per-answer model moves with every answer: ask again for the image on
// screen once the answers before it are in.
async function refreshSuggestions(it) {
  if (!it) return;   // evaluation images too: the server sends them no suggestions, only the file
  try {
    const j = await api('/api/suggest?id=' + it.id);
    it.suggestions = j.suggestions; it.order = j.order; it.fresh = true;
    it.file = j.file; it.folder = j.folder;
    const h = st.history.find((x) => x.id === it.id);
    if (h) { h.file = j.file; h.folder = j.folder; }
    if (current() === it) { renderSuggestions(it); renderPlace(it); }
  } catch (e) { /* the prefetched ones stay */ }
}

function applyZoom() {
  $('img').style.transform = 'translate(' + st.panX + 'px,' + st.panY + 'px) scale(' + st.zoom + ')';
  $('zoom').textContent = st.zoom === 1 ? '' : Math.round(st.zoom * 100) + '%';
}

function setZoom(z, cx, cy) {
  const old = st.zoom;
  st.zoom = Math.min(8, Math.max(1, z));
  if (st.zoom === 1) { st.panX = 0; st.panY = 0; }
  else if (cx !== undefined) {   // keep the point under the cursor in place
    st.panX = cx - (cx - st.panX) * st.zoom / old;
    st.panY = cy - (cy - st.panY) * st.zoom / old;
  }
  applyZoom();
}

function renderItem() {
  const it = current();
  if (st.prefix) { st.prefix = null; renderKeys(); }
  $('empty').hidden = !!it;
  $('img').hidden = !it;
  renderProgress();
  renderHistory();
  st.zoom = 1; st.panX = 0; st.panY = 0; applyZoom();
  if (!it) { $('meta').textContent = ''; renderPlace(null); $('eval-note').hidden = true; renderSuggestions(null); return; }
  const img = $('img');
  img.src = '/api/image/' + it.id;
  img.dataset.id = it.id;
  if (st.keyAt) {   // key press -> this image painted (decoded, then the next frame)
    const t0 = st.keyAt; st.keyAt = 0;
    // the frame after the decode, then a task: it runs once that frame is painted
    const done = () => requestAnimationFrame(() => setTimeout(() => {
      st.paint.push(performance.now() - t0);
    }, 0));
    (img.decode ? img.decode() : Promise.resolve()).then(done, done);
  }
  renderPlace(it);
  $('meta').textContent = st.back
    ? 'earlier answer: ' + (st.back.label || '(none)') + ' - press a key to change it, Esc to return'
    : 'image ' + it.id + ' - queued as ' + it.reason;
  $('eval-note').hidden = !it.eval;
  renderSuggestions(it);
  renderGroup(it);
}

// ---- near-duplicate groups (ordo audit) ------------------------------------------
//
// A photo in a group shows its members beside it; the answer then labels
// every selected member (one label event each, same annotator and time).
// Members the server will not label in bulk (evaluation images, images
// waiting for two independent answers, one on another annotator's screen)
// and members already answered start unselected.

function groupIds(it) {
  return it && it.gm && !st.back ? it.gm.filter((m) => m.on).map((m) => m.id) : [];
}

async function loadGroup(it) {
  try {
    const j = await api('/api/group?id=' + it.id);
    it.gm = j.members.map((m) => ({ ...m, on: m.id === it.id || (!m.not_free && !m.label) }));
    it.gsize = j.size;
  } catch (e) { it.gm = null; }
  if (current() === it) renderGroup(it);
}

function renderGroup(it) {
  const box = $('group');
  const show = it && !st.back && !it.eval && it.group !== undefined;
  box.hidden = !show;
  if (!show) return;
  if (it.gm === undefined) { it.gm = null; loadGroup(it); }
  const m = $('group-m');
  m.replaceChildren();
  if (!it.gm) { $('group-t').textContent = 'near-duplicate group of ' + it.group_size + ' photos...'; return; }
  const on = groupIds(it).length;
  $('group-t').textContent = on > 1
    ? 'Near-duplicates: your answer labels these ' + on + ' photos (click one to leave it out, * for this photo only)'
    : 'Near-duplicates of this photo: your answer labels this photo only (click others to include them, * for all)';
  if (it.gsize > it.gm.length) $('group-t').textContent += ' - first ' + it.gm.length + ' of ' + it.gsize;
  it.gm.forEach((g) => {
    const f = el('figure');
    const fixed = g.id === it.id || !!g.not_free;
    if (g.id === it.id) f.classList.add('here');
    else if (!g.on) f.classList.add('off');
    if (fixed) f.classList.add('fixed');
    const img = el('img'); img.src = '/api/thumb/' + g.id; img.alt = 'image ' + g.id;
    f.appendChild(img);
    f.appendChild(el('figcaption', g.id === it.id ? 'this photo' : g.not_free ? g.not_free
      : g.label ? g.label + (g.annotator ? ' (' + g.annotator + ')' : '') : 'unlabeled'));
    f.title = g.not_free || (g.label ? 'answered: ' + g.label : 'image ' + g.id);
    f.dataset.id = g.id;
    if (!fixed) f.addEventListener('click', () => { g.on = !g.on; renderGroup(it); });
    m.appendChild(f);
  });
}

// * : this photo only, or every member that may be labeled with it.
function toggleGroup() {
  const it = current();
  if (!it || !it.gm) return;
  const all = groupIds(it).length > 1;
  it.gm.forEach((g) => { g.on = g.id === it.id || (!all && !g.not_free); });
  renderGroup(it);
}

function renderPlace(it) {
  $('place').textContent = it && it.file ? it.file : '';
  $('place').title = it && it.folder ? it.folder : '';
  $('folder').textContent = it && it.folder ? it.folder : '';
}

function renderHistory() {
  const box = $('history');
  box.replaceChildren();
  st.history.slice(-8).forEach((h) => {
    const f = el('figure');
    if (st.back && st.back.id === h.id) f.className = 'on';
    const img = el('img'); img.src = '/api/thumb/' + h.id; img.alt = 'image ' + h.id;
    f.appendChild(img);
    f.appendChild(el('figcaption', (h.label || '') + (h.ids && h.ids.length > 1 ? ' x' + h.ids.length : '')));
    f.dataset.id = h.id;
    f.addEventListener('click', () => goBack(h));
    box.appendChild(f);
  });
}

// Brings an earlier answer back on screen; answering it again records a
// new event (nothing is deleted). Without h: one step further back.
async function goBack(h) {
  if (!h) {
    const i = st.back ? st.history.findIndex((x) => x.id === st.back.id) : st.history.length;
    h = st.history[i - 1];
    if (!h) return;
  }
  try {
    const j = await api('/api/item?id=' + h.id);
    h.label = j.label;
    st.back = { ...h, label: j.label, reason: 'change', eval: !!h.eval, suggestions: h.suggestions || [],
                order: h.order, fresh: true };
    renderItem();
    refreshSuggestions(st.back);
  } catch (e) { showError(e); }
}

function leaveBack() { st.back = null; renderItem(); }

async function answer(label, synset) {
  const it = current();
  if (!it) return;
  st.keyAt = st.keyAt || performance.now();
  const back = st.back;
  if (back) st.back = null;
  else { st.queue.shift(); st.seen.add(it.id); }
  const h = back ? st.history.find((x) => x.id === it.id) : { id: it.id, eval: it.eval, suggestions: it.suggestions, order: it.order, file: it.file, folder: it.folder, group: it.group, group_size: it.group_size };
  if (!back) st.history.push(h);
  h.label = label;
  st.pending++; setSaving();
  renderItem();
  if (st.queue.length < 4) fetchMore().then(renderProgress).catch(showError);
  else prefetch();
  const form = { id: it.id, label: label };
  if (synset) form.synset = synset;
  // the group of the photo (not for a skip: that is no answer)
  const ids = back || label === SPECIAL.skip ? [] : groupIds(it);
  if (ids.length > 1) {
    form.ids = ids.join(',');
    h.ids = ids;
    for (const id of ids) st.seen.add(id);
    st.queue = st.queue.filter((q) => !st.seen.has(q.id));
  }
  try {
    const j = await api(ids.length > 1 ? '/api/label_group' : '/api/label', form);
    if (ids.length > 1) $('msg').textContent = 'labeled ' + ids.length + ' near-duplicates "' + labelText(label) + '"';
    if (j.progress) st.progress = Object.assign(st.progress || {}, j.progress);
    st.acked++;
    if (st.acked % 20 === 0) loadEvalLine();   // a retraining may have finished
    if (!st.vocab.some((v) => v.label === label) && !Object.values(SPECIAL).includes(label))
      st.vocab.unshift({ label: label, text: labelText(label), key: 'label', rank: 0, prefix: label.toLowerCase() });
  } catch (e) {
    // not saved: put it back in front so nothing is lost silently
    if (!back) {
      st.history = st.history.filter((x) => x !== h);
      for (const id of h.ids || [it.id]) st.seen.delete(id);
      delete h.ids;
      st.queue.unshift(it);
    }
    renderItem();
    showError(e);
  } finally { st.pending--; setSaving(); renderProgress(); }
  if (!current()) fetchMore().then(renderItem).catch(showError);
  else if (!st.pending) refreshSuggestions(current());
}

async function undo() {
  const h = st.back || st.history[st.history.length - 1];
  if (!h) { showError(new Error('nothing to undo')); return; }
  try {
    // a group answer is undone member by member (the photo on screen last)
    for (const id of (h.ids || []).filter((x) => x !== h.id)) { await api('/api/undo', { id: id }); st.seen.delete(id); }
    await api('/api/undo', { id: h.id });
    st.acked = Math.max(0, st.acked - 1);
    st.history = st.history.filter((x) => x.id !== h.id);
    st.seen.delete(h.id);
    st.back = null;
    const it = { id: h.id, reason: 'undo', eval: !!h.eval, suggestions: h.suggestions || [], order: h.order,
                 file: h.file, folder: h.folder, group: h.group, group_size: h.group_size };
    st.queue = st.queue.filter((q) => q.id !== h.id);
    st.queue.unshift(it);
    renderItem();
    refreshSuggestions(it);
    $('msg').textContent = 'undone: image ' + h.id;
  } catch (e) { showError(e); }
}

function showError(e) { $('msg').textContent = String(e.message || e); }

// ---- grid view ------------------------------------------------------------------

// The grid starts with nothing selected: one stray key must not label a
// whole page of mixed photos. near: "more like this" for that image.
async function loadGrid(near) {
  $('g-msg').textContent = '';
  const n = $('grid-n').value;
  st.gridNear = near || null;
  const j = await api('/api/grid?n=' + encodeURIComponent(n) + (near ? '&near=' + near : ''));
  st.grid = j.items.map((it) => ({ ...it, on: false }));
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
    img.srcset = '/api/thumb/' + it.id + ' 1x, /api/image/' + it.id + ' 2x';   // crisp on high-DPI
    f.appendChild(img);
    const top = it.suggestions && it.suggestions[0];
    f.appendChild(el('figcaption', top ? top.name : 'image ' + it.id));
    f.dataset.id = it.id;
    f.addEventListener('click', () => { it.on = !it.on; st.gridFocus = i; renderGrid(); });
    f.addEventListener('dblclick', () => loadGrid(it.id));   // more like this one
    g.appendChild(f);
  });
}

async function gridLabel(label, synset) {
  const ids = st.grid.filter((it) => it.on).map((it) => it.id);
  if (!ids.length) { $('g-msg').textContent = 'no image selected (space or click selects)'; return; }
  if (ids.length > 8 && !window.confirm('Label ' + ids.length + ' images "' + label + '"?')) return;
  st.pending++; setSaving();
  try {
    const form = { ids: ids.join(','), label: label };
    if (synset) form.synset = synset;
    await api('/api/label_many', form);
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
  else if (e.key === 'M') { loadGrid(st.grid[st.gridFocus].id).catch((er) => { $('g-msg').textContent = er.message; }); return true; }
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
  // each part from the newest run that looked for it (ordo audit --labels / --dups)
  $('d-audit').textContent = !au || !au.run ? 'not audited yet (ordo audit)' :
    (au.labels_run ? au.suspects + ' suspected label errors (' + au.recheck_pending +
      ' waiting for a recheck by a second annotator)' : 'label errors not audited (ordo audit --labels)') + '; ' +
    (au.dups_run ? au.dup_groups + ' near-duplicate groups (' + au.dup_images + ' images, cosine >= ' +
      au.cosine + '); ' + au.leaks + ' training labels near-duplicate evaluation photos (leaks: retraining keeps them out)'
      : 'near-duplicates not audited (ordo audit --dups)');
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
      '%, ' + ev.correct + ' of ' + ev.n + ' evaluation images, model v' + ev.version + ')' +
      (ev.leaks_kept_in ? ' - OPTIMISTIC: trained with ' + ev.leaks_kept_in +
        ' near-duplicates of evaluation photos (too few labels without them)' : '')
    : 'no evaluation yet: label evaluation images and retrain';
  $('d-chart').replaceChildren(chart(ev.history.filter((h) => h.n > 0)));
  $('d-retrain').disabled = ev.training;
  $('d-retrain-msg').textContent = (ev.training ? 'training in the background... ' : '') + ev.message +
    (ev.retrain_every > 0 ? ' (retrains by itself every ' + ev.retrain_every + ' answers; ' + ev.since + ' so far)' : '');
  if (ev.training && st.view === 'dash') setTimeout(() => loadDash().catch(showError), 1500);
  const gt = $('d-gold').tBodies[0];
  gt.replaceChildren();
  for (const g of s.gold || []) {
    const tr = el('tr'); tr.appendChild(el('td', g.name));
    tr.appendChild(el('td', fmt(100 * g.accuracy, 0) + '% [' + fmt(100 * g.lo, 0) + ', ' + fmt(100 * g.hi, 0) + ']', 'n'));
    tr.appendChild(el('td', g.n, 'n'));
    gt.appendChild(tr);
  }
  $('d-set-card').hidden = !st.me || st.me.role !== 'admin';
  if (!$('d-set-card').hidden && !$('d-set').dataset.loaded) {
    const ls = await api('/api/labelset');
    $('d-set').value = ls.text; $('d-set').dataset.loaded = '1';
  }
}

// The newest model's evaluation accuracy, shown in the labeling view too.
async function loadEvalLine() {
  try {
    const s = await api('/api/stats');
    const ev = s.eval;
    $('eval-line').textContent = ev.available
      ? 'model v' + ev.version + ': ' + fmt(100 * ev.accuracy, 0) + '% [' + fmt(100 * ev.lo, 0) + ', ' +
        fmt(100 * ev.hi, 0) + '] on ' + ev.n + ' evaluation images' +
        (ev.leaks_kept_in ? ' - optimistic: trained with near-duplicates of evaluation photos' :
         ev.hi - ev.lo < 0.1 ? ' - interval under 10 points: more labels change little' : '')
      : 'no evaluated model yet';
  } catch (e) { /* the line is optional */ }
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

function show(view, near) {
  st.view = view;
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const b of document.querySelectorAll('#bar nav button[data-view]'))
    b.classList.toggle('on', b.dataset.view === view);
  const fail = (e) => showError(e);
  if (view === 'label') {
    if (!current()) fetchMore().then(() => { renderItem(); refreshSuggestions(current()); }).catch(fail);
    else renderItem();
    loadEvalLine();
  }
  if (view === 'grid') loadGrid(near).catch((e) => { $('g-msg').textContent = e.message; });
  if (view === 'dash') loadDash().catch(fail);
  if (view === 'review') loadReview().catch(fail);
  if (location.hash !== '#' + view) history.replaceState(null, '', '#' + view);
}

function toggleHelp(on) { $('help').hidden = on === undefined ? !$('help').hidden : !on; }

// With a label set, letters type the first letters of a label (the prefix
// search: a letter, then Enter for the best ranked match); the commands move
// to keys that are not letters. Without one, the letter commands stay.
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT' || e.target.tagName === 'TEXTAREA') return;
  if (e.key === '?') { toggleHelp(); e.preventDefault(); return; }
  if (e.key === 'Escape') { toggleHelp(false); if (st.back) leaveBack(); return; }
  if (!$('help').hidden) return;
  if (st.view === 'grid' && gridKey(e)) { e.preventDefault(); return; }
  const setMode = st.set.length > 0;
  const views = setMode ? { L: 'label', G: 'grid', D: 'dash', R: 'review' }
                        : { l: 'label', g: 'grid', d: 'dash', r: 'review' };
  if (views[e.key] && st.view !== views[e.key]) { show(views[e.key]); e.preventDefault(); return; }
  if (e.key === '/') {
    $(st.view === 'grid' ? 'g-search' : 'search').focus(); e.preventDefault(); return;
  }
  if (st.view !== 'label') return;
  const it = current();
  if (e.key >= '1' && e.key <= '5') {
    const s = it && !it.eval ? it.suggestions[+e.key - 1] : null;
    if (s) { st.keyAt = performance.now(); answer(s.label, s.synset); }
  } else if (setMode && st.prefix && (/^[a-z]$/.test(e.key) || ['Enter', 'Escape', 'Backspace'].includes(e.key))) {
    prefixKey(e.key);
  } else if (setMode && /^[a-z]$/.test(e.key)) {
    if (!prefixKey(e.key)) return;
  } else if (e.key === '+' || e.key === '=') setZoom(st.zoom * 1.5);
  else if (e.key === '-' && (setMode || st.zoom > 1)) setZoom(st.zoom / 1.5);
  else if (e.key === '0') setZoom(1);
  else if (e.key === 'ArrowLeft') goBack();
  else if (e.key === 'ArrowRight' && st.back) leaveBack();
  else if (e.key === 'M' || (!setMode && e.key === 'm')) { if (it) show('grid', it.id); }
  else if (!setMode && e.key === 'n') answer(SPECIAL.not);
  else if (!setMode && e.key === 'u') answer(SPECIAL.unclear);
  else if (e.key === ' ' || (!setMode && e.key === 's')) answer(SPECIAL.skip);
  else if (e.key === 'Backspace' || (!setMode && e.key === 'z')) undo();
  else if (e.key === '*') toggleGroup();
  else return;
  e.preventDefault();
});

// Zoom with the wheel around the cursor, pan by dragging.
function zoomPan() {
  const box = $('imgbox');
  box.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = box.getBoundingClientRect();
    setZoom(st.zoom * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - r.left - r.width / 2, e.clientY - r.top - r.height / 2);
  }, { passive: false });
  let drag = null;
  box.addEventListener('mousedown', (e) => {
    if (st.zoom === 1) return;
    drag = { x: e.clientX - st.panX, y: e.clientY - st.panY }; e.preventDefault();
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    st.panX = e.clientX - drag.x; st.panY = e.clientY - drag.y; applyZoom();
  });
  window.addEventListener('mouseup', () => { drag = null; });
  box.addEventListener('dblclick', () => setZoom(st.zoom === 1 ? 2.5 : 1));
}

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
  completer($('search'), $('complete'), (label, synset) => { st.keyAt = performance.now(); answer(label, synset); });
  completer($('g-search'), $('g-complete'), (label, synset) => gridLabel(label, synset));
  zoomPan();
  $('b-more').addEventListener('click', () => { const it = current(); if (it) show('grid', it.id); });
  $('b-back').addEventListener('click', () => goBack());
  $('d-set-save').addEventListener('click', async () => {
    try {
      await api('/api/labelset', { text: $('d-set').value });
      await loadVocab(); $('d-set-msg').textContent = 'saved: ' + st.set.length + ' labels';
    } catch (e) { $('d-set-msg').textContent = e.message; }
  });
  window.addEventListener('hashchange', () => {
    const v = location.hash.slice(1);
    if (['label', 'grid', 'dash', 'review'].includes(v) && v !== st.view) show(v);
  });
  window.addEventListener('beforeunload', (e) => { if (st.pending) e.preventDefault(); });
  try {
    await loadMe();
  } catch (e) { showLogin(); return; }
  await loadVocab().catch(showError);
  document.body.dataset.role = st.me.role;
  const v = location.hash.slice(1);
  show(['label', 'grid', 'dash', 'review'].includes(v) ? v : 'label');
  setSaving();
}

main();
