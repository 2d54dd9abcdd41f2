#!/usr/bin/env python3
"""Viewers at scale on the live todo board: N event streams open (GET /events), then a todo is
renamed; reports the time from the rename's answer (the write is committed) until each viewer
holds a board that shows it — the median, the 99th percentile and the last viewer — for each N.

Start the board first (release build, with `ulimit -n` high enough for the streams), then:

    python3 Benchmarks/Board/viewers.py --url http://127.0.0.1:8080 --viewers 1000 5000 10000

The viewers are one asyncio process that only looks for the new title in what arrives; its own
cost is part of the figure (it is measured on the same two cores as the server). Never run in
CI. Standard library only.
"""
import argparse
import asyncio
import http.client
import json
import re
import resource
import statistics
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--viewers", type=int, nargs="+", default=[1000, 5000, 10000])
parser.add_argument("--renames", type=int, default=3, help="renames per viewer count (the medians are reported)")
parser.add_argument("--json", help="also write the figures to this file")
args = parser.parse_args()
parsed = urllib.parse.urlparse(args.url)
host, port = parsed.hostname, parsed.port or 80
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def post(path, fields):
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("POST", path, urllib.parse.urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


class Viewer:
    def __init__(self):
        self.seen = {}  # marker -> when it first arrived
        self.boards = 0
        self.tail = b""

    async def run(self, gate, wanted):
        async with gate:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            writer.write(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
            await writer.drain()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                now = time.monotonic()
                text = self.tail + chunk
                self.boards += text.count(b"event: board")
                for marker in wanted:
                    if marker not in self.seen and marker in text:
                        self.seen[marker] = now
                self.tail = text[-64:]
        finally:
            writer.close()


async def measure(count, target):
    wanted = set()
    viewers = [Viewer() for _ in range(count)]
    gate = asyncio.Semaphore(200)  # connections being opened at once
    tasks = [asyncio.ensure_future(v.run(gate, wanted)) for v in viewers]
    # Every viewer holds its first board.
    deadline = time.monotonic() + 120
    while any(v.boards == 0 for v in viewers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    ready = sum(1 for v in viewers if v.boards > 0)
    results = []
    for r in range(args.renames):
        title = f"view-{count}-{r}-{int(time.time() * 1000) % 100000}"
        marker = f'value="{title}"'.encode()
        wanted.add(marker)
        status, _ = await asyncio.to_thread(post, f"/todos/{target}/rename", {"title": title})
        assert status == 303, status
        answered = time.monotonic()
        deadline = answered + 60
        while any(marker not in v.seen for v in viewers) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        delays = sorted((v.seen[marker] - answered) * 1000 for v in viewers if marker in v.seen)
        missing = count - len(delays)
        results.append({"p50": delays[len(delays) // 2], "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))],
                        "last": delays[-1], "missing": missing})
        await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return ready, results


async def main():
    status, _ = post("/todos", {"title": "watched"})
    assert status == 303
    page = http.client.HTTPConnection(host, port, timeout=10)
    page.request("GET", "/")
    target = int(re.findall(r'action="/todos/(\d+)/toggle"', page.getresponse().read().decode())[-1])
    report = {}
    for count in args.viewers:
        ready, results = await measure(count, target)
        p50 = statistics.median(r["p50"] for r in results)
        p99 = statistics.median(r["p99"] for r in results)
        last = statistics.median(r["last"] for r in results)
        missing = max(r["missing"] for r in results)
        print(f"{count} viewers ({ready} connected): rename → viewer p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
              f"last {last:.0f} ms (medians of {len(results)} renames; {missing} never saw it)")
        report[str(count)] = {"connected": ready, "p50_ms": p50, "p99_ms": p99, "last_ms": last, "missing": missing}
        await asyncio.sleep(1.0)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


asyncio.run(main())
