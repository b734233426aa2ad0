/*
 * wal: the consensus write-ahead log (format and rules in wal.h).
 *
 * Scanning maps the file read-only; appending uses pwritev at the end and fdatasync when
 * asked. The writer holds an exclusive flock so two processes never append to one WAL.
 * It must never modify a record already written, never truncate anything but a torn tail
 * (or what an operator's repair names), and never report an append as durable before
 * fdatasync returned. After a failed write or sync the WAL refuses all further appends.
 */
#include "wal.h"

#include "px_error.h"
#include "px_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const uint8_t wal_magic[WAL_HEADER_BYTES] = {'P', 'X', 'W', 'A', 'L', 0, 0, 1};

struct wal {
    int fd;
    char *path;
    uint32_t max_record_bytes;
    uint64_t size;
    uint64_t truncated;
    bool failed;
};

struct wal_reader {
    int fd;
    uint64_t offset;
    uint64_t file_bytes;
    uint32_t max_record_bytes;
    uint8_t *buf;
    size_t cap;
};

/* ---- CRC32C ---------------------------------------------------------------------- */

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = true;
}

uint32_t wal_crc32c_update(uint32_t crc, const void *data, size_t len)
{
    if (!crc_ready)
        crc_init(); /* idempotent: a race computes the same table twice */
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t record_crc(const uint8_t len_le[4], const uint8_t *body, size_t n)
{
    return wal_crc32c_update(wal_crc32c_update(0, len_le, 4), body, n);
}

const char *wal_kind_name(uint8_t kind)
{
    switch (kind) {
    case WAL_KIND_END_HEIGHT:
        return "end_height";
    case WAL_KIND_INPUT:
        return "input";
    case WAL_KIND_OWN_MESSAGE:
        return "own_message";
    case WAL_KIND_TIMEOUT:
        return "timeout";
    default:
        return NULL;
    }
}

static int max_from(const struct wal_options *opts, uint32_t *out)
{
    uint32_t m = opts ? opts->max_record_bytes : 0;
    if (m == 0)
        m = WAL_DEFAULT_MAX_RECORD_BYTES;
    if (m < 9 || m > WAL_MAX_RECORD_BYTES_LIMIT)
        return PX_EINVAL;
    *out = m;
    return 0;
}

/* ---- file helpers ------------------------------------------------------------------ */

static int errno_code(void)
{
    int e = errno;
    if (e == ENOENT)
        return PX_ENOTFOUND;
    if (e == EACCES || e == EPERM || e == EROFS)
        return PX_EPERM;
    return PX_EIO;
}

static int fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return PX_ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return PX_EIO;
    int rc = fsync(fd) == 0 ? 0 : PX_EIO;
    close(fd);
    return rc;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return PX_EIO;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    uint8_t *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return PX_EIO;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* A read-only view of a whole file. */
struct view {
    const uint8_t *p;
    uint64_t n;
};

static int view_map(int fd, struct view *v)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return PX_EIO;
    v->n = (uint64_t)st.st_size;
    v->p = NULL;
    if (v->n == 0)
        return 0;
    void *m = mmap(NULL, (size_t)v->n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return PX_EIO;
    v->p = m;
    return 0;
}

static void view_unmap(struct view *v)
{
    if (v->p)
        munmap((void *)v->p, (size_t)v->n);
    v->p = NULL;
}

/* Is there a valid record at off? *body_len gets the declared length (UINT32_MAX if the
 * length field itself is not all there). */
static bool valid_at(const struct view *v, uint64_t off, uint32_t max, uint32_t *body_len)
{
    *body_len = UINT32_MAX;
    if (off + WAL_RECORD_OVERHEAD > v->n)
        return false;
    uint32_t len = get_u32(v->p + off);
    *body_len = len;
    if (len < 1 || len > max || off + WAL_RECORD_OVERHEAD + len > v->n)
        return false;
    return record_crc(v->p + off, v->p + off + WAL_RECORD_OVERHEAD, len) == get_u32(v->p + off + 4);
}

static int check_header(const struct view *v)
{
    if (v->n < WAL_HEADER_BYTES)
        return PX_ECORRUPT;
    return memcmp(v->p, wal_magic, WAL_HEADER_BYTES) == 0 ? 0 : PX_ECORRUPT;
}

/* The scan behind wal_open and wal_check. The header must already be valid. */
static int scan(const struct view *v, uint32_t max, wal_check_fn fn, void *user,
                struct wal_check *out)
{
    memset(out, 0, sizeof(*out));
    out->file_bytes = v->n;
    uint64_t off = WAL_HEADER_BYTES;
    while (off < v->n) {
        uint32_t len;
        if (valid_at(v, off, max, &len)) {
            if (fn) {
                struct wal_record rec = {off, v->p[off + WAL_RECORD_OVERHEAD],
                                         v->p + off + WAL_RECORD_OVERHEAD + 1, len - 1};
                int rc = fn(&rec, true, user);
                if (rc != 0)
                    return rc;
            }
            out->records++;
            off += WAL_RECORD_OVERHEAD + len;
            continue;
        }
        out->bad_offset = off;
        out->result = WAL_CHECK_TORN;
        /* Resynchronise: any valid record starting after the bad one means the damage is
         * in the middle, not a torn tail. */
        for (uint64_t y = off + 1; y + WAL_RECORD_OVERHEAD < v->n; y++) {
            uint32_t l2;
            if (valid_at(v, y, max, &l2)) {
                out->result = WAL_CHECK_CORRUPT;
                out->next_valid = y;
                break;
            }
        }
        if (fn) {
            struct wal_record rec = {off, 0, NULL, len};
            if (len != UINT32_MAX && off + WAL_RECORD_OVERHEAD < v->n)
                rec.kind = v->p[off + WAL_RECORD_OVERHEAD];
            int rc = fn(&rec, false, user);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    out->result = WAL_CHECK_OK;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------ */

static int create_file(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? PX_EAGAIN : errno_code();
    int rc = pwrite_all(fd, wal_magic, WAL_HEADER_BYTES, 0);
    if (rc == 0 && fsync(fd) != 0)
        rc = PX_EIO;
    if (rc == 0)
        rc = fsync_parent_dir(path);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

int wal_open(const char *path, const struct wal_options *opts, struct wal **out)
{
    uint32_t max;
    if (!path || !out || max_from(opts, &max) != 0)
        return PX_EINVAL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 && errno == ENOENT) {
        rc = create_file(path, &fd);
        if (rc == PX_EAGAIN) /* created by someone else meanwhile: open what is there */
            fd = open(path, O_RDWR | O_CLOEXEC);
        else if (rc != 0)
            return rc;
    }
    if (fd < 0)
        return errno_code();
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        PX_ERROR("wal", "WAL is in use by another process", "file=%s", path);
        close(fd);
        return PX_EAGAIN;
    }

    struct view v;
    rc = view_map(fd, &v);
    if (rc != 0)
        goto fail;
    if (v.n < WAL_HEADER_BYTES && (v.n == 0 || memcmp(v.p, wal_magic, (size_t)v.n) == 0)) {
        /* Torn while being created: write the header again. */
        view_unmap(&v);
        if (ftruncate(fd, 0) != 0 || pwrite_all(fd, wal_magic, WAL_HEADER_BYTES, 0) != 0 ||
            fsync(fd) != 0) {
            rc = PX_EIO;
            goto fail;
        }
        PX_WARN("wal", "rewrote the header of a WAL torn at creation", "file=%s", path);
        rc = view_map(fd, &v);
        if (rc != 0)
            goto fail;
    }
    if (check_header(&v) != 0) {
        PX_ERROR("wal", "not a consensus WAL file (bad header); move it away to start afresh",
                 "file=%s", path);
        view_unmap(&v);
        rc = PX_ECORRUPT;
        goto fail;
    }
    struct wal_check chk;
    rc = scan(&v, max, NULL, NULL, &chk);
    view_unmap(&v);
    if (rc != 0)
        goto fail;
    uint64_t end = chk.file_bytes;
    uint64_t truncated = 0;
    if (chk.result == WAL_CHECK_CORRUPT) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "corrupt record in the middle of the WAL; inspect with 'phalanx inspect-wal "
                 "--file %s' and repair (truncating everything from the bad record, with a "
                 "backup) with 'phalanx inspect-wal --file %s --repair'",
                 path, path);
        PX_ERROR("wal", msg, "file=%s offset=%" PRIu64 " next_valid=%" PRIu64, path, chk.bad_offset,
                 chk.next_valid);
        rc = PX_ECORRUPT;
        goto fail;
    }
    if (chk.result == WAL_CHECK_TORN) {
        truncated = chk.file_bytes - chk.bad_offset;
        end = chk.bad_offset;
        if (ftruncate(fd, (off_t)end) != 0 || fsync(fd) != 0) {
            rc = PX_EIO;
            goto fail;
        }
        PX_WARN("wal", "truncated a torn tail of the WAL",
                "file=%s offset=%" PRIu64 " bytes=%" PRIu64 " records=%" PRIu64, path, end,
                truncated, chk.records);
    }

    struct wal *w = calloc(1, sizeof(*w));
    char *p = strdup(path);
    if (!w || !p) {
        free(w);
        free(p);
        rc = PX_ENOMEM;
        goto fail;
    }
    w->fd = fd;
    w->path = p;
    w->max_record_bytes = max;
    w->size = end;
    w->truncated = truncated;
    *out = w;
    return 0;
fail:
    close(fd);
    return rc;
}

int wal_append(struct wal *w, uint8_t kind, const void *payload, size_t len, bool sync)
{
    if (!w || (len > 0 && !payload))
        return PX_EINVAL;
    if (w->failed)
        return PX_ESTATE;
    if (len >= w->max_record_bytes)
        return PX_EINVAL;
    uint8_t hdr[WAL_RECORD_OVERHEAD + 1];
    uint32_t body = (uint32_t)len + 1;
    put_u32(hdr, body);
    hdr[8] = kind;
    uint32_t crc = wal_crc32c_update(wal_crc32c_update(0, hdr, 4), &kind, 1);
    crc = wal_crc32c_update(crc, payload, len);
    put_u32(hdr + 4, crc);

    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
    size_t total = sizeof(hdr) + len;
    size_t done = 0;
    while (done < total) {
        /* rebuild the iovec after a short write */
        struct iovec cur[2];
        int n = 0;
        size_t skip = done;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            cur[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
            cur[n].iov_len = iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
        ssize_t wr = pwritev(w->fd, cur, n, (off_t)(w->size + done));
        if (wr < 0 && errno == EINTR)
            continue;
        if (wr <= 0) {
            w->failed = true;
            PX_ERROR("wal", "write to the WAL failed; refusing further appends",
                     "file=%s offset=%" PRIu64 " errno=%d", w->path, w->size, errno);
            return PX_EIO;
        }
        done += (size_t)wr;
    }
    w->size += total;
    if (sync)
        return wal_sync(w);
    return 0;
}

int wal_end_height(struct wal *w, uint64_t height)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(height >> (8 * i));
    return wal_append(w, WAL_KIND_END_HEIGHT, b, sizeof(b), true);
}

int wal_sync(struct wal *w)
{
    if (!w)
        return PX_EINVAL;
    if (w->failed)
        return PX_ESTATE;
    if (fdatasync(w->fd) != 0) {
        /* After a failed fsync the page cache state is unknown: never trust it again. */
        w->failed = true;
        PX_ERROR("wal", "fsync of the WAL failed; refusing further appends", "file=%s errno=%d",
                 w->path, errno);
        return PX_EIO;
    }
    return 0;
}

uint64_t wal_size(const struct wal *w)
{
    return w->size;
}

uint64_t wal_truncated_bytes(const struct wal *w)
{
    return w->truncated;
}

int wal_close(struct wal *w)
{
    if (!w)
        return 0;
    int rc = 0;
    if (!w->failed && fdatasync(w->fd) != 0)
        rc = PX_EIO;
    close(w->fd);
    free(w->path);
    free(w);
    return rc;
}

/* ---- reader ------------------------------------------------------------------------ */

int wal_reader_open(const char *path, uint64_t offset, const struct wal_options *opts,
                    struct wal_reader **out)
{
    uint32_t max;
    if (!path || !out || max_from(opts, &max) != 0)
        return PX_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_code();
    uint8_t hdr[WAL_HEADER_BYTES];
    size_t got;
    struct stat st;
    int rc = pread_all(fd, hdr, sizeof(hdr), 0, &got);
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = PX_EIO;
    if (rc == 0 && (got != sizeof(hdr) || memcmp(hdr, wal_magic, sizeof(hdr)) != 0))
        rc = PX_ECORRUPT;
    if (rc == 0 && offset == 0)
        offset = WAL_HEADER_BYTES;
    if (rc == 0 && (offset < WAL_HEADER_BYTES || offset > (uint64_t)st.st_size))
        rc = PX_EINVAL;
    struct wal_reader *r = NULL;
    if (rc == 0 && !(r = calloc(1, sizeof(*r))))
        rc = PX_ENOMEM;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    r->fd = fd;
    r->offset = offset;
    r->file_bytes = (uint64_t)st.st_size;
    r->max_record_bytes = max;
    *out = r;
    return 0;
}

int wal_reader_next(struct wal_reader *r, struct wal_record *rec, bool *end)
{
    if (!r || !rec || !end)
        return PX_EINVAL;
    *end = false;
    uint8_t hdr[WAL_RECORD_OVERHEAD];
    size_t got;
    int rc = pread_all(r->fd, hdr, sizeof(hdr), r->offset, &got);
    if (rc != 0)
        return rc;
    if (got == 0) {
        *end = true;
        return 0;
    }
    if (got < sizeof(hdr))
        return PX_ECORRUPT;
    uint32_t len = get_u32(hdr);
    if (len < 1 || len > r->max_record_bytes)
        return PX_ECORRUPT;
    if (len > r->cap) {
        uint8_t *nb = realloc(r->buf, len);
        if (!nb)
            return PX_ENOMEM;
        r->buf = nb;
        r->cap = len;
    }
    rc = pread_all(r->fd, r->buf, len, r->offset + sizeof(hdr), &got);
    if (rc != 0)
        return rc;
    if (got < len || record_crc(hdr, r->buf, len) != get_u32(hdr + 4))
        return PX_ECORRUPT;
    rec->offset = r->offset;
    rec->kind = r->buf[0];
    rec->payload = r->buf + 1;
    rec->len = len - 1;
    r->offset += sizeof(hdr) + len;
    return 0;
}

uint64_t wal_reader_offset(const struct wal_reader *r)
{
    return r->offset;
}

void wal_reader_close(struct wal_reader *r)
{
    if (!r)
        return;
    close(r->fd);
    free(r->buf);
    free(r);
}

static int find_marker(const char *path, const struct wal_options *opts,
                       const uint64_t *want_height, bool *found, uint64_t *height,
                       uint64_t *marker_offset, uint64_t *next_offset);

int wal_find_last_end_height(const char *path, const struct wal_options *opts, bool *found,
                             uint64_t *height, uint64_t *next_offset)
{
    if (!found || !height || !next_offset)
        return PX_EINVAL;
    uint64_t marker;
    return find_marker(path, opts, NULL, found, height, &marker, next_offset);
}

/* ---- heights and compaction ---------------------------------------------------------- */

/* Scan for END_HEIGHT markers: the last one (want_height NULL) or the last one of a given
 * height. */
static int find_marker(const char *path, const struct wal_options *opts,
                       const uint64_t *want_height, bool *found, uint64_t *height,
                       uint64_t *marker_offset, uint64_t *next_offset)
{
    struct wal_reader *r;
    int rc = wal_reader_open(path, 0, opts, &r);
    if (rc != 0)
        return rc;
    *found = false;
    *height = 0;
    *marker_offset = 0;
    *next_offset = WAL_HEADER_BYTES;
    for (;;) {
        struct wal_record rec;
        bool end;
        rc = wal_reader_next(r, &rec, &end);
        if (rc == PX_ECORRUPT) {
            rc = 0; /* what follows a bad record is not trusted */
            break;
        }
        if (rc != 0 || end)
            break;
        if (rec.kind != WAL_KIND_END_HEIGHT || rec.len != 8)
            continue;
        uint64_t h = 0;
        for (int i = 0; i < 8; i++)
            h |= (uint64_t)rec.payload[i] << (8 * i);
        if (want_height && h != *want_height)
            continue;
        *found = true;
        *height = h;
        *marker_offset = rec.offset;
        *next_offset = wal_reader_offset(r);
    }
    wal_reader_close(r);
    return rc;
}

int wal_find_end_height(const char *path, const struct wal_options *opts, uint64_t height,
                        bool *found, uint64_t *next_offset)
{
    if (!found || !next_offset)
        return PX_EINVAL;
    uint64_t h, marker;
    int rc = find_marker(path, opts, &height, found, &h, &marker, next_offset);
    if (rc == 0 && !*found)
        *next_offset = 0;
    return rc;
}

static int copy_range(int from, uint64_t off, uint64_t end, int to, uint64_t to_off)
{
    uint8_t buf[65536];
    while (off < end) {
        size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        size_t got;
        int rc = pread_all(from, buf, want, off, &got);
        if (rc != 0)
            return rc;
        if (got != want)
            return PX_EIO; /* the file is shorter than we wrote: something is very wrong */
        rc = pwrite_all(to, buf, got, to_off);
        if (rc != 0)
            return rc;
        off += got;
        to_off += got;
    }
    return 0;
}

int wal_compact(struct wal *w, uint64_t *removed)
{
    if (!w)
        return PX_EINVAL;
    if (removed)
        *removed = 0;
    if (w->failed)
        return PX_ESTATE;
    int rc = wal_sync(w);
    if (rc != 0)
        return rc;
    struct wal_options o = {w->max_record_bytes};
    bool found;
    uint64_t h, marker, next;
    rc = find_marker(w->path, &o, NULL, &found, &h, &marker, &next);
    if (rc != 0)
        return rc;
    if (!found || marker <= WAL_HEADER_BYTES)
        return 0;

    size_t n = strlen(w->path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return PX_ENOMEM;
    snprintf(tmp, n, "%s.compact", w->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(tmp);
        return PX_EIO;
    }
    /* lock the new file before it gets the WAL's name */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = PX_EAGAIN;
    if (rc == 0)
        rc = pwrite_all(fd, wal_magic, WAL_HEADER_BYTES, 0);
    if (rc == 0)
        rc = copy_range(w->fd, marker, w->size, fd, WAL_HEADER_BYTES);
    if (rc == 0 && fsync(fd) != 0)
        rc = PX_EIO;
    if (rc == 0 && rename(tmp, w->path) != 0)
        rc = PX_EIO;
    if (rc != 0) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc; /* the old file is untouched and still ours */
    }
    free(tmp);
    close(w->fd);
    w->fd = fd;
    uint64_t old = w->size;
    w->size = WAL_HEADER_BYTES + (old - marker);
    if (fsync_parent_dir(w->path) != 0) {
        w->failed = true;
        PX_ERROR("wal",
                 "fsync of the WAL's directory failed after compaction; refusing further "
                 "appends",
                 "file=%s", w->path);
        return PX_EIO;
    }
    PX_INFO("wal", "compacted the WAL",
            "file=%s kept_from_height=%" PRIu64 " removed_bytes=%" PRIu64, w->path, h,
            marker - WAL_HEADER_BYTES);
    if (removed)
        *removed = marker - WAL_HEADER_BYTES;
    return 0;
}

/* ---- check and repair -------------------------------------------------------------- */

int wal_check(const char *path, const struct wal_options *opts, wal_check_fn fn, void *user,
              struct wal_check *out)
{
    uint32_t max;
    if (!path || !out || max_from(opts, &max) != 0)
        return PX_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_code();
    struct view v;
    int rc = view_map(fd, &v);
    close(fd);
    if (rc != 0)
        return rc;
    rc = check_header(&v);
    if (rc == 0)
        rc = scan(&v, max, fn, user, out);
    view_unmap(&v);
    return rc;
}

static int copy_fd(int from, int to)
{
    uint8_t buf[65536];
    uint64_t off = 0;
    for (;;) {
        size_t got;
        int rc = pread_all(from, buf, sizeof(buf), off, &got);
        if (rc != 0)
            return rc;
        if (got == 0)
            return 0;
        rc = pwrite_all(to, buf, got, off);
        if (rc != 0)
            return rc;
        off += got;
    }
}

int wal_repair(const char *path, uint64_t offset, const char *backup_path)
{
    if (!path || !backup_path || offset < WAL_HEADER_BYTES)
        return PX_EINVAL;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno_code();
    int rc = 0;
    int bfd = -1;
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = PX_EAGAIN; /* a node has it open */
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = PX_EIO;
        goto out;
    }
    if (offset > (uint64_t)st.st_size) {
        rc = PX_EINVAL;
        goto out;
    }
    bfd = open(backup_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (bfd < 0) {
        rc = errno == EEXIST ? PX_EEXIST : errno_code();
        goto out;
    }
    rc = copy_fd(fd, bfd);
    if (rc == 0 && fsync(bfd) != 0)
        rc = PX_EIO;
    if (rc == 0)
        rc = fsync_parent_dir(backup_path);
    if (rc == 0 && (ftruncate(fd, (off_t)offset) != 0 || fsync(fd) != 0))
        rc = PX_EIO;
    if (rc == 0)
        PX_WARN("wal", "repaired the WAL by truncation",
                "file=%s offset=%" PRIu64 " removed_bytes=%" PRIu64 " backup=%s", path, offset,
                (uint64_t)st.st_size - offset, backup_path);
out:
    if (bfd >= 0)
        close(bfd);
    close(fd);
    return rc;
}
