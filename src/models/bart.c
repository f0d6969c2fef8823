/* models/bart.c — BART (modeling_bart.py): BartModel, BartForConditionalGeneration and
 * BartForSequenceClassification. Post-LN encoder and decoder with learned positions offset by 2,
 * embedding LayerNorm, optional sqrt(d_model) embedding scale, final_logits_bias on the LM head,
 * decoder inputs shifted from input_ids when none are given. */
#include "core/error.h"
#include "core/util.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* BartConfig() of transformers 4.32: model-specific keys, then the generic ones it overrides. */
const am__config_default am__bart_defaults[] = {
    {"vocab_size", "50265"}, {"max_position_embeddings", "1024"}, {"d_model", "1024"}, {"encoder_ffn_dim", "4096"}, {"encoder_layers", "12"},
    {"encoder_attention_heads", "16"}, {"decoder_ffn_dim", "4096"}, {"decoder_layers", "12"}, {"decoder_attention_heads", "16"},
    {"dropout", "0.1"}, {"attention_dropout", "0.0"}, {"activation_dropout", "0.0"}, {"activation_function", "\"gelu\""},
    {"init_std", "0.02"}, {"encoder_layerdrop", "0.0"}, {"decoder_layerdrop", "0.0"}, {"classifier_dropout", "0.0"},
    {"use_cache", "true"}, {"num_hidden_layers", "12"}, {"scale_embedding", "false"},
    {"pad_token_id", "1"}, {"bos_token_id", "0"}, {"eos_token_id", "2"}, {"is_encoder_decoder", "true"},
    {"decoder_start_token_id", "2"}, {"forced_eos_token_id", "2"},
    {"id2label", "{\"0\": \"LABEL_0\", \"1\": \"LABEL_1\", \"2\": \"LABEL_2\"}"},
    {"label2id", "{\"LABEL_0\": 0, \"LABEL_1\": 1, \"LABEL_2\": 2}"}, {NULL, NULL}};

/* BartConfig.__init__: num_hidden_layers = encoder_layers; the BART-CNN compatibility flag
 * force_bos_token_to_be_generated sets forced_bos_token_id = bos_token_id. */
am_status am__bart_config_init(am_config *c, const char *origin) {
    (void)origin;
    am_status s = AM_OK;
    if (!cJSON_GetObjectItemCaseSensitive(c->values, "num_hidden_layers"))
        s = am_config_set_int(c, "num_hidden_layers", am__config_int(c, "encoder_layers", 12));
    if (s == AM_OK && am__config_is_null(c, "forced_bos_token_id") && am__config_bool(c, "force_bos_token_to_be_generated", false)) {
        const cJSON *bos = am__config_value(c, "bos_token_id");
        s = cJSON_IsNumber(bos) ? am_config_set_int(c, "forced_bos_token_id", (int64_t)bos->valuedouble) : am_config_set_json(c, "forced_bos_token_id", "null");
    }
    return s;
}

static const char *const k_bart_inputs[] = {"input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", NULL};

typedef struct bart_attn {
    am__module *q, *k, *v, *o;
} bart_attn;

typedef struct bart_layer {
    bart_attn sa, ca;
    am__module *sa_ln, *ca_ln, *fc1, *fc2, *final_ln;
} bart_layer;

typedef struct bart_stack {
    am__module *embed, *pos, *ln_emb;
    bart_layer *layer;
    int64_t n, heads, ffn;
} bart_stack;

typedef struct bart_impl {
    int64_t D, V, P, pad;
    float embed_scale;
    double p_hidden, p_attn, p_act;
    am__act act;
    bart_stack enc, dec;
    am__module *shared, *lm_head, *cls_dense, *cls_drop, *cls_out;
    am__param *final_logits_bias;
} bart_impl;

static void bart_impl_free(void *p) {
    bart_impl *b = p;
    if (!b) return;
    free(b->enc.layer);
    free(b->dec.layer);
    free(b);
}

/* ---- module tree ---- */

