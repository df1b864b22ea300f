/* api.c — include/vessel/cpu.h for the software engine: creating a vCPU, running it, register
 * and MSR access, statistics, the crash dump and versioned save/load (section "cpu").
 * A struct vcpu is the engine's struct cpu; nothing outside src/cpu/ can see inside. */
#include <stdlib.h>
#include <string.h>

#include "cpu/exec/block.h"
#include "cpu/exec/exec.h"
#include "cpu/exec/event.h"
#include "cpu/msr.h"
#include "cpu/ops/host.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define CPU_STATE_VERSION 1

static struct cpu *vcpu_cpu(struct vcpu *v)
{
    return (struct cpu *)v;
}

static const struct cpu *vcpu_ccpu(const struct vcpu *v)
{
    return (const struct cpu *)v;
}

struct vcpu *vcpu_create(struct bus *bus, unsigned id)
{
    const char *missing;
    if (!host_check(&missing)) {
        log_error("this host CPU lacks %s: vessel's CPU engine runs guest SSE and x87 arithmetic "
                  "on the host's own units and needs SSE3, SSSE3, SSE4.1 and SSE4.2",
                  missing);
        return NULL;
    }
    size_t size = (sizeof(struct cpu) + 63) & ~(size_t)63;
    struct cpu *c = aligned_alloc(64, size);
    if (!c) return NULL;
    memset(c, 0, size);
    c->blocks = block_cache_new();
    c->exec = exec_state_new();
    if (!c->blocks || !c->exec) {
        block_cache_free(c->blocks);
        exec_state_free(c->exec);
        free(c);
        return NULL;
    }
    c->id = id;
    c->tsc_hz = CPU_TSC_HZ;
    cpu_reset(c, bus);
    return (struct vcpu *)c;
}

void vcpu_destroy(struct vcpu *v)
{
    if (!v) return;
    struct cpu *c = vcpu_cpu(v);
    if (c->bus) bus_remove_code_write_listener(c->bus, block_code_write, c);
    block_cache_free(c->blocks);
    exec_state_free(c->exec);
    free(c);
}

void vcpu_set_intc(struct vcpu *v, const struct vcpu_intc_ops *ops, void *opaque)
{
    vcpu_cpu(v)->intc = ops;
    vcpu_cpu(v)->intc_opaque = opaque;
}

void vcpu_set_msr_ops(struct vcpu *v, const struct vcpu_msr_ops *ops, void *opaque)
{
    vcpu_cpu(v)->msr_ops = ops;
    vcpu_cpu(v)->msr_opaque = opaque;
}

enum vcpu_exit vcpu_run(struct vcpu *v, uint64_t budget)
{
    return exec_run(vcpu_cpu(v), budget);
}

void vcpu_request_exit(struct vcpu *v)
{
    __atomic_store_n(&vcpu_cpu(v)->exit_request, 1, __ATOMIC_RELEASE);
}

bool vcpu_halted(const struct vcpu *v)
{
    return vcpu_ccpu(v)->halted;
}

void vcpu_get_regs(const struct vcpu *v, struct vcpu_regs *r)
{
    struct cpu *c = (struct cpu *)vcpu_ccpu(v); /* flags_read materialises lazy flags */
    memcpy(r->gpr, c->gpr, sizeof(r->gpr));
    r->rip = c->rip;
    r->rflags = flags_read(c);
}

void vcpu_set_regs(struct vcpu *v, const struct vcpu_regs *r)
{
    struct cpu *c = vcpu_cpu(v);
    memcpy(c->gpr, r->gpr, sizeof(c->gpr));
    c->rip = c->next_rip = r->rip;
    flags_write(c, (r->rflags & 0x3f7fd5ull) | 0x2);
}

void vcpu_get_sregs(const struct vcpu *v, struct vcpu_sregs *s)
{
    const struct cpu *c = vcpu_ccpu(v);
    for (unsigned k = 0; k < 8; k++)
        s->seg[k] =
            (struct vcpu_segment){c->seg[k].sel, c->seg[k].base, c->seg[k].limit, c->seg[k].attr};
    s->gdt_base = c->gdt_base;
    s->gdt_limit = c->gdt_limit;
    s->idt_base = c->idt_base;
    s->idt_limit = c->idt_limit;
    s->cr0 = c->cr0;
    s->cr2 = c->cr2;
    s->cr3 = c->cr3;
    s->cr4 = c->cr4;
    s->efer = c->efer;
}

