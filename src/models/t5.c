/* models/t5.c — T5 (modeling_t5.py): T5Model, T5ForConditionalGeneration and T5EncoderModel. Pre-norm
 * blocks with RMS T5LayerNorm, relative position buckets (bidirectional in the encoder, causal in the
 * decoder) computed by the first layer and shared by the stack, no 1/sqrt(d) scaling, ReLU or gated
 * feed-forward, tied embeddings with the d_model^-0.5 rescale before the head. */
#include "core/error.h"
#include "core/util.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* T5Config() of transformers 4.32: model-specific keys, then the generic ones it overrides. */
const am__config_default am__t5_defaults[] = {
    {"vocab_size", "32128"}, {"d_model", "512"}, {"d_kv", "64"}, {"d_ff", "2048"}, {"num_layers", "6"}, {"num_decoder_layers", "6"},
    {"num_heads", "8"}, {"relative_attention_num_buckets", "32"}, {"relative_attention_max_distance", "128"}, {"dropout_rate", "0.1"},
    {"classifier_dropout", "0.0"}, {"layer_norm_epsilon", "1e-06"}, {"initializer_factor", "1.0"}, {"feed_forward_proj", "\"relu\""},
    {"use_cache", "true"}, {"dense_act_fn", "\"relu\""}, {"is_gated_act", "false"},
    {"pad_token_id", "0"}, {"eos_token_id", "1"}, {"is_encoder_decoder", "true"}, {NULL, NULL}};

/* T5Config.__init__: dense_act_fn / is_gated_act from feed_forward_proj, num_decoder_layers from
 * num_layers (values given in config.json win, as the kwargs set after them do). */
am_status am__t5_config_init(am_config *c, const char *origin) {
    const cJSON *f = am__config_value(c, "feed_forward_proj");
    if (!cJSON_IsString(f)) return am__error(AM_ERR_FORMAT, "%s: \"feed_forward_proj\" must be a string such as \"relu\" or \"gated-gelu\"", origin);
    const char *ffp = f->valuestring, *dash = strchr(ffp, '-');
    bool gated = dash && (size_t)(dash - ffp) == 5 && !strncmp(ffp, "gated", 5);
    if ((dash && !gated) || (dash && strchr(dash + 1, '-')))
        return am__error(AM_ERR_FORMAT,
                         "%s: `feed_forward_proj`: %s is not a valid activation function of the dense layer. Please make sure `feed_forward_proj` is of "
                         "the format `gated-{ACT_FN}` or `{ACT_FN}`, e.g. 'gated-gelu' or 'relu'",
                         origin, ffp);
    const char *act = dash ? dash + 1 : ffp;
    if (!strcmp(ffp, "gated-gelu")) act = "gelu_new";
    am_status s = AM_OK;
    if (!cJSON_GetObjectItemCaseSensitive(c->values, "dense_act_fn")) s = am_config_set_string(c, "dense_act_fn", act);
    if (s == AM_OK && !cJSON_GetObjectItemCaseSensitive(c->values, "is_gated_act")) s = am_config_set_bool(c, "is_gated_act", gated);
    const cJSON *ndl = cJSON_GetObjectItemCaseSensitive(c->values, "num_decoder_layers");
    if (s == AM_OK && (!ndl || cJSON_IsNull(ndl))) s = am_config_set_int(c, "num_decoder_layers", am__config_int(c, "num_layers", 6));
    return s;
}

static const char *const k_t5_inputs[] = {"input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", NULL};
static const char *const k_t5_enc_inputs[] = {"input_ids", "attention_mask", NULL};

typedef struct t5_attn {
    am__module *q, *k, *v, *o, *rel;
} t5_attn;

typedef struct t5_layer {
    t5_attn sa, ca;
    am__module *sa_ln, *sa_drop, *ca_ln, *ca_drop;
    am__module *wi, *wi0, *wi1, *wo, *ff_drop_inner, *ff_ln, *ff_drop;
} t5_layer;

