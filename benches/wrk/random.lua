-- A request to a random model of the seeded scale database:
-- BENCH_PATH and BENCH_BODY with {model} (model-000001 … model-<BENCH_MODELS>),
-- {version} (1 … BENCH_VERSIONS) and {at} (BENCH_AT_MIN … BENCH_AT_MAX)
-- replaced per request, the same model in both; BENCH_METHOD, BENCH_TOKEN.
local method = os.getenv("BENCH_METHOD") or "GET"
local path_template = os.getenv("BENCH_PATH")
local body_template = os.getenv("BENCH_BODY")
local models = tonumber(os.getenv("BENCH_MODELS"))
local versions = tonumber(os.getenv("BENCH_VERSIONS") or "1")
local at_min = tonumber(os.getenv("BENCH_AT_MIN") or "0")
local at_max = tonumber(os.getenv("BENCH_AT_MAX") or "0")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
if body_template and body_template ~= "" then
  headers["Content-Type"] = "application/json"
else
  body_template = nil
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

local function fill(template, model, version, at)
  -- gsub's second result (the count) is dropped
  local text = template:gsub("{model}", model):gsub("{version}", version):gsub("{at}", at)
  return text
end

request = function()
  local model = string.format("model-%06d", math.random(1, models))
  local version = tostring(math.random(1, versions))
  local at = string.format("%d", math.random(at_min, math.max(at_min, at_max)))
  local body = body_template and fill(body_template, model, version, at) or nil
  return wrk.format(method, fill(path_template, model, version, at), headers, body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
