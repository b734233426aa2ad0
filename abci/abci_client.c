/*
 * abci_client: the engine side of ABCI over nng REQ/REP (see abci_client.h).
 *
 * Each connection is a REQ socket with its own dialer, a mutex that serialises calls and
 * one nng_aio. A pipe callback counts live pipes; when a pipe goes away during a call it
 * cancels the call's aio, so the caller learns PX_ECLOSED at once instead of waiting for
 * its deadline. nng's automatic re-send is disabled: a request is sent at most once.
 *
 * Never: hand back a response that does not answer the request, or block past a deadline.
 */
#include "abci_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "px_error.h"
#include "px_log.h"

#define MOD "abci"
#define ERR_MAX 512

struct conn {
    struct abci_client *client;
    enum abci_conn kind;
    nng_socket sock;
    nng_dialer dialer;
    nng_aio *aio;
    pthread_mutex_t call_mu; /* held for a whole call */
    pthread_mutex_t pipe_mu; /* guards in_call, lost */
    bool in_call;
    bool lost;
    atomic_int pipes;
    atomic_ulong connects;
    char err[ERR_MAX];
};

struct abci_client {
    char addr[256];
    int timeout_ms;
    size_t max_request_bytes, max_response_bytes;
    struct conn conns[ABCI_CONN_COUNT];
    int nconns;                       /* initialised so far */
    pthread_mutex_t up_mu;            /* with up_cond: signalled when a connection comes up */
    pthread_cond_t up_cond;           /* (CLOCK_MONOTONIC) */
    abci_client_observer_fn observer; /* set before any call; read-only afterwards */
    void *observer_user;
};

void abci_client_set_observer(struct abci_client *c, abci_client_observer_fn fn, void *user)
{
    c->observer = fn;
    c->observer_user = user;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_err(struct conn *cn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct conn *cn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cn->err, sizeof(cn->err), fmt, ap);
    va_end(ap);
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct conn *cn = arg;
    (void)p;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&cn->pipes, 1);
        atomic_fetch_add(&cn->connects, 1);
        pthread_mutex_lock(&cn->client->up_mu);
        pthread_cond_broadcast(&cn->client->up_cond);
        pthread_mutex_unlock(&cn->client->up_mu);
        PX_DEBUG(MOD, "connected to app", "conn=%s", abci_conn_name(cn->kind));
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        atomic_fetch_sub(&cn->pipes, 1);
        PX_DEBUG(MOD, "connection to app lost", "conn=%s", abci_conn_name(cn->kind));
        pthread_mutex_lock(&cn->pipe_mu);
        if (cn->in_call) {
            cn->lost = true;
            nng_aio_cancel(cn->aio);
        }
        pthread_mutex_unlock(&cn->pipe_mu);
    }
}

