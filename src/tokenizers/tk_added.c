/* tokenizers/tk_added.c — the added vocabulary: tokens matched in the text before the model runs
 * (leftmost-longest, as the Rust library's Aho-Corasick does), on the raw text for
 * normalized=false tokens and on the normalized text for the others, with the single_word,
 * lstrip and rstrip rules. */
#include "core/error.h"
#include "tokenizers/tk.h"
#include <stdlib.h>
#include <string.h>

static void atrie_free(tk_atrie *t) {
    tk_u64map_free(&t->edges);
    free(t->term);
    if (t->norm) {
        /* patterns live in the added pool */
        free(t->norm);
    }
    memset(t, 0, sizeof *t);
}

void tk_added_free(tk_added *a) {
    free(a->v);
    tk_strmap_free(&a->by_content);
    tk_u64map_free(&a->by_id);
    atrie_free(&a->raw);
    atrie_free(&a->norm);
    tk_arena_free(&a->pool);
    memset(a, 0, sizeof *a);
}

int32_t tk_added_find(const tk_added *a, const char *s, size_t len) {
    int32_t idx = tk_strmap_get(&a->by_content, s, len);
    return idx < 0 ? -1 : a->v[idx].id;
}

const tk_added_tok *tk_added_by_id(const tk_added *a, int32_t id) {
    uint64_t idx;
    if (id < 0 || !tk_u64map_get(&a->by_id, (uint64_t)(uint32_t)id, &idx)) return NULL;
    return &a->v[idx];
}

bool tk_added_add(am_tokenizer *t, const char *content, size_t len, int32_t id, bool special, bool single_word, bool lstrip,
                  bool rstrip, bool normalized) {
    tk_added *a = &t->added;
    if (!len) return true;
    int32_t existing = tk_strmap_get(&a->by_content, content, len);
    if (existing >= 0) {
        /* the same content again: the later definition wins */
        tk_added_tok *x = &a->v[existing];
        x->id = id;
        x->special = x->special || special;
        x->single_word = single_word;
        x->lstrip = lstrip;
        x->rstrip = rstrip;
        x->normalized = normalized;
        return tk_u64map_put(&a->by_id, (uint64_t)(uint32_t)id, (uint64_t)existing);
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        tk_added_tok *v = realloc(a->v, nc * sizeof *v);
        if (!v) return false;
        a->v = v;
        a->cap = nc;
    }
    char *p = tk_arena_strndup(&a->pool, content, len);
    if (!p) return false;
    a->v[a->n] = (tk_added_tok){p, (uint32_t)len, id, special, single_word, lstrip, rstrip, normalized};
    if (!tk_strmap_put(&a->by_content, p, len, (int32_t)a->n)) return false;
    if (!tk_u64map_put(&a->by_id, (uint64_t)(uint32_t)id, (uint64_t)a->n)) return false;
    a->n++;
    return true;
}

static int32_t atrie_node(tk_atrie *t) {
    if (t->nnodes == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        int32_t *p = realloc(t->term, nc * sizeof *p);
        if (!p) return -1;
        t->term = p;
        t->cap = nc;
    }
    t->term[t->nnodes] = -1;
    return (int32_t)t->nnodes++;
}

static bool atrie_insert(tk_atrie *t, const char *s, size_t n, int32_t idx) {
    if (!n) return true;
    if (!t->nnodes && atrie_node(t) < 0) return false;
    t->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
    uint64_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = (node << 8) | (uint8_t)s[i], child;
        if (!tk_u64map_get(&t->edges, key, &child)) {
            int32_t nn = atrie_node(t);
            if (nn < 0 || !tk_u64map_put(&t->edges, key, (uint64_t)nn)) return false;
            child = (uint64_t)nn;
        }
        node = child;
    }
    if (t->term[node] < 0) t->term[node] = idx; /* first pattern wins for equal contents */
    return true;
}

