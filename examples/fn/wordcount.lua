-- wordcount.lua: counts the words of the body; answers one "word count"
-- line per distinct word, most frequent first (ties in word order).
--   lightvm fn deploy wordcount examples/fn/wordcount.lua
--   curl -X POST --data-binary @README.md http://127.0.0.1:8080/fn/wordcount
local function count(text)
  local n = {}
  for w in text:lower():gmatch("%a+") do
    n[w] = (n[w] or 0) + 1
  end
  local words = {}
  for w in pairs(n) do
    words[#words + 1] = w
  end
  table.sort(words, function(a, b)
    if n[a] ~= n[b] then return n[a] > n[b] end
    return a < b
  end)
  local out = {}
  for _, w in ipairs(words) do
    out[#out + 1] = w .. " " .. n[w]
  end
  return table.concat(out, "\n") .. "\n"
end

function handler(body)
  return count(body)
end
