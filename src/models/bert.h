/* models/bert.h — the BERT encoder stack, shared with RoBERTa (transformers' "Copied from Bert"). */
#ifndef AM_MODELS_BERT_H
#define AM_MODELS_BERT_H
#include "models/model.h"

typedef struct am__bert_layer {
    am__module *q, *k, *v, *attn_out, *attn_ln, *inter, *out, *out_ln;
} am__bert_layer;

typedef struct am__bert_encoder {
    int64_t H, heads, layers, inter;
    double eps;
    am__act act;
    am__bert_layer *layer;
} am__bert_encoder;

/* Builds `<prefix>Encoder` (ModuleList of `<prefix>Layer`) under parent as "encoder". */
am_status am__bert_encoder_build(am_model *m, am__module *parent, const char *prefix, am__bert_encoder *enc);
/* x: [B*T, H] in/out. hidden_states (optional): called after every layer with the layer index. */
am_status am__bert_encoder_forward(const am__bert_encoder *enc, int64_t B, int64_t T, float *x, const float *mask_add, am_tensors *out,
                                   bool output_hidden_states);
/* Classification heads shared by the BERT family. */
am_status am__token_head_forward(const am__module *classifier, int64_t B, int64_t T, const float *h, am_tensors *out);
am_status am__qa_head_forward(const am__module *qa, int64_t B, int64_t T, const float *h, am_tensors *out);
#endif
