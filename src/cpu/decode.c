/* decode.c — placeholder until the decoder lands: everything is #UD. */
#include "decode.h"

int decode_insn(struct insn *out, const uint8_t *bytes, unsigned avail, enum cpu_mode mode)
{
    (void)out, (void)bytes, (void)avail, (void)mode;
    return DECODE_UD;
}
