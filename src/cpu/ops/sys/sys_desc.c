/* sys_desc.c — descriptor tables and segment registers: reading GDT/LDT descriptors, loading
 * segment registers with the protected-mode checks (and their selector error codes), MOV Sreg,
 * PUSH/POP FS/GS, LSS/LFS/LGS, the 0F 00 group (SLDT/STR/LLDT/LTR/VERR/VERW) and
 * LGDT/LIDT/SGDT/SIDT. Every check runs before anything is committed, because a fault unwinds
 * the instruction. */
#include "cpu/ops/sys/sys.h"

bool sys_read_desc(struct cpu *c, uint16_t sel, uint64_t *desc)
{
    uint64_t base, limit;
    if (sel & 4) {
        const struct segcache *ldt = &c->seg[SEG_LDTR];
        if ((ldt->sel & 0xfffc) == 0 || !(ldt->attr & SA_P)) return false;
        base = ldt->base;
        limit = ldt->limit;
    } else {
        base = c->gdt_base;
        limit = c->gdt_limit;
    }
    uint64_t off = sel & 0xfff8u;
    if (off + 7 > limit) return false;
    mem_read_sys(c, base + off, desc, 8);
    return true;
}

void sys_mark_accessed(struct cpu *c, uint16_t sel, uint64_t *desc)
{
    if (*desc & (1ull << 40)) return;
    *desc |= 1ull << 40;
    uint64_t base = (sel & 4) ? c->seg[SEG_LDTR].base : c->gdt_base;
    uint8_t b = (uint8_t)(*desc >> 40);
    mem_write_sys(c, base + (sel & 0xfff8u) + 5, &b, 1);
}

void sys_desc_to_seg(struct segcache *s, uint16_t sel, uint64_t d)
{
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    uint16_t attr = (uint16_t)((d >> 40) & 0xf0ff);
    if (attr & SA_G) limit = (limit << 12) | 0xfff;
    s->sel = sel;
    s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    s->limit = limit;
    s->attr = attr;
}

/* A null selector: DS/ES/FS/GS always, SS only in 64-bit mode below CPL 3 with RPL = CPL. */
static void sys_load_null(struct cpu *c, unsigned seg, uint16_t sel)
{
    if (seg == SEG_SS && (c->mode != MODE_LONG64 || c->cpl == 3 || (sel & 3) != c->cpl))
        cpu_fault_err(c, EXC_GP, 0);
    struct segcache *s = &c->seg[seg];
    s->sel = sel;
    /* FS/GS keep their base (Intel behaviour; Linux copes with both vendors). */
    if (seg != SEG_FS && seg != SEG_GS) s->base = 0;
    s->limit = 0;
    s->attr = seg == SEG_SS ? (uint16_t)(c->cpl << 5) : 0;
}

void sys_load_seg(struct cpu *c, unsigned seg, uint16_t sel)
{
    if (c->mode == MODE_REAL) { /* base = selector * 16; the cached limit and attributes stay */
        c->seg[seg].sel = sel;
        c->seg[seg].base = (uint64_t)sel << 4;
        return;
    }
    if ((sel & 0xfffc) == 0) {
        sys_load_null(c, seg, sel);
        return;
    }
    uint64_t d;
    uint32_t err = sys_sel_err(sel);
    if (!sys_read_desc(c, sel, &d)) cpu_fault_err(c, EXC_GP, err);
    unsigned attr = (unsigned)(d >> 40) & 0xf0ff, type = SA_TYPE(attr), dpl = SA_DPL(attr);
    unsigned rpl = sel & 3;
    if (!(attr & SA_S)) cpu_fault_err(c, EXC_GP, err);
    if (seg == SEG_SS) {
        if (rpl != c->cpl || dpl != c->cpl || (type & ST_CODE) || !(type & ST_RW))
            cpu_fault_err(c, EXC_GP, err);
        if (!(attr & SA_P)) cpu_fault_err(c, EXC_SS, err);
    } else {
        if ((type & ST_CODE) && !(type & ST_RW))
            cpu_fault_err(c, EXC_GP, err); /* execute-only code */
        bool conforming_code = (type & (ST_CODE | ST_CONF)) == (ST_CODE | ST_CONF);
        if (!conforming_code && (rpl > dpl || c->cpl > dpl)) cpu_fault_err(c, EXC_GP, err);
        if (!(attr & SA_P)) cpu_fault_err(c, EXC_NP, err);
    }
    sys_mark_accessed(c, sel, &d);
    sys_desc_to_seg(&c->seg[seg], sel, d);
}

