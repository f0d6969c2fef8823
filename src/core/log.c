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

/* The level is read by every thread (relaxed atomics: a plain int, set rarely). */
void am_log_set_level(am_log_level level) { __atomic_store_n(&g_level, (int)level, __ATOMIC_RELAXED); }
am_log_level am_log_get_level(void) {
    int l = __atomic_load_n(&g_level, __ATOMIC_RELAXED);
    if (l < 0) {
        int want = (int)level_from_env(), expected = -1;
        __atomic_compare_exchange_n(&g_level, &expected, want, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        l = __atomic_load_n(&g_level, __ATOMIC_RELAXED);
    }
    return (am_log_level)l;
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
