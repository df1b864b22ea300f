/* client.c — the `vessel api` command: connect to the Unix socket, send one HTTP/1.1 request
 * with Connection: close, read the answer to end of file, print its body. */
#include "api/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "api/http.h"
#include "vm/control.h"

static int api_client_usage(void)
{
    fputs("usage: vessel api SOCKET METHOD PATH [JSON]\n"
          "  e.g. vessel api /tmp/vessel.sock PATCH /vm '{\"state\": \"Paused\"}'\n"
          "       vessel api /tmp/vessel.sock GET /\n",
          stderr);
    return 2;
}

static bool api_client_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

int api_client_main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        api_client_usage();
        return 0;
    }
    if (argc < 4 || argc > 5) return api_client_usage();
    char *out = NULL;
    int rc = api_client_request(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : "", &out);
    if (rc == 0 && out && *out) printf("%s\n", out);
    free(out);
    return rc;
}

int api_client_request(const char *sock, const char *method, const char *path, const char *body,
                       char **out)
{
    *out = NULL;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof(a.sun_path)) {
        fprintf(stderr, "vessel api: socket path too long\n");
        return 2;
    }
    if (path[0] != '/' || strpbrk(path, " \r\n") || strpbrk(method, " \r\n/")) {
        fprintf(stderr, "vessel api: PATH must start with '/' and contain no blanks\n");
        return 2;
    }
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "vessel api: cannot connect to %s: %s\n", sock, strerror(errno));
        if (fd >= 0) close(fd);
        return 2;
    }
    size_t blen = strlen(body);
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                     "%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, blen ? "Content-Type: application/json\r\n" : "", blen);
    if (n < 0 || (size_t)n >= sizeof(head) || !api_client_send_all(fd, head, (size_t)n) ||
        !api_client_send_all(fd, body, blen)) {
        fprintf(stderr, "vessel api: cannot send the request\n");
        close(fd);
        return 2;
    }
    size_t cap = 1 << 16, len = 0;
    char *resp = malloc(cap + 1);
    for (;;) {
        if (!resp) break;
        if (len == cap) {
            char *r = realloc(resp, cap * 2 + 1);
            if (!r) break;
            resp = r;
            cap *= 2;
        }
        ssize_t r = read(fd, resp + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (!resp) return 2;
    resp[len] = 0;
    /* Skip interim 100 Continue answers. */
    char *p = resp;
    int status = 0;
    for (;;) {
        if (sscanf(p, "HTTP/1.%*d %d", &status) != 1) {
            fprintf(stderr, "vessel api: no HTTP answer from %s\n", sock);
            free(resp);
            return 2;
        }
        char *e = strstr(p, "\r\n\r\n");
        if (!e) {
            fprintf(stderr, "vessel api: truncated answer\n");
            free(resp);
            return 2;
        }
        p = e + 4;
        if (status != 100) break;
    }
    if (status >= 200 && status < 300) {
        memmove(resp, p, strlen(p) + 1);
        *out = resp;
        return 0;
    }
    fprintf(stderr, "vessel api: %d %s: %s\n", status, http_reason(status), p);
    free(resp);
    return 1;
}

int api_client_screenshot(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: vessel screenshot SOCKET PATH.png\n"
              "  the display of the vessel at SOCKET (run with --display and --api-sock) as PNG\n",
              stderr);
        return 2;
    }
    /* The monitor writes the file from its own working directory: make the path absolute. */
    char abs[VM_CTL_PATH_MAX], cwd[VM_CTL_PATH_MAX];
    if (argv[2][0] == '/')
        snprintf(abs, sizeof(abs), "%s", argv[2]);
    else if (!getcwd(cwd, sizeof(cwd)) ||
             snprintf(abs, sizeof(abs), "%s/%s", cwd, argv[2]) >= (int)sizeof(abs)) {
        fprintf(stderr, "vessel screenshot: path too long\n");
        return 2;
    }
    json_t *o = json_pack("{s:s}", "path", abs);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) return 2;
    char *args[] = {"api", argv[1], "PUT", "/screenshot", body, NULL};
    int rc = api_client_main(5, args);
    free(body);
    return rc;
}

/* String member `k` of e, or "?" (the answer is the monitor's, but a table never crashes). */
static const char *api_client_str(json_t *e, const char *k)
{
    const char *v = json_string_value(json_object_get(e, k));
    return v ? v : "?";
}

