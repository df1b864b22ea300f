// SPDX-License-Identifier: GPL-2.0
/* integrity_hook.c — a kernel module that does what a system-call-hooking rootkit does, for
 * test_integrity.py (docs/INTEGRITY.md): it overwrites entry `nr` of the system call table at
 * `table` (the test passes the address: kallsyms_lookup_name is not exported) with a pointer
 * to its own function, by clearing CR0.WP with inline assembly around the store (the
 * kernel's write_cr0 would put WP back: it is pinned), then reads the entry back and prints
 * both values. Built by the test against Debian's headers for the guest kernel. */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/ptrace.h>

static unsigned long table;
module_param(table, ulong, 0444);
static int nr = 39; /* getpid */
module_param(nr, int, 0444);

typedef long (*syscall_fn)(const struct pt_regs *);
static syscall_fn orig;

static long hook_fake(const struct pt_regs *regs)
{
    return orig(regs);
}

/* The store itself, kept out of line so its address is plainly inside this module. */
static noinline void hook_store(unsigned long *slot, unsigned long value)
{
    unsigned long cr0;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %0, %%cr0" : : "r"(cr0 & ~X86_CR0_WP) : "memory");
    WRITE_ONCE(*slot, value);
    asm volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

static int __init hook_init(void)
{
    unsigned long *slot = (unsigned long *)table + nr, before, after;
    if (!table) return -EINVAL;
    before = READ_ONCE(*slot);
    orig = (syscall_fn)before;
    hook_store(slot, (unsigned long)hook_fake);
    after = READ_ONCE(*slot);
    pr_info("integrity_hook: entry %d at %px was %lx, wrote %lx, reads %lx, store at %px\n", nr,
            slot, before, (unsigned long)hook_fake, after, hook_store);
    return 0;
}

module_init(hook_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vessel test: a rootkit's system call table write");
