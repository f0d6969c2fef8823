/* tests/test_demo.c — the shipped sms-spam-bert model against transformers' reference: every test
 * example's logits within 1e-4 (batch 1, reference input_ids), every prediction equal, and the
 * test accuracy exactly the reference's 99.01%. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

static int check_example(am_model *m, const cJSON *ex, int *correct) {
    const cJSON *ids = cJSON_GetObjectItem(ex, "input_ids"), *lg = cJSON_GetObjectItem(ex, "logits");
    int64_t T = cJSON_GetArraySize(ids), shape[2] = {1, T};
    am_tensor *t = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(t);
    int i = 0;
    for (const cJSON *x = ids->child; x; x = x->next) p[i++] = (int64_t)x->valuedouble;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    am_tensors *out = am_model_forward(m, in, NULL);
    am_tensors_free(in);
    if (!out) return 1;
    const float *l = am_tensor_cdata(am_tensors_get(out, "logits"));
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        double want = cJSON_GetArrayItem(lg, k)->valuedouble;
        if (fabs(l[k] - want) > 1e-4) bad = 1;
    }
    const char *pred = l[1] > l[0] ? "spam" : "ham";
    CHECKF(!strcmp(pred, cJSON_GetObjectItem(ex, "predicted")->valuestring), "prediction of line %d",
           cJSON_GetObjectItem(ex, "line") ? cJSON_GetObjectItem(ex, "line")->valueint : -1);
    const cJSON *label = cJSON_GetObjectItem(ex, "label");
    if (label && !strcmp(pred, label->valuestring)) (*correct)++;
    am_tensors_free(out);
    return bad;
}

int am_test_main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/sms-spam-bert";
    char path[4096];
    snprintf(path, sizeof path, "%s/reference.json", dir);
    char *text = am_test_read_file(path, NULL);
    CHECK(text != NULL);
    if (!text) return 1;
    cJSON *ref = cJSON_Parse(text);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
    CHECKF(m != NULL, "load: %s", am_last_error());
    if (!m) return 1;
    CHECK(!strcmp(am_model_class_name(m), "BertForSequenceClassification"));
    CHECK(!strcmp(am_config_id2label(am_model_config(m), 1), "spam"));
    int correct = 0, bad = 0, n = 0;
    for (const cJSON *ex = cJSON_GetObjectItem(ref, "examples")->child; ex; ex = ex->next, n++) bad += check_example(m, ex, &correct);
    CHECKF(bad == 0, "%d of %d examples have logits off by more than 1e-4", bad, n);
    double acc = (double)correct / n, want = atof(cJSON_GetObjectItem(ref, "test_accuracy")->valuestring ? cJSON_GetObjectItem(ref, "test_accuracy")->valuestring : "0");
    if (cJSON_IsNumber(cJSON_GetObjectItem(ref, "test_accuracy"))) want = cJSON_GetObjectItem(ref, "test_accuracy")->valuedouble;
    CHECKF(acc == want, "accuracy %.6f, reference %.6f (%d/%d)", acc, want, correct, n);
    int hw_correct = 0;
    for (const cJSON *ex = cJSON_GetObjectItem(ref, "hand_written")->child; ex; ex = ex->next) bad += check_example(m, ex, &hw_correct);
    CHECK(bad == 0);
    printf("sms-spam-bert: %d/%d correct (accuracy %.4f%%)\n", correct, n, 100.0 * acc);
    am_model_free(m);
    cJSON_Delete(ref);
    free(text);
    return 0;
}
