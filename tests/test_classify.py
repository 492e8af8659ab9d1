"""End-to-end tests of `ordo classify`: output formats, accuracy on the
ImageNet sample, and a run where hostile files sit among good ones.

Needs the built binary ($ORDO_BIN), the installed weights and ../shared
($ORDO_DATA); each test skips with a reason when something is absent."""
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

BIN = os.environ.get("ORDO_BIN", "build/ordo")
DATA = os.environ.get("ORDO_DATA", "../shared")
SAMPLE = os.path.join(DATA, "datasets", "imagenet-sample")
SPORTS = os.path.join(DATA, "datasets", "sports100")
results = {"passed": 0, "failed": 0, "skipped": 0}


class Skip(Exception):
    pass


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, **kw)


def need(path):
    if not os.path.exists(path):
        raise Skip(f"{path} absent")


def test(fn):
    name = fn.__name__
    try:
        fn()
        results["passed"] += 1
        print(f"ok   {name}")
    except Skip as e:
        results["skipped"] += 1
        print(f"skip {name}: {e}")
    except AssertionError as e:
        results["failed"] += 1
        print(f"FAIL {name}: {e}")
    except Exception as e:  # a crash in the test itself is a failure too
        results["failed"] += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
    sys.stdout.flush()
    return fn


def sample_files(n):
    need(SAMPLE)
    return sorted(os.path.join(SAMPLE, f) for f in os.listdir(SAMPLE))[:n]


def accuracy(model):
    r = run(["classify", "--model", model, "--top", "5", "--csv", SAMPLE])
    assert r.returncode == 0, r.stderr
    by = {}
    for row in csv.DictReader(io.StringIO(r.stdout)):
        by.setdefault(row["path"], []).append(row)
    t1 = t5 = 0
    for path, rows in by.items():
        truth = os.path.basename(path).split("_")[0]
        rows.sort(key=lambda x: int(x["rank"]))
        t1 += rows[0]["wnid"] == truth
        t5 += any(x["wnid"] == truth for x in rows[:5])
    return len(by), t1 / len(by), t5 / len(by)


@test
def csv_format():
    files = sample_files(3)
    r = run(["classify", "--csv", "--top", "3"] + files)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "path,rank,class_index,wnid,name,probability", lines[0]
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 9, len(rows)
    for i, row in enumerate(rows):
        assert row["path"] == files[i // 3]
        assert int(row["rank"]) == i % 3 + 1
        assert 0 <= int(row["class_index"]) < 1000
        assert row["wnid"].startswith("n") and len(row["wnid"]) == 9
        assert 0.0 <= float(row["probability"]) <= 1.0
    for i in range(0, 9, 3):   # probabilities descend within an image
        p = [float(rows[i + k]["probability"]) for k in range(3)]
        assert p == sorted(p, reverse=True), p
    # the tench photo's top class is the tench, named as in WordNet
    tench = [r for r in rows if "n01440764_tench" in r["path"]][0]
    assert tench["wnid"] == "n01440764" and tench["name"] == "tench, Tinca tinca", tench


@test
def json_format():
    files = sample_files(4)
    r = run(["classify", "--json", "--top", "2"] + files)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(l) for l in r.stdout.splitlines()]
    assert [o["path"] for o in objs] == files
    for o in objs:
        assert [t["rank"] for t in o["top"]] == [1, 2]
        assert abs(sum(t["probability"] for t in o["top"])) <= 1.0 + 1e-6


@test
def accuracy_imagenet_sample():
    need(SAMPLE)
    acc = {}
    for m in ("lite0", "lite1", "lite2"):
        n, t1, t5 = accuracy(m)
        acc[m] = t1
        print(f"    {m}: {n} images, top-1 {100 * t1:.1f} %, top-5 {100 * t5:.1f} %")
        assert n == 200, n
    assert acc["lite0"] >= 0.70, acc
    assert acc["lite2"] >= acc["lite0"], acc


def jpeg_declaring(real, w, h):
    """A real JPEG whose frame header (SOF) is patched to declare w x h."""
    b = bytearray(real)
    i = 2
    while i + 4 < len(b):
        assert b[i] == 0xFF, "bad marker walk"
        marker, seglen = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            b[i + 5:i + 9] = struct.pack(">HH", h, w)
            return bytes(b)
        i += 2 + seglen
    raise AssertionError("no SOF marker")


def png_bytes(w=4, h=3):
    rows = b"".join(b"\x00" + b"".join(bytes([(x * 50) % 256, (y * 70) % 256, 90]) for x in range(w))
                    for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@test
def hostile_files_among_good_ones():
    good = sample_files(3)
    with tempfile.TemporaryDirectory() as d:
        for f in good:
            shutil.copy(f, d)
        real = open(good[0], "rb").read()
        bad = {
            "zero.jpg": b"",
            "truncated.jpg": real[: len(real) // 3],
            "text.jpg": b"this is not an image\n" * 10,
            "huge.jpg": jpeg_declaring(real, 60000, 60000),
            "badcrc.png": bytearray(png_bytes()),
        }
        bad["badcrc.png"][-20] ^= 0xFF            # inside IDAT/IEND: breaks a CRC
        bad["badcrc.png"] = bytes(bad["badcrc.png"])
        for name, data in bad.items():
            open(os.path.join(d, name), "wb").write(data)
        open(os.path.join(d, "png_named.jpg"), "wb").write(png_bytes(32, 24))  # wrong extension: fine
        open(os.path.join(d, "notes.txt"), "w").write("not an image, not named like one\n")
        r = run(["classify", "--csv", "--top", "1", d], timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr)
        paths = {row["path"] for row in csv.DictReader(io.StringIO(r.stdout))}
        want = {os.path.join(d, os.path.basename(f)) for f in good} | {os.path.join(d, "png_named.jpg")}
        assert paths == want, (paths, want)
        err = r.stderr.splitlines()
        for name in bad:
            lines = [l for l in err if os.path.join(d, name) in l]
            assert len(lines) == 1, (name, err)
            reason = lines[0].split(name + ": ", 1)[-1]
            assert len(reason) > 5, (name, reason)
            print(f"    {name}: {reason}")
        assert not any("notes.txt" in l for l in err), err
        huge = [l for l in err if "huge.jpg" in l][0]
        assert "pixel" in huge or "large" in huge, huge
        # nothing classifiable: non-zero exit, with a reason per file
        r = run(["classify", os.path.join(d, "zero.jpg"), os.path.join(d, "text.jpg")])
        assert r.returncode != 0 and "zero.jpg" in r.stderr and "text.jpg" in r.stderr, r


@test
def corrupt_weights_file():
    files = sample_files(1)
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "lite0.pth")
        open(bad, "wb").write(b"\x80\x02" + b"\x00" * 100)
        r = run(["classify", "--weights", bad] + files)
        assert r.returncode != 0 and r.stdout == "", r
        assert "ordo classify:" in r.stderr and len(r.stderr.strip()) > 20, r.stderr
        print("    " + r.stderr.strip())
        r = run(["classify", "--weights", os.path.join(d, "nowhere")] + files)
        assert r.returncode != 0 and "weights" in r.stderr, r.stderr


@test
def usage_errors():
    r = run(["classify", "--model", "lite9", "x.jpg"])
    assert r.returncode == 2 and "lite9" in r.stderr, r
    r = run(["classify", "--top", "0", "x.jpg"])
    assert r.returncode == 2 and "--top" in r.stderr, r
    r = run(["classify"])
    assert r.returncode == 2, r


print(f"{results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
sys.exit(1 if results["failed"] else 0)
