/* models/bert.c — BERT (modeling_bert.py): embeddings, the post-LN encoder, pooler and the heads
 * BertModel, ForSequenceClassification, ForTokenClassification, ForQuestionAnswering, ForMaskedLM. */
#include "models/causal.h"
#include "core/error.h"
#include "core/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__bert_defaults[] = {
    {"vocab_size", "30522"}, {"hidden_size", "768"}, {"num_hidden_layers", "12"}, {"num_attention_heads", "12"},
    {"intermediate_size", "3072"}, {"hidden_act", "\"gelu\""}, {"hidden_dropout_prob", "0.1"},
    {"attention_probs_dropout_prob", "0.1"}, {"max_position_embeddings", "512"}, {"type_vocab_size", "2"},
    {"initializer_range", "0.02"}, {"layer_norm_eps", "1e-12"}, {"pad_token_id", "0"},
    {"position_embedding_type", "\"absolute\""}, {"use_cache", "true"}, {"classifier_dropout", "null"}, {NULL, NULL}};

static const char *const k_bert_inputs[] = {"input_ids", "attention_mask", "token_type_ids", "position_ids", NULL};

typedef struct bert_impl {
    am__embed emb;
    am__stack enc;
    am__module *pooler;     /* NULL without pooling layer */
    am__module *classifier; /* seqcls / tokcls; RobertaClassificationHead's out_proj */
    am__module *qa, *cls_dense;
    am__module *mlm_dense, *mlm_ln, *mlm_decoder;
    am__drop cls_drop;
    am__act mlm_act;
    double eps;
    int64_t pad;
    bool roberta;
} bert_impl;

static void bert_impl_free(void *p) {
    bert_impl *b = p;
    if (!b) return;
    am__stack_free(&b->enc);
    free(b);
}

/* The post-LN encoder layer as the stack runs it (BertLayer / RobertaLayer). */
static void bert_layer_tree(am__module *list, int64_t i, const char *P, int64_t H, int64_t heads, int64_t inter, double eps, double hp, double ap,
                            const char *act_cls, am__act act, am__layer *l) {
    char n[128], idx[32];
    snprintf(idx, sizeof idx, "%lld", (long long)i);
    snprintf(n, sizeof n, "%sLayer", P);
    am__module *L = am__module_new(list, idx, n);
    snprintf(n, sizeof n, "%sAttention", P);
    am__module *att = am__module_new(L, "attention", n);
    snprintf(n, sizeof n, "%sSelfAttention", P);
    am__module *self = am__module_new(att, "self", n);
    am__module *q = am__nn_linear(self, "query", H, H, true), *k = am__nn_linear(self, "key", H, H, true), *v = am__nn_linear(self, "value", H, H, true);
    am__module *pd = am__nn_dropout(self, "dropout", ap);
    snprintf(n, sizeof n, "%sSelfOutput", P);
    am__module *so = am__module_new(att, "output", n);
    am__module *o = am__nn_linear(so, "dense", H, H, true);
    l->n_self = (am__norm){am__nn_layernorm(so, "LayerNorm", H, eps), AM__NORM_LAYER, eps};
    l->d_self = (am__drop){am__nn_dropout(so, "dropout", hp), 0};
    l->self = (am__attn){q, k, v, o, NULL, false, heads, heads, H / heads, 1.0f / sqrtf((float)(H / heads)), {pd, 0}};
    snprintf(n, sizeof n, "%sIntermediate", P);
    am__module *im = am__module_new(L, "intermediate", n);
    am__module *fc1 = am__nn_linear(im, "dense", H, inter, true);
    am__nn_leaf(im, "intermediate_act_fn", act_cls);
    snprintf(n, sizeof n, "%sOutput", P);
    am__module *om = am__module_new(L, "output", n);
    l->mlp = (am__mlp){fc1, NULL, am__nn_linear(om, "dense", inter, H, true), false, inter, act, {NULL, 0}};
    l->n_mlp = (am__norm){am__nn_layernorm(om, "LayerNorm", H, eps), AM__NORM_LAYER, eps};
    l->d_mlp = (am__drop){am__nn_dropout(om, "dropout", hp), 0};
}

