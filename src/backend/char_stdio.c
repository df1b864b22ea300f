/* char_stdio.c — the console on the process's stdin/stdout. On a terminal it switches to raw
 * mode (every key goes to the guest; the guest's own tty does echo and line editing) and makes
 * sure the terminal is restored on every way out: normal exit (atexit), terminating signals and
 * fatal signals (a handler restores, then re-raises with the default action so the exit status
 * still tells the truth). When stdin is not a terminal nothing is changed: pipes just work. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "backend/char.h"

static struct termios char_stdio_saved;
static volatile sig_atomic_t char_stdio_saved_valid;

void char_stdio_restore_terminal(void)
{
    if (char_stdio_saved_valid) {
        tcsetattr(STDIN_FILENO, TCSANOW, &char_stdio_saved);
        char_stdio_saved_valid = 0;
    }
}

static void char_stdio_signal(int sig)
{
    char_stdio_restore_terminal();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void char_stdio_install_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
                               SIGBUS, SIGFPE,  SIGILL, SIGABRT};
    static int installed;
    if (installed) return;
    installed = 1;
    atexit(char_stdio_restore_terminal);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = char_stdio_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

int char_stdio_open(struct chardev *c, char *err, size_t errlen)
{
    c->in_fd = STDIN_FILENO;
    c->out_fd = STDOUT_FILENO;
    c->owns_out = false;
    c->raw = false;
    if (!isatty(STDIN_FILENO)) return 0;
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) < 0) {
        snprintf(err, errlen, "console: cannot read terminal settings: %s", strerror(errno));
        return -1;
    }
    char_stdio_saved = t;
    char_stdio_saved_valid = 1;
    char_stdio_install_handlers();
    cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
        char_stdio_saved_valid = 0;
        snprintf(err, errlen, "console: cannot set raw mode: %s", strerror(errno));
        return -1;
    }
    c->raw = true;
    return 0;
}

void char_stdio_close(struct chardev *c)
{
    if (c->raw) char_stdio_restore_terminal();
    c->raw = false;
}
