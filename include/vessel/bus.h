/* bus.h — the guest-physical address space: RAM, port I/O and memory-mapped I/O.
 *
 * All guest RAM is one host mapping. RAM below `low_ram_end` sits at the same guest-physical
 * address; the rest starts at 4 GiB (the PC's MMIO hole lies between). Devices register ranges
 * with an ops table; the CPU engine and DMA-capable devices reach memory only through here, so
 * bounds checks, MMIO dispatch, dirty tracking and self-modifying-code notification have one home.
 *
 * The mapping is anonymous memory (bus_init) or a file shared with the host's page cache
 * (bus_init_file), so the host can write guest RAM out to disk under memory pressure. Either
 * way, pages the guest gives up (a balloon, free page reporting) go back to the host through
 * bus_discard.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BUS_PAGE_SHIFT  12
#define BUS_PAGE_SIZE   (1ull << BUS_PAGE_SHIFT)
#define BUS_HIGH_RAM    0x100000000ull /* RAM above the hole starts at 4 GiB */
#define BUS_MAX_LOW_RAM 0xC0000000ull  /* at most 3 GiB below the hole */
#define BUS_MAX_RANGES  64

/* page_flags bits, one byte per 4 KiB RAM page (indexed by RAM offset >> 12). */
#define BUS_PAGE_CODE  0x01 /* the CPU engine holds decoded blocks from this page */
#define BUS_PAGE_DIRTY 0x02 /* written since the last dirty-log reset */
/* The same for the display's framebuffer scan (hw/lfb.c), kept apart so that it and the
 * whole-RAM dirty log (snapshots, migration) each reset only their own bit. */
#define BUS_PAGE_DIRTY_FB 0x04
#define BUS_PAGE_WRITTEN  (BUS_PAGE_DIRTY | BUS_PAGE_DIRTY_FB) /* what a write sets */
/* A write watch covers part of this page (bus_watch_range): like a code page, the CPU engine
 * gives it no fast write pointer, so every store reaches bus_note_write_by. */
#define BUS_PAGE_WATCH 0x08

struct io_ops {
    /* size is 1, 2, 4 or 8; offset is relative to the range base. */
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
};

#define BUS_MAX_CODE_LISTENERS 8

/* Told that [gpa, gpa+len) was written and touches a page with BUS_PAGE_CODE. Called on the
 * writing thread (a device's I/O thread for DMA). */
typedef void (*bus_code_write_fn)(void *opaque, uint64_t gpa, uint64_t len);

/* Who wrote, for the write watch: a vCPU store's instruction and context. */
struct bus_writer {
    uint64_t rip; /* the storing instruction */
    uint64_t lin; /* linear address of the first byte written */
    uint64_t cr3;
    uint8_t cpl;
};

/* Told, after the bytes are in RAM, that [gpa, gpa+len) was written and touches a page with
 * BUS_PAGE_WATCH; w is NULL for a device (DMA) or the monitor. The watcher may put old bytes
 * back (a blocked write). Called on the writing thread. */
typedef void (*bus_watch_fn)(void *opaque, uint64_t gpa, uint64_t len, const struct bus_writer *w);

struct io_range {
    uint64_t base, len;
    const struct io_ops *ops;
    void *opaque;
    const char *name;
    /* The device's lock (one per opaque, shared by all its ranges): the bus holds it around the
     * device's callbacks, so vCPUs on several threads never run one device's PIO/MMIO handlers
     * at once. Device threads and timers still go through the device's own locking. */
    pthread_mutex_t *lock;
};

struct bus {
    uint8_t *ram;         /* host mapping of all guest RAM */
    uint64_t ram_size;    /* bytes of RAM */
    uint64_t low_ram_end; /* RAM in [0, low_ram_end) is identity; the rest is at BUS_HIGH_RAM */
    uint8_t *page_flags;  /* ram_size >> 12 bytes */
    bool ram_file;        /* RAM is a shared mapping of ram_fd (bus_init_file) */
    int ram_fd;
    char *ram_unlink; /* the file bus_init_file created by name, removed by bus_destroy */
    /* Page sharing maps pages of other files over anonymous RAM (machine/share.c): discard
     * then maps fresh anonymous memory, since MADV_DONTNEED there would bring back the other
     * file's contents instead of zeros. */
    bool ram_remap_discard;

