/* cli.c — parsing of the `vessel` command line. Every mistake becomes one line naming the
 * problem (the caller prints it and exits with status 2), never a crash or a half-started VM.
 * The default guest lives in ${VESSEL_CACHE:-$HOME/.cache/vessel}/guest/, as built by
 * scripts/build-guest.sh. */
#include "vm/cli.h"

#include "backend/disk.h"
#include "backend/display.h"
#include "backend/net.h"
#include "introspect/integrity.h"
#include "machine/pc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool cli_default_guest;
static char cli_kernel_buf[4096], cli_initrd_buf[4096], cli_cmdline_buf[8192];
static char cli_display_cmdline[8192 + sizeof(VM_CMDLINE_DISPLAY)];

bool cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s)) return false;
    uint64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (toupper((unsigned char)*p)) {
    case 0: break;
    case 'K':
        shift = 10;
        p++;
        break;
    case 'M':
        shift = 20;
        p++;
        break;
    case 'G':
        shift = 30;
        p++;
        break;
    case 'T':
        shift = 40;
        p++;
        break;
    default: return false;
    }
    if (shift) {
        /* Accept "M", "MB", "MiB". */
        if (*p == 'i' || *p == 'I') p++;
        if (*p == 'b' || *p == 'B') p++;
    }
    if (*p) return false;
    if (shift && v > (UINT64_MAX >> shift)) return false;
    v <<= shift;
    if (v == 0) return false;
    *out = v;
    return true;
}

static int cli_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The value of option `name`: either "--name=value" in arg, or the next argv element. */
static const char *cli_value(const char *name, int argc, char **argv, int *i, bool *ok)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *ok = false;
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') {
        *ok = true;
        return a + n + 1;
    }
    if (a[n] != 0) return NULL;
    *ok = true;
    if (*i + 1 >= argc) return NULL; /* matched, but the value is missing */
    return argv[++*i];
}

static const char *cli_cache_dir(char *buf, size_t len)
{
    const char *c = getenv("VESSEL_CACHE");
    if (c && *c) {
        snprintf(buf, len, "%s", c);
        return buf;
    }
    const char *home = getenv("HOME");
    snprintf(buf, len, "%s/.cache/vessel", home && *home ? home : ".");
    return buf;
}

enum cli_opt {
    OPT_KERNEL,
    OPT_INITRD,
    OPT_APPEND,
    OPT_MEMORY,
    OPT_CPUS,
    OPT_CONSOLE,
    OPT_REBOOT,
    OPT_DISK,
    OPT_NET,
    OPT_RNG,
    OPT_MAC,
    OPT_CONSOLE_DEVICE,
    OPT_MEMORY_FILE,
    OPT_BALLOON,
    OPT_SHARE,
    OPT_DISPLAY,
    OPT_RESOLUTION,
    OPT_SCREENSHOT,
    OPT_DISPLAY_DEVICE,
    OPT_API_SOCK,
    OPT_RESTORE,
    OPT_RESTORE_MEM,
    OPT_INCOMING,
    OPT_ENGINE,
    OPT_JIT_CACHE,
    OPT_CPU,
    OPT_INTEGRITY_WATCH,
    OPT_FW_CFG,
    OPT_FIRMWARE_LOG,
};
static const char *const cli_opt_names[] = {
    "--kernel", "--initrd", "--append", "--memory", "--cpus", "--console", "--reboot", "--disk",
    "--net", "--rng", "--mac", "--console-device", "--memory-file", "--balloon", "--share",
    /* the display */
    "--display", "--resolution", "--screenshot-on-exit", "--display-device",
    /* the control API, snapshots and migration */
    "--api-sock", "--restore", "--restore-mem", "--incoming",
    /* the engine */
    "--engine", "--jit-cache", "--cpu",
    /* introspection */
    "--integrity-watch",
    /* the guest's firmware configuration */
    "--fw-cfg", "--firmware-log"};

/* on|off for option `what`. */
static int cli_on_off(const char *what, const char *v, size_t n, bool *out, char *err,
                      size_t errlen)
{
    if (n == 2 && !strncmp(v, "on", 2))
        *out = true;
    else if (n == 3 && !strncmp(v, "off", 3))
        *out = false;
    else
        return cli_err(err, errlen, "--balloon: %s '%.*s' is not on or off", what, (int)n, v);
    return 0;
}

