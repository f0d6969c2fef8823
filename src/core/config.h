/* core/config.h — the configuration object (transformers' PretrainedConfig): a JSON object of
 * values, the architecture's defaults table, and a writer that reproduces to_json_string()
 * (diff against the generic and class defaults, sort_keys, indent 2, Python float repr). */
#ifndef AM_CORE_CONFIG_H
#define AM_CORE_CONFIG_H
#include "automodel.h"
#include <cjson/cJSON.h>

/* One default of a config class: key and its value as JSON text ("768", "1e-12", "\"gelu\"", "null").
 * A literal with '.', 'e' or 'E' marks the key as float-typed, which the writer honours. Tables end
 * with {NULL, NULL}. */
typedef struct am__config_default {
    const char *key;
    const char *json;
} am__config_default;

struct am_config {
    cJSON *values; /* every key set (from config.json, the API, or defaults made explicit) */
    const am__config_default *defaults; /* the class's defaults (model-specific keys + overrides) */
    const char *class_name;             /* "BertConfig" */
    /* a composite config's nested configs (objects with a model_type: encoder / decoder) are typed
     * by the class defaults this returns for their model_type (the registry's; NULL: by the outer key) */
    const am__config_default *(*nested)(const char *model_type);
};

/* Builds a config from a parsed JSON object (takes ownership of `obj`). */
am_config *am__config_new(cJSON *obj, const am__config_default *defaults, const char *class_name);
/* The value in force for `key`: set value, else class default, else generic default (borrowed
 * cJSON owned by the config or by an internal cache; NULL if unknown anywhere). */
const cJSON *am__config_value(const am_config *c, const char *key);
/* Typed getters with a fallback when the key is unknown or null. */
int64_t am__config_int(const am_config *c, const char *key, int64_t fallback);
double am__config_float(const am_config *c, const char *key, double fallback);
bool am__config_bool(const am_config *c, const char *key, bool fallback);
const char *am__config_str(const am_config *c, const char *key, const char *fallback);
bool am__config_is_null(const am_config *c, const char *key);
/* At most this many labels (num_labels, id2label): a sanity bound checked before any is made. */
#define AM__MAX_NUM_LABELS 1000000
/* Sanity checks before anything is sized from a config: integer keys (those whose default is an
 * integer, and the size keys) hold integers; size keys (vocab_size, hidden_size, layers, heads,
 * positions, ... in every architecture's spelling) are within bounds far above any released
 * model; torch_dtype, when a string, names a torch dtype. AM_ERR_FORMAT naming `origin` and the key. */
am_status am__config_validate(const am_config *c, const char *origin);
/* Normalises num_labels / id2label / label2id after loading. */
am_status am__config_normalize(am_config *c, const char *origin);
/* Serialise a cJSON value as Python's json.dumps(indent=2, sort_keys=True) would, at `indent` depth.
 * `float_keys` decides int vs float for integral numbers (NULL: integral numbers print as ints). */
void am__json_dump_py(void *buf /* am__buf* */, const cJSON *v, int indent, const am_config *types, const char *key);

#endif
