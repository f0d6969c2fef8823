/* auto/auto.h — the registry and the from_pretrained / from_config / save_pretrained
 * orchestration (resolve files -> config -> build tree -> match keys -> report). */
#ifndef AM_AUTO_H
#define AM_AUTO_H
#include "models/model.h"

const am__head_spec *am__head_lookup(const char *model_type, am_task task);
const am__head_spec *am__head_by_class(const char *class_name);
const char *am__auto_class_name(am_task t);
const char *am__supported_model_types(void);
/* config.json (+ generation_config.json when the model can generate) as save_pretrained writes
 * them, into the existing folder dir; dt the weights' dtype (AM_DTYPE_AUTO: the model's). */
am_status am__model_save_configs(const am_model *m, const char *dir, am_dtype dt);
/* The config class's __init__ logic beyond its defaults (derived keys, validation) for the
 * config's model_type; AM_OK for classes without any. `origin` names the file in errors. */
am_status am__config_class_init(am_config *c, const char *origin);
/* Parse config JSON text into a config of the right class, validating value types against the
 * class defaults; `origin` (a path) names it in errors. */
am_config *am__config_parse(const char *text, size_t len, const char *origin);
/* from_pretrained's device_map / max_memory / offload_folder, checked before anything loads: a
 * GPU is AM_ERR_UNSUPPORTED (no GPU backend), a malformed value AM_ERR_INVALID_ARGUMENT. */
am_status am__device_map_check(const am_load_options *o);
/* After the weights are assigned: plan the placement (infer_auto_device_map), offload the "disk"
 * modules' weights (offloaded tensors, offload_folder) and record hf_device_map (auto/device_map.c).
 * `safetensors`: the weights came from safetensors files (disk needs no offload_folder then). */
am_status am__device_map_apply(am_model *m, const am_load_options *o, bool safetensors);
/* re.search(pattern, name) for each pattern of a NULL-terminated list (transformers'
 * _keys_to_ignore_on_load_* and _tied_weights_keys): *match = some pattern matches. A pattern that
 * does not compile is an AM_ERR_INTERNAL naming it and `origin` (the class). */
am_status am__name_pattern_search(const char *const *patterns, const char *name, const char *origin, bool *match);
/* Quantization at load (auto/quantize.c): BitsAndBytesConfig resolved from the load options or
 * their quantization_config JSON (checked: unknown keys, both 8 and 4 bits, bad values). */
typedef struct am__qconfig {
    int bits; /* 0 (none), 8 or 4 */
    float threshold;
    char **skip; /* llm_int8_skip_modules, when skip_set */
    size_t n_skip;
    bool skip_set;
    am__qtype q4;
    am_dtype compute;
    bool dq;
} am__qconfig;
am_status am__qconfig_from_options(const am_load_options *o, am__qconfig *q);
/* For a loaded config: its quantization_config when present (a checkpoint saved quantized: *pre
 * true; it wins over the options, with transformers' warning), else the options. */
am_status am__qconfig_resolve(const am_config *cfg, const am_load_options *o, am__qconfig *q, bool *pre);
void am__qconfig_free(am__qconfig *q);
/* Replaces every nn.Linear / Conv1D weight outside the kept modules by its quantized form, names
 * the modules Linear8bitLt / Linear4bit, records quantization_config in the config. */
am_status am__model_quantize(am_model *m, const am__qconfig *q);
/* The plan both use (from_pretrained quantizes each weight as it is loaded, am__model_quantize the
 * rest): *q = qin plus the modules kept unquantized (get_keys_to_not_convert unless
 * llm_int8_skip_modules is given, and _keep_in_fp32_modules); free with am__qconfig_free. */
am_status am__qplan(const am_model *m, const am__qconfig *qin, am__qconfig *q);
/* 1 when the plan quantizes parameter e (a Linear / Conv1D 2-D weight outside the kept modules, not
 * a tie alias; `cur`, its tensor or NULL, already quantized counts), with its logical [N, K] and
 * kn (stored [K, N]: Conv1D); 0 when not; -1 out of memory (error set). */
int am__qplan_wants(const am_model *m, const am__qconfig *q, const am__named_param *e, const am_tensor *cur, bool *kn, int64_t *N, int64_t *K);
/* The quantized copy of a float weight (any float dtype, mapped or not), its values first rounded
 * to round_to (float16 / bfloat16: as param.to(dtype) before quantizing); NULL out of memory. */
am_tensor *am__qplan_quantize(const am__qconfig *q, const am_tensor *src, am_dtype round_to, bool kn, int64_t N, int64_t K, am__arena *arena);
/* Bytes a quantized [N, K] weight holds (for the up-front memory check). */
uint64_t am__qplan_bytes(const am__qconfig *q, int64_t N, int64_t K);
/* What its codes take in an arena (the int8 rows or packed 4-bit codes; the scales are separate):
 * both quantizers sum these first and carve every weight from one arena (core/tensor.h). */
size_t am__qplan_arena_bytes(const am__qconfig *q, int64_t N, int64_t K);
/* A checkpoint saved quantized: each int8 weight with its SCB, each packed 4-bit weight with its
 * quant-state tensors, becomes one quantized tensor (kernels/quant.c) under the weight's key; the
 * state keys are removed (names[] and t[] compacted, *n updated). Errors name `file`. */
/* save_pretrained: the state tensors transformers (>= 4.36, bitsandbytes >= 0.41.3) writes next to
 * a quantized weight named wname: 8-bit <module>.SCB; 4-bit <weight>.absmax, .quant_map,
 * .nested_absmax, .nested_quant_map, .quant_state.bitsandbytes__nf4|fp4 (JSON bytes). Appends up to
 * 5 owned (name, tensor) pairs at names[*k], ts[*k]; nothing for another tensor. */
am_status am__quant_state_tensors(const char *wname, const am_tensor *w, am_dtype wdtype, char **names, am_tensor **ts, size_t *k);
am_status am__quant_ckpt(char **names, am_tensor **t, size_t *n, const char *file, const am__qconfig *q);
#endif
