/* Unit tests of part_set: split a multi-MB encoded block into 64 KiB parts, send each part
 * through the codec to a receiving set that verifies it against the part set header,
 * reassemble byte for byte; tampered, misplaced, duplicate and oversized parts are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "part_set.h"
#include "px_error.h"

static uint8_t *pattern(size_t n)
{
    uint8_t *d = malloc(n);
    assert_non_null(d);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        d[i] = (uint8_t)(x >> 16);
    }
    return d;
}

static void split_send_reassemble(void **state)
{
    (void)state;
    size_t n = 3 * 1024 * 1024 + 12345; /* 3 MiB and a bit: 49 parts, the last short */
    uint8_t *data = pattern(n);
    struct part_set src, dst;
    assert_int_equal(part_set_from_data(&src, data, n), 0);
    assert_int_equal(src.header.total, 49);
    assert_true(part_set_is_complete(&src));
    assert_int_equal(part_set_init(&dst, &src.header), 0);
    assert_false(part_set_is_complete(&dst));
    uint8_t *out;
    size_t out_len;
    assert_int_equal(part_set_assemble(&dst, &out, &out_len), PX_ESTATE);
    /* deliver in reverse order through the codec */
    for (uint32_t k = 0; k < src.header.total; k++) {
        uint32_t i = src.header.total - 1 - k;
        const struct part *p = part_set_get(&src, i);
        assert_non_null(p);
        uint8_t *wire;
        size_t wire_len;
        assert_int_equal(codec_part_encode(p, &wire, &wire_len), 0);
        assert_true(wire_len <= CODEC_PART_MAX_BYTES);
        struct part got;
        assert_int_equal(codec_part_decode(wire, wire_len, &got), 0);
        free(wire);
        assert_int_equal(part_set_add(&dst, &got), 0);
        assert_int_equal(part_set_add(&dst, &got), PX_EEXIST);
        free(got.bytes);
    }
    assert_true(part_set_is_complete(&dst));
    assert_int_equal(part_set_assemble(&dst, &out, &out_len), 0);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, data, n);
    free(out);
    part_set_fini(&dst);
    part_set_fini(&src);
    free(data);
}

static void tampered_and_misplaced(void **state)
{
    (void)state;
    size_t n = 5 * PART_SET_PART_SIZE / 2;
    uint8_t *data = pattern(n);
    struct part_set src, dst;
    assert_int_equal(part_set_from_data(&src, data, n), 0);
    assert_int_equal(src.header.total, 3);
    assert_int_equal(part_set_init(&dst, &src.header), 0);
    struct part p = *part_set_get(&src, 1);
    uint8_t *copy = malloc(p.len);
    memcpy(copy, p.bytes, p.len);
    p.bytes = copy;
    p.bytes[100] ^= 1; /* tampered bytes */
    assert_int_equal(part_set_add(&dst, &p), PX_ECRYPTO);
    p.bytes[100] ^= 1;
    p.proof.aunts[0][0] ^= 1; /* tampered proof */
    assert_int_equal(part_set_add(&dst, &p), PX_ECRYPTO);
    p.proof.aunts[0][0] ^= 1;
    p.index = 0; /* claims another position */
    assert_int_equal(part_set_add(&dst, &p), PX_EINVAL);
    p.proof.index = 0; /* and a proof for it: the leaf does not match */
    assert_int_not_equal(part_set_add(&dst, &p), 0);
    p.index = 1;
    p.proof.index = 1;
    p.index = 7;
    assert_int_equal(part_set_add(&dst, &p), PX_EINVAL); /* out of range */
    p.index = 1;
    p.len = PART_SET_PART_SIZE - 1; /* a short part that is not the last */
    assert_int_equal(part_set_add(&dst, &p), PX_EINVAL);
    p.len = PART_SET_PART_SIZE;
    assert_int_equal(part_set_add(&dst, &p), 0);
    assert_int_equal(dst.count, 1);
    free(copy);
    /* a part of another block's set does not verify here */
    data[0] ^= 1;
    struct part_set other;
    assert_int_equal(part_set_from_data(&other, data, n), 0);
    assert_int_equal(part_set_add(&dst, part_set_get(&other, 0)), PX_ECRYPTO);
    part_set_fini(&other);
    part_set_fini(&dst);
    part_set_fini(&src);
    free(data);
}

static void sizes(void **state)
{
    (void)state;
    struct part_set ps;
    uint8_t one = 7;
    assert_int_equal(part_set_from_data(&ps, &one, 0), PX_EINVAL);
    assert_int_equal(part_set_from_data(&ps, &one, 1), 0);
    assert_int_equal(ps.header.total, 1);
    part_set_fini(&ps);
    uint8_t *d = pattern(PART_SET_PART_SIZE + 1);
    assert_int_equal(part_set_from_data(&ps, d, PART_SET_PART_SIZE), 0);
    assert_int_equal(ps.header.total, 1);
    part_set_fini(&ps);
    assert_int_equal(part_set_from_data(&ps, d, PART_SET_PART_SIZE + 1), 0);
    assert_int_equal(ps.header.total, 2);
    assert_int_equal(part_set_get(&ps, 1)->len, 1);
    part_set_fini(&ps);
    free(d);
    /* beyond the most parts a block may have: refused before reading the data */
    assert_int_equal(
        part_set_from_data(&ps, &one, (size_t)BLOCK_ID_MAX_PARTS * PART_SET_PART_SIZE + 1),
        PX_ETOOBIG);
    struct part_set_header h = {.total = BLOCK_ID_MAX_PARTS + 1};
    memset(h.hash, 1, sizeof(h.hash));
    assert_int_equal(part_set_init(&ps, &h), PX_EINVAL);
    h.total = 0;
    assert_int_equal(part_set_init(&ps, &h), PX_EINVAL);
    h.total = 2;
    memset(h.hash, 0, sizeof(h.hash));
    assert_int_equal(part_set_init(&ps, &h), PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_send_reassemble),
        cmocka_unit_test(tampered_and_misplaced),
        cmocka_unit_test(sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
