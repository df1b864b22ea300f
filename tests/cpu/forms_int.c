/* forms_int.c — the integer instruction forms checked against the host CPU (see diff.h).
 * Register choices vary across forms (legacy byte registers AH..BH, REX byte registers, r8-r15)
 * so operand resolution is exercised as well as semantics. Memory forms address [rbx] (plus
 * displacement or index where noted); prep hooks steer inputs where random values would leave
 * the data page, divide into #DE every time, or hit flags the manuals call undefined. */
#include <string.h>

#include "cpu/core.h"
#include "diff.h"

#define LE32(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), (uint8_t)((x) >> 24)
#define NB(...) (sizeof((uint8_t[]){__VA_ARGS__}))
#define FORM(n, fl, ud, pr, ...)                                                                   \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = fl, .undef = ud,       \
        .membase = R_RBX, .prep = pr                                                               \
    }
#define R(n, ...) FORM(n, 0, 0, NULL, __VA_ARGS__)
#define MB(n, base, ...)                                                                           \
    {                                                                                              \
        .name = n, .bytes = {__VA_ARGS__}, .len = NB(__VA_ARGS__), .flags = DIFF_MEM,              \
        .membase = base                                                                            \
    }
#define M(n, ...)      FORM(n, DIFF_MEM, 0, NULL, __VA_ARGS__)
#define RL(n, ...)     FORM(n, 0, F_AF, NULL, __VA_ARGS__)
#define ML(n, ...)     FORM(n, DIFF_MEM, F_AF, NULL, __VA_ARGS__)
#define BR(n, pr, ...) FORM(n, DIFF_BRANCH, 0, pr, __VA_ARGS__)
#define REL8           DIFF_REL_TAKEN
#define REL32          LE32(DIFF_REL_TAKEN)

/* ---- helpers for prep hooks ---- */

struct shape {
    unsigned size, op, modrm, imm8;
};

/* Operand size, opcode byte (0F-map opcodes as 0x100|op), ModRM and last byte of a form. */
static struct shape form_shape(const struct diff_form *f)
{
    struct shape s = {4, 0, 0, f->bytes[f->len - 1]};
    unsigned k = 0;
    for (;; k++) {
        uint8_t b = f->bytes[k];
        if (b == 0x66)
            s.size = s.size == 8 ? 8 : 2;
        else if (b >= 0x40 && b <= 0x4f)
            s.size = (b & 8) ? 8 : s.size;
        else if (b != 0xf3 && b != 0xf2 && b != 0x67 && b != 0xf0)
            break;
    }
    s.op = f->bytes[k++];
    if (s.op == 0x0f) s.op = 0x100 | f->bytes[k++];
    s.modrm = f->bytes[k];
    if (s.op == 0xc0 || s.op == 0xd0 || s.op == 0xd2) s.size = 1;
    return s;
}

static const uint8_t counts[] = {0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255};

/* Shifts and rotates: interesting CL values; mark the flags left undefined for this count. */
static void prep_shift(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                       struct diff_rng *r)
{
    struct shape sh = form_shape(f);
    if (diff_rand(r) % 4)
        s->gpr[R_RCX] = (s->gpr[R_RCX] & ~0xffull) | counts[diff_rand(r) % sizeof(counts)];
    unsigned cnt = sh.op == 0xd2 || sh.op == 0xd3   ? (unsigned)s->gpr[R_RCX] & 0xff
                   : sh.op == 0xd0 || sh.op == 0xd1 ? 1
                                                    : sh.imm8;
    unsigned n = cnt & (sh.size == 8 ? 63 : 31), kind = (sh.modrm >> 3) & 7;
    if (n == 0) return;
    if (n != 1) s->undef |= F_OF;
    if (kind >= 4) {
        s->undef |= F_AF;
        if (n >= sh.size * 8 && kind != 7) s->undef |= F_CF | F_OF;
    }
}

/* shld/shrd: counts up to the operand size (beyond it the result is undefined). */
static void prep_shxd(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                      struct diff_rng *r)
{
    struct shape sh = form_shape(f);
    unsigned cnt;
    if (sh.op & 1) {
        cnt = counts[diff_rand(r) % sizeof(counts)];
        if (sh.size == 2 && (cnt & 31) > 16) cnt = 16;
        s->gpr[R_RCX] = (s->gpr[R_RCX] & ~0xffull) | cnt;
    } else {
        cnt = f->bytes[f->len - 1];
    }
    unsigned n = cnt & (sh.size == 8 ? 63 : 31);
    if (n == 0) return;
    s->undef |= F_AF;
    if (n != 1) s->undef |= F_OF;
}

/* div/idiv: mostly quotients that fit; sometimes a zero divisor or an overflow (#DE). */
static void prep_div(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                     struct diff_rng *r)
{
    struct shape sh = form_shape(f);
    if (sh.op == 0xf6) sh.size = 1;
    unsigned bits = sh.size * 8;
    uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1;
    bool sgn = ((sh.modrm >> 3) & 7) == 7;
    uint64_t *divisor = (f->flags & DIFF_MEM) ? (uint64_t *)(d + (s->gpr[R_RBX] - DIFF_DATA))
                                              : &s->gpr[sh.modrm & 7];
    uint64_t dv = *divisor & m;
    unsigned pick = diff_rand(r) % 16;
    if (pick == 0) return; /* as random: usually an overflow */
    if (pick == 1) {
        dv = 0;
    } else if (dv == 0) {
        dv = 1 + diff_rand(r) % 100;
    }
    uint64_t v = (*divisor & ~m) | dv;
    memcpy(divisor, &v, 8);
    uint64_t hi;
    if (sgn) {
        /* sign-extend the dividend's low half into the high half: the quotient then fits
         * unless dividing the most negative value by -1 */
        uint64_t lo = sh.size == 1 ? s->gpr[R_RAX] & 0xff : s->gpr[R_RAX] & m;
        hi = (lo >> (bits - 1)) & 1 ? m : 0;
    } else {
        hi = dv ? (diff_rand(r) & m) % dv : 0;
    }
    if (sh.size == 1)
        s->gpr[R_RAX] = (s->gpr[R_RAX] & ~0xff00ull) | (hi & 0xff) << 8;
    else
        s->gpr[R_RDX] = (s->gpr[R_RDX] & ~m) | hi;
}

/* bt* with a register bit offset on memory: keep the addressed bit inside the data page. */
static void prep_bt_mem(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                        struct diff_rng *r)
{
    s->gpr[R_RBX] = DIFF_DATA + 0x800;
    s->gpr[R_RCX] = (uint64_t)((int64_t)(diff_rand(r) % 16000) - 8000);
    if (form_shape(f).size == 2 && (diff_rand(r) & 1))
        s->gpr[R_RCX] &= 0xffff; /* big 16-bit values are negative offsets at 16 bits */
}

/* String instructions: rsi/rdi inside the page with room either way, small counts, equal
 * runs so repe/repne iterate. */
