/* test_introspect.c — the pieces of `vessel inspect` (src/introspect/) against made-up and
 * hostile inputs: a BTF blob built here (struct lookups through anonymous members, typedefs,
 * sizes) and every truncation and thousands of corruptions of it, plus hand-made loops
 * (typedef cycles, self-nesting, self-arrays); kallsyms tables built here, found inside junk,
 * looked up, truncated and corrupted; guest page-table walks (4 KiB and 2 MiB pages, page
 * crossings, unmapped and out-of-RAM addresses); and the task and module list walks over
 * guest RAM, whole and broken (a cycle not through the head, a garbage pointer, an unmapped
 * element) ending with a partial list and a reason. The whole listing (insp_list) runs on a
 * made-up vmlinux (ELF, .BTF, kallsyms) whose kernel is slid 42 MiB above its link address and
 * whose vCPU sits on the PTI user page tables: the slide comes from LSTAR, a static namesake of
 * `modules` that is no list head is passed over, a wrong slide and a missing .BTF are refused.
 * The integrity watch arms on the same kernel once pid 1 has exec'd (not before), finds its
 * system call table (cut at the first entry outside the text), IDT and text, reports stores
 * with their old and new bytes, accepts text_poke's (a user-half address with poking_mm's page
 * directory) but not a look-alike, reports device writes, undoes everything with block, keeps
 * the latest 256 writes, and arms again on a rebuilt machine.
 * With a real vmlinux ($VESSEL_VMLINUX or the guest cache) its BTF and kallsyms are read too. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "introspect/btf.h"
#include "introspect/integrity.h"
#include "introspect/introspect.h"
#include "introspect/ksyms.h"
#include "vessel/bus.h"
#include "vessel/cpu.h"
#include "vessel/log.h"

/* ---------------- a BTF builder ---------------- */

struct tb {
    uint8_t types[4096];
    size_t tlen;
    char strs[1024];
    size_t slen;
    uint32_t next_id;
};

static void tb_init(struct tb *b)
{
    memset(b, 0, sizeof(*b));
    b->slen = 1; /* offset 0 is the empty name */
    b->next_id = 1;
}

static uint32_t tb_str(struct tb *b, const char *s)
{
    if (!*s) return 0;
    uint32_t o = (uint32_t)b->slen;
    memcpy(b->strs + b->slen, s, strlen(s) + 1);
    b->slen += strlen(s) + 1;
    return o;
}

static void tb_u32(struct tb *b, uint32_t v)
{
    memcpy(b->types + b->tlen, &v, 4);
    b->tlen += 4;
}

static uint32_t tb_type(struct tb *b, const char *name, unsigned kind, uint32_t vlen, bool kflag,
                        uint32_t size_or_type)
{
    tb_u32(b, tb_str(b, name));
    tb_u32(b, (kind << 24) | vlen | (kflag ? 1u << 31 : 0));
    tb_u32(b, size_or_type);
    return b->next_id++;
}

static void tb_member(struct tb *b, const char *name, uint32_t type, uint32_t bit_off)
{
    tb_u32(b, tb_str(b, name));
    tb_u32(b, type);
    tb_u32(b, bit_off);
}

/* The blob: header + types + strings, in out (returns its length). */
static size_t tb_blob(const struct tb *b, uint8_t *out)
{
    uint32_t h[6] = {0x0001eB9F, 24, 0, (uint32_t)b->tlen, (uint32_t)b->tlen, (uint32_t)b->slen};
    /* magic (u16) + version 1 + flags 0 */
    memcpy(out, h, 24);
    memcpy(out + 24, b->types, b->tlen);
    memcpy(out + 24 + b->tlen, b->strs, b->slen);
    return 24 + b->tlen + b->slen;
}

enum { K_INT = 1, K_PTR = 2, K_ARRAY = 3, K_STRUCT = 4, K_UNION = 5, K_TYPEDEF = 8, K_CONST = 10 };

/* int, char, char[16], typedef pid_t, struct cred {int pad; kuid uid;}, struct task_struct
 * with a list_head, an anonymous union holding __state, pid, comm, a const pointer to cred. */
static size_t make_btf(uint8_t *out)
{
    struct tb b;
    tb_init(&b);
    uint32_t t_int = tb_type(&b, "int", K_INT, 0, false, 4);
    tb_u32(&b, 32 | (1u << 24));
    uint32_t t_char = tb_type(&b, "char", K_INT, 0, false, 1);
    tb_u32(&b, 8);
    uint32_t t_comm = tb_type(&b, "", K_ARRAY, 0, false, 0);
    tb_u32(&b, t_char), tb_u32(&b, t_int), tb_u32(&b, 16);
    uint32_t t_pid = tb_type(&b, "pid_t", K_TYPEDEF, 0, false, t_int);
    uint32_t t_kuid = tb_type(&b, "kuid_t", K_STRUCT, 1, false, 4);
    tb_member(&b, "val", t_int, 0);
    uint32_t t_cred = tb_type(&b, "cred", K_STRUCT, 2, false, 8);
    tb_member(&b, "usage", t_int, 0);
    tb_member(&b, "uid", t_kuid, 32);
    uint32_t t_cconst = tb_type(&b, "", K_CONST, 0, false, t_cred);
    uint32_t t_cptr = tb_type(&b, "", K_PTR, 0, false, t_cconst);
    uint32_t t_lh = tb_type(&b, "list_head", K_STRUCT, 0, false, 16);
    uint32_t t_anon = tb_type(&b, "", K_UNION, 2, false, 4);
    tb_member(&b, "__state", t_int, 0);
    tb_member(&b, "state_alias", t_int, 0);
    uint32_t t_task = tb_type(&b, "task_struct", K_STRUCT, 6, true, 128);
    tb_member(&b, "", t_anon, 0);
    tb_member(&b, "flags", t_int, (3u << 24) | 32); /* a 3-bit bitfield */
    tb_member(&b, "tasks", t_lh, 64 * 8);
    tb_member(&b, "pid", t_pid, 80 * 8);
    tb_member(&b, "comm", t_comm, 96 * 8);
    tb_member(&b, "cred", t_cptr, 112 * 8);
    (void)t_task;
    return tb_blob(&b, out);
}

