/* hub/http.c — one HTTP exchange over libcurl, with the hub client's rules: redirects are never
 * followed here (callers decide, so a token never leaks to another host), response headers and
 * bodies are size-limited (a hostile server cannot exhaust memory), transient failures are retried
 * with backoff honouring Retry-After, and a progress bar is drawn only when stderr is a terminal. */
#include "core/error.h"
#include "core/log.h"
#include "hub/hub.h"
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (256u << 10)
#define MAX_HEADERS 256
#define DEFAULT_MAX_BODY (64ull << 20)
#define ERROR_BODY_MAX (64u << 10)

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

am__http_req am__http_req_init(const char *method, const char *url) {
    am__http_req r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.url = url;
    r.body_fd = -1;
    r.out_fd = -1;
    r.timeout_s = 10;
    r.retry_timeout_s = -1;
    return r;
}

const char *am__http_resp_header(const am__http_resp *r, const char *lname) {
    for (size_t i = r->n_headers; i-- > 0;)
        if (!strcmp(r->headers[i].name, lname)) return r->headers[i].value;
    return NULL;
}

static void clear_headers(am__http_resp *r) {
    for (size_t i = 0; i < r->n_headers; i++) free(r->headers[i].name), free(r->headers[i].value);
    free(r->headers);
    r->headers = NULL;
    r->n_headers = 0;
}

void am__http_resp_free(am__http_resp *r) {
    clear_headers(r);
    am__buf_free(&r->body);
    free(r->effective_host);
    memset(r, 0, sizeof *r);
}

typedef struct xfer {
    const am__http_req *req;
    am__http_resp *resp;
    size_t header_bytes;
    bool header_overflow;
    bool body_overflow;
    bool write_error;
    bool oom; /* an allocation failed in a callback: the call fails with AM_ERR_NO_MEMORY */
    int write_errno;
    uint64_t body_bytes;
    uint64_t max_body;
    uint64_t up_pos;
    /* progress */
    bool draw;
    double last_draw, start;
    uint64_t last_now;
} xfer;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    x->header_bytes += len;
    if (x->header_bytes > MAX_HEADER_BYTES) {
        x->header_overflow = true;
        return 0;
    }
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after 100-continue): start over */
        clear_headers(x->resp);
        const char *sp = memchr(p, ' ', len);
        x->resp->status = sp && (size_t)(sp - p) + 4 <= len ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    if (x->resp->n_headers >= MAX_HEADERS) {
        x->header_overflow = true;
        return 0;
    }
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    am__http_header h = {malloc(nl + 1), malloc(vl + 1)};
    am__http_header *nh = realloc(x->resp->headers, (x->resp->n_headers + 1) * sizeof *nh);
    if (!h.name || !h.value || !nh) {
        free(h.name), free(h.value);
        if (nh) x->resp->headers = nh;
        x->oom = true;
        return 0;
    }
    x->resp->headers = nh;
    for (size_t i = 0; i < nl; i++) h.name[i] = (char)tolower((unsigned char)p[i]);
    h.name[nl] = 0;
    memcpy(h.value, v, vl);
    h.value[vl] = 0;
    x->resp->headers[x->resp->n_headers++] = h;
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    bool to_fd = x->req->out_fd >= 0 && x->resp->status >= 200 && x->resp->status < 300;
    uint64_t lim = to_fd ? x->max_body : (x->req->out_fd >= 0 ? ERROR_BODY_MAX : x->max_body);
    if (x->body_bytes + len > lim) {
        x->body_overflow = true;
        return 0;
    }
    x->body_bytes += len;
    if (to_fd) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(x->req->out_fd, p + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                x->write_error = true;
                x->write_errno = errno;
                return 0;
            }
            off += (size_t)w;
        }
        if (x->req->on_data) x->req->on_data(x->req->on_data_ud, x->resp->status, p, len);
        return len;
    }
    am__buf_put(&x->resp->body, p, len);
    if (x->resp->body.failed) x->oom = true;
    return x->resp->body.failed ? 0 : len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t want = size * n;
    uint64_t left = x->req->body_len - x->up_pos;
    if (want > left) want = (size_t)left;
    if (!want) return 0;
    if (x->req->body_fd >= 0) {
        ssize_t r = pread(x->req->body_fd, p, want, (off_t)(x->req->body_offset + x->up_pos));
        if (r <= 0) return CURL_READFUNC_ABORT;
        want = (size_t)r;
    } else {
        memcpy(p, (const char *)x->req->body + x->up_pos, want);
    }
    x->up_pos += want;
    return want;
}

