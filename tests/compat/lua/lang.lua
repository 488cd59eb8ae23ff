-- lang.lua: the language and its libraries (string, table, math,
-- coroutines, errors, closures, integers and floats, utf8, os.time).
local n = 0
local function ok(name, cond)
  if not cond then error("FAIL " .. name) end
  n = n + 1
end
ok("integer division", 7 // 2 == 3 and -7 // 2 == -4 and 7 % -3 == -2)
ok("float", math.abs(math.sin(math.pi)) < 1e-15 and 2^53 == 9007199254740992.0)
ok("integer overflow wraps", math.maxinteger + 1 == math.mininteger)
ok("tostring", tostring(1/0) == "inf" and tostring(3.0) == "3.0")
ok("string.format", string.format("%5.2f|%d|%s|%q", 3.14159, 42, "x", "a\n") == " 3.14|42|x|\"a\\\n\"")
ok("patterns", ("hello world"):gsub("o", "0") == "hell0 w0rld")
ok("gmatch", select(2, ("a1b22c333"):gsub("%d+", "")) == 3)
ok("string.pack", string.unpack("<i4", string.pack("<i4", -5)) == -5)
ok("utf8", utf8.len("héllo") == 5 and utf8.char(233) == "é")
local t = {}
for i = 1, 100000 do t[i] = i * i end
ok("big table", #t == 100000 and t[100000] == 10000000000)
table.sort(t, function(a, b) return a > b end)
ok("sort", t[1] == 10000000000 and t[100000] == 1)
ok("concat", table.concat({1, 2, 3}, ",") == "1,2,3")
ok("unpack", select("#", table.unpack({1, 2, 3})) == 3)
local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
ok("coroutines", co(1) == 2 and co(10) == 20)
local okc, e = pcall(error, {code = 7})
ok("pcall", not okc and e.code == 7)
ok("xpcall", select(2, xpcall(function() error("x") end, function(m) return "handled" end)) == "handled")
local function counter() local c = 0; return function() c = c + 1; return c end end
local c1 = counter(); c1(); ok("closures", c1() == 2)
local mt = setmetatable({}, {__index = function(_, k) return k .. "!" end, __add = function() return 99 end})
ok("metatables", mt.hi == "hi!" and mt + 1 == 99)
ok("goto", (function() local i = 0 ::top:: i = i + 1 if i < 5 then goto top end return i end)() == 5)
ok("os.time", os.time() > 1600000000 and os.time{year=2000, month=1, day=1, hour=12} ~= nil)
ok("os.clock", type(os.clock()) == "number")
ok("os.date", os.date("!%Y-%m-%d", 0) == "1970-01-01")
ok("os.getenv", os.getenv("NO_SUCH_VARIABLE_HERE") == nil)
ok("collectgarbage", collectgarbage("count") > 0 and collectgarbage() == 0)
ok("load", load("return 1 + 1")() == 2)
ok("math.random", math.random(1, 6) >= 1)
ok("string.rep", #string.rep("ab", 1000, ",") == 2999)
print("lang.lua: " .. n .. " checks passed")
