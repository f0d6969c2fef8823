/* tests/test_hub_reliability.c — the hub server under races, hostile clients and crashes (issue 18,
 * server half), on loopback, each loop bounded:
 *   - two concurrent PUTs on one LFS ticket (basic and multipart part, and lfs-complete during a
 *     part): the second gets 409, the served bytes always hash to their oid;
 *   - bodies are authorised on the headers: an unauthenticated 1 GiB Content-Length gets 401 with
 *     no body byte sent, a chunked 256 MiB one does not grow the server's memory;
 *   - a slow-loris client (200 half-sent requests from 127.0.0.2) does not starve 127.0.0.1, and
 *     silent connections are closed after the timeout;
 *   - no orphan temp files: after a client hangs up mid-upload, after a 413, and at startup;
 *   - a full disk (RLIMIT_FSIZE): 500, nothing partial, no temp file, the ticket still usable;
 *   - NUL escapes and invalid UTF-8 are refused in every JSON body and path;
 *   - --fsck moves a damaged object to quarantine/ so it can be uploaded again; one server per ROOT;
 *   - 6 threads committing to one branch at once: each commit acknowledged and kept, or refused;
 *   - kill -9 of a server (in a child process) while 3 clients commit: after a restart every
 *     acknowledged commit is served, no temp file is left, --fsck finds nothing damaged. */
#include "hub/util.h"
#include <arpa/inet.h>
#include <cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static const char *TOK = "tok_alice_reliab_0123456789";
static int g_port;
static char g_url[128], g_root[4096];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A TCP connection to the server from `src` (any 127.x.y.z: all loopback on Linux). */
static int conn_from(const char *src) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (src) {
        inet_pton(AF_INET, src, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    a.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}


/* The status of the response on fd, waiting at most timeout_ms; -1 none, 0 closed without one. */
static int read_status(int fd, int timeout_ms, char *body, size_t bl) {
    char buf[8192];
    size_t n = 0;
    double end = now_s() + timeout_ms / 1000.0;
    while (n < sizeof buf - 1) {
        int left = (int)((end - now_s()) * 1000);
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, left) <= 0) break;
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) {
            if (!n) return 0;
            break;
        }
        n += (size_t)r;
        buf[n] = 0;
        char *hend = strstr(buf, "\r\n\r\n");
        if (hend) {
            char *cl = strstr(buf, "Content-Length: ");
            size_t want = cl ? (size_t)atol(cl + 16) : 0;
            if (n - (size_t)(hend + 4 - buf) >= want) break;
        }
    }
    buf[n] = 0;
    int st = -1;
    if (n && sscanf(buf, "HTTP/1.%*d %d", &st) != 1) st = -1;
    if (body) {
        char *hend = strstr(buf, "\r\n\r\n");
        snprintf(body, bl, "%s", hend ? hend + 4 : "");
    }
    return st;
}

static long post(const char *path, const char *ctype, const void *body, size_t n, hu_resp *r) {
    char url[4096], ct[256];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    const char *h[] = {ct, NULL};
    return hu_http("POST", url, TOK, h, body, n, r);
}

static long commit_lines(const char *repo, const char *lines) {
    char path[512];
    snprintf(path, sizeof path, "/api/models/%s/commit/main", repo);
    hu_resp r;
    long st = post(path, "application/x-ndjson", lines, strlen(lines), &r);
    if (st != 200) fprintf(stderr, "  commit -> %ld %s\n", st, r.body);
    hu_resp_free(&r);
    return st;
}

static int count_tmp(const char *repo_folder) {
    char d[4200];
    snprintf(d, sizeof d, "%s/%s/tmp", g_root, repo_folder);
    return hu_count_files(d, NULL);
}

/* Wait (bounded) until the repo's tmp/ is empty: on_done runs just after the client sees the end,
 * or, should the server miss a hang-up under load, once the connection is silent for the timeout (2 s). */
static bool tmp_empty_soon(const char *repo_folder) {
    for (int i = 0; i < 300; i++) {
        if (!count_tmp(repo_folder)) return true;
        usleep(20000);
    }
    return false;
}

/* Wait (bounded) until the repo's tmp/ holds a file: an upload's headers were handled, its ticket claimed. */
static bool tmp_busy_soon(const char *repo_folder) {
    for (int i = 0; i < 250; i++) {
        if (count_tmp(repo_folder)) return true;
        usleep(20000);
    }
    return false;
}

/* The upload hrefs of one LFS batch: href (basic, or lfs-complete), parts[1..] for multipart. */
typedef struct batch {
    char href[512];
    char parts[8][512];
    int nparts;
} batch;

