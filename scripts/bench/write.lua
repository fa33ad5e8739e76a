-- wrk script of `make bench` for writes:
--   wrk ... URL -- create RUN          POST a region with a new name on every request
--   wrk ... URL -- patch RUN IDSFILE   PATCH (merge patch of desc) the regions listed in IDSFILE
-- RUN makes names unique across runs (lower-case letters and digits). The Authorization header
-- comes from wrk's -H.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local n = 0
function init(args)
  mode, run = args[1], args[2]
  headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if mode == "create" then
    headers["Content-Type"] = "application/json"
  elseif mode == "patch" then
    headers["Content-Type"] = "application/merge-patch+json"
    ids = {}
    for line in io.lines(args[3]) do
      if line ~= "" then ids[#ids + 1] = line end
    end
    assert(#ids > 0, "no region ids in " .. args[3])
  else
    error("mode must be create or patch, not " .. tostring(mode))
  end
end

function request()
  n = n + 1
  if mode == "create" then
    local name = string.format("w%s-%d-%d", run, tid, n)
    local body = string.format('{"region_name":"%s","region_alias":"Write %d","url":"https://%s.example.com:8443",' ..
      '"wsurl":"wss://%s.example.com:6060","httpdomain":"apps-%s.example.com","tcpdomain":"10.9.%d.%d",' ..
      '"desc":"created by make bench","scope":"public"}', name, n, name, name, name, tid, n % 250)
    return wrk.format("POST", "/openapi/v1/regions", headers, body)
  end
  local id = ids[(n + tid) % #ids + 1]
  local body = string.format('{"desc":"patched by make bench %s-%d-%d"}', run, tid, n)
  return wrk.format("PATCH", "/openapi/v1/regions/" .. id, headers, body)
end
