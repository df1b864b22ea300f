/* appl_pack.c — `vessel pack -o APP.vessel [run options] [--disk PATH[,base=BASE]]...`: bundle a
 * machine into one appliance file. The run options are `vessel run`'s own and are checked by
 * its parser, so an appliance holds only configurations vessel can start. Disks become qcow2
 * images holding what differs from their base. With --snapshot-after, the machine is booted in
 * a child vessel (over throw-away overlays) until the console shows the marker, paused and
 * snapshotted through the control API; the disks packed are then the overlays' contents, so the
 * snapshot's page cache and the disks agree. */
#include "appliance/appliance.h"
#include "appliance/appl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vm/cli.h"
#include "vm/vm.h"
#include "vessel/log.h"

#define APPL_MAX_ARGS 128

struct pack_disk {
    const char *path, *base;
    const char *flags; /* ",readonly" / ",id=..." kept for the run */
    char flagbuf[64];
    char base_name[256];
};

struct pack {
    const char *out, *name, *version, *oci, *marker;
    unsigned timeout_s;
    const char *run_argv[APPL_MAX_ARGS];
    int run_argc;
    const char *append;
    struct pack_disk disks[VM_MAX_DISKS];
    unsigned ndisks;
    char work[PATH_MAX];
};

static void pack_usage(void)
{
    fputs("usage: vessel pack -o APP.vessel [options] [vessel run options]\n"
          "\n"
          "Bundle a machine into one appliance file (docs/APPLIANCE.md).\n"
          "\n"
          "  -o, --output PATH     the appliance file to write\n"
          "  --name NAME           the appliance's name (default: the output's base name)\n"
          "  --version VERSION     its version (default 0)\n"
          "  --disk PATH[,base=BASE][,readonly][,id=NAME]\n"
          "                        a disk, stored as qcow2 holding only what differs from\n"
          "                        BASE (which `vessel run` then finds beside the appliance)\n"
          "  --oci IMAGE.tar       an OCI image layout or `docker save` tarball: its layers\n"
          "                        become an ext4 root disk run by a small init with the\n"
          "                        default kernel\n"
          "  --snapshot-after TEXT boot the machine until TEXT appears on its console, then\n"
          "                        embed a snapshot: `vessel run` resumes instead of booting\n"
          "  --snapshot-timeout S  how long to wait for TEXT (default 600)\n"
          "\n"
          "The run options (--kernel, --initrd, --append, --memory, --net, --mac, --rng,\n"
          "--console-device) are `vessel run`'s and become the appliance's configuration.\n",
          stdout);
}

/* Options that describe this process, not the machine, have no place in an appliance. */
static const char *const pack_refused[] = {"--console",     "--api-sock",           "--restore",
                                           "--restore-mem", "--incoming",           "--memory-file",
                                           "--display",     "--screenshot-on-exit", "--balloon"};