uint64_t sys_check_code(struct cpu *c, uint16_t sel, bool is_return)
{
    uint32_t err = sys_sel_err(sel);
    uint64_t d;
    if ((sel & 0xfffc) == 0) cpu_fault_err(c, EXC_GP, 0);
    if (!sys_read_desc(c, sel, &d)) cpu_fault_err(c, EXC_GP, err);
    unsigned attr = (unsigned)(d >> 40) & 0xf0ff, type = SA_TYPE(attr), dpl = SA_DPL(attr);
    unsigned rpl = sel & 3;
    /* Call gates and task switches are not implemented: only plain code segments. */
    if (!(attr & SA_S) || !(type & ST_CODE)) cpu_fault_err(c, EXC_GP, err);
    if (is_return) {
        if (rpl < c->cpl) cpu_fault_err(c, EXC_GP, err);
        if ((type & ST_CONF) ? dpl > rpl : dpl != rpl) cpu_fault_err(c, EXC_GP, err);
    } else if (type & ST_CONF) {
        if (dpl > c->cpl) cpu_fault_err(c, EXC_GP, err);
    } else if (rpl > c->cpl || dpl != c->cpl) {
        cpu_fault_err(c, EXC_GP, err);
    }
    if ((attr & SA_L) && (attr & SA_DB)) cpu_fault_err(c, EXC_GP, err);
    if (!(attr & SA_P)) cpu_fault_err(c, EXC_NP, err);
    /* The accessed bit is written now, so the commit that follows cannot fault. */
    sys_mark_accessed(c, sel, &d);
    return d;
}

void sys_commit_cs(struct cpu *c, uint16_t sel, uint64_t desc, unsigned new_cpl)
{
    sys_mark_accessed(c, sel, &desc);
    sys_desc_to_seg(&c->seg[SEG_CS], (uint16_t)((sel & ~3u) | new_cpl), desc);
    c->cpl = new_cpl;
    cpu_mode_changed(c);
}

/* ---- MOV Sreg, PUSH/POP FS/GS, Lxs ---- */

void sys_mov_from_sreg(struct cpu *c, const struct insn *i)
{
    unsigned s = i->reg & 7;
    if (s > SEG_GS) cpu_fault(c, EXC_UD);
    uint16_t sel = c->seg[s].sel;
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), sel, 2);
    else
        reg_write(c, i, i->rm, i->opsize, sel); /* 32/64-bit forms zero-extend */
}

void sys_mov_to_sreg(struct cpu *c, const struct insn *i)
{
    unsigned s = i->reg & 7;
    if (s > SEG_GS || s == SEG_CS) cpu_fault(c, EXC_UD);
    uint16_t sel = (uint16_t)rm_read(c, i, 2);
    sys_load_seg(c, s, sel);
    if (s == SEG_SS) c->intr_shadow = true;
}

static unsigned sys_stack_opsize(const struct insn *i)
{
    return i->opsize == 2 ? 2 : 8;
}

void sys_push_fsgs(struct cpu *c, const struct insn *i)
{
    unsigned s = (i->op & 0xff) == 0xA0 ? SEG_FS : SEG_GS;
    stack_push(c, c->seg[s].sel, sys_stack_opsize(i));
}

void sys_pop_fsgs(struct cpu *c, const struct insn *i)
{
    unsigned s = (i->op & 0xff) == 0xA1 ? SEG_FS : SEG_GS;
    unsigned n = sys_stack_opsize(i);
    uint16_t sel = (uint16_t)mem_read_n(c, SEG_SS, c->gpr[R_RSP], n);
    sys_load_seg(c, s, sel);
    c->gpr[R_RSP] += n;
}

