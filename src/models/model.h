/* models/model.h — the model object shared by every architecture: module tree, config, ties,
 * loading report and the architecture's forward function; plus helpers architecture files use. */
#ifndef AM_MODELS_MODEL_H
#define AM_MODELS_MODEL_H
#include "core/config.h"
#include "kernels/kernels.h"
#include "nn/blocks.h"

typedef struct am__head_spec am__head_spec;

/* What export/ needs to write a model's forward as a graph: the very descriptors the forward runs
 * (so the two cannot drift) and how its head reads the stack's output. Filled by the
 * architecture's describe hook; every pointer is borrowed from the model. */
typedef struct am__describe {
    const am__embed *emb;
    const am__stack *stack;
    bool token_types;            /* token_type_ids is a forward input */
    bool roberta_positions;      /* positions = pad + running count of non-pad tokens (else 0..T-1) */
    int64_t pad;
    const am__module *pooler;    /* dense + tanh on the first token: pooler_output (BERT) */
    bool cls_on_pooler;          /* sequence classification reads pooler_output */
    const am__module *cls_dense; /* sequence classification: dense + cls_act on the first token first */
    am__act cls_act;
    const am__module *classifier; /* sequence / token classification */
    const am__module *qa;         /* qa_outputs: start / end logits */
    const am__module *lm_dense, *lm_decoder; /* LM heads: decoder(norm(act(dense(h)))); no dense: decoder(h) */
    bool pool_last;              /* sequence classification on the last non-pad token (GPT-2, Llama) */
    bool has_pad;
    bool decoder;                /* a decoder-only model: --with-past graphs (KV cache) can be written */
    /* ViT (pixel_values in, emb unused): the patch Conv2d (kernel = stride = patch), the module
     * holding cls_token and position_embeddings, the LayerNorm after the stack */
    const am__module *patch, *vit_emb;
    am__norm final_ln;
    am__act lm_act;
    am__norm lm_norm;
    /* an encoder-decoder (models/seq2seq.h am__s2s_impl): export/onnx_seq2seq.c writes its graphs */
    const void *s2s;
    /* VisionEncoderDecoderModel: the ViT encoder in the ViT fields above (stack, patch, vit_emb,
     * final_ln), its GPT-2 decoder with cross-attention and enc_to_dec_proj (NULL when the widths agree) */
    const struct am__causal_impl *xdec;
    const am__module *enc_to_dec;
    /* BertLMHeadModel / RobertaForCausalLM: --with-past graphs can be written too, without a
     * position_ids input (the positions count on from the past length, as their forward does) */
    bool causal_encoder;
    /* vision / audio models whose graphs export/onnx_vision.c and onnx_audio.c write from the
     * architecture's own parts (models/media.h); NULL for the others */
    const struct am__yolos *yolos;
    const struct am__segformer *segformer;
    const struct am__wav2vec2 *wav2vec2;
} am__describe;

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
    /* device_map (auto/device_map.c): transformers' hf_device_map as JSON (NULL without a
     * device_map), and the "disk" tensors (one reference each), dropped from the resident set
     * after every call */
    char *hf_device_map;
    am_tensor **offloaded;
    size_t n_offloaded;
    int quant_bits; /* 8 or 4: loaded quantized (auto/quantize.c, is_loaded_in_8bit / _4bit); 0 otherwise */
    /* the bitsandbytes state tensors state_dict() lists after each quantized weight (SCB, the
     * 4-bit quant state: am__quant_state_tensors), made on the first state-dict call (auto/model.c) */
    char **qs_name;
    am_tensor **qs_t;
    size_t n_qs;
    bool qs_built;
    /* the graph description for export/ (NULL: the architecture cannot be exported yet) */
    void (*describe)(const am_model *m, am__describe *d);
    /* loaded from a hub id: the snapshot's commit, and the load's cache_dir / subfolder (NULL when
     * not given), so later files of the same snapshot (the export's tokenizer files) can be fetched */
    char *hub_commit, *hub_cache_dir, *hub_subfolder;
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

