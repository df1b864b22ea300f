/* pvpanic.h — QEMU's ISA pvpanic device (one port, 0x505, ACPI id QEMU0001): a guest kernel
 * writes an event bit there from its panic notifier, so the monitor learns of a panic even when
 * the kernel reboots right after it (panic=-1). Reading the port returns the supported events. */
#pragma once
#include <stdint.h>

struct bus;
struct state_writer;
struct state_reader;

#define PVPANIC_PORT         0x505
#define PVPANIC_PANICKED     0x1 /* the guest panicked */
#define PVPANIC_CRASH_LOADED 0x2 /* the guest panicked and is starting a crash kernel */
#define PVPANIC_EVENTS       (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

struct pvpanic_config {
    /* Called for each write with a supported event bit set (events & PVPANIC_EVENTS). */
    void (*event)(void *opaque, unsigned events);
    void *opaque;
};

struct pvpanic;

/* Registers the port; NULL on failure. */
struct pvpanic *pvpanic_create(struct bus *bus, uint16_t port, const struct pvpanic_config *cfg);
void pvpanic_destroy(struct pvpanic *p);
/* Events the guest reported since creation or the last reset (sticky). */
unsigned pvpanic_events(const struct pvpanic *p);
void pvpanic_reset(struct pvpanic *p);

/* Section "pvpanic": the sticky events. */
void pvpanic_save(const struct pvpanic *p, struct state_writer *w);
int pvpanic_load(struct pvpanic *p, struct state_reader *r);
