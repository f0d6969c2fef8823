/* hub/server.c — `automodel hub serve`: the hub's HTTP API over libmicrohttpd, enough for
 * huggingface_hub, @huggingface/hub and our own client: resolve (HEAD/GET, Range), repo info,
 * tree listing with Link pagination, whoami, repo creation/deletion, preupload, LFS batch with
 * presigned-style upload tickets (basic and multipart, sha256 verified), atomic NDJSON commits,
 * branches, tags and refs. Requests are hostile until checked; every write is under one lock. */
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"
#include "hub/store.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGS 64
#define LFS_THRESHOLD (10u << 20)
#define TREE_PAGE 1000
#define TICKET_TTL 3600
#define DEF_MAX_BODY (1ull << 30)      /* NDJSON commit bodies (authenticated writers only) */
#define DEF_MAX_JSON (8ull << 20)      /* every other JSON body */
#define DEF_PER_IP 64u                 /* connections from one address */
#define DEF_MAX_CONN 1024u             /* connections in all */
#define DEF_TIMEOUT 30u                /* seconds a connection may stay silent */
#define OVERRUN_READ (1u << 20)        /* bytes past a body limit read (then dropped) before closing */
#define ANON_MAX_JSON (1ull << 20)     /* a body without a valid token (public reads only) */

typedef struct tok {
    char *token, *user;
    bool write;
    char **orgs;
    size_t n_orgs;
} tok;

typedef struct ticket {
    char id[33];
    char type[16];
    char repo[200];
    char oid[65];
    uint64_t size, chunk;
    uint32_t nparts;
    uint64_t *part_len; /* bytes received per part (multipart) */
    time_t expires;
    bool busy;          /* basic: an upload is in progress */
    bool completing;    /* multipart: lfs-complete is hashing the parts */
    uint8_t *part_busy; /* multipart: a PUT of this part is in progress */
} ticket;

struct am_hub_server {
    struct MHD_Daemon *d;
    st_store store;
    tok *tokens;
    size_t n_tokens;
    pthread_mutex_t wlock; /* every write to the store */
    pthread_mutex_t tlock; /* tickets */
    ticket *tickets;
    size_t n_tickets;
    uint64_t max_body, max_json, chunk;
    int port;
    int lockfd; /* flock on ROOT/.automodel-hub.lock: one server per ROOT */
};

typedef struct req {
    am__buf body;
    bool too_big, started;
    bool pre, pre_ok; /* route() on the headers alone: authorise and pick the body limit */
    uint64_t cap;     /* largest body this request may send (set by the header pass) */
    uint64_t dropped; /* bytes read past the limit */
    char *tmp;        /* the upload's own temp file while this request owns it */
    bool claimed;     /* holds its ticket (or ticket part) */
    /* LFS upload streaming */
    bool stream;
    int fd;
    char ticket[33];
    uint32_t part;
    uint64_t off, got, limit;
    am__sha256 sha;
    bool io_error;
} req;

/* ---- small helpers ------------------------------------------------------------------------ */


static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF): core/json.c's check. */
static bool utf8_ok(const char *p, size_t n) { return am__utf8_invalid_at(p, n) == SIZE_MAX; }

/* The one check every JSON / NDJSON body passes before it is parsed, the same text checks as every
 * JSON the library reads (core/json.c): cJSON keeps strings as C strings, so a "\u0000" escape
 * would cut "zz\u0000../evil" to "zz" (and a raw NUL byte ends the text early); and text that is
 * not UTF-8 would be stored and served back as JSON no client can decode. */
static bool body_text_ok(const char *p, size_t n, char *why, size_t wl) {
    if (am__json_text_check(p, n, "request body") == AM_OK) return true;
    snprintf(why, wl, "%s", am_last_error());
    return false;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body, size_t n,
                                const char *const *hdrs) {
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    for (const char *const *h = hdrs; h && h[0]; h += 2) MHD_add_response_header(r, h[0], h[1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *j, const char *const *hdrs) {
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text) return send_buf(c, 500, "text/plain", "out of memory", 13, NULL);
    enum MHD_Result r = send_buf(c, status, "application/json; charset=utf-8", text, strlen(text), hdrs);
    free(text);
    return r;
}

/* The hub's error shape: JSON {"error": msg} plus X-Error-Code / X-Error-Message. */
static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *code, const char *commit,
                                const char *msg, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *code, const char *commit,
                                const char *msg, ...) {
    char m[512];
    va_list ap;
    va_start(ap, msg);
    vsnprintf(m, sizeof m, msg, ap);
    va_end(ap);
    for (char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' '; /* never reflect control bytes into a header */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", m);
    const char *h[8] = {"X-Error-Message", m, NULL};
    int k = 2;
    if (code) h[k++] = "X-Error-Code", h[k++] = code;
    if (commit) h[k++] = "X-Repo-Commit", h[k++] = commit;
    h[k] = NULL;
    return send_json(c, status, j, h);
}

/* ---- tokens ----------------------------------------------------------------------------- */

static void free_tokens(am_hub_server *s) {
    for (size_t i = 0; i < s->n_tokens; i++) {
        free(s->tokens[i].token);
        free(s->tokens[i].user);
        for (size_t k = 0; k < s->tokens[i].n_orgs; k++) free(s->tokens[i].orgs[k]);
        free(s->tokens[i].orgs);
    }
    free(s->tokens);
}

static am_status load_tokens(am_hub_server *s, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return am__error(AM_ERR_NOT_FOUND, "%s: cannot read the tokens file: %s", path, strerror(errno));
    if (sb.st_mode & 077)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "%s: the tokens file is readable by other users (mode %03o); run `chmod 600 %s`", path,
                         (unsigned)(sb.st_mode & 0777), path);
    char *text = NULL;
    size_t n;
    am_status st = am__read_file(path, &text, &n);
    if (st) return st;
    int lineno = 0;
    for (char *line = strtok(text, "\n"); line && !st; line = strtok(NULL, "\n")) {
        lineno++;
        while (isspace((unsigned char)*line)) line++;
        if (!*line || *line == '#') continue;
        char *f[40];
        int nf = 0;
        for (char *w = strtok_r(line, " \t\r", &line); w && nf < 40; w = strtok_r(NULL, " \t\r", &line)) f[nf++] = w;
        if (nf < 3 || (strcmp(f[2], "read") && strcmp(f[2], "write")) || !am__hub_valid_repo_id(f[1], NULL, 0) ||
            strchr(f[1], '/')) {
            st = am__error(AM_ERR_FORMAT, "%s:%d: expected 'TOKEN USER read|write [ORG...]'", path, lineno);
            break;
        }
        tok *nt = realloc(s->tokens, (s->n_tokens + 1) * sizeof *nt);
        if (!nt) {
            st = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        s->tokens = nt;
        tok *t = &s->tokens[s->n_tokens++];
        memset(t, 0, sizeof *t);
        t->token = am__strdup(f[0]);
        t->user = am__strdup(f[1]);
        t->write = !strcmp(f[2], "write");
        t->orgs = calloc((size_t)nf, sizeof *t->orgs);
        for (int i = 3; i < nf && t->orgs; i++) t->orgs[t->n_orgs++] = am__strdup(f[i]);
    }
    memset(text, 0, n);
    free(text);
    return st;
}

/* The token of a request: `Authorization: Bearer TOKEN`, or HTTP Basic with the token as the
 * password and any user name, as huggingface.co takes it (huggingface_hub authenticates its LFS
 * batch and verify calls as `access_token:TOKEN` / `USER:TOKEN`). */
static const tok *auth(am_hub_server *s, struct MHD_Connection *c) {
    char *key = am__hub_auth_token(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
    const tok *found = NULL;
    for (size_t i = 0; key && i < s->n_tokens && !found; i++)
        if (!strcmp(s->tokens[i].token, key)) found = &s->tokens[i];
    free(key);
    return found;
}

static bool member(const tok *t, const char *ns) {
    if (!t || !ns || !*ns) return false;
    if (!strcmp(t->user, ns)) return true;
    for (size_t i = 0; i < t->n_orgs; i++)
        if (!strcmp(t->orgs[i], ns)) return true;
    return false;
}
static bool can_read(const st_repo *r, const tok *t) { return !r->private_ || member(t, r->owner); }
static bool can_write(const st_repo *r, const tok *t) { return !r->mirror && t && t->write && member(t, r->owner); }

/* ---- request parsing -------------------------------------------------------------------- */

typedef struct path {
    char *seg[MAX_SEGS];
    int n;
} path;

static void path_free(path *p) {
    for (int i = 0; i < p->n; i++) free(p->seg[i]);
    p->n = 0;
}

/* Split the raw (still percent-encoded) path and decode each part; NUL or control bytes fail. */
static bool path_parse(const char *url, path *p) {
    memset(p, 0, sizeof *p);
    if (url[0] != '/') return false;
    const char *s = url + 1;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (p->n >= MAX_SEGS) return false;
        char *d = am__hub_unquote(s, l);
        if (!d) return false;
        for (char *q = d; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f) {
                free(d);
                return false;
            }
        if (!utf8_ok(d, strlen(d))) { /* names and paths are stored and listed back as JSON */
            free(d);
            return false;
        }
        p->seg[p->n++] = d;
        if (!e) break;
        s = e + 1;
        if (!*s) break; /* trailing slash */
    }
    return true;
}

static char *join_segs(const path *p, int from, int to) {
    am__buf b = {0};
    for (int i = from; i < to; i++) {
        if (i > from) am__buf_puts(&b, "/");
        am__buf_puts(&b, p->seg[i]);
    }
    return am__buf_take(&b);
}

/* A revision at seg[i]: one (decoded) segment, or "refs/x/y" spread over three when unencoded. */
static char *take_rev(const path *p, int *i) {
    if (*i >= p->n) return NULL;
    if (!strcmp(p->seg[*i], "refs") && *i + 2 < p->n) {
        char *r = join_segs(p, *i, *i + 3);
        *i += 3;
        return r;
    }
    return am__strdup(p->seg[(*i)++]);
}

static char *get_arg(struct MHD_Connection *c, const char *k) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    if (!v) return NULL;
    char *plus = am__strdup(v);
    for (char *q = plus; q && *q; q++)
        if (*q == '+') *q = ' ';
    char *d = plus ? am__hub_unquote(plus, strlen(plus)) : NULL;
    free(plus);
    return d;
}

static bool arg_true(struct MHD_Connection *c, const char *k) {
    char *v = get_arg(c, k);
    bool r = v && (!strcmp(v, "1") || !strcasecmp(v, "true"));
    free(v);
    return r;
}

static char *base_url(struct MHD_Connection *c, am_hub_server *s) {
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    bool ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) ok = false;
    if (ok) return am__strfmt("http://%s", host);
    return am__strfmt("http://127.0.0.1:%d", s->port);
}

