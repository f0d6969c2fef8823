/* core/fault.c — the counter behind core/fault.h: every allocation of automodel's own code (in an
 * AM_FAULT_INJECT build) asks here whether it is the one to fail. */
#include "core/fault.h"
/* the build force-includes core/fault.h before this line: here the names are the C library's */
#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup
#undef posix_memalign
#include <errno.h>
#include <stdatomic.h>

static _Atomic uint64_t g_fail_at, g_count;
static atomic_bool g_fired, g_hold;

void am__fault_arm(uint64_t n) {
    atomic_store(&g_count, 0);
    atomic_store(&g_fired, false);
    atomic_store(&g_fail_at, n);
}

uint64_t am__fault_count(void) { return atomic_load(&g_count); }
bool am__fault_fired(void) { return atomic_load(&g_fired); }
void am__fault_hold(bool on) { atomic_store(&g_hold, on); }

#ifdef AM_FAULT_INJECT
/* true when this allocation is the armed one */
static bool fail_now(void) {
    uint64_t at = atomic_load_explicit(&g_fail_at, memory_order_relaxed);
    if (!at || atomic_load_explicit(&g_hold, memory_order_relaxed)) return false;
    if (atomic_fetch_add(&g_count, 1) + 1 != at) return false;
    atomic_store(&g_fired, true);
#if defined(__SANITIZE_ADDRESS__)
    if (getenv("AM_FAULT_TRACE")) { /* where the injected failure happens, for debugging the sweep */
        extern void __sanitizer_print_stack_trace(void);
        __sanitizer_print_stack_trace();
    }
#endif
    return true;
}

void *am__fi_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
void *am__fi_calloc(size_t n, size_t size) { return fail_now() ? NULL : calloc(n, size); }
void *am__fi_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }
char *am__fi_strdup(const char *s) { return fail_now() ? NULL : strdup(s); }
char *am__fi_strndup(const char *s, size_t n) { return fail_now() ? NULL : strndup(s, n); }
int am__fi_posix_memalign(void **p, size_t align, size_t n) { return fail_now() ? ENOMEM : posix_memalign(p, align, n); }
#endif
