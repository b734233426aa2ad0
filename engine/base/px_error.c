/*
 * px_error: one table from error code to text, and the errno conversion.
 * Must never allocate or fail.
 */
#include "px_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const texts[] = {
    [0] = "success",
    [-PX_ENOMEM] = "out of memory",
    [-PX_EINVAL] = "invalid argument",
    [-PX_EIO] = "input/output error",
    [-PX_ECORRUPT] = "data corrupted",
    [-PX_ETOOBIG] = "size limit exceeded",
    [-PX_ENOTFOUND] = "not found",
    [-PX_EEXIST] = "already exists",
    [-PX_ETIMEDOUT] = "timed out",
    [-PX_ECLOSED] = "closed",
    [-PX_EDECODE] = "malformed message",
    [-PX_ECRYPTO] = "signature or authentication check failed",
    [-PX_ECONFLICT] = "conflicts with an earlier signature or record",
    [-PX_EBOUND] = "capacity bound reached",
    [-PX_EAGAIN] = "temporarily unavailable",
    [-PX_EPROTO] = "protocol violation",
    [-PX_ESTATE] = "not valid in the current state",
    [-PX_EPERM] = "permission denied",
    [-PX_ECONFIG] = "invalid configuration",
    [-PX_ECANCELED] = "cancelled",
    [-PX_EAPP] = "application error",
    [-PX_EINTERNAL] = "internal error",
    [-PX_ENOFD] = "too many open files (out of file descriptors)",
    [-PX_ENOSPC] = "no space left on device",
    [-PX_EDIVERGED] = "the application's state differs from the network's",
};

const char *px_strerror(int err)
{
    if (err > 0 || -err >= (int)(sizeof(texts) / sizeof(texts[0])) || texts[-err] == 0)
        return "unknown error";
    return texts[-err];
}

int px_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return PX_OK;
    case ENOMEM:
        return PX_ENOMEM;
    case EINVAL:
        return PX_EINVAL;
    case ENOENT:
        return PX_ENOTFOUND;
    case EEXIST:
        return PX_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return PX_EPERM;
    case ETIMEDOUT:
        return PX_ETIMEDOUT;
    case EAGAIN:
    case EINTR:
        return PX_EAGAIN;
    case EFBIG:
    case E2BIG:
    case ENAMETOOLONG:
        return PX_ETOOBIG;
    case ECANCELED:
        return PX_ECANCELED;
    case EMFILE:
    case ENFILE:
        return PX_ENOFD;
    case ENOSPC:
    case EDQUOT:
        return PX_ENOSPC;
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED:
        return PX_ECLOSED;
    default:
        return PX_EIO;
    }
}

int px_err_say(char *err, size_t cap, int rc, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}
