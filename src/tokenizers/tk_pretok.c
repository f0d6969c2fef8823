/* tokenizers/tk_pretok.c — pre-tokenizers (BertPreTokenizer, ByteLevel, Metaspace, Whitespace,
 * WhitespaceSplit, Split, Punctuation, Digits, CharDelimiterSplit, Sequence) and the byte-level
 * alphabet shared with the ByteLevel decoder. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

uint32_t tk_byte2cp[256];
int16_t tk_cp2byte[512];
tk_regex tk_bytelevel_re;
static tk_regex whitespace_re;
static pthread_once_t bl_once = PTHREAD_ONCE_INIT;

static const char k_gpt2_re[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Rust's \w: Alphabetic, marks, decimal numbers, connector punctuation, joiners */
static const char k_ws_re[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]+|"
                              "[^\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}\\s]+";
static const char k_ws_re_fallback[] = "\\w+|[^\\w\\s]+";

static void bl_init(void) {
    int n = 0;
    for (int i = 0; i < 512; i++) tk_cp2byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        tk_byte2cp[b] = direct ? (uint32_t)b : (uint32_t)(256 + n++);
        tk_cp2byte[tk_byte2cp[b]] = (int16_t)b;
    }
    if (tk_regex_compile(&tk_bytelevel_re, k_gpt2_re, strlen(k_gpt2_re), "byte-level regex")) tk_bytelevel_re.code = NULL;
    if (tk_regex_compile(&whitespace_re, k_ws_re, strlen(k_ws_re), "whitespace regex"))
        if (tk_regex_compile(&whitespace_re, k_ws_re_fallback, strlen(k_ws_re_fallback), "whitespace regex"))
            whitespace_re.code = NULL;
}

void tk_bytelevel_init(void) { pthread_once(&bl_once, bl_init); }

void tk_pretok_free(tk_pretok *p) {
    if (!p) return;
    tk_regex_free(&p->re);
    for (size_t i = 0; i < p->nkids; i++) tk_pretok_free(p->kids[i]);
    free(p->kids);
    free(p);
}

static am_status parse_behavior(const cJSON *j, const char *key, int dflt, int *out, const char *origin, const char *what) {
    const cJSON *b;
    am_status s = tk_json_get(j, key, TK_JSTR, false, &b, origin, what);
    if (s) return s;
    if (!b) {
        *out = dflt;
        return AM_OK;
    }
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(b->valuestring, names[i])) {
            *out = i;
            return AM_OK;
        }
    return am__error(AM_ERR_FORMAT, "%s: %s: unknown split behavior '%s'", origin, what, b->valuestring);
}

