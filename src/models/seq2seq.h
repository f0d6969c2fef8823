/* models/seq2seq.h — the encoder-decoder architecture (T5, BART, Whisper) as data: two embeddings, the two
 * stacks (nn/blocks.h) and the heads; one forward for every head and the generation interface
 * (encoder once, cross-attention K/V per layer, decoder steps over the KV cache). Without an encoder
 * (BartForCausalLM) the decoder runs alone and generates as a decoder-only model. */
#ifndef AM_MODELS_SEQ2SEQ_H
#define AM_MODELS_SEQ2SEQ_H
#include "models/causal.h"

typedef struct am__s2s_impl {
    am__embed enc_emb, dec_emb;
    am__stack enc, dec;
    bool has_encoder, has_decoder; /* T5EncoderModel: no decoder; BartForCausalLM: no encoder */
    bool shift_inputs;     /* decoder_input_ids made from input_ids when absent (shift right) */
    bool dec_positions;    /* the decoder's learned positions count from the cache length (BART) */
    int64_t V, max_pos;    /* max_pos: 0 = no limit */
    am__module *lm_head;
    float head_scale;      /* T5 with tied embeddings: d_model^-0.5 before the LM head; else 1 */
    am__param *logits_bias; /* BART's final_logits_bias, or NULL */
    am__module *qa;        /* qa_outputs on the decoder output */
    am__module *cls_dense, *cls_out; /* Bart/T5ClassificationHead at the last <eos> of input_ids */
    am__drop cls_drop;
    /* an encoder that reads features instead of tokens (Whisper: the conv front end on
     * input_features): the encoder stack's input x [B*S, H] (owned) and B, S from the inputs;
     * NULL: the token embeddings of input_ids. front_mod: its modules (Whisper: conv1, conv2,
     * embed_positions). */
    am_status (*front)(am_model *m, am__fwd *cx, const am_tensors *in, float **x, int64_t *B, int64_t *S);
    const am__module *front_mod[3];
} am__s2s_impl;
/* m->impl = a zeroed am__s2s_impl with forward, free and (for seq2seq-lm) generation ops set. */
am_status am__s2s_init(am_model *m, const char *const *input_names, am__s2s_impl **out);
/* The layers of a BART-family stack (BART, Whisper), in their module order: self_attn,
 * [activation_fn], self_attn_layer_norm, [encoder_attn, encoder_attn_layer_norm] (decoder), fc1,
 * fc2, final_layer_norm; "<cls>EncoderLayer" / "<cls>DecoderLayer" modules under `layers`, the
 * attentions made by `attn`, functional dropouts (ph on every sublayer output, pa on the
 * probabilities, pact inside the MLP). Fills st (allocated here) except pre_norm and final_norm. */
typedef am__attn (*am__s2s_attn_fn)(am__module *parent, const char *name, int64_t D, int64_t heads, double p);
typedef struct am__s2s_layers_spec {
    const char *cls; /* "Bart", "Whisper" */
    am__s2s_attn_fn attn;
    int64_t n, D, heads, ffn;
    const char *act_cls;
    am__act act;
    double ph, pa, pact;
} am__s2s_layers_spec;
am_status am__s2s_layers(am__module *stack_mod, bool decoder, const am__s2s_layers_spec *sp, am__stack *st);
/* shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id) as BART and T5 do it */
am_status am__shift_right(const am_model *m, const int64_t *ids, int64_t B, int64_t T, int64_t *out);
#endif
