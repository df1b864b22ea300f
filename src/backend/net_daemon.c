/* net_daemon.c — `vessel netd`: a network back-end (libslirp user networking or a tap device,
 * with all of --net's options) served to one VM at a time over a Unix stream socket, framed as
 * QEMU's stream netdev and passt frame (net_frame.h). A VM reaches it with
 * `--net stream,path=SOCKET` (net_stream.c).
 *
 * Why a separate process: the network's state — libslirp's NAT table, the host sockets behind
 * the guest's open TCP connections, forwarded ports — then outlives the VM process. A live
 * migration to this host moves the guest's side of every connection (its kernel's TCP state is
 * in guest RAM) and the destination connects to the same daemon, which still holds the host's
 * side: connections open across the move survive; the frames lost in the switch are
 * retransmitted by TCP. libslirp cannot hand its connection state from one process to another,
 * which is why the in-process user network only moves its forwarded ports.
 *
 * One client at a time: the daemon accepts a connection only when it has none, so a second VM
 * (a migration's destination) waits in the accept queue until the first disconnects (the
 * source exits after the destination confirmed). Frames from the network while no VM is
 * connected are dropped, as on an unplugged cable.
 *
 * Threads: the back-end's own (confined by the sandbox as a network thread, net.c), which calls
 * receive/tx_ready below; and this main loop, which accepts, reads the VM's frames into a
 * bounded queue and wakes the back-end. The client descriptor and its writer are shared under
 * `lock`. The main loop is not confined: it only moves bytes between two sockets, and at exit
 * removes its socket file, which a network thread's allow-list does not permit. */
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_frame.h"
#include "sandbox/sandbox.h"
#include "vessel/log.h"

#define NETD_QUEUE 512 /* frames from the VM waiting for the back-end thread */

struct netd_frame {
    size_t len;
    uint8_t data[];
};

struct netd {
    struct net_backend *nb;
    int listen_fd, wake_fd, sig_fd;
    pthread_mutex_t lock;
    int client_fd; /* -1: no VM connected */
    bool client_broken;
    struct net_frame_writer tx; /* to the VM (back-end thread and main loop, under lock) */
    struct net_frame_reader rx; /* from the VM (main loop only) */
    struct netd_frame *queue[NETD_QUEUE];
    unsigned q_head, q_count;
    uint64_t clients, dropped_in;
};

static void netd_wake(struct netd *d)
{
    uint64_t one = 1;
    ssize_t k = write(d->wake_fd, &one, sizeof(one));
    (void)k;
}

/* Back-end thread: a frame from the network for the VM. */
static bool netd_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct netd *d = opaque;
    pthread_mutex_lock(&d->lock);
    if (d->client_fd >= 0 && !d->client_broken) {
        if (net_frame_write(&d->tx, d->client_fd, frame, len) < 0) d->client_broken = true;
        if (d->client_broken || net_frame_pending(&d->tx)) netd_wake(d);
    }
    pthread_mutex_unlock(&d->lock);
    return true;
}

/* Back-end thread: send the VM's queued frames. One at a time out of the lock: the back-end may
 * answer at once (an ARP reply), which calls netd_receive. */
static void netd_tx_ready(void *opaque)
{
    struct netd *d = opaque;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        struct netd_frame *f = NULL;
        if (d->q_count) {
            f = d->queue[d->q_head];
            d->q_head = (d->q_head + 1) % NETD_QUEUE;
            d->q_count--;
        }
        pthread_mutex_unlock(&d->lock);
        if (!f) return;
        net_backend_send(d->nb, f->data, f->len);
        free(f);
    }
}

/* Main loop: a whole frame from the VM. */
static void netd_queue_frame(void *opaque, const uint8_t *data, size_t len)
{
    struct netd *d = opaque;
    struct netd_frame *f = malloc(sizeof(*f) + len);
    pthread_mutex_lock(&d->lock);
    if (f && d->q_count < NETD_QUEUE) {
        f->len = len;
        memcpy(f->data, data, len);
        d->queue[(d->q_head + d->q_count++) % NETD_QUEUE] = f;
        f = NULL;
    } else {
        d->dropped_in++;
    }
    pthread_mutex_unlock(&d->lock);
    free(f);
}

static void netd_drop_client(struct netd *d, const char *why)
{
    pthread_mutex_lock(&d->lock);
    close(d->client_fd);
    d->client_fd = -1;
    d->client_broken = false;
    net_frame_writer_reset(&d->tx);
    while (d->q_count) {
        free(d->queue[d->q_head]);
        d->q_head = (d->q_head + 1) % NETD_QUEUE;
        d->q_count--;
    }
    pthread_mutex_unlock(&d->lock);
    fprintf(stderr, "vessel netd: VM disconnected (%s)\n", why);
}

static void netd_accept(struct netd *d)
{
    int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    int buf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    pthread_mutex_lock(&d->lock);
    d->client_fd = fd;
    net_frame_reader_reset(&d->rx);
    pthread_mutex_unlock(&d->lock);
    d->clients++;
    fprintf(stderr, "vessel netd: VM connected (client %llu)\n", (unsigned long long)d->clients);
}

