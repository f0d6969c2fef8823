/* core/error.h — the library's error values and the thread-local message behind am_last_error().
 * Every layer reports failure by returning an am_status (or NULL) after calling am__error(),
 * whose message names the file, key or offset and what was expected. */
#ifndef AM_CORE_ERROR_H
#define AM_CORE_ERROR_H
#include "automodel.h"
#include <stdarg.h>

/* Set the thread-local message and return `code` (so callers can `return am__error(...)`). */
am_status am__error(am_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
am_status am__verror(am_status code, const char *fmt, va_list ap);
/* Prefix the current message with "prefix: " (adds context while unwinding). */
void am__error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void am__error_clear(void);
/* The caller's spelling of an option in a message: `api` (keyword argument) or `cli` (flag), per
 * am_set_option_naming. Both are static strings. */
const char *am__opt_name(const char *api, const char *cli);

/* Programmer-error assertion: the one abort in the library. */
#define AM_ASSERT(cond)                                                            \
    do {                                                                           \
        if (!(cond)) am__assert_fail(#cond, __FILE__, __LINE__);                   \
    } while (0)
void am__assert_fail(const char *expr, const char *file, int line);

#endif
