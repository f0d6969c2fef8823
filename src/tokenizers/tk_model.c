/* tokenizers/tk_model.c — the models: BPE (rank-ordered merges through a heap, byte fallback,
 * ignore_merges, a word cache as the Rust library keeps one), WordPiece (greedy longest match),
 * WordLevel and Unigram (Viterbi over the scored vocabulary through a byte trie). */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TK_MAX_IDS (1 << 26)

/* ---- word cache (BPE) ---- */
typedef struct tk_cent {
    uint64_t h;
    uint32_t koff, klen, voff, vn; /* vn == UINT32_MAX: empty */
} tk_cent;
struct tk_cache {
    atomic_flag lock;
    tk_cent *e;
    size_t cap, n;
    char *kpool;
    size_t klen, kcap;
    uint32_t *vpool; /* pairs (id, byte len) */
    size_t vlen, vcap;
};
#define CACHE_MAX_ENTRIES 200000
#define CACHE_MAX_WORD 256

static tk_cache *cache_new(void) {
    tk_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_flag_clear(&c->lock);
    c->cap = 1 << 12;
    c->e = malloc(c->cap * sizeof *c->e);
    if (!c->e) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->cap; i++) c->e[i].vn = UINT32_MAX;
    return c;
}

static void cache_free(tk_cache *c) {
    if (!c) return;
    free(c->e);
    free(c->kpool);
    free(c->vpool);
    free(c);
}

/* Copies the cached (id, len) pairs of `w` into out (up to cap); returns count or -1 on miss. */
static long cache_get(tk_cache *c, const char *w, size_t n, uint64_t h, uint32_t *out, size_t cap) {
    if (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire)) return -1;
    long r = -1;
    size_t j = h & (c->cap - 1);
    while (c->e[j].vn != UINT32_MAX) {
        tk_cent *e = &c->e[j];
        if (e->h == h && e->klen == n && !memcmp(c->kpool + e->koff, w, n)) {
            if (e->vn * 2 <= cap) {
                memcpy(out, c->vpool + e->voff, e->vn * 2 * sizeof(uint32_t));
                r = e->vn;
            }
            break;
        }
        j = (j + 1) & (c->cap - 1);
    }
    atomic_flag_clear_explicit(&c->lock, memory_order_release);
    return r;
}

static void cache_put(tk_cache *c, const char *w, size_t n, uint64_t h, const uint32_t *pairs, size_t np) {
    if (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire)) return;
    if (c->n >= CACHE_MAX_ENTRIES) goto out;
    if ((c->n + 1) * 2 > c->cap) {
        size_t ncap = c->cap * 2;
        tk_cent *ne = malloc(ncap * sizeof *ne);
        if (!ne) goto out;
        for (size_t i = 0; i < ncap; i++) ne[i].vn = UINT32_MAX;
        for (size_t i = 0; i < c->cap; i++) {
            if (c->e[i].vn == UINT32_MAX) continue;
            size_t j = c->e[i].h & (ncap - 1);
            while (ne[j].vn != UINT32_MAX) j = (j + 1) & (ncap - 1);
            ne[j] = c->e[i];
        }
        free(c->e);
        c->e = ne;
        c->cap = ncap;
    }
    if (c->klen + n > c->kcap) {
        size_t nc = c->kcap ? c->kcap * 2 : 1 << 16;
        while (nc < c->klen + n) nc *= 2;
        char *p = realloc(c->kpool, nc);
        if (!p) goto out;
        c->kpool = p;
        c->kcap = nc;
    }
    if (c->vlen + np * 2 > c->vcap) {
        size_t nc = c->vcap ? c->vcap * 2 : 1 << 15;
        while (nc < c->vlen + np * 2) nc *= 2;
        uint32_t *p = realloc(c->vpool, nc * sizeof *p);
        if (!p) goto out;
        c->vpool = p;
        c->vcap = nc;
    }
    size_t j = h & (c->cap - 1);
    while (c->e[j].vn != UINT32_MAX) {
        if (c->e[j].h == h && c->e[j].klen == n && !memcmp(c->kpool + c->e[j].koff, w, n)) goto out;
        j = (j + 1) & (c->cap - 1);
    }
    if (n) memcpy(c->kpool + c->klen, w, n);
    if (np) memcpy(c->vpool + c->vlen, pairs, np * 2 * sizeof(uint32_t)); /* a word of no tokens: the pools may still be NULL */
    c->e[j] = (tk_cent){h, (uint32_t)c->klen, (uint32_t)n, (uint32_t)c->vlen, (uint32_t)np};
    c->klen += n;
    c->vlen += np * 2;
    c->n++;
