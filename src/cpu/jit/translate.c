/* translate.c — one decoded block to host x86-64 code (docs/JIT.md has the conventions).
 * Every instruction is either emitted inline — the same host instruction with guest register
 * operands rewritten to host registers (the block's cached ones) or to their slots in struct
 * cpu (RBX), and guest memory operands to a host pointer from the inlined soft-TLB check — or
 * handed to the interpreter's handler through jit_helper_insn. A memory instruction whose TLB check
 * misses takes that same handler call, so the inline code only ever covers the simple case and the
 * interpreter owns every corner.
 *
 * Guest arithmetic flags are in one of four places as the block is emitted (`floc`): host
 * flags, AX as a LAHF/SETO image, AX as it came into the block (an image, or JIT_AX_MEMORY
 * meaning struct cpu), or struct cpu (c->rflags / c->lf). They move into host flags only
 * where an instruction reads them, and into AX only where a handler or an exit needs them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cpu/exec/block.h"
#include "cpu/ops/ops.h"
#include "jit.h"

#define JIT_MAX_INSNS 64
#define CPU_OFF(f)    ((int32_t)offsetof(struct cpu, f))
#define F_ARITH_MASK  0x8d5

/* How an inline instruction treats the arithmetic flags: leaves them, rewrites all six, or
 * reads (or only partly writes) them. */
enum { FX_NONE, FX_KILL, FX_READ };

/* Where the guest's arithmetic flags are while a block runs. */
enum tx_floc {
    FLOC_HOST, /* host RFLAGS */
    FLOC_AXI,  /* AX = LAHF/SETO image */
    FLOC_AXE,  /* AX as at block entry: an image or JIT_AX_MEMORY */
    FLOC_MEM,  /* struct cpu */
};

/* Inline instruction classes; TX_FALLBACK is the interpreter's handler. */
enum tx_class {
    TX_FALLBACK,
    TX_NOP,
    TX_MOV_RM_R,
    TX_MOV_R_RM,
    TX_MOV_RM_IMM,
    TX_MOV_R_IMM,
    TX_LEA,
    TX_ALU_RM_R,
    TX_ALU_R_RM,
    TX_ALU_ACC,
    TX_ALU_GRP1,
    TX_TEST_RM_R,
    TX_TEST_ACC,
    TX_TEST_RM_IMM,
    TX_UNARY, /* not, neg (F6/F7 /2 /3), inc, dec (FE/FF /0 /1) */
    TX_SHIFT,
    TX_IMUL,
    TX_MOVX,
    TX_CMOV,
    TX_SETCC,
    TX_PUSH_R,
    TX_PUSH_IMM,
    TX_POP_R,
    TX_JCC,
    TX_JMP,
    TX_CALL,
    TX_RET,
    TX_JMP_RM,
    TX_CALL_RM,
    TX_CF,    /* cmc, clc, stc */
    TX_CBW,   /* cbw, cwde, cdqe */
    TX_BSWAP, /* bswap r32/r64 */
    TX_XCHG,  /* xchg between registers (86/87 mod=3, 90+r) */
    TX_LEAVE,
};

struct tx_slow {
    struct jit_label entry;
    size_t resume; /* emitter offset to continue at */
    unsigned k;
    uint16_t dirty; /* cached registers to store before calling the handler */
    bool ax_valid;  /* AX holds the flags (else they are in struct cpu) */
    uint8_t floc;   /* where the main path has the flags after the instruction */
};

struct tx_stub {
    struct jit_label entry;
    uint64_t target;
    unsigned exit; /* index into tb->exit */
};

struct tx {
    struct jit *j;
    struct cpu *c;
    struct jit_emit *e;
    struct jit_tb *tb;  /* written through the cache's writable view... */
    struct jit_tb *tbx; /* ...and read through the executable one by everyone after */
    const struct insn *ins;
    unsigned n, k;
    uint64_t rip, next; /* this instruction's linear address and the next one's */
    uint64_t page;      /* linear page of the block's first byte */
    unsigned cpl;
    uint8_t floc; /* where the guest flags are now (enum tx_floc) */
    bool reads;   /* the current instruction reads the flags: host flags around its access */
    uint8_t cls[JIT_MAX_INSNS];
    struct tx_slow slow[JIT_MAX_INSNS];
    unsigned nslow;
    struct tx_slow *cur_slow; /* slow path of the current instruction, if any */
    struct tx_stub stub[2];
    unsigned nstub;
    struct jit_call *rec; /* handler-call records (in the cache, after the tb) */
    unsigned nrec;
    struct jit_label entry_exit;
    bool self;                /* the block ends in a jump (Jcc or JMP) to its own start */
    struct jit_label loop_hd; /* ... which lands here, registers and flags in place */
    /* guest registers cached in host registers for the whole block (tx_regs_choose) */
    uint8_t hreg[16];           /* guest register -> host register, or HR_NONE */
    uint16_t cached;            /* guest registers with a host register */
    uint16_t dirty;             /* ... whose host register may differ from struct cpu here */
    uint16_t wr[JIT_MAX_INSNS]; /* guest registers each inline instruction may write */
    uint16_t fresh; /* cached registers the block writes whole before reading: not loaded */
};

static bool tx_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* ---- classification ---- */

static enum tx_class tx_classify(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7, s = i->opsize;
    bool mem = i->flags & INSN_MEM;
    if (i->fn == exec_ud || i->addrsize == 2) return TX_FALLBACK; /* #UD keeps op 0 */
    if (mem && i->base == REG_RIP && i->index != REG_NONE) return TX_FALLBACK;
    if (i->flags & INSN_LOCK) {
        /* host LOCK on the same RMW forms; anything else locked goes to the handler */
        bool rmw = mem && ((op < 0x40 && (op & 7) < 2 && ((op >> 3) & 7) != 7) ||
                           ((op == 0x80 || op == 0x81 || op == 0x83) && sub != 7) ||
                           ((op == 0xF6 || op == 0xF7) && (sub == 2 || sub == 3)) ||
                           ((op == 0xFE || op == 0xFF) && sub < 2));
        if (!rmw) return TX_FALLBACK;
    }
    if (op < 0x40 && (op & 7) < 6) {
        switch (op & 7) {
        case 0:
        case 1: return TX_ALU_RM_R;
        case 2:
        case 3: return TX_ALU_R_RM;
        default: return TX_ALU_ACC;
        }
    }
    if (op >= 0x91 && op <= 0x97) return TX_XCHG;
    if (op >= 0x50 && op <= 0x57) return s == 8 ? TX_PUSH_R : TX_FALLBACK;
    if (op >= 0x58 && op <= 0x5F) return s == 8 ? TX_POP_R : TX_FALLBACK;
    if (op == 0x68 || op == 0x6A) return s == 8 ? TX_PUSH_IMM : TX_FALLBACK;
    if (op == 0x69 || op == 0x6B) return TX_IMUL;
    if (op >= 0x70 && op <= 0x7F) return TX_JCC;
    if (op >= 0x180 && op <= 0x18F) return TX_JCC;
    if (op >= 0x140 && op <= 0x14F) return TX_CMOV;
    if (op >= 0x190 && op <= 0x19F) return TX_SETCC;
    if (op >= 0xB0 && op <= 0xBF) return TX_MOV_R_IMM;
    if (op >= 0x1C8 && op <= 0x1CF) return s >= 4 ? TX_BSWAP : TX_FALLBACK;
    switch (op) {
    case 0x63: return s == 8 ? TX_MOVX : TX_FALLBACK;
    case 0x80:
    case 0x81:
    case 0x83: return TX_ALU_GRP1;
    case 0x84:
    case 0x85: return TX_TEST_RM_R;
    case 0x88:
    case 0x89: return TX_MOV_RM_R;
    case 0x8A:
    case 0x8B: return TX_MOV_R_RM;
    case 0x8D: return mem ? TX_LEA : TX_FALLBACK;
    case 0x90: return (i->reg == 0) ? TX_NOP : TX_XCHG;
    case 0x86:
    case 0x87: return mem ? TX_FALLBACK : TX_XCHG; /* with memory: an implied LOCK */
    case 0xC9: return s == 8 ? TX_LEAVE : TX_FALLBACK;
    case 0x98: return TX_CBW;
    case 0xA8:
    case 0xA9: return TX_TEST_ACC;
    case 0xC0:
    case 0xC1:
    case 0xD0:
    case 0xD1:
    case 0xD2:
    case 0xD3: return sub != 6 ? TX_SHIFT : TX_FALLBACK;
    case 0xC3: return TX_RET;
    case 0xC6:
    case 0xC7: return sub == 0 ? TX_MOV_RM_IMM : TX_FALLBACK;
    case 0xE8: return TX_CALL;
    case 0xE9:
    case 0xEB: return TX_JMP;
    case 0xF5:
    case 0xF8:
    case 0xF9: return TX_CF;
    case 0xF6:
    case 0xF7:
        if (sub < 2) return TX_TEST_RM_IMM;
        if (sub < 4) return TX_UNARY;
        return TX_FALLBACK;
    case 0xFE: return sub < 2 ? TX_UNARY : TX_FALLBACK;
    case 0xFF:
        if (sub < 2) return TX_UNARY;
        if (sub == 2) return TX_CALL_RM;
        if (sub == 4) return TX_JMP_RM;
        return TX_FALLBACK;
    case 0x11F: return TX_NOP;
    case 0x1AF: return TX_IMUL;
    case 0x1B6:
    case 0x1B7:
    case 0x1BE:
    case 0x1BF: return TX_MOVX;
    default: return TX_FALLBACK;
    }
}

static unsigned tx_alu_op(const struct insn *i)
{
    return (i->op == 0x80 || i->op == 0x81 || i->op == 0x83) ? (i->modrm >> 3) & 7
                                                             : (i->op >> 3) & 7;
}

