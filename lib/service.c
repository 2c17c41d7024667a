/* service — shared main() of the service daemons (see service.h). The only
 * global is the stop flag the signal handler sets. */
#include "ccm/service.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/auth.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

volatile sig_atomic_t *ccm_service_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &s_stop;
}

static void s_usage(FILE *f, const char *name)
{
    fprintf(f,
            "usage: ccm-%s [--config FILE] [--broker ENDPOINT] [--doorbell ENDPOINT]\n"
            "       %*s [--data DIR] [--key FILE.key --broker-key FILE.pub]\n"
            "       %*s [--log-level debug|info|warn|error]\n"
            "Runs the %s service as a 7/MDP worker of the broker. Settings: section [%s]\n"
            "of FILE (see deploy/ccm.conf), overridden by the flags. With --key (a\n"
            "service:%s key made by `ccmctl keygen`) and --broker-key (the broker's .pub)\n"
            "every connection is CURVE; without them endpoints must be loopback.\n",
            name, (int)strlen(name), "", (int)strlen(name), "", name, name, name);
}

int ccm_service_main(int argc, char **argv, const ccm_service_def_t *def)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"broker", required_argument, 0, 'b'},
                                         {"doorbell", required_argument, 0, 'd'},
                                         {"data", required_argument, 0, 'D'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"broker-key", required_argument, 0, 'K'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *config = NULL, *broker = NULL, *doorbell = NULL, *data = NULL, *level = NULL;
    const char *key = NULL, *broker_key = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:b:d:D:l:k:K:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'K': broker_key = optarg; break;
        case 'c': config = optarg; break;
        case 'b': broker = optarg; break;
        case 'd': doorbell = optarg; break;
        case 'D': data = optarg; break;
        case 'l': level = optarg; break;
        case 'h': s_usage(stdout, def->name); return 0;
        default: s_usage(stderr, def->name); return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr, def->name);
        return 2;
    }
    ccm_log_init(def->name, CCM_LOG_INFO);

    ccm_config_t *cfg = NULL;
    char err[512];
    if (config) {
        if (ccm_config_load(config, &cfg, err, sizeof err) != 0) {
            ccm_error("event=config_error error=\"%s\"", err);
            return 1;
        }
    } else if (!(cfg = ccm_config_new())) {
        return 1;
    }
    const char *sec = def->name;
    if ((broker && ccm_config_set(cfg, sec, "broker", broker)) ||
        (doorbell && ccm_config_set(cfg, sec, "doorbell", doorbell)) ||
        (data && ccm_config_set(cfg, sec, "data", data)) ||
        (level && ccm_config_set(cfg, sec, "log_level", level)) ||
        (key && ccm_config_set(cfg, sec, "key", key)) ||
        (broker_key && ccm_config_set(cfg, sec, "broker_key", broker_key))) {
        ccm_config_destroy(&cfg);
        return 1;
    }
    int lv = ccm_log_level_parse(ccm_config_get(cfg, sec, "log_level", "info"));
    if (lv < 0) {
        fprintf(stderr, "ccm-%s: log_level must be debug, info, warn or error\n", def->name);
        ccm_config_destroy(&cfg);
        return 2;
    }
    ccm_log_init(def->name, lv);

    char data_default[128];
    snprintf(data_default, sizeof data_default, "var/%s", def->name);
    long long batch_max = 0, maxmsg = 0;
    if (ccm_config_get_int(cfg, sec, "batch_max", 256, &batch_max) != 0 || batch_max < 1 ||
        batch_max > 100000 ||
        ccm_config_get_int(cfg, sec, "max_msg_size", CCM_MAXMSGSIZE, &maxmsg) != 0 ||
        maxmsg < 4096) {
        ccm_error("event=config_error section=%s error=\"batch_max must be 1-100000 and "
                  "max_msg_size at least 4096\"",
                  sec);
        ccm_config_destroy(&cfg);
        return 1;
    }
    const char *broker_ep = ccm_config_get(cfg, sec, "broker", "tcp://127.0.0.1:7710");
    const char *doorbell_ep = ccm_config_get(cfg, sec, "doorbell", "tcp://127.0.0.1:7711");
    const char *subscribe_ep = ccm_config_get(cfg, sec, "subscribe", "tcp://127.0.0.1:7712");
    const char *key_path = ccm_config_get(cfg, sec, "key", "");
    const char *broker_key_path = ccm_config_get(cfg, sec, "broker_key", "");
    ccm_auth_curve_t curve;
    bool keys = key_path[0] || broker_key_path[0];
    if (keys && ccm_auth_curve_load(key_path, broker_key_path, &curve, err, sizeof err) != 0) {
        ccm_error("event=key_refused section=%s error=\"%s\"", sec, err);
        ccm_config_destroy(&cfg);
        return 1;
    }
    char who[3][CCM_SERVICE_MAX + 16];
    snprintf(who[0], sizeof who[0], "[%s] broker", sec);
    snprintf(who[1], sizeof who[1], "[%s] doorbell", sec);
    snprintf(who[2], sizeof who[2], "[%s] subscribe", sec);
    if (ccm_auth_endpoint_check(broker_ep, keys, who[0]) != 0 ||
        (doorbell_ep[0] && ccm_auth_endpoint_check(doorbell_ep, keys, who[1]) != 0) ||
        (subscribe_ep[0] && ccm_auth_endpoint_check(subscribe_ep, keys, who[2]) != 0)) {
        ccm_config_destroy(&cfg);
        return 1;
    }

    int code = 1;
    ccm_worker_t *w = NULL;
    void *ctx = def->create(cfg);
    if (!ctx)
        goto out;
    ccm_worker_opts_t wo = {.service = def->name,
                            .broker = broker_ep,
                            .doorbell = doorbell_ep[0] ? doorbell_ep : NULL,
                            .subscribe = subscribe_ep[0] ? subscribe_ep : NULL,
                            .data_dir = ccm_config_get(cfg, sec, "data", data_default),
                            .dbs = def->dbs,
                            .schema_version = def->schema_version,
                            .batch_max = (size_t)batch_max,
                            .maxmsgsize = maxmsg,
                            .handle = def->handle,
                            .ctx = ctx,
                            .curve = keys ? &curve : NULL};
    int rc = ccm_worker_new(&wo, &w);
    if (rc != 0) {
        ccm_error("event=start_failed data=%s error=\"%s\"", wo.data_dir, ccm_strerror(rc));
        goto out;
    }
    if (def->bind(ctx, w) != 0)
        goto out;

    volatile sig_atomic_t *stop = ccm_service_stop_on_signals();
    ccm_info("event=start broker=%s data=%s batch_max=%lld auth=%s", broker_ep, wo.data_dir,
             batch_max, keys ? "curve" : "none");
    code = ccm_worker_run(w, stop) == 0 ? 0 : 1;
out:
    explicit_bzero(&curve, sizeof curve);
    ccm_worker_destroy(&w);
    if (ctx)
        def->destroy(ctx);
    ccm_config_destroy(&cfg);
    return code;
}
