/* api.c — include/vessel/cpu.h for the software engine: creating a vCPU, running it, register
 * and MSR access, statistics, the crash dump and versioned save/load (section "cpu").
 * A struct vcpu is the engine's struct cpu; nothing outside src/cpu/ can see inside. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpuid.h"
#include "cpu/direct/direct.h"
#include "cpu/exec/block.h"
#include "cpu/exec/exec.h"
#include "cpu/exec/event.h"
#include "cpu/jit/jit.h"
#include "cpu/msr.h"
#include "cpu/ops/host.h"
#include "vessel/log.h"
#include "vessel/state.h"

/* 2: the kvmclock MSRs moved to the board's "kvmclock" section; 3: xcr0 and ymm_hi appended;
 * 4: the CPU model appended */
#define CPU_STATE_VERSION 4

static struct cpu *vcpu_cpu(struct vcpu *v)
{
    return (struct cpu *)v;
}

static const struct cpu *vcpu_ccpu(const struct vcpu *v)
{
    return (const struct cpu *)v;
}

static enum vcpu_engine vcpu_default_engine(void);

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
    enum vcpu_engine e0 = vcpu_default_engine();
    vcpu_set_engine((struct vcpu *)c, e0 == VCPU_ENGINE_DIRECT ? VCPU_ENGINE_JIT : e0, 0);
    c->id = id;
    c->tsc_hz = CPU_TSC_HZ;
    cpu_reset(c, bus);
    /* direct needs the bus and a reset TSC to start from */
    if (e0 == VCPU_ENGINE_DIRECT) vcpu_set_engine((struct vcpu *)c, VCPU_ENGINE_DIRECT, 0);
    return (struct vcpu *)c;
}

int vcpu_model_select(const char *name, char *err, size_t errlen)
{
    return cpuid_model_select(name, err, errlen);
}

const char *vcpu_model_name(void)
{
    return cpuid_model_name();
}

