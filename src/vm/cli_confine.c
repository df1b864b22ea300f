/* cli_confine.c — the confinement options of `vessel run` (docs/SANDBOX.md): --sandbox, the
 * --jail family and --rate-limit. They are taken out of argv before cli.c parses the rest,
 * because they act before the machine exists (the jail is entered first, and a jailed
 * process sees only the jail's paths). */
#include "vm/cli_confine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ratelimit.h"

int cli_take_confine(int *argc, char **argv, struct cli_confine *mc, char *err, size_t errlen)
{
    static char cpu[64], mem[64];
    *mc = (struct cli_confine){.sandbox = true, .jail = {.uid = -1, .gid = -1}};
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

void cli_print_confine_help(void)
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