static unsigned tx_flags_effect(enum tx_class cls, const struct insn *i)
{
    switch (cls) {
    case TX_ALU_RM_R:
    case TX_ALU_R_RM:
    case TX_ALU_ACC:
    case TX_ALU_GRP1: {
        unsigned a = tx_alu_op(i);
        return (a == JALU_ADC || a == JALU_SBB) ? FX_READ : FX_KILL;
    }
    case TX_TEST_RM_R:
    case TX_TEST_ACC:
    case TX_TEST_RM_IMM: return FX_KILL;
    case TX_UNARY:
        if (i->op == 0xF6 || i->op == 0xF7)
            return ((i->modrm >> 3) & 7) == 3 ? FX_KILL : FX_NONE; /* neg / not */
        return FX_READ;                                            /* inc/dec keep CF */
    case TX_SHIFT:
    case TX_IMUL:
    case TX_CMOV:
    case TX_SETCC:
    case TX_JCC:
    case TX_CF: return FX_READ;
    default: return FX_NONE;
    }
}

static bool tx_is_branch(enum tx_class cls)
{
    return cls == TX_JCC || cls == TX_JMP || cls == TX_CALL || cls == TX_RET || cls == TX_JMP_RM ||
           cls == TX_CALL_RM;
}

/* ---- guest state addressing ---- */

/* The slot of guest register r at size bytes (AH..BH are byte 1 of RAX..RBX's slot). */
static struct jit_mem tx_gpr(const struct tx *t, unsigned r, unsigned size)
{
    const struct insn *i = &t->ins[t->k];
    if (size == 1 && !(i->flags & INSN_REX) && r >= 4 && r < 8)
        return jit_mem(HR_RBX, CPU_OFF(gpr) + 8 * (int32_t)(r - 4) + 1);
    if (t->hreg[r] != HR_NONE) return jit_reg_op(t->hreg[r]);
    return jit_mem(HR_RBX, CPU_OFF(gpr) + 8 * (int32_t)r);
}

/* The host register caching guest register r for an access of `size`, or HR_NONE. */
static unsigned tx_hreg(const struct tx *t, unsigned r, unsigned size)
{
    const struct insn *i = &t->ins[t->k];
    if (size == 1 && !(i->flags & INSN_REX) && r >= 4 && r < 8) return HR_NONE;
    return t->hreg[r];
}

static struct jit_mem tx_cpu(int32_t off)
{
    return jit_mem(HR_RBX, off);
}

/* h = guest register r at size, zero-extended. */
static void tx_load_gpr(struct tx *t, unsigned h, unsigned r, unsigned size)
{
    struct jit_mem m = tx_gpr(t, r, size);
    if (size >= 4)
        emit_load(t->e, size, h, m);
    else
        emit_movzx_rm(t->e, 4, size, h, m);
}

/* Guest register r at size = h, with x86-64 write rules (32-bit writes zero the top). */
static void tx_store_gpr(struct tx *t, unsigned r, unsigned size, unsigned h)
{
    unsigned hr = tx_hreg(t, r, size);
    if (hr != HR_NONE) { /* a 32-bit move zero-extends, 8/16-bit ones merge: the guest rules */
        if (hr != h || size == 4) emit_mov_rr(t->e, size, hr, h);
        return;
    }
    struct jit_mem m = tx_gpr(t, r, size);
    if (size == 4) { /* zero-extend in a temporary: h may be another guest register's */
        emit_mov_rr(t->e, 4, HR_RDI, h);
        emit_store(t->e, 8, m, HR_RDI);
    } else {
        emit_store(t->e, size, m, h);
    }
}

/* A host register holding guest register r at size (low bits; the rest is junk for size < 8):
 * its cached one, else h loaded with it. */
static unsigned tx_use_gpr(struct tx *t, unsigned h, unsigned r, unsigned size)
{
    unsigned hr = tx_hreg(t, r, size);
    if (hr != HR_NONE) return hr;
    tx_load_gpr(t, h, r, size);
    return h;
}

/* ---- guest registers in host registers ----
 * Within a block, the guest registers it uses most live in host registers (RBP, R12-R15 and
 * R9-R11; tx_gpr hands out the register instead of the slot, which every r/m form accepts).
 * They are loaded after the entry checks and stored back (those written so far) before
 * anything that looks at struct cpu: a handler call (inline or on a slow path, which may also
 * fault: the state it sees must be the interpreter's) and every exit. After a handler call
 * they are loaded again, as the handler may have written any register. A block that uses a
 * register's high byte (AH..BH) keeps that register in memory. */

static const uint8_t tx_pool[] = {HR_RBP, HR_R12, HR_R13, HR_R14, HR_R15, HR_R9, HR_R10, HR_R11};

/* Registers instruction i (class cls, inline) reads or writes, counted into refs; the ones it
 * may write; the ones it names by their high byte. Returns the registers it names; *fresh is
 * the one it writes whole (8 or 4 bytes) without reading it, if any. */
static uint16_t tx_regs_of(const struct insn *i, enum tx_class cls, uint8_t refs[16],
                           uint16_t *writes, uint16_t *hibyte, uint16_t *fresh)
{
    bool mem = i->flags & INSN_MEM, rex = i->flags & INSN_REX;
    unsigned reg = i->reg & 15, rm = i->rm & 15;
    uint16_t w = 0, use = 0, addr = 0;
    bool use_reg = false, use_rm = false, w_reg = false, w_rm = false;
    bool byte_reg = i->opsize == 1, byte_rm = i->opsize == 1;
    unsigned alu =
        (cls == TX_ALU_RM_R || cls == TX_ALU_R_RM || cls == TX_ALU_ACC || cls == TX_ALU_GRP1)
            ? tx_alu_op(i)
            : 0;
    if (mem) {
        if (i->base != REG_NONE && i->base != REG_RIP) addr |= (uint16_t)(1u << (i->base & 15));
        if (i->index != REG_NONE) addr |= (uint16_t)(1u << (i->index & 15));
        if (i->base != REG_NONE && i->base != REG_RIP) refs[i->base & 15]++;
        if (i->index != REG_NONE) refs[i->index & 15]++;
    }
    switch (cls) {
    case TX_MOV_RM_R: use_reg = use_rm = w_rm = true; break;
    case TX_MOV_R_RM:
    case TX_MOVX:
    case TX_CMOV: use_reg = use_rm = w_reg = true; break;
    case TX_IMUL: use_reg = use_rm = w_reg = true; break;
    case TX_MOV_RM_IMM:
    case TX_SETCC:
    case TX_UNARY:
    case TX_SHIFT: use_rm = w_rm = true; break;
    case TX_MOV_R_IMM:
    case TX_LEA:
    case TX_BSWAP: use_reg = w_reg = true; break;
    case TX_ALU_RM_R:
        use_reg = use_rm = true;
        w_rm = alu != JALU_CMP;
        break;
    case TX_ALU_R_RM:
        use_reg = use_rm = true;
        w_reg = alu != JALU_CMP;
        break;
    case TX_ALU_GRP1:
        use_rm = true;
        w_rm = alu != JALU_CMP;
        break;
    case TX_TEST_RM_R: use_reg = use_rm = true; break;
    case TX_TEST_RM_IMM:
    case TX_JMP_RM: use_rm = true; break;
    case TX_ALU_ACC:
    case TX_TEST_ACC:
    case TX_CBW:
        use |= 1u << R_RAX;
        if (cls != TX_TEST_ACC && !(cls == TX_ALU_ACC && alu == JALU_CMP)) w |= 1u << R_RAX;
        break;
    case TX_XCHG:
        if (i->op >= 0x90 && i->op <= 0x97) {
            use |= w |= 1u << R_RAX;
            use_reg = w_reg = true;
        } else {
            use_reg = use_rm = w_reg = w_rm = true;
        }
        break;
    case TX_PUSH_R: use_reg = true; /* fall through */
    case TX_PUSH_IMM:
    case TX_CALL:
    case TX_RET: use |= w |= 1u << R_RSP; break;
    case TX_CALL_RM:
        use_rm = true;
        use |= w |= 1u << R_RSP;
        break;
    case TX_POP_R:
        use_reg = w_reg = true;
        use |= w |= 1u << R_RSP;
        break;
    case TX_LEAVE: use |= w |= (1u << R_RSP) | (1u << R_RBP); break;
    default: break;
    }
    if (cls == TX_MOVX || cls == TX_SETCC) {
        byte_reg = false;
        byte_rm = cls == TX_SETCC || i->op == 0x1B6 || i->op == 0x1BE;
    }
    if (cls == TX_SHIFT && (i->op == 0xD2 || i->op == 0xD3)) use |= 1u << R_RCX;
    if (mem) use_rm = w_rm = false;
    if (use_reg) {
        if (byte_reg && !rex && reg >= 4 && reg < 8)
            *hibyte |= (uint16_t)(1u << (reg - 4));
        else
            use |= (uint16_t)(1u << reg);
        if (w_reg) w |= (uint16_t)(1u << reg);
    }
    if (use_rm) {
        if (byte_rm && !rex && rm >= 4 && rm < 8)
            *hibyte |= (uint16_t)(1u << (rm - 4));
        else
            use |= (uint16_t)(1u << rm);
        if (w_rm) w |= (uint16_t)(1u << rm);
    }
    for (unsigned r = 0; r < 16; r++)
        if (use & (1u << r)) refs[r]++;
    *writes |= w;
    /* whole writes that read nothing of the destination */
    *fresh = 0;
    unsigned dst = 16;
    uint16_t src = addr;
    switch (cls) {
    case TX_MOV_R_RM:
    case TX_MOVX:
        dst = reg;
        if (!mem) src |= (uint16_t)(1u << rm);
        break;
    case TX_MOV_R_IMM:
    case TX_LEA: dst = reg; break;
    case TX_IMUL:
        if (i->op != 0x1AF) {
            dst = reg;
            if (!mem) src |= (uint16_t)(1u << rm);
        }
        break;
    case TX_MOV_RM_R:
        if (!mem) dst = rm;
        src |= (uint16_t)(1u << reg);
        break;
    case TX_MOV_RM_IMM:
        if (!mem) dst = rm;
        break;
    default: break;
    }
    if (dst < 16 && i->opsize >= 4 && !(src & (1u << dst))) *fresh = (uint16_t)(1u << dst);
    return (uint16_t)(use | addr);
}

/* Which guest registers get a host register in this block: the most used ones (at least
 * twice). A one-instruction block (a single step of tests/cpu/test_diff) caches none, one or
 * all of its registers in turn, so the differential test checks every inline form with
 * register operands in memory, in host registers, and mixed. */
