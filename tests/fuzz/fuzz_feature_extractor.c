/* fuzz_feature_extractor — arbitrary bytes as preprocessor_config.json: loaded, and when its sizes
 * are small, called on two short waveforms at the extractor's rate, without kwargs and with the
 * bytes as the call's keyword arguments too. */
#include "automodel.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(const cJSON *j, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItem(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* the waveform the call pads to, the frame count and the FFT stay small */
static int cheap(const char *text) {
    cJSON *j = cJSON_Parse(text);
    if (!j) return 0;
    int ok = cJSON_IsObject(j);
    if (ok) {
        double samples = num(j, "chunk_length", 30) * num(j, "sampling_rate", 16000);
        double hop = num(j, "hop_length", 160), nfft = num(j, "n_fft", 400), mels = num(j, "feature_size", 80);
        ok = samples <= 48000 && hop >= 8 && samples / hop <= 2000 && nfft <= 2048 && mels <= 256 &&
             fabs(num(j, "max_length", 0)) <= 100000 && fabs(num(j, "pad_to_multiple_of", 0)) <= 100000;
    }
    cJSON_Delete(j);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    am_feature_extractor *fe = am_feature_extractor_from_json(text, "fuzz/preprocessor_config.json");
    if (fe && cheap(text)) {
        float x[3000];
        for (int i = 0; i < 3000; i++) x[i] = (float)sin(i * 0.05) * (i % 7 ? 0.5f : -0.25f);
        int rate = am_feature_extractor_sampling_rate(fe);
        am_audio *a = am_audio_from_samples(x, 3000, rate), *b = am_audio_from_samples(x + 100, 1200, rate);
        const am_audio *ab[2] = {a, b};
        am_tensors *out = NULL;
        if (a && b) {
            if (am_feature_extractor_call(fe, ab, 2, "{\"padding\": true}", &out) == AM_OK) am_tensors_free(out);
            out = NULL;
            if (am_feature_extractor_call(fe, ab, 2, text, &out) == AM_OK) am_tensors_free(out);
        }
        am_audio_free(a);
        am_audio_free(b);
    }
    am_feature_extractor_free(fe);
    free(text);
    return 0;
}
