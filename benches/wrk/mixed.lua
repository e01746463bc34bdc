-- The scale check's long mixed load on the seeded database: per request a
-- random model (model-000001 … model-<BENCH_MODELS>) and one of
--   45% reads    get model (MLflow and native), latest versions (POST), get version
--   30% searches the model's versions (MLflow, name = '…', default order),
--                the registry's versions (first page, by name or by a time),
--                models by prefix
--   25% writes   register a version, change a version's description, set a version tag
-- BENCH_TOKEN, BENCH_VERSIONS (versions per model at seeding).
local models = tonumber(os.getenv("BENCH_MODELS"))
local versions = tonumber(os.getenv("BENCH_VERSIONS") or "1")
local token = os.getenv("BENCH_TOKEN")
local get_headers = { ["Authorization"] = "Bearer " .. token }
local json_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local orders = { "name", "name%20DESC", "creation_timestamp", "last_updated_timestamp%20DESC" }
local counter = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

request = function()
  counter = counter + 1
  local model = string.format("model-%06d", math.random(1, models))
  local version = math.random(1, versions)
  local roll = math.random(1, 100)
  if roll <= 15 then
    return wrk.format("GET", "/api/2.0/mlflow/registered-models/get?name=" .. model, get_headers)
  elseif roll <= 25 then
    return wrk.format("GET", "/api/v1/models/" .. model, get_headers)
  elseif roll <= 35 then
    return wrk.format("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", json_headers,
      string.format('{"name":"%s","stages":["Production"]}', model))
  elseif roll <= 45 then
    return wrk.format("GET", string.format("/api/2.0/mlflow/model-versions/get?name=%s&version=%d",
      model, version), get_headers)
  elseif roll <= 65 then
    return wrk.format("GET", "/api/2.0/mlflow/model-versions/search?max_results=100&filter=name%3D%27"
      .. model .. "%27", get_headers)
  elseif roll <= 72 then
    return wrk.format("GET", "/api/2.0/mlflow/model-versions/search?max_results=100&order_by="
      .. orders[math.random(1, #orders)], get_headers)
  elseif roll <= 75 then
    return wrk.format("GET", "/api/2.0/mlflow/registered-models/search?max_results=50&filter=name%20LIKE%20%27"
      .. string.sub(model, 1, 10) .. "%25%27", get_headers)
  elseif roll <= 90 then
    return wrk.format("POST", "/api/v1/models/" .. model .. "/versions", json_headers,
      string.format('{"source":"s3://bench/soak/%d","description":"soak %d"}', counter, counter))
  elseif roll <= 95 then
    return wrk.format("PATCH", string.format("/api/v1/models/%s/versions/%d", model, version), json_headers,
      string.format('{"description":"changed %d"}', counter))
  else
    return wrk.format("PUT", string.format("/api/v1/models/%s/versions/%d/tags/soak", model, version),
      json_headers, string.format('{"value":"%d"}', counter))
  end
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
