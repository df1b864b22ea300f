/* smp.S — a bare-metal SMP test for the whole board (GNU as, AT&T), run as a "kernel" ELF by
 * `vessel run --cpus N --append ncpu=N` (tests/guest/smp_run.sh). Unlike the other programs
 * here it does not use lib.inc or guest_runner: it needs the real board (LAPICs, the APIC bus,
 * the ACPI tables and the multiprocessor wakeup mailbox) and vessel's own vCPU threads.
 *
 * The BSP enters in 64-bit mode (the Linux 64-bit boot protocol: RSI = the zero page, 0-4 GiB
 * identity-mapped). It finds the MADT through the zero page's RSDP address, counts the local
 * APICs (checks the count is the command line's ncpu=N) and finds the wakeup mailbox, then
 * wakes every AP through it into 64-bit code (ap_entry, on the firmware's identity map). All
 * CPUs then hammer shared memory: lock xadd, a lock cmpxchg retry loop, an xchg spin lock
 * around a plain increment, lock add, lock cmpxchg16b on a pair, lock bts/btr on a per-CPU bit
 * of one shared word; the BSP checks the exact totals. Then IPIs: the BSP sends a fixed IPI
 * (vector 0x40) to each AP by physical APIC id and once more to all but itself by shorthand;
 * every AP answers each with a fixed IPI to the BSP (vector 0x50 + its APIC id: answers of
 * several APs with one vector could merge in the BSP's IRR); the counts are checked.
 *
 * The command line's iter=K sets the iterations per CPU (default 20000): tests/guest/
 * smp_snapshot.sh makes the run long, snapshots it while every CPU hammers the counters, and
 * restores it in a new process, where the totals must still come out exact.
 *
 * Report: lines on COM1 ("smp: ok N" at the end, "smp: FAIL <check> <value>" on a failure),
 * then power-off through the ACPI sleep register. */

#define COM1      0x3f8
#define PM_SLEEP  0x600
#define LAPIC     0xfee00000
#define ITER      20000
#define MAXCPU    32
#define STACKSZ   0x2000

.code64
.text
.globl _start
_start:
    cli
    mov $bsp_stack_top, %rsp
    mov %rsi, zero_page
    call build_idt
    call load_tables
    lea msg_start(%rip), %rdi
    call puts

    /* N from the command line's "ncpu=" */
    mov zero_page, %rsi
    mov 0x228(%rsi), %esi          /* cmd_line_ptr */
    mov $0x7570636e, %edi          /* "ncpu" */
    mov $1, %edx
    call parse_key
    mov %rax, want_cpus
    /* iterations per CPU from "iter=" (a long run for the snapshot test) */
    mov zero_page, %rsi
    mov 0x228(%rsi), %esi
    mov $0x72657469, %edi          /* "iter" */
    mov $ITER, %edx
    call parse_key
    mov %rax, iters

    /* MADT: count local APICs, remember their ids and the mailbox */
    call find_madt
    test %rax, %rax
    jnz 1f
    mov $1, %edi
    xor %esi, %esi
    call fail
1:  mov %rax, %rbx                 /* MADT */
    mov 4(%rbx), %ecx              /* length */
    lea 44(%rbx), %rsi
    add %rbx, %rcx                 /* end */
2:  cmp %rcx, %rsi
    jae 4f
    movzbl (%rsi), %eax
    cmp $0, %al
    jne 3f
    testb $1, 4(%rsi)              /* enabled */
    jz 3f
    movzbl 3(%rsi), %edx           /* APIC id */
    mov ncpus, %rax
    mov %rdx, apic_ids(,%rax,8)
    incq ncpus
    jmp 3f
3:  cmpb $0x10, (%rsi)
    jne 5f
    mov 8(%rsi), %rax
    mov %rax, mailbox
5:  movzbl 1(%rsi), %eax
    add %rax, %rsi
    jmp 2b
4:  mov ncpus, %rsi
    cmp want_cpus, %rsi
    je 6f
    mov $2, %edi
    call fail
6:  cmpq $1, ncpus
    je 7f
    cmpq $0, mailbox
    jne 7f
    mov $3, %edi
    xor %esi, %esi
    call fail
7:
    call lapic_enable

    /* wake every AP with an id other than ours through the mailbox */
    mov $1, %r12
