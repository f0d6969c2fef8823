/* models/seq2seq.h — what encoder-decoder architectures (T5, BART) share on top of models/causal.h:
 * the encoder state a generate call computes once (cross-attention K/V per decoder layer and the
 * encoder padding mask, rows repeated for beams), attention over cached rows, and input checks. */
#ifndef AM_MODELS_SEQ2SEQ_H
#define AM_MODELS_SEQ2SEQ_H
#include "models/causal.h"

/* The decoder's view of the encoder output: per decoder layer K and V [B, S, inner], and the
 * additive encoder padding mask [B, S] (0 or finfo.min). Self-attention K/V live in an
 * am__kv_cache with Hkv = 1 and D = inner, i.e. rows [B, cap, inner]. */
typedef struct am__s2s_enc {
    int64_t B, S, layers, inner;
    float **ck, **cv;
    float *mask;
} am__s2s_enc;

/* cross-attention projections of one decoder layer over encoder hidden rows [M, d_model] */
typedef void (*am__cross_kv_fn)(am_model *m, int64_t layer, int64_t M, const float *enc_hidden, float *k, float *v);

/* Builds the encoder state from hidden [B, S, d_model] and mask (int64 [B, S] or NULL), each row
 * repeated `expand` times (beam search: row b*expand + j is input b). Owned; am__s2s_enc_free. */
am_status am__s2s_enc_new(am_model *m, const float *hidden, const int64_t *mask, int64_t B, int64_t S, int64_t expand, int64_t layers,
                          int64_t inner, am__cross_kv_fn kv, am__s2s_enc **out);
void am__s2s_enc_free(void *enc);

/* generate()'s encoder inputs: input_ids (required, [B, S], not empty) and attention_mask
 * (optional, same shape), as owned int64 tensors. */
am_status am__s2s_encoder_inputs(const am_tensors *in, am_tensor **ids, am_tensor **mask, int64_t *B, int64_t *S);

/* A step's decoder self-attention mask: bytes [B, stride] (1 = attend) over Tk keys -> additive
 * [B, Tk] (owned), NULL when mask is NULL. */
float *am__s2s_mask_add(const uint8_t *mask, int64_t B, int64_t stride, int64_t Tk);

/* Multi-head attention (am__attend, role as there) of q [B, Tq, inner] against K/V rows laid out
 * [B, cap, inner] of which the first Tk are used; mask_add [B, Tk] or NULL; bias [heads, Tq, Tk] or
 * NULL (shared by the batch). */
am_status am__s2s_attend(const am_model *m, am__attn_role role, int64_t B, int64_t Tq, int64_t Tk, int64_t cap, int64_t heads, int64_t dk,
                         const float *q, const float *k, const float *v, const float *mask_add, bool causal, const float *bias, float scale,
                         float dropout_p, uint64_t seed, float *out);
#endif