static void bart_attention(am__module *parent, const char *name, int64_t D, bart_attn *a) {
    am__module *m = am__module_new(parent, name, "BartAttention");
    a->k = am__nn_linear(m, "k_proj", D, D, true);
    a->v = am__nn_linear(m, "v_proj", D, D, true);
    a->q = am__nn_linear(m, "q_proj", D, D, true);
    a->o = am__nn_linear(m, "out_proj", D, D, true);
}

static am_status bart_stack_build(am_model *m, bart_impl *b, am__module *base, const char *base_prefix, bool decoder, const char *act_cls,
                                  bart_stack *st) {
    const am_config *c = m->config;
    const char *name = decoder ? "decoder" : "encoder";
    st->n = am__config_int(c, decoder ? "decoder_layers" : "encoder_layers", 12);
    st->heads = am__config_int(c, decoder ? "decoder_attention_heads" : "encoder_attention_heads", 16);
    st->ffn = am__config_int(c, decoder ? "decoder_ffn_dim" : "encoder_ffn_dim", 4096);
    if (st->n < 0 || st->n > 100000 || st->heads <= 0 || b->D % st->heads || st->ffn <= 0)
        return am__error(AM_ERR_FORMAT, "config: d_model (%lld) must be a positive multiple of %s_attention_heads (%lld), with %s_layers >= 0 and %s_ffn_dim > 0",
                         (long long)b->D, name, (long long)st->heads, name, name);
    am__module *sm = am__module_new(base, name, decoder ? "BartDecoder" : "BartEncoder");
    st->embed = am__nn_embedding(sm, "embed_tokens", b->V, b->D, b->pad);
    char al[160], tgt[160];
    snprintf(al, sizeof al, "%s%s.embed_tokens.weight", base_prefix, name);
    snprintf(tgt, sizeof tgt, "%sshared.weight", base_prefix);
    am__model_tie(m, al, tgt); /* the stacks' embed_tokens.weight is the shared Parameter */
    st->pos = am__nn_embedding(sm, "embed_positions", b->P + 2, b->D, -1);
    free(st->pos->type);
    st->pos->type = am__strdup("BartLearnedPositionalEmbedding");
    am__module *list = am__module_new(sm, "layers", "ModuleList");
    st->layer = calloc((size_t)(st->n ? st->n : 1), sizeof *st->layer);
    if (!st->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < st->n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(list, idx, decoder ? "BartDecoderLayer" : "BartEncoderLayer");
        bart_layer *l = &st->layer[i];
        bart_attention(L, "self_attn", b->D, &l->sa);
        if (decoder) {
            am__nn_leaf(L, "activation_fn", act_cls);
            l->sa_ln = am__nn_layernorm(L, "self_attn_layer_norm", b->D, 1e-5);
            bart_attention(L, "encoder_attn", b->D, &l->ca);
            l->ca_ln = am__nn_layernorm(L, "encoder_attn_layer_norm", b->D, 1e-5);
        } else {
            l->sa_ln = am__nn_layernorm(L, "self_attn_layer_norm", b->D, 1e-5);
            am__nn_leaf(L, "activation_fn", act_cls);
        }
        l->fc1 = am__nn_linear(L, "fc1", b->D, st->ffn, true);
        l->fc2 = am__nn_linear(L, "fc2", st->ffn, b->D, true);
        l->final_ln = am__nn_layernorm(L, "final_layer_norm", b->D, 1e-5);
    }
    st->ln_emb = am__nn_layernorm(sm, "layernorm_embedding", b->D, 1e-5);
    return AM_OK;
}

/* ---- forward pieces ---- */

/* F.dropout(p, training): functional in BART, so it follows the model's mode */
static void bdrop(am_model *m, double p, int64_t n, float *x) {
    if (m->root->training && p > 0) am__dropout_f32(n, x, (float)p, am__dropout_seed(m));
}
static float pdrop(const am_model *m, double p) { return m->root->training ? (float)p : 0.0f; }

static am_status put3(am_tensors *out, const char *name, int64_t a, int64_t b, int64_t c, const float *x) {
    int64_t shape[3] = {a, b, c};
    return am__put_output(out, name, 3, shape, x);
}