static void test_btf_lookups(void)
{
    uint8_t blob[8192];
    size_t n = make_btf(blob);
    char why[256];
    struct btf *b = btf_parse(blob, n, why, sizeof(why));
    CHECK(b != NULL);
    if (!b) return;
    CHECK_EQ(btf_type_count(b), 11);
    uint32_t task = btf_find_struct(b, "task_struct"), cred = btf_find_struct(b, "cred");
    CHECK(task && cred);
    CHECK_EQ(btf_find_struct(b, "no_such"), 0);
    CHECK_EQ(btf_find_struct(b, "int"), 0); /* not a struct */
    uint64_t off = 99;
    uint32_t tid = 0;
    CHECK_EQ(btf_member(b, task, "tasks", &off, &tid), 0);
    CHECK_EQ(off, 64);
    CHECK_EQ(btf_type_size(b, tid), 16);
    CHECK_EQ(btf_member(b, task, "__state", &off, &tid), 0); /* through the anonymous union */
    CHECK_EQ(off, 0);
    CHECK_EQ(btf_member(b, task, "pid", &off, &tid), 0);
    CHECK_EQ(off, 80);
    CHECK_EQ(btf_type_size(b, tid), 4); /* through the typedef */
    CHECK_EQ(btf_member(b, task, "comm", &off, &tid), 0);
    CHECK_EQ(off, 96);
    CHECK_EQ(btf_type_size(b, tid), 16);
    CHECK_EQ(btf_member(b, task, "cred", &off, &tid), 0);
    CHECK(btf_is_ptr(b, tid));
    CHECK_EQ(btf_resolve(b, tid), cred); /* pointer to const struct cred */
    CHECK_EQ(btf_member(b, cred, "uid", &off, &tid), 0);
    CHECK_EQ(off, 4);
    CHECK(btf_member(b, task, "flags", &off, &tid) < 0); /* bitfields have no byte address */
    CHECK(btf_member(b, task, "nothing", &off, &tid) < 0);
    CHECK(btf_member(b, 0, "pid", &off, &tid) < 0);
    CHECK(btf_member(b, 9999, "pid", &off, &tid) < 0);
    CHECK_EQ(btf_type_size(b, 0), 0);
    CHECK_EQ(btf_type_size(b, 12345), 0);
    btf_free(b);
}

static uint32_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Whatever parses must answer every question without reading outside the blob (ASan). */
static void btf_poke(const uint8_t *blob, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1); /* exact size: any overread is an ASan error */
    memcpy(copy, blob, n);
    struct btf *b = btf_parse(copy, n, NULL, 0);
    if (b) {
        uint32_t task = btf_find_struct(b, "task_struct");
        uint64_t off;
        uint32_t tid;
        const char *names[] = {"tasks", "__state", "pid", "comm", "cred", "uid", "val"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (btf_member(b, task, names[i], &off, &tid) == 0) {
                (void)btf_type_size(b, tid);
                (void)btf_resolve(b, tid);
            }
        for (uint32_t id = 0; id <= btf_type_count(b) + 1; id++) {
            (void)btf_type_size(b, id);
            (void)btf_is_ptr(b, id);
            (void)btf_member(b, id, "uid", &off, &tid);
        }
        btf_free(b);
    }
    free(copy);
}

static void test_btf_hostile(void)
{
    uint8_t blob[8192];
    size_t n = make_btf(blob);
    for (size_t l = 0; l < n; l++)
        btf_poke(blob, l); /* every truncation */
    uint64_t s = 19;
    for (int i = 0; i < 20000; i++) {
        uint8_t m[8192];
        memcpy(m, blob, n);
        int flips = 1 + (int)(lcg(&s) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = lcg(&s) % n;
            m[at] = (lcg(&s) & 1) ? (uint8_t)lcg(&s) : m[at] ^ (uint8_t)(1u << (lcg(&s) % 8));
        }
        btf_poke(m, n);
    }
    char why[256];
    /* Header fields that overflow when added. */
    uint8_t h[64];
    memcpy(h, blob, 24);
    uint32_t big = 0xfffffff0;
    memcpy(h + 12, &big, 4);
    CHECK(btf_parse(h, sizeof(h), why, sizeof(why)) == NULL);
    memcpy(h, blob, 24);
    memcpy(h + 4, &big, 4); /* hdr_len */
    CHECK(btf_parse(h, sizeof(h), why, sizeof(why)) == NULL);
    CHECK(btf_parse(NULL, 0, why, sizeof(why)) == NULL);
    /* Strings not NUL-terminated. */
    memcpy(h, blob, n < sizeof(h) ? n : sizeof(h));
    uint8_t *t = malloc(n);
    memcpy(t, blob, n);
    t[n - 1] = 'x';
    CHECK(btf_parse(t, n, why, sizeof(why)) == NULL);
    free(t);

    /* Loops: a typedef to itself, a struct whose anonymous members are itself (twice, so a
     * depth bound alone would still take 2^depth steps), an array of itself. */
    struct tb b;
    tb_init(&b);
    uint32_t td = tb_type(&b, "loop", K_TYPEDEF, 0, false, 1);
    uint32_t st = tb_type(&b, "selfish", K_STRUCT, 3, false, 8);
    tb_member(&b, "", st, 0);
    tb_member(&b, "", st, 0);
    tb_member(&b, "", td, 0);
    uint32_t ar = tb_type(&b, "", K_ARRAY, 0, false, 0);
    tb_u32(&b, 3), tb_u32(&b, 1), tb_u32(&b, 1000);
    uint32_t huge = tb_type(&b, "", K_ARRAY, 0, false, 0);
    tb_u32(&b, 5), tb_u32(&b, 1), tb_u32(&b, 0xffffffff);
    uint8_t lb[4096];
    size_t ln = tb_blob(&b, lb);
    struct btf *lbtf = btf_parse(lb, ln, why, sizeof(why));
    CHECK(lbtf != NULL);
    uint64_t off;
    uint32_t tid;
    CHECK_EQ(btf_type_size(lbtf, td), 0);
    CHECK(btf_member(lbtf, st, "missing", &off, &tid) < 0); /* ends, by its budget */
    CHECK_EQ(btf_type_size(lbtf, ar), 0);
    (void)btf_type_size(lbtf, huge); /* no overflow trap (UBSan) */
    CHECK(!btf_is_ptr(lbtf, td));
    btf_free(lbtf);

    /* An unknown kind and a record running past the section. */
    tb_init(&b);
    tb_type(&b, "x", 31, 0, false, 0);
    ln = tb_blob(&b, lb);
    CHECK(btf_parse(lb, ln, why, sizeof(why)) == NULL);
    CHECK(strstr(why, "kind") != NULL);
    tb_init(&b);
    tb_type(&b, "x", K_STRUCT, 0xffff, false, 0);
    ln = tb_blob(&b, lb);
    CHECK(btf_parse(lb, ln, why, sizeof(why)) == NULL);
}

/* ---------------- a kallsyms builder ---------------- */

#define KS_N    300
#define KS_BASE 0xffffffff81000000ull
#define KS_JUNK 777 /* bytes of junk (with a decoy digit run) before the tables */

static void ks_name(int i, char *out)
{
    if (i == 5)
        strcpy(out, "Tentry_SYSCALL_64");
    else if (i == 100)
        strcpy(out, "Dinit_task");
    else if (i == 150)
        strcpy(out, "R__start_BTF");
    else if (i == 200 || i == 250)
        strcpy(out, "dmodules"); /* a static namesake */
    else if (i == 10)            /* for the integrity watch */
        strcpy(out, "T_stext");
    else if (i == 60)
        strcpy(out, "T_etext");
    else if (i == 120)
        strcpy(out, "Rsys_call_table");
    else if (i == 130)
        strcpy(out, "Dpoking_mm");
    else
        sprintf(out, "tsym_%d", i);
}

