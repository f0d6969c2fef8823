/* hub/store.c — the server's on-disk repositories. Layout under ROOT:
 *   {type}s--{ns}--{name}/repo.json              owner, visibility
 *   {type}s--{ns}--{name}/objects/{sha256}       file contents, content-addressed, immutable
 *   {type}s--{ns}--{name}/commits/{id}.json      {parent, title, message, author, date, files{path: {...}}}
 *   {type}s--{ns}--{name}/refs/heads|tags|pr/... commit ids, replaced by rename only
 *   {type}s--{ns}--{name}/tmp/                   uploads in progress
 * Every name used on disk is either a validated repo id, a validated ref name, or a hex digest, so
 * nothing outside ROOT can be reached. Mirror repos are HF cache folders, read through realpath. */
#include "hub/store.h"
#include "core/error.h"
#include "core/log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static bool is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[n] == 0;
}

/* fsync the folder holding `path`, so a rename or unlink into it survives a power loss. */
am_status am__store_sync_parent(const char *path, bool nosync) {
    if (nosync) return AM_OK;
    char *d = am__strdup(path);
    if (!d) return AM_ERR_NO_MEMORY;
    char *sl = strrchr(d, '/');
    if (sl) *sl = 0;
    int fd = open(sl ? (*d ? d : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    am_status st = fd >= 0 && fsync(fd) == 0 ? AM_OK : am__error(AM_ERR_IO, "%s: cannot sync the folder: %s", d, strerror(errno));
    if (fd >= 0) close(fd);
    free(d);
    return st;
}

/* Write `path` whole or not at all: a private temp file (unique per call, so concurrent writers
 * never share one), fsync'd, renamed over `path`, then the folder fsync'd. After AM_OK the bytes
 * survive a crash and a power loss (unless nosync, for throwaway stores). */
static am_status durable_write(const char *path, const void *data, size_t n, bool nosync) {
    char rnd[17];
    am__random_hex(rnd, 16);
    char *tmp = am__strfmt("%s.tmp.%d.%s", path, (int)getpid(), rnd);
    if (!tmp) return AM_ERR_NO_MEMORY;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        am_status st = am__error(AM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t off = 0;
    bool ok = true;
    while (ok && off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) off += (size_t)w;
    }
    if (ok && !nosync) ok = fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        am_status st = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return am__store_sync_parent(path, nosync);
}

void am__store_commit_free(st_commit *c) {
    for (size_t i = 0; i < c->n; i++) free(c->files[i].path), free(c->files[i].blob);
    free(c->files);
    free(c->title), free(c->message), free(c->author), free(c->date);
    memset(c, 0, sizeof *c);
}

void am__store_repo_free(st_repo *r) {
    free(r->dir);
    memset(r, 0, sizeof *r);
}

/* Inside `root` after resolving every symlink? (mirror reads only) */
static bool inside(const char *root, const char *path, char *resolved) {
    if (!realpath(path, resolved)) return false;
    size_t n = strlen(root);
    return !strncmp(resolved, root, n) && (resolved[n] == '/' || resolved[n] == 0);
}

am_status am__store_repo_open(const st_store *s, const char *type, const char *id, st_repo *out) {
    memset(out, 0, sizeof *out);
    if (!am__hub_valid_repo_id(id, NULL, 0)) return am__error(AM_ERR_NOT_FOUND, "invalid repo id");
    char *folder = am__hub_repo_folder(type, id);
    char *dir = folder ? am__path_join(s->root, folder) : NULL;
    char *meta = dir ? am__path_join(dir, "repo.json") : NULL;
    am_status st = AM_ERR_NOT_FOUND;
    if (meta && am__is_file(meta)) {
        char *text = NULL;
        size_t n;
        if (am__read_file(meta, &text, &n) == AM_OK) {
            cJSON *j = cJSON_ParseWithLength(text, n);
            cJSON *owner = cJSON_GetObjectItemCaseSensitive(j, "owner");
            out->private_ = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "private"));
            snprintf(out->owner, sizeof out->owner, "%s", cJSON_IsString(owner) ? owner->valuestring : "");
            cJSON_Delete(j);
            st = AM_OK;
        }
        free(text);
        out->dir = dir;
        dir = NULL;
    } else if (s->mirror && folder) {
        char *md = am__path_join(s->mirror, folder);
        char res[PATH_MAX];
        if (md && am__is_dir(md) && inside(s->mirror, md, res)) {
            out->dir = am__strdup(res);
            out->mirror = true;
            st = out->dir ? AM_OK : AM_ERR_NO_MEMORY;
        }
        free(md);
    }
    if (st == AM_OK) {
        out->nosync = s->nosync;
        snprintf(out->id, sizeof out->id, "%s", id);
        snprintf(out->type, sizeof out->type, "%s", type);
        if (!out->owner[0]) {
            const char *sl = strchr(id, '/');
            snprintf(out->owner, sizeof out->owner, "%.*s", sl ? (int)(sl - id) : 0, id);
        }
    } else {
        free(out->dir);
        out->dir = NULL;
    }
    free(folder);
    free(dir);
    free(meta);
    if (st == AM_ERR_NOT_FOUND) return am__error(AM_ERR_NOT_FOUND, "Repository not found");
    return st;
}

