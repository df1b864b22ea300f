/* modes.S — leaving 64-bit mode and coming back, as Linux's AP trampoline
 * (arch/x86/realmode/rm/trampoline_64.S) does: 64-bit → compatibility mode (ljmpl through a
 * m16:32 pointer) → 32-bit protected mode with paging off → a 16-bit code segment → 32-bit
 * again → CR4.PAE, CR3, EFER.LME, CR0.PG (EFER.LMA activates, compatibility mode) → ljmp to
 * 64-bit code. On the way: 32-bit and 16-bit operand and address sizes (INC at 40, 16-bit
 * ModRM addressing and its wrap, PUSHA/POPA, DAA, AAM), a segment base from a GDT descriptor,
 * LES, far call into 64-bit code and a 32-bit far return, #UD from compatibility mode through
 * the 64-bit IDT, SYSCALL (CSTAR) and SYSENTER from compatibility mode, SYSEXIT and SYSENTER in
 * legacy protected mode, a 16-bit stack (SS.B = 0) and a 32-bit IRET. The 16/32-bit parts store their results; the 64-bit code checks them at the end. */
#include "lib.inc"

#define M_CODE64 0x08 /* the IDT gates' selector */
#define M_DATA   0x10
#define M_CODE32 0x18
#define M_CODE16 0x20 /* base 0x10000 */
#define M_FSDATA 0x28 /* data, base 0x100 */
#define M_DATA16 0x30 /* data, B = 0: a 16-bit stack */
#define SE_STACK 0x5F000
#define SE_STACK2 0x5E000

    .text
    .globl test_main
test_main:
    push %rbx
    push %rbp
    mov %rsp, saved_rsp(%rip)
    lgdt m_gdt_ptr(%rip)
    /* SYSENTER: CS 0x08 (SS 0x10), ESP, EIP of 64-bit code */
    mov $0x174, %ecx
    mov $M_CODE64, %eax
    xor %edx, %edx
    wrmsr
    mov $0x175, %ecx
    mov $SE_STACK, %eax
    wrmsr
    mov $0x176, %ecx
    lea sysenter_target(%rip), %rax
    wrmsr
    ljmpl *to_compat(%rip)

    .code32
compat_entry:
    /* a push moves ESP by 4; inc %eax is opcode 40 */
    mov %esp, %ebx
    push $0x12345678
    sub %esp, %ebx
    pop %ecx
    mov %ebx, r_pushdelta
    mov %ecx, r_push
    mov $0x7fffffff, %eax
    inc %eax
    mov %eax, r_inc
    /* 16-bit operand size */
    mov $0x1234ffff, %ecx
    addw $1, %cx
    mov %ecx, r_add16
    /* 16-bit addressing: (0xfff0 + 0x530) wraps to 0x520 */
    movl $0xcafebabe, 0x520
    mov $0xfff0, %ebx
    mov $0x530, %esi
    addr16 mov (%bx,%si), %eax
    mov %eax, r_addr16
    /* pusha / popa */
    mov $1, %eax
    mov $2, %ecx
    mov $3, %edx
    mov $4, %ebx
    mov $7, %esi
    mov $8, %edi
    pusha
    xor %eax, %eax
    xor %ecx, %ecx
    xor %edx, %edx
    xor %ebx, %ebx
    xor %esi, %esi
    xor %edi, %edi
    popa
    add %ecx, %eax
    add %edx, %eax
    add %ebx, %eax
    add %esi, %eax
    add %edi, %eax
    mov %eax, r_popa
    /* BCD: 19 + 28 = 47; 73 = 7 * 10 + 3 */
    mov $0x19, %al
    add $0x28, %al
    daa
    movzbl %al, %eax
    mov %eax, r_daa
    mov $73, %eax
    aam
    mov %eax, r_aam
    /* FS base from its descriptor */
    movl $0x5a5a1234, 0x600
    mov $M_FSDATA, %ax
    mov %ax, %fs
    mov %fs:0x500, %eax
    mov %eax, r_fsbase
    /* les */
    les lesptr, %edx
    mov %edx, r_les
    mov %es, %eax
    mov %eax, r_les_es
    mov $M_DATA, %ax
    mov %ax, %es
    /* far call into 64-bit code, which returns with a 32-bit lret */
    lcall $M_CODE64, $far64
    mov %eax, r_far64
    /* #UD from compatibility mode, through the 64-bit IDT */
    movl $1f, recover
    movl $0, recover + 4
