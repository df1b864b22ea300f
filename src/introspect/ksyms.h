/* ksyms.h — the kernel's own symbol table (kallsyms) found in a vmlinux image without the
 * image's ELF symbols: Debian ships the kernel stripped, but kallsyms' compressed tables sit in
 * its read-only data, so symbol addresses (as linked, before KASLR) come from the image itself.
 * The image is untrusted: every table is located by checks, not by trust in any header. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct ksyms;

/* Locate the tables in [img, img+len), which must stay valid while the result is used. NULL
 * with a reason in why when they are not there or do not hold together. */
struct ksyms *ksyms_find(const uint8_t *img, size_t len, char *why, size_t whylen);
void ksyms_free(struct ksyms *k);
uint32_t ksyms_count(const struct ksyms *k);
/* Addresses of the symbols called name (static symbols may repeat), up to max of them, with
 * their kallsyms type letters ('T', 'd', ...) in types if not NULL. Returns how many. */
int ksyms_lookup(const struct ksyms *k, const char *name, uint64_t *addrs, char *types, int max);
/* The lowest symbol address above addr (where an object at addr ends at the latest: kallsyms
 * has no sizes), or UINT64_MAX. */
uint64_t ksyms_next_above(const struct ksyms *k, uint64_t addr);
