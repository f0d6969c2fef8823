/* models/distilbert.c — DistilBERT (modeling_distilbert.py): embeddings without token types,
 * post-LN TransformerBlocks, and the Model / SequenceClassification / TokenClassification /
 * QuestionAnswering / MaskedLM heads. */
#include "core/error.h"
#include "models/bert.h"
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
    am__module *q, *k, *v, *o, *sa_ln, *lin1, *lin2, *out_ln, *probs_drop, *ffn_drop;
} dlayer;

typedef struct {
    int64_t dim, heads, layers, hidden;
    am__act act;
    am__module *word, *pos, *emb_ln;
    dlayer *layer;
    am__module *pre, *classifier, *qa, *vt, *vln, *vp, *emb_drop, *head_drop;
} dimpl;

static void dimpl_free(void *p) {
    dimpl *d = p;
    if (d) free(d->layer);
    free(d);
}

static am_status put_hidden(am_tensors *out, int idx, int64_t B, int64_t T, int64_t H, const float *x) {
    char name[64];
    snprintf(name, sizeof name, "hidden_states.%d", idx);
    int64_t shape[3] = {B, T, H};
    return am__put_output(out, name, 3, shape, x);
}

static am_status dforward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    dimpl *d = m->impl;
    int64_t B = -1, T = -1, H = d->dim;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true);
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    if (B == 0 || T == 0) {
        am_tensor_free(ids);
        return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty");
    }
    am_tensor *mask = NULL;
    am_status s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    am__param *wp = am__module_find_param(d->word, "weight"), *pp = am__module_find_param(d->pos, "weight");
    int64_t V = wp->shape[0], P = pp->shape[0], M = B * T, D = H / d->heads;
    if (s == AM_OK && T > P)
        s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: sequence length %lld exceeds max_position_embeddings (%lld)", (long long)T, (long long)P);
    float *x = malloc((size_t)(M * H) * sizeof(float)), *q = malloc((size_t)(M * H) * sizeof(float));
    float *k = malloc((size_t)(M * H) * sizeof(float)), *v = malloc((size_t)(M * H) * sizeof(float));
    float *ctx = malloc((size_t)(M * H) * sizeof(float)), *a = malloc((size_t)(M * H) * sizeof(float));
    float *f = malloc((size_t)(M * d->hidden) * sizeof(float));
    float *madd = am__additive_mask(mask, B, T);
    if (s == AM_OK && (!x || !q || !k || !v || !ctx || !a || !f || !madd)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    const int64_t *idv = ids->data;
    for (int64_t i = 0; s == AM_OK && i < M; i++) {
        int64_t id = idv[i], t = i % T;
        if (id < 0 || id >= V) {
            s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids contains %lld, outside the vocabulary [0, %lld)", (long long)id, (long long)V);
            break;
        }
        am__row_f32(wp->t, id, x + i * H);
        am__row_f32(pp->t, t, ctx);
        for (int64_t h = 0; h < H; h++) x[i * H + h] += ctx[h];
    }
    bool ohs = opts && opts->output_hidden_states;
    if (s == AM_OK) {
        am__layernorm_fwd(d->emb_ln, M, x, x, 1e-12);
        am__dropout_fwd(m, d->emb_drop, M * H, x);
        if (ohs) s = put_hidden(out, 0, B, T, H, x);
    }
    for (int64_t li = 0; s == AM_OK && li < d->layers; li++) {
        dlayer *l = &d->layer[li];
        am__linear_fwd(l->q, M, x, q);
        am__linear_fwd(l->k, M, x, k);
        am__linear_fwd(l->v, M, x, v);
        am__attn_args at = am__attn_packed(B, T, T, d->heads, d->heads, D, q, H, k, v, H, ctx, H);
        at.mask_add = madd, at.scale = 1.0f / sqrtf((float)D), at.dropout_p = am__dropout_p(l->probs_drop), at.seed = am__dropout_seed(m);
        if ((s = am__attend(m, AM__ATTN_SELF, &at)) != AM_OK) break;
        am__linear_fwd(l->o, M, ctx, a);
        for (int64_t i = 0; i < M * H; i++) a[i] += x[i];
        am__layernorm_fwd(l->sa_ln, M, a, a, 1e-12);
        am__linear_fwd(l->lin1, M, a, f);
        am__act_f32(d->act, M * d->hidden, f);
        am__linear_fwd(l->lin2, M, f, x);
        am__dropout_fwd(m, l->ffn_drop, M * H, x);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
        am__layernorm_fwd(l->out_ln, M, x, x, 1e-12);
        if (ohs) s = put_hidden(out, (int)li + 1, B, T, H, x);
    }
    am_task task = m->spec->task;
    if (s == AM_OK) switch (task) {
        case AM_TASK_BASE: {
            int64_t shape[3] = {B, T, H};
            s = am__put_output(out, "last_hidden_state", 3, shape, x);
            break;
        }
        case AM_TASK_SEQUENCE_CLASSIFICATION: {
            int64_t L = am__module_find_param(d->classifier, "weight")->shape[0];
            float *first = malloc((size_t)(B * H) * sizeof(float)), *pre = malloc((size_t)(B * H) * sizeof(float));
            float *logits = malloc((size_t)(B * L) * sizeof(float));
            if (!first || !pre || !logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            else {
                for (int64_t bi = 0; bi < B; bi++) memcpy(first + bi * H, x + bi * T * H, (size_t)H * sizeof(float));
                am__linear_fwd(d->pre, B, first, pre);
                am__act_f32(AM_ACT_RELU, B * H, pre);
                am__dropout_fwd(m, d->head_drop, B * H, pre);
                am__linear_fwd(d->classifier, B, pre, logits);
                int64_t shape[2] = {B, L};
                s = am__put_output(out, "logits", 2, shape, logits);
            }
            free(first);
            free(pre);
            free(logits);
            break;
        }
        case AM_TASK_TOKEN_CLASSIFICATION:
            am__dropout_fwd(m, d->head_drop, M * H, x);
            s = am__token_head_forward(d->classifier, B, T, x, out);
            break;
        case AM_TASK_QUESTION_ANSWERING:
            am__dropout_fwd(m, d->head_drop, M * H, x);
            s = am__qa_head_forward(d->qa, B, T, x, out);
            break;
        case AM_TASK_MASKED_LM: {
            int64_t VV = am__module_find_param(d->vp, "weight")->shape[0];
            float *logits = malloc((size_t)(M * VV) * sizeof(float));
            if (!logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            else {
                am__linear_fwd(d->vt, M, x, a);
                am__act_f32(d->act, M * H, a);
                am__layernorm_fwd(d->vln, M, a, a, 1e-12);
                am__linear_fwd(d->vp, M, a, logits);
                int64_t shape[3] = {B, T, VV};
                s = am__put_output(out, "logits", 3, shape, logits);
            }
            free(logits);
            break;
        }
        default: s = am__error(AM_ERR_UNSUPPORTED, "%s: unsupported task", m->spec->class_name);
        }
    free(x);
    free(q);
    free(k);
    free(v);
    free(ctx);
    free(a);
    free(f);
    free(madd);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

am_status am__distilbert_build(am_model *m) {
    const am_config *c = m->config;
    dimpl *d = calloc(1, sizeof *d);
    if (!d) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = d;
    m->impl_free = dimpl_free;
    m->forward = dforward;
    m->input_names = k_inputs;
    d->dim = am__config_int(c, "dim", 768);
    d->heads = am__config_int(c, "n_heads", 12);
    d->layers = am__config_int(c, "n_layers", 6);
    d->hidden = am__config_int(c, "hidden_dim", 3072);
    int64_t V = am__config_int(c, "vocab_size", 30522), P = am__config_int(c, "max_position_embeddings", 512);
    int64_t pad = am__config_int(c, "pad_token_id", 0);
    double dp = am__config_float(c, "dropout", 0.1), ap = am__config_float(c, "attention_dropout", 0.1);
    if (d->dim <= 0 || d->heads <= 0 || d->dim % d->heads)
        return am__error(AM_ERR_FORMAT, "config: dim (%lld) must be a positive multiple of n_heads (%lld)", (long long)d->dim, (long long)d->heads);
    if (V <= 0 || P <= 0 || d->hidden <= 0 || d->layers < 0 || d->layers > 100000)
        return am__error(AM_ERR_FORMAT, "config: vocab_size, max_position_embeddings, hidden_dim, n_layers out of range");
    const char *act = am__config_str(c, "activation", "gelu"), *act_cls;
    if (!am__act_parse(act, &d->act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: activation \"%s\" is not supported", act);
    am_task task = m->spec->task;
    am__module *root = m->root, *base = root;
    if (task == AM_TASK_MASKED_LM) am__nn_leaf(root, "activation", act_cls);
    if (task != AM_TASK_BASE) base = am__module_new(root, "distilbert", "DistilBertModel");
    am__module *emb = am__module_new(base, "embeddings", "Embeddings");
    d->word = am__nn_embedding(emb, "word_embeddings", V, d->dim, pad);
    d->pos = am__nn_embedding(emb, "position_embeddings", P, d->dim, -1);
    if (am__config_bool(c, "sinusoidal_pos_embds", false)) d->pos->params[0].trainable = false;
    d->emb_ln = am__nn_layernorm(emb, "LayerNorm", d->dim, 1e-12);
    d->emb_drop = am__nn_dropout(emb, "dropout", dp);
    int64_t bs[2] = {1, P};
    am__module_buffer(emb, "position_ids", AM_I64, 2, bs, false)->init = AM_INIT_ARANGE;
    am__module *tr = am__module_new(base, "transformer", "Transformer");
    am__module *list = am__module_new(tr, "layer", "ModuleList");
    d->layer = calloc((size_t)(d->layers ? d->layers : 1), sizeof *d->layer);
    if (!d->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < d->layers; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(list, idx, "TransformerBlock");
        am__module *att = am__module_new(L, "attention", "MultiHeadSelfAttention");
        dlayer *l = &d->layer[i];
        l->probs_drop = am__nn_dropout(att, "dropout", ap);
        l->q = am__nn_linear(att, "q_lin", d->dim, d->dim, true);
        l->k = am__nn_linear(att, "k_lin", d->dim, d->dim, true);
        l->v = am__nn_linear(att, "v_lin", d->dim, d->dim, true);
        l->o = am__nn_linear(att, "out_lin", d->dim, d->dim, true);
        l->sa_ln = am__nn_layernorm(L, "sa_layer_norm", d->dim, 1e-12);
        am__module *ffn = am__module_new(L, "ffn", "FFN");
        l->ffn_drop = am__nn_dropout(ffn, "dropout", dp);
        l->lin1 = am__nn_linear(ffn, "lin1", d->dim, d->hidden, true);
        l->lin2 = am__nn_linear(ffn, "lin2", d->hidden, d->dim, true);
        am__nn_leaf(ffn, "activation", act_cls);
        l->out_ln = am__nn_layernorm(L, "output_layer_norm", d->dim, 1e-12);
    }
    int64_t NL = am_config_num_labels(c);
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_SEQUENCE_CLASSIFICATION:
        d->pre = am__nn_linear(root, "pre_classifier", d->dim, d->dim, true);
        d->classifier = am__nn_linear(root, "classifier", d->dim, NL, true);
        d->head_drop = am__nn_dropout(root, "dropout", am__config_float(c, "seq_classif_dropout", 0.2));
        break;
    case AM_TASK_TOKEN_CLASSIFICATION:
        d->head_drop = am__nn_dropout(root, "dropout", dp);
        d->classifier = am__nn_linear(root, "classifier", d->dim, NL, true);
        break;
    case AM_TASK_QUESTION_ANSWERING:
        if (NL != 2) return am__error(AM_ERR_FORMAT, "config: num_labels should be 2 for DistilBertForQuestionAnswering, got %lld", (long long)NL);
        d->qa = am__nn_linear(root, "qa_outputs", d->dim, NL, true);
        d->head_drop = am__nn_dropout(root, "dropout", am__config_float(c, "qa_dropout", 0.1));
        break;
    case AM_TASK_MASKED_LM:
        d->vt = am__nn_linear(root, "vocab_transform", d->dim, d->dim, true);
        d->vln = am__nn_layernorm(root, "vocab_layer_norm", d->dim, 1e-12);
        d->vp = am__nn_linear(root, "vocab_projector", d->dim, V, true);
        if (am__config_bool(c, "tie_word_embeddings", true)) am__model_tie(m, "vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight");
        break;
    default: return am__error(AM_ERR_UNSUPPORTED, "DistilBERT has no head for task %s", am_task_name(task));
    }
    return AM_OK;
}
