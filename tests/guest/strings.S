/* strings.S — REP MOVS/STOS as Linux's memmove and memset use them, end to end through the
 * block cache and soft TLB: forward and backward (DF = 1) copies, overlapping in both
 * directions, crossing page boundaries, with byte and quadword elements. Each result is checked
 * against a copy made with a plain byte loop. */
#include "lib.inc"

#define SRC  0x300000
#define REF  0x340000
#define N    0x2345 /* bytes, not a multiple of the page size */

/* fill(rdi = dst, rcx = n): byte k = (k * 7 + 3) & 0xff */
fill:
    xor %eax, %eax
1:  mov %al, %dl
    imul $7, %edx, %edx
    add $3, %edx
    mov %dl, (%rdi, %rax)
    inc %rax
    cmp %rcx, %rax
    jne 1b
    ret

/* bytecopy(rdi = dst, rsi = src, rcx = n), memmove semantics, one byte at a time */
bytecopy:
    cmp %rsi, %rdi
    ja 2f
1:  test %rcx, %rcx
    jz 3f
    mov (%rsi), %al
    mov %al, (%rdi)
    inc %rsi
    inc %rdi
    dec %rcx
    jmp 1b
2:  test %rcx, %rcx
    jz 3f
    dec %rcx
    mov (%rsi, %rcx), %al
    mov %al, (%rdi, %rcx)
    jmp 2b
3:  ret

/* compare(rdi, rsi, rcx) -> rax = index of the first difference, or -1 */
compare:
    xor %eax, %eax
1:  cmp %rcx, %rax
    je 2f
    mov (%rdi, %rax), %dl
    cmp (%rsi, %rax), %dl
    jne 3f
    inc %rax
    jmp 1b
2:  mov $-1, %rax
3:  ret

/* setup: SRC and REF both hold the pattern over N + 0x100 bytes */
setup:
    mov $SRC, %rdi
    mov $(N + 0x100), %ecx
    call fill
    mov $REF, %rdi
    mov $(N + 0x100), %ecx
    call fill
    ret

    .text
    .globl test_main
test_main:
    /* forward rep movsb, no overlap */
    call setup
    mov $(SRC + 0x10000), %rdi
    mov $SRC, %rsi
    mov $N, %ecx
    cld
    rep movsb
    CHECK %rcx, $0, 1
    CHECK %rsi, $(SRC + N), 2
    mov $(SRC + 0x10000), %rdi
    mov $REF, %rsi
    mov $N, %ecx
    call compare
    CHECK %rax, $-1, 3

    /* forward rep movsq, overlapping (dst < src), as memmove's aligned path */
    call setup
    mov $(REF + 0x8), %rsi
    mov $REF, %rdi
    mov $N, %ecx
    call bytecopy
    mov $(SRC + 0x8), %rsi
    mov $SRC, %rdi
    mov $(N / 8), %ecx
    rep movsq
    CHECK %rdi, $(SRC + (N / 8) * 8), 4
    mov $SRC, %rdi
    mov $REF, %rsi
    mov $((N / 8) * 8), %ecx
    call compare
    CHECK %rax, $-1, 5

    /* backward rep movsq (DF = 1), overlapping (dst > src), as memmove's backward path */
    call setup
    mov $REF, %rsi
    mov $(REF + 0x18), %rdi
    mov $((N / 8) * 8), %ecx
    call bytecopy
    mov $(SRC + (N / 8) * 8 - 8), %rsi
    mov $(SRC + 0x18 + (N / 8) * 8 - 8), %rdi
    mov $(N / 8), %ecx
    std
    rep movsq
    cld
    CHECK %rcx, $0, 6
    CHECK %rsi, $(SRC - 8), 7
    CHECK %rdi, $(SRC + 0x18 - 8), 8
    mov $SRC, %rdi
    mov $REF, %rsi
    mov $(N + 0x18), %ecx
    call compare
    CHECK %rax, $-1, 9

    /* backward rep movsb, overlapping by one byte */
    call setup
    mov $REF, %rsi
    mov $(REF + 1), %rdi
    mov $N, %ecx
    call bytecopy
    mov $(SRC + N - 1), %rsi
    mov $(SRC + N), %rdi
    mov $N, %ecx
    std
    rep movsb
    cld
    mov $SRC, %rdi
    mov $REF, %rsi
    mov $(N + 1), %ecx
    call compare
    CHECK %rax, $-1, 10

    /* rep stosq forward and backward */
    mov $(SRC + 0x20000), %rdi
    mov $0x1122334455667788, %rax
    mov $0x401, %ecx
    rep stosq
    CHECK %rdi, $(SRC + 0x20000 + 0x401 * 8), 11
    mov SRC + 0x20000 + 0x400 * 8, %rbx
    CHECK %rbx, %rax, 12
    mov $(SRC + 0x30000), %rdi
    mov $0x200, %ecx
    std
    rep stosq
    cld
    CHECK %rdi, $(SRC + 0x30000 - 0x200 * 8), 13
    mov SRC + 0x30000 - 0x1ff * 8, %rbx
    CHECK %rbx, %rax, 14
    mov SRC + 0x30000 - 0x200 * 8, %rbx
    CHECK %rbx, $0, 15
    ret
