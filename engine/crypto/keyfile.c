/*
 * keyfile: reading and writing CometBFT-format Ed25519 key files (see keyfile.h).
 * Must never leave a partly written key file under the final name, replace an existing
 * key, or let private key bytes reach a log or an error message.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "px_encoding.h"
#include "px_error.h"

#define TYPE_PUB "tendermint/PubKeyEd25519"
#define TYPE_PRIV "tendermint/PrivKeyEd25519"

void keyfile_node_id(const struct ed25519_pubkey *pub, char out[KEYFILE_NODE_ID_LEN])
{
    uint8_t addr[CRYPTO_ADDRESS_SIZE];
    ed25519_address(pub, addr);
    px_hex_encode(out, KEYFILE_NODE_ID_LEN, addr, sizeof(addr), false);
}

/* ---- writing ------------------------------------------------------------------------- */

static json_t *key_object(const char *type, const uint8_t *bytes, size_t n)
{
    char b64[PX_BASE64_LEN(ED25519_PRIVKEY_SIZE)];
    if (px_base64_encode(b64, sizeof(b64), bytes, n) != 0)
        return NULL;
    json_t *o = json_pack("{s:s, s:s}", "type", type, "value", b64);
    sodium_memzero(b64, sizeof(b64));
    return o;
}

