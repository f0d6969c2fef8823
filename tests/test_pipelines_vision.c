/* tests/test_pipelines_vision.c — the image pipelines against transformers 4.32: every run of the
 * vision cases of fixtures/pipelines_media through `automodel pipeline TASK MODEL INPUT... --json
 * --KWARG VALUE` and through am_pipeline_call, compared with the recorded result (labels, order and
 * int boxes exact, scores within 1e-4, generated text exact; a run where transformers raised must
 * fail); object detection's float corners against post_process_object_detection's boxes (1e-3
 * pixels); the generic command reaching the text pipelines; kwargs refused clearly. */
#include "harness.h"
#include "pipeline_cases.h"
#include "pipelines/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_cli;

static void check_cli_run(const char *name, const char *task, const cJSON *run) {
    const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
    char *out = NULL;
    int rc = am_test_cli_pipeline(g_cli, name, task, run, &out);
    const cJSON *want = cJSON_GetObjectItem(run, "result");
    if (cJSON_GetObjectItem(run, "raises")) {
        CHECKF(rc != 0 && out && strstr(out, "\"error\""), "%s/%s: transformers raised; got rc %d: %s", name, rn, rc, out ? out : "");
    } else {
        cJSON *got = out ? cJSON_Parse(out) : NULL;
        char why[512] = "";
        CHECKF(rc == 0 && got && am_test_json_same(got, want, NULL, why, sizeof why), "%s/%s (CLI): rc %d: %s\n got %s", name, rn, rc, why, out ? out : "");
        cJSON_Delete(got);
    }
    free(out);
}

/* The same runs through the C API; object detection's float corners against post.boxes. */
static void check_api_case(const char *name, am_task task, const cJSON *c) {
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    am_pipeline *p = am_pipeline_new(task, am_test_fixture(rel), NULL);
    CHECKF(p != NULL, "%s: %s", name, am_last_error());
    if (!p) return;
    snprintf(rel, sizeof rel, "pipelines_media/%s/expected.safetensors", name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture(rel));
    CHECK(exp != NULL);
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) {
        const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
        char *paths[8];
        size_t n = am_test_run_inputs(run, paths, 8);
        char *kw = cJSON_PrintUnformatted(cJSON_GetObjectItem(run, "call_kwargs"));
        am_pipeline_result *res[8] = {0};
        CHECK_OK(am_pipeline_call(p, n, (const char *const *)paths, kw, res));
        const cJSON *want = cJSON_GetObjectItem(run, "result");
        bool raises = cJSON_GetObjectItem(run, "raises") != NULL;
        for (size_t i = 0; i < n; i++) {
            if (!res[i]) continue;
            if (raises) {
                CHECKF(am_pipeline_result_error(res[i]) != NULL, "%s/%s: transformers raised", name, rn);
                continue;
            }
            char *js = am_pipeline_result_json(res[i]);
            cJSON *got = js ? cJSON_Parse(js) : NULL;
            char why[512] = "";
            const cJSON *w = cJSON_IsString(cJSON_GetObjectItem(run, "inputs")) ? want : cJSON_GetArrayItem(want, (int)i);
            CHECKF(got && am_test_json_same(got, w, NULL, why, sizeof why), "%s/%s[%zu] (API): %s\n got %s", name, rn, i, why, js ? js : "");
            cJSON_Delete(got);
            am_free(js);
            if (task == AM_TASK_OBJECT_DETECTION) { /* threshold 0 keeps every token, in order: post.boxes row for row */
                char key[128];
                snprintf(key, sizeof key, "%s.%zu.post.boxes", rn, i);
                am_tensor *b = exp ? am_tensors_get(exp, key) : NULL;
                const am_detection *d = am_pipeline_result_detections(res[i]);
                size_t nd = am_pipeline_result_count(res[i]);
                if (!b || (size_t)am_tensor_dim(b, 0) != nd) continue; /* a thresholded run keeps fewer */
                const float *bv = am_tensor_cdata(b);
                double worst = 0;
                for (size_t k = 0; k < nd; k++)
                    for (int j = 0; j < 4; j++) worst = fmax(worst, fabs(d[k].corners[j] - bv[k * 4 + j]));
                CHECKF(worst <= 1e-3, "%s/%s[%zu]: float boxes off by %g px", name, rn, i, worst);
                printf("  %s/%s[%zu]: %zu boxes, max |corner - transformers| = %.2g px\n", name, rn, i, nd, worst);
            }
        }
        for (size_t i = 0; i < n; i++) {
            am_pipeline_result_free(res[i]);
            free(paths[i]);
        }
        free(kw);
    }
    am_tensors_free(exp);
    am_pipeline_free(p);
}

