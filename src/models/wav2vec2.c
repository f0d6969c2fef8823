/* models/wav2vec2.c — Wav2Vec2 (modeling_wav2vec2.py, transformers 4.32): the convolutional feature
 * encoder on raw samples (GroupNorm on the first conv layer, or LayerNorm over channels on every
 * layer), the feature projection, the weight-normed grouped positional convolution, and the
 * encoder on the shared stack (post-norm Wav2Vec2Encoder, or pre-norm
 * Wav2Vec2EncoderStableLayerNorm); frame masks from the sample lengths; SpecAugment and LayerDrop
 * in training mode. Wav2Vec2Model, Wav2Vec2ForSequenceClassification (projector, mean pooling over
 * the valid frames, classifier; optional weighted layer sum) and Wav2Vec2ForCTC (lm_head per frame).
 * Convolutions go to oneDNN through kernels/conv.c (a Conv1d is a 2-D convolution of height 1). */
#include "core/error.h"
#include "core/rng.h"
#include "models/media.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const am__config_default am__wav2vec2_defaults[] = {
    {"vocab_size", "32"}, {"hidden_size", "768"}, {"num_hidden_layers", "12"}, {"num_attention_heads", "12"}, {"intermediate_size", "3072"},
    {"hidden_act", "\"gelu\""}, {"hidden_dropout", "0.1"}, {"activation_dropout", "0.1"}, {"attention_dropout", "0.1"},
    {"feat_proj_dropout", "0.0"}, {"feat_quantizer_dropout", "0.0"}, {"final_dropout", "0.1"}, {"layerdrop", "0.1"},
    {"initializer_range", "0.02"}, {"layer_norm_eps", "1e-05"}, {"feat_extract_norm", "\"group\""}, {"feat_extract_activation", "\"gelu\""},
    {"conv_dim", "[512, 512, 512, 512, 512, 512, 512]"}, {"conv_stride", "[5, 2, 2, 2, 2, 2, 2]"}, {"conv_kernel", "[10, 3, 3, 3, 3, 2, 2]"},
    {"conv_bias", "false"}, {"num_feat_extract_layers", "7"}, {"num_conv_pos_embeddings", "128"}, {"num_conv_pos_embedding_groups", "16"},
    {"do_stable_layer_norm", "false"}, {"apply_spec_augment", "true"}, {"mask_time_prob", "0.05"}, {"mask_time_length", "10"},
    {"mask_time_min_masks", "2"}, {"mask_feature_prob", "0.0"}, {"mask_feature_length", "10"}, {"mask_feature_min_masks", "0"},
    {"num_codevectors_per_group", "320"}, {"num_codevector_groups", "2"}, {"contrastive_logits_temperature", "0.1"}, {"num_negatives", "100"},
    {"codevector_dim", "256"}, {"proj_codevector_dim", "256"}, {"diversity_loss_weight", "0.1"}, {"ctc_loss_reduction", "\"sum\""},
    {"ctc_zero_infinity", "false"}, {"use_weighted_layer_sum", "false"}, {"classifier_proj_size", "256"}, {"tdnn_dim", "[512, 512, 512, 512, 1500]"},
    {"tdnn_kernel", "[5, 3, 3, 1, 1]"}, {"tdnn_dilation", "[1, 2, 3, 1, 1]"}, {"xvector_output_dim", "512"}, {"pad_token_id", "0"},
    {"bos_token_id", "1"}, {"eos_token_id", "2"}, {"add_adapter", "false"}, {"adapter_kernel_size", "3"}, {"adapter_stride", "2"},
    {"num_adapter_layers", "3"}, {"output_hidden_size", "768"}, {"adapter_attn_dim", "null"}, {NULL, NULL}};

static const char *const k_w2v_inputs[] = {"input_values", "attention_mask", NULL};


/* the config's conv_dim / conv_stride / conv_kernel list `key` into out[n] */
static am_status int_list(const am_config *c, const char *key, int64_t *out, int64_t *n) {
    const cJSON *v = am__config_value(c, key);
    if (!cJSON_IsArray(v)) return am__error(AM_ERR_FORMAT, "config: \"%s\" must be a list of positive integers", key);
    int64_t k = 0;
    for (const cJSON *e = v->child; e; e = e->next, k++) {
        if (k >= AM__W2V_MAX_CONV) return am__error(AM_ERR_FORMAT, "config: \"%s\" has more than %d entries", key, AM__W2V_MAX_CONV);
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1e6 || e->valuedouble != floor(e->valuedouble))
            return am__error(AM_ERR_FORMAT, "config: \"%s\"[%lld] must be a positive integer", key, (long long)k);
        out[k] = (int64_t)e->valuedouble;
    }
    *n = k;
    return AM_OK;
}

/* Wav2Vec2Config.__init__: num_feat_extract_layers = len(conv_dim), output_hidden_size defaults to
 * hidden_size, and the three conv lists must have the same length. */
