/* char.c — the back-end-independent half of chardev: choosing a back-end from its spec, and
 * non-blocking reads and complete writes on the descriptors it set up. Reads poll first rather
 * than setting O_NONBLOCK, because stdin's file description is shared with the parent shell. */
#include "backend/char.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int chardev_open(struct chardev *c, const char *spec, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->in_fd = c->out_fd = -1;
    if (!strcmp(spec, "stdio")) return char_stdio_open(c, err, errlen);
    if (!strncmp(spec, "file:", 5) && spec[5]) return char_file_open(c, spec + 5, err, errlen);
    snprintf(err, errlen, "--console: unknown back-end '%s'", spec);
    return -1;
}

void chardev_close(struct chardev *c)
{
    char_stdio_close(c);
    if (c->owns_out && c->out_fd >= 0) close(c->out_fd);
    c->in_fd = c->out_fd = -1;
    c->owns_out = false;
}

size_t chardev_read(struct chardev *c, void *buf, size_t cap)
{
    if (c->in_fd < 0 || cap == 0) return 0;
    struct pollfd p = {.fd = c->in_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return 0;
    ssize_t n = read(c->in_fd, buf, cap);
    if (n > 0) return (size_t)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    c->in_fd = -1; /* EOF or a dead descriptor: the guest just gets no more input */
    return 0;
}

void chardev_write(struct chardev *c, const void *buf, size_t len)
{
    const char *p = buf;
    while (len && c->out_fd >= 0) {
        ssize_t n = write(c->out_fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {.fd = c->out_fd, .events = POLLOUT};
                poll(&pf, 1, 100);
                continue;
            }
            c->out_fd = -1; /* EPIPE and friends: nobody is listening any more */
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}
