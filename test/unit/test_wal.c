/* Unit tests of the consensus WAL: CRC32C, round trip, torn tails at every byte of the last
 * record, mid-file corruption refused with a message naming the offset, repair with backup,
 * bounds, header checks and the writer lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_log.h"
#include "px_test.h"
#include "wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct capture {
    char text[16384];
    size_t len;
};

static struct capture logcap;

static void capture_sink(const char *line, size_t len, void *user)
{
    struct capture *c = user;
    if (c->len + len < sizeof(c->text)) {
        memcpy(c->text + c->len, line, len);
        c->len += len;
        c->text[c->len] = '\0';
    }
}

static char dir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    px_log_reset();
    memset(&logcap, 0, sizeof(logcap));
    px_log_set_sink(capture_sink, &logcap);
    assert_int_equal(pxt_tmpdir("wal", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/cs.wal", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    px_log_reset();
    pxt_rmtree(dir);
    return 0;
}

/* Writes records of payload sizes 0, 1, 100, 3000 and an end-height marker for 7. Returns
 * the offset of the last record in *last. */
static void write_sample(uint64_t *last)
{
    struct wal *w;
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), WAL_HEADER_BYTES);
    uint8_t buf[3000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    size_t sizes[] = {0, 1, 100, 3000};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(wal_append(w, WAL_KIND_INPUT, buf, sizes[i], i == 3), 0);
    *last = wal_size(w);
    assert_int_equal(wal_end_height(w, 7), 0);
    assert_int_equal(wal_close(w), 0);
}

static void crc32c_vectors(void **state)
{
    (void)state;
    assert_int_equal(wal_crc32c_update(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(wal_crc32c_update(0, "", 0), 0);
    uint8_t zeros[32] = {0};
    assert_int_equal(wal_crc32c_update(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    /* incremental equals one-shot */
    uint32_t c = wal_crc32c_update(0, "1234", 4);
    assert_int_equal(wal_crc32c_update(c, "56789", 5), 0xE3069283u);
}

static void round_trip(void **state)
{
    (void)state;
    uint64_t last;
    write_sample(&last);
    struct wal_reader *r;
    assert_int_equal(wal_reader_open(path, 0, NULL, &r), 0);
    size_t sizes[] = {0, 1, 100, 3000};
    struct wal_record rec;
    bool end;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(wal_reader_next(r, &rec, &end), 0);
        assert_false(end);
        assert_int_equal(rec.kind, WAL_KIND_INPUT);
        assert_int_equal(rec.len, sizes[i]);
        for (size_t k = 0; k < rec.len; k++)
            assert_int_equal(rec.payload[k], (uint8_t)(k * 7 + 1));
    }
    assert_int_equal(wal_reader_next(r, &rec, &end), 0);
    assert_int_equal(rec.kind, WAL_KIND_END_HEIGHT);
    assert_int_equal(rec.offset, last);
    assert_int_equal(wal_reader_next(r, &rec, &end), 0);
    assert_true(end);
    wal_reader_close(r);

    bool found;
    uint64_t h, next;
    assert_int_equal(wal_find_last_end_height(path, NULL, &found, &h, &next), 0);
    assert_true(found);
    assert_int_equal(h, 7);

    /* reopen and append height 8's inputs: they start at `next` */
    struct wal *w;
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), next);
    assert_int_equal(wal_truncated_bytes(w), 0);
    assert_int_equal(wal_append(w, WAL_KIND_OWN_MESSAGE, "vote", 4, true), 0);
    assert_int_equal(wal_close(w), 0);
    assert_int_equal(wal_reader_open(path, next, NULL, &r), 0);
    assert_int_equal(wal_reader_next(r, &rec, &end), 0);
    assert_int_equal(rec.kind, WAL_KIND_OWN_MESSAGE);
    assert_memory_equal(rec.payload, "vote", 4);
    assert_int_equal(wal_reader_next(r, &rec, &end), 0);
    assert_true(end);
    wal_reader_close(r);
    assert_string_equal(wal_kind_name(WAL_KIND_END_HEIGHT), "end_height");
    assert_null(wal_kind_name(200));
}

static void count_records(uint64_t *n)
{
    struct wal_reader *r;
    assert_int_equal(wal_reader_open(path, 0, NULL, &r), 0);
    *n = 0;
    for (;;) {
        struct wal_record rec;
        bool end;
        assert_int_equal(wal_reader_next(r, &rec, &end), 0);
        if (end)
            break;
        (*n)++;
    }
    wal_reader_close(r);
}

static void torn_tail_every_offset(void **state)
{
    (void)state;
    uint64_t last;
    write_sample(&last);
    size_t len;
    char *orig = pxt_read_file(path, &len);
    assert_non_null(orig);
    assert_int_equal(len, last + WAL_RECORD_OVERHEAD + 9);
    for (uint64_t cut = last; cut < len; cut++) {
        assert_int_equal(pxt_write_file(path, orig, (size_t)cut), 0);
        struct wal *w;
        logcap.len = 0;
        assert_int_equal(wal_open(path, NULL, &w), 0);
        assert_int_equal(wal_size(w), last);
        assert_int_equal(wal_truncated_bytes(w), cut - last);
        if (cut > last)
            assert_non_null(strstr(logcap.text, "torn tail"));
        /* appending after the truncation works */
        assert_int_equal(wal_end_height(w, 9), 0);
        assert_int_equal(wal_close(w), 0);
        uint64_t n;
        count_records(&n);
        assert_int_equal(n, 5);
    }
    /* a complete last record with any one byte damaged (bad CRC or bad length) */
    for (uint64_t at = last; at < len; at++) {
        char *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, orig, len);
        copy[at] ^= 0x5A;
        assert_int_equal(pxt_write_file(path, copy, len), 0);
        free(copy);
        struct wal *w;
        assert_int_equal(wal_open(path, NULL, &w), 0);
        assert_int_equal(wal_size(w), last);
        assert_int_equal(wal_close(w), 0);
    }
    /* a tail of zeros (file size grew but the data never reached the disk) */
    char *zeros = calloc(1, len + 4096);
    assert_non_null(zeros);
    memcpy(zeros, orig, len);
    assert_int_equal(pxt_write_file(path, zeros, len + 4096), 0);
    free(zeros);
    struct wal *w;
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), len);
    assert_int_equal(wal_truncated_bytes(w), 4096);
    assert_int_equal(wal_close(w), 0);
    free(orig);
}

