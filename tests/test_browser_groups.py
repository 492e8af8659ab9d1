#!/usr/bin/env python3
"""Browser test of near-duplicate groups on the labeling page (Debian's
headless Chromium through selenium and chromedriver).

A project of 6 look-alike groups is audited (`ordo audit --dups`), then an
annotator signed in with a login link reaches a photo of a group: the page
shows the group's members beside it, the annotator leaves one member out
with a click and answers once; the test checks that exactly the selected
members got a label event each (same annotator, same time, reason "group"
for all but the photo on screen), that one undo retracts them all, and that
the dashboard counts the groups. Screenshots go to $OUT (if set) or
build/artifacts/ (view-group.png, view-group-dashboard.png).
Last line: "N passed, N failed, N skipped" (tests/run.sh)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (shares the server fixture)
import test_browser as tb  # noqa: E402


def events(proj):
    con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
    rows = con.execute("SELECT image_id, label, annotator, reason, created FROM labels ORDER BY id").fetchall()
    con.close()
    return rows


def main():
    if not os.path.exists(ts.ORDO) or not os.path.exists(ts.FIXTURE):
        print("skip: ordo or the fixture is not built")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        print("skip: selenium is not installed (pip install selenium)")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        print("skip: chromium / chromedriver not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0

    out = tb.artifacts_dir()
    proj = ts.make_project(60)
    subprocess.run([ts.ORDO, "next", "5", "--eval-width", "0.3", "--project", proj, "--csv"],
                   check=True, capture_output=True)
    r = subprocess.run([ts.ORDO, "audit", "--dups", "--project", proj], capture_output=True, text=True)
    if r.returncode:
        print("FAIL t_browser_groups: audit: " + r.stderr)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    srv = ts.Server(proj, bind="127.0.0.2", extra=("--double-share", "0", "--retrain-every", "0"))
    tok = ts.add_user(proj, "tester")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000"]:
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    fails = []
    t0 = time.time()
    try:
        base = "http://" + srv.host
        wait = WebDriverWait(drv, 15)
        drv.get(base + "/login?t=" + tok)
        wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id"))
        body = drv.find_element(By.TAG_NAME, "body")

        def cur():
            return int(drv.find_element(By.ID, "img").get_attribute("data-id"))

        # answer evaluation photos (never shown as a group) until a grouped one
        for _ in range(20):
            if drv.execute_script("const it = current(); return !!(it && it.group !== undefined && !it.eval)"):
                break
            before = cur()
            body.send_keys("n")
            wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id") not in ("", str(before)))
        shown = cur()
        st, _, gj = srv.req("GET", "/api/group?id=%d" % shown, headers={"Authorization": "Bearer " + tok})
        g = json.loads(gj)
        if g["group"] < 0:
            raise AssertionError("no grouped photo reached the page: %s" % gj)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#group-m figure")) == len(g["members"]))
        wait.until(lambda d: "your answer labels these" in d.find_element(By.ID, "group-t").text)
        time.sleep(0.5)   # thumbnails painted
        figs = drv.find_elements(By.CSS_SELECTOR, "#group-m figure")
        ids = [int(f.get_attribute("data-id")) for f in figs]
        if ids[0] != shown or sorted(ids) != sorted(m["id"] for m in g["members"]):
            fails.append("group members on the page %s, server %s" % (ids, g["members"]))
        fixed = {m["id"] for m in g["members"] if m["not_free"]}
        on = [int(f.get_attribute("data-id")) for f in figs if "off" not in f.get_attribute("class")]
        if set(on) != set(ids) - fixed:
            fails.append("preselected %s, wanted every member but %s" % (on, fixed))
        # leave one member out with a click
        drop = next(f for f in figs if "fixed" not in f.get_attribute("class"))
        drop_id = int(drop.get_attribute("data-id"))
        drop.click()
        wait.until(lambda d: "off" in d.find_element(By.CSS_SELECTOR, "#group-m figure[data-id='%d']" % drop_id)
                   .get_attribute("class"))
        sel = [i for i in on if i != drop_id]
        if str(len(sel)) not in drv.find_element(By.ID, "group-t").text:
            fails.append("the header does not say how many photos the answer labels: %r"
                         % drv.find_element(By.ID, "group-t").text)
        drv.save_screenshot(os.path.join(out, "view-group.png"))
        n0 = len(events(proj))
        # one key: "u" (unclear) labels every selected member
        body.send_keys("u")
        wait.until(lambda d: "labeled %d near-duplicates" % len(sel) in d.find_element(By.ID, "msg").text)
        wait.until(lambda d: d.find_element(By.ID, "saving").text == "all saved")
        new = events(proj)[n0:]
        if sorted(r[0] for r in new) != sorted(sel) or {r[1] for r in new} != {"unclear"} or \
                {r[2] for r in new} != {"tester"} or len({r[4] for r in new}) != 1:
            fails.append("group answer events: %s (wanted %s)" % (new, sel))
        if any((r[3] == "group") != (r[0] != shown) for r in new):
            fails.append("reasons: %s" % new)
        if any(r[0] in fixed or r[0] == drop_id for r in new):
            fails.append("a member left out (or not free) was labeled: %s" % new)
        # the group's members never come back on this page
        after = cur()
        if after in sel:
            fails.append("a labeled member came back: %d" % after)
        # one undo retracts the whole answer, the photo comes back
        body.send_keys("z")
        wait.until(lambda d: cur() == shown)
        time.sleep(0.3)
        und = events(proj)[n0 + len(new):]
        if sorted(r[0] for r in und) != sorted(sel) or {(r[1], r[3]) for r in und} != {("skip", "undo")}:
            fails.append("undo of a group answer: %s" % und)
        # the dashboard counts the groups
        body.send_keys("d")
        wait.until(lambda d: "near-duplicate groups" in d.find_element(By.ID, "d-audit").text)
        txt = drv.find_element(By.ID, "d-audit").text
        if "6 near-duplicate groups (60 images, cosine >= 0.85)" not in txt or "label errors not audited" not in txt:
            fails.append("dashboard audit line: %r" % txt)
        drv.save_screenshot(os.path.join(out, "view-group-dashboard.png"))
    except Exception as e:  # noqa: BLE001
        fails.append("browser run: %r" % e)
        try:
            drv.save_screenshot(os.path.join(out, "failure-group.png"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        drv.quit()
        srv.stop()
    shutil.rmtree(proj, ignore_errors=True)
    print("browser run took %.1f s; screenshots in %s" % (time.time() - t0, out))
    for f in fails:
        print("    " + f)
    print("FAIL t_browser_groups" if fails else "ok   t_browser_groups")
    print("%d passed, %d failed, 0 skipped" % (0 if fails else 1, 1 if fails else 0))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
