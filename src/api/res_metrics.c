/* res_metrics.c — GET /metrics: counters as one JSON object grouped like Firecracker's metrics
 * (vmm, vcpu, snapshot), each a plain number. Firecracker flushes these to a file; vessel also
 * answers them on request. net_policy counts the user network's policy decisions on flows the
 * guest started (backend/net.h); memory is the guest's RAM as the host holds it — resident,
 * shared, saved by page sharing, the balloon (docs/MEMORY.md). */
#include "api/api.h"
#include "backend/net.h"

void api_res_metrics(struct api_call *c)
{
    if (!api_method_is(c, "GET")) {
        api_bad_method(c, "GET");
        return;
    }
    struct vm_request r = {.op = VM_OP_METRICS};
    struct vm_reply rep;
    if (api_vm_call(c, &r, &rep) != 200) return;
    const struct vm_metrics *m = &rep.metrics;
    struct net_policy_counters np;
    net_policy_get(&np);
    json_t *memory =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ram_size", (json_int_t)m->ram_size,
                  "resident", (json_int_t)m->ram_resident, "shared", (json_int_t)m->ram_shared,
                  "zero", (json_int_t)m->ram_zero, "saved", (json_int_t)m->ram_saved, "private",
                  (json_int_t)m->ram_private, "balloon_target", (json_int_t)m->balloon_target,
                  "balloon_actual", (json_int_t)m->balloon_actual);
    api_json_reply(
        c, json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, "
                     "s:I}, s:{s:I, s:I, s:I}, s:o}",
                     "vmm", "uptime_ms", (json_int_t)m->uptime_ms, "paused_ms",
                     (json_int_t)m->paused_ms, "pauses", (json_int_t)m->pauses, "resumes",
                     (json_int_t)m->resumes, "vcpu", "instructions", (json_int_t)m->insns,
                     "exceptions", (json_int_t)m->exceptions, "interrupts",
                     (json_int_t)m->interrupts, "blocks_built", (json_int_t)m->blocks_built,
                     "tlb_misses", (json_int_t)m->tlb_misses, "snapshot", "count",
                     (json_int_t)m->snapshots, "last_create_ms", (json_int_t)m->snapshot_last_ms,
                     "last_create_bytes", (json_int_t)m->snapshot_last_bytes, "restore_ms",
                     (json_int_t)m->restore_ms, "net_policy", "denied_loopback",
                     (json_int_t)np.denied_loopback, "denied_egress", (json_int_t)np.denied_egress,
                     "allowed", (json_int_t)np.allowed, "memory", memory));
}
