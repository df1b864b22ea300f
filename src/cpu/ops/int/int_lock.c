/* int_lock.c — the locked integer instructions: LOCK-prefixed read-modify-writes (add/or/adc/
 * sbb/and/sub/xor, not/neg, inc/dec, bts/btr/btc, cmpxchg, xadd, cmpxchg8b/16b) and xchg with
 * memory (always locked). With several vCPUs on host threads these must be atomic on guest RAM
 * (docs/SMP.md): each is a compare-and-swap loop with host atomics on the operand's host
 * address. An operand that crosses a cache line or page, is MMIO, or is watched by a data
 * breakpoint is updated with plain accesses under one global fallback lock instead (atomic only
 * against other such updates: guests do not rely on split locks). The plain handlers (int_alu.c,
 * int_bit.c, int_move.c) call int_lock_exec first thing for a LOCK-prefixed instruction (and
 * xchg_rm_r for a memory operand); the translator inlines the common ALU forms with a host LOCK
 * itself and calls the handlers for the rest. */
#include <pthread.h>
#include <string.h>

#include "cpu/ops/int/int_impl.h"

static pthread_mutex_t lock_fallback = PTHREAD_MUTEX_INITIALIZER;

/* new = f(old); *store false: leave memory as it is. Pure: it may run more than once. */
typedef uint64_t (*lock_op)(struct cpu *c, const struct insn *i, uint64_t old, uint64_t arg,
                            bool *store);

static uint64_t lock_load(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1: return __atomic_load_n(p, __ATOMIC_SEQ_CST);
    case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
    case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
    default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
    }
}

/* Compare-and-swap of size bytes; on failure *old gets the current value. */
static bool lock_cas(uint8_t *p, uint64_t *old, uint64_t nv, unsigned size)
{
    switch (size) {
    case 1: {
        uint8_t o = (uint8_t)*old;
        bool ok = __atomic_compare_exchange_n(p, &o, (uint8_t)nv, false, __ATOMIC_SEQ_CST,
                                              __ATOMIC_SEQ_CST);
        *old = o;
        return ok;
    }
    case 2: {
        uint16_t o = (uint16_t)*old;
        bool ok = __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)nv, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *old = o;
        return ok;
    }
    case 4: {
        uint32_t o = (uint32_t)*old;
        bool ok = __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)nv, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *old = o;
        return ok;
    }
    default:
        return __atomic_compare_exchange_n((uint64_t *)p, old, nv, false, __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST);
    }
}

/* Update the size-byte operand at seg:ea atomically; returns the old value, *nv the new. */
static uint64_t lock_update(struct cpu *c, const struct insn *i, uint64_t ea, unsigned size,
                            lock_op f, uint64_t arg, uint64_t *nv)
{
    struct mem_rmw r;
    uint8_t *p = mem_rmw_begin(c, i->seg, ea, size, &r);
    bool store = true;
    if (!p) {
        /* every fault comes before the lock is taken (a writable page is readable) */
        mem_probe_write(c, i->seg, ea, size);
        pthread_mutex_lock(&lock_fallback);
        uint64_t old = mem_read_n(c, i->seg, ea, size);
        *nv = f(c, i, old, arg, &store) & size_mask(size);
        if (store) mem_write_n(c, i->seg, ea, *nv, size);
        pthread_mutex_unlock(&lock_fallback);
        return old;
    }
    uint64_t old = lock_load(p, size);
    for (;;) {
        store = true;
        *nv = f(c, i, old, arg, &store) & size_mask(size);
        if (!store || lock_cas(p, &old, *nv, size)) break;
    }
    if (store) mem_rmw_end(c, &r);
    return old;
}

/* ---- add/or/adc/sbb/and/sub/xor r/m, reg | imm ---- */

static const uint8_t lock_flop[8] = {FL_ADD,   FL_LOGIC, FL_ADC,   FL_SBB,
                                     FL_LOGIC, FL_SUB,   FL_LOGIC, FL_SUB};

/* arg: the source; the ALU operation is in the opcode (ModRM.reg for group 1). */
static unsigned lock_alu_kind(const struct insn *i)
{
    return i->op < 0x40 ? (i->op >> 3) & 7 : (i->modrm >> 3) & 7;
}

static uint64_t lock_alu_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t s,
                            bool *store)
{
    (void)store;
    switch (lock_alu_kind(i)) {
    case ALU_ADD: return d + s;
    case ALU_OR: return d | s;
    case ALU_ADC: return d + s + int_cf(c);
    case ALU_SBB: return d - s - int_cf(c);
    case ALU_AND: return d & s;
    case ALU_XOR: return d ^ s;
    default: return d - s;
    }
}

