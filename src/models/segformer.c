/* models/segformer.c — SegFormer (modeling_segformer.py): stages of overlapping patch embeddings
 * (Conv2d with padding), efficient self-attention whose keys and values come from a strided
 * Conv2d (sequence reduction) and a LayerNorm, Mix-FFN with a depthwise 3x3 Conv2d, a LayerNorm per
 * stage; SegformerModel, and SegformerForSemanticSegmentation's all-MLP decode head (per-stage
 * Linear, bilinear upsampling to the first stage, 1x1 fuse, BatchNorm in eval mode, ReLU, 1x1
 * classifier). Convolutions go to oneDNN (kernels/conv.c); attention to the shared kernel. */
#include "core/error.h"
#include "core/util.h"
#include "models/media.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__segformer_defaults[] = {
    {"num_channels", "3"}, {"num_encoder_blocks", "4"}, {"depths", "[2, 2, 2, 2]"}, {"sr_ratios", "[8, 4, 2, 1]"},
    {"hidden_sizes", "[32, 64, 160, 256]"}, {"patch_sizes", "[7, 3, 3, 3]"}, {"strides", "[4, 2, 2, 2]"},
    {"num_attention_heads", "[1, 2, 5, 8]"}, {"mlp_ratios", "[4, 4, 4, 4]"}, {"hidden_act", "\"gelu\""}, {"hidden_dropout_prob", "0.0"},
    {"attention_probs_dropout_prob", "0.0"}, {"classifier_dropout_prob", "0.1"}, {"initializer_range", "0.02"}, {"drop_path_rate", "0.1"},
    {"layer_norm_eps", "1e-06"}, {"decoder_hidden_size", "256"}, {"semantic_loss_ignore_index", "255"}, {"reshape_last_stage", "true"},
    {NULL, NULL}};

static const char *const k_seg_inputs[] = {"pixel_values", NULL};


static void seg_free(void *p) {
    am__segformer *s = p;
    if (!s) return;
    for (int64_t i = 0; i < AM__SEG_MAX_STAGES; i++) free(s->st[i].blk);
    free(s);
}

/* ---- forward ---- */

/* a Conv2d module on [B, C, H, W] (nchw) or token rows [B, H*W, C]; y token rows [B, OH*OW, O] */
static am_status conv(const am__module *m, int64_t B, int64_t C, int64_t H, int64_t W, const float *x, bool nchw, int64_t KH, int64_t S, int64_t P,
                      int64_t groups, float *y, int64_t *OH, int64_t *OW) {
    am__param *w = am__module_find_param(m, "weight"), *b = am__module_find_param(m, "bias");
    const float *wf = am__f32_cached(w->t), *bf = b ? am__f32_cached(b->t) : NULL;
    if (!wf || (b && !bf)) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for convolution weights");
    am__conv2d_f32(B, C, H, W, x, nchw, w->shape[0], groups, KH, KH, S, S, P, P, wf, bf, y, OH, OW);
    return AM_OK;
}

