/* state.h — versioned save/load of component state (after QEMU's vmstate and Firecracker's
 * persist). A state stream is a sequence of named, versioned sections; each component writes
 * its own section with explicit little-endian fields, and on load finds its section by name and
 * refuses versions it does not know. Format: docs/STATE-FORMAT.md.
 *
 * A section's payload is declared once, as a table of fields (struct state_desc below), and
 * that one table drives both directions: state_save_section writes the fields in order,
 * state_load_section finds the section, checks its version, decodes every field into a
 * temporary copy of the object, validates it, and only then commits the described members.
 * A bad section therefore never leaves a component half-loaded.
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
    /* Appended to every section name begun (NULL: none): the board saves the state of CPU k > 0
     * (its "cpu", "lapic" and "kvmclock" sections) as "cpu.k", ... through the devices' own
     * save functions. */
    const char *suffix;
};

struct state_reader {
    const uint8_t *data;
    size_t len;
    size_t pos, end; /* cursor and end of the current section's payload */
    bool error;      /* read past a section's end, or a malformed stream */
    /* Decode and validate only, commit nothing: a whole-machine load runs every component
     * once this way before the real pass, so a bad stream changes nothing anywhere. */
    bool check_only;
    /* Appended to every section name looked for (NULL: none), as struct state_writer's. */
    const char *suffix;
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
/* Step over n bytes (a check-only pass over a bulk payload such as RAM). */
void state_skip(struct state_reader *r, size_t n);
/* True if every get so far stayed inside its section. */
static inline bool state_ok(const struct state_reader *r)
{
    return !r->error;
}

/* Whole-file helpers: write to PATH.tmp, fsync, rename; read a whole file. 0 or -errno. */
int state_write_file(const struct state_writer *w, const char *path);
int state_read_file(const char *path, uint8_t **data, size_t *len);

/* ---- declarative sections ---- */

enum state_kind {
    STATE_UINT,   /* wsize-byte little-endian integer <-> an unsigned member of csize bytes */
    STATE_BOOL,   /* one byte, nonzero = true <-> a bool member */
    STATE_BYTES,  /* wsize raw bytes <-> the first wsize bytes of a csize-byte member */
    STATE_STRUCT, /* a nested description (sub) at offset */
    STATE_FLAGS,  /* one byte: bit k <-> the bool member at flag_offsets[k] (count bits) */
    STATE_CUSTOM, /* put/get callbacks: derived values (timers, FIFOs, variable lengths) */
    STATE_SHADOW, /* nothing on the wire: a member a custom field decodes, committed too */
};

struct state_desc;

/* One field, possibly an array of `count` elements `stride` bytes apart (stride 0: csize).
 * Loading an integer: v = (v & mask) | set, then min <= v <= max or the load fails naming the
 * field. A custom `get` decodes into `tmp` (the temporary copy; `live` is the current object,
 * for comparisons) and returns NULL or why the value is refused. `commit`, if set, replaces
 * the plain copy of the member from tmp to live (merges, derived state). Callbacks get the
 * object the table describes, not the member, and the caller's ctx. */
struct state_field {
    const char *name;
    enum state_kind kind;
    uint32_t wsize, csize, count, stride;
    size_t offset;
    uint64_t mask, set, min, max;
    const struct state_desc *sub;
    const size_t *flag_offsets;
    void (*put)(struct state_writer *w, const void *obj, void *ctx);
    const char *(*get)(struct state_reader *r, void *tmp, const void *live, void *ctx);
    void (*commit)(void *live, const void *tmp, void *ctx);
};

/* A section payload (or a part nested in one). `size` is the described struct's size (the
 * temporary copy); `check` validates the decoded copy as a whole, NULL or why it is refused. */
struct state_desc {
    const struct state_field *fields;
    size_t nfields, size;
    const char *(*check)(const void *tmp, const void *live, void *ctx);
};

#define STATE_MSIZE(T, m) sizeof(((T *)0)->m)
#define STATE_NELEM(T, m) (sizeof(((T *)0)->m) / sizeof(((T *)0)->m[0]))
#define STATE_DESC(T, fields_, check_)                                                             \
    {                                                                                              \
        .fields = fields_, .nfields = sizeof(fields_) / sizeof(fields_[0]), .size = sizeof(T),     \
        .check = check_                                                                            \
    }

/* An unsigned member saved as w bytes; loaded as (v & mask) | set, refused outside [lo, hi]. */
#define STATE_UINT_X(T, m, w, mask_, set_, lo, hi)                                                 \
    {                                                                                              \
        .name = #m, .kind = STATE_UINT, .wsize = w, .csize = STATE_MSIZE(T, m), .count = 1,        \
        .offset = offsetof(T, m), .mask = mask_, .set = set_, .min = lo, .max = hi                 \
    }
#define STATE_UINT_M(T, m, w, mask_) STATE_UINT_X(T, m, w, mask_, 0, 0, UINT64_MAX)
#define STATE_U8(T, m)               STATE_UINT_M(T, m, 1, UINT64_MAX)
#define STATE_U16(T, m)              STATE_UINT_M(T, m, 2, UINT64_MAX)
#define STATE_U32(T, m)              STATE_UINT_M(T, m, 4, UINT64_MAX)
#define STATE_U64(T, m)              STATE_UINT_M(T, m, 8, UINT64_MAX)
/* Every element of an unsigned array member, in index order. */
#define STATE_UINT_ARRAY(T, m, w, mask_)                                                           \
    {                                                                                              \
        .name = #m, .kind = STATE_UINT, .wsize = w, .csize = STATE_MSIZE(T, m[0]),                 \
        .count = STATE_NELEM(T, m), .offset = offsetof(T, m), .mask = mask_, .max = UINT64_MAX     \
    }
#define STATE_BOOL(T, m)                                                                           \
    {                                                                                              \
        .name = #m, .kind = STATE_BOOL, .wsize = 1, .csize = 1, .count = 1,                        \
        .offset = offsetof(T, m)                                                                   \
    }
/* n bytes of each of count elements (stride apart, zero-filled up to csize on load). */
#define STATE_BYTES_N(T, m, n, cnt, stride_)                                                       \
    {                                                                                              \
        .name = #m, .kind = STATE_BYTES, .wsize = n, .csize = stride_, .count = cnt,               \
        .stride = stride_, .offset = offsetof(T, m)                                                \
    }
#define STATE_BYTES(T, m) STATE_BYTES_N(T, m, STATE_MSIZE(T, m), 1, STATE_MSIZE(T, m))
/* A nested description at member m: once, or for each element of an array member. */
#define STATE_STRUCT(T, m, desc)                                                                   \
    {                                                                                              \
        .name = #m, .kind = STATE_STRUCT, .csize = STATE_MSIZE(T, m), .count = 1,                  \
        .offset = offsetof(T, m), .sub = desc                                                      \
    }
#define STATE_STRUCT_ARRAY(T, m, desc)                                                             \
    {                                                                                              \
        .name = #m, .kind = STATE_STRUCT, .csize = STATE_MSIZE(T, m[0]),                           \
        .count = STATE_NELEM(T, m), .offset = offsetof(T, m), .sub = desc                          \
    }
/* Rows: count repetitions of a description whose offsets are relative to (base + k * stride),
 * for interleaved arrays (irr[k], isr[k], tmr[k], ...). */
#define STATE_ROWS(nm, cnt, stride_, desc)                                                         \
    {                                                                                              \
        .name = nm, .kind = STATE_STRUCT, .count = cnt, .stride = stride_, .sub = desc             \
    }
#define STATE_FLAGS(nm, offsets)                                                                   \
    {                                                                                              \
        .name = nm, .kind = STATE_FLAGS, .wsize = 1,                                               \
        .count = sizeof(offsets) / sizeof(offsets[0]), .flag_offsets = offsets                     \
    }
#define STATE_CUSTOM(nm, put_, get_, commit_)                                                      \
    {                                                                                              \
        .name = nm, .kind = STATE_CUSTOM, .put = put_, .get = get_, .commit = commit_              \
    }
#define STATE_SHADOW(T, m)                                                                         \
    {                                                                                              \
        .name = #m, .kind = STATE_SHADOW, .csize = STATE_MSIZE(T, m), .count = 1,                  \
        .offset = offsetof(T, m)                                                                   \
    }

/* Write section `name` from obj as desc says. */
void state_save_section(struct state_writer *w, const char *name, uint32_t version,
                        const struct state_desc *desc, const void *obj, void *ctx);
/* Write desc's fields only (a part of an open section). */
void state_save_fields(struct state_writer *w, const struct state_desc *desc, const void *obj,
                       void *ctx);
/* Find section `name`, refuse another version, decode into a copy of obj, check, commit.
 * 0: loaded (or, with r->check_only, would load); -1: refused, logged naming the section and
 * field, obj untouched. The caller re-derives state (timers, IRQ lines) after a 0 when
 * state_committing(r). */
int state_load_section(struct state_reader *r, const char *name, uint32_t version,
                       const struct state_desc *desc, void *obj, void *ctx);
/* For custom fields that nest descriptions: decode desc's fields into tmp and run its check
 * (NULL, or why not naming the field, in a per-thread buffer valid until the next call), and
 * copy them from tmp to live. */
const char *state_load_fields(struct state_reader *r, const struct state_desc *desc, void *tmp,
                              const void *live, void *ctx);
void state_commit_fields(const struct state_desc *desc, void *live, const void *tmp, void *ctx);
static inline bool state_committing(const struct state_reader *r)
{
    return !r->check_only;
}
