/* tokenizers/tk_post.c — the encoding (ids, tokens, offsets, masks, word/sequence ids) and its
 * edits (append, truncate, pad), plus the post-processors: BertProcessing, RobertaProcessing,
 * TemplateProcessing, ByteLevel (offset trimming) and Sequence. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>

/* ---- encoding ---- */
am_encoding *tk_enc_new(void) { return calloc(1, sizeof(am_encoding)); }

static bool enc_reserve(am_encoding *e, size_t n) {
    if (n <= e->cap) return true;
    size_t nc = e->cap ? e->cap * 2 : 16;
    while (nc < n) nc *= 2;
#define GROW(f, T)                                                                                 \
    do {                                                                                           \
        T *p_ = realloc(e->f, nc * sizeof(T) * (sizeof(#f) == 5 && !strcmp(#f, "offs") ? 2 : 1)); \
        if (!p_) return false;                                                                     \
        e->f = p_;                                                                                 \
    } while (0)
    GROW(ids, int32_t);
    GROW(type_ids, int32_t);
    GROW(word_ids, int32_t);
    GROW(seq_ids, int32_t);
    GROW(special, uint8_t);
    GROW(attn, uint8_t);
    GROW(offs, uint32_t);
    GROW(tok, uint32_t);
    GROW(tlen, uint32_t);
#undef GROW
    e->cap = nc;
    return true;
}

static bool pool_add(am_encoding *e, const char *s, size_t n, uint32_t *off) {
    if (e->plen + n + 1 > e->pcap) {
        size_t nc = e->pcap ? e->pcap * 2 : 256;
        while (nc < e->plen + n + 1) nc *= 2;
        char *p = realloc(e->pool, nc);
        if (!p) return false;
        e->pool = p;
        e->pcap = nc;
    }
    if (n) memcpy(e->pool + e->plen, s, n); /* an empty token may come as (NULL, 0) */
    e->pool[e->plen + n] = 0;
    *off = (uint32_t)e->plen;
    e->plen += n + 1;
    return true;
}

bool tk_enc_push(am_encoding *e, int32_t id, const char *tok, size_t tlen, uint32_t os, uint32_t oe, int32_t word,
                 int32_t type, int32_t seq, uint8_t special, uint8_t attn) {
    if (!enc_reserve(e, e->n + 1)) return false;
    size_t i = e->n;
    if (!pool_add(e, tok, tlen, &e->tok[i])) return false;
    e->tlen[i] = (uint32_t)tlen;
    e->ids[i] = id;
    e->type_ids[i] = type;
    e->word_ids[i] = word;
    e->seq_ids[i] = seq;
    e->special[i] = special;
    e->attn[i] = attn;
    e->offs[2 * i] = os;
    e->offs[2 * i + 1] = oe;
    e->n++;
    return true;
}

const char *tk_enc_token(const am_encoding *e, size_t i) { return e->pool + e->tok[i]; }
size_t tk_enc_token_len(const am_encoding *e, size_t i) { return e->tlen[i]; }

bool tk_enc_append(am_encoding *d, const am_encoding *s) {
    for (size_t i = 0; i < s->n; i++) {
        const char *t = tk_enc_token(s, i);
        if (!tk_enc_push(d, s->ids[i], t, tk_enc_token_len(s, i), s->offs[2 * i], s->offs[2 * i + 1], s->word_ids[i], s->type_ids[i],
                         s->seq_ids[i], s->special[i], s->attn[i]))
            return false;
    }
    return true;
}

void tk_enc_truncate(am_encoding *e, size_t max_len, bool left) {
    if (max_len >= e->n) return;
    size_t start = left ? e->n - max_len : 0;
    if (start) {
        memmove(e->ids, e->ids + start, max_len * sizeof *e->ids);
        memmove(e->type_ids, e->type_ids + start, max_len * sizeof *e->type_ids);
        memmove(e->word_ids, e->word_ids + start, max_len * sizeof *e->word_ids);
        memmove(e->seq_ids, e->seq_ids + start, max_len * sizeof *e->seq_ids);
        memmove(e->special, e->special + start, max_len);
        memmove(e->attn, e->attn + start, max_len);
        memmove(e->offs, e->offs + 2 * start, max_len * 2 * sizeof *e->offs);
        memmove(e->tok, e->tok + start, max_len * sizeof *e->tok);
        memmove(e->tlen, e->tlen + start, max_len * sizeof *e->tlen);
    }
    e->n = max_len;
}

bool tk_enc_pad(am_encoding *e, size_t len, int32_t pad_id, int32_t pad_type, const char *pad_tok, bool left) {
    if (e->n >= len) return true;
    size_t add = len - e->n, old = e->n;
    for (size_t k = 0; k < add; k++)
        if (!tk_enc_push(e, pad_id, pad_tok, strlen(pad_tok), 0, 0, -1, pad_type, e->has_ranges ? -1 : 0, 1, 0)) return false;
    if (left) {
        /* rotate the pads to the front */
#define ROT(f, T, k_)                                                                              \
    do {                                                                                           \
        T *tmp_ = malloc(add * (k_) * sizeof(T));                                                  \
        if (!tmp_) return false;                                                                   \
        memcpy(tmp_, e->f + old * (k_), add * (k_) * sizeof(T));                                   \
        memmove(e->f + add * (k_), e->f, old * (k_) * sizeof(T));                                  \
        memcpy(e->f, tmp_, add * (k_) * sizeof(T));                                                \
        free(tmp_);                                                                                \
    } while (0)
        ROT(ids, int32_t, 1);
        ROT(type_ids, int32_t, 1);
        ROT(word_ids, int32_t, 1);
        ROT(seq_ids, int32_t, 1);
        ROT(special, uint8_t, 1);
        ROT(attn, uint8_t, 1);
        ROT(offs, uint32_t, 2);
        ROT(tok, uint32_t, 1);
        ROT(tlen, uint32_t, 1);
#undef ROT
    }
    return true;
}

void am_encoding_free(am_encoding *e) {
    if (!e) return;
    free(e->ids);
    free(e->type_ids);
    free(e->word_ids);
    free(e->seq_ids);
    free(e->special);
    free(e->attn);
    free(e->offs);
    free(e->tok);
    free(e->tlen);
    free(e->pool);
    free(e->error);
    free(e);
}

/* ---- post-processors ---- */
void tk_pp_free(tk_pp *p) {
    if (!p) return;
    free(p->cls);
    free(p->sep);
    for (size_t i = 0; i < p->nsingle; i++) free(p->single[i].sid);
    for (size_t i = 0; i < p->npair; i++) free(p->pair[i].sid);
    free(p->single);
    free(p->pair);
    for (size_t i = 0; i < p->nsp; i++) {
        free(p->sp[i].key);
        free(p->sp[i].ids);
        for (size_t k = 0; k < p->sp[i].n; k++) free(p->sp[i].toks[k]);
        free(p->sp[i].toks);
    }
    free(p->sp);
    for (size_t i = 0; i < p->nkids; i++) tk_pp_free(p->kids[i]);
    free(p->kids);
    free(p);
}

static am_status parse_tok_pair(const cJSON *j, const char *key, char **tok, int32_t *id, const char *origin, const char *what) {
    const cJSON *a;
    am_status s = tk_json_get(j, key, TK_JARR, true, &a, origin, what);
    if (s) return s;
    if (cJSON_GetArraySize(a) != 2 || !cJSON_IsString(a->child) || !cJSON_IsNumber(a->child->next))
        return am__error(AM_ERR_FORMAT, "%s: %s: '%s' must be [token, id]", origin, what, key);
    *tok = strdup(a->child->valuestring);
    *id = (int32_t)a->child->next->valuedouble;
    return *tok ? AM_OK : am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
}

/* A template: a list of {"SpecialToken": {"id", "type_id"}} / {"Sequence": {"id": "A"|"B", "type_id"}},
 * or the string form "[CLS]:0 $A:0 [SEP]:0". */
static am_status parse_template(const cJSON *j, tk_piece **out, size_t *n, const char *origin) {
    *out = NULL;
    *n = 0;
    if (cJSON_IsString(j)) {
        const char *p = j->valuestring;
        size_t cap = strlen(p) / 2 + 2;
        tk_piece *v = calloc(cap, sizeof *v);
        if (!v) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        while (*p) {
            while (*p == ' ') p++;
            if (!*p) break;
            const char *e = p;
            while (*e && *e != ' ') e++;
            const char *colon = NULL;
            for (const char *q = p; q < e; q++)
                if (*q == ':') colon = q;
            const char *name_end = colon ? colon : e;
            int32_t type = colon ? atoi(colon + 1) : 0;
            tk_piece pc = {0};
            if (*p == '$') {
                pc.seq = (name_end - p == 1 || p[1] == 'A' || p[1] == 'a') ? 0 : 1;
                if (name_end - p > 1 && p[1] >= '0' && p[1] <= '9') type = atoi(p + 1);
            } else {
                pc.special = true;
                pc.sid = strndup(p, (size_t)(name_end - p));
            }
            pc.type_id = type;
            v[(*n)++] = pc;
            if (pc.special && !pc.sid) {
                *out = v; /* freed with the processor */
                return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            }
            p = e;
        }
        *out = v;
        return AM_OK;
    }
    if (!cJSON_IsArray(j)) return am__error(AM_ERR_FORMAT, "%s: TemplateProcessing: template must be a list, not %s", origin, tk_json_type_name(j));
    int cnt = cJSON_GetArraySize(j);
    tk_piece *v = calloc((size_t)cnt + 1, sizeof *v);
    if (!v) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    *out = v;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        const cJSON *body = sp ? sp : sq;
        if (!cJSON_IsObject(body))
            return am__error(AM_ERR_FORMAT, "%s: TemplateProcessing: template pieces must be {\"SpecialToken\": ...} or {\"Sequence\": ...}", origin);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
        const cJSON *ti = cJSON_GetObjectItemCaseSensitive(body, "type_id");
        if (!cJSON_IsString(id)) return am__error(AM_ERR_FORMAT, "%s: TemplateProcessing: piece 'id' must be a string", origin);
        tk_piece pc = {0};
        pc.type_id = cJSON_IsNumber(ti) ? (int32_t)ti->valuedouble : 0;
        if (sp) {
            pc.special = true;
            pc.sid = strdup(id->valuestring);
        } else {
            pc.seq = strcmp(id->valuestring, "A") ? 1 : 0;
        }
        v[(*n)++] = pc;
        if (pc.special && !pc.sid) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    }
    return AM_OK;
}

am_status tk_pp_parse(const cJSON *j, const char *origin, tk_pp **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return am__error(AM_ERR_FORMAT, "%s: post_processor must be an object, not %s", origin, tk_json_type_name(j));
    const cJSON *t;
    am_status s = tk_json_get(j, "type", TK_JSTR, true, &t, origin, "post_processor");
    if (s) return s;
    const char *ty = t->valuestring;
    tk_pp *p = calloc(1, sizeof *p);
    if (!p) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    char what[96];
    snprintf(what, sizeof what, "%s post-processor", ty);
    if (!strcmp(ty, "BertProcessing")) {
        p->type = TK_PP_BERT;
        s = parse_tok_pair(j, "sep", &p->sep, &p->sep_id, origin, what);
        if (!s) s = parse_tok_pair(j, "cls", &p->cls, &p->cls_id, origin, what);
    } else if (!strcmp(ty, "RobertaProcessing")) {
        p->type = TK_PP_ROBERTA;
        s = parse_tok_pair(j, "sep", &p->sep, &p->sep_id, origin, what);
        if (!s) s = parse_tok_pair(j, "cls", &p->cls, &p->cls_id, origin, what);
        if (!s) s = tk_json_bool(j, "trim_offsets", true, &p->trim_offsets, origin, what);
        if (!s) s = tk_json_bool(j, "add_prefix_space", true, &p->add_prefix_space, origin, what);
    } else if (!strcmp(ty, "ByteLevel")) {
        p->type = TK_PP_BYTELEVEL;
        s = tk_json_bool(j, "trim_offsets", true, &p->trim_offsets, origin, what);
        if (!s) s = tk_json_bool(j, "add_prefix_space", true, &p->add_prefix_space, origin, what);
    } else if (!strcmp(ty, "TemplateProcessing")) {
        p->type = TK_PP_TEMPLATE;
        const cJSON *sg, *pr, *st;
        s = tk_json_get(j, "single", TK_JANY, true, &sg, origin, what);
        if (!s) s = tk_json_get(j, "pair", TK_JANY, true, &pr, origin, what);
        if (!s) s = tk_json_get(j, "special_tokens", TK_JOBJ, false, &st, origin, what);
        if (!s) s = parse_template(sg, &p->single, &p->nsingle, origin);
        if (!s) s = parse_template(pr, &p->pair, &p->npair, origin);
        if (!s && st) {
            p->sp = calloc((size_t)cJSON_GetArraySize(st) + 1, sizeof *p->sp);
            if (!p->sp) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            const cJSON *it;
            if (!s) cJSON_ArrayForEach(it, st) {
                const cJSON *ids = cJSON_GetObjectItemCaseSensitive(it, "ids");
                const cJSON *toks = cJSON_GetObjectItemCaseSensitive(it, "tokens");
                if (!cJSON_IsArray(ids) || !cJSON_IsArray(toks) || cJSON_GetArraySize(ids) != cJSON_GetArraySize(toks)) {
                    s = am__error(AM_ERR_FORMAT, "%s: %s: special token '%s' needs 'ids' and 'tokens' lists of one length", origin, what, it->string);
                    break;
                }
                tk_special *x = &p->sp[p->nsp++];
                x->key = strdup(it->string);
                size_t n = (size_t)cJSON_GetArraySize(ids);
                x->ids = calloc(n + 1, sizeof *x->ids);
                x->toks = calloc(n + 1, sizeof *x->toks);
                if (!x->key || !x->ids || !x->toks) {
                    s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
                    break;
                }
                const cJSON *a = ids->child, *b = toks->child;
                for (; a && b; a = a->next, b = b->next) {
                    if (!cJSON_IsNumber(a) || !cJSON_IsString(b)) {
                        s = am__error(AM_ERR_FORMAT, "%s: %s: special token '%s': ids must be numbers and tokens strings", origin, what, it->string);
                        break;
                    }
                    x->ids[x->n] = (int32_t)a->valuedouble;
                    x->toks[x->n] = strdup(b->valuestring);
                    if (!x->toks[x->n]) {
                        s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
                        break;
                    }
                    x->n++;
                }
                if (s) break;
            }
        }
        /* every special token of the templates must be defined */
        for (int k = 0; !s && k < 2; k++) {
            tk_piece *v = k ? p->pair : p->single;
            size_t n = k ? p->npair : p->nsingle;
            for (size_t i = 0; i < n && !s; i++) {
                if (!v[i].special) continue;
                bool found = false;
                for (size_t q = 0; q < p->nsp; q++) found |= !strcmp(p->sp[q].key, v[i].sid);
                if (!found) s = am__error(AM_ERR_FORMAT, "%s: %s: missing special token '%s' in special_tokens", origin, what, v[i].sid);
            }
        }
    } else if (!strcmp(ty, "Sequence")) {
        p->type = TK_PP_SEQUENCE;
        const cJSON *arr;
        s = tk_json_get(j, "processors", TK_JARR, true, &arr, origin, what);
        if (!s) {
            p->kids = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *p->kids);
            if (!p->kids) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
            const cJSON *it;
            cJSON_ArrayForEach(it, arr) {
                if (s) break;
                s = tk_pp_parse(it, origin, &p->kids[p->nkids]);
                if (!s) p->nkids++;
            }
        }
    } else {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: unknown post_processor type '%s'", origin, ty);
    }
    if (s) {
        tk_pp_free(p);
        return s;
    }
    *out = p;
    return AM_OK;
}

static const tk_special *find_special(const tk_pp *p, const char *key) {
    for (size_t i = 0; i < p->nsp; i++)
        if (!strcmp(p->sp[i].key, key)) return &p->sp[i];
    return NULL;
}

size_t tk_pp_added(const tk_pp *p, bool pair) {
    switch (p->type) {
    case TK_PP_BERT: return pair ? 3 : 2;
    case TK_PP_ROBERTA: return pair ? 4 : 2;
    case TK_PP_BYTELEVEL: return 0;
    case TK_PP_TEMPLATE: {
        size_t n = 0;
        const tk_piece *v = pair ? p->pair : p->single;
        size_t cnt = pair ? p->npair : p->nsingle;
        for (size_t i = 0; i < cnt; i++)
            if (v[i].special) {
                const tk_special *s = find_special(p, v[i].sid);
                n += s ? s->n : 0;
            }
        return n;
    }
    case TK_PP_SEQUENCE: {
        size_t n = 0;
        for (size_t i = 0; i < p->nkids; i++) n += tk_pp_added(p->kids[i], pair);
        return n;
    }
    }
    return 0;
}

/* Rust's byte_level::process_offsets (on char offsets, after conversion). */
static void trim_offsets(am_encoding *e, bool add_prefix_space) {
    for (size_t i = 0; i < e->n; i++) {
        const char *t = tk_enc_token(e, i);
        size_t tl = tk_enc_token_len(e, i);
        size_t lead = 0, trail = 0, nch = 0;
        bool in_lead = true;
        for (size_t k = 0; k < tl;) {
            uint32_t cp;
            k += (size_t)tk_utf8_dec(t + k, &cp);
            bool sp = cp == 0x120 || tk_is_whitespace(cp);
            nch++;
            if (in_lead && sp) lead++;
            else in_lead = false;
            if (sp) trail++;
            else trail = 0;
        }
        if (!lead && !trail) continue;
        uint32_t *o = &e->offs[2 * i];
        if (lead) {
            bool first = i == 0 || o[0] == 0;
            if (first && add_prefix_space && lead == 1) lead = 0;
            uint32_t ns = o[0] + (uint32_t)lead;
            o[0] = ns < o[1] ? ns : o[1];
        }
        if (trail && o[1] >= trail) {
            uint32_t ne = o[1] - (uint32_t)trail;
            o[1] = ne > o[0] ? ne : o[0];
        }
    }
}

static bool encl_push(tk_encl *l, am_encoding *e) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        am_encoding **v = realloc(l->v, nc * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = nc;
    }
    l->v[l->n++] = e;
    return true;
}

