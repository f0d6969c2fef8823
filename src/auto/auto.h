/* auto/auto.h — the registry and the from_pretrained / from_config / save_pretrained
 * orchestration (resolve files -> config -> build tree -> match keys -> report). */
#ifndef AM_AUTO_H
#define AM_AUTO_H
#include "models/model.h"

const am__head_spec *am__head_lookup(const char *model_type, am_task task);
const am__head_spec *am__head_by_class(const char *class_name);
const char *am__auto_class_name(am_task t);
const char *am__supported_model_types(void);
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
#endif