static void prep_string(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                        struct diff_rng *r)
{
    uint64_t si = 0x300 + diff_rand(r) % 0x400, di = 0x300 + diff_rand(r) % 0x400;
    bool a32 = memchr(f->bytes, 0x67, f->len) != NULL;
    s->gpr[R_RSI] = DIFF_DATA + si;
    s->gpr[R_RDI] = DIFF_DATA + di;
    /* with addr32 the upper half of rcx is ignored, so leave it random */
    s->gpr[R_RCX] = (a32 ? s->gpr[R_RCX] & ~0xffffffffull : 0) | diff_rand(r) % 40;
    if (diff_rand(r) % 8 == 0) s->gpr[R_RCX] &= ~0xffffffffull;
    /* equal runs between the source and destination regions (for cmps), and runs of one
     * value equal to al/ax/eax/rax (for scas) */
    unsigned run = diff_rand(r) % 300;
    if (diff_rand(r) & 1) {
        memmove(d + di - 150, d + si - 150, run);
    } else {
        uint64_t a = s->gpr[R_RAX];
        unsigned sz = 1u << (diff_rand(r) % 4);
        for (unsigned k = 0; k + sz <= run; k += sz)
            memcpy(d + di - 150 + k, &a, sz);
    }
}

/* xlat and indexed addressing: base and index that stay inside the data page. */
static void prep_xlat(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                      struct diff_rng *r)
{
    s->gpr[R_RBX] = DIFF_DATA + 0x100 + diff_rand(r) % 0xa00;
    s->gpr[R_RCX] = diff_rand(r) % 64;
}

/* String instructions that run off the data page (into unmapped memory) partway: #PF at the
 * faulting iteration, with rcx/rsi/rdi saying how far they got. Either pointer may cross, at
 * either end of the page. */
static void prep_string_cross(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                              struct diff_rng *r)
{
    bool back = diff_rand(r) & 1;
    uint64_t near =
        back ? DIFF_DATA + diff_rand(r) % 48 : DIFF_DATA + 0x1000 - 1 - diff_rand(r) % 48;
    uint64_t mid = DIFF_DATA + 0x600 + diff_rand(r) % 0x200;
    s->rflags = back ? s->rflags | F_DF : s->rflags & ~(uint64_t)F_DF;
    bool via_si = diff_rand(r) & 1;
    s->gpr[R_RSI] = via_si ? near : mid;
    s->gpr[R_RDI] = via_si ? mid : near;
    s->gpr[R_RCX] = 1 + diff_rand(r) % 100;
    if (diff_rand(r) & 1)
        memset(d, 0, DIFF_DATA_SIZE); /* all equal (and all zero for scas with rax = 0) */
    if (diff_rand(r) & 1) s->gpr[R_RAX] = 0;
}

/* Long rep runs (thousands of elements) from the start of the page: the engine yields and
 * re-executes in chunks, then runs off the page into #PF. */
static void prep_string_long(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                             struct diff_rng *r)
{
    s->rflags &= ~(uint64_t)F_DF;
    s->gpr[R_RSI] = DIFF_DATA + diff_rand(r) % 64;
    s->gpr[R_RDI] = DIFF_DATA + diff_rand(r) % 64;
    s->gpr[R_RCX] = diff_rand(r) % 4 ? 2000 + diff_rand(r) % 7000 : diff_rand(r) % 4200;
    if (diff_rand(r) & 1) memset(d, 0, DIFF_DATA_SIZE);
    if (diff_rand(r) & 1) s->gpr[R_RAX] = 0;
}

/* A memory operand outside the mapped page, or straddling its end: #PF and nothing written. */
static void prep_unmapped(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                          struct diff_rng *r)
{
    switch (diff_rand(r) % 3) {
    case 0: s->gpr[R_RBX] = DIFF_DATA + 0x1000 - 1 - diff_rand(r) % 8; break;
    case 1: s->gpr[R_RBX] = DIFF_DATA + 0x1000 + diff_rand(r) % 0x8000; break;
    default: s->gpr[R_RBX] = DIFF_DATA - 1 - diff_rand(r) % 0x100; break;
    }
}

/* [rsp + rbx]: a small signed index so the operand stays in the page around RSP. */
static void prep_rsp_index(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                           struct diff_rng *r)
{
    s->gpr[R_RBX] = (uint64_t)((int64_t)(diff_rand(r) % 0xe00) - 0x700);
}

static void prep_loop(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                      struct diff_rng *r)
{
    if (diff_rand(r) & 1) s->gpr[R_RCX] = (s->gpr[R_RCX] & ~0xffffffffull) | diff_rand(r) % 3;
    if (diff_rand(r) % 4 == 0) s->gpr[R_RCX] = diff_rand(r) % 3;
}

/* Indirect branches: target one of the landing pads through rax, [rbx] or the stack. */
static void prep_indirect(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                          struct diff_rng *r)
{
    uint64_t t = diff_land(f, (int)(diff_rand(r) & 1));
    s->gpr[R_RAX] = t;
    if (f->flags & DIFF_MEM) memcpy(d + (s->gpr[R_RBX] - DIFF_DATA), &t, 8);
    memcpy(d + (DIFF_RSP - DIFF_DATA), &t, 8);
}

/* popf: random flags to pop, without TF or AC (they would trap the harness itself). */
static void prep_popf(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                      struct diff_rng *r)
{
    uint64_t v = diff_rand(r) & ~(uint64_t)(F_TF | F_AC | F_RF | F_VM);
    memcpy(d + (DIFF_RSP - DIFF_DATA), &v, 8);
}

/* enter/leave: a frame pointer inside the data page. */
static void prep_frame(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                       struct diff_rng *r)
{
    s->gpr[R_RBP] = DIFF_DATA + 0x900 + (diff_rand(r) % 64) * 8;
}

/* cmpxchg8b/16b: memory equal to rdx:rax half the time. */
static void prep_cx8(const struct diff_form *f, struct diff_state *s, uint8_t *d,
                     struct diff_rng *r)
{
    uint8_t *p = d + (s->gpr[R_RBX] - DIFF_DATA);
    if (diff_rand(r) & 1) {
        if (form_shape(f).size == 8) {
            memcpy(p, &s->gpr[R_RAX], 8);
            memcpy(p + 8, &s->gpr[R_RDX], 8);
        } else {
            memcpy(p, &s->gpr[R_RAX], 4);
            memcpy(p + 4, &s->gpr[R_RDX], 4);
        }
    }
}

/* cmpxchg: memory/destination equal to the accumulator half the time. */
static void prep_cx(const struct diff_form *f, struct diff_state *s, uint8_t *d, struct diff_rng *r)
{
    if (diff_rand(r) & 1) {
        if (f->flags & DIFF_MEM)
            memcpy(d + (s->gpr[R_RBX] - DIFF_DATA), &s->gpr[R_RAX], 8);
        else
            s->gpr[R_RSI] = s->gpr[R_RAX];
    }
}

