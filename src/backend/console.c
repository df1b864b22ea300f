/* console.c — escape commands, buffering and panic watch between a chardev and the UART. The
 * escape filter works on any input (terminal or pipe), so scripted sessions can quit too; a
 * literal Ctrl-A is sent as Ctrl-A Ctrl-A. */
#include "backend/console.h"

#include <stdio.h>
#include <string.h>

static const char console_panic_banner[] = "Kernel panic - not syncing";

int console_open(struct console *c, const char *spec, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    return chardev_open(&c->dev, spec, err, errlen);
}

void console_close(struct console *c)
{
    console_flush(c);
    chardev_close(&c->dev);
}

int console_input_fd(const struct console *c)
{
    return c->dev.in_fd;
}

void console_put(struct console *c, uint8_t byte)
{
    /* The banner's first letter occurs nowhere else in it, so a mismatch restarts cleanly. */
    if ((char)byte == console_panic_banner[c->panic_match]) {
        if (++c->panic_match == sizeof(console_panic_banner) - 1) {
            c->panic_seen = true;
            c->panic_match = 0;
        }
    } else {
        c->panic_match = (char)byte == console_panic_banner[0];
    }
    c->out[c->out_len++] = byte;
    if (c->out_len == sizeof(c->out)) console_flush(c);
}

void console_flush(struct console *c)
{
    if (c->out_len) chardev_write(&c->dev, c->out, c->out_len);
    c->out_len = 0;
}

static void console_help(struct console *c)
{
    static const char help[] = "\r\nvessel console escapes:\r\n"
                               "  Ctrl-A x       quit vessel\r\n"
                               "  Ctrl-A h       this help\r\n"
                               "  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n";
    console_flush(c);
    chardev_write(&c->dev, help, sizeof(help) - 1);
}

size_t console_filter(struct console *c, const uint8_t *raw, size_t n)
{
    if (c->in_pos == c->in_len) c->in_pos = c->in_len = 0;
    size_t added = 0;
    for (size_t i = 0; i < n && c->in_len < sizeof(c->in); i++) {
        uint8_t b = raw[i];
        if (c->escape) {
            c->escape = false;
            if (b == 'x' || b == 'X') {
                c->quit = true;
            } else if (b == 'h' || b == 'H' || b == '?') {
                console_help(c);
            } else if (b == CONSOLE_ESCAPE) {
                c->in[c->in_len++] = b;
                added++;
            }
            /* Anything else after Ctrl-A is dropped, as in QEMU. */
            continue;
        }
        if (b == CONSOLE_ESCAPE) {
            c->escape = true;
            continue;
        }
        c->in[c->in_len++] = b;
        added++;
    }
    return added;
}

size_t console_pending(struct console *c, const uint8_t **p)
{
    if (c->in_pos == c->in_len && !c->quit) {
        /* Read no more than fits, so no host byte is ever lost. */
        uint8_t raw[CONSOLE_INBUF];
        size_t n = chardev_read(&c->dev, raw, sizeof(raw));
        console_filter(c, raw, n);
    }
    *p = c->in + c->in_pos;
    return c->in_len - c->in_pos;
}

void console_consume(struct console *c, size_t n)
{
    if (n > c->in_len - c->in_pos) n = c->in_len - c->in_pos;
    c->in_pos += n;
}
