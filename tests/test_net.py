#!/usr/bin/python3
"""test_net.py - ordo's network against the PyTorch reference on real photos.

Both sides get the SAME preprocessed tensors (tools/reference.py prep: a
plain PIL resize + crop; the decode/resize path is tested separately), so
any difference is the network's. For lite0, lite1 and lite2: max |logit
difference| <= 1e-3 and identical top-1 on every one of 60 photos (40 from
imagenet-sample, 20 from sports100); embeddings within 1e-3. lite0 is also
checked on the portable C and AVX2 kernels, and with 1 thread.

Needs torch + efficientnet_lite_pytorch (/usr/bin/python3), the weights
(ordo weights install) and $ORDO_DATA; skips with a reason otherwise.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

passed = failed = skipped = 0


def result(name, ok, msg=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s %s" % (name, msg))
    else:
        failed += 1
        print("FAIL %s %s" % (name, msg))


def skip(name, why):
    global skipped
    skipped += 1
    print("skip %s: %s" % (name, why))


def photos(data):
    inet = os.path.join(data, "datasets", "imagenet-sample")
    sports = os.path.join(data, "datasets", "sports100", "test")
    out = sorted(os.path.join(inet, f) for f in os.listdir(inet))[::5][:40]
    classes = sorted(os.listdir(sports))[::5]
    for c in classes[:20]:
        files = sorted(os.listdir(os.path.join(sports, c)))
        if files:
            out.append(os.path.join(sports, c, files[0]))
    return out


def main():
    names = ["lite0", "lite1", "lite2"]
    try:
        import numpy as np
        import torch  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
        import reference
    except ImportError as e:
        for m in names:
            skip("net_vs_torch_" + m, "PyTorch reference unavailable (%s)" % e)
        return
    data = os.environ.get("ORDO_DATA", os.path.join(ROOT, "..", "shared"))
    helper = os.path.join(ROOT, os.environ.get("BUILD", "build"), "tests", "test_net")
    if not os.path.isdir(os.path.join(data, "datasets", "imagenet-sample")):
        for m in names:
            skip("net_vs_torch_" + m, "no shared data at %s" % data)
        return
    if not os.access(helper, os.X_OK):
        for m in names:
            skip("net_vs_torch_" + m, "helper %s not built" % helper)
        return
    imgs = photos(data)
    with tempfile.TemporaryDirectory() as tmp:
        for m in names:
            name = "net_vs_torch_" + m
            wpath = reference.weights_path(m, None)
            if not os.path.isfile(wpath):
                skip(name, "weights %s not installed (ordo weights install)" % wpath)
                continue
            f = lambda s: os.path.join(tmp, "%s_%s.f32" % (m, s))
            reference.prep(type("A", (), {"model": m, "out": f("in"), "images": imgs}))
            n = len(imgs)
            reference.run(type("A", (), {"model": m, "weights": wpath, "input": f("in"),
                                         "n": n, "logits": f("rl"), "embed": f("re")}))
            rl = np.fromfile(f("rl"), np.float32).reshape(n, 1000)
            re = np.fromfile(f("re"), np.float32).reshape(n, 1280)
            runs = [("default", {}, "2")]
            if m == "lite0":
                runs += [("c", {"ORDO_KERNEL": "c"}, "2"), ("avx2", {"ORDO_KERNEL": "avx2"}, "2"),
                         ("1thread", {}, "1")]
            for label, env, threads in runs:
                p = subprocess.run([helper, "--run", m, wpath, f("in"), str(n), f("ol"), f("oe"),
                                    threads], env=dict(os.environ, **env),
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    if "does not support" in p.stderr:
                        skip("%s_%s" % (name, label), p.stderr.strip())
                    else:
                        result("%s_%s" % (name, label), False, p.stderr.strip())
                    continue
                ol = np.fromfile(f("ol"), np.float32).reshape(n, 1000)
                oe = np.fromfile(f("oe"), np.float32).reshape(n, 1280)
                dl = float(np.abs(ol - rl).max())
                de = float(np.abs(oe - re).max())
                top = int((ol.argmax(1) == rl.argmax(1)).sum())
                ok = dl <= 1e-3 and de <= 1e-3 and top == n
                result("%s_%s" % (name, label), ok,
                       "(%s; %d photos: max |logit diff| %.3g, max |embed diff| %.3g, "
                       "top-1 identical %d/%d)" % (p.stdout.strip(), n, dl, de, top, n))


main()
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
