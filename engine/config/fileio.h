/*
 * fileio: whole-file reads with a size bound and crash-safe whole-file writes, for the
 * small files an operator or the node keeps (node.conf, genesis.json, the signer's state).
 *
 * A write goes to a temporary file in the same directory, is fsynced, renamed over (or,
 * with FILEIO_NOREPLACE, next to) the final name, and the directory is fsynced: after a
 * crash at any instant the file holds either its old or its new content, never a mix.
 * Never leaves a temporary file behind on an error it can report.
 */
#ifndef PX_FILEIO_H
#define PX_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

enum fileio_flags {
    FILEIO_NOREPLACE = 1, /* fail with PX_EEXIST instead of replacing an existing file */
};

/* Write data to path atomically with the given mode. Errors: PX_EEXIST (NOREPLACE and the
 * file exists), PX_ENOTFOUND (no such directory), PX_EPERM, PX_EIO, PX_ENOMEM, PX_EINVAL. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int flags);

/* Read the whole file into a malloc'd buffer with a terminating NUL (not counted in *len).
 * Errors: PX_ENOTFOUND, PX_EPERM, PX_ETOOBIG (larger than max bytes), PX_EINVAL (not a
 * regular file), PX_EAGAIN (the file grew while being read), PX_EIO, PX_ENOMEM. */
int fileio_read_all(const char *path, size_t max, char **out, size_t *len);

/* fsync the directory that holds path. PX_EIO / PX_ENOTFOUND / PX_ENOMEM. */
int fileio_fsync_parent(const char *path);

/* Make a directory (mode) unless it exists as a directory; fsync its parent when created.
 * PX_EEXIST if the path exists but is not a directory; PX_EPERM, PX_ENOTFOUND, PX_EIO. */
int fileio_mkdir(const char *path, mode_t mode);

#endif
