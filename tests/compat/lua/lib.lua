-- lib.lua: a module files.lua loads with loadfile.
return { twice = function(x) return 2 * x end }
