/* automodel.h — the one public header of automodel: transformers' model loading and
 * management, in C. Everything not declared here is internal.
 *
 * Conventions: every public name starts with am_/AM_; functions return an am_status (AM_OK on
 * success) or NULL on failure, with a readable message in am_last_error(). Handles are opaque and
 * freed with their *_free function (freeing NULL is a no-op). Option structs come from
 * am_*_options_default() and start with their own size, so they can grow without breaking callers:
 * the library reads only `size` bytes of the caller's struct and gives every later field its
 * default, so a program built against an older header keeps working. size 0 (a struct not made by
 * am_*_options_default()) and a size larger than the library's struct (a newer header than the
 * library) are refused with AM_ERR_INVALID_ARGUMENT. ABI rule for this header: fields are only
 * appended, and a new field starts at or after the previous version's sizeof (explicit padding
 * fields where alignment would otherwise place it inside the old tail padding).
 * Ownership of every returned pointer is written next to the function. */
#ifndef AUTOMODEL_H
#define AUTOMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* AM_API marks what the shared library exports; everything else is built hidden. */
#if defined(_WIN32)
#define AM_API
#elif defined(AM_BUILDING_LIBRARY)
#define AM_API __attribute__((visibility("default")))
#else
#define AM_API
#endif

#define AM_VERSION_MAJOR 0
#define AM_VERSION_MINOR 1
#define AM_VERSION_PATCH 0
AM_API const char *am_version(void);
/* The CPU report, as one line of JSON (static storage, valid for the process; thread-safe): the
 * features detected ("cpu_features": avx2, fma, f16c, avx512f/bw/vl, avx512_vnni, avx512_bf16,
 * avx512_fp16, amx_bf16/int8/fp16), the level in force ("isa", after AM_MAX_ISA and
 * ONEDNN_MAX_CPU_ISA; "isa_cap" names the variable that capped it), oneDNN's ISA, and each
 * kernel's choice ("kernels": gemm_f32, gemm_bf16, gemm_f16, gemv, float32_matmul_precision).
 * Decided on the first call (or the first kernel call), then fixed. */
AM_API const char *am_cpu_report_json(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* X-macro table: code, name. Append only. */
#define AM_STATUS_TABLE(X)                                                                         \
    X(AM_OK, "ok")                                                                                 \
    X(AM_ERR_INVALID_ARGUMENT, "invalid argument")                                                 \
    X(AM_ERR_IO, "i/o error")                                                                      \
    X(AM_ERR_NOT_FOUND, "not found")                                                               \
    X(AM_ERR_FORMAT, "bad file format")                                                            \
    X(AM_ERR_UNSUPPORTED, "unsupported")                                                           \
    X(AM_ERR_NO_MEMORY, "out of memory")                                                           \
    X(AM_ERR_SHAPE, "shape mismatch")                                                              \
    X(AM_ERR_NETWORK, "network error")                                                             \
    X(AM_ERR_AUTH, "authentication required")                                                      \
    X(AM_ERR_INTERNAL, "internal error")

typedef enum am_status {
#define AM__STATUS_ENUM(code, name) code,
    AM_STATUS_TABLE(AM__STATUS_ENUM)
#undef AM__STATUS_ENUM
        AM_STATUS_COUNT
} am_status;

/* The message of the last failure on this thread (borrowed; valid until the next call that fails). */
AM_API const char *am_last_error(void);
/* A short name for a status code (static string). */
AM_API const char *am_status_name(am_status s);

/* How messages name an option that would fix the failure. AM_NAMING_API (the default) names
 * transformers' keyword arguments (`ignore_mismatched_sizes=True`, `token=<your_token>`);
 * AM_NAMING_CLI names the automodel command's flags (`--ignore-mismatched-sizes`, `--token`).
 * Process-wide (every thread): set it once before other calls, as the automodel command does. */
typedef enum am_option_naming { AM_NAMING_API = 0, AM_NAMING_CLI } am_option_naming;
AM_API void am_set_option_naming(am_option_naming naming);
AM_API am_option_naming am_get_option_naming(void);

/* ------------------------------------------------------------------------------------------ */
/* Logging                                                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef enum am_log_level {
    AM_LOG_DEBUG = 10,
    AM_LOG_INFO = 20,
    AM_LOG_WARNING = 30,
    AM_LOG_ERROR = 40,
    AM_LOG_OFF = 100
} am_log_level;

/* Messages at or above `level` go to the callback (default: stderr, level WARNING, or the
 * AM_LOG_LEVEL environment variable: debug|info|warning|error|off). */
typedef void (*am_log_fn)(am_log_level level, const char *msg, void *user);
AM_API void am_log_set_level(am_log_level level);
AM_API am_log_level am_log_get_level(void);
/* NULL restores the default stderr sink. */
AM_API void am_log_set_callback(am_log_fn fn, void *user);

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Number of worker threads used by kernels. Defaults to AM_NUM_THREADS, else OMP_NUM_THREADS,
 * else the number of online CPUs. The setting is process-wide and thread-safe; every model call
 * (forward, generate) runs its products on that many OpenMP workers, so N application threads
 * calling at once use up to N x n threads: give each a share (e.g. am_set_num_threads(1) and one
 * application thread per core). n <= 0 restores the default. */
AM_API void am_set_num_threads(int n);
AM_API int am_get_num_threads(void);

/* Threading and ownership (docs/ARCHITECTURE.md has the details).
 * - A loaded model is read-only while it runs. am_model_forward and am_model_generate keep all
 *   per-call state (activations and scratch buffers, KV caches, the sampling RNG, the dropout
 *   stream, dynamic-RoPE tables) in objects each call creates and frees. So any number of threads
 *   may call them on ONE shared model at once; each gets, bit for bit, what a single-threaded call
 *   gives at the same am_set_num_threads count.
 * - Also safe at the same time as those calls: the getters that take a const am_model *.
 * - Needs the caller's exclusion (no other call on the model meanwhile): am_model_free,
 *   am_model_train, am_model_to_dtype, and writing through a tensor the parameter getters return.
 * - A pipeline (am_pipeline) runs one call at a time: use one per thread.
 * - A tokenizer is safe for concurrent encode/decode. Tensors and am_tensors are plain values:
 *   share them read-only, or give each thread its own.
 * - Dropout runs only in training mode (am_model_train(m, true), or after from_config). torch draws
 *   masks from its global generator, so concurrent training calls in transformers interleave
 *   their draws nondeterministically; masks never match torch's bit for bit (other generator).
 *   Here each call has one dropout stream: am_forward_options.dropout_seed when nonzero, else the
 *   model's next call number (an atomic counter: the one thing a call writes into a model, and
 *   only in training mode). A call's masks are a pure function of its stream, whatever the thread
 *   count; concurrent calls without a seed each take a distinct number, in the order they start.
 *   am_model_generate in training mode takes the next call number.
 * - Errors: am_last_error() is per thread. Logging settings are process-wide. */

/* ------------------------------------------------------------------------------------------ */
/* Tensors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef enum am_dtype {
    AM_F32 = 0,
    AM_F16,
    AM_BF16,
    AM_F64,
    AM_I64,
    AM_I32,
    AM_I16,
    AM_I8,
    AM_U8,
    AM_BOOL,
    AM_DTYPE_COUNT,
    AM_DTYPE_AUTO = 100, /* load option only: the checkpoint's own dtype */
    AM_DTYPE_DEFAULT = 101 /* load option only: torch_dtype not given (None): float32, or float16
                              with load_in_8bit / load_in_4bit, as transformers 4.32 */
} am_dtype;

#define AM_MAX_DIMS 8

typedef struct am_tensor am_tensor;

/* PyTorch's name of a dtype ("float32", "bfloat16", "int64", ...). */
AM_API const char *am_dtype_name(am_dtype dt);
/* safetensors' code ("F32", "BF16", "I64", ...). */
AM_API const char *am_dtype_st_name(am_dtype dt);
AM_API size_t am_dtype_size(am_dtype dt);
/* Parse "float32"/"fp32"/"f32"/"bfloat16"/"auto"/...; returns AM_OK and sets *out. */
AM_API am_status am_dtype_parse(const char *s, am_dtype *out);

/* New zero-filled contiguous tensor (owned; am_tensor_free). */
AM_API am_tensor *am_tensor_new(am_dtype dt, int ndim, const int64_t *shape);
/* New contiguous tensor holding a copy of `data`. */
AM_API am_tensor *am_tensor_from_data(am_dtype dt, int ndim, const int64_t *shape, const void *data);
/* tensor.to(dtype): a new contiguous copy (owned) converted between float dtypes (float32, float16,
 * bfloat16: round to nearest even, as torch), between integer dtypes, or to/from bool. Reads a
 * bf16/f16 model's outputs as float32. NULL with an error for other pairs or no memory. */