static am_status bert_encoder_build(am_model *m, am__module *parent, const char *P, am__stack *st) {
    const am_config *c = m->config;
    int64_t H = am__config_int(c, "hidden_size", 768), heads = am__config_int(c, "num_attention_heads", 12);
    int64_t layers = am__config_int(c, "num_hidden_layers", 12), inter = am__config_int(c, "intermediate_size", 3072);
    double eps = am__config_float(c, "layer_norm_eps", 1e-12);
    if (H <= 0 || heads <= 0 || H % heads)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)H,
                         (long long)heads);
    if (layers < 0 || layers > 100000 || inter <= 0) return am__error(AM_ERR_FORMAT, "config: num_hidden_layers/intermediate_size out of range");
    const char *act = am__config_str(c, "hidden_act", "gelu"), *act_cls;
    am__act a;
    if (!am__act_parse(act, &a, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    double hp = am__config_float(c, "hidden_dropout_prob", 0.1), ap = am__config_float(c, "attention_probs_dropout_prob", 0.1);
    char n[128];
    snprintf(n, sizeof n, "%sEncoder", P);
    am__module *list = am__module_new(am__module_new(parent, "encoder", n), "layer", "ModuleList");
    am_status s = am__stack_alloc(st, layers);
    if (s != AM_OK) return s;
    st->H = H;
    for (int64_t i = 0; i < layers; i++) bert_layer_tree(list, i, P, H, heads, inter, eps, hp, ap, act_cls, a, &st->layer[i]);
    return AM_OK;
}

/* RoBERTa's create_position_ids_from_input_ids: pad + running count of non-pad tokens */
static void roberta_positions(const int64_t *ids, int64_t B, int64_t T, int64_t pad, int64_t *pos) {
    for (int64_t b = 0; b < B; b++) {
        int64_t run = 0;
        for (int64_t t = 0; t < T; t++) {
            int64_t nm = ids[b * T + t] != pad;
            run += nm;
            pos[b * T + t] = run * nm + pad;
        }
    }
}

static am_status bert_heads(am_model *m, am__fwd *cx, bert_impl *b, int64_t B, int64_t T, float *h, am_tensors *out) {
    int64_t H = b->enc.H;
    am_task task = m->spec->task;
    float *pooled = NULL, *t1 = NULL;
    am_status s = AM_OK;
    if (b->pooler) {
        float *first = am__gather_rows(h, B, T, H, NULL);
        pooled = malloc((size_t)(B * H) * sizeof(float));
        if (!first || !pooled) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the pooler");
        else s = am__transform_fwd(am__module_child(b->pooler, "dense"), AM_ACT_TANH, NULL, B, first, pooled);
        free(first);
    }
    if (s != AM_OK) {
        free(pooled);
        return s;
    }
    int64_t shape[3] = {B, T, H};
    switch (task) {
    case AM_TASK_BASE:
        s = am__put_output(out, "last_hidden_state", 3, shape, h);
        if (s == AM_OK && pooled) s = am__put_output(out, "pooler_output", 2, (int64_t[]){B, H}, pooled);
        break;
    case AM_TASK_SEQUENCE_CLASSIFICATION:
        if (b->roberta) { /* RobertaClassificationHead on <s> */
            pooled = am__gather_rows(h, B, T, H, NULL);
            t1 = malloc((size_t)(B * H) * sizeof(float));
            if (!pooled || !t1) {
                s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the classification head");
                break;
            }
            am__drop_fwd(cx, b->cls_drop, B * H, pooled);
            if ((s = am__transform_fwd(b->cls_dense, AM_ACT_TANH, NULL, B, pooled, t1)) != AM_OK) break;
            memcpy(pooled, t1, (size_t)(B * H) * sizeof(float));
        }
        am__drop_fwd(cx, b->cls_drop, B * H, pooled);
        s = am__linear_output(b->classifier, B, 1, false, pooled, out, "logits");
        break;
    case AM_TASK_TOKEN_CLASSIFICATION:
        am__drop_fwd(cx, b->cls_drop, B * T * H, h);
        s = am__linear_output(b->classifier, B, T, true, h, out, "logits");
        break;
    case AM_TASK_QUESTION_ANSWERING: s = am__qa_head_forward(b->qa, B, T, h, out); break;
    case AM_TASK_CAUSAL_LM:
    case AM_TASK_MASKED_LM:
        if (!(t1 = malloc((size_t)(B * T * H) * sizeof(float)))) {
            s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the LM head");
            break;
        }
        s = am__transform_fwd(b->mlm_dense, b->mlm_act, &(am__norm){b->mlm_ln, AM__NORM_LAYER, b->eps}, B * T, h, t1);
        if (s == AM_OK) s = am__linear_output(b->mlm_decoder, B, T, true, t1, out, "logits");
        break;
    default: s = am__error(AM_ERR_UNSUPPORTED, "%s: task not supported", m->spec->class_name);
    }
    free(pooled);
    free(t1);
    return s;
}

static am_status bert_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    bert_impl *b = m->impl;
    int64_t B = -1, T = -1;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true), *mask = NULL, *tt = NULL, *pos = NULL;
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    am_status s = T == 0 || B == 0 ? am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty") : AM_OK;
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    if (s == AM_OK) s = am__opt_input(in, "token_type_ids", &B, &T, &tt);
    if (s == AM_OK) s = am__opt_input(in, "position_ids", &B, &T, &pos);
    int64_t *posv = NULL;
    if (s == AM_OK && !pos && b->roberta) {
        if (!(posv = malloc((size_t)(B * T) * sizeof(int64_t)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for positions");
        else roberta_positions(ids->data, B, T, b->pad, posv);
    }
    am__fwd cx = am__fwd_begin(m);
    float *h = NULL;
    if (s == AM_OK)
        s = am__encode(&cx, &b->emb, &b->enc, B, T, ids->data, pos ? pos->data : posv, tt ? tt->data : NULL, mask ? mask->data : NULL,
                       opts && opts->output_hidden_states ? out : NULL, "hidden_states", &h);
    if (s == AM_OK) s = bert_heads(m, &cx, b, B, T, h, out);
    free(h);
    free(posv);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(tt);
    am_tensor_free(pos);
    return s;
}

static void bert_describe(const am_model *m, am__describe *d) {
    const bert_impl *b = m->impl;
    *d = (am__describe){.emb = &b->emb, .stack = &b->enc, .token_types = !b->roberta, .roberta_positions = b->roberta, .pad = b->pad,
                        .pooler = b->pooler ? am__module_child(b->pooler, "dense") : NULL, .classifier = b->classifier, .qa = b->qa,
                        .lm_dense = b->mlm_dense, .lm_decoder = b->mlm_decoder, .lm_act = b->mlm_act,
                        .lm_norm = {b->mlm_ln, AM__NORM_LAYER, b->eps}};
    if (m->spec->task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        d->cls_on_pooler = !b->roberta;
        d->cls_dense = b->cls_dense; /* RobertaClassificationHead */
        d->cls_act = AM_ACT_TANH;
    }
    d->causal_encoder = m->spec->task == AM_TASK_CAUSAL_LM;
}

/* ---- generation (BertLMHeadModel / RobertaForCausalLM) ---- */

/* positions of T new tokens after `past`: BERT counts on (position_ids[past:past+T]); RoBERTa's
 * create_position_ids_from_input_ids(ids, pad, past) counts the non-pad tokens of this call only */
static void step_positions(const bert_impl *b, const int64_t *ids, int64_t B, int64_t T, int64_t past, int64_t *pos) {
    for (int64_t r = 0; r < B; r++) {
        int64_t run = 0;
        for (int64_t t = 0; t < T; t++) {
            int64_t i = r * T + t, nm = ids[i] != b->pad;
            run += nm;
            pos[i] = b->roberta ? (run + past) * nm + b->pad : past + t;
        }
    }
}

static int64_t bert_max_positions(const am_model *m) {
    const bert_impl *b = m->impl;
    int64_t P = am__mod_tensor(b->emb.pos, "weight")->shape[0];
    return b->roberta ? P - b->pad - 1 : P;
}
static int64_t bert_vocab(const am_model *m) { return am__module_find_param(((const bert_impl *)m->impl)->mlm_decoder, "weight")->shape[0]; }
static am_status bert_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    return am__stack_cache_new(&((const bert_impl *)m->impl)->enc, B, cap, out);
}
static am_status bert_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                           const uint8_t *mask, int64_t mstride, float *logits) {
    (void)enc;
    (void)pos; /* the embeddings count positions themselves */
    bert_impl *b = m->impl;
    am__fwd cx = am__fwd_begin(m);
    float *last = NULL, *t1 = malloc((size_t)(B * b->enc.H) * sizeof(float));
    int64_t *pv = malloc((size_t)(B * T) * sizeof(int64_t));
    am_status s = t1 && pv ? AM_OK : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    if (s == AM_OK) {
        step_positions(b, ids, B, T, cache->len, pv);
        s = am__step_last(&cx, &b->emb, &b->enc, B, T, ids, pv, mask, mstride, cache, NULL, &last);
    }
    if (s == AM_OK) s = am__transform_fwd(b->mlm_dense, b->mlm_act, &(am__norm){b->mlm_ln, AM__NORM_LAYER, b->eps}, B, last, t1);
    if (s == AM_OK) s = am__linear_fwd(b->mlm_decoder, B, t1, logits);
    free(last);
    free(t1);
    free(pv);
    return s;
}
static const am__gen_ops k_bert_gen = {false, bert_max_positions, bert_vocab, bert_cache_new, NULL, NULL, bert_step};

