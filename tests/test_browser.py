#!/usr/bin/env python3
"""Browser test of the labeling page: Debian's headless Chromium driven by
selenium through chromedriver.

An annotator signs in with a login link on a server bound to 127.0.0.2 (so
tokens are on), labels 20 images with the keyboard only (suggestion keys,
search with completion, a free-text label containing <script>, not-sports,
and one undo), labels a grid of 8 with one label, and the test checks that
exactly those labels are in the database with that annotator. Screenshots
of each view go to $OUT (if set) or build/artifacts/.
Last line: "N passed, N failed, N skipped" (tests/run.sh)."""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (shares the server fixture)

EVIL = '<script>window.__xss=1</script><b>bold?</b>'


def artifacts_dir():
    d = os.environ.get("OUT") or os.path.join(os.path.dirname(ts.ORDO), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


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
        from selenium.webdriver.support.ui import Select, WebDriverWait
    except ImportError:
        print("skip: selenium is not installed (pip install selenium)")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        print("skip: chromium / chromedriver not installed")
        print("0 passed, 0 failed, 1 skipped")
        return 0

    out = artifacts_dir()
    proj = ts.make_project(120)
    srv = ts.Server(proj, bind="127.0.0.2", extra=("--double-share", "0", "--batch", "40"))
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
        # without a token the page asks for one
        drv.get(base + "/")
        wait.until(lambda d: d.find_element(By.ID, "view-login").is_displayed())
        drv.save_screenshot(os.path.join(out, "view-login.png"))
        drv.get(base + "/login?t=" + tok)
        wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id"))
        body = drv.find_element(By.TAG_NAME, "body")

        def cur():
            return int(drv.find_element(By.ID, "img").get_attribute("data-id"))

        def next_after(old):
            wait.until(lambda d: d.find_element(By.ID, "img").get_attribute("data-id") not in (None, "", str(old)))

        def suggestions():
            # the page asks again for the image on screen (the model moves with
            # every answer): read the list once that answer is in, in one call
            img = cur()
            wait.until(lambda d: d.execute_script(
                "const o = document.getElementById('sugg');"
                " return o.dataset.for === arguments[0] && o.dataset.fresh === '1'", str(img)))
            return drv.execute_script(
                "return [...document.querySelectorAll('#sugg li')].map((l) => l.dataset.label)")

        def search(text, pick_last=False):
            body.send_keys("/")
            box = drv.find_element(By.ID, "search")
            wait.until(lambda d: d.switch_to.active_element == box)
            box.send_keys(text)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#complete li"))
            items = drv.find_elements(By.CSS_SELECTOR, "#complete li")
            if pick_last:
                for _ in range(len(items) - 1):
                    box.send_keys(Keys.ARROW_DOWN)
            # (the list is re-rendered when the server's WordNet matches arrive)
            label = drv.execute_script("const l = document.querySelector('#complete li.sel');"
                                       " return l ? l.dataset.label : null")
            box.send_keys(Keys.ENTER)
            return label

        expected = {}      # image id -> label (this annotator's current answer)
        plan = ["1", "2", "search:tennis ball", "n", "3", "1", "evil", "5", "search:basketball",
                "n", "u", "1", "2", "undo", "4", "search:ski", "1", "n", "s", "2", "1", "3"]
        used = set()
        shot = False
        for step in plan:
            if step == "undo":
                before = cur()
                body.send_keys("z")
                wait.until(lambda d: cur() != before)
                undone = cur()
                fails += [] if undone in expected else ["undo showed an image not labeled: %d" % undone]
                expected.pop(undone, None)
                used.add("undo")
                continue
            img = cur()
            sugg = suggestions()
            evalimg = not sugg
            if step in "12345" and not evalimg:
                label = sugg[int(step) - 1]
                body.send_keys(step)
                used.add("suggestion")
            elif step.startswith("search:"):
                label = search(step[7:])
                used.add("search")
            elif step == "evil":
                label = search(EVIL, pick_last=True)
                if label != EVIL:
                    fails.append("free-text label not offered: %r" % label)
            elif step == "u":
                label = "unclear"
                body.send_keys("u")
            elif step == "s":
                label = "skip"
                body.send_keys("s")
            else:   # "n", and suggestion keys on evaluation images (no suggestions)
                label = "not-sports"
                body.send_keys("n")
                used.add("not-sports")
            expected[img] = label
            next_after(img)
            if not shot and not evalimg:
                drv.save_screenshot(os.path.join(out, "view-label.png"))
                shot = True
        if len(expected) != 20:
            fails.append("labeled %d images, wanted 20" % len(expected))
        missing = {"suggestion", "search", "not-sports", "undo"} - used
        if missing:
            fails.append("plan did not use " + ", ".join(sorted(missing)))
        wait.until(lambda d: d.find_element(By.ID, "saving").text == "all saved")

        # the help overlay
        body.send_keys("?")
        wait.until(lambda d: d.find_element(By.ID, "help").is_displayed())
        drv.save_screenshot(os.path.join(out, "view-help.png"))
        body.send_keys(Keys.ESCAPE)

        # grid of 8, one label for all
        body.send_keys("g")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid figure"))
        Select(drv.find_element(By.ID, "grid-n")).select_by_visible_text("8")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#grid figure")) == 8)
        time.sleep(0.3)
        grid_ids = [int(f.get_attribute("data-id")) for f in drv.find_elements(By.CSS_SELECTOR, "#grid figure")]
        drv.save_screenshot(os.path.join(out, "view-grid.png"))
        if set(grid_ids) & set(expected):
            fails.append("grid offered already labeled images")
        if drv.find_elements(By.CSS_SELECTOR, "#grid figure:not(.off)"):
            fails.append("the grid must start with nothing selected")
        body.send_keys("a")   # select all eight
        body.send_keys("/")
        gbox = drv.find_element(By.ID, "g-search")
        gbox.send_keys("golf ball")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#g-complete li.sel"))
        glabel = drv.execute_script("return document.querySelector('#g-complete li.sel').dataset.label")
        gbox.send_keys(Keys.ENTER)
        wait.until(lambda d: "labeled 8 images" in d.find_element(By.ID, "g-msg").text)
        for i in grid_ids:
            expected[i] = glabel

        # dashboard: the <script> label is shown as text and never runs
        body.send_keys("d")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#d-labels tbody tr"))
        cells = [td.text for td in drv.find_elements(By.CSS_SELECTOR, "#d-labels tbody td")]
        if EVIL not in cells:
            fails.append("the <script> label is not shown as text on the dashboard")
        if drv.execute_script("return window.__xss") is not None:
            fails.append("a label's markup ran as script")
        if drv.execute_script("return document.querySelectorAll('#d-labels b').length"):
            fails.append("a label's markup became elements")
        drv.save_screenshot(os.path.join(out, "view-dashboard.png"))
        body.send_keys("r")
        time.sleep(0.5)
        drv.save_screenshot(os.path.join(out, "view-review.png"))
    except Exception as e:  # noqa: BLE001
        fails.append("browser run: %r" % e)
        try:
            drv.save_screenshot(os.path.join(out, "failure.png"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        drv.quit()
        srv.stop()

    # exactly these answers in the database, all by "tester"
    con = sqlite3.connect(os.path.join(proj, ".ordo", "ordo.db"))
    rows = con.execute("SELECT l.image_id, l.label, l.annotator FROM labels l JOIN"
                       " (SELECT MAX(id) m FROM labels GROUP BY image_id) t ON l.id = t.m"
                       " WHERE l.label <> ''").fetchall()
    # an undo appends the answer "skip" with reason "undo" (learn's "not labeled")
    undo_rows = con.execute("SELECT COUNT(*) FROM labels WHERE label = 'skip' AND reason = 'undo'").fetchone()[0]
    con.close()
    got = {i: l for i, l, _ in rows}
    if got != expected:
        fails.append("database differs: missing %s, unexpected %s" % (
            sorted(set(expected.items()) - set(got.items()))[:5],
            sorted(set(got.items()) - set(expected.items()))[:5]))
    if any(a != "tester" for _, _, a in rows):
        fails.append("a label has the wrong annotator")
    if undo_rows != 1:
        fails.append("expected one undo (retraction) event, found %d" % undo_rows)
    shutil.rmtree(proj, ignore_errors=True)
    print("browser run took %.1f s; screenshots in %s" % (time.time() - t0, out))
    for f in fails:
        print("    " + f)
    print("FAIL t_browser" if fails else "ok   t_browser")
    print("%d passed, %d failed, 0 skipped" % (0 if fails else 1, 1 if fails else 0))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
