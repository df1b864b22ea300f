/* migrate.c — live migration (migrate.h). The stream, little-endian:
 *
 *   "VSLMIG01"
 *   record := u32 type, u64 a, u64 b, payload
 *     CONFIG  a = length: a state stream with the "vm-config" section
 *     PAGES   a = RAM offset, b = length (whole pages, at most MIG_CHUNK): the bytes
 *     DEVICES a = length: pc_save_devices' stream
 *     END
 *   and back from the destination, after END: one byte, 'K' when it has loaded everything.
 *
 * Threads: the sending thread only reads guest RAM and writes the socket. Everything that
 * touches the machine — restarting the dirty log (which must also make the vCPU drop its
 * cached write translations), stopping the vCPU, saving the devices — is asked of the main
 * loop through mig->req and done there between slices. A page the guest writes while it is
 * being sent is dirty again and goes in a later round; the last round runs with the vCPU
 * stopped, so the destination ends with exactly the source's RAM. */
#include "vm/migrate.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/net.h"
#include "machine/pc.h"
#include "sandbox/sandbox.h"
#include "vessel/bus.h"
#include "vessel/clock.h"
#include "vessel/state.h"
#include "vm/vm_internal.h"
#include "vessel/log.h"

#define MIG_MAGIC      "VSLMIG01"
#define MIG_CONFIG     1u
#define MIG_PAGES      2u
#define MIG_DEVICES    3u
#define MIG_END        4u
#define MIG_CHUNK      (1u << 20)
#define MIG_MAX_ROUNDS 30
#define MIG_STATE_MAX  (64u << 20) /* device state or config larger than this is not ours */
#define MIG_ACK_NS     (30ull * 1000000000ull)

enum mig_req { MIG_REQ_NONE, MIG_REQ_COLLECT, MIG_REQ_STOP };
enum mig_result { MIG_RUNNING, MIG_OK, MIG_FAILED };

struct migration {
    struct vm *vm;
    struct bus *bus;
    int fd;
    pthread_t thread;
    uint64_t downtime_ns;
    struct vm_reply *rep;
    char dest[256];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum mig_req req; /* thread -> loop */
    bool req_done;
    bool stopped;    /* the loop paused the guest for the last round */
    bool cancelled;  /* the loop is gone: requests are not answered any more */
    bool was_paused; /* the guest was paused before the migration started */
    uint8_t *dirty;  /* per page: send in the next round */
    size_t ndirty;
    struct state_writer config, devices;
    enum mig_result result;
    char err[256];

    uint64_t t_start, t_stop, t_end, bytes, pages, rounds;
};

/* ---- addresses ---- */

static int mig_socket(const char *addr, bool listen_side, char *err, size_t errlen)
{
    if (!strncmp(addr, "unix:", 5)) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        const char *p = addr + 5;
        if (!*p || strlen(p) >= sizeof(a.sun_path))
            return error_set(err, errlen, "'%s': bad Unix socket path", addr);
        memcpy(a.sun_path, p, strlen(p) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return error_set(err, errlen, "socket: %s", strerror(errno));
        if (listen_side) {
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(p);
            if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
                close(fd);
                return error_set(err, errlen, "'%s': %s", addr, strerror(errno));
            }
        } else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(fd);
            return error_set(err, errlen, "connecting to '%s': %s", addr, strerror(errno));
        }
        return fd;
    }
    if (!strncmp(addr, "tcp:", 4)) {
        char host[256];
        const char *hp = addr + 4, *colon = strrchr(hp, ':');
        if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(host) || !colon[1])
            return error_set(err, errlen, "'%s': use tcp:HOST:PORT", addr);
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = listen_side ? AI_PASSIVE : 0},
                        *ai = NULL;
        int g = getaddrinfo(host, colon + 1, &hints, &ai);
        if (g != 0) return error_set(err, errlen, "'%s': %s", addr, gai_strerror(g));
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int rc = fd < 0        ? -1
                 : listen_side ? (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -1 : listen(fd, 1))
                               : connect(fd, ai->ai_addr, ai->ai_addrlen);
        int e = errno;
        freeaddrinfo(ai);
        if (rc < 0) {
            if (fd >= 0) close(fd);
            return error_set(err, errlen, "'%s': %s", addr, strerror(e));
        }
        return fd;
    }
    return error_set(err, errlen, "'%s' is not unix:PATH or tcp:HOST:PORT", addr);
}

/* ---- the stream ---- */