am_status am__wav2vec2_config_init(am_config *c, const char *origin) {
    int64_t dim[AM__W2V_MAX_CONV], st[AM__W2V_MAX_CONV], kr[AM__W2V_MAX_CONV], nd, ns, nk;
    am_status s = int_list(c, "conv_dim", dim, &nd);
    if (s == AM_OK) s = int_list(c, "conv_stride", st, &ns);
    if (s == AM_OK) s = int_list(c, "conv_kernel", kr, &nk);
    if (s != AM_OK) return am__error(s, "%s: %s", origin, am_last_error());
    if (nd != ns || nd != nk || nd == 0)
        return am__error(AM_ERR_FORMAT,
                         "%s: Configuration for convolutional layers is incorrect. It is required that `len(config.conv_dim)` == "
                         "`len(config.conv_stride)` == `len(config.conv_kernel)`, but is `len(config.conv_dim) = %lld`, `len(config.conv_stride) = %lld`, "
                         "`len(config.conv_kernel) = %lld`.",
                         origin, (long long)nd, (long long)ns, (long long)nk);
    s = am_config_set_int(c, "num_feat_extract_layers", nd);
    if (s == AM_OK && am__config_is_null(c, "output_hidden_size"))
        s = am_config_set_int(c, "output_hidden_size", am__config_int(c, "hidden_size", 768));
    return s;
}


static void w2v_free(void *p) {
    am__wav2vec2 *w = p;
    if (!w) return;
    am__stack_free(&w->enc);
    free(w);
}

static float *fbuf(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

/* ---- forward pieces ---- */

/* nn.GroupNorm(C, C) on rows x [B, T, C] (one group per channel: each channel of each batch row
 * normalised over time), then the affine weight and bias */
static am_status group_norm(const am__module *gn, int64_t B, int64_t T, int64_t C, float *x) {
    const float *w = am__f32_cached(am__mod_tensor(gn, "weight")), *b = am__f32_cached(am__mod_tensor(gn, "bias"));
    double *sum = calloc((size_t)(2 * C), sizeof(double));
    if (!w || !b || !sum) {
        free(sum);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the group norm");
    }
    double *sq = sum + C;
    for (int64_t bi = 0; bi < B; bi++) {
        float *xb = x + bi * T * C;
        memset(sum, 0, (size_t)(2 * C) * sizeof(double));
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) sum[c] += xb[t * C + c];
        for (int64_t c = 0; c < C; c++) sum[c] /= (double)T;
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) {
                double d = xb[t * C + c] - sum[c];
                sq[c] += d * d;
            }
        for (int64_t c = 0; c < C; c++) { /* sq becomes the scale, sum the shift */
            double inv = 1.0 / sqrt(sq[c] / (double)T + 1e-5);
            sq[c] = inv * w[c];
            sum[c] = b[c] - sum[c] * sq[c];
        }
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) xb[t * C + c] = (float)(xb[t * C + c] * sq[c] + sum[c]);
    }
    free(sum);
    return AM_OK;
}

/* Wav2Vec2FeatureEncoder on samples [B, L]: *out = frames [B, *T, C] (owned) */
static am_status feature_encoder(const am__wav2vec2 *w, int64_t B, int64_t L, const float *x, float **out, int64_t *Tout) {
    *out = NULL;
    const float *cur = x;
    float *own = NULL;
    int64_t len = L, C = 1;
    for (int64_t i = 0; i < w->nconv; i++) {
        const am__w2v_conv *cv = &w->conv[i];
        if (len < cv->kernel) {
            free(own);
            return am__error(AM_ERR_SHAPE,
                             "forward: input_values of %lld samples is too short for the feature encoder: conv layer %lld sees %lld frames, "
                             "fewer than its kernel size %lld",
                             (long long)L, (long long)i, (long long)len, (long long)cv->kernel);
        }
        int64_t n = (len - cv->kernel) / cv->stride + 1, got;
        float *y = fbuf(B * n * cv->out);
        if (!y) {
            free(own);
            return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld frames of conv layer %lld", (long long)(B * n), (long long)i);
        }
        am_status s = am__conv1d_fwd(cv->conv, B, C, len, cur, false, cv->stride, 0, 1, y, &got);
        free(own);
        own = y;
        if (s == AM_OK && cv->norm) s = w->layer_norm_convs ? am__layernorm_fwd(cv->norm, B * n, y, y, 1e-5) : group_norm(cv->norm, B, n, cv->out, y);
        if (s != AM_OK) {
            free(y);
            return s;
        }
        am__act_f32(w->feat_act, B * n * cv->out, y);
        cur = y, len = n, C = cv->out;
    }
    *out = own;
    *Tout = len;
    return AM_OK;
}

/* _get_feat_extract_output_lengths of every row's sample count, then
 * _get_feature_vector_attention_mask: frames [0, len) of each row are valid. The index len - 1
 * goes through Python's indexing as in transformers (a length of 0 marks the last frame). */
