/* nn/blocks.h — the transformer engine every architecture is described with: linear layers on any
 * float weight dtype (one entry point), norms, embeddings, MLPs, attention (self/cross,
 * bidirectional/causal, padding masks, T5 relative bias, rotary, GQA, KV cache, dropout), and ONE
 * layer stack that runs encoders and decoders from a per-architecture descriptor.
 *
 * Forward never writes into the model: the per-call state (dropout seed, scratch, caches) is the
 * caller's (am__fwd, am__kv_cache, am__cross). Weights are read in their stored dtype. */
#ifndef AM_NN_BLOCKS_H
#define AM_NN_BLOCKS_H
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "nn/module.h"

typedef struct am__norm am__norm;

/* ---- per-call state ---- */

typedef struct am__fwd {
    uint64_t seed;  /* dropout masks of this call derive from it */
    uint64_t draws; /* masks drawn so far */
    bool training;  /* the model's mode (functional dropout, as F.dropout(training=self.training)) */
    /* how attention runs: the model's attn_implementation and output_attentions recording
     * (role: AM__ATTN_SELF / _DECODER / _CROSS of models/model.h); NULL: am__attention as given */
    am_status (*attend)(const void *owner, int role, am__attn_args *a);
    const void *owner;
} am__fwd;

/* A dropout site: an nn.Dropout module (follows its own mode), or a functional F.dropout with p
 * (follows am__fwd.training) when mod is NULL. */
typedef struct am__drop {
    const am__module *mod;
    double p;
} am__drop;
float am__drop_p(const am__fwd *cx, am__drop d); /* p in force (0 in eval mode) */
uint64_t am__fwd_seed(am__fwd *cx);              /* the next mask's seed */
void am__drop_fwd(am__fwd *cx, am__drop d, int64_t n, float *x);

/* ---- linear layers: THE entry point for every product with a weight ---- */

/* nn.Linear ([out, in] weight) or, with kn, GPT-2's Conv1D ([in, out]) on rows, any float weight
 * dtype: a few rows (decode) stream the weights once through the GEMV as stored; more rows go to
 * the GEMM. AM_ERR_NO_MEMORY (message set) when a converted weight cannot be allocated. */
am_status am__dense(const am__module *lin, bool kn, int64_t M, const float *x, float *y);
am_status am__linear_fwd(const am__module *lin, int64_t M, const float *x, float *y); /* am__dense(kn = false) */
/* A head's transform: y = norm(act(lin(x))) (pooler: tanh, no norm; BertPredictionHeadTransform:
 * act then LayerNorm; DistilBERT's pre_classifier: relu). norm may be NULL. */
am_status am__transform_fwd(const am__module *lin, am__act act, const am__norm *norm, int64_t M, const float *x, float *y);
/* A float tensor of any float dtype as float32: the data when already float32, else a converted
 * copy in *tmp (free it); NULL with AM_ERR_NO_MEMORY set when the copy cannot be made. */
const float *am__f32_view(const am_tensor *t, float **tmp);
/* Row `row` of a 2-D float tensor (an embedding table) as float32 into dst. */
void am__row_f32(const am_tensor *t, int64_t row, float *dst);
/* A float32 output [d0, .., d(ndim-1)] copied into `out` under `name`. */
am_status am__put_output(am_tensors *out, const char *name, int ndim, const int64_t *shape, const float *data);

/* ---- norms ---- */

typedef enum am__norm_kind { AM__NORM_LAYER = 0, AM__NORM_RMS } am__norm_kind; /* RMS: LlamaRMSNorm, T5LayerNorm */
struct am__norm {
    const am__module *mod; /* NULL: no norm */
    am__norm_kind kind;
    double eps;
};
am_status am__norm_fwd(const am__norm *n, int64_t M, const float *x, float *y);
am_status am__layernorm_fwd(const am__module *ln, int64_t M, const float *x, float *y, double eps);

/* ---- embeddings ---- */

