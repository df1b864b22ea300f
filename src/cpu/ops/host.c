/* host.c — the run-time half of host.h's promise: the host CPU has the extensions whose
 * instructions the helpers execute. Checked with cpuid once, when a vCPU is created, so a host
 * without them gets a message naming the missing extension instead of SIGILL mid-guest. The
 * optional extensions (AES-NI, PCLMULQDQ, SHA, the AVX class) are looked up once: a CPU model
 * (cpuid.c) may offer only those the host has, and the instruction tables hand out their forms
 * only when the selected model offers them. */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu/ops/host.h"

static unsigned host_ext_bits;
static int host_ext_done;

static unsigned host_ext_probe(void)
{
    unsigned a, b, c, d, e = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & (1u << 1)) e |= HOST_PCLMUL;
    if (c & (1u << 25)) e |= HOST_AES;
    /* AVX state must be enabled by the host's OS (OSXSAVE and XCR0 bits 1, 2) */
    bool ymm = false;
    if ((c & (1u << 27)) && (c & (1u << 28))) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ymm = (lo & 6) == 6;
    }
    if (ymm) e |= HOST_AVX;
    if (ymm && (c & (1u << 12))) e |= HOST_FMA;
    if (ymm && (c & (1u << 29))) e |= HOST_F16C;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & (1u << 29)) e |= HOST_SHA;
        if (ymm && (b & (1u << 5))) e |= HOST_AVX2;
    }
    return e;
}

/* VESSEL_HOST_HIDE=AVX2,SHA,...: a test knob that makes this host look as if it lacked those
 * optional extensions (the suite checks a model's refusal on any host with it). */
static unsigned host_ext_hidden(void)
{
    static const struct {
        unsigned bit;
        const char *name;
    } opt[] = {{HOST_AES, "AES"},   {HOST_PCLMUL, "PCLMUL"}, {HOST_SHA, "SHA"},  {HOST_AVX, "AVX"},
               {HOST_AVX2, "AVX2"}, {HOST_FMA, "FMA"},       {HOST_F16C, "F16C"}};
    const char *env = getenv("VESSEL_HOST_HIDE");
    unsigned h = 0;
    while (env && *env) {
        size_t n = strcspn(env, ",");
        for (unsigned k = 0; k < sizeof opt / sizeof opt[0]; k++)
            if (n == strlen(opt[k].name) && !strncasecmp(env, opt[k].name, n)) h |= opt[k].bit;
        env += n + (env[n] == ',');
    }
    /* the AVX class needs AVX itself */
    if (h & HOST_AVX) h |= HOST_AVX2 | HOST_FMA | HOST_F16C;
    return h;
}

unsigned host_ext(void)
{
    if (__atomic_load_n(&host_ext_done, __ATOMIC_ACQUIRE)) return host_ext_bits;
    __atomic_store_n(&host_ext_bits, host_ext_probe() & ~host_ext_hidden(), __ATOMIC_RELAXED);
    __atomic_store_n(&host_ext_done, 1, __ATOMIC_RELEASE);
    return host_ext_bits;
}

bool host_check(const char **missing)
{
    /* CPUID.1:ECX bits; SSE, SSE2 and MMX are part of x86-64 itself */
    static const struct {
        unsigned bit;
        const char *name;
    } need[] = {{0, "SSE3"}, {9, "SSSE3"}, {19, "SSE4.1"}, {20, "SSE4.2"}};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) {
        *missing = "CPUID leaf 1";
        return false;
    }
    for (unsigned k = 0; k < sizeof need / sizeof need[0]; k++)
        if (!((c >> need[k].bit) & 1)) {
            *missing = need[k].name;
            return false;
        }
    return true;
}
