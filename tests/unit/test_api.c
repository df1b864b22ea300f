/* test_api.c — the control API without a machine: the HTTP parser (complete, partial,
 * pipelined and refused requests), the router and the resource handlers' strict body checks
 * against a fake VM, and the socket server (answers, a slow client that is dropped, an
 * oversized body, many connections, a VM that has stopped). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "api/server.h"
#include "check.h"

/* ---- fake VM: records the last request ---- */

static struct vm_request last;
static int calls;
static bool fake_started;

static void fake_vm(void *opaque, const struct vm_request *req, struct vm_reply *rep)
{
    (void)opaque;
    calls++;
    last = *req;
    *rep = (struct vm_reply){.status = 204};
    switch (req->op) {
    case VM_OP_INFO:
    case VM_OP_GET_MACHINE:
        rep->status = 200;
        rep->info.state = fake_started ? "Running" : "Not started";
        snprintf(rep->info.id, sizeof(rep->info.id), "fake");
        rep->info.vcpus = 1;
        rep->info.mem_mib = 256;
        break;
    case VM_OP_METRICS: rep->status = 200; break;
    case VM_OP_START:
        if (fake_started) vm_reply_fault(rep, 400, "already started");
        fake_started = true;
        break;
    default: break;
    }
}

static int handle(const char *method, const char *path, const char *body, char **out)
{
    struct http_request req = {0};
    snprintf(req.method, sizeof(req.method), "%s", method);
    snprintf(req.path, sizeof(req.path), "%s", path);
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    struct api_response resp;
    api_handle(&req, fake_vm, NULL, &resp);
    if (out)
        *out = resp.body;
    else
        free(resp.body);
    return resp.status;
}

/* 400 whose fault_message contains `needle`. */
static bool fault_has(const char *method, const char *path, const char *body, const char *needle)
{
    char *out = NULL;
    int st = handle(method, path, body, &out);
    bool ok = st == 400 && out && strstr(out, "\"fault_message\"") && strstr(out, needle);
    if (!ok) fprintf(stderr, "# %s %s %s -> %d %s\n", method, path, body ? body : "", st, out);
    free(out);
    return ok;
}

static void test_http_parse(void)
{
    struct http_request r;
    size_t used;
    char err[256];
    const char *a = "PUT /vm?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET";
    CHECK_EQ(http_parse(a, strlen(a), &r, &used, err, sizeof(err)), HTTP_COMPLETE);
    CHECK(!strcmp(r.method, "PUT") && !strcmp(r.path, "/vm"));
    CHECK_EQ(r.body_len, 5);
    CHECK(!memcmp(r.body, "hello", 5));
    CHECK_EQ(used, strlen(a) - 3); /* the pipelined "GET" stays */
    CHECK(!r.close);
    /* every prefix of a request is incomplete, never bad */
    for (size_t n = 0; n < strlen(a) - 3; n++)
        CHECK_EQ(http_parse(a, n, &r, &used, err, sizeof(err)), HTTP_INCOMPLETE);
    const char *lf = "GET / HTTP/1.0\nConnection: keep-alive\n\n";
    CHECK_EQ(http_parse(lf, strlen(lf), &r, &used, err, sizeof(err)), HTTP_COMPLETE);
    CHECK(!r.close); /* 1.0 with keep-alive */
    const char *cont = "PUT /vm HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    CHECK_EQ(http_parse(cont, strlen(cont), &r, &used, err, sizeof(err)), HTTP_INCOMPLETE);
    CHECK(r.head_len == strlen(cont) && r.expect_continue);

    static const char *const bad[] = {
        "GET / HTTP/2.0\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET vm HTTP/1.1\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nNo colon\r\n\r\n",
        "PUT /vm HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "VERYLONGMETHOD / HTTP/1.1\r\n\r\n",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        enum http_parse_result pr = http_parse(bad[k], strlen(bad[k]), &r, &used, err, sizeof(err));
        CHECK_EQ(pr, HTTP_BAD);
        CHECK(err[0]);
    }
    /* a head that never ends is refused once it passes the limit */
    char *big = malloc(HTTP_MAX_HEAD + 100);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', HTTP_MAX_HEAD + 81);
    CHECK_EQ(http_parse(big, HTTP_MAX_HEAD + 100, &r, &used, err, sizeof(err)), HTTP_BAD);
    free(big);

    char out[512];
    size_t n = http_format_response(out, sizeof(out), 400, "{}", 2, true);
    CHECK(n > 0 && strstr(out, "400 Bad Request") && strstr(out, "Content-Length: 2") &&
          strstr(out, "Connection: close"));
    CHECK_EQ(http_format_response(out, 10, 200, "{}", 2, false), 0);
}

