/*
 * daemon.h: lightvmd internals.
 *
 * One thread runs an epoll loop: the API socket and its clients, one pidfd
 * per guest, the kernel's audit records, signals and a periodic tick. A
 * second thread keeps the pool of prepared shells full (pool.c). Guests'
 * state lives with them, in one run directory each (rundir.c); the daemon
 * only caches it, and rebuilds the cache from the directories when it
 * starts (so it survives being killed).
 */
#ifndef LVM_DAEMON_H
#define LVM_DAEMON_H

#include "daemon/config.h"
#include "daemon/creds.h"
#include "daemon/request.h"
#include "toolstack/dev_net.h"
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/image.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* What an epoll event belongs to. */
enum ep_type {
    EP_LISTEN,
    EP_CLIENT,
    EP_GUEST, /* one of a guest's fds: its monitor handles it (slot) */
    EP_SIGNAL,
    EP_TICK,
    EP_AUDIT,
    EP_MIGRATE_LISTEN, /* the TCP migration port (--migrate-listen) */
    EP_MIGRATE,        /* an incoming migration's connection */
};

/* Slot 0 of a guest's fds is its process's pidfd (readable: it exited);
 * a monitor numbers its own channels from 1. */
#define EP_SLOT_PROCESS 0

struct ep_item {
    enum ep_type type;
    void *ptr;
    int slot; /* EP_GUEST: which of the guest's fds */
};

/* ---- Clients -------------------------------------------------------------- */

struct outmsg {
    struct outmsg *next;
    int fd; /* passed with it (SCM_RIGHTS), or -1; closed once sent */
    size_t len;
    char data[];
};

/* Connections and queued reply bytes of one uid (server_guard.c). */
struct conn_user {
    uid_t uid;
    unsigned conns;
    size_t q_bytes;
    unsigned turns; /* requests read in this batch of events */
    struct conn_user *next;
};

struct client {
    int fd;
    struct ep_item ep;
    uid_t uid;
    struct conn_user *user; /* counts it against its uid's caps */
    uint64_t last_msg;      /* monotonic ns of its last request (idle) */
    struct creds cr;        /* files it names are opened as it */
    struct outmsg *q_head, *q_tail; /* replies the client has not read yet */
    size_t q_bytes;
    int dead;           /* closed; freed after the current batch of events, once
                 nothing refers to it */
    int refs;           /* waiters pointing at it */
    unsigned waits;     /* outstanding wait requests */
    int restarter;      /* the daemon itself, restarting a guest as its owner
                       (vm_restart.c): no socket, replies are logged */
    int restart_failed; /* and the create was refused */
    struct client *prev, *next;
    struct client *grave_next;
};

/* ---- Guests --------------------------------------------------------------- */

/* VM_STARTING: a qemu guest whose QEMU is not up yet (its creator has
 * no reply yet). */
enum vm_state { VM_RUNNING, VM_PAUSED, VM_EXITED, VM_STARTING };
enum {
    KILLED_BY_NONE,
    KILLED_BY_DESTROY,
    KILLED_BY_WATCHDOG,
    KILLED_BY_SAVE,
    KILLED_BY_MIGRATE,
};

/* Outstanding wait and destroy requests a client may have: each holds a
 * little memory until its guest exits. */
#define CLIENT_MAX_WAITS 4096

struct waiter {
    struct client *c;
    int64_t tag;
    int has_tag;
    struct waiter *next;
    json_t *extra; /* fields added to a successful answer, or NULL */
};

struct cached_image;
struct vm_monitor;
struct quota_user;

/* One record per guest, whatever its monitor: the monitor's own state
 * is (priv), reached only through (mon) (vm_monitor.h). */
