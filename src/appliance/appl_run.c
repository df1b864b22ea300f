/* appl_run.c — `vessel run APP.vessel [overrides]` and `vessel inspect-appliance APP.vessel`.
 * A run checks the file (header, manifest, every part's SHA-256, or the record that this very
 * file was checked before), then starts the machine with `vessel run`'s own parser and main
 * loop: the appliance's configuration comes first on the synthesized command line and the
 * user's options after it, so they override. What can be used in place is: the snapshot's
 * memory is mapped from the appliance file at its offset (pages are read on first touch and
 * shared by every copy through the page cache); the kernel, initrd and state file are read
 * into memory files. The block layer opens whole files, so each disk image is copied once per
 * host into a cache named by the manifest's hash (read-only, shared by every run), and each
 * run writes only its own overlay on top, removed when it ends. */
#include "appliance/appliance.h"
#include "appliance/appl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/clock.h"
#include "vm/cli.h"
#include "vm/vm.h"
#include "vessel/log.h"

#define RUN_MAX_ARGS 160

bool appliance_is_file(const char *path)
{
    char m[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = read(fd, m, 8) == 8 && !memcmp(m, APPL_MAGIC, 8);
    close(fd);
    return ok;
}

/* Copy [off, off+len) of fd into dst (holes stay holes). */
static int run_copy_range(int fd, uint64_t off, uint64_t len, int dst)
{
    static uint8_t buf[1 << 20];
    uint64_t pos = 0;
    while (pos < len) {
        off_t d = lseek(fd, (off_t)(off + pos), SEEK_DATA);
        if (d < 0 || (uint64_t)d >= off + len) break;
        off_t h = lseek(fd, d, SEEK_HOLE);
        uint64_t end = h < 0 || (uint64_t)h > off + len ? off + len : (uint64_t)h;
        for (uint64_t p = (uint64_t)d; p < end;) {
            size_t n = end - p < sizeof(buf) ? (size_t)(end - p) : sizeof(buf);
            ssize_t k = pread(fd, buf, n, (off_t)p);
            if (k <= 0) return k < 0 ? -errno : -EIO;
            for (ssize_t w = 0; w < k;) {
                ssize_t m = pwrite(dst, buf + w, (size_t)(k - w), (off_t)(p - off + (uint64_t)w));
                if (m <= 0) return m < 0 ? -errno : -EIO;
                w += m;
            }
            p += (uint64_t)k;
        }
        pos = end - off;
    }
    return ftruncate(dst, (off_t)len) < 0 ? -errno : 0;
}

/* A part as a memory file; its /proc/self/fd path in `path`. The descriptor stays open for
 * the life of the process. */
static int run_memfd(const struct appl *a, const struct appl_part *p, char *path, size_t len,
                     char *err, size_t errlen)
{
    int fd = memfd_create(p->name, MFD_CLOEXEC);
    if (fd < 0) return error_set(err, errlen, "memfd: %s", strerror(errno));
    int rc = run_copy_range(a->fd, p->offset, p->size, fd);
    if (rc < 0) {
        close(fd);
        return error_set(err, errlen, "reading part '%s': %s", p->name, strerror(-rc));
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

/* The disk part k as a read-only file in the cache (made once). */
static int run_disk_cache(const struct appl *a, const struct appl_part *p, const char *dir,
                          char *err, size_t errlen)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 96];
    snprintf(path, sizeof(path), "%s/%s.qcow2", dir, p->name);
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == p->size) return 0;
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd < 0) return error_set(err, errlen, "%s: %s", tmp, strerror(errno));
    int rc = run_copy_range(a->fd, p->offset, p->size, fd);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return error_set(err, errlen, "%s: %s", path, strerror(-rc));
    }
    return 0;
}

/* Find, check and link a disk's base beside its cached image. base_dir gets the directory
 * the base really lies in (the overlay's backing-dir). */
