/* net_frame.c — the length-prefixed frame stream of net_frame.h. */
#include "net_frame.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static uint32_t frame_len(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void net_frame_reader_reset(struct net_frame_reader *r)
{
    r->have = 0;
}

int net_frame_read(struct net_frame_reader *r, int fd,
                   void (*frame)(void *opaque, const uint8_t *data, size_t len), void *opaque)
{
    for (;;) {
        /* Only as much as completes the length word or the current frame, so bytes of the next
         * frame never have to be moved down. */
        size_t want = r->have < 4 ? 4 - r->have : 4 + frame_len(r->buf) - r->have;
        ssize_t n = read(fd, r->buf + r->have, want);
        if (n == 0) return 0;
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 1 : -1;
        r->have += (size_t)n;
        if (r->have == 4) {
            uint32_t len = frame_len(r->buf);
            if (len == 0 || len > NET_FRAME_MAX) return -1;
        }
        if (r->have > 4 && r->have == 4 + frame_len(r->buf)) {
            frame(opaque, r->buf + 4, r->have - 4);
            r->have = 0;
        }
    }
}

void net_frame_writer_reset(struct net_frame_writer *w)
{
    w->off = w->len = 0;
}

int net_frame_flush(struct net_frame_writer *w, int fd)
{
    while (w->off < w->len) {
        ssize_t n = send(fd, w->pending + w->off, w->len - w->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        w->off += (size_t)n;
    }
    w->off = w->len = 0;
    return 1;
}

int net_frame_write(struct net_frame_writer *w, int fd, const uint8_t *data, size_t len)
{
    if (len == 0 || len > NET_FRAME_MAX) return 0;
    if (net_frame_pending(w)) {
        int rc = net_frame_flush(w, fd);
        if (rc < 0) return -1;
        if (rc == 0) {
            w->dropped++;
            return 0;
        }
    }
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    struct iovec iov[2] = {{hdr, 4}, {(void *)data, len}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) return -1;
        n = 0;
    }
    if ((size_t)n == 4 + len) return 1;
    /* Keep the unsent tail: the peer must still see a whole frame. */
    memcpy(w->pending, hdr, 4);
    memcpy(w->pending + 4, data, len);
    w->off = (size_t)n;
    w->len = 4 + len;
    return 1;
}