struct vm {
    const struct vm_monitor *mon;
    void *priv;
    char id[GUEST_ID_LEN + 1];
    char name[64];
    char *image; /* path, as given */
    char monitor[16];
    enum vm_state state;
    int adopted; /* found running after a daemon restart */
    int pooled;
    pid_t pid;
    uid_t owner;     /* the client uid that created it */
    gid_t owner_gid; /* and its gid: the group of its run directory */
    uint64_t mem, mem_limit;
    double cpus;
    double created;   /* Unix time */
    double create_ms; /* request to STARTED */
    uint32_t watchdog_ms;
    int auto_remove;            /* destroyed as soon as it exits */
    uint64_t watchdog_floor_ns; /* a full period from here: set on unpause
                                   and resume, when the guest could not ping */
    struct guest_exit exit;
    int audit_pending; /* SIGSYS exit waiting for its audit record */
    uint64_t audit_deadline;
    struct waiter *waiters;    /* `wait` requests */
    struct waiter *destroyers; /* `destroy` requests, answered once it died */
    int killed_by;             /* KILLED_BY_*: we sent SIGKILL, for why */
    uint64_t kill_deadline;    /* destroyers give up waiting then */
    struct ep_item ep;
    struct vm *next_id, *next_name; /* hash chains */
    size_t index;                   /* in the daemon's array of guests */
    int dead;                       /* destroyed: in the graveyard */
    struct vm *grave_next;
    uint64_t quota[QUOTA_KINDS]; /* what it is charged to its owner (quota.h) */
    /* Its restart policy (vm_restart.c): the policy and retry limit, the
     * restarts so far (and in a row that ran less than 10 s: the
     * backoff's), whether a client stopped it (poweroff, destroy), when
     * it exited and, once it is due to be restarted, when (monotonic ns;
     * 0: not). */
    enum restart_policy restart;
    unsigned restart_max, restart_count, restart_streak;
    int stopped;
    int restarting; /* its new self is being made: vm_find_name skips it */
    double exited_at;
    uint64_t restart_at;
};

/* ---- The pool of prepared shells ------------------------------------------ */

#define POOL_MAX_CLASSES 8
#define POOL_NICE 10 /* the pool thread's, and its shells' until taken */

/* A prepared shell, and for a network class the tap made for it: named
 * after its id and already a port of the default bridge. */
struct pool_entry {
    struct guest *g;
    struct netdev_tap tap; /* fd -1: none */
};

struct pool_class {
    uint64_t ram;       /* RAM size of the class */
    int net;            /* shells come with a tap on the default bridge */
    unsigned monitor;   /* enum lvm_monitor_kind: proc, or kvm (no NICs) */
    unsigned target;    /* shells to keep ready */
    unsigned preparing; /* being made by the pool thread */
    unsigned nready;
    struct pool_entry *ready; /* [target] */
};

struct pool {
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    double rate;             /* shells per second, at most */
    struct netdev *nd;       /* the pool thread's netlink session */
    struct netdev_bridge br; /* the default bridge, once made sure of */
    unsigned nclasses;
    struct pool_class cls[POOL_MAX_CLASSES];
    unsigned long made, taken, failed, missed;
    int lowered; /* the thread and its shells run at a lower priority */
    char last_error[256];
};

/* ---- The daemon ------------------------------------------------------------ */

/* A bridge the daemon has made sure of (once, on first use). */
struct daemon_bridge {
    struct netdev_bridge br;
    int nat, guarded; /* NAT and the guest filter set up for it */
};
#define DAEMON_MAX_BRIDGES 16

/* What keeps API group members from starving the API (server_guard.c):
 * connection caps below the fd limit, root's apart from members', an idle
 * timeout, and a spare fd to answer and close connections on EMFILE. */
struct conn_guard {
    unsigned max_members;    /* connections of all members together */
    unsigned max_per_user;   /* of one member */
    unsigned max_root;       /* root's, counted apart: members never use it */
    unsigned idle_s;         /* close a connection silent this long; 0: never */
    unsigned members, roots; /* open now */
    struct conn_user *users;
    int reserve_fd;    /* spare fd, given up to accept-and-refuse on EMFILE */
    int listen_paused; /* listen fd out of epoll until the next tick */
    unsigned long refused, unlogged; /* refusals; not yet logged */
    uint64_t logged_at;              /* last refusal logged (monotonic ns) */
};

struct daemon {
    struct lvm_host host;
    struct netdev *nd; /* the main thread's netlink session, once needed */
    struct daemon_bridge bridges[DAEMON_MAX_BRIDGES];
    unsigned nbridges;
    char run_dir[PATH_MAX];
    char guests_dir[PATH_MAX];
    char sock_path[PATH_MAX];
    gid_t api_gid; /* members may use the API; (gid_t)-1: root only */
    struct daemon_config cfg; /* the operator's policy (--config) */
    dev_t sock_dev; /* the socket file we bound, to remove only ours */
    ino_t sock_ino;
    int epfd, listen_fd, sig_fd, tick_fd, audit_fd, lock_fd;
    struct ep_item ep_listen, ep_sig, ep_tick, ep_audit;
    int mig_listen_fd;   /* --migrate-listen, or -1 */
    char mig_token[257]; /* --migrate-token's secret (MIG_TOKEN_MAX) */
    struct ep_item ep_mig_listen;
    int stop;

