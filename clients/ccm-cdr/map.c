/* map — mapping file lookups (see map.h). Lookups are linear in the config's
 * entries; a practice maps tens to a few thousand keys, which is fast enough
 * next to an fsync per chunk. */
#include "map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ccm/error.h"

/* Longest entry timetrack accepts (proto: 1 .. 86400 seconds). */
#define S_SECONDS_MAX 86400

struct ccm_cdr_map {
    ccm_config_t *cfg;    /* owned */
    int service;          /* [defaults] service as a ServiceTag value */
    const char *activity; /* [defaults] activity, borrowed from cfg */
};

int ccm_cdr_service_tag(const char *name)
{
    static const char *const tags[] = {"CCM", "PCM", "TCM", "RPM", "BHI", "APCM"};
    for (int i = 0; i < 6; i++)
        if (name && strcasecmp(name, tags[i]) == 0)
            return i + 1;
    return 0;
}

int ccm_cdr_map_from_config(ccm_config_t *cfg, ccm_cdr_map_t **out, char *err, size_t errlen)
{
    *out = NULL;
    ccm_cdr_map_t *m = calloc(1, sizeof *m);
    if (!m) {
        ccm_config_destroy(&cfg);
        return CCM_ENOMEM;
    }
    m->cfg = cfg;
    const char *svc = ccm_config_get(cfg, "defaults", "service", "CCM");
    m->service = ccm_cdr_service_tag(svc);
    m->activity = ccm_config_get(cfg, "defaults", "activity", "phone call");
    if (m->service == 0) {
        snprintf(err, errlen, "[defaults] service = %s: want CCM, PCM, TCM, RPM, BHI or APCM", svc);
        ccm_cdr_map_destroy(&m);
        return CCM_EINVAL;
    }
    if (strlen(m->activity) > CCM_CDR_FIELD_MAX || !m->activity[0]) {
        snprintf(err, errlen, "[defaults] activity: 1 to %d bytes", CCM_CDR_FIELD_MAX);
        ccm_cdr_map_destroy(&m);
        return CCM_EINVAL;
    }
    *out = m;
    return 0;
}

int ccm_cdr_map_load(const char *path, ccm_cdr_map_t **out, char *err, size_t errlen)
{
    ccm_config_t *cfg = NULL;
    *out = NULL;
    int rc = ccm_config_load(path, &cfg, err, errlen);
    if (rc != 0)
        return rc;
    rc = ccm_cdr_map_from_config(cfg, out, err, errlen);
    if (rc == CCM_EINVAL) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    return rc;
}

void ccm_cdr_map_destroy(ccm_cdr_map_t **p)
{
    if (!p || !*p)
        return;
    ccm_config_destroy(&(*p)->cfg);
    free(*p);
    *p = NULL;
}

const char *ccm_cdr_map_timezone(const ccm_cdr_map_t *m)
{
    return ccm_config_get(m->cfg, "defaults", "timezone", NULL);
}

int ccm_cdr_map_gmt(const ccm_cdr_map_t *m)
{
    const char *v = ccm_config_get(m->cfg, "defaults", "gmt", "no");
    return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static const char *s_get(const ccm_cdr_map_t *m, const char *section, const char *key)
{
    if (!key[0])
        return NULL;
    const char *v = ccm_config_get(m->cfg, section, key, NULL);
    return v && v[0] ? v : NULL;
}

static int s_set(char *dst, size_t cap, const char *v, const char *what, char *reason, size_t rlen)
{
    if (strlen(v) >= cap)
        return ccm_cdr_fail(reason, rlen, "%s \"%.40s…\" too long", what, v);
    strcpy(dst, v);
    return 0;
}

int ccm_cdr_map_apply(const ccm_cdr_map_t *m, const ccm_cdr_record_t *rec, ccm_cdr_entry_t *out,
                      char *reason, size_t rlen)
{
    memset(out, 0, sizeof *out);
    if (rec->billsec > S_SECONDS_MAX)
        return ccm_cdr_fail(reason, rlen, "talk time %lld s is over 24 hours",
                            (long long)rec->billsec);
    const char *staff = NULL, *patient = NULL;
    if (rec->staff[0] || rec->patient[0]) {
        staff = rec->staff;
        patient = rec->patient;
    } else {
        /* Which side is ours: the first of src, caller id, dst that names staff. */
        const char *other = rec->dst;
        if ((staff = s_get(m, "staff", rec->src)) || (staff = s_get(m, "staff", rec->clid))) {
            other = rec->dst;
        } else if ((staff = s_get(m, "staff", rec->dst))) {
            other = rec->src;
        } else {
            return ccm_cdr_fail(reason, rlen,
                                "no [staff] mapping for src \"%s\", caller id \"%s\" or dst \"%s\"",
                                rec->src, rec->clid, rec->dst);
        }
        if (!(patient = s_get(m, "patients", rec->account)) &&
            !(patient = s_get(m, "patients", rec->userfield)) &&
            !(patient = s_get(m, "patients", other)))
            return ccm_cdr_fail(reason, rlen,
                                "no [patients] mapping for account code \"%s\", user field "
                                "\"%s\" or number \"%s\"",
                                rec->account, rec->userfield, other);
    }
    out->service = m->service;
    if (rec->service[0] && (out->service = ccm_cdr_service_tag(rec->service)) == 0)
        return ccm_cdr_fail(reason, rlen, "service \"%s\": want CCM, PCM, TCM, RPM, BHI or APCM",
                            rec->service);
    if (s_set(out->performer, sizeof out->performer, staff, "staff", reason, rlen) ||
        s_set(out->mrn, sizeof out->mrn, patient, "patient", reason, rlen) ||
        s_set(out->activity, sizeof out->activity, rec->activity[0] ? rec->activity : m->activity,
              "activity", reason, rlen))
        return CCM_EINVAL;
    memcpy(out->event_id, rec->id, sizeof out->event_id);
    out->start_us = rec->start_us;
    out->seconds = rec->billsec;
    return 0;
}
