#!/usr/bin/env python3
"""Keystrokes per label through `ordo serve`'s API, answered from the truth.

    bench/serve_keys.py URL PROJECT N

Plays the page's keyboard rules without a browser (tests/
test_browser_annotator.py is the same annotator with real key presses):
for each of N images in queue order it asks /api/suggest (as the page does
for the image on screen), counts 1 key when the true label (the folder
above the file) is among keys 1-5, else the label's fixed keys (1 when no
other label shares its initial, else 2), and posts the answer. Prints
the mean keystrokes and the top-5 hit rate per block of 50 labels."""
import http.client
import json
import os
import sqlite3
import sys
import time
import urllib.parse


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    url = urllib.parse.urlparse(sys.argv[1])
    project, n = sys.argv[2], int(sys.argv[3])
    con = sqlite3.connect(os.path.join(project, ".ordo", "ordo.db"))
    truth = {}
    for iid, path in con.execute("SELECT image_id, path FROM files WHERE state = 0"):
        path = path.decode() if isinstance(path, bytes) else path
        truth[iid] = os.path.basename(os.path.dirname(path))
    con.close()
    c = http.client.HTTPConnection(url.hostname, url.port)
    host = "%s:%d" % (url.hostname, url.port)

    def req(method, path, form=None, h=None):
        hd = {"Host": host}
        hd.update(h or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            hd["Content-Type"] = "application/x-www-form-urlencoded"
        c.request(method, path, body=body, headers=hd)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")

    csrf = req("GET", "/api/me")[1]["csrf"]
    vocab = req("GET", "/api/vocab")[1]
    setnames = [x["name"] for x in vocab["set"]]
    keys, hits, had = [], [], []
    queue = []
    while len(keys) < n:
        if not queue:
            j = req("GET", "/api/next?n=8")[1]
            queue = j["items"]
            if not queue:
                if not j["progress"]["refilling"]:
                    break
                time.sleep(0.5)   # the composer prepares the next batch
                continue
        it = queue.pop(0)
        s = req("GET", "/api/suggest?id=%d" % it["id"])[1]
        label = truth[it["id"]]
        sugg = [x["label"] for x in s["suggestions"]]
        if label in sugg:
            k = 1
        else:   # the page's fixed keys: initial (+ second letter or Enter)
            group = [nm for nm in setnames if nm[0].lower() == label[0].lower()]
            k = 1 if len(group) == 1 else 2
        keys.append(k)
        had.append(bool(sugg))
        hits.append(label in sugg)
        st, _ = req("POST", "/api/label", {"id": it["id"], "label": label}, {"X-Ordo-CSRF": csrf})
        if st != 200:
            print("label refused: %d" % st)
            return 1
        queue = [q for q in queue if q["id"] != it["id"]]
    for b in range(0, len(keys), 50):
        ks, hs, hd = keys[b:b + 50], hits[b:b + 50], had[b:b + 50]
        print("labels %3d-%3d: keys/label %.2f, top-5 hits %d of %d with suggestions" % (
            b + 1, b + len(ks), sum(ks) / len(ks), sum(hs), sum(hd)))
    print("RESULT keystrokes per label over %d labels: %.3f; top-5 hits %d of %d" % (
        len(keys), sum(keys) / len(keys), sum(hits), sum(had)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
