/* i8042.c — the PS/2 controller, with a mouse on the AUX port only when the board asks for
 * one (i8042_enable_aux). Output bytes (controller replies, keyboard and mouse bytes) share one
 * small queue, each tagged with its source: the status register's AUX bit and which IRQ is high
 * (keyboard or AUX, each gated by its config-byte enable) follow the byte at the head. Keys and
 * mouse movements from the host (a display front end) wait in the device's own buffer and move
 * into the output queue one byte at a time when it is empty and the port is enabled, as a real
 * keyboard or mouse holds bytes until the controller takes them. Without an AUX port, writes to
 * the AUX loopback (0xD3) come back as keyboard data, which is how Linux recognises a
 * controller without one at once instead of after timeouts. */
#include "hw/i8042.h"
#include "hw/ps2_mouse.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define STATE_VERSION 1
#define QUEUE         16
#define KBD_BUFFER    256 /* host key bytes not yet taken by the controller */
#define AUX_BUFFER    256 /* host mouse bytes likewise */

#define ST_OBF    0x01
#define ST_SYS    0x04
#define ST_CMD    0x08
#define ST_UNLOCK 0x10
#define ST_AUXOBF 0x20 /* the byte in the output buffer is from the AUX port */

#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS     0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE   0x40

struct i8042 {
    pthread_mutex_t lock;
    struct bus *bus;
    struct irq_line irq;
    void (*reset_cb)(void *opaque);
    void *opaque;
    uint8_t ctr, status, outport;
    uint8_t pending_cmd; /* controller command awaiting its data byte, 0 if none */
    uint8_t kbd_cmd;     /* keyboard command awaiting its parameter, 0 if none */
    uint8_t q[QUEUE];
    unsigned qhead, qcount;
    int irq_level;
    /* Host keys (i8042_kbd_input). Input not yet delivered is not part of the saved state. */
    uint8_t kb[KBD_BUFFER];
    unsigned kbhead, kbcount;
    uint64_t kb_dropped;
    /* The AUX port and its mouse (i8042_enable_aux). */
    bool has_aux;
    struct irq_line aux_irq;
    int aux_level;
    uint8_t qaux[QUEUE]; /* 1: that queued byte came from the AUX port */
    uint16_t qaux_bits;  /* state load: qaux relative to the head, before commit */
    struct ps2_mouse mouse;
    uint8_t mb[AUX_BUFFER];
    unsigned mbhead, mbcount;
};

static bool head_is_aux(const struct i8042 *k)
{
    return k->qcount && k->qaux[k->qhead];
}

static void update_irq(struct i8042 *k)
{
    bool aux = head_is_aux(k);
    int level = k->qcount && !aux && (k->ctr & CTR_KBD_INT);
    if (level != k->irq_level) {
        k->irq_level = level;
        irq_set(&k->irq, level);
    }
    if (!k->has_aux) return;
    level = aux && (k->ctr & CTR_AUX_INT);
    if (level != k->aux_level) {
        k->aux_level = level;
        irq_set(&k->aux_irq, level);
    }
}

static void push_from(struct i8042 *k, uint8_t v, bool aux)
{
    if (k->qcount < QUEUE) {
        k->q[(k->qhead + k->qcount) % QUEUE] = v;
        k->qaux[(k->qhead + k->qcount) % QUEUE] = aux;
        k->qcount++;
    }
}

static void push(struct i8042 *k, uint8_t v)
{
    push_from(k, v, false);
}

static uint8_t pop(struct i8042 *k)
{
    if (!k->qcount) return 0;
    uint8_t v = k->q[k->qhead];
    k->qhead = (k->qhead + 1) % QUEUE;
    k->qcount--;
    return v;
}

/* A host key or mouse byte into the empty output buffer, if its device may send. */
static void feed_key(struct i8042 *k)
{
    if (k->qcount || k->pending_cmd) return;
    if (k->kbcount && !(k->ctr & CTR_KBD_DIS) && !k->kbd_cmd) {
        push(k, k->kb[k->kbhead]);
        k->kbhead = (k->kbhead + 1) % KBD_BUFFER;
        k->kbcount--;
    } else if (k->mbcount && !(k->ctr & CTR_AUX_DIS) && !k->mouse.cmd) {
        push_from(k, k->mb[k->mbhead], true);
        k->mbhead = (k->mbhead + 1) % AUX_BUFFER;
        k->mbcount--;
    }
}