static int collect(const struct wal_record *rec, bool crc_ok, void *user)
{
    int *n = user;
    if (crc_ok)
        n[0]++;
    else
        n[1] = (int)rec->offset;
    return 0;
}

static void mid_file_corruption_refused_then_repaired(void **state)
{
    (void)state;
    uint64_t last;
    write_sample(&last);
    size_t len;
    char *orig = pxt_read_file(path, &len);
    assert_non_null(orig);
    /* damage the third record (payload 100 bytes) at offset: header + rec0 (9) + rec1 (10) */
    uint64_t third = WAL_HEADER_BYTES + (WAL_RECORD_OVERHEAD + 1) + (WAL_RECORD_OVERHEAD + 2);
    orig[third + 50] ^= 1;
    assert_int_equal(pxt_write_file(path, orig, len), 0);

    struct wal *w = NULL;
    logcap.len = 0;
    assert_int_equal(wal_open(path, NULL, &w), PX_ECORRUPT);
    assert_null(w);
    char want[64];
    snprintf(want, sizeof(want), "offset=%" PRIu64, third);
    assert_non_null(strstr(logcap.text, want));
    assert_non_null(strstr(logcap.text, "inspect-wal"));
    assert_non_null(strstr(logcap.text, "--repair"));
    /* refusing did not change the file */
    size_t len2;
    char *now = pxt_read_file(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(now, orig, len);
    free(now);

    /* a damaged length field in the middle is found the same way */
    struct wal_check chk;
    int seen[2] = {0, -1};
    assert_int_equal(wal_check(path, NULL, collect, seen, &chk), 0);
    assert_int_equal(chk.result, WAL_CHECK_CORRUPT);
    assert_int_equal(chk.bad_offset, third);
    assert_int_equal(chk.records, 2);
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], (int)third);
    assert_true(chk.next_valid > third);

    char backup[320];
    snprintf(backup, sizeof(backup), "%s.bak", path);
    assert_int_equal(wal_repair(path, chk.bad_offset, backup), 0);
    char *bak = pxt_read_file(backup, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(bak, orig, len);
    free(bak);
    /* a second repair never overwrites the backup */
    assert_int_equal(wal_repair(path, chk.bad_offset, backup), PX_EEXIST);
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), third);
    assert_int_equal(wal_close(w), 0);
    assert_int_equal(wal_check(path, NULL, NULL, NULL, &chk), 0);
    assert_int_equal(chk.result, WAL_CHECK_OK);
    assert_int_equal(chk.records, 2);

    /* length field of a middle record damaged */
    memcpy(orig + third, "\xff\xff\x00\x00", 4);
    assert_int_equal(pxt_write_file(path, orig, len), 0);
    assert_int_equal(wal_open(path, NULL, &w), PX_ECORRUPT);
    free(orig);
}

