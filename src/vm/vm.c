/* vm.c — the main loop, which runs vCPU 0. The vCPU runs in slices; between slices the loop fires
 * due device timers, moves console bytes both ways, acts on machine events (power-off, reset,
 * panic) and executes control requests from the API thread (vm_requests.c). When the guest
 * halts the loop sleeps in ppoll() on the console and a wake eventfd until the earliest timer
 * deadline, so an idle guest costs the host almost nothing. Other threads (virtio I/O, the
 * API) reach the loop through the kick: vcpu_request_exit plus the eventfd.
 *
 * Pause is the loop not running the vCPU (it stopped at the end of a slice, an instruction
 * boundary), not firing device timers, and the board holding its device threads
 * (pc_set_running: no guest memory written while paused); the guest's clocks (TSC, kvmclock, APIC
 * timer, RTC) follow the host's monotonic clock, so after a resume guest time has moved on by the
 * pause and never backwards, and timers that fell due meanwhile fire at once. A restored snapshot
 * instead continues from the instant it was taken: every device rebases its clock on load.
 *
 * Exit statuses are enum vm_status; the terminal is restored before anything is printed on the
 * way out (a raw terminal would mangle the register dump).
 *
 * With several CPUs each AP runs on a host thread of its own (vm_ap_main), in parallel with the
 * loop's vCPU 0: it sleeps while halted or waiting for SIPI until its LAPIC kicks it. Whatever
 * needs the whole machine still (control requests, a migration's rounds, pause, the end of the
 * loop) first parks every AP at an instruction boundary (vm_aps_stop): no AP is then inside
 * vcpu_run, and none runs again until the loop lets it (vm_aps_sync). Timers stay the loop's:
 * an AP arming its LAPIC timer wakes the loop to look at the deadlines again.
 *
 * SIGUSR2 is the operator's handle on guest memory until the control API takes over: the
 * balloon size is read again from the --balloon control file, the guest is asked for fresh
 * statistics, and a one-line memory report goes to stderr when they arrive (or after a
 * second without them). */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdlib.h>

#include "api/server.h"
#include "backend/console.h"
#include "introspect/integrity.h"
#include "machine/pc.h"
#include "sandbox/sandbox.h"
#include "vessel/clock.h"
#include "vessel/cpu.h"
#include "vessel/log.h"
#include "vm/cli.h"
#include "vm/migrate.h"
#include "vm/vm_internal.h"

/* Instructions per slice: large enough that the loop's bookkeeping is noise, small enough that
 * timers and console input are served within a few milliseconds while the guest is busy. */
#define VM_SLICE 100000
/* A timer due soon shortens the slice (from the measured instruction rate), down to this. */
#define VM_SLICE_MIN 1000
/* Host input is looked at no more often than this while the guest computes. */
#define VM_INPUT_PERIOD_NS 1000000

enum vm_outcome {
    VM_RUNNING,
    VM_POWEROFF,
    VM_RESET,
    VM_PANIC,
    VM_QUIT,
    VM_CRASH,
    VM_DEAD,
    VM_MIGRATED
};

/* How long a SIGUSR2 report waits for the guest's statistics. */
#define VM_REPORT_WAIT_NS 1000000000ull

/* SIGUSR1 asks for a register dump on stderr without stopping the guest (where is it stuck?). */
static volatile sig_atomic_t vm_dump_requested;

static void vm_on_sigusr1(int sig)
{
    (void)sig;
    vm_dump_requested = 1;
}

static volatile sig_atomic_t vm_memory_requested;

static void vm_on_sigusr2(int sig)
{
    (void)sig;
    vm_memory_requested = 1;
}

/* The balloon size in the control file: a size as --memory takes it, or 0. */
static void vm_read_balloon_control(struct vm *vm)
{
    const char *path = vm->cli->balloon_control;
    if (!path) return;
    FILE *f = fopen(path, "r");
    char line[64] = "";
    if (!f || !fgets(line, sizeof(line), f)) {
        fprintf(stderr, "vessel: balloon control %s: %s\n", path, f ? "empty" : strerror(errno));
        if (f) fclose(f);
        return;
    }
    fclose(f);
    line[strcspn(line, " \t\r\n")] = 0;
    uint64_t size = 0;
    if (strcmp(line, "0") != 0 && !cli_parse_size(line, &size)) {
        fprintf(stderr, "vessel: balloon control %s: '%s' is not a size\n", path, line);
        return;
    }
    pc_balloon_set_size(vm->pc, size);
}

