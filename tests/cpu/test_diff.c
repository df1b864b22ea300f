/* test_diff.c — runs every form of every form table against the host CPU (one TAP line per
 * form) and, with --coverage PATH, writes the coverage report (docs/cpu-coverage.md): each
 * form, whether the engine implements it, whether it was tested and how many cases ran, and
 * the opcodes of the integer opcode space that no form exercises.
 *
 *   test_diff [--filter SUBSTRING] [--cases N] [--coverage PATH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/core.h"
#include "cpu/decode/decode.h"
#include "diff.h"
#include "vendor.h"
#include "approx.h"
#include "xstate.h"

#pragma weak forms_sse
#pragma weak forms_sse_count

struct table {
    const char *name;
    const struct diff_form *forms;
    unsigned count;
};

/* The integer opcode space (see the int family's brief): op = map << 8 | byte; sub = the
 * ModRM.reg digit for group opcodes, -1 for any; f3 = needs the F3 prefix. */
struct opc {
    uint16_t op;
    int8_t sub;
    const char *what;
};

static const struct opc int_space[] = {
#define ALU6(b, n)                                                                                 \
    {b + 0, -1, n " r/m8, r8"}, {b + 1, -1, n " r/m, r"}, {b + 2, -1, n " r8, r/m8"},              \
        {b + 3, -1, n " r, r/m"}, {b + 4, -1, n " al, imm8"},                                      \
    {                                                                                              \
        b + 5, -1, n " rAX, imm"                                                                   \
    }
    ALU6(0x00, "add"),
    ALU6(0x08, "or"),
    ALU6(0x10, "adc"),
    ALU6(0x18, "sbb"),
    ALU6(0x20, "and"),
    ALU6(0x28, "sub"),
    ALU6(0x30, "xor"),
    ALU6(0x38, "cmp"),
#define RANGE8(b, n)                                                                               \
    {b + 0, -1, n}, {b + 1, -1, n}, {b + 2, -1, n}, {b + 3, -1, n}, {b + 4, -1, n},                \
        {b + 5, -1, n}, {b + 6, -1, n},                                                            \
    {                                                                                              \
        b + 7, -1, n                                                                               \
    }
#define GROUP8(o, n)                                                                               \
    {o, 0, n "/0"}, {o, 1, n "/1"}, {o, 2, n "/2"}, {o, 3, n "/3"}, {o, 4, n "/4"},                \
        {o, 5, n "/5"}, {o, 6, n "/6"},                                                            \
    {                                                                                              \
        o, 7, n "/7"                                                                               \
    }
    RANGE8(0x50, "push r"),
    RANGE8(0x58, "pop r"),
    {0x63, -1, "movsxd"},
    {0x68, -1, "push imm32"},
    {0x69, -1, "imul r, r/m, imm32"},
    {0x6a, -1, "push imm8"},
    {0x6b, -1, "imul r, r/m, imm8"},
    RANGE8(0x70, "jcc rel8"),
    RANGE8(0x78, "jcc rel8"),
    GROUP8(0x80, "grp1 r/m8, imm8"),
    GROUP8(0x81, "grp1 r/m, imm"),
    GROUP8(0x83, "grp1 r/m, imm8"),
    {0x84, -1, "test r/m8, r8"},
    {0x85, -1, "test r/m, r"},
    {0x86, -1, "xchg r/m8, r8"},
    {0x87, -1, "xchg r/m, r"},
    {0x88, -1, "mov r/m8, r8"},
    {0x89, -1, "mov r/m, r"},
    {0x8a, -1, "mov r8, r/m8"},
    {0x8b, -1, "mov r, r/m"},
    {0x8d, -1, "lea"},
    {0x8f, 0, "pop r/m"},
    {0x90, -1, "nop / xchg"},
    {0x91, -1, "xchg"},
    {0x92, -1, "xchg"},
    {0x93, -1, "xchg"},
    {0x94, -1, "xchg"},
    {0x95, -1, "xchg"},
    {0x96, -1, "xchg"},
    {0x97, -1, "xchg"},
    {0x98, -1, "cbw/cwde/cdqe"},
    {0x99, -1, "cwd/cdq/cqo"},
    {0x9c, -1, "pushf"},
    {0x9d, -1, "popf"},
    {0x9e, -1, "sahf"},
    {0x9f, -1, "lahf"},
    {0xa0, -1, "mov al, moffs"},
    {0xa1, -1, "mov rAX, moffs"},
    {0xa2, -1, "mov moffs, al"},
    {0xa3, -1, "mov moffs, rAX"},
    {0xa4, -1, "movsb"},
    {0xa5, -1, "movs"},
    {0xa6, -1, "cmpsb"},
    {0xa7, -1, "cmps"},
    {0xa8, -1, "test al, imm8"},
    {0xa9, -1, "test rAX, imm"},
    {0xaa, -1, "stosb"},
    {0xab, -1, "stos"},
    {0xac, -1, "lodsb"},
    {0xad, -1, "lods"},
    {0xae, -1, "scasb"},
    {0xaf, -1, "scas"},
    RANGE8(0xb0, "mov r8, imm8"),
    RANGE8(0xb8, "mov r, imm"),
    GROUP8(0xc0, "shift r/m8, imm8"),
    GROUP8(0xc1, "shift r/m, imm8"),
    {0xc2, -1, "ret imm16"},
    {0xc3, -1, "ret"},
    {0xc6, 0, "mov r/m8, imm8"},
    {0xc7, 0, "mov r/m, imm"},
    {0xc8, -1, "enter"},
    {0xc9, -1, "leave"},
    GROUP8(0xd0, "shift r/m8, 1"),
    GROUP8(0xd1, "shift r/m, 1"),
    GROUP8(0xd2, "shift r/m8, cl"),
    GROUP8(0xd3, "shift r/m, cl"),
    {0xd7, -1, "xlat"},
    {0xe0, -1, "loopne"},
    {0xe1, -1, "loope"},
    {0xe2, -1, "loop"},
    {0xe3, -1, "jrcxz"},
    {0xe8, -1, "call rel32"},
    {0xe9, -1, "jmp rel32"},
    {0xeb, -1, "jmp rel8"},
    {0xf5, -1, "cmc"},
    GROUP8(0xf6, "grp3 r/m8"),
    GROUP8(0xf7, "grp3 r/m"),
    {0xf8, -1, "clc"},
    {0xf9, -1, "stc"},
    {0xfc, -1, "cld"},
    {0xfd, -1, "std"},
    {0xfe, 0, "inc r/m8"},
    {0xfe, 1, "dec r/m8"},
    {0xff, 0, "inc r/m"},
    {0xff, 1, "dec r/m"},
    {0xff, 2, "call r/m"},
    {0xff, 4, "jmp r/m"},
    {0xff, 6, "push r/m"},
    {0x10d, -1, "prefetchw"},
    RANGE8(0x118, "hint nop 0F 18-1F"),
    RANGE8(0x140, "cmovcc"),
    RANGE8(0x148, "cmovcc"),
    RANGE8(0x180, "jcc rel32"),
    RANGE8(0x188, "jcc rel32"),
    RANGE8(0x190, "setcc"),
    RANGE8(0x198, "setcc"),
    {0x1a3, -1, "bt r/m, r"},
    {0x1a4, -1, "shld imm8"},
    {0x1a5, -1, "shld cl"},
    {0x1ab, -1, "bts r/m, r"},
    {0x1ac, -1, "shrd imm8"},
    {0x1ad, -1, "shrd cl"},
    {0x1af, -1, "imul r, r/m"},
    {0x1b0, -1, "cmpxchg r/m8, r8"},
    {0x1b1, -1, "cmpxchg r/m, r"},
    {0x1b3, -1, "btr r/m, r"},
    {0x1b6, -1, "movzx r, r/m8"},
    {0x1b7, -1, "movzx r, r/m16"},
    {0x1b8, -1, "popcnt (F3)"},
    {0x1ba, 4, "bt r/m, imm8"},
    {0x1ba, 5, "bts r/m, imm8"},
    {0x1ba, 6, "btr r/m, imm8"},
    {0x1ba, 7, "btc r/m, imm8"},
    {0x1bb, -1, "btc r/m, r"},
    {0x1bc, -1, "bsf / tzcnt"},
    {0x1bd, -1, "bsr / lzcnt"},
    {0x1be, -1, "movsx r, r/m8"},
    {0x1bf, -1, "movsx r, r/m16"},
    {0x1c0, -1, "xadd r/m8, r8"},
    {0x1c1, -1, "xadd r/m, r"},
    {0x1c7, 1, "cmpxchg8b/16b"},
    RANGE8(0x1c8, "bswap"),
};

