/* fuzz_api.c — the control API's request path on hostile bytes: HTTP parsing with pipelining
 * (as the server does it), routing, and every resource's JSON checks, against a fake VM that
 * checks what reaches it (a known operation, NUL-terminated strings inside their buffers).
 * The first byte picks the shape: raw HTTP, or a real method and path from the API with the
 * rest as the body, or a real body with the rest written over it, so that even the
 * deterministic standalone driver gets past the request line into the handlers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_str(const char *s, size_t cap)
{
    if (strnlen(s, cap) == cap) abort();
}

static void fuzz_vm(void *opaque, const struct vm_request *req, struct vm_reply *rep)
{
    (void)opaque;
    *rep = (struct vm_reply){.status = 204};
    switch (req->op) {
    case VM_OP_INFO:
    case VM_OP_GET_MACHINE:
    case VM_OP_METRICS:
        rep->status = 200;
        rep->info.state = "Running";
        break;
    case VM_OP_PUT_BOOT:
        fuzz_check_str(req->u.boot.kernel, sizeof(req->u.boot.kernel));
        fuzz_check_str(req->u.boot.initrd, sizeof(req->u.boot.initrd));
        fuzz_check_str(req->u.boot.args, sizeof(req->u.boot.args));
        break;
    case VM_OP_PUT_DRIVE:
        fuzz_check_str(req->u.drive.id, sizeof(req->u.drive.id));
        fuzz_check_str(req->u.drive.path, sizeof(req->u.drive.path));
        if (!req->u.drive.path[0]) abort();
        break;
    case VM_OP_PUT_NET:
        fuzz_check_str(req->u.net.id, sizeof(req->u.net.id));
        fuzz_check_str(req->u.net.backend, sizeof(req->u.net.backend));
        fuzz_check_str(req->u.net.mac, sizeof(req->u.net.mac));
        break;
    case VM_OP_SNAP_CREATE:
    case VM_OP_SNAP_LOAD:
        fuzz_check_str(req->u.snap.state, sizeof(req->u.snap.state));
        fuzz_check_str(req->u.snap.mem, sizeof(req->u.snap.mem));
        if (!req->u.snap.state[0]) abort();
        break;
    case VM_OP_MIGRATE:
        fuzz_check_str(req->u.migrate.dest, sizeof(req->u.migrate.dest));
        if (!req->u.migrate.dest[0] || req->u.migrate.downtime_ms < 1) abort();
        break;
    case VM_OP_PUT_MACHINE:
        if (req->u.machine.has_vcpus && (req->u.machine.vcpus < 1 || req->u.machine.vcpus > 32))
            abort();
        break;
    case VM_OP_START:
    case VM_OP_CTRL_ALT_DEL:
    case VM_OP_FLUSH_METRICS:
    case VM_OP_PAUSE:
    case VM_OP_RESUME: break;
    default: abort();
    }
    if (req->op == VM_OP_START) vm_reply_fault(rep, 400, "already started"); /* both paths */
}

static const char *const fuzz_targets[] = {
    "GET /",
    "GET /machine-config",
    "PUT /machine-config",
    "PATCH /machine-config",
    "PUT /boot-source",
    "PUT /drives/rootfs",
    "PUT /network-interfaces/eth0",
    "PUT /actions",
    "PATCH /vm",
    "PUT /snapshot/create",
    "PUT /snapshot/load",
    "GET /metrics",
    "PUT /migrate",
};

static const char *const fuzz_bodies[] = {
    "{\"vcpu_count\": 1, \"mem_size_mib\": 256, \"smt\": false}",
    "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\", \"boot_args\": \"console=ttyS0\"}",
    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/d\", \"is_root_device\": true, "
    "\"is_read_only\": false}",
    "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"52:54:00:00:00:01\"}",
    "{\"action_type\": \"InstanceStart\"}",
    "{\"state\": \"Paused\"}",
    "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"snapshot_type\": \"Diff\"}",
    "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": \"File\", "
    "\"backend_path\": \"/m\"}, \"resume_vm\": true}",
    "{\"destination\": \"unix:/tmp/m.sock\", \"max_downtime_ms\": 300}",
};

/* Parse and answer every request in buf, like the server's connection loop. */
static void fuzz_serve(const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        struct http_request req;
        size_t used;
        char err[256];
        enum http_parse_result pr = http_parse(buf + off, len - off, &req, &used, err, sizeof(err));
        if (pr != HTTP_COMPLETE) return;
        if (used == 0 || used > len - off) abort();
        if (req.body_len && (req.body < buf + off || req.body + req.body_len > buf + off + used))
            abort();
        struct api_response resp;
        api_handle(&req, fuzz_vm, NULL, &resp);
        if (resp.status != 200 && resp.status != 204 && resp.status != 400) abort();
        if (resp.status == 204 && resp.body) abort();
        if (resp.status != 204 && !resp.body) abort();
        char out[1024];
        http_format_response(out, sizeof(out), resp.status, resp.body, resp.body_len, req.close);
        free(resp.body);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t mode = data[0] % 3, pick = data[1];
    data += 2;
    size -= 2;
    size_t cap = size + 256 + HTTP_MAX_HEAD;
    char *buf = malloc(cap);
    if (!buf) return 0;
    size_t len = 0;
    if (mode == 0) {
        memcpy(buf, data, size);
        len = size;
    } else {
        const char *t = fuzz_targets[pick % (sizeof(fuzz_targets) / sizeof(fuzz_targets[0]))];
        char body[2048];
        size_t blen;
        if (mode == 1) {
            blen = size < sizeof(body) ? size : sizeof(body);
            memcpy(body, data, blen);
        } else {
            const char *b =
                fuzz_bodies[(pick >> 4) % (sizeof(fuzz_bodies) / sizeof(fuzz_bodies[0]))];
            blen = strlen(b);
            memcpy(body, b, blen);
            /* overwrite pairs (position, byte) */
            for (size_t k = 0; k + 1 < size && blen; k += 2)
                body[data[k] % blen] = (char)data[k + 1];
        }
        int n = snprintf(buf, cap, "%s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", t, blen);
        memcpy(buf + n, body, blen);
        len = (size_t)n + blen;
    }
    fuzz_serve(buf, len);
    free(buf);
    return 0;
}