static void tx_regs_choose(struct tx *t)
{
    uint8_t refs[16] = {0};
    uint16_t writes = 0, hibyte = 0, seen = 0;
    memset(t->hreg, HR_NONE, sizeof t->hreg);
    t->cached = t->dirty = t->fresh = 0;
    for (unsigned k = 0; k < t->n; k++) {
        t->wr[k] = 0;
        if (t->cls[k] == TX_FALLBACK) {
            seen = 0xffff; /* the handler reads them all from struct cpu */
            continue;
        }
        uint16_t fresh, use = tx_regs_of(&t->ins[k], (enum tx_class)t->cls[k], refs, &t->wr[k],
                                         &hibyte, &fresh);
        t->fresh |= fresh & ~seen; /* written whole before anything reads it */
        seen |= use;
        writes |= t->wr[k];
    }
    unsigned min = 2, max = sizeof tx_pool;
    if (t->n == 1) { /* a single step: none, one or all of its registers, in turn */
        min = 1;
        max = (unsigned)(t->c->stats.insns % 3) == 2 ? max : (unsigned)(t->c->stats.insns % 3);
    }
    for (unsigned p = 0; p < max; p++) {
        unsigned best = 16;
        for (unsigned r = 0; r < 16; r++)
            if (!(hibyte & (1u << r)) && t->hreg[r] == HR_NONE && refs[r] >= min &&
                (best == 16 || refs[r] > refs[best]))
                best = r;
        if (best == 16) break;
        t->hreg[best] = tx_pool[p];
        t->cached |= (uint16_t)(1u << best);
    }
}

/* Load the cached registers (at block entry: but those written before being read). */
static void tx_regs_load(struct tx *t, bool entry)
{
    uint16_t mask = t->cached & (entry ? ~t->fresh : 0xffff);
    for (unsigned r = 0; r < 16; r++)
        if (mask & (1u << r))
            emit_load(t->e, 8, t->hreg[r], jit_mem(HR_RBX, CPU_OFF(gpr) + 8 * (int32_t)r));
}

/* Store the cached registers in mask to struct cpu (flag-free, no temporaries). */
static void tx_regs_store(struct tx *t, uint16_t mask)
{
    mask &= t->cached;
    for (unsigned r = 0; r < 16; r++)
        if (mask & (1u << r))
            emit_store(t->e, 8, jit_mem(HR_RBX, CPU_OFF(gpr) + 8 * (int32_t)r), t->hreg[r]);
}

/* ---- flags ---- */

/* AX (a LAHF/SETO image) -> struct cpu (c->rflags, lf.op = FL_NONE). Clobbers RAX, RCX and
 * the flags. */
static void glue_ax_to_cpu(struct jit_emit *e)
{
    emit_u8(e, 0x0F); /* movzx ecx, ah */
    emit_u8(e, 0xB6);
    emit_u8(e, 0xCC);
    emit_alu_ri(e, JALU_AND, 4, HR_RCX, F_SF | F_ZF | F_AF | F_PF | F_CF);
    emit_movzx_rr(e, 4, 1, HR_RAX, HR_RAX);
    emit_shift_ri(e, JSH_SHL, 4, HR_RAX, 11);
    emit_alu_rr(e, JALU_OR, 4, HR_RCX, HR_RAX);
    emit_load(e, 8, HR_RAX, tx_cpu(CPU_OFF(rflags)));
    emit_alu_ri(e, JALU_AND, 8, HR_RAX, ~F_ARITH_MASK);
    emit_alu_rr(e, JALU_OR, 8, HR_RAX, HR_RCX);
    emit_store(e, 8, tx_cpu(CPU_OFF(rflags)), HR_RAX);
    emit_store_imm(e, 4, tx_cpu(CPU_OFF(lf.op)), FL_NONE);
}

/* struct cpu -> host flags: materialise a lazy record, then OF via `add al,0x7f` and the rest
 * via SAHF (no POPF: slow, and it would load TF/DF/AC too). Clobbers the caller-saved
 * registers but R9-R11, which may hold guest registers. A glue routine: entered by a call, so
 * the three pushes realign the stack for flags_read. */
static void glue_flags_load(struct jit_emit *e)
{
    struct jit_label done = jit_label_new();
    emit_alu_mi(e, JALU_CMP, 4, tx_cpu(CPU_OFF(lf.op)), FL_NONE);
    emit_jcc_label(e, JCC_E, &done);
    emit_push(e, HR_R9); /* cached guest registers (translate.c, tx_pool) */
    emit_push(e, HR_R10);
    emit_push(e, HR_R11);
    emit_mov_rr(e, 8, HR_RDI, HR_RBX);
    emit_call_abs(e, (const void *)flags_read, HR_RAX);
    emit_pop(e, HR_R11);
    emit_pop(e, HR_R10);
    emit_pop(e, HR_R9);
    jit_label_bind(e, &done);
    emit_load(e, 8, HR_RAX, tx_cpu(CPU_OFF(rflags)));
    emit_mov_rr(e, 4, HR_RCX, HR_RAX);
    emit_shift_ri(e, JSH_SHR, 4, HR_RCX, 11);
    emit_alu_ri(e, JALU_AND, 4, HR_RCX, 1);
    emit_alu_ri(e, JALU_ADD, 1, HR_RCX, 0x7f);
    emit_u8(e, 0x88); /* mov ah, al */
    emit_u8(e, 0xC4);
    emit_sahf(e);
    emit_ret(e);
}

static void tx_flags_load(struct tx *t)
{
    emit_call_abs(t->e, (const void *)t->j->g_flags_load, HR_RAX);
}

/* The flags into host flags, wherever they are. Only at the start of an instruction: the
 * glue may call C, which clobbers the temporaries (it preserves R9-R11). */
static void tx_flags_host(struct tx *t)
{
    struct jit_emit *e = t->e;
    switch (t->floc) {
    case FLOC_AXI:
        emit_alu_ri(e, JALU_ADD, 1, HR_RAX, 0x7f);
        emit_sahf(e);
        break;
    case FLOC_AXE: {
        struct jit_label from_ax = jit_label_new(), done = jit_label_new();
        emit_alu_ri(e, JALU_CMP, 4, HR_RAX, JIT_AX_MEMORY);
        emit_jcc_label(e, JCC_NE, &from_ax);
        tx_flags_load(t);
        emit_jmp_label(e, &done);
        jit_label_bind(e, &from_ax);
        emit_alu_ri(e, JALU_ADD, 1, HR_RAX, 0x7f);
        emit_sahf(e);
        jit_label_bind(e, &done);
        break;
    }
    case FLOC_MEM: tx_flags_load(t); break;
    default: break;
    }
    t->floc = FLOC_HOST;
}

/* Host flags -> AX (AH = SF ZF AF PF CF image, AL = OF), if they are in the host: before
 * anything that clobbers host flags or may call a handler. */
static void tx_save_ax(struct tx *t)
{
    if (t->floc != FLOC_HOST) return;
    emit_lahf(t->e);
    emit_setcc(t->e, JCC_O, HR_RAX);
    t->floc = FLOC_AXI;
}

/* After a memory access: back into host flags if the instruction reads them (they were in
 * host flags at its start and saved by the access); otherwise they stay in AX. */
static void tx_restore_ax(struct tx *t)
{
    if (!t->reads || t->floc != FLOC_AXI) return;
    emit_alu_ri(t->e, JALU_ADD, 1, HR_RAX, 0x7f);
    emit_sahf(t->e);
    t->floc = FLOC_HOST;
}

/* ---- slow paths and memory ---- */

/* The current instruction's handler call (created on first use). */
static struct tx_slow *tx_slow(struct tx *t)
{
    if (!t->cur_slow) {
        struct tx_slow *s = &t->slow[t->nslow++];
        s->entry = jit_label_new();
        s->k = t->k;
        s->ax_valid = t->floc != FLOC_MEM;
        s->dirty = t->dirty;
        t->cur_slow = s;
    }
    return t->cur_slow;
}

/* The host registers holding the memory operand's base and index (a cached guest register's
 * own, else loaded into RSI and RDI), HR_NONE for none. Not for RIP-relative operands. */
static void tx_ea_regs(struct tx *t, const struct insn *i, unsigned *b, unsigned *x)
{
    *b = *x = HR_NONE;
    if (i->base != REG_NONE) {
        *b = tx_hreg(t, i->base, 8);
        if (*b == HR_NONE) {
            emit_load(t->e, 8, HR_RSI, tx_gpr(t, i->base, 8));
            *b = HR_RSI;
        }
    }
    if (i->index != REG_NONE) {
        *x = tx_hreg(t, i->index, 8);
        if (*x == HR_NONE) {
            emit_load(t->e, 8, HR_RDI, tx_gpr(t, i->index, 8));
            *x = HR_RDI;
        }
    }
}

/* Linear address of the memory operand in RSI (with_seg: plus the FS/GS base). Flag-free;
 * clobbers RDI. */
static void tx_ea(struct tx *t, const struct insn *i, bool with_seg)
{
    struct jit_emit *e = t->e;
    if (i->base == REG_RIP) {
        uint64_t ea = t->next + (uint64_t)(int64_t)i->disp;
        if (i->addrsize == 4) ea = (uint32_t)ea;
        emit_mov_ri(e, 8, HR_RSI, ea);
    } else {
        unsigned b = HR_NONE, x = HR_NONE;
        tx_ea_regs(t, i, &b, &x);
        if (b == HR_NONE && x == HR_NONE)
            emit_mov_ri(e, 8, HR_RSI, (uint64_t)(int64_t)i->disp);
        else if (x != HR_NONE || i->disp)
            emit_lea(e, 8, HR_RSI, jit_mem_idx(b, x, i->scale, i->disp));
        else if (b != HR_RSI)
            emit_mov_rr(e, 8, HR_RSI, b);
        if (i->addrsize == 4) emit_mov_rr(e, 4, HR_RSI, HR_RSI);
    }
    if (with_seg && (i->seg == SEG_FS || i->seg == SEG_GS)) {
        emit_load(e, 8, HR_RDI,
                  tx_cpu(CPU_OFF(seg) + (int32_t)(i->seg * sizeof(struct segcache)) +
                         (int32_t)offsetof(struct segcache, base)));
        emit_lea(e, 8, HR_RSI, jit_mem_idx(HR_RSI, HR_RDI, 0, 0));
    }
}

