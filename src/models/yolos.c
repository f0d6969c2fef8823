/* models/yolos.c — YOLOS (modeling_yolos.py): a ViT encoder whose sequence is [CLS, patches,
 * detection tokens], with position embeddings (and per-layer mid position embeddings) resized
 * bicubically to the image's patch grid; YolosModel (pooler) and YolosForObjectDetection (MLP heads
 * on the detection tokens: class logits, sigmoid boxes). */
#include "models/vit.h"
#include "models/media.h"
#include "core/error.h"
#include "core/tensor.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__yolos_defaults[] = {
    {"hidden_size", "768"}, {"num_hidden_layers", "12"}, {"num_attention_heads", "12"}, {"intermediate_size", "3072"},
    {"hidden_act", "\"gelu\""}, {"hidden_dropout_prob", "0.0"}, {"attention_probs_dropout_prob", "0.0"}, {"initializer_range", "0.02"},
    {"layer_norm_eps", "1e-12"}, {"image_size", "[512, 864]"}, {"patch_size", "16"}, {"num_channels", "3"}, {"qkv_bias", "true"},
    {"num_detection_tokens", "100"}, {"use_mid_position_embeddings", "true"}, {"auxiliary_loss", "false"}, {"class_cost", "1"},
    {"bbox_cost", "5"}, {"giou_cost", "2"}, {"bbox_loss_coefficient", "5"}, {"giou_loss_coefficient", "2"}, {"eos_coefficient", "0.1"},
    {NULL, NULL}};

static const char *const k_yolos_inputs[] = {"pixel_values", NULL};


static void am__yolos_free(void *p) {
    am__yolos *y = p;
    if (!y) return;
    am__stack_free(&y->enc);
    free(y);
}

/* InterpolateInitialPositionEmbeddings / InterpolateMidPositionEmbeddings: table [1 + N0 + det, H]
 * on the config's patch grid -> out [1 + gh*gw + det, H] (F.interpolate to a size, bicubic) */
static am_status resize_positions(const am__yolos *y, const float *pos, int64_t H, int64_t gh, int64_t gw, float *out) {
    int64_t ph = y->img_h / y->patch, pw = y->img_w / y->patch, n = gh * gw;
    memcpy(out, pos, (size_t)H * sizeof(float));
    am_status s = am__bicubic_hwc(ph, pw, H, pos + H, gh, gw, 0, 0, out + H);
    memcpy(out + (1 + n) * H, pos + (1 + ph * pw) * H, (size_t)(y->det * H) * sizeof(float));
    return s;
}

/* YolosMLPPredictionHead: relu between the three layers */
static am_status mlp_head(am__module *const *layers, int64_t M, int64_t H, const float *x, float *t1, float *t2, float *y) {
    am_status s = am__linear_fwd(layers[0], M, x, t1);
    if (s == AM_OK) am__act_f32(AM_ACT_RELU, M * H, t1);
    if (s == AM_OK) s = am__linear_fwd(layers[1], M, t1, t2);
    if (s == AM_OK) am__act_f32(AM_ACT_RELU, M * H, t2);
    return s == AM_OK ? am__linear_fwd(layers[2], M, t2, y) : s;
}

static am_status yolos_heads(am_model *m, am__yolos *y, int64_t B, int64_t T, const float *seq, am_tensors *out) {
    int64_t H = y->enc.H, D = y->det, M = B * D;
    int64_t L = am__module_find_param(y->cls_head[2], "weight")->shape[0];
    float *det = malloc((size_t)(M * H) * sizeof(float)), *t1 = malloc((size_t)(M * H) * sizeof(float)), *t2 = malloc((size_t)(M * H) * sizeof(float));
    float *logits = malloc((size_t)(M * L) * sizeof(float)), *boxes = malloc((size_t)(M * 4) * sizeof(float));
    am_status s = det && t1 && t2 && logits && boxes ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the detection heads");
    for (int64_t b = 0; s == AM_OK && b < B; b++) memcpy(det + b * D * H, seq + (b * T + T - D) * H, (size_t)(D * H) * sizeof(float));
    if (s == AM_OK) s = mlp_head(y->cls_head, M, H, det, t1, t2, logits);
    if (s == AM_OK) s = mlp_head(y->box_head, M, H, det, t1, t2, boxes);
    if (s == AM_OK) {
        am__act_f32(AM_ACT_SIGMOID, M * 4, boxes);
        s = am__put_output(out, "logits", 3, (int64_t[]){B, D, L}, logits);
    }
    if (s == AM_OK) s = am__put_output(out, "pred_boxes", 3, (int64_t[]){B, D, 4}, boxes);
    (void)m;
    free(det);
    free(t1);
    free(t2);
    free(logits);
    free(boxes);
    return s;
}

