/* debug.S — single-step and debug exceptions: TF traps after each instruction with DR6.BS
 * (none after the POPF that sets TF, one after the POPF that clears it), MOV SS deferring the
 * trap past the next instruction, INT3 (#BP, no #DB after it), INT1/ICEBP from user mode
 * through a DPL 0 gate (a #DB trap, not a #GP), and SYSCALL/SYSRET from a single-stepped user
 * program: SYSCALL's FMASK clears TF (no trap in the kernel), SYSRET restoring TF traps before
 * the first user instruction, IRET restoring TF traps after it. Hardware breakpoints: an
 * instruction breakpoint (a fault, passed with RF), data write and read/write breakpoints of
 * 1, 2, 4 and 8 bytes (traps after the access, DR6.B1-B3), MOV DR aliasing (DR4/DR5 without
 * CR4.DE, #UD with it), #GP for DR7 bits 63:32 and DR7.GD (#DB fault with DR6.BD). RF in the
 * pushed RFLAGS: set by faults (#UD, #DB for GD), as it was for INT3 and for an instruction
 * breakpoint, whose handler setting RF lets a faulting instruction run into its own fault. I/O
 * breakpoints (R/W 10 with CR4.DE, 1 and 4 bytes, IN/OUT/OUTS) are traps with DR6.Bn; none
 * without DE. */
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
    movq $0, trace_bs(%rip)
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

    /* --- an instruction breakpoint: #DB before it (a fault), RF in the frame passes it --- */
    TRACE_RESET
    movq $1, set_rf(%rip)
    lea e1(%rip), %rax
    mov %rax, %dr0
    mov $0x1, %eax                         /* L0, execute, length 1 */
    mov %rax, %dr7
    nop
e1: incq e_count(%rip)
    xor %eax, %eax
    mov %rax, %dr7
    movq $0, set_rf(%rip)
    CHECK trace_n(%rip), $1, 60
    TRACE_AT 0, e1, 1, 61
    CHECK e_count(%rip), $1, 62            /* ran once, after the handler */
    mov trace_b(%rip), %rax
    CHECK %rax, $1, 63                     /* DR6.B0 */

    /* --- data breakpoints: traps after the access, DR6.Bn --- */
    TRACE_RESET
    lea var1(%rip), %rax
    mov %rax, %dr1                         /* DR1: write, 4 bytes */
    lea var2 + 1(%rip), %rax
    mov %rax, %dr2                         /* DR2: read/write, 2 bytes (aligned down) */
    lea var3(%rip), %rax
    mov %rax, %dr3                         /* DR3: write, 8 bytes */
    mov $((1 << 2) | (1 << 4) | (1 << 6) | (0x1 << 20) | (0x3 << 22) | (0x3 << 24) | (0x1 << 26) | (0x1 << 28) | (0x2 << 30)), %eax
    mov %rax, %dr7
    mov var1(%rip), %eax                   /* read of a write breakpoint: nothing */
    movb $1, var1 + 4(%rip)                /* just past it: nothing */
    movw $1, var1 + 3(%rip)                /* overlaps its last byte */
f1: nop
    mov var2(%rip), %al                    /* DR2 covers var2 .. var2 + 1 */
f2: mov var3 + 7(%rip), %al                /* read of a write breakpoint */
    movb $2, var3 + 7(%rip)
f3: movb $2, var3 + 8(%rip)
    xor %eax, %eax
    mov %rax, %dr7
    CHECK trace_n(%rip), $3, 70
    TRACE_AT 0, f1, 1, 71
    TRACE_AT 1, f2, 1, 72
    TRACE_AT 2, f3, 1, 73
    CHECK trace_bs(%rip), $(2 | (4 << 8) | (8 << 16)), 74 /* B1, B2, B3 in turn */
    CHECK var1+3(%rip), $1, 75             /* the write did happen (01 00 over the 01 at +4) */

    /* --- MOV DR: DR4/DR5 alias DR6/DR7 without CR4.DE, #UD with it; #GP for bits 63:32 of
     * DR7; DR7.GD makes the next MOV DR a #DB fault with DR6.BD --- */
    movq $0, hook(%rip)
    mov $0x155, %eax
    mov %rax, %dr7
    .byte 0x0f, 0x21, 0xe8                 /* mov %dr5, %rax */
    CHECK %rax, $0x555, 80                 /* reads as DR7 (bit 10 set) */
    xor %eax, %eax
    mov %rax, %dr7
    mov %cr4, %rax
    or $0x8, %rax                          /* CR4.DE */
    mov %rax, %cr4
    EXPECT_FAULT 1f
    .byte 0x0f, 0x21, 0xe0                 /* mov %dr4, %rax */
1:  FAULT_CHECK 6, 0, 81
    mov %cr4, %rax
    and $~0x8, %rax
    mov %rax, %cr4
    EXPECT_FAULT 1f
    movabs $0x100000000, %rax
    mov %rax, %dr7
1:  FAULT_CHECK 13, 0, 83
    xor %eax, %eax
    mov %rax, %dr6
    mov $0x2000, %eax                      /* GD */
    mov %rax, %dr7
    EXPECT_FAULT 1f
