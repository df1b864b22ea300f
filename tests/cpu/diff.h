/* diff.h — differential testing of the CPU engine against the host CPU.
 *
 * A *form* is one instruction encoding (fixed bytes, registers already chosen) plus what the
 * harness needs to know to feed it random inputs and judge the result: which RFLAGS bits the
 * manuals leave undefined, which registers must keep fixed values, which register is the base
 * of its memory operand, whether it branches, and an optional prep hook that steers inputs.
 *
 * For every case the harness builds a random input state (GPRs biased toward edge values,
 * random CF/PF/AF/ZF/SF/OF/DF, random XMM registers, a random 4 KiB data page), then
 *   - runs the bytes natively from a generated stub (state loaded with mov/popfq/fxrstor64,
 *     stored back with mov/pushfq/fxsave64; faults caught as signals, the state then taken from
 *     the signal context), and
 *   - runs them in the engine with cpu_step(), on a flat 64-bit CPL-3 CPU whose guest RAM holds
 *     the same code and data at the same addresses,
 * and compares all 16 GPRs, RIP, RFLAGS (masked), the data page, the fault vector and, for forms
 * that ask for it, XMM0-15 + MXCSR and/or the x87 state.
 *
 * Fixed addresses (identical natively and in guest RAM, so RIP-relative forms work too):
 *   DIFF_DATA   the 4 KiB data page; memory operands must point into it
 *   DIFF_INSN   where the instruction under test starts
 * RSP is DIFF_DATA + 0x800 on entry unless a prep hook changes it (keep it inside the page).
 * Only these two pages are mapped (natively and in the engine's page tables): an access
 * elsewhere between DIFF_DATA and DIFF_CODE + 0x1000 is a #PF on both sides, which is how
 * faulting forms (e.g. a rep movs running off the page) are tested.
 *
 * Branches: after the instruction come two landing pads. Falling through reaches
 * diff_land(f, 0) = DIFF_INSN + len; a branch whose rel8/rel32 is DIFF_REL_TAKEN reaches
 * diff_land(f, 1) = DIFF_INSN + len + DIFF_REL_TAKEN. Indirect branches (ret, jmp/call r/m)
 * should target one of the two (prep hooks get them from diff_land()); a target the host cannot
 * fetch from faults there natively, and the engine is then stepped once more at the target so
 * both report that fault.
 *
 * Engine failures that are not guest-visible are reported as impossible vectors: 1000 + signal
 * when the engine itself raised a host signal (e.g. SIGFPE from host x87 code), 2000 when it
 * left the host FCW/MXCSR changed. The harness restores the host FPU after every engine step.
 * A rep instruction the engine yields on (RIP unchanged, see int_string.c) is stepped until it
 * completes or faults.
 *
 * Adding forms: write a table of struct diff_form (see forms_int.c), export it as
 *   const struct diff_form forms_xxx[]; const unsigned forms_xxx_count;
 * declare it below and add it to the list in test_diff.c (forms_sse is already wired up as a
 * weak symbol: just add forms_sse.c to tests/cpu/meson.build).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIFF_DATA      0x10000000ull
#define DIFF_DATA_SIZE 4096u
#define DIFF_CODE      0x10010000ull /* native stub page (prologue/epilogue) */
#define DIFF_INSN      0x10010800ull
#define DIFF_REL_TAKEN 10 /* rel8/rel32 that lands on the taken pad */
#define DIFF_RSP       (DIFF_DATA + 0x800)

/* The x87/SSE state as FXSAVE64 lays it out (512 bytes). */
struct diff_fx {
    uint16_t fcw, fsw;
    uint8_t ftw, rsv0; /* abridged tag: bit i = physical register i is valid */
    uint16_t fop;
    uint64_t fip, fdp;
    uint32_t mxcsr, mxcsr_mask;
    uint8_t st[8][16]; /* ST(0)..ST(7), 80-bit values in the low 10 bytes */
    uint8_t xmm[16][16];
    uint8_t rsv1[96];
} __attribute__((aligned(16)));

/* Register state in and out of one case. fx, xs_hdr and ymmh together are an XSAVE area
 * (standard format: legacy region, header, AVX state), which is how the native stub loads and
 * stores them when the host has AVX. */
struct diff_state {
    uint64_t gpr[16]; /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    uint64_t rip;     /* output: address of the next instruction (or of the faulting one) */
    uint64_t rflags;
    int vector;     /* output: -1 if the instruction retired, else the exception vector */
    uint32_t undef; /* input, set by prep hooks: extra RFLAGS bits undefined for this case */
    struct diff_fx fx __attribute__((aligned(64)));
    uint8_t xs_hdr[64];
    uint8_t ymmh[16][16]; /* bits 255:128 of YMM0-15 */
};

