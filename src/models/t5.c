/* models/t5.c — T5 (modeling_t5.py) described for the encoder-decoder engine (models/seq2seq.c):
 * T5Model, T5ForConditionalGeneration and T5EncoderModel. Pre-norm blocks with RMS T5LayerNorm,
 * relative position buckets (bidirectional in the encoder, causal in the decoder) from the first
 * layer shared by the stack, no 1/sqrt(d) scaling, ReLU or gated feed-forward, tied embeddings with
 * the d_model^-0.5 rescale before the head. */
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

typedef struct t5_dims {
    int64_t V, D, dk, heads, inner, dff, nb, maxd;
    double eps, p;
    bool gated;
    am__act act;
    const char *act_cls;
} t5_dims;

static am__module *t5_layernorm(am__module *parent, const char *name, int64_t d) {
    am__module *m = am__module_new(parent, name, "T5LayerNorm");
    am__module_param(m, "weight", 1, &d, AM_INIT_ONES);
    return m;
}

static am__attn t5_attention(am__module *parent, const char *name, const t5_dims *t, bool rel) {
    am__module *m = am__module_new(parent, name, "T5Attention");
    am__module *q = am__nn_linear(m, "q", t->D, t->inner, false), *k = am__nn_linear(m, "k", t->D, t->inner, false);
    am__module *v = am__nn_linear(m, "v", t->D, t->inner, false), *o = am__nn_linear(m, "o", t->inner, t->D, false);
    if (rel) am__nn_embedding(m, "relative_attention_bias", t->nb, t->heads, -1);
    /* no 1/sqrt(d) scaling; F.dropout(p=dropout_rate) on the probabilities */
    return (am__attn){q, k, v, o, NULL, false, t->heads, t->heads, t->dk, 1.0f, {NULL, t->p}};
}

/* A T5Stack: pre-norm blocks, relative bias from block 0 shared by the stack, final norm, dropout. */
static am_status t5_stack_build(am_model *m, const t5_dims *t, am__module *base, const char *prefix, am__module *shared, const char *name, int64_t n,
                                bool decoder, am__stack *st, am__embed *emb) {
    am__module *sm = am__module_new(base, name, "T5Stack");
    am__nn_embedding(sm, "embed_tokens", t->V, t->D, -1);
    char al[128], tgt[128];
    snprintf(al, sizeof al, "%s%s.embed_tokens.weight", prefix, name);
    snprintf(tgt, sizeof tgt, "%sshared.weight", prefix);
    am__model_tie(m, al, tgt); /* T5Stack holds the shared module itself */
    am__module *blocks = am__module_new(sm, "block", "ModuleList");
    am_status s = am__stack_alloc(st, n);
    if (s != AM_OK) return s;
    st->H = t->D;
    st->pre_norm = true;
    st->causal = decoder;
    st->attn_role = decoder ? AM__ATTN_DECODER : AM__ATTN_SELF;
    st->rel_buckets = t->nb;
    st->rel_max_distance = t->maxd;
    for (int64_t i = 0; i < n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *ll = am__module_new(am__module_new(blocks, idx, "T5Block"), "layer", "ModuleList");
        am__layer *L = &st->layer[i];
        am__module *sa = am__module_new(ll, "0", "T5LayerSelfAttention");
        L->self = t5_attention(sa, "SelfAttention", t, i == 0);
        if (i == 0) st->rel_bias = am__module_child(am__module_child(sa, "SelfAttention"), "relative_attention_bias");
        L->n_self = (am__norm){t5_layernorm(sa, "layer_norm", t->D), AM__NORM_RMS, t->eps};
        L->d_self = (am__drop){am__nn_dropout(sa, "dropout", t->p), 0};
        if (decoder) {
            am__module *ca = am__module_new(ll, "1", "T5LayerCrossAttention");
            L->cross = t5_attention(ca, "EncDecAttention", t, false);
            L->n_cross = (am__norm){t5_layernorm(ca, "layer_norm", t->D), AM__NORM_RMS, t->eps};
            L->d_cross = (am__drop){am__nn_dropout(ca, "dropout", t->p), 0};
        }
        am__module *ff = am__module_new(ll, decoder ? "2" : "1", "T5LayerFF");
        am__module *dd = am__module_new(ff, "DenseReluDense", t->gated ? "T5DenseGatedActDense" : "T5DenseActDense");
        L->mlp = (am__mlp){.inner = t->dff, .act = t->act};
        if (t->gated) {
            L->mlp.gate = am__nn_linear(dd, "wi_0", t->D, t->dff, false);
            L->mlp.fc1 = am__nn_linear(dd, "wi_1", t->D, t->dff, false);
        } else L->mlp.fc1 = am__nn_linear(dd, "wi", t->D, t->dff, false);
        L->mlp.fc2 = am__nn_linear(dd, "wo", t->dff, t->D, false);
        L->mlp.inner_drop = (am__drop){am__nn_dropout(dd, "dropout", t->p), 0};
        am__nn_leaf(dd, "act", t->act_cls);
        L->n_mlp = (am__norm){t5_layernorm(ff, "layer_norm", t->D), AM__NORM_RMS, t->eps};
        L->d_mlp = (am__drop){am__nn_dropout(ff, "dropout", t->p), 0};
    }
    st->final_norm = (am__norm){t5_layernorm(sm, "final_layer_norm", t->D), AM__NORM_RMS, t->eps};
    am__drop drop = {am__nn_dropout(sm, "dropout", t->p), 0};
    st->final_drop = drop;
    *emb = (am__embed){.word = shared, .drop = drop};
    return AM_OK;
}

