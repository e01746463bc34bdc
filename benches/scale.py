#!/usr/bin/env python3
"""Scale check: does a read cost the same on a registry of a million versions
as on one of a thousand, on PostgreSQL and on SQLite?

Two shapes, each seeded small and large in its own database:

- many: 100 models x 10 versions against 100,000 models x 10 versions (a
  registry of many models);
- one: 1 model x 1,000 versions against 1 model x 1,000,000 versions (a
  model retrained every hour for a century).

Every operation is measured with wrk at one connection (cost = latency, not
throughput), the read cache off (server.read_cache = false) so every request
pays its queries, a random model and version per request. The version
search is MLflow's `search_model_versions`: in the one-model shape filtered
by `name = '…'` as the MLflow client sends it, in the many-model shape over
the whole registry; its 500th page (100 per page) is reached by following
next_page_token 499 times (the small databases have 10 pages: their last
stands in).

Seeding goes straight to SQL after `modelgate migrate`: models, versions
(in each model: 1-2 in None, 3 to n-2 Archived, n-1 Staging, n Production),
an alias `champion` on the Production version, and the events that would
have made them (each model's creation, then round by round each model's next
version registered and moved out of None, then the alias), one every 10 ms,
placeholder hashes. `modelgate migrate` then builds the history index from
those events, so history at an instant is measured at that many events. The
chain's hashes are not valid; nothing here checks them.

After the measurements, each backend serves a long mixed load (reads,
searches, writes; benches/wrk/mixed.lua) at 32 connections on the large
many-model database with the default configuration (read cache on), in 30 s
slices; the server's RSS is printed after each slice, and its idle RSS after
a login on the seeded database before the load.

Run it with benches/scale (which builds the release binary).
"""

import argparse
import os
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (ADMIN_PASSWORD, PG_BASE, fresh_database, http, log, rss_mb,  # noqa: E402
                   start_modelgate, wrk)

FIRST_MS = 1_700_000_000_000
FIRST_EVENT_MS = 1_710_000_000_000
EVENT_STEP_MS = 10

# Per backend: a series of integers 1..$n named s(i), a model's name, a JSON
# object, an empty JSON object.
DIALECT = {
    "postgres": {
        "with_series": "",
        "series": "generate_series(1, $n) AS s(i)",
        "name": "'model-' || lpad(s.i::text, 6, '0')",
        "stage_payload": "json_build_object('from_stage', 'None', 'to_stage', v.current_stage)::text",
    },
    "sqlite": {
        "with_series": "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n) ",
        "series": "s",
        "name": "printf('model-%06d', s.i)",
        "stage_payload": "json_object('from_stage', 'None', 'to_stage', v.current_stage)",
    },
}

SEED_SQL = """
$models_with INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, next_version)
  SELECT $name, $first_ms + s.i * 1000, $first_ms + s.i * 1000, $per_model + 1 FROM $models_series;
$versions_with INSERT INTO model_versions (model_id, version, source, current_stage, status, created_by,
                            creation_timestamp, last_updated_timestamp)
  SELECT m.id, s.i, 's3://bench/' || m.name || '/' || s.i,
         CASE WHEN s.i = $per_model THEN 'Production' WHEN s.i = $per_model - 1 THEN 'Staging'
              WHEN s.i <= 2 THEN 'None' ELSE 'Archived' END,
         'READY', 'seed', m.creation_timestamp + s.i, m.creation_timestamp + s.i
  FROM registered_models AS m CROSS JOIN $versions_series
  ORDER BY m.id, s.i;
INSERT INTO registered_model_aliases (model_id, alias, version)
  SELECT id, 'champion', $per_model FROM registered_models;
"""

