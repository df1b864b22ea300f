/* boot_params.h — direct Linux boot: put the kernel (bzImage or vmlinux ELF), the initramfs and
 * the command line in guest RAM, fill the zero page (struct boot_params) and build the 64-bit
 * entry state — identity page tables for the first 4 GiB, a flat GDT, long mode on, RSI = zero
 * page, RIP = startup_64 — so the vCPU starts directly in the kernel's 64-bit entry point
 * (the 64-bit boot protocol of Documentation/arch/x86/boot.rst).
 *
 * Low-memory layout (all below 1 MiB, RAM in the e820 map; the kernel copies what it needs):
 *   0x00500 GDT   0x07000 zero page   0x08ff0 initial stack   0x09000.. page tables
 *   0x20000 command line   0xE0000 ACPI tables (reserved)
 * The kernel goes to its ELF physical addresses (16 MiB for Debian's); the initrd as high as
 * allowed below min(initrd_addr_max, low RAM end), page aligned. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vessel/cpu.h"

struct bus;
struct e820_map;

#define BOOT_GDT_ADDR       0x500ull
#define BOOT_ZERO_PAGE_ADDR 0x7000ull
#define BOOT_STACK_TOP      0x8ff0ull
#define BOOT_PML4_ADDR      0x9000ull /* then the PDPT and four page directories */
#define BOOT_PGTABLE_END    0xF000ull
#define BOOT_CMDLINE_ADDR   0x20000ull
#define BOOT_CMDLINE_MAX    0x10000ull  /* bytes reserved for the command line, NUL included */
#define BOOT_KERNEL_MIN     0x100000ull /* no kernel segment below 1 MiB */

#define BOOT_SEL_CODE64 0x10
#define BOOT_SEL_DATA   0x18

/* A linear framebuffer for boot_params.screen_info (32-bit XRGB8888), its RAM reserved in the
 * e820 map and kept clear of the initrd. */
struct boot_screen {
    uint64_t base, size; /* guest-physical, bytes (page aligned) */
    unsigned width, height, stride;
    uint64_t addr; /* where the kernel finds the pixels if not at base (a PCI display's BAR
                    * showing that RAM), 0: at base */
};

struct linux_boot_config {
    const char *kernel_path; /* bzImage or vmlinux ELF */
    const char *initrd_path; /* NULL: none */
    const char *cmdline;     /* NULL: empty */
    uint64_t rsdp_addr;      /* boot_params.acpi_rsdp_addr; 0: the kernel scans the BIOS area */
    const struct boot_screen *screen; /* NULL: no framebuffer */
};

/* In-memory form, for tests and for callers that already hold the files. */
struct linux_boot_images {
    const uint8_t *kernel;
    size_t kernel_len;
    const uint8_t *initrd; /* NULL: none */
    size_t initrd_len;
    const char *cmdline;
    uint64_t rsdp_addr;
    const struct boot_screen *screen;
};

struct linux_boot_state {
    struct vcpu_regs regs;             /* apply with vcpu_set_regs */
    struct vcpu_sregs sregs;           /* apply with vcpu_set_sregs */
    uint64_t kernel_lo, kernel_hi;     /* physical extent of the loaded kernel */
    uint64_t initrd_addr, initrd_size; /* 0, 0 without an initrd */
};

/* Read the files, then linux_boot_load_images. 0, or -1 with a message in err (the board
 * prints it and exits 2). */
int linux_boot_load(struct bus *bus, const struct linux_boot_config *cfg,
                    struct linux_boot_state *out, char *err, size_t errlen);
int linux_boot_load_images(struct bus *bus, const struct linux_boot_images *img,
                           struct linux_boot_state *out, char *err, size_t errlen);

/* Pieces, exposed for tests. */
/* Write the GDT and page tables to RAM and fill regs/sregs for entry at `entry` with RSI =
 * `zero_page`. 0, or -1 if low RAM can't hold them. */
int boot_setup_entry(struct bus *bus, uint64_t entry, uint64_t zero_page,
                     struct linux_boot_state *out);
/* Describe a framebuffer in a zero page's screen_info, as an EFI GOP framebuffer. */
void boot_params_set_screen(uint8_t *zero_page, const struct boot_screen *s);
/* Copy an e820 map into a zero page (4096 bytes). */
void boot_params_set_e820(uint8_t *zero_page, const struct e820_map *m);
