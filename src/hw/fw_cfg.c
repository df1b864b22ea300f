/* fw_cfg.c — the firmware configuration device of fw_cfg.h. */
#include "hw/fw_cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define FW_CFG_STATE_VERSION 1
#define FW_CFG_INVALID       0xffff
#define FW_CFG_KEY_MASK      0x3fff /* without the write (0x4000) and arch-local (0x8000) bits */
#define FW_CFG_ARCH_LOCAL    0x8000
#define FW_CFG_WELL_KNOWN    FW_CFG_FILE_FIRST
#define FW_CFG_DMA_CHUNK     65536

/* DMA descriptor control bits. */
#define DMA_ERROR  0x01u
#define DMA_READ   0x02u
#define DMA_SKIP   0x04u
#define DMA_SELECT 0x08u
#define DMA_WRITE  0x10u

struct fw_cfg_item {
    uint8_t *data;
    uint32_t len;
};

/* What the guest can change: saved and restored. */
struct fw_cfg_regs {
    uint16_t key; /* FW_CFG_INVALID: nothing selected */
    uint32_t offset;
    uint64_t dma_addr;
};

struct fw_cfg {
    struct bus *bus;
    struct fw_cfg_regs regs;
    struct fw_cfg_item well_known[FW_CFG_WELL_KNOWN];
    struct fw_cfg_item files[FW_CFG_MAX_FILES];
    char names[FW_CFG_MAX_FILES][FW_CFG_NAME_MAX + 1];
    unsigned nfiles;
    uint8_t dma_buf[FW_CFG_DMA_CHUNK];
};

/* The arch-local keys (0x8000 up: QEMU's legacy ACPI tables, SMBIOS, e820 and IRQ0 override
 * for x86) are a namespace of their own, which vessel leaves empty: they read as zeroes. Folding
 * them onto the well-known keys would hand SeaBIOS the signature "QE" as the count of legacy
 * ACPI tables at 0x8000, and it would allocate a romfile for each of 17745 of them. */
static const struct fw_cfg_item *fw_cfg_item(const struct fw_cfg *f, uint16_t key)
{
    if (key & FW_CFG_ARCH_LOCAL) return NULL;
    key &= FW_CFG_KEY_MASK;
    if (key < FW_CFG_WELL_KNOWN) return f->well_known[key].data ? &f->well_known[key] : NULL;
    if (key - FW_CFG_FILE_FIRST < (int)f->nfiles) return &f->files[key - FW_CFG_FILE_FIRST];
    return NULL;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}
static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}

static int fw_cfg_set(struct fw_cfg_item *it, const void *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, data, len);
    free(it->data);
    it->data = copy;
    it->len = (uint32_t)len;
    return 0;
}

/* The directory: a be32 count, then per file be32 size, be16 key, be16 reserved, name[56]; in
 * name order, as QEMU lists them (the keys stay in the order files were added). */
