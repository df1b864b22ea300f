/* vendor.c — vessel's vendor rules for the differential harness (see vendor.h).
 *
 * Each rule below is one place where Intel and AMD hardware give different, documented or
 * observed, results for the same instruction and input, and where vessel's virtual CPU follows
 * Intel (docs/CPU-MODEL.md). A rule has a name, the instructions it covers (recognised from the
 * decoded form, so every present and future form of those instructions is covered), and a fix
 * that turns the host's result into vessel's rule for the cases where the rule's condition
 * holds. Rules run only when the host is not vessel's model vendor (GenuineIntel); the
 * MXCSR_MASK rules run whenever the host's mask differs from vessel's, whatever its vendor.
 */
#include "vendor.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "cpu/core.h"
#include "cpu/decode/decode.h"

/* vessel's MXCSR_MASK (what FXSAVE stores and what LDMXCSR/FXRSTOR accept): Intel's. */
#define MODEL_MXCSR_MASK 0x0000ffffu

static char host_vendor[13];
static unsigned host_family, host_model;
static uint32_t host_mxcsr_mask;
static bool host_is_model;
static bool host_saves_fp_pointers; /* AMD CPUID 8000_0008 EBX[2] RstrFpErrPtrs */

enum rule_id {
    RULE_REP_RCX32,
    RULE_REPCMP_FAULT_FLAGS,
    RULE_CALL_NONCANONICAL,
    RULE_MXCSR_RESERVED,
    RULE_FXSAVE_MXCSR_MASK,
    RULE_FXSAVE_X87_POINTERS,
    RULE_SHA_ALIGN,
    RULE_COUNT
};

struct rule {
    const char *name;
    const char *why; /* the manuals' words, in short */
    unsigned cases, forms;
    const struct diff_form *last_form;
};

static struct rule rules[RULE_COUNT] = {
    [RULE_REP_RCX32] = {"rep-rcx32",
                        "REP string op with 32-bit addressing and ECX = 0: Intel writes ECX and so "
                        "zeroes RCX[63:32]; AMD leaves RCX untouched (SDM Vol 2B REP; APM Vol 3 "
                        "REP). vessel: RCX = 0"},
    [RULE_REPCMP_FAULT_FLAGS] = {"repcmp-fault-flags",
                                 "REPE/REPNE CMPS/SCAS interrupted by a fault: the SDM defines "
                                 "RCX/RSI/RDI for the restart, not RFLAGS; Intel leaves RFLAGS "
                                 "as before the instruction, AMD shows the last comparison's. "
                                 "vessel: RFLAGS unchanged"},
    [RULE_CALL_NONCANONICAL] = {"call-noncanonical",
                                "CALL r/m64 to a non-canonical target: #GP(0) at the CALL with "
                                "RSP unchanged on both (SDM Vol 2A CALL); Intel has already "
                                "stored the return address below RSP, AMD stores nothing. vessel: "
                                "the store is visible"},
    [RULE_MXCSR_RESERVED] = {"mxcsr-reserved",
                             "LDMXCSR/FXRSTOR of an MXCSR with bits outside MXCSR_MASK: #GP(0) "
                             "(SDM Vol 1 11.6.6). AMD's mask has bit 17 (MM, APM Vol 2 4.3.2), "
                             "vessel's is 0xFFFF: vessel raises #GP for it"},
    [RULE_FXSAVE_MXCSR_MASK] = {"fxsave-mxcsr-mask",
                                "FXSAVE stores the implementation's MXCSR_MASK at bytes 28-31 "
                                "(SDM Vol 1 11.6.6): vessel stores 0x0000FFFF"},
    [RULE_FXSAVE_X87_POINTERS] = {"fxsave-x87-pointers",
                                  "FXSAVE with FSW.ES = 0: AMD CPUs without CPUID "
                                  "8000_0008 EBX[2] (RstrFpErrPtrs) do not store FOP/FIP/FDP "
                                  "(APM Vol 4 FXSAVE), Intel stores them (SDM Vol 2A FXSAVE). "
                                  "vessel: stored, from the last x87 instruction"},
    [RULE_SHA_ALIGN] = {"sha-align",
                        "SHA1*/SHA256* with a 128-bit memory operand not 16-byte aligned: "
                        "#GP(0) on Intel (SDM Vol 2: exception type 4, legacy SSE); the AMD host "
                        "accepts it. vessel: #GP(0)"},
};

