/* realmode.S — real mode and back: 64-bit → compatibility mode → 32-bit protected mode with
 * paging off (an exception there through a 32-bit IDT gate) → a 16-bit code segment →
 * CR0.PE = 0 and a far jump (real mode, CS = 0x1000) → segment * 16 addressing, a real-mode
 * stack, INT n through the IVT and IRET, an exception (#UD) and an external interrupt through
 * the IVT, a "big real" FS whose protected-mode cache (base 0, 4 GiB) survives, LIDT/LGDT with
 * a 66 prefix → CR0.PE = 1 and ljmpl to 32-bit code → long mode again. The 16/32-bit parts store their results; the
 * 64-bit code checks them at the end. */
#include "lib.inc"

#define M_CODE64 0x08
#define M_DATA   0x10
#define M_CODE32 0x18
#define M_CODE16 0x20 /* base 0x10000: the program */
#define RSEG     0x1000 /* real-mode segment of the program */
#define R(x)     ((x) - 0x10000)

    .text
    .globl test_main
test_main:
    push %rbx
    push %rbp
    mov %rsp, saved_rsp(%rip)
    sidt saved_idt(%rip)
    lgdt m_gdt_ptr(%rip)
    ljmpl *to_compat(%rip)

    .code32
compat_entry:
    mov %cr0, %eax
    and $0x7fffffff, %eax
    mov %eax, %cr0
    ljmp $M_CODE32, $pm32
pm32:
    /* a 32-bit IDT: #UD (vector 6) through a 32-bit interrupt gate */
    mov $pm_ud, %eax
    mov %ax, pm_idt + 6 * 8
    movw $M_CODE32, pm_idt + 6 * 8 + 2
    movw $0x8e00, pm_idt + 6 * 8 + 4
    shr $16, %eax
    mov %ax, pm_idt + 6 * 8 + 6
    lidt pm_idt_ptr
    mov %esp, r_pm_esp
pm_ud_at:
    ud2
pm_ud_back:
    /* big real: FS keeps base 0 and its 4 GiB limit in real mode */
    movl $0x0bada55, 0x200000
    mov $M_DATA, %ax
    mov %ax, %fs
    ljmp $M_CODE16, $R(pm16)

    .code16
pm16:
    mov %cr0, %eax
    and $0xfffffffe, %eax
    mov %eax, %cr0
    ljmp $RSEG, $R(real)
real:
    mov %cs, %ax
    mov %ax, %ds
    mov %ax, r_cs - 0x10000
    /* real-mode stack: SS * 16 + SP */
    mov $0x0800, %ax
    mov %ax, %ss
    mov $0x1000, %esp
    pushw $0x1234
    push %es
    xor %ax, %ax
    mov %ax, %es
    mov %es:0x8ffe, %ax        /* ES = 0: physical 0x8ffe, the pushed word */
    mov %ax, r_stack - 0x10000
    pop %es
    pop %ax
    mov %sp, r_sp - 0x10000
    /* segment * 16: 0x50:0x10 is physical 0x510 */
    mov $0x50, %ax
    mov %ax, %es
    movw $0xbeef, %es:0x10
    /* the IVT at 0: INT 0x30 and #UD */
    lidt rm_ivt_ptr - 0x10000
    xor %ax, %ax
    mov %ax, %es
    movw $R(rm_int30), %es:0x30 * 4
    movw $RSEG, %es:0x30 * 4 + 2
    movw $R(rm_ud), %es:6 * 4
    movw $RSEG, %es:6 * 4 + 2
    mov $0x41, %ax
    stc
    int $0x30
    adc $0, %ax                /* CF survives the interrupt and IRET */
    mov %ax, r_int30 - 0x10000