/* The process's resident set (what the host is paying for), bytes. */
static uint64_t vm_process_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void vm_put_figure(FILE *f, const char *name, uint64_t v)
{
    if (v == PC_UNKNOWN)
        fprintf(f, " %s=-", name);
    else
        fprintf(f, " %s=%llu", name, (unsigned long long)v);
}

/* One line, KEY=VALUE in bytes (counts for faults and pages), '-' for what is not known. */
static void vm_memory_report(struct vm *vm)
{
    struct pc_memory_report r;
    pc_memory_report(vm->pc, &r);
    char line[1024];
    FILE *f = fmemopen(line, sizeof(line), "w");
    if (!f) return;
    fprintf(f, "vessel: memory:");
    vm_put_figure(f, "ram", r.ram_size);
    vm_put_figure(f, "resident", r.ram_resident);
    vm_put_figure(f, "process_rss", vm_process_rss());
    fprintf(f, " backing=%s", r.ram_file ? "file" : "anonymous");
    vm_put_figure(f, "shared", r.shared_pages << 12);
    vm_put_figure(f, "zero", r.zero_pages << 12);
    vm_put_figure(f, "saved", r.saved);
    if (r.share) {
        vm_put_figure(f, "private", r.private_pages << 12);
        vm_put_figure(f, "share_pool_pages", r.share_pool);
        vm_put_figure(f, "share_scanned", r.share_scanned);
        vm_put_figure(f, "share_cpu_ms", r.share_cpu_ns / 1000000);
    }
    if (r.balloon) {
        vm_put_figure(f, "balloon_target", r.balloon_target);
        vm_put_figure(f, "balloon_actual", r.balloon_actual);
        vm_put_figure(f, "inflated", r.inflated);
        vm_put_figure(f, "deflated", r.deflated);
        vm_put_figure(f, "reported", r.reported);
        vm_put_figure(f, "returned", r.returned);
        vm_put_figure(f, "guest_free", r.mem_free);
        vm_put_figure(f, "guest_available", r.mem_available);
        vm_put_figure(f, "guest_total", r.mem_total);
        vm_put_figure(f, "guest_caches", r.disk_caches);
        vm_put_figure(f, "swap_in", r.swap_in);
        vm_put_figure(f, "swap_out", r.swap_out);
        vm_put_figure(f, "major_faults", r.major_faults);
        vm_put_figure(f, "minor_faults", r.minor_faults);
        vm_put_figure(f, "stats_age_ms",
                      r.stats_age_ns == PC_UNKNOWN ? PC_UNKNOWN : r.stats_age_ns / 1000000);
    } else {
        fprintf(f, " balloon=none");
    }
    fclose(f);
    fprintf(stderr, "%s\n", line);
}

/* SIGUSR2: apply the control file and ask for statistics; the report waits for them. */
static void vm_memory_request(struct vm *vm, uint64_t now)
{
    vm_read_balloon_control(vm);
    if (pc_balloon_request_stats(vm->pc) < 0) {
        vm_memory_report(vm);
        return;
    }
    vm->report_asked_ns = now;
    vm->report_due_ns = now + VM_REPORT_WAIT_NS;
}

/* The pending report, once the guest's statistics are newer than the request or it waited
 * long enough. */
static void vm_memory_report_if_due(struct vm *vm, uint64_t now)
{
    if (!vm->report_due_ns) return;
    struct pc_memory_report r;
    pc_memory_report(vm->pc, &r);
    bool fresh = r.stats_age_ns != PC_UNKNOWN && r.stats_age_ns <= now - vm->report_asked_ns;
    if (!fresh && now < vm->report_due_ns) return;
    vm->report_due_ns = 0;
    vm_memory_report(vm);
}

/* With a control API, SIGTERM and SIGINT end the VM like Ctrl-A x (the socket file is
 * removed on the way out). */
static volatile sig_atomic_t vm_quit_requested;
static int vm_signal_wake_fd = -1;

static void vm_on_sigterm(int sig)
{
    (void)sig;
    vm_quit_requested = 1;
    uint64_t one = 1;
    if (vm_signal_wake_fd >= 0) {
        ssize_t n = write(vm_signal_wake_fd, &one, sizeof(one));
        (void)n;
    }
}

static void vm_on_poweroff(void *opaque)
{
    struct vm *vm = opaque;
    atomic_store(&vm->poweroff, true);
    if (vm->pc) vcpu_request_exit(pc_vcpu(vm->pc));
}

static void vm_on_reset(void *opaque)
{
    struct vm *vm = opaque;
    atomic_store(&vm->reset, true);
    if (vm->pc) vcpu_request_exit(pc_vcpu(vm->pc));
}

