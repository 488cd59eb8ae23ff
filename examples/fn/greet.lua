-- greet.lua: the tutorial's function (docs/faas.md).
--   lightvm fn deploy greet examples/fn/greet.lua
--   curl -X POST --data-binary Ada http://127.0.0.1:8080/fn/greet
function handler(body)
  local name = body ~= "" and body or "world"
  print("greeting " .. name) -- to the guest's console, not the answer
  return "hello, " .. name .. "\n"
end
