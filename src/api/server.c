/* server.c — the control API's socket loop. One thread polls the listening socket and up to
 * API_MAX_CONN non-blocking connections. Each connection has bounded buffers and deadlines:
 * a request must arrive whole within API_REQUEST_NS of its first byte, an idle keep-alive
 * connection is closed after API_IDLE_NS, and a client that does not read its answers is
 * dropped after API_REQUEST_NS without progress. So a slow, malformed or oversized request
 * costs one connection slot for a few seconds and never reaches the VM; the guest runs on
 * another thread throughout. Requests that need the machine wait for the main loop through
 * the vm/control.h mailbox (a slice boundary, at most a few milliseconds while it runs). */
#include "api/server.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "vessel/clock.h"
#include "vessel/log.h"

#define API_MAX_CONN   16
#define API_IN_CAP     (HTTP_MAX_HEAD + HTTP_MAX_BODY + 256)
#define API_OUT_MAX    (256 * 1024) /* stop reading a client this far behind on its answers */
#define API_REQUEST_NS (10ull * 1000000000ull)
#define API_IDLE_NS    (60ull * 1000000000ull)

struct api_conn {
    int fd;
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_off, out_cap;
    uint64_t deadline;
    bool sent_continue;
    bool closing; /* close once the output is written */
};

struct api_server {
    int listen_fd, stop_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_t thread;
    api_vm_fn vm;
    void *opaque;
    struct api_conn conn[API_MAX_CONN];
};

static void api_conn_close(struct api_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    free(c->in);
    free(c->out);
    *c = (struct api_conn){.fd = -1};
}

static bool api_conn_append(struct api_conn *c, const char *p, size_t n)
{
    if (c->out_off && c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        char *o = realloc(c->out, cap);
        if (!o) return false;
        c->out = o;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return true;
}

static void api_conn_respond(struct api_conn *c, int status, const char *body, size_t len,
                             bool close)
{
    size_t cap = len + 512;
    char *buf = malloc(cap);
    size_t n = buf ? http_format_response(buf, cap, status, body, len, close) : 0;
    if (!n || !api_conn_append(c, buf, n)) c->closing = true;
    free(buf);
    if (close) c->closing = true;
}

static void api_conn_fault(struct api_conn *c, const char *msg)
{
    json_t *o = json_pack("{s:s}", "fault_message", msg);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    api_conn_respond(c, 400, body ? body : "{}", body ? strlen(body) : 2, true);
    free(body);
}

/* Answer every complete request in the input buffer. */
static void api_conn_process(struct api_server *s, struct api_conn *c, uint64_t now)
{
    while (!c->closing && c->in_len && c->out_len - c->out_off < API_OUT_MAX) {
        struct http_request req;
        size_t used;
        char err[256];
        enum http_parse_result pr = http_parse(c->in, c->in_len, &req, &used, err, sizeof(err));
        if (pr == HTTP_BAD) {
            api_conn_fault(c, err);
            return;
        }
        if (pr == HTTP_INCOMPLETE) {
            if (c->in_len == API_IN_CAP) {
                api_conn_fault(c, "request too large");
                return;
            }
            if (req.head_len && req.expect_continue && !c->sent_continue) {
                api_conn_respond(c, 100, NULL, 0, false);
                c->sent_continue = true;
            }
            return;
        }
        struct api_response resp;
        api_handle(&req, s->vm, s->opaque, &resp);
        api_conn_respond(c, resp.status, resp.body, resp.body_len, req.close);
        free(resp.body);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->sent_continue = false;
        c->deadline = now + (c->in_len ? API_REQUEST_NS : API_IDLE_NS);
    }
}

static void api_conn_read(struct api_server *s, struct api_conn *c, uint64_t now)
{
    for (;;) {
        if (c->in_len == API_IN_CAP) break;
        ssize_t n = read(c->fd, c->in + c->in_len, API_IN_CAP - c->in_len);
        if (n > 0) {
            if (c->in_len == 0) c->deadline = now + API_REQUEST_NS;
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        /* End of file or an error: answer what is complete, then go. */
        api_conn_process(s, c, now);
        c->closing = true;
        return;
    }
    api_conn_process(s, c, now);
}

static void api_conn_write(struct api_conn *c, uint64_t now)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->deadline = now + API_REQUEST_NS;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        c->out_off = c->out_len = 0;
        c->closing = true;
        return;
    }
    if (!c->closing) c->deadline = now + (c->in_len ? API_REQUEST_NS : API_IDLE_NS);
}

