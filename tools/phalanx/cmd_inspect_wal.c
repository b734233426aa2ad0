/*
 * phalanx inspect-wal: list the records of a consensus WAL (offset, length, kind, CRC) and
 * say whether the node would open it as is, truncate a torn tail, or refuse it for
 * corruption in the middle; with --repair, truncate it at the first bad record after
 * keeping a full backup copy. Never changes the file without --repair and a "y" (or --yes),
 * and never without a backup.
 */
#include "commands.h"

#include "config.h"
#include "px_error.h"
#include "wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f, "usage: phalanx inspect-wal (--home DIR | --file FILE) [--repair [--yes]] [--quiet]\n"
           "\n"
           "Lists the records of a consensus write-ahead log and checks it.\n"
           "  --home DIR   the node's home: the WAL is consensus.wal_file of DIR/config/node.conf\n"
           "  --file FILE  a WAL file\n"
           "  --repair     truncate the WAL at its first bad record (a backup copy of the whole\n"
           "               file is kept next to it); asks for confirmation\n"
           "  --yes        do not ask\n"
           "  --quiet      print only the summary\n"
           "Exit status: 0 the WAL is good (or was repaired), 1 it has a bad record the node\n"
           "would refuse (or an error), 2 bad usage. A torn tail only (an incomplete last\n"
           "record) is reported but exits 0: the node truncates it itself at start.\n"
           "Stop the node before repairing.\n");
}

struct listing {
    bool quiet;
};

static int print_record(const struct wal_record *rec, bool crc_ok, void *user)
{
    struct listing *l = user;
    if (!crc_ok) {
        if (rec->len == UINT32_MAX)
            printf("%12" PRIu64 "  %10s  %-12s  %s\n", rec->offset, "-", "-",
                   "BAD (incomplete header)");
        else
            printf("%12" PRIu64 "  %10zu  %-12s  %s\n", rec->offset, rec->len, "-",
                   "BAD (length or CRC)");
        return 0;
    }
    if (l->quiet)
        return 0;
    const char *name = wal_kind_name(rec->kind);
    char kind[32];
    if (name)
        snprintf(kind, sizeof(kind), "%s", name);
    else
        snprintf(kind, sizeof(kind), "kind=%u", rec->kind);
    printf("%12" PRIu64 "  %10zu  %-12s  ok", rec->offset, rec->len + 1, kind);
    if (rec->kind == WAL_KIND_END_HEIGHT && rec->len == 8) {
        uint64_t h = 0;
        for (int i = 0; i < 8; i++)
            h |= (uint64_t)rec->payload[i] << (8 * i);
        printf("  height=%" PRIu64, h);
    }
    printf("\n");
    return 0;
}

static int wal_path_of_home(const char *home, char *out, size_t cap, uint32_t *max_record)
{
    char conf[4096];
    snprintf(conf, sizeof(conf), "%s/config/node.conf", home);
    struct config *c = malloc(sizeof(*c));
    if (!c)
        return PX_ENOMEM;
    char err[CONFIG_ERR_MAX];
    int rc = config_load(conf, c, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "phalanx inspect-wal: %s\n", err);
        free(c);
        return rc;
    }
    rc = config_resolve_path(home, c->consensus.wal_file, out, cap);
    *max_record = c->consensus.wal_max_record_bytes;
    free(c);
    return rc;
}

