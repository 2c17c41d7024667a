/* auth: key files round-trip (ours and czmq's zcert read each other's), a
 * secret key open to group or others is refused, principals and roles, the
 * allow list (bad certificates left out, duplicates refused, digest changes),
 * and the ZAP handler admitting exactly the listed keys over real CURVE sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ccm/auth.h"
#include "ccm/client.h"
#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

static char s_dir[256];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/ccm-test-auth-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void s_path(char *out, size_t len, const char *sub, const char *file)
{
    snprintf(out, len, "%s/%s/%s", s_dir, sub, file);
}

static void test_keygen_round_trip_and_czmq_reads_it(void **state)
{
    (void)state;
    char dir[300], key[400], pub[400], err[512];
    snprintf(dir, sizeof dir, "%s/rt", s_dir);
    ccm_auth_cert_t made;
    assert_int_equal(
        ccm_auth_keygen(dir, "alice", "coordinator", "C01,C02", &made, err, sizeof err), 0);
    s_path(key, sizeof key, "rt", "alice.key");
    s_path(pub, sizeof pub, "rt", "alice.pub");
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);

    ccm_auth_cert_t s, p;
    assert_int_equal(ccm_auth_load_secret(key, &s, err, sizeof err), 0);
    assert_int_equal(ccm_auth_load_public(pub, &p, err, sizeof err), 0);
    assert_string_equal(s.public_key, made.public_key);
    assert_string_equal(s.secret_key, made.secret_key);
    assert_string_equal(p.public_key, made.public_key);
    assert_string_equal(p.secret_key, "");
    assert_string_equal(p.role, "coordinator");
    assert_string_equal(p.clinics, "C01,C02");
    assert_string_equal(p.name, "alice");
    /* a .pub is no secret key */
    assert_int_equal(chmod(pub, 0600), 0);
    assert_int_equal(ccm_auth_load_secret(pub, &s, err, sizeof err), CCM_EINVAL);
    assert_non_null(strstr(err, "secret-key"));
    assert_int_equal(chmod(pub, 0644), 0);

    /* czmq's own reader sees the same keys and metadata */
    zcert_t *zc = zcert_load(key);
    assert_non_null(zc);
    assert_string_equal(zcert_public_txt(zc), made.public_key);
    assert_string_equal(zcert_secret_txt(zc), made.secret_key);
    assert_string_equal(zcert_meta(zc, "role"), "coordinator");
    assert_string_equal(zcert_meta(zc, "clinics"), "C01,C02");
    zcert_destroy(&zc);
    zc = zcert_load(pub);
    assert_non_null(zc);
    assert_string_equal(zcert_public_txt(zc), made.public_key);
    zcert_destroy(&zc);

    /* and ours reads what czmq's zcert writes */
    zc = zcert_new();
    zcert_set_meta(zc, "role", "service:billing");
    char zpub[400], zsec[400];
    s_path(zpub, sizeof zpub, "rt", "billing.pub");
    s_path(zsec, sizeof zsec, "rt", "billing.key");
    assert_int_equal(zcert_save_public(zc, zpub), 0);
    assert_int_equal(zcert_save_secret(zc, zsec), 0);
    assert_int_equal(chmod(zsec, 0600), 0);
    assert_int_equal(ccm_auth_load_public(zpub, &p, err, sizeof err), 0);
    assert_string_equal(p.public_key, zcert_public_txt(zc));
    assert_string_equal(p.role, "service:billing");
    assert_string_equal(p.clinics, "*");
    assert_int_equal(ccm_auth_load_secret(zsec, &s, err, sizeof err), 0);
    assert_string_equal(s.secret_key, zcert_secret_txt(zc));
    zcert_destroy(&zc);

    /* never overwrites */
    assert_int_equal(ccm_auth_keygen(dir, "alice", "admin", NULL, NULL, err, sizeof err),
                     CCM_EEXIST);
    assert_int_equal(ccm_auth_load_public(pub, &p, err, sizeof err), 0);
    assert_string_equal(p.role, "coordinator");
}

