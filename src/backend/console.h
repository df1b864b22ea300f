/* console.h — the guest's serial console as the operator sees it: a character back-end plus the
 * Ctrl-A escape commands (x quit, h help, Ctrl-A literal), output buffering (the guest writes a
 * byte per UART access; the host gets one write per main-loop turn), and a watch for the
 * kernel's panic banner in the output. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/char.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */
#define CONSOLE_OUTBUF 4096
#define CONSOLE_INBUF  256

struct console {
    struct chardev dev;
    uint8_t out[CONSOLE_OUTBUF];
    size_t out_len;
    uint8_t in[CONSOLE_INBUF]; /* filtered input not yet taken by the guest */
    size_t in_pos, in_len;
    bool escape;     /* the previous input byte was Ctrl-A */
    bool quit;       /* the operator typed Ctrl-A x */
    bool panic_seen; /* "Kernel panic - not syncing" appeared in the output */
    unsigned panic_match;
};

int console_open(struct console *c, const char *spec, char *err, size_t errlen);
void console_close(struct console *c);
/* Descriptor to wait on for input, or -1. */
int console_input_fd(const struct console *c);
/* A byte from the guest (the UART's transmitter). */
void console_put(struct console *c, uint8_t byte);
void console_flush(struct console *c);
/* Bytes waiting for the guest (reads the back-end when the buffer is empty). Returns the count
 * and points *p at them; call console_consume with how many the guest took. */
size_t console_pending(struct console *c, const uint8_t **p);
void console_consume(struct console *c, size_t n);
/* Run raw host input through the escape filter into the pending buffer (console_pending calls
 * this; exposed for tests). Returns bytes appended. */
size_t console_filter(struct console *c, const uint8_t *raw, size_t n);
