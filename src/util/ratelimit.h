/* ratelimit.h — Firecracker-style rate limiters for the I/O devices (docs/SANDBOX.md, "Rate
 * limits"). A limiter is two token buckets, bandwidth (bytes) and operations (requests or
 * packets); each holds at most `size` tokens, refills completely in `refill_ms` (so its rate
 * is size / refill_ms), starts full, and may carry a one-time burst spent before the first
 * regular token. A bucket of size 0 does not limit.
 *
 * Limiters are named ("drive:ID", "net:rx", "net:tx") and kept in a process-wide registry, so
 * the command line and the control API can set one whether or not its device exists yet, and
 * a device rebuilt by a reboot or a restore finds its limits again. A device attaches to its
 * name and asks before each request; when told to wait it arms a timer for the returned time
 * (never spins), and it is called back when the limits change so it can look again at once.
 * Every function is thread-safe. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_bucket_cfg {
    uint64_t size;           /* tokens; 0: unlimited */
    uint64_t one_time_burst; /* extra tokens, once */
    uint64_t refill_ms;      /* time to refill an empty bucket (> 0 when size > 0) */
};

struct rl_cfg {
    struct rl_bucket_cfg bw, ops;
};

struct ratelimit;

/* The device side. attach returns the named limiter (created unlimited if nobody set it) and
 * registers `changed`, called on whichever thread changes the limits. */
struct ratelimit *ratelimit_attach(const char *name, void (*changed)(void *opaque), void *opaque);
void ratelimit_detach(struct ratelimit *rl);
/* Take `bytes` bandwidth tokens and `ops` operation tokens, both or neither. true: go ahead;
 * false: *wait_ns is how long until they will be there. A request larger than a bucket goes
 * through when the bucket is full and leaves it in debt, so the long-run rate holds. */
bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t *wait_ns);

/* The operator's side: set the buckets of `name` (only those flagged). With must_exist, only a
 * limiter a device has attached to (else -1). Resets the changed buckets to full. */
int ratelimit_configure(const char *name, const struct rl_cfg *cfg, bool set_bw, bool set_ops,
                        bool must_exist);
/* Read back a limiter's settings; false if there is no such name. */
bool ratelimit_get(const char *name, struct rl_cfg *cfg);

/* --rate-limit TARGET,KEY=VALUE,...: TARGET is drive:ID, net-rx or net-tx; keys bw=SIZE and
 * ops=N (per refill period), refill=MS (default 1000), bw-burst=SIZE, ops-burst=N. Configures
 * the registry; 0 or -1 with a message. */
int ratelimit_parse_option(const char *spec, char *err, size_t errlen);

/* Drop every limiter (at exit; no device may still be attached). */
void ratelimit_registry_clear(void);