static float *fbuf(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

/* one SegformerLayer on token rows x [B, h*w, C] */
static am_status seg_layer(am_model *m, am__fwd *cx, const am__seg_stage *st, const am__seg_block *bk, int64_t B, int64_t h, int64_t w, float *x, am__segformer *si) {
    int64_t T = h * w, M = B * T, C = st->C, D = C / st->heads, rh = h, rw = w;
    float *n1 = fbuf(M * C), *q = fbuf(M * C), *red = NULL, *k = fbuf(M * C), *v = fbuf(M * C), *ctx = fbuf(M * C), *o = fbuf(M * C);
    float *f1 = fbuf(M * st->inner), *f2 = fbuf(M * st->inner);
    am_status s = n1 && q && k && v && ctx && o && f1 && f2 ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld tokens", (long long)M);
    if (s == AM_OK) s = am__layernorm_fwd(bk->ln1, M, x, n1, AM__SEG_LN_EPS);
    if (s == AM_OK) s = am__linear_fwd(bk->q, M, n1, q);
    const float *kv_in = n1;
    if (s == AM_OK && bk->sr) { /* sequence reduction: a Conv2d with kernel = stride = sr, then LayerNorm */
        if (!(red = fbuf(M * C))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        if (s == AM_OK) s = conv(bk->sr, B, C, h, w, n1, false, st->sr, st->sr, 0, 1, red, &rh, &rw);
        if (s == AM_OK) s = am__layernorm_fwd(bk->sr_ln, B * rh * rw, red, red, AM__SEG_LN_EPS);
        kv_in = red;
    }
    int64_t S = rh * rw;
    if (s == AM_OK && S <= 0) s = am__error(AM_ERR_SHAPE, "forward: the %lldx%lld feature map is smaller than the reduction ratio %lld", (long long)h, (long long)w, (long long)st->sr);
    if (s == AM_OK) s = am__linear_fwd(bk->k, B * S, kv_in, k);
    if (s == AM_OK) s = am__linear_fwd(bk->v, B * S, kv_in, v);
    if (s == AM_OK) {
        am__attn_args g = am__attn_packed(B, T, S, st->heads, st->heads, D, q, C, k, v, C, ctx, C);
        g.scale = 1.0f / sqrtf((float)D);
        g.dropout_p = am__drop_p(cx, bk->probs);
        g.seed = am__fwd_seed(cx);
        s = am__attend(m, AM__ATTN_SELF, &g);
    }
    if (s == AM_OK) s = am__linear_fwd(bk->o, M, ctx, o);
    if (s == AM_OK) {
        am__drop_fwd(cx, bk->d_attn, M * C, o);
        for (int64_t i = 0; i < M * C; i++) x[i] += o[i]; /* drop_path: identity in eval mode */
        s = am__layernorm_fwd(bk->ln2, M, x, n1, AM__SEG_LN_EPS);
    }
    /* Mix-FFN: dense1, depthwise 3x3, act, dropout, dense2, dropout */
    if (s == AM_OK) s = am__linear_fwd(bk->fc1, M, n1, f1);
    int64_t dh, dwd;
    if (s == AM_OK) s = conv(bk->dw, B, st->inner, h, w, f1, false, 3, 1, 1, st->inner, f2, &dh, &dwd);
    if (s == AM_OK) {
        am__act_f32(si->act, M * st->inner, f2);
        am__drop_fwd(cx, bk->d_mlp1, M * st->inner, f2);
        s = am__linear_fwd(bk->fc2, M, f2, o);
    }
    if (s == AM_OK) {
        am__drop_fwd(cx, bk->d_mlp2, M * C, o);
        for (int64_t i = 0; i < M * C; i++) x[i] += o[i];
    }
    free(n1), free(q), free(red), free(k), free(v), free(ctx), free(o), free(f1), free(f2);
    return s;
}

/* token rows [B, h*w, C] as an NCHW output [B, C, h, w] */
static am_status put_nchw(am_tensors *out, const char *name, int64_t B, int64_t h, int64_t w, int64_t C, const float *x) {
    float *t = fbuf(B * C * h * w);
    if (!t) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %s", name);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < h * w; i++)
            for (int64_t c = 0; c < C; c++) t[(b * C + c) * h * w + i] = x[(b * h * w + i) * C + c];
    am_status s = am__put_output(out, name, 4, (int64_t[]){B, C, h, w}, t);
    free(t);
    return s;
}

/* SegformerDecodeHead on the stage outputs (token rows) -> logits [B, labels, h0, w0] */
static am_status decode_head(am__fwd *cx, am__segformer *si, int64_t B, float *const *so, const int64_t *hh, const int64_t *ww, am_tensors *out) {
    int64_t n = si->nst, Dd = am__module_find_param(si->mlp[0], "weight")->shape[0], h0 = hh[0], w0 = ww[0], T0 = h0 * w0, M = B * T0;
    int64_t L = am__module_find_param(si->cls, "weight")->shape[0];
    float *cat = fbuf(M * n * Dd), *fused = fbuf(M * Dd), *logits = fbuf(M * L), *tmp = NULL;
    am_status s = cat && fused && logits ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the decode head");
    for (int64_t i = 0; s == AM_OK && i < n; i++) {
        int64_t Ti = hh[i] * ww[i];
        free(tmp);
        if (!(tmp = fbuf(B * Ti * Dd))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the decode head");
        if (s == AM_OK) s = am__linear_fwd(si->mlp[i], B * Ti, so[i], tmp);
        /* upsampled stage i goes to channel block n-1-i (torch.cat(all_hidden_states[::-1])) */
        float *up = fbuf(T0 * Dd);
        if (s == AM_OK && !up) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the decode head");
        for (int64_t b = 0; s == AM_OK && b < B; b++) {
            s = am__bilinear_hwc(hh[i], ww[i], Dd, tmp + b * Ti * Dd, h0, w0, up);
            for (int64_t t = 0; s == AM_OK && t < T0; t++) memcpy(cat + (b * T0 + t) * n * Dd + (n - 1 - i) * Dd, up + t * Dd, (size_t)Dd * sizeof(float));
        }
        free(up);
    }
    free(tmp);
    const float *fw = s == AM_OK ? am__f32_cached(am__module_find_param(si->fuse, "weight")->t) : NULL;
    if (s == AM_OK && !fw) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    if (s == AM_OK) am__linear_f32(M, Dd, n * Dd, cat, fw, NULL, fused); /* linear_fuse: a 1x1 Conv2d without bias */
    if (s == AM_OK) { /* BatchNorm2d in eval mode with its running statistics, then ReLU */
        const float *g = am__f32_cached(am__module_find_param(si->bn, "weight")->t), *bb = am__f32_cached(am__module_find_param(si->bn, "bias")->t);
        const float *mu = am__f32_cached(am__module_find_param(si->bn, "running_mean")->t), *var = am__f32_cached(am__module_find_param(si->bn, "running_var")->t);
        if (!g || !bb || !mu || !var) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        for (int64_t c = 0; s == AM_OK && c < Dd; c++) {
            float inv = 1.0f / sqrtf(var[c] + 1e-5f), a = g[c] * inv, beta = bb[c] - mu[c] * a;
            for (int64_t r = 0; r < M; r++) {
                float y = fused[r * Dd + c] * a + beta;
                fused[r * Dd + c] = y > 0 ? y : 0;
            }
        }
    }
    if (s == AM_OK) {
        am__drop_fwd(cx, si->cls_drop, M * Dd, fused);
        const float *cw = am__f32_cached(am__module_find_param(si->cls, "weight")->t), *cb = am__f32_cached(am__module_find_param(si->cls, "bias")->t);
        if (!cw || !cb) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        else am__linear_f32(M, L, Dd, fused, cw, cb, logits);
    }
    if (s == AM_OK) s = put_nchw(out, "logits", B, h0, w0, L, logits);
    free(cat), free(fused), free(logits);
    return s;
}

static am_status seg_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    am__segformer *si = m->impl;
    const am_tensor *pv = am_tensors_get(in, "pixel_values");
    if (!pv) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: missing required input 'pixel_values'");
    if (pv->ndim != 4 || pv->shape[1] != si->Cin || pv->shape[0] == 0)
        return am__error(AM_ERR_SHAPE, "forward: pixel_values must be [batch, %lld, height, width]", (long long)si->Cin);
    am_tensor *px = am__tensor_convert(pv, AM_F32);
    if (!px) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for pixel_values");
    am__fwd cx = am__fwd_begin(m);
    int64_t B = px->shape[0], C = si->Cin, h = px->shape[2], w = px->shape[3], hh[AM__SEG_MAX_STAGES], ww[AM__SEG_MAX_STAGES];
    float *so[AM__SEG_MAX_STAGES] = {0};
    const float *x = px->data;
    bool nchw = true, hs = opts && opts->output_hidden_states, cls = m->spec->task == AM_TASK_SEMANTIC_SEGMENTATION;
    am_status s = AM_OK;
    for (int64_t i = 0; s == AM_OK && i < si->nst; i++) {
        const am__seg_stage *st = &si->st[i];
        int64_t oh = (h + 2 * (st->patch / 2) - st->patch) / st->stride + 1, ow = (w + 2 * (st->patch / 2) - st->patch) / st->stride + 1;
        if (oh <= 0 || ow <= 0) {
            s = am__error(AM_ERR_SHAPE, "forward: the %lldx%lld input is too small for stage %lld", (long long)h, (long long)w, (long long)i);
            break;
        }
        if (!(so[i] = fbuf(B * oh * ow * st->C))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for stage %lld", (long long)i);
        if (s == AM_OK) s = conv(st->proj, B, C, h, w, x, nchw, st->patch, st->stride, st->patch / 2, 1, so[i], &oh, &ow);
        if (s == AM_OK) s = am__layernorm_fwd(st->proj_ln, B * oh * ow, so[i], so[i], AM__SEG_LN_EPS);
        for (int64_t j = 0; s == AM_OK && j < st->nblocks; j++) s = seg_layer(m, &cx, st, &st->blk[j], B, oh, ow, so[i], si);
        if (s == AM_OK) s = am__layernorm_fwd(st->ln, B * oh * ow, so[i], so[i], AM__SEG_LN_EPS);
        char name[64];
        snprintf(name, sizeof name, "hidden_states.%lld", (long long)i);
        if (s == AM_OK && hs) s = put_nchw(out, name, B, oh, ow, st->C, so[i]);
        x = so[i], nchw = false, C = st->C, h = oh, w = ow, hh[i] = oh, ww[i] = ow;
    }
    if (s == AM_OK && !cls) s = put_nchw(out, "last_hidden_state", B, h, w, C, so[si->nst - 1]);
    if (s == AM_OK && cls) s = decode_head(&cx, si, B, so, hh, ww, out);
    for (int64_t i = 0; i < si->nst; i++) free(so[i]);
    am_tensor_free(px);
    return s;
}

/* ---- builder ---- */

/* a list-valued config key of n positive integers */
static am_status int_list(const am_config *c, const char *key, int64_t n, int64_t *out) {
    const cJSON *v = am__config_value(c, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < n)
        return am__error(AM_ERR_FORMAT, "config: \"%s\" must be a list of %lld numbers (one per encoder block)", key, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, (int)i);
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1e6) return am__error(AM_ERR_FORMAT, "config: \"%s\"[%lld] must be a positive number", key, (long long)i);
        out[i] = (int64_t)e->valuedouble;
    }
    return AM_OK;
}

/* torch.linspace(0, rate, n) in float32, as SegformerEncoder's drop-path rates */
static float linspace_at(float rate, int64_t n, int64_t i) {
    if (n <= 1) return 0.0f;
    float step = rate / (float)(n - 1);
    return i < n / 2 ? step * (float)i : rate - step * (float)(n - i - 1);
}

static am__module *batchnorm2d(am__module *parent, const char *name, int64_t n) {
    am__module *m = am__module_new(parent, name, "BatchNorm2d");
    am__module_set_extra(m, "%lld, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True", (long long)n);
    am__module_param(m, "weight", 1, &n, AM_INIT_ONES);
    am__module_param(m, "bias", 1, &n, AM_INIT_ZEROS);
    am__module_buffer(m, "running_mean", AM_F32, 1, &n, true);
    am__module_buffer(m, "running_var", AM_F32, 1, &n, true)->init = AM_INIT_ONES;
    am__module_buffer(m, "num_batches_tracked", AM_I64, 0, &n, true);
    return m;
}

static void seg_describe(const am_model *m, am__describe *d) { *d = (am__describe){.segformer = m->impl}; }

am_status am__segformer_build(am_model *m) {
    const am_config *c = m->config;
    am__segformer *si = calloc(1, sizeof *si);
    if (!si) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = si;
    m->impl_free = seg_free;
    m->forward = seg_forward;
    m->describe = seg_describe;
    m->input_names = k_seg_inputs;
    am_task task = m->spec->task;
    if (task != AM_TASK_BASE && task != AM_TASK_SEMANTIC_SEGMENTATION)
        return am__error(AM_ERR_UNSUPPORTED, "SegFormer has no head for task %s", am_task_name(task));
    int64_t n = am__config_int(c, "num_encoder_blocks", 4);
    if (n < 1 || n > AM__SEG_MAX_STAGES) return am__error(AM_ERR_FORMAT, "config: num_encoder_blocks must be 1..%d", AM__SEG_MAX_STAGES);
    if (!am__config_bool(c, "reshape_last_stage", true)) return am__error(AM_ERR_UNSUPPORTED, "config: reshape_last_stage false is not supported");
    si->nst = n;
    si->Cin = am__config_int(c, "num_channels", 3);
    int64_t depths[AM__SEG_MAX_STAGES], sr[AM__SEG_MAX_STAGES], hid[AM__SEG_MAX_STAGES], ps[AM__SEG_MAX_STAGES], strides[AM__SEG_MAX_STAGES], heads[AM__SEG_MAX_STAGES], ratio[AM__SEG_MAX_STAGES];
    am_status s = int_list(c, "depths", n, depths);
    if (s == AM_OK) s = int_list(c, "sr_ratios", n, sr);
    if (s == AM_OK) s = int_list(c, "hidden_sizes", n, hid);
    if (s == AM_OK) s = int_list(c, "patch_sizes", n, ps);
    if (s == AM_OK) s = int_list(c, "strides", n, strides);
    if (s == AM_OK) s = int_list(c, "num_attention_heads", n, heads);
    if (s == AM_OK) s = int_list(c, "mlp_ratios", n, ratio);
    if (s != AM_OK) return s;
    if (si->Cin <= 0) return am__error(AM_ERR_FORMAT, "config: num_channels must be positive");
    const char *act = am__config_str(c, "hidden_act", "gelu"), *act_cls;
    if (!am__act_parse(act, &si->act, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    double hp = am__config_float(c, "hidden_dropout_prob", 0.0), ap = am__config_float(c, "attention_probs_dropout_prob", 0.0);
    float dpr = (float)am__config_float(c, "drop_path_rate", 0.1);
    int64_t total = 0, cur = 0;
    for (int64_t i = 0; i < n; i++) total += depths[i];
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "segformer", "SegformerModel");
    am__module *enc = am__module_new(base, "encoder", "SegformerEncoder");
    am__module *pel = am__module_new(enc, "patch_embeddings", "ModuleList"), *bl = am__module_new(enc, "block", "ModuleList");
    char idx[32], e[64];
    for (int64_t i = 0; i < n; i++) {
        am__seg_stage *st = &si->st[i];
        int64_t Cprev = i ? hid[i - 1] : si->Cin;
        *st = (am__seg_stage){.C = hid[i], .heads = heads[i], .sr = sr[i], .patch = ps[i], .stride = strides[i], .inner = hid[i] * ratio[i], .nblocks = depths[i]};
        if (hid[i] % heads[i])
            return am__error(AM_ERR_FORMAT, "config: hidden_sizes[%lld] (%lld) must be a multiple of num_attention_heads[%lld] (%lld)", (long long)i,
                             (long long)hid[i], (long long)i, (long long)heads[i]);
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *pe = am__module_new(pel, idx, "SegformerOverlapPatchEmbeddings");
        st->proj = am__nn_conv2d(pe, "proj", Cprev, hid[i], ps[i], ps[i], strides[i], strides[i], ps[i] / 2, ps[i] / 2, 1, true);
        st->proj_ln = am__nn_layernorm(pe, "layer_norm", hid[i], AM__SEG_LN_EPS);
        if (!(st->blk = calloc((size_t)depths[i], sizeof *st->blk))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        am__module *list = am__module_new(bl, idx, "ModuleList");
        for (int64_t j = 0; j < depths[i]; j++, cur++) {
            am__seg_block *bk = &st->blk[j];
            char jdx[32];
            snprintf(jdx, sizeof jdx, "%lld", (long long)j);
            am__module *L = am__module_new(list, jdx, "SegformerLayer");
            bk->ln1 = am__nn_layernorm(L, "layer_norm_1", hid[i], AM__SEG_LN_EPS);
            am__module *att = am__module_new(L, "attention", "SegformerAttention");
            am__module *sa = am__module_new(att, "self", "SegformerEfficientSelfAttention");
            bk->q = am__nn_linear(sa, "query", hid[i], hid[i], true);
            bk->k = am__nn_linear(sa, "key", hid[i], hid[i], true);
            bk->v = am__nn_linear(sa, "value", hid[i], hid[i], true);
            bk->probs = (am__drop){am__nn_dropout(sa, "dropout", ap), 0};
            if (sr[i] > 1) {
                bk->sr = am__nn_conv2d(sa, "sr", hid[i], hid[i], sr[i], sr[i], sr[i], sr[i], 0, 0, 1, true);
                bk->sr_ln = am__nn_layernorm(sa, "layer_norm", hid[i], AM__SEG_LN_EPS);
            }
            am__module *so = am__module_new(att, "output", "SegformerSelfOutput");
            bk->o = am__nn_linear(so, "dense", hid[i], hid[i], true);
            bk->d_attn = (am__drop){am__nn_dropout(so, "dropout", hp), 0};
            float p = linspace_at(dpr, total, cur);
            if (p > 0.0f) {
                am__format_py_float((double)p, e, sizeof e);
                am__module_set_extra(am__module_new(L, "drop_path", "SegformerDropPath"), "p=%s", e);
            } else am__nn_leaf(L, "drop_path", "Identity");
            bk->ln2 = am__nn_layernorm(L, "layer_norm_2", hid[i], AM__SEG_LN_EPS);
            am__module *mlp = am__module_new(L, "mlp", "SegformerMixFFN");
            bk->fc1 = am__nn_linear(mlp, "dense1", hid[i], st->inner, true);
            bk->dw = am__nn_conv2d(am__module_new(mlp, "dwconv", "SegformerDWConv"), "dwconv", st->inner, st->inner, 3, 3, 1, 1, 1, 1, st->inner, true);
            am__nn_leaf(mlp, "intermediate_act_fn", act_cls);
            bk->fc2 = am__nn_linear(mlp, "dense2", st->inner, hid[i], true);
            am__module *dr = am__nn_dropout(mlp, "dropout", hp);
            bk->d_mlp1 = bk->d_mlp2 = (am__drop){dr, 0};
        }
    }
    am__module *lnl = am__module_new(enc, "layer_norm", "ModuleList");
    for (int64_t i = 0; i < n; i++) {
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        si->st[i].ln = am__nn_layernorm(lnl, idx, hid[i], AM__SEG_LN_EPS);
    }
    if (task == AM_TASK_BASE) return AM_OK;
    int64_t Dd = am__config_int(c, "decoder_hidden_size", 256), L = am_config_num_labels(c);
    if (Dd <= 0) return am__error(AM_ERR_FORMAT, "config: decoder_hidden_size must be positive");
    am__module *dh = am__module_new(m->root, "decode_head", "SegformerDecodeHead");
    am__module *lc = am__module_new(dh, "linear_c", "ModuleList");
    for (int64_t i = 0; i < n; i++) {
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        si->mlp[i] = am__nn_linear(am__module_new(lc, idx, "SegformerMLP"), "proj", hid[i], Dd, true);
    }
    si->fuse = am__nn_conv2d(dh, "linear_fuse", Dd * n, Dd, 1, 1, 1, 1, 0, 0, 1, false);
    si->bn = batchnorm2d(dh, "batch_norm", Dd);
    am__nn_leaf(dh, "activation", "ReLU");
    si->cls_drop = (am__drop){am__nn_dropout(dh, "dropout", am__config_float(c, "classifier_dropout_prob", 0.1)), 0};
    si->cls = am__nn_conv2d(dh, "classifier", Dd, L, 1, 1, 1, 1, 0, 0, 1, true);
    return AM_OK;
}