static uint64_t ks_addr(int i)
{
    return KS_BASE + 0x1000 + (uint64_t)i * 0x40;
}

static size_t ks_align(uint8_t *img, size_t p)
{
    while (p & 7)
        img[p++] = 0;
    return p;
}

/* A vmlinux-like image holding kallsyms tables as scripts/kallsyms writes them. */
static size_t make_kallsyms(uint8_t *img)
{
    size_t p = 0;
    for (; p < KS_JUNK; p++)
        img[p] = (uint8_t)(p * 7);
    memcpy(img + 100, "0\0001\0002\0003\0004\0005\0006\0007\0008\0009", 20); /* decoy */
    p = ks_align(img, p);
    for (int i = 0; i < KS_N; i++) { /* offsets: relative_base - 1 - off */
        int32_t off = -(int32_t)(ks_addr(i) - KS_BASE) - 1;
        memcpy(img + p, &off, 4);
        p += 4;
    }
    p = ks_align(img, p);
    uint64_t rb = KS_BASE;
    memcpy(img + p, &rb, 8);
    p += 8;
    uint64_t n = KS_N;
    memcpy(img + p, &n, 8);
    p += 8;
    size_t names = p;
    uint32_t marks[(KS_N + 255) / 256];
    for (int i = 0; i < KS_N; i++) {
        char nm[64];
        ks_name(i, nm);
        if (!(i & 255)) marks[i >> 8] = (uint32_t)(p - names);
        img[p++] = (uint8_t)strlen(nm);
        memcpy(img + p, nm, strlen(nm)); /* every byte its own single-character token */
        p += strlen(nm);
    }
    p = ks_align(img, p);
    memcpy(img + p, marks, sizeof(marks));
    p += sizeof(marks);
    p = ks_align(img, p);
    p += 3 * KS_N; /* kallsyms_seqs_of_names (not used) */
    p = ks_align(img, p);
    size_t tt = p;
    uint16_t idx[256];
    for (int c = 0; c < 256; c++) {
        idx[c] = (uint16_t)(p - tt);
        if (c == 0) { /* byte 0 is never a name byte: a pair token */
            memcpy(img + p, "zq", 3);
            p += 3;
        } else {
            img[p++] = (uint8_t)c;
            img[p++] = 0;
        }
    }
    p = ks_align(img, p);
    memcpy(img + p, idx, sizeof(idx));
    p += sizeof(idx);
    memset(img + p, 0xAA, 64);
    return p + 64;
}

static void test_ksyms(void)
{
    static uint8_t img[65536];
    size_t n = make_kallsyms(img);
    char why[256];
    struct ksyms *k = ksyms_find(img, n, why, sizeof(why));
    CHECK(k != NULL);
    if (!k) {
        fprintf(stderr, "# %s\n", why);
        return;
    }
    CHECK_EQ(ksyms_count(k), KS_N);
    uint64_t a[4];
    char ty[4];
    CHECK_EQ(ksyms_lookup(k, "entry_SYSCALL_64", a, ty, 4), 1);
    CHECK_EQ(a[0], ks_addr(5));
    CHECK_EQ(ty[0], 'T');
    CHECK_EQ(ksyms_lookup(k, "init_task", a, ty, 4), 1);
    CHECK_EQ(a[0], ks_addr(100));
    CHECK_EQ(ksyms_lookup(k, "modules", a, ty, 4), 2);
    CHECK_EQ(a[0], ks_addr(200));
    CHECK_EQ(a[1], ks_addr(250));
    CHECK_EQ(ksyms_lookup(k, "modules", a, ty, 1), 1); /* at most max */
    CHECK_EQ(ksyms_lookup(k, "sym_299", a, ty, 4), 1);
    CHECK_EQ(a[0], ks_addr(299));
    CHECK_EQ(ksyms_lookup(k, "sym_29", a, NULL, 4), 1);
    CHECK_EQ(ksyms_lookup(k, "nope", a, ty, 4), 0);
    ksyms_free(k);
}

static void test_ksyms_hostile(void)
{
    static uint8_t img[65536];
    size_t n = make_kallsyms(img);
    char why[256];
    /* Truncations (in steps: each try scans the image) and corruptions. */
    for (size_t l = 0; l < n; l += 97) {
        uint8_t *c = malloc(l ? l : 1);
        memcpy(c, img, l);
        struct ksyms *k = ksyms_find(c, l, why, sizeof(why));
        uint64_t a[2];
        if (k) ksyms_lookup(k, "init_task", a, NULL, 2);
        ksyms_free(k);
        free(c);
    }
    uint64_t s = 7;
    uint8_t *c = malloc(n);
    for (int i = 0; i < 300; i++) {
        memcpy(c, img, n);
        for (int f = 0; f < 4; f++)
            c[KS_JUNK + lcg(&s) % (n - KS_JUNK)] = (uint8_t)lcg(&s);
        struct ksyms *k = ksyms_find(c, n, why, sizeof(why));
        uint64_t a[2];
        if (k) ksyms_lookup(k, "init_task", a, NULL, 2);
        ksyms_free(k);
    }
    /* A count that does not match the markers is not believed. */
    memcpy(c, img, n);
    size_t at = (KS_JUNK + 7) / 8 * 8 + KS_N * 4;
    at = (at + 7) / 8 * 8 + 8;
    uint32_t wrong = KS_N - 1;
    memcpy(c + at, &wrong, 4);
    CHECK(ksyms_find(c, n, why, sizeof(why)) == NULL);
    free(c);
    CHECK(ksyms_find(img, 0, why, sizeof(why)) == NULL);
}

/* ---------------- guest memory: page tables and lists ---------------- */

#define G_RAM  (16ull << 20)
#define G_PML4 0x1000ull
#define G_PDPT 0x2000ull
#define G_PD   0x3000ull
#define G_PT   0x4000ull
#define G_VA   0xffffffff80000000ull /* PML4 511, PDPT 510 */
/* PD entry 0: a page table mapping G_VA.. 4 KiB pages to 0x100000.. (pages 0..255, page 7
 * left unmapped); PD entry 1: a 2 MiB page at 0x200000; PD entry 2: a 2 MiB page beyond RAM. */

static void g_pte(struct bus *b, uint64_t at, uint64_t v)
{
    memcpy(bus_ram_ptr(b, at, 8), &v, 8);
}

