/* tokenizers/tk_norm.c — normalizers (BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, StripAccents,
 * Strip, Replace, Prepend, Precompiled, ByteLevel, Sequence): parsing from tokenizer.json and
 * application to a normalized string with alignment tracking. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void tk_norm_free(tk_norm *n) {
    if (!n) return;
    free(n->pattern);
    free(n->content);
    tk_regex_free(&n->re);
    free(n->pc_data);
    for (size_t i = 0; i < n->nkids; i++) tk_norm_free(n->kids[i]);
    free(n->kids);
    free(n);
}

static int b64v(int ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

static uint8_t *b64_decode(const char *s, size_t *outlen) {
    size_t n = strlen(s);
    uint8_t *o = malloc(n / 4 * 3 + 4);
    if (!o) return NULL;
    size_t j = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' || s[i] == '\n' || s[i] == '\r') continue;
        int v = b64v((unsigned char)s[i]);
        if (v < 0) {
            free(o);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[j++] = (uint8_t)(acc >> bits);
        }
    }
    *outlen = j;
    return o;
}

/* The pattern object {"String": s} or {"Regex": r} shared by Replace and Split. */
am_status tk_parse_pattern(const cJSON *j, const char *origin, const char *what, tk_regex *re, char **lit, size_t *litlen) {
    const cJSON *pat;
    am_status s = tk_json_get(j, "pattern", TK_JOBJ, true, &pat, origin, what);
    if (s) return s;
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    if (str && cJSON_IsString(str)) {
        *lit = strdup(str->valuestring);
        if (!*lit) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        *litlen = strlen(*lit);
        if (!*litlen) return AM_OK; /* an empty pattern matches nothing */
        int err;
        PCRE2_SIZE off;
        re->code = pcre2_compile((PCRE2_SPTR)*lit, *litlen, PCRE2_LITERAL | PCRE2_UTF, &err, &off, NULL);
        if (!re->code) return am__error(AM_ERR_FORMAT, "%s: %s: cannot use pattern string", origin, what);
        re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
        return AM_OK;
    }
    if (rx && cJSON_IsString(rx)) return tk_regex_compile(re, rx->valuestring, strlen(rx->valuestring), origin);
    return am__error(AM_ERR_FORMAT, "%s: %s: 'pattern' must be {\"String\": ...} or {\"Regex\": ...}", origin, what);
}

