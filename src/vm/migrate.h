/* migrate.h — live migration by pre-copy, between two vessel processes over a Unix or TCP
 * stream. The source keeps the guest running while a thread of its own sends RAM, then sends
 * the pages written meanwhile, round after round, until what is left would take no longer
 * than the downtime limit; then it stops the vCPU, sends the last pages and the device state,
 * and ends only when the destination confirms it has loaded them. Any failure before that
 * confirmation resumes the guest on the source, unharmed.
 *
 * Addresses: "unix:PATH" or "tcp:HOST:PORT". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_reply;

#define MIGRATE_DOWNTIME_DEFAULT_MS 300

/* Destination (`vessel run --incoming ADDR`): listen, accept one source, build the machine
 * from its configuration, receive RAM and devices, confirm. 0 (the machine is ready to run),
 * or -1 with a reason. */
int migrate_incoming(struct vm *vm, const char *addr, char *err, size_t errlen);

/* Source, on the main loop: connect and start the sending thread. The API reply is completed
 * later, by migrate_poll. 0, or -1 with a reason (nothing started). */
int migrate_start(struct vm *vm, const char *addr, uint64_t downtime_ms, struct vm_reply *rep,
                  char *err, size_t errlen);
/* Source, on the main loop between slices: serve the sending thread's requests (collect the
 * dirty log, stop the vCPU and save the devices) and finish: on success vm->migrated is set;
 * on failure the guest runs on. */
void migrate_poll(struct vm *vm);
/* Source, when the loop ends for another reason (the guest powered off): stop the thread and
 * answer the API request. */
void migrate_cancel(struct vm *vm);