AM_API am_tensor *am_tensor_to(const am_tensor *t, am_dtype dt);
/* Tensors are reference counted: retain adds a reference, free drops one. */
AM_API am_tensor *am_tensor_retain(am_tensor *t);
AM_API void am_tensor_free(am_tensor *t);
AM_API am_dtype am_tensor_dtype(const am_tensor *t);
AM_API int am_tensor_ndim(const am_tensor *t);
AM_API int64_t am_tensor_dim(const am_tensor *t, int i); /* negative i counts from the end */
AM_API const int64_t *am_tensor_shape(const am_tensor *t);
AM_API int64_t am_tensor_numel(const am_tensor *t);
AM_API size_t am_tensor_nbytes(const am_tensor *t);
/* Pointer to the first element (borrowed; valid while the tensor lives). Tensors handed out by
 * the public API are contiguous. A model's weights viewed in place in a read-only mapped file have
 * no writable data: am_tensor_data returns NULL (AM_ERR_INVALID_ARGUMENT) for them; read them with
 * am_tensor_cdata, or make a parameter writable with am_model_parameter_mut. */
AM_API void *am_tensor_data(am_tensor *t);
AM_API const void *am_tensor_cdata(const am_tensor *t);

/* A list of named tensors: model inputs and outputs, the contents of a safetensors file. */
typedef struct am_tensors am_tensors;
AM_API am_tensors *am_tensors_new(void);
AM_API void am_tensors_free(am_tensors *ts);
/* Adds (or replaces) `name`; takes a new reference to `t`. */
AM_API am_status am_tensors_set(am_tensors *ts, const char *name, am_tensor *t);
/* Borrowed; NULL when absent. */
AM_API am_tensor *am_tensors_get(const am_tensors *ts, const char *name);
AM_API size_t am_tensors_count(const am_tensors *ts);
AM_API const char *am_tensors_name(const am_tensors *ts, size_t i);
AM_API am_tensor *am_tensors_at(const am_tensors *ts, size_t i);
/* Read every tensor of a safetensors file (copies; the file is not kept open). */
AM_API am_tensors *am_tensors_load_safetensors(const char *path);
/* Write as transformers' save_file does (name-sorted, 8-byte padded header,
 * __metadata__ {"format": "pt"}); written to a temporary file and renamed into place. */
AM_API am_status am_tensors_save_safetensors(const am_tensors *ts, const char *path);

/* ------------------------------------------------------------------------------------------ */
/* Configuration (transformers' PretrainedConfig)                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct am_config am_config;

/* Read DIR/config.json (or a config.json path) with the architecture's transformers defaults. */
AM_API am_config *am_config_from_pretrained(const char *path);
/* Parse config JSON text; `origin` names it in error messages. */
AM_API am_config *am_config_from_json(const char *json, const char *origin);
AM_API am_config *am_config_copy(const am_config *c);
AM_API void am_config_free(am_config *c);
AM_API const char *am_config_model_type(const am_config *c); /* borrowed */
AM_API bool am_config_has(const am_config *c, const char *key);
/* Getters return AM_ERR_NOT_FOUND for an absent key, AM_ERR_INVALID_ARGUMENT for a wrong type. */
AM_API am_status am_config_get_int(const am_config *c, const char *key, int64_t *out);
AM_API am_status am_config_get_float(const am_config *c, const char *key, double *out);
AM_API am_status am_config_get_bool(const am_config *c, const char *key, bool *out);
/* Borrowed string, valid until the key is changed or the config freed. */
AM_API am_status am_config_get_string(const am_config *c, const char *key, const char **out);
AM_API am_status am_config_set_int(am_config *c, const char *key, int64_t v);
AM_API am_status am_config_set_float(am_config *c, const char *key, double v);
AM_API am_status am_config_set_bool(am_config *c, const char *key, bool v);
AM_API am_status am_config_set_string(am_config *c, const char *key, const char *v);
/* Any JSON value (object, list, null, ...), e.g. am_config_set_json(c, "id2label", "{...}"). */
AM_API am_status am_config_set_json(am_config *c, const char *key, const char *json);
/* Owned string: the value of one key as JSON (free with am_free). */
AM_API char *am_config_get_json(const am_config *c, const char *key);
AM_API int am_config_num_labels(const am_config *c);
/* Sets num_labels and resets id2label/label2id to LABEL_0..LABEL_{n-1}, as transformers does. */
AM_API am_status am_config_set_num_labels(am_config *c, int n);
/* Borrowed; NULL when out of range. */
AM_API const char *am_config_id2label(const am_config *c, int id);
/* The config as transformers' `print(model.config)` shows it (owned, am_free). */
AM_API char *am_config_repr(const am_config *c);
/* The text save_pretrained writes to config.json (owned, am_free). */
AM_API char *am_config_to_json_string(const am_config *c);
/* config.to_dict(): every attribute with its value, defaults included, as JSON (owned, am_free). */
AM_API char *am_config_to_dict_json(const am_config *c);

/* Frees memory the library handed out as a plain buffer (strings, arrays). */
AM_API void am_free(void *p);

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum am_task {
    AM_TASK_AUTO = 0, /* from config.json's `architectures` */
    AM_TASK_BASE,
    AM_TASK_SEQUENCE_CLASSIFICATION,
    AM_TASK_TOKEN_CLASSIFICATION,
    AM_TASK_QUESTION_ANSWERING,
    AM_TASK_CAUSAL_LM,
    AM_TASK_MASKED_LM,
    AM_TASK_SEQ2SEQ_LM,
    AM_TASK_IMAGE_CLASSIFICATION,
    AM_TASK_OBJECT_DETECTION,
    AM_TASK_IMAGE_SEGMENTATION,    /* AutoModelForImageSegmentation, else the semantic head (as the
                                    * image-segmentation pipeline loads SegFormer) */
    AM_TASK_SEMANTIC_SEGMENTATION,
    AM_TASK_AUDIO_CLASSIFICATION,
    AM_TASK_SPEECH_SEQ2SEQ,
    AM_TASK_VISION2SEQ,
    AM_TASK_CTC, /* "ctc": AutoModelForCTC (Wav2Vec2ForCTC) */
    AM_TASK_COUNT
} am_task;

/* "sequence-classification" <-> AM_TASK_SEQUENCE_CLASSIFICATION. */
AM_API const char *am_task_name(am_task t);
AM_API am_status am_task_parse(const char *s, am_task *out);

/* attn_implementation: "eager" (materialised attention probabilities; what output_attentions
 * uses), "sdpa" (a fused kernel with online softmax, O(T) memory; the default) or
 * "flash_attention_2" (on CPU, the same fused kernel; an info log says so). DEFAULT: the config's
 * `_attn_implementation` when set, else sdpa. A loaded model records its choice in its config as
 * `_attn_implementation` (which to_json_string / save_pretrained leave out, as transformers). */
typedef enum am_attn_impl { AM_ATTN_DEFAULT = 0, AM_ATTN_EAGER, AM_ATTN_SDPA, AM_ATTN_FLASH } am_attn_impl;
/* "eager" / "sdpa" / "flash_attention_2" <-> enum. Parsing anything else is AM_ERR_INVALID_ARGUMENT
 * with transformers' message listing the valid names. am_attn_impl_name(AM_ATTN_DEFAULT) is "sdpa". */
AM_API am_status am_attn_impl_parse(const char *s, am_attn_impl *out);
AM_API const char *am_attn_impl_name(am_attn_impl impl);

