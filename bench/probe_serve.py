#!/usr/bin/env python3
"""A bounded hostile-client probe of `ordo serve`, on loopback only.

    bench/probe_serve.py [SLOW]      (default 512 slow-header connections;
                                      env ORDO_BIN=build/ordo)

1. Starts a server on 127.0.0.1 (a free port; default limits: 10 s request
   deadline, 15 s idle timeout, 256 connections per address), opens SLOW
   connections that trickle one header byte per second (never finishing),
   and meanwhile sends a normal request every 0.25 s from the same address:
   prints for how long normal requests failed (the deadline bounds it;
   before the deadline they were blocked for as long as the trickle lasted).
2. Two Content-Length headers that disagree: must get 400.
3. Re-runs the existing tests' traversal, CSRF, token, limits and XSS probes
   (tests/test_server.py) against fresh servers.
Everything is bounded (about a minute) and touches nothing but 127.0.0.x."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import test_server as ts  # noqa: E402


def main():
    nslow = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    ts.PROJECT = ts.make_project(40)
    srv = ts.Server(ts.PROJECT)
    ok = True
    try:
        slow, stop = [], threading.Event()
        t_open = time.time()
        for _ in range(nslow):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
                s.sendall(b"GET /api/me HTTP/1.1\r\nHost: " + srv.host.encode() + b"\r\nX-Slow: ")
                slow.append(s)
            except OSError:
                pass

        def trickle():
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
                time.sleep(1.0)
        th = threading.Thread(target=trickle)
        th.start()
        fail_from = fail_to = None
        t_end = time.time() + 30
        served = failed = 0
        while time.time() < t_end:
            try:
                st, _, _ = srv.req("GET", "/api/me", timeout=2)
                good = st == 200
            except OSError:
                good = False
            now = time.time() - t_open
            if good:
                served += 1
                if fail_from is not None and fail_to is None:
                    fail_to = now
            else:
                failed += 1
                if fail_from is None:
                    fail_from = now
            time.sleep(0.25)
        stop.set()
        th.join()
        for s in slow:
            s.close()
        blocked = (fail_to if fail_to is not None else (30 if fail_from is not None else 0)) - (fail_from or 0)
        print("RESULT %d slow-header connections (%d accepted): normal requests failed for %.1f s "
              "(%d failed, %d served over 30 s; request deadline 10 s)" % (nslow, len(slow), blocked, failed, served))
        ok &= blocked <= 12
        raw = srv.raw(b"POST /api/label HTTP/1.1\r\nHost: " + srv.host.encode() +
                      b"\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nid=1&")
        print("RESULT conflicting Content-Length: HTTP %d (want 400)" % ts.status_of(raw))
        ok &= ts.status_of(raw) == 400
    finally:
        srv.stop()
    for t in [ts.t_token_required_beyond_loopback, ts.t_csrf, ts.t_path_traversal,
              ts.t_limits_and_malformed, ts.t_label_is_text]:
        ts.run_test(t)
    ok &= ts.results["fail"] == 0
    print("RESULT existing probes: %d refused as before, %d not" % (ts.results["pass"], ts.results["fail"]))
    import shutil
    shutil.rmtree(ts.PROJECT, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