static void g_setup(struct bus *b, struct insp_guest *g)
{
    CHECK_EQ(bus_init(b, G_RAM), 0);
    g_pte(b, G_PML4 + 511 * 8, G_PDPT | 3);
    g_pte(b, G_PDPT + 510 * 8, G_PD | 3);
    g_pte(b, G_PD + 0 * 8, G_PT | 3);
    g_pte(b, G_PD + 1 * 8, 0x200000 | 0x83);
    g_pte(b, G_PD + 2 * 8, 0x40000000 | 0x83);
    for (uint64_t i = 0; i < 256; i++)
        if (i != 7) g_pte(b, G_PT + i * 8, (0x100000 + i * 4096) | 3);
    memset(g, 0, sizeof(*g));
    g->bus = b;
    g->cr3 = G_PML4;
}

static void test_page_walk(void)
{
    struct bus b;
    struct insp_guest g;
    g_setup(&b, &g);
    memcpy(bus_ram_ptr(&b, 0x100ff8, 16), "0123456789abcdef", 16); /* across pages 0 and 1 */
    char buf[17] = {0};
    CHECK(insp_read_virt(&g, G_VA + 0xff8, buf, 16));
    CHECK(!strcmp(buf, "0123456789abcdef"));
    memcpy(bus_ram_ptr(&b, 0x200000 + 0x12345, 4), "2mib", 4);
    CHECK(insp_read_virt(&g, G_VA + 0x200000 + 0x12345, buf, 4));
    CHECK(!memcmp(buf, "2mib", 4));
    CHECK(!insp_read_virt(&g, G_VA + 7 * 4096 + 8, buf, 4));    /* unmapped page */
    CHECK(!insp_read_virt(&g, G_VA + 6 * 4096 + 4094, buf, 4)); /* runs into it */
    CHECK(!insp_read_virt(&g, G_VA + 0x400000, buf, 4));        /* beyond RAM */
    CHECK(!insp_read_virt(&g, 0x1000, buf, 4));                 /* PML4 entry 0 empty */
    g.cr3 = G_RAM + 0x1000;                                     /* tables outside RAM */
    CHECK(!insp_read_virt(&g, G_VA, buf, 4));
    bus_destroy(&b);
}

static const struct insp_layout g_layout = {
    .t_tasks = 0x10,
    .t_pid = 0x20,
    .t_tgid = 0x24,
    .t_real_parent = 0x28,
    .t_comm = 0x30,
    .t_state = 0x40,
    .t_exit_state = 0x44,
    .t_cred = 0x48,
    .c_uid = 4,
    .m_list = 8,
    .m_name = 0x18,
    .m_state = 0,
    .m_core_base = 0x50,
    .m_core_size = 0x58,
    .m_init_size = 0x60,
};

/* Task i at G_VA + 0x1000 * (i + 1) (4 KiB-mapped pages), its cred at +0x800. */
static uint64_t g_task(int i)
{
    return G_VA + 0x1000 * (uint64_t)(i + 1);
}

static void g_w(struct bus *b, uint64_t va, const void *p, size_t n)
{
    uint64_t pa = 0x100000 + (va - G_VA);
    memcpy(bus_ram_ptr(b, pa, n), p, n);
}

static void g_w64(struct bus *b, uint64_t va, uint64_t v)
{
    g_w(b, va, &v, 8);
}

static void g_w32(struct bus *b, uint64_t va, uint32_t v)
{
    g_w(b, va, &v, 4);
}

static void g_make_task(struct bus *b, int i, uint32_t tgid, int parent, const char *comm,
                        uint32_t state, uint32_t uid, int next)
{
    uint64_t t = g_task(i);
    g_w64(b, t + g_layout.t_tasks, g_task(next) + g_layout.t_tasks);
    g_w32(b, t + g_layout.t_pid, tgid);
    g_w32(b, t + g_layout.t_tgid, tgid);
    g_w64(b, t + g_layout.t_real_parent, g_task(parent));
    char c[16] = {0};
    strncpy(c, comm, 15);
    g_w(b, t + g_layout.t_comm, c, 16);
    g_w32(b, t + g_layout.t_state, state);
    g_w32(b, t + g_layout.t_exit_state, 0);
    g_w64(b, t + g_layout.t_cred, t + 0x800);
    g_w32(b, t + 0x800 + g_layout.c_uid, uid);
}

static void test_walk_processes(void)
{
    struct bus b;
    struct insp_guest g;
    g_setup(&b, &g);
    /* init_task (0) -> init (1) -> kthreadd (2) -> sleep (3) -> back to 0 */
    g_make_task(&b, 0, 0, 0, "swapper/0", 0, 0, 1);
    g_make_task(&b, 1, 1, 0, "init", 1, 0, 2);
    g_make_task(&b, 2, 2, 0, "kworker/0:1", 0x402, 0, 3);
    g_make_task(&b, 3, 42, 1, "sleep\x01\xff", 1, 1234, 0);
    struct insp_report r = {0};
    insp_walk_processes(&g, &g_layout, g_task(0), &r);
    CHECK(r.complete);
    CHECK_EQ(r.n, 3);
    if (r.n == 3) {
        CHECK_EQ(r.procs[0].pid, 1);
        CHECK_EQ(r.procs[0].ppid, 0);
        CHECK_EQ(r.procs[0].state, 'S');
        CHECK(!strcmp(r.procs[1].comm, "kworker/0:1"));
        CHECK_EQ(r.procs[1].state, 'I');
        CHECK_EQ(r.procs[2].pid, 42);
        CHECK_EQ(r.procs[2].ppid, 1);
        CHECK_EQ(r.procs[2].uid, 1234);
        CHECK(!strcmp(r.procs[2].comm, "sleep??")); /* not printable ASCII: '?' */
    }
    insp_report_free(&r);

    /* A cycle that does not pass through the head: 3 -> 2. */
    g_w64(&b, g_task(3) + g_layout.t_tasks, g_task(2) + g_layout.t_tasks);
    insp_walk_processes(&g, &g_layout, g_task(0), &r);
    CHECK(!r.complete);
    CHECK_EQ(r.n, 3);
    CHECK(strstr(r.why, "cycle") != NULL);
    insp_report_free(&r);

    /* A user-space (garbage) pointer. */
    g_w64(&b, g_task(3) + g_layout.t_tasks, 0x4141414141414141ull);
    insp_walk_processes(&g, &g_layout, g_task(0), &r);
    CHECK(!r.complete && r.n == 3 && strstr(r.why, "garbage"));
    insp_report_free(&r);

    /* A kernel pointer into the unmapped page 7 (task 6). */
    g_w64(&b, g_task(3) + g_layout.t_tasks, g_task(6) + g_layout.t_tasks);
    insp_walk_processes(&g, &g_layout, g_task(0), &r);
    CHECK(!r.complete && r.n == 3 && strstr(r.why, "not readable"));
    insp_report_free(&r);

    /* A bad cred pointer ends the walk at that task. */
    g_w64(&b, g_task(3) + g_layout.t_tasks, g_task(0) + g_layout.t_tasks);
    g_w64(&b, g_task(2) + g_layout.t_cred, 0);
    insp_walk_processes(&g, &g_layout, g_task(0), &r);
    CHECK(!r.complete && r.n == 1 && strstr(r.why, "credentials"));
    insp_report_free(&r);

    /* A head that is not mapped at all. */
    insp_walk_processes(&g, &g_layout, G_VA + 7 * 4096, &r);
    CHECK(!r.complete && r.n == 0);
    insp_report_free(&r);

    /* A list of more than INSP_MAX_ITEMS distinct elements (in the 2 MiB page: elements 24
     * bytes apart, each its own task with shared fields left zero) is cut off. */
    uint64_t base = G_VA + 0x200000, stride = 24;
    struct insp_layout tight = g_layout;
    tight.t_tasks = 0;
    tight.t_real_parent = 8;
    tight.t_cred = 16;
    tight.t_pid = tight.t_tgid = tight.t_comm = tight.t_state = tight.t_exit_state = 0;
    uint8_t *ram = bus_ram_ptr(&b, 0x200000, 0x200000);
    for (uint64_t i = 0; i < 0x200000 / stride - 1; i++) {
        uint64_t node = base + i * stride, next = node + stride, parent = base, cred = base;
        memcpy(ram + i * stride, &next, 8);
        memcpy(ram + i * stride + 8, &parent, 8);
        memcpy(ram + i * stride + 16, &cred, 8);
    }
    insp_walk_processes(&g, &tight, base, &r);
    CHECK(!r.complete);
    CHECK_EQ(r.n, INSP_MAX_ITEMS);
    CHECK(strstr(r.why, "longer") != NULL);
    insp_report_free(&r);
    bus_destroy(&b);
}

