/* core/log.c — levelled logging; the level comes from am_log_set_level or AM_LOG_LEVEL. */
#include "core/log.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int g_level = -1;
static am_log_fn g_fn;
static void *g_user;

static am_log_level level_from_env(void) {
    const char *s = getenv("AM_LOG_LEVEL");
    if (!s) return AM_LOG_WARNING;
    if (!strcasecmp(s, "debug")) return AM_LOG_DEBUG;
    if (!strcasecmp(s, "info")) return AM_LOG_INFO;
    if (!strcasecmp(s, "warning") || !strcasecmp(s, "warn")) return AM_LOG_WARNING;
    if (!strcasecmp(s, "error")) return AM_LOG_ERROR;
    if (!strcasecmp(s, "off") || !strcasecmp(s, "none")) return AM_LOG_OFF;
    return AM_LOG_WARNING;
}

void am_log_set_level(am_log_level level) { g_level = (int)level; }
am_log_level am_log_get_level(void) {
    if (g_level < 0) g_level = (int)level_from_env();
    return (am_log_level)g_level;
}
void am_log_set_callback(am_log_fn fn, void *user) {
    g_fn = fn;
    g_user = user;
}
bool am__log_enabled(am_log_level level) { return level >= am_log_get_level(); }

void am__log(am_log_level level, const char *fmt, ...) {
    if (!am__log_enabled(level)) return;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (g_fn) {
        g_fn(level, buf, g_user);
        return;
    }
    const char *tag = level >= AM_LOG_ERROR ? "error" : level >= AM_LOG_WARNING ? "warning" : level >= AM_LOG_INFO ? "info" : "debug";
    fprintf(stderr, "automodel %s: %s\n", tag, buf);
}
