/* acpi.c — builds the ACPI tables of acpi.h into a buffer that the guest sees at
 * ACPI_TABLES_BASE. Linux 6.1 (drivers/acpi/acpica, arch/x86/kernel/acpi/boot.c) is the reader
 * we write for: a hardware-reduced FADT (no SCI, no PM1/GPE blocks, no FACS, no 8259: the kernel
 * then leaves the legacy PIC alone), sleep and reset through the acpi_pm ports, and a DSDT that
 * describes only what the board really has, at the places board.h gives. Field offsets follow
 * ACPI 6.x chapter 5. */
#include "machine/acpi.h"

#include <string.h>

#include "machine/aml.h"
#include "machine/board.h"
#include "vessel/bus.h"
#include "vessel/log.h"

#define ACPI_HDR_LEN  36
#define ACPI_FADT_LEN 276 /* revision 6.0 */
#define ACPI_RSDP_LEN 36

/* FADT flags and IA-PC boot architecture flags used here. */
#define FADT_F_WBINVD        (1u << 0)
#define FADT_F_PWR_BUTTON    (1u << 4)
#define FADT_F_SLP_BUTTON    (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED    (1u << 20)
#define FADT_BOOT_8042       (1u << 1)
#define FADT_BOOT_NO_VGA     (1u << 2)

void acpi_config_default(struct acpi_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ncpus = 1;
    cfg->com1 = cfg->rtc = cfg->pvpanic = cfg->i8042 = true;
}

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t k = 0; k < len; k++)
        s = (uint8_t)(s + p[k]);
    return s;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* Common table header; length and checksum are filled by finish_table. */
static void put_header(uint8_t *t, const char *sig, uint8_t revision)
{
    memcpy(t, sig, 4);
    t[8] = revision;
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
    put_le(t + 24, 1, 4);
    memcpy(t + 28, "VSSL", 4);
    put_le(t + 32, 1, 4);
}

static void finish_table(uint8_t *t, size_t len)
{
    put_le(t + 4, len, 4);
    t[9] = 0;
    t[9] = (uint8_t)(0 - acpi_checksum(t, len));
}

/* Generic Address Structure: one byte-wide register in system I/O space. */
static void put_gas_io8(uint8_t *p, uint16_t port)
{
    p[0] = 1; /* SystemIO */
    p[1] = 8; /* bit width */
    p[2] = 0; /* bit offset */
    p[3] = 1; /* byte access */
    put_le(p + 4, port, 8);
}

static void dsdt_pci(struct aml *a, const struct acpi_config *cfg)
{
    aml_device_begin(a, "PCI0");
    /* Conventional PCI root (PNP0A03): our functions are plain PCI, and without an MCFG a
     * PNP0A08 root would only make the kernel try _OSC for PCIe features that aren't there. */
    aml_name_eisaid(a, "_HID", "PNP0A03");
    aml_name_integer(a, "_SEG", 0);
    aml_name_integer(a, "_BBN", 0);
    aml_name_integer(a, "_UID", 0);

    aml_name(a, "_CRS");
    aml_restemplate_begin(a);
    aml_res_word_bus(a, 0, 0xFF);
    aml_res_io(a, PC_PCI_CONFIG_PORT, PC_PCI_CONFIG_PORT, 1, 8);
    aml_res_dword_io(a, 0x0000, 0x0CF7);
    aml_res_dword_io(a, 0x0D00, 0xFFFF);
    aml_res_dword_memory(a, 0x000A0000, 0x000BFFFF, false); /* legacy VGA hole */
    aml_res_dword_memory(a, (uint32_t)PC_PCI_MMIO_BASE, (uint32_t)PC_PCI_MMIO_END, false);
    if (cfg->pci_mmio64_size)
        aml_res_qword_memory(a, cfg->pci_mmio64_base,
                             cfg->pci_mmio64_base + cfg->pci_mmio64_size - 1, false);
    aml_end(a);

    /* _PRT: every slot's INTA-D, swizzled onto the four host lines, each a GSI. */
    aml_name(a, "_PRT");
    aml_package_begin(a, PCI_MAX_SLOTS * 4);
    for (unsigned slot = 0; slot < PCI_MAX_SLOTS; slot++)
        for (unsigned pin = 0; pin < 4; pin++) {
            aml_package_begin(a, 4);
            aml_integer(a, ((uint64_t)slot << 16) | 0xFFFF);
            aml_integer(a, pin);
            aml_integer(a, 0); /* no link device: the last element is a GSI */
            aml_integer(a, PC_PCI_GSI + PCI_INTX_SWIZZLE(slot, pin));
            aml_end(a);
        }
    aml_end(a);
    aml_end(a);
}

