/* smep.S — SMEP and UMIP. CPUID offers them (leaf 7 EBX bit 7, ECX bit 2) and 1 GiB pages
 * (0x80000001 EDX bit 26). UMIP: SGDT, SIDT, SLDT, STR and SMSW are #GP(0) at CPL 3 with
 * CR4.UMIP and still work at CPL 0. SMEP: with the first 2 MiB made supervisor-only and code
 * copied to the user page at 2 MiB, user mode runs it, a supervisor fetch from it is #PF with
 * error P|I (also right after user mode filled the code TLB), data reads of it are allowed,
 * and with SMEP clear the kernel may run it again. */
#include "lib.inc"

#define UPAGE 0x200000

.macro SAVE_VEC slot
    mov last_vec(%rip), %rax
    mov %rax, \slot(%rip)
.endm

    .text
    .globl test_main
test_main:
    /* --- CPUID --- */
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    and $0x80, %ebx
    CHECK %rbx, $0x80, 1                   /* SMEP */
    and $0x4, %ecx
    CHECK %rcx, $0x4, 2                    /* UMIP */
    mov $0x80000001, %eax
    cpuid
    and $(1 << 26), %edx
    CHECK %rdx, $(1 << 26), 3              /* 1 GiB pages */

    /* --- UMIP --- */
    mov %cr4, %rax
    or $0x800, %rax
    mov %rax, %cr4
    sgdt r_buf(%rip)                       /* CPL 0: allowed */
    str %ax
    CHECK %rax, $TSSSEL, 4
    lea umip_user(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x0002, %edx
    call enter_user
    CHECK r_sgdt(%rip), $13, 5
    CHECK r_sidt(%rip), $13, 6
    CHECK r_sldt(%rip), $13, 7
    CHECK r_str(%rip), $13, 8
    CHECK r_smsw(%rip), $13, 9
    mov %cr4, %rax
    and $~0x800, %rax
    mov %rax, %cr4
    lea smsw_user(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x0002, %edx
    call enter_user
    CHECK r_smsw(%rip), $-1, 10            /* without UMIP: allowed */

    /* --- SMEP --- */
    lea ucode(%rip), %rsi
    mov $UPAGE, %edi
    mov $(ucode_end - ucode), %ecx
    rep movsb
    andq $~4, PD                            /* 0-2 MiB: supervisor only */
    mov %cr4, %rax
    or $0x100000, %rax                     /* SMEP (flushes the TLB) */
    mov %rax, %cr4
    mov $UPAGE, %edi                       /* user mode runs the user page */
    mov $UPAGE + 0x800, %esi
    mov $0x0002, %edx
    call enter_user
    CHECK $1, $1, 11
    EXPECT_FAULT 1f
    mov $UPAGE, %eax
    jmp *%rax
1:  FAULT_CHECK 14, 0x11, 12               /* P | I */
    CHECK last_cr2(%rip), $UPAGE, 14
    CHECK last_rip(%rip), $UPAGE, 15
    mov UPAGE, %eax                        /* data: allowed */
    CHECK %rax, $0x050fc031, 16
    mov %cr4, %rax
    and $~0x100000, %rax
    mov %rax, %cr4
    mov $(UPAGE + ucode_ret - ucode), %eax
    call *%rax                             /* SMEP clear: the kernel may run it */
    CHECK $1, $1, 17
    orq $4, PD
    invlpg 0
    ret

umip_user:
    EXPECT_FAULT 1f
    sgdt r_buf(%rip)
1:  SAVE_VEC r_sgdt
    EXPECT_FAULT 1f
    sidt r_buf(%rip)
1:  SAVE_VEC r_sidt
    EXPECT_FAULT 1f
    sldt %ax
1:  SAVE_VEC r_sldt
    EXPECT_FAULT 1f
    str %ax
1:  SAVE_VEC r_str
    EXPECT_FAULT 1f
    smsw %eax
1:  SAVE_VEC r_smsw
    xor %eax, %eax
    syscall

smsw_user:
    EXPECT_FAULT 1f
    smsw %eax
1:  SAVE_VEC r_smsw
    xor %eax, %eax
    syscall

/* Copied to UPAGE: leave user mode; a ret for the kernel's call. */
ucode:
    xor %eax, %eax
    syscall
ucode_ret:
    ret
ucode_end:

    .data
    .align 8
r_sgdt: .quad 0
r_sidt: .quad 0
r_sldt: .quad 0
r_str: .quad 0
r_smsw: .quad 0
r_buf: .quad 0, 0
