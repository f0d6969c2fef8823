/* models/gpt2.c — GPT-2 (modeling_gpt2.py) described for the decoder-only engine (models/causal.c):
 * learned positions, pre-LN blocks with Conv1D projections ([in, out] weights), gelu_new, and the
 * heads GPT2Model, GPT2LMHeadModel (lm_head tied to wte), GPT2ForSequenceClassification (last
 * non-pad token), GPT2ForTokenClassification, GPT2ForQuestionAnswering. */
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

/* GPT2Attention's buffers: bias, the causal mask, and masked_bias (registered for cross-attention too) */
static void attn_buffers(am__module *att, int64_t P) {
    int64_t ms[4] = {1, 1, P, P};
    am__param *bias = am__module_buffer(att, "bias", AM_BOOL, 4, ms, false);
    bias->fill = fill_tril;
    am__param *mb = am__module_buffer(att, "masked_bias", AM_F32, 0, ms, false);
    mb->fill = fill_masked_bias;
}

/* ---- builder ---- */

/* The module tree of config c under root (GPT2Model or GPT2<Head> for task), described in g; ties
 * are named with `prefix` (the tree's place in the model: "" or "decoder."). With
 * add_cross_attention every block has crossattention (q_attn, and c_attn for K|V) and ln_cross_attn. */
