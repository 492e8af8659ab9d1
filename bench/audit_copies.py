#!/usr/bin/env python3
"""Altered copies of sports100 pool photos for the near-duplicate benchmark.

Picks N pool photos (seeded) and writes five separate copies of each with
Pillow: JPEG quality 30, half size, 90 % centre crop, horizontal flip,
brightness +20 %. Prints "copy_path,original_path" lines to pairs.csv so the
benchmark knows which pairs are true copies.

usage: audit_copies.py POOL_DIR OUT_DIR N SEED
"""
import os
import random
import sys

from PIL import Image, ImageEnhance, ImageOps


def alterations(im):
    w, h = im.size
    yield "q30", im, {"quality": 30}
    yield "half", im.resize((max(1, w // 2), max(1, h // 2)), Image.BICUBIC), {"quality": 90}
    cw, ch = int(w * 0.9), int(h * 0.9)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    yield "crop90", im.crop((x0, y0, x0 + cw, y0 + ch)), {"quality": 90}
    yield "hflip", ImageOps.mirror(im), {"quality": 90}
    yield "bright120", ImageEnhance.Brightness(im).enhance(1.2), {"quality": 90}


def main():
    pool, out, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    files = []
    for root, _dirs, names in os.walk(pool):
        for name in names:
            files.append(os.path.join(root, name))
    files.sort()
    rnd = random.Random(seed)
    picked = rnd.sample(files, min(n, len(files)))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pairs.csv"), "w") as pairs:
        pairs.write("copy,original,kind\n")
        for i, path in enumerate(picked):
            try:
                im = Image.open(path)
                im = ImageOps.exif_transpose(im).convert("RGB")
            except OSError:
                continue
            for kind, alt, kw in alterations(im):
                dst = os.path.join(out, kind, "%04d.jpg" % i)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                alt.save(dst, "JPEG", **kw)
                pairs.write('"%s","%s",%s\n' % (os.path.abspath(dst), os.path.abspath(path), kind))


if __name__ == "__main__":
    main()
