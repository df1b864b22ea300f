/* test_claims.c — every decodable form has exactly one owner. Walks the decoder over all four
 * opcode maps with every combination of 66/F3/F2, REX.W and LOCK and every ModRM byte, and asks
 * each instruction family (int, sse, x87, sys) whether it claims the decoded instruction: no
 * form may be claimed by two families (the interpreter and a translator would then depend on
 * the order of the lookups), and LOCK may not change the handler (the decoder alone decides
 * whether LOCK is legal). A decodable form nobody claims is #UD, and must be in the explicit
 * list of opcodes the engine leaves #UD on purpose (the decoder knows more of the ISA than the
 * engine implements); --unclaimed lists those forms on stderr. With --table it prints the
 * opcode -> handler table a translator will use, one line per run of ModRM bytes with the same
 * owner and handler.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cpu/cpuid.h"
#include "cpu/decode/decode.h"
#include "cpu/ops/host.h"
#include "cpu/ops/ops.h"

enum { FAM_NONE, FAM_INT, FAM_SSE, FAM_X87, FAM_SYS, FAM_COUNT };
static const char *const fam_names[FAM_COUNT] = {"-", "int", "sse", "x87", "sys"};
static const char *const mp_names[4] = {"", "66 ", "f3 ", "f2 "};

/* One form: map, opcode, mandatory-prefix class, REX.W, LOCK and the ModRM byte. */
struct form {
    unsigned map, op, mp, rexw, lock, modrm;
};

/* Decode a form (followed by zero bytes for SIB, displacement and immediates). */
static int claims_decode(const struct form *f, struct insn *i)
{
    static const uint8_t mp_byte[4] = {0, 0x66, 0xf3, 0xf2};
    static const uint8_t esc[4][2] = {{0}, {0x0f}, {0x0f, 0x38}, {0x0f, 0x3a}};
    uint8_t b[32] = {0};
    unsigned n = 0;
    if (f->lock) b[n++] = 0xf0;
    if (f->mp) b[n++] = mp_byte[f->mp];
    if (f->rexw) b[n++] = 0x48;
    for (unsigned k = 0; k < (f->map == 0 ? 0u : f->map == 1 ? 1u : 2u); k++)
        b[n++] = esc[f->map][k];
    b[n++] = (uint8_t)f->op;
    b[n++] = (uint8_t)f->modrm;
    return decode_insn(i, b, sizeof b, MODE_LONG64);
}

/* Which families claim the instruction: a bit per family, and the handler of the last. */
static unsigned claims_of(const struct insn *i, insn_fn *fn)
{
    insn_fn (*const lookup[FAM_COUNT])(const struct insn *) = {NULL, int_lookup, sse_lookup,
                                                               x87_lookup, sys_lookup};
    unsigned mask = 0;
    *fn = NULL;
    for (unsigned k = 1; k < FAM_COUNT; k++) {
        insn_fn f = lookup[k](i);
        if (f) {
            mask |= 1u << k;
            *fn = f;
        }
    }
    return mask;
}

static unsigned fam_of(unsigned mask)
{
    for (unsigned k = 1; k < FAM_COUNT; k++)
        if (mask == 1u << k) return k;
    return FAM_NONE;
}

/* Opcodes the decoder knows (it must, for lengths: test_decode_zydis) but the engine leaves #UD
 * on purpose, so CPUID does not advertise them. A decodable form that no family claims must be
 * one of these: every other decodable form has exactly one owner. The list may only shrink as
 * instructions get handlers; an entry nothing hits any more fails the test too. */
static struct known_ud {
    unsigned map, op;
    const char *what;
    bool hit;
} known_ud[] = {
    {0, 0xd9, "x87 reserved encodings", false},
    {0, 0xdb, "x87 reserved encodings", false},
    {0, 0xdd, "x87 reserved encodings", false},
    {0, 0xdf, "fbld/fbstp and x87 reserved encodings", false},
    {1, 0x01, "0F 01 forms of features not offered (monitor/mwait, pku, ...)", false},
    {1, 0x33, "rdpmc", false},
    {1, 0x34, "sysenter", false},
    {1, 0x35, "sysexit", false},
    {1, 0x37, "getsec", false},
    {1, 0x78, "vmread", false},
    {1, 0x79, "vmwrite", false},
    {1, 0xaa, "rsm", false},
    {1, 0xb9, "ud1", false},
    {1, 0xc7, "group 9 forms of features not offered (rdrand, rdseed, vmx, ...)", false},
    {1, 0xff, "ud0", false},
    {2, 0x80, "invept", false},
    {2, 0x81, "invvpid", false},
    {2, 0xcf, "GFNI gf2p8mulb", false},
    {3, 0xce, "GFNI", false},
    {3, 0xcf, "GFNI", false},
};
static unsigned long n_unknown_ud;

