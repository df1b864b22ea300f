/* test_jit_emit.c — the translator's x86-64 emitter, checked two independent ways:
 * (1) every emitted instruction is decoded by libzydis and must be one instruction of exactly
 *     the emitted length whose Intel-syntax text is the one written here by hand, and the
 *     register/memory encoders are swept over all registers, sizes, scales and displacement
 *     classes with zydis's decoded operands compared field by field;
 * (2) small functions are emitted into the code cache and called: arithmetic, labels and
 *     loops, calls back into C, flag transfers, and a patched rel32 jump. */
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "check.h"
#include "cpu/jit/cache.h"
#include "cpu/jit/emit.h"

#define RX_BASE 0x100000ull

static uint8_t buf[256];

/* The single instruction in buf[0..len) must disassemble to `want`. */
static void check_text(const struct jit_emit *e, const char *want, int line)
{
    ZydisDisassembledInstruction zi;
    if (e->overflow || !ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, RX_BASE, buf,
                                                           e->pos, &zi))) {
        fprintf(stderr, "# line %d: zydis rejects the bytes for '%s'\n", line, want);
        check_failed_now++;
        return;
    }
    if (zi.info.length != e->pos || strcmp(zi.text, want) != 0) {
        fprintf(stderr, "# line %d: want '%s', got '%s' (%u of %zu bytes):", line, want, zi.text,
                zi.info.length, e->pos);
        for (size_t k = 0; k < e->pos; k++)
            fprintf(stderr, " %02x", buf[k]);
        fprintf(stderr, "\n");
        check_failed_now++;
    }
}

#define T(want, stmt)                                                                              \
    do {                                                                                           \
        struct jit_emit e_;                                                                        \
        jit_emit_init(&e_, buf, RX_BASE, sizeof buf);                                              \
        struct jit_emit *e = &e_;                                                                  \
        stmt;                                                                                      \
        check_text(e, want, __LINE__);                                                             \
    } while (0)

