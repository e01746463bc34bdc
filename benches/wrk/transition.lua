-- Stage moves with archive_existing_versions, with no invalid move: thread i
-- owns versions [BENCH_FIRST + i*R, +R) (all start in Staging) and walks them
-- in turn, moving each to Production on even passes and to Staging on odd
-- ones. A version is revisited only after R other requests of its thread, so
-- its previous move has finished. BENCH_API is "native" or "mlflow".
local api = os.getenv("BENCH_API") or "native"
local model = os.getenv("BENCH_MODEL")
local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local range = tonumber(os.getenv("BENCH_RANGE") or "100")
local token = os.getenv("BENCH_TOKEN")
local threads = 0

function setup(thread)
  thread:set("base", first + threads * range)
  threads = threads + 1
end

local counter = 0
local primed = false

function request()
  -- wrk calls request() once before it starts sending; that call must not
  -- use up a version's move, or the version is a pass behind from then on.
  if not primed then
    primed = true
    return wrk.format("GET", "/healthz")
  end
  local version = base + (counter % range)
  local pass = math.floor(counter / range)
  counter = counter + 1
  local stage = (pass % 2 == 0) and "Production" or "Staging"
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  if api == "mlflow" then
    return wrk.format("POST", "/api/2.0/mlflow/model-versions/transition-stage", headers,
      string.format('{"name":"%s","version":"%d","stage":"%s","archive_existing_versions":true}',
        model, version, stage))
  end
  return wrk.format("POST", string.format("/api/v1/models/%s/versions/%d/stage", model, version),
    headers, string.format('{"stage":"%s","archive_existing_versions":true}', stage))
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
