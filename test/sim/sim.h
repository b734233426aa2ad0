/*
 * sim: the deterministic simulator of the consensus core. One process runs N validators'
 * cores (engine/consensus) on a simulated network and clock driven by one seed: delays,
 * loss, duplication, reordering, partitions healing at a global stabilisation time (GST),
 * unequal voting power and Byzantine validators. After every step it checks agreement,
 * validity, no honest double-sign, evidence for every equivocation an honest node saw,
 * and termination within a bound of rounds after GST.
 *
 * Test code: it may allocate and print. It must never read the real clock or any other
 * source of nondeterminism: the same options and seed give the same run, step by step.
 */
#ifndef PX_SIM_H
#define PX_SIM_H

#include <stdbool.h>
#include <stdint.h>

enum sim_byz_kind {
    SIM_BYZ_EQUIVOCATE = 0, /* equivocating proposer: two blocks to two halves */
    SIM_BYZ_DOUBLE_VOTE,    /* every vote also signed for another block, to half the peers */
    SIM_BYZ_WITHHOLD,       /* sends nothing */
    SIM_BYZ_AMNESIA,        /* prevotes the round's proposal whatever its lock */
    SIM_BYZ_UNKNOWN_BLOCK,  /* votes for blocks nobody proposed */
    SIM_BYZ_GARBAGE,        /* honest, plus malformed and misattributed messages */
    SIM_BYZ_MIXED,          /* each Byzantine validator takes one of the kinds above */
    SIM_BYZ_COLLUDE,        /* control: colluders split honest nodes (needs >= 1/3) */
    SIM_BYZ_KINDS,
};

/* Deliberate faults of the honest side, to prove each check can fail. */
enum sim_sabotage {
    SIM_SABOTAGE_NONE = 0,
    SIM_SABOTAGE_DOUBLE_SIGN,    /* an honest shell also signs a conflicting vote */
    SIM_SABOTAGE_NO_EVIDENCE,    /* honest shells lose the core's evidence outputs */
    SIM_SABOTAGE_INVALID,        /* proposers build invalid blocks and every app accepts them */
    SIM_SABOTAGE_SILENCE,        /* the network delivers nothing after GST */
    SIM_SABOTAGE_DROP_PROPOSALS, /* honest shells drop peers' proposals: rounds never decide */
    SIM_SABOTAGE_KINDS,
};

enum sim_delay_dist {
    SIM_DELAY_UNIFORM = 0,
    SIM_DELAY_EXP,
};

#define SIM_ROUNDS_HIST 64
#define SIM_AFTER_GST_ROUNDS 0
#define SIM_AFTER_GST_FAILED 1

struct sim_opts {
    uint32_t validators;
    uint32_t byzantine;
    enum sim_byz_kind byz_kind;
    bool unequal_power;
    uint32_t heights;
    double loss;    /* probability a transmission is lost */
    double dup;     /* probability a transmission is delivered twice */
    double reorder; /* probability a transmission gets a large extra delay */
    enum sim_delay_dist delay_dist;
    uint32_t delay_min_ms, delay_max_ms; /* uniform: [min, max]; exp: min + mean (max) */
    uint32_t partitions;                 /* partition changes before GST */
    uint32_t gst_ms;                     /* when partitions heal (0: none) */
    uint32_t gossip_ms;                  /* resend interval of each honest node */
    uint32_t round_bound; /* rounds allowed after GST beyond the highest round then; 0:
                           * failed rounds with an honest proposer, as sim_bound.h allows */
    bool control;         /* expect a violation (Byzantine power >= 1/3) */
    enum sim_sabotage sabotage;
    int trace; /* 0 quiet, 1 decisions, 2 every step */
};

struct sim_result {
    bool violation;
    char what[512];
    uint64_t step;    /* cs_step calls when it happened */
    uint64_t time_ms; /* simulated time when it happened (or at the end) */
    uint64_t steps;
    uint64_t messages;
    uint64_t heights_decided; /* min over honest nodes */
    uint32_t max_round;
    uint64_t evidence;
    uint64_t drops;
    uint64_t digest; /* hash of every output of every core, byte for byte */
    /* The termination bound of the run: failed rounds with an honest proposer a height
     * may take after GST (sim_bound.h; 0 with --round-bound). */
    uint32_t honest_bound;
    /* Per height, [SIM_AFTER_GST_ROUNDS]: the highest round an honest node reached there
     * minus the height's round at GST (0 for heights started after GST);
     * [SIM_AFTER_GST_FAILED]: the most rounds with an honest proposer an honest node left
     * there after GST (what the termination check bounds). after_gst_hist[x][k] counts
     * the heights with k (the last bucket: k or more), after_gst_max[x] is the most. */
    uint32_t after_gst_max[2];
    uint64_t after_gst_hist[2][SIM_ROUNDS_HIST];
};

void sim_opts_default(struct sim_opts *o);
const char *sim_byz_kind_name(enum sim_byz_kind k);
/* Parse a kind name; -1 if unknown. */
int sim_byz_kind_parse(const char *s);
const char *sim_sabotage_name(enum sim_sabotage k);
/* Parse a sabotage name; -1 if unknown. */
int sim_sabotage_parse(const char *s);
/* Check the options; on error write a sentence to err and return -1. */
int sim_opts_check(const struct sim_opts *o, char *err, unsigned long cap);
/* Run one seed. Returns 0 (see res->violation) or -1 on an internal error (printed). */
int sim_run(const struct sim_opts *o, uint64_t seed, struct sim_result *res);

#endif
