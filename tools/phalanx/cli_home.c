/*
 * cli_home: the shared steps of making node homes for `phalanx init` and `phalanx testnet`
 * (see cli_home.h). Never overwrites a file and never prints; errors are sentences in err.
 */
#include "cli_home.h"

#include "fileio.h"
#include "privval.h"
#include "px_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_home_check_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return errno == ENOTDIR ? PX_EEXIST : px_err_from_errno(errno);
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = PX_EEXIST;
            break;
        }
    closedir(d);
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cli_home_remove_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int cli_home_build_dir(const char *final, const char *purpose, char *build, size_t build_cap,
                       bool *in_place, char *err, size_t err_cap)
{
    struct stat st;
    if (stat(final, &st) == 0) {
        if (strlen(final) >= build_cap)
            return px_err_say(err, err_cap, PX_ETOOBIG, "%s: path too long", final);
        snprintf(build, build_cap, "%s", final);
        *in_place = true;
        return 0;
    }
    int n = snprintf(build, build_cap, "%s.%s-XXXXXX", final, purpose);
    if (n < 0 || (size_t)n >= build_cap)
        return px_err_say(err, err_cap, PX_ETOOBIG, "%s: path too long", final);
    if (!mkdtemp(build))
        return px_err_say(err, err_cap, px_err_from_errno(errno),
                          "cannot create a directory beside %s: %s", final, strerror(errno));
    *in_place = false;
    return 0;
}

int cli_home_commit(const char *build, const char *final, char *err, size_t err_cap)
{
    int dfd = open(build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool synced = dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0)
        close(dfd);
    if (!synced || rename(build, final) != 0)
        return px_err_say(err, err_cap, PX_EIO,
                          "cannot move the new directory into place at %s: %s", final,
                          synced ? strerror(errno) : "fsync failed");
    int rc = fileio_fsync_parent(final);
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "cannot sync the directory that holds %s: %s", final,
                          px_strerror(rc));
    return 0;
}

static int path_join(char *out, size_t cap, const char *home, const char *rel, char *err,
                     size_t err_cap)
{
    int n = snprintf(out, cap, "%s/%s", home, rel);
    if (n < 0 || (size_t)n >= cap)
        return px_err_say(err, err_cap, PX_ETOOBIG, "%s: path too long", home);
    return 0;
}

int cli_home_make_dirs(const char *home, char *err, size_t err_cap)
{
    char path[CLI_HOME_PATH_MAX + 16];
    int rc = fileio_mkdir(home, 0700);
    if (rc == 0 && (rc = path_join(path, sizeof(path), home, "config", err, err_cap)) == 0)
        rc = fileio_mkdir(path, 0700);
    if (rc == 0 && (rc = path_join(path, sizeof(path), home, "data", err, err_cap)) == 0)
        rc = fileio_mkdir(path, 0700);
    if (rc == PX_ETOOBIG)
        return rc;
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "cannot create the directories of %s: %s", home,
                          px_strerror(rc));
    return 0;
}

int cli_home_write_new_key(const char *path, enum keyfile_kind kind, struct ed25519_pubkey *pub,
                           char *err, size_t err_cap)
{
    struct ed25519_privkey priv;
    if (ed25519_generate(&priv, pub) != 0)
        return px_err_say(err, err_cap, PX_EINTERNAL,
                          "cannot generate a key (libsodium failed to initialise)");
    char kerr[KEYFILE_ERR_MAX] = "";
    int rc = keyfile_write(path, kind, &priv, kerr, sizeof(kerr));
    ed25519_privkey_wipe(&priv);
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "%s", kerr[0] ? kerr : px_strerror(rc));
    return 0;
}

int cli_home_write_keys(const char *home, struct ed25519_pubkey *node_pub,
                        struct ed25519_pubkey *val_pub, char *err, size_t err_cap)
{
    char path[CLI_HOME_PATH_MAX + 64];
    int rc;
    if ((rc = path_join(path, sizeof(path), home, "config/node_key.json", err, err_cap)) != 0 ||
        (rc = cli_home_write_new_key(path, KEYFILE_NODE, node_pub, err, err_cap)) != 0)
        return rc;
    if ((rc = path_join(path, sizeof(path), home, "config/priv_validator_key.json", err,
                        err_cap)) != 0 ||
        (rc = cli_home_write_new_key(path, KEYFILE_VALIDATOR, val_pub, err, err_cap)) != 0)
        return rc;
    if ((rc = path_join(path, sizeof(path), home, "data/priv_validator_state.json", err,
                        err_cap)) != 0)
        return rc;
    if ((rc = privval_state_create(path)) != 0)
        return px_err_say(err, err_cap, rc, "cannot write %s: %s", path, px_strerror(rc));
    return 0;
}

int cli_home_write_conf(const char *home, const struct config *c, char *err, size_t err_cap)
{
    char cerr[CONFIG_ERR_MAX];
    int rc = config_validate(c, cerr, sizeof(cerr));
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "%s", cerr);
    char path[CLI_HOME_PATH_MAX + 64];
    if ((rc = path_join(path, sizeof(path), home, "config/node.conf", err, err_cap)) != 0)
        return rc;
    char *text;
    if (config_format(c, &text) != 0)
        return px_err_say(err, err_cap, PX_ENOMEM, "out of memory");
    rc = fileio_write_atomic(path, text, strlen(text), 0644, FILEIO_NOREPLACE);
    free(text);
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "cannot write %s: %s", path, px_strerror(rc));
    return 0;
}

int cli_home_write_genesis(const char *home, const struct genesis *g, char *err, size_t err_cap)
{
    char path[CLI_HOME_PATH_MAX + 64];
    int rc = path_join(path, sizeof(path), home, "config/genesis.json", err, err_cap);
    if (rc != 0)
        return rc;
    char gerr[GENESIS_ERR_MAX] = "";
    if ((rc = genesis_write(path, g, gerr, sizeof(gerr))) != 0)
        return px_err_say(err, err_cap, rc, "%s", gerr[0] ? gerr : px_strerror(rc));
    return 0;
}
