-- A request to a random model of the seeded scale database:
-- BENCH_PATH with {model} (model-000001 … model-<BENCH_MODELS>) and {version}
-- (1 … BENCH_VERSIONS) and {at} (BENCH_AT_MIN … BENCH_AT_MAX) replaced per
-- request; BENCH_METHOD, BENCH_BODY, BENCH_TOKEN.
local method = os.getenv("BENCH_METHOD") or "GET"
local template = os.getenv("BENCH_PATH")
local models = tonumber(os.getenv("BENCH_MODELS"))
local versions = tonumber(os.getenv("BENCH_VERSIONS") or "1")
local body = os.getenv("BENCH_BODY")
local at_min = tonumber(os.getenv("BENCH_AT_MIN") or "0")
local at_max = tonumber(os.getenv("BENCH_AT_MAX") or "0")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
if body and body ~= "" then
  headers["Content-Type"] = "application/json"
else
  body = nil
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

request = function()
  local path = template
    :gsub("{model}", string.format("model-%06d", math.random(1, models)))
    :gsub("{version}", tostring(math.random(1, versions)))
    :gsub("{at}", string.format("%d", math.random(at_min, math.max(at_min, at_max))))
  return wrk.format(method, path, headers, body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