typedef struct t5_stack {
    am__module *embed, *final_ln, *drop;
    t5_layer *layer;
    int64_t n;
    bool decoder;
} t5_stack;

typedef struct t5_impl {
    int64_t D, dk, heads, inner, dff, nb, maxd, V;
    double eps;
    bool gated, tie, has_decoder, lm;
    am__act act;
    am__module *shared, *lm_head;
    t5_stack enc, dec;
} t5_impl;

static void t5_impl_free(void *p) {
    t5_impl *t = p;
    if (!t) return;
    free(t->enc.layer);
    free(t->dec.layer);
    free(t);
}

/* ---- module tree ---- */

static am__module *t5_layernorm(am__module *parent, const char *name, int64_t d) {
    am__module *m = am__module_new(parent, name, "T5LayerNorm");
    am__module_param(m, "weight", 1, &d, AM_INIT_ONES);
    return m;
}

static void t5_attention(am__module *parent, const char *name, const t5_impl *t, bool rel, t5_attn *a) {
    am__module *m = am__module_new(parent, name, "T5Attention");
    a->q = am__nn_linear(m, "q", t->D, t->inner, false);
    a->k = am__nn_linear(m, "k", t->D, t->inner, false);
    a->v = am__nn_linear(m, "v", t->D, t->inner, false);
    a->o = am__nn_linear(m, "o", t->inner, t->D, false);
    a->rel = rel ? am__nn_embedding(m, "relative_attention_bias", t->nb, t->heads, -1) : NULL;
}

static am_status t5_stack_build(am_model *m, t5_impl *t, const char *name, int64_t n, bool decoder, const char *act_cls, double p, t5_stack *st) {
    am__module *sm = am__module_new(m->root, name, "T5Stack");
    st->decoder = decoder;
    st->n = n;
    st->embed = am__nn_embedding(sm, "embed_tokens", t->V, t->D, -1);
    char al[128];
    snprintf(al, sizeof al, "%s.embed_tokens.weight", name);
    am__model_tie(m, al, "shared.weight"); /* T5Stack holds the shared module itself */
    am__module *blocks = am__module_new(sm, "block", "ModuleList");
    st->layer = calloc((size_t)(n ? n : 1), sizeof *st->layer);
    if (!st->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *blk = am__module_new(blocks, idx, "T5Block");
        am__module *ll = am__module_new(blk, "layer", "ModuleList");
        t5_layer *L = &st->layer[i];
        am__module *sa = am__module_new(ll, "0", "T5LayerSelfAttention");
        t5_attention(sa, "SelfAttention", t, i == 0, &L->sa);
        L->sa_ln = t5_layernorm(sa, "layer_norm", t->D);
        L->sa_drop = am__nn_dropout(sa, "dropout", p);
        int fi = 1;
        if (decoder) {
            am__module *ca = am__module_new(ll, "1", "T5LayerCrossAttention");
            t5_attention(ca, "EncDecAttention", t, false, &L->ca);
            L->ca_ln = t5_layernorm(ca, "layer_norm", t->D);
            L->ca_drop = am__nn_dropout(ca, "dropout", p);
            fi = 2;
        }
        am__module *ff = am__module_new(ll, fi == 1 ? "1" : "2", "T5LayerFF");
        am__module *dd = am__module_new(ff, "DenseReluDense", t->gated ? "T5DenseGatedActDense" : "T5DenseActDense");
        if (t->gated) {
            L->wi0 = am__nn_linear(dd, "wi_0", t->D, t->dff, false);
            L->wi1 = am__nn_linear(dd, "wi_1", t->D, t->dff, false);
        } else L->wi = am__nn_linear(dd, "wi", t->D, t->dff, false);
        L->wo = am__nn_linear(dd, "wo", t->dff, t->D, false);
        L->ff_drop_inner = am__nn_dropout(dd, "dropout", p);
        am__nn_leaf(dd, "act", act_cls);
        L->ff_ln = t5_layernorm(ff, "layer_norm", t->D);
        L->ff_drop = am__nn_dropout(ff, "dropout", p);
    }
    st->final_ln = t5_layernorm(sm, "final_layer_norm", t->D);
    st->drop = am__nn_dropout(sm, "dropout", p);
    return AM_OK;
}

