/* models/vit.c — ViT (modeling_vit.py): patch embeddings, CLS token, learned positions (bicubic
 * interpolate_pos_encoding), the pre-LN encoder on the shared stack, final LayerNorm; ViTModel
 * (pooler) and ViTForImageClassification (classifier on the CLS token). */
#include "models/vit.h"
#include "core/error.h"
#include "core/tensor.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__vit_defaults[] = {
    {"hidden_size", "768"}, {"num_hidden_layers", "12"}, {"num_attention_heads", "12"}, {"intermediate_size", "3072"},
    {"hidden_act", "\"gelu\""}, {"hidden_dropout_prob", "0.0"}, {"attention_probs_dropout_prob", "0.0"}, {"initializer_range", "0.02"},
    {"layer_norm_eps", "1e-12"}, {"image_size", "224"}, {"patch_size", "16"}, {"num_channels", "3"}, {"qkv_bias", "true"},
    {"encoder_stride", "16"}, {NULL, NULL}};

static const char *const k_vit_inputs[] = {"pixel_values", "interpolate_pos_encoding", NULL};

am_status am__vit_geometry(const am_config *c, int64_t *img_h, int64_t *img_w, int64_t *patch, int64_t *C) {
    const cJSON *is = am__config_value(c, "image_size");
    if (cJSON_IsArray(is) && cJSON_GetArraySize(is) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(is, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(is, 1))) {
        *img_h = (int64_t)cJSON_GetArrayItem(is, 0)->valuedouble;
        *img_w = (int64_t)cJSON_GetArrayItem(is, 1)->valuedouble;
    } else if (cJSON_IsNumber(is)) {
        *img_h = *img_w = (int64_t)is->valuedouble;
    } else {
        return am__error(AM_ERR_FORMAT, "config: image_size must be a number or a list [height, width]");
    }
    *patch = am__config_int(c, "patch_size", 16);
    *C = am__config_int(c, "num_channels", 3);
    if (*patch <= 0 || *C <= 0 || *img_h < *patch || *img_w < *patch || *img_h > 1000000 || *img_w > 1000000)
        return am__error(AM_ERR_FORMAT, "config: image_size (%lldx%lld), patch_size (%lld) and num_channels (%lld) must be positive, the image at least one patch",
                         (long long)*img_h, (long long)*img_w, (long long)*patch, (long long)*C);
    return AM_OK;
}

