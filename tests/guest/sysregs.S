/* sysregs.S — system registers and instructions at CPL 0: descriptor-table registers, TR/LDTR,
 * control/debug registers with reserved-bit faults, CPUID leaves, TSC, MSRs, SWAPGS, segment
 * loads with their fault error codes, PUSH/POP FS/GS, LFS, far JMP/CALL/RET, SMSW/LMSW/CLTS,
 * port and string I/O, CLI/STI, INT3/INT n, UD2, RDRAND, RDTSCP. */
#include "lib.inc"

    .text
    .globl test_main
test_main:
    /* --- GDTR/IDTR, TR, LDTR --- */
    sgdt buf(%rip)
    movzwl buf(%rip), %eax
    CHECK %rax, $(gdt_end - gdt - 1), 1
    lea gdt(%rip), %rbx
    CHECK buf+2(%rip), %rbx, 2
    sidt buf(%rip)
    movzwl buf(%rip), %eax
    CHECK %rax, $4095, 3
    lea idt(%rip), %rbx
    CHECK buf+2(%rip), %rbx, 4
    xor %eax, %eax
    str %eax
    CHECK %rax, $TSSSEL, 5
    movzbl gdt+TSSSEL+5(%rip), %eax
    CHECK %rax, $0x8B, 6 /* ltr marked the TSS busy */
    sldt %eax
    CHECK %rax, $0, 7
    mov $LDTSEL, %ax
    lldt %ax
    sldt %eax
    CHECK %rax, $LDTSEL, 8
    mov $0x04, %ax /* LDT entry 0 */
    mov %ax, %ds
    mov %ds, %eax
    CHECK %rax, $0x04, 9
    mov $KDATA, %ax
    mov %ax, %ds
    /* ltr of a busy TSS: #GP(sel) */
    EXPECT_FAULT 1f
    mov $TSSSEL, %ax
    ltr %ax
1:  FAULT_CHECK 13, TSSSEL, 10

    /* --- control registers --- */
    mov %cr0, %rax
    CHECK %rax, $0x80000033, 12
    mov %cr4, %rax
    CHECK %rax, $0x6A0, 13
    EXPECT_FAULT 1f
    or $1, %rax /* VME: not advertised */
    mov %rax, %cr4
1:  FAULT_CHECK 13, 0, 14
    mov %cr4, %rax
    CHECK %rax, $0x6A0, 16
    EXPECT_FAULT 1f
    mov %cr0, %rax
    bts $32, %rax
    mov %rax, %cr0
1:  FAULT_CHECK 13, 0, 17
    EXPECT_FAULT 1f
    mov %cr0, %rax
    btr $0, %rax /* PG without PE */
    mov %rax, %cr0
1:  FAULT_CHECK 13, 0, 19
    EXPECT_FAULT 1f
    mov %cr4, %rax
    btr $5, %rax /* clearing PAE in long mode */
    mov %rax, %cr4
1:  FAULT_CHECK 13, 0, 21
    mov %cr3, %rax
    CHECK %rax, $0x1000, 23
    EXPECT_FAULT 1f
    bts $62, %rax
    mov %rax, %cr3
1:  FAULT_CHECK 13, 0, 24
    mov %cr3, %rax
    CHECK %rax, $0x1000, 26
    mov $5, %eax
    mov %rax, %cr8
    mov %cr8, %rbx
    CHECK %rbx, $5, 27
    EXPECT_FAULT 1f
    mov $16, %eax
    mov %rax, %cr8
1:  FAULT_CHECK 13, 0, 28
    xor %eax, %eax
    mov %rax, %cr8
    mov %cr2, %rax
    mov $0x123456789, %rbx
    mov %rbx, %cr2
    mov %cr2, %rcx
    CHECK %rcx, %rbx, 30

    /* --- debug registers --- */
    mov $0xdeadbeef000, %rax
    mov %rax, %dr0
    mov %dr0, %rbx
    CHECK %rbx, %rax, 31
    mov %dr7, %rax
    CHECK %rax, $0x400, 32
    mov %dr6, %rax
    CHECK %rax, $0xFFFF0FF0, 33
    mov %dr4, %rax /* aliases DR6 while CR4.DE = 0 */
    CHECK %rax, $0xFFFF0FF0, 34
    mov %cr4, %rax
    bts $3, %rax
    mov %rax, %cr4
    EXPECT_FAULT 1f
    mov %dr4, %rax