static const char *type_of_plural(const char *p) {
    if (!strcmp(p, "models")) return "model";
    if (!strcmp(p, "datasets")) return "dataset";
    if (!strcmp(p, "spaces")) return "space";
    return NULL;
}
static const char *prefix_of(const char *type) {
    return !strcmp(type, "dataset") ? "datasets/" : !strcmp(type, "space") ? "spaces/" : "";
}
static const char *plural_of(const char *type) {
    return !strcmp(type, "dataset") ? "datasets" : !strcmp(type, "space") ? "spaces" : "models";
}

/* Open the repo whose id starts at seg[*i] (two segments when that names a repo, else one). */
static am_status open_repo_at(am_hub_server *s, const char *type, const path *p, int *i, st_repo *r) {
    if (*i + 1 < p->n) {
        char *id2 = am__strfmt("%s/%s", p->seg[*i], p->seg[*i + 1]);
        am_status st = id2 ? am__store_repo_open(&s->store, type, id2, r) : AM_ERR_NO_MEMORY;
        free(id2);
        if (!st) {
            *i += 2;
            return AM_OK;
        }
    }
    if (*i < p->n && am__store_repo_open(&s->store, type, p->seg[*i], r) == AM_OK) {
        *i += 1;
        return AM_OK;
    }
    am__error_clear();
    return AM_ERR_NOT_FOUND;
}

/* ---- read endpoints --------------------------------------------------------------------- */

static enum MHD_Result repo_missing(struct MHD_Connection *c) {
    return send_err(c, 404, "RepoNotFound", NULL,
                    "Repository not found. If the repo is private, make sure you are authenticated.");
}

static cJSON *file_json_lfs(const st_file *f) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "sha256", f->sha256);
    cJSON_AddStringToObject(l, "oid", f->sha256);
    cJSON_AddNumberToObject(l, "size", (double)f->size);
    cJSON_AddNumberToObject(l, "pointerSize", 134);
    return l;
}

static enum MHD_Result repo_info(am_hub_server *s, struct MHD_Connection *c, const st_repo *r, const char *rev) {
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    st_commit cm;
    if (am__store_load_commit(r, commit, &cm)) return send_err(c, 500, NULL, NULL, "cannot read commit %s", commit);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_id", commit);
    cJSON_AddStringToObject(j, "id", r->id);
    cJSON_AddStringToObject(j, "modelId", r->id);
    cJSON_AddStringToObject(j, "author", r->owner);
    cJSON_AddStringToObject(j, "sha", commit);
    cJSON_AddStringToObject(j, "lastModified", cm.date && *cm.date ? cm.date : "1970-01-01T00:00:00.000Z");
    cJSON_AddBoolToObject(j, "private", r->private_);
    cJSON_AddBoolToObject(j, "gated", false);
    cJSON_AddBoolToObject(j, "disabled", false);
    cJSON_AddNumberToObject(j, "downloads", 0);
    cJSON_AddNumberToObject(j, "likes", 0);
    cJSON_AddItemToObject(j, "tags", cJSON_CreateArray());
    cJSON *sib = cJSON_AddArrayToObject(j, "siblings");
    uint64_t used = 0;
    for (size_t i = 0; i < cm.n; i++) {
        const st_file *f = &cm.files[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rfilename", f->path);
        cJSON_AddNumberToObject(o, "size", (double)f->size);
        if (f->sha1[0]) cJSON_AddStringToObject(o, "blobId", f->sha1);
        if (f->lfs) cJSON_AddItemToObject(o, "lfs", file_json_lfs(f));
        cJSON_AddItemToArray(sib, o);
        used += f->size;
    }
    cJSON_AddNumberToObject(j, "usedStorage", (double)used);
    am__store_commit_free(&cm);
    (void)s;
    return send_json(c, 200, j, NULL);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static enum MHD_Result tree(am_hub_server *s, struct MHD_Connection *c, const st_repo *r, const char *rev, const char *dir) {
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    st_commit cm;
    if (am__store_load_commit(r, commit, &cm)) return send_err(c, 500, NULL, NULL, "cannot read commit");
    bool rec = arg_true(c, "recursive");
    char *cur = get_arg(c, "cursor"), *lim = get_arg(c, "limit");
    long start = cur ? atol(cur) : 0, limit = lim ? atol(lim) : TREE_PAGE;
    free(cur), free(lim);
    if (start < 0) start = 0;
    if (limit <= 0 || limit > TREE_PAGE) limit = TREE_PAGE;
    size_t dl = dir ? strlen(dir) : 0;
    /* entries: "f:<index>" for files, "d:<path>" for directories, sorted by path */
    char **names = NULL;
    size_t n = 0;
    bool dir_exists = !dl;
    for (size_t i = 0; i < cm.n; i++) {
        const char *pth = cm.files[i].path;
        if (dl && (strncmp(pth, dir, dl) || pth[dl] != '/')) {
            if (dl && !strcmp(pth, dir)) dir_exists = dir_exists || false;
            continue;
        }
        dir_exists = true;
        const char *rest = dl ? pth + dl + 1 : pth;
        /* every directory between `dir` and the file (only the first level when not recursive) */
        for (const char *q = strchr(rest, '/'); q; q = rec ? strchr(q + 1, '/') : NULL) {
            char *dn = am__strfmt("d%.*s", (int)(q - pth), pth);
            char **nv = dn ? realloc(names, (n + 1) * sizeof *nv) : NULL;
            if (nv) names = nv, names[n++] = dn;
            else free(dn);
        }
        if (rec || !strchr(rest, '/')) {
            char *fn = am__strfmt("f%s", pth);
            char **nv = fn ? realloc(names, (n + 1) * sizeof *nv) : NULL;
            if (nv) names = nv, names[n++] = fn;
            else free(fn);
        }
    }
    if (!dir_exists) {
        am__store_commit_free(&cm);
        free(names);
        return send_err(c, 404, "EntryNotFound", commit, "%s does not exist on \"%s\"", dir, rev);
    }
    /* sort by path (skip the type letter), then drop duplicate directories */
    for (size_t i = 0; i < n; i++) names[i][0] = names[i][0] == 'd' ? '\1' : '\2';
    qsort(names, n, sizeof *names, cmp_str);
    cJSON *arr = cJSON_CreateArray();
    size_t emitted = 0, idx = 0;
    bool more = false;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (prev && !strcmp(prev, names[i])) continue;
        prev = names[i];
        if (idx++ < (size_t)start) continue;
        if (emitted == (size_t)limit) {
            more = true;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        const char *pth = names[i] + 1;
        if (names[i][0] == '\1') {
            cJSON_AddStringToObject(o, "type", "directory");
            cJSON_AddStringToObject(o, "oid", "0000000000000000000000000000000000000000");
            cJSON_AddNumberToObject(o, "size", 0);
            cJSON_AddStringToObject(o, "path", pth);
        } else {
            const st_file *f = am__store_find(&cm, pth);
            cJSON_AddStringToObject(o, "type", "file");
            cJSON_AddStringToObject(o, "oid", f && f->sha1[0] ? f->sha1 : f ? f->sha256 : "");
            cJSON_AddNumberToObject(o, "size", f ? (double)f->size : 0);
            if (f && f->lfs) cJSON_AddItemToObject(o, "lfs", file_json_lfs(f));
            cJSON_AddStringToObject(o, "path", pth);
        }
        cJSON_AddItemToArray(arr, o);
        emitted++;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    am__store_commit_free(&cm);
    char *link = NULL;
    if (more) {
        char *b = base_url(c, s), *qr = am__hub_quote(rev, false), *qd = dir ? am__hub_quote(dir, true) : NULL;
        link = am__strfmt("<%s/api/%s/%s/tree/%s%s%s?recursive=%s&cursor=%ld&limit=%ld>; rel=\"next\"", b, plural_of(r->type),
                   r->id, qr, qd ? "/" : "", qd ? qd : "", rec ? "true" : "false", start + limit, limit);
        free(b), free(qr), free(qd);
    }
    const char *h[3] = {link ? "Link" : NULL, link, NULL};
    enum MHD_Result ret = send_json(c, 200, arr, link ? h : NULL);
    free(link);
    return ret;
}

static enum MHD_Result resolve(am_hub_server *s, struct MHD_Connection *c, const char *method, const st_repo *r,
                               const char *rev, const char *file) {
    (void)s;
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    if (!am__hub_valid_repo_path(file)) return send_err(c, 400, NULL, commit, "Invalid file path");
    st_commit cm;
    if (am__store_load_commit(r, commit, &cm)) return send_err(c, 500, NULL, NULL, "cannot read commit");
    const st_file *f = am__store_find(&cm, file);
    if (!f) {
        am__store_commit_free(&cm);
        return send_err(c, 404, "EntryNotFound", commit, "Entry not found");
    }
    int fd = open(f->blob, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != f->size) {
        if (fd >= 0) close(fd);
        am__store_commit_free(&cm);
        return send_err(c, 500, NULL, commit, "the stored object for this file is missing or damaged");
    }
    uint64_t size = f->size, off = 0, len = size;
    unsigned status = 200;
    char crange[96] = "";
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    if (range && !strncmp(range, "bytes=", 6) && !strchr(range, ',')) {
        const char *q = range + 6;
        char *end;
        bool ok = true;
        uint64_t a = 0, b = size ? size - 1 : 0;
        if (*q == '-') { /* suffix: last N bytes */
            uint64_t nlast = strtoull(q + 1, &end, 10);
            ok = end != q + 1 && !*end;
            if (ok) a = nlast >= size ? 0 : size - nlast;
        } else {
            a = strtoull(q, &end, 10);
            ok = end != q && *end == '-';
            if (ok && end[1]) {
                char *e2;
                b = strtoull(end + 1, &e2, 10);
                ok = !*e2 && b >= a;
                if (b >= size && size) b = size - 1;
            }
        }
        if (ok) {
            if (a >= size) {
                close(fd);
                am__store_commit_free(&cm);
                char cr[64];
                snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
                const char *h[] = {"Content-Range", cr, NULL};
                return send_buf(c, 416, "text/plain", "Range Not Satisfiable", 21, h);
            }
            off = a;
            len = b - a + 1;
            status = 206;
            snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", (unsigned long long)a, (unsigned long long)b,
                     (unsigned long long)size);
        }
    }
    struct MHD_Response *resp = len ? MHD_create_response_from_fd_at_offset64(len, fd, off)
                                    : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!len) close(fd);
    if (!resp) {
        am__store_commit_free(&cm);
        return MHD_NO;
    }
    char etag[80], sz[32];
    snprintf(etag, sizeof etag, "\"%s\"", am__store_etag(f));
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "X-Repo-Commit", commit);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (f->lfs) {
        MHD_add_response_header(resp, "X-Linked-Etag", etag);
        MHD_add_response_header(resp, "X-Linked-Size", sz);
    }
    if (crange[0]) MHD_add_response_header(resp, "Content-Range", crange);
    (void)method;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    am__store_commit_free(&cm);
    return ret;
}

