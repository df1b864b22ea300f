/* cpuid.c — the CPUID instruction's answers. The model is a plain GenuineIntel family-6 CPU
 * named "vessel virtual CPU", one core, one thread, with the KVM paravirtual leaves so Linux
 * uses kvmclock. Optional instruction-set features are advertised only if every representative
 * instruction of the feature decodes and has a handler (exec_lookup), so CPUID can never claim
 * more than the engine executes; platform basics (paging features, APIC, MSRs, SYSCALL...) are
 * fixed because the engine and the board provide them. */
#include <string.h>

#include "cpuid.h"
#include "decode.h"

/* Which register of which leaf a probed feature lives in. */
enum { P_1ECX, P_7EBX, P_7EDX, P_X1ECX, P_NREGS };

struct cpuid_probe {
    uint8_t where, bit, len;
    uint8_t bytes[7];
};

/* A feature is advertised iff all of its lines here are executable. */
static const struct cpuid_probe cpuid_probes[] = {
    {P_1ECX, 0, 4, {0xF3, 0x0F, 0x16, 0xC1}},              /* SSE3: movshdup */
    {P_1ECX, 0, 4, {0xF2, 0x0F, 0x7C, 0xC1}},              /* SSE3: haddps */
    {P_1ECX, 0, 4, {0xF2, 0x0F, 0xF0, 0x00}},              /* SSE3: lddqu */
    {P_1ECX, 1, 6, {0x66, 0x0F, 0x3A, 0x44, 0xC1, 0x00}},  /* PCLMULQDQ */
    {P_1ECX, 9, 5, {0x66, 0x0F, 0x38, 0x00, 0xC1}},        /* SSSE3: pshufb */
    {P_1ECX, 9, 6, {0x66, 0x0F, 0x3A, 0x0F, 0xC1, 0x08}},  /* SSSE3: palignr */
    {P_1ECX, 9, 5, {0x66, 0x0F, 0x38, 0x04, 0xC1}},        /* SSSE3: pmaddubsw */
    {P_1ECX, 13, 4, {0x48, 0x0F, 0xC7, 0x0F}},             /* CX16: cmpxchg16b */
    {P_1ECX, 19, 5, {0x66, 0x0F, 0x38, 0x17, 0xC1}},       /* SSE4.1: ptest */
    {P_1ECX, 19, 6, {0x66, 0x0F, 0x3A, 0x16, 0xC0, 0x00}}, /* SSE4.1: pextrd */
    {P_1ECX, 19, 5, {0x66, 0x0F, 0x38, 0x3A, 0xC1}},       /* SSE4.1: pminuw */
    {P_1ECX, 20, 6, {0x66, 0x0F, 0x3A, 0x63, 0xC1, 0x00}}, /* SSE4.2: pcmpistri */
    {P_1ECX, 20, 5, {0xF2, 0x0F, 0x38, 0xF1, 0xC1}},       /* SSE4.2: crc32 */
    {P_1ECX, 22, 4, {0x0F, 0x38, 0xF0, 0x07}},             /* MOVBE */
    {P_1ECX, 23, 4, {0xF3, 0x0F, 0xB8, 0xC1}},             /* POPCNT */
    {P_1ECX, 30, 3, {0x0F, 0xC7, 0xF0}},                   /* RDRAND */
    {P_7EBX, 3, 5, {0xC4, 0xE2, 0x70, 0xF2, 0xC2}},        /* BMI1: andn */
    {P_7EBX, 9, 2, {0xF3, 0xA4}},                          /* ERMS: rep movsb */
    {P_7EBX, 18, 3, {0x0F, 0xC7, 0xF8}},                   /* RDSEED */
    {P_7EBX, 19, 6, {0x66, 0x0F, 0x38, 0xF6, 0xC1}},       /* ADX: adcx */
    {P_7EDX, 4, 2, {0xF3, 0xA4}},                          /* FSRM: fast short rep movsb */
    {P_X1ECX, 0, 1, {0x9F}},                               /* LAHF/SAHF in 64-bit mode */
    {P_X1ECX, 5, 4, {0xF3, 0x0F, 0xBD, 0xC1}},             /* ABM: lzcnt */
    {P_X1ECX, 8, 3, {0x0F, 0x0D, 0x08}},                   /* PREFETCHW */
};

static bool cpuid_insn_ok(const struct cpuid_probe *p)
{
    struct insn in;
    memset(&in, 0, sizeof(in));
    if (decode_insn(&in, p->bytes, p->len, MODE_LONG64) != (int)p->len) return false;
    return exec_lookup(&in) != NULL;
}

/* Probed feature words; computed once (deterministic, so a racing recomputation is harmless). */
static uint32_t cpuid_probed[P_NREGS];
static int cpuid_probed_done;

static const uint32_t *cpuid_features(void)
{
    if (__atomic_load_n(&cpuid_probed_done, __ATOMIC_ACQUIRE)) return cpuid_probed;
    uint32_t yes[P_NREGS] = {0}, no[P_NREGS] = {0};
    for (unsigned k = 0; k < sizeof(cpuid_probes) / sizeof(cpuid_probes[0]); k++) {
        const struct cpuid_probe *p = &cpuid_probes[k];
        if (cpuid_insn_ok(p))
            yes[p->where] |= 1u << p->bit;
        else
            no[p->where] |= 1u << p->bit;
    }
    for (unsigned r = 0; r < P_NREGS; r++)
        __atomic_store_n(&cpuid_probed[r], yes[r] & ~no[r], __ATOMIC_RELAXED);
    __atomic_store_n(&cpuid_probed_done, 1, __ATOMIC_RELEASE);
    return cpuid_probed;
}

