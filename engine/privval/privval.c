/*
 * privval: the file signer with its double-sign guard (see privval.h).
 *
 * This file must never release a signature whose state is not on disk, and never sign at
 * or below the stored (height, round, step) except to return the very signature stored for
 * identical sign bytes. The state is written through statefile, which opens nothing while
 * writing, so a process out of file descriptors still signs.
 *
 * Why a failed write may be retried without risking a double sign. Let M be the state in
 * memory (height/round/step, sign bytes, signature), D the state on disk, and "released"
 * the signatures that left privval_sign with 0. Invariants, at every instant:
 *   (I1) every released signature has an HRS <= M's, and the one at M's HRS (if any) is
 *        M's signature of M's sign bytes;
 *   (I2) D >= M in HRS; if D > M, D's signature was never released.
 * A request is checked against M only. On success the new state N > M is durable (D = N)
 * before memory becomes N and before the signature leaves: both hold. On a failed write
 * nothing leaves and M stays; D is M or N (statefile: old or new content, never a mix),
 * and N was not released: both hold. The next request, whatever its HRS above M, may then
 * be signed and written over a D that is higher but unreleased — still safe, since no
 * released signature is above M. A crash at any instant restarts from D: by (I1) and (I2)
 * nothing released is above D, and at D's HRS only D's own bytes were ever released, so
 * the reloaded guard refuses everything that could conflict. Re-signing the same bytes
 * after a failure gives the same signature (Ed25519 is deterministic).
 *
 * So a failure is transient when the cause goes away by itself (out of file descriptors,
 * disk or quota full, no memory): that request is refused and the next one tries again.
 * Any other failure (an I/O error, permissions, the directory gone) stops the signer until
 * a restart, and every later request gets that same error, not a generic one.
 */
#include "privval.h"

#include "ed25519.h"
#include "fileio.h"
#include "keyfile.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "statefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct privval {
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    char *state_path;
    int lock_fd;
    struct statefile *sf;
    /* the last failure to persist (0 after a success) and where; failed: for good */
    int last_err;
    bool failed;
    uint64_t failures;
    int64_t fail_height;
    int32_t fail_round;
    int fail_step;
    /* the last durable state */
    int64_t height;
    int32_t round;
    enum privval_step step;
    bool has_signature;
    uint8_t signature[PRIVVAL_SIG_SIZE];
    uint8_t *sign_bytes;
    size_t sign_bytes_len;
};

/* ---- the state file --------------------------------------------------------------------- */

/* CometBFT's shape: {"height": "5", "round": 0, "step": 3, "signature": B64, "signbytes":
 * HEX}. signature and signbytes are absent until something was signed. */
static int render_state(int64_t height, int32_t round, int step, const uint8_t *sig,
                        const uint8_t *bytes, size_t len, char **out)
{
    char h[24];
    snprintf(h, sizeof(h), "%" PRId64, height);
    json_t *o = json_pack("{s:s, s:i, s:i}", "height", h, "round", (int)round, "step", step);
    if (!o)
        return PX_ENOMEM;
    int rc = PX_ENOMEM;
    char *hex = NULL;
    if (sig) {
        char b64[PX_BASE64_LEN(PRIVVAL_SIG_SIZE)];
        hex = malloc(PX_HEX_LEN(len));
        if (!hex)
            goto out;
        px_base64_encode(b64, sizeof(b64), sig, PRIVVAL_SIG_SIZE);
        px_hex_encode(hex, PX_HEX_LEN(len), bytes, len, true);
        if (json_object_set_new(o, "signature", json_string(b64)) != 0 ||
            json_object_set_new(o, "signbytes", json_string(hex)) != 0)
            goto out;
    }
    char *s = json_dumps(o, JSON_INDENT(2));
    if (!s)
        goto out;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        goto out;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *out = t;
    rc = 0;
out:
    free(hex);
    json_decref(o);
    return rc;
}

int privval_state_create(const char *state_path)
{
    char *text;
    int rc = render_state(0, 0, PRIVVAL_STEP_NONE, NULL, NULL, 0, &text);
    if (rc != 0)
        return rc;
    rc = fileio_write_atomic(state_path, text, strlen(text), 0600, FILEIO_NOREPLACE);
    free(text);
    return rc;
}

