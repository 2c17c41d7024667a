/* ccm-cdr — imports phone-system call records into timetrack, exactly once.
 *
 * Lines are parsed and mapped in chunks; each chunk's new events and the file
 * position after it are committed to the local outbox in one transaction. The
 * sender delivers the outbox (pipelined, resent until acknowledged). A crash
 * loses nothing and reads nothing twice; a broker outage only delays. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ccm/client.h"
#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/tz.h"
#include "ccm/wire.h"
#include "cdr.h"
#include "map.h"
#include "outbox.h"
#include "reader.h"
#include "request.h"
#include "sender.h"

enum { EXIT_OK = 0, EXIT_FATAL = 1, EXIT_USAGE = 2 };

/* Lines parsed per outbox transaction: one fsync per chunk. */
#define S_CHUNK_LINES 512
/* How long the loop sleeps when there is nothing to read (following). */
#define S_IDLE_MS 200
/* Progress line refresh. */
#define S_PROGRESS_MS 250
#define S_BROKER_DEFAULT "tcp://127.0.0.1:7710"
#define S_STATE_DEFAULT "var/ccm-cdr"
#define S_RETENTION_DAYS_DEFAULT 90

static const char s_usage[] =
    "usage: ccm-cdr --format asterisk|freeswitch|kamailio|twilio|jsonl --map MAP.ini\n"
    "               --clinic C [--broker EP] [--state DIR] [--follow [--once]]\n"
    "               [--timezone ZONE | --gmt] [--timeout MS] [--window N] [--deadline S]\n"
    "               [--retention DAYS] [--from-start] [--dry-run] [--json] [--quiet]\n"
    "               [--config FILE] FILE...\n"
    "       ccm-cdr [--broker EP] [--state DIR] ...      (no FILE: deliver the outbox)\n"
    "\n"
    "Reads call records, maps them to time entries (answered talk time only) and\n"
    "delivers them to timetrack once. Unusable lines are reported as FILE:LINE: reason.\n"
    "  --follow       keep reading growing files (survives rotation and truncation)\n"
    "  --once         with --follow: stop when every file is read and acknowledged\n"
    "  --timezone Z   IANA zone of Asterisk/FreeSWITCH dates ([defaults] timezone)\n"
    "  --gmt          those dates are UTC (cdr.conf usegmtime; [defaults] gmt = yes)\n"
    "  --timeout MS   least reply timeout before a resend (default 2500; grows\n"
    "                 with the replies' round trip, doubles per try of a request)\n"
    "  --deadline S   give up after S seconds with events still pending (exit 1)\n"
    "  --from-start   ignore stored read positions (delivered ids still dedupe)\n"
    "  --dry-run      print the time entries as JSON lines; no state, no network\n"
    "  --window N     requests in flight at most (default 256); fewer while replies\n"
    "                 are late: halved on timeouts, +1 per window of quick replies\n"
    "  --json         final summary as JSON on stdout\n"
    "exit: 0 all read events acknowledged or refused, 1 fatal error or pending, 2 usage\n";

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    uint64_t read;       /* non-blank lines read */
    uint64_t queued;     /* new events put in the outbox */
    uint64_t duplicates; /* events whose id was known already */
    uint64_t skipped;    /* unanswered or zero-second calls */
    uint64_t errors;     /* lines that could not be parsed or mapped */
    uint64_t seconds;    /* talk seconds of the new events */
} counts_t;

typedef struct {
    const char *path;        /* as given (or the rotated file found, in old_path) */
    char key[PATH_MAX];      /* real path of the file named: the position key */
    char old_path[PATH_MAX]; /* a rotated predecessor: its path */
    ccm_cdr_reader_t *r;     /* owned */
    bool done;               /* read to the end (not following) */
    bool caught_up;          /* following: no complete line at the last look */
    bool after_previous;     /* read only once the input before it is done */
} input_t;

typedef struct {
    ccm_cdr_format_t format;
    const ccm_tz_t *tz; /* NULL = UTC */
    const ccm_cdr_map_t *map;
    const char *clinic;
    bool dry_run;
    bool progress;       /* an updating line on the terminal */
    bool progress_shown; /* the line is on screen now */
    counts_t c;
    ccm_cdr_sender_t *sender; /* may be NULL (dry run) */
    uint64_t pending;
    char **seen;     /* dry run: ids printed (open addressing), owned */
    size_t seen_cap; /* slots; a power of two */
    size_t seen_n;   /* ids in it */
} run_t;

