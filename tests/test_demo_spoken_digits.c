/* tests/test_demo_spoken_digits.c — the spoken-digits-wav2vec2 demo model (models/spoken-digits-wav2vec2,
 * a Wav2Vec2ForSequenceClassification with the layer-norm conv encoder, conv biases and the
 * stable-layer-norm encoder) at the model level: every one of the 200 held-out clips of
 * test/test.tsv, preprocessed as reference.json says (16-bit PCM / 32768, zero mean and unit
 * variance over the clip with 1e-7, an all-ones attention_mask), through am_model_forward; the
 * logits equal reference.json's (transformers 4.32's forward on the same input) within 1e-4
 * (+ 1e-4 relative), every prediction equals the reference's, and 200 / 200 are correct. The
 * pipeline-level accuracy (decoding, feature extractor, `automodel pipeline`) is tested with the
 * audio pipelines. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t u32le(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* the samples of a mono 16-bit PCM WAV (what these test clips are), as int16 / 32768; NULL otherwise */
static float *read_wav(const char *path, int64_t *n) {
    size_t len = 0;
    unsigned char *d = (unsigned char *)am_test_read_file(path, &len);
    float *x = NULL;
    bool fmt_ok = false;
    if (!d || len < 12 || memcmp(d, "RIFF", 4) || memcmp(d + 8, "WAVE", 4)) goto done;
    for (size_t at = 12; at + 8 <= len;) {
        uint32_t sz = u32le(d + at + 4);
        if (sz > len - at - 8) break;
        const unsigned char *c = d + at + 8;
        if (!memcmp(d + at, "fmt ", 4) && sz >= 16)
            fmt_ok = c[0] == 1 && c[1] == 0 && c[2] == 1 && c[3] == 0 && u32le(c + 4) == 16000 && c[14] == 16 && c[15] == 0;
        if (!memcmp(d + at, "data", 4) && fmt_ok) {
            *n = sz / 2;
            x = malloc((size_t)(*n ? *n : 1) * sizeof(float));
            for (int64_t i = 0; x && i < *n; i++) x[i] = (float)(int16_t)(c[2 * i] | c[2 * i + 1] << 8) / 32768.0f;
            break;
        }
        at += 8 + sz + (sz & 1);
    }
done:
    free(d);
    return x;
}

int am_test_main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/spoken-digits-wav2vec2";
    char path[4200];
    snprintf(path, sizeof path, "%s/reference.json", dir);
    char *text = am_test_read_file(path, NULL);
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(ref != NULL, "%s", path);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
    CHECKF(m && !strcmp(am_model_class_name(m), "Wav2Vec2ForSequenceClassification"), "load: %s", m ? am_model_class_name(m) : am_last_error());
    if (!ref || !m) {
        cJSON_Delete(ref);
        am_model_free(m);
        return 1;
    }
    CHECK(am_model_num_parameters(m, false, false) == 136778);
    const am_config *cfg = am_model_config(m);
    const cJSON *files = cJSON_GetObjectItem(ref, "files");
    int n = cJSON_GetArraySize(files), correct = 0, same_pred = 0, close = 0;
    CHECK(n == 200);
    for (const cJSON *f = files->child; f; f = f->next) {
        const char *file = cJSON_GetObjectItem(f, "file")->valuestring;
        snprintf(path, sizeof path, "%s/test/%s", dir, file);
        int64_t L = 0;
        float *x = read_wav(path, &L);
        CHECKF(x && L == (int64_t)cJSON_GetObjectItem(f, "samples")->valuedouble, "%s: a 16 kHz mono 16-bit WAV of the listed length", path);
        if (!x) continue;
        /* Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7) */
        double mean = 0, var = 0;
        for (int64_t i = 0; i < L; i++) mean += x[i];
        mean /= (double)L;
        for (int64_t i = 0; i < L; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
        float mf = (float)mean, sd = (float)sqrt((double)(float)(var / (double)L) + 1e-7);
        int64_t shape[2] = {1, L};
        am_tensor *iv = am_tensor_new(AM_F32, 2, shape), *mk = am_tensor_new(AM_I64, 2, shape);
        float *v = am_tensor_data(iv);
        int64_t *ones = am_tensor_data(mk);
        for (int64_t i = 0; i < L; i++) v[i] = (x[i] - mf) / sd, ones[i] = 1;
        free(x);
        am_tensors *in = am_tensors_new();
        am_tensors_set(in, "input_values", iv);
        am_tensors_set(in, "attention_mask", mk);
        am_tensors *out = am_model_forward(m, in, NULL);
        CHECKF(out != NULL, "%s: %s", file, am_last_error());
        const am_tensor *lt = out ? am_tensors_get(out, "logits") : NULL;
        if (lt && am_tensor_numel(lt) == 10) {
            const float *lg = am_tensor_cdata(lt);
            const cJSON *want = cJSON_GetObjectItem(f, "logits");
            int best = 0, ok = 1;
            for (int k = 0; k < 10; k++) {
                double w = cJSON_GetArrayItem(want, k)->valuedouble;
                if (!(fabs(lg[k] - w) <= 1e-4 + 1e-4 * fabs(w))) {
                    if (ok) fprintf(stderr, "%s: logits[%d] = %.8g, want %.8g\n", file, k, lg[k], w);
                    ok = 0;
                }
                if (lg[k] > lg[best]) best = k;
            }
            close += ok;
            const char *label = am_config_id2label(cfg, best);
            same_pred += label && !strcmp(label, cJSON_GetObjectItem(f, "predicted")->valuestring);
            correct += label && !strcmp(label, cJSON_GetObjectItem(f, "label")->valuestring);
        } else CHECKF(0, "%s: logits [1, 10]", file);
        am_tensors_free(out);
        am_tensors_free(in);
        am_tensor_free(iv);
        am_tensor_free(mk);
    }
    CHECKF(close == n, "%d of %d clips with the reference logits", close, n);
    CHECKF(same_pred == n, "%d of %d predictions equal the reference's", same_pred, n);
    CHECKF(correct == (int)cJSON_GetObjectItem(ref, "correct")->valuedouble, "%d / %d correct, reference.json says %d", correct, n,
           (int)cJSON_GetObjectItem(ref, "correct")->valuedouble);
    printf("spoken-digits-wav2vec2: %d / %d correct (%.2f %%), logits within 1e-4 on %d\n", correct, n, 100.0 * correct / n, close);
    cJSON_Delete(ref);
    am_model_free(m);
    return 0;
}
