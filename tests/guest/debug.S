/* debug.S — single-step and debug exceptions: TF traps after each instruction with DR6.BS
 * (none after the POPF that sets TF, one after the POPF that clears it), MOV SS deferring the
 * trap past the next instruction, INT3 (#BP, no #DB after it), INT1/ICEBP from user mode
 * through a DPL 0 gate (a #DB trap, not a #GP), and SYSCALL/SYSRET from a single-stepped user
 * program: SYSCALL's FMASK clears TF (no trap in the kernel), SYSRET restoring TF traps before
 * the first user instruction, IRET restoring TF traps after it. */
#include "lib.inc"

.macro TF_ON
    pushfq
    orq $0x100, (%rsp)
    popfq
.endm

.macro TF_OFF
    pushfq
    andq $~0x100, (%rsp)
    popfq
.endm

/* TRACE_RESET: empty the trace. */
.macro TRACE_RESET
    movq $0, trace_n(%rip)
.endm

/* TRACE_AT k, label, vec, id: the k-th recorded event was vector `vec` at `label` (two
 * checks: id, id + 100; count.sh counts them). */
.macro TRACE_AT k, label, vec, id
    lea \label(%rip), %rax
    CHECK trace_rip+8*\k(%rip), %rax, \id
    CHECK trace_vec+8*\k(%rip), $\vec, (\id+100)
.endm

    .text
    .globl test_main
test_main:
    lea trace_hook(%rip), %rax
    mov %rax, hook(%rip)
    xor %eax, %eax
    mov %rax, %dr6

    /* --- TF in kernel mode: a trap after each instruction, from the one after POPF --- */
    TRACE_RESET
    TF_ON
a1: nop
a2: mov $5, %eax
a3: pushfq
a4: andq $~0x100, (%rsp)
a5: popfq
a6: nop
    CHECK trace_n(%rip), $5, 1
    TRACE_AT 0, a2, 1, 2
    TRACE_AT 1, a3, 1, 3
    TRACE_AT 4, a6, 1, 4
    mov trace_dr6(%rip), %rax
    and $0x4000, %eax
    CHECK %rax, $0x4000, 5                 /* DR6.BS */
    mov trace_rflags(%rip), %rax
    and $0x100, %eax
    CHECK %rax, $0x100, 6                  /* TF in the pushed image */
    CHECK trace_hflags(%rip), $0, 7        /* and clear in the handler */

    /* --- MOV SS: no trap after it; the next instruction traps --- */
    TRACE_RESET
    TF_ON
b1: mov %ss, %eax
b2: mov %eax, %ss
b3: nop
b4: TF_OFF
b5:
    CHECK trace_n(%rip), $5, 10            /* b2, b4, and TF_OFF's three */
    TRACE_AT 0, b2, 1, 11
    TRACE_AT 1, b4, 1, 12

    /* --- INT3 while single-stepping: #BP past it, then steps go on --- */
    TRACE_RESET
    TF_ON
c1: int3
c2: nop
c3: TF_OFF
    CHECK trace_n(%rip), $5, 20            /* #BP c2, #DB c3, TF_OFF's three */
    TRACE_AT 0, c2, 3, 21
    TRACE_AT 1, c3, 1, 22

    /* --- INT1 (ICEBP) in kernel mode: #DB trap past it --- */
    TRACE_RESET
    .byte 0xf1
d1: CHECK trace_n(%rip), $1, 30
    TRACE_AT 0, d1, 1, 31

    /* --- user mode, TF from IRET: ICEBP through a DPL 0 gate, SYSCALL/SYSRET --- */
    TRACE_RESET
    lea sys_count_hook(%rip), %rax
    mov %rax, sys_hook(%rip)
    lea user_prog(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x102, %edx
    call enter_user
    CHECK trace_n(%rip), $8, 40
    TRACE_AT 0, u2, 1, 41                  /* IRET set TF: after the first instruction */
    TRACE_AT 1, u3, 1, 42                  /* ICEBP: one #DB (the trap, no extra step) */
    TRACE_AT 2, u4, 1, 43
    TRACE_AT 3, u5, 1, 44                  /* after SYSCALL ... SYSRET: before u5 runs */
    TRACE_AT 4, u6, 1, 45
    TRACE_AT 5, u7, 1, 46
    TRACE_AT 6, u8, 1, 47
    TRACE_AT 7, u9, 1, 48
    CHECK trace_cs(%rip), $(UCODE64 | 3), 49
    CHECK sys_count(%rip), $1, 50          /* the kernel ran un-stepped */
    ret

/* Record each exception's vector and rip (and DR6, the pushed RFLAGS) and return to it. */
trace_hook:
    mov trace_n(%rip), %rax
    cmp $32, %rax
    jae 1f
    lea trace_rip(%rip), %rcx
    mov last_rip(%rip), %rdx
    mov %rdx, (%rcx, %rax, 8)
    lea trace_vec(%rip), %rcx
    mov last_vec(%rip), %rdx
    mov %rdx, (%rcx, %rax, 8)
    incq trace_n(%rip)
1:  mov last_cs(%rip), %rax
    mov %rax, trace_cs(%rip)
    cmpq $0, trace_dr6(%rip)
    jne 2f
    mov %dr6, %rax                         /* the first event's DR6 and flags */
    mov %rax, trace_dr6(%rip)
    mov last_rflags(%rip), %rax
    mov %rax, trace_rflags(%rip)
    mov handler_rflags(%rip), %rax
    and $0x100, %eax
    mov %rax, trace_hflags(%rip)
2:  xor %eax, %eax
    mov %rax, %dr6
    ret

sys_count_hook:
    incq sys_count(%rip)
    ret

user_prog:
u1: nop
u2: .byte 0xf1
u3: mov $1, %eax
u4: syscall
u5: nop
u6: nop
u7: xor %eax, %eax
u8: nop
u9: syscall

    .data
    .align 8
trace_n: .quad 0
trace_cs: .quad 0
trace_rflags: .quad 0
trace_hflags: .quad 0
trace_dr6: .quad 0
sys_count: .quad 0
trace_rip: .skip 8 * 32
trace_vec: .skip 8 * 32