void acpi_build_dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
    aml_scope_begin(a, "\\_SB");
    dsdt_pci(a, cfg);

    if (cfg->com1) {
        aml_device_begin(a, "COM1");
        aml_name_eisaid(a, "_HID", "PNP0501");
        aml_name_integer(a, "_UID", 1);
        aml_name(a, "_CRS");
        aml_restemplate_begin(a);
        aml_res_io(a, PC_COM1_PORT, PC_COM1_PORT, 1, PC_COM1_NPORT);
        aml_res_irq_noflags(a, 1u << PC_COM1_IRQ);
        aml_end(a);
        aml_end(a);
    }
    if (cfg->rtc) {
        aml_device_begin(a, "RTC");
        aml_name_eisaid(a, "_HID", "PNP0B00");
        aml_name(a, "_CRS");
        aml_restemplate_begin(a);
        aml_res_io(a, PC_RTC_PORT, PC_RTC_PORT, 1, PC_RTC_NPORT);
        aml_res_irq_noflags(a, 1u << PC_RTC_IRQ);
        aml_end(a);
        aml_end(a);
    }
    if (cfg->i8042) {
        /* Keyboard only: without a PNP0F13 mouse device Linux leaves the AUX port alone. */
        aml_device_begin(a, "KBD");
        aml_name_eisaid(a, "_HID", "PNP0303");
        aml_name(a, "_CRS");
        aml_restemplate_begin(a);
        aml_res_io(a, PC_KBD_DATA_PORT, PC_KBD_DATA_PORT, 1, 1);
        aml_res_io(a, PC_KBD_STATUS_PORT, PC_KBD_STATUS_PORT, 1, 1);
        aml_res_irq_noflags(a, 1u << PC_KBD_IRQ);
        aml_end(a);
        aml_end(a);
        if (cfg->i8042_aux) {
            aml_device_begin(a, "MOU");
            aml_name_eisaid(a, "_HID", "PNP0F13");
            aml_name(a, "_CRS");
            aml_restemplate_begin(a);
            aml_res_irq_noflags(a, 1u << PC_AUX_IRQ);
            aml_end(a);
            aml_end(a);
        }
    }
    if (cfg->fw_cfg) {
        /* Linux's qemu_fw_cfg driver binds to this; the ports include the DMA register. */
        aml_device_begin(a, "FWCF");
        aml_name_string(a, "_HID", "QEMU0002");
        aml_name_integer(a, "_STA", 0x0B);
        aml_name(a, "_CRS");
        aml_restemplate_begin(a);
        aml_res_io(a, PC_FW_CFG_PORT, PC_FW_CFG_PORT, 1, PC_FW_CFG_NPORT);
        aml_end(a);
        aml_end(a);
    }
    if (cfg->pvpanic) {
        aml_device_begin(a, "PEVT");
        aml_name_string(a, "_HID", "QEMU0001");
        aml_name(a, "_CRS");
        aml_restemplate_begin(a);
        aml_res_io(a, PC_PVPANIC_PORT, PC_PVPANIC_PORT, 1, 1);
        aml_end(a);
        aml_method_begin(a, "_STA", 0, false);
        aml_return(a);
        aml_integer(a, 0x0F);
        aml_end(a);
        aml_end(a);
    }
    aml_end(a);

    /* \_S5: SLP_TYPa/b as the acpi_pm sleep control register expects them. */
    aml_name(a, "\\_S5");
    aml_package_begin(a, 4);
    aml_integer(a, ACPI_PM_SLP_TYP_S5);
    aml_integer(a, 0);
    aml_integer(a, 0);
    aml_integer(a, 0);
    aml_end(a);
}