static int run_base(json_t *b, const char *search, const char *dir, char *base_dir, size_t bdlen,
                    bool cached, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *hex = json_string_value(json_object_get(b, "sha256"));
    json_t *js = json_object_get(b, "size");
    uint8_t want[32], have[32];
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
        !appl_unhex(hex, want) || !json_is_integer(js))
        return error_set(err, errlen, "manifest: malformed disk base");
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", search, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) close(fd);
        return error_set(err, errlen,
                         "the appliance's disk base '%s' is not in %s (--base-dir DIR says where "
                         "it is)",
                         name, search);
    }
    if ((uint64_t)st.st_size != (uint64_t)json_integer_value(js)) {
        close(fd);
        return error_set(err, errlen, "base %s has %llu bytes, the appliance expects %lld", path,
                         (unsigned long long)st.st_size, (long long)json_integer_value(js));
    }
    if (!cached || !appl_verified_get(fd, hex)) {
        int rc = appl_sha256_range(fd, 0, (uint64_t)st.st_size, have);
        if (rc < 0 || memcmp(have, want, 32) != 0) {
            close(fd);
            return error_set(err, errlen,
                             "base %s does not match the SHA-256 the appliance expects (another "
                             "image, damaged or tampered)",
                             path);
        }
        appl_verified_put(fd, hex);
    }
    close(fd);
    char *real = realpath(path, NULL);
    if (!real) return error_set(err, errlen, "%s: %s", path, strerror(errno));
    char link[PATH_MAX + 300], cur[PATH_MAX];
    snprintf(link, sizeof(link), "%s/%s", dir, name);
    ssize_t n = readlink(link, cur, sizeof(cur) - 1);
    if (n < 0 || (cur[n] = 0, strcmp(cur, real) != 0)) {
        char tmp[PATH_MAX + 340];
        snprintf(tmp, sizeof(tmp), "%s.%d", link, (int)getpid());
        unlink(tmp);
        if (symlink(real, tmp) < 0 || rename(tmp, link) < 0) {
            int e = errno;
            unlink(tmp);
            free(real);
            return error_set(err, errlen, "%s: %s", link, strerror(e));
        }
    }
    snprintf(base_dir, bdlen, "%s", dirname(real));
    free(real);
    return 0;
}

/* Overlays of runs that were killed (their pid is gone) are removed. */
static void run_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        char rest[8];
        if (sscanf(e->d_name, "run-%d-%7s", &pid, rest) != 2 || pid <= 0) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char path[PATH_MAX + 300];
        if (appl_fmt(path, sizeof(path), "%s/%s", dir, e->d_name)) unlink(path);
    }
    closedir(d);
}

struct run {
    struct appl a;
    const char *user[RUN_MAX_ARGS];
    int nuser;
    const char *base_dir, *append;
    bool cold, verify_full, keep, has_expect;
    uint8_t expect[32]; /* --expect-sha256: the manifest's hash the user trusts */
    char overlays[VM_MAX_DISKS][PATH_MAX + 64];
    unsigned noverlays;
};

static void run_usage(void)
{
    fputs("usage: vessel run APP.vessel [options] [vessel run options]\n"
          "\n"
          "Start an appliance made by `vessel pack` (docs/APPLIANCE.md): its hashes are\n"
          "checked, and with an embedded snapshot it resumes instead of booting. The\n"
          "`vessel run` options given (--net, --console, --api-sock, --memory, ...)\n"
          "override the appliance's own.\n"
          "\n"
          "  --cold               boot even if the appliance holds a snapshot\n"
          "  --base-dir DIR       where the disks' bases are (default: beside the appliance)\n"
          "  --verify full        hash every part even if this file was verified before\n"
          "  --expect-sha256 HEX  refuse the file unless its manifest has this SHA-256\n"
          "                       (vessel inspect-appliance prints it)\n"
          "  --keep-overlays      keep this run's disk overlays (their paths are printed)\n",
          stdout);
}

