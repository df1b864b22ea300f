/* cli_confine.h — `vessel run`'s confinement options, parsed before the rest (cli_confine.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

struct cli_confine {
    bool sandbox;             /* --sandbox on|off (default on) */
    struct sandbox_jail jail; /* --jail DIR and its --jail-* options; dir NULL: no jail */
};

/* Take --sandbox on|off, --jail DIR, --jail-uid N, --jail-gid N, --jail-netns,
 * --jail-cgroup cpu=QUOTA/PERIOD,memory=SIZE and --rate-limit SPEC out of argv (from argv[2]
 * on: run's options), leaving the rest for cli_parse. 0, or -1 with a message. */
int cli_take_confine(int *argc, char **argv, struct cli_confine *mc, char *err, size_t errlen);

/* The options' part of `vessel run --help`. */
void cli_print_confine_help(void);
