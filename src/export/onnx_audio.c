/* export/onnx_audio.c — the Wav2Vec2 graph from the parts its forward runs (models/media.h, handed
 * over by wav2vec2.c's describe hook): the conv feature encoder (GroupNorm on the first conv as
 * InstanceNormalization, or LayerNorm over channels on every conv), the feature projection, the
 * positional conv with weight_norm folded into a plain weight (am__w2v_pos_weight, the forward's
 * own fold) and the extra frame of an even kernel removed, the post-norm or stable-layer-norm
 * encoder on the shared stack emitter, and the heads: last_hidden_state, CTC logits, or the
 * classifier on the projector's mean over valid frames (optionally on the softmax-weighted sum of
 * the hidden states). With attention_mask, the valid frames come from the sample counts through
 * the conv length formula (_get_feat_extract_output_lengths, floor division in double precision)
 * and mask the positional conv's input, the attention and the pooling, as transformers does.
 * Inputs input_values [batch_size, sequence_length] (+ attention_mask): the number of samples is
 * dynamic, every length is read from Shape nodes. */
#include "export/onnx.h"
#include "core/error.h"
#include "models/media.h"
#include <stdint.h>
#include <stdlib.h>

enum { OX_DOUBLE = 11 };

static am__ox_attr a_int(const char *n, int64_t v) { return (am__ox_attr){n, 2, v, 0, NULL, 0}; }
static am__ox_attr a_ints(const char *n, int k, const int64_t *v) { return (am__ox_attr){n, 7, 0, 0, v, k}; }
static const char *vec(am__ox *g, int n, const int64_t *v) { return am__ox_i64(g, n, v, false); }
static const char *scalar(am__ox *g, int64_t v) { return am__ox_i64(g, 1, &v, true); }
static const char *transpose(am__ox *g, const char *x, int n, const int64_t *perm) {
    am__ox_attr a = a_ints("perm", n, perm);
    return am__ox_op(g, "Transpose", 1, &x, 1, &a, 1);
}
static const char *swap12(am__ox *g, const char *x) { return transpose(g, x, 3, (int64_t[]){0, 2, 1}); }
static const char *cast(am__ox *g, const char *x, int to) {
    am__ox_attr a = a_int("to", to);
    return am__ox_op(g, "Cast", 1, &x, 1, &a, 1);
}
static const char *reduce_sum(am__ox *g, const char *x, int64_t axis, bool keep) {
    am__ox_attr a = a_int("keepdims", keep);
    return am__ox_op(g, "ReduceSum", 2, (const char *[]){x, vec(g, 1, &axis)}, 1, &a, 1);
}
/* a Conv1d on [B, C, T]: kernel k, stride s, padding p, groups; w overrides the module's weight */
static const char *conv1d(am__ox *g, const am__module *c, const char *w, const char *x, int64_t k, int64_t s, int64_t p, int64_t groups) {
    am__ox_attr a[4] = {a_ints("kernel_shape", 1, &k), a_ints("strides", 1, &s), a_ints("pads", 2, (int64_t[]){p, p}), a_int("group", groups)};
    if (!w) w = am__ox_weight(g, c, "weight");
    if (am__mod_tensor(c, "bias")) return am__ox_op(g, "Conv", 3, (const char *[]){x, w, am__ox_weight(g, c, "bias")}, 4, a, 1);
    return am__ox_op(g, "Conv", 2, (const char *[]){x, w}, 4, a, 1);
}

/* Wav2Vec2FeatureEncoder: samples [B, L] -> frames [B, T, C] */
static const char *feature_encoder(am__ox *g, const am__wav2vec2 *w, const char *xv) {
    const char *x = am__ox_2(g, "Unsqueeze", xv, vec(g, 1, (int64_t[]){1})); /* [B, 1, L] */
    for (int64_t i = 0; i < w->nconv && x; i++) {
        const am__w2v_conv *cv = &w->conv[i];
        x = conv1d(g, cv->conv, NULL, x, cv->kernel, cv->stride, 0, 1);
        if (cv->norm && w->layer_norm_convs) { /* LayerNorm over the channels */
            am__norm n = {cv->norm, AM__NORM_LAYER, 1e-5};
            x = swap12(g, am__ox_norm(g, &n, swap12(g, x)));
        } else if (cv->norm) { /* GroupNorm(C, C): every channel of every row over time */
            am__ox_attr eps = {"epsilon", 1, 0, 1e-5f, NULL, 0};
            x = am__ox_op(g, "InstanceNormalization", 3, (const char *[]){x, am__ox_weight(g, cv->norm, "weight"), am__ox_weight(g, cv->norm, "bias")}, 1,
                          &eps, 1);
        }
        x = am__ox_act(g, w->feat_act, x);
    }
    return swap12(g, x);
}