static void test_walk_modules(void)
{
    struct bus b;
    struct insp_guest g;
    g_setup(&b, &g);
    uint64_t head = G_VA + 0x100, m1 = G_VA + 0x1000, m2 = G_VA + 0x2000, m3 = G_VA + 0x3000;
    g_w64(&b, head, m1 + g_layout.m_list);
    const struct {
        uint64_t m, next;
        const char *name;
        uint32_t state, size, init;
    } mods[] = {{m1, m2, "virtio_net", 0, 73728, 0},
                {m2, m3, "forming", 3, 1, 1}, /* MODULE_STATE_UNFORMED: skipped */
                {m3, head, "loading", 1, 4096, 8192}};
    for (int i = 0; i < 3; i++) {
        uint64_t m = mods[i].m;
        g_w64(&b, m + g_layout.m_list, mods[i].next == head ? head : mods[i].next + 8);
        g_w32(&b, m + g_layout.m_state, mods[i].state);
        char nm[56] = {0};
        strcpy(nm, mods[i].name);
        g_w(&b, m + g_layout.m_name, nm, 56);
        g_w64(&b, m + g_layout.m_core_base, 0xffffffffc0000000ull + (uint64_t)i * 0x10000);
        g_w32(&b, m + g_layout.m_core_size, mods[i].size);
        g_w32(&b, m + g_layout.m_init_size, mods[i].init);
    }
    struct insp_report r = {0};
    insp_walk_modules(&g, &g_layout, head, &r);
    CHECK(r.complete);
    CHECK_EQ(r.n, 2);
    if (r.n == 2) {
        CHECK(!strcmp(r.mods[0].name, "virtio_net"));
        CHECK_EQ(r.mods[0].size, 73728);
        CHECK_EQ(r.mods[0].base, 0xffffffffc0000000ull);
        CHECK(!strcmp(r.mods[1].name, "loading"));
        CHECK_EQ(r.mods[1].size, 4096 + 8192);
    }
    insp_report_free(&r);
    /* The last module points back at the first: a cycle. */
    g_w64(&b, m3 + g_layout.m_list, m1 + g_layout.m_list);
    insp_walk_modules(&g, &g_layout, head, &r);
    CHECK(!r.complete && r.n == 2 && strstr(r.why, "cycle"));
    insp_report_free(&r);
    bus_destroy(&b);
}

/* ---------------- the whole listing: a made-up vmlinux, a slid kernel ---------------- */

#define E_SLIDE 0x2a00000ull /* the made-up kernel runs this far above its link address */
#define E_PHYS  0x600000ull  /* where KS_BASE + E_SLIDE.. (a 2 MiB page) sits in RAM */
#define E_PML4  0x8000ull    /* 8 KiB-aligned, the user copy (empty) at 0x9000, as with PTI */

/* BTF for the walks: offsets as struct insp_layout's g_layout, module_layout {base; size}. */
static size_t make_kernel_btf(uint8_t *out)
{
    struct tb b;
    tb_init(&b);
    uint32_t i = tb_type(&b, "int", K_INT, 0, false, 4);
    tb_u32(&b, 32);
    uint32_t ml = tb_type(&b, "module_layout", K_STRUCT, 2, false, 16);
    tb_member(&b, "base", i, 0);
    tb_member(&b, "size", i, 64);
    tb_type(&b, "cred", K_STRUCT, 1, false, 8);
    tb_member(&b, "uid", i, 32);
    tb_type(&b, "task_struct", K_STRUCT, 8, false, 0x100);
    tb_member(&b, "tasks", i, 0x10 * 8);
    tb_member(&b, "pid", i, 0x20 * 8);
    tb_member(&b, "tgid", i, 0x24 * 8);
    tb_member(&b, "real_parent", i, 0x28 * 8);
    tb_member(&b, "comm", i, 0x30 * 8);
    tb_member(&b, "__state", i, 0x40 * 8);
    tb_member(&b, "exit_state", i, 0x44 * 8);
    tb_member(&b, "cred", i, 0x48 * 8);
    tb_type(&b, "module", K_STRUCT, 5, false, 0x100);
    tb_member(&b, "state", i, 0);
    tb_member(&b, "list", i, 8 * 8);
    tb_member(&b, "name", i, 0x18 * 8);
    tb_member(&b, "core_layout", ml, 0x50 * 8);
    tb_member(&b, "init_layout", ml, 0x60 * 8);
    tb_type(&b, "mm_struct", K_STRUCT, 1, false, 0x100);
    tb_member(&b, "pgd", i, 0x50 * 8);
    return tb_blob(&b, out);
}

static void e_sh(uint8_t *sh, uint32_t name, uint32_t type, uint64_t off, uint64_t size)
{
    memset(sh, 0, 64);
    memcpy(sh, &name, 4);
    memcpy(sh + 4, &type, 4);
    memcpy(sh + 0x18, &off, 8);
    memcpy(sh + 0x20, &size, 8);
}

