/* virtio_input.c — the tablet: an absolute pointer with three buttons and a wheel, described
 * to the driver through the select/subsel configuration window (name, ids, the event-code
 * bitmaps, the axes' ranges), and reporting evdev events (type, code, value) into the 8-byte
 * buffers the driver keeps posted on the event queue.
 *
 * Reports come from front-end threads at any rate; they wait in a small ring under the lock
 * until the vCPU thread delivers them, so guest memory is only written where the rest of the
 * machine is (and never while the machine is paused). A report that only moves the pointer
 * replaces a moving report still waiting, so a fast hand never overflows the ring, while
 * button presses and releases are never merged away. */
#include "virtio_input.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/log.h"
#include "vessel/state.h"
#include "virtio/virtio_pci.h"

#define VIRTIO_ID_INPUT   18
#define INPUT_QUEUE_SIZE  64
#define INPUT_EVENTQ      0
#define INPUT_STATUSQ     1
#define INPUT_RING        256 /* events waiting for the vCPU thread */
#define INPUT_CFG_SIZE    136 /* select, subsel, size, 5 reserved, 128 bytes of answer */
#define INPUT_CFG_PAYLOAD 8

/* virtio spec §5.8.5: what the driver selects */
enum {
    CFG_ID_NAME = 0x01,
    CFG_ID_SERIAL = 0x02,
    CFG_ID_DEVIDS = 0x03,
    CFG_PROP_BITS = 0x10,
    CFG_EV_BITS = 0x11,
    CFG_ABS_INFO = 0x12,
};

/* Linux input event types and codes (include/uapi/linux/input-event-codes.h) */
enum {
    EV_SYN = 0x00,
    EV_KEY = 0x01,
    EV_REL = 0x02,
    EV_ABS = 0x03,
    SYN_REPORT = 0,
    REL_WHEEL = 0x08,
    ABS_X = 0x00,
    ABS_Y = 0x01,
    BTN_LEFT = 0x110,
    BTN_RIGHT = 0x111,
    BTN_MIDDLE = 0x112,
    BUS_VIRTUAL = 0x06,
};

struct input_event_le {
    uint16_t type, code;
    int32_t value;
};

struct virtio_input {
    struct virtio_dev vd;
    struct virtq_elem elem;
    void (*wake)(void *);
    void *wake_opaque;
    /* the configuration window (driver-written, so saved) */
    uint8_t select, subsel;
    pthread_mutex_t lock; /* everything below */
    struct input_event_le ring[INPUT_RING];
    uint32_t head, tail;        /* free-running: tail - head events wait */
    uint32_t motion_at;         /* where a waiting motion-only report starts */
    bool motion_waiting;        /* ... if there is one */
    uint32_t abs_x, abs_y, btn; /* what the guest has been told, or will be */
};

static bool input_append(struct virtio_input *vi, uint16_t type, uint16_t code, int32_t value)
{
    if (vi->tail - vi->head >= INPUT_RING) return false;
    vi->ring[vi->tail++ % INPUT_RING] = (struct input_event_le){type, code, value};
    return true;
}

static uint32_t input_scale(unsigned v, unsigned extent)
{
    if (extent <= 1) return 0;
    if (v >= extent) v = extent - 1;
    return (uint32_t)((uint64_t)v * VIRTIO_INPUT_ABS_MAX / (extent - 1));
}

void virtio_input_pointer(struct virtio_input *vi, unsigned x, unsigned y, unsigned width,
                          unsigned height, unsigned buttons, int wheel)
{
    static const uint16_t btn_code[3] = {BTN_LEFT, BTN_MIDDLE, BTN_RIGHT};
    uint32_t ax = input_scale(x, width), ay = input_scale(y, height);
    pthread_mutex_lock(&vi->lock);
    bool moves = ax != vi->abs_x || ay != vi->abs_y;
    bool clicks = ((buttons ^ vi->btn) & 7) != 0 || wheel != 0;
    if (!moves && !clicks) {
        pthread_mutex_unlock(&vi->lock);
        return;
    }
    /* A newer position makes a waiting motion-only report pointless: take its place. */
    if (!clicks && vi->motion_waiting && (int32_t)(vi->motion_at - vi->head) >= 0)
        vi->tail = vi->motion_at;
    uint32_t start = vi->tail;
    bool ok = input_append(vi, EV_ABS, ABS_X, (int32_t)ax) &&
              input_append(vi, EV_ABS, ABS_Y, (int32_t)ay);
    for (unsigned k = 0; ok && k < 3; k++)
        if ((buttons ^ vi->btn) & (1u << k))
            ok = input_append(vi, EV_KEY, btn_code[k], (buttons >> k) & 1);
    if (ok && wheel) ok = input_append(vi, EV_REL, REL_WHEEL, wheel);
    if (ok) ok = input_append(vi, EV_SYN, SYN_REPORT, 0);
    if (ok) {
        vi->abs_x = ax;
        vi->abs_y = ay;
        vi->btn = buttons & 7;
        vi->motion_waiting = !clicks;
        vi->motion_at = start;
    } else {
        vi->tail = start; /* the guest is not taking events: drop the whole report */
    }
    pthread_mutex_unlock(&vi->lock);
    if (!ok)
        log_warn("virtio-input: event queue full, pointer report dropped");
    else if (vi->wake)
        vi->wake(vi->wake_opaque);
}