static enum MHD_Result whoami(am_hub_server *s, struct MHD_Connection *c) {
    const tok *t = auth(s, c);
    if (!t) return send_err(c, 401, NULL, NULL, "Invalid credentials in Authorization header");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "user");
    cJSON_AddStringToObject(j, "id", t->user);
    cJSON_AddStringToObject(j, "name", t->user);
    cJSON_AddStringToObject(j, "fullname", t->user);
    cJSON_AddBoolToObject(j, "isPro", false);
    cJSON *orgs = cJSON_AddArrayToObject(j, "orgs");
    for (size_t i = 0; i < t->n_orgs; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "org");
        cJSON_AddStringToObject(o, "name", t->orgs[i]);
        cJSON_AddItemToArray(orgs, o);
    }
    cJSON *a = cJSON_AddObjectToObject(j, "auth");
    cJSON_AddStringToObject(a, "type", "access_token");
    cJSON *at = cJSON_AddObjectToObject(a, "accessToken");
    cJSON_AddStringToObject(at, "displayName", "automodel");
    cJSON_AddStringToObject(at, "role", t->write ? "write" : "read");
    return send_json(c, 200, j, NULL);
}

static enum MHD_Result refs(struct MHD_Connection *c, const st_repo *r) {
    size_t n = 0;
    char **v = am__store_list_refs(r, &n);
    qsort(v, n, sizeof *v, cmp_str);
    cJSON *j = cJSON_CreateObject();
    cJSON *br = cJSON_AddArrayToObject(j, "branches"), *tg = cJSON_AddArrayToObject(j, "tags");
    cJSON *pr = cJSON_AddArrayToObject(j, "pullRequests");
    cJSON_AddItemToObject(j, "converts", cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        char commit[41];
        if (am__store_resolve_rev(r, v[i], commit) == AM_OK) {
            cJSON *o = cJSON_CreateObject();
            const char *name = !strncmp(v[i], "refs/heads/", 11) ? v[i] + 11 : !strncmp(v[i], "refs/tags/", 10) ? v[i] + 10 : v[i];
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddStringToObject(o, "ref", v[i]);
            cJSON_AddStringToObject(o, "targetCommit", commit);
            cJSON_AddItemToArray(!strncmp(v[i], "refs/tags/", 10) ? tg : !strncmp(v[i], "refs/pr/", 8) ? pr : br, o);
        }
        free(v[i]);
    }
    am__error_clear();
    free(v);
    return send_json(c, 200, j, NULL);
}

static enum MHD_Result commits(struct MHD_Connection *c, const st_repo *r, const char *rev) {
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < 10000 && commit[0]; k++) {
        st_commit cm;
        if (am__store_load_commit(r, commit, &cm)) break;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", cm.id);
        cJSON_AddStringToObject(o, "title", cm.title ? cm.title : "");
        cJSON_AddStringToObject(o, "message", cm.message ? cm.message : "");
        cJSON_AddStringToObject(o, "date", cm.date ? cm.date : "");
        cJSON *au = cJSON_AddArrayToObject(o, "authors"), *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "user", cm.author ? cm.author : "");
        cJSON_AddItemToArray(au, a);
        cJSON_AddItemToArray(arr, o);
        memcpy(commit, cm.parent, 41);
        am__store_commit_free(&cm);
    }
    am__error_clear();
    return send_json(c, 200, arr, NULL);
}

/* ---- write endpoints -------------------------------------------------------------------- */

static cJSON *parse_body(const req *q) { return q->body.len ? cJSON_ParseWithLength(q->body.data, q->body.len) : NULL; }

static enum MHD_Result create_repo(am_hub_server *s, struct MHD_Connection *c, const req *q) {
    const tok *t = auth(s, c);
    if (!t) return send_err(c, 401, NULL, NULL, "Invalid credentials in Authorization header");
    cJSON *j = parse_body(q);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "the body must be a JSON object");
    }
    cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name"), *org = cJSON_GetObjectItemCaseSensitive(j, "organization");
    cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type"), *priv = cJSON_GetObjectItemCaseSensitive(j, "private");
    cJSON *vis = cJSON_GetObjectItemCaseSensitive(j, "visibility");
    const char *ty = cJSON_IsString(type) ? type->valuestring : "model";
    char id[256];
    if (!cJSON_IsString(name) || (!cJSON_IsString(org) && org && !cJSON_IsNull(org)) ||
        (strcmp(ty, "model") && strcmp(ty, "dataset") && strcmp(ty, "space"))) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "expected {name, organization?, type?, private?|visibility?}");
    }
    if (strchr(name->valuestring, '/')) snprintf(id, sizeof id, "%s", name->valuestring);
    else snprintf(id, sizeof id, "%s/%s", cJSON_IsString(org) ? org->valuestring : t->user, name->valuestring);
    bool private_ = cJSON_IsTrue(priv) || (cJSON_IsString(vis) && strcmp(vis->valuestring, "public"));
    char why[256];
    if (!am__hub_valid_repo_id(id, why, sizeof why)) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "%s", why);
    }
    char ns[128];
    snprintf(ns, sizeof ns, "%.*s", (int)(strchr(id, '/') - id), id);
    if (!t->write || !member(t, ns)) {
        cJSON_Delete(j);
        return send_err(c, 403, NULL, NULL, "You don't have the rights to create a repo under the namespace \"%s\"", ns);
    }
    char *b = base_url(c, s);
    char *url = am__strfmt("%s/%s%s", b ? b : "", prefix_of(ty), id);
    free(b);
    pthread_mutex_lock(&s->wlock);
    st_repo r;
    am_status st = am__store_repo_open(&s->store, ty, id, &r);
    enum MHD_Result ret;
    if (st == AM_OK) {
        bool visible = can_read(&r, t);
        am__store_repo_free(&r);
        pthread_mutex_unlock(&s->wlock);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", visible ? "You already created this model repo" : "Conflict");
        if (visible) cJSON_AddStringToObject(o, "url", url ? url : "");
        ret = send_json(c, 409, o, NULL);
    } else {
        am__error_clear();
        st = am__store_repo_create(&s->store, ty, id, private_, t->user);
        pthread_mutex_unlock(&s->wlock);
        if (st) ret = send_err(c, 500, NULL, NULL, "cannot create the repo: %s", am_last_error());
        else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "url", url ? url : "");
            cJSON_AddStringToObject(o, "name", id);
            cJSON_AddStringToObject(o, "id", id);
            ret = send_json(c, 200, o, NULL);
        }
    }
    free(url);
    cJSON_Delete(j);
    return ret;
}

static enum MHD_Result delete_repo(am_hub_server *s, struct MHD_Connection *c, const req *q) {
    const tok *t = auth(s, c);
    if (!t) return send_err(c, 401, NULL, NULL, "Invalid credentials in Authorization header");
    cJSON *j = parse_body(q);
    cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name"), *org = cJSON_GetObjectItemCaseSensitive(j, "organization");
    cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    char id[256];
    if (!cJSON_IsString(name)) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "expected {name, organization?, type?}");
    }
    snprintf(id, sizeof id, "%s/%s", cJSON_IsString(org) ? org->valuestring : t->user, name->valuestring);
    const char *ty = cJSON_IsString(type) ? type->valuestring : "model";
    if (strcmp(ty, "model") && strcmp(ty, "dataset") && strcmp(ty, "space")) ty = "model";
    pthread_mutex_lock(&s->wlock);
    st_repo r;
    enum MHD_Result ret;
    if (am__store_repo_open(&s->store, ty, id, &r) || !can_read(&r, t)) ret = repo_missing(c);
    else if (!can_write(&r, t)) ret = send_err(c, 403, NULL, NULL, "You don't have the rights to delete this repo");
    else if (am__store_repo_delete(&r)) ret = send_err(c, 500, NULL, NULL, "%s", am_last_error());
    else ret = send_buf(c, 200, "application/json", "{}", 2, NULL);
    am__store_repo_free(&r);
    pthread_mutex_unlock(&s->wlock);
    am__error_clear();
    cJSON_Delete(j);
    return ret;
}

static bool lfs_by_name(const char *path, uint64_t size, const uint8_t *sample, size_t sl) {
    static const char *const ext[] = {".7z", ".bin", ".ckpt", ".gguf", ".h5", ".model", ".msgpack", ".npy", ".npz",
                                      ".onnx", ".pt", ".pth", ".safetensors", ".zip", ".gz", ".tar", ".pkl", ".pb", NULL};
    if (size == 0) return false;
    if (size >= LFS_THRESHOLD) return true;
    size_t pl = strlen(path);
    for (const char *const *e = ext; *e; e++) {
        size_t el = strlen(*e);
        if (pl >= el && !strcmp(path + pl - el, *e)) return true;
    }
    return sample && memchr(sample, 0, sl) != NULL; /* binary */
}

static enum MHD_Result preupload(am_hub_server *s, struct MHD_Connection *c, const st_repo *r, const char *rev, const req *q) {
    (void)s;
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    cJSON *j = parse_body(q);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    if (!cJSON_IsArray(files)) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "expected {files: [{path, sample, size}]}");
    }
    st_commit cm;
    if (am__store_load_commit(r, commit, &cm)) {
        cJSON_Delete(j);
        return send_err(c, 500, NULL, NULL, "cannot read commit");
    }
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "files");
    cJSON_AddStringToObject(out, "commitOid", commit);
    cJSON *e;
    enum MHD_Result bad = MHD_YES;
    bool failed = false;
    cJSON_ArrayForEach(e, files) {
        cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path"), *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
        cJSON *smp = cJSON_GetObjectItemCaseSensitive(e, "sample");
        if (!cJSON_IsString(p) || !am__hub_valid_repo_path(p->valuestring) || (sz && !cJSON_IsNumber(sz))) {
            bad = send_err(c, 400, NULL, NULL, "invalid file entry in preupload (path must be a relative repo path)");
            failed = true;
            break;
        }
        uint8_t *sample = NULL;
        size_t sl = 0;
        if (cJSON_IsString(smp)) am__base64_decode(smp->valuestring, strlen(smp->valuestring), &sample, &sl);
        uint64_t size = cJSON_IsNumber(sz) && sz->valuedouble > 0 ? (uint64_t)sz->valuedouble : 0;
        bool lfs = lfs_by_name(p->valuestring, size, sample, sl);
        free(sample);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", p->valuestring);
        cJSON_AddStringToObject(o, "uploadMode", lfs ? "lfs" : "regular");
        cJSON_AddBoolToObject(o, "shouldIgnore", false);
        const st_file *f = am__store_find(&cm, p->valuestring);
        if (f) cJSON_AddStringToObject(o, "oid", f->lfs ? f->sha256 : f->sha1);
        else cJSON_AddNullToObject(o, "oid");
        cJSON_AddItemToArray(arr, o);
    }
    am__store_commit_free(&cm);
    cJSON_Delete(j);
    if (failed) {
        cJSON_Delete(out);
        return bad;
    }
    return send_json(c, 200, out, NULL);
}