static void set_seq(am_encoding *e, int32_t seq) {
    for (size_t i = 0; i < e->n; i++) e->seq_ids[i] = seq;
    e->has_ranges = true;
}

static am_encoding *special_enc(const int32_t *ids, char *const *toks, size_t n, int32_t type) {
    am_encoding *e = tk_enc_new();
    if (!e) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!tk_enc_push(e, ids[i], toks[i], strlen(toks[i]), 0, 0, -1, type, -1, 1, 1)) {
            am_encoding_free(e);
            return NULL;
        }
    e->has_ranges = true;
    return e;
}

static bool wrap(tk_encl *out, am_encoding *content, int32_t pre_id, const char *pre, int32_t post_id, const char *post,
                 int32_t type, bool with_pre) {
    char *pt = (char *)pre, *qt = (char *)post;
    /* takes `content`: on failure everything not pushed into `out` is freed */
    if (with_pre) {
        am_encoding *a = special_enc(&pre_id, &pt, 1, type);
        if (!a || !encl_push(out, a)) {
            am_encoding_free(a);
            am_encoding_free(content);
            return false;
        }
    }
    if (!encl_push(out, content)) {
        am_encoding_free(content);
        return false;
    }
    am_encoding *b = special_enc(&post_id, &qt, 1, type);
    if (b && encl_push(out, b)) return true;
    am_encoding_free(b);
    return false;
}