/* ---- forward pieces ---- */

/* _relative_position_bucket, in float32 as torch computes it */
static int64_t t5_bucket(int64_t rel, bool bidirectional, int64_t nb, int64_t maxd) {
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
static float *t5_position_bias(const t5_impl *t, const am__module *rel, bool bidirectional, int64_t off, int64_t Tq, int64_t Tk) {
    int64_t nb = t->heads * Tq * Tk;
    float *bias = malloc((size_t)(nb > 0 ? nb : 1) * sizeof(float));
    if (!bias) return NULL;
    float *tmp;
    const float *emb = am__f32_view(am__mod_tensor(rel, "weight"), &tmp);
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++) {
            int64_t b = t5_bucket(j - (i + off), bidirectional, t->nb, t->maxd);
            for (int64_t h = 0; h < t->heads; h++) bias[(h * Tq + i) * Tk + j] = emb[b * t->heads + h];
        }
    free(tmp);
    return bias;
}

static void t5_norm(const am__module *ln, int64_t M, const float *x, float *y, double eps) {
    am__rmsnorm_fwd(ln, M, x, y, eps);
}

/* T5LayerFF on x [M, D] in place (residual included); n, h1, h2 scratch */
static void t5_ff(am_model *m, const t5_impl *t, const t5_layer *L, int64_t M, float *x, float *n, float *h1, float *h2) {
    t5_norm(L->ff_ln, M, x, n, t->eps);
    if (t->gated) {
        am__dense_fwd(L->wi0, M, n, h1);
        am__act_f32(t->act, M * t->dff, h1);
        am__dense_fwd(L->wi1, M, n, h2);
        for (int64_t i = 0; i < M * t->dff; i++) h1[i] *= h2[i];
    } else {
        am__dense_fwd(L->wi, M, n, h1);
        am__act_f32(t->act, M * t->dff, h1);
    }
    am__dropout_fwd(m, L->ff_drop_inner, M * t->dff, h1);
    am__dense_fwd(L->wo, M, h1, n);
    am__dropout_fwd(m, L->ff_drop, M * t->D, n);
    for (int64_t i = 0; i < M * t->D; i++) x[i] += n[i];
}

static am_status put3(am_tensors *out, const char *name, int64_t a, int64_t b, int64_t c, const float *x) {
    int64_t shape[3] = {a, b, c};
    return am__put_output(out, name, 3, shape, x);
}

static am_status embed(const t5_impl *t, const int64_t *ids, int64_t M, float *x) {
    const am_tensor *w = am__mod_tensor(t->shared, "weight");
    for (int64_t i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= t->V)
            return am__error(AM_ERR_INVALID_ARGUMENT, "forward: token id %lld is outside the vocabulary [0, %lld)", (long long)ids[i], (long long)t->V);
        am__row_f32(w, ids[i], x + i * t->D);
    }
    return AM_OK;
}

typedef struct scratch {
    float *n, *q, *k, *v, *ctx, *h1, *h2;
} scratch;

static void scratch_free(scratch *s) {
    free(s->n);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->ctx);
    free(s->h1);
    free(s->h2);
}

static am_status scratch_alloc(scratch *s, const t5_impl *t, int64_t M) {
    memset(s, 0, sizeof *s);
    size_t wd = (size_t)(t->D > t->inner ? t->D : t->inner);
    s->n = malloc((size_t)M * wd * sizeof(float));
    s->q = malloc((size_t)M * wd * sizeof(float));
    s->k = malloc((size_t)M * wd * sizeof(float));
    s->v = malloc((size_t)M * wd * sizeof(float));
    s->ctx = malloc((size_t)M * wd * sizeof(float));
    s->h1 = malloc((size_t)(M * t->dff) * sizeof(float));
    s->h2 = t->gated ? malloc((size_t)(M * t->dff) * sizeof(float)) : NULL;
    if (!s->n || !s->q || !s->k || !s->v || !s->ctx || !s->h1 || (t->gated && !s->h2)) {
        scratch_free(s);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    }
    return AM_OK;
}

