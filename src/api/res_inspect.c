/* res_inspect.c — GET /inspect/processes and GET /inspect/modules (vessel's own,
 * docs/INSPECT.md): the guest's processes and kernel modules as the monitor reads them from
 * guest memory, without an agent. 200 with {"processes": [...]} or {"modules": [...]}, plus
 * "complete" (false when a broken guest list stopped the walk early, with "reason"),
 * "kaslr_slide" and "read_us"; 400 when the VM is not running or its kernel cannot be read.
 * GET /inspect/integrity: the integrity watch's ranges and the writes it saw
 * (docs/INTEGRITY.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "introspect/integrity.h"
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

static json_t *api_hex(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
    return json_string(s);
}

static json_t *api_bytes(const uint8_t *b, uint32_t n)
{
    char s[2 * INTEG_EVENT_BYTES + 1];
    for (uint32_t i = 0; i < n && i < INTEG_EVENT_BYTES; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[2 * (n < INTEG_EVENT_BYTES ? n : INTEG_EVENT_BYTES)] = 0;
    return json_string(s);
}

static json_t *api_integrity_json(const struct integ_status *s, uint64_t read_us)
{
    json_t *ranges = json_array(), *events = json_array();
    json_t *o = json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I}", "policy",
                          integ_policy_name(s->policy), "armed", s->armed, "state", s->state,
                          "arm_us", (json_int_t)s->arm_us, "writes", (json_int_t)s->writes,
                          "kernel_patches", (json_int_t)s->kernel_patches, "page_writes",
                          (json_int_t)s->page_writes, "read_us", (json_int_t)read_us);
    if (!ranges || !events || !o) goto fail;
    for (size_t i = 0; i < s->nranges; i++) {
        const struct integ_range_status *r = &s->ranges[i];
        json_t *e = json_pack("{s:s, s:o, s:I, s:I, s:I}", "name", r->name, "address",
                              api_hex(r->va), "size", (json_int_t)r->len, "writes",
                              (json_int_t)r->writes, "modified", (json_int_t)r->modified);
        if (!e || json_array_append_new(ranges, e) < 0) goto fail;
    }
    for (size_t i = 0; i < s->nevents; i++) {
        const struct integ_event *v = &s->events[i];
        json_t *e = json_pack(
            "{s:I, s:s, s:I, s:o, s:o, s:b, s:I, s:o, s:o, s:b}", "seq", (json_int_t)v->seq,
            "range", v->range, "offset", (json_int_t)v->offset, "address", api_hex(v->va),
            "physical", api_hex(v->gpa), "cpu", v->cpu, "size", (json_int_t)v->len, "old",
            api_bytes(v->old, v->len), "new", api_bytes(v->new_, v->len), "blocked", v->blocked);
        if (e && v->cpu) {
            json_object_set_new(e, "rip", api_hex(v->rip));
            json_object_set_new(e, "written_at", api_hex(v->lin));
            json_object_set_new(e, "cpl", json_integer(v->cpl));
            json_object_set_new(e, "cr3", api_hex(v->cr3));
        }
        if (!e || json_array_append_new(events, e) < 0) goto fail;
    }
    json_object_set_new(o, "poking_mm_pgd", s->poking_pgd ? api_hex(s->poking_pgd) : json_null());
    json_object_set_new(o, "ranges", ranges);
    json_object_set_new(o, "events", events);
    return o;
fail:
    json_decref(ranges);
    json_decref(events);
    json_decref(o);
    return NULL;
}

/* GET /inspect/integrity: the loop copies the watch's record (no kernel image needed). */
static void api_res_integrity(struct api_call *c)
{
    struct vm_request r = {.op = VM_OP_INSPECT, .u.inspect.what = INSP_INTEGRITY};
    struct vm_reply rep = {0};
    int status = api_vm_call(c, &r, &rep);
    if (status == 200) {
        json_t *o = rep.inspect && rep.inspect->integrity
                        ? api_integrity_json(rep.inspect->integrity, rep.inspect->read_us)
                        : NULL;
        if (o)
            api_json_reply(c, o);
        else
            api_fault(c, 500, "inspect: no report");
    }
    if (rep.inspect) {
        insp_report_free(rep.inspect);
        free(rep.inspect);
    }
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
    else if (!strcmp(c->sub, "/integrity")) {
        api_res_integrity(c);
        return;
    } else {
        api_fault(c, 400, "inspect: unknown list '%.64s' (processes, modules or integrity)",
                  c->sub);
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
