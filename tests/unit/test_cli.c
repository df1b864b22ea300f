/* test_cli.c — the command-line parser: sizes, defaults, every usage error. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "introspect/integrity.h"
#include "vm/cli.h"

static int parse(enum cli_command *cmd, struct vm_config *cfg, char *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    argv[argc++] = "vessel";
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cli_parse(argc, argv, cmd, cfg, err, 256);
}

static void test_sizes(void)
{
    uint64_t v = 0;
    CHECK(cli_parse_size("4096", &v));
    CHECK_EQ(v, 4096);
    CHECK(cli_parse_size("256M", &v));
    CHECK_EQ(v, 256ull << 20);
    CHECK(cli_parse_size("2g", &v));
    CHECK_EQ(v, 2ull << 30);
    CHECK(cli_parse_size("64K", &v));
    CHECK_EQ(v, 64ull << 10);
    CHECK(cli_parse_size("1GiB", &v));
    CHECK_EQ(v, 1ull << 30);
    CHECK(cli_parse_size("512MB", &v));
    CHECK_EQ(v, 512ull << 20);
    CHECK(!cli_parse_size("12Q", &v));
    CHECK(!cli_parse_size("0", &v));
    CHECK(!cli_parse_size("0M", &v));
    CHECK(!cli_parse_size("", &v));
    CHECK(!cli_parse_size("M", &v));
    CHECK(!cli_parse_size("-1", &v));
    CHECK(!cli_parse_size("1.5G", &v));
    CHECK(!cli_parse_size("16Gx", &v));
    CHECK(!cli_parse_size("99999999999999999999", &v));
    CHECK(!cli_parse_size("17179869184G", &v)); /* 2^34 G overflows */
    CHECK(cli_parse_size("16777215T", &v));
}

static void test_defaults(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    setenv("VESSEL_CACHE", "/tmp/vc", 1);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", NULL), 0);
    CHECK_EQ(cmd, CLI_RUN);
    CHECK(!strcmp(cfg.kernel, "/tmp/vc/guest/vmlinuz"));
    CHECK(cfg.initrd && !strcmp(cfg.initrd, "/tmp/vc/guest/initrd.img"));
    CHECK(!strcmp(cfg.cmdline, VM_CMDLINE_DEFAULT));
    CHECK_EQ(cfg.mem_size, VM_MEM_DEFAULT);
    CHECK_EQ(cfg.cpus, 1);
    CHECK(!strcmp(cfg.console, "stdio"));
    CHECK_EQ(cfg.reboot, VM_REBOOT_EXIT);
    CHECK_EQ(cfg.engine, VCPU_ENGINE_DEFAULT);
    CHECK_EQ(cfg.jit_cache, 0);
}

static void test_options(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--kernel", "/k", "--memory=1G", "--append", "x=1",
                   "--console", "file:/tmp/out", "--reboot=restart", "--cpus", "1", NULL),
             0);
    CHECK(!strcmp(cfg.kernel, "/k"));
    CHECK(cfg.initrd == NULL); /* an explicit kernel does not pull in the default initrd */
    CHECK_EQ(cfg.mem_size, 1ull << 30);
    CHECK(!strcmp(cfg.cmdline, VM_CMDLINE_DEFAULT " x=1"));
    CHECK(!strcmp(cfg.console, "file:/tmp/out"));
    CHECK_EQ(cfg.reboot, VM_REBOOT_RESTART);
    CHECK_EQ(cfg.cpus, 1);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--cpus", "8", NULL), 0);
    CHECK_EQ(cfg.cpus, 8);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--cpus", "32", NULL), 0);
    CHECK_EQ(cfg.cpus, 32);

    CHECK(cfg.rng);
    CHECK_EQ(cfg.ndisks, 0);
    CHECK(cfg.net == NULL);

    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--disk", "/a.img", "--disk=/b.img,ro", "--net",
                   "user,hostfwd=tcp::2222-:22", "--rng=off", NULL),
             0);
    CHECK_EQ(cfg.ndisks, 2);
    CHECK(!strcmp(cfg.disks[0], "/a.img") && !cfg.disk_ro[0]);
    CHECK(!strcmp(cfg.disks[1], "/b.img") && cfg.disk_ro[1]);
    CHECK(cfg.net && !strcmp(cfg.net, "user,hostfwd=tcp::2222-:22"));
    CHECK(!cfg.rng);

    CHECK_EQ(parse(&cmd, &cfg, err, "--help", NULL), 0);
    CHECK_EQ(cmd, CLI_HELP);
    CHECK_EQ(parse(&cmd, &cfg, err, "--version", NULL), 0);
    CHECK_EQ(cmd, CLI_VERSION);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--memory", "1G", "--help", NULL), 0);
    CHECK_EQ(cmd, CLI_RUN_HELP);
}