out:
    atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

/* ---- Unigram trie ---- */
struct tk_trie {
    tk_u64map edges;
    int32_t *tok; /* node -> vocab id or -1 */
    size_t n, cap;
};

static int32_t trie_node(tk_trie *t) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        int32_t *p = realloc(t->tok, nc * sizeof *p);
        if (!p) return -1;
        t->tok = p;
        t->cap = nc;
    }
    t->tok[t->n] = -1;
    return (int32_t)t->n++;
}

static bool trie_insert(tk_trie *t, const char *s, size_t n, int32_t id) {
    uint64_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = (node << 8) | (uint8_t)s[i], child;
        if (!tk_u64map_get(&t->edges, key, &child)) {
            int32_t nn = trie_node(t);
            if (nn < 0 || !tk_u64map_put(&t->edges, key, (uint64_t)nn)) return false;
            child = (uint64_t)nn;
        }
        node = child;
    }
    t->tok[node] = id;
    return true;
}

static void trie_free(tk_trie *t) {
    if (!t) return;
    tk_u64map_free(&t->edges);
    free(t->tok);
    free(t);
}

/* ---- model ---- */
void tk_model_free(tk_model *m) {
    if (!m) return;
    tk_strmap_free(&m->vocab);
    free(m->id2tok);
    free(m->id2len);
    tk_arena_free(&m->pool);
    free(m->unk);
    tk_u64map_free(&m->merges);
    free(m->csp);
    free(m->eow);
    cache_free(m->cache);
    free(m->scores);
    trie_free(m->trie);
    free(m);
}

bool tk_model_add_token(tk_model *m, const char *s, size_t len, int32_t id) {
    if (id < 0 || id >= TK_MAX_IDS) return false;
    if ((size_t)id >= m->nids) {
        size_t nn = m->nids ? m->nids : 1024;
        while (nn <= (size_t)id) nn *= 2;
        char **a = realloc(m->id2tok, nn * sizeof *a);
        if (!a) return false;
        m->id2tok = a;
        uint32_t *b = realloc(m->id2len, nn * sizeof *b);
        if (!b) return false;
        m->id2len = b;
        for (size_t i = m->nids; i < nn; i++) {
            a[i] = NULL;
            b[i] = 0;
        }
        m->nids = nn;
    }
    char *p = tk_arena_strndup(&m->pool, s, len);
    if (!p) return false;
    m->id2tok[id] = p;
    m->id2len[id] = (uint32_t)len;
    return tk_strmap_put(&m->vocab, p, len, id);
}

/* Room for ids [0, n) in the id -> token arrays. */
static bool tk_model_add_token_reserve(tk_model *m, size_t n) {
    if (n <= m->nids) return true;
    char **a = realloc(m->id2tok, n * sizeof *a);
    if (!a) return false;
    m->id2tok = a;
    uint32_t *b = realloc(m->id2len, n * sizeof *b);
    if (!b) return false;
    m->id2len = b;
    for (size_t i = m->nids; i < n; i++) {
        a[i] = NULL;
        b[i] = 0;
    }
    m->nids = n;
    return true;
}

int32_t tk_model_token_to_id(const tk_model *m, const char *s, size_t len) { return tk_strmap_get(&m->vocab, s, len); }

const char *tk_model_id_to_token(const tk_model *m, int32_t id) {
    if (id < 0 || (size_t)id >= m->nids) return NULL;
    return m->id2tok[id];
}

