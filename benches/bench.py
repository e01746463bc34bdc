#!/usr/bin/env python3
"""modelgate's benchmark: the same workloads, driven by wrk (a separate,
compiled load generator), against modelgate on PostgreSQL and SQLite, against
a real MLflow server on the same PostgreSQL, and PostgreSQL's own ceiling
measured with pgbench in the same run. Prints a markdown report.

Run it with benches/run (which builds the release binary and the venv).
"""

import argparse
import json
import threading
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "wrk")
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]
ADMIN_PASSWORD = "bench-admin-password"


def log(message):
    print(message, file=sys.stderr, flush=True)


def psql(sql, database="postgres"):
    subprocess.run(["psql", f"{PG_BASE}/{database}", "-qXc", sql], check=True, capture_output=True)


def fresh_database(name):
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    return f"{PG_BASE}/{name}"


def http(port, method, path, body=None, token=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else {})
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text.startswith("{") else text)


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mb(pid):
    """Resident memory of a process tree, in MB."""
    total = 0
    for process in descendants(pid):
        try:
            with open(f"/proc/{process}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def wait_ready(port, path, deadline_s=120):
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.002)
    raise RuntimeError(f"nothing became ready on port {port}")


class Server:
    """A server process; ready_s is the time from spawn to its readiness probe answering."""

    def __init__(self, argv, env, port, ready_path, cwd):
        self.port = port
        started = time.perf_counter()
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_ready(port, ready_path)
        self.ready_s = time.perf_counter() - started

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_modelgate(binary, database_url, work, port, extra_env=None):
    env = dict(os.environ)
    env.update({
        "MODELGATE__DATA_DIR": work,
        "MODELGATE__SERVER__PORT": str(port),
        "MODELGATE__DATABASE__URL": database_url,
        "MODELGATE__AUTH__BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MODELGATE__AUTH__TOKEN_TTL_SECONDS": "86400",
        "MODELGATE__LOG__LEVEL": "warn",
    })
    env.update(extra_env or {})
    env.pop("RUST_LOG", None)
    return Server([binary, "serve"], env, port, "/readyz", work)


def start_mlflow(venv, database_url, work, port):
    env = dict(os.environ)
    env["PATH"] = f"{venv}/bin:{env['PATH']}"
    argv = [
        f"{venv}/bin/mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", database_url.replace("postgres://", "postgresql+psycopg2://"),
        "--default-artifact-root", os.path.join(work, "artifacts"),
    ]
    return Server(argv, env, port, "/health", work)


def wrk(port, script, env, connections, duration):
    threads = 1 if connections == 1 else 2
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["BENCH_LUA_DIR"] = LUA
    result = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-s", os.path.join(LUA, script), f"http://127.0.0.1:{port}"],
        env=full_env, capture_output=True, text=True, check=True,
    )
    line = [l for l in result.stdout.splitlines() if l.startswith('{"requests"')][-1]
    report = json.loads(line)
    seconds = report["duration_us"] / 1e6
    return {
        "rps": report["requests"] / seconds if seconds else 0.0,
        "mean_ms": 1000 * seconds / report["requests"] if report["requests"] else 0.0,
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "errors": report["non_2xx"] + report["socket_errors"],
        "requests": report["requests"],
    }


# ---- seeding -------------------------------------------------------------

class Api:
    """The two ways to talk to a registry: modelgate's native API and MLflow's paths."""

    def __init__(self, kind, port, token):
        self.kind, self.port, self.token = kind, port, token

    def create_model(self, name):
        if self.kind == "native":
            status, body = http(self.port, "POST", "/api/v1/models", {"name": name}, self.token)
        else:
            status, body = http(self.port, "POST", "/api/2.0/mlflow/registered-models/create", {"name": name}, self.token)
        assert status in (200, 201), body

    def create_version(self, name):
        if self.kind == "native":
            status, body = http(self.port, "POST", f"/api/v1/models/{name}/versions", {"source": "s3://bench/model"}, self.token)
        else:
            status, body = http(self.port, "POST", "/api/2.0/mlflow/model-versions/create",
                                {"name": name, "source": "s3://bench/model"}, self.token)
        assert status in (200, 201), body

    def move(self, name, version, stage):
        if self.kind == "native":
            status, body = http(self.port, "POST", f"/api/v1/models/{name}/versions/{version}/stage",
                                {"stage": stage}, self.token)
        else:
            status, body = http(self.port, "POST", "/api/2.0/mlflow/model-versions/transition-stage",
                                {"name": name, "version": str(version), "stage": stage,
                                 "archive_existing_versions": False}, self.token)
        assert status == 200, body


