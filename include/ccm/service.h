/* service — the main() every ccm service daemon shares: flags, the INI file,
 * logging, signals, the worker host, and a clean stop on SIGTERM/SIGINT.
 *
 *   ccm-<name> [--config FILE] [--broker EP] [--doorbell EP] [--data DIR]
 *              [--key FILE.key --broker-key FILE.pub] [--log-level L] [--help]
 *
 * Settings come from section [<name>] of FILE (default: none, built-in
 * defaults = deploy/ccm.conf's), then the flags. With key and broker_key every
 * socket is CURVE (the key's role must be service:<name> for the broker to let
 * it register); without them every endpoint must be loopback. */
#ifndef CCM_SERVICE_H
#define CCM_SERVICE_H

#include <signal.h>

#include "ccm/config.h"
#include "ccm/worker.h"

typedef struct {
    const char *name;       /* service and config section, e.g. "enrollment" */
    const char *const *dbs; /* the service's databases */
    uint32_t schema_version;
    ccm_worker_handler_fn handle;
    /* Builds the handler context from the configuration before the store opens;
     * NULL on error (logged). */
    void *(*create)(const ccm_config_t *cfg);
    /* Binds the context to the open worker (db handles). 0 or an error (logged). */
    int (*bind)(void *ctx, ccm_worker_t *w);
    void (*destroy)(void *ctx);
} ccm_service_def_t;

/* Makes SIGINT and SIGTERM set the returned flag (the process's one global) so a
 * poll loop can finish what it holds and stop cleanly. */
volatile sig_atomic_t *ccm_service_stop_on_signals(void);

/* Runs the service until SIGTERM/SIGINT. Returns the process exit code:
 * 0 stopped cleanly, 1 could not start (logged), 2 usage. */
int ccm_service_main(int argc, char **argv, const ccm_service_def_t *def);

#endif
