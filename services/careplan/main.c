/* ccm-careplan — the care plan service daemon. Settings of [careplan]:
 * review_check_ms (how often review dates are checked, default 60000) besides
 * the ones every service has; clinics and their time zones from [clinic ID]. */
#include "careplan.h"
#include "ccm/clinics.h"
#include "ccm/config.h"
#include "ccm/log.h"
#include "ccm/service.h"

static void *s_create(const ccm_config_t *cfg)
{
    ccm_careplan_t *cp = ccm_careplan_new();
    if (!cp)
        return NULL;
    long long ms = 0;
    if (ccm_config_get_int(cfg, CCM_CAREPLAN_SERVICE, "review_check_ms",
                           CCM_CAREPLAN_REVIEW_CHECK_MS, &ms) != 0 ||
        ms < 10 || ms > 86400000LL) {
        ccm_error("event=config_error section=careplan error=\"review_check_ms must be 10 to "
                  "86400000\"");
        ccm_careplan_destroy(&cp);
        return NULL;
    }
    ccm_careplan_set_review_check(cp, (int)ms);
    ccm_clinics_t *clinics;
    if (ccm_clinics_load(cfg, &clinics) != 0) {
        ccm_careplan_destroy(&cp);
        return NULL;
    }
    ccm_careplan_set_clinics(cp, clinics);
    return cp;
}

static int s_bind(void *ctx, ccm_worker_t *w)
{
    return ccm_careplan_bind(ctx, w);
}

static void s_destroy(void *ctx)
{
    ccm_careplan_t *cp = ctx;
    ccm_careplan_destroy(&cp);
}

int main(int argc, char **argv)
{
    const ccm_service_def_t def = {.name = CCM_CAREPLAN_SERVICE,
                                   .dbs = ccm_careplan_dbs,
                                   .schema_version = CCM_CAREPLAN_SCHEMA,
                                   .handle = ccm_careplan_handle,
                                   .create = s_create,
                                   .bind = s_bind,
                                   .destroy = s_destroy};
    return ccm_service_main(argc, argv, &def);
}