static bool lfs_batch(const char *repo, const char *oid, size_t size, bool multipart, batch *b) {
    memset(b, 0, sizeof *b);
    char path[512], body[512];
    snprintf(path, sizeof path, "/%s.git/info/lfs/objects/batch", repo);
    snprintf(body, sizeof body, "{\"operation\":\"upload\",\"transfers\":[\"%s\"],\"objects\":[{\"oid\":\"%s\",\"size\":%zu}]}",
             multipart ? "multipart" : "basic", oid, size);
    hu_resp r;
    bool ok = post(path, "application/vnd.git-lfs+json", body, strlen(body), &r) == 200;
    cJSON *j = cJSON_Parse(r.body);
    cJSON *up = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "objects"), 0), "actions"),
        "upload");
    cJSON *href = cJSON_GetObjectItemCaseSensitive(up, "href"), *h = cJSON_GetObjectItemCaseSensitive(up, "header");
    ok = ok && cJSON_IsString(href);
    if (ok) snprintf(b->href, sizeof b->href, "%s", href->valuestring);
    for (int p = 1; p < 8 && h; p++) {
        char k[8];
        snprintf(k, sizeof k, "%d", p);
        cJSON *u = cJSON_GetObjectItemCaseSensitive(h, k);
        if (!cJSON_IsString(u)) break;
        snprintf(b->parts[p], sizeof b->parts[p], "%s", u->valuestring);
        b->nparts = p;
    }
    cJSON_Delete(j);
    hu_resp_free(&r);
    return ok;
}

/* Start a PUT to `url` announcing `total` bytes and send only the first `first` of `data`. */
static int put_start(const char *url, const uint8_t *data, size_t total, size_t first) {
    const char *path = strstr(url + 7, "/");
    int fd = conn_from(NULL);
    if (fd < 0) return -1;
    char h[1024];
    int n = snprintf(h, sizeof h, "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", path, total);
    if (!hu_send(fd, h, (size_t)n) || !hu_send(fd, data, first)) {
        close(fd);
        return -1;
    }
    return fd;
}

static long put(const char *url, const void *data, size_t n) { return hu_http("PUT", url, NULL, NULL, data, n, NULL); }