static void vm_on_panic(void *opaque, unsigned events)
{
    struct vm *vm = opaque;
    atomic_fetch_or(&vm->panic_events, events);
    if (vm->pc) vcpu_request_exit(pc_vcpu(vm->pc));
}

static void vm_on_serial(void *opaque, const uint8_t *buf, size_t len)
{
    struct vm *vm = opaque;
    /* APs write COM1 on their own threads */
    pthread_mutex_lock(&vm->con_lock);
    for (size_t i = 0; i < len; i++)
        console_put(&vm->con, buf[i]);
    pthread_mutex_unlock(&vm->con_lock);
}

/* On the loop's own thread nothing is needed: the engine looks for pending interrupts at
 * block boundaries and the loop runs it again after every slice. */
static void vm_kick(void *opaque)
{
    struct vm *vm = opaque;
    if (pthread_equal(pthread_self(), vm->loop_thread)) return;
    if (vm->pc) vcpu_request_exit(pc_vcpu(vm->pc));
    uint64_t one = 1;
    ssize_t n = write(vm->wake_fd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

/* ---- application processors ---- */

static void vm_cpu_kick(void *opaque, unsigned cpu)
{
    struct vm *vm = opaque;
    pthread_mutex_lock(&vm->cpu_lock);
    if (vm->aps && vm->aps_pc == vm->pc && cpu >= 1 && cpu - 1 < vm->naps) {
        struct vm_ap *ap = &vm->aps[cpu - 1];
        ap->kicks++;
        pthread_cond_signal(&ap->cond);
    }
    pthread_mutex_unlock(&vm->cpu_lock);
}

/* Whether a halted or waiting AP sleeps on (cpu_lock held): no kick since `seen` and nothing
 * that would wake it (an interrupt it can take, a start-up event). */
static bool vm_ap_idle(struct vm_ap *ap, uint64_t seen)
{
    return ap->kicks == seen && !pc_cpu_wake_pending(ap->pc, ap->index);
}

static void *vm_ap_main(void *arg)
{
    struct vm_ap *ap = arg;
    struct vm *vm = ap->vm;
    struct pc *pc = ap->pc;
    unsigned k = ap->index;
    struct vcpu *v = pc_cpu_vcpu(pc, k);
    pc_cpu_bind_thread(pc, k);
    pthread_mutex_lock(&vm->cpu_lock);
    for (;;) {
        if (vm->aps_quit) break;
        if (vm->aps_stop) {
            ap->parked = true;
            vm->aps_parked++;
            pthread_cond_broadcast(&vm->parked_cond);
            while (vm->aps_stop && !vm->aps_quit)
                pthread_cond_wait(&ap->cond, &vm->cpu_lock);
            vm->aps_parked--;
            ap->parked = false;
            continue;
        }
        uint64_t seen = ap->kicks;
        pthread_mutex_unlock(&vm->cpu_lock);
        bool runnable = pc_cpu_startup(pc, k);
        enum vcpu_exit e = runnable ? vcpu_run(v, VM_SLICE) : VCPU_EXIT_HLT;
        if (e == VCPU_EXIT_SHUTDOWN || e == VCPU_EXIT_INTERNAL) {
            pc_cpu_stopped(pc, k);
            runnable = false;
        }
        pthread_mutex_lock(&vm->cpu_lock);
        if (e != VCPU_EXIT_HLT && runnable) continue;
        while (!vm->aps_stop && !vm->aps_quit && vm_ap_idle(ap, seen))
            pthread_cond_wait(&ap->cond, &vm->cpu_lock);
    }
    pthread_mutex_unlock(&vm->cpu_lock);
    return NULL;
}

/* Park every AP at an instruction boundary and wait until all are parked. */
static void vm_aps_stop(struct vm *vm)
{
    if (!vm->naps) return;
    pthread_mutex_lock(&vm->cpu_lock);
    vm->aps_stop = true;
    for (unsigned k = 0; k < vm->naps; k++) {
        vcpu_request_exit(pc_cpu_vcpu(vm->aps_pc, k + 1));
        pthread_cond_signal(&vm->aps[k].cond);
    }
    while (vm->aps_parked < vm->naps)
        pthread_cond_wait(&vm->parked_cond, &vm->cpu_lock);
    pthread_mutex_unlock(&vm->cpu_lock);
}

/* End the AP threads (before their machine goes). */
static void vm_aps_quit(struct vm *vm)
{
    if (!vm->aps) return;
    pthread_mutex_lock(&vm->cpu_lock);
    vm->aps_quit = true;
    for (unsigned k = 0; k < vm->naps; k++) {
        /* a running AP's machine is alive (machines are replaced only with every AP parked) */
        if (!vm->aps[k].parked) vcpu_request_exit(pc_cpu_vcpu(vm->aps_pc, k + 1));
        pthread_cond_signal(&vm->aps[k].cond);
    }
    pthread_mutex_unlock(&vm->cpu_lock);
    for (unsigned k = 0; k < vm->naps; k++) {
        pthread_join(vm->aps[k].thread, NULL);
        pthread_cond_destroy(&vm->aps[k].cond);
    }
    free(vm->aps);
    vm->aps = NULL;
    vm->naps = vm->aps_parked = 0;
    vm->aps_pc = NULL;
    vm->aps_stop = vm->aps_quit = false;
}

/* Threads for the machine the loop runs now: started for a new machine (and those of a machine
 * that was replaced ended; they were parked and never touched it again), parked while paused,
 * let go otherwise. */
static void vm_aps_sync(struct vm *vm)
{
    /* an old machine's threads are parked (requests run with them stopped) */
    if (vm->aps_pc != vm->pc) vm_aps_quit(vm);
    if (!vm->pc || pc_ncpus(vm->pc) < 2) return;
    if (!vm->aps) {
        unsigned n = pc_ncpus(vm->pc) - 1;
        vm->aps = calloc(n, sizeof(*vm->aps));
        if (!vm->aps) {
            fprintf(stderr, "vessel: out of memory for the AP threads\n");
            return;
        }
        vm->aps_pc = vm->pc;
        vm->aps_stop = vm->paused;
        for (unsigned k = 0; k < n; k++) {
            struct vm_ap *ap = &vm->aps[k];
            *ap = (struct vm_ap){.vm = vm, .pc = vm->pc, .index = k + 1};
            pthread_cond_init(&ap->cond, NULL);
            if (pthread_create(&ap->thread, NULL, vm_ap_main, ap) != 0) {
                pthread_cond_destroy(&ap->cond);
                fprintf(stderr, "vessel: cannot start the thread of cpu %u\n", k + 1);
                break;
            }
            vm->naps++;
        }
        if (vm->aps_stop) vm_aps_stop(vm);
        return;
    }
    bool stop = vm->paused;
    if (stop == vm->aps_stop) return;
    if (stop) {
        vm_aps_stop(vm);
        return;
    }
    pthread_mutex_lock(&vm->cpu_lock);
    vm->aps_stop = false;
    for (unsigned k = 0; k < vm->naps; k++)
        pthread_cond_signal(&vm->aps[k].cond);
    pthread_mutex_unlock(&vm->cpu_lock);
}

/* An AP moved its LAPIC timer: the loop looks at the deadlines again. */
static void vm_timers_changed(void *opaque)
{
    vm_kick(opaque);
}

/* The API thread's kick: always from another thread. */
static void vm_ctl_kick(void *opaque)
{
    struct vm *vm = opaque;
    if (vm->pc) vcpu_request_exit(pc_vcpu(vm->pc));
    uint64_t one = 1;
    ssize_t n = write(vm->wake_fd, &one, sizeof(one));
    (void)n;
}

static void vm_api_call(void *opaque, const struct vm_request *req, struct vm_reply *rep)
{
    struct vm *vm = opaque;
    vm_ctl_call(&vm->ctl, req, rep);
}

static void vm_feed_console(struct vm *vm)
{
    const uint8_t *p;
    size_t n = console_pending(&vm->con, &p);
    if (n) console_consume(&vm->con, pc_console_input(vm->pc, p, n));
}

/* Sleep until the next timer deadline, console input, or a kick. */
static void vm_idle(struct vm *vm, uint64_t deadline)
{
    struct pollfd fds[2] = {{.fd = vm->wake_fd, .events = POLLIN}, {.fd = -1}};
    const uint8_t *p;
    /* Only wait for host input if there is room to put it: otherwise the fd stays readable and
     * the sleep would spin. */
    if (vm->pc && !vm->paused && console_pending(&vm->con, &p) == 0)
        fds[1] = (struct pollfd){.fd = console_input_fd(&vm->con), .events = POLLIN};
    struct timespec ts, *tsp = NULL;
    if (deadline != UINT64_MAX) {
        uint64_t now = clock_ns();
        uint64_t d = deadline > now ? deadline - now : 0;
        ts.tv_sec = (time_t)(d / 1000000000ull);
        ts.tv_nsec = (long)(d % 1000000000ull);
        tsp = &ts;
    }
    if (ppoll(fds, 2, tsp, NULL) > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t n = read(vm->wake_fd, &v, sizeof(v));
        (void)n;
    }
}

static enum vm_outcome vm_check_events(struct vm *vm)
{
    if (vm_quit_requested) return VM_QUIT;
    if (atomic_load(&vm->panic_events)) return VM_PANIC;
    if (vm->con.quit) return VM_QUIT;
    if (atomic_load(&vm->poweroff)) return VM_POWEROFF;
    if (atomic_load(&vm->reset)) return vm->con.panic_seen ? VM_PANIC : VM_RESET;
    return VM_RUNNING;
}

/* This board has no NMI, SMI or INIT source, so HLT with interrupts disabled never ends (an
 * early kernel panic, a stopped guest): report it instead of sleeping forever. */
static bool vm_halted_for_good(struct vcpu *v)
{
    struct vcpu_regs r;
    vcpu_get_regs(v, &r);
    return !(r.rflags & 0x200);
}

/* Instructions to run so that the slice ends about when the next timer is due. */
static uint64_t vm_budget(const struct vm *vm, uint64_t deadline, uint64_t now)
{
    if (deadline == UINT64_MAX || vm->insns_per_ns <= 0) return VM_SLICE;
    if (deadline <= now) return VM_SLICE_MIN;
    double b = (double)(deadline - now) * vm->insns_per_ns;
    if (b >= VM_SLICE) return VM_SLICE;
    return b < VM_SLICE_MIN ? VM_SLICE_MIN : (uint64_t)b;
}

static void vm_measure(struct vm *vm, uint64_t insns, uint64_t ns)
{
    if (ns < 100000 || insns < VM_SLICE_MIN) return; /* too short to say anything */
    double r = (double)insns / (double)ns;
    vm->insns_per_ns = vm->insns_per_ns > 0 ? 0.75 * vm->insns_per_ns + 0.25 * r : r;
}

static enum vm_outcome vm_loop(struct vm *vm)
{
    uint64_t now = 0, deadline = UINT64_MAX;
    bool fresh = true; /* the machine was (re)started or resumed: read the clock and timers */
    for (;;) {
        /* Requests and migration rounds see the whole machine stopped (the APs parked). */
        if (atomic_load(&vm->ctl.pending)) {
            vm_aps_stop(vm);
            if (vm_ctl_serve(&vm->ctl, vm_handle_request, vm)) fresh = true;
        }
        if (vm->mig) {
            vm_aps_stop(vm);
            migrate_poll(vm);
            if (vm->migrated) return VM_MIGRATED;
            fresh = true; /* a stop for the last round may have come and gone */
        }
        vm_aps_sync(vm);
        if (!vm->pc || vm->paused) {
            /* Not started or paused: only requests (and the quit signal) matter. */
            if (vm_quit_requested) return VM_QUIT;
            vm_idle(vm, UINT64_MAX);
            fresh = true;
            continue;
        }
        struct vcpu *v = pc_vcpu(vm->pc);
        bool smp = pc_ncpus(vm->pc) > 1;
        if (smp && !pc_cpu_startup(vm->pc, 0)) {
            /* CPU 0 took an INIT: it waits for a SIPI like an AP */
            vm_idle(vm, deadline);
            now = clock_ns();
            deadline = pc_update_timers(vm->pc, now);
            vm_feed_console(vm);
            continue;
        }
        if (fresh) {
            now = clock_ns();
            deadline = pc_update_timers(vm->pc, now);
            fresh = false;
        }
        struct vcpu_stats st;
        vcpu_get_stats(v, &st);
        uint64_t insns0 = st.insns, t0 = now;
        enum vcpu_exit e = vcpu_run(v, vm_budget(vm, deadline, now));
        now = clock_ns();
        vcpu_get_stats(v, &st);
        vm_measure(vm, st.insns - insns0, now - t0);
        integ_poll(pc_bus(vm->pc), v, now);
        deadline = pc_update_timers(vm->pc, now);
        pthread_mutex_lock(&vm->con_lock);
        console_flush(&vm->con);
        pthread_mutex_unlock(&vm->con_lock);
        if (vm_dump_requested) {
            vm_dump_requested = 0;
            fprintf(stderr, "vessel: state on request (SIGUSR1), guest continues\n");
            vcpu_dump(v, stderr);
            /* the APs' as last seen (they run on: a snapshot of moving state) */
            for (unsigned k = 1; k < pc_ncpus(vm->pc); k++)
                vcpu_dump(pc_cpu_vcpu(vm->pc, k), stderr);
        }
        if (vm_memory_requested) {
            vm_memory_requested = 0;
            vm_memory_request(vm, now);
        }
        vm_memory_report_if_due(vm, now);
        if (vm->report_due_ns && vm->report_due_ns < deadline) deadline = vm->report_due_ns;
        if (now >= vm->next_input_ns || e == VCPU_EXIT_HLT) {
            vm_feed_console(vm);
            vm->next_input_ns = now + VM_INPUT_PERIOD_NS;
        }
        enum vm_outcome o = vm_check_events(vm);
        if (o != VM_RUNNING) return o;
        switch (e) {
        case VCPU_EXIT_SHUTDOWN:
        case VCPU_EXIT_INTERNAL: return VM_CRASH;
        case VCPU_EXIT_HLT:
            /* with other CPUs an IPI (NMI, INIT) may still come */
            if (!smp && vm_halted_for_good(v)) return VM_DEAD;
            /* A timer that just fired or input just fed may already have woken it. */
            if (!pc_irq_pending(vm->pc) && !atomic_load(&vm->ctl.pending)) {
                vm_idle(vm, deadline);
                now = clock_ns();
                deadline = pc_update_timers(vm->pc, now);
                vm_feed_console(vm);
            }
            break;
        case VCPU_EXIT_BUDGET:
        case VCPU_EXIT_REQUEST: break;
        }
    }
}

static void vm_report(struct vm *vm, enum vm_outcome o)
{
    switch (o) {
    case VM_PANIC:
        fprintf(stderr, "vessel: guest kernel panicked (%s)\n",
                atomic_load(&vm->panic_events) ? "pvpanic event"
                                               : "panic banner on the console, then reset");
        break;
    case VM_CRASH:
        fprintf(stderr, "vessel: guest stopped: %s\n", vcpu_exit_reason(pc_vcpu(vm->pc)));
        vcpu_dump(pc_vcpu(vm->pc), stderr);
        break;
    case VM_DEAD:
        fprintf(stderr, "vessel: guest halted with interrupts disabled and can never resume%s\n",
                vm->con.panic_seen ? " (after a kernel panic)" : "");
        vcpu_dump(pc_vcpu(vm->pc), stderr);
        break;
    case VM_RESET: log_info("guest rebooted"); break;
    case VM_POWEROFF: log_info("guest powered off"); break;
    default: break;
    }
}

static int vm_status_of(const struct vm *vm, enum vm_outcome o)
{
    switch (o) {
    case VM_PANIC: return VM_STATUS_PANIC;
    case VM_CRASH: return VM_STATUS_CRASH;
    case VM_DEAD: return vm->con.panic_seen ? VM_STATUS_PANIC : VM_STATUS_CRASH;
    default: return VM_STATUS_OK;
    }
}

int vm_build(struct vm *vm, bool boot, char *err, size_t errlen, int *usage)
{
    const struct vm_config *cfg = &vm->conf;
    struct pc_config pcfg = {
        .ram_size = cfg->mem_size,
        .kernel = boot ? cfg->kernel : NULL,
        .initrd = cfg->initrd,
        .cmdline = cfg->cmdline,
        .ndisks = cfg->ndisks,
        .net = cfg->net,
        .rng = cfg->rng,
        .mac = cfg->mac,
        .hvc = cfg->hvc,
        .memory_file = cfg->memory_file,
        .balloon = cfg->balloon,
        .share_on = cfg->share_on,
        .share = cfg->share,
        .display = cfg->display,
        .display_width = cfg->display_width,
        .display_height = cfg->display_height,
        .display_bochs = cfg->display_bochs,
        .screenshot = cfg->screenshot,
        .engine = cfg->engine,
        .jit_cache = cfg->jit_cache,
        .ncpus = cfg->cpus,
        .events = {.poweroff = vm_on_poweroff,
                   .reset = vm_on_reset,
                   .panic = vm_on_panic,
                   .serial_out = vm_on_serial,
                   .kick = vm_kick,
                   .cpu_kick = vm_cpu_kick,
                   .timers_changed = vm_timers_changed,
                   .opaque = vm},
    };
    for (unsigned k = 0; k < cfg->ndisks && k < PC_MAX_DISKS; k++) {
        pcfg.disks[k] = cfg->disks[k];
        pcfg.disk_ro[k] = cfg->disk_ro[k];
        pcfg.disk_id[k] = cfg->disk_id[k];
    }
    for (unsigned k = 0; k < cfg->nfw_cfg && k < PC_MAX_FW_CFG; k++)
        pcfg.fw_cfg[pcfg.nfw_cfg++] = cfg->fw_cfg[k];
    pcfg.bios = cfg->bios;
    pcfg.firmware_log = cfg->firmware_log;
    /* the CPU model first (the process starts with the default): a restore then adopts the
     * model its "cpu" section records */
    if (cfg->cpu_model && vcpu_model_select(cfg->cpu_model, err, errlen) < 0) {
        if (usage) *usage = 0;
        return -1;
    }
    vm->pc = pc_create(&pcfg, err, errlen, usage);
    return vm->pc ? 0 : -1;
}

static int vm_restore_into(struct vm *vm, const char *state_path, const char *mem_path, char *err,
                           size_t errlen);

int vm_restore(struct vm *vm, const char *state_path, const char *mem_path, char *err,
               size_t errlen)
{
    uint64_t t0 = clock_ns();
    struct vm_config before = vm->conf;
    if (snap_open(state_path, &vm->img, err, errlen) < 0) return -1;
    if (vm_restore_into(vm, state_path, mem_path, err, errlen) < 0) {
        vm->conf = before;
        snap_close(&vm->img);
        return -1;
    }
    vm->restore_ns = clock_ns() - t0;
    return 0;
}

int vm_adopt_config(struct vm *vm, const struct vm_config *saved, char *err, size_t errlen)
{
    struct vm_config c = *saved;
    const struct vm_config *cli = vm->cli;
    /* What the saved machine cannot know: where this process's console and API are, and (from
     * the command line) other disk images or network back-ends for a clone. */
    if (cli->ndisks) {
        if (cli->ndisks != c.ndisks) {
            snprintf(err, errlen, "the snapshot has %u disk(s), the command line gives %u",
                     c.ndisks, cli->ndisks);
            return -1;
        }
        for (unsigned k = 0; k < c.ndisks; k++) {
            c.disks[k] = cli->disks[k];
            c.disk_ro[k] = cli->disk_ro[k];
            if (cli->disk_id[k]) c.disk_id[k] = cli->disk_id[k];
        }
    }
    if (cli->net_given) {
        if (!c.net != !cli->net) {
            snprintf(err, errlen, "the snapshot %s a network interface; --net must %s",
                     c.net ? "has" : "has no", c.net ? "give a back-end" : "be none");
            return -1;
        }
        c.net = cli->net;
    }
    /* The display card is the saved machine's (its memory is in RAM's image); the front end
     * showing it is this process's --display when given, else the saved one. */
    if (cli->display && !c.display) {
        snprintf(err, errlen, "the snapshot has no display; --display cannot add one");
        return -1;
    }
    if (cli->display) c.display = cli->display;
    c.screenshot = c.display ? cli->screenshot : NULL;
    c.console = cli->console;
    c.api_sock = cli->api_sock;
    /* RAM comes from the snapshot's memory file or the migration stream; a --memory-file is
     * not combined with that. */
    c.memory_file = NULL;
    c.balloon_control = cli->balloon_control;
    c.share_on = cli->share_on; /* where RAM lives, not what the machine is */
    c.share = cli->share;
    c.restore = c.restore_mem = c.incoming = NULL;
    vm->conf = c;
    return 0;
}

static int vm_restore_into(struct vm *vm, const char *state_path, const char *mem_path, char *err,
                           size_t errlen)
{
    if (vm_adopt_config(vm, &vm->img.cfg, err, errlen) < 0) return -1;
    int usage;
    char why[512];
    if (vm_build(vm, false, why, sizeof(why), &usage) < 0) {
        snprintf(err, errlen, "rebuilding the snapshot's machine: %s", why);
        return -1;
    }
    /* Only the command line's memory file can lie inside an appliance file. */
    uint64_t off = mem_path && mem_path == vm->cli->restore_mem ? vm->cli->restore_mem_offset : 0;
    if (snap_restore_at(vm->pc, &vm->img, mem_path, off, &vm->chain, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "restoring '%s': %s", state_path, why);
        pc_destroy(vm->pc);
        vm->pc = NULL;
        return -1;
    }
    return 0;
}

const char *vm_keep(struct vm *vm, const char *s)
{
    if (!s) return NULL;
    if (vm->nowned == vm->owned_cap) {
        size_t cap = vm->owned_cap ? 2 * vm->owned_cap : 16;
        char **o = realloc(vm->owned, cap * sizeof(*o));
        if (!o) return NULL;
        vm->owned = o;
        vm->owned_cap = cap;
    }
    char *d = strdup(s);
    if (d) vm->owned[vm->nowned++] = d;
    return d;
}

static void vm_free(struct vm *vm)
{
    for (size_t k = 0; k < vm->nowned; k++)
        free(vm->owned[k]);
    free(vm->owned);
    for (unsigned k = 0; k < VM_MAX_DISKS; k++)
        free(vm->drive_name[k]);
    snap_close(&vm->img);
    snap_chain_clear(&vm->chain);
    vm_ctl_destroy(&vm->ctl);
    pthread_mutex_destroy(&vm->cpu_lock);
    pthread_mutex_destroy(&vm->con_lock);
    pthread_cond_destroy(&vm->parked_cond);
    free(vm);
}

int vm_main(const struct vm_config *cfg)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        fprintf(stderr, "vessel: out of memory\n");
        return VM_STATUS_ERROR;
    }
    vm->cli = cfg;
    vm->conf = *cfg;
    vm->loop_thread = pthread_self();
    vm->root_disk = -1;
    vm->start_ns = clock_ns();
    char err[1024];
    if (console_open(&vm->con, cfg->console, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        free(vm);
        return VM_STATUS_USAGE;
    }
    vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->wake_fd < 0) {
        console_close(&vm->con);
        fprintf(stderr, "vessel: eventfd: %s\n", strerror(errno));
        free(vm);
        return VM_STATUS_ERROR;
    }
    vm_ctl_init(&vm->ctl, vm_ctl_kick, vm);
    pthread_mutex_init(&vm->cpu_lock, NULL);
    pthread_mutex_init(&vm->con_lock, NULL);
    pthread_cond_init(&vm->parked_cond, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the monitor */
    struct sigaction sa = {.sa_handler = vm_on_sigusr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = vm_on_sigusr2;
    sigaction(SIGUSR2, &sa, NULL);

    int status = VM_STATUS_OK;
    bool failed = false;
    if (cfg->api_sock) {
        vm_signal_wake_fd = vm->wake_fd;
        struct sigaction st = {.sa_handler = vm_on_sigterm};
        sigemptyset(&st.sa_mask);
        sigaction(SIGTERM, &st, NULL);
        sigaction(SIGINT, &st, NULL);
        vm->api = api_server_start(cfg->api_sock, vm_api_call, vm, err, sizeof(err));
        if (!vm->api) {
            status = VM_STATUS_USAGE;
            failed = true;
        }
    }
    if (!failed && cfg->incoming) {
        if (migrate_incoming(vm, cfg->incoming, err, sizeof(err)) < 0) {
            status = VM_STATUS_USAGE;
            failed = true;
        }
    } else if (!failed && cfg->restore) {
        if (vm_restore(vm, cfg->restore, cfg->restore_mem, err, sizeof(err)) < 0) {
            status = VM_STATUS_USAGE;
            failed = true;
        } else {
            fprintf(stderr, "vessel: restored %s (%llu MiB) in %.2f ms\n", cfg->restore,
                    (unsigned long long)(vm->conf.mem_size >> 20), (double)vm->restore_ns / 1e6);
        }
    } else if (!failed && (cfg->kernel || cfg->bios)) {
        int usage = 0;
        if (vm_build(vm, true, err, sizeof(err), &usage) < 0) {
            status = usage ? VM_STATUS_USAGE : VM_STATUS_ERROR;
            failed = true;
        }
    }
    if (failed) {
        console_close(&vm->con);
        fprintf(stderr, "vessel: %s\n", err);
    }
    if (!failed) integ_prepare(vm->conf.kernel);
    /* Set up: from here on the main loop runs confined (a no-op with the sandbox off). */
    if (!failed) sandbox_enter(SANDBOX_VCPU);
    while (!failed) {
        enum vm_outcome o = vm_loop(vm);
        vm_aps_quit(vm); /* before the machine goes (a restart, or the end) */
        if (o == VM_RESET && vm->conf.reboot == VM_REBOOT_RESTART &&
            (vm->conf.kernel || vm->conf.bios)) {
            pc_destroy(vm->pc);
            vm->pc = NULL;
            atomic_store(&vm->reset, false);
            vm->con.panic_seen = false;
            int usage = 0;
            if (vm_build(vm, true, err, sizeof(err), &usage) < 0) {
                console_close(&vm->con);
                fprintf(stderr, "vessel: %s\n", err);
                status = usage ? VM_STATUS_USAGE : VM_STATUS_ERROR;
                break;
            }
            continue;
        }
        migrate_cancel(vm);
        vm_ctl_close(&vm->ctl, "the VM has stopped");
        console_close(&vm->con); /* flushes and restores the terminal before we report */
        vm_report(vm, o);
        status = vm_status_of(vm, o);
        break;
    }
    vm_ctl_close(&vm->ctl, "the VM has stopped");
    api_server_stop(vm->api);
    if (vm->pc) pc_destroy(vm->pc);
    vm_signal_wake_fd = -1;
    close(vm->wake_fd);
    vm_free(vm);
    return status;
}