static int pack_parse(struct pack *p, int argc, char **argv, char *err, size_t errlen)
{
    p->timeout_s = 600;
    p->run_argv[p->run_argc++] = "vessel";
    p->run_argv[p->run_argc++] = "run";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool has = false;
#define PACK_OPT(s) (!strcmp(a, s) && (has = true))
        if (PACK_OPT("-o") || PACK_OPT("--output")) {
            p->out = v;
        } else if (PACK_OPT("--name")) {
            p->name = v;
        } else if (PACK_OPT("--version")) {
            p->version = v;
        } else if (PACK_OPT("--oci")) {
            p->oci = v;
        } else if (PACK_OPT("--snapshot-after")) {
            p->marker = v;
        } else if (PACK_OPT("--snapshot-timeout")) {
            p->timeout_s = v ? (unsigned)strtoul(v, NULL, 10) : 0;
            if (!p->timeout_s) return error_set(err, errlen, "--snapshot-timeout: not seconds");
        } else if (PACK_OPT("--append")) {
            p->append = v;
        } else if (PACK_OPT("--disk")) {
            if (!v) break;
            if (p->ndisks == VM_MAX_DISKS)
                return error_set(err, errlen, "--disk: at most %d disks", VM_MAX_DISKS);
            struct pack_disk *d = &p->disks[p->ndisks++];
            static char paths[VM_MAX_DISKS][PATH_MAX];
            char *path = paths[p->ndisks - 1];
            appl_fmt(path, PATH_MAX, "%s", v);
            char *c = strchr(path, ',');
            if (c) *c++ = 0;
            d->path = path;
            while (c && *c) {
                char *next = strchr(c, ',');
                if (next) *next++ = 0;
                if (!strncmp(c, "base=", 5) && c[5]) {
                    d->base = c + 5;
                } else if (!strcmp(c, "readonly") || !strcmp(c, "ro") || !strncmp(c, "id=", 3)) {
                    size_t n = strlen(d->flagbuf);
                    appl_fmt(d->flagbuf + n, sizeof(d->flagbuf) - n, ",%s", c);
                } else {
                    return error_set(
                        err, errlen,
                        "--disk %s: unknown option '%s' (base=BASE, readonly, id=NAME)", path, c);
                }
                c = next;
            }
            d->flags = d->flagbuf;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            pack_usage();
            exit(0);
        } else {
            for (size_t k = 0; k < sizeof(pack_refused) / sizeof(pack_refused[0]); k++)
                if (!strncmp(a, pack_refused[k], strlen(pack_refused[k])))
                    return error_set(err, errlen,
                                     "pack: %s is not part of an appliance (give it to vessel run)",
                                     a);
            if (p->run_argc + 1 >= APPL_MAX_ARGS) return error_set(err, errlen, "too many options");
            p->run_argv[p->run_argc++] = a; /* vessel run's option (and maybe its value) */
            continue;
        }
#undef PACK_OPT
        if (!v) return error_set(err, errlen, "option %s needs a value", a);
        i++;
    }
    if (!p->out) return error_set(err, errlen, "pack: -o APP.vessel is required (see --help)");
    return 0;
}

/* ---- the snapshot child ---- */

static int pack_http(const char *sock, const char *method, const char *path, const char *body,
                     char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    appl_fmt(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0) close(fd);
        return error_set(err, errlen, "control socket %s: %s", sock, strerror(errno));
    }
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, strlen(body), body);
    char resp[4096];
    size_t got = 0;
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return error_set(err, errlen, "control socket: %s", strerror(errno));
    }
    for (;;) {
        ssize_t k = read(fd, resp + got, sizeof(resp) - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (got == sizeof(resp) - 1) break;
    }
    close(fd);
    resp[got] = 0;
    if (strncmp(resp, "HTTP/1.1 2", 10) != 0) {
        const char *b = strstr(resp, "\r\n\r\n");
        return error_set(err, errlen, "%s %s: %s", method, path, b ? b + 4 : resp);
    }
    return 0;
}

static bool pack_log_has(const char *log, const char *marker)
{
    FILE *f = fopen(log, "r");
    if (!f) return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    if (n == sizeof(buf) - 1) { /* keep the tail */
        fseek(f, -(long)(sizeof(buf) / 2), SEEK_END);
        n = fread(buf, 1, sizeof(buf) - 1, f);
    }
    fclose(f);
    buf[n] = 0;
    return memmem(buf, n, marker, strlen(marker)) != NULL;
}

static void pack_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Boot argv (a `vessel run` line) in a child with a control socket, wait for the marker on its
 * console, pause, snapshot into work/snap.{state,mem}, stop it. */
