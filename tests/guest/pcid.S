/* pcid.S — PCID, INVPCID, CLFLUSHOPT and CLWB. CPUID offers them (1 ECX bit 17, 7 EBX bits 10,
 * 23, 24). CR4.PCIDE: #GP(0) to set with CR3[11:0] non-zero; with it, CR3 holds a PCID and
 * bit 63 (no flush) is not stored. INVPCID: each type 0-3 makes a changed page-directory entry
 * visible; #GP(0) for type 4, descriptor bits 63:12, a non-canonical address (type 0), a
 * non-zero PCID without CR4.PCIDE; the register form is #UD. Per-PCID entries: a mapping
 * changed without invalidation stays unseen by a PCID that cached it, across CR3 writes with
 * bit 63 (other PCIDs see the new one); INVPCID type 0 for another PCID drops that address
 * only, type 1 that PCID only, type 3 every PCID, and a CR3 write without bit 63 only the
 * PCID it enters. CLFLUSHOPT and CLWB run. */
#include "lib.inc"

#define LIN 0x400000 /* PD[2] */

#define LIN2 0x805000 /* PD[4], another TLB index than LIN */

/* REMAP pd: point PD[2] at the 2 MiB page PD[pd] mapped at the start (2 or 3). */
.macro REMAP pd
    mov pd_orig + 8 * (\pd - 2)(%rip), %rax
    mov %rax, PD + 16
.endm

/* REMAP4 pd: the same for PD[4] (LIN2). */
.macro REMAP4 pd
    mov pd_orig + 8 * (\pd - 2)(%rip), %rax
    mov %rax, PD + 32
.endm

/* SETCR3 pcid, keep: CR3 = the tables (rbx) with that PCID, and bit 63 if keep. */
.macro SETCR3 pcid, keep
    mov %rbx, %rax
    or $\pcid, %rax
    .if \keep
    bts $63, %rax
    .endif
    mov %rax, %cr3
.endm

    .text
    .globl test_main
test_main:
    mov $1, %eax
    cpuid
    and $(1 << 17), %ecx
    CHECK %rcx, $(1 << 17), 1
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    and $((1 << 10) | (1 << 23) | (1 << 24)), %ebx
    CHECK %rbx, $((1 << 10) | (1 << 23) | (1 << 24)), 2

    /* --- CR4.PCIDE --- */
    mov %cr3, %rbx
    lea 8(%rbx), %rax                      /* PWT: CR3[11:0] != 0 */
    mov %rax, %cr3
    EXPECT_FAULT 1f
    mov %cr4, %rax
    or $0x20000, %rax
    mov %rax, %cr4
