#!/usr/bin/env bash
# Seeds the fuzz_img corpus: the tiny file of each format that test_img
# embeds (when it is built), and small progressive JPEGs (grey, 4:4:4,
# 4:2:0; 128 px and more, so that the fuzzer's min_side of 16 picks DCT
# scale 1/8 and reaches jpeg.c's lean path, which leaves out the AC scans
# of the components decoded at 1x1). Without Pillow only the first kind.
set -u
mkdir -p "$1"
for b in build/tests/test_img build-san/tests/test_img; do
    [ -x "$b" ] && { "$b" --seeds "$1"; break; }
done
/usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo "fuzz_img: no Pillow, no progressive seeds" >&2
import sys, math
from PIL import Image
d = sys.argv[1]
def photo(w, h, mode):
    im = Image.new("RGB", (w, h))
    im.putdata([(int(128 + 100 * math.sin(x * 0.3 + y * 0.1)), (x * 7 + y * 3) % 256,
                 int(128 + 90 * math.cos(y * 0.25))) for y in range(h) for x in range(w)])
    return im.convert(mode)
def save(im, name, **kw):
    im.save(d + "/" + name, quality=40, progressive=True, **kw)
    with open(d + "/" + name, "ab") as f:   # odd length: fuzz_img's scaled path
        if f.tell() % 2 == 0:
            f.write(b"\0")                   # (bytes after EOI are ignored)
save(photo(129, 128, "L"), "prog_grey.jpg")
save(photo(128, 131, "RGB"), "prog_444.jpg", subsampling=0)
save(photo(133, 128, "RGB"), "prog_420.jpg", subsampling=2)
save(photo(256, 144, "RGB"), "prog_420_wide.jpg")
PY
exit 0
