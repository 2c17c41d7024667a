/* ccm-broker — flags, configuration, signals; the broker itself is broker.c.
 * SIGHUP re-reads the allow directory of the admitted keys at once.
 * Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 could not start or a fatal
 * socket error (logged), 2 usage or a bad setting. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

/* The process's only globals: set by the signal handler, read by the poll loop. */
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_signal;
static volatile sig_atomic_t s_reload;

static void s_on_signal(int sig)
{
    s_signal = sig;
    s_stop = 1;
}

static void s_on_hup(int sig)
{
    (void)sig;
    s_reload = 1;
}

static void s_usage(FILE *f)
{
    fputs("usage: ccm-broker [--config FILE] [--endpoint EP] [--doorbell-in EP]\n"
          "                  [--doorbell-out EP] [--key FILE.key --allow DIR]\n"
          "                  [--log-level debug|info|warn|error] [--help]\n"
          "Routes 7/MDP requests between ccm clients and services, answers 8/MMI\n"
          "mmi.service, and forwards doorbells (XSUB doorbell-in -> XPUB doorbell-out).\n"
          "Settings: section [broker] of FILE (keys endpoint, doorbell_in, doorbell_out,\n"
          "key, allow, max_msg_size, log_level; see deploy/ccm.conf), overridden by the\n"
          "flags. Defaults: tcp://127.0.0.1:7710, :7711, :7712, 1M, info. An empty\n"
          "doorbell endpoint disables doorbell forwarding.\n"
          "With --key (the broker's key pair) and --allow (a directory of the .pub\n"
          "certificates of every admitted key, made by `ccmctl keygen`), every socket is\n"
          "CURVE and only admitted keys connect; the directory is re-read when it\n"
          "changes and on SIGHUP. Without keys every endpoint must be loopback\n"
          "(tcp://127.0.0.1:PORT, tcp://[::1]:PORT, ipc://). See docs/security.md.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {"doorbell-in", required_argument, 0, 'i'},
                                         {"doorbell-out", required_argument, 0, 'o'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"key", required_argument, 0, 'k'},
                                         {"allow", required_argument, 0, 'a'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    static const char *const keys[6] = {"endpoint",  "doorbell_in", "doorbell_out",
                                        "log_level", "key",         "allow"};
    const char *config = NULL, *flag[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    int c;
    while ((c = getopt_long(argc, argv, "c:e:i:o:l:k:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'e': flag[0] = optarg; break;
        case 'i': flag[1] = optarg; break;
        case 'o': flag[2] = optarg; break;
        case 'l': flag[3] = optarg; break;
        case 'k': flag[4] = optarg; break;
        case 'a': flag[5] = optarg; break;
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
    int rc = config                     ? ccm_config_load(config, &cfg, err, sizeof err)
             : (cfg = ccm_config_new()) ? 0
                                        : CCM_ENOMEM;
    if (rc != 0) {
        if (rc == CCM_ENOTFOUND)
            snprintf(err, sizeof err, "%s: no such file", config);
        ccm_error("event=config_error error=\"%s\"", rc == CCM_ENOMEM ? "out of memory" : err);
        return 2;
    }
    int code = 2;
    for (int i = 0; i < 6; i++)
        if (flag[i] && ccm_config_set(cfg, "broker", keys[i], flag[i]) != 0)
            goto out;
    int level = ccm_log_level_parse(ccm_config_get(cfg, "broker", "log_level", "info"));
    long long maxmsg;
    if (level < 0) {
        ccm_error("event=config_error key=log_level error=\"must be debug, info, warn or "
                  "error\"");
        goto out;
    }
    if (ccm_config_get_int(cfg, "broker", "max_msg_size", CCM_MAXMSGSIZE, &maxmsg) != 0 ||
        maxmsg < 4096) {
        ccm_error("event=config_error key=max_msg_size error=\"must be a size of at least 4096 "
                  "bytes (k/M suffixes allowed)\"");
        goto out;
    }
    ccm_log_init("broker", level);
    const char *in = ccm_config_get(cfg, "broker", "doorbell_in", "tcp://127.0.0.1:7711");
    const char *out = ccm_config_get(cfg, "broker", "doorbell_out", "tcp://127.0.0.1:7712");
    ccm_broker_opts_t o = {.endpoint =
                               ccm_config_get(cfg, "broker", "endpoint", "tcp://127.0.0.1:7710"),
                           .doorbell_in = *in ? in : NULL,
                           .doorbell_out = *out ? out : NULL,
                           .maxmsgsize = maxmsg,
                           .key = ccm_config_get(cfg, "broker", "key", NULL),
                           .allow = ccm_config_get(cfg, "broker", "allow", NULL)};

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll returns EINTR at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);

    ccm_broker_t *b = NULL;
    code = 1;
    if ((rc = ccm_broker_new(&o, &b)) != 0) {
        ccm_error("event=start_failed error=\"%s\"", ccm_strerror(rc));
        goto out;
    }
    if (o.key && o.key[0])
        ccm_info("event=start endpoint=%s doorbell_in=%s doorbell_out=%s max_msg_size=%lld "
                 "heartbeat_ms=%d liveness=%d auth=curve allow=%s keys=%zu",
                 o.endpoint, o.doorbell_in ? o.doorbell_in : "-",
                 o.doorbell_out ? o.doorbell_out : "-", maxmsg, CCM_HEARTBEAT_MS,
                 CCM_HEARTBEAT_LIVENESS, o.allow, ccm_broker_keys(b));
    else
        ccm_info("event=start endpoint=%s doorbell_in=%s doorbell_out=%s max_msg_size=%lld "
                 "heartbeat_ms=%d liveness=%d auth=none principal=dev",
                 o.endpoint, o.doorbell_in ? o.doorbell_in : "-",
                 o.doorbell_out ? o.doorbell_out : "-", maxmsg, CCM_HEARTBEAT_MS,
                 CCM_HEARTBEAT_LIVENESS);
    rc = ccm_broker_run(b, &s_stop, &s_reload);
    ccm_broker_destroy(&b);
    code = rc == 0 ? 0 : 1;
    ccm_info("event=stopped signal=%s exit=%d",
             s_signal == SIGTERM  ? "TERM"
             : s_signal == SIGINT ? "INT"
                                  : "-",
             code);
out:
    ccm_config_destroy(&cfg);
    return code;
}
