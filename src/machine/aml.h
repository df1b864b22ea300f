/* aml.h — a small builder for ACPI Machine Language byte code (ACPI 6.x chapter 20), enough to
 * write a DSDT: names, integers, strings, buffers, packages, Scope/Device/Method, Return, and
 * resource templates with the descriptors a PC needs.
 *
 * Nested objects are opened with aml_*_begin and closed with aml_end; the PkgLength (and a
 * Buffer's size) is computed and inserted at aml_end, so callers never count bytes. Out of memory
 * or misuse (unbalanced ends, too deep) sets `error`; the bytes are then not to be used. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

/* Opcodes used here (ACPI 6.x 20.3). */
#define AML_ZERO_OP    0x00
#define AML_ONE_OP     0x01
#define AML_NAME_OP    0x08
#define AML_BYTE_PFX   0x0A
#define AML_WORD_PFX   0x0B
#define AML_DWORD_PFX  0x0C
#define AML_STRING_PFX 0x0D
#define AML_QWORD_PFX  0x0E
#define AML_SCOPE_OP   0x10
#define AML_BUFFER_OP  0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP  0x14
#define AML_DUAL_PFX   0x2E
#define AML_MULTI_PFX  0x2F
#define AML_EXT_PFX    0x5B
#define AML_DEVICE_OP  0x82 /* after AML_EXT_PFX */
#define AML_RETURN_OP  0xA4
#define AML_ONES_OP    0xFF

struct aml {
    uint8_t *buf;
    size_t len, cap;
    bool error;
    unsigned depth;
    struct {
        size_t start;   /* offset where the PkgLength goes */
        bool is_buffer; /* a BufferSize integer goes there too */
    } open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

/* PkgLength encoding of a package whose body (after the PkgLength) is `body_len` bytes: writes
 * 1-4 bytes to out and returns how many, or 0 if too long (>= 2^28). */
unsigned aml_pkglen_encode(uint8_t out[4], size_t body_len);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* Integer with the shortest encoding: ZeroOp, OneOp, OnesOp (for ~0), Byte/Word/DWord/QWord. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* NameString: "\\_SB.PCI0", "^PARENT", "_HID"; segments shorter than 4 are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
/* Name(name, <the next object the caller emits>) */
void aml_name(struct aml *a, const char *name);
/* EISAID("PNP0A03") as a DWordConst. */
void aml_eisaid(struct aml *a, const char *id);
/* Name(name, integer) / Name(name, string) shorthands. */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* Buffer with literal bytes. */
void aml_buffer(struct aml *a, const void *data, size_t n);
void aml_return(struct aml *a); /* ReturnOp; the caller emits the value next */

void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
void aml_package_begin(struct aml *a, unsigned nelems);
/* Buffer whose contents are the resource descriptors that follow; aml_end adds the EndTag. */
void aml_restemplate_begin(struct aml *a);
void aml_end(struct aml *a);

/* Resource descriptors (ACPI 6.x 6.4), inside aml_restemplate_begin/aml_end. */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml *a, uint16_t mask);
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool rw);
/* Address-space descriptors as a producer with fixed min and max (root bridge windows). */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_io(struct aml *a, uint32_t min, uint32_t max);
void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
void aml_res_qword_memory(struct aml *a, uint64_t min, uint64_t max, bool cacheable);
