-- wrk script for the reluserve HTTP benchmark (bench/http/run.py drives it).
--
-- BODY_FILE (environment): when set, every request is a POST of that file's
-- contents as application/json; otherwise the URL is fetched with GET.
-- done() prints one machine-readable line, "WRKJSON {...}", with the request
-- count, the duration, socket errors, non-2xx responses and the latency
-- percentiles (microseconds) from wrk's full latency histogram.

local path = os.getenv("BODY_FILE")
if path and path ~= "" then
    local f = assert(io.open(path, "rb"))
    wrk.method = "POST"
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
        '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
        '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean))
end
