/* main.c — the `vessel` command: parse the command line (src/vm/cli.c) and run the machine
 * (src/vm/vm.c), or `vessel api` (src/api/client.c) to talk to a running one. Usage errors and
 * unusable input files print one line on stderr and exit with status 2. */
#include <stdio.h>
#include <string.h>

#include "api/client.h"
#include "appliance/appliance.h"
#include "vm/cli.h"
#include "vm/vm.h"

#define VESSEL_VERSION "0.1.0"

int main(int argc, char **argv)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[512];
    if (argc >= 2 && !strcmp(argv[1], "api")) return api_client_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "migrate")) return api_client_migrate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "screenshot"))
        return api_client_screenshot(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "inspect")) return api_client_inspect(argc - 1, argv + 1);
    /* Appliances (docs/APPLIANCE.md): `vessel run` takes no other positional argument. */
    if (argc >= 2 && !strcmp(argv[1], "pack")) return appliance_pack_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "inspect-appliance"))
        return appliance_inspect_main(argc - 1, argv + 1);
    if (argc >= 3 && !strcmp(argv[1], "run") && argv[2][0] != '-')
        return appliance_run_main(argc - 1, argv + 1);
    if (cli_parse(argc, argv, &cmd, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    switch (cmd) {
    case CLI_HELP: cli_print_help(); return 0;
    case CLI_RUN_HELP: cli_print_run_help(); return 0;
    case CLI_VERSION: puts("vessel " VESSEL_VERSION); return 0;
    case CLI_RUN: break;
    }
    if (cli_check_files(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    return vm_main(&cfg);
}