/* RSI (linear) -> RSI (host pointer) through the TLB for an access of `size` bytes, or the
 * handler on a miss. Saves the flags in AX first; clobbers RCX, RDX, RDI. */
static void tx_tlb(struct tx *t, unsigned kind, unsigned size)
{
    struct jit_emit *e = t->e;
    tx_save_ax(t);
    struct tx_slow *s = tx_slow(t);
    int32_t tags = CPU_OFF(tlb.e) + (int32_t)(kind * TLB_ENTRIES * sizeof(struct tlb_entry));
    emit_mov_rr(e, 4, HR_RDI, HR_RSI);
    emit_shift_ri(e, JSH_SHR, 4, HR_RDI, 8);
    emit_alu_ri(e, JALU_AND, 4, HR_RDI, (TLB_ENTRIES - 1) * (int32_t)sizeof(struct tlb_entry));
    if (size > 1)
        emit_lea(e, 8, HR_RCX, jit_mem(HR_RSI, (int32_t)size - 1));
    else
        emit_mov_rr(e, 8, HR_RCX, HR_RSI);
    emit_alu_ri(e, JALU_AND, 8, HR_RCX, -4096);
    if (t->cpl != 3) {
        /* tlb_data_hit: under CR4.SMAP only supervisor pages hit here; a user page goes to
         * the handler, whose C path honours RFLAGS.AC. */
        emit_load(e, 8, HR_RDX, jit_mem_idx(HR_RBX, HR_RDI, 0, tags));
        emit_alu_rm(e, JALU_SUB, 8, HR_RDX, tx_cpu(CPU_OFF(tlb.sup_sub)));
        emit_alu_ri(e, JALU_AND, 8, HR_RDX, ~(int32_t)TLB_KERNEL);
        emit_alu_rr(e, JALU_CMP, 8, HR_RDX, HR_RCX);
    } else {
        emit_alu_rm(e, JALU_CMP, 8, HR_RCX, jit_mem_idx(HR_RBX, HR_RDI, 0, tags));
    }
    emit_jcc_label(e, JCC_NE, &s->entry);
    emit_alu_rm(e, JALU_ADD, 8, HR_RSI,
                jit_mem_idx(HR_RBX, HR_RDI, 0, tags + (int32_t)offsetof(struct tlb_entry, addend)));
}

/* The host pointer of the current instruction's memory operand in RSI. */
static void tx_mem(struct tx *t, unsigned kind, unsigned size)
{
    tx_ea(t, &t->ins[t->k], true);
    tx_tlb(t, kind, size);
}

/* LOCK prefix for a host RMW on guest memory. */
static void tx_lock(struct tx *t, const struct insn *i)
{
    if (i->flags & INSN_LOCK) emit_u8(t->e, 0xF0);
}

/* ---- block exits ---- */

static void tx_count(struct tx *t, unsigned retired)
{
    emit_alu_mi(t->e, JALU_ADD, 8, tx_cpu(CPU_OFF(stats.insns)), (int32_t)retired);
}

/* Leave for the run loop with c->rip = rip (through `glue`, which stores RCX to c->rip). */
static void tx_exit_loop(struct tx *t, uint64_t rip, uintptr_t glue)
{
    emit_mov_ri(t->e, 8, HR_RCX, rip);
    emit_jmp_abs(t->e, glue);
}

/* The indirect-branch table lookup for the guest RIP in RCX (already stored in c->rip; the
 * flags in AX): jump to the translation if its entry matches RIP and CPL and the code TLB
 * still maps RIP's page to the block's physical page, else to g_lookup_miss. Emitted once as
 * shared glue, and inline at every indirect exit and cross-page direct exit, so each has its
 * own final indirect jump for the host's branch predictor (a shared one mispredicts nearly
 * always). With `known` the RIP (and the CPL: a direct jump keeps it) is a constant, and the
 * hash and the TLB slots are computed here. */
static void tx_emit_lookup(struct jit_emit *e, struct jit *j, bool known, uint64_t rip,
                           unsigned cpl)
{
    int32_t tags = CPU_OFF(tlb.e) + (int32_t)(TLB_EXEC * TLB_ENTRIES * sizeof(struct tlb_entry));
    int32_t gpas = CPU_OFF(tlb.gpa) + (int32_t)(TLB_EXEC * TLB_ENTRIES * sizeof(uint64_t));
    if (known) {
        emit_mov_ri(e, 8, HR_RDI, (uintptr_t)&j->ibtc[jit_ibtc_index(rip)]);
    } else {
        emit_mov_rr(e, 8, HR_RDX, HR_RCX);
        emit_shift_ri(e, JSH_SHR, 8, HR_RDX, 12);
        emit_alu_rr(e, JALU_XOR, 8, HR_RDX, HR_RCX);
        emit_alu_ri(e, JALU_AND, 4, HR_RDX, JIT_IBTC - 1);
        emit_shift_ri(e, JSH_SHL, 4, HR_RDX, 6);
        emit_mov_ri(e, 8, HR_RDI, (uintptr_t)j->ibtc);
        emit_alu_rr(e, JALU_ADD, 8, HR_RDI, HR_RDX);
    }
    emit_alu_rm(e, JALU_CMP, 8, HR_RCX, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, rip)));
    emit_jcc_abs(e, JCC_NE, j->g_lookup_miss);
    if (known) {
        emit_alu_mi(e, JALU_CMP, 4, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, cpl)),
                    (int32_t)cpl);
    } else {
        emit_load(e, 4, HR_R8, tx_cpu(CPU_OFF(cpl)));
        emit_alu_rm(e, JALU_CMP, 4, HR_R8,
                    jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, cpl)));
    }
    emit_jcc_abs(e, JCC_NE, j->g_lookup_miss);
    /* the code TLB must still map rip's page, to the same physical page */
    unsigned ti = (unsigned)(rip >> 12) & (TLB_ENTRIES - 1);
    if (known) {
        emit_load(e, 8, HR_R8, tx_cpu(gpas + (int32_t)(ti * sizeof(uint64_t))));
    } else {
        emit_mov_rr(e, 4, HR_RDX, HR_RCX);
        emit_shift_ri(e, JSH_SHR, 4, HR_RDX, 12);
        emit_alu_ri(e, JALU_AND, 4, HR_RDX, TLB_ENTRIES - 1);
        emit_load(e, 8, HR_R8, jit_mem_idx(HR_RBX, HR_RDX, 3, gpas));
    }
    emit_alu_ri(e, JALU_AND, 8, HR_R8, -4096);
    emit_alu_rm(e, JALU_CMP, 8, HR_R8,
                jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, gpa_page)));
    emit_jcc_abs(e, JCC_NE, j->g_lookup_miss);
    if (known) {
        emit_load(e, 8, HR_R8, tx_cpu(tags + (int32_t)(ti * sizeof(struct tlb_entry))));
        emit_mov_ri(e, 8, HR_RSI, rip & ~0xfffull);
    } else {
        emit_shift_ri(e, JSH_SHL, 4, HR_RDX, 4);
        emit_load(e, 8, HR_R8, jit_mem_idx(HR_RBX, HR_RDX, 0, tags));
        emit_mov_rr(e, 8, HR_RSI, HR_RCX);
        emit_alu_ri(e, JALU_AND, 8, HR_RSI, -4096);
    }
    emit_alu_rm(e, JALU_AND, 8, HR_R8,
                jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, tag_mask)));
    emit_alu_rr(e, JALU_CMP, 8, HR_R8, HR_RSI);
    emit_jcc_abs(e, JCC_NE, j->g_lookup_miss);
    emit_jmp_m(e, jit_mem(HR_RDI, (int32_t)offsetof(struct jit_ibtc, code)));
}

/* Go to guest `target` (flags already stored, instructions counted): a chainable jump when it
 * is on the block's own page, else through the indirect-branch table. */
static void tx_exit_direct(struct tx *t, uint64_t target)
{
    if ((target & ~0xfffull) == t->page && t->nstub < 2) {
        struct tx_stub *st = &t->stub[t->nstub];
        st->entry = jit_label_new();
        st->target = target;
        st->exit = t->nstub++;
        size_t field = emit_jmp_label(t->e, &st->entry);
        struct jit_exit *x = &t->tb->exit[st->exit];
        x->field = t->e->rx + field;
        x->target = target;
        x->tb = t->tbx;
        t->tb->nexit = (uint8_t)t->nstub;
        return;
    }
    emit_mov_ri(t->e, 8, HR_RCX, target);
    emit_store(t->e, 8, tx_cpu(CPU_OFF(rip)), HR_RCX);
    tx_emit_lookup(t->e, t->j, true, target, t->cpl);
}

/* Target in RCX (canonical), flags stored, counted. */
static void tx_exit_indirect(struct tx *t)
{
    emit_store(t->e, 8, tx_cpu(CPU_OFF(rip)), HR_RCX);
    tx_emit_lookup(t->e, t->j, false, 0, 0);
}

/* Registers and flags where the next block or the run loop expects them (flag-free). */
static void tx_exit_store(struct tx *t)
{
    tx_regs_store(t, t->dirty | t->wr[t->k]);
    if (t->floc == FLOC_HOST) {
        emit_lahf(t->e);
        emit_setcc(t->e, JCC_O, HR_RAX);
    } else if (t->floc == FLOC_MEM) {
        emit_mov_ri(t->e, 4, HR_RAX, JIT_AX_MEMORY);
    }
}

/* Prepare to leave the block after the current instruction retires. */
static void tx_exit_prep(struct tx *t)
{
    tx_exit_store(t);
    tx_count(t, t->k + 1);
}

/* RCX must be canonical, else the handler runs the instruction (and raises #GP). */
static void tx_check_canonical(struct tx *t)
{
    struct jit_emit *e = t->e;
    tx_save_ax(t);
    struct tx_slow *s = tx_slow(t);
    emit_mov_rr(e, 8, HR_RDX, HR_RCX);
    emit_shift_ri(e, JSH_SHL, 8, HR_RDX, 16);
    emit_shift_ri(e, JSH_SAR, 8, HR_RDX, 16);
    emit_alu_rr(e, JALU_CMP, 8, HR_RDX, HR_RCX);
    emit_jcc_label(e, JCC_NE, &s->entry);
}