void vcpu_destroy(struct vcpu *v)
{
    if (!v) return;
    struct cpu *c = vcpu_cpu(v);
    if (c->bus) bus_remove_code_write_listener(c->bus, block_code_write, c);
    block_cache_free(c->blocks);
    exec_state_free(c->exec);
    jit_free(c->jit);
    direct_free(c->direct);
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

/* DEFAULT: VESSEL_ENGINE=jit|interp from the environment, else the translator on x86-64. */
static enum vcpu_engine vcpu_default_engine(void)
{
    const char *e = getenv("VESSEL_ENGINE");
    if (e && !strcmp(e, "interp")) return VCPU_ENGINE_INTERP;
    if (e && !strcmp(e, "jit")) return VCPU_ENGINE_JIT;
    if (e && !strcmp(e, "direct")) return VCPU_ENGINE_DIRECT;
#if defined(__x86_64__)
    return VCPU_ENGINE_JIT;
#else
    return VCPU_ENGINE_INTERP;
#endif
}

enum vcpu_engine vcpu_engine_resolve(enum vcpu_engine e)
{
    return e == VCPU_ENGINE_DEFAULT ? vcpu_default_engine() : e;
}

int vcpu_set_engine(struct vcpu *v, enum vcpu_engine e, size_t jit_cache)
{
    struct cpu *c = vcpu_cpu(v);
    if (e == VCPU_ENGINE_DEFAULT) e = vcpu_default_engine();
    if (e != VCPU_ENGINE_DIRECT && c->direct) {
        direct_free(c->direct);
        c->direct = NULL;
    }
    if (e == VCPU_ENGINE_DIRECT) {
        /* The kernel runs translated; user code natively where the host allows. */
        if (vcpu_set_engine(v, VCPU_ENGINE_JIT, jit_cache) < 0) return -1;
        if (!c->direct && c->bus) c->direct = direct_new(c);
        return c->direct ? 0 : -1;
    }
    if (e == VCPU_ENGINE_INTERP) {
        block_set_jit_drop(c->blocks, NULL, NULL);
        jit_free(c->jit);
        c->jit = NULL;
        return 0;
    }
    if (c->jit && (!jit_cache || c->jit->cache->size == jit_cache)) return 0;
    struct jit *j = jit_new(jit_cache);
    if (!j) return -1;
    jit_free(c->jit);
    c->jit = j;
    j->block_gen = c->blocks->generation;
    block_set_jit_drop(c->blocks, jit_block_dropped, j);
    return 0;
}

enum vcpu_engine vcpu_get_engine(const struct vcpu *v)
{
    if (vcpu_ccpu(v)->direct) return VCPU_ENGINE_DIRECT;
    return vcpu_ccpu(v)->jit ? VCPU_ENGINE_JIT : VCPU_ENGINE_INTERP;
}

enum vcpu_exit vcpu_run(struct vcpu *v, uint64_t budget)
{
    return exec_run(vcpu_cpu(v), budget);
}

void vcpu_request_exit(struct vcpu *v)
{
    __atomic_store_n(&vcpu_cpu(v)->exit_request, 1, __ATOMIC_RELEASE);
    struct direct *d = __atomic_load_n(&vcpu_cpu(v)->direct, __ATOMIC_ACQUIRE);
    if (d) direct_kick(d); /* the vCPU thread may be waiting for guest code in the stub */
}

void vcpu_rearm_dirty(struct vcpu *v)
{
    struct cpu *c = vcpu_cpu(v);
    struct block_cache *bc = c->blocks;
    if (bc->owner_set && !pthread_equal(bc->owner, pthread_self())) {
        /* another thread runs it: its thread drops the write mappings before it runs on */
        __atomic_add_fetch(&c->tlb_write_req, 1, __ATOMIC_SEQ_CST);
        return;
    }
    tlb_flush_all(c);
}

void vcpu_init_reset(struct vcpu *v)
{
    struct cpu *c = vcpu_cpu(v);
    uint64_t tsc_offset = c->tsc_offset, epoch = c->tlb.epoch;
    uint64_t req = c->tlb_write_req, done = c->tlb_write_done;
    int in_run = c->in_run;
    cpu_reset(c, c->bus);
    /* what INIT keeps: the TSC (its offset, exactly: the machine's CPUs share one TSC); and the
     * engine's bookkeeping other threads and the block links look at */
    c->tsc_offset = tsc_offset;
    c->tlb.epoch = epoch + 1;
    c->tlb_write_req = req;
    c->tlb_write_done = done;
    c->in_run = in_run;
}

void vcpu_sync_tsc(struct vcpu *v, const struct vcpu *from)
{
    vcpu_cpu(v)->tsc_offset = vcpu_ccpu(from)->tsc_offset;
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

/* The control state that struct vcpu_sregs and struct cpu both name the same way. */
#define VCPU_SREG_FIELDS(X)                                                                        \
    X(gdt_base) X(gdt_limit) X(idt_base) X(idt_limit) X(cr0) X(cr2) X(cr3) X(cr4) X(efer)

void vcpu_get_sregs(const struct vcpu *v, struct vcpu_sregs *s)
{
    const struct cpu *c = vcpu_ccpu(v);
    for (unsigned k = 0; k < 8; k++)
        s->seg[k] =
            (struct vcpu_segment){c->seg[k].sel, c->seg[k].base, c->seg[k].limit, c->seg[k].attr};
#define X(f) s->f = c->f;
    VCPU_SREG_FIELDS(X)
#undef X
}

void vcpu_set_sregs(struct vcpu *v, const struct vcpu_sregs *s)
{
    struct cpu *c = vcpu_cpu(v);
    for (unsigned k = 0; k < 8; k++)
        c->seg[k] =
            (struct segcache){s->seg[k].selector, s->seg[k].base, s->seg[k].limit, s->seg[k].attr};
#define X(f) c->f = s->f;
    VCPU_SREG_FIELDS(X)
#undef X
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

/* Section "cpu": u64 gpr[16], rip, rflags; per segment (es cs ss ds fs gs ldtr tr) u16 sel,
 * u64 base, u32 limit, u16 attr; u64 gdt base, u16 limit, u64 idt base, u16 limit; u64 cr0,
 * cr2, cr3, cr4, efer, dr[8]; u64 per MSR of VCPU_MSR_FIELDS; u64 mtrr_fixed[11],
 * mtrr_var[16]; u64 TSC; 16 bytes per xmm; u32 mxcsr; 10 bytes per x87 register; u16 fcw, fsw,
 * ftw, fop; u64 fip, fdp, mm_raw[8]; u8 halted, interrupt shadow; (version 3) u64 xcr0, 16 bytes
 * per upper YMM half; (version 4) the CPU model: 16 bytes name (NUL-padded), u32 host-backed
 * extensions (HOST_* of ops/host.h), u32 feature words CPUID 1.ECX, 7.EBX, 7.ECX, 7.EDX,
 * 80000001.ECX, 0xD/1.EAX. */

/* The MSRs kept in struct cpu, in stream order. */
#define VCPU_MSR_FIELDS(X)                                                                         \
    X(star)                                                                                        \
    X(lstar)                                                                                       \
    X(cstar)                                                                                       \
    X(sfmask)                                                                                      \
    X(kernel_gs_base)                                                                              \
    X(tsc_aux)                                                                                     \
    X(pat)                                                                                         \
    X(misc_enable) X(sysenter_cs) X(sysenter_esp) X(sysenter_eip) X(tsc_hz) X(mtrr_def_type)

/* A loaded state must be one the guest could have reached: CR0_KNOWN, CR4_KNOWN and EFER_KNOWN
 * (core.h) are what MOV to CR and WRMSR accept. */
/* RFLAGS: bit 1 reads as one; 3, 5, 15 and 22-63 are reserved. */
#define VCPU_RFLAGS_OK 0x3f7fd7ull

struct vcpu_state_ctx {
    uint64_t rflags, tsc;         /* not plain members: derived on save, re-derived on load */
    struct cpuid_model_rec model; /* version 4: the model the state was saved under */
    bool has_model;
    char why[256];
};

static void vcpu_put_rflags(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    state_put_u64(w, flags_read((struct cpu *)obj));
}
static const char *vcpu_get_rflags(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp;
    (void)live;
    uint64_t v = ((struct vcpu_state_ctx *)ctx)->rflags = state_get_u64(r);
    if ((v & ~VCPU_RFLAGS_OK) || !(v & 2)) return "reserved bits";
    return NULL;
}
static void vcpu_put_tsc(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    state_put_u64(w, cpu_read_tsc(obj));
}
static const char *vcpu_get_tsc(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp;
    (void)live;
    ((struct vcpu_state_ctx *)ctx)->tsc = state_get_u64(r);
    return NULL;
}

static bool vcpu_canonical(uint64_t a)
{
    uint64_t top = a >> 47; /* bits 63..47 all equal */
    return top == 0 || top == 0x1ffff;
}

/* Control registers, EFER and the addresses the hardware would have refused, checked as
 * MOV CR / WRMSR / the mode-switch rules check them; NULL if the state is reachable. */
static const char *vcpu_state_check(const void *tmp, const void *live, void *ctx)
{
    (void)live;
    const struct cpu *t = tmp;
    uint64_t cr0 = t->cr0, cr4 = t->cr4, efer = t->efer;
    if (cr0 & ~CR0_KNOWN) return "cr0: reserved bits";
    if (!(cr0 & CR0_ET)) return "cr0: ET clear (hardwired to 1)";
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE)) return "cr0: PG without PE";
    if ((cr0 & CR0_NW) && !(cr0 & CR0_CD)) return "cr0: NW without CD";
    if (cr4 & ~CR4_KNOWN) return "cr4: bits this CPU model does not support";
    if (t->cr3 >> CPUID_PHYS_ADDR_BITS) return "cr3: bits beyond MAXPHYADDR";
    if (efer & ~EFER_KNOWN) return "efer: reserved bits";
    bool lma = (efer & EFER_LMA) != 0;
    if (lma != ((efer & EFER_LME) && (cr0 & CR0_PG)))
        return "efer: LMA is not LME and CR0.PG (long mode is active exactly when both are)";
    if (lma && !(cr4 & CR4_PAE)) return "cr4: long mode without PAE";
    if (lma && (t->seg[SEG_CS].attr & 0x2000) && (t->seg[SEG_CS].attr & 0x4000))
        return "cs: both L and D set in long mode";
    if (lma && (((struct vcpu_state_ctx *)ctx)->rflags & F_VM))
        return "rflags: VM set in long mode";
    static const struct {
        const char *name;
        size_t off;
    } addrs[] = {
        {"gdt base", offsetof(struct cpu, gdt_base)},
        {"idt base", offsetof(struct cpu, idt_base)},
        {"fs base", offsetof(struct cpu, seg[SEG_FS].base)},
        {"gs base", offsetof(struct cpu, seg[SEG_GS].base)},
        {"ldtr base", offsetof(struct cpu, seg[SEG_LDTR].base)},
        {"tr base", offsetof(struct cpu, seg[SEG_TR].base)},
        {"kernel_gs_base", offsetof(struct cpu, kernel_gs_base)},
        {"lstar", offsetof(struct cpu, lstar)},
        {"cstar", offsetof(struct cpu, cstar)},
        {"sysenter_esp", offsetof(struct cpu, sysenter_esp)},
        {"sysenter_eip", offsetof(struct cpu, sysenter_eip)},
        {"dr0", offsetof(struct cpu, dr[0])},
        {"dr1", offsetof(struct cpu, dr[1])},
        {"dr2", offsetof(struct cpu, dr[2])},
        {"dr3", offsetof(struct cpu, dr[3])},
        {"rip", offsetof(struct cpu, rip)},
    };
    for (size_t k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)tmp + addrs[k].off, 8);
        if (!vcpu_canonical(v)) {
            static _Thread_local char why[64];
            snprintf(why, sizeof(why), "%s: non-canonical address", addrs[k].name);
            return why;
        }
    }
    for (unsigned k = 0; k < 8; k++) {
        unsigned type = (unsigned)(t->pat >> (8 * k)) & 0xff;
        if (type == 2 || type == 3 || type > 7) return "pat: reserved memory type";
    }
    if (t->tsc_hz == 0) return "tsc_hz: zero";
    return NULL;
}

