#!/bin/bash
# build-lua.sh BUILD: Lua 5.4 for the function service's guest, from
# Debian's source package (pinned in tests/compat/compat.lock, fetched by
# tests/compat/fetch.sh into build/compat-src/lua5.4, the copy the
# compatibility suite builds too), compiled unmodified with the SDK's
# lightvm-cc into BUILD/faas/liblua.a. Never committed.
set -eu
BUILD=$1
top=$(pwd)
pkg=lua5.4
src=$top/build/compat-src/$pkg
out=$top/$BUILD/faas/lua
CC=$top/$BUILD/sdk/bin/lightvm-cc
ver=$(awk -v p="$pkg" '$1 == p { print $2 }' tests/compat/compat.lock)
if [ ! -f "$src/.lightvm-version" ] || [ "$(cat "$src/.lightvm-version")" != "$ver" ]; then
    mkdir -p build/debsrc
    # One fetch at a time: parallel makes share apt's lists directory.
    flock build/debsrc/.compat-lock tests/compat/fetch.sh build/debsrc "$src" "$pkg"
fi
rm -rf "$out"
mkdir -p "$out"
# What debian/rules generates before building.
printf '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n' >"$out/lua5.4-deb-multiarch.h"
# Third-party code: its warnings are not ours to fix (-w).
for f in $(ls "$src"/src/*.c | grep -v -e '/lua\.c$' -e '/luac\.c$'); do
    echo "$f"
done | xargs -P 2 -I{} sh -c 'f=$1; o=$2/$(basename "$f" .c).o
    "$3" -O2 -w -DLUA_USE_POSIX -I"$2" -I"$4/src" -c "$f" -o "$o" 2>"$o.log" ||
        { head -n 5 "$o.log" >&2; exit 255; }' sh {} "$out" "$CC" "$src" ||
    { echo "faas: compiling Lua failed" >&2; exit 1; }
rm -f "$out/liblua.a"
ar rcs "$out/liblua.a" "$out"/*.o
mkdir -p "$out/include"
cp "$src"/src/lua.h "$src"/src/luaconf.h "$src"/src/lualib.h "$src"/src/lauxlib.h \
    "$out/lua5.4-deb-multiarch.h" "$out/include/"
echo "$ver" >"$out/.lightvm-version"
