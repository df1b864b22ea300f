/* approx.h — the differential harness's rule for the approximation instructions (RCPPS, RCPSS,
 * RSQRTPS, RSQRTSS). Their bits are defined only up to an error bound and differ between hosts,
 * so vessel computes them by its own rule (src/cpu/ops/sse/sse_approx.c, docs/CPU-MODEL.md).
 * For these forms the harness computes the rule independently, checks that the host's answer
 * lies within the SDM's bound of the exact value (so the rule is one a real CPU could give), and
 * then expects the rule's bits from the engine instead of the host's.
 */
#pragma once
#include <stdint.h>

#include "diff.h"

/* Rewrite the host's destination lanes with the rule's; lanes where the host is outside the
 * SDM's bound are left as the host gave them (the comparison then fails and prints them). */
void approx_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat);
void approx_print_summary(void);