bool tk_pp_process(const tk_pp *p, tk_encl *l, bool add_special) {
    switch (p->type) {
    case TK_PP_BYTELEVEL:
        for (size_t i = 0; i < l->n; i++) {
            if (p->trim_offsets) trim_offsets(l->v[i], p->add_prefix_space);
            set_seq(l->v[i], (int32_t)i);
        }
        return true;
    case TK_PP_SEQUENCE:
        for (size_t i = 0; i < p->nkids; i++)
            if (!tk_pp_process(p->kids[i], l, add_special)) return false;
        return true;
    case TK_PP_BERT:
    case TK_PP_ROBERTA: {
        bool rob = p->type == TK_PP_ROBERTA;
        for (size_t i = 0; i < l->n; i++) {
            if (rob && p->trim_offsets) trim_offsets(l->v[i], p->add_prefix_space);
            if (rob)
                for (size_t k = 0; k < l->v[i]->n; k++) l->v[i]->type_ids[k] = 0;
        }
        if (!add_special) return true;
        tk_encl out = {0};
        bool ok = true;
        for (size_t i = 0; i < l->n && ok; i++) {
            am_encoding *e = l->v[i];
            int32_t type = rob ? 0 : (int32_t)(i > 0);
            if (!rob)
                for (size_t k = 0; k < e->n; k++) e->type_ids[k] = type;
            set_seq(e, (int32_t)i);
            if (i == 0) ok = wrap(&out, e, p->cls_id, p->cls, p->sep_id, p->sep, type, true);
            else ok = wrap(&out, e, p->sep_id, p->sep, p->sep_id, p->sep, type, rob);
            l->v[i] = NULL;
        }
        for (size_t i = 0; i < l->n; i++) am_encoding_free(l->v[i]);
        free(l->v);
        *l = out;
        return ok;
    }
    case TK_PP_TEMPLATE: {
        const tk_piece *v = l->n == 2 ? p->pair : p->single;
        size_t cnt = l->n == 2 ? p->npair : p->nsingle;
        tk_encl out = {0};
        bool ok = l->n <= 2;
        if (!ok) am__error(AM_ERR_INVALID_ARGUMENT, "TemplateProcessing: cannot process more than two sequences");
        bool *used = calloc(l->n + 1, 1);
        if (!used) ok = false;
        for (size_t i = 0; i < cnt && ok; i++) {
            if (v[i].special) {
                if (!add_special) continue;
                const tk_special *sp = find_special(p, v[i].sid);
                am_encoding *e = sp ? special_enc(sp->ids, sp->toks, sp->n, v[i].type_id) : NULL;
                ok = e && encl_push(&out, e);
                if (!ok) am_encoding_free(e);
            } else {
                size_t k = (size_t)v[i].seq;
                if (k >= l->n) continue;
                am_encoding *e = l->v[k];
                bool copy = used[k];
                if (copy) { /* the same sequence twice: copy it */
                    am_encoding *c = tk_enc_new();
                    ok = c && tk_enc_append(c, e);
                    e = c;
                }
                if (!ok) {
                    if (copy) am_encoding_free(e);
                    break;
                }
                for (size_t q = 0; q < e->n; q++) e->type_ids[q] = v[i].type_id;
                set_seq(e, (int32_t)k);
                ok = encl_push(&out, e);
                if (ok) used[k] = true; /* now owned by out */
                else if (copy) am_encoding_free(e);
            }
        }
        for (size_t i = 0; i < l->n; i++)
            if (!used || !used[i]) am_encoding_free(l->v[i]);
        free(used);
        free(l->v);
        *l = out;
        return ok;
    }
    }
    return true;
}