/* An ELF file: .shstrtab, .BTF, and the kallsyms tables in a .rodata. */
static void make_vmlinux(const char *path, bool with_btf)
{
    static uint8_t img[1 << 17];
    memset(img, 0, sizeof(img));
    memcpy(img, "\177ELF\2\1\1", 7);
    static const char shstr[] = "\0.shstrtab\0.BTF\0.rodata";
    memcpy(img + 0x40, shstr, sizeof(shstr));
    size_t btf_len = make_kernel_btf(img + 0x100);
    size_t ro = (0x100 + btf_len + 4095) & ~(size_t)4095;
    size_t ro_len = make_kallsyms(img + ro);
    size_t shoff = (ro + ro_len + 63) & ~(size_t)63;
    e_sh(img + shoff, 0, 0, 0, 0);
    e_sh(img + shoff + 64, 1, 3, 0x40, sizeof(shstr));
    e_sh(img + shoff + 128, with_btf ? 11 : 16, 1, 0x100, btf_len);
    e_sh(img + shoff + 192, 16, 1, ro, ro_len);
    uint64_t so = shoff;
    uint16_t ent = 64, num = 4, strndx = 1;
    memcpy(img + 0x28, &so, 8);
    memcpy(img + 0x3a, &ent, 2);
    memcpy(img + 0x3c, &num, 2);
    memcpy(img + 0x3e, &strndx, 2);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(img, 1, shoff + 256, f);
    fclose(f);
}

static uint64_t e_va(uint64_t link)
{
    return link + E_SLIDE;
}

static void e_w(struct bus *b, uint64_t va, const void *p, size_t n)
{
    memcpy(bus_ram_ptr(b, E_PHYS + (va - e_va(KS_BASE)), n), p, n);
}

static void e_w64(struct bus *b, uint64_t va, uint64_t v)
{
    e_w(b, va, &v, 8);
}

static void e_w32(struct bus *b, uint64_t va, uint32_t v)
{
    e_w(b, va, &v, 4);
}

/* The made-up kernel's memory: page tables (the vCPU on the PTI user copy), init_task and
 * pid 1 (comm `init1`), the module list with its decoy, the in-memory BTF. */
static void e_kernel(struct bus *bp, struct insp_guest *g, const char *init1)
{
    g_setup(bp, g);
    /* A kernel PGD at E_PML4 sharing the kernel half; the vCPU is on the user copy. */
    g_pte(bp, E_PML4 + 511 * 8, G_PDPT | 3);
    uint64_t pd_index = (e_va(KS_BASE) - G_VA) >> 21;
    g_pte(bp, G_PD + pd_index * 8, E_PHYS | 0x83);
    g->cr3 = (E_PML4 + 0x1000) | 5; /* user PGD, PCID 5 */
    g->lstar = e_va(ks_addr(5));

    uint64_t init = e_va(ks_addr(100)), t1 = e_va(KS_BASE) + 0x10000;
    char c[16] = "swapper/0";
    e_w(bp, init + 0x30, c, 16);
    e_w64(bp, init + 0x10, t1 + 0x10);
    e_w32(bp, t1 + 0x24, 1);
    e_w64(bp, t1 + 0x28, init);
    snprintf(c, sizeof(c), "%s", init1);
    e_w(bp, t1 + 0x30, c, 16);
    e_w32(bp, t1 + 0x40, 1);
    e_w64(bp, t1 + 0x48, t1 + 0x800);
    e_w64(bp, t1 + 0x10, init + 0x10);
    /* The first `modules` is a namesake that is not a list head; the second is. */
    uint64_t decoy = e_va(ks_addr(200)), head = e_va(ks_addr(250)), m = e_va(KS_BASE) + 0x20000;
    e_w64(bp, decoy, 0xffffffff00000000ull);
    e_w64(bp, head, m + 8);
    e_w64(bp, head + 8, m + 8);
    e_w64(bp, m + 8, head);
    e_w64(bp, m + 16, head);
    char nm[56] = "virtio_rng";
    e_w(bp, m + 0x18, nm, 56);
    e_w64(bp, m + 0x50, 0xffffffffc0262000ull);
    e_w32(bp, m + 0x58, 16384);

    /* The kernel's copy of its BTF, as the running kernel keeps it. */
    uint8_t btf[4096];
    size_t btf_len = make_kernel_btf(btf);
    CHECK(ks_addr(150) + btf_len < ks_addr(200));
    e_w(bp, e_va(ks_addr(150)), btf, btf_len);
}

static void test_list_slid_kernel(void)
{
    char dir[] = "/tmp/vessel-insp-XXXXXX", path[64], nobtf[64], junk[64], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/vmlinux", dir);
    snprintf(nobtf, sizeof(nobtf), "%s/vmlinux-nobtf", dir);
    snprintf(junk, sizeof(junk), "%s/junk", dir);
    make_vmlinux(path, true);
    make_vmlinux(nobtf, false);
    FILE *f = fopen(junk, "wb");
    fputs("not a kernel", f);
    fclose(f);

    struct bus b;
    struct insp_guest g;
    e_kernel(&b, &g, "init");
    struct insp_report r;
    CHECK_EQ(insp_list(path, &g, INSP_PROCESSES, &r, err, sizeof(err)), 0);
    CHECK_EQ(r.slide, E_SLIDE);
    CHECK(r.complete);
    CHECK_EQ(r.n, 1);
    if (r.n == 1) {
        CHECK_EQ(r.procs[0].pid, 1);
        CHECK_EQ(r.procs[0].ppid, 0);
        CHECK(!strcmp(r.procs[0].comm, "init"));
        CHECK_EQ(r.procs[0].state, 'S');
    }
    insp_report_free(&r);
    CHECK_EQ(insp_list(path, &g, INSP_MODULES, &r, err, sizeof(err)), 0);
    CHECK(r.complete && r.n == 1);
    if (r.n == 1) {
        CHECK(!strcmp(r.mods[0].name, "virtio_rng"));
        CHECK_EQ(r.mods[0].size, 16384);
        CHECK_EQ(r.mods[0].base, 0xffffffffc0262000ull);
    }
    insp_report_free(&r);

    /* Another kernel's BTF in memory: refused. */
    uint8_t btf[4096];
    size_t btf_len = make_kernel_btf(btf);
    e_w(&b, e_va(ks_addr(150)) + btf_len - 1, "\x55", 1);
    CHECK(insp_list(path, &g, INSP_MODULES, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "BTF is not") != NULL);
    e_w(&b, e_va(ks_addr(150)), btf, btf_len);
    /* A slide that does not land on "swapper": refused, naming the slide. */
    g.lstar += 0x1000;
    CHECK(insp_list(path, &g, INSP_PROCESSES, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "init_task is not at") != NULL);
    g.lstar = 0; /* before the kernel set up system calls */
    CHECK(insp_list(path, &g, INSP_PROCESSES, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "LSTAR") != NULL);
    g.lstar = e_va(ks_addr(5));
    CHECK(insp_list(nobtf, &g, INSP_PROCESSES, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, ".BTF") != NULL);
    CHECK(insp_list(junk, &g, INSP_PROCESSES, &r, err, sizeof(err)) < 0);
    CHECK(insp_list("/nonexistent/vmlinux", &g, INSP_PROCESSES, &r, err, sizeof(err)) < 0);
    CHECK(strstr(err, "no guest kernel image") != NULL);
    insp_forget();
    unlink(path);
    unlink(nobtf);
    unlink(junk);
    rmdir(dir);
    bus_destroy(&b);
}

