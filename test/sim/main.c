/*
 * phalanx-sim: command line of the deterministic consensus simulator (sim.h). Runs one
 * seed or a range, prints the seed and options first, a line per failing seed with the
 * command that replays it, and the rate in seeds/s and heights/s.
 * Exit status: 0 no violation, 1 a violation, 2 bad usage; --expect-violation swaps 0 and 1.
 * The wall clock is read only to report rates; it never influences a run.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx-sim [options]\n"
               "Runs N consensus cores on a simulated network from one seed and checks\n"
               "agreement, validity, no honest double-sign, evidence for equivocations and\n"
               "termination after GST after every step.\n"
               "\n"
               "  --seed S              run seed S (default 1)\n"
               "  --seeds A..B          run seeds A to B inclusive; report seeds/s, heights/s\n"
               "  --validators N        validators (default 4)\n"
               "  --byzantine K         Byzantine validators (default 1; must stay < 1/3 power)\n"
               "  --byz-kind KIND       equivocate | double-vote | withhold | amnesia |\n"
               "                        unknown-block | garbage | mixed (default: a kind per\n"
               "                        validator from the seed)\n"
               "  --unequal-power       random voting powers (Byzantine total kept < 1/3)\n"
               "  --heights H           heights every honest validator must decide (default 5)\n"
               "  --loss P              probability a message is lost (default 0)\n"
               "  --dup P               probability a message is delivered twice (default 0)\n"
               "  --reorder P           probability a message is held back 3x the max delay\n"
               "  --delay D             uniform:MIN:MAX or exp:MIN:MEAN in ms (default\n"
               "                        uniform:2:40)\n"
               "  --partitions K        K random network partitions before GST (default 0)\n"
               "  --gst MS              global stabilisation time: partitions heal (default 0)\n"
               "  --gossip-ms MS        resend interval of each node (default 100)\n"
               "  --round-bound R       rounds allowed after GST, whoever proposes (default:\n"
               "                        from a model of the network: failed rounds with an\n"
               "                        honest proposer whose run is too unlikely, README)\n"
               "  --control             Byzantine power >= 1/3 (colluders): a violation MUST be\n"
               "                        reported; proves the checker can fail\n"
               "  --sabotage KIND       break the honest side on purpose, to prove a check can\n"
               "                        fail: double-sign | no-evidence | invalid-blocks |\n"
               "                        silence | drop-proposals (a violation MUST be\n"
               "                        reported)\n"
               "  --expect-violation    invert the exit status: 0 only if some seed reported a\n"
               "                        violation (for --control and --sabotage in tests)\n"
               "  --stop                stop at the first failing seed\n"
               "  --check-replay        run every seed twice; outputs must match byte for byte\n"
               "  --histogram           print how many rounds after GST, and how many failed\n"
               "                        rounds with an honest proposer, heights and seeds\n"
               "                        needed (to check the termination bound)\n"
               "  --trace LEVEL         1: decisions, 2: every step\n"
               "  --quiet               only the summary\n"
               "  --help                this text\n"
               "\n"
               "Replay a failing seed: run again with the same options and --seed S.\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_prob(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0 && v <= 1)) {
        return -1;
    }
    *out = v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line: "WHAT: k:count ...; max M, p99 P, p99.9 Q", pN being the
 * fewest rounds that N% of the counted items needed at most (the last bucket holds
 * SIM_ROUNDS_HIST - 1 or more). */
static void print_hist(const char *what, const uint64_t *h)
{
    uint64_t total = 0;
    int max = 0;
    for (int k = 0; k < SIM_ROUNDS_HIST; k++) {
        total += h[k];
        max = h[k] ? k : max;
    }
    printf("%s:", what);
    for (int k = 0; k <= max; k++) {
        printf(" %d:%" PRIu64, k, h[k]);
    }
    int p99 = 0, p999 = 0;
    uint64_t acc = 0;
    for (int k = 0; k <= max; k++) {
        if (acc < total - total / 100) {
            p99 = k;
        }
        if (acc < total - total / 1000) {
            p999 = k;
        }
        acc += h[k];
    }
    printf("; max %d, p99 %d, p99.9 %d\n", max, p99, p999);
}