void vendor_init(void)
{
    static bool done;
    if (done) return;
    done = true;
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    memcpy(host_vendor, &b, 4);
    memcpy(host_vendor + 4, &d, 4);
    memcpy(host_vendor + 8, &c, 4);
    __cpuid(1, a, b, c, d);
    host_family = ((a >> 8) & 0xf) + (((a >> 8) & 0xf) == 0xf ? (a >> 20) & 0xff : 0);
    host_model = ((a >> 4) & 0xf) | ((a >> 12) & 0xf0);
    static uint8_t fx[512] __attribute__((aligned(16)));
    __asm__ volatile("fxsave64 %0" : "=m"(fx));
    memcpy(&host_mxcsr_mask, fx + 28, 4);
    if (host_mxcsr_mask == 0) host_mxcsr_mask = 0xffbf; /* SDM: zero means the default mask */
    host_is_model = !strcmp(host_vendor, "GenuineIntel");
    __cpuid(0x80000000, a, b, c, d);
    if (a >= 0x80000008) {
        __cpuid(0x80000008, a, b, c, d);
        host_saves_fp_pointers = host_is_model || (b & 4);
    } else {
        host_saves_fp_pointers = host_is_model;
    }
}

const char *vendor_host_name(void)
{
    vendor_init();
    return host_vendor;
}

bool vendor_host_is_model(void)
{
    vendor_init();
    return host_is_model && host_mxcsr_mask == MODEL_MXCSR_MASK;
}

void vendor_print_host(void)
{
    vendor_init();
    printf("# host: %s family %#x model %#x, MXCSR_MASK %#x; vessel's model: GenuineIntel, "
           "MXCSR_MASK %#x; %s\n",
           host_vendor, host_family, host_model, host_mxcsr_mask, MODEL_MXCSR_MASK,
           vendor_host_is_model() ? "no vendor rules needed"
                                  : "vendor rules rewrite the host's result where it differs");
}

static void rule_hit(enum rule_id id, const struct diff_form *f)
{
    struct rule *r = &rules[id];
    r->cases++;
    if (r->last_form != f) r->forms++, r->last_form = f;
}

void vendor_print_summary(void)
{
    for (unsigned k = 0; k < RULE_COUNT; k++)
        if (rules[k].cases)
            printf("# vendor rule %s: applied to %u cases in %u forms (%s)\n", rules[k].name,
                   rules[k].cases, rules[k].forms, rules[k].why);
}

/* Offset of the form's memory operand in the data page, or -1 if it is not inside it. */
static long mem_offset(const struct insn *i, const struct diff_state *in, unsigned len)
{
    if (!(i->flags & INSN_MEM) || i->base == REG_RIP) return -1;
    uint64_t ea = (uint64_t)(int64_t)i->disp;
    if (i->base != REG_NONE) ea += in->gpr[i->base];
    if (i->index != REG_NONE) ea += in->gpr[i->index] << i->scale;
    if (i->addrsize == 4) ea = (uint32_t)ea;
    if (ea < DIFF_DATA || ea + len > DIFF_DATA + DIFF_DATA_SIZE) return -1;
    return (long)(ea - DIFF_DATA);
}

static bool is_canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* vessel's result when an MXCSR load is refused: #GP(0) at the instruction, nothing changed. */
static void as_gp_fault(const struct diff_state *in, const uint8_t *data_in, struct diff_state *nat,
                        uint8_t *nat_data)
{
    int undef = nat->undef;
    *nat = *in;
    nat->undef = (uint32_t)undef;
    nat->vector = EXC_GP;
    nat->rip = DIFF_INSN;
    memcpy(nat_data, data_in, DIFF_DATA_SIZE);
}

static void fix_rep_string(const struct diff_form *f, const struct insn *i,
                           const struct diff_state *in, struct diff_state *nat)
{
    if (!(i->flags & (INSN_REP | INSN_REPNE))) return;
    if (i->addrsize == 4 && (uint32_t)in->gpr[R_RCX] == 0 && nat->gpr[R_RCX] >> 32) {
        nat->gpr[R_RCX] = (uint32_t)nat->gpr[R_RCX];
        rule_hit(RULE_REP_RCX32, f);
    }
    bool compares = (i->op & ~1) == 0xa6 || (i->op & ~1) == 0xae;
    if (compares && nat->vector >= 0 && ((nat->rflags ^ in->rflags) & F_ARITH)) {
        nat->rflags = (nat->rflags & ~(uint64_t)F_ARITH) | (in->rflags & F_ARITH);
        rule_hit(RULE_REPCMP_FAULT_FLAGS, f);
    }
}

