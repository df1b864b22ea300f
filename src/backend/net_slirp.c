/* net_slirp.c — user-mode networking through libslirp, QEMU's "-net user": the guest sees a
 * 10.0.2.0/24 network with a gateway at .2 (which NATs TCP/UDP to the host's sockets), a DNS
 * forwarder at .3 and DHCP handing out .15. libslirp is not thread-safe, so every call into it
 * after creation happens on this back-end's own thread.
 *
 * The network policy (docs/SANDBOX.md): libslirp connects a guest's flow to the gateway to
 * the host's loopback, where services trust their callers; so by default the guest reaches no
 * loopback port, only those opened with loopback=PORT. Flows to other addresses pass an
 * egress list of allow=/deny= rules (ADDR[/PREFIX][:PORT], first match wins, no match allows).
 * The check is on the guest's frames before libslirp sees them: a TCP SYN, a UDP datagram, an
 * ICMP echo request. A denied flow is dropped, counted (net_policy_get) and logged once with
 * the guest's address and port. DHCP, the DNS forwarder and replies on host-forwarded ports
 * are not flows the guest starts, and pass.
 *
 * Port take-over: a live migration to this same host starts the destination while the source
 * still listens on its forwarded host ports. In a process that receives a migration
 * (net_user_take_over_ports), a host forward whose port is busy is kept pending and retried on
 * this thread until the source exits and the port is free, instead of failing the migration. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/clock.h"
#include "vessel/log.h"

#define SLIRP_MAX_TIMERS 16
#define POLICY_MAX_RULES 32
#define POLICY_MAX_PORTS 32
#define POLICY_RECENT    64 /* denied flows remembered, to count and log each once */

struct policy_rule {
    bool allow;
    uint32_t addr, mask; /* host order */
    uint16_t port;       /* 0: any */
};

struct policy_flow {
    uint8_t proto;
    uint16_t sport, dport;
    uint32_t src, dst;
};

struct slirp_policy {
    uint16_t loopback[POLICY_MAX_PORTS]; /* gateway ports that reach the host's loopback */
    unsigned nloopback;
    uint16_t udp_fwd[POLICY_MAX_PORTS]; /* guest ports of UDP host forwards: replies pass */
    unsigned nudp_fwd;
    struct policy_rule rules[POLICY_MAX_RULES];
    unsigned nrules;
    struct policy_flow recent[POLICY_RECENT];
    unsigned nrecent, next_recent;
};

static _Atomic uint64_t policy_denied_loopback, policy_denied_egress, policy_allowed;

struct slirp_fwd {
    bool udp;
    struct in_addr haddr, gaddr;
    int hport, gport;
};

#define PENDING_RETRY_MS 100   /* how often a busy forwarded port is tried again */
#define PENDING_WARN_MS  30000 /* then say so once, and go on trying every second */

struct slirp_timer {
    bool used;
    bool opaque_kind; /* created by timer_new_opaque: fire with slirp_handle_timer */
    SlirpTimerCb cb;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
};

struct slirp_net {
    Slirp *slirp;
    struct slirp_timer timers[SLIRP_MAX_TIMERS];
    struct pollfd *pfd;
    unsigned npfd, cap;
    bool warned_fragment;
    struct slirp_policy policy;
    bool rx_blocked;                            /* for this round of poll */
    struct slirp_fwd pending[POLICY_MAX_PORTS]; /* host forwards whose port was busy */
    unsigned npending;
    int64_t pending_since_ms, pending_next_ms;
    bool pending_warned;
};

/* See "port take-over" above: 0 (off) or on, for the whole process. */
static atomic_bool take_over_ports;

void net_user_take_over_ports(bool on)
{
    atomic_store(&take_over_ports, on);
}