typedef struct am_load_options {
    size_t size;               /* sizeof(am_load_options) */
    am_dtype dtype;            /* torch_dtype: AM_DTYPE_DEFAULT (default: None), AM_F32, AM_F16, AM_BF16, AM_DTYPE_AUTO */
    am_attn_impl attn;         /* attn_implementation */
    int num_labels;            /* > 0 overrides config.num_labels */
    bool ignore_mismatched_sizes;
    bool use_safetensors;      /* default true; false skips model.safetensors(.index.json) */
    const am_config *config;   /* borrowed; replaces config.json when set */
    const char *revision;      /* hub options */
    const char *cache_dir;
    const char *token;
    bool local_files_only;
    bool force_download;
    const char *subfolder;
    const char *device_map;
    /* torch.set_float32_matmul_precision for this model: "highest" (float32 weights computed in
     * float32), "high" (the same on CPUs: no TF32), "medium" (float32 weights computed in bf16 with
     * float32 accumulation where the CPU has bf16 units: AVX512_BF16 or AMX; unchanged elsewhere).
     * NULL: the environment variable AM_FLOAT32_MATMUL_PRECISION, else "highest". Another value is
     * refused (AM_ERR_INVALID_ARGUMENT). Appended field: callers built against an older header pass
     * a smaller `size` and get NULL. */
    const char *float32_matmul_precision;
    /* Big-model placement (transformers' device_map / max_memory / offload_folder, accelerate's
     * semantics on the devices this build has: "cpu" and "disk"). device_map (above) takes "auto",
     * "balanced", "balanced_low_0", "sequential", "cpu" or a JSON object {module prefix: "cpu" |
     * "disk"}; a GPU ("cuda:0", "mps", an index) is refused (no GPU backend). With no GPU the
     * strategies all plan as accelerate's infer_auto_device_map does for "cpu" then "disk".
     * max_memory: a JSON object {"cpu": "2GiB", "disk": ...} or "cpu=2GiB,disk=..." (accelerate's
     * size strings: GiB/MiB/KiB powers of 2, GB/MB/KB powers of 10, an integer is bytes; "disk" is
     * accepted and, as in accelerate, not limited); NULL: "cpu" = the memory available. "disk"
     * weights stay mapped from the checkpoint (or from offload_folder, where they are written as
     * accelerate writes them, <name>.dat + index.json, when they must be converted) and are resident
     * only while their layer runs. Non-safetensors weights on "disk" need offload_folder
     * (transformers' ValueError). low_cpu_mem_usage is accepted and always true (weights are mapped).
     * Appended fields: callers built against an older header get NULL / false. */
    const char *max_memory;
    const char *offload_folder;
    bool low_cpu_mem_usage;
    /* Quantization at load, as transformers' BitsAndBytesConfig (bitsandbytes' formats, computed
     * by automodel's own CPU kernels; docs/quantization.md). Appended fields: an older `size` gets
     * the defaults. load_in_8bit: LLM.int8 (int8 weights with a per-row absmax, activations per row,
     * input columns reaching llm_int8_threshold (default 6.0; 0 = pure int8) in float).
     * load_in_4bit: NF4/FP4 codes in blocks of 64 (bnb_4bit_quant_type "fp4" (default) or "nf4";
     * bnb_4bit_compute_dtype AM_F32 (default), AM_BF16 or AM_F16; bnb_4bit_use_double_quant: the
     * block absmaxes themselves 8-bit). Modules kept unquantized: llm_int8_skip_modules when set
     * (n_llm_int8_skip_modules names), else transformers' get_keys_to_not_convert (the output head
     * and tied weights), plus the class's _keep_in_fp32_modules. quantization_config: the same as
     * a JSON object (BitsAndBytesConfig.to_dict() keys), used instead of the fields when set. A
     * checkpoint saved quantized (config.json quantization_config) loads as stored. */
    bool load_in_8bit;
    float llm_int8_threshold;
    const char *const *llm_int8_skip_modules;
    size_t n_llm_int8_skip_modules;
    bool load_in_4bit;
    const char *bnb_4bit_quant_type;
    am_dtype bnb_4bit_compute_dtype;
    bool bnb_4bit_use_double_quant;
    const char *quantization_config;
} am_load_options;
AM_API am_load_options am_load_options_default(void);

typedef struct am_model am_model;

/* AutoModelFor<task>.from_pretrained(path). Owned; am_model_free. */
AM_API am_model *am_model_from_pretrained(am_task task, const char *path, const am_load_options *opts);
/* AutoModelFor<task>.from_config(config) with transformers' random init, seeded. The model is in
 * training mode, as transformers leaves it. */
AM_API am_model *am_model_from_config(am_task task, const am_config *cfg, uint64_t seed);
AM_API void am_model_free(am_model *m);

AM_API const char *am_model_class_name(const am_model *m); /* "BertForSequenceClassification" */
AM_API am_task am_model_task(const am_model *m);
AM_API const am_config *am_model_config(const am_model *m); /* borrowed */
AM_API am_dtype am_model_dtype(const am_model *m);
/* The attention implementation the model runs: AM_ATTN_EAGER, AM_ATTN_SDPA or AM_ATTN_FLASH. */
AM_API am_attn_impl am_model_attn_implementation(const am_model *m);
AM_API int64_t am_model_num_parameters(const am_model *m, bool only_trainable, bool exclude_embeddings);
AM_API int64_t am_model_memory_footprint(const am_model *m, bool return_buffers);
/* 8 (is_loaded_in_8bit), 4 (is_loaded_in_4bit) or 0; the settings are config.json's quantization_config. */
AM_API int am_model_quantization_bits(const am_model *m);
AM_API void am_model_train(am_model *m, bool training);
AM_API bool am_model_is_training(const am_model *m);
/* model.to(dtype): converts floating parameters and buffers (float32, float16, bfloat16), keeping
 * tied parameters tied and _keep_in_fp32_modules in float32. */
AM_API am_status am_model_to_dtype(am_model *m, am_dtype dt);
/* print(model): the same text as PyTorch's repr, plus a newline. */
AM_API am_status am_model_print(const am_model *m, FILE *out);
/* Owned string (am_free). */
AM_API char *am_model_repr(const am_model *m);

/* The loading report (output_loading_info=True). Borrowed arrays valid while the model lives. */
typedef struct am_loading_info {
    size_t n_missing, n_unexpected, n_mismatched;
    const char *const *missing_keys;    /* sorted */
    const char *const *unexpected_keys; /* sorted */
    const char *const *mismatched_keys; /* sorted by key */
    const char *const *mismatched_ckpt_shapes;  /* "[2, 32]" */
    const char *const *mismatched_model_shapes;
    size_t n_log;
    const am_log_level *log_levels;     /* transformers' logger messages during the load */
    const char *const *log_messages;
} am_loading_info;
AM_API const am_loading_info *am_model_loading_info(const am_model *m);
/* model.hf_device_map as JSON ({"": "cpu"}, {"model.embed_tokens": "cpu", "model.layers.3": "disk",
 * ...}), owned (am_free); NULL when the model was loaded without a device_map. */
AM_API char *am_model_hf_device_map(const am_model *m);

/* Named parameters / state dict (tied aliases included, non-persistent buffers excluded). */
AM_API size_t am_model_state_dict_count(const am_model *m);
AM_API const char *am_model_state_dict_name(const am_model *m, size_t i);
/* Read-only views (borrowed; NULL when absent): weights loaded with the checkpoint's dtype are
 * views into the mapped file, which is read-only, so these are const. Tied parameters give the
 * same tensor. */
AM_API const am_tensor *am_model_state_dict_tensor(const am_model *m, size_t i);
AM_API const am_tensor *am_model_get_parameter(const am_model *m, const char *name);
/* model.state_dict()[name].copy_(...): the parameter (or persistent buffer) as a writable tensor
 * (borrowed, valid while the model lives and until the next am_model_to_dtype). A tensor viewing
 * the mapped file is copied into memory the model owns, once, and the parameter and every tied
 * alias of it are rebound to the copy, so they stay tied; the file is never written. Edits apply
 * to the following forward/generate calls. Not thread-safe: no other call may use the model
 * meanwhile. NULL with AM_ERR_NOT_FOUND for an unknown name, AM_ERR_NO_MEMORY when the copy fails. */
AM_API am_tensor *am_model_parameter_mut(am_model *m, const char *name);

typedef struct am_forward_options {
    size_t size;
    bool output_hidden_states;
    /* Training mode only: 0 (default) takes the model's next dropout stream, as successive
     * training-mode calls in torch draw fresh masks; nonzero makes this call's dropout masks a pure
     * function of the value (the same seed gives the same masks, whatever the threads). Eval mode
     * ignores it. */
    uint64_t dropout_seed;
    /* output_attentions=True: adds each layer's attention probabilities [batch, heads, queries,
     * keys] as transformers returns them: attentions.N, or for encoder-decoders
     * encoder_attentions.N, decoder_attentions.N and cross_attentions.N. This call runs the eager
     * implementation (a model loaded with sdpa/flash_attention_2 logs a warning, once). */
    bool output_attentions;
} am_forward_options;
AM_API am_forward_options am_forward_options_default(void);

/* model(**inputs). Inputs are named as transformers' forward arguments (input_ids,
 * attention_mask, token_type_ids, ...); unknown names are an error. Outputs are named as
 * transformers' output fields. Owned result (am_tensors_free). Does not modify the model (see
 * "Threads"): several threads may run it on one model at once. */
AM_API am_tensors *am_model_forward(am_model *m, const am_tensors *inputs, const am_forward_options *opts);

typedef enum am_save_format { AM_SAVE_SAFETENSORS = 0, AM_SAVE_BIN } am_save_format;
typedef struct am_save_options {
    size_t size;
    am_save_format format;       /* safe_serialization */
    const char *max_shard_size;  /* "10GB" (transformers' default), "20KB", ... */
    am_dtype dtype;              /* AM_DTYPE_AUTO: keep the model's dtype */
} am_save_options;
AM_API am_save_options am_save_options_default(void);
/* save_pretrained: config.json (+ generation_config.json when the model can generate) and the
 * weights. Files are written under temporary names and renamed, so nothing half-written is left. */
AM_API am_status am_model_save_pretrained(const am_model *m, const char *dir, const am_save_options *opts);

/* ---- ONNX export (src/export) ---- */