/* Download `file` and compare its sha256 with `oid`. */
static bool served_hash_is(const char *repo, const char *file, const char *oid) {
    char url[1024];
    snprintf(url, sizeof url, "%s/%s/resolve/main/%s", g_url, repo, file);
    am__http_req q = am__http_req_init("GET", url);
    q.token = TOK;
    q.timeout_s = 10;
    q.max_body = 64u << 20;
    am__http_resp r = {0};
    am_status st = am__http_do(&q, &r);
    char got[65] = "";
    bool ok = !st && r.status == 200 && am__sha256_hex(r.body.data, r.body.len, got) == AM_OK && !strcmp(got, oid);
    if (!ok) fprintf(stderr, "  GET %s: %ld, %zu bytes hashing to %s, not %s\n", file, st ? -1L : r.status, r.body.len, got, oid);
    am__http_resp_free(&r);
    return ok;
}

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ---- 1. one upload per ticket ----------------------------------------------------------- */
static void test_ticket_race(void) {
    enum { N = 300000 };
    uint8_t *good = malloc(N), *junk = malloc(N);
    fill(good, N, 1);
    fill(junk, N, 2);
    char oid[65];
    am__sha256_hex(good, N, oid);
    batch b;
    CHECK(lfs_batch("alice/m", oid, N, false, &b));
    /* A sends half, B the whole thing meanwhile: B must be refused, not share A's file */
    int a = put_start(b.href, good, N, N / 2);
    CHECK(a >= 0);
    CHECK(tmp_busy_soon("models--alice--m")); /* A's headers are processed: the ticket is claimed */
    CHECKF(put(b.href, good, N) == 409, "a second concurrent PUT on one ticket must get 409");
    /* A finishes with the wrong bytes: refused by the hash, nothing stored */
    CHECK(hu_send(a, junk, N - N / 2));
    int st = read_status(a, 5000, NULL, 0);
    CHECKF(st == 400, "A's mismatching upload -> %d", st);
    close(a);
    uint64_t have = 0;
    char obj[4200];
    snprintf(obj, sizeof obj, "%s/models--alice--m/objects/%s", g_root, oid);
    CHECK(!am__is_file(obj));
    (void)have;
    /* a fresh ticket uploads it properly; what is served then hashes to its oid */
    CHECK(lfs_batch("alice/m", oid, N, false, &b));
    CHECK(put(b.href, good, N) == 200);
    char line[1024];
    snprintf(line, sizeof line,
             "{\"key\":\"header\",\"value\":{\"summary\":\"lfs\"}}\n"
             "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":%d}}\n",
             oid, N);
    CHECK(commit_lines("alice/m", line) == 200);
    CHECK(served_hash_is("alice/m", "w.bin", oid));

    /* multipart: the same part twice at once, and lfs-complete while a part is in flight */
    char oid2[65];
    fill(good, N, 3);
    am__sha256_hex(good, N, oid2);
    CHECK(lfs_batch("alice/m", oid2, N, true, &b));
    CHECKF(b.nparts == 3, "multipart offered in %d parts", b.nparts); /* chunk 128 KiB */
    if (b.nparts == 3) {
        size_t ck = 128 * 1024;
        int p1 = put_start(b.parts[1], good, ck, ck / 2);
        CHECK(tmp_busy_soon("models--alice--m"));
        CHECKF(put(b.parts[1], good, ck) == 409, "the same part twice at once must get 409");
        CHECK(put(b.parts[2], good + ck, ck) == 200);
        CHECK(put(b.parts[3], good + 2 * ck, N - 2 * ck) == 200);
        char cb[256];
        snprintf(cb, sizeof cb, "{\"oid\":\"%s\",\"parts\":[1,2,3]}", oid2);
        CHECKF(post(strstr(b.href + 7, "/"), NULL, cb, strlen(cb), NULL) == 409, "complete during a part must get 409");
        CHECK(hu_send(p1, good + ck / 2, ck - ck / 2));
        CHECK(read_status(p1, 5000, NULL, 0) == 200);
        close(p1);
        CHECK(post(strstr(b.href + 7, "/"), NULL, cb, strlen(cb), NULL) == 200);
        snprintf(line, sizeof line,
                 "{\"key\":\"header\",\"value\":{\"summary\":\"mp\"}}\n"
                 "{\"key\":\"lfsFile\",\"value\":{\"path\":\"mp.bin\",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":%d}}\n",
                 oid2, N);
        CHECK(commit_lines("alice/m", line) == 200);
        CHECK(served_hash_is("alice/m", "mp.bin", oid2));
    }
    CHECK(tmp_empty_soon("models--alice--m"));
    free(good);
    free(junk);
}

/* ---- 2. bodies are authorised on the headers ------------------------------------------- */
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

typedef struct flood {
    int fd;
    size_t total, sent;
} flood;

static void *flood_chunked(void *arg) {
    flood *f = arg;
    static char chunk[1 << 16];
    char hdr[32];
    int hn = snprintf(hdr, sizeof hdr, "%x\r\n", (unsigned)sizeof chunk);
    while (f->sent < f->total) {
        if (!hu_send(f->fd, hdr, (size_t)hn) || !hu_send(f->fd, chunk, sizeof chunk) || !hu_send(f->fd, "\r\n", 2)) break;
        f->sent += sizeof chunk;
    }
    return NULL;
}

