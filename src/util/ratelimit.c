/* ratelimit.c — the token buckets and their registry (ratelimit.h). Tokens are kept as a
 * double so that refills of a fraction of a token are not lost between frequent requests: the
 * long-run rate is exactly size / refill_ms. Firecracker's semantics: the one-time burst is
 * spent first; a bucket that cannot cover a request is left untouched (neither bucket is
 * charged unless both can be). */
#include "util/ratelimit.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/clock.h"

struct rl_bucket {
    struct rl_bucket_cfg cfg;
    double budget; /* may be negative after an oversized request */
    uint64_t burst;
    uint64_t last_ns;
};

struct ratelimit {
    struct ratelimit *next;
    char name[64];
    struct rl_bucket bw, ops;
    void (*changed)(void *opaque);
    void *opaque;
    bool attached;
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held while a device is called back, and by detach: a device is not freed under its call. */
static pthread_mutex_t rl_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit *rl_list;

static void rl_bucket_set(struct rl_bucket *b, const struct rl_bucket_cfg *c, uint64_t now)
{
    b->cfg = *c;
    if (b->cfg.size && !b->cfg.refill_ms) b->cfg.refill_ms = 1000;
    b->budget = (double)c->size;
    b->burst = c->one_time_burst;
    b->last_ns = now;
}

static void rl_refill(struct rl_bucket *b, uint64_t now)
{
    if (now <= b->last_ns) return;
    double add =
        (double)(now - b->last_ns) * (double)b->cfg.size / ((double)b->cfg.refill_ms * 1e6);
    b->budget += add;
    if (b->budget > (double)b->cfg.size) b->budget = (double)b->cfg.size;
    b->last_ns = now;
}

/* Can the bucket give `tokens` now? If not, how long until it can. */
static bool rl_can(struct rl_bucket *b, uint64_t tokens, uint64_t now, uint64_t *wait_ns)
{
    if (!b->cfg.size || !tokens) return true;
    rl_refill(b, now);
    if (b->burst >= tokens) return true;
    uint64_t rest = tokens - b->burst;
    double need = (double)(rest < b->cfg.size ? rest : b->cfg.size);
    if (b->budget >= need) return true;
    double ns = (need - b->budget) * (double)b->cfg.refill_ms * 1e6 / (double)b->cfg.size;
    uint64_t w = (uint64_t)ns + 1;
    if (w > *wait_ns) *wait_ns = w;
    return false;
}

static void rl_take(struct rl_bucket *b, uint64_t tokens)
{
    if (!b->cfg.size || !tokens) return;
    if (b->burst >= tokens) {
        b->burst -= tokens;
        return;
    }
    tokens -= b->burst;
    b->burst = 0;
    b->budget -= (double)tokens;
}

static struct ratelimit *rl_find(const char *name, bool create)
{
    for (struct ratelimit *r = rl_list; r; r = r->next)
        if (!strcmp(r->name, name)) return r;
    if (!create) return NULL;
    struct ratelimit *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->next = rl_list;
    rl_list = r;
    return r;
}

struct ratelimit *ratelimit_attach(const char *name, void (*changed)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&rl_lock);
    struct ratelimit *r = rl_find(name, true);
    if (r) {
        r->changed = changed;
        r->opaque = opaque;
        r->attached = true;
        /* A new device starts with full buckets, as a new Firecracker device does. */
        uint64_t now = clock_ns();
        struct rl_bucket_cfg bw = r->bw.cfg, ops = r->ops.cfg;
        rl_bucket_set(&r->bw, &bw, now);
        rl_bucket_set(&r->ops, &ops, now);
    }
    pthread_mutex_unlock(&rl_lock);
    return r;
}

void ratelimit_detach(struct ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_lock(&rl_cb_lock);
    pthread_mutex_lock(&rl_lock);
    rl->changed = NULL;
    rl->opaque = NULL;
    rl->attached = false;
    pthread_mutex_unlock(&rl_lock);
    pthread_mutex_unlock(&rl_cb_lock);
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t *wait_ns)
{
    *wait_ns = 0;
    if (!rl) return true;
    pthread_mutex_lock(&rl_lock);
    uint64_t now = clock_ns();
    bool a = rl_can(&rl->bw, bytes, now, wait_ns);
    bool b = rl_can(&rl->ops, ops, now, wait_ns);
    if (a && b) {
        rl_take(&rl->bw, bytes);
        rl_take(&rl->ops, ops);
    }
    pthread_mutex_unlock(&rl_lock);
    return a && b;
}