am_status tk_bpe_add_merge(tk_model *m, const char *a, size_t alen, const char *b, size_t blen, uint32_t rank,
                           const char *origin) {
    int32_t ia = tk_strmap_get(&m->vocab, a, alen), ib = tk_strmap_get(&m->vocab, b, blen);
    if (ia < 0) return am__error(AM_ERR_FORMAT, "%s: merge %u names token '%.*s' that is not in the vocabulary", origin, rank + 1, (int)alen, a);
    if (ib < 0) return am__error(AM_ERR_FORMAT, "%s: merge %u names token '%.*s' that is not in the vocabulary", origin, rank + 1, (int)blen, b);
    size_t pl = m->csp ? strlen(m->csp) : 0;
    if (pl > blen) return am__error(AM_ERR_FORMAT, "%s: merge %u: token '%.*s' is shorter than the subword prefix", origin, rank + 1, (int)blen, b);
    char stackbuf[512];
    size_t nl = alen + blen - pl;
    char *nt = nl <= sizeof stackbuf ? stackbuf : malloc(nl);
    if (!nt) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    memcpy(nt, a, alen);
    memcpy(nt + alen, b + pl, blen - pl);
    int32_t in = tk_strmap_get(&m->vocab, nt, nl);
    am_status s = AM_OK;
    if (in < 0) s = am__error(AM_ERR_FORMAT, "%s: merge %u makes token '%.*s' that is not in the vocabulary", origin, rank + 1, (int)nl, nt);
    else if (!tk_u64map_put(&m->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, ((uint64_t)rank << 32) | (uint32_t)in))
        s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    if (nt != stackbuf) free(nt);
    return s;
}

static am_status parse_vocab_dict(tk_model *m, const cJSON *v, const char *origin) {
    const cJSON *it;
    size_t cnt = (size_t)cJSON_GetArraySize(v);
    if (!tk_strmap_reserve(&m->vocab, cnt) || (cnt && !tk_model_add_token_reserve(m, cnt)))
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble || it->valuedouble < 0 ||
            it->valuedouble >= TK_MAX_IDS)
            return am__error(AM_ERR_FORMAT, "%s: model.vocab: the id of '%s' must be a non-negative integer, not %s", origin,
                             it->string ? it->string : "?", tk_json_type_name(it));
        if (!tk_model_add_token(m, it->string, strlen(it->string), (int32_t)it->valuedouble))
            return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    }
    return AM_OK;
}

am_status tk_model_finish_bpe(tk_model *m, const char *origin) {
    (void)origin;
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        m->byte_ids[b] = tk_strmap_get(&m->vocab, buf, 6);
    }
    for (uint32_t cp = 0; cp < 512; cp++) {
        char buf[4];
        int l = tk_utf8_enc(cp, buf);
        m->small[cp] = tk_strmap_get(&m->vocab, buf, (size_t)l);
    }
    if (!m->cache) m->cache = cache_new();
    return AM_OK;
}