/* token embeddings * embed_scale + learned positions (past..past+T-1, offset 2), then LayerNorm */
static am_status bart_embed(am_model *m, const bart_impl *b, const bart_stack *st, const int64_t *ids, int64_t B, int64_t T, int64_t past, float *x) {
    if (past + T > b->P)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "forward: %s input has %lld positions but the model's learned position table holds max_position_embeddings = %lld; the "
                         "sequence is too long",
                         st == &b->enc ? "encoder" : "decoder", (long long)(past + T), (long long)b->P);
    const am_tensor *w = am__mod_tensor(st->embed, "weight"), *pw = am__mod_tensor(st->pos, "weight");
    float *row = malloc((size_t)b->D * sizeof(float));
    if (!row) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t t = 0; t < T; t++) {
            int64_t id = ids[bi * T + t];
            if (id < 0 || id >= b->V) {
                free(row);
                return am__error(AM_ERR_INVALID_ARGUMENT, "forward: token id %lld is outside the vocabulary [0, %lld)", (long long)id, (long long)b->V);
            }
            float *xr = x + (bi * T + t) * b->D;
            am__row_f32(w, id, xr);
            am__row_f32(pw, past + t + 2, row);
            for (int64_t h = 0; h < b->D; h++) xr[h] = xr[h] * b->embed_scale + row[h];
        }
    free(row);
    am__layernorm_fwd(st->ln_emb, B * T, x, x, 1e-5);
    bdrop(m, b->p_hidden, B * T * b->D, x);
    return AM_OK;
}

typedef struct scratch {
    float *q, *k, *v, *ctx, *a, *f;
} scratch;

static void scratch_free(scratch *s) {
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->ctx);
    free(s->a);
    free(s->f);
}

static am_status scratch_alloc(scratch *s, int64_t M, int64_t D, int64_t ffn) {
    s->q = malloc((size_t)(M * D) * sizeof(float));
    s->k = malloc((size_t)(M * D) * sizeof(float));
    s->v = malloc((size_t)(M * D) * sizeof(float));
    s->ctx = malloc((size_t)(M * D) * sizeof(float));
    s->a = malloc((size_t)(M * D) * sizeof(float));
    s->f = malloc((size_t)(M * ffn) * sizeof(float));
    if (!s->q || !s->k || !s->v || !s->ctx || !s->a || !s->f) {
        scratch_free(s);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    }
    return AM_OK;
}

/* x = LN(x + dropout(h)) */
static void residual_norm(am_model *m, const bart_impl *b, const am__module *ln, int64_t M, float *x, float *h) {
    bdrop(m, b->p_hidden, M * b->D, h);
    for (int64_t i = 0; i < M * b->D; i++) x[i] += h[i];
    am__layernorm_fwd(ln, M, x, x, 1e-5);
}

static void bart_ffn(am_model *m, const bart_impl *b, const bart_stack *st, const bart_layer *l, int64_t M, float *x, scratch *sc) {
    am__dense_fwd(l->fc1, M, x, sc->f);
    am__act_f32(b->act, M * st->ffn, sc->f);
    bdrop(m, b->p_act, M * st->ffn, sc->f);
    am__dense_fwd(l->fc2, M, sc->f, sc->a);
    residual_norm(m, b, l->final_ln, M, x, sc->a);
}

