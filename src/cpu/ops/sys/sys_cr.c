/* sys_cr.c — control and debug registers: MOV to/from CR0/CR2/CR3/CR4/CR8 and DR0-7 with the
 * reserved-bit #GP checks, CLTS, SMSW/LMSW, INVLPG, INVPCID, SWAPGS, CLAC/STAC, INVD/WBINVD. Writes
 * that change paging flush the soft TLB; writes that change the mode call cpu_mode_changed().
 * Hardware breakpoints in DR0-7 fire in the interpreter's debug path (exec/exec.c,
 * docs/CPU-MODEL.md). */
#include "cpu/cpuid.h"
#include "cpu/direct/direct.h"
#include "cpu/ops/sys/sys.h"

static void sys_write_cr0(struct cpu *c, uint64_t v)
{
    if (v >> 32) cpu_fault_err(c, EXC_GP, 0);
    v = (v & CR0_KNOWN) | CR0_ET;
    if ((v & CR0_PG) && !(v & CR0_PE)) cpu_fault_err(c, EXC_GP, 0);
    if ((v & CR0_NW) && !(v & CR0_CD)) cpu_fault_err(c, EXC_GP, 0);
    uint64_t old = c->cr0;
    if ((v & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME) && !(c->cr4 & CR4_PAE))
        cpu_fault_err(c, EXC_GP, 0);
    if (!(v & CR0_PG) && (old & CR0_PG) && c->mode == MODE_LONG64)
        cpu_fault_err(c, EXC_GP, 0); /* cannot leave paging from 64-bit code */
    c->cr0 = v;
    if ((v & CR0_PG) && (c->efer & EFER_LME))
        c->efer |= EFER_LMA;
    else if (!(v & CR0_PG))
        c->efer &= ~EFER_LMA;
    if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) tlb_flush_all(c);
    cpu_mode_changed(c);
}

static void sys_write_cr4(struct cpu *c, uint64_t v)
{
    if (v & ~(uint64_t)CR4_KNOWN) cpu_fault_err(c, EXC_GP, 0);
    if ((c->efer & EFER_LMA) && !(v & CR4_PAE)) cpu_fault_err(c, EXC_GP, 0);
    /* PCIDE may be set only in long mode and with PCID 0 in CR3. */
    if ((v & CR4_PCIDE) && !(c->cr4 & CR4_PCIDE) && (!(c->efer & EFER_LMA) || (c->cr3 & 0xfff)))
        cpu_fault_err(c, EXC_GP, 0);
    uint64_t old = c->cr4;
    c->cr4 = v;
    if ((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_PCIDE)) tlb_flush_all(c);
    cpu_mode_changed(c);
}

/* With CR4.PCIDE, bits 11:0 are the PCID and bit 63 asks to keep that PCID's TLB entries
 * (it is not stored): the soft TLB keeps the entries of the PCID left and takes back those of
 * the PCID entered when asked to (mmu.c, tlb_switch_pcid); without bit 63 only the entered
 * PCID's non-global entries go. Bits above MAXPHYADDR are reserved. */
static void sys_write_cr3(struct cpu *c, uint64_t v)
{
    if (c->direct) direct_cr3_write(c, v); /* its shadows are tagged by PCID (direct/) */
    bool pcide = c->cr4 & CR4_PCIDE, keep = pcide && (v >> 63);
    if (pcide) v &= ~(1ull << 63);
    if (v >> CPUID_PHYS_ADDR_BITS) cpu_fault_err(c, EXC_GP, 0);
    uint16_t from = (uint16_t)(c->cr3 & 0xfff);
    c->cr3 = v;
    if (pcide)
        tlb_switch_pcid(c, from, (uint16_t)(v & 0xfff), keep);
    else
        tlb_flush_nonglobal(c);
}

void sys_mov_to_cr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t v = c->gpr[i->rm];
    if (i->mode != MODE_LONG64) v = (uint32_t)v; /* 32-bit operands outside 64-bit mode */
    switch (i->reg) {
    case 0: sys_write_cr0(c, v); break;
    case 2: c->cr2 = v; break;
    case 3: sys_write_cr3(c, v); break;
    case 4: sys_write_cr4(c, v); break;
    case 8:
        if (v & ~0xfull) cpu_fault_err(c, EXC_GP, 0);
        if (c->intc && c->intc->set_tpr) c->intc->set_tpr(c->intc_opaque, (uint8_t)(v << 4));
        break;
    default: cpu_fault(c, EXC_UD);
    }
}

void sys_mov_from_cr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t v;
    switch (i->reg) {
    case 0: v = c->cr0; break;
    case 2: v = c->cr2; break;
    case 3: v = c->cr3; break;
    case 4: v = c->cr4; break;
    case 8:
        v = (c->intc && c->intc->get_tpr) ? (uint64_t)(c->intc->get_tpr(c->intc_opaque) >> 4) : 0;
        break;
    default: cpu_fault(c, EXC_UD);
    }
    c->gpr[i->rm] = i->mode != MODE_LONG64 ? (uint32_t)v : v;
}

