-- post_bodies.lua — wrk script: POST the JSON bodies of a file (one per
-- line), cycling, each wrk thread from its own starting point.
--   wrk -t2 -c64 -d5s --latency -s post_bodies.lua http://127.0.0.1:PORT/v1/jobs -- BODIES.jsonl
local bodies = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  if #bodies == 0 then error("no bodies in " .. tostring(args[1])) end
  i = math.random(#bodies)
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Accept"] = "application/json"}, bodies[i])
end
