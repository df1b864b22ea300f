/* vendor.h — what the differential harness does about the host CPU's vendor.
 *
 * vessel's virtual CPU has one defined behaviour (docs/CPU-MODEL.md): where the Intel SDM and
 * the AMD APM leave a choice open, it follows Intel's hardware, and CPUID says GenuineIntel.
 * The oracle, however, is whatever CPU the tests run on. On an Intel host the native result is
 * vessel's rule and is compared as it is. On any other host (AMD, Hygon) a few forms are known
 * to differ, and for exactly those the native result is rewritten into vessel's documented rule
 * (or, where no rule can be computed without the engine, the differing bytes are masked) before
 * the comparison. Nothing else is loosened: each rule names the instruction, the condition
 * under which it applies and the state it touches, and the harness reports how often it
 * applied.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "diff.h"

/* Identify the host once (CPUID vendor, family/model, FXSAVE's MXCSR_MASK). */
void vendor_init(void);
/* "GenuineIntel", "AuthenticAMD", ... */
const char *vendor_host_name(void);
/* True when the host's own answers are vessel's rules (no rewriting at all). */
bool vendor_host_is_model(void);
/* One line describing the host, for the TAP output ("# host: ..."). */
void vendor_print_host(void);

/* Rewrite the native result of one case into vessel's rule where the host's vendor differs
 * for this form and case. in/data_in: the input; nat/nat_data: the host's result (modified);
 * emu/emu_data: the engine's result (read only, used for masks). */
void vendor_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat, uint8_t *nat_data, const struct diff_state *emu,
                const uint8_t *emu_data);

/* "# vendor rule NAME: applied to N cases in M forms" for every rule that applied. */
void vendor_print_summary(void);