am_status tk_model_parse(const cJSON *j, const char *origin, tk_model **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return am__error(AM_ERR_FORMAT, "%s: model must be an object, not %s", origin, tk_json_type_name(j));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *ty = NULL;
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t)) return am__error(AM_ERR_FORMAT, "%s: model: 'type' must be a string, not %s", origin, tk_json_type_name(t));
        ty = t->valuestring;
    } else {
        /* files from before the type tag: recognise the model by its fields */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vocab");
        if (cJSON_GetObjectItemCaseSensitive(j, "merges")) ty = "BPE";
        else if (cJSON_IsArray(v)) ty = "Unigram";
        else if (cJSON_GetObjectItemCaseSensitive(j, "continuing_subword_prefix") || cJSON_GetObjectItemCaseSensitive(j, "max_input_chars_per_word")) ty = "WordPiece";
        else ty = "WordLevel";
    }
    tk_model *m = calloc(1, sizeof *m);
    if (!m) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    m->unk_id = -1;
    am_status s = AM_OK;
    const cJSON *v;
    if (!strcmp(ty, "BPE")) {
        m->type = TK_M_BPE;
        const char *w = "BPE model";
        s = tk_json_get(j, "vocab", TK_JOBJ, true, &v, origin, w);
        if (!s) s = parse_vocab_dict(m, v, origin);
        if (!s) s = tk_json_str(j, "unk_token", false, NULL, &m->unk, origin, w);
        if (!s) s = tk_json_str(j, "continuing_subword_prefix", false, NULL, &m->csp, origin, w);
        if (!s) s = tk_json_str(j, "end_of_word_suffix", false, NULL, &m->eow, origin, w);
        if (!s) s = tk_json_bool(j, "fuse_unk", false, &m->fuse_unk, origin, w);
        if (!s) s = tk_json_bool(j, "byte_fallback", false, &m->byte_fallback, origin, w);
        if (!s) s = tk_json_bool(j, "ignore_merges", false, &m->ignore_merges, origin, w);
        if (!s && m->csp && !m->csp[0]) {
            free(m->csp);
            m->csp = NULL;
        }
        if (!s && m->eow && !m->eow[0]) {
            free(m->eow);
            m->eow = NULL;
        }
        const cJSON *mg = NULL;
        if (!s) s = tk_json_get(j, "merges", TK_JARR, true, &mg, origin, w);
        uint32_t rank = 0;
        const cJSON *it;
        if (!s && !tk_u64map_reserve(&m->merges, (size_t)cJSON_GetArraySize(mg))) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        if (!s) cJSON_ArrayForEach(it, mg) {
            if (cJSON_IsString(it)) {
                const char *str = it->valuestring, *sp = strchr(str, ' ');
                if (!sp || strchr(sp + 1, ' ')) {
                    s = am__error(AM_ERR_FORMAT, "%s: merge %u ('%s') must be two tokens separated by one space", origin, rank + 1, str);
                    break;
                }
                s = tk_bpe_add_merge(m, str, (size_t)(sp - str), sp + 1, strlen(sp + 1), rank, origin);
            } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                       cJSON_IsString(it->child->next)) {
                const char *a = it->child->valuestring, *b = it->child->next->valuestring;
                s = tk_bpe_add_merge(m, a, strlen(a), b, strlen(b), rank, origin);
            } else {
                s = am__error(AM_ERR_FORMAT, "%s: merge %u must be a string \"a b\" or a pair [\"a\", \"b\"], not %s", origin, rank + 1,
                              tk_json_type_name(it));
            }
            if (s) break;
            rank++;
        }
        if (!s && m->unk) m->unk_id = tk_strmap_get(&m->vocab, m->unk, strlen(m->unk));
        if (!s) s = tk_model_finish_bpe(m, origin);
    } else if (!strcmp(ty, "WordPiece")) {
        m->type = TK_M_WORDPIECE;
        const char *w = "WordPiece model";
        s = tk_json_get(j, "vocab", TK_JOBJ, true, &v, origin, w);
        if (!s) s = parse_vocab_dict(m, v, origin);
        if (!s) s = tk_json_str(j, "unk_token", false, "[UNK]", &m->unk, origin, w);
        if (!s) s = tk_json_str(j, "continuing_subword_prefix", false, "##", &m->csp, origin, w);
        int64_t mx = 100;
        if (!s) s = tk_json_int(j, "max_input_chars_per_word", 100, &mx, origin, w);
        m->max_chars = mx < 0 ? 0 : (size_t)mx;
        if (!s) m->unk_id = tk_strmap_get(&m->vocab, m->unk, strlen(m->unk));
    } else if (!strcmp(ty, "WordLevel")) {
        m->type = TK_M_WORDLEVEL;
        const char *w = "WordLevel model";
        s = tk_json_get(j, "vocab", TK_JOBJ, true, &v, origin, w);
        if (!s) s = parse_vocab_dict(m, v, origin);
        if (!s) s = tk_json_str(j, "unk_token", false, "<unk>", &m->unk, origin, w);
        if (!s) m->unk_id = tk_strmap_get(&m->vocab, m->unk, strlen(m->unk));
    } else if (!strcmp(ty, "Unigram")) {
        m->type = TK_M_UNIGRAM;
        const char *w = "Unigram model";
        s = tk_json_get(j, "vocab", TK_JARR, true, &v, origin, w);
        int64_t uid = -1;
        const cJSON *u = NULL;
        if (!s) s = tk_json_get(j, "unk_id", TK_JNUM, false, &u, origin, w);
        if (!s && u) s = tk_json_int(j, "unk_id", -1, &uid, origin, w);
        if (!s) s = tk_json_bool(j, "byte_fallback", false, &m->byte_fallback, origin, w);
        size_t n = s ? 0 : (size_t)cJSON_GetArraySize(v);
        if (!s && n >= TK_MAX_IDS) s = am__error(AM_ERR_FORMAT, "%s: Unigram vocabulary too large", origin);
        if (!s) {
            m->scores = malloc((n + 1) * sizeof(double));
            m->trie = calloc(1, sizeof *m->trie);
            if (!m->scores || !m->trie || trie_node(m->trie) < 0) s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
        }
        m->min_score = INFINITY;
        size_t i = 0;
        const cJSON *it;
        if (!s) cJSON_ArrayForEach(it, v) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(it->child) || !cJSON_IsNumber(it->child->next)) {
                s = am__error(AM_ERR_FORMAT, "%s: Unigram model: vocab entry %zu must be [token, score]", origin, i);
                break;
            }
            const char *tok = it->child->valuestring;
            size_t tl = strlen(tok);
            double sc = it->child->next->valuedouble;
            m->scores[i] = sc;
            if (sc < m->min_score) m->min_score = sc;
            if (!tk_model_add_token(m, tok, tl, (int32_t)i) || !trie_insert(m->trie, tok, tl, (int32_t)i)) {
                s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
                break;
            }
            i++;
        }
        if (!s && uid >= 0 && (size_t)uid >= n) s = am__error(AM_ERR_FORMAT, "%s: Unigram model: unk_id %lld is out of the vocabulary", origin, (long long)uid);
        if (!s && n == 0) s = am__error(AM_ERR_FORMAT, "%s: Unigram model: empty vocabulary", origin);
        m->unk_id = (int32_t)uid;
        if (!s) {
            /* token_to_ids keeps the last id of a repeated piece; the trie must agree */
            for (size_t k = 0; k < n; k++) {
                int32_t id = tk_strmap_get(&m->vocab, m->id2tok[k], m->id2len[k]);
                trie_insert(m->trie, m->id2tok[k], m->id2len[k], id);
            }
            for (int b = 0; b < 256; b++) {
                char buf[8];
                snprintf(buf, sizeof buf, "<0x%02X>", b);
                m->byte_ids[b] = tk_strmap_get(&m->vocab, buf, 6);
            }
        }
    } else {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: unknown model type '%s'", origin, ty);
    }
    if (s) {
        tk_model_free(m);
        return s;
    }
    *out = m;
    return AM_OK;
}

