/*
 * abci_server: the app side of ABCI over nng REQ/REP (see abci_server.h, PROTOCOL.md).
 *
 * One REP socket listens on the configured address and takes all four of the engine's
 * connections as pipes; abci_server_run receives one request at a time (nng keeps the
 * others queued per pipe), decodes it within bounds, calls the app, encodes the answer
 * and replies. nng's REP echoes the request id itself.
 *
 * Never: call the app from two threads, reply with more than max_response_bytes (an
 * Exception goes instead), or hold response memory past the send.
 */
#include "abci_server.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "abci_codec.h"
#include "px_error.h"
#include "px_log.h"

#define MOD "abci"
#define POLL_MS 100
#define ERR_MAX 512

/* ---- per-call arena ---------------------------------------------------------- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct abci_call {
    struct arena_block *head;
    size_t total, bound;
    char err[ERR_MAX];
};

#define ARENA_CHUNK (64u * 1024u)

void *abci_call_alloc(struct abci_call *call, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - align)
        return NULL;
    size = (size + align - 1) / align * align;
    struct arena_block *b = call->head;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        if (cap > call->bound - call->total)
            return NULL;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->next = call->head;
        b->used = 0;
        b->cap = cap;
        call->head = b;
        call->total += cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *abci_call_memdup(struct abci_call *call, const void *data, size_t len)
{
    void *p = abci_call_alloc(call, len);
    if (p != NULL && len > 0)
        memcpy(p, data, len);
    return p;
}

char *abci_call_strdup(struct abci_call *call, const char *s)
{
    if (s == NULL)
        s = "";
    return abci_call_memdup(call, s, strlen(s) + 1);
}

void abci_call_set_error(struct abci_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->err, sizeof(call->err), fmt, ap);
    va_end(ap);
}

static void call_fini(struct abci_call *call)
{
    struct arena_block *b = call->head;
    while (b != NULL) {
        struct arena_block *n = b->next;
        free(b);
        b = n;
    }
    call->head = NULL;
}

/* ---- server ------------------------------------------------------------------ */

struct abci_server {
    nng_socket sock;
    nng_listener listener;
    struct abci_app app;
    void *user;
    size_t max_request_bytes, max_response_bytes, call_arena_bytes;
    atomic_bool stop;
    atomic_bool running;
    atomic_ulong served, refused;
    char addr[256];
};

static int from_nng(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ENOMEM:
        return PX_ENOMEM;
    case NNG_EADDRINUSE:
        return PX_EEXIST;
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
    case NNG_EINVAL:
        return PX_EINVAL;
    case NNG_ETIMEDOUT:
        return PX_ETIMEDOUT;
    case NNG_ECLOSED:
        return PX_ECLOSED;
    case NNG_EPERM:
        return PX_EPERM;
    default:
        return PX_EIO;
    }
}

int abci_server_new(const struct abci_server_config *cfg, const struct abci_app *app, void *user,
                    struct abci_server **out)
{
    if (cfg == NULL || app == NULL || out == NULL || cfg->listen_addr == NULL ||
        strlen(cfg->listen_addr) >= sizeof(((struct abci_server *)0)->addr))
        return PX_EINVAL;
    struct abci_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PX_ENOMEM;
    s->app = *app;
    s->user = user;
    s->max_request_bytes =
        cfg->max_request_bytes ? cfg->max_request_bytes : ABCI_DEFAULT_MAX_REQUEST_BYTES;
    s->max_response_bytes =
        cfg->max_response_bytes ? cfg->max_response_bytes : ABCI_DEFAULT_MAX_RESPONSE_BYTES;
    s->call_arena_bytes =
        cfg->call_arena_bytes ? cfg->call_arena_bytes : ABCI_DEFAULT_CALL_ARENA_BYTES;
    snprintf(s->addr, sizeof(s->addr), "%s", cfg->listen_addr);
    atomic_init(&s->stop, false);
    atomic_init(&s->running, false);
    atomic_init(&s->served, 0);
    atomic_init(&s->refused, 0);

    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        free(s);
        return from_nng(rv);
    }
    /* A peer sending more than the bound has its connection closed by nng. nng counts the
     * SP header (request id and any hop ids, at most 255 words) in the size: allow it. */
    if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->max_request_bytes + 1024)) != 0 ||
        (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, POLL_MS)) != 0 ||
        (rv = nng_socket_set_ms(s->sock, NNG_OPT_SENDTIMEO, 10000)) != 0 ||
        (rv = nng_listen(s->sock, s->addr, &s->listener, 0)) != 0) {
        int err = from_nng(rv);
        char q[300];
        PX_ERROR(MOD, "cannot listen", "addr=%s err=%s", px_log_quote(q, sizeof(q), s->addr),
                 nng_strerror(rv));
        nng_close(s->sock);
        free(s);
        return err;
    }
    PX_INFO(MOD, "listening", "addr=%s", s->addr);
    *out = s;
    return 0;
}

