/* smap.S — SMAP, STAC and CLAC. CPUID offers SMAP (leaf 7 EBX bit 20). With the first 2 MiB
 * made supervisor-only and the user page at 2 MiB, under CR4.SMAP: a kernel read of the user
 * page is #PF with error P, a write #PF with P|W (also right after user mode filled the data
 * TLB, and for REP MOVSB/STOSB, which fault before moving a byte); with RFLAGS.AC set by STAC
 * or POPF the same accesses work, and CLAC forbids them again. Implicit supervisor accesses
 * are held to SMAP whatever AC: a segment load whose descriptor lies on the user page (the
 * GDT straddles into it) is #PF with error P. User mode is not affected, nor are instruction
 * fetches. STAC and CLAC are #UD at CPL 3; without CR4.SMAP the kernel reads the page with
 * AC clear. */
#include "lib.inc"

#define UPAGE 0x200000
#define GDT2  (UPAGE - 0x40) /* a GDT copy: 0x00-0x3F on the supervisor page, 0x40- on UPAGE */
#define UCODE (UPAGE + 0x300)
#define VAL   0x1122334455667788

    .text
    .globl test_main
test_main:
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    and $(1 << 20), %ebx
    CHECK %rbx, $(1 << 20), 1              /* SMAP */

    /* --- STAC and CLAC at CPL 3 (while the program's pages are still user pages) --- */
    lea user_stac(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x0002, %edx
    call enter_user
    CHECK r_stac(%rip), $6, 32
    CHECK r_clac(%rip), $6, 33

    andq $~4, PD                           /* 0-2 MiB: supervisor only */
    invlpg 0
    lea utouch(%rip), %rsi                 /* user code runs from the user page */
    mov $UCODE, %edi
    mov $(utouch_end - utouch), %ecx
    rep movsb
    movabs $VAL, %rax
    mov %rax, UPAGE                        /* no SMAP yet: allowed */
    mov UPAGE, %rbx
    CHECK %rbx, %rax, 2
    mov %cr4, %rax
    or $0x200000, %rax
    mov %rax, %cr4

    /* --- explicit accesses, AC clear --- */
    clac
    EXPECT_FAULT 1f
    mov UPAGE, %rax
1:  FAULT_CHECK 14, 0x1, 3                 /* P */
    CHECK last_cr2(%rip), $UPAGE, 5
    EXPECT_FAULT 1f
    movq $1, UPAGE + 8
1:  FAULT_CHECK 14, 0x3, 6                 /* P | W */
    CHECK last_cr2(%rip), $(UPAGE + 8), 8

    /* --- STAC allows them, CLAC forbids them again --- */
    stac
    pushfq
    pop %rax
    and $0x40000, %eax
    CHECK %rax, $0x40000, 9                /* AC */
    mov UPAGE, %rax
    movabs $VAL, %rbx
    CHECK %rax, %rbx, 10
    movq $0x55, UPAGE + 8
    CHECK UPAGE + 8, $0x55, 11
    clac
    pushfq
    pop %rax
    and $0x40000, %eax
    CHECK %rax, $0, 12
    EXPECT_FAULT 1f
    mov UPAGE + 8, %rax
1:  FAULT_CHECK 14, 0x1, 13

    /* --- after user mode filled the TLB with the page, in a loop (translated blocks) --- */
    mov $3, %r12d
    xor %r13d, %r13d                       /* sum of the vectors */
    xor %r14d, %r14d                       /* sum of the error codes */
2:  mov $UCODE, %edi
    mov $UPAGE + 0x1000, %esi
    mov $0x0002, %edx
    call enter_user
    EXPECT_FAULT 1f
    mov UPAGE + 16, %rax
1:  add last_vec(%rip), %r13
    add last_err(%rip), %r14
    EXPECT_FAULT 1f
    movq $2, UPAGE + 16
1:  add last_vec(%rip), %r13
    add last_err(%rip), %r14
    dec %r12d
    jnz 2b
    CHECK %r13, $(6 * 14), 15              /* six #PF */
    CHECK %r14, $(3 * 0x1 + 3 * 0x3), 16   /* three P, three P|W */
    stac
    CHECK UPAGE + 16, $0x77, 17            /* the user's write */
    CHECK UPAGE + 24, $0x55, 34            /* what the user read */
    clac

    /* --- string instructions --- */
    lea kbuf(%rip), %rdi
    mov $UPAGE, %esi
    mov $16, %ecx
    EXPECT_FAULT 1f
    rep movsb
1:  FAULT_CHECK 14, 0x1, 18
    CHECK %rcx, $16, 20                    /* nothing moved */
    mov $UPAGE + 0x100, %edi
    mov $8, %ecx
    mov $0xAB, %eax
    EXPECT_FAULT 1f
    rep stosb
1:  FAULT_CHECK 14, 0x3, 21
    stac
    lea kbuf(%rip), %rdi
    mov $UPAGE, %esi
    mov $16, %ecx
    rep movsb
    movabs $VAL, %rbx
    CHECK kbuf(%rip), %rbx, 23
    mov $UPAGE + 0x100, %edi
    mov $8, %ecx
    mov $0xAB, %eax
    rep stosb
    movabs $0xABABABABABABABAB, %rbx
    CHECK UPAGE + 0x100, %rbx, 24
    clac

    /* --- POPF sets AC too --- */
    pushfq
    orq $0x40000, (%rsp)
    popfq
    mov UPAGE, %rax
    movabs $VAL, %rbx
    CHECK %rax, %rbx, 25
    clac

    /* --- implicit supervisor accesses: held to SMAP even with AC set --- */
    stac
    lea gdt(%rip), %rsi                    /* copy the GDT to GDT2 (its upper part on UPAGE) */
    mov $GDT2, %edi
    mov $(gdt_end - gdt), %ecx
    rep movsb
    lgdt gdt2_ptr(%rip)
    mov $U3DATA, %eax
    EXPECT_FAULT 1f
    mov %eax, %ds                          /* its descriptor is on UPAGE */
1:  FAULT_CHECK 14, 0x1, 26
    CHECK last_cr2(%rip), $(GDT2 + U3DATA), 28
    mov $KDATA, %eax
    mov %eax, %ds                          /* below UPAGE: allowed */
    mov %ds, %eax
    CHECK %rax, $KDATA, 29
    clac
    mov %cr4, %rax                         /* without SMAP the same load works */
    and $~0x200000, %rax
    mov %rax, %cr4
    mov $U3DATA, %eax
    mov %eax, %ds
    mov %ds, %ebx
    CHECK %rbx, $U3DATA, 30
    mov $KDATA, %eax
    mov %eax, %ds
    lgdt gdt_ptr(%rip)
    mov %cr4, %rax
    or $0x200000, %rax
    mov %rax, %cr4

    /* --- fetches are not data accesses (SMEP is clear) --- */
    stac
    lea ucode(%rip), %rsi
    mov $UPAGE + 0x200, %edi
    mov $(ucode_end - ucode), %ecx
    rep movsb
    clac
    mov $UPAGE + 0x200, %eax
    call *%rax
    CHECK %rax, $0x5A, 31

    /* --- CR4.SMAP clear: AC no longer matters --- */
    mov %cr4, %rax
    and $~0x200000, %rax
    mov %rax, %cr4
    clac
    mov UPAGE + 0x100, %rax
    movabs $0xABABABABABABABAB, %rbx
    CHECK %rax, %rbx, 35
    orq $4, PD
    invlpg 0
    ret

/* Copied to UCODE: user mode reads and writes the user page under SMAP. */
utouch:
    mov UPAGE + 8, %rax
    mov %rax, UPAGE + 24
    mov UPAGE + 16, %rax
    movq $0x77, UPAGE + 16
    xor %eax, %eax
    syscall
utouch_end:

user_stac:
    EXPECT_FAULT 1f
    stac
1:  mov last_vec(%rip), %rax
    mov %rax, r_stac(%rip)
    EXPECT_FAULT 1f
    clac
1:  mov last_vec(%rip), %rax
    mov %rax, r_clac(%rip)
    xor %eax, %eax
    syscall

/* Copied to UPAGE + 0x200 and called by the kernel. */
ucode:
    mov $0x5A, %eax
    ret
ucode_end:

    .data
    .align 16
gdt2_ptr:
    .word gdt_end - gdt - 1
    .quad GDT2
    .align 8
r_stac: .quad 0
r_clac: .quad 0
kbuf: .quad 0, 0
