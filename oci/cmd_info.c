/*
 * cmd_info.c: the commands that only report: state (runc's JSON), ps,
 * features, and spec (a starting config.json for a unikernel bundle).
 */
#include "oci/args.h"
#include "oci/delegate.h"
#include "oci/oci.h"
#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(struct oci_state *st, const char *id)
{
    char err[512];
    oci_delegate_if_ours(id);
    if (oci_state_load(st, oci_g.root, id, err, sizeof err) < 0) {
        oci_error("%s", err);
        oci_state_free(st);
        return -1;
    }
    return 0;
}

int oci_cmd_state(int argc, char **argv)
{
    const struct oci_opt opts[] = {{NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1, "state ID") < 0)
        return 1;
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    char *text = oci_state_json(&st, oci_state_status(&st));
    oci_state_free(&st);
    if (!text) {
        oci_error("out of memory");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

int oci_cmd_ps(int argc, char **argv)
{
    const char *format = "table";
    const struct oci_opt opts[] = {{"format", 'f', 1, &format, NULL},
                                   {NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "ps [--format table|json] ID") < 0)
        return 1;
    if (strcmp(format, "table") && strcmp(format, "json")) {
        oci_error("invalid format option");
        return 1;
    }
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    /* The guest is one process (its cgroup's pids.max says so). */
    int alive = oci_state_status(&st) != OCI_STOPPED;
    if (strcmp(format, "json") == 0) {
        if (alive)
            printf("[%d]\n", (int)st.pid);
        else
            printf("[]\n");
    } else {
        printf("PID CMD\n");
        char path[64], comm[64] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)st.pid);
        FILE *f = alive ? fopen(path, "re") : NULL;
        if (f) {
            if (!fgets(comm, sizeof comm, f))
                comm[0] = 0;
            fclose(f);
            comm[strcspn(comm, "\n")] = 0;
        }
        if (alive)
            printf("%d %s\n", (int)st.pid, comm);
    }
    oci_state_free(&st);
    return 0;
}

int oci_cmd_features(int argc, char **argv)
{
    const struct oci_opt opts[] = {{NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 0, 0, "features") < 0)
        return 1;
    /* Fixed at build time, as the spec asks: what this runtime does with
     * a bundle (docs/oci.md). */
    puts("{\n"
         "  \"ociVersionMin\": \"1.0.0\",\n"
         "  \"ociVersionMax\": \"" OCI_VERSION "\",\n"
         "  \"hooks\": [\"prestart\", \"createRuntime\", \"poststart\", "
         "\"poststop\"],\n"
         "  \"mountOptions\": [],\n"
         "  \"linux\": {\n"
         "    \"namespaces\": [\"pid\", \"network\", \"ipc\", \"uts\", "
         "\"mount\", \"user\", \"cgroup\"],\n"
         "    \"capabilities\": [],\n"
         "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, "
         "\"systemdUser\": false},\n"
         "    \"seccomp\": {\"enabled\": true},\n"
         "    \"apparmor\": {\"enabled\": false},\n"
         "    \"selinux\": {\"enabled\": false}\n"
         "  },\n"
         "  \"annotations\": {\n"
         "    \"org.lightvm.monitors\": \"proc,kvm\",\n"
         "    \"org.lightvm.bundles\": \"unikernel\"\n"
         "  }\n"
         "}");
    return 0;
}

static const char spec_template[] =
    "{\n"
    "  \"ociVersion\": \"" OCI_VERSION "\",\n"
    "  \"process\": {\n"
    "    \"terminal\": false,\n"
    "    \"user\": {\"uid\": 0, \"gid\": 0},\n"
    "    \"args\": [\"/hello.elf\"],\n"
    "    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
    "/sbin:/bin\"],\n"
    "    \"cwd\": \"/\"\n"
    "  },\n"
    "  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
    "  \"hostname\": \"lightvm\",\n"
    "  \"annotations\": {\"org.lightvm.monitor\": \"proc\"},\n"
    "  \"linux\": {\n"
    "    \"resources\": {\"memory\": {\"limit\": 67108864}},\n"
    "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, "
    "{\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}]\n"
    "  }\n"
    "}\n";

int oci_cmd_spec(int argc, char **argv)
{
    const char *bundle = ".";
    const struct oci_opt opts[] = {{"bundle", 'b', 1, &bundle, NULL},
                                   {"rootless", 0, 0, NULL, NULL},
                                   {NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 0, 0, "spec [--bundle DIR]") < 0)
        return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", bundle);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            oci_error("File %s exists. Remove it first", path);
        else
            oci_error("create %s: %s", path, strerror(errno));
        return 1;
    }
    ssize_t n = write(fd, spec_template, sizeof spec_template - 1);
    close(fd);
    if (n != (ssize_t)sizeof spec_template - 1) {
        oci_error("write %s", path);
        return 1;
    }
    return 0;
}

/* list [--format table|json] [--quiet]: the containers under --root (ours;
 * those handed to another runtime are that runtime's to list). */
int oci_cmd_list(int argc, char **argv)
{
    const char *format = "table";
    int quiet = 0;
    const struct oci_opt opts[] = {{"format", 'f', 1, &format, NULL},
                                   {"quiet", 'q', 0, NULL, &quiet},
                                   {NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 0, 0,
                     "list [--format table|json] [--quiet]") < 0)
        return 1;
    int json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table")) {
        oci_error("invalid format option");
        return 1;
    }
    json_t *all = json_array();
    DIR *d = opendir(oci_g.root);
    if (!json && !quiet)
        printf("%-20s %-8s %-8s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE",
               "CREATED");
    for (struct dirent *e; d && (e = readdir(d));) {
        struct oci_state st;
        char err[512];
        if (!oci_id_valid(e->d_name) ||
            oci_state_load(&st, oci_g.root, e->d_name, err, sizeof err) < 0) {
            oci_state_free(&st);
            continue;
        }
        enum oci_status s = oci_state_status(&st);
        pid_t pid = s == OCI_STOPPED ? 0 : st.pid;
        if (json)
            json_array_append_new(
                all,
                json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "ociVersion",
                          OCI_VERSION, "id", st.id, "pid", (json_int_t)pid,
                          "status", oci_status_name(s), "bundle", st.bundle,
                          "created", st.created, "owner", ""));
        else if (quiet)
            printf("%s\n", st.id);
        else
            printf("%-20s %-8d %-8s %-40s %s\n", st.id, (int)pid,
                   oci_status_name(s), st.bundle, st.created);
        oci_state_free(&st);
    }
    if (d)
        closedir(d);
    if (json) {
        char *text = json_dumps(all, JSON_COMPACT);
        printf("%s\n", text ? text : "[]");
        free(text);
    }
    json_decref(all);
    return 0;
}