static bool opc_covered(const struct opc *o, const struct table *t, unsigned nt)
{
    for (unsigned k = 0; k < nt; k++)
        for (unsigned j = 0; j < t[k].count; j++) {
            const struct diff_form *f = &t[k].forms[j];
            struct insn i;
            memset(&i, 0, sizeof(i));
            if (f->flags & (DIFF_C32 | DIFF_C16)) continue; /* the list is of 64-bit opcodes */
            if (decode_insn(&i, f->bytes, f->len, MODE_LONG64) != f->len) continue;
            if (i.op == o->op && (o->sub < 0 || ((i.modrm >> 3) & 7) == o->sub)) return true;
        }
    return false;
}

static void write_coverage(const char *path, const struct table *t, unsigned nt,
                           struct diff_result *const *res)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        perror(tmp);
        return;
    }
    fprintf(out, "# CPU instruction coverage\n\n"
                 "Generated by `test_diff --coverage` (tests/cpu/test_diff.c): every instruction "
                 "form of the differential tests (tests/cpu/forms_*.c), whether the engine "
                 "implements it (decoder + exec_lookup claim the bytes), whether it was "
                 "differentially tested against the host CPU, the cases run and mismatches.\n\n");
    for (unsigned k = 0; k < nt; k++) {
        unsigned impl = 0, tested = 0, clean = 0;
        for (unsigned j = 0; j < t[k].count; j++) {
            impl += diff_form_implemented(&t[k].forms[j]);
            tested += res[k][j].cases > 0;
            clean += res[k][j].cases > 0 && res[k][j].mismatches == 0;
        }
        fprintf(out,
                "## %s forms\n\n%u forms, %u implemented, %u tested, %u without mismatches.\n\n",
                t[k].name, t[k].count, impl, tested, clean);
        fprintf(out, "| form | bytes | implemented | tested | cases | mismatches |\n"
                     "|---|---|---|---|---|---|\n");
        for (unsigned j = 0; j < t[k].count; j++) {
            const struct diff_form *f = &t[k].forms[j];
            fprintf(out, "| %s | `", f->name);
            for (unsigned b = 0; b < f->len; b++)
                fprintf(out, "%s%02x", b ? " " : "", f->bytes[b]);
            fprintf(out, "` | %s | %s | %u | %u |\n", diff_form_implemented(f) ? "yes" : "no",
                    res[k][j].cases ? "yes" : "no", res[k][j].cases, res[k][j].mismatches);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "## Integer opcodes without a form\n\n");
    unsigned missing = 0;
    for (unsigned k = 0; k < sizeof(int_space) / sizeof(int_space[0]); k++) {
        const struct opc *o = &int_space[k];
        if (opc_covered(o, t, nt)) continue;
        missing++;
        if (o->sub >= 0)
            fprintf(out, "- %s%02X /%d: %s\n", o->op >> 8 ? "0F " : "", o->op & 0xff, o->sub,
                    o->what);
        else
            fprintf(out, "- %s%02X: %s\n", o->op >> 8 ? "0F " : "", o->op & 0xff, o->what);
    }
    if (!missing) fprintf(out, "None.\n");
    fclose(out);
    if (rename(tmp, path) != 0) perror(path);
}

