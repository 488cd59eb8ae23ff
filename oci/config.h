/*
 * config.h: what lightvm-runtime takes from a bundle's config.json (the
 * OCI runtime-spec), checked. Everything else in the file is ignored, as
 * docs/oci.md lists.
 */
#ifndef LVM_OCI_CONFIG_H
#define LVM_OCI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define OCI_MONITOR_ANNOTATION "org.lightvm.monitor"

struct oci_config {
    char *oci_version;
    char *root_path; /* root.path, as written (relative to the bundle) */
    int root_readonly;
    int terminal;
    int argc;
    char **argv; /* process.args, NULL-terminated */
    int envc;
    char **env;            /* process.env, NULL-terminated */
    char *cwd;             /* process.cwd, "/" if absent */
    uint64_t memory_limit; /* linux.resources.memory.limit; 0: none */
    double cpus;           /* linux.resources.cpu quota / period; 0: none */
    char *cgroups_path;    /* linux.cgroupsPath, or NULL */
    char *netns_path;      /* linux.namespaces network path, or NULL */
    char *monitor;         /* annotation org.lightvm.monitor, or "proc" */
    int monitor_given;     /* the annotation is there: no VM fallback */
    char *annotations;     /* the annotations object, as compact JSON */
    char *hooks;           /* the hooks object as compact JSON, or NULL */
};

/* Parse config.json's text; 0, or -1 with a one-line message in (err)
 * naming the field. (c) is zeroed first; free it with oci_config_free. */
int oci_config_parse(const char *text, size_t len, struct oci_config *c,
                     char *err, size_t errlen);

/* Read and parse the config file at (path). */
int oci_config_load(const char *path, struct oci_config *c, char *err,
                    size_t errlen);

void oci_config_free(struct oci_config *c);

/* The cgroup for a container: (path) is linux.cgroupsPath (NULL: none),
 * (systemd) says it has systemd's "slice:prefix:name" form. Writes the
 * parent (relative to the cgroup root) and the leaf name; -1 with (err)
 * if (path) is malformed. */
int oci_cgroup_path(const char *path, int systemd, const char *id, char *parent,
                    size_t plen, char *name, size_t nlen, char *err,
                    size_t errlen);

#endif