/* Bump allocator over the output buffer, 16-byte aligned (the RSDP scan needs that). */
struct acpi_out {
    uint8_t *mem;
    size_t size, used;
    uint64_t base;
};

static uint8_t *acpi_alloc(struct acpi_out *o, size_t len, uint64_t *gpa)
{
    size_t at = (o->used + 15) & ~(size_t)15;
    if (at > o->size || len > o->size - at) return NULL;
    o->used = at + len;
    *gpa = o->base + at;
    memset(o->mem + at, 0, len);
    return o->mem + at;
}

static uint8_t *build_dsdt(struct acpi_out *o, const struct acpi_config *cfg, uint64_t *gpa)
{
    struct aml a;
    aml_init(&a);
    acpi_build_dsdt_body(&a, cfg);
    uint8_t *t = NULL;
    if (!a.error && a.depth == 0) t = acpi_alloc(o, ACPI_HDR_LEN + a.len, gpa);
    if (t) {
        put_header(t, "DSDT", 2); /* revision 2: 64-bit integers */
        memcpy(t + ACPI_HDR_LEN, a.buf, a.len);
        finish_table(t, ACPI_HDR_LEN + a.len);
    }
    aml_free(&a);
    return t;
}

static uint8_t *build_fadt(struct acpi_out *o, const struct acpi_config *cfg, uint64_t dsdt,
                           uint64_t *gpa)
{
    uint8_t *t = acpi_alloc(o, ACPI_FADT_LEN, gpa);
    if (!t) return NULL;
    put_header(t, "FACP", 6);
    put_le(t + 40, dsdt, 4); /* DSDT */
    t[108] = 0x32;           /* CENTURY: the RTC's century register */
    /* IAPC_BOOT_ARCH: no legacy (ISA PnP) devices, no VGA; the 8042 when there is one, or
     * Linux would not probe it. */
    put_le(t + 109, FADT_BOOT_NO_VGA | (cfg->i8042 ? FADT_BOOT_8042 : 0), 2);
    put_le(t + 112,
           FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
               FADT_F_HW_REDUCED,
           4);
    put_gas_io8(t + 116, PC_PM_PORT + ACPI_PM_RESET);
    t[128] = ACPI_PM_RESET_VALUE;
    t[131] = 0;               /* FADT minor version: 6.0 */
    put_le(t + 140, dsdt, 8); /* X_DSDT */
    put_gas_io8(t + 244, PC_PM_PORT + ACPI_PM_SLEEP_CTL);
    put_gas_io8(t + 256, PC_PM_PORT + ACPI_PM_SLEEP_STS);
    memcpy(t + 268, "VESSEL\0\0", 8); /* hypervisor vendor identity */
    finish_table(t, ACPI_FADT_LEN);
    return t;
}

static uint8_t *build_madt(struct acpi_out *o, const struct acpi_config *cfg, uint64_t *gpa)
{
    size_t len = ACPI_HDR_LEN + 8 + 8 * cfg->ncpus + 12 + 10 + 6 + (cfg->mp_wake_mailbox ? 16 : 0);
    uint8_t *t = acpi_alloc(o, len, gpa);
    if (!t) return NULL;
    put_header(t, "APIC", 5);
    put_le(t + 36, PC_LAPIC_BASE, 4);
    put_le(t + 40, 0, 4); /* flags: no PCAT_COMPAT, there is no 8259 */
    uint8_t *p = t + 44;
    for (unsigned k = 0; k < cfg->ncpus; k++, p += 8) {
        p[0] = 0; /* Processor Local APIC */
        p[1] = 8;
        p[2] = (uint8_t)k;   /* ACPI processor UID */
        p[3] = (uint8_t)k;   /* APIC id */
        put_le(p + 4, 1, 4); /* enabled */
    }
    p[0] = 1; /* I/O APIC */
    p[1] = 12;
    p[2] = PC_IOAPIC_ID;
    put_le(p + 4, PC_IOAPIC_BASE, 4);
    put_le(p + 8, 0, 4); /* GSI base */
    p += 12;
    p[0] = 2; /* Interrupt Source Override: the PIT's ISA IRQ to its GSI */
    p[1] = 10;
    p[2] = 0; /* ISA */
    p[3] = PC_PIT_IRQ;
    put_le(p + 4, PC_PIT_GSI, 4);
    put_le(p + 8, 0, 2); /* conforms to the bus: edge, active high */
    p += 10;
    p[0] = 4; /* Local APIC NMI: all processors, LINT1 */
    p[1] = 6;
    p[2] = 0xFF;
    put_le(p + 3, 0, 2);
    p[5] = 1;
    p += 6;
    if (cfg->mp_wake_mailbox) {
        p[0] = 0x10; /* Multiprocessor Wakeup (ACPI 6.4, 5.2.12.19) */
        p[1] = 16;
        put_le(p + 2, 0, 2); /* mailbox version 0 */
        put_le(p + 4, 0, 4);
        put_le(p + 8, cfg->mp_wake_mailbox, 8);
    }
    finish_table(t, len);
    return t;
}

