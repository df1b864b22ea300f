/* test_bzimage.c — the bzImage setup header and payload, and the vmlinux ELF loader: every
 * compression format round-trips through bzimage_decompress; malformed images (bad magic, old
 * protocol, 32-bit only, payload out of range, corrupt or truncated data, hostile ELF headers)
 * are rejected with a message and leave RAM untouched; segments land at their physical
 * addresses with bss zeroed. With a real Debian kernel ($VESSEL_KERNEL or the guest cache) its
 * header and entry point are checked too. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kernel_fixture.h"
#include "machine/bzimage.h"
#include "machine/elf.h"
#include "vessel/bus.h"

static char err[256];

static void test_formats(void)
{
    struct fk_buf v = fk_vmlinux();
    for (int f = 0; f < FK_NFORMATS; f++) {
        struct fk_buf c = fk_compress(&v, (enum fk_format)f);
        uint8_t *out = NULL;
        size_t n = 0;
        int rc = bzimage_decompress(c.p, c.len, &out, &n, err, sizeof(err));
        if (rc != 0) fprintf(stderr, "# format %d: %s\n", f, err);
        CHECK_EQ(rc, 0);
        CHECK_EQ(n, v.len);
        CHECK(out && memcmp(out, v.p, v.len) == 0);
        free(out);

        /* Truncated in the middle: an error, never a crash or a short kernel. */
        rc = bzimage_decompress(c.p, c.len / 2, &out, &n, err, sizeof(err));
        CHECK(rc != 0);
        CHECK(out == NULL);
        CHECK(strstr(err, "cannot decompress") != NULL);
        free(c.p);
    }
    free(v.p);
}

static void test_lz4_multi_block_and_lies(void)
{
    /* Two legacy blocks, a lying size trailer (too small): the data decides, not the trailer. */
    struct fk_buf v = fk_vmlinux();
    size_t half = v.len / 2;
    uint8_t *c = malloc(v.len * 2 + 64);
    size_t pos = 0;
    fk_put32(c, 0x184C2102u);
    pos = 4;
    for (int k = 0; k < 2; k++) {
        const uint8_t *src = v.p + (k ? half : 0);
        size_t n = k ? v.len - half : half;
        int m =
            LZ4_compress_default((const char *)src, (char *)c + pos + 4, (int)n, (int)(v.len * 2));
        fk_put32(c + pos, (uint32_t)m);
        pos += 4 + (size_t)m;
    }
    fk_put32(c + pos, 16);
    pos += 4;
    uint8_t *out = NULL;
    size_t n = 0;
    CHECK_EQ(bzimage_decompress(c, pos, &out, &n, err, sizeof(err)), 0);
    CHECK_EQ(n, v.len);
    CHECK(out && memcmp(out, v.p, v.len) == 0);
    free(out);

    /* A block length beyond the data. */
    fk_put32(c + 4, 0x7FFFFFF0);
    CHECK(bzimage_decompress(c, pos, &out, &n, err, sizeof(err)) != 0);
    CHECK(strstr(err, "LZ4") != NULL);
    /* Garbage instead of LZ4 sequences. */
    fk_put32(c + 4, 64);
    memset(c + 8, 0xFF, 64);
    CHECK(bzimage_decompress(c, pos, &out, &n, err, sizeof(err)) != 0);
    free(c);
    free(v.p);

    static const uint8_t lzo[16] = {0x89, 'L', 'Z', 'O'};
    CHECK(bzimage_decompress(lzo, sizeof(lzo), &out, &n, err, sizeof(err)) != 0);
    CHECK(strstr(err, "LZO") != NULL);
    static const uint8_t junk[16] = {1, 2, 3, 4};
    CHECK(bzimage_decompress(junk, sizeof(junk), &out, &n, err, sizeof(err)) != 0);
    CHECK(strstr(err, "unknown payload compression") != NULL);
}

