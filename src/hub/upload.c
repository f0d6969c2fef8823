/* hub/upload.c — upload_folder / push_to_hub as huggingface_hub does it (spec §6): create the repo
 * (exist_ok), ask preupload which files go through LFS, push LFS objects with the batch API (basic
 * PUT or multipart), then one NDJSON commit. The commit is the only step that changes the repo,
 * so a failure anywhere before it leaves the repo as it was. */
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

am_push_options am_push_options_default(void) {
    am_push_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    return o;
}

typedef struct up_file {
    char *rel, *abs;
    uint64_t size;
    char sha256[65], sha1[41];
    char remote_oid[65]; /* what the hub has at this path ("" when nothing) */
    bool lfs, skip;
} up_file;

typedef struct up {
    am__hub_settings s;
    const char *repo_type, *tp; /* "model", "models" */
    const char *prefix;         /* "" / "datasets/" / "spaces/" */
    char *repo_id;
    const char *revision;
    up_file *f;
    size_t n;
} up;


static int cmp_file(const void *a, const void *b) { return strcmp(((const up_file *)a)->rel, ((const up_file *)b)->rel); }

static am_status walk(up *u, const char *root, const char *rel) {
    char *dirp = rel ? am__path_join(root, rel) : am__strdup(root);
    if (!dirp) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    DIR *d = opendir(dirp);
    if (!d) {
        am_status st = am__error(AM_ERR_IO, "%s: cannot open the folder: %s", dirp, strerror(errno));
        free(dirp);
        return st;
    }
    am_status st = AM_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!rel && (!strcmp(e->d_name, ".git") || !strcmp(e->d_name, ".cache"))) continue;
        char *r = rel ? am__strfmt("%s/%s", rel, e->d_name) : am__strdup(e->d_name);
        char *a = r ? am__path_join(root, r) : NULL;
        struct stat sb;
        if (!r || !a) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
        else if (stat(a, &sb) != 0) st = am__error(AM_ERR_IO, "%s: %s", a, strerror(errno));
        else if (S_ISDIR(sb.st_mode)) st = walk(u, root, r);
        else if (S_ISREG(sb.st_mode)) {
            if (!am__hub_valid_repo_path(r)) st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: not a valid file name for a repo", a);
            up_file *nf = st ? NULL : realloc(u->f, (u->n + 1) * sizeof *nf);
            if (!st && !nf) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
            if (!st) {
                u->f = nf;
                memset(&u->f[u->n], 0, sizeof u->f[u->n]);
                u->f[u->n].rel = r;
                u->f[u->n].abs = a;
                r = a = NULL;
                u->n++;
            }
        }
        free(r);
        free(a);
    }
    closedir(d);
    free(dirp);
    return st;
}

/* POST/PUT JSON and parse the JSON answer; *status gets the HTTP status. */
static am_status call(up *u, const char *method, const char *url, const char *ctype, const void *body, size_t blen,
                      int retries, long *status, cJSON **out, am__http_resp *keep) {
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    const char *hdrs[3] = {ct, NULL, NULL};
    if (ctype && strstr(ctype, "git-lfs")) hdrs[1] = "Accept: application/vnd.git-lfs+json";
    am__http_req q = am__http_req_init(method, url);
    char *o1 = am__url_origin(url), *o2 = am__url_origin(u->s.endpoint);
    q.token = o1 && o2 && !strcmp(o1, o2) ? u->s.token : NULL;
    free(o1), free(o2);
    q.headers = hdrs;
    q.body = body ? body : "";
    q.body_len = blen;
    q.timeout_s = 60;
    q.retries = retries;
    q.max_body = 64u << 20;
    am__http_resp r = {0};
    am_status st = am__http_do(&q, &r);
    if (out) *out = NULL;
    if (!st) {
        *status = r.status;
        if (out && r.body.len) *out = cJSON_ParseWithLength(r.body.data, r.body.len);
    }
    if (keep) *keep = r;
    else am__http_resp_free(&r);
    return st;
}