#define CPUID_MAX_BASIC 0x16u
#define CPUID_MAX_EXT   0x80000008u
#define CPUID_KVM_BASE  0x40000000u
#define CPUID_FAMILY    6u
#define CPUID_MODEL     0x2Fu /* plain number: >= 15 so Linux keeps PAT and constant TSC */
#define CPUID_STEPPING  1u

/* Leaf 1 EDX: fpu de pse tsc msr pae cx8 apic sep mtrr pge cmov pat pse36 clflush mmx fxsr
 * sse sse2. */
#define CPUID_1_EDX                                                                                \
    ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |           \
     (1u << 9) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |     \
     (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 1 ECX fixed part: tsc-deadline (the LAPIC implements it) and hypervisor. */
#define CPUID_1_ECX ((1u << 24) | (1u << 31))
/* 0x80000001 EDX: syscall, nx, pdpe1gb, rdtscp, lm. */
#define CPUID_X1_EDX ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29))

#define KVM_FEATURE_CLOCKSOURCE2           3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

static void cpuid_str(struct cpuid_regs *r, const char s[16])
{
    memcpy(&r->eax, s, 4);
    memcpy(&r->ebx, s + 4, 4);
    memcpy(&r->ecx, s + 8, 4);
    memcpy(&r->edx, s + 12, 4);
}

/* Leaf 4: L1d 32K 8-way, L1i 32K 8-way, L2 1M 16-way, all 64-byte lines, one core. */
static void cpuid_cache_leaf(uint32_t sub, struct cpuid_regs *r)
{
    static const struct {
        uint8_t type, level, ways;
        uint32_t sets;
    } caches[] = {{1, 1, 8, 64}, {2, 1, 8, 64}, {3, 2, 16, 1024}};
    if (sub >= sizeof(caches) / sizeof(caches[0])) return;
    r->eax = caches[sub].type | (caches[sub].level << 5) | (1u << 8); /* self-initialising */
    r->ebx = (63u) | (0u << 12) | ((uint32_t)(caches[sub].ways - 1) << 22);
    r->ecx = caches[sub].sets - 1;
    r->edx = 0;
}

void cpuid_query(const struct cpu *c, uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    const uint32_t *f = cpuid_features();
    uint64_t tsc_hz = c->tsc_hz ? c->tsc_hz : 2000000000ull;
    *r = (struct cpuid_regs){0};
    switch (leaf) {
    case 0:
        r->eax = CPUID_MAX_BASIC;
        memcpy(&r->ebx, "Genu", 4);
        memcpy(&r->edx, "ineI", 4);
        memcpy(&r->ecx, "ntel", 4);
        break;
    case 1:
        r->eax = CPUID_STEPPING | ((CPUID_MODEL & 0xf) << 4) | (CPUID_FAMILY << 8) |
                 ((CPUID_MODEL >> 4) << 16);
        r->ebx = (8u << 8) | (1u << 16) | ((uint32_t)(c->id & 0xff) << 24);
        r->ecx = CPUID_1_ECX | f[P_1ECX];
        r->edx = CPUID_1_EDX;
        break;
    case 2: r->eax = 0xff01; break; /* one round; descriptor 0xFF: "see leaf 4" */
    case 4: cpuid_cache_leaf(sub, r); break;
    case 6: r->eax = 1u << 2; break; /* ARAT: the APIC timer never stops */
    case 7:
        if (sub == 0) {
            r->ebx = f[P_7EBX];
            r->edx = f[P_7EDX];
        }
        break;
    case 0xB:
        /* One thread in one core: level 0 = SMT, level 1 = core, both with one CPU. */
        if (sub < 2) {
            r->eax = 0;
            r->ebx = 1;
            r->ecx = sub | ((sub + 1) << 8);
        } else {
            r->ecx = sub;
        }
        r->edx = c->id;
        break;
    case 0x15:
        /* TSC = crystal * EBX / EAX; report the TSC itself as the crystal. */
        r->eax = 1;
        r->ebx = 1;
        while (tsc_hz > 0xffffffffull) {
            tsc_hz /= 2;
            r->ebx *= 2;
        }
        r->ecx = (uint32_t)tsc_hz;
        break;
    case 0x16:
        r->eax = r->ebx = (uint32_t)((c->tsc_hz ? c->tsc_hz : tsc_hz) / 1000000);
        r->ecx = 100;
        break;
    case CPUID_KVM_BASE:
        r->eax = CPUID_KVM_BASE + 1;
        memcpy(&r->ebx, "KVMK", 4);
        memcpy(&r->ecx, "VMKV", 4);
        memcpy(&r->edx, "M\0\0\0", 4);
        break;
    case CPUID_KVM_BASE + 1:
        r->eax = (1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
        break;
    case 0x80000000: r->eax = CPUID_MAX_EXT; break;
    case 0x80000001:
        r->ecx = f[P_X1ECX];
        r->edx = CPUID_X1_EDX;
        break;
    case 0x80000002: cpuid_str(r, "vessel virtual C"); break;
    case 0x80000003: cpuid_str(r, "PU\0\0\0\0\0\0\0\0\0\0\0\0\0\0"); break;
    case 0x80000004: break;
    case 0x80000006: r->ecx = (1024u << 16) | (6u << 12) | 64u; break; /* 1M, 16-way */
    case 0x80000007:
        r->edx = 1u << 8; /* invariant TSC */
        break;
    case 0x80000008: r->eax = CPUID_PHYS_ADDR_BITS | (CPUID_LINEAR_ADDR_BITS << 8); break;
    default: break;
    }
}