void sys_lxs(struct cpu *c, const struct insn *i)
{
    static const uint8_t seg_of[3] = {SEG_SS, SEG_FS, SEG_GS}; /* B2, B4, B5 */
    unsigned b = i->op & 0xff;
    unsigned s = seg_of[b == 0xB2 ? 0 : b == 0xB4 ? 1 : 2];
    uint64_t ea = insn_ea(c, i);
    uint64_t off = mem_read_n(c, i->seg, ea, i->opsize);
    uint16_t sel = (uint16_t)mem_read_n(c, i->seg, ea + i->opsize, 2);
    sys_load_seg(c, s, sel);
    reg_write(c, i, i->reg, i->opsize, off);
}

/* ---- 0F 00: SLDT STR LLDT LTR VERR VERW ---- */

static void sys_store_sel(struct cpu *c, const struct insn *i, uint16_t sel)
{
    sys_umip_check(c); /* SLDT, STR */
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), sel, 2);
    else
        reg_write(c, i, i->rm, i->opsize, sel);
}

/* Read an LDT or TSS descriptor from the GDT: 16 bytes in IA-32e mode, 8 in legacy protected
 * mode (where the next 8 bytes are another descriptor: *hi is 0). Returns the low half, *hi
 * the high half. */
static uint64_t sys_read_sysdesc(struct cpu *c, uint16_t sel, uint64_t *hi)
{
    uint32_t err = sys_sel_err(sel);
    if (sel & 4) cpu_fault_err(c, EXC_GP, err);
    uint64_t off = sel & 0xfff8u;
    unsigned len = (c->efer & EFER_LMA) ? 16 : 8;
    if (off + len - 1 > c->gdt_limit) cpu_fault_err(c, EXC_GP, err);
    uint64_t d[2] = {0, 0};
    mem_read_sys(c, c->gdt_base + off, d, len);
    *hi = d[1];
    return d[0];
}

static void sys_lldt(struct cpu *c, uint16_t sel)
{
    if ((sel & 0xfffc) == 0) {
        c->seg[SEG_LDTR] = (struct segcache){.sel = sel};
        return;
    }
    uint64_t hi, d = sys_read_sysdesc(c, sel, &hi);
    unsigned attr = (unsigned)(d >> 40) & 0xf0ff;
    uint32_t err = sys_sel_err(sel);
    if ((attr & SA_S) || SA_TYPE(attr) != SYS_LDT) cpu_fault_err(c, EXC_GP, err);
    if (!(attr & SA_P)) cpu_fault_err(c, EXC_NP, err);
    if (!sys_canonical(((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24) | (hi << 32)))
        cpu_fault_err(c, EXC_GP, err);
    sys_desc_to_seg(&c->seg[SEG_LDTR], sel, d);
    c->seg[SEG_LDTR].base |= hi << 32;
}

static void sys_ltr(struct cpu *c, uint16_t sel)
{
    if ((sel & 0xfffc) == 0) cpu_fault_err(c, EXC_GP, 0);
    uint64_t hi, d = sys_read_sysdesc(c, sel, &hi);
    unsigned attr = (unsigned)(d >> 40) & 0xf0ff;
    uint32_t err = sys_sel_err(sel);
    if ((attr & SA_S) || SA_TYPE(attr) != SYS_TSS_AVL) cpu_fault_err(c, EXC_GP, err);
    if (!(attr & SA_P)) cpu_fault_err(c, EXC_NP, err);
    uint64_t base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24) | (hi << 32);
    if (!sys_canonical(base)) cpu_fault_err(c, EXC_GP, err);
    /* Mark the descriptor busy in memory. */
    uint8_t type = (uint8_t)(d >> 40) | 2;
    mem_write_sys(c, c->gdt_base + (sel & 0xfff8u) + 5, &type, 1);
    d |= 2ull << 40;
    sys_desc_to_seg(&c->seg[SEG_TR], sel, d);
    c->seg[SEG_TR].base = base;
}

/* VERR/VERW: ZF = whether the segment is readable/writable from the current CPL. */
static void sys_verx(struct cpu *c, uint16_t sel, bool write)
{
    bool ok = false;
    uint64_t d;
    if ((sel & 0xfffc) != 0 && sys_read_desc(c, sel, &d)) {
        unsigned attr = (unsigned)(d >> 40) & 0xf0ff, type = SA_TYPE(attr), dpl = SA_DPL(attr);
        bool conforming_code = (type & (ST_CODE | ST_CONF)) == (ST_CODE | ST_CONF);
        bool priv_ok = conforming_code || (c->cpl <= dpl && (sel & 3u) <= dpl);
        if ((attr & SA_S) && priv_ok) {
            if (write)
                ok = !(type & ST_CODE) && (type & ST_RW);
            else
                ok = !(type & ST_CODE) || (type & ST_RW);
        }
    }
    uint64_t f = flags_read(c);
    flags_write(c, ok ? (f | F_ZF) : (f & ~(uint64_t)F_ZF));
}

