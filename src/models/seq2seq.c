/* models/seq2seq.c — the decoder state shared by encoder-decoder models: KV cache allocation, beam
 * reordering, attention over cached rows, and the decoder start id rule of transformers. */
#include "models/seq2seq.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

static float **alloc_layers(int64_t layers, size_t each) {
    float **v = calloc((size_t)(layers ? layers : 1), sizeof *v);
    if (!v) return NULL;
    for (int64_t l = 0; l < layers; l++) {
        v[l] = malloc(each ? each : 1);
        if (!v[l]) {
            for (int64_t k = 0; k < l; k++) free(v[k]);
            free(v);
            return NULL;
        }
    }
    return v;
}

static void free_layers(float **v, int64_t layers) {
    for (int64_t l = 0; v && l < layers; l++) free(v[l]);
    free(v);
}

am_status am__s2s_cache_init(am__s2s_cache *c, int64_t layers, int64_t B, int64_t S, int64_t cap, int64_t inner, const int64_t *enc_mask) {
    memset(c, 0, sizeof *c);
    c->B = B;
    c->S = S;
    c->cap = cap;
    c->inner = inner;
    c->layers = layers;
    size_t self_bytes = (size_t)(B * cap * inner) * sizeof(float), cross_bytes = (size_t)(B * S * inner) * sizeof(float);
    c->sk = alloc_layers(layers, self_bytes);
    c->sv = alloc_layers(layers, self_bytes);
    c->ck = alloc_layers(layers, cross_bytes);
    c->cv = alloc_layers(layers, cross_bytes);
    c->enc_mask = malloc((size_t)(B * S > 0 ? B * S : 1) * sizeof(float));
    if (!c->sk || !c->sv || !c->ck || !c->cv || !c->enc_mask) {
        am__s2s_cache_free(c);
        return am__error(AM_ERR_NO_MEMORY, "generate: out of memory for the decoder cache (%lld rows, %lld positions)", (long long)B, (long long)cap);
    }
    for (int64_t i = 0; i < B * S; i++) c->enc_mask[i] = enc_mask && enc_mask[i] == 0 ? AM_FINFO_MIN_F32 : 0.0f;
    return AM_OK;
}

void am__s2s_cache_free(am__s2s_cache *c) {
    if (!c) return;
    free_layers(c->sk, c->layers);
    free_layers(c->sv, c->layers);
    free_layers(c->ck, c->layers);
    free_layers(c->cv, c->layers);
    free(c->enc_mask);
    memset(c, 0, sizeof *c);
}

/* rows of `row` elements: out[r] = in[idx[r]] through a scratch copy */
static am_status gather_rows(float *buf, int64_t B, int64_t row, const int64_t *idx, float *scratch) {
    memcpy(scratch, buf, (size_t)(B * row) * sizeof(float));
    for (int64_t r = 0; r < B; r++) {
        if (idx[r] < 0 || idx[r] >= B) return am__error(AM_ERR_INVALID_ARGUMENT, "generate: beam index %lld out of range", (long long)idx[r]);
        memcpy(buf + r * row, scratch + idx[r] * row, (size_t)row * sizeof(float));
    }
    return AM_OK;
}

am_status am__s2s_cache_reorder(am__s2s_cache *c, const int64_t *idx) {
    bool identity = true;
    for (int64_t r = 0; r < c->B; r++) identity &= idx[r] == r;
    if (identity) return AM_OK;
    int64_t big = c->cap > c->S ? c->cap : c->S;
    float *scratch = malloc((size_t)(c->B * big * c->inner + c->B * c->S + 1) * sizeof(float));
    if (!scratch) return am__error(AM_ERR_NO_MEMORY, "generate: out of memory reordering beams");
    am_status s = AM_OK;
    /* only the filled prefix of the self-attention rows matters, but rows are strided by cap */
    for (int64_t l = 0; s == AM_OK && l < c->layers; l++) {
        s = gather_rows(c->sk[l], c->B, c->cap * c->inner, idx, scratch);
        if (s == AM_OK) s = gather_rows(c->sv[l], c->B, c->cap * c->inner, idx, scratch);
        if (s == AM_OK) s = gather_rows(c->ck[l], c->B, c->S * c->inner, idx, scratch);
        if (s == AM_OK) s = gather_rows(c->cv[l], c->B, c->S * c->inner, idx, scratch);
    }
    if (s == AM_OK) s = gather_rows(c->enc_mask, c->B, c->S, idx, scratch);
    free(scratch);
    return s;
}

void am__s2s_attend(int64_t B, int64_t Tq, int64_t Tk, int64_t cap, int64_t heads, int64_t dk, const float *q, const float *k, const float *v,
                    const float *mask_add, bool causal, const float *bias, float scale, float dropout_p, uint64_t seed, float *out) {
    int64_t inner = heads * dk;
    if (cap == Tk) {
        am__attention_dropout_f32(B, Tq, Tk, heads, heads, dk, q, inner, k, inner, v, inner, mask_add, causal, bias, scale, dropout_p, seed, out, inner);
        return;
    }
    /* the kernel expects [B, Tk, .] rows back to back: one call per batch row over its cache */
    for (int64_t b = 0; b < B; b++)
        am__attention_dropout_f32(1, Tq, Tk, heads, heads, dk, q + b * Tq * inner, inner, k + b * cap * inner, inner, v + b * cap * inner, inner,
                                  mask_add ? mask_add + b * Tk : NULL, causal, bias, scale, dropout_p, seed + (uint64_t)b, out + b * Tq * inner,
                                  inner);
}

const am__seq2seq_ops *am__model_seq2seq(const am_model *m) { return m ? m->seq2seq : NULL; }

am_status am__decoder_start_id(const am_model *m, int64_t *out) {
    const am_config *c = m->config;
    if (!am__config_is_null(c, "decoder_start_token_id")) {
        *out = am__config_int(c, "decoder_start_token_id", 0);
        return AM_OK;
    }
    if (!am__config_is_null(c, "bos_token_id")) {
        *out = am__config_int(c, "bos_token_id", 0);
        return AM_OK;
    }
    return am__error(AM_ERR_INVALID_ARGUMENT,
                     "%s: `decoder_start_token_id` or `bos_token_id` has to be defined for encoder-decoder generation (neither is set in the config of %s)",
                     m->name_or_path ? m->name_or_path : "config", m->spec->class_name);
}
