/*
 * wal: the consensus write-ahead log. An append-only file that holds, in order, every input
 * the node fed to the consensus core, so that a restart can feed the inputs of the current
 * height to a fresh core (DESIGN §3 rule 1, §7).
 *
 * File format (all integers little-endian):
 *
 *     header   8 bytes  "PXWAL\0\0\1"
 *     record   u32 length   bytes of body (1 .. max_record_bytes)
 *              u32 crc      CRC32C (Castagnoli) of the 4 length bytes followed by the body
 *              body         u8 kind, then (length - 1) bytes of opaque payload
 *
 * The WAL never interprets payloads, except the end-of-height marker (WAL_KIND_END_HEIGHT,
 * payload u64 height, little-endian) which it writes itself and which readers use to find
 * where the current height begins. It never rewrites or reorders a record once written:
 * the only changes to existing bytes are truncating a torn tail at open and an explicit
 * repair asked for by an operator.
 *
 * Opening: a torn tail (the last record incomplete or failing its CRC, with no valid record
 * after it) is truncated and logged; a bad record followed by valid records is corruption in
 * the middle: wal_open refuses (PX_ECORRUPT) and logs the offset and the repair command.
 */
#ifndef PX_WAL_H
#define PX_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_HEADER_BYTES 8
#define WAL_RECORD_OVERHEAD 8                            /* length + crc */
#define WAL_DEFAULT_MAX_RECORD_BYTES (16u * 1024 * 1024) /* body bound when opts give 0 */
#define WAL_MAX_RECORD_BYTES_LIMIT (256u * 1024 * 1024)  /* no option may exceed this */

/* Kinds the WAL and `phalanx inspect-wal` know by name. Other values (up to 255) are
 * allowed and shown by number; the node chooses what it stores. */
enum wal_kind {
    WAL_KIND_END_HEIGHT = 1,  /* payload: u64 height, the height that just ended */
    WAL_KIND_INPUT = 2,       /* an input to the consensus core, encoded by the node */
    WAL_KIND_OWN_MESSAGE = 3, /* a message we signed, logged (and fsynced) before sending */
    WAL_KIND_TIMEOUT = 4,     /* a timeout that fired */
};

/* Name of a known kind, or NULL. */
const char *wal_kind_name(uint8_t kind);

/* CRC32C (Castagnoli, reflected, init and final xor 0xFFFFFFFF), table driven.
 * wal_crc32c_update(0, p, n) is the CRC of p[0..n). */
uint32_t wal_crc32c_update(uint32_t crc, const void *data, size_t len);

struct wal_options {
    uint32_t max_record_bytes; /* bound on a record body; 0: WAL_DEFAULT_MAX_RECORD_BYTES */
};

struct wal;

/* Open the WAL at path for appending, creating it (and fsyncing its directory) if it does
 * not exist. Scans every record; truncates a torn tail (logged at WARN with the offset).
 * Errors: PX_EINVAL (bad options), PX_ECORRUPT (not a WAL file, or a bad record followed by
 * valid ones: logged with the offset and the `phalanx inspect-wal --repair` command),
 * PX_EIO and other errno-derived codes, PX_ENOMEM. On success *out belongs to the caller
 * (wal_close). */
int wal_open(const char *path, const struct wal_options *opts, struct wal **out);

/* Append one record. If sync, the record (and all before it) is on disk when this returns.
 * Errors: PX_EINVAL (len + 1 above max_record_bytes: nothing written), PX_EIO (the WAL is
 * now failed: every later call returns PX_ESTATE), PX_ESTATE. */
int wal_append(struct wal *w, uint8_t kind, const void *payload, size_t len, bool sync);

/* Append the end-of-height marker for `height` and fsync. Same errors as wal_append. */
int wal_end_height(struct wal *w, uint64_t height);

/* fsync everything appended so far. PX_EIO (failed for good), PX_ESTATE. */
int wal_sync(struct wal *w);

/* Bytes in the file (header and every record), i.e. the offset of the next record. */
uint64_t wal_size(const struct wal *w);
/* Bytes truncated from a torn tail when it was opened (0 if none). */
uint64_t wal_truncated_bytes(const struct wal *w);

/* Close (fsyncs first; the result of that fsync is returned: 0 or PX_EIO). NULL is fine. */
int wal_close(struct wal *w);

