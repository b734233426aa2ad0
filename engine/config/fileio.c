/*
 * fileio: bounded whole-file reads and atomic whole-file writes (see fileio.h). Must never
 * report a write as done before the data and the directory entry are on disk.
 */
#include "fileio.h"

#include "px_error.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return PX_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return PX_EPERM;
    case EEXIST:
        return PX_EEXIST;
    case ENOMEM:
        return PX_ENOMEM;
    default:
        return PX_EIO;
    }
}

int fileio_fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return PX_ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return from_errno(errno);
    int rc = fsync(fd) == 0 ? 0 : PX_EIO;
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return from_errno(errno);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int flags)
{
    if (!path || (!data && len > 0))
        return PX_EINVAL;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return PX_ENOMEM;
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = from_errno(errno);
        free(tmp);
        return rc;
    }
    int rc = 0;
    if (fchmod(fd, mode) != 0)
        rc = from_errno(errno);
    if (rc == 0)
        rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = PX_EIO;
    if (close(fd) != 0 && rc == 0)
        rc = PX_EIO;
    if (rc == 0) {
        if (flags & FILEIO_NOREPLACE) {
            /* link() refuses an existing name, on every file system */
            if (link(tmp, path) != 0)
                rc = from_errno(errno);
        } else if (rename(tmp, path) != 0) {
            rc = from_errno(errno);
        }
    }
    if (rc != 0 || (flags & FILEIO_NOREPLACE))
        unlink(tmp);
    free(tmp);
    if (rc == 0)
        rc = fileio_fsync_parent(path);
    return rc;
}

int fileio_read_all(const char *path, size_t max, char **out, size_t *len)
{
    if (!path || !out || !len)
        return PX_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PX_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return PX_EINVAL;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return PX_ETOOBIG;
    }
    size_t cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return PX_ENOMEM;
    }
    size_t got = 0;
    while (got < cap - 1) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            close(fd);
            return PX_EIO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    /* A file that grows while it is read is being written by someone: refuse it. */
    char probe;
    ssize_t more;
    do
        more = read(fd, &probe, 1);
    while (more < 0 && errno == EINTR);
    close(fd);
    if (more != 0) {
        free(buf);
        return more > 0 ? PX_EAGAIN : PX_EIO;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int fileio_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0)
        return fileio_fsync_parent(path);
    if (errno != EEXIST)
        return from_errno(errno);
    struct stat st;
    if (stat(path, &st) != 0)
        return from_errno(errno);
    return S_ISDIR(st.st_mode) ? 0 : PX_EEXIST;
}
