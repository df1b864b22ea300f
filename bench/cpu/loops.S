/* loops.S — the CPU engine's micro-benchmarks, run bare-metal in 64-bit mode by cpu_loops.c.
 * Each entry runs its loop RCX-on-entry times and halts. The mix is what an interpreter finds
 * hard: dependent ALU ops with flags, loads/stores through the TLB, and call/return pairs. */
    .intel_syntax noprefix
    .text
    .code64
    .globl int_loop, copy_loop, call_loop, sha_loop, loops_end

/* 6 instructions per iteration: ALU chain with flags consumed by the branch */
int_loop:
1:  add rax, rcx
    xor rdx, rax
    imul rbx, rdx, 3
    sub rbx, rax
    dec rcx
    jnz 1b
    hlt

/* 10 instructions per iteration: 8-byte loads and stores over a 1 MiB buffer (RSI -> RDI) */
copy_loop:
    mov r8, rsi
    mov r9, rdi
2:  mov rax, [rsi]
    mov [rdi], rax
    add rsi, 8
    add rdi, 8
    and rsi, 0xfffff
    and rdi, 0xfffff
    or rsi, r8   /* wrap within the buffers (r8/r9 are 1 MiB aligned) */
    or rdi, r9
    dec rcx
    jnz 2b
    hlt

/* 6 instructions per iteration: call, push, pop, ret, add, loop branch */
call_loop:
3:  call 4f
    add rax, 1
    dec rcx
    jnz 3b
    hlt
4:  push rbx
    pop rbx
    ret

/* One SHA-256 round per pass through 5b: the hot loop of busybox's sha256_process_block64
 * (x86-64 gcc output, copied as is: 32-bit rotates, xors, adds, two table loads, 14 live
 * registers), then the register rotation block. 64 rounds per outer iteration, RCX/64 of
 * them; the table and the schedule are whatever the source buffer and stack hold. */
sha_loop:
    mov rax, rcx
    shr rax, 6
    mov r14, rsi
    sub rsp, 0x200
    xor r10d, r10d
5:  mov ecx, esi
    mov edx, esi
    mov r15d, esi
    ror ecx, 6
    ror edx, 11
    and r15d, ebp
    xor edx, ecx
    mov ecx, esi
    rol ecx, 7
    xor edx, ecx
    mov ecx, esi
    add edx, [r14+r10*8+4]
    add edx, [rsp+r10*4+0x28]
    not ecx
    inc r10
    and ecx, ebx
    xor ecx, r15d
    mov r15d, r9d
    add edx, ecx
    mov ecx, edi
    and r15d, r8d
    add edx, r11d
    mov r11d, edi
    ror ecx, 13
    ror r11d, 2
    xor r11d, ecx
    mov ecx, edi
    rol ecx, 10
    xor r11d, ecx
    mov ecx, r9d
    xor ecx, r8d
    and ecx, edi
    xor ecx, r15d
    lea r15d, [rdx+r13]
    mov r13d, r8d
    add ecx, r11d
    mov r11d, ebx
    add ecx, edx
    cmp r10, 0x40
    je 6f
    mov ebx, ebp
    mov r8d, r9d
    mov ebp, esi
    mov r9d, edi
    mov esi, r15d
    mov edi, ecx
    jmp 5b
6:  xor r10d, r10d
    dec rax
    jnz 5b
    xor ecx, ecx
    add rsp, 0x200
    hlt
loops_end:
    .section .note.GNU-stack,"",@progbits