/* ---- the table ---- */

/* One form per register of a +r opcode o (after prefix bytes p, before immediates). */
#define K8(M, ...)                                                                                 \
    M(0, __VA_ARGS__), M(1, __VA_ARGS__), M(2, __VA_ARGS__), M(3, __VA_ARGS__), M(4, __VA_ARGS__), \
        M(5, __VA_ARGS__), M(6, __VA_ARGS__), M(7, __VA_ARGS__)
#define PR0(k, n, o)          R(n, o + k)
#define PR1(k, n, p, o)       R(n, p, o + k)
#define PR2(k, n, p, q, o)    R(n, p, q, o + k)
#define PRI(k, n, o, ...)     R(n, o + k, __VA_ARGS__)
#define PRPI(k, n, p, o, ...) R(n, p, o + k, __VA_ARGS__)
#define PLUSR(n, o)           K8(PR0, n, o)
#define PLUSRP(n, p, o)       K8(PR1, n, p, o)
#define PLUSRP2(n, p, q, o)   K8(PR2, n, p, q, o)
#define PLUSRI(n, o, ...)     K8(PRI, n, o, __VA_ARGS__)
#define PLUSRPI(n, p, o, ...) K8(PRPI, n, p, o, __VA_ARGS__)

#define SHIFT_UD    F_OF /* replaced per case by prep_shift */
#define SH(n, ...)  FORM(n, 0, 0, prep_shift, __VA_ARGS__)
#define SHM(n, ...) FORM(n, DIFF_MEM, 0, prep_shift, __VA_ARGS__)
#define MUL_UD      (F_SF | F_ZF | F_AF | F_PF)
#define DIV_UD      F_ARITH
#define BT_UD       (F_OF | F_SF | F_AF | F_PF)
#define BSF_UD      (F_CF | F_OF | F_SF | F_AF | F_PF)
#define CNT_UD      (F_OF | F_SF | F_AF | F_PF)

/* All forms of one two-operand ALU operation (opcode base b = op * 8, group digit g = op). */
#define ALU(n, b, LOGIC)                                                                           \
    LOGIC(n " r/m8, r8", b + 0, 0xc8), LOGIC(n " r/m8, r8 (ah, ch)", b + 0, 0xe5),                 \
        LOGIC(n " r/m8, r8 (rex dil, sil)", 0x40, b + 0, 0xf7),                                    \
        LOGIC##M(n " m8, r8", b + 0, 0x0b), LOGIC(n " r/m32, r32", b + 1, 0xd1),                   \
        LOGIC(n " r/m16, r16", 0x66, b + 1, 0xd1), LOGIC(n " r/m64, r64", 0x48, b + 1, 0xd1),      \
        LOGIC(n " r/m64, r64 (r8, r9)", 0x4d, b + 1, 0xc8),                                        \
        LOGIC(n " r/m32, r32 (same)", b + 1, 0xc0), LOGIC##M(n " m32, r32", b + 1, 0x0b),          \
        LOGIC##M(n " m16, r16", 0x66, b + 1, 0x0b), LOGIC##M(n " m64, r64", 0x48, b + 1, 0x0b),    \
        LOGIC##M(n " m64, r64 (lock)", 0xf0, 0x48, b + 1, 0x0b),                                   \
        LOGIC##M(n " m32, r32 [rbx+disp8]", b + 1, 0x4b, 0x10), LOGIC(n " r8, r/m8", b + 2, 0xd1), \
        LOGIC##M(n " r8, m8", b + 2, 0x33), LOGIC(n " r32, r/m32", b + 3, 0xd1),                   \
        LOGIC(n " r16, r/m16", 0x66, b + 3, 0xd1), LOGIC(n " r64, r/m64", 0x48, b + 3, 0xd1),      \
        LOGIC##M(n " r32, m32", b + 3, 0x33), LOGIC##M(n " r64, m64", 0x48, b + 3, 0x33),          \
        LOGIC(n " al, imm8", b + 4, 0x81), LOGIC(n " eax, imm32", b + 5, LE32(0x80000001)),        \
        LOGIC(n " ax, imm16", 0x66, b + 5, 0x01, 0x80),                                            \
        LOGIC(n " rax, imm32", 0x48, b + 5, LE32(0xfffffff0)),                                     \
        LOGIC(n " r/m8, imm8", 0x80, 0xc1 | b, 0x7f),                                              \
        LOGIC(n " r/m8, imm8 (bh)", 0x80, 0xc7 | b, 0xff),                                         \
        LOGIC##M(n " m8, imm8", 0x80, 0x03 | b, 0x80),                                             \
        LOGIC(n " r/m32, imm32", 0x81, 0xc1 | b, LE32(0x7fffffff)),                                \
        LOGIC(n " r/m16, imm16", 0x66, 0x81, 0xc1 | b, 0xff, 0x7f),                                \
        LOGIC(n " r/m64, imm32", 0x48, 0x81, 0xc1 | b, LE32(0x80000000)),                          \
        LOGIC##M(n " m32, imm32", 0x81, 0x03 | b, LE32(0x12345678)),                               \
        LOGIC(n " r/m32, imm8", 0x83, 0xc1 | b, 0x80),                                             \
        LOGIC(n " r/m16, imm8", 0x66, 0x83, 0xc1 | b, 0x01),                                       \
        LOGIC(n " r/m64, imm8", 0x48, 0x83, 0xc1 | b, 0xff),                                       \
        LOGIC(n " r/m64, imm8 (r15)", 0x49, 0x83, 0xc7 | b, 0x01),                                 \
        LOGIC##M(n " m64, imm8", 0x48, 0x83, 0x03 | b, 0x7f)

#define ARITH   R
#define ARITHM  M
#define LOGICF  RL
#define LOGICFM ML

#define CC16(X)                                                                                    \
    X("o", 0), X("no", 1), X("b", 2), X("ae", 3), X("e", 4), X("ne", 5), X("be", 6), X("a", 7),    \
        X("s", 8), X("ns", 9), X("p", 10), X("np", 11), X("l", 12), X("ge", 13), X("le", 14),      \
        X("g", 15)
#define JCC8(s, c)   BR("j" s " rel8", NULL, 0x70 + c, REL8)
#define JCC32(s, c)  BR("j" s " rel32", NULL, 0x0f, 0x80 + c, REL32)
#define SETCC(s, c)  R("set" s " r/m8", 0x0f, 0x90 + c, 0xc1)
#define CMOV32(s, c) R("cmov" s " r32, r/m32", 0x0f, 0x40 + c, 0xd1)
#define CMOV64(s, c) R("cmov" s " r64, r/m64", 0x48, 0x0f, 0x40 + c, 0xd1)

