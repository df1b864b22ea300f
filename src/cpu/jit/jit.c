/* jit.c — the translator's per-vCPU state and its glue to the run loop: the entry trampoline,
 * the shared epilogue and indirect-branch lookup (emitted once below the code cache's floor),
 * running translated code, chaining direct exits, and the helper through which translated code
 * calls the interpreter's handler for one instruction (docs/JIT.md). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* <sys/wait.h> brings <sys/ucontext.h>'s REG_RIP; the engine's (core.h) is a different thing */
#undef REG_RIP

#include "cpu/exec/block.h"
#include "cpu/exec/exec.h" /* cur_rip: the run loop's fault accounting */
#include "jit.h"

/* Under valgrind (callgrind measures host instructions per guest instruction), a patched jump
 * must also drop valgrind's own translation of the patched bytes. A no-op otherwise. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define JIT_DISCARD(addr, len) VALGRIND_DISCARD_TRANSLATIONS(addr, len)
#else
#define JIT_DISCARD(addr, len) ((void)0)
#endif

#define CPU_OFF(f) ((int32_t)offsetof(struct cpu, f))

_Static_assert(sizeof(struct jit_ibtc) == 64, "the lookup scales the index by 64");

#define JIT_IBTC_NONE 0x8000000000000000ull /* a non-canonical rip: never looked up */

static void jit_ibtc_clear(struct jit *j)
{
    for (unsigned k = 0; k < JIT_IBTC; k++)
        j->ibtc[k] = (struct jit_ibtc){.rip = JIT_IBTC_NONE};
}

struct jit *jit_new(size_t cache_size)
{
    struct jit *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->cache = jit_cache_new(cache_size);
    if (!j->cache || !jit_glue(j)) {
        jit_free(j);
        return NULL;
    }
    const char *v = getenv("VESSEL_JIT_VERIFY");
    if (v && *v) j->verify = (unsigned)strtoul(v, NULL, 0);
    const char *d = getenv("VESSEL_JIT_DUMP");
    if (d && *d) j->dump_rip = strtoull(d, NULL, 16);
    jit_ibtc_clear(j);
    j->hot = JIT_HOT;
    const char *h = getenv("VESSEL_JIT_HOT");
    if (h && *h) j->hot = (unsigned)strtoul(h, NULL, 0);
    return j;
}

void jit_free(struct jit *j)
{
    if (!j) return;
    if (getenv("VESSEL_JIT_STATS"))
        fprintf(
            stderr,
            "jit: %llu blocks (%llu insns, %llu inline) translated, %llu entries, %llu chained, "
            "%llu ibtc fills, %llu flushes; exits: %llu at entry, %llu lookup, %llu helper; cache "
            "%zu KiB used\n",
            (unsigned long long)j->st.translated, (unsigned long long)j->st.translated_insns,
            (unsigned long long)j->st.inline_insns, (unsigned long long)j->st.entries,
            (unsigned long long)j->st.chained, (unsigned long long)j->st.ibtc_fills,
            (unsigned long long)j->st.flushes, (unsigned long long)j->st.exit_entry,
            (unsigned long long)j->st.exit_lookup, (unsigned long long)j->st.exit_helper,
            j->cache->used >> 10);
    if (getenv("VESSEL_JIT_STATS"))
        for (unsigned r = 0; r < 12; r++) {
            unsigned best = 0;
            for (unsigned op = 1; op < 0x300; op++)
                if (j->st.helper_op[op] > j->st.helper_op[best]) best = op;
            if (!j->st.helper_op[best]) break;
            fprintf(stderr, "jit: handler op %#x: %llu calls, %llu left the block\n", best,
                    (unsigned long long)j->st.helper_op[best],
                    (unsigned long long)j->st.exit_op[best]);
            j->st.helper_op[best] = 0;
        }
    if (j->verify)
        fprintf(stderr, "jit verify: %llu blocks compared, %llu divergences, %llu skipped\n",
                (unsigned long long)j->st.verify_runs, (unsigned long long)j->st.verify_bad,
                (unsigned long long)j->st.verify_skipped);
    jit_cache_free(j->cache);
    free(j);
}

