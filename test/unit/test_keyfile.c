/* Unit tests of keyfile: round trips of both kinds, CometBFT's exact layout, refusal to
 * overwrite, and every load error (mode, garbage, lengths, mismatched key or address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_test.h"

struct fx {
    char dir[256];
    char path[300];
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(pxt_tmpdir("keyfile", f->dir, sizeof(f->dir)), 0);
    snprintf(f->path, sizeof(f->path), "%s/key.json", f->dir);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i + 1);
    assert_int_equal(ed25519_from_seed(seed, &f->priv, &f->pub), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Write text as a key file with the given mode. */
static void put(struct fx *f, const char *text, mode_t mode)
{
    unlink(f->path);
    assert_int_equal(pxt_write_file(f->path, text, strlen(text)), 0);
    assert_int_equal(chmod(f->path, mode), 0);
}

static void validator_round_trip(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    assert_int_equal(keyfile_write(f->path, KEYFILE_VALIDATOR, &f->priv, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_entries(f->dir), 1); /* no temporary file left */

    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)), 0);
    assert_memory_equal(priv.bytes, f->priv.bytes, 64);
    assert_memory_equal(pub.bytes, f->pub.bytes, 32);

    /* CometBFT's field names and types, upper-case hex address */
    char *text = pxt_read_file(f->path, NULL);
    assert_non_null(text);
    uint8_t addr[20];
    char addr_hex[41], pub_b64[PX_BASE64_LEN(32)], want[200];
    ed25519_address(&f->pub, addr);
    px_hex_encode(addr_hex, sizeof(addr_hex), addr, 20, true);
    px_base64_encode(pub_b64, sizeof(pub_b64), f->pub.bytes, 32);
    snprintf(want, sizeof(want), "\"address\": \"%s\"", addr_hex);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\"type\": \"tendermint/PubKeyEd25519\""));
    assert_non_null(strstr(text, "\"type\": \"tendermint/PrivKeyEd25519\""));
    snprintf(want, sizeof(want), "\"value\": \"%s\"", pub_b64);
    assert_non_null(strstr(text, want));
    free(text);
}

static void node_round_trip_and_id(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    assert_int_equal(keyfile_write(f->path, KEYFILE_NODE, &f->priv, err, sizeof(err)), 0);
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)), 0);
    assert_memory_equal(pub.bytes, f->pub.bytes, 32);
    char *text = pxt_read_file(f->path, NULL);
    assert_null(strstr(text, "address"));
    assert_null(strstr(text, "pub_key"));
    free(text);
    /* a node key file lacks pub_key: loading it as a validator key fails */
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    assert_non_null(strstr(err, "pub_key"));
    char id[KEYFILE_NODE_ID_LEN];
    keyfile_node_id(&f->pub, id);
    assert_int_equal(strlen(id), 40);
    for (int i = 0; i < 40; i++)
        assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
}

static void refuses_overwrite(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    put(f, "precious", 0600);
    assert_int_equal(keyfile_write(f->path, KEYFILE_VALIDATOR, &f->priv, err, sizeof(err)),
                     PX_EEXIST);
    assert_non_null(strstr(err, f->path));
    char *text = pxt_read_file(f->path, NULL);
    assert_string_equal(text, "precious");
    free(text);
    assert_int_equal(count_entries(f->dir), 1);
}

static void refuses_readable_mode(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    assert_int_equal(keyfile_write(f->path, KEYFILE_VALIDATOR, &f->priv, err, sizeof(err)), 0);
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    assert_non_null(strstr(err, f->path));
    assert_int_equal(chmod(f->path, 0604), 0);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_EPERM);
    assert_int_equal(chmod(f->path, 0400), 0);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)), 0);
    /* through a symbolic link the target's mode counts */
    char link_path[320];
    snprintf(link_path, sizeof(link_path), "%s/link.json", f->dir);
    assert_int_equal(symlink(f->path, link_path), 0);
    assert_int_equal(keyfile_load(link_path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)), 0);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(keyfile_load(link_path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_EPERM);
}