typedef struct am_onnx_export_options {
    size_t size;          /* sizeof(am_onnx_export_options) */
    int opset;            /* 14..17 (default 17) */
    am_dtype dtype;       /* weights as stored: AM_DTYPE_AUTO (default) keeps the model's dtype; AM_F32,
                           * AM_F16 or AM_BF16 convert (the graph computes in float32 either way) */
    int external_data;    /* 0 (default): model.onnx_data only when the graph would pass 2 GB; 1 always; -1 never */
    bool with_past;       /* Optimum's --with-past layout for a causal LM head (GPT-2, Llama, BERT, RoBERTa):
                           * decoder_model.onnx and decoder_with_past_model.onnx instead of model.onnx,
                           * and decoder_model_merged.onnx (both under an If on use_cache_branch) */
    const char *source_dir; /* where config/tokenizer files are copied from (NULL: the folder the model was loaded from) */
} am_onnx_export_options;
AM_API am_onnx_export_options am_onnx_export_options_default(void);
/* Writes the model's forward as ONNX into out_dir as Optimum's exporter lays it out: model.onnx
 * (+ model.onnx_data), config.json, generation_config.json when the model can generate, and the
 * tokenizer files of the source folder (of the hub snapshot for a model loaded by hub id, fetched
 * at the loaded commit when not cached). Inputs/outputs are named as Optimum's OnnxConfig for the
 * model's task (input_ids, attention_mask, token_type_ids (BERT), position_ids (GPT-2 / Llama causal
 * LM, Optimum 1.13) -> last_hidden_state (no pooler_output, as Optimum's feature-extraction),
 * logits, start_logits/end_logits) with dynamic axes batch_size and sequence_length. The folder
 * is written under a temporary name and renamed, so a failure leaves nothing; an existing
 * non-empty out_dir is refused. Supported: BERT, RoBERTa, DistilBERT, GPT-2, Llama, ViT, YOLOS,
 * SegFormer (input pixel_values [batch_size, num_channels, height, width]), Wav2Vec2 (input_values
 * [batch_size, sequence_length]) with every head; T5, BART, WhisperForConditionalGeneration and
 * VisionEncoderDecoder as Optimum's encoder_model.onnx + decoder_model.onnx (+ with_past
 * decoder_with_past_model.onnx), their heads without generation as model.onnx.
 * With with_past, the decoders' inputs add position_ids (not BERT / RoBERTa, which count positions
 * from the past length) and past_key_values.N.key/value
 * [batch_size, kv heads, past_sequence_length, head dim]; outputs add present.N.key/value. */
AM_API am_status am_model_export_onnx(const am_model *m, const char *out_dir, const am_onnx_export_options *opts);

/* ---- tokenizers section (src/tokenizers) ---- */

/* A Hugging Face tokenizer (transformers' AutoTokenizer / PreTrainedTokenizerFast): the
 * normalizer -> pre-tokenizer -> model -> post-processor -> decoder pipeline of tokenizer.json,
 * or one built from legacy files as transformers converts them (BERT vocab.txt; GPT-2/RoBERTa
 * vocab.json + merges.txt). Thread-safe for concurrent encode/decode once loaded. */
typedef struct am_tokenizer am_tokenizer;
/* The result of encoding one text (or text pair). Offsets are character (code point) offsets
 * into the input string of their sequence, [start, end). */
typedef struct am_encoding am_encoding;

/* `path` is a folder holding tokenizer.json (or vocab.txt, or vocab.json + merges.txt), plus
 * optionally tokenizer_config.json and special_tokens_map.json; or the path of a tokenizer.json.
 * Owned; am_tokenizer_free. */
AM_API am_tokenizer *am_tokenizer_from_pretrained(const char *path);
/* From tokenizer.json text (no config files); `origin` names it in error messages. */
AM_API am_tokenizer *am_tokenizer_from_json(const char *json, size_t len, const char *origin);
AM_API void am_tokenizer_free(am_tokenizer *tok);

typedef enum am_truncation {
    AM_TRUNCATION_NONE = 0,
    AM_TRUNCATION_LONGEST_FIRST,
    AM_TRUNCATION_ONLY_FIRST,
    AM_TRUNCATION_ONLY_SECOND
} am_truncation;
typedef enum am_padding { AM_PADDING_NONE = 0, AM_PADDING_LONGEST, AM_PADDING_MAX_LENGTH } am_padding;
typedef enum am_side { AM_SIDE_DEFAULT = 0, AM_SIDE_RIGHT, AM_SIDE_LEFT } am_side;

/* tokenizer(text, text_pair, add_special_tokens=, truncation=, max_length=, stride=, padding=,
 * pad_to_multiple_of=) */
typedef struct am_encode_options {
    size_t size;                  /* sizeof(am_encode_options) */
    bool add_special_tokens;      /* default true */
    am_truncation truncation;     /* default none */
    size_t max_length;            /* 0: model_max_length of tokenizer_config.json */
    size_t stride;
    am_side truncation_side;      /* default: tokenizer_config.json's, else right */
    am_padding padding;           /* default none */
    size_t pad_to_multiple_of;    /* 0: none */
    size_t pad_length;            /* AM_PADDING_MAX_LENGTH target; 0: max_length */
    am_side padding_side;         /* default: tokenizer_config.json's, else right */
    const char *pad_token;        /* NULL: the tokenizer's pad token (error if it has none) */
    int32_t pad_id;               /* used with pad_token when >= 0; -1: look pad_token up */
    int32_t pad_type_id;          /* default 0 */
} am_encode_options;
AM_API am_encode_options am_encode_options_default(void);

/* Encode `text` (and `text_pair` when not NULL). Both must be valid UTF-8 (else
 * AM_ERR_INVALID_ARGUMENT). Owned; am_encoding_free. */
AM_API am_encoding *am_tokenizer_encode(const am_tokenizer *tok, const char *text, const char *text_pair,
                                 const am_encode_options *opts);
/* The same with explicit byte lengths (texts may contain NUL characters). */
AM_API am_encoding *am_tokenizer_encode_n(const am_tokenizer *tok, const char *text, size_t len, const char *text_pair,
                                   size_t pair_len, const am_encode_options *opts);
/* Encode n texts (pairs may be NULL, or n second texts). Padding "longest" pads to the longest
 * of the batch. On success out[0..n) hold owned encodings; on failure nothing is left in out. */
AM_API am_status am_tokenizer_encode_batch(const am_tokenizer *tok, size_t n, const char *const *texts,
                                    const char *const *pairs, const am_encode_options *opts,
                                    am_encoding **out);
/* The same with explicit byte lengths (lens, and pair_lens when pairs is given). */
AM_API am_status am_tokenizer_encode_batch_n(const am_tokenizer *tok, size_t n, const char *const *texts, const size_t *lens,
                                      const char *const *pairs, const size_t *pair_lens,
                                      const am_encode_options *opts, am_encoding **out);
AM_API void am_encoding_free(am_encoding *enc);

AM_API size_t am_encoding_len(const am_encoding *enc);
/* Arrays of am_encoding_len() entries, borrowed (valid until the encoding is freed). */
AM_API const int32_t *am_encoding_ids(const am_encoding *enc);
AM_API const int32_t *am_encoding_type_ids(const am_encoding *enc);
AM_API const uint8_t *am_encoding_attention_mask(const am_encoding *enc);
AM_API const uint8_t *am_encoding_special_tokens_mask(const am_encoding *enc);
/* -1 where Python has None (special and pad tokens). */
AM_API const int32_t *am_encoding_word_ids(const am_encoding *enc);
AM_API const int32_t *am_encoding_sequence_ids(const am_encoding *enc);
/* Token string i (borrowed, NUL-terminated; *len, when not NULL, gets its byte length, which
 * differs from strlen only for tokens holding NUL characters). */
AM_API const char *am_encoding_token(const am_encoding *enc, size_t i);
AM_API const char *am_encoding_token_n(const am_encoding *enc, size_t i, size_t *len);
/* Character offsets of token i. */
AM_API void am_encoding_offsets(const am_encoding *enc, size_t i, size_t *start, size_t *end);

/* The model inputs of a batch as int64 tensors of shape [n, len]: "input_ids",
 * "attention_mask" and, for tokenizers whose model takes it (BERT-like), "token_type_ids".
 * All encodings must have one length (pad them). Owned; am_tensors_free. */
AM_API am_tensors *am_encodings_to_tensors(const am_tokenizer *tok, am_encoding *const *encs, size_t n);
/* Encode a batch and return its tensors (padding defaults to "longest" when opts is NULL). */
AM_API am_tensors *am_tokenizer_encode_tensors(const am_tokenizer *tok, size_t n, const char *const *texts,
                                        const char *const *pairs, const am_encode_options *opts);

typedef struct am_decode_options {
    size_t size;
    bool skip_special_tokens;          /* default false */
    int clean_up_tokenization_spaces;  /* -1 (default): tokenizer_config.json's; 0 no; 1 yes */
} am_decode_options;
AM_API am_decode_options am_decode_options_default(void);
/* tokenizer.decode(ids). Owned string; am_free. */
AM_API char *am_tokenizer_decode(const am_tokenizer *tok, const int32_t *ids, size_t n, const am_decode_options *opts);
/* The same, also giving the byte length (the text may contain NUL characters). */
AM_API char *am_tokenizer_decode_n(const am_tokenizer *tok, const int32_t *ids, size_t n, const am_decode_options *opts,
                            size_t *len);

