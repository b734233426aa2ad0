/*
 * metrics: a registry of Prometheus metrics (counters, gauges, histograms) that the node,
 * the reactors and the RPC update from any thread, and its text exposition (format 0.0.4)
 * served at /metrics. Every name gets the configured namespace as prefix ("phalanx_").
 *
 * Bounded: at most METRICS_MAX_FAMILIES families and METRICS_MAX_SERIES label values per
 * family (a peer or validator id used as a label cannot grow it without limit: beyond the
 * bound an update is refused with PX_EBOUND and counted in <ns>_metrics_dropped_total).
 * A family has zero or one label. Never blocks on I/O; never calls back into its callers.
 */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_FAMILIES 128
#define METRICS_MAX_SERIES 1024
#define METRICS_MAX_BUCKETS 16
#define METRICS_NAME_MAX 96
#define METRICS_LABEL_MAX 96 /* bytes of a label value, NUL included */

enum metric_type {
    METRIC_COUNTER = 1,
    METRIC_GAUGE = 2,
    METRIC_HISTOGRAM = 3,
};

struct metrics;
struct metric; /* one family: name, type, help, label name, series */

/* A registry whose names start with `namespace_` + "_" ("" or NULL: no prefix). The
 * namespace must match [a-zA-Z_][a-zA-Z0-9_]*. Errors: PX_EINVAL, PX_ENOMEM. */
int metrics_new(const char *namespace_, struct metrics **out);
void metrics_free(struct metrics *m);

/* Define a family (name without the namespace, [a-zA-Z_][a-zA-Z0-9_]*), with one label
 * (label_name non-NULL) or none. Histograms take 1..METRICS_MAX_BUCKETS increasing upper
 * bounds (+Inf is implicit). *out stays valid until metrics_free. Defining the same name
 * again with the same type returns the existing family. Errors: PX_EINVAL (bad name,
 * buckets, or the name exists with another type), PX_EBOUND, PX_ENOMEM. */
int metrics_define(struct metrics *m, const char *name, enum metric_type type, const char *help,
                   const char *label_name, const double *buckets, size_t n_buckets,
                   struct metric **out);

/* Update the series of label value `label` (NULL for a family without label). Counters
 * only go up: metrics_add with v < 0, or metrics_set of a counter below its value (a total
 * counted elsewhere, e.g. p2p bytes), is PX_EINVAL. metrics_observe is for histograms. A NULL
 * family is ignored (returns 0), so code can run without a registry. Errors: PX_EINVAL (wrong type,
 * label missing or present when it should not be, label too long), PX_EBOUND (too many series),
 * PX_ENOMEM. */
int metrics_set(struct metric *f, const char *label, double v);
int metrics_add(struct metric *f, const char *label, double v);
int metrics_observe(struct metric *f, const char *label, double v);

/* The value of a counter or gauge series (tests, status). PX_ENOTFOUND if never set. */
int metrics_value(struct metric *f, const char *label, double *out);

/* The text exposition of every family (malloc'd, NUL-terminated). PX_ENOMEM. */
int metrics_format(struct metrics *m, char **out, size_t *len);

/* The metrics of the issue (engine/rpc/README in the section "JSON-RPC and metrics"): the
 * node and reactors update these. All pointers are filled by metrics_std_register. */
struct metrics_std {
    /* consensus */
    struct metric *height, *rounds, *step_duration_seconds /* label step */,
        *round_duration_seconds, *block_interval_seconds, *num_txs, *total_txs, *block_size_bytes,
        *validators, *validators_power, *validator_power /* label validator_address */,
        *missing_validators, *missing_validators_power, *byzantine_validators,
        *byzantine_validators_power,
        *validator_prevotes /* label validator_address: prevotes seen in time */,
        *validator_precommits /* label validator_address */,
        *validator_missed_blocks /* label validator_address */;
    /* mempool */
    struct metric *mempool_size, *mempool_size_bytes, *mempool_failed_txs, *mempool_rejected_txs;
    /* p2p */
    struct metric *peers, *peer_receive_bytes /* label chID */, *peer_send_bytes /* label chID */;
    /* abci, crypto, rpc */
    struct metric *abci_method_timing_seconds /* label method */, *signature_verification_seconds,
        *rpc_requests /* label method */;
    /* the validator's signer */
    struct metric *signer_failures /* writes of its state that failed */,
        *signer_ok /* 1 while it signs, 0 while it cannot persist its state */;
};

/* Define every metric of struct metrics_std in m. Errors: those of metrics_define. */
int metrics_std_register(struct metrics *m, struct metrics_std *out);

struct block;
struct validator_set;

/* After a block is committed: block_size_bytes (block_bytes, its encoded size),
 * validator_power per validator of `vals` (the set of the block's height), and from the
 * block's last commit (signed by `last_vals`, the set of height - 1; NULL at height 1):
 * missing_validators(_power) and validator_missed_blocks for absent slots,
 * validator_precommits for slots that signed; byzantine_validators(_power) from the
 * block's evidence. Labels are upper-case hex addresses. Does not touch num_txs,
 * total_txs, validators, validators_power, block_interval (the node sets those).
 * Errors: PX_EINVAL (last commit and last_vals disagree in size); bounds as metrics_set. */
int metrics_std_block(const struct metrics_std *m, const struct block *b, uint64_t block_bytes,
                      const struct validator_set *vals, const struct validator_set *last_vals);

#endif
