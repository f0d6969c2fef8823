/* tests/test_hub_resume.c — the download client under interruption, corruption and outages
 * (issue 18: 1 client side, 4, 6), against a scripted loopback responder that counts what it
 * serves, and against our own `hub serve`:
 * - a file whose bytes do not match its ETag (the LFS sha256) fails and caches nothing, whether
 *   the responder lies or the server's stored object was corrupted on disk;
 * - `automodel download` killed mid-file (SIGKILL) leaves blobs/<etag>.incomplete under the blob
 *   lock, and the rerun asks only for the rest (Range) and is served exactly the missing bytes; stale
 *   partials (earlier versions' random names) are removed; a server that ignores Range restarts
 *   the file cleanly; a corrupted partial is caught by the hash and discarded; two threads
 *   downloading one blob take turns on its lock and the file is served once;
 * - a server that starts listening seconds after the client began is waited for; 503 and 429 on
 *   the transfer are retried after a backoff (Retry-After honoured); a transfer that is 503 forever
 *   and a dead endpoint fail after AM_HUB_RETRY_TIMEOUT with a message naming the URL; with the
 *   endpoint down, a resolve of ten optional files waits out the budget once. */
#include "hub/util.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#define COMMIT "89abcdef0123456789abcdef0123456789abcdef"
#define BIG_N (8u << 20)
#define STALL_AT (3u << 20)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the responder ------------------------------------------------------------------------ */

typedef struct responder {
    int lfd, port;
    pthread_t th;
    volatile int stop;
    double listen_delay_s; /* bind+listen only this long after start (a server coming back up) */
    pthread_mutex_t mu;
    /* what it serves: one file at every path */
    const uint8_t *data;
    size_t size;
    char etag[65];
    /* behaviour */
    uint64_t stall_after; /* a GET without Range sends this many bytes, then holds until the peer goes */
    bool ignore_range;
    int fail_gets;        /* the next GETs answered 503 */
    int ra_gets;          /* then these answered 429 + Retry-After: 1 */
    /* what happened */
    int heads, gets;
    uint64_t served;      /* body bytes sent to GETs */
    char ranges[8][64];
    int n_ranges;
    double get_t[16];
} responder;


static bool range_of(const char *req, char out[64]) {
    const char *p = strcasestr(req, "\nRange:");
    if (!p) return false;
    p += 7;
    while (*p == ' ') p++;
    snprintf(out, 64, "%.*s", (int)strcspn(p, "\r\n"), p);
    return true;
}

/* Send body bytes, counting what the kernel took. */
static void send_body(responder *r, int fd, const uint8_t *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off > 65536 ? 65536 : n - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
        pthread_mutex_lock(&r->mu);
        r->served += (uint64_t)w;
        pthread_mutex_unlock(&r->mu);
    }
}

static void serve_one(responder *r, int fd) {
    char req[16384];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t k = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = 0;
    bool head = !strncmp(req, "HEAD ", 5);
    char range[64];
    bool ranged = range_of(req, range);
    pthread_mutex_lock(&r->mu);
    int fail = 0; /* 1: 503, 2: 429 */
    if (head) r->heads++;
    else {
        if (r->gets < 16) r->get_t[r->gets] = now_s();
        r->gets++;
        if (ranged && r->n_ranges < 8) snprintf(r->ranges[r->n_ranges++], 64, "%s", range);
        if (r->fail_gets > 0) r->fail_gets--, fail = 1;
        else if (r->ra_gets > 0) r->ra_gets--, fail = 2;
    }
    uint64_t stall = r->stall_after;
    pthread_mutex_unlock(&r->mu);
    const char *common = "X-Repo-Commit: " COMMIT "\r\nConnection: close\r\n";
    if (head) {
        hu_sendf(fd, "HTTP/1.1 200 OK\r\n%sETag: \"%s\"\r\nContent-Length: %zu\r\n\r\n", common, r->etag, r->size);
    } else if (fail) {
        hu_sendf(fd, "HTTP/1.1 %s\r\n%s%sContent-Length: 0\r\n\r\n", fail == 1 ? "503 Service Unavailable" : "429 Too Many Requests",
            common, fail == 2 ? "Retry-After: 1\r\n" : "");
    } else {
        unsigned long long from = 0;
        if (ranged && !r->ignore_range && sscanf(range, "bytes=%llu-", &from) == 1 && from < r->size) {
            hu_sendf(fd, "HTTP/1.1 206 Partial Content\r\n%sContent-Range: bytes %llu-%zu/%zu\r\nContent-Length: %llu\r\n\r\n",
                common, from, r->size - 1, r->size, (unsigned long long)(r->size - from));
            send_body(r, fd, r->data + from, r->size - from);
        } else {
            hu_sendf(fd, "HTTP/1.1 200 OK\r\n%sETag: \"%s\"\r\nContent-Length: %zu\r\n\r\n", common, r->etag, r->size);
            if (stall && !ranged && stall < r->size) {
                send_body(r, fd, r->data, stall);
                /* hold the connection until the client goes away (it is killed), 30 s at most */
                struct timeval tv = {30, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char sink[256];
                while (recv(fd, sink, sizeof sink, 0) > 0) {
                }
            } else send_body(r, fd, r->data, r->size);
        }
    }
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static bool listen_on(responder *r) {
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)r->port);
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(r->lfd, 16) != 0) return false;
    socklen_t l = sizeof a;
    getsockname(r->lfd, (struct sockaddr *)&a, &l);
    r->port = ntohs(a.sin_port);
    return true;
}