/* -1 when absent (added tokens included). */
AM_API int32_t am_tokenizer_token_to_id(const am_tokenizer *tok, const char *token);
/* Borrowed; NULL when out of range. */
AM_API const char *am_tokenizer_id_to_token(const am_tokenizer *tok, int32_t id);
/* len(tokenizer): the vocabulary with the added tokens. */
AM_API size_t am_tokenizer_vocab_size(const am_tokenizer *tok);
/* Borrowed special tokens (NULL when the tokenizer has none). */
AM_API const char *am_tokenizer_pad_token(const am_tokenizer *tok);
AM_API const char *am_tokenizer_bos_token(const am_tokenizer *tok);
AM_API const char *am_tokenizer_eos_token(const am_tokenizer *tok);
AM_API int64_t am_tokenizer_model_max_length(const am_tokenizer *tok);

/* ---- end tokenizers section ---- */

/* ---- pipelines section (src/pipelines) ---- */

/* transformers' task pipelines over a model and its tokenizer: text classification, token
 * classification (NER), extractive question answering and fill-mask, with the same
 * pre-processing, scores and output fields as transformers 4.32's pipelines. */
typedef struct am_pipeline am_pipeline;
/* The answer for one input (owned; am_pipeline_result_free). */
typedef struct am_pipeline_result am_pipeline_result;

/* function_to_apply of the text-classification pipeline. */
typedef enum am_pipeline_function {
    AM_FUNCTION_DEFAULT = 0, /* sigmoid for problem_type multi_label_classification or 1 label, else softmax */
    AM_FUNCTION_SOFTMAX,
    AM_FUNCTION_SIGMOID,
    AM_FUNCTION_NONE /* raw logits */
} am_pipeline_function;

/* aggregation_strategy of the token-classification pipeline. */
typedef enum am_aggregation {
    AM_AGGREGATION_NONE = 0,
    AM_AGGREGATION_SIMPLE,
    AM_AGGREGATION_FIRST,
    AM_AGGREGATION_AVERAGE,
    AM_AGGREGATION_MAX
} am_aggregation;

typedef struct am_pipeline_options {
    size_t size;                  /* sizeof(am_pipeline_options) */
    const am_load_options *load;  /* borrowed; NULL: am_load_options_default() */
    am_task model_task;           /* AM_TASK_AUTO (default): the head named by config.json, which must fit the pipeline */
    const char *tokenizer;        /* tokenizer folder; NULL: the model folder */
    int top_k;                    /* 0: the task's default (classify: the best label only, fill-mask 5, qa 1); -1: all labels (classify) */
    am_pipeline_function function;
    am_aggregation aggregation;
    const char *const *ignore_labels; /* NER labels to drop; NULL: {"O"} */
    size_t n_ignore_labels;
    int max_answer_len;           /* qa: default 15 */
    int max_seq_len;              /* qa: 0 = min(model max length, 384) */
    int doc_stride;               /* qa: 0 = min(max_seq_len / 2, 128) */
    bool handle_impossible_answer;/* qa */
    size_t batch_size;            /* inputs per forward call (padded to the longest); default 32 */
    const char *output_dir;       /* image-segmentation: where the mask PNGs go, named mask0.png, mask1.png, ... counting
                                   * over the pipeline's life (NULL: the current folder; the folder must exist) */
} am_pipeline_options;
AM_API am_pipeline_options am_pipeline_options_default(void);

/* pipeline(task, model=path): loads the model and its tokenizer from `path` (a local folder or a hub id).
 * `task` is AM_TASK_SEQUENCE_CLASSIFICATION (classify), AM_TASK_TOKEN_CLASSIFICATION (ner),
 * AM_TASK_QUESTION_ANSWERING (qa) or AM_TASK_MASKED_LM (fill-mask); or, with the image processor
 * of `path` (preprocessor_config.json) instead of a tokenizer, AM_TASK_IMAGE_CLASSIFICATION,
 * AM_TASK_OBJECT_DETECTION, AM_TASK_VISION2SEQ ("image-to-text": also the tokenizer, to decode)
 * and AM_TASK_IMAGE_SEGMENTATION (a semantic-segmentation model); or, with the feature extractor of
 * `path`, AM_TASK_AUDIO_CLASSIFICATION and AM_TASK_SPEECH_SEQ2SEQ ("automatic-speech-recognition":
 * a CTC model with its Wav2Vec2CTCTokenizer, or Whisper with its tokenizer). A model whose head is another
 * task is an error naming the task it has. A pipeline runs one call at a time (use one per
 * thread). Owned; am_pipeline_free. */
AM_API am_pipeline *am_pipeline_new(am_task task, const char *path, const am_pipeline_options *opts);
AM_API void am_pipeline_free(am_pipeline *p);
AM_API am_task am_pipeline_task(const am_pipeline *p);
AM_API am_model *am_pipeline_model(const am_pipeline *p);             /* borrowed */
AM_API const am_tokenizer *am_pipeline_tokenizer(const am_pipeline *p); /* borrowed */
/* The longest input in tokens (the tokenizer's model_max_length, bounded by the position table);
 * longer inputs are truncated with a warning, as transformers' tokenizers warn. */
AM_API size_t am_pipeline_max_length(const am_pipeline *p);

/* Runs the pipeline on n inputs, batched (batch_size at a time, padded). texts[i] is the text
 * (qa: the question); pairs is NULL or n second texts (qa: the contexts, required; classify:
 * optional text_pair). On AM_OK, out[0..n) hold owned results; an input that cannot be processed
 * (empty text, invalid UTF-8, a fill-mask text without the mask token, ...) gets a result whose
 * am_pipeline_result_error() says why. The call itself fails only when the whole batch does
 * (out of memory, model failure); then nothing is left in out. */
AM_API am_status am_pipeline_run(am_pipeline *p, size_t n, const char *const *texts, const char *const *pairs,
                          am_pipeline_result **out);
/* transformers' pipeline task names ("text-classification", "token-classification",
 * "question-answering", "fill-mask", "image-classification", "object-detection",
 * "image-segmentation", "image-to-text", "audio-classification" -> AM_TASK_AUDIO_CLASSIFICATION,
 * "automatic-speech-recognition" -> AM_TASK_SPEECH_SEQ2SEQ, whose model is a CTC model or Whisper)
 * and the short forms classify, ner, qa, asr -> the task
 * am_pipeline_new takes. AM_ERR_INVALID_ARGUMENT naming the known ones otherwise. */
AM_API am_status am_pipeline_task_parse(const char *name, am_task *out);
/* The keyword arguments pipeline(...)(inputs, **kwargs) takes for this pipeline's task, as
 * am_pipeline_call accepts them (NULL-terminated, static strings): text-classification top_k,
 * function_to_apply; token-classification aggregation_strategy; question-answering question,
 * context, top_k, doc_stride, max_answer_len, max_seq_len, handle_impossible_answer; fill-mask
 * top_k; image-classification top_k; object-detection threshold; image-to-text max_new_tokens,
 * generate_kwargs; image-segmentation subtask, threshold, mask_threshold,
 * overlap_mask_area_threshold; audio-classification top_k; automatic-speech-recognition
 * return_timestamps (CTC "char" / "word", Whisper true), chunk_length_s, stride_length_s (a number
 * or [left, right]), max_new_tokens, generate_kwargs, return_language (Whisper). */
AM_API const char *const *am_pipeline_call_kwargs(const am_pipeline *p);
/* pipeline(inputs, **kwargs): am_pipeline_run with the call's keyword arguments `kwargs_json`
 * (NULL or a JSON object with Python's values: {"top_k": 3}, {"threshold": 0.3},
 * {"generate_kwargs": {"max_new_tokens": 4}}) applied for this call only. inputs[i] is a text, or
 * for the audio tasks a sound file (WAV, FLAC, Ogg, MP3: decoded, down-mixed and resampled as
 * ffmpeg_read does; one model call per file, per chunk with chunk_length_s), or
 * for the image tasks an image file path (decoded as load_image does: EXIF orientation, RGB;
 * image-classification stacks batch_size images per model call, the other image tasks take one
 * image per call, as transformers' default batch_size 1). Question answering takes its
 * question and context from the kwargs when n is 0 (one result), else each input is a JSON object
 * {"question": ..., "context": ...} (Python's dict input). A key the task does not take or
 * a value of the wrong type is AM_ERR_INVALID_ARGUMENT naming it; results as am_pipeline_run. */
AM_API am_status am_pipeline_call(am_pipeline *p, size_t n, const char *const *inputs, const char *kwargs_json,
                                  am_pipeline_result **out);
