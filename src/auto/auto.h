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
/* from_pretrained's device_map: AM_OK for none or all-"cpu"; a strategy or another device is
 * AM_ERR_UNSUPPORTED, a malformed value AM_ERR_INVALID_ARGUMENT (auto/device_map.c). */
am_status am__device_map_check(const char *device_map);
/* re.search(pattern, name) for each pattern of a NULL-terminated list (transformers'
 * _keys_to_ignore_on_load_* and _tied_weights_keys): *match = some pattern matches. A pattern that
 * does not compile is an AM_ERR_INTERNAL naming it and `origin` (the class). */
am_status am__name_pattern_search(const char *const *patterns, const char *name, const char *origin, bool *match);
#endif
