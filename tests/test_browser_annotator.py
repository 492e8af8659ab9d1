#!/usr/bin/env python3
"""Browser test: an annotator labels the sports100 pool with real key presses.

Headless Chromium through selenium plays an annotator on a server bound to
127.0.0.2 (tokens on) over the scanned sports100 pool ($ORDO_DATA/datasets/
sports100/pool, scanned once into $BUILD/cache/sports100-pool), with the 100
sport names declared as the project's label set (`ordo labelset --import`).
It answers every image from the truth (its folder name) by the fewest keys
the page allows: the suggestion's digit when the truth is among keys 1-5,
else the label's fixed keys (its initial; then Enter when it is the best
ranked label with that initial, else its second letter). Reported, not asserted (learning and timing
figures are measurements): mean keystrokes per label over the first N labels
(ORDO_ANNOTATOR_N, default 300), the top-5 hit rate before and after the
first retraining, key press -> next image painted p50/p99.

Checked: every answer is in the database as given and by that annotator;
the image is drawn at >= 80 % of its area's limiting side at 1366x768 and
1920x1080 (screenshots kept in $OUT or build/artifacts/); zoom; the file
name shown is the image's; going back and changing an answer appends a new
event; the page's counters equal `ordo labels`; another annotator is refused
when undoing this annotator's answer, a reviewer is allowed.
Last line: "N passed, N failed, N skipped" (tests/run.sh)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (shares the server fixture)

DATA = os.environ.get("ORDO_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
POOL = os.path.join(DATA, "datasets", "sports100", "pool")
N_LABELS = int(os.environ.get("ORDO_ANNOTATOR_N", "300"))


def skip(why):
    print("skip: " + why)
    print("0 passed, 0 failed, 1 skipped")
    return 0


def artifacts_dir():
    d = os.environ.get("OUT") or os.path.join(os.path.dirname(ts.ORDO), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def pool_project():
    """The scanned pool, made once (about 2 minutes on 2 cores) and copied."""
    cache = os.path.join(os.path.dirname(ts.ORDO), "cache", "sports100-pool")
    if not os.path.exists(os.path.join(cache, ".ordo", "ordo.db")) or \
            os.path.exists(os.path.join(cache, ".scanning")):
        os.makedirs(cache, exist_ok=True)
        open(os.path.join(cache, ".scanning"), "w").close()
        subprocess.run([ts.ORDO, "init", "--model", "lite0", cache], check=True, capture_output=True)
        subprocess.run([ts.ORDO, "scan", "--project", cache, "--no-sync", POOL], check=True,
                       capture_output=True)
        os.remove(os.path.join(cache, ".scanning"))
    d = tempfile.mkdtemp(prefix="ordo-annot-")
    os.makedirs(os.path.join(d, ".ordo"))
    for f in os.listdir(os.path.join(cache, ".ordo")):
        src = os.path.join(cache, ".ordo", f)
        if os.path.isfile(src):
            shutil.copy(src, os.path.join(d, ".ordo", f))
    return d


def main():
    if not os.path.exists(ts.ORDO):
        return skip("ordo is not built")
    if not os.path.isdir(POOL):
        return skip("no sports100 pool under $ORDO_DATA (%s)" % POOL)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return skip("selenium is not installed")
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        return skip("chromium / chromedriver not installed")
    w = os.path.expanduser("~/.cache/ordo/weights/lite0.pth")
    if not os.path.exists(w) and not os.environ.get("ORDO_WEIGHTS"):
        return skip("no lite0 weights to scan the pool with")

    out = artifacts_dir()
    t0 = time.time()
    proj = pool_project()
    names = sorted(os.listdir(POOL))
    with open(os.path.join(proj, "labels.txt"), "w") as f:
        f.write("\n".join(names) + "\n!closed\n")
    subprocess.run([ts.ORDO, "labelset", "--project", proj, "--import", os.path.join(proj, "labels.txt")],
                   check=True, capture_output=True)
    con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
    truth = {}
    for iid, path in con.execute("SELECT image_id, path FROM files WHERE state = 0"):
        path = path.decode() if isinstance(path, bytes) else path   # paths are stored as raw bytes
        truth[iid] = os.path.basename(os.path.dirname(path))
    con.close()
    print("pool: %d images, %d labels (set up in %.0f s)" % (len(truth), len(names), time.time() - t0),
          flush=True)

    srv = ts.Server(proj, bind="127.0.0.2", extra=("--double-share", "0", "--retrain-every", "100"))
    tok = ts.add_user(proj, "ann1")
    tok2 = ts.add_user(proj, "ann2")
    tokr = ts.add_user(proj, "rev", "reviewer")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1366,768"]:
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    fails = []
    report = []
    given = {}          # image id -> label answered (the truth)
    keys_per = []       # keystrokes of each label, in order
    hits = {"before": [0, 0], "after": [0, 0]}   # [top-5 hits, labels with suggestions]
    first_retrain_at = None
    paint = []
    try:
        base = "http://" + srv.host
        wait = WebDriverWait(drv, 30)

        def viewport(wd, ht):
            drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": wd, "height": ht, "deviceScaleFactor": 1, "mobile": False})

        viewport(1366, 768)
        drv.get(base + "/login?t=" + tok)
        wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id"))
        body = drv.find_element(By.TAG_NAME, "body")

        def cur():
            return int(drv.find_element(By.ID, "img").get_attribute("data-id"))

        def fresh(iid):
            ol = drv.find_element(By.ID, "sugg")
            return ol.get_attribute("data-for") == str(iid) and ol.get_attribute("data-fresh") == "1"

        def model_version():
            st, _, b = srv.req("GET", "/api/stats", headers={"Authorization": "Bearer " + tok})
            return json.loads(b)["eval"]["version"] if st == 200 else 0

        def answer_by_keys(iid, label):
            """Presses the fewest keys that give label; returns how many."""
            sugg = drv.execute_script(
                "return [...document.querySelectorAll('#sugg li')].map((l) => l.dataset.label)")
            if label in sugg:
                body.send_keys(str(sugg.index(label) + 1))
                return 1, True, bool(sugg)
            # the label's fixed keys: its initial, then (when other labels
            # share it) Enter if it is the best ranked, else its second letter
            body.send_keys(label[0])
            if codes[label] == label[0]:
                return 1, False, bool(sugg)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#keys li"))
            lis = drv.execute_script(
                "return [...document.querySelectorAll('#keys li')].map((l) => [l.dataset.label, l.dataset.code])")
            if lis[0][0] == label:
                body.send_keys(Keys.ENTER)
            else:
                body.send_keys(next(code for lab, code in lis if lab == label)[1])
            return 2, False, bool(sugg)

        codes = {}
        for n in names:   # the page's fixed keys (labelCodes in app.js)
            codes[n] = drv.execute_script("return st.codes.get(arguments[0])", n)
        version_at_start = model_version()
        first_retrain_at = None
        shots = 0
        while len(keys_per) < N_LABELS:
            iid = cur()
            if iid in given:
                raise AssertionError("image %d shown again" % iid)
            wait.until(lambda d: fresh(iid))
            if first_retrain_at is None and len(keys_per) % 10 == 0 and model_version() > version_at_start:
                first_retrain_at = len(keys_per)
            label = truth[iid]
            n, hit, had = answer_by_keys(iid, label)
            if had:
                h = hits["after" if first_retrain_at is not None else "before"]
                h[0] += hit
                h[1] += 1
            keys_per.append(n)
            given[iid] = label
            wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id") != str(iid))
            if shots < 1 and len(keys_per) == 5:
                drv.save_screenshot(os.path.join(out, "annotator-1366x768.png"))
                shots += 1
        wait.until(lambda d: d.find_element(By.ID, "saving").text == "all saved")

        # the image fills its area at two window sizes
        for wd, ht in [(1366, 768), (1920, 1080)]:
            viewport(wd, ht)
            time.sleep(0.3)
            m = drv.execute_script("""
              const i = document.getElementById('img'), b = document.getElementById('imgbox').getBoundingClientRect();
              const s = Math.min(b.width / i.naturalWidth, b.height / i.naturalHeight);
              return [b.width, b.height, i.naturalWidth * s, i.naturalHeight * s, innerWidth, innerHeight];""")
            bw, bh, dw, dh, vw, vh = m
            frac = max(dw / bw, dh / bh)
            report.append("image at %dx%d: area %.0fx%.0f (%.0f%% of the window), drawn %.0fx%.0f = %.0f%% of the"
                          " limiting side" % (wd, ht, bw, bh, 100 * bw * bh / (vw * vh), dw, dh, 100 * frac))
            if frac < 0.8:
                fails.append("image drawn at %.0f%% of its area's limiting side at %dx%d" % (100 * frac, wd, ht))
            drv.save_screenshot(os.path.join(out, "annotator-%dx%d.png" % (wd, ht)))
        viewport(1366, 768)

        # zoom in and back
        body.send_keys("+")
        z = drv.execute_script("return document.getElementById('img').style.transform")
        if "scale(1.5)" not in z:
            fails.append("zoom did not apply: %r" % z)
        body.send_keys("0")

        # the file name shown is the image's own
        iid = cur()
        con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
        path = con.execute("SELECT path FROM files WHERE image_id = ? ORDER BY id LIMIT 1", (iid,)).fetchone()[0]
        con.close()
        path = path.decode() if isinstance(path, bytes) else path
        shown = drv.find_element(By.ID, "place").text
        if shown != os.path.basename(path):
            fails.append("file name shown %r, expected %r" % (shown, os.path.basename(path)))

        # back to the previous answer, change it (a new event), change it back
        last_id = list(given)[-1]
        body.send_keys(Keys.ARROW_LEFT)
        wait.until(lambda d: cur() == last_id and "earlier answer" in d.find_element(By.ID, "meta").text)
        wrong = next(n for n in names if n != given[last_id])
        body.send_keys("/")
        box = drv.find_element(By.ID, "search")
        box.send_keys(wrong)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#complete li.sel").get_attribute("data-label") == wrong)
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_element(By.ID, "saving").text == "all saved")
        con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
        evs = [r[0] for r in con.execute("SELECT label FROM labels WHERE image_id = ? ORDER BY id", (last_id,))]
        con.close()
        if evs != [given[last_id], wrong]:
            fails.append("changing an answer: events %s" % evs)
        drv.save_screenshot(os.path.join(out, "annotator-history.png"))
        st, _, b = srv.req("POST", "/api/label", {"id": last_id, "label": given[last_id]},
                           headers={"Authorization": "Bearer " + tok, "X-Ordo-CSRF": ts.csrf(srv, {"Authorization": "Bearer " + tok})})
        if st != 200:
            fails.append("changing back: %d" % st)

        paint = sorted(drv.execute_script("return window.__paint"))
        # counters: the page's, the dashboard's and `ordo labels` agree
        drv.refresh()
        wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id"))
        body = drv.find_element(By.TAG_NAME, "body")
        page = int(drv.find_element(By.ID, "p-all-t").text.split("/")[0])
        mine = int(drv.find_element(By.ID, "p-mine-t").text.split()[0])
        r = subprocess.run([ts.ORDO, "labels", "--project", proj, "--csv"], capture_output=True, text=True,
                           check=True)
        cli = sum(1 for ln in r.stdout.splitlines()[1:] if ln.split(",")[2] not in ("skip", ""))
        st, _, b = srv.req("GET", "/api/stats", headers={"Authorization": "Bearer " + tok})
        dash = json.loads(b)["labeled"]
        report.append("counters: page %d, mine %d, dashboard %d, ordo labels %d" % (page, mine, dash, cli))
        if not page == mine == dash == cli == len(given):
            fails.append("counters disagree: page %d, mine %d, dashboard %d, ordo labels %d, given %d"
                         % (page, mine, dash, cli, len(given)))

        # roles: another annotator may not undo ann1's answer; a reviewer may
        h2 = {"Authorization": "Bearer " + tok2}
        h2["X-Ordo-CSRF"] = ts.csrf(srv, h2)
        st, _, _ = srv.req("POST", "/api/undo", {"id": last_id}, headers=h2)
        if st != 403:
            fails.append("annotator ann2 undoing ann1's answer got %d, wanted 403" % st)
        hr = {"Authorization": "Bearer " + tokr}
        hr["X-Ordo-CSRF"] = ts.csrf(srv, hr)
        st, _, _ = srv.req("POST", "/api/undo", {"id": last_id}, headers=hr)
        if st != 200:
            fails.append("reviewer undoing ann1's answer got %d, wanted 200" % st)
        given.pop(last_id)
    except Exception as e:  # noqa: BLE001
        fails.append("browser run: %r" % e)
        try:
            drv.save_screenshot(os.path.join(out, "annotator-failure.png"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        drv.quit()
        srv.stop()

    # every answer is in the database, by ann1
    con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
    rows = con.execute("SELECT l.image_id, l.label, l.annotator FROM labels l JOIN (SELECT MAX(id) m FROM labels"
                       " GROUP BY image_id) t ON l.id = t.m WHERE l.label NOT IN ('', 'skip')").fetchall()
    con.close()
    got = {i: lab for i, lab, _ in rows}
    if got != given:
        fails.append("database differs from the answers given: %d vs %d" % (len(got), len(given)))
    if any(a != "ann1" for _, _, a in rows):
        fails.append("an answer has the wrong annotator")
    shutil.rmtree(proj, ignore_errors=True)

    n = len(keys_per)
    if n:
        report.append("keystrokes per label over the first %d labels: %.3f (target <= 1.5); by suggestion key"
                      " %d, by prefix search %d" % (n, sum(keys_per) / n, sum(1 for k in keys_per if k == 1),
                                                    sum(1 for k in keys_per if k > 1)))
    for k in ("before", "after"):
        h, m = hits[k]
        report.append("top-5 hit rate %s the first retraining: %d of %d (%.1f%%)" % (
            k, h, m, 100.0 * h / m if m else 0))
    report.append("first retraining seen after %s labels" % (first_retrain_at if n else "-"))
    if paint:
        p = lambda q: paint[min(len(paint) - 1, int(q * len(paint)))]  # noqa: E731
        report.append("key press -> next image painted: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
            len(paint), p(0.5), p(0.99), paint[-1]))
    print("annotator run took %.1f s; screenshots in %s" % (time.time() - t0, out))
    for r in report:
        print("    REPORT " + r)
    for f in fails:
        print("    " + f)
    print("FAIL t_browser_annotator" if fails else "ok   t_browser_annotator")
    print("%d passed, %d failed, 0 skipped" % (0 if fails else 1, 1 if fails else 0))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
