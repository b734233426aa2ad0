/*
 * metrics: the registry and its Prometheus text exposition (see metrics.h). One mutex per
 * registry guards every family and series: updates are a lookup and an addition, so the
 * lock is held for microseconds. Must never grow past its bounds nor format a name or
 * label value that the Prometheus text format could misread (values are escaped).
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_error.h"

struct series {
    char label[METRICS_LABEL_MAX];
    double value;                          /* counter / gauge; histogram: sum */
    uint64_t count;                        /* histogram observations */
    uint64_t buckets[METRICS_MAX_BUCKETS]; /* histogram: non-cumulative counts */
};

struct metric {
    struct metrics *reg;
    char name[METRICS_NAME_MAX];
    char help[256];
    char label_name[METRICS_NAME_MAX]; /* "" when none */
    enum metric_type type;
    size_t n_buckets;
    double bounds[METRICS_MAX_BUCKETS];
    size_t n_series;
    size_t cap_series;
    struct series *series;
};

struct metrics {
    pthread_mutex_t mu;
    char ns[METRICS_NAME_MAX];
    size_t n;
    struct metric *families[METRICS_MAX_FAMILIES];
    uint64_t dropped; /* updates refused by a bound */
};

static bool valid_name(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) >= METRICS_NAME_MAX / 2)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

int metrics_new(const char *namespace_, struct metrics **out)
{
    *out = NULL;
    if (namespace_ != NULL && namespace_[0] != '\0' && !valid_name(namespace_))
        return PX_EINVAL;
    struct metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return PX_ENOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return PX_ENOMEM;
    }
    if (namespace_ != NULL)
        snprintf(m->ns, sizeof m->ns, "%s", namespace_);
    *out = m;
    return 0;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->families[i]->series);
        free(m->families[i]);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int metrics_define(struct metrics *m, const char *name, enum metric_type type, const char *help,
                   const char *label_name, const double *buckets, size_t n_buckets,
                   struct metric **out)
{
    *out = NULL;
    if (!valid_name(name) || (label_name != NULL && !valid_name(label_name)))
        return PX_EINVAL;
    if (type != METRIC_COUNTER && type != METRIC_GAUGE && type != METRIC_HISTOGRAM)
        return PX_EINVAL;
    if (type == METRIC_HISTOGRAM) {
        if (buckets == NULL || n_buckets == 0 || n_buckets > METRICS_MAX_BUCKETS)
            return PX_EINVAL;
        for (size_t i = 0; i < n_buckets; i++)
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                return PX_EINVAL;
    } else if (n_buckets != 0) {
        return PX_EINVAL;
    }
    char full[METRICS_NAME_MAX];
    size_t nsl = strlen(m->ns), nl = strlen(name);
    memcpy(full, m->ns, nsl);
    if (nsl)
        full[nsl++] = '_';
    memcpy(full + nsl, name, nl + 1); /* both under METRICS_NAME_MAX / 2 */
    pthread_mutex_lock(&m->mu);
    int err = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->families[i]->name, full) == 0) {
            if (m->families[i]->type != type)
                err = PX_EINVAL;
            else
                *out = m->families[i];
            pthread_mutex_unlock(&m->mu);
            return err;
        }
    }
    if (m->n == METRICS_MAX_FAMILIES) {
        pthread_mutex_unlock(&m->mu);
        return PX_EBOUND;
    }
    struct metric *f = calloc(1, sizeof *f);
    if (f == NULL) {
        pthread_mutex_unlock(&m->mu);
        return PX_ENOMEM;
    }
    f->reg = m;
    memcpy(f->name, full, sizeof full);
    snprintf(f->help, sizeof f->help, "%s", help ? help : "");
    snprintf(f->label_name, sizeof f->label_name, "%s", label_name ? label_name : "");
    f->type = type;
    f->n_buckets = n_buckets;
    if (n_buckets)
        memcpy(f->bounds, buckets, n_buckets * sizeof *buckets);
    m->families[m->n++] = f;
    pthread_mutex_unlock(&m->mu);
    *out = f;
    return 0;
}