/* One input; NULL with am_last_error() on failure (including the per-input errors above). */
AM_API am_pipeline_result *am_pipeline_run1(am_pipeline *p, const char *text, const char *pair);
AM_API void am_pipeline_result_free(am_pipeline_result *r);

/* NULL, or why this input failed (borrowed). */
AM_API const char *am_pipeline_result_error(const am_pipeline_result *r);
/* true when the input was longer than am_pipeline_max_length() and was truncated. */
AM_API bool am_pipeline_result_truncated(const am_pipeline_result *r);

/* The items of a result, as transformers' pipelines return them. Strings are borrowed (valid
 * until the result is freed); character offsets count Unicode code points, as Python does. */
typedef struct am_label_score {  /* classify: {"label", "score"}, best first */
    const char *label;
    int32_t id;
    double score;
} am_label_score;
typedef struct am_entity {       /* ner: {"entity" | "entity_group", "score", "index", "word", "start", "end"} */
    const char *entity;          /* the label (aggregation none) or the entity group */
    double score;
    int64_t index;               /* token index (aggregation none); -1 when grouped */
    const char *word;
    int64_t start, end;
} am_entity;
typedef struct am_answer {       /* qa: {"score", "start", "end", "answer"}, best first */
    double score;
    int64_t start, end;
    const char *answer;
} am_answer;
typedef struct am_mask_fill {    /* fill-mask: {"score", "token", "token_str", "sequence"} */
    double score;
    int32_t token;
    const char *token_str;
    const char *sequence;
} am_mask_fill;

typedef struct am_detection {   /* object-detection: {"score", "label", "box": {xmin, ymin, xmax, ymax}} */
    double score;
    const char *label;
    int32_t id;
    int64_t xmin, ymin, xmax, ymax; /* int() of the corners in original-image pixels (may pass the edges) */
    double corners[4];              /* the float corners x0, y0, x1, y1 before int() (post_process_object_detection's boxes) */
} am_detection;
typedef struct am_segment {     /* image-segmentation: {"score": null, "label", "mask"} */
    const char *label;
    int32_t id;
    const char *mask_path;       /* the mask written as a PNG (mode L, 255 where the label won) */
    int width, height;
    const uint8_t *mask;         /* height x width bytes, 0 or 255 */
} am_segment;
typedef struct am_generated_text { /* image-to-text: {"generated_text"} */
    const char *generated_text;
} am_generated_text;

typedef struct am_transcript_chunk { /* automatic-speech-recognition chunks: {"text", "timestamp": [start, end]} */
    const char *text;
    double start, end;               /* seconds; NAN where Python has None (Whisper's unfinished last chunk) */
    const char *language;            /* Whisper with return_language: the language name ("english"); else NULL */
} am_transcript_chunk;

/* Number of items (fill-mask: of all masks together; automatic-speech-recognition: of chunks). */
AM_API size_t am_pipeline_result_count(const am_pipeline_result *r);
/* The item arrays; NULL for a result of another task. */
AM_API const am_label_score *am_pipeline_result_labels(const am_pipeline_result *r);
AM_API const am_entity *am_pipeline_result_entities(const am_pipeline_result *r);
AM_API const am_answer *am_pipeline_result_answers(const am_pipeline_result *r);
/* Fill-mask: num_masks groups of count / num_masks candidates, one group per mask in text order. */
AM_API const am_mask_fill *am_pipeline_result_fills(const am_pipeline_result *r);
AM_API size_t am_pipeline_result_num_masks(const am_pipeline_result *r);
AM_API const am_detection *am_pipeline_result_detections(const am_pipeline_result *r);
AM_API const am_segment *am_pipeline_result_segments(const am_pipeline_result *r);
AM_API const am_generated_text *am_pipeline_result_generated(const am_pipeline_result *r);
/* automatic-speech-recognition: the transcript (borrowed), and its chunks when return_timestamps
 * (or return_language) was given (am_pipeline_result_count of them; NULL otherwise). */
AM_API const char *am_pipeline_result_text(const am_pipeline_result *r);
AM_API const am_transcript_chunk *am_pipeline_result_chunks(const am_pipeline_result *r);
/* The result as transformers' pipeline returns it, in JSON (json.dumps of it): classify
 * [{"label": "spam", "score": 0.99}] (a list of top_k items when top_k is set), ner a list of
 * entities, qa one answer (a list when top_k > 1), fill-mask a list (a list of lists for several
 * masks), image-classification [{"score", "label"}], object-detection [{"score", "label", "box"}],
 * image-to-text [{"generated_text"}], image-segmentation [{"score": null, "label", "mask": PATH}],
 * audio-classification [{"score", "label"}], automatic-speech-recognition {"text"} or
 * {"text", "chunks": [{"text", "timestamp": [start, end]}]} (Whisper: {"timestamp", "text"}, as 4.32 orders them)
 * (the PNG's path where Python has the PIL image); a failed input gives {"error": "..."}. Owned
 * string; am_free. */
AM_API char *am_pipeline_result_json(const am_pipeline_result *r);
/* What the pipeline returns for a list of n inputs, in JSON: the list of their results, except that
 * text-classification without top_k gives one {"label", "score"} per input (not a list of one),
 * as transformers does. Owned string; am_free. */
AM_API char *am_pipeline_results_json(const am_pipeline_result *const *r, size_t n);

/* ---- end pipelines section ---- */

/* ---- hub section (src/hub) ---- */
/* The Hugging Face hub: downloads into the shared cache (the same layout the Python tools use),
 * uploads, tokens, and a self-hosted hub server. Settings follow huggingface_hub: explicit option >
 * environment (HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, TRANSFORMERS_CACHE, HF_HUB_OFFLINE, HF_TOKEN) >
 * defaults. All string fields of option structs are borrowed for the duration of the call. */

typedef struct am_push_options {
    size_t size;                    /* sizeof(am_push_options) */
    const char *commit_message;     /* default "Upload folder using automodel" */
    const char *commit_description; /* optional */
    bool private_repo;              /* push_to_hub(private=True): the repo is created private */
    const char *token;              /* default: HF_TOKEN, then the token file */
    const char *revision;           /* branch to commit to; default "main" */
    bool create_pr;                 /* open a pull request (refs/pr/N) instead of committing */
    const char *endpoint;           /* default: HF_ENDPOINT, then https://huggingface.co */
    const char *parent_commit;      /* optional: refuse the commit if the branch moved */
    const char *repo_type;          /* "model" (default), "dataset", "space" */
} am_push_options;
AM_API am_push_options am_push_options_default(void);

/* Create the repo if needed (exist_ok), then upload every file under `dir` as one commit
 * (preupload, LFS batch for large/binary files, NDJSON commit). Files under .git/ and .cache/ are
 * skipped. Nothing changes on the hub unless the whole commit succeeds. */
AM_API am_status am_hub_upload_folder(const char *dir, const char *repo_id, const am_push_options *opts);
/* Same, and *out_commit (owned, am_free) gets the new commit's 40-hex id. */
AM_API am_status am_hub_upload_folder_commit(const char *dir, const char *repo_id, const am_push_options *opts,
                                      char **out_commit);
/* model.push_to_hub(repo_id, commit_message=..., private=...): save_pretrained into a temporary
 * folder, upload it as one commit (creating the repo if needed), remove the folder. */
AM_API am_status am_model_push_to_hub(const am_model *m, const char *repo_id, const am_push_options *opts);

typedef struct am_download_options {
    size_t size;                 /* sizeof(am_download_options) */
    const char *revision;        /* branch, tag or commit; default "main" */
    const char *cache_dir;       /* default: HF_HUB_CACHE etc. */
    const char *token;
    const char *endpoint;
    const char *repo_type;       /* "model" (default), "dataset", "space" */
    bool local_files_only;
    bool force_download;
    const char *const *include;  /* NULL-terminated fnmatch globs; NULL = every file */
} am_download_options;
AM_API am_download_options am_download_options_default(void);

/* snapshot_download: every file of the repo (or those matching `include`) into the cache;
 * *snapshot_path (owned, am_free) is the snapshot folder. */
AM_API am_status am_hub_download(const char *repo_id, const am_download_options *opts, char **snapshot_path);
/* hf_hub_download: one file; *path (owned, am_free) is its path in the snapshot folder.
 * Both: a download interrupted (killed, network down) resumes on the next call from
 * blobs/<etag>.incomplete; an LFS file whose sha256 differs from its ETag is refused (AM_ERR_NETWORK)
 * and nothing is cached; transient failures (refused/reset connections, 408/429/5xx) are retried
 * with jittered exponential backoff for at most AM_HUB_RETRY_TIMEOUT seconds (default 30; 0: no
 * retries), after which the error names the URL. See docs/cache.md. Thread-safe; concurrent
 * downloads of one blob (threads or processes) take turns on its lock file. */
AM_API am_status am_hub_download_file(const char *repo_id, const char *filename, const am_download_options *opts,
                               char **path);