size_t acpi_build_tables(uint8_t *mem, size_t size, uint64_t base, const struct acpi_config *cfg,
                         uint64_t *rsdp_addr)
{
    if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS || base + size > 0x100000000ull) return 0;
    struct acpi_out o = {mem, size, 0, base};
    uint64_t rsdp_gpa = 0, rsdt_gpa = 0, xsdt_gpa = 0, fadt_gpa = 0, madt_gpa = 0, dsdt_gpa = 0;
    uint8_t *rsdp = acpi_alloc(&o, ACPI_RSDP_LEN, &rsdp_gpa);
    uint8_t *rsdt = acpi_alloc(&o, ACPI_HDR_LEN + 2 * 4, &rsdt_gpa);
    uint8_t *xsdt = acpi_alloc(&o, ACPI_HDR_LEN + 2 * 8, &xsdt_gpa);
    if (!rsdp || !rsdt || !xsdt) return 0;
    if (!build_dsdt(&o, cfg, &dsdt_gpa) || !build_fadt(&o, cfg, dsdt_gpa, &fadt_gpa) ||
        !build_madt(&o, cfg, &madt_gpa))
        return 0;

    put_header(rsdt, "RSDT", 1);
    put_le(rsdt + 36, fadt_gpa, 4);
    put_le(rsdt + 40, madt_gpa, 4);
    finish_table(rsdt, ACPI_HDR_LEN + 8);
    put_header(xsdt, "XSDT", 1);
    put_le(xsdt + 36, fadt_gpa, 8);
    put_le(xsdt + 44, madt_gpa, 8);
    finish_table(xsdt, ACPI_HDR_LEN + 16);

    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, ACPI_OEM_ID, 6);
    rsdp[15] = 2; /* ACPI 2.0+ */
    put_le(rsdp + 16, rsdt_gpa, 4);
    put_le(rsdp + 20, ACPI_RSDP_LEN, 4);
    put_le(rsdp + 24, xsdt_gpa, 8);
    rsdp[8] = (uint8_t)(0 - acpi_checksum(rsdp, 20));
    rsdp[32] = (uint8_t)(0 - acpi_checksum(rsdp, ACPI_RSDP_LEN));
    *rsdp_addr = rsdp_gpa;
    return o.used;
}

int acpi_build(struct bus *bus, const struct acpi_config *cfg, uint64_t *rsdp_addr)
{
    uint8_t *mem = bus_ram_ptr(bus, ACPI_TABLES_BASE, ACPI_TABLES_SIZE);
    if (!mem) {
        log_error("acpi: RAM does not cover the table area at %#llx",
                  (unsigned long long)ACPI_TABLES_BASE);
        return -1;
    }
    size_t used = acpi_build_tables(mem, ACPI_TABLES_SIZE, ACPI_TABLES_BASE, cfg, rsdp_addr);
    if (!used) {
        log_error("acpi: cannot build the tables (bad configuration or too large)");
        return -1;
    }
    bus_note_write(bus, ACPI_TABLES_BASE, used);
    return 0;
}
