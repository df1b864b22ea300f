/* res_migrate.c — PUT /migrate {"destination": "unix:PATH" | "tcp:HOST:PORT",
 * "max_downtime_ms": N (default 300)}: live migration to a `vessel run --incoming ADDR`
 * (vessel's own endpoint; Firecracker has none). The answer comes when the migration is over:
 * 200 {"total_ms", "downtime_ms", "iterations", "bytes", "pages"} (this vessel then exits) or
 * 400 with the reason (the VM goes on here). */
#include <stdlib.h>

#include "api/api.h"
#include "vm/migrate.h"

void api_res_migrate(struct api_call *c)
{
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT");
        return;
    }
    static const struct api_field f[] = {
        {"destination", JSON_STRING, true},
        {"max_downtime_ms", JSON_INTEGER, false},
    };
    json_t *o = api_body(c, "migrate", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    struct vm_request *r = api_request_new(c, VM_OP_MIGRATE);
    if (!r) goto out;
    r->u.migrate.downtime_ms = MIGRATE_DOWNTIME_DEFAULT_MS;
    if (!api_str(c, o, "destination", r->u.migrate.dest, sizeof(r->u.migrate.dest), true)) goto out;
    json_t *v = json_object_get(o, "max_downtime_ms");
    if (v) {
        json_int_t ms = json_integer_value(v);
        if (ms < 1 || ms > 600000) {
            api_fault(c, 400, "migrate: max_downtime_ms %lld is outside 1..600000", (long long)ms);
            goto out;
        }
        r->u.migrate.downtime_ms = (uint64_t)ms;
    }
    struct vm_reply rep;
    if (api_vm_call(c, r, &rep) == 200)
        api_json_reply(c, json_pack("{s:I, s:I, s:I, s:I, s:I}", "total_ms",
                                    (json_int_t)rep.migration.total_ms, "downtime_ms",
                                    (json_int_t)rep.migration.downtime_ms, "iterations",
                                    (json_int_t)rep.migration.iterations, "bytes",
                                    (json_int_t)rep.migration.bytes, "pages",
                                    (json_int_t)rep.migration.pages));
out:
    free(r);
    json_decref(o);
}
