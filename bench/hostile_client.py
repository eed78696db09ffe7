#!/usr/bin/env python3
"""Hostile and well-behaved HTTP load against `freshet run`, on loopback.

Holds idle connections and slow-header connections open while paced
well-behaved clients post predictions and time every answer; or posts gzip
bombs on many connections at once. One JSON line of results on stdout.

  hostile_client.py hold --port P --body FILE [--idle 10000] [--slow 100]
                         [--clients 256] [--rate 10] [--seconds 20]
  hostile_client.py bombs --port P [--conns 64] [--seconds 20]
                          [--inflated-mib 512]

hold: `--idle` connections send nothing; `--slow` connections send a request
header one byte every `--slow-interval` seconds and reconnect when the server
cuts them (408); `--clients` clients each post FILE to /v1/predict `--rate`
times a second on a kept-alive connection (a new one if the server closes it)
and record the latency of each answer. A client that gets no answer within 5
s counts as a failure. bombs: each connection posts a gzip body of
`--inflated-mib` MiB of zeros (about 1/1000 of that on the wire) over and over
and counts the answers by status.
"""

import argparse
import asyncio
import json
import resource
import sys
import time
import zlib


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def hold_idle(port, n, held, stop):
    conns = []
    opened = 0
    for _ in range(n):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            conns.append(w)
            opened += 1
        except OSError:
            break
        if opened % 1000 == 0:
            await asyncio.sleep(0)
    held["idle_opened"] = opened
    await stop.wait()
    # How many the server still holds open at the end.
    alive = 0
    for w in conns:
        if not w.transport.is_closing() and not w.transport.get_extra_info(
                "socket") is None:
            alive += 1
        w.close()
    held["idle_open_at_end"] = alive


async def slow_header(port, interval, counts, stop):
    text = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 4096
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(interval)
            continue
        counts["slow_connections"] += 1
        try:
            for i in range(len(text)):
                if stop.is_set():
                    break
                w.write(text[i:i + 1])
                await w.drain()
                try:
                    data = await asyncio.wait_for(r.read(4096), interval)
                    if data[:12].endswith(b"408"):
                        counts["slow_cut_408"] += 1
                    break  # answered or closed: reconnect
                except asyncio.TimeoutError:
                    pass
        except (OSError, asyncio.IncompleteReadError):
            pass
        w.close()


async def good_client(port, request, rate, latencies, counts, stop, start):
    # Spread the clients' first requests over one period.
    await asyncio.sleep(start)
    period = 1.0 / rate
    next_at = time.monotonic()
    conn = None
    while not stop.is_set():
        now = time.monotonic()
        if next_at > now:
            await asyncio.sleep(next_at - now)
        next_at += period
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 5)
                counts["good_connects"] += 1
            r, w = conn
            w.write(request)
            status, _, close = await asyncio.wait_for(read_response(r), 5)
            latencies.append(time.monotonic() - t0)
            counts["status_%d" % status] = counts.get("status_%d" % status,
                                                      0) + 1
            if close:
                w.close()
                conn = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                ValueError):
            counts["good_failures"] += 1
            if conn is not None:
                conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


async def hold(args):
    limit = raise_fd_limit()
    body = open(args.body, "rb").read()
    request = (b"POST /v1/predict HTTP/1.1\r\nHost: t\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % len(body)) + body
    stop = asyncio.Event()
    counts = {"slow_connections": 0, "slow_cut_408": 0, "good_connects": 0,
              "good_failures": 0}
    held = {}
    latencies = []
    idle = asyncio.create_task(hold_idle(args.port, args.idle, held, stop))
    slow = [asyncio.create_task(
        slow_header(args.port, args.slow_interval, counts, stop))
        for _ in range(args.slow)]
    # Let the idle crowd and the slow clients settle before measuring.
    while "idle_opened" not in held:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    good = [asyncio.create_task(
        good_client(args.port, request, args.rate, latencies, counts, stop,
                    i / args.clients / args.rate))
        for i in range(args.clients)]
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*good, *slow, return_exceptions=True)
    await idle
    answered = counts.get("status_200", 0)
    out = {
        "fd_limit": limit, "idle": args.idle, "slow": args.slow,
        "clients": args.clients, "rate_per_client": args.rate,
        "seconds": args.seconds, "answers_200": answered,
        "answers_per_s": round(answered / args.seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
        "p999_ms": round(percentile(latencies, 99.9) * 1e3, 3),
        "max_ms": round(max(latencies) * 1e3, 3) if latencies else None,
    }
    out.update(counts)
    out.update(held)
    print(json.dumps(out))


def gzip_bomb(mib):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    parts = [c.compress(zeros) for _ in range(mib)]
    parts.append(c.flush())
    return b"".join(parts)


async def bomber(port, request, counts, stop):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["connect_failures"] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            while not stop.is_set():
                w.write(request)
                await w.drain()
                status, _, close = await asyncio.wait_for(read_response(r),
                                                          30)
                key = "status_%d" % status
                counts[key] = counts.get(key, 0) + 1
                if close:
                    break
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                ValueError):
            counts["failures"] += 1
        w.close()


async def bombs(args):
    raise_fd_limit()
    bomb = gzip_bomb(args.inflated_mib)
    request = (b"POST /v1/predict HTTP/1.1\r\nHost: t\r\n"
               b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
               b"Content-Length: %d\r\n\r\n" % len(bomb)) + bomb
    stop = asyncio.Event()
    counts = {"connect_failures": 0, "failures": 0}
    tasks = [asyncio.create_task(bomber(args.port, request, counts, stop))
             for _ in range(args.conns)]
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    out = {"conns": args.conns, "bomb_bytes": len(bomb),
           "inflated_bytes": args.inflated_mib << 20,
           "seconds": args.seconds}
    out.update(counts)
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--body", required=True)
    h.add_argument("--idle", type=int, default=10000)
    h.add_argument("--slow", type=int, default=100)
    h.add_argument("--slow-interval", type=float, default=2.0)
    h.add_argument("--clients", type=int, default=256)
    h.add_argument("--rate", type=float, default=10.0)
    h.add_argument("--seconds", type=float, default=20.0)
    b = sub.add_parser("bombs")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--conns", type=int, default=64)
    b.add_argument("--seconds", type=float, default=20.0)
    b.add_argument("--inflated-mib", type=int, default=512)
    args = p.parse_args()
    asyncio.run(hold(args) if args.mode == "hold" else bombs(args))


if __name__ == "__main__":
    sys.exit(main())
