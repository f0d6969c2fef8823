/* hub/resolve.c — what from_pretrained asks of the hub: local folder or repo id, then config.json,
 * the weights in transformers' preference order (every shard of an index), and the optional
 * companions, all pinned to one commit so the snapshot folder is consistent. Also the public
 * download/login wrappers over the hub layer. */
#include "core/error.h"
#include "core/log.h"
#include "hub/hub.h"
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rs {
    const char *id;
    am__hub_opts o;   /* revision becomes the commit after the first file */
    char *commit;
    char *snap_dir;   /* snapshot folder + subfolder */
    bool unreachable; /* the endpoint stayed down for a whole retry budget (am__hub_opts.unreachable) */
} rs;

/* AM_OK: present; AM_ERR_NOT_FOUND: absent (only when optional); anything else: fatal. */
static am_status fetch(rs *r, const char *name, bool optional, char **path_out) {
    char *path = NULL, *commit = NULL;
    am_status st = am__hub_download_file(r->id, name, &r->o, optional, &path, &commit);
    if (st) return st;
    if (!r->commit && commit) {
        r->commit = commit;
        commit = NULL;
        r->o.revision = r->commit;
        /* the folder holding `name`, minus name's own directories */
        size_t pl = strlen(path), nl = strlen(name);
        if (pl > nl && !strcmp(path + pl - nl, name)) {
            r->snap_dir = malloc(pl - nl);
            if (r->snap_dir) memcpy(r->snap_dir, path, pl - nl - 1), r->snap_dir[pl - nl - 1] = 0;
            else {
                free(path);
                return am__error(AM_ERR_NO_MEMORY, "out of memory");
            }
        }
    }
    free(commit);
    if (path_out) *path_out = path;
    else free(path);
    return AM_OK;
}

/* An index file's weight_map values: the shard set, each validated as a repo path. */
static am_status shards_of(const char *index_path, const char *index_name, char ***out, size_t *n_out) {
    char *text = NULL;
    size_t len = 0;
    am_status st = am__read_file(index_path, &text, &len);
    if (st) return st;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *wm = j ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(j);
        return am__error(AM_ERR_FORMAT, "%s: not a sharded checkpoint index (no \"weight_map\" object)", index_name);
    }
    char **v = NULL;
    size_t n = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !am__hub_valid_repo_path(e->valuestring)) {
            st = am__error(AM_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a valid file name", index_name,
                           e->string ? e->string : "?");
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) dup = !strcmp(v[i], e->valuestring);
        if (dup) continue;
        char **nv = realloc(v, (n + 1) * sizeof *nv);
        if (!nv || !(nv[n] = strdup(e->valuestring))) {
            if (nv) v = nv;
            st = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        v = nv;
        n++;
    }
    cJSON_Delete(j);
    if (st) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return st;
    }
    *out = v;
    *n_out = n;
    return AM_OK;
}

static am_status fetch_weights(rs *r) {
    static const char *const names[4] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                         "pytorch_model.bin.index.json"};
    for (int i = r->o.use_safetensors ? 0 : 2; i < 4; i++) {
        char *path = NULL;
        am_status st = fetch(r, names[i], true, &path);
        if (st == AM_ERR_NOT_FOUND) continue;
        if (st) return st;
        if (i == 1 || i == 3) {
            char **shards = NULL;
            size_t n = 0;
            st = shards_of(path, names[i], &shards, &n);
            for (size_t k = 0; k < n; k++) {
                if (!st) {
                    st = fetch(r, shards[k], false, NULL);
                    if (st) am__error_prefix("%s lists shard %s, which could not be fetched", names[i], shards[k]);
                }
                free(shards[k]);
            }
            free(shards);
        }
        free(path);
        return st;
    }
    am__hub_settings s;
    bool offline = false;
    if (am__hub_settings_load(&s, &r->o) == AM_OK) {
        offline = s.offline;
        if (offline)
            am__error(AM_ERR_NETWORK,
                      "We couldn't connect to '%s' to load the files, and couldn't find them in the cached files.\n"
                      "Check your internet connection or see how to run the library in offline mode at "
                      "'https://huggingface.co/docs/transformers/installation#offline-mode'.",
                      s.endpoint);
        am__hub_settings_free(&s);
    }
    if (offline) return AM_ERR_NETWORK;
    return am__error(AM_ERR_NOT_FOUND, "%s does not appear to have a file named %s%s%s%s.", r->id,
                     r->o.use_safetensors ? "model.safetensors, model.safetensors.index.json, " : "",
                     "pytorch_model.bin", ", ", "pytorch_model.bin.index.json");
}