    struct io_range pio[BUS_MAX_RANGES];
    unsigned npio;
    struct io_range mmio[BUS_MAX_RANGES];
    unsigned nmmio;

    /* Everyone who holds decoded code from RAM (each vCPU's block cache, a translation cache):
     * all are told of writes to code pages. Use bus_add/remove_code_write_listener. */
    struct {
        bus_code_write_fn fn;
        void *opaque;
    } code_listeners[BUS_MAX_CODE_LISTENERS];
    unsigned ncode_listeners;

    /* The write watch (one watcher: the integrity watch, src/introspect/integrity.c). */
    bus_watch_fn watch_fn;
    void *watch_opaque;

    uint64_t unassigned_accesses; /* statistics: I/O to nowhere (approximate with several vCPUs) */

    /* the devices' locks (io_range.lock), by opaque; freed by bus_destroy */
    pthread_mutex_t *dev_lock[2 * BUS_MAX_RANGES];
    void *dev_lock_opaque[2 * BUS_MAX_RANGES];
    unsigned ndev_locks;

    /* A second window onto part of RAM (bus_set_ram_alias): [alias_gpa, alias_gpa+alias_len)
     * is RAM offset alias_off onwards. alias_len 0: none. */
    uint64_t alias_gpa, alias_len, alias_off;
};

/* Allocate RAM (zeroed, not yet touched). Returns 0 or -errno. */
int bus_init(struct bus *b, uint64_t ram_size);
/* The same, with RAM in a file mapped shared, so the host's page cache holds it and writes it
 * back when memory is short. `path` is a directory (an unnamed file there, gone when the bus
 * is) or the name of a file to create (it must not exist; it is removed by bus_destroy). The
 * file is sparse: disk blocks are allocated as the guest touches pages. 0 or -errno (-EEXIST
 * for an existing file). */
int bus_init_file(struct bus *b, uint64_t ram_size, const char *path);
/* The same over an anonymous memfd (shared memory nothing names): what direct execution's stub
 * maps guest pages from (docs/DIRECT.md). Discarding punches holes, as for a file. */
int bus_init_memfd(struct bus *b, uint64_t ram_size);
void bus_destroy(struct bus *b);

/* Give the host back the whole pages inside [gpa, gpa+len): they read as zero afterwards
 * (MADV_DONTNEED on anonymous RAM, a hole punched in the file). Pages outside RAM (the MMIO
 * hole, beyond the end) are never touched; partial pages at either end are kept. The pages
 * count as written (dirty, decoded code dropped). Returns the bytes discarded; discarding a
 * page twice is harmless. Call from the thread that runs the vCPU or while it is stopped. */
uint64_t bus_discard(struct bus *b, uint64_t gpa, uint64_t len);
/* Bytes of guest RAM now resident in host memory (mincore over the mapping; a discarded page
 * the guest has read since is mapped to the host's shared zero page and counts). */
uint64_t bus_ram_resident(const struct bus *b);

/* Listen for writes to code pages. Adding the same (fn, opaque) again does nothing; returns 0,
 * or -1 if BUS_MAX_CODE_LISTENERS are already listening. Add and remove while no other thread
 * writes guest memory (at setup and teardown). */
int bus_add_code_write_listener(struct bus *b, bus_code_write_fn fn, void *opaque);
/* Stop listening; nothing happens if (fn, opaque) was not listening. */
void bus_remove_code_write_listener(struct bus *b, bus_code_write_fn fn, void *opaque);

/* Set (fn non-NULL) or clear the write watcher. Call while no other thread writes guest
 * memory (the vCPU stopped between slices; device threads only report after the fact). */
void bus_set_write_watch(struct bus *b, bus_watch_fn fn, void *opaque);
/* Mark (on) or unmark the RAM pages [gpa, gpa+len) touches BUS_PAGE_WATCH. The engine's fast
 * write mappings made before must then be dropped (vcpu_rearm_dirty). */
