/* ccmctl keygen — makes a CURVE key pair for one principal: NAME.key (the key
 * pair, mode 0600) and NAME.pub (public key, role and clinics) in ZeroMQ's
 * certificate format. Works offline: no broker, no configuration. */
#include <stdio.h>
#include <string.h>

#include "ccm/auth.h"
#include "ccm/error.h"
#include "ccmctl.h"

int ccmctl_keygen(int argc, char **argv, bool json)
{
    const char *name = NULL, *role = NULL, *dir = ".";
    char clinics[CCM_AUTH_CLINICS_MAX + 2] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--role") == 0 || strcmp(a, "--clinic") == 0 || strcmp(a, "--dir") == 0) {
            if (i + 1 >= argc)
                return ccmctl_usage("keygen: %s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--role") == 0) {
                role = v;
            } else if (strcmp(a, "--dir") == 0) {
                dir = v;
            } else {
                size_t used = strlen(clinics), n = strlen(v);
                if (used + n + 2 > sizeof clinics)
                    return ccmctl_usage("keygen: at most %d characters of clinics",
                                        CCM_AUTH_CLINICS_MAX);
                if (used)
                    clinics[used++] = ',';
                memcpy(clinics + used, v, n + 1);
            }
        } else if (a[0] == '-') {
            return ccmctl_usage("keygen: unknown option %s", a);
        } else if (name) {
            return ccmctl_usage("keygen takes one NAME");
        } else {
            name = a;
        }
    }
    if (!name)
        return ccmctl_usage("usage: keygen NAME [--role ROLE] [--clinic C]... [--dir D]");
    if (role && (strcmp(role, "coordinator") == 0 || strcmp(role, "telephony") == 0) && !clinics[0])
        return ccmctl_usage("keygen: a %s key is for given clinics: add --clinic C", role);
    if (role && strncmp(role, "service:", 8) == 0 && clinics[0])
        return ccmctl_usage("keygen: a service key serves every clinic: no --clinic");
    ccm_auth_cert_t c;
    char err[512];
    int rc = ccm_auth_keygen(dir, name, role, clinics, &c, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "ccmctl: keygen: %s\n", err);
        return rc == CCM_EINVAL ? CCMCTL_USAGE : CCMCTL_ERROR;
    }
    char principal[CCM_PRINCIPAL_MAX + 1] = "";
    if (role)
        ccm_auth_principal(&c, principal, sizeof principal);
    if (json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "name", c.name, "public_key", c.public_key,
                              "role", c.role, "clinics", c.clinics);
        if (j) {
            json_object_set_new(j, "key", json_sprintf("%s/%s.key", dir, name));
            json_object_set_new(j, "pub", json_sprintf("%s/%s.pub", dir, name));
            if (principal[0])
                json_object_set_new(j, "principal", json_string(principal));
        }
        ccmctl_print_json(j);
    } else {
        printf("wrote %s/%s.key (key pair, mode 0600: keep it secret)\n", dir, name);
        printf("wrote %s/%s.pub (public key %s)\n", dir, name, c.public_key);
        if (principal[0])
            printf("principal %s: copy %s.pub into the broker's allow directory to admit it\n",
                   principal, name);
        else
            printf("no role: fit for the broker's own key ([broker] key = %s/%s.key; its .pub "
                   "is every peer's broker_key)\n",
                   dir, name);
    }
    explicit_bzero(&c, sizeof c);
    return CCMCTL_OK;
}