static void test_auth_before_body(void) {
    static const char *const targets[] = {"/api/models/alice/m/commit/main", "/api/repos/create",
                                          "/api/models/alice/m/branch/b1", NULL};
    for (const char *const *t = targets; *t; t++) {
        /* 1 GiB announced, nothing sent: the answer must come from the headers alone */
        int fd = conn_from(NULL);
        char h[512];
        int n = snprintf(h, sizeof h,
                         "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
                         "Content-Length: 1073741824\r\n\r\n",
                         *t);
        CHECK(fd >= 0 && hu_send(fd, h, (size_t)n));
        int st = read_status(fd, 3000, NULL, 0);
        CHECKF(st == 401, "unauthenticated 1 GiB POST %s -> %d (must be 401 before any body byte)", *t, st);
        close(fd);
    }
    /* a wrong token is no better */
    {
        int fd = conn_from(NULL);
        const char *h = "POST /api/models/alice/m/commit/main HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
                        "Content-Length: 1073741824\r\n\r\n";
        CHECK(fd >= 0 && hu_send(fd, h, strlen(h)));
        CHECK(read_status(fd, 3000, NULL, 0) == 401);
        close(fd);
    }
    /* a JSON body over --max-json-body (2 MiB here) is refused on its Content-Length; without a
     * token (public reads only) the limit is 1 MiB */
    static const struct {
        const char *path;
        bool token;
        long len;
        int want;
    } caps[] = {{"/api/repos/create", true, 3000000, 413},
                {"/api/models/alice/m/paths-info/main", false, 1500000, 413},
                {"/alice/m.git/info/lfs/objects/batch", false, 1500000, 413},
                {"/api/models/alice/m/paths-info/main", true, 1500000, 100}};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        int fd = conn_from(NULL);
        char h[512];
        int n = snprintf(h, sizeof h, "POST %s HTTP/1.1\r\nHost: x\r\n%s%s%sContent-Length: %ld\r\nExpect: 100-continue\r\n\r\n",
                         caps[k].path, caps[k].token ? "Authorization: Bearer " : "", caps[k].token ? TOK : "",
                         caps[k].token ? "\r\n" : "", caps[k].len);
        CHECK(fd >= 0 && hu_send(fd, h, (size_t)n));
        int st = read_status(fd, 3000, NULL, 0);
        CHECKF(st == caps[k].want, "POST %s (%s, %ld bytes announced) -> %d, expected %d", caps[k].path,
               caps[k].token ? "token" : "no token", caps[k].len, st, caps[k].want);
        close(fd);
    }
    /* 256 MiB chunked without a token: answered at once, and the server's memory does not follow */
    int fd = conn_from(NULL);
    const char *h = "POST /api/models/alice/m/commit/main HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n";
    CHECK(fd >= 0 && hu_send(fd, h, strlen(h)));
    long base = rss_kb(), peak = base;
    flood f = {fd, 256u << 20, 0};
    pthread_t th;
    pthread_create(&th, NULL, flood_chunked, &f);
    int st = read_status(fd, 5000, NULL, 0);
    for (int i = 0; i < 50; i++) { /* sample while the sender still pushes (bounded: 0.5 s) */
        long r = rss_kb();
        if (r > peak) peak = r;
        usleep(10000);
    }
    shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(fd);
    CHECKF(st == 401, "unauthenticated chunked commit -> %d", st);
    CHECKF(peak - base < 64 * 1024, "RSS grew by %ld KiB while an unauthenticated client sent %zu MiB", peak - base,
           f.sent >> 20);
}

/* ---- 3. slow loris ----------------------------------------------------------------------- */
static void test_slow_loris(int per_ip) {
    enum { NLORIS = 200 };
    int fds[NLORIS], opened = 0;
    for (int i = 0; i < NLORIS; i++) {
        fds[i] = conn_from("127.0.0.2");
        if (fds[i] < 0) continue;
        opened++;
        const char *part = "GET /api/models/alice/m HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        hu_send(fds[i], part, strlen(part));
    }
    CHECKF(opened == NLORIS, "opened %d of %d slow connections", opened, NLORIS);
    /* the server keeps at most per_ip of them (it closes the rest as it accepts them: wait, bounded) */
    int alive = NLORIS;
    for (int k = 0; k < 50 && alive > per_ip; k++) {
        usleep(100000);
        alive = 0;
        for (int i = 0; i < NLORIS; i++) {
            if (fds[i] < 0) continue;
            char c;
            ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) alive++;
        }
    }
    CHECKF(alive <= per_ip, "%d slow connections from one address stay open (limit %d)", alive, per_ip);
    /* a normal client from another address is served promptly */
    double worst = 0;
    for (int k = 0; k < 5; k++) {
        double t0 = now_s();
        hu_resp r;
        char url[512];
        snprintf(url, sizeof url, "%s/api/models/alice/m", g_url);
        long st = hu_http("GET", url, TOK, NULL, NULL, 0, &r);
        hu_resp_free(&r);
        double dt = now_s() - t0;
        if (dt > worst) worst = dt;
        CHECKF(st == 200, "normal request during a slow loris -> %ld", st);
    }
    CHECKF(worst < 5.0, "normal request took %.2f s during a slow loris", worst);
    fprintf(stderr, "  slow loris: %d connections opened, %d kept by the server, worst normal request %.1f ms\n", opened,
            alive, worst * 1000);
    /* the kept ones are closed once silent for the timeout (2 s here) */
    double t0 = now_s();
    int still = alive;
    while (still && now_s() - t0 < 12) {
        usleep(200000);
        still = 0;
        for (int i = 0; i < NLORIS; i++) {
            if (fds[i] < 0) continue;
            char c;
            ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) still++;
        }
    }
    CHECKF(!still, "%d silent connections still open %.1f s after the 2 s timeout", still, now_s() - t0);
    for (int i = 0; i < NLORIS; i++)
        if (fds[i] >= 0) close(fds[i]);
}