1:  FAULT_CHECK 6, 0, 35
    mov %cr4, %rax
    btr $3, %rax
    mov %rax, %cr4
    EXPECT_FAULT 1f
    mov $0x100000000, %rax
    mov %rax, %dr7
1:  FAULT_CHECK 13, 0, 37

    /* --- CPUID --- */
    xor %eax, %eax
    cpuid
    CHECK %rbx, $0x756e6547, 40
    CHECK %rdx, $0x49656e69, 41
    CHECK %rcx, $0x6c65746e, 42
    mov $0x40000000, %eax
    cpuid
    CHECK %rax, $0x40000001, 43
    CHECK %rbx, $0x4b4d564b, 44
    CHECK %rcx, $0x564b4d56, 45
    CHECK %rdx, $0x4d, 46
    mov $0x40000001, %eax
    cpuid
    CHECK %rax, $0x01000008, 47
    mov $1, %eax
    cpuid
    mov %rdx, %rax
    and $0x07000000, %eax /* fxsr sse sse2 */
    CHECK %rax, $0x07000000, 48
    mov %rcx, %rax
    and $0x84200000, %eax /* hypervisor, xsave, x2apic(0) (avx: only where the host has it) */
    CHECK %rax, $0x84000000, 49
    shr $24, %rbx
    CHECK %rbx, $0, 50 /* APIC id = vCPU id */
    mov $0x80000001, %eax
    cpuid
    mov %rdx, %rax
    and $0x28100800, %eax /* lm rdtscp nx syscall */
    CHECK %rax, $0x28100800, 51
    mov $0x80000008, %eax
    cpuid
    and $0xffff, %eax
    CHECK %rax, $0x3028, 52
    mov $0x80000002, %eax
    cpuid
    CHECK %rax, $0x73736576, 53
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    mov %rbx, %rax
    and $0x00300081, %eax /* fsgsbase, smep (smep.S), smap (smap.S) on; avx512ifma off */
    CHECK %rax, $0x100081, 54

    /* --- TSC, MSRs, SWAPGS --- */
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    mov %rdx, %rbx
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    cmp %rbx, %rdx
    setae %al
    movzbl %al, %eax
    CHECK %rax, $1, 60
    mov $0xC0000080, %ecx
    rdmsr
    CHECK %rax, $0xD01, 61
    mov $0xC0000081, %ecx
    rdmsr
    CHECK %rdx, $0x00180008, 62
    EXPECT_FAULT 1f
    mov $0x12345, %ecx
    rdmsr
1:  FAULT_CHECK 13, 0, 63
    mov $0xC0000102, %ecx
    mov $0x1234, %eax
    xor %edx, %edx
    wrmsr
    swapgs
    mov $0xC0000101, %ecx
    rdmsr
    CHECK %rax, $0x1234, 65
    swapgs
    rdmsr
    CHECK %rax, $0, 66
    mov $0xC0000103, %ecx /* TSC_AUX */
    mov $7, %eax
    xor %edx, %edx
    wrmsr
    rdtscp
    CHECK %rcx, $7, 67

    /* --- UD2, INT3, INT n --- */
    EXPECT_FAULT 1f
2:  ud2
1:  FAULT_CHECK 6, 0, 70
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 72
    EXPECT_FAULT 2f
    int3
2:  CHECK last_vec(%rip), $3, 73
    lea 2b(%rip), %rax
    CHECK last_rip(%rip), %rax, 74 /* trap: return address after int3 */
    EXPECT_FAULT 2f
    int $0x41
2:  CHECK last_vec(%rip), $0x41, 75

    /* --- segment loads and their faults --- */
    EXPECT_FAULT 1f
    mov $0x1000, %ax /* beyond the GDT limit */
    mov %ax, %ds
1:  FAULT_CHECK 13, 0x1000, 80
    EXPECT_FAULT 1f
    mov $NPDATA, %ax
    mov %ax, %ds
1:  FAULT_CHECK 11, NPDATA, 82
    EXPECT_FAULT 1f
    mov $NPDATA, %ax
    mov %ax, %ss