/* --share off|zero|DIR[,rate=SIZE]: page sharing with every VM naming DIR (docs/MEMORY.md),
 * or zero pages only; rate is the resident RAM compared per second. */
static int cli_share(const char *v, struct vm_config *cfg, char *err, size_t errlen)
{
    cfg->share = (struct share_config){0};
    cfg->share_on = strcmp(v, "off") != 0;
    if (!cfg->share_on) return 0;
    const char *comma = strchr(v, ',');
    size_t n = comma ? (size_t)(comma - v) : strlen(v);
    if (n == 0) return cli_err(err, errlen, "--share: give a directory, zero or off");
    if (n == 4 && !strncmp(v, "zero", 4)) {
        cfg->share.zero_only = true;
    } else {
        char *dir = strndup(v, n); /* lives as long as the process, like argv */
        if (!dir) return cli_err(err, errlen, "--share: out of memory");
        cfg->share.dir = dir;
    }
    if (comma) {
        uint64_t rate;
        if (strncmp(comma + 1, "rate=", 5) || !cli_parse_size(comma + 6, &rate) || rate == 0 ||
            rate > (1ull << 40))
            return cli_err(err, errlen, "--share: '%s' is not rate=SIZE (bytes per second)",
                           comma + 1);
        cfg->share.rate = rate;
    }
    return 0;
}

/* --balloon on|off|KEY=VALUE[,KEY=VALUE]...: size=SIZE (0 allowed), stats=SECONDS,
 * deflate-on-oom=on|off, reporting=on|off, control=PATH. */
static int cli_balloon(const char *v, struct vm_config *cfg, char *err, size_t errlen)
{
    struct pc_balloon_config *b = &cfg->balloon;
    if (!strcmp(v, "off")) {
        b->enabled = false;
        return 0;
    }
    b->enabled = true;
    if (!strcmp(v, "on")) return 0;
    static char control[4096];
    for (const char *o = v; *o;) {
        size_t n = strcspn(o, ",");
        const char *eq = memchr(o, '=', n);
        if (!eq)
            return cli_err(err, errlen,
                           "--balloon: '%.*s' is not KEY=VALUE (see vessel run --help)", (int)n, o);
        size_t kn = (size_t)(eq - o), vn = n - kn - 1;
        const char *val = eq + 1;
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*s", (int)(vn < 63 ? vn : 63), val);
        if (kn == 4 && !strncmp(o, "size", 4)) {
            uint64_t m = 0;
            if (strcmp(buf, "0") != 0 && (vn >= 63 || !cli_parse_size(buf, &m)))
                return cli_err(err, errlen, "--balloon: size '%.*s' is not a size", (int)vn, val);
            b->size = m;
        } else if (kn == 5 && !strncmp(o, "stats", 5)) {
            char *end;
            unsigned long s = strtoul(buf, &end, 10);
            if (!vn || vn >= 63 || *end || !isdigit((unsigned char)buf[0]) || s > 3600)
                return cli_err(err, errlen, "--balloon: stats '%.*s' is not 0 to 3600 seconds",
                               (int)vn, val);
            b->stats_interval_ms = (uint32_t)s * 1000;
        } else if (kn == 14 && !strncmp(o, "deflate-on-oom", 14)) {
            if (cli_on_off("deflate-on-oom", val, vn, &b->deflate_on_oom, err, errlen) < 0)
                return -1;
        } else if (kn == 9 && !strncmp(o, "reporting", 9)) {
            if (cli_on_off("reporting", val, vn, &b->reporting, err, errlen) < 0) return -1;
        } else if (kn == 7 && !strncmp(o, "control", 7)) {
            if (!vn || vn >= sizeof(control))
                return cli_err(err, errlen, "--balloon: control needs a path");
            memcpy(control, val, vn);
            control[vn] = 0;
            cfg->balloon_control = control;
        } else {
            return cli_err(err, errlen,
                           "--balloon: unknown key '%.*s' (size, stats, deflate-on-oom, "
                           "reporting, control)",
                           (int)kn, o);
        }
        o += n;
        if (*o == ',') o++;
    }
    return 0;
}

