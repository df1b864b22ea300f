/* i8259.c — the cascaded 8259A pair of i8259.h. One struct per chip; the slave's output is the
 * master's input 2. Priorities are relative to `priority_add`, the lowest-priority IRQ + 1 after
 * a rotation (0 at reset: IRQ 0 highest). */
#include "hw/i8259.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define I8259_STATE_VERSION 1

struct pic_chip {
    uint8_t irr, imr, isr;
    uint8_t lines; /* input levels, for edge detection */
    uint8_t elcr, elcr_mask;
    uint8_t priority_add; /* the highest-priority IRQ */
    uint8_t irq_base;     /* ICW2: vector of IRQ 0 */
    uint8_t init_state;   /* 0 ready; 1, 2, 3: expecting ICW2, ICW3, ICW4 */
    bool read_isr;        /* OCW3: command-port reads give ISR (else IRR) */
    bool poll, special_mask, auto_eoi, rotate_on_auto_eoi, fully_nested, init4, single;
};

struct i8259 {
    struct i8259_config cfg;
    pthread_mutex_t lock; /* lines are set from device threads too */
    struct pic_chip chip[2];
    bool intr;
};

/* Highest-priority set bit of mask relative to priority_add: 0 (highest) .. 7, 8 if none. */
static unsigned pic_priority(const struct pic_chip *c, uint8_t mask)
{
    if (!mask) return 8;
    unsigned p = 0;
    while (!(mask & (1u << ((p + c->priority_add) & 7))))
        p++;
    return p;
}

/* The IRQ this chip would raise now, or -1. */
static int pic_chip_irq(const struct pic_chip *c, bool master)
{
    unsigned p = pic_priority(c, c->irr & ~c->imr);
    if (p == 8) return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask) in_service &= ~c->imr;
    /* fully nested: the slave's line may interrupt its own service in progress */
    if (c->fully_nested && master) in_service &= ~(1u << 2);
    return p < pic_priority(c, in_service) ? (int)((p + c->priority_add) & 7) : -1;
}

static void pic_set_input(struct pic_chip *c, unsigned irq, int level)
{
    uint8_t m = (uint8_t)(1u << irq);
    if (c->elcr & m) {
        c->irr = level ? c->irr | m : c->irr & ~m;
    } else if (level && !(c->lines & m)) {
        c->irr |= m;
    }
    c->lines = level ? c->lines | m : c->lines & ~m;
}

/* Recompute the cascade and INTR; call the output callback on a change. Under the lock; the
 * callback is made after it is dropped (*changed). */
static void pic_update(struct i8259 *p, bool *changed)
{
    pic_set_input(&p->chip[0], 2, pic_chip_irq(&p->chip[1], false) >= 0);
    bool intr = pic_chip_irq(&p->chip[0], true) >= 0;
    if (intr != p->intr) {
        p->intr = intr;
        *changed = true;
    }
}

static void pic_unlock_notify(struct i8259 *p, bool changed)
{
    bool level = p->intr;
    pthread_mutex_unlock(&p->lock);
    if (changed && p->cfg.intr) p->cfg.intr(p->cfg.opaque, level);
}

static void pic_line_set(void *opaque, unsigned irq, int level)
{
    struct i8259 *p = opaque;
    if (irq >= 16) return;
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    pic_set_input(&p->chip[irq >> 3], irq & 7, level);
    pic_update(p, &changed);
    pic_unlock_notify(p, changed);
}

struct irq_line i8259_irq_line(struct i8259 *p, unsigned irq)
{
    return (struct irq_line){.set_level = pic_line_set, .opaque = p, .pin = irq};
}

bool i8259_intr(const struct i8259 *p)
{
    return __atomic_load_n(&p->intr, __ATOMIC_ACQUIRE);
}

static void pic_ack(struct pic_chip *c, int irq)
{
    uint8_t m = (uint8_t)(1u << irq);
    if (c->auto_eoi) {
        if (c->rotate_on_auto_eoi) c->priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= m;
    }
    if (!(c->elcr & m)) c->irr &= ~m; /* an edge is consumed; a level stays while held */
}

int i8259_vector(struct i8259 *p)
{
    pthread_mutex_lock(&p->lock);
    int irq = pic_chip_irq(&p->chip[0], true), vector = -1;
    if (irq == 2) {
        int irq2 = pic_chip_irq(&p->chip[1], false);
        vector = p->chip[1].irq_base + (irq2 >= 0 ? irq2 : 7);
    } else if (irq >= 0) {
        vector = p->chip[0].irq_base + irq;
    }
    pthread_mutex_unlock(&p->lock);
    return vector;
}