8:  cmp ncpus, %r12
    jae 9f
    mov mailbox, %rbx
    mov apic_ids(,%r12,8), %rax
    movl %eax, 4(%rbx)
    movq $ap_entry, 8(%rbx)
    movw $1, (%rbx)                /* wakeup */
10: pause
    cmpw $0, (%rbx)                /* the firmware acknowledges */
    jne 10b
    inc %r12
    jmp 8b
9:
    /* all APs alive */
    mov ncpus, %rax
    dec %rax
11: pause
    cmp ap_alive, %rax
    jne 11b
    lea msg_alive(%rip), %rdi
    call puts

    movq $1, go
    call work
    lock incq done
    mov ncpus, %rax
12: pause
    cmp done, %rax
    jne 12b

    /* exact totals */
    mov ncpus, %rax
    imul iters, %rax
    mov %rax, %r13                 /* N * iterations */
    mov counter_xadd, %rsi
    mov $10, %edi
    cmp %r13, %rsi
    jne 20f
    mov counter_cas, %rsi
    mov $11, %edi
    cmp %r13, %rsi
    jne 20f
    mov counter_locked, %rsi
    mov $12, %edi
    cmp %r13, %rsi
    jne 20f
    mov counter_add, %rsi
    mov $13, %edi
    cmp %r13, %rsi
    jne 20f
    mov pair, %rsi
    mov $14, %edi
    cmp %r13, %rsi
    jne 20f
    mov pair+8, %rsi
    mov $15, %edi
    cmp %r13, %rsi
    jne 20f
    mov bit_errors, %rsi
    mov $16, %edi
    test %rsi, %rsi
    jnz 20f
    mov bitword, %rsi
    mov $17, %edi
    test %rsi, %rsi
    jnz 20f
    mov xadd_sum, %rsi             /* sum of the values lock xadd handed out: 0..N*ITER-1 */
    mov %r13, %rax
    dec %rax
    imul %r13, %rax
    shr $1, %rax
    mov $18, %edi
    cmp %rax, %rsi
    jne 20f
    lea msg_atomics(%rip), %rdi
    call puts

    /* IPIs: a fixed IPI to each AP by physical id, then one to all but self */
    sti
    mov $1, %r12
21: cmp ncpus, %r12
    jae 22f
    mov apic_ids(,%r12,8), %rdi
    mov $0x40, %esi
    call send_ipi
    inc %r12
    jmp 21b
22: mov ncpus, %rax               /* answered (a second IPI of the same vector before the first
                                      is taken would merge with it in IRR) */
    dec %rax
26: pause
    cmp bsp_ipis, %rax
    ja 26b
    xor %eax, %eax
    movabs %eax, LAPIC + 0x310
    mov $(0x40 | (3 << 18)), %eax  /* all excluding self */
    movabs %eax, LAPIC + 0x300
    /* every AP got two and answered both */
    mov ncpus, %rax
    dec %rax
    add %rax, %rax
23: pause
    cmp bsp_ipis, %rax
    ja 23b
    cli
    mov bsp_ipis, %rsi
    mov $30, %edi
    cmp %rax, %rsi
    jne 20f
    mov $1, %r12
24: cmp ncpus, %r12
    jae 25f
    mov apic_ids(,%r12,8), %rax
    mov ap_ipis(,%rax,8), %rsi
    mov $31, %edi
    cmp $2, %rsi
    jne 20f
    inc %r12
    jmp 24b
25: mov ap_ipis, %rsi              /* the BSP's own: none (all but self) */
    mov $32, %edi
    test %rsi, %rsi
    jnz 20f
    lea msg_ok(%rip), %rdi
    call puts
    mov ncpus, %rdi
    call putdec
    mov $'\n', %dil
    call putc
    jmp poweroff
20: call fail

poweroff:
    mov $PM_SLEEP, %dx
    mov $((5 << 2) | 0x20), %al
    outb %al, %dx
1:  hlt
    jmp 1b

/* ---- application processors ---- */
ap_entry:
    /* the firmware's 64-bit state: no stack; take an index and its stack first */
    mov $1, %eax
    lock xadd %eax, ap_next
    mov %rax, %rsp
    inc %rsp
    imul $STACKSZ, %rsp
    add $ap_stacks, %rsp
    call load_tables
    call lapic_enable
    lock incq ap_alive
