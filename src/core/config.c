/* core/config.c — PretrainedConfig in C: typed access with the class and generic defaults, the
 * public get/set API, and the to_json_string() writer (what save_pretrained and repr print). */
#include "core/config.h"
#include "core/error.h"
#include "core/util.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* PretrainedConfig().to_dict() of transformers 4.32 (the generic defaults). */
static const am__config_default k_generic[] = {
    {"return_dict", "true"}, {"output_hidden_states", "false"}, {"output_attentions", "false"}, {"torchscript", "false"},
    {"torch_dtype", "null"}, {"use_bfloat16", "false"}, {"tf_legacy_loss", "false"}, {"pruned_heads", "{}"},
    {"tie_word_embeddings", "true"}, {"is_encoder_decoder", "false"}, {"is_decoder", "false"},
    {"cross_attention_hidden_size", "null"}, {"add_cross_attention", "false"}, {"tie_encoder_decoder", "false"},
    {"max_length", "20"}, {"min_length", "0"}, {"do_sample", "false"}, {"early_stopping", "false"}, {"num_beams", "1"},
    {"num_beam_groups", "1"}, {"diversity_penalty", "0.0"}, {"temperature", "1.0"}, {"top_k", "50"}, {"top_p", "1.0"},
    {"typical_p", "1.0"}, {"repetition_penalty", "1.0"}, {"length_penalty", "1.0"}, {"no_repeat_ngram_size", "0"},
    {"encoder_no_repeat_ngram_size", "0"}, {"bad_words_ids", "null"}, {"num_return_sequences", "1"},
    {"chunk_size_feed_forward", "0"}, {"output_scores", "false"}, {"return_dict_in_generate", "false"},
    {"forced_bos_token_id", "null"}, {"forced_eos_token_id", "null"}, {"remove_invalid_values", "false"},
    {"exponential_decay_length_penalty", "null"}, {"suppress_tokens", "null"}, {"begin_suppress_tokens", "null"},
    {"architectures", "null"}, {"finetuning_task", "null"}, {"id2label", "{\"0\": \"LABEL_0\", \"1\": \"LABEL_1\"}"},
    {"label2id", "{\"LABEL_0\": 0, \"LABEL_1\": 1}"}, {"tokenizer_class", "null"}, {"prefix", "null"},
    {"bos_token_id", "null"}, {"pad_token_id", "null"}, {"eos_token_id", "null"}, {"sep_token_id", "null"},
    {"decoder_start_token_id", "null"}, {"task_specific_params", "null"}, {"problem_type", "null"},
    {"_name_or_path", "\"\""}, {"model_type", "\"\""}, {NULL, NULL}};

/* Parsed defaults are cached per table entry (tables are static, so their addresses are stable). */
typedef struct parsed_default {
    const am__config_default *entry;
    cJSON *value;
    struct parsed_default *next;
} parsed_default;
static parsed_default *g_parsed;
static pthread_mutex_t g_parsed_mu = PTHREAD_MUTEX_INITIALIZER;

static const cJSON *default_value(const am__config_default *e) {
    pthread_mutex_lock(&g_parsed_mu);
    for (parsed_default *p = g_parsed; p; p = p->next)
        if (p->entry == e) {
            pthread_mutex_unlock(&g_parsed_mu);
            return p->value;
        }
    parsed_default *p = calloc(1, sizeof *p);
    if (p) {
        p->entry = e;
        p->value = cJSON_Parse(e->json);
        p->next = g_parsed;
        g_parsed = p;
    }
    pthread_mutex_unlock(&g_parsed_mu);
    return p ? p->value : NULL;
}

static const am__config_default *find_default(const am__config_default *tab, const char *key) {
    for (; tab && tab->key; tab++)
        if (!strcmp(tab->key, key)) return tab;
    return NULL;
}

static bool literal_is_float(const char *json) {
    return (json[0] == '-' || (json[0] >= '0' && json[0] <= '9')) && strpbrk(json, ".eE") != NULL;
}

am_config *am__config_new(cJSON *obj, const am__config_default *defaults, const char *class_name) {
    am_config *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(obj);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    c->values = obj ? obj : cJSON_CreateObject();
    c->defaults = defaults;
    c->class_name = class_name ? class_name : "PretrainedConfig";
    return c;
}

