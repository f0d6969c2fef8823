/* models/bert.c — BERT (modeling_bert.py): embeddings, the post-LN encoder, pooler and the heads
 * BertModel, ForSequenceClassification, ForTokenClassification, ForQuestionAnswering, ForMaskedLM. */
#include "models/bert.h"
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
    am__module *word, *pos, *type, *emb_ln;
    am__bert_encoder enc;
    am__module *pooler;     /* NULL without pooling layer */
    am__module *classifier; /* seqcls / tokcls */
    am__module *qa;
    am__module *mlm_dense, *mlm_ln, *mlm_decoder;
    am__act mlm_act;
    int64_t pad;
    bool roberta;
    am__module *rob_dense, *rob_out; /* RobertaClassificationHead */
    am__module *emb_drop, *cls_drop, *rob_drop;
} bert_impl;

static am_status check_dims(am_model *m, int64_t H, int64_t heads) {
    if (H <= 0 || heads <= 0 || H % heads)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)H,
                         (long long)heads);
    (void)m;
    return AM_OK;
}

am_status am__bert_encoder_build(am_model *m, am__module *parent, const char *prefix, am__bert_encoder *enc) {
    const am_config *c = m->config;
    enc->H = am__config_int(c, "hidden_size", 768);
    enc->heads = am__config_int(c, "num_attention_heads", 12);
    enc->layers = am__config_int(c, "num_hidden_layers", 12);
    enc->inter = am__config_int(c, "intermediate_size", 3072);
    enc->eps = am__config_float(c, "layer_norm_eps", 1e-12);
    am_status s = check_dims(m, enc->H, enc->heads);
    if (s != AM_OK) return s;
    if (enc->layers < 0 || enc->layers > 100000 || enc->inter <= 0)
        return am__error(AM_ERR_FORMAT, "config: num_hidden_layers/intermediate_size out of range");
    const char *act = am__config_str(c, "hidden_act", "gelu");
    const char *act_cls;
    if (!am__act_parse(act, &enc->act, &act_cls))
        return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    double hp = am__config_float(c, "hidden_dropout_prob", 0.1), ap = am__config_float(c, "attention_probs_dropout_prob", 0.1);
    char n[128];
    snprintf(n, sizeof n, "%sEncoder", prefix);
    am__module *encm = am__module_new(parent, "encoder", n);
    am__module *list = am__module_new(encm, "layer", "ModuleList");
    enc->layer = calloc((size_t)(enc->layers ? enc->layers : 1), sizeof *enc->layer);
    if (!enc->layer) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < enc->layers; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        snprintf(n, sizeof n, "%sLayer", prefix);
        am__module *L = am__module_new(list, idx, n);
        snprintf(n, sizeof n, "%sAttention", prefix);
        am__module *att = am__module_new(L, "attention", n);
        snprintf(n, sizeof n, "%sSelfAttention", prefix);
        am__module *self = am__module_new(att, "self", n);
        am__bert_layer *l = &enc->layer[i];
        l->q = am__nn_linear(self, "query", enc->H, enc->H, true);
        l->k = am__nn_linear(self, "key", enc->H, enc->H, true);
        l->v = am__nn_linear(self, "value", enc->H, enc->H, true);
        l->probs_drop = am__nn_dropout(self, "dropout", ap);
        snprintf(n, sizeof n, "%sSelfOutput", prefix);
        am__module *so = am__module_new(att, "output", n);
        l->attn_out = am__nn_linear(so, "dense", enc->H, enc->H, true);
        l->attn_ln = am__nn_layernorm(so, "LayerNorm", enc->H, enc->eps);
        l->so_drop = am__nn_dropout(so, "dropout", hp);
        snprintf(n, sizeof n, "%sIntermediate", prefix);
        am__module *im = am__module_new(L, "intermediate", n);
        l->inter = am__nn_linear(im, "dense", enc->H, enc->inter, true);
        am__nn_leaf(im, "intermediate_act_fn", act_cls);
        snprintf(n, sizeof n, "%sOutput", prefix);
        am__module *om = am__module_new(L, "output", n);
        l->out = am__nn_linear(om, "dense", enc->inter, enc->H, true);
        l->out_ln = am__nn_layernorm(om, "LayerNorm", enc->H, enc->eps);
        l->out_drop = am__nn_dropout(om, "dropout", hp);
    }
    return AM_OK;
}

