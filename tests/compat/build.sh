#!/bin/bash
# build.sh BUILD PACKAGE: build the compatibility suite's guests for one
# Debian source package into BUILD/compat/PACKAGE/, with the SDK's
# lightvm-cc and the package's sources unmodified (only compiler flags).
# Sources are fetched once (fetch.sh) into build/compat-src/, shared by
# every build variant. Each guest that needs files (test scripts, sample
# data, expected output) carries them in its image (lightvm-cc --files).
set -eu
BUILD=$1
pkg=$2
top=$(pwd)
# The same programs built for the host (bench/compat.sh) come from
# COMPAT_CC (tests/compat/cc-native) into COMPAT_OUT.
CC=${COMPAT_CC:-$top/$BUILD/sdk/bin/lightvm-cc}
src=$top/build/compat-src/$pkg
out=${COMPAT_OUT:-$top/$BUILD/compat}/$pkg
# Third-party code: its warnings are not ours to fix (-w).
CFLAGS="-O2 -w"
# pcre2test's test files the suite runs (test_compat.sh reads this too).
PCRE2_TESTS="1 4 5 6 7 8 14 15 16 18 19 20 21 22 24 26"

ver=$(awk -v p="$pkg" '$1 == p { print $2 }' tests/compat/compat.lock)
if [ ! -f "$src/.lightvm-version" ] || [ "$(cat "$src/.lightvm-version")" != "$ver" ]; then
    # One fetch at a time: parallel makes share apt's lists directory.
    mkdir -p build/debsrc
    flock build/debsrc/.compat-lock tests/compat/fetch.sh build/debsrc "$src" "$pkg"
