/* models/model.h — the model object shared by every architecture: module tree, config, ties,
 * loading report and the architecture's forward function; plus helpers architecture files use. */
#ifndef AM_MODELS_MODEL_H
#define AM_MODELS_MODEL_H
#include "core/config.h"
#include "kernels/kernels.h"
#include "nn/module.h"

typedef struct am__head_spec am__head_spec;

typedef am_status (*am__forward_fn)(am_model *m, const am_tensors *in, const am_forward_options *opts, am_tensors *out);

struct am_model {
    am__module *root;
    am_config *config;
    const am__head_spec *spec;
    am_dtype dtype;
    /* tied parameters: alias -> target (full dotted names), re-established after loading */
    char **tie_alias, **tie_target;
    size_t n_ties;
    /* loading report */
    char **missing, **unexpected, **mismatched, **mm_ckpt, **mm_model;
    size_t n_missing, n_unexpected, n_mismatched;
    am_log_level *log_levels;
    char **log_msgs;
    size_t n_log;
    am_loading_info info;
    /* architecture state */
    void *impl;
    void (*impl_free)(void *);
    am__forward_fn forward;
    /* names of forward() keyword arguments the architecture accepts (NULL-terminated) */
    const char *const *input_names;
    char *name_or_path;
    am_attn_impl attn; /* attn_implementation in force: AM_ATTN_EAGER, _SDPA or _FLASH (never DEFAULT) */
    /* training-mode forward/generate calls that drew their dropout seed from the model (atomic;
     * the only field a call writes, and only in training mode; see am__call) */
    uint64_t dropout_calls;
    /* generation interface (models/causal.h); NULL for models that cannot generate */
    const struct am__gen_ops *gen;
    cJSON *generation_config; /* generation_config.json of the checkpoint, NULL when it has none */
    am__matmul_prec matmul_prec; /* load option float32_matmul_precision (DEFAULT: the environment's) */
};

typedef am_status (*am__build_fn)(am_model *m);

/* One row of the registry: (model_type, task) -> class and builder. */
struct am__head_spec {
    const char *model_type;
    am_task task;
    const char *class_name;
    am__build_fn build;
    const char *const *tied_weights_keys;     /* _tied_weights_keys (regex), NULL-terminated */
    const char *const *ignore_missing;        /* _keys_to_ignore_on_load_missing */
    const char *const *ignore_unexpected;     /* _keys_to_ignore_on_load_unexpected */
    bool can_generate;
    const char *const *keep_in_fp32_modules; /* _keep_in_fp32_modules, NULL-terminated */
};

/* One row per model_type: config class, defaults, base_model_prefix. */
typedef struct am__type_spec {
    const char *model_type;
    const char *config_class;
    const am__config_default *defaults;
    const char *base_model_prefix;
} am__type_spec;

const am__type_spec *am__type_lookup(const char *model_type);
const am__type_spec *am__model_type_spec(const am_model *m);

/* Declare that parameter `alias` is the same tensor as `target` (both full names). */
void am__model_tie(am_model *m, const char *alias, const char *target);
/* Give every 2-D float32 parameter the model's float32 matmul precision (after load and .to()). */
am_status am__model_apply_matmul_prec(am_model *m);
/* Point every alias at its target's tensor. */
void am__model_apply_ties(am_model *m);

/* Helpers for forward functions. */
/* Borrowed float32 data of a parameter (asserts it exists: the tree was built by the arch). */
const float *am__w(const am__module *m, const char *pname);
/* Float tensors of any float dtype as float32: a view when already float32, else a converted copy
 * in *tmp (free it). */
const float *am__f32_view(const am_tensor *t, float **tmp);
/* Row `row` of a 2-D float tensor (an embedding table) as float32 into dst. */
void am__row_f32(const am_tensor *t, int64_t row, float *dst);
/* nn.Linear / GPT-2 Conv1D on rows, any float weight dtype: a few rows (decode) stream the weights
 * once through the GEMV as stored; more rows go to the GEMM on a float32 view. am__dense_fwd is
 * am__linear_fwd under the name the decoder code uses. */
