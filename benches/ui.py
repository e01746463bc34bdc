#!/usr/bin/env python3
"""The web UI's server time: the model page of a model with 10,000 versions
and the inbox of an approver with 1,000 pending requests, on SQLite and on
PostgreSQL. The server logs each request's latency (its request span, from
the first byte read to the answer written); this prints p50, p99 and max of
those for each page over --requests sequential loads of a signed-in browser.

Run it with benches/ui (which builds the release binary).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ADMIN_PASSWORD, fresh_database, log, wait_ready  # noqa: E402
from bench import http as call  # noqa: E402


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, database_url, work, port):
    env = dict(os.environ)
    env.update({
        "MODELGATE__DATA_DIR": work,
        "MODELGATE__SERVER__PORT": str(port),
        "MODELGATE__DATABASE__URL": database_url,
        "MODELGATE__AUTH__BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MODELGATE__AUTH__TOKEN_TTL_SECONDS": "86400",
        "MODELGATE__LOG__LEVEL": "info",
        "MODELGATE__LOG__FORMAT": "json",
    })
    env.pop("RUST_LOG", None)
    log_file = open(os.path.join(work, "server.log"), "w")
    process = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=subprocess.DEVNULL,
                               stderr=log_file, start_new_session=True)
    wait_ready(port, "/readyz")
    return process, log_file


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def ok(answer, status):
    assert answer[0] == status, answer
    return answer[1]


def seed(port, versions, pending):
    admin = ok(call(port, "POST", "/api/v1/auth/token", {"username": "admin", "password": ADMIN_PASSWORD}), 200)
    admin = admin["access_token"]
    for username, role in [("carol", "contributor"), ("april", "approver")]:
        ok(call(port, "POST", "/api/v1/users",
                {"username": username, "password": f"{username}-password", "role": role}, admin), 201)
    carol = ok(call(port, "POST", "/api/v1/auth/token",
                    {"username": "carol", "password": "carol-password"}), 200)["access_token"]
    ok(call(port, "POST", "/api/v1/models", {"name": "big"}, carol), 201)
    ok(call(port, "POST", "/api/v1/models", {"name": "queue"}, carol), 201)
    started = time.perf_counter()
    for n in range(versions):
        ok(call(port, "POST", "/api/v1/models/big/versions", {"source": f"s3://b/big/{n}"}, carol), 201)
    for n in range(1, pending + 1):
        ok(call(port, "POST", "/api/v1/models/queue/versions", {"source": f"s3://b/queue/{n}"}, carol), 201)
        ok(call(port, "POST", f"/api/v1/models/queue/versions/{n}/stage", {"stage": "Staging"}, carol), 200)
        ok(call(port, "POST", f"/api/v1/models/queue/versions/{n}/transition-requests",
                {"stage": "Production"}, carol), 201)
    log(f"  seeded {versions} versions and {pending} pending requests in {time.perf_counter() - started:.0f} s")


class Browser:
    """A signed-in browser: one keep-alive connection and its cookies."""

    def __init__(self, port, username, password):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {}
        status, body = self.request("GET", "/ui/signin")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', body).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf": csrf})
        status, _ = self.request("POST", "/ui/signin", form)
        assert status == 303 and "modelgate_session" in self.cookies, status

    def request(self, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=form, headers=headers)
        response = self.connection.getresponse()
        body = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response.status, body


def latencies(log_path, route):
    """Server-side latency (ms) of each logged request to `route`."""
    found = []
    with open(log_path) as lines:
        for line in lines:
            if f'"route":"{route}"' not in line or "latency_ms" not in line:
                continue
            match = re.search(r'"latency_ms":([0-9.]+)', line)
            if match:
                found.append(float(match.group(1)))
    return found


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(binary, backend, versions, pending, requests):
    work = tempfile.mkdtemp(prefix="modelgate-ui-bench-")
    url = "sqlite://" + os.path.join(work, "ui.db") if backend == "sqlite" else fresh_database("modelgate_bench_ui")
    port = free_port()
    process, log_file = start(binary, url, work, port)
    try:
        seed(port, versions, pending)
        april = Browser(port, "april", "april-password")
        pages = [("/ui/models/big", "/ui/models/{name}", f"model page, {versions:,} versions"),
                 ("/ui/requests", "/ui/requests", f"inbox, {pending:,} pending requests")]
        # the inbox lists them all; a first load checks the pages are what we measure
        status, body = april.request("GET", "/ui/requests")
        assert status == 200 and body.count('href="/ui/requests/') >= pending, "the inbox lists every request"
        status, body = april.request("GET", "/ui/models/big")
        assert status == 200 and f"v{versions}</a>" in body, "the newest version is on the model page"
        for path, _, _ in pages:
            for _ in range(requests):
                status, _ = april.request("GET", path)
                assert status == 200
        time.sleep(0.5)
        log_file.flush()
        rows = []
        for _, route, label in pages:
            found = latencies(os.path.join(work, "server.log"), route)
            assert len(found) >= requests, (route, len(found))
            rows.append((backend, label, len(found), percentile(found, 50), percentile(found, 99), max(found)))
        return rows
    finally:
        stop(process)
        log_file.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    rows = []
    for backend in ("sqlite", "postgres"):
        log(f"{backend}:")
        rows += run(os.path.abspath(args.binary), backend, args.versions, args.pending, args.requests)
    print("| database | page | loads | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for backend, label, count, p50, p99, top in rows:
        print(f"| {backend} | {label} | {count} | {p50:.2f} | {p99:.2f} | {top:.2f} |")


main()
