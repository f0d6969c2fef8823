/* hub/hub.h — the hub layer's internal API: settings resolution, repo-id validation, the Hugging Face
 * cache layout, file download (libcurl), folder upload, and the self-hosted hub server.
 * See shared/spec/HUB.md for the protocol; names here mirror huggingface_hub's where they exist. */
#ifndef AM_HUB_HUB_H
#define AM_HUB_HUB_H
#include "automodel.h"
#include "core/util.h"
#include <stdint.h>

/* ---- options -------------------------------------------------------------------------------- */

/* What from_pretrained / AutoTokenizer pass down (mirrors the hub fields of am_load_options).
 * Every pointer is borrowed for the duration of the call. NULL / false means "not given", in which
 * case the environment (HF_*) and then the defaults apply, with huggingface_hub's precedence. */
typedef struct am__hub_opts {
    const char *revision;   /* branch, tag or 40-hex commit; default "main" */
    const char *subfolder;  /* path inside the repo, prepended to every file name */
    const char *cache_dir;  /* overrides HF_HUB_CACHE and friends */
    const char *token;      /* overrides HF_TOKEN and the token file */
    const char *endpoint;   /* overrides HF_ENDPOINT */
    const char *repo_type;  /* "model" (default), "dataset", "space" */
    bool local_files_only;  /* like HF_HUB_OFFLINE=1 for this call */
    bool force_download;    /* re-download even when the blob is cached */
    bool use_safetensors;   /* false skips model.safetensors(.index.json); am__hub_opts_default: true */
    bool *unreachable;      /* in/out, may be NULL: set when the endpoint stayed unreachable for a whole
                               retry budget; calls that see it set fall back to the cache at once,
                               so a many-file resolve waits out the budget only once */
} am__hub_opts;
am__hub_opts am__hub_opts_default(void);

/* ---- from_pretrained entry point ----------------------------------------------------------- */

/* Flags for am__hub_resolve. */
enum {
    AM__HUB_CONFIG = 1u << 0,            /* config.json (required) */
    AM__HUB_WEIGHTS = 1u << 1,           /* weights in transformers' order (required, see below) */
    AM__HUB_GENERATION_CONFIG = 1u << 2, /* generation_config.json (optional) */
    AM__HUB_TOKENIZER = 1u << 3,         /* tokenizer.json, tokenizer_config.json, special_tokens_map.json,
                                            vocab.txt, vocab.json, merges.txt, spiece.model,
                                            sentencepiece.bpe.model, tokenizer.model,
                                            added_tokens.json (each optional) */
    AM__HUB_PREPROCESSOR = 1u << 4,      /* preprocessor_config.json (optional) */
};

/* Make the files a from_pretrained call needs available locally and return the folder holding them.
 *
 * - `model_id_or_dir` naming an existing directory is a local folder: nothing is fetched and
 *   *out_local_dir is that folder (+ subfolder). The caller then finds its files there itself.
 * - Otherwise it must be a valid repo id ("name" or "org/name", validated as the hub does); the files
 *   are fetched into the Hugging Face cache (or found there offline) and *out_local_dir is
 *   `{cache}/models--org--name/snapshots/{commit}[/{subfolder}]`, holding symlinks to the blobs.
 *
 * Fetch order: config.json first (so a bad id fails early with transformers' wording), then the
 * weights in transformers' preference order — model.safetensors, model.safetensors.index.json (+ all
 * shards of its weight_map, every one required), pytorch_model.bin, pytorch_model.bin.index.json
 * (+ shards); opts->use_safetensors == false skips the two safetensors names — then the optional
 * groups, then `extra_required` (NULL-terminated list; a missing one is an error) and
 * `extra_optional` (missing ones are skipped and remembered in `.no_exist/`). Every file after the
 * first is fetched at the commit the first one resolved to, so the snapshot is consistent.
 *
 * Offline (HF_HUB_OFFLINE / local_files_only) or with the network down, files come from the cache
 * only, with transformers' "We couldn't connect to ..." message when they are not there.
 * *out_local_dir is owned by the caller (free()). */
am_status am__hub_resolve(const char *model_id_or_dir, const am__hub_opts *opts, unsigned flags,
                          const char *const *extra_required, const char *const *extra_optional,
                          char **out_local_dir);

/* hf_hub_download: one file of a repo into the cache. On success *out_path (owned) is the snapshot
 * path. A file the repo does not have is AM_ERR_NOT_FOUND; with `optional` no message is kept
 * and a `.no_exist` marker is written. *out_commit (owned, may be NULL) gets the commit. */
am_status am__hub_download_file(const char *repo_id, const char *filename, const am__hub_opts *opts,
                                bool optional, char **out_path, char **out_commit);

/* Download every file of a repo (optionally only those matching one of the fnmatch `include`
 * globs), return the snapshot folder (owned). Uses the tree API; offline, returns the cached
 * snapshot of the revision if there is one. */