static const char *json_err(const cJSON *j) {
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (cJSON_IsString(e)) return e->valuestring;
    if (cJSON_IsObject(e) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")))
        return cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring;
    return "";
}

static am_status http_fail(const up *u, const char *what, long status, const cJSON *j) {
    am_status code = status == 401 || status == 403 ? AM_ERR_AUTH : status == 404 ? AM_ERR_NOT_FOUND : AM_ERR_NETWORK;
    const char *hint = status == 401 ? " (is your token valid? run `automodel login` or set HF_TOKEN)"
                       : status == 403 ? " (your token cannot write to this namespace)"
                                       : "";
    return am__error(code, "%s: %s failed: HTTP %ld%s%s%s", u->repo_id, what, status, *json_err(j) ? ": " : "",
                     json_err(j), hint);
}

static am_status create_repo(up *u, bool private_repo) {
    const char *slash = strchr(u->repo_id, '/');
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "name", slash ? slash + 1 : u->repo_id);
    if (slash) {
        char org[128];
        snprintf(org, sizeof org, "%.*s", (int)(slash - u->repo_id), u->repo_id);
        cJSON_AddStringToObject(b, "organization", org);
    } else cJSON_AddNullToObject(b, "organization");
    cJSON_AddStringToObject(b, "type", u->repo_type);
    cJSON_AddBoolToObject(b, "private", private_repo);
    cJSON_AddStringToObject(b, "visibility", private_repo ? "private" : "public");
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    char *url = NULL;
    long status = 0;
    cJSON *j = NULL;
    am_status st = body ? am__hub_url(&url, u->s.endpoint, NULL, "api/repos/create") : am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!st) st = call(u, "POST", url, NULL, body, strlen(body), 2, &status, &j, NULL);
    if (!st && status != 200 && status != 201 && status != 409) st = http_fail(u, "creating the repo", status, j);
    cJSON_Delete(j);
    free(body);
    free(url);
    return st;
}

static am_status preupload(up *u, bool create_pr) {
    char *qrev = am__hub_quote(u->revision, false), *url = NULL;
    am_status st = qrev ? am__hub_url(&url, u->s.endpoint, create_pr ? "create_pr=1" : NULL, "api/%s/%s/preupload/%s", u->tp, u->repo_id, qrev)
                        : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(qrev);
    if (st) return st;
    for (size_t base = 0; base < u->n && !st; base += 256) {
        size_t end = base + 256 < u->n ? base + 256 : u->n;
        cJSON *b = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(b, "files");
        for (size_t i = base; i < end && !st; i++) {
            uint8_t sample[512];
            ssize_t k = 0;
            int fd = open(u->f[i].abs, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) k = pread(fd, sample, sizeof sample, 0), close(fd);
            if (fd < 0 || k < 0) st = am__error(AM_ERR_IO, "%s: cannot read: %s", u->f[i].abs, strerror(errno));
            char *b64 = st ? NULL : am__base64_encode(sample, (size_t)k, NULL);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", u->f[i].rel);
            cJSON_AddStringToObject(o, "sample", b64 ? b64 : "");
            cJSON_AddNumberToObject(o, "size", (double)u->f[i].size);
            cJSON_AddItemToArray(arr, o);
            free(b64);
        }
        char *body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        long status = 0;
        cJSON *j = NULL;
        if (!st) st = body ? call(u, "POST", url, NULL, body, strlen(body), 3, &status, &j, NULL) : AM_ERR_NO_MEMORY;
        free(body);
        if (!st && status != 200) st = http_fail(u, "preupload", status, j);
        cJSON *files = j ? cJSON_GetObjectItemCaseSensitive(j, "files") : NULL;
        if (!st && !cJSON_IsArray(files)) st = am__error(AM_ERR_FORMAT, "%s: the preupload answer has no \"files\" list", u->repo_id);
        cJSON *e;
        if (!st) cJSON_ArrayForEach(e, files) {
                cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
                cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "uploadMode");
                cJSON *ig = cJSON_GetObjectItemCaseSensitive(e, "shouldIgnore");
                cJSON *oid = cJSON_GetObjectItemCaseSensitive(e, "oid");
                if (!cJSON_IsString(p)) continue;
                for (size_t i = base; i < end; i++) {
                    if (strcmp(u->f[i].rel, p->valuestring)) continue;
                    u->f[i].lfs = cJSON_IsString(m) && !strcmp(m->valuestring, "lfs") && u->f[i].size > 0;
                    if (cJSON_IsTrue(ig)) u->f[i].skip = true;
                    if (cJSON_IsString(oid)) snprintf(u->f[i].remote_oid, sizeof u->f[i].remote_oid, "%s", oid->valuestring);
                }
            }
        cJSON_Delete(j);
    }
    free(url);
    /* unchanged files are dropped: LFS ones compare by sha256, regular ones by git's blob sha1
     * (computed only now, and only for the small regular files) */
    for (size_t i = 0; i < u->n && !st; i++) {
        up_file *f = &u->f[i];
        if (f->lfs) {
            if (!strcmp(f->remote_oid, f->sha256)) f->skip = true;
        } else if (!(st = am__hash_file(f->abs, NULL, f->sha1, NULL)) && !strcmp(f->remote_oid, f->sha1))
            f->skip = true;
    }
    return st;
}

