/* export/onnx_vision.c — the graphs of the vision models that do not fit export.c's ViT emitter,
 * written from the parts their forward runs (models/media.h, handed over by the describe hooks):
 * YOLOS (patch Conv, CLS + detection tokens, the position tables and the per-layer mid tables
 * resized bicubically to the image's patch grid as YolosEmbeddings / YolosEncoder do, the shared
 * stack layer by layer, the class MLP and the sigmoid box MLP) and SegFormer (overlapping patch
 * Convs + LayerNorm, efficient self-attention with the sequence-reduction Conv, Mix-FFN with the
 * depthwise Conv, per-stage LayerNorm back to NCHW, the all-MLP decode head with bilinear Resize,
 * 1x1 fuse, BatchNormalization, ReLU, 1x1 classifier). Input pixel_values [batch_size,
 * num_channels, height, width]: every size is read from Shape nodes, so other image sizes run. */
#include "export/onnx.h"
#include "core/error.h"
#include "models/media.h"
#include <math.h>
#include <stdint.h>

static am__ox_attr a_int(const char *n, int64_t v) { return (am__ox_attr){n, 2, v, 0, NULL, 0}; }
static am__ox_attr a_ints(const char *n, int k, const int64_t *v) { return (am__ox_attr){n, 7, 0, 0, v, k}; }
static am__ox_attr a_flt(const char *n, float f) { return (am__ox_attr){n, 1, 0, f, NULL, 0}; }
static const char *vec(am__ox *g, int n, const int64_t *v) { return am__ox_i64(g, n, v, false); }
static const char *transpose(am__ox *g, const char *x, int n, const int64_t *perm) {
    am__ox_attr a = a_ints("perm", n, perm);
    return am__ox_op(g, "Transpose", 1, &x, 1, &a, 1);
}
static const char *reshape(am__ox *g, const char *x, const char *shape) { return am__ox_2(g, "Reshape", x, shape); }
static const char *concat(am__ox *g, int n, const char *const *in, int64_t axis) {
    am__ox_attr a = a_int("axis", axis);
    return am__ox_op(g, "Concat", n, in, 1, &a, 1);
}
/* x[start:end] along axis (end INT64_MAX: to the end) */
static const char *slice(am__ox *g, const char *x, int64_t axis, int64_t start, int64_t end) {
    return am__ox_op(g, "Slice", 4, (const char *[]){x, vec(g, 1, &start), vec(g, 1, &end), vec(g, 1, &axis)}, 0, NULL, 1);
}
/* a Conv2d module: kernel k, stride s, symmetric padding p, groups */
static const char *conv2d(am__ox *g, const am__module *c, const char *x, int64_t k, int64_t s, int64_t p, int64_t groups) {
    am__ox_attr a[4] = {a_ints("kernel_shape", 2, (int64_t[]){k, k}), a_ints("strides", 2, (int64_t[]){s, s}), a_ints("pads", 4, (int64_t[]){p, p, p, p}),
                        a_int("group", groups)};
    const char *w = am__ox_weight(g, c, "weight");
    if (am__mod_tensor(c, "bias")) return am__ox_op(g, "Conv", 3, (const char *[]){x, w, am__ox_weight(g, c, "bias")}, 4, a, 1);
    return am__ox_op(g, "Conv", 2, (const char *[]){x, w}, 4, a, 1);
}
/* [B, C, h, w] -> token rows [B, h*w, C] */
static const char *tokens(am__ox *g, const char *x) { return transpose(g, reshape(g, x, vec(g, 3, (int64_t[]){0, 0, -1})), 3, (int64_t[]){0, 2, 1}); }
/* token rows [B, h*w, C] -> [B, C, h, w] with shape4 = [B, C, h, w] */
static const char *nchw(am__ox *g, const char *t, const char *shape4) { return reshape(g, transpose(g, t, 3, (int64_t[]){0, 2, 1}), shape4); }
/* shape4 [B, ., h, w] with the channel count replaced by C */
static const char *with_channels(am__ox *g, const char *shape4, int64_t C) {
    return concat(g, 3, (const char *[]){slice(g, shape4, 0, 0, 1), vec(g, 1, &C), slice(g, shape4, 0, 2, 4)}, 0);
}
/* Resize of an NCHW value to sizes [4] (F.interpolate to a size, align_corners=False) */
static const char *resize(am__ox *g, const char *x, const char *sizes, bool cubic) {
    am__ox_attr a[2] = {a_flt("cubic_coeff_a", -0.75f), a_int("exclude_outside", 0)};
    static const char *const str[] = {"coordinate_transformation_mode", "half_pixel", "mode", "cubic"};
    static const char *const str_lin[] = {"coordinate_transformation_mode", "half_pixel", "mode", "linear"};
    return am__ox_op_s(g, "Resize", 4, (const char *[]){x, "", "", sizes}, cubic ? 2 : 0, a, 2, cubic ? str : str_lin);
}
static int64_t rows_of(const am__module *lin) { return am__mod_tensor(lin, "weight")->shape[0]; }
static am__norm layer_norm(const am__module *m, double eps) { return (am__norm){m, AM__NORM_LAYER, eps}; }

