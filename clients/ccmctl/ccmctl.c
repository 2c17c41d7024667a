/* ccmctl — the command-line client for people and scripts: global flags, the
 * command table, and the request/reply plumbing every command shares. */
#include "ccmctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ccm/auth.h"
#include "ccm/client.h"
#include "ccm/error.h"
#include "ccm/log.h"
#ifdef CCMCTL_HAVE_EVALUATE
#include "cmd_evaluate.h"
#endif

static const char s_usage_text[] =
    "usage: ccmctl [--broker ENDPOINT] [--config FILE] [--timeout MS] [--retries N] [--json]\n"
    "              [--key FILE.key --broker-key FILE.pub] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  ping                                  is the broker up, which services answer\n"
    "  status                                each service's statistics\n"
    "  practitioner add --clinic C --npi NPI --role PHYSICIAN|NP|PA|CNS|CNM\n"
    "                   --family NAME --given NAME [--credentials MD]\n"
    "  staff add --clinic C --id ID --role CLINICAL_STAFF|NON_CLINICAL --name NAME\n"
    "            [--credentials RN] [--outside-us]\n"
    "  people list --clinic C                practitioners and staff\n"
    "  patient add --clinic C --mrn M --mbi MBI --family NAME --given NAME --birth-date D\n"
    "              [--billing-npi NPI] [--qmb [yes|no]]\n"
    "              [--payer MEDICARE_B|MEDICARE_ADVANTAGE|...]\n"
    "  patient show --clinic C --mrn M       current facts and their history\n"
    "  patient list --clinic C [--after MRN] [--max N]\n"
    "  patient set-billing --clinic C --mrn M --npi NPI [--from WHEN]\n"
    "                                        the first one since before any month, a change\n"
    "                                        from now or WHEN; ends the old one's consents\n"
    "  patient death --clinic C --mrn M --date D [--at RFC3339]\n"
    "  patient payer --clinic C --mrn M --payer MEDICARE_B|MEDICARE_ADVANTAGE|MEDICAID|\n"
    "                COMMERCIAL|OTHER [--from WHEN] [--qmb yes|no]\n"
    "                                        only Medicare Part B FFS months bill\n"
    "  patient complexity --clinic C --mrn M --month YYYY-MM [--withdraw]\n"
    "                                        the practitioner attests complex CCM that month\n"
    "  condition add --clinic C --mrn M --icd10 CODE [--description TEXT]\n"
    "                [--expected-months N | --until-death] [--high-risk] [--acute]\n"
    "                [--from WHEN]           new: since before any month; again: from now\n"
    "  condition resolve --clinic C --mrn M --icd10 CODE [--at WHEN]\n"
    "  consent record --clinic C --mrn M --program CCM|PCM|APCM --method VERBAL|WRITTEN\n"
    "                 --staff ID --billing-npi NPI\n"
    "                 --disclosed cost-sharing,one-practitioner,right-to-stop\n"
    "                 [--at WHEN] [--share-electronically]\n"
    "  consent revoke --clinic C --mrn M --program P [--at WHEN]\n"
    "  visit add --clinic C --mrn M --code CODE --date D --npi NPI [--g0506] [--telehealth]\n"
    "  service add --clinic C --mrn M --code CODE --month YYYY-MM --npi NPI\n"
    "                                        another service billed (hospice, ESRD, TCM, ...)\n"
    "  inpatient add --clinic C --mrn M --from RFC3339 [--to RFC3339] [--facility TEXT]\n"
    "  worklist --clinic C                   patients who need enrollment work\n"
    "  careplan set --clinic C --mrn M [--program CCM] --file plan.json [--author A]\n"
    "               [--substantial] [--note TEXT]\n"
    "  careplan show|history|export --clinic C --mrn M [--version N] [--fhir]\n"
    "  careplan diff --clinic C --mrn M FROM TO\n"
    "  careplan establish --clinic C --mrn M [--author A] [--date D]\n"
    "  careplan copy-given --clinic C --mrn M --date D --method PAPER|PORTAL|EMAIL|MAIL|OTHER\n"
    "                      --to PATIENT|CAREGIVER\n"
    "  careplan due --clinic C                plans whose review date has passed\n"
    "  time add --clinic C --mrn M --performer ID --start RFC3339 (--minutes N | --seconds N)\n"
    "           [--activity TEXT] [--service CCM|PCM|TCM|RPM|BHI|APCM]\n"
    "           [--element]             with --service APCM: a documented element, no minutes\n"
    "           [--source MANUAL|CDR|TIMER|EHR] [--event-id ID]\n"
    "  time void --clinic C --id ENTRY --reason TEXT\n"
    "  time list --clinic C --mrn M [--month YYYY-MM]\n"
    "  month status --clinic C --mrn M [--month YYYY-MM]   minutes so far, what the next\n"
    "                                        code needs, what billing would decide\n"
    "  month forecast --clinic C [--month YYYY-MM]         patients at risk of missing it\n"
    "  month close --month YYYY-MM [--clinic C]   settle every patient-month: claims,\n"
    "                                        missed revenue with its reason, conflicts\n"
    "  claim list --clinic C [--month YYYY-MM]\n"
    "  claim show ID|KEY\n"
    "  claim ack ID --status SUBMITTED|ACCEPTED|PAID|DENIED [--note TEXT]\n"
    "  missed --clinic C [--month YYYY-MM]   months that did not bill, and why\n"
    "  report [--clinic C] [--month YYYY-MM] [--csv]   revenue by clinic and month\n"
    "  stream fetch SERVICE [--from N] [--max N] [--type T]...\n"
    "  evaluate CASE.json [--fees DIR]        decide one patient-month offline\n"
    "  keygen NAME [--role ROLE] [--clinic C]... [--dir D]   a CURVE key pair: D/NAME.key\n"
    "                                        (secret, 0600) and D/NAME.pub (for the broker's\n"
    "                                        allow directory); ROLE admin, coordinator,\n"
    "                                        telephony, billing, watcher or service:NAME\n"
    "\n"
    "Instants are RFC 3339 with an offset (2026-11-03T14:30:00-05:00); dates YYYY-MM-DD.\n"
    "WHEN is an instant, or a date meaning midnight in the clinic's time zone (its\n"
    "[clinic C] timezone in the configuration).\n"
    "Mutations take --request-id ID to make a re-run safe (default: a random id).\n"
    "Defaults come from section [client] of --config FILE (or $CCM_CONFIG), then\n"
    "$CCM_BROKER; --clinic defaults to [client] clinic or $CCM_CLINIC. CURVE keys:\n"
    "--key/--broker-key, else $CCM_KEY/$CCM_BROKER_KEY, else [client] key/broker_key.\n"
    "exit codes: 0 ok, 1 error reply, 2 usage, 3 broker or service unreachable\n";

