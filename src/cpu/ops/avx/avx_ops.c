/* avx_ops.c — the VEX-encoded arithmetic, logic, shuffle, compare and conversion instructions
 * of AVX, AVX2, FMA, F16C and the VEX forms of AES-NI and PCLMULQDQ, as one table (AVX_OPS,
 * generated from the SDM's opcode maps): each row names its operand shape, and the shape decides
 * where the operands come from (VEX.vvvv, ModRM.rm as a register or 16/32 bytes of memory, a
 * scalar's 4 or 8 bytes, a narrower source for widening conversions) and runs the very
 * instruction on the host with copies of them (host.h), under the guest's MXCSR for the
 * floating-point ones. The host's answer is the hardware's, bit for bit, which is what makes a
 * table of 270 instructions tractable; the row's feature says which host extension it needs.
 * Shapes:
 *   V3, V3FP, V3I, V3IFP  dest = op(vvvv, r/m) [imm8]          vector, by VEX.L
 *   S3FP, S3IFP           dest = op(vvvv, r/m scalar) [imm8]   scalar: 4 or 8 bytes of memory
 *   V3X                   dest = op(vvvv, xmm/m128)            shifts by a count
 *   V2, V2FP, V2I, V2IFP  dest = op(r/m) [imm8]
 *   SHIFTI                vvvv = op(r/m, imm8)                 shifts by an immediate
 *   WIDEN, WIDENFP        dest = op(r/m narrower by arg)       vpmovsx/zx, vcvtps2pd, vcvtph2ps
 *   NARROWFP              xmm dest = op(r/m)                   vcvtpd2ps, vcvt(t)pd2dq
 *   FMA, FMAS             dest = op(dest, vvvv, r/m)           fused multiply-add
 *   IS4                   dest = op(vvvv, r/m, imm8[7:4])      variable blends
 */
#include "cpu/ops/avx/avx.h"