    /* Guests: a dense array (listing order) and two hash tables. */
    struct vm **vms;
    size_t nvms, cap;
    struct vm **by_id, **by_name; /* HASH_SIZE buckets each; names are
                                     hashed with their owner */
    /* Destroyed guests, freed once the current batch of events is done
     * (an event for one may still be pending in it). */
    struct vm *graveyard;

    struct client *clients;
    struct client *client_graveyard;
    struct conn_guard guard;
    struct pool pool;
    struct cached_image *images;
    struct quota_user **quota_users; /* QUOTA_HASH buckets, by uid (quota.c) */

    /* Recent seccomp kills from the audit socket: pid -> system call. */
    struct {
        pid_t pid;
        long nr;
        uint64_t at; /* monotonic ns when the record arrived */
    } kills[1024];
    unsigned nkills;
    unsigned long ticks;

    unsigned long created, destroyed, requests;
};

#define HASH_SIZE (1u << 16)

/* main.c */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double daemon_unix_time(void);

/* server.c */
int server_open(struct daemon *d, struct lvm_err *err);
void server_accept(struct daemon *d);
void server_client_event(struct daemon *d, struct client *c, uint32_t events);
/* Queue a reply (a jansson object, consumed) to (c). */
struct json_t;
void server_reply(struct daemon *d, struct client *c, struct json_t *reply);
/* The same, passing (fd) with it (taken: closed once sent or dropped). */
void server_reply_fd(struct daemon *d, struct client *c, struct json_t *reply,
                     int fd);
void server_client_put(struct daemon *d, struct client *c);
/* Free closed clients nothing refers to (after a batch of events). */
void server_bury(struct daemon *d);
int server_client_dead(const struct client *c);
void server_close_all(struct daemon *d);

/* api.c: handle one parsed request; (fd) came with it (or -1). */
void api_handle(struct daemon *d, struct client *c, struct request *r, int fd);
struct json_t *api_error(const struct request *r, const char *code,
                         const char *msg);
struct json_t *api_exit_json(const struct guest_exit *ex);

/* The JSON of guest (v) as replies carry it. */
struct json_t *api_guest_json(struct daemon *d, struct vm *v, int stats);

/* vm.c: the guests, whatever their monitor (vm_monitor.h) */
int vms_init(struct daemon *d, struct lvm_err *err);
/* Whether the guest's process (its shell, or QEMU) has not been reaped. */
int vm_live(const struct vm *v);
/* The guest's cgroup, for stats, or NULL. */
const struct cgroup *vm_cgroup(const struct vm *v);
/* A client waiting for a reply that comes later, or NULL after replying
 * with the error. */
struct waiter *vm_waiter_new(struct daemon *d, struct client *c,
                             const struct request *r);
/* The guest has exited and (v->exit) says how: record it, answer its
 * waiters (and destroyers). */
void vm_ended(struct daemon *d, struct vm *v);
/* Remove the guest: answer everyone, remove its run directory, free it
 * after this batch of events. */
void vm_forget(struct daemon *d, struct vm *v);
/* The guest (ref) names for a client (caller): its id; UID/NAME; a name
 * of the caller's own guests; a unique id prefix among the guests the
 * caller may manage (all, for root). Names are per owner: a bare name
 * never reaches another user's guest, root's included. Whether the caller
 * may act on the guest is target()'s check (api.c). */
struct vm *vm_find(struct daemon *d, const char *ref, uid_t caller,
                   int *ambiguous);
/* The guest of (owner) named (name), or NULL. */
struct vm *vm_find_name(struct daemon *d, uid_t owner, const char *name);
/* Send (sig) to the guest's process (its shell, or QEMU): `lightvm kill`.
 * SIGKILL is the monitor's kill (it thaws a paused guest first). */
int vm_signal(struct daemon *d, struct vm *v, int sig, struct lvm_err *err);

/* 1 if (name) may not name a new guest of (uid): it has one of that name,
 * or (name) is (the start of) a guest's id; (msg) says which. */
int vm_name_taken(struct daemon *d, uid_t uid, const char *name, char *msg,
                  size_t len);
/* Create (or restore) what (r) asks for; answers (c) itself. */
void vm_create(struct daemon *d, struct client *c, const struct request *r,
               int fd);
/* Kill the guest and answer (r) once it is gone and its record removed:
 * never blocks the daemon on a guest that is slow to die. */
void vm_destroy(struct daemon *d, struct vm *v, struct client *c,
                const struct request *r);
