/* sys_io.c — port I/O (IN/OUT/INS/OUTS through the bus), CLI/STI and HLT. I/O permission
 * (SDM Vol. 1 19.5): at CPL <= IOPL any port; above it, every port the access touches must
 * have its bit clear in the TSS I/O permission bitmap (at the 16-bit io_map_base, offset 0x66),
 * and both bitmap bytes read must lie within the TSS limit, else #GP(0). That is what Linux's
 * ioperm() sets up; iopl() raises IOPL. CLI/STI have no bitmap: CPL > IOPL is #GP(0).
 * INS/OUTS follow the integer family's string conventions: REP with RCX, DF direction, address
 * size 8 or 4, and a bounded number of iterations per execution (next_rip = rip re-enters the
 * instruction), so a fault midway leaves RCX/RSI/RDI at the faulting iteration. I/O
 * breakpoints (DR7 R/W 10) are matched here. */
#include "cpu/ops/sys/sys.h"

#define SYS_STRING_CHUNK 4096 /* iterations per execution before yielding to the loop */

static void sys_io_check(struct cpu *c)
{
    if (c->cpl > ((c->rflags & F_IOPL) >> 12)) cpu_fault_err(c, EXC_GP, 0);
}

/* May the current privilege reach ports [port, port + n)? */
static void sys_io_perm(struct cpu *c, uint16_t port, unsigned n)
{
    if (c->mode == MODE_REAL || c->cpl <= ((c->rflags & F_IOPL) >> 12)) return;
    const struct segcache *tr = &c->seg[SEG_TR];
    unsigned type = tr->attr & 0x1f;
    if (!(tr->attr & 0x80) || (type != 0x09 && type != 0x0b) || tr->limit < 0x67)
        cpu_fault_err(c, EXC_GP, 0);
    uint16_t base;
    mem_read_sys(c, tr->base + 0x66, &base, 2);
    uint64_t off = (uint64_t)base + port / 8;
    if (off + 1 > tr->limit) cpu_fault_err(c, EXC_GP, 0);
    uint16_t bits;
    mem_read_sys(c, tr->base + off, &bits, 2);
    if ((bits >> (port & 7)) & ((1u << n) - 1)) cpu_fault_err(c, EXC_GP, 0);
}

/* I/O breakpoints (DR7 R/W 10, defined only with CR4.DE): DR0-DR3 hold port numbers; an
 * access touching [port, port + n) of one is a trap after the instruction, reported with the
 * data breakpoints (exec.c delivers dr_hits). The run loop takes the debug path while any
 * breakpoint is enabled, so this runs in the interpreter only. */
static void sys_io_breakpoints(struct cpu *c, uint16_t port, unsigned n)
{
    uint64_t dr7 = c->dr[7];
    if (!(dr7 & DR7_EN) || !(c->cr4 & CR4_DE)) return;
    for (unsigned k = 0; k < 4; k++) {
        if (!((dr7 >> (2 * k)) & 3) || ((dr7 >> (16 + 4 * k)) & 3) != DR_RW_IO) continue;
        unsigned lenc = (dr7 >> (18 + 4 * k)) & 3;
        uint64_t len = lenc == 2 ? 8 : lenc + 1u, a = c->dr[k] & ~(len - 1);
        if (port < a + len && a < (uint64_t)port + n) c->dr_hits |= (uint8_t)(1u << k);
    }
}

/* Data size of IN/OUT and INS/OUTS: byte forms 1, else 2 or 4 (REX.W does not make 8). */
static unsigned sys_io_size(const struct insn *i)
{
    if (!(i->op & 1)) return 1;
    return i->opsize == 2 ? 2 : 4;
}

/* Port: immediate for E4-E7, DX otherwise. */
static uint16_t sys_io_port(const struct cpu *c, const struct insn *i)
{
    return (i->op & 0x08) ? (uint16_t)c->gpr[R_RDX] : (uint16_t)i->imm;
}

