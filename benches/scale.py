#!/usr/bin/env python3
"""Scale check: the per-request cost of the registry's hot operations on a
1,000-version database and on a 100,000-model / 1,000,000-version one, both on
PostgreSQL, measured with wrk at one connection (cost = latency, not
throughput). The read cache is switched off (server.read_cache = false) so
every request pays its queries, and reads pick a random model each time.

Seeding goes straight to SQL (generate_series after `modelgate migrate`):
models, versions (10 per model: 1-2 in None, 3-8 Archived, 9 Staging, 10
Production). It also writes the events that would have made them (a model's
creation, each version's registration and its move out of None, interleaved
across models as a registry grows, one millisecond apart: 1.9 million for the
large database), with placeholder hashes, and runs `modelgate migrate` again,
which builds the history index from them, so history at an instant is
measured at that many events. The chain's hashes are not valid; nothing here
checks them.

Run it with benches/scale (which builds the release binary).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ADMIN_PASSWORD, fresh_database, http, log, start_modelgate, wrk  # noqa: E402

SEED_SQL = """
INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, next_version)
  SELECT format('model-%s', lpad(i::text, 6, '0')), 1700000000000 + i, 1700000000000 + i, {per_model} + 1
  FROM generate_series(1, {models}) AS i;
INSERT INTO model_versions (model_id, version, source, current_stage, status, created_by,
                            creation_timestamp, last_updated_timestamp)
  SELECT m.id, v, 's3://bench/' || m.name || '/' || v,
         CASE WHEN v = {per_model} THEN 'Production' WHEN v = {per_model} - 1 THEN 'Staging'
              WHEN v <= 2 THEN 'None' ELSE 'Archived' END,
         'READY', 'seed', m.creation_timestamp + v, m.creation_timestamp + v
  FROM registered_models AS m CROSS JOIN generate_series(1, {per_model}) AS v
  ORDER BY m.id, v;
ANALYZE;
"""

# The events behind the seeded rows: every model's creation first, then
# round by round each model's next version (registered, then moved out of
# None), so any instant after the creations finds every model mid-life.
EVENTS_SQL = """
INSERT INTO events (id, event_type, model_name, version, actor, timestamp, payload, prev_hash, hash)
  SELECT n, event_type, model_name, version, 'seed', {first_ms} + n * 10, payload, '', 'seed'
  FROM (
    SELECT row_number() OVER (ORDER BY round, model_id, step) AS n, *
    FROM (
      SELECT 0 AS round, m.id AS model_id, 0 AS step, 'model.created' AS event_type,
             m.name AS model_name, NULL::bigint AS version, '{{}}' AS payload
        FROM registered_models AS m
      UNION ALL
      SELECT v.version, m.id, 1, 'version.created', m.name, v.version, '{{}}'
        FROM model_versions AS v JOIN registered_models AS m ON m.id = v.model_id
      UNION ALL
      SELECT v.version, m.id, 2, 'version.stage_changed', m.name, v.version,
             json_build_object('from_stage', 'None', 'to_stage', v.current_stage)::text
        FROM model_versions AS v JOIN registered_models AS m ON m.id = v.model_id
       WHERE v.current_stage <> 'None'
    ) AS e
  ) AS numbered;
