/* ccm-billing — the billing service daemon. [billing] close_after_days: months
 * close automatically this many days after they end (default 3; 0 = only by
 * `ccmctl month close`); timely_filing_months: no new claim for a date of service
 * more than this many months before today (default 12, 0 = not checked; a claim
 * made in time stands); fees: the fee table directory. */
#include "billing.h"
#include "ccm/config.h"
#include "ccm/log.h"
#include "ccm/service.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

static void *s_create(const ccm_config_t *cfg)
{
    long long days = 3;
    if (ccm_config_get_int(cfg, "billing", "close_after_days", 3, &days) != 0 || days < 0 ||
        days > 28) {
        ccm_error("event=config_error section=billing error=\"close_after_days must be 0-28\"");
        return NULL;
    }
    long long filing = 12;
    if (ccm_config_get_int(cfg, "billing", "timely_filing_months", 12, &filing) != 0 ||
        filing < 0 || filing > 120) {
        ccm_error("event=config_error section=billing error=\"timely_filing_months must be "
                  "0-120\"");
        return NULL;
    }
    ccm_clinics_t *clinics = NULL;
    if (ccm_clinics_load(cfg, &clinics) != 0)
        return NULL;
    ccm_billing_t *b =
        ccm_billing_new(ccm_config_get(cfg, "billing", "fees", CCM_FEES_DIR_DEFAULT), (int)days);
    if (!b) {
        ccm_clinics_destroy(&clinics);
        return NULL;
    }
    ccm_billing_set_clinics(b, clinics);
    ccm_billing_set_timely_filing_months(b, (int)filing); /* in range: checked above */
    return b;
}

static int s_bind(void *ctx, ccm_worker_t *w)
{
    return ccm_billing_bind(ctx, w);
}

static void s_destroy(void *ctx)
{
    ccm_billing_t *b = ctx;
    ccm_billing_destroy(&b);
}

int main(int argc, char **argv)
{
    const ccm_service_def_t def = {.name = CCM_BILLING_SERVICE,
                                   .dbs = ccm_billing_dbs,
                                   .schema_version = CCM_BILLING_SCHEMA,
                                   .handle = ccm_billing_handle,
                                   .create = s_create,
                                   .bind = s_bind,
                                   .destroy = s_destroy};
    return ccm_service_main(argc, argv, &def);
}