void am_config_free(am_config *c) {
    if (!c) return;
    cJSON_Delete(c->values);
    free(c);
}

am_config *am_config_copy(const am_config *c) {
    if (!c) return NULL;
    am_config *r = am__config_new(cJSON_Duplicate(c->values, true), c->defaults, c->class_name);
    if (r) r->nested = c->nested;
    return r;
}

const cJSON *am__config_value(const am_config *c, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->values, key);
    if (v) return v;
    const am__config_default *d = find_default(c->defaults, key);
    if (!d) d = find_default(k_generic, key);
    return d ? default_value(d) : NULL;
}

bool am__config_is_null(const am_config *c, const char *key) {
    const cJSON *v = am__config_value(c, key);
    return !v || cJSON_IsNull(v);
}

int64_t am__config_int(const am_config *c, const char *key, int64_t fallback) {
    const cJSON *v = am__config_value(c, key);
    if (cJSON_IsNumber(v)) return (int64_t)v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return fallback;
}
double am__config_float(const am_config *c, const char *key, double fallback) {
    const cJSON *v = am__config_value(c, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}
bool am__config_bool(const am_config *c, const char *key, bool fallback) {
    const cJSON *v = am__config_value(c, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    return fallback;
}
const char *am__config_str(const am_config *c, const char *key, const char *fallback) {
    const cJSON *v = am__config_value(c, key);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

/* ---- public API ---- */

const char *am_config_model_type(const am_config *c) { return am__config_str(c, "model_type", ""); }
bool am_config_has(const am_config *c, const char *key) { return am__config_value(c, key) != NULL; }

am_status am_config_get_int(const am_config *c, const char *key, int64_t *out) {
    const cJSON *v = am__config_value(c, key);
    if (!v) return am__error(AM_ERR_NOT_FOUND, "config has no key '%s'", key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return am__error(AM_ERR_INVALID_ARGUMENT, "config key '%s' is not an integer", key);
    *out = (int64_t)v->valuedouble;
    return AM_OK;
}
am_status am_config_get_float(const am_config *c, const char *key, double *out) {
    const cJSON *v = am__config_value(c, key);
    if (!v) return am__error(AM_ERR_NOT_FOUND, "config has no key '%s'", key);
    if (!cJSON_IsNumber(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "config key '%s' is not a number", key);
    *out = v->valuedouble;
    return AM_OK;
}
am_status am_config_get_bool(const am_config *c, const char *key, bool *out) {
    const cJSON *v = am__config_value(c, key);
    if (!v) return am__error(AM_ERR_NOT_FOUND, "config has no key '%s'", key);
    if (!cJSON_IsBool(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "config key '%s' is not a boolean", key);
    *out = cJSON_IsTrue(v);
    return AM_OK;
}
am_status am_config_get_string(const am_config *c, const char *key, const char **out) {
    const cJSON *v = am__config_value(c, key);
    if (!v) return am__error(AM_ERR_NOT_FOUND, "config has no key '%s'", key);
    if (!cJSON_IsString(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "config key '%s' is not a string", key);
    *out = v->valuestring;
    return AM_OK;
}

static am_status set_item(am_config *c, const char *key, cJSON *v) {
    if (c && key && !v) return am__error(AM_ERR_NO_MEMORY, "config key '%s': out of memory", key); /* a cJSON_Create* failed */
    if (!c || !key || !v) {
        cJSON_Delete(v);
        return am__error(AM_ERR_INVALID_ARGUMENT, "am_config_set: NULL argument");
    }
    if (!strcmp(key, "model_type")) {
        cJSON_Delete(v);
        return am__error(AM_ERR_INVALID_ARGUMENT, "config key 'model_type' is fixed by the config class");
    }
    bool ok = cJSON_GetObjectItemCaseSensitive(c->values, key) ? cJSON_ReplaceItemInObjectCaseSensitive(c->values, key, v)
                                                              : cJSON_AddItemToObject(c->values, key, v);
    if (!ok) {
        cJSON_Delete(v);
        return am__error(AM_ERR_NO_MEMORY, "config key '%s': out of memory", key);
    }
    return AM_OK;
}
am_status am_config_set_int(am_config *c, const char *key, int64_t v) { return set_item(c, key, cJSON_CreateNumber((double)v)); }
am_status am_config_set_float(am_config *c, const char *key, double v) { return set_item(c, key, cJSON_CreateNumber(v)); }
am_status am_config_set_bool(am_config *c, const char *key, bool v) { return set_item(c, key, cJSON_CreateBool(v)); }
am_status am_config_set_string(am_config *c, const char *key, const char *v) {
    return set_item(c, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}
am_status am_config_set_json(am_config *c, const char *key, const char *json) {
    cJSON *v = json ? cJSON_Parse(json) : NULL;
    if (!v) return am__error(AM_ERR_INVALID_ARGUMENT, "config key '%s': value is not valid JSON", key ? key : "");
    am_status s = set_item(c, key, v);
    if (s == AM_OK && (!strcmp(key, "id2label") || !strcmp(key, "label2id") || !strcmp(key, "num_labels")))
        return am__config_normalize(c, "am_config_set_json");
    return s;
}
char *am_config_get_json(const am_config *c, const char *key) {
    const cJSON *v = am__config_value(c, key);
    if (!v) {
        am__error(AM_ERR_NOT_FOUND, "config has no key '%s'", key);
        return NULL;
    }
    am__buf b = {0};
    am__json_dump_py(&b, v, 0, c, key);
    return am__buf_take(&b);
}

/* NULL when out of memory (cJSON's allocations are checked one by one). */
static cJSON *labels_id2label(int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++) {
        char k[32], v[48];
        snprintf(k, sizeof k, "%d", i);
        snprintf(v, sizeof v, "LABEL_%d", i);
        cJSON *s = cJSON_CreateString(v);
        if (!s || !cJSON_AddItemToObject(o, k, s)) {
            cJSON_Delete(s);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return o;
}

static cJSON *invert_labels(const cJSON *id2label) {
    cJSON *o = cJSON_CreateObject();
    for (const cJSON *it = id2label ? id2label->child : NULL; o && it; it = it->next)
        if (cJSON_IsString(it)) {
            cJSON *v = cJSON_CreateNumber(atof(it->string));
            if (!v || !cJSON_AddItemToObject(o, it->valuestring, v)) {
                cJSON_Delete(v);
                cJSON_Delete(o);
                o = NULL;
            }
        }
    return o;
}

int am_config_num_labels(const am_config *c) {
    const cJSON *v = am__config_value(c, "id2label");
    return cJSON_IsObject(v) ? cJSON_GetArraySize(v) : 2;
}

am_status am_config_set_num_labels(am_config *c, int n) {
    if (n <= 0) return am__error(AM_ERR_INVALID_ARGUMENT, "num_labels must be positive (got %d)", n);
    if (n > AM__MAX_NUM_LABELS)
        return am__error(AM_ERR_INVALID_ARGUMENT, "num_labels = %d is more than the %d labels this library accepts", n, AM__MAX_NUM_LABELS);
    if (!c) return am__error(AM_ERR_INVALID_ARGUMENT, "am_config_set_num_labels: NULL config");
    cJSON *id = labels_id2label(n);
    cJSON *l2i = id ? invert_labels(id) : NULL;
    if (!l2i) {
        cJSON_Delete(id);
        return am__error(AM_ERR_NO_MEMORY, "out of memory making %d labels", n);
    }
    set_item(c, "id2label", id);
    return set_item(c, "label2id", l2i);
}

const char *am_config_id2label(const am_config *c, int id) {
    const cJSON *v = am__config_value(c, "id2label");
    char k[32];
    snprintf(k, sizeof k, "%d", id);
    const cJSON *s = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, k) : NULL;
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

am_status am__config_normalize(am_config *c, const char *origin) {
    cJSON *nl = cJSON_DetachItemFromObjectCaseSensitive(c->values, "num_labels");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(c->values, "id2label");
    if (id && !cJSON_IsObject(id) && !cJSON_IsNull(id)) {
        cJSON_Delete(nl);
        return am__error(AM_ERR_FORMAT, "%s: \"id2label\" must be an object mapping ids to labels", origin);
    }
    for (cJSON *it = id ? id->child : NULL; it; it = it->next) {
        char *end = NULL;
        strtol(it->string, &end, 10);
        if (!it->string[0] || *end || !cJSON_IsString(it)) {
            cJSON_Delete(nl);
            return am__error(AM_ERR_FORMAT, "%s: \"id2label\" entry \"%s\" must map an integer id to a string", origin, it->string);
        }
    }
    if (cJSON_IsObject(id) && cJSON_GetArraySize(id) > AM__MAX_NUM_LABELS) {
        cJSON_Delete(nl);
        return am__error(AM_ERR_FORMAT, "%s: \"id2label\" has %d entries, more than the %d labels this library accepts", origin,
                         cJSON_GetArraySize(id), AM__MAX_NUM_LABELS);
    }
    if (nl) {
        if (!cJSON_IsNumber(nl) || nl->valuedouble < 1 || nl->valuedouble != floor(nl->valuedouble)) {
            cJSON_Delete(nl);
            return am__error(AM_ERR_FORMAT, "%s: \"num_labels\" must be a positive integer", origin);
        }
        if (nl->valuedouble > AM__MAX_NUM_LABELS) { /* checked before a single label is made */
            am_status s = am__error(AM_ERR_FORMAT, "%s: \"num_labels\" = %.17g is more than the %d labels this library accepts", origin,
                                    nl->valuedouble, AM__MAX_NUM_LABELS);
            cJSON_Delete(nl);
            return s;
        }
        int n = (int)nl->valuedouble;
        cJSON_Delete(nl);
        if (!id || cJSON_IsNull(id) || cJSON_GetArraySize(id) != n) {
            am_status s = am_config_set_num_labels(c, n);
            if (s != AM_OK) return s;
        }
    }
    cJSON *l2i = cJSON_GetObjectItemCaseSensitive(c->values, "label2id");
    if (l2i && !cJSON_IsObject(l2i) && !cJSON_IsNull(l2i))
        return am__error(AM_ERR_FORMAT, "%s: \"label2id\" must be an object mapping labels to ids", origin);
    for (cJSON *it = l2i ? l2i->child : NULL; it; it = it->next)
        if (!cJSON_IsNumber(it)) return am__error(AM_ERR_FORMAT, "%s: \"label2id\" entry \"%s\" must be an integer", origin, it->string);
    return AM_OK;
}

/* ---- sanity checks on what a config asks for ---- */

/* Upper bounds on the keys that size allocations and loops (transformers has none: it would try
 * to allocate). A config is data, possibly from the network; these are far above any released
 * model, and what passes is still checked against memory (am__model_param_bytes) before the
 * weights are allocated. One table for every architecture's spelling of the key. */
static const struct {
    const char *key;
    int64_t max;
} k_size_limits[] = {
    {"vocab_size", 1 << 24},           {"type_vocab_size", 1 << 20},         {"hidden_size", 1 << 20},
    {"d_model", 1 << 20},              {"n_embd", 1 << 20},                  {"dim", 1 << 20},
    {"d_kv", 1 << 20},                 {"intermediate_size", 1 << 22},       {"d_ff", 1 << 22},
    {"n_inner", 1 << 22},              {"hidden_dim", 1 << 22},              {"encoder_ffn_dim", 1 << 22},
    {"decoder_ffn_dim", 1 << 22},      {"num_hidden_layers", 1 << 14},       {"num_layers", 1 << 14},
    {"num_decoder_layers", 1 << 14},   {"n_layer", 1 << 14},                 {"n_layers", 1 << 14},
    {"encoder_layers", 1 << 14},       {"decoder_layers", 1 << 14},          {"num_attention_heads", 1 << 16},
    {"num_key_value_heads", 1 << 16},  {"num_heads", 1 << 16},               {"n_head", 1 << 16},
    {"n_heads", 1 << 16},              {"encoder_attention_heads", 1 << 16}, {"decoder_attention_heads", 1 << 16},
    {"max_position_embeddings", 1 << 24}, {"n_positions", 1 << 24},         {"n_ctx", 1 << 24},
    {"relative_attention_num_buckets", 1 << 20}, {"relative_attention_max_distance", 1 << 24},
    {"image_size", 1 << 16},           {"patch_size", 1 << 16},              {"num_channels", 1 << 12},
    {"num_detection_tokens", 1 << 20}, {"num_labels", AM__MAX_NUM_LABELS}};

/* The torch dtypes `getattr(torch, name)` finds (PretrainedConfig turns torch_dtype into one). */
static const char *const k_torch_dtypes[] = {"float32", "float", "float64", "double", "float16", "half", "bfloat16", "uint8", "int8",
                                             "int16", "short", "int32", "int", "int64", "long", "bool", "complex32", "chalf",
                                             "complex64", "cfloat", "complex128", "cdouble", "qint8", "quint8", "qint32", "quint4x2",
                                             NULL};

static bool literal_is_int(const char *json) {
    return (json[0] == '-' || (json[0] >= '0' && json[0] <= '9')) && !strpbrk(json, ".eE");
}

/* One config object: `defaults` its class's table; `pfx` names a nested config in messages. */
static am_status validate_obj(const cJSON *obj, const am__config_default *defaults, const char *origin, const char *pfx) {
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next) {
        if (cJSON_IsNumber(it)) {
            double v = it->valuedouble;
            const am__config_default *d = find_default(defaults, it->string);
            if (!d) d = find_default(k_generic, it->string);
            bool is_size = false;
            for (size_t i = 0; i < sizeof k_size_limits / sizeof k_size_limits[0]; i++)
                if (!strcmp(k_size_limits[i].key, it->string)) {
                    is_size = true;
                    if (v != floor(v) || isnan(v))
                        return am__error(AM_ERR_FORMAT, "%s: \"%s%s\" must be an integer, got %.17g", origin, pfx, it->string, v);
                    if (v < 0) return am__error(AM_ERR_FORMAT, "%s: \"%s%s\" must not be negative (got %.17g)", origin, pfx, it->string, v);
                    if (v > (double)k_size_limits[i].max)
                        return am__error(AM_ERR_FORMAT, "%s: \"%s%s\" = %.17g is larger than this library accepts (at most %lld)", origin,
                                         pfx, it->string, v, (long long)k_size_limits[i].max);
                }
            if (!is_size && d && literal_is_int(d->json) && v != floor(v))
                return am__error(AM_ERR_FORMAT, "%s: \"%s%s\" must be an integer, got %.17g", origin, pfx, it->string, v);
        }
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(obj, "torch_dtype");
    if (cJSON_IsString(td)) {
        bool known = false;
        for (const char *const *n = k_torch_dtypes; *n && !known; n++) known = !strcmp(*n, td->valuestring);
        if (!known)
            return am__error(AM_ERR_FORMAT, "%s: \"%storch_dtype\" is \"%s\", not a torch dtype (module 'torch' has no attribute '%s')",
                             origin, pfx, td->valuestring, td->valuestring);
    }
    return AM_OK;
}

am_status am__config_validate(const am_config *c, const char *origin) {
    am_status s = validate_obj(c->values, c->defaults, origin, "");
    /* a composite config's encoder / decoder configs, typed by their own class */
    for (const cJSON *it = c->values ? c->values->child : NULL; s == AM_OK && it; it = it->next) {
        const cJSON *mt = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "model_type") : NULL;
        if (!cJSON_IsString(mt)) continue;
        char pfx[160];
        snprintf(pfx, sizeof pfx, "%.150s.", it->string);
        s = validate_obj(it, c->nested ? c->nested(mt->valuestring) : NULL, origin, pfx);
    }
    return s;
}

/* ---- Python-compatible JSON writer ---- */

/* BitsAndBytesConfig.to_dict()'s float attributes, typed by their defaults inside config.json's
 * quantization_config (6.0 is written "6.0", as Python's json.dumps of a float) */
static const am__config_default k_bnb_config[] = {{"llm_int8_threshold", "6.0"}, {NULL, NULL}};

/* `key`: the top-level key the value sits under; `own`: the value's own key in its object */
static bool key_is_float(const am_config *c, const char *key, const char *own) {
    if (key && own && strcmp(key, own) && !strcmp(key, "quantization_config")) {
        const am__config_default *d = find_default(k_bnb_config, own);
        return d && literal_is_float(d->json);
    }
    if (!c || !key) return false;
    const am__config_default *d = find_default(c->defaults, key);
    if (!d) d = find_default(k_generic, key);
    return d && literal_is_float(d->json);
}

static void dump_string(am__buf *b, const char *s) {
    am__buf_puts(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"') am__buf_puts(b, "\\\"");
        else if (c == '\\') am__buf_puts(b, "\\\\");
        else if (c == '\n') am__buf_puts(b, "\\n");
        else if (c == '\r') am__buf_puts(b, "\\r");
        else if (c == '\t') am__buf_puts(b, "\\t");
        else if (c == '\b') am__buf_puts(b, "\\b");
        else if (c == '\f') am__buf_puts(b, "\\f");
        else if (c < 0x20 || c == 0x7f) am__buf_printf(b, "\\u%04x", c);
        else if (c < 0x80) am__buf_put(b, p, 1);
        else { /* ensure_ascii: decode UTF-8, write \uXXXX (surrogate pairs above the BMP) */
            uint32_t cp;
            int n = (c >= 0xf0) ? 3 : (c >= 0xe0) ? 2 : 1;
            cp = c & (0x3f >> n);
            int k;
            for (k = 1; k <= n && (p[k] & 0xc0) == 0x80; k++) cp = (cp << 6) | (p[k] & 0x3f);
            if (k <= n) { /* invalid sequence: escape the byte as is */
                am__buf_printf(b, "\\u%04x", c);
                p++;
                continue;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                am__buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else am__buf_printf(b, "\\u%04x", cp);
            p += n;
        }
        p++;
    }
    am__buf_puts(b, "\"");
}

static int cmp_keys_str(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}
static int cmp_keys_int(const void *a, const void *b) {
    long x = atol((*(const cJSON *const *)a)->string), y = atol((*(const cJSON *const *)b)->string);
    return x < y ? -1 : x > y;
}

static void indent_to(am__buf *b, int n) {
    am__buf_puts(b, "\n");
    for (int i = 0; i < n; i++) am__buf_puts(b, "  ");
}

/* a config object at `depth` whose keys are typed by `types` (its children as at top level) */
static void dump_config_object(am__buf *b, const cJSON *v, int depth, const am_config *types);

void am__json_dump_py(void *vb, const cJSON *v, int depth, const am_config *types, const char *key) {
    am__buf *b = vb;
    if (!v || cJSON_IsNull(v)) am__buf_puts(b, "null");
    else if (cJSON_IsTrue(v)) am__buf_puts(b, "true");
    else if (cJSON_IsFalse(v)) am__buf_puts(b, "false");
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9.007199254740992e15 && !key_is_float(types, key, v->string)) am__buf_printf(b, "%lld", (long long)d);
        else {
            char tmp[64];
            am__format_py_float(d, tmp, sizeof tmp);
            am__buf_puts(b, tmp);
        }
    } else if (cJSON_IsString(v)) dump_string(b, v->valuestring);
    else if (cJSON_IsArray(v)) {
        if (!v->child) {
            am__buf_puts(b, "[]");
            return;
        }
        am__buf_puts(b, "[");
        for (const cJSON *it = v->child; it; it = it->next) {
            indent_to(b, depth + 1);
            am__json_dump_py(b, it, depth + 1, types, key);
            if (it->next) am__buf_puts(b, ",");
        }
        indent_to(b, depth);
        am__buf_puts(b, "]");
    } else if (cJSON_IsObject(v)) {
        int n = cJSON_GetArraySize(v);
        if (n == 0) {
            am__buf_puts(b, "{}");
            return;
        }
        const cJSON **items = malloc((size_t)n * sizeof *items);
        if (!items) {
            b->failed = true;
            return;
        }
        int i = 0;
        for (const cJSON *it = v->child; it; it = it->next) items[i++] = it;
        /* id2label has int keys in Python, so sort_keys orders them numerically */
        bool int_keys = key && !strcmp(key, "id2label");
        qsort(items, (size_t)n, sizeof *items, int_keys ? cmp_keys_int : cmp_keys_str);
        am__buf_puts(b, "{");
        for (i = 0; i < n; i++) {
            indent_to(b, depth + 1);
            dump_string(b, items[i]->string);
            am__buf_puts(b, ": ");
            /* a nested config (a composite config's encoder / decoder: an object with a model_type
             * the registry knows) types its keys by its own class; other nested objects keep the
             * outer key for typing only at top level */
            const cJSON *mt = cJSON_IsObject(items[i]) ? cJSON_GetObjectItemCaseSensitive(items[i], "model_type") : NULL;
            const am__config_default *nd = depth == 0 && !key && cJSON_IsString(mt) && types && types->nested ? types->nested(mt->valuestring) : NULL;
            if (nd) {
                am_config sub = {NULL, nd, NULL, NULL};
                dump_config_object(b, items[i], depth + 1, &sub);
            } else am__json_dump_py(b, items[i], depth + 1, types, depth == 0 && !key ? items[i]->string : key);
            if (i + 1 < n) am__buf_puts(b, ",");
        }
        indent_to(b, depth);
        am__buf_puts(b, "}");
        free(items);
    }
}

static void dump_config_object(am__buf *b, const cJSON *v, int depth, const am_config *types) {
    /* the top-level rule (children typed by their own keys) one level down: dump at depth 0 into a
     * scratch buffer and re-indent each line */
    am__buf t = {0};
    am__json_dump_py(&t, v, 0, types, NULL);
    char *s = am__buf_take(&t);
    if (!s) {
        b->failed = true;
        return;
    }
    for (const char *p = s; *p; p++) {
        am__buf_put(b, p, 1);
        if (*p == '\n')
            for (int i = 0; i < depth; i++) am__buf_puts(b, "  ");
    }
    free(s);
}

static bool json_equal(const cJSON *a, const cJSON *b) {
    if (!a || !b) return (!a || cJSON_IsNull(a)) && (!b || cJSON_IsNull(b));
    return cJSON_Compare(a, b, true);
}

char *am_config_to_json_string(const am_config *c) {
    /* to_diff_dict(): model-specific keys always; generic keys when they differ from the generic
     * default or from the class default; transformers_version always. */
    cJSON *out = cJSON_CreateObject();
    for (const am__config_default *d = c->defaults; d && d->key; d++)
        if (!cJSON_GetObjectItemCaseSensitive(c->values, d->key)) cJSON_AddItemToObject(out, d->key, cJSON_Duplicate(default_value(d), true));
    /* to_dict() drops _attn_implementation (the attribute a loaded model records, not a setting
     * to save), as transformers does */
    for (const cJSON *it = c->values->child; it; it = it->next)
        if (strcmp(it->string, "_attn_implementation")) cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, true));
    cJSON *filtered = cJSON_CreateObject();
    for (cJSON *it = out->child; it; it = it->next) {
        const am__config_default *g = find_default(k_generic, it->string);
        const am__config_default *cd = find_default(c->defaults, it->string);
        bool keep = !g || !strcmp(it->string, "transformers_version") || !json_equal(it, default_value(g)) ||
                    (cd && !json_equal(it, default_value(cd)));
        if (keep) cJSON_AddItemToObject(filtered, it->string, cJSON_Duplicate(it, true));
    }
    cJSON_Delete(out);
    if (!cJSON_GetObjectItemCaseSensitive(filtered, "transformers_version"))
        cJSON_AddItemToObject(filtered, "transformers_version", cJSON_CreateString("4.32.0.dev0"));
    am__buf b = {0};
    am__json_dump_py(&b, filtered, 0, c, NULL);
    am__buf_puts(&b, "\n");
    cJSON_Delete(filtered);
    return am__buf_take(&b);
}

char *am_config_to_dict_json(const am_config *c) {
    /* to_dict(): every attribute (generic defaults, the class's defaults, then the values set),
     * without _attn_implementation, as transformers 4.32's to_dict has no such key */
    cJSON *out = cJSON_CreateObject();
    if (!out) return NULL;
    for (const am__config_default *d = k_generic; d->key; d++)
        if (!cJSON_GetObjectItemCaseSensitive(out, d->key)) cJSON_AddItemToObject(out, d->key, cJSON_Duplicate(default_value(d), true));
    for (const am__config_default *d = c->defaults; d && d->key; d++) {
        cJSON_DeleteItemFromObjectCaseSensitive(out, d->key);
        cJSON_AddItemToObject(out, d->key, cJSON_Duplicate(default_value(d), true));
    }
    for (const cJSON *it = c->values->child; it; it = it->next) {
        if (!strcmp(it->string, "_attn_implementation")) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(out, it->string);
        cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, true));
    }
    if (!cJSON_GetObjectItemCaseSensitive(out, "transformers_version"))
        cJSON_AddItemToObject(out, "transformers_version", cJSON_CreateString("4.32.0.dev0"));
    am__buf b = {0};
    am__json_dump_py(&b, out, 0, c, NULL);
    cJSON_Delete(out);
    return am__buf_take(&b);
}

char *am_config_repr(const am_config *c) {
    char *js = am_config_to_json_string(c);
    if (!js) return NULL;
    am__buf b = {0};
    am__buf_printf(&b, "%s %s", c->class_name, js);
    free(js);
    return am__buf_take(&b);
}
