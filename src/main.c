/* main.c — the `vessel` command: parse the command line (src/vm/cli.c) and run the machine
 * (src/vm/vm.c), or `vessel api` (src/api/client.c) to talk to a running one. Usage errors and
 * unusable input files print one line on stderr and exit with status 2. The confinement
 * options of `vessel run` (--sandbox, --jail*, --rate-limit: cli_confine.c) are taken out
 * first, and acted on here before the machine is built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client.h"
#include "appliance/appliance.h"
#include "backend/net.h"
#include "sandbox/sandbox.h"
#include "util/ratelimit.h"
#include "vm/cli.h"
#include "vm/cli_confine.h"
#include "vm/vm.h"

#define VESSEL_VERSION "0.1.0"

/* Into the jail (if asked): paths are then inside it. 0, or -1 with the message printed. */
static int main_jail(struct cli_confine *mc)
{
    char err[512];
    if (!mc->jail.dir || sandbox_jail_enter(&mc->jail, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "vessel: %s\n", err);
    return -1;
}

/* The sandbox for the machine about to be built (every thread confines itself once set up). */
static int main_sandbox(struct cli_confine *mc)
{
    char err[512];
    if (mc->sandbox) sandbox_close_inherited_fds();
    if (sandbox_setup(mc->sandbox, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "vessel: %s\n", err);
    return -1;
}

int main(int argc, char **argv)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[512];
    struct cli_confine mc = {.sandbox = false};
    if (argc >= 2 && !strcmp(argv[1], "run") &&
        cli_take_confine(&argc, argv, &mc, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    if (argc >= 2 && !strcmp(argv[1], "api")) return api_client_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "migrate")) return api_client_migrate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "screenshot"))
        return api_client_screenshot(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "inspect")) return api_client_inspect(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "netd")) return net_daemon_main(argc - 1, argv + 1);
    /* Appliances (docs/APPLIANCE.md): `vessel run` takes no other positional argument. */
    if (argc >= 2 && !strcmp(argv[1], "pack")) return appliance_pack_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "inspect-appliance"))
        return appliance_inspect_main(argc - 1, argv + 1);
    if (argc >= 3 && !strcmp(argv[1], "run") && argv[2][0] != '-')
        return main_jail(&mc) || main_sandbox(&mc) ? 1 : appliance_run_main(argc - 1, argv + 1);
    if (cli_parse(argc, argv, &cmd, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    switch (cmd) {
    case CLI_HELP: cli_print_help(); return 0;
    case CLI_RUN_HELP:
        cli_print_run_help();
        cli_print_confine_help();
        return 0;
    case CLI_VERSION: puts("vessel " VESSEL_VERSION); return 0;
    case CLI_RUN: break;
    }
    if (main_jail(&mc) < 0) return 1;
    if (cli_check_files(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    if (main_sandbox(&mc) < 0) return 1;
    int status = vm_main(&cfg);
    ratelimit_registry_clear();
    return status;
}
