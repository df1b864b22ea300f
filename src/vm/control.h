/* control.h — what a control client (the HTTP API in src/api/, or a test) can ask of a running
 * vessel: configure before start, start, pause, resume, snapshot, restore, report. Requests are
 * plain data, already validated for shape by the API layer; the VM's main loop executes them
 * between engine slices (never while the vCPU runs) and answers with an HTTP-like status and a
 * one-line fault message. The mailbox (struct vm_ctl) hands one request at a time from the API
 * thread to the loop and blocks the caller until the loop has answered. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VM_CTL_PATH_MAX 4096
#define VM_CTL_ID_MAX   64

enum vm_op {
    VM_OP_INFO,          /* GET / */
    VM_OP_GET_MACHINE,   /* GET /machine-config */
    VM_OP_PUT_MACHINE,   /* PUT /machine-config */
    VM_OP_PUT_BOOT,      /* PUT /boot-source */
    VM_OP_PUT_DRIVE,     /* PUT /drives/{id} */
    VM_OP_PUT_NET,       /* PUT /network-interfaces/{id} */
    VM_OP_START,         /* PUT /actions InstanceStart */
    VM_OP_CTRL_ALT_DEL,  /* PUT /actions SendCtrlAltDel */
    VM_OP_FLUSH_METRICS, /* PUT /actions FlushMetrics */
    VM_OP_PAUSE,         /* PATCH /vm Paused */
    VM_OP_RESUME,        /* PATCH /vm Resumed */
    VM_OP_SNAP_CREATE,   /* PUT /snapshot/create */
    VM_OP_SNAP_LOAD,     /* PUT /snapshot/load */
    VM_OP_METRICS,       /* GET /metrics */
    VM_OP_MIGRATE,       /* PUT /migrate (vessel's own) */
    VM_OP_SCREENSHOT,    /* PUT /screenshot (vessel's own) */
    VM_OP_INSPECT,       /* GET /inspect/{processes,modules} (vessel's own, docs/INSPECT.md) */
};

struct vm_request {
    enum vm_op op;
    union {
        struct {
            unsigned vcpus;
            uint64_t mem_mib;
            char cpu_model[16]; /* "" for unchanged (docs/CPU-MODEL.md) */
            bool has_vcpus, has_mem;
        } machine;
        struct {
            char kernel[VM_CTL_PATH_MAX], initrd[VM_CTL_PATH_MAX], args[VM_CTL_PATH_MAX];
            bool has_initrd, has_args;
        } boot;
        struct {
            char id[VM_CTL_ID_MAX], path[VM_CTL_PATH_MAX];
            bool readonly, root;
        } drive;
        struct {
            char id[VM_CTL_ID_MAX], backend[VM_CTL_PATH_MAX], mac[32];
            bool has_mac;
        } net;
        struct {
            char state[VM_CTL_PATH_MAX], mem[VM_CTL_PATH_MAX];
            bool diff;   /* create: only pages dirtied since the previous snapshot */
            bool resume; /* load: run right after loading (otherwise Paused) */
            bool has_mem;
        } snap;
        struct {
            char dest[VM_CTL_PATH_MAX];
            uint64_t downtime_ms;
        } migrate;
        struct {
            char path[VM_CTL_PATH_MAX];
        } screenshot;
        struct {
            int what;                      /* enum insp_what */
            char vmlinux[VM_CTL_PATH_MAX]; /* "" for the monitor's choice */
        } inspect;
    } u;
};

/* The instance as GET / and GET /machine-config report it. */
struct vm_info {
    const char *state; /* "Not started", "Running", "Paused" */
    char id[VM_CTL_ID_MAX];
    unsigned vcpus;
    uint64_t mem_mib;
};

/* GET /metrics. */
struct vm_metrics {
    uint64_t uptime_ms, paused_ms;
    uint64_t insns, exceptions, interrupts, blocks_built, tlb_misses;
    uint64_t pauses, resumes;
    uint64_t snapshots, snapshot_last_ms, snapshot_last_bytes;
    uint64_t restore_ms; /* building the machine and mapping RAM from a snapshot, 0 if none */
    /* Guest memory in bytes (pc_memory_report; docs/MEMORY.md): RAM, resident in the host,
     * mapped from the sharing pool, given back as zeros, saved by sharing, held alone; the
     * balloon's target and actual size (0 without one). */
    uint64_t ram_size, ram_resident, ram_shared, ram_zero, ram_saved, ram_private;
    uint64_t balloon_target, balloon_actual;
};

/* PUT /migrate's answer. */
struct vm_migration_stats {
    uint64_t total_ms, downtime_ms, iterations, bytes, pages;
};

struct insp_report;

struct vm_reply {
    int status; /* 200 with a body, 204 without, 400 bad request, 500 host failure */
    char fault[512];
    struct vm_info info;
    struct vm_metrics metrics;
    struct vm_migration_stats migration;
    struct insp_report *inspect; /* GET /inspect: malloc'd by the loop, freed by the API */
};

/* One request in flight between the API thread and the main loop. */
struct vm_ctl {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    const struct vm_request *req; /* non-NULL while waiting for the loop */
    struct vm_reply *rep;
    bool done;
    char closed_why[128];
    atomic_bool pending;        /* cheap check for the loop between slices */
    bool closed;                /* the loop has ended: calls are answered at once */
    void (*kick)(void *opaque); /* wake the loop (stop the vCPU's slice, interrupt its sleep) */
    void *kick_opaque;
};

void vm_ctl_init(struct vm_ctl *c, void (*kick)(void *opaque), void *opaque);
void vm_ctl_destroy(struct vm_ctl *c);
/* API thread: post req and wait for the loop's answer in rep. */
void vm_ctl_call(struct vm_ctl *c, const struct vm_request *req, struct vm_reply *rep);
/* Main loop: if a request is waiting, run handle on it and wake its caller; true if it did. */
bool vm_ctl_serve(struct vm_ctl *c,
                  void (*handle)(void *opaque, const struct vm_request *req, struct vm_reply *rep),
                  void *opaque);
/* A handler that leaves rep->status 0 answers later: the caller keeps waiting (and the
 * mailbox stays busy) until the loop fills rep and calls vm_ctl_finish. */
void vm_ctl_finish(struct vm_ctl *c);
/* Main loop, on its way out: answer the waiting request (if any) and every later one with
 * `why` (status 400), so the API thread never waits for a loop that is gone. */
void vm_ctl_close(struct vm_ctl *c, const char *why);
/* Fill rep as a 400 (or other status) with a formatted fault message. */
void vm_reply_fault(struct vm_reply *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