static int mig_write(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int mig_read(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void mig_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static uint64_t mig_get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static int mig_record(int fd, uint32_t type, uint64_t a, uint64_t b, const void *payload,
                      size_t len)
{
    uint8_t h[20];
    mig_le(h, type, 4);
    mig_le(h + 4, a, 8);
    mig_le(h + 12, b, 8);
    if (mig_write(fd, h, sizeof(h)) < 0) return -1;
    return len ? mig_write(fd, payload, len) : 0;
}

/* ---- source: the sending thread ---- */

static bool mig_page_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (size_t k = 0; k < BUS_PAGE_SIZE / 8; k++)
        if (q[k]) return false;
    return true;
}

/* Send every page marked in m->dirty (the first round: every non-zero page). */
static int mig_send_round(struct migration *m, bool first)
{
    struct bus *b = m->bus;
    size_t npages = b->ram_size >> BUS_PAGE_SHIFT;
    size_t p = 0;
    while (p < npages) {
        bool want = first ? !mig_page_zero(b->ram + (p << BUS_PAGE_SHIFT)) : m->dirty[p];
        if (!want) {
            p++;
            continue;
        }
        size_t q = p + 1;
        while (q < npages && ((q - p) << BUS_PAGE_SHIFT) < MIG_CHUNK &&
               (first ? !mig_page_zero(b->ram + (q << BUS_PAGE_SHIFT)) : m->dirty[q]))
            q++;
        size_t len = (q - p) << BUS_PAGE_SHIFT;
        memset(m->dirty + p, 0, q - p); /* sent; a later write marks it again */
        if (mig_record(m->fd, MIG_PAGES, p << BUS_PAGE_SHIFT, len, b->ram + (p << BUS_PAGE_SHIFT),
                       len) < 0)
            return -1;

        m->bytes += len;
        m->pages += q - p;
        p = q;
    }
    return 0;
}

/* Ask the main loop to do req and wait for it. */
static void mig_ask(struct migration *m, enum mig_req req)
{
    pthread_mutex_lock(&m->lock);
    m->req = req;
    m->req_done = false;
    pthread_mutex_unlock(&m->lock);
    m->vm->ctl.kick(m->vm->ctl.kick_opaque);
    pthread_mutex_lock(&m->lock);
    while (!m->req_done && !m->cancelled)
        pthread_cond_wait(&m->cond, &m->lock);
    m->req = MIG_REQ_NONE;
    pthread_mutex_unlock(&m->lock);
}

static int mig_run(struct migration *m)
{
    if (mig_write(m->fd, MIG_MAGIC, 8) < 0 ||
        mig_record(m->fd, MIG_CONFIG, m->config.len, 0, m->config.data, m->config.len) < 0)
        return error_set(m->err, sizeof(m->err), "sending the configuration failed");
    bool first = true;
    for (;;) {
        uint64_t t0 = clock_ns(), b0 = m->bytes;
        if (mig_send_round(m, first) < 0)
            return error_set(m->err, sizeof(m->err), "sending RAM failed: %s", strerror(errno));
        first = false;
        m->rounds++;
        uint64_t dt = clock_ns() - t0, sent = m->bytes - b0;
        mig_ask(m, MIG_REQ_COLLECT);
        if (m->cancelled) return error_set(m->err, sizeof(m->err), "the VM stopped");
        /* Time the rest would take at the rate just measured. */
        double rate = dt && sent ? (double)sent / (double)dt : 0; /* bytes per ns */
        double need = rate > 0 ? (double)(m->ndirty << BUS_PAGE_SHIFT) / rate : 0;
        if (need <= (double)m->downtime_ns || m->rounds >= MIG_MAX_ROUNDS) break;
    }
    mig_ask(m, MIG_REQ_STOP); /* the guest stops; dirty and devices are final */
    if (mig_send_round(m, false) < 0 ||
        mig_record(m->fd, MIG_DEVICES, m->devices.len, 0, m->devices.data, m->devices.len) < 0 ||
        mig_record(m->fd, MIG_END, 0, 0, NULL, 0) < 0)
        return error_set(m->err, sizeof(m->err), "sending the last round failed: %s",
                         strerror(errno));
    struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
    uint8_t ack = 0;
    if (poll(&pfd, 1, (int)(MIG_ACK_NS / 1000000)) <= 0 || mig_read(m->fd, &ack, 1) < 0 ||
        ack != 'K')
        return error_set(m->err, sizeof(m->err), "the destination did not confirm");
    return 0;
}

static void *mig_thread(void *opaque)
{
    struct migration *m = opaque;
    sandbox_enter(SANDBOX_MIGRATE);
    int rc = mig_run(m);
    m->t_end = clock_ns();
    pthread_mutex_lock(&m->lock);
    m->result = rc == 0 ? MIG_OK : MIG_FAILED;
    pthread_mutex_unlock(&m->lock);
    m->vm->ctl.kick(m->vm->ctl.kick_opaque);
    return NULL;
}

/* ---- source: the main loop's side ---- */

/* Add the dirty log to the pages still to send (m->dirty) and restart it. */
static void mig_collect(struct migration *m)
{
    struct bus *b = m->bus;
    size_t npages = b->ram_size >> BUS_PAGE_SHIFT, n = 0;
    for (size_t p = 0; p < npages; p++) {
        m->dirty[p] |= (b->page_flags[p] & BUS_PAGE_DIRTY) != 0;
        n += m->dirty[p];
    }
    m->ndirty = n;
    snap_dirty_reset(m->vm->pc);
}

int migrate_start(struct vm *vm, const char *addr, uint64_t downtime_ms, struct vm_reply *rep,
                  char *err, size_t errlen)
{
    if (vm->mig) return error_set(err, errlen, "a migration is already in progress");
    if (!vm->pc) return error_set(err, errlen, "the instance is not started");
    struct migration *m = calloc(1, sizeof(*m));
    if (!m) return error_set(err, errlen, "out of memory");
    m->vm = vm;
    m->bus = pc_bus(vm->pc);
    m->rep = rep;
    m->downtime_ns = downtime_ms * 1000000ull;
    snprintf(m->dest, sizeof(m->dest), "%s", addr);
    m->dirty = calloc(m->bus->ram_size >> BUS_PAGE_SHIFT, 1);
    m->fd =
        m->dirty ? mig_socket(addr, false, err, errlen) : error_set(err, errlen, "out of memory");
    if (m->fd < 0) {
        free(m->dirty);
        free(m);
        return -1;
    }
    state_writer_init(&m->config);
    snap_put_config(&m->config, &vm->conf);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->was_paused = vm->paused;
    m->t_start = clock_ns();
    snap_dirty_reset(vm->pc); /* the first round sends everything; later ones what changed */
    if (pthread_create(&m->thread, NULL, mig_thread, m) != 0) {
        close(m->fd);
        state_writer_free(&m->config);
        free(m->dirty);
        free(m);
        return error_set(err, errlen, "cannot start the migration thread");
    }
    vm->mig = m;
    return 0;
}

static void mig_free(struct migration *m)
{
    close(m->fd);
    state_writer_free(&m->config);
    state_writer_free(&m->devices);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m->dirty);
    free(m);
}

