/* res_drives.c — PUT /drives/{drive_id}: a raw image as a virtio-blk disk (Firecracker's Drive:
 * drive_id must repeat the path's id; path_on_host and is_read_only are required for virtio
 * block; is_root_device adds root=/dev/vdX to the command line). Pre-boot only; drives appear
 * in the order they were first put. PATCH /drives/{drive_id} changes a running drive's
 * rate_limiter (the only field it takes here; a new path_on_host is not supported). The
 * RateLimiter object itself is parsed here for the NIC too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/ratelimit.h"

/* One TokenBucket: {"size": N, "one_time_burst": N, "refill_time": MS}. */
static bool api_bucket(struct api_call *c, json_t *b, const char *what, struct rl_bucket_cfg *out)
{
    if (!json_is_object(b)) {
        api_fault(c, 400, "%s must be an object (size, one_time_burst, refill_time)", what);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (strcmp(key, "size") && strcmp(key, "one_time_burst") && strcmp(key, "refill_time")) {
            api_fault(c, 400, "%s: unknown field '%.64s'", what, key);
            return false;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            api_fault(c, 400, "%s: '%s' must be a non-negative integer", what, key);
            return false;
        }
    }
    json_t *size = json_object_get(b, "size"), *refill = json_object_get(b, "refill_time");
    if (!size || !refill) {
        api_fault(c, 400, "%s: size and refill_time are required", what);
        return false;
    }
    json_t *burst = json_object_get(b, "one_time_burst");
    *out = (struct rl_bucket_cfg){(uint64_t)json_integer_value(size),
                                  burst ? (uint64_t)json_integer_value(burst) : 0,
                                  (uint64_t)json_integer_value(refill)};
    if (out->size && !out->refill_ms) {
        api_fault(c, 400, "%s: refill_time must be positive when size is", what);
        return false;
    }
    return true;
}

bool api_rate_limiter(struct api_call *c, json_t *o, const char *field, const char *limiter,
                      bool must_exist)
{
    json_t *rl = json_object_get(o, field);
    if (!rl) return true;
    if (!json_is_object(rl)) {
        api_fault(c, 400, "%s must be an object (bandwidth, ops)", field);
        return false;
    }
    struct rl_cfg cfg = {{0, 0, 1000}, {0, 0, 1000}};
    bool bw = false, ops = false;
    const char *key;
    json_t *v;
    char what[64];
    json_object_foreach(rl, key, v)
    {
        snprintf(what, sizeof(what), "%s.%.16s", field, key);
        if (!strcmp(key, "bandwidth")) {
            if (!api_bucket(c, v, what, &cfg.bw)) return false;
            bw = true;
        } else if (!strcmp(key, "ops")) {
            if (!api_bucket(c, v, what, &cfg.ops)) return false;
            ops = true;
        } else {
            api_fault(c, 400, "%s: unknown field '%.64s' (bandwidth, ops)", field, key);
            return false;
        }
    }
    if (ratelimit_configure(limiter, &cfg, bw, ops, must_exist) < 0) {
        api_fault(c, 400, "%s: no such device is running", limiter);
        return false;
    }
    return true;
}

/* PATCH: only the rate limiter of a drive that exists. */
static void api_patch_drive(struct api_call *c)
{
    char id[64], name[80];
    if (!api_path_id(c, id, sizeof(id))) return;
    static const struct api_field f[] = {
        {"drive_id", JSON_STRING, true},
        {"path_on_host", JSON_STRING, false},
        {"rate_limiter", JSON_OBJECT, false},
    };
    json_t *o = api_body(c, "drives", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    if (strcmp(json_string_value(json_object_get(o, "drive_id")), id) != 0)
        api_fault(c, 400, "drives: drive_id '%.64s' differs from the path's id '%s'",
                  json_string_value(json_object_get(o, "drive_id")), id);
    else if (json_object_get(o, "path_on_host"))
        api_fault(c, 400, "drives: changing path_on_host of a running drive is not supported");
    else if (snprintf(name, sizeof(name), "drive:%s", id),
             api_rate_limiter(c, o, "rate_limiter", name, true))
        c->resp->status = 204;
    json_decref(o);
}

void api_res_drives(struct api_call *c)
{
    if (api_method_is(c, "PATCH")) {
        api_patch_drive(c);
        return;
    }
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT, PATCH");
        return;
    }
    json_t *o = NULL;
    struct vm_request *r = api_request_new(c, VM_OP_PUT_DRIVE);
    if (!r) return;
    if (!api_path_id(c, r->u.drive.id, sizeof(r->u.drive.id))) goto out;
    static const struct api_field f[] = {
        {"drive_id", JSON_STRING, true},     {"path_on_host", JSON_STRING, true},
        {"is_root_device", JSON_TRUE, true}, {"is_read_only", JSON_TRUE, true},
        {"partuuid", JSON_STRING, false},    {"cache_type", JSON_STRING, false},
        {"io_engine", JSON_STRING, false},   {"rate_limiter", JSON_OBJECT, false},
    };
    o = api_body(c, "drives", f, sizeof(f) / sizeof(f[0]));
    if (!o) goto out;
    if (strcmp(json_string_value(json_object_get(o, "drive_id")), r->u.drive.id) != 0) {
        api_fault(c, 400, "drives: drive_id '%.64s' differs from the path's id '%s'",
                  json_string_value(json_object_get(o, "drive_id")), r->u.drive.id);
        goto out;
    }
    if (!api_str(c, o, "path_on_host", r->u.drive.path, sizeof(r->u.drive.path), true)) goto out;
    r->u.drive.readonly = json_is_true(json_object_get(o, "is_read_only"));
    r->u.drive.root = json_is_true(json_object_get(o, "is_root_device"));
    json_t *v;
    if ((v = json_object_get(o, "partuuid"))) {
        api_fault(c, 400, "drives: partuuid is not supported (disks have no partition table here)");
        goto out;
    }
    if ((v = json_object_get(o, "cache_type")) && strcmp(json_string_value(v), "Unsafe") &&
        strcmp(json_string_value(v), "Writeback")) {
        api_fault(c, 400, "drives: cache_type must be Unsafe or Writeback");
        goto out;
    }
    if ((v = json_object_get(o, "io_engine")) && strcmp(json_string_value(v), "Sync")) {
        api_fault(c, 400, "drives: io_engine must be Sync");
        goto out;
    }
    struct vm_reply rep;
    if (api_vm_call(c, r, &rep) < 400 && json_object_get(o, "rate_limiter")) {
        char name[80];
        snprintf(name, sizeof(name), "drive:%s", r->u.drive.id);
        api_rate_limiter(c, o, "rate_limiter", name, false);
    }
out:
    json_decref(o);
    free(r);
}
