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
/* The code of the last am__error on this thread (AM_OK after am__error_clear): the status behind
 * a NULL returned by a constructor, for tests. */
am_status am__error_code(void);
/* Counts am__error calls on this thread: compare before and after a callee to know whether it
 * reported its failure (a stale message from an earlier call is not this failure's). */
unsigned long am__error_serial(void);

/* Out of memory inside a helper that returns nothing (a kernel, a linear layer, an OpenMP task):
 * it calls am__oom_note() and returns without computing. The public entry point that ran it
 * (forward, generate) compares am__oom_events() before and after and fails with AM_ERR_NO_MEMORY
 * instead of returning what was computed. The count is process-wide, so under real memory
 * exhaustion a concurrent call on another thread may fail too: it never returns a wrong result. */
void am__oom_note(void);
unsigned long am__oom_events(void);

/* Programmer-error assertion: the one abort in the library. Kept only for invariants that a bug
 * in automodel itself would break (never for input or memory); each use says why. */
#define AM_ASSERT(cond)                                                            \
    do {                                                                           \
        if (!(cond)) am__assert_fail(#cond, __FILE__, __LINE__);                   \
    } while (0)
void am__assert_fail(const char *expr, const char *file, int line);

#endif