void jit_flush(struct jit *j)
{
    JIT_DISCARD(j->cache->rx + j->cache->floor, j->cache->used - j->cache->floor);
    jit_cache_flush(j->cache);
    jit_ibtc_clear(j);
    j->last_exit = NULL;
    j->st.flushes++;
}

void jit_exec(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    j->last_exit = NULL;
    j->st.entries++;
    ((void (*)(struct cpu *, uintptr_t))j->enter)(c, tb->entry);
}

void jit_link(struct jit *j, struct jit_tb *tb)
{
    struct jit_exit *x = j->last_exit;
    j->last_exit = NULL;
    if (!x || x->tb->gen != j->cache->generation || tb->gen != j->cache->generation) return;
    if (x->target != tb->rip || x->tb->cpl != tb->cpl || !x->tb->block || !tb->block) return;
    /* A target that runs into a second page may only be chained from a block that depends on
     * the same page: a write there drops both. */
    if (tb->block->gpa2 != ~0ull && tb->block->gpa2 != x->tb->block->gpa2) return;
    /* A jump forward (to a higher address) may skip the target's budget and exit-request
     * checks: every cycle of chained blocks has a jump backward, which does them. (Not in the
     * verify mode, which runs one block at a time by its budget.) */
    uintptr_t to = tb->rip > x->tb->rip && !j->verify ? tb->entry + tb->body : tb->entry;
    jit_patch_rel32(jit_cache_rw(j->cache, x->field), x->field, to);
    jit_cache_touched(j->cache, x->field);
    JIT_DISCARD((void *)(x->field - 1), 5);
    j->st.chained++;
}

void jit_ibtc_fill(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    struct block *b = tb->block;
    /* a block running into a second page depends on that page's mapping too: not here */
    if (!b || b->gpa2 != ~0ull || c->mode != MODE_LONG64) return;
    struct jit_ibtc *e = &j->ibtc[jit_ibtc_index(tb->rip)];
    if (e->rip == tb->rip && e->code == tb->entry) return;
    e->rip = tb->rip;
    e->cpl = tb->cpl;
    e->gpa_page = b->gpa & ~0xfffull;
    e->tag_mask = ~(uint64_t)TLB_SLOW & (tb->cpl == 3 ? ~0ull : ~(uint64_t)TLB_KERNEL);
    e->code = tb->entry;
    j->st.ibtc_fills++;
}

void jit_ibtc_forget(struct jit *j, const struct jit_tb *tb)
{
    struct jit_ibtc *e = &j->ibtc[jit_ibtc_index(tb->rip)];
    if (e->code == tb->entry) e->rip = JIT_IBTC_NONE;
}

void jit_block_dropped(void *opaque, struct block *b)
{
    struct jit *j = opaque;
    const struct jit_tb *tb = b->jit_code;
    /* A translation from before a cache flush points at reused space; the flush emptied the
     * table then anyway. */
    if (tb->gen == j->cache->generation) jit_ibtc_forget(j, tb);
}

uint32_t jit_helper_insn(struct cpu *c, const struct insn *i, uint64_t rip, uint32_t ax,
                         struct jit_tb *tb, uint32_t retired)
{
    struct block_cache *bc = c->blocks;
    if (ax != JIT_AX_MEMORY) {
        uint64_t f = (ax >> 8) & (F_SF | F_ZF | F_AF | F_PF | F_CF);
        if (ax & 0xff) f |= F_OF;
        c->rflags = (c->rflags & ~(uint64_t)F_ARITH) | f;
        c->lf.op = FL_NONE;
    }
    c->rip = rip;
    c->next_rip = rip + i->len;
    bc->cur = tb->block; /* NULL for a single step */
    c->exec->cur_rip = tb->rip;
    bc->stop = false;
    uint64_t epoch = c->tlb.epoch;
    if (c->jit) c->jit->st.helper_op[i->op % 0x300]++;
    i->fn(c, i);
    bc->cur = NULL;
    bool leave = ((i->flags & INSN_BRANCH) && !jit_insn_stays(i)) || c->next_rip != rip + i->len ||
                 bc->stop || epoch != c->tlb.epoch;
    /* An access that reached a device may have made an interrupt deliverable. */
    if (!leave && (i->flags & INSN_MEM) && (c->rflags & F_IF) && c->intc &&
        c->intc->pending(c->intc_opaque) >= 0)
        leave = true;
    if (!leave) return 0;
    if (c->jit) {
        c->jit->st.exit_helper++;
        c->jit->st.exit_op[i->op % 0x300]++;
    }
    c->rip = c->next_rip;
    c->stats.insns += retired;
    return 1;
}

