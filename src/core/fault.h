/* core/fault.h — allocation-failure injection, compiled in only with -DAM_FAULT_INJECT=ON (the
 * ASan build turns it on). CMake force-includes this header into every library source, so each
 * malloc/calloc/realloc/strdup/strndup/posix_memalign written in src/ goes through one counter in
 * core/fault.c; third-party libraries (cJSON, oneDNN, curl, PCRE2, ...) allocate as usual. A test
 * arms the counter with N and the N-th allocation made by automodel's own code returns NULL (once),
 * as SQLite's tests fail the N-th malloc in turn. */
#ifndef AM_CORE_FAULT_H
#define AM_CORE_FAULT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Fail the n-th allocation from now on (once); 0 disarms. Resets the counters. */
void am__fault_arm(uint64_t n);
/* Allocations made since the last am__fault_arm, and whether the armed one has failed. */
uint64_t am__fault_count(void);
bool am__fault_fired(void);
/* Suspend (true) or resume counting and failing, keeping the counters (a test's own checks). */
void am__fault_hold(bool on);

#ifdef AM_FAULT_INJECT
void *am__fi_malloc(size_t n);
void *am__fi_calloc(size_t n, size_t size);
void *am__fi_realloc(void *p, size_t n);
char *am__fi_strdup(const char *s);
char *am__fi_strndup(const char *s, size_t n);
int am__fi_posix_memalign(void **p, size_t align, size_t n);
#undef strdup
#undef strndup
#define malloc(n) am__fi_malloc(n)
#define calloc(n, size) am__fi_calloc(n, size)
#define realloc(p, n) am__fi_realloc(p, n)
#define strdup(s) am__fi_strdup(s)
#define strndup(s, n) am__fi_strndup(s, n)
#define posix_memalign(p, align, n) am__fi_posix_memalign(p, align, n)
#endif
#endif
