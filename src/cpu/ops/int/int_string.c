/* int_string.c — string instructions movs/cmps/stos/lods/scas with rep/repe/repne, both
 * directions, 64-, 32- and 16-bit address sizes. Registers are committed after every iteration, so
 * a fault midway leaves rCX/rSI/rDI at the faulting iteration and the instruction restarts
 * from there. A rep instruction runs at most STRING_CHUNK iterations per call and then
 * re-executes itself (next_rip = rip), which lets interrupts in during long copies. */
#include <string.h>

#include "cpu/ops/int/int_impl.h"

#define STRING_CHUNK 4096

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS };

/* Host pointer for [lin, lin+n) if it lies in one RAM page the TLB already maps for this kind
 * of access at the current privilege and SMAP state (the same test as the MMU's fast path);
 * else NULL. */
static uint8_t *string_host(struct cpu *c, uint64_t lin, uint64_t n, unsigned kind)
{
    const struct tlb_entry *e = &c->tlb.e[kind][(lin >> 12) & (TLB_ENTRIES - 1)];
    uint64_t sub = c->cpl != 3 && (c->cr4 & CR4_SMAP) && !(c->rflags & F_AC) ? TLB_KERNEL : 0;
    if (tlb_data_hit(e->tag, lin & ~0xfffull, c->cpl == 3, sub) && (lin & 0xfff) + n <= 0x1000)
        return (uint8_t *)(uintptr_t)(lin + e->addend);
    return NULL;
}

/* Forward rep movs/stos: do as many elements as stay inside the current source and
 * destination pages in one go, when both are plain RAM already in the TLB (else the
 * element-wise path runs and fills the TLB). A movs whose destination overlaps the source
 * ahead of it is limited to the non-overlapping distance, so the element-by-element semantics
 * (pattern replication) are kept. Returns the elements done (0: not applicable). */
static uint64_t string_bulk(struct cpu *c, unsigned kind, unsigned size, unsigned seg, uint64_t si,
                            uint64_t di, uint64_t cx, uint64_t am)
{
    uint64_t dl = mmu_linear(c, SEG_ES, di), k = cx;
    uint64_t room = (0x1000 - (dl & 0xfff)) / size;
    if (k > room) k = room;
    if (k > (am - di) / size) /* no wrap of a 32-bit address */
        k = (am - di) / size;
    uint64_t sl = 0;
    if (kind == S_MOVS) {
        sl = mmu_linear(c, seg, si);
        room = (0x1000 - (sl & 0xfff)) / size;
        if (k > room) k = room;
        if (k > (am - si) / size) k = (am - si) / size;
    }
    if (k < 2) return 0;
    uint8_t *d = string_host(c, dl, k * size, TLB_WRITE);
    if (!d) return 0;
    if (kind == S_STOS) {
        uint64_t v = c->gpr[R_RAX];
        if (size == 1) {
            memset(d, (int)(v & 0xff), k);
        } else {
            for (uint64_t j = 0; j < k; j++)
                memcpy(d + j * size, &v, size);
        }
        return k;
    }
    uint8_t *s = string_host(c, sl, k * size, TLB_READ);
    if (!s) return 0;
    if (d > s && d < s + k * size) {
        k = (uint64_t)(d - s) / size;
        if (k < 2) return 0;
    }
    memmove(d, s, k * size);
    return k;
}

/* repe/repne cmps and scas. The flags of each comparison stay local until the instruction
 * ends, so a fault midway leaves RFLAGS as they were at the start, as on the host;
 * rCX/rSI/rDI are still committed per iteration. */
/* A pointer or count register after an iteration: 16-bit addressing keeps the upper bits. */
static inline void string_reg(struct cpu *c, unsigned r, uint64_t v, uint64_t am)
{
    c->gpr[r] = am == 0xffff ? (c->gpr[r] & ~0xffffull) | (v & am) : v & am;
}

static void string_rep_cmp(struct cpu *c, const struct insn *i, unsigned kind, unsigned size,
                           uint64_t am, int64_t delta)
{
    bool repne = i->flags & INSN_REPNE;
    uint64_t m = size_mask(size);
    struct lazy_flags lf = {.op = FL_SUB, .size = size};
    bool any = false;
    for (unsigned n = 0; n < STRING_CHUNK; n++) {
        uint64_t cx = c->gpr[R_RCX] & am;
        if (cx == 0) {
            string_reg(c, R_RCX, 0, am); /* the host zero-extends ECX even when nothing runs */
            break;
        }
        uint64_t si = c->gpr[R_RSI] & am, di = c->gpr[R_RDI] & am, v, w;
        if (kind == S_CMPS) {
            v = mem_read_n(c, i->seg, si, size);
            w = mem_read_n(c, SEG_ES, di, size);
            string_reg(c, R_RSI, si + delta, am);
        } else {
            v = c->gpr[R_RAX] & m;
            w = mem_read_n(c, SEG_ES, di, size);
        }
        string_reg(c, R_RDI, di + delta, am);
        lf.src1 = v;
        lf.src2 = w;
        lf.res = (v - w) & m;
        any = true;
        cx = (cx - 1) & am;
        string_reg(c, R_RCX, cx, am);
        if (cx == 0 || (repne ? lf.res == 0 : lf.res != 0)) break;
        if (n + 1 == STRING_CHUNK) {
            /* more to do: run again (interrupts may come first). The flags stay as they were
             * until the instruction completes, as on the host. */
            c->next_rip = c->rip;
            return;
        }
    }
    if (any) c->lf = lf;
}

