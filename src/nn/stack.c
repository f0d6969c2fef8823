/* nn/stack.c — the one layer loop: attention (self and cross, with the KV cache as the decode fast
 * path), MLP, pre- or post-norm residuals, rotary and T5 relative positions, hidden states; and
 * the per-call caches (KV cache, the encoder's cross-attention K/V). */
#include "core/error.h"
#include "nn/blocks.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

am_status am__stack_alloc(am__stack *st, int64_t n) {
    st->n = n;
    st->layer = calloc((size_t)(n > 0 ? n : 1), sizeof *st->layer);
    return st->layer ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory for %lld layers", (long long)n);
}

void am__stack_free(am__stack *st) {
    if (!st) return;
    free(st->layer);
    st->layer = NULL;
}

/* ---- offloaded weights (device_map "disk") ---- */

/* The one per-layer hook every architecture goes through: before layer li runs, its offloaded
 * weights are read ahead (MADV_WILLNEED); after it ran, their pages leave the resident set
 * (MADV_DONTNEED on the read-only file mapping: the next use faults them back from the page cache
 * or the file). Weights kept on "cpu" are not touched. */
static void mod_pages(const am__module *m, bool release) {
    for (size_t i = 0; m && i < m->n_params; i++) {
        const am_tensor *t = m->params[i].t;
        if (!t || !t->offloaded) continue;
        if (release) am__tensor_drop_pages(t);
        else am__tensor_prefetch(t);
    }
}

static void attn_pages(const am__attn *a, bool release) {
    const am__module *mods[] = {a->q, a->k, a->v, a->o, a->qkv};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) mod_pages(mods[i], release);
}

void am__layer_pages(const am__layer *L, bool release) {
    attn_pages(&L->self, release);
    attn_pages(&L->cross, release);
    const am__module *mods[] = {L->mlp.fc1, L->mlp.gate, L->mlp.fc2, L->n_self.mod, L->n_cross.mod, L->n_mlp.mod};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) mod_pages(mods[i], release);
}

/* ---- KV cache ---- */

am__kv_cache *am__kv_new(int64_t layers, int64_t B, int64_t Hkv, int64_t D, int64_t cap) {
    am__kv_cache *c = calloc(1, sizeof *c);
    if (!c) {
        am__error(AM_ERR_NO_MEMORY, "KV cache: out of memory");
        return NULL;
    }
    *c = (am__kv_cache){layers, B, Hkv, D, cap, 0, NULL, NULL};
    size_t n = (size_t)(layers * B * Hkv * cap * D);
    c->k = malloc((n ? n : 1) * sizeof(float));
    c->v = malloc((n ? n : 1) * sizeof(float));
    if (!c->k || !c->v) {
        am__kv_free(c);
        am__error(AM_ERR_NO_MEMORY, "KV cache: out of memory (%lld layers x %lld rows x %lld positions)", (long long)layers, (long long)B,
                  (long long)cap);
        return NULL;
    }
    return c;
}

am_status am__stack_cache_new(const am__stack *st, int64_t B, int64_t cap, am__kv_cache **out) {
    const am__attn *a = &st->layer[0].self;
    *out = am__kv_new(st->n, B, st->n ? a->kv_heads : 1, st->n ? a->head_dim : 1, cap);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}

void am__kv_free(am__kv_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c);
}

static int64_t kv_row(const am__kv_cache *c) { return c->Hkv * c->cap * c->D; }
static float *kv_at(am__kv_cache *c, int64_t layer, bool value) { return (value ? c->v : c->k) + layer * c->B * kv_row(c); }

/* new keys/values x[B*T, Hkv*D] (row stride ld) at positions len..len+T-1 */
static void kv_store(am__kv_cache *c, int64_t layer, bool value, int64_t T, const float *x, int64_t ld) {
    float *base = kv_at(c, layer, value);
    int64_t rs = kv_row(c);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t t = 0; t < T; t++) {
            const float *src = x + (b * T + t) * ld;
            for (int64_t h = 0; h < c->Hkv; h++)
                memcpy(base + b * rs + (h * c->cap + c->len + t) * c->D, src + h * c->D, (size_t)c->D * sizeof(float));
        }
}

