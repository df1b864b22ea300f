/* diff.c — the differential harness of diff.h: a native stub generator that runs one
 * instruction on the host CPU with a given register/flag/FPU state, the same instruction run
 * through the engine's cpu_step(), and the comparison between the two.
 *
 * Native pages (fixed addresses, MAP_FIXED_NOREPLACE):
 *   DIFF_DATA   data page the instruction may touch (also the stack: RSP = DIFF_RSP)
 *   DIFF_CODE   prologue | epilogue | ... | DIFF_INSN: insn, pad0, pad1, jmp epilogue
 *   DIFF_STATE  in/out states, host RSP and host FPU state, the landing marker
 * The engine runs with 4-level paging that maps only the data and code pages (identity), so an
 * access outside them is a #PF natively and in the engine alike.
 * The stub addresses the state page with absolute disp32 operands, so it needs no register
 * of its own while guest values are live. Faults arrive as signals on an alternate stack;
 * the handler copies the faulting context into the out state and siglongjmps back. */
#include "diff.h"
#include "vendor.h"
#include "approx.h"
#include "xstate.h"

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/ldt.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

/* ucontext's REG_RIP clashes with core.h's: keep the signal-context index under another name */
enum { UC_RIP = REG_RIP };
#undef REG_RIP

#include "cpu/core.h"
#include "cpu/cpuid.h"
#include "cpu/ops/host.h"
#include "cpu/decode/decode.h"
#include "cpu/ops/ops.h"
#include "vessel/bus.h"

#define DIFF_STATE    0x10020000ull
#define DIFF_EPILOGUE (DIFF_CODE + 0x200)
#define DIFF_RAM_SIZE 0x10030000ull /* guest RAM covers data and code pages */
#define DIFF_PT       0x10028000ull /* guest page tables (4 pages; native has nothing there) */

/* The host's own FPU/SSE/AVX state while the stub runs (an XSAVE area) */
struct diff_xs {
    struct diff_fx fx;
    uint8_t hdr[64];
    uint8_t ymmh[16][16];
    uint8_t pad[192];
} __attribute__((aligned(64)));

struct stub_area {
    struct diff_state in, out;
    struct diff_xs host_xs;
    uint64_t host_rsp;
    uint8_t far_in[8];   /* m16:32: DIFF_USER32_CS:DIFF_INSN, where DIFF_C32 forms start */
    uint8_t far_in16[8]; /* m16:32: DIFF_CODE16_SEL:(DIFF_INSN - DIFF_CODE), DIFF_C16 forms */
    uint8_t marker;
};
#define AREA ((struct stub_area *)DIFF_STATE)

static sigjmp_buf diff_jmp;
static volatile sig_atomic_t diff_active; /* 0, DIFF_IN_NATIVE or DIFF_IN_ENGINE */
enum { DIFF_IN_NATIVE = 1, DIFF_IN_ENGINE = 2 };
static sigjmp_buf engine_jmp;
static volatile int engine_signal;
static volatile uint64_t engine_signal_rip;
#define DIFF_VEC_HOST_SIGNAL 1000 /* engine "vector": 1000 + host signal number */
#define DIFF_VEC_HOST_STATE  2000 /* engine "vector": host FPU control state not restored */
static struct bus diff_bus;
static struct cpu *diff_cpu;

/* ---- random inputs ---- */

