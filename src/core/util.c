/* core/util.c — files, paths, buffers and Python-compatible number formatting. */
#include "core/util.h"
#include "core/error.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

am_status am__read_file(const char *path, char **out, size_t *len) {
    if (!path) return am__error(AM_ERR_NO_MEMORY, "out of memory (building a file path)"); /* a failed am__path_join */
    FILE *f = fopen(path, "rb");
    if (!f) return am__error(errno == ENOENT ? AM_ERR_NOT_FOUND : AM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return am__error(AM_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return am__error(AM_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return am__error(AM_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return AM_OK;
}

am_status am__write_file_atomic(const char *path, const void *data, size_t len) {
    if (!path) return am__error(AM_ERR_NO_MEMORY, "out of memory (building a file path)"); /* a failed am__path_join */
    size_t n = strlen(path) + 64;
    char *tmp = malloc(n);
    if (!tmp) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    /* unique per process and call: two threads writing one path (two downloads of one repo write
     * its refs/main) must not share a temporary file, or one rename finds it gone */
    static unsigned long seq;
    snprintf(tmp, n, "%s.tmp.%d.%lu", path, (int)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        am_status s = am__error(AM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    bool ok = (len == 0 || fwrite(data, 1, len, f) == len);
    ok = (fflush(f) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        am_status s = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    return AM_OK;
}

char *am__path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    memcpy(r, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/') r[o++] = '/';
    memcpy(r + o, b, lb + 1);
    return r;
}

bool am__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
bool am__is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

am_status am__mkdirs(const char *path) {
    if (!path) return am__error(AM_ERR_NO_MEMORY, "out of memory (building a file path)"); /* a failed am__path_join */
    char *p = am__strdup(path);
    if (!p) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            am_status s = am__error(AM_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return s;
        }
        *q = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        am_status s = am__error(AM_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return s;
    }
    free(p);
    if (!am__is_dir(path)) return am__error(AM_ERR_IO, "%s: exists and is not a directory", path);
    return AM_OK;
}

void am__buf_put(am__buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}
void am__buf_puts(am__buf *b, const char *s) { am__buf_put(b, s, strlen(s)); }
void am__buf_printf(am__buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        am__buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    am__buf_put(b, big, (size_t)n);
    free(big);
}
char *am__buf_take(am__buf *b) {
    if (b->failed) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
        b->failed = false; /* empty again, and usable */
        return NULL;
    }
    if (!b->data) am__buf_put(b, "", 0);
    char *r = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return r;
}
void am__buf_free(am__buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *am__strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}

char *am__strfmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *r = malloc((size_t)n + 1);
    if (!r) return NULL;
    va_start(ap, fmt);
    vsnprintf(r, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return r;
}

am_status am__opts_in(void *dst, size_t ours, const void *src, const char *what) {
    if (!src) return AM_OK;
    size_t size;
    memcpy(&size, src, sizeof size);
    if (size < sizeof size)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "%s.size is %zu; start from %s_default(), which sets it to sizeof(%s)", what, size,
                         what, what);
    if (size > ours)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "%s.size is %zu but this library's %s has %zu bytes: the program was built "
                         "against a newer automodel.h than the library it runs with",
                         what, size, what, ours);
    memcpy(dst, src, size);
    memcpy(dst, &ours, sizeof ours);
    return AM_OK;
}

void am__format_py_float(double v, char *buf, size_t n) {
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    /* shortest repr that round-trips */
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* Python's repr: exponent when exp < -4 or >= 16, written like 1e-12 / 1e+16 */
    char *e = strchr(tmp, 'e');
    if (e) {
        int ex = atoi(e + 1);
        char mant[32];
        size_t ml = (size_t)(e - tmp) < sizeof mant ? (size_t)(e - tmp) : sizeof mant - 1;
        memcpy(mant, tmp, ml);
        mant[ml] = 0;
        if (ex >= -4 && ex < 16) {
            snprintf(tmp, sizeof tmp, "%.17g", v); /* fall back to fixed below */
            char fixed[64];
            for (int prec = 0; prec <= 20; prec++) {
                snprintf(fixed, sizeof fixed, "%.*f", prec, v);
                if (strtod(fixed, NULL) == v) break;
            }
            snprintf(tmp, sizeof tmp, "%s", fixed);
        } else {
            snprintf(tmp, sizeof tmp, "%se%c%02d", mant, ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
        }
    }
    if (!strchr(tmp, 'e') && !strchr(tmp, '.') && !strchr(tmp, 'n') && !strchr(tmp, 'I')) {
        size_t l = strlen(tmp);
        if (l + 2 < sizeof tmp) memcpy(tmp + l, ".0", 3);
    }
    snprintf(buf, n, "%s", tmp);
}
