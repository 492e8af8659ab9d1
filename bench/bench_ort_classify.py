#!/usr/bin/python3
"""bench_ort_classify.py - the anchor for bench_classify.sh: the whole
classify path done the usual Python way (PIL decode, bicubic resize, centre
crop, (p-127)/128, ONNX Runtime in batches), images/s.
Usage: bench_ort_classify.py MODEL.onnx SIZE THREADS BATCH LISTFILE [draft] [pool]
draft: Pillow's JPEG draft mode (its DCT scaling: Image.draft asks libjpeg
for the smallest scale >= the resize target) before decoding; pool: the
photos of a batch prepared by a thread pool of THREADS threads (PIL releases
the GIL while it decodes and resizes), overlapping with the previous
batch's inference."""
import resource
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

path, size, threads, batch, listfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5]
files = [l.rstrip("\n") for l in open(listfile)]
draft = "draft" in sys.argv[6:]
pool = "pool" in sys.argv[6:]
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
resize = int(round(size / 0.875))


def prep(f):
    im = Image.open(f)
    if draft:
        w, h = im.size
        s = resize / min(w, h)
        im.draft("RGB", (max(1, round(w * s)), max(1, round(h * s))))
    im = im.convert("RGB")
    w, h = im.size
    s = resize / min(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    w, h = im.size
    l, t = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
    im = im.crop((l, t, l + size, t + size))
    return (np.asarray(im, dtype=np.float32) - 127.0) / 128.0


sess.run(None, {name: np.zeros((1, 3, size, size), np.float32)})
t0 = time.perf_counter()
c0 = time.process_time()   # every thread's CPU: the pool's, ORT's
done = 0
if pool:
    from concurrent.futures import ThreadPoolExecutor
    ex = ThreadPoolExecutor(threads)
    batches = [files[i:i + batch] for i in range(0, len(files), batch)]
    nxt = [ex.submit(prep, f) for f in batches[0]] if batches else []
    for bi in range(len(batches)):
        x = np.stack([f.result() for f in nxt]).transpose(0, 3, 1, 2).copy()
        nxt = [ex.submit(prep, f) for f in batches[bi + 1]] if bi + 1 < len(batches) else []
        out = sess.run(None, {name: x})[0]
        done += len(x)
else:
    for i in range(0, len(files), batch):
        x = np.stack([prep(f) for f in files[i:i + batch]]).transpose(0, 3, 1, 2).copy()
        out = sess.run(None, {name: x})[0]
        done += len(x)
t = time.perf_counter() - t0
cpu = time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("ort-path threads=%d batch=%d img/s=%.2f rss_mb=%.1f cpu_ms/img=%.1f%s%s" % (threads, batch,
      done / t, rss, 1000 * cpu / max(done, 1), " draft" if draft else "", " pool" if pool else ""))