static void test_parse(void)
{
    struct fk_buf b = fk_bzimage_lz4();
    struct bzimage_info bi;
    CHECK(bzimage_is_bzimage(b.p, b.len));
    CHECK_EQ(bzimage_parse(b.p, b.len, &bi, err, sizeof(err)), 0);
    CHECK_EQ(bi.version, 0x020F);
    CHECK_EQ(bi.initrd_addr_max, 0x7FFFFFFF);
    CHECK_EQ(bi.cmdline_size, 2047);
    CHECK_EQ(bi.pref_address, FK_SEG0);
    CHECK(bi.payload == b.p + FK_PM_START + FK_PAYLOAD_OFF);
    CHECK(bi.hdr == b.p + 0x1f1);
    CHECK_EQ(bi.hdr_len, 0x26c - 0x1f1);

    struct fk_buf t = {malloc(b.len), b.len};
#define MUTATE(stmt, len_, msg)                                                                    \
    do {                                                                                           \
        memcpy(t.p, b.p, b.len);                                                                   \
        stmt;                                                                                      \
        CHECK(bzimage_parse(t.p, (len_), &bi, err, sizeof(err)) != 0);                             \
        if (!strstr(err, msg))                                                                     \
            fprintf(stderr, "# %s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, err, msg);     \
        CHECK(strstr(err, msg) != NULL);                                                           \
    } while (0)
    MUTATE(t.p[0x202] = 'X', b.len, "not a bzImage");
    MUTATE(t.p[0x1fe] = 0, b.len, "not a bzImage");
    MUTATE(t.p[0x206] = 0x06, b.len, "too old");
    MUTATE(t.p[0x236] = 0, b.len, "not a 64-bit kernel");
    MUTATE(fk_put32(t.p + 0x248, 0xFFFFFFF0), b.len, "outside the file");
    MUTATE(fk_put32(t.p + 0x24c, 0xFFFFFFF0), b.len, "outside the file");
    MUTATE(t.p[0x1f1] = 0xFF, b.len, "outside the file"); /* setup beyond the end */
    MUTATE((void)0, b.len - 0x80, "outside the file");    /* truncated file */
    MUTATE((void)0, 100, "not a bzImage");
#undef MUTATE
    free(t.p);
    free(b.p);
}

static void test_elf_load(void)
{
    struct bus bus;
    CHECK_EQ(bus_init(&bus, 32 << 20), 0);
    struct fk_buf v = fk_vmlinux();
    struct elf_load_info li;
    memset(bus.ram + FK_SEG0, 0xEE, FK_SEG0_MEM); /* bss must be cleared */
    CHECK_EQ(elf_load(&bus, v.p, v.len, 0x100000, &li, err, sizeof(err)), 0);
    CHECK_EQ(li.entry, FK_ENTRY);
    CHECK_EQ(li.lo, FK_SEG0);
    CHECK_EQ(li.hi, FK_HI);
    CHECK_EQ(li.nsegments, 2);
    int ok = 1;
    for (uint64_t k = 0; k < FK_SEG0_LEN; k++)
        ok &= bus.ram[FK_SEG0 + k] == fk_byte(FK_SEG0 + k);
    for (uint64_t k = FK_SEG0_LEN; k < FK_SEG0_MEM; k++)
        ok &= bus.ram[FK_SEG0 + k] == 0;
    for (uint64_t k = 0; k < FK_SEG1_LEN; k++)
        ok &= bus.ram[FK_SEG1 + k] == fk_byte(FK_SEG1 + k);
    CHECK(ok);
    CHECK(bus.page_flags[FK_SEG1 >> 12] & BUS_PAGE_DIRTY);

    /* Hostile headers: each rejected, RAM untouched. */
    Elf64_Ehdr *eh = (Elf64_Ehdr *)v.p;
    Elf64_Phdr *ph = (Elf64_Phdr *)(v.p + eh->e_phoff);
    memset(bus.ram + FK_SEG0, 0x5A, 16);
    struct fk_buf t = {malloc(v.len), v.len};
#define BAD(stmt, msg)                                                                             \
    do {                                                                                           \
        memcpy(t.p, v.p, v.len);                                                                   \
        eh = (Elf64_Ehdr *)t.p;                                                                    \
        ph = (Elf64_Phdr *)(t.p + sizeof(Elf64_Ehdr));                                             \
        stmt;                                                                                      \
        CHECK(elf_load(&bus, t.p, t.len, 0x100000, &li, err, sizeof(err)) != 0);                   \
        if (!strstr(err, msg))                                                                     \
            fprintf(stderr, "# %s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, err, msg);     \
        CHECK(strstr(err, msg) != NULL);                                                           \
    } while (0)
    BAD(t.p[0] = 0, "not an ELF");
    BAD(eh->e_ident[EI_CLASS] = ELFCLASS32, "64-bit");
    BAD(eh->e_machine = EM_386, "64-bit");
    BAD(eh->e_phoff = v.len - 8, "truncated");
    BAD(eh->e_phnum = 60000, "truncated");
    BAD(eh->e_phentsize = 8, "truncated");
    BAD(ph[0].p_offset = v.len, "outside the file");
    BAD(ph[0].p_filesz = ph[0].p_memsz + 1, "outside the file");
    BAD(ph[0].p_paddr = 0x7000, "not in guest RAM"); /* over the zero page */
    BAD(ph[2].p_paddr = (32 << 20) - 0x10, "not in guest RAM");
    BAD(ph[2].p_paddr = ~0ull - 0x10, "not in guest RAM");
    BAD(ph[2].p_paddr = FK_SEG0 + 0x100, "overlap");
    BAD(eh->e_entry = 0x3000000, "entry point");
    BAD(ph[0].p_type = PT_NULL; ph[2].p_type = PT_NULL, "no loadable");
#undef BAD
    CHECK_EQ(bus.ram[FK_SEG0], 0x5A);
    free(t.p);
    free(v.p);
    bus_destroy(&bus);
}

static void test_real_kernel(void)
{
    char buf[512];
    const char *path = fk_real_kernel(buf, sizeof(buf));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc((size_t)len);
    CHECK_EQ(fread(img, 1, (size_t)len, f), (size_t)len);
    fclose(f);

    struct bzimage_info bi;
    CHECK_EQ(bzimage_parse(img, (size_t)len, &bi, err, sizeof(err)), 0);
    CHECK(bi.version >= 0x020C);
    CHECK(bi.xloadflags & BZ_XLF_KERNEL_64);
    CHECK(bi.initrd_addr_max >= 0x37FFFFFF);
    CHECK(bi.cmdline_size >= 255);
    uint8_t *vm = NULL;
    size_t vlen = 0;
    int rc = bzimage_decompress(bi.payload, bi.payload_len, &vm, &vlen, err, sizeof(err));
    if (rc) fprintf(stderr, "# %s\n", err);
    CHECK_EQ(rc, 0);
    CHECK(elf_is_elf(vm, vlen));
    CHECK_EQ(vlen, (uint32_t)(bi.payload[bi.payload_len - 4] | bi.payload[bi.payload_len - 3] << 8 |
                              bi.payload[bi.payload_len - 2] << 16 |
                              (uint32_t)bi.payload[bi.payload_len - 1] << 24));
    struct bus bus;
    CHECK_EQ(bus_init(&bus, 256 << 20), 0);
    struct elf_load_info li;
    rc = elf_load(&bus, vm, vlen, 0x100000, &li, err, sizeof(err));
    if (rc) fprintf(stderr, "# %s\n", err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(li.entry, bi.pref_address); /* startup_64 at LOAD_PHYSICAL_ADDR (16 MiB) */
    CHECK_EQ(li.lo, bi.pref_address);
    CHECK(li.hi > li.lo && li.hi - li.lo <= bi.init_size);
    bus_destroy(&bus);
    free(vm);
    free(img);
}

int main(void)
{
    RUN(test_formats);
    RUN(test_lz4_multi_block_and_lies);
    RUN(test_parse);
    RUN(test_elf_load);
    char buf[512];
    if (fk_real_kernel(buf, sizeof(buf)))
        RUN(test_real_kernel);
    else
        fk_skip("test_real_kernel", "no kernel (set VESSEL_KERNEL)");
    return check_done();
}