/* The keyboard: acknowledges everything, identifies as an MF2 keyboard. */
static void keyboard_byte(struct i8042 *k, uint8_t v)
{
    if (k->kbd_cmd) {
        k->kbd_cmd = 0;
        push(k, 0xfa); /* the parameter; scancode sets are not modelled */
        return;
    }
    switch (v) {
    case 0xed: /* LEDs */
    case 0xf0: /* scancode set */
    case 0xf3: /* typematic rate */
        k->kbd_cmd = v;
        push(k, 0xfa);
        break;
    case 0xee: push(k, 0xee); break; /* echo */
    case 0xf2:                       /* identify */
        push(k, 0xfa);
        push(k, 0xab);
        push(k, 0x83);
        break;
    case 0xff: /* reset and self-test */
        push(k, 0xfa);
        push(k, 0xaa);
        break;
    default: push(k, 0xfa); break;
    }
}

/* Returns true if the guest asked for a CPU reset. */
static bool command(struct i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case 0x20: push(k, k->ctr); break;
    case 0x60:
    case 0xd1:
    case 0xd2:
    case 0xd3:
    case 0xd4: k->pending_cmd = cmd; break;
    case 0xa7: k->ctr |= CTR_AUX_DIS; break;
    case 0xa8: k->ctr &= (uint8_t)~CTR_AUX_DIS; break;
    case 0xa9: push(k, k->has_aux ? 0x00 : 0x02); break; /* AUX test: clock stuck low if none */
    case 0xaa:
        k->status |= ST_SYS;
        push(k, 0x55);
        break;
    case 0xab: push(k, 0x00); break; /* keyboard interface test: ok */
    case 0xad: k->ctr |= CTR_KBD_DIS; break;
    case 0xae: k->ctr &= (uint8_t)~CTR_KBD_DIS; break;
    case 0xc0: push(k, 0x80); break; /* input port: keyboard not inhibited */
    case 0xd0: push(k, k->outport); break;
    default:
        /* 0xF0-0xFF pulse output port bits low for a moment; bit 0 is the CPU reset line. */
        if (cmd >= 0xf0 && !(cmd & 1)) return true;
        break;
    }
    return false;
}

static bool data_write(struct i8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending_cmd;
    k->pending_cmd = 0;
    switch (cmd) {
    case 0x60:
        k->ctr = v;
        if (v & CTR_SYS) k->status |= ST_SYS;
        break;
    case 0xd1:
        k->outport = v;
        if (!(v & 1)) return true; /* reset line asserted */
        break;
    case 0xd2: push(k, v); break;                  /* echoed as keyboard data */
    case 0xd3: push_from(k, v, k->has_aux); break; /* as AUX data (keyboard data if none) */
    case 0xd4:                                     /* to the AUX device */
        if (k->has_aux) {
            uint8_t out[PS2_MOUSE_REPLY_MAX];
            unsigned n = ps2_mouse_write(&k->mouse, v, out);
            for (unsigned i = 0; i < n; i++)
                push_from(k, out[i], true);
        }
        break;
    default:
        keyboard_byte(k, v); /* writing data to the keyboard re-enables its port */
        k->ctr &= (uint8_t)~CTR_KBD_DIS;
        break;
    }
    return false;
}

static uint64_t kbd_io(struct i8042 *k, uint64_t off)
{
    pthread_mutex_lock(&k->lock);
    uint8_t v;
    if (off == 0) {
        v = pop(k);
        feed_key(k);
        /* The next byte moves into the (one-byte) output buffer: a fresh edge for it. */
        if (k->qcount && k->irq_level == 1) {
            k->irq_level = 0;
            irq_set(&k->irq, 0);
        }
        if (k->qcount && k->aux_level == 1) {
            k->aux_level = 0;
            irq_set(&k->aux_irq, 0);
        }
        update_irq(k);
    } else {
        v = (uint8_t)(k->status | ST_UNLOCK | (k->qcount ? ST_OBF : 0) |
                      (head_is_aux(k) ? ST_AUXOBF : 0));
    }
    pthread_mutex_unlock(&k->lock);
    return v;
}

