/* Unit tests of the file signer: every kind of regression refused, identical requests answered
 * with the stored signature, conflicts refused, refusal across a restart of the object,
 * signing with file descriptors exhausted (EMFILE, the real thing), a transient failure
 * refused and the next request signed, a failure at every step of the state write (ENOSPC
 * transient, EIO fail closed until restart), never two signatures for one height/round/step,
 * bad state files refused, one process at a time — and a crash test:
 * a child process signing increasing height/round/step is SIGKILLed at random instants many
 * times; after each kill the state file parses, holds at least everything released, and the
 * signer refuses to sign anything lower or conflicting. PX_PRIVVAL_KILLS sets the number of
 * kills (default 200), PX_SEED the seed (printed first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ed25519.h"
#include "keyfile.h"
#include "privval.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char key_path[300];
static char state_path[300];

static void silent_sink(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

static int setup(void **state)
{
    (void)state;
    px_log_reset();
    px_log_set_sink(silent_sink, NULL);
    assert_int_equal(pxt_tmpdir("privval", dir, sizeof(dir)), 0);
    snprintf(key_path, sizeof(key_path), "%s/priv_validator_key.json", dir);
    snprintf(state_path, sizeof(state_path), "%s/priv_validator_state.json", dir);
    uint8_t seed[32];
    memset(seed, 7, sizeof(seed));
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(ed25519_from_seed(seed, &priv, &pub), 0);
    assert_int_equal(keyfile_write(key_path, KEYFILE_VALIDATOR, &priv, NULL, 0), 0);
    ed25519_privkey_wipe(&priv);
    assert_int_equal(privval_state_create(state_path), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    px_log_reset();
    pxt_rmtree(dir);
    return 0;
}

static struct privval *open_pv(void)
{
    struct privval *pv = NULL;
    char err[PRIVVAL_ERR_MAX] = "";
    int rc = privval_open(key_path, state_path, &pv, err, sizeof(err));
    if (rc != 0)
        fail_msg("privval_open: %s (%s)", err, px_strerror(rc));
    return pv;
}

static const uint8_t A[] = "vote A";
static const uint8_t B[] = "vote B";

static void verify(struct privval *pv, const uint8_t *msg, size_t len, const uint8_t *sig)
{
    struct ed25519_pubkey pub;
    privval_pubkey(pv, pub.bytes);
    assert_int_equal(ed25519_verify(&pub, msg, len, sig), 0);
}

static void signs_and_refuses_every_regression(void **state)
{
    (void)state;
    struct privval *pv = open_pv();
    uint8_t s1[64], s2[64];
    int64_t h;
    int32_t r;
    enum privval_step st;
    privval_last(pv, &h, &r, &st);
    assert_int_equal(h, 0);
    assert_int_equal(st, PRIVVAL_STEP_NONE);
    const uint8_t *lb, *ls;
    size_t ll;
    assert_int_equal(privval_last_signed(pv, &lb, &ll, &ls), PX_ENOTFOUND);

    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, A, sizeof(A), s1), 0);
    verify(pv, A, sizeof(A), s1);
    /* identical request: the same signature */
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, A, sizeof(A), s2), 0);
    assert_memory_equal(s1, s2, 64);
    /* same HRS, other bytes (also a prefix of them) */
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, B, sizeof(B), s2), PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, A, sizeof(A) - 1, s2),
                     PX_ECONFLICT);
    /* lower step, lower round, lower height (with higher round/step) */
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s2), PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 5, 0, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s2),
                     PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 4, 9, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s2),
                     PX_ECONFLICT);
    /* forward: higher step, round, height */
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B), s2), 0);
    verify(pv, B, sizeof(B), s2);
    assert_int_equal(privval_sign(pv, 5, 2, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s2), 0);
    assert_int_equal(privval_sign(pv, 6, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s2), 0);
    /* the old identical request is now a regression, not a replay */
    assert_int_equal(privval_sign(pv, 5, 1, PRIVVAL_STEP_PREVOTE, A, sizeof(A), s2), PX_ECONFLICT);
    privval_last(pv, &h, &r, &st);
    assert_int_equal(h, 6);
    assert_int_equal(r, 0);
    assert_int_equal(st, PRIVVAL_STEP_PROPOSE);

    /* bad arguments */
    static uint8_t big[PRIVVAL_SIGN_BYTES_MAX + 1];
    assert_int_equal(privval_sign(pv, 0, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s2), PX_EINVAL);
    assert_int_equal(privval_sign(pv, 7, -1, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s2), PX_EINVAL);
    assert_int_equal(privval_sign(pv, 7, 0, PRIVVAL_STEP_NONE, A, sizeof(A), s2), PX_EINVAL);
    assert_int_equal(privval_sign(pv, 7, 0, (enum privval_step)4, A, sizeof(A), s2), PX_EINVAL);
    assert_int_equal(privval_sign(pv, 7, 0, PRIVVAL_STEP_PROPOSE, A, 0, s2), PX_EINVAL);
    assert_int_equal(privval_sign(pv, 7, 0, PRIVVAL_STEP_PROPOSE, big, sizeof(big), s2), PX_EINVAL);
    assert_false(privval_failed(pv));
    privval_free(pv);

    /* the state file is CometBFT's shape, mode 0600 */
    struct stat sb;
    assert_int_equal(stat(state_path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    size_t len;
    char *text = pxt_read_file(state_path, &len);
    assert_non_null(strstr(text, "\"height\": \"6\""));
    assert_non_null(strstr(text, "\"step\": 1"));
    assert_non_null(strstr(text, "\"signbytes\": \"766F7465204100\""));
    free(text);
}

static void refusal_survives_restart(void **state)
{
    (void)state;
    struct privval *pv = open_pv();
    uint8_t s1[64], s2[64];
    assert_int_equal(privval_sign(pv, 10, 2, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s1), 0);
    privval_free(pv);

    pv = open_pv();
    int64_t h;
    int32_t r;
    enum privval_step st;
    privval_last(pv, &h, &r, &st);
    assert_int_equal(h, 10);
    assert_int_equal(r, 2);
    assert_int_equal(st, PRIVVAL_STEP_PRECOMMIT);
    assert_int_equal(privval_sign(pv, 10, 2, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s2), 0);
    assert_memory_equal(s1, s2, 64);
    assert_int_equal(privval_sign(pv, 10, 2, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B), s2),
                     PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 10, 2, PRIVVAL_STEP_PREVOTE, A, sizeof(A), s2), PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 10, 1, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s2),
                     PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 9, 5, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A), s2),
                     PX_ECONFLICT);
    assert_int_equal(privval_sign(pv, 11, 0, PRIVVAL_STEP_PROPOSE, B, sizeof(B), s2), 0);
    const uint8_t *lb, *ls;
    size_t ll;
    assert_int_equal(privval_last_signed(pv, &lb, &ll, &ls), 0);
    assert_int_equal(ll, sizeof(B));
    assert_memory_equal(lb, B, sizeof(B));
    assert_memory_equal(ls, s2, 64);

    /* a second process (or object) on the same state is refused while this one is open */
    struct privval *two = NULL;
    char err[PRIVVAL_ERR_MAX] = "";
    assert_int_equal(privval_open(key_path, state_path, &two, err, sizeof(err)), PX_EAGAIN);
    assert_null(two);
    assert_non_null(strstr(err, "another process"));
    privval_free(pv);
}

