/* res_machine.c — /machine-config: GET reports vCPUs, memory and the CPU model; PUT sets them
 * before the instance starts (Firecracker's MachineConfiguration; smt must be false,
 * cpu_template None, track_dirty_pages is accepted and always on: vessel's bus tracks dirty
 * pages anyway; cpu_model is vessel's: x86-64-v2, x86-64-v3 or host, docs/CPU-MODEL.md). */
#include <string.h>

#include "api/api.h"
#include "vessel/cpu.h"

void api_res_machine(struct api_call *c)
{
    if (api_method_is(c, "GET")) {
        struct vm_request r = {.op = VM_OP_GET_MACHINE};
        struct vm_reply rep;
        if (api_vm_call(c, &r, &rep) != 200) return;
        api_json_reply(c, json_pack("{s:I, s:I, s:b, s:b, s:s, s:s}", "vcpu_count",
                                    (json_int_t)rep.info.vcpus, "mem_size_mib",
                                    (json_int_t)rep.info.mem_mib, "smt", 0, "track_dirty_pages", 1,
                                    "huge_pages", "None", "cpu_model", vcpu_model_name()));
        return;
    }
    if (!api_method_is(c, "PUT") && !api_method_is(c, "PATCH")) {
        api_bad_method(c, "GET, PUT, PATCH");
        return;
    }
    bool put = api_method_is(c, "PUT");
    static const struct api_field f[] = {
        {"vcpu_count", JSON_INTEGER, false},
        {"mem_size_mib", JSON_INTEGER, false},
        {"smt", JSON_TRUE, false},
        {"track_dirty_pages", JSON_TRUE, false},
        {"cpu_template", JSON_STRING, false},
        {"huge_pages", JSON_STRING, false},
        {"cpu_model", JSON_STRING, false},
    };
    json_t *o = api_body(c, "machine-config", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    struct vm_request r = {.op = VM_OP_PUT_MACHINE};
    json_t *v;
    if (put && (!json_object_get(o, "vcpu_count") || !json_object_get(o, "mem_size_mib"))) {
        api_fault(c, 400, "machine-config: PUT needs vcpu_count and mem_size_mib");
        goto out;
    }
    if ((v = json_object_get(o, "vcpu_count"))) {
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > 32) {
            api_fault(c, 400, "machine-config: vcpu_count %lld is outside 1..32", (long long)n);
            goto out;
        }
        r.u.machine.vcpus = (unsigned)n;
        r.u.machine.has_vcpus = true;
    }
    if ((v = json_object_get(o, "mem_size_mib"))) {
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > (1 << 20)) {
            api_fault(c, 400, "machine-config: mem_size_mib %lld is out of range", (long long)n);
            goto out;
        }
        r.u.machine.mem_mib = (uint64_t)n;
        r.u.machine.has_mem = true;
    }
    if ((v = json_object_get(o, "smt")) && json_is_true(v)) {
        api_fault(c, 400, "machine-config: smt is not supported");
        goto out;
    }
    if ((v = json_object_get(o, "cpu_template")) && strcmp(json_string_value(v), "None") != 0) {
        api_fault(c, 400, "machine-config: cpu_template '%s' is not supported (only None)",
                  json_string_value(v));
        goto out;
    }
    if ((v = json_object_get(o, "huge_pages")) && strcmp(json_string_value(v), "None") != 0) {
        api_fault(c, 400, "machine-config: huge_pages '%s' is not supported (only None)",
                  json_string_value(v));
        goto out;
    }
    if ((v = json_object_get(o, "cpu_model"))) {
        const char *m = json_string_value(v);
        if (strlen(m) >= sizeof r.u.machine.cpu_model || !*m) {
            api_fault(c, 400, "machine-config: cpu_model '%s' is not x86-64-v2, x86-64-v3 or host",
                      m);
            goto out;
        }
        strcpy(r.u.machine.cpu_model, m);
    }
    struct vm_reply rep;
    api_vm_call(c, &r, &rep);
out:
    json_decref(o);
}