static int cli_run_option(enum cli_opt o, const char *v, struct vm_config *cfg, const char **append,
                          char *err, size_t errlen)
{
    uint64_t m;
    switch (o) {
    case OPT_KERNEL: cfg->kernel = v; break;
    case OPT_INITRD: cfg->initrd = v; break;
    case OPT_APPEND: *append = v; break;
    case OPT_MEMORY:
        if (!cli_parse_size(v, &m))
            return cli_err(err, errlen,
                           "--memory: '%s' is not a size (use bytes or a K/M/G suffix)", v);
        if (m < VM_MEM_MIN || m > VM_MEM_MAX)
            return cli_err(err, errlen, "--memory: %s is out of range (64M to 64G)", v);
        if (m & 0xfff) return cli_err(err, errlen, "--memory: %s is not a multiple of 4K", v);
        cfg->mem_size = m;
        break;
    case OPT_CPUS: {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (!*v || *end || errno || n < 1 || n > VM_MAX_CPUS || v[0] == '-' || v[0] == '+')
            return cli_err(err, errlen, "--cpus: '%s' is not a number of vCPUs (1 to %d)", v,
                           VM_MAX_CPUS);
        cfg->cpus = (unsigned)n;
        break;
    }
    case OPT_CONSOLE:
        if (strcmp(v, "stdio") != 0 && (strncmp(v, "file:", 5) != 0 || !v[5]))
            return cli_err(err, errlen, "--console: '%s' is not stdio or file:PATH", v);
        cfg->console = v;
        break;
    case OPT_DISK: {
        /* PATH[,readonly|,ro][,id=NAME][,format=raw|qcow2][,backing-dir=DIR]: the path is
         * everything before the first comma. readonly and id= are the device's; the rest stays
         * in the spec the block layer opens (backend/disk.h), checked here already. */
        if (cfg->ndisks == VM_MAX_DISKS)
            return cli_err(err, errlen, "--disk: at most %d disks", VM_MAX_DISKS);
        static char specs[VM_MAX_DISKS][8192], ids[VM_MAX_DISKS][21];
        unsigned k = cfg->ndisks;
        size_t n = strcspn(v, ",");
        if (n == 0) return cli_err(err, errlen, "--disk: empty path");
        if (n >= 4096) return cli_err(err, errlen, "--disk: path too long");
        memcpy(specs[k], v, n);
        specs[k][n] = 0;
        size_t used = n;
        cfg->disk_ro[k] = false;
        cfg->disk_id[k] = NULL;
        for (const char *o = v + n; *o == ',';) {
            o++;
            size_t m = strcspn(o, ",");
            if ((m == 2 && !strncmp(o, "ro", 2)) || (m == 8 && !strncmp(o, "readonly", 8))) {
                cfg->disk_ro[k] = true;
            } else if (m > 3 && !strncmp(o, "id=", 3)) {
                if (m - 3 > 20)
                    return cli_err(err, errlen, "--disk %s: id is longer than 20 bytes", specs[k]);
                memcpy(ids[k], o + 3, m - 3);
                ids[k][m - 3] = 0;
                cfg->disk_id[k] = ids[k];
            } else if (!strncmp(o, "format=", 7) || !strncmp(o, "backing-dir=", 12)) {
                if (used + 1 + m >= sizeof(specs[k]))
                    return cli_err(err, errlen, "--disk: too long");
                specs[k][used++] = ',';
                memcpy(specs[k] + used, o, m);
                used += m;
                specs[k][used] = 0;
            } else {
                return cli_err(err, errlen,
                               "--disk %.*s: unknown option '%.*s' (readonly, id=NAME, "
                               "format=raw|qcow2, backing-dir=DIR)",
                               (int)n, v, (int)m, o);
            }
            o += m;
        }
        char path[4096], why[512];
        struct disk_options dopt;
        if (disk_spec_parse(specs[k], path, sizeof(path), &dopt, why, sizeof(why)) != 0)
            return cli_err(err, errlen, "--disk %s", why);
        cfg->disks[cfg->ndisks++] = specs[k];
        break;
    }
    case OPT_FIRMWARE_LOG: cfg->firmware_log = v; break;
    case OPT_FW_CFG: {
        if (cfg->nfw_cfg == VM_MAX_FW_CFG)
            return cli_err(err, errlen, "--fw-cfg: at most %d items", VM_MAX_FW_CFG);
        char why[512];
        if (pc_fw_cfg_spec_check(v, why, sizeof(why)) < 0) return cli_err(err, errlen, "%s", why);
        cfg->fw_cfg[cfg->nfw_cfg++] = v;
        break;
    }
    case OPT_MAC: {
        uint8_t mac[6];
        if (net_parse_mac(v, mac) != 0)
            return cli_err(err, errlen, "--mac: '%s' is not a unicast MAC like 52:54:00:12:34:56",
                           v);
        cfg->mac = v;
        break;
    }
    case OPT_CONSOLE_DEVICE:
        if (!strcmp(v, "uart"))
            cfg->hvc = false;
        else if (!strcmp(v, "virtio"))
            cfg->hvc = true;
        else
            return cli_err(err, errlen, "--console-device: '%s' is not uart or virtio", v);
        break;
    case OPT_API_SOCK:
        if (!*v) return cli_err(err, errlen, "--api-sock: empty path");
        cfg->api_sock = v;
        break;
    case OPT_RESTORE:
        if (!*v) return cli_err(err, errlen, "--restore: empty path");
        cfg->restore = v;
        break;
    case OPT_RESTORE_MEM:
        if (!*v) return cli_err(err, errlen, "--restore-mem: empty path");
        cfg->restore_mem = v;
        break;
    case OPT_INCOMING:
        if (strncmp(v, "unix:", 5) != 0 && strncmp(v, "tcp:", 4) != 0)
            return cli_err(err, errlen, "--incoming: '%s' is not unix:PATH or tcp:HOST:PORT", v);
        cfg->incoming = v;
        break;
    case OPT_NET:
        cfg->net_given = true;
        if (strcmp(v, "none") == 0)
            cfg->net = NULL;
        else
            cfg->net = v; /* the back-end parses the details when the machine is built */
        break;
    case OPT_RNG:
        if (!strcmp(v, "on"))
            cfg->rng = true;
        else if (!strcmp(v, "off"))
            cfg->rng = false;
        else
            return cli_err(err, errlen, "--rng: '%s' is not on or off", v);
        break;
    case OPT_MEMORY_FILE:
        if (!*v) return cli_err(err, errlen, "--memory-file: empty path");
        cfg->memory_file = v;
        break;
    case OPT_BALLOON: return cli_balloon(v, cfg, err, errlen);
    case OPT_SHARE: return cli_share(v, cfg, err, errlen);
    case OPT_DISPLAY:
        if (!strcmp(v, "none")) {
            cfg->display = NULL;
            break;
        }
        if (display_check_spec(v, err, errlen) < 0) return -1;
        cfg->display = v;
        break;
    case OPT_RESOLUTION: {
        unsigned w, h;
        char tail;
        if (sscanf(v, "%ux%u%c", &w, &h, &tail) != 2)
            return cli_err(err, errlen, "--resolution: '%s' is not WIDTHxHEIGHT", v);
        if (w < 320 || w > 4096 || h < 200 || h > 2160)
            return cli_err(err, errlen, "--resolution: %s is out of range (320x200 to 4096x2160)",
                           v);
        cfg->display_width = w;
        cfg->display_height = h;
        break;
    }
    case OPT_SCREENSHOT:
        if (!*v) return cli_err(err, errlen, "--screenshot-on-exit: empty path");
        cfg->screenshot = v;
        break;
    case OPT_DISPLAY_DEVICE:
        if (strcmp(v, "lfb") && strcmp(v, "bochs"))
            return cli_err(err, errlen, "--display-device: '%s' is not lfb or bochs", v);
        cfg->display_bochs = !strcmp(v, "bochs");
        break;
    case OPT_ENGINE:
        if (!strcmp(v, "jit"))
            cfg->engine = VCPU_ENGINE_JIT;
        else if (!strcmp(v, "interp"))
            cfg->engine = VCPU_ENGINE_INTERP;
        else if (!strcmp(v, "direct"))
            cfg->engine = VCPU_ENGINE_DIRECT;
        else
            return cli_err(err, errlen, "--engine: '%s' is not jit, interp or direct", v);
        break;
    case OPT_CPU:
        if (strcmp(v, "x86-64-v2") && strcmp(v, "x86-64-v3") && strcmp(v, "host"))
            return cli_err(err, errlen, "--cpu: '%s' is not x86-64-v2, x86-64-v3 or host", v);
        cfg->cpu_model = v;
        break;
    case OPT_JIT_CACHE:
        if (!cli_parse_size(v, &m))
            return cli_err(err, errlen,
                           "--jit-cache: '%s' is not a size (use bytes or a K/M/G suffix)", v);
        if (m < (1ull << 20) || m > (1ull << 30))
            return cli_err(err, errlen, "--jit-cache: %s is out of range (1M to 1G)", v);
        cfg->jit_cache = (size_t)m;
        break;
    case OPT_INTEGRITY_WATCH:
        if (integ_parse_policy(v, err, errlen) < 0) return -1;
        break;
    case OPT_REBOOT:
        if (!strcmp(v, "exit"))
            cfg->reboot = VM_REBOOT_EXIT;
        else if (!strcmp(v, "restart"))
            cfg->reboot = VM_REBOOT_RESTART;
        else
            return cli_err(err, errlen, "--reboot: '%s' is not exit or restart", v);
        break;
    }
    return 0;
}

