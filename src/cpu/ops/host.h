/* host.h — every place the engine runs guest arithmetic on the host's own SSE, MMX and x87
 * units, as inline assembly: the results and exception flags are then the hardware's, bit for
 * bit. This is the only file with host-specific code; each macro expands to a small static
 * function (or one asm statement) in the family file that uses it, so nothing is lost to a call.
 * The host must be x86-64 (checked here, at build time) and have the extensions these
 * instructions come from (SSE3, SSSE3, SSE4.1, SSE4.2: checked by host_check() in host.c when a
 * vCPU is created). Users: ops/sse (sse_common.h), ops/x87 (x87_ops.c).
 */
#pragma once
#if !defined(__x86_64__)
#error "vessel's CPU engine runs guest SSE/MMX/x87 arithmetic on the host: it needs an x86-64 host"
#endif
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Whether the host CPU has every extension the helpers below use (cpuid; vcpu_create asks); if
 * not, *missing names the first one absent. */
bool host_check(const char **missing);

/* Optional extensions the host has (a CPU model may offer only these): a mask of HOST_*, from
 * cpuid once (AVX-class bits only where the host OS enabled the YMM state; the environment
 * variable VESSEL_HOST_HIDE=AVX2,SHA,... hides some, for tests). The bit order is the order of
 * the names in cpuid.c. */
enum {
    HOST_AES = 1,
    HOST_PCLMUL = 2,
    HOST_SHA = 4,
    HOST_AVX = 8,
    HOST_AVX2 = 16,
    HOST_FMA = 32,
    HOST_F16C = 64
};
unsigned host_ext(void);

/* ---- SSE / MMX ---- */
typedef long long sse_v2 __attribute__((vector_size(16), may_alias));

/* The host's own MXCSR, to put back after engine code whose C arithmetic (not the guest's) may
 * have set its sticky flags: the monitor's floating-point state stays as it was. */
static inline uint32_t host_mxcsr_save(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}
static inline void host_mxcsr_restore(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" ::"m"(v));
}

/* uint32_t fn(union xmm *d, const union xmm *s, uint32_t mx): d = d OP s under MXCSR mx;
 * returns the MXCSR after the operation. */
