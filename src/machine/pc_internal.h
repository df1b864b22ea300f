/* pc_internal.h — the board as pc.c builds it and pc_state.c saves it: a few typed pointers for
 * the devices the board itself talks to (interrupt routing, MSRs, console input, the PCI bus the
 * virtio functions plug into), and the device list every whole-machine operation walks. Adding
 * a device means one entry in pc.c's creation code; destroy, timers, save and load follow from
 * its hooks. Only src/machine/ (and the board's unit test) include this. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/acpi_pm.h"
#include "machine/pc.h"
#include "vessel/bus.h"

struct state_reader;

/* What the board can do with a device; any hook may be NULL. */
struct pc_device_ops {
    void (*destroy)(void *obj);
    /* Its state section(s); `name` is the list entry's name (the section name of devices that
     * can exist more than once). */
    void (*save)(void *obj, struct state_writer *w, const char *name);
    int (*load)(void *obj, struct state_reader *r, const char *name);
    /* Fire what is due at host time now_ns; the next deadline (UINT64_MAX: none). */
    uint64_t (*timer)(void *obj, uint64_t now_ns);
    /* The VM stops or runs again (pc_set_running): devices with threads stop touching guest
     * memory. */
    void (*run_state)(void *obj, bool running);
};

struct pc_device {
    char name[24];
    void *obj;
    const struct pc_device_ops *ops;
};

/* vcpu, kvmclock, lapic, ioapic, com1, pit, rtc, i8042, pvpanic, acpi_pm, pci-host, then per
 * virtio device up to two entries (back-end and front-end). */
#define PC_MAX_DEVICES (32 + 3 * PC_MAX_CPUS)

/* Optional devices, as recorded in the board section (must match on load). */
#define PC_HAS_RNG     1u
#define PC_HAS_NET     2u
#define PC_HAS_HVC     4u
#define PC_HAS_BALLOON 8u
#define PC_HAS_TABLET  16u /* the display's virtio-input tablet */
#define PC_HAS_BOCHS   32u /* the display is the PCI bochs-display */
#define PC_HAS_FWCFG   64u /* the fw_cfg device (--fw-cfg items) */

/* One CPU: its engine, LAPIC and kvmclock (the MSRs each vCPU reaches go to its own). */
struct pc_cpu {
    struct pc *pc;
    unsigned index;
    struct vcpu *vcpu;
    struct lapic *lapic;
    struct kvmclock *kvmclock;
    bool stopped_reported;
};

/* The ACPI multiprocessor wakeup mailbox (pc.c): a 4 KiB MMIO page that reads back what was
 * written; a wakeup command is carried out as it is written. */
struct pc_mpwake {
    struct pc *pc;
    pthread_mutex_t lock;
    uint8_t page[4096];
};

struct pc {
    struct bus bus;
    struct pc_events events;
    struct vcpu *vcpu; /* CPU 0's, as cpu[0] */
    struct kvmclock *kvmclock;
    struct lapic *lapic;
    struct pc_cpu cpu[PC_MAX_CPUS];
    unsigned ncpus;
    struct apic_bus *apic_bus; /* NULL with one CPU */
    struct pc_mpwake *mpwake;  /* NULL with one CPU */
    struct ioapic *ioapic;
    struct i8259 *pic; /* firmware boot only: the ISA lines go to it and to the IOAPIC */
    struct uart8250 *com1;
    struct pci_host *pci;
    struct virtio_console *hvc;
    struct virtio_balloon *balloon;
    struct share *share;   /* page sharing, or NULL */
    struct fw_cfg *fw_cfg; /* with --fw-cfg items or firmware, else NULL */
    struct acpi_pm pm;
    uint32_t optional; /* PC_HAS_* */
    unsigned ndisks;
    uint64_t rsdp_addr;
    /* In creation order; saved and loaded in this order, destroyed in reverse. */
    struct pc_device dev[PC_MAX_DEVICES];
    unsigned ndev;
};

/* A device whose save/load take only (object, stream) and whose destroy takes the object. */
#define PC_PLAIN_OPS(prefix, timer)                                                                \
    static void pc_##prefix##_destroy(void *o)                                                     \
    {                                                                                              \
        prefix##_destroy(o);                                                                       \
    }                                                                                              \
    static void pc_##prefix##_save(void *o, struct state_writer *w, const char *name)              \
    {                                                                                              \
        (void)name;                                                                                \
        prefix##_save(o, w);                                                                       \
    }                                                                                              \
    static int pc_##prefix##_load(void *o, struct state_reader *r, const char *name)               \
    {                                                                                              \
        (void)name;                                                                                \
        return prefix##_load(o, r);                                                                \
    }                                                                                              \
    static const struct pc_device_ops pc_##prefix##_ops = {                                        \
        pc_##prefix##_destroy, pc_##prefix##_save, pc_##prefix##_load, timer, NULL}

/* Append a device to the board's list, or say why it could not be created (obj NULL, the list
 * full: the object is destroyed). 0 or -1. */
int pc_add(struct pc *pc, const char *name, void *obj, const struct pc_device_ops *ops, char *err,
           size_t errlen);
/* The fw_cfg device with cfg's --fw-cfg items, when there are any (pc_fwcfg.c). 0, or -1 with
 * a message (*usage set when it is the operator's input). */
int pc_create_fw_cfg(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen,
                     int *usage);
/* Firmware boot (pc_bios.c): the image's size as the board reserves it (0: no usable --bios),
 * and placing it (RAM offset rom_off onwards), its fw_cfg files, the vCPU's reset state. */
uint64_t pc_bios_rom_size(const struct pc_config *cfg);
int pc_bios_setup(struct pc *pc, const struct pc_config *cfg, uint64_t rom_off, char *err,
                  size_t errlen, int *usage);