am_status am__hub_resolve(const char *model_id_or_dir, const am__hub_opts *opts, unsigned flags,
                          const char *const *extra_required, const char *const *extra_optional, char **out_local_dir) {
    *out_local_dir = NULL;
    if (!model_id_or_dir || !*model_id_or_dir) return am__error(AM_ERR_INVALID_ARGUMENT, "empty model name or path");
    const char *sub = opts && opts->subfolder && *opts->subfolder ? opts->subfolder : NULL;
    if (am__is_dir(model_id_or_dir)) {
        *out_local_dir = sub ? am__path_join(model_id_or_dir, sub) : am__strdup(model_id_or_dir);
        return *out_local_dir ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    char why[256];
    if (!am__hub_valid_repo_id(model_id_or_dir, why, sizeof why))
        return am__error(AM_ERR_NOT_FOUND,
                         "%s is not a local folder and is not a valid model identifier (%s); if it is a path, check "
                         "that the folder exists",
                         model_id_or_dir, why);
    rs r;
    memset(&r, 0, sizeof r);
    r.id = model_id_or_dir;
    r.o = opts ? *opts : am__hub_opts_default();
    r.o.unreachable = &r.unreachable;
    am_status st = AM_OK;
    if (flags & AM__HUB_CONFIG) st = fetch(&r, "config.json", false, NULL);
    if (!st && (flags & AM__HUB_WEIGHTS)) st = fetch_weights(&r);
    static const char *const tok_files[] = {"tokenizer_config.json", "tokenizer.json", "special_tokens_map.json",
                                            "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt",
                                            "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", NULL};
    const char *const *groups[3] = {NULL, NULL, NULL};
    static const char *const gen[] = {"generation_config.json", NULL};
    static const char *const pre[] = {"preprocessor_config.json", NULL};
    if (flags & AM__HUB_GENERATION_CONFIG) groups[0] = gen;
    if (flags & AM__HUB_TOKENIZER) groups[1] = tok_files;
    if (flags & AM__HUB_PREPROCESSOR) groups[2] = pre;
    for (int g = 0; g < 3 && !st; g++)
        for (const char *const *f = groups[g]; f && *f && !st; f++) {
            st = fetch(&r, *f, true, NULL);
            if (st == AM_ERR_NOT_FOUND) st = AM_OK;
        }
    for (const char *const *f = extra_required; f && *f && !st; f++) st = fetch(&r, *f, false, NULL);
    for (const char *const *f = extra_optional; f && *f && !st; f++) {
        st = fetch(&r, *f, true, NULL);
        if (st == AM_ERR_NOT_FOUND) st = AM_OK;
    }
    if (!st) am__error_clear();
    if (!st && !r.snap_dir) {
        /* nothing was fetched (only optional files asked for, none present): the revision's folder */
        am__hub_settings s;
        st = am__hub_settings_load(&s, &r.o);
        if (!st) {
            st = am__error(AM_ERR_NOT_FOUND, "%s: none of the requested files exist in the repo", r.id);
            am__hub_settings_free(&s);
        }
    }
    if (!st) {
        *out_local_dir = r.snap_dir;
        r.snap_dir = NULL;
    }
    free(r.snap_dir);
    free(r.commit);
    return st;
}

/* ---- public wrappers ------------------------------------------------------------------------ */

am_download_options am_download_options_default(void) {
    am_download_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    return o;
}

/* The caller's options through the size contract into `dl`, then as the internal hub options. */
static am_status from_dl(const am_download_options *opts, am_download_options *dl, am__hub_opts *out) {
    *dl = am_download_options_default();
    am_status st = AM__OPTS_IN(*dl, opts, "am_download_options");
    if (st) return st;
    const am_download_options *d = dl;
    am__hub_opts o = am__hub_opts_default();
    o.revision = d->revision;
    o.cache_dir = d->cache_dir;
    o.token = d->token;
    o.endpoint = d->endpoint;
    o.repo_type = d->repo_type;
    o.local_files_only = d->local_files_only;
    o.force_download = d->force_download;
    *out = o;
    return AM_OK;
}

am_status am_hub_download(const char *repo_id, const am_download_options *opts, char **snapshot_path) {
    if (!repo_id || !snapshot_path) return am__error(AM_ERR_INVALID_ARGUMENT, "am_hub_download: NULL argument");
    am_download_options dl;
    am__hub_opts o;
    am_status st = from_dl(opts, &dl, &o);
    if (st) return st;
    return am__hub_snapshot_download(repo_id, &o, dl.include, snapshot_path);
}

am_status am_hub_download_file(const char *repo_id, const char *filename, const am_download_options *opts, char **path) {
    if (!repo_id || !filename || !path) return am__error(AM_ERR_INVALID_ARGUMENT, "am_hub_download_file: NULL argument");
    am_download_options dl;
    am__hub_opts o;
    am_status st = from_dl(opts, &dl, &o);
    if (st) return st;
    return am__hub_download_file(repo_id, filename, &o, false, path, NULL);
}

am_status am_hub_login(const char *token) {
    if (!token || !*token) return am__error(AM_ERR_INVALID_ARGUMENT, "login: empty token");
    for (const char *p = token; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return am__error(AM_ERR_INVALID_ARGUMENT, "login: a token cannot contain spaces or control characters");
    return am__hub_token_save(token);
}

am_status am_hub_logout(void) { return am__hub_token_delete(); }

char *am_hub_get_token(void) {
    am__hub_settings s;
    if (am__hub_settings_load(&s, NULL)) return NULL;
    char *t = s.token;
    s.token = NULL;
    am__hub_settings_free(&s);
    return t;
}

am_status am_hub_whoami(const char *endpoint, const char *token, char **out_json) {
    *out_json = NULL;
    am__hub_opts o = am__hub_opts_default();
    o.endpoint = endpoint;
    o.token = token;
    am__hub_settings s;
    am_status st = am__hub_settings_load(&s, &o);
    if (st) return st;
    if (!s.token) {
        am__hub_settings_free(&s);
        return am__error(AM_ERR_AUTH, "Not logged in: run `automodel login` or set HF_TOKEN");
    }
    char *url;
    if ((st = am__hub_url(&url, s.endpoint, NULL, "api/whoami-v2"))) {
        am__hub_settings_free(&s);
        return st;
    }
    am__http_req q = am__http_req_init("GET", url);
    q.token = s.token;
    q.timeout_s = s.etag_timeout;
    q.retries = 2;
    q.max_body = 1 << 20;
    am__http_resp r = {0};
    st = am__http_do(&q, &r);
    if (!st) {
        cJSON *j = r.status == 200 ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
        if (r.status == 401) st = am__error(AM_ERR_AUTH, "%s: Invalid user token: the server refused it (401)", s.endpoint);
        else if (r.status != 200) st = am__error(AM_ERR_NETWORK, "%s/api/whoami-v2: HTTP %ld", s.endpoint, r.status);
        else if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "name")))
            st = am__error(AM_ERR_FORMAT, "%s/api/whoami-v2: the answer is not JSON with a \"name\"", s.endpoint);
        else *out_json = am__strdup(r.body.data);
        cJSON_Delete(j);
    }
    am__http_resp_free(&r);
    free(url);
    am__hub_settings_free(&s);
    return st;
}