static int fw_cfg_build_dir(struct fw_cfg *f)
{
    unsigned order[FW_CFG_MAX_FILES];
    for (unsigned k = 0; k < f->nfiles; k++) {
        unsigned j = k;
        while (j && strcmp(f->names[order[j - 1]], f->names[k]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    size_t len = 4 + (size_t)f->nfiles * 64;
    uint8_t *dir = calloc(1, len);
    if (!dir) return -1;
    put_be32(dir, f->nfiles);
    for (unsigned k = 0; k < f->nfiles; k++) {
        uint8_t *e = dir + 4 + (size_t)k * 64;
        unsigned i = order[k];
        put_be32(e, f->files[i].len);
        put_be16(e + 4, (uint16_t)(FW_CFG_FILE_FIRST + i));
        memcpy(e + 8, f->names[i], strlen(f->names[i]));
    }
    int rc = fw_cfg_set(&f->well_known[FW_CFG_FILE_DIR], dir, len);
    free(dir);
    return rc;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len, char *err,
                    size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > FW_CFG_NAME_MAX) {
        snprintf(err, errlen, "fw_cfg: name '%s' must have 1 to %d characters", name,
                 FW_CFG_NAME_MAX);
        return -1;
    }
    for (unsigned k = 0; k < f->nfiles; k++)
        if (!strcmp(f->names[k], name)) {
            snprintf(err, errlen, "fw_cfg: '%s' is given twice", name);
            return -1;
        }
    if (f->nfiles == FW_CFG_MAX_FILES) {
        snprintf(err, errlen, "fw_cfg: more than %d files", FW_CFG_MAX_FILES);
        return -1;
    }
    if (len > FW_CFG_MAX_ITEM) {
        snprintf(err, errlen, "fw_cfg: '%s' is larger than %u MiB", name, FW_CFG_MAX_ITEM >> 20);
        return -1;
    }
    if (fw_cfg_set(&f->files[f->nfiles], data, len) < 0) {
        snprintf(err, errlen, "fw_cfg: out of memory");
        return -1;
    }
    memcpy(f->names[f->nfiles], name, n + 1);
    f->nfiles++;
    if (fw_cfg_build_dir(f) < 0) {
        snprintf(err, errlen, "fw_cfg: out of memory");
        return -1;
    }
    return 0;
}

unsigned fw_cfg_file_count(const struct fw_cfg *f)
{
    return f->nfiles;
}

static uint8_t fw_cfg_read_byte(struct fw_cfg *f)
{
    const struct fw_cfg_item *it = fw_cfg_item(f, f->regs.key);
    if (f->regs.key == FW_CFG_INVALID || !it || f->regs.offset >= it->len) return 0;
    return it->data[f->regs.offset++];
}

/* Run the descriptor at regs.dma_addr and write its control word back (0, or the error bit). */
static void fw_cfg_dma(struct fw_cfg *f)
{
    uint64_t desc = f->regs.dma_addr;
    f->regs.dma_addr = 0;
    uint8_t d[16];
    if (!bus_dma_read(f->bus, desc, d, sizeof(d))) {
        log_debug("fw_cfg: DMA descriptor at %#llx is outside RAM", (unsigned long long)desc);
        return;
    }
    uint32_t control = get_be32(d), len = get_be32(d + 4);
    uint64_t addr = (uint64_t)get_be32(d + 8) << 32 | get_be32(d + 12);
    bool error = false;
    if (control & DMA_SELECT) {
        f->regs.key = (uint16_t)(control >> 16);
        f->regs.offset = 0;
    }
    const struct fw_cfg_item *it = fw_cfg_item(f, f->regs.key);
    if (control & DMA_WRITE) {
        error = true; /* every item is read-only */
    } else if (control & (DMA_READ | DMA_SKIP)) {
        uint32_t avail = it && f->regs.offset < it->len ? it->len - f->regs.offset : 0;
        uint32_t copy = len < avail ? len : avail;
        /* A read past the item's end gives zeroes, as QEMU's does. */
        for (uint64_t done = 0; done < len && (control & DMA_READ) && !error;) {
            uint64_t n = len - done < FW_CFG_DMA_CHUNK ? len - done : FW_CFG_DMA_CHUNK;
            uint64_t from_item = done < copy ? (copy - done < n ? copy - done : n) : 0;
            if (from_item) memcpy(f->dma_buf, it->data + f->regs.offset + done, from_item);
            memset(f->dma_buf + from_item, 0, n - from_item);
            if (!bus_dma_write(f->bus, addr + done, f->dma_buf, n)) error = true;
            done += n;
        }
        f->regs.offset += copy;
    }
    uint8_t out[4];
    put_be32(out, error ? DMA_ERROR : 0);
    bus_dma_write(f->bus, desc, out, sizeof(out));
}

static uint64_t fw_cfg_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct fw_cfg *f = opaque;
    static const char sig[8] = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++) {
        uint64_t port = offset + k;
        uint8_t b = 0;
        if (port == 1)
            b = fw_cfg_read_byte(f);
        else if (port >= 4 && port < 12)
            b = (uint8_t)sig[port - 4];
        v |= (uint64_t)b << (8 * k);
    }
    return v;
}