static bool confirm(void)
{
    printf("Proceed? [y/N] ");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

int cmd_inspect_wal(int argc, char **argv)
{
    const char *home = NULL, *file = NULL;
    bool repair = false, yes = false;
    struct listing l = {false};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--repair") == 0) {
            repair = true;
        } else if (strcmp(argv[i], "--yes") == 0) {
            yes = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            l.quiet = true;
        } else {
            fprintf(stderr, "phalanx inspect-wal: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if ((home == NULL) == (file == NULL)) {
        fprintf(stderr, "phalanx inspect-wal: give exactly one of --home DIR and --file FILE\n");
        usage(stderr);
        return 2;
    }
    char path[4096];
    struct wal_options opts = {0};
    if (home) {
        if (wal_path_of_home(home, path, sizeof(path), &opts.max_record_bytes) != 0)
            return 1;
    } else {
        snprintf(path, sizeof(path), "%s", file);
    }

    if (!l.quiet)
        printf("%12s  %10s  %-12s  %s\n", "offset", "length", "kind", "crc");
    struct wal_check chk;
    int rc = wal_check(path, &opts, print_record, &l, &chk);
    if (rc == PX_ENOTFOUND) {
        fprintf(stderr, "phalanx inspect-wal: %s: no such file\n", path);
        return 1;
    }
    if (rc == PX_ECORRUPT) {
        fprintf(stderr,
                "phalanx inspect-wal: %s: not a consensus WAL (bad header); move it away if "
                "the node should start a new one\n",
                path);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "phalanx inspect-wal: %s: %s\n", path, px_strerror(rc));
        return 1;
    }
    uint64_t lost_records = 0;
    if (chk.result == WAL_CHECK_CORRUPT) {
        struct wal_reader *r;
        if (wal_reader_open(path, chk.next_valid, &opts, &r) == 0) {
            for (;;) {
                struct wal_record rec;
                bool end;
                if (wal_reader_next(r, &rec, &end) != 0 || end)
                    break;
                lost_records++;
            }
            wal_reader_close(r);
        }
    }
    switch (chk.result) {
    case WAL_CHECK_OK:
        printf("%s: %" PRIu64 " records, %" PRIu64 " bytes: OK\n", path, chk.records,
               chk.file_bytes);
        if (repair)
            printf("nothing to repair\n");
        return 0;
    case WAL_CHECK_TORN:
        printf("%s: %" PRIu64 " good records, then a torn tail at offset %" PRIu64 " (%" PRIu64
               " bytes): the node truncates it at start\n",
               path, chk.records, chk.bad_offset, chk.file_bytes - chk.bad_offset);
        break;
    case WAL_CHECK_CORRUPT:
        printf("%s: %" PRIu64 " good records, then a CORRUPT record at offset %" PRIu64
               "; valid records resume at offset %" PRIu64 " (%" PRIu64
               " or more of them). The node refuses to start with this WAL.\n",
               path, chk.records, chk.bad_offset, chk.next_valid, lost_records);
        break;
    }
    if (!repair) {
        if (chk.result == WAL_CHECK_CORRUPT)
            printf("To repair (keeping a backup): phalanx inspect-wal --file %s --repair\n", path);
        return chk.result == WAL_CHECK_CORRUPT ? 1 : 0;
    }

    char backup[4200];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(backup, sizeof(backup), "%s.corrupt-%s", path, stamp);
    for (int n = 1; access(backup, F_OK) == 0 && n < 100; n++)
        snprintf(backup, sizeof(backup), "%s.corrupt-%s-%d", path, stamp, n);
    printf("Repair: truncate %s at offset %" PRIu64 ", removing %" PRIu64 " bytes (%" PRIu64
           " valid records after the bad one are lost; the node replays "
           "the current height from its peers and its stores). Backup: %s\n",
           path, chk.bad_offset, chk.file_bytes - chk.bad_offset, lost_records, backup);
    if (!yes && !confirm()) {
        printf("not repaired\n");
        return 1;
    }
    rc = wal_repair(path, chk.bad_offset, backup);
    if (rc == PX_EAGAIN) {
        fprintf(stderr, "phalanx inspect-wal: %s is open by a running node; stop it first\n", path);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr,
                "phalanx inspect-wal: repair of %s failed: %s (the file is unchanged "
                "unless the backup was written)\n",
                path, px_strerror(rc));
        return 1;
    }
    printf("repaired: %s now ends at offset %" PRIu64 "; backup in %s\n", path, chk.bad_offset,
           backup);
    return 0;
}