static void test_moves(void)
{
    T("mov rax, rbx", emit_mov_rr(e, 8, HR_RAX, HR_RBX));
    T("mov r15d, r8d", emit_mov_rr(e, 4, HR_R15, HR_R8));
    T("mov cx, dx", emit_mov_rr(e, 2, HR_RCX, HR_RDX));
    T("mov al, sil", emit_mov_rr(e, 1, HR_RAX, HR_RSI));
    T("mov r9b, bl", emit_mov_rr(e, 1, HR_R9, HR_RBX));
    T("mov rax, [rbx+0x10]", emit_load(e, 8, HR_RAX, jit_mem(HR_RBX, 0x10)));
    T("mov eax, [rsp]", emit_load(e, 4, HR_RAX, jit_mem(HR_RSP, 0)));
    T("mov rdx, [rbp]", emit_load(e, 8, HR_RDX, jit_mem(HR_RBP, 0)));
    T("mov rdx, [r13]", emit_load(e, 8, HR_RDX, jit_mem(HR_R13, 0)));
    T("mov r8, [r12-0x80]", emit_load(e, 8, HR_R8, jit_mem(HR_R12, -128)));
    T("mov rcx, [r14+0x12345678]", emit_load(e, 8, HR_RCX, jit_mem(HR_R14, 0x12345678)));
    T("mov [rdi+r9*8+0x08], rsi", emit_store(e, 8, jit_mem_idx(HR_RDI, HR_R9, 3, 8), HR_RSI));
    T("mov [rdi], dil", emit_store(e, 1, jit_mem(HR_RDI, 0), HR_RDI));
    T("mov word ptr [rax], 0x1234", emit_store_imm(e, 2, jit_mem(HR_RAX, 0), 0x1234));
    T("mov qword ptr [rbx+0x08], 0xFFFFFFFFFFFFFFFF", emit_store_imm(e, 8, jit_mem(HR_RBX, 8), -1));
    T("mov byte ptr [r10], 0x7F", emit_store_imm(e, 1, jit_mem(HR_R10, 0), 0x7f));
    T("mov eax, 0x01", emit_mov_ri(e, 8, HR_RAX, 1));
    T("mov r11d, 0xFFFFFFFF", emit_mov_ri(e, 8, HR_R11, 0xffffffffull));
    T("mov rcx, 0xFFFFFFFFFFFFFFFE", emit_mov_ri(e, 8, HR_RCX, ~1ull));
    T("mov rdx, 0x123456789ABC", emit_mov_ri(e, 8, HR_RDX, 0x123456789abcull));
    T("mov si, 0xBEEF", emit_mov_ri(e, 2, HR_RSI, 0xbeef));
    T("mov spl, 0x05", emit_mov_ri(e, 1, HR_RSP, 5));
    T("movzx eax, sil", emit_movzx_rr(e, 4, 1, HR_RAX, HR_RSI));
    T("movzx r8, word ptr [rax]", emit_movzx_rm(e, 8, 2, HR_R8, jit_mem(HR_RAX, 0)));
    T("mov ecx, edx", emit_movzx_rr(e, 8, 4, HR_RCX, HR_RDX));
    T("movsx rax, bl", emit_movsx_rr(e, 8, 1, HR_RAX, HR_RBX));
    T("movsx ax, byte ptr [rcx]", emit_movsx_rm(e, 2, 1, HR_RAX, jit_mem(HR_RCX, 0)));
    T("movsxd rax, ecx", emit_movsx_rr(e, 8, 4, HR_RAX, HR_RCX));
    T("movsxd r12, dword ptr [r13+0x04]", emit_movsx_rm(e, 8, 4, HR_R12, jit_mem(HR_R13, 4)));
    T("lea rax, [rdi+rcx*2+0x05]", emit_lea(e, 8, HR_RAX, jit_mem_idx(HR_RDI, HR_RCX, 1, 5)));
    T("lea eax, [r12+r13*4]", emit_lea(e, 4, HR_RAX, jit_mem_idx(HR_R12, HR_R13, 2, 0)));
    T("lea rax, [rcx*8+0x10]", emit_lea(e, 8, HR_RAX, jit_mem_idx(HR_NONE, HR_RCX, 3, 16)));
    T("lea rax, [0x0000000000100017]", emit_lea(e, 8, HR_RAX, jit_mem(HR_RIP, 0x10)));
    T("xchg rdx, rcx", emit_xchg_rr(e, 8, HR_RCX, HR_RDX));
    T("bswap r9", emit_bswap(e, 8, HR_R9));
}

