/* forms_x87.h — the x87 forms for the differential harness: generated rows (FORMS_X87, spliced
 * into forms_sse[] so test_diff runs them with the SSE table) and the prep hook that gives
 * them a random x87 state (forms_x87.c). */
#pragma once
#include "diff.h"

void prep_x87(const struct diff_form *f, struct diff_state *s, uint8_t *data, struct diff_rng *r);

#define FORMS_X87 \
    F("fadd m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x03), \
    F("fadd m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x03), \
    F("fiadd m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x03), \
    F("fiadd m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x03), \
    F("fadd st0, st0", DIFF_X87, prep_x87, 0xd8, 0xc0), \
    F("fadd st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xc0), \
    F("faddp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xc0), \
    F("fadd st0, st1", DIFF_X87, prep_x87, 0xd8, 0xc1), \
    F("fadd st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xc1), \
    F("faddp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xc1), \
    F("fadd st0, st5", DIFF_X87, prep_x87, 0xd8, 0xc5), \
    F("fadd st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xc5), \
    F("faddp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xc5), \
    F("fmul m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x0b), \
    F("fmul m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x0b), \
    F("fimul m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x0b), \
    F("fimul m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x0b), \
    F("fmul st0, st0", DIFF_X87, prep_x87, 0xd8, 0xc8), \
    F("fmul st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xc8), \
    F("fmulp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xc8), \
    F("fmul st0, st1", DIFF_X87, prep_x87, 0xd8, 0xc9), \
    F("fmul st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xc9), \
    F("fmulp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xc9), \
    F("fmul st0, st5", DIFF_X87, prep_x87, 0xd8, 0xcd), \
    F("fmul st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xcd), \
    F("fmulp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xcd), \
    F("fcom m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x13), \
    F("fcom m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x13), \
    F("ficom m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x13), \
    F("ficom m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x13), \
    F("fcom st0, st0", DIFF_X87, prep_x87, 0xd8, 0xd0), \
    F("fcom st0, st1", DIFF_X87, prep_x87, 0xd8, 0xd1), \
    F("fcom st0, st5", DIFF_X87, prep_x87, 0xd8, 0xd5), \
    F("fcomp m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x1b), \
    F("fcomp m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x1b), \
    F("ficomp m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x1b), \
    F("ficomp m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x1b), \
    F("fcomp st0, st0", DIFF_X87, prep_x87, 0xd8, 0xd8), \
    F("fcomp st0, st1", DIFF_X87, prep_x87, 0xd8, 0xd9), \
    F("fcomp st0, st5", DIFF_X87, prep_x87, 0xd8, 0xdd), \
    F("fsub m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x23), \
    F("fsub m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x23), \
    F("fisub m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x23), \
    F("fisub m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x23), \
    F("fsub st0, st0", DIFF_X87, prep_x87, 0xd8, 0xe0), \
    F("fsub st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xe0), \
    F("fsubp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xe0), \
    F("fsub st0, st1", DIFF_X87, prep_x87, 0xd8, 0xe1), \
    F("fsub st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xe1), \
    F("fsubp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xe1), \
    F("fsub st0, st5", DIFF_X87, prep_x87, 0xd8, 0xe5), \
    F("fsub st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xe5), \
    F("fsubp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xe5), \
    F("fsubr m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x2b), \
    F("fsubr m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x2b), \
    F("fisubr m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x2b), \
    F("fisubr m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x2b), \
    F("fsubr st0, st0", DIFF_X87, prep_x87, 0xd8, 0xe8), \
    F("fsubr st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xe8), \
    F("fsubrp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xe8), \
    F("fsubr st0, st1", DIFF_X87, prep_x87, 0xd8, 0xe9), \
    F("fsubr st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xe9), \
    F("fsubrp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xe9), \
    F("fsubr st0, st5", DIFF_X87, prep_x87, 0xd8, 0xed), \
    F("fsubr st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xed), \
    F("fsubrp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xed), \
    F("fdiv m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x33), \
    F("fdiv m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x33), \
    F("fidiv m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x33), \
    F("fidiv m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x33), \
    F("fdiv st0, st0", DIFF_X87, prep_x87, 0xd8, 0xf0), \
    F("fdiv st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xf0), \
    F("fdivp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xf0), \
    F("fdiv st0, st1", DIFF_X87, prep_x87, 0xd8, 0xf1), \
    F("fdiv st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xf1), \
    F("fdivp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xf1), \
    F("fdiv st0, st5", DIFF_X87, prep_x87, 0xd8, 0xf5), \
    F("fdiv st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xf5), \
    F("fdivp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xf5), \
    F("fdivr m32fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xd8, 0x3b), \
    F("fdivr m64fp", DIFF_X87 | DIFF_MEM, prep_x87, 0xdc, 0x3b), \
    F("fidivr m32int", DIFF_X87 | DIFF_MEM, prep_x87, 0xda, 0x3b), \
    F("fidivr m16int", DIFF_X87 | DIFF_MEM, prep_x87, 0xde, 0x3b), \
    F("fdivr st0, st0", DIFF_X87, prep_x87, 0xd8, 0xf8), \
    F("fdivr st0, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xf8), \
    F("fdivrp st0, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xf8), \
    F("fdivr st0, st1", DIFF_X87, prep_x87, 0xd8, 0xf9), \
    F("fdivr st1, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xf9), \
    F("fdivrp st1, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xf9), \
    F("fdivr st0, st5", DIFF_X87, prep_x87, 0xd8, 0xfd), \
    F("fdivr st5, st0 (dc)", DIFF_X87, prep_x87, 0xdc, 0xfd), \
    F("fdivrp st5, st0 (de)", DIFF_X87, prep_x87, 0xde, 0xfd), \
    F("fcompp", DIFF_X87, prep_x87, 0xde, 0xd9), \
    F("fucompp", DIFF_X87, prep_x87, 0xda, 0xe9), \
    F("fucom st1", DIFF_X87, prep_x87, 0xdd, 0xe1), \
    F("fucomp st1", DIFF_X87, prep_x87, 0xdd, 0xe9), \
    F("fucomi st0, st1", DIFF_X87, prep_x87, 0xdb, 0xe9), \
    F("fcomi st0, st1", DIFF_X87, prep_x87, 0xdb, 0xf1), \
    F("fucomip st0, st1", DIFF_X87, prep_x87, 0xdf, 0xe9), \
    F("fcomip st0, st1", DIFF_X87, prep_x87, 0xdf, 0xf1), \
    F("fucom st3", DIFF_X87, prep_x87, 0xdd, 0xe3), \
    F("fucomp st3", DIFF_X87, prep_x87, 0xdd, 0xeb), \
    F("fucomi st0, st3", DIFF_X87, prep_x87, 0xdb, 0xeb), \
    F("fcomi st0, st3", DIFF_X87, prep_x87, 0xdb, 0xf3), \
    F("fucomip st0, st3", DIFF_X87, prep_x87, 0xdf, 0xeb), \
    F("fcomip st0, st3", DIFF_X87, prep_x87, 0xdf, 0xf3), \
    F("fld m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x03), \
    F("fst m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x13), \
    F("fstp m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x1b), \
    F("fld m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x03), \
    F("fisttp m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x0b), \
    F("fst m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x13), \
    F("fstp m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x1b), \
    F("fild m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x03), \
    F("fisttp m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x0b), \
    F("fist m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x13), \
    F("fistp m32 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x1b), \
    F("fld m80 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x2b), \
    F("fstp m80 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdb, 0x3b), \
    F("fild m16 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x03), \
    F("fisttp m16 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x0b), \
    F("fist m16 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x13), \
    F("fistp m16 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x1b), \
    F("fild m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x2b), \
    F("fistp m64 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdf, 0x3b), \
    F("fnstcw [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x3b), \
    F("fldcw [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x2b), \
    F("fnstsw m16 [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x3b), \
    F("fnstenv [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x33), \
    F("fldenv [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xd9, 0x23), \
    F("fnsave [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x33), \
    F("frstor [rbx]", DIFF_X87 | DIFF_MEM, prep_x87, 0xdd, 0x23), \
    F("fld st0", DIFF_X87, prep_x87, 0xd9, 0xc0), \
    F("fxch st0", DIFF_X87, prep_x87, 0xd9, 0xc8), \
    F("fst st0", DIFF_X87, prep_x87, 0xdd, 0xd0), \
    F("fstp st0", DIFF_X87, prep_x87, 0xdd, 0xd8), \
    F("ffree st0", DIFF_X87, prep_x87, 0xdd, 0xc0), \
    F("fcmov0 st0, st0", DIFF_X87, prep_x87, 0xda, 0xc0), \
    F("fcmov1 st0, st0", DIFF_X87, prep_x87, 0xda, 0xc8), \
    F("fcmov2 st0, st0", DIFF_X87, prep_x87, 0xda, 0xd0), \
    F("fcmov3 st0, st0", DIFF_X87, prep_x87, 0xda, 0xd8), \
    F("fcmov4 st0, st0", DIFF_X87, prep_x87, 0xdb, 0xc0), \
    F("fcmov5 st0, st0", DIFF_X87, prep_x87, 0xdb, 0xc8), \
    F("fcmov6 st0, st0", DIFF_X87, prep_x87, 0xdb, 0xd0), \
    F("fcmov7 st0, st0", DIFF_X87, prep_x87, 0xdb, 0xd8), \
    F("fld st1", DIFF_X87, prep_x87, 0xd9, 0xc1), \
    F("fxch st1", DIFF_X87, prep_x87, 0xd9, 0xc9), \
    F("fst st1", DIFF_X87, prep_x87, 0xdd, 0xd1), \
    F("fstp st1", DIFF_X87, prep_x87, 0xdd, 0xd9), \
    F("ffree st1", DIFF_X87, prep_x87, 0xdd, 0xc1), \
    F("fcmov0 st0, st1", DIFF_X87, prep_x87, 0xda, 0xc1), \
    F("fcmov1 st0, st1", DIFF_X87, prep_x87, 0xda, 0xc9), \
    F("fcmov2 st0, st1", DIFF_X87, prep_x87, 0xda, 0xd1), \
    F("fcmov3 st0, st1", DIFF_X87, prep_x87, 0xda, 0xd9), \
    F("fcmov4 st0, st1", DIFF_X87, prep_x87, 0xdb, 0xc1), \
    F("fcmov5 st0, st1", DIFF_X87, prep_x87, 0xdb, 0xc9), \
    F("fcmov6 st0, st1", DIFF_X87, prep_x87, 0xdb, 0xd1), \
    F("fcmov7 st0, st1", DIFF_X87, prep_x87, 0xdb, 0xd9), \
    F("fld st7", DIFF_X87, prep_x87, 0xd9, 0xc7), \
    F("fxch st7", DIFF_X87, prep_x87, 0xd9, 0xcf), \
    F("fst st7", DIFF_X87, prep_x87, 0xdd, 0xd7), \
    F("fstp st7", DIFF_X87, prep_x87, 0xdd, 0xdf), \
    F("ffree st7", DIFF_X87, prep_x87, 0xdd, 0xc7), \
    F("fcmov0 st0, st7", DIFF_X87, prep_x87, 0xda, 0xc7), \
    F("fcmov1 st0, st7", DIFF_X87, prep_x87, 0xda, 0xcf), \
    F("fcmov2 st0, st7", DIFF_X87, prep_x87, 0xda, 0xd7), \
    F("fcmov3 st0, st7", DIFF_X87, prep_x87, 0xda, 0xdf), \
    F("fcmov4 st0, st7", DIFF_X87, prep_x87, 0xdb, 0xc7), \
    F("fcmov5 st0, st7", DIFF_X87, prep_x87, 0xdb, 0xcf), \
    F("fcmov6 st0, st7", DIFF_X87, prep_x87, 0xdb, 0xd7), \
    F("fcmov7 st0, st7", DIFF_X87, prep_x87, 0xdb, 0xdf), \
    F("fchs", DIFF_X87, prep_x87, 0xd9, 0xe0), \
    F("fabs", DIFF_X87, prep_x87, 0xd9, 0xe1), \
    F("ftst", DIFF_X87, prep_x87, 0xd9, 0xe4), \
    F("fxam", DIFF_X87, prep_x87, 0xd9, 0xe5), \
    F("fld1", DIFF_X87, prep_x87, 0xd9, 0xe8), \
    F("fldl2t", DIFF_X87, prep_x87, 0xd9, 0xe9), \
    F("fldl2e", DIFF_X87, prep_x87, 0xd9, 0xea), \
    F("fldpi", DIFF_X87, prep_x87, 0xd9, 0xeb), \
    F("fldlg2", DIFF_X87, prep_x87, 0xd9, 0xec), \
    F("fldln2", DIFF_X87, prep_x87, 0xd9, 0xed), \
    F("fldz", DIFF_X87, prep_x87, 0xd9, 0xee), \
    F("f2xm1", DIFF_X87, prep_x87, 0xd9, 0xf0), \
    F("fyl2x", DIFF_X87, prep_x87, 0xd9, 0xf1), \
    F("fptan", DIFF_X87, prep_x87, 0xd9, 0xf2), \
    F("fpatan", DIFF_X87, prep_x87, 0xd9, 0xf3), \
    F("fxtract", DIFF_X87, prep_x87, 0xd9, 0xf4), \
    F("fprem1", DIFF_X87, prep_x87, 0xd9, 0xf5), \
    F("fdecstp", DIFF_X87, prep_x87, 0xd9, 0xf6), \
    F("fincstp", DIFF_X87, prep_x87, 0xd9, 0xf7), \
    F("fprem", DIFF_X87, prep_x87, 0xd9, 0xf8), \
    F("fyl2xp1", DIFF_X87, prep_x87, 0xd9, 0xf9), \
    F("fsqrt", DIFF_X87, prep_x87, 0xd9, 0xfa), \
    F("fsincos", DIFF_X87, prep_x87, 0xd9, 0xfb), \
    F("frndint", DIFF_X87, prep_x87, 0xd9, 0xfc), \
    F("fscale", DIFF_X87, prep_x87, 0xd9, 0xfd), \
    F("fsin", DIFF_X87, prep_x87, 0xd9, 0xfe), \
    F("fcos", DIFF_X87, prep_x87, 0xd9, 0xff), \
    F("fnop", DIFF_X87, prep_x87, 0xd9, 0xd0), \
    F("fninit", DIFF_X87, prep_x87, 0xdb, 0xe3), \
    F("fnclex", DIFF_X87, prep_x87, 0xdb, 0xe2), \
    F("fnstsw ax", DIFF_X87, prep_x87, 0xdf, 0xe0), \
    F("fwait", DIFF_X87, prep_x87, 0x9b), \
    F("ffreep st1", DIFF_X87, prep_x87, 0xdf, 0xc1),