static void test_device_options(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--disk", "/a.img,readonly,id=data", "--disk",
                   "/b.img,id=x,ro", "--mac", "52:54:00:ab:cd:ef", "--console-device", "virtio",
                   NULL),
             0);
    CHECK_EQ(cfg.ndisks, 2);
    CHECK(!strcmp(cfg.disks[0], "/a.img") && cfg.disk_ro[0] && !strcmp(cfg.disk_id[0], "data"));
    CHECK(!strcmp(cfg.disks[1], "/b.img") && cfg.disk_ro[1] && !strcmp(cfg.disk_id[1], "x"));
    CHECK(!strcmp(cfg.mac, "52:54:00:ab:cd:ef"));
    CHECK(cfg.hvc);
    CHECK(parse(&cmd, &cfg, err, "run", "--disk", "/a.img,id=123456789012345678901", NULL) != 0);
    CHECK(strstr(err, "20 bytes") != NULL);
    CHECK(parse(&cmd, &cfg, err, "run", "--disk", "/a.img,rw", NULL) != 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--mac", "ff:ff:ff:ff:ff:ff", NULL) != 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--mac", "52:54:00:12:34", NULL) != 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--console-device", "hvc", NULL) != 0);
}

static void test_engine_options(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--engine", "interp", NULL), 0);
    CHECK_EQ(cfg.engine, VCPU_ENGINE_INTERP);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--engine=jit", "--jit-cache", "16M", NULL), 0);
    CHECK_EQ(cfg.engine, VCPU_ENGINE_JIT);
    CHECK_EQ(cfg.jit_cache, 16ull << 20);
    CHECK(parse(&cmd, &cfg, err, "run", "--engine", "qemu", NULL) != 0);
    CHECK(strstr(err, "jit, interp or direct") != NULL);
    /* direct runs user code on the host CPU: the host model, forced or refused */
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--engine", "direct", NULL), 0);
    CHECK_EQ(cfg.engine, VCPU_ENGINE_DIRECT);
    CHECK(cfg.cpu_model && !strcmp(cfg.cpu_model, "host"));
    CHECK(parse(&cmd, &cfg, err, "run", "--engine", "direct", "--cpu", "x86-64-v2", NULL) != 0);
    CHECK(strstr(err, "--cpu host") != NULL);
    CHECK(parse(&cmd, &cfg, err, "run", "--jit-cache", "512K", NULL) != 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--jit-cache", "lots", NULL) != 0);
    /* the integrity watch (docs/INTEGRITY.md): off unless asked, each parse starting over */
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--integrity-watch", "block", NULL), 0);
    CHECK_EQ(integ_get_policy(), INTEG_BLOCK);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--integrity-watch=report", NULL), 0);
    CHECK_EQ(integ_get_policy(), INTEG_REPORT);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", NULL), 0);
    CHECK_EQ(integ_get_policy(), INTEG_OFF);
    CHECK(parse(&cmd, &cfg, err, "run", "--integrity-watch", "warn", NULL) != 0);
    CHECK(strstr(err, "off, report or block") != NULL);
}

static void expect_error(const char *what, int rc, const char *err)
{
    CHECK_EQ(rc, -1);
    CHECK(err[0] != 0);
    CHECK(strchr(err, '\n') == NULL);
    if (!strstr(err, what)) {
        fprintf(stderr, "# message '%s' does not mention '%s'\n", err, what);
        CHECK(0);
    }
}

static void test_errors(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    expect_error("no command", parse(&cmd, &cfg, err, NULL), err);
    expect_error("frobnicate", parse(&cmd, &cfg, err, "frobnicate", NULL), err);
    expect_error("--bogus", parse(&cmd, &cfg, err, "--bogus", NULL), err);
    expect_error("--bogus", parse(&cmd, &cfg, err, "run", "--bogus", NULL), err);
    expect_error("--kernel", parse(&cmd, &cfg, err, "run", "--kernel", NULL), err);
    expect_error("12Q", parse(&cmd, &cfg, err, "run", "--memory", "12Q", NULL), err);
    expect_error("--memory", parse(&cmd, &cfg, err, "run", "--memory", "0", NULL), err);
    expect_error("1K", parse(&cmd, &cfg, err, "run", "--memory", "1K", NULL), err);
    expect_error("1T", parse(&cmd, &cfg, err, "run", "--memory", "1T", NULL), err);
    expect_error("--cpus", parse(&cmd, &cfg, err, "run", "--cpus", "0", NULL), err);
    expect_error("--cpus", parse(&cmd, &cfg, err, "run", "--cpus", "33", NULL), err);
    expect_error("--cpus", parse(&cmd, &cfg, err, "run", "--cpus", "2x", NULL), err);
    expect_error("--cpus", parse(&cmd, &cfg, err, "run", "--cpus", "-1", NULL), err);
    expect_error("serial", parse(&cmd, &cfg, err, "run", "--console", "serial", NULL), err);
    expect_error("--console", parse(&cmd, &cfg, err, "run", "--console", "file:", NULL), err);
    expect_error("never", parse(&cmd, &cfg, err, "run", "--reboot=never", NULL), err);
    expect_error("stray", parse(&cmd, &cfg, err, "run", "stray", NULL), err);
    expect_error("--rng", parse(&cmd, &cfg, err, "run", "--rng", "maybe", NULL), err);
    expect_error("--disk", parse(&cmd, &cfg, err, "run", "--disk", ",ro", NULL), err);
    expect_error("at most",
                 parse(&cmd, &cfg, err, "run", "--disk=a", "--disk=b", "--disk=c", "--disk=d",
                       "--disk=e", NULL),
                 err);
    /* A prefix of an option is not that option. */
    expect_error("--kern", parse(&cmd, &cfg, err, "run", "--kern", "x", NULL), err);
    expect_error("--kernelx", parse(&cmd, &cfg, err, "run", "--kernelx=1", NULL), err);
}

/* --disk's block-layer options stay in the spec the disk is opened from; the device's do not. */
static void test_disk_formats(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--disk", "/a.qcow2,ro,format=qcow2,id=x", "--disk",
                   "/b.img,backing-dir=/base,format=raw", NULL),
             0);
    CHECK(!strcmp(cfg.disks[0], "/a.qcow2,format=qcow2") && cfg.disk_ro[0]);
    CHECK(!strcmp(cfg.disks[1], "/b.img,backing-dir=/base,format=raw") && !cfg.disk_ro[1]);
    CHECK(parse(&cmd, &cfg, err, "run", "--disk", "/a.img,format=vmdk", NULL) != 0);
    CHECK(strstr(err, "--disk /a.img") && strstr(err, "vmdk"));
    CHECK(parse(&cmd, &cfg, err, "run", "--disk", "/a.img,backing-dir=", NULL) != 0);
    CHECK(strstr(err, "--disk /a.img") != NULL);
}