static int load_state(struct privval *pv, char *err, size_t cap)
{
    const char *path = pv->state_path;
    char *text;
    size_t len;
    int rc = fileio_read_all(path, PRIVVAL_STATE_FILE_MAX, &text, &len);
    if (rc == PX_ENOTFOUND)
        return px_err_say(err, cap, rc,
                          "%s: the signer's state file is missing. If this validator never "
                          "signed, create it with 'phalanx init'; if it did, restore the file "
                          "(starting without it risks signing twice)",
                          path);
    if (rc != 0)
        return px_err_say(err, cap, rc, "%s: cannot read the signer's state: %s", path,
                          px_strerror(rc));
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!o)
        return px_err_say(err, cap, PX_ECORRUPT,
                          "%s:%d: the signer's state is not valid JSON (%s); restore it from a "
                          "backup — do not delete it",
                          path, je.line, je.text);
    rc = PX_ECORRUPT;
    const char *what = NULL;
    json_t *h = json_object_get(o, "height");
    json_t *r = json_object_get(o, "round");
    json_t *s = json_object_get(o, "step");
    json_t *sg = json_object_get(o, "signature");
    json_t *sb = json_object_get(o, "signbytes");
    long long height = -1;
    if (json_is_string(h)) {
        const char *hs = json_string_value(h);
        char *end;
        errno = 0;
        height = strtoll(hs, &end, 10);
        if (errno || !hs[0] || *end)
            height = -1;
    } else if (json_is_integer(h)) {
        height = json_integer_value(h);
    }
    if (height < 0) {
        what = "\"height\": expected a non-negative integer";
        goto bad;
    }
    if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > INT32_MAX) {
        what = "\"round\": expected a non-negative 32-bit integer";
        goto bad;
    }
    if (!json_is_integer(s) || json_integer_value(s) < 0 ||
        json_integer_value(s) > PRIVVAL_STEP_PRECOMMIT) {
        what = "\"step\": expected 0 to 3";
        goto bad;
    }
    if ((sg && !json_is_null(sg)) != (sb && !json_is_null(sb))) {
        what = "\"signature\" and \"signbytes\": expected both or neither";
        goto bad;
    }
    pv->height = (int64_t)height;
    pv->round = (int32_t)json_integer_value(r);
    pv->step = (enum privval_step)json_integer_value(s);
    if (sg && !json_is_null(sg)) {
        size_t n = 0;
        const char *b64 = json_is_string(sg) ? json_string_value(sg) : NULL;
        const char *hex = json_is_string(sb) ? json_string_value(sb) : NULL;
        if (!b64 ||
            px_base64_decode(pv->signature, sizeof(pv->signature), &n, b64, strlen(b64)) != 0 ||
            n != PRIVVAL_SIG_SIZE) {
            what = "\"signature\": expected base64 of 64 bytes";
            goto bad;
        }
        size_t hl = hex ? strlen(hex) : 0;
        if (!hex || hl == 0 || hl / 2 > PRIVVAL_SIGN_BYTES_MAX) {
            what = "\"signbytes\": expected hex of 1 to 65536 bytes";
            goto bad;
        }
        pv->sign_bytes = malloc(hl / 2 + 1);
        if (!pv->sign_bytes) {
            json_decref(o);
            return PX_ENOMEM;
        }
        if (px_hex_decode(pv->sign_bytes, hl / 2 + 1, &pv->sign_bytes_len, hex, hl) != 0) {
            what = "\"signbytes\": expected hex";
            goto bad;
        }
        if (ed25519_verify(&pv->pub, pv->sign_bytes, pv->sign_bytes_len, pv->signature) != 0) {
            what = "\"signature\" is not this key's signature of \"signbytes\" (a state file of "
                   "another validator?)";
            goto bad;
        }
        pv->has_signature = true;
    }
    json_decref(o);
    return 0;
bad:
    json_decref(o);
    return px_err_say(err, cap, rc, "%s: bad signer state: %s; restore the file from a backup",
                      path, what);
}

/* Temporary files of whole-file writes cut short by a crash ("STATE.tmpXXXXXX", see fileio:
 * privval_state_create, `phalanx rollback`, and signers before statefile): removed at open,
 * while we hold the lock, so that crashes never accumulate them. */