/* Tokens, stored where the Python tools keep them (HF_TOKEN_PATH, else $HF_HOME/token, mode 0600). */
AM_API am_status am_hub_login(const char *token);
AM_API am_status am_hub_logout(void);
/* The token that would be used now (owned, am_free), or NULL when there is none. */
AM_API char *am_hub_get_token(void);
/* GET /api/whoami-v2: *out_json (owned, am_free) is the server's JSON; `token` NULL = stored one. */
AM_API am_status am_hub_whoami(const char *endpoint, const char *token, char **out_json);

/* The self-hosted hub (libmicrohttpd). */
typedef struct am_hub_server am_hub_server;
typedef struct am_hub_server_options {
    size_t size;             /* sizeof(am_hub_server_options) */
    const char *root;        /* repositories live here; nothing outside it is read or written */
    const char *host;        /* default "127.0.0.1" */
    int port;                /* 0 = any free port (see am_hub_server_port) */
    const char *tokens_file; /* lines "TOKEN USER read|write [ORG...]"; must not be group/world readable */
    const char *mirror;      /* optional read-only HF cache folder served as extra repos */
    int threads;             /* 0 = number of CPUs */
    uint64_t max_body;       /* largest commit (NDJSON) body, writers only (0 = 1 GiB) */
    uint64_t multipart_chunk;/* LFS uploads larger than this are offered multipart (0 = 64 MiB) */
    uint64_t max_json_body;  /* largest body of every other request (0 = 8 MiB; at most max_body) */
    unsigned max_connections;        /* open connections in all (0 = 1024) */
    unsigned max_connections_per_ip; /* open connections from one address (0 = 64) */
    unsigned timeout_s;      /* a connection silent this long is closed (0 = 30 s) */
    bool fsck;               /* at start, re-hash every stored object; bad ones go to {repo}/quarantine/ */
    bool no_fsync;           /* skip fsync (throwaway stores): writes stay atomic but a power loss may lose them */
} am_hub_server_options;
AM_API am_hub_server_options am_hub_server_options_default(void);
/* Starts serving in background threads. Owned; am_hub_server_free stops it. One server per ROOT
 * (an flock on ROOT/.automodel-hub.lock; a second start fails with AM_ERR_IO). At start it deletes
 * the temp files an earlier crash left in ROOT, and with opts->fsck re-hashes every object first.
 * What it verifies and promises: docs/SECURITY.md. */
AM_API am_hub_server *am_hub_server_start(const am_hub_server_options *opts);
AM_API int am_hub_server_port(const am_hub_server *s);
AM_API void am_hub_server_free(am_hub_server *s);
/* ---- end hub section ---- */

/* ---- generation section (src/generate) ---- */

/* model.generate(): greedy search, multinomial sampling, beam search and beam sampling for models
 * that can generate (causal-lm heads; encoder-decoders plug into the same loop). Options mirror
 * transformers' GenerationConfig; a field left at its unset value (AM_GEN_UNSET for integers,
 * AM_GEN_UNSET_FLOAT for floats, -1 for the int flags) takes the model's generation_config.json when
 * the model has one, else config.json, else GenerationConfig's default. */
#define AM_GEN_UNSET (-9223372036854775807LL - 1)
#define AM_GEN_UNSET_FLOAT (-1.0e300)

/* Called after every generation step with the token each row got (finished rows get pad_token_id).
 * Return non-zero to stop generating (the tokens so far are returned). Greedy and sampling only. */
typedef int (*am_token_callback)(void *user, size_t step, const int64_t *tokens, size_t n_rows);
/* Turns ids into text for stop strings (e.g. a tokenizer's decode). The string is borrowed and must
 * stay valid until the next call. */
typedef const char *(*am_decode_callback)(void *user, const int64_t *ids, size_t n);

typedef struct am_generate_options {
    size_t size;                       /* sizeof(am_generate_options) */
    int64_t max_new_tokens;            /* overrides max_length when set */
    int64_t max_length;                /* prompt included; default 20 */
    int64_t min_new_tokens;
    int64_t min_length;
    int do_sample;                     /* -1 unset, 0, 1 */
    int64_t num_beams;                 /* default 1 */
    int64_t num_return_sequences;      /* default 1 */
    double length_penalty;             /* default 1.0 */
    int early_stopping;                /* -1 unset, 0 false, 1 true, 2 "never" */
    double temperature;                /* default 1.0 */
    int64_t top_k;                     /* default 50 (0 disables) */
    double top_p;                      /* default 1.0 */
    double typical_p;                  /* default 1.0 */
    double repetition_penalty;         /* default 1.0 */
    int64_t no_repeat_ngram_size;      /* default 0 */
    int64_t pad_token_id, bos_token_id, forced_bos_token_id, forced_eos_token_id;
    /* eos_token_id as one id or a list: set n_eos > 0 with the ids (borrowed during the call) */
    const int64_t *eos_token_ids;
    size_t n_eos;
    /* bad_words_ids: n_bad_words sequences, concatenated in bad_words_flat, lengths in bad_words_lens */
    const int64_t *bad_words_flat;
    const size_t *bad_words_lens;
    size_t n_bad_words;
    const int64_t *suppress_tokens;    /* suppress_tokens (n_suppress_tokens > 0 sets them) */
    size_t n_suppress_tokens;
    const int64_t *begin_suppress_tokens;
    size_t n_begin_suppress_tokens;
    const int64_t *forced_decoder_ids; /* [position, token] pairs, flattened */
    size_t n_forced_decoder_ids;       /* number of pairs */
    uint64_t seed;                     /* sampling: the same seed gives the same tokens */
    bool output_scores;                /* adds "scores" [steps, rows, vocab] (processed, as transformers returns them) */
    double max_time;                   /* seconds of wall clock; <= 0: no limit */
    const char *const *stop_strings;   /* a row stops once its generated text contains one of them */
    size_t n_stop_strings;
    am_decode_callback decode;         /* needed by stop_strings */
    void *decode_user;
    am_token_callback on_token;        /* streaming */
    void *on_token_user;
    int64_t decoder_start_token_id;    /* encoder-decoders: first decoder token (default: the config's, else bos) */
    /* Whisper (WhisperForConditionalGeneration.generate of transformers 4.32; refused for other models):
     * return_timestamps -1 unset, 0, 1 (1: WhisperTimeStampLogitsProcessor; either value needs the
     * generation config's no_timestamps_token_id); language ("<|en|>", "en" or "english", needs
     * lang_to_id) and task ("transcribe" / "translate", needs task_to_id) rebuild forced_decoder_ids
     * (<|notimestamps|> appended unless timestamps are asked); is_multilingual -1 unset, 0, 1. */
    int return_timestamps;
    int is_multilingual;
    const char *language;
    const char *task;
} am_generate_options;
AM_API am_generate_options am_generate_options_default(void);

/* model.generate(**inputs). Decoder-only models take "input_ids" [batch, prompt] and optionally
 * "attention_mask" (left padding, as transformers expects; without a mask, pad ids in the prompt
 * are masked when pad != eos). Encoder-decoders take the encoder's "input_ids" and "attention_mask"
 * (same rule), and optionally "decoder_input_ids" / "decoder_attention_mask" as the decoder prompt
 * (decoder_start_token_id is prepended when no row starts with it); without them the decoder
 * starts from decoder_start_token_id, and "sequences" are the decoder's. Returns (owned, am_tensors_free): "sequences" int64 [rows, length]
 * with the prompt included (rows = batch x num_return_sequences; finished rows padded with
 * pad_token_id), "scores" float32 [steps, rows (x num_beams for beam search), vocab] when
 * output_scores, and "sequences_scores" float32 [rows] for beam search. */
AM_API am_tensors *am_model_generate(am_model *m, const am_tensors *inputs, const am_generate_options *opts);
/* Whether am_model_generate works for this model (transformers' can_generate()). */
AM_API bool am_model_can_generate(const am_model *m);

/* ---- end generation section ---- */

/* ---- vision input section (src/vision) ---- */

/* Images as transformers' load_image gives them to the image processors: the file decoded (JPEG
 * with libjpeg-turbo's defaults, as PIL: ISLOW IDCT, fancy upsampling; PNG of any colour type and
 * bit depth; BMP; still WebP), the EXIF orientation applied (PIL.ImageOps.exif_transpose), then
 * PIL's convert("RGB"): grey copied into R, G, B; palette looked up; alpha dropped (no
 * compositing); 16-bit grey clipped to 255, 16-bit colour reduced to its high byte.
 * An am_image is an immutable value once made: share it read-only between threads. */
typedef struct am_image am_image;
typedef enum am_image_mode {
    AM_IMAGE_RGB = 0,   /* load_image: EXIF transpose + convert("RGB"); 3 channels */
    AM_IMAGE_LABELS = 1 /* a segmentation map as np.array(Image.open(f)) gives it: an L (grey) or P
                         * (palette: the indices) image, one channel, no EXIF transpose; other
                         * modes are refused */
} am_image_mode;
/* Decode a file (format from its magic bytes, not its name). Owned (am_image_free); NULL with
 * AM_ERR_IO (unreadable), AM_ERR_FORMAT (not an image, truncated, corrupt, or more pixels than
 * twice PIL's MAX_IMAGE_PIXELS: a decompression bomb; between one and two times it logs PIL's
 * warning) or AM_ERR_UNSUPPORTED (CMYK JPEG, animated WebP, RLE BMP, ...); the message names the
 * file. */
