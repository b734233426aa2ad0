/*
 * px_error: the project's error codes and their text.
 *
 * Every function that can fail returns 0 or one of the negative PX_E* codes below and
 * hands results back through out-parameters. Errors of libraries (errno, nng, SQLite)
 * are converted where they are called and never travel further up. This header must stay
 * free of I/O headers: the consensus core includes it.
 */
#ifndef PX_ERROR_H
#define PX_ERROR_H

#include <stddef.h>

enum px_error {
    PX_OK = 0,
    PX_ENOMEM = -1,     /* out of memory */
    PX_EINVAL = -2,     /* invalid argument or input */
    PX_EIO = -3,        /* read, write or sync failed */
    PX_ECORRUPT = -4,   /* stored data failed its checksum or cannot be decoded */
    PX_ETOOBIG = -5,    /* a size limit was exceeded */
    PX_ENOTFOUND = -6,  /* no such item */
    PX_EEXIST = -7,     /* item already exists */
    PX_ETIMEDOUT = -8,  /* deadline passed */
    PX_ECLOSED = -9,    /* the peer, connection or object is closed */
    PX_EDECODE = -10,   /* bytes do not decode to a valid message */
    PX_ECRYPTO = -11,   /* signature or authentication check failed */
    PX_ECONFLICT = -12, /* refused: conflicts with something already signed or stored */
    PX_EBOUND = -13,    /* a capacity bound was hit (queue, set, table full) */
    PX_EAGAIN = -14,    /* not now: try again later */
    PX_EPROTO = -15,    /* the other side broke the protocol */
    PX_ESTATE = -16,    /* the call is not valid in the current state */
    PX_EPERM = -17,     /* permission denied */
    PX_ECONFIG = -18,   /* bad configuration */
    PX_ECANCELED = -19, /* the operation was cancelled (shutdown) */
    PX_EAPP = -20,      /* the application answered with an error or went away */
    PX_EINTERNAL = -21, /* a bug: an invariant did not hold */
    PX_ENOFD = -22,     /* out of file descriptors (EMFILE, ENFILE): transient */
    PX_ENOSPC = -23,    /* no space left on the device or quota (ENOSPC, EDQUOT): transient */
    PX_EDIVERGED = -24, /* our app's state differs from what the network agreed (app hash) */
};

/* The lowest (most negative) code: px_strerror knows every code from here to 0. */
#define PX_ERR_LOWEST PX_EDIVERGED

/* Write a sentence (printf format) into err (cap bytes; err may be NULL or cap 0: nothing
 * is written) and return rc: `return px_err_say(err, cap, PX_EIO, "cannot open %s", p);`. */
int px_err_say(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Text for an error code: a short lower-case phrase. Never NULL; unknown codes give
 * "unknown error". */
const char *px_strerror(int err);

/* Map an errno value (positive) to a PX_E code. */
int px_err_from_errno(int errnum);

#endif