am_status am__kv_reorder(am__kv_cache *c, const int64_t *src) {
    bool identity = true;
    for (int64_t b = 0; b < c->B; b++) identity = identity && src[b] == b;
    if (identity || !c->len) return AM_OK;
    int64_t rs = kv_row(c);
    float *tmp = malloc((size_t)(c->B * rs) * sizeof(float));
    if (!tmp) return am__error(AM_ERR_NO_MEMORY, "KV cache reorder: out of memory");
    for (int64_t l = 0; l < c->layers; l++)
        for (int kv = 0; kv < 2; kv++) {
            float *base = kv_at(c, l, kv);
            memcpy(tmp, base, (size_t)(c->B * rs) * sizeof(float));
            for (int64_t b = 0; b < c->B; b++) {
                if (src[b] == b) continue;
                for (int64_t h = 0; h < c->Hkv; h++)
                    memcpy(base + b * rs + h * c->cap * c->D, tmp + src[b] * rs + h * c->cap * c->D, (size_t)(c->len * c->D) * sizeof(float));
            }
        }
    free(tmp);
    return AM_OK;
}

/* ---- encoder state for cross-attention ---- */

void am__cross_free(void *p) {
    am__cross *e = p;
    if (!e) return;
    for (int64_t l = 0; l < e->layers; l++) {
        if (e->k) free(e->k[l]);
        if (e->v) free(e->v[l]);
    }
    free(e->k);
    free(e->v);
    free(e->mask);
    free(e->mask_add);
    free(e);
}

am_status am__cross_new(const am__stack *dec, const float *hidden, const int64_t *mask, int64_t B, int64_t S, int64_t expand, am__cross **out) {
    *out = NULL;
    if (expand < 1) expand = 1;
    am__cross *e = calloc(1, sizeof *e);
    if (!e) return am__error(AM_ERR_NO_MEMORY, "encoder state: out of memory");
    int64_t layers = dec->n, W = layers ? dec->layer[0].cross.kv_heads * dec->layer[0].cross.head_dim : 0;
    int64_t R = B * expand, row = S * W, n1 = R * S > 0 ? R * S : 1;
    *e = (am__cross){R, S, layers, W, calloc((size_t)(layers ? layers : 1), sizeof(float *)), calloc((size_t)(layers ? layers : 1), sizeof(float *)),
                     malloc((size_t)n1), malloc((size_t)n1 * sizeof(float))};
    float *tk = malloc((size_t)(B * row > 0 ? B * row : 1) * sizeof(float)), *tv = malloc((size_t)(B * row > 0 ? B * row : 1) * sizeof(float));
    float *tkv = layers && dec->layer[0].cross.qkv ? malloc((size_t)(2 * B * row > 0 ? 2 * B * row : 1) * sizeof(float)) : NULL;
    bool ok = e->k && e->v && e->mask && e->mask_add && tk && tv && (!layers || !dec->layer[0].cross.qkv || tkv);
    for (int64_t l = 0; ok && l < layers; l++) {
        e->k[l] = malloc((size_t)(R * row > 0 ? R * row : 1) * sizeof(float));
        e->v[l] = malloc((size_t)(R * row > 0 ? R * row : 1) * sizeof(float));
        ok = e->k[l] && e->v[l];
        if (!ok) break;
        /* project the B distinct rows once, then copy them to their beams */
        const am__attn *a = &dec->layer[l].cross;
        attn_pages(a, false);
        if (a->qkv) { /* one product, then K and V are the two halves of every row */
            ok = am__dense(a->qkv, a->kn, B * S, hidden, tkv) == AM_OK;
            for (int64_t i = 0; ok && i < B * S; i++) {
                memcpy(tk + i * W, tkv + i * 2 * W, (size_t)W * sizeof(float));
                memcpy(tv + i * W, tkv + i * 2 * W + W, (size_t)W * sizeof(float));
            }
        } else ok = am__dense(a->k, a->kn, B * S, hidden, tk) == AM_OK && am__dense(a->v, a->kn, B * S, hidden, tv) == AM_OK;
        attn_pages(a, true);
        if (!ok) break;
        for (int64_t r = 0; r < R; r++) {
            memcpy(e->k[l] + r * row, tk + (r / expand) * row, (size_t)row * sizeof(float));
            memcpy(e->v[l] + r * row, tv + (r / expand) * row, (size_t)row * sizeof(float));
        }
    }
    free(tk);
    free(tv);
    free(tkv);
    if (!ok) {
        am__cross_free(e);
        return am__error(AM_ERR_NO_MEMORY, "encoder state: out of memory (%lld rows x %lld positions)", (long long)R, (long long)S);
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < S; j++) {
            bool keep = !mask || mask[(r / expand) * S + j] != 0;
            e->mask[r * S + j] = keep;
            e->mask_add[r * S + j] = keep ? 0.0f : AM_FINFO_MIN_F32;
        }
    *out = e;
    return AM_OK;
}

