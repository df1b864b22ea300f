/* test_state.c — the versioned state stream: round trips, section lookup, bounds. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vessel/state.h"

static void test_roundtrip(void)
{
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "alpha", 3);
    state_put_u8(&w, 0xab);
    state_put_u16(&w, 0x1234);
    state_put_u32(&w, 0xdeadbeef);
    state_put_u64(&w, 0x0123456789abcdefull);
    state_section_end(&w);
    state_section_begin(&w, "beta", 1);
    state_put_bytes(&w, "hello", 5);
    state_section_end(&w);
    CHECK(!w.error);

    struct state_reader r;
    CHECK(state_reader_init(&r, w.data, w.len));
    uint32_t ver = 0;
    CHECK(state_section_find(&r, "beta", &ver));
    CHECK_EQ(ver, 1);
    char buf[6] = {0};
    state_get_bytes(&r, buf, 5);
    CHECK(strcmp(buf, "hello") == 0);
    CHECK(state_ok(&r));
    CHECK(state_section_find(&r, "alpha", &ver));
    CHECK_EQ(ver, 3);
    CHECK_EQ(state_get_u8(&r), 0xab);
    CHECK_EQ(state_get_u16(&r), 0x1234);
    CHECK_EQ(state_get_u32(&r), 0xdeadbeef);
    CHECK_EQ(state_get_u64(&r), 0x0123456789abcdefull);
    CHECK(state_ok(&r));
    /* reading past the section's end is an error, not a read of the next section */
    state_get_u8(&r);
    CHECK(!state_ok(&r));
    CHECK(!state_section_find(&r, "gamma", &ver));
    state_writer_free(&w);
}

static void test_malformed(void)
{
    struct state_reader r;
    CHECK(!state_reader_init(&r, "garbage!garbage!", 16));
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "x", 1);
    state_put_u64(&w, 7);
    state_section_end(&w);
    /* truncated stream: the section claims more payload than exists */
    CHECK(state_reader_init(&r, w.data, w.len - 3));
    CHECK(!state_section_find(&r, "x", NULL));
    /* misuse: nested sections are refused */
    state_section_begin(&w, "a", 1);
    state_section_begin(&w, "b", 1);
    CHECK(w.error);
    state_writer_free(&w);
}

static void test_file(void)
{
    char dir[] = "/tmp/vessel-state-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/snap", dir);
    struct state_writer w;
    state_writer_init(&w);
    state_section_begin(&w, "z", 2);
    state_put_u32(&w, 42);
    state_section_end(&w);
    CHECK_EQ(state_write_file(&w, path), 0);
    uint8_t *data;
    size_t len;
    CHECK_EQ(state_read_file(path, &data, &len), 0);
    CHECK_EQ(len, w.len);
    CHECK(memcmp(data, w.data, len) == 0);
    free(data);
    state_writer_free(&w);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN(test_roundtrip);
    RUN(test_malformed);
    RUN(test_file);
    return check_done();
}