static int64_t now_ms(void)
{
    return (int64_t)(clock_ns() / 1000000);
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_backend *nb = opaque;
    if (nb->client.receive) nb->client.receive(nb->client.opaque, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    log_warn("slirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    return (int64_t)clock_ns();
}

static struct slirp_timer *timer_alloc(struct net_backend *nb)
{
    struct slirp_net *s = nb->priv;
    for (unsigned k = 0; k < SLIRP_MAX_TIMERS; k++)
        if (!s->timers[k].used) {
            memset(&s->timers[k], 0, sizeof(s->timers[k]));
            s->timers[k].used = true;
            s->timers[k].expire_ms = -1;
            return &s->timers[k];
        }
    log_error("slirp: out of timers");
    return NULL;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct slirp_timer *t = timer_alloc(opaque);
    if (t) {
        t->cb = cb;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct slirp_timer *t = timer_alloc(opaque);
    if (t) {
        t->opaque_kind = true;
        t->id = id;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct slirp_timer *t = timer;
    if (t) t->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    struct slirp_timer *t = timer;
    if (t) t->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque) {}

static void cb_unregister_poll_fd(int fd, void *opaque) {}

static void cb_notify(void *opaque)
{
    net_backend_kick(opaque);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
    struct slirp_net *s = ((struct net_backend *)opaque)->priv;
    if (s->npfd == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 32;
        struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
        if (!p) return -1;
        s->pfd = p;
        s->cap = cap;
    }
    short ev = 0;
    /* Reading nothing from the host while the NIC is throttled: see net_client.rx_blocked. */
    if ((events & SLIRP_POLL_IN) && !(s->npfd > 0 && s->rx_blocked)) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    s->pfd[s->npfd] = (struct pollfd){fd, ev, 0};
    return (int)s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
    struct slirp_net *s = ((struct net_backend *)opaque)->priv;
    if (idx < 0 || (unsigned)idx >= s->npfd) return 0;
    short r = s->pfd[idx].revents;
    int ev = 0;
    if (r & POLLIN) ev |= SLIRP_POLL_IN;
    if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
    if (r & POLLERR) ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
    return ev;
}

static void fire_timers(struct net_backend *nb)
{
    struct slirp_net *s = nb->priv;
    int64_t now = now_ms();
    for (unsigned k = 0; k < SLIRP_MAX_TIMERS; k++) {
        struct slirp_timer *t = &s->timers[k];
        if (!t->used || t->expire_ms < 0 || t->expire_ms > now) continue;
        t->expire_ms = -1;
        if (t->opaque_kind)
            slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
        else if (t->cb)
            t->cb(t->cb_opaque);
    }
}

/* Try the pending host forwards again; keep those whose port is still busy. */
static void retry_pending_forwards(struct slirp_net *s)
{
    if (!s->npending) return;
    int64_t now = now_ms();
    if (now < s->pending_next_ms) return;
    unsigned kept = 0;
    for (unsigned k = 0; k < s->npending; k++) {
        const struct slirp_fwd *f = &s->pending[k];
        if (slirp_add_hostfwd(s->slirp, f->udp, f->haddr, f->hport, f->gaddr, f->gport) == 0)
            log_info("user network: host port %d is free now and forwarded to the guest's port "
                     "%d",
                     f->hport, f->gport);
        else
            s->pending[kept++] = *f;
    }
    s->npending = kept;
    bool late = now - s->pending_since_ms >= PENDING_WARN_MS;
    if (kept && late && !s->pending_warned) {
        s->pending_warned = true;
        log_warn("user network: host port %d is still busy after %d s; trying every second",
                 s->pending[0].hport, PENDING_WARN_MS / 1000);
    }
    s->pending_next_ms = now + (late ? 1000 : PENDING_RETRY_MS);
}

static void *slirp_thread(void *opaque)
{
    struct net_backend *nb = opaque;
    struct slirp_net *s = nb->priv;
    while (!nb->stop) {
        retry_pending_forwards(s);
        uint32_t timeout = s->npending ? PENDING_RETRY_MS : 1000;
        s->npfd = 0;
        s->rx_blocked = net_backend_rx_blocked(nb);
        add_poll(nb->wake_fd, SLIRP_POLL_IN, nb);
        slirp_pollfds_fill(s->slirp, &timeout, add_poll, nb);
        int64_t now = now_ms();
        for (unsigned k = 0; k < SLIRP_MAX_TIMERS; k++) {
            const struct slirp_timer *t = &s->timers[k];
            if (t->used && t->expire_ms >= 0)
                timeout = t->expire_ms <= now ? 0
                          : (uint64_t)(t->expire_ms - now) < timeout
                              ? (uint32_t)(t->expire_ms - now)
                              : timeout;
        }
        int rc = poll(s->pfd, s->npfd, net_backend_timeout(nb, (int)timeout));
        if (rc < 0 && errno != EINTR) break;
        bool woken = rc > 0 && (s->pfd[0].revents & POLLIN);
        slirp_pollfds_poll(s->slirp, rc < 0, get_revents, nb);
        fire_timers(nb);
        if (net_backend_timer_due(nb)) woken = true;
        if (woken) {
            net_backend_take_wake(nb);
            if (!nb->stop && nb->client.tx_ready) nb->client.tx_ready(nb->client.opaque);
        }
    }
    return NULL;
}

/* libslirp 4.7's IPv4 reassembly follows a wild pointer when a final fragment (MF clear,
 * offset non-zero) arrives while no reassembly queue exists for its datagram: a guest sending
 * fragments out of order, or repeating the last one, crashes the monitor (found by
 * tests/fuzz/fuzz_virtio_net.c). Which queues libslirp holds cannot be seen from outside, so
 * IPv4 fragments are not passed on at all. Guests keep working: TCP uses path-MTU discovery
 * and sets DF; only oversized UDP datagrams from the guest are lost. */
static bool is_ipv4_fragment(const uint8_t *frame, size_t len)
{
    if (len < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00) return false;
    return ((frame[14 + 6] << 8 | frame[14 + 7]) & 0x3fff) != 0; /* MF or an offset */
}

void net_policy_get(struct net_policy_counters *c)
{
    c->denied_loopback = atomic_load(&policy_denied_loopback);
    c->denied_egress = atomic_load(&policy_denied_egress);
    c->allowed = atomic_load(&policy_allowed);
}

static bool policy_has_port(const uint16_t *ports, unsigned n, uint16_t port)
{
    for (unsigned k = 0; k < n; k++)
        if (ports[k] == port) return true;
    return false;
}

/* Count and log a denied flow the first time it is seen (a SYN is retried). */
static void policy_deny(struct slirp_policy *p, const struct policy_flow *f, bool loopback)
{
    for (unsigned k = 0; k < p->nrecent; k++) {
        const struct policy_flow *r = &p->recent[k];
        if (r->proto == f->proto && r->sport == f->sport && r->dport == f->dport &&
            r->src == f->src && r->dst == f->dst)
            return;
    }
    p->recent[p->next_recent] = *f;
    p->next_recent = (p->next_recent + 1) % POLICY_RECENT;
    if (p->nrecent < POLICY_RECENT) p->nrecent++;
    atomic_fetch_add(loopback ? &policy_denied_loopback : &policy_denied_egress, 1);
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    struct in_addr a = {htonl(f->src)}, b = {htonl(f->dst)};
    inet_ntop(AF_INET, &a, src, sizeof(src));
    inet_ntop(AF_INET, &b, dst, sizeof(dst));
    const char *proto = f->proto == 6 ? "tcp" : f->proto == 17 ? "udp" : "icmp";
    log_warn("net policy: denied %s from guest %s:%u to %s:%u (%s)", proto, src, f->sport, dst,
             f->dport,
             loopback ? "the host's loopback through the gateway; open it with loopback=PORT"
                      : "egress rule");
}

/* Whether a frame from the guest may go on. */
static bool policy_check(struct slirp_policy *p, const uint8_t *frame, size_t len)
{
    if (len < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00) return true; /* not IPv4 */
    const uint8_t *ip = frame + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || len < 14 + ihl + 8) return true; /* slirp drops it */
    struct policy_flow f = {.proto = ip[9]};
    f.src = (uint32_t)ip[12] << 24 | ip[13] << 16 | ip[14] << 8 | ip[15];
    f.dst = (uint32_t)ip[16] << 24 | ip[17] << 16 | ip[18] << 8 | ip[19];
    const uint8_t *l4 = ip + ihl;
    switch (f.proto) {
    case 6: /* TCP: only a connection's first segment (SYN without ACK) starts a flow */
        if (len < 14 + ihl + 14 || (l4[13] & 0x12) != 0x02) return true;
        break;
    case 17: break;
    case 1: /* ICMP: echo requests */
        if (l4[0] != 8) return true;
        break;
    default: return true;
    }
    if (f.proto != 1) {
        f.sport = (uint16_t)(l4[0] << 8 | l4[1]);
        f.dport = (uint16_t)(l4[2] << 8 | l4[3]);
    }
    const uint32_t gateway = 0x0a000202, dns = 0x0a000203;
    if (f.proto == 17 && (f.dst == dns || f.dport == 67 || f.dst == 0xffffffff ||
                          f.dst == 0x0a0002ff || policy_has_port(p->udp_fwd, p->nudp_fwd, f.sport)))
        return true; /* DNS forwarder, DHCP, broadcasts, replies on a forwarded port */
    if (f.dst == gateway) {
        if (f.proto == 1 || policy_has_port(p->loopback, p->nloopback, f.dport)) {
            atomic_fetch_add(&policy_allowed, 1);
            return true;
        }
        policy_deny(p, &f, true);
        return false;
    }
    for (unsigned k = 0; k < p->nrules; k++) {
        const struct policy_rule *r = &p->rules[k];
        if ((f.dst & r->mask) != r->addr || (r->port && r->port != f.dport)) continue;
        if (!r->allow) {
            policy_deny(p, &f, false);
            return false;
        }
        break;
    }
    atomic_fetch_add(&policy_allowed, 1);
    return true;
}

static void slirp_send(struct net_backend *nb, const uint8_t *frame, size_t len)
{
    struct slirp_net *s = nb->priv;
    if (is_ipv4_fragment(frame, len)) {
        if (!s->warned_fragment) log_warn("slirp: dropping IPv4 fragments from the guest");
        s->warned_fragment = true;
        return;
    }
    if (!policy_check(&s->policy, frame, len)) return;
    if (len <= 65536 + 14) slirp_input(s->slirp, frame, (int)len);
}

static void slirp_destroy(struct net_backend *nb)
{
    struct slirp_net *s = nb->priv;
    slirp_cleanup(s->slirp);
    free(s->pfd);
    free(s);
}

static const struct net_backend_impl slirp_impl = {slirp_send, slirp_thread, slirp_destroy};

/* hostfwd=PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int parse_hostfwd(const char *v, size_t n, bool *udp, struct in_addr *haddr, int *hport,
                         struct in_addr *gaddr, int *gport)
{
    char buf[128], hs[64] = "", gs[64] = "";
    if (n >= sizeof(buf)) return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    char *p = buf;
    if (strncmp(p, "tcp:", 4) == 0)
        *udp = false;
    else if (strncmp(p, "udp:", 4) == 0)
        *udp = true;
    else
        return -1;
    p += 4;
    char *colon = strchr(p, ':'), *dash = strchr(p, '-');
    if (!colon || !dash || colon > dash || (size_t)(colon - p) >= sizeof(hs)) return -1;
    memcpy(hs, p, (size_t)(colon - p));
    char *end;
    long hp = strtol(colon + 1, &end, 10);
    if (end != dash || hp < 0 || hp > 65535) return -1;
    char *g = dash + 1, *gcolon = strrchr(g, ':');
    if (!gcolon || (size_t)(gcolon - g) >= sizeof(gs)) return -1;
    memcpy(gs, g, (size_t)(gcolon - g));
    long gp = strtol(gcolon + 1, &end, 10);
    if (*end || gp <= 0 || gp > 65535) return -1;
    haddr->s_addr = htonl(INADDR_ANY);
    if (hs[0] && inet_pton(AF_INET, hs, haddr) != 1) return -1;
    inet_pton(AF_INET, "10.0.2.15", gaddr);
    if (gs[0] && inet_pton(AF_INET, gs, gaddr) != 1) return -1;
    *hport = (int)hp;
    *gport = (int)gp;
    return 0;
}

/* PORT (1..65535) of n bytes; 0 if it is not one. */
static uint16_t parse_port(const char *v, size_t n)
{
    char buf[8];
    if (!n || n >= sizeof(buf)) return 0;
    memcpy(buf, v, n);
    buf[n] = 0;
    char *end;
    long p = strtol(buf, &end, 10);
    return *end || p < 1 || p > 65535 ? 0 : (uint16_t)p;
}

/* allow=/deny= ADDR[/PREFIX][:PORT] */
static int parse_rule(const char *v, size_t n, bool allow, struct policy_rule *r)
{
    char buf[64];
    if (!n || n >= sizeof(buf)) return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    *r = (struct policy_rule){.allow = allow};
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = 0;
        if (!(r->port = parse_port(colon + 1, strlen(colon + 1)))) return -1;
    }
    long prefix = 32;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        char *end;
        prefix = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || prefix < 0 || prefix > 32) return -1;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1) return -1;
    r->mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
    r->addr = ntohl(a.s_addr) & r->mask;
    return 0;
}

