/* res_screenshot.c — PUT /screenshot {"path": "/abs/frame.png"}: the display's current frame
 * as a PNG written by the monitor (vessel's own endpoint). The path must be absolute: the
 * client's working directory is not the monitor's. 204, or 400 when the VM has no display or
 * the file cannot be written. */
#include <stdlib.h>

#include "api/api.h"

void api_res_screenshot(struct api_call *c)
{
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    static const struct api_field f[] = {{"path", JSON_STRING, true}};
    json_t *o = api_body(c, "screenshot", f, 1);
    if (!o) return;
    struct vm_request *r = api_request_new(c, VM_OP_SCREENSHOT);
    if (!r) goto out;
    if (!api_str(c, o, "path", r->u.screenshot.path, sizeof(r->u.screenshot.path), true)) goto out;
    if (r->u.screenshot.path[0] != '/') {
        api_fault(c, 400, "screenshot: path must be absolute, not '%.64s'", r->u.screenshot.path);
        goto out;
    }
    struct vm_reply rep;
    api_vm_call(c, r, &rep);
out:
    free(r);
    json_decref(o);
}