static void test_arith(void)
{
    T("add rax, rbx", emit_alu_rr(e, JALU_ADD, 8, HR_RAX, HR_RBX));
    T("sub r10d, eax", emit_alu_rr(e, JALU_SUB, 4, HR_R10, HR_RAX));
    T("and bpl, cl", emit_alu_rr(e, JALU_AND, 1, HR_RBP, HR_RCX));
    T("cmp rax, [r15+0x08]", emit_alu_rm(e, JALU_CMP, 8, HR_RAX, jit_mem(HR_R15, 8)));
    T("or [rsp+0x10], cx", emit_alu_mr(e, JALU_OR, 2, jit_mem(HR_RSP, 16), HR_RCX));
    T("adc rax, 0x01", emit_alu_ri(e, JALU_ADC, 8, HR_RAX, 1));
    T("sbb ecx, 0x1000", emit_alu_ri(e, JALU_SBB, 4, HR_RCX, 0x1000));
    T("add rdx, 0xFFFFFFFFFFFFFF80", emit_alu_ri(e, JALU_ADD, 8, HR_RDX, -128));
    T("xor si, 0x1234", emit_alu_ri(e, JALU_XOR, 2, HR_RSI, 0x1234));
    T("cmp dil, 0xFF", emit_alu_ri(e, JALU_CMP, 1, HR_RDI, -1));
    T("sub qword ptr [rbx], 0x10", emit_alu_mi(e, JALU_SUB, 8, jit_mem(HR_RBX, 0), 16));
    T("cmp byte ptr [rax+0x01], 0x02", emit_alu_mi(e, JALU_CMP, 1, jit_mem(HR_RAX, 1), 2));
    T("test rax, rcx", emit_test_rr(e, 8, HR_RAX, HR_RCX));
    T("test r8b, 0x80", emit_test_ri(e, 1, HR_R8, 0x80));
    T("test dword ptr [rdi], 0x10000", emit_test_mi(e, 4, jit_mem(HR_RDI, 0), 0x10000));
    T("shl rax, 0x03", emit_shift_ri(e, JSH_SHL, 8, HR_RAX, 3));
    T("shr ecx, 0x01", emit_shift_ri(e, JSH_SHR, 4, HR_RCX, 1));
    T("sar r9w, cl", emit_shift_rcl(e, JSH_SAR, 2, HR_R9));
    T("rol sil, cl", emit_shift_rcl(e, JSH_ROL, 1, HR_RSI));
    T("imul rax, r11", emit_imul_rr(e, 8, HR_RAX, HR_R11));
    T("imul ecx, edx, 0x03", emit_imul_rri(e, 4, HR_RCX, HR_RDX, 3));
    T("imul r8, r9, 0x1000", emit_imul_rri(e, 8, HR_R8, HR_R9, 0x1000));
    T("inc r12", emit_inc(e, 8, HR_R12));
    T("dec bl", emit_dec(e, 1, HR_RBX));
    T("neg eax", emit_neg(e, 4, HR_RAX));
    T("not dx", emit_not(e, 2, HR_RDX));
}

static void test_flow(void)
{
    T("setb al", emit_setcc(e, JCC_B, HR_RAX));
    T("setnz sil", emit_setcc(e, JCC_NE, HR_RSI));
    T("setle r10b", emit_setcc(e, JCC_LE, HR_R10));
    T("cmovnbe rax, rcx", emit_cmov_rr(e, JCC_A, 8, HR_RAX, HR_RCX));
    T("cmovs r8d, r9d", emit_cmov_rr(e, JCC_S, 4, HR_R8, HR_R9));
    T("pushfq", emit_pushfq(e));
    T("popfq", emit_popfq(e));
    T("lahf", emit_lahf(e));
    T("sahf", emit_sahf(e));
    T("push rbx", emit_push(e, HR_RBX));
    T("push r15", emit_push(e, HR_R15));
    T("pop r12", emit_pop(e, HR_R12));
    T("ret", emit_ret(e));
    T("jmp r11", emit_jmp_r(e, HR_R11));
    T("call rax", emit_call_r(e, HR_RAX));
    T("jmp [rbx+rcx*8]", emit_jmp_m(e, jit_mem_idx(HR_RBX, HR_RCX, 3, 0)));
    T("jmp 0x0000000000100100", emit_jmp_abs(e, RX_BASE + 0x100));
    T("jz 0x00000000000FFF00", emit_jcc_abs(e, JCC_E, RX_BASE - 0x100));
    T("call 0x0000000000100040", emit_call_abs(e, (void *)(uintptr_t)(RX_BASE + 0x40), HR_RAX));
    /* a label bound after two forward jumps and used by one backward jump */
    {
        struct jit_emit e;
        jit_emit_init(&e, buf, RX_BASE, sizeof buf);
        struct jit_label l = jit_label_new();
        size_t f1 = emit_jcc_label(&e, JCC_NE, &l);
        size_t f2 = emit_jmp_label(&e, &l);
        emit_u8(&e, 0x90);
        jit_label_bind(&e, &l);
        size_t f3 = emit_jmp_label(&e, &l);
        int32_t r1, r2, r3;
        memcpy(&r1, buf + f1, 4);
        memcpy(&r2, buf + f2, 4);
        memcpy(&r3, buf + f3, 4);
        CHECK_EQ(r1, (int64_t)l.pos - (int64_t)(f1 + 4));
        CHECK_EQ(r2, 1);
        CHECK_EQ(r3, -5);
        CHECK(!e.overflow);
    }
}

