/* tests/test_hub_hostile.c — hostile input on both sides. The client against a scripted fake
 * server (raw sockets, so it can misbehave at the byte level): interrupted bodies (resume with
 * Range), endless truncation, wrong sizes, endless redirects, cross-host redirects (the token must
 * not follow), HTML instead of the hub, oversized headers, bad etags/commits, 429 + Retry-After.
 * The server against hostile requests: traversal in ids and paths, NUL/control bytes, oversized
 * headers and bodies, malformed JSON/NDJSON, LFS uploads with the wrong sha256, stale parents —
 * and nothing outside ROOT is touched, and no partial commit or snapshot file is left behind. */
#include "hub/util.h"
#include <arpa/inet.h>
#include <cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>

#define FILE_N 200000
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static uint8_t g_content[FILE_N];
static char g_sha[65];

typedef struct fake {
    int lfd, port;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    int heads, gets, busy_heads;
    int auth_on_head, auth_on_cdn, cdn_gets;
    char ranges[16][64];
    int n_ranges;
} fake;


static const char *hdr(const char *req, const char *name) {
    static __thread char v[512];
    const char *p = req;
    size_t nl = strlen(name);
    while ((p = strchr(p, '\n'))) {
        p++;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') p++;
            snprintf(v, sizeof v, "%.*s", (int)strcspn(p, "\r\n"), p);
            return v;
        }
    }
    return NULL;
}

static void file_headers(int fd, fake *f, uint64_t size) {
    (void)f;
    hu_sendf(fd, "X-Repo-Commit: %s\r\nETag: \"%s\"\r\nContent-Length: %llu\r\nConnection: close\r\n\r\n", COMMIT, g_sha,
        (unsigned long long)size);
}

