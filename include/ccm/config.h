/* config — the INI file (inih) every process reads its own section of.
 * Values are strings; later set() calls (command-line flags) override the file. */
#ifndef CCM_CONFIG_H
#define CCM_CONFIG_H

#include <stddef.h>

typedef struct ccm_config ccm_config_t;

/* Returns an empty configuration, or NULL when out of memory. */
ccm_config_t *ccm_config_new(void);
/* Loads path into a new configuration. On a parse error returns CCM_EINVAL and
 * writes "path:line: message" into err; a missing file is CCM_ENOTFOUND. */
int ccm_config_load(const char *path, ccm_config_t **out, char *err, size_t errlen);
void ccm_config_destroy(ccm_config_t **p);

/* Sets (or replaces) section.key = value; strings are copied. 0 or CCM_ENOMEM. */
int ccm_config_set(ccm_config_t *c, const char *section, const char *key, const char *value);
/* The value, borrowed until the configuration changes, or def when absent. */
const char *ccm_config_get(const ccm_config_t *c, const char *section, const char *key,
                           const char *def);
/* Integer value (decimal, optional k/M/G suffix = ×1024ⁿ). 0, or CCM_EINVAL when the
 * value is not a whole number (*out untouched); def when absent. */
int ccm_config_get_int(const ccm_config_t *c, const char *section, const char *key, long long def,
                       long long *out);
/* Calls fn for every section whose name starts with prefix (e.g. "clinic "), in file order. */
void ccm_config_each_section(const ccm_config_t *c, const char *prefix,
                             void (*fn)(const char *section, void *arg), void *arg);

#endif