static void test_align_overflow(void)
{
    for (unsigned start = 0; start < 16; start++) {
        struct jit_emit e;
        jit_emit_init(&e, buf, RX_BASE + start, sizeof buf);
        emit_align(&e, 16);
        CHECK_EQ((e.rx + e.pos) & 15, 0);
        /* the padding must decode as NOPs that end exactly at the boundary */
        size_t off = 0;
        while (off < e.pos) {
            ZydisDisassembledInstruction zi;
            if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, 0, buf + off,
                                                    e.pos - off, &zi))) {
                CHECK(0);
                break;
            }
            CHECK(zi.info.mnemonic == ZYDIS_MNEMONIC_NOP);
            off += zi.info.length;
        }
        CHECK_EQ(off, e.pos);
    }
    struct jit_emit e;
    jit_emit_init(&e, buf, RX_BASE, 5);
    emit_mov_ri(&e, 8, HR_RAX, 0x123456789abcull);
    CHECK(e.overflow);
    CHECK(e.pos <= 5);
}

/* Every register pair and size through the rr encoder, and every base/index/scale/disp class
 * through the memory encoder, compared against zydis's operand decoding. */
static ZydisDecoder zdec;

static int zid(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE) return -1;
    return ZydisRegisterGetId(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
}

static bool zdecode(const struct jit_emit *e, ZydisDecodedInstruction *zi, ZydisDecodedOperand *ops)
{
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zdec, buf, e->pos, zi, ops)) &&
           zi->length == e->pos;
}

static void test_sweep_rr(void)
{
    static const unsigned sizes[] = {1, 2, 4, 8};
    unsigned bad = 0;
    for (unsigned s = 0; s < 4; s++)
        for (unsigned a = 0; a < 16; a++)
            for (unsigned b = 0; b < 16; b++)
                for (unsigned op = 0; op < 8; op++) {
                    struct jit_emit e;
                    jit_emit_init(&e, buf, RX_BASE, sizeof buf);
                    emit_alu_rr(&e, (enum jit_alu)op, sizes[s], a, b);
                    ZydisDecodedInstruction zi;
                    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                    bool ok = zdecode(&e, &zi, ops) && zi.operand_width == sizes[s] * 8 &&
                              zid(ops[0].reg.value) == (int)a && zid(ops[1].reg.value) == (int)b &&
                              zi.mnemonic ==
                                  (ZydisMnemonic[]){ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR,
                                                    ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB,
                                                    ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_SUB,
                                                    ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP}[op];
                    /* byte registers 4..7 must be SPL..DIL, never AH..BH */
                    if (ok && sizes[s] == 1)
                        ok = ops[0].reg.value != ZYDIS_REGISTER_AH &&
                             ops[0].reg.value != ZYDIS_REGISTER_CH &&
                             ops[0].reg.value != ZYDIS_REGISTER_DH &&
                             ops[0].reg.value != ZYDIS_REGISTER_BH &&
                             ops[1].reg.value != ZYDIS_REGISTER_AH &&
                             ops[1].reg.value != ZYDIS_REGISTER_CH &&
                             ops[1].reg.value != ZYDIS_REGISTER_DH &&
                             ops[1].reg.value != ZYDIS_REGISTER_BH;
                    if (!ok && bad++ < 5)
                        fprintf(stderr, "# alu %u size %u r%u, r%u wrong\n", op, sizes[s], a, b);
                }
    CHECK_EQ(bad, 0);
}