static void serve_one(fake *f, int fd) {
    char req[65536];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = 0;
    char method[16] = "", path[2048] = "";
    sscanf(req, "%15s %2047s", method, path);
    bool head = !strcmp(method, "HEAD");
    const char *range = hdr(req, "Range");
    bool has_auth = hdr(req, "Authorization") != NULL;
    pthread_mutex_lock(&f->mu);
    if (head) f->heads++;
    else f->gets++;
    if (range && f->n_ranges < 16) snprintf(f->ranges[f->n_ranges++], 64, "%s", range);
    pthread_mutex_unlock(&f->mu);
    const char *name = strstr(path, "/org/") ? path + 5 : path;
    uint64_t from = 0;
    if (range) sscanf(range, "bytes=%llu-", (unsigned long long *)&from);

#define IS(x) (!strncmp(name, x "/", strlen(x) + 1))
    if (IS("resume") || IS("trunc") || IS("ignorerange")) {
        if (head) {
            hu_sendf(fd, "HTTP/1.1 200 OK\r\n");
            file_headers(fd, f, FILE_N);
        } else if (range && !IS("ignorerange")) {
            uint64_t left = FILE_N - from, send_n = IS("trunc") ? left / 2 : left;
            hu_sendf(fd, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%d/%d\r\n", (unsigned long long)from,
                FILE_N - 1, FILE_N);
            file_headers(fd, f, left);
            hu_send(fd, g_content + from, send_n);
        } else {
            /* the first GET of resume/trunc breaks off half way; ignorerange always sends it all */
            hu_sendf(fd, "HTTP/1.1 200 OK\r\n");
            file_headers(fd, f, FILE_N);
            bool whole = IS("ignorerange") && (range || f->gets > 1);
            hu_send(fd, g_content, whole ? FILE_N : FILE_N / 2);
        }
    } else if (IS("short") || IS("long")) {
        uint64_t announced = IS("short") ? FILE_N : FILE_N / 2, sent = IS("short") ? FILE_N / 2 : FILE_N;
        hu_sendf(fd, "HTTP/1.1 200 OK\r\n");
        file_headers(fd, f, head ? announced : sent);
        if (!head) hu_send(fd, g_content, sent);
    } else if (IS("loop")) {
        hu_sendf(fd, "HTTP/1.1 302 Found\r\nLocation: /org/loop/resolve/main/f.bin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (IS("cdn") || IS("getloop")) {
        if (head) f->auth_on_head = has_auth;
        hu_sendf(fd,
            "HTTP/1.1 302 Found\r\nLocation: http://localhost:%d/cdn/%s\r\nX-Repo-Commit: %s\r\nX-Linked-Etag: \"%s\"\r\n"
            "X-Linked-Size: %d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            f->port, IS("cdn") ? "blob" : "loop", COMMIT, g_sha, FILE_N);
    } else if (!strcmp(path, "/cdn/blob")) {
        pthread_mutex_lock(&f->mu);
        f->cdn_gets++;
        if (has_auth) f->auth_on_cdn++;
        pthread_mutex_unlock(&f->mu);
        hu_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", FILE_N);
        hu_send(fd, g_content, FILE_N);
    } else if (!strcmp(path, "/cdn/loop")) {
        hu_sendf(fd, "HTTP/1.1 302 Found\r\nLocation: /cdn/loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (IS("html") || !strncmp(path, "/api/models/org/html", 20)) {
        static const char page[] = "<html><body>Please sign in to the corporate proxy</body></html>";
        hu_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            sizeof page - 1, head ? "" : page);
    } else if (IS("bighdr")) {
        hu_sendf(fd, "HTTP/1.1 200 OK\r\nX-Junk: ");
        static char junk[300000];
        memset(junk, 'a', sizeof junk);
        hu_send(fd, junk, sizeof junk);
        hu_sendf(fd, "\r\n");
        file_headers(fd, f, FILE_N);
    } else if (IS("badetag") || IS("badcommit") || IS("noetag")) {
        hu_sendf(fd, "HTTP/1.1 200 OK\r\nX-Repo-Commit: %s\r\n%s%s%sContent-Length: 10\r\nConnection: close\r\n\r\n",
            IS("badcommit") ? "../../../../tmp/x" : COMMIT, IS("noetag") ? "" : "ETag: \"",
            IS("noetag") ? "" : IS("badetag") ? "../../evil" : g_sha, IS("noetag") ? "" : "\"\r\n");
    } else if (IS("busy")) {
        pthread_mutex_lock(&f->mu);
        int k = head ? f->busy_heads++ : -1;
        pthread_mutex_unlock(&f->mu);
        if (head && k == 0)
            hu_sendf(fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        else if (head) {
            hu_sendf(fd, "HTTP/1.1 200 OK\r\n");
            file_headers(fd, f, FILE_N);
        } else {
            hu_sendf(fd, "HTTP/1.1 200 OK\r\n");
            file_headers(fd, f, FILE_N);
            hu_send(fd, g_content, FILE_N);
        }
    } else {
        hu_sendf(fd, "HTTP/1.1 404 Not Found\r\nX-Error-Code: RepoNotFound\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
#undef IS
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static void *fake_loop(void *arg) {
    fake *f = arg;
    while (!f->stop) {
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0) continue;
        if (f->stop) {
            close(c);
            break;
        }
        serve_one(f, c);
    }
    return NULL;
}

static bool fake_start(fake *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 64) != 0) return false;
    socklen_t l = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &l);
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->th, NULL, fake_loop, f) == 0;
}

static void fake_stop(fake *f) {
    f->stop = 1;
    int c = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)f->port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(f->th, NULL);
    close(f->lfd);
}

/* No snapshot entry and no blob after a failed download; `partials` resumable .incomplete files. */
static void check_nothing_left(const char *cache, const char *repo, int partials) {
    char p[4096];
    snprintf(p, sizeof p, "%s/models--org--%s/snapshots", cache, repo);
    CHECKF(hu_count_files(p, NULL) == 0, "a failed download left files in %s", p);
    snprintf(p, sizeof p, "%s/models--org--%s/blobs", cache, repo);
    CHECKF(hu_count_files(p, NULL) == partials && hu_count_files(p, ".incomplete") == partials,
           "a failed download left %d files in %s (%d partials expected)", hu_count_files(p, NULL), p, partials);
}

