/* models/gpt2.c — GPT-2 (modeling_gpt2.py): learned positions, pre-LN blocks with Conv1D
 * projections ([in, out] weights), gelu_new, and the heads GPT2Model, GPT2LMHeadModel (lm_head
 * tied to wte), GPT2ForSequenceClassification (last non-pad token), GPT2ForTokenClassification.
 * One forward serves model(**inputs) and every generation step (through the KV cache). */
#include "core/error.h"
#include "core/util.h"
#include "models/causal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* GPT2Config() of transformers 4.32: every model-specific key (written by save_pretrained). */
const am__config_default am__gpt2_defaults[] = {
    {"vocab_size", "50257"}, {"n_positions", "1024"}, {"n_embd", "768"}, {"n_layer", "12"}, {"n_head", "12"},
    {"n_inner", "null"}, {"activation_function", "\"gelu_new\""}, {"resid_pdrop", "0.1"}, {"embd_pdrop", "0.1"},
    {"attn_pdrop", "0.1"}, {"layer_norm_epsilon", "1e-05"}, {"initializer_range", "0.02"},
    {"summary_type", "\"cls_index\""}, {"summary_use_proj", "true"}, {"summary_activation", "null"},
    {"summary_proj_to_labels", "true"}, {"summary_first_dropout", "0.1"}, {"scale_attn_weights", "true"},
    {"use_cache", "true"}, {"bos_token_id", "50256"}, {"eos_token_id", "50256"},
    {"scale_attn_by_inverse_layer_idx", "false"}, {"reorder_and_upcast_attn", "false"}, {NULL, NULL}};

static const char *const k_gpt2_inputs[] = {"input_ids", "attention_mask", "token_type_ids", "position_ids", NULL};

typedef struct gpt2_layer {
    am__module *ln1, *c_attn, *c_proj, *attn_drop, *resid_drop, *ln2, *fc, *proj, *mlp_drop;
} gpt2_layer;

typedef struct gpt2_impl {
    am__module *wte, *wpe, *drop, *ln_f, *head, *head_drop;
    gpt2_layer *layer;
    int64_t L, H, heads, D, P, V, inner, pad;
    bool has_pad, scale_weights, inverse_layer;
    double eps;
    am__act act;
} gpt2_impl;

static void gpt2_free(void *p) {
    gpt2_impl *g = p;
    if (!g) return;
    free(g->layer);
    free(g);
}

/* attn.bias: the lower-triangular causal mask; attn.masked_bias: -1e4 (both unused by the 4.32 math
 * but present, and counted in the memory footprint) */
static void fill_tril(am_tensor *t, const void *arg) {
    (void)arg;
    int64_t n = t->shape[3];
    uint8_t *d = t->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) d[i * n + j] = j <= i;
}
static void fill_masked_bias(am_tensor *t, const void *arg) {
    (void)arg;
    *(float *)t->data = -1e4f;
}

static am__module *conv1d(am__module *parent, const char *name, int64_t nf, int64_t nx) {
    am__module *m = am__module_new(parent, name, "Conv1D");
    int64_t ws[2] = {nx, nf};
    am__module_param(m, "weight", 2, ws, AM_INIT_NORMAL);
    am__module_param(m, "bias", 1, &nf, AM_INIT_ZEROS);
    return m;
}

/* Runs the transformer on T new tokens per row. With a cache, keys/values are appended to it and
 * attention covers cache->len + T positions (mask: [B, mstride] bytes, NULL = all); without one
 * (plain forward, any mode) attention is over the T tokens with mask_add. x: [B*T, H] output after
 * ln_f. hidden states go to `out` when asked. */