static char *ticket_tmp(am_hub_server *s, const ticket *tk, const char *attempt);

static bool ticket_in_use(const ticket *t) {
    if (t->busy || t->completing) return true;
    for (uint32_t p = 0; t->part_busy && p < t->nparts; p++)
        if (t->part_busy[p]) return true;
    return false;
}

static void ticket_free_at(am_hub_server *s, size_t i) {
    free(s->tickets[i].part_len);
    free(s->tickets[i].part_busy);
    s->tickets[i] = s->tickets[--s->n_tickets];
}

/* Under tlock: drop expired tickets nobody is using, and a multipart ticket's shared part file. */
static void ticket_gc(am_hub_server *s, time_t now) {
    for (size_t i = s->n_tickets; i-- > 0;) {
        ticket *t = &s->tickets[i];
        if (t->expires >= now || ticket_in_use(t)) continue;
        if (t->nparts) {
            char *tmp = ticket_tmp(s, t, NULL);
            if (tmp) unlink(tmp);
            free(tmp);
        }
        ticket_free_at(s, i);
    }
}

static enum MHD_Result lfs_batch(am_hub_server *s, struct MHD_Connection *c, const st_repo *r, const tok *t, const req *q) {
    cJSON *j = parse_body(q);
    cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "operation"), *objs = cJSON_GetObjectItemCaseSensitive(j, "objects");
    cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "transfers");
    if (!cJSON_IsString(op) || !cJSON_IsArray(objs) || cJSON_GetArraySize(objs) > 1000) {
        cJSON_Delete(j);
        return send_err(c, 422, NULL, NULL, "expected {operation, objects: [{oid, size}]} (at most 1000 objects)");
    }
    bool upload = !strcmp(op->valuestring, "upload");
    if (upload && !can_write(r, t)) {
        cJSON_Delete(j);
        return send_err(c, t ? 403 : 401, NULL, NULL, "write access needed to upload to %s", r->id);
    }
    bool multipart = false;
    cJSON *e;
    cJSON_ArrayForEach(e, tr) if (cJSON_IsString(e) && !strcmp(e->valuestring, "multipart")) multipart = true;
    char *base = base_url(c, s);
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "objects");
    bool used_multipart = false;
    time_t now = time(NULL);
    pthread_mutex_lock(&s->tlock);
    ticket_gc(s, now);
    cJSON_ArrayForEach(e, objs) {
        cJSON *oid = cJSON_GetObjectItemCaseSensitive(e, "oid"), *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        if (cJSON_IsString(oid)) cJSON_AddStringToObject(o, "oid", oid->valuestring);
        if (cJSON_IsNumber(sz)) cJSON_AddNumberToObject(o, "size", sz->valuedouble);
        if (!cJSON_IsString(oid) || !is_hex(oid->valuestring, 64) || !cJSON_IsNumber(sz) || sz->valuedouble < 0 ||
            sz->valuedouble > 5e13 || sz->valuedouble != (double)(uint64_t)sz->valuedouble) {
            cJSON *er = cJSON_AddObjectToObject(o, "error");
            cJSON_AddNumberToObject(er, "code", 422);
            cJSON_AddStringToObject(er, "message", "invalid oid (64 hex) or size");
            continue;
        }
        uint64_t size = (uint64_t)sz->valuedouble, have = 0;
        if (am__store_has_object(r, oid->valuestring, &have) && have == size) continue; /* already stored */
        if (!upload) {
            cJSON *er = cJSON_AddObjectToObject(o, "error");
            cJSON_AddNumberToObject(er, "code", 404);
            cJSON_AddStringToObject(er, "message", "Object does not exist");
            continue;
        }
        ticket *nt = realloc(s->tickets, (s->n_tickets + 1) * sizeof *nt);
        if (!nt) continue;
        s->tickets = nt;
        ticket *tk = &s->tickets[s->n_tickets++];
        memset(tk, 0, sizeof *tk);
        am__random_hex(tk->id, 32);
        snprintf(tk->type, sizeof tk->type, "%s", r->type);
        snprintf(tk->repo, sizeof tk->repo, "%s", r->id);
        memcpy(tk->oid, oid->valuestring, 65);
        tk->size = size;
        tk->expires = now + TICKET_TTL;
        cJSON *act = cJSON_AddObjectToObject(o, "actions"), *up = cJSON_AddObjectToObject(act, "upload");
        if (multipart && size > s->chunk) {
            tk->chunk = s->chunk;
            tk->nparts = (uint32_t)((size + s->chunk - 1) / s->chunk);
            tk->part_len = calloc(tk->nparts, sizeof *tk->part_len);
            tk->part_busy = calloc(tk->nparts, 1);
            if (!tk->part_len || !tk->part_busy) {
                free(tk->part_len), free(tk->part_busy);
                s->n_tickets--;
                cJSON_DeleteItemFromObject(o, "actions");
                cJSON *er = cJSON_AddObjectToObject(o, "error");
                cJSON_AddNumberToObject(er, "code", 500);
                cJSON_AddStringToObject(er, "message", "out of memory");
                continue;
            }
            char *href = am__strfmt("%s/lfs-complete/%s", base, tk->id);
            cJSON_AddStringToObject(up, "href", href ? href : "");
            free(href);
            cJSON *h = cJSON_AddObjectToObject(up, "header");
            char cs[32];
            snprintf(cs, sizeof cs, "%llu", (unsigned long long)s->chunk);
            cJSON_AddStringToObject(h, "chunk_size", cs);
            for (uint32_t p = 1; p <= tk->nparts; p++) {
                char k[16];
                snprintf(k, sizeof k, "%u", p);
                char *pu = am__strfmt("%s/lfs-upload/%s/%u", base, tk->id, p);
                cJSON_AddStringToObject(h, k, pu ? pu : "");
                free(pu);
            }
            used_multipart = true;
        } else {
            char *href = am__strfmt("%s/lfs-upload/%s", base, tk->id);
            cJSON_AddStringToObject(up, "href", href ? href : "");
            free(href);
        }
        cJSON *ver = cJSON_AddObjectToObject(act, "verify");
        char *vh = am__strfmt("%s/%s%s.git/info/lfs/objects/verify", base, prefix_of(r->type), r->id);
        cJSON_AddStringToObject(ver, "href", vh ? vh : "");
        free(vh);
    }
    pthread_mutex_unlock(&s->tlock);
    cJSON_AddStringToObject(out, "transfer", used_multipart ? "multipart" : "basic");
    cJSON_AddStringToObject(out, "hash_algo", "sha256");
    free(base);
    cJSON_Delete(j);
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    enum MHD_Result ret = send_buf(c, 200, "application/vnd.git-lfs+json", text ? text : "{}", text ? strlen(text) : 2, NULL);
    free(text);
    return ret;
}

static enum MHD_Result lfs_verify(struct MHD_Connection *c, const st_repo *r, const req *q) {
    cJSON *j = parse_body(q);
    cJSON *oid = cJSON_GetObjectItemCaseSensitive(j, "oid"), *sz = cJSON_GetObjectItemCaseSensitive(j, "size");
    uint64_t have = 0;
    bool ok = cJSON_IsString(oid) && cJSON_IsNumber(sz) && am__store_has_object(r, oid->valuestring, &have) &&
              have == (uint64_t)sz->valuedouble;
    cJSON_Delete(j);
    if (!ok) return send_err(c, 404, NULL, NULL, "Object not found or wrong size");
    return send_buf(c, 200, "application/vnd.git-lfs+json", "{}", 2, NULL);
}

/* Tickets are capabilities: whoever holds the URL may upload, once at a time. A claim marks the
 * ticket (basic), the part (multipart) or the completion as in progress; a second concurrent claim
 * gets TK_BUSY (409), so no two requests ever write the same bytes. */
typedef enum { TK_OK, TK_MISSING, TK_BUSY, TK_BADPART } tk_claim;

static ticket *ticket_find(am_hub_server *s, const char *id) {
    time_t now = time(NULL);
    for (size_t i = 0; i < s->n_tickets; i++)
        if (!strcmp(s->tickets[i].id, id) && s->tickets[i].expires >= now) return &s->tickets[i];
    return NULL;
}

/* part: 0 for a basic upload (or for `complete`). *out is a copy without the arrays. */
static tk_claim ticket_claim(am_hub_server *s, const char *id, uint32_t part, bool complete, ticket *out) {
    tk_claim r = TK_OK;
    pthread_mutex_lock(&s->tlock);
    ticket *t = ticket_find(s, id);
    if (!t) r = TK_MISSING;
    else if (complete) {
        if (!t->nparts) r = TK_MISSING;
        else if (ticket_in_use(t)) r = TK_BUSY;
        else t->completing = true;
    } else if (t->nparts) {
        if (!part || part > t->nparts) r = TK_BADPART;
        else if (t->completing || t->part_busy[part - 1]) r = TK_BUSY;
        else t->part_busy[part - 1] = 1;
    } else if (part) r = TK_BADPART;
    else if (t->busy) r = TK_BUSY;
    else t->busy = true;
    if (t && out) {
        *out = *t;
        out->part_len = NULL;
        out->part_busy = NULL;
    }
    pthread_mutex_unlock(&s->tlock);
    return r;
}

static bool ticket_exists(am_hub_server *s, const char *id) {
    pthread_mutex_lock(&s->tlock);
    bool ok = ticket_find(s, id) != NULL;
    pthread_mutex_unlock(&s->tlock);
    return ok;
}

/* Release a claim; `record` stores the received length of a multipart part; `remove` spends the ticket. */
static void ticket_release(am_hub_server *s, const char *id, uint32_t part, bool complete, bool record, uint64_t len,
                           bool remove) {
    pthread_mutex_lock(&s->tlock);
    for (size_t i = 0; i < s->n_tickets; i++) {
        ticket *t = &s->tickets[i];
        if (strcmp(t->id, id)) continue;
        if (complete) t->completing = false;
        else if (t->nparts && part && part <= t->nparts) {
            t->part_busy[part - 1] = 0;
            if (record) t->part_len[part - 1] = len;
        } else t->busy = false;
        if (remove) ticket_free_at(s, i);
        break;
    }
    pthread_mutex_unlock(&s->tlock);
}