1:  FAULT_CHECK 12, NPDATA, 84
    EXPECT_FAULT 1f
    mov $U3DATA, %ax /* SS DPL must equal CPL */
    mov %ax, %ss
1:  FAULT_CHECK 13, U3DATA, 86
    EXPECT_FAULT 1f
    mov $(KDATA | 3), %ax /* SS RPL must equal CPL */
    mov %ax, %ss
1:  FAULT_CHECK 13, KDATA, 88
    EXPECT_FAULT 1f
    mov $XCODE, %ax /* execute-only code is not readable */
    mov %ax, %ds
1:  FAULT_CHECK 13, XCODE, 90
    EXPECT_FAULT 1f
    mov $KCODE, %ax /* code into SS */
    mov %ax, %ss
1:  FAULT_CHECK 13, KCODE, 92
    EXPECT_FAULT 1f
    .byte 0x8e, 0xc8 /* mov %ax, %cs */
1:  FAULT_CHECK 6, 0, 94
    mov $U3DATA, %ax
    mov %ax, %es /* DPL 3 data is fine at CPL 0 */
    mov %es, %eax
    CHECK %rax, $U3DATA, 96
    mov $KCODE, %ax
    mov %ax, %es /* readable code is fine */
    xor %eax, %eax
    mov %ax, %es /* null selector is fine */
    mov %es, %ebx
    CHECK %rbx, $0, 97
    mov %ax, %ss /* null SS at CPL 0 in 64-bit mode */
    mov %ss, %ebx
    CHECK %rbx, $0, 98
    mov $KDATA, %ax
    mov %ax, %ss
    mov %ax, %es
    verr %ax
    setz %bl
    movzbl %bl, %ebx
    CHECK %rbx, $1, 99
    mov $KCODE, %ax
    verw %ax
    setz %bl
    movzbl %bl, %ebx
    CHECK %rbx, $0, 100
    mov $XCODE, %ax
    verr %ax
    setz %bl
    movzbl %bl, %ebx
    CHECK %rbx, $0, 101

    /* --- PUSH/POP FS/GS, LFS --- */
    mov $KDATA, %ax
    mov %ax, %fs
    push %fs
    pop %gs
    mov %gs, %eax
    CHECK %rax, $KDATA, 102
    mov %rsp, %rbx
    pushq $NPDATA
    EXPECT_FAULT 1f
    pop %fs
1:  FAULT_CHECK 11, NPDATA, 103
    lea 8(%rsp), %rax
    CHECK %rax, %rbx, 105 /* pop fs did not move RSP */
    add $8, %rsp
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    .byte 0x48 /* REX.W: m16:64 */
    lfs farp64(%rip), %eax
    CHECK %rax, $0x1234, 106
    mov %fs, %eax
    CHECK %rax, $KDATA, 107
    xor %eax, %eax
    mov %ax, %fs

    /* --- far JMP/CALL/RET --- */
    ljmp *farjmp(%rip)
    mov $108, %eax /* not reached */
    jmp fatal
far_target:
    mov %cs, %eax
    CHECK %rax, $KCODE, 109
    mov %rsp, %rbx
    lcall *farcall(%rip)
    mov %rsp, %rcx
    CHECK %rcx, %rbx, 110
    CHECK saved_rsp(%rip), $-8, 111 /* callee saw two 4-byte pushes */
    EXPECT_FAULT 1f
    ljmp *farbad(%rip) /* DPL 3 code from CPL 0 */