void migrate_poll(struct vm *vm)
{
    struct migration *m = vm->mig;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    enum mig_req req = m->req_done ? MIG_REQ_NONE : m->req;
    enum mig_result result = m->result;
    pthread_mutex_unlock(&m->lock);
    if (req != MIG_REQ_NONE) {
        if (req == MIG_REQ_STOP) {
            if (!vm->paused) vm_set_paused(vm, true);
            m->stopped = true;
            m->t_stop = clock_ns();
            state_writer_init(&m->devices);
            pc_save_devices(vm->pc, &m->devices); /* waits for disk I/O in flight */
        }
        mig_collect(m);
        pthread_mutex_lock(&m->lock);
        m->req_done = true;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        return;
    }
    if (result == MIG_RUNNING) return;
    pthread_join(m->thread, NULL);
    struct vm_reply *rep = m->rep;
    if (result == MIG_OK) {
        rep->status = 200;
        rep->migration = (struct vm_migration_stats){
            .total_ms = (m->t_end - m->t_start) / 1000000,
            .downtime_ms = (m->t_end - m->t_stop) / 1000000,
            .iterations = m->rounds,
            .bytes = m->bytes,
            .pages = m->pages,
        };
        fprintf(stderr,
                "vessel: migrated to %s: %.1f ms in all, guest stopped %.1f ms, %llu rounds, "
                "%llu MiB\n",
                m->dest, (double)(m->t_end - m->t_start) / 1e6,
                (double)(m->t_end - m->t_stop) / 1e6, (unsigned long long)m->rounds,
                (unsigned long long)(m->bytes >> 20));
        vm->migrated = true;
    } else {
        vm_reply_fault(rep, 400, "migrate: %s; the VM goes on here", m->err);
        if (m->stopped && !m->was_paused) vm_set_paused(vm, false);
    }
    vm->mig = NULL;
    mig_free(m);
    vm_ctl_finish(&vm->ctl);
}