am_status am__t5_build(am_model *m) {
    const am_config *c = m->config;
    bool encoder_only = !strcmp(m->spec->class_name, "T5EncoderModel");
    am__s2s_impl *t;
    am_status s = am__s2s_init(m, encoder_only ? k_t5_enc_inputs : k_t5_inputs, &t);
    if (s != AM_OK) return s;
    t->has_decoder = !encoder_only;
    t5_dims d = {.V = am__config_int(c, "vocab_size", 32128), .D = am__config_int(c, "d_model", 512), .dk = am__config_int(c, "d_kv", 64),
                 .heads = am__config_int(c, "num_heads", 8), .dff = am__config_int(c, "d_ff", 2048),
                 .nb = am__config_int(c, "relative_attention_num_buckets", 32), .maxd = am__config_int(c, "relative_attention_max_distance", 128),
                 .eps = am__config_float(c, "layer_norm_epsilon", 1e-6), .p = am__config_float(c, "dropout_rate", 0.1),
                 .gated = am__config_bool(c, "is_gated_act", false)};
    bool tie = am__config_bool(c, "tie_word_embeddings", true);
    int64_t nl = am__config_int(c, "num_layers", 6), ndl = am__config_int(c, "num_decoder_layers", nl);
    if (d.V <= 0 || d.D <= 0 || d.dk <= 0 || d.heads <= 0 || d.dff <= 0 || nl < 0 || ndl < 0 || nl > 100000 || ndl > 100000)
        return am__error(AM_ERR_FORMAT, "config: vocab_size, d_model, d_kv, num_heads and d_ff must be positive and the layer counts non-negative");
    if (d.nb < 4 || d.maxd < 1)
        return am__error(AM_ERR_FORMAT, "config: relative_attention_num_buckets must be at least 4 and relative_attention_max_distance positive (got %lld, %lld)",
                         (long long)d.nb, (long long)d.maxd);
    d.inner = d.heads * d.dk;
    const char *act = am__config_str(c, "dense_act_fn", "relu");
    if (!am__act_parse(act, &d.act, &d.act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: dense_act_fn \"%s\" is not a supported activation", act);
    t->V = d.V;
    am_task task = m->spec->task;
    /* T5ForSequenceClassification wraps a T5Model; T5ForQuestionAnswering holds the stacks itself.
     * Both make decoder inputs by shifting input_ids when none are given. */
    bool cls = task == AM_TASK_SEQUENCE_CLASSIFICATION;
    t->shift_inputs = cls || task == AM_TASK_QUESTION_ANSWERING;
    am__module *base = cls ? am__module_new(m->root, "transformer", "T5Model") : m->root;
    const char *bp = cls ? "transformer." : "";
    am__module *shared = am__nn_embedding(base, "shared", d.V, d.D, -1);
    s = t5_stack_build(m, &d, base, bp, shared, "encoder", nl, false, &t->enc, &t->enc_emb);
    if (s == AM_OK && t->has_decoder) s = t5_stack_build(m, &d, base, bp, shared, "decoder", ndl, true, &t->dec, &t->dec_emb);
    if (s != AM_OK) return s;
    int64_t nlab = am_config_num_labels(c);
    if (task == AM_TASK_SEQ2SEQ_LM) {
        t->lm_head = am__nn_linear(m->root, "lm_head", d.D, d.V, false);
        if (tie) {
            am__model_tie(m, "lm_head.weight", "shared.weight");
            t->head_scale = (float)pow((double)d.D, -0.5); /* the d_model^-0.5 rescale of tied embeddings */
        }
    } else if (cls) {
        am__module *ch = am__module_new(m->root, "classification_head", "T5ClassificationHead");
        t->cls_dense = am__nn_linear(ch, "dense", d.D, d.D, true);
        t->cls_drop = (am__drop){am__nn_dropout(ch, "dropout", am__config_float(c, "classifier_dropout", 0.0)), 0};
        t->cls_out = am__nn_linear(ch, "out_proj", d.D, nlab, true);
    } else if (task == AM_TASK_QUESTION_ANSWERING) t->qa = am__nn_linear(m->root, "qa_outputs", d.D, nlab, true);
    return AM_OK;
}
