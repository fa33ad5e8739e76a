-- wrk script of `make bench` for a steady load: each connection waits PAUSE ms (the first argument)
-- between an answer and its next request, so that the server is measured below saturation, where
-- its latency is its own and not the queue's.
--   wrk ... URL -- PAUSE
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local pause
function init(args)
  pause = tonumber(args[1])
  assert(pause and pause > 0, "the pause must be a number of milliseconds, not " .. tostring(args[1]))
end

function delay()
  return pause
end