am_status am__hub_snapshot_download(const char *repo_id, const am__hub_opts *opts, const char *const *include,
                                    char **out_dir);

/* Upload every regular file under `dir` (recursively, skipping .git/ and .cache/) as one commit. */
am_status am__hub_upload_folder(const char *dir, const char *repo_id, const am_push_options *opts);

/* ---- settings and names (hub/settings.c) --------------------------------------------------- */

typedef struct am__hub_settings {
    char *endpoint;  /* no trailing '/' */
    char *hf_home;
    char *cache;     /* the repo cache (HF_HUB_CACHE) */
    char *token;     /* NULL when none */
    char *token_path;
    bool offline;
    long etag_timeout, download_timeout; /* seconds */
    bool progress;   /* progress bars allowed (not disabled by env); still only on a tty */
    double retry_timeout; /* seconds: the total time transient failures are retried for (below) */
} am__hub_settings;
/* Resolve with precedence explicit > environment > default. `opts` may be NULL. */
am_status am__hub_settings_load(am__hub_settings *s, const am__hub_opts *opts);
void am__hub_settings_free(am__hub_settings *s);
bool am__hub_env_true(const char *name);
/* AM_HUB_RETRY_TIMEOUT (seconds, 0 = no retries), else AM__HUB_RETRY_TIMEOUT_DEFAULT; a value that
 * is not a number in [0, 86400] logs a warning and gives the default. */
#define AM__HUB_RETRY_TIMEOUT_DEFAULT 30
double am__hub_retry_timeout(void);

/* The hub's repo-id rules (huggingface_hub.validate_repo_id): "name" or "namespace/name", each
 * [A-Za-z0-9_.-], no "--" or "..", not starting or ending with '-' or '.', name at most 96 chars. */
bool am__hub_valid_repo_id(const char *id, char *why, size_t why_len);
/* A path inside a repo: relative, '/'-separated, no empty/"."/".." parts, no control bytes or '\\',
 * at most 1024 bytes per part and 4096 in all. */
bool am__hub_valid_repo_path(const char *path);
/* A revision: a branch/tag name or a commit; refuses "..", control bytes, leading '/'. */
bool am__hub_valid_revision(const char *rev);
bool am__hub_is_commit(const char *s); /* 40 lowercase hex */
/* "models--org--name" (owned). */
char *am__hub_repo_folder(const char *repo_type, const char *repo_id);
/* Token file (HF_TOKEN_PATH or $HF_HOME/token): write with mode 0600 / remove. */
am_status am__hub_token_save(const char *token);
am_status am__hub_token_delete(void);

/* ---- hashing and encodings (hub/hash.c) ---------------------------------------------------- */

/* Streaming SHA-256 / SHA-1 (libcrypto EVP). _init may fail (AM_ERR_NO_MEMORY, message set);
 * _update after a failure is a no-op and the failure comes out of _final. _final releases the
 * context; _discard releases one that will not be finished (safe on a released or zeroed one). */
struct evp_md_ctx_st;
typedef struct am__digest {
    struct evp_md_ctx_st *ctx;
    bool failed;
} am__digest;
typedef am__digest am__sha256;
typedef am__digest am__sha1;
am_status am__sha256_init(am__sha256 *c);
void am__sha256_update(am__sha256 *c, const void *p, size_t n);
am_status am__sha256_final(am__sha256 *c, uint8_t out[32]);
am_status am__sha1_init(am__sha1 *c);
void am__sha1_update(am__sha1 *c, const void *p, size_t n);
am_status am__sha1_final(am__sha1 *c, uint8_t out[20]);
void am__digest_discard(am__digest *c);
/* One-shot, as hex: sha256 of p; sha1 of p, or of git's blob ("blob <n>\0" + p) when git_blob. */
am_status am__sha256_hex(const void *p, size_t n, char hex[65]);
am_status am__sha1_hex(const void *p, size_t n, bool git_blob, char hex[41]);
void am__hex(const uint8_t *p, size_t n, char *out); /* out gets 2n chars + NUL */
/* sha256 and git blob sha1 ("blob <size>\0" + content) of a file, as hex. Either may be NULL. */
am_status am__hash_file(const char *path, char sha256_hex[65], char sha1_hex[41], uint64_t *size);
/* Owned, NUL-terminated. */
char *am__base64_encode(const void *p, size_t n, size_t *out_len);
/* Returns false on bad input. *out owned. */
bool am__base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len);
/* The token of an Authorization header value: "Bearer TOKEN", or HTTP Basic "Basic base64(USER:TOKEN)"
 * (any user name; the token is what follows the first ':'), as huggingface.co takes it. Owned
 * string, or NULL for another scheme, bad base64, no ':', a NUL byte or an empty token. */
char *am__hub_auth_token(const char *authorization);
void am__random_hex(char *out, size_t nhex); /* out gets nhex chars + NUL */

/* ---- HTTP client (hub/http.c) -------------------------------------------------------------- */

