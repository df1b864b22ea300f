/* loops.S — the CPU engine's micro-benchmarks, run bare-metal in 64-bit mode by cpu_loops.c.
 * Each entry runs its loop RCX-on-entry times and halts. The mix is what an interpreter finds
 * hard: dependent ALU ops with flags, loads/stores through the TLB, and call/return pairs. */
    .intel_syntax noprefix
    .text
    .code64
    .globl int_loop, copy_loop, call_loop, loops_end

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
loops_end:
    .section .note.GNU-stack,"",@progbits