static am_status put_slice(up *u, const char *href, const cJSON *headers, const up_file *f, uint64_t off, uint64_t len,
                           char **etag_out) {
    int fd = open(f->abs, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return am__error(AM_ERR_IO, "%s: cannot open: %s", f->abs, strerror(errno));
    const char *hl[16] = {"Content-Type: application/octet-stream"};
    char *owned[16] = {0};
    int nh = 1;
    const cJSON *h;
    cJSON_ArrayForEach(h, headers) {
        /* multipart puts part URLs under numeric keys; only real header names are headers */
        if (!cJSON_IsString(h) || !h->string || nh >= 15 || (h->string[0] >= '0' && h->string[0] <= '9') ||
            !strcmp(h->string, "chunk_size") || strpbrk(h->string, "\r\n:") || strpbrk(h->valuestring, "\r\n"))
            continue;
        owned[nh] = am__strfmt("%s: %s", h->string, h->valuestring);
        hl[nh] = owned[nh];
        nh++;
    }
    hl[nh] = NULL;
    am__http_req q = am__http_req_init("PUT", href);
    q.token = NULL; /* upload URLs are presigned and carry their own authorization */
    q.headers = hl;
    q.body_fd = fd;
    q.body_offset = off;
    q.body_len = len;
    q.timeout_s = 60;
    q.retries = 5;
    q.max_body = 1 << 20;
    am__http_resp r = {0};
    am_status st = am__http_do(&q, &r);
    if (!st && (r.status < 200 || r.status >= 300))
        st = am__error(AM_ERR_NETWORK, "%s: uploading %s failed: HTTP %ld %.200s", u->repo_id, f->rel, r.status,
                       r.body.data ? r.body.data : "");
    if (!st && etag_out) {
        const char *e = am__http_resp_header(&r, "etag");
        *etag_out = am__strdup(e ? e : "");
    }
    am__http_resp_free(&r);
    close(fd);
    for (int i = 0; i < 16; i++) free(owned[i]);
    return st;
}

static am_status lfs_upload(up *u, up_file *f, const cJSON *obj) {
    const cJSON *actions = cJSON_GetObjectItemCaseSensitive(obj, "actions");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(obj, "error");
    if (err) return am__error(AM_ERR_NETWORK, "%s: the LFS server refused %s: %s", u->repo_id, f->rel, json_err(obj));
    if (!actions) return AM_OK; /* already stored */
    const cJSON *upl = cJSON_GetObjectItemCaseSensitive(actions, "upload");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(actions, "verify");
    const cJSON *href = cJSON_GetObjectItemCaseSensitive(upl, "href");
    if (!cJSON_IsString(href)) return am__error(AM_ERR_FORMAT, "%s: the LFS batch answer for %s has no upload href", u->repo_id, f->rel);
    const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(upl, "header");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(hdr, "chunk_size");
    am_status st = AM_OK;
    if (cs) {
        uint64_t chunk = cJSON_IsString(cs) ? strtoull(cs->valuestring, NULL, 10) : cJSON_IsNumber(cs) ? (uint64_t)cs->valuedouble : 0;
        if (!chunk) return am__error(AM_ERR_FORMAT, "%s: bad multipart chunk_size for %s", u->repo_id, f->rel);
        uint64_t parts = (f->size + chunk - 1) / chunk;
        cJSON *done = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(done, "parts");
        cJSON_AddStringToObject(done, "oid", f->sha256);
        for (uint64_t p = 1; p <= parts && !st; p++) {
            char key[32];
            snprintf(key, sizeof key, "%llu", (unsigned long long)p);
            const cJSON *purl = cJSON_GetObjectItemCaseSensitive(hdr, key);
            if (!cJSON_IsString(purl)) {
                st = am__error(AM_ERR_FORMAT, "%s: multipart upload of %s: part %s has no URL (expected %llu parts)",
                               u->repo_id, f->rel, key, (unsigned long long)parts);
                break;
            }
            uint64_t off = (p - 1) * chunk, len = f->size - off < chunk ? f->size - off : chunk;
            char *etag = NULL;
            st = put_slice(u, purl->valuestring, NULL, f, off, len, &etag);
            if (!st) {
                cJSON *po = cJSON_CreateObject();
                cJSON_AddNumberToObject(po, "partNumber", (double)p);
                cJSON_AddStringToObject(po, "etag", etag);
                cJSON_AddItemToArray(arr, po);
            }
            free(etag);
        }
        char *body = st ? NULL : cJSON_PrintUnformatted(done);
        cJSON_Delete(done);
        long status = 0;
        cJSON *j = NULL;
        if (!st) st = call(u, "POST", href->valuestring, "application/vnd.git-lfs+json", body, strlen(body), 5, &status, &j, NULL);
        if (!st && (status < 200 || status >= 300)) st = http_fail(u, "completing the multipart upload", status, j);
        cJSON_Delete(j);
        free(body);
    } else {
        st = put_slice(u, href->valuestring, hdr, f, 0, f->size, NULL);
    }
    const cJSON *vh = cJSON_GetObjectItemCaseSensitive(ver, "href");
    if (!st && cJSON_IsString(vh)) {
        char *body = am__strfmt("{\"oid\":\"%s\",\"size\":%llu}", f->sha256, (unsigned long long)f->size);
        long status = 0;
        cJSON *j = NULL;
        st = call(u, "POST", vh->valuestring, "application/vnd.git-lfs+json", body, strlen(body), 5, &status, &j, NULL);
        if (!st && (status < 200 || status >= 300)) st = http_fail(u, "verifying an LFS upload", status, j);
        cJSON_Delete(j);
        free(body);
    }
    return st;
}

static am_status lfs_batch(up *u) {
    char *url;
    am_status st = am__hub_url(&url, u->s.endpoint, NULL, "%s%s.git/info/lfs/objects/batch", u->prefix, u->repo_id);
    if (st) return st;
    size_t i = 0;
    while (i < u->n && !st) {
        size_t idx[256], k = 0;
        for (; i < u->n && k < 256; i++)
            if (u->f[i].lfs && !u->f[i].skip) idx[k++] = i;
        if (!k) break;
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "operation", "upload");
        cJSON *tr = cJSON_AddArrayToObject(b, "transfers");
        cJSON_AddItemToArray(tr, cJSON_CreateString("basic"));
        cJSON_AddItemToArray(tr, cJSON_CreateString("multipart"));
        cJSON *objs = cJSON_AddArrayToObject(b, "objects");
        for (size_t t = 0; t < k; t++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "oid", u->f[idx[t]].sha256);
            cJSON_AddNumberToObject(o, "size", (double)u->f[idx[t]].size);
            cJSON_AddItemToArray(objs, o);
        }
        cJSON_AddStringToObject(b, "hash_algo", "sha256");
        cJSON *ref = cJSON_AddObjectToObject(b, "ref");
        char *refname = am__strfmt("refs/heads/%s", u->revision);
        cJSON_AddStringToObject(ref, "name", refname ? refname : u->revision);
        free(refname);
        char *body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        long status = 0;
        cJSON *j = NULL;
        st = call(u, "POST", url, "application/vnd.git-lfs+json", body, strlen(body), 5, &status, &j, NULL);
        free(body);
        if (!st && status != 200) st = http_fail(u, "the LFS batch request", status, j);
        cJSON *arr = j ? cJSON_GetObjectItemCaseSensitive(j, "objects") : NULL;
        if (!st && !cJSON_IsArray(arr)) st = am__error(AM_ERR_FORMAT, "%s: the LFS batch answer has no \"objects\"", u->repo_id);
        for (size_t t = 0; t < k && !st; t++) {
            up_file *f = &u->f[idx[t]];
            const cJSON *o, *match = NULL;
            cJSON_ArrayForEach(o, arr) {
                const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "oid");
                if (cJSON_IsString(oid) && !strcmp(oid->valuestring, f->sha256)) match = o;
            }
            if (!match) st = am__error(AM_ERR_FORMAT, "%s: the LFS batch answer does not mention %s", u->repo_id, f->rel);
            else st = lfs_upload(u, f, match);
        }
        cJSON_Delete(j);
    }
    free(url);
    return st;
}

