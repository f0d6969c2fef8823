/* tests/test_audio_io.c — audio input and feature extractors against ffmpeg 5.1 / transformers 4.32
 * (tests/fixtures/media, tests/fixtures/processors): every aud_* file decoded to 16 kHz mono as
 * `ffmpeg -i pipe:0 -ac 1 -ar 16000 -f f32le` gives it (decoded_16k.safetensors, or int16 / 32768
 * of the file's PCM), bad files refused with a message naming them, and every audio case of
 * fixtures/processors (Wav2Vec2FeatureExtractor, WhisperFeatureExtractor) within its tolerance. */
#include "harness.h"
#include "audio/audio.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *g_index; /* media/index.json */
static am_tensors *g_decoded;

/* int16 PCM of a canonical mono WAV (the test's own RIFF walk), as float32 x / 32768 */
static float *wav_pcm16(const uint8_t *p, size_t len, size_t *n) {
    if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WAVE", 4)) return NULL;
    size_t at = 12;
    while (at + 8 <= len) {
        uint32_t sz = (uint32_t)p[at + 4] | (uint32_t)p[at + 5] << 8 | (uint32_t)p[at + 6] << 16 | (uint32_t)p[at + 7] << 24;
        if (!memcmp(p + at, "data", 4)) {
            size_t bytes = sz <= len - at - 8 ? sz : len - at - 8;
            *n = bytes / 2;
            float *o = malloc((*n ? *n : 1) * sizeof(float));
            for (size_t i = 0; o && i < *n; i++) o[i] = (float)(int16_t)(p[at + 8 + 2 * i] | p[at + 9 + 2 * i] << 8) / 32768.0f;
            return o;
        }
        at += 8 + sz + (sz & 1);
    }
    return NULL;
}

static void test_decode_fixtures(void) {
    const cJSON *auds = cJSON_GetObjectItem(g_index, "audio"), *it;
    int ran = 0;
    cJSON_ArrayForEach(it, auds) {
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(it, "file"));
        const cJSON *ref = cJSON_GetObjectItem(it, "ffmpeg_read_16k");
        if (!file || !ref) continue;
        char rel[128];
        snprintf(rel, sizeof rel, "media/%s", file);
        am_audio *a = am_audio_load(am_test_fixture(rel), 16000);
        CHECKF(a != NULL, "%s: %s", file, am_last_error());
        if (!a) continue;
        ran++;
        CHECK(am_audio_sampling_rate(a) == 16000);
        size_t want = (size_t)cJSON_GetObjectItem(ref, "samples")->valuedouble;
        CHECKF(am_audio_length(a) == want, "%s: %zu samples, ffmpeg gives %zu", file, am_audio_length(a), want);
        const float *s = am_audio_samples(a);
        float mn = 0, mx = 0;
        for (size_t i = 0; i < am_audio_length(a); i++) mn = fminf(mn, s[i]), mx = fmaxf(mx, s[i]);
        CHECKF(mn == (float)cJSON_GetObjectItem(ref, "min")->valuedouble && mx == (float)cJSON_GetObjectItem(ref, "max")->valuedouble,
               "%s: range [%.9g, %.9g]", file, mn, mx);
        /* the samples themselves: ffmpeg's stored decode, or the file's PCM / 32768 */
        const float *e = NULL;
        float *pcm = NULL;
        size_t en = 0;
        const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(ref, "decoded_tensor"));
        if (dt) {
            am_tensor *t = am_tensors_get(g_decoded, dt);
            CHECKF(t != NULL, "%s: not in decoded_16k.safetensors", dt);
            if (t) e = am_tensor_cdata(t), en = (size_t)am_tensor_numel(t);
        } else if (strstr(file, ".wav")) {
            size_t len;
            uint8_t *bytes = (uint8_t *)am_test_read_file(am_test_fixture(rel), &len);
            pcm = bytes ? wav_pcm16(bytes, len, &en) : NULL;
            free(bytes);
            e = pcm;
        } else {
            /* FLAC: 16-bit PCM, so every sample is a multiple of 1/32768 */
            bool grid = true;
            for (size_t i = 0; i < am_audio_length(a); i++) grid &= s[i] * 32768.0f == rintf(s[i] * 32768.0f);
            CHECKF(grid, "%s: samples are not int16 / 32768", file);
        }
        if (e) {
            CHECK(en == am_audio_length(a));
            double worst = 0;
            size_t nd = 0;
            for (size_t i = 0; i < en && i < am_audio_length(a); i++) {
                double d = fabs((double)s[i] - e[i]);
                if (d > 0) nd++;
                worst = fmax(worst, d);
            }
            printf("decode %s: %zu samples, max |diff| %g (%zu differ)\n", file, en, worst, nd);
            CHECKF(worst == 0, "%s: max |diff| %g against ffmpeg, %zu samples differ", file, worst, nd);
        }
        free(pcm);
        am_audio_free(a);
    }
    CHECKF(ran == 9, "%d audio files decoded", ran);
    /* the file's own rate, mono */
    am_audio *c = am_audio_load(am_test_fixture("media/aud_speech_c_22k.wav"), 0);
    CHECKF(c && am_audio_sampling_rate(c) == 22050 && am_audio_length(c) == 34398, "%s", am_last_error());
    am_audio_free(c);
    am_audio *d = am_audio_load(am_test_fixture("media/aud_speech_d_44k_stereo.wav"), -1);
    CHECKF(d && am_audio_sampling_rate(d) == 44100 && am_audio_length(d) == 74768, "%s", am_last_error());
    am_audio_free(d);
}