static void human(double v, char *out, size_t n) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (v >= 1000 && i < 4) v /= 1000, i++;
    snprintf(out, n, i ? "%.1f%s" : "%.0f%s", v, u[i]);
}

static void draw(xfer *x, uint64_t now_bytes, bool final) {
    double t = now_s();
    if (!final && t - x->last_draw < 0.2) return;
    x->last_draw = t;
    uint64_t total = x->req->progress_total;
    uint64_t have = x->req->progress_base + now_bytes;
    double rate = t > x->start ? (double)now_bytes / (t - x->start) : 0;
    char a[32], b[32], r[32], eta[32] = "";
    human((double)have, a, sizeof a);
    human((double)total, b, sizeof b);
    human(rate, r, sizeof r);
    if (rate > 0 && total > have) snprintf(eta, sizeof eta, " ETA %.0fs", (double)(total - have) / rate);
    int pct = total ? (int)(100.0 * (double)have / (double)total) : 0;
    fprintf(stderr, "\r%s: %3d%% %s/%s %s/s%s\033[K%s", x->req->progress_label ? x->req->progress_label : "download", pct,
            a, b, r, eta, final ? "\n" : "");
    fflush(stderr);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)ultotal, (void)ulnow;
    xfer *x = ud;
    if (x->draw && x->resp->status >= 200 && x->resp->status < 300) {
        x->last_now = (uint64_t)dlnow;
        draw(x, (uint64_t)dlnow, false);
    }
    return 0;
}