static char *read_trim(const char *path) {
    char *t = NULL;
    size_t n;
    if (!am__is_file(path) || am__read_file(path, &t, &n) != AM_OK) {
        am__error_clear();
        return NULL;
    }
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ')) t[--n] = 0;
    return t;
}

am_status am__store_resolve_rev(const st_repo *r, const char *rev, char out[41]) {
    if (rev && !strcmp(rev, "HEAD")) rev = "main"; /* the default branch, as the hub reads it */
    if (!am__hub_valid_revision(rev)) return am__error(AM_ERR_NOT_FOUND, "Invalid rev id: %s", rev);
    char *cands[4] = {0};
    int nc = 0;
    if (!strncmp(rev, "refs/", 5)) cands[nc++] = am__strfmt("%s/%s", r->dir, rev);
    else {
        cands[nc++] = am__strfmt("%s/refs/heads/%s", r->dir, rev);
        cands[nc++] = am__strfmt("%s/refs/tags/%s", r->dir, rev);
        if (r->mirror) cands[nc++] = am__strfmt("%s/refs/%s", r->dir, rev);
    }
    if (r->mirror && !strncmp(rev, "refs/", 5) && !strncmp(rev, "refs/heads/", 11)) cands[nc++] = am__strfmt("%s/refs/%s", r->dir, rev + 11);
    am_status st = AM_ERR_NOT_FOUND;
    for (int i = 0; i < nc && st; i++) {
        char *c = cands[i] ? read_trim(cands[i]) : NULL;
        if (c && am__hub_is_commit(c)) {
            memcpy(out, c, 41);
            st = AM_OK;
        }
        free(c);
    }
    for (int i = 0; i < nc; i++) free(cands[i]);
    if (st && am__hub_is_commit(rev)) {
        char *p = r->mirror ? am__strfmt("%s/snapshots/%s", r->dir, rev) : am__strfmt("%s/commits/%s.json", r->dir, rev);
        if (p && (r->mirror ? am__is_dir(p) : am__is_file(p))) {
            memcpy(out, rev, 41);
            st = AM_OK;
        }
        free(p);
    }
    if (st) return am__error(AM_ERR_NOT_FOUND, "Invalid rev id: %s", rev);
    return AM_OK;
}

