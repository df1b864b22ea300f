/* test_fw_cfg.c — QEMU's fw_cfg device as Linux's qemu_fw_cfg driver and SeaBIOS use it: the
 * signature and interface id through the data port, "QEMU CFG" at the DMA ports, the file
 * directory (big-endian, in name order) and reading a file by its key; DMA reads (select, skip,
 * zero fill past the end) with the control word written back; and what a hostile guest can do:
 * descriptors and buffers outside RAM, DMA writes, unknown keys, huge lengths — each ends with
 * the error bit or zeroes, never outside RAM. Names are checked; state round-trips and a state
 * pointing past an item is refused. */
#include <string.h>

#include "check.h"
#include "hw/fw_cfg.h"
#include "vessel/bus.h"
#include "vessel/state.h"

#define RAM (2u << 20)

static struct bus bus;

static void sel(uint16_t key)
{
    bus_pio_write(&bus, FW_CFG_PORT, key, 2);
}

static void read_data(void *buf, size_t n)
{
    for (size_t k = 0; k < n; k++)
        ((uint8_t *)buf)[k] = (uint8_t)bus_pio_read(&bus, FW_CFG_PORT + 1, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Run a DMA descriptor at `desc` and return its control word afterwards. */
static uint32_t dma(uint64_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
    uint8_t d[16];
    put_be32(d, control);
    put_be32(d + 4, len);
    put_be32(d + 8, (uint32_t)(addr >> 32));
    put_be32(d + 12, (uint32_t)addr);
    if (desc + 16 <= RAM) CHECK(bus_dma_write(&bus, desc, d, 16));
    bus_pio_write(&bus, FW_CFG_PORT + 4, __builtin_bswap32((uint32_t)(desc >> 32)), 4);
    bus_pio_write(&bus, FW_CFG_PORT + 8, __builtin_bswap32((uint32_t)desc), 4);
    uint8_t c[4] = {0xee, 0xee, 0xee, 0xee};
    if (desc + 16 <= RAM) CHECK(bus_dma_read(&bus, desc, c, 4));
    return be32(c);
}

static struct fw_cfg *make(void)
{
    struct fw_cfg *f = fw_cfg_create(&bus, FW_CFG_PORT, 512u << 20, 1);
    CHECK(f != NULL);
    char err[256];
    static uint8_t big[100000];
    for (size_t k = 0; k < sizeof(big); k++)
        big[k] = (uint8_t)(k * 7 + 3);
    CHECK_EQ(fw_cfg_add_file(f, "opt/zeta", "last", 4, err, sizeof(err)), 0);
    CHECK_EQ(fw_cfg_add_file(f, "opt/alpha", big, sizeof(big), err, sizeof(err)), 0);
    CHECK_EQ(fw_cfg_add_file(f, "opt/empty", "", 0, err, sizeof(err)), 0);
    return f;
}

/* The key and size of `name` from the directory read through the data port. */
static int find_file(const char *name, uint16_t *key, uint32_t *size)
{
    sel(FW_CFG_FILE_DIR);
    uint8_t n[4];
    read_data(n, 4);
    uint32_t count = be32(n);
    int found = -1;
    char prev[57] = "";
    for (uint32_t k = 0; k < count; k++) {
        uint8_t e[64];
        read_data(e, 64);
        char ename[57] = {0};
        memcpy(ename, e + 8, 56);
        CHECK(strcmp(prev, ename) < 0); /* in name order */
        strcpy(prev, ename);
        if (!strcmp(ename, name)) {
            *size = be32(e);
            *key = (uint16_t)(e[4] << 8 | e[5]);
            found = 0;
        }
    }
    return found;
}

static void test_ports(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct fw_cfg *f = make();
    char sig[5] = {0};
    sel(FW_CFG_SIGNATURE);
    read_data(sig, 4);
    CHECK(!strcmp(sig, "QEMU"));
    uint8_t id[4];
    sel(FW_CFG_ID);
    read_data(id, 4);
    CHECK_EQ(id[0], FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
    char dsig[9] = {0};
    for (unsigned k = 0; k < 8; k++)
        dsig[k] = (char)bus_pio_read(&bus, FW_CFG_PORT + 4 + k, 1);
    CHECK(!strcmp(dsig, "QEMU CFG"));
    uint8_t ram[8];
    sel(FW_CFG_RAM_SIZE);
    read_data(ram, 8);
    CHECK_EQ(ram[3], 0x20); /* 512 MiB little-endian */
    uint16_t key;
    uint32_t size;
    CHECK_EQ(find_file("opt/zeta", &key, &size), 0);
    CHECK_EQ(size, 4);
    char z[5] = {0};
    sel(key);
    read_data(z, 4);
    CHECK(!strcmp(z, "last"));
    uint8_t past;
    read_data(&past, 1);
    CHECK_EQ(past, 0); /* past the end: zeroes */
    uint8_t arch[4] = {0xee, 0xee, 0xee, 0xee};
    sel(0x8000 | FW_CFG_SIGNATURE); /* arch-local: its own (empty) namespace, not "QEMU" */
    read_data(arch, 4);
    CHECK(!memcmp(arch, "\0\0\0\0", 4));
    CHECK_EQ(find_file("opt/alpha", &key, &size), 0);
    CHECK_EQ(size, 100000);
    CHECK_EQ(fw_cfg_file_count(f), 3);
    sel(0x3fff); /* nothing there */
    read_data(&past, 1);
    CHECK_EQ(past, 0);
    bus_pio_write(&bus, FW_CFG_PORT + 1, 0x55, 1); /* ignored */
    fw_cfg_destroy(f);
    bus_destroy(&bus);
}

static void test_dma(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct fw_cfg *f = make();
    uint16_t key;
    uint32_t size;
    CHECK_EQ(find_file("opt/alpha", &key, &size), 0);
    const uint64_t desc = 0x1000, buf = 0x10000;
    /* select + read the whole file */
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, size, buf), 0);
    uint8_t *p = bus_ram_ptr(&bus, buf, size);
    unsigned bad = 0;
    for (uint32_t k = 0; k < size; k++)
        bad += p[k] != (uint8_t)(k * 7 + 3);
    CHECK_EQ(bad, 0);
    /* select, skip 1000, read 10 */
    memset(p, 0xaa, 64);
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x04, 1000, 0), 0);
    CHECK_EQ(dma(desc, 0x02, 10, buf), 0);
    CHECK(p[0] == (uint8_t)(1000 * 7 + 3) && p[9] == (uint8_t)(1009 * 7 + 3) && p[10] == 0xaa);
    /* a read past the end fills zeroes */
    CHECK_EQ(find_file("opt/zeta", &key, &size), 0);
    memset(p, 0xaa, 64);
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, 16, buf), 0);
    CHECK(!memcmp(p, "last", 4) && p[4] == 0 && p[15] == 0 && p[16] == 0xaa);

    /* hostile: buffer outside RAM, a write, a huge length, a descriptor outside RAM */
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, 16, RAM - 8) & 1, 1);
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x10, 4, buf) & 1, 1);
    CHECK(!memcmp(p, "last", 4)); /* nothing written into the item or read back */
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, 0xffffffffu, buf) & 1, 1);
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, 4, UINT64_MAX - 2) & 1, 1);
    dma(0xfffffffffff0ull, 0x02, 4, buf); /* must simply do nothing */
    dma(RAM - 8, 0x02, 4, buf);           /* a descriptor straddling RAM's end */
    /* the device still works */
    CHECK_EQ(dma(desc, (uint32_t)key << 16 | 0x08 | 0x02, 4, buf), 0);
    CHECK(!memcmp(p, "last", 4));
    fw_cfg_destroy(f);
    bus_destroy(&bus);
}

