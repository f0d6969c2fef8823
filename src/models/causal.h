/* models/causal.h — what generation needs from a model (the step interface the generation loop
 * drives over a KV cache, nn/blocks.h), and the decoder-only architecture shared by GPT-2 and Llama. */
#ifndef AM_MODELS_CAUSAL_H
#define AM_MODELS_CAUSAL_H
#include "models/model.h"

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

/* A decoder-only architecture as data (GPT-2, Llama): embeddings, the causal stack, the head.
 * One forward serves model(**inputs) and every generation step (through the KV cache). */
typedef struct am__causal_impl {
    am__embed emb;
    am__stack st;
    am__rope rope;
    am__module *head;   /* lm_head / score / classifier / qa_outputs */
    am__drop head_drop; /* token classification */
    int64_t max_pos;    /* longest sequence (0: no limit) */
    int64_t pad;
    bool has_pad;
} am__causal_impl;
/* m->impl = a zeroed am__causal_impl with forward, free, generation ops (for the LM head) set. */
am_status am__causal_init(am_model *m, const char *const *input_names, am__causal_impl **out);
/* GPT-2's module tree for config c under root (task picks GPT2Model or the head), described in g;
 * tied names start with prefix ("" for GPT-2 itself, "decoder." inside VisionEncoderDecoderModel).
 * With add_cross_attention the blocks carry crossattention / ln_cross_attn (used when the stack gets
 * an encoder state). */
am_status am__gpt2_describe(am_model *m, const am_config *c, am__module *root, am_task task, const char *prefix, am__causal_impl *g);
#endif