/* Default answers (CometBFT's BaseApplication). */
static int default_prepare(struct abci_call *call, const Phalanx__Abci__RequestPrepareProposal *req,
                           Phalanx__Abci__ResponsePrepareProposal *resp)
{
    /* each tx counts with its framing in the block (abci_codec.h) */
    size_t n = 0;
    int64_t total = 0;
    while (n < req->n_txs && req->txs[n].len <= (uint64_t)INT64_MAX - ABCI_TX_FRAMING_BYTES &&
           (int64_t)(req->txs[n].len + ABCI_TX_FRAMING_BYTES) <= req->max_tx_bytes - total) {
        total += (int64_t)(req->txs[n].len + ABCI_TX_FRAMING_BYTES);
        n++;
    }
    resp->n_txs = n;
    resp->txs = req->txs; /* points into the request, which outlives the response */
    (void)call;
    return 0;
}

static int default_finalize(struct abci_call *call, const Phalanx__Abci__RequestFinalizeBlock *req,
                            Phalanx__Abci__ResponseFinalizeBlock *resp)
{
    if (req->n_txs == 0)
        return 0;
    Phalanx__Abci__ExecTxResult **r = abci_call_alloc(call, req->n_txs * sizeof(*r));
    if (r == NULL)
        return PX_ENOMEM;
    for (size_t i = 0; i < req->n_txs; i++) {
        r[i] = abci_call_alloc(call, sizeof(*r[i]));
        if (r[i] == NULL)
            return PX_ENOMEM;
        phalanx__abci__exec_tx_result__init(r[i]);
    }
    resp->n_tx_results = req->n_txs;
    resp->tx_results = r;
    return 0;
}

static int batch_via_check_tx(struct abci_server *s, struct abci_call *call,
                              const Phalanx__Abci__RequestCheckTxBatch *req,
                              Phalanx__Abci__ResponseCheckTxBatch *resp)
{
    if (req->n_txs == 0)
        return 0;
    Phalanx__Abci__ResponseCheckTx **r = abci_call_alloc(call, req->n_txs * sizeof(*r));
    if (r == NULL)
        return PX_ENOMEM;
    for (size_t i = 0; i < req->n_txs; i++) {
        r[i] = abci_call_alloc(call, sizeof(*r[i]));
        if (r[i] == NULL)
            return PX_ENOMEM;
        phalanx__abci__response_check_tx__init(r[i]);
        if (s->app.check_tx != NULL) {
            Phalanx__Abci__RequestCheckTx one = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
            one.tx = req->txs[i];
            one.type = req->type;
            int rc = s->app.check_tx(call, &one, r[i], s->user);
            if (rc != 0)
                return rc;
        }
    }
    resp->n_results = req->n_txs;
    resp->results = r;
    return 0;
}