/* ---- positions ---- */

/* T5's _relative_position_bucket, in float32 as torch computes it */
static int64_t rel_bucket(int64_t rel, bool bidirectional, int64_t nb, int64_t maxd) {
    int64_t ret = 0;
    if (bidirectional) {
        nb /= 2;
        if (rel > 0) ret += nb;
        rel = rel < 0 ? -rel : rel;
    } else rel = rel < 0 ? -rel : 0;
    int64_t max_exact = nb / 2;
    if (rel < max_exact) return ret + rel;
    float f = logf((float)rel / (float)max_exact) / (float)log((double)maxd / (double)max_exact) * (float)(nb - max_exact);
    int64_t large = max_exact + (int64_t)f;
    if (large > nb - 1) large = nb - 1;
    return ret + large;
}

/* compute_bias for queries at positions off..off+Tq-1 against keys 0..Tk-1: [heads, Tq, Tk] */
static am_status rel_bias(const am__stack *st, int64_t off, int64_t Tq, int64_t Tk, float **out) {
    int64_t heads = st->layer[0].self.heads, n = heads * Tq * Tk;
    float *bias = malloc((size_t)(n > 0 ? n : 1) * sizeof(float)), *tmp = NULL;
    const float *emb = bias ? am__f32_view(am__mod_tensor(st->rel_bias, "weight"), &tmp) : NULL;
    if (!bias || !emb) {
        free(bias);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the relative position bias (%lld x %lld)", (long long)Tq, (long long)Tk);
    }
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++) {
            int64_t b = rel_bucket(j - (i + off), !st->causal, st->rel_buckets, st->rel_max_distance);
            for (int64_t h = 0; h < heads; h++) bias[(h * Tq + i) * Tk + j] = emb[b * heads + h];
        }
    free(tmp);
    *out = bias;
    return AM_OK;
}

/* cos/sin [M, dim/2] for every position; seq_len (keys of this call) drives the dynamic NTK base
 * (LlamaDynamicNTKScalingRotaryEmbedding, evaluated for this call's length) */
static void rope_tables(const am__rope *r, int64_t M, const int64_t *pos, int64_t seq_len, float *inv, float *cs, float *sn) {
    int64_t h = r->dim / 2;
    double base = r->base;
    if (r->kind == AM__ROPE_DYNAMIC && seq_len > r->max_pos) {
        double f = r->factor, dim = (double)r->dim;
        base = r->base * pow((f * (double)seq_len / (double)r->max_pos) - (f - 1), dim / (dim - 2));
    }
    am__rope_inv_freq(r->dim, base, inv);
    for (int64_t i = 0; i < M; i++) {
        float tp = (float)pos[i];
        if (r->kind == AM__ROPE_LINEAR) tp = tp / (float)r->factor;
        for (int64_t j = 0; j < h; j++) {
            float f = tp * inv[j];
            cs[i * h + j] = cosf(f);
            sn[i * h + j] = sinf(f);
        }
    }
}

