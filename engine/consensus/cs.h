/*
 * cs: the Tendermint consensus core (Buchman, Kwon, Milosevic 2018, Algorithm 1, with
 * CometBFT's weighted proposer rotation, LastCommit and commit timeout) as a pure state
 * machine. One entry point, cs_step(), takes one input and fills an output with the
 * actions the shell must carry out.
 *
 * It does no I/O, reads no clock, draws no random number, never signs and allocates only
 * in cs_new() through the allocator it is given. Same inputs in the same order give the
 * same outputs, byte for byte: the WAL is the input sequence.
 *
 * Signing protocol (our choice): the core emits CS_ACTION_SIGN_VOTE / SIGN_PROPOSAL with
 * the unsigned message. The shell logs it durably, asks the signer (whose double-sign guard
 * may refuse), broadcasts the signed message and feeds it back as CS_INPUT_OWN_VOTE /
 * CS_INPUT_OWN_PROPOSAL, which enter the core's vote sets like any other message. The core
 * never asks twice for one (height, round, step).
 *
 * Order in which the shell carries out the actions of one output (they are sorted so):
 * sign (after persisting) and send, evidence, app requests (decide, build, validate),
 * timers, then drop reports (informational).
 */
#ifndef PX_CS_H
#define PX_CS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_id.h"
#include "proposal.h"
#include "validator_set.h"
#include "vote.h"

/* Rounds of one height tracked at once (vote sets and proposals). */
#define CS_ROUND_SLOTS 12
/* Messages for a round more than this far ahead of ours are dropped. */
#define CS_MAX_ROUNDS_AHEAD 100
/* Highest round number accepted (keeps round arithmetic far from overflow). */
#define CS_MAX_ROUND 1000000
/* Blocks (ids with content/validation state) tracked per height. */
#define CS_MAX_BLOCKS (CS_ROUND_SLOTS + 4)
/* Most actions one step can produce. */
#define CS_MAX_ACTIONS 32

enum cs_step {
    CS_STEP_INIT = 0,   /* no height started yet */
    CS_STEP_NEW_HEIGHT, /* height started, waiting for the commit timeout of the last one */
    CS_STEP_PROPOSE,
    CS_STEP_PREVOTE,
    CS_STEP_PRECOMMIT,
    CS_STEP_COMMIT, /* decided; gathering late precommits until the next height starts */
};

enum cs_input_type {
    CS_INPUT_START_HEIGHT = 1,
    CS_INPUT_PROPOSAL,        /* a proposal from a peer, signature checked by the shell */
    CS_INPUT_VOTE,            /* a vote from a peer, signature checked by the shell */
    CS_INPUT_BLOCK_COMPLETE,  /* the content of a block id is available locally */
    CS_INPUT_TIMEOUT,         /* a timeout scheduled by CS_ACTION_SCHEDULE_TIMEOUT fired */
    CS_INPUT_PROPOSAL_BUILT,  /* answer to CS_ACTION_BUILD_PROPOSAL */
    CS_INPUT_BLOCK_VALIDATED, /* answer to CS_ACTION_VALIDATE_BLOCK */
    CS_INPUT_OWN_VOTE,        /* our vote, signed (answer to CS_ACTION_SIGN_VOTE) */
    CS_INPUT_OWN_PROPOSAL,    /* our proposal, signed (answer to CS_ACTION_SIGN_PROPOSAL) */
    CS_INPUT_COMMIT,          /* a commit of our height from a peer that decided it */
};

struct cs_input {
    enum cs_input_type type;
    uint64_t now_ns;  /* monotonic clock of the shell */
    uint64_t wall_ns; /* wall clock (ns since the Unix epoch), for timestamps */
    union {
        struct {
            uint64_t height;
            const struct validator_set *vals; /* copied */
            /* Only when the core did not decide height - 1 itself (fresh start): the
             * commit of height - 1 and its validator set; count 0 for none. */
            const struct validator_set *last_vals;
            const struct vote *last_commit;
            uint32_t last_commit_count;
        } start;
        struct {
            struct proposal proposal;
            int32_t validator_index; /* whose key the shell verified the signature with */
        } proposal;
        struct vote vote; /* CS_INPUT_VOTE, CS_INPUT_OWN_VOTE */
        struct {
            uint64_t height;
            struct block_id block_id;
        } block; /* CS_INPUT_BLOCK_COMPLETE */
        struct {
            uint64_t height;
            int32_t round;
            enum cs_step step;
        } timeout;
        struct {
            uint64_t height;
            int32_t round;
            struct block_id block_id;
        } built;
        struct {
            uint64_t height;
            struct block_id block_id;
            bool valid;
        } validated;
        /* CS_INPUT_COMMIT: more than 2/3 of the power precommitted block_id in round, each
         * signature checked by the shell. Lets a node that fell behind (or that counted a
         * Byzantine validator's other vote first) decide as block sync does. */
        struct {
            uint64_t height;
            int32_t round;
            struct block_id block_id;
            const struct vote *votes; /* borrowed for the call */
            uint32_t count;
        } commit;
    } u;
};

enum cs_action_type {
    CS_ACTION_SIGN_PROPOSAL = 1,
    CS_ACTION_SIGN_VOTE,
    CS_ACTION_EVIDENCE,
    CS_ACTION_DECIDE,
    CS_ACTION_BUILD_PROPOSAL,
    CS_ACTION_VALIDATE_BLOCK,
    CS_ACTION_SCHEDULE_TIMEOUT,
    CS_ACTION_DROP,
};

