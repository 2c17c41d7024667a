/* fees_load — I/O half of the fee table: read every <year>.csv of a directory
 * (deploy/fees/) and hand the text to the pure parser. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/rules.h"

/* A fee file is a few KiB; anything larger is not one. */
#define S_FEE_FILE_MAX (1024 * 1024)

static int s_year_of(const char *name)
{
    /* exactly "YYYY.csv" */
    if (strlen(name) != 8 || strcmp(name + 4, ".csv") != 0)
        return -1;
    int y = 0;
    for (int i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        y = y * 10 + (name[i] - '0');
    }
    return y;
}

int ccm_fees_load_dir(ccm_fees_t *fees, const char *dir, char *err, size_t errlen)
{
    ccm_fees_init(fees);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return errno == ENOENT ? CCM_ENOTFOUND : CCM_EIO;
    }
    int rc = 0, files = 0;
    char *buf = malloc(S_FEE_FILE_MAX);
    if (!buf) {
        closedir(d);
        return CCM_ENOMEM;
    }
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int year = s_year_of(de->d_name);
        if (year < 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = CCM_EIO;
            break;
        }
        size_t n = fread(buf, 1, S_FEE_FILE_MAX, f);
        bool bad = ferror(f) || n == S_FEE_FILE_MAX;
        fclose(f);
        if (bad) {
            snprintf(err, errlen, "%s: read error or too large", path);
            rc = CCM_EIO;
            break;
        }
        char perr[200];
        if (ccm_fees_parse_csv(fees, year, buf, n, perr, sizeof perr) != 0) {
            snprintf(err, errlen, "%s: %s", path, perr);
            rc = CCM_EINVAL;
            break;
        }
        files++;
    }
    closedir(d);
    free(buf);
    if (rc == 0 && files == 0) {
        snprintf(err, errlen, "%s: no <year>.csv fee file", dir);
        rc = CCM_ENOTFOUND;
    }
    return rc;
}