void vcpu_set_sregs(struct vcpu *v, const struct vcpu_sregs *s)
{
    struct cpu *c = vcpu_cpu(v);
    for (unsigned k = 0; k < 8; k++)
        c->seg[k] =
            (struct segcache){s->seg[k].selector, s->seg[k].base, s->seg[k].limit, s->seg[k].attr};
    c->gdt_base = s->gdt_base;
    c->gdt_limit = s->gdt_limit;
    c->idt_base = s->idt_base;
    c->idt_limit = s->idt_limit;
    c->cr0 = s->cr0;
    c->cr2 = s->cr2;
    c->cr3 = s->cr3;
    c->cr4 = s->cr4;
    c->efer = s->efer;
    cpu_mode_changed(c);
    tlb_flush_all(c);
}

bool vcpu_get_msr(const struct vcpu *v, uint32_t msr, uint64_t *value)
{
    return msr_read((struct cpu *)vcpu_ccpu(v), msr, value);
}

bool vcpu_set_msr(struct vcpu *v, uint32_t msr, uint64_t value)
{
    return msr_write(vcpu_cpu(v), msr, value);
}

uint64_t vcpu_tsc_hz(const struct vcpu *v)
{
    return vcpu_ccpu(v)->tsc_hz;
}

uint64_t vcpu_read_tsc(const struct vcpu *v)
{
    return cpu_read_tsc(vcpu_ccpu(v));
}

void vcpu_get_stats(const struct vcpu *v, struct vcpu_stats *s)
{
    *s = vcpu_ccpu(v)->stats;
}

const char *vcpu_exit_reason(const struct vcpu *v)
{
    const struct cpu *c = vcpu_ccpu(v);
    if (c->exit_why[0]) return c->exit_why;
    switch (c->exit) {
    case VCPU_EXIT_BUDGET: return "budget";
    case VCPU_EXIT_HLT: return "hlt";
    case VCPU_EXIT_REQUEST: return "exit request";
    case VCPU_EXIT_SHUTDOWN: return "shutdown";
    case VCPU_EXIT_INTERNAL: return "internal error";
    }
    return "?";
}

/* Print up to 15 bytes at linear `lin` if they can be fetched without faulting. */
static void vcpu_dump_bytes(struct cpu *c, uint64_t lin, FILE *out)
{
    for (unsigned k = 0; k < 15; k++) {
        uint64_t gpa;
        if (!mmu_probe_exec(c, lin + k, &gpa)) break;
        uint8_t *p = bus_ram_ptr(c->bus, gpa, 1);
        if (!p) break;
        fprintf(out, " %02x", *p);
    }
}

/* The last 16 instructions executed, rebuilt from the blocks recently entered (a block left
 * early by a fault shows all its instructions). */
static void vcpu_dump_recent(struct cpu *c, FILE *out)
{
    const struct block_cache *bc = c->blocks;
    const struct exec_state *ex = c->exec;
    uint64_t rips[16 * BLOCK_MAX_INSNS];
    unsigned n = 0;
    for (unsigned k = 0; k < 16; k++) {
        unsigned slot = (c->recent_pos + k) & 15;
        const struct block *b = ex->recent[slot];
        uint64_t rip = c->recent_rip[slot];
        if (!b || ex->recent_gen[slot] != bc->generation || b == bc->scratch) {
            if (rip) rips[n++] = rip; /* the block is gone: its first instruction at least */
            continue;
        }
        for (unsigned i = 0; i < b->n; i++) {
            rips[n++] = rip;
            rip += b->insn[i].len;
        }
    }
    unsigned first = n > 16 ? n - 16 : 0;
    fprintf(out, "last instructions (oldest first):\n");
    for (unsigned k = first; k < n; k++) {
        fprintf(out, "  %016llx:", (unsigned long long)rips[k]);
        vcpu_dump_bytes(c, rips[k], out);
        fputc('\n', out);
    }
}

