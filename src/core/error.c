/* core/error.c — thread-local error message and status names. */
#include "core/error.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];
static _Thread_local am_status g_code;
static _Thread_local unsigned long g_serial;

const char *am_last_error(void) { return g_msg; }

const char *am_status_name(am_status s) {
    static const char *names[] = {
#define AM__STATUS_NAME(code, name) name,
        AM_STATUS_TABLE(AM__STATUS_NAME)
#undef AM__STATUS_NAME
    };
    if ((int)s < 0 || s >= AM_STATUS_COUNT) return "unknown status";
    return names[s];
}

am_status am__verror(am_status code, const char *fmt, va_list ap) {
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    g_code = code;
    g_serial++;
    return code;
}

am_status am__error(am_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    am__verror(code, fmt, ap);
    va_end(ap);
    return code;
}

void am__error_prefix(const char *fmt, ...) {
    char prefix[1024], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t pl = strlen(prefix);
    if (pl + 2 >= sizeof g_msg) pl = sizeof g_msg - 3;
    memcpy(g_msg, prefix, pl);
    memcpy(g_msg + pl, ": ", 2);
    size_t ol = strlen(old);
    if (pl + 2 + ol >= sizeof g_msg) ol = sizeof g_msg - pl - 3;
    memcpy(g_msg + pl + 2, old, ol);
    g_msg[pl + 2 + ol] = 0;
}

void am__error_clear(void) {
    g_msg[0] = 0;
    g_code = AM_OK;
}

am_status am__error_code(void) { return g_code; }
unsigned long am__error_serial(void) { return g_serial; }

static _Atomic unsigned long g_oom_events;
void am__oom_note(void) { atomic_fetch_add(&g_oom_events, 1); }
unsigned long am__oom_events(void) { return atomic_load(&g_oom_events); }

/* process-wide: set once by the caller before anything runs, read by any thread */
static _Atomic int g_naming = AM_NAMING_API;
void am_set_option_naming(am_option_naming naming) { g_naming = naming == AM_NAMING_CLI ? AM_NAMING_CLI : AM_NAMING_API; }
am_option_naming am_get_option_naming(void) { return (am_option_naming)g_naming; }
const char *am__opt_name(const char *api, const char *cli) { return g_naming == AM_NAMING_CLI ? cli : api; }

void am__assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "automodel: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

void am_free(void *p) { free(p); }

const char *am_version(void) { return "0.1.0"; }
