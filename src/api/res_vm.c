/* res_vm.c — PATCH /vm {"state": "Paused" | "Resumed"}: stop the vCPU at an instruction
 * boundary, or let it go on (Firecracker's Vm). */
#include <string.h>

#include "api/api.h"

void api_res_vm(struct api_call *c)
{
    if (!api_method_is(c, "PATCH")) {
        api_bad_method(c, "PATCH");
        return;
    }
    static const struct api_field f[] = {{"state", JSON_STRING, true}};
    json_t *o = api_body(c, "vm", f, 1);
    if (!o) return;
    const char *s = json_string_value(json_object_get(o, "state"));
    struct vm_request r;
    if (!strcmp(s, "Paused"))
        r.op = VM_OP_PAUSE;
    else if (!strcmp(s, "Resumed"))
        r.op = VM_OP_RESUME;
    else {
        api_fault(c, 400, "vm: state must be Paused or Resumed, not '%.64s'", s);
        json_decref(o);
        return;
    }
    json_decref(o);
    struct vm_reply rep;
    api_vm_call(c, &r, &rep);
}
