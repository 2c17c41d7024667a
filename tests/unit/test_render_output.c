/* ccm-watch delivery: a directory record is one file named by seq and claim id,
 * written atomically and rewritten identically on redelivery; a command gets the
 * record on stdin and CCM_SEQ / CCM_EVENT_TYPE / CCM_CLAIM_ID, and a non-zero exit
 * asks for the same record again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "ccm/error.h"
#include "output.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int hidden_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void test_dir_output_is_one_file_per_event_rewritten_on_redelivery(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/ccm-watch-out-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char spec[256], dir[128];
    snprintf(dir, sizeof dir, "%s/claims", tmpl);
    snprintf(spec, sizeof spec, "dir:%s", dir);
    ccm_watch_output_t *o;
    const char *why;
    assert_int_equal(ccm_watch_output_open(spec, &o, &why), 0);
    assert_false(ccm_watch_output_is_stdout(o));
    const char *data = "ISA*...~\n";
    ccm_watch_record_t r = {42,    "claim.ready", "C01/1042/2026-11/CCM#v2",
                            "x12", data,          strlen(data)};
    char name[256];
    ccm_watch_output_file_name(&r, name, sizeof name);
    assert_string_equal(name, "00000000000000000042-C01_1042_2026-11_CCM_v2.x12");
    assert_int_equal(ccm_watch_output_deliver(o, &r), 0);
    assert_int_equal(ccm_watch_output_deliver(o, &r), 0); /* redelivery after a crash */
    assert_int_equal(files_in(dir), 1);
    assert_int_equal(hidden_in(dir), 0); /* no temporary file left behind */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_string_equal(slurp(path), data);
    r.seq = 43;
    assert_int_equal(ccm_watch_output_deliver(o, &r), 0);
    assert_int_equal(files_in(dir), 2);
    ccm_watch_output_destroy(&o);
    ccm_watch_output_destroy(&o); /* safe twice */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
}

static void test_exec_gets_record_and_env_and_failure_means_again(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/ccm-watch-exec-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char spec[512];
    snprintf(spec, sizeof spec,
             "exec:{ echo \"$CCM_SEQ $CCM_EVENT_TYPE $CCM_CLAIM_ID\"; cat; } > %s/got", tmpl);
    ccm_watch_output_t *o;
    const char *why;
    assert_int_equal(ccm_watch_output_open(spec, &o, &why), 0);
    ccm_watch_record_t r = {7, "claim.ready", "C01/1042/2026-11/CCM#v1", "json", "{\"a\":1}\n", 8};
    assert_int_equal(ccm_watch_output_deliver(o, &r), 0);
    char got[256];
    snprintf(got, sizeof got, "%s/got", tmpl);
    assert_string_equal(slurp(got), "7 claim.ready C01/1042/2026-11/CCM#v1\n{\"a\":1}\n");
    ccm_watch_output_destroy(&o);

    assert_int_equal(ccm_watch_output_open("exec:cat >/dev/null; exit 3", &o, &why), 0);
    assert_int_equal(ccm_watch_output_deliver(o, &r), CCM_EAGAIN);
    ccm_watch_output_destroy(&o);
    /* a command that ignores its input still decides by its exit status */
    assert_int_equal(ccm_watch_output_open("exec:true", &o, &why), 0);
    assert_int_equal(ccm_watch_output_deliver(o, &r), 0);
    ccm_watch_output_destroy(&o);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_specs_are_refused(void **state)
{
    (void)state;
    ccm_watch_output_t *o;
    const char *why;
    assert_int_equal(ccm_watch_output_open("file:/tmp/x", &o, &why), CCM_EINVAL);
    assert_null(o);
    assert_int_equal(ccm_watch_output_open("dir:", &o, &why), CCM_EINVAL);
    assert_int_equal(ccm_watch_output_open("exec:", &o, &why), CCM_EINVAL);
    assert_int_equal(ccm_watch_output_open("stdout", &o, &why), 0);
    assert_true(ccm_watch_output_is_stdout(o));
    ccm_watch_output_destroy(&o);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_output_is_one_file_per_event_rewritten_on_redelivery),
        cmocka_unit_test(test_exec_gets_record_and_env_and_failure_means_again),
        cmocka_unit_test(test_bad_specs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
