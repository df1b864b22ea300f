/* walk.c — guest virtual memory and the guest kernel's lists (introspect.h). Addresses are
 * translated through the guest's own page tables (4- or 5-level, 2 MiB and 1 GiB pages), every
 * table entry and every data page checked against RAM. The lists are the kernel's circular
 * list_heads, followed forward only (as RCU readers do, so an insertion caught half-way
 * between slices is still safe to walk); a pointer outside the kernel half, an unreadable
 * element, a repeated element or an endless list stops the walk with what was read so far. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "introspect/introspect.h"
#include "vessel/bus.h"

#define INSP_PA_MASK  0x000ffffffffff000ull
#define INSP_PTE_P    1ull
#define INSP_PTE_PS   (1ull << 7)
#define INSP_CR4_LA57 (1ull << 12)

static bool insp_read_phys64(const struct insp_guest *g, uint64_t pa, uint64_t *v)
{
    const uint8_t *p = bus_ram_ptr(g->bus, pa, 8);
    if (!p) return false;
    memcpy(v, p, 8);
    return true;
}

uint64_t insp_translate(const struct insp_guest *g, uint64_t va)
{
    int levels = (g->cr4 & INSP_CR4_LA57) ? 5 : 4;
    uint64_t table = g->cr3 & INSP_PA_MASK;
    for (int lvl = levels; lvl >= 1; lvl--) {
        unsigned shift = 12 + 9 * (unsigned)(lvl - 1);
        uint64_t e;
        if (!insp_read_phys64(g, table + ((va >> shift) & 511) * 8, &e)) return UINT64_MAX;
        if (!(e & INSP_PTE_P)) return UINT64_MAX;
        if ((lvl == 2 || lvl == 3) && (e & INSP_PTE_PS)) {
            uint64_t size = 1ull << shift;
            return ((e & INSP_PA_MASK) & ~(size - 1)) | (va & (size - 1));
        }
        table = e & INSP_PA_MASK;
    }
    return table | (va & 0xfff);
}

bool insp_read_virt(const struct insp_guest *g, uint64_t va, void *dst, size_t len)
{
    uint8_t *out = dst;
    while (len) {
        size_t chunk = 4096 - (va & 0xfff);
        if (chunk > len) chunk = len;
        uint64_t pa = insp_translate(g, va);
        const uint8_t *p = pa == UINT64_MAX ? NULL : bus_ram_ptr(g->bus, pa, chunk);
        if (!p) return false;
        memcpy(out, p, chunk);
        out += chunk;
        va += chunk;
        len -= chunk;
    }
    return true;
}

static bool insp_rd64(const struct insp_guest *g, uint64_t va, uint64_t *v)
{
    return insp_read_virt(g, va, v, 8);
}

static bool insp_rd32(const struct insp_guest *g, uint64_t va, uint32_t *v)
{
    return insp_read_virt(g, va, v, 4);
}

/* Kernel data lives in the upper half; anything else in a kernel list is garbage. */
static bool insp_kernel_ptr(uint64_t p)
{
    return p >= 0xff00000000000000ull;
}

/* The set of list elements seen, to tell a cycle from a long list. */
struct insp_seen {
    uint64_t *slot;
    size_t cap;
};

static bool insp_seen_init(struct insp_seen *s)
{
    s->cap = (size_t)INSP_MAX_ITEMS * 2;
    s->slot = calloc(s->cap, sizeof(uint64_t));
    return s->slot != NULL;
}

/* True if p was already there (p is never 0: it is a kernel pointer). */
static bool insp_seen_add(struct insp_seen *s, uint64_t p)
{
    size_t i = (size_t)((p * 0x9e3779b97f4a7c15ull) >> 40) & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == p) return true;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = p;
    return false;
}

/* Names from the guest go into JSON and terminals: anything but printable ASCII becomes '?'. */
static void insp_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) *s = '?';
}

static void insp_partial(struct insp_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void insp_partial(struct insp_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->complete = false;
}

/* ps's state letter (fs/proc/array.c task_state_array, via __task_state_index). */
static char insp_state_letter(uint32_t state, uint32_t exit_state)
{
    static const char letters[] = "RSDTtXZPI";
    uint32_t s = (state | exit_state) & 0x7f;
    if ((state & 0x402) == 0x402) s = 0x80; /* TASK_IDLE */
    if (state == 0x1000) s = 2;             /* TASK_RTLOCK_WAIT shows as D */
    int idx = 0;
    while (s) {
        idx++;
        s >>= 1;
    }
    return letters[idx];
}

/* Grow an array of n elements of size sz to hold one more; false if out of memory. */
static bool insp_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) return true;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, nc * sz);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Follow the circular list at head; for each element (the address of its list_head) call
 * fn, which returns false to stop with the reason it set. */