/* q * cos + rotate_half(q) * sin on every head of rows [M, heads*D] with row stride ld */
static void apply_rope(float *x, int64_t ld, int64_t M, int64_t heads, int64_t D, const float *cs, const float *sn) {
    int64_t h = D / 2;
    for (int64_t i = 0; i < M; i++)
        for (int64_t hd = 0; hd < heads; hd++) {
            float *v = x + i * ld + hd * D;
            const float *c = cs + i * h, *s = sn + i * h;
            for (int64_t j = 0; j < h; j++) {
                float a = v[j], b = v[j + h];
                v[j] = a * c[j] - b * s[j];
                v[j + h] = b * c[j] + a * s[j];
            }
        }
}

/* ---- one call's working memory ---- */

typedef struct scratch {
    float *h, *o, *q, *k, *v, *ctx, *f1, *f2, *mask_add, *bias, *cs, *sn, *inv;
    uint8_t *mask_own;
} scratch;

static void scratch_free(scratch *s) {
    float *all[] = {s->h, s->o, s->q, s->k, s->v, s->ctx, s->f1, s->f2, s->mask_add, s->bias, s->cs, s->sn, s->inv};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    free(s->mask_own);
}

static float *fbuf(int64_t n, bool *ok) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    *ok = *ok && p;
    return p;
}

static am_status scratch_alloc(const am__stack *st, const am__stack_io *io, int64_t past, scratch *s) {
    memset(s, 0, sizeof *s);
    const am__layer *L = &st->layer[0];
    int64_t M = io->B * io->T, QD = L->self.heads * L->self.head_dim, KD = L->self.kv_heads * L->self.head_dim;
    if (L->cross.o && L->cross.heads * L->cross.head_dim > QD) QD = L->cross.heads * L->cross.head_dim;
    bool ok = true;
    s->h = fbuf(M * st->H, &ok);
    s->o = fbuf(M * st->H, &ok);
    s->q = fbuf(M * (L->self.qkv ? QD + 2 * KD : QD), &ok);
    s->k = fbuf(M * (KD > QD ? KD : QD), &ok);
    s->v = fbuf(M * KD, &ok);
    s->ctx = fbuf(M * QD, &ok);
    s->f1 = fbuf(M * L->mlp.inner, &ok);
    if (L->mlp.gate) s->f2 = fbuf(M * L->mlp.inner, &ok);
    if (st->rope) {
        int64_t h = st->rope->dim / 2;
        s->cs = fbuf(M * h, &ok);
        s->sn = fbuf(M * h, &ok);
        s->inv = fbuf(h, &ok);
    }
    if (ok && !io->cache && io->mask) {
        s->mask_add = fbuf(M, &ok);
        for (int64_t b = 0; ok && b < io->B; b++)
            for (int64_t j = 0; j < io->T; j++) s->mask_add[b * io->T + j] = io->mask[b * io->mask_stride + j] ? 0.0f : AM_FINFO_MIN_F32;
    }
    if (!ok) {
        scratch_free(s);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld rows of working memory", (long long)M);
    }
    am_status r = st->rel_bias ? rel_bias(st, past, io->T, past + io->T, &s->bias) : AM_OK;
    if (r != AM_OK) scratch_free(s);
    return r;
}

/* ---- sublayers ---- */

static am_status attend(am__fwd *cx, int role, am__attn_args *g) { return cx->attend ? cx->attend(cx->owner, role, g) : am__attention(g); }