static void *loop(void *arg) {
    responder *r = arg;
    if (r->listen_delay_s > 0) {
        double until = now_s() + r->listen_delay_s;
        while (!r->stop && now_s() < until) usleep(10000);
        if (r->stop || !listen_on(r)) return NULL;
    }
    while (!r->stop) {
        int c = accept(r->lfd, NULL, NULL);
        if (c < 0) continue;
        if (r->stop) {
            close(c);
            break;
        }
        serve_one(r, c);
    }
    return NULL;
}

/* A port nothing listens on (bound, read and released). */
static int free_port(void) {
    responder t = {0};
    if (!listen_on(&t)) {
        if (t.lfd >= 0) close(t.lfd);
        return -1;
    }
    close(t.lfd);
    return t.port;
}

static bool start(responder *r, const uint8_t *data, size_t size, const char *etag, double listen_delay_s) {
    memset(r, 0, sizeof *r);
    r->lfd = -1;
    pthread_mutex_init(&r->mu, NULL);
    r->data = data;
    r->size = size;
    snprintf(r->etag, sizeof r->etag, "%s", etag);
    r->listen_delay_s = listen_delay_s;
    if (listen_delay_s > 0) r->port = free_port();
    else if (!listen_on(r)) return false;
    return r->port > 0 && pthread_create(&r->th, NULL, loop, r) == 0;
}

static void stop(responder *r) {
    r->stop = 1;
    int c = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)r->port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(r->th, NULL);
    if (r->lfd >= 0) close(r->lfd);
}

static void counters_reset(responder *r) {
    pthread_mutex_lock(&r->mu);
    r->heads = r->gets = r->n_ranges = 0;
    r->served = 0;
    pthread_mutex_unlock(&r->mu);
}

/* ---- helpers -------------------------------------------------------------------------------- */

static uint8_t *g_data;
static char g_sha[65];
static char g_work[4096];

static void setup_env(const char *tag, responder *r, char cache[4096]) {
    char home[4096], url[64];
    snprintf(home, sizeof home, "%s/home_%s", g_work, tag);
    snprintf(cache, 4096, "%s/hub", home);
    hu_clean_env(home);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", r ? r->port : 1);
    setenv("HF_ENDPOINT", url, 1);
}

static uint64_t file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static void write_bytes(const char *p, const void *d, size_t n) {
    char *dir = strdup(p);
    *strrchr(dir, '/') = 0;
    am__mkdirs(dir);
    free(dir);
    am__write_file_atomic(p, d, n);
}

/* The blob in the cache is the file, and no partial is left. */
static void check_blob_ok(const char *cache, const char *repo) {
    char p[4096];
    snprintf(p, sizeof p, "%s/models--org--%s/blobs/%s", cache, repo, g_sha);
    size_t n = 0;
    char *d = am_test_read_file(p, &n);
    CHECKF(d && n == BIG_N && !memcmp(d, g_data, n), "%s: blob missing or wrong (%zu bytes)", repo, n);
    free(d);
    snprintf(p, sizeof p, "%s/models--org--%s/blobs", cache, repo);
    CHECKF(hu_count_files(p, NULL) == 1 && hu_count_files(p, ".incomplete") == 0, "%s: %d files in blobs/ (1 expected)",
           repo, hu_count_files(p, NULL));
}

/* ---- 1. the sha256 of an LFS file against its ETag ----------------------------------------- */

