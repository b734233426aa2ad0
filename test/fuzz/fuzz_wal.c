/*
 * fuzz_wal: the consensus WAL (engine/store/wal.h) reading a file it finds on disk after a
 * crash, a bad disk or an operator's mistake. The input is written as a WAL file, then:
 * wal_check, a reader over every record, the end-of-height search and wal_open (which
 * truncates a torn tail). Properties: the reader sees exactly the records wal_check counts;
 * wal_open refuses corruption in the middle and otherwise keeps exactly the valid records
 * (truncating the rest); after a new record is appended the file checks clean with one more
 * record.
 *
 * Works only on its own temporary file; never touches a real node's WAL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "px_error.h"
#include "wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that a fuzzer reaches the bound, large enough for real records. */
static const struct wal_options opts = {.max_record_bytes = 64u * 1024u};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    const char *path = fuzz_tmp_path("cs.wal");
    fuzz_write_file(path, data, size);

    struct wal_check chk;
    int chk_rc = wal_check(path, &opts, NULL, NULL, &chk);
    FUZZ_CHECK(chk_rc == 0 || chk_rc == PX_ECORRUPT);
    if (chk_rc == 0) {
        FUZZ_CHECK(chk.file_bytes == size);
        FUZZ_CHECK(chk.result == WAL_CHECK_OK || chk.bad_offset < size);
        FUZZ_CHECK(chk.result != WAL_CHECK_CORRUPT || chk.next_valid > chk.bad_offset);
    }

    /* the reader stops exactly where wal_check found the first bad record */
    struct wal_reader *r = NULL;
    int rc = wal_reader_open(path, 0, &opts, &r);
    FUZZ_CHECK((rc == 0) == (chk_rc == 0));
    if (rc == 0) {
        uint64_t n = 0;
        for (;;) {
            struct wal_record rec;
            bool end = false;
            rc = wal_reader_next(r, &rec, &end);
            if (rc != 0 || end)
                break;
            FUZZ_CHECK(rec.offset + WAL_RECORD_OVERHEAD + 1 + rec.len <= size);
            FUZZ_CHECK(rec.len + 1 <= opts.max_record_bytes);
            n++;
        }
        FUZZ_CHECK(n == chk.records);
        FUZZ_CHECK(chk.result == WAL_CHECK_OK ? rc == 0 : rc == PX_ECORRUPT);
        wal_reader_close(r);
    }

    bool found = false;
    uint64_t height = 0, next = 0;
    rc = wal_find_last_end_height(path, &opts, &found, &height, &next);
    FUZZ_CHECK(rc == 0 || rc == PX_ECORRUPT);
    if (rc == 0 && found)
        FUZZ_CHECK(next > WAL_HEADER_BYTES && next <= size);

    struct wal *w = NULL;
    rc = wal_open(path, &opts, &w);
    if (chk_rc != 0) {
        /* not a WAL: refused, except a header torn while the file was being created */
        FUZZ_CHECK(rc == PX_ECORRUPT || (rc == 0 && size < WAL_HEADER_BYTES));
    } else if (chk.result == WAL_CHECK_CORRUPT) {
        FUZZ_CHECK(rc == PX_ECORRUPT);
    } else {
        FUZZ_CHECK(rc == 0);
        uint64_t keep = chk.result == WAL_CHECK_TORN ? chk.bad_offset : chk.file_bytes;
        FUZZ_CHECK(wal_size(w) == keep);
        FUZZ_CHECK(wal_truncated_bytes(w) == size - keep);
    }
    if (rc == 0) {
        uint64_t before = 0;
        struct wal_check again;
        FUZZ_CHECK(wal_check(path, &opts, NULL, NULL, &again) == 0);
        FUZZ_CHECK(again.result == WAL_CHECK_OK);
        before = again.records;
        static const uint8_t payload[] = {1, 2, 3};
        FUZZ_CHECK(wal_append(w, WAL_KIND_INPUT, payload, sizeof(payload), false) == 0);
        FUZZ_CHECK(wal_close(w) == 0);
        FUZZ_CHECK(wal_check(path, &opts, NULL, NULL, &again) == 0);
        FUZZ_CHECK(again.result == WAL_CHECK_OK && again.records == before + 1);
    }
    return 0;
}
