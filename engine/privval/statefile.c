/*
 * statefile: atomic replacement of the signer's state without opening a descriptor (see
 * statefile.h). Must never report a write as done before the data and the directory entry
 * are on disk, and never touch the inode that the durable directory may still call the
 * state file.
 *
 * Facts between calls (exchange mode): state_fd is the inode named STATE, scratch_fd the
 * one named STATE.scratch; if dir_unsynced, the last swap is visible but perhaps not
 * durable, so the inode now named scratch may still be STATE on disk: it is not written
 * until an fsync of the directory succeeds. In the fallback mode state_fd is -1 and
 * scratch_fd is -1 when the next scratch file could not be opened yet.
 */
#include "statefile.h"

#include "px_error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRATCH_SUFFIX ".scratch"

struct statefile {
    char *path;         /* the state file, for messages */
    char *name;         /* its name in the directory */
    char *scratch_name; /* name + SCRATCH_SUFFIX */
    int dir_fd;
    int state_fd;   /* exchange mode only */
    int scratch_fd; /* -1: to be opened */
    bool exchange;
    bool dir_unsynced;
    statefile_fault_fn fault;
    void *fault_user;
};

/* 0 to carry out the step; otherwise errno is set to the injected value. */
static int faulted(struct statefile *sf, enum statefile_step step)
{
    if (!sf->fault)
        return 0;
    int e = sf->fault(step, sf->fault_user);
    if (e)
        errno = e;
    return e;
}

/* A fresh, empty scratch file of ours: whatever had the name (a file left by a crash, a
 * symbolic link) is removed first, and O_EXCL | O_NOFOLLOW make sure we created it. */
static int create_scratch(struct statefile *sf)
{
    if (faulted(sf, STATEFILE_CREATE_SCRATCH))
        return px_err_from_errno(errno);
    if (unlinkat(sf->dir_fd, sf->scratch_name, 0) != 0 && errno != ENOENT)
        return px_err_from_errno(errno);
    int fd = openat(sf->dir_fd, sf->scratch_name,
                    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return px_err_from_errno(errno);
    sf->scratch_fd = fd;
    return 0;
}

int statefile_open(const char *path, struct statefile **out, char *err, size_t err_cap)
{
    *out = NULL;
    struct statefile *sf = calloc(1, sizeof(*sf));
    if (!sf)
        return PX_ENOMEM;
    sf->dir_fd = sf->state_fd = sf->scratch_fd = -1;
    char *d = strdup(path), *b = strdup(path);
    sf->path = strdup(path);
    int rc = PX_ENOMEM;
    if (!d || !b || !sf->path)
        goto fail;
    sf->name = strdup(basename(b));
    size_t n = strlen(sf->name) + sizeof(SCRATCH_SUFFIX);
    sf->scratch_name = sf->name ? malloc(n) : NULL;
    if (!sf->scratch_name)
        goto fail;
    snprintf(sf->scratch_name, n, "%s%s", sf->name, SCRATCH_SUFFIX);
    const char *dir = dirname(d);
    sf->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sf->dir_fd < 0) {
        rc = px_err_say(err, err_cap, px_err_from_errno(errno),
                        "%s: cannot open the signer's state directory: %s", dir, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstatat(sf->dir_fd, sf->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = px_err_say(err, err_cap, px_err_from_errno(errno),
                        "%s: cannot stat the signer's state: %s", path, strerror(errno));
        goto fail;
    }
    /* Swapping names needs the state to be a regular file that we can write (it becomes
     * the next scratch); otherwise rename over it, as before. */
    if (S_ISREG(st.st_mode)) {
        sf->state_fd = openat(sf->dir_fd, sf->name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (sf->state_fd < 0 && errno != EACCES && errno != EPERM) {
            rc = px_err_say(err, err_cap, px_err_from_errno(errno),
                            "%s: cannot open the signer's state: %s", path, strerror(errno));
            goto fail;
        }
    }
    sf->exchange = sf->state_fd >= 0;
    rc = create_scratch(sf);
    if (rc != 0) {
        px_err_say(err, err_cap, rc, "%s/%s: cannot create the signer's scratch file: %s", dir,
                   sf->scratch_name, px_strerror(rc));
        goto fail;
    }
    free(d);
    free(b);
    *out = sf;
    return 0;
fail:
    free(d);
    free(b);
    statefile_close(sf);
    return rc;
}

static int pwrite_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    off_t off = 0;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return px_err_from_errno(errno);
        }
        p += w;
        off += w;
        len -= (size_t)w;
    }
    return 0;
}