static void api_accept(struct api_server *s, uint64_t now)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        struct api_conn *c = NULL;
        for (unsigned k = 0; k < API_MAX_CONN && !c; k++)
            if (s->conn[k].fd < 0) c = &s->conn[k];
        char *in = c ? malloc(API_IN_CAP) : NULL;
        if (!in) {
            static const char body[] = "{\"fault_message\":\"too many API connections\"}";
            char busy[256];
            int m = snprintf(busy, sizeof(busy),
                             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                             "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             sizeof(body) - 1, body);
            ssize_t n = send(fd, busy, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            continue;
        }
        *c = (struct api_conn){.fd = fd, .in = in, .deadline = now + API_IDLE_NS};
    }
}

static void *api_thread(void *opaque)
{
    struct api_server *s = opaque;
    struct pollfd fds[2 + API_MAX_CONN];
    sandbox_enter(SANDBOX_API);
    for (;;) {
        uint64_t now = clock_ns(), next = UINT64_MAX;
        fds[0] = (struct pollfd){.fd = s->stop_fd, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (unsigned k = 0; k < API_MAX_CONN; k++) {
            struct api_conn *c = &s->conn[k];
            fds[2 + k] = (struct pollfd){.fd = -1};
            if (c->fd < 0) continue;
            if (c->closing && c->out_off == c->out_len) {
                api_conn_close(c);
                continue;
            }
            if (now >= c->deadline) {
                api_conn_close(c); /* too slow: the slot goes to someone else */
                continue;
            }
            short ev = 0;
            if (!c->closing && c->out_len - c->out_off < API_OUT_MAX) ev |= POLLIN;
            if (c->out_off < c->out_len) ev |= POLLOUT;
            fds[2 + k] = (struct pollfd){.fd = c->fd, .events = ev};
            if (c->deadline < next) next = c->deadline;
        }
        int timeout = -1;
        if (next != UINT64_MAX) timeout = (int)((next - now) / 1000000 + 1);
        int n = poll(fds, 2 + API_MAX_CONN, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("api: poll: %s", strerror(errno));
            break;
        }
        if (fds[0].revents) break;
        now = clock_ns();
        if (fds[1].revents & POLLIN) api_accept(s, now);
        for (unsigned k = 0; k < API_MAX_CONN; k++) {
            struct api_conn *c = &s->conn[k];
            short re = fds[2 + k].revents;
            if (c->fd < 0 || fds[2 + k].fd < 0 || !re) continue;
            if (re & POLLIN)
                api_conn_read(s, c, now);
            else if (re & (POLLHUP | POLLERR))
                c->closing = true, c->out_off = c->out_len;
            if (c->out_off < c->out_len) api_conn_write(c, now);
            /* Output drained: requests held back by the output limit may be answered now. */
            if (c->in_len && !c->closing) api_conn_process(s, c, now);
            if (c->out_off < c->out_len) api_conn_write(c, now);
        }
    }
    return NULL;
}

/* An existing socket file: in use if something accepts on it, else stale. */
static int api_claim_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "--api-sock: '%s' exists and is not a socket", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    bool live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0) close(fd);
    if (live) {
        snprintf(err, errlen, "--api-sock: '%s' is in use by another server", path);
        return -1;
    }
    unlink(path);
    return 0;
}

struct api_server *api_server_start(const char *path, api_vm_fn vm, void *opaque, char *err,
                                    size_t errlen)
{
    struct api_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->listen_fd = s->stop_fd = -1;
    for (unsigned k = 0; k < API_MAX_CONN; k++)
        s->conn[k].fd = -1;
    s->vm = vm;
    s->opaque = opaque;
    if (strlen(path) >= sizeof(s->path)) {
        snprintf(err, errlen, "--api-sock: path longer than %zu bytes", sizeof(s->path) - 1);
        goto fail;
    }
    memcpy(s->path, path, strlen(path) + 1);
    if (api_claim_path(path, err, errlen) < 0) goto fail;
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, s->path, sizeof(s->path));
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(s->listen_fd, 16) < 0) {
        snprintf(err, errlen, "--api-sock: '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* jansson seeds its hash tables from /dev/urandom on first use: do it here, since the
     * server thread may not open files (src/sandbox). */
    json_object_seed(0);
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0 || pthread_create(&s->thread, NULL, api_thread, s) != 0) {
        snprintf(err, errlen, "api: cannot start the server thread");
        unlink(s->path);
        goto fail;
    }
    return s;
fail:
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->stop_fd >= 0) close(s->stop_fd);
    free(s);
    return NULL;
}

void api_server_stop(struct api_server *s)
{
    if (!s) return;
    uint64_t one = 1;
    ssize_t n = write(s->stop_fd, &one, sizeof(one));
    (void)n;
    pthread_join(s->thread, NULL);
    for (unsigned k = 0; k < API_MAX_CONN; k++)
        if (s->conn[k].fd >= 0) api_conn_close(&s->conn[k]);
    close(s->listen_fd);
    close(s->stop_fd);
    unlink(s->path);
    free(s);
}
