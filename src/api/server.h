/* server.h — the control API's listener: HTTP/1.1 on a Unix stream socket, served by a thread
 * of its own (never the vCPU's). Requests go through api_handle (api.h) to the VM. */
#pragma once
#include <stddef.h>

#include "api/api.h"

struct api_server;

/* Create the socket at path (refusing a path in use by a live server; a stale socket file is
 * replaced) and start serving. NULL with a one-line reason in err. */
struct api_server *api_server_start(const char *path, api_vm_fn vm, void *opaque, char *err,
                                    size_t errlen);
/* Stop the thread, close every connection and remove the socket file. */
void api_server_stop(struct api_server *s);