#define SSE_HOST_FP(fname, mn)                                                                     \
    static uint32_t fname(union xmm *d, const union xmm *s, uint32_t mx)                           \
    {                                                                                              \
        sse_v2 a, b;                                                                               \
        uint32_t host = 0;                                                                         \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %[b], %[a]\n\t"                   \
                         "stmxcsr %[g]\n\tldmxcsr %[h]"                                            \
                         : [a] "+x"(a), [g] "+m"(mx), [h] "+m"(host)                               \
                         : [b] "x"(b));                                                            \
        memcpy(d, &a, 16);                                                                         \
        return mx;                                                                                 \
    }

/* void fn(union xmm *d, const union xmm *s): integer operation, no MXCSR involvement. */
#define SSE_HOST_INT(fname, mn)                                                                    \
    static void fname(union xmm *d, const union xmm *s)                                            \
    {                                                                                              \
        sse_v2 a, b;                                                                               \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        __asm__(mn " %[b], %[a]" : [a] "+x"(a) : [b] "x"(b));                                      \
        memcpy(d, &a, 16);                                                                         \
    }

/* uint64_t fn(uint64_t d, uint64_t s): MMX operation on the host's mm0 (then EMMS, so the
 * host's x87 stack is left empty as the ABI expects). */
#define MMX_HOST(fname, mn)                                                                        \
    static uint64_t fname(uint64_t d, uint64_t s)                                                  \
    {                                                                                              \
        __asm__("movq %[d], %%mm0\n\t" mn " %[s], %%mm0\n\tmovq %%mm0, %[d]\n\temms"               \
                : [d] "+m"(d)                                                                      \
                : [s] "m"(s)                                                                       \
                : "mm0", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");     \
        return d;                                                                                  \
    }

/* Run an instruction under the guest's MXCSR (%[g]), keeping the host's (%[h]). */
#define SSE_HOST_MX_PRE  "stmxcsr %[h]\n\tldmxcsr %[g]\n\t"
#define SSE_HOST_MX_POST "\n\tstmxcsr %[g]\n\tldmxcsr %[h]"

/* uint32_t fn(union xmm *d, type v, uint32_t mx): integer (general register or memory) to
 * scalar float, merged into d; returns the MXCSR after */
#define SSE_HOST_SI2F(fname, mn, type)                                                             \
    static uint32_t fname(union xmm *d, type v, uint32_t mx)                                       \
    {                                                                                              \
        sse_v2 a;                                                                                  \
        uint32_t host = 0;                                                                         \
        memcpy(&a, d, 16);                                                                         \
        __asm__ volatile(SSE_HOST_MX_PRE mn " %[v], %[a]" SSE_HOST_MX_POST                         \
                         : [a] "+x"(a), [g] "+m"(mx), [h] "+m"(host)                               \
                         : [v] "r"(v));                                                            \
        memcpy(d, &a, 16);                                                                         \
        return mx;                                                                                 \
    }

/* uint32_t fn(const union xmm *s, type *out, uint32_t mx): scalar float to integer */
#define SSE_HOST_F2SI(fname, mn, type)                                                             \
    static uint32_t fname(const union xmm *s, type *out, uint32_t mx)                              \
    {                                                                                              \
        sse_v2 a;                                                                                  \
        type r;                                                                                    \
        uint32_t host = 0;                                                                         \
        memcpy(&a, s, 16);                                                                         \
        __asm__ volatile(SSE_HOST_MX_PRE mn " %[a], %[r]" SSE_HOST_MX_POST                         \
                         : [r] "=r"(r), [g] "+m"(mx), [h] "+m"(host)                               \
                         : [a] "x"(a));                                                            \
        *out = r;                                                                                  \
        return mx;                                                                                 \
    }

/* One cmpps/cmpss/cmppd/cmpsd with literal predicate k: a = cmp(a, b) under MXCSR mx (the host's
 * MXCSR saved in host meanwhile). */
#define SSE_HOST_CMP(mn, k, a, b, mx, host)                                                        \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " $" #k ", %[b], %[a]\n\t"              \
                     "stmxcsr %[g]\n\tldmxcsr %[h]"                                                \
                     : [a] "+x"(a), [g] "+m"(mx), [h] "+m"(host)                                   \
                     : [b] "x"(b))

/* [u]comis{s,d} a, b under MXCSR mx: fl = the host's flags in LAHF layout (ZF PF CF). */
#define SSE_HOST_COMI(mn, a, b, mx, host, fl)                                                      \
    __asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %[b], %[a]\n\t"                       \
                     "lahf\n\tmovzbl %%ah, %k[f]\n\tstmxcsr %[g]\n\tldmxcsr %[h]"                  \
                     : [f] "=a"(fl), [g] "+m"(mx), [h] "+m"(host)                                  \
                     : [a] "x"(a), [b] "x"(b)                                                      \
                     : "cc")

/* ---- x87 ---- */
/* The frame every x87 helper runs in: save the host control word, load the guest's (with all
 * exceptions masked: x87_host_cw), clear stale flags; afterwards fninit, because an operation
 * that raised an unmasked exception may not have popped what it normally pops, and never leave
 * anything on the host's stack. */
#define X87_HOST_PRE  "fnstcw %[sv]\n\tfldcw %[cw]\n\tfnclex\n\t"
#define X87_HOST_POST "\n\tfninit\n\tfldcw %[sv]"
#define X87_HOST_CLOB "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"

/* uint16_t fn(f80 *a, const f80 *b, uint16_t cw): a = a op b on the host stack; returns FSW */
#define X87_HOST_AR_REG(fname, mn)                                                                 \
    static uint16_t fname(f80 *a, const f80 *b, uint16_t cw)                                       \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        __asm__ volatile(X87_HOST_PRE "fldt %[b]\n\tfldt %[a]\n\t" mn                              \
                                      "\n\tfnstsw %[sw]\n\tfnclex\n\t"                             \
                                      "fstpt %[a]\n\tfstp %%st(0)" X87_HOST_POST                   \
                         : [a] "+m"(*a), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [b] "m"(*b), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* uint16_t fn(f80 *a, const void *m, uint16_t cw): a = a op *(T *)m; returns FSW */
#define X87_HOST_AR_MEM(fname, mn, T)                                                              \
    static uint16_t fname(f80 *a, const void *m, uint16_t cw)                                      \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        const T *p = m;                                                                            \
        __asm__ volatile(X87_HOST_PRE                                                              \
                         "fldt %[a]\n\t" mn                                                        \
                         " %[m]\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[a]" X87_HOST_POST             \
                         : [a] "+m"(*a), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [m] "m"(*p), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* fcomi / fucomi: uint16_t fn(a, b, cw, uint64_t *fl), fl = the host's ZF PF CF */
#define X87_HOST_COMI(fname, mn)                                                                   \
    static uint16_t fname(const f80 *a, const f80 *b, uint16_t cw, uint64_t *fl)                   \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        uint64_t f;                                                                                \
        __asm__ volatile(X87_HOST_PRE                                                              \
                         "fldt %[b]\n\tfldt %[a]\n\t" mn "\n\tlahf\n\tmovzbl %%ah, %k[f]\n\t"      \
                         "fnstsw %[sw]\n\tfnclex\n\tfstp %%st(0)\n\tfstp %%st(0)" X87_HOST_POST    \
                         : [f] "=a"(f), [sw] "=m"(sw), [sv] "=m"(sv)                               \
                         : [a] "m"(*a), [b] "m"(*b), [cw] "m"(cw)                                  \
                         : X87_HOST_CLOB, "cc");                                                   \
        *fl = f;                                                                                   \
        return sw;                                                                                 \
    }

/* loads: uint16_t fn(f80 *r, const void *m, uint16_t cw), r = *(T *)m converted */
#define X87_HOST_LD(fname, mn, T)                                                                  \
    static uint16_t fname(f80 *r, const void *m, uint16_t cw)                                      \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        const T *p = m;                                                                            \
        __asm__ volatile(X87_HOST_PRE mn                                                           \
                         " %[m]\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[r]" X87_HOST_POST             \
                         : [r] "=m"(*r), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [m] "m"(*p), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* constants (rounded by RC like the hardware does), same signature as the loads */
#define X87_HOST_CONST(fname, mn)                                                                  \
    static uint16_t fname(f80 *r, const void *m, uint16_t cw)                                      \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        (void)m;                                                                                   \
        __asm__ volatile(X87_HOST_PRE mn "\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[r]" X87_HOST_POST  \
                         : [r] "=m"(*r), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [cw] "m"(cw)                                                            \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* stores: uint16_t fn(const f80 *a, void *m, uint16_t cw); KEEP uses the non-popping store */
#define X87_HOST_ST_KEEP(fname, mn, T)                                                             \
    static uint16_t fname(const f80 *a, void *m, uint16_t cw)                                      \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        T *p = m;                                                                                  \
        __asm__ volatile(X87_HOST_PRE                                                              \
                         "fldt %[a]\n\t" mn                                                        \
                         " %[m]\n\tfnstsw %[sw]\n\tfnclex\n\tfstp %%st(0)" X87_HOST_POST           \
                         : [m] "=m"(*p), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [a] "m"(*a), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }
#define X87_HOST_ST_POP(fname, mn, T)                                                              \
    static uint16_t fname(const f80 *a, void *m, uint16_t cw)                                      \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        T *p = m;                                                                                  \
        __asm__ volatile(X87_HOST_PRE "fldt %[a]\n\t" mn                                           \
                                      " %[m]\n\tfnstsw %[sw]\n\tfnclex" X87_HOST_POST              \
                         : [m] "=m"(*p), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [a] "m"(*a), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* D9 E0..FF: uint16_t fn(f80 *a, f80 *b, f80 *r, uint16_t cw). UNARY: ST0 op -> ST0 */
#define X87_HOST_UNARY(fname, mn)                                                                  \
    static uint16_t fname(f80 *a, f80 *b, f80 *r, uint16_t cw)                                     \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        (void)b, (void)r;                                                                          \
        __asm__ volatile(X87_HOST_PRE "fldt %[a]\n\t" mn                                           \
                                      "\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[a]" X87_HOST_POST     \
                         : [a] "+m"(*a), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [cw] "m"(cw)                                                            \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }
/* ST0 op ST1 -> ST0, ST1 kept */
#define X87_HOST_BINKEEP(fname, mn)                                                                \
    static uint16_t fname(f80 *a, f80 *b, f80 *r, uint16_t cw)                                     \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        (void)r;                                                                                   \
        __asm__ volatile(X87_HOST_PRE "fldt %[b]\n\tfldt %[a]\n\t" mn                              \
                                      "\n\tfnstsw %[sw]\n\tfnclex\n\t"                             \
                                      "fstpt %[a]\n\tfstp %%st(0)" X87_HOST_POST                   \
                         : [a] "+m"(*a), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [b] "m"(*b), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }
/* ST1 op ST0 -> ST1, pop: result in *b */
#define X87_HOST_BINPOP(fname, mn)                                                                 \
    static uint16_t fname(f80 *a, f80 *b, f80 *r, uint16_t cw)                                     \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        (void)r;                                                                                   \
        __asm__ volatile(X87_HOST_PRE "fldt %[b]\n\tfldt %[a]\n\t" mn                              \
                                      "\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[b]" X87_HOST_POST     \
                         : [b] "+m"(*b), [sw] "=m"(sw), [sv] "=m"(sv)                              \
                         : [a] "m"(*a), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }
/* ST0 -> ST0' (*a) and, when the host pushed, a new ST0 (*r); returns sw, pushed in *b.b[0] */
#define X87_HOST_PUSH2(fname, mn)                                                                  \
    static uint16_t fname(f80 *a, f80 *b, f80 *r, uint16_t cw)                                     \
    {                                                                                              \
        uint16_t sw, sv, s0;                                                                       \
        uint32_t pushed;                                                                           \
        __asm__ volatile(                                                                          \
            X87_HOST_PRE                                                                           \
            "xorl %[p], %[p]\n\tfldt %[a]\n\tfnstsw %[s0]\n\t" mn "\n\t"                           \
            "fnstsw %[sw]\n\tfnclex\n\tfstpt %[r]\n\tfnstsw %%ax\n\t"                              \
            "andw $0x3800, %%ax\n\tmovw %[s0], %%dx\n\tandw $0x3800, %%dx\n\t"                     \
            "cmpw %%dx, %%ax\n\tjne 1f\n\tfstpt %[a]\n\tmovl $1, %[p]\n1:" X87_HOST_POST           \
            : [a] "+m"(*a), [r] "=m"(*r), [sw] "=m"(sw), [sv] "=m"(sv), [s0] "=m"(s0),             \
              [p] "=&r"(pushed)                                                                    \
            : [cw] "m"(cw)                                                                         \
            : X87_HOST_CLOB, "ax", "dx", "cc");                                                    \
        b->b[0] = (uint8_t)pushed;                                                                 \
        return sw;                                                                                 \
    }
/* fprem/fprem1 leave C0/C1/C3 unchanged in some cases (0 rem y, x rem inf, ...): the guest's
 * condition codes are put in the host FSW first (fnstenv, edit, fldenv). */
#define X87_HOST_PREM(fname, mn)                                                                   \
    static uint16_t fname(f80 *a, f80 *b, f80 *r, uint16_t cw)                                     \
    {                                                                                              \
        uint16_t sw, sv, cc = r->b[0] | r->b[1] << 8;                                              \
        uint8_t env[28];                                                                           \
        __asm__ volatile(X87_HOST_PRE                                                              \
                         "fldt %[b]\n\tfldt %[a]\n\tfnstenv %[env]\n\t"                            \
                         "andw $0xb8ff, 4+%[env]\n\torw %w[cc], 4+%[env]\n\tfldenv %[env]\n\t" mn  \
                         "\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[a]\n\tfstp %%st(0)" X87_HOST_POST  \
                         : [a] "+m"(*a), [sw] "=m"(sw), [sv] "=m"(sv), [env] "=m"(env)             \
                         : [b] "m"(*b), [cw] "m"(cw), [cc] "r"(cc)                                 \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* ftst / fxam: uint16_t fn(const f80 *a, uint16_t cw) */
#define X87_HOST_EXAM(fname, mn)                                                                   \
    static uint16_t fname(const f80 *a, uint16_t cw)                                               \
    {                                                                                              \
        uint16_t sw, sv;                                                                           \
        __asm__ volatile(X87_HOST_PRE "fldt %[a]\n\t" mn                                           \
                                      "\n\tfnstsw %[sw]\n\tfnclex\n\tfstp %%st(0)" X87_HOST_POST   \
                         : [sw] "=m"(sw), [sv] "=m"(sv)                                            \
                         : [a] "m"(*a), [cw] "m"(cw)                                               \
                         : X87_HOST_CLOB);                                                         \
        return sw;                                                                                 \
    }

/* ---- SSE4.2 CRC32 (the host has SSE4.2: host_check) ---- */
/* CRC-32C of the low `size` bytes of v, continuing from crc (no pre/post inversion). */
static inline uint32_t host_crc32(uint32_t crc, uint64_t v, unsigned size)
{
    uint64_t c = crc;
    switch (size) {
    case 1: __asm__("crc32b %b1, %k0" : "+r"(c) : "r"(v)); break;
    case 2: __asm__("crc32w %w1, %k0" : "+r"(c) : "r"(v)); break;
    case 4: __asm__("crc32l %k1, %k0" : "+r"(c) : "r"(v)); break;
    default: __asm__("crc32q %1, %0" : "+r"(c) : "r"(v)); break;
    }
    return (uint32_t)c;
}

/* ---- instructions with an imm8: one asm statement per immediate value ---- */
/* HOST_IMM256(M) expands M(k) for k = 0..255 (k as a constant expression gas evaluates). */
#define HOST_IMM4(M, b) M(b + 0) M(b + 1) M(b + 2) M(b + 3)
#define HOST_IMM16(M, b)                                                                           \
    HOST_IMM4(M, b) HOST_IMM4(M, b + 4) HOST_IMM4(M, b + 8) HOST_IMM4(M, b + 12)
#define HOST_IMM64(M, b)                                                                           \
    HOST_IMM16(M, b) HOST_IMM16(M, b + 16) HOST_IMM16(M, b + 32) HOST_IMM16(M, b + 48)
#define HOST_IMM256(M) HOST_IMM64(M, 0) HOST_IMM64(M, 64) HOST_IMM64(M, 128) HOST_IMM64(M, 192)

/* uint32_t fn(union xmm *d, const union xmm *s, unsigned imm, uint32_t mx): d = op(d, s, imm)
 * under MXCSR mx; returns the MXCSR after. */
#define SSE_HOST_FP_IMM(fname, mn)                                                                 \
    static uint32_t fname(union xmm *d, const union xmm *s, unsigned imm, uint32_t mx)             \
    {                                                                                              \
        sse_v2 a, b;                                                                               \
        uint32_t host = 0;                                                                         \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        switch (imm & 0xff) {                                                                      \
            HOST_IMM256(SSE_HOST_FP_IMM_CASE_##fname)                                              \
        }                                                                                          \
        memcpy(d, &a, 16);                                                                         \
        return mx;                                                                                 \
    }
#define SSE_HOST_FP_IMM_CASE(mn, k)                                                                \
    case (k):                                                                                      \
        __asm__ volatile(SSE_HOST_MX_PRE mn " $(" #k "), %[b], %[a]" SSE_HOST_MX_POST              \
                         : [a] "+x"(a), [g] "+m"(mx), [h] "+m"(host)                               \
                         : [b] "x"(b));                                                            \
        break;

/* void fn(union xmm *d, const union xmm *s, unsigned imm): integer operation with an imm8. */
#define SSE_HOST_INT_IMM(fname, mn)                                                                \
    static void fname(union xmm *d, const union xmm *s, unsigned imm)                              \
    {                                                                                              \
        sse_v2 a, b;                                                                               \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        switch (imm & 0xff) {                                                                      \
            HOST_IMM256(SSE_HOST_INT_IMM_CASE_##fname)                                             \
        }                                                                                          \
        memcpy(d, &a, 16);                                                                         \
    }
#define SSE_HOST_INT_IMM_CASE(mn, k)                                                               \
    case (k): __asm__(mn " $(" #k "), %[b], %[a]" : [a] "+x"(a) : [b] "x"(b)); break;

/* void fn(union xmm *d, const union xmm *s, const union xmm *x0): integer operation with
 * XMM0 as an implicit third operand (pblendvb, blendvps/pd, sha256rnds2). */
#define SSE_HOST_INT_X0(fname, mn)                                                                 \
    static void fname(union xmm *d, const union xmm *s, const union xmm *x0)                       \
    {                                                                                              \
        sse_v2 a, b, z;                                                                            \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        memcpy(&z, x0, 16);                                                                        \
        __asm__(mn " %[z], %[b], %[a]" : [a] "+x"(a) : [b] "x"(b), [z] "Yz"(z));                   \
        memcpy(d, &a, 16);                                                                         \
    }

/* The SSE4.2 string compares: explicit (rax/rdx lengths) or implicit; imm8 controls. Each
 * returns the host's arithmetic flags; *ecx gets the index (…stri), *mask the mask (…strm). */
#define SSE_HOST_PCMPSTR_CASE(mn, k)                                                               \
    case (k):                                                                                      \
        __asm__(mn " $(" #k "), %[b], %[a]\n\tpushfq\n\tpopq %[fl]"                                \
                : [fl] "=r"(fl), "=c"(cx), "=Yz"(z)                                                \
                : [a] "x"(a), [b] "x"(b), "a"(ax), "d"(dx)                                         \
                : "cc");                                                                           \
        break;
#define SSE_HOST_PCMPSTR(fname, mn)                                                                \
    static uint64_t fname(const union xmm *d, const union xmm *s, unsigned imm, uint64_t ax,       \
                          uint64_t dx, uint32_t *ecx, union xmm *mask)                             \
    {                                                                                              \
        sse_v2 a, b, z;                                                                            \
        uint64_t fl = 0, cx = 0;                                                                   \
        memcpy(&a, d, 16);                                                                         \
        memcpy(&b, s, 16);                                                                         \
        switch (imm & 0xff) {                                                                      \
            HOST_IMM256(SSE_HOST_PCMPSTR_CASE_##fname)                                             \
        }                                                                                          \
        *ecx = (uint32_t)cx;                                                                       \
        memcpy(mask, &z, 16);                                                                      \
        return fl;                                                                                 \
    }

/* ---- AVX, AVX2, FMA, F16C (ops/avx): the very VEX instruction on copies of the guest's
 * registers. Each helper is compiled for the extension it needs (target attribute) and is only
 * reached when host_ext() has that extension: avx_lookup() checks before it hands one out.
 * l selects the 256-bit form; the 128-bit form leaves bits 255:128 of the result zero, as VEX
 * does. Results are written through void pointers to 32-byte buffers. ---- */
typedef long long avx_v4 __attribute__((vector_size(32), may_alias));

/* HOST_IMMX256(M, a) expands M(a, k) for k = 0..255 */
#define HOST_IMMX4(M, a, b) M(a, b + 0) M(a, b + 1) M(a, b + 2) M(a, b + 3)
#define HOST_IMMX16(M, a, b)                                                                       \
    HOST_IMMX4(M, a, b) HOST_IMMX4(M, a, b + 4) HOST_IMMX4(M, a, b + 8) HOST_IMMX4(M, a, b + 12)
#define HOST_IMMX64(M, a, b)                                                                       \
    HOST_IMMX16(M, a, b)                                                                           \
    HOST_IMMX16(M, a, b + 16) HOST_IMMX16(M, a, b + 32) HOST_IMMX16(M, a, b + 48)
#define HOST_IMMX256(M, a)                                                                         \
    HOST_IMMX64(M, a, 0) HOST_IMMX64(M, a, 64) HOST_IMMX64(M, a, 128) HOST_IMMX64(M, a, 192)

/* operand declarations: x result, y first source (VEX.vvvv), z second source (r/m), w is4 */
#define AVX_LOAD(T, v, p, n)                                                                       \
    T v;                                                                                           \
    memcpy(&v, p, n)
#define AVX_STORE128(d, x)                                                                         \
    do {                                                                                           \
        memcpy(d, &x, 16);                                                                         \
        memset((char *)(d) + 16, 0, 16);                                                           \
    } while (0)

/* d = op(a, b) [imm]; fp variants run under MXCSR mx and return the MXCSR after */
#define AVX_ASM_V3(T, mn, imm)                                                                     \
    __asm__ volatile(mn " " imm "%[z], %[y], %[x]" : [x] "=x"(x) : [y] "x"(y), [z] "x"(z))
#define AVX_ASM_V3_FP(T, mn, imm)                                                                  \
    __asm__ volatile(SSE_HOST_MX_PRE mn " " imm "%[z], %[y], %[x]" SSE_HOST_MX_POST                \
                     : [x] "=x"(x), [g] "+m"(mx), [h] "+m"(host)                                   \
                     : [y] "x"(y), [z] "x"(z))
#define AVX_ASM_V2(T, mn, imm) __asm__ volatile(mn " " imm "%[z], %[x]" : [x] "=x"(x) : [z] "x"(z))
#define AVX_ASM_V2_FP(T, mn, imm)                                                                  \
    __asm__ volatile(SSE_HOST_MX_PRE mn " " imm "%[z], %[x]" SSE_HOST_MX_POST                      \
                     : [x] "=x"(x), [g] "+m"(mx), [h] "+m"(host)                                   \
                     : [z] "x"(z))

/* dst/src widths: both by l (same), or one fixed at 128 */
#define AVX_BODY_SAME(KIND, mn, imm)                                                               \
    if (l) {                                                                                       \
        AVX_LOAD(avx_v4, y, a, 32);                                                                \
        AVX_LOAD(avx_v4, z, b, 32);                                                                \
        avx_v4 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(avx_v4, mn, imm);                                                           \
        memcpy(d, &x, 32);                                                                         \
    } else {                                                                                       \
        AVX_LOAD(sse_v2, y, a, 16);                                                                \
        AVX_LOAD(sse_v2, z, b, 16);                                                                \
        sse_v2 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(sse_v2, mn, imm);                                                           \
        AVX_STORE128(d, x);                                                                        \
    }
/* instructions defined for one length only (the decoder has refused the other) */
#define AVX_BODY_L0(KIND, mn, imm)                                                                 \
    {                                                                                              \
        AVX_LOAD(sse_v2, y, a, 16);                                                                \
        AVX_LOAD(sse_v2, z, b, 16);                                                                \
        sse_v2 x;                                                                                  \
        (void)y, (void)l;                                                                          \
        AVX_ASM_##KIND(sse_v2, mn, imm);                                                           \
        AVX_STORE128(d, x);                                                                        \
    }
#define AVX_BODY_L1(KIND, mn, imm)                                                                 \
    {                                                                                              \
        AVX_LOAD(avx_v4, y, a, 32);                                                                \
        AVX_LOAD(avx_v4, z, b, 32);                                                                \
        avx_v4 x;                                                                                  \
        (void)y, (void)l;                                                                          \
        AVX_ASM_##KIND(avx_v4, mn, imm);                                                           \
        memcpy(d, &x, 32);                                                                         \
    }
/* the r/m source is 128 bits whatever l is (shift counts, widening conversions) */
#define AVX_BODY_SRC128(KIND, mn, imm)                                                             \
    if (l) {                                                                                       \
        AVX_LOAD(avx_v4, y, a, 32);                                                                \
        AVX_LOAD(sse_v2, z, b, 16);                                                                \
        avx_v4 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(avx_v4, mn, imm);                                                           \
        memcpy(d, &x, 32);                                                                         \
    } else {                                                                                       \
        AVX_LOAD(sse_v2, y, a, 16);                                                                \
        AVX_LOAD(sse_v2, z, b, 16);                                                                \
        sse_v2 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(sse_v2, mn, imm);                                                           \
        AVX_STORE128(d, x);                                                                        \
    }
/* the result is 128 bits whatever l is (narrowing conversions, vextract*) */
#define AVX_BODY_DST128(KIND, mn, imm)                                                             \
    if (l) {                                                                                       \
        AVX_LOAD(avx_v4, y, a, 32);                                                                \
        AVX_LOAD(avx_v4, z, b, 32);                                                                \
        sse_v2 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(avx_v4, mn, imm);                                                           \
        AVX_STORE128(d, x);                                                                        \
    } else {                                                                                       \
        AVX_LOAD(sse_v2, y, a, 16);                                                                \
        AVX_LOAD(sse_v2, z, b, 16);                                                                \
        sse_v2 x;                                                                                  \
        (void)y;                                                                                   \
        AVX_ASM_##KIND(sse_v2, mn, imm);                                                           \
        AVX_STORE128(d, x);                                                                        \
    }

/* uint32_t fname(void *d, const void *a, const void *b, bool l, unsigned imm, uint32_t mx):
 * SHAPE is SAME, SRC128 or DST128; KIND is V3, V3_FP, V2 or V2_FP; an instruction without an
 * immediate ignores imm, an FP-less one ignores and returns mx. */
#define AVX_HOST(fname, tgt, SHAPE, KIND, mn)                                                      \
    static __attribute__((target(tgt))) uint32_t fname(void *d, const void *a, const void *b,      \
                                                       bool l, unsigned imm, uint32_t mx)          \
    {                                                                                              \
        uint32_t host = 0;                                                                         \
        (void)host, (void)imm;                                                                     \
        AVX_BODY_##SHAPE(KIND, mn, "") return mx;                                                  \
    }
#define AVX_UNPACK(...)      __VA_ARGS__
#define AVX_IMM_CASE(p, k)   AVX_IMM_CASE_I((AVX_UNPACK p, k))
#define AVX_IMM_CASE_I(args) AVX_IMM_CASE3 args
#define AVX_IMM_CASE3(S, K, mn, k)                                                                 \
    case (k): {                                                                                    \
        AVX_BODY_##S(K, mn, "$(" #k "), ")                                                         \
    } break;
/* the same with an imm8: one asm statement per value (gas evaluates "$(64 + 3)") */
#define AVX_HOST_IMM(fname, tgt, SHAPE, KIND, mn)                                                  \
    static __attribute__((target(tgt))) uint32_t fname(void *d, const void *a, const void *b,      \
                                                       bool l, unsigned imm, uint32_t mx)          \
    {                                                                                              \
        uint32_t host = 0;                                                                         \
        (void)host;                                                                                \
        switch (imm & 0xff) {                                                                      \
            HOST_IMMX256(AVX_IMM_CASE, (SHAPE, KIND, mn))                                          \
        }                                                                                          \
        return mx;                                                                                 \
    }

/* FMA: d = op(d, a, b) under MXCSR */
#define AVX_HOST_FMA(fname, mn)                                                                    \
    static __attribute__((target("avx,fma"))) uint32_t fname(void *d, const void *a,               \
                                                             const void *b, bool l, uint32_t mx)   \
    {                                                                                              \
        uint32_t host = 0;                                                                         \
        if (l) {                                                                                   \
            AVX_LOAD(avx_v4, x, d, 32);                                                            \
            AVX_LOAD(avx_v4, y, a, 32);                                                            \
            AVX_LOAD(avx_v4, z, b, 32);                                                            \
            __asm__ volatile(SSE_HOST_MX_PRE mn " %[z], %[y], %[x]" SSE_HOST_MX_POST               \
                             : [x] "+x"(x), [g] "+m"(mx), [h] "+m"(host)                           \
                             : [y] "x"(y), [z] "x"(z));                                            \
            memcpy(d, &x, 32);                                                                     \
        } else {                                                                                   \
            AVX_LOAD(sse_v2, x, d, 16);                                                            \
            AVX_LOAD(sse_v2, y, a, 16);                                                            \
            AVX_LOAD(sse_v2, z, b, 16);                                                            \
            __asm__ volatile(SSE_HOST_MX_PRE mn " %[z], %[y], %[x]" SSE_HOST_MX_POST               \
                             : [x] "+x"(x), [g] "+m"(mx), [h] "+m"(host)                           \
                             : [y] "x"(y), [z] "x"(z));                                            \
            AVX_STORE128(d, x);                                                                    \
        }                                                                                          \
        return mx;                                                                                 \
    }

/* is4 blends: d = op(a, b, w), the fourth register named by imm8[7:4] */
#define AVX_HOST_IS4(fname, tgt, mn)                                                               \
    static __attribute__((target(tgt))) void fname(void *d, const void *a, const void *b,          \
                                                   const void *c4, bool l)                         \
    {                                                                                              \
        if (l) {                                                                                   \
            AVX_LOAD(avx_v4, y, a, 32);                                                            \
            AVX_LOAD(avx_v4, z, b, 32);                                                            \
            AVX_LOAD(avx_v4, w, c4, 32);                                                           \
            avx_v4 x;                                                                              \
            __asm__(mn " %[w], %[z], %[y], %[x]"                                                   \
                    : [x] "=x"(x)                                                                  \
                    : [y] "x"(y), [z] "x"(z), [w] "x"(w));                                         \
            memcpy(d, &x, 32);                                                                     \
        } else {                                                                                   \
            AVX_LOAD(sse_v2, y, a, 16);                                                            \
            AVX_LOAD(sse_v2, z, b, 16);                                                            \
            AVX_LOAD(sse_v2, w, c4, 16);                                                           \
            sse_v2 x;                                                                              \
            __asm__(mn " %[w], %[z], %[y], %[x]"                                                   \
                    : [x] "=x"(x)                                                                  \
                    : [y] "x"(y), [z] "x"(z), [w] "x"(w));                                         \
            AVX_STORE128(d, x);                                                                    \
        }                                                                                          \
    }

/* uint32_t fn(union xmm *d, const union xmm *a, type v, uint32_t mx): VEX vcvtsi2ss/sd,
 * d = a with element 0 converted from v; returns the MXCSR after */
#define AVX_HOST_SI2F(fname, mn, type)                                                             \
    static uint32_t fname(union xmm *d, const union xmm *a, type v, uint32_t mx)                   \
    {                                                                                              \
        sse_v2 x, y;                                                                               \
        uint32_t host = 0;                                                                         \
        memcpy(&y, a, 16);                                                                         \
        __asm__ volatile(SSE_HOST_MX_PRE mn " %[v], %[y], %[x]" SSE_HOST_MX_POST                   \
                         : [x] "=x"(x), [g] "+m"(mx), [h] "+m"(host)                               \
                         : [y] "x"(y), [v] "r"(v));                                                \
        memcpy(d, &x, 16);                                                                         \
        return mx;                                                                                 \
    }

/* vcvtps2ph: 4 (l = 0) or 8 singles to halves under MXCSR mx, imm8 the rounding control;
 * the result is 8 or 16 bytes (the rest of *d zero) */
#define AVX_PS2PH_CASE(unused, k)                                                                  \
    case (k):                                                                                      \
        if (l) {                                                                                   \
            AVX_LOAD(avx_v4, z, s, 32);                                                            \
            __asm__ volatile(SSE_HOST_MX_PRE "vcvtps2ph $(" #k "), %[z], %[x]" SSE_HOST_MX_POST    \
                             : [x] "=x"(x), [g] "+m"(mx), [h] "+m"(host)                           \
                             : [z] "x"(z));                                                        \
        } else {                                                                                   \
            AVX_LOAD(sse_v2, z, s, 16);                                                            \
            __asm__ volatile(SSE_HOST_MX_PRE "vcvtps2ph $(" #k "), %[z], %[x]" SSE_HOST_MX_POST    \
                             : [x] "=x"(x), [g] "+m"(mx), [h] "+m"(host)                           \
                             : [z] "x"(z));                                                        \
        }                                                                                          \
        break;
#define AVX_HOST_PS2PH(fname)                                                                      \
    static __attribute__((target("avx,f16c"))) uint32_t fname(void *d, const void *s, bool l,      \
                                                              unsigned imm, uint32_t mx)           \
    {                                                                                              \
        uint32_t host = 0;                                                                         \
        sse_v2 x;                                                                                  \
        switch (imm & 0xff) {                                                                      \
            HOST_IMMX256(AVX_PS2PH_CASE, _)                                                        \
        }                                                                                          \
        AVX_STORE128(d, x);                                                                        \
        return mx;                                                                                 \
    }
