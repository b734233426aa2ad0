/* Unit tests of header: the hash equals the merkle root of the 14 field encodings written
 * out by hand here from CometBFT's rules (so the format cannot drift), every field is
 * covered by the hash, and malformed headers are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "header.h"
#include "merkle.h"
#include "px_error.h"

static void fixed_header(struct header *h)
{
    memset(h, 0, sizeof(*h));
    h->version_block = 1;
    h->version_app = 3;
    strcpy(h->chain_id, "test-chain");
    h->height = 300;
    h->time_ns = 1700000000ull * 1000000000ull + 5;
    memset(h->last_block_id.hash, 0x01, 32);
    h->last_block_id.parts.total = 2;
    memset(h->last_block_id.parts.hash, 0x02, 32);
    memset(h->last_commit_hash, 0x03, 32);
    memset(h->data_hash, 0x04, 32);
    memset(h->validators_hash, 0x05, 32);
    memset(h->next_validators_hash, 0x06, 32);
    memset(h->consensus_hash, 0x07, 32);
    memset(h->app_hash, 0x08, 5);
    h->app_hash_len = 5;
    memset(h->last_results_hash, 0x09, 32);
    memset(h->evidence_hash, 0x0a, 32);
    memset(h->proposer_address, 0x0b, 20);
}

struct w {
    uint8_t b[128];
    size_t n;
};

static void put_varint(struct w *w, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        w->b[w->n++] = v ? (uint8_t)(c | 0x80) : c;
    } while (v);
}

static void put_bytes(struct w *w, uint8_t tag, const void *p, size_t n)
{
    w->b[w->n++] = tag;
    put_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void hash_by_hand(const struct header *h, uint8_t out[32])
{
    struct w l[14];
    memset(l, 0, sizeof(l));
    /* version: Consensus{block, app} */
    l[0].b[l[0].n++] = 0x08;
    put_varint(&l[0], h->version_block);
    l[0].b[l[0].n++] = 0x10;
    put_varint(&l[0], h->version_app);
    put_bytes(&l[1], 0x0a, h->chain_id, strlen(h->chain_id)); /* StringValue */
    l[2].b[l[2].n++] = 0x08;                                  /* Int64Value */
    put_varint(&l[2], h->height);
    l[3].b[l[3].n++] = 0x08; /* Timestamp */
    put_varint(&l[3], h->time_ns / 1000000000ull);
    l[3].b[l[3].n++] = 0x10;
    put_varint(&l[3], h->time_ns % 1000000000ull);
    struct w psh = {0};
    psh.b[psh.n++] = 0x08;
    put_varint(&psh, h->last_block_id.parts.total);
    put_bytes(&psh, 0x12, h->last_block_id.parts.hash, 32);
    put_bytes(&l[4], 0x0a, h->last_block_id.hash, 32); /* BlockID */
    put_bytes(&l[4], 0x12, psh.b, psh.n);
    const uint8_t *hashes[7] = {h->last_commit_hash, h->data_hash, h->validators_hash,
                                h->next_validators_hash, h->consensus_hash};
    for (int i = 0; i < 5; i++)
        put_bytes(&l[5 + i], 0x0a, hashes[i], 32); /* BytesValue */
    put_bytes(&l[10], 0x0a, h->app_hash, h->app_hash_len);
    put_bytes(&l[11], 0x0a, h->last_results_hash, 32);
    put_bytes(&l[12], 0x0a, h->evidence_hash, 32);
    put_bytes(&l[13], 0x0a, h->proposer_address, 20);
    const uint8_t *items[14];
    size_t lens[14];
    for (int i = 0; i < 14; i++) {
        items[i] = l[i].b;
        lens[i] = l[i].n;
    }
    assert_int_equal(merkle_root(items, lens, 14, out), 0);
}

static void hash_matches_hand_encoding(void **state)
{
    (void)state;
    struct header h;
    fixed_header(&h);
    uint8_t got[32], want[32];
    assert_int_equal(header_hash(&h, got), 0);
    hash_by_hand(&h, want);
    assert_memory_equal(got, want, 32);
}

static void every_field_is_hashed(void **state)
{
    (void)state;
    struct header h;
    fixed_header(&h);
    uint8_t base[32], got[32];
    assert_int_equal(header_hash(&h, base), 0);
    /* flip one byte of each field in turn */
    uint8_t *fields[] = {(uint8_t *)&h.version_block,
                         (uint8_t *)&h.version_app,
                         (uint8_t *)h.chain_id,
                         (uint8_t *)&h.height,
                         (uint8_t *)&h.time_ns,
                         h.last_block_id.hash,
                         (uint8_t *)&h.last_block_id.parts.total,
                         h.last_block_id.parts.hash,
                         h.last_commit_hash,
                         h.data_hash,
                         h.validators_hash,
                         h.next_validators_hash,
                         h.consensus_hash,
                         h.app_hash,
                         h.last_results_hash,
                         h.evidence_hash,
                         h.proposer_address};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        fields[i][0] ^= 0x01;
        assert_int_equal(header_hash(&h, got), 0);
        assert_memory_not_equal(base, got, 32);
        fields[i][0] ^= 0x01;
    }
    h.app_hash_len = 4;
    assert_int_equal(header_hash(&h, got), 0);
    assert_memory_not_equal(base, got, 32);
}

static void malformed(void **state)
{
    (void)state;
    struct header h;
    uint8_t out[32];
    fixed_header(&h);
    h.chain_id[0] = '\0';
    assert_int_equal(header_hash(&h, out), PX_EINVAL);
    fixed_header(&h);
    h.chain_id[2] = ' ';
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    fixed_header(&h);
    h.height = 0;
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    fixed_header(&h);
    h.height = 1; /* height 1 has no last block */
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    block_id_set_nil(&h.last_block_id);
    assert_int_equal(header_validate_basic(&h), 0);
    fixed_header(&h);
    block_id_set_nil(&h.last_block_id); /* but later heights have one */
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    fixed_header(&h);
    h.last_block_id.parts.total = 0; /* half a block id */
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    fixed_header(&h);
    h.app_hash_len = HEADER_APP_HASH_MAX + 1;
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
    fixed_header(&h);
    h.height = (uint64_t)INT64_MAX + 1;
    assert_int_equal(header_validate_basic(&h), PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_matches_hand_encoding),
        cmocka_unit_test(every_field_is_hashed),
        cmocka_unit_test(malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