static bool claims_known_ud(unsigned map, unsigned op)
{
    for (unsigned k = 0; k < sizeof known_ud / sizeof known_ud[0]; k++)
        if (known_ud[k].map == map && known_ud[k].op == op) {
            known_ud[k].hit = true;
            return true;
        }
    return false;
}

static unsigned long n_decoded, n_claimed[FAM_COUNT], n_unclaimed, n_multi, n_lock_differs;
static FILE *table;
static bool list_unclaimed;

static void claims_report(const struct form *f, const char *what)
{
    fprintf(stderr, "# %s: %s%s%smap %u op %02x modrm %02x\n", what, f->lock ? "f0 " : "",
            mp_names[f->mp], f->rexw ? "48 " : "", f->map, f->op, f->modrm);
}

/* Table row for ModRM bytes [first, last] of one form, all with the same owner and handler. */
static void claims_row(const struct form *f, unsigned first, unsigned last, unsigned fam,
                       insn_fn fn)
{
    if (!table || fam == FAM_NONE) return;
    /* handlers are static functions: print them as offsets from exec_lookup, which stay the
     * same from run to run of one build (PIE) */
    long off = (long)((uintptr_t)fn - (uintptr_t)exec_lookup);
    fprintf(table, "%s%s%s%s%02x  modrm %02x-%02x  %-3s exec_lookup%+ld\n", f->lock ? "f0 " : "",
            mp_names[f->mp], f->rexw ? "48 " : "",
            f->map == 0   ? ""
            : f->map == 1 ? "0f "
            : f->map == 2 ? "0f 38 "
                          : "0f 3a ",
            f->op, first, last, fam_names[fam], off);
}

static void walk_form(struct form f)
{
    unsigned run_first = 0, run_fam = FAM_NONE;
    insn_fn run_fn = NULL;
    for (unsigned m = 0; m < 256; m++) {
        f.modrm = m;
        struct insn i;
        unsigned fam = FAM_NONE;
        insn_fn fn = NULL;
        if (claims_decode(&f, &i) > 0) {
            n_decoded++;
            unsigned mask = claims_of(&i, &fn);
            fam = fam_of(mask);
            if (!mask) {
                n_unclaimed++;
                if (list_unclaimed) claims_report(&f, "unclaimed");
                if (!claims_known_ud(f.map, f.op)) {
                    n_unknown_ud++;
                    claims_report(&f, "decodes, but no family claims it and it is not a known #UD");
                }
            } else if (fam == FAM_NONE) {
                n_multi++;
                claims_report(&f, "claimed by more than one family");
            } else {
                n_claimed[fam]++;
            }
            if (f.lock) {
                struct form g = f;
                g.lock = 0;
                struct insn j;
                insn_fn gfn = NULL;
                if (claims_decode(&g, &j) > 0) claims_of(&j, &gfn);
                if (gfn != fn) {
                    n_lock_differs++;
                    claims_report(&f, "LOCK changes the handler");
                }
            }
        }
        if (m > 0 && (fam != run_fam || fn != run_fn)) {
            claims_row(&f, run_first, m - 1, run_fam, run_fn);
            run_first = m;
        }
        run_fam = fam;
        run_fn = fn;
    }
    claims_row(&f, run_first, 255, run_fam, run_fn);
}

/* Bytes that are prefixes or escapes, not opcodes: the walk reaches what follows them anyway. */
static bool claims_not_opcode(unsigned map, unsigned op)
{
    if (map == 1) return op == 0x38 || op == 0x3a;
    if (map != 0) return false;
    return op == 0x0f || op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e ||
           (op >= 0x40 && op <= 0x4f) || (op >= 0x64 && op <= 0x67) || op == 0xf0 || op == 0xf2 ||
           op == 0xf3;
}

