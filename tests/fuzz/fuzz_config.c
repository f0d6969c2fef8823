/* fuzz_config — arbitrary bytes as config.json: parse with the class defaults, read typed values,
 * and serialise back as save_pretrained and print(model.config) would. */
#include "auto/auto.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The model a fuzzed config builds is bounded by the library's own memory check, as a small
 * machine would bound it: defaults the guard below does not see (T5's d_model and d_ff, a
 * mismatched model_type) otherwise build a 40M-parameter model, seconds per input under ASan. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("AM_MEM_AVAILABLE", "8388608", 1);
    return 0;
}

/* A config whose num_labels asks for up to the library's limit of a million labels is valid and
 * linear in cost (two million JSON members made, sorted and printed), but takes tens of seconds
 * under ASan: the per-input time limit would flag it. Such inputs are skipped; the limit itself is
 * tested in test_loader_hostile. */
static bool many_labels(const char *text) {
    cJSON *j = cJSON_Parse(text);
    const cJSON *nl = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "num_labels") : NULL;
    bool many = cJSON_IsNumber(nl) && nl->valuedouble > 4096;
    cJSON_Delete(j);
    return many;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    if (many_labels(text)) {
        free(text);
        return 0;
    }
    am_config *c = am_config_from_json(text, "fuzz/config.json");
    free(text);
    if (!c) return 0;
    int64_t v;
    (void)am_config_get_int(c, "hidden_size", &v);
    (void)am_config_num_labels(c);
    (void)am_config_id2label(c, 0);
    char *j = am_config_to_json_string(c);
    char *r = am_config_repr(c);
    am_free(j);
    am_free(r);
    /* a model built from a fuzzed config must fail cleanly or build (bounded sizes only) */
    int64_t H = 0, L = 0, V = 0;
    if (am_config_get_int(c, "hidden_size", &H) == AM_OK && am_config_get_int(c, "num_hidden_layers", &L) == AM_OK &&
        am_config_get_int(c, "vocab_size", &V) == AM_OK && H > 0 && H <= 64 && L >= 0 && L <= 2 && V > 0 && V <= 256) {
        am_model *m = am_model_from_config(AM_TASK_AUTO, c, 1);
        am_model_free(m);
    }
    am_config_free(c);
    return 0;
}