typedef struct am__embed {
    const am__module *word;   /* token table [V, H] */
    const am__module *pos;    /* learned positions [P, H], NULL when none (rotary, relative) */
    const am__module *type;   /* token types [TV, H], NULL when none */
    int64_t pos_offset;       /* BART's learned positions start at row 2 */
    bool type_from_word;      /* GPT-2: token_type_ids index the word table */
    float scale;              /* token rows times scale (BART's scale_embedding; 0 = 1) */
    const char *pos_limit;    /* config key named when a position is out of range */
    am__norm norm;            /* after the sum (BERT, BART), or none */
    am__drop drop;
} am__embed;
/* x[M, H] = word[ids]*scale + pos[pos + offset] + type[types]; then norm and dropout. pos and types
 * may be NULL (positions 0.. per row of T are used when pos is NULL; T = M when rows is 1). Every
 * id is range-checked (AM_ERR_INVALID_ARGUMENT naming the input). */
am_status am__embed_fwd(am__fwd *cx, const am__embed *e, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos, const int64_t *types, float *x);

/* ---- vision (nn/vision.c) ---- */

/* A Conv2d with kernel = stride (ViT's patch_embeddings.projection, through am__conv2d_f32) on pixels [B, C, Hi, Wi]
 * (float32, contiguous): y row (b, gy, gx) of [B * (Hi/kh) * (Wi/kw), out] at row stride ld; the
 * remainder rows/columns of a size that is not a multiple of the kernel are dropped, as torch does. */
am_status am__patch_embed_fwd(const am__module *conv, int64_t B, int64_t C, int64_t Hi, int64_t Wi, const float *px, float *y, int64_t ld);
/* A Conv1d module (weight [O, C/groups, K], bias) on x [B, C, L] (channels_first) or [B, L, C], float32
 * contiguous, zero padding `pad` on both sides: y [B, Lout, O] (rows per position), through
 * kernels/conv.c as a 2-D convolution of height 1; Lout = (L + 2 pad - K) / stride + 1. */
am_status am__conv1d_fwd(const am__module *conv, int64_t B, int64_t C, int64_t L, const float *x, bool channels_first, int64_t stride, int64_t pad,
                         int64_t groups, float *y, int64_t *Lout);
/* F.interpolate(mode="bicubic", align_corners=False) of a grid stored position-major, in
 * [ih, iw, C] -> out [oh, ow, C]. scale_h/scale_w: the scale_factor the caller passed to torch
 * (its reciprocal maps output to input coordinates), 0 when it passed a size (then in/out). */
/* F.interpolate(mode="bilinear", align_corners=False, size=(oh, ow)) of a grid [ih, iw, C] -> [oh, ow, C]. */
am_status am__bilinear_hwc(int64_t ih, int64_t iw, int64_t C, const float *in, int64_t oh, int64_t ow, float *out);
am_status am__bicubic_hwc(int64_t ih, int64_t iw, int64_t C, const float *in, int64_t oh, int64_t ow, double scale_h, double scale_w, float *out);

/* ---- rotary embeddings (Llama) ---- */

typedef enum am__rope_kind { AM__ROPE_DEFAULT = 0, AM__ROPE_LINEAR, AM__ROPE_DYNAMIC } am__rope_kind;
typedef struct am__rope {
    int64_t dim, max_pos; /* rotary dim (= head dim), max_position_embeddings */
    double base, factor;
    am__rope_kind kind;
} am__rope;
/* inv_freq = 1 / base ** (arange(0, dim, 2) / dim), in float32 as torch computes it */
void am__rope_inv_freq(int64_t dim, double base, float *out);
/* cos/sin tables [max_pos, dim] of rotary_emb.cos_cached/sin_cached at load (linear scaling). */
void am__rope_fill_cache(const am__rope *r, float *out, bool sine);

/* ---- the layer stack ---- */

/* Attention of one layer: separate q/k/v projections, or one fused Conv1D (GPT-2's c_attn). In
 * cross-attention, qkv is a fused K|V projection of the encoder state (GPT-2's crossattention.c_attn,
 * output [K | V]) beside a separate q. */
typedef struct am__attn {
    const am__module *q, *k, *v, *o, *qkv;
    bool kn;                /* Conv1D weights */
    int64_t heads, kv_heads, head_dim;
    float scale;            /* score scale (1/sqrt(d), 1 for T5, per layer for GPT-2's inverse-layer option) */
    am__drop probs;         /* dropout on the probabilities */
} am__attn;