static void remove_stale_tmp(const char *state_path)
{
    char *a = strdup(state_path), *b = strdup(state_path);
    DIR *d = (a && b) ? opendir(dirname(a)) : NULL;
    if (d) {
        char prefix[512];
        int n = snprintf(prefix, sizeof(prefix), "%s.tmp", basename(b));
        struct dirent *e;
        while (n > 0 && (size_t)n < sizeof(prefix) && (e = readdir(d)) != NULL)
            if (strncmp(e->d_name, prefix, (size_t)n) == 0 && strlen(e->d_name) == (size_t)n + 6)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    free(a);
    free(b);
}

/* ---- open / free ------------------------------------------------------------------------ */

int privval_open(const char *key_path, const char *state_path, struct privval **out, char *err,
                 size_t err_cap)
{
    if (!key_path || !state_path || !out)
        return PX_EINVAL;
    struct privval *pv = calloc(1, sizeof(*pv));
    if (!pv)
        return PX_ENOMEM;
    pv->lock_fd = -1;
    int rc = PX_ENOMEM;
    if (!(pv->state_path = strdup(state_path)))
        goto fail;
    size_t ln = strlen(state_path) + 6;
    char *lock = malloc(ln);
    if (!lock)
        goto fail;
    snprintf(lock, ln, "%s.lock", state_path);
    pv->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pv->lock_fd < 0) {
        rc = px_err_say(err, err_cap, px_err_from_errno(errno), "%s: cannot open the lock file: %s",
                        lock, strerror(errno));
        free(lock);
        goto fail;
    }
    if (flock(pv->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = px_err_say(err, err_cap, PX_EAGAIN,
                        "%s: another process is using this validator's signer (a second node with "
                        "the same home?); stop it first",
                        lock);
        free(lock);
        goto fail;
    }
    free(lock);
    rc = keyfile_load(key_path, KEYFILE_VALIDATOR, &pv->priv, &pv->pub, err, err_cap);
    if (rc != 0)
        goto fail;
    rc = load_state(pv, err, err_cap);
    if (rc != 0)
        goto fail;
    remove_stale_tmp(state_path);
    rc = statefile_open(state_path, &pv->sf, err, err_cap);
    if (rc != 0)
        goto fail;
    *out = pv;
    return 0;
fail:
    privval_free(pv);
    return rc;
}

void privval_free(struct privval *pv)
{
    if (!pv)
        return;
    ed25519_privkey_wipe(&pv->priv);
    statefile_close(pv->sf);
    if (pv->lock_fd >= 0)
        close(pv->lock_fd); /* releases the flock */
    free(pv->sign_bytes);
    free(pv->state_path);
    free(pv);
}

/* ---- signing ---------------------------------------------------------------------------- */

static int hrs_cmp(int64_t h1, int32_t r1, int s1, int64_t h2, int32_t r2, int s2)
{
    if (h1 != h2)
        return h1 < h2 ? -1 : 1;
    if (r1 != r2)
        return r1 < r2 ? -1 : 1;
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    return 0;
}

int privval_sign(struct privval *pv, int64_t height, int32_t round, enum privval_step step,
                 const uint8_t *sign_bytes, size_t len, uint8_t sig[PRIVVAL_SIG_SIZE])
{
    if (!pv || !sig || !sign_bytes || height < 1 || round < 0 || len == 0 ||
        len > PRIVVAL_SIGN_BYTES_MAX ||
        (step != PRIVVAL_STEP_PROPOSE && step != PRIVVAL_STEP_PREVOTE &&
         step != PRIVVAL_STEP_PRECOMMIT))
        return PX_EINVAL;
    if (pv->failed)
        return pv->last_err; /* the cause, as when it happened */
    int c = hrs_cmp(height, round, step, pv->height, pv->round, pv->step);
    if (c < 0) {
        PX_WARN("privval", "refused to sign below the last signed height/round/step",
                "height=%" PRId64 " round=%" PRId32 " step=%d last_height=%" PRId64
                " last_round=%" PRId32 " last_step=%d",
                height, round, (int)step, pv->height, pv->round, (int)pv->step);
        return PX_ECONFLICT;
    }
    if (c == 0) {
        if (pv->has_signature && len == pv->sign_bytes_len &&
            memcmp(sign_bytes, pv->sign_bytes, len) == 0) {
            memcpy(sig, pv->signature, PRIVVAL_SIG_SIZE);
            return 0;
        }
        PX_WARN("privval", "refused to sign different bytes at the last signed height/round/step",
                "height=%" PRId64 " round=%" PRId32 " step=%d", height, round, (int)step);
        return PX_ECONFLICT;
    }

    uint8_t fresh[PRIVVAL_SIG_SIZE];
    if (ed25519_sign(&pv->priv, sign_bytes, len, fresh) != 0)
        return PX_EINTERNAL;
    /* Everything that can fail without touching the disk happens before the write, so
     * that memory never lags behind a state already durable. */
    uint8_t *copy = malloc(len);
    if (!copy)
        return PX_ENOMEM;
    memcpy(copy, sign_bytes, len);
    char *text;
    int rc = render_state(height, round, step, fresh, sign_bytes, len, &text);
    if (rc != 0) {
        free(copy);
        return rc;
    }
    rc = statefile_write(pv->sf, text, strlen(text));
    free(text);
    if (rc != 0) {
        /* Nothing is released and memory keeps the last state we know is durable; the
         * file holds that one or the new one, never released (see the top of the file). */
        free(copy);
        pv->last_err = rc;
        pv->failures++;
        pv->fail_height = height;
        pv->fail_round = round;
        pv->fail_step = (int)step;
        if (privval_err_is_transient(rc)) {
            PX_ERROR("privval",
                     "could not persist the signer state; nothing was signed, the next request "
                     "tries again",
                     "file=%s height=%" PRId64 " round=%" PRId32 " step=%d err=\"%s\"",
                     pv->state_path, height, round, (int)step, px_strerror(rc));
        } else {
            pv->failed = true;
            PX_ERROR("privval",
                     "could not persist the signer state; refusing to sign until restarted "
                     "(check the disk, then restart the node)",
                     "file=%s height=%" PRId64 " round=%" PRId32 " step=%d err=\"%s\"",
                     pv->state_path, height, round, (int)step, px_strerror(rc));
        }
        return rc;
    }
    if (pv->last_err)
        PX_INFO("privval", "the signer persists its state again", "file=%s failures=%" PRIu64,
                pv->state_path, pv->failures);
    pv->last_err = 0;
    free(pv->sign_bytes);
    pv->sign_bytes = copy;
    pv->sign_bytes_len = len;
    pv->height = height;
    pv->round = round;
    pv->step = step;
    memcpy(pv->signature, fresh, PRIVVAL_SIG_SIZE);
    pv->has_signature = true;
    memcpy(sig, fresh, PRIVVAL_SIG_SIZE);
    return 0;
}

void privval_last(const struct privval *pv, int64_t *height, int32_t *round,
                  enum privval_step *step)
{
    *height = pv->height;
    *round = pv->round;
    *step = pv->step;
}

int privval_last_signed(const struct privval *pv, const uint8_t **sign_bytes, size_t *len,
                        const uint8_t **sig)
{
    if (!pv->has_signature)
        return PX_ENOTFOUND;
    *sign_bytes = pv->sign_bytes;
    *len = pv->sign_bytes_len;
    *sig = pv->signature;
    return 0;
}

void privval_pubkey(const struct privval *pv, uint8_t out[PRIVVAL_PUBKEY_SIZE])
{
    memcpy(out, pv->pub.bytes, PRIVVAL_PUBKEY_SIZE);
}

void privval_address(const struct privval *pv, uint8_t out[PRIVVAL_ADDRESS_SIZE])
{
    ed25519_address(&pv->pub, out);
}

bool privval_failed(const struct privval *pv)
{
    return pv->failed;
}

bool privval_err_is_transient(int err)
{
    return err == PX_ENOFD || err == PX_ENOSPC || err == PX_ENOMEM || err == PX_EAGAIN;
}

static const char *step_name(int step)
{
    switch (step) {
    case PRIVVAL_STEP_PROPOSE:
        return "propose";
    case PRIVVAL_STEP_PREVOTE:
        return "prevote";
    case PRIVVAL_STEP_PRECOMMIT:
        return "precommit";
    default:
        return "none";
    }
}

int privval_health(const struct privval *pv, char *why, size_t why_cap)
{
    if (pv->last_err == 0)
        return 0;
    if (pv->failed)
        return px_err_say(why, why_cap, pv->last_err,
                          "the validator's signer stopped signing at height %" PRId64
                          " round %" PRId32
                          " (%s): writing %s failed (%s); nothing was signed since. "
                          "Check the disk, then restart the node",
                          pv->fail_height, pv->fail_round, step_name(pv->fail_step), pv->state_path,
                          px_strerror(pv->last_err));
    const char *fix = pv->last_err == PX_ENOFD
                          ? "free file descriptors (limit RPC and p2p connections, raise the "
                            "open-file limit: LimitNOFILE, ulimit -n)"
                      : pv->last_err == PX_ENOSPC ? "free disk space on that file system"
                                                  : "see the node's log";
    return px_err_say(
        why, why_cap, pv->last_err,
        "the validator's signer cannot persist %s (%s): its signature at height %" PRId64
        " round %" PRId32 " (%s) was refused (failed writes so far: %" PRIu64
        ") and it tries again at the next one; %s",
        pv->state_path, px_strerror(pv->last_err), pv->fail_height, pv->fail_round,
        step_name(pv->fail_step), pv->failures, fix);
}

uint64_t privval_failures(const struct privval *pv)
{
    return pv->failures;
}

void privval_set_fault(struct privval *pv, statefile_fault_fn fn, void *user)
{
    statefile_set_fault(pv->sf, fn, user);
}