static int cli_parse_run(int argc, char **argv, int i, enum cli_command *cmd, struct vm_config *cfg,
                         char *err, size_t errlen)
{
    const char *append = NULL;
    bool kernel_given = false, initrd_given = false;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *cmd = CLI_RUN_HELP;
            return 0;
        }
        /* --bios [PATH]: the value is optional (Debian's SeaBIOS by default) */
        if (!strcmp(a, "--bios") || !strncmp(a, "--bios=", 7)) {
            if (a[6] == '=')
                cfg->bios = a + 7;
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                cfg->bios = argv[++i];
            else
                cfg->bios = VM_BIOS_DEFAULT;
            if (!*cfg->bios) return cli_err(err, errlen, "--bios: empty path");
            continue;
        }
        bool ok = false;
        const char *v = NULL;
        unsigned o;
        for (o = 0; o < sizeof(cli_opt_names) / sizeof(cli_opt_names[0]); o++) {
            v = cli_value(cli_opt_names[o], argc, argv, &i, &ok);
            if (ok) break;
        }
        if (!ok) {
            if (a[0] == '-')
                return cli_err(err, errlen, "run: unknown option '%s' (see vessel run --help)", a);
            return cli_err(err, errlen, "run: unexpected argument '%s' (see vessel run --help)", a);
        }
        if (!v) return cli_err(err, errlen, "option %s needs a value", cli_opt_names[o]);
        if (cli_run_option((enum cli_opt)o, v, cfg, &append, err, errlen) < 0) return -1;
        kernel_given |= o == OPT_KERNEL;
        initrd_given |= o == OPT_INITRD;
    }

    if (cfg->restore_mem && !cfg->restore)
        return cli_err(err, errlen, "--restore-mem needs --restore");
    if (cfg->incoming && cfg->restore)
        return cli_err(err, errlen, "--incoming and --restore exclude each other");
    if ((cfg->restore || cfg->incoming) && (kernel_given || initrd_given || append))
        return cli_err(
            err, errlen,
            "--restore: the snapshot brings its kernel; drop --kernel/--initrd/--append");
    if (cfg->bios && (kernel_given || initrd_given || append))
        return cli_err(err, errlen,
                       "--bios boots from a disk through the firmware; drop --kernel/--initrd/"
                       "--append (fw_cfg kernel loading is not there yet)");
    if (cfg->bios && (cfg->restore || cfg->incoming))
        return cli_err(err, errlen, "--bios: a restored machine brings its firmware");
    if (cfg->firmware_log && !cfg->bios) return cli_err(err, errlen, "--firmware-log needs --bios");
    if (cfg->bios && cfg->display)
        return cli_err(err, errlen, "--bios: not with --display yet (the serial console only)");
    /* A restore needs no kernel, and with an API socket the kernel may come later
     * (PUT /boot-source), so neither falls back to the default guest; nor does firmware. */
    if (!kernel_given && !cfg->restore && !cfg->incoming && !cfg->api_sock && !cfg->bios) {
        char dir[2048];
        cli_cache_dir(dir, sizeof(dir));
        if (!kernel_given) {
            snprintf(cli_kernel_buf, sizeof(cli_kernel_buf), "%s/guest/vmlinuz", dir);
            cfg->kernel = cli_kernel_buf;
            cli_default_guest = true;
        }
        if (!initrd_given && !kernel_given) {
            snprintf(cli_initrd_buf, sizeof(cli_initrd_buf), "%s/guest/initrd.img", dir);
            cfg->initrd = cli_initrd_buf;
        }
    }
    if (append && *append) {
        int n =
            snprintf(cli_cmdline_buf, sizeof(cli_cmdline_buf), "%s %s", VM_CMDLINE_DEFAULT, append);
        if (n < 0 || (size_t)n >= sizeof(cli_cmdline_buf))
            return cli_err(err, errlen, "--append: command line too long");
        cfg->cmdline = cli_cmdline_buf;
    }
    /* Guest user code running natively executes CPUID, XGETBV and RDTSC on the host CPU: the
     * kernel must see the same CPU (docs/DIRECT.md). */
    if (vcpu_engine_resolve(cfg->engine) == VCPU_ENGINE_DIRECT) {
        if (cfg->cpu_model && strcmp(cfg->cpu_model, "host"))
            return cli_err(err, errlen,
                           "--engine direct runs guest user code on the host CPU, which shows it "
                           "the host's CPUID: use --cpu host (or leave --cpu out)");
        if (!cfg->restore && !cfg->incoming) cfg->cpu_model = "host";
        /* Native user code runs outside the engine's run loop, which the cross-vCPU TLB and
         * code shootdowns wait on (docs/SMP.md): one vCPU until direct takes part in them. */
        if (cfg->cpus > 1)
            return cli_err(err, errlen, "--engine direct: one vCPU only for now (--cpus 1)");
    }
    if (cfg->bios && cfg->cpus > 1)
        return cli_err(err, errlen,
                       "--bios: one vCPU only for now (SeaBIOS starting APs is untested)");
    if (cfg->screenshot && !cfg->display)
        return cli_err(err, errlen, "--screenshot-on-exit needs a --display");
    if (cfg->display_bochs && !cfg->display)
        return cli_err(err, errlen, "--display-device bochs needs a --display");
    if (cfg->display) {
        int n = snprintf(cli_display_cmdline, sizeof(cli_display_cmdline), "%s%s",
                         VM_CMDLINE_DISPLAY, cfg->cmdline);
        if (n < 0 || (size_t)n >= sizeof(cli_display_cmdline))
            return cli_err(err, errlen, "--append: command line too long");
        cfg->cmdline = cli_display_cmdline;
    }
    *cmd = CLI_RUN;
    return 0;
}