/* Move a verified upload into objects/ durably (file fsync'd before the rename, folder after);
 * anything else is deleted. The file is this request's own: nobody else writes it. */
static am_status finish_object(am_hub_server *s, const ticket *tk, const char *tmp, const char *streamed_sha,
                               uint64_t streamed_size) {
    char got[65];
    uint64_t size = streamed_size;
    am_status st = AM_OK;
    if (streamed_sha) memcpy(got, streamed_sha, 65);
    else st = am__hash_file(tmp, got, NULL, &size);
    if (st) {
        unlink(tmp);
        return st;
    }
    if (size != tk->size) {
        unlink(tmp);
        return am__error(AM_ERR_FORMAT, "size mismatch: expected %llu bytes, received %llu", (unsigned long long)tk->size,
                         (unsigned long long)size);
    }
    if (strcmp(got, tk->oid)) {
        unlink(tmp);
        return am__error(AM_ERR_FORMAT, "sha256 mismatch: the upload hashes to %s, not %s", got, tk->oid);
    }
    st_repo r;
    if (am__store_repo_open(&s->store, tk->type, tk->repo, &r)) {
        unlink(tmp);
        return AM_ERR_NOT_FOUND;
    }
    if (!s->store.nosync) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        bool ok = fd >= 0 && fsync(fd) == 0;
        if (fd >= 0) close(fd);
        if (!ok) st = am__error(AM_ERR_IO, "cannot sync the upload: %s", strerror(errno));
    }
    char *dst = st ? NULL : am__store_object_path(&r, tk->oid);
    if (!st) st = dst && rename(tmp, dst) == 0 ? AM_OK : am__error(AM_ERR_IO, "cannot store the object: %s", strerror(errno));
    if (!st) st = am__store_sync_parent(dst, s->store.nosync);
    else unlink(tmp);
    free(dst);
    am__store_repo_free(&r);
    return st;
}

/* A multipart ticket's parts share {id}.parts (disjoint ranges); a basic attempt writes its own
 * {id}.{attempt}.upload. Both live in the repo's tmp/, emptied at startup. */
static char *ticket_tmp(am_hub_server *s, const ticket *tk, const char *attempt) {
    st_repo r;
    if (am__store_repo_open(&s->store, tk->type, tk->repo, &r)) {
        am__error_clear();
        return NULL;
    }
    char name[96];
    if (attempt) snprintf(name, sizeof name, "%s.%s.upload", tk->id, attempt);
    else snprintf(name, sizeof name, "%s.parts", tk->id);
    char *p = am__store_tmp_path(&r, name);
    am__store_repo_free(&r);
    return p;
}

static enum MHD_Result lfs_complete(am_hub_server *s, struct MHD_Connection *c, const char *id, const req *q) {
    ticket tk;
    tk_claim cl = ticket_claim(s, id, 0, true, &tk);
    if (cl == TK_BUSY) return send_err(c, 409, NULL, NULL, "a part of this upload is still being received");
    if (cl != TK_OK) return send_err(c, 404, NULL, NULL, "unknown or expired upload");
    cJSON *j = parse_body(q);
    cJSON *oid = cJSON_GetObjectItemCaseSensitive(j, "oid"), *parts = cJSON_GetObjectItemCaseSensitive(j, "parts");
    bool ok = cJSON_IsString(oid) && !strcmp(oid->valuestring, tk.oid) && cJSON_IsArray(parts) &&
              cJSON_GetArraySize(parts) == (int)tk.nparts;
    cJSON_Delete(j);
    if (!ok) {
        ticket_release(s, id, 0, true, false, 0, false);
        return send_err(c, 400, NULL, NULL, "expected {oid, parts: [...]} naming every part");
    }
    /* every part must have arrived whole (no part is being written: the claim excludes that) */
    pthread_mutex_lock(&s->tlock);
    ticket *t = ticket_find(s, id);
    for (uint32_t p = 0; p < tk.nparts && ok; p++) {
        uint64_t want = p + 1 < tk.nparts ? tk.chunk : tk.size - (uint64_t)p * tk.chunk;
        ok = t && t->part_len && t->part_len[p] == want;
    }
    pthread_mutex_unlock(&s->tlock);
    if (!ok) {
        ticket_release(s, id, 0, true, false, 0, false);
        return send_err(c, 400, NULL, NULL, "some parts are missing or incomplete");
    }
    /* hashing a large upload may take longer than the idle timeout: the client is waiting, not gone */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    char *tmp = ticket_tmp(s, &tk, NULL);
    am_status st = tmp ? finish_object(s, &tk, tmp, NULL, 0) : AM_ERR_NOT_FOUND;
    free(tmp);
    ticket_release(s, id, 0, true, false, 0, true);
    if (st) return send_err(c, 400, NULL, NULL, "%s", am_last_error());
    return send_buf(c, 200, "application/vnd.git-lfs+json", "{}", 2, NULL);
}

/* NDJSON commit: parse everything, then apply under the lock, then move the ref — all or nothing. */
typedef struct op {
    int kind; /* 0 file, 1 lfsFile, 2 deletedFile, 3 deletedFolder */
    char *path;
    uint8_t *data;
    size_t len;
    char oid[65];
    uint64_t size;
} op;

static void ops_free(op *o, size_t n) {
    for (size_t i = 0; i < n; i++) free(o[i].path), free(o[i].data);
    free(o);
}

/* An LFS file's git blob is its pointer file; the hub reports that blob's id as the file's oid. */
static am_status lfs_pointer_sha1(const char *oid, uint64_t size, char out[41]) {
    char ptr[256];
    int n = snprintf(ptr, sizeof ptr, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %llu\n", oid,
                     (unsigned long long)size);
    return am__sha1_hex(ptr, (size_t)n, true, out);
}

static int cmp_file_path(const void *a, const void *b) { return strcmp(((const st_file *)a)->path, ((const st_file *)b)->path); }

