/* export/onnx.h — the ONNX writer: a protobuf encoder of the few onnx.proto messages a model needs
 * (field numbers from proto/onnx.proto), a graph builder over it (nodes, weights as initializers
 * straight from the model's tensors, constants, inputs/outputs with dynamic axes), and the graph
 * emitter that walks the same nn/ descriptors (am__embed, am__stack, am__norm, am__mlp) the C
 * forward runs, so the exported graph and automodel's forward cannot drift apart. */
#ifndef AM_EXPORT_ONNX_H
#define AM_EXPORT_ONNX_H
#include "core/util.h"
#include "models/model.h"

/* ---- protobuf messages ---- */

/* A message being encoded: its own bytes, plus borrowed chunks (weights, as stored in the model)
 * that sit between those bytes at recorded offsets and are written without a copy. */
typedef struct am__pb_ext {
    size_t at; /* inline offset the chunk comes before */
    const void *p;
    uint64_t n;
} am__pb_ext;
typedef struct am__pb {
    am__buf b;
    am__pb_ext *ext;
    size_t n_ext, cap_ext;
    uint64_t ext_bytes;
    bool oom;
} am__pb;
uint64_t am__pb_size(const am__pb *m);
void am__pb_varint_field(am__pb *m, int field, uint64_t v);
void am__pb_float_field(am__pb *m, int field, float v);
void am__pb_str_field(am__pb *m, int field, const char *s);
/* A length-delimited field whose payload is borrowed (not copied): it must outlive the writing. */
void am__pb_borrow_field(am__pb *m, int field, const void *p, uint64_t n);
/* child appended as a length-delimited field; child is consumed (freed) */
void am__pb_msg_field(am__pb *m, int field, am__pb *child);
void am__pb_free(am__pb *m);
/* Writes m to f (borrowed chunks in place); AM_ERR_IO naming `path` on a short write. */
am_status am__pb_write(const am__pb *m, FILE *f, const char *path);

/* ---- graph builder ---- */

enum { AM__OX_FLOAT = 1, AM__OX_INT64 = 7, AM__OX_BOOL = 9, AM__OX_FLOAT16 = 10, AM__OX_BFLOAT16 = 16 };

typedef struct am__ox_attr {
    const char *name;
    int kind; /* 1 float, 2 int, 7 ints (AttributeProto.AttributeType) */
    int64_t i;
    float f;
    const int64_t *ints;
    int n;
} am__ox_attr;

typedef struct am__ox {
    am__pb nodes, inits, inputs, outputs;
    int opset;
    am_dtype wdtype;        /* the dtype weights are stored in (the model's, or the export's --dtype) */
    int64_t next;           /* counter for generated names */
    char **strs;            /* every generated name (owned) */
    size_t n_strs, cap_strs;
    const am_tensor **tens; /* weights already written, and the float32 value name each became */
    const char **tname;
    size_t n_tens, cap_tens, cap_tname;
    void **owned;           /* converted weight copies, freed after writing */
    size_t n_owned, cap_owned;
    bool external;          /* weights go to the external data file */
    am__pb data;            /* its contents (borrowed chunks and padding) */
    const char *data_name;  /* its file name, relative to the graph ("model.onnx_data") */
    am_status st;           /* first failure (message set) */
    /* casts_outer: the Cast after a non-float32 weight goes to outer_nodes, not nodes, so graphs
     * built one after the other as subgraphs (am__ox_subgraph) share it from the outer graph */
    bool casts_outer;
    am__pb outer_nodes;
} am__ox;

void am__ox_init(am__ox *g, int opset, am_dtype wdtype);
void am__ox_free(am__ox *g);
/* A node of op with inputs ("" = an omitted optional input; NULL = a failed producer) and attributes; returns
 * the name of its (first) output, owned by g. nout > 1: outputs are "<name>_<k>", see am__ox_out. */
const char *am__ox_op(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int nout);
const char *am__ox_out(am__ox *g, const char *first, int k);
/* am__ox_op with string attributes as well: nstr (name, value) pairs in str[2 * nstr] */
const char *am__ox_op_s(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int nstr, const char *const *str);
const char *am__ox_name(am__ox *g, const char *s); /* a copy of s owned by g */
const char *am__ox_1(am__ox *g, const char *op, const char *x);
const char *am__ox_2(am__ox *g, const char *op, const char *x, const char *y);
/* int64 / float32 constants (initializers) */
const char *am__ox_i64(am__ox *g, int n, const int64_t *v, bool scalar);
const char *am__ox_f32(am__ox *g, float v);
const char *am__ox_f32s(am__ox *g, int n, const float *v); /* a float32 vector [n] */
/* A model parameter as an initializer named by its state-dict name (written once per tensor, in
 * g->wdtype); returns the float32 value to compute with (a Cast follows non-float32 storage). */
const char *am__ox_weight(am__ox *g, const am__module *mod, const char *pname);
/* Graph input / output: elem type and dims (a dim name, or NULL for the fixed size in fixed[]). */
void am__ox_io(am__ox *g, bool output, const char *name, int elem, int ndim, const char *const *dims, const int64_t *fixed);
/* Renames the value `from` to the graph output name `to` (an Identity node). */
void am__ox_output_as(am__ox *g, const char *from, const char *to, int ndim, const char *const *dims, const int64_t *fixed);
/* A node whose outputs carry the given names (not generated ones), with graph attributes (type
 * GRAPH, AttributeProto.g: an If's then_branch / else_branch) gname[k] = graph[k] (am__ox_subgraph;
 * consumed when the node is written) after the attributes a[]. */
