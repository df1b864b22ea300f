/* paging.S — the soft MMU seen from a guest: 4 KiB, 2 MiB and 1 GiB pages, every #PF
 * error-code bit (P, W, U, RSVD, I/D) with CR2, NX, CR0.WP, accessed/dirty bits in leaf and
 * non-leaf entries, INVLPG, CR3 reloads and switches, non-canonical addresses.
 *
 * Layout: PDPT[1] -> PD2 (0x4000) so linear 0x40000000.. is the test area; PD2[0] -> PT
 * (0x5000) of 4 KiB pages; PD2[1] a 2 MiB page; PDPT[2] a 1 GiB page at physical 0. Data pages
 * at physical 0x200000 + n * 0x1000. A second PML4 at 0x6000 serves the CR3 switch. */
#include "lib.inc"

#define PD2  0x4000
#define PT   0x5000
#define PML4B 0x6000
#define PDPTB 0x7000
#define PD2B  0x8000
#define AREA 0x40000000
#define DATA 0x200000
#define NX_BIT 0x8000000000000000

/* PTE n of PT := value */
.macro SET_PTE n, value
    mov $\value, %rax
    mov %rax, PT + \n * 8
.endm

    .text
    .globl test_main
test_main:
    /* Build the test area. */
    movq $(PD2 | 7), PDPT + 8
    movq $(PT | 7), PD2
    SET_PTE 0, (DATA | 3)             /* supervisor RW */
    SET_PTE 1, (DATA + 0x1000 | 7)     /* user RW */
    SET_PTE 3, (DATA + 0x2000 | 1)     /* supervisor read-only */
    SET_PTE 4, (DATA + 0x3000 | 1 | (1 << 51)) /* reserved bit above MAXPHYADDR */
    mov $(DATA + 0x4000 | 3), %rax
    bts $63, %rax
    mov %rax, PT + 5 * 8              /* NX */
    SET_PTE 6, (DATA + 0x5000 | 3)     /* executable */
    SET_PTE 8, (DATA + 0x7000 | 5)     /* user read-only */
    movq $(0x400000 | 0x83), PD2 + 8   /* 2 MiB page */
    movq $0x83, PDPT + 16              /* 1 GiB page at 0 */
    movq $(0x2000 | 0x83), PDPT + 24   /* 1 GiB page with reserved bit 13 */
    movq $0x1111, DATA
    movq $0x2222, DATA + 0x1000
    movb $0xC3, DATA + 0x4000          /* ret */
    movb $0xC3, DATA + 0x5000
    movq $0x5555, 0x400000 + 0x1238
    mov %cr3, %rax
    mov %rax, %cr3

    /* --- 4 KiB page: translation, accessed and dirty bits --- */
    mov AREA, %rax
    CHECK %rax, $0x1111, 1
    mov PT, %rax
    and $0x60, %eax
    CHECK %rax, $0x20, 2                  /* A set, D clear after a read */
    mov PD2, %rax
    and $0x20, %eax
    CHECK %rax, $0x20, 3                  /* A set in the PDE */
    mov PDPT + 8, %rax
    and $0x20, %eax
    CHECK %rax, $0x20, 4                  /* and in the PDPTE */
    movq $0x1112, AREA
    mov PT, %rax
    and $0x60, %eax
    CHECK %rax, $0x60, 5                  /* D set after a write */
    CHECK DATA, $0x1112, 6

    /* --- not present: read and write, CR2 --- */
    EXPECT_FAULT 1f
    mov AREA + 0x2000, %rax
1:  FAULT_CHECK 14, 0, 7
    CHECK last_cr2(%rip), $(AREA + 0x2000), 9
    EXPECT_FAULT 1f
    movq $1, AREA + 0x2008
1:  FAULT_CHECK 14, 2, 10
    CHECK last_cr2(%rip), $(AREA + 0x2008), 12

    /* --- read-only page: writable at CPL 0 while CR0.WP = 0, #PF with WP --- */
    movq $0x3333, AREA + 0x3000
    CHECK DATA + 0x2000, $0x3333, 13
    mov %cr0, %rax
    bts $16, %rax
    mov %rax, %cr0
    EXPECT_FAULT 1f
    movq $0x4444, AREA + 0x3000