static char *render(enum keyfile_kind kind, const struct ed25519_privkey *priv)
{
    const uint8_t *pub = priv->bytes + ED25519_SEED_SIZE;
    json_t *root = json_object();
    json_t *privo = key_object(TYPE_PRIV, priv->bytes, ED25519_PRIVKEY_SIZE);
    char *text = NULL;
    if (!root || !privo)
        goto out;
    if (kind == KEYFILE_VALIDATOR) {
        uint8_t addr[CRYPTO_ADDRESS_SIZE];
        char addr_hex[PX_HEX_LEN(CRYPTO_ADDRESS_SIZE)];
        struct ed25519_pubkey pk;
        memcpy(pk.bytes, pub, ED25519_PUBKEY_SIZE);
        ed25519_address(&pk, addr);
        px_hex_encode(addr_hex, sizeof(addr_hex), addr, sizeof(addr), true);
        json_t *pubo = key_object(TYPE_PUB, pub, ED25519_PUBKEY_SIZE);
        if (!pubo || json_object_set_new(root, "address", json_string(addr_hex)) != 0 ||
            json_object_set_new(root, "pub_key", pubo) != 0)
            goto out;
    }
    if (json_object_set(root, "priv_key", privo) != 0)
        goto out;
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
    /* jansson keeps its own copies of the strings: wipe what we can reach */
    if (privo) {
        json_t *v = json_object_get(privo, "value");
        if (v && json_string_value(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
        json_decref(privo);
    }
    json_decref(root);
    return text;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return px_err_from_errno(errno);
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return PX_ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return px_err_from_errno(errno);
    int rc = fsync(fd) == 0 ? 0 : px_err_from_errno(errno);
    close(fd);
    return rc;
}

/* rename tmp to path unless path exists. */
static int rename_noreplace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno == EEXIST ? PX_EEXIST : px_err_from_errno(errno);
    /* file system without RENAME_NOREPLACE: link() also refuses an existing name */
    if (link(tmp, path) != 0)
        return errno == EEXIST ? PX_EEXIST : px_err_from_errno(errno);
    unlink(tmp);
    return 0;
}

int keyfile_write(const char *path, enum keyfile_kind kind, const struct ed25519_privkey *priv,
                  char *err, size_t err_cap)
{
    if (!path || !priv || (kind != KEYFILE_VALIDATOR && kind != KEYFILE_NODE))
        return px_err_say(err, err_cap, PX_EINVAL, "key file: invalid arguments");
    if (!ed25519_privkey_consistent(priv))
        return px_err_say(err, err_cap, PX_EINVAL,
                          "%s: not written: the private key's public half does not match its seed",
                          path);
    if (access(path, F_OK) == 0)
        return px_err_say(err, err_cap, PX_EEXIST,
                          "%s already exists; refusing to overwrite a key (move it away first)",
                          path);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return px_err_say(err, err_cap, PX_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        int rc = px_err_from_errno(errno);
        px_err_say(err, err_cap, rc, "%s: cannot create a temporary file beside it: %s", path,
                   strerror(errno));
        free(tmp);
        return rc;
    }
    char *text = render(kind, priv);
    int rc = 0;
    if (!text) {
        rc = px_err_say(err, err_cap, PX_ENOMEM, "%s: cannot render the key as JSON", path);
        goto fail_tmp;
    }
    size_t tlen = strlen(text);
    rc = write_all(fd, text, tlen);
    if (rc == 0)
        rc = write_all(fd, "\n", 1);
    sodium_memzero(text, tlen);
    free(text);
    if (rc != 0) {
        px_err_say(err, err_cap, rc, "%s: writing the temporary file failed: %s", path,
                   px_strerror(rc));
        goto fail_tmp;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        rc = px_err_from_errno(errno);
        px_err_say(err, err_cap, rc, "%s: syncing the temporary file failed: %s", path,
                   strerror(errno));
        goto fail_tmp;
    }
    close(fd);
    fd = -1;
    rc = rename_noreplace(tmp, path);
    if (rc != 0) {
        if (rc == PX_EEXIST)
            px_err_say(err, err_cap, rc, "%s already exists; refusing to overwrite a key", path);
        else
            px_err_say(err, err_cap, rc, "%s: cannot move the new key into place: %s", path,
                       px_strerror(rc));
        goto fail_tmp;
    }
    free(tmp);
    rc = fsync_dir_of(path);
    if (rc != 0)
        return px_err_say(err, err_cap, rc, "%s: written, but syncing its directory failed: %s",
                          path, px_strerror(rc));
    return 0;

fail_tmp:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *out_len, char *err, size_t err_cap)
{
    /* symbolic links are followed (secret stores mount keys that way); the mode checked
     * below is the target's */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return px_err_say(err, err_cap, PX_ENOTFOUND, "%s: no such key file", path);
        return px_err_say(err, err_cap, px_err_from_errno(e), "%s: cannot open: %s", path,
                          strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = px_err_say(err, err_cap, px_err_from_errno(errno), "%s: cannot stat: %s", path,
                        strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = px_err_say(err, err_cap, PX_EDECODE, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = px_err_say(
            err, err_cap, PX_EPERM,
            "%s: key file can be read by group or others (mode %04o); run 'chmod 600 %s'", path,
            (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_size > KEYFILE_MAX_BYTES) {
        rc = px_err_say(err, err_cap, PX_ETOOBIG,
                        "%s: %lld bytes, larger than a key file can be (%d)", path,
                        (long long)st.st_size, KEYFILE_MAX_BYTES);
        goto out;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = px_err_say(err, err_cap, PX_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
out:
    close(fd);
    return rc;
}

/* obj[field] = {"type": want_type, "value": B64 of exactly n bytes}. */
static int get_key(const char *path, json_t *root, const char *field, const char *want_type,
                   uint8_t *dst, size_t n, char *err, size_t err_cap)
{
    json_t *o = json_object_get(root, field);
    if (!json_is_object(o))
        return px_err_say(err, err_cap, PX_EDECODE, "%s: missing object \"%s\"", path, field);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type || strcmp(type, want_type) != 0)
        return px_err_say(err, err_cap, PX_EDECODE, "%s: \"%s.type\" must be \"%s\"", path, field,
                          want_type);
    json_t *v = json_object_get(o, "value");
    const char *b64 = json_string_value(v);
    if (!b64)
        return px_err_say(err, err_cap, PX_EDECODE, "%s: missing string \"%s.value\"", path, field);
    uint8_t tmp[ED25519_PRIVKEY_SIZE + 3];
    size_t len = 0;
    int rc = px_base64_decode(tmp, sizeof(tmp), &len, b64, json_string_length(v));
    if (rc == PX_ETOOBIG || (rc == 0 && len != n)) {
        sodium_memzero(tmp, sizeof(tmp));
        return px_err_say(err, err_cap, PX_EDECODE, "%s: \"%s.value\" must be %zu bytes of base64",
                          path, field, n);
    }
    if (rc != 0)
        return px_err_say(err, err_cap, PX_EDECODE, "%s: \"%s.value\" is not valid base64", path,
                          field);
    memcpy(dst, tmp, n);
    sodium_memzero(tmp, sizeof(tmp));
    return 0;
}

static int check_key(const char *path, json_t *root, enum keyfile_kind kind,
                     struct ed25519_privkey *priv, struct ed25519_pubkey *pub, char *err,
                     size_t err_cap)
{
    if (!json_is_object(root))
        return px_err_say(err, err_cap, PX_EDECODE, "%s: must be a JSON object", path);
    int rc =
        get_key(path, root, "priv_key", TYPE_PRIV, priv->bytes, ED25519_PRIVKEY_SIZE, err, err_cap);
    if (rc != 0)
        return rc;
    if (ed25519_pubkey_of(priv, pub) != 0)
        return px_err_say(err, err_cap, PX_EINTERNAL, "%s: libsodium failed", path);
    if (sodium_memcmp(pub->bytes, priv->bytes + ED25519_SEED_SIZE, ED25519_PUBKEY_SIZE) != 0)
        return px_err_say(
            err, err_cap, PX_ECRYPTO,
            "%s: \"priv_key\" is inconsistent: its public half does not belong to its "
            "seed",
            path);
    if (kind == KEYFILE_NODE)
        return 0;

    struct ed25519_pubkey file_pub;
    rc =
        get_key(path, root, "pub_key", TYPE_PUB, file_pub.bytes, ED25519_PUBKEY_SIZE, err, err_cap);
    if (rc != 0)
        return rc;
    if (memcmp(file_pub.bytes, pub->bytes, ED25519_PUBKEY_SIZE) != 0)
        return px_err_say(err, err_cap, PX_ECRYPTO,
                          "%s: \"pub_key\" does not belong to \"priv_key\" (mixed-up key file?)",
                          path);
    json_t *a = json_object_get(root, "address");
    const char *hex = json_string_value(a);
    if (!hex)
        return px_err_say(err, err_cap, PX_EDECODE, "%s: missing string \"address\"", path);
    uint8_t addr[CRYPTO_ADDRESS_SIZE + 1], want[CRYPTO_ADDRESS_SIZE];
    size_t alen = 0;
    rc = px_hex_decode(addr, sizeof(addr), &alen, hex, json_string_length(a));
    if (rc != 0 || alen != CRYPTO_ADDRESS_SIZE)
        return px_err_say(err, err_cap, PX_EDECODE, "%s: \"address\" must be %d bytes of hex", path,
                          CRYPTO_ADDRESS_SIZE);
    ed25519_address(pub, want);
    if (memcmp(addr, want, CRYPTO_ADDRESS_SIZE) != 0)
        return px_err_say(err, err_cap, PX_ECRYPTO,
                          "%s: \"address\" is not the address of \"pub_key\" (mixed-up key file?)",
                          path);
    return 0;
}

int keyfile_load(const char *path, enum keyfile_kind kind, struct ed25519_privkey *priv,
                 struct ed25519_pubkey *pub, char *err, size_t err_cap)
{
    if (!path || !priv || !pub || (kind != KEYFILE_VALIDATOR && kind != KEYFILE_NODE))
        return px_err_say(err, err_cap, PX_EINVAL, "key file: invalid arguments");
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len, err, err_cap);
    if (rc != 0)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    sodium_memzero(text, len);
    free(text);
    if (!root)
        return px_err_say(err, err_cap, PX_EDECODE, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                          jerr.column, jerr.text);
    rc = check_key(path, root, kind, priv, pub, err, err_cap);
    /* wipe the base64 of the private key that jansson holds */
    json_t *v = json_object_get(json_object_get(root, "priv_key"), "value");
    if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    json_decref(root);
    if (rc != 0)
        ed25519_privkey_wipe(priv);
    return rc;
}
