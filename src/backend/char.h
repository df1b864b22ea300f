/* char.h — host character back-ends for a guest serial console: a byte stream in (optional)
 * and a byte stream out. "stdio" uses the process's stdin/stdout (the terminal in raw mode when
 * stdin is a tty, plain pipes otherwise); "file:PATH" writes output to PATH and has no input. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct chardev {
    int in_fd;     /* readable descriptor for poll(), or -1 (none, or EOF seen) */
    int out_fd;    /* where output goes, or -1 once it failed */
    bool owns_out; /* out_fd was opened by us (file:PATH) */
    bool raw;      /* the terminal was put in raw mode and must be restored */
};

/* Open the back-end named by spec. Returns 0, or -1 with a one-line reason in err. */
int chardev_open(struct chardev *c, const char *spec, char *err, size_t errlen);
void chardev_close(struct chardev *c);
/* Read what is available without blocking (poll first). Returns bytes read, 0 if nothing is
 * ready; on EOF or error the input is closed (in_fd becomes -1) and 0 is returned. */
size_t chardev_read(struct chardev *c, void *buf, size_t cap);
/* Write all of buf (blocking); output errors silently disable output. */
void chardev_write(struct chardev *c, const void *buf, size_t len);

/* Back-end constructors (char_stdio.c, char_file.c). */
int char_stdio_open(struct chardev *c, char *err, size_t errlen);
void char_stdio_close(struct chardev *c);
int char_file_open(struct chardev *c, const char *path, char *err, size_t errlen);

/* Put the terminal back the way it was (idempotent, async-signal-safe); the stdio back-end
 * registers it for normal exit and for fatal and terminating signals. */
void char_stdio_restore_terminal(void);
