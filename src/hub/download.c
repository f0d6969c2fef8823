/* hub/download.c — hf_hub_download and snapshot_download in C: the HEAD metadata probe, the cache
 * layout of shared/spec/HUB.md §5 (blobs/, snapshots/<commit>/ relative symlinks, refs/, .no_exist),
 * resumable GET into blobs/<etag>.incomplete under a lock (a later run resumes it with Range), size
 * and sha256 checks before the atomic rename, retries paced by am__retry, offline mode
 * and the network-down fallback to the cache, and transformers' error wording. */
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_REDIRECTS 10
#define MAX_RESUMES 5
#define STALE_PARTIAL_S (7 * 24 * 3600) /* an .incomplete untouched this long is abandoned */
#define MAX_HTTP_DOWNLOAD_SIZE (50ull * 1000 * 1000 * 1000)
#define HUB_DOCS "https://huggingface.co/docs/transformers/installation#offline-mode"

/* Everything one download needs, resolved once. */
typedef struct dl {
    am__hub_settings s;
    const char *repo_id;
    const char *repo_type;
    const char *revision;
    char *repo_dir; /* {cache}/models--org--name */
    char *full;     /* subfolder/filename */
    bool force;
    bool *unreachable; /* am__hub_opts.unreachable */
} dl;

static const char *type_prefix(const char *t) {
    if (!t || !strcmp(t, "model")) return "";
    if (!strcmp(t, "dataset")) return "datasets/";
    if (!strcmp(t, "space")) return "spaces/";
    return "";
}


static am_status mkparent(const char *path) {
    char *d = am__strdup(path);
    if (!d) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    char *sl = strrchr(d, '/');
    am_status st = AM_OK;
    if (sl && sl != d) {
        *sl = 0;
        st = am__mkdirs(d);
    }
    free(d);
    return st;
}

/* CACHEDIR.TAG tells backup tools the folder is a cache (huggingface_hub writes it too). */
static void cachedir_tag(const char *cache) {
    char *p = am__path_join(cache, "CACHEDIR.TAG");
    if (p && !am__is_file(p)) {
        static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This file is a cache directory tag created by huggingface_hub.\n"
                                  "# For information about cache directory tags, see https://bford.info/cachedir/\n";
        if (am__write_file_atomic(p, tag, sizeof tag - 1) != AM_OK) am__error_clear();
    }
    free(p);
}

/* refs/{revision} = commit, no newline, written atomically; only rewritten when it changed. */
static am_status write_ref(const dl *d, const char *commit) {
    if (!commit) return am__error(AM_ERR_NO_MEMORY, "out of memory"); /* a failed copy of the commit id */
    if (!strcmp(d->revision, commit)) return AM_OK;
    char *p = am__strfmt("%s/refs/%s", d->repo_dir, d->revision);
    if (!p) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    char *old = NULL;
    size_t n = 0;
    am_status st = AM_OK;
    if (am__is_file(p) && am__read_file(p, &old, &n) == AM_OK && !strcmp(old, commit)) goto done;
    am__error_clear();
    st = mkparent(p);
    if (!st) st = am__write_file_atomic(p, commit, strlen(commit));
done:
    free(old);
    free(p);
    return st;
}

/* The commit a revision names in the cache: itself when it is a commit, else refs/{revision}. */
static char *cached_commit(const dl *d) {
    if (am__hub_is_commit(d->revision)) return am__strdup(d->revision);
    char *p = am__strfmt("%s/refs/%s", d->repo_dir, d->revision);
    char *c = NULL;
    size_t n;
    if (p && am__is_file(p) && am__read_file(p, &c, &n) == AM_OK) {
        while (n && isspace((unsigned char)c[n - 1])) c[--n] = 0;
        if (!am__hub_is_commit(c)) free(c), c = NULL;
    }
    am__error_clear();
    free(p);
    return c;
}

typedef enum { CACHE_MISS, CACHE_HIT, CACHE_NO_EXIST } cache_res;

/* try_to_load_from_cache: never falls back to another commit. */
static cache_res try_cache(const dl *d, char **out_path, char **out_commit) {
    char *commit = cached_commit(d);
    if (!commit) return CACHE_MISS;
    cache_res r = CACHE_MISS;
    char *snap = am__strfmt("%s/snapshots/%s/%s", d->repo_dir, commit, d->full);
    char *nox = am__strfmt("%s/.no_exist/%s/%s", d->repo_dir, commit, d->full);
    if (snap && am__is_file(snap)) { /* follows the symlink: a dangling one is a miss */
        r = CACHE_HIT;
        *out_path = snap;
        snap = NULL;
        if (out_commit) *out_commit = am__strdup(commit);
    } else if (nox && am__is_file(nox)) r = CACHE_NO_EXIST;
    free(snap);
    free(nox);
    free(commit);
    return r;
}

/* `why`: the last network error (naming the URL), appended on its own line; NULL offline. */
static am_status err_couldnt_connect(const dl *d, const char *why) {
    return am__error(AM_ERR_NETWORK,
                     "We couldn't connect to '%s' to load this file, couldn't find it in the cached files and it looks "
                     "like %s is not the path to a directory containing a file named %s.\nCheckout your internet "
                     "connection or see how to run the library in offline mode at '" HUB_DOCS "'.%s%s",
                     d->s.endpoint, d->repo_id, d->full, why ? "\nLast error: " : "", why ? why : "");
}

static am_status err_entry_not_found(const dl *d) {
    return am__error(AM_ERR_NOT_FOUND,
                     "%s does not appear to have a file named %s. Checkout '%s/%s/tree/%s' for available files.",
                     d->repo_id, d->full, d->s.endpoint, d->repo_id, d->revision);
}