# The events behind the seeded rows: every model's creation first, then
# round by round each model's next version (registered, then moved out of
# None), then the aliases, so any instant after the creations finds every
# model mid-life.
EVENTS_SQL = """
INSERT INTO events (id, event_type, model_name, version, actor, timestamp, payload, prev_hash, hash)
  SELECT n, event_type, model_name, version, 'seed', $first_event_ms + n * $step, payload, '', 'seed'
  FROM (
    SELECT row_number() OVER (ORDER BY round, model_id, step) AS n, e.*
    FROM (
      SELECT 0 AS round, m.id AS model_id, 0 AS step, 'model.created' AS event_type,
             m.name AS model_name, CAST(NULL AS BIGINT) AS version, '{}' AS payload
        FROM registered_models AS m
      UNION ALL
      SELECT v.version, m.id, 1, 'version.created', m.name, v.version, '{}'
        FROM model_versions AS v JOIN registered_models AS m ON m.id = v.model_id
      UNION ALL
      SELECT v.version, m.id, 2, 'version.stage_changed', m.name, v.version, $stage_payload
        FROM model_versions AS v JOIN registered_models AS m ON m.id = v.model_id
       WHERE v.current_stage <> 'None'
      UNION ALL
      SELECT $per_model + 1, m.id, 0, 'alias.set', m.name, CAST(NULL AS BIGINT),
             '{"alias": "champion", "version": $per_model}'
        FROM registered_models AS m
    ) AS e
  ) AS numbered;
UPDATE event_chain_head SET last_id = (SELECT max(id) FROM events), last_hash = 'seed',
                            last_timestamp = (SELECT max(timestamp) FROM events);
"""

ORDERS = [None, "name ASC", "name DESC", "version_number ASC", "version_number DESC",
          "creation_timestamp ASC", "creation_timestamp DESC", "last_updated_timestamp ASC",
          "last_updated_timestamp DESC"]
PAGE = 100
DEEP_PAGE = 500


def sql_for(template, backend, **values):
    dialect = DIALECT[backend]
    fields = {
        "models_with": string.Template(dialect["with_series"]).substitute(n=values["models"]),
        "models_series": string.Template(dialect["series"]).substitute(n=values["models"]),
        "versions_with": string.Template(dialect["with_series"]).substitute(n=values["per_model"]),
        "versions_series": string.Template(dialect["series"]).substitute(n=values["per_model"]),
        "name": dialect["name"],
        "stage_payload": dialect["stage_payload"],
        "first_ms": FIRST_MS,
        "first_event_ms": FIRST_EVENT_MS,
        "step": EVENT_STEP_MS,
    }
    fields.update(values)
    return string.Template(template).substitute(fields)


class Database:
    """A seeded database of one backend: its URL and how to run SQL on it."""

    def __init__(self, backend, name, work):
        self.backend = backend
        # the server's data folder: its keys are recorded in the database
        self.directory = tempfile.mkdtemp(dir=work)
        if backend == "postgres":
            self.url = fresh_database(name)
            self.path = None
        else:
            self.path = os.path.join(work, f"{name}.db")
            self.url = f"sqlite://{self.path}"

    def execute(self, sql):
        if self.backend == "postgres":
            subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                           check=True, capture_output=True)
        else:
            with sqlite3.connect(self.path) as connection:
                connection.executescript(f"BEGIN; {sql} COMMIT;")

    def scalar(self, sql):
        if self.backend == "postgres":
            return subprocess.run(["psql", "-qXtA", self.url, "-c", sql], check=True,
                                  capture_output=True, text=True).stdout.strip()
        with sqlite3.connect(self.path) as connection:
            return str(connection.execute(sql).fetchone()[0])

    def analyze(self):
        self.execute("ANALYZE;")

    def size(self):
        if self.backend == "postgres":
            return self.scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
        total = sum(os.path.getsize(self.path + suffix) for suffix in ("", "-wal")
                    if os.path.exists(self.path + suffix))
        return f"{total / 1e6:.0f} MB"

    def explain(self, sql):
        """The plan of a query as the database ran it: EXPLAIN ANALYZE on
        PostgreSQL; on SQLite (which has no EXPLAIN ANALYZE) its query plan
        and the query's time, best of five."""
        if self.backend == "postgres":
            return self.scalar(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
        with sqlite3.connect(self.path) as connection:
            plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            best = None
            for _ in range(5):
                started = time.perf_counter()
                rows = connection.execute(sql).fetchall()
                elapsed = time.perf_counter() - started
                best = elapsed if best is None else min(best, elapsed)
        depth = {0: 0}
        lines = []
        for node, parent, _, detail in plan:
            depth[node] = depth.get(parent, 0) + 1
            lines.append("  " * (depth[node] - 1) + detail)
        lines.append(f"{len(rows)} rows in {best * 1000:.3f} ms (best of 5)")
        return "\n".join(lines)


def migrate(binary, database, work):
    env = dict(os.environ, MODELGATE__DATABASE__URL=database.url, MODELGATE__LOG__LEVEL="warn",
               MODELGATE__DATA_DIR=work)
    env.pop("RUST_LOG", None)
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True, cwd=work)


