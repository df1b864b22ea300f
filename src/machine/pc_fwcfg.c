/* pc_fwcfg.c — the board's fw_cfg device (hw/fw_cfg.h) and the --fw-cfg items it carries: what
 * QEMU's `-fw_cfg name=...,file=...|string=...` does, read by Linux's qemu_fw_cfg driver under
 * /sys/firmware/qemu_fw_cfg/by_name/NAME/raw, and by firmware (pc_bios.c adds its files). The
 * device exists only with items or firmware, so other machines keep their saved-state layout.
 *
 * Spec: name=NAME,file=PATH or name=NAME,string=TEXT — file= or string= comes last and takes
 * the rest of the spec (commas included). Names are 1-55 bytes without a comma; like QEMU we
 * expect user items under "opt/" (a warning otherwise, since firmware owns the other names). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/fw_cfg.h"
#include "machine/pc_internal.h"
#include "vessel/log.h"

struct fw_cfg_spec {
    char name[FW_CFG_NAME_MAX + 1];
    const char *file, *string; /* one of them, pointing into the spec */
};

static int fw_cfg_spec_parse(const char *spec, struct fw_cfg_spec *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (strncmp(spec, "name=", 5) != 0)
        return snprintf(err, errlen, "--fw-cfg '%s': must start with name=", spec), -1;
    const char *name = spec + 5;
    size_t n = strcspn(name, ",");
    if (n == 0 || n > FW_CFG_NAME_MAX)
        return snprintf(err, errlen, "--fw-cfg '%s': the name must have 1 to %d bytes", spec,
                        FW_CFG_NAME_MAX),
               -1;
    memcpy(s->name, name, n);
    const char *rest = name[n] == ',' ? name + n + 1 : "";
    if (!strncmp(rest, "file=", 5) && rest[5])
        s->file = rest + 5;
    else if (!strncmp(rest, "string=", 7))
        s->string = rest + 7;
    else
        return snprintf(err, errlen, "--fw-cfg '%s': give file=PATH or string=TEXT after the name",
                        spec),
               -1;
    return 0;
}

int pc_fw_cfg_spec_check(const char *spec, char *err, size_t errlen)
{
    struct fw_cfg_spec s;
    return fw_cfg_spec_parse(spec, &s, err, errlen);
}

/* The whole of a regular file no larger than FW_CFG_MAX_ITEM; NULL with a message. */
static uint8_t *fw_cfg_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "--fw-cfg file=%s: %s", path,
                 !f ? strerror(errno) : "not a regular file");
        if (f) fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > FW_CFG_MAX_ITEM) {
        snprintf(err, errlen, "--fw-cfg file=%s: larger than %u MiB", path, FW_CFG_MAX_ITEM >> 20);
        fclose(f);
        return NULL;
    }
    uint8_t *data = malloc(st.st_size ? (size_t)st.st_size : 1);
    *len = fread(data ? data : (uint8_t *)"", 1, data ? (size_t)st.st_size : 0, f);
    bool short_read = !data || *len != (size_t)st.st_size || ferror(f);
    fclose(f);
    if (short_read) {
        snprintf(err, errlen, "--fw-cfg file=%s: %s", path, data ? "read failed" : "out of memory");
        free(data);
        return NULL;
    }
    return data;
}

PC_PLAIN_OPS(fw_cfg, NULL);

int pc_create_fw_cfg(struct pc *pc, const struct pc_config *cfg, char *err, size_t errlen,
                     int *usage)
{
    if (!cfg->nfw_cfg && !cfg->bios) return 0;
    struct fw_cfg *f = fw_cfg_create(&pc->bus, FW_CFG_PORT, cfg->ram_size, 1);
    if (pc_add(pc, "fw_cfg", f, &pc_fw_cfg_ops, err, errlen) < 0) return -1;
    pc->fw_cfg = f;
    pc->optional |= PC_HAS_FWCFG;
    for (unsigned k = 0; k < cfg->nfw_cfg; k++) {
        struct fw_cfg_spec s;
        size_t len = 0;
        uint8_t *owned = NULL;
        if (fw_cfg_spec_parse(cfg->fw_cfg[k], &s, err, errlen) < 0 ||
            (s.file && !(owned = fw_cfg_read_file(s.file, &len, err, errlen)))) {
            *usage = 1;
            return -1;
        }
        const void *data = owned ? (const void *)owned : s.string;
        if (!owned) len = strlen(s.string);
        int rc = fw_cfg_add_file(f, s.name, data, len, err, errlen);
        free(owned);
        if (rc < 0) {
            *usage = 1;
            return -1;
        }
        if (strncmp(s.name, "opt/", 4) != 0)
            log_warn("--fw-cfg: '%s' is not under opt/ (the other names belong to firmware)",
                     s.name);
    }
    return 0;
}