static am_status gpt2_run(am_model *m, am__kv_cache *cache, int64_t B, int64_t T, const int64_t *ids, const int64_t *tt, const int64_t *pos,
                          const uint8_t *mask, int64_t mstride, const float *mask_add, am_tensors *hs_out, float *x) {
    gpt2_impl *g = m->impl;
    int64_t H = g->H, M = B * T, D = g->D;
    am_tensor *wte = am__mod_tensor(g->wte, "weight"), *wpe = am__mod_tensor(g->wpe, "weight");
    for (int64_t i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= g->V)
            return am__error(AM_ERR_INVALID_ARGUMENT, "GPT-2: input_ids contains %lld, outside the vocabulary [0, %lld)", (long long)ids[i],
                             (long long)g->V);
        if (tt && (tt[i] < 0 || tt[i] >= g->V))
            return am__error(AM_ERR_INVALID_ARGUMENT, "GPT-2: token_type_ids contains %lld, outside the vocabulary [0, %lld)", (long long)tt[i],
                             (long long)g->V);
        if (pos[i] < 0 || pos[i] >= g->P)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "GPT-2: position %lld is outside the position table (n_positions = %lld); the sequence is too long", (long long)pos[i],
                             (long long)g->P);
    }
    float *qkv = malloc((size_t)(M * 3 * H) * sizeof(float)), *a = malloc((size_t)(M * H) * sizeof(float));
    float *ctx = malloc((size_t)(M * H) * sizeof(float));
    float *inner = malloc((size_t)(M * g->inner) * sizeof(float));
    am_status s = AM_OK;
    if (!qkv || !a || !ctx || !inner) s = am__error(AM_ERR_NO_MEMORY, "GPT-2 forward: out of memory");
    for (int64_t i = 0; s == AM_OK && i < M; i++) {
        float *xr = x + i * H;
        memset(xr, 0, (size_t)H * sizeof(float));
        am__embed_add(wte, ids[i], xr);
        am__embed_add(wpe, pos[i], xr);
        if (tt) am__embed_add(wte, tt[i], xr);
    }
    if (s == AM_OK) am__dropout_fwd(m, g->drop, M * H, x);
    char name[64];
    for (int64_t li = 0; s == AM_OK && li < g->L; li++) {
        const gpt2_layer *l = &g->layer[li];
        if (hs_out) {
            snprintf(name, sizeof name, "hidden_states.%lld", (long long)li);
            int64_t shape[3] = {B, T, H};
            if ((s = am__put_output(hs_out, name, 3, shape, x)) != AM_OK) break;
        }
        am__layernorm_fwd(l->ln1, M, x, a, g->eps);
        am__conv1d_fwd(l->c_attn, M, a, qkv);
        float scale = g->scale_weights ? 1.0f / sqrtf((float)D) : 1.0f;
        if (g->inverse_layer) scale /= (float)(li + 1);
        am__attn_args at;
        if (cache) {
            am__kv_store(cache, li, false, T, qkv + H, 3 * H);
            am__kv_store(cache, li, true, T, qkv + 2 * H, 3 * H);
            at = am__kv_attn_args(cache, li, B, T, g->heads, qkv, 3 * H, mask, mstride, ctx, H);
        } else {
            at = am__attn_packed(B, T, T, g->heads, g->heads, D, qkv, 3 * H, qkv + H, qkv + 2 * H, 3 * H, ctx, H);
            at.mask_add = mask_add, at.causal = true, at.dropout_p = am__dropout_p(l->attn_drop), at.seed = am__dropout_seed(m);
        }
        at.scale = scale;
        if ((s = am__attend(m, AM__ATTN_SELF, &at)) != AM_OK) break;
        am__conv1d_fwd(l->c_proj, M, ctx, a);
        am__dropout_fwd(m, l->resid_drop, M * H, a);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
        am__layernorm_fwd(l->ln2, M, x, a, g->eps);
        am__conv1d_fwd(l->fc, M, a, inner);
        am__act_f32(g->act, M * g->inner, inner);
        am__conv1d_fwd(l->proj, M, inner, a);
        am__dropout_fwd(m, l->mlp_drop, M * H, a);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
    }
    if (s == AM_OK) {
        am__layernorm_fwd(g->ln_f, M, x, x, g->eps);
        if (hs_out) {
            snprintf(name, sizeof name, "hidden_states.%lld", (long long)g->L);
            int64_t shape[3] = {B, T, H};
            s = am__put_output(hs_out, name, 3, shape, x);
        }
    }
    if (s == AM_OK && cache) cache->len += T;
    free(qkv);
    free(a);
    free(ctx);
    free(inner);
    return s;
}

