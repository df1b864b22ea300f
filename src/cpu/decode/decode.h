/* decode.h — bytes to struct insn. Table-driven over the one-byte, 0F, 0F38 and 0F3A maps and
 * the three VEX maps; resolves prefixes, REX, VEX, ModRM/SIB/displacement, RIP-relative
 * addressing and immediates.
 * Knows lengths and operand shapes only, not semantics (see exec_lookup). Owned by decode.c.
 *
 * What the fields of struct insn hold (64-bit mode):
 * - op: map << 8 | opcode byte; VEX-encoded instructions use maps 5, 6 and 7 (4 + VEX.m-mmmm:
 *   0F, 0F 38, 0F 3A), so no legacy family can mistake one for its own. With VEX, flags has
 *   INSN_VEX (and INSN_VEXL for VEX.L = 1, INSN_REXW for VEX.W = 1, INSN_REX always, REX.R/X/B
 *   from VEX), mp is VEX.pp, vreg is VEX.vvvv, opsize is 4 or 8 (VEX.W: the general-register
 *   operand of BMI, vmovd/q, vcvtsi2ss...). A REX, 66, F2, F3 or LOCK prefix before VEX is #UD;
 *   the VEX tables also refuse the VEX.L / VEX.W / VEX.vvvv values an instruction does not
 *   define, and gathers (VSIB: a SIB byte whose index, never "none", is a vector register)
 *   whose destination, index and mask are not three different registers.
 *   Group opcodes (80, F7, FF, 0F 01, 0F AE, ...) are told apart by (modrm >> 3) & 7; 0F 01
 *   register forms by the whole modrm byte.
 * - reg / rm: ModRM.reg | REX.R << 3 and ModRM.rm | REX.B << 3. For +r opcodes (50+r, 58+r,
 *   90+r, B0+r, B8+r, 0F C8+r) both hold the low opcode bits | REX.B << 3. Segment-register
 *   operands (8C, 8E) and CR/DR numbers (0F 20..23) are in reg as well (CR8 = 8); use reg & 7
 *   for segment registers. 0F 20..23 never name memory: the mod field is ignored.
 * - opsize: 1 for byte opcodes; otherwise 4, 8 with REX.W, 2 with 66 (REX.W wins). Default-64
 *   opcodes (push/pop, pushf/popf, enter/leave, push/pop fs/gs, FF /6, 8F /0) give 8, or 2 with
 *   66 and no REX.W. Near branches (jcc, jmp, call incl. FF /2 /4, ret, loop/jrcxz) and mov
 *   to/from CR/DR are always 8: like Intel CPUs we ignore 66 on them, so rel32 stays 4 bytes.
 *   Where source and destination sizes differ (movzx/movsx/movsxd) opsize is the destination's;
 *   for in/out/ins/outs it is the data size (1, 2 or 4: REX.W means 4). On SSE/MMX opcodes
 *   66 is a mandatory prefix, not a size override: opsize is 4, or 8 with REX.W (the general
 *   register of movd/movq, pextrw, cvtsi2sd...). Where the size is fixed by the instruction
 *   (cmpxchg8b/16b, xsave, fences...) handlers look at INSN_REXW instead. For crc32
 *   (F2 0F 38 F0/F1) opsize follows the usual rule (the source size for F1; F0's is 1).
 * - addrsize: 8, or 4 with 67.
 * - Memory operands (flags & INSN_MEM): base (REG_RIP for RIP-relative, REG_NONE for the
 *   SIB no-base form with disp32), index (REG_NONE if none), scale (shift 0..3), disp.
 *   seg: FS or GS when overridden (INSN_SEGOVR set; CS/DS/ES/SS overrides are ignored as in
 *   64-bit mode and do not set it), else SS for an RSP/RBP base, else DS. Without a memory
 *   operand seg is the override or DS (string instructions' source segment).
 * - mov moffs (A0..A3): no INSN_MEM; imm = the absolute offset (8 bytes, or 4 zero-extended
 *   with 67), disp = 0, base = index = REG_NONE, seg as above.
 * - imm: sign-extended to 64 bits (imm8, imm16/32 by operand size, rel8, rel32, mov r64 imm64),
 *   except zero-extended for shift/rotate counts (C0/C1), port numbers (E4..E7), INT n, RET/RETF
 *   imm16, ENTER (imm = imm16, imm2 = nesting level) and every imm8 of the 0F, 0F38 and 0F3A
 *   maps. Group 3 test (F6/F7 /0 /1) carries its immediate like any other.
 * - mp: MP_F2/MP_F3 from the last F2/F3 prefix, else MP_66 if 66 was present, else MP_NONE.
 *   Opcodes whose legal prefixes are restricted (SSE forms, popcnt, ...) are #UD otherwise.
 * - flags: INSN_BRANCH for anything that may transfer control or change state that decoding
 *   or block execution depends on (branches, int/iret/syscall/sysret, hlt, in/out/ins/outs,
 *   mov to CR/DR/SS/segment, popf, sti, cpuid, wrmsr, the 0F 00 and 0F 01 groups, invd, wbinvd,
 *   clts, rsm, getsec, ud0/ud1/ud2). INSN_RESTART for the string instructions (6C..6F, A4..A7,
 *   AA..AF) with an F3 or F2 prefix: they re-execute themselves in chunks, so they end a block
 *   too. LOCK is #UD unless the opcode allows it with a memory destination (the decoder is the
 *   only judge of LOCK legality).
 * Deliberately #UD although defined somewhere: EVEX/XOP (62, 8F /1..7), VEX instructions
 * outside AVX/AVX2/FMA/F16C/BMI1/BMI2 and the VEX.128 AES/PCLMULQDQ forms (AVX-512 mask
 * registers, AMX, AVX-VNNI, GFNI, VAES/VPCLMULQDQ 256-bit, FMA4), 3DNow!
 * (0F 0F, femms), AMD SSE4a (66/F2 0F 78/79, F2/F3 0F 2B), TSX xbegin/xabort (C7/C6 F8),
 * VIA padlock, SGX/SEV/TDX/uintr/waitpkg/CET-shadow-stack forms of 0F 01, 0F AE and 0F C7,
 * movdiri/movdir64b, key locker. tests/cpu/test_decode_zydis.c reports these counts. */
#pragma once
#include <stdint.h>

#include "cpu/core.h"

#define DECODE_UD     (-1) /* invalid or unsupported encoding: #UD */
#define DECODE_SHORT  (-2) /* ran out of bytes (avail too small) before the end */
#define DECODE_MAXLEN 15

/* Decode one instruction from `bytes` (avail bytes readable). Returns its length (and fills
 * *out, leaving out->fn NULL) or DECODE_UD / DECODE_SHORT. An encoding longer than 15 bytes
 * is DECODE_UD (the CPU raises #GP for it; the engine treats it as #UD-class). Only
 * MODE_LONG64 is decoded for now; other modes return DECODE_UD. */
int decode_insn(struct insn *out, const uint8_t *bytes, unsigned avail, enum cpu_mode mode);
