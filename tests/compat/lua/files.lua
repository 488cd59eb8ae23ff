-- files.lua: Lua's io library on the guest's file tree (tests/compat).
local n = 0
local function ok(name, cond)
  if not cond then error("FAIL " .. name) end
  n = n + 1
end
-- Reading the tree the image carries: this very script.
local f = assert(io.open("/lua/files.lua", "r"))
local first = f:read("l")
ok("read a line", first == "-- files.lua: Lua's io library on the guest's file tree (tests/compat).")
f:close()
-- A missing file is an error the program can handle, not a crash.
local g, err = io.open("/etc/passwd", "r")
ok("missing file", g == nil and err:find("No such file"))
-- Writing, appending, seeking, reading back.
local w = assert(io.open("/tmp/t.txt", "w"))
for i = 1, 100 do w:write(i, "\n") end
w:close()
local a = assert(io.open("/tmp/t.txt", "a"))
a:write("end\n")
a:close()
local r = assert(io.open("/tmp/t.txt", "r"))
local sum, last = 0, nil
for line in r:lines() do
  if tonumber(line) then sum = sum + tonumber(line) end
  last = line
end
ok("lines", sum == 5050 and last == "end")
ok("seek", r:seek("set", 4) == 4 and r:read(2) == "3\n")
ok("size", r:seek("end") == 296)
r:close()
-- io.tmpfile, os.tmpname, os.remove, os.rename
local t = assert(io.tmpfile())
t:write("scratch")
t:seek("set")
ok("tmpfile", t:read("a") == "scratch")
t:close()
local name = os.tmpname()
ok("tmpname", name:sub(1, 5) == "/tmp/")
ok("rename", os.rename("/tmp/t.txt", name))
ok("renamed", io.open("/tmp/t.txt") == nil)
ok("remove", os.remove(name))
ok("remove missing", not os.remove(name))
-- dofile and require through package.path
local m = assert(io.open("/tmp/mod.lua", "w"))
m:write("return { answer = 6 * 7 }\n")
m:close()
package.path = "/tmp/?.lua;" .. package.path
ok("require", require("mod").answer == 42)
ok("dofile", dofile("/tmp/mod.lua").answer == 42)
ok("loadfile", loadfile("/lua/lib.lua")().twice(21) == 42)
print("files.lua: " .. n .. " checks passed")
