/* kernel.c — what vessel learns about the guest kernel from its vmlinux (introspect.h): the
 * ELF's .BTF section gives the struct layouts, the kallsyms tables inside the image give the
 * link-time addresses of init_task, the module list and entry_SYSCALL_64. The file is mapped
 * once and its analysis kept (on the loop thread, the only caller) until the file changes.
 * At each listing the KASLR slide is LSTAR minus entry_SYSCALL_64's link address, and it is
 * believed only if init_task then reads as "swapper". */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "introspect/btf.h"
#include "introspect/integrity.h"
#include "introspect/introspect.h"
#include "introspect/ksyms.h"
#include "vessel/cpu.h"

#define INSP_MAX_CANDIDATES 8
#define INSP_MSR_LSTAR      0xc0000082u

struct insp_kernel {
    char path[4096];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint8_t *map;
    size_t len;
    struct btf *btf;
    struct ksyms *ksyms;
    struct insp_layout layout;
    uint64_t entry_syscall, init_task;
    const uint8_t *btf_data; /* the file's .BTF, and where the kernel keeps it (0: unknown) */
    size_t btf_len;
    uint64_t btf_start;
    uint64_t modules[INSP_MAX_CANDIDATES];
    int nmodules;
};

/* The API thread parses ahead (insp_prepare) so the loop, which holds the guest stopped,
 * only reads; the lock covers the cache between the two. */
static pthread_mutex_t insp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct insp_kernel *insp_cached;

static void insp_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void insp_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void insp_kernel_free(struct insp_kernel *k)
{
    if (!k) return;
    btf_free(k->btf);
    ksyms_free(k->ksyms);
    if (k->map) munmap(k->map, k->len);
    free(k);
}

static void insp_forget_locked(void)
{
    insp_kernel_free(insp_cached);
    insp_cached = NULL;
}

void insp_forget(void)
{
    pthread_mutex_lock(&insp_lock);
    insp_forget_locked();
    pthread_mutex_unlock(&insp_lock);
}

/* The .BTF section of the ELF image, bounds-checked. */
static bool insp_find_btf(const uint8_t *img, size_t len, const uint8_t **btf, size_t *btf_len)
{
    if (len < 64 || memcmp(img, "\177ELF", 4) || img[4] != 2 || img[5] != 1) return false;
    uint64_t shoff;
    uint16_t shentsize, shnum, shstrndx;
    memcpy(&shoff, img + 0x28, 8);
    memcpy(&shentsize, img + 0x3a, 2);
    memcpy(&shnum, img + 0x3c, 2);
    memcpy(&shstrndx, img + 0x3e, 2);
    if (shentsize < 64 || shstrndx >= shnum || shoff > len ||
        (uint64_t)shnum * shentsize > len - shoff)
        return false;
    const uint8_t *sh = img + shoff;
    uint64_t str_off, str_size;
    memcpy(&str_off, sh + (size_t)shstrndx * shentsize + 0x18, 8);
    memcpy(&str_size, sh + (size_t)shstrndx * shentsize + 0x20, 8);
    if (str_off > len || str_size > len - str_off) return false;
    for (unsigned i = 0; i < shnum; i++) {
        const uint8_t *s = sh + (size_t)i * shentsize;
        uint32_t name, type;
        uint64_t off, size;
        memcpy(&name, s, 4);
        memcpy(&type, s + 4, 4);
        memcpy(&off, s + 0x18, 8);
        memcpy(&size, s + 0x20, 8);
        if (name >= str_size || str_size - name < 5) continue;
        if (memcmp(img + str_off + name, ".BTF", 5)) continue;
        if (type == 8 /* SHT_NOBITS */ || off > len || size > len - off) return false;
        *btf = img + off;
        *btf_len = size;
        return true;
    }
    return false;
}

/* Offset of struct sname's member mname into *out; false (err set) if BTF has no such thing. */
static bool insp_off(const struct btf *b, const char *sname, const char *mname, uint64_t *out,
                     char *err, size_t errlen)
{
    uint32_t sid = btf_find_struct(b, sname), tid;
    if (!sid || btf_member(b, sid, mname, out, &tid) < 0) {
        insp_err(err, errlen, "the kernel's BTF has no %s.%s", sname, mname);
        return false;
    }
    return true;
}

