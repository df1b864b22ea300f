/* user.S — CPL 3: IRETQ to user mode (segment scrubbing), SYSCALL/SYSRETQ (RCX/R11, SFMASK,
 * selectors from STAR), SYSRETL to a compatibility-mode segment, SYSRET's non-canonical #GP,
 * SYSCALL #UD without EFER.SCE, INT n from user (gate DPL check, RSP0 stack switch, frame),
 * privileged instructions and I/O from user mode (#GP with IOPL 0 and 3), CR4.TSD, segment
 * loads and far returns that would raise privilege. */
#include "lib.inc"

.macro GATE vec, type, ist
    mov $\vec, %edi
    mov $\type, %esi
    mov $\ist, %edx
    call set_gate
.endm

/* Copy the last fault's vector and error code to slot, slot + 8 (user mode, IOPL 0). */
.macro SAVE_FAULT slot
    mov last_vec(%rip), %rax
    mov %rax, \slot(%rip)
    mov last_err(%rip), %rax
    mov %rax, \slot + 8(%rip)
.endm

    .text
    .globl test_main
test_main:
    GATE 0x81, 0xEE, 0                     /* user-callable gate */
    lea sys_handler(%rip), %rax
    mov %rax, sys_hook(%rip)

    /* --- user mode with IOPL 3 --- */
    lea user3(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x3002, %edx
    call enter_user
    CHECK $1, $1, 1
    mov %cs, %eax
    CHECK %rax, $KCODE, 2                  /* back through syscall */

    /* --- user mode with IOPL 0: faults recorded, checked here --- */
    lea user0(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x0002, %edx
    call enter_user
    CHECK r_in(%rip), $13, 3
    CHECK r_in+8(%rip), $0, 4
    CHECK r_out(%rip), $13, 5
    CHECK r_cli(%rip), $13, 6
    CHECK r_sti(%rip), $13, 7
    CHECK r_ins(%rip), $13, 8

    /* --- SYSRET with a non-canonical RCX: #GP(0) at CPL 0 --- */
    EXPECT_FAULT 1f
    mov $0x0000800000000000, %rcx
    mov $0x3002, %r11d
    sysretq
1:  FAULT_CHECK 13, 0, 9
    CHECK last_cs(%rip), $KCODE, 11

    /* --- SYSCALL without EFER.SCE: #UD --- */
    mov $0xC0000080, %ecx
    rdmsr
    btr $0, %eax
    wrmsr
    EXPECT_FAULT 1f
    syscall
1:  FAULT_CHECK 6, 0, 12
    mov $0xC0000080, %ecx
    rdmsr
    bts $0, %eax
    wrmsr

    /* --- SYSRETL lands in 32-bit user code (which raises #UD via ud2) --- */
    lea compat_hook(%rip), %rax
    mov %rax, hook(%rip)
    lea user_compat(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x3002, %edx
    call enter_user
    movq $0, hook(%rip)
    CHECK r_compat_cs(%rip), $(UCODE32 | 3), 14
    lea compat_target(%rip), %rax
    CHECK r_compat_rip(%rip), %rax, 15
    CHECK r_compat_ss(%rip), $(UDATA | 3), 16
    ret

/* SYSCALL hook at CPL 0 (on the user stack): rdi = 1 -> rax = rsi + 1 and record state;
 * rdi = 2 -> SYSRETL to compat_target. */
sys_handler:
    cmp $2, %rdi
    je 1f
    mov %cs, %eax
    mov %rax, r_sys_cs(%rip)
    mov %ss, %eax
    mov %rax, r_sys_ss(%rip)
    pushfq
    pop %rax
    mov %rax, r_sys_flags(%rip)
    lea 1(%rsi), %rax
    ret
1:  lea compat_target(%rip), %rcx
    mov $0x3002, %r11d
    sysretl

/* Exception hook for the compat test: record the frame, return to 64-bit user code. */
compat_hook:
    mov last_frame(%rip), %rax
    mov 8(%rax), %rbx
    mov %rbx, r_compat_cs(%rip)
    mov (%rax), %rbx
    mov %rbx, r_compat_rip(%rip)
    mov 32(%rax), %rbx
    mov %rbx, r_compat_ss(%rip)
    movq $(UCODE64 | 3), 8(%rax)
    lea compat_back(%rip), %rbx
    mov %rbx, (%rax)
    xor %eax, %eax                         /* iret as is */
    ret

    .code32
compat_target:
    ud2
    .code64

user_compat:
    mov $2, %edi
    mov $1, %eax
    syscall                                /* comes back in compat mode at compat_target */
compat_back:
    xor %eax, %eax
    syscall

user3:
    mov %cs, %eax
    CHECK %rax, $(UCODE64 | 3), 20
    mov %ss, %eax
    CHECK %rax, $(UDATA | 3), 21
    mov %ds, %eax
    CHECK %rax, $0, 22                     /* DPL-0 DS was scrubbed by iretq */

    /* SYSCALL/SYSRETQ round trip */
    stc
    mov $1, %edi
    mov $41, %esi
    mov $1, %eax
    syscall
2:  setc %bl
    movzbl %bl, %ebx
    CHECK %rbx, $1, 23                     /* RFLAGS came back from R11 */
    CHECK %rax, $42, 24
    lea 2b(%rip), %rcx
    CHECK last_sys_rcx(%rip), %rcx, 25
    mov last_sys_r11(%rip), %rax
    and $0x3003, %eax
    CHECK %rax, $0x3003, 26
    CHECK r_sys_cs(%rip), $KCODE, 27
    CHECK r_sys_ss(%rip), $KDATA, 28
    mov r_sys_flags(%rip), %rax
    and $0x3700, %eax                      /* SFMASK cleared TF IF DF, kept IOPL */
    CHECK %rax, $0x3000, 29
    mov %cs, %eax
    CHECK %rax, $(UCODE64 | 3), 30
    mov %ss, %eax
    CHECK %rax, $(UDATA | 3), 31

    /* INT n: DPL 0 gate -> #GP(vec*8+2); DPL 3 gate -> stack switch to RSP0 */
    EXPECT_FAULT 1f
    int $0x80
1:  FAULT_CHECK 13, (0x80 * 8 + 2), 32
    EXPECT_FAULT 1f
    int3                                   /* gate 3 is DPL 0 as well */
1:  FAULT_CHECK 13, (3 * 8 + 2), 34
    mov %rsp, %rbx
    EXPECT_FAULT 2f
    int $0x81
2:  CHECK last_vec(%rip), $0x81, 36
    CHECK last_frame(%rip), $(RSP0 - 40), 37
    CHECK last_cs(%rip), $(UCODE64 | 3), 38
    CHECK last_ss(%rip), $(UDATA | 3), 39
    CHECK last_rsp(%rip), %rbx, 40

    /* privileged instructions: #GP(0) */
    EXPECT_FAULT 1f
    hlt
1:  FAULT_CHECK 13, 0, 41
    EXPECT_FAULT 1f
    mov %cr0, %rax
1:  FAULT_CHECK 13, 0, 43
    EXPECT_FAULT 1f
    mov %rax, %cr3
1:  FAULT_CHECK 13, 0, 45
    EXPECT_FAULT 1f
    mov %dr7, %rax
1:  FAULT_CHECK 13, 0, 47
    EXPECT_FAULT 1f
    rdmsr
1:  FAULT_CHECK 13, 0, 49
    EXPECT_FAULT 1f
    swapgs
1:  FAULT_CHECK 13, 0, 51
    EXPECT_FAULT 1f
    lgdt gdt_ptr(%rip)
1:  FAULT_CHECK 13, 0, 53
    EXPECT_FAULT 1f
    clts
1:  FAULT_CHECK 13, 0, 55
    EXPECT_FAULT 1f
    invlpg (%rsp)
1:  FAULT_CHECK 13, 0, 57
    EXPECT_FAULT 1f
    wbinvd
1:  FAULT_CHECK 13, 0, 59
    EXPECT_FAULT 1f
    mov $TSSSEL, %ax
    ltr %ax
1:  FAULT_CHECK 13, 0, 61
    sgdt sgdt_buf(%rip)                    /* allowed: no UMIP */
    movzwl sgdt_buf(%rip), %eax
    CHECK %rax, $(gdt_end - gdt - 1), 63
    cli                                    /* allowed with IOPL 3 */
    pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0, 64

    /* segment loads and far transfers towards CPL 0 */
    EXPECT_FAULT 1f
    mov $KDATA, %ax
    mov %ax, %ds
1:  FAULT_CHECK 13, KDATA, 65
    mov $U3DATA | 3, %ax
    mov %ax, %ds
    mov %ds, %eax
    CHECK %rax, $(U3DATA | 3), 67
    EXPECT_FAULT 1f
    xor %eax, %eax
    mov %ax, %ss                           /* null SS at CPL 3 */
1:  FAULT_CHECK 13, 0, 68
    mov $(UDATA | 3), %ax
    mov %ax, %ss
    mov %ss, %eax
    CHECK %rax, $(UDATA | 3), 70
    mov %rsp, %rbx
    EXPECT_FAULT 1f
    pushq $KDATA
    push %rbx
    pushq $0x3002
    pushq $KCODE
    lea 2f(%rip), %rax
    push %rax
    iretq                                  /* RPL 0 < CPL 3 */
2:
1:  mov %rbx, %rsp
    FAULT_CHECK 13, KCODE, 71
    EXPECT_FAULT 1f
    pushq $KCODE
    lea 2f(%rip), %rax
    push %rax
    lretq
2:
1:  mov %rbx, %rsp
    FAULT_CHECK 13, KCODE, 73
    EXPECT_FAULT 1f
    ljmp *kfar(%rip)
1:  FAULT_CHECK 13, KCODE, 75
    /* a same-privilege iretq works */
    pushq $(UDATA | 3)
    push %rbx
    pushq $0x3202
    pushq $(UCODE64 | 3)
    lea 2f(%rip), %rax
    push %rax
    iretq
2:  pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 77                 /* IOPL 3: IF may change */
    mov %rsp, %rcx
    CHECK %rcx, %rbx, 78
    cli
    xor %eax, %eax
    syscall

user0:
    EXPECT_FAULT 1f
    in $0xE8, %al
1:  SAVE_FAULT r_in
    EXPECT_FAULT 1f
    out %al, $0xE8
1:  SAVE_FAULT r_out
    EXPECT_FAULT 1f
    cli
1:  SAVE_FAULT r_cli
    EXPECT_FAULT 1f
    sti
1:  SAVE_FAULT r_sti
    EXPECT_FAULT 1f
    mov $0xE8, %dx
    lea r_scratch(%rip), %rdi
    insb
1:  SAVE_FAULT r_ins
    xor %eax, %eax
    syscall

    .data
    .align 8
r_in: .quad -1, -1
r_out: .quad -1, -1
r_cli: .quad -1, -1
r_sti: .quad -1, -1
r_ins: .quad -1, -1
r_scratch: .quad 0
r_sys_cs: .quad 0
r_sys_ss: .quad 0
r_sys_flags: .quad 0
r_compat_cs: .quad 0
r_compat_rip: .quad 0
r_compat_ss: .quad 0
sgdt_buf: .skip 16
kfar: .long user3
    .word KCODE