int ccmctl_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ccmctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see ccmctl --help)\n", stderr);
    va_end(ap);
    return CCMCTL_USAGE;
}

void ccmctl_request_id(char out[33])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* Never expected on Linux; fall back to time and pid, still unique enough. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(out, 33, "%016llx%08lx%08x", (unsigned long long)ts.tv_sec,
                 (unsigned long)ts.tv_nsec, (unsigned)getpid());
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

void ccmctl_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

const char *ccmctl_time(long long us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int ccmctl_call(ccmctl_t *ctl, const char *service, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply)
{
    *reply = NULL;
    ccm_client_t *c = ccm_client_new(ctl->broker);
    if (!c) {
        fprintf(stderr, "ccmctl: cannot use broker endpoint \"%s\"\n", ctl->broker);
        return CCMCTL_UNREACHABLE;
    }
    ccm_client_set_timeout(c, ctl->timeout_ms);
    ccm_client_set_retries(c, ctl->retries);
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        ccm_client_destroy(&c);
        return CCMCTL_ERROR;
    }
    protobuf_c_message_pack(req, buf);
    void *rep = NULL;
    size_t rlen = 0;
    int rc = ccm_client_request(c, service, buf, len, &rep, &rlen);
    free(buf);
    ccm_client_destroy(&c);
    if (rc == CCM_ETIMEOUT) {
        fprintf(stderr,
                "ccmctl: no reply from service \"%s\" through broker %s after %d tries of %d ms "
                "(is `deploy/ccm up` running?)\n",
                service, ctl->broker, ctl->retries + 1, ctl->timeout_ms);
        return CCMCTL_UNREACHABLE;
    }
    if (rc != 0) {
        fprintf(stderr, "ccmctl: request to %s failed: %s\n", service, ccm_strerror(rc));
        return CCMCTL_UNREACHABLE;
    }
    *reply = protobuf_c_message_unpack(reply_desc, NULL, rlen, rep);
    free(rep);
    if (!*reply) {
        fprintf(stderr, "ccmctl: the reply of %s could not be decoded\n", service);
        return CCMCTL_ERROR;
    }
    return CCMCTL_OK;
}

