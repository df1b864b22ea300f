/* cli.h — the `vessel` command line as data: parse argv into a vm_config or a one-line usage
 * error. Kept apart from main.c so the parser is unit-tested without starting a machine. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

#define CLI_USAGE_EXIT 2 /* exit status for usage errors and bad host-side input */

enum cli_command { CLI_HELP, CLI_VERSION, CLI_RUN, CLI_RUN_HELP };

/* Parse a size: plain bytes or a K/M/G/T suffix (binary multiples, case-insensitive, an
 * optional trailing "B" or "iB"). Returns false for empty, junk, zero or overflow. */
bool cli_parse_size(const char *s, uint64_t *out);

/* Parse argv (argv[0] is the program). On success returns 0 and fills *cmd (and *cfg for
 * CLI_RUN, with defaults applied); on a usage error returns -1 with a one-line message in err.
 * String fields of cfg point into argv or static storage. */
int cli_parse(int argc, char **argv, enum cli_command *cmd, struct vm_config *cfg, char *err,
              size_t errlen);

/* Check that the kernel and initrd named in cfg are readable regular files, before anything is
 * built. 0, or -1 with a one-line message (for the default guest: how to build it). */
int cli_check_files(const struct vm_config *cfg, char *err, size_t errlen);

void cli_print_help(void);
void cli_print_run_help(void);
