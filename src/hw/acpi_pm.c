/* acpi_pm.c — the hardware-reduced ACPI sleep/reset registers of acpi_pm.h. Linux powers off by
 * writing SLP_TYP(\_S5) | SLP_EN to the sleep control register and reboots by writing the FADT's
 * reset value to the reset register; anything else the guest writes is remembered or ignored. */
#include "hw/acpi_pm.h"

#include <string.h>

#include "vessel/bus.h"
#include "vessel/log.h"
#include "vessel/state.h"

#define ACPI_PM_STATE_VERSION 1

void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *), void (*reset)(void *), void *opaque)
{
    memset(pm, 0, sizeof(*pm));
    pm->poweroff = poweroff;
    pm->reset = reset;
    pm->opaque = opaque;
}

static uint64_t acpi_pm_read(void *opaque, uint64_t offset, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint8_t regs[ACPI_PM_PORT_LEN] = {
        [ACPI_PM_SLEEP_CTL] = pm->sleep_ctl, [ACPI_PM_SLEEP_STS] = pm->sleep_sts};
    uint64_t v = 0;
    for (unsigned k = 0; k < size && offset + k < ACPI_PM_PORT_LEN; k++)
        v |= (uint64_t)regs[offset + k] << (8 * k);
    return v;
}

static void acpi_pm_write_byte(struct acpi_pm *pm, uint64_t reg, uint8_t v)
{
    switch (reg) {
    case ACPI_PM_SLEEP_CTL:
        pm->sleep_ctl = v & (uint8_t)~ACPI_PM_SLP_EN; /* SLP_EN is write-only */
        if ((v & ACPI_PM_SLP_EN) &&
            ((v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT) == ACPI_PM_SLP_TYP_S5) {
            if (pm->poweroff) pm->poweroff(pm->opaque);
        } else if (v & ACPI_PM_SLP_EN) {
            log_debug("acpi_pm: sleep type %u not supported, ignored",
                      (v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT);
        }
        break;
    case ACPI_PM_SLEEP_STS:
        pm->sleep_sts &= (uint8_t) ~(v & ACPI_PM_WAK_STS); /* write 1 to clear */
        break;
    case ACPI_PM_RESET:
        if (v == ACPI_PM_RESET_VALUE && pm->reset) pm->reset(pm->opaque);
        break;
    default: break;
    }
}

static void acpi_pm_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    for (unsigned k = 0; k < size && offset + k < ACPI_PM_PORT_LEN; k++)
        acpi_pm_write_byte(opaque, offset + k, (uint8_t)(value >> (8 * k)));
}

static const struct io_ops acpi_pm_ops = {acpi_pm_read, acpi_pm_write};

int acpi_pm_attach(struct acpi_pm *pm, struct bus *bus, uint16_t base)
{
    return bus_add_pio(bus, base, ACPI_PM_PORT_LEN, &acpi_pm_ops, pm, "acpi_pm");
}

/* Section "acpi_pm": u8 sleep control, u8 sleep status. */
static const struct state_field acpi_pm_fields[] = {
    STATE_U8(struct acpi_pm, sleep_ctl),
    STATE_U8(struct acpi_pm, sleep_sts),
};
static const struct state_desc acpi_pm_desc = STATE_DESC(struct acpi_pm, acpi_pm_fields, NULL);

void acpi_pm_save(const struct acpi_pm *pm, struct state_writer *w)
{
    state_save_section(w, "acpi_pm", ACPI_PM_STATE_VERSION, &acpi_pm_desc, pm, NULL);
}

int acpi_pm_load(struct acpi_pm *pm, struct state_reader *r)
{
    return state_load_section(r, "acpi_pm", ACPI_PM_STATE_VERSION, &acpi_pm_desc, pm, NULL);
}
