/* main.c — the `vessel` command: parse the command line (src/vm/cli.c) and run the machine
 * (src/vm/vm.c), or `vessel api` (src/api/client.c) to talk to a running one. Usage errors and
 * unusable input files print one line on stderr and exit with status 2. The confinement
 * options of `vessel run` (--sandbox, --jail*, --rate-limit) are taken out here, before
 * cli.c sees the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client.h"
#include "appliance/appliance.h"
#include "sandbox/sandbox.h"
#include "util/ratelimit.h"
#include "vm/cli.h"
#include "vm/vm.h"

#define VESSEL_VERSION "0.1.0"

struct main_confine {
    bool sandbox;
    struct sandbox_jail jail;
};

/* Take --sandbox on|off, --jail DIR, --jail-uid N, --jail-gid N, --jail-netns,
 * --jail-cgroup cpu=QUOTA/PERIOD,memory=SIZE and --rate-limit SPEC out of argv (run's
 * options only). */
static int main_take_confine(int *argc, char **argv, struct main_confine *mc, char *err,
                             size_t errlen)
{
    static char cpu[64], mem[64];
    *mc = (struct main_confine){.sandbox = true, .jail = {.uid = -1, .gid = -1}};
    int out = 2;
    for (int i = 2; i < *argc; i++) {
        const char *a = argv[i], *names[] = {"--sandbox",  "--jail",        "--jail-uid",
                                             "--jail-gid", "--jail-cgroup", "--rate-limit"};
        int k = -1;
        const char *v = NULL;
        for (int n = 0; n < 6 && k < 0; n++) {
            size_t l = strlen(names[n]);
            if (strncmp(a, names[n], l) || (a[l] && a[l] != '=')) continue;
            k = n;
            v = a[l] == '=' ? a + l + 1 : i + 1 < *argc ? argv[++i] : NULL;
        }
        if (!strcmp(a, "--jail-netns")) {
            mc->jail.netns = true;
            continue;
        }
        if (k < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (!v) return snprintf(err, errlen, "option %s needs a value", names[k]), -1;
        char *end;
        switch (k) {
        case 0:
            if (strcmp(v, "on") && strcmp(v, "off"))
                return snprintf(err, errlen, "--sandbox: '%s' is not on or off", v), -1;
            mc->sandbox = !strcmp(v, "on");
            break;
        case 1: mc->jail.dir = v; break;
        case 5:
            if (ratelimit_parse_option(v, err, errlen) < 0) return -1;
            break;
        case 2:
        case 3: {
            long id = strtol(v, &end, 10);
            if (!*v || *end || id < 0 || id > 0x7fffffff)
                return snprintf(err, errlen, "%s: '%s' is not a uid/gid", names[k], v), -1;
            *(k == 2 ? &mc->jail.uid : &mc->jail.gid) = id;
            break;
        }
        case 4:
            for (const char *o = v; *o;) {
                size_t n = strcspn(o, ",");
                if (n > 4 && !strncmp(o, "cpu=", 4) && n - 4 < sizeof(cpu)) {
                    /* QUOTA/PERIOD in microseconds, as cpu.max wants "QUOTA PERIOD" */
                    snprintf(cpu, sizeof(cpu), "%.*s", (int)(n - 4), o + 4);
                    char *slash = strchr(cpu, '/');
                    if (!slash) return snprintf(err, errlen, "--jail-cgroup: cpu=QUOTA/PERIOD"), -1;
                    *slash = ' ';
                    mc->jail.cpu_max = cpu;
                } else if (n > 7 && !strncmp(o, "memory=", 7) && n - 7 < sizeof(mem)) {
                    snprintf(mem, sizeof(mem), "%.*s", (int)(n - 7), o + 7);
                    mc->jail.mem_max = mem;
                } else {
                    return snprintf(err, errlen,
                                    "--jail-cgroup: '%.*s' is not cpu=QUOTA/PERIOD or "
                                    "memory=SIZE",
                                    (int)n, o),
                           -1;
                }
                o += n + (o[n] == ',');
            }
            break;
        }
    }
    argv[out] = NULL;
    *argc = out;
    if ((mc->jail.netns || mc->jail.uid >= 0 || mc->jail.gid >= 0 || mc->jail.cpu_max ||
         mc->jail.mem_max) &&
        !mc->jail.dir)
        return snprintf(err, errlen, "--jail-uid/-gid/-netns/-cgroup need --jail DIR"), -1;
    return 0;
}

/* Into the jail (if asked): paths are then inside it. 0, or -1 with the message printed. */
static int main_jail(struct main_confine *mc)
{
    char err[512];
    if (!mc->jail.dir || sandbox_jail_enter(&mc->jail, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "vessel: %s\n", err);
    return -1;
}

/* The sandbox for the machine about to be built (every thread confines itself once set up). */
static int main_sandbox(struct main_confine *mc)
{
    char err[512];
    if (mc->sandbox) sandbox_close_inherited_fds();
    if (sandbox_setup(mc->sandbox, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "vessel: %s\n", err);
    return -1;
}

static void main_print_confine_help(void)
{
    fputs("\nconfinement (docs/SANDBOX.md):\n"
          "  --sandbox on|off     run every thread under its seccomp allow-list, without\n"
          "                       capabilities (default on; off is for debugging only)\n"
          "  --jail DIR           run in new mount/PID/IPC/UTS namespaces with DIR as / and\n"
          "                       an unprivileged uid (paths are then inside DIR)\n"
          "  --jail-uid N, --jail-gid N\n"
          "                       who runs in the jail when started as root (default 65534)\n"
          "  --jail-netns         a network namespace of its own as well\n"
          "  --jail-cgroup cpu=QUOTA/PERIOD,memory=SIZE\n"
          "                       a cgroup v2 group with these cpu.max/memory.max limits\n"
          "  --rate-limit drive:ID|net-rx|net-tx,bw=SIZE,ops=N[,refill=MS][,bw-burst=SIZE]\n"
          "               [,ops-burst=N]\n"
          "                       token buckets (Firecracker's): at most bw bytes and ops\n"
          "                       requests or packets per refill period (default 1000 ms)\n"
          "                       for a disk (by its id=) or one direction of the NIC\n",
          stdout);
}

int main(int argc, char **argv)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[512];
    struct main_confine mc = {.sandbox = false};
    if (argc >= 2 && !strcmp(argv[1], "run") &&
        main_take_confine(&argc, argv, &mc, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
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
        return main_jail(&mc) || main_sandbox(&mc) ? 1 : appliance_run_main(argc - 1, argv + 1);
    if (cli_parse(argc, argv, &cmd, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return CLI_USAGE_EXIT;
    }
    switch (cmd) {
    case CLI_HELP: cli_print_help(); return 0;
    case CLI_RUN_HELP:
        cli_print_run_help();
        main_print_confine_help();
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
