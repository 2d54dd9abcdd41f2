#!/usr/bin/env python3
"""Load on the live todo board: wrk against GET / while 30 viewers hold the event stream and a
writer renames a todo 100 times a second. Reports wrk's requests/s and latency, and the time
from each rename's response (the write is committed) to each viewer holding a board that shows
it. Start the board first (release build):

    swift build -c release --package-path Examples/TodoBoard --product todos
    ORION_DB=/tmp/board-load.db Examples/TodoBoard/.build/release/todos &
    python3 Benchmarks/Board/load.py --seconds 20

Never run in CI. Standard library only; wrk from Debian's package.
"""
import argparse
import http.client
import re
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--viewers", type=int, default=30)
parser.add_argument("--rate", type=float, default=100.0, help="renames per second")
parser.add_argument("--seconds", type=float, default=20.0)
parser.add_argument("--todos", type=int, default=20, help="todos on the board")
parser.add_argument("--wrk-connections", type=int, default=16)
parser.add_argument("--json", help="also write the figures to this file (scripts/bench merges them into its report)")
args = parser.parse_args()
parsed = urllib.parse.urlparse(args.url)
host, port = parsed.hostname, parsed.port or 80


def post(path, fields):
    connection = http.client.HTTPConnection(host, port, timeout=10)
    body = urllib.parse.urlencode(fields)
    connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


# A board of a fixed size: the first todo is the one renamed.
page = http.client.HTTPConnection(host, port, timeout=10)
page.request("GET", "/")
existing = len(re.findall(r'action="/todos/\d+/toggle"', page.getresponse().read().decode()))
for i in range(existing, args.todos):
    assert post("/todos", {"title": f"todo {i}"}) == 303
first = http.client.HTTPConnection(host, port, timeout=10)
first.request("GET", "/")
target = int(re.search(r'action="/todos/(\d+)/toggle"', first.getresponse().read().decode()).group(1))

marker = re.compile(r'value="load-(\d+)"')
acknowledged = {}  # marker -> time its rename's response arrived
seen = [dict() for _ in range(args.viewers)]  # viewer -> marker -> time first seen
stop = threading.Event()
events_received = [0] * args.viewers


def viewer(index, ready):
    sock = socket.create_connection((host, port))
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    stream = sock.makefile("rb")
    while stream.readline() not in (b"\r\n", b"\n"):  # the response head
        pass
    ready.release()
    event = []
    while not stop.is_set():
        line = stream.readline()
        if not line:
            break
        if line.strip() == b"":  # chunked framing lines and event ends both land here
            continue
        if line.startswith(b"data: "):
            event.append(line)
            match = marker.search(line.decode(errors="replace"))
            if match:
                now = time.monotonic()
                n = int(match.group(1))
                if n not in seen[index]:
                    seen[index][n] = now
                events_received[index] += 1
    sock.close()


ready = threading.Semaphore(0)
threads = [threading.Thread(target=viewer, args=(i, ready), daemon=True) for i in range(args.viewers)]
for t in threads:
    t.start()
for _ in threads:
    ready.acquire()
time.sleep(0.5)

wrk = subprocess.Popen(
    ["wrk", "-t2", f"-c{args.wrk_connections}", f"-d{int(args.seconds)}s", "--latency", args.url + "/"],
    stdout=subprocess.PIPE, text=True)

interval = 1.0 / args.rate
start = time.monotonic()
n = 0
while time.monotonic() - start < args.seconds:
    n += 1
    due = start + n * interval
    status = post(f"/todos/{target}/rename", {"title": f"load-{n}"})
    acknowledged[n] = time.monotonic()
    assert status == 303, status
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
elapsed = time.monotonic() - start
time.sleep(1.0)
stop.set()
wrk_out = wrk.communicate()[0]

# For each rename and each viewer: the first board that shows it or a later rename.
delays = []
missed = 0
for index in range(args.viewers):
    markers = sorted(seen[index].items())
    j = 0
    for m in sorted(acknowledged):
        while j < len(markers) and markers[j][0] < m:
            j += 1
        if j == len(markers):
            missed += 1
            continue
        delays.append((markers[j][1] - acknowledged[m]) * 1000)

delays.sort()
p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
print(f"renames: {len(acknowledged)} in {elapsed:.1f} s ({len(acknowledged) / elapsed:.0f}/s); viewers: {args.viewers}")
print(f"board events received per viewer: median {statistics.median(events_received):.0f}")
print(f"rename answered → viewer holds it: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {delays[-1]:.1f} ms "
      f"({len(delays)} pairs, {missed} never seen)")
for line in wrk_out.splitlines():
    if any(key in line for key in ("Requests/sec", "50%", "99%", "requests in", "Latency ")):
        print("wrk:", line.strip())

if args.json:
    import json

    def milliseconds(text):
        units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
        for unit in ("us", "ms", "s"):
            if text.endswith(unit):
                return float(text[: -len(unit)]) * units[unit]
        return float(text)

    figures = {"renames_acknowledged": len(acknowledged), "viewers": args.viewers, "pairs": len(delays), "never_seen": missed,
               "rename_to_viewer_ms": {"p50": p(0.5), "p99": p(0.99), "max": delays[-1]}}
    for line in wrk_out.splitlines():
        parts = line.split()
        if line.strip().startswith("Requests/sec:"):
            figures["get_requests_per_s"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            figures.setdefault("get_latency_ms", {})["p" + parts[0].rstrip("%")] = milliseconds(parts[1])
    with open(args.json, "w") as f:
        json.dump(figures, f, indent=2)