/* The policy's options; 1 if opts (n bytes) was one, 0 if not, -1 on a bad value. */
static int parse_policy_option(struct slirp_policy *p, const char *o, size_t n, char *err,
                               size_t errlen)
{
    if (n > 9 && !strncmp(o, "loopback=", 9)) {
        uint16_t port = parse_port(o + 9, n - 9);
        if (!port || p->nloopback == POLICY_MAX_PORTS)
            return snprintf(err, errlen, "user network: loopback=%.*s is not a port (1-65535)",
                            (int)(n - 9), o + 9),
                   -1;
        p->loopback[p->nloopback++] = port;
        return 1;
    }
    bool allow = n > 6 && !strncmp(o, "allow=", 6), deny = n > 5 && !strncmp(o, "deny=", 5);
    if (!allow && !deny) return 0;
    size_t skip = allow ? 6 : 5;
    if (p->nrules == POLICY_MAX_RULES ||
        parse_rule(o + skip, n - skip, allow, &p->rules[p->nrules]) < 0)
        return snprintf(err, errlen,
                        "user network: '%.*s' is not %s=ADDR[/PREFIX][:PORT] (at most %d rules)",
                        (int)n, o, allow ? "allow" : "deny", POLICY_MAX_RULES),
               -1;
    p->nrules++;
    return 1;
}

