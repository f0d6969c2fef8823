/* core/util.h — small shared utilities: files, paths, growable buffers, strings. */
#ifndef AM_CORE_UTIL_H
#define AM_CORE_UTIL_H
#include "automodel.h"

/* The one way the library opens a file to read (am__read_file, am__mapping_open): opened with
 * O_NONBLOCK so that a FIFO or a device cannot block the open, then fstat: regular files only
 * (AM_ERR_IO naming what it is), O_NONBLOCK cleared. Returns the fd (O_CLOEXEC) and sets *size, or
 * -1 with am__error set (AM_ERR_NOT_FOUND, AM_ERR_IO; a NULL path is AM_ERR_NO_MEMORY). */
int am__open_regular(const char *path, size_t *size);
/* The folder a model's files must resolve into (malloc'd realpath; NULL when `dir` does not
 * resolve): `dir` itself, or for a hub-cache snapshot (.../snapshots/<commit>[/<subfolder>]) the
 * repo folder above snapshots/, where its links into blobs/ point. */
char *am__model_root(const char *dir);
/* `path`, symlinks resolved, must stay inside am__model_root(model_dir): AM_ERR_IO otherwise.
 * A path that does not resolve passes (the open that follows reports it). */
am_status am__check_confined(const char *path, const char *model_dir);
/* Memory this process can still allocate without swapping, in bytes: MemAvailable from
 * /proc/meminfo (else free pages from sysconf), lowered to a cgroup v2 limit when one applies;
 * AM_MEM_AVAILABLE (bytes) overrides it (tests). 0 when unknown. *source (optional) names where
 * the number came from, for messages. */
uint64_t am__mem_available(const char **source);
/* Read a whole file (NUL-terminated, *len excludes the NUL). Error names the path. */
am_status am__read_file(const char *path, char **out, size_t *len);
/* Write `data` to path atomically: PATH.tmp.<pid> then rename; nothing is left on failure. */
am_status am__write_file_atomic(const char *path, const void *data, size_t len);
/* "a" + "/" + "b" (malloc'd; NULL with AM_ERR_NO_MEMORY set when out of memory). The file
 * functions here (read, write, mkdirs) take a NULL path as that failure: AM_ERR_NO_MEMORY. */
char *am__path_join(const char *a, const char *b);
bool am__is_dir(const char *path);
bool am__is_file(const char *path);
/* mkdir -p */
am_status am__mkdirs(const char *path);

/* A growable byte buffer. */
typedef struct am__buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed: contents are incomplete */
} am__buf;
void am__buf_put(am__buf *b, const void *p, size_t n);
void am__buf_puts(am__buf *b, const char *s);
void am__buf_printf(am__buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Returns the NUL-terminated string and hands ownership to the caller. */
char *am__buf_take(am__buf *b);
void am__buf_free(am__buf *b);

char *am__strdup(const char *s);
/* printf into a fresh malloc'd string (NULL when out of memory). */
char *am__strfmt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The options-struct `size` contract (one place for every public *_options struct): `dst` holds
 * our defaults and is `ours` bytes; the caller's struct `src` (NULL = keep the defaults) starts
 * with its own size and is copied over the defaults for that many bytes, so fields a caller built
 * against an older, smaller header does not know keep their defaults. A size of 0 (a struct not
 * made by am_*_options_default()), smaller than the size field itself, or larger than ours (a
 * newer header than this library) is refused; `what` is the struct's type name. dst's size becomes ours. */
am_status am__opts_in(void *dst, size_t ours, const void *src, const char *what);
/* Type-checked form: `dst` an options struct, `src` a pointer to the same type. */
#define AM__OPTS_IN(dst, src, what) \
    ((void)sizeof((src) == &(dst)), am__opts_in(&(dst), sizeof(dst), (src), (what)))
/* Python's repr of a float as json.dumps writes it (shortest round-trip, "1e-12", "0.1", "1.0"). */
void am__format_py_float(double v, char *buf, size_t n);
#endif
