/* tests/test_vision_models.c — vision model checks beyond the models/ fixture cases:
 *  - the YOLOS checkpoint with random detection tokens and position embeddings
 *    (fixtures/pipelines_media/object_detection_yolos_random_embeddings, transformers 4.32): its
 *    model_level references at a non-native size (bicubic interpolation of both position tables),
 *    every pipeline model call's logits and boxes (native, smaller, odd widths), stats, loading
 *    report, repr, and the save round trip;
 *  - ViT's interpolate_pos_encoding input and the pixel_values checks. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static am_tensors *forward1(am_model *m, am_tensor *px) {
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "pixel_values", px);
    am_tensors *out = am_model_forward(m, in, NULL);
    am_tensors_free(in);
    return out;
}

static void yolos_random_embeddings(void) {
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("pipelines_media/object_detection_yolos_random_embeddings"));
    snprintf(p, sizeof p, "%s/case.json", dir);
    char *js = am_test_read_file(p, NULL);
    cJSON *cj = js ? cJSON_Parse(js) : NULL;
    CHECK(cj != NULL);
    snprintf(p, sizeof p, "%s/expected.safetensors", dir);
    am_tensors *exp = am_tensors_load_safetensors(p);
    CHECK(exp != NULL);
    const cJSON *ml = cJSON_GetObjectItem(cj, "model_level");
    am_model *m = am_model_from_pretrained(AM_TASK_OBJECT_DETECTION, dir, NULL);
    CHECKF(m != NULL, "load: %s", am_last_error());
    if (!m || !exp || !ml) goto done;
    CHECK(!strcmp(am_model_class_name(m), cJSON_GetObjectItem(ml, "loaded_class")->valuestring));
    const cJSON *st = cJSON_GetObjectItem(ml, "stats");
    CHECK(am_model_num_parameters(m, false, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters")->valuedouble);
    CHECK(am_model_num_parameters(m, false, true) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_exclude_embeddings")->valuedouble);
    CHECK(am_model_memory_footprint(m, true) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint")->valuedouble);
    CHECK(!am_model_is_training(m));
    const am_loading_info *li = am_model_loading_info(m);
    CHECK(li->n_missing == 0 && li->n_unexpected == 0 && li->n_mismatched == 0);
    char *repr = am_model_repr(m);
    snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(ml, "repr_file")->valuestring);
    char *want = am_test_read_file(p, NULL);
    CHECKF(repr && want && !strncmp(repr, want, strlen(repr)) && !strcmp(want + strlen(repr), "\n"), "repr:\n%s", repr);
    am_free(repr);
    free(want);
    /* model_level: a 40x64 batch (5x8 patches against the 4x6 of the config) */
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "pixel_values", am_tensors_get(exp, "model.in.pixel_values"));
    am_tensors *out = am_model_forward(m, in, NULL);
    CHECKF(out != NULL, "forward: %s", am_last_error());
    for (const cJSON *o = cJSON_GetObjectItem(ml, "outputs")->child; out && o; o = o->next) {
        const char *name = o->string + strlen("model.out.");
        CHECKF(am_test_close(o->string, am_tensors_get(out, name), am_tensors_get(exp, o->string), cJSON_GetObjectItem(o, "atol")->valuedouble,
                         cJSON_GetObjectItem(o, "rtol")->valuedouble),
               "model_level %s", o->string);
    }
    am_test_cli_model_level(dir, "object-detection", in, ml, exp); /* the same references through `automodel` */
    /* every model call of the pipeline runs: 32x48 (native), 32x32, 32x44, 32x47 */
    int calls = 0;
    for (const cJSON *run = cJSON_GetObjectItem(cj, "runs")->child; run; run = run->next)
        for (const cJSON *c = cJSON_GetObjectItem(run, "model_calls")->child; c; c = c->next) {
            char key[256], k2[256];
            const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
            int ci = cJSON_GetObjectItem(c, "call")->valueint;
            snprintf(key, sizeof key, "%s.%d.pixel_values", rn, ci);
            am_tensors *o = forward1(m, am_tensors_get(exp, key));
            CHECKF(o != NULL, "%s: %s", key, am_last_error());
            snprintf(k2, sizeof k2, "%s.%d.logits", rn, ci);
            CHECKF(o && am_test_close(k2, am_tensors_get(o, "logits"), am_tensors_get(exp, k2), 1e-4, 1e-4), "%s", k2);
            snprintf(k2, sizeof k2, "%s.%d.pred_boxes", rn, ci);
            CHECKF(o && am_test_close(k2, am_tensors_get(o, "pred_boxes"), am_tensors_get(exp, k2), 1e-4, 1e-4), "%s", k2);
            am_tensors_free(o);
            calls++;
        }
    CHECK(calls == 5);
    /* save round trip: the listed files, and the reload reproduces the outputs exactly */
    char tmpl[] = "/tmp/am_test_yolos_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL);
    if (tmp && out) {
        CHECK_OK(am_model_save_pretrained(m, tmp, NULL));
        am_test_check_saved(tmp, cJSON_GetObjectItem(ml, "save_roundtrip"));
        am_model *r = am_model_from_pretrained(AM_TASK_OBJECT_DETECTION, tmp, NULL);
        CHECKF(r != NULL, "reload: %s", am_last_error());
        am_tensors *o2 = r ? am_model_forward(r, in, NULL) : NULL;
        CHECK(o2 && am_test_close("reloaded logits", am_tensors_get(o2, "logits"), am_tensors_get(out, "logits"), 0, 0));
        CHECK(o2 && am_test_close("reloaded boxes", am_tensors_get(o2, "pred_boxes"), am_tensors_get(out, "pred_boxes"), 0, 0));
        am_tensors_free(o2);
        am_model_free(r);
        snprintf(p, sizeof p, "rm -rf %s", tmp);
        CHECK(system(p) == 0);
    }
    am_tensors_free(out);
    am_tensors_free(in);