1:  FAULT_CHECK 14, 3, 14
    CHECK DATA + 0x2000, $0x3333, 16
    mov %cr0, %rax
    btr $16, %rax
    mov %rax, %cr0

    /* --- reserved bits: PTE bit 51, 1 GiB PDPTE bit 13 --- */
    EXPECT_FAULT 1f
    mov AREA + 0x4000, %rax
1:  FAULT_CHECK 14, 9, 17
    EXPECT_FAULT 1f
    mov 0xC0000000, %rax
1:  FAULT_CHECK 14, 9, 19

    /* --- NX and instruction fetches --- */
    mov $(AREA + 0x6000), %rax
    call *%rax                           /* executable page: just a ret */
    CHECK $1, $1, 21
    EXPECT_FAULT 1f
    mov $(AREA + 0x5000), %rax
    jmp *%rax
1:  FAULT_CHECK 14, 0x11, 22             /* P | I/D */
    CHECK last_cr2(%rip), $(AREA + 0x5000), 24
    CHECK last_rip(%rip), $(AREA + 0x5000), 25
    EXPECT_FAULT 1f
    mov $(AREA + 0x2000), %rax
    jmp *%rax
1:  FAULT_CHECK 14, 0x10, 26             /* not present | I/D */
    mov AREA + 0x5000, %al               /* NX pages stay readable */
    movzbl %al, %eax
    CHECK %rax, $0xC3, 28

    /* --- 2 MiB and 1 GiB pages --- */
    mov AREA + 0x200000 + 0x1238, %rax
    CHECK %rax, $0x5555, 29
    movq $0x5556, AREA + 0x200000 + 0x1238
    mov PD2 + 8, %rax
    and $0x60, %eax
    CHECK %rax, $0x60, 30                 /* A and D in the 2 MiB PDE */
    mov 0x80000000 + DATA + 0x1000, %rax  /* 1 GiB page maps physical 0.. */
    CHECK %rax, $0x2222, 31
    mov PDPT + 16, %rax
    and $0x20, %eax
    CHECK %rax, $0x20, 32

    /* --- INVLPG and CR3 reload drop stale translations --- */
    mov AREA, %rax                        /* cache the old translation */
    SET_PTE 0, (DATA + 0x1000 | 3)
    invlpg AREA
    mov AREA, %rax
    CHECK %rax, $0x2222, 33
    mov AREA + 0x6000, %al                /* cache page 6 */
    SET_PTE 6, (DATA | 3)
    mov %cr3, %rax
    mov %rax, %cr3
    mov AREA + 0x6000, %rax
    CHECK %rax, $0x1112, 34

    /* --- CR3 switch to a second hierarchy: AREA -> 2 MiB page at 0x600000 --- */
    movq $0x6666, 0x600000
    movq $(PDPTB | 7), PML4B
    movq $(PD | 7), PDPTB
    movq $(PD2B | 7), PDPTB + 8
    movq $(0x600000 | 0x83), PD2B
    mov $PML4B, %rax
    mov %rax, %cr3
    mov AREA, %rax
    CHECK %rax, $0x6666, 35
    mov $PML4, %rax
    mov %rax, %cr3
    mov AREA, %rax
    CHECK %rax, $0x2222, 36

    /* --- non-canonical addresses: #GP(0) --- */
    EXPECT_FAULT 1f
    mov $0x0000800000000000, %rbx
    mov (%rbx), %rax
1:  FAULT_CHECK 13, 0, 37

    /* --- user mode: U/S and W from CPL 3 --- */
    lea user_code(%rip), %rdi
    mov $USTACK, %rsi
    mov $0x3002, %edx                     /* IOPL 3 so the checks can report */
    call enter_user
    CHECK $1, $1, 60
    ret

user_code:
    mov AREA + 0x1000, %rax               /* user page */
    CHECK %rax, $0x2222, 40
    EXPECT_FAULT 1f
    mov AREA, %rax                        /* supervisor page */
1:  FAULT_CHECK 14, 5, 41
    EXPECT_FAULT 1f
    movq $1, AREA + 0x8000                /* user read-only */
1:  FAULT_CHECK 14, 7, 43
    EXPECT_FAULT 1f
    movq $1, AREA + 0x2000                /* not present */
1:  FAULT_CHECK 14, 6, 45
    mov last_cs(%rip), %rax
    CHECK %rax, $(UCODE64 | 3), 47
    mov AREA + 0x8000, %rax               /* reading it is fine */
    CHECK %rax, $0, 48
    xor %eax, %eax
    syscall