uint8_t i8259_intack(struct i8259 *p)
{
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int irq = pic_chip_irq(m, true);
    uint8_t vector;
    if (irq < 0) {
        vector = (uint8_t)(m->irq_base + 7); /* the request went away: spurious IRQ 7 */
    } else {
        pic_ack(m, irq);
        if (irq == 2) {
            int irq2 = pic_chip_irq(s, false);
            if (irq2 >= 0)
                pic_ack(s, irq2);
            else
                irq2 = 7; /* spurious IRQ 15 */
            vector = (uint8_t)(s->irq_base + irq2);
        } else {
            vector = (uint8_t)(m->irq_base + irq);
        }
    }
    pic_update(p, &changed);
    pic_unlock_notify(p, changed);
    return vector;
}

static void pic_init_reset(struct pic_chip *c)
{
    uint8_t elcr = c->elcr, elcr_mask = c->elcr_mask;
    memset(c, 0, sizeof(*c));
    c->elcr = elcr;
    c->elcr_mask = elcr_mask;
}

static void pic_command(struct pic_chip *c, uint8_t v)
{
    if (v & 0x10) { /* ICW1 */
        pic_init_reset(c);
        c->init_state = 1;
        c->init4 = v & 1;
        c->single = (v >> 1) & 1;
        /* LTIM (level mode for all inputs) is the ELCR's job on a PC: ignored, as PIIX does */
        return;
    }
    if (v & 0x08) { /* OCW3 */
        if (v & 0x04) c->poll = true;
        if (v & 0x02) c->read_isr = v & 1;
        if (v & 0x40) c->special_mask = (v >> 5) & 1;
        return;
    }
    unsigned cmd = v >> 5; /* OCW2 */
    switch (cmd) {
    case 0:
    case 4: c->rotate_on_auto_eoi = cmd >> 2; break;
    case 1: /* non-specific EOI */
    case 5: {
        unsigned pr = pic_priority(c, c->isr);
        if (pr == 8) break;
        unsigned irq = (pr + c->priority_add) & 7;
        c->isr &= (uint8_t) ~(1u << irq);
        if (cmd == 5) c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    }
    case 3: c->isr &= (uint8_t) ~(1u << (v & 7)); break;
    case 6: c->priority_add = (uint8_t)((v + 1) & 7); break;
    case 7:
        c->isr &= (uint8_t) ~(1u << (v & 7));
        c->priority_add = (uint8_t)(((v & 7) + 1) & 7);
        break;
    default: break; /* 2: no operation */
    }
}

static void pic_data(struct pic_chip *c, uint8_t v)
{
    switch (c->init_state) {
    case 0: c->imr = v; break; /* OCW1 */
    case 1:                    /* ICW2 */
        c->irq_base = v & 0xf8;
        c->init_state = c->single ? (c->init4 ? 3 : 0) : 2;
        break;
    case 2: c->init_state = c->init4 ? 3 : 0; break; /* ICW3: the cascade is fixed on a PC */
    default:                                         /* ICW4 */
        c->fully_nested = (v >> 4) & 1;
        c->auto_eoi = (v >> 1) & 1;
        c->init_state = 0;
        break;
    }
}

/* Poll mode: the read is the acknowledge; bit 7 says whether there was a request. */
static uint8_t pic_poll(struct i8259 *p, unsigned which)
{
    struct pic_chip *c = &p->chip[which];
    c->poll = false;
    int irq = pic_chip_irq(c, which == 0);
    if (irq < 0) return 0;
    pic_ack(c, irq);
    if (which == 1) p->chip[0].isr &= (uint8_t) ~(1u << 2); /* as the slave's own INTA ends it */
    return (uint8_t)(0x80 | irq);
}

static uint64_t pic_read(void *opaque, uint64_t offset, unsigned size, unsigned which)
{
    struct i8259 *p = opaque;
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    struct pic_chip *c = &p->chip[which];
    uint8_t v;
    if (offset & 1)
        v = c->imr;
    else if (c->poll)
        v = pic_poll(p, which);
    else
        v = c->read_isr ? c->isr : c->irr;
    pic_update(p, &changed);
    pic_unlock_notify(p, changed);
    return v;
}

static void pic_write(void *opaque, uint64_t offset, uint64_t value, unsigned which)
{
    struct i8259 *p = opaque;
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    struct pic_chip *c = &p->chip[which];
    if (offset & 1)
        pic_data(c, (uint8_t)value);
    else
        pic_command(c, (uint8_t)value);
    pic_update(p, &changed);
    pic_unlock_notify(p, changed);
}

