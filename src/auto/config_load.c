/* auto/config_load.c — AutoConfig: parse config.json into the config class its model_type names,
 * with that class's defaults, rejecting values of the wrong JSON type. */
#include "auto/auto.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"
#include "hub/hub.h"
#include <stdlib.h>
#include <string.h>

static const char *json_type(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "list";
    return "object";
}

/* Keys whose type is fixed whatever the class (generic PretrainedConfig attributes). */
static const struct {
    const char *key, *type;
} k_generic_types[] = {{"architectures", "list"}, {"id2label", "object"}, {"label2id", "object"}, {"torch_dtype", "string"},
                       {"tie_word_embeddings", "boolean"}, {"is_encoder_decoder", "boolean"}, {"pad_token_id", "number"},
                       {"bos_token_id", "number"}, {"eos_token_id", "number"}, {"problem_type", "string"}};

static const am__config_default *type_defaults(const char *model_type) {
    const am__type_spec *ts = am__type_lookup(model_type);
    return ts ? ts->defaults : NULL;
}

am_config *am__config_parse(const char *text, size_t len, const char *origin) {
    cJSON *root = NULL;
    if (am__json_parse(text, len, origin, &root) != AM_OK) return NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT, "%s: the top level must be a JSON object", origin);
        return NULL;
    }
    cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!mt) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT, "%s: no \"model_type\" key: cannot tell which architecture this is", origin);
        return NULL;
    }
    if (!cJSON_IsString(mt)) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT, "%s: \"model_type\" must be a string", origin);
        return NULL;
    }
    const am__type_spec *ts = am__type_lookup(mt->valuestring);
    if (!ts) {
        am__error(AM_ERR_UNSUPPORTED, "%s: unknown model_type \"%s\" (supported: %s)", origin, mt->valuestring, am__supported_model_types());
        cJSON_Delete(root);
        return NULL;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        const char *want = NULL;
        for (const am__config_default *d = ts->defaults; d && d->key; d++)
            if (!strcmp(d->key, it->string)) {
                const char *j = d->json;
                want = !strcmp(j, "null") ? NULL : (j[0] == '"') ? "string" : (!strcmp(j, "true") || !strcmp(j, "false")) ? "boolean"
                                                 : (j[0] == '[') ? "list" : (j[0] == '{') ? "object" : "number";
            }
        for (size_t i = 0; !want && i < sizeof k_generic_types / sizeof k_generic_types[0]; i++)
            if (!strcmp(k_generic_types[i].key, it->string)) want = k_generic_types[i].type;
        if (!want || cJSON_IsNull(it)) continue;
        const char *got = json_type(it);
        /* eos_token_id may be a list of ids */
        if (strcmp(want, got) && !(!strcmp(it->string, "eos_token_id") && cJSON_IsArray(it))) {
            am__error(AM_ERR_FORMAT, "%s: \"%s\" must be a %s, got a %s", origin, it->string, want, got);
            cJSON_Delete(root);
            return NULL;
        }
        if (!strcmp(got, "number") && it->valuedouble < 0 && strcmp(it->string, "pad_token_id") && strstr(it->string, "token_id") == NULL &&
            strcmp(it->string, "layer_norm_eps") && strstr(it->string, "dropout") == NULL) {
            /* sizes and counts can't be negative */
            if (strstr(it->string, "size") || strstr(it->string, "num_") || strstr(it->string, "n_") == it->string) {
                am__error(AM_ERR_FORMAT, "%s: \"%s\" must not be negative", origin, it->string);
                cJSON_Delete(root);
                return NULL;
            }
        }
    }
    am_config *c = am__config_new(root, ts->defaults, ts->config_class);
    if (c) c->nested = type_defaults;
    if (c && (am__config_validate(c, origin) != AM_OK || am__config_normalize(c, origin) != AM_OK || am__config_class_init(c, origin) != AM_OK)) {
        am_config_free(c);
        return NULL;
    }
    return c;
}

am_config *am_config_from_json(const char *json, const char *origin) {
    if (!json) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_config_from_json: NULL text");
        return NULL;
    }
    return am__config_parse(json, strlen(json), origin ? origin : "config");
}

am_config *am_config_from_pretrained(const char *path) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_config_from_pretrained: NULL path");
        return NULL;
    }
    char *file = NULL, *dir = NULL;
    if (am__is_dir(path)) {
        dir = am__strdup(path);
        file = dir ? am__path_join(dir, "config.json") : NULL; /* NULL: am__read_file reports the failure */
    }
    else if (am__is_file(path)) file = am__strdup(path);
    else { /* a hub id: AutoConfig.from_pretrained("org/name") */
        am__hub_opts ho = am__hub_opts_default();
        if (am__hub_resolve(path, &ho, AM__HUB_CONFIG, NULL, NULL, &dir) != AM_OK) return NULL;
        file = am__path_join(dir, "config.json");
    }
    char *text = NULL;
    size_t len = 0;
    /* a folder's config.json must resolve inside it (a link out of the folder is refused) */
    if ((dir && am__check_confined(file, dir) != AM_OK) || am__read_file(file, &text, &len) != AM_OK) {
        free(file);
        free(dir);
        return NULL;
    }
    free(dir);
    am_config *c = am__config_parse(text, len, file);
    free(text);
    free(file);
    return c;
}