1:  pause
    cmpq $0, go
    je 1b
    call work
    lock incq done
    sti
2:  hlt
    jmp 2b

/* ---- the shared-memory workload (every CPU) ---- */
work:
    push %rbx
    push %r12
    /* my bit: APIC id */
    movabs LAPIC + 0x20, %eax
    shr $24, %eax
    mov %eax, %r12d
    mov iters, %rcx
1:
    /* lock xadd: a unique ticket each time; sum them */
    mov $1, %eax
    lock xadd %rax, counter_xadd
    lock add %rax, xadd_sum
    /* lock cmpxchg retry loop */
    mov counter_cas, %rax
2:  lea 1(%rax), %rdx
    lock cmpxchg %rdx, counter_cas
    jnz 2b
    /* xchg spin lock around a plain increment */
3:  mov $1, %eax
    xchg %eax, spin
    test %eax, %eax
    jz 4f
    pause
    jmp 3b
4:  mov counter_locked, %rax
    inc %rax
    mov %rax, counter_locked
    movl $0, spin
    /* lock add */
    lock addq $1, counter_add
    /* lock cmpxchg16b: both halves + 1 */
    push %rcx
    mov pair, %rax
    mov pair+8, %rdx
5:  lea 1(%rax), %rbx
    lea 1(%rdx), %rcx
    lock cmpxchg16b pair
    jnz 5b
    pop %rcx
    /* lock bts / btr on my own bit of a shared word: always clear before, set after */
    lock btsq %r12, bitword
    jnc 6f
    lock incq bit_errors
6:  lock btrq %r12, bitword
    jc 7f
    lock incq bit_errors
7:  dec %rcx
    jnz 1b
    pop %r12
    pop %rbx
    ret

/* ---- interrupts ---- */
/* 0x40 on an AP: count it by APIC id, EOI, answer the BSP with 0x50 + APIC id */
isr_ipi:
    push %rax
    push %rdi
    push %rsi
    movabs LAPIC + 0x20, %eax
    shr $24, %eax
    lock incq ap_ipis(,%rax,8)
    lea 0x50(%rax), %esi
    xor %eax, %eax
    movabs %eax, LAPIC + 0xb0
    xor %edi, %edi           /* a vector of its own: answers from several APs at once
                                      would merge in one IRR bit */
    call send_ipi
    pop %rsi
    pop %rdi
    pop %rax
    iretq

isr_answer:
    push %rax
    lock incq bsp_ipis
    xor %eax, %eax
    movabs %eax, LAPIC + 0xb0
    pop %rax
    iretq

isr_other:
    mov $40, %edi
    mov (%rsp), %rsi
    call fail

/* send_ipi(dest rdi, vector rsi): fixed, physical */
send_ipi:
    push %rax
    mov %edi, %eax
    shl $24, %eax
    movabs %eax, LAPIC + 0x310
    mov %esi, %eax
    movabs %eax, LAPIC + 0x300
    pop %rax
    ret

lapic_enable:
    movabs LAPIC + 0xf0, %eax
    or $0x1ff, %eax
    movabs %eax, LAPIC + 0xf0
    ret

/* GDT (code 0x08, data 0x10), data segments and the IDT, for any CPU; returns with CS 0x08 */
load_tables:
    lgdt gdtr
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    lidt idtr
    pop %rax
    push $0x08
    push %rax
    lretq

/* gate `edi` -> handler rsi: 64-bit interrupt gate, CS 0x08 */
set_gate:
    shl $4, %edi
    add $idt, %rdi
    mov %esi, %eax
    and $0xffff, %eax
    or $(0x08 << 16), %eax
    mov %eax, (%rdi)
    mov %esi, %eax
    and $0xffff0000, %eax
    or $0x8e00, %eax
    mov %eax, 4(%rdi)
    mov %rsi, %rax
    shr $32, %rax
    mov %eax, 8(%rdi)
    movl $0, 12(%rdi)
    ret

build_idt:
    push %rbx
    xor %ebx, %ebx
1:  mov %ebx, %edi
    mov $isr_other, %rsi
    call set_gate
    inc %ebx
    cmp $256, %ebx
    jb 1b
    mov $0x40, %edi
    mov $isr_ipi, %rsi
    call set_gate
    mov $0x50, %ebx
