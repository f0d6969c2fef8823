/* auto/patterns.c — transformers' weight-name patterns (_keys_to_ignore_on_load_missing,
 * _keys_to_ignore_on_load_unexpected, _tied_weights_keys): Python regexes applied with re.search,
 * so PCRE2 (the engine the tokenizers use), unanchored, Unicode as a Python str pattern is. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "auto/auto.h"
#include "core/error.h"
#include <pcre2.h>
#include <string.h>

am_status am__name_pattern_search(const char *const *patterns, const char *name, const char *origin, bool *match) {
    *match = false;
    pcre2_match_data *md = NULL;
    am_status st = AM_OK;
    for (const char *const *p = patterns; p && *p && !*match && !st; p++) {
        int err;
        PCRE2_SIZE off;
        /* invalid UTF-8 in a name (a .bin checkpoint's keys are any bytes) never matches */
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)*p, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
        if (!re) {
            if (err == PCRE2_ERROR_NOMEMORY) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory compiling the pattern '%s'", origin, *p);
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            st = am__error(AM_ERR_INTERNAL, "%s: the weight-name pattern '%s' does not compile: %s (at offset %zu)", origin, *p,
                           (const char *)msg, (size_t)off);
            break;
        }
        if (!md && !(md = pcre2_match_data_create(1, NULL))) st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory matching '%s'", origin, *p);
        int rc = st ? 0 : pcre2_match(re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
        if (rc >= 0 && !st) *match = true;
        else if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            st = rc == PCRE2_ERROR_NOMEMORY ? am__error(AM_ERR_NO_MEMORY, "%s: out of memory matching '%s'", origin, *p)
                                            : am__error(AM_ERR_INTERNAL, "%s: matching '%s' against %s failed (PCRE2 error %d)", origin, *p, name, rc);
        pcre2_code_free(re);
    }
    if (md) pcre2_match_data_free(md);
    return st;
}
