/* models/distilbert.c — DistilBERT (modeling_distilbert.py): embeddings without token types,
 * post-LN TransformerBlocks, and the Model / SequenceClassification / TokenClassification /
 * QuestionAnswering / MaskedLM heads. */
#include "core/error.h"
#include "models/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__distilbert_defaults[] = {
    {"vocab_size", "30522"}, {"max_position_embeddings", "512"}, {"sinusoidal_pos_embds", "false"}, {"n_layers", "6"},
    {"n_heads", "12"}, {"dim", "768"}, {"hidden_dim", "3072"}, {"dropout", "0.1"}, {"attention_dropout", "0.1"},
    {"activation", "\"gelu\""}, {"initializer_range", "0.02"}, {"qa_dropout", "0.1"}, {"seq_classif_dropout", "0.2"},
    {"pad_token_id", "0"}, {NULL, NULL}};

static const char *const k_inputs[] = {"input_ids", "attention_mask", NULL};

typedef struct {
    am__embed emb;
    am__stack st;
    am__act act;
    am__module *pre, *classifier, *qa, *vt, *vln, *vp;
    am__drop head_drop;
} dimpl;

static void dimpl_free(void *p) {
    dimpl *d = p;
    if (d) am__stack_free(&d->st);
    free(d);
}

static am_status dforward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    dimpl *d = m->impl;
    int64_t B = -1, T = -1, H = d->st.H;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true), *mask = NULL;
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    am_status s = B == 0 || T == 0 ? am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty") : AM_OK;
    if (s == AM_OK) s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    am__fwd cx = am__fwd_begin(m);
    float *x = NULL, *t1 = NULL, *first = NULL;
    if (s == AM_OK)
        s = am__encode(&cx, &d->emb, &d->st, B, T, ids->data, NULL, NULL, mask ? mask->data : NULL, opts && opts->output_hidden_states ? out : NULL,
                       "hidden_states", &x);
    int64_t M = B * T;
    if (s == AM_OK) switch (m->spec->task) {
        case AM_TASK_BASE: s = am__put_output(out, "last_hidden_state", 3, (int64_t[]){B, T, H}, x); break;
        case AM_TASK_SEQUENCE_CLASSIFICATION:
            first = am__gather_rows(x, B, T, H, NULL);
            t1 = malloc((size_t)(B * H) * sizeof(float));
            if (!first || !t1) {
                s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the classification head");
                break;
            }
            if ((s = am__transform_fwd(d->pre, AM_ACT_RELU, NULL, B, first, t1)) != AM_OK) break;
            am__drop_fwd(&cx, d->head_drop, B * H, t1);
            s = am__linear_output(d->classifier, B, 1, false, t1, out, "logits");
            break;
        case AM_TASK_TOKEN_CLASSIFICATION:
            am__drop_fwd(&cx, d->head_drop, M * H, x);
            s = am__linear_output(d->classifier, B, T, true, x, out, "logits");
            break;
        case AM_TASK_QUESTION_ANSWERING:
            am__drop_fwd(&cx, d->head_drop, M * H, x);
            s = am__qa_head_forward(d->qa, B, T, x, out);
            break;
        case AM_TASK_MASKED_LM:
            if (!(t1 = malloc((size_t)(M * H) * sizeof(float)))) {
                s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the LM head");
                break;
            }
            s = am__transform_fwd(d->vt, d->act, &(am__norm){d->vln, AM__NORM_LAYER, 1e-12}, M, x, t1);
            if (s == AM_OK) s = am__linear_output(d->vp, B, T, true, t1, out, "logits");
            break;
        default: s = am__error(AM_ERR_UNSUPPORTED, "%s: unsupported task", m->spec->class_name);
        }
    free(x);
    free(t1);
    free(first);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

static void ddescribe(const am_model *m, am__describe *d) {
    const dimpl *x = m->impl;
    *d = (am__describe){.emb = &x->emb, .stack = &x->st, .cls_dense = x->pre, .cls_act = AM_ACT_RELU, .classifier = x->classifier,
                        .qa = x->qa, .lm_dense = x->vt, .lm_decoder = x->vp, .lm_act = x->act, .lm_norm = {x->vln, AM__NORM_LAYER, 1e-12}};
}

