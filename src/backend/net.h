/* net.h — network back-ends: where the guest's Ethernet frames go. "user" is user-mode NAT
 * through libslirp (DHCP, DNS forwarding, host port forwards; no privileges needed), "tap" a
 * host tap device. Each back-end runs one thread of its own; the NIC front-end (virtio-net) is
 * called back only on that thread, so it needs no locking against the back-end.
 *
 * Spec strings (the --net option):
 *   user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...[,hostfwd=udp::HOSTPORT-:GUESTPORT]
 *     [,loopback=PORT]...[,allow=ADDR[/PREFIX][:PORT]]...[,deny=ADDR[/PREFIX][:PORT]]...
 *     (the network policy: net_slirp.c, docs/SANDBOX.md)
 *   tap,ifname=NAME
 *   stream,path=SOCKET (frames to a network server in another process: `vessel netd` or passt;
 *     net_stream.c, net_daemon.c) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_backend;

struct net_client {
    /* A frame for the guest. Return false if the guest has no room (the back-end drops it;
     * TCP retransmits). Called on the back-end thread. */
    bool (*receive)(void *opaque, const uint8_t *frame, size_t len);
    /* After net_backend_kick: pull the guest's pending frames and net_backend_send each. */
    void (*tx_ready)(void *opaque);
    void *opaque;
    /* Optional: true while the front end holds frames it could not give the guest yet (a
     * rate limit): the back-end then stops reading from the network, so the host's senders
     * are slowed by their own flow control instead of losing packets. */
    bool (*rx_blocked)(void *opaque);
};

/* The user network's policy counters (process-wide): flows the guest started that were
 * denied (to the host's loopback through the gateway; by an egress rule) and allowed. */
struct net_policy_counters {
    uint64_t denied_loopback, denied_egress, allowed;
};
void net_policy_get(struct net_policy_counters *c);

/* For a process receiving a live migration: a user network's host forward whose port is busy
 * (the source on this host still holds it) waits for the port instead of failing. */
void net_user_take_over_ports(bool on);

/* `vessel netd ...` (net_daemon.c): serve a back-end to VMs over a Unix socket; the exit
 * status. */
int net_daemon_main(int argc, char **argv);

/* Parse a NIC address "52:54:00:12:34:56" (unicast only); 0 or -1. */
int net_parse_mac(const char *s, uint8_t mac[6]);

/* Parse `spec` and create the back-end (not yet running). NULL with a message on error. */
struct net_backend *net_backend_create(const char *spec, char *err, size_t errlen);
/* Attach the front-end and start the thread. */
int net_backend_start(struct net_backend *nb, const struct net_client *client);
/* Thread-safe: wake the back-end thread to call tx_ready. */
void net_backend_kick(struct net_backend *nb);
/* Only on the back-end thread: call tx_ready again at clock_ns() time `ns` even if nothing
 * else happens (a rate-limited NIC resumes on this timer). The earliest request wins. */
void net_backend_wake_at(struct net_backend *nb, uint64_t ns);
/* Only on the back-end thread (inside tx_ready): send one frame to the network. */
void net_backend_send(struct net_backend *nb, const uint8_t *frame, size_t len);
void net_backend_destroy(struct net_backend *nb);

/* ---- for the back-end implementations (net_slirp.c, net_tap.c, net_stream.c) ---- */
struct net_backend_impl {
    void (*send)(struct net_backend *nb, const uint8_t *frame, size_t len);
    void *(*thread)(void *nb); /* the back-end's loop; returns when nb->stop */
    void (*destroy)(struct net_backend *nb);
};

struct net_backend {
    const struct net_backend_impl *impl;
    void *priv;
    struct net_client client;
    int wake_fd; /* eventfd: kicks and stop */
    volatile int stop;
    bool started;
    uint64_t wake_at_ns; /* 0: none; back-end thread only */
    uint64_t thread;     /* pthread_t */
};

/* Each returns 0 or -1 with a message; `opts` is the spec after the back-end name. */
int net_slirp_init(struct net_backend *nb, const char *opts, char *err, size_t errlen);
int net_tap_init(struct net_backend *nb, const char *opts, char *err, size_t errlen);
int net_stream_init(struct net_backend *nb, const char *opts, char *err, size_t errlen);
/* Drain the wake eventfd; true if it was signalled. */
bool net_backend_take_wake(struct net_backend *nb);
/* The poll timeout (ms, -1: none) that honours a wake_at timer, capped at `cap` (-1: none). */
int net_backend_timeout(const struct net_backend *nb, int cap);
/* Whether the front end asks the back-end to stop reading from the network for now. */
bool net_backend_rx_blocked(const struct net_backend *nb);
/* After the poll: true (and the timer disarmed) if the wake_at timer is due. */
bool net_backend_timer_due(struct net_backend *nb);