static am_status bart_encode_impl(am_model *m, const int64_t *ids, const int64_t *mask, int64_t B, int64_t S, float **hidden, am_tensors *hs) {
    bart_impl *b = m->impl;
    const bart_stack *st = &b->enc;
    int64_t M = B * S, D = b->D, dk = D / st->heads;
    float *x = malloc((size_t)(M * D) * sizeof(float)), *madd = malloc((size_t)M * sizeof(float));
    scratch sc = {0};
    am_status s = x && madd ? scratch_alloc(&sc, M, D, st->ffn) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK) s = bart_embed(m, b, st, ids, B, S, 0, x);
    for (int64_t i = 0; s == AM_OK && i < M; i++) madd[i] = mask && mask[i] == 0 ? AM_FINFO_MIN_F32 : 0.0f;
    char name[64];
    for (int64_t li = 0; s == AM_OK && li < st->n; li++) {
        const bart_layer *l = &st->layer[li];
        if (hs) {
            snprintf(name, sizeof name, "encoder_hidden_states.%lld", (long long)li);
            s = put3(hs, name, B, S, D, x);
        }
        am__dense_fwd(l->sa.q, M, x, sc.q);
        am__dense_fwd(l->sa.k, M, x, sc.k);
        am__dense_fwd(l->sa.v, M, x, sc.v);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_SELF, B, S, S, S, st->heads, dk, sc.q, sc.k, sc.v, madd, false, NULL, 1.0f / sqrtf((float)dk), pdrop(m, b->p_attn),
                       am__dropout_seed(m), sc.ctx);
        am__dense_fwd(l->sa.o, M, sc.ctx, sc.a);
        residual_norm(m, b, l->sa_ln, M, x, sc.a);
        bart_ffn(m, b, st, l, M, x, &sc);
    }
    if (s == AM_OK && hs) {
        snprintf(name, sizeof name, "encoder_hidden_states.%lld", (long long)st->n);
        s = put3(hs, name, B, S, D, x);
    }
    if (x) scratch_free(&sc);
    free(madd);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    *hidden = x;
    return AM_OK;
}

static void bart_cross_kv(am_model *m, int64_t layer, int64_t M, const float *h, float *k, float *v) {
    bart_impl *b = m->impl;
    am__dense_fwd(b->dec.layer[layer].ca.k, M, h, k);
    am__dense_fwd(b->dec.layer[layer].ca.v, M, h, v);
}

static am_status bart_decode(am_model *m, am__kv_cache *c, const am__s2s_enc *e, const int64_t *ids, int64_t T, const float *self_mask, float **hidden,
                             am_tensors *hs) {
    bart_impl *b = m->impl;
    const bart_stack *st = &b->dec;
    int64_t B = c->B, M = B * T, D = b->D, past = c->len, Tk = past + T, dk = D / st->heads;
    if (Tk > c->cap) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld positions exceed the cache (%lld)", (long long)Tk, (long long)c->cap);
    if (e->B != B) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder: %lld rows but the encoder state has %lld", (long long)B, (long long)e->B);
    float *x = malloc((size_t)(M * D) * sizeof(float));
    scratch sc = {0};
    am_status s = x ? scratch_alloc(&sc, M, D, st->ffn) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK) s = bart_embed(m, b, st, ids, B, T, past, x);
    float scale = 1.0f / sqrtf((float)dk);
    char name[64];
    for (int64_t li = 0; s == AM_OK && li < st->n; li++) {
        const bart_layer *l = &st->layer[li];
        if (hs) {
            snprintf(name, sizeof name, "decoder_hidden_states.%lld", (long long)li);
            s = put3(hs, name, B, T, D, x);
        }
        am__dense_fwd(l->sa.q, M, x, sc.q);
        am__dense_fwd(l->sa.k, M, x, sc.k);
        am__dense_fwd(l->sa.v, M, x, sc.v);
        am__kv_store(c, li, false, T, sc.k, D);
        am__kv_store(c, li, true, T, sc.v, D);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_DECODER, B, T, Tk, c->cap, st->heads, dk, sc.q, am__kv_k(c, li), am__kv_v(c, li), self_mask, true, NULL, scale, pdrop(m, b->p_attn),
                       am__dropout_seed(m), sc.ctx);
        am__dense_fwd(l->sa.o, M, sc.ctx, sc.a);
        residual_norm(m, b, l->sa_ln, M, x, sc.a);
        am__dense_fwd(l->ca.q, M, x, sc.q);
        if (s == AM_OK) s = am__s2s_attend(m, AM__ATTN_CROSS, B, T, e->S, e->S, st->heads, dk, sc.q, e->ck[li], e->cv[li], e->mask, false, NULL, scale, pdrop(m, b->p_attn),
                       am__dropout_seed(m), sc.ctx);
        am__dense_fwd(l->ca.o, M, sc.ctx, sc.a);
        residual_norm(m, b, l->ca_ln, M, x, sc.a);
        bart_ffn(m, b, st, l, M, x, &sc);
    }
    if (s == AM_OK && hs) {
        snprintf(name, sizeof name, "decoder_hidden_states.%lld", (long long)st->n);
        s = put3(hs, name, B, T, D, x);
    }
    if (x) scratch_free(&sc);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    c->len = Tk;
    *hidden = x;
    return AM_OK;
}