int ratelimit_configure(const char *name, const struct rl_cfg *cfg, bool set_bw, bool set_ops,
                        bool must_exist)
{
    pthread_mutex_lock(&rl_cb_lock);
    pthread_mutex_lock(&rl_lock);
    struct ratelimit *r = rl_find(name, !must_exist);
    if (!r || (must_exist && !r->attached)) {
        pthread_mutex_unlock(&rl_lock);
        pthread_mutex_unlock(&rl_cb_lock);
        return -1;
    }
    uint64_t now = clock_ns();
    if (set_bw) rl_bucket_set(&r->bw, &cfg->bw, now);
    if (set_ops) rl_bucket_set(&r->ops, &cfg->ops, now);
    void (*changed)(void *) = r->changed;
    void *opaque = r->opaque;
    pthread_mutex_unlock(&rl_lock);
    /* Outside the registry lock: the device takes its own lock, and it calls consume under it. */
    if (changed) changed(opaque);
    pthread_mutex_unlock(&rl_cb_lock);
    return 0;
}

bool ratelimit_get(const char *name, struct rl_cfg *cfg)
{
    pthread_mutex_lock(&rl_lock);
    struct ratelimit *r = rl_find(name, false);
    if (r) *cfg = (struct rl_cfg){r->bw.cfg, r->ops.cfg};
    pthread_mutex_unlock(&rl_lock);
    return r != NULL;
}

/* A size with an optional K/M/G suffix (binary), or a plain count. */
static bool rl_parse_num(const char *s, size_t n, uint64_t *out)
{
    char buf[32];
    if (!n || n >= sizeof(buf)) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || !isdigit((unsigned char)buf[0])) return false;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    default: return false;
    }
    if (shift && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB")) return false;
    if (v > (UINT64_MAX >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

int ratelimit_parse_option(const char *spec, char *err, size_t errlen)
{
    size_t n = strcspn(spec, ",");
    char name[64];
    if (n > 6 && !strncmp(spec, "drive:", 6) && n < sizeof(name))
        snprintf(name, sizeof(name), "%.*s", (int)n, spec);
    else if (n == 6 && !strncmp(spec, "net-rx", 6))
        snprintf(name, sizeof(name), "net:rx");
    else if (n == 6 && !strncmp(spec, "net-tx", 6))
        snprintf(name, sizeof(name), "net:tx");
    else
        return snprintf(err, errlen, "--rate-limit: '%.*s' is not drive:ID, net-rx or net-tx",
                        (int)n, spec),
               -1;
    struct rl_cfg c = {{0, 0, 1000}, {0, 0, 1000}};
    bool bw = false, ops = false;
    for (const char *o = spec + n; *o == ',';) {
        o++;
        size_t m = strcspn(o, ",");
        const char *eq = memchr(o, '=', m);
        size_t kn = eq ? (size_t)(eq - o) : m;
        uint64_t v;
        if (!eq || !rl_parse_num(eq + 1, m - kn - 1, &v))
            return snprintf(err, errlen, "--rate-limit %s: '%.*s' is not KEY=NUMBER", name, (int)m,
                            o),
                   -1;
#define RL_KEY(k) (kn == strlen(k) && !strncmp(o, k, kn))
        if (RL_KEY("bw")) {
            c.bw.size = v;
            bw = true;
        } else if (RL_KEY("ops")) {
            c.ops.size = v;
            ops = true;
        } else if (RL_KEY("bw-burst")) {
            c.bw.one_time_burst = v;
        } else if (RL_KEY("ops-burst")) {
            c.ops.one_time_burst = v;
        } else if (RL_KEY("refill")) {
            if (!v || v > 3600000)
                return snprintf(err, errlen, "--rate-limit %s: refill=%llu ms is out of range",
                                name, (unsigned long long)v),
                       -1;
            c.bw.refill_ms = c.ops.refill_ms = v;
        } else {
            return snprintf(err, errlen,
                            "--rate-limit %s: unknown key '%.*s' (bw, ops, refill, bw-burst, "
                            "ops-burst)",
                            name, (int)kn, o),
                   -1;
        }
#undef RL_KEY
        o += m;
    }
    if (!bw && !ops)
        return snprintf(err, errlen, "--rate-limit %s: give bw=SIZE and/or ops=N", name), -1;
    if (ratelimit_configure(name, &c, bw || c.bw.one_time_burst, ops || c.ops.one_time_burst,
                            false) < 0)
        return snprintf(err, errlen, "--rate-limit: out of memory"), -1;
    return 0;
}

void ratelimit_registry_clear(void)
{
    pthread_mutex_lock(&rl_lock);
    while (rl_list) {
        struct ratelimit *r = rl_list;
        rl_list = r->next;
        free(r);
    }
    pthread_mutex_unlock(&rl_lock);
}
