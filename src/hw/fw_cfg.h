/* fw_cfg.h — QEMU's firmware configuration device (docs/specs/fw_cfg in QEMU; Linux's
 * drivers/firmware/qemu_fw_cfg.c; SeaBIOS's fw/paravirt.c): named blobs the host hands to the
 * guest's firmware and kernel. On a PC it is three I/O registers: a 16-bit selector at
 * FW_CFG_PORT, a byte-wide data port at +1 reading the selected item from an offset, and at +4
 * the 64-bit big-endian address of a DMA descriptor (writing the low half at +8 starts the
 * transfer; reading the eight ports gives the signature "QEMU CFG"). ACPI names it QEMU0002.
 *
 * Items are a few well-known keys (signature, interface id, the file directory, RAM size, CPU
 * counts) and files from FW_CFG_FILE_FIRST up, listed by name in the directory. Everything a
 * guest supplies (selector, offsets, DMA descriptor and buffer addresses, lengths) is checked;
 * an access outside guest RAM fails the DMA with its error bit, never the monitor. Items are
 * read-only: a write through DMA is an error, data-port writes are ignored. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct state_writer;
struct state_reader;

#define FW_CFG_PORT  0x510
#define FW_CFG_NPORT 12 /* selector 2, data 1 (+1 unused), DMA address 8 */

/* Well-known keys. */
#define FW_CFG_SIGNATURE  0x00
#define FW_CFG_ID         0x01
#define FW_CFG_RAM_SIZE   0x03
#define FW_CFG_NB_CPUS    0x05
#define FW_CFG_MAX_CPUS   0x0f
#define FW_CFG_FILE_DIR   0x19
#define FW_CFG_FILE_FIRST 0x20

#define FW_CFG_MAX_FILES      64
#define FW_CFG_NAME_MAX       55 /* the directory's 56-byte name field holds a NUL */
#define FW_CFG_MAX_ITEM       (64u << 20)
#define FW_CFG_ID_TRADITIONAL 1u
#define FW_CFG_ID_DMA         2u

struct fw_cfg;

/* The device with its well-known items (RAM size, CPU counts) on `port`; NULL on failure. */
struct fw_cfg *fw_cfg_create(struct bus *bus, uint16_t port, uint64_t ram_size, unsigned ncpus);
void fw_cfg_destroy(struct fw_cfg *f);
/* Add a file (copied). 0, or -1 with a message: a bad or duplicate name, too many files, an
 * item above FW_CFG_MAX_ITEM. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len, char *err,
                    size_t errlen);
/* How many files there are (for tests and the board). */
unsigned fw_cfg_file_count(const struct fw_cfg *f);
/* Back to the power-on selector (none), offset and DMA address. */
void fw_cfg_reset(struct fw_cfg *f);

/* Section "fw_cfg": selector, offset, DMA address (the items are configuration). */
void fw_cfg_save(const struct fw_cfg *f, struct state_writer *w);
int fw_cfg_load(struct fw_cfg *f, struct state_reader *r);