def seed(binary, backend, name, work, models, per_model):
    database = Database(backend, name, work)
    migrate(binary, database, work)
    started = time.perf_counter()
    database.execute(sql_for(SEED_SQL, backend, models=models, per_model=per_model))
    database.execute(sql_for(EVENTS_SQL, backend, models=models, per_model=per_model))
    database.analyze()
    seeded = time.perf_counter() - started
    events = int(database.scalar("SELECT count(*) FROM events"))
    started = time.perf_counter()
    migrate(binary, database, work)
    database.analyze()
    indexed = time.perf_counter() - started
    return database, {"seconds": seeded, "events": events, "indexed": indexed,
                      "size": database.size(), "models": models, "per_model": per_model}


def search_path(shape, order, page_size=PAGE):
    path = f"/api/2.0/mlflow/model-versions/search?max_results={page_size}"
    if shape == "one":
        path += "&filter=" + urllib.parse.quote("name='model-000001'")
    if order:
        path += "&order_by=" + urllib.parse.quote(order)
    return path


def deep_path(port, token, base, page, items="model_versions"):
    """The URL of page `page` of a search (or of its last page, if fewer),
    found by following next_page_token; answers (path, page reached)."""
    path, reached = base, 1
    while reached < page:
        status, body = http(port, "GET", path, token=token)
        assert status == 200 and items in body, body
        next_token = body.get("next_page_token")
        if not next_token:
            break
        path = f"{base}&page_token={urllib.parse.quote(next_token)}"
        reached += 1
    return path, reached


def cases(shape, port, token, events, models):
    """The operations measured: (label, wrk environment)."""
    mlflow = "/api/2.0/mlflow"
    out = [
        ("get model (native)", {"BENCH_PATH": "/api/v1/models/{model}"}),
        ("get model (MLflow)", {"BENCH_PATH": f"{mlflow}/registered-models/get?name={{model}}"}),
        ("latest versions, GET", {"BENCH_PATH": f"{mlflow}/registered-models/get-latest-versions?name={{model}}"}),
        ("latest versions, GET, stages=Production",
         {"BENCH_PATH": f"{mlflow}/registered-models/get-latest-versions?name={{model}}&stages=Production"}),
        ("latest versions, POST", {"BENCH_METHOD": "POST",
                                   "BENCH_PATH": f"{mlflow}/registered-models/get-latest-versions",
                                   "BENCH_BODY": '{"name":"{model}"}'}),
        ("latest versions, POST, stages=[Staging, Production]",
         {"BENCH_METHOD": "POST", "BENCH_PATH": f"{mlflow}/registered-models/get-latest-versions",
          "BENCH_BODY": '{"name":"{model}","stages":["Staging","Production"]}'}),
        ("latest in a stage (native, Production)", {"BENCH_PATH": "/api/v1/models/{model}/latest?stage=Production"}),
        ("latest in a stage (native, None)", {"BENCH_PATH": "/api/v1/models/{model}/latest?stage=None"}),
        ("get version (native)", {"BENCH_PATH": "/api/v1/models/{model}/versions/{version}"}),
        ("get version (MLflow)", {"BENCH_PATH": f"{mlflow}/model-versions/get?name={{model}}&version={{version}}"}),
    ]
    scope = "name = 'model-000001'" if shape == "one" else "all versions"
    for order in ORDERS:
        label = order or "default order"
        first = search_path(shape, order)
        deep, reached = deep_path(port, token, first, DEEP_PAGE)
        out.append((f"version search ({scope}), {label}, page 1", {"BENCH_PATH": first}))
        out.append((f"version search ({scope}), {label}, page {DEEP_PAGE}", {"BENCH_PATH": deep, "reached": reached}))
    native = f"/api/v1/models/{{model}}/versions?max_results={PAGE}"
    out.append(("version list (native), page 1", {"BENCH_PATH": native}))
    if shape == "one":
        deep, reached = deep_path(port, token, native.replace("{model}", "model-000001"), DEEP_PAGE, "versions")
        out.append((f"version list (native), page {DEEP_PAGE}", {"BENCH_PATH": deep, "reached": reached}))
    out += [
        ("history now", {"BENCH_PATH": "/api/v1/models/{model}/history"}),
        ("history at an instant", {"BENCH_PATH": "/api/v1/models/{model}/history?at={at}",
                                   "BENCH_AT_MIN": str(FIRST_EVENT_MS + (models + 1) * EVENT_STEP_MS),
                                   "BENCH_AT_MAX": str(FIRST_EVENT_MS + events * EVENT_STEP_MS)}),
        ("create version (native)", {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/v1/models/{model}/versions",
                                     "BENCH_BODY": '{"source":"s3://bench/new"}'}),
        ("create version (MLflow)", {"BENCH_METHOD": "POST", "BENCH_PATH": f"{mlflow}/model-versions/create",
                                     "BENCH_BODY": '{"name":"{model}","source":"s3://bench/new"}'}),
    ]
    return out


