/* tests/test_vision_cli.c — `automodel preprocess` as a user meets it: every image case of
 * fixtures/processors run through the CLI (its keyword arguments turned into dashed flags) and
 * compared with transformers' tensors; flags overriding the saved config (checked against other
 * cases' references); flags a class does not take, unknown flags and bad files refused. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_cli;

/* am_test_fixture's result lives in one static buffer: keep several at once */
static const char *fx(const char *rel) {
    static char ring[8][512];
    static int at;
    char *b = ring[at++ % 8];
    snprintf(b, sizeof ring[0], "%s", am_test_fixture(rel));
    return b;
}
static char g_tmp[256];

/* runs the CLI; returns its exit status, *err gets stderr+stdout */
static int cli(const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' preprocess %s 2>&1", g_cli, args);
    return am_test_run(cmd, out);
}

static bool tensors_equal(const am_tensor *a, const am_tensor *b) {
    if (!a || !b || am_tensor_dtype(a) != am_tensor_dtype(b) || am_tensor_ndim(a) != am_tensor_ndim(b)) return false;
    for (int d = 0; d < am_tensor_ndim(a); d++)
        if (am_tensor_dim(a, d) != am_tensor_dim(b, d)) return false;
    return !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(a));
}

static void run_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "processors/%s/case.json", name);
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(c != NULL);
    if (!c) return;
    char args[6144];
    snprintf(rel, sizeof rel, "processors/%s", name);
    int at = snprintf(args, sizeof args, "'%s' --images", am_test_fixture(rel));
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(c, "inputs"))
        at += snprintf(args + at, sizeof args - at, " '%s'", am_test_fixture(cJSON_GetObjectItem(in, "file")->valuestring));
    const cJSON *maps = cJSON_GetObjectItem(c, "segmentation_maps");
    if (cJSON_IsArray(maps) && cJSON_GetArraySize(maps)) {
        at += snprintf(args + at, sizeof args - at, " --segmentation-maps");
        cJSON_ArrayForEach(in, maps) at += snprintf(args + at, sizeof args - at, " '%s'", am_test_fixture(in->valuestring));
    }
    const cJSON *kw;
    cJSON_ArrayForEach(kw, cJSON_GetObjectItem(cJSON_GetObjectItem(c, "call"), "kwargs")) {
        char flag[64];
        size_t i = 0;
        for (; kw->string[i] && i + 1 < sizeof flag; i++) flag[i] = kw->string[i] == '_' ? '-' : kw->string[i];
        flag[i] = 0;
        char *v = cJSON_IsString(kw) ? strdup(kw->valuestring) : cJSON_PrintUnformatted(kw);
        at += snprintf(args + at, sizeof args - at, " --%s '%s'", flag, v);
        free(v);
    }
    char outp[300];
    snprintf(outp, sizeof outp, "%s/%s.safetensors", g_tmp, name);
    snprintf(args + at, sizeof args - at, " --output '%s'", outp);
    char *o = NULL;
    int rc = cli(args, &o);
    CHECKF(rc == 0, "%s: exit %d: %s", name, rc, o ? o : "");
    CHECKF(o && strstr(o, "pixel_values ["), "%s: %s", name, o ? o : "");
    free(o);
    snprintf(rel, sizeof rel, "processors/%s/expected.safetensors", name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture(rel));
    am_tensors *got = rc == 0 ? am_tensors_load_safetensors(outp) : NULL;
    CHECKF(exp && got, "%s: %s", name, am_last_error());
    size_t compared = 0;
    for (size_t k = 0; exp && got && k < am_tensors_count(exp); k++) {
        const char *tn = am_tensors_name(exp, k);
        if (!strncmp(tn, "resized", 7)) continue;
        CHECKF(tensors_equal(am_tensors_get(got, tn), am_tensors_at(exp, k)), "%s: %s differs from transformers'", name, tn);
        compared++;
    }
    CHECK(!got || compared == am_tensors_count(got));
    am_tensors_free(exp);
    am_tensors_free(got);
    cJSON_Delete(c);
}

static am_tensors *load_rel(const char *rel) { return am_tensors_load_safetensors(fx(rel)); }

