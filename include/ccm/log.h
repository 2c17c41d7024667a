/* log — one line per event on stderr: `ts level component key=value…`.
 * Suitable for journald. The only global state is the level and component name,
 * set once at start-up before any thread or loop runs. */
#ifndef CCM_LOG_H
#define CCM_LOG_H

enum { CCM_LOG_DEBUG = 0, CCM_LOG_INFO = 1, CCM_LOG_WARN = 2, CCM_LOG_ERROR = 3 };

/* Sets the component name printed on every line (copied) and the minimum level. */
void ccm_log_init(const char *component, int level);
/* Parses "debug|info|warn|error"; returns the level or -1. */
int ccm_log_level_parse(const char *name);
/* Logs one line. fmt should be key=value pairs, e.g. "event=start port=%d". */
void ccm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ccm_debug(...) ccm_log(CCM_LOG_DEBUG, __VA_ARGS__)
#define ccm_info(...) ccm_log(CCM_LOG_INFO, __VA_ARGS__)
#define ccm_warn(...) ccm_log(CCM_LOG_WARN, __VA_ARGS__)
#define ccm_error(...) ccm_log(CCM_LOG_ERROR, __VA_ARGS__)

#endif