static int conn_open(struct abci_client *c, struct conn *cn, enum abci_conn kind,
                     const struct abci_client_config *cfg)
{
    cn->client = c;
    cn->kind = kind;
    atomic_init(&cn->pipes, 0);
    atomic_init(&cn->connects, 0);
    pthread_mutex_init(&cn->call_mu, NULL);
    pthread_mutex_init(&cn->pipe_mu, NULL);
    int rmin =
        cfg->reconnect_min_ms > 0 ? cfg->reconnect_min_ms : ABCI_CLIENT_DEFAULT_RECONNECT_MIN_MS;
    int rmax =
        cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : ABCI_CLIENT_DEFAULT_RECONNECT_MAX_MS;
    if (rmax < rmin)
        rmax = rmin;
    int rv = nng_req0_open(&cn->sock);
    if (rv != 0)
        goto fail_mutex;
    if ((rv = nng_aio_alloc(&cn->aio, NULL, NULL)) != 0)
        goto fail_sock;
    if ((rv = nng_socket_set_ms(cn->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        /* + room for the SP header, which nng counts in the size */
        (rv = nng_socket_set_size(cn->sock, NNG_OPT_RECVMAXSZ, c->max_response_bytes + 1024)) !=
            0 ||
        (rv = nng_socket_set_ms(cn->sock, NNG_OPT_RECONNMINT, rmin)) != 0 ||
        (rv = nng_socket_set_ms(cn->sock, NNG_OPT_RECONNMAXT, rmax)) != 0 ||
        (rv = nng_pipe_notify(cn->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, cn)) != 0 ||
        (rv = nng_pipe_notify(cn->sock, NNG_PIPE_EV_REM_POST, pipe_cb, cn)) != 0)
        goto fail_aio;
    /* Non-blocking: if the app is not up yet nng keeps redialling with backoff. */
    rv = nng_dial(cn->sock, c->addr, &cn->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0)
        goto fail_aio;
    return 0;
fail_aio:
    nng_aio_free(cn->aio);
fail_sock:
    nng_close(cn->sock);
fail_mutex:
    pthread_mutex_destroy(&cn->call_mu);
    pthread_mutex_destroy(&cn->pipe_mu);
    PX_ERROR(MOD, "cannot dial app", "conn=%s addr=%s err=\"%s\"", abci_conn_name(kind), c->addr,
             nng_strerror(rv));
    if (rv == NNG_ENOMEM)
        return PX_ENOMEM;
    if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL)
        return PX_EINVAL;
    return PX_EIO;
}

static void conn_close(struct conn *cn)
{
    nng_close(cn->sock); /* waits for pipe callbacks to finish */
    nng_aio_free(cn->aio);
    pthread_mutex_destroy(&cn->call_mu);
    pthread_mutex_destroy(&cn->pipe_mu);
}

int abci_client_new(const struct abci_client_config *cfg, struct abci_client **out)
{
    if (cfg == NULL || out == NULL || cfg->addr == NULL || cfg->timeout_ms < 0 ||
        strlen(cfg->addr) >= sizeof(((struct abci_client *)0)->addr))
        return PX_EINVAL;
    struct abci_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PX_ENOMEM;
    snprintf(c->addr, sizeof(c->addr), "%s", cfg->addr);
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : ABCI_CLIENT_DEFAULT_TIMEOUT_MS;
    c->max_request_bytes =
        cfg->max_request_bytes ? cfg->max_request_bytes : ABCI_CLIENT_DEFAULT_MAX_REQUEST_BYTES;
    c->max_response_bytes =
        cfg->max_response_bytes ? cfg->max_response_bytes : ABCI_CLIENT_DEFAULT_MAX_RESPONSE_BYTES;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->up_mu, NULL);
    pthread_cond_init(&c->up_cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < ABCI_CONN_COUNT; i++) {
        int rc = conn_open(c, &c->conns[i], (enum abci_conn)i, cfg);
        if (rc != 0) {
            abci_client_free(c);
            return rc;
        }
        c->nconns = i + 1;
    }
    *out = c;
    return 0;
}

void abci_client_free(struct abci_client *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->nconns; i++)
        conn_close(&c->conns[i]);
    pthread_cond_destroy(&c->up_cond);
    pthread_mutex_destroy(&c->up_mu);
    free(c);
}

bool abci_client_connected(struct abci_client *c, enum abci_conn conn)
{
    if (c == NULL || (int)conn < 0 || conn >= ABCI_CONN_COUNT)
        return false;
    return atomic_load(&c->conns[conn].pipes) > 0;
}

unsigned long abci_client_connects(struct abci_client *c, enum abci_conn conn)
{
    if (c == NULL || (int)conn < 0 || conn >= ABCI_CONN_COUNT)
        return 0;
    return atomic_load(&c->conns[conn].connects);
}

int abci_client_wait_connected(struct abci_client *c, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&c->up_mu);
    for (;;) {
        bool all = true;
        for (int i = 0; i < ABCI_CONN_COUNT; i++)
            all = all && abci_client_connected(c, (enum abci_conn)i);
        if (all)
            break;
        if (pthread_cond_timedwait(&c->up_cond, &c->up_mu, &deadline) == ETIMEDOUT) {
            rc = PX_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&c->up_mu);
    return rc;
}

const char *abci_client_last_error(struct abci_client *c, enum abci_conn conn)
{
    if (c == NULL || (int)conn < 0 || conn >= ABCI_CONN_COUNT)
        return "";
    return c->conns[conn].err;
}

