/*
 * cmd_tinyx.c: lightvm tinyx build|kernel -- build a minimal Linux VM
 * image for one Debian application, or the tiny kernel it boots.
 */
#include "cli/cli.h"
#include "tinyx/minimize.h"
#include "tinyx/tinyx.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: lightvm tinyx build APP [OPTIONS] -o DIR\n"
    "       lightvm tinyx kernel [OPTIONS]\n"
    "\n"
    "build: make a Tinyx image (a minimal Linux VM) for APP, an installed\n"
    "Debian package (redis-server), a program in PATH or a path. DIR gets\n"
    "manifest.json, the initramfs and report.txt (every file and why).\n"
    "Boot it with 'lightvm run --monitor qemu DIR'.\n"
    "\n"
    "  -o, --output DIR        the image directory to create\n"
    "  -p, --pkg PKG           also include PKG's files (repeatable)\n"
    "  -f, --file SRC[:DST]    copy a host file or tree into the image\n"
    "  -c, --cmd 'COMMAND'     what the init runs (default: the app's own)\n"
    "  -e, --env KEY=VALUE     in the command's environment (repeatable)\n"
    "  -u, --user USER         run it as USER (default: the package's own\n"
    "                          system user, else root)\n"
    "      --health CHECK      tcp:PORT, cmd:COMMAND or none (default: the\n"
    "                          app's port where known)\n"
    "  -k, --kernel KERNEL     auto (default: the cached tiny kernel, else\n"
    "                          Debian's cloud kernel), tiny, stock or a path\n"
    "      --app-config FILE   extra kernel options the app needs\n"
    "  -z, --compression C     zstd (default), gzip or none; C:LEVEL\n"
    "      --force             replace DIR if it is an image already\n"
    "      --keep-rootfs       keep the staging tree as DIR/rootfs\n"
    "  -q, --quiet             print nothing but errors\n"
    "\n"
    "kernel: build (once, then cached by configuration hash) a kernel from\n"
    "Debian's linux-source: tinyconfig plus the Tinyx platform options plus\n"
    "the app's. Prints the kernel's path.\n"
    "\n"
    "      --app APP           add APP's known kernel options (nginx: IPv6)\n"
    "      --app-config FILE   add the options in FILE (Kconfig fragment)\n"
    "  -j, --jobs N            parallel make jobs (default 2)\n"
    "      --force             rebuild even if cached\n"
    "      --print-config      print the configuration fragment and exit\n"
    "      --minimize --image DIR  drop options one at a time, keeping each\n"
    "                          drop only if DIR still boots and answers\n"
    "      --candidates LIST   options to try dropping (comma-separated;\n"
    "                          default: every droppable platform option)\n"
    "\n"
    "See docs/tinyx.md.\n";

