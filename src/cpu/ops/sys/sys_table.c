/* sys_table.c — the system family's slice of the opcode space: privileged instructions,
 * segment registers, port I/O, far transfers, software interrupts, CPUID, MSRs and time.
 * Anything not claimed here (monitor/mwait, ...) is #UD because
 * CPUID does not advertise it. */
#include "cpu/ops/sys/sys.h"

static insn_fn sys_lookup_0f01(const struct insn *i)
{
    unsigned reg = (i->modrm >> 3) & 7, rm = i->modrm & 7;
    if (i->flags & INSN_MEM) {
        switch (reg) {
        case 0:
        case 1: return sys_sgdt_sidt;
        case 2:
        case 3: return sys_lgdt_lidt;
        case 4: return sys_smsw;
        case 6: return sys_lmsw;
        case 7: return sys_invlpg;
        default: return NULL;
        }
    }
    switch (reg) {
    case 1: return (rm == 2 || rm == 3) ? sys_clac_stac : NULL;
    case 4: return sys_smsw;
    case 6: return sys_lmsw;
    case 7:
        if (rm == 0) return sys_swapgs;
        if (rm == 1) return sys_rdtscp;
        return NULL;
    default: return NULL; /* vmcall, monitor/mwait: not advertised */
    }
}

insn_fn sys_lookup(const struct insn *i)
{
    insn_fn f;
    if (i->mode != MODE_LONG64 && (f = sys_legacy_lookup(i))) return f;
    bool mem = i->flags & INSN_MEM;
    unsigned reg = (i->modrm >> 3) & 7;
    switch (i->op) {
    case 0x06C:
    case 0x06D: return sys_ins;
    case 0x06E:
    case 0x06F: return sys_outs;
    case 0x08C: return sys_mov_from_sreg;
    case 0x08E: return sys_mov_to_sreg;
    case 0x0CA:
    case 0x0CB: return sys_retf;
    case 0x0CC: return sys_int3;
    case 0x0CD: return sys_intn;
    case 0x0CF: return sys_iret;
    case 0x0E4:
    case 0x0E5:
    case 0x0EC:
    case 0x0ED: return sys_in;
    case 0x0E6:
    case 0x0E7:
    case 0x0EE:
    case 0x0EF: return sys_out;
    case 0x0F1: return sys_int1;
    case 0x0F4: return sys_hlt;
    case 0x0FA: return sys_cli;
    case 0x0FB: return sys_sti;
    case 0x0FF:
        if (mem && reg == 3) return sys_far_call;
        if (mem && reg == 5) return sys_far_jmp;
        return NULL;
    case 0x100: return reg < 6 ? sys_grp6 : NULL;
    case 0x101: return sys_lookup_0f01(i);
    case 0x102:
    case 0x103: return sys_lar_lsl;
    case 0x105: return sys_syscall;
    case 0x106: return sys_clts;
    case 0x107: return sys_sysret;
    case 0x108:
    case 0x109: return sys_cache_nop;
    case 0x10B: return sys_ud2;
    case 0x120: return sys_mov_from_cr;
    case 0x121: return sys_mov_from_dr;
    case 0x122: return sys_mov_to_cr;
    case 0x123: return sys_mov_to_dr;
    case 0x130: return sys_wrmsr;
    case 0x131: return sys_rdtsc;
    case 0x132: return sys_rdmsr;
    case 0x1A0:
    case 0x1A8: return sys_push_fsgs;
    case 0x1A1:
    case 0x1A9: return sys_pop_fsgs;
    case 0x1A2: return sys_cpuid;
    case 0x1AE:
        if (!mem && reg < 4 && i->mp == MP_F3) return sys_fsgsbase;
        if (mem && reg == 7 && i->mp == MP_NONE) return sys_clflush;
        return (mem && reg >= 6 && i->mp == MP_66) ? sys_clflush : NULL; /* clwb, clflushopt */
    case 0x1B2:
    case 0x1B4:
    case 0x1B5: return mem ? sys_lxs : NULL;
    case 0x1C7:
        if (!mem && (reg == 6 || reg == 7) && i->mp == MP_NONE) return sys_rdrand;
        if (!mem && reg == 7 && i->mp == MP_F3) return sys_rdpid;
        return NULL;
    case 0x282: return (mem && i->mp == MP_66) ? sys_invpcid : NULL;
    default: return NULL;
    }
}