/* Map an nng failure of a call step to our code and a sentence. */
static int step_error(struct conn *cn, const char *method, int rv, int timeout_ms, bool lost)
{
    const char *addr = cn->client->addr;
    if (lost || rv == NNG_ECLOSED || rv == NNG_ECANCELED || rv == NNG_ECONNRESET ||
        rv == NNG_ECONNSHUT) {
        set_err(cn,
                "%s on the %s connection: the connection to the app at %s was lost (the app "
                "exited, or sent a message over %zu bytes); the engine will redial",
                method, abci_conn_name(cn->kind), addr, cn->client->max_response_bytes);
        return PX_ECLOSED;
    }
    if (rv == NNG_ETIMEDOUT) {
        set_err(cn, "%s on the %s connection: no answer from the app at %s within %d ms", method,
                abci_conn_name(cn->kind), addr, timeout_ms);
        return PX_ETIMEDOUT;
    }
    set_err(cn, "%s on the %s connection to %s failed: %s", method, abci_conn_name(cn->kind), addr,
            nng_strerror(rv));
    return rv == NNG_ENOMEM ? PX_ENOMEM : PX_EIO;
}

/* Protocol rules on the content of an answer, beyond its type. */
static int check_answer(struct conn *cn, const char *method, const Phalanx__Abci__Request *req,
                        const Phalanx__Abci__Response *resp)
{
    switch (req->value_case) {
    case PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK:
        if (resp->finalize_block->n_tx_results != req->finalize_block->n_txs) {
            set_err(cn, "%s: the app returned %zu tx results for %zu txs", method,
                    resp->finalize_block->n_tx_results, req->finalize_block->n_txs);
            return PX_EPROTO;
        }
        return 0;
    case PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH:
        if (resp->check_tx_batch->n_results != req->check_tx_batch->n_txs) {
            set_err(cn, "%s: the app returned %zu results for %zu txs", method,
                    resp->check_tx_batch->n_results, req->check_tx_batch->n_txs);
            return PX_EPROTO;
        }
        return 0;
    case PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL: {
        uint64_t total = 0;
        for (size_t i = 0; i < resp->prepare_proposal->n_txs; i++)
            total += resp->prepare_proposal->txs[i].len;
        if (req->prepare_proposal->max_tx_bytes >= 0 &&
            total > (uint64_t)req->prepare_proposal->max_tx_bytes) {
            set_err(cn, "%s: the app returned %llu bytes of txs, over max_tx_bytes %lld", method,
                    (unsigned long long)total, (long long)req->prepare_proposal->max_tx_bytes);
            return PX_EPROTO;
        }
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_ECHO: {
        const char *a = req->echo->message ? req->echo->message : "";
        const char *b = resp->echo->message ? resp->echo->message : "";
        if (strcmp(a, b) != 0) {
            set_err(cn, "%s: the app echoed a different message", method);
            return PX_EPROTO;
        }
        return 0;
    }
    default:
        return 0;
    }
}

int abci_client_call(struct abci_client *c, enum abci_conn conn, const Phalanx__Abci__Request *req,
                     int timeout_ms, Phalanx__Abci__Response **out)
{
    if (c == NULL || (int)conn < 0 || conn >= ABCI_CONN_COUNT || out == NULL)
        return PX_EINVAL;
    struct conn *cn = &c->conns[conn];
    pthread_mutex_lock(&cn->call_mu);
    uint64_t started_ns = mono_ns();
    cn->err[0] = '\0';
    int rc = 0;
    nng_msg *msg = NULL;
    if (timeout_ms <= 0)
        timeout_ms = c->timeout_ms;
    if (req == NULL || !abci_method_allowed(conn, req->value_case)) {
        set_err(cn, "%s may not be sent on the %s connection",
                req ? abci_method_name(req->value_case) : "(null request)", abci_conn_name(conn));
        rc = PX_EINVAL;
        goto out;
    }
    const char *method = abci_method_name(req->value_case);
    size_t n = phalanx__abci__request__get_packed_size(req);
    if (n > c->max_request_bytes) {
        set_err(cn, "%s request of %zu bytes exceeds the limit of %zu bytes", method, n,
                c->max_request_bytes);
        rc = PX_ETOOBIG;
        goto out;
    }
    if (nng_msg_alloc(&msg, n) != 0) {
        rc = PX_ENOMEM;
        goto out;
    }
    phalanx__abci__request__pack(req, nng_msg_body(msg));

    pthread_mutex_lock(&cn->pipe_mu);
    cn->in_call = true;
    cn->lost = false;
    bool up = atomic_load(&cn->pipes) > 0;
    pthread_mutex_unlock(&cn->pipe_mu);
    if (!up) {
        set_err(cn, "%s: not connected to the app at %s (%s connection); is the app running?",
                method, c->addr, abci_conn_name(conn));
        rc = PX_ECLOSED;
        goto done;
    }

    /* Send. The deadline covers send and receive together. */
    nng_time deadline = nng_clock() + (nng_time)timeout_ms;
    nng_aio_set_msg(cn->aio, msg);
    nng_aio_set_timeout(cn->aio, timeout_ms);
    nng_send_aio(cn->sock, cn->aio);
    nng_aio_wait(cn->aio);
    int rv = nng_aio_result(cn->aio);
    if (rv != 0) {
        /* on failure the message is still ours */
        rc = step_error(cn, method, rv, timeout_ms, false);
        goto done;
    }
    msg = NULL;

    pthread_mutex_lock(&cn->pipe_mu);
    bool lost = cn->lost;
    nng_time now = nng_clock();
    if (!lost) {
        nng_aio_set_timeout(cn->aio, now >= deadline ? 1 : (nng_duration)(deadline - now));
        nng_recv_aio(cn->sock, cn->aio);
    }
    pthread_mutex_unlock(&cn->pipe_mu);
    if (lost) {
        rc = step_error(cn, method, NNG_ECLOSED, timeout_ms, true);
        goto done;
    }
    nng_aio_wait(cn->aio);
    rv = nng_aio_result(cn->aio);
    if (rv != 0) {
        pthread_mutex_lock(&cn->pipe_mu);
        lost = cn->lost;
        pthread_mutex_unlock(&cn->pipe_mu);
        rc = step_error(cn, method, rv, timeout_ms, lost);
        goto done;
    }
    nng_msg *reply = nng_aio_get_msg(cn->aio);
    if (nng_msg_len(reply) > c->max_response_bytes) {
        set_err(cn, "%s: the app's answer of %zu bytes exceeds the limit of %zu bytes", method,
                nng_msg_len(reply), c->max_response_bytes);
        nng_msg_free(reply);
        rc = PX_ETOOBIG;
        goto done;
    }
    Phalanx__Abci__Response *resp = NULL;
    rc = abci_response_decode(nng_msg_body(reply), nng_msg_len(reply), &resp);
    size_t rlen = nng_msg_len(reply);
    nng_msg_free(reply);
    if (rc != 0) {
        set_err(cn, "%s: the app's answer of %zu bytes is not an ABCI Response (%s)", method, rlen,
                px_strerror(rc));
        goto done;
    }
    if (resp->value_case == PHALANX__ABCI__RESPONSE__VALUE_EXCEPTION) {
        set_err(cn, "%s: the app answered with an exception: %s", method,
                resp->exception->error ? resp->exception->error : "");
        abci_response_free(resp);
        rc = PX_EAPP;
        goto done;
    }
    if (resp->value_case != abci_response_case_for(req->value_case)) {
        set_err(cn, "%s: the app answered a different method (response field %d)", method,
                (int)resp->value_case);
        abci_response_free(resp);
        rc = PX_EPROTO;
        goto done;
    }
    rc = check_answer(cn, method, req, resp);
    if (rc != 0) {
        abci_response_free(resp);
        goto done;
    }
    *out = resp;

done:
    pthread_mutex_lock(&cn->pipe_mu);
    cn->in_call = false;
    pthread_mutex_unlock(&cn->pipe_mu);
out:
    if (msg != NULL)
        nng_msg_free(msg);
    if (rc != 0) {
        char q[ERR_MAX + 8];
        PX_WARN(MOD, "call failed", "conn=%s err=%s", abci_conn_name(conn),
                px_log_quote(q, sizeof(q), cn->err[0] ? cn->err : px_strerror(rc)));
    } else if (c->observer) {
        c->observer(abci_method_name(req->value_case), (double)(mono_ns() - started_ns) / 1e9,
                    c->observer_user);
    }
    pthread_mutex_unlock(&cn->call_mu);
    return rc;
}