ud_at:
    ud2
1:  /* SYSCALL from compatibility mode: CSTAR's 64-bit code, RCX = the return EIP */
    mov $0xc0000083, %ecx
    mov $cstar_target, %eax
    xor %edx, %edx
    wrmsr
    syscall
syscall_ret:
    /* SYSENTER from compatibility mode into 64-bit code */
    mov %esp, saved_esp32
    sysenter
se_back:
    mov saved_esp32, %esp
    mov $M_DATA, %ax
    mov %ax, %ss

    /* Paging off: long mode deactivates (EFER.LMA = 0), 32-bit protected mode */
    mov %cr0, %eax
    and $0x7fffffff, %eax
    mov %eax, %cr0
    ljmp $M_CODE32, $pm32
pm32:
    mov $0xc0000080, %ecx
    rdmsr
    mov %eax, r_efer_pm
    mov %cr0, %eax
    mov %eax, r_cr0_pm
    movl $0x600df00d, 0x700
    mov 0x700, %eax
    mov %eax, r_pm_mem
    /* a 16-bit stack: SP wraps, the upper half of ESP stays */
    mov %esp, %ebp
    mov $M_DATA16, %ax
    mov %ax, %ss
    mov $0x20010, %esp
    pushl $0x55aa
    mov %esp, r_sp16
    mov 0xc, %eax
    mov %eax, r_sp16mem
    mov $M_DATA, %ax
    mov %ax, %ss
    mov %ebp, %esp
    /* SYSEXIT to CPL 3 and SYSENTER back, in legacy protected mode (32-bit CS both ways) */
    mov $0x175, %ecx
    mov $SE_STACK2, %eax
    xor %edx, %edx
    wrmsr
    mov $0x176, %ecx
    mov $pm_se_back, %eax
    wrmsr
    mov %esp, saved_esp32
    mov $pm_user, %edx
    mov $SE_STACK2 - 0x100, %ecx
    sysexit
pm_user:
    mov %cs, %eax
    mov %eax, r_sx_cs
    mov %ss, %eax
    mov %eax, r_sx_ss
    mov %esp, r_sx_esp
    sysenter
pm_se_back:
    mov %cs, %eax
    mov %eax, r_se2_cs
    mov %esp, r_se2_esp
    ljmp $M_CODE32, $1f
1:  mov $M_DATA, %ax
    mov %ax, %ss
    mov saved_esp32, %esp
    /* a 16-bit code segment and back */
    ljmp $M_CODE16, $(pm16 - 0x10000)
    .code16
pm16:
    mov $0x1234, %ax
    add %ax, %ax
    mov %ax, 0x710
    push %ax
    pop %bx
    mov %bx, 0x712
    ljmpl $M_CODE32, $pm32b
    .code32
pm32b:
    mov 0x710, %eax
    mov %eax, r_pm16
    /* IRET with a 32-bit frame, same privilege */
    pushf
    push $M_CODE32
    push $2f
    iret
2:  movl $1, r_iret
    /* Back to long mode, in the trampoline's order */
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    mov $0xc0000080, %ecx
    rdmsr
    mov %eax, r_efer_back
    ljmp $M_CODE64, $back64

    .code64
far64:
    mov $0x100000000, %rax
    shr $24, %rax
    lretl

cstar_target:
    mov %rcx, r_sc_rcx(%rip)
    mov %cs, %eax
    mov %eax, r_sc_cs(%rip)
    pushq $M_CODE32
    pushq $syscall_ret
    lretq

sysenter_target:
    mov %rsp, r_se_rsp(%rip)
    mov %cs, %eax
    mov %eax, r_se_cs(%rip)
    mov %ss, %eax
    mov %eax, r_se_ss(%rip)
    pushfq
    pop %rax
    mov %rax, r_se_flags(%rip)
    pushq $M_CODE32
    pushq $se_back
    lretq