static void test_loose_permissions_refused(void **state)
{
    (void)state;
    char dir[300], key[400], err[512];
    snprintf(dir, sizeof dir, "%s/perm", s_dir);
    assert_int_equal(ccm_auth_keygen(dir, "bob", "admin", NULL, NULL, err, sizeof err), 0);
    s_path(key, sizeof key, "perm", "bob.key");
    ccm_auth_cert_t c;
    static const mode_t loose[] = {0640, 0604, 0644, 0660, 0601, 0610};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        assert_int_equal(chmod(key, loose[i]), 0);
        assert_int_equal(ccm_auth_load_secret(key, &c, err, sizeof err), CCM_EINVAL);
        assert_non_null(strstr(err, "chmod 600"));
        assert_non_null(strstr(err, key));
    }
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(ccm_auth_load_secret(key, &c, err, sizeof err), 0);
    assert_int_equal(ccm_auth_load_secret("/nonexistent/x.key", &c, err, sizeof err),
                     CCM_ENOTFOUND);
}

static void s_write(const char *sub, const char *file, const char *text, mode_t mode)
{
    char path[400];
    s_path(path, sizeof path, sub, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_bad_key_files_refused(void **state)
{
    (void)state;
    char dir[300], path[400], err[512];
    snprintf(dir, sizeof dir, "%s/bad", s_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    ccm_auth_cert_t c;
    struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"not a certificate at all {", "certificate"},
        {"curve\n    public-key = \"short\"\n", "public-key"},
        {"metadata\n    role = \"root\"\ncurve\n    public-key = "
         "\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n",
         "role"},
        {"metadata\n    role = \"admin\"\n    clinics = \"C01;DROP\"\ncurve\n    public-key = "
         "\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n",
         "clinics"},
        {NULL, "does not belong"}, /* filled below: two key pairs mixed */
    };
    char pub1[41], sec1[41], pub2[41], sec2[41], mixed[256];
    assert_int_equal(zmq_curve_keypair(pub1, sec1), 0);
    assert_int_equal(zmq_curve_keypair(pub2, sec2), 0);
    snprintf(mixed, sizeof mixed, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", pub1,
             sec2);
    cases[4].text = mixed;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write("bad", "x.key", cases[i].text, 0600);
        s_path(path, sizeof path, "bad", "x.key");
        assert_int_equal(ccm_auth_load_secret(path, &c, err, sizeof err), CCM_EINVAL);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].why);
    }
    assert_int_equal(ccm_auth_keygen(dir, "../evil", "admin", NULL, NULL, err, sizeof err),
                     CCM_EINVAL);
    assert_int_equal(ccm_auth_keygen(dir, "x", "superuser", NULL, NULL, err, sizeof err),
                     CCM_EINVAL);
    assert_int_equal(ccm_auth_keygen(dir, "x", "coordinator", "C01,,C02", NULL, err, sizeof err),
                     CCM_EINVAL);
}

static void test_principal_and_roles(void **state)
{
    (void)state;
    assert_true(ccm_auth_role_valid("admin"));
    assert_true(ccm_auth_role_valid("watcher"));
    assert_true(ccm_auth_role_valid("service:enrollment"));
    assert_false(ccm_auth_role_valid("service:"));
    assert_false(ccm_auth_role_valid("service:a b"));
    assert_false(ccm_auth_role_valid("Admin"));
    assert_false(ccm_auth_role_valid(""));
    ccm_auth_cert_t c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, "alice");
    strcpy(c.role, "coordinator");
    strcpy(c.clinics, "C01,C02");
    char p[CCM_PRINCIPAL_MAX + 1];
    assert_int_equal(ccm_auth_principal(&c, p, sizeof p), 0);
    assert_string_equal(p, "coordinator:C01,C02:alice");
    strcpy(c.role, "service:timetrack");
    strcpy(c.clinics, "*");
    strcpy(c.name, "timetrack");
    assert_int_equal(ccm_auth_principal(&c, p, sizeof p), 0);
    assert_string_equal(p, "service:timetrack:*:timetrack");
    c.role[0] = '\0';
    assert_int_equal(ccm_auth_principal(&c, p, sizeof p), CCM_EINVAL);
    /* and back into its parts */
    ccm_auth_principal_t pp;
    assert_int_equal(ccm_auth_principal_parse("service:timetrack:*:timetrack", &pp), 0);
    assert_string_equal(pp.role, "service:timetrack");
    assert_string_equal(pp.clinics, "*");
    assert_string_equal(pp.name, "timetrack");
    assert_true(ccm_auth_principal_in_clinic(&pp, "C09"));
    assert_int_equal(ccm_auth_principal_parse("coordinator:C01,C02:alice", &pp), 0);
    assert_string_equal(pp.role, "coordinator");
    assert_true(ccm_auth_principal_in_clinic(&pp, "C02"));
    assert_false(ccm_auth_principal_in_clinic(&pp, "C0"));
    assert_false(ccm_auth_principal_in_clinic(&pp, "C03"));
    assert_int_equal(ccm_auth_principal_parse("dev", &pp), 0);
    assert_string_equal(pp.role, "dev");
    assert_true(ccm_auth_principal_in_clinic(&pp, "C01"));
    static const char *const bad[] = {"",         "admin",    "admin:*",         "root:*:x",
                                      "admin::x", "admin:*:", "admin:C01;C02:x", "service::*:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ccm_auth_principal_parse(bad[i], &pp) != CCM_EINVAL)
            fail_msg("\"%s\" parsed as a principal", bad[i]);
    /* endpoints: without keys only loopback */
    assert_int_equal(ccm_auth_endpoint_check("tcp://127.0.0.1:1", false, "t"), 0);
    assert_int_equal(ccm_auth_endpoint_check("tcp://0.0.0.0:1", false, "t"), CCM_EINVAL);
    assert_int_equal(ccm_auth_endpoint_check("tcp://0.0.0.0:1", true, "t"), 0);
}