static void fw_cfg_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct fw_cfg *f = opaque;
    if (offset == 0 && size >= 2) {
        f->regs.key = (uint16_t)value;
        f->regs.offset = 0;
    } else if (offset == 4 && size == 4) {
        /* The guest writes each half big-endian (outl of a byte-swapped value). */
        f->regs.dma_addr =
            (uint64_t)bswap32((uint32_t)value) << 32 | (f->regs.dma_addr & 0xffffffffu);
    } else if (offset == 8 && size == 4) {
        f->regs.dma_addr = (f->regs.dma_addr & ~0xffffffffull) | bswap32((uint32_t)value);
        fw_cfg_dma(f);
    }
    /* Data-port writes are ignored (QEMU since 2.4), as are other widths. */
}

static const struct io_ops fw_cfg_ops = {.read = fw_cfg_io_read, .write = fw_cfg_io_write};

void fw_cfg_reset(struct fw_cfg *f)
{
    f->regs = (struct fw_cfg_regs){.key = FW_CFG_INVALID};
}

struct fw_cfg *fw_cfg_create(struct bus *bus, uint16_t port, uint64_t ram_size, unsigned ncpus)
{
    struct fw_cfg *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->bus = bus;
    fw_cfg_reset(f);
    uint8_t ram[8], cpus[2] = {(uint8_t)ncpus, (uint8_t)(ncpus >> 8)};
    for (unsigned k = 0; k < 8; k++)
        ram[k] = (uint8_t)(ram_size >> (8 * k));
    uint32_t id = FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA;
    uint8_t idb[4] = {(uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24)};
    if (fw_cfg_set(&f->well_known[FW_CFG_SIGNATURE], "QEMU", 4) < 0 ||
        fw_cfg_set(&f->well_known[FW_CFG_ID], idb, 4) < 0 ||
        fw_cfg_set(&f->well_known[FW_CFG_RAM_SIZE], ram, 8) < 0 ||
        fw_cfg_set(&f->well_known[FW_CFG_NB_CPUS], cpus, 2) < 0 ||
        fw_cfg_set(&f->well_known[FW_CFG_MAX_CPUS], cpus, 2) < 0 || fw_cfg_build_dir(f) < 0 ||
        bus_add_pio(bus, port, FW_CFG_NPORT, &fw_cfg_ops, f, "fw_cfg") < 0) {
        log_error("fw_cfg: cannot create the device on port %#x", port);
        fw_cfg_destroy(f);
        return NULL;
    }
    return f;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
    if (!f) return;
    for (unsigned k = 0; k < FW_CFG_WELL_KNOWN; k++)
        free(f->well_known[k].data);
    for (unsigned k = 0; k < f->nfiles; k++)
        free(f->files[k].data);
    free(f);
}

/* Any selector is fine (an unknown one reads zeroes); the offset must lie within its item. */
static const char *fw_cfg_check(const void *tmp, const void *live, void *ctx)
{
    (void)ctx;
    const struct fw_cfg *t = tmp, *f = live;
    const struct fw_cfg_item *it = fw_cfg_item(f, t->regs.key);
    if (!it) return t->regs.offset ? "an offset into an item that does not exist here" : NULL;
    return t->regs.offset > it->len ? "offset beyond the selected item" : NULL;
}

/* Section "fw_cfg": u16 selector, u32 offset, u64 DMA address (its high half, once written). */
static const struct state_field fw_cfg_fields[] = {
    STATE_U16(struct fw_cfg, regs.key),
    STATE_U32(struct fw_cfg, regs.offset),
    STATE_U64(struct fw_cfg, regs.dma_addr),
};
static const struct state_desc fw_cfg_desc = STATE_DESC(struct fw_cfg, fw_cfg_fields, fw_cfg_check);

void fw_cfg_save(const struct fw_cfg *f, struct state_writer *w)
{
    state_save_section(w, "fw_cfg", FW_CFG_STATE_VERSION, &fw_cfg_desc, f, NULL);
}

int fw_cfg_load(struct fw_cfg *f, struct state_reader *r)
{
    return state_load_section(r, "fw_cfg", FW_CFG_STATE_VERSION, &fw_cfg_desc, f, NULL);
}
