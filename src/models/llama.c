/* models/llama.c — Llama (modeling_llama.py of transformers 4.32): RMSNorm, rotary embeddings
 * (rope_theta; rope_scaling linear or dynamic NTK), grouped-query attention, optional attention_bias,
 * SiLU-gated MLP, tied or untied head; LlamaModel, LlamaForCausalLM, LlamaForSequenceClassification.
 * pretraining_tp only splits the matmuls in transformers (same math), so it is ignored. The same
 * code serves model_type "llama" checkpoints of every Llama generation (Llama 1/2, Code Llama, Vicuna,
 * TinyLlama, ...), whose configs only add rope_theta / attention_bias / rope_scaling. */
#include "core/error.h"
#include "core/util.h"
#include "models/causal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LlamaConfig() of transformers 4.32.0.dev0 (rope_theta and attention_bias came later: honoured
 * when a config has them, never added). */
const am__config_default am__llama_defaults[] = {
    {"vocab_size", "32000"}, {"hidden_size", "4096"}, {"intermediate_size", "11008"}, {"num_hidden_layers", "32"},
    {"num_attention_heads", "32"}, {"num_key_value_heads", "null"}, {"hidden_act", "\"silu\""},
    {"max_position_embeddings", "2048"}, {"initializer_range", "0.02"}, {"rms_norm_eps", "1e-06"}, {"pretraining_tp", "1"},
    {"use_cache", "true"}, {"rope_scaling", "null"}, {"bos_token_id", "1"}, {"eos_token_id", "2"},
    {"tie_word_embeddings", "false"}, {NULL, NULL}};

static const char *const k_llama_inputs[] = {"input_ids", "attention_mask", "position_ids", NULL};

typedef enum { ROPE_DEFAULT, ROPE_LINEAR, ROPE_DYNAMIC } rope_kind;

typedef struct rope_params {
    int64_t dim, P;
    double base, factor;
    rope_kind kind;
} rope_params;

typedef struct llama_layer {
    am__module *q, *k, *v, *o, *gate, *up, *down, *ln_in, *ln_post;
} llama_layer;

typedef struct llama_impl {
    am__module *embed, *norm, *head;
    llama_layer *layer;
    int64_t L, H, Hq, Hkv, D, I, V, P, pad;
    bool has_pad;
    double eps;
    am__act act;
    rope_params rope;
    float *inv_freq; /* [dim/2] at rope_theta; read-only after building */
} llama_impl;

static void llama_free(void *p) {
    llama_impl *l = p;
    if (!l) return;
    free(l->layer);
    free(l->inv_freq);
    free(l);
}

/* inv_freq = 1 / base ** (arange(0, dim, 2).float() / dim), in float32 as torch computes it */
static void compute_inv_freq(int64_t dim, double base, float *out) {
    for (int64_t i = 0; i < dim / 2; i++) out[i] = 1.0f / powf((float)base, (float)(2 * i) / (float)dim);
}

static void fill_inv_freq(am_tensor *t, const void *arg) {
    const rope_params *r = arg;
    compute_inv_freq(r->dim, r->base, t->data);
}

/* cos/sin_cached [1, 1, P, dim]: cat(freqs, freqs) with freqs = outer(t, inv_freq), t / factor for
 * linear scaling */
static void fill_cs(am_tensor *t, const rope_params *r, bool sine) {
    int64_t h = r->dim / 2;
    float *inv = malloc((size_t)(h ? h : 1) * sizeof(float));
    if (!inv) return;
    compute_inv_freq(r->dim, r->base, inv);
    float *d = t->data;
    for (int64_t p = 0; p < r->P; p++) {
        float tp = (float)p;
        if (r->kind == ROPE_LINEAR) tp = tp / (float)r->factor;
        for (int64_t i = 0; i < h; i++) {
            float f = tp * inv[i];
            d[p * r->dim + i] = d[p * r->dim + h + i] = sine ? sinf(f) : cosf(f);
        }
    }
    free(inv);
}
static void fill_cos(am_tensor *t, const void *arg) { fill_cs(t, arg, false); }
static void fill_sin(am_tensor *t, const void *arg) { fill_cs(t, arg, true); }

/* cos/sin for every (row, token) position: [M, dim/2]. seq_len is the key length of this call
 * (transformers' kv_seq_len), which drives the dynamic NTK base. The model stays read-only: a
 * dynamic base is computed into this call's own table. LlamaDynamicNTKScalingRotaryEmbedding
 * grows its cache when seq_len > max_position_embeddings and keeps the grown base; within one
 * call (a forward, or a generate whose kv_seq_len only grows) the base from this step's seq_len is
 * exactly that. Across separate calls transformers 4.32 carries the grown base over to later,
 * shorter inputs; here every call behaves as on a freshly loaded model (a deliberate difference,
 * documented in docs/generation.md). inv: scratch of dim/2 floats. */
