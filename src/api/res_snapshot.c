/* res_snapshot.c — PUT /snapshot/create (SnapshotCreateParams: snapshot_path, mem_file_path,
 * snapshot_type Full or Diff; the VM must be Paused) and PUT /snapshot/load
 * (SnapshotLoadParams: snapshot_path, mem_file_path or mem_backend {backend_type: File,
 * backend_path}, resume_vm; before the instance starts). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static void api_snap_create(struct api_call *c, struct vm_request *r)
{
    static const struct api_field f[] = {
        {"snapshot_path", JSON_STRING, true},
        {"mem_file_path", JSON_STRING, true},
        {"snapshot_type", JSON_STRING, false},
        {"version", JSON_STRING, false},
    };
    json_t *o = api_body(c, "snapshot/create", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    r->op = VM_OP_SNAP_CREATE;
    json_t *v;
    if (!api_str(c, o, "snapshot_path", r->u.snap.state, sizeof(r->u.snap.state), true) ||
        !api_str(c, o, "mem_file_path", r->u.snap.mem, sizeof(r->u.snap.mem), true))
        goto out;
    r->u.snap.has_mem = true;
    if ((v = json_object_get(o, "snapshot_type"))) {
        const char *t = json_string_value(v);
        if (!strcmp(t, "Diff"))
            r->u.snap.diff = true;
        else if (strcmp(t, "Full") != 0) {
            api_fault(c, 400, "snapshot/create: snapshot_type must be Full or Diff, not '%.64s'",
                      t);
            goto out;
        }
    }
    if (!strcmp(r->u.snap.state, r->u.snap.mem)) {
        api_fault(c, 400, "snapshot/create: snapshot_path and mem_file_path are the same file");
        goto out;
    }
    struct vm_reply rep;
    api_vm_call(c, r, &rep);
out:
    json_decref(o);
}

static void api_snap_load(struct api_call *c, struct vm_request *r)
{
    static const struct api_field f[] = {
        {"snapshot_path", JSON_STRING, true},        {"mem_file_path", JSON_STRING, false},
        {"mem_backend", JSON_OBJECT, false},         {"resume_vm", JSON_TRUE, false},
        {"enable_diff_snapshots", JSON_TRUE, false}, {"track_dirty_pages", JSON_TRUE, false},
    };
    json_t *o = api_body(c, "snapshot/load", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    r->op = VM_OP_SNAP_LOAD;
    if (!api_str(c, o, "snapshot_path", r->u.snap.state, sizeof(r->u.snap.state), true)) goto out;
    json_t *mf = json_object_get(o, "mem_file_path"), *mb = json_object_get(o, "mem_backend");
    if (mf && mb) {
        api_fault(c, 400, "snapshot/load: give mem_file_path or mem_backend, not both");
        goto out;
    }
    if (mf) {
        if (!api_str(c, o, "mem_file_path", r->u.snap.mem, sizeof(r->u.snap.mem), true)) goto out;
        r->u.snap.has_mem = true;
    } else if (mb) {
        json_t *t = json_object_get(mb, "backend_type"), *p = json_object_get(mb, "backend_path");
        if (json_object_size(mb) != 2 || !json_is_string(t) || !json_is_string(p)) {
            api_fault(c, 400,
                      "snapshot/load: mem_backend must be {\"backend_type\": \"File\", "
                      "\"backend_path\": PATH}");
            goto out;
        }
        if (strcmp(json_string_value(t), "File") != 0) {
            api_fault(c, 400, "snapshot/load: mem_backend type '%.32s' is not supported (File)",
                      json_string_value(t));
            goto out;
        }
        if (!api_str(c, mb, "backend_path", r->u.snap.mem, sizeof(r->u.snap.mem), true)) goto out;
        r->u.snap.has_mem = true;
    }
    r->u.snap.resume = json_is_true(json_object_get(o, "resume_vm"));
    struct vm_reply rep;
    api_vm_call(c, r, &rep);
out:
    json_decref(o);
}

void api_res_snapshot(struct api_call *c)
{
    bool create = !strcmp(c->sub, "/create"), load = !strcmp(c->sub, "/load");
    if (!create && !load) {
        api_fault(c, 400,
                  "Invalid request method and/or path: %s %s (snapshot/create or "
                  "snapshot/load)",
                  c->http->method, c->http->path);
        return;
    }
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    struct vm_request *r = api_request_new(c, create ? VM_OP_SNAP_CREATE : VM_OP_SNAP_LOAD);
    if (!r) return;
    if (create)
        api_snap_create(c, r);
    else
        api_snap_load(c, r);
    free(r);
}