static const struct state_field vcpu_seg_fields[] = {
    STATE_U16(struct segcache, sel),
    STATE_U64(struct segcache, base),
    STATE_U32(struct segcache, limit),
    STATE_U16(struct segcache, attr),
};
static const struct state_desc vcpu_seg_desc = STATE_DESC(struct segcache, vcpu_seg_fields, NULL);
/* The fields of version 2, which version 3 extends (version 2 snapshots still load). */
#define X(f) STATE_U64(struct cpu, f),
#define VCPU_FIELDS_V2                                                                             \
    STATE_UINT_ARRAY(struct cpu, gpr, 8, UINT64_MAX), STATE_U64(struct cpu, rip),                  \
        STATE_CUSTOM("rflags", vcpu_put_rflags, vcpu_get_rflags, NULL),                            \
        STATE_STRUCT_ARRAY(struct cpu, seg, &vcpu_seg_desc), STATE_U64(struct cpu, gdt_base),      \
        STATE_U16(struct cpu, gdt_limit), STATE_U64(struct cpu, idt_base),                         \
        STATE_U16(struct cpu, idt_limit), STATE_U64(struct cpu, cr0), STATE_U64(struct cpu, cr2),  \
        STATE_U64(struct cpu, cr3), STATE_U64(struct cpu, cr4), STATE_U64(struct cpu, efer),       \
        STATE_UINT_ARRAY(struct cpu, dr, 8, UINT64_MAX),                                           \
        VCPU_MSR_FIELDS(X) STATE_UINT_ARRAY(struct cpu, mtrr_fixed, 8, UINT64_MAX),                \
        STATE_UINT_ARRAY(struct cpu, mtrr_var, 8, UINT64_MAX),                                     \
        STATE_CUSTOM("tsc", vcpu_put_tsc, vcpu_get_tsc, NULL),                                     \
        STATE_BYTES_N(struct cpu, xmm, 16, 16, sizeof(union xmm)),                                 \
        STATE_UINT_X(struct cpu, mxcsr, 4, UINT64_MAX, 0, 0, MXCSR_WRITABLE),                      \
        STATE_BYTES_N(struct cpu, fpu.st, 10, 8, sizeof(long double)),                             \
        STATE_U16(struct cpu, fpu.fcw), STATE_U16(struct cpu, fpu.fsw),                            \
        STATE_U16(struct cpu, fpu.ftw), STATE_U16(struct cpu, fpu.fop),                            \
        STATE_U64(struct cpu, fpu.fip), STATE_U64(struct cpu, fpu.fdp),                            \
        STATE_UINT_ARRAY(struct cpu, fpu.mm_raw, 8, UINT64_MAX), STATE_BOOL(struct cpu, halted),   \
        STATE_BOOL(struct cpu, intr_shadow)