static enum MHD_Result commit(am_hub_server *s, struct MHD_Connection *c, const st_repo *r, const tok *t, const char *rev,
                              const req *q) {
    if (!q->body.len) return send_err(c, 400, NULL, NULL, "empty commit body");
    char *summary = NULL, *description = NULL, parent[41] = "";
    op *ops = NULL;
    size_t nops = 0;
    const char *err = NULL;
    char errbuf[256];
    size_t pos = 0;
    int lineno = 0;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    bool ndjson = !ctype || strstr(ctype, "ndjson");
    if (!ndjson) return send_err(c, 415, NULL, NULL, "the commit body must be application/x-ndjson");
    while (pos < q->body.len && !err) {
        const char *line = q->body.data + pos;
        const char *nl = memchr(line, '\n', q->body.len - pos);
        size_t ll = nl ? (size_t)(nl - line) : q->body.len - pos;
        pos += ll + 1;
        lineno++;
        while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) ll--;
        if (!ll) continue;
        cJSON *j = cJSON_ParseWithLength(line, ll);
        cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key"), *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        if (!cJSON_IsString(key) || !cJSON_IsObject(v)) {
            snprintf(errbuf, sizeof errbuf, "line %d: expected {\"key\": ..., \"value\": {...}}", lineno);
            err = errbuf;
        } else if (!strcmp(key->valuestring, "header")) {
            cJSON *sm = cJSON_GetObjectItemCaseSensitive(v, "summary"), *ds = cJSON_GetObjectItemCaseSensitive(v, "description");
            cJSON *pc = cJSON_GetObjectItemCaseSensitive(v, "parentCommit");
            if (lineno != 1 || summary) err = "the header must be the first line, once";
            else if (!cJSON_IsString(sm) || !*sm->valuestring || strlen(sm->valuestring) > 4096) err = "the header needs a summary";
            else if (pc && !cJSON_IsNull(pc) && (!cJSON_IsString(pc) || !am__hub_is_commit(pc->valuestring)))
                err = "parentCommit must be a 40-hex commit id";
            else {
                summary = am__strdup(sm->valuestring);
                description = am__strdup(cJSON_IsString(ds) ? ds->valuestring : "");
                if (cJSON_IsString(pc)) memcpy(parent, pc->valuestring, 41);
            }
        } else {
            cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "path");
            op o = {0};
            /* huggingface_hub names a folder to delete with a trailing '/' ("checkpoints/") */
            if (!strcmp(key->valuestring, "deletedFolder") && cJSON_IsString(p)) {
                size_t pl = strlen(p->valuestring);
                if (pl > 1 && p->valuestring[pl - 1] == '/') p->valuestring[pl - 1] = 0;
            }
            if (!summary) err = "the first line must be the header";
            else if (!cJSON_IsString(p) || !am__hub_valid_repo_path(p->valuestring) || !strncmp(p->valuestring, ".git/", 5)) {
                snprintf(errbuf, sizeof errbuf, "line %d: invalid path", lineno);
                err = errbuf;
            } else if (!strcmp(key->valuestring, "file")) {
                cJSON *ct = cJSON_GetObjectItemCaseSensitive(v, "content"), *en = cJSON_GetObjectItemCaseSensitive(v, "encoding");
                o.kind = 0;
                if (!cJSON_IsString(ct)) err = "file: missing content";
                else if (cJSON_IsString(en) && !strcmp(en->valuestring, "utf-8")) {
                    o.len = strlen(ct->valuestring);
                    o.data = malloc(o.len + 1);
                    if (o.data) memcpy(o.data, ct->valuestring, o.len);
                } else if (!am__base64_decode(ct->valuestring, strlen(ct->valuestring), &o.data, &o.len)) {
                    snprintf(errbuf, sizeof errbuf, "line %d: content is not valid base64", lineno);
                    err = errbuf;
                }
            } else if (!strcmp(key->valuestring, "lfsFile")) {
                cJSON *oid = cJSON_GetObjectItemCaseSensitive(v, "oid"), *sz = cJSON_GetObjectItemCaseSensitive(v, "size");
                cJSON *algo = cJSON_GetObjectItemCaseSensitive(v, "algo");
                o.kind = 1;
                /* huggingface_hub sends {path, algo, oid} without a size: then the stored object's */
                if (!cJSON_IsString(oid) || !is_hex(oid->valuestring, 64) || (sz && (!cJSON_IsNumber(sz) || sz->valuedouble < 0)) ||
                    (algo && (!cJSON_IsString(algo) || strcmp(algo->valuestring, "sha256"))))
                    err = "lfsFile: needs oid (sha256 hex), algo sha256 and, if given, a size";
                else {
                    memcpy(o.oid, oid->valuestring, 65);
                    o.size = sz ? (uint64_t)sz->valuedouble : UINT64_MAX;
                }
            } else if (!strcmp(key->valuestring, "deletedFile")) o.kind = 2;
            else if (!strcmp(key->valuestring, "deletedFolder")) o.kind = 3;
            else {
                snprintf(errbuf, sizeof errbuf, "line %d: unknown key \"%.40s\"", lineno, key->valuestring);
                err = errbuf;
            }
            if (!err) {
                o.path = am__strdup(p->valuestring);
                op *no = realloc(ops, (nops + 1) * sizeof *no);
                if (!no || !o.path) err = "out of memory";
                else ops = no, ops[nops++] = o, o.data = NULL, o.path = NULL;
            }
            free(o.data);
            free(o.path);
        }
        cJSON_Delete(j);
    }
    if (!err && !summary) err = "missing header line";
    if (err) {
        free(summary), free(description);
        ops_free(ops, nops);
        return send_err(c, 400, NULL, NULL, "Invalid commit payload: %s", err);
    }
    bool create_pr = arg_true(c, "create_pr"), io_failed = false;
    enum MHD_Result ret;
    pthread_mutex_lock(&s->wlock);
    char head[41];
    char *refpath = NULL;
    st_commit cur = {0}, nc = {0};
    am_status st = AM_OK;
    if (am__store_resolve_rev(r, rev, head)) {
        ret = send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
        goto out;
    }
    if (create_pr) {
        size_t nr = 0;
        char **rl = am__store_list_refs(r, &nr);
        int maxpr = 0;
        for (size_t i = 0; i < nr; i++) {
            if (!strncmp(rl[i], "refs/pr/", 8) && atoi(rl[i] + 8) > maxpr) maxpr = atoi(rl[i] + 8);
            free(rl[i]);
        }
        free(rl);
        refpath = am__strfmt("refs/pr/%d", maxpr + 1);
    } else if (!strncmp(rev, "refs/", 5)) refpath = am__strdup(rev);
    else {
        refpath = am__strfmt("refs/heads/%s", rev);
        if (refpath && !am__store_ref_exists(r, refpath)) {
            ret = send_err(c, 400, NULL, NULL, "cannot commit to \"%s\": it is not a branch", rev);
            goto out;
        }
    }
    if (parent[0] && strcmp(parent, head)) {
        ret = send_err(c, 412, NULL, NULL,
                       "A commit has happened since. Please refresh and try again. (parentCommit %s, head %s)", parent, head);
        goto out;
    }
    if ((st = am__store_load_commit(r, head, &cur))) {
        ret = send_err(c, 500, NULL, NULL, "cannot read the head commit");
        goto out;
    }
    /* the new tree: current files, then every operation in order */
    nc.files = calloc(cur.n + nops + 1, sizeof *nc.files);
    if (!nc.files) {
        ret = send_err(c, 500, NULL, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cur.n; i++) {
        nc.files[nc.n] = cur.files[i];
        nc.files[nc.n].path = am__strdup(cur.files[i].path);
        nc.files[nc.n].blob = NULL;
        nc.n++;
    }
    err = NULL;
    for (size_t k = 0; k < nops && !err; k++) {
        op *o = &ops[k];
        if (o->kind >= 2) {
            size_t pl = strlen(o->path), w = 0;
            bool hit = false;
            for (size_t i = 0; i < nc.n; i++) {
                bool del = o->kind == 2 ? !strcmp(nc.files[i].path, o->path)
                                        : !strncmp(nc.files[i].path, o->path, pl) && nc.files[i].path[pl] == '/';
                if (del) free(nc.files[i].path), hit = true;
                else nc.files[w++] = nc.files[i];
            }
            nc.n = w;
            if (!hit) {
                snprintf(errbuf, sizeof errbuf, "cannot delete %s: no such %s", o->path, o->kind == 2 ? "file" : "folder");
                err = errbuf;
            }
            continue;
        }
        st_file nf = {0};
        if (o->kind == 0) {
            if (am__store_put_object(r, o->data ? o->data : (const uint8_t *)"", o->len, nf.sha256, nf.sha1)) {
                snprintf(errbuf, sizeof errbuf, "cannot store %s: %s", o->path, am_last_error());
                err = errbuf;
                io_failed = true; /* the server's fault (disk full, I/O), not the payload's */
                break;
            }
            nf.size = o->len;
        } else {
            uint64_t have = 0;
            if (!am__store_has_object(r, o->oid, &have) || (o->size != UINT64_MAX && have != o->size)) {
                snprintf(errbuf, sizeof errbuf, "LFS object %s for %s was not uploaded (or has another size)", o->oid, o->path);
                err = errbuf;
                break;
            }
            memcpy(nf.sha256, o->oid, 65);
            nf.size = have;
            nf.lfs = true;
            if (lfs_pointer_sha1(o->oid, have, nf.sha1)) {
                snprintf(errbuf, sizeof errbuf, "%s: %s", o->path, am_last_error());
                err = errbuf;
                break;
            }
        }
        nf.path = am__strdup(o->path);
        size_t i = 0;
        for (; i < nc.n && strcmp(nc.files[i].path, o->path); i++) {
        }
        if (i < nc.n) free(nc.files[i].path), nc.files[i] = nf;
        else nc.files[nc.n++] = nf;
    }
    if (!err) {
        /* "a" as a file and "a/b" cannot both exist */
        qsort(nc.files, nc.n, sizeof *nc.files, cmp_file_path);
        for (size_t i = 0; i < nc.n && !err; i++) {
            char *pfx = am__strdup(nc.files[i].path);
            for (char *sl = pfx ? strrchr(pfx, '/') : NULL; sl && !err; sl = strrchr(pfx, '/')) {
                *sl = 0;
                st_file key = {.path = pfx};
                if (bsearch(&key, nc.files, nc.n, sizeof *nc.files, cmp_file_path)) {
                    snprintf(errbuf, sizeof errbuf, "%s is a file, so %s cannot be created", pfx, nc.files[i].path);
                    err = errbuf;
                }
            }
            free(pfx);
        }
    }
    if (err) {
        ret = io_failed ? send_err(c, 500, NULL, NULL, "%s", err) : send_err(c, 422, NULL, NULL, "Invalid commit: %s", err);
        goto out;
    }
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    memcpy(nc.parent, head, 41);
    nc.title = summary;
    nc.message = description;
    nc.author = t->user;
    nc.date = date;
    st = am__store_write_commit(r, &nc, refpath);
    nc.title = nc.message = nc.author = nc.date = NULL;
    if (st) {
        ret = send_err(c, 500, NULL, NULL, "cannot write the commit: %s", am_last_error());
        goto out;
    }
    {
        char *b = base_url(c, s);
        cJSON *o = cJSON_CreateObject();
        char *cu = am__strfmt("%s/%s%s/commit/%s", b ? b : "", prefix_of(r->type), r->id, nc.id);
        cJSON_AddStringToObject(o, "commitUrl", cu ? cu : "");
        cJSON_AddStringToObject(o, "commitOid", nc.id);
        cJSON_AddBoolToObject(o, "success", true);
        if (create_pr) {
            char *pu = am__strfmt("%s/%s%s/discussions/%s", b ? b : "", prefix_of(r->type), r->id, refpath + 8);
            cJSON_AddStringToObject(o, "pullRequestUrl", pu ? pu : "");
            free(pu);
        }
        free(cu);
        free(b);
        ret = send_json(c, 200, o, NULL);
    }
out:
    pthread_mutex_unlock(&s->wlock);
    am__store_commit_free(&cur);
    am__store_commit_free(&nc);
    free(refpath);
    free(summary), free(description);
    ops_free(ops, nops);
    return ret;
}

static enum MHD_Result branch(am_hub_server *s, struct MHD_Connection *c, const char *method, const st_repo *r,
                              const char *kind, const char *name, const req *q) {
    bool tag = !strcmp(kind, "tag");
    char *tagname = NULL;
    cJSON *j = parse_body(q);
    if (tag && !strcmp(method, "POST")) { /* POST /tag/{revision} {tag, message} */
        cJSON *tg = cJSON_GetObjectItemCaseSensitive(j, "tag");
        tagname = cJSON_IsString(tg) ? am__strdup(tg->valuestring) : NULL;
    } else tagname = am__strdup(name);
    /* ".tmp." marks the temp files of interrupted writes, which startup deletes: no ref may look like one */
    char *refpath = tagname && am__hub_valid_revision(tagname) && !strchr(tagname, '/') && !strstr(tagname, ".tmp.")
                        ? am__strfmt("refs/%s/%s", tag ? "tags" : "heads", tagname)
                        : NULL;
    enum MHD_Result ret;
    pthread_mutex_lock(&s->wlock);
    if (!refpath) ret = send_err(c, 400, NULL, NULL, "invalid %s name", kind);
    else if (!strcmp(method, "DELETE")) {
        if (!tag && !strcmp(tagname, "main")) ret = send_err(c, 403, NULL, NULL, "the default branch cannot be deleted");
        else if (am__store_delete_ref(r, refpath)) ret = send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", tagname);
        else ret = send_buf(c, 200, "application/json", "{}", 2, NULL);
    } else {
        cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "startingPoint");
        cJSON *ow = cJSON_GetObjectItemCaseSensitive(j, "overwrite");
        const char *from = tag ? name : cJSON_IsString(sp) ? sp->valuestring : "main";
        char commit[41];
        if (am__store_ref_exists(r, refpath) && !cJSON_IsTrue(ow))
            ret = send_err(c, 409, NULL, NULL, "%s %s already exists", kind, tagname);
        else if (am__store_resolve_rev(r, from, commit))
            ret = send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", from);
        else if (am__store_write_ref(r, refpath, commit)) ret = send_err(c, 500, NULL, NULL, "cannot write the ref");
        else ret = send_buf(c, 200, "application/json", "{}", 2, NULL);
    }
    pthread_mutex_unlock(&s->wlock);
    am__error_clear();
    cJSON_Delete(j);
    free(refpath);
    free(tagname);
    return ret;
}

static enum MHD_Result paths_info(struct MHD_Connection *c, const st_repo *r, const char *rev, const req *q) {
    char commit[41];
    if (am__store_resolve_rev(r, rev, commit))
        return send_err(c, 404, "RevisionNotFound", NULL, "Invalid rev id: %s", rev);
    cJSON *j = parse_body(q);
    cJSON *paths = cJSON_GetObjectItemCaseSensitive(j, "paths");
    st_commit cm;
    if (!cJSON_IsArray(paths) || am__store_load_commit(r, commit, &cm)) {
        cJSON_Delete(j);
        return send_err(c, 400, NULL, NULL, "expected {paths: [...]}");
    }
    cJSON *arr = cJSON_CreateArray(), *e;
    cJSON_ArrayForEach(e, paths) {
        if (!cJSON_IsString(e)) continue;
        const st_file *f = am__store_find(&cm, e->valuestring);
        if (!f) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "file");
        cJSON_AddStringToObject(o, "oid", f->sha1[0] ? f->sha1 : f->sha256);
        cJSON_AddNumberToObject(o, "size", (double)f->size);
        if (f->lfs) cJSON_AddItemToObject(o, "lfs", file_json_lfs(f));
        cJSON_AddStringToObject(o, "path", f->path);
        cJSON_AddItemToArray(arr, o);
    }
    am__store_commit_free(&cm);
    cJSON_Delete(j);
    return send_json(c, 200, arr, NULL);
}