static void bounds_and_header(void **state)
{
    (void)state;
    struct wal_options o = {.max_record_bytes = 1024};
    struct wal *w;
    assert_int_equal(wal_open(path, &o, &w), 0);
    static uint8_t big[2048];
    assert_int_equal(wal_append(w, WAL_KIND_INPUT, big, 1024, false), PX_EINVAL);
    assert_int_equal(wal_size(w), WAL_HEADER_BYTES);
    assert_int_equal(wal_append(w, WAL_KIND_INPUT, big, 1023, true), 0);
    /* a second writer is refused while the first holds the WAL */
    struct wal *w2 = NULL;
    assert_int_equal(wal_open(path, &o, &w2), PX_EAGAIN);
    assert_int_equal(wal_close(w), 0);
    /* a reader with a smaller bound refuses the record as corrupt */
    struct wal_options small = {.max_record_bytes = 512};
    struct wal_reader *r;
    struct wal_record rec;
    bool end;
    assert_int_equal(wal_reader_open(path, 0, &small, &r), 0);
    assert_int_equal(wal_reader_next(r, &rec, &end), PX_ECORRUPT);
    wal_reader_close(r);
    struct wal_options bad = {.max_record_bytes = 4};
    assert_int_equal(wal_open(path, &bad, &w), PX_EINVAL);

    /* not a WAL */
    assert_int_equal(pxt_write_file(path, "hello world, not a wal", 22), 0);
    assert_int_equal(wal_open(path, NULL, &w), PX_ECORRUPT);
    /* a header torn at creation is rewritten */
    assert_int_equal(pxt_write_file(path, "PXW", 3), 0);
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), WAL_HEADER_BYTES);
    assert_int_equal(wal_close(w), 0);
    assert_int_equal(pxt_write_file(path, "", 0), 0);
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_close(w), 0);
    bool found;
    uint64_t h, next;
    assert_int_equal(wal_find_last_end_height(path, NULL, &found, &h, &next), 0);
    assert_false(found);
    assert_int_equal(next, WAL_HEADER_BYTES);
}

static void heights_and_compaction(void **state)
{
    (void)state;
    struct wal *w;
    assert_int_equal(wal_open(path, NULL, &w), 0);
    uint64_t removed = 99;
    assert_int_equal(wal_compact(w, &removed), 0); /* no marker: nothing to do */
    assert_int_equal(removed, 0);
    uint8_t buf[500];
    memset(buf, 'x', sizeof(buf));
    uint64_t start_of[7] = {0};
    for (uint64_t h = 1; h <= 5; h++) {
        start_of[h] = wal_size(w);
        for (int i = 0; i < 10; i++)
            assert_int_equal(wal_append(w, WAL_KIND_INPUT, buf, sizeof(buf), false), 0);
        assert_int_equal(wal_end_height(w, h), 0);
    }
    start_of[6] = wal_size(w);
    assert_int_equal(wal_append(w, WAL_KIND_INPUT, "h6", 2, true), 0);

    bool found;
    uint64_t next, h;
    assert_int_equal(wal_find_end_height(path, NULL, 3, &found, &next), 0);
    assert_true(found);
    assert_int_equal(next, start_of[4]);
    assert_int_equal(wal_find_end_height(path, NULL, 9, &found, &next), 0);
    assert_false(found);

    uint64_t before = wal_size(w);
    assert_int_equal(wal_compact(w, &removed), 0);
    uint64_t marker5 = start_of[6] - (WAL_RECORD_OVERHEAD + 9);
    assert_int_equal(removed, marker5 - WAL_HEADER_BYTES);
    assert_int_equal(wal_size(w), before - removed);
    /* the marker of height 5 is kept: height 6 still starts right after it */
    assert_int_equal(wal_find_last_end_height(path, NULL, &found, &h, &next), 0);
    assert_true(found);
    assert_int_equal(h, 5);
    assert_int_equal(next, WAL_HEADER_BYTES + WAL_RECORD_OVERHEAD + 9);
    /* appends go to the new file and the writer still holds the lock */
    assert_int_equal(wal_append(w, WAL_KIND_INPUT, "more", 4, true), 0);
    struct wal *w2 = NULL;
    assert_int_equal(wal_open(path, NULL, &w2), PX_EAGAIN);
    assert_int_equal(wal_close(w), 0);
    uint64_t n;
    count_records(&n);
    assert_int_equal(n, 3); /* marker 5, "h6", "more" */
    struct wal_check chk;
    assert_int_equal(wal_check(path, NULL, NULL, NULL, &chk), 0);
    assert_int_equal(chk.result, WAL_CHECK_OK);
    /* a leftover of a compaction interrupted by a crash does not matter */
    char stale[320];
    snprintf(stale, sizeof(stale), "%s.compact", path);
    assert_int_equal(pxt_write_file(stale, "garbage", 7), 0);
    assert_int_equal(wal_open(path, NULL, &w), 0);
    assert_int_equal(wal_size(w), chk.file_bytes);
    assert_int_equal(wal_compact(w, &removed), 0); /* marker already first: nothing */
    assert_int_equal(removed, 0);
    assert_int_equal(wal_close(w), 0);
}