static void test_one_owner(void)
{
    for (unsigned map = 0; map < 4; map++)
        for (unsigned op = 0; op < 256; op++)
            if (!claims_not_opcode(map, op))
                for (unsigned mp = 0; mp < 4; mp++)
                    for (unsigned w = 0; w < 2; w++)
                        for (unsigned lock = 0; lock < 2; lock++)
                            walk_form((struct form){map, op, mp, w, lock, 0});
    printf("# %lu decodable forms: int %lu, sse %lu, x87 %lu, sys %lu, unclaimed (#UD) %lu\n",
           n_decoded, n_claimed[FAM_INT], n_claimed[FAM_SSE], n_claimed[FAM_X87],
           n_claimed[FAM_SYS], n_unclaimed);
    CHECK(n_decoded > 100000);
    CHECK_EQ(n_multi, 0);
    CHECK_EQ(n_unknown_ud, 0);
    for (unsigned k = 0; k < sizeof known_ud / sizeof known_ud[0]; k++)
        if (!known_ud[k].hit)
            fprintf(stderr, "# known #UD %u/%02x (%s) is claimed now: drop it from the list\n",
                    known_ud[k].map, known_ud[k].op, known_ud[k].what);
    for (unsigned k = 0; k < sizeof known_ud / sizeof known_ud[0]; k++)
        CHECK(known_ud[k].hit);
    CHECK_EQ(n_lock_differs, 0);
    /* every family owns something (a lookup that answers NULL for everything is a bug) */
    for (unsigned k = 1; k < FAM_COUNT; k++)
        CHECK(n_claimed[k] > 0);
}

/* Every decodable VEX form (the decoder's VEX maps: AVX, AVX2, FMA, F16C, BMI1/2 and the VEX
 * forms of AES-NI/PCLMULQDQ, each with every pp, L, W and ModRM byte) has a handler, from the
 * int family (BMI) or the avx family, never both. Run where the host has every extension those
 * handlers need; elsewhere the avx family rightly refuses forms and the test is skipped. */
static void test_vex_claimed(void)
{
    const unsigned need = HOST_AVX | HOST_AVX2 | HOST_FMA | HOST_F16C | HOST_AES | HOST_PCLMUL;
    if ((host_ext() & need) != need) {
        printf("# the host lacks an AVX-class extension: VEX claims not checked\n");
        return;
    }
    uint64_t decoded = 0, unclaimed = 0, both = 0;
    for (unsigned map = 1; map <= 3; map++)
        for (unsigned op = 0; op < 256; op++)
            for (unsigned pp = 0; pp < 4; pp++)
                for (unsigned lw = 0; lw < 4; lw++)
                    for (unsigned modrm = 0; modrm < 256; modrm++) {
                        /* vvvv = 1111b, except 0001b for gathers (mask != destination) */
                        const unsigned vb = map == 2 && op >= 0x90 && op <= 0x93 ? 0x70 : 0x78;
                        const uint8_t b[16] = {0xc4,
                                               (uint8_t)(0xe0 | map),
                                               (uint8_t)((lw >> 1) << 7 | vb | (lw & 1) << 2 | pp),
                                               (uint8_t)op,
                                               (uint8_t)modrm,
                                               0x20};
                        struct insn i;
                        if (decode_insn(&i, b, sizeof b, MODE_LONG64) <= 0) continue;
                        decoded++;
                        insn_fn a = int_lookup(&i), v = avx_lookup(&i);
                        if (a && v) {
                            both++;
                            fprintf(stderr, "# VEX %u/%02x pp %u lw %u modrm %02x: two owners\n",
                                    map, op, pp, lw, modrm);
                        } else if (!a && !v) {
                            if (unclaimed++ < 20)
                                fprintf(stderr, "# VEX %u/%02x pp %u lw %u modrm %02x: unclaimed\n",
                                        map, op, pp, lw, modrm);
                        }
                    }
    printf("# VEX: %llu decodable forms, %llu unclaimed, %llu with two owners\n",
           (unsigned long long)decoded, (unsigned long long)unclaimed, (unsigned long long)both);
    CHECK(decoded > 100000);
    CHECK_EQ(unclaimed, 0);
    CHECK_EQ(both, 0);
}

int main(int argc, char **argv)
{
    /* under the model that offers the most (every extension this host has) */
    char err[256];
    if (cpuid_model_select("host", err, sizeof err) < 0) {
        fprintf(stderr, "# %s\n", err);
        return 1;
    }
    list_unclaimed = argc > 1 && !strcmp(argv[1], "--unclaimed");
    if (argc > 1 && !strcmp(argv[1], "--table")) {
        table = stdout;
        test_one_owner();
        return n_multi || n_lock_differs;
    }
    RUN(test_one_owner);
    RUN(test_vex_claimed);
    return check_done();
}
