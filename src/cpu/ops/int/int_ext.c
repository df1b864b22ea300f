/* int_ext.c — integer extensions outside the classic opcode space: MOVBE (0F 38 F0/F1 on
 * memory), CRC32 (F2 0F 38 F0/F1, CRC-32C as the host computes it), ADCX/ADOX (66/F3 0F 38 F6:
 * add with carry through CF or OF alone). The VEX-encoded BMI1/BMI2 group lives in
 * int_bmi.c. */
#include "cpu/ops/host.h"
#include "cpu/ops/int/int_impl.h"

static uint64_t int_bswap(uint64_t v, unsigned size)
{
    switch (size) {
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    default: return __builtin_bswap64(v);
    }
}

/* movbe r, m (F0) / movbe m, r (F1): a load or store with the bytes reversed */
static void movbe(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    if ((i->op & 1) == 0)
        reg_write(c, i, i->reg, size, int_bswap(rm_read(c, i, size), size));
    else
        rm_write(c, i, size, int_bswap(reg_read(c, i, i->reg, size), size));
}

/* crc32 r32/r64, r/m8 (F0) or r/m16/32/64 (F1): the destination is 32 bits (64 with REX.W,
 * upper half zeroed) */
static void crc32(struct cpu *c, const struct insn *i)
{
    unsigned ssize = (i->op & 1) ? i->opsize : 1;
    uint64_t src = rm_read(c, i, ssize);
    uint32_t crc = (uint32_t)c->gpr[i->reg];
    crc = host_crc32(crc, src, ssize);
    c->gpr[i->reg] = crc;
}

/* adcx (66): dst += src + CF, only CF written; adox (F3): the same through OF */
static void adcx_adox(struct cpu *c, const struct insn *i)
{
    unsigned size = i->opsize;
    uint64_t src = rm_read(c, i, size), dst = c->gpr[i->reg] & size_mask(size);
    uint64_t fl = flags_read(c), flag = i->mp == MP_66 ? F_CF : F_OF;
    uint64_t in = (fl & flag) ? 1 : 0;
    uint64_t res = (dst + src + in) & size_mask(size);
    bool out =
        size == 8 ? (res < dst || (in && res == dst)) : ((dst + src + in) >> (size * 8)) != 0;
    reg_write(c, i, i->reg, size, res);
    int_set_flags(c, flag, out ? flag : 0);
}

insn_fn int_ext_lookup(const struct insn *i)
{
    if (i->flags & INSN_VEX) return NULL;
    switch (i->op) {
    case 0x2f0:
    case 0x2f1:
        if (i->mp == MP_F2) return crc32;
        return (i->flags & INSN_MEM) ? movbe : NULL;
    case 0x2f6: return (i->mp == MP_66 || i->mp == MP_F3) ? adcx_adox : NULL;
    }
    return NULL;
}