rm_ud_at:
    ud2
    mov %ax, r_after_ud - 0x10000
    /* an external interrupt through the IVT once IF is set */
    movw $R(rm_irq), %es:0x40 * 4
    movw $RSEG, %es:0x40 * 4 + 2
    mov $0x40, %eax
    outl %eax, $P_IRQ
    sti
    nop
    nop
    cli
    /* big real FS */
    addr32 mov %fs:0x200000, %eax
    mov %eax, r_bigreal - 0x10000
    /* back to protected mode */
    data32 lgdt m_gdt_ptr - 0x10000
    data32 lidt saved_idt - 0x10000
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $M_CODE32, $pm32b

rm_int30:
    add %ax, %ax
    incw r_int30_count - 0x10000
    iret

rm_irq:
    incw r_irq - 0x10000
    iret

rm_ud:
    mov %sp, %bp
    addw $2, (%bp)             /* skip the ud2: [bp] uses SS */
    mov %bp, r_ud_sp - 0x10000
    mov $0x77, %ax
    iret

    .code32
pm_ud:
    mov (%esp), %eax           /* EIP */
    mov %eax, r_pm_eip
    mov 4(%esp), %eax          /* CS */
    mov %eax, r_pm_cs
    mov %esp, r_pm_frame
    movl $pm_ud_back, (%esp)
    iret

pm32b:
    mov $M_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov r_pm_esp, %esp
    mov 0x510, %eax
    mov %eax, r_segmul
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    ljmp $M_CODE64, $back64

    .code64
back64:
    RELOAD_KERNEL_SEGMENTS
    mov saved_rsp(%rip), %rsp
    CHECK r_pm_eip(%rip), $pm_ud_at, 1
    CHECK r_pm_cs(%rip), $M_CODE32, 2
    mov r_pm_esp(%rip), %rax
    sub $12, %rax
    CHECK r_pm_frame(%rip), %rax, 3    /* EIP, CS, EFLAGS: no error code, no stack switch */
    CHECK r_cs(%rip), $RSEG, 4
    CHECK r_stack(%rip), $0x1234, 5
    CHECK r_sp(%rip), $0x1000, 7
    CHECK r_int30(%rip), $0x83, 8      /* 0x41 * 2 + CF */
    CHECK r_int30_count(%rip), $1, 9
    CHECK r_ud_sp(%rip), $0xffa, 10    /* FLAGS, CS, IP below SP 0x1000 */
    CHECK r_after_ud(%rip), $0x77, 11
    CHECK r_bigreal(%rip), $0x0bada55, 12
    CHECK r_irq(%rip), $1, 15
    mov r_segmul(%rip), %rax
    and $0xffff, %eax
    CHECK %rax, $0xbeef, 13
    mov %cs, %eax
    CHECK %rax, $KCODE, 14
    pop %rbp
    pop %rbx
    ret

    .data
    .align 16
m_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF /* 0x08 code 64 */
    .quad 0x00CF93000000FFFF /* 0x10 data, 4 GiB */
    .quad 0x00CF9B000000FFFF /* 0x18 code 32 */
    .quad 0x00009B010000FFFF /* 0x20 code 16, base 0x10000 */
m_gdt_end:
m_gdt_ptr:
    .word m_gdt_end - m_gdt - 1
    .quad m_gdt
saved_idt:
    .word 0
    .quad 0
rm_ivt_ptr:
    .word 0x3ff
    .long 0
pm_idt_ptr:
    .word 8 * 32 - 1
    .long pm_idt
to_compat:
    .long compat_entry
    .word M_CODE32
    .align 8
pm_idt: .fill 32, 8, 0
saved_rsp: .quad 0
r_pm_esp: .quad 0
r_pm_eip: .quad 0
r_pm_cs: .quad 0
r_pm_frame: .quad 0
r_cs: .quad 0
r_stack: .quad 0
r_sp: .quad 0
r_int30: .quad 0
r_int30_count: .quad 0
r_ud_sp: .quad 0
r_after_ud: .quad 0
r_bigreal: .quad 0
r_irq: .quad 0
r_segmul: .quad 0
