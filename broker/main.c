/* ccm-broker — flags, configuration, signals; the broker itself is broker.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/service.h"
#include "ccm/wire.h"

static void s_usage(FILE *f)
{
    fputs("usage: ccm-broker [--config FILE] [--endpoint EP] [--doorbell-in EP]\n"
          "                  [--doorbell-out EP] [--log-level debug|info|warn|error]\n"
          "Routes 7/MDP requests between ccm clients and services, answers mmi.service,\n"
          "and forwards doorbells. Settings: section [broker] of FILE (deploy/ccm.conf),\n"
          "overridden by the flags.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {"doorbell-in", required_argument, 0, 'i'},
                                         {"doorbell-out", required_argument, 0, 'o'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *config = NULL, *flag[4] = {NULL, NULL, NULL, NULL};
    static const char *const keys[4] = {"endpoint", "doorbell_in", "doorbell_out", "log_level"};
    int c;
    while ((c = getopt_long(argc, argv, "c:e:i:o:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'e': flag[0] = optarg; break;
        case 'i': flag[1] = optarg; break;
        case 'o': flag[2] = optarg; break;
        case 'l': flag[3] = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }
    ccm_log_init("broker", CCM_LOG_INFO);
    ccm_config_t *cfg = NULL;
    char err[512];
    if (config ? ccm_config_load(config, &cfg, err, sizeof err) != 0 : !(cfg = ccm_config_new())) {
        ccm_error("event=config_error error=\"%s\"", config ? err : "out of memory");
        return 1;
    }
    for (int i = 0; i < 4; i++)
        if (flag[i] && ccm_config_set(cfg, "broker", keys[i], flag[i]) != 0)
            return 1;
    int level = ccm_log_level_parse(ccm_config_get(cfg, "broker", "log_level", "info"));
    long long maxmsg;
    if (level < 0 ||
        ccm_config_get_int(cfg, "broker", "max_msg_size", CCM_MAXMSGSIZE, &maxmsg) != 0 ||
        maxmsg < 4096) {
        fprintf(stderr, "ccm-broker: log_level must be debug|info|warn|error and max_msg_size "
                        "a size of at least 4096 bytes\n");
        ccm_config_destroy(&cfg);
        return 2;
    }
    ccm_log_init("broker", level);
    ccm_broker_opts_t o = {
        .endpoint = ccm_config_get(cfg, "broker", "endpoint", "tcp://127.0.0.1:7710"),
        .doorbell_in = ccm_config_get(cfg, "broker", "doorbell_in", "tcp://127.0.0.1:7711"),
        .doorbell_out = ccm_config_get(cfg, "broker", "doorbell_out", "tcp://127.0.0.1:7712"),
        .maxmsgsize = maxmsg};
    ccm_broker_t *b = NULL;
    int rc = ccm_broker_new(&o, &b);
    if (rc != 0) {
        ccm_error("event=start_failed error=\"%s\"", ccm_strerror(rc));
        ccm_config_destroy(&cfg);
        return 1;
    }
    volatile sig_atomic_t *stop = ccm_service_stop_on_signals();
    ccm_info(
        "event=start endpoint=%s doorbell_in=%s doorbell_out=%s max_msg_size=%lld principal=dev",
        o.endpoint, o.doorbell_in, o.doorbell_out, maxmsg);
    rc = ccm_broker_run(b, stop);
    ccm_info("event=stopped");
    ccm_broker_destroy(&b);
    ccm_config_destroy(&cfg);
    return rc == 0 ? 0 : 1;
}
