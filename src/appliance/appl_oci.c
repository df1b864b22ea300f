/* appl_oci.c — a container image as a VM: an OCI image layout or `docker save` tarball is
 * unpacked (libarchive), its blobs checked against their digests, its layers applied in order
 * into one directory — whiteouts (".wh.NAME" deletes NAME of the layers below, ".wh..wh..opq"
 * empties its directory) before the layer's own files — and the directory made an ext4 image
 * with `mkfs.ext4 -d` (no mount, no root needed for that step). The image config's entrypoint,
 * cmd, env and working directory become a start script; a small init, appended to the default
 * initrd as a second cpio archive, loads the virtio drivers, mounts the image as root, and
 * runs that script with the guest's busybox, which powers the VM off when the process ends. */
#include "appliance/appl.h"
#include "vessel/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OCI_MAX_LAYERS 128
#define OCI_SCRIPT_MAX (64u << 10)

/* A path from an archive, made relative and refused if it climbs out ("..") — the writer's
 * own checks (SECURE_*) hold too, this keeps whiteout deletions inside the root. */
static bool oci_clean_path(const char *in, char *out, size_t len)
{
    while (*in == '/' || (in[0] == '.' && in[1] == '/'))
        in += *in == '/' ? 1 : 2;
    if (strlen(in) >= len) return false;
    appl_fmt(out, len, "%s", in);
    size_t n = strlen(out);
    while (n && out[n - 1] == '/')
        out[--n] = 0;
    for (const char *p = out; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.') return false;
        p += seg;
        while (*p == '/')
            p++;
    }
    return true;
}

static int oci_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void oci_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return;
    if (S_ISDIR(st.st_mode))
        nftw(path, oci_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(path);
}

static uint64_t oci_du_total;
static int oci_du_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)path;
    (void)flag;
    (void)f;
    oci_du_total += (uint64_t)st->st_blocks * 512 + 4096;
    return 0;
}

/* Extract every entry of `tarball` under `dir`, except whiteouts, which are applied (when
 * `layer`) before anything of the layer is written. */