static void test_hash_mismatch(void) {
    uint8_t *bad = malloc(BIG_N);
    memcpy(bad, g_data, BIG_N);
    bad[BIG_N / 2] ^= 0x5a; /* same size, one byte off: only the hash can tell */
    responder r;
    CHECK(start(&r, bad, BIG_N, g_sha, 0));
    char cache[4096], p[4096];
    setup_env("mismatch", &r, cache);
    am__hub_opts o = am__hub_opts_default();
    char *path = NULL;
    am_status st = am__hub_download_file("org/bad", "w.bin", &o, false, &path, NULL);
    CHECKF(st == AM_ERR_NETWORK && strstr(am_last_error(), "sha256") && strstr(am_last_error(), g_sha) &&
               strstr(am_last_error(), "w.bin") && strstr(am_last_error(), "nothing was cached"),
           "a corrupted LFS file: %d %s", st, am_last_error());
    CHECK(path == NULL);
    free(path);
    snprintf(p, sizeof p, "%s/models--org--bad/blobs", cache);
    CHECKF(hu_count_files(p, NULL) == 0, "a corrupted download left %d files in blobs/", hu_count_files(p, NULL));
    snprintf(p, sizeof p, "%s/models--org--bad/snapshots", cache);
    CHECK(hu_count_files(p, NULL) == 0);
    stop(&r);
    free(bad);
}

/* Our own server with an object corrupted on disk after the upload: the client refuses it too
 * (or the server does, once it verifies what it serves: either way nothing is cached). */
static char *g_obj_want;
static char *g_obj_found;
static int find_obj(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)ftw;
    const char *b = strrchr(p, '/');
    if (flag == FTW_F && b && !strcmp(b + 1, g_obj_want) && !g_obj_found) g_obj_found = strdup(p);
    return 0;
}

static void test_server_corrupt_object(void) {
    char root[4096], tokens[4096], folder[4096], p[4096], cache[4096];
    snprintf(root, sizeof root, "%s/srv_root", g_work);
    snprintf(tokens, sizeof tokens, "%s/srv_tokens", g_work);
    snprintf(folder, sizeof folder, "%s/srv_model", g_work);
    am__mkdirs(root);
    static const char tok[] = "tok_resume_alice_0123456789";
    char line[128];
    snprintf(line, sizeof line, "%s alice write\n", tok);
    write_bytes(tokens, line, strlen(line));
    chmod(tokens, 0600);
    snprintf(p, sizeof p, "%s/w.bin", folder);
    write_bytes(p, g_data, 1u << 20);
    char sha[65];
    am__sha256_hex(g_data, 1u << 20, sha);
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.threads = 2;
    am_hub_server *srv = am_hub_server_start(&so);
    CHECKF(srv != NULL, "%s", am_last_error());
    if (!srv) return;
    setup_env("server", NULL, cache);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    setenv("HF_ENDPOINT", url, 1);
    am_push_options po = am_push_options_default();
    po.token = tok;
    CHECK_OK(am_hub_upload_folder(folder, "alice/corrupt", &po));
    g_obj_want = sha;
    g_obj_found = NULL;
    nftw(root, find_obj, 16, FTW_PHYS);
    CHECKF(g_obj_found != NULL, "the uploaded object %s is not under %s", sha, root);
    if (g_obj_found) {
        int fd = open(g_obj_found, O_WRONLY);
        CHECK(fd >= 0 && pwrite(fd, "\xff", 1, 4096) == 1);
        if (fd >= 0) close(fd);
    }
    am__hub_opts o = am__hub_opts_default();
    char *path = NULL;
    CHECKF(am__hub_download_file("alice/corrupt", "w.bin", &o, false, &path, NULL) != AM_OK,
           "a corrupted stored object was downloaded as %s", path ? path : "?");
    free(path);
    snprintf(p, sizeof p, "%s/models--alice--corrupt/blobs", cache);
    CHECKF(hu_count_files(p, NULL) == 0, "a corrupted object left %d files in blobs/", hu_count_files(p, NULL));
    free(g_obj_found);
    am_hub_server_free(srv);
}

/* ---- 4. resume across runs ------------------------------------------------------------------ */