/* ---- inline instructions ---- */

/* dst-slot op= src for a guest register destination: memory-destination op on the slot for
 * 8/16/8-bit, or load/op/store for 32-bit (which must zero the top half). src is a host
 * register (imm_form false) or imm. */
static void tx_alu_reg(struct tx *t, unsigned alu, unsigned size, unsigned dst, bool imm_form,
                       unsigned src, int32_t imm)
{
    struct jit_emit *e = t->e;
    unsigned hd = tx_hreg(t, dst, size);
    if (hd != HR_NONE) { /* on the host register: a 32-bit op zero-extends as the guest's does */
        if (imm_form)
            emit_alu_ri(e, (enum jit_alu)alu, size, hd, imm);
        else
            emit_alu_rr(e, (enum jit_alu)alu, size, hd, src);
        return;
    }
    struct jit_mem m = tx_gpr(t, dst, size);
    if (size != 4 || alu == JALU_CMP) {
        if (imm_form)
            emit_alu_mi(e, (enum jit_alu)alu, size, m, imm);
        else
            emit_alu_mr(e, (enum jit_alu)alu, size, m, src);
        return;
    }
    emit_load(e, 4, HR_RCX, m);
    if (imm_form)
        emit_alu_ri(e, (enum jit_alu)alu, 4, HR_RCX, imm);
    else
        emit_alu_rr(e, (enum jit_alu)alu, 4, HR_RCX, src);
    emit_store(e, 8, m, HR_RCX);
}

/* Register to register: on the destination's host register when it lives in one, else on its
 * slot with the source loaded into RDX. */
static void tx_alu_rr(struct tx *t, unsigned alu, unsigned size, unsigned dst, unsigned src)
{
    if (tx_hreg(t, dst, size) != HR_NONE)
        emit_alu_rm(t->e, (enum jit_alu)alu, size, tx_hreg(t, dst, size), tx_gpr(t, src, size));
    else
        tx_alu_reg(t, alu, size, dst, false, tx_use_gpr(t, HR_RDX, src, size), 0);
}

static void tx_alu(struct tx *t, enum tx_class cls)
{
    const struct insn *i = &t->ins[t->k];
    struct jit_emit *e = t->e;
    unsigned alu = tx_alu_op(i), size = i->opsize;
    bool mem = i->flags & INSN_MEM;
    int32_t imm = (int32_t)i->imm;
    switch (cls) {
    case TX_ALU_ACC: tx_alu_reg(t, alu, size, R_RAX, true, 0, imm); return;
    case TX_ALU_GRP1:
        if (!mem) {
            tx_alu_reg(t, alu, size, i->rm, true, 0, imm);
            return;
        }
        tx_mem(t, alu == JALU_CMP ? TLB_READ : TLB_WRITE, size);
        tx_restore_ax(t);
        tx_lock(t, i);
        emit_alu_mi(e, (enum jit_alu)alu, size, jit_mem(HR_RSI, 0), imm);
        return;
    case TX_ALU_RM_R:
        if (!mem) {
            tx_alu_rr(t, alu, size, i->rm, i->reg);
            return;
        }
        tx_mem(t, alu == JALU_CMP ? TLB_READ : TLB_WRITE, size);
        unsigned src = tx_use_gpr(t, HR_RDX, i->reg, size);
        tx_restore_ax(t);
        tx_lock(t, i);
        emit_alu_mr(e, (enum jit_alu)alu, size, jit_mem(HR_RSI, 0), src);
        return;
    default: /* TX_ALU_R_RM */
        if (!mem) {
            tx_alu_rr(t, alu, size, i->reg, i->rm);
            return;
        }
        tx_mem(t, TLB_READ, size);
        if (size >= 4)
            emit_load(e, size, HR_RDX, jit_mem(HR_RSI, 0));
        else
            emit_movzx_rm(e, 4, size, HR_RDX, jit_mem(HR_RSI, 0));
        tx_restore_ax(t);
        tx_alu_reg(t, alu, size, i->reg, false, HR_RDX, 0);
        return;
    }
}

static void tx_test(struct tx *t, enum tx_class cls)
{
    const struct insn *i = &t->ins[t->k];
    struct jit_emit *e = t->e;
    unsigned size = i->opsize;
    if (cls == TX_TEST_ACC) {
        emit_test_mi(e, size, tx_gpr(t, R_RAX, size), (int32_t)i->imm);
        return;
    }
    struct jit_mem m;
    if (i->flags & INSN_MEM) {
        tx_mem(t, TLB_READ, size);
        m = jit_mem(HR_RSI, 0);
    } else {
        m = tx_gpr(t, i->rm, size);
    }
    if (cls == TX_TEST_RM_IMM) {
        emit_test_mi(e, size, m, (int32_t)i->imm);
    } else {
        tx_load_gpr(t, HR_RDX, i->reg, size);
        emit_op_rm(e, size, size == 1 ? 0x84 : 0x85, HR_RDX, m);
    }
}

/* Group 2/3/4/5 single-operand forms on the slot or on [rsi]: not/neg/inc/dec and shifts. */
static void tx_rmw1(struct tx *t, enum tx_class cls)
{
    const struct insn *i = &t->ins[t->k];
    struct jit_emit *e = t->e;
    unsigned size = i->opsize, sub = (i->modrm >> 3) & 7;
    uint32_t op = i->op;
    bool by_cl = cls == TX_SHIFT && (op == 0xD2 || op == 0xD3);
    struct jit_mem m;
    bool via_reg = false;
    if (i->flags & INSN_MEM) {
        tx_mem(t, TLB_WRITE, size);
        tx_restore_ax(t);
        m = jit_mem(HR_RSI, 0);
    } else if (size == 4 && tx_hreg(t, i->rm, 4) == HR_NONE) {
        emit_load(e, 4, HR_RDX, tx_gpr(t, i->rm, 4));
        via_reg = true;
        m = jit_mem(HR_NONE, 0);
    } else {
        m = tx_gpr(t, i->rm, size);
    }
    if (by_cl) emit_movzx_rm(e, 4, 1, HR_RCX, tx_gpr(t, R_RCX, 1));
    if (via_reg) {
        /* the guest's own opcode with a register operand (ModRM mod=3, rm=RDX) */
        emit_op_rr(e, 4, op, sub, HR_RDX);
        if (cls == TX_SHIFT && (op == 0xC0 || op == 0xC1)) emit_u8(e, (uint8_t)i->imm);
        emit_store(e, 8, tx_gpr(t, i->rm, 4), HR_RDX);
        return;
    }
    tx_lock(t, i);
    emit_op_rm(e, size, op, sub, m);
    if (cls == TX_SHIFT && (op == 0xC0 || op == 0xC1)) emit_u8(e, (uint8_t)i->imm);
}

/* Source r/m of size `ssize` into host register h (zero-extended). */
static void tx_src(struct tx *t, unsigned h, unsigned ssize)
{
    const struct insn *i = &t->ins[t->k];
    if (i->flags & INSN_MEM) {
        tx_mem(t, TLB_READ, ssize);
        if (ssize >= 4)
            emit_load(t->e, ssize, h, jit_mem(HR_RSI, 0));
        else
            emit_movzx_rm(t->e, 4, ssize, h, jit_mem(HR_RSI, 0));
        tx_restore_ax(t);
    } else {
        tx_load_gpr(t, h, i->rm, ssize);
    }
}

/* RSI = host pointer of the stack slot at RSP + delta (8 bytes), for `kind`. */
static void tx_stack(struct tx *t, unsigned kind, int32_t delta)
{
    emit_load(t->e, 8, HR_RSI, tx_gpr(t, R_RSP, 8));
    if (delta) emit_lea(t->e, 8, HR_RSI, jit_mem(HR_RSI, delta));
    tx_tlb(t, kind, 8);
}

static void tx_rsp_add(struct tx *t, int32_t delta)
{
    struct jit_mem m = tx_gpr(t, R_RSP, 8);
    if (m.base == HR_REG) {
        emit_lea(t->e, 8, m.index, jit_mem(m.index, delta));
        return;
    }
    emit_load(t->e, 8, HR_RDI, m);
    emit_lea(t->e, 8, HR_RDI, jit_mem(HR_RDI, delta));
    emit_store(t->e, 8, m, HR_RDI);
}