void vcpu_dump(const struct vcpu *v, FILE *out)
{
    struct cpu *c = (struct cpu *)vcpu_ccpu(v);
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    static const char *const segs[8] = {"es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"};
    fprintf(out, "vcpu %u: exit: %s\n", c->id, vcpu_exit_reason(v));
    for (unsigned k = 0; k < 16; k++)
        fprintf(out, "%-3s=%016llx%s", names[k], (unsigned long long)c->gpr[k],
                (k & 3) == 3 ? "\n" : "  ");
    fprintf(out, "rip=%016llx  rflags=%08llx  cpl=%u  mode=%d  halted=%d  shadow=%d\n",
            (unsigned long long)c->rip, (unsigned long long)flags_read(c), c->cpl, (int)c->mode,
            c->halted, c->intr_shadow);
    for (unsigned k = 0; k < 8; k++)
        fprintf(out, "%-4s sel=%04x base=%016llx limit=%08x attr=%04x\n", segs[k], c->seg[k].sel,
                (unsigned long long)c->seg[k].base, c->seg[k].limit, c->seg[k].attr);
    fprintf(out, "gdt=%016llx/%04x  idt=%016llx/%04x\n", (unsigned long long)c->gdt_base,
            c->gdt_limit, (unsigned long long)c->idt_base, c->idt_limit);
    fprintf(out, "cr0=%016llx  cr2=%016llx  cr3=%016llx  cr4=%016llx  efer=%llx\n",
            (unsigned long long)c->cr0, (unsigned long long)c->cr2, (unsigned long long)c->cr3,
            (unsigned long long)c->cr4, (unsigned long long)c->efer);
    fprintf(out, "insns=%llu  exceptions=%llu  interrupts=%llu  ud=%llu\n",
            (unsigned long long)c->stats.insns, (unsigned long long)c->stats.exceptions,
            (unsigned long long)c->stats.interrupts, (unsigned long long)c->stats.ud);
    vcpu_dump_recent(c, out);
    fprintf(out, "  rip %016llx:", (unsigned long long)c->rip);
    vcpu_dump_bytes(c, c->rip, out);
    fputc('\n', out);
}

/* ---- state ---- */

static void vcpu_put_seg(struct state_writer *w, const struct segcache *s)
{
    state_put_u16(w, s->sel);
    state_put_u64(w, s->base);
    state_put_u32(w, s->limit);
    state_put_u16(w, s->attr);
}

static void vcpu_get_seg(struct state_reader *r, struct segcache *s)
{
    s->sel = state_get_u16(r);
    s->base = state_get_u64(r);
    s->limit = state_get_u32(r);
    s->attr = state_get_u16(r);
}

/* The MSRs kept in struct cpu, in stream order. */
#define VCPU_MSR_FIELDS(X)                                                                         \
    X(star)                                                                                        \
    X(lstar)                                                                                       \
    X(cstar)                                                                                       \
    X(sfmask)                                                                                      \
    X(kernel_gs_base)                                                                              \
    X(tsc_aux) X(pat) X(misc_enable) X(sysenter_cs) X(sysenter_esp) X(sysenter_eip) X(tsc_hz)      \
        X(mtrr_def_type) X(kvm_system_time) X(kvm_wall_clock)

void vcpu_save(const struct vcpu *v, struct state_writer *w)
{
    struct cpu *c = (struct cpu *)vcpu_ccpu(v);
    state_section_begin(w, "cpu", CPU_STATE_VERSION);
    for (unsigned k = 0; k < 16; k++)
        state_put_u64(w, c->gpr[k]);
    state_put_u64(w, c->rip);
    state_put_u64(w, flags_read(c));
    for (unsigned k = 0; k < 8; k++)
        vcpu_put_seg(w, &c->seg[k]);
    state_put_u64(w, c->gdt_base);
    state_put_u16(w, c->gdt_limit);
    state_put_u64(w, c->idt_base);
    state_put_u16(w, c->idt_limit);
    state_put_u64(w, c->cr0);
    state_put_u64(w, c->cr2);
    state_put_u64(w, c->cr3);
    state_put_u64(w, c->cr4);
    state_put_u64(w, c->efer);
    for (unsigned k = 0; k < 8; k++)
        state_put_u64(w, c->dr[k]);
#define X(f) state_put_u64(w, c->f);
    VCPU_MSR_FIELDS(X)
#undef X
    for (unsigned k = 0; k < 11; k++)
        state_put_u64(w, c->mtrr_fixed[k]);
    for (unsigned k = 0; k < 16; k++)
        state_put_u64(w, c->mtrr_var[k]);
    state_put_u64(w, cpu_read_tsc(c));
    for (unsigned k = 0; k < 16; k++)
        state_put_bytes(w, c->xmm[k].b, 16);
    state_put_u32(w, c->mxcsr);
    for (unsigned k = 0; k < 8; k++) {
        uint8_t raw[16] = {0};
        memcpy(raw, &c->fpu.st[k], 10); /* the 80-bit value; the rest is padding */
        state_put_bytes(w, raw, 10);
    }
    state_put_u16(w, c->fpu.fcw);
    state_put_u16(w, c->fpu.fsw);
    state_put_u16(w, c->fpu.ftw);
    state_put_u16(w, c->fpu.fop);
    state_put_u64(w, c->fpu.fip);
    state_put_u64(w, c->fpu.fdp);
    for (unsigned k = 0; k < 8; k++)
        state_put_u64(w, c->fpu.mm_raw[k]);
    state_put_u8(w, c->halted);
    state_put_u8(w, c->intr_shadow);
    state_section_end(w);
}