/* The series of `label`, created if absent. Called with the lock held. */
static int find_series(struct metric *f, const char *label, bool create, struct series **out)
{
    bool has_label = f->label_name[0] != '\0';
    if (has_label != (label != NULL))
        return PX_EINVAL;
    if (label != NULL && strlen(label) >= METRICS_LABEL_MAX)
        return PX_EINVAL;
    const char *key = label ? label : "";
    for (size_t i = 0; i < f->n_series; i++) {
        if (strcmp(f->series[i].label, key) == 0) {
            *out = &f->series[i];
            return 0;
        }
    }
    if (!create)
        return PX_ENOTFOUND;
    if (f->n_series == METRICS_MAX_SERIES) {
        f->reg->dropped++;
        return PX_EBOUND;
    }
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 4;
        if (cap > METRICS_MAX_SERIES)
            cap = METRICS_MAX_SERIES;
        struct series *s = realloc(f->series, cap * sizeof *s);
        if (s == NULL)
            return PX_ENOMEM;
        f->series = s;
        f->cap_series = cap;
    }
    struct series *s = &f->series[f->n_series++];
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s", key);
    *out = s;
    return 0;
}

static int update(struct metric *f, const char *label, double v, enum metric_type want, int op)
{
    if (f == NULL)
        return 0;
    if (f->type != want || !isfinite(v) || ((op == 1 || op == 3) && v < 0))
        return PX_EINVAL;
    pthread_mutex_lock(&f->reg->mu);
    struct series *s;
    int err = find_series(f, label, true, &s);
    if (err == 0) {
        if (op == 0) {
            s->value = v;
        } else if (op == 3) {
            if (v < s->value)
                err = PX_EINVAL;
            else
                s->value = v;
        } else if (op == 1) {
            s->value += v;
        } else {
            s->value += v;
            s->count++;
            for (size_t i = 0; i < f->n_buckets; i++) {
                if (v <= f->bounds[i]) {
                    s->buckets[i]++;
                    break;
                }
            }
        }
    }
    pthread_mutex_unlock(&f->reg->mu);
    return err;
}

int metrics_set(struct metric *f, const char *label, double v)
{
    /* A counter may be set to a total kept elsewhere (p2p byte counts), never lowered. */
    if (f != NULL && f->type == METRIC_COUNTER)
        return update(f, label, v, METRIC_COUNTER, 3);
    return update(f, label, v, METRIC_GAUGE, 0);
}

int metrics_add(struct metric *f, const char *label, double v)
{
    if (f != NULL && f->type == METRIC_GAUGE)
        return update(f, label, v, METRIC_GAUGE, 1);
    return update(f, label, v, METRIC_COUNTER, 1);
}

int metrics_observe(struct metric *f, const char *label, double v)
{
    return update(f, label, v, METRIC_HISTOGRAM, 2);
}

int metrics_value(struct metric *f, const char *label, double *out)
{
    pthread_mutex_lock(&f->reg->mu);
    struct series *s;
    int err = find_series(f, label, false, &s);
    if (err == 0)
        *out = s->value;
    pthread_mutex_unlock(&f->reg->mu);
    return err;
}

/* Label values escape \ " and newline; HELP text escapes \ and newline. */
static void put_escaped(FILE *fp, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", fp);
        else if (*s == '\n')
            fputs("\\n", fp);
        else if (quote && *s == '"')
            fputs("\\\"", fp);
        else
            fputc(*s, fp);
    }
}

static void put_value(FILE *fp, double v)
{
    if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", fp);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(fp, "%.0f", v);
    else
        fprintf(fp, "%.17g", v);
}

static void put_labels(FILE *fp, const struct metric *f, const struct series *s, const char *le)
{
    bool any = f->label_name[0] != '\0' || le != NULL;
    if (!any)
        return;
    fputc('{', fp);
    if (f->label_name[0] != '\0') {
        fprintf(fp, "%s=\"", f->label_name);
        put_escaped(fp, s->label, true);
        fputc('"', fp);
        if (le != NULL)
            fputc(',', fp);
    }
    if (le != NULL)
        fprintf(fp, "le=\"%s\"", le);
    fputc('}', fp);
}

