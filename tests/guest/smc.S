/* smc.S — self-modifying code: rewriting an instruction that already ran (its decoded block
 * is cached) must take effect the next time it runs, whether the write goes through the same
 * linear address, through a second mapping of the same physical page, or hits a later
 * instruction of the block currently executing. */
#include "lib.inc"

#define ALIAS 0x40000000 /* second mapping of the first 2 MiB */

    .text
    .globl test_main
test_main:
    /* --- patch a routine that has already run --- */
    call patchme
    CHECK %rax, $0x11, 1
    movl $0x22, patchme+1(%rip)          /* mov $imm32, %eax: patch the immediate */
    call patchme
    CHECK %rax, $0x22, 2

    /* --- patch through a second mapping (same physical page) --- */
    movq $(0x0 | 0x83), PDPT + 8          /* 1 GiB page at 0: ALIAS + x = physical x */
    lea patchme+1(%rip), %rbx
    add $ALIAS, %rbx
    movl $0x33, (%rbx)
    call patchme
    CHECK %rax, $0x33, 3

    /* --- patch a later instruction of the running block --- */
    lea 2f(%rip), %rbx
    xor %eax, %eax
    movb $0x44, 1(%rbx)                  /* becomes mov $0x44, %al */
2:  mov $0x55, %al
    movzbl %al, %eax
    CHECK %rax, $0x44, 4

    /* --- a loop whose body changes between iterations --- */
    xor %edx, %edx
    mov $3, %ecx
3:  call counter
    movb $0x02, counter+3(%rip)          /* add $1 -> add $2 */
    loop 3b
    CHECK %rdx, $5, 5                    /* 1 + 2 + 2 */
    ret

patchme:
    mov $0x11, %eax
    ret

counter:
    .byte 0x48, 0x83, 0xc2, 0x01         /* add $1, %rdx */
    ret