/* ---- file descriptors exhausted, failed writes ------------------------------------------ */

/* Every descriptor this process may open, taken (the soft limit lowered first so that this
 * is quick), until hog_release gives them back. */
struct fdhog {
    struct rlimit saved;
    int fds[256];
    int n;
};

static void hog_fds(struct fdhog *h)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &h->saved), 0);
    struct rlimit low = h->saved;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    h->n = 0;
    int fd;
    while (h->n < 256 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        h->fds[h->n++] = fd;
    assert_int_equal(open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
    assert_int_equal(errno, EMFILE);
}

static void hog_release(struct fdhog *h)
{
    for (int i = 0; i < h->n; i++)
        close(h->fds[i]);
    h->n = 0;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &h->saved), 0);
}

/* Every signature released by a test, to check that no (height, round, step) ever had two. */
struct ledger {
    struct {
        int64_t h;
        int32_t r;
        int s;
        uint8_t sig[64];
    } e[64];
    int n;
};

static void released(struct ledger *l, int64_t h, int32_t r, int s, const uint8_t sig[64])
{
    for (int i = 0; i < l->n; i++)
        if (l->e[i].h == h && l->e[i].r == r && l->e[i].s == s && memcmp(l->e[i].sig, sig, 64) != 0)
            fail_msg("two different signatures released at %" PRId64 "/%d/%d", h, r, s);
    assert_true(l->n < 64);
    l->e[l->n].h = h;
    l->e[l->n].r = r;
    l->e[l->n].s = s;
    memcpy(l->e[l->n].sig, sig, 64);
    l->n++;
}