/* self-attention of layer li on h [M, H] -> out [M, H] */
static am_status self_attention(am__fwd *cx, const am__stack *st, int64_t li, am__stack_io *io, scratch *s, const float *h, float *out) {
    const am__attn *a = &st->layer[li].self;
    int64_t B = io->B, T = io->T, M = B * T, D = a->head_dim, QD = a->heads * D, KD = a->kv_heads * D;
    float *q = s->q, *k = s->k, *v = s->v;
    int64_t qs = QD, ks = KD;
    am_status r;
    if (a->qkv) {
        r = am__dense(a->qkv, a->kn, M, h, s->q);
        qs = ks = QD + 2 * KD;
        k = s->q + QD;
        v = s->q + QD + KD;
    } else if ((r = am__dense(a->q, a->kn, M, h, q)) == AM_OK && (r = am__dense(a->k, a->kn, M, h, k)) == AM_OK)
        r = am__dense(a->v, a->kn, M, h, v);
    if (r != AM_OK) return r;
    if (st->rope) {
        apply_rope(q, qs, M, a->heads, D, s->cs, s->sn);
        apply_rope(k, ks, M, a->kv_heads, D, s->cs, s->sn);
    }
    am__kv_cache *c = io->cache;
    am__attn_args g = am__attn_packed(B, T, c ? c->len + T : T, a->heads, a->kv_heads, D, q, qs, k, v, ks, s->ctx, QD);
    if (c) { /* decode: append to the cache, attend over all of it */
        kv_store(c, li, false, T, k, ks);
        kv_store(c, li, true, T, v, ks);
        g.k = kv_at(c, li, false);
        g.v = kv_at(c, li, true);
        g.kv_row = D;
        g.kv_head = c->cap * D;
        g.kv_batch = kv_row(c);
        g.key_mask = io->mask;
        g.mask_stride = io->mask_stride;
    } else {
        g.mask_add = s->mask_add;
        g.dropout_p = am__drop_p(cx, a->probs);
        g.seed = am__fwd_seed(cx);
    }
    g.causal = st->causal;
    g.bias = s->bias;
    g.scale = a->scale;
    if ((r = attend(cx, st->attn_role, &g)) != AM_OK) return r;
    return am__dense(a->o, a->kn, M, s->ctx, out);
}

/* cross-attention of layer li over the encoder state */
static am_status cross_attention(am__fwd *cx, const am__stack *st, int64_t li, am__stack_io *io, scratch *s, const float *h, float *out) {
    const am__attn *a = &st->layer[li].cross;
    const am__cross *e = io->cross;
    int64_t B = io->B, T = io->T, M = B * T, D = a->head_dim, QD = a->heads * D, W = e->width;
    am_status r = am__dense(a->q, a->kn, M, h, s->q);
    if (r != AM_OK) return r;
    am__attn_args g = am__attn_packed(B, T, e->S, a->heads, a->kv_heads, D, s->q, QD, e->k[li], e->v[li], W, s->ctx, QD);
    g.mask_add = e->mask_add;
    g.mask_stride = e->S;
    g.scale = a->scale;
    g.dropout_p = am__drop_p(cx, a->probs);
    g.seed = am__fwd_seed(cx);
    if ((r = attend(cx, 2, &g)) != AM_OK) return r;
    return am__dense(a->o, a->kn, M, s->ctx, out);
}

static am_status mlp(am__fwd *cx, const am__mlp *p, int64_t M, const float *h, scratch *s, float *out) {
    am_status r;
    if (p->gate) {
        if ((r = am__dense(p->gate, p->kn, M, h, s->f1)) != AM_OK) return r;
        am__act_f32(p->act, M * p->inner, s->f1);
        if ((r = am__dense(p->fc1, p->kn, M, h, s->f2)) != AM_OK) return r;
        for (int64_t i = 0; i < M * p->inner; i++) s->f1[i] *= s->f2[i];
    } else {
        if ((r = am__dense(p->fc1, p->kn, M, h, s->f1)) != AM_OK) return r;
        am__act_f32(p->act, M * p->inner, s->f1);
    }
    am__drop_fwd(cx, p->inner_drop, M * p->inner, s->f1);
    return am__dense(p->fc2, p->kn, M, s->f1, out);
}

typedef enum { SUB_SELF, SUB_CROSS, SUB_MLP } sub_kind;