static am_status gpt2_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    gpt2_impl *g = m->impl;
    int64_t B = -1, T = -1, H = g->H;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true);
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    am_status s = AM_OK;
    if (B == 0 || T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: input_ids is empty", m->spec->class_name);
    am_tensor *mask = NULL, *tt = NULL, *pt = NULL;
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    if (s == AM_OK) s = am__opt_input(in, "token_type_ids", &B, &T, &tt);
    if (s == AM_OK) s = am__opt_input(in, "position_ids", &B, &T, &pt);
    int64_t *pos = malloc((size_t)(B * T) * sizeof(int64_t));
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *madd = NULL;
    if (s == AM_OK && (!pos || !x)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK) {
        for (int64_t i = 0; i < B * T; i++) pos[i] = pt ? ((const int64_t *)pt->data)[i] : i % T;
        madd = mask ? am__additive_mask(mask, B, T) : NULL;
        bool hs = opts && opts->output_hidden_states;
        s = gpt2_run(m, NULL, B, T, ids->data, tt ? tt->data : NULL, pos, NULL, 0, madd, hs ? out : NULL, x);
    }
    const int64_t *idv = ids->data;
    am_task task = m->spec->task;
    if (s == AM_OK && task == AM_TASK_BASE) {
        int64_t shape[3] = {B, T, H};
        s = am__put_output(out, "last_hidden_state", 3, shape, x);
    } else if (s == AM_OK && (task == AM_TASK_CAUSAL_LM || task == AM_TASK_TOKEN_CLASSIFICATION)) {
        int64_t N = am__module_find_param(g->head, "weight")->shape[0];
        float *logits = malloc((size_t)(B * T * N) * sizeof(float));
        if (!logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else {
            am__dropout_fwd(m, g->head_drop, B * T * H, x);
            am__dense_fwd(g->head, B * T, x, logits);
            int64_t shape[3] = {B, T, N};
            s = am__put_output(out, "logits", 3, shape, logits);
        }
        free(logits);
    } else if (s == AM_OK && task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        if (!g->has_pad && B != 1) s = am__error(AM_ERR_INVALID_ARGUMENT, "Cannot handle batch sizes > 1 if no padding token is defined.");
        int64_t N = am__module_find_param(g->head, "weight")->shape[0];
        float *pooled = malloc((size_t)(B * H) * sizeof(float)), *logits = malloc((size_t)(B * N) * sizeof(float));
        if (s == AM_OK && (!pooled || !logits)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        if (s == AM_OK) {
            for (int64_t b = 0; b < B; b++) {
                int64_t at = am__last_non_pad(idv + b * T, T, g->pad, g->has_pad);
                memcpy(pooled + b * H, x + (b * T + at) * H, (size_t)H * sizeof(float));
            }
            am__dense_fwd(g->head, B, pooled, logits);
            int64_t shape[2] = {B, N};
            s = am__put_output(out, "logits", 2, shape, logits);
        }
        free(pooled);
        free(logits);
    }
    free(pos);
    free(x);
    free(madd);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(tt);
    am_tensor_free(pt);
    return s;
}

/* ---- generation interface ---- */

static int64_t gpt2_max_positions(const am_model *m) { return ((const gpt2_impl *)m->impl)->P; }
static int64_t gpt2_vocab(const am_model *m) {
    const gpt2_impl *g = m->impl;
    return am__module_find_param(g->head, "weight")->shape[0];
}
static am_status gpt2_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    const gpt2_impl *g = m->impl;
    *out = am__kv_new(g->L, B, g->heads, g->D, cap);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}
static am_status gpt2_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                           const uint8_t *mask, int64_t mstride, float *logits) {
    (void)enc;
    gpt2_impl *g = m->impl;
    int64_t H = g->H;
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *last = malloc((size_t)(B * H) * sizeof(float));
    am_status s = x && last ? AM_OK : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    if (s == AM_OK) s = gpt2_run(m, cache, B, T, ids, NULL, pos, mask, mstride, NULL, NULL, x);
    if (s == AM_OK) {
        for (int64_t b = 0; b < B; b++) memcpy(last + b * H, x + (b * T + T - 1) * H, (size_t)H * sizeof(float));
        am__dense_fwd(g->head, B, last, logits);
    }
    free(x);
    free(last);
    return s;
}
static const am__gen_ops k_gpt2_gen = {false, gpt2_max_positions, gpt2_vocab, gpt2_cache_new, NULL, NULL, gpt2_step};

/* ---- builder ---- */