am_status tk_pretok_parse(const cJSON *j, const char *origin, tk_pretok **out) {
    *out = NULL;
    tk_bytelevel_init();
    if (!cJSON_IsObject(j))
        return am__error(AM_ERR_FORMAT, "%s: pre_tokenizer must be an object, not %s", origin, tk_json_type_name(j));
    const cJSON *t;
    am_status s = tk_json_get(j, "type", TK_JSTR, true, &t, origin, "pre_tokenizer");
    if (s) return s;
    const char *ty = t->valuestring;
    tk_pretok *p = calloc(1, sizeof *p);
    if (!p) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    char what[96];
    snprintf(what, sizeof what, "%s pre-tokenizer", ty);
    if (!strcmp(ty, "BertPreTokenizer")) p->type = TK_P_BERT;
    else if (!strcmp(ty, "Whitespace")) p->type = TK_P_WHITESPACE;
    else if (!strcmp(ty, "WhitespaceSplit")) p->type = TK_P_WHITESPACE_SPLIT;
    else if (!strcmp(ty, "ByteLevel")) {
        p->type = TK_P_BYTELEVEL;
        s = tk_json_bool(j, "add_prefix_space", true, &p->add_prefix_space, origin, what);
        if (!s) s = tk_json_bool(j, "trim_offsets", true, &p->trim_offsets, origin, what);
        if (!s) s = tk_json_bool(j, "use_regex", true, &p->use_regex, origin, what);
        if (!s && p->use_regex && !tk_bytelevel_re.code) s = am__error(AM_ERR_INTERNAL, "%s: byte-level regex unavailable", origin);
    } else if (!strcmp(ty, "Metaspace")) {
        p->type = TK_P_METASPACE;
        const cJSON *r;
        s = tk_json_get(j, "replacement", TK_JSTR, false, &r, origin, what);
        const char *rep = r ? r->valuestring : "\xE2\x96\x81";
        size_t rl = strlen(rep);
        if (!s && (rl == 0 || rl > 4 || tk_utf8_invalid_at(rep, rl) != SIZE_MAX))
            s = am__error(AM_ERR_FORMAT, "%s: %s: 'replacement' must be one character", origin, what);
        if (!s) {
            uint32_t cp;
            int l = tk_utf8_dec(rep, &cp);
            if ((size_t)l != rl) s = am__error(AM_ERR_FORMAT, "%s: %s: 'replacement' must be one character", origin, what);
            p->replacement = cp;
            memcpy(p->rep_str, rep, rl);
            p->rep_len = rl;
        }
        bool aps = true;
        if (!s) s = tk_json_bool(j, "add_prefix_space", true, &aps, origin, what);
        if (!s) s = tk_json_bool(j, "split", true, &p->split, origin, what);
        const cJSON *ps = NULL;
        if (!s) s = tk_json_get(j, "prepend_scheme", TK_JSTR, false, &ps, origin, what);
        if (!s) {
            p->prepend_scheme = aps ? TK_PREPEND_ALWAYS : TK_PREPEND_NEVER;
            if (ps) {
                if (!strcmp(ps->valuestring, "always")) p->prepend_scheme = TK_PREPEND_ALWAYS;
                else if (!strcmp(ps->valuestring, "first")) p->prepend_scheme = TK_PREPEND_FIRST;
                else if (!strcmp(ps->valuestring, "never")) p->prepend_scheme = TK_PREPEND_NEVER;
                else s = am__error(AM_ERR_FORMAT, "%s: %s: unknown prepend_scheme '%s'", origin, what, ps->valuestring);
            }
        }
    } else if (!strcmp(ty, "Split")) {
        p->type = TK_P_SPLIT;
        char *lit = NULL;
        size_t litlen = 0;
        s = tk_parse_pattern(j, origin, what, &p->re, &lit, &litlen);
        free(lit);
        p->has_re = p->re.code != NULL;
        if (!s) s = parse_behavior(j, "behavior", TK_REMOVED, &p->behavior, origin, what);
        if (!s) s = tk_json_bool(j, "invert", false, &p->invert, origin, what);
        if (!s && !cJSON_GetObjectItemCaseSensitive(j, "behavior"))
            s = am__error(AM_ERR_FORMAT, "%s: %s: missing key 'behavior'", origin, what);
    } else if (!strcmp(ty, "Punctuation")) {
        p->type = TK_P_PUNCT;
        s = parse_behavior(j, "behavior", TK_ISOLATED, &p->behavior, origin, what);
    } else if (!strcmp(ty, "Digits")) {
        p->type = TK_P_DIGITS;
        s = tk_json_bool(j, "individual_digits", false, &p->individual, origin, what);
    } else if (!strcmp(ty, "CharDelimiterSplit")) {
        p->type = TK_P_CHAR_DELIM;
        const cJSON *d;
        s = tk_json_get(j, "delimiter", TK_JSTR, true, &d, origin, what);
        if (!s) {
            size_t dl = strlen(d->valuestring);
            if (!dl || tk_utf8_invalid_at(d->valuestring, dl) != SIZE_MAX)
                s = am__error(AM_ERR_FORMAT, "%s: %s: 'delimiter' must be one character", origin, what);
            else tk_utf8_dec(d->valuestring, &p->replacement);
        }
    } else if (!strcmp(ty, "Sequence")) {
        p->type = TK_P_SEQUENCE;
        const cJSON *arr;
        s = tk_json_get(j, "pretokenizers", TK_JARR, true, &arr, origin, what);
        if (!s) {
            p->kids = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *p->kids);
            if (!p->kids) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr) {
                if (s) break;
                s = tk_pretok_parse(it, origin, &p->kids[p->nkids]);
                if (!s) p->nkids++;
            }
        }
    } else {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: unknown pre_tokenizer type '%s'", origin, ty);
    }
    if (s) {
        tk_pretok_free(p);
        return s;
    }
    *out = p;
    return AM_OK;
}

