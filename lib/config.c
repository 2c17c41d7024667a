/* config — INI files parsed by inih into an ordered list of (section, key, value).
 * Small by nature (tens of entries), so lookups are linear; later entries win,
 * which is how command-line overrides (ccm_config_set) take precedence. */
#include "ccm/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"

typedef struct {
    char *section; /* owned */
    char *key;     /* owned */
    char *value;   /* owned */
} entry_t;

struct ccm_config {
    entry_t *entries; /* in file order; set() replaces in place */
    size_t n;         /* entries used */
    size_t cap;       /* entries allocated */
};

ccm_config_t *ccm_config_new(void)
{
    return calloc(1, sizeof(ccm_config_t));
}

void ccm_config_destroy(ccm_config_t **p)
{
    if (!p || !*p)
        return;
    ccm_config_t *c = *p;
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].section);
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c);
    *p = NULL;
}

static entry_t *s_find(const ccm_config_t *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].section, section) == 0 && strcmp(c->entries[i].key, key) == 0)
            return &c->entries[i];
    return NULL;
}

int ccm_config_set(ccm_config_t *c, const char *section, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return CCM_ENOMEM;
    entry_t *e = s_find(c, section, key);
    if (e) {
        free(e->value);
        e->value = v;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        entry_t *n = realloc(c->entries, cap * sizeof *n);
        if (!n) {
            free(v);
            return CCM_ENOMEM;
        }
        c->entries = n;
        c->cap = cap;
    }
    e = &c->entries[c->n];
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = v;
    if (!e->section || !e->key) {
        free(e->section);
        free(e->key);
        free(v);
        return CCM_ENOMEM;
    }
    c->n++;
    return 0;
}

static int s_handler(void *arg, const char *section, const char *key, const char *value)
{
    /* inih: nonzero = ok. A key repeated in one section: the last one wins. */
    return ccm_config_set(arg, section, key, value) == 0;
}

int ccm_config_load(const char *path, ccm_config_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (err)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? CCM_ENOTFOUND : CCM_EIO;
    }
    ccm_config_t *c = ccm_config_new();
    if (!c) {
        fclose(f);
        return CCM_ENOMEM;
    }
    int line = ini_parse_file(f, s_handler, c);
    fclose(f);
    if (line != 0) {
        if (err) {
            if (line > 0)
                snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
                         path, line);
            else
                snprintf(err, errlen, "%s: cannot parse (out of memory)", path);
        }
        ccm_config_destroy(&c);
        return line > 0 ? CCM_EINVAL : CCM_ENOMEM;
    }
    *out = c;
    return 0;
}

const char *ccm_config_get(const ccm_config_t *c, const char *section, const char *key,
                           const char *def)
{
    const entry_t *e = c ? s_find(c, section, key) : NULL;
    return e ? e->value : def;
}

int ccm_config_get_int(const ccm_config_t *c, const char *section, const char *key, long long def,
                       long long *out)
{
    const char *v = ccm_config_get(c, section, key, NULL);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno == ERANGE)
        return CCM_EINVAL;
    long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1024LL;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024LL * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024LL * 1024 * 1024;
        end++;
        break;
    default: break;
    }
    if (*end != '\0')
        return CCM_EINVAL;
    if (n > 0 && n > __LONG_LONG_MAX__ / mul)
        return CCM_EINVAL;
    *out = n * mul;
    return 0;
}

void ccm_config_each_section(const ccm_config_t *c, const char *prefix,
                             void (*fn)(const char *section, void *arg), void *arg)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->entries[i].section;
        if (strncmp(s, prefix, plen) != 0)
            continue;
        /* once per section: only at its first entry */
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->entries[j].section, s) == 0;
        if (!seen)
            fn(s, arg);
    }
}