/* ---------------- the integrity watch on the made-up kernel ---------------- */

#define I_TABLE  (e_va(ks_addr(120)))
#define I_IDT    (e_va(KS_BASE) + 0x40000)
#define I_MM     (e_va(KS_BASE) + 0x30000)
#define I_POKE   (E_PHYS + 0x31000) /* poking_mm's page directory */
#define I_TEXT   (e_va(ks_addr(10)))
#define I_TEXT_N (ks_addr(60) - ks_addr(10))

static uint64_t i_pa(uint64_t va)
{
    return E_PHYS + (va - e_va(KS_BASE));
}

static struct integ_status *i_last; /* the latest status taken, freed by the next */

static struct integ_status *i_status(struct bus *b)
{
    free(i_last);
    i_last = integ_status_take(b);
    CHECK(i_last != NULL);
    return i_last;
}

/* Poll as the loop would, a slice 200 ms apart, until armed (the image is read on a thread). */
static bool i_arm(struct bus *b, struct vcpu *v, uint64_t *now)
{
    for (int i = 0; i < 2000; i++) {
        integ_poll(b, v, *now += 200000000ull);
        if (i_status(b)->armed) return true;
        usleep(1000);
    }
    return false;
}

/* A CPU store of 8 bytes as the MMU's slow path makes it. */
static void i_store(struct bus *b, uint64_t va, uint64_t lin, uint64_t v, uint64_t rip,
                    uint64_t cr3)
{
    e_w64(b, va, v);
    struct bus_writer w = {.rip = rip, .lin = lin, .cr3 = cr3, .cpl = 0};
    bus_note_write_by(b, i_pa(va), 8, &w);
}

static uint64_t i_r64(struct bus *b, uint64_t va)
{
    uint64_t v;
    memcpy(&v, bus_ram_ptr(b, i_pa(va), 8), 8);
    return v;
}

