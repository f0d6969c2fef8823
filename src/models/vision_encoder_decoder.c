/* models/vision_encoder_decoder.c — VisionEncoderDecoderModel (modeling_vision_encoder_decoder.py):
 * a ViT encoder and a GPT-2 LM decoder with cross-attention, composed from their own descriptions
 * (models/vit.c, models/gpt2.c); enc_to_dec_proj when the hidden sizes differ; generation from
 * pixel_values through the encoder-decoder interface (encoder once, decoder steps over the KV cache). */
#include "core/error.h"
#include "models/causal.h"
#include "models/vit.h"
#include <stdlib.h>
#include <string.h>

extern const am__config_default am__vit_defaults[], am__gpt2_defaults[];

/* VisionEncoderDecoderConfig has no defaults of its own: encoder and decoder are whole configs */
const am__config_default am__ved_defaults[] = {{NULL, NULL}};

static const char *const k_ved_inputs[] = {"pixel_values", "decoder_input_ids", "decoder_attention_mask", NULL};

typedef struct ved_impl {
    am_config *enc_cfg, *dec_cfg; /* config.encoder / config.decoder as their own classes */
    am__vit vit;
    am__causal_impl dec;
    am__module *proj; /* enc_to_dec_proj, NULL when the widths agree */
} ved_impl;

static void ved_free(void *p) {
    ved_impl *v = p;
    if (!v) return;
    am__stack_free(&v->vit.enc);
    am__stack_free(&v->dec.st);
    am_config_free(v->enc_cfg);
    am_config_free(v->dec_cfg);
    free(v);
}

/* config.encoder must be a ViT, config.decoder a GPT-2 (the pairs this build composes) */
static const cJSON *sub_config(const am_config *c, const char *key, const char *type, const char *origin) {
    const cJSON *v = am__config_value(c, key);
    const cJSON *mt = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "model_type") : NULL;
    if (!cJSON_IsObject(v)) {
        am__error(AM_ERR_FORMAT, "%s: a VisionEncoderDecoderConfig needs \"%s\", the %s's config", origin, key, key);
        return NULL;
    }
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, type)) {
        am__error(AM_ERR_UNSUPPORTED, "%s: %s model_type %s%s%s is not supported in a VisionEncoderDecoderModel (only %s)", origin, key,
                  cJSON_IsString(mt) ? "\"" : "", cJSON_IsString(mt) ? mt->valuestring : "(none)", cJSON_IsString(mt) ? "\"" : "", type);
        return NULL;
    }
    return v;
}

am_status am__ved_config_init(am_config *c, const char *origin) {
    if (!sub_config(c, "encoder", "vit", origin) || !sub_config(c, "decoder", "gpt2", origin)) return AM_ERR_FORMAT;
    return AM_OK;
}

