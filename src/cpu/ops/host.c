/* host.c — the run-time half of host.h's promise: the host CPU has the extensions whose
 * instructions the helpers execute. Checked with cpuid once, when a vCPU is created, so a host
 * without them gets a message naming the missing extension instead of SIGILL mid-guest. */
#include <cpuid.h>

#include "cpu/ops/host.h"

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
