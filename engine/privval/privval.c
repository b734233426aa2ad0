/*
 * privval: the file signer with its double-sign guard (see privval.h).
 *
 * The in-memory state always equals the last state made durable: a new state is written
 * (fileio_write_atomic: temporary file, fsync, rename, fsync of the directory) before the
 * memory is updated and before the signature leaves this file. Any error on that path
 * marks the signer failed for good. This file must never release a signature whose state
 * is not on disk, and never sign at or below the stored (height, round, step) except to
 * return the very signature stored for identical sign bytes.
 */
#include "privval.h"

#include "ed25519.h"
#include "fileio.h"
#include "keyfile.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"

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
    bool failed;
    /* the last durable state */
    int64_t height;
    int32_t round;
    enum privval_step step;
    bool has_signature;
    uint8_t signature[PRIVVAL_SIG_SIZE];
    uint8_t *sign_bytes;
    size_t sign_bytes_len;
};

static int set_err(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t cap, int rc, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

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
        return set_err(err, cap, rc,
                       "%s: the signer's state file is missing. If this validator never "
                       "signed, create it with 'phalanx init'; if it did, restore the file "
                       "(starting without it risks signing twice)",
                       path);
    if (rc != 0)
        return set_err(err, cap, rc, "%s: cannot read the signer's state: %s", path,
                       px_strerror(rc));
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!o)
        return set_err(err, cap, PX_ECORRUPT,
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
    return set_err(err, cap, rc, "%s: bad signer state: %s; restore the file from a backup", path,
                   what);
}

/* Temporary files of state writes cut short by a crash ("STATE.tmpXXXXXX", see fileio):
 * removed at open, while we hold the lock, so that crashes never accumulate them. */
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
        rc = set_err(err, err_cap, px_err_from_errno(errno), "%s: cannot open the lock file: %s",
                     lock, strerror(errno));
        free(lock);
        goto fail;
    }
    if (flock(pv->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = set_err(err, err_cap, PX_EAGAIN,
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
        return PX_ESTATE;
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
    rc = fileio_write_atomic(pv->state_path, text, strlen(text), 0600, 0);
    free(text);
    if (rc != 0) {
        /* The file may hold the old or the new state: we cannot know which, so nothing is
         * released and nothing more will be signed until a restart reloads it. */
        free(copy);
        pv->failed = true;
        PX_ERROR("privval", "could not persist the signer state; refusing to sign until restarted",
                 "file=%s height=%" PRId64 " round=%" PRId32 " step=%d err=\"%s\"", pv->state_path,
                 height, round, (int)step, px_strerror(rc));
        return PX_EIO;
    }
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