static void rope_table(const llama_impl *l, int64_t M, const int64_t *pos, int64_t seq_len, float *inv, float *cs, float *sn) {
    int64_t h = l->D / 2;
    const float *freq = l->inv_freq;
    if (l->rope.kind == ROPE_DYNAMIC && seq_len > l->P) {
        double f = l->rope.factor, dim = (double)l->D;
        double base = l->rope.base * pow((f * (double)seq_len / (double)l->P) - (f - 1), dim / (dim - 2));
        compute_inv_freq(l->D, base, inv);
        freq = inv;
    }
    for (int64_t i = 0; i < M; i++) {
        float tp = (float)pos[i];
        if (l->rope.kind == ROPE_LINEAR) tp = tp / (float)l->rope.factor;
        for (int64_t j = 0; j < h; j++) {
            float f = tp * freq[j];
            cs[i * h + j] = cosf(f);
            sn[i * h + j] = sinf(f);
        }
    }
}

/* q * cos + rotate_half(q) * sin on every head of rows [M, heads*D] */
static void apply_rope(float *x, int64_t M, int64_t heads, int64_t D, const float *cs, const float *sn) {
    int64_t h = D / 2;
    for (int64_t i = 0; i < M; i++)
        for (int64_t hd = 0; hd < heads; hd++) {
            float *v = x + (i * heads + hd) * D;
            const float *c = cs + i * h, *s = sn + i * h;
            for (int64_t j = 0; j < h; j++) {
                float a = v[j], b = v[j + h];
                v[j] = a * c[j] - b * s[j];
                v[j + h] = b * c[j] + a * s[j];
            }
        }
}

static am_status llama_run(am_model *m, am__kv_cache *cache, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos, const uint8_t *mask,
                           int64_t mstride, const float *mask_add, am_tensors *hs_out, float *x) {
    llama_impl *l = m->impl;
    int64_t H = l->H, M = B * T, D = l->D, QD = l->Hq * D, KD = l->Hkv * D;
    am_tensor *emb = am__mod_tensor(l->embed, "weight");
    for (int64_t i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= l->V)
            return am__error(AM_ERR_INVALID_ARGUMENT, "Llama: input_ids contains %lld, outside the vocabulary [0, %lld)", (long long)ids[i],
                             (long long)l->V);
        if (pos[i] < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "Llama: position_ids contains %lld (negative)", (long long)pos[i]);
    }
    float *q = malloc((size_t)(M * QD) * sizeof(float)), *k = malloc((size_t)(M * KD) * sizeof(float));
    float *v = malloc((size_t)(M * KD) * sizeof(float)), *ctx = malloc((size_t)(M * QD) * sizeof(float));
    float *a = malloc((size_t)(M * H) * sizeof(float)), *g = malloc((size_t)(M * l->I) * sizeof(float));
    float *u = malloc((size_t)(M * l->I) * sizeof(float));
    float *cs = malloc((size_t)(M * (D / 2) + 1) * sizeof(float)), *sn = malloc((size_t)(M * (D / 2) + 1) * sizeof(float));
    float *inv = malloc((size_t)(D / 2 + 1) * sizeof(float));
    am_status s = AM_OK;
    if (!q || !k || !v || !ctx || !a || !g || !u || !cs || !sn || !inv) s = am__error(AM_ERR_NO_MEMORY, "Llama forward: out of memory");
    int64_t past = cache ? cache->len : 0;
    if (s == AM_OK) {
        for (int64_t i = 0; i < M; i++) {
            memset(x + i * H, 0, (size_t)H * sizeof(float));
            am__embed_add(emb, ids[i], x + i * H);
        }
        rope_table(l, M, pos, past + T, inv, cs, sn);
    }
    float scale = 1.0f / sqrtf((float)D);
    char name[64];
    for (int64_t li = 0; s == AM_OK && li < l->L; li++) {
        const llama_layer *ly = &l->layer[li];
        if (hs_out) {
            snprintf(name, sizeof name, "hidden_states.%lld", (long long)li);
            int64_t shape[3] = {B, T, H};
            if ((s = am__put_output(hs_out, name, 3, shape, x)) != AM_OK) break;
        }
        am__rmsnorm_fwd(ly->ln_in, M, x, a, l->eps);
        am__dense_fwd(ly->q, M, a, q);
        am__dense_fwd(ly->k, M, a, k);
        am__dense_fwd(ly->v, M, a, v);
        apply_rope(q, M, l->Hq, D, cs, sn);
        apply_rope(k, M, l->Hkv, D, cs, sn);
        am__attn_args at;
        if (cache) {
            am__kv_store(cache, li, false, T, k, KD);
            am__kv_store(cache, li, true, T, v, KD);
            at = am__kv_attn_args(cache, li, B, T, l->Hq, q, QD, mask, mstride, ctx, QD);
        } else {
            at = am__attn_packed(B, T, T, l->Hq, l->Hkv, D, q, QD, k, v, KD, ctx, QD);
            at.mask_add = mask_add, at.causal = true;
        }
        at.scale = scale;
        if ((s = am__attend(m, AM__ATTN_SELF, &at)) != AM_OK) break;
        am__dense_fwd(ly->o, M, ctx, a);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
        am__rmsnorm_fwd(ly->ln_post, M, x, a, l->eps);
        am__dense_fwd(ly->gate, M, a, g);
        am__dense_fwd(ly->up, M, a, u);
        am__act_f32(l->act, M * l->I, g);
        for (int64_t i = 0; i < M * l->I; i++) g[i] *= u[i];
        am__dense_fwd(ly->down, M, g, a);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
    }
    if (s == AM_OK) {
        am__rmsnorm_fwd(l->norm, M, x, x, l->eps);
        if (hs_out) {
            snprintf(name, sizeof name, "hidden_states.%lld", (long long)l->L);
            int64_t shape[3] = {B, T, H};
            s = am__put_output(hs_out, name, 3, shape, x);
        }
    }
    if (s == AM_OK && cache) cache->len += T;
    free(q);
    free(k);
    free(v);
    free(ctx);
    free(a);
    free(g);
    free(u);
    free(cs);
    free(sn);
    free(inv);
    return s;
}

