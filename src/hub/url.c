/* hub/url.c — URLs for the hub client, through libcurl's URL API: the endpoint is parsed (not
 * pasted), paths are appended to its path, Location headers are resolved as curl resolves
 * redirects, and percent-encoding/decoding is curl's (curl_easy_escape/unescape encode exactly
 * huggingface_hub's quote(s, safe="") set: everything but A-Z a-z 0-9 - . _ ~). */
#include "core/error.h"
#include "core/util.h"
#include "hub/hub.h"
#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static am_status url_error(CURLUcode uc, am_status code, const char *what, const char *url) {
    if (uc == CURLUE_OUT_OF_MEMORY) return am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
    return am__error(code, "%s '%s': %s", what, url, curl_url_strerror(uc));
}

/* curl's string (freed with curl_free) as our own malloc'd one. */
static char *take(char *s) {
    char *r = s ? am__strdup(s) : NULL;
    curl_free(s);
    return r;
}

am_status am__hub_url(char **out, const char *endpoint, const char *query, const char *path_fmt, ...) {
    *out = NULL;
    va_list ap;
    va_start(ap, path_fmt);
    int n = vsnprintf(NULL, 0, path_fmt, ap);
    va_end(ap);
    char *path = n >= 0 ? malloc((size_t)n + 1) : NULL;
    CURLU *h = path ? curl_url() : NULL;
    char *base = NULL, *full = NULL, *u = NULL;
    am_status st = AM_OK;
    CURLUcode uc = CURLUE_OK;
    if (!h) {
        st = am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
        goto done;
    }
    va_start(ap, path_fmt);
    vsnprintf(path, (size_t)n + 1, path_fmt, ap);
    va_end(ap);
    /* `path` is a relative reference resolved against the endpoint taken as a folder (a mirror may
     * live under a path): "https://host/hf" + "api/x" -> "https://host/hf/api/x". Set as a URL,
     * not as CURLUPART_PATH, which would lower-case the caller's %XX escapes. */
    if ((uc = curl_url_set(h, CURLUPART_URL, endpoint, 0)) || (uc = curl_url_get(h, CURLUPART_PATH, &base, 0))) {
        st = url_error(uc, AM_ERR_INVALID_ARGUMENT, "the hub endpoint", endpoint);
        goto done;
    }
    size_t bl = strlen(base);
    if (!bl || base[bl - 1] != '/') {
        if (!(full = am__strfmt("%s/", base))) {
            st = am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
            goto done;
        }
        if ((uc = curl_url_set(h, CURLUPART_PATH, full, 0))) {
            st = url_error(uc, AM_ERR_INVALID_ARGUMENT, "the hub endpoint", endpoint);
            goto done;
        }
    }
    if ((uc = curl_url_set(h, CURLUPART_URL, path, 0)) ||
        (query && (uc = curl_url_set(h, CURLUPART_QUERY, query, CURLU_APPENDQUERY | CURLU_URLENCODE))) ||
        (uc = curl_url_get(h, CURLUPART_URL, &u, 0))) {
        st = url_error(uc, AM_ERR_INVALID_ARGUMENT, "a hub URL under", endpoint);
        goto done;
    }
    if (!(*out = take(u))) st = am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
done:
    curl_free(base);
    free(full);
    free(path);
    curl_url_cleanup(h);
    return st;
}

char *am__url_origin(const char *url) {
    CURLU *h = curl_url();
    if (!h) return NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) goto done;
    if (uc || curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(h, CURLUPART_HOST, &host, 0)) {
        out = am__strdup(""); /* not a URL: an origin nothing else has */
        goto done;
    }
    curl_url_get(h, CURLUPART_PORT, &port, 0); /* only when the URL names one */
    out = am__strfmt("%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    for (char *p = out; p && *p; p++) *p = (char)tolower((unsigned char)*p);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(h);
    return out;
}

am_status am__url_join(const char *base, const char *loc, char **out) {
    *out = NULL;
    CURLU *h = curl_url();
    if (!h) return am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
    char *u = NULL;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, base, 0);
    /* as curl follows a redirect itself: relative to the handle's URL, spaces and 8-bit bytes encoded */
    if (!uc) uc = curl_url_set(h, CURLUPART_URL, loc, CURLU_URLENCODE | CURLU_ALLOW_SPACE);
    if (!uc) uc = curl_url_get(h, CURLUPART_URL, &u, 0);
    curl_url_cleanup(h);
    if (uc) return url_error(uc, AM_ERR_NETWORK, "cannot follow the redirect to", loc);
    return (*out = take(u)) ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory building a URL");
}

char *am__hub_quote(const char *s, bool keep_slash) {
    am__buf b = {0};
    for (const char *p = s;;) {
        size_t n = keep_slash ? strcspn(p, "/") : strlen(p);
        if (n > INT_MAX) {
            am__buf_free(&b);
            return NULL;
        }
        if (n) { /* curl_easy_escape's length 0 means strlen */
            char *e = curl_easy_escape(NULL, p, (int)n);
            if (!e) {
                am__buf_free(&b);
                return NULL;
            }
            am__buf_puts(&b, e);
            curl_free(e);
        }
        if (!p[n]) break;
        am__buf_puts(&b, "/");
        p += n + 1;
    }
    return am__buf_take(&b);
}

char *am__hub_unquote(const char *s, size_t n) {
    if (n > INT_MAX) return NULL;
    if (!n) return am__strdup("");
    int on = 0;
    char *d = curl_easy_unescape(NULL, s, (int)n, &on);
    if (!d) return NULL;
    char *r = memchr(d, 0, (size_t)on) ? NULL : malloc((size_t)on + 1);
    if (r) memcpy(r, d, (size_t)on), r[on] = 0;
    curl_free(d);
    return r;
}
