/*
 * phalanx rollback: move a stopped node's state store back one height, CometBFT's
 * `rollback` (used when the app was rolled back too, or a bad block must be re-executed):
 * the STATE record of the top height is deleted, so the latest state is that of the height
 * below; the block stays in the block store (it is executed again at start), unless --hard
 * removes it too. If the block store is one height ahead of the state (a stop between
 * saving a block and saving its state), the state is already one behind: only --hard does
 * anything then (it removes that block), as CometBFT does.
 *
 * Must never run beside a live phalanxd: it takes the exclusive locks the node holds (the
 * consensus WAL's flock and the signer's lock file) for the whole operation and refuses
 * if either is taken. Never touches the WAL, the signer state or the app.
 */
#include "commands.h"

#include "blockstore.h"
#include "config.h"
#include "genesis.h"
#include "px_error.h"
#include "statestore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define ROLLBACK_PATH_MAX 4096

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx rollback --home DIR [--hard]\n"
               "\n"
               "Moves a stopped node's state back one height: the state saved after the top\n"
               "height is deleted, so at its next start the node rebuilds that state from the\n"
               "stored block (executing it again if the app was rolled back too). Refuses\n"
               "while the node runs.\n"
               "  --home DIR  the node's home\n"
               "  --hard      also delete the top block and its commit from the block store;\n"
               "              the app must then be rolled back to the same height, or the\n"
               "              node refuses to start (the app would be ahead of it)\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "phalanx rollback: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* Take an exclusive flock on path (creating it if `create`). *fd is -1 when the file does
 * not exist and may not be created. PX_EAGAIN if another process holds it. */
static int lock_file(const char *path, bool create, int *fd)
{
    *fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (*fd < 0)
        return errno == ENOENT && !create ? 0 : px_err_from_errno(errno);
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return PX_EAGAIN;
    }
    return 0;
}

struct paths {
    char conf[ROLLBACK_PATH_MAX];
    char genesis[ROLLBACK_PATH_MAX];
    char wal[ROLLBACK_PATH_MAX];
    char signer_lock[ROLLBACK_PATH_MAX];
    char db_dir[ROLLBACK_PATH_MAX];
    char blockstore[ROLLBACK_PATH_MAX];
    char statestore[ROLLBACK_PATH_MAX];
};