/* ---- YOLOS ---- */

/* a position table [1, 1 + ph*pw + det, H] resized to the image's grid (grid = Shape of the patch
 * Conv's output [B, H, gh, gw]): [1, 1 + gh*gw + det, H] (InterpolateInitialPositionEmbeddings) */
static const char *yolos_positions(am__ox *g, const am__yolos *y, const char *table, const char *grid) {
    int64_t H = y->enc.H, ph = y->img_h / y->patch, pw = y->img_w / y->patch, np = ph * pw;
    const char *patch = transpose(g, slice(g, table, 1, 1, 1 + np), 3, (int64_t[]){0, 2, 1});
    patch = reshape(g, patch, vec(g, 4, (int64_t[]){1, H, ph, pw}));
    patch = resize(g, patch, concat(g, 2, (const char *[]){vec(g, 2, (int64_t[]){1, H}), slice(g, grid, 0, 2, 4)}, 0), true);
    patch = transpose(g, reshape(g, patch, vec(g, 3, (int64_t[]){1, H, -1})), 3, (int64_t[]){0, 2, 1});
    return concat(g, 3, (const char *[]){slice(g, table, 1, 0, 1), patch, slice(g, table, 1, 1 + np, INT64_MAX)}, 1);
}

/* YolosMLPPredictionHead: three Linear layers, ReLU between them */
static const char *mlp_head(am__ox *g, am__module *const *layers, const char *x) {
    x = am__ox_1(g, "Relu", am__ox_linear(g, layers[0], false, x));
    x = am__ox_1(g, "Relu", am__ox_linear(g, layers[1], false, x));
    return am__ox_linear(g, layers[2], false, x);
}