static int oci_extract(const char *tarball, const char *dir, bool layer, char *err, size_t errlen)
{
    for (int pass = layer ? 0 : 1; pass < 2; pass++) {
        struct archive *ar = archive_read_new();
        archive_read_support_filter_all(ar);
        archive_read_support_format_tar(ar);
        struct archive *wr = archive_write_disk_new();
        archive_write_disk_set_options(
            wr, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_OWNER |
                    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
        int rc = 0;
        if (archive_read_open_filename(ar, tarball, 1 << 16) != ARCHIVE_OK) {
            rc = error_set(err, errlen, "%s: %s", tarball, archive_error_string(ar));
            goto done;
        }
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(ar, &e)) == ARCHIVE_OK) {
            char rel[PATH_MAX], full[2 * PATH_MAX + 8];
            if (!oci_clean_path(archive_entry_pathname(e), rel, sizeof(rel))) {
                rc = error_set(err, errlen, "%s: entry '%s' leaves the root", tarball,
                               archive_entry_pathname(e));
                goto done;
            }
            if (!rel[0]) continue; /* "./" itself */
            const char *base = strrchr(rel, '/');
            base = base ? base + 1 : rel;
            bool wh = layer && !strncmp(base, ".wh.", 4);
            if (pass == 0) {
                if (!wh) continue;
                char target[PATH_MAX + 8];
                size_t dl = (size_t)(base - rel);
                if (!strcmp(base, ".wh..wh..opq")) {
                    /* an opaque directory: the layers below contribute nothing to it */
                    appl_fmt(target, sizeof(target), "%s/%.*s", dir, (int)dl, rel);
                    DIR *d = opendir(target);
                    if (d) {
                        struct dirent *de;
                        while ((de = readdir(d))) {
                            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                            char child[2 * PATH_MAX + 300];
                            appl_fmt(child, sizeof(child), "%s/%s", target, de->d_name);
                            oci_rm_rf(child);
                        }
                        closedir(d);
                    }
                } else {
                    appl_fmt(target, sizeof(target), "%s/%.*s%s", dir, (int)dl, rel, base + 4);
                    oci_rm_rf(target);
                }
                continue;
            }
            if (wh) continue;
            appl_fmt(full, sizeof(full), "%s/%s", dir, rel);
            archive_entry_set_pathname(e, full);
            const char *hl = archive_entry_hardlink(e);
            if (hl) {
                char hrel[PATH_MAX], hfull[2 * PATH_MAX + 8];
                if (!oci_clean_path(hl, hrel, sizeof(hrel))) {
                    rc = error_set(err, errlen, "%s: link '%s' leaves the root", tarball, hl);
                    goto done;
                }
                appl_fmt(hfull, sizeof(hfull), "%s/%s", dir, hrel);
                archive_entry_set_hardlink(e, hfull);
            }
            if (!layer && !S_ISREG(archive_entry_mode(e)) && !S_ISDIR(archive_entry_mode(e)))
                continue; /* the outer tarball holds only files and directories we read */
            if (archive_write_header(wr, e) != ARCHIVE_OK) {
                rc = error_set(err, errlen, "%s: %s: %s", tarball, rel, archive_error_string(wr));
                goto done;
            }
            const void *buf;
            size_t size;
            la_int64_t off;
            while ((r = archive_read_data_block(ar, &buf, &size, &off)) == ARCHIVE_OK)
                if (archive_write_data_block(wr, buf, size, off) != ARCHIVE_OK) break;
            if (r != ARCHIVE_EOF && r != ARCHIVE_OK) {
                rc = error_set(err, errlen, "%s: %s: %s", tarball, rel, archive_error_string(ar));
                goto done;
            }
            if (archive_write_finish_entry(wr) != ARCHIVE_OK) {
                rc = error_set(err, errlen, "%s: %s: %s", tarball, rel, archive_error_string(wr));
                goto done;
            }
        }
        if (r != ARCHIVE_EOF)
            rc = error_set(err, errlen, "%s: %s (truncated or not a tar archive)", tarball,
                           archive_error_string(ar));
    done:
        archive_read_free(ar);
        archive_write_free(wr);
        if (rc < 0) return -1;
    }
    return 0;
}

static json_t *oci_load_json(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) error_set(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
    return j;
}

/* A blob of an OCI layout, checked against its digest. */
static int oci_blob(const char *root, const char *digest, char *out, size_t len, char *err,
                    size_t errlen)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71 ||
        strchr(digest + 7, '/'))
        return error_set(err, errlen, "unsupported or malformed digest '%s'", digest ? digest : "");
    appl_fmt(out, len, "%s/blobs/sha256/%s", root, digest + 7);
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t sha[32];
    char hex[65];
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) close(fd);
        return error_set(err, errlen, "blob %s is missing from the image", digest);
    }
    int rc = appl_sha256_range(fd, 0, (uint64_t)st.st_size, sha);
    close(fd);
    appl_hex(sha, hex);
    if (rc < 0 || strcmp(hex, digest + 7) != 0)
        return error_set(err, errlen, "blob %s does not match its digest (damaged image)", digest);
    return 0;
}