/* Map a failed probe/GET to the message transformers gives for it. */
static am_status http_error(const dl *d, const am__http_resp *r) {
    const char *code = am__http_resp_header(r, "x-error-code");
    const char *msg = am__http_resp_header(r, "x-error-message");
    char body_msg[512] = "";
    if (r->body.data && r->body.len) { /* {"error": "..."} bodies carry the hub's own explanation */
        cJSON *j = cJSON_ParseWithLength(r->body.data, r->body.len);
        cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (cJSON_IsString(e)) snprintf(body_msg, sizeof body_msg, "%s", e->valuestring);
        cJSON_Delete(j);
    }
    if (!msg) msg = body_msg[0] ? body_msg : NULL;
    bool invalid_creds = msg && strstr(msg, "Invalid credentials in Authorization header");
    if (code && !strcmp(code, "GatedRepo"))
        return am__error(AM_ERR_AUTH,
                         "You are trying to access a gated repo.\nMake sure to have access to it at %s/%s.\n%ld Client "
                         "Error. (Request ID: none)\n\nCannot access gated repo for url %s/%s/resolve/%s/%s.\n%s",
                         d->s.endpoint, d->repo_id, r->status, d->s.endpoint, d->repo_id, d->revision, d->full,
                         msg ? msg : "Access to this model is restricted: you must be authenticated and granted access.");
    if ((code && !strcmp(code, "RepoNotFound")) || (r->status == 401 && !invalid_creds) ||
        (r->status == 404 && !code))
        return am__error(d->s.token ? AM_ERR_NOT_FOUND : AM_ERR_AUTH,
                         "%s is not a local folder and is not a valid model identifier listed on '%s/models'\nIf this "
                         "is a private repository, make sure to pass a token having permission to this repo either by "
                         "logging in with `automodel login` (or `huggingface-cli login`) or by passing `%s`",
                         d->repo_id, d->s.endpoint, am__opt_name("token=<your_token>", "--token <your_token>"));
    if (code && !strcmp(code, "RevisionNotFound"))
        return am__error(AM_ERR_NOT_FOUND,
                         "%s is not a valid git identifier (branch name, tag name or commit id) that exists for this "
                         "model name. Check the model page at '%s/%s' for available revisions.",
                         d->revision, d->s.endpoint, d->repo_id);
    if (code && !strcmp(code, "EntryNotFound")) return err_entry_not_found(d);
    if (r->status == 401)
        return am__error(AM_ERR_AUTH, "%s: 401 Unauthorized: Invalid credentials in Authorization header; check your "
                                      "token (HF_TOKEN, `automodel login`)", d->repo_id);
    if (r->status == 403)
        return am__error(AM_ERR_AUTH, "%s: 403 Forbidden: your token does not have the permission needed for %s%s%s",
                         d->repo_id, d->full, msg ? ": " : "", msg ? msg : "");
    if (r->status == 429)
        return am__error(AM_ERR_NETWORK, "%s: 429 Too Many Requests: rate limited by %s; retry later", d->repo_id,
                         d->s.endpoint);
    if (r->status == 416) return am__error(AM_ERR_NETWORK, "%s: 416 Range Not Satisfiable for %s", d->repo_id, d->full);
    return am__error(AM_ERR_NETWORK, "%s: HTTP %ld from %s for %s%s%s", d->repo_id, r->status, d->s.endpoint, d->full,
                     msg ? ": " : "", msg ? msg : "");
}

static bool transient(long s) { return s == 408 || s == 429 || s >= 500; }

/* A name that is safe as a single path component: etags become file names in blobs/. */
static bool safe_component(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
    return true;
}

static char *normalize_etag(const char *e) {
    if (!e) return NULL;
    if (!strncmp(e, "W/", 2)) e += 2;
    size_t n = strlen(e);
    if (n >= 2 && e[0] == '"' && e[n - 1] == '"') e++, n -= 2;
    char *r = malloc(n + 1);
    if (r) memcpy(r, e, n), r[n] = 0;
    return r;
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !isdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (*end == ' ') end++;
    if (errno || *end) return false;
    *out = v;
    return true;
}

typedef struct meta {
    char *commit, *etag, *location;
    uint64_t size;
    am_status err; /* why the probe failed (kept by meta_free) */
} meta;
static void meta_free(meta *m) {
    am_status e = m->err;
    free(m->commit), free(m->etag), free(m->location);
    memset(m, 0, sizeof *m);
    m->err = e;
}

/* The outcome of the HEAD probe. PROBE_OFFLINE means "fall back to the cache". */
typedef enum { PROBE_OK, PROBE_NOT_FOUND, PROBE_OFFLINE, PROBE_FAILED } probe_res;

