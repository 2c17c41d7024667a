/* ccm-timetrack — the time tracking service daemon. */
#include <string.h>

#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/service.h"
#include "timetrack.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

typedef struct {
    ccm_timetrack_t *t;
    const ccm_config_t *cfg;
    int rc;
} clinics_arg_t;

static void s_add_clinic(const char *section, void *arg)
{
    clinics_arg_t *a = arg;
    const char *zone = ccm_config_get(a->cfg, section, "timezone", NULL);
    const char *type = ccm_config_get(a->cfg, section, "type", "PHYSICIAN_PRACTICE");
    if (!zone || ccm_timetrack_add_clinic(a->t, section + strlen("clinic "), zone, type) != 0) {
        ccm_error("event=config_error section=\"%s\" error=\"needs an IANA timezone of the "
                  "system tzdata and a type PHYSICIAN_PRACTICE, RHC or FQHC\"",
                  section);
        a->rc = -1;
    }
}

static void *s_create(const ccm_config_t *cfg)
{
    ccm_timetrack_t *t =
        ccm_timetrack_new(ccm_config_get(cfg, "timetrack", "fees", CCM_FEES_DIR_DEFAULT));
    if (!t)
        return NULL;
    clinics_arg_t a = {t, cfg, 0};
    ccm_config_each_section(cfg, "clinic ", s_add_clinic, &a);
    if (a.rc != 0)
        ccm_timetrack_destroy(&t);
    return t;
}

static int s_bind(void *ctx, ccm_worker_t *w)
{
    return ccm_timetrack_bind(ctx, w);
}

static void s_destroy(void *ctx)
{
    ccm_timetrack_t *t = ctx;
    ccm_timetrack_destroy(&t);
}

int main(int argc, char **argv)
{
    const ccm_service_def_t def = {.name = CCM_TIMETRACK_SERVICE,
                                   .dbs = ccm_timetrack_dbs,
                                   .schema_version = CCM_TIMETRACK_SCHEMA,
                                   .handle = ccm_timetrack_handle,
                                   .create = s_create,
                                   .bind = s_bind,
                                   .destroy = s_destroy};
    return ccm_service_main(argc, argv, &def);
}