static void vcpu_put_model(struct state_writer *w, const void *obj, void *ctx)
{
    (void)obj, (void)ctx;
    struct cpuid_model_rec m;
    cpuid_model_record(&m);
    state_put_bytes(w, m.name, sizeof m.name);
    state_put_u32(w, m.ext);
    for (unsigned k = 0; k < P_NREGS; k++)
        state_put_u32(w, m.words[k]);
}
/* The model must be one this host and engine can provide: a snapshot of x86-64-v3 (or of host
 * on a host with SHA) is refused where the host lacks an extension it offers. */
static const char *vcpu_get_model(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)tmp, (void)live;
    struct vcpu_state_ctx *x = ctx;
    struct cpuid_model_rec *m = &x->model;
    memset(m, 0, sizeof *m);
    state_get_bytes(r, m->name, sizeof m->name);
    m->ext = state_get_u32(r);
    for (unsigned k = 0; k < P_NREGS; k++)
        m->words[k] = state_get_u32(r);
    if (!state_ok(r)) return NULL; /* the reader reports the truncation */
    if (memchr(m->name, 0, sizeof m->name) == NULL) return "name not terminated";
    x->has_model = true;
    return cpuid_model_check(m, x->why, sizeof x->why);
}

static const struct state_field vcpu_fields_v2[] = {VCPU_FIELDS_V2};
/* Version 3: XCR0 and the upper halves of YMM0-15. */
#define VCPU_FIELDS_V3                                                                             \
    VCPU_FIELDS_V2, STATE_U64(struct cpu, xcr0),                                                   \
        STATE_BYTES_N(struct cpu, ymm_hi, 16, 16, sizeof(union xmm))