AM_API am_image *am_image_load(const char *path, am_image_mode mode);
/* The same from bytes in memory; `origin` names the data in messages (may be NULL). */
AM_API am_image *am_image_decode(const void *data, size_t len, am_image_mode mode, const char *origin);
/* An image from raw pixels: height x width x channels bytes (HWC), channels 1 or 3, copied. */
AM_API am_image *am_image_from_pixels(int width, int height, int channels, const uint8_t *pixels);
AM_API void am_image_free(am_image *img);
AM_API int am_image_width(const am_image *img);
AM_API int am_image_height(const am_image *img);
AM_API int am_image_channels(const am_image *img);
/* Borrowed HWC bytes, valid while the image lives. */
AM_API const uint8_t *am_image_pixels(const am_image *img);
/* img.save(path) as PIL writes a PNG with default options (mode L for one channel, RGB for three):
 * adaptive row filters, zlib level 6; e.g. the masks of image segmentation. Written to a temporary
 * file and renamed into place. */
AM_API am_status am_image_save_png(const am_image *img, const char *path);
/* PIL's img.resize((width, height), resample) for these 8-bit images, bit for bit: resample is PIL's
 * code (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING). Owned, or NULL + error. */
AM_API am_image *am_image_resize(const am_image *img, int width, int height, int resample);

/* Image processors as transformers 4.32 computes them, from preprocessor_config.json:
 * ViTImageProcessor, DeiTImageProcessor, YolosImageProcessor, SegformerImageProcessor and
 * ConvNextImageProcessor (the `image_processor_type` key, else `feature_extractor_type` with
 * FeatureExtractor read as ImageProcessor, else, in a folder, config.json's model_type as
 * AutoImageProcessor falls back to). A processor is read-only after loading: concurrent
 * calls on one processor from several threads are safe. */
typedef struct am_image_processor am_image_processor;
/* `path`: a folder holding preprocessor_config.json, the JSON file itself, or a hub model id
 * (downloaded through the cache as from_pretrained does). Owned (am_image_processor_free); NULL +
 * error: AM_ERR_NOT_FOUND (no preprocessor_config.json), AM_ERR_FORMAT (not JSON, no class key),
 * AM_ERR_INVALID_ARGUMENT (a value of the wrong type, naming the key), AM_ERR_UNSUPPORTED (another
 * class). */
AM_API am_image_processor *am_image_processor_from_pretrained(const char *path);
/* The same from JSON text; `origin` names it in messages. */
AM_API am_image_processor *am_image_processor_from_json(const char *json, const char *origin);
AM_API void am_image_processor_free(am_image_processor *p);
/* "ViTImageProcessor", ... (static string). */
AM_API const char *am_image_processor_class_name(const am_image_processor *p);
/* The keyword arguments processor(images, **kwargs) accepts for this class, NULL-terminated
 * (static strings): e.g. do_resize, size, resample, do_rescale, rescale_factor, do_normalize,
 * image_mean, image_std, return_tensors, data_format, plus the class's own. */
AM_API const char *const *am_image_processor_kwargs(const am_image_processor *p);
/* processor(images, segmentation_maps=maps, **kwargs, return_tensors="pt"). `maps` (NULL or n
 * label maps, AM_IMAGE_LABELS) only for SegformerImageProcessor. `kwargs_json` (NULL or a JSON
 * object) holds call-time keyword arguments with Python's values (`{"resample": 0, "size":
 * {"height": 32, "width": 32}, "do_normalize": false}`); a key the class does not take, or a value
 * of the wrong type, is refused (AM_ERR_INVALID_ARGUMENT naming it). *out (owned, am_tensors_free)
 * gets "pixel_values" [n, 3, H, W] float32 (uint8 when neither rescale nor normalize runs, as
 * transformers returns it; [n, H, W, 3] with data_format "channels_last"), plus for YOLOS
 * "pixel_mask" [n, H, W] int64 (1 = image, 0 = padding, what DETR-style pad() returns), and for
 * Segformer with maps "labels" [n, h, w] int64. Images of different sizes that end unpadded are
 * AM_ERR_SHAPE, as torch.tensor() refuses them. */
AM_API am_status am_image_processor_call(const am_image_processor *p, const am_image *const *images, size_t n,
                                         const am_image *const *maps, const char *kwargs_json, am_tensors **out);

/* ---- end vision input section ---- */

/* ---- audio input section (src/audio) ---- */

/* Audio as transformers' pipelines get it from ffmpeg_read (`ffmpeg -i pipe:0 -ac 1 -ar RATE -f
 * f32le`): WAV, FLAC, Ogg (Vorbis, Opus, FLAC) and MP3 decoded by Debian's libavcodec, down-mixed to
 * mono with ffmpeg's default matrix (stereo: (L + R) * 0.70710677, no division by 2) and resampled
 * by libswresample with its defaults, float32 samples. An am_audio is immutable once made. */
typedef struct am_audio am_audio;
/* Decode a file (format from its content, not its name). sampling_rate <= 0 keeps the file's rate
 * (still mono). Owned (am_audio_free); NULL with AM_ERR_IO (unreadable), AM_ERR_FORMAT (not a
 * supported audio file, truncated before any audio, corrupt), AM_ERR_UNSUPPORTED (another codec,
 * more than 64 channels, a stream changing format midway) or AM_ERR_INVALID_ARGUMENT (longer than
 * AM_AUDIO_MAX_SECONDS, refused before the samples are allocated when the header says so, else as
 * soon as decoding passes it); the message names the file. */
#define AM_AUDIO_MAX_SECONDS (4 * 3600)
AM_API am_audio *am_audio_load(const char *path, int sampling_rate);
/* The same from bytes in memory; `origin` names the data in messages (may be NULL). */
AM_API am_audio *am_audio_decode(const void *data, size_t len, int sampling_rate, const char *origin);
/* Mono float32 samples at sampling_rate (> 0), copied. */
AM_API am_audio *am_audio_from_samples(const float *samples, size_t n, int sampling_rate);
AM_API void am_audio_free(am_audio *a);
/* Borrowed samples, valid while the audio lives. */
AM_API const float *am_audio_samples(const am_audio *a);
AM_API size_t am_audio_length(const am_audio *a);
AM_API int am_audio_sampling_rate(const am_audio *a);

/* Feature extractors as transformers 4.32 computes them, from preprocessor_config.json:
 * Wav2Vec2FeatureExtractor and WhisperFeatureExtractor (the `feature_extractor_type` key, else, in
 * a folder, config.json's model_type as AutoFeatureExtractor falls back to). Read-only after
 * loading: concurrent calls are safe. */
typedef struct am_feature_extractor am_feature_extractor;
/* `path`: a folder holding preprocessor_config.json, the JSON file itself, or a hub model id.
 * Owned (am_feature_extractor_free); NULL + error as am_image_processor_from_pretrained. */
AM_API am_feature_extractor *am_feature_extractor_from_pretrained(const char *path);
AM_API am_feature_extractor *am_feature_extractor_from_json(const char *json, const char *origin);
AM_API void am_feature_extractor_free(am_feature_extractor *fe);
/* "Wav2Vec2FeatureExtractor", "WhisperFeatureExtractor" (static string). */
AM_API const char *am_feature_extractor_class_name(const am_feature_extractor *fe);
/* The sampling_rate the extractor expects its audio at (the config's). */
AM_API int am_feature_extractor_sampling_rate(const am_feature_extractor *fe);
/* The keyword arguments feature_extractor(raw_speech, **kwargs) accepts, NULL-terminated (static). */
AM_API const char *const *am_feature_extractor_kwargs(const am_feature_extractor *fe);
/* feature_extractor([audio...], **kwargs, return_tensors="pt"): `kwargs_json` (NULL or a JSON
 * object) as am_image_processor_call's (`{"padding": "max_length", "max_length": 20000,
 * "truncation": true}`); a `sampling_rate` kwarg different from the extractor's is transformers'
 * ValueError (AM_ERR_INVALID_ARGUMENT), and so is an audio whose rate differs from the extractor's.
 * *out (owned): Wav2Vec2 "input_values" [n, T] float32 (+ "attention_mask" [n, T] int64);
 * Whisper "input_features" [n, n_mels, frames] float32 (+ "attention_mask" int64). */
AM_API am_status am_feature_extractor_call(const am_feature_extractor *fe, const am_audio *const *audio, size_t n,
                                           const char *kwargs_json, am_tensors **out);

/* ---- end audio input section ---- */

#ifdef __cplusplus
}
#endif
#endif