/* ---- routing ---------------------------------------------------------------------------- */

/* The end of an LFS upload PUT (its bytes are on disk in its own file, hashed as they came). */
static enum MHD_Result lfs_upload_done(am_hub_server *s, struct MHD_Connection *c, req *q) {
    ticket tk = {0};
    bool have = false;
    pthread_mutex_lock(&s->tlock);
    ticket *t = ticket_find(s, q->ticket);
    if (t) tk = *t, have = true;
    pthread_mutex_unlock(&s->tlock);
    q->claimed = false;
    if (q->io_error || !have || q->too_big) {
        if (q->tmp && !tk.nparts) unlink(q->tmp);
        ticket_release(s, q->ticket, q->part, false, false, 0, false);
        if (have && q->too_big) return send_err(c, 413, NULL, NULL, "more data than announced");
        return send_err(c, 500, NULL, NULL, "the upload could not be stored");
    }
    if (tk.nparts) {
        uint64_t want = q->part < tk.nparts ? tk.chunk : tk.size - (uint64_t)(q->part - 1) * tk.chunk;
        ticket_release(s, q->ticket, q->part, false, true, q->got, false);
        if (q->got != want)
            return send_err(c, 400, NULL, NULL, "part %u: expected %llu bytes, got %llu", q->part, (unsigned long long)want,
                            (unsigned long long)q->got);
        char etag[48];
        snprintf(etag, sizeof etag, "\"%s-%u\"", q->ticket, q->part);
        const char *h[] = {"ETag", etag, NULL};
        return send_buf(c, 200, "text/plain", "", 0, h);
    }
    uint8_t dg[32];
    char hex[65];
    am_status st = am__sha256_final(&q->sha, dg);
    if (!st) {
        am__hex(dg, 32, hex);
        st = finish_object(s, &tk, q->tmp, hex, q->got); /* renames or deletes q->tmp */
    } else unlink(q->tmp);
    ticket_release(s, q->ticket, 0, false, false, 0, true); /* spent, verified or not */
    return st ? send_err(c, 400, NULL, NULL, "LFS upload rejected: %s", am_last_error())
              : send_buf(c, 200, "text/plain", "", 0, NULL);
}

/* On the header pass (q->pre), every branch either queues an answer (an error: the body is then
 * never read) or, through PRE, accepts the request with the largest body it may send; the handler
 * runs on the final pass, after the body. Authorisation is decided here, on the headers alone. */
#define PRE(limit)                                                                                                     \
    if (q->pre) {                                                                                                      \
        q->cap = (limit);                                                                                              \
        q->pre_ok = true;                                                                                              \
        ret = MHD_YES;                                                                                                 \
        goto done;                                                                                                     \
    }

static enum MHD_Result route(am_hub_server *s, struct MHD_Connection *c, const char *method, const char *url, req *q) {
    path p;
    if (!path_parse(url, &p)) {
        path_free(&p);
        return send_err(c, 400, NULL, NULL, "Invalid path");
    }
    if (!q->pre && q->body.len) {
        char why[128];
        if (!body_text_ok(q->body.data, q->body.len, why, sizeof why)) {
            path_free(&p);
            return send_err(c, 400, NULL, NULL, "Invalid request body: %s", why);
        }
    }
    enum MHD_Result ret = MHD_NO;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    const tok *t = auth(s, c);
    /* without a token, a body can only be a public read's small JSON: many anonymous connections
     * must not add up to much memory */
    uint64_t anon_json = s->max_json < ANON_MAX_JSON ? s->max_json : ANON_MAX_JSON;
    st_repo r = {0};
    char *rev = NULL, *rest = NULL;
    int i = 0;
    if (p.n == 0) {
        PRE(0);
        ret = send_buf(c, 200, "text/plain", "automodel hub\n", 14, NULL);
        goto done;
    }
    if (!strcmp(p.seg[0], "api") && p.n >= 2) {
        bool create = !strcmp(p.seg[1], "repos") && p.n == 3 && !strcmp(p.seg[2], "create") && post;
        bool del = !strcmp(p.seg[1], "repos") && p.n == 3 && !strcmp(p.seg[2], "delete") && !strcmp(method, "DELETE");
        if (!strcmp(p.seg[1], "whoami-v2") && p.n == 2 && get) {
            PRE(0);
            ret = whoami(s, c);
        } else if ((create || del) && !t) ret = send_err(c, 401, NULL, NULL, "Invalid credentials in Authorization header");
        else if (create || del) {
            PRE(s->max_json);
            ret = create ? create_repo(s, c, q) : delete_repo(s, c, q);
        } else if (type_of_plural(p.seg[1]) && p.n >= 3) {
            const char *type = type_of_plural(p.seg[1]);
            i = 2;
            if (open_repo_at(s, type, &p, &i, &r) || !can_read(&r, t)) {
                ret = repo_missing(c);
                goto done;
            }
            const char *what = i < p.n ? p.seg[i++] : "";
            bool writes = post || !strcmp(method, "DELETE") || !strcmp(method, "PUT");
            if (writes && strcmp(what, "paths-info") && !can_write(&r, t)) {
                ret = send_err(c, t ? 403 : 401, NULL, NULL, "You don't have write access to %s", r.id);
                goto done;
            }
            if (!*what && get) {
                PRE(0);
                ret = repo_info(s, c, &r, "main");
            } else if (!strcmp(what, "revision") && get && (rev = take_rev(&p, &i)) && i == p.n) {
                PRE(0);
                ret = repo_info(s, c, &r, rev);
            } else if (!strcmp(what, "tree") && get && (rev = take_rev(&p, &i))) {
                PRE(0);
                rest = i < p.n ? join_segs(&p, i, p.n) : NULL;
                ret = tree(s, c, &r, rev, rest);
            } else if (!strcmp(what, "refs") && get && i == p.n) {
                PRE(0);
                ret = refs(c, &r);
            } else if (!strcmp(what, "commits") && get && (rev = take_rev(&p, &i)) && i == p.n) {
                PRE(0);
                ret = commits(c, &r, rev);
            } else if (!strcmp(what, "preupload") && post && (rev = take_rev(&p, &i)) && i == p.n) {
                PRE(s->max_json);
                ret = preupload(s, c, &r, rev, q);
            } else if (!strcmp(what, "commit") && post && (rev = take_rev(&p, &i)) && i == p.n) {
                PRE(s->max_body);
                ret = commit(s, c, &r, t, rev, q);
            } else if (!strcmp(what, "paths-info") && post && (rev = take_rev(&p, &i)) && i == p.n) {
                PRE(t ? s->max_json : anon_json);
                ret = paths_info(c, &r, rev, q);
            } else if ((!strcmp(what, "branch") || !strcmp(what, "tag")) && (post || !strcmp(method, "DELETE")) && i < p.n) {
                PRE(s->max_json);
                rest = join_segs(&p, i, p.n);
                ret = branch(s, c, method, &r, what, rest, q);
            } else ret = send_err(c, 404, NULL, NULL, "Not found");
        } else ret = send_err(c, 404, NULL, NULL, "Not found");
        goto done;
    }
    if (!strcmp(p.seg[0], "lfs-upload") || !strcmp(p.seg[0], "lfs-complete")) {
        if (!strcmp(p.seg[0], "lfs-complete") && p.n == 2 && post) {
            if (q->pre && !ticket_exists(s, p.seg[1])) ret = send_err(c, 404, NULL, NULL, "unknown or expired upload");
            else {
                PRE(s->max_json);
                ret = lfs_complete(s, c, p.seg[1], q);
            }
        } else if (!strcmp(p.seg[0], "lfs-upload") && !strcmp(method, "PUT") && q->stream && !q->pre)
            ret = lfs_upload_done(s, c, q);
        else ret = send_err(c, 404, NULL, NULL, "unknown or expired upload");
        goto done;
    }
    /* {prefix}{repo}.git/info/lfs/objects/{batch|verify} */
    for (int k = 0; k < p.n; k++) {
        size_t l = strlen(p.seg[k]);
        if (l > 4 && !strcmp(p.seg[k] + l - 4, ".git") && k + 5 == p.n && !strcmp(p.seg[k + 1], "info") &&
            !strcmp(p.seg[k + 2], "lfs") && !strcmp(p.seg[k + 3], "objects") && post) {
            int from = 0;
            const char *type = "model";
            if (type_of_plural(p.seg[0]) && k >= 1 && strcmp(p.seg[0], "models")) type = type_of_plural(p.seg[0]), from = 1;
            p.seg[k][l - 4] = 0;
            char *id = join_segs(&p, from, k + 1);
            p.seg[k][l - 4] = '.';
            bool batch = !strcmp(p.seg[k + 4], "batch"), verify = !strcmp(p.seg[k + 4], "verify");
            if (!id || am__store_repo_open(&s->store, type, id, &r) || !can_read(&r, t)) ret = repo_missing(c);
            else if (!batch && !verify) ret = send_err(c, 404, NULL, NULL, "Not found");
            else if (q->pre) { /* uploads are refused in the batch itself; the body is small either way */
                free(id);
                PRE(t ? s->max_json : anon_json);
            } else ret = batch ? lfs_batch(s, c, &r, t, q) : lfs_verify(c, &r, q);
            free(id);
            goto done;
        }
    }
    /* {prefix}{repo}/resolve/{rev}/{path} */
    {
        int from = 0;
        const char *type = "model";
        if (p.n > 1 && type_of_plural(p.seg[0]) && strcmp(p.seg[0], "models")) type = type_of_plural(p.seg[0]), from = 1;
        int k = -1;
        if (from + 2 < p.n && !strcmp(p.seg[from + 2], "resolve")) k = from + 2;
        else if (from + 1 < p.n && !strcmp(p.seg[from + 1], "resolve")) k = from + 1;
        if (k > 0 && get) {
            char *id = join_segs(&p, from, k);
            int j = k + 1;
            if (!id || am__store_repo_open(&s->store, type, id, &r) || !can_read(&r, t)) ret = repo_missing(c);
            else if (!(rev = take_rev(&p, &j)) || j >= p.n) ret = send_err(c, 400, NULL, NULL, "expected /resolve/{revision}/{path}");
            else if (q->pre) {
                free(id);
                PRE(0);
            } else {
                rest = join_segs(&p, j, p.n);
                ret = resolve(s, c, method, &r, rev, rest);
            }
            free(id);
            goto done;
        }
    }
    ret = send_err(c, 404, NULL, NULL, "Not found");
done:
    am__error_clear();
    am__store_repo_free(&r);
    free(rev);
    free(rest);
    path_free(&p);
    return ret;
}
#undef PRE