static void test_routes(void)
{
    char *out = NULL;
    fake_started = false;
    CHECK_EQ(handle("GET", "/", NULL, &out), 200);
    CHECK(out && strstr(out, "\"state\":\"Not started\"") &&
          strstr(out, "\"app_name\":\"vessel\""));
    free(out);
    CHECK_EQ(handle("GET", "/machine-config", NULL, &out), 200);
    CHECK(out && strstr(out, "\"mem_size_mib\":256"));
    free(out);
    CHECK_EQ(handle("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 512}", NULL),
             204);
    CHECK(last.op == VM_OP_PUT_MACHINE && last.u.machine.mem_mib == 512);
    CHECK_EQ(handle("PUT", "/drives/rootfs",
                    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x.img\", "
                    "\"is_root_device\": true, \"is_read_only\": false}",
                    NULL),
             204);
    CHECK(last.op == VM_OP_PUT_DRIVE && !strcmp(last.u.drive.path, "/x.img") && last.u.drive.root);
    CHECK_EQ(handle("PUT", "/network-interfaces/eth0",
                    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", NULL),
             204);
    CHECK(!strcmp(last.u.net.backend, "tap,ifname=tap0"));
    CHECK_EQ(handle("PATCH", "/vm", "{\"state\": \"Paused\"}", NULL), 204);
    CHECK(last.op == VM_OP_PAUSE);
    CHECK_EQ(handle("PUT", "/snapshot/create",
                    "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", "
                    "\"snapshot_type\": \"Diff\"}",
                    NULL),
             204);
    CHECK(last.op == VM_OP_SNAP_CREATE && last.u.snap.diff);
    CHECK_EQ(handle("PUT", "/snapshot/load",
                    "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"File\", "
                    "\"backend_path\": \"/m\"}, \"resume_vm\": true}",
                    NULL),
             204);
    CHECK(last.op == VM_OP_SNAP_LOAD && last.u.snap.resume && !strcmp(last.u.snap.mem, "/m"));
    CHECK_EQ(handle("PUT", "/migrate", "{\"destination\": \"tcp:host:4444\"}", NULL), 204);
    CHECK(last.op == VM_OP_MIGRATE && last.u.migrate.downtime_ms == 300 &&
          !strcmp(last.u.migrate.dest, "tcp:host:4444"));
    CHECK_EQ(handle("PUT", "/screenshot", "{\"path\": \"/tmp/frame.png\"}", NULL), 204);
    CHECK(last.op == VM_OP_SCREENSHOT && !strcmp(last.u.screenshot.path, "/tmp/frame.png"));
    CHECK_EQ(handle("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL), 204);
    CHECK(fault_has("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", "already started"));
    CHECK_EQ(handle("GET", "/metrics", NULL, &out), 200);
    CHECK(out && strstr(out, "\"vcpu\":{") && strstr(out, "\"memory\":{"));
    free(out);
}

static void test_bad_bodies(void)
{
    int before = calls;
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1,", "malformed JSON"));
    CHECK(fault_has("PUT", "/machine-config", "[1]", "must be a JSON object"));
    CHECK(fault_has("PUT", "/machine-config", NULL, "needs a JSON body"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": \"1\", \"mem_size_mib\": 1}",
                    "must be an integer"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 1.5}",
                    "must be an integer"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -4}",
                    "out of range"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1, \"bogus\": 1}",
                    "unknown field 'bogus'"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1, \"vcpu_count\": 1}",
                    "malformed JSON"));
    CHECK(fault_has("PUT", "/machine-config", "{\"vcpu_count\": 1}", "needs vcpu_count"));
    CHECK(fault_has("PUT", "/boot-source", "{}", "missing field 'kernel_image_path'"));
    CHECK(fault_has("PUT", "/boot-source", "{\"kernel_image_path\": \"\"}", "must not be empty"));
    CHECK(fault_has("PUT", "/boot-source", "{\"kernel_image_path\": \"a\\u0000b\"}",
                    "malformed JSON"));
    CHECK(fault_has("PUT", "/drives/a",
                    "{\"drive_id\": \"b\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
                    "\"is_read_only\": false}",
                    "differs from the path"));
    CHECK(fault_has("PUT", "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"/x\"}",
                    "missing field"));
    CHECK(fault_has("PUT", "/drives/", "{}", "needs an id"));
    CHECK(fault_has("PUT", "/drives/a%20b", "{}", "may only contain"));
    CHECK(
        fault_has("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", "exactly one of"));
    CHECK(fault_has("PUT", "/actions", "{\"action_type\": \"Reboot\"}", "unknown action_type"));
    CHECK(fault_has("PUT", "/actions", "{\"action_type\": 3}", "must be a string"));
    CHECK(fault_has("PATCH", "/vm", "{\"state\": \"Stopped\"}", "Paused or Resumed"));
    CHECK(fault_has("PUT", "/vm", "{\"state\": \"Paused\"}", "Invalid request method"));
    CHECK(fault_has("PUT", "/snapshot/create", "{\"snapshot_path\": \"/s\"}",
                    "missing field 'mem_file_path'"));
    CHECK(fault_has("PUT", "/snapshot/create",
                    "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/s\"}", "same file"));
    CHECK(fault_has("PUT", "/snapshot/create",
                    "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"snapshot_type\": "
                    "\"Half\"}",
                    "Full or Diff"));
    CHECK(fault_has("PUT", "/snapshot/load",
                    "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"mem_backend\": {}}",
                    "not both"));
    CHECK(fault_has("PUT", "/snapshot/load",
                    "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"Uffd\", "
                    "\"backend_path\": \"/m\"}}",
                    "not supported"));
    CHECK(fault_has("PUT", "/snapshot/other", "{}", "Invalid request"));
    CHECK(fault_has("PUT", "/migrate", "{}", "missing field 'destination'"));
    CHECK(fault_has("PUT", "/migrate", "{\"destination\": \"unix:/x\", \"max_downtime_ms\": 0}",
                    "outside"));
    CHECK(fault_has("GET", "/migrate", NULL, "Invalid request method"));
    CHECK(fault_has("PUT", "/screenshot", "{\"path\": \"frame.png\"}", "must be absolute"));
    CHECK(fault_has("PUT", "/screenshot", "{}", "missing field 'path'"));
    CHECK(fault_has("GET", "/nope", NULL, "Invalid request method and/or path"));
    CHECK(fault_has("GET", "/machine-configs", NULL, "Invalid request"));
    CHECK_EQ(calls, before); /* none of these reached the VM */
}

/* ---- the socket server ---- */

static char sock_path[108];

static int connect_api(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send, then read until the peer closes or `want` appears (timeout in ms). */
static int exchange(int fd, const char *req, size_t len, char *out, size_t cap, const char *want,
                    int timeout_ms)
{
    if (len && send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) return -1;
    size_t n = 0;
    out[0] = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0) return (int)n; /* closed */
        n += (size_t)r;
        out[n] = 0;
        if (want && strstr(out, want)) break;
    }
    return (int)n;
}

