/* pc.h — the vessel PC board: guest RAM and the memory map, vCPUs each with a LAPIC, the IOAPIC
 * and the legacy devices wired to its pins, the PCI host bridge, the ACPI tables and power
 * registers, pvpanic, and the Linux kernel loaded for direct 64-bit boot.
 *
 * The board is a list of devices (pc_internal.h) created from one description of where
 * everything sits (board.h). It owns wiring, not policy: what a power-off, reset or panic means for
 * the process is decided by the caller (src/vm/) through the event callbacks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/share.h"
#include "vessel/cpu.h"

struct pc;
struct vcpu;
struct state_writer;

struct pc_events {
    void (*poweroff)(void *opaque);               /* ACPI S5 */
    void (*reset)(void *opaque);                  /* ACPI reset register, keyboard reset */
    void (*panic)(void *opaque, unsigned events); /* pvpanic events */
    void (*serial_out)(void *opaque, const uint8_t *buf, size_t len); /* COM1 transmit */
    void (*kick)(void *opaque); /* an interrupt became pending for CPU 0 (any thread) */
    /* With several CPUs: CPU k > 0 has an interrupt or start-up event pending (any thread). */
    void (*cpu_kick)(void *opaque, unsigned cpu);
    /* An AP's LAPIC timer moved: the timer loop (pc_update_timers) should look again. */
    void (*timers_changed)(void *opaque);
    void *opaque;
};

#define PC_MAX_DISKS  4
#define PC_MAX_FW_CFG 16
#define PC_MAX_CPUS   32

/* The memory balloon (virtio-balloon), if enabled. */
struct pc_balloon_config {
    bool enabled;
    uint64_t size;              /* balloon size asked for at start, bytes */
    uint32_t stats_interval_ms; /* guest statistics polling, 0: only on request */
    bool deflate_on_oom, reporting;
};

struct pc_config {
    uint64_t ram_size;
    const char *kernel, *initrd, *cmdline; /* kernel NULL: none loaded (a restore follows) */
    const char *disks[PC_MAX_DISKS];       /* raw images for virtio-blk, in slot order */
    bool disk_ro[PC_MAX_DISKS];
    unsigned ndisks;
    const char *net;                   /* backend/net.h spec for virtio-net, or NULL */
    bool rng;                          /* virtio-rng */
    const char *disk_id[PC_MAX_DISKS]; /* virtio-blk serials, NULL for "vessel-diskN" */
    const char *mac;                   /* virtio-net MAC, NULL for 52:54:00:12:34:56 */
    bool hvc;                          /* a virtio-console carries the console */
    const char *memory_file; /* guest RAM in a file here (bus_init_file), or NULL: anonymous */
    struct pc_balloon_config balloon;
    bool share_on;             /* content-based page sharing (machine/share.h) */
    struct share_config share; /* its directory and rate */
    const char *display;       /* display front end spec (backend/display.h), NULL: none */
    unsigned display_width, display_height;
    bool display_bochs;     /* the PCI display (hw/bochs_display.h) instead of the plain lfb */
    const char *screenshot; /* PNG of the framebuffer written when the board goes */
    const char *fw_cfg[PC_MAX_FW_CFG]; /* --fw-cfg specs (pc_fwcfg.c); any: the fw_cfg device */
    const char *bios; /* firmware image to boot through (pc_bios.c) instead of a kernel, or NULL */
    const char *firmware_log; /* with bios: its debug port (0x402) appended to this file */
    unsigned nfw_cfg;
    enum vcpu_engine engine; /* the vCPU's engine (vessel/cpu.h) */
    size_t jit_cache;        /* translator code cache bytes, 0 for the default */
    unsigned ncpus;          /* vCPUs, 1..PC_MAX_CPUS (0 means 1) */
    struct pc_events events;
};

/* Build the machine (virtio devices on PCI slots 1.. in the order rng, hvc, disks, net,
 * balloon) and load
 * the kernel. Returns NULL with a one-line reason in err; `usage`
 * is set when the reason is the operator's input (missing or malformed kernel/initrd) rather
 * than a host failure. */
/* Whether an --fw-cfg spec is well formed (name=NAME,file=PATH|string=TEXT; files are read by
 * pc_create). 0, or -1 with a message. */
int pc_fw_cfg_spec_check(const char *spec, char *err, size_t errlen);

struct pc *pc_create(const struct pc_config *cfg, char *err, size_t errlen, int *usage);
void pc_destroy(struct pc *pc);

/* The whole machine's state (pc_state.c): board, RAM, then every device of the board's list in
 * order (the vCPU first), each in its own versioned section. pc_load needs a board created with
 * the same configuration; 0 or -1 (logged). */
void pc_save(struct pc *pc, struct state_writer *w);
int pc_load(struct pc *pc, const void *data, size_t len);
/* The same without the "ram" section, for callers that move RAM themselves (snapshot memory
 * files, migration): pc_load_devices leaves RAM as it is. */