#define AVX_OPS(X)                                                                                 \
    X(V3, SAME, vunpcklps, "vunpcklps", 0x514, MP_NONE, AW_ANY, AF_AVX, 0)                         \
    X(V3, SAME, vunpcklpd, "vunpcklpd", 0x514, MP_66, AW_ANY, AF_AVX, 0)                           \
    X(V3, SAME, vunpckhps, "vunpckhps", 0x515, MP_NONE, AW_ANY, AF_AVX, 0)                         \
    X(V3, SAME, vunpckhpd, "vunpckhpd", 0x515, MP_66, AW_ANY, AF_AVX, 0)                           \
    X(V2FP, SAME, vsqrtps, "vsqrtps", 0x551, MP_NONE, AW_ANY, AF_AVX, 0)                           \
    X(V2FP, SAME, vsqrtpd, "vsqrtpd", 0x551, MP_66, AW_ANY, AF_AVX, 0)                             \
    X(S3FP, SAME, vsqrtss, "vsqrtss", 0x551, MP_F3, AW_ANY, AF_AVX, 4)                             \
    X(S3FP, SAME, vsqrtsd, "vsqrtsd", 0x551, MP_F2, AW_ANY, AF_AVX, 8)                             \
    X(V3, SAME, vandps, "vandps", 0x554, MP_NONE, AW_ANY, AF_AVX, 0)                               \
    X(V3, SAME, vandpd, "vandpd", 0x554, MP_66, AW_ANY, AF_AVX, 0)                                 \
    X(V3, SAME, vandnps, "vandnps", 0x555, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3, SAME, vandnpd, "vandnpd", 0x555, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(V3, SAME, vorps, "vorps", 0x556, MP_NONE, AW_ANY, AF_AVX, 0)                                 \
    X(V3, SAME, vorpd, "vorpd", 0x556, MP_66, AW_ANY, AF_AVX, 0)                                   \
    X(V3, SAME, vxorps, "vxorps", 0x557, MP_NONE, AW_ANY, AF_AVX, 0)                               \
    X(V3, SAME, vxorpd, "vxorpd", 0x557, MP_66, AW_ANY, AF_AVX, 0)                                 \
    X(V3FP, SAME, vaddps, "vaddps", 0x558, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vaddpd, "vaddpd", 0x558, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vaddss, "vaddss", 0x558, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vaddsd, "vaddsd", 0x558, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(V3FP, SAME, vmulps, "vmulps", 0x559, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vmulpd, "vmulpd", 0x559, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vmulss, "vmulss", 0x559, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vmulsd, "vmulsd", 0x559, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(V3FP, SAME, vsubps, "vsubps", 0x55c, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vsubpd, "vsubpd", 0x55c, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vsubss, "vsubss", 0x55c, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vsubsd, "vsubsd", 0x55c, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(V3FP, SAME, vminps, "vminps", 0x55d, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vminpd, "vminpd", 0x55d, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vminss, "vminss", 0x55d, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vminsd, "vminsd", 0x55d, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(V3FP, SAME, vdivps, "vdivps", 0x55e, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vdivpd, "vdivpd", 0x55e, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vdivss, "vdivss", 0x55e, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vdivsd, "vdivsd", 0x55e, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(V3FP, SAME, vmaxps, "vmaxps", 0x55f, MP_NONE, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vmaxpd, "vmaxpd", 0x55f, MP_66, AW_ANY, AF_AVX, 0)                               \
    X(S3FP, SAME, vmaxss, "vmaxss", 0x55f, MP_F3, AW_ANY, AF_AVX, 4)                               \
    X(S3FP, SAME, vmaxsd, "vmaxsd", 0x55f, MP_F2, AW_ANY, AF_AVX, 8)                               \
    X(WIDENFP, SRC128, vcvtps2pd, "vcvtps2pd", 0x55a, MP_NONE, AW_ANY, AF_AVX, 2)                  \
    X(NARROWFP, DST128, vcvtpd2ps, "vcvtpd2ps", 0x55a, MP_66, AW_ANY, AF_AVX, 0)                   \
    X(S3FP, SAME, vcvtss2sd, "vcvtss2sd", 0x55a, MP_F3, AW_ANY, AF_AVX, 4)                         \
    X(S3FP, SAME, vcvtsd2ss, "vcvtsd2ss", 0x55a, MP_F2, AW_ANY, AF_AVX, 8)                         \
    X(V2FP, SAME, vcvtdq2ps, "vcvtdq2ps", 0x55b, MP_NONE, AW_ANY, AF_AVX, 0)                       \
    X(V2FP, SAME, vcvtps2dq, "vcvtps2dq", 0x55b, MP_66, AW_ANY, AF_AVX, 0)                         \
    X(V2FP, SAME, vcvttps2dq, "vcvttps2dq", 0x55b, MP_F3, AW_ANY, AF_AVX, 0)                       \
    X(V3, SAME, vpunpcklbw, "vpunpcklbw", 0x560, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpunpcklwd, "vpunpcklwd", 0x561, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpunpckldq, "vpunpckldq", 0x562, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpacksswb, "vpacksswb", 0x563, MP_66, AW_ANY, AF_AVXI, 0)                          \
    X(V3, SAME, vpcmpgtb, "vpcmpgtb", 0x564, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpcmpgtw, "vpcmpgtw", 0x565, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpcmpgtd, "vpcmpgtd", 0x566, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpackuswb, "vpackuswb", 0x567, MP_66, AW_ANY, AF_AVXI, 0)                          \
    X(V3, SAME, vpunpckhbw, "vpunpckhbw", 0x568, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpunpckhwd, "vpunpckhwd", 0x569, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpunpckhdq, "vpunpckhdq", 0x56a, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vpackssdw, "vpackssdw", 0x56b, MP_66, AW_ANY, AF_AVXI, 0)                          \
    X(V3, SAME, vpunpcklqdq, "vpunpcklqdq", 0x56c, MP_66, AW_ANY, AF_AVXI, 0)                      \
    X(V3, SAME, vpunpckhqdq, "vpunpckhqdq", 0x56d, MP_66, AW_ANY, AF_AVXI, 0)                      \
    X(V2I, SAME, vpshufd, "vpshufd", 0x570, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V2I, SAME, vpshufhw, "vpshufhw", 0x570, MP_F3, AW_ANY, AF_AVXI, 0)                           \
    X(V2I, SAME, vpshuflw, "vpshuflw", 0x570, MP_F2, AW_ANY, AF_AVXI, 0)                           \
    X(SHIFTI, SAME, vpsrlw_imm, "vpsrlw", 0x571, MP_66, AW_ANY, AF_AVXI, 2)                        \
    X(SHIFTI, SAME, vpsraw_imm, "vpsraw", 0x571, MP_66, AW_ANY, AF_AVXI, 4)                        \
    X(SHIFTI, SAME, vpsllw_imm, "vpsllw", 0x571, MP_66, AW_ANY, AF_AVXI, 6)                        \
    X(SHIFTI, SAME, vpsrld_imm, "vpsrld", 0x572, MP_66, AW_ANY, AF_AVXI, 2)                        \
    X(SHIFTI, SAME, vpsrad_imm, "vpsrad", 0x572, MP_66, AW_ANY, AF_AVXI, 4)                        \
    X(SHIFTI, SAME, vpslld_imm, "vpslld", 0x572, MP_66, AW_ANY, AF_AVXI, 6)                        \
    X(SHIFTI, SAME, vpsrlq_imm, "vpsrlq", 0x573, MP_66, AW_ANY, AF_AVXI, 2)                        \
    X(SHIFTI, SAME, vpsrldq_imm, "vpsrldq", 0x573, MP_66, AW_ANY, AF_AVXI, 3)                      \
    X(SHIFTI, SAME, vpsllq_imm, "vpsllq", 0x573, MP_66, AW_ANY, AF_AVXI, 6)                        \
    X(SHIFTI, SAME, vpslldq_imm, "vpslldq", 0x573, MP_66, AW_ANY, AF_AVXI, 7)                      \
    X(V3, SAME, vpcmpeqb, "vpcmpeqb", 0x574, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpcmpeqw, "vpcmpeqw", 0x575, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpcmpeqd, "vpcmpeqd", 0x576, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3FP, SAME, vhaddpd, "vhaddpd", 0x57c, MP_66, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vhaddps, "vhaddps", 0x57c, MP_F2, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vhsubpd, "vhsubpd", 0x57d, MP_66, AW_ANY, AF_AVX, 0)                             \
    X(V3FP, SAME, vhsubps, "vhsubps", 0x57d, MP_F2, AW_ANY, AF_AVX, 0)                             \
    X(V3IFP, SAME, vcmpps, "vcmpps", 0x5c2, MP_NONE, AW_ANY, AF_AVX, 0)                            \
    X(V3IFP, SAME, vcmppd, "vcmppd", 0x5c2, MP_66, AW_ANY, AF_AVX, 0)                              \
    X(S3IFP, SAME, vcmpss, "vcmpss", 0x5c2, MP_F3, AW_ANY, AF_AVX, 4)                              \
    X(S3IFP, SAME, vcmpsd, "vcmpsd", 0x5c2, MP_F2, AW_ANY, AF_AVX, 8)                              \
    X(V3I, SAME, vshufps, "vshufps", 0x5c6, MP_NONE, AW_ANY, AF_AVX, 0)                            \
    X(V3I, SAME, vshufpd, "vshufpd", 0x5c6, MP_66, AW_ANY, AF_AVX, 0)                              \
    X(V3FP, SAME, vaddsubpd, "vaddsubpd", 0x5d0, MP_66, AW_ANY, AF_AVX, 0)                         \
    X(V3FP, SAME, vaddsubps, "vaddsubps", 0x5d0, MP_F2, AW_ANY, AF_AVX, 0)                         \
    X(V3, SAME, vpaddq, "vpaddq", 0x5d4, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpmullw, "vpmullw", 0x5d5, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsubusb, "vpsubusb", 0x5d8, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpsubusw, "vpsubusw", 0x5d9, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpminub, "vpminub", 0x5da, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpand, "vpand", 0x5db, MP_66, AW_ANY, AF_AVXI, 0)                                  \
    X(V3, SAME, vpaddusb, "vpaddusb", 0x5dc, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpaddusw, "vpaddusw", 0x5dd, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpmaxub, "vpmaxub", 0x5de, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpandn, "vpandn", 0x5df, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpavgb, "vpavgb", 0x5e0, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpavgw, "vpavgw", 0x5e3, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpmulhuw, "vpmulhuw", 0x5e4, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpmulhw, "vpmulhw", 0x5e5, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsubsb, "vpsubsb", 0x5e8, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsubsw, "vpsubsw", 0x5e9, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpminsw, "vpminsw", 0x5ea, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpor, "vpor", 0x5eb, MP_66, AW_ANY, AF_AVXI, 0)                                    \
    X(V3, SAME, vpaddsb, "vpaddsb", 0x5ec, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpaddsw, "vpaddsw", 0x5ed, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmaxsw, "vpmaxsw", 0x5ee, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpxor, "vpxor", 0x5ef, MP_66, AW_ANY, AF_AVXI, 0)                                  \
    X(V3, SAME, vpmuludq, "vpmuludq", 0x5f4, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpmaddwd, "vpmaddwd", 0x5f5, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpsadbw, "vpsadbw", 0x5f6, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsubb, "vpsubb", 0x5f8, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpsubw, "vpsubw", 0x5f9, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpsubd, "vpsubd", 0x5fa, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpsubq, "vpsubq", 0x5fb, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpaddb, "vpaddb", 0x5fc, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpaddw, "vpaddw", 0x5fd, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3, SAME, vpaddd, "vpaddd", 0x5fe, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V3X, SRC128, vpsrlw, "vpsrlw", 0x5d1, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsrld, "vpsrld", 0x5d2, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsrlq, "vpsrlq", 0x5d3, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsraw, "vpsraw", 0x5e1, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsrad, "vpsrad", 0x5e2, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsllw, "vpsllw", 0x5f1, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpslld, "vpslld", 0x5f2, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(V3X, SRC128, vpsllq, "vpsllq", 0x5f3, MP_66, AW_ANY, AF_AVXI, 0)                             \
    X(NARROWFP, DST128, vcvttpd2dq, "vcvttpd2dq", 0x5e6, MP_66, AW_ANY, AF_AVX, 0)                 \
    X(WIDENFP, SRC128, vcvtdq2pd, "vcvtdq2pd", 0x5e6, MP_F3, AW_ANY, AF_AVX, 2)                    \
    X(NARROWFP, DST128, vcvtpd2dq, "vcvtpd2dq", 0x5e6, MP_F2, AW_ANY, AF_AVX, 0)                   \
    X(V3, SAME, vpshufb, "vpshufb", 0x600, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vphaddw, "vphaddw", 0x601, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vphaddd, "vphaddd", 0x602, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vphaddsw, "vphaddsw", 0x603, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpmaddubsw, "vpmaddubsw", 0x604, MP_66, AW_ANY, AF_AVXI, 0)                        \
    X(V3, SAME, vphsubw, "vphsubw", 0x605, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vphsubd, "vphsubd", 0x606, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vphsubsw, "vphsubsw", 0x607, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpsignb, "vpsignb", 0x608, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsignw, "vpsignw", 0x609, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpsignd, "vpsignd", 0x60a, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmulhrsw, "vpmulhrsw", 0x60b, MP_66, AW_ANY, AF_AVXI, 0)                          \
    X(V3, SAME, vpermilps, "vpermilps", 0x60c, MP_66, AW_0, AF_AVX, 0)                             \
    X(V3, SAME, vpermilpd, "vpermilpd", 0x60d, MP_66, AW_0, AF_AVX, 0)                             \
    X(WIDENFP, SRC128, vcvtph2ps, "vcvtph2ps", 0x613, MP_66, AW_0, AF_F16C, 2)                     \
    X(V3, L1, vpermps, "vpermps", 0x616, MP_66, AW_0, AF_AVX2, 0)                                  \
    X(V3, L1, vpermd, "vpermd", 0x636, MP_66, AW_0, AF_AVX2, 0)                                    \
    X(V2, SAME, vpabsb, "vpabsb", 0x61c, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V2, SAME, vpabsw, "vpabsw", 0x61d, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(V2, SAME, vpabsd, "vpabsd", 0x61e, MP_66, AW_ANY, AF_AVXI, 0)                                \
    X(WIDEN, SRC128, vpmovsxbw, "vpmovsxbw", 0x620, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(WIDEN, SRC128, vpmovzxbw, "vpmovzxbw", 0x630, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(WIDEN, SRC128, vpmovsxbd, "vpmovsxbd", 0x621, MP_66, AW_ANY, AF_AVXI, 4)                     \
    X(WIDEN, SRC128, vpmovzxbd, "vpmovzxbd", 0x631, MP_66, AW_ANY, AF_AVXI, 4)                     \
    X(WIDEN, SRC128, vpmovsxbq, "vpmovsxbq", 0x622, MP_66, AW_ANY, AF_AVXI, 8)                     \
    X(WIDEN, SRC128, vpmovzxbq, "vpmovzxbq", 0x632, MP_66, AW_ANY, AF_AVXI, 8)                     \
    X(WIDEN, SRC128, vpmovsxwd, "vpmovsxwd", 0x623, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(WIDEN, SRC128, vpmovzxwd, "vpmovzxwd", 0x633, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(WIDEN, SRC128, vpmovsxwq, "vpmovsxwq", 0x624, MP_66, AW_ANY, AF_AVXI, 4)                     \
    X(WIDEN, SRC128, vpmovzxwq, "vpmovzxwq", 0x634, MP_66, AW_ANY, AF_AVXI, 4)                     \
    X(WIDEN, SRC128, vpmovsxdq, "vpmovsxdq", 0x625, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(WIDEN, SRC128, vpmovzxdq, "vpmovzxdq", 0x635, MP_66, AW_ANY, AF_AVXI, 2)                     \
    X(V3, SAME, vpmuldq, "vpmuldq", 0x628, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpcmpeqq, "vpcmpeqq", 0x629, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpackusdw, "vpackusdw", 0x62b, MP_66, AW_ANY, AF_AVXI, 0)                          \
    X(V3, SAME, vpcmpgtq, "vpcmpgtq", 0x637, MP_66, AW_ANY, AF_AVXI, 0)                            \
    X(V3, SAME, vpminsb, "vpminsb", 0x638, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpminsd, "vpminsd", 0x639, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpminuw, "vpminuw", 0x63a, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpminud, "vpminud", 0x63b, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmaxsb, "vpmaxsb", 0x63c, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmaxsd, "vpmaxsd", 0x63d, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmaxuw, "vpmaxuw", 0x63e, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmaxud, "vpmaxud", 0x63f, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V3, SAME, vpmulld, "vpmulld", 0x640, MP_66, AW_ANY, AF_AVXI, 0)                              \
    X(V2, L0, vphminposuw, "vphminposuw", 0x641, MP_66, AW_ANY, AF_AVX, 0)                         \
    X(V3, SAME, vpsrlvd, "vpsrlvd", 0x645, MP_66, AW_0, AF_AVX2, 0)                                \
    X(V3, SAME, vpsrlvq, "vpsrlvq", 0x645, MP_66, AW_1, AF_AVX2, 0)                                \
    X(V3, SAME, vpsravd, "vpsravd", 0x646, MP_66, AW_0, AF_AVX2, 0)                                \
    X(V3, SAME, vpsllvd, "vpsllvd", 0x647, MP_66, AW_0, AF_AVX2, 0)                                \
    X(V3, SAME, vpsllvq, "vpsllvq", 0x647, MP_66, AW_1, AF_AVX2, 0)                                \
    X(FMA, SAME, vfmaddsub132ps, "vfmaddsub132ps", 0x696, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmaddsub132pd, "vfmaddsub132pd", 0x696, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd132ps, "vfmsubadd132ps", 0x697, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd132pd, "vfmsubadd132pd", 0x697, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmadd132ps, "vfmadd132ps", 0x698, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmadd132pd, "vfmadd132pd", 0x698, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmadd132ss, "vfmadd132ss", 0x699, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmadd132sd, "vfmadd132sd", 0x699, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfmsub132ps, "vfmsub132ps", 0x69a, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmsub132pd, "vfmsub132pd", 0x69a, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmsub132ss, "vfmsub132ss", 0x69b, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmsub132sd, "vfmsub132sd", 0x69b, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfnmadd132ps, "vfnmadd132ps", 0x69c, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmadd132pd, "vfnmadd132pd", 0x69c, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmadd132ss, "vfnmadd132ss", 0x69d, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmadd132sd, "vfnmadd132sd", 0x69d, MP_66, AW_1, AF_FMA, 8)                     \
    X(FMA, SAME, vfnmsub132ps, "vfnmsub132ps", 0x69e, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmsub132pd, "vfnmsub132pd", 0x69e, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmsub132ss, "vfnmsub132ss", 0x69f, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmsub132sd, "vfnmsub132sd", 0x69f, MP_66, AW_1, AF_FMA, 8)                     \
    X(FMA, SAME, vfmaddsub213ps, "vfmaddsub213ps", 0x6a6, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmaddsub213pd, "vfmaddsub213pd", 0x6a6, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd213ps, "vfmsubadd213ps", 0x6a7, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd213pd, "vfmsubadd213pd", 0x6a7, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmadd213ps, "vfmadd213ps", 0x6a8, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmadd213pd, "vfmadd213pd", 0x6a8, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmadd213ss, "vfmadd213ss", 0x6a9, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmadd213sd, "vfmadd213sd", 0x6a9, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfmsub213ps, "vfmsub213ps", 0x6aa, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmsub213pd, "vfmsub213pd", 0x6aa, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmsub213ss, "vfmsub213ss", 0x6ab, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmsub213sd, "vfmsub213sd", 0x6ab, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfnmadd213ps, "vfnmadd213ps", 0x6ac, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmadd213pd, "vfnmadd213pd", 0x6ac, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmadd213ss, "vfnmadd213ss", 0x6ad, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmadd213sd, "vfnmadd213sd", 0x6ad, MP_66, AW_1, AF_FMA, 8)                     \
    X(FMA, SAME, vfnmsub213ps, "vfnmsub213ps", 0x6ae, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmsub213pd, "vfnmsub213pd", 0x6ae, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmsub213ss, "vfnmsub213ss", 0x6af, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmsub213sd, "vfnmsub213sd", 0x6af, MP_66, AW_1, AF_FMA, 8)                     \
    X(FMA, SAME, vfmaddsub231ps, "vfmaddsub231ps", 0x6b6, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmaddsub231pd, "vfmaddsub231pd", 0x6b6, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd231ps, "vfmsubadd231ps", 0x6b7, MP_66, AW_0, AF_FMA, 0)                  \
    X(FMA, SAME, vfmsubadd231pd, "vfmsubadd231pd", 0x6b7, MP_66, AW_1, AF_FMA, 0)                  \
    X(FMA, SAME, vfmadd231ps, "vfmadd231ps", 0x6b8, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmadd231pd, "vfmadd231pd", 0x6b8, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmadd231ss, "vfmadd231ss", 0x6b9, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmadd231sd, "vfmadd231sd", 0x6b9, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfmsub231ps, "vfmsub231ps", 0x6ba, MP_66, AW_0, AF_FMA, 0)                        \
    X(FMA, SAME, vfmsub231pd, "vfmsub231pd", 0x6ba, MP_66, AW_1, AF_FMA, 0)                        \
    X(FMAS, SAME, vfmsub231ss, "vfmsub231ss", 0x6bb, MP_66, AW_0, AF_FMA, 4)                       \
    X(FMAS, SAME, vfmsub231sd, "vfmsub231sd", 0x6bb, MP_66, AW_1, AF_FMA, 8)                       \
    X(FMA, SAME, vfnmadd231ps, "vfnmadd231ps", 0x6bc, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmadd231pd, "vfnmadd231pd", 0x6bc, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmadd231ss, "vfnmadd231ss", 0x6bd, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmadd231sd, "vfnmadd231sd", 0x6bd, MP_66, AW_1, AF_FMA, 8)                     \
    X(FMA, SAME, vfnmsub231ps, "vfnmsub231ps", 0x6be, MP_66, AW_0, AF_FMA, 0)                      \
    X(FMA, SAME, vfnmsub231pd, "vfnmsub231pd", 0x6be, MP_66, AW_1, AF_FMA, 0)                      \
    X(FMAS, SAME, vfnmsub231ss, "vfnmsub231ss", 0x6bf, MP_66, AW_0, AF_FMA, 4)                     \
    X(FMAS, SAME, vfnmsub231sd, "vfnmsub231sd", 0x6bf, MP_66, AW_1, AF_FMA, 8)                     \
    X(V2, L0, vaesimc, "vaesimc", 0x6db, MP_66, AW_ANY, AF_AES, 0)                                 \
    X(V3, L0, vaesenc, "vaesenc", 0x6dc, MP_66, AW_ANY, AF_AES, 0)                                 \
    X(V3, L0, vaesenclast, "vaesenclast", 0x6dd, MP_66, AW_ANY, AF_AES, 0)                         \
    X(V3, L0, vaesdec, "vaesdec", 0x6de, MP_66, AW_ANY, AF_AES, 0)                                 \
    X(V3, L0, vaesdeclast, "vaesdeclast", 0x6df, MP_66, AW_ANY, AF_AES, 0)                         \
    X(V2I, L1, vpermq, "vpermq", 0x700, MP_66, AW_1, AF_AVX2, 0)                                   \
    X(V2I, L1, vpermpd, "vpermpd", 0x701, MP_66, AW_1, AF_AVX2, 0)                                 \
    X(V3I, SAME, vpblendd, "vpblendd", 0x702, MP_66, AW_0, AF_AVX2, 0)                             \
    X(V2I, SAME, vpermilps_imm, "vpermilps", 0x704, MP_66, AW_0, AF_AVX, 0)                        \
    X(V2I, SAME, vpermilpd_imm, "vpermilpd", 0x705, MP_66, AW_0, AF_AVX, 0)                        \
    X(V3I, L1, vperm2f128, "vperm2f128", 0x706, MP_66, AW_0, AF_AVX, 0)                            \
    X(V2IFP, SAME, vroundps, "vroundps", 0x708, MP_66, AW_ANY, AF_AVX, 0)                          \
    X(V2IFP, SAME, vroundpd, "vroundpd", 0x709, MP_66, AW_ANY, AF_AVX, 0)                          \
    X(S3IFP, SAME, vroundss, "vroundss", 0x70a, MP_66, AW_ANY, AF_AVX, 4)                          \
    X(S3IFP, SAME, vroundsd, "vroundsd", 0x70b, MP_66, AW_ANY, AF_AVX, 8)                          \
    X(V3I, SAME, vblendps, "vblendps", 0x70c, MP_66, AW_ANY, AF_AVX, 0)                            \
    X(V3I, SAME, vblendpd, "vblendpd", 0x70d, MP_66, AW_ANY, AF_AVX, 0)                            \
    X(V3I, SAME, vpblendw, "vpblendw", 0x70e, MP_66, AW_ANY, AF_AVXI, 0)                           \
    X(V3I, SAME, vpalignr, "vpalignr", 0x70f, MP_66, AW_ANY, AF_AVXI, 0)                           \
    X(V3IFP, SAME, vdpps, "vdpps", 0x740, MP_66, AW_ANY, AF_AVX, 0)                                \
    X(V3IFP, L0, vdppd, "vdppd", 0x741, MP_66, AW_ANY, AF_AVX, 0)                                  \
    X(V3I, SAME, vmpsadbw, "vmpsadbw", 0x742, MP_66, AW_ANY, AF_AVXI, 0)                           \
    X(V3I, L0, vpclmulqdq, "vpclmulqdq", 0x744, MP_66, AW_ANY, AF_PCLMUL, 0)                       \
    X(V3I, L1, vperm2i128, "vperm2i128", 0x746, MP_66, AW_0, AF_AVX2, 0)                           \
    X(IS4, SAME, vblendvps, "vblendvps", 0x74a, MP_66, AW_0, AF_AVX, 0)                            \
    X(IS4, SAME, vblendvpd, "vblendvpd", 0x74b, MP_66, AW_0, AF_AVX, 0)                            \
    X(IS4, SAME, vpblendvb, "vpblendvb", 0x74c, MP_66, AW_0, AF_AVXI, 0)                           \
    X(V2I, L0, vaeskeygenassist, "vaeskeygenassist", 0x7df, MP_66, AW_ANY, AF_AES, 0)

#define TGT_AF_AVX    "avx"
#define TGT_AF_AVXI   "avx2"
#define TGT_AF_AVX2   "avx2"
#define TGT_AF_FMA    "avx,fma"
#define TGT_AF_F16C   "avx,f16c"
#define TGT_AF_AES    "avx,aes"
#define TGT_AF_PCLMUL "avx,pclmul"

typedef uint32_t (*avx_host_fn)(void *d, const void *a, const void *b, bool l, unsigned imm,
                                uint32_t mx);

/* dest(reg) = fn(vvvv, r/m of `n` bytes) at length l */
static inline __attribute__((always_inline)) void avx_run(struct cpu *c, const struct insn *i,
                                                          avx_host_fn fn, bool fp, bool l,
                                                          unsigned n, bool two, unsigned dst)
{
    avx_avail(c);
    union ymm a, b, d;
    avx_src(c, i, &b, n, 0);
    if (two)
        a = b;
    else
        avx_get(c, i->vreg, &a);
    uint32_t mx = fn(&d, &a, &b, l, (unsigned)i->imm, fp ? sse_mx_in(c) : 0);
    if (fp) sse_mx_commit(c, mx);
    avx_set(c, dst, &d);
}

#define AVX_N(i) (avx_l(i) ? 32u : 16u)

#define GEN_V3(body, name, mn, op, mp, w, feat, arg)                                               \
    AVX_HOST(hx_##name, TGT_##feat, body, V3, mn)                                                  \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i), false, i->reg);                        \
    }
#define GEN_V3FP(body, name, mn, op, mp, w, feat, arg)                                             \
    AVX_HOST(hx_##name, TGT_##feat, body, V3_FP, mn)                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i), false, i->reg);                         \
    }
#define GEN_V3I(body, name, mn, op, mp, w, feat, arg)                                              \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V3, mn)                                              \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i), false, i->reg);                        \
    }
#define GEN_V3IFP(body, name, mn, op, mp, w, feat, arg)                                            \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V3_FP, mn)                                           \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i), false, i->reg);                         \
    }
#define GEN_S3FP(body, name, mn, op, mp, w, feat, arg)                                             \
    AVX_HOST(hx_##name, TGT_##feat, body, V3_FP, mn)                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, false, arg, false, i->reg);                                 \
    }
#define GEN_S3IFP(body, name, mn, op, mp, w, feat, arg)                                            \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V3_FP, mn)                                           \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, false, arg, false, i->reg);                                 \
    }
#define GEN_V3X(body, name, mn, op, mp, w, feat, arg)                                              \
    AVX_HOST(hx_##name, TGT_##feat, body, V3, mn)                                                  \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), 16, false, i->reg);                              \
    }
#define GEN_V2(body, name, mn, op, mp, w, feat, arg)                                               \
    AVX_HOST(hx_##name, TGT_##feat, body, V2, mn)                                                  \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i), true, i->reg);                         \
    }
#define GEN_V2FP(body, name, mn, op, mp, w, feat, arg)                                             \
    AVX_HOST(hx_##name, TGT_##feat, body, V2_FP, mn)                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i), true, i->reg);                          \
    }
#define GEN_V2I(body, name, mn, op, mp, w, feat, arg)                                              \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V2, mn)                                              \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i), true, i->reg);                         \
    }
#define GEN_V2IFP(body, name, mn, op, mp, w, feat, arg)                                            \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V2_FP, mn)                                           \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i), true, i->reg);                          \
    }
#define GEN_SHIFTI(body, name, mn, op, mp, w, feat, arg)                                           \
    AVX_HOST_IMM(hx_##name, TGT_##feat, body, V2, mn)                                              \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i), true, i->vreg);                        \
    }
#define GEN_WIDEN(body, name, mn, op, mp, w, feat, arg)                                            \
    AVX_HOST(hx_##name, TGT_##feat, body, V2, mn)                                                  \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, false, avx_l(i), AVX_N(i) / arg, true, i->reg);                   \
    }
#define GEN_WIDENFP(body, name, mn, op, mp, w, feat, arg)                                          \
    AVX_HOST(hx_##name, TGT_##feat, body, V2_FP, mn)                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i) / arg, true, i->reg);                    \
    }
#define GEN_NARROWFP(body, name, mn, op, mp, w, feat, arg)                                         \
    AVX_HOST(hx_##name, TGT_##feat, body, V2_FP, mn)                                               \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_run(c, i, hx_##name, true, avx_l(i), AVX_N(i), true, i->reg);                          \
    }
#define GEN_FMA_ANY(name, mn, l_, n_)                                                              \
    AVX_HOST_FMA(hx_##name, mn)                                                                    \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_avail(c);                                                                              \
        union ymm a, b, d;                                                                         \
        avx_src(c, i, &b, n_, 0);                                                                  \
        avx_get(c, i->vreg, &a);                                                                   \
        avx_get(c, i->reg, &d);                                                                    \
        uint32_t mx = hx_##name(&d, &a, &b, l_, sse_mx_in(c));                                     \
        sse_mx_commit(c, mx);                                                                      \
        avx_set(c, i->reg, &d);                                                                    \
    }
#define GEN_FMA(body, name, mn, op, mp, w, feat, arg)  GEN_FMA_ANY(name, mn, avx_l(i), AVX_N(i))
#define GEN_FMAS(body, name, mn, op, mp, w, feat, arg) GEN_FMA_ANY(name, mn, false, arg)
#define GEN_IS4(body, name, mn, op, mp, w, feat, arg)                                              \
    AVX_HOST_IS4(hx_##name, TGT_##feat, mn)                                                        \
    static void h_##name(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        avx_avail(c);                                                                              \
        union ymm a, b, s4, d;                                                                     \
        avx_src(c, i, &b, AVX_N(i), 0);                                                            \
        avx_get(c, i->vreg, &a);                                                                   \
        avx_get(c, (unsigned)(i->imm >> 4) & 15, &s4);                                             \
        hx_##name(&d, &a, &b, &s4, avx_l(i));                                                      \
        avx_set(c, i->reg, &d);                                                                    \
    }

#define GEN(shape, body, name, mn, op, mp, w, feat, arg)                                           \
    GEN_##shape(body, name, mn, op, mp, w, feat, arg)
AVX_OPS(GEN)

#define ROW(shape, body, name, mn, op, mp, w, feat, arg)                                           \
    {op, mp, w, feat, AVX_DIGIT_##shape(arg), h_##name},
#define AVX_DIGIT_V3(a)       AVX_ANY_DIGIT
#define AVX_DIGIT_V3FP(a)     AVX_ANY_DIGIT
#define AVX_DIGIT_V3I(a)      AVX_ANY_DIGIT
#define AVX_DIGIT_V3IFP(a)    AVX_ANY_DIGIT
#define AVX_DIGIT_S3FP(a)     AVX_ANY_DIGIT
#define AVX_DIGIT_S3IFP(a)    AVX_ANY_DIGIT
#define AVX_DIGIT_V3X(a)      AVX_ANY_DIGIT
#define AVX_DIGIT_V2(a)       AVX_ANY_DIGIT
#define AVX_DIGIT_V2FP(a)     AVX_ANY_DIGIT
#define AVX_DIGIT_V2I(a)      AVX_ANY_DIGIT
#define AVX_DIGIT_V2IFP(a)    AVX_ANY_DIGIT
#define AVX_DIGIT_SHIFTI(a)   (a)
#define AVX_DIGIT_WIDEN(a)    AVX_ANY_DIGIT
#define AVX_DIGIT_WIDENFP(a)  AVX_ANY_DIGIT
#define AVX_DIGIT_NARROWFP(a) AVX_ANY_DIGIT
#define AVX_DIGIT_FMA(a)      AVX_ANY_DIGIT
#define AVX_DIGIT_FMAS(a)     AVX_ANY_DIGIT
#define AVX_DIGIT_IS4(a)      AVX_ANY_DIGIT

const struct avx_form avx_ops_forms[] = {AVX_OPS(ROW)};
const unsigned avx_ops_forms_count = sizeof avx_ops_forms / sizeof avx_ops_forms[0];