typedef struct am__http_header {
    char *name; /* lower-case */
    char *value;
} am__http_header;

typedef struct am__http_resp {
    long status;
    am__http_header *headers;
    size_t n_headers;
    am__buf body;          /* when not streaming to a file */
    char *effective_host;  /* host of the request URL */
    int curl_code;         /* 0 on a completed HTTP exchange */
    bool overflow;         /* the server sent more than max_body, or oversized headers */
    char curl_error[256];
} am__http_resp;
const char *am__http_resp_header(const am__http_resp *r, const char *lname); /* borrowed or NULL */
void am__http_resp_free(am__http_resp *r);

typedef struct am__http_req {
    const char *method;       /* "GET", "HEAD", "POST", "PUT", "DELETE" */
    const char *url;
    const char *token;        /* sent as Authorization: Bearer, only to the URL's own host */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, may be NULL */
    const void *body;
    size_t body_len;
    int body_fd;              /* >= 0: upload body_len bytes from this fd at body_offset */
    uint64_t body_offset;
    int out_fd;               /* >= 0: write a 2xx body here instead of resp->body */
    uint64_t max_body;        /* limit for resp->body / out_fd (0: 64 MiB for memory, none for fd) */
    long timeout_s;           /* inactivity timeout (no bytes for that long) */
    int retries;              /* extra attempts on 408/429/5xx and transport errors */
    double retry_timeout_s;   /* total time for those attempts (< 0, the default: am__hub_retry_timeout()) */
    bool progress;            /* progress bar on stderr when stderr is a tty */
    const char *progress_label;
    uint64_t progress_base;   /* bytes already present (resume) */
    uint64_t progress_total;
    /* Called with each piece of a 2xx body after it was written to out_fd; `status` is the
     * response's (a resume tells 206 from 200). May be NULL. */
    void (*on_data)(void *ud, long status, const void *p, size_t n);
    void *on_data_ud;
} am__http_req;
am__http_req am__http_req_init(const char *method, const char *url);
/* One exchange (no redirects followed; up to req->retries more attempts on transport errors and
 * 408/429/5xx, paced by am__retry within req->retry_timeout_s). Returns AM_OK when an HTTP status
 * was received (any status), AM_ERR_NETWORK when not (message names the URL and says why). */
am_status am__http_do(const am__http_req *req, am__http_resp *resp);
/* True for a failed do whose cause is worth another attempt: the transport (refused, reset, timed
 * out, cut short), not a limit or an allocation this side. */
bool am__http_transport_failure(am_status st, const am__http_resp *resp);

/* Retry pacing, one place for every hub client loop: exponential backoff from 0.5 s doubling to
 * 8 s, each wait drawn uniformly from [w/2, w] (jitter, so clients that failed together do not
 * come back together), a server's Retry-After (seconds, capped at 60) used instead when given, and
 * the whole bounded by a deadline: the last wait is shortened to end on it, and none starts after
 * it. */
typedef struct am__retry {
    double start, deadline; /* monotonic seconds */
    double backoff;         /* the next wait's upper bound */
    int waits;              /* waits so far */
} am__retry;
void am__retry_start(am__retry *r, double budget_s); /* budget_s < 0: am__hub_retry_timeout() */
/* Sleep before the next attempt and return true; false (no sleep) when the deadline has passed.
 * retry_after_s < 0: none given. `url` and `why` go to the info log. */
bool am__retry_wait(am__retry *r, double retry_after_s, const char *url, const char *why);
double am__retry_elapsed(const am__retry *r);
/* The server's Retry-After (or RateLimit "t=") in seconds, capped at 60; -1 when absent. */
double am__http_retry_after(const am__http_resp *r);

/* ---- URLs (hub/url.c, libcurl's URL API) --------------------------------------------------- */

/* *out = endpoint + "/" + the formatted path (+ "?" query): the endpoint is parsed by curl and the
 * path appended to its own path. Path pieces from users are quoted first (am__hub_quote); `query`
 * ("name=value", may be NULL) is encoded by curl. *out owned. */
am_status am__hub_url(char **out, const char *endpoint, const char *query, const char *path_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Scheme+host+port of a URL, lower-cased (owned; "" for what is not a URL; NULL out of memory). */
char *am__url_origin(const char *url);
/* Resolve a Location header against the request URL, as curl resolves redirects (*out owned);
 * a Location curl cannot parse is AM_ERR_NETWORK. */
am_status am__url_join(const char *base, const char *location, char **out);
/* Percent-encode as huggingface_hub's quote(): keep_slash keeps '/' (safe="/"), otherwise nothing
 * but A-Z a-z 0-9 -._~ stays (safe="", revision encoding). Owned. */
char *am__hub_quote(const char *s, bool keep_slash);
/* Decode %XX; returns NULL when the result would contain NUL. Owned. */
char *am__hub_unquote(const char *s, size_t n);

/* ---- server (hub/server.c) ----------------------------------------------------------------- */

typedef struct am__hub_server am__hub_server;
#endif
