/* Integration test of issue 5: a single-validator chain under transaction load, with
 * phalanxd and, separately, kvledger killed by SIGKILL at random instants and restarted.
 * After every restart: the chain continues; no height ever shows two different blocks;
 * every transaction seen committed is still there; and over all runs the signer never
 * signed one (height, round, step) two different ways (every signature is logged with a
 * digest of its sign bytes; the logs of all runs are compared).
 * argv: phalanx phalanxd kvledger. PX_CRASH_SEED replays a run; PX_CRASH_KILLS sets the
 * number of engine kills (default 24; the app is killed a third as often). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"
#include "px_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bins[3];

#define MAX_H 4096
#define MAX_TXS 4096
#define MAX_SIGS 65536

static uint8_t seen_hash[MAX_H][32];
static bool seen[MAX_H];

struct sig {
    uint64_t height;
    int round;
    char what[16];
    char digest[17];
};

static struct sig sigs[MAX_SIGS];
static size_t n_sigs;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random pause before a kill: the point is to hit arbitrary instants, so this wait is on
 * purpose not tied to a condition. */
static void random_pause(int max_ms)
{
    long ms = (long)(rnd() % (uint64_t)max_ms);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Record the blocks node 0 has; fail if a height changed its block. */
static uint64_t check_blocks(struct net *net)
{
    uint64_t top = net_height(net, 0);
    for (uint64_t h = 1; h <= top && h < MAX_H; h++) {
        uint8_t hash[32], app[64];
        size_t al;
        if (net_block(net, 0, h, hash, app, &al, NULL) != 0)
            continue;
        if (seen[h] && memcmp(seen_hash[h], hash, 32) != 0) {
            fprintf(stderr, "height %llu has two different blocks\n", (unsigned long long)h);
            fail();
        }
        memcpy(seen_hash[h], hash, 32);
        seen[h] = true;
    }
    return top;
}

/* Read "signed" lines of a log into sigs; fail on a conflict. */
static void check_signatures(const char *log)
{
    char *text = pxt_read_file(log, NULL);
    if (!text)
        return;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *m = strstr(line, " consensus signed what=");
        if (!m)
            continue;
        struct sig s;
        unsigned long long h;
        if (sscanf(m, " consensus signed what=%15s height=%llu round=%d sign_bytes=%16s", s.what,
                   &h, &s.round, s.digest) != 4)
            continue;
        s.height = h;
        bool dup = false;
        for (size_t i = 0; i < n_sigs; i++) {
            if (sigs[i].height == s.height && sigs[i].round == s.round &&
                strcmp(sigs[i].what, s.what) == 0) {
                if (strcmp(sigs[i].digest, s.digest) != 0) {
                    fprintf(stderr, "signed %s at height %llu round %d two ways: %s and %s\n",
                            s.what, h, s.round, sigs[i].digest, s.digest);
                    fail();
                }
                dup = true;
            }
        }
        if (!dup && n_sigs < MAX_SIGS)
            sigs[n_sigs++] = s;
    }
    free(text);
}

struct query_wait {
    struct net *net;
    const char *key;
    char *got;
    size_t cap;
    int found;
};

/* A query answered by the app (found or absent), not an error of a node whose app is
 * reconnecting. */
static bool query_answered(void *u)
{
    struct query_wait *q = u;
    q->found = net_query_key(q->net, 0, q->key, q->got, q->cap);
    return q->found >= 0;
}

static void crash(void **state)
{
    (void)state;
    const char *seed_env = getenv("PX_CRASH_SEED");
    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    const char *kills_env = getenv("PX_CRASH_KILLS");
    int kills = kills_env ? atoi(kills_env) : 24;
    fprintf(stderr, "crash test: seed=%llu kills=%d\n", (unsigned long long)rng_state, kills);

    struct net net;
    net_create(&net, 1, bins);
    net_start_app(&net, 0);
    net_start_node(&net, 0);
    assert_true(net_wait_height(&net, 0, 2, 60000));
    assert_true(net_wait_rpc(&net, 0, 60000));

    char log[400];
    snprintf(log, sizeof(log), "%s/node0/node.log", net.dir);
    int committed = 0;
    static bool is_committed[MAX_TXS];
    int sent = 0;
    int engine_kills = 0, app_kills = 0;
    for (int round = 0; round < kills + kills / 3; round++) {
        /* load: a few txs; the ones the node accepts are expected committed eventually */
        for (int k = 0; k < 5 && sent < MAX_TXS; k++) {
            char key[32], val[32];
            snprintf(key, sizeof(key), "crash%d", sent);
            snprintf(val, sizeof(val), "v%d", sent);
            if (net_submit_kv(&net, 0, key, val) == 0)
                sent++;
        }
        random_pause(1500);
        bool kill_app = round % 4 == 3;
        if (kill_app) {
            net_stop_app(&net, 0, SIGKILL);
            app_kills++;
            random_pause(300);
            net_start_app(&net, 0);
        } else {
            net_stop_node(&net, 0, SIGKILL);
            engine_kills++;
            check_blocks(&net);
            check_signatures(log);
            net_start_node(&net, 0);
            assert_true(net_wait_rpc(&net, 0, 60000));
        }
        /* the chain continues */
        uint64_t h = net_height(&net, 0);
        assert_true(net_wait_height(&net, 0, h + 1, 60000));
        /* what was committed stays committed; note newly committed txs (a tx accepted
         * into the mempool may be lost with a crash before it is in a block: that is not a
         * committed tx) */
        for (int k = 0; k < sent; k++) {
            char key[32], val[32], got[64];
            snprintf(key, sizeof(key), "crash%d", k);
            snprintf(val, sizeof(val), "v%d", k);
            struct query_wait qw = {&net, key, got, sizeof(got), 0};
            assert_true(pxt_wait_until(query_answered, &qw, 30000));
            int found = qw.found;
            if (is_committed[k]) {
                if (found != 1)
                    fprintf(stderr, "committed tx %s not found (%d) after round %d (%s kill)\n",
                            key, found, round, kill_app ? "app" : "engine");
                assert_int_equal(found, 1);
                assert_string_equal(got, val);
            } else if (found == 1) {
                assert_string_equal(got, val);
                is_committed[k] = true;
                committed++;
            }
        }
    }
    net_stop_all(&net);
    uint64_t top = check_blocks(&net);
    check_signatures(log);
    fprintf(stderr,
            "crash test: engine kills=%d app kills=%d heights=%llu txs sent=%d committed=%d "
            "signatures=%zu\n",
            engine_kills, app_kills, (unsigned long long)top, sent, committed, n_sigs);
    assert_true(engine_kills >= kills);
    assert_true(n_sigs > 0);
    assert_true(committed > 0);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_crash PHALANX PHALANXD KVLEDGER\n");
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    const struct CMUnitTest tests[] = {cmocka_unit_test(crash)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