static void test_memory_options(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", NULL), 0);
    CHECK(!cfg.balloon.enabled);
    CHECK(cfg.memory_file == NULL);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--balloon", "on", "--memory-file", "/tmp", NULL), 0);
    CHECK(cfg.balloon.enabled);
    CHECK_EQ(cfg.balloon.size, 0);
    CHECK_EQ(cfg.balloon.stats_interval_ms, 0);
    CHECK(cfg.balloon.deflate_on_oom && cfg.balloon.reporting);
    CHECK(cfg.balloon_control == NULL);
    CHECK(!strcmp(cfg.memory_file, "/tmp"));
    CHECK_EQ(parse(&cmd, &cfg, err, "run",
                   "--balloon=size=200M,stats=2,deflate-on-oom=off,reporting=off,control=/tmp/b",
                   NULL),
             0);
    CHECK(cfg.balloon.enabled);
    CHECK_EQ(cfg.balloon.size, 200ull << 20);
    CHECK_EQ(cfg.balloon.stats_interval_ms, 2000);
    CHECK(!cfg.balloon.deflate_on_oom && !cfg.balloon.reporting);
    CHECK(cfg.balloon_control && !strcmp(cfg.balloon_control, "/tmp/b"));
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--balloon", "size=0", "--balloon", "off", NULL), 0);
    CHECK(!cfg.balloon.enabled);
    expect_error("size", parse(&cmd, &cfg, err, "run", "--balloon", "size=lots", NULL), err);
    expect_error("stats", parse(&cmd, &cfg, err, "run", "--balloon", "stats=-1", NULL), err);
    expect_error("stats", parse(&cmd, &cfg, err, "run", "--balloon", "stats=", NULL), err);
    expect_error("stats", parse(&cmd, &cfg, err, "run", "--balloon", "stats=9999", NULL), err);
    expect_error("reporting", parse(&cmd, &cfg, err, "run", "--balloon", "reporting=yes", NULL),
                 err);
    expect_error("KEY=VALUE", parse(&cmd, &cfg, err, "run", "--balloon", "maybe", NULL), err);
    expect_error("unknown key", parse(&cmd, &cfg, err, "run", "--balloon", "color=red", NULL), err);
    expect_error("control", parse(&cmd, &cfg, err, "run", "--balloon", "control=", NULL), err);
    expect_error("--memory-file", parse(&cmd, &cfg, err, "run", "--memory-file=", NULL), err);
    expect_error("--memory-file", parse(&cmd, &cfg, err, "run", "--memory-file", NULL), err);
}