static am_status llama_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    llama_impl *l = m->impl;
    int64_t B = -1, T = -1, H = l->H;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true);
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    am_status s = AM_OK;
    if (B == 0 || T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: input_ids is empty", m->spec->class_name);
    am_tensor *mask = NULL, *pt = NULL;
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    if (s == AM_OK) s = am__opt_input(in, "position_ids", &B, &T, &pt);
    int64_t *pos = malloc((size_t)(B * T) * sizeof(int64_t));
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *madd = NULL;
    if (s == AM_OK && (!pos || !x)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK) {
        for (int64_t i = 0; i < B * T; i++) pos[i] = pt ? ((const int64_t *)pt->data)[i] : i % T;
        madd = mask ? am__additive_mask(mask, B, T) : NULL;
        s = llama_run(m, NULL, B, T, ids->data, pos, NULL, 0, madd, opts && opts->output_hidden_states ? out : NULL, x);
    }
    am_task task = m->spec->task;
    if (s == AM_OK && task == AM_TASK_BASE) {
        int64_t shape[3] = {B, T, H};
        s = am__put_output(out, "last_hidden_state", 3, shape, x);
    } else if (s == AM_OK && task == AM_TASK_CAUSAL_LM) {
        float *logits = malloc((size_t)(B * T * l->V) * sizeof(float));
        if (!logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else {
            am__dense_fwd(l->head, B * T, x, logits);
            int64_t shape[3] = {B, T, l->V};
            s = am__put_output(out, "logits", 3, shape, logits);
        }
        free(logits);
    } else if (s == AM_OK && task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        if (!l->has_pad && B != 1) s = am__error(AM_ERR_INVALID_ARGUMENT, "Cannot handle batch sizes > 1 if no padding token is defined.");
        int64_t N = am__module_find_param(l->head, "weight")->shape[0];
        float *pooled = malloc((size_t)(B * H) * sizeof(float)), *logits = malloc((size_t)(B * N) * sizeof(float));
        if (s == AM_OK && (!pooled || !logits)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        if (s == AM_OK) {
            for (int64_t b = 0; b < B; b++) {
                int64_t at = am__last_non_pad((const int64_t *)ids->data + b * T, T, l->pad, l->has_pad);
                memcpy(pooled + b * H, x + (b * T + at) * H, (size_t)H * sizeof(float));
            }
            am__dense_fwd(l->head, B, pooled, logits);
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
    am_tensor_free(pt);
    return s;
}

/* ---- generation interface ---- */

static int64_t llama_max_positions(const am_model *m) {
    const llama_impl *l = m->impl;
    /* rotary positions have no table: scaled configs are meant to run past the trained length */
    if (l->rope.kind == ROPE_DYNAMIC) return 0;
    return l->rope.kind == ROPE_LINEAR ? (int64_t)((double)l->P * l->rope.factor) : l->P;
}
static int64_t llama_vocab(const am_model *m) {
    const llama_impl *l = m->impl;
    return am__module_find_param(l->head, "weight")->shape[0];
}
static am_status llama_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    const llama_impl *l = m->impl;
    *out = am__kv_new(l->L, B, l->Hkv, l->D, cap);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}
static am_status llama_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                            const uint8_t *mask, int64_t mstride, float *logits) {
    (void)enc;
    llama_impl *l = m->impl;
    int64_t H = l->H;
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *last = malloc((size_t)(B * H) * sizeof(float));
    am_status s = x && last ? AM_OK : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    if (s == AM_OK) s = llama_run(m, cache, B, T, ids, pos, mask, mstride, NULL, NULL, x);
    if (s == AM_OK) {
        for (int64_t b = 0; b < B; b++) memcpy(last + b * H, x + (b * T + T - 1) * H, (size_t)H * sizeof(float));
        am__dense_fwd(l->head, B, last, logits);
    }
    free(x);
    free(last);
    return s;
}
static const am__gen_ops k_llama_gen = {false, llama_max_positions, llama_vocab, llama_cache_new, NULL, NULL, llama_step};

/* ---- builder ---- */

static am_status parse_rope_scaling(const am_config *c, rope_params *r) {
    const cJSON *rs = am__config_value(c, "rope_scaling");
    r->kind = ROPE_DEFAULT;
    r->factor = 1.0;
    if (!rs || cJSON_IsNull(rs)) return AM_OK;
    if (!cJSON_IsObject(rs) || cJSON_GetArraySize(rs) != 2)
        return am__error(AM_ERR_FORMAT, "config: `rope_scaling` must be a dictionary with with two fields, `name` and `factor`");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "type"), *f = cJSON_GetObjectItemCaseSensitive(rs, "factor");
    if (!cJSON_IsString(ty) || (strcmp(ty->valuestring, "linear") && strcmp(ty->valuestring, "dynamic")))
        return am__error(AM_ERR_FORMAT, "config: `rope_scaling`'s name field must be one of ['linear', 'dynamic'], got %s",
                         cJSON_IsString(ty) ? ty->valuestring : "None");
    if (!cJSON_IsNumber(f) || !(f->valuedouble > 1.0))
        return am__error(AM_ERR_FORMAT, "config: `rope_scaling`'s factor field must be an float > 1, got %g", cJSON_IsNumber(f) ? f->valuedouble : 0.0);
    r->kind = !strcmp(ty->valuestring, "linear") ? ROPE_LINEAR : ROPE_DYNAMIC;
    r->factor = f->valuedouble;
    return AM_OK;
}

am_status am__llama_build(am_model *m) {
    am_config *c = m->config;
    llama_impl *l = calloc(1, sizeof *l);
    if (!l) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = l;
    m->impl_free = llama_free;
    m->forward = llama_forward;
    m->input_names = k_llama_inputs;
    l->H = am__config_int(c, "hidden_size", 4096);
    l->Hq = am__config_int(c, "num_attention_heads", 32);
    /* LlamaConfig sets num_key_value_heads = num_attention_heads when absent, so it is written */
    if (am__config_is_null(c, "num_key_value_heads")) am_config_set_int(c, "num_key_value_heads", l->Hq);
    l->Hkv = am__config_int(c, "num_key_value_heads", l->Hq);
    l->L = am__config_int(c, "num_hidden_layers", 32);
    l->I = am__config_int(c, "intermediate_size", 11008);
    l->V = am__config_int(c, "vocab_size", 32000);
    l->P = am__config_int(c, "max_position_embeddings", 2048);
    l->eps = am__config_float(c, "rms_norm_eps", 1e-6);
    l->has_pad = !am__config_is_null(c, "pad_token_id");
    l->pad = am__config_int(c, "pad_token_id", -1);
    if (l->H <= 0 || l->Hq <= 0 || l->H % l->Hq)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)l->H,
                         (long long)l->Hq);
    if (l->Hkv <= 0 || l->Hq % l->Hkv)
        return am__error(AM_ERR_FORMAT, "config: num_attention_heads (%lld) must be a multiple of num_key_value_heads (%lld)", (long long)l->Hq,
                         (long long)l->Hkv);
    if (l->L < 0 || l->L > 100000 || l->I <= 0 || l->V <= 0 || l->P <= 0)
        return am__error(AM_ERR_FORMAT, "config: num_hidden_layers, intermediate_size, vocab_size and max_position_embeddings must be positive");
    l->D = l->H / l->Hq;
    if (l->D % 2) return am__error(AM_ERR_FORMAT, "config: the head dimension (%lld) must be even for rotary embeddings", (long long)l->D);
    const char *act = am__config_str(c, "hidden_act", "silu"), *act_cls;
    if (!am__act_parse(act, &l->act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    am_status s = parse_rope_scaling(c, &l->rope);
    if (s != AM_OK) return s;
    l->rope.dim = l->D;
    l->rope.P = l->P;
    l->rope.base = am__config_float(c, "rope_theta", 10000.0);
    if (!(l->rope.base > 0)) return am__error(AM_ERR_FORMAT, "config: rope_theta must be positive");
    l->inv_freq = malloc((size_t)(l->D / 2 + 1) * sizeof(float));
    if (!l->inv_freq) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    compute_inv_freq(l->D, l->rope.base, l->inv_freq);
    bool bias = am__config_bool(c, "attention_bias", false);
    static const char *const rope_cls[] = {"LlamaRotaryEmbedding", "LlamaLinearScalingRotaryEmbedding", "LlamaDynamicNTKScalingRotaryEmbedding"};

    am_task task = m->spec->task;
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "model", "LlamaModel");
    l->embed = am__nn_embedding(base, "embed_tokens", l->V, l->H, l->has_pad && l->pad >= 0 && l->pad < l->V ? l->pad : -1);
    am__module *list = am__module_new(base, "layers", "ModuleList");
    l->layer = calloc((size_t)(l->L ? l->L : 1), sizeof *l->layer);
    if (!l->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < l->L; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *dl = am__module_new(list, idx, "LlamaDecoderLayer");
        llama_layer *ly = &l->layer[i];
        am__module *att = am__module_new(dl, "self_attn", "LlamaAttention");
        ly->q = am__nn_linear(att, "q_proj", l->H, l->Hq * l->D, bias);
        ly->k = am__nn_linear(att, "k_proj", l->H, l->Hkv * l->D, bias);
        ly->v = am__nn_linear(att, "v_proj", l->H, l->Hkv * l->D, bias);
        ly->o = am__nn_linear(att, "o_proj", l->Hq * l->D, l->H, bias);
        am__module *rot = am__module_new(att, "rotary_emb", rope_cls[l->rope.kind]);
        int64_t hs = l->D / 2, cs[4] = {1, 1, l->P, l->D};
        am__param *inv = am__module_buffer(rot, "inv_freq", AM_F32, 1, &hs, false);
        inv->keep_fp32 = true; /* registered after the dtype is set: stays float32 */
        inv->fill = fill_inv_freq;
        inv->fill_arg = &l->rope;
        am__param *cp = am__module_buffer(rot, "cos_cached", AM_F32, 4, cs, false);
        cp->fill = fill_cos;
        cp->fill_arg = &l->rope;
        am__param *sp = am__module_buffer(rot, "sin_cached", AM_F32, 4, cs, false);
        sp->fill = fill_sin;
        sp->fill_arg = &l->rope;
        am__module *mlp = am__module_new(dl, "mlp", "LlamaMLP");
        ly->gate = am__nn_linear(mlp, "gate_proj", l->H, l->I, false);
        ly->up = am__nn_linear(mlp, "up_proj", l->H, l->I, false);
        ly->down = am__nn_linear(mlp, "down_proj", l->I, l->H, false);
        am__nn_leaf(mlp, "act_fn", act_cls);
        ly->ln_in = am__module_new(dl, "input_layernorm", "LlamaRMSNorm");
        am__module_param(ly->ln_in, "weight", 1, &l->H, AM_INIT_ONES);
        ly->ln_post = am__module_new(dl, "post_attention_layernorm", "LlamaRMSNorm");
        am__module_param(ly->ln_post, "weight", 1, &l->H, AM_INIT_ONES);
    }
    l->norm = am__module_new(base, "norm", "LlamaRMSNorm");
    am__module_param(l->norm, "weight", 1, &l->H, AM_INIT_ONES);
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_CAUSAL_LM:
        l->head = am__nn_linear(m->root, "lm_head", l->H, l->V, false);
        if (am__config_bool(c, "tie_word_embeddings", false)) am__model_tie(m, "lm_head.weight", "model.embed_tokens.weight");
        m->gen = &k_llama_gen;
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: l->head = am__nn_linear(m->root, "score", l->H, am_config_num_labels(c), false); break;
    default: return am__error(AM_ERR_UNSUPPORTED, "Llama has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}