static bool exchange_unsupported(int e)
{
    return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

int statefile_write(struct statefile *sf, const void *data, size_t len)
{
    if (!sf || (!data && len > 0))
        return PX_EINVAL;
    /* The scratch inode may still be the durable state (see the facts above). */
    if (sf->dir_unsynced) {
        if (faulted(sf, STATEFILE_FSYNC_DIR) || fsync(sf->dir_fd) != 0)
            return px_err_from_errno(errno);
        sf->dir_unsynced = false;
    }
    int rc;
    if (sf->scratch_fd < 0 && (rc = create_scratch(sf)) != 0)
        return rc;
    int fd = sf->scratch_fd;
    if (faulted(sf, STATEFILE_WRITE) || fchmod(fd, 0600) != 0 || ftruncate(fd, 0) != 0)
        return px_err_from_errno(errno);
    if ((rc = pwrite_all(fd, data, len)) != 0)
        return rc;
    if (faulted(sf, STATEFILE_FSYNC) || fsync(fd) != 0)
        return px_err_from_errno(errno);
    if (sf->exchange) {
        if (!faulted(sf, STATEFILE_EXCHANGE) &&
            renameat2(sf->dir_fd, sf->scratch_name, sf->dir_fd, sf->name, RENAME_EXCHANGE) == 0) {
            sf->scratch_fd = sf->state_fd;
            sf->state_fd = fd;
        } else if (exchange_unsupported(errno)) {
            /* this file system cannot swap: rename from now on */
            sf->exchange = false;
            close(sf->state_fd);
            sf->state_fd = -1;
        } else {
            return px_err_from_errno(errno); /* nothing was renamed */
        }
    }
    if (!sf->exchange) {
        if (faulted(sf, STATEFILE_RENAME) ||
            renameat(sf->dir_fd, sf->scratch_name, sf->dir_fd, sf->name) != 0)
            return px_err_from_errno(errno); /* the scratch file is still ours, unrenamed */
        close(fd);                           /* now the state file: nothing more to do with it */
        sf->scratch_fd = -1;
    }
    sf->dir_unsynced = true;
    if (faulted(sf, STATEFILE_FSYNC_DIR) || fsync(sf->dir_fd) != 0)
        return px_err_from_errno(errno);
    sf->dir_unsynced = false;
    if (sf->exchange) {
        /* the old state, now the scratch: its content is stale; best effort, not synced */
        if (ftruncate(sf->scratch_fd, 0) != 0) {
            /* harmless: the next write truncates it again */
        }
    } else {
        /* the descriptor just closed is the one most likely free: take it at once. On
         * failure the next write tries again before it writes anything. */
        create_scratch(sf);
    }
    return 0;
}

bool statefile_exchanges(const struct statefile *sf)
{
    return sf->exchange;
}

void statefile_set_fault(struct statefile *sf, statefile_fault_fn fn, void *user)
{
    sf->fault = fn;
    sf->fault_user = user;
}

void statefile_close(struct statefile *sf)
{
    if (!sf)
        return;
    if (sf->scratch_fd >= 0)
        close(sf->scratch_fd);
    if (sf->state_fd >= 0)
        close(sf->state_fd);
    if (sf->dir_fd >= 0)
        close(sf->dir_fd);
    free(sf->scratch_name);
    free(sf->name);
    free(sf->path);
    free(sf);
}
