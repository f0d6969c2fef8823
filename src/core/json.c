/* core/json.c — JSON parsing with the strictness of Python's json and Rust's serde_json. */
#include "core/json.h"
#include "core/error.h"
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

size_t am__utf8_invalid_at(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return i; /* utf8proc refuses overlong forms, surrogates, > U+10FFFF */
        i += (size_t)k;
    }
    return SIZE_MAX;
}

/* The first escaped NUL (\u0000) inside a string, or SIZE_MAX. Escapes are only legal inside
 * strings, so a backslash outside one is left to the parser to refuse. */
static size_t escaped_nul_at(const char *s, size_t n) {
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!in_str) {
            if (c == '"') in_str = true;
            continue;
        }
        if (c == '"') in_str = false;
        else if (c == '\\' && i + 1 < n) {
            if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0') return i;
            i++; /* the escaped character (a quote or a backslash does not end or start anything) */
        }
    }
    return SIZE_MAX;
}

am_status am__json_text_check(const char *text, size_t len, const char *origin) {
    if (!origin) origin = "JSON";
    size_t at = am__utf8_invalid_at(text, len);
    if (at != SIZE_MAX) return am__error(AM_ERR_FORMAT, "%s: not valid UTF-8 (byte %zu)", origin, at);
    const char *nul = memchr(text, 0, len);
    if (nul) return am__error(AM_ERR_FORMAT, "%s: a NUL byte at byte %zu is not valid JSON", origin, (size_t)(nul - text));
    at = escaped_nul_at(text, len);
    if (at != SIZE_MAX)
        return am__error(AM_ERR_FORMAT, "%s: a string holds a NUL character (\\u0000, byte %zu); refused: it would be cut there", origin, at);
    return AM_OK;
}

am_status am__json_parse(const char *text, size_t len, const char *origin, cJSON **out) {
    *out = NULL;
    if (!origin) origin = "JSON";
    am_status st = am__json_text_check(text, len, origin);
    if (st != AM_OK) return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        return am__error(AM_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", origin, off);
    }
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return am__error(AM_ERR_FORMAT, "%s: extra data after the JSON value (byte %zu)", origin, (size_t)(p - text));
        }
    *out = root;
    return AM_OK;
}