uint64_t diff_rand(struct diff_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t diff_rand_edge(struct diff_rng *r, unsigned bits)
{
    uint64_t m = bits >= 64 ? ~0ull : (1ull << bits) - 1, top = 1ull << (bits - 1), v;
    switch (diff_rand(r) % 12) {
    case 0: v = 0; break;
    case 1: v = 1; break;
    case 2: v = ~0ull; break;
    case 3: v = top; break;
    case 4: v = top - 1; break;
    case 5: v = diff_rand(r) % 66; break;
    case 6: v = -(diff_rand(r) % 66); break;
    case 7: v = top + (diff_rand(r) % 3) - 1; break;
    case 8: v = diff_rand(r) >> (diff_rand(r) % 64); break;
    default: v = diff_rand(r); break;
    }
    /* the other bits of a 64-bit register stay random so merges are visible */
    return bits >= 64 ? v : (v & m) | (diff_rand(r) & ~m);
}

unsigned diff_default_cases(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 200;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
    return 200;
#else
    return 1000;
#endif
#else
    return 1000;
#endif
}

/* ---- the native stub ---- */

struct emit {
    uint8_t *p;
};

static void e8(struct emit *e, uint8_t b)
{
    *e->p++ = b;
}

static void e32(struct emit *e, uint32_t v)
{
    memcpy(e->p, &v, 4);
    e->p += 4;
}

/* op with ModRM [disp32] absolute (mod=00 rm=100, SIB base=101 index=100) */
static void e_abs(struct emit *e, uint8_t rex, uint8_t op0, int op1, unsigned reg, uint64_t addr)
{
    if (rex) e8(e, rex);
    e8(e, op0);
    if (op1 >= 0) e8(e, (uint8_t)op1);
    e8(e, (uint8_t)(((reg & 7) << 3) | 4));
    e8(e, 0x25);
    e32(e, (uint32_t)addr);
}

static void e_fx(struct emit *e, unsigned sub, uint64_t addr) /* fxsave64 /0, fxrstor64 /1 */
{
    e8(e, 0x48);
    e_abs(e, 0, 0x0f, 0xae, sub, addr);
}

static bool host_avx; /* the stub moves state with xsave64/xrstor64 (x87, SSE, AVX) */

bool diff_host_avx(void)
{
    return host_avx;
}

uint64_t diff_xcr0(void)
{
    return cpuid_xcr0_supported() | (host_avx ? XCR0_AVX : 0);
}

/* Save (/4) or restore (/5) the x87/SSE/AVX state at addr: xsave64/xrstor64 with EDX:EAX = 7,
 * or fxsave64/fxrstor64 (/0, /1) on a host without AVX. Clobbers EAX and EDX. */
static void e_state(struct emit *e, bool save, uint64_t addr)
{
    if (!host_avx) {
        e_fx(e, save ? 0 : 1, addr);
        return;
    }
    e8(e, 0xb8), e32(e, 7);   /* mov eax, 7 */
    e8(e, 0x31), e8(e, 0xd2); /* xor edx, edx */
    e8(e, 0x48);
    e_abs(e, 0, 0x0f, 0xae, save ? 4 : 5, addr);
}

static uint8_t *stub_entry; /* the prologue's last instruction: into the form */
static int stub_entry_kind; /* 0: 64-bit, DIFF_C32 or DIFF_C16 */
static uint64_t legacy_end; /* after the INT3 that ends a DIFF_C32/C16 form's landing pads */

/* The host's 32-bit user code selector (__USER32_CS), where DIFF_C32 forms run natively, and
 * the LDT's entry 0 (RPL 3), a 16-bit code segment at DIFF_CODE made with modify_ldt, where
 * DIFF_C16 forms run. */
#define DIFF_USER32_CS  0x23
#define DIFF_CODE16_SEL 0x07

/* The form's kind of code: 0 (64-bit), DIFF_C32 or DIFF_C16. */
static int form_kind(const struct diff_form *f)
{
    return f->flags & (DIFF_C32 | DIFF_C16);
}

/* End the prologue with a near jump to DIFF_INSN (64-bit forms) or a far jump through far_in
 * or far_in16 into the 32- or 16-bit code segment. Both are 7 bytes. */
static void stub_set_entry(int kind)
{
    if (kind == stub_entry_kind) return;
    struct emit e = {stub_entry};
    if (kind) { /* ljmp *far_in (m16:32) */
        e_abs(&e, 0, 0xff, -1, 5, (uint64_t)(kind == DIFF_C16 ? AREA->far_in16 : AREA->far_in));
    } else {
        e8(&e, 0xe9);
        e32(&e, (uint32_t)(DIFF_INSN - ((uint64_t)e.p + 4)));
        e8(&e, 0x90), e8(&e, 0x90);
    }
    __builtin___clear_cache((char *)stub_entry, (char *)e.p);
    stub_entry_kind = kind;
}

static void build_stub(void)
{
    struct emit e = {(uint8_t *)DIFF_CODE};
    /* prologue; DS and ES get SS's selector: 32-bit code (DIFF_C32) cannot use the null
     * selectors 64-bit processes run with */
    e8(&e, 0x8c), e8(&e, 0xd0); /* mov eax, ss */
    e8(&e, 0x8e), e8(&e, 0xd8); /* mov ds, eax */
    e8(&e, 0x8e), e8(&e, 0xc0); /* mov es, eax */
    e8(&e, 0x53), e8(&e, 0x55);
    for (unsigned r = 12; r <= 15; r++)
        e8(&e, 0x41), e8(&e, 0x50 + (r & 7));
    e_abs(&e, 0x48, 0x89, -1, R_RSP, (uint64_t)&AREA->host_rsp);
    e_state(&e, true, (uint64_t)&AREA->host_xs);
    e_state(&e, false, (uint64_t)&AREA->in.fx);
    e_abs(&e, 0, 0xff, -1, 6, (uint64_t)&AREA->in.rflags); /* push qword [in.rflags] */
    e8(&e, 0x9d);                                          /* popfq */
    for (unsigned r = 0; r < 16; r++)
        if (r != R_RSP) e_abs(&e, 0x48 | (r >= 8 ? 4 : 0), 0x8b, -1, r, (uint64_t)&AREA->in.gpr[r]);
    e_abs(&e, 0x48, 0x8b, -1, R_RSP, (uint64_t)&AREA->in.gpr[R_RSP]);
    stub_entry = e.p; /* stub_set_entry: jmp DIFF_INSN, or ljmp through far_in */
    stub_entry_kind = -1;
    stub_set_entry(0);

    /* epilogue */
    e.p = (uint8_t *)DIFF_EPILOGUE;
    for (unsigned r = 0; r < 16; r++)
        e_abs(&e, 0x48 | (r >= 8 ? 4 : 0), 0x89, -1, r, (uint64_t)&AREA->out.gpr[r]);
    e_abs(&e, 0x48, 0x8b, -1, R_RSP, (uint64_t)&AREA->host_rsp);
    e8(&e, 0x9c);                                           /* pushfq */
    e_abs(&e, 0, 0x8f, -1, 0, (uint64_t)&AREA->out.rflags); /* pop qword [out.rflags] */
    e_state(&e, true, (uint64_t)&AREA->out.fx);
    e_state(&e, false, (uint64_t)&AREA->host_xs);
    e8(&e, 0xfc); /* cld */
    for (unsigned r = 15; r >= 12; r--)
        e8(&e, 0x41), e8(&e, 0x58 + (r & 7));
    e8(&e, 0x5d), e8(&e, 0x5b), e8(&e, 0xc3);
}

/* Place the instruction and its landing pads at DIFF_INSN. */
static void place_insn(const struct diff_form *f)
{
    struct emit e = {(uint8_t *)DIFF_INSN};
    memcpy(e.p, f->bytes, f->len);
    e.p += f->len;
    /* pad0: marker = 0, skip pad1 (10 bytes = DIFF_REL_TAKEN). The 8-byte store means the
     * same in 32-bit code; 16-bit code gets `67 c6 05 disp32 imm8`, as long. */
    for (unsigned pad = 0; pad < 2; pad++) {
        if (f->flags & DIFF_C16) {
            e8(&e, 0x67), e8(&e, 0xc6), e8(&e, 0x05);
            e32(&e, (uint32_t)(uint64_t)&AREA->marker);
        } else {
            e_abs(&e, 0, 0xc6, -1, 0, (uint64_t)&AREA->marker);
        }
        e8(&e, (uint8_t)pad);
        if (pad == 0) e8(&e, 0xeb), e8(&e, 8);
    }
    if (form_kind(f)) {
        /* A far jump back to 64-bit code is not allowed everywhere (a paravirtualized host
         * kernel refuses it with #GP), so the state is taken from the signal context of an
         * INT3 instead. */
        legacy_end = (uint64_t)e.p + 1;
        e8(&e, 0xcc);
    } else {
        e8(&e, 0xe9);
        e32(&e, (uint32_t)(DIFF_EPILOGUE - ((uint64_t)e.p + 4)));
    }
    __builtin___clear_cache((char *)DIFF_INSN, (char *)e.p);
}

static void diff_signal(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    if (diff_active == DIFF_IN_ENGINE) {
        /* the engine itself faulted on the host (a bug: guest behaviour must never do this);
         * record it as the engine's result and carry on with the next case */
        engine_signal = sig;
        engine_signal_rip = (uint64_t)uc->uc_mcontext.gregs[UC_RIP];
        diff_active = 0;
        siglongjmp(engine_jmp, 1);
    }
    if (!diff_active) {
        /* not from an instruction under test: say where, then die as we would have */
        char msg[160];
        int n =
            snprintf(msg, sizeof(msg),
                     "# diff: signal %d outside the instruction under test, rip %#llx "
                     "(diff_rand%+lld) trap %lld\n",
                     sig, (unsigned long long)uc->uc_mcontext.gregs[UC_RIP],
                     (long long)(uc->uc_mcontext.gregs[UC_RIP] - (long long)(uintptr_t)diff_rand),
                     (long long)uc->uc_mcontext.gregs[REG_TRAPNO]);
        if (n > 0 && write(2, msg, (size_t)n) < 0) n = 0;
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    static const int map[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                REG_R12, REG_R13, REG_R14, REG_R15};
    struct diff_state *o = &AREA->out;
    for (int r = 0; r < 16; r++)
        o->gpr[r] = (uint64_t)uc->uc_mcontext.gregs[map[r]];
    o->rip = (uint64_t)uc->uc_mcontext.gregs[UC_RIP];
    o->rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
    o->vector = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    if (uc->uc_mcontext.fpregs) {
        const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
        memcpy(&o->fx, fp, sizeof(o->fx));
        /* the kernel's frame carries the XSAVE area after the legacy region when the magic
         * word says so; YMM upper halves not in use are zero */
        uint32_t magic;
        uint64_t bv = 0;
        memcpy(&magic, fp + 464, 4);
        if (magic == 0x46505853u) memcpy(&bv, fp + 512, 8);
        if (bv & 4)
            memcpy(o->ymmh, fp + 576, sizeof o->ymmh);
        else
            memset(o->ymmh, 0, sizeof o->ymmh);
    }
    diff_active = 0;
    siglongjmp(diff_jmp, 1);
}

static void run_native(const struct diff_form *f, const struct diff_state *in, const uint8_t *data,
                       struct diff_state *out);
static bool host_c32, host_c16; /* the host runs 32-bit code in __USER32_CS, 16-bit in the LDT */

/* Whether a NOP in the host's 32- or 16-bit code segment runs (a kernel without IA-32
 * emulation has no such segment). */
static bool diff_probe(int kind)
{
    const struct diff_form nop = {
        .name = "probe", .bytes = {0x90}, .len = 1, .flags = (uint16_t)kind};
    static uint8_t data[DIFF_DATA_SIZE];
    struct diff_state in, out;
    memset(&in, 0, sizeof in);
    in.gpr[R_RSP] = DIFF_RSP;
    in.rflags = 0x202;
    in.fx.fcw = 0x37f;
    in.fx.mxcsr = 0x1f80;
    place_insn(&nop);
    run_native(&nop, &in, data, &out);
    return out.vector == -1 && out.rip == diff_land(&nop, 0);
}

bool diff_host_c32(void)
{
    return host_c32;
}

bool diff_host_c16(void)
{
    return host_c16;
}

/* LDT entry 0: 16-bit code at DIFF_CODE, limit 64 KiB, DPL 3. */
static bool diff_make_code16(void)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = 0;
    d.base_addr = (unsigned)DIFF_CODE;
    d.limit = 0xffff;
    d.contents = 2; /* code */
    d.useable = 1;
    return syscall(SYS_modify_ldt, 1, &d, sizeof d) == 0;
}

bool diff_init(void)
{
    static bool done;
    if (done) return true;
    vendor_init();
    void *d = mmap((void *)DIFF_DATA, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *c = mmap((void *)DIFF_CODE, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *s = mmap((void *)DIFF_STATE, 0x2000, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (d != (void *)DIFF_DATA || c != (void *)DIFF_CODE || s != (void *)DIFF_STATE) {
        fprintf(stderr, "# diff: cannot map the fixed test pages\n");
        return false;
    }
    _Static_assert(sizeof(struct stub_area) <= 0x2000, "state area");
    /* the engine offers what the host has (model host): every form the host can run is compared */
    char err[256];
    if (cpuid_model_select("host", err, sizeof err) < 0) {
        fprintf(stderr, "# diff: %s\n", err);
        return false;
    }
    host_avx = (host_ext() & HOST_AVX) != 0;
    build_stub();
    uint32_t off = (uint32_t)DIFF_INSN;
    memcpy(AREA->far_in, &off, 4);
    memcpy(AREA->far_in + 4, &(uint16_t){DIFF_USER32_CS}, 2);
    off = (uint32_t)(DIFF_INSN - DIFF_CODE);
    memcpy(AREA->far_in16, &off, 4);
    memcpy(AREA->far_in16 + 4, &(uint16_t){DIFF_CODE16_SEL}, 2);

    static uint8_t altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = diff_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP};
    for (unsigned k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
        sigaction(sigs[k], &sa, NULL);

    if (bus_init(&diff_bus, DIFF_RAM_SIZE) != 0) {
        fprintf(stderr, "# diff: cannot allocate guest RAM\n");
        return false;
    }
    diff_cpu = (struct cpu *)vcpu_create(&diff_bus, 0); /* a struct vcpu is a struct cpu */
    if (!diff_cpu) return false;
    host_c32 = diff_probe(DIFF_C32); /* with the signal handlers in place */
    host_c16 = host_c32 && diff_make_code16() && diff_probe(DIFF_C16);
    done = true;
    return true;
}

static void run_native(const struct diff_form *f, const struct diff_state *in, const uint8_t *data,
                       struct diff_state *out)
{
    memcpy((void *)DIFF_DATA, data, DIFF_DATA_SIZE);
    AREA->in = *in;
    /* XRSTOR loads all three components from the standard-format area */
    memset(AREA->in.xs_hdr, 0, sizeof AREA->in.xs_hdr);
    AREA->in.xs_hdr[0] = 7;
    memset(&AREA->out, 0, sizeof(AREA->out));
    AREA->marker = 0xff;
    stub_set_entry(form_kind(f));
    if (sigsetjmp(diff_jmp, 1) == 0) {
        diff_active = DIFF_IN_NATIVE;
        ((void (*)(void))DIFF_CODE)();
        diff_active = 0;
        AREA->out.vector = -1;
        AREA->out.rip = diff_land(f, AREA->marker == 1);
        if (host_avx) {
            /* components XSAVE found in their initial state may be stored or not: make them
             * so */
            uint64_t bv;
            memcpy(&bv, AREA->out.xs_hdr, 8);
            if (!(bv & 4)) memset(AREA->out.ymmh, 0, sizeof AREA->out.ymmh);
            if (!(bv & 2)) memset(AREA->out.fx.xmm, 0, sizeof AREA->out.fx.xmm);
        }
    } else {
        /* back from a fault: restore the host's FPU/SSE control state */
        __asm__ volatile("fxrstor64 %0" ::"m"(AREA->host_xs.fx));
        if (host_avx) __asm__ volatile("vzeroupper");
        if (f->flags & DIFF_C16) /* the context has IP; the rest of the harness linear addresses */
            AREA->out.rip = (uint16_t)AREA->out.rip + DIFF_CODE;
        if (form_kind(f) && AREA->out.vector == 3 && AREA->out.rip == legacy_end) {
            /* not a fault: the INT3 after the landing pads */
            AREA->out.vector = -1;
            AREA->out.rip = diff_land(f, AREA->marker == 1);
        }
    }
    *out = AREA->out;
    out->undef = in->undef;
}

/* ---- the engine side ---- */

static void fx_to_cpu(struct cpu *c, const struct diff_fx *fx, const uint8_t (*ymmh)[16])
{
    for (int r = 0; r < 16; r++)
        memcpy(&c->ymm_hi[r], ymmh[r], 16);
    for (int r = 0; r < 16; r++)
        memcpy(&c->xmm[r], fx->xmm[r], 16);
    c->mxcsr = fx->mxcsr;
    c->fpu.fcw = fx->fcw;
    c->fpu.fsw = fx->fsw;
    c->fpu.fop = fx->fop;
    c->fpu.fip = fx->fip;
    c->fpu.fdp = fx->fdp;
    unsigned top = (fx->fsw >> 11) & 7;
    c->fpu.ftw = 0;
    for (int p = 0; p < 8; p++)
        if (!(fx->ftw & (1u << p))) c->fpu.ftw |= 3u << (2 * p);
    for (int k = 0; k < 8; k++) {
        long double v = 0;
        memcpy(&v, fx->st[k], 10);
        c->fpu.st[(top + k) & 7] = v;
    }
}

static void fx_from_cpu(const struct cpu *c, struct diff_fx *fx, uint8_t (*ymmh)[16])
{
    for (int r = 0; r < 16; r++)
        memcpy(ymmh[r], &c->ymm_hi[r], 16);
    for (int r = 0; r < 16; r++)
        memcpy(fx->xmm[r], &c->xmm[r], 16);
    fx->mxcsr = c->mxcsr;
    fx->fcw = c->fpu.fcw;
    fx->fsw = c->fpu.fsw;
    unsigned top = (c->fpu.fsw >> 11) & 7;
    fx->ftw = 0;
    for (int p = 0; p < 8; p++)
        if (((c->fpu.ftw >> (2 * p)) & 3) != 3) fx->ftw |= 1u << p;
    for (int k = 0; k < 8; k++) {
        memset(fx->st[k], 0, 16);
        memcpy(fx->st[k], &c->fpu.st[(top + k) & 7], 10);
    }
}

static uint64_t engine_cs_base; /* DIFF_CODE for DIFF_C16 forms (rip is then IP), else 0 */

static void engine_prepare(const struct diff_form *f)
{
    struct cpu *c = diff_cpu;
    memset(diff_bus.ram + DIFF_INSN, 0, 64);
    memcpy(diff_bus.ram + DIFF_INSN, f->bytes, f->len);
    bus_note_write(&diff_bus, DIFF_INSN, 64); /* drop anything decoded from the old bytes */
    static bool reset_done; /* a reset flushes the whole block cache: once is enough */
    if (!reset_done) {
        cpu_reset(c, &diff_bus);
        reset_done = true;
    }
    cpu_setup_flat64(c, 3);
    /* Page tables mapping exactly what the native side maps (the data page and the code page,
     * user, writable), so accesses outside them fault with #PF on both sides. */
    uint64_t pml4 = DIFF_PT, pdpt = DIFF_PT + 0x1000, pd = DIFF_PT + 0x2000, pt = DIFF_PT + 0x3000;
    memset(diff_bus.ram + DIFF_PT, 0, 0x4000);
    uint64_t *e = (uint64_t *)(diff_bus.ram + pml4);
    e[0] = pdpt | 7;
    e = (uint64_t *)(diff_bus.ram + pdpt);
    e[(DIFF_DATA >> 30) & 511] = pd | 7;
    e = (uint64_t *)(diff_bus.ram + pd);
    e[(DIFF_DATA >> 21) & 511] = pt | 7;
    e = (uint64_t *)(diff_bus.ram + pt);
    e[(DIFF_DATA >> 12) & 511] = DIFF_DATA | 7;
    e[(DIFF_CODE >> 12) & 511] = DIFF_CODE | 7;
    c->cr3 = pml4;
    c->cr0 |= CR0_PG;
    /* XSAVE enabled with every component the model offers (the host's XCR0 has them too) */
    c->cr4 |= CR4_OSXSAVE;
    c->xcr0 = diff_xcr0();
    if (f->flags & DIFF_C32) /* the host's __USER32_CS: flat 32-bit code, DPL 3 */
        c->seg[SEG_CS] = (struct segcache){DIFF_USER32_CS, 0, 0xffffffffu, 0xC0FB};
    if (f->flags & DIFF_C16) /* the LDT's 16-bit code at DIFF_CODE */
        c->seg[SEG_CS] = (struct segcache){DIFF_CODE16_SEL, DIFF_CODE, 0xffff, 0x00FB};
    engine_cs_base = c->seg[SEG_CS].base;
    cpu_mode_changed(c);
}

static void engine_capture(const struct diff_state *in, int v, struct diff_state *out)
{
    struct cpu *c = diff_cpu;
    memset(out, 0, sizeof(*out));
    memcpy(out->gpr, c->gpr, sizeof(out->gpr));
    out->rip = c->rip + engine_cs_base;
    out->rflags = flags_read(c);
    out->vector = v;
    out->undef = in->undef;
    fx_from_cpu(c, &out->fx, out->ymmh);
}

static void run_engine(const struct diff_state *in, const uint8_t *data, struct diff_state *out)
{
    struct cpu *c = diff_cpu;
    memcpy(diff_bus.ram + DIFF_DATA, data, DIFF_DATA_SIZE);
    memcpy(c->gpr, in->gpr, sizeof(c->gpr));
    c->rip = DIFF_INSN - engine_cs_base;
    flags_write(c, in->rflags);
    fx_to_cpu(c, &in->fx, in->ymmh);
    volatile int v = -1;
    if (sigsetjmp(engine_jmp, 1) == 0) {
        diff_active = DIFF_IN_ENGINE;
        for (int n = 0; n < 1 << 20; n++) {
            v = cpu_step(c, false);
            if (v >= 0 || c->rip != DIFF_INSN - engine_cs_base) break;
        }
        diff_active = 0;
    } else {
        __asm__ volatile("fnclex\n\tfxrstor64 %0" ::"m"(AREA->host_xs.fx));
        static unsigned told;
        if (told++ < 5)
            fprintf(stderr, "# diff: the engine raised host signal %d at %#llx\n", engine_signal,
                    (unsigned long long)engine_signal_rip);
        v = DIFF_VEC_HOST_SIGNAL + engine_signal;
    }
    /* The engine must give the host FPU back as it found it (control words included): a
     * guest-controlled FCW/MXCSR left behind would make the monitor's own FP code fault. */
    uint16_t fcw;
    uint32_t mxcsr;
    __asm__ volatile("fnstcw %0\n\tstmxcsr %1" : "=m"(fcw), "=m"(mxcsr));
    if (fcw != AREA->host_xs.fx.fcw || mxcsr != AREA->host_xs.fx.mxcsr) {
        static unsigned told;
        if (told++ < 5)
            fprintf(stderr, "# diff: the engine left host FCW %#x MXCSR %#x (were %#x %#x)\n", fcw,
                    mxcsr, AREA->host_xs.fx.fcw, AREA->host_xs.fx.mxcsr);
        if (v < DIFF_VEC_HOST_SIGNAL) v = DIFF_VEC_HOST_STATE;
    }
    __asm__ volatile("fnclex\n\tfxrstor64 %0" ::"m"(AREA->host_xs.fx));
    engine_capture(in, v, out);
}

/* The host faulted fetching at a branch target the engine has just branched to: take one more
 * engine step there, so both report the fault at the target. */
static void run_engine_at_target(const struct diff_state *in, struct diff_state *out)
{
    int v = cpu_step(diff_cpu, false);
    engine_capture(in, v, out);
}

bool diff_form_implemented(const struct diff_form *f)
{
    struct insn i;
    memset(&i, 0, sizeof(i));
    enum cpu_mode mode = (f->flags & DIFF_C32)   ? MODE_COMPAT32
                         : (f->flags & DIFF_C16) ? MODE_COMPAT16
                                                 : MODE_LONG64;
    if (decode_insn(&i, f->bytes, f->len, mode) != f->len) return false;
    return exec_lookup(&i) != NULL;
}

/* ---- comparison ---- */

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

static void print_state(const char *what, const struct diff_state *s)
{
    fprintf(stderr, "#   %s:", what);
    for (int r = 0; r < 16; r++)
        fprintf(stderr, "%s %s=%" PRIx64, r % 4 == 0 ? "\n#    " : "", gpr_names[r], s->gpr[r]);
    fprintf(stderr, "\n#     rflags=%" PRIx64 " rip=%" PRIx64 " vector=%d\n", s->rflags, s->rip,
            s->vector);
}

/* Returns the number of differences; prints them when `verbose`. */
static unsigned compare(const struct diff_form *f, const struct diff_state *in,
                        const uint8_t *data_in, const struct diff_state *nat,
                        const uint8_t *nat_data, const struct diff_state *emu,
                        const uint8_t *emu_data, bool verbose)
{
    unsigned n = 0;
    uint64_t fmask = ~(uint64_t)(f->undef | in->undef | F_RF);
#define DIFFER(fmt, ...)                                                                           \
    do {                                                                                           \
        n++;                                                                                       \
        if (verbose) fprintf(stderr, "#   " fmt "\n", __VA_ARGS__);                                \
    } while (0)
    if (nat->vector != emu->vector) DIFFER("vector: host %d, engine %d", nat->vector, emu->vector);
    for (int r = 0; r < 16; r++)
        if (nat->gpr[r] != emu->gpr[r])
            DIFFER("%s: host %#" PRIx64 ", engine %#" PRIx64, gpr_names[r], nat->gpr[r],
                   emu->gpr[r]);
    if (nat->rip != emu->rip)
        DIFFER("rip: host %#" PRIx64 ", engine %#" PRIx64, nat->rip, emu->rip);
    if ((nat->rflags & fmask) != (emu->rflags & fmask))
        DIFFER("rflags: host %#" PRIx64 ", engine %#" PRIx64 " (compared bits %#" PRIx64 ")",
               nat->rflags, emu->rflags, fmask & 0x3fffff);
    if (memcmp(nat_data, emu_data, DIFF_DATA_SIZE))
        for (unsigned k = 0; k < DIFF_DATA_SIZE; k++)
            if (nat_data[k] != emu_data[k]) {
                DIFFER("data[%#x]: host %02x, engine %02x (was %02x)", k, nat_data[k], emu_data[k],
                       data_in[k]);
                break;
            }
    if (f->flags & DIFF_SSE) {
        for (int r = 0; r < 16; r++)
            if (memcmp(nat->fx.xmm[r], emu->fx.xmm[r], 16)) {
                uint64_t a[2], b[2];
                memcpy(a, nat->fx.xmm[r], 16), memcpy(b, emu->fx.xmm[r], 16);
                DIFFER("xmm%d: host %016" PRIx64 "%016" PRIx64 ", engine %016" PRIx64 "%016" PRIx64,
                       r, a[1], a[0], b[1], b[0]);
            }
        for (int r = 0; r < 16; r++)
            if (memcmp(nat->ymmh[r], emu->ymmh[r], 16)) {
                uint64_t a[2], b[2];
                memcpy(a, nat->ymmh[r], 16), memcpy(b, emu->ymmh[r], 16);
                DIFFER("ymm%d[255:128]: host %016" PRIx64 "%016" PRIx64 ", engine %016" PRIx64
                       "%016" PRIx64,
                       r, a[1], a[0], b[1], b[0]);
            }
        if (nat->fx.mxcsr != emu->fx.mxcsr)
            DIFFER("mxcsr: host %#x, engine %#x", nat->fx.mxcsr, emu->fx.mxcsr);
    }
    if (f->flags & DIFF_X87) {
        if (nat->fx.fcw != emu->fx.fcw)
            DIFFER("fcw: host %#x, engine %#x", nat->fx.fcw, emu->fx.fcw);
        if (nat->fx.fsw != emu->fx.fsw)
            DIFFER("fsw: host %#x, engine %#x", nat->fx.fsw, emu->fx.fsw);
        if (nat->fx.ftw != emu->fx.ftw)
            DIFFER("ftw: host %#x, engine %#x", nat->fx.ftw, emu->fx.ftw);
        for (int k = 0; k < 8; k++)
            if ((nat->fx.ftw >> (((nat->fx.fsw >> 11) + k) & 7)) & 1)
                if (memcmp(nat->fx.st[k], emu->fx.st[k], 10)) DIFFER("st%d differs", k);
    }
#undef DIFFER
    return n;
}

static void random_state(const struct diff_form *f, struct diff_rng *r, struct diff_state *s,
                         uint8_t *data)
{
    memset(s, 0, sizeof(*s));
    for (int k = 0; k < 16; k++)
        s->gpr[k] = (f->fixed >> k) & 1
                        ? 0
                        : diff_rand_edge(r, (unsigned[]){8, 16, 32, 64}[diff_rand(r) & 3]);
    if (form_kind(f)) /* upper halves are undefined across the switch to 32/16-bit code */
        for (int k = 0; k < 16; k++)
            s->gpr[k] = (uint32_t)s->gpr[k];
    s->gpr[R_RSP] = DIFF_RSP;
    uint64_t fl = diff_rand(r) & (F_ARITH | F_DF);
    s->rflags = 0x202 | fl;
    if (f->flags & (DIFF_MEM | DIFF_MEMOFS)) {
        uint64_t off = diff_rand(r) % (DIFF_DATA_SIZE - 128) + 32;
        if (!(f->flags & DIFF_MEMOFS) || (diff_rand(r) & 1)) off &= ~15ull;
        s->gpr[f->membase] = DIFF_DATA + off;
    }
    for (unsigned k = 0; k < DIFF_DATA_SIZE; k += 8) {
        uint64_t v = diff_rand(r);
        if ((v & 31) == 0) v = diff_rand_edge(r, 64);
        memcpy(data + k, &v, 8);
    }
    s->fx.fcw = 0x37f;
    s->fx.mxcsr = 0x1f80;
    s->fx.mxcsr_mask = 0xffff;
    for (int k = 0; k < 16; k++)
        for (int b = 0; b < 16; b += 8) {
            uint64_t v = diff_rand(r);
            memcpy(&s->fx.xmm[k][b], &v, 8);
        }
    if (host_avx && diff_rand(r) % 4)
        for (int k = 0; k < 16; k++)
            for (int b = 0; b < 16; b += 8) {
                uint64_t v = diff_rand(r);
                memcpy(&s->ymmh[k][b], &v, 8);
            }
    if (f->prep) f->prep(f, s, data, r);
}

static uint64_t form_seed(const struct diff_form *f)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = f->name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    for (unsigned k = 0; k < f->len; k++)
        h = (h ^ f->bytes[k]) * 0x100000001b3ull;
    return h | 1;
}

void diff_run_form(const struct diff_form *f, unsigned cases, struct diff_result *res)
{
    static uint8_t data_in[DIFF_DATA_SIZE], nat_data[DIFF_DATA_SIZE], emu_data[DIFF_DATA_SIZE];
    memset(res, 0, sizeof(*res));
    /* Unimplemented forms run too: the engine's #UD then shows up as mismatches. */
    res->skipped = !diff_form_implemented(f);
    if (cases == 0) cases = f->cases ? f->cases : diff_default_cases();
    struct diff_rng rng = {form_seed(f)};
    place_insn(f);
    engine_prepare(f);
    unsigned printed = 0;
    struct diff_form g = *f; /* the form as run: with DIFF_IMM8, this case's immediate */
    for (unsigned k = 0; k < cases; k++) {
        struct diff_state in, nat, emu;
        if (f->flags & DIFF_IMM8) {
            g.bytes[g.len - 1] = (uint8_t)diff_rand(&rng);
            place_insn(&g);
            engine_prepare(&g);
        }
        random_state(f, &rng, &in, data_in);
        run_native(&g, &in, data_in, &nat);
        memcpy(nat_data, (void *)DIFF_DATA, DIFF_DATA_SIZE);
        run_engine(&in, data_in, &emu);
        if (nat.vector >= 0 && nat.rip != DIFF_INSN && emu.vector < 0 && emu.rip == nat.rip)
            run_engine_at_target(&in, &emu);
        memcpy(emu_data, diff_bus.ram + DIFF_DATA, DIFF_DATA_SIZE);
        vendor_fix(f, &in, data_in, &nat, nat_data, &emu, emu_data);
        approx_fix(f, &in, data_in, &nat);
        xstate_fix(f, &in, data_in, &nat, nat_data);
        res->cases++;
        if (nat.vector >= 0) res->faults++;
        if (compare(f, &in, data_in, &nat, nat_data, &emu, emu_data, false)) {
            res->mismatches++;
            if (printed < 3) {
                printed++;
                fprintf(stderr, "# MISMATCH %s [", f->name);
                for (unsigned b = 0; b < g.len; b++)
                    fprintf(stderr, "%s%02x", b ? " " : "", g.bytes[b]);
                fprintf(stderr, "] case %u\n", k);
                print_state("input", &in);
                compare(f, &in, data_in, &nat, nat_data, &emu, emu_data, true);
            }
        }
    }
}