/* _get_feature_vector_attention_mask: the int64 frame mask [B, T] of an attention_mask [B, L]
 * over the frames of x [B, T, .]: frames up to index (output length - 1), Python's indexing of
 * a negative index included */
static const char *frame_mask(am__ox *g, const am__wav2vec2 *w, const char *mask, const char *x) {
    const char *n = cast(g, reduce_sum(g, mask, 1, false), OX_DOUBLE); /* [B] samples */
    for (int64_t i = 0; i < w->nconv; i++) {
        const char *d = am__ox_2(g, "Sub", n, cast(g, scalar(g, w->conv[i].kernel), OX_DOUBLE));
        d = am__ox_1(g, "Floor", am__ox_2(g, "Div", d, cast(g, scalar(g, w->conv[i].stride), OX_DOUBLE)));
        n = am__ox_2(g, "Add", d, cast(g, scalar(g, 1), OX_DOUBLE));
    }
    const char *T = am__ox_2(g, "Gather", am__ox_1(g, "Shape", x), scalar(g, 1));
    const char *last = am__ox_2(g, "Sub", cast(g, n, AM__OX_INT64), scalar(g, 1));
    last = am__ox_op(g, "Where", 3, (const char *[]){am__ox_2(g, "Less", last, scalar(g, 0)), am__ox_2(g, "Add", last, T), last}, 0, NULL, 1);
    const char *t = am__ox_op(g, "Range", 3, (const char *[]){scalar(g, 0), T, scalar(g, 1)}, 0, NULL, 1);
    const char *keep = am__ox_2(g, "LessOrEqual", am__ox_2(g, "Unsqueeze", t, vec(g, 1, (int64_t[]){0})),
                                am__ox_2(g, "Unsqueeze", last, vec(g, 1, (int64_t[]){1})));
    return cast(g, keep, AM__OX_INT64);
}

/* Wav2Vec2PositionalConvEmbedding: x [B, T, H] + act(conv(x)) */
static const char *pos_conv(am__ox *g, const am__wav2vec2 *w, const char *x) {
    int64_t H = w->H, K = w->pos_k, CI = H / w->pos_groups;
    float *wt = malloc((size_t)(H * CI * K) * sizeof(float));
    if (!wt) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory for the positional convolution");
        return NULL;
    }
    am_status s = am__w2v_pos_weight(w, wt);
    const char *wc = s == AM_OK ? am__ox_f32s(g, H * CI * K, wt) : NULL;
    free(wt);
    if (s != AM_OK) {
        if (g->st == AM_OK) g->st = s;
        return NULL;
    }
    wc = am__ox_2(g, "Reshape", wc, vec(g, 3, (int64_t[]){H, CI, K}));
    const char *y = conv1d(g, w->pos_conv, wc, swap12(g, x), K, 1, K / 2, w->pos_groups);
    if (K % 2 == 0) /* Wav2Vec2SamePadLayer: the extra last frame goes */
        y = am__ox_op(g, "Slice", 4, (const char *[]){y, vec(g, 1, (int64_t[]){0}), vec(g, 1, (int64_t[]){-1}), vec(g, 1, (int64_t[]){2})}, 0, NULL, 1);
    return am__ox_2(g, "Add", x, swap12(g, am__ox_act(g, w->feat_act, y)));
}

