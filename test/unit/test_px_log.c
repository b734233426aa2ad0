/* Unit tests of px_log: line format, per-module levels, spec parsing, quoting, the sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_log.h"

#include <stdio.h>
#include <string.h>

struct capture {
    char text[8192];
    size_t len;
    int lines;
};

static void capture_sink(const char *line, size_t len, void *user)
{
    struct capture *c = user;
    if (c->len + len < sizeof(c->text)) {
        memcpy(c->text + c->len, line, len);
        c->len += len;
        c->text[c->len] = '\0';
    }
    c->lines++;
}

static int setup(void **state)
{
    (void)state;
    px_log_reset();
    return 0;
}

static void format_line(void **state)
{
    (void)state;
    char buf[256];
    uint64_t t = 1709210096ull * 1000000000ull + 123456789ull;
    size_t n = px_log_format(buf, sizeof(buf), t, PX_LOG_INFO, "consensus", "committed block",
                             "height=5 txs=12");
    assert_string_equal(buf, "2024-02-29T12:34:56.123Z INFO consensus committed block "
                             "height=5 txs=12\n");
    assert_int_equal(n, strlen(buf));
    px_log_format(buf, sizeof(buf), t, PX_LOG_WARN, "p2p", "peer dropped", "");
    assert_string_equal(buf, "2024-02-29T12:34:56.123Z WARN p2p peer dropped\n");
}

static void format_cuts_long_lines_and_newlines(void **state)
{
    (void)state;
    char buf[64];
    char kv[200];
    memset(kv, 'x', sizeof(kv) - 1);
    kv[sizeof(kv) - 1] = '\0';
    size_t n = px_log_format(buf, sizeof(buf), 0, PX_LOG_ERROR, "m", "msg", kv);
    assert_int_equal(n, strlen(buf));
    assert_true(n < sizeof(buf));
    assert_memory_equal(buf + n - 4, "...\n", 4);
    px_log_format(buf, sizeof(buf), 0, PX_LOG_ERROR, "m", "two\nlines", "");
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

static void levels_per_module(void **state)
{
    (void)state;
    assert_int_equal(px_log_set_spec("warn,consensus=debug,p2p=error"), 0);
    assert_true(px_log_enabled(PX_LOG_DEBUG, "consensus"));
    assert_false(px_log_enabled(PX_LOG_TRACE, "consensus"));
    assert_false(px_log_enabled(PX_LOG_WARN, "p2p"));
    assert_true(px_log_enabled(PX_LOG_ERROR, "p2p"));
    assert_false(px_log_enabled(PX_LOG_INFO, "mempool"));
    assert_true(px_log_enabled(PX_LOG_WARN, "mempool"));
    assert_int_equal(px_log_set_level("mempool", PX_LOG_TRACE), 0);
    assert_true(px_log_enabled(PX_LOG_TRACE, "mempool"));
}

static void bad_specs_change_nothing(void **state)
{
    (void)state;
    assert_int_equal(px_log_set_spec("error"), 0);
    const char *bad[] = {
        "", "loud", "info,consensus=", "info,=debug", "info,,p2p=warn", "info,consensus=verbose"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(px_log_set_spec(bad[i]), PX_EINVAL);
    assert_false(px_log_enabled(PX_LOG_WARN, "consensus"));
    assert_true(px_log_enabled(PX_LOG_ERROR, "consensus"));
}

static void too_many_modules(void **state)
{
    (void)state;
    char spec[2048] = "info";
    for (int i = 0; i <= PX_LOG_MODULE_MAX; i++) {
        char item[32];
        snprintf(item, sizeof(item), ",m%d=debug", i);
        strcat(spec, item);
    }
    assert_int_equal(px_log_set_spec(spec), PX_EBOUND);
    assert_false(px_log_enabled(PX_LOG_DEBUG, "m0"));
}

static void sink_gets_enabled_lines_only(void **state)
{
    (void)state;
    struct capture c = {0};
    px_log_set_sink(capture_sink, &c);
    px_log_set_spec("info");
    PX_DEBUG("store", "hidden", "k=%d", 1);
    PX_INFO("store", "saved block", "height=%d", 7);
    PX_ERROR("store", "disk full", NULL);
    assert_int_equal(c.lines, 2);
    assert_non_null(strstr(c.text, " INFO store saved block height=7\n"));
    assert_non_null(strstr(c.text, " ERROR store disk full\n"));
    assert_null(strstr(c.text, "hidden"));
}

static void quoting(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(px_log_quote(buf, sizeof(buf), "plain"), "plain");
    assert_string_equal(px_log_quote(buf, sizeof(buf), "two words"), "\"two words\"");
    assert_string_equal(px_log_quote(buf, sizeof(buf), "a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    assert_string_equal(px_log_quote(buf, sizeof(buf), ""), "\"\"");
    assert_string_equal(px_log_quote(buf, sizeof(buf), "k=v"), "\"k=v\"");
    assert_string_equal(px_log_quote(buf, sizeof(buf), "\x01"), "\"\\x01\"");
    char tiny[6];
    px_log_quote(tiny, sizeof(tiny), "a b c d e f");
    assert_true(strlen(tiny) < sizeof(tiny));
}

static void level_names(void **state)
{
    (void)state;
    enum px_log_level l;
    assert_int_equal(px_log_level_parse("debug", &l), 0);
    assert_int_equal(l, PX_LOG_DEBUG);
    assert_int_equal(px_log_level_parse("DEBUG", &l), PX_EINVAL);
    assert_string_equal(px_log_level_name(PX_LOG_WARN), "WARN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(format_line, setup),
        cmocka_unit_test_setup(format_cuts_long_lines_and_newlines, setup),
        cmocka_unit_test_setup(levels_per_module, setup),
        cmocka_unit_test_setup(bad_specs_change_nothing, setup),
        cmocka_unit_test_setup(too_many_modules, setup),
        cmocka_unit_test_setup(sink_gets_enabled_lines_only, setup),
        cmocka_unit_test_setup(quoting, setup),
        cmocka_unit_test_setup(level_names, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