back64:
    RELOAD_KERNEL_SEGMENTS
    mov saved_rsp(%rip), %rsp
    CHECK r_pushdelta(%rip), $4, 1
    CHECK r_push(%rip), $0x12345678, 2
    CHECK r_inc(%rip), $0x80000000, 3
    CHECK r_add16(%rip), $0x12340000, 4
    CHECK r_addr16(%rip), $0xcafebabe, 5
    CHECK r_popa(%rip), $25, 6
    CHECK r_daa(%rip), $0x47, 7
    CHECK r_aam(%rip), $0x0703, 8
    CHECK r_fsbase(%rip), $0x5a5a1234, 9
    CHECK r_les(%rip), $0x1234, 10
    CHECK r_les_es(%rip), $M_DATA, 11
    CHECK r_far64(%rip), $0x100, 12
    CHECK last_vec(%rip), $6, 13
    CHECK last_cs(%rip), $M_CODE32, 14
    CHECK last_rip(%rip), $ud_at, 15
    CHECK r_se_rsp(%rip), $SE_STACK, 16
    CHECK r_se_cs(%rip), $M_CODE64, 17
    CHECK r_se_ss(%rip), $M_DATA, 18
    mov r_se_flags(%rip), %rax
    and $0x200, %eax
    CHECK %rax, $0, 19
    mov r_efer_pm(%rip), %rax
    and $0x500, %eax
    CHECK %rax, $0x100, 20                 /* LME kept, LMA clear */
    mov r_cr0_pm(%rip), %rax
    and $0x80000001, %eax
    CHECK %rax, $1, 21
    CHECK r_pm_mem(%rip), $0x600df00d, 22
    CHECK r_sp16(%rip), $0x2000c, 23
    CHECK r_sp16mem(%rip), $0x55aa, 24
    CHECK r_pm16(%rip), $0x24682468, 25
    CHECK r_iret(%rip), $1, 26
    CHECK r_sc_rcx(%rip), $syscall_ret, 29
    CHECK r_sc_cs(%rip), $M_CODE64, 30
    CHECK r_sx_cs(%rip), $(M_CODE32 | 3), 31  /* SYSENTER_CS + 16, RPL 3 */
    CHECK r_sx_ss(%rip), $(M_CODE16 | 3), 32  /* SYSENTER_CS + 24 */
    CHECK r_sx_esp(%rip), $(SE_STACK2 - 0x100), 33
    CHECK r_se2_cs(%rip), $M_CODE64, 34       /* the selector, with 32-bit attributes */
    CHECK r_se2_esp(%rip), $SE_STACK2, 35
    mov r_efer_back(%rip), %rax
    and $0x500, %eax
    CHECK %rax, $0x500, 27                 /* LMA active again */
    mov %cs, %eax
    CHECK %rax, $KCODE, 28
    pop %rbp
    pop %rbx
    ret

    .data
    .align 16
m_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF /* 0x08 code 64 */
    .quad 0x00CF93000000FFFF /* 0x10 data */
    .quad 0x00CF9B000000FFFF /* 0x18 code 32 */
    .quad 0x00009B010000FFFF /* 0x20 code 16, base 0x10000 (the program), limit 64 KiB */
    .quad 0x00CF93000100FFFF /* 0x28 data, base 0x100 */
    .quad 0x000093000000FFFF /* 0x30 data, B = 0 */
m_gdt_end:
m_gdt_ptr:
    .word m_gdt_end - m_gdt - 1
    .quad m_gdt
to_compat:
    .long compat_entry
    .word M_CODE32
lesptr:
    .long 0x1234
    .word M_DATA
    .align 8
saved_rsp: .quad 0
saved_esp32: .quad 0
r_pushdelta: .quad 0
r_push: .quad 0
r_inc: .quad 0
r_add16: .quad 0
r_addr16: .quad 0
r_popa: .quad 0
r_daa: .quad 0
r_aam: .quad 0
r_fsbase: .quad 0
r_les: .quad 0
r_les_es: .quad 0
r_far64: .quad 0
r_se_rsp: .quad 0
r_se_cs: .quad 0
r_se_ss: .quad 0
r_se_flags: .quad 0
r_efer_pm: .quad 0
r_cr0_pm: .quad 0
r_pm_mem: .quad 0
r_sp16: .quad 0
r_sp16mem: .quad 0
r_pm16: .quad 0
r_iret: .quad 0
r_efer_back: .quad 0
r_sc_rcx: .quad 0
r_sc_cs: .quad 0
r_sx_cs: .quad 0
r_sx_ss: .quad 0
r_sx_esp: .quad 0
r_se2_cs: .quad 0
r_se2_esp: .quad 0
