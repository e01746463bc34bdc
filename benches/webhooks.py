#!/usr/bin/env python3
"""Webhook delivery, measured: create-version throughput (wrk, 32
connections) with no subscription and with five, and the rate deliveries
reach a local receiver, on SQLite and PostgreSQL. The receiver is a small
asyncio HTTP server in a process of its own (keep-alive, answers 204, counts).

Run it with benches/webhooks (which builds the release binary).
"""

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ADMIN_PASSWORD, fresh_database, http, log, start_modelgate, wrk  # noqa: E402

SUBSCRIPTIONS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receiver(port, counter):
    """Answers every POST with 204 over kept-alive connections; counts them."""

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET"):
                    body = str(counter.value).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    with counter.get_lock():
                        counter.value += 1
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_rate(port, token, duration):
    env = {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/v1/models/bench/versions",
           "BENCH_BODY": '{"source":"s3://bench/new"}', "BENCH_TOKEN": token}
    return wrk(port, "request.lua", env, 32, duration)




def run(binary, backend, work, duration, receiver_port, receiver_pid, counter):
    directory = os.path.join(work, backend)
    os.makedirs(directory)
    url = (fresh_database("modelgate_bench_webhooks") if backend == "postgres"
           else f"sqlite://{directory}/modelgate.db")
    port = free_port()
    server = start_modelgate(binary, url, directory, port, {
        "MODELGATE__WEBHOOKS__ALLOW_HTTP": "true",
        "MODELGATE__WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",
    })
    try:
        status, body = http(port, "POST", "/api/v1/auth/token",
                            {"username": "admin", "password": ADMIN_PASSWORD})
        assert status == 200, body
        token = body["access_token"]
        assert http(port, "POST", "/api/v1/models", {"name": "bench"}, token)[0] == 201
        server_cpu = cpu_seconds(server.process.pid)
        without = create_rate(port, token, duration)
        without_cpu = cpu_seconds(server.process.pid) - server_cpu
        log(f"  {backend}: create version, no subscription: {without['rps']:.0f}/s")
        for i in range(SUBSCRIPTIONS):
            status, body = http(port, "POST", "/api/v1/webhooks", {
                "url": f"http://127.0.0.1:{receiver_port}/hook{i}", "events": ["version.created"],
            }, token)
            assert status == 201, body
        with counter.get_lock():
            counter.value = 0
        started = time.perf_counter()
        server_cpu, receiver_cpu = cpu_seconds(server.process.pid), cpu_seconds(receiver_pid)
        with_subs = create_rate(port, token, duration)
        with_cpu = cpu_seconds(server.process.pid) - server_cpu
        receiver_cpu = cpu_seconds(receiver_pid) - receiver_cpu
        during = counter.value
        loaded = time.perf_counter() - started
        expected = SUBSCRIPTIONS * with_subs["requests"]
        log(f"  {backend}: create version, {SUBSCRIPTIONS} subscriptions: {with_subs['rps']:.0f}/s; "
            f"{during} of {expected} deliveries made meanwhile; draining the rest")
        drain_from, drained_at = counter.value, time.perf_counter()
        deadline = time.perf_counter() + 600
        while counter.value < expected and time.perf_counter() < deadline:
            time.sleep(0.05)
        drain_s = time.perf_counter() - drained_at
        total_s = time.perf_counter() - started
        assert counter.value >= expected, f"only {counter.value} of {expected} deliveries in 10 min"
        return {
            "backend": "PostgreSQL" if backend == "postgres" else "SQLite",
            "without": without["rps"], "with": with_subs["rps"],
            "errors": without["errors"] + with_subs["errors"],
            "during": during / loaded,
            "drain": (counter.value - drain_from) / drain_s if drain_s > 0 else 0.0,
            "overall": counter.value / total_s, "deliveries": counter.value,
            "server_cpu": (without_cpu, with_cpu), "receiver_cpu": receiver_cpu,
        }
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    counter = multiprocessing.Value("q", 0)
    receiver_port = free_port()
    listener = multiprocessing.Process(target=receiver, args=(receiver_port, counter), daemon=True)
    listener.start()
    work = tempfile.mkdtemp(prefix="modelgate-bench-webhooks-")
    rows = []
    try:
        for backend in ("sqlite", "postgres"):
            rows.append(run(args.binary, backend, work, args.duration, receiver_port, listener.pid, counter))
    finally:
        listener.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print(f"Create version at 32 connections ({args.duration} s each), then every delivery to "
          f"{SUBSCRIPTIONS} subscriptions on a local receiver:\n")
    print("| database | creates/s, no subscription | creates/s, 5 subscriptions | change | "
          "deliveries/s during the load | deliveries/s after it | deliveries | "
          "server CPU s (0 / 5 subs) | receiver CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        change = 100 * (r["with"] / r["without"] - 1) if r["without"] else 0.0
        print(f"| {r['backend']} | {r['without']:.0f} | {r['with']:.0f} | {change:+.0f}% | "
              f"{r['during']:.0f} | {r['drain']:.0f} | {r['deliveries']} | "
              f"{r['server_cpu'][0]:.1f} / {r['server_cpu'][1]:.1f} | {r['receiver_cpu']:.1f} |")
    if any(r["errors"] for r in rows):
        print("\nnon-2xx or socket errors:", [r["errors"] for r in rows])


if __name__ == "__main__":
    main()
