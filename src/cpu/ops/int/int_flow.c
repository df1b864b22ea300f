/* int_flow.c — the stack and near control flow: push/pop (registers, immediates, r/m),
 * pushf/popf, enter/leave, call/ret/jmp (relative and indirect), jcc, loop/loopcc, jrcxz,
 * and the stack_push/stack_pop primitives of core.h. Every handler does its memory accesses
 * before it commits RSP or RIP, so a #PF on the stack restarts the instruction cleanly.
 * Stack and branch sizes follow 64-bit mode: 64-bit (16-bit with 66) stack operands; the
 * 16- and 32-bit modes have their own versions of these handlers in int_legacy.c. */
#include "cpu/ops/int/int_impl.h"

void stack_push(struct cpu *c, uint64_t v, unsigned size)
{
    if (__builtin_expect(c->mode != MODE_LONG64, 0)) {
        uint64_t m = cpu_sp_mask(c), sp = (c->gpr[R_RSP] - size) & m;
        mem_write_n(c, SEG_SS, sp, v, size);
        cpu_sp_set(c, sp, m);
        return;
    }
    uint64_t sp = c->gpr[R_RSP] - size;
    mem_write_n(c, SEG_SS, sp, v, size);
    c->gpr[R_RSP] = sp;
}

uint64_t stack_pop(struct cpu *c, unsigned size)
{
    if (__builtin_expect(c->mode != MODE_LONG64, 0)) {
        uint64_t m = cpu_sp_mask(c), sp = c->gpr[R_RSP] & m;
        uint64_t v = mem_read_n(c, SEG_SS, sp, size);
        cpu_sp_set(c, sp + size, m);
        return v;
    }
    uint64_t v = mem_read_n(c, SEG_SS, c->gpr[R_RSP], size);
    c->gpr[R_RSP] += size;
    return v;
}

/* Transfer to target; a non-canonical target is #GP at the branch itself. */
static inline void branch_to(struct cpu *c, uint64_t t)
{
    if ((uint64_t)((int64_t)(t << 16) >> 16) != t) cpu_fault_err(c, EXC_GP, 0);
    c->next_rip = t;
}

/* 50-57: push reg */
static void push_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    stack_push(c, c->gpr[i->reg] & size_mask(size), size);
}

/* 58-5F: pop reg */
static void pop_r(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    uint64_t v = stack_pop(c, size);
    reg_write(c, i, i->reg, size, v);
}

/* 68/6A: push imm (sign-extended) */
static void push_imm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    stack_push(c, i->imm & size_mask(size), size);
}

/* FF /6: push r/m */
static void push_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    stack_push(c, rm_read(c, i, size), size);
}

/* 8F /0: pop r/m. A memory destination addressed through RSP sees the incremented RSP. */
static void pop_rm(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    uint64_t sp = c->gpr[R_RSP];
    uint64_t v = mem_read_n(c, SEG_SS, sp, size);
    if (i->flags & INSN_MEM) {
        c->gpr[R_RSP] = sp + size;
        uint64_t ea = insn_ea(c, i);
        c->gpr[R_RSP] = sp;
        mem_write_n(c, i->seg, ea, v, size);
        c->gpr[R_RSP] = sp + size;
    } else {
        c->gpr[R_RSP] = sp + size;
        reg_write(c, i, i->rm, size, v);
    }
}

/* 9C: pushf (VM and RF read as 0) */
static void pushf(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    stack_push(c, flags_read(c) & ~(uint64_t)(F_VM | F_RF) & size_mask(size), size);
}

/* 9D: popf. IOPL changes only at CPL 0, IF only at CPL <= IOPL; VM, VIF, VIP never; RF is
 * cleared. */
static void popf(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    uint64_t v = mem_read_n(c, SEG_SS, c->gpr[R_RSP], size);
    uint64_t old = flags_read(c);
    uint64_t mask = F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_AC | F_ID;
    unsigned iopl = (old & F_IOPL) >> 12;
    if (c->cpl > 0) mask &= ~(uint64_t)F_IOPL;
    if (c->cpl > iopl) mask &= ~(uint64_t)F_IF;
    if (size == 2) mask &= 0xffff;
    c->gpr[R_RSP] += size;
    flags_write(c, ((old & ~mask) | (v & mask)) & ~(uint64_t)F_RF);
}