static bool transient_status(long s) { return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

double am__http_retry_after(const am__http_resp *r) {
    const char *ra = am__http_resp_header(r, "retry-after");
    if (ra) {
        char *end;
        double v = strtod(ra, &end);
        if (end != ra && v >= 0) return v > 60 ? 60 : v;
    }
    /* ratelimit: "api";r=0;t=55 */
    const char *rl = am__http_resp_header(r, "ratelimit");
    const char *t = rl ? strstr(rl, ";t=") : NULL;
    if (t) {
        double v = strtod(t + 3, NULL);
        if (v >= 0) return v > 60 ? 60 : v;
    }
    return -1;
}

/* ---- retry pacing --------------------------------------------------------------------------- */

#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX 8.0

void am__retry_start(am__retry *r, double budget_s) {
    if (budget_s < 0) budget_s = am__hub_retry_timeout();
    r->start = now_s();
    r->deadline = r->start + budget_s;
    r->backoff = BACKOFF_FIRST;
    r->waits = 0;
}

double am__retry_elapsed(const am__retry *r) { return now_s() - r->start; }

static double jitter01(void) {
    char hex[9];
    am__random_hex(hex, 8);
    return (double)strtoul(hex, NULL, 16) / 4294967296.0;
}

bool am__retry_wait(am__retry *r, double retry_after_s, const char *url, const char *why) {
    double now = now_s(), left = r->deadline - now;
    if (left <= 0) return false;
    double wait = retry_after_s >= 0 ? retry_after_s : r->backoff * (0.5 + 0.5 * jitter01());
    r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
    if (wait > left) wait = left;
    r->waits++;
    am__log(AM_LOG_INFO, "%s: %s; retry %d in %.1fs (%.0fs of %.0fs spent)", url, why, r->waits, wait, now - r->start,
            r->deadline - r->start);
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return true;
}

static am_status do_once(const am__http_req *req, am__http_resp *resp, long connect_timeout_s, bool *limit_hit) {
    CURL *c = curl_easy_init();
    if (!c) return am__error(AM_ERR_NO_MEMORY, "%s: cannot create a curl handle", req->url);
    xfer x;
    memset(&x, 0, sizeof x);
    x.req = req;
    x.resp = resp;
    x.max_body = req->max_body ? req->max_body : (req->out_fd >= 0 ? UINT64_MAX : DEFAULT_MAX_BODY);
    x.draw = req->progress && isatty(2);
    x.start = now_s();

    struct curl_slist *hl = NULL;
    char ua[128];
    snprintf(ua, sizeof ua, "User-Agent: automodel/%s; hf_hub/compatible; c", am_version());
    hl = curl_slist_append(hl, ua);
    hl = curl_slist_append(hl, "Expect:");
    char *auth = NULL;
    if (req->token && *req->token) {
        size_t n = strlen(req->token) + 32;
        auth = malloc(n);
        if (!auth) { /* never send the request without the token it should carry */
            curl_slist_free_all(hl);
            curl_easy_cleanup(c);
            return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", req->url);
        }
        snprintf(auth, n, "Authorization: Bearer %s", req->token);
        hl = curl_slist_append(hl, auth);
    }
    for (const char *const *h = req->headers; h && *h; h++) hl = curl_slist_append(hl, *h);

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, req->timeout_s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->curl_error);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, x.draw ? 0L : 1L);
    const char *m = req->method ? req->method : "GET";
    bool has_body = req->body || req->body_fd >= 0;
    if (!strcmp(m, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (!strcmp(m, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (!strcmp(m, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(m, "GET")) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    if (has_body || !strcmp(m, "POST") || !strcmp(m, "PUT")) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
    }

    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (x.draw && x.last_now) draw(&x, x.body_bytes, true);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    if (auth) memset(auth, 0, strlen(auth)), free(auth);
    resp->curl_code = (int)rc;
    *limit_hit = x.oom || x.header_overflow || x.body_overflow || x.write_error;
    resp->overflow = x.header_overflow || x.body_overflow;
    if (x.oom) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory reading the response", req->url);
    if (x.header_overflow) return am__error(AM_ERR_NETWORK, "%s: the server sent oversized response headers", req->url);
    if (x.body_overflow)
        return am__error(AM_ERR_NETWORK, "%s: the server sent more data than expected (over %llu bytes)", req->url,
                         (unsigned long long)(x.max_body));
    if (x.write_error) return am__error(AM_ERR_IO, "%s: cannot write the download: %s", req->url, strerror(x.write_errno));
    if (rc != CURLE_OK)
        return am__error(AM_ERR_NETWORK, "%s: %s", req->url, resp->curl_error[0] ? resp->curl_error : curl_easy_strerror(rc));
    return AM_OK;
}

bool am__http_transport_failure(am_status st, const am__http_resp *resp) {
    return st == AM_ERR_NETWORK && resp->curl_code != 0 && resp->curl_code != CURLE_WRITE_ERROR &&
           resp->curl_code != CURLE_OUT_OF_MEMORY && resp->curl_code != CURLE_UNSUPPORTED_PROTOCOL &&
           resp->curl_code != CURLE_URL_MALFORMAT;
}

am_status am__http_do(const am__http_req *req, am__http_resp *resp) {
    pthread_once(&g_curl_once, curl_init_once);
    am__retry rt;
    am__retry_start(&rt, req->retries > 0 ? req->retry_timeout_s : 0);
    for (int attempt = 0;; attempt++) {
        am__http_resp_free(resp);
        /* a connection attempt never outlasts what is left of the retry budget (at least 1 s) */
        long ct = req->timeout_s;
        double left = rt.deadline - now_s();
        if (req->retries > 0 && left < (double)ct) ct = left < 1 ? 1 : (long)left + 1;
        bool limit_hit = false;
        am_status st = do_once(req, resp, ct, &limit_hit);
        bool transport = !limit_hit && am__http_transport_failure(st, resp);
        bool retry = attempt < req->retries && (transport || (st == AM_OK && transient_status(resp->status)));
        if (!retry) return st;
        char why[320];
        if (st == AM_OK) snprintf(why, sizeof why, "HTTP %ld", resp->status);
        else snprintf(why, sizeof why, "%s", resp->curl_error[0] ? resp->curl_error : "transfer failed");
        if (!am__retry_wait(&rt, st == AM_OK ? am__http_retry_after(resp) : -1, req->url, why)) {
            if (st == AM_OK) return st; /* the caller reports the status */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", am_last_error());
            return am__error(st, "%s (gave up after %d attempts in %.1fs; AM_HUB_RETRY_TIMEOUT sets the limit)", msg,
                             attempt + 1, am__retry_elapsed(&rt));
        }
        if (req->out_fd >= 0) { /* the caller's fd holds a failed attempt: start it over */
            if (ftruncate(req->out_fd, 0) != 0 || lseek(req->out_fd, 0, SEEK_SET) < 0)
                return am__error(AM_ERR_IO, "%s: cannot rewind the download file", req->url);
        }
    }
}
