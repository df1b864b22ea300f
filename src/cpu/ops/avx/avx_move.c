/* avx_move.c — VEX moves, broadcasts, inserts/extracts, permutes of 128-bit lanes,
 * masked moves, gathers, vzeroupper/vzeroall, vldmxcsr/vstmxcsr and the instructions with a
 * general-register or flags operand. Plain C (data movement), except where noted. */
#include "cpu/ops/avx/avx.h"

const struct avx_form avx_move_forms[] = {
    {0, 0, 0, 0, 0, NULL},
};
const unsigned avx_move_forms_count = 0;