/* ---- 5. temp files ------------------------------------------------------------------------- */
static void test_orphans(void) {
    enum { N = 200000 };
    uint8_t *d = malloc(N);
    fill(d, N, 7);
    char oid[65];
    am__sha256_hex(d, N, oid);
    batch b;
    /* the client hangs up mid-upload */
    CHECK(lfs_batch("alice/m", oid, N, false, &b));
    int fd = put_start(b.href, d, N, N / 3);
    CHECK(tmp_busy_soon("models--alice--m"));
    close(fd);
    CHECKF(tmp_empty_soon("models--alice--m"), "a killed upload leaves its temp file");
    /* 413: more bytes than announced, sent chunked (no Content-Length to refuse up front) */
    fd = conn_from(NULL);
    const char *path = strstr(b.href + 7, "/");
    char h[512];
    int n = snprintf(h, sizeof h, "PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", path, N + 10);
    CHECK(hu_send(fd, h, (size_t)n));
    uint8_t *big = calloc(1, N + 10);
    hu_send(fd, big, N + 10);
    hu_send(fd, "\r\n0\r\n\r\n", 7);
    int st = read_status(fd, 5000, NULL, 0);
    CHECKF(st == 413, "oversized chunked upload -> %d", st);
    close(fd);
    free(big);
    CHECKF(tmp_empty_soon("models--alice--m"), "a 413 upload leaves its temp file");
    /* the ticket is still good for a proper upload */
    CHECK(put(b.href, d, N) == 200);
    free(d);
}

/* ---- a full disk (RLIMIT_FSIZE: writes past 100 KB fail with EFBIG) -------------------------- */
static char *head_of(const char *repo) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/main", g_url, repo);
    hu_resp r;
    hu_http("GET", url, TOK, NULL, NULL, 0, &r);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "sha");
    char *out = cJSON_IsString(sha) ? strdup(sha->valuestring) : NULL;
    cJSON_Delete(j);
    hu_resp_free(&r);
    return out;
}

static void test_disk_full(void) {
    enum { N = 300000 };
    uint8_t *d = malloc(N);
    fill(d, N, 11);
    char oid[65];
    am__sha256_hex(d, N, oid);
    batch b;
    CHECK(lfs_batch("alice/m", oid, N, false, &b));
    char *h0 = head_of("alice/m");
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 100000;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    long st = put(b.href, d, N);
    CHECKF(st == 500, "an LFS upload onto a full disk -> %ld", st);
    /* a commit whose inline file cannot be written changes nothing */
    size_t bl = 200000;
    char *body = malloc(bl + 512);
    int n = snprintf(body, 512, "{\"key\":\"header\",\"value\":{\"summary\":\"full\"}}\n"
                                "{\"key\":\"file\",\"value\":{\"path\":\"big.txt\",\"encoding\":\"base64\",\"content\":\"");
    memset(body + n, 'A', bl);
    snprintf(body + n + bl, 512, "\"}}\n");
    hu_resp r;
    st = post("/api/models/alice/m/commit/main", "application/x-ndjson", body, strlen(body), &r);
    CHECKF(st == 500, "a commit onto a full disk -> %ld %s", st, r.body);
    hu_resp_free(&r);
    setrlimit(RLIMIT_FSIZE, &old);
    char *h1 = head_of("alice/m");
    CHECK(h0 && h1 && !strcmp(h0, h1));
    char od[4200];
    snprintf(od, sizeof od, "%s/models--alice--m", g_root);
    CHECKF(hu_count_files(od, ".tmp.") == 0, "a failed write leaves its temp file");
    CHECK(tmp_empty_soon("models--alice--m"));
    /* and once there is room again, the same ticket works */
    CHECK(put(b.href, d, N) == 200);
    free(h0), free(h1), free(body), free(d);
}