static am_status yolos_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    am__yolos *y = m->impl;
    am_tensor *px = NULL;
    am_status s = am__pixel_values(in, y->C, &px);
    if (s != AM_OK) return s;
    int64_t B = px->shape[0], Hi = px->shape[2], Wi = px->shape[3], H = y->enc.H, gh = Hi / y->patch, gw = Wi / y->patch, n = gh * gw;
    int64_t T = 1 + n + y->det, layers = y->enc.n, nmid = y->mid && layers > 1 ? layers - 1 : 0;
    if (n == 0) {
        am_tensor_free(px);
        return am__error(AM_ERR_SHAPE, "forward: the %lldx%lld image holds no %lldx%lld patch", (long long)Hi, (long long)Wi, (long long)y->patch,
                         (long long)y->patch);
    }
    am_tensor *pt = am__mod_tensor(y->emb, "position_embeddings"), *ct = am__mod_tensor(y->emb, "cls_token");
    am_tensor *dt = am__mod_tensor(y->emb, "detection_tokens"), *mt = y->mid ? am__mod_tensor(y->encoder, "mid_position_embeddings") : NULL;
    const float *pos = am__f32_cached(pt), *cls = am__f32_cached(ct), *dtok = am__f32_cached(dt), *midp = mt ? am__f32_cached(mt) : NULL;
    int64_t P0 = pt->shape[1];
    float *x = malloc((size_t)(B * T * H) * sizeof(float)), *p = malloc((size_t)(B * n * H) * sizeof(float));
    float *ip = malloc((size_t)((1 + nmid) * T * H) * sizeof(float)), *seq = NULL;
    if (!x || !p || !ip || !pos || !cls || !dtok || (mt && !midp)) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld image tokens", (long long)(B * T));
    /* the position tables: the embeddings' first, then each mid table */
    for (int64_t k = 0; s == AM_OK && k <= nmid; k++) s = resize_positions(y, k ? midp + (k - 1) * P0 * H : pos, H, gh, gw, ip + k * T * H);
    if (s == AM_OK) s = am__patch_embed_fwd(y->proj, B, y->C, Hi, Wi, px->data, p, H);
    if (s == AM_OK) {
        for (int64_t b = 0; b < B; b++) {
            float *r = x + b * T * H;
            memcpy(r, cls, (size_t)H * sizeof(float));
            memcpy(r + H, p + b * n * H, (size_t)(n * H) * sizeof(float));
            memcpy(r + (1 + n) * H, dtok, (size_t)(y->det * H) * sizeof(float));
            for (int64_t i = 0; i < T * H; i++) r[i] += ip[i];
        }
    }
    am__fwd cx = am__fwd_begin(m);
    if (s == AM_OK) am__drop_fwd(&cx, y->drop, B * T * H, x);
    am_tensors *hs = opts && opts->output_hidden_states ? out : NULL;
    int64_t shape[3] = {B, T, H};
    char name[64];
    /* YolosEncoder: each layer, then (all but the last) its mid position embeddings */
    for (int64_t l = 0; s == AM_OK && l < layers; l++) {
        snprintf(name, sizeof name, "hidden_states.%lld", (long long)l);
        if (hs) s = am__put_output(hs, name, 3, shape, x);
        am__stack one = y->enc;
        one.n = 1;
        one.layer = &y->enc.layer[l];
        am__stack_io io = {.B = B, .T = T, .x = x};
        if (s == AM_OK) s = am__stack_forward(&cx, &one, &io);
        for (int64_t b = 0; s == AM_OK && l < nmid && b < B; b++)
            for (int64_t i = 0; i < T * H; i++) x[b * T * H + i] += ip[(1 + l) * T * H + i];
    }
    snprintf(name, sizeof name, "hidden_states.%lld", (long long)layers);
    if (s == AM_OK && hs) s = am__put_output(hs, name, 3, shape, x);
    if (s == AM_OK) s = am__layernorm_fwd(y->ln, B * T, x, x, y->eps);
    seq = x;
    if (s == AM_OK && m->spec->task == AM_TASK_OBJECT_DETECTION) s = yolos_heads(m, y, B, T, seq, out);
    if (s == AM_OK) s = am__put_output(out, "last_hidden_state", 3, shape, seq);
    if (s == AM_OK && y->pooler) {
        float *first = am__gather_rows(seq, B, T, H, NULL), *pooled = malloc((size_t)(B * H) * sizeof(float));
        if (!first || !pooled) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the pooler");
        else s = am__transform_fwd(am__module_child(y->pooler, "dense"), AM_ACT_TANH, NULL, B, first, pooled);
        if (s == AM_OK) s = am__put_output(out, "pooler_output", 2, (int64_t[]){B, H}, pooled);
        free(first);
        free(pooled);
    }
    free(x);
    free(p);
    free(ip);
    am_tensor_free(px);
    return s;
}

