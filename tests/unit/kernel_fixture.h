/* kernel_fixture.h — test-only builders of fake Linux kernels: a tiny x86-64 ELF "vmlinux" with
 * two PT_LOAD segments (the first with bss), compressed in any of the formats the kernel build
 * produces, wrapped in a bzImage whose setup header carries the fields the loader reads. Used by
 * test_bzimage.c and test_boot_params.c. Also where a real kernel for optional tests lives. */
#pragma once
#include <bzlib.h>
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define FK_SEG0     0x1000000ull
#define FK_SEG0_LEN 0x300ull  /* bytes in the file */
#define FK_SEG0_MEM 0x5000ull /* with bss */
#define FK_SEG1     0x1200000ull
#define FK_SEG1_LEN 0x40ull
#define FK_ENTRY    (FK_SEG0 + 0x200)
#define FK_HI       (FK_SEG1 + FK_SEG1_LEN)

struct fk_buf {
    uint8_t *p;
    size_t len;
};

static inline uint8_t fk_byte(uint64_t addr)
{
    return (uint8_t)(addr * 7 + (addr >> 8) * 13 + 1);
}

/* The vmlinux: ehdr, 3 phdrs (2 PT_LOAD, 1 PT_NOTE), then the segment bytes. */
static inline struct fk_buf fk_vmlinux(void)
{
    size_t off0 = 0x1000, off1 = off0 + FK_SEG0_LEN;
    struct fk_buf b = {calloc(1, off1 + FK_SEG1_LEN), off1 + FK_SEG1_LEN};
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = FK_ENTRY;
    eh.e_phoff = sizeof(eh);
    eh.e_ehsize = sizeof(eh);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 3;
    Elf64_Phdr ph[3] = {
        {PT_LOAD, PF_R | PF_X, off0, 0xffffffff81000000ull, FK_SEG0, FK_SEG0_LEN, FK_SEG0_MEM,
         0x200000},
        {PT_NOTE, PF_R, off0, 0, 0, 0x10, 0x10, 4},
        {PT_LOAD, PF_R | PF_W, off1, 0xffffffff81200000ull, FK_SEG1, FK_SEG1_LEN, FK_SEG1_LEN,
         0x200000},
    };
    memcpy(b.p, &eh, sizeof(eh));
    memcpy(b.p + sizeof(eh), ph, sizeof(ph));
    for (size_t k = 0; k < FK_SEG0_LEN; k++)
        b.p[off0 + k] = fk_byte(FK_SEG0 + k);
    for (size_t k = 0; k < FK_SEG1_LEN; k++)
        b.p[off1 + k] = fk_byte(FK_SEG1 + k);
    return b;
}

enum fk_format { FK_LZ4, FK_GZIP, FK_XZ, FK_LZMA, FK_ZSTD, FK_BZIP2, FK_NFORMATS };

static inline void fk_put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* Compress like the kernel build does (payload + appended LE32 decompressed size). */
static inline struct fk_buf fk_compress(const struct fk_buf *in, enum fk_format f)
{
    size_t cap = in->len * 2 + 1024;
    struct fk_buf o = {malloc(cap), 0};
    switch (f) {
    case FK_LZ4: {
        fk_put32(o.p, 0x184C2102u);
        int n =
            LZ4_compress_default((const char *)in->p, (char *)o.p + 8, (int)in->len, (int)cap - 16);
        fk_put32(o.p + 4, (uint32_t)n);
        o.len = 8 + (size_t)n;
        break;
    }
    case FK_GZIP: {
        z_stream s = {0};
        deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        s.next_in = in->p;
        s.avail_in = (uInt)in->len;
        s.next_out = o.p;
        s.avail_out = (uInt)cap;
        deflate(&s, Z_FINISH);
        o.len = s.total_out;
        deflateEnd(&s);
        break;
    }
    case FK_XZ:
        lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in->p, in->len, o.p, &o.len, cap);
        break;
    case FK_LZMA: {
        lzma_stream s = LZMA_STREAM_INIT;
        lzma_options_lzma opt;
        lzma_lzma_preset(&opt, 6);
        if (lzma_alone_encoder(&s, &opt) != LZMA_OK) break;
        s.next_in = in->p;
        s.avail_in = in->len;
        s.next_out = o.p;
        s.avail_out = cap;
        if (lzma_code(&s, LZMA_FINISH) != LZMA_STREAM_END)
            o.len = 0;
        else
            o.len = s.total_out;
        lzma_end(&s);
        break;
    }
    case FK_ZSTD: o.len = ZSTD_compress(o.p, cap, in->p, in->len, 19); break;
    case FK_BZIP2: {
        unsigned n = (unsigned)cap;
        BZ2_bzBuffToBuffCompress((char *)o.p, &n, (char *)in->p, (unsigned)in->len, 9, 0, 0);
        o.len = n;
        break;
    }
    default: break;
    }
    fk_put32(o.p + o.len, (uint32_t)in->len);
    o.len += 4;
    return o;
}

