-- A fixed request from the environment: BENCH_METHOD, BENCH_PATH, BENCH_BODY, BENCH_TOKEN.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