static am_status put_hidden(am_tensors *out, int idx, int64_t B, int64_t T, int64_t H, const float *x) {
    char name[64];
    snprintf(name, sizeof name, "hidden_states.%d", idx);
    int64_t shape[3] = {B, T, H};
    return am__put_output(out, name, 3, shape, x);
}

am_status am__bert_encoder_forward(am_model *m, const am__bert_encoder *enc, int64_t B, int64_t T, float *x, const float *mask_add, am_tensors *out,
                                   bool output_hidden_states) {
    int64_t H = enc->H, M = B * T, D = H / enc->heads;
    float *q = malloc((size_t)(M * H) * sizeof(float)), *k = malloc((size_t)(M * H) * sizeof(float));
    float *v = malloc((size_t)(M * H) * sizeof(float)), *ctx = malloc((size_t)(M * H) * sizeof(float));
    float *a = malloc((size_t)(M * H) * sizeof(float)), *inter = malloc((size_t)(M * enc->inter) * sizeof(float));
    am_status s = AM_OK;
    if (!q || !k || !v || !ctx || !a || !inter) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK && output_hidden_states) s = put_hidden(out, 0, B, T, H, x);
    for (int64_t li = 0; s == AM_OK && li < enc->layers; li++) {
        const am__bert_layer *l = &enc->layer[li];
        am__linear_fwd(l->q, M, x, q);
        am__linear_fwd(l->k, M, x, k);
        am__linear_fwd(l->v, M, x, v);
        am__attn_args at = am__attn_packed(B, T, T, enc->heads, enc->heads, D, q, H, k, v, H, ctx, H);
        at.mask_add = mask_add, at.scale = 1.0f / sqrtf((float)D), at.dropout_p = am__dropout_p(l->probs_drop), at.seed = am__dropout_seed(m);
        if ((s = am__attend(m, AM__ATTN_SELF, &at)) != AM_OK) break;
        am__linear_fwd(l->attn_out, M, ctx, a);
        am__dropout_fwd(m, l->so_drop, M * H, a);
        for (int64_t i = 0; i < M * H; i++) a[i] += x[i];
        am__layernorm_fwd(l->attn_ln, M, a, a, enc->eps);
        am__linear_fwd(l->inter, M, a, inter);
        am__act_f32(enc->act, M * enc->inter, inter);
        am__linear_fwd(l->out, M, inter, x);
        am__dropout_fwd(m, l->out_drop, M * H, x);
        for (int64_t i = 0; i < M * H; i++) x[i] += a[i];
        am__layernorm_fwd(l->out_ln, M, x, x, enc->eps);
        if (output_hidden_states) s = put_hidden(out, (int)li + 1, B, T, H, x);
    }
    free(q);
    free(k);
    free(v);
    free(ctx);
    free(a);
    free(inter);
    return s;
}

am_status am__token_head_forward(const am__module *classifier, int64_t B, int64_t T, const float *h, am_tensors *out) {
    am__param *w = am__module_find_param(classifier, "weight");
    int64_t L = w->shape[0];
    float *logits = malloc((size_t)(B * T * L) * sizeof(float));
    if (!logits) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    am__linear_fwd(classifier, B * T, h, logits);
    int64_t shape[3] = {B, T, L};
    am_status s = am__put_output(out, "logits", 3, shape, logits);
    free(logits);
    return s;
}

