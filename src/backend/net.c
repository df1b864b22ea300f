/* net.c — the back-end-independent part of net.h: spec parsing, the wake eventfd, the thread. */
#include "net.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "vessel/clock.h"

struct net_backend *net_backend_create(const char *spec, char *err, size_t errlen)
{
    struct net_backend *nb = calloc(1, sizeof(*nb));
    if (!nb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    nb->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (nb->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(nb);
        return NULL;
    }
    size_t n = strcspn(spec, ",");
    const char *opts = spec[n] ? spec + n + 1 : "";
    int rc;
    if (n == 4 && strncmp(spec, "user", 4) == 0)
        rc = net_slirp_init(nb, opts, err, errlen);
    else if (n == 3 && strncmp(spec, "tap", 3) == 0)
        rc = net_tap_init(nb, opts, err, errlen);
    else if (n == 6 && strncmp(spec, "stream", 6) == 0)
        rc = net_stream_init(nb, opts, err, errlen);
    else {
        snprintf(err, errlen, "unknown network back-end '%.*s' (use user, tap or stream)", (int)n,
                 spec);
        rc = -1;
    }
    if (rc) {
        close(nb->wake_fd);
        free(nb);
        return NULL;
    }
    return nb;
}

/* Every back-end thread runs confined (the back-end was set up on the creating thread). */
static void *net_thread_main(void *opaque)
{
    struct net_backend *nb = opaque;
    sandbox_enter(SANDBOX_NET);
    return nb->impl->thread(nb);
}

int net_backend_start(struct net_backend *nb, const struct net_client *client)
{
    nb->client = *client;
    pthread_t t;
    if (pthread_create(&t, NULL, net_thread_main, nb) != 0) return -1;
    nb->thread = (uint64_t)t;
    nb->started = true;
    return 0;
}

void net_backend_kick(struct net_backend *nb)
{
    uint64_t one = 1;
    ssize_t k = write(nb->wake_fd, &one, sizeof(one));
    (void)k; /* a full counter means a wake-up is already pending */
}

bool net_backend_take_wake(struct net_backend *nb)
{
    uint64_t v;
    return read(nb->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

void net_backend_wake_at(struct net_backend *nb, uint64_t ns)
{
    if (!nb->wake_at_ns || ns < nb->wake_at_ns) nb->wake_at_ns = ns;
}

int net_backend_timeout(const struct net_backend *nb, int cap)
{
    if (!nb->wake_at_ns) return cap;
    uint64_t now = clock_ns();
    /* Rounded up: waking a little early would only find the tokens not there yet. */
    uint64_t ms = nb->wake_at_ns > now ? (nb->wake_at_ns - now + 999999) / 1000000 : 0;
    if (cap >= 0 && ms > (uint64_t)cap) return cap;
    return ms > 1000000 ? 1000000 : (int)ms;
}

bool net_backend_rx_blocked(const struct net_backend *nb)
{
    return nb->client.rx_blocked && nb->client.rx_blocked(nb->client.opaque);
}

bool net_backend_timer_due(struct net_backend *nb)
{
    if (!nb->wake_at_ns || clock_ns() < nb->wake_at_ns) return false;
    nb->wake_at_ns = 0;
    return true;
}

void net_backend_send(struct net_backend *nb, const uint8_t *frame, size_t len)
{
    nb->impl->send(nb, frame, len);
}

void net_backend_destroy(struct net_backend *nb)
{
    if (!nb) return;
    if (nb->started) {
        nb->stop = 1;
        net_backend_kick(nb);
        pthread_join((pthread_t)nb->thread, NULL);
    }
    nb->impl->destroy(nb);
    close(nb->wake_fd);
    free(nb);
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) !=
        6)
        return -1;
    if (b[0] & 1) return -1; /* multicast addresses cannot be a NIC's own */
    for (int k = 0; k < 6; k++)
        mac[k] = (uint8_t)b[k];
    return 0;
}