static void test_sweep_mem(void)
{
    static const int32_t disps[] = {0, 1, -1, 127, -128, 128, -129, 0x7fffffff, INT32_MIN};
    unsigned bad = 0, n = 0;
    for (unsigned base = 0; base < 18; base++) {
        unsigned b = base < 16 ? base : base == 16 ? HR_NONE : HR_RIP;
        for (unsigned idx = 0; idx < 17; idx++) {
            unsigned x = idx < 16 ? idx : HR_NONE;
            if (x == HR_RSP) continue; /* not encodable as an index */
            if (b == HR_RIP && x != HR_NONE) continue;
            for (unsigned sc = 0; sc < 4; sc++)
                for (unsigned d = 0; d < sizeof disps / sizeof disps[0]; d++)
                    for (unsigned r = 0; r < 16; r += 5) {
                        struct jit_emit e;
                        jit_emit_init(&e, buf, RX_BASE, sizeof buf);
                        struct jit_mem m = jit_mem_idx(b, x, x == HR_NONE ? 0 : sc, disps[d]);
                        emit_load(&e, 8, r, m);
                        n++;
                        ZydisDecodedInstruction zi;
                        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                        bool ok = zdecode(&e, &zi, ops) && zi.mnemonic == ZYDIS_MNEMONIC_MOV &&
                                  zid(ops[0].reg.value) == (int)r &&
                                  ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY;
                        if (ok) {
                            const ZydisDecodedOperandMem *zm = &ops[1].mem;
                            int zb = zm->base == ZYDIS_REGISTER_RIP ? HR_RIP : zid(zm->base);
                            int want_b = b == HR_NONE ? -1 : (int)b;
                            int zx = zid(zm->index);
                            int want_x = x == HR_NONE ? -1 : (int)x;
                            unsigned zscale = zm->scale ? (unsigned)__builtin_ctz(zm->scale) : 0;
                            int64_t zd = zm->disp.has_displacement ? zm->disp.value : 0;
                            ok = zb == want_b && zx == want_x && (x == HR_NONE || zscale == sc) &&
                                 zd == disps[d];
                        }
                        if (!ok && bad++ < 5)
                            fprintf(stderr,
                                    "# mem base %u index %u scale %u disp %d reg %u wrong\n", b, x,
                                    sc, disps[d], r);
                    }
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(n > 10000);
}

/* ---- executed snippets ---- */

static struct jit_cache *jc;

/* Start emitting a function into the cache. */
static void fn_begin(struct jit_emit *e)
{
    uint8_t *rw;
    size_t avail;
    uintptr_t rx = jit_cache_begin(jc, &rw, &avail);
    jit_emit_init(e, rw, rx, avail);
}

static void *fn_end(struct jit_emit *e)
{
    CHECK(!e->overflow);
    return (void *)jit_cache_commit(jc, e->pos, "test");
}

typedef uint64_t (*fn2)(uint64_t, uint64_t);

static uint64_t helper_mix(uint64_t a, uint64_t b)
{
    return a * 31 + b;
}

static void test_exec(void)
{
    struct jit_emit e;
    /* rax = rdi + rsi*4 + 7 */
    fn_begin(&e);
    emit_lea(&e, 8, HR_RAX, jit_mem_idx(HR_RDI, HR_RSI, 2, 7));
    emit_ret(&e);
    fn2 f = (fn2)fn_end(&e);
    CHECK_EQ(f(100, 3), 119);

    /* sum of 1..n with a backward loop and a forward exit */
    fn_begin(&e);
    struct jit_label top = jit_label_new(), done = jit_label_new();
    emit_alu_rr(&e, JALU_XOR, 4, HR_RAX, HR_RAX);
    jit_label_bind(&e, &top);
    emit_test_rr(&e, 8, HR_RDI, HR_RDI);
    emit_jcc_label(&e, JCC_E, &done);
    emit_alu_rr(&e, JALU_ADD, 8, HR_RAX, HR_RDI);
    emit_dec(&e, 8, HR_RDI);
    emit_jmp_label(&e, &top);
    jit_label_bind(&e, &done);
    emit_ret(&e);
    f = (fn2)fn_end(&e);
    CHECK_EQ(f(100, 0), 5050);

    /* call back into C (stack realigned by one push), then combine */
    fn_begin(&e);
    emit_push(&e, HR_RBX);
    emit_mov_rr(&e, 8, HR_RBX, HR_RSI);
    emit_call_abs(&e, (const void *)helper_mix, HR_RAX);
    emit_alu_rr(&e, JALU_XOR, 8, HR_RAX, HR_RBX);
    emit_pop(&e, HR_RBX);
    emit_ret(&e);
    f = (fn2)fn_end(&e);
    CHECK_EQ(f(2, 5), (2 * 31 + 5) ^ 5);

    /* host flags out through pushfq: 0xff + 1 at byte size sets CF, ZF, AF, PF */
    fn_begin(&e);
    emit_mov_rr(&e, 8, HR_RAX, HR_RDI);
    emit_alu_rr(&e, JALU_ADD, 1, HR_RAX, HR_RSI);
    emit_pushfq(&e);
    emit_pop(&e, HR_RAX);
    emit_ret(&e);
    f = (fn2)fn_end(&e);
    CHECK_EQ(f(0xff, 1) & 0x8d5, 0x55);

    /* setcc / cmov / shifts / imul / movsx */
    fn_begin(&e);
    emit_alu_rr(&e, JALU_CMP, 8, HR_RDI, HR_RSI);
    emit_setcc(&e, JCC_L, HR_RAX);
    emit_movzx_rr(&e, 4, 1, HR_RAX, HR_RAX);
    emit_shift_ri(&e, JSH_SHL, 8, HR_RAX, 8);
    emit_imul_rri(&e, 8, HR_RCX, HR_RSI, 3);
    emit_movsx_rr(&e, 8, 1, HR_RDX, HR_RCX);
    emit_alu_rr(&e, JALU_ADD, 8, HR_RAX, HR_RDX);
    emit_ret(&e);
    f = (fn2)fn_end(&e);
    CHECK_EQ(f((uint64_t)-5, 0x50), 0x100 + (int64_t)(int8_t)0xf0);
    CHECK_EQ(f(5, 1), 3);

    /* a jump patched after the fact, as block chaining does */
    fn_begin(&e);
    size_t field = emit_jmp_abs(&e, jit_emit_here(&e) + 5); /* to the next instruction */
    uintptr_t a_path = jit_emit_here(&e);
    emit_mov_ri(&e, 4, HR_RAX, 1);
    emit_ret(&e);
    uintptr_t b_path = jit_emit_here(&e);
    emit_mov_ri(&e, 4, HR_RAX, 2);
    emit_ret(&e);
    uintptr_t entry = e.rx;
    uint8_t *rw_field = e.buf + field;
    fn_end(&e);
    f = (fn2)entry;
    CHECK_EQ(f(0, 0), 1);
    jit_patch_rel32(rw_field, entry + field, b_path);
    CHECK_EQ(f(0, 0), 2);
    jit_patch_rel32(rw_field, entry + field, a_path);
    CHECK_EQ(f(0, 0), 1);
}

int main(void)
{
    ZydisDecoderInit(&zdec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    RUN(test_moves);
    RUN(test_arith);
    RUN(test_flow);
    RUN(test_align_overflow);
    RUN(test_sweep_rr);
    RUN(test_sweep_mem);
    jc = jit_cache_new(1 << 20);
    if (jc) {
        RUN(test_exec);
        jit_cache_free(jc);
    } else {
        printf("ok %d - test_exec # SKIP no executable memfd mapping on this host\n",
               ++check_count);
    }
    return check_done();
}