am_status tk_norm_parse(const cJSON *j, const char *origin, tk_norm **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return am__error(AM_ERR_FORMAT, "%s: normalizer must be an object, not %s", origin, tk_json_type_name(j));
    const cJSON *t;
    am_status s = tk_json_get(j, "type", TK_JSTR, true, &t, origin, "normalizer");
    if (s) return s;
    const char *ty = t->valuestring;
    tk_norm *n = calloc(1, sizeof *n);
    if (!n) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    const char *what = "normalizer";
    if (!strcmp(ty, "BertNormalizer")) {
        n->type = TK_N_BERT;
        if (!s) s = tk_json_bool(j, "clean_text", true, &n->clean_text, origin, what);
        if (!s) s = tk_json_bool(j, "handle_chinese_chars", true, &n->chinese, origin, what);
        if (!s) s = tk_json_bool(j, "lowercase", true, &n->lowercase, origin, what);
        const cJSON *sa = NULL;
        if (!s) s = tk_json_get(j, "strip_accents", TK_JBOOL, false, &sa, origin, what);
        n->strip_accents = sa ? cJSON_IsTrue(sa) : -1;
    } else if (!strcmp(ty, "NFC")) n->type = TK_N_NFC;
    else if (!strcmp(ty, "NFD")) n->type = TK_N_NFD;
    else if (!strcmp(ty, "NFKC")) n->type = TK_N_NFKC;
    else if (!strcmp(ty, "NFKD")) n->type = TK_N_NFKD;
    else if (!strcmp(ty, "Lowercase")) n->type = TK_N_LOWERCASE;
    else if (!strcmp(ty, "StripAccents")) n->type = TK_N_STRIP_ACCENTS;
    else if (!strcmp(ty, "ByteLevel")) n->type = TK_N_BYTELEVEL;
    else if (!strcmp(ty, "Strip")) {
        n->type = TK_N_STRIP;
        s = tk_json_bool(j, "strip_left", true, &n->left, origin, what);
        if (!s) s = tk_json_bool(j, "strip_right", true, &n->right, origin, what);
    } else if (!strcmp(ty, "Replace")) {
        n->type = TK_N_REPLACE;
        s = tk_parse_pattern(j, origin, "Replace normalizer", &n->re, &n->pattern, &n->plen);
        if (!s) s = tk_json_str(j, "content", true, NULL, &n->content, origin, "Replace normalizer");
        if (!s) n->clen = strlen(n->content);
    } else if (!strcmp(ty, "Prepend")) {
        n->type = TK_N_PREPEND;
        s = tk_json_str(j, "prepend", true, NULL, &n->content, origin, "Prepend normalizer");
        if (!s) n->clen = strlen(n->content);
    } else if (!strcmp(ty, "Precompiled")) {
        n->type = TK_N_PRECOMPILED;
        const cJSON *pc;
        s = tk_json_get(j, "precompiled_charsmap", TK_JSTR, false, &pc, origin, "Precompiled normalizer");
        if (!s && pc && pc->valuestring[0]) {
            n->pc_data = b64_decode(pc->valuestring, &n->pc_len);
            if (!n->pc_data) s = am__error(AM_ERR_FORMAT, "%s: Precompiled normalizer: precompiled_charsmap is not base64", origin);
            else {
                uint32_t ts = 0;
                if (n->pc_len >= 4) memcpy(&ts, n->pc_data, 4);
                if (n->pc_len < 4 || ts % 4 || ts > n->pc_len - 4 || ts < 4)
                    s = am__error(AM_ERR_FORMAT, "%s: Precompiled normalizer: precompiled_charsmap is truncated or corrupt", origin);
                else {
                    n->pc_trie = (const uint32_t *)(n->pc_data + 4);
                    n->pc_trie_n = ts / 4;
                    n->pc_norm = (const char *)n->pc_data + 4 + ts;
                    n->pc_norm_len = n->pc_len - 4 - ts;
                }
            }
        }
    } else if (!strcmp(ty, "Sequence")) {
        n->type = TK_N_SEQUENCE;
        const cJSON *arr;
        s = tk_json_get(j, "normalizers", TK_JARR, true, &arr, origin, "Sequence normalizer");
        if (!s) {
            int cnt = cJSON_GetArraySize(arr);
            n->kids = calloc((size_t)cnt + 1, sizeof *n->kids);
            if (!n->kids) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr) {
                if (s) break;
                s = tk_norm_parse(it, origin, &n->kids[n->nkids]);
                if (!s) n->nkids++;
            }
        }
    } else {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: unknown normalizer type '%s'", origin, ty);
    }
    if (s) {
        tk_norm_free(n);
        return s;
    }
    *out = n;
    return AM_OK;
}

static bool bert_keep(uint32_t c) {
    if (c == 0 || c == 0xFFFD) return false;
    if (c == '\t' || c == '\n' || c == '\r') return true;
    if (c >= 0x20 && c < 0x7F) return true;
    return !tk_is_control_other(c);
}

static bool map_whitespace(tk_ctx *c, tk_ns *ns) {
    bool any = false, wide = false;
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        int l = tk_utf8_dec(ns->s + i, &cp);
        if (cp != ' ' && tk_is_whitespace(cp)) {
            any = true;
            if (l > 1) wide = true;
        }
        i += (uint32_t)l;
    }
    if (!any) return true;
    if (!wide) {
        char *o = tk_alloc(&c->arena, ns->len + 1);
        if (!o) return c->oom = true, false;
        for (uint32_t i = 0; i < ns->len; i++) o[i] = (ns->s[i] >= 9 && ns->s[i] <= 13) ? ' ' : ns->s[i];
        o[ns->len] = 0;
        ns->s = o;
        return true;
    }
    tk_tr_clear(&c->tr);
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (!tk_tr_push(c, tk_is_whitespace(cp) ? ' ' : cp, 0)) return false;
    }
    return tk_ns_transform(c, ns, 0);
}

