/* res_info.c — GET /: Firecracker's InstanceInfo (id, state, vmm_version, app_name). */
#include "api/api.h"

#ifndef VESSEL_VERSION
#define VESSEL_VERSION "0.1.0"
#endif

void api_res_info(struct api_call *c)
{
    if (!api_method_is(c, "GET")) {
        api_bad_method(c, "GET");
        return;
    }
    struct vm_request r = {.op = VM_OP_INFO};
    struct vm_reply rep;
    if (api_vm_call(c, &r, &rep) != 200) return;
    api_json_reply(c, json_pack("{s:s, s:s, s:s, s:s}", "id", rep.info.id, "state", rep.info.state,
                                "vmm_version", VESSEL_VERSION, "app_name", "vessel"));
}