static int run_parse(struct run *r, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cold")) {
            r->cold = true;
        } else if (!strcmp(a, "--keep-overlays")) {
            r->keep = true;
        } else if (!strcmp(a, "--base-dir") || !strcmp(a, "--verify") || !strcmp(a, "--append") ||
                   !strcmp(a, "--expect-sha256")) {
            if (!v) return error_set(err, errlen, "option %s needs a value", a);
            if (!strcmp(a, "--expect-sha256")) {
                if (!appl_unhex(v, r->expect))
                    return error_set(err, errlen, "--expect-sha256: '%s' is not 64 hex digits", v);
                r->has_expect = true;
            } else if (!strcmp(a, "--base-dir"))
                r->base_dir = v;
            else if (!strcmp(a, "--append"))
                r->append = v;
            else if (!strcmp(v, "full"))
                r->verify_full = true;
            else if (strcmp(v, "cached") != 0)
                return error_set(err, errlen, "--verify: '%s' is not full or cached", v);
            i++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_usage();
            exit(0);
        } else if (!strcmp(a, "--kernel") || !strcmp(a, "--initrd") || !strcmp(a, "--disk") ||
                   !strcmp(a, "--restore") || !strcmp(a, "--incoming")) {
            return error_set(err, errlen,
                             "%s: an appliance brings its own (see vessel run APP --help)", a);
        } else {
            if (r->nuser + 1 >= RUN_MAX_ARGS) return error_set(err, errlen, "too many options");
            r->user[r->nuser++] = a;
        }
    }
    return 0;
}

