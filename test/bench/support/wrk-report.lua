-- wrk script of the gateway bench: `wrk ... -s wrk-report.lua <url> -- <METHOD> [body file]`.
-- Sends the same request on every connection (a JSON body for POST) and, when done, prints one JSON line
-- with the figures the bench reads (latencies in microseconds; `status` counts answers of 400 and over).
function init(args)
  wrk.method = args[1] or "GET"
  if args[2] then
    local file = assert(io.open(args[2], "rb"))
    wrk.body = file:read("*a")
    file:close()
    wrk.headers["Content-Type"] = "application/json"
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"status":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