done:
    am_model_free(m);
    am_tensors_free(exp);
    cJSON_Delete(cj);
    free(js);
}

/* ViT: interpolate_pos_encoding and the input checks */
static void vit_inputs(void) {
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("models/vit_imgcls"));
    snprintf(p, sizeof p, "%s/expected.safetensors", dir);
    am_tensors *exp = am_tensors_load_safetensors(p);
    am_model *m = am_model_from_pretrained(AM_TASK_IMAGE_CLASSIFICATION, dir, NULL);
    CHECKF(m && exp, "load: %s", am_last_error());
    if (!m || !exp) goto done;
    am_tensor *px = am_tensors_get(exp, "in.pixel_values");
    /* the native size with the flag: 4.32 returns the table itself, so the logits are the same */
    am_tensor *flag = am_tensor_new(AM_I64, 0, NULL);
    *(int64_t *)am_tensor_data(flag) = 1;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "pixel_values", px);
    am_tensors_set(in, "interpolate_pos_encoding", flag);
    am_tensors *out = am_model_forward(m, in, NULL);
    CHECKF(out && am_test_close("logits", am_tensors_get(out, "logits"), am_tensors_get(exp, "out.logits"), 1e-4, 1e-4), "native size with flag: %s",
           out ? "" : am_last_error());
    am_tensors_free(out);
    /* 48x40: 6x5 patches from the 4x4 table; without the flag, transformers' ValueError */
    int64_t shape[4] = {1, 3, 48, 40};
    am_tensor *big = am_tensor_new(AM_F32, 4, shape);
    float *b = am_tensor_data(big);
    for (int64_t i = 0; i < am_tensor_numel(big); i++) b[i] = (float)sin(0.37 * (double)i);
    am_tensors_set(in, "pixel_values", big);
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    out = am_model_forward(m, in, &fo);
    CHECKF(out != NULL, "48x40 with interpolate_pos_encoding: %s", am_last_error());
    const am_tensor *h0 = out ? am_tensors_get(out, "hidden_states.0") : NULL;
    CHECK(h0 && am_tensor_dim(h0, 1) == 31 && am_tensor_dim(h0, 2) == 32);
    const am_tensor *lg = out ? am_tensors_get(out, "logits") : NULL;
    bool finite = lg != NULL;
    for (int64_t i = 0; lg && i < am_tensor_numel(lg); i++) finite = finite && isfinite(((const float *)am_tensor_cdata(lg))[i]);
    CHECK(finite);
    am_tensors_free(out);
    am_tensors *in2 = am_tensors_new();
    am_tensors_set(in2, "pixel_values", big);
    CHECK(am_model_forward(m, in2, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "Input image size (48*40) doesn't match model (32*32).") != NULL, "%s", am_last_error());
    /* channels and rank */
    int64_t s2[4] = {1, 4, 32, 32};
    am_tensor *c4 = am_tensor_new(AM_F32, 4, s2);
    am_tensors_set(in2, "pixel_values", c4);
    CHECK(am_model_forward(m, in2, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "Expected 3 but got 4") != NULL, "%s", am_last_error());
    int64_t s3[3] = {3, 32, 32};
    am_tensor *r3 = am_tensor_new(AM_F32, 3, s3);
    am_tensors_set(in2, "pixel_values", r3);
    CHECK(am_model_forward(m, in2, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "4 dimensions") != NULL, "%s", am_last_error());
    am_tensors_set(in2, "input_ids", flag);
    CHECK(am_model_forward(m, in2, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "unexpected keyword argument 'input_ids'") != NULL, "%s", am_last_error());
    am_tensor_free(c4);
    am_tensor_free(r3);
    am_tensor_free(big);
    am_tensor_free(flag);
    am_tensors_free(in);
    am_tensors_free(in2);