/* The encoder T5Stack over ids [B, S]: hidden [B, S, D] (owned). Hidden states go to `hs` as
 * `<hs_prefix>.i` when hs is not NULL. */
static am_status t5_encode_impl(am_model *m, const int64_t *ids, const int64_t *mask, int64_t B, int64_t S, float **hidden, am_tensors *hs,
                                const char *hs_prefix) {
    t5_impl *t = m->impl;
    const t5_stack *st = &t->enc;
    int64_t M = B * S, D = t->D;
    float *x = malloc((size_t)(M * D) * sizeof(float));
    float *madd = malloc((size_t)M * sizeof(float));
    float *bias = st->n ? t5_position_bias(t, st->layer[0].sa.rel, true, 0, S, S) : NULL;
    scratch sc;
    am_status s = x && madd && (bias || !st->n) ? scratch_alloc(&sc, t, M) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s != AM_OK) {
        free(x);
        free(madd);
        free(bias);
        return s;
    }
    for (int64_t i = 0; i < M; i++) madd[i] = mask && mask[i] == 0 ? AM_FINFO_MIN_F32 : 0.0f;
    s = embed(t, ids, M, x);
    if (s == AM_OK) am__dropout_fwd(m, st->drop, M * D, x);
    char name[96];
    for (int64_t li = 0; s == AM_OK && li < st->n; li++) {
        const t5_layer *L = &st->layer[li];
        if (hs) {
            snprintf(name, sizeof name, "%s.%lld", hs_prefix, (long long)li);
            s = put3(hs, name, B, S, D, x);
        }
        t5_norm(L->sa_ln, M, x, sc.n, t->eps);
        am__dense_fwd(L->sa.q, M, sc.n, sc.q);
        am__dense_fwd(L->sa.k, M, sc.n, sc.k);
        am__dense_fwd(L->sa.v, M, sc.n, sc.v);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_SELF, B, S, S, S, t->heads, t->dk, sc.q, sc.k, sc.v, madd, false, bias, 1.0f, am__dropout_p(L->sa_drop), am__dropout_seed(m), sc.ctx);
        am__dense_fwd(L->sa.o, M, sc.ctx, sc.n);
        am__dropout_fwd(m, L->sa_drop, M * D, sc.n);
        for (int64_t i = 0; i < M * D; i++) x[i] += sc.n[i];
        t5_ff(m, t, L, M, x, sc.n, sc.h1, sc.h2);
    }
    if (s == AM_OK) {
        t5_norm(st->final_ln, M, x, x, t->eps);
        am__dropout_fwd(m, st->drop, M * D, x);
        if (hs) {
            snprintf(name, sizeof name, "%s.%lld", hs_prefix, (long long)st->n);
            s = put3(hs, name, B, S, D, x);
        }
    }
    scratch_free(&sc);
    free(madd);
    free(bias);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    *hidden = x;
    return AM_OK;
}

static void t5_cross_kv(am_model *m, int64_t layer, int64_t M, const float *h, float *k, float *v) {
    t5_impl *t = m->impl;
    am__dense_fwd(t->dec.layer[layer].ca.k, M, h, k);
    am__dense_fwd(t->dec.layer[layer].ca.v, M, h, v);
}

/* The decoder T5Stack on T new tokens per row, appended to the cache. self_mask: additive
 * [B, len+T] or NULL. Final hidden [B*T, D] into *hidden (owned). */
