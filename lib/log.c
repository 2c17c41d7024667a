/* log — `ts level component key=value…` lines on stderr, one write(2) per line so
 * lines of concurrent processes sharing a terminal or journal never interleave. */
#include "ccm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Set once at start-up (see log.h); read-only afterwards. */
static char s_component[32] = "ccm";
static int s_level = CCM_LOG_INFO;

static const char *const s_names[] = {"debug", "info", "warn", "error"};

void ccm_log_init(const char *component, int level)
{
    if (component)
        snprintf(s_component, sizeof s_component, "%s", component);
    if (level >= CCM_LOG_DEBUG && level <= CCM_LOG_ERROR)
        s_level = level;
}

int ccm_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, s_names[i]) == 0)
            return i;
    return -1;
}

void ccm_log(int level, const char *fmt, ...)
{
    if (level < s_level || level > CCM_LOG_ERROR)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_names[level], s_component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failed log write */
}