static bool insp_layout_from_btf(const struct btf *b, struct insp_layout *l, char *err,
                                 size_t errlen)
{
    memset(l, 0, sizeof(*l));
    if (!insp_off(b, "task_struct", "tasks", &l->t_tasks, err, errlen) ||
        !insp_off(b, "task_struct", "pid", &l->t_pid, err, errlen) ||
        !insp_off(b, "task_struct", "tgid", &l->t_tgid, err, errlen) ||
        !insp_off(b, "task_struct", "real_parent", &l->t_real_parent, err, errlen) ||
        !insp_off(b, "task_struct", "comm", &l->t_comm, err, errlen) ||
        !insp_off(b, "task_struct", "exit_state", &l->t_exit_state, err, errlen) ||
        !insp_off(b, "task_struct", "cred", &l->t_cred, err, errlen) ||
        !insp_off(b, "cred", "uid", &l->c_uid, err, errlen) ||
        !insp_off(b, "module", "list", &l->m_list, err, errlen) ||
        !insp_off(b, "module", "name", &l->m_name, err, errlen) ||
        !insp_off(b, "module", "state", &l->m_state, err, errlen))
        return false;
    /* __state since 5.14, state before. */
    if (!insp_off(b, "task_struct", "__state", &l->t_state, err, errlen) &&
        !insp_off(b, "task_struct", "state", &l->t_state, err, errlen))
        return false;
    /* core_layout.{base,size} and init_layout.size (up to 6.3). */
    uint64_t core, init, base, size;
    if (!insp_off(b, "module", "core_layout", &core, err, errlen) ||
        !insp_off(b, "module", "init_layout", &init, err, errlen) ||
        !insp_off(b, "module_layout", "base", &base, err, errlen) ||
        !insp_off(b, "module_layout", "size", &size, err, errlen)) {
        insp_err(err, errlen,
                 "the kernel's module layout (no module.core_layout) is not "
                 "supported");
        return false;
    }
    l->m_core_base = core + base;
    l->m_core_size = core + size;
    l->m_init_size = init + size;
    return true;
}