/* Helpers for forward functions (the blocks themselves are nn/blocks.h). */
/* The per-call state of one forward for the blocks: the call's dropout stream, the model's mode,
 * and attention through am__attend (attn_implementation, output_attentions). */
am__fwd am__fwd_begin(am_model *m);
/* An input tensor converted to int64 [B, T] (owned), validated; NULL with error. */
am_tensor *am__input_ids(const am_tensors *in, const char *name, int64_t *B, int64_t *T, bool required);
/* An optional input: AM_OK with *out = NULL when absent, an error (message set) when present but
 * of the wrong rank, shape or dtype; otherwise *out is an owned int64 copy. */
am_status am__opt_input(const am_tensors *in, const char *name, int64_t *B, int64_t *T, am_tensor **out);
/* Check that every input name is one the architecture accepts (transformers' TypeError). */
am_status am__check_inputs(const am_model *m, const am_tensors *in);
/* Runs an embedding and a stack on ids [B, T] (pos, types optional; mask int64 [B, T] or NULL):
 * *hidden = the stack output [B*T, H] (owned). Hidden states go to `hs` as "<hs_name>.i". */
am_status am__encode(am__fwd *cx, const am__embed *e, const am__stack *st, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                     const int64_t *types, const int64_t *mask, am_tensors *hs, const char *hs_name, float **hidden);

/* One generation step: ids [B, T] (positions pos, or NULL for 0.. after the cache) through an
 * embedding and a stack over its KV cache (and encoder state, or NULL); *last = the hidden state
 * of every row's last new token [B, H] (owned). */
am_status am__step_last(am__fwd *cx, const am__embed *e, const am__stack *st, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                        const uint8_t *mask, int64_t mask_stride, am__kv_cache *cache, const am__cross *cross, float **last);

/* Heads shared by architectures. rows: [R, H] -> lin -> output `name` [R, N] or [B, T, N]. */
am_status am__linear_output(const am__module *lin, int64_t B, int64_t T, bool per_token, const float *h, am_tensors *out, const char *name);
/* qa_outputs: start_logits / end_logits [B, T] */
am_status am__qa_head_forward(const am__module *qa, int64_t B, int64_t T, const float *h, am_tensors *out);
/* The rows at[b] of every batch row of h [B, T, H] into an owned [B, H]; NULL (error set) on no memory. */
float *am__gather_rows(const float *h, int64_t B, int64_t T, int64_t H, const int64_t *at);
/* Logits pooling of GPT-2/Llama sequence classification: index of the first pad id minus one,
 * the last position when that is negative (Python's -1) or the row has no pad. */
int64_t am__last_non_pad(const int64_t *ids, int64_t T, int64_t pad, bool has_pad);
/* Sequence-classification pooling over rows: the position at[b] of every row (last non-pad token);
 * "Cannot handle batch sizes > 1 if no padding token is defined." as transformers says. */
am_status am__last_token_index(const int64_t *ids, int64_t B, int64_t T, bool has_pad, int64_t pad, int64_t *at);
/* The last eos position of every row (BART / T5 classification): every row needs the same count. */
am_status am__eos_index(const int64_t *ids, int64_t B, int64_t T, int64_t eos, int64_t *at);
/* A fresh seed from this call's dropout stream (see am__call); 0 in eval mode. am__fwd_begin takes
 * one for the blocks, which derive every dropout site's seed from it. */
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
 * am__fwd_begin / am__dropout_seed without an extra parameter through every layer function.
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
void am__call_end(am__call *c); /* also drops the model's offloaded weights from the resident set */
void am__offload_release_all(const am_model *m); /* auto/device_map.c */
/* output_attentions for the call: begin after am__call_begin (logs transformers' fallback warning
 * once when the model is not eager); end before am__call_end appends the recorded tensors to `out`
 * under transformers' names when `ok`, and frees them. */
am_status am__attn_record_begin(am__call *c);
am_status am__attn_record_end(am__call *c, am_tensors *out, bool ok);
#endif
