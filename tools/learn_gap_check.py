#!/usr/bin/env python3
"""Why does the evaluation sample's interval miss the sports100 test accuracy?
An independent check of docs/learn.md ("Does the evaluation sample's interval
hold?") with scikit-learn on the embeddings a scanned project stores: over many
seeds, draw a 400-image evaluation sample from the pool, train logistic
regression on N random other pool images, and compare accuracy on the
evaluation sample, the rest of the pool and the test split; then ask whether
the gap comes from a minority of pool images (those wrong under almost every
seed) and look at near duplicates.
usage: OMP_NUM_THREADS=1 /usr/bin/python3 tools/learn_gap_check.py PROJECT LABELS.csv [SEEDS] [N]"""
import csv, os, sqlite3, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

proj, labcsv = sys.argv[1], sys.argv[2]
S = int(sys.argv[3]) if len(sys.argv) > 3 else 20
N = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
root = os.path.dirname(os.path.abspath(labcsv))
truth = {}
for r in csv.DictReader(open(labcsv, newline='')):
    truth[os.path.normpath(os.path.join(root, r['path']))] = (r['label'], r['split'])
db = sqlite3.connect(os.path.join(proj, '.ordo', 'ordo.db'))
rows = db.execute('SELECT f.path, i.slot FROM files f JOIN images i ON i.id = f.image_id '
                  'WHERE f.state = 0 ORDER BY i.id').fetchall()
emb = np.fromfile(os.path.join(proj, '.ordo', 'embed.f16'), dtype='<f2').reshape(-1, 1280)
rows = [(os.path.normpath(p.decode() if isinstance(p, bytes) else p), s) for p, s in rows]   # path is a BLOB
paths, slots = zip(*[(p, s) for p, s in rows if p in truth])
x = emb[list(slots)].astype(np.float32)
lab = np.array([truth[p][0] for p in paths]); split = np.array([truth[p][1] for p in paths])
classes = sorted(set(lab)); y = np.array([classes.index(l) for l in lab])
P = np.where(split == 'pool')[0]; T = np.where(split == 'test')[0]
print(f'pool {len(P)}, test {len(T)}, {len(classes)} classes; {S} seeds, {N} random training labels')

wrong_n = np.zeros(len(y)); held_n = np.zeros(len(y))
res = []
allpred = []
for s in range(S):
    rng = np.random.default_rng(1000 + s)
    perm = rng.permutation(P)
    ev, tr, rest = perm[:400], perm[400:400 + N], perm[400 + N:]
    sc = StandardScaler().fit(x[tr])
    # C = 1 / (l2 n) with l2 = 1e-3, about what ordo's cross-validation picks at 1,000 labels
    m = LogisticRegression(C=1.0 / (1e-3 * len(tr)), class_weight='balanced', max_iter=300)
    m.fit(sc.transform(x[tr]), y[tr])
    pred = np.full(len(y), -1)
    idx = np.concatenate([ev, rest, T])
    pred[idx] = m.predict(sc.transform(x[idx]))
    allpred.append(pred)
    ok = pred == y
    wrong_n[idx] += ~ok[idx]; held_n[idx] += 1
    a_e, a_r, a_t = ok[ev].mean(), ok[rest].mean(), ok[T].mean()
    n = len(ev); z = 1.959963984540054; c = (a_e + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * np.sqrt(a_e * (1 - a_e) / n + z * z / (4 * n * n))
    res.append((a_e, a_r, a_t, c - h <= a_t <= c + h, c - h <= a_r <= c + h))
    print(f'seed {s:2d}: eval {a_e:.3f}  rest-of-pool {a_r:.3f}  test {a_t:.3f}')
r = np.array(res, dtype=float)
print(f'mean eval {r[:,0].mean():.4f}  rest {r[:,1].mean():.4f}  test {r[:,2].mean():.4f}  '
      f'test - rest {np.mean(r[:,2] - r[:,1]):+.4f} (sd {np.std(r[:,2] - r[:,1], ddof=1):.4f})')
print(f'eval interval covers test in {r[:,3].mean():.2f} of seeds, rest of pool in {r[:,4].mean():.2f}')

# Per-image error rate over the seeds an image was held out in.
er = np.where(held_n > 0, wrong_n / np.maximum(held_n, 1), np.nan)
for name, ids in (('pool', P), ('test', T)):
    e = er[ids]; e = e[~np.isnan(e)]
    print(f'{name}: mean error {e.mean():.3f}; share of images wrong in >= 80 % of seeds {np.mean(e >= 0.8):.3f}, '
          f'never wrong {np.mean(e == 0):.3f}')
hard = P[er[P] >= 0.8]
pe = er[P]; te = er[T]
for cut in (0.8, 0.5):
    keep = P[er[P] < cut]
    print(f'pool without its images wrong in >= {int(cut*100)} % of seeds ({len(P) - len(keep)}): '
          f'mean error {er[keep].mean():.3f} vs test {te.mean():.3f}')

# Near duplicates (cosine of the raw embeddings) and the labels they carry.
xn = x / np.linalg.norm(x, axis=1, keepdims=True)
SPP = xn[P] @ xn[P].T; np.fill_diagonal(SPP, -1)
nn = SPP.argmax(1); nc = SPP.max(1)
dup = nc > 0.95
print(f'pool images with a pool near duplicate (cos > 0.95): {dup.mean():.3f}; of those, labels differ: '
      f'{np.mean(y[P][dup] != y[P][nn[dup]]):.3f}')
STP = xn[T] @ xn[P].T
tc = STP.max(1)
print(f'test images with a pool near duplicate (cos > 0.95): {np.mean(tc > 0.95):.3f}')
print('pool class error vs test class error (the 8 largest pool-minus-test gaps):')
gaps = []
for k, cn in enumerate(classes):
    pk = P[y[P] == k]; tk = T[y[T] == k]
    gaps.append((er[pk].mean() - er[tk].mean(), cn, er[pk].mean(), er[tk].mean()))
for g, cn, a, b in sorted(gaps, reverse=True)[:8]:
    print(f'  {cn:28s} pool {a:.2f} test {b:.2f}')
print(f'classes with pool error > test error: {sum(g[0] > 0 for g in gaps)} of {len(gaps)}')
print('a few pool images wrong under every seed (path, truth, most predicted):')
AP = np.array(allpred)
for i in hard[:12]:
    pi = AP[:, i]; pi = pi[(pi >= 0) & (pi != y[i])]
    top = classes[np.bincount(pi).argmax()] if len(pi) else '-'
    print('  ', os.path.relpath(paths[i], root), '|', lab[i], '|', top, f'| error {er[i]:.2f}')