/* vCPU thread. Events stay waiting until the driver posts buffers (it kicks the queue then). */
void virtio_input_deliver(struct virtio_input *vi)
{
    struct virtq *vq = &vi->vd.vq[INPUT_EVENTQ];
    if (!virtio_driver_ok(&vi->vd) || !vq->ready) return;
    bool pushed = false;
    int got = 1;
    pthread_mutex_lock(&vi->lock);
    while (vi->head != vi->tail && (got = virtq_pop(vq, &vi->elem)) == 1) {
        struct input_event_le e = vi->ring[vi->head % INPUT_RING];
        uint8_t b[8] = {(uint8_t)e.type, (uint8_t)(e.type >> 8), (uint8_t)e.code,
                        (uint8_t)(e.code >> 8)};
        for (unsigned k = 0; k < 4; k++)
            b[4 + k] = (uint8_t)((uint32_t)e.value >> (8 * k));
        virtq_push(vq, &vi->elem, (uint32_t)virtq_copy_to_in(&vi->elem, 0, b, sizeof(b)));
        vi->head++;
        pushed = true;
    }
    if (vi->head == vi->tail) vi->motion_waiting = false;
    pthread_mutex_unlock(&vi->lock);
    if (got < 0) virtio_set_needs_reset(&vi->vd);
    if (pushed) virtio_queue_notify(&vi->vd, INPUT_EVENTQ);
}

static void input_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_input *vi = vd->opaque;
    if (q == INPUT_EVENTQ) {
        virtio_input_deliver(vi); /* new buffers: events that waited for them go now */
        return;
    }
    /* The status queue carries LED and sound changes for keyboards; a tablet has neither. */
    struct virtq *vq = &vd->vq[q];
    int got;
    while ((got = virtq_pop(vq, &vi->elem)) == 1)
        virtq_push(vq, &vi->elem, 0);
    if (got < 0) virtio_set_needs_reset(vd);
    virtio_queue_notify(vd, q);
}

/* The answer to the current select/subsel: its size and bytes. */
static uint8_t input_cfg_answer(const struct virtio_input *vi, uint8_t out[128])
{
    memset(out, 0, 128);
    switch (vi->select) {
    case CFG_ID_NAME: {
        static const char name[] = "vessel tablet";
        memcpy(out, name, sizeof(name) - 1);
        return vi->subsel ? 0 : sizeof(name) - 1;
    }
    case CFG_ID_SERIAL: {
        static const char serial[] = "vessel-0";
        memcpy(out, serial, sizeof(serial) - 1);
        return vi->subsel ? 0 : sizeof(serial) - 1;
    }
    case CFG_ID_DEVIDS: {
        const uint16_t ids[4] = {BUS_VIRTUAL, 0x1af4, 0x0003, 1}; /* bus, vendor, product, ver */
        for (unsigned k = 0; k < 4; k++) {
            out[2 * k] = (uint8_t)ids[k];
            out[2 * k + 1] = (uint8_t)(ids[k] >> 8);
        }
        return vi->subsel ? 0 : 8;
    }
    case CFG_EV_BITS:
        switch (vi->subsel) {
        case EV_KEY:
            out[BTN_LEFT / 8] =
                1u << (BTN_LEFT % 8) | 1u << (BTN_RIGHT % 8) | 1u << (BTN_MIDDLE % 8);
            return BTN_LEFT / 8 + 1;
        case EV_REL: out[REL_WHEEL / 8] = 1u << (REL_WHEEL % 8); return REL_WHEEL / 8 + 1;
        case EV_ABS: out[0] = 1u << ABS_X | 1u << ABS_Y; return 1;
        default: return 0;
        }
    case CFG_ABS_INFO: {
        if (vi->subsel != ABS_X && vi->subsel != ABS_Y) return 0;
        const uint32_t info[5] = {0, VIRTIO_INPUT_ABS_MAX, 0, 0, 0}; /* min max fuzz flat res */
        for (unsigned k = 0; k < 20; k++)
            out[k] = (uint8_t)(info[k / 4] >> (8 * (k % 4)));
        return 20;
    }
    default: return 0; /* PROP_BITS: none; UNSET and anything unknown: nothing */
    }
}

