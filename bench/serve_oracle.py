#!/usr/bin/env python3
"""The labeling loop through `ordo serve`'s API with known labels as the oracle.

    bench/serve_oracle.py URL PROJECT N [N ...]

For each N: takes N images from /api/next in queue order and posts the true
label of each (the class folder above the file: .../pool/<label>/<file>, as
in sports100), counting how often the page's top-5 suggestions held it;
then waits for the server's background retraining (start the server with
--retrain-every) and prints the model history from /api/stats.
Example (the figures in docs/serve.md):
    ordo serve --project P --port 8080 --retrain-every 150 &
    bench/serve_oracle.py http://127.0.0.1:8080 P 160 300 200
"""
import http.client
import json
import os
import sqlite3
import sys
import time
import urllib.parse


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    url = urllib.parse.urlparse(sys.argv[1])
    project = sys.argv[2]
    con = sqlite3.connect(os.path.join(project, ".ordo", "ordo.db"))
    truth = {}
    for image, path in con.execute("SELECT image_id, CAST(path AS TEXT) FROM files WHERE state = 0"):
        truth[image] = os.path.basename(os.path.dirname(path))
    con.close()

    def req(method, path, body=None, headers=None):
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        c.request(method, path, body=urllib.parse.urlencode(body) if body else None, headers=h)
        r = c.getresponse()
        return r.status, json.loads(r.read())

    csrf = req("GET", "/api/me")[1]["csrf"]
    for want in map(int, sys.argv[3:]):
        done = hits = shown = 0
        t0 = time.time()
        while done < want:
            _, j = req("GET", "/api/next?n=10")
            if not j["items"]:
                time.sleep(0.5)   # the composer is refilling
                continue
            for it in j["items"][: want - done]:
                label = truth[it["id"]]
                if it["suggestions"]:
                    shown += 1
                    hits += any(s["label"] == label for s in it["suggestions"])
                st, _ = req("POST", "/api/label", {"id": it["id"], "label": label}, {"X-Ordo-CSRF": csrf})
                if st != 200:
                    print("label refused: %d" % st)
                    return 1
                done += 1
        print("%d answers in %.1f s; top-5 suggestions held the label for %d of %d images" %
              (done, time.time() - t0, hits, shown), flush=True)
        time.sleep(2)
        while req("GET", "/api/stats")[1]["eval"]["training"]:
            time.sleep(1)
    for h in req("GET", "/api/stats")[1]["eval"]["history"]:
        print("model v%d: %d training answers, %d classes, accuracy %.3f [%.3f, %.3f] on %d evaluation"
              " images, %.1f s" % (h["version"], h["n_train"], h["classes"], h["accuracy"], h["lo"],
                                   h["hi"], h["n"], h["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