int ccmctl_check(ccmctl_t *ctl, const Ccm__Status *st)
{
    if (!st || st->code == CCM__CODE__OK)
        return CCMCTL_OK;
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(&ccm__code__descriptor, (int)st->code);
    const char *name = ev ? ev->name : "UNKNOWN";
    fprintf(stderr, "ccmctl: %s: %s\n", name, st->message);
    if (ctl->json) {
        json_t *e = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", name, "message", st->message,
                              "field", st->field);
        ccmctl_print_json(e);
    }
    return CCMCTL_ERROR;
}

typedef struct {
    const char *name;
    int (*fn)(ccmctl_t *ctl, int argc, char **argv);
} command_t;

static const command_t s_commands[] = {
    {"ping", ccmctl_cmd_ping},         {"status", ccmctl_cmd_status},
    {"patient", ccmctl_cmd_patient},   {"condition", ccmctl_cmd_condition},
    {"stream", ccmctl_cmd_stream},     {"practitioner", ccmctl_cmd_practitioner},
    {"staff", ccmctl_cmd_staff},       {"people", ccmctl_cmd_people},
    {"consent", ccmctl_cmd_consent},   {"visit", ccmctl_cmd_visit},
    {"service", ccmctl_cmd_service},   {"inpatient", ccmctl_cmd_inpatient},
    {"worklist", ccmctl_cmd_worklist},
#ifdef CCMCTL_HAVE_TIMETRACK
    {"time", ccmctl_cmd_time},         {"month", ccmctl_cmd_month},
#endif
#ifdef CCMCTL_HAVE_BILLING
    {"claim", ccmctl_cmd_claim},       {"missed", ccmctl_cmd_missed},
    {"report", ccmctl_cmd_report},
#endif
#ifdef CCMCTL_HAVE_CAREPLAN
    {"careplan", ccmctl_cmd_careplan},
#endif
};