void am__dense_fwd(const am__module *lin, int64_t M, const float *x, float *y);
void am__conv1d_fwd(const am__module *conv, int64_t M, const float *x, float *y);
extern int am__gemv_disabled; /* -1: from AM_NO_GEMV; 1: products go to the GEMM (benchmarks) */
/* nn.Linear on rows: y[M, out] = x[M, in] W^T + b. */
void am__linear_fwd(const am__module *lin, int64_t M, const float *x, float *y);
/* nn.LayerNorm on rows. */
void am__layernorm_fwd(const am__module *ln, int64_t M, const float *x, float *y, double eps);
/* An input tensor converted to int64 [B, T] (owned), validated; NULL with error. */
am_tensor *am__input_ids(const am_tensors *in, const char *name, int64_t *B, int64_t *T, bool required);
/* An optional input: AM_OK with *out = NULL when absent, an error (message set) when present but
 * of the wrong rank, shape or dtype; otherwise *out is an owned int64 copy. */
am_status am__opt_input(const am_tensors *in, const char *name, int64_t *B, int64_t *T, am_tensor **out);
/* Check that every input name is one the architecture accepts (transformers' TypeError). */
am_status am__check_inputs(const am_model *m, const am_tensors *in);
/* Put a float32 [d0, d1, (d2)] output into `out` (takes ownership of data copy). */
am_status am__put_output(am_tensors *out, const char *name, int ndim, const int64_t *shape, const float *data);
/* nn.Dropout: identity in eval mode; in training mode zeroes with the module's p. */
void am__dropout_fwd(am_model *m, const am__module *drop, int64_t n, float *x);
/* The attention-probability dropout p to use (0 in eval mode). */
float am__dropout_p(const am__module *drop);
/* A fresh seed for kernels that apply dropout themselves (this call's stream; see am__call). */
uint64_t am__dropout_seed(am_model *m);
/* Which output list an attention call's probabilities belong to under output_attentions: a model's
 * self-attention (attentions.N; encoder_attentions.N in an encoder-decoder), a decoder's
 * self-attention (decoder_attentions.N in an encoder-decoder, else attentions.N), cross-attention
 * (cross_attentions.N). */
typedef enum am__attn_role { AM__ATTN_SELF = 0, AM__ATTN_DECODER, AM__ATTN_CROSS } am__attn_role;
/* Attention for a layer of `m`: runs am__attention with the model's implementation. While the
 * active call (am__call) asked for output_attentions, it runs eager and records the probabilities
 * [B, heads, Tq, Tk] in the call, in call order per role. */
am_status am__attend(const am_model *m, am__attn_role role, am__attn_args *a);

/* Per-call state of am_model_forward / am_model_generate. The model is read-only during a call;
 * what a call needs to keep (dropout stream here; KV caches, RNG, scratch and RoPE tables live in
 * the call's own stack frames and allocations) is created per call and owned by it. The active
 * call is found through a thread-local pointer, so architecture code reaches it from
 * am__dropout_fwd / am__dropout_seed without an extra parameter through every layer function.
 * Training mode: the call's dropout base is `seed` when nonzero, else the model's next call
 * number (one atomic increment of m->dropout_calls); every dropout site then takes the next value
 * of this call's own counter, so a call's masks are a pure function of its base. Eval mode draws
 * nothing and writes nothing. */
typedef struct am__call {
    am_model *model;
    bool training;
    uint64_t dropout_base;
    uint64_t dropout_sites;
    struct am__call *prev; /* the call active on this thread before (nested calls) */
    struct am__attn_rec *attn_rec; /* output_attentions: what am__attend recorded (NULL: not asked) */
} am__call;
void am__call_begin(am__call *c, am_model *m, uint64_t seed);
void am__call_end(am__call *c);
/* output_attentions for the call: begin after am__call_begin (logs transformers' fallback warning
 * once when the model is not eager); end before am__call_end appends the recorded tensors to `out`
 * under transformers' names when `ok`, and frees them. */
am_status am__attn_record_begin(am__call *c);
am_status am__attn_record_end(am__call *c, am_tensors *out, bool ok);
/* Additive mask [B, T] from an optional attention_mask input: 0 where 1, finfo.min where 0. */
float *am__additive_mask(const am_tensor *attention_mask, int64_t B, int64_t T);
#endif
