#!/usr/bin/env bash
# Seeds the fuzz_npy corpus with small .npy files numpy writes (float16 and
# float32, 1-d and 2-d, format versions 1 and 2); without numpy the fuzzer
# starts from one hand-written header.
set -u
mkdir -p "$1"
printf "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }%*s\n\x00\x00\x80\x3f\x00\x00\x00\x40" 58 "" > "$1/hand.npy"
/usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo "fuzz_npy: no numpy, one seed" >&2
import sys, numpy as np
from numpy.lib import format as F
d = sys.argv[1]
np.save(d + "/a.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
np.save(d + "/b.npy", np.arange(5, dtype=np.float16))
with open(d + "/c.npy", "wb") as f:
    F.write_array(f, np.ones((2, 3), np.float32), version=(2, 0))
PY
exit 0