void am__ox_audio_graph(am__ox *g, const am_model *m, const am__describe *d, bool with_mask) {
    static const char *const k_in[] = {"batch_size", "sequence_length"};
    static const char *const k_frames[] = {"batch_size", "num_frames", NULL}, *const k_b[] = {"batch_size", NULL};
    const am__wav2vec2 *w = d->wav2vec2;
    am_task task = m->spec->task;
    if (task != AM_TASK_BASE && task != AM_TASK_CTC && task != AM_TASK_AUDIO_CLASSIFICATION) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_UNSUPPORTED, "export onnx: %s: task %s is not exportable", m->spec->class_name, am_task_name(task));
        return;
    }
    am__ox_io(g, false, "input_values", AM__OX_FLOAT, 2, k_in, NULL);
    if (with_mask) am__ox_io(g, false, "attention_mask", AM__OX_INT64, 2, k_in, NULL);
    am__norm fp = {w->fp_ln, AM__NORM_LAYER, w->eps}, enc_ln = {w->enc_ln, AM__NORM_LAYER, w->eps};
    const char *feat = am__ox_norm(g, &fp, feature_encoder(g, w, "input_values"));
    const char *x = am__ox_linear(g, w->fp_proj, false, feat);
    const char *fm = with_mask ? frame_mask(g, w, "attention_mask", x) : NULL, *fmf = NULL;
    if (fm) { /* padded frames are zeroed before the positional convolution */
        fmf = am__ox_2(g, "Unsqueeze", cast(g, fm, AM__OX_FLOAT), vec(g, 1, (int64_t[]){2})); /* [B, T, 1] */
        x = am__ox_2(g, "Mul", x, fmf);
    }
    x = pos_conv(g, w, x);
    if (!w->stable) x = am__ox_norm(g, &enc_ln, x);
    const char *mask_add = fm ? am__ox_mask(g, fm, NULL, false) : NULL;
    /* layer by layer: the weighted layer sum reads every hidden state (hidden_states.0 .. .n) */
    int64_t n = w->enc.n;
    const char **hs = calloc((size_t)n + 1, sizeof *hs);
    if (!hs) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
        return;
    }
    am__stack one = w->enc;
    one.n = 1;
    one.final_norm = (am__norm){0};
    for (int64_t i = 0; i < n && x; i++) {
        hs[i] = x;
        one.layer = &w->enc.layer[i];
        x = am__ox_stack(g, &one, x, mask_add, NULL);
    }
    if (w->stable) x = am__ox_norm(g, &enc_ln, x);
    hs[n] = x;
    if (task == AM_TASK_BASE) am__ox_output_as(g, x, "last_hidden_state", 3, k_frames, (int64_t[]){0, 0, w->H});
    else if (task == AM_TASK_CTC)
        am__ox_output_as(g, am__ox_linear(g, w->lm_head, false, x), "logits", 3, k_frames,
                         (int64_t[]){0, 0, am__mod_tensor(w->lm_head, "weight")->shape[0]});
    else {
        const char *h = x;
        if (w->weighted) { /* softmax(layer_weights) . stack(hidden_states) */
            am__ox_attr ax0 = a_int("axis", 0);
            const char *lw = am__ox_weight(g, w->layer_weights_owner, "layer_weights");
            const char *p = am__ox_op(g, "Softmax", 1, &lw, 1, &ax0, 1);
            for (int64_t l = 0; l <= n; l++) {
                const char *t = am__ox_2(g, "Mul", hs[l], am__ox_op(g, "Gather", 2, (const char *[]){p, scalar(g, l)}, 1, &ax0, 1));
                h = l ? am__ox_2(g, "Add", h, t) : t;
            }
        }
        const char *pr = am__ox_linear(g, w->projector, false, h), *pooled;
        if (fmf) /* mean over the valid frames */
            pooled = am__ox_2(g, "Div", reduce_sum(g, am__ox_2(g, "Mul", pr, fmf), 1, false), reduce_sum(g, fmf, 1, false));
        else {
            am__ox_attr a[2] = {a_ints("axes", 1, (int64_t[]){1}), a_int("keepdims", 0)};
            pooled = am__ox_op(g, "ReduceMean", 1, &pr, 2, a, 1);
        }
        am__ox_output_as(g, am__ox_linear(g, w->classifier, false, pooled), "logits", 2, k_b,
                         (int64_t[]){0, am__mod_tensor(w->classifier, "weight")->shape[0]});
    }
    free(hs);
}