static bool handle_chinese(tk_ctx *c, tk_ns *ns) {
    bool any = false;
    for (uint32_t i = 0; i < ns->len && !any;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (tk_is_chinese(cp)) any = true;
    }
    if (!any) return true;
    tk_tr_clear(&c->tr);
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        if (tk_is_chinese(cp)) {
            if (!tk_tr_push(c, ' ', 0) || !tk_tr_push(c, cp, 1) || !tk_tr_push(c, ' ', 1)) return false;
        } else if (!tk_tr_push(c, cp, 0))
            return false;
    }
    return tk_ns_transform(c, ns, 0);
}

static bool keep_not_mn(uint32_t c) { return !tk_is_mark_nonspacing(c); }

static bool has_non_ascii(const tk_ns *ns) {
    for (uint32_t i = 0; i < ns->len; i++)
        if ((uint8_t)ns->s[i] >= 0x80) return true;
    return false;
}

/* darts-clone common prefix search: the first (shortest) hit's value */
static long pc_lookup(const tk_norm *n, const char *key, size_t klen) {
    const uint32_t *a = n->pc_trie;
    size_t N = n->pc_trie_n;
    size_t pos = 0;
    uint32_t unit = a[0];
    pos ^= (size_t)((unit >> 10) << ((unit & (1u << 9)) >> 6));
    for (size_t i = 0; i < klen; i++) {
        uint8_t ch = (uint8_t)key[i];
        if (!ch) break;
        pos ^= ch;
        if (pos >= N) return -1;
        unit = a[pos];
        if ((unit & ((1u << 31) | 0xFF)) != ch) return -1;
        pos ^= (size_t)((unit >> 10) << ((unit & (1u << 9)) >> 6));
        if (pos >= N) return -1;
        if ((unit >> 8) & 1) return (long)(a[pos] & ((1u << 31) - 1));
    }
    return -1;
}

static const char *pc_transform(const tk_norm *n, const char *s, size_t len, size_t *outlen) {
    long idx = pc_lookup(n, s, len);
    if (idx < 0 || (size_t)idx >= n->pc_norm_len) return NULL;
    const char *p = n->pc_norm + idx;
    size_t k = 0;
    while ((size_t)idx + k < n->pc_norm_len && p[k]) k++;
    *outlen = k;
    return p;
}

static bool pc_replace(tk_ctx *c, const char *old, size_t oldlen, const char *nw, size_t nwlen) {
    int32_t oc = 0, nc = 0;
    for (size_t i = 0; i < oldlen;) {
        uint32_t cp;
        i += (size_t)tk_utf8_dec(old + i, &cp);
        oc++;
    }
    size_t start = c->tr.n;
    for (size_t i = 0; i < nwlen;) {
        uint32_t cp;
        i += (size_t)tk_utf8_dec(nw + i, &cp);
        if (!tk_tr_push(c, cp, 0)) return false;
        nc++;
    }
    int32_t diff = nc - oc;
    if (diff > 0) {
        for (size_t k = 0; k < (size_t)diff && c->tr.n - k > start; k++) c->tr.ch[c->tr.n - 1 - k] = 1;
    } else if (diff < 0 && c->tr.n > 0) {
        c->tr.ch[c->tr.n - 1] += diff;
    }
    return true;
}