/* Records of the kill test: payload = u64 sequence number, then filler. Returns the last
 * sequence number (or -1) and checks they are 0, 1, 2, ... without gaps. */
static int64_t last_seq_checked(void)
{
    struct wal_reader *r;
    if (access(path, F_OK) != 0)
        return -1;
    assert_int_equal(wal_reader_open(path, 0, NULL, &r), 0);
    int64_t last = -1;
    for (;;) {
        struct wal_record rec;
        bool end;
        assert_int_equal(wal_reader_next(r, &rec, &end), 0);
        if (end)
            break;
        assert_true(rec.len >= 8);
        int64_t seq;
        memcpy(&seq, rec.payload, 8);
        if (seq != last + 1)
            fail_msg("record %" PRId64 " follows %" PRId64 " at offset %" PRIu64, seq, last,
                     rec.offset);
        for (size_t i = 8; i < rec.len; i++)
            assert_int_equal(rec.payload[i], (uint8_t)(seq + (int64_t)i));
        last = seq;
    }
    wal_reader_close(r);
    return last;
}

static void child_appender(int fd, int64_t next, uint64_t x)
{
    struct wal *w;
    if (wal_open(path, NULL, &w) != 0)
        _exit(10);
    static uint8_t buf[8 + 6000];
    for (;; next++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = 8 + (size_t)(x % 6000);
        memcpy(buf, &next, 8);
        for (size_t i = 8; i < len; i++)
            buf[i] = (uint8_t)(next + (int64_t)i);
        bool sync = x % 4 == 0;
        if (wal_append(w, WAL_KIND_INPUT, buf, len, sync) != 0)
            _exit(11);
        if (sync && write(fd, &next, 8) != 8) /* durable up to `next` */
            _exit(12);
    }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sigkill_while_appending(void **state)
{
    (void)state;
    const char *e = getenv("PX_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    int kills = 100;
    printf("# wal kill test: seed=%" PRIu64 " kills=%d (PX_SEED)\n", seed, kills);
    srandom((unsigned)seed);
    int64_t durable = -1;
    for (int k = 0; k < kills; k++) {
        int64_t next = last_seq_checked() + 1;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_appender(fds[1], next, (seed * 2654435761u + (uint64_t)k) | 1);
        }
        close(fds[1]);
        int want = 1 + (int)(random() % 4);
        int64_t seq;
        for (int got = 0; got < want; got++) {
            if (read(fds[0], &seq, 8) != 8)
                fail_msg("kill %d: the appender stopped by itself", k);
            durable = seq;
        }
        uint64_t until = mono_ns() + (uint64_t)(random() % 2000) * 1000u;
        while (mono_ns() < until)
            ;
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        while (read(fds[0], &seq, 8) == 8)
            durable = seq;
        close(fds[0]);
        /* the file opens (at most a torn tail is cut) and keeps everything reported durable */
        struct wal *w;
        assert_int_equal(wal_open(path, NULL, &w), 0);
        assert_int_equal(wal_close(w), 0);
        int64_t last = last_seq_checked();
        if (last < durable)
            fail_msg("kill %d: record %" PRId64
                     " was reported durable but the WAL ends at %" PRId64,
                     k, durable, last);
    }
    printf("# wal kill test: %d kills, %" PRId64 " records\n", kills, last_seq_checked() + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_vectors),
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(mid_file_corruption_refused_then_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(bounds_and_header, setup, teardown),
        cmocka_unit_test_setup_teardown(heights_and_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(sigkill_while_appending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
