/* api.h — the control API's request path, independent of sockets: an HTTP request goes to the
 * handler of its resource (one file each, res_*.c), which checks the JSON body field by field
 * against Firecracker's shapes and turns it into a struct vm_request for the VM's main loop
 * (vm/control.h). Answers are Firecracker's: 204 with no body, 200 with a JSON body, or 400 with
 * {"fault_message": "..."}. The fuzz harness drives api_handle with a fake VM. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "vm/control.h"

/* How the API reaches the VM: vm_ctl_call in vessel, a stub in tests. */
typedef void (*api_vm_fn)(void *opaque, const struct vm_request *req, struct vm_reply *rep);

struct api_response {
    int status;
    char *body; /* malloc'd JSON text, or NULL (204) */
    size_t body_len;
};

/* Route and answer one request. resp->body must be freed by the caller. */
void api_handle(const struct http_request *req, api_vm_fn vm, void *opaque,
                struct api_response *resp);

/* ---- for the resource handlers ---- */

struct api_call {
    const struct http_request *http;
    const char *sub; /* path after the resource name ("" or "/ID...") */
    api_vm_fn vm;
    void *opaque;
    struct api_response *resp;
};

/* Expected JSON type of a body field: the jansson type, with JSON_TRUE meaning boolean. */
struct api_field {
    const char *name;
    json_type type;
    bool required;
};

/* Parse the body as a JSON object with exactly these fields (unknown names, wrong types and
 * missing required fields are 400s). Returns the object (caller json_decref) or NULL with the
 * response already set. */
json_t *api_body(struct api_call *c, const char *what, const struct api_field *fields,
                 size_t nfields);
/* Copy string field `name` (present, checked by api_body) into dst; false (response set) if it
 * does not fit or is empty when must_be_nonempty. */
bool api_str(struct api_call *c, json_t *o, const char *name, char *dst, size_t cap,
             bool must_be_nonempty);
/* Send the request to the VM and turn its reply into the response. Returns the reply status. */
int api_vm_call(struct api_call *c, const struct vm_request *req, struct vm_reply *rep);
/* A zeroed request for `op`, or NULL after answering 500 (free it when done). */
struct vm_request *api_request_new(struct api_call *c, enum vm_op op);
void api_fault(struct api_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set a 200 response with this JSON value (stolen). */
void api_json_reply(struct api_call *c, json_t *v);
/* The {id} path segment of sub ("/ID", no further slashes, URL-safe characters); false with a
 * 400 otherwise. */
bool api_path_id(struct api_call *c, char *id, size_t cap);

/* A Firecracker RateLimiter object ({"bandwidth": TokenBucket, "ops": TokenBucket}, each
 * {"size", "one_time_burst", "refill_time"}) for field `field` of o, applied to the named
 * limiter (util/ratelimit.h). Absent field: true, nothing done. must_exist: the device must be
 * there (PATCH). false with the response set. */
bool api_rate_limiter(struct api_call *c, json_t *o, const char *field, const char *limiter,
                      bool must_exist);

/* One per resource. */
void api_res_info(struct api_call *c);       /* / */
void api_res_machine(struct api_call *c);    /* /machine-config */
void api_res_boot(struct api_call *c);       /* /boot-source */
void api_res_drives(struct api_call *c);     /* /drives/{id} */
void api_res_net(struct api_call *c);        /* /network-interfaces/{id} */
void api_res_actions(struct api_call *c);    /* /actions */
void api_res_vm(struct api_call *c);         /* /vm */
void api_res_snapshot(struct api_call *c);   /* /snapshot/create, /snapshot/load */
void api_res_metrics(struct api_call *c);    /* /metrics */
void api_res_migrate(struct api_call *c);    /* /migrate (vessel's own) */
void api_res_screenshot(struct api_call *c); /* /screenshot (vessel's own) */
void api_res_inspect(
    struct api_call *c); /* /inspect/{processes,modules,integrity} (vessel's own) */
bool api_method_is(const struct api_call *c, const char *m);
/* 400 naming the methods this resource accepts. */
void api_bad_method(struct api_call *c, const char *allowed);