/* the encoder's output as the decoder's cross-attention state: [B, S, enc H] -> proj -> K/V */
static am_status encoder_state(am_model *m, am__fwd *cx, const am_tensor *px, int64_t expand, am_tensors *hs, float **enc_out, int64_t *S, am__cross **cross) {
    ved_impl *v = m->impl;
    *cross = NULL;
    float *h = NULL, *p = NULL;
    am_status s = am__vit_encode(cx, &v->vit, px, false, hs, "encoder_hidden_states", &h, S);
    int64_t B = px->shape[0], M = B * *S, D = v->dec.st.H;
    if (s == AM_OK && v->proj) {
        if (!(p = malloc((size_t)(M * D) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for enc_to_dec_proj");
        else s = am__linear_fwd(v->proj, M, h, p);
    }
    if (s == AM_OK) s = am__cross_new(&v->dec.st, p ? p : h, NULL, B, *S, expand, cross);
    free(p);
    if (s == AM_OK && enc_out) *enc_out = h;
    else free(h);
    return s;
}

static am_status ved_forward(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out) {
    ved_impl *v = m->impl;
    bool hs = opts && opts->output_hidden_states;
    am_tensor *px = NULL, *ids = NULL, *mask = NULL;
    am_status s = am__pixel_values(in, v->vit.C, &px);
    int64_t B = px ? px->shape[0] : -1, T = -1, S = 0, D = v->dec.st.H, E = v->vit.enc.H;
    const am_tensor *raw = am_tensors_get(in, "decoder_input_ids");
    if (s == AM_OK && !raw) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: You have to specify either decoder_input_ids or decoder_inputs_embeds");
    if (s == AM_OK) {
        if (am_tensor_ndim(raw) == 2) T = am_tensor_dim(raw, 1);
        if (!(ids = am__input_ids(in, "decoder_input_ids", &B, &T, true))) s = AM_ERR_SHAPE;
        else if (T == 0) s = am__error(AM_ERR_INVALID_ARGUMENT, "forward: decoder_input_ids is empty");
    }
    if (s == AM_OK) s = am__opt_input(in, "decoder_attention_mask", &B, &T, &mask);
    am__fwd cx = am__fwd_begin(m);
    float *enc = NULL, *x = NULL, *logits = NULL;
    am__cross *cross = NULL;
    uint8_t *dm = NULL;
    if (s == AM_OK) s = encoder_state(m, &cx, px, 1, hs ? out : NULL, &enc, &S, &cross);
    if (s == AM_OK) s = am__mask_bytes(mask ? mask->data : NULL, B * T, &dm);
    if (s == AM_OK && !(x = malloc((size_t)(B * T * D) * sizeof(float)))) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the decoder");
    if (s == AM_OK) s = am__embed_fwd(&cx, &v->dec.emb, B, T, ids->data, NULL, NULL, x);
    if (s == AM_OK) {
        am__stack_io io = {.B = B, .T = T, .x = x, .mask = dm, .mask_stride = T, .cross = cross, .hs = hs ? out : NULL, .hs_name = "decoder_hidden_states"};
        s = am__stack_forward(&cx, &v->dec.st, &io);
    }
    if (s == AM_OK) s = am__linear_output(v->dec.head, B, T, true, x, out, "logits");
    if (s == AM_OK) s = am__put_output(out, "encoder_last_hidden_state", 3, (int64_t[]){B, S, E}, enc);
    am__cross_free(cross);
    free(enc);
    free(x);
    free(logits);
    free(dm);
    am_tensor_free(px);
    am_tensor_free(ids);
    am_tensor_free(mask);
    return s;
}

/* ---- generation ---- */

static am_status ved_encode(am_model *m, const am_tensors *in, int64_t expand, void **enc) {
    ved_impl *v = m->impl;
    *enc = NULL;
    am_tensor *px = NULL;
    am_status s = am__pixel_values(in, v->vit.C, &px);
    am__fwd cx = am__fwd_begin(m);
    int64_t S = 0;
    if (s == AM_OK) s = encoder_state(m, &cx, px, expand, NULL, NULL, &S, (am__cross **)enc);
    am_tensor_free(px);
    return s;
}

static am_status ved_cache_new(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out) {
    return am__stack_cache_new(&((const ved_impl *)m->impl)->dec.st, B, cap, out);
}

static am_status ved_step(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos, const uint8_t *mask,
                          int64_t mask_stride, float *logits) {
    ved_impl *v = m->impl;
    (void)pos; /* GPT-2 gets no position_ids from VisionEncoderDecoderModel: they count on from the cache length */
    if (T <= 0 || B != cache->B || !enc)
        return am__error(AM_ERR_INVALID_ARGUMENT, "decoder step: bad arguments (%lld rows, %lld tokens)", (long long)B, (long long)T);
    am__fwd cx = am__fwd_begin(m);
    float *h = NULL;
    int64_t *p = malloc((size_t)(B * T) * sizeof(int64_t));
    am_status s = p ? AM_OK : am__error(AM_ERR_NO_MEMORY, "generate: out of memory");
    for (int64_t i = 0; p && i < B * T; i++) p[i] = cache->len + i % T;
    if (s == AM_OK) s = am__step_last(&cx, &v->dec.emb, &v->dec.st, B, T, ids, p, mask, mask_stride, cache, enc, &h);
    if (s == AM_OK) s = am__linear_fwd(v->dec.head, B, h, logits);
    free(h);
    free(p);
    return s;
}

static int64_t ved_vocab(const am_model *m) { return am__module_find_param(((const ved_impl *)m->impl)->dec.head, "weight")->shape[0]; }
static int64_t ved_max_positions(const am_model *m) { return ((const ved_impl *)m->impl)->dec.max_pos; }

static const am__gen_ops k_ved_gen = {true, ved_max_positions, ved_vocab, ved_cache_new, ved_encode, am__cross_free, ved_step};

/* export/: the ViT encoder as a ViT's graph description, the GPT-2 decoder with its cross-attention
 * and enc_to_dec_proj for export/onnx_seq2seq.c */
static void ved_describe(const am_model *m, am__describe *d) {
    const ved_impl *v = m->impl;
    *d = (am__describe){.stack = &v->vit.enc, .patch = v->vit.proj, .vit_emb = v->vit.emb, .final_ln = {v->vit.ln, AM__NORM_LAYER, v->vit.eps},
                        .xdec = &v->dec, .enc_to_dec = v->proj};
}

am_status am__ved_build(am_model *m) {
    ved_impl *v = calloc(1, sizeof *v);
    if (!v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    m->impl = v;
    m->impl_free = ved_free;
    m->forward = ved_forward;
    m->input_names = k_ved_inputs;
    m->gen = &k_ved_gen;
    m->describe = ved_describe;
    const cJSON *ej = sub_config(m->config, "encoder", "vit", "config"), *dj = ej ? sub_config(m->config, "decoder", "gpt2", "config") : NULL;
    if (!ej || !dj) return AM_ERR_FORMAT;
    v->enc_cfg = am__config_new(cJSON_Duplicate(ej, true), am__vit_defaults, "ViTConfig");
    v->dec_cfg = am__config_new(cJSON_Duplicate(dj, true), am__gpt2_defaults, "GPT2Config");
    if (!v->enc_cfg || !v->dec_cfg) return am__error(AM_ERR_NO_MEMORY, "out of memory for the encoder and decoder configs");
    if (!am__config_bool(v->dec_cfg, "add_cross_attention", false))
        return am__error(AM_ERR_FORMAT, "config: the decoder of a VisionEncoderDecoderModel needs add_cross_attention (its config has it false)");
    am_status s = am__vit_build(v->enc_cfg, am__module_new(m->root, "encoder", "ViTModel"), true, &v->vit);
    if (s == AM_OK) s = am__gpt2_describe(m, v->dec_cfg, am__module_new(m->root, "decoder", "GPT2LMHeadModel"), AM_TASK_CAUSAL_LM, "decoder.", &v->dec);
    if (s != AM_OK) return s;
    v->dec.st.attn_role = AM__ATTN_DECODER;
    int64_t E = v->vit.enc.H, D = v->dec.st.H;
    if (E != D && am__config_is_null(v->dec_cfg, "cross_attention_hidden_size")) v->proj = am__nn_linear(m->root, "enc_to_dec_proj", E, D, true);
    else if (E != D)
        return am__error(AM_ERR_UNSUPPORTED, "config: decoder.cross_attention_hidden_size is not supported (the encoder is %lld wide, the decoder %lld)",
                         (long long)E, (long long)D);
    return AM_OK;
}