static int pack_snapshot(struct pack *p, const char **argv, int argc, char *err, size_t errlen)
{
    char sock[PATH_MAX], log[PATH_MAX], cons[PATH_MAX + 8], body[2 * PATH_MAX + 64];
    appl_fmt(sock, sizeof(sock), "%s/api.sock", p->work);
    appl_fmt(log, sizeof(log), "%s/console.log", p->work);
    appl_fmt(cons, sizeof(cons), "file:%s", log);
    const char *cargv[APPL_MAX_ARGS + 8];
    int c = 0;
    for (int k = 0; k < argc; k++)
        cargv[c++] = argv[k];
    cargv[c++] = "--api-sock";
    cargv[c++] = sock;
    cargv[c++] = "--console";
    cargv[c++] = cons;
    cargv[c] = NULL;
    fprintf(stderr, "vessel pack: booting to take the snapshot (waiting for \"%s\")\n", p->marker);
    pid_t pid = fork();
    if (pid < 0) return error_set(err, errlen, "fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execv("/proc/self/exe", (char *const *)cargv);
        _exit(127);
    }
    int rc = -1, status;
    bool seen = false;
    for (unsigned t = 0; t < p->timeout_s * 10; t++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            error_set(err, errlen, "the machine stopped before \"%s\" appeared (console: %s)",
                      p->marker, log);
            break;
        }
        if ((seen = pack_log_has(log, p->marker))) break;
        pack_sleep_ms(100);
    }
    if (pid > 0 && !seen)
        error_set(err, errlen, "\"%s\" did not appear within %u s (console: %s)", p->marker,
                  p->timeout_s, log);
    if (seen) {
        appl_fmt(body, sizeof(body),
                 "{\"snapshot_path\": \"%s/snap.state\", \"mem_file_path\": \"%s/snap.mem\"}",
                 p->work, p->work);
        if (pack_http(sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", err, errlen) == 0 &&
            pack_http(sock, "PUT", "/snapshot/create", body, err, errlen) == 0)
            rc = 0;
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        for (int t = 0; t < 100 && waitpid(pid, &status, WNOHANG) == 0; t++)
            pack_sleep_ms(100);
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    return rc;
}

/* ---- the whole pack ---- */

static void pack_rm_work(const char *dir)
{
    char cmd[PATH_MAX + 32];
    /* Everything in it was made here; a plain recursive removal of our own directory. */
    if (!dir[0] || !strstr(dir, ".pack-")) return;
    appl_fmt(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "vessel pack: could not remove %s\n", dir);
}

static int pack_concat(const char *a, const uint8_t *b, size_t blen, const char *out, char *err,
                       size_t errlen)
{
    FILE *in = fopen(a, "rb"), *o = fopen(out, "wb");
    int rc = in && o ? 0 : -1;
    static char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, o) != n) rc = -1;
    /* The kernel reads concatenated initramfs archives; the first one is padded to 4 bytes. */
    long pos = o ? ftell(o) : 0;
    while (rc == 0 && pos % 4) {
        fputc(0, o);
        pos++;
    }
    if (rc == 0 && fwrite(b, 1, blen, o) != blen) rc = -1;
    if (in) fclose(in);
    if (o && fclose(o) != 0) rc = -1;
    if (rc < 0) return error_set(err, errlen, "building the initrd %s from %s", out, a);
    return 0;
}

static json_t *pack_machine(const struct vm_config *cfg)
{
    json_t *m = json_object();
    json_object_set_new(m, "memory", json_integer((json_int_t)cfg->mem_size));
    json_object_set_new(m, "cpus", json_integer(cfg->cpus));
    json_object_set_new(m, "cmdline", json_string(cfg->cmdline));
    json_object_set_new(m, "net", cfg->net ? json_string(cfg->net) : json_null());
    json_object_set_new(m, "mac", cfg->mac ? json_string(cfg->mac) : json_null());
    json_object_set_new(m, "rng", json_boolean(cfg->rng));
    json_object_set_new(m, "console_device", json_string(cfg->hvc ? "virtio" : "uart"));
    return m;
}