static void tx_inline(struct tx *t, enum tx_class cls)
{
    const struct insn *i = &t->ins[t->k];
    struct jit_emit *e = t->e;
    unsigned size = i->opsize;
    bool mem = i->flags & INSN_MEM;
    switch (cls) {
    case TX_NOP: return;
    case TX_MOV_RM_R:
        if (mem) {
            tx_mem(t, TLB_WRITE, size);
            tx_restore_ax(t);
            tx_load_gpr(t, HR_RDX, i->reg, size);
            emit_store(e, size, jit_mem(HR_RSI, 0), HR_RDX);
        } else if (tx_hreg(t, i->rm, size) != HR_NONE) {
            emit_load(e, size, tx_hreg(t, i->rm, size), tx_gpr(t, i->reg, size));
        } else {
            tx_store_gpr(t, i->rm, size, tx_use_gpr(t, HR_RDX, i->reg, size));
        }
        return;
    case TX_MOV_R_RM:
        if (!mem && tx_hreg(t, i->reg, size) != HR_NONE) {
            emit_load(e, size, tx_hreg(t, i->reg, size), tx_gpr(t, i->rm, size));
            return;
        }
        if (mem && size >= 4 && tx_hreg(t, i->reg, size) != HR_NONE) {
            tx_mem(t, TLB_READ, size);
            emit_load(e, size, tx_hreg(t, i->reg, size), jit_mem(HR_RSI, 0));
            return;
        }
        if (!mem) {
            tx_store_gpr(t, i->reg, size, tx_use_gpr(t, HR_RDX, i->rm, size));
            return;
        }
        tx_src(t, HR_RDX, size);
        tx_store_gpr(t, i->reg, size, HR_RDX);
        return;
    case TX_MOV_RM_IMM:
        if (mem) {
            tx_mem(t, TLB_WRITE, size);
            tx_restore_ax(t);
            emit_store_imm(e, size, jit_mem(HR_RSI, 0), (int32_t)i->imm);
        } else if (size == 4) {
            emit_mov_ri(e, 4, HR_RDX, (uint32_t)i->imm);
            emit_store(e, 8, tx_gpr(t, i->rm, 8), HR_RDX);
        } else {
            emit_store_imm(e, size, tx_gpr(t, i->rm, size), (int32_t)i->imm);
        }
        return;
    case TX_MOV_R_IMM:
        if (size >= 4 && tx_hreg(t, i->reg, size) != HR_NONE) {
            emit_mov_ri(e, size, tx_hreg(t, i->reg, size), size == 4 ? (uint32_t)i->imm : i->imm);
        } else if (size >= 4) {
            emit_mov_ri(e, size, HR_RDX, size == 4 ? (uint32_t)i->imm : i->imm);
            emit_store(e, 8, tx_gpr(t, i->reg, 8), HR_RDX);
        } else {
            emit_store_imm(e, size, tx_gpr(t, i->reg, size), (int32_t)i->imm);
        }
        return;
    case TX_LEA:
        if (size >= 4 && i->base != REG_RIP && (size == 4 || i->addrsize == 8) &&
            tx_hreg(t, i->reg, size) != HR_NONE && (i->base != REG_NONE || i->index != REG_NONE)) {
            /* straight into the cached register: a 32-bit LEA truncates and zero-extends */
            unsigned b, x;
            tx_ea_regs(t, i, &b, &x);
            emit_lea(e, size, tx_hreg(t, i->reg, size), jit_mem_idx(b, x, i->scale, i->disp));
            return;
        }
        tx_ea(t, i, false);
        if (size == 2)
            emit_store(e, 2, tx_gpr(t, i->reg, 2), HR_RSI);
        else
            tx_store_gpr(t, i->reg, size, HR_RSI);
        return;
    case TX_ALU_RM_R:
    case TX_ALU_R_RM:
    case TX_ALU_ACC:
    case TX_ALU_GRP1: tx_alu(t, cls); return;
    case TX_TEST_RM_R:
    case TX_TEST_ACC:
    case TX_TEST_RM_IMM: tx_test(t, cls); return;
    case TX_UNARY:
    case TX_SHIFT: tx_rmw1(t, cls); return;
    case TX_IMUL:
        tx_src(t, HR_RDX, size);
        if (i->op == 0x1AF) {
            tx_load_gpr(t, HR_RCX, i->reg, size);
            emit_imul_rr(e, size, HR_RCX, HR_RDX);
        } else {
            emit_imul_rri(e, size, HR_RCX, HR_RDX, (int32_t)i->imm);
        }
        if (size == 2)
            emit_store(e, 2, tx_gpr(t, i->reg, 2), HR_RCX);
        else
            emit_store(e, 8, tx_gpr(t, i->reg, 8), HR_RCX); /* 32-bit imul zero-extends */
        return;
    case TX_MOVX: {
        unsigned ss = i->op == 0x63 ? 4 : (i->op & 1) ? 2 : 1;
        bool sx = i->op == 0x63 || i->op >= 0x1BE;
        struct jit_mem m;
        if (mem) {
            tx_mem(t, TLB_READ, ss);
            tx_restore_ax(t);
            m = jit_mem(HR_RSI, 0);
        } else {
            m = tx_gpr(t, i->rm, ss);
        }
        unsigned ds = size == 2 ? 4 : size; /* a 16-bit result is stored as a word */
        unsigned hd = size >= 4 ? tx_hreg(t, i->reg, size) : HR_NONE;
        if (hd != HR_NONE) { /* straight into the cached register (a 32-bit one zero-extends) */
            if (sx)
                emit_movsx_rm(e, ds, ss, hd, m);
            else
                emit_movzx_rm(e, ds, ss, hd, m);
            return;
        }
        if (sx)
            emit_movsx_rm(e, ds, ss, HR_RDX, m);
        else
            emit_movzx_rm(e, ds, ss, HR_RDX, m);
        if (size == 2)
            emit_store(e, 2, tx_gpr(t, i->reg, 2), HR_RDX);
        else
            emit_store(e, 8, tx_gpr(t, i->reg, 8), HR_RDX);
        return;
    }
    case TX_CMOV: {
        unsigned cc = i->op & 15;
        struct jit_mem m;
        if (mem) {
            tx_mem(t, TLB_READ, size);
            tx_restore_ax(t);
            m = jit_mem(HR_RSI, 0);
        } else {
            m = tx_gpr(t, i->rm, size);
        }
        tx_load_gpr(t, HR_RDX, i->reg, size);
        emit_op_rm(e, size, 0x0F40u | cc, HR_RDX, m);
        if (size == 2)
            emit_store(e, 2, tx_gpr(t, i->reg, 2), HR_RDX);
        else
            emit_store(e, 8, tx_gpr(t, i->reg, 8), HR_RDX);
        return;
    }
    case TX_SETCC: {
        struct jit_mem m;
        if (mem) {
            tx_mem(t, TLB_WRITE, 1);
            tx_restore_ax(t);
            m = jit_mem(HR_RSI, 0);
        } else {
            m = tx_gpr(t, i->rm, 1);
        }
        emit_op_rm(e, 4, 0x0F90u | (i->op & 15), 0, m);
        return;
    }
    case TX_PUSH_R:
    case TX_PUSH_IMM:
        tx_stack(t, TLB_WRITE, -8);
        tx_restore_ax(t);
        if (cls == TX_PUSH_R) {
            emit_load(e, 8, HR_RDX, tx_gpr(t, i->reg, 8));
            emit_store(e, 8, jit_mem(HR_RSI, 0), HR_RDX);
        } else {
            emit_store_imm(e, 8, jit_mem(HR_RSI, 0), (int32_t)i->imm);
        }
        tx_rsp_add(t, -8);
        return;
    case TX_POP_R:
        tx_stack(t, TLB_READ, 0);
        tx_restore_ax(t);
        emit_load(e, 8, HR_RDX, jit_mem(HR_RSI, 0));
        tx_rsp_add(t, 8);
        emit_store(e, 8, tx_gpr(t, i->reg, 8), HR_RDX);
        return;
    case TX_CBW: /* sign-extend the low half of rAX into rAX (flag-free) */
        emit_movsx_rm(e, size == 2 ? 4 : size, size / 2, HR_RDX, tx_gpr(t, R_RAX, size / 2));
        tx_store_gpr(t, R_RAX, size, HR_RDX);
        return;
    case TX_XCHG: { /* 90+r: rAX and reg; 86/87: reg and rm (a register here) */
        unsigned a = i->op >= 0x90 && i->op <= 0x97 ? R_RAX : i->rm;
        tx_load_gpr(t, HR_RDX, a, size);
        tx_load_gpr(t, HR_RCX, i->reg, size);
        tx_store_gpr(t, a, size, HR_RCX);
        tx_store_gpr(t, i->reg, size, HR_RDX);
        return;
    }
    case TX_LEAVE: /* rsp = rbp + 8, rbp = [rbp] (the load first: it may fault) */
        emit_load(e, 8, HR_RSI, tx_gpr(t, R_RBP, 8));
        emit_mov_rr(e, 8, HR_R8, HR_RSI);
        tx_tlb(t, TLB_READ, 8);
        tx_restore_ax(t);
        emit_load(e, 8, HR_RDX, jit_mem(HR_RSI, 0));
        emit_lea(e, 8, HR_R8, jit_mem(HR_R8, 8));
        emit_store(e, 8, tx_gpr(t, R_RSP, 8), HR_R8);
        emit_store(e, 8, tx_gpr(t, R_RBP, 8), HR_RDX);
        return;
    case TX_BSWAP:
        emit_load(e, size, HR_RDX, tx_gpr(t, i->reg, size));
        emit_bswap(e, size, HR_RDX);
        tx_store_gpr(t, i->reg, size, HR_RDX);
        return;
    case TX_CF:
        if (i->op == 0xF5)
            emit_cmc(e);
        else if (i->op == 0xF8)
            emit_clc(e);
        else
            emit_stc(e);
        return;
    default: return; /* branches: tx_branch */
    }
}

/* A block's jump to its own start (flags in AX): count, then the entry checks, and straight
 * back to the top with the registers still in host registers; they are stored only if the
 * checks say leave. (Every register the block writes counts as dirty from the top on.) */
static void tx_loop_back(struct tx *t)
{
    struct jit_emit *e = t->e;
    struct jit_label out = jit_label_new();
    tx_count(t, t->k + 1);
    emit_load(e, 8, HR_RDX, tx_cpu(CPU_OFF(stats.insns)));
    emit_mov_ri(e, 8, HR_RCX, (uintptr_t)t->j);
    emit_alu_rm(e, JALU_CMP, 8, HR_RDX, jit_mem(HR_RCX, (int32_t)offsetof(struct jit, budget_end)));
    emit_jcc_label(e, JCC_AE, &out);
    emit_alu_mi(e, JALU_CMP, 4, tx_cpu(CPU_OFF(exit_request)), 0);
    emit_jcc_label(e, JCC_NE, &out);
    emit_jmp_label(e, &t->loop_hd);
    jit_label_bind(e, &out);
    tx_regs_store(t, t->dirty | t->wr[t->k]);
    emit_jmp_label(e, &t->entry_exit);
}