static void check_case(const char *name, const char *task_name) {
    cJSON *c = am_test_load_case(name);
    if (!c) return;
    const cJSON *run;
    int k = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) {
        check_cli_run(name, task_name, run);
        k++;
    }
    am_task task;
    CHECK_OK(am_pipeline_task_parse(task_name, &task));
    check_api_case(name, task, c);
    printf("%s: %d runs through the CLI and the API\n", name, k);
    cJSON_Delete(c);
}

static int cli(const char *args, char **out) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' pipeline %s 2>&1", g_cli, args);
    return am_test_run(cmd, out);
}

static void check_cli_surface(void) {
    char *out = NULL;
    const char *vit = am_test_strdup(am_test_fixture("pipelines_media/image_classification_vit"));
    const char *img = am_test_strdup(am_test_fixture("media/img_cat.png"));
    char a[2048];
    /* a kwarg another task takes is refused, naming the task's own */
    snprintf(a, sizeof a, "image-classification '%s' '%s' --threshold 0.3", vit, img);
    CHECK(cli(a, &out) == 2 && out && strstr(out, "--threshold is not a keyword argument of the image-classification pipeline (it takes --top-k)"));
    free(out);
    /* an unknown flag, an unknown task, a bad value, a missing file */
    snprintf(a, sizeof a, "image-classification '%s' '%s' --no-such-kwarg 1", vit, img);
    CHECK(cli(a, &out) == 2 && out && strstr(out, "unknown option '--no-such-kwarg'"));
    free(out);
    snprintf(a, sizeof a, "image-painting '%s' '%s'", vit, img);
    CHECK(cli(a, &out) == 2 && out && strstr(out, "unknown pipeline task 'image-painting'"));
    free(out);
    snprintf(a, sizeof a, "image-classification '%s' '%s' --top-k 0", vit, img);
    CHECK(cli(a, &out) == 1 && out && strstr(out, "top_k must be an integer >= 1"));
    free(out);
    snprintf(a, sizeof a, "image-classification '%s' /nonexistent.png --json", vit);
    CHECK(cli(a, &out) == 1 && out && strstr(out, "{\"error\": ") && strstr(out, "/nonexistent.png"));
    free(out);
    /* batched (2 images per model call) with a bad file in the middle: its error, the others answered */
    snprintf(a, sizeof a, "image-classification '%s' '%s' /nonexistent.png '%s' --batch-size 2 --top-k 1 --json", vit, img, img);
    CHECK(cli(a, &out) == 1 && out);
    if (out) {
        char *j = strchr(out, '[');
        cJSON *got = j ? cJSON_Parse(j) : NULL, *one = cJSON_Parse("[{\"score\": 0.5891234278678894, \"label\": \"LABEL_0\"}]");
        char why[256] = "";
        CHECKF(cJSON_GetArraySize(got) == 3 && am_test_json_same(cJSON_GetArrayItem(got, 0), one, NULL, why, sizeof why) &&
                   cJSON_GetObjectItem(cJSON_GetArrayItem(got, 1), "error") && am_test_json_same(cJSON_GetArrayItem(got, 2), one, NULL, why, sizeof why),
               "batched: %s %s", why, out);
        cJSON_Delete(got);
        cJSON_Delete(one);
    }
    free(out);
    /* the default top_k (5) clipped to the 3 labels; readable output without --json */
    snprintf(a, sizeof a, "image-classification '%s' '%s'", vit, img);
    CHECK(cli(a, &out) == 0 && out && strstr(out, "LABEL_0      0.5891\nLABEL_1      0.2352\nLABEL_2      0.1757\n"));
    free(out);
    /* --input-file: one image per line, JSON lines out */
    char list[600];
    snprintf(list, sizeof list, "%s/vision_pipeline_inputs.txt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    FILE *f = fopen(list, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "%s\n%s\n", img, img);
        fclose(f);
        snprintf(a, sizeof a, "image-classification '%s' --input-file '%s' --top-k 1", vit, list);
        CHECK(cli(a, &out) == 0 && out);
        cJSON *want = cJSON_Parse("[{\"score\": 0.5891234278678894, \"label\": \"LABEL_0\"}]"); /* transformers', png_top_all */
        int lines = 0;
        for (char *l = out, *nl; l && *l; l = nl ? nl + 1 : NULL, lines++) {
            if ((nl = strchr(l, '\n'))) *nl = 0;
            cJSON *got = cJSON_Parse(l);
            char why[256] = "";
            CHECKF(got && am_test_json_same(got, want, NULL, why, sizeof why), "--input-file line %d: %s", lines + 1, why);
            cJSON_Delete(got);
        }
        CHECK(lines == 2);
        cJSON_Delete(want);
        free(out);
        remove(list);
    }
    /* image-to-text: max_new_tokens both ways refused as transformers refuses it */
    const char *ved = am_test_strdup(am_test_fixture("pipelines_media/image_to_text_vision_encoder_decoder"));
    snprintf(a, sizeof a, "image-to-text '%s' '%s' --max-new-tokens 3 --generate-kwargs '{\"max_new_tokens\": 4}'", ved, img);
    CHECK(cli(a, &out) == 1 && out && strstr(out, "'max_new_tokens' is defined twice"));
    free(out);
    snprintf(a, sizeof a, "image-to-text '%s' '%s' --generate-kwargs '{\"max_new_tokens\": 3}' --json", ved, img);
    CHECK(cli(a, &out) == 0 && out && !strcmp(out, "[{\"generated_text\": \"\\\"NNN\"}]\n"));
    free(out);
    /* the text pipelines through the generic command: transformers' names and the short forms */
    const char *sms = am_test_strdup(am_test_fixture("../../models/sms-spam-bert"));
    snprintf(a, sizeof a, "text-classification '%s' 'WINNER! Claim your free prize now' --json --top-k 2", sms);
    char *o1 = NULL, *o2 = NULL;
    CHECK(cli(a, &o1) == 0 && o1 && strstr(o1, "[{\"label\": \"spam\", \"score\": 0.9"));
    snprintf(a, sizeof a, "classify '%s' 'WINNER! Claim your free prize now' --json --top-k 2", sms);
    CHECK(cli(a, &o2) == 0 && o1 && o2 && !strcmp(o1, o2));
    free(o1);
    free(o2);
    snprintf(a, sizeof a, "text-classification '%s' 'hello there' 'see you at 5' --json --function-to-apply sigmoid", sms);
    /* several inputs without top_k: one {"label", "score"} each, as transformers returns them */
    CHECK(cli(a, &out) == 0 && out && !strncmp(out, "[{\"label\": \"ham\", \"score\": 0.97", strlen("[{\"label\": \"ham\", \"score\": 0.97")) && strstr(out, "}, {\"label\": \"ham\"") &&
          !strstr(out, "[["));
    free(out);
    free((void *)sms);
    free((void *)ved);
    free((void *)vit);
    free((void *)img);
}