/* C8: enter imm16, imm8 */
static void enter(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i), level = i->imm2 & 31;
    uint64_t sp = c->gpr[R_RSP], bp = c->gpr[R_RBP];
    sp -= size;
    mem_write_n(c, SEG_SS, sp, bp & size_mask(size), size);
    uint64_t frame = sp;
    if (level > 0) {
        for (unsigned k = 1; k < level; k++) {
            bp -= size;
            uint64_t v = mem_read_n(c, SEG_SS, bp, size);
            sp -= size;
            mem_write_n(c, SEG_SS, sp, v, size);
        }
        sp -= size;
        mem_write_n(c, SEG_SS, sp, frame & size_mask(size), size);
    }
    if (size == 2)
        c->gpr[R_RBP] = (c->gpr[R_RBP] & ~0xffffull) | (frame & 0xffff);
    else
        c->gpr[R_RBP] = frame;
    c->gpr[R_RSP] = sp - (i->imm & 0xffff);
}

/* C9: leave */
static void leave(struct cpu *c, const struct insn *i)
{
    unsigned size = int_stack_size(i);
    uint64_t bp = c->gpr[R_RBP];
    uint64_t v = mem_read_n(c, SEG_SS, bp, size);
    c->gpr[R_RSP] = bp + size;
    reg_write(c, i, R_RBP, size, v);
}

/* Push the return address and branch. A non-canonical target is #GP at the call, after the
 * return address has been stored but before RSP moves (as the host CPU does). */
static void call_to(struct cpu *c, uint64_t t)
{
    uint64_t sp = c->gpr[R_RSP] - 8;
    mem_write_n(c, SEG_SS, sp, c->next_rip, 8);
    if ((uint64_t)((int64_t)(t << 16) >> 16) != t) cpu_fault_err(c, EXC_GP, 0);
    c->gpr[R_RSP] = sp;
    c->next_rip = t;
}

/* E8: call rel32 */
static void call_rel(struct cpu *c, const struct insn *i)
{
    call_to(c, c->next_rip + i->imm);
}

/* FF /2: call r/m64 */
static void call_rm(struct cpu *c, const struct insn *i)
{
    call_to(c, rm_read(c, i, 8));
}

/* E9/EB: jmp rel */
static void jmp_rel(struct cpu *c, const struct insn *i)
{
    branch_to(c, c->next_rip + i->imm);
}

/* FF /4: jmp r/m64 */
static void jmp_rm(struct cpu *c, const struct insn *i)
{
    branch_to(c, rm_read(c, i, 8));
}

/* C3 ret, C2 ret imm16 */
static void ret(struct cpu *c, const struct insn *i)
{
    uint64_t t = mem_read_n(c, SEG_SS, c->gpr[R_RSP], 8);
    branch_to(c, t);
    c->gpr[R_RSP] += 8 + (i->op == 0xc2 ? (i->imm & 0xffff) : 0);
}

/* 70-7F, 0F 80-8F: jcc rel, one handler per condition */
#define JCC(cc)                                                                                    \
    static void jcc_##cc(struct cpu *c, const struct insn *i)                                      \
    {                                                                                              \
        if (int_cond(c, cc)) branch_to(c, c->next_rip + i->imm);                                   \
    }
INT_CC16(JCC)
#define JCC_ENTRY(cc) jcc_##cc,
static const insn_fn jcc_fn[16] = {INT_CC16(JCC_ENTRY)};

/* E0 loopne, E1 loope, E2 loop: decrement rCX (ECX with 67) without touching flags */
static void loop(struct cpu *c, const struct insn *i)
{
    uint64_t n = c->gpr[R_RCX] - 1;
    if (i->addrsize == 4) n = (uint32_t)n;
    bool take = n != 0;
    if (i->op == 0xe0)
        take = take && !cond_test(c, 4);
    else if (i->op == 0xe1)
        take = take && cond_test(c, 4);
    if (take) branch_to(c, c->next_rip + i->imm);
    c->gpr[R_RCX] = n;
}

/* E3: jrcxz / jecxz */
static void jrcxz(struct cpu *c, const struct insn *i)
{
    uint64_t n = i->addrsize == 4 ? (uint32_t)c->gpr[R_RCX] : c->gpr[R_RCX];
    if (n == 0) branch_to(c, c->next_rip + i->imm);
}

insn_fn int_flow_lookup(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    if (op >= 0x50 && op <= 0x57) return push_r;
    if (op >= 0x58 && op <= 0x5f) return pop_r;
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) return jcc_fn[op & 15];
    switch (op) {
    case 0x68:
    case 0x6a: return push_imm;
    case 0x8f: return sub == 0 ? pop_rm : NULL;
    case 0x9c: return pushf;
    case 0x9d: return popf;
    case 0xc8: return enter;
    case 0xc9: return leave;
    case 0xe8: return call_rel;
    case 0xe9:
    case 0xeb: return jmp_rel;
    case 0xc2:
    case 0xc3: return ret;
    case 0xe0:
    case 0xe1:
    case 0xe2: return loop;
    case 0xe3: return jrcxz;
    case 0xff:
        if (sub == 2) return call_rm;
        if (sub == 4) return jmp_rm;
        if (sub == 6) return push_rm;
        return NULL;
    }
    return NULL;
}