2:  mov %ebx, %edi
    mov $isr_answer, %rsi
    call set_gate
    inc %ebx
    cmp $(0x50 + MAXCPU), %ebx
    jb 2b
    pop %rbx
    ret

/* ---- the BSP's helpers ---- */

/* the XSDT's "APIC" table, or 0 */
find_madt:
    mov zero_page, %rax
    mov 0x70(%rax), %rax           /* acpi_rsdp_addr */
    mov 24(%rax), %rbx             /* XSDT */
    mov 4(%rbx), %ecx
    lea 36(%rbx), %rsi
    add %rbx, %rcx
1:  cmp %rcx, %rsi
    jae 2f
    mov (%rsi), %rax
    cmpl $0x43495041, (%rax)       /* "APIC" */
    je 3f
    add $8, %rsi
    jmp 1b
2:  xor %eax, %eax
3:  ret

/* the decimal after "KEY=" (edi: the 4-byte key) in the string at rsi, or rdx */
parse_key:
1:  cmpb $0, (%rsi)
    je 4f
    cmpl %edi, (%rsi)
    jne 2f
    cmpb $'=', 4(%rsi)
    jne 2f
    add $5, %rsi
    xor %eax, %eax
3:  movzbl (%rsi), %edx
    sub $'0', %edx
    cmp $9, %edx
    ja 5f
    imul $10, %rax
    add %rdx, %rax
    inc %rsi
    jmp 3b
2:  inc %rsi
    jmp 1b
4:  mov %rdx, %rax
5:  ret

/* fail(check edi, value rsi): report and power off */
fail:
    mov %rdi, %r12
    mov %rsi, %r13
    lea msg_fail(%rip), %rdi
    call puts
    mov %r12, %rdi
    call putdec
    mov $' ', %dil
    call putc
    mov %r13, %rdi
    call putdec
    mov $'\n', %dil
    call putc
    jmp poweroff

putc:
    mov $COM1, %dx
    mov %dil, %al
    outb %al, %dx
    ret

puts:
    mov %rdi, %rsi
1:  movzbl (%rsi), %edi
    test %edi, %edi
    jz 2f
    call putc
    inc %rsi
    jmp 1b
2:  ret

putdec:
    mov %rdi, %rax
    sub $32, %rsp
    lea 31(%rsp), %rsi
    movb $0, (%rsi)
    mov $10, %ecx
1:  xor %edx, %edx
    div %rcx
    add $'0', %dl
    dec %rsi
    mov %dl, (%rsi)
    test %rax, %rax
    jnz 1b
    mov %rsi, %rdi
    call puts
    add $32, %rsp
    ret

.data
.align 16
gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF       /* 0x08: 64-bit code */
    .quad 0x00CF93000000FFFF       /* 0x10: data */
gdt_end:
gdtr:
    .word gdt_end - gdt - 1
    .quad gdt
idtr:
    .word 256 * 16 - 1
    .quad idt

msg_start:   .asciz "smp: start\n"
msg_alive:   .asciz "smp: all CPUs up\n"
msg_atomics: .asciz "smp: atomics exact\n"
msg_ok:      .asciz "smp: ok "
msg_fail:    .asciz "smp: FAIL "

.align 8
zero_page:      .quad 0
want_cpus:      .quad 0
iters:          .quad 0
ncpus:          .quad 0
mailbox:        .quad 0
ap_next:        .quad 1
ap_alive:       .quad 0
go:             .quad 0
done:           .quad 0
bsp_ipis:       .quad 0
apic_ids:       .fill MAXCPU, 8, 0
ap_ipis:        .fill 256, 8, 0
.align 64
counter_xadd:   .quad 0
.align 64
xadd_sum:       .quad 0
.align 64
counter_cas:    .quad 0
.align 64
counter_locked: .quad 0
spin:           .long 0
.align 64
counter_add:    .quad 0
.align 16
pair:           .quad 0, 0
.align 64
bitword:        .quad 0
bit_errors:     .quad 0

.bss
.align 4096
idt:        .fill 256 * 16, 1, 0
            .fill 16384, 1, 0
bsp_stack_top:
ap_stacks:  .fill (MAXCPU + 1) * STACKSZ, 1, 0
