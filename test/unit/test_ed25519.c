/* Unit tests of ed25519.h and sha256.h: RFC 8032 and FIPS 180 vectors, sign/verify,
 * tampering, addresses, key consistency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "ed25519.h"
#include "px_encoding.h"
#include "px_error.h"
#include "sha256.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
    size_t len = 0;
    assert_int_equal(px_hex_decode(out, n, &len, h, strlen(h)), 0);
    assert_int_equal(len, n);
}

static void tohex(const uint8_t *in, size_t n, char *out, size_t cap)
{
    assert_int_equal(px_hex_encode(out, cap, in, n, false), 0);
}

static void sha256_vectors(void **state)
{
    (void)state;
    uint8_t h[SHA256_SIZE];
    char s[PX_HEX_LEN(SHA256_SIZE)];
    sha256(h, NULL, 0);
    tohex(h, sizeof(h), s, sizeof(s));
    assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256(h, "abc", 3);
    tohex(h, sizeof(h), s, sizeof(s));
    assert_string_equal(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* incremental = one shot */
    struct sha256 st;
    uint8_t h2[SHA256_SIZE];
    sha256_init(&st);
    sha256_update(&st, "a", 1);
    sha256_update(&st, "bc", 2);
    sha256_final(&st, h2);
    assert_memory_equal(h, h2, SHA256_SIZE);
}

/* RFC 8032 §7.1, test 1 (empty message) and test 2 (one byte 0x72). */
static void rfc8032_vectors(void **state)
{
    (void)state;
    uint8_t seed[32], want_pub[32], want_sig[64], sig[64];
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", want_pub, 32);
    hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        want_sig, 64);
    assert_int_equal(ed25519_from_seed(seed, &priv, &pub), 0);
    assert_memory_equal(pub.bytes, want_pub, 32);
    assert_memory_equal(priv.bytes, seed, 32);
    assert_memory_equal(priv.bytes + 32, want_pub, 32);
    assert_int_equal(ed25519_sign(&priv, NULL, 0, sig), 0);
    assert_memory_equal(sig, want_sig, 64);
    assert_int_equal(ed25519_verify(&pub, NULL, 0, sig), 0);

    hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", seed, 32);
    hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", want_pub, 32);
    hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
        "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        want_sig, 64);
    assert_int_equal(ed25519_from_seed(seed, &priv, &pub), 0);
    assert_memory_equal(pub.bytes, want_pub, 32);
    const uint8_t msg[1] = {0x72};
    assert_int_equal(ed25519_sign(&priv, msg, 1, sig), 0);
    assert_memory_equal(sig, want_sig, 64);
    assert_int_equal(ed25519_verify(&pub, msg, 1, sig), 0);
}

static void sign_verify_tamper(void **state)
{
    (void)state;
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub, other;
    struct ed25519_privkey other_priv;
    assert_int_equal(ed25519_generate(&priv, &pub), 0);
    assert_int_equal(ed25519_generate(&other_priv, &other), 0);
    assert_memory_not_equal(pub.bytes, other.bytes, 32);
    uint8_t msg[100], sig[64];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(ed25519_sign(&priv, msg, sizeof(msg), sig), 0);
    assert_int_equal(ed25519_verify(&pub, msg, sizeof(msg), sig), 0);
    assert_int_equal(ed25519_verify(&other, msg, sizeof(msg), sig), PX_ECRYPTO);
    msg[50] ^= 1;
    assert_int_equal(ed25519_verify(&pub, msg, sizeof(msg), sig), PX_ECRYPTO);
    msg[50] ^= 1;
    sig[3] ^= 0x80;
    assert_int_equal(ed25519_verify(&pub, msg, sizeof(msg), sig), PX_ECRYPTO);
    sig[3] ^= 0x80;
    assert_int_equal(ed25519_verify(&pub, msg, sizeof(msg) - 1, sig), PX_ECRYPTO);
    ed25519_privkey_wipe(&other_priv);
}

static void address_and_consistency(void **state)
{
    (void)state;
    uint8_t seed[32] = {0};
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub, again;
    assert_int_equal(ed25519_from_seed(seed, &priv, &pub), 0);
    /* address = first 20 bytes of sha256(pub) */
    uint8_t addr[CRYPTO_ADDRESS_SIZE], h[SHA256_SIZE];
    ed25519_address(&pub, addr);
    sha256(h, pub.bytes, 32);
    assert_memory_equal(addr, h, CRYPTO_ADDRESS_SIZE);
    /* pubkey of the all-zero seed (a fixed value guards against a changed derivation) */
    char s[PX_HEX_LEN(32)];
    tohex(pub.bytes, 32, s, sizeof(s));
    assert_string_equal(s, "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29");
    assert_int_equal(ed25519_pubkey_of(&priv, &again), 0);
    assert_memory_equal(pub.bytes, again.bytes, 32);
    assert_true(ed25519_privkey_consistent(&priv));
    priv.bytes[40] ^= 1;
    assert_false(ed25519_privkey_consistent(&priv));
    ed25519_privkey_wipe(&priv);
    for (size_t i = 0; i < sizeof(priv.bytes); i++)
        assert_int_equal(priv.bytes[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_vectors),
        cmocka_unit_test(rfc8032_vectors),
        cmocka_unit_test(sign_verify_tamper),
        cmocka_unit_test(address_and_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