/* ---- 11, 12. NUL escapes and invalid UTF-8 ---------------------------------------------- */
static void test_strings(void) {
    hu_resp r;
    /* NUL escapes: the name would have become "zz" */
    const char *nul_name = "{\"name\":\"zz\\u0000evil\"}";
    CHECK(post("/api/repos/create", NULL, nul_name, strlen(nul_name), &r) == 400 && strstr(r.body, "NUL"));
    hu_resp_free(&r);
    char d[4200];
    snprintf(d, sizeof d, "%s/models--alice--zz", g_root);
    CHECK(!am__is_dir(d));
    static const char *const bad[] = {
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"zz\\u0000../../evil\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"a\\u0000b\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"bad \xff\xfe utf8\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"overlong \xc0\xaf\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"surrogate \xed\xa0\x80\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"caf\xe9.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
        NULL};
    for (const char *const *b = bad; *b; b++) {
        long st = post("/api/models/alice/m/commit/main", "application/x-ndjson", *b, strlen(*b), &r);
        CHECKF(st == 400, "commit %s -> %ld %s", *b, st, r.body);
        hu_resp_free(&r);
    }
    static const char *const bad_tags[] = {"{\"tag\":\"v9\\u0000junk\"}", "{\"tag\":\"v\xff\"}",
                                           "{\"tag\":\"x.tmp.1\"}", NULL};
    for (const char *const *b = bad_tags; *b; b++) {
        long st = post("/api/models/alice/m/tag/main", NULL, *b, strlen(*b), &r);
        CHECKF(st == 400, "tag %s -> %ld %s", *b, st, r.body);
        hu_resp_free(&r);
    }
    { /* raw: our own client refuses to send such a URL */
        int fd = conn_from(NULL);
        char h[512];
        int n = snprintf(h, sizeof h,
                         "POST /api/models/alice/m/branch/b%%FF HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Content-Length: 2\r\n\r\n{}",
                         TOK);
        CHECK(fd >= 0 && hu_send(fd, h, (size_t)n));
        int st = read_status(fd, 3000, NULL, 0);
        CHECKF(st == 400, "branch b%%FF -> %d", st);
        close(fd);
    }
    {
        char url[512];
        snprintf(url, sizeof url, "%s/api/models/alice/m/refs", g_url);
        hu_http("GET", url, TOK, NULL, NULL, 0, &r);
        CHECK(!strstr(r.body, "v9"));
        hu_resp_free(&r);
    }
    /* no false alarms: an escaped backslash before "u0000" is text, and real UTF-8 is kept intact */
    const char *ok = "{\"key\":\"header\",\"value\":{\"summary\":\"caf\xc3\xa9 \xe2\x9c\x93 \\\\u0000\"}}\n"
                     "{\"key\":\"file\",\"value\":{\"path\":\"d\xc3\xa9j\xc3\xa0.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n";
    CHECK(commit_lines("alice/m", ok) == 200);
    char url[512];
    snprintf(url, sizeof url, "%s/api/models/alice/m/commits/main", g_url);
    CHECK(hu_http("GET", url, TOK, NULL, NULL, 0, &r) == 200);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "title");
    CHECKF(cJSON_IsString(t) && !strcmp(t->valuestring, "caf\xc3\xa9 \xe2\x9c\x93 \\u0000"), "title %s",
           cJSON_IsString(t) ? t->valuestring : "?");
    cJSON_Delete(j);
    hu_resp_free(&r);
    const char *good_tag = "{\"tag\":\"v\xc3\xa9\"}";
    CHECK(post("/api/models/alice/m/tag/main", NULL, good_tag, strlen(good_tag), NULL) == 200);
}

/* ---- racing commits to one branch; kill -9 of the server in the middle of commits ----------- */

typedef struct racer {
    int id, n, acked[16];
    long status[16];
} racer;

static void *race_commits(void *v) {
    racer *r = v;
    for (int k = 0; k < r->n; k++) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"key\":\"header\",\"value\":{\"summary\":\"race %d.%d\"}}\n"
                 "{\"key\":\"file\",\"value\":{\"path\":\"race/%d_%d.txt\",\"content\":\"aGVsbG8=\",\"encoding\":\"base64\"}}\n",
                 r->id, k, r->id, k);
        r->status[k] = commit_lines("alice/m", line);
        r->acked[k] = r->status[k] == 200;
    }
    return NULL;
}

/* every acknowledged file of `rs` is served from main with its bytes */
static int acked_missing(const racer *rs, int nr) {
    int missing = 0;
    for (int i = 0; i < nr; i++)
        for (int k = 0; k < rs[i].n; k++) {
            if (!rs[i].acked[k]) continue;
            char url[1024];
            snprintf(url, sizeof url, "%s/alice/m/resolve/main/race/%d_%d.txt", g_url, rs[i].id, k);
            hu_resp r;
            long st = hu_http("GET", url, TOK, NULL, NULL, 0, &r);
            if (st != 200 || strcmp(r.body, "hello")) {
                fprintf(stderr, "  acknowledged race/%d_%d.txt: %ld '%s'\n", rs[i].id, k, st, r.body);
                missing++;
            }
            hu_resp_free(&r);
        }
    return missing;
}

