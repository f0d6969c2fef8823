/* hub/settings.c — where the hub settings come from (explicit option > HF_* environment > defaults,
 * with huggingface_hub's precedence), the hub's naming rules for repo ids, paths and revisions, URL
 * quoting, and the token file the Python tools share. */
#include "core/error.h"
#include "core/log.h"
#include "hub/hub.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

am__hub_opts am__hub_opts_default(void) {
    am__hub_opts o;
    memset(&o, 0, sizeof o);
    o.use_safetensors = true;
    return o;
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

bool am__hub_env_true(const char *name) {
    const char *v = env(name);
    if (!v) return false;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static char *hf_home(void) {
    const char *h = env("HF_HOME");
    if (h) return am__strdup(h);
    const char *xdg = env("XDG_CACHE_HOME");
    if (xdg) return am__path_join(xdg, "huggingface");
    const char *home = env("HOME");
    char *c = am__path_join(home ? home : "/tmp", ".cache");
    char *r = c ? am__path_join(c, "huggingface") : NULL;
    free(c);
    return r;
}

static char *token_path(const char *home) {
    const char *p = env("HF_TOKEN_PATH");
    return p ? am__strdup(p) : am__path_join(home, "token");
}

/* The token file holds the token on its first line; surrounding whitespace is not part of it. */
static char *read_token_file(const char *path) {
    char *data = NULL;
    size_t len = 0;
    if (!am__is_file(path) || am__read_file(path, &data, &len) != AM_OK) {
        am__error_clear();
        return NULL;
    }
    char *s = data;
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strcspn(s, "\r\n");
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *t = NULL;
    if (n) {
        t = malloc(n + 1);
        if (t) memcpy(t, s, n), t[n] = 0;
    }
    free(data);
    return t;
}

am_status am__hub_settings_load(am__hub_settings *s, const am__hub_opts *opts) {
    memset(s, 0, sizeof *s);
    const char *ep = opts && opts->endpoint ? opts->endpoint : env("HF_ENDPOINT");
    if (!ep) ep = am__hub_env_true("HUGGINGFACE_CO_STAGING") ? "https://hub-ci.huggingface.co" : "https://huggingface.co";
    s->endpoint = am__strdup(ep);
    s->hf_home = hf_home();
    if (!s->endpoint || !s->hf_home) goto oom;
    size_t el = strlen(s->endpoint);
    while (el && s->endpoint[el - 1] == '/') s->endpoint[--el] = 0;
    if (strncmp(s->endpoint, "http://", 7) && strncmp(s->endpoint, "https://", 8)) {
        am_status st = am__error(AM_ERR_INVALID_ARGUMENT, "HF_ENDPOINT '%s' is not an http(s) URL", s->endpoint);
        am__hub_settings_free(s);
        return st;
    }

    /* The cache folder, with transformers 4.32's precedence (utils/hub.py): TRANSFORMERS_CACHE,
     * else HUGGINGFACE_HUB_CACHE, else PYTORCH_TRANSFORMERS_CACHE, else PYTORCH_PRETRAINED_BERT_CACHE,
     * else $HF_HOME/hub. HF_HUB_CACHE, huggingface_hub's newer name, which 4.32 predates, sits where
     * huggingface_hub puts it: just above HUGGINGFACE_HUB_CACHE. No variable warns (4.32 warns for
     * none of them). docs/cache.md has the table. */
    static const char *const vars[] = {"TRANSFORMERS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "PYTORCH_TRANSFORMERS_CACHE",
                                       "PYTORCH_PRETRAINED_BERT_CACHE"};
    const char *cache = opts && opts->cache_dir ? opts->cache_dir : NULL;
    for (size_t i = 0; !cache && i < sizeof vars / sizeof vars[0]; i++) cache = env(vars[i]);
    s->cache = cache ? am__strdup(cache) : am__path_join(s->hf_home, "hub");
    if (!s->cache) goto oom;

    s->token_path = token_path(s->hf_home);
    if (!s->token_path) goto oom;
    if (opts && opts->token) s->token = *opts->token ? am__strdup(opts->token) : NULL;
    else if (env("HF_TOKEN")) s->token = am__strdup(env("HF_TOKEN"));
    else if (env("HUGGING_FACE_HUB_TOKEN")) s->token = am__strdup(env("HUGGING_FACE_HUB_TOKEN"));
    else if (!am__hub_env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN")) s->token = read_token_file(s->token_path);

    s->offline = am__hub_env_true("HF_HUB_OFFLINE") || am__hub_env_true("TRANSFORMERS_OFFLINE") ||
                 (opts && opts->local_files_only);
    s->etag_timeout = env("HF_HUB_ETAG_TIMEOUT") ? atol(env("HF_HUB_ETAG_TIMEOUT")) : 10;
    s->download_timeout = env("HF_HUB_DOWNLOAD_TIMEOUT") ? atol(env("HF_HUB_DOWNLOAD_TIMEOUT")) : 10;
    if (s->etag_timeout <= 0) s->etag_timeout = 10;
    if (s->download_timeout <= 0) s->download_timeout = 10;
    s->progress = !am__hub_env_true("HF_HUB_DISABLE_PROGRESS_BARS");
    s->retry_timeout = am__hub_retry_timeout();
    return AM_OK;
oom:
    am__hub_settings_free(s);
    return am__error(AM_ERR_NO_MEMORY, "hub settings: out of memory");
}

double am__hub_retry_timeout(void) {
    const char *v = env("AM_HUB_RETRY_TIMEOUT");
    if (!v) return AM__HUB_RETRY_TIMEOUT_DEFAULT;
    char *end;
    double t = strtod(v, &end);
    while (*end == ' ') end++;
    if (end == v || *end || !(t >= 0) || t > 86400) {
        am__log(AM_LOG_WARNING, "AM_HUB_RETRY_TIMEOUT='%s' is not a number of seconds in [0, 86400]; using %g", v,
                (double)AM__HUB_RETRY_TIMEOUT_DEFAULT);
        return AM__HUB_RETRY_TIMEOUT_DEFAULT;
    }
    return t;
}

void am__hub_settings_free(am__hub_settings *s) {
    free(s->endpoint);
    free(s->hf_home);
    free(s->cache);
    if (s->token) memset(s->token, 0, strlen(s->token));
    free(s->token);
    free(s->token_path);
    memset(s, 0, sizeof *s);
}

static bool name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'; }

static bool valid_part(const char *p, size_t n, size_t maxlen, char *why, size_t wl, const char *id) {
    if (n == 0 || n > maxlen) {
        snprintf(why, wl, "Repo id must have a namespace and a name of 1 to %zu characters: '%s'", maxlen, id);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!name_char(p[i])) {
            snprintf(why, wl,
                     "Repo id must use alphanumeric chars, '-', '_' or '.', the name cannot start or end with '-' or "
                     "'.' and the maximum length is 96: '%s'",
                     id);
            return false;
        }
    if (p[0] == '-' || p[0] == '.' || p[n - 1] == '-' || p[n - 1] == '.') {
        snprintf(why, wl, "Repo id cannot start or end with '-' or '.': '%s'", id);
        return false;
    }
    return true;
}

bool am__hub_valid_repo_id(const char *id, char *why, size_t wl) {
    char dummy[8];
    if (!why) why = dummy, wl = sizeof dummy;
    if (!id || !*id) {
        snprintf(why, wl, "Repo id must not be empty");
        return false;
    }
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f) {
            snprintf(why, wl, "Repo id must not contain control characters");
            return false;
        }
    if (n > 96 * 2 + 1) {
        snprintf(why, wl, "Repo id is too long (%zu characters)", n);
        return false;
    }
    if (strstr(id, "--") || strstr(id, "..")) {
        snprintf(why, wl, "Cannot have -- or .. in repo_id: '%s'", id);
        return false;
    }
    const char *slash = strchr(id, '/');
    if (slash && strchr(slash + 1, '/')) {
        snprintf(why, wl, "Repo id must be in the form 'repo_name' or 'namespace/repo_name': '%s'", id);
        return false;
    }
    if (slash) return valid_part(id, (size_t)(slash - id), 96, why, wl, id) && valid_part(slash + 1, strlen(slash + 1), 96, why, wl, id);
    return valid_part(id, n, 96, why, wl, id);
}

bool am__hub_valid_repo_path(const char *path) {
    if (!path || !*path || path[0] == '/') return false;
    size_t n = strlen(path);
    if (n > 4096) return false;
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || l > 1024) return false;
        if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.')) return false;
        for (size_t i = 0; i < l; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\') return false;
        if (!e) break;
        p = e + 1;
        if (!*p) return false; /* trailing '/' */
    }
    return true;
}

bool am__hub_valid_revision(const char *rev) {
    if (!rev || !*rev || strlen(rev) > 255) return false;
    return am__hub_valid_repo_path(rev) && !strstr(rev, "..");
}

bool am__hub_is_commit(const char *s) {
    if (!s) return false;
    for (int i = 0; i < 40; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[40] == 0;
}

char *am__hub_repo_folder(const char *repo_type, const char *repo_id) {
    if (!repo_type) repo_type = "model";
    am__buf b = {0};
    am__buf_printf(&b, "%ss--", repo_type);
    for (const char *p = repo_id; *p; p++) {
        if (*p == '/') am__buf_puts(&b, "--");
        else am__buf_put(&b, p, 1);
    }
    return am__buf_take(&b);
}

am_status am__hub_token_save(const char *token) {
    am__hub_settings s;
    am_status st = am__hub_settings_load(&s, NULL);
    if (st) return st;
    char *dir = am__strdup(s.token_path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = 0;
        st = am__mkdirs(dir);
    }
    free(dir);
    if (st) {
        am__hub_settings_free(&s);
        return st;
    }
    /* create the temp file 0600 from the start: the token must never be readable by others */
    size_t n = strlen(s.token_path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        am__hub_settings_free(&s);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp.%d", s.token_path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = am__error(AM_ERR_IO, "%s: cannot create: %s", s.token_path, strerror(errno));
    } else {
        size_t tl = strlen(token);
        bool ok = write(fd, token, tl) == (ssize_t)tl;
        ok = fchmod(fd, 0600) == 0 && ok;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, s.token_path) != 0) {
            st = am__error(AM_ERR_IO, "%s: cannot write the token: %s", s.token_path, strerror(errno));
            unlink(tmp);
        }
    }
    free(tmp);
    am__hub_settings_free(&s);
    return st;
}

am_status am__hub_token_delete(void) {
    am__hub_settings s;
    am_status st = am__hub_settings_load(&s, NULL);
    if (st) return st;
    if (unlink(s.token_path) != 0 && errno != ENOENT)
        st = am__error(AM_ERR_IO, "%s: cannot remove: %s", s.token_path, strerror(errno));
    am__hub_settings_free(&s);
    return st;
}
