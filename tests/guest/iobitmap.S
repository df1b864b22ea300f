/* iobitmap.S — I/O permission at CPL 3 (what Linux's ioperm() and iopl() rely on): with
 * CPL > IOPL, IN/OUT/INS/OUTS consult the TSS I/O permission bitmap at io_map_base — every
 * port of a multi-byte access must be allowed, an access whose bitmap bytes lie beyond the TSS
 * limit is #GP(0) — while IOPL 3 reaches any port and CLI stays #GP(0) at IOPL 0 whatever
 * the bitmap says. Uses its own TSS with a 32-byte bitmap (ports 0-255). */
#include "lib.inc"

/* Copy the last fault's vector to slot (-1 if none), from user mode. */
.macro SAVE_VEC slot
    mov last_vec(%rip), %rax
    mov %rax, \slot(%rip)
.endm

#define IOMAP 104
#define TSSLIM (IOMAP + 32 + 1 - 1)

    .text
    .globl test_main
test_main:
    /* The bitmap: ports 0xE8, 0xEF and 0xF0 allowed, all others denied. */
    lea mytss + IOMAP(%rip), %rdi
    mov $0xff, %al
    mov $33, %ecx
    rep stosb
    andb $~0x01, mytss + IOMAP + 0x1D(%rip) /* 0xE8 */
    andb $~0x80, mytss + IOMAP + 0x1D(%rip) /* 0xEF */
    andb $~0x01, mytss + IOMAP + 0x1E(%rip) /* 0xF0 */
    movw $IOMAP, mytss + 0x66(%rip)
    movq $RSP0, mytss + 4(%rip)
    /* Its descriptor in place of lib.inc's TSS (type 9, available), then LTR. */
    lea mytss(%rip), %rax
    mov %rax, %rbx
    and $0xffffff, %rbx
    shl $16, %rbx
    or $TSSLIM, %rbx
    mov $0x89, %rcx
    shl $40, %rcx
    or %rcx, %rbx
    mov %rax, %rcx
    shr $24, %rcx
    and $0xff, %rcx
    shl $56, %rcx
    or %rcx, %rbx
    mov %rbx, gdt + TSSSEL(%rip)
    shr $32, %rax
    mov %rax, gdt + TSSSEL + 8(%rip)
    mov $TSSSEL, %ax
    ltr %ax

    lea user0(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x0002, %edx                      /* IOPL 0 */
    call enter_user
    CHECK r_in8(%rip), $-1, 1              /* in al, 0xE8: allowed */
    CHECK r_in16(%rip), $13, 2             /* in ax, 0xE8: 0xE9 denied */
    CHECK r_in9(%rip), $13, 3              /* in al, 0xE9 */
    CHECK r_span(%rip), $-1, 4             /* in ax, 0xEF: two bitmap bytes, both allowed */
    CHECK r_span32(%rip), $13, 5           /* in eax, 0xEF: 0xF1 denied */
    CHECK r_out(%rip), $-1, 6              /* out dx=0xE8 */
    CHECK r_outs(%rip), $-1, 7             /* outsb dx=0xE8 */
    CHECK r_ins(%rip), $13, 8              /* insb dx=0xE9 */
    CHECK r_far(%rip), $13, 9              /* port 0x400: beyond the TSS limit */
    CHECK r_cli(%rip), $13, 10             /* CLI: IOPL only */

    lea user3(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x3002, %edx                      /* IOPL 3 */
    call enter_user
    CHECK r_in9(%rip), $-1, 12             /* any port */
    CHECK r_far(%rip), $-1, 13
    ret

user0:
    mov $0xE8, %dx
    EXPECT_FAULT 1f
    in $0xE8, %al
1:  SAVE_VEC r_in8
    EXPECT_FAULT 1f
    in $0xE8, %ax
1:  SAVE_VEC r_in16
    EXPECT_FAULT 1f
    in $0xE9, %al
1:  SAVE_VEC r_in9
    EXPECT_FAULT 1f
    in $0xEF, %ax
1:  SAVE_VEC r_span
    EXPECT_FAULT 1f
    in $0xEF, %eax
1:  SAVE_VEC r_span32
    EXPECT_FAULT 1f
    mov $1, %eax
    out %al, %dx
1:  SAVE_VEC r_out
    EXPECT_FAULT 1f
    lea one(%rip), %rsi
    outsb
1:  SAVE_VEC r_outs
    EXPECT_FAULT 1f
    mov $0xE9, %dx
    lea r_scratch(%rip), %rdi
    insb
1:  SAVE_VEC r_ins
    EXPECT_FAULT 1f
    mov $0x400, %dx
    in %dx, %al
1:  SAVE_VEC r_far
    EXPECT_FAULT 1f
    cli
1:  SAVE_VEC r_cli
    xor %eax, %eax
    syscall

user3:
    EXPECT_FAULT 1f
    in $0xE9, %al
1:  SAVE_VEC r_in9
    EXPECT_FAULT 1f
    mov $0x400, %dx
    in %dx, %al
1:  SAVE_VEC r_far
    xor %eax, %eax
    syscall

    .data
    .align 8
r_in8: .quad 0
r_in16: .quad 0
r_in9: .quad 0
r_span: .quad 0
r_span32: .quad 0
r_out: .quad 0
r_outs: .quad 0
r_ins: .quad 0
r_far: .quad 0
r_cli: .quad 0
r_scratch: .quad 0
one: .byte 0
    .align 16
mytss: .skip IOMAP + 33