am_status am__gpt2_build(am_model *m) {
    const am_config *c = m->config;
    gpt2_impl *g = calloc(1, sizeof *g);
    if (!g) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = g;
    m->impl_free = gpt2_free;
    m->forward = gpt2_forward;
    m->input_names = k_gpt2_inputs;
    g->H = am__config_int(c, "n_embd", 768);
    g->heads = am__config_int(c, "n_head", 12);
    g->L = am__config_int(c, "n_layer", 12);
    g->P = am__config_int(c, "n_positions", 1024);
    g->V = am__config_int(c, "vocab_size", 50257);
    g->inner = am__config_is_null(c, "n_inner") ? 4 * g->H : am__config_int(c, "n_inner", 4 * g->H);
    g->eps = am__config_float(c, "layer_norm_epsilon", 1e-5);
    g->scale_weights = am__config_bool(c, "scale_attn_weights", true);
    g->inverse_layer = am__config_bool(c, "scale_attn_by_inverse_layer_idx", false);
    g->has_pad = !am__config_is_null(c, "pad_token_id");
    g->pad = am__config_int(c, "pad_token_id", -1);
    if (g->H <= 0 || g->heads <= 0 || g->H % g->heads)
        return am__error(AM_ERR_FORMAT, "config: n_embd (%lld) must be a positive multiple of n_head (%lld)", (long long)g->H, (long long)g->heads);
    if (g->L < 0 || g->L > 100000 || g->P <= 0 || g->V <= 0 || g->inner <= 0)
        return am__error(AM_ERR_FORMAT, "config: n_layer, n_positions, vocab_size and n_inner must be positive");
    if (am__config_bool(c, "add_cross_attention", false))
        return am__error(AM_ERR_UNSUPPORTED, "config: GPT-2 with add_cross_attention is not supported by this build");
    g->D = g->H / g->heads;
    const char *act = am__config_str(c, "activation_function", "gelu_new"), *act_cls;
    if (!am__act_parse(act, &g->act, &act_cls))
        return am__error(AM_ERR_UNSUPPORTED, "config: activation_function \"%s\" is not a supported activation", act);
    double rp = am__config_float(c, "resid_pdrop", 0.1), ep = am__config_float(c, "embd_pdrop", 0.1), ap = am__config_float(c, "attn_pdrop", 0.1);
    am_task task = m->spec->task;
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "transformer", "GPT2Model");
    g->wte = am__nn_embedding(base, "wte", g->V, g->H, -1);
    g->wpe = am__nn_embedding(base, "wpe", g->P, g->H, -1);
    g->drop = am__nn_dropout(base, "drop", ep);
    am__module *list = am__module_new(base, "h", "ModuleList");
    g->layer = calloc((size_t)(g->L ? g->L : 1), sizeof *g->layer);
    if (!g->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < g->L; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *blk = am__module_new(list, idx, "GPT2Block");
        gpt2_layer *l = &g->layer[i];
        l->ln1 = am__nn_layernorm(blk, "ln_1", g->H, g->eps);
        am__module *att = am__module_new(blk, "attn", "GPT2Attention");
        int64_t ms[4] = {1, 1, g->P, g->P};
        am__param *bias = am__module_buffer(att, "bias", AM_BOOL, 4, ms, false);
        bias->fill = fill_tril;
        am__param *mb = am__module_buffer(att, "masked_bias", AM_F32, 0, ms, false);
        mb->fill = fill_masked_bias;
        l->c_attn = conv1d(att, "c_attn", 3 * g->H, g->H);
        l->c_proj = conv1d(att, "c_proj", g->H, g->H);
        l->attn_drop = am__nn_dropout(att, "attn_dropout", ap);
        l->resid_drop = am__nn_dropout(att, "resid_dropout", rp);
        l->ln2 = am__nn_layernorm(blk, "ln_2", g->H, g->eps);
        am__module *mlp = am__module_new(blk, "mlp", "GPT2MLP");
        l->fc = conv1d(mlp, "c_fc", g->inner, g->H);
        l->proj = conv1d(mlp, "c_proj", g->H, g->inner);
        am__nn_leaf(mlp, "act", act_cls);
        l->mlp_drop = am__nn_dropout(mlp, "dropout", rp);
    }
    g->ln_f = am__nn_layernorm(base, "ln_f", g->H, g->eps);
    int64_t nl = am_config_num_labels(c);
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_CAUSAL_LM:
        g->head = am__nn_linear(m->root, "lm_head", g->H, g->V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "lm_head.weight", "transformer.wte.weight");
        m->gen = &k_gpt2_gen;
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: g->head = am__nn_linear(m->root, "score", g->H, nl, false); break;
    case AM_TASK_TOKEN_CLASSIFICATION: {
        /* classifier_dropout, else hidden_dropout, else 0.1 (GPT2Config has neither by default) */
        double cd = !am__config_is_null(c, "classifier_dropout")  ? am__config_float(c, "classifier_dropout", 0.1)
                    : !am__config_is_null(c, "hidden_dropout") ? am__config_float(c, "hidden_dropout", 0.1)
                                                                : 0.1;
        g->head_drop = am__nn_dropout(m->root, "dropout", cd);
        g->head = am__nn_linear(m->root, "classifier", g->H, nl, true);
        break;
    }
    default: return am__error(AM_ERR_UNSUPPORTED, "GPT-2 has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}