# Versions per wrk thread in the transition runs: a version is revisited
# only after this many other moves of its thread, which must outlast the
# slowest request in flight (SQLite's busy waits reach hundreds of ms).
MOVE_RANGE = {1: 100, 32: 500}


def seed(api, versions_per_model=100, movers=(1, 32)):
    """bench-read: 100 versions, version 50 in Production; bench-create; one
    staged model per transition run."""
    api.create_model("bench-read")
    for _ in range(versions_per_model):
        api.create_version("bench-read")
    api.move("bench-read", 50, "Staging")
    api.move("bench-read", 50, "Production")
    api.create_model("bench-create")
    for connections in movers:
        name = f"bench-move-{connections}"
        api.create_model(name)
        count = MOVE_RANGE[connections] * (1 if connections == 1 else 2)
        for version in range(1, count + 1):
            api.create_version(name)
            api.move(name, version, "Staging")


def workloads(kind, token):
    """(workload name, wrk script, environment) for one API."""
    if kind == "native":
        requests = [
            ("create version", {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/v1/models/bench-create/versions",
                                "BENCH_BODY": '{"source":"s3://bench/new"}'}),
            ("latest Production", {"BENCH_PATH": "/api/v1/models/bench-read/latest?stage=Production"}),
            ("get model", {"BENCH_PATH": "/api/v1/models/bench-read"}),
            ("search versions (100)", {"BENCH_PATH": "/api/v1/models/bench-read/versions?max_results=100"}),
        ]
    else:
        requests = [
            ("create version", {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/2.0/mlflow/model-versions/create",
                                "BENCH_BODY": '{"name":"bench-create","source":"s3://bench/new"}'}),
            ("latest Production", {"BENCH_PATH": "/api/2.0/mlflow/registered-models/get-latest-versions?name=bench-read&stages=Production"}),
            # the form MlflowClient.get_latest_versions sends
            ("latest Production (POST)", {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/2.0/mlflow/registered-models/get-latest-versions",
                                          "BENCH_BODY": '{"name":"bench-read","stages":["Production"]}'}),
            ("get model", {"BENCH_PATH": "/api/2.0/mlflow/registered-models/get?name=bench-read"}),
            ("get version", {"BENCH_PATH": "/api/2.0/mlflow/model-versions/get?name=bench-read&version=50"}),
            # what the client asks before it downloads a model's files
            ("download URI", {"BENCH_PATH": "/api/2.0/mlflow/model-versions/get-download-uri?name=bench-read&version=50"}),
            ("search versions (100)", {"BENCH_PATH": "/api/2.0/mlflow/model-versions/search?filter=name%3D%27bench-read%27&max_results=100"}),
        ]
    for name, env in requests:
        env["BENCH_TOKEN"] = token or ""
        yield name, "request.lua", env
    yield "transition (archive)", "transition.lua", {
        "BENCH_API": kind, "BENCH_TOKEN": token or "", "BENCH_FIRST": "1",
    }


def measure(target, server, api_kind, token, connections_list, duration, idle_rss):
    """Runs every workload at each concurrency; returns rows and the peak RSS under load."""
    rows, peak = [], idle_rss
    for connections in connections_list:
        for workload, script, env in workloads(api_kind, token):
            if script == "transition.lua":
                env = dict(env, BENCH_MODEL=f"bench-move-{connections}",
                           BENCH_RANGE=str(MOVE_RANGE[connections]))
            samples, running = [], threading.Event()
            running.set()

            def sample():
                while running.is_set():
                    samples.append(rss_mb(server.process.pid))
                    time.sleep(0.2)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                result = wrk(server.port, script, env, connections, duration)
            finally:
                running.clear()
                sampler.join()
            peak = max([peak, *samples])
            result.update(target=target, api=api_kind, workload=workload, connections=connections)
            log(f"  {target:<22} {api_kind:<6} {workload:<22} c={connections:<2} "
                f"{result['rps']:>9.0f}/s p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms "
                f"errors {result['errors']}")
            rows.append(result)
    return rows, peak