static void describe(const struct sim_opts *o, char *buf, size_t cap)
{
    char kind[64] = "", bound[80] = "";
    if (!o->control) {
        snprintf(kind, sizeof(kind), " --byz-kind %s", sim_byz_kind_name(o->byz_kind));
    }
    if (o->round_bound) {
        snprintf(bound, sizeof(bound), " --round-bound %u", o->round_bound);
    }
    if (o->sabotage != SIM_SABOTAGE_NONE) {
        size_t l = strlen(bound);
        snprintf(bound + l, sizeof(bound) - l, " --sabotage %s", sim_sabotage_name(o->sabotage));
    }
    snprintf(buf, cap,
             "--validators %u --byzantine %u%s%s --heights %u --loss %g --dup %g --reorder %g "
             "--delay %s:%u:%u --partitions %u --gst %u --gossip-ms %u%s%s",
             o->validators, o->byzantine, kind, o->unequal_power ? " --unequal-power" : "",
             o->heights, o->loss, o->dup, o->reorder,
             o->delay_dist == SIM_DELAY_EXP ? "exp" : "uniform", o->delay_min_ms,
             o->delay_dist == SIM_DELAY_EXP ? o->delay_max_ms - o->delay_min_ms : o->delay_max_ms,
             o->partitions, o->gst_ms, o->gossip_ms, bound, o->control ? " --control" : "");
}