int net_slirp_init(struct net_backend *nb, const char *opts, char *err, size_t errlen)
{
    struct slirp_net *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    SlirpConfig cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.version = 4;
    cfg.in_enabled = true;
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    cfg.vhostname = "vessel";
    cfg.if_mtu = 1500;
    cfg.if_mru = 1500;
    nb->priv = s;
    nb->impl = &slirp_impl;
    s->slirp = slirp_new(&cfg, &slirp_callbacks, nb);
    if (!s->slirp) {
        snprintf(err, errlen, "slirp: initialisation failed");
        free(s);
        return -1;
    }
    while (*opts) {
        size_t n = strcspn(opts, ",");
        bool udp;
        struct in_addr ha, ga;
        int hp, gp;
        int pol = parse_policy_option(&s->policy, opts, n, err, errlen);
        if (pol < 0) {
            slirp_destroy(nb);
            return -1;
        }
        if (pol) {
            opts += n + (opts[n] == ',');
            continue;
        }
        if (n > 8 && strncmp(opts, "hostfwd=", 8) == 0 &&
            parse_hostfwd(opts + 8, n - 8, &udp, &ha, &hp, &ga, &gp) == 0) {
            if (slirp_add_hostfwd(s->slirp, udp, ha, hp, ga, gp) < 0) {
                int e = errno;
                if (e == EADDRINUSE && atomic_load(&take_over_ports) &&
                    s->npending < POLICY_MAX_PORTS) {
                    s->pending[s->npending++] = (struct slirp_fwd){udp, ha, ga, hp, gp};
                    s->pending_since_ms = now_ms();
                    log_info("user network: host port %d is busy (the migration source still "
                             "holds it?): forwarding it once it is free",
                             hp);
                } else {
                    snprintf(err, errlen, "slirp: cannot forward host port %d: %s", hp,
                             strerror(e));
                    slirp_destroy(nb);
                    return -1;
                }
            }
            if (udp && s->policy.nudp_fwd < POLICY_MAX_PORTS)
                s->policy.udp_fwd[s->policy.nudp_fwd++] = (uint16_t)gp;
        } else {
            snprintf(err, errlen,
                     "user network: bad option '%.*s' (expected hostfwd=tcp::HOSTPORT-:GUESTPORT, "
                     "loopback=PORT, allow=ADDR[/PREFIX][:PORT] or deny=...)",
                     (int)n, opts);
            slirp_destroy(nb);
            return -1;
        }
        opts += n + (opts[n] == ',');
    }
    return 0;
}
