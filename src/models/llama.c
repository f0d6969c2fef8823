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

/* rotary_emb buffers, as LlamaRotaryEmbedding registers them (saved by no one, shown by repr) */
static void fill_inv_freq(am_tensor *t, const void *arg) {
    const am__rope *r = arg;
    am__rope_inv_freq(r->dim, r->base, t->data);
}
static void fill_cos(am_tensor *t, const void *arg) { am__rope_fill_cache(arg, t->data, false); }
static void fill_sin(am_tensor *t, const void *arg) { am__rope_fill_cache(arg, t->data, true); }

/* ---- builder ---- */

static am__module *rmsnorm(am__module *parent, const char *name, int64_t H) {
    am__module *n = am__module_new(parent, name, "LlamaRMSNorm");
    am__module_param(n, "weight", 1, &H, AM_INIT_ONES);
    return n;
}

static am_status parse_rope_scaling(const am_config *c, am__rope *r) {
    const cJSON *rs = am__config_value(c, "rope_scaling");
    r->kind = AM__ROPE_DEFAULT;
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
    r->kind = !strcmp(ty->valuestring, "linear") ? AM__ROPE_LINEAR : AM__ROPE_DYNAMIC;
    r->factor = f->valuedouble;
    return AM_OK;
}

am_status am__llama_build(am_model *m) {
    am_config *c = m->config;
    am__causal_impl *l;
    am_status s = am__causal_init(m, k_llama_inputs, &l);
    if (s != AM_OK) return s;
    int64_t H = am__config_int(c, "hidden_size", 4096), Hq = am__config_int(c, "num_attention_heads", 32);
    /* LlamaConfig sets num_key_value_heads = num_attention_heads when absent, so it is written */
    if (am__config_is_null(c, "num_key_value_heads")) am_config_set_int(c, "num_key_value_heads", Hq);
    int64_t Hkv = am__config_int(c, "num_key_value_heads", Hq), L = am__config_int(c, "num_hidden_layers", 32);
    int64_t I = am__config_int(c, "intermediate_size", 11008), V = am__config_int(c, "vocab_size", 32000);
    int64_t P = am__config_int(c, "max_position_embeddings", 2048);
    double eps = am__config_float(c, "rms_norm_eps", 1e-6);
    l->has_pad = !am__config_is_null(c, "pad_token_id");
    l->pad = am__config_int(c, "pad_token_id", -1);
    if (H <= 0 || Hq <= 0 || H % Hq)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)H, (long long)Hq);
    if (Hkv <= 0 || Hq % Hkv)
        return am__error(AM_ERR_FORMAT, "config: num_attention_heads (%lld) must be a multiple of num_key_value_heads (%lld)", (long long)Hq,
                         (long long)Hkv);
    if (L < 0 || L > 100000 || I <= 0 || V <= 0 || P <= 0)
        return am__error(AM_ERR_FORMAT, "config: num_hidden_layers, intermediate_size, vocab_size and max_position_embeddings must be positive");
    int64_t D = H / Hq;
    if (D % 2) return am__error(AM_ERR_FORMAT, "config: the head dimension (%lld) must be even for rotary embeddings", (long long)D);
    const char *act = am__config_str(c, "hidden_act", "silu"), *act_cls;
    am__act actk;
    if (!am__act_parse(act, &actk, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    am__rope *r = &l->rope;
    if ((s = parse_rope_scaling(c, r)) != AM_OK) return s;
    r->dim = D;
    r->max_pos = P;
    r->base = am__config_float(c, "rope_theta", 10000.0);
    if (!(r->base > 0)) return am__error(AM_ERR_FORMAT, "config: rope_theta must be positive");
    /* rotary positions have no table: scaled configs are meant to run past the trained length */
    l->max_pos = r->kind == AM__ROPE_DYNAMIC ? 0 : r->kind == AM__ROPE_LINEAR ? (int64_t)((double)P * r->factor) : P;
    bool bias = am__config_bool(c, "attention_bias", false);
    static const char *const rope_cls[] = {"LlamaRotaryEmbedding", "LlamaLinearScalingRotaryEmbedding", "LlamaDynamicNTKScalingRotaryEmbedding"};

    am_task task = m->spec->task;
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "model", "LlamaModel");
    l->emb.word = am__nn_embedding(base, "embed_tokens", V, H, l->has_pad && l->pad >= 0 && l->pad < V ? l->pad : -1);
    am__module *list = am__module_new(base, "layers", "ModuleList");
    if ((s = am__stack_alloc(&l->st, L)) != AM_OK) return s;
    l->st.H = H;
    l->st.pre_norm = l->st.causal = true;
    l->st.rope = r;
    for (int64_t i = 0; i < L; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *dl = am__module_new(list, idx, "LlamaDecoderLayer");
        am__layer *ly = &l->st.layer[i];
        am__module *att = am__module_new(dl, "self_attn", "LlamaAttention");
        am__module *q = am__nn_linear(att, "q_proj", H, Hq * D, bias), *k = am__nn_linear(att, "k_proj", H, Hkv * D, bias);
        am__module *v = am__nn_linear(att, "v_proj", H, Hkv * D, bias), *o = am__nn_linear(att, "o_proj", Hq * D, H, bias);
        ly->self = (am__attn){q, k, v, o, NULL, false, Hq, Hkv, D, 1.0f / sqrtf((float)D), {NULL, 0}};
        am__module *rot = am__module_new(att, "rotary_emb", rope_cls[r->kind]);
        int64_t hs = D / 2, cs[4] = {1, 1, P, D};
        am__param *inv = am__module_buffer(rot, "inv_freq", AM_F32, 1, &hs, false);
        inv->keep_fp32 = true; /* registered after the dtype is set: stays float32 */
        inv->fill = fill_inv_freq;
        inv->fill_arg = r;
        am__param *cp = am__module_buffer(rot, "cos_cached", AM_F32, 4, cs, false);
        cp->fill = fill_cos;
        cp->fill_arg = r;
        am__param *sp = am__module_buffer(rot, "sin_cached", AM_F32, 4, cs, false);
        sp->fill = fill_sin;
        sp->fill_arg = r;
        am__module *mlp = am__module_new(dl, "mlp", "LlamaMLP");
        am__module *gate = am__nn_linear(mlp, "gate_proj", H, I, false), *up = am__nn_linear(mlp, "up_proj", H, I, false);
        ly->mlp = (am__mlp){up, gate, am__nn_linear(mlp, "down_proj", I, H, false), false, I, actk, {NULL, 0}};
        am__nn_leaf(mlp, "act_fn", act_cls);
        ly->n_self = (am__norm){rmsnorm(dl, "input_layernorm", H), AM__NORM_RMS, eps};
        ly->n_mlp = (am__norm){rmsnorm(dl, "post_attention_layernorm", H), AM__NORM_RMS, eps};
    }
    l->st.final_norm = (am__norm){rmsnorm(base, "norm", H), AM__NORM_RMS, eps};
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_CAUSAL_LM:
        l->head = am__nn_linear(m->root, "lm_head", H, V, false);
        if (am__config_bool(c, "tie_word_embeddings", false)) am__model_tie(m, "lm_head.weight", "model.embed_tokens.weight");
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: l->head = am__nn_linear(m->root, "score", H, am_config_num_labels(c), false); break;
    default: return am__error(AM_ERR_UNSUPPORTED, "Llama has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}
