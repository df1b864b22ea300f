/* net_stream.c — the stream back-end: the guest's frames go over a Unix stream socket to a
 * network server in another process — `vessel netd` (net_daemon.c, libslirp or a tap device
 * behind it) or passt — framed as net_frame.h says. The server, not this VM, holds the
 * network's state (the NAT table, the host sockets of open TCP connections, the forwarded
 * ports), so a VM that moves to another process on the same host by live migration keeps its
 * connections: the destination connects to the same socket and the server carries on.
 *
 * The connection is made on this back-end's thread and made again whenever it breaks: the server
 * may start after the VM, or restart; until then frames from the guest are dropped as on an
 * unplugged cable. A server serves one VM at a time and leaves later clients waiting in its
 * accept queue, which is what makes the hand-over of a migration need no coordination here.
 *
 * Spec: stream,path=SOCKET */
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_frame.h"
#include "vessel/clock.h"
#include "vessel/log.h"

#define STREAM_RETRY_MS 100 /* how often a missing or broken server is tried again */

struct net_stream {
    struct sockaddr_un addr;
    int fd; /* -1 while not connected */
    bool said_waiting;
    uint64_t next_try_ns;
    struct net_frame_reader rx;
    struct net_frame_writer tx;
};

static void stream_disconnect(struct net_stream *s, const char *why)
{
    if (s->fd < 0) return;
    log_warn("net stream: lost %s (%s); reconnecting", s->addr.sun_path, why);
    close(s->fd);
    s->fd = -1;
    s->next_try_ns = clock_ns() + STREAM_RETRY_MS * 1000000ull;
}

static void stream_try_connect(struct net_stream *s)
{
    if (s->fd >= 0 || clock_ns() < s->next_try_ns) return;
    s->next_try_ns = clock_ns() + STREAM_RETRY_MS * 1000000ull;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    if (connect(fd, (const struct sockaddr *)&s->addr, sizeof(s->addr)) != 0) {
        if (!s->said_waiting)
            log_warn("net stream: waiting for a server on %s (%s)", s->addr.sun_path,
                     strerror(errno));
        s->said_waiting = true;
        close(fd);
        return;
    }
    int buf = 1 << 20; /* room for a burst of full-size frames each way */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (s->said_waiting) log_info("net stream: connected to %s", s->addr.sun_path);
    s->said_waiting = false;
    s->fd = fd;
    net_frame_reader_reset(&s->rx);
    net_frame_writer_reset(&s->tx);
}

static void stream_send(struct net_backend *nb, const uint8_t *frame, size_t len)
{
    struct net_stream *s = nb->priv;
    if (s->fd >= 0 && net_frame_write(&s->tx, s->fd, frame, len) < 0)
        stream_disconnect(s, "write failed");
}

static void stream_deliver(void *opaque, const uint8_t *frame, size_t len)
{
    struct net_backend *nb = opaque;
    nb->client.receive(nb->client.opaque, frame, len);
}

static void *stream_thread(void *opaque)
{
    struct net_backend *nb = opaque;
    struct net_stream *s = nb->priv;
    while (!nb->stop) {
        stream_try_connect(s);
        short ev = (short)((net_backend_rx_blocked(nb) ? 0 : POLLIN) |
                           (net_frame_pending(&s->tx) ? POLLOUT : 0));
        struct pollfd p[2] = {{nb->wake_fd, POLLIN, 0}, {s->fd, ev, 0}};
        int cap = s->fd < 0 ? STREAM_RETRY_MS : -1;
        if (poll(p, 2, net_backend_timeout(nb, cap)) < 0 && errno != EINTR) break;
        if (s->fd >= 0 && (p[1].revents & POLLOUT) && net_frame_flush(&s->tx, s->fd) < 0)
            stream_disconnect(s, "write failed");
        if (s->fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            int rc = net_frame_read(&s->rx, s->fd, stream_deliver, nb);
            if (rc <= 0) stream_disconnect(s, rc == 0 ? "closed by the server" : "bad frame");
        }
        if ((p[0].revents & POLLIN) || net_backend_timer_due(nb)) {
            net_backend_take_wake(nb);
            if (!nb->stop) nb->client.tx_ready(nb->client.opaque);
        }
    }
    return NULL;
}

static void stream_destroy(struct net_backend *nb)
{
    struct net_stream *s = nb->priv;
    if (s->fd >= 0) close(s->fd);
    free(s);
}

static const struct net_backend_impl stream_impl = {stream_send, stream_thread, stream_destroy};

int net_stream_init(struct net_backend *nb, const char *opts, char *err, size_t errlen)
{
    const char *path = NULL;
    size_t path_len = 0;
    while (*opts) {
        size_t n = strcspn(opts, ",");
        if (n > 5 && strncmp(opts, "path=", 5) == 0) {
            path = opts + 5;
            path_len = n - 5;
        } else {
            snprintf(err, errlen, "stream: unknown or bad option '%.*s'", (int)n, opts);
            return -1;
        }
        opts += n + (opts[n] == ',');
    }
    struct net_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!path || path_len >= sizeof(s->addr.sun_path)) {
        snprintf(err, errlen, "stream: path=SOCKET is required (at most %zu bytes)",
                 sizeof(s->addr.sun_path) - 1);
        free(s);
        return -1;
    }
    s->addr.sun_family = AF_UNIX;
    memcpy(s->addr.sun_path, path, path_len);
    s->fd = -1;
    nb->priv = s;
    nb->impl = &stream_impl;
    return 0;
}