static const char *run_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int appliance_run_main(int argc, char **argv)
{
    uint64_t t0 = clock_ns();
    struct run r = {0};
    char err[2048];
    int status = APPL_EXIT_BAD;
    const char *path = argv[1];
    r.a.fd = -1;
    if (run_parse(&r, argc, argv, err, sizeof(err)) < 0) goto fail;
    if (appl_open(path, &r.a, err, sizeof(err)) < 0) goto fail;
    if (r.has_expect && memcmp(r.expect, r.a.manifest_sha256, 32) != 0) {
        char hex[65];
        appl_hex(r.a.manifest_sha256, hex);
        snprintf(err, sizeof(err),
                 "appliance '%s': its manifest's SHA-256 is %s, not the one expected (another "
                 "appliance or version, or tampered)",
                 path, hex);
        goto fail;
    }
    if (appl_verify(&r.a, !r.verify_full, err, sizeof(err)) < 0) goto fail;
    uint64_t t_verified = clock_ns();

    json_t *mach = json_object_get(r.a.manifest, "machine");
    if (!json_is_object(mach)) {
        snprintf(err, sizeof(err), "appliance '%s': manifest has no machine", path);
        goto fail;
    }
    const struct appl_part *kernel = appl_find(&r.a, "kernel"), *initrd = appl_find(&r.a, "initrd");
    const struct appl_part *state = appl_find(&r.a, "snapshot-state");
    const struct appl_part *mem = appl_find(&r.a, "snapshot-memory");
    bool snap = state && mem && !r.cold;
    if (!kernel && !snap) {
        snprintf(err, sizeof(err), "appliance '%s' has no kernel", path);
        goto fail;
    }
    if (snap && r.append) {
        snprintf(err, sizeof(err), "--append: the snapshot has booted already (add --cold)");
        goto fail;
    }

    /* The command line vessel run would have been given. */
    static char bufs[16][PATH_MAX + 128];
    unsigned nb = 0;
    const char *av[RUN_MAX_ARGS + 40];
    int ac = 0;
    av[ac++] = "vessel";
    av[ac++] = "run";
    if (snap) {
        if (run_memfd(&r.a, state, bufs[nb], sizeof(bufs[nb]), err, sizeof(err)) < 0) goto fail;
        av[ac++] = "--restore";
        av[ac++] = bufs[nb++];
        av[ac++] = "--restore-mem";
        av[ac++] = path;
    } else {
        if (run_memfd(&r.a, kernel, bufs[nb], sizeof(bufs[nb]), err, sizeof(err)) < 0) goto fail;
        av[ac++] = "--kernel";
        av[ac++] = bufs[nb++];
        if (initrd) {
            if (run_memfd(&r.a, initrd, bufs[nb], sizeof(bufs[nb]), err, sizeof(err)) < 0)
                goto fail;
            av[ac++] = "--initrd";
            av[ac++] = bufs[nb++];
        }
        json_t *m = json_object_get(mach, "memory");
        if (json_is_integer(m)) {
            snprintf(bufs[nb], sizeof(bufs[nb]), "%lld", (long long)json_integer_value(m));
            av[ac++] = "--memory";
            av[ac++] = bufs[nb++];
        }
    }
    if (run_str(mach, "net")) {
        av[ac++] = "--net";
        av[ac++] = run_str(mach, "net");
    }
    if (run_str(mach, "mac")) {
        av[ac++] = "--mac";
        av[ac++] = run_str(mach, "mac");
    }
    av[ac++] = "--rng";
    av[ac++] = json_is_false(json_object_get(mach, "rng")) ? "off" : "on";
    if (run_str(mach, "console_device")) {
        av[ac++] = "--console-device";
        av[ac++] = run_str(mach, "console_device");
    }
    /* Disks: the cached image under a per-run overlay. */
    char dir[PATH_MAX], key[65], search[PATH_MAX];
    if (appl_cache_dir(dir, sizeof(dir), err, sizeof(err)) < 0) goto fail;
    appl_hex(r.a.manifest_sha256, key);
    size_t dl = strlen(dir);
    snprintf(dir + dl, sizeof(dir) - dl, "/%s", key);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, sizeof(err), "%s: %s", dir, strerror(errno));
        goto fail;
    }
    char pbuf[PATH_MAX];
    snprintf(pbuf, sizeof(pbuf), "%s", path);
    snprintf(search, sizeof(search), "%s", r.base_dir ? r.base_dir : dirname(pbuf));
    run_sweep(dir);
    static char specs[VM_MAX_DISKS][3 * PATH_MAX];
    for (unsigned k = 0; k < r.a.nparts; k++) {
        const struct appl_part *p = &r.a.parts[k];
        if (strcmp(p->type, "disk") != 0) continue;
        if (r.noverlays == VM_MAX_DISKS) {
            snprintf(err, sizeof(err), "appliance '%s': too many disks", path);
            goto fail;
        }
        char base_dir[PATH_MAX] = "", why[1024];
        json_t *b = json_object_get(p->j, "base");
        if (b && run_base(b, search, dir, base_dir, sizeof(base_dir), !r.verify_full, why,
                          sizeof(why)) < 0) {
            snprintf(err, sizeof(err), "appliance '%s': %s", path, why);
            goto fail;
        }
        if (run_disk_cache(&r.a, p, dir, err, sizeof(err)) < 0) goto fail;
        char *ovl = r.overlays[r.noverlays];
        snprintf(ovl, sizeof(r.overlays[0]), "%s/run-%d-%s.qcow2", dir, (int)getpid(), p->name);
        char name[64];
        uint64_t size;
        snprintf(name, sizeof(name), "%s.qcow2", p->name);
        char img[PATH_MAX + 64];
        snprintf(img, sizeof(img), "%s/%s", dir, name);
        unlink(ovl); /* a dead run's with our pid */
        if (appl_qcow2_size(img, &size, err, sizeof(err)) < 0 ||
            appl_qcow2_create(ovl, size, name, "qcow2", err, sizeof(err)) < 0)
            goto fail;
        char *spec = specs[r.noverlays++];
        const char *id = run_str(p->j, "id");
        /* The id goes into a --disk spec: nothing that could add an option to it. */
        for (const char *c = id; c && *c; c++)
            if (*c == ',' || *c == '=' || (unsigned char)*c < 0x20) {
                snprintf(err, sizeof(err), "appliance '%s': disk id '%s' is malformed", path, id);
                goto fail;
            }
        snprintf(spec, sizeof(specs[0]), "%s,format=qcow2%s%s%s%s%s", ovl,
                 base_dir[0] ? ",backing-dir=" : "", base_dir,
                 json_is_true(json_object_get(p->j, "readonly")) ? ",readonly" : "",
                 id ? ",id=" : "", id ? id : "");
        av[ac++] = "--disk";
        av[ac++] = spec;
    }
    for (int k = 0; k < r.nuser; k++)
        av[ac++] = r.user[k];
    av[ac] = NULL;

    enum cli_command cmd;
    struct vm_config cfg;
    if (cli_parse(ac, (char **)av, &cmd, &cfg, err, sizeof(err)) < 0) goto fail;
    if (cmd == CLI_RUN_HELP) {
        run_usage();
        status = 0;
        goto out;
    }
    static char cmdline[8192];
    if (!snap) {
        const char *c = run_str(mach, "cmdline");
        if (c) {
            snprintf(cmdline, sizeof(cmdline), "%s%s%s", c, r.append ? " " : "",
                     r.append ? r.append : "");
            cfg.cmdline = cmdline;
        }
    } else {
        cfg.restore_mem_offset = mem->offset;
    }
    if (cli_check_files(&cfg, err, sizeof(err)) < 0) goto fail;
    /* For bench/appliance.py: where the time from launch goes (VESSEL_LAUNCH_NS is the
     * launcher's CLOCK_MONOTONIC at fork, in ns). */
    const char *launch = getenv("VESSEL_LAUNCH_NS");
    if (launch) {
        double l = (double)strtoull(launch, NULL, 10);
        fprintf(stderr,
                "vessel: appliance timing: entered at +%.2f ms, checked at +%.2f ms, "
                "prepared at +%.2f ms\n",
                ((double)t0 - l) / 1e6, ((double)t_verified - l) / 1e6,
                ((double)clock_ns() - l) / 1e6);
    }
    status = vm_main(&cfg);
    goto out;