static am_status frame_mask(const am__wav2vec2 *w, const int64_t *am, int64_t B, int64_t L, int64_t T, uint8_t *mask, int64_t *lens) {
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t i = 0; i < L; i++) n += am[b * L + i];
        for (int64_t i = 0; i < w->nconv; i++) {
            int64_t d = n - w->conv[i].kernel, s = w->conv[i].stride;
            n = (d >= 0 ? d / s : -((-d + s - 1) / s)) + 1; /* floor division */
        }
        int64_t at = n - 1 < 0 ? n - 1 + T : n - 1;
        if (at < 0 || at >= T)
            return am__error(AM_ERR_INVALID_ARGUMENT, "forward: attention_mask row %lld gives %lld frames, outside the %lld of the input", (long long)b,
                             (long long)n, (long long)T);
        for (int64_t t = 0; t < T; t++) mask[b * T + t] = t <= at;
        lens[b] = at + 1;
    }
    return AM_OK;
}

/* _compute_mask_indices (transformers 4.32), drawn from this call's stream: spans of `span`
 * positions starting at distinct random offsets, each row's count from its valid length. */
static am_status spec_mask(am__rng *r, int64_t B, int64_t T, const int64_t *lens, double prob, int64_t span, int64_t min_masks, uint8_t *mask,
                           const char *which) {
    if (span < 1) return am__error(AM_ERR_INVALID_ARGUMENT, "`mask_length` has to be bigger than 0.");
    if (span > T)
        return am__error(AM_ERR_INVALID_ARGUMENT, "`mask_length` has to be smaller than `sequence_length`, but got `mask_length`: %lld and `sequence_length`: %lld` (%s)",
                         (long long)span, (long long)T, which);
    double eps = am__rng_uniform(r);
    memset(mask, 0, (size_t)(B * T));
    int64_t *idx = malloc((size_t)(T + 1) * sizeof(int64_t));
    if (!idx) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the SpecAugment mask");
    for (int64_t b = 0; b < B; b++) {
        int64_t len = lens ? lens[b] : T;
        int64_t n = (int64_t)(prob * (double)len / (double)span + eps);
        if (n < min_masks) n = min_masks;
        if (n * span > T) n = T / span;
        if (len - (span - 1) < n) n = len - (span - 1) > 0 ? len - (span - 1) : 0;
        int64_t starts = len - (span - 1);
        for (int64_t i = 0; i < starts; i++) idx[i] = i;
        for (int64_t i = 0; i < n; i++) { /* n distinct offsets (partial Fisher-Yates) */
            int64_t j = i + (int64_t)(am__rng_uniform(r) * (double)(starts - i));
            int64_t t = idx[i];
            idx[i] = idx[j], idx[j] = t;
            for (int64_t k = 0; k < span; k++) mask[b * T + (idx[i] + k < T ? idx[i] + k : T - 1)] = 1;
        }
    }
    free(idx);
    return AM_OK;
}

/* _mask_hidden_states in training mode: time spans replaced by masked_spec_embed, feature spans zeroed */
static am_status spec_augment(const am__wav2vec2 *w, const am_config *c, am__fwd *cx, int64_t B, int64_t T, const int64_t *lens, float *x) {
    double tp = am__config_float(c, "mask_time_prob", 0.05), fp = am__config_float(c, "mask_feature_prob", 0.0);
    if (!cx->training || !am__config_bool(c, "apply_spec_augment", true) || (tp <= 0 && fp <= 0)) return AM_OK;
    am__rng r;
    am__rng_seed(&r, am__fwd_seed(cx));
    int64_t H = w->H, n = B * T > B * H ? B * T : B * H;
    uint8_t *m = malloc((size_t)(n > 0 ? n : 1));
    if (!m) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the SpecAugment mask");
    am_status s = AM_OK;
    if (tp > 0 && w->spec_embed) {
        s = spec_mask(&r, B, T, lens, tp, am__config_int(c, "mask_time_length", 10), am__config_int(c, "mask_time_min_masks", 2), m, "time");
        const float *e = s == AM_OK ? am__f32_cached(am__mod_tensor(w->spec_embed, "masked_spec_embed")) : NULL;
        if (s == AM_OK && !e) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        for (int64_t i = 0; s == AM_OK && i < B * T; i++)
            if (m[i]) memcpy(x + i * H, e, (size_t)H * sizeof(float));
    }
    if (s == AM_OK && fp > 0) {
        s = spec_mask(&r, B, H, NULL, fp, am__config_int(c, "mask_feature_length", 10), am__config_int(c, "mask_feature_min_masks", 0), m, "feature");
        for (int64_t b = 0; s == AM_OK && b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t h = 0; h < H; h++)
                    if (m[b * H + h]) x[(b * T + t) * H + h] = 0.0f;
    }
    free(m);
    return s;
}

/* torch's weight_norm(dim=2) of the positional conv, folded: wt [H, H/G, K] = weight_v *
 * weight_g / ||weight_v||, the norm over all dims but the kernel's (also export/onnx_audio.c's
 * constant weight) */
