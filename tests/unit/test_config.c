/* config: the INI file every process reads, and command-line overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ccm/config.h"
#include "ccm/error.h"

static char *s_write(const char *text)
{
    char *path = strdup("/tmp/ccm-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_load_sections_and_values(void **state)
{
    (void)state;
    char *p = s_write("; comment\n[broker]\nendpoint = tcp://127.0.0.1:1\nmax_msg_size = 2M\n"
                      "[clinic C01]\ntimezone = America/New_York\n[clinic C02]\nname = B\n"
                      "[enrollment]\nbatch_max = 64\n");
    ccm_config_t *c = NULL;
    char err[256];
    assert_int_equal(ccm_config_load(p, &c, err, sizeof err), 0);
    assert_string_equal(ccm_config_get(c, "broker", "endpoint", NULL), "tcp://127.0.0.1:1");
    assert_string_equal(ccm_config_get(c, "broker", "nope", "dflt"), "dflt");
    assert_null(ccm_config_get(c, "nosection", "endpoint", NULL));
    long long v = 0;
    assert_int_equal(ccm_config_get_int(c, "broker", "max_msg_size", 1, &v), 0);
    assert_int_equal(v, 2 * 1024 * 1024);
    assert_int_equal(ccm_config_get_int(c, "enrollment", "batch_max", 1, &v), 0);
    assert_int_equal(v, 64);
    assert_int_equal(ccm_config_get_int(c, "enrollment", "absent", 7, &v), 0);
    assert_int_equal(v, 7);
    /* a non-number is an error and leaves the output alone */
    v = 99;
    assert_int_equal(ccm_config_get_int(c, "clinic C01", "timezone", 1, &v), CCM_EINVAL);
    assert_int_equal(v, 99);
    ccm_config_destroy(&c);
    assert_null(c);
    ccm_config_destroy(&c); /* safe twice */
    unlink(p);
    free(p);
}

static void s_collect(const char *section, void *arg)
{
    char *out = arg;
    strcat(out, section);
    strcat(out, ";");
}

static void test_each_section_in_file_order_once(void **state)
{
    (void)state;
    char *p = s_write("[clinic B]\na=1\nb=2\n[broker]\nx=1\n[clinic A]\na=1\n");
    ccm_config_t *c = NULL;
    assert_int_equal(ccm_config_load(p, &c, NULL, 0), 0);
    char seen[256] = "";
    ccm_config_each_section(c, "clinic ", s_collect, seen);
    assert_string_equal(seen, "clinic B;clinic A;");
    ccm_config_destroy(&c);
    unlink(p);
    free(p);
}

static void test_set_overrides_file(void **state)
{
    (void)state;
    char *p = s_write("[broker]\nendpoint = tcp://127.0.0.1:1\n");
    ccm_config_t *c = NULL;
    assert_int_equal(ccm_config_load(p, &c, NULL, 0), 0);
    assert_int_equal(ccm_config_set(c, "broker", "endpoint", "tcp://127.0.0.1:2"), 0);
    assert_int_equal(ccm_config_set(c, "broker", "new", "v"), 0);
    assert_string_equal(ccm_config_get(c, "broker", "endpoint", NULL), "tcp://127.0.0.1:2");
    assert_string_equal(ccm_config_get(c, "broker", "new", NULL), "v");
    ccm_config_destroy(&c);
    unlink(p);
    free(p);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    char *p = s_write("[broker]\nendpoint = x\nthis line is not ini\n");
    ccm_config_t *c = NULL;
    char err[256] = "";
    assert_int_equal(ccm_config_load(p, &c, err, sizeof err), CCM_EINVAL);
    assert_null(c);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", p);
    assert_non_null(strstr(err, want));
    unlink(p);
    assert_int_equal(ccm_config_load(p, &c, err, sizeof err), CCM_ENOTFOUND);
    assert_non_null(strstr(err, p));
    free(p);
}

static void test_bad_integers(void **state)
{
    (void)state;
    ccm_config_t *c = ccm_config_new();
    long long v;
    const char *bad[] = {"", "12x", "1.5", "k", "99999999999999999999", "9999999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ccm_config_set(c, "s", "k", bad[i]), 0);
        assert_int_equal(ccm_config_get_int(c, "s", "k", 0, &v), CCM_EINVAL);
    }
    assert_int_equal(ccm_config_set(c, "s", "k", "-3"), 0);
    assert_int_equal(ccm_config_get_int(c, "s", "k", 0, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(ccm_config_set(c, "s", "k", "4k"), 0);
    assert_int_equal(ccm_config_get_int(c, "s", "k", 0, &v), 0);
    assert_int_equal(v, 4096);
    ccm_config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_sections_and_values),
        cmocka_unit_test(test_each_section_in_file_order_once),
        cmocka_unit_test(test_set_overrides_file),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_bad_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