static int netd_loop(struct netd *d)
{
    for (;;) {
        pthread_mutex_lock(&d->lock);
        int cfd = d->client_fd;
        bool out = cfd >= 0 && net_frame_pending(&d->tx);
        bool broken = d->client_broken;
        pthread_mutex_unlock(&d->lock);
        if (broken) {
            netd_drop_client(d, "write failed");
            continue;
        }
        struct pollfd p[4] = {{d->sig_fd, POLLIN, 0},
                              {d->wake_fd, POLLIN, 0},
                              {cfd < 0 ? d->listen_fd : -1, POLLIN, 0},
                              {cfd, (short)(POLLIN | (out ? POLLOUT : 0)), 0}};
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "vessel netd: poll: %s\n", strerror(errno));
            return 1;
        }
        if (p[0].revents & POLLIN) return 0;
        if (p[1].revents & POLLIN) {
            uint64_t v;
            ssize_t k = read(d->wake_fd, &v, sizeof(v));
            (void)k;
        }
        if (p[2].revents & POLLIN) netd_accept(d);
        if (cfd < 0) continue;
        if (p[3].revents & POLLOUT) {
            pthread_mutex_lock(&d->lock);
            if (net_frame_flush(&d->tx, cfd) < 0) d->client_broken = true;
            pthread_mutex_unlock(&d->lock);
        }
        if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
            int rc = net_frame_read(&d->rx, cfd, netd_queue_frame, d);
            net_backend_kick(d->nb);
            if (rc <= 0) netd_drop_client(d, rc == 0 ? "closed" : "bad frame");
        }
    }
}

/* Bind `path`, replacing a socket file nobody serves any more but never a live daemon's. */
static int netd_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen, "--socket: path longer than %zu bytes", sizeof(a.sun_path) - 1);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "--socket: %s exists and is not a socket", path);
            close(fd);
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            snprintf(err, errlen, "--socket: %s is served by a running daemon", path);
            close(fd);
            return -1;
        }
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
        snprintf(err, errlen, "--socket: cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void netd_usage(FILE *f)
{
    fputs("usage: vessel netd --socket PATH --net SPEC [--sandbox on|off]\n"
          "  Serve a network back-end (SPEC as for `vessel run --net`: user[,...] or tap,...)\n"
          "  to one VM at a time on the Unix socket PATH; VMs use --net stream,path=PATH.\n"
          "  Connections of a VM that migrates on this host survive the move. Runs until\n"
          "  SIGINT or SIGTERM.\n",
          f);
}

int net_daemon_main(int argc, char **argv)
{
    const char *path = NULL, *spec = NULL;
    bool sandbox = true;
    for (int k = 1; k < argc; k++) {
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
            netd_usage(stdout);
            return 0;
        } else if (!strcmp(argv[k], "--socket") && v) {
            path = v;
            k++;
        } else if (!strcmp(argv[k], "--net") && v) {
            spec = v;
            k++;
        } else if (!strcmp(argv[k], "--sandbox") && v && (!strcmp(v, "on") || !strcmp(v, "off"))) {
            sandbox = !strcmp(v, "on");
            k++;
        } else {
            fprintf(stderr, "vessel netd: unknown or incomplete option '%s'\n", argv[k]);
            netd_usage(stderr);
            return 2;
        }
    }
    if (!path || !spec) {
        netd_usage(stderr);
        return 2;
    }
    if (!strncmp(spec, "stream", 6)) {
        fprintf(stderr, "vessel netd: --net stream would serve a network from another daemon\n");
        return 2;
    }
    char err[512];
    struct netd d = {.client_fd = -1};
    pthread_mutex_init(&d.lock, NULL);
    d.nb = net_backend_create(spec, err, sizeof(err));
    if (!d.nb) {
        fprintf(stderr, "vessel netd: --net: %s\n", err);
        return 2;
    }
    d.listen_fd = netd_listen(path, err, sizeof(err));
    if (d.listen_fd < 0) {
        fprintf(stderr, "vessel netd: %s\n", err);
        net_backend_destroy(d.nb);
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before the back-end thread, which inherits it */
    signal(SIGPIPE, SIG_IGN);
    d.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = 1;
    if (d.sig_fd < 0 || d.wake_fd < 0 || sandbox_setup(sandbox, err, sizeof(err)) != 0) {
        fprintf(stderr, "vessel netd: %s\n", d.sig_fd < 0 || d.wake_fd < 0 ? strerror(errno) : err);
    } else {
        struct net_client c = {.receive = netd_receive, .tx_ready = netd_tx_ready, .opaque = &d};
        if (net_backend_start(d.nb, &c) != 0) {
            fprintf(stderr, "vessel netd: cannot start the back-end thread\n");
        } else {
            fprintf(stderr, "vessel netd: serving %s on %s\n", spec, path);
            rc = netd_loop(&d);
        }
    }
    net_backend_destroy(d.nb);
    if (d.client_fd >= 0) netd_drop_client(&d, "daemon stopping");
    close(d.listen_fd);
    unlink(path);
    if (d.sig_fd >= 0) close(d.sig_fd);
    if (d.wake_fd >= 0) close(d.wake_fd);
    return rc;
}
