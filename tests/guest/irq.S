/* irq.S — external interrupts from the runner's interrupt controller (port 0xE2 makes a vector
 * pending): blocked while IF = 0, delivered exactly after the instruction following STI (the
 * interrupt shadow), STI; HLT wakes with the return address after HLT, delivery from CPL 3
 * switches to RSP0, the interrupt gate's IF is restored by IRETQ, and MOV SS holds off an
 * interrupt that became pending as it retired for exactly one more instruction. */
#include "lib.inc"

#define VEC 0x40

    .text
    .globl test_main
test_main:
    lea irq_hook(%rip), %rax
    mov %rax, hook(%rip)

    /* --- IF = 0 blocks delivery --- */
    cli
    mov exc_count(%rip), %rbx
    mov $VEC, %eax
    out %eax, $P_IRQ
    nop
    nop
    jmp 1f
1:  nop
    CHECK exc_count(%rip), %rbx, 1

    /* --- STI shadow: the interrupt comes after exactly one more instruction --- */
    xor %ecx, %ecx
    sti
    mov $1, %ecx                     /* runs inside the shadow */
2:  mov $2, %ecx                     /* the interrupt must arrive before this */
    mov $3, %ecx
    mov $4, %ecx
    CHECK last_vec(%rip), $VEC, 2
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 3
    CHECK r_ecx(%rip), $1, 4         /* the hook saw the shadowed instruction's result */
    mov last_rflags(%rip), %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 5
    pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 6            /* iretq restored IF */

    /* --- interrupts are taken at once when IF = 1 --- */
    mov $VEC + 1, %eax
    out %eax, $P_IRQ
2:  nop
    CHECK last_vec(%rip), $(VEC + 1), 7
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 8

    /* --- STI; HLT: HLT runs inside the shadow, the interrupt wakes it --- */
    cli
    mov $VEC + 2, %eax
    out %eax, $P_IRQ
    sti
    hlt
2:  CHECK last_vec(%rip), $(VEC + 2), 9
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 10
    cli

    /* --- MOV SS shadow: pending right after MOV SS retires, taken one instruction later --- */
    sti
    mov %ss, %ebx
    xor %ecx, %ecx
    mov $(VEC + 4 | (1 << 8)), %eax
    out %eax, $P_DIRQ
    mov %bx, %ss
    mov $1, %ecx                     /* runs inside the shadow */
2:  mov $2, %ecx
    mov $3, %ecx
    mov $4, %ecx
    cli
    CHECK last_vec(%rip), $(VEC + 4), 14
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 15
    CHECK r_ecx(%rip), $1, 16

    /* --- from CPL 3: stack switch to RSP0, user frame --- */
    lea user(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x3202, %edx                /* IOPL 3, IF */
    call enter_user
    CHECK r_cs(%rip), $(UCODE64 | 3), 11
    CHECK r_frame(%rip), $(RSP0 - 40), 12
    CHECK r_vec(%rip), $(VEC + 3), 13
    movq $0, hook(%rip)
    ret

/* Interrupt hook: record, and iret back to the interrupted instruction. */
irq_hook:
    mov %ecx, r_ecx(%rip)
    mov last_cs(%rip), %rax
    mov %rax, r_cs(%rip)
    mov last_frame(%rip), %rax
    mov %rax, r_frame(%rip)
    mov last_vec(%rip), %rax
    mov %rax, r_vec(%rip)
    xor %eax, %eax
    ret

user:
    mov $VEC + 3, %eax
    out %eax, $P_IRQ
    nop
    cli
    xor %eax, %eax
    syscall

    .data
    .align 8
r_ecx: .quad 0
r_cs: .quad 0
r_frame: .quad 0
r_vec: .quad 0