/* DR4/DR5 alias DR6/DR7 unless CR4.DE; DR8+ do not exist. */
static unsigned sys_dr_index(struct cpu *c, const struct insn *i)
{
    unsigned n = i->reg;
    if (n > 7) cpu_fault(c, EXC_UD);
    if (n == 4 || n == 5) {
        if (c->cr4 & CR4_DE) cpu_fault(c, EXC_UD);
        n += 2;
    }
    return n;
}

/* DR7.GD: the MOV DR about to run raises #DB (a fault) with DR6.BD; GD is cleared so the
 * handler itself can use the debug registers. Like every fault but an instruction
 * breakpoint, it pushes RFLAGS with RF set (delivery clears RF in RFLAGS itself). */
static void sys_dr_general_detect(struct cpu *c)
{
    if (!(c->dr[7] & DR7_GD)) return;
    c->dr[7] &= ~DR7_GD;
    c->dr[6] |= DR6_BD;
    c->rflags |= F_RF;
    cpu_fault(c, EXC_DB);
}

void sys_mov_from_dr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    unsigned n = sys_dr_index(c, i);
    sys_dr_general_detect(c);
    uint64_t v = c->dr[n];
    if (n == 6)
        v = (v & 0xf00f) | 0xffff0ff0;
    else if (n == 7)
        v = (v & 0xffffffffull & ~0xd800ull) | 0x400;
    c->gpr[i->rm] = v;
}

void sys_mov_to_dr(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    unsigned n = sys_dr_index(c, i);
    sys_dr_general_detect(c);
    uint64_t v = c->gpr[i->rm];
    if ((n == 6 || n == 7) && (v >> 32)) cpu_fault_err(c, EXC_GP, 0);
    if (n < 4 && !sys_canonical(v)) cpu_fault_err(c, EXC_GP, 0);
    c->dr[n] = v;
    c->rflags &= ~(uint64_t)F_RF; /* as after any completed instruction: a stale RF from IRET
                                     must not pass the first breakpoint */
    /* Breakpoints change which TLB entries may be fast (mmu.c makes data entries slow while
     * any is enabled) and whether the run loop takes the debug path (exec.c). */
    if (n != 6 && ((c->dr[7] & DR7_EN) || n == 7)) tlb_flush_all(c);
}

void sys_clts(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    c->cr0 &= ~CR0_TS;
}

void sys_smsw(struct cpu *c, const struct insn *i)
{
    sys_umip_check(c);
    if (i->flags & INSN_MEM)
        mem_write_n(c, i->seg, insn_ea(c, i), c->cr0 & 0xffff, 2);
    else
        reg_write(c, i, i->rm, i->opsize, c->cr0);
}

void sys_lmsw(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t v = rm_read(c, i, 2);
    /* Only PE, MP, EM, TS; PE can be set but not cleared. */
    uint64_t cr0 = (c->cr0 & ~0xeull) | (v & 0xe) | ((v | c->cr0) & CR0_PE);
    c->cr0 = cr0;
    cpu_mode_changed(c);
}

void sys_invlpg(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    tlb_flush_page(c, sys_linear(c, i));
}

/* 66 0F 38 82: INVPCID type (register), descriptor (16 bytes: PCID in bits 11:0, bits 63:12
 * zero, the linear address in bits 127:64). Each type drops what the SDM says (mmu.c,
 * tlb_invpcid): 0 the address's non-global translation for the PCID, 1 the PCID's non-global
 * entries, 2 all, 3 every PCID's non-global entries. */
void sys_invpcid(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    uint64_t type = c->gpr[i->reg];
    uint64_t d[2];
    mem_read(c, i->seg, insn_ea(c, i), d, 16);
    if (type > 3 || (d[0] >> 12)) cpu_fault_err(c, EXC_GP, 0);
    if ((type == 0 || type == 1) && (d[0] & 0xfff) && !(c->cr4 & CR4_PCIDE))
        cpu_fault_err(c, EXC_GP, 0);
    if (type == 0 && !sys_canonical(d[1])) cpu_fault_err(c, EXC_GP, 0);
    if (c->direct) direct_invpcid(c, type, d[0] & 0xfff, d[1]);
    tlb_invpcid(c, (unsigned)type, (uint16_t)(d[0] & 0xfff), d[1]);
}

void sys_swapgs(struct cpu *c, const struct insn *i)
{
    if (c->mode != MODE_LONG64) cpu_fault(c, EXC_UD);
    sys_need_cpl0(c);
    uint64_t t = c->seg[SEG_GS].base;
    c->seg[SEG_GS].base = c->kernel_gs_base;
    c->kernel_gs_base = t;
}

/* 0F 01 CA CLAC, 0F 01 CB STAC: RFLAGS.AC, which lets explicit supervisor accesses reach
 * user pages under CR4.SMAP (mmu.c reads it at every access: nothing to flush). #UD above
 * CPL 0, whatever CR4.SMAP. */
void sys_clac_stac(struct cpu *c, const struct insn *i)
{
    if (c->cpl != 0) cpu_fault(c, EXC_UD);
    if ((i->modrm & 7) == 3)
        c->rflags |= F_AC;
    else
        c->rflags &= ~(uint64_t)F_AC;
}

void sys_cache_nop(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
}
