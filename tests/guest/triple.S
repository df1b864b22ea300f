/* triple.S — a triple fault ends the run: with an empty IDT, INT3 finds no gate (#GP), #GP
 * finds none (#DF), #DF finds none: the runner must see VCPU_EXIT_SHUTDOWN, not the done
 * port. */
#include "lib.inc"

    .text
    .globl test_main
test_main:
    CHECK $1, $1, 1
    lidt empty_idt(%rip)
    int3
    mov $2, %eax /* not reached */
    jmp fatal

    .data
empty_idt:
    .word 0
    .quad 0