static struct insp_kernel *insp_kernel_load(const char *path, const struct stat *st, char *err,
                                            size_t errlen)
{
    struct insp_kernel *k = calloc(1, sizeof(*k));
    if (!k) {
        insp_err(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(k->path, sizeof(k->path), "%s", path);
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = st->st_size;
    k->mtime = st->st_mtim;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || st->st_size < 64) {
        insp_err(err, errlen, "cannot read the guest kernel image %s", path);
        if (fd >= 0) close(fd);
        free(k);
        return NULL;
    }
    k->len = (size_t)st->st_size;
    k->map = mmap(NULL, k->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (k->map == MAP_FAILED) {
        k->map = NULL;
        insp_err(err, errlen, "cannot map %s", path);
        goto bad;
    }
    const uint8_t *btf;
    size_t btf_len;
    char why[256];
    if (!insp_find_btf(k->map, k->len, &btf, &btf_len)) {
        insp_err(err, errlen, "%s is not an ELF kernel image with a .BTF section", path);
        goto bad;
    }
    k->btf_data = btf;
    k->btf_len = btf_len;
    k->btf = btf_parse(btf, btf_len, why, sizeof(why));
    if (!k->btf) {
        insp_err(err, errlen, "%s: %s", path, why);
        goto bad;
    }
    if (!insp_layout_from_btf(k->btf, &k->layout, err, errlen)) goto bad;
    k->ksyms = ksyms_find(k->map, k->len, why, sizeof(why));
    if (!k->ksyms) {
        insp_err(err, errlen, "%s: %s", path, why);
        goto bad;
    }
    uint64_t a[INSP_MAX_CANDIDATES];
    if (ksyms_lookup(k->ksyms, "entry_SYSCALL_64", a, NULL, 1) != 1 ||
        ksyms_lookup(k->ksyms, "init_task", &k->init_task, NULL, 1) != 1) {
        insp_err(err, errlen, "%s: kallsyms has no entry_SYSCALL_64 or init_task", path);
        goto bad;
    }
    k->entry_syscall = a[0];
    k->nmodules = ksyms_lookup(k->ksyms, "modules", k->modules, NULL, INSP_MAX_CANDIDATES);
    if (ksyms_lookup(k->ksyms, "__start_BTF", a, NULL, 1) == 1) k->btf_start = a[0];
    return k;
bad:
    insp_kernel_free(k);
    return NULL;
}

static struct insp_kernel *insp_kernel_get(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        insp_err(err, errlen, "no guest kernel image at %s", path);
        return NULL;
    }
    struct insp_kernel *k = insp_cached;
    if (k && !strcmp(k->path, path) && k->dev == st.st_dev && k->ino == st.st_ino &&
        k->size == st.st_size && k->mtime.tv_sec == st.st_mtim.tv_sec &&
        k->mtime.tv_nsec == st.st_mtim.tv_nsec)
        return k;
    insp_forget_locked();
    insp_cached = insp_kernel_load(path, &st, err, errlen);
    return insp_cached;
}

int insp_prepare(const char *vmlinux, char *err, size_t errlen)
{
    pthread_mutex_lock(&insp_lock);
    int rc = insp_kernel_get(vmlinux, err, errlen) ? 0 : -1;
    pthread_mutex_unlock(&insp_lock);
    return rc;
}

/* The kernel page tables: with page-table isolation the vCPU may be on the user copy, which
 * sits 4 KiB above the kernel's (8 KiB-aligned) PGD and maps little of the kernel. */
static bool insp_pick_cr3(struct insp_guest *g, uint64_t probe_va)
{
    uint64_t raw = g->cr3;
    uint64_t tries[2] = {raw & ~0x1fffull & 0x000ffffffffff000ull, raw & 0x000ffffffffff000ull};
    for (int i = 0; i < 2; i++) {
        g->cr3 = tries[i];
        uint8_t b;
        if (insp_read_virt(g, probe_va, &b, 1)) return true;
    }
    g->cr3 = raw;
    return false;
}

void insp_guest_of(struct bus *bus, const struct vcpu *v, struct insp_guest *g)
{
    struct vcpu_sregs s;
    vcpu_get_sregs(v, &s);
    memset(g, 0, sizeof(*g));
    g->bus = bus;
    g->cr3 = s.cr3;
    g->cr4 = s.cr4;
    if (!vcpu_get_msr(v, INSP_MSR_LSTAR, &g->lstar)) g->lstar = 0;
}

static bool insp_is_elf(const char *path)
{
    char m[4];
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return false;
    bool ok = read(fd, m, 4) == 4 && !memcmp(m, "\177ELF", 4);
    close(fd);
    return ok;
}

void insp_default_vmlinux(const char *booted_kernel, char *out, size_t cap)
{
    const char *env = getenv("VESSEL_VMLINUX"), *cache = getenv("VESSEL_CACHE");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(out, cap, "%s", env);
    else if (insp_is_elf(booted_kernel))
        snprintf(out, cap, "%s", booted_kernel);
    else if (cache && *cache)
        snprintf(out, cap, "%s/guest/vmlinux", cache);
    else
        snprintf(out, cap, "%s/.cache/vessel/guest/vmlinux", home ? home : "");
}

static uint64_t insp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int insp_list_at(const char *vmlinux, const struct insp_guest *guest, enum insp_what what,
                        struct insp_report *r, char *err, size_t errlen);

int insp_list(const char *vmlinux, const struct insp_guest *guest, enum insp_what what,
              struct insp_report *r, char *err, size_t errlen)
{
    uint64_t t0 = insp_now_us();
    if (what == INSP_INTEGRITY) {
        /* the watch's own record: no kernel image needed */
        memset(r, 0, sizeof(*r));
        r->what = what;
        r->integrity = integ_status_take(guest->bus);
        r->read_us = insp_now_us() - t0;
        if (r->integrity) return 0;
        insp_err(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&insp_lock);
    int rc = insp_list_at(vmlinux, guest, what, r, err, errlen);
    pthread_mutex_unlock(&insp_lock);
    r->read_us = insp_now_us() - t0;
    return rc;
}

/* Is k the running kernel? Its KASLR slide from LSTAR, the kernel's own page tables in g->cr3,
 * init_task reading as "swapper" and the in-memory BTF equal to the file's. 0 or -1 (err). */
static int insp_running(struct insp_kernel *k, struct insp_guest *g, const char *vmlinux,
                        uint64_t *slide_out, char *err, size_t errlen)
{
    uint64_t slide = g->lstar - k->entry_syscall;
    if (!g->lstar || (slide & 0xfff)) {
        insp_err(err, errlen, "the guest kernel has not set up system calls yet (LSTAR %#llx)",
                 (unsigned long long)g->lstar);
        return -1;
    }
    uint64_t init_task = k->init_task + slide;
    char comm[INSP_COMM_LEN + 1] = {0};
    if (!insp_pick_cr3(g, init_task) ||
        !insp_read_virt(g, init_task + k->layout.t_comm, comm, INSP_COMM_LEN) ||
        strncmp(comm, "swapper", 7)) {
        insp_err(err, errlen,
                 "init_task is not at %#llx (KASLR slide %#llx from LSTAR): is %s the "
                 "running kernel?",
                 (unsigned long long)init_task, (unsigned long long)slide, vmlinux);
        return -1;
    }
    /* The kernel keeps its BTF in memory: its first and last pages must be the file's, or the
     * offsets would be another kernel's. */
    if (k->btf_start) {
        uint8_t page[4096];
        size_t n = k->btf_len < sizeof(page) ? k->btf_len : sizeof(page);
        uint64_t tail = k->btf_len - n;
        if (!insp_read_virt(g, k->btf_start + slide, page, n) || memcmp(page, k->btf_data, n) ||
            !insp_read_virt(g, k->btf_start + slide + tail, page, n) ||
            memcmp(page, k->btf_data + tail, n)) {
            insp_err(err, errlen, "the running kernel's BTF is not the one in %s", vmlinux);
            return -1;
        }
    }
    *slide_out = slide;
    return 0;
}

static int insp_list_at(const char *vmlinux, const struct insp_guest *guest, enum insp_what what,
                        struct insp_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->what = what;
    /* Prepared on the API thread moments ago: no system call here on the loop thread. */
    struct insp_kernel *k = insp_cached && !strcmp(insp_cached->path, vmlinux)
                                ? insp_cached
                                : insp_kernel_get(vmlinux, err, errlen);
    if (!k) return -1;
    struct insp_guest g = *guest;
    uint64_t slide;
    if (insp_running(k, &g, vmlinux, &slide, err, errlen) < 0) return -1;
    r->slide = slide;
    if (what == INSP_PROCESSES) {
        insp_walk_processes(&g, &k->layout, k->init_task + slide, r);
        return 0;
    }
    /* `modules` may have namesakes among static symbols: take the one that is a list head
     * whose first element points back at it. */
    for (int i = 0; i < k->nmodules; i++) {
        uint64_t head = k->modules[i] + slide, next, prev;
        if (!insp_read_virt(&g, head, &next, 8)) continue;
        if (next != head && (!insp_read_virt(&g, next + 8, &prev, 8) || prev != head)) continue;
        insp_walk_modules(&g, &k->layout, head, r);
        return 0;
    }
    insp_err(err, errlen, "%s: no kernel symbol `modules` is a list head in the guest", vmlinux);
    return -1;
}

int insp_kernel_lookup(const char *vmlinux, const char *const *names, size_t n, uint64_t *addrs,
                       uint64_t *ends, char *err, size_t errlen)
{
    pthread_mutex_lock(&insp_lock);
    struct insp_kernel *k = insp_cached && !strcmp(insp_cached->path, vmlinux)
                                ? insp_cached
                                : insp_kernel_get(vmlinux, err, errlen);
    for (size_t i = 0; k && i < n; i++) {
        addrs[i] = ends[i] = 0;
        if (ksyms_lookup(k->ksyms, names[i], &addrs[i], NULL, 1) != 1) continue;
        ends[i] = ksyms_next_above(k->ksyms, addrs[i]);
        if (ends[i] == UINT64_MAX) ends[i] = addrs[i];
    }
    pthread_mutex_unlock(&insp_lock);
    return k ? 0 : -1;
}

int insp_kernel_slide(const char *vmlinux, struct insp_guest *g, uint64_t *slide, char *err,
                      size_t errlen)
{
    pthread_mutex_lock(&insp_lock);
    struct insp_kernel *k = insp_cached && !strcmp(insp_cached->path, vmlinux)
                                ? insp_cached
                                : insp_kernel_get(vmlinux, err, errlen);
    int rc = k ? insp_running(k, g, vmlinux, slide, err, errlen) : -1;
    pthread_mutex_unlock(&insp_lock);
    return rc;
}

int insp_kernel_member(const char *vmlinux, const char *sname, const char *mname, uint64_t *off)
{
    char err[256];
    pthread_mutex_lock(&insp_lock);
    struct insp_kernel *k = insp_cached && !strcmp(insp_cached->path, vmlinux)
                                ? insp_cached
                                : insp_kernel_get(vmlinux, err, sizeof(err));
    int rc = k && insp_off(k->btf, sname, mname, off, err, sizeof(err)) ? 0 : -1;
    pthread_mutex_unlock(&insp_lock);
    return rc;
}