/* ---- verify mode ---- */

#define JIT_VERIFY_MEM 32

struct jit_verify_report {
    int32_t vec;
    uint32_t nmem;
    uint64_t gpr[16], rip, rflags, retired;
    struct {
        uint64_t lin;
        uint8_t ok, len;
        uint8_t bytes[16];
    } mem[JIT_VERIFY_MEM];
};

/* Read guest memory through the read TLB only: no walk, no fault, no device access. */
static bool jit_peek(struct cpu *c, uint64_t lin, uint8_t *out, unsigned n)
{
    const struct tlb_entry *e = &c->tlb.e[TLB_READ][(lin >> 12) & (TLB_ENTRIES - 1)];
    if ((e->tag & ~TLB_KERNEL) != (lin & ~0xfffull) || (lin & 0xfff) + n > 0x1000) return false;
    memcpy(out, (const void *)(uintptr_t)(lin + e->addend), n);
    return true;
}

/* Blocks whose results depend on time or devices the child would see differently. */
static bool jit_verify_skip(const struct block *b)
{
    for (unsigned k = 0; k < b->n; k++) {
        unsigned op = b->insn[k].op, sub = (b->insn[k].modrm >> 3) & 7;
        if (op == 0x131 || (op == 0x101 && b->insn[k].modrm == 0xF9) || (op == 0x1C7 && sub >= 6) ||
            (op >= 0xE4 && op <= 0xE7) || (op >= 0xEC && op <= 0xEF) || (op >= 0x6C && op <= 0x6F))
            return true;
    }
    return false;
}

/* The child: the interpreter runs `count` instructions of the block (one more if the parent
 * faulted there) from the state both started in, then reports. */
static _Noreturn void jit_verify_child(struct cpu *c, const struct block *b, int in, int out)
{
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    c->jit = NULL; /* never touch the shared code cache from here */
    uint32_t want[2] = {0, 0};
    if (read(in, want, sizeof want) != (ssize_t)sizeof want) _exit(1);
    static struct jit_verify_report r;
    memset(&r, 0, sizeof r);
    r.vec = -1;
    static volatile unsigned k;
    k = 0;
    if (_setjmp(c->fault_jmp) == 0) {
        for (k = 0; k < want[0] + (want[1] ? 1 : 0) && k < b->n; k++) {
            const struct insn *i = &b->insn[k];
            if (r.nmem < JIT_VERIFY_MEM && (i->flags & INSN_MEM)) {
                r.mem[r.nmem].lin = mmu_linear(c, i->seg, insn_ea(c, i));
                r.mem[r.nmem++].len = (uint8_t)(i->opsize > 8 ? 16 : 8);
            }
            if (r.nmem < JIT_VERIFY_MEM) { /* the stack around RSP: pushes, pops, calls */
                r.mem[r.nmem].lin = c->gpr[R_RSP] - 16;
                r.mem[r.nmem++].len = 16;
            }
            c->next_rip = c->rip + i->len;
            i->fn(c, i);
            c->rip = c->next_rip;
        }
    } else {
        r.vec = c->pending_exc;
    }
    r.retired = k;
    memcpy(r.gpr, c->gpr, sizeof r.gpr);
    r.rip = c->rip;
    r.rflags = flags_read(c);
    for (unsigned m = 0; m < r.nmem; m++)
        r.mem[m].ok = jit_peek(c, r.mem[m].lin, r.mem[m].bytes, r.mem[m].len);
    ssize_t n = write(out, &r, sizeof r);
    _exit(n == (ssize_t)sizeof r ? 0 : 1);
}