am_status am__w2v_pos_weight(const am__wav2vec2 *w, float *wt) {
    const am__module *pc = w->pos_conv;
    const float *g = am__f32_cached(am__mod_tensor(pc, "weight_g")), *v = am__f32_cached(am__mod_tensor(pc, "weight_v"));
    int64_t K = w->pos_k, HC = w->H * (w->H / w->pos_groups);
    double *nrm = calloc((size_t)K, sizeof(double));
    if (!g || !v || !nrm) {
        free(nrm);
        return am__error(AM_ERR_NO_MEMORY, "out of memory for the positional convolution's weight");
    }
    for (int64_t i = 0; i < HC; i++)
        for (int64_t k = 0; k < K; k++) nrm[k] += (double)v[i * K + k] * v[i * K + k];
    for (int64_t k = 0; k < K; k++) nrm[k] = g[k] / sqrt(nrm[k]);
    for (int64_t i = 0; i < HC; i++)
        for (int64_t k = 0; k < K; k++) wt[i * K + k] = (float)(v[i * K + k] * nrm[k]);
    free(nrm);
    return AM_OK;
}

/* Wav2Vec2PositionalConvEmbedding: x [B, T, H] += gelu(conv(x)) with the weight-normed grouped conv
 * (am__w2v_pos_weight), padding K/2 on both sides, the last frame dropped when K is even */
static am_status pos_conv(const am__wav2vec2 *w, int64_t B, int64_t T, float *x) {
    const float *bias = am__f32_cached(am__mod_tensor(w->pos_conv, "bias"));
    int64_t H = w->H, K = w->pos_k, G = w->pos_groups, CI = H / G, P = K / 2, To = T + 2 * P - K + 1;
    float *wt = fbuf(H * CI * K), *y = fbuf(B * To * H);
    am_status s = bias && wt && y ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the positional convolution");
    if (s == AM_OK) s = am__w2v_pos_weight(w, wt);
    if (s == AM_OK) {
        int64_t oh, ow;
        am__conv2d_f32(B, H, 1, T, x, false, H, G, 1, K, 1, 1, 0, P, wt, bias, y, &oh, &ow);
        am__act_f32(w->feat_act, B * To * H, y);
        for (int64_t b = 0; b < B; b++) /* frames 0..T-1 of each row: Wav2Vec2SamePadLayer drops the extra one */
            for (int64_t i = 0; i < T * H; i++) x[b * T * H + i] += y[b * To * H + i];
    }
    free(wt), free(y);
    return s;
}

/* the encoder (either kind) on x [B, T, H]; hidden states "hidden_states.N" to hs when not NULL */
static am_status encoder(const am__wav2vec2 *w, am__fwd *cx, int64_t B, int64_t T, float *x, const uint8_t *mask, am_tensors *hs) {
    int64_t H = w->H, M = B * T;
    if (mask) /* padded frames are zeroed before the positional convolution */
        for (int64_t i = 0; i < M; i++)
            if (!mask[i]) memset(x + i * H, 0, (size_t)H * sizeof(float));
    am_status s = pos_conv(w, B, T, x);
    if (s == AM_OK && !w->stable) s = am__layernorm_fwd(w->enc_ln, M, x, x, w->eps);
    if (s != AM_OK) return s;
    am__drop_fwd(cx, w->enc_drop, M * H, x);
    char name[64];
    int64_t shape[3] = {B, T, H};
    am__stack one = w->enc;
    one.n = 1;
    one.final_norm = (am__norm){0};
    one.final_drop = (am__drop){0};
    for (int64_t i = 0; s == AM_OK && i < w->enc.n; i++) {
        snprintf(name, sizeof name, "hidden_states.%lld", (long long)i);
        if (hs && (s = am__put_output(hs, name, 3, shape, x)) != AM_OK) break;
        if (cx->training && w->layerdrop > 0) { /* LayerDrop: the layer is skipped with probability layerdrop */
            am__rng r;
            am__rng_seed(&r, am__fwd_seed(cx));
            if (am__rng_uniform(&r) < w->layerdrop) continue;
        }
        one.layer = &w->enc.layer[i];
        am__stack_io io = {.B = B, .T = T, .x = x, .mask = mask, .mask_stride = T};
        s = am__stack_forward(cx, &one, &io);
    }
    if (s == AM_OK && w->stable) s = am__layernorm_fwd(w->enc_ln, M, x, x, w->eps);
    snprintf(name, sizeof name, "hidden_states.%lld", (long long)w->enc.n);
    if (s == AM_OK && hs) s = am__put_output(hs, name, 3, shape, x);
    return s;
}