int main(int argc, char **argv)
{
    const char *filter = NULL, *coverage = NULL;
    unsigned cases = 0;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--filter") && k + 1 < argc)
            filter = argv[++k];
        else if (!strcmp(argv[k], "--cases") && k + 1 < argc)
            cases = (unsigned)strtoul(argv[++k], NULL, 0);
        else if (!strcmp(argv[k], "--coverage") && k + 1 < argc)
            coverage = argv[++k];
        else {
            fprintf(stderr, "usage: %s [--filter S] [--cases N] [--coverage PATH]\n", argv[0]);
            return 2;
        }
    }
    if (!diff_init()) {
        printf("1..0 # SKIP cannot set up the native test pages\n");
        return 0;
    }
    vendor_print_host();
    struct table t[6];
    unsigned nt = 0;
    t[nt++] = (struct table){"integer", forms_int, forms_int_count};
    const unsigned *volatile sse_count = &forms_sse_count;
    if (sse_count) t[nt++] = (struct table){"SSE/x87", forms_sse, *sse_count};
    t[nt++] = (struct table){"extension", forms_ext, forms_ext_count};
    t[nt++] = (struct table){"AVX", forms_avx, forms_avx_count};
    t[nt++] = (struct table){"32-bit code", forms_c32, forms_c32_count};
    t[nt++] = (struct table){"16-bit code", forms_c16, forms_c16_count};

    struct diff_result *res[6];
    unsigned n = 0, failed = 0;
    for (unsigned k = 0; k < nt; k++) {
        res[k] = calloc(t[k].count ? t[k].count : 1, sizeof(struct diff_result));
        if (!res[k]) return 1;
        for (unsigned j = 0; j < t[k].count; j++) {
            const struct diff_form *f = &t[k].forms[j];
            if (filter && !strstr(f->name, filter)) continue;
            struct diff_result *r = &res[k][j];
            if (((f->flags & DIFF_C32) && !diff_host_c32()) ||
                ((f->flags & DIFF_C16) && !diff_host_c16())) {
                printf("ok %u - %s # SKIP the host kernel runs no 32-bit code\n", ++n, f->name);
                continue;
            }
            diff_run_form(f, cases, r);
            bool ok = r->mismatches == 0 && r->cases > 0;
            failed += !ok;
            printf("%s %u - %s: %u cases, %u faulted, %u mismatches%s\n", ok ? "ok" : "not ok", ++n,
                   f->name, r->cases, r->faults, r->mismatches,
                   diff_form_implemented(f) ? "" : " (not implemented)");
            fflush(stdout);
        }
    }
    vendor_print_summary();
    approx_print_summary();
    xstate_print_summary();
    printf("1..%u\n", n);
    if (coverage) write_coverage(coverage, t, nt, res);
    for (unsigned k = 0; k < nt; k++)
        free(res[k]);
    return failed ? 1 : 0;
}
