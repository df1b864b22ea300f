/* char_file.c — console output to a file (--console file:PATH): truncated at start, written as
 * the guest produces it, no input (the guest sees a silent line). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "backend/char.h"

int char_file_open(struct chardev *c, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "--console: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    c->in_fd = -1;
    c->out_fd = fd;
    c->owns_out = true;
    c->raw = false;
    return 0;
}
