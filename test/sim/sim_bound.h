/*
 * sim_bound: the termination bound of the simulator, from a model of its network. After
 * GST a height may need several rounds: a round fails when a message a node needs misses
 * its timeout, and with loss a message arrives only after a random number of gossip
 * resends. The bound is the number of failed rounds with an honest proposer after which
 * going on failing has a probability below SIM_BOUND_EPS in that model (README
 * "Simulator" has the derivation and the measurements it was checked against).
 *
 * Test code. Pure arithmetic on the options: no state, no randomness.
 */
#ifndef PX_SIM_BOUND_H
#define PX_SIM_BOUND_H

#include <stdint.h>

#include "cs.h"
#include "sim.h"

/* Probability, per height, of a false alarm the bound accepts in the model. */
#define SIM_BOUND_EPS 1e-9
/* The bound never exceeds this many rounds (a network so lossy needs --round-bound). */
#define SIM_BOUND_MAX_ROUNDS 10000u

/* Probability that a message an honest node sends is still missing at one peer
 * window_ms later, in the network of o (see sim_bound.c). */
double sim_bound_late(const struct sim_opts *o, double window_ms);

/* Failed rounds with an honest proposer a height may take after GST: the most R for which
 * R such rounds in a row have a probability above SIM_BOUND_EPS, with the timeouts of cfg,
 * `honest` honest validators and `missing` honest votes a node may still lack when more
 * than 2/3 of the power has voted (0 if Byzantine votes cannot be among those). */
uint32_t sim_bound_rounds(const struct sim_opts *o, const struct cs_config *cfg, uint32_t honest,
                          uint32_t missing);

#endif