static void test_allow_list(void **state)
{
    (void)state;
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/allow", s_dir);
    ccm_auth_cert_t a, b, s;
    assert_int_equal(ccm_auth_keygen(dir, "a", "admin", NULL, &a, err, sizeof err), 0);
    assert_int_equal(ccm_auth_keygen(dir, "b", "telephony", "C02", &b, err, sizeof err), 0);
    assert_int_equal(ccm_auth_keygen(dir, "enr", "service:enrollment", NULL, &s, err, sizeof err),
                     0);
    assert_int_equal(ccm_auth_keygen(dir, "norole", NULL, NULL, NULL, err, sizeof err), 0);
    s_write("allow", "junk.pub", "garbage", 0644);
    uint64_t d1 = ccm_auth_allow_digest(dir);
    assert_int_not_equal(d1, 0);
    ccm_auth_allow_t *al;
    assert_int_equal(ccm_auth_allow_load(dir, &al), 0);
    assert_int_equal(ccm_auth_allow_size(al), 3); /* no role, junk: left out */
    const ccm_auth_entry_t *e = ccm_auth_allow_find(al, b.public_key);
    assert_non_null(e);
    assert_string_equal(e->principal, "telephony:C02:b");
    assert_string_equal(e->service, "");
    e = ccm_auth_allow_find(al, s.public_key);
    assert_non_null(e);
    assert_string_equal(e->principal, "service:enrollment:*:enr");
    assert_string_equal(e->service, "enrollment");
    assert_non_null(ccm_auth_allow_find(al, a.public_key));
    assert_null(ccm_auth_allow_find(al, "not a key"));
    ccm_auth_allow_destroy(&al);
    ccm_auth_allow_destroy(&al);

    /* the same public key under two names: neither is admitted */
    char src[400], dst[400], cmd[900];
    s_path(src, sizeof src, "allow", "b.pub");
    s_path(dst, sizeof dst, "allow", "b2.pub");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
    assert_int_equal(system(cmd), 0);
    uint64_t d2 = ccm_auth_allow_digest(dir);
    assert_true(d2 != d1);
    assert_int_equal(ccm_auth_allow_load(dir, &al), 0);
    assert_null(ccm_auth_allow_find(al, b.public_key));
    assert_int_equal(ccm_auth_allow_size(al), 2);
    ccm_auth_allow_destroy(&al);
    unlink(dst);
    assert_int_equal(ccm_auth_allow_digest(dir), d1);
    assert_int_equal(ccm_auth_allow_load("/nonexistent/allow", &al), CCM_EIO);
}

/* Connects a CURVE DEALER with curve to ep and says whether an echo gets through. */
static bool s_connects(void *ctx, void *server, const char *ep, const ccm_auth_curve_t *curve,
                       ccm_auth_zap_t *zap, const ccm_auth_allow_t *allow, char *user_id)
{
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(ccm_auth_curve_client(c, curve), 0);
    assert_int_equal(zmq_connect(c, ep), 0);
    zmq_send(c, "hi", 2, ZMQ_DONTWAIT);
    bool got = false;
    ccm_frames_t *m = ccm_frames_new();
    for (int i = 0; i < 100 && !got; i++) { /* 2 s at most */
        zmq_pollitem_t pi[2] = {{ccm_auth_zap_socket(zap), 0, ZMQ_POLLIN, 0},
                                {server, 0, ZMQ_POLLIN, 0}};
        zmq_poll(pi, 2, 20);
        if (pi[0].revents & ZMQ_POLLIN)
            ccm_auth_zap_handle(zap, allow);
        if ((pi[1].revents & ZMQ_POLLIN) && ccm_frames_recv(m, server, ZMQ_DONTWAIT) == 0) {
            const char *uid = ccm_frames_meta(m, 1, "User-Id");
            strcpy(user_id, uid ? uid : "");
            got = true;
        }
    }
    ccm_frames_destroy(&m);
    zmq_close(c);
    return got;
}