int main(int argc, char **argv)
{
    ccm_log_init("ccmctl", CCM_LOG_WARN);
    ccmctl_t ctl = {0};
    const char *config = getenv("CCM_CONFIG");
    const char *broker = NULL, *timeout = NULL, *retries = NULL, *key = NULL, *broker_key = NULL;

    /* --json may stand anywhere; the other global flags before the command. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            ctl.json = true;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage_text, stdout);
            return CCMCTL_OK;
        }
        if (strcmp(a, "--version") == 0) {
            puts("ccmctl " CCM_VERSION);
            return CCMCTL_OK;
        }
        if (i + 1 >= argc)
            return ccmctl_usage("%s needs a value", a);
        if (strcmp(a, "--broker") == 0)
            broker = argv[++i];
        else if (strcmp(a, "--config") == 0)
            config = argv[++i];
        else if (strcmp(a, "--timeout") == 0)
            timeout = argv[++i];
        else if (strcmp(a, "--retries") == 0)
            retries = argv[++i];
        else if (strcmp(a, "--key") == 0)
            key = argv[++i];
        else if (strcmp(a, "--broker-key") == 0)
            broker_key = argv[++i];
        else
            return ccmctl_usage("unknown option %s", a);
    }
    if (i >= argc) {
        fputs(s_usage_text, stderr);
        return CCMCTL_USAGE;
    }

#ifdef CCMCTL_HAVE_EVALUATE
    if (strcmp(argv[i], "evaluate") == 0) /* offline: no broker, no config needed */
        return ccmctl_evaluate(argc - i, argv + i, ctl.json);
#endif
    if (strcmp(argv[i], "keygen") == 0) /* offline too */
        return ccmctl_keygen(argc - i, argv + i, ctl.json);

    char err[512];
    if (config) {
        if (ccm_config_load(config, &ctl.cfg, err, sizeof err) != 0) {
            fprintf(stderr, "ccmctl: %s\n", err);
            return CCMCTL_USAGE;
        }
    } else if (!(ctl.cfg = ccm_config_new())) {
        return CCMCTL_ERROR;
    }
    const char *env_broker = getenv("CCM_BROKER");
    ctl.broker = broker       ? broker
                 : env_broker ? env_broker
                              : ccm_config_get(ctl.cfg, "client", "broker", "tcp://127.0.0.1:7710");
    long long v;
    if (ccm_config_get_int(ctl.cfg, "client", "timeout_ms", 2500, &v) != 0 || v <= 0)
        return ccmctl_usage("[client] timeout_ms must be a positive number");
    ctl.timeout_ms = (int)v;
    if (ccm_config_get_int(ctl.cfg, "client", "retries", 3, &v) != 0 || v < 0)
        return ccmctl_usage("[client] retries must be 0 or more");
    ctl.retries = (int)v;
    if (timeout) {
        char *end;
        long t = strtol(timeout, &end, 10);
        if (*end || t <= 0 || t > 3600000)
            return ccmctl_usage("--timeout must be milliseconds, 1 to 3600000");
        ctl.timeout_ms = (int)t;
    }
    if (retries) {
        char *end;
        long r = strtol(retries, &end, 10);
        if (*end || r < 0 || r > 100)
            return ccmctl_usage("--retries must be 0 to 100");
        ctl.retries = (int)r;
    }
    /* Every client this process makes takes its CURVE keys from the environment
     * (ccm_client_new), so the flags and [client] settings are put there. */
    if (!key && !getenv(CCM_AUTH_ENV_KEY))
        key = ccm_config_get(ctl.cfg, "client", "key", NULL);
    if (!broker_key && !getenv(CCM_AUTH_ENV_BROKER_KEY))
        broker_key = ccm_config_get(ctl.cfg, "client", "broker_key", NULL);
    if ((key && setenv(CCM_AUTH_ENV_KEY, key, 1) != 0) ||
        (broker_key && setenv(CCM_AUTH_ENV_BROKER_KEY, broker_key, 1) != 0))
        return CCMCTL_ERROR;
    const char *env_clinic = getenv("CCM_CLINIC");
    ctl.clinic = env_clinic ? env_clinic : ccm_config_get(ctl.cfg, "client", "clinic", NULL);

    int code = -1;
    for (size_t k = 0; k < sizeof s_commands / sizeof s_commands[0]; k++)
        if (strcmp(argv[i], s_commands[k].name) == 0)
            code = s_commands[k].fn(&ctl, argc - i, argv + i);
    if (code < 0)
        code = ccmctl_usage("unknown command \"%s\"", argv[i]);
    ccm_config_destroy(&ctl.cfg);
    return code;
}
