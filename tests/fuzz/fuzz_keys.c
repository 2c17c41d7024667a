/* Fuzz target of the key-file readers (lib/auth.c): any bytes as a secret key
 * file and as a public certificate, and an allow directory holding them. The
 * readers must refuse or accept without crashing, and what they accept must be
 * a well-formed certificate: Z85 keys of 40 characters, a valid role or none. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccm/auth.h"
#include "ccm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_dir[64];

static void s_check(const ccm_auth_cert_t *c, int rc)
{
    if (rc != 0)
        return;
    if (strlen(c->public_key) != CCM_AUTH_KEY_LEN || (c->role[0] && !ccm_auth_role_valid(c->role)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_dir[0]) {
        ccm_log_init("fuzz", CCM_LOG_ERROR);
        snprintf(s_dir, sizeof s_dir, "/tmp/ccm-fuzz-keys-XXXXXX");
        if (!mkdtemp(s_dir))
            abort();
    }
    char key[128], pub[128], err[512];
    snprintf(key, sizeof key, "%s/x.key", s_dir);
    snprintf(pub, sizeof pub, "%s/x.pub", s_dir);
    FILE *f = fopen(key, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    chmod(key, 0600);
    rename(key, pub);
    f = fopen(key, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
    chmod(key, 0600);
    ccm_auth_cert_t c;
    s_check(&c, ccm_auth_load_secret(key, &c, err, sizeof err));
    s_check(&c, ccm_auth_load_public(pub, &c, err, sizeof err));
    ccm_auth_allow_t *a = NULL;
    if (ccm_auth_allow_load(s_dir, &a) == 0) {
        for (size_t i = 0; i < ccm_auth_allow_size(a); i++)
            if (!ccm_auth_allow_find(a, ccm_auth_allow_at(a, i)->public_key))
                abort();
        ccm_auth_allow_destroy(&a);
    }
    unlink(key);
    unlink(pub);
    return 0;
}
