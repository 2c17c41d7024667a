/* render — billing stream events as the records billing systems take: canonical
 * JSON, CSV, X12 837P (005010X222A1) and a FHIR R4 Claim (README.md, Formats).
 *
 * Pure functions: no I/O, no clock, no globals. Everything that varies (the event's
 * seq and time, the interchange control number, identities the claim lacks) is an
 * argument, so the same event always renders to the same bytes — a redelivery
 * after a crash rewrites an identical file. Every output is a NUL-terminated
 * string the caller frees with free(). */
#ifndef CCM_WATCH_RENDER_H
#define CCM_WATCH_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "ccm/billing.pb-c.h"

/* X12 limits: lines per claim (2400 loops, 50 in 005010X222A1), diagnoses (HI, 12). */
#define CCM_RENDER_X12_LINES_MAX 50
#define CCM_RENDER_X12_DX_MAX 12
/* Interchange control numbers are 9 digits: 1 … 999999999, then 1 again. */
#define CCM_RENDER_X12_CONTROL_MAX 999999999ULL

/* The stream envelope fields every record carries (borrowed). */
typedef struct {
    uint64_t seq;     /* the event's stream seq */
    const char *type; /* e.g. "claim.ready" */
    const char *key;  /* the event key */
    int64_t time_us;  /* commit time of the event, µs since the epoch, UTC */
} ccm_render_event_t;

/* Identities an 837P needs that the claim does not carry (config [watch] and
 * [clinic ID]; see README.md). Every pointer is borrowed and must be non-NULL. */
typedef struct {
    const char *submitter_id;    /* ISA06, GS02, 1000A NM109 */
    const char *submitter_name;  /* 1000A NM103 */
    const char *submitter_phone; /* 1000A PER04, digits */
    const char *receiver_id;     /* ISA08, GS03, 1000B NM109 */
    const char *receiver_name;   /* 1000B NM103 */
    const char *usage;           /* ISA15: "T" test or "P" production */
    const char *payer_name;      /* 2010BB NM103 */
    const char *payer_id;        /* 2010BB NM109 */
    const char *clinic_name;     /* 2010AA NM103 */
    const char *address;         /* 2010AA N301 */
    const char *city;            /* 2010AA N401 */
    const char *state;           /* 2010AA N402, 2 letters */
    const char *zip;             /* 2010AA N403, 9 digits */
    const char *tax_id;          /* 2010AA REF*EI, 9 digits */
} ccm_render_ids_t;

/* A person's name (and birth date) from enrollment; any field may be NULL or ""
 * when unknown (then a placeholder is used, or DMG is left out). Borrowed. */
typedef struct {
    const char *family;
    const char *given;
    const char *birth_date; /* YYYY-MM-DD */
} ccm_render_person_t;

/* Canonical JSON of a claim event: one line (no newline) holding seq, producer,
 * type, time, claim_id and "claim" with every Claim field under its proto name
 * (the claim's canonical content). 0, CCM_ENOMEM. */
int ccm_render_claim_json(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c, char **out);

/* Any other event (Missed, Conflict, EligibilityChange): one JSON line with seq,
 * producer, type, time, key and the payload under `name`. 0, CCM_ENOMEM. */
int ccm_render_message_json(const ccm_render_event_t *ev, const char *producer, const char *name,
                            const ProtobufCMessage *payload, char **out);

/* CSV: the header line of the canonical columns (with "\n"). 0, CCM_ENOMEM. */
int ccm_render_csv_header(char **out);
/* CSV: one row per claim line, each ending "\n"; dos, units and amount_cents are the
 * line's. Fields are quoted when they hold a comma, quote or line break.
 * 0, CCM_EINVAL (no lines), CCM_ENOMEM. */
int ccm_render_claim_csv(const Ccm__Billing__Claim *c, char **out);

/* X12 837P 005010X222A1: one interchange (ISA/IEA) holding one group (GS/GE)
 * holding one transaction (ST/SE) for claim c. control is the interchange control
 * number (ISA13 = GS06, 1 … CCM_RENDER_X12_CONTROL_MAX); ev->time_us dates the
 * envelope, BHT03 is ev->seq and REF*D9 the claim id. Segments end with "~\n". patient and
 * rendering may be NULL. Claim frequency (CLM05-3): 8 (void, REF*F8 = the claim's own
 * id) for a claim in status WITHDRAW_NEEDED (event claim.withdraw); 7 (replacement, REF*F8
 * = supersedes) for a later version or an adjustment; else 1. Each line's DTP*472 is the
 * line's dos (G0506: the initiating visit's day), else the claim's.
 * 0, CCM_EINVAL (no lines, too many lines, bad control number, empty MBI or NPI), CCM_ENOMEM. */
int ccm_render_837p(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c,
                    const ccm_render_ids_t *ids, const ccm_render_person_t *patient,
                    const ccm_render_person_t *rendering, uint64_t control, char **out);

/* FHIR R4 Claim resource as one JSON line; meta.tag (system urn:ccm:billing-seq)
 * carries the stream seq, identifier the claim id; status "cancelled" for a claim in
 * status WITHDRAW_NEEDED (same resource id as the claim it withdraws), else "active";
 * each item's servicedDate is its line's dos. 0, CCM_EINVAL (bad month), CCM_ENOMEM. */
int ccm_render_fhir(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c, char **out);

/* The X12 patient control number (CLM01, at most 20 characters) of a claim key:
 * the key itself when it fits and holds no X12 delimiter, else "K" and 16 hex
 * digits of its FNV-1a hash. out must hold 21 bytes. */
void ccm_render_x12_pcn(const char *key, char out[21]);

/* A file-name-safe form of s ([A-Za-z0-9._-], others become '_'), at most cap-1
 * bytes. */
void ccm_render_safe_name(const char *s, char *out, size_t cap);

#endif
