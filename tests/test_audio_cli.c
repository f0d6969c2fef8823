/* tests/test_audio_cli.c — `automodel preprocess MODEL --audio ...`: every audio case of
 * fixtures/processors run through the CLI (its keyword arguments as dashed flags) against
 * transformers' tensors within the case's tolerance; refusals (a flag the extractor does not take,
 * a bad audio file, --images with --audio). */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_cli;
static char g_tmp[256];

static int cli(const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' preprocess %s 2>&1", g_cli, args);
    return am_test_run(cmd, out);
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
    int at = snprintf(args, sizeof args, "'%s' --audio", am_test_fixture(rel));
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(c, "inputs"))
        at += snprintf(args + at, sizeof args - at, " '%s'", am_test_fixture(cJSON_GetObjectItem(in, "file")->valuestring));
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
    char outp[512];
    snprintf(outp, sizeof outp, "%s/%s.safetensors", g_tmp, name);
    at += snprintf(args + at, sizeof args - at, " --output '%s'", outp);
    char *log = NULL;
    int rc = cli(args, &log);
    CHECKF(rc == 0, "%s: exit %d: %s", name, rc, log ? log : "");
    free(log);
    snprintf(rel, sizeof rel, "processors/%s/expected.safetensors", name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture(rel)), *got = rc == 0 ? am_tensors_load_safetensors(outp) : NULL;
    CHECKF(exp && got, "%s: %s", name, am_last_error());
    for (size_t k = 0; exp && got && k < am_tensors_count(exp); k++) {
        const char *tn = am_tensors_name(exp, k);
        if (!strncmp(tn, "aux.", 4)) continue;
        am_tensor *e = am_tensor_to(am_tensors_at(exp, k), AM_F64), *g = am_tensors_get(got, tn);
        am_tensor *gf = g ? am_tensor_to(g, AM_F64) : NULL;
        CHECKF(e && gf && am_tensor_numel(e) == am_tensor_numel(gf), "%s: %s missing or of another size", name, tn);
        if (e && gf && am_tensor_numel(e) == am_tensor_numel(gf)) {
            const double *x = am_tensor_cdata(gf), *y = am_tensor_cdata(e);
            double worst = 0;
            for (int64_t j = 0; j < am_tensor_numel(e); j++) worst = fmax(worst, fabs(x[j] - y[j]));
            const cJSON *tol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "tolerance"), tn), "atol");
            double lim = cJSON_IsNumber(tol) ? tol->valuedouble : 0.0;
            CHECKF(worst <= lim, "%s: %s max |diff| %g > %g", name, tn, worst, lim);
        }
        am_tensor_free(e);
        am_tensor_free(gf);
    }
    am_tensors_free(exp);
    am_tensors_free(got);
    cJSON_Delete(c);
}

static void expect_refusal(const char *args, const char *needle) {
    char *log = NULL;
    int rc = cli(args, &log);
    CHECKF(rc != 0 && log && strstr(log, needle), "%s: exit %d, output '%s' lacks '%s'", args, rc, log ? log : "", needle);
    free(log);
}

static void test_refusals(void) {
    char model[512], wav[512], png[512], args[2048];
    snprintf(model, sizeof model, "%s", am_test_fixture("processors/wav2vec2_raw_mask_pad"));
    snprintf(wav, sizeof wav, "%s", am_test_fixture("media/aud_speech_a_16k.wav"));
    snprintf(png, sizeof png, "%s", am_test_fixture("media/img_cat.png"));
    snprintf(args, sizeof args, "'%s' --audio '%s' --resample 0 --output '%s/x.safetensors'", model, wav, g_tmp);
    expect_refusal(args, "--resample is not a keyword argument of Wav2Vec2FeatureExtractor");
    snprintf(args, sizeof args, "'%s' --audio '%s' --output '%s/x.safetensors'", model, png, g_tmp);
    expect_refusal(args, "img_cat.png");
    snprintf(args, sizeof args, "'%s' --audio '%s' --images '%s' --output '%s/x.safetensors'", model, wav, png, g_tmp);
    expect_refusal(args, "--images and --audio together");
    snprintf(args, sizeof args, "'%s' --audio '%s' --sampling-rate 8000 --output '%s/x.safetensors'", model, wav, g_tmp);
    expect_refusal(args, "sampling rate of 16000");
    /* no refused run leaves an output file */
    snprintf(args, sizeof args, "%s/x.safetensors", g_tmp);
    CHECK(access(args, F_OK) != 0);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_audio_cli_%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_tmp);
    CHECK(am_test_run(cmd, NULL) == 0);
    const char *cases[] = {"wav2vec2_norm_mask_pad", "wav2vec2_norm_maxlen_truncate", "wav2vec2_norm_nomask_pad",
                           "wav2vec2_raw_mask_pad", "wav2vec2_raw_nomask_single", "whisper_16mel_40frames_batch2",
                           "whisper_16mel_40frames_normalize", "whisper_80_batch2_mask", "whisper_80_default_single"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(cases[i]);
    test_refusals();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    am_test_run(cmd, NULL);
    return 0;
}