/* 6 threads x 5 commits to main at once: each is either acknowledged and kept, or refused with a
 * status (never lost, never a corrupt branch) */
static void test_branch_race(void) {
    racer rs[6];
    pthread_t th[6];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 6; i++) {
        rs[i].id = i, rs[i].n = 5;
        pthread_create(&th[i], NULL, race_commits, &rs[i]);
    }
    int acked = 0, bad = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < 5; k++) {
            acked += rs[i].acked[k];
            if (!rs[i].acked[k] && rs[i].status[k] != 409 && rs[i].status[k] != 412) bad++;
        }
    }
    CHECKF(acked > 0 && bad == 0, "racing commits: %d acknowledged, %d with another status than 200/409/412", acked, bad);
    CHECKF(acked_missing(rs, 6) == 0, "every acknowledged racing commit is on main");
}

/* A server in a child process (so that it can be SIGKILLed): writes its port to `fd` and waits. */
static pid_t serve_in_child(const char *root, const char *tokens, int *port) {
    int p[2];
    if (pipe(p) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        am_hub_server_options so = am_hub_server_options_default();
        so.root = root;
        so.tokens_file = tokens;
        so.threads = 2;
        am_hub_server *s = am_hub_server_start(&so);
        int pt = s ? am_hub_server_port(s) : -1;
        if (write(p[1], &pt, sizeof pt) != (ssize_t)sizeof pt) _exit(1);
        for (;;) pause();
    }
    close(p[1]);
    *port = -1;
    if (pid < 0 || read(p[0], port, sizeof *port) != (ssize_t)sizeof *port) *port = -1;
    close(p[0]);
    return pid;
}

/* kill -9 while 3 clients commit: after a restart on the same ROOT every acknowledged commit is
 * there, the branch serves, startup leaves no temp file, and --fsck finds nothing damaged */
static void test_kill9(const char *work, const char *tokens) {
    char root[4200];
    snprintf(root, sizeof root, "%s/root-kill9", work);
    am__mkdirs(root);
    int port;
    pid_t pid = serve_in_child(root, tokens, &port);
    CHECKF(pid > 0 && port > 0, "server child: pid %d port %d", (int)pid, port);
    if (pid <= 0 || port <= 0) return;
    char saved_url[128];
    int saved_port = g_port;
    snprintf(saved_url, sizeof saved_url, "%s", g_url);
    g_port = port;
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", port);
    CHECK(post("/api/repos/create", NULL, "{\"name\":\"m\"}", 12, NULL) == 200);
    racer rs[3];
    pthread_t th[3];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 3; i++) {
        rs[i].id = 100 + i, rs[i].n = 16;
        pthread_create(&th[i], NULL, race_commits, &rs[i]);
    }
    /* kill once a few commits have been acknowledged (bounded wait) */
    for (double end = now_s() + 20; now_s() < end;) {
        int acked = 0;
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 16; k++) acked += __atomic_load_n(&rs[i].acked[k], __ATOMIC_RELAXED);
        if (acked >= 4) break;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int acked = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < 16; k++) acked += rs[i].acked[k], refused += !rs[i].acked[k];
    }
    CHECKF(acked >= 4 && refused > 0, "kill -9 mid-commits: %d acknowledged, %d not", acked, refused);
    /* restart on the same ROOT, with --fsck */
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.fsck = true;
    am_hub_server *s = am_hub_server_start(&so);
    CHECKF(s != NULL, "restart after kill -9: %s", am_last_error());
    if (s) {
        g_port = am_hub_server_port(s);
        snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", g_port);
        CHECKF(acked_missing(rs, 3) == 0, "every commit acknowledged before the kill survives it");
        char d[4300];
        snprintf(d, sizeof d, "%s/models--alice--m/quarantine", root);
        CHECK(hu_count_files(d, NULL) <= 0);
        snprintf(d, sizeof d, "%s/models--alice--m/tmp", root);
        CHECK(hu_count_files(d, NULL) <= 0);
        /* and the branch takes new commits */
        CHECK(commit_lines("alice/m", "{\"key\":\"header\",\"value\":{\"summary\":\"after\"}}\n"
                                      "{\"key\":\"file\",\"value\":{\"path\":\"after.txt\",\"content\":\"aGVsbG8=\",\"encoding\":\"base64\"}}\n") == 200);
        am_hub_server_free(s);
    }
    g_port = saved_port;
    snprintf(g_url, sizeof g_url, "%s", saved_url);
}

