/* acpi_loader.h — the ACPI tables handed to firmware instead of written into RAM: QEMU's
 * "linker/loader" interface (hw/acpi/bios-linker-loader.c in QEMU; romfile_loader.c in
 * SeaBIOS). The tables are built once at base 0, so every pointer in them is an offset into the
 * "etc/acpi/tables" blob; "etc/acpi/rsdp" holds the RSDP; "etc/table-loader" tells the firmware
 * to place the RSDP in the F segment and the tables in high memory, add the address where it
 * put the tables to each pointer, and recompute each checksum. The firmware then finds the
 * RSDP where an operating system looks for it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct acpi_config;
struct fw_cfg;

#define ACPI_LOADER_FILE "etc/table-loader"
#define ACPI_TABLES_FILE "etc/acpi/tables"
#define ACPI_RSDP_FILE   "etc/acpi/rsdp"

/* Build the tables for `cfg` and add the three files to `f`. 0, or -1 with a message. */
int acpi_loader_add(struct fw_cfg *f, const struct acpi_config *cfg, char *err, size_t errlen);

/* The loader script for tables already built at base 0 (`tables`, `len` bytes, RSDP at offset
 * rsdp_off): written into `script` (at most `cap` bytes); returns its length, 0 if it does not
 * fit or a pointer leads outside the tables. For tests. */
size_t acpi_loader_script(const uint8_t *tables, size_t len, uint64_t rsdp_off, uint8_t *script,
                          size_t cap);