bool tk_added_build(am_tokenizer *t) {
    tk_added *a = &t->added;
    atrie_free(&a->raw);
    atrie_free(&a->norm);
    tk_ctx c;
    tk_ctx_init(&c);
    bool ok = true;
    /* special tokens first, then the others, as the library orders its patterns */
    for (int pass = 0; pass < 2 && ok; pass++) {
        for (size_t i = 0; i < a->n && ok; i++) {
            tk_added_tok *x = &a->v[i];
            if (x->special != (pass == 0)) continue;
            if (!x->normalized) {
                ok = atrie_insert(&a->raw, x->content, x->len, (int32_t)i);
                continue;
            }
            tk_ns ns = tk_ns_from(&c, x->content, x->len, 0);
            if (t->normalizer && !tk_norm_apply(&c, t->normalizer, &ns)) ok = false;
            if (ok && !c.oom) ok = atrie_insert(&a->norm, ns.s, ns.len, (int32_t)i);
        }
    }
    ok = ok && !c.oom;
    tk_ctx_free(&c);
    return ok;
}

static bool is_word_char(uint32_t c) { return c == '_' || tk_is_alnum(c); }

/* last char of s[0..n) */
static uint32_t last_char(const char *s, size_t n) {
    if (!n) return 0;
    size_t i = n - 1;
    while (i > 0 && ((uint8_t)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp;
    tk_utf8_dec(s + i, &cp);
    return cp;
}

/* Split `ns` on the added tokens of `trie`, appending to out. */
bool tk_added_split(tk_ctx *c, const tk_added *a, const tk_atrie *trie, const tk_ns *ns, tk_splitv *out) {
    const char *s = ns->s;
    uint32_t n = ns->len;
    uint32_t start_off = 0;
    if (trie->nnodes) {
        uint32_t i = 0;
        while (i < n) {
            uint8_t b = (uint8_t)s[i];
            if (!(trie->first[b >> 3] & (1u << (b & 7)))) {
                i++;
                continue;
            }
            /* longest pattern starting at i */
            uint64_t node = 0;
            int32_t best = -1;
            uint32_t best_end = 0;
            for (uint32_t k = i; k < n; k++) {
                uint64_t child;
                if (!tk_u64map_get(&trie->edges, (node << 8) | (uint8_t)s[k], &child)) break;
                node = child;
                if (trie->term[node] >= 0) {
                    best = trie->term[node];
                    best_end = k + 1;
                }
            }
            if (best < 0) {
                i++;
                continue;
            }
            const tk_added_tok *x = &a->v[best];
            uint32_t ms = i, me = best_end;
            i = best_end;
            if (ms < start_off) continue;
            if (x->single_word) {
                bool start_space = ms == 0 || !is_word_char(last_char(s, ms));
                uint32_t nx = 0;
                if (me < n) tk_utf8_dec(s + me, &nx);
                bool stop_space = me == n || !is_word_char(nx);
                if (!start_space || !stop_space) continue;
            }
            if (x->lstrip) {
                uint32_t ns_ = ms;
                while (ns_ > 0) {
                    uint32_t p = ns_ - 1;
                    while (p > 0 && ((uint8_t)s[p] & 0xC0) == 0x80) p--;
                    uint32_t cp;
                    tk_utf8_dec(s + p, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    ns_ = p;
                }
                ms = ns_ > start_off ? ns_ : start_off;
            }
            if (x->rstrip) {
                while (me < n) {
                    uint32_t cp;
                    int l = tk_utf8_dec(s + me, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    me += (uint32_t)l;
                }
            }
            if (start_off < ms) {
                tk_split sp = {tk_ns_slice(c, ns, start_off, ms), -1, 0, 0};
                if (!tk_split_push(c, out, &sp)) return false;
            }
            tk_split sp = {tk_ns_slice(c, ns, ms, me), x->id, 0, 0};
            if (!tk_split_push(c, out, &sp)) return false;
            start_off = me;
            if (i < me) i = me;
        }
    }
    if (start_off < n) {
        tk_split sp = {tk_ns_slice(c, ns, start_off, n), -1, 0, 0};
        if (!tk_split_push(c, out, &sp)) return false;
    }
    return true;
}
