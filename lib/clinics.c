/* clinics — the configured clinic table (see clinics.h).
 * Invariant: every clinic in the table has a valid id and a loaded zone; a
 * section that fails any check leaves no clinic behind. */
#include "ccm/clinics.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"

#define S_SECTION_PREFIX "clinic "

struct ccm_clinics {
    ccm_clinic_info_t *v; /* owned, n used */
    size_t n;
};

ccm_clinics_t *ccm_clinics_new(void)
{
    return calloc(1, sizeof(ccm_clinics_t));
}

static void s_clinic_free(ccm_clinic_info_t *ci)
{
    free(ci->name);
    free(ci->tz);
    free(ci->pos);
}

void ccm_clinics_destroy(ccm_clinics_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        s_clinic_free(&(*p)->v[i]);
    free((*p)->v);
    free(*p);
    *p = NULL;
}

/* Adds one clinic with all its fields; name and pos may be NULL (""). */
static int s_add(ccm_clinics_t *c, const char *id, const char *timezone, const char *type,
                 const char *name, const char *pos)
{
    ccm_clinic_t ct = CCM_CLINIC_PHYSICIAN_PRACTICE;
    if (ccm_ident_key(id, CCM_CLINIC_ID_MAX, NULL) != 0 || !timezone ||
        (type && ccm_rules_clinic_parse(type, &ct) != 0))
        return CCM_EINVAL;
    ccm_clinic_info_t ci;
    memset(&ci, 0, sizeof ci);
    snprintf(ci.id, sizeof ci.id, "%s", id);
    ci.type = ct;
    ci.name = strdup(name ? name : "");
    ci.pos = strdup(pos ? pos : "");
    ci.tz = malloc(sizeof *ci.tz);
    int rc = ci.name && ci.pos && ci.tz ? 0 : CCM_ENOMEM;
    if (rc == 0)
        rc = ccm_tz_load(ci.tz, timezone);
    ccm_clinic_info_t *n = rc ? NULL : realloc(c->v, (c->n + 1) * sizeof *n);
    if (!n) {
        s_clinic_free(&ci);
        return rc ? rc : CCM_ENOMEM;
    }
    c->v = n;
    c->v[c->n++] = ci;
    return 0;
}

int ccm_clinics_add(ccm_clinics_t *c, const char *id, const char *timezone, const char *type)
{
    return s_add(c, id, timezone, type, NULL, NULL);
}

const ccm_clinic_info_t *ccm_clinics_find(const ccm_clinics_t *c, const char *id)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strcmp(c->v[i].id, id) == 0)
            return &c->v[i];
    return NULL;
}

size_t ccm_clinics_count(const ccm_clinics_t *c)
{
    return c ? c->n : 0;
}

const ccm_clinic_info_t *ccm_clinics_at(const ccm_clinics_t *c, size_t i)
{
    assert(c && i < c->n); /* a programmer error */
    return &c->v[i];
}

typedef struct {
    const ccm_config_t *cfg;
    ccm_clinics_t *clinics;
    int rc; /* first failure */
} load_t;

/* Adds the clinic of one [clinic ID] section, or logs why it cannot. */
static void s_load_section(const char *section, void *arg)
{
    load_t *a = arg;
    const char *id = section + strlen(S_SECTION_PREFIX);
    const char *zone = ccm_config_get(a->cfg, section, "timezone", NULL);
    const char *type = ccm_config_get(a->cfg, section, "type", NULL);
    ccm_clinic_t ct;
    const char *why = NULL;
    int rc = CCM_EINVAL;
    if (!zone) {
        why = "timezone is required (an IANA name such as America/New_York)";
    } else if (type && ccm_rules_clinic_parse(type, &ct) != 0) {
        why = "needs an IANA timezone of the system tzdata and a type PHYSICIAN_PRACTICE, RHC or "
              "FQHC";
    } else {
        rc = s_add(a->clinics, id, zone, type, ccm_config_get(a->cfg, section, "name", NULL),
                   ccm_config_get(a->cfg, section, "place_of_service", NULL));
        if (rc == CCM_ENOMEM)
            why = "out of memory";
        else if (rc == CCM_ENOTFOUND)
            why = "timezone: no such zone in the system tzdata";
        else if (rc != 0)
            why = "clinic id may contain only letters, digits, '.', '_' and '-', and timezone "
                  "must be an IANA name";
    }
    if (rc == 0)
        return;
    ccm_error("event=config_error section=\"%s\" error=\"%s\"", section, why);
    if (a->rc == 0)
        a->rc = rc == CCM_ENOMEM ? CCM_ENOMEM : CCM_EINVAL;
}

int ccm_clinics_load(const ccm_config_t *cfg, ccm_clinics_t **out)
{
    *out = NULL;
    load_t a = {cfg, ccm_clinics_new(), 0};
    if (!a.clinics)
        return CCM_ENOMEM;
    ccm_config_each_section(cfg, S_SECTION_PREFIX, s_load_section, &a);
    if (a.rc != 0) {
        ccm_clinics_destroy(&a.clinics);
        return a.rc;
    }
    *out = a.clinics;
    return 0;
}