static void test_integrity_watch(void)
{
    char dir[] = "/tmp/vessel-integ-XXXXXX", path[64], err[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/vmlinux", dir);
    make_vmlinux(path, true);
    char *env = getenv("VESSEL_VMLINUX") ? strdup(getenv("VESSEL_VMLINUX")) : NULL;
    unsetenv("VESSEL_VMLINUX");

    struct bus b;
    struct insp_guest g;
    e_kernel(&b, &g, "swapper/0"); /* pid 1 has not exec'd yet */
    /* sys_call_table: 6 entries into text, then one that is not (the table ends there) */
    for (int k = 0; k < 8; k++)
        e_w64(&b, I_TABLE + 8 * k, k < 6 ? e_va(ks_addr(20 + k)) : 0x1234);
    e_w64(&b, e_va(ks_addr(130)), I_MM);
    e_w64(&b, I_MM + 0x50, e_va(KS_BASE) + 0x31000);
    struct vcpu *v = vcpu_create(&b, 0);
    struct vcpu_sregs sr;
    vcpu_get_sregs(v, &sr);
    sr.cr3 = g.cr3 & ~0xfffull;
    sr.idt_base = I_IDT;
    sr.idt_limit = 0xfff;
    vcpu_set_sregs(v, &sr);
    CHECK(vcpu_set_msr(v, 0xc0000082u, g.lstar));

    enum log_level saved = log_threshold;
    log_threshold = LOG_ERROR; /* each write is a warning: not on the test's output */
    CHECK_EQ(integ_parse_policy("report", err, sizeof(err)), 0);
    integ_prepare(path);
    uint64_t now = 0;
    for (int i = 0; i < 50; i++) {
        integ_poll(&b, v, now += 200000000ull);
        usleep(2000);
    }
    struct integ_status *s = i_status(&b);
    CHECK(!s->armed);
    CHECK(strstr(s->state, "finish booting") != NULL);
    char c[16] = "init";
    e_w(&b, e_va(KS_BASE) + 0x10000 + 0x30, c, 16); /* pid 1 exec'd */
    CHECK(i_arm(&b, v, &now));
    s = i_status(&b);
    CHECK_EQ(s->policy, INTEG_REPORT);
    CHECK_EQ(s->nranges, 3);
    CHECK(!strcmp(s->ranges[0].name, "sys_call_table") && s->ranges[0].va == I_TABLE &&
          s->ranges[0].len == 48);
    CHECK(!strcmp(s->ranges[1].name, "idt") && s->ranges[1].va == I_IDT &&
          s->ranges[1].len == 4096);
    CHECK(!strcmp(s->ranges[2].name, "kernel_text") && s->ranges[2].va == I_TEXT &&
          s->ranges[2].len == I_TEXT_N);
    CHECK(b.page_flags[i_pa(I_TABLE) >> 12] & BUS_PAGE_WATCH);
    CHECK(b.page_flags[i_pa(I_IDT) >> 12] & BUS_PAGE_WATCH);
    CHECK(b.watch_fn != NULL);
    CHECK_EQ(s->poking_pgd, I_POKE);

    /* a rootkit's store into the table, through the kernel's own mapping: reported */
    uint64_t before = i_r64(&b, I_TABLE + 8), evil = 0xffffffffc0001230ull;
    i_store(&b, I_TABLE + 8, I_TABLE + 8, evil, 0xffffffffc0001000ull, E_PML4);
    s = i_status(&b);
    CHECK_EQ(s->writes, 1);
    CHECK_EQ(s->nevents, 1);
    struct integ_event *e = &s->events[0];
    CHECK(!strcmp(e->range, "sys_call_table") && e->offset == 8 && e->va == I_TABLE + 8);
    CHECK(e->gpa == i_pa(I_TABLE + 8) && e->lin == I_TABLE + 8 && e->len == 8);
    CHECK(e->cpu && e->rip == 0xffffffffc0001000ull && !e->blocked);
    CHECK(!memcmp(e->old, &before, 8) && !memcmp(e->new_, &evil, 8));
    CHECK(s->ranges[0].modified > 0 && s->ranges[0].writes == 1);
    CHECK_EQ(i_r64(&b, I_TABLE + 8), evil);
    /* a second store there: its old bytes are the first one's new ones */
    i_store(&b, I_TABLE + 8, I_TABLE + 8, evil + 16, 0xffffffffc0001000ull, E_PML4);
    s = i_status(&b);
    CHECK(s->nevents == 2 && !memcmp(s->events[1].old, &evil, 8));

    /* text_poke: through poking_mm's user-half mapping, accepted, the text's new contents */
    i_store(&b, I_TEXT + 0x100, 0x7f0000001100ull, 0x9090909090909090ull, I_TEXT + 8, I_POKE);
    s = i_status(&b);
    CHECK_EQ(s->writes, 2);
    CHECK_EQ(s->kernel_patches, 1);
    CHECK_EQ(s->ranges[2].modified, 0);
    /* a user-half address in another address space, or the text's own address: reported */
    i_store(&b, I_TEXT + 0x108, 0x7f0000001108ull, 1, I_TEXT + 8, E_PML4);
    i_store(&b, I_TEXT + 0x110, I_TEXT + 0x110, 2, I_TEXT + 8, I_POKE);
    s = i_status(&b);
    CHECK_EQ(s->writes, 4);
    CHECK_EQ(s->kernel_patches, 1);
    /* a device writing the IDT; a write beside the watched bytes on a watched page */
    uint8_t junk[4] = {1, 2, 3, 4};
    CHECK(bus_dma_write(&b, i_pa(I_IDT) + 16, junk, 4));
    CHECK(bus_dma_write(&b, i_pa(I_TABLE) - 64, junk, 4));
    s = i_status(&b);
    CHECK_EQ(s->writes, 5);
    CHECK(!s->events[4].cpu && !strcmp(s->events[4].range, "idt") && s->events[4].offset == 16);
    CHECK_EQ(s->page_writes, 1);

    /* block: the table stays as it was, whoever writes */
    CHECK_EQ(integ_parse_policy("block", err, sizeof(err)), 0);
    uint64_t t3 = i_r64(&b, I_TABLE + 24);
    i_store(&b, I_TABLE + 24, 0xffff888002000018ull, evil, 0xffffffffc0001004ull, E_PML4);
    CHECK_EQ(i_r64(&b, I_TABLE + 24), t3);
    s = i_status(&b);
    CHECK(s->events[s->nevents - 1].blocked);
    CHECK_EQ(s->events[s->nevents - 1].lin, 0xffff888002000018ull);
    uint8_t idt0[4];
    memcpy(idt0, bus_ram_ptr(&b, i_pa(I_IDT), 4), 4);
    CHECK(bus_dma_write(&b, i_pa(I_IDT), junk, 4));
    CHECK(!memcmp(bus_ram_ptr(&b, i_pa(I_IDT), 4), idt0, 4));
    /* many writes: the latest 256 are kept, all counted */
    for (int k = 0; k < 300; k++)
        i_store(&b, I_TABLE, I_TABLE, (uint64_t)k, 0xffffffffc0001008ull, E_PML4);
    s = i_status(&b);
    CHECK_EQ(s->writes, 307);
    CHECK_EQ(s->nevents, INTEG_MAX_EVENTS);
    CHECK_EQ(s->events[0].seq, 307 - INTEG_MAX_EVENTS + 1);
    CHECK_EQ(s->events[INTEG_MAX_EVENTS - 1].seq, 307);

    /* a rebuilt machine (a fresh bus has no watcher): the watch arms again */
    bus_set_write_watch(&b, NULL, NULL);
    s = i_status(&b);
    CHECK(!s->armed);
    CHECK(i_arm(&b, v, &now));
    s = i_status(&b);
    CHECK_EQ(s->writes, 0);
    CHECK_EQ(s->ranges[0].modified, 0); /* armed on what is there now */

    integ_reset();
    CHECK(b.watch_fn == NULL);
    CHECK_EQ(b.page_flags[i_pa(I_TABLE) >> 12] & BUS_PAGE_WATCH, 0);
    CHECK_EQ(integ_parse_policy("off", err, sizeof(err)), 0);
    s = i_status(&b);
    CHECK(s->policy == INTEG_OFF && !s->armed && s->nranges == 0);
    free(i_last);
    i_last = NULL;
    log_threshold = saved;
    vcpu_destroy(v);
    bus_destroy(&b);
    insp_forget();
    if (env) setenv("VESSEL_VMLINUX", env, 1);
    free(env);
    unlink(path);
    rmdir(dir);
}

/* ---------------- the real kernel, when there is one ---------------- */

static void test_real_vmlinux(void)
{
    const char *env = getenv("VESSEL_VMLINUX"), *cache = getenv("VESSEL_CACHE");
    const char *home = getenv("HOME");
    char path[4096];
    if (env && *env)
        snprintf(path, sizeof(path), "%s", env);
    else if (cache && *cache)
        snprintf(path, sizeof(path), "%s/guest/vmlinux", cache);
    else
        snprintf(path, sizeof(path), "%s/.cache/vessel/guest/vmlinux", home ? home : "");
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        printf("# no vmlinux at %s: skipping the real-kernel checks\n", path);
        if (fd >= 0) close(fd);
        return;
    }
    uint8_t *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    CHECK(img != MAP_FAILED);
    if (img == MAP_FAILED) return;
    char why[256];
    struct ksyms *k = ksyms_find(img, (size_t)st.st_size, why, sizeof(why));
    CHECK(k != NULL);
    uint64_t a[4];
    CHECK_EQ(ksyms_lookup(k, "entry_SYSCALL_64", a, NULL, 4), 1);
    CHECK_EQ(ksyms_lookup(k, "init_task", a, NULL, 4), 1);
    CHECK(ksyms_lookup(k, "modules", a, NULL, 4) >= 1);
    ksyms_free(k);
    /* The .BTF section, found the simple way (the monitor's ELF walk is in kernel.c). */
    const uint8_t *btf = memmem(img, (size_t)st.st_size, "\x9f\xeb\x01\x00\x18\x00\x00\x00", 8);
    CHECK(btf != NULL);
    if (btf) {
        struct btf *b = btf_parse(btf, (size_t)st.st_size - (size_t)(btf - img), why, sizeof(why));
        CHECK(b != NULL);
        uint32_t t = btf_find_struct(b, "task_struct");
        uint64_t off;
        uint32_t tid;
        CHECK(t != 0);
        CHECK_EQ(btf_member(b, t, "tasks", &off, &tid), 0);
        CHECK_EQ(btf_type_size(b, tid), 16);
        CHECK_EQ(btf_member(b, t, "comm", &off, &tid), 0);
        CHECK_EQ(btf_type_size(b, tid), 16);
        CHECK_EQ(btf_member(b, t, "real_parent", &off, &tid), 0);
        CHECK(btf_is_ptr(b, tid));
        CHECK_EQ(btf_resolve(b, tid), t);
        btf_free(b);
    }
    munmap(img, (size_t)st.st_size);
}

int main(void)
{
    RUN(test_btf_lookups);
    RUN(test_btf_hostile);
    RUN(test_ksyms);
    RUN(test_ksyms_hostile);
    RUN(test_page_walk);
    RUN(test_walk_processes);
    RUN(test_walk_modules);
    RUN(test_list_slid_kernel);
    RUN(test_integrity_watch);
    RUN(test_real_vmlinux);
    return check_done();
}
