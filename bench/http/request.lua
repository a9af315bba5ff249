-- wrk script for the reluserve HTTP benchmarks: one request over and over
-- (bench/http/common.py drives it for run.py, peer.py, memory.py, scaling.py
-- and overload.py), or a mixed, optionally paced list of them (scripts/soak).
--
-- BODY_FILE (environment): when set, every request is a POST of that file's
-- contents as application/json; otherwise the URL is fetched with GET.
-- MIX_FILE (environment): instead, one request per line, "METHOD PATH
-- [BODY_FILE]"; POST bodies are sent as application/json. Requests are taken
-- from the list in turn.
-- MIX_DELAY_MS (environment, default 0; with MIX_FILE): milliseconds each
-- connection waits after an answer before its next request; with C
-- connections the rate stays below C * 1000 / MIX_DELAY_MS requests per
-- second, so the load is steady and below saturation instead of as fast as
-- the server can go.
-- done() prints one machine-readable line, "WRKJSON {...}", with the request
-- count, the duration, socket errors, non-2xx responses and the latency
-- percentiles (microseconds) from wrk's full latency histogram.

local function read_file(path)
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    return data
end

local mix = os.getenv("MIX_FILE")
if mix and mix ~= "" then
    local requests = {}
    local counter = 0
    local pause = tonumber(os.getenv("MIX_DELAY_MS") or "0") or 0

    function init(args)
        for line in io.lines(mix) do
            local method, path, body_file = line:match("^(%S+)%s+(%S+)%s*(%S*)$")
            if method then
                local headers, body = {}, nil
                if body_file ~= "" then
                    body = read_file(body_file)
                    headers["Content-Type"] = "application/json"
                end
                requests[#requests + 1] = wrk.format(method, path, headers, body)
            end
        end
        assert(#requests > 0, "MIX_FILE lists no request")
    end

    function request()
        -- A thread's connections share its Lua state: consecutive calls come
        -- from different connections, so the kinds are spread over them.
        counter = counter + 1
        return requests[counter % #requests + 1]
    end

    -- Defined only when pacing: wrk then schedules a timer before every request.
    if pause > 0 then
        function delay()
            return pause
        end
    end
else
    local path = os.getenv("BODY_FILE")
    if path and path ~= "" then
        wrk.method = "POST"
        wrk.body = read_file(path)
        wrk.headers["Content-Type"] = "application/json"
    end
end

function done(summary, latency, requests_done)
    local e = summary.errors
    io.write(string.format(
        'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
        '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
        '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean))
end
