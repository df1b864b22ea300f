/* res_drives.c — PUT /drives/{drive_id}: a raw image as a virtio-blk disk (Firecracker's Drive:
 * drive_id must repeat the path's id; path_on_host and is_read_only are required for virtio
 * block; is_root_device adds root=/dev/vdX to the command line). Pre-boot only; drives appear
 * in the order they were first put. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

void api_res_drives(struct api_call *c)
{
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    struct vm_request *r = calloc(1, sizeof(*r));
    json_t *o = NULL;
    if (!r) {
        api_fault(c, 500, "out of memory");
        return;
    }
    r->op = VM_OP_PUT_DRIVE;
    if (!api_path_id(c, r->u.drive.id, sizeof(r->u.drive.id))) goto out;
    static const struct api_field f[] = {
        {"drive_id", JSON_STRING, true},     {"path_on_host", JSON_STRING, true},
        {"is_root_device", JSON_TRUE, true}, {"is_read_only", JSON_TRUE, true},
        {"partuuid", JSON_STRING, false},    {"cache_type", JSON_STRING, false},
        {"io_engine", JSON_STRING, false},
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
    api_vm_call(c, r, &rep);
out:
    json_decref(o);
    free(r);
}
