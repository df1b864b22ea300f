/* state.h — versioned save/load of component state (after QEMU's vmstate and Firecracker's
 * persist). A state stream is a sequence of named, versioned sections; each component writes
 * its own section with explicit little-endian fields, and on load finds its section by name and
 * refuses versions it does not know. Format: docs/STATE-FORMAT.md.
 *
 *   stream  := "VSLSTATE" u32:format-version section*
 *   section := u16:name-len name u32:version u64:payload-len payload
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_FORMAT_VERSION 1

struct state_writer {
    uint8_t *data;
    size_t len, cap;
    size_t section_start; /* offset of the open section's payload-length field, or 0 */
    bool error;           /* out of memory, or misuse */
};

struct state_reader {
    const uint8_t *data;
    size_t len;
    size_t pos, end; /* cursor and end of the current section's payload */
    bool error;      /* read past a section's end, or a malformed stream */
};

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
void state_section_begin(struct state_writer *w, const char *name, uint32_t version);
void state_section_end(struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);

/* Returns false if the stream header is wrong. The reader does not copy data. */
bool state_reader_init(struct state_reader *r, const void *data, size_t len);
/* Position on the payload of section `name`; false if absent or malformed. */
bool state_section_find(struct state_reader *r, const char *name, uint32_t *version);
uint8_t state_get_u8(struct state_reader *r);
uint16_t state_get_u16(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);
void state_get_bytes(struct state_reader *r, void *p, size_t n);
/* True if every get so far stayed inside its section. */
static inline bool state_ok(const struct state_reader *r)
{
    return !r->error;
}

/* Whole-file helpers: write to PATH.tmp, fsync, rename; read a whole file. 0 or -errno. */
int state_write_file(const struct state_writer *w, const char *path);
int state_read_file(const char *path, uint8_t **data, size_t *len);