static void test_client(const char *work) {
    for (int i = 0; i < FILE_N; i++) g_content[i] = (uint8_t)(i * 7 % 251);
    am__sha256 s;
    uint8_t d[32];
    am__sha256_init(&s);
    am__sha256_update(&s, g_content, FILE_N);
    am__sha256_final(&s, d);
    am__hex(d, 32, g_sha);
    fake f;
    if (!fake_start(&f)) {
        CHECKF(0, "cannot start the fake server");
        return;
    }
    char home[4096], url[64], cache[4096], src[4096];
    snprintf(home, sizeof home, "%s/home_fake", work);
    snprintf(cache, sizeof cache, "%s/hub", home);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    hu_clean_env(home);
    setenv("HF_ENDPOINT", url, 1);
    snprintf(src, sizeof src, "%s/content.bin", work);
    am__write_file_atomic(src, g_content, FILE_N);
    am__hub_opts o = am__hub_opts_default();
    char *p = NULL;

    /* resume: the first body breaks off half way; the rest comes with Range */
    CHECK_OK(am__hub_download_file("org/resume", "f.bin", &o, false, &p, NULL));
    CHECK(p && hu_same_file(p, src));
    free(p);
    bool ranged = false;
    for (int i = 0; i < f.n_ranges; i++) ranged |= !strcmp(f.ranges[i], "bytes=100000-");
    CHECKF(ranged, "no 'Range: bytes=100000-' request was seen (%d ranges)", f.n_ranges);

    /* a server that ignores Range and answers 200: the file restarts cleanly */
    f.gets = 0;
    CHECK_OK(am__hub_download_file("org/ignorerange", "f.bin", &o, false, &p, NULL));
    CHECK(p && hu_same_file(p, src));
    free(p);

    /* endless truncation: gives up after the resumes, and keeps blobs/<etag>.incomplete (good bytes)
     * for the next run to resume */
    CHECK(am__hub_download_file("org/trunc", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "broke off"));
    check_nothing_left(cache, "trunc", 1);
    /* wrong sizes both ways */
    CHECK(am__hub_download_file("org/short", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "Consistency check failed"));
    check_nothing_left(cache, "short", 0);
    CHECK(am__hub_download_file("org/long", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "more data than expected"));
    check_nothing_left(cache, "long", 0);
    /* endless redirects, on the probe and on the transfer */
    CHECK(am__hub_download_file("org/loop", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "too many redirects"));
    CHECK(am__hub_download_file("org/getloop", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "too many redirects"));
    check_nothing_left(cache, "getloop", 0);
    /* a redirect to another host (localhost vs 127.0.0.1): the token stays behind */
    o.token = "secret-token";
    CHECK_OK(am__hub_download_file("org/cdn", "f.bin", &o, false, &p, NULL));
    CHECK(p && hu_same_file(p, src));
    free(p);
    CHECK(f.auth_on_head == 1 && f.cdn_gets >= 1 && f.auth_on_cdn == 0);
    o.token = NULL;
    /* HTML from a proxy instead of the hub */
    CHECK(am__hub_download_file("org/html", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "X-Repo-Commit"));
    char *dir = NULL;
    CHECK(am__hub_snapshot_download("org/html", &o, NULL, &dir) == AM_ERR_FORMAT && strstr(am_last_error(), "JSON"));
    /* oversized response headers */
    CHECK(am__hub_download_file("org/bighdr", "f.bin", &o, false, &p, NULL) != AM_OK);
    /* an etag or commit that would be a path */
    CHECK(am__hub_download_file("org/badetag", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "ETag"));
    CHECK(am__hub_download_file("org/noetag", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK);
    CHECK(am__hub_download_file("org/badcommit", "f.bin", &o, false, &p, NULL) == AM_ERR_NETWORK);
    snprintf(p = malloc(4096), 4096, "%s/tmp", work);
    CHECK(!am__is_file(p) && !am__is_dir(p));
    free(p);
    /* 429 + Retry-After: the patient second probe waits and succeeds */
    CHECK_OK(am__hub_download_file("org/busy", "f.bin", &o, false, &p, NULL));
    CHECK(f.busy_heads == 2);
    free(p);
    /* hostile names never reach the network */
    int before = f.heads + f.gets;
    CHECK(am__hub_download_file("org/../x", "f.bin", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    CHECK(am__hub_download_file("org/x", "../f.bin", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    CHECK(am__hub_download_file("org/x", "/etc/passwd", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    CHECK(am__hub_download_file("org/x", "a\x01b", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    o.revision = "../../main";
    CHECK(am__hub_download_file("org/x", "f.bin", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    o.revision = NULL;
    o.subfolder = "..";
    CHECK(am__hub_download_file("org/x", "f.bin", &o, false, &p, NULL) == AM_ERR_INVALID_ARGUMENT);
    o.subfolder = NULL;
    CHECK(f.heads + f.gets == before);
    fake_stop(&f);
}

/* ---- the server against hostile requests ---------------------------------------------- */

static char g_url[128];
static const char *TOK = "tok_alice_hostile_0123456789";

static long post(const char *path, const char *ctype, const void *body, size_t n, hu_resp *r) {
    char url[4096], ct[256];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    const char *h[] = {ct, NULL};
    return hu_http("POST", url, TOK, h, body, n, r);
}

static long get(const char *path, hu_resp *r) {
    char url[4096];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    return hu_http("GET", url, TOK, NULL, NULL, 0, r);
}

static char *head_of(const char *repo) {
    char path[512];
    snprintf(path, sizeof path, "/api/models/%s/revision/main", repo);
    hu_resp r;
    get(path, &r);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "sha");
    char *out = cJSON_IsString(s) ? strdup(s->valuestring) : NULL;
    cJSON_Delete(j);
    hu_resp_free(&r);
    return out;
}

static void test_server(const char *work) {
    char parent[4096], root[4096], tokens[4096], canary[4096];
    snprintf(parent, sizeof parent, "%s/jail", work);
    snprintf(root, sizeof root, "%s/jail/root", work);
    snprintf(tokens, sizeof tokens, "%s/tokens_h", work);
    snprintf(canary, sizeof canary, "%s/jail/canary.txt", work);
    am__mkdirs(root);
    am__write_file_atomic(canary, "canary", 6);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "%s alice write\n", TOK);
    fclose(f);
    chmod(tokens, 0600);
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.max_body = 1 << 20;
    so.threads = 2;
    am_hub_server *srv = am_hub_server_start(&so);
    if (!srv) {
        CHECKF(0, "%s", am_last_error());
        return;
    }
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    char home[4096];
    snprintf(home, sizeof home, "%s/home_h", work);
    hu_clean_env(home);
    setenv("HF_ENDPOINT", g_url, 1);
    am_push_options po = am_push_options_default();
    po.token = TOK;
    CHECK_OK(am_hub_upload_folder(am_test_fixture("hub/bert_seqcls"), "alice/m", &po));
    char *h0 = head_of("alice/m");
    CHECK(h0 != NULL);
    hu_resp r;

    /* traversal, absolute paths, NUL and control bytes in URLs */
    static const char *const bad_gets[] = {
        "/alice/m/resolve/main/..%2Frepo.json",  "/alice/m/resolve/main/../../repo.json",
        "/alice/m/resolve/main/%2Fetc%2Fpasswd", "/alice/m/resolve/main/config.json%00.txt",
        "/alice/m/resolve/main/a%0Ab",           "/alice/..%2F..%2Fjail/resolve/main/canary.txt",
        "/..%2F..%2Fcanary.txt",                 "/api/models/alice/m/tree/main/..%2F..",
        "/api/models/..%2Fjail/revision/main",   "/alice/m/resolve/..%2F..%2Fobjects/config.json",
        "/alice/m/resolve/main/objects",         "/api/models/alice/m/revision/..%2F..%2Frepo.json",
        NULL};
    for (const char *const *u = bad_gets; *u; u++) {
        long st = get(*u, &r);
        CHECKF(st >= 400 && st < 500 && !strstr(r.body, "canary") && !strstr(r.body, "\"owner\""), "GET %s -> %ld %s", *u,
               st, r.body);
        hu_resp_free(&r);
    }
    /* oversized headers and bodies */
    char *big = malloc(200000);
    memset(big, 'x', 199999);
    memcpy(big, "X-Big: ", 7);
    big[199999] = 0;
    {
        char url[256];
        snprintf(url, sizeof url, "%s/alice/m/resolve/main/config.json", g_url);
        const char *h[] = {big, NULL};
        long st = hu_http("GET", url, NULL, h, NULL, 0, NULL);
        CHECKF(st == 431 || st == 413 || st == 400 || st == -1, "oversized header -> %ld", st);
    }
    free(big);
    size_t bn = (1 << 20) + 100;
    char *body = malloc(bn);
    memset(body, ' ', bn);
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", body, bn, NULL) == 413);
    CHECK(post("/api/repos/create", NULL, body, bn, NULL) == 413);
    free(body);

    /* malformed JSON and NDJSON */
    CHECK(post("/api/repos/create", NULL, "{\"name\": ", 9, NULL) == 400);
    CHECK(post("/api/repos/create", NULL, "[1,2]", 5, NULL) == 400);
    CHECK(post("/api/repos/create", NULL, "{\"name\":\"../x\"}", 15, NULL) == 400);
    CHECK(post("/api/repos/create", NULL, "{\"name\":\"x\",\"organization\":\"..\"}", 33, NULL) == 400);
    CHECK(post("/api/models/alice/m/preupload/main", NULL, "nope", 4, NULL) == 400);
    CHECK(post("/api/models/alice/m/preupload/main", NULL, "{\"files\":[{\"path\":\"../x\",\"size\":1}]}", 37, NULL) == 400);
    CHECK(post("/alice/m.git/info/lfs/objects/batch", "application/vnd.git-lfs+json", "{", 1, NULL) == 422);
    static const char *const bad_commits[] = {
        "garbage\n",
        "{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"\"}}\n", /* no header first */
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"../evil\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"/abs\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\".git/config\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"ok.txt\",\"content\":\"!!!\",\"encoding\":\"base64\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"ok.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n{\"key\":\"header\",\"value\":{\"summary\":\"y\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"ok.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n{not json\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"copyFile\",\"value\":{\"path\":\"a\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"x\",\"parentCommit\":\"../../x\"}}\n",
        "{\"key\":\"header\",\"value\":{\"summary\":\"\"}}\n",
        NULL};
    for (const char *const *c = bad_commits; *c; c++) {
        long st = post("/api/models/alice/m/commit/main", "application/x-ndjson", *c, strlen(*c), &r);
        CHECKF(st == 400, "commit %s -> %ld %s", *c, st, r.body);
        hu_resp_free(&r);
    }
    char *h1 = head_of("alice/m");
    CHECK(h0 && h1 && !strcmp(h0, h1)); /* no partial commit */
    free(h1);

    /* semantic refusals, atomically: the good first line must not survive a bad second */
    char fake_oid[65];
    memset(fake_oid, 'a', 64);
    fake_oid[64] = 0;
    char cbuf[1024];
    snprintf(cbuf, sizeof cbuf,
             "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n"
             "{\"key\":\"file\",\"value\":{\"path\":\"good.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n"
             "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":5}}\n",
             fake_oid);
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", cbuf, strlen(cbuf), NULL) == 422);
    snprintf(cbuf, sizeof cbuf,
             "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n"
             "{\"key\":\"file\",\"value\":{\"path\":\"config.json/inner\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n");
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", cbuf, strlen(cbuf), NULL) == 422);
    snprintf(cbuf, sizeof cbuf,
             "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"deletedFile\",\"value\":{\"path\":\"nope\"}}\n");
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", cbuf, strlen(cbuf), NULL) == 422);
    snprintf(cbuf, sizeof cbuf,
             "{\"key\":\"header\",\"value\":{\"summary\":\"x\",\"parentCommit\":\"%s\"}}\n"
             "{\"key\":\"file\",\"value\":{\"path\":\"good.txt\",\"content\":\"aGk=\",\"encoding\":\"base64\"}}\n",
             "1111111111111111111111111111111111111111");
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", cbuf, strlen(cbuf), NULL) == 412);
    h1 = head_of("alice/m");
    CHECK(h0 && h1 && !strcmp(h0, h1));
    free(h1);

    /* LFS: an upload whose bytes do not hash to the announced oid is refused and not stored */
    const char *data = "hello world, this is not what you announced";
    size_t dn = strlen(data);
    char lb[512];
    snprintf(lb, sizeof lb, "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"%s\",\"size\":%zu}]}",
             fake_oid, dn);
    CHECK(post("/alice/m.git/info/lfs/objects/batch", "application/vnd.git-lfs+json", lb, strlen(lb), &r) == 200);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *href = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "objects"), 0), "actions"),
            "upload"),
        "href");
    CHECK(cJSON_IsString(href));
    if (cJSON_IsString(href)) {
        hu_resp pr;
        long st = hu_http("PUT", href->valuestring, NULL, NULL, data, dn, &pr);
        CHECKF(st == 400 && strstr(pr.body, "sha256 mismatch"), "PUT -> %ld %s", st, pr.body);
        hu_resp_free(&pr);
        /* the ticket is spent: a second try is refused too */
        CHECK(hu_http("PUT", href->valuestring, NULL, NULL, data, dn, NULL) == 404);
    }
    cJSON_Delete(j);
    hu_resp_free(&r);
    /* and more bytes than announced are refused */
    snprintf(lb, sizeof lb, "{\"operation\":\"upload\",\"objects\":[{\"oid\":\"%s\",\"size\":4}]}", fake_oid);
    CHECK(post("/alice/m.git/info/lfs/objects/batch", "application/vnd.git-lfs+json", lb, strlen(lb), &r) == 200);
    j = cJSON_Parse(r.body);
    href = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "objects"), 0), "actions"),
            "upload"),
        "href");
    if (cJSON_IsString(href)) CHECK(hu_http("PUT", href->valuestring, NULL, NULL, data, dn, NULL) == 413);
    cJSON_Delete(j);
    hu_resp_free(&r);
    snprintf(lb, sizeof lb, "{\"operation\":\"upload\",\"objects\":[{\"oid\":\"../../x\",\"size\":4}]}");
    CHECK(post("/alice/m.git/info/lfs/objects/batch", "application/vnd.git-lfs+json", lb, strlen(lb), &r) == 200 &&
          strstr(r.body, "\"error\""));
    hu_resp_free(&r);
    snprintf(cbuf, sizeof cbuf,
             "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n"
             "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":%zu}}\n",
             fake_oid, dn);
    CHECK(post("/api/models/alice/m/commit/main", "application/x-ndjson", cbuf, strlen(cbuf), NULL) == 422);
    CHECK(post("/lfs-upload/0123", "application/octet-stream", "x", 1, NULL) == 404);

    /* writes without the right token */
    {
        char url[256];
        snprintf(url, sizeof url, "%s/api/models/alice/m/commit/main", g_url);
        const char *h[] = {"Content-Type: application/x-ndjson", NULL};
        CHECK(hu_http("POST", url, NULL, h, "x", 1, NULL) == 401);
        CHECK(hu_http("POST", url, "not-a-token", h, "x", 1, NULL) == 401);
    }
    h1 = head_of("alice/m");
    CHECK(h0 && h1 && !strcmp(h0, h1));
    free(h1);
    free(h0);

    /* the jail: only ROOT and the canary, the canary untouched, no stray files in ROOT's repo tmp */
    CHECK(hu_count_files(parent, NULL) - hu_count_files(root, NULL) == 1);
    size_t cn = 0;
    char *cv = am_test_read_file(canary, &cn);
    CHECK(cv && cn == 6 && !memcmp(cv, "canary", 6));
    free(cv);
    char tmpd[4096];
    snprintf(tmpd, sizeof tmpd, "%s/models--alice--m/tmp", root);
    CHECK(hu_count_files(tmpd, NULL) == 0);
    am_hub_server_free(srv);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    char *work = hu_tmpdir("hubh");
    if (!work) return 1;
    test_client(work);
    test_server(work);
    if (!am_test_failures) hu_rmrf(work);
    else fprintf(stderr, "work folder kept: %s\n", work);
    free(work);
    return 0;
}
