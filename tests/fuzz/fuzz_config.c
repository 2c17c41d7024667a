/* fuzz_config — arbitrary bytes as an INI file: parse, look up, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ccm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_noop(const char *section, void *arg)
{
    (void)section;
    (*(int *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/ccm-fuzz-conf-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    ccm_config_t *c = NULL;
    char err[256];
    if (ccm_config_load(path, &c, err, sizeof err) == 0) {
        long long v;
        ccm_config_get(c, "broker", "endpoint", NULL);
        ccm_config_get_int(c, "broker", "max_msg_size", 0, &v);
        int n = 0;
        ccm_config_each_section(c, "clinic ", s_noop, &n);
        ccm_config_destroy(&c);
    }
    unlink(path);
    return 0;
}