g1: mov %dr0, %rax
1:  FAULT_CHECK 1, 0, 85
    lea g1(%rip), %rax
    CHECK last_rip(%rip), %rax, 87         /* a fault: before the MOV */
    mov %dr6, %rax
    and $0x2000, %eax
    CHECK %rax, $0x2000, 88                /* DR6.BD */
    mov %dr7, %rax
    CHECK %rax, $0x400, 89                 /* GD cleared by the #DB */
    mov last_rflags(%rip), %rax
    and $0x10000, %eax
    CHECK %rax, $0x10000, 90               /* a fault: RF in the pushed RFLAGS */

    /* --- RF in frames: set for faults, as it was (clear) for traps and INT3 --- */
    EXPECT_FAULT 1f
    ud2
1:  FAULT_CHECK 6, 0, 91
    mov last_rflags(%rip), %rax
    and $0x10000, %eax
    CHECK %rax, $0x10000, 92
    EXPECT_FAULT 1f
    int3
1:  FAULT_CHECK 3, 0, 93
    mov last_rflags(%rip), %rax
    and $0x10000, %eax
    CHECK %rax, $0, 94

    /* --- an instruction breakpoint on a faulting instruction: #DB (RF clear in its frame);
     * the handler sets RF; the instruction then runs and faults, pushing RF set --- */
    TRACE_RESET
    movq $0, trace_dr6(%rip)
    lea rf_hook(%rip), %rax
    mov %rax, hook(%rip)
    lea h1(%rip), %rax
    mov %rax, %dr0
    mov $0x1, %eax
    mov %rax, %dr7
    EXPECT_FAULT 1f
h1: ud2
1:  xor %eax, %eax
    mov %rax, %dr7
    CHECK trace_n(%rip), $2, 100
    TRACE_AT 0, h1, 1, 101
    TRACE_AT 1, h1, 6, 102
    mov last_rflags(%rip), %rax            /* the #UD's frame */
    and $0x10000, %eax
    CHECK %rax, $0x10000, 103
    mov trace_rflags(%rip), %rax           /* the #DB's frame, as pushed */
    and $0x10000, %eax
    CHECK %rax, $0, 104
    mov trace_bs(%rip), %rax
    and $0xff, %eax
    CHECK %rax, $1, 105                    /* DR6.B0 */

    /* --- I/O breakpoints (R/W 10, with CR4.DE): traps after the access, DR6.Bn --- */
    TRACE_RESET
    lea trace_hook(%rip), %rax
    mov %rax, hook(%rip)
    mov %cr4, %rax
    or $0x8, %rax
    mov %rax, %cr4
    mov $0x80, %eax
    mov %rax, %dr1                         /* DR1: port 0x80, 1 byte */
    mov $0x85, %eax
    mov %rax, %dr2                         /* DR2: ports 0x84-0x87 (aligned down) */
    mov $((1 << 2) | (1 << 4) | (0x2 << 20) | (0x0 << 22) | (0x2 << 24) | (0x3 << 26)), %eax
    mov %rax, %dr7
    out %al, $0x81                         /* nothing */
    out %al, $0x80
i1: nop
    mov $0x86, %edx
    in %dx, %ax                            /* 0x86-0x87: DR2 */
i2: nop
    mov $0x80, %edx
    lea var1(%rip), %rsi
    outsb                                  /* DR1 */
i3: nop
    out %al, $0x88                         /* past DR2: nothing */
    xor %eax, %eax
    mov %rax, %dr7
    CHECK trace_n(%rip), $3, 110
    TRACE_AT 0, i1, 1, 111
    TRACE_AT 1, i2, 1, 112
    TRACE_AT 2, i3, 1, 113
    CHECK trace_bs(%rip), $(2 | (4 << 8) | (2 << 16)), 114 /* B1, B2, B1 */
    mov %cr4, %rax                         /* R/W 10 without CR4.DE: no breakpoint */
    and $~0x8, %rax
    mov %rax, %cr4
    TRACE_RESET
    mov $((1 << 2) | (0x2 << 20)), %eax
    mov %rax, %dr7
    out %al, $0x80
    xor %eax, %eax
    mov %rax, %dr7
    CHECK trace_n(%rip), $0, 115
    movq $0, hook(%rip)
    ret

/* For the breakpoint on a faulting instruction: record; set RF and return to a #DB; let any
 * other exception recover. */
rf_hook:
    xor %eax, %eax
    cmpq $1, last_vec(%rip)
    sete %al
    mov %rax, set_rf(%rip)
    call trace_hook
    movq $0, set_rf(%rip)
    cmpq $1, last_vec(%rip)
    setne %al
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
2:  mov %dr6, %rax                         /* B0-B3 of each event, a byte each */
    and $0xf, %eax
    mov %rax, trace_b(%rip)
    mov trace_n(%rip), %rcx
    dec %rcx
    shl $3, %rcx
    shl %cl, %rax
    or %rax, trace_bs(%rip)
    xor %eax, %eax
    mov %rax, %dr6
    cmpq $0, set_rf(%rip)
    je 3f
    mov last_frame(%rip), %rax
    orq $0x10000, 16(%rax)                 /* RF in the pushed RFLAGS */
3:  xor %eax, %eax
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
set_rf: .quad 0
e_count: .quad 0
trace_b: .quad 0
trace_bs: .quad 0
var1: .quad 0
var2: .quad 0
var3: .quad 0, 0
trace_rip: .skip 8 * 32
trace_vec: .skip 8 * 32
