/* ccmctl — shared state and helpers of the command-line client's commands. */
#ifndef CCMCTL_H
#define CCMCTL_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/config.h"

/* Exit codes (documented in README.md). */
enum { CCMCTL_OK = 0, CCMCTL_ERROR = 1, CCMCTL_USAGE = 2, CCMCTL_UNREACHABLE = 3 };

typedef struct {
    const char *broker; /* 7/MDP endpoint */
    int timeout_ms;     /* per try */
    int retries;
    bool json;          /* --json: machine-readable output on stdout */
    const char *clinic; /* default clinic for --clinic */
    ccm_config_t *cfg;  /* [client] section and clinics; never NULL */
} ccmctl_t;

/* Sends req to service and decodes the reply with reply_desc into *reply (caller
 * frees with protobuf_c_message_free_unpacked). Returns CCMCTL_OK,
 * CCMCTL_UNREACHABLE (no reply after every retry; message printed) or
 * CCMCTL_ERROR (undecodable reply; message printed). */
int ccmctl_call(ccmctl_t *ctl, const char *service, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply);

/* When st is not OK: prints "ccmctl: CODE: message" on stderr (and, with --json,
 * {"error":{…}} on stdout) and returns CCMCTL_ERROR; else CCMCTL_OK. */
int ccmctl_check(ccmctl_t *ctl, const Ccm__Status *st);

/* A fresh random request id (32 hex digits). */
void ccmctl_request_id(char out[33]);

/* Prints j (stolen) as one line of JSON on stdout. */
void ccmctl_print_json(json_t *j);

/* Formats microseconds since the epoch as RFC 3339 UTC into buf (≥ 32 bytes). */
const char *ccmctl_time(long long us, char *buf, size_t len);

/* Prints a usage error and returns CCMCTL_USAGE. */
int ccmctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int ccmctl_cmd_patient(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_condition(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_practitioner(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_staff(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_people(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_consent(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_visit(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_service(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_inpatient(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_worklist(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_ping(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_status(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_stream(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_careplan(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_time(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_month(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_claim(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_missed(ccmctl_t *ctl, int argc, char **argv);
int ccmctl_cmd_report(ccmctl_t *ctl, int argc, char **argv);
/* `keygen NAME [--role R] [--clinic C]... [--dir D]` (argv[0] is "keygen"):
 * offline, needs no broker. Returns a CCMCTL_* exit code. */
int ccmctl_keygen(int argc, char **argv, bool json);
/* `month close`: argv[0] is "close". */
int ccmctl_billing_close(ccmctl_t *ctl, int argc, char **argv);

/* The protobuf message of an event's payload, by producer and type (for
 * `stream fetch --json`), or NULL when unknown. */
const ProtobufCMessageDescriptor *ccmctl_payload_descriptor(const char *producer,
                                                             const char *type);

#endif