/* A mask we wrote against transformers' mask PNG: equal at every pixel whose top-1 / top-2 margin
 * of the upsampled logits is at least 1e-4 (the fixture's rule for ties). Returns the pixels compared. */
static size_t mask_equal(const char *ours, const char *theirs, const float *margin, int H, int W, const char *what) {
    am_image *a = am_image_load(ours, AM_IMAGE_LABELS), *b = am_image_load(theirs, AM_IMAGE_LABELS);
    CHECKF(a && b, "%s: %s", what, am_last_error());
    size_t n = 0, bad = 0;
    if (a && b) {
        CHECKF(am_image_width(a) == W && am_image_height(a) == H && am_image_width(b) == W && am_image_height(b) == H, "%s: size", what);
        const uint8_t *pa = am_image_pixels(a), *pb = am_image_pixels(b);
        for (size_t k = 0; am_image_width(a) == W && am_image_height(a) == H && k < (size_t)H * (size_t)W; k++) {
            if (margin[k] < 1e-4f) continue;
            n++;
            bad += pa[k] != pb[k];
        }
        CHECKF(bad == 0, "%s: %zu of %zu pixels differ", what, bad, n);
    }
    am_image_free(a);
    am_image_free(b);
    return n;
}

/* Semantic segmentation's post-processing on the logits SegFormer gave transformers (recorded in
 * expected.safetensors): the labels present and every mask PNG equal to transformers'. Then, when
 * the model itself loads (SegFormer), every run through `automodel pipeline image-segmentation`. */