/* Sign and, on success, record the release and check the signature. */
static int sign(struct privval *pv, struct ledger *l, int64_t h, int32_t r, enum privval_step st,
                const uint8_t *msg, size_t len)
{
    uint8_t sig[64];
    int rc = privval_sign(pv, h, r, st, msg, len, sig);
    if (rc == 0) {
        verify(pv, msg, len, sig);
        released(l, h, r, (int)st, sig);
    }
    return rc;
}

/* The flood of the finding: a process out of descriptors (EMFILE) still signs, because the
 * state write opens none, and the state is on disk. */
static void signs_with_descriptors_exhausted(void **state)
{
    (void)state;
    struct ledger l = {.n = 0};
    struct privval *pv = open_pv();
    assert_int_equal(sign(pv, &l, 1, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), 0);
    struct fdhog hog;
    hog_fds(&hog);
    int a = sign(pv, &l, 1, 0, PRIVVAL_STEP_PREVOTE, A, sizeof(A));
    int b = sign(pv, &l, 1, 0, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B));
    int c = sign(pv, &l, 2, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A));
    bool failed = privval_failed(pv);
    hog_release(&hog);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
    assert_int_equal(c, 0);
    assert_false(failed);
    assert_int_equal(sign(pv, &l, 2, 0, PRIVVAL_STEP_PREVOTE, B, sizeof(B)), 0);
    privval_free(pv);
    /* what was signed while out of descriptors is durable */
    pv = open_pv();
    int64_t h;
    int32_t r;
    enum privval_step st;
    privval_last(pv, &h, &r, &st);
    assert_int_equal(h, 2);
    assert_int_equal(st, PRIVVAL_STEP_PREVOTE);
    assert_int_equal(sign(pv, &l, 2, 0, PRIVVAL_STEP_PREVOTE, A, sizeof(A)), PX_ECONFLICT);
    privval_free(pv);
}

/* A file system without RENAME_EXCHANGE, and another thread of the process (an RPC accept)
 * that takes every descriptor freed while `hog` is set, just before the signer opens its next
 * scratch file: the signer's open then fails with a real EMFILE. */
static struct fdhog *g_thief;

static int no_exchange_and_a_thief(enum statefile_step step, void *user)
{
    (void)user;
    if (step == STATEFILE_EXCHANGE)
        return EINVAL;
    if (step == STATEFILE_CREATE_SCRATCH && g_thief && g_thief->n < 256) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            g_thief->fds[g_thief->n++] = fd;
    }
    return 0;
}

