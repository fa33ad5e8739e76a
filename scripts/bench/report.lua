-- wrk script of `make bench`: prints one machine-readable line after a run (latencies in µs).
-- Defining only done() keeps wrk on its fast path: the request is built once, not per call.
function done(summary, latency, requests)
  local e = summary.errors
  local p = function(q) return math.floor(latency:percentile(q)) end
  io.write(string.format("WRK requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, p(50), p(90), p(99), p(99.9), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