/* flags change what the saved config says, with the effect transformers gives */
static void test_overrides(void) {
    char args[4096], outp[300], *o = NULL;
    /* do_reduce_labels=False on the reducing processor: the labels of the non-reducing case */
    snprintf(outp, sizeof outp, "%s/noreduce.safetensors", g_tmp);
    snprintf(args, sizeof args, "'%s' --images '%s' --segmentation-maps '%s' --do-reduce-labels false --output '%s'",
             fx("processors/segformer_32_reduce_labels"), fx("media/img_coffee.png"),
             fx("media/seg_coffee_labels.png"), outp);
    int rc = cli(args, &o);
    CHECKF(rc == 0, "%s", o ? o : "");
    free(o);
    am_tensors *got = am_tensors_load_safetensors(outp), *ref = load_rel("processors/segformer_32_labels/expected.safetensors");
    CHECK(got && ref && tensors_equal(am_tensors_get(got, "labels"), am_tensors_get(ref, "labels")));
    CHECK(got && ref && tensors_equal(am_tensors_get(got, "pixel_values"), am_tensors_get(ref, "pixel_values")));
    am_tensors_free(got);
    am_tensors_free(ref);

    /* --do-rescale false --do-normalize false: uint8 pixel_values = the resized images, CHW */
    snprintf(outp, sizeof outp, "%s/raw.safetensors", g_tmp);
    snprintf(args, sizeof args, "'%s' --images '%s' '%s' --do-rescale false --do-normalize=false --output '%s'",
             fx("processors/vit_32_bilinear_batch3"), fx("media/img_cat.jpg"),
             fx("media/img_camera_gray.png"), outp);
    rc = cli(args, &o);
    CHECKF(rc == 0 && o && strstr(o, "uint8"), "%s", o ? o : "");
    free(o);
    got = am_tensors_load_safetensors(outp);
    ref = load_rel("processors/vit_32_bilinear_batch3/expected.safetensors");
    am_tensor *pv = got ? am_tensors_get(got, "pixel_values") : NULL;
    CHECK(pv && am_tensor_dtype(pv) == AM_U8 && am_tensor_dim(pv, 0) == 2);
    for (int i = 0; pv && ref && i < 2; i++) {
        char key[32];
        snprintf(key, sizeof key, "resized.%d", i);
        const am_tensor *r = am_tensors_get(ref, key);
        const uint8_t *p = (const uint8_t *)am_tensor_cdata(pv) + (size_t)i * 3 * 32 * 32;
        const int64_t *e = am_tensor_cdata(r);
        int bad = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int ch = 0; ch < 3; ch++) bad += p[(ch * 32 + y) * 32 + x] != e[(y * 32 + x) * 3 + ch];
        CHECKF(bad == 0, "raw image %d: %d values differ from resized.%d", i, bad, i);
    }
    am_tensors_free(got);
    am_tensors_free(ref);

    /* --size as an int (ViT: a square), --data-format channels_last, --resample as PIL's code */
    snprintf(outp, sizeof outp, "%s/sq.safetensors", g_tmp);
    snprintf(args, sizeof args, "'%s' --image '%s' --size 16 --data-format channels_last --resample 3 --output '%s'",
             fx("processors/vit_32_bilinear_batch3"), fx("media/img_cat.jpg"), outp);
    rc = cli(args, &o);
    CHECKF(rc == 0 && o && strstr(o, "pixel_values [1, 16, 16, 3] float32"), "%s", o ? o : "");
    free(o);
}

static void test_refusals(void) {
    char args[4096], *o = NULL;
    const char *vit = fx("processors/vit_32_bilinear_batch3");
    char vitd[512];
    snprintf(vitd, sizeof vitd, "%s", vit);
    const char *img = fx("media/img_cat.jpg");
    char imgd[512];
    snprintf(imgd, sizeof imgd, "%s", img);
    struct {
        const char *extra, *expect;
        int rc;
    } cases[] = {
        {"--do-pad", "--do-pad is not a keyword argument of ViTImageProcessor", 2},
        {"--do-reduce-labels false", "--do-reduce-labels is not a keyword argument of ViTImageProcessor", 2},
        {"--not-a-kwarg 3", "unknown option '--not-a-kwarg'", 2},
        {"--resample 9", "resample", 1},
        {"--size '{\"shortest\": 3}'", "size", 1},
        {"--image-mean '[0.5, 0.5]'", "image_mean", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "'%s' --images '%s' %s --output '%s/x.safetensors'", vitd, imgd, cases[i].extra, g_tmp);
        int rc = cli(args, &o);
        CHECKF(rc == cases[i].rc && o && strstr(o, cases[i].expect), "%s: exit %d: %s", cases[i].extra, rc, o ? o : "");
        free(o);
    }
    /* a file that is not an image: the message names it */
    snprintf(args, sizeof args, "'%s' --images '%s' --output '%s/x.safetensors'", vitd,
             fx("processors/vit_32_bilinear_batch3/case.json"), g_tmp);
    int rc = cli(args, &o);
    CHECKF(rc == 1 && o && strstr(o, "case.json") && strstr(o, "cannot identify image file"), "%s", o ? o : "");
    free(o);
    /* segmentation maps for a class that takes none; a count mismatch; no --output */
    snprintf(args, sizeof args, "'%s' --images '%s' --segmentation-maps '%s' --output '%s/x.safetensors'", vitd, imgd,
             fx("media/seg_coffee_labels.png"), g_tmp);
    rc = cli(args, &o);
    CHECKF(rc == 2 && o && strstr(o, "takes no segmentation maps"), "%s", o ? o : "");
    free(o);
    snprintf(args, sizeof args, "'%s' --images '%s' '%s' --segmentation-maps '%s' --output '%s/x.safetensors'",
             fx("processors/segformer_32_labels"), imgd, imgd, fx("media/seg_coffee_labels.png"), g_tmp);
    rc = cli(args, &o);
    CHECKF(rc == 2 && o && strstr(o, "one map per image"), "%s", o ? o : "");
    free(o);
    snprintf(args, sizeof args, "'%s' --images '%s'", vitd, imgd);
    rc = cli(args, &o);
    CHECKF(rc == 2 && o && strstr(o, "--output"), "%s", o ? o : "");
    free(o);
    /* a folder without preprocessor_config.json */
    snprintf(args, sizeof args, "'%s' --images '%s' --output '%s/x.safetensors'", g_tmp, imgd, g_tmp);
    rc = cli(args, &o);
    CHECKF(rc == 1 && o && strstr(o, "preprocessor_config.json"), "%s", o ? o : "");
    free(o);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_vision_cli_%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_tmp);
    CHECK(am_test_run(cmd, NULL) == 0);
    const char *cases[] = {"vit_default_single", "vit_32_bilinear_batch3", "vit_32_bicubic_batch3", "vit_24x40_imagenet_odd",
                           "vit_32_no_normalize_nearest_override", "yolos_32_48_batch2_pad", "yolos_64_96_batch2_pad",
                           "yolos_20_40_no_normalize", "segformer_32_labels", "segformer_32_reduce_labels",
                           "segformer_48x40_batch2"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(cases[i]);
    test_overrides();
    test_refusals();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    am_test_run(cmd, NULL);
    return 0;
}