/* Branch instructions end the block: they leave through exits. */
static void tx_branch(struct tx *t, enum tx_class cls)
{
    const struct insn *i = &t->ins[t->k];
    struct jit_emit *e = t->e;
    uint64_t target = t->next + i->imm;
    switch (cls) {
    case TX_JCC: /* register stores, LAHF and SETO leave the host flags for the jcc */
        if (t->self && target == t->tb->rip) {
            struct jit_label taken = jit_label_new();
            emit_lahf(e); /* the flags are in host flags: a reader */
            emit_setcc(e, JCC_O, HR_RAX);
            emit_jcc_label(e, (enum jit_cc)(i->op & 15), &taken);
            tx_regs_store(t, t->dirty | t->wr[t->k]);
            tx_count(t, t->k + 1);
            tx_exit_direct(t, t->next);
            jit_label_bind(e, &taken);
            tx_loop_back(t);
            return;
        }
        {
            struct jit_label taken = jit_label_new();
            tx_exit_store(t);
            emit_jcc_label(e, (enum jit_cc)(i->op & 15), &taken);
            tx_count(t, t->k + 1);
            tx_exit_direct(t, t->next);
            jit_label_bind(e, &taken);
            tx_count(t, t->k + 1);
            tx_exit_direct(t, target);
            return;
        }
    case TX_JMP:
        if (t->self && target == t->tb->rip) {
            if (t->floc == FLOC_HOST) {
                emit_lahf(e);
                emit_setcc(e, JCC_O, HR_RAX);
            } else if (t->floc == FLOC_MEM) {
                emit_mov_ri(e, 4, HR_RAX, JIT_AX_MEMORY);
            }
            tx_loop_back(t);
            return;
        }
        tx_exit_prep(t);
        tx_exit_direct(t, target);
        return;
    case TX_CALL:
        tx_stack(t, TLB_WRITE, -8);
        emit_mov_ri(e, 8, HR_RDX, t->next);
        emit_store(e, 8, jit_mem(HR_RSI, 0), HR_RDX);
        tx_rsp_add(t, -8);
        tx_restore_ax(t);
        tx_exit_prep(t);
        tx_exit_direct(t, target);
        return;
    case TX_RET:
        tx_stack(t, TLB_READ, 0);
        emit_load(e, 8, HR_RCX, jit_mem(HR_RSI, 0));
        tx_check_canonical(t);
        tx_rsp_add(t, 8);
        break;
    case TX_JMP_RM:
        if (i->flags & INSN_MEM) {
            tx_mem(t, TLB_READ, 8);
            emit_load(e, 8, HR_RCX, jit_mem(HR_RSI, 0));
        } else {
            emit_load(e, 8, HR_RCX, tx_gpr(t, i->rm, 8));
        }
        tx_check_canonical(t);
        break;
    case TX_CALL_RM:
        if (i->flags & INSN_MEM) {
            tx_mem(t, TLB_READ, 8);
            emit_load(e, 8, HR_R8, jit_mem(HR_RSI, 0));
        } else {
            emit_load(e, 8, HR_R8, tx_gpr(t, i->rm, 8));
        }
        emit_mov_rr(e, 8, HR_RCX, HR_R8);
        tx_check_canonical(t);
        tx_stack(t, TLB_WRITE, -8);
        emit_mov_ri(e, 8, HR_RDX, t->next);
        emit_store(e, 8, jit_mem(HR_RSI, 0), HR_RDX);
        tx_rsp_add(t, -8);
        emit_mov_rr(e, 8, HR_RCX, HR_R8);
        break;
    default: return;
    }
    /* indirect: target in RCX; keep it across the flag store */
    tx_restore_ax(t);
    emit_mov_rr(e, 8, HR_R8, HR_RCX);
    tx_exit_prep(t);
    emit_mov_rr(e, 8, HR_RCX, HR_R8);
    tx_exit_indirect(t);
}

/* Call the handler of instruction k through its record (the glue loads the helper's
 * arguments from it); leave for the run loop if the helper says so. */
static void tx_call_insn(struct tx *t, unsigned k, uint64_t rip, bool ax_valid)
{
    struct jit_emit *e = t->e;
    struct jit_call *rec = &t->rec[t->nrec++];
    rec->insn = &t->ins[k];
    rec->rip = rip;
    rec->tb = t->tbx;
    rec->retired = k + 1;
    if (ax_valid)
        emit_movzx_rr(e, 4, 2, HR_RCX, HR_RAX);
    else
        emit_mov_ri(e, 4, HR_RCX, JIT_AX_MEMORY);
    emit_mov_ri(e, 8, HR_RSI, (uintptr_t)t->tbx + (uintptr_t)((uint8_t *)rec - (uint8_t *)t->tb));
    emit_call_abs(e, (const void *)t->j->g_call_insn, HR_RAX);
    emit_test_rr(e, 4, HR_RAX, HR_RAX);
    emit_jcc_abs(e, JCC_NE, t->j->epilogue);
}

/* The interpreter's handler for instruction k, inline (not as a slow path). */
static void tx_fallback(struct tx *t)
{
    tx_save_ax(t);
    tx_regs_store(t, t->dirty);
    t->dirty = 0;
    tx_call_insn(t, t->k, t->rip, t->floc != FLOC_MEM);
    t->floc = FLOC_MEM;
    if (t->k + 1 < t->n) tx_regs_load(t, false);
}

/* Out-of-line: the slow path of a memory instruction (its handler), then back. */
static void tx_emit_slow(struct tx *t, struct tx_slow *s)
{
    struct jit_emit *e = t->e;
    uint64_t rip = t->tb->rip;
    for (unsigned k = 0; k < s->k; k++)
        rip += t->ins[k].len;
    jit_label_bind(e, &s->entry);
    tx_regs_store(t, s->dirty);
    tx_call_insn(t, s->k, rip, s->ax_valid);
    /* the handler left the flags in struct cpu: put them where the main path has them */
    if (s->floc == FLOC_HOST || s->floc == FLOC_AXI) tx_flags_load(t);
    if (s->floc == FLOC_AXI) {
        emit_lahf(e);
        emit_setcc(e, JCC_O, HR_RAX);
    } else if (s->floc == FLOC_AXE) {
        emit_mov_ri(e, 4, HR_RAX, JIT_AX_MEMORY);
    }
    tx_regs_load(t, false);
    emit_jmp_abs(e, e->rx + s->resume);
}

static void tx_emit_stub(struct tx *t, struct tx_stub *st)
{
    struct jit_emit *e = t->e;
    jit_label_bind(e, &st->entry);
    emit_mov_ri(e, 8, HR_RDX, (uintptr_t)&t->tbx->exit[st->exit]);
    emit_jmp_abs(e, t->j->g_stub);
}

/* Budget and exit request at block entry (the flags are in AX here). */
static void tx_prologue(struct tx *t)
{
    struct jit_emit *e = t->e;
    t->entry_exit = jit_label_new();
    emit_load(e, 8, HR_RDX, tx_cpu(CPU_OFF(stats.insns)));
    emit_mov_ri(e, 8, HR_RCX, (uintptr_t)t->j);
    emit_alu_rm(e, JALU_CMP, 8, HR_RDX, jit_mem(HR_RCX, (int32_t)offsetof(struct jit, budget_end)));
    emit_jcc_label(e, JCC_AE, &t->entry_exit);
    emit_alu_mi(e, JALU_CMP, 4, tx_cpu(CPU_OFF(exit_request)), 0);
    emit_jcc_label(e, JCC_NE, &t->entry_exit);
}

struct jit_tb *jit_translate(struct jit *j, struct cpu *c, struct block *b, const struct insn *insn,
                             unsigned n, uint64_t rip)
{
    if (n == 0 || n > JIT_MAX_INSNS) return NULL;
    uint8_t *rw;
    size_t avail;
    uintptr_t rx = jit_cache_begin(j->cache, &rw, &avail);
    /* at most one handler-call record per instruction */
    size_t hdr = (sizeof(struct jit_tb) + n * sizeof(struct jit_call) + 15) & ~(size_t)15;
    if (avail < hdr + 256) return NULL;
    struct jit_tb *tb = (struct jit_tb *)rw; /* RW view: C reads and writes it there */
    memset(tb, 0, sizeof(*tb));
    struct jit_emit em;
    jit_emit_init(&em, rw + hdr, rx + hdr, avail - hdr);

    struct tx tx_storage = {0};
    struct tx *t = &tx_storage;
    t->j = j;
    t->c = c;
    t->e = &em;
    t->tb = tb;
    t->tbx = (struct jit_tb *)rx;
    t->rec = (struct jit_call *)(tb + 1);
    t->ins = insn;
    t->n = n;
    t->page = rip & ~0xfffull;
    t->cpl = c->cpl;
    tb->entry = rx + hdr;
    tb->gen = j->cache->generation;
    tb->rip = rip;
    tb->block = b;
    tb->cpl = (uint8_t)c->cpl;

    /* classes */
    unsigned inl = 0;
    for (unsigned k = 0; k < n; k++) {
        enum tx_class cls = tx_classify(&insn[k]);
        /* a branch is inline only as the block's last instruction, to a canonical target */
        if (tx_is_branch(cls) && k != n - 1) cls = TX_FALLBACK;
        if ((cls == TX_JCC || cls == TX_JMP || cls == TX_CALL) && k == n - 1) {
            uint64_t nx = rip;
            for (unsigned q = 0; q < n; q++)
                nx += insn[q].len;
            if (!tx_canonical(nx + insn[k].imm) || !tx_canonical(nx)) cls = TX_FALLBACK;
        }
        t->cls[k] = (uint8_t)cls;
        inl += cls != TX_FALLBACK;
    }
    if (t->cls[n - 1] == TX_JCC || t->cls[n - 1] == TX_JMP) {
        uint64_t nx = rip;
        for (unsigned q = 0; q < n; q++)
            nx += insn[q].len;
        t->self = nx + insn[n - 1].imm == rip;
    }
    tx_regs_choose(t);
    if (t->self) t->fresh = 0; /* a slow path may store any written register: load them all */
    tx_prologue(t);
    tb->body = (uint32_t)em.pos;
    t->floc = FLOC_AXE; /* the flags arrive in AX, or AX = JIT_AX_MEMORY: in struct cpu */
    tx_regs_load(t, true);
    if (t->self) { /* from the top on, anything the block writes may be ahead of struct cpu */
        for (unsigned k = 0; k < n; k++)
            t->dirty |= t->wr[k] & t->cached;
        t->loop_hd = jit_label_new();
        jit_label_bind(&em, &t->loop_hd);
    }
    uint64_t r = rip;
    bool ended = false;
    for (unsigned k = 0; k < n; k++) {
        const struct insn *i = &insn[k];
        enum tx_class cls = t->cls[k];
        t->k = k;
        t->rip = r;
        t->next = r + i->len;
        t->cur_slow = NULL;
        t->reads = cls != TX_FALLBACK && tx_flags_effect(cls, i) == FX_READ;
        if (t->reads) tx_flags_host(t);
        if (cls == TX_FALLBACK) {
            tx_fallback(t);
            if (k == n - 1 && (i->flags & INSN_BRANCH) && !jit_insn_stays(i)) {
                /* system instructions leave for the run loop: interrupts, mode changes */
                tx_exit_prep(t);
                tx_exit_loop(t, t->next, j->g_leave);
                ended = true;
            }
        } else if (tx_is_branch(cls)) {
            tx_branch(t, cls);
            ended = true;
        } else {
            tx_inline(t, cls);
            unsigned fx = tx_flags_effect(cls, i);
            if (fx != FX_NONE) t->floc = FLOC_HOST;
            t->dirty |= t->wr[k] & t->cached;
        }
        if (t->cur_slow) {
            t->cur_slow->resume = em.pos;
            t->cur_slow->floc = t->floc;
        }
        r = t->next;
    }
    if (!ended) {
        t->k = n - 1;
        tx_exit_prep(t);
        tx_exit_direct(t, r);
    }
    /* out-of-line parts */
    for (unsigned s = 0; s < t->nslow; s++)
        tx_emit_slow(t, &t->slow[s]);
    for (unsigned s = 0; s < t->nstub; s++)
        tx_emit_stub(t, &t->stub[s]);
    jit_label_bind(&em, &t->entry_exit);
    tx_exit_loop(t, rip, j->g_leave_entry);
    if (em.overflow) return NULL;

    tb->code_len = (uint32_t)em.pos;
    if (j->dump_rip && j->dump_rip == rip) { /* objdump -D -b binary -mi386:x86-64 FILE */
        char path[64];
        snprintf(path, sizeof path, "/tmp/vessel-jit-%llx.bin", (unsigned long long)rip);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(rw + hdr, 1, em.pos, f);
            fclose(f);
        }
    }
    char name[48];
    snprintf(name, sizeof name, "jit_%llx", (unsigned long long)rip);
    jit_cache_commit(j->cache, hdr + em.pos, name);
    j->st.translated++;
    j->st.translated_insns += n;
    j->st.inline_insns += inl;
    return t->tbx;
}