int metrics_format(struct metrics *m, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t blen = 0;
    FILE *fp = open_memstream(&buf, &blen);
    if (fp == NULL)
        return PX_ENOMEM;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        const struct metric *f = m->families[i];
        const char *tname = f->type == METRIC_COUNTER ? "counter"
                            : f->type == METRIC_GAUGE ? "gauge"
                                                      : "histogram";
        fprintf(fp, "# HELP %s ", f->name);
        put_escaped(fp, f->help, false);
        fprintf(fp, "\n# TYPE %s %s\n", f->name, tname);
        /* A family without label shows its zero value before the first update, so a
         * scrape always lists it (Prometheus convention for known series). */
        struct series zero;
        memset(&zero, 0, sizeof zero);
        size_t n_series = f->n_series;
        const struct series *list = f->series;
        if (n_series == 0 && f->label_name[0] == '\0') {
            n_series = 1;
            list = &zero;
        }
        for (size_t j = 0; j < n_series; j++) {
            const struct series *s = &list[j];
            if (f->type != METRIC_HISTOGRAM) {
                fputs(f->name, fp);
                put_labels(fp, f, s, NULL);
                fputc(' ', fp);
                put_value(fp, s->value);
                fputc('\n', fp);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < f->n_buckets; b++) {
                char le[40];
                cum += s->buckets[b];
                snprintf(le, sizeof le, "%.17g", f->bounds[b]);
                fprintf(fp, "%s_bucket", f->name);
                put_labels(fp, f, s, le);
                fprintf(fp, " %llu\n", (unsigned long long)cum);
            }
            fprintf(fp, "%s_bucket", f->name);
            put_labels(fp, f, s, "+Inf");
            fprintf(fp, " %llu\n", (unsigned long long)s->count);
            fprintf(fp, "%s_sum", f->name);
            put_labels(fp, f, s, NULL);
            fputc(' ', fp);
            put_value(fp, s->value);
            fprintf(fp, "\n%s_count", f->name);
            put_labels(fp, f, s, NULL);
            fprintf(fp, " %llu\n", (unsigned long long)s->count);
        }
    }
    fprintf(fp, "# HELP %s%smetrics_dropped_total Metric updates refused by a series bound.\n",
            m->ns, m->ns[0] ? "_" : "");
    fprintf(fp, "# TYPE %s%smetrics_dropped_total counter\n%s%smetrics_dropped_total %llu\n", m->ns,
            m->ns[0] ? "_" : "", m->ns, m->ns[0] ? "_" : "", (unsigned long long)m->dropped);
    pthread_mutex_unlock(&m->mu);
    if (fclose(fp) != 0 || buf == NULL) {
        free(buf);
        return PX_ENOMEM;
    }
    *out = buf;
    *len = blen;
    return 0;
}

static const double k_time_buckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
                                        0.25,   0.5,    1,     2.5,   5,    10,   30};