static void lock_alu(struct cpu *c, const struct insn *i)
{
    bool byte = i->op < 0x40 ? !(i->op & 1) : i->op == 0x80;
    unsigned size = int_size(i, byte), alu = lock_alu_kind(i);
    uint64_t m = size_mask(size);
    uint64_t s = (i->op < 0x40 ? reg_read(c, i, i->reg, size) : i->imm) & m, r;
    unsigned cf = (alu == ALU_ADC || alu == ALU_SBB) ? int_cf(c) : 0;
    uint64_t d = lock_update(c, i, insn_ea(c, i), size, lock_alu_op, s, &r);
    int_lf(c, lock_flop[alu], size, r, d, s);
    c->lf.cf_in = cf;
}

/* ---- not/neg, inc/dec ---- */

static uint64_t lock_unary_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t kind,
                              bool *store)
{
    (void)c, (void)i, (void)store;
    switch (kind) {
    case 0: return d + 1;
    case 1: return d - 1;
    case 2: return ~d;
    default: return 0 - d;
    }
}

static void lock_unary(struct cpu *c, const struct insn *i)
{
    bool grp3 = i->op == 0xf6 || i->op == 0xf7;
    unsigned size = int_size(i, i->op == 0xf6 || i->op == 0xfe), sub = (i->modrm >> 3) & 7;
    uint64_t kind = grp3 ? sub : sub & 1, r; /* 0 inc, 1 dec, 2 not, 3 neg */
    unsigned cf = int_cf(c);
    uint64_t d = lock_update(c, i, insn_ea(c, i), size, lock_unary_op, kind, &r);
    if (kind == 2) return; /* not: no flags */
    if (kind == 3) {
        int_lf(c, FL_NEG, size, r, 0, d);
        return;
    }
    int_lf(c, kind ? FL_DEC : FL_INC, size, r, d, 1);
    c->lf.cf_in = cf;
}

/* ---- xchg, xadd, cmpxchg ---- */

static uint64_t lock_set_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t s,
                            bool *store)
{
    (void)c, (void)i, (void)d, (void)store;
    return s;
}

static void lock_xchg(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x86);
    uint64_t r,
        old = lock_update(c, i, insn_ea(c, i), size, lock_set_op, reg_read(c, i, i->reg, size), &r);
    reg_write(c, i, i->reg, size, old);
}

static uint64_t lock_add_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t s,
                            bool *store)
{
    (void)c, (void)i, (void)store;
    return d + s;
}

static void lock_xadd(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x1c0);
    uint64_t s = reg_read(c, i, i->reg, size), r;
    uint64_t d = lock_update(c, i, insn_ea(c, i), size, lock_add_op, s, &r);
    reg_write(c, i, i->reg, size, d);
    int_lf(c, FL_ADD, size, r, d, s);
    c->lf.cf_in = 0;
}

/* arg: the accumulator; the new value is the register operand on a match. A mismatch stores
 * nothing (the locked cycle's write-back of the old value changes no byte). */
static uint64_t lock_cmpxchg_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t a,
                                bool *store)
{
    unsigned size = int_size(i, i->op == 0x1b0);
    if ((d & size_mask(size)) != a) {
        *store = false;
        return d;
    }
    return reg_read(c, i, i->reg, size);
}

static void lock_cmpxchg(struct cpu *c, const struct insn *i)
{
    unsigned size = int_size(i, i->op == 0x1b0);
    uint64_t a = c->gpr[R_RAX] & size_mask(size), r;
    uint64_t d = lock_update(c, i, insn_ea(c, i), size, lock_cmpxchg_op, a, &r);
    if (d != a) reg_write(c, i, R_RAX, size, d);
    int_lf(c, FL_SUB, size, (a - d) & size_mask(size), a, d);
    c->lf.cf_in = 0;
}

/* ---- bts/btr/btc ---- */

/* arg: bit | kind << 8 (1 bts, 2 btr, 3 btc) */
static uint64_t lock_bit_op(struct cpu *c, const struct insn *i, uint64_t v, uint64_t arg,
                            bool *store)
{
    (void)c, (void)i, (void)store;
    uint64_t b = 1ull << (arg & 63);
    switch (arg >> 8) {
    case 1: return v | b;
    case 2: return v & ~b;
    default: return v ^ b;
    }
}

static void lock_bt(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize, bits = size * 8, kind;
    uint64_t ea = insn_ea(c, i), off;
    if (i->op == 0x1ba) {
        kind = ((i->modrm >> 3) & 7) - 4;
        off = i->imm & 0xff;
    } else {
        kind = ((i->op & 0xff) - 0xa3) >> 3;
        off = reg_read(c, i, i->reg, size);
        /* a register offset addresses bits outside the operand (signed, operand-size units) */
        int64_t so = (int64_t)int_sext(off, size);
        int64_t unit = so >> (size == 8 ? 6 : size == 4 ? 5 : 4);
        ea += (uint64_t)(unit * (int64_t)size);
        if (i->addrsize == 4) ea = (uint32_t)ea;
    }
    uint64_t bit = off & (bits - 1), r;
    uint64_t v = lock_update(c, i, ea, size, lock_bit_op, bit | (uint64_t)kind << 8, &r);
    int_set_flags(c, F_CF, (v >> bit) & 1 ? F_CF : 0);
}