def login(port):
    status, body = http(port, "POST", "/api/v1/auth/token", {"username": "admin", "password": ADMIN_PASSWORD})
    assert status == 200, body
    return body["access_token"]


def measure(binary, database, shape, seeding, duration, port):
    server = start_modelgate(binary, database.url, database.directory, port,
                             {"MODELGATE__SERVER__READ_CACHE": "false"})
    try:
        token = login(port)
        rows = {}
        for name, env in cases(shape, port, token, seeding["events"], seeding["models"]):
            reached = env.pop("reached", None)
            env = dict(env, BENCH_TOKEN=token, BENCH_MODELS=str(seeding["models"]),
                       BENCH_VERSIONS=str(seeding["per_model"]))
            result = wrk(port, "random.lua", env, 1, duration)
            result["reached"] = reached
            log(f"  {database.backend:<8} {seeding['models'] * seeding['per_model']:>9,} versions  {name:<70} "
                f"mean {result['mean_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}")
            rows[name] = result
        return rows
    finally:
        server.stop()


def hot_queries(shape, database):
    """The queries behind the hottest reads, as the server sends them
    (src/domain/models.rs newest_per_stage, src/domain/version_search.rs)."""
    model_id = database.scalar("SELECT id FROM registered_models WHERE name = 'model-000001'")
    probe = ("(SELECT v.id FROM model_versions v WHERE v.model_id = m.id AND v.current_stage = '{}' "
             "ORDER BY v.version DESC LIMIT 1)")
    newest = ("SELECT " + ", ".join(f"{probe.format(stage)} AS {stage.lower()}"
                                    for stage in ("None", "Staging", "Production", "Archived"))
              + f" FROM registered_models m WHERE m.id IN ({model_id})")
    prompts = ("v.model_id NOT IN (SELECT model_id FROM registered_model_tags "
               "WHERE key = 'mlflow.prompt.is_prompt' AND value = 'true') "
               "AND v.id NOT IN (SELECT version_id FROM model_version_tags "
               "WHERE key = 'mlflow.prompt.is_prompt' AND value = 'true')")
    if shape == "one":
        search = (f"SELECT v.*, m.name FROM model_versions v JOIN registered_models m ON m.id = v.model_id "
                  f"WHERE v.model_id = {model_id} AND {prompts} "
                  f"ORDER BY v.last_updated_timestamp DESC, v.id DESC LIMIT {PAGE + 1}")
        label = "version search, name = 'model-000001', default order, page 1"
    else:
        # SQLite is told the index (src/domain/version_search.rs, ByTime)
        indexed = " INDEXED BY model_versions_by_updated" if database.backend == "sqlite" else ""
        search = (f"SELECT v.*, m.name FROM model_versions v{indexed} JOIN registered_models m ON m.id = v.model_id "
                  f"WHERE {prompts} "
                  f"ORDER BY v.last_updated_timestamp DESC, m.name ASC, v.id DESC LIMIT {PAGE + 1}")
        label = "version search over all versions, default order, page 1"
    return [("newest version per stage (get model, latest versions)", newest), (label, search)]


