/* tz_load — the one I/O step of the time-zone module: read a TZif file from the
 * system tzdata (Debian package tzdata) and hand the bytes to ccm_tz_parse(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/tz.h"

/* Largest TZif file we accept; real ones are < 4 KiB. */
#define S_TZIF_MAX (256 * 1024)

static bool s_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= CCM_TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '+' || c == '-'))
            return false;
    }
    return true;
}

int ccm_tz_load(ccm_tz_t *tz, const char *name)
{
    if (!name || !s_name_ok(name))
        return CCM_EINVAL;
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return CCM_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT || errno == ENOTDIR ? CCM_ENOTFOUND : CCM_EIO;
    uint8_t *buf = malloc(S_TZIF_MAX);
    if (!buf) {
        fclose(f);
        return CCM_ENOMEM;
    }
    size_t len = fread(buf, 1, S_TZIF_MAX, f);
    int rc = ferror(f) ? CCM_EIO : 0;
    fclose(f);
    if (rc == 0)
        rc = ccm_tz_parse(tz, name, buf, len);
    free(buf);
    return rc;
}