void migrate_cancel(struct vm *vm)
{
    struct migration *m = vm->mig;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->cancelled = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    shutdown(m->fd, SHUT_RDWR);
    pthread_join(m->thread, NULL);
    vm_reply_fault(m->rep, 400, "migrate: the VM stopped during the migration");
    vm->mig = NULL;
    mig_free(m);
    vm_ctl_finish(&vm->ctl);
}

/* ---- destination ---- */

static int mig_recv(struct vm *vm, int fd, char *err, size_t errlen)
{
    char magic[8];
    uint8_t h[20];
    if (mig_read(fd, magic, 8) < 0 || memcmp(magic, MIG_MAGIC, 8) != 0)
        return error_set(err, errlen, "the source did not send a vessel migration stream");
    uint8_t *devices = NULL;
    size_t devices_len = 0;
    bool have_config = false;
    for (;;) {
        if (mig_read(fd, h, sizeof(h)) < 0) {
            free(devices);
            return error_set(err, errlen, "the migration stream ended early");
        }
        uint32_t type = (uint32_t)mig_get_le(h, 4);
        uint64_t a = mig_get_le(h + 4, 8), b = mig_get_le(h + 12, 8);
        if (type == MIG_CONFIG && !have_config) {
            uint8_t *cfg = a <= MIG_STATE_MAX ? malloc(a ? a : 1) : NULL;
            char why[256];
            if (!cfg || mig_read(fd, cfg, a) < 0) {
                free(cfg);
                return error_set(err, errlen, "bad configuration record");
            }
            if (snap_open_config(cfg, a, &vm->img, why, sizeof(why)) < 0)
                return error_set(err, errlen, "configuration: %s", why);
            int usage;
            if (vm_adopt_config(vm, &vm->img.cfg, why, sizeof(why)) < 0 ||
                vm_build(vm, false, why, sizeof(why), &usage) < 0)
                return error_set(err, errlen, "%s", why);
            have_config = true;
        } else if (type == MIG_PAGES && have_config) {
            struct bus *bus = pc_bus(vm->pc);
            if (b == 0 || b > MIG_CHUNK || (a | b) & (BUS_PAGE_SIZE - 1) || a > bus->ram_size ||
                b > bus->ram_size - a)
                return error_set(err, errlen, "page record outside RAM");
            if (mig_read(fd, bus->ram + a, b) < 0)
                return error_set(err, errlen, "the migration stream ended early");
        } else if (type == MIG_DEVICES && have_config && !devices) {
            devices = a <= MIG_STATE_MAX ? malloc(a ? a : 1) : NULL;
            devices_len = a;
            if (!devices || mig_read(fd, devices, a) < 0) {
                free(devices);
                return error_set(err, errlen, "bad device record");
            }
        } else if (type == MIG_END && devices) {
            break;
        } else {
            free(devices);
            return error_set(err, errlen, "unexpected record %u in the migration stream", type);
        }
    }
    /* Everything in RAM may have changed behind the engine's back. */
    struct bus *bus = pc_bus(vm->pc);
    bus_note_write(bus, 0, bus->low_ram_end);
    if (bus->ram_size > bus->low_ram_end)
        bus_note_write(bus, BUS_HIGH_RAM, bus->ram_size - bus->low_ram_end);
    int rc = pc_load_devices(vm->pc, devices, devices_len);
    free(devices);
    if (rc < 0) return error_set(err, errlen, "the device state does not fit this machine");
    snap_dirty_reset(vm->pc);
    uint8_t ack = 'K';
    if (mig_write(fd, &ack, 1) < 0) return error_set(err, errlen, "the source went away");
    return 0;
}

int migrate_incoming(struct vm *vm, const char *addr, char *err, size_t errlen)
{
    int lfd = mig_socket(addr, true, err, errlen);
    if (lfd < 0) return -1;
    int fd;
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    int e = errno;
    close(lfd);
    if (!strncmp(addr, "unix:", 5)) unlink(addr + 5);
    if (fd < 0) return error_set(err, errlen, "accepting on '%s': %s", addr, strerror(e));
    uint64_t t0 = clock_ns();
    /* a source on this host holds its forwarded ports until the migration has finished */
    net_user_take_over_ports(true);
    int rc = mig_recv(vm, fd, err, errlen);
    close(fd);
    if (rc < 0 && vm->pc) {
        pc_destroy(vm->pc);
        vm->pc = NULL;
    }
    if (rc == 0)
        fprintf(stderr, "vessel: received a live migration in %.1f ms\n",
                (double)(clock_ns() - t0) / 1e6);
    return rc;
}