static void api_client_inspect_table(json_t *o, bool ps)
{
    json_t *list = json_object_get(o, ps ? "processes" : "modules"), *e;
    size_t i;
    if (ps)
        printf("%7s %7s %6s %-5s %s\n", "PID", "PPID", "UID", "STATE", "COMM");
    else
        printf("%-24s %10s  %s\n", "NAME", "SIZE", "ADDRESS");
    json_array_foreach(list, i, e)
    {
        if (ps)
            printf("%7lld %7lld %6lld %-5s %s\n",
                   (long long)json_integer_value(json_object_get(e, "pid")),
                   (long long)json_integer_value(json_object_get(e, "ppid")),
                   (long long)json_integer_value(json_object_get(e, "uid")),
                   api_client_str(e, "state"), api_client_str(e, "comm"));
        else
            printf("%-24s %10lld  %s\n", api_client_str(e, "name"),
                   (long long)json_integer_value(json_object_get(e, "size")),
                   api_client_str(e, "address"));
    }
}

/* The integrity watch's answer (docs/INTEGRITY.md) as a summary, its ranges and its writes. */
static void api_client_integrity_table(json_t *o)
{
    json_t *e;
    size_t i;
    printf("integrity watch: %s, %s; writes reported: %lld, kernel patches accepted: %lld\n",
           api_client_str(o, "policy"), api_client_str(o, "state"),
           (long long)json_integer_value(json_object_get(o, "writes")),
           (long long)json_integer_value(json_object_get(o, "kernel_patches")));
    printf("%-20s %-18s %9s %7s %9s\n", "RANGE", "ADDRESS", "SIZE", "WRITES", "MODIFIED");
    json_array_foreach(json_object_get(o, "ranges"), i, e)
    {
        printf("%-20s %-18s %9lld %7lld %9lld\n", api_client_str(e, "name"),
               api_client_str(e, "address"),
               (long long)json_integer_value(json_object_get(e, "size")),
               (long long)json_integer_value(json_object_get(e, "writes")),
               (long long)json_integer_value(json_object_get(e, "modified")));
    }
    json_array_foreach(json_object_get(o, "events"), i, e)
    {
        printf("#%lld %s+0x%llx (%s) %lld bytes by %s%s: %s -> %s, %s\n",
               (long long)json_integer_value(json_object_get(e, "seq")), api_client_str(e, "range"),
               (unsigned long long)json_integer_value(json_object_get(e, "offset")),
               api_client_str(e, "address"),
               (long long)json_integer_value(json_object_get(e, "size")),
               json_is_true(json_object_get(e, "cpu")) ? "rip " : "a device",
               json_is_true(json_object_get(e, "cpu")) ? api_client_str(e, "rip") : "",
               api_client_str(e, "old"), api_client_str(e, "new"),
               json_is_true(json_object_get(e, "blocked")) ? "blocked" : "reported");
    }
}

int api_client_inspect(int argc, char **argv)
{
    bool json = argc == 4 && !strcmp(argv[3], "--json");
    bool ps = argc >= 3 && !strcmp(argv[2], "ps"), mods = argc >= 3 && !strcmp(argv[2], "modules");
    bool integ = argc >= 3 && !strcmp(argv[2], "integrity");
    if ((argc != 3 && !json) || (!ps && !mods && !integ)) {
        fputs("usage: vessel inspect SOCKET ps|modules|integrity [--json]\n"
              "  the running guest's processes or kernel modules, read from its memory by the\n"
              "  vessel at SOCKET (nothing runs in the guest; docs/INSPECT.md), or what the\n"
              "  integrity watch saw (docs/INTEGRITY.md)\n",
              stderr);
        return 2;
    }
    char *out = NULL;
    int rc = api_client_request(argv[1], "GET",
                                integ ? "/inspect/integrity"
                                : ps  ? "/inspect/processes"
                                      : "/inspect/modules",
                                "", &out);
    if (rc) return rc;
    json_t *o = json_loads(out, 0, NULL);
    if (!o) {
        fprintf(stderr, "vessel inspect: the answer is not JSON\n");
        free(out);
        return 2;
    }
    if (json)
        printf("%s\n", out);
    else if (integ)
        api_client_integrity_table(o);
    else
        api_client_inspect_table(o, ps);
    if (!integ && !json_is_true(json_object_get(o, "complete"))) {
        fprintf(stderr, "vessel inspect: partial list: %s\n", api_client_str(o, "reason"));
        rc = 1;
    }
    json_decref(o);
    free(out);
    return rc;
}

int api_client_migrate(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (argc == 4 && strspn(argv[3], "0123456789") != strlen(argv[3]))) {
        fputs("usage: vessel migrate SOCKET ADDR [MAX_DOWNTIME_MS]\n"
              "  ADDR: unix:PATH or tcp:HOST:PORT of a `vessel run --incoming ADDR`\n",
              stderr);
        return 2;
    }
    json_t *o = json_pack("{s:s}", "destination", argv[2]);
    if (o && argc == 4) json_object_set_new(o, "max_downtime_ms", json_integer(atoll(argv[3])));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) return 2;
    char *args[] = {"api", argv[1], "PUT", "/migrate", body, NULL};
    int rc = api_client_main(5, args);
    free(body);
    return rc;
}