def bench_server(target, start, api_kind, login, connections, duration):
    """Seeds one server and measures it, then starts it again on the same data
    to time start-to-ready on an existing database. Answers the rows,
    (start-to-ready, peak RSS, idle RSS) and the first start's time."""
    server = start()
    token = login(server.port) if login else None
    seed(Api(api_kind, server.port, token))
    time.sleep(1)
    idle = rss_mb(server.process.pid)
    measured, peak = measure(target, server, api_kind, token, connections, duration, idle)
    server.stop()
    restarted = start()
    restarted.stop()
    return measured, (restarted.ready_s, peak, idle), server.ready_s


def pgbench(connections, duration, script=None, database="modelgate_bench_pgbench"):
    threads = 1 if connections == 1 else 2
    argv = ["pgbench", "-n", "-c", str(connections), "-j", str(threads), "-T", str(duration)]
    if script:
        argv += ["-f", script]
    else:
        argv += ["-S"]
    result = subprocess.run(argv + [f"{PG_BASE}/{database}"], capture_output=True, text=True, check=True)
    for line in result.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise RuntimeError(result.stdout)


WRITE_SCRIPT = """\\set mid 1
BEGIN;
UPDATE registered_models SET next_version = next_version + 1, last_updated_timestamp = 1 WHERE id = :mid RETURNING *;
INSERT INTO model_versions (model_id, version, source, current_stage, status, created_by, creation_timestamp, last_updated_timestamp)
  SELECT :mid, next_version - 1, 's3://bench', 'None', 'READY', 'bench', 1, 1 FROM registered_models WHERE id = :mid;
SELECT last_id, last_hash FROM event_chain_head WHERE id = 1 FOR UPDATE;
INSERT INTO events (id, event_type, model_name, version, actor, timestamp, payload, prev_hash, hash)
  SELECT last_id + 1, 'version.created', 'bench', 1, 'bench', 1, '{}', last_hash, md5(last_hash) FROM event_chain_head WHERE id = 1;
UPDATE event_chain_head SET last_id = last_id + 1, last_hash = md5(last_hash) WHERE id = 1;
COMMIT;
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mlflow-venv")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,32")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    work = tempfile.mkdtemp(prefix="modelgate-bench-")
    rows, resources = [], []

    # PostgreSQL's ceiling, in this run
    log("pgbench: PostgreSQL's own ceiling")
    fresh_database("modelgate_bench_pgbench")
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", f"{PG_BASE}/modelgate_bench_pgbench"],
                   check=True, capture_output=True)
    migrate_env = dict(os.environ, MODELGATE__DATABASE__URL=f"{PG_BASE}/modelgate_bench_pgbench",
                       MODELGATE__LOG__LEVEL="warn", MODELGATE__DATA_DIR=work)
    subprocess.run([args.binary, "migrate"], env=migrate_env, check=True, capture_output=True, cwd=work)
    psql("INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, next_version) "
         "VALUES ('bench', 1, 1, 1)", "modelgate_bench_pgbench")
    script = os.path.join(work, "create_version.sql")
    with open(script, "w") as file:
        file.write(WRITE_SCRIPT)
    ceilings = {}
    for c in connections:
        ceilings[("read", c)] = pgbench(c, args.duration)
        ceilings[("write", c)] = pgbench(c, args.duration, script)
        log(f"  pgbench c={c}: read {ceilings[('read', c)]:.0f} tps, version-creation write {ceilings[('write', c)]:.0f} tps")

    def login(port):
        status, body = http(port, "POST", "/api/v1/auth/token",
                            {"username": "admin", "password": ADMIN_PASSWORD})
        assert status == 200, body
        return body["access_token"]

    port = 18080
    for target, backend in [("modelgate / PostgreSQL", "postgres"), ("modelgate / SQLite", "sqlite")]:
        for kind in ("native", "mlflow"):
            port += 1
            directory = os.path.join(work, f"{backend}-{kind}")
            os.makedirs(directory)
            url = (fresh_database(f"modelgate_bench_{kind}") if backend == "postgres"
                   else f"sqlite://{directory}/modelgate.db")
            measured, resource, _ = bench_server(
                target, lambda: start_modelgate(args.binary, url, directory, port),
                kind, login, connections, args.duration,
            )
            rows.extend(measured)
            resources.append((f"{target} ({kind} API run)", *resource))

    if args.mlflow_venv:
        log("MLflow server on the same PostgreSQL")
        port += 1
        directory = os.path.join(work, "mlflow")
        os.makedirs(directory)
        url = fresh_database("mlflow_bench")
        measured, resource, first_ready = bench_server(
            "MLflow / PostgreSQL", lambda: start_mlflow(args.mlflow_venv, url, directory, port),
            "mlflow", None, connections, args.duration,
        )
        rows.extend(measured)
        resources.append(("MLflow / PostgreSQL", *resource))
        log(f"  MLflow first start to ready: {first_ready:.1f} s")

    report(rows, resources, ceilings, connections)
    shutil.rmtree(work, ignore_errors=True)


def report(rows, resources, ceilings, connections):
    def find(target, api, workload, c):
        for row in rows:
            if (row["target"], row["api"], row["workload"], row["connections"]) == (target, api, workload, c):
                return row
        return None

    print(f"### Throughput and latency ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n")
    print("| workload | API | conns | modelgate PG req/s | p50 ms | p99 ms | errors | modelgate SQLite req/s | p99 ms | errors | MLflow PG req/s | p99 ms | errors | PG / MLflow | PG / pgbench |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    workload_names = sorted({row["workload"] for row in rows}, key=lambda w: [r["workload"] for r in rows].index(w))
    for c in connections:
        for workload in workload_names:
            for api in ("native", "mlflow"):
                pg = find("modelgate / PostgreSQL", api, workload, c)
                lite = find("modelgate / SQLite", api, workload, c)
                mlflow = find("MLflow / PostgreSQL", "mlflow", workload, c)
                if not pg:
                    continue
                kind = "write" if workload in ("create version", "transition (archive)") else "read"
                ceiling = ceilings.get((kind, c))
                ratio_mlflow = f"{pg['rps'] / mlflow['rps']:.0f}x" if mlflow and mlflow["rps"] else "-"
                ratio_pg = f"{100 * pg['rps'] / ceiling:.0f}%" if ceiling else "-"
                print(f"| {workload} | {api} | {c} | {pg['rps']:.0f} | {pg['p50_ms']:.2f} | {pg['p99_ms']:.2f} | "
                      f"{pg['errors']} | {lite['rps'] if lite else 0:.0f} | {lite['p99_ms'] if lite else 0:.2f} | "
                      f"{lite['errors'] if lite else '-'} | "
                      f"{mlflow['rps'] if mlflow else 0:.0f} | {mlflow['p99_ms'] if mlflow else 0:.2f} | "
                      f"{mlflow['errors'] if mlflow else '-'} | {ratio_mlflow} | {ratio_pg} |")
    print()
    print("### PostgreSQL ceiling (pgbench, same run)\n")
    print("| conns | `pgbench -S` tps | version-creation script tps |")
    print("|---|---|---|")
    for c in connections:
        print(f"| {c} | {ceilings[('read', c)]:.0f} | {ceilings[('write', c)]:.0f} |")
    print()
    print("### Memory and start-up\n")
    print("| server | start to ready (existing database) | idle RSS | peak RSS under load |")
    print("|---|---|---|---|")
    for name, ready, peak, idle in resources:
        idle_text = f"{idle:.1f} MB" if idle is not None else "-"
        print(f"| {name} | {ready * 1000:.0f} ms | {idle_text} | {peak:.1f} MB |")


if __name__ == "__main__":
    main()
