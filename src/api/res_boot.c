/* res_boot.c — PUT /boot-source: kernel, initrd and command line (Firecracker's BootSource;
 * boot_args replaces the whole default command line, as there). Pre-boot only. */
#include <stdlib.h>

#include "api/api.h"

void api_res_boot(struct api_call *c)
{
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    static const struct api_field f[] = {
        {"kernel_image_path", JSON_STRING, true},
        {"initrd_path", JSON_STRING, false},
        {"boot_args", JSON_STRING, false},
    };
    json_t *o = api_body(c, "boot-source", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    struct vm_request *r = api_request_new(c, VM_OP_PUT_BOOT);
    if (!r) goto out;
    if (!api_str(c, o, "kernel_image_path", r->u.boot.kernel, sizeof(r->u.boot.kernel), true))
        goto out;
    r->u.boot.has_initrd = json_object_get(o, "initrd_path") != NULL;
    if (r->u.boot.has_initrd &&
        !api_str(c, o, "initrd_path", r->u.boot.initrd, sizeof(r->u.boot.initrd), true))
        goto out;
    r->u.boot.has_args = json_object_get(o, "boot_args") != NULL;
    if (r->u.boot.has_args &&
        !api_str(c, o, "boot_args", r->u.boot.args, sizeof(r->u.boot.args), false))
        goto out;
    struct vm_reply rep;
    api_vm_call(c, r, &rep);
out:
    free(r);
    json_decref(o);
}
