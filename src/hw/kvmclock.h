/* kvmclock.h — the KVM paravirtual clock: the guest hands over guest-physical addresses through
 * MSRs and we publish there how to turn its TSC into nanoseconds since boot (struct
 * pvclock_vcpu_time_info, TSC-stable) and the wall-clock time of boot (struct
 * pvclock_wall_clock). Both the new (0x4b564d0x) and legacy (0x11/0x12) MSR numbers work.
 * The TSC-to-ns relation is linear and exact when the guest TSC is derived from the same host
 * clock, so the structure is written once per MSR write (and again after a state load). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct bus;
struct state_writer;
struct state_reader;

#define MSR_KVM_WALL_CLOCK      0x11
#define MSR_KVM_SYSTEM_TIME     0x12
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define PVCLOCK_TSC_STABLE_BIT  0x01
#define PVCLOCK_GUEST_STOPPED   0x02 /* set by the host, cleared by the guest */

/* The layouts the guest reads (little-endian, as in Linux's asm/pvclock-abi.h; naturally
 * aligned, so no packing is needed). */
struct pvclock_vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};
_Static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock ABI");

struct pvclock_wall_clock {
    uint32_t version;
    uint32_t sec;
    uint32_t nsec;
};
_Static_assert(sizeof(struct pvclock_wall_clock) == 12, "pvclock ABI");

struct kvmclock_config {
    uint64_t (*read_tsc)(void *opaque); /* the guest TSC now */
    void *tsc_opaque;
    uint64_t tsc_hz;
    uint64_t (*now)(void);  /* host monotonic ns; NULL: clock_ns */
    uint64_t (*wall)(void); /* host realtime ns; NULL: clock_wall_ns */
};

struct kvmclock;

/* The guest's boot (system_time 0) is the moment of creation. */
struct kvmclock *kvmclock_create(struct bus *bus, const struct kvmclock_config *cfg);
void kvmclock_destroy(struct kvmclock *k);
/* With several CPUs each has its own kvmclock; they must agree on the moment of boot (the
 * guest compares their readings across CPUs): take `from`'s and publish again. */
void kvmclock_sync_boot(struct kvmclock *k, struct kvmclock *from);
/* The kvmclock MSRs; false for others. Addresses outside RAM are accepted and ignored. */
bool kvmclock_msr_read(struct kvmclock *k, uint32_t msr, uint64_t *value);
bool kvmclock_msr_write(struct kvmclock *k, uint32_t msr, uint64_t value);
/* The VM was paused and runs again: publish the structure once more with GUEST_STOPPED, which
 * the guest's soft-lockup and RCU-stall watchdogs take (and clear) as "the host stopped me",
 * rather than reporting the paused time as a hung CPU. */
void kvmclock_guest_stopped(struct kvmclock *k);
/* The multiplier and shift for a TSC of tsc_hz (exposed for tests and the CPUID leaf). */
void kvmclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);

/* Section "kvmclock". Load re-publishes the structure: load guest RAM and the vCPU (its TSC)
 * first. */
void kvmclock_save(struct kvmclock *k, struct state_writer *w);
int kvmclock_load(struct kvmclock *k, struct state_reader *r);