int main(int argc, char **argv)
{
    struct sim_opts o;
    sim_opts_default(&o);
    uint64_t seed_lo = 1, seed_hi = 1;
    bool quiet = false, stop = false, check_replay = false, expect = false, hist = false;
    enum {
        OPT_SEED = 256,
        OPT_SEEDS,
        OPT_VALIDATORS,
        OPT_BYZ,
        OPT_KIND,
        OPT_UNEQUAL,
        OPT_HEIGHTS,
        OPT_LOSS,
        OPT_DUP,
        OPT_REORDER,
        OPT_DELAY,
        OPT_PARTITIONS,
        OPT_GST,
        OPT_GOSSIP,
        OPT_BOUND,
        OPT_CONTROL,
        OPT_STOP,
        OPT_TRACE,
        OPT_QUIET,
        OPT_HELP,
        OPT_REPLAY,
        OPT_SABOTAGE,
        OPT_EXPECT,
        OPT_HIST,
    };
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"seeds", required_argument, NULL, OPT_SEEDS},
        {"validators", required_argument, NULL, OPT_VALIDATORS},
        {"byzantine", required_argument, NULL, OPT_BYZ},
        {"byz-kind", required_argument, NULL, OPT_KIND},
        {"unequal-power", no_argument, NULL, OPT_UNEQUAL},
        {"heights", required_argument, NULL, OPT_HEIGHTS},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"dup", required_argument, NULL, OPT_DUP},
        {"reorder", required_argument, NULL, OPT_REORDER},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"gst", required_argument, NULL, OPT_GST},
        {"gossip-ms", required_argument, NULL, OPT_GOSSIP},
        {"round-bound", required_argument, NULL, OPT_BOUND},
        {"control", no_argument, NULL, OPT_CONTROL},
        {"stop", no_argument, NULL, OPT_STOP},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"check-replay", no_argument, NULL, OPT_REPLAY},
        {"sabotage", required_argument, NULL, OPT_SABOTAGE},
        {"expect-violation", no_argument, NULL, OPT_EXPECT},
        {"histogram", no_argument, NULL, OPT_HIST},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        uint32_t u;
        switch (c) {
        case OPT_SEED:
            bad = sscanf(optarg, "%" SCNu64, &seed_lo) != 1;
            seed_hi = seed_lo;
            break;
        case OPT_SEEDS: {
            char tail;
            bad = sscanf(optarg, "%" SCNu64 "..%" SCNu64 "%c", &seed_lo, &seed_hi, &tail) != 2 ||
                  seed_hi < seed_lo;
            break;
        }
        case OPT_VALIDATORS:
            bad = parse_u32(optarg, &o.validators);
            break;
        case OPT_BYZ:
            bad = parse_u32(optarg, &o.byzantine);
            break;
        case OPT_KIND: {
            int k = sim_byz_kind_parse(optarg);
            bad = k < 0 || k == SIM_BYZ_COLLUDE;
            o.byz_kind = (enum sim_byz_kind)(k < 0 ? 0 : k);
            break;
        }
        case OPT_UNEQUAL:
            o.unequal_power = true;
            break;
        case OPT_HEIGHTS:
            bad = parse_u32(optarg, &o.heights);
            break;
        case OPT_LOSS:
            bad = parse_prob(optarg, &o.loss);
            break;
        case OPT_DUP:
            bad = parse_prob(optarg, &o.dup);
            break;
        case OPT_REORDER:
            bad = parse_prob(optarg, &o.reorder);
            break;
        case OPT_DELAY: {
            char kind[16];
            unsigned a, b;
            char tail;
            bad = sscanf(optarg, "%15[a-z]:%u:%u%c", kind, &a, &b, &tail) != 3;
            if (!bad && strcmp(kind, "uniform") == 0) {
                o.delay_dist = SIM_DELAY_UNIFORM;
                o.delay_min_ms = a;
                o.delay_max_ms = b;
            } else if (!bad && strcmp(kind, "exp") == 0) {
                o.delay_dist = SIM_DELAY_EXP;
                o.delay_min_ms = a;
                o.delay_max_ms = a + b; /* mean = max - min */
            } else {
                bad = 1;
            }
            break;
        }
        case OPT_PARTITIONS:
            bad = parse_u32(optarg, &o.partitions);
            break;
        case OPT_GST:
            bad = parse_u32(optarg, &o.gst_ms);
            break;
        case OPT_GOSSIP:
            bad = parse_u32(optarg, &o.gossip_ms);
            break;
        case OPT_BOUND:
            bad = parse_u32(optarg, &o.round_bound);
            break;
        case OPT_CONTROL:
            o.control = true;
            break;
        case OPT_STOP:
            stop = true;
            break;
        case OPT_TRACE:
            bad = parse_u32(optarg, &u);
            o.trace = (int)u;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        case OPT_REPLAY:
            check_replay = true;
            break;
        case OPT_EXPECT:
            expect = true;
            break;
        case OPT_HIST:
            hist = true;
            break;
        case OPT_SABOTAGE: {
            int k = sim_sabotage_parse(optarg);
            bad = k < 0;
            o.sabotage = (enum sim_sabotage)(k < 0 ? 0 : k);
            break;
        }
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "phalanx-sim: bad value '%s' for --%s (see --help)\n", optarg,
                    longopts[c - OPT_SEED].name);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "phalanx-sim: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    char err[256];
    if (sim_opts_check(&o, err, sizeof(err)) != 0) {
        fprintf(stderr, "phalanx-sim: %s\n", err);
        return 2;
    }
    if (o.control && o.byzantine * 3 < o.validators) {
        o.byzantine = (o.validators + 2) / 3; /* what the run uses: >= 1/3 */
    }
    if (o.control) {
        o.byz_kind = SIM_BYZ_COLLUDE;
    }
    char desc[512];
    describe(&o, desc, sizeof(desc));
    printf("phalanx-sim seeds %" PRIu64 "..%" PRIu64 " %s\n", seed_lo, seed_hi, desc);
    fflush(stdout);

    double t0 = now_s();
    uint64_t runs = 0, failed = 0, heights = 0, steps = 0, msgs = 0;
    uint32_t max_round = 0, bound_lo = UINT32_MAX, bound_hi = 0;
    uint64_t height_hist[2][SIM_ROUNDS_HIST] = {{0}}, seed_hist[2][SIM_ROUNDS_HIST] = {{0}};
    for (uint64_t seed = seed_lo;; seed++) {
        struct sim_result r;
        if (sim_run(&o, seed, &r) != 0) {
            return 2;
        }
        if (check_replay) {
            struct sim_result again;
            if (sim_run(&o, seed, &again) != 0) {
                return 2;
            }
            if (again.digest != r.digest || again.steps != r.steps ||
                again.violation != r.violation) {
                r.violation = true;
                snprintf(r.what, sizeof(r.what),
                         "replay differs: digest %016" PRIx64 " then %016" PRIx64 ", %" PRIu64
                         " then %" PRIu64 " steps",
                         r.digest, again.digest, r.steps, again.steps);
            }
        }
        runs++;
        heights += r.heights_decided;
        steps += r.steps;
        msgs += r.messages;
        max_round = r.max_round > max_round ? r.max_round : max_round;
        bound_lo = r.honest_bound < bound_lo ? r.honest_bound : bound_lo;
        bound_hi = r.honest_bound > bound_hi ? r.honest_bound : bound_hi;
        for (int x = 0; x < 2; x++) {
            for (int k = 0; k < SIM_ROUNDS_HIST; k++) {
                height_hist[x][k] += r.after_gst_hist[x][k];
            }
            uint32_t most = r.after_gst_max[x];
            seed_hist[x][most < SIM_ROUNDS_HIST ? most : SIM_ROUNDS_HIST - 1]++;
        }
        if (r.violation) {
            failed++;
            printf("VIOLATION seed %" PRIu64 " step %" PRIu64 " at %" PRIu64 " ms: %s\n", seed,
                   r.step, r.time_ms, r.what);
            printf("  replay: phalanx-sim --seed %" PRIu64 " %s\n", seed, desc);
            fflush(stdout);
            if (stop) {
                break;
            }
        } else if (!quiet && seed_lo == seed_hi) {
            printf("seed %" PRIu64 ": ok, %" PRIu64 " heights in %" PRIu64 " simulated ms, %" PRIu64
                   " steps, %" PRIu64 " messages, %" PRIu64 " evidence, %" PRIu64
                   " drops, max round %u, digest %016" PRIx64 "\n",
                   seed, r.heights_decided, r.time_ms, r.steps, r.messages, r.evidence, r.drops,
                   r.max_round, r.digest);
        }
        if (seed == seed_hi) {
            break;
        }
    }
    double dt = now_s() - t0;
    if (dt <= 0) {
        dt = 1e-9;
    }
    printf("%" PRIu64 " seeds, %" PRIu64 " failed; %" PRIu64 " heights, %" PRIu64 " steps, %" PRIu64
           " messages, max decision round %u; %.1f s: %.1f seeds/s, %.1f heights/s\n",
           runs, failed, heights, steps, msgs, max_round, dt, (double)runs / dt,
           (double)heights / dt);
    if (!o.round_bound && bound_lo == bound_hi) {
        printf("termination bound: %u failed round%s with an honest proposer after GST\n", bound_lo,
               bound_lo == 1 ? "" : "s");
    } else if (!o.round_bound) {
        printf("termination bound: %u to %u failed rounds with an honest proposer after GST\n",
               bound_lo, bound_hi);
    }
    if (hist) {
        print_hist("rounds after GST, heights", height_hist[SIM_AFTER_GST_ROUNDS]);
        print_hist("rounds after GST, seeds (their most)", seed_hist[SIM_AFTER_GST_ROUNDS]);
        print_hist("failed rounds with an honest proposer after GST, heights",
                   height_hist[SIM_AFTER_GST_FAILED]);
        print_hist("failed rounds with an honest proposer after GST, seeds (their most)",
                   seed_hist[SIM_AFTER_GST_FAILED]);
    }
    if (o.control) {
        printf("control (Byzantine power >= 1/3): %s\n", failed
                                                             ? "violation reported, as it must be"
                                                             : "NO violation found: the checker "
                                                               "could not fail");
    }
    if (expect) {
        printf("expected a violation: %s\n",
               failed ? "reported (ok)" : "NONE (the checks could not fail)");
        return failed ? 0 : 1;
    }
    return failed ? 1 : 0;
}
