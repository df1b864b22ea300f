/* btf.h — a reader for the kernel's BPF Type Format (Documentation/bpf/btf.rst): enough of it
 * to find a struct by name and a member's offset and size, which is what lets vessel read a
 * guest kernel's data structures without building against its headers. The blob is untrusted
 * (it comes from a file or from guest memory): every length, offset and type id is checked,
 * and the index is built once so lookups never walk unchecked data. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct btf;

/* Parse the .BTF blob [data, data+len), which must stay valid while the result is used.
 * Returns NULL with a reason in why when the blob is malformed. */
struct btf *btf_parse(const uint8_t *data, size_t len, char *why, size_t whylen);
void btf_free(struct btf *b);
uint32_t btf_type_count(const struct btf *b);

/* Id of the struct (or union) called name, or 0 if there is none. */
uint32_t btf_find_struct(const struct btf *b, const char *name);
/* Byte size of a type after typedefs and qualifiers (pointers are 8); 0 if unknown. */
uint64_t btf_type_size(const struct btf *b, uint32_t id);
/* The member `name` of struct/union sid, looked for through anonymous struct/union members
 * too: its offset in bytes from the start of sid and its type id. -1 if there is no such
 * member or it is a bitfield. */
int btf_member(const struct btf *b, uint32_t sid, const char *name, uint64_t *off,
               uint32_t *type_id);
/* The id a pointer, typedef or qualifier refers to after skipping typedefs and qualifiers
 * (for a pointer: the pointee, resolved the same way); 0 if id is none of those. */
uint32_t btf_resolve(const struct btf *b, uint32_t id);
/* True if id (after typedefs and qualifiers) is a pointer. */
int btf_is_ptr(const struct btf *b, uint32_t id);