static void insp_walk_list(const struct insp_guest *g, uint64_t head, struct insp_report *r,
                           const char *what,
                           bool (*fn)(const struct insp_guest *g, uint64_t node, void *ctx,
                                      struct insp_report *r),
                           void *ctx)
{
    struct insp_seen seen;
    r->complete = true;
    if (!insp_seen_init(&seen)) {
        insp_partial(r, "out of memory");
        return;
    }
    uint64_t cur;
    if (!insp_rd64(g, head, &cur)) {
        insp_partial(r, "%s list head at %#llx is not readable", what, (unsigned long long)head);
        goto out;
    }
    for (size_t n = 0; cur != head; n++) {
        if (n >= INSP_MAX_ITEMS) {
            insp_partial(r, "%s list longer than %u entries", what, INSP_MAX_ITEMS);
            break;
        }
        if (!insp_kernel_ptr(cur)) {
            insp_partial(r, "%s list: garbage pointer %#llx after %zu entries", what,
                         (unsigned long long)cur, n);
            break;
        }
        if (insp_seen_add(&seen, cur)) {
            insp_partial(r, "%s list: cycle at %#llx after %zu entries (not through its head)",
                         what, (unsigned long long)cur, n);
            break;
        }
        if (!fn(g, cur, ctx, r)) break;
        if (!insp_rd64(g, cur, &cur)) {
            insp_partial(r, "%s list: entry %zu's next pointer is not readable", what, n);
            break;
        }
    }
out:
    free(seen.slot);
}

struct insp_pctx {
    const struct insp_layout *l;
    size_t cap;
};

static bool insp_one_task(const struct insp_guest *g, uint64_t node, void *ctx,
                          struct insp_report *r)
{
    struct insp_pctx *c = ctx;
    const struct insp_layout *l = c->l;
    uint64_t t = node - l->t_tasks, parent, cred;
    uint32_t tgid, ptgid, state, exit_state, uid = 0;
    char comm[INSP_COMM_LEN];
    if (!insp_rd32(g, t + l->t_tgid, &tgid) || !insp_rd64(g, t + l->t_real_parent, &parent) ||
        !insp_read_virt(g, t + l->t_comm, comm, sizeof(comm)) ||
        !insp_rd32(g, t + l->t_state, &state) || !insp_rd32(g, t + l->t_exit_state, &exit_state) ||
        !insp_rd64(g, t + l->t_cred, &cred)) {
        insp_partial(r, "task at %#llx is not readable", (unsigned long long)t);
        return false;
    }
    if (!insp_kernel_ptr(parent) || !insp_rd32(g, parent + l->t_tgid, &ptgid)) {
        insp_partial(r, "task %u's parent pointer %#llx is not readable", tgid,
                     (unsigned long long)parent);
        return false;
    }
    if (!insp_kernel_ptr(cred) || !insp_rd32(g, cred + l->c_uid, &uid)) {
        insp_partial(r, "task %u's credentials at %#llx are not readable", tgid,
                     (unsigned long long)cred);
        return false;
    }
    if (!insp_grow((void **)&r->procs, r->n, &c->cap, sizeof(*r->procs))) {
        insp_partial(r, "out of memory");
        return false;
    }
    struct insp_proc *p = &r->procs[r->n++];
    memset(p, 0, sizeof(*p));
    p->pid = (int32_t)tgid;
    p->ppid = (int32_t)ptgid;
    p->uid = uid;
    memcpy(p->comm, comm, sizeof(comm));
    p->comm[INSP_COMM_LEN] = 0;
    insp_clean(p->comm);
    p->state = insp_state_letter(state, exit_state);
    return true;
}

void insp_walk_processes(const struct insp_guest *g, const struct insp_layout *l,
                         uint64_t init_task, struct insp_report *r)
{
    struct insp_pctx c = {l, 0};
    r->what = INSP_PROCESSES;
    insp_walk_list(g, init_task + l->t_tasks, r, "task", insp_one_task, &c);
}

static bool insp_one_module(const struct insp_guest *g, uint64_t node, void *ctx,
                            struct insp_report *r)
{
    struct insp_pctx *c = ctx;
    const struct insp_layout *l = c->l;
    uint64_t m = node - l->m_list, base;
    uint32_t state, core_size, init_size = 0;
    char name[INSP_MODNAME_LEN];
    if (!insp_rd32(g, m + l->m_state, &state) ||
        !insp_read_virt(g, m + l->m_name, name, sizeof(name)) ||
        !insp_rd64(g, m + l->m_core_base, &base) || !insp_rd32(g, m + l->m_core_size, &core_size) ||
        (l->m_init_size && !insp_rd32(g, m + l->m_init_size, &init_size))) {
        insp_partial(r, "module at %#llx is not readable", (unsigned long long)m);
        return false;
    }
    if (state == 3) return true; /* MODULE_STATE_UNFORMED: not yet a module (/proc skips it) */
    if (!insp_grow((void **)&r->mods, r->n, &c->cap, sizeof(*r->mods))) {
        insp_partial(r, "out of memory");
        return false;
    }
    struct insp_module *o = &r->mods[r->n++];
    memset(o, 0, sizeof(*o));
    memcpy(o->name, name, sizeof(name));
    o->name[INSP_MODNAME_LEN] = 0;
    insp_clean(o->name);
    o->size = (uint64_t)core_size + init_size;
    o->base = base;
    return true;
}

void insp_walk_modules(const struct insp_guest *g, const struct insp_layout *l, uint64_t modules,
                       struct insp_report *r)
{
    struct insp_pctx c = {l, 0};
    r->what = INSP_MODULES;
    insp_walk_list(g, modules, r, "module", insp_one_module, &c);
}

void insp_report_free(struct insp_report *r)
{
    free(r->procs);
    free(r->mods);
    free(r->integrity);
    r->procs = NULL;
    r->mods = NULL;
    r->integrity = NULL;
    r->n = 0;
}