1:  FAULT_CHECK 13, 0, 3
    mov %rbx, %cr3
    mov %cr4, %rax
    or $0x20000, %rax
    mov %rax, %cr4
    mov %cr4, %rax
    and $0x20000, %eax
    CHECK %rax, $0x20000, 5
    movabs $0x8000000000000005, %rax
    or %rbx, %rax
    mov %rax, %cr3                         /* PCID 5, no flush */
    mov %cr3, %rax
    lea 5(%rbx), %rcx
    CHECK %rax, %rcx, 6
    mov %rbx, %cr3

    /* --- INVPCID makes a remapped page visible, each type --- */
    mov PD + 16, %rax
    mov %rax, pd_orig(%rip)
    mov PD + 24, %rax
    mov %rax, pd_orig + 8(%rip)
    movq $0xAAAA, 0x400000
    movq $0xBBBB, 0x600000
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 10
    movq $LIN, desc + 8(%rip)
    REMAP 3
    xor %eax, %eax                         /* type 0: one address */
    invpcid desc(%rip), %rax
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 11
    REMAP 2
    mov $1, %eax                           /* type 1: one PCID */
    invpcid desc(%rip), %rax
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 12
    REMAP 3
    mov $3, %eax                           /* type 3: all but global */
    invpcid desc(%rip), %rax
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 13
    REMAP 2
    mov $2, %eax                           /* type 2: all */
    invpcid desc(%rip), %rax
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 14

    /* --- per-PCID entries: a remap without invalidation stays unseen by a PCID that cached
     * the old mapping, across CR3 writes with bit 63; each INVPCID type and a CR3 write
     * without bit 63 drop exactly their share --- */
    mov PD + 32, %rax
    mov %rax, pd4_orig(%rip)
    movq $0xAAAA, 0x405000                 /* what LIN2 reads through page 2 */
    movq $0xBBBB, 0x605000                 /* and through page 3 */
    REMAP4 2
    SETCR3 1, 0                            /* PCID 1, flushed */
    mov LIN, %rax
    add LIN2, %rax
    CHECK %rax, $(2 * 0xAAAA), 40          /* PCID 1 caches LIN and LIN2 -> A */
    REMAP 3
    REMAP4 3                               /* both -> B, no invalidation */
    SETCR3 2, 0                            /* PCID 2: nothing cached */
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 41
    SETCR3 1, 1                            /* back to PCID 1, keeping it */
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 42
    mov LIN2, %rax
    CHECK %rax, $0xAAAA, 43
    SETCR3 2, 1
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 44                /* PCID 2's own entry */
    movq $1, desc(%rip)                    /* type 0 for PCID 1 (not current): LIN only */
    movq $LIN, desc + 8(%rip)
    xor %eax, %eax
    invpcid desc(%rip), %rax
    SETCR3 1, 1
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 45
    mov LIN2, %rax
    CHECK %rax, $0xAAAA, 46
    SETCR3 2, 1
    mov $1, %eax                           /* type 1 for PCID 1 (not current) */
    invpcid desc(%rip), %rax
    SETCR3 1, 1
    mov LIN2, %rax
    CHECK %rax, $0xBBBB, 47
    REMAP 2
    REMAP4 2                               /* both -> A, no invalidation */
    SETCR3 2, 1
    mov $3, %eax                           /* type 3: every PCID */
    invpcid desc(%rip), %rax
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 48
    SETCR3 1, 1
    mov LIN2, %rax
    CHECK %rax, $0xAAAA, 49
    REMAP 3                                /* LIN -> B */
    SETCR3 1, 0                            /* PCID 1 again without bit 63: flushed */
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 50
    REMAP 2                                /* LIN -> A */
    SETCR3 2, 0                            /* flushes PCID 2 only */
    mov LIN, %rax
    CHECK %rax, $0xAAAA, 51
    SETCR3 1, 1
    mov LIN, %rax
    CHECK %rax, $0xBBBB, 52                /* PCID 1's entry survived */
    mov pd4_orig(%rip), %rax
    mov %rax, PD + 32
    mov %rbx, %cr3                         /* PCID 0 */
    mov $2, %eax
    invpcid desc(%rip), %rax
    movq $0, desc(%rip)

    /* --- INVPCID faults --- */
    EXPECT_FAULT 1f
    mov $4, %eax
    invpcid desc(%rip), %rax
1:  FAULT_CHECK 13, 0, 20
    movq $0x1000, desc(%rip)
    EXPECT_FAULT 1f
    mov $1, %eax
    invpcid desc(%rip), %rax
1:  FAULT_CHECK 13, 0, 22
    movq $0, desc(%rip)
    movabs $0x0000800000000000, %rax
    mov %rax, desc + 8(%rip)
    EXPECT_FAULT 1f
    xor %eax, %eax
    invpcid desc(%rip), %rax
1:  FAULT_CHECK 13, 0, 24
    EXPECT_FAULT 1f
    .byte 0x66, 0x0f, 0x38, 0x82, 0xc0     /* register form */
1:  FAULT_CHECK 6, 0, 26
    mov %cr4, %rax
    and $~0x20000, %rax
    mov %rax, %cr4
    movq $3, desc(%rip)                    /* PCID 3 without PCIDE */
    movq $LIN, desc + 8(%rip)
    EXPECT_FAULT 1f
    xor %eax, %eax
    invpcid desc(%rip), %rax
1:  FAULT_CHECK 13, 0, 28
    mov $2, %eax                           /* type 2 ignores the PCID */
    invpcid desc(%rip), %rax
    CHECK $1, $1, 30

    /* --- CLFLUSHOPT, CLWB --- */
    clflushopt desc(%rip)
    clwb desc(%rip)
    CHECK $1, $1, 31
    ret

    .data
    .align 16
desc: .quad 0, 0
pd_orig: .quad 0, 0
pd4_orig: .quad 0
