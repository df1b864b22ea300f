/* snapshot.h — a stopped machine as two files, and back. The state file is a state stream
 * (docs/STATE-FORMAT.md): the board and every device (pc_save_devices), the configuration the
 * machine was built from ("vm-config") and the list of memory layers ("memory"). The memory
 * file is guest RAM at its RAM offsets plus a one-page trailer naming the snapshot it belongs
 * to; a Full one has every page (zero pages as holes), a Diff one only the pages written since
 * the previous snapshot (the rest are holes) and is restored on top of the layers before it.
 * Restore maps the layers privately over guest RAM, so pages are read from the files on first
 * touch and clones of one snapshot share the pages none of them has written. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

struct pc;
struct snap_image;
struct state_writer;

#define SNAP_MAX_LAYERS 16

/* The memory files a machine's RAM currently corresponds to, oldest first: what a Diff
 * snapshot is taken relative to. Empty until the first snapshot or a restore. */
struct snap_chain {
    unsigned nlayers;
    char *path[SNAP_MAX_LAYERS]; /* absolute, malloc'd */
    uint64_t id[SNAP_MAX_LAYERS];
};

void snap_chain_clear(struct snap_chain *c);

struct snap_stats {
    uint64_t ns;        /* wall time of the whole snapshot */
    uint64_t mem_bytes; /* guest pages written to the memory file */
    uint64_t state_bytes;
};

/* The "vm-config" section: what a machine is rebuilt from (also sent by live migration). */
void snap_put_config(struct state_writer *w, const struct vm_config *cfg);
/* Decode a stream holding a "vm-config" section into img->cfg; img takes data (malloc'd)
 * whatever the outcome. 0, or -1 with a reason. */
int snap_open_config(uint8_t *data, size_t len, struct snap_image *img, char *err, size_t errlen);

/* Snapshot a stopped machine (its vCPU not running). Disk images named in cfg are flushed
 * first; both files are written under temporary names and renamed at the end. Diff needs a
 * chain (a previous snapshot or a restore). On success the chain describes the new snapshot
 * and the dirty log restarts. 0, or -1 with a one-line reason in err (nothing left behind). */
int snap_create(struct pc *pc, const struct vm_config *cfg, const char *state_path,
                const char *mem_path, bool diff, struct snap_chain *chain, struct snap_stats *stats,
                char *err, size_t errlen);

/* A state file read into memory with its configuration decoded. */
struct snap_image {
    uint8_t *data;
    size_t len;
    struct vm_config cfg; /* strings point into the image's own storage */
    struct snap_chain chain;
    uint64_t id, ram_size;
    char *strings[9 + 3 * VM_MAX_DISKS + VM_MAX_FW_CFG];
    unsigned nstrings;
};

/* Read and check a state file: 0, or -1 with a reason (not a vessel state file, another
 * format or section version, truncated). */
int snap_open(const char *state_path, struct snap_image *img, char *err, size_t errlen);
void snap_close(struct snap_image *img);

/* Put the image into a machine freshly built from img->cfg (pc_create without a kernel): map
 * the memory layers over its RAM (mem_path, if not NULL, replaces the newest layer's path),
 * then load every device. The chain becomes the image's. 0, or -1 with a reason. */
int snap_restore(struct pc *pc, const struct snap_image *img, const char *mem_path,
                 struct snap_chain *chain, char *err, size_t errlen);
/* The same with the (single, Full) memory layer at a page-aligned offset of mem_path: an
 * appliance file maps its embedded memory in place (src/appliance/). */
int snap_restore_at(struct pc *pc, const struct snap_image *img, const char *mem_path,
                    uint64_t mem_offset, struct snap_chain *chain, char *err, size_t errlen);

/* Restart the dirty log: clear every page's dirty bit and make the vCPU forget its cached
 * write translations, so the next write to any page marks it again. */
void snap_dirty_reset(struct pc *pc);