static int make_paths(const char *home, const struct config *c, struct paths *p)
{
    int n = 0;
    if (config_resolve_path(home, c->consensus.wal_file, p->wal, sizeof(p->wal)) != 0 ||
        config_resolve_path(home, c->storage.db_dir, p->db_dir, sizeof(p->db_dir)) != 0)
        return PX_ETOOBIG;
    n |= snprintf(p->genesis, sizeof(p->genesis), "%s/config/genesis.json", home) >=
         (int)sizeof(p->genesis);
    n |= snprintf(p->signer_lock, sizeof(p->signer_lock), "%s/data/priv_validator_state.json.lock",
                  home) >= (int)sizeof(p->signer_lock);
    n |= snprintf(p->blockstore, sizeof(p->blockstore), "%s/blockstore.db", p->db_dir) >=
         (int)sizeof(p->blockstore);
    n |= snprintf(p->statestore, sizeof(p->statestore), "%s/state.db", p->db_dir) >=
         (int)sizeof(p->statestore);
    return n ? PX_ETOOBIG : 0;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int cmd_rollback(int argc, char **argv)
{
    const char *home = NULL;
    bool hard = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--hard") == 0) {
            hard = true;
        } else {
            fprintf(stderr, "phalanx rollback: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!home || !home[0]) {
        fprintf(stderr, "phalanx rollback: --home DIR is required\n");
        usage(stderr);
        return 2;
    }
    if (strlen(home) > 3000)
        return fail("--home is too long");

    int ret = 1, wal_fd = -1, signer_fd = -1;
    struct blockstore *bs = NULL;
    struct statestore *ss = NULL;
    struct genesis g;
    memset(&g, 0, sizeof(g));
    struct config *c = malloc(sizeof(*c));
    struct paths *p = malloc(sizeof(*p));
    char err[CONFIG_ERR_MAX > GENESIS_ERR_MAX ? CONFIG_ERR_MAX : GENESIS_ERR_MAX];
    int rc;
    if (!c || !p) {
        fail("out of memory");
        goto out;
    }
    char conf[3100];
    snprintf(conf, sizeof(conf), "%s/config/node.conf", home);
    if ((rc = config_load(conf, c, err, sizeof(err))) != 0) {
        fail("%s", rc == PX_ENOTFOUND ? "no config/node.conf: is --home a node's home?" : err);
        goto out;
    }
    if (make_paths(home, c, p) != 0) {
        fail("--home is too long");
        goto out;
    }
    if ((rc = genesis_load(p->genesis, &g, err, sizeof(err))) != 0) {
        fail("%s", err);
        goto out;
    }

    /* A running node holds both locks for its whole life. */
    rc = lock_file(p->wal, false, &wal_fd);
    if (rc == 0)
        rc = lock_file(p->signer_lock, false, &signer_fd);
    if (rc == PX_EAGAIN) {
        fail("the node at %s is running (its WAL or signer is locked by another process); stop "
             "phalanxd first",
             home);
        goto out;
    } else if (rc != 0) {
        fail("cannot lock the node's files in %s: %s", home, px_strerror(rc));
        goto out;
    }

    if (!file_exists(p->statestore) || !file_exists(p->blockstore)) {
        fail("no stores in %s (state.db, blockstore.db): the node has not committed anything, "
             "there is nothing to roll back",
             p->db_dir);
        goto out;
    }
    if ((rc = statestore_open(p->statestore, &ss)) != 0) {
        fail("cannot open %s: %s", p->statestore, px_strerror(rc));
        goto out;
    }
    if ((rc = blockstore_open(p->blockstore, &bs)) != 0) {
        fail("cannot open %s: %s", p->blockstore, px_strerror(rc));
        goto out;
    }
    uint64_t base, top, state_h;
    blockstore_range(bs, &base, &top);
    uint8_t *val = NULL;
    size_t len;
    rc = statestore_get_latest(ss, STATESTORE_STATE, UINT64_MAX, &state_h, &val, &len);
    free(val);
    uint64_t genesis_h = (uint64_t)g.initial_height - 1; /* the state before any block */
    if (rc == PX_ENOTFOUND || (rc == 0 && state_h <= genesis_h)) {
        fail("the state in %s is at genesis (no block committed): nothing to roll back",
             p->statestore);
        goto out;
    } else if (rc != 0) {
        fail("cannot read the latest state from %s: %s", p->statestore, px_strerror(rc));
        goto out;
    }

    if (top == state_h + 1) {
        /* The block of state_h + 1 was saved but its state never was. */
        if (!hard) {
            printf("the state is already one height behind the block store (state at height "
                   "%" PRIu64 ", top block %" PRIu64 "); nothing changed. Use --hard to remove "
                   "block %" PRIu64 " as well.\n",
                   state_h, top, top);
            ret = 0;
            goto out;
        }
        if ((rc = blockstore_delete_top(bs)) != 0) {
            fail("cannot delete block %" PRIu64 " from %s: %s", top, p->blockstore,
                 px_strerror(rc));
            goto out;
        }
        printf("removed block %" PRIu64 " (saved without its state) from the block store; the "
               "state stays at height %" PRIu64 ".\n",
               top, state_h);
        ret = 0;
        goto out;
    }
    if (top != state_h) {
        fail("the state store is at height %" PRIu64 " but the block store's top is %" PRIu64
             "; they must be equal (or the blocks one ahead) to roll back. Nothing changed.",
             state_h, top);
        goto out;
    }
    uint64_t target = state_h - 1;
    if (target > genesis_h) {
        uint8_t *below = NULL;
        rc = statestore_get(ss, STATESTORE_STATE, target, &below, &len);
        free(below);
        if (rc == PX_ENOTFOUND) {
            fail("the state of height %" PRIu64 " is not kept (pruned): cannot roll back to it. "
                 "Nothing changed.",
                 target);
            goto out;
        } else if (rc != 0) {
            fail("cannot read the state of height %" PRIu64 " from %s: %s", target, p->statestore,
                 px_strerror(rc));
            goto out;
        }
    }
    if (hard && base == top && target > genesis_h) {
        fail("block %" PRIu64 " is the only block kept (the store was pruned); --hard would "
             "leave no block for height %" PRIu64 ". Nothing changed.",
             top, target);
        goto out;
    }

    if ((rc = statestore_begin(ss)) != 0 ||
        (rc = statestore_delete(ss, STATESTORE_STATE, state_h)) != 0 ||
        (rc = statestore_commit(ss)) != 0) {
        statestore_rollback(ss);
        fail("cannot delete the state of height %" PRIu64 " from %s: %s; nothing changed", state_h,
             p->statestore, px_strerror(rc));
        goto out;
    }
    if (hard && (rc = blockstore_delete_top(bs)) != 0) {
        fail("rolled the state back to height %" PRIu64 " but cannot delete block %" PRIu64
             " from %s: %s. Run the command again with --hard to remove it.",
             target, top, p->blockstore, px_strerror(rc));
        goto out;
    }
    if (hard)
        printf("rolled back %s from height %" PRIu64 " to %" PRIu64 ": deleted the state and "
               "the block of height %" PRIu64 ". Roll the app back to height %" PRIu64
               " as well before starting the node.\n",
               home, state_h, target, state_h, target);
    else
        printf("rolled back %s from height %" PRIu64 " to %" PRIu64 ": deleted the state of "
               "height %" PRIu64 "; at its next start the node rebuilds it from block %" PRIu64
               " (and executes that block again if the app is at height %" PRIu64 ").\n",
               home, state_h, target, state_h, state_h, target);
    ret = 0;
out:
    blockstore_close(bs);
    statestore_close(ss);
    if (signer_fd >= 0)
        close(signer_fd);
    if (wal_fd >= 0)
        close(wal_fd);
    genesis_fini(&g);
    free(p);
    free(c);
    return ret;
}