am_status am__distilbert_build(am_model *m) {
    const am_config *c = m->config;
    dimpl *d = calloc(1, sizeof *d);
    if (!d) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = d;
    m->impl_free = dimpl_free;
    m->forward = dforward;
    m->describe = ddescribe;
    m->input_names = k_inputs;
    int64_t dim = am__config_int(c, "dim", 768), heads = am__config_int(c, "n_heads", 12), layers = am__config_int(c, "n_layers", 6);
    int64_t hidden = am__config_int(c, "hidden_dim", 3072);
    int64_t V = am__config_int(c, "vocab_size", 30522), P = am__config_int(c, "max_position_embeddings", 512);
    int64_t pad = am__config_int(c, "pad_token_id", 0);
    double dp = am__config_float(c, "dropout", 0.1), ap = am__config_float(c, "attention_dropout", 0.1);
    if (dim <= 0 || heads <= 0 || dim % heads)
        return am__error(AM_ERR_FORMAT, "config: dim (%lld) must be a positive multiple of n_heads (%lld)", (long long)dim, (long long)heads);
    if (V <= 0 || P <= 0 || hidden <= 0 || layers < 0 || layers > 100000)
        return am__error(AM_ERR_FORMAT, "config: vocab_size, max_position_embeddings, hidden_dim, n_layers out of range");
    const char *act = am__config_str(c, "activation", "gelu"), *act_cls;
    if (!am__act_parse(act, &d->act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: activation \"%s\" is not supported", act);
    am_task task = m->spec->task;
    am__module *root = m->root, *base = root;
    if (task == AM_TASK_MASKED_LM) am__nn_leaf(root, "activation", act_cls);
    if (task != AM_TASK_BASE) base = am__module_new(root, "distilbert", "DistilBertModel");
    am__module *emb = am__module_new(base, "embeddings", "Embeddings");
    d->emb.word = am__nn_embedding(emb, "word_embeddings", V, dim, pad);
    am__module *pos = am__nn_embedding(emb, "position_embeddings", P, dim, -1);
    d->emb.pos = pos;
    if (am__config_bool(c, "sinusoidal_pos_embds", false)) pos->params[0].trainable = false;
    d->emb.norm = (am__norm){am__nn_layernorm(emb, "LayerNorm", dim, 1e-12), AM__NORM_LAYER, 1e-12};
    d->emb.drop = (am__drop){am__nn_dropout(emb, "dropout", dp), 0};
    int64_t bs[2] = {1, P};
    am__module_buffer(emb, "position_ids", AM_I64, 2, bs, false)->init = AM_INIT_ARANGE;
    am__module *list = am__module_new(am__module_new(base, "transformer", "Transformer"), "layer", "ModuleList");
    am_status s = am__stack_alloc(&d->st, layers);
    if (s != AM_OK) return s;
    d->st.H = dim;
    for (int64_t i = 0; i < layers; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(list, idx, "TransformerBlock");
        am__module *att = am__module_new(L, "attention", "MultiHeadSelfAttention");
        am__layer *l = &d->st.layer[i];
        am__module *pd = am__nn_dropout(att, "dropout", ap);
        am__module *q = am__nn_linear(att, "q_lin", dim, dim, true), *k = am__nn_linear(att, "k_lin", dim, dim, true);
        am__module *v = am__nn_linear(att, "v_lin", dim, dim, true), *o = am__nn_linear(att, "out_lin", dim, dim, true);
        l->self = (am__attn){q, k, v, o, NULL, false, heads, heads, dim / heads, 1.0f / sqrtf((float)(dim / heads)), {pd, 0}};
        l->n_self = (am__norm){am__nn_layernorm(L, "sa_layer_norm", dim, 1e-12), AM__NORM_LAYER, 1e-12};
        am__module *ffn = am__module_new(L, "ffn", "FFN");
        l->d_mlp = (am__drop){am__nn_dropout(ffn, "dropout", dp), 0};
        am__module *lin1 = am__nn_linear(ffn, "lin1", dim, hidden, true), *lin2 = am__nn_linear(ffn, "lin2", hidden, dim, true);
        l->mlp = (am__mlp){lin1, NULL, lin2, false, hidden, d->act, {NULL, 0}};
        am__nn_leaf(ffn, "activation", act_cls);
        l->n_mlp = (am__norm){am__nn_layernorm(L, "output_layer_norm", dim, 1e-12), AM__NORM_LAYER, 1e-12};
    }
    int64_t NL = am_config_num_labels(c);
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_SEQUENCE_CLASSIFICATION:
        d->pre = am__nn_linear(root, "pre_classifier", dim, dim, true);
        d->classifier = am__nn_linear(root, "classifier", dim, NL, true);
        d->head_drop = (am__drop){am__nn_dropout(root, "dropout", am__config_float(c, "seq_classif_dropout", 0.2)), 0};
        break;
    case AM_TASK_TOKEN_CLASSIFICATION:
        d->head_drop = (am__drop){am__nn_dropout(root, "dropout", dp), 0};
        d->classifier = am__nn_linear(root, "classifier", dim, NL, true);
        break;
    case AM_TASK_QUESTION_ANSWERING:
        if (NL != 2) return am__error(AM_ERR_FORMAT, "config: num_labels should be 2 for DistilBertForQuestionAnswering, got %lld", (long long)NL);
        d->qa = am__nn_linear(root, "qa_outputs", dim, NL, true);
        d->head_drop = (am__drop){am__nn_dropout(root, "dropout", am__config_float(c, "qa_dropout", 0.1)), 0};
        break;
    case AM_TASK_MASKED_LM:
        d->vt = am__nn_linear(root, "vocab_transform", dim, dim, true);
        d->vln = am__nn_layernorm(root, "vocab_layer_norm", dim, 1e-12);
        d->vp = am__nn_linear(root, "vocab_projector", dim, V, true);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight");
        break;
    default: return am__error(AM_ERR_UNSUPPORTED, "DistilBERT has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}