static bool precompiled(tk_ctx *c, const tk_norm *n, tk_ns *ns) {
    if (!n->pc_trie) return true;
    tk_tr_clear(&c->tr);
    bool modified = false;
    uint32_t i = 0;
    while (i < ns->len) {
        /* one extended grapheme cluster */
        uint32_t cp;
        uint32_t j = i + (uint32_t)tk_utf8_dec(ns->s + i, &cp);
        utf8proc_int32_t state = 0;
        uint32_t prev = cp;
        while (j < ns->len) {
            uint32_t nx;
            int l = tk_utf8_dec(ns->s + j, &nx);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)nx, &state)) break;
            prev = nx;
            j += (uint32_t)l;
        }
        const char *g = ns->s + i;
        size_t glen = j - i;
        size_t nl;
        const char *nm;
        if (glen < 6 && (nm = pc_transform(n, g, glen, &nl))) {
            modified = true;
            if (!pc_replace(c, g, glen, nm, nl)) return false;
        } else {
            for (size_t k = 0; k < glen;) {
                uint32_t ch;
                int l = tk_utf8_dec(g + k, &ch);
                if ((nm = pc_transform(n, g + k, (size_t)l, &nl))) {
                    modified = true;
                    if (!pc_replace(c, g + k, (size_t)l, nm, nl)) return false;
                } else if (!tk_tr_push(c, ch, 0))
                    return false;
                k += (size_t)l;
            }
        }
        i = j;
    }
    if (!modified) return true;
    return tk_ns_transform(c, ns, 0);
}

static bool bytelevel_norm(tk_ctx *c, tk_ns *ns) {
    tk_tr_clear(&c->tr);
    for (uint32_t i = 0; i < ns->len;) {
        uint32_t cp;
        int l = tk_utf8_dec(ns->s + i, &cp);
        for (int k = 0; k < l; k++)
            if (!tk_tr_push(c, tk_byte2cp[(uint8_t)ns->s[i + k]], k > 0)) return false;
        i += (uint32_t)l;
    }
    return tk_ns_transform(c, ns, 0);
}

bool tk_norm_apply(tk_ctx *c, const tk_norm *n, tk_ns *ns) {
    switch (n->type) {
    case TK_N_BERT: {
        if (n->clean_text) {
            if (!tk_ns_filter(c, ns, bert_keep)) return false;
            if (!map_whitespace(c, ns)) return false;
        }
        if (n->chinese && !handle_chinese(c, ns)) return false;
        bool strip = n->strip_accents < 0 ? n->lowercase : n->strip_accents;
        if (strip && has_non_ascii(ns)) {
            if (!tk_ns_unicode(c, ns, false, false)) return false;
            if (!tk_ns_filter(c, ns, keep_not_mn)) return false;
        }
        if (n->lowercase && !tk_ns_lowercase(c, ns)) return false;
        return true;
    }
    case TK_N_NFC: return tk_ns_unicode(c, ns, true, false);
    case TK_N_NFD: return tk_ns_unicode(c, ns, false, false);
    case TK_N_NFKC: return tk_ns_unicode(c, ns, true, true);
    case TK_N_NFKD: return tk_ns_unicode(c, ns, false, true);
    case TK_N_LOWERCASE: return tk_ns_lowercase(c, ns);
    case TK_N_STRIP_ACCENTS: return tk_ns_filter(c, ns, keep_not_mn);
    case TK_N_STRIP: return tk_ns_strip(c, ns, n->left, n->right);
    case TK_N_REPLACE:
        if (!n->re.code) return true;
        if (!tk_find_regex(c, &n->re, ns->s, ns->len, false)) return false;
        return tk_ns_replace_matches(c, ns, n->content, n->clen);
    case TK_N_PREPEND: return tk_ns_prepend(c, ns, n->content, n->clen);
    case TK_N_PRECOMPILED: return precompiled(c, n, ns);
    case TK_N_BYTELEVEL: return bytelevel_norm(c, ns);
    case TK_N_SEQUENCE:
        for (size_t i = 0; i < n->nkids; i++)
            if (!tk_norm_apply(c, n->kids[i], ns)) return false;
        return true;
    }
    return true;
}
