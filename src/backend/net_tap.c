/* net_tap.c — the tap back-end: frames go to and come from a host tap interface (created or
 * attached by name; the host side configures addresses and bridging). Needs CAP_NET_ADMIN. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct tap {
    int fd;
};

static void tap_send(struct net_backend *nb, const uint8_t *frame, size_t len)
{
    struct tap *t = nb->priv;
    ssize_t k = write(t->fd, frame, len);
    (void)k; /* a full tap queue drops the frame, as a wire would */
}

static void *tap_thread(void *opaque)
{
    struct net_backend *nb = opaque;
    struct tap *t = nb->priv;
    static uint8_t frame[65536 + 14];
    while (!nb->stop) {
        /* While the NIC is throttled the tap's queue holds the frames (the kernel drops). */
        struct pollfd p[2] = {{nb->wake_fd, POLLIN, 0},
                              {net_backend_rx_blocked(nb) ? -1 : t->fd, POLLIN, 0}};
        if (poll(p, 2, net_backend_timeout(nb, -1)) < 0 && errno != EINTR) break;
        if ((p[0].revents & POLLIN) || net_backend_timer_due(nb)) {
            net_backend_take_wake(nb);
            if (!nb->stop) nb->client.tx_ready(nb->client.opaque);
        }
        if (p[1].revents & POLLIN) {
            ssize_t n = read(t->fd, frame, sizeof(frame));
            if (n > 0) nb->client.receive(nb->client.opaque, frame, (size_t)n);
        }
    }
    return NULL;
}

static void tap_destroy(struct net_backend *nb)
{
    struct tap *t = nb->priv;
    close(t->fd);
    free(t);
}

static const struct net_backend_impl tap_impl = {tap_send, tap_thread, tap_destroy};

int net_tap_init(struct net_backend *nb, const char *opts, char *err, size_t errlen)
{
    char ifname[IFNAMSIZ] = "";
    while (*opts) {
        size_t n = strcspn(opts, ",");
        if (n > 7 && strncmp(opts, "ifname=", 7) == 0 && n - 7 < IFNAMSIZ) {
            memcpy(ifname, opts + 7, n - 7);
            ifname[n - 7] = 0;
        } else {
            snprintf(err, errlen, "tap: unknown or bad option '%.*s'", (int)n, opts);
            return -1;
        }
        opts += n + (opts[n] == ',');
    }
    if (!ifname[0]) {
        snprintf(err, errlen, "tap: ifname=NAME is required");
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "tap: cannot open /dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        snprintf(err, errlen, "tap: cannot attach %s: %s", ifname, strerror(errno));
        close(fd);
        return -1;
    }
    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->fd = fd;
    nb->priv = t;
    nb->impl = &tap_impl;
    return 0;
}
