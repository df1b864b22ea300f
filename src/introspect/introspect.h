/* introspect.h — reading a running Linux guest's processes and kernel modules from outside
 * (docs/INSPECT.md): nothing runs in the guest. Type layouts come from the kernel's own BTF and
 * symbol addresses from its kallsyms tables, both in the vmlinux the guest boots; the KASLR
 * slide comes from the vCPU's LSTAR; guest virtual addresses are walked through the guest's
 * page tables (CR3). The guest's lists are untrusted: a cycle, a garbage pointer or a list
 * longer than any real one ends the walk with what was read so far and a reason. Call with
 * the vCPU stopped (between engine slices): the read is then a consistent snapshot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct vcpu;

#define INSP_MAX_ITEMS   (1u << 16) /* a list longer than this is treated as broken */
#define INSP_COMM_LEN    16
#define INSP_MODNAME_LEN 56

/* What the walk needs of the guest: its RAM and the vCPU's paging and syscall state. */
struct insp_guest {
    struct bus *bus;
    uint64_t cr3, cr4;
    uint64_t lstar; /* MSR_LSTAR: entry_SYSCALL_64 where the kernel actually runs */
};

struct insp_proc {
    int32_t pid, ppid; /* thread-group ids, as ps shows them */
    uint32_t uid;
    char comm[INSP_COMM_LEN + 1];
    char state; /* ps's letter: R S D T t X Z P I */
};

struct insp_module {
    char name[INSP_MODNAME_LEN + 1];
    uint64_t size, base;
};

/* INSP_KERNEL_PATH asks only for the booted kernel's path (report.vmlinux), from which the
 * API thread picks the vmlinux (insp_default_vmlinux) and prepares it. */
enum insp_what { INSP_PROCESSES, INSP_MODULES, INSP_KERNEL_PATH, INSP_INTEGRITY };

struct integ_status;

struct insp_report {
    enum insp_what what;
    size_t n;
    struct insp_proc *procs;        /* INSP_PROCESSES */
    struct insp_module *mods;       /* INSP_MODULES */
    struct integ_status *integrity; /* INSP_INTEGRITY (integrity.h) */
    bool complete;                  /* false: the walk stopped early, why says where and why */
    char why[256];
    uint64_t slide;   /* KASLR: where the kernel runs minus where it was linked */
    uint64_t read_us; /* time the walk took (the guest is stopped for this long) */
    char vmlinux[4096];
};

/* Field offsets the walks use (bytes from the start of the struct), from BTF. */
struct insp_layout {
    uint64_t t_tasks, t_pid, t_tgid, t_real_parent, t_comm, t_state, t_exit_state, t_cred;
    uint64_t c_uid;
    uint64_t m_list, m_name, m_state, m_core_base, m_core_size, m_init_size;
};

/* Parse vmlinux and keep the result while the file is unchanged (any thread; insp_list
 * would otherwise parse it itself, with the guest stopped, ~0.1 s for Debian's kernel).
 * 0, or -1 with a reason in err. */
int insp_prepare(const char *vmlinux, char *err, size_t errlen);
/* List `what` of the guest whose kernel image is vmlinux (as insp_prepare left it, without
 * looking at the file again; parsed here if it has not been prepared). Returns 0 with r filled
 * (free with insp_report_free; r->complete false for a partial list), or -1 with a reason in err
 * when the kernel cannot be understood. */
int insp_list(const char *vmlinux, const struct insp_guest *g, enum insp_what what,
              struct insp_report *r, char *err, size_t errlen);
void insp_report_free(struct insp_report *r);
/* The guest state insp_list needs, taken from a stopped vCPU. */
void insp_guest_of(struct bus *bus, const struct vcpu *v, struct insp_guest *g);
/* The vmlinux to read: $VESSEL_VMLINUX, else the booted kernel if it is an ELF image, else
 * $VESSEL_CACHE/guest/vmlinux (default cache ~/.cache/vessel), the guest build's copy. */
void insp_default_vmlinux(const char *booted_kernel, char *out, size_t cap);
/* Drop the parsed kernel kept by insp_list. */
void insp_forget(void);

/* For the integrity watch: the link-time addresses of the n symbols in vmlinux (0 for one
 * kallsyms lacks; the first of namesakes) and, in ends, the next symbol's address above each
 * (where an object ends at the latest). 0, or -1 with a reason. */
int insp_kernel_lookup(const char *vmlinux, const char *const *names, size_t n, uint64_t *addrs,
                       uint64_t *ends, char *err, size_t errlen);
/* Check that vmlinux is the running kernel as insp_list does: its KASLR slide, and g->cr3
 * changed to the kernel's own page tables. 0, or -1 with a reason. */
int insp_kernel_slide(const char *vmlinux, struct insp_guest *g, uint64_t *slide, char *err,
                      size_t errlen);
/* Offset of member m of struct s in the kernel's BTF: 0, or -1 if it has none. */
int insp_kernel_member(const char *vmlinux, const char *s, const char *m, uint64_t *off);
/* Guest-physical address of virtual va through g's page tables, or UINT64_MAX. */
uint64_t insp_translate(const struct insp_guest *g, uint64_t va);

/* ---- the pieces, for tests ---- */

/* Copy len bytes at guest virtual va through the page tables; false if any page is unmapped
 * or outside RAM. */
bool insp_read_virt(const struct insp_guest *g, uint64_t va, void *dst, size_t len);
/* Walk init_task's task list (init_task itself, pid 0, is not listed, as in /proc). */
void insp_walk_processes(const struct insp_guest *g, const struct insp_layout *l,
                         uint64_t init_task, struct insp_report *r);
/* Walk the module list whose head is at modules. */
void insp_walk_modules(const struct insp_guest *g, const struct insp_layout *l, uint64_t modules,
                       struct insp_report *r);