def soak(binary, database, seeding, minutes, port):
    """The long mixed load at 32 connections, default configuration."""
    server = start_modelgate(binary, database.url, database.directory, port)
    slices = []
    try:
        token = login(port)
        time.sleep(2)
        idle = rss_mb(server.process.pid)
        log(f"  {database.backend}: idle RSS after login {idle:.1f} MB")
        env = {"BENCH_TOKEN": token, "BENCH_MODELS": str(seeding["models"]),
               "BENCH_VERSIONS": str(seeding["per_model"])}
        total = 0
        for index in range(max(1, minutes * 2)):
            result = wrk(port, "mixed.lua", env, 32, 30)
            total += result["requests"]
            rss = rss_mb(server.process.pid)
            slices.append({"t": (index + 1) * 30, "rss": rss, "total": total, **result})
            log(f"  {database.backend:<8} t={(index + 1) * 30:>4} s  RSS {rss:6.1f} MB  "
                f"{result['rps']:7.0f} req/s  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}  "
                f"requests so far {total:,}")
        time.sleep(5)
        after = rss_mb(server.process.pid)
        return {"idle": idle, "slices": slices, "after": after}
    finally:
        server.stop()


def ratio(small, large):
    return large["mean_ms"] / small["mean_ms"] if small["mean_ms"] else float("inf")