static void test_zap_admits_listed_keys_only(void **state)
{
    (void)state;
    char dir[300], allowdir[300], err[512], path[400], bpath[400];
    snprintf(dir, sizeof dir, "%s/zap", s_dir);
    snprintf(allowdir, sizeof allowdir, "%s/zap/allow", s_dir);
    ccm_auth_cert_t broker, in, out;
    assert_int_equal(ccm_auth_keygen(dir, "broker", NULL, NULL, &broker, err, sizeof err), 0);
    assert_int_equal(ccm_auth_keygen(allowdir, "in", "watcher", NULL, &in, err, sizeof err), 0);
    assert_int_equal(ccm_auth_keygen(dir, "out", "watcher", NULL, &out, err, sizeof err), 0);
    ccm_auth_allow_t *allow;
    assert_int_equal(ccm_auth_allow_load(allowdir, &allow), 0);

    void *ctx = zmq_ctx_new();
    ccm_auth_zap_t *zap;
    assert_int_equal(ccm_auth_zap_new(ctx, &zap), 0);
    ccm_auth_zap_t *second; /* one handler per context */
    assert_int_equal(ccm_auth_zap_new(ctx, &second), CCM_EIO);
    void *server = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(server, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(ccm_auth_curve_server(server, &broker), 0);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t eplen = sizeof ep;
    zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &eplen);

    ccm_auth_curve_t curve;
    s_path(path, sizeof path, "zap/allow", "in.key");
    s_path(bpath, sizeof bpath, "zap", "broker.pub");
    assert_int_equal(ccm_auth_curve_load(path, bpath, &curve, err, sizeof err), 0);
    char uid[64];
    assert_true(s_connects(ctx, server, ep, &curve, zap, allow, uid));
    assert_string_equal(uid, in.public_key); /* User-Id = the client's public key */

    s_path(path, sizeof path, "zap", "out.key");
    assert_int_equal(ccm_auth_curve_load(path, bpath, &curve, err, sizeof err), 0);
    assert_false(s_connects(ctx, server, ep, &curve, zap, allow, uid));

    /* an empty list admits nobody */
    ccm_auth_allow_t *none = ccm_auth_allow_new();
    s_path(path, sizeof path, "zap/allow", "in.key");
    assert_int_equal(ccm_auth_curve_load(path, bpath, &curve, err, sizeof err), 0);
    assert_false(s_connects(ctx, server, ep, &curve, zap, none, uid));
    ccm_auth_allow_destroy(&none);

    /* a client configured from a program's section: keys there, or refused */
    ccm_config_t *cfg = ccm_config_new();
    s_path(path, sizeof path, "zap/allow", "in.key");
    ccm_config_set(cfg, "watch", "key", path);
    ccm_config_set(cfg, "watch", "broker_key", bpath);
    ccm_client_t *cl = ccm_client_new_config("tcp://0.0.0.0:1", cfg, "watch");
    assert_non_null(cl); /* keys: a non-loopback endpoint is allowed */
    ccm_client_destroy(&cl);
    ccm_config_set(cfg, "watch", "broker_key", "/nonexistent/broker.pub");
    assert_null(ccm_client_new_config("tcp://127.0.0.1:1", cfg, "watch"));
    assert_null(ccm_client_new_config("tcp://0.0.0.0:1", cfg, "cdr")); /* no keys there */
    ccm_config_destroy(&cfg);

    zmq_close(server);
    ccm_auth_zap_destroy(&zap);
    zmq_ctx_term(ctx);
    ccm_auth_allow_destroy(&allow);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_round_trip_and_czmq_reads_it),
        cmocka_unit_test(test_loose_permissions_refused),
        cmocka_unit_test(test_bad_key_files_refused),
        cmocka_unit_test(test_principal_and_roles),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_zap_admits_listed_keys_only),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
