/* appliance.h — the `vessel pack`, `vessel run APP.vessel` and `vessel inspect-appliance`
 * commands: a whole VM (kernel, initrd, qcow2 disks, machine configuration, optionally a
 * snapshot taken after boot) as one verifiable file (docs/APPLIANCE.md). main.c hands these
 * commands their argv and returns what they return (0, or 2 for usage errors and bad files). */
#pragma once
#include <stdbool.h>

/* argv[0] is "pack". */
int appliance_pack_main(int argc, char **argv);
/* argv[0] is "run", argv[1] the appliance file, the rest `vessel run` overrides. */
int appliance_run_main(int argc, char **argv);
/* argv[0] is "inspect-appliance". */
int appliance_inspect_main(int argc, char **argv);
/* Whether `path` names an appliance file (by its magic); false for anything unreadable. */
bool appliance_is_file(const char *path);