static void yolos_graph(am__ox *g, const am_model *m, const am__yolos *y) {
    static const char *const k_px[] = {"batch_size", "num_channels", "height", "width"};
    static const char *const k_seq[] = {"batch_size", "sequence_length", NULL}, *const k_b[] = {"batch_size", NULL};
    static const char *const k_det[] = {"batch_size", NULL, NULL};
    int64_t H = y->enc.H, nmid = y->mid && y->enc.n > 1 ? y->enc.n - 1 : 0;
    am__ox_io(g, false, "pixel_values", AM__OX_FLOAT, 4, k_px, NULL);
    const char *conv = conv2d(g, y->proj, "pixel_values", y->patch, y->patch, 0, 1), *grid = am__ox_1(g, "Shape", conv);
    const char *b11 = concat(g, 2, (const char *[]){slice(g, grid, 0, 0, 1), vec(g, 2, (int64_t[]){1, 1})}, 0);
    const char *bd1 = concat(g, 3, (const char *[]){slice(g, grid, 0, 0, 1), vec(g, 1, &y->det), vec(g, 1, (int64_t[]){1})}, 0);
    const char *cls = am__ox_2(g, "Expand", am__ox_weight(g, y->emb, "cls_token"), b11);
    const char *det = am__ox_2(g, "Expand", am__ox_weight(g, y->emb, "detection_tokens"), bd1);
    const char *x = concat(g, 3, (const char *[]){cls, tokens(g, conv), det}, 1);
    x = am__ox_2(g, "Add", x, yolos_positions(g, y, am__ox_weight(g, y->emb, "position_embeddings"), grid));
    const char *mid = nmid ? am__ox_weight(g, y->encoder, "mid_position_embeddings") : NULL; /* [layers-1, 1, seq, H] */
    /* YolosEncoder: each layer, then (all but the last) its resized mid position table */
    for (int64_t l = 0; l < y->enc.n && x; l++) {
        am__stack one = y->enc;
        one.n = 1;
        one.layer = &y->enc.layer[l];
        one.final_norm = (am__norm){0};
        x = am__ox_stack(g, &one, x, NULL, NULL);
        if (l < nmid) {
            am__ox_attr ax = a_int("axis", 0);
            const char *t = am__ox_op(g, "Gather", 2, (const char *[]){mid, am__ox_i64(g, 1, &l, true)}, 1, &ax, 1);
            x = am__ox_2(g, "Add", x, yolos_positions(g, y, t, grid));
        }
    }
    am__norm ln = layer_norm(y->ln, y->eps);
    const char *h = am__ox_norm(g, &ln, x);
    if (m->spec->task == AM_TASK_BASE) {
        am__ox_output_as(g, h, "last_hidden_state", 3, k_seq, (int64_t[]){0, 0, H});
        am__ox_attr ax = a_int("axis", 1);
        const char *first = am__ox_op(g, "Gather", 2, (const char *[]){h, am__ox_i64(g, 1, (int64_t[]){0}, true)}, 1, &ax, 1);
        am__ox_output_as(g, am__ox_1(g, "Tanh", am__ox_linear(g, am__module_child(y->pooler, "dense"), false, first)), "pooler_output", 2, k_b,
                         (int64_t[]){0, H});
        return;
    }
    /* the detection tokens are the sequence's last det rows */
    const char *dt = slice(g, h, 1, -y->det, INT64_MAX);
    am__ox_output_as(g, mlp_head(g, y->cls_head, dt), "logits", 3, k_det, (int64_t[]){0, y->det, rows_of(y->cls_head[2])});
    am__ox_output_as(g, am__ox_1(g, "Sigmoid", mlp_head(g, y->box_head, dt)), "pred_boxes", 3, k_det, (int64_t[]){0, y->det, 4});
}

/* ---- SegFormer ---- */

/* SegformerEfficientSelfAttention on token rows n1 [B, T, C]; keys and values from kv [B, S, C] */
static const char *seg_attention(am__ox *g, const am__seg_stage *st, const am__seg_block *bk, const char *n1, const char *kv) {
    int64_t heads = st->heads, D = st->C / heads;
    const char *split = vec(g, 4, (int64_t[]){0, 0, heads, D});
    const char *q = transpose(g, reshape(g, am__ox_linear(g, bk->q, false, n1), split), 4, (int64_t[]){0, 2, 1, 3});
    const char *k = transpose(g, reshape(g, am__ox_linear(g, bk->k, false, kv), split), 4, (int64_t[]){0, 2, 3, 1});
    const char *v = transpose(g, reshape(g, am__ox_linear(g, bk->v, false, kv), split), 4, (int64_t[]){0, 2, 1, 3});
    const char *sc = am__ox_2(g, "Mul", am__ox_2(g, "MatMul", q, k), am__ox_f32(g, 1.0f / sqrtf((float)D)));
    am__ox_attr ax = a_int("axis", -1);
    const char *p = am__ox_op(g, "Softmax", 1, &sc, 1, &ax, 1);
    const char *ctx = transpose(g, am__ox_2(g, "MatMul", p, v), 4, (int64_t[]){0, 2, 1, 3});
    return am__ox_linear(g, bk->o, false, reshape(g, ctx, vec(g, 3, (int64_t[]){0, 0, st->C})));
}

