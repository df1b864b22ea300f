/* cpuidx.S — CPUID honesty, end to end: for every optional feature CPUID advertises, one
 * instruction of that feature must execute without #UD (the AVX class after enabling XSAVE:
 * CR4.OSXSAVE, then XCR0 = every component leaf 0xD lists, which CPUID.1:ECX.OSXSAVE must then
 * show); features it must never advertise (x2APIC, SMAP, MONITOR, LA57) are absent;
 * the platform bits the kernel relies on are present. One check per feature whether advertised
 * or not. */
#include "lib.inc"

/* FEATURE reg, bit, id, insn...: if cpuid(leaf in r12d, subleaf 0) reg has bit, run insn and
 * check it did not fault. */
.macro FEATURE reg, bit, id, insn:vararg
    mov %r12d, %eax
    xor %ecx, %ecx
    cpuid
    movq $-1, last_vec(%rip)
    bt $\bit, \reg
    jnc 1f
    lea 1f(%rip), %rax
    mov %rax, recover(%rip)
    lea buf(%rip), %rdi
    \insn
1:  movq $0, recover(%rip)
    CHECK last_vec(%rip), $-1, \id
.endm

    .text
    .globl test_main
test_main:
    mov $1, %r12d
    FEATURE %ecx, 0, 1, movshdup %xmm1, %xmm0
    FEATURE %ecx, 9, 2, pshufb %xmm1, %xmm0
    FEATURE %ecx, 13, 3, cmpxchg16b (%rdi)
    FEATURE %ecx, 19, 4, ptest %xmm1, %xmm0
    FEATURE %ecx, 20, 5, crc32 %eax, %ebx
    FEATURE %ecx, 22, 6, movbe (%rdi), %eax
    FEATURE %ecx, 23, 7, popcnt %eax, %ebx
    FEATURE %ecx, 30, 8, rdrand %eax
    FEATURE %ecx, 1, 9, pclmulqdq $0, %xmm1, %xmm0
    mov $7, %r12d
    FEATURE %ebx, 9, 10, call do_movsb
    FEATURE %ebx, 18, 11, rdseed %eax
    FEATURE %ebx, 19, 12, adcx %eax, %ebx
    FEATURE %ebx, 3, 13, andn %eax, %ebx, %ecx
    mov $0x80000001, %r12d
    FEATURE %ecx, 0, 14, lahf
    FEATURE %ecx, 5, 15, lzcnt %eax, %ebx
    FEATURE %ecx, 8, 16, prefetchw (%rdi)
    FEATURE %edx, 27, 17, rdtscp

    /* XSAVE: enable it with every component the CPU offers, then the AVX class */
    mov $1, %eax
    cpuid
    bt $26, %ecx
    jnc 2f
    mov %cr4, %rax
    bts $18, %rax /* OSXSAVE */
    bts $16, %rax /* FSGSBASE, checked below if offered */
    mov %rax, %cr4
    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    xor %ecx, %ecx
    xsetbv
2:  mov $1, %r12d
    FEATURE %ecx, 26, 26, xsave64 xbuf(%rip)
    FEATURE %ecx, 27, 27, xor %ecx, %ecx; xgetbv
    FEATURE %ecx, 28, 28, vaddps %ymm1, %ymm2, %ymm0
    FEATURE %ecx, 12, 29, vfmadd231ps %ymm1, %ymm2, %ymm0
    FEATURE %ecx, 29, 30, vcvtph2ps %xmm1, %ymm0
    FEATURE %ecx, 25, 31, aesenc %xmm1, %xmm0
    mov $7, %r12d
    FEATURE %ebx, 5, 32, vpaddd %ymm1, %ymm2, %ymm0
    FEATURE %ebx, 8, 33, pdep %eax, %ebx, %ecx
    FEATURE %ebx, 29, 34, sha1msg1 %xmm1, %xmm0
    FEATURE %ebx, 0, 35, rdfsbase %rax
    FEATURE %ecx, 22, 36, rdpid %rax
    /* XSAVE offered means OSXSAVE now follows CR4 */
    mov $1, %eax
    cpuid
    mov %ecx, %eax
    shr $26, %eax
    and $3, %eax
    mov %eax, %edx
    shr $1, %edx
    xor %edx, %eax /* 0 when OSXSAVE equals XSAVE */
    and $1, %eax
    CHECK %rax, $0, 37

    /* never advertised */
    mov $1, %eax
    cpuid
    and $0x00220008, %ecx /* x2apic, monitor off; pcid on (pcid.S) */
    CHECK %rcx, $0x20000, 20
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    and $0x00100080, %ebx /* smap (smap.S), smep (smep.S) on */
    CHECK %rbx, $0x100080, 21
    and $0x00010000, %ecx /* la57 */
    CHECK %rcx, $0, 22

    /* platform basics: fpu tsc msr pae cx8 apic pge cmov pat clflush mmx fxsr sse sse2 */
    mov $1, %eax
    cpuid
    mov $0x0789A371, %eax
    and %eax, %edx
    CHECK %rdx, $0x0789A371, 23
    bt $24, %ecx /* tsc-deadline */
    setc %al
    movzbl %al, %eax
    CHECK %rax, $1, 24
    mov $0x80000007, %eax
    cpuid
    bt $8, %edx /* invariant TSC */
    setc %al
    movzbl %al, %eax
    CHECK %rax, $1, 25
    ret

do_movsb:
    lea buf+32(%rip), %rsi
    mov $8, %ecx
    rep movsb
    ret

    .data
    .align 16
buf: .skip 64
    .align 64
xbuf: .skip 1024
