/* ccm-enrollment — the enrollment service daemon. */
#include "ccm/clinics.h"
#include "ccm/config.h"
#include "ccm/service.h"
#include "enrollment.h"

static void *s_create(const ccm_config_t *cfg)
{
    ccm_enrollment_t *e = ccm_enrollment_new();
    if (!e)
        return NULL;
    ccm_clinics_t *clinics;
    if (ccm_clinics_load(cfg, &clinics) != 0) {
        ccm_enrollment_destroy(&e);
        return NULL;
    }
    ccm_enrollment_set_clinics(e, clinics);
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
