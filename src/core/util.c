/* core/util.c — files, paths, buffers and Python-compatible number formatting. */
#include "core/util.h"
#include "core/error.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int am__open_regular(const char *path, size_t *size) {
    if (!path) {
        am__error(AM_ERR_NO_MEMORY, "out of memory (building a file path)"); /* a failed am__path_join */
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        am__error(errno == ENOENT ? AM_ERR_NOT_FOUND : AM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        am__error(AM_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        const char *kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                           : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
        am__error(AM_ERR_IO, "%s: not a regular file (%s): refused", path, kind);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        am__error(AM_ERR_IO, "%s: fcntl failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (size) *size = (size_t)st.st_size;
    return fd;
}

am_status am__read_file(const char *path, char **out, size_t *len) {
    size_t n = 0;
    int fd = am__open_regular(path, &n);
    if (fd < 0) return am__error_code();
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return am__error(AM_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return am__error(AM_ERR_IO, "%s: read failed", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return AM_OK;
}

/* A number from a one-line file (cgroup), UINT64_MAX when absent or "max". */
static uint64_t read_u64_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return UINT64_MAX;
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v);
    fclose(f);
    return ok == 1 ? (uint64_t)v : UINT64_MAX;
}

uint64_t am__mem_available(const char **source) {
    const char *env = getenv("AM_MEM_AVAILABLE");
    if (env && *env) {
        if (source) *source = "AM_MEM_AVAILABLE";
        return strtoull(env, NULL, 10);
    }
    uint64_t avail = 0;
    const char *src = "unknown";
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                avail = (uint64_t)kb * 1024;
                src = "MemAvailable in /proc/meminfo";
                break;
            }
        fclose(f);
    }
    if (!avail) {
        long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0) {
            avail = (uint64_t)pages * (uint64_t)psz;
            src = "free physical pages (sysconf)";
        }
    }
    /* a container's cgroup v2 limit, when lower; memory.current counts the page cache, which the
     * kernel reclaims for us, so the cgroup's file pages are added back as MemAvailable does */
    uint64_t max = read_u64_file("/sys/fs/cgroup/memory.max"), cur = read_u64_file("/sys/fs/cgroup/memory.current");
    if (max != UINT64_MAX && cur != UINT64_MAX) {
        uint64_t file = 0;
        FILE *ms = fopen("/sys/fs/cgroup/memory.stat", "r");
        if (ms) {
            char line[256];
            unsigned long long v;
            while (fgets(line, sizeof line, ms))
                if (sscanf(line, "file %llu", &v) == 1) {
                    file = (uint64_t)v;
                    break;
                }
            fclose(ms);
        }
        cur = cur > file ? cur - file : 0;
        uint64_t left = max > cur ? max - cur : 0;
        if (!avail || left < avail) {
            avail = left;
            src = "the cgroup's memory.max - memory.current + its page cache";
        }
    }
    if (source) *source = src;
    return avail;
}

char *am__model_root(const char *dir) {
    char *r = realpath(dir, NULL);
    if (!r) return NULL;
    /* the hub cache: snapshots/<commit>/[<subfolder>/]<file> are links to ../../blobs/<hash>, so
     * the folder they must stay in is the repo's (models--org--name), above snapshots/ */
    char *snap = NULL;
    for (char *p = strstr(r, "/snapshots/"); p; p = strstr(p + 1, "/snapshots/")) snap = p;
    if (snap && snap[11] && snap[11] != '/') {
        *snap = 0;
        if (!r[0]) strcpy(r, "/");
    }
    return r;
}

am_status am__check_confined(const char *path, const char *model_dir) {
    if (!path || !model_dir) return AM_OK; /* a NULL path is reported by the open that follows */
    char *root = am__model_root(model_dir);
    char *real = root ? realpath(path, NULL) : NULL;
    am_status st = AM_OK;
    if (root && real) { /* otherwise the open that follows says what is wrong */
        size_t rl = strlen(root);
        bool inside = !strcmp(root, "/") || (!strncmp(real, root, rl) && real[rl] == '/');
        if (!inside)
            st = am__error(AM_ERR_IO, "%s: resolves to %s, outside the model folder %s: refused", path, real, root);
    }
    free(real);
    free(root);
    return st;
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
