/* integrity.h — the integrity watch (docs/INTEGRITY.md): once the guest kernel has booted, the
 * monitor write-watches what rootkits patch and the kernel itself never writes after boot —
 * the system call tables, the IDT, the kernel text outside the kernel's own patching path
 * (text_poke) — and reports every write with the writer's RIP, address and the bytes before
 * and after, in the log and through inspect. With the block policy the write is undone before
 * the guest runs on (the guest continues; the watched bytes stay as they were).
 *
 * One watch per process (a vessel runs one machine), configured from the command line; the
 * loop thread arms it between slices (integ_poll), the engine and device threads report
 * writes through the bus's write watch (bus.h BUS_PAGE_WATCH). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct vcpu;

enum integ_policy { INTEG_OFF, INTEG_REPORT, INTEG_BLOCK };

#define INTEG_NAME_LEN    24
#define INTEG_EVENT_BYTES 16  /* bytes of each write kept for the report (the first ones) */
#define INTEG_MAX_EVENTS  256 /* the latest writes kept for inspect */
#define INTEG_MAX_RANGES  8

/* One write into a watched range. */
struct integ_event {
    uint64_t seq; /* 1, 2, ... over the life of the watch */
    char range[INTEG_NAME_LEN];
    uint64_t offset; /* of the first byte written, from the range's start */
    uint64_t va;     /* the kernel's address of that byte (range start + offset) */
    uint64_t gpa;
    uint64_t lin; /* where the writer wrote: its own mapping of the byte */
    uint64_t rip, cr3;
    uint8_t cpl;
    bool cpu;     /* false: a device (DMA) or the monitor wrote */
    bool blocked; /* the old bytes were put back */
    uint32_t len; /* bytes written inside the range */
    uint8_t old[INTEG_EVENT_BYTES], new_[INTEG_EVENT_BYTES];
};

struct integ_range_status {
    char name[INTEG_NAME_LEN];
    uint64_t va, len;
    uint64_t writes;   /* reported writes into it */
    uint64_t modified; /* bytes that differ now from the armed contents (kernel patches count
                          as armed contents) */
};

/* What inspect shows (GET /inspect/integrity). */
struct integ_status {
    enum integ_policy policy;
    bool armed;
    char state[256];         /* "watching", or why not (yet) */
    uint64_t arm_us;         /* how long arming stopped the guest */
    uint64_t writes;         /* reported writes, all ranges */
    uint64_t kernel_patches; /* text writes through the kernel's text_poke mapping, accepted */
    uint64_t page_writes;    /* writes to watched pages outside the watched bytes (the cost) */
    uint64_t poking_pgd;     /* guest-physical page directory of the kernel's poking_mm: text
                                writes at CPL 0 through a user-half address with this CR3 are the
                                kernel's own patching (0: not found, the address alone decides) */
    size_t nranges;
    struct integ_range_status ranges[INTEG_MAX_RANGES];
    size_t nevents; /* the latest writes, oldest first */
    struct integ_event events[INTEG_MAX_EVENTS];
};

/* --integrity-watch off|report|block. 0, or -1 with a message. */
int integ_parse_policy(const char *s, char *err, size_t errlen);
enum integ_policy integ_get_policy(void);
const char *integ_policy_name(enum integ_policy p);
/* Which kernel image to read (its vmlinux as insp_default_vmlinux picks it for
 * booted_kernel). Does nothing with the watch off. */
void integ_prepare(const char *booted_kernel);
/* Between slices, on the loop thread: arm once the guest kernel has finished booting (pid 1
 * has exec'd its init program), again after the machine was rebuilt (reboot, restore). Cheap
 * when off or armed. The first call starts a thread that reads the kernel image. */
void integ_poll(struct bus *bus, struct vcpu *v, uint64_t now_ns);
/* The status, with each range's modified bytes counted in RAM now. Loop thread, vCPU
 * stopped; bus is the machine's (NULL: none yet). NULL when out of memory. */
struct integ_status *integ_status_take(struct bus *bus);
/* Forget everything (tests; the next integ_poll starts over). */
void integ_reset(void);