/* ---- BPE ---- */
typedef struct sym {
    int32_t c;
    int32_t prev, next;
    uint32_t len;
} sym;
typedef struct hent {
    uint32_t rank, pos;
    int32_t nid;
} hent;

static inline bool hless(hent a, hent b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void hpush(hent *h, size_t *n, hent x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0];
    hent x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        size_t r = l + 1, m = (r < *n && hless(h[r], h[l])) ? r : l;
        if (!hless(h[m], x)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

static inline bool merge_get(const tk_model *m, int32_t a, int32_t b, uint32_t *rank, int32_t *nid) {
    uint64_t v;
    if (!tk_u64map_get(&m->merges, ((uint64_t)(uint32_t)a << 32) | (uint32_t)b, &v)) return false;
    *rank = (uint32_t)(v >> 32);
    *nid = (int32_t)(uint32_t)v;
    return true;
}

static bool bpe_word(tk_ctx *c, const tk_model *m, const char *w, uint32_t n) {
    size_t base = c->tn;
    if (m->ignore_merges) {
        int32_t id = tk_strmap_get(&m->vocab, w, n);
        if (id >= 0) return tk_tok_push(c, id, 0, n, m->id2tok[id], m->id2len[id]);
    }
    uint64_t h = 0;
    uint32_t pairs_stack[128];
    if (m->cache && n < CACHE_MAX_WORD) {
        h = tk_hash(w, n);
        long k = cache_get(m->cache, w, n, h, pairs_stack, 128);
        if (k >= 0) {
            uint32_t off = 0;
            for (long i = 0; i < k; i++) {
                int32_t id = (int32_t)pairs_stack[2 * i];
                uint32_t l = pairs_stack[2 * i + 1];
                if (!tk_tok_push(c, id, off, off + l, m->id2tok[id], m->id2len[id])) return false;
                off += l;
            }
            return true;
        }
    }
    /* symbols: one per char (or per byte with byte fallback) */
    sym *sy = tk_alloc(&c->arena, ((size_t)n + 1) * sizeof *sy);
    if (!sy) return c->oom = true, false;
    size_t ns = 0;
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    bool have_unk = false;
    size_t csl = m->csp ? strlen(m->csp) : 0, ewl = m->eow ? strlen(m->eow) : 0;
    char buf[64];
    for (uint32_t i = 0; i < n;) {
        uint32_t cp;
        int l = tk_utf8_dec(w + i, &cp);
        bool first = i == 0, last = i + (uint32_t)l >= n;
        int32_t id;
        const char *str = w + i;
        size_t sl = (size_t)l;
        if (cp < 512 && !(csl && !first) && !(ewl && last)) {
            id = m->small[cp];
        } else {
            size_t o = 0;
            if (!first && csl) {
                memcpy(buf, m->csp, csl < 32 ? csl : 32);
                o = csl < 32 ? csl : 32;
            }
            memcpy(buf + o, w + i, (size_t)l);
            o += (size_t)l;
            if (last && ewl) {
                size_t e = ewl < 24 ? ewl : 24;
                memcpy(buf + o, m->eow, e);
                o += e;
            }
            str = buf;
            sl = o;
            id = tk_strmap_get(&m->vocab, buf, o);
        }
        if (id >= 0) {
            if (have_unk) {
                sy[ns++] = (sym){unk_id, -1, -1, unk_len};
                have_unk = false;
            }
            sy[ns++] = (sym){id, -1, -1, (uint32_t)l};
        } else {
            bool done = false;
            if (m->byte_fallback) {
                bool all = true;
                for (size_t k = 0; k < sl && all; k++) all = m->byte_ids[(uint8_t)str[k]] >= 0;
                if (all) {
                    sym *grown = sy;
                    if (sl > (size_t)l) { /* prefix/suffix bytes: more symbols than bytes */
                        grown = tk_alloc(&c->arena, (ns + sl + (n - i) + 1) * sizeof *sy);
                        if (!grown) return c->oom = true, false;
                        memcpy(grown, sy, ns * sizeof *sy);
                        sy = grown;
                    }
                    for (size_t k = 0; k < sl; k++) sy[ns++] = (sym){m->byte_ids[(uint8_t)str[k]], -1, -1, 1};
                    done = true;
                }
            }
            if (!done && m->unk) {
                if (m->unk_id < 0) {
                    am__error(AM_ERR_FORMAT, "BPE model: unk token '%s' is not in the vocabulary", m->unk);
                    return false;
                }
                if (have_unk && m->fuse_unk) unk_len += (uint32_t)l;
                else {
                    if (have_unk) sy[ns++] = (sym){unk_id, -1, -1, unk_len};
                    unk_id = m->unk_id;
                    unk_len = (uint32_t)l;
                    have_unk = true;
                }
            }
        }
        i += (uint32_t)l;
    }
    if (have_unk) sy[ns++] = (sym){unk_id, -1, -1, unk_len};
    for (size_t i = 0; i < ns; i++) {
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < ns ? (int32_t)i + 1 : -1;
    }
    if (ns > 1 && m->merges.n) {
        hent *hp = tk_alloc(&c->arena, (ns * 3 + 4) * sizeof *hp);
        if (!hp) return c->oom = true, false;
        size_t hn = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            uint32_t r;
            int32_t nid;
            if (merge_get(m, sy[i].c, sy[i + 1].c, &r, &nid)) hpush(hp, &hn, (hent){r, (uint32_t)i, nid});
        }
        size_t hcap = ns * 3 + 4;
        while (hn) {
            hent top = hpop(hp, &hn);
            sym *s = &sy[top.pos];
            if (!s->len || s->next < 0) continue;
            sym right = sy[s->next];
            uint32_t r;
            int32_t nid;
            if (!merge_get(m, s->c, right.c, &r, &nid) || nid != top.nid) continue;
            s->c = top.nid;
            s->len += right.len;
            sy[s->next].len = 0;
            s->next = right.next;
            if (right.next >= 0) sy[right.next].prev = (int32_t)top.pos;
            if (hn + 2 > hcap) {
                hent *nh = tk_alloc(&c->arena, hcap * 2 * sizeof *nh);
                if (!nh) return c->oom = true, false;
                memcpy(nh, hp, hn * sizeof *nh);
                hp = nh;
                hcap *= 2;
            }
            if (s->prev >= 0 && merge_get(m, sy[s->prev].c, s->c, &r, &nid)) hpush(hp, &hn, (hent){r, (uint32_t)s->prev, nid});
            if (s->next >= 0 && merge_get(m, s->c, sy[s->next].c, &r, &nid)) hpush(hp, &hn, (hent){r, top.pos, nid});
        }
    }
    uint32_t off = 0;
    size_t np = 0;
    for (size_t i = 0; i < ns; i++) {
        if (!sy[i].len) continue;
        int32_t id = sy[i].c;
        const char *v = (size_t)id < m->nids ? m->id2tok[id] : NULL;
        if (!tk_tok_push(c, id, off, off + sy[i].len, v ? v : "", v ? m->id2len[id] : 0)) return false;
        off += sy[i].len;
        np++;
    }
    if (m->cache && n < CACHE_MAX_WORD && np <= 64) {
        uint32_t *pairs = pairs_stack;
        for (size_t i = 0; i < np; i++) {
            pairs[2 * i] = (uint32_t)c->tv[base + i].id;
            pairs[2 * i + 1] = c->tv[base + i].e - c->tv[base + i].s;
        }
        cache_put(m->cache, w, n, h, pairs, np);
    }
    return true;
}

/* ---- WordPiece ---- */
static bool wordpiece(tk_ctx *c, const tk_model *m, const char *w, uint32_t n) {
    size_t nch = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t cp;
        i += (uint32_t)tk_utf8_dec(w + i, &cp);
        nch++;
    }
    size_t base = c->tn;
    if (nch <= m->max_chars) {
        size_t pl = strlen(m->csp);
        char *buf = tk_alloc(&c->arena, pl + n + 1);
        if (!buf) return c->oom = true, false;
        memcpy(buf, m->csp, pl);
        uint32_t start = 0;
        bool bad = false;
        while (start < n) {
            uint32_t end = n;
            int32_t found = -1;
            while (start < end) {
                int32_t id;
                if (start > 0) {
                    memcpy(buf + pl, w + start, end - start);
                    id = tk_strmap_get(&m->vocab, buf, pl + end - start);
                } else {
                    id = tk_strmap_get(&m->vocab, w, end);
                }
                if (id >= 0) {
                    found = id;
                    break;
                }
                /* drop the last char */
                uint32_t e = end - 1;
                while (e > start && ((uint8_t)w[e] & 0xC0) == 0x80) e--;
                end = e;
            }
            if (found < 0) {
                bad = true;
                break;
            }
            if (!tk_tok_push(c, found, start, end, m->id2tok[found], m->id2len[found])) return false;
            start = end;
        }
        if (!bad) return true;
        c->tn = base;
    }
    if (m->unk_id < 0) {
        am__error(AM_ERR_FORMAT, "WordPiece error: Missing %s token from the vocabulary", m->unk);
        return false;
    }
    return tk_tok_push(c, m->unk_id, 0, n, m->unk, (uint32_t)strlen(m->unk));
}