static int cmp_files(const void *a, const void *b) { return strcmp(((const st_file *)a)->path, ((const st_file *)b)->path); }

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Mirror: walk snapshots/{commit}; every entry must resolve inside the cache folder. */
static am_status walk_snapshot(const st_repo *r, const char *base, const char *rel, st_commit *c) {
    char *dirp = rel ? am__strfmt("%s/%s", base, rel) : am__strdup(base);
    DIR *d = dirp ? opendir(dirp) : NULL;
    if (!d) {
        free(dirp);
        return am__error(AM_ERR_IO, "cannot read snapshot");
    }
    am_status st = AM_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        char *r2 = rel ? am__strfmt("%s/%s", rel, e->d_name) : am__strdup(e->d_name);
        char *abs = r2 ? am__strfmt("%s/%s", base, r2) : NULL;
        char res[PATH_MAX];
        struct stat sb;
        if (!abs || !am__hub_valid_repo_path(r2) || !inside(r->dir, abs, res) || stat(res, &sb) != 0) {
            free(r2), free(abs);
            continue; /* dangling or escaping links are not served */
        }
        if (S_ISDIR(sb.st_mode)) st = walk_snapshot(r, base, r2, c);
        else if (S_ISREG(sb.st_mode)) {
            st_file *nf = realloc(c->files, (c->n + 1) * sizeof *nf);
            if (!nf) st = AM_ERR_NO_MEMORY;
            else {
                c->files = nf;
                st_file *f = &c->files[c->n++];
                memset(f, 0, sizeof *f);
                f->path = r2;
                r2 = NULL;
                f->blob = am__strdup(res);
                f->size = (uint64_t)sb.st_size;
                const char *bn = strrchr(res, '/');
                bn = bn ? bn + 1 : res;
                if (strlen(bn) == 64 && is_hex(bn, 64)) memcpy(f->sha256, bn, 65), f->lfs = true;
                else if (strlen(bn) == 40 && is_hex(bn, 40)) memcpy(f->sha1, bn, 41);
                else am__hash_file(res, NULL, f->sha1, NULL);
            }
        }
        free(r2), free(abs);
    }
    closedir(d);
    free(dirp);
    return st;
}

am_status am__store_load_commit(const st_repo *r, const char *commit, st_commit *c) {
    memset(c, 0, sizeof *c);
    if (!am__hub_is_commit(commit)) return am__error(AM_ERR_NOT_FOUND, "Invalid rev id: %s", commit);
    memcpy(c->id, commit, 41);
    if (r->mirror) {
        char *base = am__strfmt("%s/snapshots/%s", r->dir, commit);
        am_status st = base ? walk_snapshot(r, base, NULL, c) : AM_ERR_NO_MEMORY;
        free(base);
        if (st) {
            am__store_commit_free(c);
            return st;
        }
        qsort(c->files, c->n, sizeof *c->files, cmp_files);
        c->title = am__strdup("(mirror)");
        return AM_OK;
    }
    char *p = am__strfmt("%s/commits/%s.json", r->dir, commit);
    char *text = NULL;
    size_t n;
    am_status st = p ? am__read_file(p, &text, &n) : AM_ERR_NO_MEMORY;
    free(p);
    if (st) return st;
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    if (!cJSON_IsObject(files)) {
        cJSON_Delete(j);
        return am__error(AM_ERR_FORMAT, "commit %s is damaged", commit);
    }
    const char *par = jstr(j, "parent");
    if (par && am__hub_is_commit(par)) memcpy(c->parent, par, 41);
    c->title = am__strdup(jstr(j, "title") ? jstr(j, "title") : "");
    c->message = am__strdup(jstr(j, "message") ? jstr(j, "message") : "");
    c->author = am__strdup(jstr(j, "author") ? jstr(j, "author") : "");
    c->date = am__strdup(jstr(j, "date") ? jstr(j, "date") : "");
    int cnt = cJSON_GetArraySize(files);
    c->files = calloc((size_t)cnt + 1, sizeof *c->files);
    const cJSON *e;
    cJSON_ArrayForEach(e, files) {
        if (!c->files) break;
        st_file *f = &c->files[c->n];
        const char *oid = jstr(e, "sha256"), *sha1 = jstr(e, "sha1");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
        if (!oid || strlen(oid) != 64 || !is_hex(oid, 64) || !cJSON_IsNumber(sz)) continue;
        f->path = am__strdup(e->string);
        memcpy(f->sha256, oid, 65);
        if (sha1 && strlen(sha1) == 40) memcpy(f->sha1, sha1, 41);
        f->size = (uint64_t)sz->valuedouble;
        f->lfs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "lfs"));
        f->blob = am__strfmt("%s/objects/%s", r->dir, oid);
        c->n++;
    }
    cJSON_Delete(j);
    qsort(c->files, c->n, sizeof *c->files, cmp_files);
    return AM_OK;
}

const st_file *am__store_find(const st_commit *c, const char *path) {
    st_file key = {.path = (char *)path};
    return bsearch(&key, c->files, c->n, sizeof *c->files, cmp_files);
}

const char *am__store_etag(const st_file *f) { return f->lfs || !f->sha1[0] ? f->sha256 : f->sha1; }

