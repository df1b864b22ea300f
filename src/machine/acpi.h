/* acpi.h — the firmware tables Linux reads at boot: RSDP (v2), RSDT, XSDT, FADT (revision 6,
 * hardware-reduced ACPI), MADT (local APICs, the IOAPIC, IRQ0->GSI2 override, with several CPUs
 * the multiprocessor wakeup mailbox) and a DSDT in AML
 * describing \_SB.PCI0 (windows, _PRT), COM1, the RTC, the i8042, pvpanic, fw_cfg and \_S5.
 *
 * They are written into the reserved BIOS area at ACPI_TABLES_BASE, where the kernel's RSDP scan
 * of 0xE0000-0xFFFFF also finds them; boot_params.acpi_rsdp_addr points straight at the RSDP.
 *
 * Every address, port and interrupt announced comes from the board description
 * (src/machine/board.h), the same numbers pc.c wires the devices with. PCI INTx routing: slot s,
 * pin p (0 = INTA) drives host line PCI_INTX_SWIZZLE(s, p) = (s + p) & 3, and host line L is
 * GSI PC_PCI_GSI + L, level-triggered, active low, as _PRT entries with a GSI. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct aml;

#define ACPI_TABLES_BASE 0xE0000ull
#define ACPI_TABLES_SIZE 0x10000ull /* 0xE0000-0xEFFFF; the e820 map reserves 0xE0000-0xFFFFF */

#define ACPI_OEM_ID       "VESSEL"
#define ACPI_OEM_TABLE_ID "VESSELVM"
#define ACPI_MAX_CPUS     64

struct acpi_config {
    unsigned ncpus; /* processor local APIC entries, APIC ids 0..ncpus-1 */
    /* The ACPI multiprocessor wakeup mailbox's address (a MADT type 0x10 entry), 0: none. */
    uint64_t mp_wake_mailbox;
    uint64_t pci_mmio64_base, pci_mmio64_size; /* 64-bit window; size 0: none */
    bool com1, rtc, pvpanic;                   /* which legacy devices the DSDT describes */
    bool i8042;     /* PS/2 keyboard controller (PNP0303, no AUX); also the FADT 8042 flag */
    bool i8042_aux; /* with i8042: its AUX port's mouse (PNP0F13, IRQ 12) */
    bool fw_cfg;    /* QEMU's fw_cfg device (QEMU0002) on its I/O ports */
};

/* Defaults for the vessel PC: 1 CPU, all legacy devices present. */
void acpi_config_default(struct acpi_config *cfg);

/* Build all tables into ACPI_TABLES_BASE of guest RAM. 0, or -1 (logged) on failure. */
int acpi_build(struct bus *bus, const struct acpi_config *cfg, uint64_t *rsdp_addr);

/* The same into a caller buffer that will live at guest-physical `base` (tests). Returns the
 * bytes used, or 0 if `size` is too small or cfg is invalid. */
size_t acpi_build_tables(uint8_t *mem, size_t size, uint64_t base, const struct acpi_config *cfg,
                         uint64_t *rsdp_addr);
/* The DSDT's AML body (no table header), appended to `a`. */
void acpi_build_dsdt_body(struct aml *a, const struct acpi_config *cfg);
/* Sum of bytes mod 256 (0 for a valid table). */
uint8_t acpi_checksum(const uint8_t *p, size_t len);