/* On a file system without RENAME_EXCHANGE each write needs a new descriptor for the next
 * scratch file. Out of descriptors, that signature is refused with "too many open files"
 * (not an I/O error), the signer keeps working, /health's sentence says why, and once
 * descriptors are back the next request is signed. Nothing is ever released twice. */
static void transient_emfile_refused_then_signed(void **state)
{
    (void)state;
    struct ledger l = {.n = 0};
    struct privval *pv = open_pv();
    privval_set_fault(pv, no_exchange_and_a_thief, NULL);
    assert_int_equal(sign(pv, &l, 3, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), 0);
    struct fdhog hog;
    hog_fds(&hog);
    g_thief = &hog;
    /* the scratch file for this write was opened before: signed; the next one cannot be */
    int rc1 = sign(pv, &l, 3, 0, PRIVVAL_STEP_PREVOTE, A, sizeof(A));
    int rc2 = sign(pv, &l, 3, 0, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A));
    int rc3 = sign(pv, &l, 3, 0, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B));
    char why[512] = "";
    int health = privval_health(pv, why, sizeof(why));
    bool failed = privval_failed(pv);
    g_thief = NULL;
    hog_release(&hog);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, PX_ENOFD);
    assert_int_equal(rc3, PX_ENOFD);
    assert_true(privval_err_is_transient(rc2));
    assert_false(failed);
    assert_int_equal(health, PX_ENOFD);
    if (!strstr(why, "too many open files") || !strstr(why, state_path) ||
        !strstr(why, "height 3 round 0 (precommit)") || !strstr(why, "tries again"))
        fail_msg("health: %s", why);
    assert_int_equal(privval_failures(pv), 2);
    /* descriptors are back: the next request (other bytes: nothing was released) is signed */
    assert_int_equal(sign(pv, &l, 3, 0, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B)), 0);
    assert_int_equal(privval_health(pv, why, sizeof(why)), 0);
    assert_int_equal(sign(pv, &l, 3, 0, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B)), 0);
    assert_int_equal(sign(pv, &l, 3, 0, PRIVVAL_STEP_PRECOMMIT, A, sizeof(A)), PX_ECONFLICT);
    assert_int_equal(sign(pv, &l, 4, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), 0);
    privval_free(pv);
    pv = open_pv();
    int64_t h;
    int32_t r;
    enum privval_step st;
    privval_last(pv, &h, &r, &st);
    assert_int_equal(h, 4);
    assert_int_equal(st, PRIVVAL_STEP_PROPOSE);
    privval_free(pv);
}

struct fault {
    enum statefile_step step;
    int errnum;
    int times; /* fail this many times, then succeed */
};

static int fault_fn(enum statefile_step step, void *user)
{
    struct fault *f = user;
    if (step != f->step || f->times == 0)
        return 0;
    f->times--;
    return f->errnum;
}

/* The height in the state file on disk, read without the signer. */
static int64_t disk_height(void)
{
    size_t len;
    char *text = pxt_read_file(state_path, &len);
    assert_non_null(text);
    const char *p = strstr(text, "\"height\": \"");
    assert_non_null(p);
    int64_t h = strtoll(p + 11, NULL, 10);
    free(text);
    return h;
}

/* A failure at every step of the write: ENOSPC refuses that signature only, with its own
 * text, and the next request is signed; EIO stops the signer, and every later request gets
 * EIO (not a generic "not valid in the current state") until a restart, which reloads a
 * state that holds at least everything released. The file is never torn. */
