#!/usr/bin/env python3
"""The live todo board with a stuck writer: another connection holds the write lock (SQLite:
BEGIN IMMEDIATE on the file; PostgreSQL: LOCK TABLE todos IN EXCLUSIVE MODE, which still lets
readers read) for --hold seconds, while wrk loads GET / and --forms forms are posted. Reports
GET /'s rate and p99 before and during the hold, when each form was answered after its own
posting (and with what), and how fast a form posted after the release is answered.

Start the board first (release build), then:

    python3 Benchmarks/Board/stuck.py --url http://127.0.0.1:8080 --database /tmp/board.db
    python3 Benchmarks/Board/stuck.py --url http://127.0.0.1:8080 --postgres postgresql://…

Never run in CI. Standard library only; wrk from Debian's package, psql for PostgreSQL.
"""
import argparse
import http.client
import json
import re
import sqlite3
import subprocess
import threading
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--database", help="the board's SQLite file")
parser.add_argument("--postgres", help="the board's PostgreSQL URL")
parser.add_argument("--hold", type=float, default=8.0, help="seconds the other connection holds the lock")
parser.add_argument("--forms", type=int, default=8)
parser.add_argument("--busy-timeout", type=float, default=5.0, help="the store's busy timeout, seconds")
parser.add_argument("--wrk-connections", type=int, default=16)
parser.add_argument("--json", help="also write the figures to this file")
args = parser.parse_args()
assert (args.database is None) != (args.postgres is None), "give --database or --postgres"
parsed = urllib.parse.urlparse(args.url)
host, port = parsed.hostname, parsed.port or 80


def post(path, fields):
    connection = http.client.HTTPConnection(host, port, timeout=60)
    body = urllib.parse.urlencode(fields)
    connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def wrk(seconds):
    """GET / under wrk for `seconds`: (requests/s, p99 ms)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.wrk_connections}", f"-d{max(1, int(seconds))}s", "--latency", args.url + "/"],
        stdout=subprocess.PIPE, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rate, float(p99.group(1)) * scale


class Holder:
    """The other connection: takes the write lock, holds it `seconds`, lets go."""

    def __init__(self, seconds):
        self.locked = threading.Event()
        self.released = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(seconds,), daemon=True)
        self.thread.start()
        assert self.locked.wait(30), "the other connection never took the lock"

    def run(self, seconds):
        if args.database:
            connection = sqlite3.connect(args.database, timeout=30, isolation_level=None)
            connection.execute("begin immediate")
            self.locked.set()
            time.sleep(seconds)
            connection.execute("commit")
            connection.close()
        else:
            psql = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", args.postgres],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            psql.stdin.write("begin;\nlock table todos in exclusive mode;\n\\echo locked\n")
            psql.stdin.flush()
            while psql.stdout.readline().strip() != "locked":
                pass
            self.locked.set()
            time.sleep(seconds)
            psql.communicate("commit;\n")
        self.released.set()


# A board with a few todos.
for i in range(5):
    assert post("/todos", {"title": f"stuck {i}"}) == 303
wrk(1)  # warm up
before_rate, before_p99 = wrk(args.hold)

holder = Holder(args.hold)
held_at = time.monotonic()
forms = []


def form(i):
    posted = time.monotonic()
    status = post("/todos", {"title": f"while stuck {i}"})
    forms.append({"status": status, "posted_s": posted - held_at, "answered_after_s": time.monotonic() - posted})


threads = [threading.Thread(target=form, args=(i,)) for i in range(args.forms)]
measured = {}
during = threading.Thread(target=lambda: measured.update(zip(("rate", "p99"), wrk(args.hold - 1.5))))
during.start()
time.sleep(0.5)
for t in threads:
    t.start()
    time.sleep(0.05)
during.join()
for t in threads:
    t.join()
holder.released.wait()
after_posted = time.monotonic()
after_status = post("/todos", {"title": "after the release"})
after_ms = (time.monotonic() - after_posted) * 1000

slowest = max(f["answered_after_s"] for f in forms)
statuses = sorted(f["status"] for f in forms)
print(f"GET / before: {before_rate:.0f} requests/s, p99 {before_p99:.1f} ms")
print(f"GET / while the lock was held ({args.hold:.0f} s): {measured['rate']:.0f} requests/s "
      f"({measured['rate'] / before_rate:.2f}× before), p99 {measured['p99']:.1f} ms")
print(f"{args.forms} forms posted while it was held: statuses {statuses}; slowest answered "
      f"{slowest:.2f} s after its posting (busy timeout {args.busy_timeout:.0f} s)")
print(f"a form posted after the release: {after_status} in {after_ms:.1f} ms")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"before_rps": before_rate, "before_p99_ms": before_p99, "during_rps": measured["rate"],
                   "during_p99_ms": measured["p99"], "forms": forms, "slowest_form_s": slowest,
                   "after_status": after_status, "after_ms": after_ms, "hold_s": args.hold,
                   "busy_timeout_s": args.busy_timeout}, f, indent=2)