am_status am__qa_head_forward(const am__module *qa, int64_t B, int64_t T, const float *h, am_tensors *out) {
    am__param *w = am__module_find_param(qa, "weight");
    int64_t L = w->shape[0];
    if (L != 2) return am__error(AM_ERR_FORMAT, "question answering needs num_labels == 2 (start, end), the qa_outputs layer has %lld", (long long)L);
    float *logits = malloc((size_t)(B * T * 2) * sizeof(float));
    float *se = malloc((size_t)(B * T * 2) * sizeof(float));
    if (!logits || !se) {
        free(logits);
        free(se);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    }
    am__linear_fwd(qa, B * T, h, logits);
    for (int64_t i = 0; i < B * T; i++) {
        se[i] = logits[2 * i];
        se[B * T + i] = logits[2 * i + 1];
    }
    int64_t shape[2] = {B, T};
    am_status s = am__put_output(out, "start_logits", 2, shape, se);
    if (s == AM_OK) s = am__put_output(out, "end_logits", 2, shape, se + B * T);
    free(logits);
    free(se);
    return s;
}

static void bert_impl_free(void *p) {
    bert_impl *b = p;
    if (!b) return;
    free(b->enc.layer);
    free(b);
}

/* Embeddings + encoder (+ pooler). Returns hidden [B*T, H] (owned) and pooled [B, H] when pooler. */
static am_status bert_base_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out, float **hidden_out,
                                   float **pooled_out, int64_t *Bp, int64_t *Tp, bool emit_base_outputs) {
    bert_impl *b = m->impl;
    int64_t B = -1, T = -1, H = b->enc.H;
    am_tensor *ids = am__input_ids(in, "input_ids", &B, &T, true);
    if (!ids) return AM_ERR_INVALID_ARGUMENT;
    if (T == 0 || B == 0) {
        am_tensor_free(ids);
        return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids is empty");
    }
    am_tensor *mask = NULL, *tt = NULL, *pos = NULL;
    am_status s = am__opt_input(in, "attention_mask", &B, &T, &mask);
    if (s == AM_OK) s = am__opt_input(in, "token_type_ids", &B, &T, &tt);
    if (s == AM_OK) s = am__opt_input(in, "position_ids", &B, &T, &pos);
    am__param *wp = am__module_find_param(b->word, "weight"), *pp = am__module_find_param(b->pos, "weight"),
              *tp = am__module_find_param(b->type, "weight");
    int64_t V = wp->shape[0], P = pp->shape[0], TV = tp->shape[0];
    const int64_t *idv = ids->data;
    int64_t *posv = malloc((size_t)(B * T) * sizeof(int64_t));
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *rowbuf = malloc((size_t)H * sizeof(float));
    if (s == AM_OK && (!posv || !x || !rowbuf)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    for (int64_t bi = 0; s == AM_OK && bi < B; bi++) {
        int64_t run = 0;
        for (int64_t t = 0; t < T; t++) {
            int64_t i = bi * T + t;
            if (pos) posv[i] = ((const int64_t *)pos->data)[i];
            else if (b->roberta) { /* create_position_ids_from_input_ids */
                int64_t nm = idv[i] != b->pad;
                run += nm;
                posv[i] = run * nm + b->pad;
            } else posv[i] = t;
        }
    }
    for (int64_t i = 0; s == AM_OK && i < B * T; i++) {
        int64_t id = idv[i], ty = tt ? ((const int64_t *)tt->data)[i] : 0, p = posv[i];
        if (id < 0 || id >= V) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_ids contains %lld, outside the vocabulary [0, %lld)", (long long)id, (long long)V);
        else if (ty < 0 || ty >= TV)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: token_type_ids contains %lld, outside [0, %lld)", (long long)ty, (long long)TV);
        else if (p < 0 || p >= P)
            s = am__error(AM_ERR_INVALID_ARGUMENT,
                          "forward: position %lld is outside the position table (max_position_embeddings = %lld); the sequence is too long",
                          (long long)p, (long long)P);
        if (s != AM_OK) break;
        float *xr = x + i * H;
        am__row_f32(wp->t, id, xr);
        am__row_f32(tp->t, ty, rowbuf);
        for (int64_t h = 0; h < H; h++) xr[h] += rowbuf[h];
        am__row_f32(pp->t, p, rowbuf);
        for (int64_t h = 0; h < H; h++) xr[h] += rowbuf[h];
    }
    float *madd = NULL;
    if (s == AM_OK) {
        am__layernorm_fwd(b->emb_ln, B * T, x, x, b->enc.eps);
        madd = am__additive_mask(mask, B, T);
        am__dropout_fwd(m, b->emb_drop, B * T * H, x);
        s = am__bert_encoder_forward(m, &b->enc, B, T, x, madd, out, opts && opts->output_hidden_states);
    }
    if (s == AM_OK && emit_base_outputs) {
        int64_t shape[3] = {B, T, H};
        s = am__put_output(out, "last_hidden_state", 3, shape, x);
    }
    float *pooled = NULL;
    if (s == AM_OK && b->pooler) {
        float *first = malloc((size_t)(B * H) * sizeof(float));
        pooled = malloc((size_t)(B * H) * sizeof(float));
        if (!first || !pooled) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else {
            for (int64_t bi = 0; bi < B; bi++) memcpy(first + bi * H, x + bi * T * H, (size_t)H * sizeof(float));
            am__linear_fwd(am__module_child(b->pooler, "dense"), B, first, pooled);
            am__act_f32(AM_ACT_TANH, B * H, pooled);
            int64_t shape[2] = {B, H};
            if (emit_base_outputs) s = am__put_output(out, "pooler_output", 2, shape, pooled);
        }
        free(first);
    }
    free(madd);
    free(rowbuf);
    free(posv);
    am_tensor_free(ids);
    am_tensor_free(mask);
    am_tensor_free(tt);
    am_tensor_free(pos);
    if (s != AM_OK) {
        free(x);
        free(pooled);
        return s;
    }
    *pooled_out = pooled;
    *hidden_out = x;
    *Bp = B;
    *Tp = T;
    return AM_OK;
}

static am_status bert_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    bert_impl *b = m->impl;
    float *h = NULL, *pooled = NULL;
    int64_t B = 0, T = 0, H = b->enc.H;
    am_task task = m->spec->task;
    am_status s = bert_base_forward(m, in, opts, out, &h, &pooled, &B, &T, task == AM_TASK_BASE);
    if (s != AM_OK) return s;
    switch (task) {
    case AM_TASK_BASE: break;
    case AM_TASK_SEQUENCE_CLASSIFICATION: {
        am__param *w = am__module_find_param(b->roberta ? b->rob_out : b->classifier, "weight");
        int64_t L = w->shape[0];
        float *logits = malloc((size_t)(B * L) * sizeof(float)), *tmp = malloc((size_t)(B * H) * sizeof(float));
        float *first = malloc((size_t)(B * H) * sizeof(float));
        if (!logits || !tmp || !first) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else if (b->roberta) { /* RobertaClassificationHead on <s> */
            for (int64_t bi = 0; bi < B; bi++) memcpy(first + bi * H, h + bi * T * H, (size_t)H * sizeof(float));
            am__dropout_fwd(m, b->rob_drop, B * H, first);
            am__linear_fwd(b->rob_dense, B, first, tmp);
            am__act_f32(AM_ACT_TANH, B * H, tmp);
            am__dropout_fwd(m, b->rob_drop, B * H, tmp);
            am__linear_fwd(b->rob_out, B, tmp, logits);
        } else {
            am__dropout_fwd(m, b->cls_drop, B * H, pooled);
            am__linear_fwd(b->classifier, B, pooled, logits);
        }
        if (s == AM_OK) {
            int64_t shape[2] = {B, L};
            s = am__put_output(out, "logits", 2, shape, logits);
        }
        free(logits);
        free(tmp);
        free(first);
        break;
    }
    case AM_TASK_TOKEN_CLASSIFICATION:
        am__dropout_fwd(m, b->cls_drop, B * T * H, h);
        s = am__token_head_forward(b->classifier, B, T, h, out);
        break;
    case AM_TASK_QUESTION_ANSWERING: s = am__qa_head_forward(b->qa, B, T, h, out); break;
    case AM_TASK_MASKED_LM: {
        int64_t M = B * T;
        am__param *dw = am__module_find_param(b->mlm_decoder, "weight");
        int64_t V = dw->shape[0];
        float *t1 = malloc((size_t)(M * H) * sizeof(float)), *logits = malloc((size_t)(M * V) * sizeof(float));
        if (!t1 || !logits) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else {
            am__linear_fwd(b->mlm_dense, M, h, t1);
            am__act_f32(b->mlm_act, M * H, t1);
            am__layernorm_fwd(b->mlm_ln, M, t1, t1, b->enc.eps);
            am__linear_fwd(b->mlm_decoder, M, t1, logits);
            int64_t shape[3] = {B, T, V};
            s = am__put_output(out, "logits", 3, shape, logits);
        }
        free(t1);
        free(logits);
        break;
    }
    default: s = am__error(AM_ERR_UNSUPPORTED, "%s: task not supported", m->spec->class_name);
    }
    free(pooled);
    free(h);
    return s;
}

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
    if (am__config_bool(c, "is_decoder", false) || am__config_bool(c, "add_cross_attention", false))
        return am__error(AM_ERR_UNSUPPORTED, "config: %s as a decoder (is_decoder/add_cross_attention) is not supported", P);
    b->pad = pad;
    char n[128];
    snprintf(n, sizeof n, "%sForMaskedLM", P);
    am__module *root = m->root;
    am__module *base = root;
    bool head = task != AM_TASK_BASE;
    snprintf(n, sizeof n, "%sModel", P);
    if (head) base = am__module_new(root, roberta ? "roberta" : "bert", n);
    snprintf(n, sizeof n, "%sEmbeddings", P);
    am__module *emb = am__module_new(base, "embeddings", n);
    b->word = am__nn_embedding(emb, "word_embeddings", V, H, pad);
    b->pos = am__nn_embedding(emb, "position_embeddings", P_, H, roberta ? pad : -1);
    b->type = am__nn_embedding(emb, "token_type_embeddings", TV, H, -1);
    b->emb_ln = am__nn_layernorm(emb, "LayerNorm", H, eps);
    b->emb_drop = am__nn_dropout(emb, "dropout", hp);
    int64_t bs[2] = {1, P_};
    am__module_buffer(emb, "position_ids", AM_I64, 2, bs, false)->init = AM_INIT_ARANGE;
    am__module_buffer(emb, "token_type_ids", AM_I64, 2, bs, false);
    am_status s = am__bert_encoder_build(m, base, P, &b->enc);
    if (s != AM_OK) return s;
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
            b->rob_dense = am__nn_linear(ch, "dense", H, H, true);
            b->rob_drop = am__nn_dropout(ch, "dropout", cd);
            b->rob_out = am__nn_linear(ch, "out_proj", H, L, true);
        } else {
            b->cls_drop = am__nn_dropout(root, "dropout", cd);
            b->classifier = am__nn_linear(root, "classifier", H, L, true);
        }
        break;
    case AM_TASK_TOKEN_CLASSIFICATION:
        b->cls_drop = am__nn_dropout(root, "dropout", cd);
        b->classifier = am__nn_linear(root, "classifier", H, L, true);
        break;
    case AM_TASK_QUESTION_ANSWERING: b->qa = am__nn_linear(root, "qa_outputs", H, L, true); break;
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
