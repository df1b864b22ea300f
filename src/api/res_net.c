/* res_net.c — PUT /network-interfaces/{iface_id}: the virtio-net NIC (Firecracker's
 * NetworkInterface: iface_id must repeat the path's id, host_dev_name names a tap device,
 * guest_mac is optional). vessel's extension: "backend" takes a --net spec instead of
 * host_dev_name, e.g. "user,hostfwd=tcp::2222-:22" for libslirp. One NIC; pre-boot only.
 * rx_rate_limiter and tx_rate_limiter (Firecracker's RateLimiter: bytes and packets) may come
 * with the PUT, and PATCH /network-interfaces/{iface_id} changes them while running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static void api_patch_net(struct api_call *c)
{
    char id[64];
    if (!api_path_id(c, id, sizeof(id))) return;
    static const struct api_field f[] = {
        {"iface_id", JSON_STRING, true},
        {"rx_rate_limiter", JSON_OBJECT, false},
        {"tx_rate_limiter", JSON_OBJECT, false},
    };
    json_t *o = api_body(c, "network-interfaces", f, sizeof(f) / sizeof(f[0]));
    if (!o) return;
    if (strcmp(json_string_value(json_object_get(o, "iface_id")), id) != 0)
        api_fault(c, 400, "network-interfaces: iface_id '%.64s' differs from the path's id '%s'",
                  json_string_value(json_object_get(o, "iface_id")), id);
    else if (api_rate_limiter(c, o, "rx_rate_limiter", "net:rx", true) &&
             api_rate_limiter(c, o, "tx_rate_limiter", "net:tx", true))
        c->resp->status = 204;
    json_decref(o);
}

void api_res_net(struct api_call *c)
{
    if (api_method_is(c, "PATCH")) {
        api_patch_net(c);
        return;
    }
    if (!api_method_is(c, "PUT")) {
        api_bad_method(c, "PUT, PATCH");
        return;
    }
    json_t *o = NULL;
    struct vm_request *r = api_request_new(c, VM_OP_PUT_NET);
    if (!r) return;
    if (!api_path_id(c, r->u.net.id, sizeof(r->u.net.id))) goto out;
    static const struct api_field f[] = {
        {"iface_id", JSON_STRING, true},         {"host_dev_name", JSON_STRING, false},
        {"guest_mac", JSON_STRING, false},       {"backend", JSON_STRING, false},
        {"rx_rate_limiter", JSON_OBJECT, false}, {"tx_rate_limiter", JSON_OBJECT, false},
    };
    o = api_body(c, "network-interfaces", f, sizeof(f) / sizeof(f[0]));
    if (!o) goto out;
    if (strcmp(json_string_value(json_object_get(o, "iface_id")), r->u.net.id) != 0) {
        api_fault(c, 400, "network-interfaces: iface_id '%.64s' differs from the path's id '%s'",
                  json_string_value(json_object_get(o, "iface_id")), r->u.net.id);
        goto out;
    }
    bool tap = json_object_get(o, "host_dev_name") != NULL;
    bool be = json_object_get(o, "backend") != NULL;
    if (tap == be) {
        api_fault(c, 400,
                  "network-interfaces: give exactly one of host_dev_name (a tap device) "
                  "and backend (a --net spec such as \"user\")");
        goto out;
    }
    if (tap) {
        char dev[64];
        if (!api_str(c, o, "host_dev_name", dev, sizeof(dev), true)) goto out;
        if (strchr(dev, ',')) {
            api_fault(c, 400, "network-interfaces: host_dev_name contains a comma");
            goto out;
        }
        snprintf(r->u.net.backend, sizeof(r->u.net.backend), "tap,ifname=%s", dev);
    } else if (!api_str(c, o, "backend", r->u.net.backend, sizeof(r->u.net.backend), true)) {
        goto out;
    }
    r->u.net.has_mac = json_object_get(o, "guest_mac") != NULL;
    if (r->u.net.has_mac && !api_str(c, o, "guest_mac", r->u.net.mac, sizeof(r->u.net.mac), true))
        goto out;
    struct vm_reply rep;
    if (api_vm_call(c, r, &rep) < 400 && api_rate_limiter(c, o, "rx_rate_limiter", "net:rx", false))
        api_rate_limiter(c, o, "tx_rate_limiter", "net:tx", false);
out:
    json_decref(o);
    free(r);
}