static const struct state_field vcpu_fields_v3[] = {VCPU_FIELDS_V3};
/* Version 4: the CPU model. */
static const struct state_field vcpu_fields[] = {
    VCPU_FIELDS_V3,
    STATE_CUSTOM("model", vcpu_put_model, vcpu_get_model, NULL),
};
#undef X

/* XCR0 as XSETBV would have accepted it, under the model the state records (version 4) or,
 * for older states, this process's model (a snapshot from a host with AVX and AVX state enabled
 * does not load where the model has no AVX). */
static const char *vcpu_state_check_v3(const void *tmp, const void *live, void *ctx)
{
    const struct cpu *t = tmp;
    const struct vcpu_state_ctx *x = ctx;
    uint64_t sup = cpuid_xcr0_supported();
    if (x->has_model)
        sup = (sup & ~XCR0_AVX) | ((x->model.words[P_1ECX] & (1u << 28)) ? XCR0_AVX : 0);
    if (!(t->xcr0 & XCR0_X87) || (t->xcr0 & ~sup) ||
        ((t->xcr0 & XCR0_AVX) && !(t->xcr0 & XCR0_SSE)))
        return "xcr0: components this CPU model does not support";
    return vcpu_state_check(tmp, live, ctx);
}
static const struct state_desc vcpu_desc = STATE_DESC(struct cpu, vcpu_fields, vcpu_state_check_v3);
static const struct state_desc vcpu_desc_v3 =
    STATE_DESC(struct cpu, vcpu_fields_v3, vcpu_state_check_v3);
static const struct state_desc vcpu_desc_v2 =
    STATE_DESC(struct cpu, vcpu_fields_v2, vcpu_state_check);

void vcpu_save(const struct vcpu *v, struct state_writer *w)
{
    state_save_section(w, "cpu", CPU_STATE_VERSION, &vcpu_desc, vcpu_ccpu(v), NULL);
}

int vcpu_load(struct vcpu *v, struct state_reader *r)
{
    struct cpu *c = vcpu_cpu(v);
    struct vcpu_state_ctx x = {0};
    uint32_t version = CPU_STATE_VERSION;
    struct state_reader probe = *r;
    if (!state_section_find(&probe, "cpu", &version)) version = CPU_STATE_VERSION;
    if (version == 2) {
        /* before XSAVE: XCR0 as at reset, no AVX state */
        if (state_load_section(r, "cpu", 2, &vcpu_desc_v2, c, &x) < 0) return -1;
        if (!state_committing(r)) return 0;
        c->xcr0 = XCR0_X87;
        memset(c->ymm_hi, 0, sizeof c->ymm_hi);
    } else if (version == 3) {
        /* before CPU models: the state runs on under this process's model */
        if (state_load_section(r, "cpu", 3, &vcpu_desc_v3, c, &x) < 0) return -1;
        if (!state_committing(r)) return 0;
    } else {
        if (state_load_section(r, "cpu", CPU_STATE_VERSION, &vcpu_desc, c, &x) < 0) return -1;
        if (!state_committing(r)) return 0;
        /* the guest keeps the CPU it saw: the instruction tables and CPUID follow the recorded
         * model (the blocks built under the previous one are flushed below) */
        cpuid_model_adopt(&x.model);
    }
    c->next_rip = c->rip;
    flags_write(c, x.rflags);
    cpu_write_tsc(c, x.tsc);
    c->exc_vector = -1;
    c->exc_deliver_kind = -1;
    c->pending_exc = -1;
    c->exit = VCPU_EXIT_BUDGET;
    c->exit_why[0] = 0;
    cpu_mode_changed(c);
    tlb_flush_all(c);
    if (c->direct) direct_recheck(c->direct); /* RAM may be a snapshot's layers now */
    block_flush_all(c);
    return 0;
}