static void expect_error(am_audio *a, const char *what, const char *needle) {
    CHECKF(a == NULL, "%s decoded", what);
    am_audio_free(a);
    CHECKF(strstr(am_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, am_last_error(), needle);
}

static void test_bad_files(void) {
    size_t len;
    char *wav = am_test_read_file(am_test_fixture("media/aud_speech_a_16k.wav"), &len);
    CHECK(wav != NULL);
    if (!wav) return;
    expect_error(am_audio_decode(wav, 30, 16000, "trunc.wav"), "a WAV cut in its header", "trunc.wav");
    expect_error(am_audio_decode(wav, 0, 16000, "empty.wav"), "an empty file", "empty");
    expect_error(am_audio_decode("garbage garbage garbage garbage garbage", 39, 16000, "junk.bin"), "garbage", "junk.bin");
    /* cut inside the samples: what decodes is kept, as ffmpeg does */
    am_audio *half = am_audio_decode(wav, 44 + 2000, 16000, "half.wav");
    CHECKF(half && am_audio_length(half) == 1000, "%s", am_last_error());
    am_audio_free(half);
    /* past the duration limit: refused as soon as decoding passes it (a pipe has no duration) */
    am__audio_set_max_seconds(1.0);
    expect_error(am_audio_decode(wav, len, 16000, "long.wav"), "2.9 s with a 1 s limit", "longer than 1 seconds");
    am__audio_set_max_seconds(0);
    char *big = malloc(len);
    /* 300 channels */
    memcpy(big, wav, len);
    big[22] = (char)(300 & 0xff), big[23] = (char)(300 >> 8);
    am_audio *many = am_audio_decode(big, len, 16000, "many.wav");
    CHECKF(many == NULL, "300 channels decoded");
    CHECK(strstr(am_last_error(), "many.wav") != NULL);
    am_audio_free(many);
    free(big);
    free(wav);
    expect_error(am_audio_load(am_test_fixture("media"), 16000), "a directory", "media");
    expect_error(am_audio_load(am_test_fixture("media/none.wav"), 16000), "a missing file", "none.wav");
    expect_error(am_audio_load(am_test_fixture("media/img_cat.png"), 16000), "a PNG", "img_cat.png");
    /* from samples */
    float x[3] = {1, 2, 3};
    am_audio *s = am_audio_from_samples(x, 3, 8000);
    CHECK(s && am_audio_length(s) == 3 && am_audio_samples(s)[2] == 3 && am_audio_sampling_rate(s) == 8000);
    am_audio_free(s);
    CHECK(am_audio_from_samples(x, 3, 0) == NULL);
    CHECK(am_audio_from_samples(NULL, 3, 16000) == NULL);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char *text = am_test_read_file(am_test_fixture("media/index.json"), NULL);
    g_index = text ? cJSON_Parse(text) : NULL;
    free(text);
    g_decoded = am_tensors_load_safetensors(am_test_fixture("media/decoded_16k.safetensors"));
    CHECKF(g_index && g_decoded, "%s", am_last_error());
    if (!g_index || !g_decoded) return 1;
    test_decode_fixtures();
    test_bad_files();
    am_tensors_free(g_decoded);
    cJSON_Delete(g_index);
    return 0;
}
