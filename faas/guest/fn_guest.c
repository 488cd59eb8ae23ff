/*
 * fn_guest.c: the function service's guest: Lua 5.4 (Debian's, unmodified)
 * answering one invocation. The gateway attaches two block devices:
 *
 *   files   read-only tar, the guest's file tree (the SDK mounts it):
 *           /fn/handler.lua (the function) and /fn/body (the request body)
 *   result  writable, where the answer goes: one line
 *           "LVMFN1 KIND LENGTH\n" then LENGTH bytes, KIND "ok" or the
 *           error's cause (syntax, runtime, memory, stack, result)
 *
 * The result has a device of its own so that nothing the function prints
 * (print output goes to the console) can pass for its answer.
 *
 * argv: fn-guest [MEMORY-LIMIT-BYTES [hold]]: the Lua heap's limit, so
 * that an allocation without end is a clean "out of memory" error with
 * the function's line instead of a guest killed by its RAM. With "hold"
 * the guest stays, Lua state and all, after answering until it is powered
 * off: a warm function guest, whose memory bench/faas.sh measures.
 */
#include <lightvm/guest.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LVM_MANIFEST(LVM_FILES_BLOCK, LVM_BLOCK("result", 0));

#define HANDLER "/fn/handler.lua"
#define BODY "/fn/body"

static size_t heap_used, heap_limit;

/* Endless recursion ends one of two ways: Lua's stack reaches its
 * LUAI_MAXSTACK slots ("stack overflow", a runtime error), or, as Lua's
 * stack and call frames live in its heap, the heap limit comes first (a
 * memory error). Both are reported as "stack": the depth of the calls
 * when it happened tells it from a handler that merely allocates. */
#define DEEP_CALLS 1000  /* calls nested deeper are a runaway recursion */
#define DEEP_CALLS_C 150 /* "C stack overflow": LUAI_MAXCCALLS is 200 */
static lua_State *main_L;
static int oom_depth; /* the calls nested at the last failed allocation */
static int err_depth; /* at the last runtime error (the message handler) */

/* How many calls are nested in (L), counted only past (floor): 0 if
 * fewer. lua_getstack walks the frames and allocates nothing, so the
 * allocator may call it. */
static int call_depth(lua_State *L, int floor)
{
    lua_Debug ar;
    if (!L || !lua_getstack(L, floor, &ar))
        return 0;
    int lo = floor, hi = floor * 2;
    while (lua_getstack(L, hi, &ar)) {
        lo = hi;
        hi *= 2;
    }
    while (hi - lo > 1) { /* lo exists, hi does not */
        int mid = lo + (hi - lo) / 2;
        if (lua_getstack(L, mid, &ar))
            lo = mid;
        else
            hi = mid;
    }
    return lo + 1;
}

/* Lua's allocator, with a ceiling on what the function may hold. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        heap_used -= osize;
        return NULL;
    }
    if (heap_limit && nsize > osize &&
        heap_used + (nsize - osize) > heap_limit) {
        oom_depth = call_depth(main_L, DEEP_CALLS);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        heap_used = heap_used - osize + nsize;
    else
        oom_depth = call_depth(main_L, DEEP_CALLS);
    return p;
}

/* Write the answer to the result device; the gateway reads nothing else. */
static int put_result(const char *kind, const char *data, size_t len)
{
    const struct lvm_device *d = lvm_device_find(LVM_DEV_BLOCK, "result");
    if (!d)
        return -1;
    uint64_t cap = d->u.block.capacity, bs = d->u.block.block_size;
    char head[64];
    int hl = snprintf(head, sizeof head, "LVMFN1 %s %zu\n", kind, len);
    if ((uint64_t)hl + len > cap) {
        static const char msg[] = "the result is bigger than the gateway's "
                                  "limit";
        return put_result("result", msg, sizeof msg - 1);
    }
    size_t total = (size_t)hl + len;
    size_t padded = (total + bs - 1) / bs * bs;
    char *buf = calloc(1, padded);
    if (!buf)
        return -1;
    memcpy(buf, head, (size_t)hl);
    memcpy(buf + hl, data, len);
    long r = lvm_block_write(d, 0, buf, padded);
    free(buf);
    return r == (long)padded ? 0 : -1;
}

/* The message handler of the handler's calls: runs where the error was
 * raised, with its frames still there, and notes how deep they go. */
static int on_error(lua_State *L)
{
    err_depth = call_depth(L, DEEP_CALLS_C);
    return 1; /* the message as it is */
}