int cli_parse(int argc, char **argv, enum cli_command *cmd, struct vm_config *cfg, char *err,
              size_t errlen)
{
    cli_default_guest = false;
    integ_parse_policy("off", NULL, 0); /* the watch's default (it keeps its own setting) */
    *cfg = (struct vm_config){
        .cmdline = VM_CMDLINE_DEFAULT,
        .mem_size = VM_MEM_DEFAULT,
        .cpus = 1,
        .console = "stdio",
        .reboot = VM_REBOOT_EXIT,
        .rng = true,
        .balloon = {.deflate_on_oom = true, .reporting = true},
        .display_width = VM_DISPLAY_WIDTH,
        .display_height = VM_DISPLAY_HEIGHT,
    };
    if (errlen) err[0] = 0;
    if (argc < 2) return cli_err(err, errlen, "no command given (try vessel --help)");
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        *cmd = CLI_HELP;
        return 0;
    }
    if (!strcmp(c, "--version") || !strcmp(c, "-V") || !strcmp(c, "version")) {
        *cmd = CLI_VERSION;
        return 0;
    }
    if (!strcmp(c, "run")) return cli_parse_run(argc, argv, 2, cmd, cfg, err, errlen);
    if (c[0] == '-') return cli_err(err, errlen, "unknown option '%s' (try vessel --help)", c);
    return cli_err(err, errlen, "unknown command '%s' (try vessel --help)", c);
}