static am_hub_server *start(const char *tokens, bool fsck) {
    am_hub_server_options so = am_hub_server_options_default();
    so.root = g_root;
    so.tokens_file = tokens;
    so.threads = 2;
    so.max_json_body = 2 << 20;
    so.multipart_chunk = 128 << 10;
    so.max_connections = 150;
    so.max_connections_per_ip = 32;
    so.timeout_s = 2;
    so.fsck = fsck;
    am_hub_server *s = am_hub_server_start(&so);
    if (s) {
        g_port = am_hub_server_port(s);
        snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", g_port);
        setenv("HF_ENDPOINT", g_url, 1);
    }
    return s;
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    char *work = hu_tmpdir("hubrel");
    if (!work) return 1;
    char tokens[4096], home[4096];
    snprintf(g_root, sizeof g_root, "%s/root", work);
    snprintf(tokens, sizeof tokens, "%s/tokens", work);
    snprintf(home, sizeof home, "%s/home", work);
    am__mkdirs(g_root);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "%s alice write\n", TOK);
    fclose(f);
    chmod(tokens, 0600);
    hu_clean_env(home);
    am_hub_server *srv = start(tokens, false);
    if (!srv) {
        CHECKF(0, "%s", am_last_error());
        return 0;
    }
    CHECK(post("/api/repos/create", NULL, "{\"name\":\"m\"}", 12, NULL) == 200);
    /* one server per ROOT */
    {
        am_hub_server_options so = am_hub_server_options_default();
        so.root = g_root;
        am_hub_server *two = am_hub_server_start(&so);
        CHECKF(!two && strstr(am_last_error(), "already served"), "a second server on one ROOT: %s", am_last_error());
        am_hub_server_free(two);
    }
    double t0 = now_s();
    test_ticket_race();
    test_auth_before_body();
    test_orphans();
    test_disk_full();
    test_strings();
    test_slow_loris(32);
    test_branch_race();
    fprintf(stderr, "  server checks took %.1f s\n", now_s() - t0);
    am_hub_server_free(srv);
    test_kill9(work, tokens);

    /* startup: leftovers of a crash are deleted; --fsck quarantines a damaged object */
    char p[4300], obj[4300];
    snprintf(p, sizeof p, "%s/models--alice--m/tmp/deadbeef.0123.upload", g_root);
    am__write_file_atomic(p, "junk", 4);
    snprintf(p, sizeof p, "%s/models--alice--m/commits/x.json.tmp.1.abc", g_root);
    am__write_file_atomic(p, "junk", 4);
    /* damage the object behind w.bin (test_ticket_race stored it: 300000 bytes of fill(seed 1)) */
    static char victim_oid[65];
    const char *victim = victim_oid;
    {
        uint8_t *g = malloc(300000);
        fill(g, 300000, 1);
        am__sha256_hex(g, 300000, victim_oid);
        free(g);
        snprintf(obj, sizeof obj, "%s/models--alice--m/objects/%s", g_root, victim_oid);
        if (!am__is_file(obj)) victim = NULL;
    }
    CHECK(victim != NULL);
    if (victim) {
        FILE *o = fopen(obj, "r+b");
        fputs("tampered", o);
        fclose(o);
    }
    srv = start(tokens, true);
    CHECK(srv != NULL);
    CHECK(count_tmp("models--alice--m") == 0);
    snprintf(p, sizeof p, "%s/models--alice--m/commits/x.json.tmp.1.abc", g_root);
    CHECK(!am__is_file(p));
    if (victim && srv) {
        CHECK(!am__is_file(obj));
        char qd[4300];
        snprintf(qd, sizeof qd, "%s/models--alice--m/quarantine", g_root);
        CHECK(hu_count_files(qd, victim) == 1);
        /* no longer served as if good, and the batch asks for it again */
        char url[512];
        snprintf(url, sizeof url, "%s/alice/m/resolve/main/w.bin", g_url);
        CHECK(hu_http("GET", url, TOK, NULL, NULL, 0, NULL) == 500);
        uint8_t *good = malloc(300000);
        fill(good, 300000, 1);
        batch b;
        CHECK(lfs_batch("alice/m", victim, 300000, false, &b) && b.href[0]);
        CHECK(put(b.href, good, 300000) == 200);
        CHECK(served_hash_is("alice/m", "w.bin", victim));
        free(good);
    }
    am_hub_server_free(srv);
    if (!am_test_failures) hu_rmrf(work);
    else fprintf(stderr, "work folder kept: %s\n", work);
    free(work);
    return 0;
}
