#!/usr/bin/python3
"""Hostile and unusual image files, generated at test time (nothing binary is
committed; `test_img_corpus.py --seeds DIR` writes the small good ones as
fuzzing seeds): each bad file must give a clear one-line error, each good file
the right pixels, and the preprocessing of good files must equal the PIL
reference. Drives $BUILD/tests/test_img --dump (see tests/test_img.c).
Last line: "N passed, N failed, N skipped".
"""
import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_preprocess import HELPER, BUILD, DATA, ordo_dump, ref_preprocess  # noqa: E402

npass = nfail = nskip = 0
rng = np.random.default_rng(12345)


def check(name, ok, detail=""):
    global npass, nfail
    if ok:
        npass += 1
        print(f"ok   {name} {detail}")
    else:
        nfail += 1
        print(f"FAIL {name} {detail}")


def encode(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def photo(w, h):
    """A smooth colour pattern with some texture, so JPEG keeps real detail."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                  (x * 7 + y * 13) % 256], -1).astype(np.uint8)
    return a


def png_chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
         (1, 0, 2, 2), (0, 1, 1, 2))  # (x0, y0, dx, dy) per pass, PNG spec 8.2


def raw_png(arr, color_type, depth, interlace=False):
    """A minimal PNG writer for what PIL cannot save (16-bit RGB/RGBA, Adam7)."""
    h, w = arr.shape[:2]
    dt = ">u2" if depth == 16 else np.uint8

    def rows(a):
        return b"".join(b"\0" + r.astype(dt).tobytes() for r in a)

    if interlace:
        raw = b"".join(rows(arr[y0::dy, x0::dx]) for x0, y0, dx, dy in ADAM7
                       if arr[y0::dy, x0::dx].size)
    else:
        raw = rows(arr)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def over_white(rgba):
    a = rgba[..., 3:4].astype(np.int64)
    c = rgba[..., :3].astype(np.int64)
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def build_corpus():
    """Returns (good, bad): name -> (bytes, expected RGB, format) / (bytes, error substring)."""
    good = {}   # name -> (bytes, expected RGB array, expected format)
    bad = {}    # name -> (bytes, substring the error must contain)

    base = photo(64, 40)
    jpg = encode(Image.fromarray(base), "JPEG", quality=90)
    png = encode(Image.fromarray(base), "PNG")

    def pil_rgb(b):
        return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))

    # --- bad files ---
    bad["empty.jpg"] = (b"", "empty")
    bad["text.jpg"] = (b"this is not a photo, just text\n", "not an image")
    bad["random.bin"] = (rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not an image")
    bad["magic_only.jpg"] = (b"\xff\xd8\xff", "JPEG")
    real = None
    inet = os.path.join(DATA, "datasets", "imagenet-sample")
    if os.path.isdir(inet):
        real = open(os.path.join(inet, sorted(os.listdir(inet))[0]), "rb").read()
    src = real if real else jpg
    for cut in np.linspace(4, len(src) - 3, 40).astype(int):
        bad[f"trunc_{cut}.jpg"] = (src[:cut], "JPEG")
    # 60000x60000 declared in the SOF0 frame header of a real JPEG
    sof = jpg.index(b"\xff\xc0")
    bomb = bytearray(jpg)
    bomb[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    bad["bomb_60000.jpg"] = (bytes(bomb), "decompression bomb")
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    bad["bomb_60000.png"] = (png[:8] + png_chunk(b"IHDR", ihdr) + png[33:], "decompression bomb")
    idat = png.index(b"IDAT")
    crc_at = idat + 4 + struct.unpack(">I", png[idat - 4:idat])[0]
    for name, at in (("bad_crc_ihdr.png", 29), ("bad_crc_idat.png", crc_at)):
        b = bytearray(png)
        b[at] ^= 0x55
        bad[name] = (bytes(b), "CRC")
    b = bytearray(png)
    b[idat + 10] ^= 0x55
    bad["corrupt_idat.png"] = (bytes(b), "PNG")
    for cut in (8, 20, 40, len(png) // 2, crc_at - 3):
        bad[f"trunc_{cut}.png"] = (png[:cut], "PNG")
    webp = encode(Image.fromarray(base), "WEBP", quality=80)
    for cut in (12, 20, 30, len(webp) // 2, len(webp) - 1):
        bad[f"trunc_{cut}.webp"] = (webp[:cut], "WebP")
    gif = encode(Image.fromarray(base).convert("P"), "GIF")
    for cut in (6, 13, 30, len(gif) // 2):
        bad[f"trunc_{cut}.gif"] = (gif[:cut], "GIF")
    bmp = encode(Image.fromarray(base), "BMP")
    for cut in (14, 30, 60, len(bmp) // 2):
        bad[f"trunc_{cut}.bmp"] = (bmp[:cut], "BMP")
    bad["bmp_bomb.bmp"] = (bmp[:18] + struct.pack("<ii", 60000, 60000) + bmp[26:], "decompression bomb")

    # --- good files ---
    good["png_named.jpg"] = (png, base, "png")
    good["jpeg_named.png"] = (jpg, pil_rgb(jpg), "jpeg")
    b = encode(Image.fromarray(photo(61, 37)), "JPEG", progressive=True, quality=85)
    good["progressive.jpg"] = (b, pil_rgb(b), "jpeg")
    b = encode(Image.fromarray(photo(61, 37)), "JPEG", subsampling=0, quality=95, optimize=True)
    good["444_optimized.jpg"] = (b, pil_rgb(b), "jpeg")
    grey = base[..., 0]
    b = encode(Image.fromarray(grey, "L"), "JPEG")
    good["grey.jpg"] = (b, np.repeat(np.asarray(Image.open(io.BytesIO(b)))[..., None], 3, 2), "jpeg")
    good["grey.png"] = (encode(Image.fromarray(grey, "L"), "PNG"), np.repeat(grey[..., None], 3, 2), "png")
    pal = Image.fromarray(base).quantize(64)
    good["palette.png"] = (encode(pal, "PNG"), np.asarray(pal.convert("RGB")), "png")
    rgba = np.concatenate([base, (np.arange(64)[None, :, None] * 4 * np.ones((40, 1, 1))).astype(np.uint8)], 2)
    good["alpha.png"] = (encode(Image.fromarray(rgba, "RGBA"), "PNG"), over_white(rgba), "png")
    la = np.stack([grey, rgba[..., 3]], -1)
    good["grey_alpha.png"] = (encode(Image.fromarray(la, "LA"), "PNG"),
                              over_white(np.stack([grey, grey, grey, rgba[..., 3]], -1)), "png")
    w16 = rng.integers(0, 65536, (40, 64, 3)).astype(np.uint16)
    good["rgb16.png"] = (raw_png(w16, 2, 16), (w16 >> 8).astype(np.uint8), "png")
    a16 = rng.integers(0, 65536, (40, 64, 4)).astype(np.uint16)
    good["rgba16.png"] = (raw_png(a16, 6, 16), over_white((a16 >> 8).astype(np.uint8)), "png")
    g16 = rng.integers(0, 65536, (40, 64)).astype(np.uint16)
    good["grey16.png"] = (raw_png(g16, 0, 16), np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, 2), "png")
    odd = photo(13, 11)
    good["adam7.png"] = (raw_png(odd, 2, 8, interlace=True), odd, "png")
    good["adam7_rgb16.png"] = (raw_png(w16[:11, :13], 2, 16, interlace=True),
                               (w16[:11, :13] >> 8).astype(np.uint8), "png")
    cm = Image.fromarray(base).convert("CMYK")
    b = encode(cm, "JPEG", quality=95)
    good["cmyk.jpg"] = (b, np.asarray(Image.open(io.BytesIO(b)).convert("RGB")), "jpeg")
    # EXIF orientation 1..8 on a non-square image
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        b = encode(Image.fromarray(base), "JPEG", quality=90, exif=ex.tobytes())
        ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(b))).convert("RGB"))
        good[f"exif_{o}.jpg"] = (b, ref, "jpeg")
    for o in (3, 6, 8):  # the same tag in PNG eXIf and WebP EXIF chunks
        ex = Image.Exif()
        ex[0x0112] = o
        for fmt, kw in (("PNG", {}), ("WEBP", {"lossless": True})):
            b = encode(Image.fromarray(base), fmt, exif=ex.tobytes(), **kw)
            ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(b))).convert("RGB"))
            assert ref.shape[0] == (64 if o >= 5 else 40)
            good[f"exif_{o}.{fmt.lower()}"] = (b, ref, fmt.lower())
    one = np.array([[[200, 30, 90]]], np.uint8)
    good["one.png"] = (encode(Image.fromarray(one), "PNG"), one, "png")
    b = encode(Image.fromarray(one), "JPEG")
    good["one.jpg"] = (b, pil_rgb(b), "jpeg")
    col = photo(1, 300)
    good["1x300.png"] = (encode(Image.fromarray(col), "PNG"), col, "png")
    wide = photo(1000, 4)
    good["1000x4.png"] = (encode(Image.fromarray(wide), "PNG"), wide, "png")
    good["lossless.webp"] = (encode(Image.fromarray(base), "WEBP", lossless=True), base, "webp")
    good["lossy.webp"] = (webp, pil_rgb(webp), "webp")
    good["alpha.webp"] = (encode(Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True), over_white(rgba), "webp")
    frames = [Image.fromarray(base), Image.fromarray(255 - base)]
    b = io.BytesIO()
    frames[0].save(b, "WEBP", save_all=True, append_images=frames[1:], lossless=True, duration=100)
    good["animated.webp"] = (b.getvalue(), base, "webp")
    good["still.gif"] = (gif, pil_rgb(gif), "gif")
    pframes = [f.convert("P") for f in frames]
    b = io.BytesIO()
    pframes[0].save(b, "GIF", save_all=True, append_images=pframes[1:], duration=100)
    good["animated.gif"] = (b.getvalue(), np.asarray(pframes[0].convert("RGB")), "gif")
    tp = Image.fromarray(base).convert("P")
    tpa = np.asarray(tp)
    b = encode(tp, "GIF", transparency=int(tpa[0, 0]))
    exp = np.asarray(tp.convert("RGB")).copy()
    exp[tpa == tpa[0, 0]] = 255
    good["transparent.gif"] = (b, exp, "gif")
    good["rgb24.bmp"] = (bmp, base, "bmp")
    good["pal8.bmp"] = (encode(pal, "BMP"), np.asarray(pal.convert("RGB")), "bmp")
    bw = Image.fromarray(base[..., 0] > 128).convert("1")
    good["bw1.bmp"] = (encode(bw, "BMP"), np.asarray(bw.convert("RGB")), "bmp")
    return good, bad


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":  # fuzzing seeds: the good files
        good, _ = build_corpus()
        for n, (b, _, _) in good.items():
            if len(b) <= 4096:
                with open(os.path.join(sys.argv[2], n), "wb") as f:
                    f.write(b)
        sys.exit(0)
    if not os.access(HELPER, os.X_OK):
        global nskip
        nskip += 1
        print(f"skip all: helper {HELPER} not built (make BUILD={BUILD})")
        return
    good, bad = build_corpus()
    with tempfile.TemporaryDirectory() as d:
        names = list(bad) + list(good)
        paths = []
        for n in names:
            p = os.path.join(d, n)
            with open(p, "wb") as f:
                f.write(bad[n][0] if n in bad else good[n][0])
            paths.append(p)
        res = dict(zip(names, ordo_dump(paths, 0, 224)))
        nbad = 0
        for n in bad:
            r = res[n]
            msg = r.get("error", "")
            if "rgb" in r or bad[n][1] not in msg or "\n" in msg:
                nbad += 1
                print(f"     {n}: expected an error with '{bad[n][1]}', got "
                      f"{msg!r}" + (" (decoded!)" if "rgb" in r else ""))
        check("bad_files_refused", nbad == 0, f"({len(bad)} files, {nbad} wrong)")
        for n in ("empty.jpg", "text.jpg", "bomb_60000.jpg", "bad_crc_idat.png", "trunc_8.png"):
            if n in res:
                print(f"     e.g. {n}: {res[n].get('error')}")
        for n, (_, exp, fmt) in good.items():
            r = res[n]
            if "rgb" not in r:
                check(f"good_{n}", False, f"error: {r.get('error')}")
                continue
            got = r["rgb"]
            same_shape = got.shape == exp.shape
            diff = int(np.abs(got.astype(int) - exp.astype(int)).max()) if same_shape else -1
            tol = 1 if n == "cmyk.jpg" else 0
            ok = same_shape and diff <= tol and r.get("error") is None
            if ok and "tensor" in r:
                ref = ref_preprocess(Image.fromarray(exp), 224)
                tdiff = float(np.abs(r["tensor"] - ref).max())
                ok = tdiff <= (tol / 128 + 1e-6)
            else:
                tdiff = None
            check(f"good_{n}", ok, f"shape {got.shape} vs {exp.shape}, max diff {diff}, "
                                   f"tensor diff {tdiff}")
        # orig size reports the oriented declared size
        check("exif_orig_size", res["exif_6.jpg"]["orig"] == (40, 64) and
              res["exif_1.jpg"]["orig"] == (64, 40), str(res["exif_6.jpg"]["orig"]))


if __name__ == "__main__":
    main()
    print(f"{npass} passed, {nfail} failed, {nskip} skipped")
    sys.exit(1 if nfail else 0)