static const char *cli_file_problem(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) return strerror(errno);
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (access(path, R_OK) < 0) return strerror(errno);
    return NULL;
}

int cli_check_files(const struct vm_config *cfg, char *err, size_t errlen)
{
    const char *what = "kernel", *path = cfg->kernel;
    const char *why = path ? cli_file_problem(path) : NULL;
    if (!why && cfg->restore) {
        what = "state file";
        path = cfg->restore;
        why = cli_file_problem(path);
    }
    if (!why && cfg->kernel && cfg->initrd) {
        what = "initrd";
        path = cfg->initrd;
        why = cli_file_problem(path);
    }
    if (why && cli_default_guest)
        return cli_err(err, errlen,
                       "default guest %s '%s' is missing (%s); build it with "
                       "scripts/build-guest.sh or pass --kernel",
                       what, path, why);
    if (why) return cli_err(err, errlen, "%s '%s': %s", what, path, why);
    /* A disk is always the user's own: name the option and the path, nothing else. */
    for (unsigned k = 0; k < cfg->ndisks; k++) {
        char disk[4096];
        snprintf(disk, sizeof(disk), "%.*s", (int)strcspn(cfg->disks[k], ","), cfg->disks[k]);
        if ((why = cli_file_problem(disk))) return cli_err(err, errlen, "--disk %s: %s", disk, why);
    }
    return 0;
}