static bool is_ws(uint32_t c) { return tk_is_whitespace(c); }

/* Split every not-yet-tokenized piece of *cur with fn, into the other vector. */
typedef bool (*split_fn)(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out);

static bool each_split(tk_ctx *c, const tk_pretok *p, tk_splitv **cur, split_fn fn) {
    tk_splitv *in = *cur;
    tk_splitv *out = in == &c->sv[0] ? &c->sv[1] : &c->sv[0];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (in->v[i].added_id >= 0) {
            if (!tk_split_push(c, out, &in->v[i])) return false;
            continue;
        }
        tk_ns ns = in->v[i].ns;
        if (!fn(c, p, &ns, out)) return false;
    }
    *cur = out;
    return true;
}

static bool sp_bert(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    (void)p;
    /* whitespace removed, then punctuation isolated: done in one pass over the chars */
    uint32_t start = 0, i = 0;
    while (i < ns->len) {
        uint32_t cp;
        int l = tk_utf8_dec(ns->s + i, &cp);
        bool ws = tk_is_whitespace(cp), pu = !ws && tk_is_bert_punct(cp);
        if (ws || pu) {
            if (start < i) {
                tk_split sp = {tk_ns_slice(c, ns, start, i), -1, 0, 0};
                if (!tk_split_push(c, out, &sp)) return false;
            }
            if (pu) {
                tk_split sp = {tk_ns_slice(c, ns, i, i + (uint32_t)l), -1, 0, 0};
                if (!tk_split_push(c, out, &sp)) return false;
            }
            start = i + (uint32_t)l;
        }
        i += (uint32_t)l;
    }
    if (start < ns->len) {
        tk_split sp = {tk_ns_slice(c, ns, start, ns->len), -1, 0, 0};
        if (!tk_split_push(c, out, &sp)) return false;
    }
    return true;
}

static bool sp_wsplit(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    (void)p;
    if (!tk_find_char(c, is_ws, 0, ns->s, ns->len, false)) return false;
    return tk_ns_split(c, ns, TK_REMOVED, out);
}

static bool sp_whitespace(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    (void)p;
    if (!tk_find_regex(c, &whitespace_re, ns->s, ns->len, true)) return false;
    return tk_ns_split(c, ns, TK_REMOVED, out);
}

static bool sp_split(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (!p->has_re) { /* empty literal: nothing matches */
        c->mn = 0;
        if (!tk_match_push(c, 0, ns->len, p->invert)) return false;
    } else if (!tk_find_regex(c, &p->re, ns->s, ns->len, p->invert))
        return false;
    return tk_ns_split(c, ns, p->behavior, out);
}

static bool sp_punct(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (!tk_find_char(c, tk_is_punct, 0, ns->s, ns->len, false)) return false;
    return tk_ns_split(c, ns, p->behavior, out);
}

static bool sp_digits(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (!tk_find_char(c, tk_is_numeric, 0, ns->s, ns->len, false)) return false;
    return tk_ns_split(c, ns, p->individual ? TK_ISOLATED : TK_CONTIGUOUS, out);
}

static bool sp_chardelim(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (!tk_find_char(c, NULL, p->replacement, ns->s, ns->len, false)) return false;
    return tk_ns_split(c, ns, TK_REMOVED, out);
}