static void test_names(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct fw_cfg *f = fw_cfg_create(&bus, FW_CFG_PORT, RAM, 1);
    char err[256];
    char longname[80];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    CHECK_EQ(fw_cfg_add_file(f, "", "x", 1, err, sizeof(err)), -1);
    CHECK_EQ(fw_cfg_add_file(f, longname, "x", 1, err, sizeof(err)), -1);
    CHECK_EQ(fw_cfg_add_file(f, "opt/a", "x", 1, err, sizeof(err)), 0);
    CHECK_EQ(fw_cfg_add_file(f, "opt/a", "y", 1, err, sizeof(err)), -1);
    CHECK(strstr(err, "twice") != NULL);
    char name[16];
    unsigned added = 1;
    for (unsigned k = 0; k < FW_CFG_MAX_FILES + 2; k++) {
        snprintf(name, sizeof(name), "opt/n%u", k);
        if (fw_cfg_add_file(f, name, "z", 1, err, sizeof(err)) == 0) added++;
    }
    CHECK_EQ(added, FW_CFG_MAX_FILES);
    /* a second device on the same ports is refused */
    CHECK(fw_cfg_create(&bus, FW_CFG_PORT, RAM, 1) == NULL);
    fw_cfg_destroy(f);
    bus_destroy(&bus);
}

static void test_state(void)
{
    CHECK_EQ(bus_init(&bus, RAM), 0);
    struct fw_cfg *f = make();
    uint16_t key;
    uint32_t size;
    CHECK_EQ(find_file("opt/zeta", &key, &size), 0);
    sel(key);
    char two[2];
    read_data(two, 2);
    struct state_writer w;
    state_writer_init(&w);
    fw_cfg_save(f, &w);
    CHECK(!w.error);
    fw_cfg_destroy(f);
    bus_destroy(&bus);

    CHECK_EQ(bus_init(&bus, RAM), 0);
    f = make();
    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(fw_cfg_load(f, &r), 0);
    char rest[3] = {0};
    read_data(rest, 2);
    CHECK(!strcmp(rest, "st"));
    state_writer_free(&w);
    fw_cfg_destroy(f);
    bus_destroy(&bus);

    /* a saved offset past its item (a machine with a shorter file) is refused */
    CHECK_EQ(bus_init(&bus, RAM), 0);
    f = fw_cfg_create(&bus, FW_CFG_PORT, RAM, 1);
    char err[256];
    CHECK_EQ(fw_cfg_add_file(f, "opt/zeta", "ab", 2, err, sizeof(err)), 0);
    state_writer_init(&w);
    state_section_begin(&w, "fw_cfg", 1);
    state_put_u16(&w, FW_CFG_FILE_FIRST);
    state_put_u32(&w, 3);
    state_put_u64(&w, 0);
    state_section_end(&w);
    CHECK(state_reader_init(&r, w.data, w.len));
    CHECK_EQ(fw_cfg_load(f, &r), -1);
    state_writer_free(&w);
    fw_cfg_destroy(f);
    bus_destroy(&bus);
}

int main(void)
{
    RUN(test_ports);
    RUN(test_dma);
    RUN(test_names);
    RUN(test_state);
    return check_done();
}