/* ---- Unigram ---- */
typedef struct bnode {
    int32_t id;
    double score;
    long start; /* -1: none */
} bnode;

static bool unigram(tk_ctx *c, const tk_model *m, const char *w, uint32_t n) {
    if (!n) return true;
    bnode *best = tk_alloc(&c->arena, ((size_t)n + 1) * sizeof *best);
    if (!best) return c->oom = true, false;
    for (uint32_t i = 0; i <= n; i++) best[i] = (bnode){0, 0.0, -1};
    double unk_score = m->min_score - 10.0;
    const tk_trie *t = m->trie;
    for (uint32_t st = 0; st < n;) {
        uint32_t cp;
        uint32_t mblen = (uint32_t)tk_utf8_dec(w + st, &cp);
        double till = best[st].score;
        bool single = false;
        uint64_t node = 0;
        for (uint32_t k = st; k < n; k++) {
            uint64_t child;
            if (!tk_u64map_get(&t->edges, (node << 8) | (uint8_t)w[k], &child)) break;
            node = child;
            int32_t id = t->tok[node];
            if (id < 0) continue;
            uint32_t kp = k + 1;
            double cand = m->scores[id] + till;
            if (best[kp].start < 0 || cand > best[kp].score) best[kp] = (bnode){id, cand, (long)st};
            if (kp - st == mblen) single = true;
        }
        if (!single) {
            if (m->unk_id < 0) {
                am__error(AM_ERR_FORMAT, "Unigram error: Missing unk id in the vocabulary");
                return false;
            }
            double cand = unk_score + till;
            uint32_t kp = st + mblen;
            if (best[kp].start < 0 || cand > best[kp].score) best[kp] = (bnode){m->unk_id, cand, (long)st};
        }
        st += mblen;
    }
    /* backtrack, fusing consecutive unknown pieces */
    uint32_t *starts = tk_alloc(&c->arena, ((size_t)n + 1) * sizeof *starts);
    uint32_t *ends = tk_alloc(&c->arena, ((size_t)n + 1) * sizeof *ends);
    int32_t *ids = tk_alloc(&c->arena, ((size_t)n + 1) * sizeof *ids);
    if (!starts || !ends || !ids) return c->oom = true, false;
    size_t k = 0;
    uint32_t e = n;
    while (e > 0) {
        bnode b = best[e];
        if (b.start < 0) break;
        uint32_t s = (uint32_t)b.start;
        if (b.id == m->unk_id && k > 0 && ids[k - 1] == m->unk_id) starts[k - 1] = s;
        else {
            starts[k] = s;
            ends[k] = e;
            ids[k] = b.id;
            k++;
        }
        e = s;
    }
    for (size_t i = k; i-- > 0;) {
        uint32_t s = starts[i], en = ends[i];
        int32_t id = tk_strmap_get(&m->vocab, w + s, en - s);
        if (id < 0) {
            if (m->byte_fallback) {
                bool all = true;
                for (uint32_t b = s; b < en && all; b++) all = m->byte_ids[(uint8_t)w[b]] >= 0;
                if (all) {
                    for (uint32_t b = s; b < en; b++) {
                        int32_t bid = m->byte_ids[(uint8_t)w[b]];
                        if (!tk_tok_push(c, bid, s, en, m->id2tok[bid], m->id2len[bid])) return false;
                    }
                    continue;
                }
            }
            id = m->unk_id;
        }
        if (!tk_tok_push(c, id, s, en, w + s, en - s)) return false;
    }
    return true;
}

bool tk_model_tokenize(tk_ctx *c, const tk_model *m, const char *s, uint32_t len) {
    switch (m->type) {
    case TK_M_BPE: return len ? bpe_word(c, m, s, len) : true;
    case TK_M_WORDPIECE: return wordpiece(c, m, s, len);
    case TK_M_WORDLEVEL: {
        int32_t id = tk_strmap_get(&m->vocab, s, len);
        if (id >= 0) return tk_tok_push(c, id, 0, len, m->id2tok[id], m->id2len[id]);
        if (m->unk_id < 0) {
            am__error(AM_ERR_FORMAT, "WordLevel error: Missing %s token from the vocabulary", m->unk);
            return false;
        }
        return tk_tok_push(c, m->unk_id, 0, len, m->unk, (uint32_t)strlen(m->unk));
    }
    case TK_M_UNIGRAM: return unigram(c, m, s, len);
    }
    return true;
}