/* The same for a waiter of an operation that ends with the guest gone (a
 * save): answered once it is, with its w->extra. */
void vm_destroy_for(struct daemon *d, struct vm *v, struct waiter *w);
void vm_pause(struct daemon *d, struct vm *v, struct client *c,
              const struct request *r, int pause);
int vm_control(struct daemon *d, struct vm *v, uint32_t request,
               struct lvm_err *err);
void vm_save(struct daemon *d, struct vm *v, struct client *c,
             const struct request *r);
/* The credentials (v)'s owner's client would have: its passwd entry's
 * groups, or its recorded group alone (vm_restart.c). */
void vm_owner_creds(const struct vm *v, struct creds *cr);

/* Move (v) to the daemon at the other end of (fd) (consumed). */
void vm_migrate(struct daemon *d, struct vm *v, struct client *c,
                const struct request *r, int fd);

/* vm_shell_migrate_in.c: guests coming in by migration */
struct mig_conn;
/* (c) asked for migrate-in: its connection carries the stream now. */
void migrate_in_take(struct daemon *d, struct client *c);
/* Open the TCP migration port at (spec), ADDRESS:PORT. */
int migrate_in_listen(struct daemon *d, const char *spec, struct lvm_err *err);
void migrate_in_accept(struct daemon *d);
void migrate_in_event(struct daemon *d, struct mig_conn *mc);
void migrate_in_tick(struct daemon *d);
void migrate_in_close_all(struct daemon *d);
/* An event on one of the guest's fds (EP_GUEST). */
void vm_event(struct daemon *d, struct vm *v, int slot);
void vm_bury(struct daemon *d);
void vm_tick(struct daemon *d);
void vm_audit_record(struct daemon *d, pid_t pid, long nr);
/* The newest seccomp kill of (pid) seen since (since) (monotonic ns), or
 * -1. */
long vm_audit_lookup(const struct daemon *d, pid_t pid, uint64_t since);
void vm_insert(struct daemon *d, struct vm *v);
void vm_add_waiter(struct daemon *d, struct vm *v, struct client *c,
                   const struct request *r);
/* After a daemon restart: the guest of (cfg) (config.json), with its
 * exit already read if it had one; its monitor adopts it. */
void vm_recover(struct daemon *d, struct vm *v, struct json_t *cfg, int alive);

/* vm_restart.c: restart policies (--restart) */
/* The policy a create request asks for, and the counts the daemon set. */
void vm_restart_from_request(struct vm *v, const struct request *r);
/* Into config.json (cfg), and back after a daemon restart. */
void vm_restart_record(const struct vm *v, struct json_t *cfg);
void vm_restart_load(struct vm *v, const struct json_t *cfg);
/* The API's fields ("restart", "restart_count") into guest object (o). */
void vm_restart_json(const struct vm *v, struct json_t *o);
/* (v) has exited: schedule its restart if its policy says so. */
void vm_restart_exited(struct daemon *d, struct vm *v);
/* (v) recovered by a starting daemon: restart it now if due. */
void vm_restart_recovered(struct daemon *d, struct vm *v);
/* From the tick: restart (v) if it is due. */
void vm_restart_tick(struct daemon *d, struct vm *v, uint64_t now);

/* vm_net.c */
struct json_t;
/* Fill (ns) from the request's "net", with the bridge made sure of. */
int vm_net_spec(struct daemon *d, const struct request *r,
                struct guest_net_spec *ns, struct lvm_err *err);
/* 1 if a network class of the pool can serve the request's NICs. */
int vm_net_poolable(const struct request *r);
/* After a failure: look the bridge up again next time. */
void vm_net_forget_bridge(struct daemon *d, const char *name);
/* A guest's NICs (gn) for the API (with counters if (stats)), any
 * monitor's. */
struct json_t *vm_net_json(struct daemon *d, const struct guest_net *gn,
                           int stats);
/* A guest's NICs for its config.json, NULL if none; and back (NULL if
 * the record is unreadable), to be released with nic_release(). */
struct json_t *vm_net_record(const struct guest_net *gn);
struct guest_net *vm_net_adopt(struct daemon *d, struct json_t *rec);
/* At start: leases and filter entries of guests gone meanwhile. */
void vm_net_sweep(struct daemon *d);
void vm_net_close(struct daemon *d);
/* vm_policy.c: apply the operator's policy to create or restore request
 * (r) from client (c): resolve its network, check and pick its host
 * ports. -1 with err->code EPERM: refused, (err) names the field. */