void sys_in(struct cpu *c, const struct insn *i)
{
    unsigned n = sys_io_size(i);
    sys_io_perm(c, sys_io_port(c, i), n);
    sys_io_breakpoints(c, sys_io_port(c, i), n);
    uint64_t v = bus_pio_read(c->bus, sys_io_port(c, i), n);
    reg_write(c, i, R_RAX, n, v);
}

void sys_out(struct cpu *c, const struct insn *i)
{
    unsigned n = sys_io_size(i);
    sys_io_perm(c, sys_io_port(c, i), n);
    sys_io_breakpoints(c, sys_io_port(c, i), n);
    bus_pio_write(c->bus, sys_io_port(c, i), c->gpr[R_RAX] & size_mask(n), n);
}

static uint64_t sys_areg(const struct cpu *c, const struct insn *i, unsigned r)
{
    return i->addrsize == 4 ? (uint32_t)c->gpr[r] : c->gpr[r];
}

static void sys_set_areg(struct cpu *c, const struct insn *i, unsigned r, uint64_t v)
{
    c->gpr[r] = i->addrsize == 4 ? (uint32_t)v : v;
}

void sys_ins(struct cpu *c, const struct insn *i)
{
    unsigned n = sys_io_size(i);
    sys_io_perm(c, (uint16_t)c->gpr[R_RDX], n);
    sys_io_breakpoints(c, (uint16_t)c->gpr[R_RDX], n);
    uint16_t port = (uint16_t)c->gpr[R_RDX];
    int64_t step = (c->rflags & F_DF) ? -(int64_t)n : (int64_t)n;
    bool rep = i->flags & (INSN_REP | INSN_REPNE);
    for (unsigned k = 0; k < SYS_STRING_CHUNK; k++) {
        if (rep && sys_areg(c, i, R_RCX) == 0) return;
        uint64_t di = sys_areg(c, i, R_RDI);
        /* Probe before reading: a port read can have side effects that must not be lost. */
        mem_probe_write(c, SEG_ES, di, n);
        uint64_t v = bus_pio_read(c->bus, port, n);
        mem_write_n(c, SEG_ES, di, v, n);
        sys_set_areg(c, i, R_RDI, di + (uint64_t)step);
        if (!rep) return;
        sys_set_areg(c, i, R_RCX, sys_areg(c, i, R_RCX) - 1);
    }
    if (sys_areg(c, i, R_RCX) != 0) c->next_rip = c->rip;
}

void sys_outs(struct cpu *c, const struct insn *i)
{
    unsigned n = sys_io_size(i);
    sys_io_perm(c, (uint16_t)c->gpr[R_RDX], n);
    sys_io_breakpoints(c, (uint16_t)c->gpr[R_RDX], n);
    unsigned seg = (i->flags & INSN_SEGOVR) ? i->seg : SEG_DS;
    uint16_t port = (uint16_t)c->gpr[R_RDX];
    int64_t step = (c->rflags & F_DF) ? -(int64_t)n : (int64_t)n;
    bool rep = i->flags & (INSN_REP | INSN_REPNE);
    for (unsigned k = 0; k < SYS_STRING_CHUNK; k++) {
        if (rep && sys_areg(c, i, R_RCX) == 0) return;
        uint64_t si = sys_areg(c, i, R_RSI);
        uint64_t v = mem_read_n(c, seg, si, n);
        bus_pio_write(c->bus, port, v, n);
        sys_set_areg(c, i, R_RSI, si + (uint64_t)step);
        if (!rep) return;
        sys_set_areg(c, i, R_RCX, sys_areg(c, i, R_RCX) - 1);
    }
    if (sys_areg(c, i, R_RCX) != 0) c->next_rip = c->rip;
}

void sys_cli(struct cpu *c, const struct insn *i)
{
    sys_io_check(c); /* no VME/PVI: CPL > IOPL is #GP(0) */
    c->rflags &= ~(uint64_t)F_IF;
}

void sys_sti(struct cpu *c, const struct insn *i)
{
    sys_io_check(c);
    if (!(c->rflags & F_IF)) {
        c->rflags |= F_IF;
        c->intr_shadow = true;
    }
}

void sys_hlt(struct cpu *c, const struct insn *i)
{
    sys_need_cpl0(c);
    c->halted = true;
}