void cli_print_help(void)
{
    fputs("usage: vessel <command> [options]\n"
          "\n"
          "A virtual machine monitor with its own x86-64 engine.\n"
          "\n"
          "commands:\n"
          "  run        boot a Linux kernel or restore a snapshot (see vessel run --help)\n"
          "             vessel run APP.vessel [options]: start an appliance (docs/APPLIANCE.md)\n"
          "  pack       make an appliance file (vessel pack --help)\n"
          "  inspect-appliance  print an appliance's manifest (and --verify its parts)\n"
          "  api        send one request to a running vessel's control API\n"
          "             (vessel api SOCKET METHOD PATH [JSON])\n"
          "  migrate    live-migrate a running vessel to a `vessel run --incoming ADDR`\n"
          "             (vessel migrate SOCKET ADDR [MAX_DOWNTIME_MS])\n"
          "  screenshot save a running vessel's display as PNG\n"
          "             (vessel screenshot SOCKET PATH.png)\n"
          "  inspect    list a running guest's processes or kernel modules from outside,\n"
          "             or what its integrity watch saw\n"
          "             (vessel inspect SOCKET ps|modules|integrity [--json])\n"
          "  netd       serve a --net back-end to VMs on a Unix socket (vessel netd --help);\n"
          "             their connections survive a live migration on this host\n"
          "\n"
          "  --help     show this help\n"
          "  --version  show the version\n",
          stdout);
}

