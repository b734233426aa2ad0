/*
 * statefile: the signer's state file, replaced atomically by a write that opens nothing.
 *
 * A node whose file descriptors are exhausted (a flood of RPC or p2p connections) must
 * still be able to make its signer's state durable, or it stops signing. So everything a
 * write needs is opened once, by statefile_open: the directory, the state file itself and a
 * scratch file beside it (STATE.scratch). A write fills the scratch file from offset 0,
 * fsyncs it, swaps the two names in one step (renameat2 RENAME_EXCHANGE: the scratch
 * becomes the state and the old state becomes the scratch, both still open) and fsyncs the
 * directory. After a crash at any instant the state file holds its old or its new
 * content, never a mix; the scratch file's content never matters (it is truncated at open
 * and after every swap; never restore a state from it).
 *
 * Where RENAME_EXCHANGE is not supported (some network or FUSE file systems; also when the
 * state path is a symbolic link), a write falls back to rename(2) over the state file and
 * then needs one new descriptor for the next scratch file: it is opened right after the
 * rename, and if that fails (PX_ENOFD) the next write tries again first.
 *
 * Never logs (the signer decides what to say) and never reads the state: loading is
 * privval's. Not thread safe: one owner.
 */
#ifndef PX_STATEFILE_H
#define PX_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The steps of a write, for a fault hook (tests and the simulator). */
enum statefile_step {
    STATEFILE_CREATE_SCRATCH = 1, /* open a new scratch file (only after a plain rename) */
    STATEFILE_WRITE,              /* fchmod, ftruncate, pwrite of the scratch file */
    STATEFILE_FSYNC,              /* fsync of the scratch file */
    STATEFILE_EXCHANGE,           /* renameat2(RENAME_EXCHANGE) scratch <-> state */
    STATEFILE_RENAME,             /* renameat scratch -> state (the fallback) */
    STATEFILE_FSYNC_DIR,          /* fsync of the directory */
};

/* Called before each step; a non-zero return is an errno value that the step then fails
 * with instead of calling the system (the step is not carried out). */
typedef int (*statefile_fault_fn)(enum statefile_step step, void *user);

struct statefile;

/* Open the directory of path, the state file at path (which must exist) and a fresh
 * scratch file "path.scratch" (mode 0600, replacing any left by a crash). On failure err
 * gets a sentence naming the file. Errors: PX_ENOTFOUND, PX_EPERM, PX_ENOFD, PX_ENOSPC,
 * PX_EIO, PX_ENOMEM. On success *out belongs to the caller (statefile_close). */
int statefile_open(const char *path, struct statefile **out, char *err, size_t err_cap);

/* Replace the state file's content with data (len bytes), durably: 0 only once the data
 * and the new directory entry are on disk. On an error the state file holds the old or
 * the new content (the new one when the error came after the names were swapped, i.e. at
 * STATEFILE_FSYNC_DIR) and the next call starts again from the beginning. Errors (from
 * errno, see px_err_from_errno): PX_ENOFD (only in the fallback mode), PX_ENOSPC,
 * PX_ENOMEM, PX_EAGAIN (transient: try again later); PX_EIO, PX_EPERM, PX_ENOTFOUND and
 * others (the disk or the directory is broken). */
int statefile_write(struct statefile *sf, const void *data, size_t len);

/* True while writes swap names (no descriptor is opened by a write). */
bool statefile_exchanges(const struct statefile *sf);

/* Install a fault hook (NULL removes it). Tests and the simulator only. */
void statefile_set_fault(struct statefile *sf, statefile_fault_fn fn, void *user);

/* Close everything (the scratch file stays on disk). NULL is fine. */
void statefile_close(struct statefile *sf);

#endif