/* Run the CLI's download in a child with the test's environment; returns its pid. */
static pid_t spawn_download(const char *repo) {
    const char *cli = getenv("AM_CLI");
    if (!cli) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) dup2(nul, 1);
        execl(cli, cli, "download", repo, "w.bin", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid, double timeout_s) {
    double until = now_s() + timeout_s;
    int status = 0;
    while (now_s() < until) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void test_kill_and_resume(void) {
    if (!getenv("AM_CLI")) {
        CHECKF(0, "AM_CLI is not set: the CLI kill test cannot run");
        return;
    }
    responder r;
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    char cache[4096], part[4096], lock[4096], legacy[4096];
    setup_env("kill", &r, cache);
    setenv("HF_HUB_DOWNLOAD_TIMEOUT", "60", 1); /* the stall must not time the client out first */
    r.stall_after = STALL_AT;
    snprintf(part, sizeof part, "%s/models--org--big/blobs/%s.incomplete", cache, g_sha);
    snprintf(lock, sizeof lock, "%s/.locks/models--org--big/%s.lock", cache, g_sha);
    pid_t pid = spawn_download("org/big");
    CHECK(pid > 0);
    /* wait until the client holds every byte sent before the stall, then kill it */
    double until = now_s() + 20;
    while (now_s() < until && file_size(part) < STALL_AT) usleep(5000);
    CHECKF(file_size(part) == STALL_AT, "the partial %s has %llu bytes (want %u): not the deterministic name?", part,
           (unsigned long long)file_size(part), STALL_AT);
    CHECK(am__is_file(lock));
    if (pid > 0) {
        kill(pid, SIGKILL);
        wait_exit(pid, 10);
    }
    CHECK(r.gets == 1 && r.served == STALL_AT);
    /* a leftover of an earlier version (process-unique name) and of an abandoned etag */
    snprintf(legacy, sizeof legacy, "%s/models--org--big/blobs/%s.0badc0de.incomplete", cache, g_sha);
    write_bytes(legacy, g_data, 12345);
    char old[4096];
    snprintf(old, sizeof old, "%s/models--org--big/blobs/%064d.incomplete", cache, 7);
    write_bytes(old, g_data, 999);
    struct timespec ts[2] = {{time(NULL) - 8 * 24 * 3600, 0}, {time(NULL) - 8 * 24 * 3600, 0}};
    utimensat(AT_FDCWD, old, ts, 0);

    /* the rerun asks for the rest only */
    r.stall_after = 0;
    counters_reset(&r);
    pid = spawn_download("org/big");
    int rc = wait_exit(pid, 60);
    CHECKF(rc == 0, "the rerun exited with %d", rc);
    char want[64];
    snprintf(want, sizeof want, "bytes=%u-", STALL_AT);
    CHECKF(r.gets == 1 && r.n_ranges == 1 && !strcmp(r.ranges[0], want), "rerun: %d GETs, range '%s' (want '%s')", r.gets,
           r.n_ranges ? r.ranges[0] : "none", want);
    CHECKF(r.served == BIG_N - STALL_AT, "rerun: %llu bytes served again (want %u)", (unsigned long long)r.served,
           BIG_N - STALL_AT);
    check_blob_ok(cache, "big");
    CHECK(!am__is_file(legacy) && !am__is_file(old));
    char snap[4096];
    snprintf(snap, sizeof snap, "%s/models--org--big/snapshots/" COMMIT "/w.bin", cache);
    CHECK(file_size(snap) == BIG_N);
    stop(&r);
}

/* Partials left by an earlier run, in-process: a server that ignores Range, a partial that is not
 * a prefix of the file, one longer than the file, and one that is the whole file. */
static void test_partials(void) {
    responder r;
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    char cache[4096], part[4096], blobs[4096];
    am__hub_opts o = am__hub_opts_default();
    char *path = NULL;
    uint8_t junk[1000];
    memset(junk, 0xee, sizeof junk);

    /* 200 to a Range: the partial is replaced by the file from byte 0 */
    setup_env("ignore", &r, cache);
    snprintf(part, sizeof part, "%s/models--org--ign/blobs/%s.incomplete", cache, g_sha);
    write_bytes(part, junk, sizeof junk);
    r.ignore_range = true;
    CHECK_OK(am__hub_download_file("org/ign", "w.bin", &o, false, &path, NULL));
    free(path);
    CHECK(r.gets == 1 && r.n_ranges == 1 && r.served == BIG_N);
    check_blob_ok(cache, "ign");
    r.ignore_range = false;

    /* a partial that is not the file's prefix: resumed with 206, caught by the hash, discarded */
    setup_env("junk", &r, cache);
    snprintf(part, sizeof part, "%s/models--org--junk/blobs/%s.incomplete", cache, g_sha);
    snprintf(blobs, sizeof blobs, "%s/models--org--junk/blobs", cache);
    write_bytes(part, junk, sizeof junk);
    counters_reset(&r);
    CHECK(am__hub_download_file("org/junk", "w.bin", &o, false, &path, NULL) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "sha256"));
    CHECK(r.served == BIG_N - sizeof junk);
    CHECKF(hu_count_files(blobs, NULL) == 0, "%d files left in %s", hu_count_files(blobs, NULL), blobs);
    /* and the next run starts from zero and succeeds */
    counters_reset(&r);
    CHECK_OK(am__hub_download_file("org/junk", "w.bin", &o, false, &path, NULL));
    free(path);
    CHECK(r.n_ranges == 0 && r.served == BIG_N);
    check_blob_ok(cache, "junk");

    /* longer than the file: restarted */
    setup_env("long", &r, cache);
    snprintf(part, sizeof part, "%s/models--org--long/blobs/%s.incomplete", cache, g_sha);
    write_bytes(part, g_data, BIG_N);
    int fd = open(part, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, junk, 10) == 10);
    if (fd >= 0) close(fd);
    counters_reset(&r);
    CHECK_OK(am__hub_download_file("org/long", "w.bin", &o, false, &path, NULL));
    free(path);
    CHECK(r.n_ranges == 0 && r.served == BIG_N);
    check_blob_ok(cache, "long");

    /* the whole file (killed before the rename): verified and moved, no GET */
    setup_env("whole", &r, cache);
    snprintf(part, sizeof part, "%s/models--org--whole/blobs/%s.incomplete", cache, g_sha);
    write_bytes(part, g_data, BIG_N);
    counters_reset(&r);
    CHECK_OK(am__hub_download_file("org/whole", "w.bin", &o, false, &path, NULL));
    free(path);
    CHECK(r.gets == 0 && r.heads == 1);
    check_blob_ok(cache, "whole");
    stop(&r);
}