/* Config and layer files of the image in `root` (an unpacked tarball). */
static int oci_find(const char *root, char *config, size_t clen, char (*layers)[PATH_MAX],
                    unsigned *nlayers, char *err, size_t errlen)
{
    char p[PATH_MAX + 32];
    appl_fmt(p, sizeof(p), "%s/index.json", root);
    json_t *m = NULL;
    int rc = -1;
    *nlayers = 0;
    if (access(p, R_OK) == 0) {
        json_t *idx = oci_load_json(p, err, errlen);
        if (!idx) return -1;
        const char *d = json_string_value(
            json_object_get(json_array_get(json_object_get(idx, "manifests"), 0), "digest"));
        char mp[PATH_MAX + 100];
        for (int depth = 0; depth < 4; depth++) { /* an index may point at another index */
            if (oci_blob(root, d, mp, sizeof(mp), err, errlen) < 0) break;
            json_decref(m);
            if (!(m = oci_load_json(mp, err, errlen))) break;
            json_t *ms = json_object_get(m, "manifests");
            if (!json_is_array(ms)) break;
            d = json_string_value(json_object_get(json_array_get(ms, 0), "digest"));
        }
        json_decref(idx);
        if (!m || !json_object_get(m, "layers")) {
            if (m) error_set(err, errlen, "%s: no image manifest", root);
            goto out;
        }
        if (oci_blob(root,
                     json_string_value(json_object_get(json_object_get(m, "config"), "digest")),
                     config, clen, err, errlen) < 0)
            goto out;
        json_t *ls = json_object_get(m, "layers");
        for (size_t k = 0; k < json_array_size(ls); k++) {
            if (k == OCI_MAX_LAYERS) {
                error_set(err, errlen, "more than %d layers", OCI_MAX_LAYERS);
                goto out;
            }
            if (oci_blob(root, json_string_value(json_object_get(json_array_get(ls, k), "digest")),
                         layers[k], PATH_MAX, err, errlen) < 0)
                goto out;
            *nlayers = (unsigned)k + 1;
        }
        rc = 0;
        goto out;
    }
    appl_fmt(p, sizeof(p), "%s/manifest.json", root);
    if (access(p, R_OK) != 0)
        return error_set(err, errlen,
                         "neither an OCI image layout (index.json) nor a docker save tarball "
                         "(manifest.json)");
    if (!(m = oci_load_json(p, err, errlen))) return -1;
    json_t *e = json_array_get(m, 0);
    const char *c = json_string_value(json_object_get(e, "Config"));
    json_t *ls = json_object_get(e, "Layers");
    char rel[PATH_MAX];
    if (!c || !json_is_array(ls) || !oci_clean_path(c, rel, sizeof(rel))) {
        error_set(err, errlen, "manifest.json: no Config and Layers");
        goto out;
    }
    appl_fmt(config, clen, "%s/%s", root, rel);
    for (size_t k = 0; k < json_array_size(ls); k++) {
        const char *l = json_string_value(json_array_get(ls, k));
        if (k == OCI_MAX_LAYERS || !l || !oci_clean_path(l, rel, sizeof(rel))) {
            error_set(err, errlen, "manifest.json: bad layer %zu", k);
            goto out;
        }
        appl_fmt(layers[k], PATH_MAX, "%s/%s", root, rel);
        *nlayers = (unsigned)k + 1;
    }
    rc = 0;
out:
    json_decref(m);
    return rc;
}

/* Append s to the script, single-quoted for sh. */
static void oci_quote(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < len) buf[n++] = '\'';
    for (; *s && n + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    if (n + 1 < len) buf[n++] = '\'';
    buf[n] = 0;
}

static void oci_cat(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    appl_fmt(buf + n, len - n, "%s", s);
}

static const char oci_init[] =
    "#!/bin/sh\n"
    "# vessel OCI appliance init: drivers, the image's ext4 root, then its start script.\n"
    "export PATH=/sbin:/bin:/usr/sbin:/usr/bin\n"
    "mount -t proc proc /proc\n"
    "mount -t sysfs sysfs /sys\n"
    "mount -t devtmpfs devtmpfs /dev 2>/dev/null\n"
    "for m in $(cat /etc/guest-modules); do modprobe \"$m\" 2>/dev/null; done\n"
    "i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done\n"
    "mkdir -p /newroot\n"
    "if ! mount -t ext4 /dev/vda /newroot; then\n"
    "    echo 'vessel-oci: cannot mount the image root /dev/vda'; poweroff -f\n"
    "fi\n"
    "for d in dev proc sys tmp .vessel; do mkdir -p /newroot/$d; done\n"
    "mount -t tmpfs -o mode=0755 vessel /newroot/.vessel\n"
    "cp /bin/busybox /vessel-oci/start /newroot/.vessel/\n"
    "mount --move /dev /newroot/dev\n"
    "mount --move /proc /newroot/proc\n"
    "mount --move /sys /newroot/sys\n"
    "exec switch_root /newroot /.vessel/busybox sh /.vessel/start\n";

