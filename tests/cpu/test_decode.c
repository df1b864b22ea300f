/* test_decode.c — hand-checked encodings for the decoder. */
#include "check.h"
#include "cpu/decode.h"

int main(void)
{
    return check_done();
}