#define FK_SETUP_SECTS 3
#define FK_PM_START    ((FK_SETUP_SECTS + 1) * 512)
#define FK_PAYLOAD_OFF 0x80

/* A bzImage around `payload`: boot sector + setup header (protocol 2.15, 64-bit). */
static inline struct fk_buf fk_bzimage(const struct fk_buf *payload)
{
    size_t len = FK_PM_START + FK_PAYLOAD_OFF + payload->len + 0x40;
    struct fk_buf b = {calloc(1, len), len};
    uint8_t *p = b.p;
    p[0x1f1] = FK_SETUP_SECTS;
    p[0x1fe] = 0x55;
    p[0x1ff] = 0xAA;
    p[0x200] = 0xEB;
    p[0x201] = 0x6A; /* header ends at 0x26c */
    memcpy(p + 0x202, "HdrS", 4);
    p[0x206] = 0x0F;
    p[0x207] = 0x02;
    p[0x211] = 0x01;                 /* LOADED_HIGH */
    fk_put32(p + 0x22c, 0x7FFFFFFF); /* initrd_addr_max */
    fk_put32(p + 0x230, 0x200000);   /* kernel_alignment */
    p[0x234] = 1;                    /* relocatable */
    p[0x236] = 0x7F;                 /* xloadflags: XLF_KERNEL_64 and friends */
    fk_put32(p + 0x238, 2047);       /* cmdline_size */
    fk_put32(p + 0x248, FK_PAYLOAD_OFF);
    fk_put32(p + 0x24c, (uint32_t)payload->len);
    fk_put32(p + 0x258, (uint32_t)FK_SEG0); /* pref_address */
    fk_put32(p + 0x260, 0x100000);          /* init_size */
    memcpy(p + FK_PM_START + FK_PAYLOAD_OFF, payload->p, payload->len);
    return b;
}

static inline struct fk_buf fk_bzimage_lz4(void)
{
    struct fk_buf v = fk_vmlinux();
    struct fk_buf c = fk_compress(&v, FK_LZ4);
    struct fk_buf b = fk_bzimage(&c);
    free(v.p);
    free(c.p);
    return b;
}

/* Path of a real Debian kernel (bzImage), or NULL: $VESSEL_KERNEL, else the guest cache. */
static inline const char *fk_real_kernel(char *buf, size_t n)
{
    const char *env = getenv("VESSEL_KERNEL");
    if (env && *env) return env;
    const char *cache = getenv("VESSEL_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, n, "%s/guest/vmlinuz", cache);
    else if (home)
        snprintf(buf, n, "%s/.cache/vessel/guest/vmlinuz", home);
    else
        return NULL;
    FILE *f = fopen(buf, "rb");
    if (!f) return NULL;
    fclose(f);
    return buf;
}

/* Report a skipped test in TAP. */
static inline void fk_skip(const char *name, const char *why)
{
    check_count++;
    printf("ok %d - %s # SKIP %s\n", check_count, name, why);
    fflush(stdout);
}