/* Two threads downloading one blob: they take turns on its lock, the file is served once. */
typedef struct dl_arg {
    am_status st;
    char *path;
    char err[512];
} dl_arg;
static void *dl_thread(void *arg) {
    dl_arg *a = arg;
    am__hub_opts o = am__hub_opts_default();
    a->st = am__hub_download_file("org/twice", "w.bin", &o, false, &a->path, NULL);
    if (a->st) snprintf(a->err, sizeof a->err, "%s", am_last_error());
    return NULL;
}

static void test_concurrent(void) {
    responder r;
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    char cache[4096];
    setup_env("twice", &r, cache);
    dl_arg a[2] = {{0}, {0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, dl_thread, &a[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECKF(a[0].st == AM_OK && a[1].st == AM_OK && a[0].path && a[1].path && !strcmp(a[0].path, a[1].path),
           "two concurrent downloads: %d '%s', %d '%s'", a[0].st, a[0].err, a[1].st, a[1].err);
    CHECKF(r.gets == 1 && r.served == BIG_N, "two concurrent downloads: %d GETs, %llu bytes served", r.gets,
           (unsigned long long)r.served);
    check_blob_ok(cache, "twice");
    free(a[0].path), free(a[1].path);
    stop(&r);
}

/* ---- 6. retries with backoff, bounded ------------------------------------------------------- */

static void test_retries(void) {
    char cache[4096];
    am__hub_opts o = am__hub_opts_default();
    char *path = NULL;

    /* the server comes up 4.5 s after the client started: waited for (the old client gave up
     * after 1 + 2 s) */
    responder r;
    CHECK(start(&r, g_data, BIG_N, g_sha, 4.5));
    setup_env("late", &r, cache);
    setenv("AM_HUB_RETRY_TIMEOUT", "20", 1);
    double t0 = now_s();
    CHECKF(am__hub_download_file("org/late", "w.bin", &o, false, &path, NULL) == AM_OK, "late server: %s",
           am_last_error());
    double dt = now_s() - t0;
    free(path);
    CHECKF(dt >= 4.0 && dt < 15, "late server: done after %.1fs", dt);
    check_blob_ok(cache, "late");
    stop(&r);

    /* 503 twice then 429 + Retry-After: 1 on the transfer: each retried after a pause */
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    setup_env("busy", &r, cache);
    setenv("AM_HUB_RETRY_TIMEOUT", "20", 1);
    r.fail_gets = 2;
    r.ra_gets = 1;
    CHECKF(am__hub_download_file("org/busy", "w.bin", &o, false, &path, NULL) == AM_OK, "busy server: %s", am_last_error());
    free(path);
    CHECK(r.gets == 4);
    if (r.gets == 4) {
        double g1 = r.get_t[1] - r.get_t[0], g2 = r.get_t[2] - r.get_t[1], g3 = r.get_t[3] - r.get_t[2];
        CHECKF(g1 >= 0.2 && g2 >= 0.4 && g3 >= 0.95, "retries came after %.2fs, %.2fs, %.2fs (backoff, Retry-After: 1)",
               g1, g2, g3);
    }
    check_blob_ok(cache, "busy");
    stop(&r);

    /* a transfer that keeps failing (HEAD answers, every GET is a 503): gives up after the budget,
     * naming the URL, and leaves no empty partial */
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    setup_env("503", &r, cache);
    setenv("AM_HUB_RETRY_TIMEOUT", "2", 1);
    r.fail_gets = 1000;
    t0 = now_s();
    am_status st = am__hub_download_file("org/down", "w.bin", &o, false, &path, NULL);
    dt = now_s() - t0;
    char want[160], blobs[4096];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/org/down/resolve/main/w.bin: HTTP 503", r.port);
    CHECKF(st == AM_ERR_NETWORK && strstr(am_last_error(), want) && strstr(am_last_error(), "gave up"),
           "503 forever: %d %s", st, am_last_error());
    CHECKF(dt >= 1.9 && dt < 8 && r.gets >= 3, "503 forever: %d GETs in %.2fs (budget 2s)", r.gets, dt);
    snprintf(blobs, sizeof blobs, "%s/models--org--down/blobs", cache);
    CHECK(hu_count_files(blobs, NULL) == 0);
    stop(&r);

    /* the endpoint goes down after config.json was cached: a resolve that also wants the ten
     * optional tokenizer files waits out the budget once, not once per file */
    CHECK(start(&r, g_data, BIG_N, g_sha, 0));
    setup_env("memo", &r, cache);
    CHECK_OK(am__hub_download_file("org/memo", "config.json", &o, false, &path, NULL));
    free(path);
    stop(&r);
    setenv("AM_HUB_RETRY_TIMEOUT", "1", 1);
    char *dir = NULL;
    t0 = now_s();
    CHECKF(am__hub_resolve("org/memo", &o, AM__HUB_CONFIG | AM__HUB_TOKENIZER, NULL, NULL, &dir) == AM_OK,
           "resolve with the endpoint down: %s", am_last_error());
    dt = now_s() - t0;
    CHECKF(dt >= 0.9 && dt < 4, "resolve with the endpoint down took %.2fs (budget 1s, 10 optional files)", dt);
    free(dir);

    /* a dead endpoint: fails after the budget, naming the URL */
    int port = free_port();
    setup_env("dead", NULL, cache);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    setenv("HF_ENDPOINT", url, 1);
    setenv("AM_HUB_RETRY_TIMEOUT", "1.5", 1);
    t0 = now_s();
    st = am__hub_download_file("org/dead", "w.bin", &o, false, &path, NULL);
    dt = now_s() - t0;
    snprintf(want, sizeof want, "%s/org/dead/resolve/main/w.bin", url);
    CHECKF(st == AM_ERR_NETWORK && strstr(am_last_error(), want) && strstr(am_last_error(), "gave up"),
           "dead endpoint: %d %s", st, am_last_error());
    CHECKF(dt >= 1.3 && dt < 6, "dead endpoint: failed after %.2fs (budget 1.5s)", dt);
    setenv("AM_HUB_RETRY_TIMEOUT", "2", 1);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    char *work = hu_tmpdir("hubr");
    if (!work) return 1;
    snprintf(g_work, sizeof g_work, "%s", work);
    g_data = malloc(BIG_N);
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG_N; i++) x = x * 1103515245u + 12345u, g_data[i] = (uint8_t)(x >> 16);
    CHECK_OK(am__sha256_hex(g_data, BIG_N, g_sha));
    test_hash_mismatch();
    test_server_corrupt_object();
    test_kill_and_resume();
    test_partials();
    test_concurrent();
    test_retries();
    free(g_data);
    if (!am_test_failures) hu_rmrf(work);
    else fprintf(stderr, "work folder kept: %s\n", work);
    free(work);
    return am_test_failures ? 1 : 0;
}