char *am__store_object_path(const st_repo *r, const char *sha256) { return am__strfmt("%s/objects/%s", r->dir, sha256); }
char *am__store_tmp_path(const st_repo *r, const char *name) { return am__strfmt("%s/tmp/%s", r->dir, name); }

bool am__store_has_object(const st_repo *r, const char *sha256, uint64_t *size) {
    if (strlen(sha256) != 64 || !is_hex(sha256, 64)) return false;
    char *p = am__store_object_path(r, sha256);
    struct stat sb;
    bool ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
    if (ok && size) *size = (uint64_t)sb.st_size;
    free(p);
    return ok;
}

am_status am__store_put_object(const st_repo *r, const void *data, size_t n, char sha256[65], char sha1[41]) {
    am_status st = am__sha256_hex(data, n, sha256);
    if (!st) st = am__sha1_hex(data, n, true, sha1);
    if (st) return st;
    if (am__store_has_object(r, sha256, NULL)) return AM_OK;
    char *p = am__store_object_path(r, sha256);
    st = p ? durable_write(p, data, n, r->nosync) : AM_ERR_NO_MEMORY;
    free(p);
    return st;
}

am_status am__store_write_ref(const st_repo *r, const char *refpath, const char *commit) {
    if (!am__hub_valid_revision(refpath) || strncmp(refpath, "refs/", 5))
        return am__error(AM_ERR_INVALID_ARGUMENT, "invalid ref name %s", refpath);
    char *p = am__strfmt("%s/%s", r->dir, refpath);
    if (!p) return AM_ERR_NO_MEMORY;
    char *d = am__strdup(p);
    *strrchr(d, '/') = 0;
    am_status st = am__mkdirs(d);
    if (!st) st = durable_write(p, commit, strlen(commit), r->nosync);
    free(d);
    free(p);
    return st;
}

bool am__store_ref_exists(const st_repo *r, const char *refpath) {
    if (!am__hub_valid_revision(refpath)) return false;
    char *p = am__strfmt("%s/%s", r->dir, refpath);
    bool ok = p && am__is_file(p);
    free(p);
    return ok;
}

am_status am__store_delete_ref(const st_repo *r, const char *refpath) {
    if (!am__hub_valid_revision(refpath) || strncmp(refpath, "refs/", 5)) return am__error(AM_ERR_INVALID_ARGUMENT, "invalid ref");
    char *p = am__strfmt("%s/%s", r->dir, refpath);
    am_status st = p && unlink(p) == 0 ? AM_OK : am__error(AM_ERR_NOT_FOUND, "ref %s not found", refpath);
    if (!st) st = am__store_sync_parent(p, r->nosync);
    free(p);
    return st;
}

am_status am__store_write_commit(const st_repo *r, st_commit *c, const char *refpath) {
    cJSON *j = cJSON_CreateObject();
    if (c->parent[0]) cJSON_AddStringToObject(j, "parent", c->parent);
    else cJSON_AddNullToObject(j, "parent");
    cJSON_AddStringToObject(j, "title", c->title ? c->title : "");
    cJSON_AddStringToObject(j, "message", c->message ? c->message : "");
    cJSON_AddStringToObject(j, "author", c->author ? c->author : "");
    cJSON_AddStringToObject(j, "date", c->date ? c->date : "");
    char nonce[17];
    am__random_hex(nonce, 16);
    cJSON_AddStringToObject(j, "nonce", nonce);
    cJSON *files = cJSON_AddObjectToObject(j, "files");
    for (size_t i = 0; i < c->n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "sha256", c->files[i].sha256);
        cJSON_AddStringToObject(f, "sha1", c->files[i].sha1);
        cJSON_AddNumberToObject(f, "size", (double)c->files[i].size);
        cJSON_AddBoolToObject(f, "lfs", c->files[i].lfs);
        cJSON_AddItemToObject(files, c->files[i].path, f);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_status st = am__sha1_hex(text, strlen(text), false, c->id);
    char *p = st ? NULL : am__strfmt("%s/commits/%s.json", r->dir, c->id);
    if (!st) st = p ? durable_write(p, text, strlen(text), r->nosync) : AM_ERR_NO_MEMORY;
    free(p);
    free(text);
    if (!st && refpath) st = am__store_write_ref(r, refpath, c->id);
    return st;
}