/* act(fc1(x)) -> fc2, or with gate: act(gate(x)) * fc1(x) -> fc2; inner dropout after the product. */
typedef struct am__mlp {
    const am__module *fc1, *gate, *fc2;
    bool kn;
    int64_t inner;
    am__act act;
    am__drop inner_drop;
} am__mlp;

typedef struct am__layer {
    am__attn self, cross; /* cross.o NULL: no cross-attention */
    am__mlp mlp;
    am__norm n_self, n_cross, n_mlp;
    am__drop d_self, d_cross, d_mlp; /* on each sublayer's output, before the residual */
} am__layer;

/* The architecture descriptor of a stack. pre_norm: x += drop(f(norm(x))); post-norm:
 * x = norm(x + drop(f(x))). */
typedef struct am__stack {
    int64_t n, H;
    am__layer *layer;   /* n layers (owned: am__stack_free) */
    bool pre_norm, causal;
    int attn_role;       /* whose attentions these are (0: a model's or encoder's, 1: a decoder's; cross is 2) */
    am__norm final_norm; /* after the last layer (GPT-2 ln_f, Llama norm, T5 final_layer_norm) */
    am__drop final_drop;
    const am__rope *rope;            /* rotary on q and k, NULL when none */
    const am__module *rel_bias;      /* T5 relative_attention_bias [buckets, heads] of layer 0, shared by the stack */
    int64_t rel_buckets, rel_max_distance;
} am__stack;

/* device_map "disk": read ahead (release false) or drop from the resident set (release true) the
 * offloaded weights of one layer; am__stack_forward calls it around every layer (nn/stack.c). */
void am__layer_pages(const am__layer *L, bool release);

/* Allocates st->layer for n layers (zeroed); AM_ERR_NO_MEMORY with a message when it cannot. */
am_status am__stack_alloc(am__stack *st, int64_t n);
void am__stack_free(am__stack *st);

/* Per layer K and V for B rows: element (layer, b, head, pos, d). Every row holds `len` positions. */
typedef struct am__kv_cache {
    int64_t layers, B, Hkv, D, cap;
    int64_t len;
    float *k, *v;
} am__kv_cache;
am__kv_cache *am__kv_new(int64_t layers, int64_t B, int64_t Hkv, int64_t D, int64_t cap);
am_status am__stack_cache_new(const am__stack *st, int64_t B, int64_t cap, am__kv_cache **out);
void am__kv_free(am__kv_cache *c);
/* Beam search: row b takes the first `len` positions of row src[b] (src may repeat rows). */
am_status am__kv_reorder(am__kv_cache *c, const int64_t *src);

/* What a decoder's cross-attention sees of the encoder: per layer K and V rows [B, S, kv width]
 * and the encoder padding mask (bytes and additive, [B, S]); rows repeated `expand` times (beams). */
typedef struct am__cross {
    int64_t B, S, layers, width;
    float **k, **v;
    uint8_t *mask;
    float *mask_add;
} am__cross;
am_status am__cross_new(const am__stack *dec, const float *enc_hidden, const int64_t *enc_mask, int64_t B, int64_t S, int64_t expand, am__cross **out);
void am__cross_free(void *cross);

typedef struct am__stack_io {
    int64_t B, T;          /* rows and new tokens per row */
    float *x;              /* [B*T, H]: the embeddings in, the stack's output out */
    const int64_t *pos;    /* positions [B*T] for rotary (NULL: 0.. per row after the cache) */
    const uint8_t *mask;   /* key padding mask [B, mask_stride] (1 = attend) over past + T keys, NULL = all */
    int64_t mask_stride;
    am__kv_cache *cache;   /* generation: K/V appended, attention over the cache; NULL: over the T tokens */
    const am__cross *cross; /* NULL: cross-attention layers are skipped (a decoder run alone) */
    am_tensors *hs;        /* hidden states "<hs_name>.i" go there when not NULL */
    const char *hs_name;
} am__stack_io;
am_status am__stack_forward(am__fwd *cx, const am__stack *st, am__stack_io *io);

/* Integer mask [n] (int64, 0 = masked) as bytes; NULL input gives *out = NULL. */
am_status am__mask_bytes(const int64_t *mask, int64_t n, uint8_t **out);
#endif
