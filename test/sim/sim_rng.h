/*
 * sim_rng: the simulator's only source of randomness, xoshiro256** seeded through
 * splitmix64 from one 64-bit seed, so that a seed replays a run exactly. Test code only;
 * never used by the engine.
 */
#ifndef PX_SIM_RNG_H
#define PX_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

/* One step of splitmix64 on *state (also a good 64-bit mixer). */
uint64_t sim_splitmix64(uint64_t *state);
/* Mix a value into a hash (not cryptographic, deterministic everywhere). */
uint64_t sim_mix(uint64_t h, uint64_t v);
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *r);
/* True with probability p. */
bool sim_rng_chance(struct sim_rng *r, double p);

#endif
