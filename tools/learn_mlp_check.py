#!/usr/bin/env python3
"""Does a small MLP beat logistic regression on lite0 embeddings of sports100?
Pool split = training (all of it, and a random 1,000), test split = test.
usage: /usr/bin/python3 tools/learn_mlp_check.py PREFIX   (tools/learn_embed.py output)"""
import sys
import csv, time, numpy as np, warnings
warnings.filterwarnings("ignore")
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
rows = list(csv.DictReader(open(sys.argv[1] + '.csv'))); m = len(rows)
x = np.fromfile(sys.argv[1] + '.f32', np.float32, m*1280).reshape(m, 1280)
y = np.array([r['label'] for r in rows]); sp = np.array([r['split'] for r in rows])
tr, te = sp == 'pool', sp == 'test'
rng = np.random.default_rng(0)
for n in (1000, 3994):
    idx = np.flatnonzero(tr); idx = idx if n >= len(idx) else rng.choice(idx, n, replace=False)
    sc = StandardScaler().fit(x[idx]); a, b = sc.transform(x[idx]), sc.transform(x[te])
    t = time.time(); lr = LogisticRegression(C=1/(1e-3*len(idx)), class_weight='balanced', max_iter=300).fit(a, y[idx])
    print(f"n={len(idx)} logreg test acc {(lr.predict(b)==y[te]).mean():.4f} ({time.time()-t:.1f}s)", flush=True)
    for h, al in ((256, 1e-2), (512, 1e-1), (512, 1.0)):
        t = time.time(); mlp = MLPClassifier(hidden_layer_sizes=(h,), alpha=al, early_stopping=True, max_iter=300, random_state=0).fit(a, y[idx])
        print(f"n={len(idx)} MLP({h}) alpha {al} test acc {(mlp.predict(b)==y[te]).mean():.4f} ({time.time()-t:.1f}s)", flush=True)