static am_status t5_decode(am_model *m, am__kv_cache *c, const am__s2s_enc *e, const int64_t *ids, int64_t T, const float *self_mask, float **hidden,
                           am_tensors *hs) {
    t5_impl *t = m->impl;
    const t5_stack *st = &t->dec;
    int64_t B = c->B, M = B * T, D = t->D, past = c->len, Tk = past + T;
    if (Tk > c->cap) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld positions exceed the cache (%lld)", (long long)Tk, (long long)c->cap);
    if (e->B != B) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld rows but the encoder state has %lld", (long long)B, (long long)e->B);
    float *x = malloc((size_t)(M * D) * sizeof(float));
    float *bias = st->n ? t5_position_bias(t, st->layer[0].sa.rel, false, past, T, Tk) : NULL;
    scratch sc;
    am_status s = x && (bias || !st->n) ? scratch_alloc(&sc, t, M) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s != AM_OK) {
        free(x);
        free(bias);
        return s;
    }
    s = embed(t, ids, M, x);
    if (s == AM_OK) am__dropout_fwd(m, st->drop, M * D, x);
    char name[96];
    for (int64_t li = 0; s == AM_OK && li < st->n; li++) {
        const t5_layer *L = &st->layer[li];
        if (hs) {
            snprintf(name, sizeof name, "decoder_hidden_states.%lld", (long long)li);
            s = put3(hs, name, B, T, D, x);
        }
        t5_norm(L->sa_ln, M, x, sc.n, t->eps);
        am__dense_fwd(L->sa.q, M, sc.n, sc.q);
        am__dense_fwd(L->sa.k, M, sc.n, sc.k);
        am__dense_fwd(L->sa.v, M, sc.n, sc.v);
        am__kv_store(c, li, false, T, sc.k, t->inner);
        am__kv_store(c, li, true, T, sc.v, t->inner);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_DECODER, B, T, Tk, c->cap, t->heads, t->dk, sc.q, am__kv_k(c, li), am__kv_v(c, li), self_mask, true, bias, 1.0f,
                       am__dropout_p(L->sa_drop), am__dropout_seed(m), sc.ctx);
        am__dense_fwd(L->sa.o, M, sc.ctx, sc.n);
        am__dropout_fwd(m, L->sa_drop, M * D, sc.n);
        for (int64_t i = 0; i < M * D; i++) x[i] += sc.n[i];
        /* cross-attention: no relative bias, only the encoder padding mask */
        t5_norm(L->ca_ln, M, x, sc.n, t->eps);
        am__dense_fwd(L->ca.q, M, sc.n, sc.q);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_CROSS, B, T, e->S, e->S, t->heads, t->dk, sc.q, e->ck[li], e->cv[li], e->mask, false, NULL, 1.0f, am__dropout_p(L->ca_drop),
                       am__dropout_seed(m), sc.ctx);
        am__dense_fwd(L->ca.o, M, sc.ctx, sc.n);
        am__dropout_fwd(m, L->ca_drop, M * D, sc.n);
        for (int64_t i = 0; i < M * D; i++) x[i] += sc.n[i];
        t5_ff(m, t, L, M, x, sc.n, sc.h1, sc.h2);
    }
    if (s == AM_OK) {
        t5_norm(st->final_ln, M, x, x, t->eps);
        am__dropout_fwd(m, st->drop, M * D, x);
        if (hs) {
            snprintf(name, sizeof name, "decoder_hidden_states.%lld", (long long)st->n);
            s = put3(hs, name, B, T, D, x);
        }
    }
    scratch_free(&sc);
    free(bias);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    c->len = Tk;
    *hidden = x;
    return AM_OK;
}

/* lm_head on rows of the decoder output (rescaled first when the embeddings are tied) */
static void t5_head(const t5_impl *t, int64_t M, float *x, float *logits) {
    if (t->tie) {
        float sc = (float)pow((double)t->D, -0.5);
        for (int64_t i = 0; i < M * t->D; i++) x[i] *= sc;
    }
    am__dense_fwd(t->lm_head, M, x, logits);
}

static am_status t5_gen_encode(am_model *m, const am_tensors *in, int64_t expand, void **enc) {
    t5_impl *t = m->impl;
    am_tensor *ids, *mask;
    int64_t B, S;
    *enc = NULL;
    am_status s = am__s2s_encoder_inputs(in, &ids, &mask, &B, &S);
    float *h = NULL;
    if (s == AM_OK) s = t5_encode_impl(m, ids->data, mask ? mask->data : NULL, B, S, &h, NULL, NULL);
    if (s == AM_OK) s = am__s2s_enc_new(m, h, mask ? mask->data : NULL, B, S, expand, t->dec.n, t->inner, t5_cross_kv, (am__s2s_enc **)enc);
    free(h);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

static am_status t5_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    const t5_impl *t = m->impl;
    *out = am__kv_new(t->dec.n, B, 1, t->inner, cap);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}

