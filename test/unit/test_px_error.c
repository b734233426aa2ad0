/* Unit tests of px_error: every code has its own text; errno maps to codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"

#include <errno.h>
#include <string.h>

static void every_code_has_distinct_text(void **state)
{
    (void)state;
    for (int a = PX_ERR_LOWEST; a <= 0; a++) {
        const char *ta = px_strerror(a);
        assert_non_null(ta);
        assert_string_not_equal(ta, "unknown error");
        for (int b = a + 1; b <= 0; b++)
            assert_string_not_equal(ta, px_strerror(b));
    }
}

static void unknown_codes(void **state)
{
    (void)state;
    assert_string_equal(px_strerror(1), "unknown error");
    assert_string_equal(px_strerror(PX_ERR_LOWEST - 1), "unknown error");
    assert_string_equal(px_strerror(-100000), "unknown error");
}

static void errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(px_err_from_errno(0), PX_OK);
    assert_int_equal(px_err_from_errno(ENOMEM), PX_ENOMEM);
    assert_int_equal(px_err_from_errno(ENOENT), PX_ENOTFOUND);
    assert_int_equal(px_err_from_errno(EACCES), PX_EPERM);
    assert_int_equal(px_err_from_errno(ECONNRESET), PX_ECLOSED);
    assert_int_equal(px_err_from_errno(ENOSPC), PX_ENOSPC);
    assert_int_equal(px_err_from_errno(EDQUOT), PX_ENOSPC);
    assert_int_equal(px_err_from_errno(EMFILE), PX_ENOFD);
    assert_int_equal(px_err_from_errno(ENFILE), PX_ENOFD);
    assert_string_equal(px_strerror(PX_ENOFD), "too many open files (out of file descriptors)");
    assert_int_equal(px_err_from_errno(EIO), PX_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_distinct_text),
        cmocka_unit_test(unknown_codes),
        cmocka_unit_test(errno_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
