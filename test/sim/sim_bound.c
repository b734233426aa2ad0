/*
 * sim_bound: the termination bound (see sim_bound.h). The model, for one round after GST
 * whose proposer is honest:
 * - a message an honest node sends goes out at once and again at every gossip tick of its
 *   sender; the first tick comes half a gossip interval later on average (a node's ticks
 *   do not follow its sends), then one every gossip_ms. Each copy is lost with
 *   probability loss; the others arrive after a delay drawn as the network draws it, 3
 *   maximum delays later when held back (probability reorder). The message is late at a
 *   peer if no copy has arrived within the window (sim_bound_late);
 * - the round fails, or a node leaves it before the decision reaches it, only if a
 *   message misses its window: the proposal at one of the other honest nodes (window: the
 *   propose timeout), or one of the `missing` honest prevotes or precommits a node still
 *   lacks when more than 2/3 of the power (Byzantine votes for other blocks included) has
 *   voted and its prevote or precommit timer starts (window: that timeout). The union of
 *   these events bounds the probability q(j) that the j-th such round fails; timeouts are
 *   taken at round j, never more than the round's own (it is at least the j-th after GST);
 * - the first round counted may always fail (q = 1): nodes enter the round in progress at
 *   GST, and round 0 of a new height, at different times, each when it sees the decision
 *   before, so their timers do not line up with the messages;
 * - rounds are independent: R failed honest rounds have probability q(0) * ... * q(R-1).
 * Rounds with a Byzantine proposer are not counted at all (the caller skips them): they
 * may all fail. The model ignores that a node's timer starts only after others' messages
 * reached it (so it overestimates q), and that honest nodes enter a round at different
 * times (which matters without loss, with delays wide against the timeouts: there the
 * bound is as tight as measured). README "Simulator" has the measurements.
 *
 * Test code. Must never read a clock or any other source of nondeterminism.
 */
#include "sim_bound.h"

#include <math.h>

/* P(a copy's delay <= x ms), as draw_delay_ns draws it (uniform: whole ms in [min, max]
 * plus less than 1 ms; exp: min + an exponential of mean max - min capped at 10 means). */
static double delay_cdf(const struct sim_opts *o, double x)
{
    double lo = o->delay_min_ms;
    if (x < lo) {
        return 0;
    }
    if (o->delay_dist == SIM_DELAY_EXP) {
        double mean = o->delay_max_ms > o->delay_min_ms ? o->delay_max_ms - o->delay_min_ms : 1;
        return x >= lo + 10 * mean + 1 ? 1 : 1 - exp(-(x - lo) / mean);
    }
    double c = (x - lo) / ((double)(o->delay_max_ms - o->delay_min_ms) + 1);
    return c < 1 ? c : 1;
}

double sim_bound_late(const struct sim_opts *o, double window_ms)
{
    double g = o->gossip_ms;
    double held = 3.0 * o->delay_max_ms;
    double late = 1;
    for (double t = 0; t <= window_ms && late > 0; t = t == 0 ? g / 2 : t + g) {
        double w = window_ms - t;
        double on_time = (1 - o->loss) *
                         ((1 - o->reorder) * delay_cdf(o, w) + o->reorder * delay_cdf(o, w - held));
        late *= 1 - on_time;
    }
    return late;
}

/* CometBFT's timeout of a round: base + round * delta (as the core computes it). */
static double timeout_at(uint32_t base_ms, uint32_t delta_ms, uint32_t round)
{
    return (double)base_ms + (double)delta_ms * round;
}

uint32_t sim_bound_rounds(const struct sim_opts *o, const struct cs_config *cfg, uint32_t honest,
                          uint32_t missing)
{
    double others = honest > 0 ? honest - 1 : 0;
    double votes = (double)honest * missing;
    double all_fail = 1; /* probability that rounds 0..j all fail */
    for (uint32_t j = 0; j < SIM_BOUND_MAX_ROUNDS; j++) {
        double q = 1;
        if (j > 0) {
            q = others * sim_bound_late(o, timeout_at(cfg->timeout_propose_ms,
                                                      cfg->timeout_propose_delta_ms, j)) +
                votes * (sim_bound_late(o, timeout_at(cfg->timeout_prevote_ms,
                                                      cfg->timeout_prevote_delta_ms, j)) +
                         sim_bound_late(o, timeout_at(cfg->timeout_precommit_ms,
                                                      cfg->timeout_precommit_delta_ms, j)));
        }
        all_fail *= q < 1 ? q : 1;
        if (all_fail <= SIM_BOUND_EPS) {
            return j; /* j + 1 failed rounds are too unlikely: j may fail */
        }
    }
    return SIM_BOUND_MAX_ROUNDS;
}
