#!/usr/bin/python3
"""bench_ort.py - images/s of ONNX Runtime on the same network (anchor for
bench_net.sh). Usage: bench_ort.py MODEL.onnx SIZE THREADS BATCH SECONDS.
Prints "ort threads=T batch=B img/s=X rss_mb=Y". Session: intra-op threads =
THREADS, inter-op 1, sequential execution, all graph optimizations."""
import resource
import sys
import time

import numpy as np
import onnxruntime as ort

path, size, threads, batch, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5])
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
x = np.random.default_rng(12345).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
sess.run(None, {name: x})  # warm-up
images, t0, c0 = 0, time.perf_counter(), time.process_time()
while True:
    sess.run(None, {name: x})
    images += batch
    t = time.perf_counter() - t0
    if t >= secs and images >= 2 * batch:
        break
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
cpu_ms = (time.process_time() - c0) * 1e3 / images
print("ort threads=%d batch=%d img/s=%.2f rss_mb=%.1f cpu_ms/img=%.2f"
      % (threads, batch, images / t, rss, cpu_ms))
