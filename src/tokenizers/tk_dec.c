/* tokenizers/tk_dec.c — decoders (WordPiece, ByteLevel, Metaspace, ByteFallback, Fuse, Strip,
 * Replace, BPEDecoder, CTC, Sequence) working, as in the Rust library, on the list of token
 * strings; plus transformers' clean_up_tokenization. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>

bool tk_strv_push(tk_strv *v, const char *s, size_t n) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        char **p = realloc(v->s, nc * sizeof *p);
        if (!p) return false;
        v->s = p;
        size_t *l = realloc(v->len, nc * sizeof *l);
        if (!l) return false;
        v->len = l;
        v->cap = nc;
    }
    char *d = malloc(n + 1);
    if (!d) return false;
    memcpy(d, s, n);
    d[n] = 0;
    v->len[v->n] = n;
    v->s[v->n++] = d;
    return true;
}

void tk_strv_free(tk_strv *v) {
    for (size_t i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
    free(v->len);
    v->s = NULL;
    v->len = NULL;
    v->n = v->cap = 0;
}

void tk_dec_free(tk_dec *d) {
    if (!d) return;
    free(d->prefix);
    free(d->pattern);
    free(d->content);
    free(d->suffix);
    free(d->pad_token);
    free(d->word_delim);
    tk_regex_free(&d->re);
    for (size_t i = 0; i < d->nkids; i++) tk_dec_free(d->kids[i]);
    free(d->kids);
    free(d);
}

static am_status one_char(const cJSON *j, const char *key, const char *dflt, uint32_t *out, const char *origin, const char *what) {
    const cJSON *v;
    am_status s = tk_json_get(j, key, TK_JSTR, false, &v, origin, what);
    if (s) return s;
    const char *str = v ? v->valuestring : dflt;
    size_t l = strlen(str);
    if (!l || tk_utf8_invalid_at(str, l) != SIZE_MAX || (size_t)tk_utf8_dec(str, out) != l)
        return am__error(AM_ERR_FORMAT, "%s: %s: '%s' must be one character", origin, what, key);
    return AM_OK;
}

am_status tk_dec_parse(const cJSON *j, const char *origin, tk_dec **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return am__error(AM_ERR_FORMAT, "%s: decoder must be an object, not %s", origin, tk_json_type_name(j));
    const cJSON *t;
    am_status s = tk_json_get(j, "type", TK_JSTR, true, &t, origin, "decoder");
    if (s) return s;
    const char *ty = t->valuestring;
    tk_dec *d = calloc(1, sizeof *d);
    if (!d) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    char what[96];
    snprintf(what, sizeof what, "%s decoder", ty);
    if (!strcmp(ty, "WordPiece")) {
        d->type = TK_D_WORDPIECE;
        s = tk_json_str(j, "prefix", false, "##", &d->prefix, origin, what);
        if (!s) s = tk_json_bool(j, "cleanup", true, &d->cleanup, origin, what);
    } else if (!strcmp(ty, "ByteLevel")) {
        d->type = TK_D_BYTELEVEL;
        tk_bytelevel_init();
    } else if (!strcmp(ty, "Metaspace")) {
        d->type = TK_D_METASPACE;
        s = one_char(j, "replacement", "\xE2\x96\x81", &d->replacement, origin, what);
        bool aps = true;
        if (!s) s = tk_json_bool(j, "add_prefix_space", true, &aps, origin, what);
        d->prepend = aps;
        const cJSON *ps = NULL;
        if (!s) s = tk_json_get(j, "prepend_scheme", TK_JSTR, false, &ps, origin, what);
        if (!s && ps) d->prepend = strcmp(ps->valuestring, "never") != 0;
    } else if (!strcmp(ty, "ByteFallback")) d->type = TK_D_BYTEFALLBACK;
    else if (!strcmp(ty, "Fuse")) d->type = TK_D_FUSE;
    else if (!strcmp(ty, "Strip")) {
        d->type = TK_D_STRIP;
        int64_t a = 0, b = 0;
        s = one_char(j, "content", " ", &d->strip_content, origin, what);
        if (!s) s = tk_json_int(j, "start", 0, &a, origin, what);
        if (!s) s = tk_json_int(j, "stop", 0, &b, origin, what);
        d->start = a < 0 ? 0 : (size_t)a;
        d->stop = b < 0 ? 0 : (size_t)b;
    } else if (!strcmp(ty, "Replace")) {
        d->type = TK_D_REPLACE;
        s = tk_parse_pattern(j, origin, what, &d->re, &d->pattern, &d->plen);
        if (!s) s = tk_json_str(j, "content", true, NULL, &d->content, origin, what);
        if (!s) d->clen = strlen(d->content);
    } else if (!strcmp(ty, "BPEDecoder")) {
        d->type = TK_D_BPE;
        s = tk_json_str(j, "suffix", false, "</w>", &d->suffix, origin, what);
    } else if (!strcmp(ty, "CTC")) {
        d->type = TK_D_CTC;
        s = tk_json_str(j, "pad_token", false, "<pad>", &d->pad_token, origin, what);
        if (!s) s = tk_json_str(j, "word_delimiter_token", false, "|", &d->word_delim, origin, what);
        if (!s) s = tk_json_bool(j, "cleanup", true, &d->cleanup, origin, what);
    } else if (!strcmp(ty, "Sequence")) {
        d->type = TK_D_SEQUENCE;
        const cJSON *arr;
        s = tk_json_get(j, "decoders", TK_JARR, true, &arr, origin, what);
        if (!s) {
            d->kids = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *d->kids);
            if (!d->kids) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr) {
                if (s) break;
                s = tk_dec_parse(it, origin, &d->kids[d->nkids]);
                if (!s) d->nkids++;
            }
        }
    } else {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: unknown decoder type '%s'", origin, ty);
    }
    if (s) {
        tk_dec_free(d);
        return s;
    }
    *out = d;
    return AM_OK;
}

/* Replace every occurrence of `from` by `to` (a new malloc'd string). */
static char *str_replace(const char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), sl = strlen(s);
    if (!fl) return strdup(s);
    size_t cnt = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl) cnt++;
    char *o = malloc(sl + cnt * (tl > fl ? tl - fl : 0) + 1);
    if (!o) return NULL;
    char *w = o;
    const char *p = s, *q;
    while ((q = strstr(p, from))) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, tl);
        w += tl;
        p = q + fl;
    }
    strcpy(w, p);
    return o;
}