/* one SegformerLayer on token rows t [B, h*w, C] of a map with shape4 [B, C, h, w] */
static const char *seg_layer(am__ox *g, const am__segformer *si, const am__seg_stage *st, const am__seg_block *bk, const char *t, const char *shape4) {
    am__norm ln1 = layer_norm(bk->ln1, AM__SEG_LN_EPS), ln2 = layer_norm(bk->ln2, AM__SEG_LN_EPS);
    const char *n1 = am__ox_norm(g, &ln1, t), *kv = n1;
    if (bk->sr) { /* sequence reduction: Conv2d with kernel = stride = sr, then LayerNorm */
        am__norm srn = layer_norm(bk->sr_ln, AM__SEG_LN_EPS);
        kv = am__ox_norm(g, &srn, tokens(g, conv2d(g, bk->sr, nchw(g, n1, shape4), st->sr, st->sr, 0, 1)));
    }
    t = am__ox_2(g, "Add", t, seg_attention(g, st, bk, n1, kv));
    /* Mix-FFN: dense1, depthwise 3x3 Conv, act, dense2 */
    const char *f = am__ox_linear(g, bk->fc1, false, am__ox_norm(g, &ln2, t));
    f = tokens(g, conv2d(g, bk->dw, nchw(g, f, with_channels(g, shape4, st->inner)), 3, 1, 1, st->inner));
    f = am__ox_linear(g, bk->fc2, false, am__ox_act(g, si->act, f));
    return am__ox_2(g, "Add", t, f);
}

static void segformer_graph(am__ox *g, const am_model *m, const am__segformer *si) {
    static const char *const k_px[] = {"batch_size", "num_channels", "height", "width"};
    static const char *const k_out[] = {"batch_size", NULL, "out_height", "out_width"};
    am__ox_io(g, false, "pixel_values", AM__OX_FLOAT, 4, k_px, NULL);
    const char *x = "pixel_values", *rows[AM__SEG_MAX_STAGES] = {0}, *shapes[AM__SEG_MAX_STAGES] = {0};
    for (int64_t i = 0; i < si->nst && x; i++) {
        const am__seg_stage *st = &si->st[i];
        const char *y = conv2d(g, st->proj, x, st->patch, st->stride, st->patch / 2, 1), *shape4 = am__ox_1(g, "Shape", y);
        am__norm pln = layer_norm(st->proj_ln, AM__SEG_LN_EPS), sln = layer_norm(st->ln, AM__SEG_LN_EPS);
        const char *t = am__ox_norm(g, &pln, tokens(g, y));
        for (int64_t j = 0; j < st->nblocks && t; j++) t = seg_layer(g, si, st, &st->blk[j], t, shape4);
        rows[i] = am__ox_norm(g, &sln, t);
        shapes[i] = shape4;
        x = nchw(g, rows[i], shape4);
    }
    int64_t n = si->nst;
    if (m->spec->task == AM_TASK_BASE) {
        am__ox_output_as(g, x, "last_hidden_state", 4, k_out, (int64_t[]){0, si->st[n - 1].C, 0, 0});
        return;
    }
    /* SegformerDecodeHead: each stage to decoder_hidden_size, upsampled to stage 0's size, concatenated last stage first */
    int64_t Dd = rows_of(si->mlp[0]);
    const char *cat[AM__SEG_MAX_STAGES] = {0};
    const char *size0 = with_channels(g, shapes[0], Dd);
    for (int64_t i = 0; i < n; i++) {
        const char *e = nchw(g, am__ox_linear(g, si->mlp[i], false, rows[i]), with_channels(g, shapes[i], Dd));
        cat[n - 1 - i] = resize(g, e, size0, false);
    }
    const char *f = conv2d(g, si->fuse, concat(g, (int)n, cat, 1), 1, 1, 0, 1);
    am__ox_attr eps = a_flt("epsilon", 1e-5f);
    f = am__ox_op(g, "BatchNormalization", 5,
                  (const char *[]){f, am__ox_weight(g, si->bn, "weight"), am__ox_weight(g, si->bn, "bias"), am__ox_weight(g, si->bn, "running_mean"),
                                   am__ox_weight(g, si->bn, "running_var")},
                  1, &eps, 1);
    f = conv2d(g, si->cls, am__ox_1(g, "Relu", f), 1, 1, 0, 1);
    am__ox_output_as(g, f, "logits", 4, k_out, (int64_t[]){0, rows_of(si->cls), 0, 0});
}

void am__ox_vision_graph(am__ox *g, const am_model *m, const am__describe *d) {
    if (d->yolos) yolos_graph(g, m, d->yolos);
    else if (d->segformer) segformer_graph(g, m, d->segformer);
    else if (g->st == AM_OK) g->st = am__error(AM_ERR_INTERNAL, "export onnx: %s has no vision graph", m->spec->class_name);
}
