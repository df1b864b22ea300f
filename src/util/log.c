/* log.c — levelled messages to stderr. When the console owns the terminal in raw mode a bare
 * "\n" would not return the carriage, so every line ends in "\r\n" when stderr is a tty. */
#include "vessel/log.h"

#include <stdio.h>
#include <unistd.h>

enum log_level log_threshold = LOG_WARN;

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (level > log_threshold) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vessel: %s: ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputs(isatty(STDERR_FILENO) ? "\r\n" : "\n", stderr);
    va_end(ap);
}

int error_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