void cli_print_run_help(void)
{
    fputs("usage: vessel run [options]\n"
          "\n"
          "Boot a Linux bzImage with its console on the serial port.\n"
          "\n"
          "  --kernel PATH        bzImage (default: $VESSEL_CACHE/guest/vmlinuz,\n"
          "                       VESSEL_CACHE defaults to ~/.cache/vessel)\n"
          "  --initrd PATH        initramfs (default with the default kernel:\n"
          "                       $VESSEL_CACHE/guest/initrd.img)\n"
          "  --append STR         add STR to the kernel command line (default:\n"
          "                       \"" VM_CMDLINE_DEFAULT "\")\n"
          "  --memory SIZE        guest RAM, bytes or K/M/G suffix, 64M..64G (default 256M)\n"
          "  --cpus N             number of vCPUs, 1 to 32 (one host thread each)\n"
          "  --console stdio|file:PATH\n"
          "                       where the serial console goes (default stdio; file:PATH\n"
          "                       writes guest output to PATH and gives the guest no input)\n"
          "  --reboot exit|restart\n"
          "                       what a guest reboot does (default exit)\n"
          "  --disk PATH[,readonly][,id=NAME][,format=raw|qcow2][,backing-dir=DIR]\n"
          "                       disk image as a virtio-blk device (up to 4; /dev/vda..);\n"
          "                       readonly (or ro) refuses guest writes, id= sets its serial;\n"
          "                       without format= the header decides (qcow2 or raw); a qcow2\n"
          "                       backing file must be beside the image (or below it) or in\n"
          "                       backing-dir\n"
          "  --net SPEC           virtio-net NIC: user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...\n"
          "                       (libslirp NAT), tap,ifname=NAME, stream,path=SOCKET (a\n"
          "                       `vessel netd` or passt), or none (default)\n"
          "  --mac ADDR           the NIC's MAC address (default 52:54:00:12:34:56)\n"
          "  --rng on|off         virtio-rng entropy device (default on)\n"
          "  --engine jit|interp|direct  how guest code runs: translated to host code (jit,\n"
          "                       the default on x86-64), interpreted, or guest user code\n"
          "                       natively in a host stub process and the kernel translated\n"
          "                       (direct: --cpu host, docs/DIRECT.md)\n"
          "  --jit-cache SIZE     the translator's code cache (default 64M, 1M..1G)\n"
          "  --cpu MODEL          the guest's CPU (docs/CPU-MODEL.md): x86-64-v2 (the default,\n"
          "                       the same on every host), x86-64-v3 (adds AVX, AVX2, FMA,\n"
          "                       F16C; needs them on the host) or host (every extension of\n"
          "                       this host that vessel implements)\n"
          "  --console-device uart|virtio\n"
          "                       the console's guest device: COM1 (ttyS0, default) or\n"
          "                       virtio-console (hvc0; add --append console=hvc0)\n"
          "  --memory-file PATH   guest RAM in a sparse file the host pages out to disk: PATH is\n"
          "                       a directory (an unnamed file there) or a new file's name\n"
          "                       (removed at exit); see docs/MEMORY.md\n"
          "  --balloon on|off|KEY=VALUE,...\n"
          "                       virtio-balloon (default off): size=SIZE the balloon holds at\n"
          "                       start (default 0), stats=SECONDS guest statistics polling\n"
          "                       (default 0: on request), deflate-on-oom=on|off (on),\n"
          "                       reporting=on|off free page reporting (on), control=PATH a\n"
          "                       file holding a new balloon size, read on SIGUSR2\n"
          "  --share DIR|zero|off[,rate=SIZE]\n"
          "                       content-based page sharing (default off): identical pages of\n"
          "                       every VM naming directory DIR (best on tmpfs) are kept once,\n"
          "                       copied when written; zero keeps only zero pages once. rate:\n"
          "                       resident RAM compared per second (default 64M)\n"
          "  --display none|vnc[=[HOST]:PORT|=:N]|window\n"
          "                       a framebuffer with the kernel console on it (efifb, fbcon)\n"
          "                       and the keyboard, shown by a VNC server (default\n"
          "                       127.0.0.1:5900, no password) or a window (SDL2); default none\n"
          "  --resolution WxH     framebuffer size (default 1024x768)\n"
          "  --screenshot-on-exit PATH\n"
          "                       write the framebuffer to PATH as a PNG when the VM ends\n"
          "  --display-device lfb|bochs\n"
          "                       the display card: lfb (default) a framebuffer in RAM the\n"
          "                       kernel finds through screen_info (efifb); bochs the PCI\n"
          "                       bochs-display for kernels with DRM (bochs-drm), which also\n"
          "                       boots as an EFI framebuffer until the driver loads\n"
          "  --api-sock PATH      serve the control API (HTTP/1.1 + JSON, Firecracker's\n"
          "                       endpoints; docs/API.md) on a Unix socket; without --kernel\n"
          "                       the VM waits to be configured and started through it\n"
          "  --restore STATE      resume the snapshot in STATE instead of booting; --disk and\n"
          "                       --net replace the snapshot's disk images and network back-end\n"
          "  --restore-mem MEM    its memory file, when not at the path recorded in STATE\n"
          "  --incoming ADDR      receive a live migration (unix:PATH or tcp:HOST:PORT) from\n"
          "                       `vessel migrate` and run the guest here\n"
          "  --bios [PATH]        boot through firmware from the disks instead of loading a\n"
          "                       kernel: SeaBIOS (default " VM_BIOS_DEFAULT ")\n"
          "                       on the serial console\n"
          "  --firmware-log PATH  append the firmware's debug output (port 0x402) to PATH\n"
          "  --fw-cfg name=NAME,file=PATH|string=TEXT\n"
          "                       an item of QEMU's fw_cfg device for the guest (repeatable;\n"
          "                       names under opt/; Linux shows it in\n"
          "                       /sys/firmware/qemu_fw_cfg/by_name/NAME/raw)\n"
          "  --integrity-watch off|report|block\n"
          "                       after the guest kernel boots, watch its system call tables,\n"
          "                       IDT and text for writes and report them (log, `vessel\n"
          "                       inspect SOCKET integrity`); block also undoes them (default\n"
          "                       off; docs/INTEGRITY.md)\n"
          "\n"
          "On a terminal the console is in raw mode: Ctrl-A x quits, Ctrl-A h shows help,\n"
          "Ctrl-A Ctrl-A sends Ctrl-A. SIGUSR1 prints the vCPU state on stderr (the guest\n"
          "goes on). SIGUSR2 applies the balloon control file, if any, and prints a memory\n"
          "report on stderr (RAM, resident, sharing, balloon, guest statistics).\n"
          "\n"
          "exit status: 0 guest powered off or rebooted (--reboot=exit), or Ctrl-A x;\n"
          "  1 host error; 2 bad command line or input files; 3 guest kernel panic;\n"
          "  4 triple fault or internal engine error (registers on stderr)\n",
          stdout);
}