/* Dry run: remembers ids so a duplicate is counted as one, like the outbox does.
 * Returns true when id was new. Out of memory: treated as new. */
static bool s_seen_add(run_t *run, const char *id)
{
    if (run->seen_n * 2 >= run->seen_cap) {
        size_t cap = run->seen_cap ? run->seen_cap * 2 : 1024;
        char **n = calloc(cap, sizeof *n);
        if (!n)
            return true;
        for (size_t i = 0; i < run->seen_cap; i++) {
            if (!run->seen[i])
                continue;
            size_t h = (size_t)ccm_cdr_hash(CCM_CDR_HASH_INIT, run->seen[i], strlen(run->seen[i]));
            while (n[h & (cap - 1)])
                h++;
            n[h & (cap - 1)] = run->seen[i];
        }
        free(run->seen);
        run->seen = n;
        run->seen_cap = cap;
    }
    size_t h = (size_t)ccm_cdr_hash(CCM_CDR_HASH_INIT, id, strlen(id));
    for (;; h++) {
        char **slot = &run->seen[h & (run->seen_cap - 1)];
        if (!*slot) {
            *slot = strdup(id);
            run->seen_n += *slot != NULL;
            return true;
        }
        if (strcmp(*slot, id) == 0)
            return false;
    }
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_clear_progress(run_t *run)
{
    if (run->progress_shown) {
        fputs("\r\033[K", stderr);
        run->progress_shown = false;
    }
}

static void s_progress(run_t *run)
{
    static const ccm_cdr_sender_stats_t none;
    const ccm_cdr_sender_stats_t *st = run->sender ? ccm_cdr_sender_stats(run->sender) : &none;
    fprintf(stderr,
            "\r\033[Kread %" PRIu64 "  new %" PRIu64 "  sent %" PRIu64 "  resent %" PRIu64
            "  acknowledged %" PRIu64 "  skipped %" PRIu64 "  refused %" PRIu64 "  errors %" PRIu64
            "  pending %" PRIu64 "  window %d",
            run->c.read, run->c.queued, st->sent, st->resent, st->acked, run->c.skipped,
            st->refused, run->c.errors, run->pending, st->window);
    run->progress_shown = true;
}

static void s_line_error(run_t *run, const char *path, uint64_t line, const char *reason)
{
    s_clear_progress(run);
    fprintf(stderr, "%s:%" PRIu64 ": %s\n", path, line, reason);
}

static void s_on_refused(const char *id, int code, const char *message, void *arg)
{
    run_t *run = arg;
    s_clear_progress(run);
    fprintf(stderr, "ccm-cdr: %s %s%s: %s\n", code == 3 ? "not allowed to deliver" : "refused",
            CCM_CDR_RID_PREFIX, id, ccm_cdr_code_name(code));
    if (message[0])
        fprintf(stderr, "ccm-cdr:   %s\n", message);
}

static void s_print_entry(const ccm_cdr_entry_t *e, const char *clinic)
{
    char when[32];
    time_t t = (time_t)(e->start_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:I}", "id", e->event_id,
                          "clinic", clinic, "mrn", e->mrn, "performer", e->performer, "activity",
                          e->activity, "service", e->service, "start_us", (json_int_t)e->start_us,
                          "start", when, "seconds", (json_int_t)e->seconds);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

static bool s_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

/* One line: parse, skip or map, pack. On an event, *buf and *len hold the request
 * (caller frees), id the unique id and *secs its seconds. Returns 1 for an event,
 * 0 otherwise, -1 when out of memory. */
static int s_line(run_t *run, const char *path, uint64_t lineno, const char *line, size_t len,
                  char id[CCM_CDR_ID_MAX + 1], uint8_t **buf, size_t *blen, int64_t *secs)
{
    if (s_blank(line, len))
        return 0;
    run->c.read++;
    ccm_cdr_record_t rec;
    ccm_cdr_entry_t e;
    char reason[CCM_CDR_REASON_MAX];
    if (ccm_cdr_parse(run->format, line, len, run->tz, &rec, reason, sizeof reason) != 0) {
        run->c.errors++;
        s_line_error(run, path, lineno, reason);
        return 0;
    }
    if (!rec.answered) {
        run->c.skipped++;
        return 0;
    }
    if (ccm_cdr_map_apply(run->map, &rec, &e, reason, sizeof reason) != 0) {
        run->c.errors++;
        s_line_error(run, path, lineno, reason);
        return 0;
    }
    if (run->dry_run) {
        if (!s_seen_add(run, e.event_id)) {
            run->c.duplicates++;
            return 0;
        }
        run->c.queued++;
        run->c.seconds += (uint64_t)e.seconds;
        s_print_entry(&e, run->clinic);
        return 0;
    }
    if (ccm_cdr_request_pack(&e, run->clinic, buf, blen) != 0)
        return -1;
    memcpy(id, e.event_id, CCM_CDR_ID_MAX + 1);
    *secs = e.seconds;
    return 1;
}

/* Reads up to one chunk of in and commits its events with the position after it.
 * Returns lines consumed (>= 0) or a negative CCM_E code (fatal). */
static int s_chunk(run_t *run, input_t *in, ccm_cdr_outbox_t *ob)
{
    ccm_cdr_event_t ev[S_CHUNK_LINES];
    char(*ids)[CCM_CDR_ID_MAX + 1] = malloc(sizeof *ids * S_CHUNK_LINES);
    uint8_t *bufs[S_CHUNK_LINES];
    int64_t secs[S_CHUNK_LINES];
    if (!ids)
        return CCM_ENOMEM;
    size_t nev = 0;
    int lines = 0, rc = 0;
    while (lines < S_CHUNK_LINES) {
        const char *line;
        size_t len;
        uint64_t lineno;
        rc = ccm_cdr_reader_next(in->r, &line, &len, &lineno);
        if (rc == CCM_EAGAIN) {
            in->caught_up = true;
            rc = 0;
            break;
        }
        if (rc == CCM_ENOTFOUND) {
            in->done = true;
            rc = 0;
            break;
        }
        if (rc != 0) {
            s_clear_progress(run);
            fprintf(stderr, "ccm-cdr: %s: read error\n", in->path);
            break;
        }
        in->caught_up = false;
        lines++;
        size_t blen;
        int got = s_line(run, in->path, lineno, line, len, ids[nev], &bufs[nev], &blen, &secs[nev]);
        if (got < 0) {
            rc = CCM_ENOMEM;
            break;
        }
        if (got == 1) {
            ev[nev] = (ccm_cdr_event_t){ids[nev], bufs[nev], blen, false};
            nev++;
        }
    }
    if (rc == 0 && ob && (lines > 0 || in->done)) {
        ccm_cdr_pos_t pos;
        ccm_cdr_reader_pos(in->r, &pos);
        size_t added = 0;
        rc = ccm_cdr_outbox_append(ob, ev, nev, in->key, &pos, &added);
        if (rc == 0) {
            run->c.queued += added;
            run->c.duplicates += nev - added;
            for (size_t i = 0; i < nev; i++)
                if (ev[i].added)
                    run->c.seconds += (uint64_t)secs[i];
        } else {
            s_clear_progress(run);
            fprintf(stderr, "ccm-cdr: cannot write the outbox: %s\n", ccm_strerror(rc));
        }
    }
    for (size_t i = 0; i < nev; i++)
        free(bufs[i]);
    free(ids);
    return rc != 0 ? rc : lines;
}

static void s_summary(run_t *run, bool json, int64_t started_ms)
{
    static const ccm_cdr_sender_stats_t none;
    const ccm_cdr_sender_stats_t *st = run->sender ? ccm_cdr_sender_stats(run->sender) : &none;
    double secs = (double)(s_now_ms() - started_ms) / 1000.0;
    double ratio = run->sender ? ccm_cdr_sender_resend_ratio(run->sender) : 0.0;
    s_clear_progress(run);
    fprintf(stderr,
            "ccm-cdr: read %" PRIu64 ", new %" PRIu64 " (%" PRIu64 " s), duplicates %" PRIu64
            ", skipped %" PRIu64 ", errors %" PRIu64 ", sent %" PRIu64 ", resent %" PRIu64
            " (%.2f per send), acknowledged %" PRIu64 ", refused %" PRIu64 ", pending %" PRIu64
            " in %.1f s\n",
            run->c.read, run->c.queued, run->c.seconds, run->c.duplicates, run->c.skipped,
            run->c.errors, st->sent, st->resent, ratio, st->acked, st->refused, run->pending, secs);
    if (run->sender && (st->timeouts || st->reconnects))
        fprintf(stderr,
                "ccm-cdr: %" PRIu64 " replies late, %" PRIu64
                " reconnects; window now %d (smallest %d), reply timeout %d ms\n",
                st->timeouts, st->reconnects, st->window, st->window_min, st->timeout_ms);
    if (!json)
        return;
    json_t *j =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, "
                  "s:I, s:i, s:i, s:i, s:f}",
                  "read", (json_int_t)run->c.read, "new", (json_int_t)run->c.queued, "seconds",
                  (json_int_t)run->c.seconds, "duplicates", (json_int_t)run->c.duplicates,
                  "skipped", (json_int_t)run->c.skipped, "errors", (json_int_t)run->c.errors,
                  "sent", (json_int_t)st->sent, "resent", (json_int_t)st->resent, "resend_ratio",
                  ratio, "acknowledged", (json_int_t)st->acked, "refused", (json_int_t)st->refused,
                  "pending", (json_int_t)run->pending, "reconnects", (json_int_t)st->reconnects,
                  "timeouts", (json_int_t)st->timeouts, "window", st->window, "window_min",
                  st->window_min, "timeout_ms", st->timeout_ms, "elapsed", secs);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        puts(s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

/* Looks in the directory of key for the file with pos's device and inode (the
 * file a rotation renamed). True with its path in out. */
static bool s_find_rotated(const char *key, const ccm_cdr_pos_t *pos, char out[PATH_MAX])
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", key);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    DIR *d = opendir(dir[0] ? dir : "/");
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p || stat(p, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if ((uint64_t)st.st_dev == pos->dev && (uint64_t)st.st_ino == pos->ino) {
            memcpy(out, p, PATH_MAX);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static int s_usage_error(const char *msg)
{
    fprintf(stderr, "ccm-cdr: %s\n(see ccm-cdr --help)\n", msg);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"map", required_argument, 0, 'm'},
                                         {"clinic", required_argument, 0, 'c'},
                                         {"broker", required_argument, 0, 'b'},
                                         {"state", required_argument, 0, 's'},
                                         {"follow", no_argument, 0, 'F'},
                                         {"once", no_argument, 0, 'o'},
                                         {"timezone", required_argument, 0, 'z'},
                                         {"gmt", no_argument, 0, 'g'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"window", required_argument, 0, 'w'},
                                         {"deadline", required_argument, 0, 'd'},
                                         {"retention", required_argument, 0, 'r'},
                                         {"from-start", no_argument, 0, 'S'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"config", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format_name = NULL, *map_path = NULL, *clinic = NULL, *broker = NULL;
    const char *state = S_STATE_DEFAULT, *zone = NULL, *config_path = getenv("CCM_CONFIG");
    bool follow = false, once = false, gmt = false, from_start = false, dry_run = false;
    bool json = false, quiet = false;
    long timeout_ms = 2500, window = CCM_CDR_WINDOW_DEFAULT, deadline_s = 0;
    long retention_days = S_RETENTION_DAYS_DEFAULT;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'f': format_name = optarg; break;
        case 'm': map_path = optarg; break;
        case 'c': clinic = optarg; break;
        case 'b': broker = optarg; break;
        case 's': state = optarg; break;
        case 'F': follow = true; break;
        case 'o': once = true; break;
        case 'z': zone = optarg; break;
        case 'g': gmt = true; break;
        case 'S': from_start = true; break;
        case 'n': dry_run = true; break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'C': config_path = optarg; break;
        case 't':
        case 'w':
        case 'd':
        case 'r': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < (c == 'd' ? 0 : 1) || v > 100000000)
                return s_usage_error("--timeout, --window, --deadline, --retention: a number");
            if (c == 't')
                timeout_ms = v;
            else if (c == 'w')
                window = v;
            else if (c == 'd')
                deadline_s = v;
            else
                retention_days = v;
            break;
        }
        case 'h': fputs(s_usage, stdout); return EXIT_OK;
        default: return s_usage_error("unknown option");
        }
    }
    int nfiles = argc - optind;
    ccm_log_init("ccm-cdr", CCM_LOG_WARN);
    ccm_cdr_format_t format = CCM_CDR_ASTERISK;
    if (nfiles > 0) {
        if (!format_name || ccm_cdr_format_parse(format_name, &format) != 0)
            return s_usage_error("--format asterisk|freeswitch|kamailio|twilio|jsonl is required");
        if (!map_path)
            return s_usage_error("--map MAP.ini is required");
        if (!clinic || !*clinic || strlen(clinic) > 32)
            return s_usage_error("--clinic C is required (1 to 32 characters)");
    }
    if (zone && gmt)
        return s_usage_error("--timezone and --gmt exclude each other");
    if (window > 10000)
        return s_usage_error("--window: at most 10000");

    /* Broker: flag, $CCM_BROKER, [client] broker of the config, the default. */
    ccm_config_t *cfg = NULL;
    if (config_path && !broker) {
        char err[256];
        if (ccm_config_load(config_path, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "ccm-cdr: %s\n", err);
            return EXIT_FATAL;
        }
    }
    if (!broker)
        broker = getenv("CCM_BROKER");
    if (!broker)
        broker = ccm_config_get(cfg, "client", "broker", S_BROKER_DEFAULT);
    if (!dry_run && !ccm_wire_endpoint_is_local(broker)) {
        ccm_config_destroy(&cfg);
        return s_usage_error("the broker endpoint must be local (no CURVE keys in this client)");
    }

    int exit_code = EXIT_FATAL;
    ccm_cdr_map_t *map = NULL;
    ccm_tz_t *tz = NULL;
    ccm_cdr_outbox_t *ob = NULL;
    ccm_client_t *client = NULL;
    /* room for every file and a rotated predecessor of each */
    input_t *inputs = calloc((size_t)(nfiles > 0 ? 2 * nfiles : 1), sizeof *inputs);
    int ninputs = 0;
    run_t run = {.format = format, .clinic = clinic, .dry_run = dry_run};
    run.progress = !quiet && isatty(STDERR_FILENO);
    int64_t started = s_now_ms();
    if (!inputs)
        goto out;

    if (nfiles > 0) {
        char err[512];
        int rc = ccm_cdr_map_load(map_path, &map, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "ccm-cdr: %s\n", err);
            goto out;
        }
        run.map = map;
        if (ccm_cdr_format_local_dates(format)) {
            if (!zone && !gmt) {
                zone = ccm_cdr_map_timezone(map);
                gmt = !zone && ccm_cdr_map_gmt(map);
            }
            if (!zone && !gmt) {
                exit_code = s_usage_error("the dates of this format are wall-clock times: give "
                                          "--timezone ZONE or --gmt (or [defaults] timezone)");
                goto out;
            }
            if (zone) {
                tz = malloc(sizeof *tz);
                if (!tz || (rc = ccm_tz_load(tz, zone)) != 0) {
                    fprintf(stderr, "ccm-cdr: time zone %s: %s\n", zone,
                            tz ? ccm_strerror(rc) : "out of memory");
                    goto out;
                }
                run.tz = tz;
            }
        }
    }
    if (!dry_run) {
        int rc = ccm_cdr_outbox_open(state, (int64_t)retention_days * 86400 * 1000000,
                                     (int64_t)time(NULL) * 1000000, &ob);
        if (rc != 0) {
            fprintf(stderr, "ccm-cdr: cannot open the outbox in %s: %s\n", state, ccm_strerror(rc));
            goto out;
        }
        client = ccm_client_new(broker);
        if (!client) {
            fprintf(stderr, "ccm-cdr: cannot use broker endpoint %s\n", broker);
            goto out;
        }
        run.sender =
            ccm_cdr_sender_new(client, ob, (int)window, (int)timeout_ms, s_on_refused, &run);
        if (!run.sender)
            goto out;
    }
    for (int i = 0; i < nfiles; i++) {
        input_t *in = &inputs[ninputs++];
        in->path = argv[optind + i];
        if (!realpath(in->path, in->key)) {
            fprintf(stderr, "ccm-cdr: %s: %s\n", in->path, strerror(errno));
            goto out;
        }
        ccm_cdr_pos_t pos, *resume = NULL;
        if (ob && !from_start && ccm_cdr_outbox_position(ob, in->key, &pos) == 0)
            resume = &pos;
        int rc = ccm_cdr_reader_open(in->path, follow, resume, &in->r);
        if (rc != 0) {
            fprintf(stderr, "ccm-cdr: %s: cannot open: %s\n", in->path, ccm_strerror(rc));
            goto out;
        }
        if (!resume || ccm_cdr_reader_resumed(in->r))
            continue;
        /* Rotated while we were not running: finish the old file first (found by
         * its inode next to the new one), under the same position key. */
        ccm_cdr_reader_t *old = NULL;
        if (s_find_rotated(in->key, &pos, in->old_path) &&
            ccm_cdr_reader_open(in->old_path, false, &pos, &old) == 0 &&
            ccm_cdr_reader_resumed(old)) {
            input_t cur = *in; /* the file named moves one place down */
            memset(in, 0, sizeof *in);
            memcpy(in->key, cur.key, sizeof in->key);
            memcpy(in->old_path, cur.old_path, sizeof in->old_path);
            in->path = in->old_path;
            in->r = old;
            cur.after_previous = true;
            cur.old_path[0] = '\0';
            inputs[ninputs++] = cur;
            if (!quiet)
                fprintf(stderr, "ccm-cdr: %s was rotated; reading the rest of %s first\n", cur.path,
                        in->old_path);
            continue;
        }
        ccm_cdr_reader_destroy(&old);
        if (!quiet)
            fprintf(stderr,
                    "ccm-cdr: %s: changed since the last run (rotated or truncated); "
                    "reading it from the start (known ids are not sent again)\n",
                    in->path);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t last_progress = 0;
    bool fatal = false;
    for (;;) {
        bool busy = false, all_read = true;
        for (int i = 0; i < ninputs && !s_stop; i++) {
            input_t *in = &inputs[i];
            if (in->done)
                continue;
            if (in->after_previous && !inputs[i - 1].done) {
                all_read = false;
                continue;
            }
            int n = s_chunk(&run, in, ob);
            if (n < 0) {
                fatal = true;
                break;
            }
            busy |= n == S_CHUNK_LINES;
            if (!in->done && !(follow && once && in->caught_up))
                all_read = false;
        }
        if (fatal)
            break;
        if (run.sender) {
            int rc = ccm_cdr_sender_pump(run.sender, busy ? 0 : S_IDLE_MS);
            if (rc != 0) {
                s_clear_progress(&run);
                fprintf(stderr, "ccm-cdr: outbox: %s\n", ccm_strerror(rc));
                fatal = true;
                break;
            }
            if (ccm_cdr_outbox_pending(ob, &run.pending) != 0) {
                fatal = true;
                break;
            }
            if (follow && !busy && ccm_cdr_sender_inflight(run.sender) == 0) {
                struct timespec ts = {0, S_IDLE_MS * 1000000L};
                nanosleep(&ts, NULL); /* nothing to read or wait for: poll files later */
            }
            if (ccm_cdr_sender_stats(run.sender)->denied) {
                s_clear_progress(&run);
                fprintf(stderr, "ccm-cdr: timetrack refuses this client (PERMISSION_DENIED); "
                                "events stay in the outbox\n");
                fatal = true;
                break;
            }
        } else if (!busy && !all_read) {
            struct timespec ts = {0, S_IDLE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        int64_t now = s_now_ms();
        if (run.progress && now - last_progress >= S_PROGRESS_MS) {
            s_progress(&run);
            last_progress = now;
        }
        if (s_stop)
            break;
        if ((!follow || once) && all_read && run.pending == 0)
            break;
        if (deadline_s > 0 && now - started > deadline_s * 1000)
            break;
    }
    if (fatal)
        exit_code = EXIT_FATAL;
    else if (run.pending == 0 || (follow && !once && s_stop))
        exit_code = EXIT_OK;
    else
        exit_code = EXIT_FATAL; /* deadline or signal with events pending: rerun delivers */
    s_summary(&run, json, started);
out:
    for (int i = 0; i < ninputs && inputs; i++)
        ccm_cdr_reader_destroy(&inputs[i].r);
    free(inputs);
    ccm_cdr_sender_destroy(&run.sender);
    ccm_client_destroy(&client);
    ccm_cdr_outbox_destroy(&ob);
    ccm_cdr_map_destroy(&map);
    ccm_config_destroy(&cfg);
    free(tz);
    for (size_t i = 0; i < run.seen_cap; i++)
        free(run.seen[i]);
    free(run.seen);
    return exit_code;
}