static int build(int argc, char **argv)
{
    enum { OPT_HEALTH = 256, OPT_APPCFG, OPT_FORCE, OPT_KEEP };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"pkg", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},
        {"cmd", required_argument, NULL, 'c'},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"health", required_argument, NULL, OPT_HEALTH},
        {"kernel", required_argument, NULL, 'k'},
        {"app-config", required_argument, NULL, OPT_APPCFG},
        {"compression", required_argument, NULL, 'z'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"keep-rootfs", no_argument, NULL, OPT_KEEP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    struct tinyx_build_opts o;
    memset(&o, 0, sizeof o);
    o.progress = stderr;
    int c;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "o:p:f:c:e:u:k:z:qh", opts)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case 'p':
            if (o.npkgs == TINYX_MAX_PKGS) {
                cli_msg("--pkg: at most %d packages", TINYX_MAX_PKGS);
                return CLI_EXIT_USAGE;
            }
            o.pkgs[o.npkgs++] = optarg;
            break;
        case 'f':
            if (o.nfiles == TINYX_MAX_FILES) {
                cli_msg("--file: at most %d", TINYX_MAX_FILES);
                return CLI_EXIT_USAGE;
            }
            o.files[o.nfiles++] = optarg;
            break;
        case 'c': o.cmd = optarg; break;
        case 'e': {
            /* A line of the init's configuration each: no newline. */
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || strchr(optarg, '\n') ||
                strcspn(optarg, "=") != strspn(optarg,
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "abcdefghijklmnopqrstuvwxyz"
                                               "0123456789_")) {
                cli_msg("--env: '%s' is not KEY=VALUE (KEY of letters, "
                        "digits and _; no newline)",
                        optarg);
                return CLI_EXIT_USAGE;
            }
            if (o.nenv == TINYX_MAX_ENV) {
                cli_msg("--env: at most %d variables", TINYX_MAX_ENV);
                return CLI_EXIT_USAGE;
            }
            o.env[o.nenv++] = optarg;
            break;
        }
        case 'u': o.user = optarg; break;
        case OPT_HEALTH: o.health = optarg; break;
        case 'k': o.kernel = optarg; break;
        case OPT_APPCFG: o.app_config = optarg; break;
        case 'z': o.compression = optarg; break;
        case OPT_FORCE: o.force = 1; break;
        case OPT_KEEP: o.keep_rootfs = 1; break;
        case 'q': o.progress = NULL; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (optind != argc - 1) {
        cli_msg("tinyx build: give one APP (see 'lightvm tinyx --help')");
        return CLI_EXIT_USAGE;
    }
    o.app = argv[optind];
    if (!o.out) {
        cli_msg("tinyx build: no output directory (-o DIR)");
        return CLI_EXIT_USAGE;
    }
    struct lvm_err err;
    if (tinyx_build(&o, &err) < 0) {
        cli_error(&err);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static int kernel(int argc, char **argv)
{
    enum {
        OPT_APP = 256,
        OPT_APPCFG,
        OPT_FORCE,
        OPT_PRINT,
        OPT_MIN,
        OPT_IMAGE,
        OPT_CAND
    };
    static const struct option opts[] = {
        {"app", required_argument, NULL, OPT_APP},
        {"app-config", required_argument, NULL, OPT_APPCFG},
        {"jobs", required_argument, NULL, 'j'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"print-config", no_argument, NULL, OPT_PRINT},
        {"minimize", no_argument, NULL, OPT_MIN},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"candidates", required_argument, NULL, OPT_CAND},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    const char *app = NULL, *appcfg = NULL, *image = NULL, *cand = NULL;
    int print = 0, minimize = 0, c;
    struct kernel_build_opts bo = {.jobs = 2, .progress = stderr};
    optind = 1;
    while ((c = cli_getopt(argc, argv, "j:qh", opts)) != -1) {
        switch (c) {
        case OPT_APP: app = optarg; break;
        case OPT_APPCFG: appcfg = optarg; break;
        case 'j':
            bo.jobs = (unsigned)atoi(optarg);
            if (bo.jobs < 1 || bo.jobs > 256) {
                cli_msg("--jobs: '%s' is not a number of jobs", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_FORCE: bo.force = 1; break;
        case OPT_PRINT: print = 1; break;
        case OPT_MIN: minimize = 1; break;
        case OPT_IMAGE: image = optarg; break;
        case OPT_CAND: cand = optarg; break;
        case 'q': bo.progress = NULL; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return CLI_EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (optind != argc) {
        cli_msg("tinyx kernel: unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (minimize && !image) {
        cli_msg("tinyx kernel --minimize: give the image to test with "
                "--image DIR");
        return CLI_EXIT_USAGE;
    }
    struct lvm_err err;
    struct kconfig *k = malloc(sizeof *k);
    if (!k || tinyx_kconfig_for(app, appcfg, k, &err) < 0) {
        if (!k)
            lvm_err_set(&err, 12, "kernel configuration");
        cli_error(&err);
        free(k);
        return CLI_EXIT_ERROR;
    }
    int code = 0;
    struct tinyx_kernel out;
    if (print) {
        char key[KERNEL_KEY_LEN + 1];
        kconfig_key(k, key);
        printf("# tinyconfig plus these options; cache key %s\n", key);
        for (unsigned i = 0; i < k->n; i++) {
            const char *why = kconfig_platform_why(k->opt[i].name);
            if (!strcmp(k->opt[i].value, "n"))
                printf("# (%s)\n# %s is not set\n", why ? why : "the app's",
                       k->opt[i].name);
            else
                printf("%s=%s%s%s\n", k->opt[i].name, k->opt[i].value,
                       why ? "  # " : "  # the app's", why ? why : "");
        }
    } else if (minimize) {
        struct minimize_opts mo = {
            .config = k, .image = image, .candidates = cand, .build = bo};
        if (tinyx_minimize(&mo, &out, &err) < 0) {
            cli_error(&err);
            code = CLI_EXIT_ERROR;
        } else {
            printf("%s\n", out.path);
        }
    } else if ((bo.config = k, kernel_build(&bo, &out, &err)) < 0) {
        cli_error(&err);
        code = CLI_EXIT_ERROR;
    } else {
        printf("%s\n", out.path);
    }
    free(k);
    return code;
}

int cmd_tinyx(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "build"))
        return build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "kernel"))
        return kernel(argc - 1, argv + 1);
    cli_msg("tinyx: unknown subcommand '%s' (build or kernel)", argv[1]);
    return CLI_EXIT_USAGE;
}