1:  FAULT_CHECK 13, UCODE64, 112

    /* --- SMSW/LMSW/CLTS --- */
    smsw %eax
    CHECK %rax, $0x80000033, 114
    mov $0x3b, %eax /* PE MP TS | reserved */
    lmsw %ax
    mov %cr0, %rax
    CHECK %rax, $0x8000003b, 115
    clts
    mov %cr0, %rax
    CHECK %rax, $0x80000033, 116
    wbinvd
    invd
    invlpg (0x12345000)

    /* --- port and string I/O --- */
    in $P_CNT, %al
    movzbl %al, %ebx
    mov $P_CNT, %dx
    lea iobuf(%rip), %rdi
    mov $4, %ecx
    cld
    rep insb
    CHECK %rcx, $0, 117
    lea iobuf+4(%rip), %rax
    CHECK %rdi, %rax, 118
    movzbl iobuf+3(%rip), %eax
    sub %ebx, %eax
    CHECK %rax, $4, 119
    movl $0x01020304, iobuf(%rip)
    lea iobuf(%rip), %rsi
    mov $4, %ecx
    rep outsb
    in $0xE9, %eax
    CHECK %rax, $10, 120
    std
    lea iobuf+8(%rip), %rsi
    mov $2, %ecx
    movw $0x100, iobuf+8(%rip)
    movw $0x200, iobuf+6(%rip)
    rep outsw
    cld
    in $0xE9, %eax
    CHECK %rax, $0x30a, 121
    lea iobuf+4(%rip), %rax
    CHECK %rsi, %rax, 122

    /* --- CLI/STI --- */
    cli
    pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0, 123
    sti
    nop
    pushfq
    pop %rax
    and $0x200, %eax
    CHECK %rax, $0x200, 124
    cli

    /* --- RDRAND, advertised and working --- */
    mov $1, %eax
    cpuid
    bt $30, %ecx
    setc %al
    movzbl %al, %eax
    CHECK %rax, $1, 125
    clc
    rdrand %rax
    setc %al
    movzbl %al, %eax
    CHECK %rax, $1, 126

    /* --- LAR/LSL --- */
    mov $KDATA, %eax
    lsl %eax, %ebx
    CHECK %rbx, $0xffffffff, 127
    lar %eax, %ebx
    CHECK %rbx, $0x00C09300, 128
    mov $TSSSEL, %eax
    lsl %eax, %ebx
    CHECK %rbx, $103, 129
    mov $0x1000, %eax
    mov $77, %ebx
    lsl %eax, %ebx
    setz %cl
    movzbl %cl, %ecx
    CHECK %rcx, $0, 130
    CHECK %rbx, $77, 131

    /* --- IN sizes: 8/16-bit merge into RAX, 32-bit zero-extends --- */
    mov $-1, %rax
    in $P_CNT, %ax
    shr $16, %rax
    CHECK %rax, $0xffffffffffff, 132
    mov $-1, %rax
    mov $P_CNT, %dx
    in %dx, %eax
    shr $32, %rax
    CHECK %rax, $0, 133

    /* --- REP INSB that faults midway: RCX/RDI at the faulting iteration, no lost read --- */
    in $P_CNT, %al
    movzbl %al, %ebx
    EXPECT_FAULT 1f
    mov $0x3FFFFFFE, %rdi /* two bytes below the unmapped 1 GiB..2 GiB */
    mov $4, %ecx
    mov $P_CNT, %dx
    rep insb
1:  FAULT_CHECK 14, 2, 134
    CHECK %rcx, $2, 136
    CHECK %rdi, $0x40000000, 137
    in $P_CNT, %al
    movzbl %al, %eax
    sub %ebx, %eax
    CHECK %rax, $3, 138 /* two stored reads + this one */
    CHECK last_cr2(%rip), $0x40000000, 139

    /* --- IRETD (4-byte frame) and LRETQ imm16 --- */
    mov %rsp, %rbx
    sub $20, %rsp
    lea 2f(%rip), %rax
    mov %eax, (%rsp)
    movl $KCODE, 4(%rsp)
    movl $0x2, 8(%rsp)
    mov %ebx, 12(%rsp)
    movl $KDATA, 16(%rsp)
    iretl
2:  mov %rsp, %rcx
    CHECK %rcx, %rbx, 140
    sub $16, %rsp /* 16 bytes the return releases */
    pushq $KCODE
    lea 2f(%rip), %rax
    push %rax
    lretq $16
2:  mov %rsp, %rcx
    CHECK %rcx, %rbx, 141
    ret

far_callee:
    lea 0(%rsp), %rax
    sub %rbx, %rax
    mov %rax, saved_rsp(%rip)
    lretl

    .data
    .align 8
buf: .skip 16
iobuf: .skip 16
saved_rsp: .quad 0
farp64: .quad 0x1234
    .word KDATA
farjmp: .long far_target
    .word KCODE
farcall: .long far_callee
    .word KCODE
farbad: .long far_target
    .word UCODE64