static void fix_call(const struct diff_form *f, const struct insn *i, const struct diff_state *in,
                     const uint8_t *data_in, struct diff_state *nat, uint8_t *nat_data)
{
    if (nat->vector != EXC_GP || nat->rip != DIFF_INSN) return;
    uint64_t target;
    if (i->flags & INSN_MEM) {
        long off = mem_offset(i, in, 8);
        if (off < 0) return;
        memcpy(&target, data_in + off, 8);
    } else {
        target = in->gpr[i->rm];
    }
    uint64_t slot = in->gpr[R_RSP] - 8, ret = DIFF_INSN + f->len;
    if (is_canonical(target) || slot < DIFF_DATA || slot + 8 > DIFF_DATA + DIFF_DATA_SIZE) return;
    if (memcmp(nat_data + (slot - DIFF_DATA), &ret, 8)) {
        memcpy(nat_data + (slot - DIFF_DATA), &ret, 8);
        rule_hit(RULE_CALL_NONCANONICAL, f);
    }
}

static void fix_mxcsr_load(const struct diff_form *f, const struct insn *i,
                           const struct diff_state *in, const uint8_t *data_in,
                           struct diff_state *nat, uint8_t *nat_data, unsigned where)
{
    long off = mem_offset(i, in, where + 4);
    if (off < 0 || nat->vector >= 0) return;
    uint32_t v;
    memcpy(&v, data_in + off + where, 4);
    if ((v & ~MODEL_MXCSR_MASK) && !(v & ~host_mxcsr_mask)) {
        as_gp_fault(in, data_in, nat, nat_data);
        rule_hit(RULE_MXCSR_RESERVED, f);
    }
}

static void fix_fxsave(const struct diff_form *f, const struct insn *i, const struct diff_state *in,
                       struct diff_state *nat, uint8_t *nat_data, const uint8_t *emu_data)
{
    long off = mem_offset(i, in, 512);
    if (off < 0 || nat->vector >= 0) return;
    uint8_t *img = nat_data + off;
    uint32_t m = MODEL_MXCSR_MASK;
    if (memcmp(img + 28, &m, 4)) {
        memcpy(img + 28, &m, 4);
        rule_hit(RULE_FXSAVE_MXCSR_MASK, f);
    }
    /* ES set, or an AMD CPU that says it always saves them: the host stores them as vessel */
    if (host_saves_fp_pointers || (in->fx.fsw & 0x80)) return;
    uint8_t want[18];
    if (i->flags & INSN_REXW) {
        /* FXSAVE itself is not an x87 instruction: the pointers are those loaded before it */
        memcpy(want, &in->fx.fop, 2);
        memcpy(want + 2, &in->fx.fip, 8);
        memcpy(want + 10, &in->fx.fdp, 8);
    } else {
        /* the 32-bit layout mixes in FCS/FDS selectors the harness does not model: mask */
        memcpy(want, emu_data + off + 6, 18);
    }
    if (memcmp(img + 6, want, 18)) {
        memcpy(img + 6, want, 18);
        rule_hit(RULE_FXSAVE_X87_POINTERS, f);
    }
}

void vendor_fix(const struct diff_form *f, const struct diff_state *in, const uint8_t *data_in,
                struct diff_state *nat, uint8_t *nat_data, const struct diff_state *emu,
                const uint8_t *emu_data)
{
    (void)emu;
    if (vendor_host_is_model()) return;
    struct insn i;
    memset(&i, 0, sizeof(i));
    if (decode_insn(&i, f->bytes, f->len, MODE_LONG64) != f->len) return;
    unsigned digit = (i.modrm >> 3) & 7;
    bool mem = i.flags & INSN_MEM;
    if (!host_is_model) {
        if (i.op >= 0xa4 && i.op <= 0xaf && i.op != 0xa8 && i.op != 0xa9)
            fix_rep_string(f, &i, in, nat);
        if (i.op == 0xff && digit == 2) fix_call(f, &i, in, data_in, nat, nat_data);
    }
    bool sha = (i.op >= 0x2c8 && i.op <= 0x2cd) || i.op == 0x3cc;
    if (!host_is_model && sha && mem && i.mp == MP_NONE && i.base < 16 &&
        (nat->vector < 0 || nat->vector == EXC_PF)) {
        uint64_t ea = in->gpr[i.base] + (uint64_t)(int64_t)i.disp;
        if (ea & 15) {
            as_gp_fault(in, data_in, nat, nat_data);
            rule_hit(RULE_SHA_ALIGN, f);
        }
    }
    if (i.op == 0x5ae && mem && i.mp == MP_NONE && digit == 2)
        fix_mxcsr_load(f, &i, in, data_in, nat, nat_data, 0); /* vldmxcsr */
    if (i.op == 0x1ae && mem && i.mp == MP_NONE) {
        if (digit == 2) fix_mxcsr_load(f, &i, in, data_in, nat, nat_data, 0);  /* ldmxcsr */
        if (digit == 1) fix_mxcsr_load(f, &i, in, data_in, nat, nat_data, 24); /* fxrstor */
        if (digit == 0) fix_fxsave(f, &i, in, nat, nat_data, emu_data);
    }
}
