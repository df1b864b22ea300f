/* faults.S — exception and IDT delivery at CPL 0: #DE (divide by zero and quotient overflow),
 * #UD for invalid and unadvertised instructions, #NP for a not-present gate and #GP for a bad
 * gate type (with IDT error codes), the interrupt frame (saved RIP/CS/RFLAGS/RSP/SS, 16-byte
 * aligned), IST stack switching, interrupt vs trap gates and IF, #SS on a non-canonical stack,
 * #DF escalation (on its own IST stack) when delivering #GP finds a not-present gate. */
#include "lib.inc"

/* Gate helpers: GATE vec, type, ist */
.macro GATE vec, type, ist
    mov $\vec, %edi
    mov $\type, %esi
    mov $\ist, %edx
    call set_gate
.endm

    .text
    .globl test_main
test_main:
    /* --- #DE --- */
    EXPECT_FAULT 1f
    xor %ecx, %ecx
2:  div %ecx
1:  FAULT_CHECK 0, 0, 1
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 3            /* faults report the faulting instruction */
    EXPECT_FAULT 1f
    mov $1, %edx
    xor %eax, %eax
    mov $1, %ecx
    div %ecx                                 /* quotient does not fit */
1:  FAULT_CHECK 0, 0, 4

    /* --- #UD --- */
    EXPECT_FAULT 1f
    .byte 0x06                               /* push es: invalid in 64-bit mode */
1:  FAULT_CHECK 6, 0, 6
    EXPECT_FAULT 1f
    .byte 0xce                               /* into: invalid in 64-bit mode */
1:  FAULT_CHECK 6, 0, 8
    EXPECT_FAULT 1f
    .byte 0xf0, 0x90                         /* lock nop */
1:  FAULT_CHECK 6, 0, 10
    EXPECT_FAULT 1f
    .byte 0x0f, 0x01, 0xc8                   /* monitor: not advertised */
1:  FAULT_CHECK 6, 0, 12
    EXPECT_FAULT 1f
    .byte 0x0f, 0x01, 0xd0                   /* xgetbv: no XSAVE */
1:  FAULT_CHECK 6, 0, 14
    EXPECT_FAULT 1f
    .byte 0x0f, 0x01, 0xcf                   /* encls: no SGX */
1:  FAULT_CHECK 6, 0, 16
    EXPECT_FAULT 1f
    .byte 0xf3, 0x48, 0x0f, 0xae, 0xc0       /* rdfsbase: no FSGSBASE */
1:  FAULT_CHECK 6, 0, 18

    /* --- the interrupt frame at CPL 0 without IST --- */
    mov %rsp, %r13
    and $-16, %rsp
    sub $8, %rsp                             /* misalign by 8 so the alignment shows */
    mov %rsp, %r12
    lea -48(%rsp), %rbx                      /* RIP slot: 40 below the aligned RSP - 8 */
    EXPECT_FAULT 2f
    int $0x40
2:  mov %r13, %rsp
    CHECK last_vec(%rip), $0x40, 20
    CHECK last_frame(%rip), %rbx, 21
    CHECK last_rsp(%rip), %r12, 22
    CHECK last_ss(%rip), $KDATA, 23
    CHECK last_cs(%rip), $KCODE, 24
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 25

    /* --- IST --- */
    GATE 0x43, 0x8E, 1
    EXPECT_FAULT 2f
    int $0x43
2:  CHECK last_frame(%rip), $(IST1 - 40), 26
    mov %rsp, %rcx
    CHECK last_rsp(%rip), %rcx, 27

    /* --- interrupt gate clears IF, trap gate keeps it --- */
    GATE 0x45, 0x8F, 0
    sti
    EXPECT_FAULT 2f
    int $0x40
2:  mov handler_rflags(%rip), %rax
    and $0x200, %eax
    CHECK %rax, $0, 28
    mov last_rflags(%rip), %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 29                   /* the frame has the interrupted IF */
    EXPECT_FAULT 2f
    int $0x45
2:  mov handler_rflags(%rip), %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 30
    pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 31                   /* iretq restored IF */
    cli

    /* --- bad gates: not present -> #NP(idx*8+2), bad type -> #GP(idx*8+2) --- */
    GATE 0x42, 0x0E, 0                       /* P = 0 */
    EXPECT_FAULT 1f
    int $0x42
1:  FAULT_CHECK 11, (0x42 * 8 + 2), 32
    GATE 0x44, 0x85, 0                       /* task gate: not allowed in long mode */
    EXPECT_FAULT 1f
    int $0x44
1:  FAULT_CHECK 13, (0x44 * 8 + 2), 34
    EXPECT_FAULT 1f
    int1
1:  CHECK last_vec(%rip), $1, 36

    /* --- #SS on a non-canonical stack (delivered on IST 1) --- */
    GATE 12, 0x8E, 1
    mov %rsp, saved_rsp(%rip)
    EXPECT_FAULT 1f
    mov $0x0000800000000008, %rsp
    push %rax                                /* writes at 0x800000000000 */
1:  mov saved_rsp(%rip), %rsp
    FAULT_CHECK 12, 0, 37
    CHECK last_frame(%rip), $(IST1 - 40), 39

    /* --- #DF: #GP whose gate is not present; #DF on IST 1 --- */
    GATE 13, 0x0E, 0
    GATE 8, 0x8E, 1
    EXPECT_FAULT 1f
    mov $0x0000800000000000, %rbx
    mov (%rbx), %rax
1:  FAULT_CHECK 8, 0, 40
    CHECK last_frame(%rip), $(IST1 - 40), 42
    GATE 13, 0x8E, 0
    EXPECT_FAULT 1f
    mov (%rbx), %rax
1:  FAULT_CHECK 13, 0, 43                    /* and #GP is back */
    ret

    .data
saved_rsp: .quad 0