static void kbd_io_put(struct i8042 *k, uint64_t off, uint64_t value)
{
    pthread_mutex_lock(&k->lock);
    bool reset;
    if (off == 0) {
        k->status &= (uint8_t)~ST_CMD;
        reset = data_write(k, (uint8_t)value);
    } else {
        k->status |= ST_CMD;
        reset = command(k, (uint8_t)value);
    }
    feed_key(k);
    update_irq(k);
    pthread_mutex_unlock(&k->lock);
    if (reset && k->reset_cb) k->reset_cb(k->opaque);
}

/* Two one-port ranges with their own ops, so each can be found on the bus by (ops, opaque). */
static uint64_t data_read(void *opaque, uint64_t off, unsigned size)
{
    return kbd_io(opaque, 0);
}
static void data_write_port(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    kbd_io_put(opaque, 0, value);
}
static uint64_t status_read(void *opaque, uint64_t off, unsigned size)
{
    return kbd_io(opaque, 4);
}
static void command_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    kbd_io_put(opaque, 4, value);
}
static const struct io_ops data_ops = {data_read, data_write_port};
static const struct io_ops cmd_ops = {status_read, command_write};

static void reset_locked(struct i8042 *k)
{
    k->ctr = CTR_KBD_INT | CTR_SYS | CTR_AUX_DIS | CTR_XLATE;
    k->status = ST_SYS;
    k->outport = 0x03; /* reset line high, A20 enabled */
    k->pending_cmd = k->kbd_cmd = 0;
    k->qhead = k->qcount = 0;
    k->kbhead = k->kbcount = 0;
    k->mbhead = k->mbcount = 0;
    memset(k->qaux, 0, sizeof(k->qaux));
    ps2_mouse_reset(&k->mouse);
    update_irq(k);
}

struct i8042 *i8042_create(struct bus *bus, struct irq_line kbd_irq, void (*reset)(void *opaque),
                           void *opaque)
{
    struct i8042 *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->bus = bus;
    k->irq = kbd_irq;
    k->reset_cb = reset;
    k->opaque = opaque;
    reset_locked(k);
    if (bus && (bus_add_pio(bus, I8042_DATA_PORT, 1, &data_ops, k, "i8042-data") != 0 ||
                bus_add_pio(bus, I8042_STATUS_PORT, 1, &cmd_ops, k, "i8042-cmd") != 0)) {
        bus_move_pio(bus, &data_ops, k, 0, 0);
        pthread_mutex_destroy(&k->lock);
        free(k);
        return NULL;
    }
    return k;
}

bool i8042_kbd_input(struct i8042 *k, const uint8_t *bytes, unsigned n)
{
    pthread_mutex_lock(&k->lock);
    bool ok = n <= KBD_BUFFER - k->kbcount;
    if (ok) {
        for (unsigned i = 0; i < n; i++)
            k->kb[(k->kbhead + k->kbcount++) % KBD_BUFFER] = bytes[i];
        feed_key(k);
        update_irq(k);
    } else {
        k->kb_dropped++;
    }
    pthread_mutex_unlock(&k->lock);
    return ok;
}

void i8042_enable_aux(struct i8042 *k, struct irq_line aux_irq)
{
    pthread_mutex_lock(&k->lock);
    k->has_aux = true;
    k->aux_irq = aux_irq;
    k->aux_level = 0;
    update_irq(k);
    pthread_mutex_unlock(&k->lock);
}

bool i8042_mouse_input(struct i8042 *k, int dx, int dy, unsigned buttons)
{
    pthread_mutex_lock(&k->lock);
    bool ok = k->has_aux;
    uint8_t p[PS2_MOUSE_PACKET];
    unsigned n = ok ? ps2_mouse_motion(&k->mouse, dx, dy, buttons, p) : 0;
    if (n && n <= AUX_BUFFER - k->mbcount) {
        for (unsigned i = 0; i < n; i++)
            k->mb[(k->mbhead + k->mbcount++) % AUX_BUFFER] = p[i];
        feed_key(k);
        update_irq(k);
    } else if (n) {
        ok = false;
    }
    pthread_mutex_unlock(&k->lock);
    return ok;
}