static uint64_t pic_master_read(void *o, uint64_t off, unsigned size)
{
    return pic_read(o, off, size, 0);
}
static void pic_master_write(void *o, uint64_t off, uint64_t v, unsigned size)
{
    pic_write(o, off, v, 0);
}
static uint64_t pic_slave_read(void *o, uint64_t off, unsigned size)
{
    return pic_read(o, off, size, 1);
}
static void pic_slave_write(void *o, uint64_t off, uint64_t v, unsigned size)
{
    pic_write(o, off, v, 1);
}
static uint64_t pic_elcr_read(void *o, uint64_t off, unsigned size)
{
    struct i8259 *p = o;
    pthread_mutex_lock(&p->lock);
    uint64_t v = 0;
    for (unsigned k = 0; k < size && off + k < 2; k++)
        v |= (uint64_t)p->chip[off + k].elcr << (8 * k);
    pthread_mutex_unlock(&p->lock);
    return v;
}
static void pic_elcr_write(void *o, uint64_t off, uint64_t v, unsigned size)
{
    struct i8259 *p = o;
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    for (unsigned k = 0; k < size && off + k < 2; k++) {
        struct pic_chip *c = &p->chip[off + k];
        c->elcr = (uint8_t)(v >> (8 * k)) & c->elcr_mask;
    }
    pic_update(p, &changed);
    pic_unlock_notify(p, changed);
}

static const struct io_ops pic_master_ops = {.read = pic_master_read, .write = pic_master_write};
static const struct io_ops pic_slave_ops = {.read = pic_slave_read, .write = pic_slave_write};
static const struct io_ops pic_elcr_ops = {.read = pic_elcr_read, .write = pic_elcr_write};

struct i8259 *i8259_create(struct bus *bus, const struct i8259_config *cfg)
{
    struct i8259 *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    if (cfg) p->cfg = *cfg;
    pthread_mutex_init(&p->lock, NULL);
    /* IRQs 0, 1, 2 (master) and 8, 13 (slave) are edge-only on PIIX */
    p->chip[0].elcr_mask = 0xf8;
    p->chip[1].elcr_mask = 0xde;
    if (bus_add_pio(bus, I8259_MASTER_PORT, 2, &pic_master_ops, p, "pic-master") < 0 ||
        bus_add_pio(bus, I8259_SLAVE_PORT, 2, &pic_slave_ops, p, "pic-slave") < 0 ||
        bus_add_pio(bus, I8259_ELCR_PORT, 2, &pic_elcr_ops, p, "elcr") < 0) {
        log_error("i8259: its ports are taken");
        i8259_destroy(p);
        return NULL;
    }
    return p;
}

void i8259_destroy(struct i8259 *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const char *pic_check(const void *tmp, const void *live, void *ctx)
{
    (void)live;
    (void)ctx;
    const struct i8259 *t = tmp;
    for (unsigned k = 0; k < 2; k++)
        if (t->chip[k].priority_add > 7 || t->chip[k].init_state > 3 || (t->chip[k].irq_base & 7))
            return "chip registers out of range";
    return NULL;
}

#define PIC_CHIP_FIELDS(n)                                                                         \
    STATE_U8(struct i8259, chip[n].irr), STATE_U8(struct i8259, chip[n].imr),                      \
        STATE_U8(struct i8259, chip[n].isr), STATE_U8(struct i8259, chip[n].lines),                \
        STATE_U8(struct i8259, chip[n].elcr), STATE_U8(struct i8259, chip[n].priority_add),        \
        STATE_U8(struct i8259, chip[n].irq_base), STATE_U8(struct i8259, chip[n].init_state),      \
        STATE_BOOL(struct i8259, chip[n].read_isr), STATE_BOOL(struct i8259, chip[n].poll),        \
        STATE_BOOL(struct i8259, chip[n].special_mask),                                            \
        STATE_BOOL(struct i8259, chip[n].auto_eoi),                                                \
        STATE_BOOL(struct i8259, chip[n].rotate_on_auto_eoi),                                      \
        STATE_BOOL(struct i8259, chip[n].fully_nested), STATE_BOOL(struct i8259, chip[n].init4),   \
        STATE_BOOL(struct i8259, chip[n].single)

/* Section "i8259": per chip (master, slave) u8 IRR, IMR, ISR, line levels, ELCR, priority
 * base, vector base, initialization step, then flags read-ISR, poll, special mask, auto-EOI,
 * rotate on auto-EOI, special fully nested, ICW4 expected, single. INTR is derived. */
static const struct state_field pic_fields[] = {PIC_CHIP_FIELDS(0), PIC_CHIP_FIELDS(1)};
static const struct state_desc pic_desc = STATE_DESC(struct i8259, pic_fields, pic_check);

void i8259_save(const struct i8259 *p, struct state_writer *w)
{
    state_save_section(w, "i8259", I8259_STATE_VERSION, &pic_desc, p, NULL);
}

int i8259_load(struct i8259 *p, struct state_reader *r)
{
    pthread_mutex_lock(&p->lock);
    int rc = state_load_section(r, "i8259", I8259_STATE_VERSION, &pic_desc, p, NULL);
    bool changed = false;
    if (rc == 0) {
        p->chip[0].elcr &= p->chip[0].elcr_mask;
        p->chip[1].elcr &= p->chip[1].elcr_mask;
        pic_update(p, &changed);
    }
    pic_unlock_notify(p, changed);
    return rc;
}
