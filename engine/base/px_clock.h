/*
 * px_clock: where time comes from. The shell reads the system clock through
 * px_clock_system(); the simulator and tests pass a px_fake_clock they advance by hand.
 * The consensus core never calls a clock: time reaches it inside every input.
 *
 * Also the one text form of a wall-clock time used everywhere (logs, genesis, RPC):
 * RFC 3339 in UTC, e.g. 2026-11-29T22:30:59.123456789Z.
 */
#ifndef PX_CLOCK_H
#define PX_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct px_clock {
    uint64_t (*mono_ns)(void *user); /* monotonic: only differences mean anything */
    uint64_t (*wall_ns)(void *user); /* nanoseconds since 1970-01-01T00:00:00Z */
    void *user;
};

const struct px_clock *px_clock_system(void);

struct timespec;
/* The instant ns from now on the system clock `clock_id` (CLOCK_REALTIME or
 * CLOCK_MONOTONIC), as pthread_cond_timedwait takes it. */
void px_timespec_after(int clock_id, uint64_t ns, struct timespec *out);

static inline uint64_t px_clock_mono_ns(const struct px_clock *c)
{
    return c->mono_ns(c->user);
}

static inline uint64_t px_clock_wall_ns(const struct px_clock *c)
{
    return c->wall_ns(c->user);
}

/* A clock that moves only when told to. */
struct px_fake_clock {
    struct px_clock clock;
    uint64_t mono;
    uint64_t wall;
};

void px_fake_clock_init(struct px_fake_clock *fc, uint64_t mono_ns, uint64_t wall_ns);
void px_fake_clock_advance(struct px_fake_clock *fc, uint64_t ns);

/* Format wall_ns as RFC 3339 UTC with `digits` fractional digits (0..9; 0: none).
 * Returns the length, or PX_ETOOBIG if cap is too small (36 bytes always suffice),
 * PX_EINVAL for digits > 9. */
int px_time_format(char *buf, size_t cap, uint64_t wall_ns, int digits);

/* Parse RFC 3339 ("2024-01-01T00:00:00Z", "...T00:00:00.5+02:00", up to 9 fractional
 * digits) into nanoseconds since the epoch. PX_EINVAL for anything else, including dates
 * before 1970 and invalid calendar dates. */
int px_time_parse(const char *s, uint64_t *wall_ns);

#endif