static am_status current_sha(up *u, char **out_commit) {
    char *qrev = am__hub_quote(u->revision, false), *url = NULL;
    am_status st = qrev ? am__hub_url(&url, u->s.endpoint, NULL, "api/%s/%s/revision/%s", u->tp, u->repo_id, qrev)
                        : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(qrev);
    am__http_req q = am__http_req_init("GET", url);
    q.token = u->s.token;
    q.retries = 2;
    am__http_resp r = {0};
    if (!st) st = am__http_do(&q, &r);
    cJSON *j = !st && r.status == 200 ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
    cJSON *sha = j ? cJSON_GetObjectItemCaseSensitive(j, "sha") : NULL;
    if (!st && !cJSON_IsString(sha)) st = http_fail(u, "reading the repo info", r.status, j);
    if (!st && out_commit) *out_commit = am__strdup(sha->valuestring);
    cJSON_Delete(j);
    am__http_resp_free(&r);
    free(url);
    return st;
}

static am_status commit(up *u, const am_push_options *opts, char **out_commit) {
    size_t changed = 0;
    for (size_t i = 0; i < u->n; i++) changed += !u->f[i].skip;
    if (!changed && !opts->create_pr) {
        am__log(AM_LOG_INFO, "%s: no files have been modified since the last commit; skipping the commit", u->repo_id);
        return current_sha(u, out_commit);
    }
    const char *msg = opts->commit_message && *opts->commit_message ? opts->commit_message : "Upload folder using automodel";
    am__buf b = {0};
    cJSON *h = cJSON_CreateObject(), *v = cJSON_AddObjectToObject(h, "value");
    cJSON_AddStringToObject(h, "key", "header");
    cJSON_AddStringToObject(v, "summary", msg);
    cJSON_AddStringToObject(v, "description", opts->commit_description ? opts->commit_description : "");
    if (opts->parent_commit) cJSON_AddStringToObject(v, "parentCommit", opts->parent_commit);
    char *line = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    am__buf_puts(&b, line ? line : "");
    am__buf_puts(&b, "\n");
    free(line);
    am_status st = AM_OK;
    for (size_t i = 0; i < u->n && !st; i++) {
        up_file *f = &u->f[i];
        if (f->skip) continue;
        cJSON *o = cJSON_CreateObject(), *ov = cJSON_AddObjectToObject(o, "value");
        if (f->lfs) {
            cJSON_AddStringToObject(o, "key", "lfsFile");
            cJSON_AddStringToObject(ov, "path", f->rel);
            cJSON_AddStringToObject(ov, "algo", "sha256");
            cJSON_AddStringToObject(ov, "oid", f->sha256);
            cJSON_AddNumberToObject(ov, "size", (double)f->size);
        } else {
            char *data = NULL;
            size_t n = 0;
            st = am__read_file(f->abs, &data, &n);
            char *b64 = st ? NULL : am__base64_encode(data, n, NULL);
            free(data);
            cJSON_AddStringToObject(o, "key", "file");
            cJSON_AddStringToObject(ov, "content", b64 ? b64 : "");
            cJSON_AddStringToObject(ov, "path", f->rel);
            cJSON_AddStringToObject(ov, "encoding", "base64");
            free(b64);
        }
        line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        am__buf_puts(&b, line ? line : "");
        am__buf_puts(&b, "\n");
        free(line);
    }
    char *qrev = am__hub_quote(u->revision, false), *url = NULL;
    if (!st && (b.failed || !qrev)) st = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!st) st = am__hub_url(&url, u->s.endpoint, opts->create_pr ? "create_pr=1" : NULL, "api/%s/%s/commit/%s", u->tp, u->repo_id, qrev);
    free(qrev);
    long status = 0;
    cJSON *j = NULL;
    /* not retried: a lost answer to a commit that went through would commit twice */
    if (!st) st = call(u, "POST", url, "application/x-ndjson", b.data, b.len, 0, &status, &j, NULL);
    if (!st && status != 200 && status != 201) {
        if (status == 409 || status == 412)
            st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: the commit was refused because the branch moved on (HTTP %ld: %s)",
                           u->repo_id, status, json_err(j));
        else st = http_fail(u, "the commit", status, j);
    }
    cJSON *oid = j ? cJSON_GetObjectItemCaseSensitive(j, "commitOid") : NULL;
    if (!st && !cJSON_IsString(oid)) st = am__error(AM_ERR_FORMAT, "%s: the commit answer has no commitOid", u->repo_id);
    if (!st && out_commit) *out_commit = am__strdup(oid->valuestring);
    cJSON *cu = j ? cJSON_GetObjectItemCaseSensitive(j, "commitUrl") : NULL;
    cJSON *pr = j ? cJSON_GetObjectItemCaseSensitive(j, "pullRequestUrl") : NULL;
    if (!st) am__log(AM_LOG_INFO, "%s: committed %s%s%s", u->repo_id, cJSON_IsString(cu) ? cu->valuestring : "",
                     cJSON_IsString(pr) ? " " : "", cJSON_IsString(pr) ? pr->valuestring : "");
    cJSON_Delete(j);
    free(url);
    am__buf_free(&b);
    return st;
}