static bool sp_metaspace(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (!tk_find_char(c, NULL, ' ', ns->s, ns->len, false)) return false;
    if (!tk_ns_replace_matches(c, ns, p->rep_str, p->rep_len)) return false;
    bool starts = ns->len >= p->rep_len && !memcmp(ns->s, p->rep_str, p->rep_len);
    if (p->prepend_scheme == TK_PREPEND_ALWAYS && !starts) {
        if (!tk_ns_prepend(c, ns, p->rep_str, p->rep_len)) return false;
    } else if (p->prepend_scheme == TK_PREPEND_FIRST && !starts && ns->oshift == 0) {
        if (!tk_ns_prepend(c, ns, p->rep_str, p->rep_len)) return false;
    }
    if (p->split) {
        if (!tk_find_char(c, NULL, p->replacement, ns->s, ns->len, false)) return false;
        return tk_ns_split(c, ns, TK_MERGED_NEXT, out);
    }
    tk_split sp = {*ns, -1, 0, 0};
    if (!ns->len) return true;
    return tk_split_push(c, out, &sp);
}

static bool sp_bytelevel(tk_ctx *c, const tk_pretok *p, tk_ns *ns, tk_splitv *out) {
    if (p->add_prefix_space && ns->len && ns->s[0] != ' ' && !tk_ns_prepend(c, ns, " ", 1)) return false;
    size_t first = out->n;
    if (p->use_regex) {
        if (!tk_find_regex(c, &tk_bytelevel_re, ns->s, ns->len, false)) return false;
        if (!tk_ns_split(c, ns, TK_ISOLATED, out)) return false;
    } else if (ns->len) {
        tk_split sp = {*ns, -1, 0, 0};
        if (!tk_split_push(c, out, &sp)) return false;
    }
    /* map every byte to its byte-level char; each output char keeps its source char's alignment */
    for (size_t k = first; k < out->n; k++) {
        tk_ns *x = &out->v[k].ns;
        size_t cap = (size_t)x->len * 2;
        char *o = tk_alloc(&c->arena, cap + 1);
        tk_al *al = tk_alloc(&c->arena, (cap + 1) * sizeof(tk_al));
        if (!o || !al) return c->oom = true, false;
        size_t j = 0;
        for (uint32_t i = 0; i < x->len; i++) {
            uint32_t cp = tk_byte2cp[(uint8_t)x->s[i]];
            tk_al a = x->al[i];
            if (cp < 0x80) {
                o[j] = (char)cp;
                al[j++] = a;
            } else {
                o[j] = (char)(0xC0 | (cp >> 6));
                o[j + 1] = (char)(0x80 | (cp & 0x3F));
                al[j] = al[j + 1] = a;
                j += 2;
            }
        }
        o[j] = 0;
        x->s = o;
        x->al = al;
        x->len = (uint32_t)j;
    }
    return true;
}

bool tk_pretok_apply(tk_ctx *c, const tk_pretok *p, tk_splitv **cur) {
    switch (p->type) {
    case TK_P_BERT: return each_split(c, p, cur, sp_bert);
    case TK_P_WHITESPACE_SPLIT: return each_split(c, p, cur, sp_wsplit);
    case TK_P_WHITESPACE: return each_split(c, p, cur, sp_whitespace);
    case TK_P_SPLIT: return each_split(c, p, cur, sp_split);
    case TK_P_PUNCT: return each_split(c, p, cur, sp_punct);
    case TK_P_DIGITS: return each_split(c, p, cur, sp_digits);
    case TK_P_CHAR_DELIM: return each_split(c, p, cur, sp_chardelim);
    case TK_P_METASPACE: return each_split(c, p, cur, sp_metaspace);
    case TK_P_BYTELEVEL: return each_split(c, p, cur, sp_bytelevel);
    case TK_P_SEQUENCE:
        for (size_t i = 0; i < p->nkids; i++)
            if (!tk_pretok_apply(c, p->kids[i], cur)) return false;
        return true;
    }
    return true;
}
