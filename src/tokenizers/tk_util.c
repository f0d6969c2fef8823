/* tokenizers/tk_util.c — the tokenizer layer's plumbing: arenas, string and integer hash maps,
 * the Unicode predicates the Rust library uses (char::is_whitespace, unicode categories), PCRE2
 * regexes, the per-call context and typed JSON accessors whose errors name the file and key. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- arena ---- */
void *tk_alloc(tk_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    tk_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 65536;
        while (cap < n) cap *= 2;
        tk_blk *nb = malloc(sizeof(tk_blk) + cap);
        if (!nb) {
            a->oom = true;
            return NULL;
        }
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void tk_arena_reset(tk_arena *a) {
    /* keep the newest (largest) block */
    tk_blk *b = a->head;
    if (!b) return;
    tk_blk *rest = b->next;
    while (rest) {
        tk_blk *nx = rest->next;
        free(rest);
        rest = nx;
    }
    b->next = NULL;
    b->used = 0;
    a->oom = false;
}

void tk_arena_free(tk_arena *a) {
    tk_blk *b = a->head;
    while (b) {
        tk_blk *nx = b->next;
        free(b);
        b = nx;
    }
    a->head = NULL;
}

char *tk_arena_strndup(tk_arena *a, const char *s, size_t n) {
    char *p = tk_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- hash maps ---- */
uint64_t tk_hash(const char *s, size_t n) {
    /* FNV-1a over 8-byte words then bytes, finished with a mix: short keys dominate */
    uint64_t h = 0xcbf29ce484222325ULL ^ (n * 0x9E3779B97F4A7C15ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

static bool strmap_resize(tk_strmap *m, size_t ncap) {
    tk_sment *ne = malloc(ncap * sizeof *ne);
    if (!ne) return false;
    for (size_t i = 0; i < ncap; i++) ne[i].val = -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].val < 0) continue;
        size_t j = m->e[i].h & (ncap - 1);
        while (ne[j].val >= 0) j = (j + 1) & (ncap - 1);
        ne[j] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    return true;
}

static bool strmap_grow(tk_strmap *m) { return strmap_resize(m, m->cap ? m->cap * 2 : 64); }

bool tk_strmap_reserve(tk_strmap *m, size_t n) {
    size_t cap = 64;
    while (cap < n * 2) cap *= 2;
    return cap <= m->cap || strmap_resize(m, cap);
}

bool tk_strmap_put(tk_strmap *m, const char *k, size_t len, int32_t val) {
    if ((m->n + 1) * 2 > m->cap && !strmap_grow(m)) return false;
    uint64_t h = tk_hash(k, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].val >= 0) {
        if (m->e[j].h == h && m->e[j].len == len && !memcmp(m->e[j].k, k, len)) {
            m->e[j].val = val;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (tk_sment){k, (uint32_t)len, val, h};
    m->n++;
    return true;
}

int32_t tk_strmap_get(const tk_strmap *m, const char *k, size_t len) {
    if (!m->cap) return -1;
    uint64_t h = tk_hash(k, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].val >= 0) {
        if (m->e[j].h == h && m->e[j].len == len && !memcmp(m->e[j].k, k, len)) return m->e[j].val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tk_strmap_free(tk_strmap *m) {
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static bool u64_resize(tk_u64map *m, size_t ncap) {
    tk_u64ent *ne = malloc(ncap * sizeof *ne);
    if (!ne) return false;
    for (size_t i = 0; i < ncap; i++) ne[i].k = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].k == UINT64_MAX) continue;
        size_t j = mix64(m->e[i].k) & (ncap - 1);
        while (ne[j].k != UINT64_MAX) j = (j + 1) & (ncap - 1);
        ne[j] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    return true;
}

bool tk_u64map_reserve(tk_u64map *m, size_t n) {
    size_t cap = 64;
    while (cap < n * 2) cap *= 2;
    return cap <= m->cap || u64_resize(m, cap);
}

bool tk_u64map_put(tk_u64map *m, uint64_t k, uint64_t v) {
    if ((m->n + 1) * 2 > m->cap && !u64_resize(m, m->cap ? m->cap * 2 : 64)) return false;
    size_t j = mix64(k) & (m->cap - 1);
    while (m->e[j].k != UINT64_MAX) {
        if (m->e[j].k == k) {
            m->e[j].v = v;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (tk_u64ent){k, v};
    m->n++;
    return true;
}

bool tk_u64map_get(const tk_u64map *m, uint64_t k, uint64_t *v) {
    if (!m->cap) return false;
    size_t j = mix64(k) & (m->cap - 1);
    while (m->e[j].k != UINT64_MAX) {
        if (m->e[j].k == k) {
            *v = m->e[j].v;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void tk_u64map_free(tk_u64map *m) {
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

/* ---- UTF-8 ---- */
int tk_utf8_dec(const char *s, uint32_t *cp) {
    const uint8_t *u = (const uint8_t *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xE0) {
        *cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        return 2;
    }
    if (u[0] < 0xF0) {
        *cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
          (u[3] & 0x3F);
    return 4;
}

int tk_utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

int tk_utf8_enc(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (0 when invalid), as Rust's str validation. */
static size_t utf8_valid_len(const uint8_t *u, size_t n) {
    uint8_t c = u[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (u[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (u[1] < lo || u[1] > hi || (u[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        if (u[1] < lo || u[1] > hi || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

size_t tk_utf8_invalid_at(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_valid_len(u + i, n - i);
        if (!l) return i;
        i += l;
    }
    return SIZE_MAX;
}

char *tk_utf8_lossy(const char *s, size_t n, size_t *outlen) {
    /* Rust replaces each maximal invalid prefix of a sequence by one U+FFFD */
    char *o = malloc(n * 3 + 1);
    if (!o) return NULL;
    size_t j = 0, i = 0;
    const uint8_t *u = (const uint8_t *)s;
    while (i < n) {
        size_t l = utf8_valid_len(u + i, n - i);
        if (l) {
            memcpy(o + j, s + i, l);
            j += l;
            i += l;
            continue;
        }
        /* length of the maximal prefix of a valid sequence */
        uint8_t c = u[i];
        size_t k = 1;
        if (c >= 0xC2 && c <= 0xF4) {
            size_t need = c <= 0xDF ? 2 : c <= 0xEF ? 3 : 4;
            uint8_t lo = 0x80, hi = 0xBF;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
            if (i + 1 < n && u[i + 1] >= lo && u[i + 1] <= hi) {
                k = 2;
                while (k < need && i + k < n && (u[i + k] & 0xC0) == 0x80) k++;
            }
        }
        memcpy(o + j, "\xEF\xBF\xBD", 3);
        j += 3;
        i += k;
    }
    o[j] = 0;
    if (outlen) *outlen = j;
    return o;
}

/* ---- Unicode predicates ---- */
bool tk_is_whitespace(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

static inline int cat(uint32_t c) { return utf8proc_category((utf8proc_int32_t)c); }

bool tk_is_punct(uint32_t c) {
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
bool tk_is_bert_punct(uint32_t c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    return tk_is_punct(c);
}
bool tk_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}
bool tk_is_alnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    int k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}
bool tk_is_control_other(uint32_t c) {
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}
bool tk_is_mark_nonspacing(uint32_t c) { return c >= 0x300 && cat(c) == UTF8PROC_CATEGORY_MN; }
bool tk_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- regex ---- */
am_status tk_regex_compile(tk_regex *r, const char *pat, size_t len, const char *origin) {
    int err;
    PCRE2_SIZE off;
    r->code = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return am__error(AM_ERR_FORMAT, "%s: regex '%.*s' does not compile: %s (at offset %zu)", origin, (int)(len > 200 ? 200 : len),
                         pat, (const char *)msg, (size_t)off);
    }
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    return AM_OK;
}

void tk_regex_free(tk_regex *r) {
    if (r->code) pcre2_code_free(r->code);
    r->code = NULL;
}

/* ---- context ---- */
void tk_ctx_init(tk_ctx *c) {
    memset(c, 0, sizeof *c);
    c->md = pcre2_match_data_create(8, NULL);
}

void tk_ctx_free(tk_ctx *c) {
    tk_arena_free(&c->arena);
    free(c->sv[0].v);
    free(c->sv[1].v);
    free(c->mv);
    free(c->tv);
    free(c->tr.cp);
    free(c->tr.ch);
    if (c->md) pcre2_match_data_free(c->md);
}

bool tk_match_push(tk_ctx *c, uint32_t s, uint32_t e, bool m) {
    if (c->mn == c->mcap) {
        size_t nc = c->mcap ? c->mcap * 2 : 256;
        tk_match *nv = realloc(c->mv, nc * sizeof *nv);
        if (!nv) return c->oom = true, false;
        c->mv = nv;
        c->mcap = nc;
    }
    c->mv[c->mn++] = (tk_match){s, e, m};
    return true;
}

bool tk_tok_push(tk_ctx *c, int32_t id, uint32_t s, uint32_t e, const char *v, uint32_t vlen) {
    if (c->tn == c->tcap) {
        size_t nc = c->tcap ? c->tcap * 2 : 256;
        tk_tok *nv = realloc(c->tv, nc * sizeof *nv);
        if (!nv) return c->oom = true, false;
        c->tv = nv;
        c->tcap = nc;
    }
    c->tv[c->tn++] = (tk_tok){id, s, e, v, vlen};
    return true;
}

bool tk_split_push(tk_ctx *c, tk_splitv *v, const tk_split *sp) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        tk_split *nv = realloc(v->v, nc * sizeof *nv);
        if (!nv) return c->oom = true, false;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = *sp;
    return true;
}

void tk_tr_clear(tk_tr *t) { t->n = 0; }

bool tk_tr_push(tk_ctx *c, uint32_t cp, int32_t ch) {
    tk_tr *t = &c->tr;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        uint32_t *a = realloc(t->cp, nc * sizeof *a);
        if (!a) return c->oom = true, false;
        t->cp = a;
        int32_t *b = realloc(t->ch, nc * sizeof *b);
        if (!b) return c->oom = true, false;
        t->ch = b;
        t->cap = nc;
    }
    t->cp[t->n] = cp;
    t->ch[t->n++] = ch;
    return true;
}

/* ---- JSON ---- */
const char *tk_json_type_name(const cJSON *j) {
    if (!j) return "nothing";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "a list";
    if (cJSON_IsObject(j)) return "an object";
    return "an invalid value";
}

static const char *want_name(int t) {
    switch (t) {
    case TK_JSTR: return "a string";
    case TK_JNUM: return "a number";
    case TK_JBOOL: return "a boolean";
    case TK_JOBJ: return "an object";
    case TK_JARR: return "a list";
    default: return "a value";
    }
}

am_status tk_json_get(const cJSON *o, const char *key, int type, bool required, const cJSON **out, const char *origin,
                      const char *what) {
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return am__error(AM_ERR_FORMAT, "%s: %s: missing key '%s'", origin, what, key);
        return AM_OK;
    }
    bool ok = type == TK_JANY || (type == TK_JSTR && cJSON_IsString(v)) || (type == TK_JNUM && cJSON_IsNumber(v)) ||
              (type == TK_JBOOL && cJSON_IsBool(v)) || (type == TK_JOBJ && cJSON_IsObject(v)) ||
              (type == TK_JARR && cJSON_IsArray(v));
    if (!ok)
        return am__error(AM_ERR_FORMAT, "%s: %s: '%s' must be %s, not %s", origin, what, key, want_name(type),
                         tk_json_type_name(v));
    *out = v;
    return AM_OK;
}

am_status tk_json_str(const cJSON *o, const char *key, bool required, const char *dflt, char **out, const char *origin,
                      const char *what) {
    const cJSON *v;
    am_status s = tk_json_get(o, key, TK_JSTR, required, &v, origin, what);
    if (s) return s;
    const char *src = v ? v->valuestring : dflt;
    *out = NULL;
    if (!src) return AM_OK;
    *out = strdup(src);
    if (!*out) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    return AM_OK;
}

am_status tk_json_bool(const cJSON *o, const char *key, bool dflt, bool *out, const char *origin, const char *what) {
    const cJSON *v;
    am_status s = tk_json_get(o, key, TK_JBOOL, false, &v, origin, what);
    if (s) return s;
    *out = v ? cJSON_IsTrue(v) : dflt;
    return AM_OK;
}

am_status tk_json_int(const cJSON *o, const char *key, int64_t dflt, int64_t *out, const char *origin, const char *what) {
    const cJSON *v;
    am_status s = tk_json_get(o, key, TK_JNUM, false, &v, origin, what);
    if (s) return s;
    if (!v) {
        *out = dflt;
        return AM_OK;
    }
    double d = v->valuedouble;
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
        return am__error(AM_ERR_FORMAT, "%s: %s: '%s' must be an integer", origin, what, key);
    *out = (int64_t)d;
    return AM_OK;
}
