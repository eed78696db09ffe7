-- wrk script for POST /v1/predict: the body is read from the file named by
-- FRESHET_PREDICT_BODY (bench/serve_bench.sh writes it).
local path = os.getenv("FRESHET_PREDICT_BODY") or "out/bench/predict_body.json"
local f = assert(io.open(path, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format(
      "FRESHET requests %d  rps %.1f  p50_ms %.3f  p90_ms %.3f  p99_ms %.3f  non200 %d\n",
      summary.requests, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, summary.errors.status))
end