/* The display options: spec checked at parse time, resolution bounds, console=tty0 first. */
static void test_display_options(void)
{
    enum cli_command cmd;
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(parse(&cmd, &cfg, err, "run", NULL), 0);
    CHECK(cfg.display == NULL);
    CHECK(strstr(cfg.cmdline, "tty0") == NULL);
    CHECK_EQ(cfg.display_width, 1024);
    CHECK_EQ(cfg.display_height, 768);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display", "vnc=:2", "--resolution", "800x600",
                   "--append", "quiet", NULL),
             0);
    CHECK(!strcmp(cfg.display, "vnc=:2"));
    CHECK_EQ(cfg.display_width, 800);
    CHECK_EQ(cfg.display_height, 600);
    CHECK(!strncmp(cfg.cmdline, "console=tty0 console=ttyS0", 26));
    CHECK(strstr(cfg.cmdline, " quiet") != NULL);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display=window", "--display", "none", NULL), 0);
    CHECK(cfg.display == NULL);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display", "window", "--screenshot-on-exit",
                   "/tmp/x.png", NULL),
             0);
    CHECK(!strcmp(cfg.screenshot, "/tmp/x.png"));
    CHECK(parse(&cmd, &cfg, err, "run", "--display", "sdl", NULL) < 0);
    CHECK(strstr(err, "--display") != NULL);
    CHECK(parse(&cmd, &cfg, err, "run", "--display", "vnc=host", NULL) < 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--resolution", "800", NULL) < 0);
    CHECK(strstr(err, "--resolution") != NULL);
    CHECK(parse(&cmd, &cfg, err, "run", "--resolution", "800x600x32", NULL) < 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--resolution", "100x100", NULL) < 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--resolution", "8000x600", NULL) < 0);
    CHECK(parse(&cmd, &cfg, err, "run", "--screenshot-on-exit", "/tmp/x.png", NULL) < 0);
    CHECK(strstr(err, "needs a --display") != NULL);
    /* The card: lfb by default, bochs on request (and only with a display). */
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display", "vnc", NULL), 0);
    CHECK(!cfg.display_bochs);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display", "vnc", "--display-device", "bochs", NULL),
             0);
    CHECK(cfg.display_bochs);
    CHECK_EQ(parse(&cmd, &cfg, err, "run", "--display", "vnc", "--display-device=bochs",
                   "--display-device", "lfb", NULL),
             0);
    CHECK(!cfg.display_bochs);
    CHECK(parse(&cmd, &cfg, err, "run", "--display", "vnc", "--display-device", "vga", NULL) < 0);
    CHECK(strstr(err, "--display-device") != NULL);
    CHECK(parse(&cmd, &cfg, err, "run", "--display-device", "bochs", NULL) < 0);
    CHECK(strstr(err, "needs a --display") != NULL);
}

int main(void)
{
    RUN(test_sizes);
    RUN(test_defaults);
    RUN(test_options);
    RUN(test_errors);
    RUN(test_device_options);
    RUN(test_disk_formats);
    RUN(test_memory_options);
    RUN(test_display_options);
    RUN(test_engine_options);
    return check_done();
}