void jit_verify(struct jit *j, struct cpu *c, struct jit_tb *tb)
{
    struct block *b = tb->block;
    int to_child[2], from_child[2];
    if (jit_verify_skip(b) || pipe(to_child) != 0) {
        j->st.verify_skipped++;
        jit_exec(j, c, tb);
        return;
    }
    if (pipe(from_child) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        j->st.verify_skipped++;
        jit_exec(j, c, tb);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        jit_verify_child(c, b, to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    uint64_t rip0 = tb->rip, insns0 = c->stats.insns;
    jmp_buf saved;
    memcpy(saved, c->fault_jmp, sizeof saved);
    volatile int vec = -1;
    if (pid > 0 && _setjmp(c->fault_jmp) != 0) {
        vec = c->pending_exc;
    } else {
        j->budget_end = c->stats.insns + 1; /* this block only: the next entry leaves */
        jit_exec(j, c, tb);
    }
    memcpy(c->fault_jmp, saved, sizeof saved);
    /* instructions retired: counted by the block, or walked up to the faulting one */
    uint32_t want[2] = {(uint32_t)(c->stats.insns - insns0), vec >= 0};
    if (vec >= 0) {
        uint64_t r = rip0;
        want[0] = 0;
        while (want[0] < b->n && r != c->rip)
            r += b->insn[want[0]++].len;
    }
    struct jit_verify_report rep;
    bool got = false;
    if (pid > 0) {
        got = write(to_child[1], want, sizeof want) == (ssize_t)sizeof want &&
              read(from_child[0], &rep, sizeof rep) == (ssize_t)sizeof rep;
        waitpid(pid, NULL, 0);
    }
    close(to_child[1]);
    close(from_child[0]);
    if (!got) {
        j->st.verify_skipped++;
    } else {
        j->st.verify_runs++;
        uint64_t fmask = vec >= 0 ? F_ARITH : jit_flags_defined(b->insn, b->n);
        uint64_t fl = flags_read(c);
        char why[160] = "";
        if (rep.vec != vec)
            snprintf(why, sizeof why, "vector %d, interpreter %d", vec, rep.vec);
        else if (rep.rip != c->rip)
            snprintf(why, sizeof why, "rip %#llx, interpreter %#llx", (unsigned long long)c->rip,
                     (unsigned long long)rep.rip);
        else if ((rep.rflags ^ fl) & (fmask | F_DF | F_IF))
            snprintf(why, sizeof why, "rflags %#llx, interpreter %#llx (compared %#llx)",
                     (unsigned long long)fl, (unsigned long long)rep.rflags,
                     (unsigned long long)fmask);
        for (unsigned r = 0; r < 16 && !why[0]; r++)
            if (rep.gpr[r] != c->gpr[r])
                snprintf(why, sizeof why, "gpr %u %#llx, interpreter %#llx", r,
                         (unsigned long long)c->gpr[r], (unsigned long long)rep.gpr[r]);
        /* PUSHF stores the flags image, undefined bits included (AF after a shift...): the
         * two engines may differ there legitimately, so such blocks compare registers only */
        bool pushf = false;
        for (unsigned k = 0; k < b->n; k++)
            pushf |= b->insn[k].op == 0x9C;
        for (unsigned m = 0; m < rep.nmem && !why[0] && !pushf; m++) {
            uint8_t mine[16];
            if (rep.mem[m].ok && jit_peek(c, rep.mem[m].lin, mine, rep.mem[m].len) &&
                memcmp(mine, rep.mem[m].bytes, rep.mem[m].len) != 0)
                snprintf(why, sizeof why, "memory at %#llx", (unsigned long long)rep.mem[m].lin);
        }
        if (why[0]) {
            j->st.verify_bad++;
            fprintf(stderr, "jit verify: block at %#llx (%u insns): %s\n", (unsigned long long)rip0,
                    b->n, why);
            if (getenv("VESSEL_JIT_VERIFY_FATAL")) abort(); /* tests: a divergence fails */
        }
    }
    if (vec >= 0) _longjmp(c->fault_jmp, 1);
}