static json_t *oci_strings(json_t *a)
{
    json_t *out = json_array();
    for (size_t k = 0; k < json_array_size(a); k++)
        if (json_is_string(json_array_get(a, k))) json_array_append(out, json_array_get(a, k));
    return out;
}

/* The start script from the image config; the record of it in `info`. */
static int oci_start_script(json_t *config, char *s, size_t len, json_t **info, char *err,
                            size_t errlen)
{
    json_t *c = json_object_get(config, "config");
    json_t *ep = oci_strings(json_object_get(c, "Entrypoint"));
    json_t *cmd = oci_strings(json_object_get(c, "Cmd"));
    json_t *env = oci_strings(json_object_get(c, "Env"));
    const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
    if (!wd || !*wd) wd = "/";
    if (!json_array_size(ep) && !json_array_size(cmd)) {
        json_decref(ep);
        json_decref(cmd);
        json_decref(env);
        return error_set(err, errlen, "the image has neither Entrypoint nor Cmd");
    }
    s[0] = 0;
    oci_cat(s, len,
            "# vessel OCI appliance: the image's entrypoint and cmd with its env and workdir.\n"
            "B=/.vessel/busybox\n"
            "$B hostname vessel\n"
            "$B ip link set lo up 2>/dev/null\n"
            "if [ -e /sys/class/net/eth0 ]; then\n"
            "    $B ip link set eth0 up; $B ip addr add 10.0.2.15/24 dev eth0\n"
            "    $B ip route add default via 10.0.2.2\n"
            "fi\n"
            "cd ");
    oci_quote(s, len, wd);
    oci_cat(s, len, " || { echo 'vessel-oci: no working directory'; $B poweroff -f; }\n$B env -i");
    bool path = false, home = false;
    for (size_t k = 0; k < json_array_size(env); k++) {
        const char *v = json_string_value(json_array_get(env, k));
        path |= !strncmp(v, "PATH=", 5);
        home |= !strncmp(v, "HOME=", 5);
        oci_cat(s, len, " ");
        oci_quote(s, len, v);
    }
    if (!path)
        oci_cat(s, len, " PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (!home) oci_cat(s, len, " HOME=/root");
    oci_cat(s, len, " HOSTNAME=vessel TERM=linux");
    for (size_t k = 0; k < json_array_size(ep); k++) {
        oci_cat(s, len, " ");
        oci_quote(s, len, json_string_value(json_array_get(ep, k)));
    }
    for (size_t k = 0; k < json_array_size(cmd); k++) {
        oci_cat(s, len, " ");
        oci_quote(s, len, json_string_value(json_array_get(cmd, k)));
    }
    oci_cat(s, len,
            "\nrc=$?\n"
            "echo \"vessel-oci: exit $rc\"\n"
            "$B sync\n"
            "$B poweroff -f\n");
    if (strlen(s) + 1 >= len) return error_set(err, errlen, "the image's command line is too long");
    *info = json_object();
    json_object_set_new(*info, "entrypoint", ep);
    json_object_set_new(*info, "cmd", cmd);
    json_object_set_new(*info, "env", env);
    json_object_set_new(*info, "workdir", json_string(wd));
    const char *user = json_string_value(json_object_get(c, "User"));
    if (user && *user && strcmp(user, "root") && strcmp(user, "0") && strcmp(user, "0:0"))
        fprintf(stderr, "vessel pack: the image's User '%s' is not applied (runs as root)\n", user);
    return 0;
}

/* newc cpio: one entry. */
static void oci_cpio_add(uint8_t **buf, size_t *len, const char *name, unsigned mode,
                         const char *data, size_t dlen)
{
    static unsigned ino = 1000;
    size_t nlen = strlen(name) + 1;
    size_t need = *len + 110 + nlen + 4 + dlen + 4;
    *buf = realloc(*buf, need);
    char hdr[111];
    appl_fmt(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
             ino++, mode, 0u, 0u, 1u, 0u, dlen, 0u, 0u, 0u, 0u, nlen, 0u);
    uint8_t *p = *buf + *len;
    memcpy(p, hdr, 110);
    memcpy(p + 110, name, nlen);
    size_t o = 110 + nlen;
    while (o % 4)
        p[o++] = 0;
    memcpy(p + o, data, dlen);
    o += dlen;
    while (o % 4)
        p[o++] = 0;
    *len += o;
}

static int oci_mkfs(const char *dir, const char *image, char *err, size_t errlen)
{
    oci_du_total = 0;
    nftw(dir, oci_du_cb, 16, FTW_PHYS);
    uint64_t mib = (oci_du_total + oci_du_total / 2) / (1 << 20) + 64;
    char size[32];
    appl_fmt(size, sizeof(size), "%lluM", (unsigned long long)mib);
    pid_t pid = fork();
    if (pid < 0) return error_set(err, errlen, "fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        execlp("mkfs.ext4", "mkfs.ext4", "-q", "-F", "-L", "oci-root", "-E", "root_owner=0:0", "-d",
               dir, image, size, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return error_set(err, errlen,
                         "mkfs.ext4 -d %s %s failed (status %d; is e2fsprogs installed?)", dir,
                         image, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

int appl_oci_import(const char *tarball, const char *workdir, const char *ext4_path,
                    uint8_t **init_cpio, size_t *init_cpio_len, json_t **info, char *err,
                    size_t errlen)
{
    char root[PATH_MAX], fs[PATH_MAX], config[PATH_MAX + 120];
    static char layers[OCI_MAX_LAYERS][PATH_MAX];
    unsigned nlayers = 0;
    appl_fmt(root, sizeof(root), "%s/oci", workdir);
    appl_fmt(fs, sizeof(fs), "%s/rootfs", workdir);
    if (mkdir(root, 0700) < 0 || mkdir(fs, 0755) < 0)
        return error_set(err, errlen, "%s: %s", workdir, strerror(errno));
    char why[1024];
    if (oci_extract(tarball, root, false, why, sizeof(why)) < 0 ||
        oci_find(root, config, sizeof(config), layers, &nlayers, why, sizeof(why)) < 0)
        return error_set(err, errlen, "--oci %s: %s", tarball, why);
    json_t *cfg = oci_load_json(config, why, sizeof(why));
    if (!cfg) return error_set(err, errlen, "--oci %s: image config: %s", tarball, why);
    static char script[OCI_SCRIPT_MAX];
    if (oci_start_script(cfg, script, sizeof(script), info, why, sizeof(why)) < 0) {
        json_decref(cfg);
        return error_set(err, errlen, "--oci %s: %s", tarball, why);
    }
    json_decref(cfg);
    fprintf(stderr, "vessel pack: %s: %u layer(s)\n", tarball, nlayers);
    for (unsigned k = 0; k < nlayers; k++)
        if (oci_extract(layers[k], fs, true, why, sizeof(why)) < 0) {
            json_decref(*info);
            return error_set(err, errlen, "--oci %s: layer %u: %s", tarball, k, why);
        }
    if (oci_mkfs(fs, ext4_path, err, errlen) < 0) {
        json_decref(*info);
        return -1;
    }
    json_object_set_new(*info, "image", json_string(tarball));
    json_object_set_new(*info, "layers", json_integer(nlayers));
    uint8_t *c = NULL;
    size_t n = 0;
    oci_cpio_add(&c, &n, "vessel-oci", 040755, "", 0);
    oci_cpio_add(&c, &n, "vessel-oci/init", 0100755, oci_init, strlen(oci_init));
    oci_cpio_add(&c, &n, "vessel-oci/start", 0100644, script, strlen(script));
    oci_cpio_add(&c, &n, "TRAILER!!!", 0, "", 0);
    *init_cpio = c;
    *init_cpio_len = n;
    return 0;
}