int vm_policy_apply(struct daemon *d, const struct client *c, struct request *r,
                    struct lvm_err *err);

/* pool.c */
int pool_parse(struct pool *p, const char *spec, struct lvm_err *err);
int pool_start(struct daemon *d, struct lvm_err *err);
/* A prepared shell for (ram) bytes, or NULL if the pool has none. */
/* With (net), from a network class: *tap is its tap (else fd -1). */
struct guest *pool_take(struct daemon *d, uint64_t ram, int net,
                        unsigned monitor, struct netdev_tap *tap);
/* Drop pooled shells that died while waiting (from the tick). */
void pool_check(struct daemon *d);
void pool_stop(struct daemon *d);

/* rundir.c */
void rundir_path(const struct daemon *d, const char *id, const char *file,
                 char *buf, size_t len);
/* Make the guest's directory, root's alone (0700) until rundir_give(). */
int rundir_make(const struct daemon *d, const char *id, struct lvm_err *err);
/* Let the guest's creator (cr) into its directory: group cr->gid, mode
 * 0710 (passage only: root keeps writing there, and no one but root may
 * plant a file or link where root writes). */
int rundir_give(const struct daemon *d, const char *id, const struct creds *cr,
                struct lvm_err *err);
/* Create (or open) FILE in the guest's directory for appending, owned by
 * its creator (cr) and readable by it alone (0600): its console and logs. */
int rundir_create_owned(const struct daemon *d, const char *id,
                        const char *file, const struct creds *cr,
                        struct lvm_err *err);
void rundir_remove(const struct daemon *d, const char *id);
int rundir_write_config(const struct daemon *d, const struct vm *v,
                        struct lvm_err *err);
/* Write it again (a temporary, then rename): what changed since. */
int rundir_update_config(const struct daemon *d, const struct vm *v,
                         struct lvm_err *err);
int rundir_write_exit(const struct daemon *d, const struct vm *v);
int rundir_write_shell(const struct daemon *d, const struct guest *g);
/* Rebuild the daemon's view from the run directories (at start-up). */
void rundir_recover(struct daemon *d);
/* The start time of (pid) (from /proc), 0 if it is gone. */
unsigned long long proc_start_time(pid_t pid);

/* images.c */
/* Who holds references to a template: it is charged to each of them
 * once (quota "templates"). */
struct image_holder {
    uid_t uid;
    unsigned refs;
    struct image_holder *next;
};

struct cached_image {
    struct image *img;
    /* The file it was loaded from, held open: its inode is never freed
     * and so never reused for another file while the template is known
     * by (dev, ino), which is what a later open is matched against. */
    int file_fd;
    dev_t dev;
    ino_t ino;
    long long mtime_ns;
    off_t size;
    uint64_t bytes; /* what the daemon holds for it: template and file */
    unsigned refs;
    struct image_holder *holders;
    struct cached_image *next;
    int launched;        /* a guest has started from it: worth keeping warm */
    int warm;            /* kept with no guest (refs 0), charged to nobody */
    uint64_t warm_since; /* order of eviction (a counter) */
    /* Its identity in state files (SHA-256 of the file), computed the
     * first time a guest of it is saved or restored. */
    int hashed;
    uint8_t hash[32];
};

/* Unused templates kept warm, daemon-wide, so that `lightvm run` of one
 * image over and over loads it once: at most this many, of at most this
 * many bytes together (the daemon's own memory, bounded whoever asks;
 * the oldest goes first). */
#define IMAGES_WARM_MAX 8
#define IMAGES_WARM_BYTES (64ull << 20)

/* The image in the regular file (fd), opened by the caller (cr); (path)
 * names it. A file already loaded (same device, inode, size and mtime,
 * whatever the path) is shared. Charged to (cr) once per template:
 * refused (EDQUOT) beyond its quota "templates". */
struct cached_image *images_get(struct daemon *d, const char *path, int fd,
                                const struct creds *cr, struct lvm_err *err);
/* A guest started from (ci): it may be kept warm once unused. */
void images_launched(struct cached_image *ci);

/* The image's identity for state files: SHA-256 of its file and its
 * size, computed once. */
int images_hash(struct cached_image *ci, struct lvm_err *err);
/* Drop (uid)'s reference. A template no guest uses is kept warm if a
 * guest ever started from it (never after a failed create), else freed. */
void images_put(struct daemon *d, struct cached_image *ci, uid_t uid);
void images_free_all(struct daemon *d);

#endif