static void missing_and_garbage(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_ENOTFOUND);
    put(f, "{\"priv_key\": ", 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    assert_non_null(strstr(err, "not valid JSON"));
    put(f, "[1,2,3]", 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    put(f, "{\"priv_key\": {\"type\": \"tendermint/PrivKeySecp256k1\", \"value\": \"AA==\"}}",
        0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    assert_non_null(strstr(err, "priv_key.type"));
    put(f, "{\"priv_key\": {\"type\": \"tendermint/PrivKeyEd25519\", \"value\": \"!!!!\"}}", 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    assert_non_null(strstr(err, "base64"));
    /* 32 bytes instead of 64 */
    char b64[PX_BASE64_LEN(64)], text[400];
    px_base64_encode(b64, sizeof(b64), f->priv.bytes, 32);
    snprintf(text, sizeof(text),
             "{\"priv_key\": {\"type\": \"tendermint/PrivKeyEd25519\", \"value\": \"%s\"}}", b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    assert_non_null(strstr(err, "64 bytes"));
    /* a duplicate key is refused, not silently resolved */
    px_base64_encode(b64, sizeof(b64), f->priv.bytes, 64);
    snprintf(text, sizeof(text),
             "{\"priv_key\": {\"type\": \"tendermint/PrivKeyEd25519\", \"value\": \"%s\"}, "
             "\"priv_key\": 1}",
             b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_EDECODE);
    /* a too large file is not parsed */
    char *big = malloc(KEYFILE_MAX_BYTES + 2);
    memset(big, ' ', KEYFILE_MAX_BYTES + 1);
    big[KEYFILE_MAX_BYTES + 1] = '\0';
    put(f, big, 0600);
    free(big);
    assert_int_equal(keyfile_load(f->path, KEYFILE_NODE, &priv, &pub, err, sizeof(err)),
                     PX_ETOOBIG);
}

static void mismatches(void **state)
{
    struct fx *f = *state;
    char err[KEYFILE_ERR_MAX];
    struct ed25519_privkey priv, other;
    struct ed25519_pubkey pub, other_pub;
    uint8_t seed[32] = {9};
    assert_int_equal(ed25519_from_seed(seed, &other, &other_pub), 0);
    char priv_b64[PX_BASE64_LEN(64)], pub_b64[PX_BASE64_LEN(32)], addr_hex[41], text[600];
    uint8_t addr[20];
    const char *fmt = "{\"address\": \"%s\", \"pub_key\": {\"type\": "
                      "\"tendermint/PubKeyEd25519\", \"value\": \"%s\"}, \"priv_key\": "
                      "{\"type\": \"tendermint/PrivKeyEd25519\", \"value\": \"%s\"}}";

    /* pub_key of another key */
    px_base64_encode(priv_b64, sizeof(priv_b64), f->priv.bytes, 64);
    px_base64_encode(pub_b64, sizeof(pub_b64), other_pub.bytes, 32);
    ed25519_address(&f->pub, addr);
    px_hex_encode(addr_hex, sizeof(addr_hex), addr, 20, true);
    snprintf(text, sizeof(text), fmt, addr_hex, pub_b64, priv_b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_ECRYPTO);
    assert_non_null(strstr(err, "pub_key"));

    /* address of another key */
    px_base64_encode(pub_b64, sizeof(pub_b64), f->pub.bytes, 32);
    ed25519_address(&other_pub, addr);
    px_hex_encode(addr_hex, sizeof(addr_hex), addr, 20, true);
    snprintf(text, sizeof(text), fmt, addr_hex, pub_b64, priv_b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_ECRYPTO);
    assert_non_null(strstr(err, "address"));

    /* address of the right length, in lower case: accepted */
    ed25519_address(&f->pub, addr);
    px_hex_encode(addr_hex, sizeof(addr_hex), addr, 20, false);
    snprintf(text, sizeof(text), fmt, addr_hex, pub_b64, priv_b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)), 0);

    /* private key whose second half is not the public key of its seed */
    struct ed25519_privkey bad = f->priv;
    memcpy(bad.bytes + 32, other_pub.bytes, 32);
    px_base64_encode(priv_b64, sizeof(priv_b64), bad.bytes, 64);
    snprintf(text, sizeof(text), fmt, addr_hex, pub_b64, priv_b64);
    put(f, text, 0600);
    assert_int_equal(keyfile_load(f->path, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)),
                     PX_ECRYPTO);
    assert_non_null(strstr(err, "priv_key"));
    /* and such a key is never written */
    unlink(f->path);
    assert_int_equal(keyfile_write(f->path, KEYFILE_NODE, &bad, err, sizeof(err)), PX_EINVAL);
    assert_int_equal(count_entries(f->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(validator_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(node_round_trip_and_id, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_readable_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(mismatches, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