void bus_watch_range(struct bus *b, uint64_t gpa, uint64_t len, bool on);

/* Register a range; returns 0, or -1 if it overlaps another or the table is full. */
int bus_add_pio(struct bus *b, uint16_t base, uint16_t len, const struct io_ops *ops, void *opaque,
                const char *name);
int bus_add_mmio(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *opaque,
                 const char *name);
/* Move or remove (len 0) an MMIO range previously registered with this opaque+ops (PCI BARs). */
int bus_move_mmio(struct bus *b, const struct io_ops *ops, void *opaque, uint64_t new_base,
                  uint64_t new_len);

/* The same for a port range registered with bus_add_pio (PCI I/O BARs). */
int bus_move_pio(struct bus *b, const struct io_ops *ops, void *opaque, uint16_t new_base,
                 uint16_t new_len);

/* Port and MMIO access. Unassigned reads return all ones, unassigned writes are dropped. The
 * device's lock is held around its callback. Ranges are added at set-up and moved by PCI BAR
 * programming (the guest's firmware phase, on one CPU): the table itself is not locked. */
uint64_t bus_pio_read(struct bus *b, uint16_t port, unsigned size);
void bus_pio_write(struct bus *b, uint16_t port, uint64_t value, unsigned size);
uint64_t bus_mmio_read(struct bus *b, uint64_t gpa, unsigned size);
void bus_mmio_write(struct bus *b, uint64_t gpa, uint64_t value, unsigned size);

/* Show RAM offsets [ram_off, ram_off+len) a second time at [gpa, gpa+len), as ordinary RAM to
 * the CPU engine and DMA (a PCI display's framebuffer BAR whose pixels live in RAM the board
 * reserved); one alias per bus, len 0 removes it. Page aligned, inside RAM, and clear of the two
 * RAM segments; 0 or -1 (nothing changes). The caller flushes the vCPUs' translations of the old
 * window. */
int bus_set_ram_alias(struct bus *b, uint64_t gpa, uint64_t len, uint64_t ram_off);

/* RAM offset of a guest-physical address, or UINT64_MAX if gpa is not RAM. */
static inline uint64_t bus_ram_offset(const struct bus *b, uint64_t gpa)
{
    if (gpa < b->low_ram_end) return gpa;
    if (gpa >= BUS_HIGH_RAM && gpa - BUS_HIGH_RAM < b->ram_size - b->low_ram_end)
        return gpa - BUS_HIGH_RAM + b->low_ram_end;
    if (gpa - b->alias_gpa < b->alias_len) return gpa - b->alias_gpa + b->alias_off;
    return UINT64_MAX;
}

/* Host pointer to [gpa, gpa+len) if that whole range is RAM, else NULL. len may be 0. */
static inline uint8_t *bus_ram_ptr(const struct bus *b, uint64_t gpa, uint64_t len)
{
    uint64_t off = bus_ram_offset(b, gpa);
    if (off == UINT64_MAX) return NULL;
    uint64_t seg_end = gpa < b->low_ram_end                ? b->low_ram_end
                       : gpa - b->alias_gpa < b->alias_len ? b->alias_off + b->alias_len
                                                           : b->ram_size;
    if (len > seg_end - off) return NULL;
    return b->ram + off;
}

/* Device DMA: copy to/from guest RAM with bounds checks. Returns false (and copies nothing)
 * if any byte lies outside RAM. Writes mark pages dirty and notify the engine of code writes. */
bool bus_dma_read(struct bus *b, uint64_t gpa, void *dst, uint64_t len);
bool bus_dma_write(struct bus *b, uint64_t gpa, const void *src, uint64_t len);

/* Mark [gpa, gpa+len) written: dirty bits, the write watcher for watched pages, and the
 * code-write listeners for code pages. The CPU engine's slow write path (bus_note_write_by,
 * naming the writer) and bus_dma_write call this. */
void bus_note_write(struct bus *b, uint64_t gpa, uint64_t len);
void bus_note_write_by(struct bus *b, uint64_t gpa, uint64_t len, const struct bus_writer *w);
