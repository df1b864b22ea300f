/* res_inspect.c — GET /inspect/processes and GET /inspect/modules (vessel's own,
 * docs/INSPECT.md): the guest's processes and kernel modules as the monitor reads them from
 * guest memory, without an agent. 200 with {"processes": [...]} or {"modules": [...]}, plus
 * "complete" (false when a broken guest list stopped the walk early, with "reason"),
 * "kaslr_slide" and "read_us"; 400 when the VM is not running or its kernel cannot be read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "introspect/introspect.h"

static json_t *api_inspect_json(const struct insp_report *r)
{
    json_t *list = json_array();
    if (!list) return NULL;
    for (size_t i = 0; i < r->n; i++) {
        json_t *e;
        if (r->what == INSP_PROCESSES) {
            const struct insp_proc *p = &r->procs[i];
            char st[2] = {p->state, 0};
            e = json_pack("{s:i, s:i, s:I, s:s, s:s}", "pid", (int)p->pid, "ppid", (int)p->ppid,
                          "uid", (json_int_t)p->uid, "comm", p->comm, "state", st);
        } else {
            const struct insp_module *m = &r->mods[i];
            char addr[24];
            snprintf(addr, sizeof(addr), "0x%016llx", (unsigned long long)m->base);
            e = json_pack("{s:s, s:I, s:s}", "name", m->name, "size", (json_int_t)m->size,
                          "address", addr);
        }
        if (!e || json_array_append_new(list, e) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    char slide[24];
    snprintf(slide, sizeof(slide), "0x%llx", (unsigned long long)r->slide);
    json_t *o =
        json_pack("{s:o, s:b, s:s, s:I}", r->what == INSP_PROCESSES ? "processes" : "modules", list,
                  "complete", r->complete, "kaslr_slide", slide, "read_us", (json_int_t)r->read_us);
    if (o && !r->complete) json_object_set_new(o, "reason", json_string(r->why));
    return o;
}

void api_res_inspect(struct api_call *c)
{
    if (!api_method_is(c, "GET")) {
        api_bad_method(c, "GET");
        return;
    }
    struct vm_request r = {.op = VM_OP_INSPECT};
    if (!strcmp(c->sub, "/processes"))
        r.u.inspect.what = INSP_PROCESSES;
    else if (!strcmp(c->sub, "/modules"))
        r.u.inspect.what = INSP_MODULES;
    else {
        api_fault(c, 400, "inspect: unknown list '%.64s' (processes or modules)", c->sub);
        return;
    }
    /* Ask the loop for the booted kernel, pick the vmlinux and parse it here, on the API
     * thread, so that the loop (which holds the guest stopped while it serves us) only walks
     * the lists and makes no system call. */
    struct vm_request q = {.op = VM_OP_INSPECT, .u.inspect.what = INSP_KERNEL_PATH};
    struct vm_reply rep = {0};
    if (api_vm_call(c, &q, &rep) != 200) goto out;
    if (!rep.inspect) {
        api_fault(c, 500, "inspect: no report");
        return;
    }
    char why[512];
    insp_default_vmlinux(rep.inspect->vmlinux[0] ? rep.inspect->vmlinux : NULL, r.u.inspect.vmlinux,
                         sizeof(r.u.inspect.vmlinux));
    free(rep.inspect);
    rep.inspect = NULL;
    if (insp_prepare(r.u.inspect.vmlinux, why, sizeof(why)) < 0) {
        api_fault(c, 400, "inspect: %s", why);
        return;
    }
    int status = api_vm_call(c, &r, &rep);
    if (status == 200) {
        json_t *o = rep.inspect ? api_inspect_json(rep.inspect) : NULL;
        if (o)
            api_json_reply(c, o);
        else
            api_fault(c, 500, "inspect: no report");
    }
out:
    if (rep.inspect) {
        insp_report_free(rep.inspect);
        free(rep.inspect);
    }
}