/* ---- cmpxchg8b / cmpxchg16b ---- */

/* arg: EDX:EAX; the new value ECX:EBX */
static uint64_t lock_cmpxchg8_op(struct cpu *c, const struct insn *i, uint64_t d, uint64_t cur,
                                 bool *store)
{
    (void)i;
    if (d != cur) {
        *store = false;
        return d;
    }
    return (c->gpr[R_RCX] << 32) | (uint32_t)c->gpr[R_RBX];
}

static bool lock_cas16(uint8_t *p, uint64_t old[2], const uint64_t nv[2])
{
    bool ok;
    __asm__ volatile("lock cmpxchg16b %1"
                     : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(old[0]),
                       "+d"(old[1])
                     : "b"(nv[0]), "c"(nv[1])
                     : "memory");
    return ok;
}

static void lock_cmpxchg8b16b(struct cpu *c, const struct insn *i)
{
    uint64_t ea = insn_ea(c, i);
    if (!(i->flags & INSN_REXW)) {
        uint64_t cur = (c->gpr[R_RDX] << 32) | (uint32_t)c->gpr[R_RAX], r;
        uint64_t m = lock_update(c, i, ea, 8, lock_cmpxchg8_op, cur, &r);
        bool eq = m == cur;
        if (!eq) {
            c->gpr[R_RAX] = (uint32_t)m;
            c->gpr[R_RDX] = m >> 32;
        }
        int_set_flags(c, F_ZF, eq ? F_ZF : 0);
        return;
    }
    if (ea & 15) cpu_fault_err(c, EXC_GP, 0);
    struct mem_rmw rm;
    uint8_t *p = mem_rmw_begin(c, i->seg, ea, 16, &rm);
    uint64_t old[2] = {c->gpr[R_RAX], c->gpr[R_RDX]};
    uint64_t nv[2] = {c->gpr[R_RBX], c->gpr[R_RCX]};
    bool eq;
    if (p) {
        eq = lock_cas16(p, old, nv);
        if (eq) mem_rmw_end(c, &rm);
    } else {
        uint64_t m[2];
        mem_probe_write(c, i->seg, ea, 16);
        pthread_mutex_lock(&lock_fallback);
        mem_read(c, i->seg, ea, m, 16);
        eq = m[0] == old[0] && m[1] == old[1];
        if (eq) mem_write(c, i->seg, ea, nv, 16);
        pthread_mutex_unlock(&lock_fallback);
        old[0] = m[0];
        old[1] = m[1];
    }
    if (!eq) {
        c->gpr[R_RAX] = old[0];
        c->gpr[R_RDX] = old[1];
    }
    int_set_flags(c, F_ZF, eq ? F_ZF : 0);
}

static insn_fn int_lock_lookup(const struct insn *i)
{
    unsigned op = i->op, sub = (i->modrm >> 3) & 7;
    if (!(i->flags & INSN_MEM) || (i->flags & INSN_VEX)) return NULL;
    if (op == 0x86 || op == 0x87) return lock_xchg; /* locked with or without the prefix */
    if (!(i->flags & INSN_LOCK)) return NULL;
    if (op < 0x40 && (op & 7) < 2 && ((op >> 3) & 7) != ALU_CMP) return lock_alu;
    switch (op) {
    case 0x80:
    case 0x81:
    case 0x83: return sub != ALU_CMP ? lock_alu : NULL;
    case 0xf6:
    case 0xf7: return sub == 2 || sub == 3 ? lock_unary : NULL;
    case 0xfe:
    case 0xff: return sub < 2 ? lock_unary : NULL;
    case 0x1b0:
    case 0x1b1: return lock_cmpxchg;
    case 0x1c0:
    case 0x1c1: return lock_xadd;
    case 0x1ab:
    case 0x1b3:
    case 0x1bb: return lock_bt;
    case 0x1ba: return sub >= 5 ? lock_bt : NULL;
    case 0x1c7: return sub == 1 ? lock_cmpxchg8b16b : NULL;
    }
    return NULL;
}

void int_lock_exec(struct cpu *c, const struct insn *i)
{
    insn_fn f = int_lock_lookup(i);
    if (!f) cpu_fault(c, EXC_UD); /* the decoder lets LOCK through only on these forms */
    f(c, i);
}