/* one residual sublayer: pre-norm x += drop(f(norm(x))), post-norm x = norm(x + drop(f(x))) */
static am_status sublayer(am__fwd *cx, const am__stack *st, int64_t li, sub_kind kind, am__stack_io *io, scratch *s) {
    const am__layer *L = &st->layer[li];
    const am__norm *n = kind == SUB_SELF ? &L->n_self : kind == SUB_CROSS ? &L->n_cross : &L->n_mlp;
    am__drop d = kind == SUB_SELF ? L->d_self : kind == SUB_CROSS ? L->d_cross : L->d_mlp;
    int64_t M = io->B * io->T, n_el = M * st->H;
    const float *h = io->x;
    am_status r = st->pre_norm ? am__norm_fwd(n, M, io->x, s->h) : AM_OK;
    if (st->pre_norm) h = s->h;
    if (r == AM_OK) {
        if (kind == SUB_SELF) r = self_attention(cx, st, li, io, s, h, s->o);
        else if (kind == SUB_CROSS) r = cross_attention(cx, st, li, io, s, h, s->o);
        else r = mlp(cx, &L->mlp, M, h, s, s->o);
    }
    if (r != AM_OK) return r;
    am__drop_fwd(cx, d, n_el, s->o);
    for (int64_t i = 0; i < n_el; i++) io->x[i] += s->o[i];
    return st->pre_norm ? AM_OK : am__norm_fwd(n, M, io->x, io->x);
}

static am_status put_hidden(const am__stack_io *io, int64_t i, int64_t H) {
    if (!io->hs) return AM_OK;
    char name[96];
    snprintf(name, sizeof name, "%s.%lld", io->hs_name ? io->hs_name : "hidden_states", (long long)i);
    int64_t shape[3] = {io->B, io->T, H};
    return am__put_output(io->hs, name, 3, shape, io->x);
}

am_status am__stack_forward(am__fwd *cx, const am__stack *st, am__stack_io *io) {
    int64_t B = io->B, T = io->T, M = B * T, past = io->cache ? io->cache->len : 0;
    if (io->cache && (past + T > io->cache->cap || io->cache->B != B))
        return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld rows x %lld positions do not fit the cache (%lld rows x %lld)", (long long)B,
                         (long long)(past + T), (long long)io->cache->B, (long long)io->cache->cap);
    if (io->cross && io->cross->B != B)
        return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld rows but the encoder state has %lld", (long long)B, io->cross ? (long long)io->cross->B : 0LL);
    scratch s;
    am_status r = st->n ? scratch_alloc(st, io, past, &s) : AM_OK;
    if (r != AM_OK) return r;
    if (st->n && st->rope) {
        int64_t *pos = (int64_t *)io->pos;
        if (!pos) {
            if (!(pos = malloc((size_t)(M > 0 ? M : 1) * sizeof(int64_t)))) r = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for positions");
            for (int64_t i = 0; pos && i < M; i++) pos[i] = past + i % T;
        }
        if (r == AM_OK) rope_tables(st->rope, M, pos, past + T, s.inv, s.cs, s.sn);
        if (pos != io->pos) free(pos);
    }
    for (int64_t li = 0; r == AM_OK && li < st->n; li++) {
        am__layer_pages(&st->layer[li], false);
        if ((r = put_hidden(io, li, st->H)) == AM_OK) r = sublayer(cx, st, li, SUB_SELF, io, &s);
        if (r == AM_OK && st->layer[li].cross.o && io->cross) r = sublayer(cx, st, li, SUB_CROSS, io, &s); /* BartForCausalLM: no encoder */
        if (r == AM_OK) r = sublayer(cx, st, li, SUB_MLP, io, &s);
        am__layer_pages(&st->layer[li], true);
    }
    if (r == AM_OK && st->final_norm.mod) r = am__norm_fwd(&st->final_norm, M, io->x, io->x);
    if (r == AM_OK) {
        am__drop_fwd(cx, st->final_drop, M * st->H, io->x);
        r = put_hidden(io, st->n, st->H);
    }
    if (r == AM_OK && io->cache) io->cache->len += T;
    if (st->n) scratch_free(&s);
    return r;
}