fail:
    fprintf(stderr, "vessel: %s\n", err);
out:
    for (unsigned k = 0; k < r.noverlays; k++) {
        if (r.keep)
            fprintf(stderr, "vessel: kept overlay %s\n", r.overlays[k]);
        else
            unlink(r.overlays[k]);
    }
    if (r.a.fd >= 0 || r.a.manifest) appl_close(&r.a);
    return status;
}

int appliance_inspect_main(int argc, char **argv)
{
    bool verify = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verify"))
            verify = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: vessel inspect-appliance [--verify] APP.vessel\n\n"
                 "Print the appliance's manifest (JSON); --verify also checks every part's "
                 "SHA-256.");
            return 0;
        } else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "vessel: inspect-appliance: unexpected '%s'\n", argv[i]);
            return APPL_EXIT_BAD;
        }
    }
    if (!path) {
        fprintf(stderr, "vessel: inspect-appliance: no appliance file given\n");
        return APPL_EXIT_BAD;
    }
    struct appl a;
    char err[2048];
    if (appl_open(path, &a, err, sizeof(err)) < 0 ||
        (verify && appl_verify(&a, false, err, sizeof(err)) < 0)) {
        if (a.fd >= 0 || a.manifest) appl_close(&a);
        fprintf(stderr, "vessel: %s\n", err);
        return APPL_EXIT_BAD;
    }
    char *text = json_dumps(a.manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) puts(text);
    free(text);
    char hex[65];
    appl_hex(a.manifest_sha256, hex);
    fprintf(stderr, "vessel: manifest SHA-256 %s\n", hex);
    if (verify) fprintf(stderr, "vessel: every part of %s matches its SHA-256\n", path);
    appl_close(&a);
    return 0;
}