void pc_save_devices(struct pc *pc, struct state_writer *w);
int pc_load_devices(struct pc *pc, const void *data, size_t len);
/* Guest RAM and its per-page dirty bits (vessel/bus.h), for snapshots and migration. */
struct bus *pc_bus(struct pc *pc);

/* Fire every device timer due at host time now_ns; returns the earliest next deadline (host
 * ns, UINT64_MAX if none). */
uint64_t pc_update_timers(struct pc *pc, uint64_t now_ns);
/* Pause (false) and resume (true) beyond the vCPU: device threads stop writing guest memory
 * (virtio-net receive, virtio-blk batches) and, on resume, the guest's kvmclock says it was
 * stopped. The loop calls it; a new machine runs. */
void pc_set_running(struct pc *pc, bool running);
/* The board's vCPU 0 (the bootstrap processor): the caller runs it (vcpu_run) and asks it to
 * stop (vcpu_request_exit). */
struct vcpu *pc_vcpu(struct pc *pc);
/* Whether the LAPIC has an interrupt the CPU could take now (a halted vCPU will wake). */
bool pc_irq_pending(struct pc *pc);

/* Several CPUs (docs/SMP.md). CPU 0 is pc_vcpu; each AP k in 1..pc_ncpus-1 runs on a thread of
 * the caller's. That thread calls pc_cpu_bind_thread(pc, k) once, then pc_cpu_startup before
 * every run: it applies INIT, SIPI and ACPI-mailbox wake-ups (the vCPU's registers change on the
 * vCPU's own thread) and says whether the CPU may run (false: it waits for SIPI; sleep until
 * cpu_kick). After a run ended in HLT, sleep until pc_cpu_wake_pending. */
unsigned pc_ncpus(struct pc *pc);
struct vcpu *pc_cpu_vcpu(struct pc *pc, unsigned k);
void pc_cpu_bind_thread(struct pc *pc, unsigned k);
bool pc_cpu_startup(struct pc *pc, unsigned k);
bool pc_cpu_wake_pending(struct pc *pc, unsigned k);
/* The AP's run ended in a triple fault or an engine error: it is stopped (reported once on
 * stderr) and waits for INIT/SIPI; the machine runs on. */
void pc_cpu_stopped(struct pc *pc, unsigned k);
/* Drop every vCPU's fast write mappings (vcpu_rearm_dirty on each). */
void pc_rearm_dirty(struct pc *pc);
/* Host input for COM1; returns how many bytes the UART took. */
size_t pc_serial_input(struct pc *pc, const uint8_t *buf, size_t len);
/* Host input for the console device (COM1, or virtio-console with hvc). */
size_t pc_console_input(struct pc *pc, const uint8_t *buf, size_t len);

/* Guest memory as the host sees it, for people and the control API. Sizes are bytes; a guest
 * figure the guest has not reported is PC_UNKNOWN. */
#define PC_UNKNOWN UINT64_MAX
struct pc_memory_report {
    uint64_t ram_size, ram_resident; /* guest RAM and how much of it is in host memory */
    bool ram_file;                   /* backed by --memory-file */
    bool balloon;                    /* a balloon exists; the rest is 0 otherwise */
    uint64_t balloon_target, balloon_actual;
    uint64_t inflated, deflated, reported, returned; /* totals since boot */
    uint64_t stats_age_ns; /* how old the guest's figures are; PC_UNKNOWN: none yet */
    uint64_t mem_free, mem_total, mem_available, disk_caches;
    uint64_t swap_in, swap_out, major_faults, minor_faults;
    bool share;                        /* page sharing is on; the rest is 0 otherwise */
    uint64_t shared_pages, zero_pages; /* RAM pages mapped from the pool, given back as zeros */
    uint64_t private_pages;            /* RAM pages held by this VM alone */
    uint64_t saved;                    /* bytes this VM does not hold because of sharing */
    uint64_t share_scanned, share_cpu_ns, share_pool; /* pages compared, CPU, pool pages */
};
void pc_memory_report(struct pc *pc, struct pc_memory_report *r);
/* Ask the balloon to hold `bytes`; -1 if the board has no balloon. */
int pc_balloon_set_size(struct pc *pc, uint64_t bytes);
/* Ask the guest for fresh statistics (they arrive while it runs); -1 without a balloon. */
int pc_balloon_request_stats(struct pc *pc);
/* Press and release Ctrl+Alt+Del on the i8042 keyboard (Firecracker's SendCtrlAltDel: Linux
 * then runs its ctrl-alt-del action). Safe from any thread; -1 if the key buffer is full. */
int pc_send_ctrl_alt_del(struct pc *pc);
/* The display's current frame as a PNG at `path` (written beside it and renamed). 0, or -1
 * with the reason (no display, an unwritable path). */
int pc_screenshot(struct pc *pc, const char *path, char *err, size_t errlen);