enum cs_drop_reason {
    CS_DROP_MALFORMED = 1,        /* fields out of range (type, height 0, round < 0, ...) */
    CS_DROP_WRONG_HEIGHT,         /* not for the height we are at (or the last, for precommits) */
    CS_DROP_NOT_VALIDATOR,        /* index out of the set, or address not the set's at index */
    CS_DROP_NOT_PROPOSER,         /* proposal signed by someone else than the round's proposer */
    CS_DROP_ROUND_TOO_FAR,        /* round beyond CS_MAX_ROUNDS_AHEAD of ours */
    CS_DROP_ROUND_BOUND,          /* no round slot free for a round with so little power */
    CS_DROP_BLOCK_BOUND,          /* no block slot free */
    CS_DROP_DUPLICATE,            /* already have exactly this */
    CS_DROP_CONFLICT_SEEN,        /* another equivocation of a validator already reported */
    CS_DROP_CONFLICTING_PROPOSAL, /* a second, different proposal for a round */
    CS_DROP_STALE,                /* an answer or timeout for a step we have left */
    CS_DROP_STATE,                /* input not expected in this state (e.g. before a height) */
};

struct cs_action {
    enum cs_action_type type;
    union {
        struct proposal proposal; /* SIGN_PROPOSAL: unsigned */
        struct vote vote;         /* SIGN_VOTE: unsigned */
        struct {
            struct vote a, b; /* same validator/height/round/type; a's block id < b's */
        } evidence;
        struct {
            uint64_t height;
            int32_t round;
            struct block_id block_id; /* the commit is in cs_output.commit */
        } decide;
        struct {
            uint64_t height;
            int32_t round; /* the last commit (height - 1) is in cs_output.commit */
        } build;
        struct {
            uint64_t height;
            struct block_id block_id;
        } validate;
        struct {
            uint64_t height;
            int32_t round;
            enum cs_step step; /* PROPOSE, PREVOTE, PRECOMMIT or COMMIT */
            uint32_t duration_ms;
            uint64_t deadline_ns; /* now_ns of the input + duration */
        } timeout;
        struct {
            enum cs_drop_reason reason;
            enum cs_input_type input;
            uint64_t height;
            int32_t round;
            int32_t validator_index;
        } drop;
    } u;
};

/* Filled by cs_step (zeroed first); belongs to the caller, valid until the next step.
 * Big (the commit holds up to VALIDATOR_SET_MAX votes): allocate it once. */
struct cs_output {
    uint32_t n_actions;
    struct cs_action actions[CS_MAX_ACTIONS];
    /* With CS_ACTION_DECIDE: the precommits for the decided block (its height and round);
     * with CS_ACTION_BUILD_PROPOSAL: the last commit (height - 1). Never both. */
    uint64_t commit_height;
    int32_t commit_round;
    struct block_id commit_block_id;
    uint32_t commit_count;
    struct vote commit[VALIDATOR_SET_MAX];
};

struct cs_config {
    uint8_t own_address[VALIDATOR_ADDRESS_SIZE]; /* all zero: not a validator */
    uint32_t max_validators;                     /* capacity of vote sets, <= MAX */
    uint32_t timeout_propose_ms, timeout_propose_delta_ms;
    uint32_t timeout_prevote_ms, timeout_prevote_delta_ms;
    uint32_t timeout_precommit_ms, timeout_precommit_delta_ms;
    uint32_t timeout_commit_ms;
};

struct cs_allocator {
    void *(*alloc)(size_t size, void *user); /* zeroed memory, or NULL */
    void (*free)(void *ptr, void *user);
    void *user;
};

struct cs;

/* CometBFT's defaults: propose 3000+500/round, prevote and precommit 1000+500/round,
 * commit 1000 ms; max_validators VALIDATOR_SET_MAX; own address zero. */
void cs_config_default(struct cs_config *cfg);
/* Create a core. Errors: PX_EINVAL (bad config), PX_ENOMEM. */
int cs_new(const struct cs_config *cfg, const struct cs_allocator *alloc, struct cs **out);
void cs_free(struct cs *cs);
/* Step the machine with one input. Returns 0 (a bad or Byzantine message is 0 plus a drop
 * report), PX_ESTATE (start height out of order), PX_EBOUND (a validator set above
 * max_validators), PX_EINVAL (unknown input type). On error the state is unchanged. */
int cs_step(struct cs *cs, const struct cs_input *in, struct cs_output *out);

/* The timeout the core is waiting for now, if any: the earliest scheduled timeout that
 * would still change something (a shell may keep one timer and ask after every step,
 * instead of keeping every CS_ACTION_SCHEDULE_TIMEOUT). False if none. */
bool cs_next_deadline(const struct cs *cs, uint64_t *deadline_ns, uint64_t *height, int32_t *round,
                      enum cs_step *step);

/* Read-only views for the shell, metrics and tests. */
uint64_t cs_height(const struct cs *cs);
int32_t cs_round(const struct cs *cs);
enum cs_step cs_get_step(const struct cs *cs);
int32_t cs_locked_round(const struct cs *cs);
int32_t cs_valid_round(const struct cs *cs);
bool cs_locked_value(const struct cs *cs, struct block_id *out);
/* Index of the proposer of `round` at the current height (-1 before a height). */
int32_t cs_proposer(struct cs *cs, int32_t round);
/* Our index in the current set, or -1. */
int32_t cs_own_index(const struct cs *cs);
const char *cs_step_name(enum cs_step step);
const char *cs_drop_reason_name(enum cs_drop_reason reason);

#endif