/* First call of a PUT to /lfs-upload/: claim the ticket (or the part) and open the file to stream into. */
static enum MHD_Result start_stream(am_hub_server *s, struct MHD_Connection *c, const char *url, req *q) {
    path p;
    bool ok = path_parse(url, &p) && (p.n == 2 || p.n == 3);
    ticket tk;
    if (ok) snprintf(q->ticket, sizeof q->ticket, "%s", p.seg[1]);
    if (ok && p.n == 3) {
        char *end;
        long part = strtol(p.seg[2], &end, 10);
        ok = !*end && part >= 1 && part <= 100000;
        q->part = ok ? (uint32_t)part : 0;
    }
    path_free(&p);
    tk_claim cl = ok ? ticket_claim(s, q->ticket, q->part, false, &tk) : TK_MISSING;
    if (cl == TK_MISSING) return send_err(c, 404, NULL, NULL, "unknown or expired upload");
    if (cl == TK_BADPART) return send_err(c, 400, NULL, NULL, "wrong part number");
    if (cl == TK_BUSY) return send_err(c, 409, NULL, NULL, "an upload to this ticket is already in progress");
    q->claimed = true;
    q->off = tk.nparts ? (uint64_t)(q->part - 1) * tk.chunk : 0;
    q->limit = tk.nparts ? (q->part < tk.nparts ? tk.chunk : tk.size - q->off) : tk.size;
    const char *cl_h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl_h && strtoull(cl_h, NULL, 10) > q->limit) {
        ticket_release(s, q->ticket, q->part, false, false, 0, false);
        q->claimed = false;
        return send_err(c, 413, NULL, NULL, "the upload is larger than announced (%llu bytes)", (unsigned long long)q->limit);
    }
    char rnd[17];
    am__random_hex(rnd, 16);
    q->tmp = ticket_tmp(s, &tk, tk.nparts ? NULL : rnd);
    q->fd = q->tmp ? open(q->tmp, O_WRONLY | O_CREAT | (tk.nparts ? 0 : O_EXCL) | O_CLOEXEC, 0644) : -1;
    /* basic uploads are verified as they arrive, not re-read */
    am_status hs = q->fd >= 0 ? am__sha256_init(&q->sha) : AM_OK;
    if (q->fd < 0 || hs) {
        if (q->fd >= 0) close(q->fd), q->fd = -1;
        if (q->tmp && !tk.nparts) unlink(q->tmp);
        ticket_release(s, q->ticket, q->part, false, false, 0, false);
        q->claimed = false;
        return send_err(c, 500, NULL, NULL, "cannot store the upload%s%s", hs ? ": " : "", hs ? am_last_error() : "");
    }
    q->stream = true;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    (void)version;
    am_hub_server *s = cls;
    req *q = *con_cls;
    if (!q) { /* the headers have arrived, no body byte has been read */
        q = calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        q->fd = -1;
        *con_cls = q;
        if (!strcmp(method, "PUT") && !strncmp(url, "/lfs-upload/", 12)) {
            enum MHD_Result r = start_stream(s, c, url, q);
            if (!q->stream) q->started = true; /* a response is queued already */
            return r;
        }
        q->pre = true;
        enum MHD_Result r = route(s, c, method, url, q);
        q->pre = false;
        if (!q->pre_ok) { /* answered on the headers: the body is never read */
            q->started = true;
            return r;
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > q->cap) {
            q->started = true;
            return send_err(c, 413, NULL, NULL, "request body too large (limit %llu bytes)", (unsigned long long)q->cap);
        }
        return MHD_YES;
    }
    if (q->started) { /* answered on the headers; should more arrive anyway, drop it */
        q->dropped += *data_size;
        *data_size = 0;
        return q->dropped > OVERRUN_READ ? MHD_NO : MHD_YES;
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        if (q->too_big) { /* read a little past the limit (so a 413 can go out), then hang up */
            q->dropped += n;
            return q->dropped > OVERRUN_READ ? MHD_NO : MHD_YES;
        }
        if (q->stream) {
            if (q->got + n > q->limit) q->too_big = true;
            else if (!q->io_error) {
                size_t o = 0;
                while (o < n) {
                    ssize_t w = pwrite(q->fd, data + o, n - o, (off_t)(q->off + q->got + o));
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) {
                        q->io_error = true;
                        break;
                    }
                    o += (size_t)w;
                }
                am__sha256_update(&q->sha, data, n);
                q->got += n;
            }
        } else if (q->body.len + n > q->cap) {
            q->too_big = true;
            am__buf_free(&q->body); /* nothing of it will be used */
        } else am__buf_put(&q->body, data, n);
        return MHD_YES;
    }
    if (q->fd >= 0) {
        if (close(q->fd) != 0) q->io_error = true;
        q->fd = -1;
    }
    q->started = true;
    if (q->too_big && !q->stream)
        return send_err(c, 413, NULL, NULL, "request body too large (limit %llu bytes)", (unsigned long long)q->cap);
    if (q->body.failed) return send_err(c, 500, NULL, NULL, "out of memory");
    return route(s, c, method, url, q);
}

/* Every request ends here, answered or not: a client that hung up mid-upload leaves no temp file
 * behind (a basic attempt's own file is deleted; a multipart part's range is simply not recorded). */
static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c, (void)toe;
    am_hub_server *s = cls;
    req *q = *con_cls;
    if (!q) return;
    if (q->fd >= 0) close(q->fd);
    if (q->claimed) {
        ticket tk;
        bool multipart = false;
        pthread_mutex_lock(&s->tlock);
        ticket *t = ticket_find(s, q->ticket);
        if (t) tk = *t, multipart = tk.nparts > 0;
        pthread_mutex_unlock(&s->tlock);
        if (q->tmp && !multipart) unlink(q->tmp);
        ticket_release(s, q->ticket, q->part, false, false, 0, false);
    }
    free(q->tmp);
    am__digest_discard(&q->sha);
    am__buf_free(&q->body);
    free(q);
    *con_cls = NULL;
}

/* Keep the raw path: revisions carry %2F and must be split before decoding. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    return strlen(s);
}

am_hub_server_options am_hub_server_options_default(void) {
    am_hub_server_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.host = "127.0.0.1";
    return o;
}

am_hub_server *am_hub_server_start(const am_hub_server_options *caller) {
    am_hub_server_options o = am_hub_server_options_default();
    if (AM__OPTS_IN(o, caller, "am_hub_server_options")) return NULL;
    const am_hub_server_options *opts = &o;
    if (!opts->root) {
        am__error(AM_ERR_INVALID_ARGUMENT, "hub serve: a ROOT folder is needed");
        return NULL;
    }
    if (am__mkdirs(opts->root)) return NULL;
    am_hub_server *s = calloc(1, sizeof *s);
    if (!s) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->tlock, NULL);
    char res[PATH_MAX];
    s->store.root = realpath(opts->root, res) ? am__strdup(res) : NULL;
    if (!s->store.root) {
        am__error(AM_ERR_IO, "%s: %s", opts->root, strerror(errno));
        goto fail;
    }
    if (opts->mirror) {
        s->store.mirror = realpath(opts->mirror, res) ? am__strdup(res) : NULL;
        if (!s->store.mirror || !am__is_dir(s->store.mirror)) {
            am__error(AM_ERR_NOT_FOUND, "%s: the mirror cache folder does not exist", opts->mirror);
            goto fail;
        }
    }
    s->lockfd = -1;
    {
        char *lp = am__path_join(s->store.root, ".automodel-hub.lock");
        s->lockfd = lp ? open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
        free(lp);
        if (s->lockfd < 0) {
            am__error(AM_ERR_IO, "%s: cannot create .automodel-hub.lock: %s", opts->root, strerror(errno));
            goto fail;
        }
        if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
            am__error(AM_ERR_IO, "%s is already served by another hub server (its .automodel-hub.lock is held)", opts->root);
            goto fail;
        }
    }
    s->store.nosync = opts->no_fsync;
    /* nothing is in flight yet: whatever a crash or a killed upload left in tmp/ is garbage */
    am__store_cleanup(&s->store);
    if (opts->fsck) {
        size_t checked = 0, bad = 0;
        if (am__store_fsck(&s->store, &checked, &bad)) goto fail;
        am__log(bad ? AM_LOG_WARNING : AM_LOG_INFO, "hub serve --fsck: %zu objects checked, %zu damaged (moved to quarantine/)",
                checked, bad);
    }
    if (opts->tokens_file && load_tokens(s, opts->tokens_file)) goto fail;
    s->max_body = opts->max_body ? opts->max_body : DEF_MAX_BODY;
    s->max_json = opts->max_json_body ? opts->max_json_body : DEF_MAX_JSON;
    if (s->max_json > s->max_body) s->max_json = s->max_body;
    s->chunk = opts->multipart_chunk ? opts->multipart_chunk : (64ull << 20);
    const char *host = opts->host && *opts->host ? opts->host : "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        am__error(AM_ERR_INVALID_ARGUMENT, "hub serve: --host must be an IP address, not '%s'", host);
        goto fail;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = opts->threads > 0 ? (unsigned)opts->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
    unsigned per_ip = opts->max_connections_per_ip ? opts->max_connections_per_ip : DEF_PER_IP;
    unsigned max_conn = opts->max_connections ? opts->max_connections : DEF_MAX_CONN;
    unsigned timeout = opts->timeout_s ? opts->timeout_s : DEF_TIMEOUT;
    if (per_ip > max_conn) per_ip = max_conn;
    /* Event-driven workers (epoll): a connection that trickles its headers costs a socket and at
     * most 64 KiB (the per-connection memory limit, which also bounds the headers), never a thread;
     * one address cannot hold more than per_ip of them; a silent one is closed after `timeout`. */
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(64 * 1024), MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT,
                            max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                            (unsigned)1024, MHD_OPTION_END);
    if (!s->d) {
        am__error(AM_ERR_IO, "hub serve: cannot listen on %s:%d (in use, or not an address of this machine)", host, opts->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opts->port;
    return s;
fail:
    am_hub_server_free(s);
    return NULL;
}

int am_hub_server_port(const am_hub_server *s) { return s ? s->port : 0; }

void am_hub_server_free(am_hub_server *s) {
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    free_tokens(s);
    for (size_t i = 0; i < s->n_tickets; i++) free(s->tickets[i].part_len), free(s->tickets[i].part_busy);
    free(s->tickets);
    free(s->store.root);
    free(s->store.mirror);
    if (s->lockfd >= 0) close(s->lockfd); /* releases the flock */
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->tlock);
    free(s);
}