fi
# Objects are kept while the sources and this recipe stay the same, so an
# SDK change only relinks.
stamp="$ver $(sha256sum tests/compat/build.sh | cut -c1-16)"
if [ "$(cat "$out/obj/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$out"
    mkdir -p "$out/obj"
    echo "$stamp" >"$out/obj/.stamp"
fi
rm -rf "$out/tree" "$out/expect" "$out"/*.elf "$out/.built"
mkdir -p "$out/tree"

# objs FLAGS... -- FILES...: compile FILES (two at a time) into $out/obj;
# prints the object names.
objs() {
    local flags=()
    while [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    shift
    local f
    for f in "$@"; do echo "$f"; done |
        xargs -P 2 -I{} sh -c 'd=$1 f=$2 cc=$3; shift 3
            o="$d/$(basename "$f" .c).o"
            [ -s "$o" ] && exit 0
            "$cc" "$@" -c "$f" -o "$o" 2>"$o.log" || { head -n 5 "$o.log" >&2; exit 255; }' \
            sh "$out/obj" {} "$CC" $CFLAGS "${flags[@]}" >&2 || return 1
    for f in "$@"; do echo "$out/obj/$(basename "$f" .c).o"; done
}

# lib VAR FLAGS... -- FILES...: objs into the array VAR, or stop.
lib() {
    local var=$1 list
    shift
    list=$(objs "$@") || { echo "compat: $pkg: compiling its library failed" >&2; exit 1; }
    mapfile -t "$var" <<<"$list"
}

# elf NAME [lightvm-cc arguments...]
elf() {
    local name=$1
    shift
    "$CC" $CFLAGS -o "$out/$name.elf" "$@"
}

case $pkg in
zlib)
    cd "$src"
    lib lib -I. -- adler32.c crc32.c deflate.c infback.c \
        inffast.c inflate.c inftrees.c trees.c zutil.c compress.c uncompr.c \
        gzclose.c gzlib.c gzread.c gzwrite.c
    elf example -I. test/example.c "${lib[@]}"
    ;;
lz4)
    cd "$src"
    lib lib -Ilib -- lib/lz4.c lib/lz4hc.c lib/lz4frame.c lib/xxhash.c
    elf fuzzer -Ilib -Iprograms tests/fuzzer.c "${lib[@]}"
    elf frametest -Ilib -Iprograms tests/frametest.c "${lib[@]}"
    ;;
bzip2)
    cd "$src"
    lib lib -D_FILE_OFFSET_BITS=64 -- blocksort.c huffman.c \
        crctable.c randtable.c compress.c decompress.c bzlib.c
    cp sample1.bz2 sample2.bz2 sample3.bz2 sample1.ref "$out/tree/"
    elf bzip2 --files "$out/tree" -D_FILE_OFFSET_BITS=64 bzip2.c "${lib[@]}"
    ;;
cjson)
    cd "$src"
    # Its tests include cJSON.c themselves (tests/common.h).
    lib lib -I. -Itests/unity/src -- cJSON_Utils.c tests/unity/src/unity.c
    cp -r tests/inputs "$out/tree/inputs"
    cp -r tests/json-patch-tests "$out/tree/json-patch-tests"
    for t in tests/*.c; do
        n=$(basename "$t" .c)
        [ "$n" = unity_setup ] && continue
        elf "$n" --files "$out/tree" -I. -Itests -Itests/unity/src "$t" "${lib[@]}" -lm
    done
    ;;
jansson)
    cd "$src"
    # The two headers its configure (or CMake) generates, as they come
    # out on Linux with musl: C99 inline, long long, /dev/urandom for
    # the hash seed, no atomic builtins.
    sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' \
        -e 's/@json_have_localeconv@/1/' \
        -e 's/@json_have_atomic_builtins@/0/' \
        -e 's/@json_have_sync_builtins@/0/' \
        src/jansson_config.h.in >"$out/obj/jansson_config.h"
    {
        for h in ENDIAN_H FCNTL_H SCHED_H UNISTD_H SYS_PARAM_H SYS_STAT_H \
            SYS_TIME_H SYS_TYPES_H STDINT_H CLOSE GETPID GETTIMEOFDAY OPEN \
            READ SCHED_YIELD LOCALE_H SETLOCALE INT32_T UINT32_T UINT16_T \
            UINT8_T SSIZE_T; do
            echo "#define HAVE_$h 1"
        done
        echo "#define USE_URANDOM 1"
        echo "#define INITIAL_HASHTABLE_ORDER 3"
    } >"$out/obj/jansson_private_config.h"
    jflags=(-I"$out/obj" -Isrc -DHAVE_CONFIG_H)
    lib lib "${jflags[@]}" -- src/dump.c src/error.c \
        src/hashtable.c src/hashtable_seed.c src/load.c src/memory.c \
        src/pack_unpack.c src/strbuffer.c src/strconv.c src/utf.c \
        src/value.c src/version.c
    for t in test/suites/api/test_*.c; do
        elf "$(basename "$t" .c)" "${jflags[@]}" -Itest/suites/api "$t" "${lib[@]}"
    done
    ;;
mbedtls)
    cd "$src"
    lib lib -Iinclude -- library/*.c
    elf selftest -Iinclude programs/test/selftest.c "${lib[@]}"
    ;;
pcre2)
    cd "$src"
    # What its CMake and configure make from the .generic files.
    cp src/config.h.generic "$out/obj/config.h"
    cp src/pcre2.h.generic "$out/obj/pcre2.h"
    cp src/pcre2_chartables.c.dist "$out/obj/pcre2_chartables.c"
    # config.h.generic leaves every HAVE_ and SUPPORT_ macro to the
    # command line: what configure finds on Linux with musl (8-bit
    # library, Unicode, no JIT, no readline or zlib in pcre2test).
    pflags=(-I"$out/obj" -Isrc -DHAVE_CONFIG_H -DPCRE2_STATIC -DSUPPORT_PCRE2_8
        -DSUPPORT_UNICODE -DHAVE_STDINT_H -DHAVE_INTTYPES_H -DHAVE_MEMMOVE
        -DHAVE_STRERROR -DHAVE_LIMITS_H -DHAVE_STDLIB_H -DHAVE_STRING_H
        -DHAVE_STRINGS_H -DHAVE_SYS_STAT_H -DHAVE_SYS_TYPES_H -DHAVE_UNISTD_H
        -DHAVE_DIRENT_H -DHAVE_WCHAR_H -DHAVE_STDIO_H)
    files=()
    for f in auto_possess compile config context convert dfa_match error \
        extuni find_bracket jit_compile maketables match match_data newline \
        ord2utf pattern_info script_run serialize string_utils study \
        substitute substring tables ucd valid_utf xclass; do
        files+=("src/pcre2_$f.c")
    done
    lib lib "${pflags[@]}" -DPCRE2_CODE_UNIT_WIDTH=8 -- "${files[@]}" "$out/obj/pcre2_chartables.c" src/pcre2posix.c
    # The tests its RunTest runs for this configuration (8-bit, Unicode,
    # no JIT, link size 2; 3 only where a French locale exists), inputs in
    # the image; the expected outputs stay on the host, where the suite
    # compares them with the console's.
    mkdir -p "$out/tree/testdata" "$out/expect"
    for i in $PCRE2_TESTS; do
        cp "testdata/testinput$i" "$out/tree/testdata/"
        e=testdata/testoutput$i
        [ -f "$e" ] || e=testdata/testoutput$i-8
        [ -f "$e" ] || e=testdata/testoutput$i-8-2
        cp "$e" "$out/expect/testoutput$i"
    done
    elf pcre2test --files "$out/tree" "${pflags[@]}" src/pcre2test.c "${lib[@]}"
    ;;
lua5.4)
    cd "$src"
    # What debian/rules generates before building.
    printf '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n' >"$out/obj/lua5.4-deb-multiarch.h"
    lib lib -DLUA_USE_POSIX -I"$out/obj" -Isrc -- $(ls src/*.c | grep -v -e lua.c -e luac.c)
    cp -r "$top/tests/compat/lua" "$out/tree/lua"
    elf lua --files "$out/tree" -DLUA_USE_POSIX -I"$out/obj" -Isrc src/lua.c "${lib[@]}" -lm
    ;;
*)
    echo "compat: $pkg: no build recipe in tests/compat/build.sh" >&2
    exit 1
    ;;
esac
echo "$ver" >"$out/.built"
