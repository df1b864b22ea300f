/* debugcon.h — QEMU's ISA debug console: one write-only port (0x402 on a PC, where SeaBIOS
 * prints its debug log when built with CONFIG_DEBUG_IO) whose bytes go to a host file. Reading
 * the port returns 0xE9, the value SeaBIOS checks to know the port is there. */
#pragma once
#include <stdint.h>
#include <stdio.h>

struct bus;

#define DEBUGCON_PORT     0x402
#define DEBUGCON_READBACK 0xe9

struct debugcon;

/* Bytes written to `port` are appended to `out` (owned by the caller, flushed per line). */
struct debugcon *debugcon_create(struct bus *bus, uint16_t port, FILE *out);
void debugcon_destroy(struct debugcon *d);
