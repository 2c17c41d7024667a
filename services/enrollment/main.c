/* ccm-enrollment — the enrollment service daemon. */
#include <stdio.h>
#include <string.h>

#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/service.h"
#include "enrollment.h"

typedef struct {
    ccm_enrollment_t *e;
    const ccm_config_t *cfg;
    int rc;
} clinics_arg_t;

static void s_add_clinic(const char *section, void *arg)
{
    clinics_arg_t *a = arg;
    const char *id = section + strlen("clinic ");
    const char *zone = ccm_config_get(a->cfg, section, "timezone", NULL);
    if (!zone) {
        ccm_error("event=config_error section=\"%s\" error=\"timezone is required (an IANA "
                  "name such as America/New_York)\"",
                  section);
        a->rc = -1;
        return;
    }
    int rc = ccm_enrollment_add_clinic(a->e, id, zone);
    if (rc != 0) {
        ccm_error("event=config_error section=\"%s\" error=\"%s\"", section,
                  rc == CCM_ENOTFOUND ? "timezone: no such zone in the system tzdata"
                                      : "clinic id may contain only letters, digits, '.', '_' "
                                        "and '-', and timezone must be an IANA name");
        a->rc = -1;
    }
}

static void *s_create(const ccm_config_t *cfg)
{
    ccm_enrollment_t *e = ccm_enrollment_new();
    if (!e)
        return NULL;
    clinics_arg_t a = {e, cfg, 0};
    ccm_config_each_section(cfg, "clinic ", s_add_clinic, &a);
    if (a.rc != 0) {
        ccm_enrollment_destroy(&e);
        return NULL;
    }
    return e;
}

static int s_bind(void *ctx, ccm_worker_t *w)
{
    return ccm_enrollment_bind(ctx, w);
}

static void s_destroy(void *ctx)
{
    ccm_enrollment_t *e = ctx;
    ccm_enrollment_destroy(&e);
}

int main(int argc, char **argv)
{
    const ccm_service_def_t def = {.name = CCM_ENROLLMENT_SERVICE,
                                   .dbs = ccm_enrollment_dbs,
                                   .schema_version = CCM_ENROLLMENT_SCHEMA,
                                   .handle = ccm_enrollment_handle,
                                   .create = s_create,
                                   .bind = s_bind,
                                   .destroy = s_destroy};
    return ccm_service_main(argc, argv, &def);
}