static void failure_at_every_step(void **state)
{
    (void)state;
    const enum statefile_step steps[] = {STATEFILE_WRITE, STATEFILE_FSYNC, STATEFILE_EXCHANGE,
                                         STATEFILE_FSYNC_DIR};
    struct ledger l = {.n = 0};
    int64_t h = 10;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        /* transient */
        struct privval *pv = open_pv();
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), 0);
        struct fault f = {steps[i], ENOSPC, 2};
        privval_set_fault(pv, fault_fn, &f);
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PREVOTE, A, sizeof(A)), PX_ENOSPC);
        int64_t d = disk_height();
        assert_true(d == h); /* old state, or the new one at the same height: parses */
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PREVOTE, B, sizeof(B)), PX_ENOSPC);
        char why[512];
        assert_int_equal(privval_health(pv, why, sizeof(why)), PX_ENOSPC);
        assert_non_null(strstr(why, "no space left on device"));
        assert_false(privval_failed(pv));
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PREVOTE, B, sizeof(B)), 0);
        assert_int_equal(privval_health(pv, NULL, 0), 0);
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PRECOMMIT, B, sizeof(B)), 0);
        h++;
        /* permanent */
        struct fault g = {steps[i], EIO, 1};
        privval_set_fault(pv, fault_fn, &g);
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), PX_EIO);
        assert_true(privval_failed(pv));
        /* the fault is gone, but the signer stays stopped, and says why */
        assert_int_equal(sign(pv, &l, h, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), PX_EIO);
        assert_int_equal(sign(pv, &l, h, 1, PRIVVAL_STEP_PROPOSE, A, sizeof(A)), PX_EIO);
        assert_int_equal(privval_health(pv, why, sizeof(why)), PX_EIO);
        if (!strstr(why, "stopped signing") || !strstr(why, "restart") ||
            !strstr(why, "input/output error"))
            fail_msg("health: %s", why);
        privval_free(pv);
        /* restart: the state is the last released one, or the refused one (never released) */
        pv = open_pv();
        int64_t lh;
        int32_t lr;
        enum privval_step ls;
        privval_last(pv, &lh, &lr, &ls);
        assert_true((lh == h - 1 && ls == PRIVVAL_STEP_PRECOMMIT) ||
                    (lh == h && ls == PRIVVAL_STEP_PROPOSE));
        assert_int_equal(privval_health(pv, NULL, 0), 0);
        assert_int_equal(sign(pv, &l, h, 1, PRIVVAL_STEP_PROPOSE, B, sizeof(B)), 0);
        privval_free(pv);
        h++;
    }
}