am_status am__store_repo_create(const st_store *s, const char *type, const char *id, bool private_, const char *author) {
    char *folder = am__hub_repo_folder(type, id);
    char *dir = folder ? am__path_join(s->root, folder) : NULL;
    free(folder);
    if (!dir) return AM_ERR_NO_MEMORY;
    char *sub[4] = {am__path_join(dir, "objects"), am__path_join(dir, "commits"), am__path_join(dir, "refs/heads"),
                    am__path_join(dir, "tmp")};
    am_status st = AM_OK;
    for (int i = 0; i < 4; i++) {
        if (!st) st = sub[i] ? am__mkdirs(sub[i]) : AM_ERR_NO_MEMORY;
        free(sub[i]);
    }
    st_repo r = {0};
    r.dir = dir;
    r.nosync = s->nosync;
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "%s", type);
    /* the hub starts every repo with a .gitattributes commit, so `main` always exists */
    static const char ga[] =
        "*.7z filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
        "*.ckpt filter=lfs diff=lfs merge=lfs -text\n*.gguf filter=lfs diff=lfs merge=lfs -text\n"
        "*.h5 filter=lfs diff=lfs merge=lfs -text\n*.model filter=lfs diff=lfs merge=lfs -text\n"
        "*.msgpack filter=lfs diff=lfs merge=lfs -text\n*.npy filter=lfs diff=lfs merge=lfs -text\n"
        "*.onnx filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n"
        "*.pth filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
        "*.zip filter=lfs diff=lfs merge=lfs -text\n";
    st_commit c = {0};
    st_file f = {0};
    if (!st) st = am__store_put_object(&r, ga, sizeof ga - 1, f.sha256, f.sha1);
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    if (!st) {
        f.path = ".gitattributes";
        f.size = sizeof ga - 1;
        c.files = &f;
        c.n = 1;
        c.title = "initial commit";
        c.message = "";
        c.author = (char *)author;
        c.date = date;
        st = am__store_write_commit(&r, &c, "refs/heads/main");
    }
    /* repo.json last: until it exists the repo does not exist */
    if (!st) {
        cJSON *j = cJSON_CreateObject();
        const char *sl = strchr(id, '/');
        char owner[100];
        snprintf(owner, sizeof owner, "%.*s", sl ? (int)(sl - id) : 0, id);
        cJSON_AddStringToObject(j, "id", id);
        cJSON_AddStringToObject(j, "type", type);
        cJSON_AddStringToObject(j, "owner", owner);
        cJSON_AddBoolToObject(j, "private", private_);
        cJSON_AddStringToObject(j, "createdAt", date);
        char *text = cJSON_Print(j);
        cJSON_Delete(j);
        char *p = am__path_join(dir, "repo.json");
        st = text && p ? durable_write(p, text, strlen(text), s->nosync) : AM_ERR_NO_MEMORY;
        /* the repo folder itself must be durable in ROOT */
        if (!st) st = am__store_sync_parent(dir, s->nosync);
        free(text);
        free(p);
    }
    free(dir);
    return st;
}

static void add_refs(const char *base, const char *rel, char ***v, size_t *n) {
    char *p = am__strfmt("%s/%s", base, rel);
    DIR *d = p ? opendir(p) : NULL;
    free(p);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *r = am__strfmt("%s/%s", rel, e->d_name);
        char *abs = r ? am__strfmt("%s/%s", base, r) : NULL;
        if (abs && am__is_dir(abs)) add_refs(base, r, v, n);
        else if (abs && am__is_file(abs) && !strstr(e->d_name, ".tmp.")) {
            char **nv = realloc(*v, (*n + 1) * sizeof *nv);
            if (nv) {
                *v = nv;
                nv[(*n)++] = r;
                r = NULL;
            }
        }
        free(r);
        free(abs);
    }
    closedir(d);
}