am_status am__vit_layers(const am_config *c, am__module *encoder, const char *P, am__stack *st) {
    int64_t H = am__config_int(c, "hidden_size", 768), heads = am__config_int(c, "num_attention_heads", 12);
    int64_t layers = am__config_int(c, "num_hidden_layers", 12), inter = am__config_int(c, "intermediate_size", 3072);
    double eps = am__config_float(c, "layer_norm_eps", 1e-12), hp = am__config_float(c, "hidden_dropout_prob", 0.0);
    double ap = am__config_float(c, "attention_probs_dropout_prob", 0.0);
    bool qkv_bias = am__config_bool(c, "qkv_bias", true);
    if (H <= 0 || heads <= 0 || H % heads)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)H, (long long)heads);
    if (layers < 0 || layers > 100000 || inter <= 0) return am__error(AM_ERR_FORMAT, "config: num_hidden_layers/intermediate_size out of range");
    const char *act = am__config_str(c, "hidden_act", "gelu"), *act_cls;
    am__act a;
    if (!am__act_parse(act, &a, &act_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", act);
    am_status s = am__stack_alloc(st, layers);
    if (s != AM_OK) return s;
    st->H = H;
    st->pre_norm = true;
    am__module *list = am__module_new(encoder, "layer", "ModuleList");
    char n[128], idx[32];
    for (int64_t i = 0; i < layers; i++) {
        am__layer *l = &st->layer[i];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        snprintf(n, sizeof n, "%sLayer", P);
        am__module *L = am__module_new(list, idx, n);
        snprintf(n, sizeof n, "%sAttention", P);
        am__module *att = am__module_new(L, "attention", n);
        snprintf(n, sizeof n, "%sSelfAttention", P);
        am__module *self = am__module_new(att, "attention", n);
        am__module *q = am__nn_linear(self, "query", H, H, qkv_bias), *k = am__nn_linear(self, "key", H, H, qkv_bias);
        am__module *v = am__nn_linear(self, "value", H, H, qkv_bias);
        am__module *pd = am__nn_dropout(self, "dropout", ap);
        snprintf(n, sizeof n, "%sSelfOutput", P);
        am__module *so = am__module_new(att, "output", n);
        am__module *o = am__nn_linear(so, "dense", H, H, true);
        l->d_self = (am__drop){am__nn_dropout(so, "dropout", hp), 0};
        l->self = (am__attn){q, k, v, o, NULL, false, heads, heads, H / heads, 1.0f / sqrtf((float)(H / heads)), {pd, 0}};
        snprintf(n, sizeof n, "%sIntermediate", P);
        am__module *im = am__module_new(L, "intermediate", n);
        am__module *fc1 = am__nn_linear(im, "dense", H, inter, true);
        am__nn_leaf(im, "intermediate_act_fn", act_cls);
        snprintf(n, sizeof n, "%sOutput", P);
        am__module *om = am__module_new(L, "output", n);
        l->mlp = (am__mlp){fc1, NULL, am__nn_linear(om, "dense", inter, H, true), false, inter, a, {NULL, 0}};
        l->d_mlp = (am__drop){am__nn_dropout(om, "dropout", hp), 0};
        l->n_self = (am__norm){am__nn_layernorm(L, "layernorm_before", H, eps), AM__NORM_LAYER, eps};
        l->n_mlp = (am__norm){am__nn_layernorm(L, "layernorm_after", H, eps), AM__NORM_LAYER, eps};
    }
    return AM_OK;
}

am_status am__vit_build(const am_config *c, am__module *base, bool pooler, am__vit *v) {
    int64_t H = am__config_int(c, "hidden_size", 768);
    am_status s = am__vit_geometry(c, &v->img_h, &v->img_w, &v->patch, &v->C);
    if (s != AM_OK) return s;
    if (H <= 0) return am__error(AM_ERR_FORMAT, "config: hidden_size must be positive");
    v->eps = am__config_float(c, "layer_norm_eps", 1e-12);
    int64_t np = (v->img_h / v->patch) * (v->img_w / v->patch);
    v->emb = am__module_new(base, "embeddings", "ViTEmbeddings");
    int64_t cs[3] = {1, 1, H}, ps[3] = {1, np + 1, H};
    am__module_param(v->emb, "cls_token", 3, cs, AM_INIT_NORMAL);
    am__module_param(v->emb, "position_embeddings", 3, ps, AM_INIT_NORMAL);
    am__module *pe = am__module_new(v->emb, "patch_embeddings", "ViTPatchEmbeddings");
    v->proj = am__nn_conv2d(pe, "projection", v->C, H, v->patch, v->patch, v->patch, v->patch, 0, 0, 1, true);
    v->drop = (am__drop){am__nn_dropout(v->emb, "dropout", am__config_float(c, "hidden_dropout_prob", 0.0)), 0};
    if ((s = am__vit_layers(c, am__module_new(base, "encoder", "ViTEncoder"), "ViT", &v->enc)) != AM_OK) return s;
    v->ln = am__nn_layernorm(base, "layernorm", H, v->eps);
    if (pooler) {
        v->pooler = am__module_new(base, "pooler", "ViTPooler");
        am__nn_linear(v->pooler, "dense", H, H, true);
        am__nn_leaf(v->pooler, "activation", "Tanh");
    }
    return AM_OK;
}

am_status am__pixel_values(const am_tensors *in, int64_t C, am_tensor **out) {
    *out = NULL;
    const am_tensor *t = am_tensors_get(in, "pixel_values");
    if (!t) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: missing required input 'pixel_values'");
    if (t->ndim != 4) return am__error(AM_ERR_SHAPE, "forward: pixel_values must have 4 dimensions [batch, channels, height, width], got %d", t->ndim);
    if (!am__dtype_is_float(t->dtype)) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: pixel_values must be a float tensor, got %s", am_dtype_name(t->dtype));
    if (t->shape[1] != C)
        return am__error(AM_ERR_SHAPE,
                         "Make sure that the channel dimension of the pixel values match with the one set in the configuration. Expected %lld but got %lld.",
                         (long long)C, (long long)t->shape[1]);
    if (t->shape[0] == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: pixel_values is empty");
    if (!(*out = am__tensor_convert(t, AM_F32))) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for pixel_values");
    return AM_OK;
}

/* interpolate_pos_encoding (ViTEmbeddings, 4.32): the patch grid of the positions resized by the
 * scale factor (new grid + 0.1) / sqrt(positions), bicubic; pos [1 + N, H] -> out [1 + n, H] */
static am_status vit_interpolate(const float *pos, int64_t N, int64_t H, int64_t gh, int64_t gw, float *out) {
    int64_t side = (int64_t)sqrt((double)N);
    if (side * side != N)
        return am__error(AM_ERR_UNSUPPORTED, "interpolate_pos_encoding: the %lld position embeddings are not a square grid", (long long)N);
    double h0 = (double)gh + 0.1, w0 = (double)gw + 0.1, sh = h0 / sqrt((double)N), sw = w0 / sqrt((double)N);
    if ((int64_t)((double)side * sh) != gh || (int64_t)((double)side * sw) != gw)
        return am__error(AM_ERR_SHAPE, "interpolate_pos_encoding: the interpolated grid does not have %lldx%lld patches", (long long)gh, (long long)gw);
    memcpy(out, pos, (size_t)H * sizeof(float));
    return am__bicubic_hwc(side, side, H, pos + H, gh, gw, sh, sw, out + H);
}

am_status am__vit_encode(am__fwd *cx, const am__vit *v, const am_tensor *px, bool interpolate, am_tensors *hs, const char *hs_name, float **seq,
                         int64_t *Tout) {
    *seq = NULL;
    int64_t B = px->shape[0], Hi = px->shape[2], Wi = px->shape[3], H = v->enc.H;
    if (!interpolate && (Hi != v->img_h || Wi != v->img_w))
        return am__error(AM_ERR_SHAPE, "Input image size (%lld*%lld) doesn't match model (%lld*%lld).", (long long)Hi, (long long)Wi, (long long)v->img_h,
                         (long long)v->img_w);
    int64_t gh = Hi / v->patch, gw = Wi / v->patch, n = gh * gw, T = n + 1;
    if (n == 0) return am__error(AM_ERR_SHAPE, "forward: the %lldx%lld image holds no %lldx%lld patch", (long long)Hi, (long long)Wi, (long long)v->patch, (long long)v->patch);
    am_tensor *pt = am__mod_tensor(v->emb, "position_embeddings"), *ct = am__mod_tensor(v->emb, "cls_token");
    int64_t N = pt->shape[1] - 1;
    const float *pos = am__f32_cached(pt), *cls = am__f32_cached(ct);
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *p = malloc((size_t)(B * n * H) * sizeof(float)), *ip = NULL;
    am_status s = x && p && pos && cls ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld image tokens", (long long)(B * T));
    if (s == AM_OK && (n != N || Hi != Wi)) {
        if (!interpolate) s = am__error(AM_ERR_SHAPE, "forward: %lld patches but %lld position embeddings", (long long)n, (long long)N);
        else if (!(ip = malloc((size_t)(T * H) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for positions");
        else s = vit_interpolate(pos, N, H, gh, gw, ip);
        pos = ip;
    }
    if (s == AM_OK) s = am__patch_embed_fwd(v->proj, B, v->C, Hi, Wi, px->data, p, H);
    if (s == AM_OK) {
        for (int64_t b = 0; b < B; b++) {
            float *r = x + b * T * H;
            memcpy(r, cls, (size_t)H * sizeof(float));
            memcpy(r + H, p + b * n * H, (size_t)(n * H) * sizeof(float));
            for (int64_t i = 0; i < T * H; i++) r[i] += pos[i];
        }
        am__drop_fwd(cx, v->drop, B * T * H, x);
        am__stack_io io = {.B = B, .T = T, .x = x, .hs = hs, .hs_name = hs_name};
        s = am__stack_forward(cx, &v->enc, &io);
    }
    if (s == AM_OK) s = am__layernorm_fwd(v->ln, B * T, x, x, v->eps);
    free(p);
    free(ip);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    *seq = x;
    *Tout = T;
    return AM_OK;
}

/* ---- ViTModel / ViTForImageClassification ---- */

typedef struct vit_impl {
    am__vit vit;
    am__module *classifier; /* NULL: nn.Identity (num_labels 0) */
} vit_impl;

static void vit_impl_free(void *p) {
    vit_impl *v = p;
    if (!v) return;
    am__stack_free(&v->vit.enc);
    free(v);
}

/* interpolate_pos_encoding as an input: a one-element tensor, true when nonzero */
static am_status flag_input(const am_tensors *in, const char *name, bool *out) {
    *out = false;
    const am_tensor *t = am_tensors_get(in, name);
    if (!t) return AM_OK;
    if (am_tensor_numel(t) != 1) return am__error(AM_ERR_SHAPE, "forward: %s must be a single value", name);
    am_tensor *d = am__tensor_convert(t, AM_F32);
    if (!d) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    *out = *(const float *)d->data != 0;
    am_tensor_free(d);
    return AM_OK;
}

static am_status vit_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    vit_impl *v = m->impl;
    am_tensor *px = NULL;
    bool interp = false;
    am_status s = flag_input(in, "interpolate_pos_encoding", &interp);
    if (s == AM_OK) s = am__pixel_values(in, v->vit.C, &px);
    am__fwd cx = am__fwd_begin(m);
    float *seq = NULL, *first = NULL, *pooled = NULL;
    int64_t T = 0, B = px ? px->shape[0] : 0, H = v->vit.enc.H;
    if (s == AM_OK) s = am__vit_encode(&cx, &v->vit, px, interp, opts && opts->output_hidden_states ? out : NULL, "hidden_states", &seq, &T);
    if (s == AM_OK && !(first = am__gather_rows(seq, B, T, H, NULL))) s = AM_ERR_NO_MEMORY;
    if (s == AM_OK && m->spec->task == AM_TASK_BASE) {
        s = am__put_output(out, "last_hidden_state", 3, (int64_t[]){B, T, H}, seq);
        if (s == AM_OK && v->vit.pooler) {
            if (!(pooled = malloc((size_t)(B * H) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the pooler");
            else s = am__transform_fwd(am__module_child(v->vit.pooler, "dense"), AM_ACT_TANH, NULL, B, first, pooled);
            if (s == AM_OK) s = am__put_output(out, "pooler_output", 2, (int64_t[]){B, H}, pooled);
        }
    } else if (s == AM_OK) {
        s = v->classifier ? am__linear_output(v->classifier, B, 1, false, first, out, "logits") : am__put_output(out, "logits", 2, (int64_t[]){B, H}, first);
    }
    free(seq);
    free(first);
    free(pooled);
    am_tensor_free(px);
    return s;
}

static void vit_describe(const am_model *m, am__describe *d) {
    const vit_impl *v = m->impl;
    *d = (am__describe){.stack = &v->vit.enc, .patch = v->vit.proj, .vit_emb = v->vit.emb, .final_ln = {v->vit.ln, AM__NORM_LAYER, v->vit.eps},
                        .pooler = v->vit.pooler ? am__module_child(v->vit.pooler, "dense") : NULL, .classifier = v->classifier};
}

am_status am__vit_build_model(am_model *m) {
    vit_impl *v = calloc(1, sizeof *v);
    if (!v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = v;
    m->impl_free = vit_impl_free;
    m->forward = vit_forward;
    m->describe = vit_describe;
    m->input_names = k_vit_inputs;
    am_task task = m->spec->task;
    if (task != AM_TASK_BASE && task != AM_TASK_IMAGE_CLASSIFICATION) return am__error(AM_ERR_UNSUPPORTED, "ViT has no head for task %s", am_task_name(task));
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "vit", "ViTModel");
    am_status s = am__vit_build(m->config, base, task == AM_TASK_BASE, &v->vit);
    if (s != AM_OK || task == AM_TASK_BASE) return s;
    int64_t L = am_config_num_labels(m->config);
    if (L > 0) v->classifier = am__nn_linear(m->root, "classifier", v->vit.enc.H, L, true);
    else am__nn_leaf(m->root, "classifier", "Identity");
    return AM_OK;
}