static uint64_t input_config_read(struct virtio_dev *vd, uint64_t off, unsigned size)
{
    struct virtio_input *vi = vd->opaque;
    uint8_t cfg[INPUT_CFG_SIZE] = {vi->select, vi->subsel};
    cfg[2] = input_cfg_answer(vi, cfg + INPUT_CFG_PAYLOAD);
    uint64_t v = 0;
    for (unsigned k = 0; k < size && k < 8; k++)
        if (off + k < sizeof(cfg)) v |= (uint64_t)cfg[off + k] << (8 * k);
    return v;
}

static void input_config_write(struct virtio_dev *vd, uint64_t off, uint64_t value, unsigned size)
{
    struct virtio_input *vi = vd->opaque;
    /* Only select and subsel are the driver's; a wide write covering both sets both. */
    for (unsigned k = 0; k < size && k < 8; k++) {
        if (off + k == 0) vi->select = (uint8_t)(value >> (8 * k));
        if (off + k == 1) vi->subsel = (uint8_t)(value >> (8 * k));
    }
}

static void input_reset(struct virtio_dev *vd)
{
    struct virtio_input *vi = vd->opaque;
    pthread_mutex_lock(&vi->lock);
    vi->head = vi->tail = 0;
    vi->motion_waiting = false;
    pthread_mutex_unlock(&vi->lock);
    vi->select = vi->subsel = 0;
}

static const struct virtio_dev_ops input_ops = {
    .queue_notify = input_notify,
    .config_read = input_config_read,
    .config_write = input_config_write,
    .reset = input_reset,
};

struct virtio_input *virtio_input_create(struct pci_host *host, struct bus *bus,
                                         void (*wake)(void *), void *wake_opaque)
{
    struct virtio_input *vi = calloc(1, sizeof(*vi));
    if (!vi) return NULL;
    vi->wake = wake;
    vi->wake_opaque = wake_opaque;
    pthread_mutex_init(&vi->lock, NULL);
    struct virtio_pci_settings s = {
        .dev = {.name = "virtio-input",
                .device_id = VIRTIO_ID_INPUT,
                .nqueues = 2,
                .queue_max = INPUT_QUEUE_SIZE,
                .features = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX,
                .ops = &input_ops,
                .opaque = vi},
        .class_code = 0x098000, /* input device controller, other */
        .slot = -1,
    };
    if (virtio_pci_init(&vi->vd, host, bus, &s) != 0) {
        pthread_mutex_destroy(&vi->lock);
        free(vi);
        return NULL;
    }
    return vi;
}

void virtio_input_destroy(struct virtio_input *vi)
{
    if (!vi) return;
    virtio_pci_destroy(&vi->vd);
    pthread_mutex_destroy(&vi->lock);
    free(vi);
}

bool virtio_input_active(struct virtio_input *vi)
{
    return virtio_driver_ok(&vi->vd);
}

/* Section "virtio-input": the transport, the configuration window and the pointer state the
 * guest has been told. Events still waiting are host input, not guest state: not saved. */
static const struct state_field virtio_input_fields[] = {
    STATE_STRUCT(struct virtio_input, vd, &virtio_pci_state),
    STATE_U8(struct virtio_input, select),
    STATE_U8(struct virtio_input, subsel),
    STATE_UINT_X(struct virtio_input, abs_x, 4, UINT64_MAX, 0, 0, VIRTIO_INPUT_ABS_MAX),
    STATE_UINT_X(struct virtio_input, abs_y, 4, UINT64_MAX, 0, 0, VIRTIO_INPUT_ABS_MAX),
    STATE_UINT_M(struct virtio_input, btn, 4, 7),
};
static const struct state_desc virtio_input_desc =
    STATE_DESC(struct virtio_input, virtio_input_fields, NULL);

void virtio_input_save(struct virtio_input *vi, struct state_writer *w)
{
    pthread_mutex_lock(&vi->lock);
    state_save_section(w, "virtio-input", 1, &virtio_input_desc, vi, NULL);
    pthread_mutex_unlock(&vi->lock);
}

int virtio_input_load(struct virtio_input *vi, struct state_reader *rd)
{
    struct virtio_pci_state_ctx x; /* the transport half, until the commit */
    pthread_mutex_lock(&vi->lock);
    int rc = state_load_section(rd, "virtio-input", 1, &virtio_input_desc, vi, &x);
    if (rc == 0 && state_committing(rd)) {
        vi->head = vi->tail = 0;
        vi->motion_waiting = false;
    }
    pthread_mutex_unlock(&vi->lock);
    if (rc == 0 && state_committing(rd)) virtio_pci_state_loaded(&vi->vd);
    return rc;
}