static probe_res probe(dl *d, meta *m, bool with_retries) {
    char *qrev = am__hub_quote(d->revision, false), *qfile = am__hub_quote(d->full, true), *url = NULL;
    am_status ust = qrev && qfile ? am__hub_url(&url, d->s.endpoint, NULL, "%s%s/resolve/%s/%s", type_prefix(d->repo_type), d->repo_id, qrev, qfile)
                                  : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(qrev), free(qfile);
    char *origin = url ? am__url_origin(url) : NULL;
    if (ust || !origin) {
        free(url), free(origin);
        m->err = ust ? ust : am__error(AM_ERR_NO_MEMORY, "out of memory");
        return PROBE_FAILED;
    }
    probe_res res = PROBE_FAILED;
    am__http_resp r = {0};
    static const char *const hdrs[] = {"Accept-Encoding: identity", NULL};
    for (int hop = 0;; hop++) {
        am__http_req q = am__http_req_init("HEAD", url);
        q.token = d->s.token;
        q.headers = hdrs;
        q.timeout_s = with_retries ? 60 : d->s.etag_timeout;
        q.retries = with_retries ? 1000 : 0; /* patient: as many as fit in d->s.retry_timeout */
        q.retry_timeout_s = d->s.retry_timeout;
        am_status st = am__http_do(&q, &r);
        if (st == AM_ERR_NETWORK) {
            am__log(AM_LOG_INFO, "%s", am_last_error());
            res = PROBE_OFFLINE;
            goto out;
        }
        if (st) {
            m->err = st;
            goto out;
        }
        if (r.status >= 300 && r.status < 400) {
            const char *loc = am__http_resp_header(&r, "location");
            if (loc && !strstr(loc, "://") && loc[0] == '/' && loc[1] != '/') {
                /* relative redirect (renamed repo): follow it as a HEAD on the same host */
                if (hop >= MAX_REDIRECTS) {
                    m->err = am__error(AM_ERR_NETWORK, "%s: too many redirects (more than %d) while resolving %s", d->repo_id,
                              MAX_REDIRECTS, d->full);
                    goto out;
                }
                char *nu;
                m->err = am__url_join(url, loc, &nu);
                free(url);
                url = nu;
                if (m->err) goto out;
                continue;
            }
        }
        break;
    }
    if (r.status >= 400) {
        const char *code = am__http_resp_header(&r, "x-error-code");
        const char *commit = am__http_resp_header(&r, "x-repo-commit");
        if (code && !strcmp(code, "EntryNotFound") && commit && am__hub_is_commit(commit)) {
            m->commit = am__strdup(commit);
            res = m->commit ? PROBE_NOT_FOUND : PROBE_FAILED;
            if (!m->commit) m->err = am__error(AM_ERR_NO_MEMORY, "out of memory");
            goto out;
        }
        if (transient(r.status)) {
            m->err = am__error(AM_ERR_NETWORK, "%s: HTTP %ld from %s", d->repo_id, r.status, d->s.endpoint);
            res = PROBE_OFFLINE;
            goto out;
        }
        m->err = http_error(d, &r);
        res = code && !strcmp(code, "EntryNotFound") ? PROBE_NOT_FOUND : PROBE_FAILED;
        goto out;
    }
    bool redirect = r.status >= 300 && r.status < 400;
    const char *commit = am__http_resp_header(&r, "x-repo-commit");
    const char *etag = am__http_resp_header(&r, "x-linked-etag");
    if (!etag) etag = am__http_resp_header(&r, "etag");
    const char *size = am__http_resp_header(&r, "x-linked-size");
    if (!size && !redirect) size = am__http_resp_header(&r, "content-length");
    if (!commit || !am__hub_is_commit(commit)) {
        m->err = am__error(AM_ERR_NETWORK,
                  "Distant resource does not seem to be on huggingface.co. It is possible that a configuration issue "
                  "prevents you from downloading resources from %s (no valid X-Repo-Commit header for %s): a proxy "
                  "or firewall may be in the way",
                  d->s.endpoint, d->full);
        goto out;
    }
    m->commit = am__strdup(commit);
    m->etag = normalize_etag(etag);
    if (!m->commit || (etag && !m->etag)) {
        m->err = am__error(AM_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    if (!m->etag || !safe_component(m->etag)) {
        m->err = am__error(AM_ERR_NETWORK, "%s: the server sent no usable ETag for %s (got '%s'); cannot cache the file", d->repo_id,
                  d->full, etag ? etag : "none");
        goto out;
    }
    if (!parse_u64(size, &m->size)) {
        m->err = am__error(AM_ERR_NETWORK, "%s: the server sent no usable file size for %s", d->repo_id, d->full);
        goto out;
    }
    const char *loc = redirect ? am__http_resp_header(&r, "location") : NULL;
    if (loc) m->err = am__url_join(url, loc, &m->location);
    else if (!(m->location = am__strdup(url))) m->err = am__error(AM_ERR_NO_MEMORY, "out of memory");
    res = m->location ? PROBE_OK : PROBE_FAILED;
out:
    if (res == PROBE_FAILED || res == PROBE_OFFLINE) meta_free(m);
    am__http_resp_free(&r);
    free(url);
    free(origin);
    return res;
}

/* snapshots/{commit}/{full} -> ../../blobs/{etag} with one more "../" per directory level, replaced
 * atomically so a reader never sees a half-made link. */
static am_status link_snapshot(const dl *d, const char *commit, const char *etag, char **out_path) {
    char *snap = am__strfmt("%s/snapshots/%s/%s", d->repo_dir, commit, d->full);
    if (!snap) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_status st = mkparent(snap);
    if (st) {
        free(snap);
        return st;
    }
    am__buf t = {0};
    am__buf_puts(&t, "../../");
    for (const char *p = d->full; *p; p++)
        if (*p == '/') am__buf_puts(&t, "../");
    am__buf_printf(&t, "blobs/%s", etag);
    char *target = am__buf_take(&t);
    char rnd[9];
    am__random_hex(rnd, 8);
    char *tmp = am__strfmt("%s.%s.tmplink", snap, rnd);
    if (!target || !tmp) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
    else if (am__hub_env_true("HF_HUB_DISABLE_SYMLINKS")) {
        char *blob = am__strfmt("%s/blobs/%s", d->repo_dir, etag);
        char *data = NULL;
        size_t n = 0;
        st = blob ? am__read_file(blob, &data, &n) : AM_ERR_NO_MEMORY;
        if (!st) st = am__write_file_atomic(snap, data, n);
        free(data);
        free(blob);
    } else if (symlink(target, tmp) != 0 || rename(tmp, snap) != 0) {
        st = am__error(AM_ERR_IO, "%s: cannot create the snapshot link: %s", snap, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(target);
    if (st) free(snap);
    else *out_path = snap;
    return st;
}

/* Whether an etag is an LFS oid: the sha256 of the file, 64 lowercase hex (git blob ids are 40). */
static bool lfs_etag(const char *etag) {
    if (strlen(etag) != 64) return false;
    for (const char *p = etag; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f')) return false;
    return true;
}

/* The sha256 of the partial file, computed beside the transfer: a thread hashes the file's bytes
 * [0, valid) with pread (still in the page cache) as the receiving thread declares them final, so
 * hashing overlaps the network instead of following it. The bytes an earlier run left are simply
 * valid from the start. A 200 answering a Range (the file again from byte 0, written after the old
 * bytes and then moved to the front) bumps `gen`: the thread drops what it read and starts over. */
typedef struct hasher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int fd;
    uint64_t valid; /* [0, valid) is final for generation gen */
    unsigned gen;
    bool closing;   /* no more bytes will be declared */
    bool fresh;     /* no byte of the current response seen yet (receiving thread only) */
    bool resume;    /* the current request asked for a Range (receiving thread only) */
    bool skip;      /* the current response's bytes are not at their final offsets (receiving thread only) */
    char *buf;      /* 1 MiB, allocated by the caller (the fault counter stays on one thread) */
    /* the thread's, until joined */
    am__sha256 c;
    uint64_t hashed;
    am_status err;
    char errmsg[256];
} hasher;
#define HASH_CHUNK (1u << 20)

static void *hasher_main(void *arg) {
    hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    unsigned gen = h->gen;
    for (;;) {
        while (h->gen == gen && h->hashed >= h->valid && !h->closing) pthread_cond_wait(&h->cv, &h->mu);
        if (h->gen != gen) { /* the file restarted from byte 0 */
            gen = h->gen;
            h->hashed = 0;
            am__digest_discard(&h->c);
            if (am__sha256_init(&h->c)) {
                h->err = AM_ERR_NO_MEMORY;
                snprintf(h->errmsg, sizeof h->errmsg, "cannot restart the SHA-256 digest (libcrypto)");
                break;
            }
            continue;
        }
        if (h->hashed >= h->valid) break; /* closing, and everything hashed */
        uint64_t off = h->hashed, left = h->valid - off;
        size_t k = left > HASH_CHUNK ? HASH_CHUNK : (size_t)left;
        pthread_mutex_unlock(&h->mu);
        ssize_t r = pread(h->fd, h->buf, k, (off_t)off);
        int e = errno;
        if (r > 0) am__sha256_update(&h->c, h->buf, (size_t)r); /* garbage if gen moved meanwhile: dropped */
        pthread_mutex_lock(&h->mu);
        if (h->gen != gen) continue;
        if (r < 0 && e == EINTR) continue;
        if (r <= 0) {
            h->err = AM_ERR_IO;
            snprintf(h->errmsg, sizeof h->errmsg, "cannot read back the partial download to hash it: %s",
                     r ? strerror(e) : "it is shorter than written");
            break;
        }
        h->hashed = off + (uint64_t)r;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Start hashing fd, whose first `have` bytes are final. */
static am_status hasher_start(hasher *h, int fd, uint64_t have, const char *path) {
    memset(h, 0, sizeof *h);
    h->fd = fd;
    h->valid = have;
    if (!(h->buf = malloc(HASH_CHUNK))) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    am_status st = am__sha256_init(&h->c);
    if (st) {
        free(h->buf);
        return st;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    int rc = pthread_create(&h->th, NULL, hasher_main, h);
    if (rc) {
        am__digest_discard(&h->c);
        free(h->buf);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        return am__error(AM_ERR_NO_MEMORY, "%s: cannot start the hashing thread: %s", path, strerror(rc));
    }
    return AM_OK;
}

/* Declare n more bytes final (valid += n), or, with restart, the file begun again (valid = n). */
static void hasher_mark(hasher *h, uint64_t n, bool restart) {
    pthread_mutex_lock(&h->mu);
    if (restart) {
        h->gen++;
        h->valid = n;
    } else h->valid += n;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Wait for the thread; with `hex`, the digest of everything declared (else it is thrown away). */
static am_status hasher_finish(hasher *h, char hex[65], const char *path) {
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    if (!hex) h->valid = h->hashed; /* nothing more to read */
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    am_status st = AM_OK;
    if (hex && h->err) st = am__error(h->err, "%s: %s", path, h->errmsg);
    else if (hex && h->hashed != h->valid)
        st = am__error(AM_ERR_INTERNAL, "%s: hashed %llu of %llu bytes", path, (unsigned long long)h->hashed,
                       (unsigned long long)h->valid);
    uint8_t dg[32];
    if (hex && !st && !(st = am__sha256_final(&h->c, dg))) am__hex(dg, 32, hex);
    am__digest_discard(&h->c);
    free(h->buf);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    return st;
}

/* http.c's body tap: a piece just written at the file's end. */
static void hash_tap(void *ud, long status, const void *p, size_t n) {
    (void)p;
    hasher *h = ud;
    if (h->fresh) {
        h->fresh = false;
        h->skip = status == 200 && h->resume; /* the file again from byte 0, after the old bytes */
    }
    if (!h->skip) hasher_mark(h, n, false);
}

/* GET `location` into `fd`, from the partial file's end to m->size: a resume asks for the rest with
 * Range and accepts a 206 that starts there, or a 200 (the server ignored Range) that replaces the
 * partial. Bytes that arrived before a break are kept and the rest asked for at once (at most
 * MAX_RESUMES times); a break with nothing new, a 5xx or a 429 waits per am__retry within
 * AM_HUB_RETRY_TIMEOUT, counted from the last byte received. The token goes only to the endpoint's
 * own host, and is dropped for good once a redirect leaves it. *discard is set when the partial
 * holds bytes a later run must not resume from. */
static am_status fetch(dl *d, const meta *m, int fd, bool *discard, hasher *h) {
    char *url = am__strdup(m->location);
    char *ep_origin = am__url_origin(d->s.endpoint);
    bool send_token = true;
    am_status st = AM_OK;
    off_t end0 = lseek(fd, 0, SEEK_END);
    uint64_t have = end0 > 0 ? (uint64_t)end0 : 0;
    int resumes = 0, hops = 0;
    am__http_resp r = {0};
    char *label = NULL;
    {
        const char *slash = strrchr(d->full, '/');
        label = am__strdup(slash ? slash + 1 : d->full);
    }
    am__retry rt;
    am__retry_start(&rt, d->s.retry_timeout);
    while (url && label && have < m->size) {
        char *o = am__url_origin(url);
        if (!o || !ep_origin || strcmp(o, ep_origin)) send_token = false;
        free(o);
        char range[64];
        const char *hdrs[3] = {"Accept-Encoding: identity", NULL, NULL};
        if (have) {
            snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)have);
            hdrs[1] = range;
        }
        am__http_req q = am__http_req_init("GET", url);
        q.token = send_token ? d->s.token : NULL;
        q.headers = hdrs;
        q.timeout_s = d->s.download_timeout;
        q.out_fd = fd;
        q.max_body = m->size; /* a 200 to a resume is the whole file; a 206 is checked below */
        q.progress = d->s.progress && m->size > (1u << 20);
        q.progress_label = label;
        q.progress_base = have;
        q.progress_total = m->size;
        if (h) {
            q.on_data = hash_tap;
            q.on_data_ud = h;
            h->fresh = true;
            h->resume = have > 0;
        }
        off_t before = lseek(fd, 0, SEEK_END);
        st = am__http_do(&q, &r);
        off_t after = lseek(fd, 0, SEEK_END);
        if (before < 0 || after < 0) {
            st = am__error(AM_ERR_IO, "%s: cannot seek in the partial download: %s", d->full, strerror(errno));
            break;
        }
        if (st == AM_OK && r.status >= 300 && r.status < 400) {
            const char *loc = am__http_resp_header(&r, "location");
            if (!loc || ++hops > MAX_REDIRECTS) {
                st = am__error(AM_ERR_NETWORK, "%s: %s while downloading %s", d->repo_id,
                               loc ? "too many redirects" : "a redirect without a Location", d->full);
                break;
            }
            char *nu;
            st = am__url_join(url, loc, &nu);
            free(url);
            url = nu;
            if (st) break;
            continue;
        }
        bool transport = am__http_transport_failure(st, &r);
        if ((st == AM_OK || transport) && (r.status == 200 || r.status == 206)) {
            uint64_t n = (uint64_t)(after - before);
            if (have && r.status == 200) {
                /* the server ignored Range: what it sent is the file from byte 0; move it to the front */
                if (h) hasher_mark(h, 0, true); /* before the move: what the hasher reads now is stale */
                char *buf = n ? malloc(1 << 20) : NULL;
                if (n && !buf) {
                    st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", d->full);
                    break;
                }
                uint64_t done = 0;
                while (done < n) {
                    size_t k = n - done > (1u << 20) ? 1u << 20 : (size_t)(n - done);
                    if (pread(fd, buf, k, before + (off_t)done) != (ssize_t)k ||
                        pwrite(fd, buf, k, (off_t)done) != (ssize_t)k)
                        break;
                    done += k;
                }
                free(buf);
                if (done != n || ftruncate(fd, (off_t)n) != 0) {
                    st = am__error(AM_ERR_IO, "%s: cannot rewrite the partial download: %s", d->full, strerror(errno));
                    break;
                }
                if (h) hasher_mark(h, n, false);
                am__log(AM_LOG_INFO, "%s: the server ignored the resume at byte %llu and sent the file from the start",
                        d->full, (unsigned long long)have);
                have = n;
            } else if (r.status == 206) {
                const char *cr = am__http_resp_header(&r, "content-range");
                unsigned long long a = 0;
                if (!cr || sscanf(cr, "bytes %llu-", &a) != 1 || a != have) {
                    st = am__error(AM_ERR_NETWORK, "%s: the server answered a resume at byte %llu with '%s'", url,
                                   (unsigned long long)have, cr ? cr : "no Content-Range");
                    *discard = true;
                    break;
                }
                if (n > m->size - have) {
                    st = am__error(AM_ERR_NETWORK, "%s: the server sent more data than expected (%llu bytes from byte "
                                   "%llu of a %llu-byte file)", url, (unsigned long long)n, (unsigned long long)have,
                                   (unsigned long long)m->size);
                    *discard = true;
                    break;
                }
                have += n;
            } else have += n;
            if (st == AM_OK) break; /* the whole body arrived; the caller checks size and hash */
            /* broken off: keep what arrived and ask for the rest */
            if (n > 0) {
                if (++resumes > MAX_RESUMES) {
                    am__error_prefix("%s: the transfer broke off %d times (at byte %llu of %llu)", d->full, resumes,
                                     (unsigned long long)have, (unsigned long long)m->size);
                    break;
                }
                am__log(AM_LOG_INFO, "%s: transfer interrupted at byte %llu (%s); resuming", d->full,
                        (unsigned long long)have, am_last_error());
                am__retry_start(&rt, d->s.retry_timeout); /* progress: a fresh budget */
                am__error_clear();
                st = AM_OK;
                continue;
            }
        }
        double ra = -1;
        if (st == AM_OK && r.status >= 400) {
            if (r.status == 416 && have) *discard = true; /* the partial is not a prefix of this file */
            if (!transient(r.status)) {
                st = http_error(d, &r);
                break;
            }
            ra = am__http_retry_after(&r);
            st = am__error(AM_ERR_NETWORK, "%s: HTTP %ld", url, r.status);
            transport = true;
        }
        if (!transport) {
            if (r.overflow) *discard = true;
            if (st == AM_OK) {
                st = am__error(AM_ERR_NETWORK, "%s: unexpected HTTP %ld while downloading %s", url, r.status, d->full);
                *discard = true;
            }
            break;
        }
        /* nothing new arrived: back off, within the budget */
        char why[1024];
        snprintf(why, sizeof why, "%s", am_last_error());
        if (!am__retry_wait(&rt, ra, url, why)) {
            st = am__error(AM_ERR_NETWORK, "%s (gave up after %d retries in %.1fs; AM_HUB_RETRY_TIMEOUT sets the limit)",
                           why, rt.waits, am__retry_elapsed(&rt));
            break;
        }
        am__error_clear();
        st = AM_OK;
    }
    if ((!url || !label) && !st) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
    am__http_resp_free(&r);
    free(url);
    free(ep_origin);
    free(label);
    return st;
}

/* Partial downloads nobody will resume: `<etag>.<random>.incomplete` (the process-unique names of
 * earlier versions) of this blob, whose lock the caller holds, and any `.incomplete` in blobs/
 * untouched for a week (a file the repo no longer has at that etag). Best effort. */
static void clean_stale_partials(const char *blob) {
    char *dir = am__strdup(blob);
    char *sl = dir ? strrchr(dir, '/') : NULL;
    if (!sl) {
        free(dir);
        return;
    }
    *sl = 0;
    const char *etag = sl + 1;
    size_t el = strlen(etag);
    DIR *dd = opendir(dir);
    struct dirent *e;
    time_t now = time(NULL);
    while (dd && (e = readdir(dd))) {
        size_t n = strlen(e->d_name);
        static const char suf[] = ".incomplete";
        if (n <= sizeof suf - 1 || strcmp(e->d_name + n - (sizeof suf - 1), suf)) continue;
        bool mine = n == el + 1 + 8 + sizeof suf - 1 && !strncmp(e->d_name, etag, el) && e->d_name[el] == '.';
        bool current = n == el + sizeof suf - 1 && !strncmp(e->d_name, etag, el);
        char *p = am__path_join(dir, e->d_name);
        struct stat sb;
        if (p && !current && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
            (mine || now - sb.st_mtime > STALE_PARTIAL_S)) {
            if (unlink(p) == 0)
                am__log(AM_LOG_INFO, "removed the stale partial download %s (%llu bytes)", p, (unsigned long long)sb.st_size);
        }
        free(p);
    }
    if (dd) closedir(dd);
    free(dir);
}

/* Fetch into `blob` through `<blob>.incomplete` (huggingface_hub's name: a later run resumes from
 * it), then check the size and, for an LFS file, the sha256 the ETag names, and only then rename
 * it into place. The caller holds the blob's lock. */
static am_status download_blob(dl *d, const meta *m, const char *blob) {
    if (m->size > MAX_HTTP_DOWNLOAD_SIZE)
        return am__error(AM_ERR_UNSUPPORTED, "%s: %s is %llu bytes, over the 50 GB plain-HTTP limit (Xet needed)",
                         d->repo_id, d->full, (unsigned long long)m->size);
    char *tmp = am__strfmt("%s.incomplete", blob);
    if (!tmp) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_status st = mkparent(blob);
    if (!st) clean_stale_partials(blob);
    int fd = st ? -1 : open(tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (!st && fd < 0) st = am__error(AM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    bool discard = false;
    struct stat sb;
    if (!st && fstat(fd, &sb) != 0) st = am__error(AM_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (!st && !S_ISREG(sb.st_mode)) st = am__error(AM_ERR_IO, "%s: not a regular file", tmp);
    uint64_t have = st ? 0 : (uint64_t)sb.st_size;
    if (!st && have && (d->force || have > m->size)) {
        if (ftruncate(fd, 0) != 0) st = am__error(AM_ERR_IO, "%s: cannot truncate: %s", tmp, strerror(errno));
        have = 0;
    }
    if (!st && have)
        am__log(AM_LOG_INFO, "%s: resuming %s from byte %llu of %llu", d->repo_id, d->full, (unsigned long long)have,
                (unsigned long long)m->size);
    if (!st) {
        /* refuse early when the disk clearly cannot hold it: a full disk would fail later anyway,
         * after the whole transfer */
        struct statvfs vfs;
        if (fstatvfs(fd, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < m->size - have)
            st = am__error(AM_ERR_IO, "%s: not enough free disk space in %s for %s (%llu bytes needed, %llu free)",
                           d->repo_id, d->s.cache, d->full, (unsigned long long)(m->size - have),
                           (unsigned long long)vfs.f_bavail * vfs.f_frsize);
    }
    /* an LFS file's bytes are hashed as they arrive and checked against the ETag before the rename */
    bool verify = !st && lfs_etag(m->etag), hashing = false;
    hasher h;
    if (verify) hashing = !(st = hasher_start(&h, fd, have, tmp));
    if (!st) st = fetch(d, m, fd, &discard, hashing ? &h : NULL);
    off_t got = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    if (!st && (got < 0 || (uint64_t)got != m->size)) {
        st = am__error(AM_ERR_NETWORK,
                       "Consistency check failed: file should be of size %llu but has size %lld (%s).\nThis is usually "
                       "due to network issues while downloading the file. Please retry with `%s`.",
                       (unsigned long long)m->size, (long long)got, d->full, am__opt_name("force_download=True", "--force-download"));
        discard = true;
    }
    if (hashing) {
        char hex[65];
        am_status hs = hasher_finish(&h, st ? NULL : hex, tmp);
        if (!st) st = hs;
        if (!st && strcmp(hex, m->etag)) {
            st = am__error(AM_ERR_NETWORK,
                           "%s: %s from %s has sha256 %s, but its ETag (the LFS oid) is %s: the file is corrupted on "
                           "the server or was altered in transit; nothing was cached",
                           d->repo_id, d->full, m->location, hex, m->etag);
            discard = true;
        }
    }
    /* no fsync, as huggingface_hub: it doubles the time of a large download, and a blob cut short
     * by a crash fails the size check on the next use and is fetched again */
    if (fd >= 0) {
        mode_t um = umask(0);
        umask(um);
        if (fchmod(fd, 0666 & ~um) != 0 && !st) st = am__error(AM_ERR_IO, "%s: chmod: %s", tmp, strerror(errno));
        if (close(fd) != 0 && !st) st = am__error(AM_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    if (!st && rename(tmp, blob) != 0) st = am__error(AM_ERR_IO, "%s: cannot move into place: %s", blob, strerror(errno));
    if (st && fd >= 0) {
        struct stat ps;
        if (discard || (stat(tmp, &ps) == 0 && ps.st_size == 0)) unlink(tmp);
        else am__log(AM_LOG_INFO, "%s: kept the partial download %s for the next run to resume", d->full, tmp);
    }
    free(tmp);
    return st;
}

static bool blob_ok(const char *blob, uint64_t size) {
    struct stat st;
    return stat(blob, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

static void no_exist_marker(const dl *d, const char *commit) {
    char *p = am__strfmt("%s/.no_exist/%s/%s", d->repo_dir, commit, d->full);
    if (p && mkparent(p) == AM_OK && !am__is_file(p)) am__write_file_atomic(p, "", 0);
    am__error_clear();
    free(p);
}

static am_status dl_init(dl *d, const char *repo_id, const char *filename, const am__hub_opts *opts) {
    memset(d, 0, sizeof *d);
    char why[256];
    if (!am__hub_valid_repo_id(repo_id, why, sizeof why)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s", why);
    d->repo_id = repo_id;
    d->repo_type = opts && opts->repo_type ? opts->repo_type : "model";
    if (strcmp(d->repo_type, "model") && strcmp(d->repo_type, "dataset") && strcmp(d->repo_type, "space"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "repo_type '%s' is not one of model, dataset, space", d->repo_type);
    d->revision = opts && opts->revision && *opts->revision ? opts->revision : "main";
    if (!am__hub_valid_revision(d->revision))
        return am__error(AM_ERR_INVALID_ARGUMENT, "revision '%s' is not a valid git revision name", d->revision);
    d->force = opts && opts->force_download;
    d->unreachable = opts ? opts->unreachable : NULL;
    if (filename) {
        const char *sub = opts && opts->subfolder && *opts->subfolder ? opts->subfolder : NULL;
        d->full = sub ? am__strfmt("%s/%s", sub, filename) : am__strdup(filename);
        if (!d->full) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (!am__hub_valid_repo_path(d->full)) {
            am_status st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: '%s' is not a valid file path inside a repo", repo_id, d->full);
            free(d->full);
            d->full = NULL;
            return st;
        }
    }
    am_status st = am__hub_settings_load(&d->s, opts);
    if (st) {
        free(d->full);
        return st;
    }
    char *folder = am__hub_repo_folder(d->repo_type, repo_id);
    d->repo_dir = folder ? am__path_join(d->s.cache, folder) : NULL;
    free(folder);
    if (!d->repo_dir) {
        am__hub_settings_free(&d->s);
        free(d->full);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    return AM_OK;
}

static void dl_free(dl *d) {
    am__hub_settings_free(&d->s);
    free(d->repo_dir);
    free(d->full);
}

static am_status download_one(dl *d, bool optional, char **out_path, char **out_commit) {
    *out_path = NULL;
    if (out_commit) *out_commit = NULL;
    /* a pinned commit already in the cache needs no HTTP at all */
    if (!d->force && am__hub_is_commit(d->revision)) {
        cache_res c = try_cache(d, out_path, out_commit);
        if (c == CACHE_HIT) return AM_OK;
        if (c == CACHE_NO_EXIST) return optional ? AM_ERR_NOT_FOUND : err_entry_not_found(d);
    }
    if (d->s.offline) {
        cache_res c = try_cache(d, out_path, out_commit);
        if (c == CACHE_HIT) return AM_OK;
        if (c == CACHE_NO_EXIST || optional) return c == CACHE_NO_EXIST && !optional ? err_entry_not_found(d) : AM_ERR_NOT_FOUND;
        return err_couldnt_connect(d, NULL);
    }
    meta m = {0};
    probe_res pr = probe(d, &m, false);
    if (pr == PROBE_OFFLINE) {
        cache_res c = try_cache(d, out_path, out_commit);
        if (c == CACHE_HIT) return AM_OK;
        if (c == CACHE_NO_EXIST) return optional ? AM_ERR_NOT_FOUND : err_entry_not_found(d);
        if (d->unreachable && *d->unreachable) { /* already waited out once in this call */
            if (!optional) return err_couldnt_connect(d, NULL);
            am__error_clear();
            return AM_ERR_NOT_FOUND;
        }
        pr = probe(d, &m, true); /* nothing cached: a patient try, within the retry budget */
        if (pr == PROBE_OFFLINE) {
            if (d->unreachable) *d->unreachable = true;
            if (optional) { /* transformers skips an optional file it cannot reach */
                am__log(AM_LOG_INFO, "%s: skipping the optional %s: %s", d->repo_id, d->full, am_last_error());
                am__error_clear();
                return AM_ERR_NOT_FOUND;
            }
            char why[1024];
            snprintf(why, sizeof why, "%s", am_last_error());
            return err_couldnt_connect(d, why);
        }
    }
    if (pr == PROBE_NOT_FOUND) {
        if (m.commit) {
            write_ref(d, m.commit);
            no_exist_marker(d, m.commit);
            am__error_clear();
        }
        meta_free(&m);
        if (optional) {
            am__error_clear();
            return AM_ERR_NOT_FOUND;
        }
        return err_entry_not_found(d);
    }
    if (pr != PROBE_OK) {
        meta_free(&m);
        return m.err ? m.err : am__error(AM_ERR_NETWORK, "%s: probe failed", d->repo_id);
    }
    cachedir_tag(d->s.cache);
    am_status st = write_ref(d, m.commit);
    char *blob = am__strfmt("%s/blobs/%s", d->repo_dir, m.etag);
    char *snap = am__strfmt("%s/snapshots/%s/%s", d->repo_dir, m.commit, d->full);
    if (!blob || !snap) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!st && !d->force && am__is_file(snap) && blob_ok(blob, m.size)) {
        *out_path = snap;
        snap = NULL;
    } else if (!st) {
        /* one process at a time per blob (huggingface_hub's .locks/<repo folder>/<etag>.lock): the
         * holder owns blobs/<etag>.incomplete, and a waiter finds the blob done when it gets in */
        char *folder = am__hub_repo_folder(d->repo_type, d->repo_id);
        char *lockp = folder ? am__strfmt("%s/.locks/%s/%s.lock", d->s.cache, folder, m.etag) : NULL;
        free(folder);
        int lfd = -1;
        if (!lockp) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (!st) st = mkparent(lockp);
        if (!st && (lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
            st = am__error(AM_ERR_IO, "%s: cannot create the download lock: %s", lockp, strerror(errno));
        if (!st) {
            int rc;
            while ((rc = flock(lfd, LOCK_EX)) != 0 && errno == EINTR) {
            }
            if (rc != 0) /* a file system without flock: go on unlocked, as a soft lock would */
                am__log(AM_LOG_WARNING, "%s: cannot lock (%s); downloading without the lock", lockp, strerror(errno));
        }
        if (!st && (d->force || !blob_ok(blob, m.size))) st = download_blob(d, &m, blob);
        if (!st) st = link_snapshot(d, m.commit, m.etag, out_path);
        if (lfd >= 0) close(lfd);
        free(lockp);
    }
    if (!st && out_commit) *out_commit = am__strdup(m.commit);
    free(blob);
    free(snap);
    meta_free(&m);
    return st;
}

am_status am__hub_download_file(const char *repo_id, const char *filename, const am__hub_opts *opts, bool optional,
                                char **out_path, char **out_commit) {
    *out_path = NULL;
    if (out_commit) *out_commit = NULL;
    dl d;
    am_status st = dl_init(&d, repo_id, filename, opts);
    if (st) return st;
    st = download_one(&d, optional, out_path, out_commit);
    dl_free(&d);
    return st;
}

/* ---- snapshot_download ------------------------------------------------------------------- */

static bool included(const char *path, const char *const *include) {
    if (!include || !*include) return true;
    for (const char *const *g = include; *g; g++)
        if (fnmatch(*g, path, 0) == 0) return true;
    return false;
}

am_status am__hub_snapshot_download(const char *repo_id, const am__hub_opts *opts, const char *const *include,
                                    char **out_dir) {
    *out_dir = NULL;
    dl d;
    am_status st = dl_init(&d, repo_id, NULL, opts);
    if (st) return st;
    d.full = am__strdup("(repository info)");
    char *commit = NULL;
    cJSON *info = NULL;
    am__http_resp r = {0};
    if (!d.s.offline) {
        char *qrev = am__hub_quote(d.revision, false);
        const char *tp = !strcmp(d.repo_type, "dataset") ? "datasets" : !strcmp(d.repo_type, "space") ? "spaces" : "models";
        char *url = NULL;
        st = qrev ? am__hub_url(&url, d.s.endpoint, NULL, "api/%s/%s/revision/%s", tp, repo_id, qrev)
                  : am__error(AM_ERR_NO_MEMORY, "out of memory");
        free(qrev);
        am__http_req q = am__http_req_init("GET", url);
        q.token = d.s.token;
        q.timeout_s = d.s.etag_timeout;
        q.retries = 2;
        q.max_body = 64u << 20;
        if (!st) st = am__http_do(&q, &r);
        free(url);
        if (st == AM_OK && r.status == 200) {
            info = cJSON_ParseWithLength(r.body.data, r.body.len);
            cJSON *sha = info ? cJSON_GetObjectItemCaseSensitive(info, "sha") : NULL;
            if (!cJSON_IsString(sha) || !am__hub_is_commit(sha->valuestring) ||
                !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(info, "siblings"))) {
                st = am__error(AM_ERR_FORMAT, "%s: the repo info from %s is not the hub's JSON (no sha/siblings)", repo_id,
                               d.s.endpoint);
                goto out;
            }
            commit = am__strdup(sha->valuestring);
            if (!commit) {
                st = am__error(AM_ERR_NO_MEMORY, "out of memory");
                goto out;
            }
        } else if (st == AM_OK && !transient(r.status)) {
            st = http_error(&d, &r);
            goto out;
        } else if (st != AM_OK && st != AM_ERR_NETWORK) {
            goto out; /* out of memory: not a reason to go offline */
        } else {
            am__error_clear();
            st = AM_OK;
        }
    }
    if (!commit) { /* offline or unreachable: the cached snapshot of this revision, if any */
        char *c = cached_commit(&d);
        char *snap = c ? am__strfmt("%s/snapshots/%s", d.repo_dir, c) : NULL;
        if (snap && am__is_dir(snap)) {
            *out_dir = snap;
            snap = NULL;
        } else
            st = am__error(AM_ERR_NETWORK,
                           "We couldn't connect to '%s' to load the files of %s, and couldn't find them in the cached "
                           "files (revision %s).\nCheckout your internet connection or see how to run the library in "
                           "offline mode at '" HUB_DOCS "'.",
                           d.s.endpoint, repo_id, d.revision);
        free(snap);
        free(c);
        goto out;
    }
    write_ref(&d, commit);
    am__error_clear();
    am__hub_opts o = opts ? *opts : am__hub_opts_default();
    o.revision = commit;
    o.subfolder = NULL;
    cJSON *sib;
    cJSON_ArrayForEach(sib, cJSON_GetObjectItemCaseSensitive(info, "siblings")) {
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(sib, "rfilename");
        if (!cJSON_IsString(fn)) {
            st = am__error(AM_ERR_FORMAT, "%s: a sibling in the repo info has no rfilename", repo_id);
            goto out;
        }
        if (!included(fn->valuestring, include)) continue;
        char *p = NULL;
        st = am__hub_download_file(repo_id, fn->valuestring, &o, false, &p, NULL);
        free(p);
        if (st) goto out;
    }
    *out_dir = am__strfmt("%s/snapshots/%s", d.repo_dir, commit);
    if (!*out_dir) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
    else am__mkdirs(*out_dir); /* an empty selection still names a real folder */
out:
    am__http_resp_free(&r);
    cJSON_Delete(info);
    free(commit);
    dl_free(&d);
    return st;
}