/* Allocates the response member `field` of type T, inits it and sets the case. */
#define RESP_MEMBER(T, init, field, casev)                                                         \
    T *field = abci_call_alloc(call, sizeof(T));                                                   \
    if (field == NULL)                                                                             \
        return PX_ENOMEM;                                                                          \
    init(field);                                                                                   \
    resp->field = field;                                                                           \
    resp->value_case = casev

/* Fill `resp` for `req`. Returns 0 or the app's / our error (then an Exception is sent). */
static int dispatch(struct abci_server *s, struct abci_call *call, const abci_request *req,
                    abci_response *resp)
{
    const struct abci_app *a = &s->app;
    void *u = s->user;
    switch (req->value_case) {
    case PHALANX__ABCI__REQUEST__VALUE_ECHO: {
        RESP_MEMBER(Phalanx__Abci__ResponseEcho, phalanx__abci__response_echo__init, echo,
                    PHALANX__ABCI__RESPONSE__VALUE_ECHO);
        echo->message = req->echo->message;
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_FLUSH: {
        RESP_MEMBER(Phalanx__Abci__ResponseFlush, phalanx__abci__response_flush__init, flush,
                    PHALANX__ABCI__RESPONSE__VALUE_FLUSH);
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_INFO: {
        RESP_MEMBER(Phalanx__Abci__ResponseInfo, phalanx__abci__response_info__init, info,
                    PHALANX__ABCI__RESPONSE__VALUE_INFO);
        return a->info ? a->info(call, req->info, info, u) : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN: {
        RESP_MEMBER(Phalanx__Abci__ResponseInitChain, phalanx__abci__response_init_chain__init,
                    init_chain, PHALANX__ABCI__RESPONSE__VALUE_INIT_CHAIN);
        return a->init_chain ? a->init_chain(call, req->init_chain, init_chain, u) : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_QUERY: {
        RESP_MEMBER(Phalanx__Abci__ResponseQuery, phalanx__abci__response_query__init, query,
                    PHALANX__ABCI__RESPONSE__VALUE_QUERY);
        if (a->query)
            return a->query(call, req->query, query, u);
        query->code = 1;
        query->log = "no query handler";
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_CHECK_TX: {
        RESP_MEMBER(Phalanx__Abci__ResponseCheckTx, phalanx__abci__response_check_tx__init,
                    check_tx, PHALANX__ABCI__RESPONSE__VALUE_CHECK_TX);
        return a->check_tx ? a->check_tx(call, req->check_tx, check_tx, u) : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH: {
        RESP_MEMBER(Phalanx__Abci__ResponseCheckTxBatch,
                    phalanx__abci__response_check_tx_batch__init, check_tx_batch,
                    PHALANX__ABCI__RESPONSE__VALUE_CHECK_TX_BATCH);
        if (a->check_tx_batch)
            return a->check_tx_batch(call, req->check_tx_batch, check_tx_batch, u);
        return batch_via_check_tx(s, call, req->check_tx_batch, check_tx_batch);
    }
    case PHALANX__ABCI__REQUEST__VALUE_COMMIT: {
        RESP_MEMBER(Phalanx__Abci__ResponseCommit, phalanx__abci__response_commit__init, commit,
                    PHALANX__ABCI__RESPONSE__VALUE_COMMIT);
        return a->commit ? a->commit(call, req->commit, commit, u) : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_LIST_SNAPSHOTS: {
        RESP_MEMBER(Phalanx__Abci__ResponseListSnapshots,
                    phalanx__abci__response_list_snapshots__init, list_snapshots,
                    PHALANX__ABCI__RESPONSE__VALUE_LIST_SNAPSHOTS);
        return a->list_snapshots ? a->list_snapshots(call, req->list_snapshots, list_snapshots, u)
                                 : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_OFFER_SNAPSHOT: {
        RESP_MEMBER(Phalanx__Abci__ResponseOfferSnapshot,
                    phalanx__abci__response_offer_snapshot__init, offer_snapshot,
                    PHALANX__ABCI__RESPONSE__VALUE_OFFER_SNAPSHOT);
        if (a->offer_snapshot)
            return a->offer_snapshot(call, req->offer_snapshot, offer_snapshot, u);
        offer_snapshot->result = PHALANX__ABCI__OFFER_SNAPSHOT_RESULT__OFFER_SNAPSHOT_RESULT_ABORT;
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_LOAD_SNAPSHOT_CHUNK: {
        RESP_MEMBER(Phalanx__Abci__ResponseLoadSnapshotChunk,
                    phalanx__abci__response_load_snapshot_chunk__init, load_snapshot_chunk,
                    PHALANX__ABCI__RESPONSE__VALUE_LOAD_SNAPSHOT_CHUNK);
        return a->load_snapshot_chunk
                   ? a->load_snapshot_chunk(call, req->load_snapshot_chunk, load_snapshot_chunk, u)
                   : 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_APPLY_SNAPSHOT_CHUNK: {
        RESP_MEMBER(Phalanx__Abci__ResponseApplySnapshotChunk,
                    phalanx__abci__response_apply_snapshot_chunk__init, apply_snapshot_chunk,
                    PHALANX__ABCI__RESPONSE__VALUE_APPLY_SNAPSHOT_CHUNK);
        if (a->apply_snapshot_chunk)
            return a->apply_snapshot_chunk(call, req->apply_snapshot_chunk, apply_snapshot_chunk,
                                           u);
        apply_snapshot_chunk->result =
            PHALANX__ABCI__APPLY_SNAPSHOT_CHUNK_RESULT__APPLY_SNAPSHOT_CHUNK_RESULT_ABORT;
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL: {
        RESP_MEMBER(Phalanx__Abci__ResponsePrepareProposal,
                    phalanx__abci__response_prepare_proposal__init, prepare_proposal,
                    PHALANX__ABCI__RESPONSE__VALUE_PREPARE_PROPOSAL);
        if (a->prepare_proposal)
            return a->prepare_proposal(call, req->prepare_proposal, prepare_proposal, u);
        return default_prepare(call, req->prepare_proposal, prepare_proposal);
    }
    case PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL: {
        RESP_MEMBER(Phalanx__Abci__ResponseProcessProposal,
                    phalanx__abci__response_process_proposal__init, process_proposal,
                    PHALANX__ABCI__RESPONSE__VALUE_PROCESS_PROPOSAL);
        if (a->process_proposal)
            return a->process_proposal(call, req->process_proposal, process_proposal, u);
        process_proposal->status = PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT;
        return 0;
    }
    case PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK: {
        RESP_MEMBER(Phalanx__Abci__ResponseFinalizeBlock,
                    phalanx__abci__response_finalize_block__init, finalize_block,
                    PHALANX__ABCI__RESPONSE__VALUE_FINALIZE_BLOCK);
        if (a->finalize_block)
            return a->finalize_block(call, req->finalize_block, finalize_block, u);
        return default_finalize(call, req->finalize_block, finalize_block);
    }
    default:
        abci_call_set_error(call, "unknown request method %d", (int)req->value_case);
        return PX_EPROTO;
    }
}

/* An Exception response message with `text`, encoded into a new nng message. */
static int exception_msg(const char *text, nng_msg **out)
{
    Phalanx__Abci__ResponseException ex = PHALANX__ABCI__RESPONSE_EXCEPTION__INIT;
    abci_response r = PHALANX__ABCI__RESPONSE__INIT;
    ex.error = (char *)text;
    r.value_case = PHALANX__ABCI__RESPONSE__VALUE_EXCEPTION;
    r.exception = &ex;
    size_t n = phalanx__abci__response__get_packed_size(&r);
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, n) != 0)
        return PX_ENOMEM;
    phalanx__abci__response__pack(&r, nng_msg_body(m));
    *out = m;
    return 0;
}

/* Turn one request body into the reply message. Returns 0 with *out set, or PX_ENOMEM. */
static int serve_one(struct abci_server *s, const uint8_t *body, size_t len, nng_msg **out)
{
    char text[ERR_MAX + 64];
    abci_request *req = NULL;
    int rc = abci_request_decode(body, len, &req);
    if (rc != 0) {
        atomic_fetch_add(&s->refused, 1);
        snprintf(text, sizeof(text), "request of %zu bytes does not decode as an ABCI Request: %s",
                 len, px_strerror(rc));
        PX_WARN(MOD, "refused request", "bytes=%zu err=%s", len, px_strerror(rc));
        return exception_msg(text, out);
    }

    struct abci_call call = {NULL, 0, s->call_arena_bytes, {0}};
    abci_response resp = PHALANX__ABCI__RESPONSE__INIT;
    const char *method = abci_method_name(req->value_case);
    rc = dispatch(s, &call, req, &resp);
    if (rc == 0) {
        size_t n = phalanx__abci__response__get_packed_size(&resp);
        if (n > s->max_response_bytes) {
            atomic_fetch_add(&s->refused, 1);
            snprintf(text, sizeof(text),
                     "the app's %s response of %zu bytes exceeds the limit of %zu bytes", method, n,
                     s->max_response_bytes);
            PX_ERROR(MOD, "response too large", "method=%s bytes=%zu max=%zu", method, n,
                     s->max_response_bytes);
            rc = exception_msg(text, out);
        } else {
            nng_msg *m = NULL;
            if (nng_msg_alloc(&m, n) != 0) {
                rc = PX_ENOMEM;
            } else {
                phalanx__abci__response__pack(&resp, nng_msg_body(m));
                *out = m;
                atomic_fetch_add(&s->served, 1);
            }
        }
    } else {
        atomic_fetch_add(&s->refused, 1);
        snprintf(text, sizeof(text), "%s failed: %s", method,
                 call.err[0] ? call.err : px_strerror(rc));
        char q[ERR_MAX + 80];
        PX_WARN(MOD, "app callback failed", "method=%s err=%s", method,
                px_log_quote(q, sizeof(q), text));
        rc = exception_msg(text, out);
    }
    call_fini(&call);
    abci_request_free(req);
    return rc;
}

int abci_server_run(struct abci_server *s)
{
    if (s == NULL)
        return PX_EINVAL;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&s->running, &expected, true))
        return PX_ESTATE;
    int result = 0;
    while (!atomic_load(&s->stop)) {
        nng_msg *msg = NULL;
        int rv = nng_recvmsg(s->sock, &msg, 0);
        if (rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN || rv == NNG_EINTR)
            continue;
        if (rv != 0) {
            PX_ERROR(MOD, "receive failed", "addr=%s err=%s", s->addr, nng_strerror(rv));
            result = from_nng(rv) == PX_ECLOSED ? PX_ECLOSED : PX_EIO;
            break;
        }
        nng_msg *reply = NULL;
        int rc = serve_one(s, nng_msg_body(msg), nng_msg_len(msg), &reply);
        nng_msg_free(msg);
        if (rc != 0) {
            PX_ERROR(MOD, "out of memory building a response", "%s", "");
            continue; /* the engine times out and reports it */
        }
        rv = nng_sendmsg(s->sock, reply, 0);
        if (rv != 0) {
            nng_msg_free(reply);
            PX_WARN(MOD, "reply not sent", "err=%s", nng_strerror(rv));
        }
    }
    atomic_store(&s->running, false);
    return result;
}

void abci_server_stop(struct abci_server *s)
{
    if (s != NULL)
        atomic_store(&s->stop, true);
}

void abci_server_free(struct abci_server *s)
{
    if (s == NULL)
        return;
    nng_close(s->sock);
    free(s);
}

void abci_server_stats(const struct abci_server *s, unsigned long *served, unsigned long *refused)
{
    if (served)
        *served = atomic_load(&((struct abci_server *)s)->served);
    if (refused)
        *refused = atomic_load(&((struct abci_server *)s)->refused);
}