static int pack_run(struct pack *p, char *err, size_t errlen)
{
    char dir[PATH_MAX], obuf[PATH_MAX];
    appl_fmt(obuf, sizeof(obuf), "%s", p->out);
    appl_fmt(dir, sizeof(dir), "%s", dirname(obuf));
    appl_fmt(p->work, sizeof(p->work), "%s/.pack-XXXXXX", dir);
    if (!mkdtemp(p->work)) {
        p->work[0] = 0;
        return error_set(err, errlen, "work directory in %s: %s", dir, strerror(errno));
    }
    char *realwork = realpath(p->work, NULL);
    if (realwork) {
        appl_fmt(p->work, sizeof(p->work), "%s", realwork);
        free(realwork);
    }
    json_t *oci_info = NULL;
    char initrd_oci[PATH_MAX], rootfs[PATH_MAX], append_buf[4096];
    uint8_t *cpio = NULL;
    size_t cpio_len = 0;
    if (p->oci) {
        appl_fmt(rootfs, sizeof(rootfs), "%s/rootfs.ext4", p->work);
        if (p->ndisks == VM_MAX_DISKS)
            return error_set(err, errlen, "--oci: no disk slot left for the image's root");
        if (appl_oci_import(p->oci, p->work, rootfs, &cpio, &cpio_len, &oci_info, err, errlen) < 0)
            return -1;
        /* The image's root is the first disk (/dev/vda). */
        memmove(&p->disks[1], &p->disks[0], p->ndisks * sizeof(p->disks[0]));
        p->ndisks++;
        p->disks[0] = (struct pack_disk){.path = rootfs, .flags = ""};
        appl_fmt(append_buf, sizeof(append_buf), "%s%srdinit=/vessel-oci/init quiet",
                 p->append ? p->append : "", p->append ? " " : "");
        p->append = append_buf;
    }
    /* The configuration, checked by vessel run's own parser. */
    const char *argv[APPL_MAX_ARGS + 16];
    int argc = 0;
    for (int k = 0; k < p->run_argc; k++)
        argv[argc++] = p->run_argv[k];
    if (p->append) {
        argv[argc++] = "--append";
        argv[argc++] = p->append;
    }
    int base_argc = argc;
    enum cli_command cmd;
    struct vm_config cfg;
    if (cli_parse(argc, (char **)argv, &cmd, &cfg, err, errlen) < 0) return -1;
    if (cmd != CLI_RUN) return error_set(err, errlen, "pack: not a machine configuration");
    if (cli_check_files(&cfg, err, errlen) < 0) return -1;
    if (!cfg.kernel) return error_set(err, errlen, "pack: no kernel");
    const char *initrd = cfg.initrd;
    if (p->oci) {
        if (!initrd) return error_set(err, errlen, "--oci needs an initrd (the default guest's)");
        appl_fmt(initrd_oci, sizeof(initrd_oci), "%s/initrd.img", p->work);
        int rc = pack_concat(initrd, cpio, cpio_len, initrd_oci, err, errlen);
        free(cpio);
        if (rc < 0) return -1;
        initrd = initrd_oci;
    }
    /* Disks: each as qcow2 over its base (a link to the base beside it, named as the image
     * names it, so the same name resolves beside the appliance later). */
    char packed[VM_MAX_DISKS][PATH_MAX], base_dir[VM_MAX_DISKS][PATH_MAX];
    for (unsigned k = 0; k < p->ndisks; k++) {
        struct pack_disk *d = &p->disks[k];
        base_dir[k][0] = 0;
        if (d->base) {
            char tmp[PATH_MAX], *real = realpath(d->base, NULL);
            if (!real)
                return error_set(err, errlen, "--disk base %s: %s", d->base, strerror(errno));
            appl_fmt(tmp, sizeof(tmp), "%s", real);
            appl_fmt(d->base_name, sizeof(d->base_name), "%s", basename(tmp));
            appl_fmt(tmp, sizeof(tmp), "%s", real);
            appl_fmt(base_dir[k], sizeof(base_dir[k]), "%s", dirname(tmp));
            char link[PATH_MAX];
            appl_fmt(link, sizeof(link), "%s/%s", p->work, d->base_name);
            char cur[PATH_MAX];
            ssize_t n = readlink(link, cur, sizeof(cur) - 1);
            if (n >= 0) {
                cur[n] = 0;
                if (strcmp(cur, real) != 0) {
                    free(real);
                    return error_set(err, errlen, "two bases named %s", d->base_name);
                }
            } else if (symlink(real, link) < 0) {
                free(real);
                return error_set(err, errlen, "%s: %s", link, strerror(errno));
            }
            free(real);
        }
        appl_fmt(packed[k], sizeof(packed[k]), "%s/disk%u.qcow2", p->work, k);
        fprintf(stderr, "vessel pack: disk %u: %s%s%s\n", k, d->path, d->base ? " over " : "",
                d->base ? d->base : "");
        if (appl_qcow2_convert(d->path, d->base, d->base_name, packed[k], err, errlen) < 0)
            return -1;
    }
    bool snap = p->marker != NULL;
    if (snap) {
        /* Boot over overlays, snapshot, and pack what the overlays then hold. */
        static char specs[VM_MAX_DISKS][2 * PATH_MAX + 64];
        const char *cargv[APPL_MAX_ARGS + 32];
        int c = 0;
        for (int k = 0; k < base_argc; k++)
            cargv[c++] = argv[k];
        cargv[c++] = "--kernel";
        cargv[c++] = cfg.kernel;
        if (initrd) {
            cargv[c++] = "--initrd";
            cargv[c++] = initrd;
        }
        char ovl[VM_MAX_DISKS][PATH_MAX];
        for (unsigned k = 0; k < p->ndisks; k++) {
            appl_fmt(ovl[k], sizeof(ovl[k]), "%s/run%u.qcow2", p->work, k);
            char why[512], name[64];
            uint64_t size;
            if (appl_qcow2_size(packed[k], &size, why, sizeof(why)) < 0)
                return error_set(err, errlen, "%s", why);
            appl_fmt(name, sizeof(name), "disk%u.qcow2", k);
            if (appl_qcow2_create(ovl[k], size, name, "qcow2", why, sizeof(why)) < 0)
                return error_set(err, errlen, "%s", why);
            appl_fmt(specs[k], sizeof(specs[k]), "%s,format=qcow2%s%s%s", ovl[k],
                     base_dir[k][0] ? ",backing-dir=" : "", base_dir[k], p->disks[k].flags);
            cargv[c++] = "--disk";
            cargv[c++] = specs[k];
        }
        if (pack_snapshot(p, cargv, c, err, errlen) < 0) return -1;
        for (unsigned k = 0; k < p->ndisks; k++) {
            char final[PATH_MAX], src[2 * PATH_MAX];
            appl_fmt(final, sizeof(final), "%s/final%u.qcow2", p->work, k);
            appl_fmt(src, sizeof(src), "%s", ovl[k]);
            /* the overlay reads through disk%u.qcow2 and the base link beside it */
            if (appl_qcow2_convert(src, p->disks[k].base, p->disks[k].base_name, final, err,
                                   errlen) < 0)
                return -1;
            if (rename(final, packed[k]) < 0)
                return error_set(err, errlen, "%s: %s", final, strerror(errno));
        }
    }
    /* The file. */
    struct appl_writer w;
    if (appl_writer_open(&w, p->out, err, errlen) < 0) return -1;
    int rc = appl_writer_add_file(&w, "kernel", "kernel", cfg.kernel, NULL, err, errlen);
    if (rc == 0 && initrd)
        rc = appl_writer_add_file(&w, "initrd", "initrd", initrd, NULL, err, errlen);
    for (unsigned k = 0; rc == 0 && k < p->ndisks; k++) {
        const struct pack_disk *d = &p->disks[k];
        json_t *x = json_object();
        char name[32];
        appl_fmt(name, sizeof(name), "disk%u", k);
        json_object_set_new(x, "format", json_string("qcow2"));
        json_object_set_new(x, "readonly", json_boolean(strstr(d->flags, ",ro") != NULL));
        const char *id = strstr(d->flags, ",id=");
        if (id) {
            char idb[32];
            appl_fmt(idb, sizeof(idb), "%.*s", (int)strcspn(id + 4, ","), id + 4);
            json_object_set_new(x, "id", json_string(idb));
        }
        if (d->base) {
            int bfd = open(d->base, O_RDONLY | O_CLOEXEC);
            struct stat st;
            uint8_t sha[32];
            char hex[65];
            if (bfd < 0 || fstat(bfd, &st) < 0 ||
                appl_sha256_range(bfd, 0, (uint64_t)st.st_size, sha) < 0) {
                if (bfd >= 0) close(bfd);
                json_decref(x);
                rc = error_set(err, errlen, "base %s: cannot hash", d->base);
                break;
            }
            appl_hex(sha, hex);
            appl_verified_put(bfd, hex);
            close(bfd);
            json_t *b = json_object();
            json_object_set_new(b, "name", json_string(d->base_name));
            json_object_set_new(b, "size", json_integer((json_int_t)st.st_size));
            json_object_set_new(b, "sha256", json_string(hex));
            json_object_set_new(x, "base", b);
        }
        rc = appl_writer_add_file(&w, name, "disk", packed[k], x, err, errlen);
    }
    if (rc == 0 && snap) {
        char st[PATH_MAX], mem[PATH_MAX];
        appl_fmt(st, sizeof(st), "%s/snap.state", p->work);
        appl_fmt(mem, sizeof(mem), "%s/snap.mem", p->work);
        rc = appl_writer_add_file(&w, "snapshot-state", "snapshot-state", st, NULL, err, errlen);
        if (rc == 0)
            rc = appl_writer_add_file(&w, "snapshot-memory", "snapshot-memory", mem, NULL, err,
                                      errlen);
    }
    if (rc < 0) {
        appl_writer_abort(&w);
        json_decref(oci_info);
        return -1;
    }
    json_t *m = json_object();
    char obuf2[PATH_MAX];
    appl_fmt(obuf2, sizeof(obuf2), "%s", p->out);
    char *bn = basename(obuf2);
    char *dot = strrchr(bn, '.');
    if (dot && dot != bn) *dot = 0;
    json_object_set_new(m, "name", json_string(p->name ? p->name : bn));
    json_object_set_new(m, "version", json_string(p->version ? p->version : "0"));
    json_object_set_new(m, "created_by", json_string(APPL_CREATED_BY));
    json_object_set_new(m, "machine", pack_machine(&cfg));
    if (snap) {
        json_t *s = json_object();
        json_object_set_new(s, "after", json_string(p->marker));
        json_object_set_new(m, "snapshot", s);
    }
    if (oci_info) json_object_set_new(m, "oci", oci_info);
    if (appl_writer_finish(&w, m, err, errlen) < 0) {
        appl_writer_abort(&w);
        return -1;
    }
    /* This host has just hashed every part: the first run need not do it again. */
    struct appl a;
    if (appl_open(p->out, &a, err, errlen) == 0) {
        appl_verify(&a, false, err, errlen);
        appl_close(&a);
    }
    return 0;
}

int appliance_pack_main(int argc, char **argv)
{
    struct pack p = {0};
    char err[2048] = "";
    int rc = pack_parse(&p, argc, argv, err, sizeof(err));
    if (rc == 0) rc = pack_run(&p, err, sizeof(err));
    pack_rm_work(p.work);
    if (rc < 0) {
        fprintf(stderr, "vessel: %s\n", err);
        return APPL_EXIT_BAD;
    }
    struct stat st;
    if (stat(p.out, &st) == 0)
        fprintf(stderr, "vessel pack: wrote %s (%llu bytes, %llu on disk)\n", p.out,
                (unsigned long long)st.st_size, (unsigned long long)st.st_blocks * 512);
    return 0;
}
