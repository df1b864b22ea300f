/* vm_internal.h — one running vessel as vm.c (main loop, lifecycle) and vm_requests.c (the
 * control requests it executes between slices) share it. Only the main loop's thread touches
 * it, except for the atomics set by device callbacks and the mailbox. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/console.h"
#include "vm/control.h"
#include "vm/snapshot.h"
#include "vm/vm.h"

struct api_server;
struct migration;
struct vm;

/* An application processor's host thread (vm.c, docs/SMP.md). */
struct vm_ap {
    struct vm *vm;
    struct pc *pc;
    unsigned index;
    pthread_t thread;
    pthread_cond_t cond; /* kicks, stop and quit (under vm->cpu_lock) */
    uint64_t kicks;      /* bumped by every kick */
    bool parked;
};

struct vm {
    const struct vm_config *cli; /* as given on the command line */
    struct vm_config conf;       /* what the machine is (re)built from: cli, API puts, snapshot */
    struct console con;
    struct pc *pc; /* NULL until started */
    int wake_fd;
    pthread_t loop_thread;
    atomic_bool poweroff, reset;
    atomic_uint panic_events;
    double insns_per_ns; /* measured engine speed, 0 until known */
    uint64_t next_input_ns;
    uint64_t report_asked_ns, report_due_ns; /* a SIGUSR2 report waiting for guest statistics */

    struct vm_ctl ctl;
    struct api_server *api;
    bool paused;
    int root_disk; /* index of the API's is_root_device drive, or -1 */
    char **owned;  /* strings conf points to that the API supplied (kept to the end) */
    size_t nowned, owned_cap;
    char *drive_name[VM_MAX_DISKS]; /* the API's drive ids, in conf.disks order */
    struct snap_image img; /* the snapshot restored from (conf's strings may point into it) */
    struct snap_chain chain;

    struct migration *mig; /* an outgoing live migration in progress, or NULL */
    bool migrated;         /* it succeeded: the loop ends, the guest runs elsewhere */
    uint64_t start_ns, paused_since_ns, paused_ns;
    uint64_t pauses, resumes, snapshots, snap_last_ns, snap_last_bytes, restore_ns;

    /* The APs' threads (CPUs 1.. of aps_pc), all under cpu_lock. aps_stop parks every AP at an
     * instruction boundary (the loop waits for aps_parked == naps); aps_quit ends the threads. */
    pthread_mutex_t cpu_lock;
    pthread_mutex_t con_lock; /* console output: the APs write COM1 too */
    pthread_cond_t parked_cond;
    struct vm_ap *aps;
    unsigned naps, aps_parked;
    struct pc *aps_pc;
    bool aps_stop, aps_quit;
};

/* Build the machine from vm->conf (vm.c), booting its kernel or (boot false) left for a
 * restore. 0, or -1 with a reason; *usage when the reason is
 * the operator's input. */
int vm_build(struct vm *vm, bool boot, char *err, size_t errlen, int *usage);
/* Restore state_path (and its memory, or mem_path) into a new machine (vm.c). */
int vm_restore(struct vm *vm, const char *state_path, const char *mem_path, char *err,
               size_t errlen);
/* Take a saved machine's configuration (snapshot, migration) with this command line's
 * overrides (disks, network back-end, console, API). 0, or -1 with a reason. */
int vm_adopt_config(struct vm *vm, const struct vm_config *saved, char *err, size_t errlen);
/* Pause or resume on the loop's behalf (keeps the paused-time accounting). */
void vm_set_paused(struct vm *vm, bool paused);
/* Execute one control request (vm_requests.c). */
void vm_handle_request(void *opaque, const struct vm_request *req, struct vm_reply *rep);
/* Keep a string alive as long as the VM (conf points to it); NULL when out of memory. */
const char *vm_keep(struct vm *vm, const char *s);