/* XCR0 of the engine under test: what the model supports, plus AVX wherever the host has it
 * (so AVX instructions can be compared before the model offers AVX as a whole). */
uint64_t diff_xcr0(void);
/* Whether the native stub moves the AVX state (the host has AVX enabled). */
bool diff_host_avx(void);
/* Whether the host runs 32-bit code (DIFF_C32 forms; a kernel without IA-32 emulation does
 * not: they are then skipped). */
bool diff_host_c32(void);
bool diff_host_c16(void); /* and 16-bit code in an LDT segment (DIFF_C16) */

/* Per-case random source (xorshift64*, seeded per form). */
struct diff_rng {
    uint64_t s;
};
uint64_t diff_rand(struct diff_rng *r);
/* A random value of `bits` bits biased toward edge values (0, 1, -1, sign bits, small). */
uint64_t diff_rand_edge(struct diff_rng *r, unsigned bits);

/* struct diff_form.flags */
#define DIFF_MEM    0x0001 /* gpr[membase] is pointed into the data page (offset aligned to 16) */
#define DIFF_BRANCH 0x0002 /* may branch: RIP compared against the landing pads */
#define DIFF_FAULTS 0x0004 /* may fault (e.g. #DE): faulting cases compare state at the fault */
#define DIFF_SSE    0x0008 /* compare XMM0-15 and MXCSR */
#define DIFF_X87    0x0010 /* compare FCW, FSW, abridged FTW, ST0-7 */
#define DIFF_MEMOFS 0x0020 /* memory base may land anywhere in [0, 4096-64], any alignment */
#define DIFF_IMM8   0x0040 /* the last byte (an imm8) is random per case, 0..255 */
/* runs in 32-bit code: natively in the host's compatibility-mode segment __USER32_CS (0x23,
 * reached with a far jump from the stub; the landing pads end in an INT3 whose signal context
 * is the result), in the engine with a flat 32-bit CS; register inputs are 32-bit values (the
 * upper halves are undefined across a mode switch) */
#define DIFF_C32 0x0080
/* runs in 16-bit code: natively in a 16-bit code segment at DIFF_CODE (an LDT entry made with
 * modify_ldt), in the engine with the same CS (rip is then IP; the harness reports linear
 * addresses for both); otherwise as DIFF_C32 */
#define DIFF_C16 0x0100

struct diff_form {
    const char *name;  /* e.g. "add r/m32, r32 (mem)" */
    uint8_t bytes[15]; /* the instruction; registers and immediates fixed */
    uint8_t len;
    uint16_t flags;  /* DIFF_* */
    uint32_t undef;  /* RFLAGS bits undefined after this instruction (masked in the compare) */
    uint16_t fixed;  /* bit r: gpr r is not randomised (rsp always is fixed at DIFF_RSP) */
    uint8_t membase; /* base register of the memory operand (with DIFF_MEM) */
    /* Optional: adjust the random input (clamp counts, avoid #DE, set branch targets). */
    void (*prep)(const struct diff_form *f, struct diff_state *s, uint8_t *data,
                 struct diff_rng *r);
    unsigned cases; /* 0: the default (1000; fewer under sanitizers) */
};

/* The landing pad address (0: fall-through, 1: taken) for form f. */
static inline uint64_t diff_land(const struct diff_form *f, int which)
{
    return DIFF_INSN + f->len + (which ? DIFF_REL_TAKEN : 0);
}

struct diff_result {
    unsigned cases;      /* cases run */
    unsigned mismatches; /* cases where engine and host differ */
    unsigned faults;     /* cases that faulted natively */
    bool skipped;        /* the engine does not implement the form (run anyway: #UD) */
};

/* Set up the native pages and signal handling once; false (with a message) if impossible. */
bool diff_init(void);
/* Run one form. Mismatches are printed to stderr (at most a few per form). */
void diff_run_form(const struct diff_form *f, unsigned cases, struct diff_result *out);
/* Whether the engine's decoder + exec_lookup claim the form's bytes. */
bool diff_form_implemented(const struct diff_form *f);
/* Default case count: 1000, or 200 when built with a sanitizer. */
unsigned diff_default_cases(void);

/* Form tables. */
extern const struct diff_form forms_int[];
extern const unsigned forms_int_count;
extern const struct diff_form forms_sse[];
extern const unsigned forms_sse_count;
extern const struct diff_form forms_ext[];
extern const unsigned forms_ext_count;
extern const struct diff_form forms_avx[];
extern const unsigned forms_avx_count;
extern const struct diff_form forms_c32[]; /* 16/32-bit operand and address sizes (DIFF_C32) */
extern const unsigned forms_c32_count;
extern const struct diff_form forms_c16[]; /* the same in 16-bit code (DIFF_C16) */
extern const unsigned forms_c16_count;