static void mlp_head_tree(am__module *root, const char *name, int64_t H, int64_t out, am__module **layers) {
    am__module *list = am__module_new(am__module_new(root, name, "YolosMLPPredictionHead"), "layers", "ModuleList");
    layers[0] = am__nn_linear(list, "0", H, H, true);
    layers[1] = am__nn_linear(list, "1", H, H, true);
    layers[2] = am__nn_linear(list, "2", H, out, true);
}

static void yolos_describe(const am_model *m, am__describe *d) { *d = (am__describe){.yolos = m->impl}; }

am_status am__yolos_build(am_model *m) {
    const am_config *c = m->config;
    am__yolos *y = calloc(1, sizeof *y);
    if (!y) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = y;
    m->impl_free = am__yolos_free;
    m->forward = yolos_forward;
    m->describe = yolos_describe;
    m->input_names = k_yolos_inputs;
    am_task task = m->spec->task;
    if (task != AM_TASK_BASE && task != AM_TASK_OBJECT_DETECTION) return am__error(AM_ERR_UNSUPPORTED, "YOLOS has no head for task %s", am_task_name(task));
    am_status s = am__vit_geometry(c, &y->img_h, &y->img_w, &y->patch, &y->C);
    if (s != AM_OK) return s;
    int64_t H = am__config_int(c, "hidden_size", 768), layers = am__config_int(c, "num_hidden_layers", 12);
    y->det = am__config_int(c, "num_detection_tokens", 100);
    y->mid = am__config_bool(c, "use_mid_position_embeddings", true);
    y->eps = am__config_float(c, "layer_norm_eps", 1e-12);
    if (H <= 0 || y->det < 0 || y->det > 100000) return am__error(AM_ERR_FORMAT, "config: hidden_size and num_detection_tokens must be positive");
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "vit", "YolosModel");
    /* YolosEmbeddings: cls / detection tokens and positions start at zero (YolosEmbeddings.__init__) */
    int64_t np = (y->img_h / y->patch) * (y->img_w / y->patch), seq = 1 + np + y->det;
    y->emb = am__module_new(base, "embeddings", "YolosEmbeddings");
    am__module_param(y->emb, "cls_token", 3, (int64_t[]){1, 1, H}, AM_INIT_NONE);
    am__module_param(y->emb, "detection_tokens", 3, (int64_t[]){1, y->det, H}, AM_INIT_NONE);
    am__module_param(y->emb, "position_embeddings", 3, (int64_t[]){1, seq, H}, AM_INIT_NONE);
    y->proj = am__nn_conv2d(am__module_new(y->emb, "patch_embeddings", "YolosPatchEmbeddings"), "projection", y->C, H, y->patch, y->patch, y->patch,
                            y->patch, 0, 0, 1, true);
    y->drop = (am__drop){am__nn_dropout(y->emb, "dropout", am__config_float(c, "hidden_dropout_prob", 0.0)), 0};
    am__nn_leaf(y->emb, "interpolation", "InterpolateInitialPositionEmbeddings");
    y->encoder = am__module_new(base, "encoder", "YolosEncoder");
    /* YolosEncoder's table: (config.image_size[0] * image_size[1] // patch_size**2) positions */
    int64_t mseq = 1 + (y->img_h * y->img_w) / (y->patch * y->patch) + y->det;
    if (y->mid && mseq != seq)
        return am__error(AM_ERR_UNSUPPORTED, "config: mid position embeddings need image_size (%lldx%lld) to be a multiple of patch_size (%lld)",
                         (long long)y->img_h, (long long)y->img_w, (long long)y->patch);
    if (y->mid) am__module_param(y->encoder, "mid_position_embeddings", 4, (int64_t[]){layers > 0 ? layers - 1 : 0, 1, mseq, H}, AM_INIT_NONE);
    if ((s = am__vit_layers(c, y->encoder, "Yolos", &y->enc)) != AM_OK) return s;
    if (y->mid) am__nn_leaf(y->encoder, "interpolation", "InterpolateMidPositionEmbeddings");
    y->ln = am__nn_layernorm(base, "layernorm", H, y->eps);
    if (task == AM_TASK_BASE) {
        y->pooler = am__module_new(base, "pooler", "YolosPooler");
        am__nn_linear(y->pooler, "dense", H, H, true);
        am__nn_leaf(y->pooler, "activation", "Tanh");
        return AM_OK;
    }
    mlp_head_tree(m->root, "class_labels_classifier", H, am_config_num_labels(c) + 1, y->cls_head);
    mlp_head_tree(m->root, "bbox_predictor", H, 4, y->box_head);
    return AM_OK;
}