static bool replace_in(char **s, const char *from, const char *to) {
    if (!strstr(*s, from)) return true;
    char *n = str_replace(*s, from, to);
    if (!n) return false;
    free(*s);
    *s = n;
    return true;
}

/* The Rust WordPiece decoder's cleanup (note: " do not" -> " don't", unlike transformers). */
static bool wp_cleanup(char **s) {
    static const char *pairs[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
                                     {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (!replace_in(s, pairs[i][0], pairs[i][1])) return false;
    return true;
}

void tk_cleanup_tokenization(char *s, size_t *len) {
    static const char *pairs[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                                     {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    /* every replacement shortens the string, so it is done in place, pass by pass as Python does */
    size_t n = *len;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const char *from = pairs[i][0], *to = pairs[i][1];
        size_t fl = strlen(from), tl = strlen(to);
        size_t r = 0, w = 0;
        for (;;) {
            char *q = memmem(s + r, n - r, from, fl);
            size_t upto = q ? (size_t)(q - s) : n;
            memmove(s + w, s + r, upto - r);
            w += upto - r;
            if (!q) break;
            memcpy(s + w, to, tl);
            w += tl;
            r = upto + fl;
        }
        n = w;
        s[n] = 0;
    }
    *len = n;
}

static bool set_tok_len(tk_strv *v, size_t i, char *n, size_t len) {
    if (!n) return false;
    free(v->s[i]);
    v->s[i] = n;
    v->len[i] = len;
    return true;
}

static bool set_tok(tk_strv *v, size_t i, char *n) { return set_tok_len(v, i, n, n ? strlen(n) : 0); }

static bool fuse_all(tk_strv *v) {
    if (!v->n) return true;
    size_t total = 0;
    for (size_t i = 0; i < v->n; i++) total += v->len[i];
    char *o = malloc(total + 1);
    if (!o) return false;
    size_t j = 0;
    for (size_t i = 0; i < v->n; i++) {
        memcpy(o + j, v->s[i], v->len[i]);
        j += v->len[i];
        free(v->s[i]);
    }
    o[j] = 0;
    v->s[0] = o;
    v->len[0] = j;
    v->n = 1;
    return true;
}

static bool dec_bytelevel(tk_strv *v) {
    size_t total = 0;
    for (size_t i = 0; i < v->n; i++) total += v->len[i];
    char *bytes = malloc(total + 1);
    if (!bytes) return false;
    size_t j = 0;
    for (size_t i = 0; i < v->n; i++) {
        const char *t = v->s[i];
        size_t l = v->len[i], save = j;
        bool ok = true;
        for (size_t k = 0; k < l;) {
            uint32_t cp;
            int cl = tk_utf8_dec(t + k, &cp);
            if (cp >= 512 || tk_cp2byte[cp] < 0) {
                ok = false;
                break;
            }
            bytes[j++] = (char)tk_cp2byte[cp];
            k += (size_t)cl;
        }
        if (!ok) {
            j = save;
            memcpy(bytes + j, t, l);
            j += l;
        }
    }
    size_t ol;
    char *s = tk_utf8_lossy(bytes, j, &ol);
    free(bytes);
    if (!s) return false;
    for (size_t i = 0; i < v->n; i++) free(v->s[i]);
    if (!v->n) {
        free(s);
        return true;
    }
    v->s[0] = s;
    v->len[0] = ol;
    v->n = 1;
    return true;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool dec_bytefallback(tk_strv *v) {
    tk_strv out = {0};
    char *pend = malloc(v->n + 1);
    size_t pn = 0;
    bool ok = pend != NULL;
    for (size_t i = 0; i <= v->n && ok; i++) {
        int byte = -1;
        if (i < v->n) {
            const char *t = v->s[i];
            if (v->len[i] == 6 && !strncmp(t, "<0x", 3) && t[5] == '>' && hexv(t[3]) >= 0 && hexv(t[4]) >= 0)
                byte = hexv(t[3]) * 16 + hexv(t[4]);
        }
        if (byte >= 0) {
            pend[pn++] = (char)byte;
            continue;
        }
        if (pn) {
            if (tk_utf8_invalid_at(pend, pn) == SIZE_MAX) ok = tk_strv_push(&out, pend, pn);
            else
                for (size_t k = 0; k < pn && ok; k++) ok = tk_strv_push(&out, "\xEF\xBF\xBD", 3);
            pn = 0;
        }
        if (i < v->n && ok) ok = tk_strv_push(&out, v->s[i], v->len[i]);
    }
    free(pend);
    if (!ok) {
        tk_strv_free(&out);
        return false;
    }
    tk_strv_free(v);
    *v = out;
    return true;
}

bool tk_dec_chain(const tk_dec *d, tk_strv *v) {
    switch (d->type) {
    case TK_D_SEQUENCE:
        for (size_t i = 0; i < d->nkids; i++)
            if (!tk_dec_chain(d->kids[i], v)) return false;
        return true;
    case TK_D_FUSE: return fuse_all(v);
    case TK_D_BYTELEVEL: return dec_bytelevel(v);
    case TK_D_BYTEFALLBACK: return dec_bytefallback(v);
    case TK_D_WORDPIECE:
        for (size_t i = 0; i < v->n; i++) {
            if (i) {
                size_t pl = strlen(d->prefix);
                char *t = v->s[i];
                char *n;
                if (!strncmp(t, d->prefix, pl)) n = strdup(t + pl);
                else {
                    n = malloc(strlen(t) + 2);
                    if (n) {
                        n[0] = ' ';
                        strcpy(n + 1, t);
                    }
                }
                if (!set_tok(v, i, n)) return false;
            }
            if (d->cleanup && !wp_cleanup(&v->s[i])) return false;
            v->len[i] = strlen(v->s[i]);
        }
        return true;
    case TK_D_METASPACE:
        for (size_t i = 0; i < v->n; i++) {
            const char *t = v->s[i];
            size_t l = v->len[i];
            char *n = malloc(l + 1);
            if (!n) return false;
            size_t j = 0;
            for (size_t k = 0; k < l;) {
                uint32_t cp;
                int cl = tk_utf8_dec(t + k, &cp);
                if (cp == d->replacement) {
                    if (!(i == 0 && d->prepend)) n[j++] = ' ';
                } else {
                    memcpy(n + j, t + k, (size_t)cl);
                    j += (size_t)cl;
                }
                k += (size_t)cl;
            }
            n[j] = 0;
            set_tok_len(v, i, n, j);
        }
        return true;
    case TK_D_STRIP:
        for (size_t i = 0; i < v->n; i++) {
            const char *t = v->s[i];
            size_t l = v->len[i];
            /* char boundaries */
            size_t nch = 0;
            size_t *pos = malloc((l + 1) * sizeof *pos);
            if (!pos) return false;
            for (size_t k = 0; k < l;) {
                uint32_t cp;
                pos[nch++] = k;
                k += (size_t)tk_utf8_dec(t + k, &cp);
            }
            pos[nch] = l;
            size_t sc = 0, ec = nch;
            for (size_t k = 0; k < d->start && k < nch; k++) {
                uint32_t cp;
                tk_utf8_dec(t + pos[k], &cp);
                if (cp != d->strip_content) break;
                sc = k + 1;
            }
            for (size_t k = 0; k < d->stop && k < nch; k++) {
                size_t idx = nch - k - 1;
                uint32_t cp;
                tk_utf8_dec(t + pos[idx], &cp);
                if (cp != d->strip_content) break;
                ec = idx;
            }
            size_t nl = sc < ec ? pos[ec] - pos[sc] : 0;
            char *n = malloc(nl + 1);
            if (n) {
                memcpy(n, t + (sc < ec ? pos[sc] : 0), nl);
                n[nl] = 0;
            }
            free(pos);
            if (!set_tok_len(v, i, n, nl)) return false;
        }
        return true;
    case TK_D_REPLACE:
        for (size_t i = 0; i < v->n; i++) {
            if (!d->re.code) continue;
            /* replace regex matches (literal strings compile as literal patterns) */
            PCRE2_SIZE outlen = v->len[i] * (d->clen + 1) + 16;
            char *o = malloc(outlen + 1);
            if (!o) return false;
            int rc = pcre2_substitute(d->re.code, (PCRE2_SPTR)v->s[i], v->len[i], 0,
                                      PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_LITERAL, NULL, NULL, (PCRE2_SPTR)d->content,
                                      d->clen, (PCRE2_UCHAR *)o, &outlen);
            if (rc < 0) {
                free(o);
                return false;
            }
            o[outlen] = 0;
            set_tok_len(v, i, o, outlen);
        }
        return true;
    case TK_D_BPE:
        for (size_t i = 0; i < v->n; i++) {
            char *n = str_replace(v->s[i], d->suffix, i + 1 == v->n ? "" : " ");
            if (!set_tok(v, i, n)) return false;
        }
        return true;
    case TK_D_CTC: {
        /* dedup consecutive tokens, drop pads, word delimiter -> space */
        size_t w = 0;
        for (size_t i = 0; i < v->n; i++) {
            if (w && !strcmp(v->s[w - 1], v->s[i])) {
                free(v->s[i]);
                continue;
            }
            v->len[w] = v->len[i];
            v->s[w++] = v->s[i];
        }
        v->n = w;
        w = 0;
        for (size_t i = 0; i < v->n; i++) {
            if (!strcmp(v->s[i], d->pad_token)) {
                free(v->s[i]);
                continue;
            }
            char *n = str_replace(v->s[i], d->word_delim, " ");
            if (!n) return false;
            if (d->cleanup && !wp_cleanup(&n)) return false;
            free(v->s[i]);
            v->len[w] = strlen(n);
            v->s[w++] = n;
        }
        v->n = w;
        return true;
    }
    }
    return true;
}