/* LAR/LSL: ZF = whether `sel` names a descriptor visible at CPL/RPL of a type the instruction
 * accepts; if so the destination gets the access rights (LAR) or the scaled limit (LSL). */
void sys_lar_lsl(struct cpu *c, const struct insn *i)
{
    bool lsl = (i->op & 0xff) == 0x03;
    uint16_t sel = (uint16_t)rm_read(c, i, 2);
    uint64_t d;
    bool ok = (sel & 0xfffc) != 0 && sys_read_desc(c, sel, &d);
    if (ok) {
        unsigned attr = (unsigned)(d >> 40) & 0xf0ff, type = SA_TYPE(attr), dpl = SA_DPL(attr);
        if (attr & SA_S) {
            bool conforming_code = (type & (ST_CODE | ST_CONF)) == (ST_CODE | ST_CONF);
            ok = conforming_code || (dpl >= c->cpl && dpl >= (sel & 3u));
        } else {
            /* Long mode: LDT and 64-bit TSS; LAR also accepts a 64-bit call gate. */
            bool type_ok = type == SYS_LDT || type == SYS_TSS_AVL || type == SYS_TSS_BUSY ||
                           (!lsl && type == 0xc);
            ok = type_ok && dpl >= c->cpl && dpl >= (sel & 3u);
        }
    }
    if (ok) {
        uint64_t v;
        if (lsl) {
            struct segcache tmp;
            sys_desc_to_seg(&tmp, sel, d);
            v = tmp.limit;
        } else {
            v = (d >> 32) & (i->opsize == 2 ? 0xff00u : 0x00f0ff00u);
        }
        reg_write(c, i, i->reg, i->opsize, v);
    }
    uint64_t f = flags_read(c);
    flags_write(c, ok ? (f | F_ZF) : (f & ~(uint64_t)F_ZF));
}

void sys_grp6(struct cpu *c, const struct insn *i)
{
    unsigned op = (i->modrm >> 3) & 7;
    switch (op) {
    case 0: sys_store_sel(c, i, c->seg[SEG_LDTR].sel); return;
    case 1: sys_store_sel(c, i, c->seg[SEG_TR].sel); return;
    case 2:
        sys_need_cpl0(c);
        sys_lldt(c, (uint16_t)rm_read(c, i, 2));
        return;
    case 3:
        sys_need_cpl0(c);
        sys_ltr(c, (uint16_t)rm_read(c, i, 2));
        return;
    case 4:
    case 5: sys_verx(c, (uint16_t)rm_read(c, i, 2), op == 5); return;
    default: cpu_fault(c, EXC_UD);
    }
}

/* ---- descriptor-table registers (64-bit: 2-byte limit + 8-byte base) ---- */

void sys_lgdt_lidt(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t ea = insn_ea(c, i);
    uint16_t limit = (uint16_t)mem_read_n(c, i->seg, ea, 2);
    uint64_t base = mem_read_n(c, i->seg, ea + 2, 8);
    if (!sys_canonical(base)) cpu_fault_err(c, EXC_GP, 0);
    if (((i->modrm >> 3) & 7) == 2) {
        c->gdt_base = base;
        c->gdt_limit = limit;
    } else {
        c->idt_base = base;
        c->idt_limit = limit;
    }
}

void sys_sgdt_sidt(struct cpu *c, const struct insn *i)
{
    sys_umip_check(c);
    bool gdt = ((i->modrm >> 3) & 7) == 0;
    uint8_t buf[10];
    uint16_t limit = gdt ? c->gdt_limit : c->idt_limit;
    uint64_t base = gdt ? c->gdt_base : c->idt_base;
    memcpy(buf, &limit, 2);
    memcpy(buf + 2, &base, 8);
    mem_write(c, i->seg, insn_ea(c, i), buf, 10);
}