static void test_server(void)
{
    snprintf(sock_path, sizeof(sock_path), "/tmp/vessel-test-api-%d.sock", (int)getpid());
    char err[256];
    struct api_server *s = api_server_start(sock_path, fake_vm, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) return;
    /* a second server on the same path is refused */
    CHECK(api_server_start(sock_path, fake_vm, NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "in use") != NULL);

    char out[4096];
    int fd = connect_api();
    CHECK(fd >= 0);
    /* two pipelined requests on one connection, answered in order */
    const char *two = "GET / HTTP/1.1\r\n\r\nPATCH /vm HTTP/1.1\r\nContent-Length: 20\r\n\r\n"
                      "{\"state\": \"Resumed\"}";
    exchange(fd, two, strlen(two), out, sizeof(out), "204 No Content", 2000);
    CHECK(strstr(out, "200 OK") && strstr(out, "204 No Content") &&
          strstr(out, "200 OK") < strstr(out, "204 No Content"));
    /* a malformed request is answered 400 and the connection closed */
    const char *bad = "GARBAGE\r\n\r\n";
    int n = exchange(fd, bad, strlen(bad), out, sizeof(out), NULL, 2000);
    CHECK(n > 0 && strstr(out, "400 Bad Request") && strstr(out, "fault_message"));
    close(fd);

    /* an oversized body is refused without reading it all */
    fd = connect_api();
    const char *huge = "PUT /vm HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n";
    exchange(fd, huge, strlen(huge), out, sizeof(out), NULL, 2000);
    CHECK(strstr(out, "400") && strstr(out, "longer than"));
    close(fd);

    /* a slow client holding a half request does not stop others */
    int slow = connect_api();
    CHECK(send(slow, "GET / HTT", 9, MSG_NOSIGNAL) == 9);
    fd = connect_api();
    exchange(fd, "GET / HTTP/1.1\r\n\r\n", 18, out, sizeof(out), "}", 2000);
    CHECK(strstr(out, "200 OK") != NULL);
    close(fd);
    close(slow);

    /* more connections than slots: the extra ones get 503, the server goes on */
    int many[20];
    for (int k = 0; k < 20; k++)
        many[k] = connect_api();
    /* the server answers the extra ones when its loop next runs: on a loaded machine (two
     * sanitizer builds side by side) that can take a while, so wait for it with a deadline */
    int busy = 0;
    bool answered[20] = {false};
    for (int tries = 0; tries < 100 && busy < 4; tries++) {
        usleep(50000);
        for (int k = 0; k < 20; k++) {
            struct pollfd p = {.fd = many[k], .events = POLLIN};
            if (many[k] >= 0 && !answered[k] && poll(&p, 1, 0) > 0) {
                ssize_t r = read(many[k], out, sizeof(out) - 1);
                answered[k] = true;
                if (r > 0) {
                    out[r] = 0;
                    busy += strstr(out, "503") != NULL;
                }
            }
        }
    }
    CHECK(busy >= 4);
    for (int k = 0; k < 20; k++)
        if (many[k] >= 0) close(many[k]);
    usleep(100000);
    fd = connect_api();
    exchange(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 37, out, sizeof(out), NULL, 2000);
    CHECK(strstr(out, "200 OK") && strstr(out, "Connection: close"));
    close(fd);
    api_server_stop(s);
    CHECK(access(sock_path, F_OK) != 0); /* the socket file is gone */
}

/* A VM whose loop has ended answers every request at once. */
static void kick_nothing(void *opaque)
{
    (void)opaque;
}

static void test_ctl_closed(void)
{
    struct vm_ctl c;
    vm_ctl_init(&c, kick_nothing, NULL);
    vm_ctl_close(&c, "the VM has stopped");
    struct vm_request r = {.op = VM_OP_INFO};
    struct vm_reply rep;
    vm_ctl_call(&c, &r, &rep);
    CHECK_EQ(rep.status, 400);
    CHECK(strstr(rep.fault, "stopped") != NULL);
    vm_ctl_destroy(&c);
}

int main(void)
{
    RUN(test_http_parse);
    RUN(test_routes);
    RUN(test_bad_bodies);
    RUN(test_server);
    RUN(test_ctl_closed);
    return check_done();
}
