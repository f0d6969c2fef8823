/* models/seq2seq.h — what encoder-decoder architectures (T5, BART) share: the decoder state (self-
 * attention KV cache and cross-attention K/V computed once from the encoder output) and the
 * operations generation drives (encode once, decode steps, reorder rows for beam search). */
#ifndef AM_MODELS_SEQ2SEQ_H
#define AM_MODELS_SEQ2SEQ_H
#include "models/model.h"

/* Decoder state for B rows. Self-attention K/V per layer: [B, cap, inner] with `len` positions
 * filled; cross-attention K/V per layer: [B, S, inner], computed from the encoder output once. */
typedef struct am__s2s_cache {
    int64_t B, S, cap, len, inner, layers;
    float **sk, **sv; /* [layers] -> [B, cap, inner] */
    float **ck, **cv; /* [layers] -> [B, S, inner] */
    float *enc_mask;  /* additive [B, S] from the encoder attention mask (0 / finfo.min) */
} am__s2s_cache;

/* Allocates the cache (K/V uninitialised; len = 0). enc_mask: int64 [B, S] or NULL (all ones). */
am_status am__s2s_cache_init(am__s2s_cache *c, int64_t layers, int64_t B, int64_t S, int64_t cap, int64_t inner, const int64_t *enc_mask);
void am__s2s_cache_free(am__s2s_cache *c);
/* Beam search: row r of the new state is row idx[r] of the old one (self and cross K/V, mask). */
am_status am__s2s_cache_reorder(am__s2s_cache *c, const int64_t *idx);

/* Multi-head attention of q [B, Tq, inner] against K/V rows laid out [B, cap, inner] of which the
 * first Tk are used; mask_add [B, Tk] or NULL; bias [heads, Tq, Tk] or NULL (shared by the batch). */
void am__s2s_attend(int64_t B, int64_t Tq, int64_t Tk, int64_t cap, int64_t heads, int64_t dk, const float *q, const float *k, const float *v,
                    const float *mask_add, bool causal, const float *bias, float scale, float dropout_p, uint64_t seed, float *out);

/* What generation calls on an encoder-decoder model (am_model.seq2seq). */
typedef struct am__seq2seq_ops {
    /* Encoder over ids [B, S] (mask int64 [B, S] or NULL): hidden [B, S, d_model] (owned, malloc). */
    am_status (*encode)(am_model *m, const int64_t *ids, const int64_t *mask, int64_t B, int64_t S, float **hidden);
    /* New decoder state over encoder hidden [B, S, d_model] with room for `cap` decoder positions. */
    am_status (*start)(am_model *m, const float *enc_hidden, const int64_t *enc_mask, int64_t B, int64_t S, int64_t cap, am__s2s_cache *c);
    /* T new decoder tokens per row (ids [B, T]) appended to the state; logits of the last position
     * of every row into logits [B, V] (the head's output: lm_head, biases, rescale included). */
    am_status (*step)(am_model *m, am__s2s_cache *c, const int64_t *ids, int64_t T, float *logits);
    int64_t (*vocab_size)(const am_model *m);
} am__seq2seq_ops;

/* The ops of an encoder-decoder model, or NULL for other models. */
const am__seq2seq_ops *am__model_seq2seq(const am_model *m);

/* Checks the decoder start id: decoder_start_token_id, else bos_token_id, as transformers'
 * _get_decoder_start_token_id; error naming the model's config otherwise. */
am_status am__decoder_start_id(const am_model *m, int64_t *out);
#endif
