/* ccm-timetrack — the time tracking service daemon. */
#include "ccm/clinics.h"
#include "ccm/config.h"
#include "ccm/service.h"
#include "timetrack.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

static void *s_create(const ccm_config_t *cfg)
{
    ccm_timetrack_t *t =
        ccm_timetrack_new(ccm_config_get(cfg, "timetrack", "fees", CCM_FEES_DIR_DEFAULT));
    if (!t)
        return NULL;
    ccm_clinics_t *clinics;
    if (ccm_clinics_load(cfg, &clinics) != 0) {
        ccm_timetrack_destroy(&t);
        return NULL;
    }
    ccm_timetrack_set_clinics(t, clinics);
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
