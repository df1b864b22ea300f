/* test_console.c — console escapes, output buffering to a file back-end, panic banner watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/console.h"
#include "check.h"

static void test_escapes(void)
{
    struct console c;
    memset(&c, 0, sizeof(c));
    c.dev.in_fd = c.dev.out_fd = -1;
    const uint8_t in[] = {'a', 0x01, 0x01, 'b', 0x01, 'z', 'c', 0x01};
    CHECK_EQ(console_filter(&c, in, sizeof(in)), 4);
    const uint8_t *p;
    size_t n = console_pending(&c, &p);
    CHECK_EQ(n, 4);
    CHECK(n == 4 && !memcmp(p, "a\001bc", 4));
    CHECK(c.escape); /* a trailing Ctrl-A waits for the next byte */
    CHECK(!c.quit);
    console_consume(&c, 3);
    CHECK_EQ(console_pending(&c, &p), 1);
    console_consume(&c, 99); /* over-consuming is clamped */
    CHECK_EQ(console_pending(&c, &p), 0);
    const uint8_t x[] = {'x'};
    console_filter(&c, x, 1);
    CHECK(c.quit);
}

static void test_file_output(void)
{
    char path[] = "/tmp/vessel-test-console-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char spec[64];
    snprintf(spec, sizeof(spec), "file:%s", path);
    struct console c;
    char err[128];
    CHECK_EQ(console_open(&c, spec, err, sizeof(err)), 0);
    CHECK_EQ(console_input_fd(&c), -1);
    const char *msg = "[ 1.0] Kernel panic - not syncing: test\r\n";
    for (const char *s = msg; *s; s++)
        console_put(&c, (uint8_t)*s);
    CHECK(c.panic_seen);
    for (unsigned i = 0; i < 5000; i++) /* more than the buffer: flushes on the way */
        console_put(&c, 'y');
    console_close(&c);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        char buf[8192];
        size_t n = fread(buf, 1, sizeof(buf), f);
        CHECK_EQ(n, strlen(msg) + 5000);
        CHECK(!memcmp(buf, msg, strlen(msg)));
        fclose(f);
    }
    unlink(path);

    CHECK_EQ(console_open(&c, "file:/nonexistent-dir/x", err, sizeof(err)), -1);
    CHECK(strstr(err, "/nonexistent-dir/x") != NULL);
}

static void test_panic_watch(void)
{
    struct console c;
    memset(&c, 0, sizeof(c));
    c.dev.in_fd = c.dev.out_fd = -1;
    const char *near = "Kernel panic - not syncin\nKKernel panic - not syncing";
    for (const char *s = near; *s; s++)
        console_put(&c, (uint8_t)*s);
    CHECK(c.panic_seen);
    memset(&c, 0, sizeof(c));
    c.dev.in_fd = c.dev.out_fd = -1;
    const char *none = "Kernel pan1c - not syncing Kernel panic - not";
    for (const char *s = none; *s; s++)
        console_put(&c, (uint8_t)*s);
    CHECK(!c.panic_seen);
}

int main(void)
{
    RUN(test_escapes);
    RUN(test_file_output);
    RUN(test_panic_watch);
    return check_done();
}