def report(args, seedings, results, plans, soaks):
    backends = [b for b in ("postgres", "sqlite") if b in args.backends]
    title = {"postgres": "PostgreSQL", "sqlite": "SQLite"}
    print(f"### Scale ({time.strftime('%Y-%m-%d')}, read cache off, 1 connection, "
          f"{args.duration} s per operation)\n")
    for backend in backends:
        for shape in args.shapes:
            if (backend, shape, "small") not in seedings:
                continue
            small, large = seedings[(backend, shape, "small")], seedings[(backend, shape, "large")]
            print(f"- {title[backend]}, {shape}-model shape: {large['models']:,} models x {large['per_model']:,} "
                  f"versions seeded in {large['seconds']:.0f} s ({large['size']}, {large['events']:,} events; "
                  f"history index built in {large['indexed']:.0f} s); small: {small['models']:,} x "
                  f"{small['per_model']:,} ({small['size']}, {small['events']:,} events)")
    print()
    failures = []
    for shape in args.shapes:
        heading = {"many": "Many models: 1,000 versions (100 models x 10) against {large:,} ({models:,} x 10)",
                   "one": "One model: 1,000 versions against {large:,} in one model"}[shape]
        sample = seedings[(backends[0], shape, "large")]
        print("#### " + heading.format(large=sample["models"] * sample["per_model"], models=sample["models"]) + "\n")
        header = "| operation |"
        rule = "|---|"
        for backend in backends:
            big = seedings[(backend, shape, "large")]
            big = big["models"] * big["per_model"]
            header += (f" {title[backend]} 1,000: mean (p99) ms | {big:,}: mean (p99) ms | ratio |")
            rule += "---|---|---|"
        print(header + " within 2x |")
        print(rule + "---|")
        names = list(results[(backends[0], shape, "small")].keys())
        for name in names:
            line = f"| {name} |"
            verdict = True
            for backend in backends:
                small = results[(backend, shape, "small")][name]
                large = results[(backend, shape, "large")][name]
                r = ratio(small, large)
                errors = small["errors"] + large["errors"]
                verdict = verdict and r <= 2 and errors == 0
                small_page = f" [page {small['reached']}]" if small.get("reached") not in (None, DEEP_PAGE) else ""
                line += (f" {small['mean_ms']:.2f} ({small['p99_ms']:.2f}){small_page} | "
                         f"{large['mean_ms']:.2f} ({large['p99_ms']:.2f}) | {r:.2f}x"
                         f"{'' if not errors else f' ({errors} errors)'} |")
            if not verdict:
                failures.append((shape, name))
            print(line + (" yes |" if verdict else " **no** |"))
        print()
    for (backend, shape), queries in plans.items():
        for label, sql, plan in queries:
            print(f"#### {title[backend]}, {shape}-model shape at 1M: {label}\n")
            print("```sql\n" + sql + "\n```\n")
            print("```\n" + plan + "\n```\n")
    for backend, outcome in soaks.items():
        slices = outcome["slices"]
        print(f"#### Memory: {title[backend]}, {len(slices) * 30 // 60} minutes of mixed load at 32 connections "
              f"(read cache on)\n")
        print(f"Idle RSS after a login on the seeded database: {outcome['idle']:.1f} MB; "
              f"5 s after the load: {outcome['after']:.1f} MB.\n")
        print("| time | RSS MB | req/s in the slice | p99 ms | errors | requests so far |")
        print("|---|---|---|---|---|---|")
        for s in slices:
            print(f"| {s['t']} s | {s['rss']:.1f} | {s['rps']:.0f} | {s['p99_ms']:.2f} | {s['errors']} | "
                  f"{s['total']:,} |")
        half = len(slices) // 2
        if half:
            first = max(s["rss"] for s in slices[:half])
            second = max(s["rss"] for s in slices[half:])
            print(f"\nPeak RSS in the first half {first:.1f} MB, in the second {second:.1f} MB.\n")
    if not args.shapes:
        return
    if failures:
        print("Not within 2x: " + "; ".join(f"{shape}: {name}" for shape, name in failures))
    else:
        print("Every operation within 2x, on every backend and shape.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--shapes", default="many,one")
    parser.add_argument("--large", type=int, default=1_000_000, help="versions in the large databases")
    parser.add_argument("--duration", type=int, default=2, help="seconds per operation")
    parser.add_argument("--soak-minutes", type=int, default=10, help="0: no long mixed load")
    parser.add_argument("--soak-only", action="store_true",
                        help="seed the large many-model databases and run only the long mixed load")
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    work = tempfile.mkdtemp(prefix="modelgate-scale-")
    shapes = {"many": {"small": (100, 10), "large": (args.large // 10, 10)},
              "one": {"small": (1, 1000), "large": (1, args.large)}}
    seedings, results, plans, soaks = {}, {}, {}, {}
    port = 18180
    for backend in args.backends:
        soak_database = None
        for shape in (["many"] if args.soak_only else args.shapes):
            for size in (["large"] if args.soak_only else ["small", "large"]):
                models, per_model = shapes[shape][size]
                log(f"{backend}: seeding {models:,} models x {per_model:,} versions")
                database, seeding = seed(args.binary, backend, f"modelgate_scale_{shape}_{size}", work,
                                         models, per_model)
                log(f"  seeded in {seeding['seconds']:.1f} s ({seeding['size']}, {seeding['events']:,} events, "
                    f"history index {seeding['indexed']:.1f} s)")
                seedings[(backend, shape, size)] = seeding
                if size == "large":
                    plans[(backend, shape)] = [(label, sql, database.explain(sql))
                                               for label, sql in hot_queries(shape, database)]
                    if shape == "many":
                        soak_database = database
                port += 1
                if args.soak_only:
                    continue
                results[(backend, shape, size)] = measure(args.binary, database, shape, seeding,
                                                          args.duration, port)
        if args.soak_minutes > 0 and soak_database is not None:
            port += 1
            log(f"{backend}: {args.soak_minutes} minutes of mixed load at 32 connections")
            soaks[backend] = soak(args.binary, soak_database, seedings[(backend, "many", "large")],
                                  args.soak_minutes, port)
        if backend == "postgres":
            for shape in args.shapes:
                for size in ("small", "large"):
                    subprocess.run(["psql", f"{PG_BASE}/postgres", "-qXc",
                                    f"DROP DATABASE IF EXISTS modelgate_scale_{shape}_{size} WITH (FORCE)"],
                                   check=False, capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
    if args.soak_only:
        args.shapes = []
    report(args, seedings, results, plans, soaks)


if __name__ == "__main__":
    main()