char **am__store_list_refs(const st_repo *r, size_t *n) {
    char **v = NULL;
    *n = 0;
    add_refs(r->dir, "refs", &v, n);
    return v;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

am_status am__store_repo_delete(const st_repo *r) {
    if (r->mirror) return am__error(AM_ERR_UNSUPPORTED, "mirror repos are read-only");
    /* remove repo.json first: the repo stops existing at once, even if the rest fails */
    char *meta = am__path_join(r->dir, "repo.json");
    if (!meta || unlink(meta) != 0) {
        free(meta);
        return am__error(AM_ERR_IO, "cannot delete the repo");
    }
    am__store_sync_parent(meta, r->nosync); /* the deletion is durable once answered */
    free(meta);
    nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return AM_OK;
}

/* Call fn(repo_dir) for every folder directly under ROOT (symlinks are not followed). */
static void each_repo_dir(const st_store *s, void (*fn)(const char *dir, void *ctx), void *ctx) {
    DIR *d = opendir(s->root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = am__path_join(s->root, e->d_name);
        struct stat sb;
        if (p && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) fn(p, ctx);
        free(p);
    }
    closedir(d);
}

/* Remove the regular files in `dir` (recursing when `deep`) whose name contains `needle` (NULL: all). */
static size_t remove_files(const char *dir, const char *needle, bool deep) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = am__path_join(dir, e->d_name);
        struct stat sb;
        if (p && lstat(p, &sb) == 0) {
            if (S_ISDIR(sb.st_mode) && deep) n += remove_files(p, needle, true);
            else if (!S_ISDIR(sb.st_mode) && (!needle || strstr(e->d_name, needle)) && unlink(p) == 0) n++;
        }
        free(p);
    }
    closedir(d);
    return n;
}

static void cleanup_repo(const char *dir, void *ctx) {
    size_t *n = ctx;
    char *sub[3] = {am__path_join(dir, "tmp"), am__path_join(dir, "objects"), am__path_join(dir, "commits")};
    if (sub[0]) *n += remove_files(sub[0], NULL, false);
    for (int i = 1; i < 3; i++)
        if (sub[i]) *n += remove_files(sub[i], ".tmp.", false);
    *n += remove_files(dir, ".tmp.", false);
    char *refs = am__path_join(dir, "refs");
    if (refs) *n += remove_files(refs, ".tmp.", true);
    free(refs);
    for (int i = 0; i < 3; i++) free(sub[i]);
}

size_t am__store_cleanup(const st_store *s) {
    size_t n = 0;
    each_repo_dir(s, cleanup_repo, &n);
    if (n) am__log(AM_LOG_INFO, "hub serve: removed %zu temporary files left by interrupted uploads or writes", n);
    return n;
}

typedef struct fsck_ctx {
    size_t checked, bad;
    am_status st;
} fsck_ctx;

static void fsck_repo(const char *dir, void *ctx) {
    fsck_ctx *f = ctx;
    char *od = am__path_join(dir, "objects");
    DIR *d = od ? opendir(od) : NULL;
    while (d) {
        struct dirent *e = readdir(d);
        if (!e) break;
        if (strlen(e->d_name) != 64 || !is_hex(e->d_name, 64)) continue;
        char *p = am__path_join(od, e->d_name);
        char got[65] = "(unreadable)";
        struct stat sb;
        if (!p || lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(p);
            continue;
        }
        f->checked++;
        if (am__hash_file(p, got, NULL, NULL) != AM_OK || strcmp(got, e->d_name)) {
            am__error_clear();
            f->bad++;
            char rnd[9];
            am__random_hex(rnd, 8);
            char *qd = am__path_join(dir, "quarantine");
            char *q = qd ? am__strfmt("%s/%s.%s", qd, e->d_name, rnd) : NULL;
            if (q && am__mkdirs(qd) == AM_OK && rename(p, q) == 0) {
                am__store_sync_parent(p, false);
                am__log(AM_LOG_WARNING, "hub serve --fsck: %s does not hash to its name (it hashes to %s); moved to %s", p,
                        got, q);
            } else if (!f->st)
                f->st = am__error(AM_ERR_IO, "hub serve --fsck: %s is damaged and cannot be moved aside: %s", p, strerror(errno));
            free(qd);
            free(q);
        }
        free(p);
    }
    if (d) closedir(d);
    free(od);
}

am_status am__store_fsck(const st_store *s, size_t *checked, size_t *bad) {
    fsck_ctx f = {0};
    each_repo_dir(s, fsck_repo, &f);
    if (checked) *checked = f.checked;
    if (bad) *bad = f.bad;
    return f.st;
}
