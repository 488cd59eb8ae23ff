/*
 * cmd_inspect.c: lightvm inspect GUEST.elf -- validate a guest image and
 * show its manifest, segments and sizes.
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "cli/guest_opts.h"
#include "toolstack/image.h"
#include "toolstack/text.h"

#include <limits.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const char usage[] =
    "Usage: lightvm inspect [--json] GUEST.elf\n"
    "       lightvm inspect GUEST...\n"
    "\n"
    "Validate a guest image as 'lightvm run' would and show its manifest\n"
    "(the devices it needs), its segments and its sizes. Or, for guests of\n"
    "lightvmd (an id, a name: anything that is not a file), print them as\n"
    "the daemon describes them, with their stats: a JSON array.\n"
    "\n"
    "  --json     machine-readable output\n"
    "  -h, --help this text\n";

static void prot_str(uint32_t prot, char out[4])
{
    out[0] = prot & PROT_READ ? 'r' : '-';
    out[1] = prot & PROT_WRITE ? 'w' : '-';
    out[2] = prot & PROT_EXEC ? 'x' : '-';
    out[3] = 0;
}

static void print_text(const struct image *img)
{
    const struct image_info *in = &img->info;
    uint64_t mem = in->image_end - LVM_RAM_BASE, file = 0;
    for (unsigned i = 0; i < in->nsegs; i++)
        file += in->seg[i].filesz;
    char path[TEXT_ESCAPED_MAX(PATH_MAX)];
    printf("image:     %s\n", text_escape(img->path, path, sizeof path));
    printf("abi:       %u\n", in->abi.abi_version);
    printf("entry:     %#llx\n", (unsigned long long)in->entry);
    printf("file size: %zu bytes\n", in->file_size);
    printf("loaded:    %llu bytes from the file, %llu bytes of memory\n",
           (unsigned long long)file, (unsigned long long)mem);
    printf("segments:\n");
    for (unsigned i = 0; i < in->nsegs; i++) {
        const struct image_segment *s = &in->seg[i];
        char p[4];
        prot_str(s->prot, p);
        printf("  %s %#llx-%#llx  file %llu  memory %llu\n", p,
               (unsigned long long)s->vaddr,
               (unsigned long long)(s->vaddr + s->memsz),
               (unsigned long long)s->filesz, (unsigned long long)s->memsz);
    }
    printf("devices:   console, control (always)\n");
    for (unsigned i = 0; i < in->ndevices; i++)
        printf("  %-6s %s%s\n", image_device_type_name(in->dev[i].type),
               in->dev[i].name,
               in->dev[i].flags & LVM_DEVF_READONLY ? " (read-only)" : "");
}

static int print_json(const struct image *img)
{
    const struct image_info *in = &img->info;
    json_t *segs = json_array(), *devs = json_array();
    for (unsigned i = 0; i < in->nsegs; i++) {
        const struct image_segment *s = &in->seg[i];
        char p[4];
        prot_str(s->prot, p);
        json_array_append_new(
            segs, json_pack("{s:I, s:I, s:I, s:s}", "vaddr",
                            (json_int_t)s->vaddr, "memsz", (json_int_t)s->memsz,
                            "filesz", (json_int_t)s->filesz, "prot", p));
    }
    for (unsigned i = 0; i < in->ndevices; i++)
        json_array_append_new(
            devs, json_pack("{s:s, s:s, s:b}", "type",
                            image_device_type_name(in->dev[i].type), "name",
                            in->dev[i].name, "readonly",
                            (in->dev[i].flags & LVM_DEVF_READONLY) != 0));
    json_t *o =
        json_pack("{s:s, s:i, s:I, s:I, s:I, s:o, s:o}", "image", img->path,
                  "abi_version", (int)in->abi.abi_version, "entry",
                  (json_int_t)in->entry, "file_size", (json_int_t)in->file_size,
                  "memory_size", (json_int_t)(in->image_end - LVM_RAM_BASE),
                  "segments", segs, "devices", devs);
    if (!o)
        return -1;
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* docker inspect's way: a JSON array, indented, of every guest found
 * (`[]` if none); each name that is not is said on stderr, in docker's
 * words, and the exit status is then 1, as docker's (125 if lightvmd
 * failed otherwise: refused, unreachable). */
static int inspect_guests(int n, char **names)
{
    struct lightvm *cl = cli_connect();
    if (!cl)
        return CLI_EXIT_ERROR;
    json_t *a = json_array();
    int status = 0;
    for (int i = 0; i < n; i++) {
        struct lightvm_error e = {"", ""};
        char ref[160];
        json_t *g =
            cli_api_guest(cl, cli_guest_ref(names[i], ref, sizeof ref), &e);
        if (g) {
            json_array_append_new(a, g);
            continue;
        }
        if (!strcmp(e.code, "not_found")) {
            cli_msg("inspect: no such object: %s (neither a guest nor a file)",
                    names[i]);
            if (!status)
                status = 1;
            continue;
        }
        cli_msg("inspect %s: %s", names[i], e.message);
        status = CLI_EXIT_ERROR;
    }
    lightvm_close(cl);
    cli_json_round(a);
    char *s = json_dumps(a, JSON_INDENT(4) | JSON_REAL_PRECISION(15));
    json_decref(a);
    if (s)
        puts(s);
    free(s);
    return status;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (optind == argc) {
        cli_msg("inspect: name an image or a guest (see 'lightvm inspect "
                "--help')");
        return CLI_EXIT_USAGE;
    }
    struct stat st;
    if (stat(argv[optind], &st) < 0 && errno == ENOENT)
        return inspect_guests(argc - optind, argv + optind);
    if (optind != argc - 1) {
        cli_msg("inspect: one image at a time");
        return CLI_EXIT_USAGE;
    }
    if (guest_opts_is_tinyx(argv[optind])) {
        cli_msg("inspect: %s is a Tinyx image directory: its manifest.json "
                "describes it (inspect takes a guest ELF or a guest)",
                argv[optind]);
        return CLI_EXIT_USAGE;
    }
    struct lvm_err err;
    struct image *img;
    if (image_load(argv[optind], &img, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    int r = json ? print_json(img) : (print_text(img), 0);
    image_free(img);
    return r < 0 ? CLI_EXIT_ERROR : 0;
}
