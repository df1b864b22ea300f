/* clock.h — the host monotonic clock every guest time source (TSC, APIC timer, PIT, kvmclock)
 * is derived from, so that all of them agree with each other and with the host. */
#pragma once
#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Realtime (wall clock) nanoseconds since the epoch, for the RTC and kvmclock wall time. */
static inline uint64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