const struct diff_form forms_int[] = {
    ALU("add", 0x00, ARITH),
    ALU("or", 0x08, LOGICF),
    ALU("adc", 0x10, ARITH),
    ALU("sbb", 0x18, ARITH),
    ALU("and", 0x20, LOGICF),
    ALU("sub", 0x28, ARITH),
    ALU("xor", 0x30, LOGICF),
    ALU("cmp", 0x38, ARITH),

    /* test */
    RL("test r/m8, r8", 0x84, 0xc8),
    RL("test r/m8, r8 (ah, dh)", 0x84, 0xe6),
    RL("test r/m32, r32", 0x85, 0xd1),
    RL("test r/m16, r16", 0x66, 0x85, 0xd1),
    RL("test r/m64, r64", 0x48, 0x85, 0xd1),
    ML("test m64, r64", 0x48, 0x85, 0x0b),
    RL("test al, imm8", 0xa8, 0x81),
    RL("test eax, imm32", 0xa9, LE32(0x80008001)),
    RL("test rax, imm32", 0x48, 0xa9, LE32(0x80008001)),
    RL("test r/m8, imm8", 0xf6, 0xc1, 0x0f),
    RL("test r/m8, imm8 (/1 alias)", 0xf6, 0xc9, 0x0f),
    RL("test r/m32, imm32 (/1 alias)", 0xf7, 0xc9, LE32(0x80000001)),
    RL("test r/m32, imm32", 0xf7, 0xc1, LE32(0xff00ff)),
    ML("test m16, imm16", 0x66, 0xf7, 0x03, 0x01, 0x80),

    /* inc, dec, not, neg */
    R("inc r/m8", 0xfe, 0xc1),
    R("inc r/m32", 0xff, 0xc1),
    R("inc r/m16", 0x66, 0xff, 0xc1),
    R("inc r/m64", 0x48, 0xff, 0xc1),
    M("inc m32", 0xff, 0x03),
    M("inc m64 (lock)", 0xf0, 0x48, 0xff, 0x03),
    R("dec r/m8 (ah)", 0xfe, 0xcc),
    R("dec r/m32", 0xff, 0xc9),
    R("dec r/m16", 0x66, 0xff, 0xc9),
    R("dec r/m64", 0x48, 0xff, 0xc9),
    M("dec m8", 0xfe, 0x0b),
    R("not r/m8", 0xf6, 0xd1),
    R("not r/m32", 0xf7, 0xd1),
    R("not r/m64", 0x48, 0xf7, 0xd1),
    M("not m16", 0x66, 0xf7, 0x13),
    R("neg r/m8", 0xf6, 0xd9),
    R("neg r/m32", 0xf7, 0xd9),
    R("neg r/m16", 0x66, 0xf7, 0xd9),
    R("neg r/m64", 0x48, 0xf7, 0xd9),
    M("neg m64", 0x48, 0xf7, 0x1b),

/* shifts and rotates: every kind, every size, CL / 1 / imm8 counts */
#define SHKIND(n, k)                                                                               \
    SH(n " r/m8, cl", 0xd2, 0xc6 | k << 3), SH(n " r/m16, cl", 0x66, 0xd3, 0xc6 | k << 3),         \
        SH(n " r/m32, cl", 0xd3, 0xc6 | k << 3), SH(n " r/m64, cl", 0x48, 0xd3, 0xc6 | k << 3),    \
        SH(n " r/m8, 1", 0xd0, 0xc6 | k << 3), SH(n " r/m32, 1", 0xd1, 0xc6 | k << 3),             \
        SH(n " r/m64, 1", 0x48, 0xd1, 0xc6 | k << 3),                                              \
        SH(n " r/m16, imm8 (9)", 0x66, 0xc1, 0xc6 | k << 3, 9),                                    \
        SH(n " r/m32, imm8 (0)", 0xc1, 0xc6 | k << 3, 0),                                          \
        SH(n " r/m32, imm8 (5)", 0xc1, 0xc6 | k << 3, 5),                                          \
        SH(n " r/m64, imm8 (33)", 0x48, 0xc1, 0xc6 | k << 3, 33),                                  \
        SH(n " r/m8, imm8 (12)", 0xc0, 0xc6 | k << 3, 12), SHM(n " m32, cl", 0xd3, 0x03 | k << 3), \
        SHM(n " m8, 1", 0xd0, 0x03 | k << 3)
    SHKIND("rol", 0),
    SHKIND("ror", 1),
    SHKIND("rcl", 2),
    SHKIND("rcr", 3),
    SHKIND("shl", 4),
    SHKIND("shr", 5),
    SHKIND("sal", 6),
    SHKIND("sar", 7),
    FORM("shld r/m32, r32, cl", 0, 0, prep_shxd, 0x0f, 0xa5, 0xd6),
    FORM("shld r/m16, r16, cl", 0, 0, prep_shxd, 0x66, 0x0f, 0xa5, 0xd6),
    FORM("shld r/m64, r64, cl", 0, 0, prep_shxd, 0x48, 0x0f, 0xa5, 0xd6),
    FORM("shld r/m32, r32, imm8", 0, 0, prep_shxd, 0x0f, 0xa4, 0xd6, 7),
    FORM("shld r/m64, r64, imm8", 0, 0, prep_shxd, 0x48, 0x0f, 0xa4, 0xd6, 1),
    FORM("shld m32, r32, cl", DIFF_MEM, 0, prep_shxd, 0x0f, 0xa5, 0x13),
    FORM("shrd r/m32, r32, cl", 0, 0, prep_shxd, 0x0f, 0xad, 0xd6),
    FORM("shrd r/m16, r16, cl", 0, 0, prep_shxd, 0x66, 0x0f, 0xad, 0xd6),
    FORM("shrd r/m64, r64, cl", 0, 0, prep_shxd, 0x48, 0x0f, 0xad, 0xd6),
    FORM("shrd r/m32, r32, imm8", 0, 0, prep_shxd, 0x0f, 0xac, 0xd6, 1),
    FORM("shrd r/m64, r64, imm8", 0, 0, prep_shxd, 0x48, 0x0f, 0xac, 0xd6, 40),
    FORM("shrd m64, r64, cl", DIFF_MEM, 0, prep_shxd, 0x48, 0x0f, 0xad, 0x13),

    /* multiply and divide */
    FORM("mul r/m8", 0, MUL_UD, NULL, 0xf6, 0xe1),
    FORM("mul r/m16", 0, MUL_UD, NULL, 0x66, 0xf7, 0xe1),
    FORM("mul r/m32", 0, MUL_UD, NULL, 0xf7, 0xe1),
    FORM("mul r/m64", 0, MUL_UD, NULL, 0x48, 0xf7, 0xe1),
    FORM("mul m64", DIFF_MEM, MUL_UD, NULL, 0x48, 0xf7, 0x23),
    FORM("imul r/m8", 0, MUL_UD, NULL, 0xf6, 0xe9),
    FORM("imul r/m16", 0, MUL_UD, NULL, 0x66, 0xf7, 0xe9),
    FORM("imul r/m32", 0, MUL_UD, NULL, 0xf7, 0xe9),
    FORM("imul r/m64", 0, MUL_UD, NULL, 0x48, 0xf7, 0xe9),
    FORM("imul m32", DIFF_MEM, MUL_UD, NULL, 0xf7, 0x2b),
    FORM("imul r32, r/m32", 0, MUL_UD, NULL, 0x0f, 0xaf, 0xd1),
    FORM("imul r16, r/m16", 0, MUL_UD, NULL, 0x66, 0x0f, 0xaf, 0xd1),
    FORM("imul r64, r/m64", 0, MUL_UD, NULL, 0x48, 0x0f, 0xaf, 0xd1),
    FORM("imul r64, m64", DIFF_MEM, MUL_UD, NULL, 0x48, 0x0f, 0xaf, 0x13),
    FORM("imul r32, r/m32, imm32", 0, MUL_UD, NULL, 0x69, 0xd1, LE32(0x12345)),
    FORM("imul r64, r/m64, imm32", 0, MUL_UD, NULL, 0x48, 0x69, 0xd1, LE32(0x80000001)),
    FORM("imul r16, r/m16, imm16", 0, MUL_UD, NULL, 0x66, 0x69, 0xd1, 0x34, 0x82),
    FORM("imul r32, r/m32, imm8", 0, MUL_UD, NULL, 0x6b, 0xd1, 0xfd),
    FORM("imul r64, r/m64, imm8", 0, MUL_UD, NULL, 0x48, 0x6b, 0xd1, 0x7f),
    FORM("div r/m8", DIFF_FAULTS, DIV_UD, prep_div, 0xf6, 0xf1),
    FORM("div r/m16", DIFF_FAULTS, DIV_UD, prep_div, 0x66, 0xf7, 0xf1),
    FORM("div r/m32", DIFF_FAULTS, DIV_UD, prep_div, 0xf7, 0xf1),
    FORM("div r/m64", DIFF_FAULTS, DIV_UD, prep_div, 0x48, 0xf7, 0xf1),
    FORM("div m32", DIFF_FAULTS | DIFF_MEM, DIV_UD, prep_div, 0xf7, 0x33),
    FORM("idiv r/m8", DIFF_FAULTS, DIV_UD, prep_div, 0xf6, 0xf9),
    FORM("idiv r/m16", DIFF_FAULTS, DIV_UD, prep_div, 0x66, 0xf7, 0xf9),
    FORM("idiv r/m32", DIFF_FAULTS, DIV_UD, prep_div, 0xf7, 0xf9),
    FORM("idiv r/m64", DIFF_FAULTS, DIV_UD, prep_div, 0x48, 0xf7, 0xf9),
    FORM("idiv m64", DIFF_FAULTS | DIFF_MEM, DIV_UD, prep_div, 0x48, 0xf7, 0x3b),

    /* bit operations */
    FORM("bt r/m32, r32", 0, BT_UD, NULL, 0x0f, 0xa3, 0xd6),
    FORM("bt r/m16, r16", 0, BT_UD, NULL, 0x66, 0x0f, 0xa3, 0xd6),
    FORM("bts r/m64, r64", 0, BT_UD, NULL, 0x48, 0x0f, 0xab, 0xd6),
    FORM("btr r/m32, r32", 0, BT_UD, NULL, 0x0f, 0xb3, 0xd6),
    FORM("btc r/m64, r64", 0, BT_UD, NULL, 0x48, 0x0f, 0xbb, 0xd6),
    FORM("bt m32, r32", DIFF_MEM, BT_UD, prep_bt_mem, 0x0f, 0xa3, 0x0b),
    FORM("bts m64, r64", DIFF_MEM, BT_UD, prep_bt_mem, 0x48, 0x0f, 0xab, 0x0b),
    FORM("btr m16, r16", DIFF_MEM, BT_UD, prep_bt_mem, 0x66, 0x0f, 0xb3, 0x0b),
    FORM("btc m32, r32 (lock)", DIFF_MEM, BT_UD, prep_bt_mem, 0xf0, 0x0f, 0xbb, 0x0b),
    FORM("bt r/m32, imm8", 0, BT_UD, NULL, 0x0f, 0xba, 0xe6, 37),
    FORM("bts r/m64, imm8", 0, BT_UD, NULL, 0x48, 0x0f, 0xba, 0xee, 63),
    FORM("btr r/m16, imm8", 0, BT_UD, NULL, 0x66, 0x0f, 0xba, 0xf6, 15),
    FORM("btc r/m32, imm8", 0, BT_UD, NULL, 0x0f, 0xba, 0xfe, 0),
    FORM("bts m64, imm8", DIFF_MEM, BT_UD, NULL, 0x48, 0x0f, 0xba, 0x2b, 45),
    FORM("bsf r32, r/m32", 0, BSF_UD, NULL, 0x0f, 0xbc, 0xd6),
    FORM("bsf r64, r/m64", 0, BSF_UD, NULL, 0x48, 0x0f, 0xbc, 0xd6),
    FORM("bsf r16, r/m16", 0, BSF_UD, NULL, 0x66, 0x0f, 0xbc, 0xd6),
    FORM("bsr r32, r/m32", 0, BSF_UD, NULL, 0x0f, 0xbd, 0xd6),
    FORM("bsr r64, m64", DIFF_MEM, BSF_UD, NULL, 0x48, 0x0f, 0xbd, 0x13),
    FORM("tzcnt r32, r/m32", 0, CNT_UD, NULL, 0xf3, 0x0f, 0xbc, 0xd6),
    FORM("tzcnt r64, r/m64", 0, CNT_UD, NULL, 0xf3, 0x48, 0x0f, 0xbc, 0xd6),
    FORM("tzcnt r16, r/m16", 0, CNT_UD, NULL, 0x66, 0xf3, 0x0f, 0xbc, 0xd6),
    FORM("lzcnt r32, r/m32", 0, CNT_UD, NULL, 0xf3, 0x0f, 0xbd, 0xd6),
    FORM("lzcnt r64, r/m64", 0, CNT_UD, NULL, 0xf3, 0x48, 0x0f, 0xbd, 0xd6),
    FORM("lzcnt r16, r/m16", 0, CNT_UD, NULL, 0x66, 0xf3, 0x0f, 0xbd, 0xd6),
    R("popcnt r32, r/m32", 0xf3, 0x0f, 0xb8, 0xd6),
    R("popcnt r64, r/m64", 0xf3, 0x48, 0x0f, 0xb8, 0xd6),
    R("popcnt r16, r/m16", 0x66, 0xf3, 0x0f, 0xb8, 0xd6),
    M("popcnt r64, m64", 0xf3, 0x48, 0x0f, 0xb8, 0x13),
    R("bswap r32", 0x0f, 0xc9),
    PLUSRP("bswap r32 (+r)", 0x0f, 0xc8),
    PLUSRP2("bswap r64 (+r)", 0x48, 0x0f, 0xc8),
    R("bswap r64", 0x48, 0x0f, 0xc9),
    R("bswap r64 (r12)", 0x49, 0x0f, 0xcc),

    /* moves */
    R("mov r/m8, r8", 0x88, 0xc8),
    R("mov r/m8, r8 (bh, ah)", 0x88, 0xe7),
    R("mov r/m8, r8 (rex spl, bpl)", 0x40, 0x88, 0xec),
    M("mov m8, r8", 0x88, 0x0b),
    R("mov r/m32, r32", 0x89, 0xd1),
    R("mov r/m16, r16", 0x66, 0x89, 0xd1),
    R("mov r/m64, r64", 0x48, 0x89, 0xd1),
    M("mov m64, r64", 0x48, 0x89, 0x0b),
    M("mov m16, r16", 0x66, 0x89, 0x0b),
    R("mov r8, r/m8", 0x8a, 0xd1),
    M("mov r8, m8 (dh)", 0x8a, 0x33),
    R("mov r32, r/m32", 0x8b, 0xd1),
    R("mov r64, r/m64 (r13, r10)", 0x4d, 0x8b, 0xea),
    M("mov r32, m32", 0x8b, 0x13),
    M("mov r64, m64", 0x48, 0x8b, 0x13),
    M("mov r16, m16", 0x66, 0x8b, 0x13),
    FORM("mov r64, m64 [rbx+rcx*8+disp8]", 0, 0, prep_xlat, 0x48, 0x8b, 0x54, 0xcb, 0x10),
    R("mov r32, [rip+disp32]", 0x8b, 0x05, LE32(DIFF_DATA + 0x100 - (DIFF_INSN + 6))),
    /* RIP-relative with an immediate after the displacement: RIP is the end of the whole
     * instruction, immediate included */
    R("mov m32, imm32 [rip+disp32]", 0xc7, 0x05, LE32(DIFF_DATA + 0x100 - (DIFF_INSN + 10)),
      LE32(0x11223344)),
    R("cmp m8, imm8 [rip+disp32]", 0x80, 0x3d, LE32(DIFF_DATA + 0x104 - (DIFF_INSN + 7)), 0x80),
    R("add m64, imm8 [rip+disp32]", 0x48, 0x83, 0x05, LE32(DIFF_DATA + 0x108 - (DIFF_INSN + 8)),
      0x7f),
    FORM("mov r32, [rcx*4+disp32] (no base)", 0, 0, prep_xlat, 0x8b, 0x04, 0x8d,
         LE32(DIFF_DATA + 0x100)),
    MB("mov r64, [r12] (sib)", R_R12, 0x49, 0x8b, 0x04, 0x24),
    MB("mov r64, [r13+0] (mod 01)", R_R13, 0x49, 0x8b, 0x45, 0x00),
    MB("add [rbp+8], eax", R_RBP, 0x01, 0x45, 0x08),
    FORM("sub r32, [rsp+rbx*1] (sib, rsp base)", 0, 0, prep_rsp_index, 0x2b, 0x04, 0x1c),
    MB("mov r8, [rbx+disp32]", R_RBX, 0x8a, 0x83, LE32(0x20)),
    MB("inc [rdi-16]", R_RDI, 0x48, 0xff, 0x47, 0xf0),
    R("mov r/m8, imm8", 0xc6, 0xc1, 0x5a),
    M("mov m8, imm8", 0xc6, 0x03, 0xa5),
    R("mov r/m32, imm32", 0xc7, 0xc1, LE32(0x87654321)),
    R("mov r/m64, imm32", 0x48, 0xc7, 0xc1, LE32(0x87654321)),
    M("mov m16, imm16", 0x66, 0xc7, 0x03, 0x34, 0x12),
    M("mov m64, imm32", 0x48, 0xc7, 0x03, LE32(0x7654321)),
    R("mov r8, imm8", 0xb1, 0x99),
    PLUSRI("mov r8, imm8 (+r)", 0xb0, 0x80),
    PLUSRPI("mov r8, imm8 (rex +r)", 0x40, 0xb0, 0x80),
    PLUSRI("mov r32, imm32 (+r)", 0xb8, LE32(0x80000001)),
    PLUSRPI("mov r64, imm64 (+r)", 0x48, 0xb8, LE32(0x80000001), LE32(0xfedcba98)),
    R("mov r8, imm8 (ch)", 0xb5, 0x99),
    R("mov r8, imm8 (r9b)", 0x41, 0xb1, 0x99),
    R("mov r32, imm32", 0xb9, LE32(0xdeadbeef)),
    R("mov r16, imm16", 0x66, 0xb9, 0xef, 0xbe),
    R("mov r64, imm64", 0x48, 0xb9, LE32(0xdeadbeef), LE32(0xcafebabe)),
    R("mov r64, imm64 (r11)", 0x49, 0xbb, LE32(0x1), LE32(0x80000000)),
    R("mov al, moffs8", 0xa0, LE32(DIFF_DATA + 0x123), LE32(0)),
    R("mov eax, moffs32", 0xa1, LE32(DIFF_DATA + 0x124), LE32(0)),
    R("mov rax, moffs64", 0x48, 0xa1, LE32(DIFF_DATA + 0x128), LE32(0)),
    R("mov moffs8, al", 0xa2, LE32(DIFF_DATA + 0x123), LE32(0)),
    R("mov moffs16, ax", 0x66, 0xa3, LE32(DIFF_DATA + 0x126), LE32(0)),
    R("mov moffs64, rax", 0x48, 0xa3, LE32(DIFF_DATA + 0x128), LE32(0)),
    R("movzx r32, r/m8", 0x0f, 0xb6, 0xd1),
    R("movzx r32, r/m8 (ah)", 0x0f, 0xb6, 0xd4),
    R("movzx r64, r/m16", 0x48, 0x0f, 0xb7, 0xd1),
    R("movzx r16, r/m8", 0x66, 0x0f, 0xb6, 0xd1),
    M("movzx r32, m16", 0x0f, 0xb7, 0x13),
    R("movsx r32, r/m8", 0x0f, 0xbe, 0xd1),
    R("movsx r64, r/m8 (rex sil)", 0x48, 0x0f, 0xbe, 0xd6),
    R("movsx r64, r/m16", 0x48, 0x0f, 0xbf, 0xd1),
    R("movsx r16, r/m8", 0x66, 0x0f, 0xbe, 0xd1),
    M("movsx r32, m8", 0x0f, 0xbe, 0x13),
    R("movsxd r64, r/m32", 0x48, 0x63, 0xd1),
    M("movsxd r64, m32", 0x48, 0x63, 0x13),
    R("movsxd r32, r/m32", 0x63, 0xd1),
    R("lea r64, [rbx+rcx*4+disp8]", 0x48, 0x8d, 0x44, 0x8b, 0x10),
    R("lea r32, [rbx+rcx]", 0x8d, 0x04, 0x0b),
    R("lea r16, [rbx+disp32]", 0x66, 0x8d, 0x83, LE32(0x12345678)),
    R("lea r64, [rip+disp32]", 0x48, 0x8d, 0x05, LE32(0x100)),
    R("lea r32, [ebx+ecx*2] (addr32)", 0x67, 0x8d, 0x04, 0x4b),
    R("lea r64, [r12+r13*8-1]", 0x4b, 0x8d, 0x44, 0xec, 0xff),
    R("xchg r/m8, r8", 0x86, 0xd1),
    R("xchg r/m8, r8 (ah, bh)", 0x86, 0xe7),
    R("xchg r/m32, r32", 0x87, 0xd1),
    R("xchg r/m32, r32 (same)", 0x87, 0xc9),
    R("xchg r/m64, r64", 0x48, 0x87, 0xd1),
    R("xchg r/m16, r16", 0x66, 0x87, 0xd1),
    M("xchg m64, r64", 0x48, 0x87, 0x13),
    M("xchg m8, r8", 0x86, 0x13),
    R("xchg eax, r32", 0x91),
    PLUSR("xchg eax, r32 (+r)", 0x90),
    PLUSRP("xchg rax, r64 (+r)", 0x48, 0x90),
    R("xchg rax, r64", 0x48, 0x93),
    R("xchg ax, r16", 0x66, 0x97),
    R("xchg rax, r8 (rex.b 90)", 0x49, 0x90),
    R("nop", 0x90),
    R("pause", 0xf3, 0x90),
    R("nop r/m32", 0x0f, 0x1f, 0x00),
    R("nop r/m16 (long)", 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00),
    R("prefetch hint 0f 18", 0x0f, 0x18, 0x0b),
    R("prefetchw", 0x0f, 0x0d, 0x0b),
    R("endbr64", 0xf3, 0x0f, 0x1e, 0xfa),
    R("hint nop 0f 19", 0x0f, 0x19, 0xc1),
    R("hint nop 0f 1a", 0x0f, 0x1a, 0xc1),
    R("hint nop 0f 1b", 0x0f, 0x1b, 0xc1),
    R("hint nop 0f 1c", 0x0f, 0x1c, 0xc1),
    R("hint nop 0f 1d", 0x0f, 0x1d, 0xc1),
    R("hint nop 0f 1e", 0x0f, 0x1e, 0xc1),
    R("cbw", 0x66, 0x98),
    R("cwde", 0x98),
    R("cdqe", 0x48, 0x98),
    R("cwd", 0x66, 0x99),
    R("cdq", 0x99),
    R("cqo", 0x48, 0x99),
    FORM("xlat", 0, 0, prep_xlat, 0xd7),

    /* cmpxchg, xadd */
    FORM("cmpxchg r/m32, r32", 0, 0, prep_cx, 0x0f, 0xb1, 0xd6),
    FORM("cmpxchg r/m8, r8", 0, 0, prep_cx, 0x0f, 0xb0, 0xd6),
    FORM("cmpxchg r/m16, r16", 0, 0, prep_cx, 0x66, 0x0f, 0xb1, 0xd6),
    FORM("cmpxchg r/m64, r64", 0, 0, prep_cx, 0x48, 0x0f, 0xb1, 0xd6),
    FORM("cmpxchg m64, r64 (lock)", DIFF_MEM, 0, prep_cx, 0xf0, 0x48, 0x0f, 0xb1, 0x13),
    FORM("cmpxchg m32, r32", DIFF_MEM, 0, prep_cx, 0x0f, 0xb1, 0x13),
    FORM("cmpxchg m8, r8", DIFF_MEM, 0, prep_cx, 0x0f, 0xb0, 0x13),
    FORM("cmpxchg8b m64", DIFF_MEM, 0, prep_cx8, 0x0f, 0xc7, 0x0b),
    FORM("cmpxchg8b m64 (lock)", DIFF_MEM, 0, prep_cx8, 0xf0, 0x0f, 0xc7, 0x0b),
    FORM("cmpxchg16b m128", DIFF_MEM, 0, prep_cx8, 0x48, 0x0f, 0xc7, 0x0b),
    FORM("cmpxchg16b m128 (misaligned: #GP)", DIFF_MEMOFS | DIFF_FAULTS, 0, prep_cx8, 0xf0, 0x48,
         0x0f, 0xc7, 0x0b),
    R("xadd r/m32, r32", 0x0f, 0xc1, 0xd1),
    R("xadd r/m8, r8", 0x0f, 0xc0, 0xd1),
    R("xadd r/m64, r64", 0x48, 0x0f, 0xc1, 0xd1),
    R("xadd r/m16, r16", 0x66, 0x0f, 0xc1, 0xd1),
    R("xadd r/m32, r32 (same)", 0x0f, 0xc1, 0xc9),
    M("xadd m64, r64 (lock)", 0xf0, 0x48, 0x0f, 0xc1, 0x13),
    M("xadd m16, r16", 0x66, 0x0f, 0xc1, 0x13),

    /* condition codes */
    CC16(SETCC),
    CC16(CMOV32),
    CC16(CMOV64),
    M("sete m8", 0x0f, 0x94, 0x03),
    R("setb r/m8 (ah)", 0x0f, 0x92, 0xc4),
    R("setl r/m8 (rex dil)", 0x40, 0x0f, 0x9c, 0xc7),
    R("cmove r16, r/m16", 0x66, 0x0f, 0x44, 0xd1),
    M("cmovne r32, m32", 0x0f, 0x45, 0x13),
    M("cmovg r64, m64", 0x48, 0x0f, 0x4f, 0x13),
    CC16(JCC8),
    CC16(JCC32),

    /* flags */
    R("cmc", 0xf5),
    R("clc", 0xf8),
    R("stc", 0xf9),
    R("cld", 0xfc),
    R("std", 0xfd),
    R("sahf", 0x9e),
    R("lahf", 0x9f),
    R("pushf", 0x9c),
    R("pushf (16)", 0x66, 0x9c),
    FORM("popf", 0, 0, prep_popf, 0x9d),
    FORM("popf (16)", 0, 0, prep_popf, 0x66, 0x9d),

    /* stack */
    R("push r64", 0x51),
    R("push rsp", 0x54),
    R("push r64 (r14)", 0x41, 0x56),
    R("push r16", 0x66, 0x51),
    R("pop r64", 0x59),
    R("pop rsp", 0x5c),
    R("pop r64 (r9)", 0x41, 0x59),
    R("pop r16", 0x66, 0x5a),
    PLUSR("push r64 (+r)", 0x50),
    PLUSR("pop r64 (+r)", 0x58),
    PLUSRP("pop r64 (rex.b +r)", 0x41, 0x58),
    R("push imm32", 0x68, LE32(0x80000000)),
    R("push imm8", 0x6a, 0xfe),
    R("push imm16", 0x66, 0x68, 0x34, 0x12),
    M("push m64", 0xff, 0x33),
    R("push r/m64", 0xff, 0xf1),
    M("push m16", 0x66, 0xff, 0x33),
    M("pop m64", 0x8f, 0x03),
    R("pop r/m64", 0x8f, 0xc1),
    R("pop [rsp+8]", 0x8f, 0x44, 0x24, 0x08),
    M("pop m16", 0x66, 0x8f, 0x03),
    FORM("enter imm16, 0", 0, 0, prep_frame, 0xc8, 0x10, 0x00, 0x00),
    FORM("enter imm16, 1", 0, 0, prep_frame, 0xc8, 0x20, 0x00, 0x01),
    FORM("enter imm16, 3", 0, 0, prep_frame, 0xc8, 0x08, 0x00, 0x03),
    FORM("leave", 0, 0, prep_frame, 0xc9),
    FORM("leave (16)", 0, 0, prep_frame, 0x66, 0xc9),

    /* control flow */
    BR("jmp rel8", NULL, 0xeb, REL8),
    BR("jmp rel32", NULL, 0xe9, REL32),
    BR("call rel32", NULL, 0xe8, REL32),
    BR("jmp r/m64", prep_indirect, 0xff, 0xe0),
    FORM("jmp m64", DIFF_BRANCH | DIFF_MEM, 0, prep_indirect, 0xff, 0x23),
    BR("call r/m64", prep_indirect, 0xff, 0xd0),
    FORM("call m64", DIFF_BRANCH | DIFF_MEM, 0, prep_indirect, 0xff, 0x13),
    BR("ret", prep_indirect, 0xc3),
    BR("ret imm16", prep_indirect, 0xc2, 0x18, 0x00),
    BR("loop rel8", prep_loop, 0xe2, REL8),
    BR("loope rel8", prep_loop, 0xe1, REL8),
    BR("loopne rel8", prep_loop, 0xe0, REL8),
    BR("loop rel8 (addr32)", prep_loop, 0x67, 0xe2, REL8),
    BR("jrcxz rel8", prep_loop, 0xe3, REL8),
    BR("jecxz rel8", prep_loop, 0x67, 0xe3, REL8),

/* string instructions */
#define STR(n, ...) FORM(n, 0, 0, prep_string, __VA_ARGS__)
    STR("movsb", 0xa4),
    STR("movsq", 0x48, 0xa5),
    STR("rep movsb", 0xf3, 0xa4),
    STR("rep movsw", 0xf3, 0x66, 0xa5),
    STR("rep movsd", 0xf3, 0xa5),
    STR("rep movsq", 0xf3, 0x48, 0xa5),
    STR("rep movsb (addr32)", 0xf3, 0x67, 0xa4),
    STR("cmpsb", 0xa6),
    STR("cmpsd", 0xa7),
    STR("repe cmpsb", 0xf3, 0xa6),
    STR("repne cmpsb", 0xf2, 0xa6),
    STR("repe cmpsq", 0xf3, 0x48, 0xa7),
    STR("repne cmpsw", 0xf2, 0x66, 0xa7),
    STR("stosb", 0xaa),
    STR("stosw", 0x66, 0xab),
    STR("rep stosb", 0xf3, 0xaa),
    STR("rep stosd", 0xf3, 0xab),
    STR("rep stosq", 0xf3, 0x48, 0xab),
    STR("rep stosq (addr32)", 0xf3, 0x67, 0x48, 0xab),
    STR("lodsb", 0xac),
    STR("lodsd", 0xad),
    STR("lodsq", 0x48, 0xad),
    STR("rep lodsw", 0xf3, 0x66, 0xad),
    STR("scasb", 0xae),
    STR("scasq", 0x48, 0xaf),
    STR("repe scasb", 0xf3, 0xae),
    STR("repne scasb", 0xf2, 0xae),
    STR("repne scasd", 0xf2, 0xaf),
    STR("repe scasw", 0xf3, 0x66, 0xaf),
    STR("repne scasb (addr32)", 0xf2, 0x67, 0xae),
#define XSTR(n, ...)                                                                               \
    FORM(n " (runs off the page: #PF)", DIFF_FAULTS, 0, prep_string_cross, __VA_ARGS__)
    XSTR("rep movsb", 0xf3, 0xa4),
    XSTR("rep movsq", 0xf3, 0x48, 0xa5),
    XSTR("rep movsw", 0xf3, 0x66, 0xa5),
    XSTR("rep stosb", 0xf3, 0xaa),
    XSTR("rep stosd", 0xf3, 0xab),
    XSTR("rep lodsq", 0xf3, 0x48, 0xad),
    XSTR("repe cmpsb", 0xf3, 0xa6),
    XSTR("repne cmpsd", 0xf2, 0xa7),
    XSTR("repe scasb", 0xf3, 0xae),
    XSTR("repne scasq", 0xf2, 0x48, 0xaf),
    XSTR("movsd", 0xa5),

#define LSTR(n, ...) FORM(n " (long count)", DIFF_FAULTS, 0, prep_string_long, __VA_ARGS__)
    LSTR("rep movsb", 0xf3, 0xa4),
    LSTR("rep movsd", 0xf3, 0xa5),
    LSTR("rep stosb", 0xf3, 0xaa),
    LSTR("rep stosq", 0xf3, 0x48, 0xab),
    LSTR("rep lodsb", 0xf3, 0xac),
    LSTR("repe cmpsb", 0xf3, 0xa6),
    LSTR("repe scasb", 0xf3, 0xae),
    LSTR("repne scasw", 0xf2, 0x66, 0xaf),

/* memory operands outside the mapped page (#PF), and straddling its ends */
#define XM(n, ...)                                                                                 \
    FORM(n " (unmapped / straddling: #PF)", DIFF_FAULTS, 0, prep_unmapped, __VA_ARGS__)
    XM("mov m64, r64", 0x48, 0x89, 0x0b),
    XM("mov r32, m32", 0x8b, 0x0b),
    XM("add m64, r64", 0x48, 0x01, 0x0b),
    XM("inc m16", 0x66, 0xff, 0x03),
    XM("xchg m64, r64", 0x48, 0x87, 0x0b),
    XM("cmpxchg m32, r32", 0x0f, 0xb1, 0x0b),
    XM("push m64", 0xff, 0x33),
    XM("pop m64", 0x8f, 0x03),
    /* SDM Vol 2B SAL/SAR/SHL/SHR: AF is undefined for a non-zero count */
    FORM("shl m32, 1 (unmapped / straddling: #PF)", DIFF_FAULTS, F_AF, prep_unmapped, 0xd1, 0x23),
    XM("jmp m64", 0xff, 0x23),
    XM("bts m64, imm8", 0x48, 0x0f, 0xba, 0x2b, 45),
    XM("cmpxchg8b m64", 0x0f, 0xc7, 0x0b),
    XM("call m64", 0xff, 0x13),
    XM("setne m8", 0x0f, 0x95, 0x03),
};

const unsigned forms_int_count = sizeof(forms_int) / sizeof(forms_int[0]);