/* lm_head(x) + final_logits_bias */
static void bart_head(const bart_impl *b, int64_t M, const float *x, float *logits) {
    am__dense_fwd(b->lm_head, M, x, logits);
    float *tmp;
    const float *fb = am__f32_view(b->final_logits_bias->t, &tmp);
    if (!fb) return; /* out of memory: noted */
    for (int64_t i = 0; i < M; i++)
        for (int64_t v = 0; v < b->V; v++) logits[i * b->V + v] += fb[v];
    free(tmp);
}

static am_status bart_gen_encode(am_model *m, const am_tensors *in, int64_t expand, void **enc) {
    bart_impl *b = m->impl;
    am_tensor *ids, *mask;
    int64_t B, S;
    *enc = NULL;
    am_status s = am__s2s_encoder_inputs(in, &ids, &mask, &B, &S);
    float *h = NULL;
    if (s == AM_OK) s = bart_encode_impl(m, ids->data, mask ? mask->data : NULL, B, S, &h, NULL);
    if (s == AM_OK) s = am__s2s_enc_new(m, h, mask ? mask->data : NULL, B, S, expand, b->dec.n, b->D, bart_cross_kv, (am__s2s_enc **)enc);
    free(h);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

static am_status bart_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    const bart_impl *b = m->impl;
    *out = am__kv_new(b->dec.n, B, 1, b->D, cap);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}

static am_status bart_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                           const uint8_t *mask, int64_t mask_stride, float *logits) {
    bart_impl *b = m->impl;
    (void)pos; /* BartLearnedPositionalEmbedding counts from the cache length */
    if (T <= 0 || B != cache->B || !enc) return am__error(AM_ERR_INVALID_ARGUMENT, "decoder step: bad arguments (%lld rows, %lld tokens)", (long long)B, (long long)T);
    float *madd = am__s2s_mask_add(mask, B, mask_stride, cache->len + T), *h = NULL;
    am_status s = bart_decode(m, cache, enc, ids, T, madd, &h, NULL);
    free(madd);
    if (s != AM_OK) return s;
    for (int64_t bi = 0; bi < B; bi++) memmove(h + bi * b->D, h + (bi * T + T - 1) * b->D, (size_t)b->D * sizeof(float));
    bart_head(b, B, h, logits);
    free(h);
    return AM_OK;
}

static int64_t bart_vocab(const am_model *m) { return ((const bart_impl *)m->impl)->V; }
static int64_t bart_max_positions(const am_model *m) { return ((const bart_impl *)m->impl)->P; }

static const am__gen_ops k_bart_gen = {true, bart_max_positions, bart_vocab, bart_cache_new, bart_gen_encode, am__s2s_enc_free, bart_step};

/* shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id) */
static am_status shift_right(const am_model *m, const int64_t *ids, int64_t B, int64_t T, int64_t *out) {
    if (am__config_is_null(m->config, "decoder_start_token_id"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "forward: no decoder_input_ids given and config.decoder_start_token_id is not set, so they cannot be made "
                                                  "from input_ids (shift_tokens_right)");
    if (am__config_is_null(m->config, "pad_token_id")) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: self.model.config.pad_token_id has to be defined.");
    int64_t start = am__config_int(m->config, "decoder_start_token_id", 2), pad = am__config_int(m->config, "pad_token_id", 1);
    for (int64_t b = 0; b < B; b++) {
        out[b * T] = start;
        for (int64_t t = 1; t < T; t++) {
            int64_t v = ids[b * T + t - 1];
            out[b * T + t] = v == -100 ? pad : v;
        }
    }
    return AM_OK;
}

/* BartForSequenceClassification: the decoder state at the last <eos> of every row of input_ids */
static am_status bart_cls_head(am_model *m, const bart_impl *b, const int64_t *ids, int64_t B, int64_t S, int64_t T, const float *dec, am_tensors *out) {
    if (T != S)
        return am__error(AM_ERR_SHAPE, "forward: decoder_input_ids has length %lld but input_ids %lld; the <eos> positions of input_ids index the decoder output",
                         (long long)T, (long long)S);
    int64_t eos = am__config_int(m->config, "eos_token_id", 2), count = -1, D = b->D;
    float *rep = malloc((size_t)(B * D) * sizeof(float)), *h = malloc((size_t)(B * D) * sizeof(float));
    am__param *ow = am__module_find_param(b->cls_out, "weight");
    int64_t L = ow->shape[0];
    float *logits = malloc((size_t)(B * L) * sizeof(float));
    am_status s = rep && h && logits ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    for (int64_t bi = 0; s == AM_OK && bi < B; bi++) {
        int64_t n = 0, last = -1;
        for (int64_t t = 0; t < S; t++)
            if (ids[bi * S + t] == eos) n++, last = t;
        if (count >= 0 && n != count) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: All examples must have the same number of <eos> tokens.");
        else if (n == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: row %lld of input_ids has no <eos> token (%lld) to classify at", (long long)bi, (long long)eos);
        else memcpy(rep + bi * D, dec + (bi * T + last) * D, (size_t)D * sizeof(float));
        count = n;
    }
    if (s == AM_OK) {
        am__dropout_fwd(m, b->cls_drop, B * D, rep);
        am__dense_fwd(b->cls_dense, B, rep, h);
        am__act_f32(AM_ACT_TANH, B * D, h);
        am__dropout_fwd(m, b->cls_drop, B * D, h);
        am__dense_fwd(b->cls_out, B, h, logits);
        int64_t shape[2] = {B, L};
        s = am__put_output(out, "logits", 2, shape, logits);
    }
    free(rep);
    free(h);
    free(logits);
    return s;
}

static am_status bart_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    bart_impl *b = m->impl;
    bool hs = opts && opts->output_hidden_states;
    am_task task = m->spec->task;
    int64_t B = -1, S = -1;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &S, true);
    if (!ids) return am_tensors_get(in, "input_ids") ? AM_ERR_SHAPE : am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either input_ids or inputs_embeds");
    am_tensor *mask = NULL, *dids = NULL, *dmask = NULL;
    int64_t *shifted = NULL;
    const int64_t *dec_ids = NULL;
    am_status s = AM_OK;
    if (B == 0 || S == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty (shape [%lld, %lld])", (long long)B, (long long)S);
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &S, &mask);
    int64_t DB = B, T = S;
    if (s == AM_OK && am_tensors_get(in, "decoder_input_ids")) {
        am_tensor *raw = am_tensors_get(in, "decoder_input_ids");
        if (am_tensor_ndim(raw) == 2) T = am_tensor_dim(raw, 1);
        dids = am__input_ids(in, "decoder_input_ids", &DB, &T, true);
        if (!dids) s = AM_ERR_SHAPE;
        else if (T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: decoder_input_ids is empty");
        else dec_ids = dids->data;
    } else if (s == AM_OK) {
        /* BartModel makes decoder inputs from input_ids when none are given */
        shifted = malloc((size_t)(B * S) * sizeof(int64_t));
        s = shifted ? shift_right(m, ids->data, B, S, shifted) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        dec_ids = shifted;
    }
    if (s == AM_OK) s = am__opt_input(in, "decoder_attention_mask", &DB, &T, &dmask);
    float *enc = NULL, *dec = NULL, *logits = NULL, *dm = NULL;
    if (s == AM_OK) s = bart_encode_impl(m, ids->data, mask ? mask->data : NULL, B, S, &enc, hs ? out : NULL);
    if (s == AM_OK) {
        am__s2s_enc *e = NULL;
        am__kv_cache *c = am__kv_new(b->dec.n, B, 1, b->D, T);
        s = c ? am__s2s_enc_new(m, enc, mask ? mask->data : NULL, B, S, 1, b->dec.n, b->D, bart_cross_kv, &e) : AM_ERR_NO_MEMORY;
        if (s == AM_OK && dmask) {
            dm = am__additive_mask(dmask, B, T);
            if (!dm) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        }
        if (s == AM_OK) s = bart_decode(m, c, e, dec_ids, T, dm, &dec, hs ? out : NULL);
        am__kv_free(c);
        am__s2s_enc_free(e);
    }
    if (s == AM_OK) {
        if (task == AM_TASK_SEQ2SEQ_LM) {
            logits = malloc((size_t)(B * T * b->V) * sizeof(float));
            if (!logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            else {
                bart_head(b, B * T, dec, logits);
                s = put3(out, "logits", B, T, b->V, logits);
            }
        } else if (task == AM_TASK_SEQUENCE_CLASSIFICATION) s = bart_cls_head(m, b, ids->data, B, S, T, dec, out);
        else s = put3(out, "last_hidden_state", B, T, b->D, dec);
    }
    if (s == AM_OK) s = put3(out, "encoder_last_hidden_state", B, S, b->D, enc);
    free(enc);
    free(dec);
    free(logits);
    free(dm);
    free(shifted);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(dids);
    am_tensor_free(dmask);
    return s;
}

am_status am__bart_build(am_model *m) {
    const am_config *c = m->config;
    bart_impl *b = calloc(1, sizeof *b);
    if (!b) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = b;
    m->impl_free = bart_impl_free;
    m->forward = bart_forward;
    m->input_names = k_bart_inputs;
    am_task task = m->spec->task;
    b->V = am__config_int(c, "vocab_size", 50265);
    b->D = am__config_int(c, "d_model", 1024);
    b->P = am__config_int(c, "max_position_embeddings", 1024);
    b->pad = am__config_is_null(c, "pad_token_id") ? -1 : am__config_int(c, "pad_token_id", 1);
    b->embed_scale = am__config_bool(c, "scale_embedding", false) ? sqrtf((float)b->D) : 1.0f;
    b->p_hidden = am__config_float(c, "dropout", 0.1);
    b->p_attn = am__config_float(c, "attention_dropout", 0.0);
    b->p_act = am__config_float(c, "activation_dropout", 0.0);
    if (b->V <= 0 || b->D <= 0 || b->P <= 0) return am__error(AM_ERR_FORMAT, "config: vocab_size, d_model and max_position_embeddings must be positive");
    if (b->pad >= b->V) return am__error(AM_ERR_FORMAT, "config: pad_token_id (%lld) is outside the vocabulary (%lld)", (long long)b->pad, (long long)b->V);
    const char *act = am__config_str(c, "activation_function", "gelu"), *act_cls;
    if (!am__act_parse(act, &b->act, &act_cls))
        return am__error(AM_ERR_UNSUPPORTED, "config: activation_function \"%s\" is not a supported activation", act);
    am__module *root = m->root, *base = root;
    const char *bp = "";
    if (task != AM_TASK_BASE) {
        base = am__module_new(root, "model", "BartModel");
        bp = "model.";
    }
    b->shared = am__nn_embedding(base, "shared", b->V, b->D, b->pad);
    am_status s = bart_stack_build(m, b, base, bp, false, act_cls, &b->enc);
    if (s == AM_OK) s = bart_stack_build(m, b, base, bp, true, act_cls, &b->dec);
    if (s != AM_OK) return s;
    if (task == AM_TASK_SEQ2SEQ_LM) {
        int64_t fs[2] = {1, b->V};
        b->final_logits_bias = am__module_buffer(root, "final_logits_bias", AM_F32, 2, fs, true);
        b->lm_head = am__nn_linear(root, "lm_head", b->D, b->V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "lm_head.weight", "model.shared.weight");
        m->gen = &k_bart_gen;
    } else if (task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        am__module *h = am__module_new(root, "classification_head", "BartClassificationHead");
        b->cls_dense = am__nn_linear(h, "dense", b->D, b->D, true);
        b->cls_drop = am__nn_dropout(h, "dropout", am__config_float(c, "classifier_dropout", 0.0));
        b->cls_out = am__nn_linear(h, "out_proj", b->D, am_config_num_labels(c), true);
    }
    return AM_OK;
}
