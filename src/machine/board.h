/* board.h — the vessel PC's one description: where every device sits (I/O ports, MMIO ranges)
 * and which IOAPIC input (GSI) it drives. pc.c wires the devices from these numbers and acpi.c
 * announces the same ones (MADT, DSDT _CRS and _PRT, FADT registers), so the firmware tables
 * cannot disagree with the wiring. A device's conventional location lives in its own header
 * (src/hw/); the board picks it here, and nothing else spells the number again.
 *
 * Interrupts: ISA IRQs are identity-mapped to GSIs except IRQ0 (the PIT), which the MADT's
 * interrupt source override sends to GSI 2. PCI host INTx line L is GSI PC_PCI_GSI + L
 * (level, active low). */
#pragma once

#include "hw/acpi_pm.h"
#include "hw/fw_cfg.h"
#include "hw/i8042.h"
#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pci.h"
#include "hw/pit.h"
#include "hw/pvpanic.h"
#include "hw/rtc.h"
#include "hw/uart8250.h"

/* Interrupt controllers (MMIO). */
#define PC_LAPIC_BASE  LAPIC_BASE
#define PC_IOAPIC_BASE IOAPIC_BASE
#define PC_IOAPIC_ID   1

/* With several CPUs: the ACPI multiprocessor wakeup mailbox (one MMIO page between the IOAPIC
 * and the LAPIC, where a PC's HPET would be; this board has none), and the firmware's identity
 * map (PML4, then a PDPT of 1 GiB pages covering 512 GiB) and GDT (null, 64-bit code 0x08, data
 * 0x10) that an AP it wakes starts on, in the reserved BIOS area above the ACPI tables. */
#define PC_MPWAKE_BASE     0xFED00000ull
#define PC_MPWAKE_PML4     0xF0000ull
#define PC_MPWAKE_PDPT     0xF1000ull
#define PC_MPWAKE_GDT      0xF2000ull
#define PC_MPWAKE_SEL_CODE 0x08
#define PC_MPWAKE_SEL_DATA 0x10

/* COM1: 8 ports, ISA IRQ 4. */
#define PC_COM1_PORT  UART8250_COM1_BASE
#define PC_COM1_NPORT 8
#define PC_COM1_IRQ   UART8250_COM1_IRQ
#define PC_COM1_GSI   PC_COM1_IRQ

/* PIT: ISA IRQ 0, overridden to GSI 2. */
#define PC_PIT_IRQ 0
#define PC_PIT_GSI 2

/* RTC/CMOS: index and data ports, ISA IRQ 8. */
#define PC_RTC_PORT  RTC_BASE
#define PC_RTC_NPORT 2
#define PC_RTC_IRQ   8
#define PC_RTC_GSI   PC_RTC_IRQ

/* i8042 keyboard controller: data and status/command ports, ISA IRQ 1 (no AUX). */
#define PC_KBD_DATA_PORT   I8042_DATA_PORT
#define PC_KBD_STATUS_PORT I8042_STATUS_PORT
#define PC_KBD_IRQ         1
#define PC_KBD_GSI         PC_KBD_IRQ

/* The i8042's AUX port (a PS/2 mouse), only with a display: ISA IRQ 12. */
#define PC_AUX_IRQ 12
#define PC_AUX_GSI PC_AUX_IRQ

/* fw_cfg: selector, data and DMA address ports, no interrupt. */
#define PC_FW_CFG_PORT  FW_CFG_PORT
#define PC_FW_CFG_NPORT FW_CFG_NPORT

/* pvpanic: one port, no interrupt. */
#define PC_PVPANIC_PORT PVPANIC_PORT

/* ACPI hardware-reduced power registers (sleep control/status, reset). */
#define PC_PM_PORT ACPI_PM_PORT_BASE

/* PCI: configuration mechanism #1, the 32-bit MMIO window, INTx lines on GSIs 16..19. */
#define PC_PCI_CONFIG_PORT PCI_CONFIG_ADDRESS_PORT
#define PC_PCI_MMIO_BASE   PCI_MMIO_WINDOW_BASE
#define PC_PCI_MMIO_END    PCI_MMIO_WINDOW_END
#define PC_PCI_GSI         16