am_status am__gpt2_describe(am_model *m, const am_config *c, am__module *root, am_task task, const char *prefix, am__causal_impl *g) {
    am_status s;
    int64_t H = am__config_int(c, "n_embd", 768), heads = am__config_int(c, "n_head", 12), L = am__config_int(c, "n_layer", 12);
    int64_t P = am__config_int(c, "n_positions", 1024), V = am__config_int(c, "vocab_size", 50257);
    int64_t inner = am__config_is_null(c, "n_inner") ? 4 * H : am__config_int(c, "n_inner", 4 * H);
    double eps = am__config_float(c, "layer_norm_epsilon", 1e-5);
    bool scale_weights = am__config_bool(c, "scale_attn_weights", true), inverse_layer = am__config_bool(c, "scale_attn_by_inverse_layer_idx", false);
    g->has_pad = !am__config_is_null(c, "pad_token_id");
    g->pad = am__config_int(c, "pad_token_id", -1);
    g->max_pos = P;
    if (H <= 0 || heads <= 0 || H % heads)
        return am__error(AM_ERR_FORMAT, "config: n_embd (%lld) must be a positive multiple of n_head (%lld)", (long long)H, (long long)heads);
    if (L < 0 || L > 100000 || P <= 0 || V <= 0 || inner <= 0)
        return am__error(AM_ERR_FORMAT, "config: n_layer, n_positions, vocab_size and n_inner must be positive");
    bool cross = am__config_bool(c, "add_cross_attention", false);
    int64_t D = H / heads;
    const char *act = am__config_str(c, "activation_function", "gelu_new"), *act_cls;
    am__act actk;
    if (!am__act_parse(act, &actk, &act_cls))
        return am__error(AM_ERR_UNSUPPORTED, "config: activation_function \"%s\" is not a supported activation", act);
    double rp = am__config_float(c, "resid_pdrop", 0.1), ep = am__config_float(c, "embd_pdrop", 0.1), ap = am__config_float(c, "attn_pdrop", 0.1);
    am__module *base = task == AM_TASK_BASE ? root : am__module_new(root, "transformer", "GPT2Model");
    g->emb = (am__embed){.word = am__nn_embedding(base, "wte", V, H, -1), .pos = am__nn_embedding(base, "wpe", P, H, -1), .type_from_word = true,
                         .pos_limit = "n_positions", .drop = {am__nn_dropout(base, "drop", ep), 0}};
    am__module *list = am__module_new(base, "h", "ModuleList");
    if ((s = am__stack_alloc(&g->st, L)) != AM_OK) return s;
    g->st.H = H;
    g->st.pre_norm = g->st.causal = true;
    for (int64_t i = 0; i < L; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *blk = am__module_new(list, idx, "GPT2Block");
        am__layer *l = &g->st.layer[i];
        l->n_self = (am__norm){am__nn_layernorm(blk, "ln_1", H, eps), AM__NORM_LAYER, eps};
        am__module *att = am__module_new(blk, "attn", "GPT2Attention");
        attn_buffers(att, P);
        am__module *qkv = conv1d(att, "c_attn", 3 * H, H), *o = conv1d(att, "c_proj", H, H);
        float scale = scale_weights ? 1.0f / sqrtf((float)D) : 1.0f;
        if (inverse_layer) scale /= (float)(i + 1);
        l->self = (am__attn){NULL, NULL, NULL, o, qkv, true, heads, heads, D, scale, {am__nn_dropout(att, "attn_dropout", ap), 0}};
        l->d_self = (am__drop){am__nn_dropout(att, "resid_dropout", rp), 0};
        l->n_mlp = (am__norm){am__nn_layernorm(blk, "ln_2", H, eps), AM__NORM_LAYER, eps};
        if (cross) { /* GPT2Attention(is_cross_attention=True): scaled as the self-attention, never causal */
            am__module *ca = am__module_new(blk, "crossattention", "GPT2Attention");
            attn_buffers(ca, P);
            am__module *kv = conv1d(ca, "c_attn", 2 * H, H), *q = conv1d(ca, "q_attn", H, H), *co = conv1d(ca, "c_proj", H, H);
            l->cross = (am__attn){q, NULL, NULL, co, kv, true, heads, heads, D, scale, {am__nn_dropout(ca, "attn_dropout", ap), 0}};
            l->d_cross = (am__drop){am__nn_dropout(ca, "resid_dropout", rp), 0};
            l->n_cross = (am__norm){am__nn_layernorm(blk, "ln_cross_attn", H, eps), AM__NORM_LAYER, eps};
        }
        am__module *mlp = am__module_new(blk, "mlp", "GPT2MLP");
        am__module *fc = conv1d(mlp, "c_fc", inner, H), *proj = conv1d(mlp, "c_proj", H, inner);
        l->mlp = (am__mlp){fc, NULL, proj, true, inner, actk, {NULL, 0}};
        am__nn_leaf(mlp, "act", act_cls);
        l->d_mlp = (am__drop){am__nn_dropout(mlp, "dropout", rp), 0};
    }
    g->st.final_norm = (am__norm){am__nn_layernorm(base, "ln_f", H, eps), AM__NORM_LAYER, eps};
    int64_t nl = am_config_num_labels(c);
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_CAUSAL_LM:
        g->head = am__nn_linear(root, "lm_head", H, V, false);
        if (am__config_bool(c, "tie_word_embeddings", true)) {
            char al[256], tg[256];
            snprintf(al, sizeof al, "%slm_head.weight", prefix);
            snprintf(tg, sizeof tg, "%stransformer.wte.weight", prefix);
            am__model_tie(m, al, tg);
        }
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: g->head = am__nn_linear(root, "score", H, nl, false); break;
    case AM_TASK_TOKEN_CLASSIFICATION: {
        /* classifier_dropout, else hidden_dropout, else 0.1 (GPT2Config has neither by default) */
        double cd = !am__config_is_null(c, "classifier_dropout")  ? am__config_float(c, "classifier_dropout", 0.1)
                    : !am__config_is_null(c, "hidden_dropout") ? am__config_float(c, "hidden_dropout", 0.1)
                                                                : 0.1;
        g->head_drop = (am__drop){am__nn_dropout(root, "dropout", cd), 0};
        g->head = am__nn_linear(root, "classifier", H, nl, true);
        break;
    }
    case AM_TASK_QUESTION_ANSWERING: g->head = am__nn_linear(root, "qa_outputs", H, 2, true); break; /* 4.32: always 2, not num_labels */
    default: return am__error(AM_ERR_UNSUPPORTED, "GPT-2 has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}

am_status am__gpt2_build(am_model *m) {
    am__causal_impl *g;
    am_status s = am__causal_init(m, k_gpt2_inputs, &g);
    return s == AM_OK ? am__gpt2_describe(m, m->config, m->root, m->spec->task, "", g) : s;
}