static am_status t5_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                         const uint8_t *mask, int64_t mask_stride, float *logits) {
    t5_impl *t = m->impl;
    (void)pos; /* relative positions come from the cache length */
    if (T <= 0 || B != cache->B || !enc) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder step: bad arguments (%lld rows, %lld tokens)", (long long)B, (long long)T);
    float *madd = am__s2s_mask_add(mask, B, mask_stride, cache->len + T), *h = NULL;
    am_status s = t5_decode(m, cache, enc, ids, T, madd, &h, NULL);
    free(madd);
    if (s != AM_OK) return s;
    /* keep the last position of every row */
    for (int64_t b = 0; b < B; b++) memmove(h + b * t->D, h + (b * T + T - 1) * t->D, (size_t)t->D * sizeof(float));
    t5_head(t, B, h, logits);
    free(h);
    return AM_OK;
}

static int64_t t5_vocab(const am_model *m) { return ((const t5_impl *)m->impl)->V; }
static int64_t t5_max_positions(const am_model *m) {
    (void)m; /* relative positions: no table to run out of */
    return 0;
}

static const am__gen_ops k_t5_gen = {true, t5_max_positions, t5_vocab, t5_cache_new, t5_gen_encode, am__s2s_enc_free, t5_step};

static am_status t5_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    t5_impl *t = m->impl;
    bool hs = opts && opts->output_hidden_states;
    int64_t B = -1, S = -1;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &S, true);
    if (!ids)
        return am_tensors_get(in, "input_ids") ? AM_ERR_SHAPE : am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either input_ids or inputs_embeds");
    am_tensor *mask = NULL, *dids = NULL, *dmask = NULL;
    am_status s = AM_OK;
    if (B == 0 || S == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty (shape [%lld, %lld])", (long long)B, (long long)S);
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &S, &mask);
    int64_t DB = B, T = -1;
    if (s == AM_OK && t->has_decoder) {
        if (!am_tensors_get(in, "decoder_input_ids"))
            s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either decoder_input_ids or decoder_inputs_embeds");
        else {
            /* batch must match the encoder's; the decoder length is its own */
            am_tensor *raw = am_tensors_get(in, "decoder_input_ids");
            if (am_tensor_ndim(raw) == 2) T = am_tensor_dim(raw, 1);
            dids = am__input_ids(in, "decoder_input_ids", &DB, &T, true);
            if (!dids) s = AM_ERR_SHAPE;
            else if (T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: decoder_input_ids is empty");
        }
        if (s == AM_OK) s = am__opt_input(in, "decoder_attention_mask", &DB, &T, &dmask);
    } else if (s == AM_OK && !t->has_decoder) {
        if (am_tensors_get(in, "decoder_input_ids") || am_tensors_get(in, "decoder_attention_mask"))
            s = am__error(AM_ERR_INVALID_ARGUMENT, "%s.forward() got an unexpected keyword argument 'decoder_input_ids'", m->spec->class_name);
    }
    float *enc = NULL, *dec = NULL, *logits = NULL, *dm = NULL;
    if (s == AM_OK)
        s = t5_encode_impl(m, ids->data, mask ? mask->data : NULL, B, S, &enc, hs ? out : NULL, t->has_decoder ? "encoder_hidden_states" : "hidden_states");
    if (s == AM_OK && !t->has_decoder) s = put3(out, "last_hidden_state", B, S, t->D, enc);
    if (s == AM_OK && t->has_decoder) {
        am__s2s_enc *e = NULL;
        am__kv_cache *c = am__kv_new(t->dec.n, B, 1, t->inner, T);
        s = c ? am__s2s_enc_new(m, enc, mask ? mask->data : NULL, B, S, 1, t->dec.n, t->inner, t5_cross_kv, &e) : AM_ERR_NO_MEMORY;
        if (s == AM_OK && dmask) {
            dm = am__additive_mask(dmask, B, T);
            if (!dm) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        }
        if (s == AM_OK) s = t5_decode(m, c, e, dids->data, T, dm, &dec, hs ? out : NULL);
        am__kv_free(c);
        am__s2s_enc_free(e);
        if (s == AM_OK && t->lm) {
            logits = malloc((size_t)(B * T * t->V) * sizeof(float));
            if (!logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            else {
                t5_head(t, B * T, dec, logits);
                s = put3(out, "logits", B, T, t->V, logits);
            }
        } else if (s == AM_OK) s = put3(out, "last_hidden_state", B, T, t->D, dec);
        if (s == AM_OK) s = put3(out, "encoder_last_hidden_state", B, S, t->D, enc);
    }
    free(enc);
    free(dec);
    free(logits);
    free(dm);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(dids);
    am_tensor_free(dmask);
    return s;
}

am_status am__t5_build(am_model *m) {
    const am_config *c = m->config;
    t5_impl *t = calloc(1, sizeof *t);
    if (!t) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = t;
    m->impl_free = t5_impl_free;
    m->forward = t5_forward;
    bool encoder_only = !strcmp(m->spec->class_name, "T5EncoderModel");
    t->has_decoder = !encoder_only;
    t->lm = m->spec->task == AM_TASK_SEQ2SEQ_LM;
    m->input_names = encoder_only ? k_t5_enc_inputs : k_t5_inputs;
    t->V = am__config_int(c, "vocab_size", 32128);
    t->D = am__config_int(c, "d_model", 512);
    t->dk = am__config_int(c, "d_kv", 64);
    t->heads = am__config_int(c, "num_heads", 8);
    t->dff = am__config_int(c, "d_ff", 2048);
    t->nb = am__config_int(c, "relative_attention_num_buckets", 32);
    t->maxd = am__config_int(c, "relative_attention_max_distance", 128);
    t->eps = am__config_float(c, "layer_norm_epsilon", 1e-6);
    t->gated = am__config_bool(c, "is_gated_act", false);
    t->tie = am__config_bool(c, "tie_word_embeddings", true);
    int64_t nl = am__config_int(c, "num_layers", 6), ndl = am__config_int(c, "num_decoder_layers", nl);
    double p = am__config_float(c, "dropout_rate", 0.1);
    if (t->V <= 0 || t->D <= 0 || t->dk <= 0 || t->heads <= 0 || t->dff <= 0 || nl < 0 || ndl < 0 || nl > 100000 || ndl > 100000)
        return am__error(AM_ERR_FORMAT, "config: vocab_size, d_model, d_kv, num_heads and d_ff must be positive and the layer counts non-negative");
    if (t->nb < 4 || t->maxd < 1)
        return am__error(AM_ERR_FORMAT, "config: relative_attention_num_buckets must be at least 4 and relative_attention_max_distance positive (got %lld, %lld)",
                         (long long)t->nb, (long long)t->maxd);
    t->inner = t->heads * t->dk;
    const char *act = am__config_str(c, "dense_act_fn", "relu"), *act_cls;
    if (!am__act_parse(act, &t->act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: dense_act_fn \"%s\" is not a supported activation", act);
    t->shared = am__nn_embedding(m->root, "shared", t->V, t->D, -1);
    am_status s = t5_stack_build(m, t, "encoder", nl, false, act_cls, p, &t->enc);
    if (s == AM_OK && t->has_decoder) s = t5_stack_build(m, t, "decoder", ndl, true, act_cls, p, &t->dec);
    if (s != AM_OK) return s;
    if (t->lm) {
        t->lm_head = am__nn_linear(m->root, "lm_head", t->D, t->V, false);
        if (t->tie) am__model_tie(m, "lm_head.weight", "shared.weight");
        m->gen = &k_t5_gen;
    }
    return AM_OK;
}
