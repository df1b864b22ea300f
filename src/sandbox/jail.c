/* jail.c — `vessel run --jail DIR`, after Firecracker's jailer: the monitor runs in new mount,
 * PID, IPC and UTS namespaces (and a network namespace when asked) with DIR as its root and
 * nothing of the host's file system below it, as an unprivileged uid/gid, optionally in a
 * cgroup v2 group with CPU and memory limits. Started as root, the namespaces need no user
 * namespace and the monitor then becomes uid/gid 65534 (or the ones given); started as
 * anyone else, an unprivileged user namespace maps the caller's own ids, and if the host
 * forbids those the jail is refused with the reason, never faked.
 *
 * The process that was started stays outside as the parent: it waits for the jailed monitor
 * (PID 1 of its PID namespace), passes SIGTERM/SIGINT/SIGHUP on, and exits with its status.
 * The jailed child dies with the parent (PR_SET_PDEATHSIG). Paths on the command line are
 * then paths inside DIR: `--kernel /vmlinuz` is DIR/vmlinuz. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "vessel/log.h"

static pid_t jail_child;
static char jail_cgroup_dir[700]; /* removed when the jailed monitor has ended */

static void jail_forward(int sig)
{
    if (jail_child > 0) kill(jail_child, sig);
}

static int jail_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The cgroup v2 hierarchy's mount point, from /proc/self/mountinfo. */
static int jail_cgroup2_root(char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return -1;
    char line[1024];
    int rc = -1;
    while (fgets(line, sizeof(line), f)) {
        char mnt[512], *dash = strstr(line, " - cgroup2 ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1) continue;
        snprintf(out, len, "%s", mnt);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

/* A group of its own for the jailed monitor, with the limits asked for. */
static int jail_cgroup(const struct sandbox_jail *j, pid_t child, char *err, size_t errlen)
{
    if (!j->cpu_max && !j->mem_max) return 0;
    char root[512], dir[700], file[800];
    if (jail_cgroup2_root(root, sizeof(root)) < 0) {
        snprintf(err, errlen, "--jail: no cgroup v2 hierarchy is mounted on this host");
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s/vessel-%d", root, (int)child);
    if (mkdir(dir, 0755) < 0) {
        snprintf(err, errlen, "--jail: cannot create the cgroup %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *keys[2] = {"cpu.max", "memory.max"}, *vals[2] = {j->cpu_max, j->mem_max};
    for (int k = 0; k < 2; k++) {
        if (!vals[k]) continue;
        snprintf(file, sizeof(file), "%s/%s", dir, keys[k]);
        if (jail_write(file, vals[k]) < 0) {
            snprintf(err, errlen,
                     "--jail: cannot set %s in %s (%s; is the %.*s controller enabled in the "
                     "parent's cgroup.subtree_control?)",
                     keys[k], dir, strerror(errno), (int)strcspn(keys[k], "."), keys[k]);
            rmdir(dir);
            return -1;
        }
    }
    snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)child);
    if (jail_write(file, pid) < 0) {
        snprintf(err, errlen, "--jail: cannot move the monitor into %s: %s", dir, strerror(errno));
        rmdir(dir);
        return -1;
    }
    snprintf(jail_cgroup_dir, sizeof(jail_cgroup_dir), "%s", dir);
    log_info("jail: cgroup %s%s%s%s%s", dir, j->cpu_max ? " cpu.max=" : "",
             j->cpu_max ? j->cpu_max : "", j->mem_max ? " memory.max=" : "",
             j->mem_max ? j->mem_max : "");
    return 0;
}

/* In the child: DIR becomes /, the old root is gone. */
static int jail_pivot(const char *dir, char *err, size_t errlen)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(err, errlen, "--jail: making / private: %s", strerror(errno));
        return -1;
    }
    if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(dir) < 0) {
        snprintf(err, errlen, "--jail: %s: %s", dir, strerror(errno));
        return -1;
    }
    /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves DIR. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        snprintf(err, errlen, "--jail: pivot_root into %s: %s", dir, strerror(errno));
        return -1;
    }
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        snprintf(err, errlen, "--jail: detaching the host's root: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sandbox_jail_enter(const struct sandbox_jail *j, char *err, size_t errlen)
{
    struct stat st;
    if (stat(j->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--jail: '%s' is not a directory", j->dir);
        return -1;
    }
    char dir[4096];
    if (!realpath(j->dir, dir)) {
        snprintf(err, errlen, "--jail: '%s': %s", j->dir, strerror(errno));
        return -1;
    }
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (j->netns) flags |= CLONE_NEWNET;
    if (uid != 0) flags |= CLONE_NEWUSER;
    if (unshare(flags) < 0) {
        if (uid != 0)
            snprintf(err, errlen,
                     "--jail: the host forbids unprivileged user namespaces (unshare: %s); run "
                     "as root or allow them (sysctl kernel.unprivileged_userns_clone=1, "
                     "user.max_user_namespaces)",
                     strerror(errno));
        else
            snprintf(err, errlen, "--jail: cannot create namespaces: %s", strerror(errno));
        return -1;
    }
    if (uid != 0) {
        char map[64];
        snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
        if (jail_write("/proc/self/setgroups", "deny") < 0 ||
            jail_write("/proc/self/uid_map", map) < 0) {
            snprintf(err, errlen, "--jail: mapping uid %u: %s", (unsigned)uid, strerror(errno));
            return -1;
        }
        snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
        if (jail_write("/proc/self/gid_map", map) < 0) {
            snprintf(err, errlen, "--jail: mapping gid %u: %s", (unsigned)gid, strerror(errno));
            return -1;
        }
    }
    fflush(NULL);
    /* The child is told to go on only once it is in its cgroup. */
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "--jail: pipe: %s", strerror(errno));
        return -1;
    }
    pid_t child = fork();
    if (child < 0) {
        snprintf(err, errlen, "--jail: fork: %s", strerror(errno));
        return -1;
    }
    if (child == 0) {
        close(go[1]);
        char ok = 0;
        if (read(go[0], &ok, 1) != 1 || ok != 1) _exit(1);
        if (jail_pivot(dir, err, errlen) < 0) return -1;
        sethostname("vessel-jail", 11);
        if (uid == 0) {
            uid_t ju = j->uid >= 0 ? (uid_t)j->uid : 65534;
            gid_t jg = j->gid >= 0 ? (gid_t)j->gid : 65534;
            if (setgroups(0, NULL) < 0 || setresgid(jg, jg, jg) < 0 || setresuid(ju, ju, ju) < 0) {
                snprintf(err, errlen, "--jail: becoming uid %u gid %u: %s", (unsigned)ju,
                         (unsigned)jg, strerror(errno));
                return -1;
            }
        }
        /* Die with the parent. Set only now: a change of uid clears it. The parent keeps its
         * end of the pipe open while it lives, so a hang-up means it died before this. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        struct pollfd pf = {.fd = go[0], .events = POLLIN};
        if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLHUP)) _exit(1);
        close(go[0]);
        log_info("jail: running in %s as uid %u gid %u", dir, (unsigned)getuid(),
                 (unsigned)getgid());
        return 0;
    }
    close(go[0]);
    jail_child = child;
    int rc = jail_cgroup(j, child, err, errlen);
    char ok = rc == 0;
    ssize_t n = write(go[1], &ok, 1);
    (void)n;
    /* go[1] stays open while this process lives: the child's check that we are alive. */
    if (rc < 0) {
        waitpid(child, NULL, 0);
        return -1;
    }
    struct sigaction sa = {.sa_handler = jail_forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (jail_cgroup_dir[0]) rmdir(jail_cgroup_dir);
    if (WIFEXITED(status)) exit(WEXITSTATUS(status));
    /* Die the same way, so the caller sees what the jailed monitor saw. */
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
    exit(128 + WTERMSIG(status));
}
