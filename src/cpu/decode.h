/* decode.h — bytes to struct insn. Table-driven over the one-byte, 0F, 0F38 and 0F3A maps;
 * resolves prefixes, REX, ModRM/SIB/displacement, RIP-relative addressing and immediates.
 * Knows lengths and operand shapes only, not semantics (see exec_lookup). Owned by decode.c. */
#pragma once
#include <stdint.h>

#include "core.h"

#define DECODE_UD     (-1) /* invalid or unsupported encoding: #UD */
#define DECODE_SHORT  (-2) /* ran out of bytes (avail too small) before the end */
#define DECODE_MAXLEN 15

/* Decode one instruction from `bytes` (avail bytes readable). Returns its length (and fills
 * *out, leaving out->fn NULL) or DECODE_UD / DECODE_SHORT. An encoding longer than 15 bytes
 * is DECODE_UD (the CPU raises #GP for it; the engine treats it as #UD-class). */
int decode_insn(struct insn *out, const uint8_t *bytes, unsigned avail, enum cpu_mode mode);
