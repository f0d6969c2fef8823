/* tests/hub/util.h — helpers shared by the hub tests: temp folders, a clean hub environment,
 * plain HTTP calls through the library's client, raw socket writes for fake peers, and file
 * comparisons. */
#ifndef AM_TEST_HUB_UTIL_H
#define AM_TEST_HUB_UTIL_H
/* test paths are bounded by mkdtemp names; truncation would only fail a check */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "harness.h"
#include "hub/hub.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline char *hu_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/am_%s_XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int hu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static inline void hu_rmrf(const char *p) {
    if (p) nftw(p, hu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every variable that could leak the developer's own hub settings into a test. */
static inline void hu_clean_env(const char *hf_home) {
    static const char *const vars[] = {"HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE",
                                       "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE",
                                       "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                                       "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HUB_DISABLE_SYMLINKS",
                                       "XDG_CACHE_HOME", "HUGGINGFACE_CO_STAGING", NULL};
    for (const char *const *v = vars; *v; v++) unsetenv(*v);
    setenv("HF_HOME", hf_home, 1);
    setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
    setenv("HF_HUB_ETAG_TIMEOUT", "5", 1);
    setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5", 1);
    setenv("AM_HUB_RETRY_TIMEOUT", "2", 1); /* a dead endpoint fails in seconds, not the default 30 */
}

typedef struct hu_resp {
    long status;
    char *body;
    size_t len;
    char *hdr_commit, *hdr_code, *hdr_link, *hdr_etag, *hdr_range;
} hu_resp;

static inline void hu_resp_free(hu_resp *r) {
    free(r->body), free(r->hdr_commit), free(r->hdr_code), free(r->hdr_link), free(r->hdr_etag), free(r->hdr_range);
    memset(r, 0, sizeof *r);
}

/* One request; returns the HTTP status (or -1 when no answer came). */
static inline long hu_http(const char *method, const char *url, const char *token, const char *const *headers, const void *body,
                    size_t len, hu_resp *out) {
    am__http_req q = am__http_req_init(method, url);
    q.token = token;
    q.headers = headers;
    q.body = body;
    q.body_len = len;
    q.timeout_s = 10;
    q.max_body = 64u << 20;
    am__http_resp r = {0};
    am_status st = am__http_do(&q, &r);
    long status = st ? -1 : r.status;
    if (out) {
        memset(out, 0, sizeof *out);
        out->status = status;
        out->len = r.body.len;
        out->body = r.body.data ? am__strdup(r.body.data) : strdup("");
        const char *h;
        if ((h = am__http_resp_header(&r, "x-repo-commit"))) out->hdr_commit = strdup(h);
        if ((h = am__http_resp_header(&r, "x-error-code"))) out->hdr_code = strdup(h);
        if ((h = am__http_resp_header(&r, "link"))) out->hdr_link = strdup(h);
        if ((h = am__http_resp_header(&r, "etag"))) out->hdr_etag = strdup(h);
        if ((h = am__http_resp_header(&r, "content-range"))) out->hdr_range = strdup(h);
    }
    am__http_resp_free(&r);
    return status;
}

static inline bool hu_same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *da = am_test_read_file(a, &la), *db = am_test_read_file(b, &lb);
    bool same = da && db && la == lb && !memcmp(da, db, la);
    free(da), free(db);
    return same;
}

static inline char *hu_readlink(const char *p) {
    char buf[4096];
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0) return NULL;
    buf[n] = 0;
    return strdup(buf);
}

/* Count regular files (and links) below a folder whose name contains `needle` (NULL: all). */
static inline int hu_count_files(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) n += hu_count_files(p, needle);
        else if (!needle || strstr(e->d_name, needle)) n++;
    }
    closedir(d);
    return n;
}
/* Writes all n bytes to a socket (no SIGPIPE); false when the peer is gone. */
static inline bool hu_send(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        c += w, n -= (size_t)w;
    }
    return true;
}

/* printf to a socket (at most 8 KiB); false when the peer is gone. */
static inline bool hu_sendf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool hu_sendf(int fd, const char *fmt, ...) {
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n >= 0 && hu_send(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

#endif
