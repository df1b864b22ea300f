/* acpi_pm.h — the hardware-reduced ACPI power-management registers (ACPI 6.x 4.8.3.7): the
 * sleep control and sleep status registers and the reset register, one byte each in a small
 * I/O port range, described to the guest by the FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and
 * RESET_REG. Writing SLP_EN with SLP_TYP = ACPI_PM_SLP_TYP_S5 (the \_S5 value in the DSDT)
 * powers off; writing ACPI_PM_RESET_VALUE to the reset register resets. The board supplies
 * both actions as callbacks. */
#pragma once
#include <stdint.h>

struct bus;
struct state_writer;
struct state_reader;

#define ACPI_PM_PORT_BASE   0x600
#define ACPI_PM_PORT_LEN    4
#define ACPI_PM_SLEEP_CTL   0 /* offsets in the range */
#define ACPI_PM_SLEEP_STS   1
#define ACPI_PM_RESET       2
#define ACPI_PM_RESET_VALUE 0x0F

#define ACPI_PM_SLP_TYP_SHIFT 2 /* SLP_TYPx in bits 4:2 */
#define ACPI_PM_SLP_TYP_MASK  0x1C
#define ACPI_PM_SLP_EN        0x20
#define ACPI_PM_WAK_STS       0x80
#define ACPI_PM_SLP_TYP_S5    5

struct acpi_pm {
    void (*poweroff)(void *opaque);
    void (*reset)(void *opaque);
    void *opaque;
    uint8_t sleep_ctl; /* last value written (reads back, SLP_EN reads as 0) */
    uint8_t sleep_sts; /* WAK_STS, write-1-to-clear */
};

void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *), void (*reset)(void *),
                  void *opaque);
/* Register the ports at `base` (ACPI_PM_PORT_BASE). 0 or -1. */
int acpi_pm_attach(struct acpi_pm *pm, struct bus *bus, uint16_t base);
/* Section "acpi_pm". */
void acpi_pm_save(const struct acpi_pm *pm, struct state_writer *w);
int acpi_pm_load(struct acpi_pm *pm, struct state_reader *r);