static const double k_size_buckets[] = {256,    1024,    4096,    16384,    65536,
                                        262144, 1048576, 4194304, 16777216, 104857600};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int metrics_std_register(struct metrics *m, struct metrics_std *o)
{
    memset(o, 0, sizeof *o);
    const char *va = "validator_address";
    struct {
        struct metric **slot;
        const char *name;
        enum metric_type type;
        const char *help;
        const char *label;
        const double *b;
        size_t nb;
    } defs[] = {
        {&o->height, "consensus_height", METRIC_GAUGE, "Height of the chain.", NULL, NULL, 0},
        {&o->rounds, "consensus_rounds", METRIC_GAUGE, "Round of the current height.", NULL, NULL,
         0},
        {&o->step_duration_seconds, "consensus_step_duration_seconds", METRIC_HISTOGRAM,
         "Time spent per consensus step.", "step", k_time_buckets, N(k_time_buckets)},
        {&o->round_duration_seconds, "consensus_round_duration_seconds", METRIC_HISTOGRAM,
         "Time spent in a round.", NULL, k_time_buckets, N(k_time_buckets)},
        {&o->block_interval_seconds, "consensus_block_interval_seconds", METRIC_HISTOGRAM,
         "Time between this and the last block.", NULL, k_time_buckets, N(k_time_buckets)},
        {&o->num_txs, "consensus_num_txs", METRIC_GAUGE, "Number of transactions in the block.",
         NULL, NULL, 0},
        {&o->total_txs, "consensus_total_txs", METRIC_COUNTER, "Total transactions committed.",
         NULL, NULL, 0},
        {&o->block_size_bytes, "consensus_block_size_bytes", METRIC_HISTOGRAM, "Size of the block.",
         NULL, k_size_buckets, N(k_size_buckets)},
        {&o->validators, "consensus_validators", METRIC_GAUGE, "Number of validators.", NULL, NULL,
         0},
        {&o->validators_power, "consensus_validators_power", METRIC_GAUGE,
         "Total voting power of the validators.", NULL, NULL, 0},
        {&o->validator_power, "consensus_validator_power", METRIC_GAUGE,
         "Voting power of a validator.", va, NULL, 0},
        {&o->missing_validators, "consensus_missing_validators", METRIC_GAUGE,
         "Validators that did not sign the last commit.", NULL, NULL, 0},
        {&o->missing_validators_power, "consensus_missing_validators_power", METRIC_GAUGE,
         "Voting power of the missing validators.", NULL, NULL, 0},
        {&o->byzantine_validators, "consensus_byzantine_validators", METRIC_GAUGE,
         "Validators with evidence in the last block.", NULL, NULL, 0},
        {&o->byzantine_validators_power, "consensus_byzantine_validators_power", METRIC_GAUGE,
         "Voting power of the Byzantine validators.", NULL, NULL, 0},
        {&o->validator_prevotes, "consensus_validator_prevotes_total", METRIC_COUNTER,
         "Prevotes of a validator received in time.", va, NULL, 0},
        {&o->validator_precommits, "consensus_validator_precommits_total", METRIC_COUNTER,
         "Precommits of a validator received in time.", va, NULL, 0},
        {&o->validator_missed_blocks, "consensus_validator_missed_blocks_total", METRIC_COUNTER,
         "Blocks whose commit lacks this validator's signature.", va, NULL, 0},
        {&o->mempool_size, "mempool_size", METRIC_GAUGE, "Transactions in the mempool.", NULL, NULL,
         0},
        {&o->mempool_size_bytes, "mempool_size_bytes", METRIC_GAUGE, "Bytes in the mempool.", NULL,
         NULL, 0},
        {&o->mempool_failed_txs, "mempool_failed_txs", METRIC_COUNTER,
         "Transactions that failed a recheck.", NULL, NULL, 0},
        {&o->mempool_rejected_txs, "mempool_rejected_txs", METRIC_COUNTER,
         "Transactions rejected by CheckTx or a bound.", NULL, NULL, 0},
        {&o->peers, "p2p_peers", METRIC_GAUGE, "Connected peers.", NULL, NULL, 0},
        {&o->peer_receive_bytes, "p2p_message_receive_bytes_total", METRIC_COUNTER,
         "Bytes received per channel.", "chID", NULL, 0},
        {&o->peer_send_bytes, "p2p_message_send_bytes_total", METRIC_COUNTER,
         "Bytes sent per channel.", "chID", NULL, 0},
        {&o->abci_method_timing_seconds, "abci_connection_method_timing_seconds", METRIC_HISTOGRAM,
         "Time of each ABCI method call.", "method", k_time_buckets, N(k_time_buckets)},
        {&o->signature_verification_seconds, "crypto_signature_verification_seconds",
         METRIC_HISTOGRAM, "Time to verify one signature.", NULL, k_time_buckets,
         N(k_time_buckets)},
        {&o->rpc_requests, "rpc_requests_total", METRIC_COUNTER, "JSON-RPC requests per method.",
         "method", NULL, 0},
        {&o->signer_failures, "signer_failures_total", METRIC_COUNTER,
         "Signatures refused because the signer could not persist its state.", NULL, NULL, 0},
        {&o->signer_ok, "signer_ok", METRIC_GAUGE,
         "1 while the validator's signer signs, 0 while it cannot persist its state.", NULL, NULL,
         0},
    };
    for (size_t i = 0; i < N(defs); i++) {
        int err = metrics_define(m, defs[i].name, defs[i].type, defs[i].help, defs[i].label,
                                 defs[i].b, defs[i].nb, defs[i].slot);
        if (err != 0)
            return err;
    }
    return 0;
}