/* ---- builders ---- */

static am_status build_family(am_model *m, bool roberta) {
    const am_config *c = m->config;
    const char *P = roberta ? "Roberta" : "Bert";
    bert_impl *b = calloc(1, sizeof *b);
    if (!b) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = b;
    m->impl_free = bert_impl_free;
    m->forward = bert_forward;
    m->input_names = k_bert_inputs;
    m->describe = bert_describe;
    b->roberta = roberta;
    am_task task = m->spec->task;
    int64_t H = am__config_int(c, "hidden_size", 768), V = am__config_int(c, "vocab_size", 30522);
    int64_t P_ = am__config_int(c, "max_position_embeddings", 512), TV = am__config_int(c, "type_vocab_size", 2);
    int64_t pad = am__config_int(c, "pad_token_id", roberta ? 1 : 0);
    double eps = am__config_float(c, "layer_norm_eps", 1e-12), hp = am__config_float(c, "hidden_dropout_prob", 0.1);
    const char *pet = am__config_str(c, "position_embedding_type", "absolute");
    if (strcmp(pet, "absolute"))
        return am__error(AM_ERR_UNSUPPORTED, "config: position_embedding_type \"%s\" is not supported (only \"absolute\")", pet);
    if (V <= 0 || P_ <= 0 || TV <= 0 || H <= 0) return am__error(AM_ERR_FORMAT, "config: vocab_size, max_position_embeddings, type_vocab_size and hidden_size must be positive");
    if (am__config_bool(c, "add_cross_attention", false))
        return am__error(AM_ERR_UNSUPPORTED, "config: %s with cross-attention (add_cross_attention) is not supported", P);
    b->pad = pad;
    char n[128];
    am__module *root = m->root;
    am__module *base = root;
    bool head = task != AM_TASK_BASE;
    snprintf(n, sizeof n, "%sModel", P);
    if (head) base = am__module_new(root, roberta ? "roberta" : "bert", n);
    snprintf(n, sizeof n, "%sEmbeddings", P);
    am__module *emb = am__module_new(base, "embeddings", n);
    b->eps = eps;
    b->emb.word = am__nn_embedding(emb, "word_embeddings", V, H, pad);
    b->emb.pos = am__nn_embedding(emb, "position_embeddings", P_, H, roberta ? pad : -1);
    b->emb.type = am__nn_embedding(emb, "token_type_embeddings", TV, H, -1);
    b->emb.norm = (am__norm){am__nn_layernorm(emb, "LayerNorm", H, eps), AM__NORM_LAYER, eps};
    b->emb.drop = (am__drop){am__nn_dropout(emb, "dropout", hp), 0};
    int64_t bs[2] = {1, P_};
    am__module_buffer(emb, "position_ids", AM_I64, 2, bs, false)->init = AM_INIT_ARANGE;
    am__module_buffer(emb, "token_type_ids", AM_I64, 2, bs, false);
    am_status s = bert_encoder_build(m, base, P, &b->enc);
    if (s != AM_OK) return s;
    b->enc.causal = am__config_bool(c, "is_decoder", false); /* BertLMHeadModel / RobertaForCausalLM */
    bool pooler = task == AM_TASK_BASE || (task == AM_TASK_SEQUENCE_CLASSIFICATION && !roberta);
    if (pooler) {
        snprintf(n, sizeof n, "%sPooler", P);
        b->pooler = am__module_new(base, "pooler", n);
        am__nn_linear(b->pooler, "dense", H, H, true);
        am__nn_leaf(b->pooler, "activation", "Tanh");
    }
    double cd = am__config_is_null(c, "classifier_dropout") ? hp : am__config_float(c, "classifier_dropout", hp);
    int64_t L = am_config_num_labels(c);
    const char *wprefix = roberta ? "roberta" : "bert";
    char tgt[256], al[256];
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_SEQUENCE_CLASSIFICATION:
        if (roberta) {
            am__module *ch = am__module_new(root, "classifier", "RobertaClassificationHead");
            b->cls_dense = am__nn_linear(ch, "dense", H, H, true);
            b->cls_drop = (am__drop){am__nn_dropout(ch, "dropout", cd), 0};
            b->classifier = am__nn_linear(ch, "out_proj", H, L, true);
        } else {
            b->cls_drop = (am__drop){am__nn_dropout(root, "dropout", cd), 0};
            b->classifier = am__nn_linear(root, "classifier", H, L, true);
        }
        break;
    case AM_TASK_TOKEN_CLASSIFICATION:
        b->cls_drop = (am__drop){am__nn_dropout(root, "dropout", cd), 0};
        b->classifier = am__nn_linear(root, "classifier", H, L, true);
        break;
    case AM_TASK_QUESTION_ANSWERING: b->qa = am__nn_linear(root, "qa_outputs", H, L, true); break;
    case AM_TASK_CAUSAL_LM: /* the MLM head under a causal mask */
        m->gen = &k_bert_gen;
        /* fall through */
    case AM_TASK_MASKED_LM: {
        const char *act = roberta ? "gelu" : am__config_str(c, "hidden_act", "gelu");
        const char *act_cls;
        if (!am__act_parse(act, &b->mlm_act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not supported", act);
        am__module *ph;
        if (roberta) {
            ph = am__module_new(root, "lm_head", "RobertaLMHead");
            am__module_param(ph, "bias", 1, &V, AM_INIT_ZEROS);
            b->mlm_dense = am__nn_linear(ph, "dense", H, H, true);
            b->mlm_ln = am__nn_layernorm(ph, "layer_norm", H, eps);
            b->mlm_decoder = am__nn_linear(ph, "decoder", H, V, true);
            am__model_tie(m, "lm_head.decoder.bias", "lm_head.bias");
            snprintf(al, sizeof al, "lm_head.decoder.weight");
        } else {
            am__module *cls = am__module_new(root, "cls", "BertOnlyMLMHead");
            ph = am__module_new(cls, "predictions", "BertLMPredictionHead");
            am__module_param(ph, "bias", 1, &V, AM_INIT_ZEROS);
            am__module *tr = am__module_new(ph, "transform", "BertPredictionHeadTransform");
            b->mlm_dense = am__nn_linear(tr, "dense", H, H, true);
            am__nn_leaf(tr, "transform_act_fn", act_cls);
            b->mlm_ln = am__nn_layernorm(tr, "LayerNorm", H, eps);
            b->mlm_decoder = am__nn_linear(ph, "decoder", H, V, true);
            am__model_tie(m, "cls.predictions.decoder.bias", "cls.predictions.bias");
            snprintf(al, sizeof al, "cls.predictions.decoder.weight");
        }
        if (am__config_bool(c, "tie_word_embeddings", true)) {
            snprintf(tgt, sizeof tgt, "%s.embeddings.word_embeddings.weight", wprefix);
            am__model_tie(m, al, tgt);
        }
        break;
    }
    default: return am__error(AM_ERR_UNSUPPORTED, "%s has no head for task %s", P, am_task_name(task));
    }
    return AM_OK;
}

am_status am__bert_build(am_model *m) { return build_family(m, false); }
am_status am__roberta_build(am_model *m) { return build_family(m, true); }

const am__config_default am__roberta_defaults[] = {
    {"vocab_size", "50265"}, {"hidden_size", "768"}, {"num_hidden_layers", "12"}, {"num_attention_heads", "12"},
    {"intermediate_size", "3072"}, {"hidden_act", "\"gelu\""}, {"hidden_dropout_prob", "0.1"},
    {"attention_probs_dropout_prob", "0.1"}, {"max_position_embeddings", "512"}, {"type_vocab_size", "2"},
    {"initializer_range", "0.02"}, {"layer_norm_eps", "1e-12"}, {"pad_token_id", "1"}, {"bos_token_id", "0"},
    {"eos_token_id", "2"}, {"position_embedding_type", "\"absolute\""}, {"use_cache", "true"},
    {"classifier_dropout", "null"}, {NULL, NULL}};
