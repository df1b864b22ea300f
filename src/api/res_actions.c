/* res_actions.c — PUT /actions {"action_type": "InstanceStart" | "SendCtrlAltDel" |
 * "FlushMetrics"} (Firecracker's InstanceActionInfo). */
#include <string.h>

#include "api/api.h"

void api_res_actions(struct api_call *c)
{
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    static const struct api_field f[] = {{"action_type", JSON_STRING, true}};
    json_t *o = api_body(c, "actions", f, 1);
    if (!o) return;
    const char *a = json_string_value(json_object_get(o, "action_type"));
    struct vm_request r;
    if (!strcmp(a, "InstanceStart"))
        r.op = VM_OP_START;
    else if (!strcmp(a, "SendCtrlAltDel"))
        r.op = VM_OP_CTRL_ALT_DEL;
    else if (!strcmp(a, "FlushMetrics"))
        r.op = VM_OP_FLUSH_METRICS;
    else {
        api_fault(c, 400,
                  "actions: unknown action_type '%.64s' (InstanceStart, SendCtrlAltDel, "
                  "FlushMetrics)",
                  a);
        json_decref(o);
        return;
    }
    json_decref(o);
    struct vm_reply rep;
    api_vm_call(c, &r, &rep);
}