done:
    am_model_free(m);
    am_tensors_free(exp);
}

/* configs the vision builders refuse, with a message naming the key */
static void bad_configs(void) {
    static const struct {
        const char *json, *needle;
    } k[] = {
        {"{\"model_type\": \"vision-encoder-decoder\", \"encoder\": {\"model_type\": \"vit\"}}", "\"decoder\""},
        {"{\"model_type\": \"vision-encoder-decoder\", \"encoder\": {\"model_type\": \"bert\"}, \"decoder\": {\"model_type\": \"gpt2\"}}",
         "encoder model_type \"bert\" is not supported"},
        {"{\"model_type\": \"segformer\", \"num_encoder_blocks\": 2, \"depths\": [1]}", "\"depths\" must be a list of 2"},
        {"{\"model_type\": \"vit\", \"hidden_size\": 30, \"num_attention_heads\": 4}", "multiple of num_attention_heads"},
        {"{\"model_type\": \"yolos\", \"image_size\": [36, 48], \"patch_size\": 8, \"hidden_size\": 32, \"num_attention_heads\": 4}",
         "multiple of patch_size"},
    };
    static const am_task tasks[] = {AM_TASK_VISION2SEQ, AM_TASK_VISION2SEQ, AM_TASK_SEMANTIC_SEGMENTATION, AM_TASK_IMAGE_CLASSIFICATION,
                                    AM_TASK_OBJECT_DETECTION};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        am_config *c = am_config_from_json(k[i].json, "config.json");
        am_model *m = c ? am_model_from_config(tasks[i], c, 1) : NULL;
        CHECKF(m == NULL && strstr(am_last_error(), k[i].needle) != NULL, "config %zu: %s", i, am_last_error());
        am_model_free(m);
        am_config_free(c);
    }
}

/* the task image-segmentation loads SegFormer's semantic head, as the image-segmentation pipeline
 * does (AutoModelForImageSegmentation, else AutoModelForSemanticSegmentation); a model type with
 * neither is still refused */
static void image_segmentation_task(void) {
    am_model *m = am_model_from_pretrained(AM_TASK_IMAGE_SEGMENTATION, am_test_fixture("models/segformer_seg"), NULL);
    CHECKF(m && !strcmp(am_model_class_name(m), "SegformerForSemanticSegmentation"), "image-segmentation: %s",
           m ? am_model_class_name(m) : am_last_error());
    am_model_free(m);
    m = am_model_from_pretrained(AM_TASK_IMAGE_SEGMENTATION, am_test_fixture("models/vit_imgcls"), NULL);
    CHECKF(!m && strstr(am_last_error(), "AutoModelForImageSegmentation"), "vit under image-segmentation: %s", am_last_error());
    am_model_free(m);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    image_segmentation_task();
    yolos_random_embeddings();
    vit_inputs();
    bad_configs();
    return 0;
}