int vcpu_load(struct vcpu *v, struct state_reader *r)
{
    struct cpu *c = vcpu_cpu(v);
    uint32_t version;
    if (!state_section_find(r, "cpu", &version)) {
        log_error("cpu state: section \"cpu\" missing");
        return -1;
    }
    if (version != CPU_STATE_VERSION) {
        log_error("cpu state: version %u not supported (want %u)", version, CPU_STATE_VERSION);
        return -1;
    }
    struct cpu *t = malloc(sizeof(*t)); /* load into a copy: nothing changes on error */
    if (!t) return -1;
    memcpy(t, c, sizeof(*t));
    for (unsigned k = 0; k < 16; k++)
        t->gpr[k] = state_get_u64(r);
    t->rip = t->next_rip = state_get_u64(r);
    uint64_t rflags = state_get_u64(r);
    for (unsigned k = 0; k < 8; k++)
        vcpu_get_seg(r, &t->seg[k]);
    t->gdt_base = state_get_u64(r);
    t->gdt_limit = state_get_u16(r);
    t->idt_base = state_get_u64(r);
    t->idt_limit = state_get_u16(r);
    t->cr0 = state_get_u64(r);
    t->cr2 = state_get_u64(r);
    t->cr3 = state_get_u64(r);
    t->cr4 = state_get_u64(r);
    t->efer = state_get_u64(r);
    for (unsigned k = 0; k < 8; k++)
        t->dr[k] = state_get_u64(r);
#define X(f) t->f = state_get_u64(r);
    VCPU_MSR_FIELDS(X)
#undef X
    for (unsigned k = 0; k < 11; k++)
        t->mtrr_fixed[k] = state_get_u64(r);
    for (unsigned k = 0; k < 16; k++)
        t->mtrr_var[k] = state_get_u64(r);
    uint64_t tsc = state_get_u64(r);
    for (unsigned k = 0; k < 16; k++)
        state_get_bytes(r, t->xmm[k].b, 16);
    t->mxcsr = state_get_u32(r);
    for (unsigned k = 0; k < 8; k++) {
        t->fpu.st[k] = 0;
        state_get_bytes(r, &t->fpu.st[k], 10);
    }
    t->fpu.fcw = state_get_u16(r);
    t->fpu.fsw = state_get_u16(r);
    t->fpu.ftw = state_get_u16(r);
    t->fpu.fop = state_get_u16(r);
    t->fpu.fip = state_get_u64(r);
    t->fpu.fdp = state_get_u64(r);
    for (unsigned k = 0; k < 8; k++)
        t->fpu.mm_raw[k] = state_get_u64(r);
    t->halted = state_get_u8(r) != 0;
    t->intr_shadow = state_get_u8(r) != 0;
    if (!state_ok(r) || t->tsc_hz == 0 || (t->mxcsr & ~MXCSR_WRITABLE)) {
        log_error("cpu state: section \"cpu\" is truncated or malformed");
        free(t);
        return -1;
    }
    memcpy(c, t, sizeof(*c));
    free(t);
    flags_write(c, rflags);
    cpu_write_tsc(c, tsc);
    msr_kvmclock_update(c);
    c->exc_vector = -1;
    c->exc_deliver_kind = -1;
    c->pending_exc = -1;
    c->exit = VCPU_EXIT_BUDGET;
    c->exit_why[0] = 0;
    cpu_mode_changed(c);
    tlb_flush_all(c);
    block_flush_all(c);
    return 0;
}