void i8042_destroy(struct i8042 *k)
{
    if (!k) return;
    if (k->bus) {
        bus_move_pio(k->bus, &data_ops, k, 0, 0);
        bus_move_pio(k->bus, &cmd_ops, k, 0, 0);
    }
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* Section "i8042": u8 ctr, status, output port, pending controller command, pending keyboard
 * command; u8 n, then the n queued output bytes oldest first. */
static void i8042_put_queue(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct i8042 *k = obj;
    state_put_u8(w, (uint8_t)k->qcount);
    for (unsigned i = 0; i < k->qcount; i++)
        state_put_u8(w, k->q[(k->qhead + i) % QUEUE]);
}
static const char *i8042_get_queue(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    struct i8042 *k = tmp;
    unsigned n = state_get_u8(r);
    if (n > QUEUE) return "more bytes than the queue holds";
    k->qhead = k->qcount = 0;
    for (unsigned i = 0; i < n; i++)
        push(k, state_get_u8(r));
    return NULL;
}
static const struct state_field i8042_fields[] = {
    STATE_U8(struct i8042, ctr),
    STATE_UINT_M(struct i8042, status, 1, ST_SYS | ST_CMD),
    STATE_U8(struct i8042, outport),
    STATE_U8(struct i8042, pending_cmd),
    STATE_U8(struct i8042, kbd_cmd),
    STATE_CUSTOM("queue", i8042_put_queue, i8042_get_queue, NULL),
    STATE_SHADOW(struct i8042, q),
    STATE_SHADOW(struct i8042, qhead),
    STATE_SHADOW(struct i8042, qcount),
};
static const struct state_desc i8042_desc = STATE_DESC(struct i8042, i8042_fields, NULL);

/* Section "i8042-aux" (boards with the AUX port): the mouse, then u16: bit i set if the i-th
 * queued output byte (oldest first) came from the AUX port. */
static void i8042_put_sources(struct state_writer *w, const void *obj, void *ctx)
{
    (void)ctx;
    const struct i8042 *k = obj;
    uint16_t bits = 0;
    for (unsigned i = 0; i < k->qcount; i++)
        bits |= (uint16_t)(k->qaux[(k->qhead + i) % QUEUE] << i);
    state_put_u16(w, bits);
}
static const char *i8042_get_sources(struct state_reader *r, void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    ((struct i8042 *)tmp)->qaux_bits = state_get_u16(r);
    return NULL;
}
/* After the "i8042" section: the queue (and its head) are already the loaded ones. */
static void i8042_commit_sources(void *live, const void *tmp, void *ctx)
{
    (void)ctx;
    struct i8042 *k = live;
    uint16_t bits = ((const struct i8042 *)tmp)->qaux_bits;
    memset(k->qaux, 0, sizeof(k->qaux));
    for (unsigned i = 0; i < k->qcount; i++)
        k->qaux[(k->qhead + i) % QUEUE] = (bits >> i) & 1;
}
static const struct state_field i8042_aux_fields[] = {
    STATE_STRUCT(struct i8042, mouse, &ps2_mouse_desc),
    STATE_CUSTOM("sources", i8042_put_sources, i8042_get_sources, i8042_commit_sources),
};
static const struct state_desc i8042_aux_desc = STATE_DESC(struct i8042, i8042_aux_fields, NULL);

void i8042_save(struct i8042 *k, struct state_writer *w)
{
    pthread_mutex_lock(&k->lock);
    state_save_section(w, "i8042", STATE_VERSION, &i8042_desc, k, NULL);
    if (k->has_aux) state_save_section(w, "i8042-aux", STATE_VERSION, &i8042_aux_desc, k, NULL);
    pthread_mutex_unlock(&k->lock);
}

int i8042_load(struct i8042 *k, struct state_reader *r)
{
    pthread_mutex_lock(&k->lock);
    int rc = state_load_section(r, "i8042", STATE_VERSION, &i8042_desc, k, NULL);
    if (rc == 0 && k->has_aux)
        rc = state_load_section(r, "i8042-aux", STATE_VERSION, &i8042_aux_desc, k, NULL);
    if (rc == 0 && state_committing(r)) {
        k->irq_level = -1;
        k->aux_level = -1;
        update_irq(k);
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}