/* Repo ids without a namespace go under the token's user, as the hub does. */
static am_status full_repo_id(up *u, const char *repo_id) {
    if (strchr(repo_id, '/')) {
        u->repo_id = am__strdup(repo_id);
        return u->repo_id ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    char *json = NULL;
    am_status st = am_hub_whoami(u->s.endpoint, u->s.token, &json);
    if (st) return st;
    cJSON *j = cJSON_Parse(json);
    cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    u->repo_id = cJSON_IsString(name) ? am__strfmt("%s/%s", name->valuestring, repo_id) : NULL;
    cJSON_Delete(j);
    free(json);
    return u->repo_id ? AM_OK : am__error(AM_ERR_FORMAT, "whoami gave no user name to put %s under", repo_id);
}

static am_status create_branch(up *u) {
    char *qb = am__hub_quote(u->revision, false), *url = NULL;
    long status = 0;
    cJSON *j = NULL;
    am_status st = qb ? am__hub_url(&url, u->s.endpoint, NULL, "api/%s/%s/branch/%s", u->tp, u->repo_id, qb)
                      : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(qb);
    if (!st) st = call(u, "POST", url, NULL, "{}", 2, 2, &status, &j, NULL);
    if (!st && status != 200 && status != 409) st = http_fail(u, "creating the branch", status, j);
    cJSON_Delete(j);
    free(url);
    return st;
}

am_status am_hub_upload_folder_commit(const char *dir, const char *repo_id, const am_push_options *opts, char **out_commit) {
    if (out_commit) *out_commit = NULL;
    am_push_options def = am_push_options_default();
    am_status ost = AM__OPTS_IN(def, opts, "am_push_options");
    if (ost) return ost;
    opts = &def;
    if (!dir || !repo_id) return am__error(AM_ERR_INVALID_ARGUMENT, "upload: NULL folder or repo id");
    char why[256];
    if (!am__hub_valid_repo_id(repo_id, why, sizeof why)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s", why);
    if (!am__is_dir(dir)) return am__error(AM_ERR_NOT_FOUND, "%s: not a folder", dir);
    up u;
    memset(&u, 0, sizeof u);
    u.repo_type = opts->repo_type ? opts->repo_type : "model";
    u.tp = !strcmp(u.repo_type, "dataset") ? "datasets" : !strcmp(u.repo_type, "space") ? "spaces" : "models";
    u.prefix = !strcmp(u.repo_type, "dataset") ? "datasets/" : !strcmp(u.repo_type, "space") ? "spaces/" : "";
    u.revision = opts->revision && *opts->revision ? opts->revision : "main";
    if (!am__hub_valid_revision(u.revision))
        return am__error(AM_ERR_INVALID_ARGUMENT, "revision '%s' is not a valid branch name", u.revision);
    am__hub_opts ho = am__hub_opts_default();
    ho.endpoint = opts->endpoint;
    ho.token = opts->token;
    am_status st = am__hub_settings_load(&u.s, &ho);
    if (st) return st;
    if (!u.s.token) {
        st = am__error(AM_ERR_AUTH, "%s: pushing needs a token with write access: run `automodel login` or set HF_TOKEN",
                       repo_id);
        goto out;
    }
    if ((st = full_repo_id(&u, repo_id))) goto out;
    if ((st = walk(&u, dir, NULL))) goto out;
    qsort(u.f, u.n, sizeof *u.f, cmp_file);
    for (size_t i = 0; i < u.n && !st; i++) st = am__hash_file(u.f[i].abs, u.f[i].sha256, NULL, &u.f[i].size);
    if (st) goto out;
    if ((st = create_repo(&u, opts->private_repo))) goto out;
    if (strcmp(u.revision, "main") && strncmp(u.revision, "refs/pr/", 8) && (st = create_branch(&u))) goto out;
    if ((st = preupload(&u, opts->create_pr))) goto out;
    if ((st = lfs_batch(&u))) goto out;
    st = commit(&u, opts, out_commit);
out:
    for (size_t i = 0; i < u.n; i++) free(u.f[i].rel), free(u.f[i].abs);
    free(u.f);
    free(u.repo_id);
    am__hub_settings_free(&u.s);
    return st;
}

am_status am__hub_upload_folder(const char *dir, const char *repo_id, const am_push_options *opts) {
    return am_hub_upload_folder_commit(dir, repo_id, opts, NULL);
}

am_status am_hub_upload_folder(const char *dir, const char *repo_id, const am_push_options *opts) {
    return am_hub_upload_folder_commit(dir, repo_id, opts, NULL);
}