/* input_values [B, L] of any float dtype as float32 (owned), attention_mask as int64 (owned or NULL) */
static am_status take_inputs(const am_tensors *in, am_tensor **xv, am_tensor **mk) {
    *xv = *mk = NULL;
    const am_tensor *t = am_tensors_get(in, "input_values");
    if (!t) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: missing required input 'input_values'");
    if (t->ndim != 2) return am__error(AM_ERR_SHAPE, "forward: input_values must have 2 dimensions [batch, samples], got %d", t->ndim);
    if (!am__dtype_is_float(t->dtype)) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_values must be a float tensor, got %s", am_dtype_name(t->dtype));
    if (t->shape[0] == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input_values is empty");
    int64_t B = -1, L = -1;
    am_status s = am__opt_input(in, "attention_mask", &B, &L, mk);
    if (s == AM_OK && *mk && (B != t->shape[0] || L != t->shape[1])) {
        char a[64], b[64];
        s = am__error(AM_ERR_SHAPE, "forward: attention_mask has shape %s, expected %s like input_values", am__shape_str(2, (*mk)->shape, a, sizeof a),
                      am__shape_str(2, t->shape, b, sizeof b));
    }
    if (s == AM_OK && !(*xv = am__tensor_convert(t, AM_F32))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for input_values");
    if (s != AM_OK) {
        am_tensor_free(*mk);
        *mk = NULL;
    }
    return s;
}

/* the weighted layer sum: softmax(layer_weights) over the hidden states in `hs` -> out [M, H] */
static am_status weighted_sum(const am__wav2vec2 *w, const am_tensors *hs, int64_t M, float *out) {
    int64_t n = w->enc.n + 1, H = w->H;
    const float *lw = am__f32_cached(am__mod_tensor(w->layer_weights_owner, "layer_weights"));
    float *p = fbuf(n);
    if (!lw || !p) {
        free(p);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the layer weights");
    }
    memcpy(p, lw, (size_t)n * sizeof(float));
    am__softmax_f32(1, n, p);
    memset(out, 0, (size_t)(M * H) * sizeof(float));
    for (int64_t l = 0; l < n; l++) {
        char name[64];
        snprintf(name, sizeof name, "hidden_states.%lld", (long long)l);
        const am_tensor *h = am_tensors_get(hs, name);
        const float *d = h->data;
        for (int64_t i = 0; i < M * H; i++) out[i] += d[i] * p[l];
    }
    free(p);
    return AM_OK;
}

static am_status w2v_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    am__wav2vec2 *w = m->impl;
    am_tensor *xv = NULL, *mk = NULL;
    am_status s = take_inputs(in, &xv, &mk);
    if (s != AM_OK) return s;
    am__fwd cx = am__fwd_begin(m);
    am_task task = m->spec->task;
    int64_t B = xv->shape[0], L = xv->shape[1], T = 0, H = w->H, C = w->C;
    float *feat = NULL, *x = NULL, *tmp = NULL;
    uint8_t *mask = NULL;
    int64_t *lens = NULL;
    /* hidden states go to the output when asked, and always with the weighted layer sum
     * (transformers forces output_hidden_states=True for it and returns them) */
    am_tensors *hs = (opts && opts->output_hidden_states) || w->weighted ? out : NULL;
    if (s == AM_OK) s = feature_encoder(w, B, L, xv->data, &feat, &T);
    if (s == AM_OK && mk) {
        mask = malloc((size_t)(B * T));
        lens = malloc((size_t)B * sizeof(int64_t));
        s = mask && lens ? frame_mask(w, mk->data, B, L, T, mask, lens) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the frame mask");
    }
    /* feature projection: extract_features = LayerNorm(frames); hidden = dropout(Linear(extract_features)) */
    if (s == AM_OK) s = am__layernorm_fwd(w->fp_ln, B * T, feat, feat, w->eps);
    if (s == AM_OK && task == AM_TASK_BASE) s = am__put_output(out, "extract_features", 3, (int64_t[]){B, T, C}, feat);
    if (s == AM_OK && !(x = fbuf(B * T * H))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld frames", (long long)(B * T));
    if (s == AM_OK) s = am__linear_fwd(w->fp_proj, B * T, feat, x);
    if (s == AM_OK) {
        am__drop_fwd(&cx, w->fp_drop, B * T * H, x);
        s = spec_augment(w, m->config, &cx, B, T, lens, x);
    }
    if (s == AM_OK) s = encoder(w, &cx, B, T, x, mask, hs);
    if (s == AM_OK && task == AM_TASK_BASE) s = am__put_output(out, "last_hidden_state", 3, (int64_t[]){B, T, H}, x);
    if (s == AM_OK && task == AM_TASK_CTC) {
        am__drop_fwd(&cx, w->final_drop, B * T * H, x);
        s = am__linear_output(w->lm_head, B, T, true, x, out, "logits");
    }
    if (s == AM_OK && task == AM_TASK_AUDIO_CLASSIFICATION) {
        int64_t P = am__module_find_param(w->projector, "weight")->shape[0];
        float *pooled = fbuf(B * P), *proj = fbuf(B * T * P);
        if (!pooled || !proj) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the classifier");
        const float *h = x;
        if (s == AM_OK && w->weighted) {
            if (!(tmp = fbuf(B * T * H))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the weighted layer sum");
            else s = weighted_sum(w, hs, B * T, tmp);
            h = tmp;
        }
        if (s == AM_OK) s = am__linear_fwd(w->projector, B * T, h, proj);
        for (int64_t b = 0; s == AM_OK && b < B; b++) { /* mean over the valid frames (all of them without a mask) */
            int64_t n = 0;
            double *acc = calloc((size_t)P, sizeof(double));
            if (!acc) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
            for (int64_t t = 0; acc && t < T; t++)
                if (!mask || mask[b * T + t]) {
                    n++;
                    for (int64_t j = 0; j < P; j++) acc[j] += proj[(b * T + t) * P + j];
                }
            for (int64_t j = 0; acc && j < P; j++) pooled[b * P + j] = (float)(acc[j] / (double)n);
            free(acc);
        }
        if (s == AM_OK) s = am__linear_output(w->classifier, B, 1, false, pooled, out, "logits");
        free(pooled), free(proj);
    }
    free(feat), free(x), free(tmp), free(mask), free(lens);
    am_tensor_free(xv);
    am_tensor_free(mk);
    return s;
}

/* ---- builder ---- */

/* Wav2Vec2Attention, BartAttention's layout: k, v, q, out projections, functional dropout */
static am__attn w2v_attention(am__module *parent, int64_t H, int64_t heads, double p) {
    am__module *a = am__module_new(parent, "attention", "Wav2Vec2Attention");
    am__module *k = am__nn_linear(a, "k_proj", H, H, true), *v = am__nn_linear(a, "v_proj", H, H, true);
    am__module *q = am__nn_linear(a, "q_proj", H, H, true), *o = am__nn_linear(a, "out_proj", H, H, true);
    return (am__attn){q, k, v, o, NULL, false, heads, heads, H / heads, 1.0f / sqrtf((float)(H / heads)), {NULL, p}};
}

static void uniform_init(am__param *p, double a, double b) {
    p->init = AM_INIT_UNIFORM;
    p->init_a = a, p->init_b = b;
}

static void w2v_describe(const am_model *m, am__describe *d) { *d = (am__describe){.wav2vec2 = m->impl}; }

am_status am__wav2vec2_build(am_model *m) {
    const am_config *c = m->config;
    am__wav2vec2 *w = calloc(1, sizeof *w);
    if (!w) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = w;
    m->impl_free = w2v_free;
    m->forward = w2v_forward;
    m->describe = w2v_describe;
    m->input_names = k_w2v_inputs;
    am_task task = m->spec->task;
    if (task != AM_TASK_BASE && task != AM_TASK_AUDIO_CLASSIFICATION && task != AM_TASK_CTC)
        return am__error(AM_ERR_UNSUPPORTED, "Wav2Vec2 has no head for task %s", am_task_name(task));
    if (am__config_bool(c, "add_adapter", false)) {
        if (task == AM_TASK_AUDIO_CLASSIFICATION)
            return am__error(AM_ERR_INVALID_ARGUMENT, "Sequence classification does not support the use of Wav2Vec2 adapters (config.add_adapter=True)");
        return am__error(AM_ERR_UNSUPPORTED, "config: add_adapter true (Wav2Vec2Adapter) is not supported");
    }
    if (!am__config_is_null(c, "adapter_attn_dim")) return am__error(AM_ERR_UNSUPPORTED, "config: adapter_attn_dim (attention adapters) is not supported");
    int64_t dim[AM__W2V_MAX_CONV], st[AM__W2V_MAX_CONV], kr[AM__W2V_MAX_CONV], nd, ns, nk;
    am_status s = int_list(c, "conv_dim", dim, &nd);
    if (s == AM_OK) s = int_list(c, "conv_stride", st, &ns);
    if (s == AM_OK) s = int_list(c, "conv_kernel", kr, &nk);
    if (s != AM_OK) return s;
    if (nd != ns || nd != nk || nd == 0) return am__error(AM_ERR_FORMAT, "config: conv_dim, conv_stride and conv_kernel must have the same length");
    int64_t H = am__config_int(c, "hidden_size", 768), heads = am__config_int(c, "num_attention_heads", 12);
    int64_t layers = am__config_int(c, "num_hidden_layers", 12), inter = am__config_int(c, "intermediate_size", 3072);
    int64_t K = am__config_int(c, "num_conv_pos_embeddings", 128), G = am__config_int(c, "num_conv_pos_embedding_groups", 16);
    if (H <= 0 || heads <= 0 || H % heads)
        return am__error(AM_ERR_FORMAT, "config: hidden_size (%lld) must be a positive multiple of num_attention_heads (%lld)", (long long)H, (long long)heads);
    if (layers < 0 || layers > 100000 || inter <= 0) return am__error(AM_ERR_FORMAT, "config: num_hidden_layers/intermediate_size out of range");
    if (K <= 0 || G <= 0 || H % G)
        return am__error(AM_ERR_FORMAT, "config: num_conv_pos_embeddings (%lld) must be positive and hidden_size (%lld) a multiple of num_conv_pos_embedding_groups (%lld)",
                         (long long)K, (long long)H, (long long)G);
    const char *norm = am__config_str(c, "feat_extract_norm", "group");
    if (strcmp(norm, "group") && strcmp(norm, "layer"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "`config.feat_extract_norm` is %s, but has to be one of ['group', 'layer']", norm);
    const char *fact = am__config_str(c, "feat_extract_activation", "gelu"), *fact_cls, *hact = am__config_str(c, "hidden_act", "gelu"), *hact_cls;
    am__act ha;
    if (!am__act_parse(fact, &w->feat_act, &fact_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: feat_extract_activation \"%s\" is not a supported activation", fact);
    if (!am__act_parse(hact, &ha, &hact_cls)) return am__error(AM_ERR_UNSUPPORTED, "config: hidden_act \"%s\" is not a supported activation", hact);
    bool conv_bias = am__config_bool(c, "conv_bias", false);
    double eps = am__config_float(c, "layer_norm_eps", 1e-5), hp = am__config_float(c, "hidden_dropout", 0.1);
    w->H = H, w->C = dim[nd - 1], w->nconv = nd, w->eps = eps, w->pos_k = K, w->pos_groups = G;
    w->layer_norm_convs = !strcmp(norm, "layer");
    w->stable = am__config_bool(c, "do_stable_layer_norm", false);
    w->layerdrop = am__config_float(c, "layerdrop", 0.1);
    am__module *base = task == AM_TASK_BASE ? m->root : am__module_new(m->root, "wav2vec2", "Wav2Vec2Model");
    /* feature encoder */
    am__module *fe = am__module_new(base, "feature_extractor", "Wav2Vec2FeatureEncoder"), *cl = am__module_new(fe, "conv_layers", "ModuleList");
    char idx[32];
    for (int64_t i = 0; i < nd; i++) {
        am__w2v_conv *cv = &w->conv[i];
        *cv = (am__w2v_conv){NULL, NULL, i ? dim[i - 1] : 1, dim[i], kr[i], st[i]};
        bool group = !w->layer_norm_convs && i == 0;
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(cl, idx, w->layer_norm_convs ? "Wav2Vec2LayerNormConvLayer" : group ? "Wav2Vec2GroupNormConvLayer" : "Wav2Vec2NoLayerNormConvLayer");
        cv->conv = am__nn_conv1d(L, "conv", cv->in, cv->out, kr[i], st[i], 0, 1, conv_bias);
        /* _init_weights: kaiming_normal_ (fan_in, gain sqrt(2)); bias U(-k, k), k = sqrt(1 / fan_in) */
        am__param *cw = am__module_find_param(cv->conv, "weight"), *cb = am__module_find_param(cv->conv, "bias");
        cw->init = AM_INIT_NORMAL_STD, cw->init_a = sqrt(2.0 / (double)(cv->in * kr[i]));
        if (cb) uniform_init(cb, -sqrt(1.0 / (double)(cv->in * kr[i])), sqrt(1.0 / (double)(cv->in * kr[i])));
        if (w->layer_norm_convs) cv->norm = am__nn_layernorm(L, "layer_norm", cv->out, 1e-5);
        am__nn_leaf(L, "activation", fact_cls);
        if (group) {
            cv->norm = am__module_new(L, "layer_norm", "GroupNorm");
            am__module_set_extra(cv->norm, "%lld, %lld, eps=1e-05, affine=True", (long long)cv->out, (long long)cv->out);
            am__module_param(cv->norm, "weight", 1, &cv->out, AM_INIT_ONES);
            am__module_param(cv->norm, "bias", 1, &cv->out, AM_INIT_ZEROS);
        }
    }
    /* feature projection (_init_weights: U(-k, k), k = 1 / sqrt(in_features), weight and bias) */
    am__module *fp = am__module_new(base, "feature_projection", "Wav2Vec2FeatureProjection");
    w->fp_ln = am__nn_layernorm(fp, "layer_norm", w->C, eps);
    w->fp_proj = am__nn_linear(fp, "projection", w->C, H, true);
    uniform_init(am__module_find_param(w->fp_proj, "weight"), -1.0 / sqrt((double)w->C), 1.0 / sqrt((double)w->C));
    uniform_init(am__module_find_param(w->fp_proj, "bias"), -1.0 / sqrt((double)w->C), 1.0 / sqrt((double)w->C));
    w->fp_drop = (am__drop){am__nn_dropout(fp, "dropout", am__config_float(c, "feat_proj_dropout", 0.0)), 0};
    if (am__config_float(c, "mask_time_prob", 0.05) > 0 || am__config_float(c, "mask_feature_prob", 0.0) > 0) {
        /* a parameter of the model itself: state_dict() lists it before the submodules */
        uniform_init(am__module_param(base, "masked_spec_embed", 1, &H, AM_INIT_UNIFORM), 0.0, 1.0);
        w->spec_embed = base;
    }
    /* encoder */
    am__module *enc = am__module_new(base, "encoder", w->stable ? "Wav2Vec2EncoderStableLayerNorm" : "Wav2Vec2Encoder");
    am__module *pce = am__module_new(enc, "pos_conv_embed", "Wav2Vec2PositionalConvEmbedding");
    w->pos_conv = am__module_new(pce, "conv", "Conv1d");
    char grp[48] = "";
    if (G != 1) snprintf(grp, sizeof grp, ", groups=%lld", (long long)G);
    am__module_set_extra(w->pos_conv, "%lld, %lld, kernel_size=(%lld,), stride=(1,), padding=(%lld,)%s", (long long)H, (long long)H, (long long)K,
                         (long long)(K / 2), grp);
    /* torch's weight_norm: bias stays, weight becomes weight_g [1, 1, K] and weight_v [H, H/G, K].
     * Init: v as Conv1d's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (_init_weights' normal_ on the
     * computed weight does not last), bias 0, g = the expected norm of v over (out, in) */
    int64_t gshape[3] = {1, 1, K}, vshape[3] = {H, H / G, K}, fan = (H / G) * K;
    am__module_param(w->pos_conv, "bias", 1, &H, AM_INIT_ZEROS);
    double gexp = sqrt((double)(H * (H / G)) / (3.0 * (double)fan));
    uniform_init(am__module_param(w->pos_conv, "weight_g", 3, gshape, AM_INIT_UNIFORM), gexp, gexp);
    uniform_init(am__module_param(w->pos_conv, "weight_v", 3, vshape, AM_INIT_UNIFORM), -1.0 / sqrt((double)fan), 1.0 / sqrt((double)fan));
    am__nn_leaf(pce, "padding", "Wav2Vec2SamePadLayer");
    am__nn_leaf(pce, "activation", fact_cls);
    w->enc_ln = am__nn_layernorm(enc, "layer_norm", H, eps);
    w->enc_drop = (am__drop){am__nn_dropout(enc, "dropout", hp), 0};
    if ((s = am__stack_alloc(&w->enc, layers)) != AM_OK) return s;
    w->enc.H = H;
    w->enc.pre_norm = w->stable;
    am__module *list = am__module_new(enc, "layers", "ModuleList");
    double ap = am__config_float(c, "attention_dropout", 0.1), actp = am__config_float(c, "activation_dropout", 0.1);
    for (int64_t i = 0; i < layers; i++) {
        am__layer *l = &w->enc.layer[i];
        snprintf(idx, sizeof idx, "%lld", (long long)i);
        am__module *L = am__module_new(list, idx, w->stable ? "Wav2Vec2EncoderLayerStableLayerNorm" : "Wav2Vec2EncoderLayer");
        l->self = w2v_attention(L, H, heads, ap);
        l->d_self = (am__drop){am__nn_dropout(L, "dropout", hp), 0};
        l->n_self = (am__norm){am__nn_layernorm(L, "layer_norm", H, eps), AM__NORM_LAYER, eps};
        am__module *ff = am__module_new(L, "feed_forward", "Wav2Vec2FeedForward");
        am__module *idrop = am__nn_dropout(ff, "intermediate_dropout", actp);
        am__module *fc1 = am__nn_linear(ff, "intermediate_dense", H, inter, true);
        am__nn_leaf(ff, "intermediate_act_fn", hact_cls);
        am__module *fc2 = am__nn_linear(ff, "output_dense", inter, H, true);
        l->mlp = (am__mlp){fc1, NULL, fc2, false, inter, ha, {idrop, 0}};
        l->d_mlp = (am__drop){am__nn_dropout(ff, "output_dropout", hp), 0};
        l->n_mlp = (am__norm){am__nn_layernorm(L, "final_layer_norm", H, eps), AM__NORM_LAYER, eps};
    }
    if (task == AM_TASK_BASE) return AM_OK;
    if (task == AM_TASK_CTC) {
        int64_t V = am__config_int(c, "vocab_size", 32);
        if (am__config_is_null(c, "vocab_size") || V <= 0)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "You are trying to instantiate Wav2Vec2ForCTC with a configuration that does not define the vocabulary size of the language "
                             "model head. Please instantiate the model as follows: `Wav2Vec2ForCTC.from_pretrained(..., vocab_size=vocab_size)`. or define "
                             "`vocab_size` of your model's configuration.");
        w->final_drop = (am__drop){am__nn_dropout(m->root, "dropout", am__config_float(c, "final_dropout", 0.1)), 0};
        w->lm_head = am__nn_linear(m->root, "lm_head", H, V, true);
        return AM_OK;
    }
    /* Wav2Vec2ForSequenceClassification */
    int64_t P = am__config_int(c, "classifier_proj_size", 256), NL = am_config_num_labels(c), n = layers + 1;
    if (P <= 0) return am__error(AM_ERR_FORMAT, "config: classifier_proj_size must be positive");
    w->weighted = am__config_bool(c, "use_weighted_layer_sum", false);
    if (w->weighted) {
        uniform_init(am__module_param(m->root, "layer_weights", 1, &n, AM_INIT_UNIFORM), 1.0 / (double)n, 1.0 / (double)n);
        w->layer_weights_owner = m->root;
    }
    w->projector = am__nn_linear(m->root, "projector", H, P, true);
    w->classifier = am__nn_linear(m->root, "classifier", P, NL, true);
    return AM_OK;
}
