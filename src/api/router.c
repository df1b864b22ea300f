/* router.c — from method and path to a resource handler, and the helpers every handler uses to
 * check a JSON body strictly (jansson decodes; this file decides what is acceptable) and to
 * answer. Firecracker answers every client mistake, an unknown path included, with 400 and a
 * fault message; so does vessel. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

struct api_route {
    const char *prefix;
    bool has_sub; /* prefix is followed by "/..." */
    void (*handler)(struct api_call *c);
};

static const struct api_route api_routes[] = {
    {"/", false, api_res_info},
    {"/machine-config", false, api_res_machine},
    {"/boot-source", false, api_res_boot},
    {"/drives", true, api_res_drives},
    {"/network-interfaces", true, api_res_net},
    {"/actions", false, api_res_actions},
    {"/vm", false, api_res_vm},
    {"/snapshot", true, api_res_snapshot},
    {"/metrics", false, api_res_metrics},
    {"/migrate", false, api_res_migrate},
    {"/screenshot", false, api_res_screenshot},
    {"/inspect", true, api_res_inspect},
};

struct vm_request *api_request_new(struct api_call *c, enum vm_op op)
{
    struct vm_request *r = calloc(1, sizeof(*r)); /* large (paths): never on the stack */
    if (!r)
        api_fault(c, 500, "out of memory");
    else
        r->op = op;
    return r;
}

void api_fault(struct api_call *c, int status, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s}", "fault_message", msg);
    free(c->resp->body);
    c->resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    c->resp->body_len = c->resp->body ? strlen(c->resp->body) : 0;
    c->resp->status = status;
    json_decref(o);
}

void api_json_reply(struct api_call *c, json_t *v)
{
    free(c->resp->body);
    c->resp->body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!c->resp->body) {
        api_fault(c, 500, "out of memory");
        return;
    }
    c->resp->body_len = strlen(c->resp->body);
    c->resp->status = 200;
}

bool api_method_is(const struct api_call *c, const char *m)
{
    return !strcmp(c->http->method, m);
}

void api_bad_method(struct api_call *c, const char *allowed)
{
    api_fault(c, 400, "Invalid request method %s for %s (allowed: %s)", c->http->method,
              c->http->path, allowed);
}

static const char *api_type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

json_t *api_body(struct api_call *c, const char *what, const struct api_field *fields,
                 size_t nfields)
{
    if (c->http->body_len == 0) {
        api_fault(c, 400, "%s: the request needs a JSON body", what);
        return NULL;
    }
    json_error_t e;
    json_t *o = json_loadb(c->http->body, c->http->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        api_fault(c, 400, "%s: malformed JSON at line %d column %d: %s", what, e.line, e.column,
                  e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        api_fault(c, 400, "%s: the body must be a JSON object, not %s", what,
                  api_type_name(json_typeof(o)));
        json_decref(o);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t k;
        for (k = 0; k < nfields; k++)
            if (!strcmp(fields[k].name, key)) break;
        if (k == nfields) {
            api_fault(c, 400, "%s: unknown field '%.64s'", what, key);
            json_decref(o);
            return NULL;
        }
        json_type t = json_typeof(v);
        bool ok = fields[k].type == JSON_TRUE ? json_is_boolean(v) : t == fields[k].type;
        if (!ok) {
            api_fault(c, 400, "%s: field '%s' must be %s, not %s", what, key,
                      api_type_name(fields[k].type), api_type_name(t));
            json_decref(o);
            return NULL;
        }
    }
    for (size_t k = 0; k < nfields; k++)
        if (fields[k].required && !json_object_get(o, fields[k].name)) {
            api_fault(c, 400, "%s: missing field '%s'", what, fields[k].name);
            json_decref(o);
            return NULL;
        }
    return o;
}

bool api_str(struct api_call *c, json_t *o, const char *name, char *dst, size_t cap,
             bool must_be_nonempty)
{
    json_t *v = json_object_get(o, name);
    const char *s = v ? json_string_value(v) : "";
    size_t n = v ? json_string_length(v) : 0;
    if (n >= cap) {
        api_fault(c, 400, "field '%s' is longer than %zu bytes", name, cap - 1);
        return false;
    }
    if (must_be_nonempty && n == 0) {
        api_fault(c, 400, "field '%s' must not be empty", name);
        return false;
    }
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

bool api_path_id(struct api_call *c, char *id, size_t cap)
{
    const char *s = c->sub;
    if (s[0] != '/' || !s[1]) {
        api_fault(c, 400, "%s: the path needs an id (e.g. %s/rootfs)", c->http->path,
                  c->http->path);
        return false;
    }
    s++;
    size_t n = strlen(s);
    if (n >= cap) {
        api_fault(c, 400, "id '%.32s...' is longer than %zu bytes", s, cap - 1);
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        char ch = s[k];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.')) {
            api_fault(c, 400, "id '%s' may only contain letters, digits, '_', '-' and '.'", s);
            return false;
        }
    }
    memcpy(id, s, n + 1);
    return true;
}

int api_vm_call(struct api_call *c, const struct vm_request *req, struct vm_reply *rep)
{
    c->vm(c->opaque, req, rep);
    if (rep->status >= 400)
        api_fault(c, rep->status, "%s", rep->fault);
    else if (rep->status == 204)
        c->resp->status = 204;
    return rep->status;
}

void api_handle(const struct http_request *req, api_vm_fn vm, void *opaque,
                struct api_response *resp)
{
    *resp = (struct api_response){.status = 204};
    struct api_call c = {.http = req, .vm = vm, .opaque = opaque, .resp = resp};
    const char *path = req->path;
    for (size_t k = 0; k < sizeof(api_routes) / sizeof(api_routes[0]); k++) {
        const struct api_route *r = &api_routes[k];
        size_t n = strlen(r->prefix);
        if (strncmp(path, r->prefix, n) != 0) continue;
        const char *rest = path + n;
        /* "/x/" is "/x"; "/" alone is the root only */
        if (!strcmp(rest, "/") && n > 1) rest = "";
        if (*rest && !(r->has_sub && *rest == '/')) continue;
        if (n == 1 && *rest) continue;
        c.sub = rest;
        r->handler(&c);
        return;
    }
    api_fault(&c, 400, "Invalid request method and/or path: %s %s", req->method, req->path);
}
