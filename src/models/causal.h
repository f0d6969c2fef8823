/* models/causal.h — what generation needs from a model, and what decoder architectures share: a KV
 * cache preallocated per layer (so each new token costs one step), the step interface the
 * generation loop drives, and dense/norm helpers that run decode-sized products on the GEMV. */
#ifndef AM_MODELS_CAUSAL_H
#define AM_MODELS_CAUSAL_H
#include "models/model.h"

/* Per layer K and V for B rows: element (layer, b, head, pos, d). Every row holds `len` positions. */
typedef struct am__kv_cache {
    int64_t layers, B, Hkv, D, cap;
    int64_t len;
    float *k, *v;
} am__kv_cache;

am__kv_cache *am__kv_new(int64_t layers, int64_t B, int64_t Hkv, int64_t D, int64_t cap);
void am__kv_free(am__kv_cache *c);
static inline int64_t am__kv_row_stride(const am__kv_cache *c) { return c->Hkv * c->cap * c->D; }
static inline float *am__kv_k(am__kv_cache *c, int64_t layer) { return c->k + layer * c->B * am__kv_row_stride(c); }
static inline float *am__kv_v(am__kv_cache *c, int64_t layer) { return c->v + layer * c->B * am__kv_row_stride(c); }
/* Writes new keys/values x[B*T, Hkv*D] (row stride ld) at positions len..len+T-1. */
void am__kv_store(am__kv_cache *c, int64_t layer, bool value, int64_t T, const float *x, int64_t ld);
/* Attention arguments of T new queries per row (q [B, T, q_row], heads of D side by side) over
 * layer `layer` of the cache: the len earlier positions plus the T new ones (already stored),
 * causal; key_mask [B, mask_stride] bytes (1 = attend) or NULL. out [B, T, out_row]. */
am__attn_args am__kv_attn_args(am__kv_cache *c, int64_t layer, int64_t B, int64_t T, int64_t Hq, const float *q, int64_t q_row, const uint8_t *key_mask,
                               int64_t mask_stride, float *out, int64_t out_row);
/* Beam search: row b takes the first `len` positions of row src[b] (src may repeat rows). */
am_status am__kv_reorder(am__kv_cache *c, const int64_t *src);

/* The generation loop talks to a model only through this table (am_model.gen). Decoder-only
 * models leave encode NULL; an encoder-decoder computes its encoder outputs once in encode (rows
 * repeated `expand` times for beams) and reads them in every step. */
typedef struct am__gen_ops {
    bool encoder_decoder;
    /* longest sequence (prompt + new tokens) the model can take; 0 = no limit */
    int64_t (*max_positions)(const am_model *m);
    int64_t (*vocab_size)(const am_model *m);
    am_status (*cache_new)(const am_model *m, int64_t B, int64_t cap, am__kv_cache **out);
    am_status (*encode)(am_model *m, const am_tensors *inputs, int64_t expand, void **enc);
    void (*enc_free)(void *enc);
    /* T new tokens per row (ids and position ids [B, T]) after cache->len earlier positions.
     * mask: [B, mask_stride] with 1 where a key may be attended, covering the len+T keys (NULL: all).
     * Writes the logits of each row's last new token into logits [B, V]; advances cache->len. */
    am_status (*step)(am_model *m, am__kv_cache *cache, void *enc, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                      const uint8_t *mask, int64_t mask_stride, float *logits);
} am__gen_ops;

/* nn.Linear ([N,K] weight) and Conv1D ([K,N] weight) on rows, whatever the weight dtype: few rows go
 * to the GEMV on the stored weights, more to the GEMM. */
/* RMSNorm (Llama, T5) with the module's "weight". */
void am__rmsnorm_fwd(const am__module *norm, int64_t M, const float *x, float *y, double eps);
/* Adds row `id` of an embedding table (any float dtype) into dst[dim]. */
void am__embed_add(const am_tensor *table, int64_t id, float *dst);
/* Logits pooling of GPT-2/Llama sequence classification: index of the first pad id minus one,
 * the last position when that is negative (Python's -1) or the row has no pad. */
int64_t am__last_non_pad(const int64_t *ids, int64_t T, int64_t pad, bool has_pad);
/* Integer mask input [B, T] as bytes (1 = attend); NULL when the input is absent. */
uint8_t *am__mask_bytes(const am_tensor *mask_i64, int64_t n);
#endif