static void bad_state_files_refused(void **state)
{
    (void)state;
    struct privval *pv = open_pv();
    uint8_t s[64];
    assert_int_equal(privval_sign(pv, 8, 0, PRIVVAL_STEP_PROPOSE, A, sizeof(A), s), 0);
    privval_free(pv);
    size_t len;
    char *good = pxt_read_file(state_path, &len);
    assert_non_null(good);

    struct {
        const char *text;
        int rc;
        const char *want;
    } cases[] = {
        {"{\"height\": \"8\", \"round\": 0", PX_ECORRUPT, "not valid JSON"},
        {"{\"height\": \"-1\", \"round\": 0, \"step\": 0}", PX_ECORRUPT, "\"height\""},
        {"{\"height\": \"8\", \"round\": 0, \"step\": 4}", PX_ECORRUPT, "\"step\""},
        {"{\"height\": \"8\", \"round\": -2, \"step\": 1}", PX_ECORRUPT, "\"round\""},
        {"{\"height\": \"8\", \"round\": 0, \"step\": 1, \"signbytes\": \"00\"}", PX_ECORRUPT,
         "both or neither"},
        {"", PX_ECORRUPT, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(pxt_write_file(state_path, cases[i].text, strlen(cases[i].text)), 0);
        char err[PRIVVAL_ERR_MAX] = "";
        pv = NULL;
        int rc = privval_open(key_path, state_path, &pv, err, sizeof(err));
        if (rc != cases[i].rc || !strstr(err, cases[i].want) || !strstr(err, state_path))
            fail_msg("case %zu: rc=%d err='%s'", i, rc, err);
        assert_null(pv);
    }
    /* a signature that is not ours over the sign bytes (sign bytes changed by hand) */
    char *tampered = strdup(good);
    char *sb = strstr(tampered, "766F7465204100");
    assert_non_null(sb);
    sb[0] = '8';
    assert_int_equal(pxt_write_file(state_path, tampered, strlen(tampered)), 0);
    free(tampered);
    char err[PRIVVAL_ERR_MAX] = "";
    assert_int_equal(privval_open(key_path, state_path, &pv, err, sizeof(err)), PX_ECORRUPT);
    assert_non_null(strstr(err, "not this key's signature"));
    /* a missing state is never taken for a fresh validator */
    assert_int_equal(unlink(state_path), 0);
    assert_int_equal(privval_open(key_path, state_path, &pv, err, sizeof(err)), PX_ENOTFOUND);
    assert_non_null(strstr(err, "missing"));
    /* privval_state_create never overwrites */
    assert_int_equal(pxt_write_file(state_path, good, len), 0);
    assert_int_equal(privval_state_create(state_path), PX_EEXIST);
    pv = open_pv();
    privval_free(pv);
    free(good);
}

/* ---- crash test ---------------------------------------------------------------------- */

struct released {
    int64_t height;
    int32_t round;
    int32_t step;
    uint32_t len;
    uint8_t bytes[48];
    uint8_t sig[64];
};

static int hrs_cmp(int64_t h1, int32_t r1, int s1, int64_t h2, int32_t r2, int s2)
{
    if (h1 != h2)
        return h1 < h2 ? -1 : 1;
    if (r1 != r2)
        return r1 < r2 ? -1 : 1;
    return s1 < s2 ? -1 : s1 > s2;
}

/* The child: sign increasing HRS forever, writing each released signature to fd. */
static void child_signer(int fd, uint64_t seed)
{
    struct privval *pv = NULL;
    char err[PRIVVAL_ERR_MAX];
    if (privval_open(key_path, state_path, &pv, err, sizeof(err)) != 0)
        _exit(10);
    int64_t h;
    int32_t r;
    enum privval_step st;
    privval_last(pv, &h, &r, &st);
    uint64_t x = seed | 1;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* next HRS: step forward, sometimes a new round, sometimes a new height */
        if (st == PRIVVAL_STEP_NONE || st == PRIVVAL_STEP_PRECOMMIT || x % 11 == 0) {
            if (x % 3 == 0 || h == 0) {
                h++;
                r = 0;
            } else {
                r++;
            }
            st = PRIVVAL_STEP_PROPOSE;
        } else {
            st = (enum privval_step)(st + 1);
        }
        struct released rec = {h, r, (int32_t)st, 0, {0}, {0}};
        rec.len = (uint32_t)snprintf((char *)rec.bytes, sizeof(rec.bytes),
                                     "h=%" PRId64 " r=%d s=%d n=%" PRIu64, h, r, (int)st, x);
        if (privval_sign(pv, h, r, st, rec.bytes, rec.len, rec.sig) != 0)
            _exit(11);
        /* an identical request returns the same signature; a different one is refused */
        uint8_t again[64];
        if (privval_sign(pv, h, r, st, rec.bytes, rec.len, again) != 0 ||
            memcmp(again, rec.sig, 64) != 0)
            _exit(12);
        if (privval_sign(pv, h, r, st, (const uint8_t *)"other", 5, again) != PX_ECONFLICT)
            _exit(13);
        if (write(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
            _exit(14);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sigkill_at_random_instants(void **state)
{
    (void)state;
    const char *e = getenv("PX_PRIVVAL_KILLS");
    int kills = e ? atoi(e) : 200;
    e = getenv("PX_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    printf("# privval crash test: seed=%" PRIu64 " kills=%d (PX_SEED, PX_PRIVVAL_KILLS)\n", seed,
           kills);
    srandom((unsigned)seed);

    struct released last = {0, 0, 0, 0, {0}, {0}};
    bool any = false;
    uint64_t total_released = 0;
    int unreleased_seen = 0;
    for (int k = 0; k < kills; k++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_signer(fds[1], seed * 1000003u + (uint64_t)k);
        }
        close(fds[1]);
        /* let it release 1..8 signatures, then kill it a random number of microseconds
         * later (a busy wait: the child is signing meanwhile, so the instant falls
         * anywhere in its sign/persist/release cycle) */
        int want = 1 + (int)(random() % 8);
        int got = 0;
        struct released rec;
        bool child_ok = true;
        while (got < want) {
            ssize_t n = read(fds[0], &rec, sizeof(rec));
            if (n != (ssize_t)sizeof(rec)) {
                child_ok = false;
                break;
            }
            got++;
            if (any &&
                hrs_cmp(rec.height, rec.round, rec.step, last.height, last.round, last.step) <= 0)
                fail_msg("kill %d: released HRS %" PRId64 "/%d/%d not above %" PRId64 "/%d/%d", k,
                         rec.height, rec.round, rec.step, last.height, last.round, last.step);
            last = rec;
            any = true;
            total_released++;
        }
        uint64_t until = now_ns() + (uint64_t)(random() % 3000) * 1000u;
        while (now_ns() < until)
            ;
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!child_ok || !WIFSIGNALED(status))
            fail_msg("kill %d: the child signer stopped by itself (status %d)", k, status);
        /* records released before the kill */
        for (;;) {
            ssize_t n = read(fds[0], &rec, sizeof(rec));
            if (n != (ssize_t)sizeof(rec))
                break;
            if (hrs_cmp(rec.height, rec.round, rec.step, last.height, last.round, last.step) <= 0)
                fail_msg("kill %d: released HRS went backwards", k);
            last = rec;
            total_released++;
        }
        close(fds[0]);

        /* after the crash: the state parses and holds at least what was released */
        struct privval *pv = NULL;
        char err[PRIVVAL_ERR_MAX] = "";
        int rc = privval_open(key_path, state_path, &pv, err, sizeof(err));
        if (rc != 0)
            fail_msg("kill %d: state does not load after SIGKILL: %s", k, err);
        int64_t h;
        int32_t r;
        enum privval_step st;
        privval_last(pv, &h, &r, &st);
        int c = hrs_cmp(h, r, st, last.height, last.round, last.step);
        if (c < 0)
            fail_msg("kill %d: state %" PRId64 "/%d/%d is below the released %" PRId64 "/%d/%d", k,
                     h, r, (int)st, last.height, last.round, last.step);
        uint8_t sig[64];
        if (c == 0) {
            /* the released signature is the stored one */
            assert_int_equal(privval_sign(pv, h, r, st, last.bytes, last.len, sig), 0);
            assert_memory_equal(sig, last.sig, 64);
        } else {
            unreleased_seen++; /* persisted, killed before it was released: fine */
        }
        /* never a conflicting or lower signature */
        assert_int_equal(privval_sign(pv, last.height, last.round, (enum privval_step)last.step,
                                      (const uint8_t *)"conflict", 8, sig),
                         PX_ECONFLICT);
        if (last.height > 1)
            assert_int_equal(privval_sign(pv, last.height - 1, 0, PRIVVAL_STEP_PRECOMMIT,
                                          last.bytes, last.len, sig),
                             PX_ECONFLICT);
        /* writes cut short by the kill leave no temporary files behind once reopened */
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q 'state.json.tmp'", dir);
        if (system(cmd) == 0)
            fail_msg("kill %d: a temporary state file is left after reopening", k);
        privval_free(pv);
    }
    printf("# privval crash test: %d kills, %" PRIu64 " signatures released, %d kills "
           "between persist and release\n",
           kills, total_released, unreleased_seen);
    assert_true(total_released >= (uint64_t)kills);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(signs_and_refuses_every_regression, setup, teardown),
        cmocka_unit_test_setup_teardown(refusal_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(signs_with_descriptors_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(transient_emfile_refused_then_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_state_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(sigkill_at_random_instants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
