/* fuzz_virtq.c — a hostile driver: the input becomes guest RAM and the queue configuration,
 * and the device pops and pushes until the queue is empty or broken. Every segment handed to
 * the device must lie inside guest RAM; nothing may crash or loop forever. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"
#include "vessel/bus.h"
#include "vessel/log.h"

#define RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const struct bus *b, const struct iovec *v, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        const uint8_t *p = v[k].iov_base;
        if (p < b->ram || p + v[k].iov_len > b->ram + b->ram_size || v[k].iov_len == 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct virtq_elem e;
    struct bus b;
    if (size < 16 || bus_init(&b, RAM) != 0) return 0;
    log_threshold = LOG_ERROR;
    struct virtq q;
    virtq_init(&q, &b);
    /* header: size exponent, flags, ring placements (mostly inside RAM, sometimes not) */
    q.size = (uint16_t)(1u << (data[0] % 9));
    q.indirect = data[1] & 1;
    q.event_idx = data[1] & 2;
    uint32_t d, a, u;
    memcpy(&d, data + 2, 4);
    memcpy(&a, data + 6, 4);
    memcpy(&u, data + 10, 4);
    q.desc = data[1] & 4 ? d : d % RAM;
    q.avail = data[1] & 8 ? a : a % RAM;
    q.used = data[1] & 16 ? u : u % RAM;
    memcpy(b.ram, data + 14, size - 14 < RAM ? size - 14 : RAM);
    q.ready = virtq_validate(&q);
    for (int round = 0; round < 64 && q.ready; round++) {
        int r = virtq_pop(&q, &e);
        if (r <= 0) break;
        check_inside(&b, e.out, e.nout);
        check_inside(&b, e.in, e.nin);
        uint8_t scratch[64];
        virtq_copy_from_out(&e, round, scratch, sizeof(scratch));
        virtq_copy_to_in(&e, round, scratch, sizeof(scratch));
        virtq_push(&q, &e, (uint32_t)(e.in_len > 100 ? 100 : e.in_len));
        virtq_need_interrupt(&q);
    }
    bus_destroy(&b);
    return 0;
}