void am__ox_node(am__ox *g, const char *op, int nin, const char *const *in, int nattr, const am__ox_attr *a, int ngraph, const char *const *gname,
                 am__pb *const *graph, int nout, const char *const *out);
/* The nodes built so far, with `outputs` (value infos as g->outputs holds them; copied), as a
 * GraphProto named name for an If branch: no inputs, no initializers (they stay with the outer
 * graph, whose values the branch reads). g->nodes is emptied. */
am_status am__ox_subgraph(am__ox *g, const char *name, const am__pb *outputs, am__pb *out);
/* Finishes the ModelProto (opset import, producer) into *out; g's parts are consumed. */
am_status am__ox_model(am__ox *g, const char *graph_name, am__pb *out);

/* ---- the emitter over the nn/ descriptors ---- */

/* x @ W^T + b for a Linear (W^T stored for GPT-2's Conv1D: kn) */
const char *am__ox_linear(am__ox *g, const am__module *lin, bool kn, const char *x);
const char *am__ox_norm(am__ox *g, const am__norm *n, const char *x);
/* activation by transformers' name; NULL with g->st set when it has no graph form */
const char *am__ox_act(am__ox *g, am__act a, const char *x);
/* token + type + position embeddings, then the norm: ids [B,T]; types / positions may be NULL
 * (row 0 of the type table; positions 0..T-1) */
const char *am__ox_embed(am__ox *g, const am__embed *e, const char *ids, const char *types, const char *pos);
/* The additive key mask [B,1,1,S] (or [B,1,T,S] when causal: query i sees keys up to S - T + i)
 * from an int64 attention_mask [B,S] over past + new keys (NULL: all ones, S = T), as
 * transformers' get_extended_attention_mask: (1 - m) * finfo.min. */
const char *am__ox_mask(am__ox *g, const char *mask, const char *ids, bool causal);

/* What a stack's attention reads besides x: rotary tables and a KV cache. */
typedef struct am__ox_cache {
    const char *cos, *sin;            /* [B,1,T,D] (am__ox_rope), NULL without rotary */
    const char *const *past_k, *const *past_v; /* per layer [B,kv_heads,P,D]; NULL: no past */
    const char **present_k, **present_v;       /* per layer, filled with past + new keys/values; NULL: not wanted */
} am__ox_cache;
/* cos / sin of the rotary embedding at positions pos [B,T] (int64), as nn/stack.c's rope_tables */
void am__ox_rope(am__ox *g, const am__rope *r, const char *pos, am__ox_cache *c);
/* The layer stack (am__stack_forward without cross-attention) on x [B,T,H]; c may be NULL. */
const char *am__ox_stack(am__ox *g, const am__stack *st, const char *x, const char *mask_add, am__ox_cache *c);
/* an am__mlp on h; [B,T,heads*D] -> [B,heads,T,D] */
const char *am__ox_mlp(am__ox *g, const am__mlp *p, const char *h);
const char *am__ox_heads(am__ox *g, const char *x, int64_t heads, int64_t D);

/* ---- encoder-decoder models (export/onnx_seq2seq.c): T5, BART in Optimum's layout ---- */

/* The graphs of an encoder-decoder export: model.onnx (heads without generation), encoder_model.onnx,
 * decoder_model.onnx (with --with-past: present.N.decoder/encoder.key/value out) and
 * decoder_with_past_model.onnx (past_key_values.N.* in). */
typedef enum am__s2s_graph { AM__S2S_MODEL, AM__S2S_ENCODER, AM__S2S_DECODER, AM__S2S_DECODER_PAST } am__s2s_graph;
/* Refusals before anything is written (AM_OK: exportable); the files it writes into kinds / names (n). */
am_status am__ox_s2s_plan(const am_model *m, const am__describe *d, bool with_past, int *n, am__s2s_graph *kinds, const char **files, const char **data);
void am__ox_s2s_graph(am__ox *g, const am_model *m, const am__describe *d, am__s2s_graph kind, bool with_past);

/* ---- decoders with a KV cache ---- */

/* Optimum's decoder_model.onnx (past false) / decoder_with_past_model.onnx (past true) graph (export.c) */
void am__ox_decoder_graph(am__ox *g, const am_model *m, const am__describe *d, bool past);
/* Optimum's decoder_model_merged.onnx (onnx_merged.c): both graphs above as the branches of an If
 * on the input use_cache_branch, their weights shared from the outer graph */
void am__ox_merged_graph(am__ox *g, const am_model *m, const am__describe *d);

/* ---- vision and audio graphs (onnx_vision.c, onnx_audio.c), from models/media.h's parts ---- */
/* YOLOS / SegFormer: pixel_values [batch_size, num_channels, height, width] in, the head's outputs */
void am__ox_vision_graph(am__ox *g, const am_model *m, const am__describe *d);
/* Wav2Vec2: input_values [batch_size, sequence_length] (+ attention_mask when with_mask) in */
void am__ox_audio_graph(am__ox *g, const am_model *m, const am__describe *d, bool with_mask);
#endif