static void check_segmentation(void) {
    const char *name = "image_segmentation_segformer";
    cJSON *c = am_test_load_case(name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture("pipelines_media/image_segmentation_segformer/expected.safetensors"));
    CHECK(exp != NULL);
    if (!c || !exp) {
        cJSON_Delete(c);
        am_tensors_free(exp);
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/am_seg_%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    mkdir(dir, 0700);
    const cJSON *run;
    size_t masks = 0, pixels = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) {
        const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(run, "result");
        bool list = cJSON_IsArray(cJSON_GetObjectItem(run, "inputs"));
        size_t counter = 0;
        for (int i = 0; i < (list ? cJSON_GetArraySize(want) : 1); i++) {
            const cJSON *w = list ? cJSON_GetArrayItem(want, i) : want;
            char key[128];
            snprintf(key, sizeof key, "%s.%d.logits", rn, i);
            am_tensor *lg = am_tensors_get(exp, key);
            snprintf(key, sizeof key, "%s.%d.segmentation_margin", rn, i);
            am_tensor *mg = am_tensors_get(exp, key);
            CHECK(lg && mg);
            if (!lg || !mg) continue;
            int H = (int)am_tensor_dim(mg, 0), W = (int)am_tensor_dim(mg, 1);
            am_pipeline_result *r = am__pl_result_new(AM__PL_SEGMENTS);
            CHECK_OK(am__pl_semantic_segments(r, am_tensor_cdata(lg), (int)am_tensor_dim(lg, 1), (int)am_tensor_dim(lg, 2),
                                              (int)am_tensor_dim(lg, 3), H, W, NULL, dir, &counter));
            const am_segment *sg = am_pipeline_result_segments(r);
            CHECKF((int)am_pipeline_result_count(r) == cJSON_GetArraySize(w), "%s[%d]: %zu masks, transformers %d", rn, i,
                   am_pipeline_result_count(r), cJSON_GetArraySize(w));
            for (int k = 0; k < cJSON_GetArraySize(w) && k < (int)am_pipeline_result_count(r); k++) {
                const cJSON *wk = cJSON_GetArrayItem(w, k);
                const char *png = cJSON_GetObjectItem(cJSON_GetObjectItem(wk, "mask"), "mask_png")->valuestring;
                CHECKF(!strcmp(sg[k].label, cJSON_GetObjectItem(wk, "label")->valuestring), "%s[%d] label %s", rn, i, sg[k].label);
                /* the same numbering as transformers' files: <run>.mask<k>.png <-> mask<k>.png */
                const char *suffix = strstr(png, ".mask");
                CHECKF(suffix && strlen(sg[k].mask_path) >= strlen(suffix + 1) &&
                           !strcmp(sg[k].mask_path + strlen(sg[k].mask_path) - strlen(suffix + 1), suffix + 1),
                       "%s: %s vs %s", rn, sg[k].mask_path, png);
                char rel[256];
                snprintf(rel, sizeof rel, "pipelines_media/%s/%s", name, png);
                pixels += mask_equal(sg[k].mask_path, am_test_fixture(rel), am_tensor_cdata(mg), H, W, png);
                masks++;
                remove(sg[k].mask_path);
            }
            am_pipeline_result_free(r);
        }
    }
    printf("%s: %zu masks from the recorded logits equal to transformers' (%zu pixels compared)\n", name, masks, pixels);
    /* the whole pipeline, once SegFormer loads */
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    am_pipeline_options po = am_pipeline_options_default();
    po.output_dir = dir;
    am_pipeline *p = am_pipeline_new(AM_TASK_IMAGE_SEGMENTATION, am_test_fixture(rel), &po);
    if (!p) printf("%s: the pipeline itself not run: %s\n", name, am_last_error());
    /* the C API: run semantic_png, the mask bytes in the result against transformers' PNG */
    if (p) {
        const char *img = am_test_fixture("media/img_coffee.png");
        am_pipeline_result *r = NULL;
        CHECK_OK(am_pipeline_call(p, 1, &img, "{\"subtask\": \"semantic\"}", &r));
        const am_segment *sg = am_pipeline_result_segments(r);
        am_tensor *mg = am_tensors_get(exp, "semantic_png.0.segmentation_margin");
        CHECKF(sg && am_pipeline_result_count(r) == 4, "%s", r ? am_pipeline_result_json(r) : am_last_error());
        for (size_t k = 0; sg && mg && k < am_pipeline_result_count(r); k++) {
            char frel[256];
            snprintf(frel, sizeof frel, "pipelines_media/%s/semantic_png.mask%zu.png", name, k);
            am_image *want = am_image_load(am_test_fixture(frel), AM_IMAGE_LABELS);
            const float *m = am_tensor_cdata(mg);
            size_t bad = 0, HW = (size_t)sg[k].width * (size_t)sg[k].height;
            CHECK(want && am_image_width(want) == sg[k].width && am_image_height(want) == sg[k].height);
            for (size_t q = 0; want && q < HW && am_image_width(want) == sg[k].width; q++) bad += m[q] >= 1e-4f && sg[k].mask[q] != am_image_pixels(want)[q];
            CHECKF(bad == 0, "API mask %zu: %zu pixels differ", k, bad);
            am_image_free(want);
            remove(sg[k].mask_path);
        }
        am_pipeline_result_free(r);
        /* instance / panoptic are refused as transformers refuses them for SegFormer */
        CHECK(am_pipeline_call(p, 1, &img, "{\"subtask\": \"panoptic\"}", &r) == AM_ERR_UNSUPPORTED &&
              strstr(am_last_error(), "Subtask panoptic is not supported for model SegformerForSemanticSegmentation"));
    }
    am_pipeline_free(p);
    cJSON *runs = p ? cJSON_GetObjectItem(c, "runs") : (cJSON *)NULL;
    cJSON_ArrayForEach(run, runs) {
        const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
        char *paths[8];
        size_t n = am_test_run_inputs(run, paths, 8);
        char cmd[4096];
        int at = snprintf(cmd, sizeof cmd, "'%s' pipeline image-segmentation '%s' --json --output-dir '%s'", g_cli, am_test_fixture(rel), dir);
        for (size_t i = 0; i < n; i++) at += snprintf(cmd + at, sizeof cmd - at, " '%s'", paths[i]);
        const cJSON *kw;
        cJSON_ArrayForEach(kw, cJSON_GetObjectItem(run, "call_kwargs")) at += snprintf(cmd + at, sizeof cmd - at, " --%s '%s'", kw->string, kw->valuestring);
        char *out = NULL;
        CHECKF(am_test_run(cmd, &out) == 0, "%s", cmd);
        cJSON *got = out ? cJSON_Parse(out) : NULL;
        const cJSON *want = cJSON_GetObjectItem(run, "result");
        bool list = n > 1;
        for (int i = 0; i < (list ? cJSON_GetArraySize(want) : 1); i++) {
            const cJSON *w = list ? cJSON_GetArrayItem(want, i) : want, *g = list ? cJSON_GetArrayItem(got, i) : got;
            char key[128];
            snprintf(key, sizeof key, "%s.%d.segmentation_margin", rn, i);
            am_tensor *mg = am_tensors_get(exp, key);
            CHECKF(cJSON_GetArraySize(g) == cJSON_GetArraySize(w), "%s[%d] (CLI): %s", rn, i, out ? out : "");
            for (int k = 0; mg && k < cJSON_GetArraySize(w) && k < cJSON_GetArraySize(g); k++) {
                const cJSON *wk = cJSON_GetArrayItem(w, k), *gk = cJSON_GetArrayItem(g, k);
                CHECK(cJSON_IsNull(cJSON_GetObjectItem(gk, "score")));
                CHECK(!strcmp(cJSON_GetObjectItem(gk, "label")->valuestring, cJSON_GetObjectItem(wk, "label")->valuestring));
                char frel[256];
                snprintf(frel, sizeof frel, "pipelines_media/%s/%s", name, cJSON_GetObjectItem(cJSON_GetObjectItem(wk, "mask"), "mask_png")->valuestring);
                const char *ours = cJSON_GetObjectItem(gk, "mask")->valuestring;
                mask_equal(ours, am_test_fixture(frel), am_tensor_cdata(mg), (int)am_tensor_dim(mg, 0), (int)am_tensor_dim(mg, 1), ours);
                remove(ours);
            }
        }
        cJSON_Delete(got);
        free(out);
        for (size_t i = 0; i < n; i++) free(paths[i]);
        printf("%s/%s: through `automodel pipeline`\n", name, rn);
    }
    rmdir(dir);
    am_tensors_free(exp);
    cJSON_Delete(c);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    check_case("image_classification_vit", "image-classification");
    check_case("object_detection_yolos", "object-detection");
    check_case("object_detection_yolos_random_embeddings", "object-detection");
    check_case("image_to_text_vision_encoder_decoder", "image-to-text");
    check_segmentation();
    check_cli_surface();
    return 0;
}