/* Shared code every translation jumps or calls into, emitted once below the cache's floor:
 * the entry trampoline, the epilogue, the indirect-branch lookup, flag transfers, the
 * handler-call thunk, chain stubs' common tail and the leave paths. */
bool jit_glue(struct jit *j)
{
    uint8_t *rw;
    size_t avail;
    uintptr_t rx = jit_cache_begin(j->cache, &rw, &avail);
    struct jit_emit em, *e = &em;
    jit_emit_init(e, rw, rx, avail);
    static const uint8_t saved[] = {HR_RBX, HR_RBP, HR_R12, HR_R13, HR_R14, HR_R15};

    /* enter(c, code): save the callee-saved registers, align the stack, RBX = c, jump */
    j->enter = jit_emit_here(e);
    for (unsigned k = 0; k < 6; k++)
        emit_push(e, saved[k]);
    emit_alu_ri(e, JALU_SUB, 8, HR_RSP, 8); /* 8 (return) + 48 + 8: 16-byte aligned */
    emit_mov_rr(e, 8, HR_RBX, HR_RDI);
    emit_mov_ri(e, 4, HR_RAX, JIT_AX_MEMORY); /* the flags are in struct cpu */
    emit_jmp_r(e, HR_RSI);

    /* epilogue_ax: AX = flags image (or JIT_AX_MEMORY): into struct cpu, then the epilogue */
    emit_align(e, 16);
    j->epilogue_ax = jit_emit_here(e);
    struct jit_label in_mem = jit_label_new();
    emit_alu_ri(e, JALU_CMP, 4, HR_RAX, JIT_AX_MEMORY);
    emit_jcc_label(e, JCC_E, &in_mem);
    glue_ax_to_cpu(e);
    jit_label_bind(e, &in_mem);
    j->epilogue = jit_emit_here(e);
    emit_alu_ri(e, JALU_ADD, 8, HR_RSP, 8);
    for (unsigned k = 6; k-- > 0;)
        emit_pop(e, saved[k]);
    emit_ret(e);

    /* leave: RCX = guest RIP to continue at; leave_entry (a block's entry checks): AX = flags
     * image, leave (after a handler): the flags are in struct cpu */
    emit_align(e, 16);
    j->g_leave_entry = jit_emit_here(e);
    emit_mov_ri(e, 8, HR_RDX, (uintptr_t)&j->st.exit_entry);
    emit_alu_mi(e, JALU_ADD, 8, jit_mem(HR_RDX, 0), 1);
    emit_store(e, 8, tx_cpu(CPU_OFF(rip)), HR_RCX);
    emit_jmp_abs(e, j->epilogue_ax);
    emit_align(e, 16);
    j->g_leave = jit_emit_here(e);
    emit_store(e, 8, tx_cpu(CPU_OFF(rip)), HR_RCX);
    emit_jmp_abs(e, j->epilogue);

    /* stub tail: RDX = the struct jit_exit taken (the run loop chains it), AX = flags */
    emit_align(e, 16);
    j->g_stub = jit_emit_here(e);
    emit_load(e, 8, HR_RCX, jit_mem(HR_RDX, (int32_t)offsetof(struct jit_exit, target)));
    emit_store(e, 8, tx_cpu(CPU_OFF(rip)), HR_RCX);
    emit_mov_ri(e, 8, HR_RCX, (uintptr_t)&j->last_exit);
    emit_store(e, 8, jit_mem(HR_RCX, 0), HR_RDX);
    emit_jmp_abs(e, j->epilogue_ax);

    /* call_insn: RSI = struct jit_call, ECX = flags image; tail-calls the helper */
    emit_align(e, 16);
    j->g_call_insn = jit_emit_here(e);
    emit_mov_rr(e, 8, HR_RDI, HR_RBX);
    emit_load(e, 8, HR_RDX, jit_mem(HR_RSI, (int32_t)offsetof(struct jit_call, rip)));
    emit_load(e, 8, HR_R8, jit_mem(HR_RSI, (int32_t)offsetof(struct jit_call, tb)));
    emit_load(e, 4, HR_R9, jit_mem(HR_RSI, (int32_t)offsetof(struct jit_call, retired)));
    emit_load(e, 8, HR_RSI, jit_mem(HR_RSI, (int32_t)offsetof(struct jit_call, insn)));
    if (jit_rel32_ok(jit_emit_here(e) + 1, (uintptr_t)jit_helper_insn)) {
        emit_jmp_abs(e, (uintptr_t)jit_helper_insn);
    } else {
        emit_mov_ri(e, 8, HR_RAX, (uintptr_t)jit_helper_insn);
        emit_jmp_r(e, HR_RAX);
    }

    emit_align(e, 16);
    j->g_flags_load = jit_emit_here(e);
    glue_flags_load(e);

    /* lookup miss: back to the run loop, which finds (and translates) the block */
    emit_align(e, 16);
    j->g_lookup_miss = jit_emit_here(e);
    emit_mov_ri(e, 8, HR_R8, (uintptr_t)&j->st.exit_lookup);
    emit_alu_mi(e, JALU_ADD, 8, jit_mem(HR_R8, 0), 1);
    emit_jmp_abs(e, j->epilogue_ax);

    /* lookup: RCX = guest RIP (already in c->rip) */
    emit_align(e, 16);
    j->lookup = jit_emit_here(e);
    tx_emit_lookup(e, j, false, 0, 0);
    if (e->overflow) return false;
    jit_cache_commit(j->cache, e->pos, NULL);
    const struct {
        uintptr_t at;
        const char *name;
    } parts[] = {{j->enter, "jit_enter"},
                 {j->epilogue_ax, "jit_epilogue"},
                 {j->g_leave_entry, "jit_leave"},
                 {j->g_stub, "jit_stub"},
                 {j->g_call_insn, "jit_call_insn"},
                 {j->g_flags_load, "jit_flags_load"},
                 {j->g_lookup_miss, "jit_lookup_miss"},
                 {j->lookup, "jit_lookup"},
                 {rx + e->pos, NULL}};
    for (unsigned k = 0; parts[k].name; k++)
        jit_cache_perf_name(j->cache, parts[k].at, parts[k + 1].at - parts[k].at, parts[k].name);
    jit_cache_set_floor(j->cache);
    return true;
}

uint32_t jit_flags_defined(const struct insn *insn, unsigned n)
{
    for (unsigned k = n; k-- > 0;) {
        const struct insn *i = &insn[k];
        enum tx_class cls = tx_classify(i);
        /* a handler computes the same flags on both sides, or leaves an earlier writer's */
        if (cls == TX_FALLBACK) continue;
        unsigned fx = tx_flags_effect(cls, i), sub = (i->modrm >> 3) & 7;
        switch (cls) {
        case TX_ALU_RM_R:
        case TX_ALU_R_RM:
        case TX_ALU_ACC:
        case TX_ALU_GRP1: {
            unsigned a = tx_alu_op(i);
            return (a == JALU_AND || a == JALU_OR || a == JALU_XOR) ? F_ARITH & ~F_AF : F_ARITH;
        }
        case TX_TEST_RM_R:
        case TX_TEST_ACC:
        case TX_TEST_RM_IMM: return F_ARITH & ~F_AF;
        case TX_UNARY:
            if (fx == FX_NONE) continue; /* not */
            return F_ARITH;
        case TX_SHIFT: {
            unsigned cnt = i->op == 0xD0 || i->op == 0xD1 ? 1 : (unsigned)i->imm;
            cnt &= i->opsize == 8 ? 63 : 31;
            if (i->op == 0xD2 || i->op == 0xD3) return 0; /* count in CL: not known here */
            if (cnt == 0) continue;
            if (sub < 4) return F_CF; /* rotates */
            return F_CF | F_ZF | F_SF | F_PF | (cnt == 1 ? F_OF : 0);
        }
        case TX_IMUL: return F_CF | F_OF;
        case TX_CF: return F_CF;
        default: continue;
        }
    }
    return F_ARITH;
}