static int fail(lua_State *L, int status)
{
    size_t n = 0;
    const char *msg = lua_tolstring(L, -1, &n);
    if (!msg) {
        msg = "(error object is not a string)";
        n = strlen(msg);
    }
    const char *kind = status == LUA_ERRSYNTAX ? "syntax"
                       : status == LUA_ERRMEM  ? "memory"
                                               : "runtime";
    if (status == LUA_ERRMEM && oom_depth) {
        char m[200];
        int ml = snprintf(m, sizeof m,
                          "stack overflow: the calls nested %d deep and ran "
                          "out of memory (Lua's heap limit is %zu KiB)",
                          oom_depth, heap_limit >> 10);
        return put_result("stack", m, (size_t)ml) < 0 ? 2 : 0;
    }
    /* Lua's own "stack overflow" / "C stack overflow" (a runtime error);
     * an error() whose text says so, from a shallow call, stays one. */
    if (status == LUA_ERRRUN && err_depth && strstr(msg, "stack overflow"))
        kind = "stack";
    return put_result(kind, msg, n) < 0 ? 2 : 0;
}

/* A file of the tree, whole: the body and the source are bounded by the
 * gateway's limits. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static int answer(int argc, char **argv);

int main(int argc, char **argv)
{
    int rc = answer(argc, argv);
    if (argc > 2 && !strcmp(argv[2], "hold"))
        for (;;)
            lvm_yield(LVM_FOREVER, 0); /* returns only for control requests */
    return rc;
}

static int answer(int argc, char **argv)
{
    if (argc > 1)
        heap_limit = strtoull(argv[1], NULL, 10);
    size_t blen = 0;
    char *body = read_file(BODY, &blen);
    if (!body) {
        static const char msg[] = "no request body in the guest's file tree";
        return put_result("runtime", msg, sizeof msg - 1) < 0 ? 2 : 0;
    }
    lua_State *L = lua_newstate(limited_alloc, NULL);
    if (!L) {
        static const char msg[] = "not enough memory to start Lua";
        return put_result("memory", msg, sizeof msg - 1) < 0 ? 2 : 0;
    }
    main_L = L;
    luaL_openlibs(L);
    /* Source only, everywhere: Lua does not check bytecode, and crafted
     * bytecode (a request body is a file here) can corrupt the
     * interpreter. The guest contains that, but a function has no need
     * of it, nor of the debug library. */
    static const char harden[] =
        "local load, loadfile = load, loadfile\n"
        "_G.load = function(c, n, _, ...) return load(c, n, 't', ...) end\n"
        "_G.loadfile = function(f, _, ...) return loadfile(f, 't', ...) end\n"
        "_G.dofile = function(f)\n"
        "  local fn = assert(loadfile(f, 't'))\n"
        "  return fn()\n"
        "end\n"
        "string.dump, debug, package.loaded.debug = nil, nil, nil\n";
    if (luaL_loadbufferx(L, harden, sizeof harden - 1, "=harden", "t") !=
            LUA_OK ||
        lua_pcall(L, 0, 0, 0) != LUA_OK)
        return fail(L, LUA_ERRRUN);
    size_t slen = 0;
    char *src = read_file(HANDLER, &slen);
    if (!src) {
        static const char msg[] = "no handler.lua in the guest's file tree";
        return put_result("runtime", msg, sizeof msg - 1) < 0 ? 2 : 0;
    }
    /* "@handler.lua": errors name the file and line as the user knows it;
     * "t": source only, no precompiled chunks. */
    int st = luaL_loadbufferx(L, src, slen, "@handler.lua", "t");
    free(src);
    if (st != LUA_OK)
        return fail(L, st);
    if ((st = lua_pcall(L, 0, 0, 0)) != LUA_OK)
        return fail(L, st);
    lua_pushcfunction(L, on_error);
    lua_getglobal(L, "handler");
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        static const char msg[] =
            "handler.lua defines no global function handler(body)";
        return put_result("runtime", msg, sizeof msg - 1) < 0 ? 2 : 0;
    }
    lua_pushlstring(L, body, blen);
    free(body);
    oom_depth = err_depth = 0; /* the handler's call's, not the chunk's */
    if ((st = lua_pcall(L, 1, 1, -3)) != LUA_OK)
        return fail(L, st);
    size_t n = 0;
    const char *out = "";
    switch (lua_type(L, -1)) {
    case LUA_TNIL: break;
    case LUA_TSTRING:
    case LUA_TNUMBER: out = lua_tolstring(L, -1, &n); break;
    case LUA_TBOOLEAN:
        out = lua_toboolean(L, -1) ? "true" : "false";
        n = strlen(out);
        break;
    default: {
        char msg[128];
        int ml = snprintf(msg, sizeof msg,
                          "handler returned a %s; return a string, a number, "
                          "a boolean or nil",
                          luaL_typename(L, -1));
        return put_result("runtime", msg, (size_t)ml) < 0 ? 2 : 0;
    }
    }
    return put_result("ok", out, n) < 0 ? 2 : 0;
}