/* ---- reading ------------------------------------------------------------------------ */

struct wal_record {
    uint64_t offset;        /* offset of the record's length field in the file */
    uint8_t kind;           /* body[0] */
    const uint8_t *payload; /* borrowed: valid until the next call on the reader */
    size_t len;             /* payload bytes (body length - 1) */
};

struct wal_reader;

/* Read records of the WAL at path starting at `offset` (0 or WAL_HEADER_BYTES: the first
 * record; otherwise the offset of a record's length field). Reading never changes the file.
 * Errors: PX_ENOTFOUND (no such file), PX_ECORRUPT (not a WAL), PX_EIO, PX_ENOMEM,
 * PX_EINVAL. */
int wal_reader_open(const char *path, uint64_t offset, const struct wal_options *opts,
                    struct wal_reader **out);
/* Next record. *end is set true (and rec untouched) at a clean end of file. A bad or
 * incomplete record gives PX_ECORRUPT (with wal_reader_offset() at its start). */
int wal_reader_next(struct wal_reader *r, struct wal_record *rec, bool *end);
uint64_t wal_reader_offset(const struct wal_reader *r);
void wal_reader_close(struct wal_reader *r);

/* Find the last end-of-height marker: *height gets its height and *next_offset the offset
 * of the record after it (where that height + 1 begins). *found is false when there is no
 * marker (then *next_offset is the first record). Stops at the first bad record. */
int wal_find_last_end_height(const char *path, const struct wal_options *opts, bool *found,
                             uint64_t *height, uint64_t *next_offset);

/* Find the end-of-height marker of `height` (the last one if it appears more than once):
 * *next_offset gets the offset of the record after it, where height + 1 begins. *found is
 * false when there is none. Stops at the first bad record. */
int wal_find_end_height(const char *path, const struct wal_options *opts, uint64_t height,
                        bool *found, uint64_t *next_offset);

/* ---- bounding the file ------------------------------------------------------------- */

/* Drop every record before the last end-of-height marker (the marker itself is kept, so
 * readers still find where the current height begins). The records kept are copied into a
 * new file that replaces the old one by rename (fsynced file and directory): a crash at any
 * instant leaves either the old or the new file, both valid. *removed (may be NULL) gets the
 * bytes dropped; 0 when there is no marker or nothing before it.
 * Errors: PX_ESTATE (failed earlier), PX_EIO (the old file is still in place and usable if
 * the failure came before the rename; after it, the WAL is failed), PX_ENOMEM. */
int wal_compact(struct wal *w, uint64_t *removed);

/* ---- checking and repair (used by `phalanx inspect-wal`) ----------------------------- */

enum wal_check_result {
    WAL_CHECK_OK = 0,  /* every record is valid */
    WAL_CHECK_TORN,    /* the bad part is a torn tail: wal_open would truncate it */
    WAL_CHECK_CORRUPT, /* a bad record is followed by valid ones: wal_open refuses */
};

struct wal_check {
    enum wal_check_result result;
    uint64_t records;    /* valid records before the first bad one */
    uint64_t bad_offset; /* first bad record (TORN/CORRUPT) */
    uint64_t next_valid; /* CORRUPT: offset of the first valid record after the bad one */
    uint64_t file_bytes;
};

/* Called for each valid record (in order) and, with crc_ok false and a NULL payload, once
 * for the first bad record (its declared length in len, UINT32_MAX if unreadable). Return 0
 * to go on, anything else to stop (wal_check then returns that value). */
typedef int (*wal_check_fn)(const struct wal_record *rec, bool crc_ok, void *user);

/* Scan the file without changing it. fn may be NULL. Errors: PX_ENOTFOUND, PX_ECORRUPT
 * (not a WAL), PX_EIO, PX_ENOMEM. */
int wal_check(const char *path, const struct wal_options *opts, wal_check_fn fn, void *user,
              struct wal_check *out);

/* Truncate the file at `offset` (a record boundary found by wal_check), after copying the
 * whole file to backup_path (created exclusively, fsynced). Errors: PX_EEXIST (backup
 * exists), PX_EINVAL, PX_EIO. */
int wal_repair(const char *path, uint64_t offset, const char *backup_path);

#endif
