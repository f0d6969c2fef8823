/* models/seq2seq.c — the encoder state shared by encoder-decoder models (cross-attention K/V and
 * padding mask, computed once per generate call and repeated for beams), input checks, and
 * the attention call over rows of a preallocated cache. */
#include "models/seq2seq.h"
#include "core/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void am__s2s_enc_free(void *p) {
    am__s2s_enc *e = p;
    if (!e) return;
    for (int64_t l = 0; l < e->layers; l++) {
        if (e->ck) free(e->ck[l]);
        if (e->cv) free(e->cv[l]);
    }
    free(e->ck);
    free(e->cv);
    free(e->mask);
    free(e);
}

am_status am__s2s_enc_new(am_model *m, const float *hidden, const int64_t *mask, int64_t B, int64_t S, int64_t expand, int64_t layers,
                          int64_t inner, am__cross_kv_fn kv, am__s2s_enc **out) {
    *out = NULL;
    if (expand < 1) expand = 1;
    am__s2s_enc *e = calloc(1, sizeof *e);
    if (!e) return am__error(AM_ERR_NO_MEMORY, "encoder state: out of memory");
    int64_t R = B * expand, row = S * inner;
    *e = (am__s2s_enc){R, S, layers, inner, calloc((size_t)(layers ? layers : 1), sizeof(float *)),
                       calloc((size_t)(layers ? layers : 1), sizeof(float *)), malloc((size_t)(R * S > 0 ? R * S : 1) * sizeof(float))};
    float *tk = malloc((size_t)(B * row > 0 ? B * row : 1) * sizeof(float)), *tv = malloc((size_t)(B * row > 0 ? B * row : 1) * sizeof(float));
    bool ok = e->ck && e->cv && e->mask && tk && tv;
    for (int64_t l = 0; ok && l < layers; l++) {
        e->ck[l] = malloc((size_t)(R * row > 0 ? R * row : 1) * sizeof(float));
        e->cv[l] = malloc((size_t)(R * row > 0 ? R * row : 1) * sizeof(float));
        ok = e->ck[l] && e->cv[l];
        if (!ok) break;
        /* project the B distinct rows once, then copy them to their beams */
        kv(m, l, B * S, hidden, tk, tv);
        for (int64_t r = 0; r < R; r++) {
            memcpy(e->ck[l] + r * row, tk + (r / expand) * row, (size_t)row * sizeof(float));
            memcpy(e->cv[l] + r * row, tv + (r / expand) * row, (size_t)row * sizeof(float));
        }
    }
    free(tk);
    free(tv);
    if (!ok) {
        am__s2s_enc_free(e);
        return am__error(AM_ERR_NO_MEMORY, "encoder state: out of memory (%lld rows x %lld positions)", (long long)R, (long long)S);
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < S; j++) e->mask[r * S + j] = mask && mask[(r / expand) * S + j] == 0 ? AM_FINFO_MIN_F32 : 0.0f;
    *out = e;
    return AM_OK;
}

am_status am__s2s_encoder_inputs(const am_tensors *in, am_tensor **ids, am_tensor **mask, int64_t *B, int64_t *S) {
    *ids = *mask = NULL;
    *B = *S = -1;
    if (!in || !am_tensors_get(in, "input_ids"))
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: an encoder-decoder model needs input_ids for its encoder");
    *ids = am__input_ids(in, "input_ids", B, S, true);
    if (!*ids) return AM_ERR_SHAPE;
    if (*B == 0 || *S == 0) {
        am_tensor_free(*ids);
        *ids = NULL;
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate: input_ids is empty (shape [%lld, %lld]); the encoder needs at least one token per row",
                         (long long)*B, (long long)*S);
    }
    if (am_tensors_get(in, "attention_mask")) {
        *mask = am__input_ids(in, "attention_mask", B, S, false);
        if (!*mask) {
            am_tensor_free(*ids);
            *ids = NULL;
            return AM_ERR_SHAPE;
        }
    }
    return AM_OK;
}

float *am__s2s_mask_add(const uint8_t *mask, int64_t B, int64_t stride, int64_t Tk) {
    if (!mask) return NULL;
    float *m = malloc((size_t)(B * Tk > 0 ? B * Tk : 1) * sizeof(float));
    if (!m) {
        am__oom_note();
        return NULL;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Tk; j++) m[b * Tk + j] = mask[b * stride + j] ? 0.0f : AM_FINFO_MIN_F32;
    return m;
}

am_status am__s2s_attend(const am_model *m, am__attn_role role, int64_t B, int64_t Tq, int64_t Tk, int64_t cap, int64_t heads, int64_t dk,
                         const float *q, const float *k, const float *v, const float *mask_add, bool causal, const float *bias, float scale,
                         float dropout_p, uint64_t seed, float *out) {
    int64_t inner = heads * dk;
    am__attn_args a = am__attn_packed(B, Tq, Tk, heads, heads, dk, q, inner, k, v, inner, out, inner);
    a.kv_batch = cap * inner;
    a.mask_add = mask_add, a.causal = causal, a.bias = bias, a.scale = scale, a.dropout_p = dropout_p, a.seed = seed;
    return am__attend(m, role, &a);
}