/* One element of any string instruction, without a rep prefix's rCX bookkeeping. */
static void string_step(struct cpu *c, const struct insn *i, unsigned kind, unsigned size,
                        uint64_t am, int64_t delta)
{
    uint64_t m = size_mask(size);
    unsigned seg = i->seg;
    uint64_t si = c->gpr[R_RSI] & am, di = c->gpr[R_RDI] & am, v, w;
    switch (kind) {
    case S_MOVS:
        v = mem_read_n(c, seg, si, size);
        mem_write_n(c, SEG_ES, di, v, size);
        string_reg(c, R_RSI, si + delta, am);
        string_reg(c, R_RDI, di + delta, am);
        break;
    case S_CMPS:
        v = mem_read_n(c, seg, si, size);
        w = mem_read_n(c, SEG_ES, di, size);
        string_reg(c, R_RSI, si + delta, am);
        string_reg(c, R_RDI, di + delta, am);
        int_alu(c, ALU_CMP, size, v, w);
        break;
    case S_STOS:
        mem_write_n(c, SEG_ES, di, c->gpr[R_RAX] & m, size);
        string_reg(c, R_RDI, di + delta, am);
        break;
    case S_LODS:
        v = mem_read_n(c, seg, si, size);
        reg_write(c, i, R_RAX, size, v);
        string_reg(c, R_RSI, si + delta, am);
        break;
    default:
        w = mem_read_n(c, SEG_ES, di, size);
        string_reg(c, R_RDI, di + delta, am);
        int_alu(c, ALU_CMP, size, c->gpr[R_RAX] & m, w);
        break;
    }
}

static void string_exec(struct cpu *c, const struct insn *i, unsigned kind, unsigned size)
{
    uint64_t am = size_mask(i->addrsize);
    int64_t delta = (c->rflags & F_DF) ? -(int64_t)size : (int64_t)size;
    if (!(i->flags & (INSN_REP | INSN_REPNE))) {
        string_step(c, i, kind, size, am, delta);
        return;
    }
    if (kind == S_CMPS || kind == S_SCAS) {
        string_rep_cmp(c, i, kind, size, am, delta);
        return;
    }
    /* rep movs / stos / lods: no condition, only rCX ends them */
    for (unsigned n = 0; n < STRING_CHUNK; n++) {
        uint64_t cx = c->gpr[R_RCX] & am;
        if (cx == 0) {
            string_reg(c, R_RCX, 0, am); /* the host zero-extends ECX even when nothing runs */
            return;
        }
        if (delta > 0 && (kind == S_MOVS || kind == S_STOS)) {
            uint64_t si = c->gpr[R_RSI] & am, di = c->gpr[R_RDI] & am;
            uint64_t k = string_bulk(c, kind, size, i->seg, si, di, cx, am);
            if (k) {
                if (kind == S_MOVS) string_reg(c, R_RSI, si + k * size, am);
                string_reg(c, R_RDI, di + k * size, am);
                string_reg(c, R_RCX, cx - k, am);
                n += (unsigned)k - 1;
                continue;
            }
        }
        string_step(c, i, kind, size, am, delta);
        cx = (cx - 1) & am;
        string_reg(c, R_RCX, cx, am);
        if (cx == 0) return;
    }
    c->next_rip = c->rip; /* more to do: run again (interrupts may come first) */
}

#define STRING_HANDLER(name, kind, byteop)                                                         \
    static void name(struct cpu *c, const struct insn *i)                                          \
    {                                                                                              \
        string_exec(c, i, kind, int_size(i, i->op == byteop));                                     \
    }
STRING_HANDLER(movs, S_MOVS, 0xa4)
STRING_HANDLER(cmps, S_CMPS, 0xa6)
STRING_HANDLER(stos, S_STOS, 0xaa)
STRING_HANDLER(lods, S_LODS, 0xac)
STRING_HANDLER(scas, S_SCAS, 0xae)

insn_fn int_string_lookup(const struct insn *i)
{
    switch (i->op) {
    case 0xa4:
    case 0xa5: return movs;
    case 0xa6:
    case 0xa7: return cmps;
    case 0xaa:
    case 0xab: return stos;
    case 0xac:
    case 0xad: return lods;
    case 0xae:
    case 0xaf: return scas;
    }
    return NULL;
}