UPDATE event_chain_head SET last_id = (SELECT max(id) FROM events), last_hash = 'seed';
ANALYZE;
"""
FIRST_EVENT_MS = 1_700_000_000_000


def seed(binary, name, work, models, per_model):
    url = fresh_database(name)
    env = dict(os.environ, MODELGATE__DATABASE__URL=url, MODELGATE__LOG__LEVEL="warn",
               MODELGATE__DATA_DIR=work)
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True, cwd=work)
    started = time.perf_counter()
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", url, "-c",
                    SEED_SQL.format(models=models, per_model=per_model)],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - started
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", url, "-c",
                    EVENTS_SQL.format(first_ms=FIRST_EVENT_MS)],
                   check=True, capture_output=True)
    events = int(subprocess.run(["psql", "-qXtA", url, "-c", "SELECT count(*) FROM events"],
                                check=True, capture_output=True, text=True).stdout.strip())
    started = time.perf_counter()
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True, cwd=work)
    indexed = time.perf_counter() - started
    log(f"  {events:,} events; history index built in {indexed:.1f} s")
    size = subprocess.run(["psql", "-qXtA", url, "-c", "SELECT pg_size_pretty(pg_database_size(current_database()))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    return url, seconds, size, events, indexed


def page_path(port, token, page):
    """The search URL of page `page` (or of the last page, if fewer), found by
    following next_page_token; answers (path, page number reached)."""
    base = "/api/2.0/mlflow/model-versions/search?max_results=100"
    path, reached = base, 1
    while reached < page:
        status, body = http(port, "GET", path, token=token)
        assert status == 200, body
        next_token = body.get("next_page_token")
        if not next_token:
            break
        path = f"{base}&page_token={urllib.parse.quote(next_token)}"
        reached += 1
    return path, reached


def measure(binary, url, work, models, per_model, events, duration, port):
    directory = tempfile.mkdtemp(dir=work)
    server = start_modelgate(binary, url, directory, port, {"MODELGATE__SERVER__READ_CACHE": "false"})
    try:
        status, body = http(port, "POST", "/api/v1/auth/token",
                            {"username": "admin", "password": ADMIN_PASSWORD})
        assert status == 200, body
        token = body["access_token"]
        first, _ = page_path(port, token, 1)
        deep, reached = page_path(port, token, 500)
        cases = [
            ("get latest Production", {"BENCH_PATH": "/api/v1/models/{model}/latest?stage=Production"}),
            ("get version", {"BENCH_PATH": "/api/v1/models/{model}/versions/{version}"}),
            ("version search, page 1", {"BENCH_PATH": first}),
            (f"version search, page {reached}", {"BENCH_PATH": deep}),
            ("history now", {"BENCH_PATH": "/api/v1/models/{model}/history"}),
            ("history at an instant", {"BENCH_PATH": "/api/v1/models/{model}/history?at={at}",
                                       "BENCH_AT_MIN": str(FIRST_EVENT_MS + (models + 1) * 10),
                                       "BENCH_AT_MAX": str(FIRST_EVENT_MS + events * 10)}),
            ("create version", {"BENCH_METHOD": "POST", "BENCH_PATH": "/api/v1/models/{model}/versions",
                                "BENCH_BODY": '{"source":"s3://bench/new"}'}),
        ]
        rows = []
        for name, env in cases:
            env = dict(env, BENCH_TOKEN=token, BENCH_MODELS=str(models), BENCH_VERSIONS=str(per_model))
            result = wrk(port, "random.lua", env, 1, duration)
            log(f"  {models:>7} models  {name:<26} {result['rps']:>7.0f}/s mean {result['mean_ms']:.2f} ms "
                f"p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms errors {result['errors']}")
            rows.append((name, result))
        return rows
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--versions-per-model", type=int, default=10)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="modelgate-scale-")
    per_model = args.versions_per_model
    sizes = [("small", 1000 // per_model), ("large", args.models)]
    results, seeding = {}, {}
    for label, models in sizes:
        log(f"seeding {models} models x {per_model} versions")
        url, seconds, size, events, indexed = seed(args.binary, f"modelgate_scale_{label}", work,
                                                   models, per_model)
        seeding[label] = (models, seconds, size, events, indexed)
        log(f"  seeded in {seconds:.1f} s ({size})")
        results[label] = measure(args.binary, url, work, models, per_model, events, args.duration,
                                 18180 + len(results))

    small_models, _, small_size, small_events, _ = seeding["small"]
    large_models, large_seconds, large_size, large_events, large_indexed = seeding["large"]
    print(f"### Scale ({time.strftime('%Y-%m-%d')}, PostgreSQL, 1 connection, read cache off)\n")
    print(f"Seeding {large_models:,} models and {large_models * per_model:,} versions took "
          f"{large_seconds:.0f} s ({large_size}); the small database has {small_models * per_model:,} "
          f"versions ({small_size}). The large database holds {large_events:,} events "
          f"(the small one {small_events:,}); building its history index from them took "
          f"{large_indexed:.0f} s.\n")
    print(f"| operation | {small_models * per_model:,} versions: mean ms | p99 ms | "
          f"{large_models * per_model:,} versions: mean ms | p99 ms | cost ratio | within 2x |")
    print("|---|---|---|---|---|---|---|")
    for (name, small), (large_name, large) in zip(results["small"], results["large"]):
        ratio = large["mean_ms"] / small["mean_ms"] if small["mean_ms"] else float("inf")
        label = name if name == large_name else f"{name} / {large_name.split(', ')[-1]}"
        errors = small["errors"] + large["errors"]
        verdict = "yes" if ratio <= 2 and errors == 0 else "no"
        print(f"| {label} | {small['mean_ms']:.2f} | {small['p99_ms']:.2f} | {large['mean_ms']:.2f} | "
              f"{large['p99_ms']:.2f} | {ratio:.2f}x | {verdict}{'' if not errors else f' ({errors} errors)'} |")


if __name__ == "__main__":
    main()
