/* xstate.h — the differential harness's rules for the XSAVE family (tests/cpu/xstate.c).
 *
 * XINUSE, the bitmap of state components not in their initial configuration, is tracked by
 * hardware in ways the manuals leave open: a CPU may report a component in use although it is
 * in its initial configuration (only the converse is forbidden). vessel computes it from the
 * state (docs/CPU-MODEL.md, rule xinuse). Where the host stored XSTATE_BV[i] = 1 for a
 * component the input had in its initial configuration, the host's answer is rewritten to
 * vessel's: the bit cleared and, for XSAVEOPT and XSAVEC (which skip components not in use),
 * the component's bytes left as they were. The MXCSR_MASK that XSAVE stores and the MXCSR bits
 * XRSTOR accepts follow vessel's MXCSR_MASK (0xFFFF) as for FXSAVE/FXRSTOR (vendor.c).
 */
#pragma once
#include <stdint.h>

#include "diff.h"

void xstate_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat, uint8_t *nat_data);
void xstate_print_summary(void);
