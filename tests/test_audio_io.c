/* tests/test_audio_io.c — audio input and feature extractors against ffmpeg 5.1 / transformers 4.32
 * (tests/fixtures/media, tests/fixtures/processors): every aud_* file decoded to 16 kHz mono as
 * `ffmpeg -i pipe:0 -ac 1 -ar 16000 -f f32le` gives it (decoded_16k.safetensors, or int16 / 32768
 * of the file's PCM), bad files refused with a message naming them, and every audio case of
 * fixtures/processors (Wav2Vec2FeatureExtractor, WhisperFeatureExtractor) within its tolerance. */
#include "harness.h"
#include "audio/audio.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
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

/* One audio case of fixtures/processors: the extractor re-loaded from its preprocessor_config.json,
 * called on the decoded inputs with the case's keyword arguments; every output within the case's
 * tolerance (attention_mask exact), and nothing transformers does not return. */
static void run_extractor_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "processors/%s/case.json", name);
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(c != NULL, "%s: case.json", name);
    if (!c) return;
    snprintf(rel, sizeof rel, "processors/%s", name);
    am_feature_extractor *fe = am_feature_extractor_from_pretrained(am_test_fixture(rel));
    CHECKF(fe != NULL, "%s: %s", name, am_last_error());
    const cJSON *cls = cJSON_GetObjectItem(c, "processor_class");
    CHECK(fe && cJSON_IsString(cls) && !strcmp(am_feature_extractor_class_name(fe), cls->valuestring));
    snprintf(rel, sizeof rel, "processors/%s/expected.safetensors", name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture(rel));
    CHECKF(exp != NULL, "%s: %s", name, am_last_error());
    const cJSON *inputs = cJSON_GetObjectItem(c, "inputs");
    size_t n = (size_t)cJSON_GetArraySize(inputs);
    am_audio *auds[8] = {0};
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *f = cJSON_GetObjectItem(cJSON_GetArrayItem(inputs, (int)i), "file")->valuestring;
        auds[i] = am_audio_load(am_test_fixture(f), fe ? am_feature_extractor_sampling_rate(fe) : 16000);
        CHECKF(auds[i] != NULL, "%s: %s", f, am_last_error());
    }
    cJSON *kw = cJSON_Duplicate(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "call"), "kwargs"), 1);
    char *kwj = kw ? cJSON_PrintUnformatted(kw) : NULL;
    am_tensors *out = NULL;
    if (fe && exp) CHECK_OK(am_feature_extractor_call(fe, (const am_audio *const *)auds, n, kwj, &out));
    if (out) {
        size_t compared = 0;
        for (size_t k = 0; k < am_tensors_count(exp); k++) {
            const char *tn = am_tensors_name(exp, k);
            if (!strncmp(tn, "aux.", 4)) continue;
            compared++;
            am_tensor *e = am_tensors_at(exp, k), *g = am_tensors_get(out, tn);
            CHECKF(g != NULL, "%s: output %s missing", name, tn);
            if (!g) continue;
            bool shape_ok = am_tensor_ndim(g) == am_tensor_ndim(e);
            for (int d = 0; shape_ok && d < am_tensor_ndim(e); d++) shape_ok = am_tensor_dim(g, d) == am_tensor_dim(e, d);
            CHECKF(shape_ok, "%s: %s shape", name, tn);
            if (!shape_ok) continue;
            am_tensor *gf = am_tensor_to(g, AM_F64), *ef = am_tensor_to(e, AM_F64);
            CHECK(gf && ef);
            if (gf && ef) {
                const double *x = am_tensor_cdata(gf), *y = am_tensor_cdata(ef);
                double worst = 0;
                int64_t nd = 0;
                for (int64_t j = 0; j < am_tensor_numel(e); j++) {
                    double d = fabs(x[j] - y[j]);
                    nd += d > 0;
                    worst = fmax(worst, d);
                }
                const cJSON *tol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "tolerance"), tn), "atol");
                double lim = cJSON_IsNumber(tol) ? tol->valuedouble : 0.0;
                printf("extractor case %s: %s max |diff| %g (%lld values differ, atol %g)\n", name, tn, worst, (long long)nd, lim);
                CHECKF(worst <= lim, "%s: %s max |diff| %g > %g", name, tn, worst, lim);
            }
            am_tensor_free(gf);
            am_tensor_free(ef);
        }
        CHECKF(am_tensors_count(out) == compared, "%s: %zu outputs, transformers returns %zu", name, am_tensors_count(out), compared);
    }
    for (size_t i = 0; i < 8; i++) am_audio_free(auds[i]);
    am_tensors_free(out);
    am_tensors_free(exp);
    cJSON_free(kwj);
    cJSON_Delete(kw);
    cJSON_Delete(c);
    am_feature_extractor_free(fe);
}

static void test_extractor_cases(void) {
    char *text = am_test_read_file(am_test_fixture("processors/index.json"), NULL);
    cJSON *idx = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(idx != NULL);
    const cJSON *cases = idx ? cJSON_GetObjectItem(idx, "cases") : NULL;
    int ran = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cases) {
        const cJSON *cls = cJSON_GetObjectItem(it, "class");
        const char *nm = it->string ? it->string : cJSON_GetStringValue(cJSON_GetObjectItem(it, "case"));
        if (!nm || !cJSON_IsString(cls) || !strstr(cls->valuestring, "FeatureExtractor")) continue;
        run_extractor_case(nm);
        ran++;
    }
    CHECKF(ran == 9, "%d audio cases ran", ran);
    cJSON_Delete(idx);
}

static void expect_call_error(const am_feature_extractor *fe, const am_audio *const *a, size_t n, const char *kw, const char *needle) {
    am_tensors *out = (am_tensors *)1;
    am_status s = am_feature_extractor_call(fe, a, n, kw, &out);
    CHECKF(s != AM_OK && out == NULL, "%s accepted", kw);
    CHECKF(strstr(am_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", kw, am_last_error(), needle);
}

/* refusals of the extractors: unknown or mistyped kwargs, another sampling rate, bad configs */
static void test_extractor_errors(void) {
    am_feature_extractor *w2v = am_feature_extractor_from_json("{\"feature_extractor_type\": \"Wav2Vec2FeatureExtractor\"}", "w2v");
    am_feature_extractor *wh = am_feature_extractor_from_json("{\"feature_extractor_type\": \"WhisperFeatureExtractor\", "
                                                              "\"chunk_length\": 1, \"feature_size\": 16}", "wh");
    CHECKF(w2v && wh, "%s", am_last_error());
    if (!w2v || !wh) goto out;
    CHECK(am_feature_extractor_sampling_rate(w2v) == 16000);
    float x[1000];
    for (int i = 0; i < 1000; i++) x[i] = (float)sin(i * 0.1);
    am_audio *a = am_audio_from_samples(x, 1000, 16000), *b = am_audio_from_samples(x, 700, 16000);
    am_audio *c8 = am_audio_from_samples(x, 700, 8000);
    const am_audio *ab[2] = {a, b};
    expect_call_error(w2v, ab, 2, "{\"paddding\": true}", "Wav2Vec2FeatureExtractor.__call__() got an unexpected keyword argument 'paddding'");
    expect_call_error(wh, ab, 2, "{\"top_k\": 1}", "WhisperFeatureExtractor.__call__() got an unexpected keyword argument 'top_k'");
    expect_call_error(w2v, ab, 2, "{\"sampling_rate\": 8000}", "was trained using a sampling rate of 16000");
    expect_call_error(w2v, ab, 2, "{\"padding\": \"middle\"}", "is not a valid PaddingStrategy");
    expect_call_error(w2v, ab, 2, "{\"max_length\": \"ten\"}", "max_length");
    expect_call_error(w2v, ab, 2, "{\"padding\": \"max_length\"}", "max_length is defined");
    expect_call_error(w2v, ab, 2, "{\"truncation\": true}", "max_length");
    expect_call_error(w2v, ab, 2, NULL, "padding=True"); /* unequal lengths, no padding */
    expect_call_error(w2v, ab, 2, "[1]", "JSON object");
    const am_audio *c[1] = {c8};
    expect_call_error(w2v, c, 1, NULL, "not 8000");
    /* padding variants: longest + pad_to_multiple_of, left padding */
    am_tensors *out = NULL;
    CHECK_OK(am_feature_extractor_call(w2v, ab, 2, "{\"padding\": true, \"pad_to_multiple_of\": 64, \"return_attention_mask\": true}", &out));
    am_tensor *iv = out ? am_tensors_get(out, "input_values") : NULL, *am = out ? am_tensors_get(out, "attention_mask") : NULL;
    CHECK(iv && am && am_tensor_dim(iv, 1) == 1024 && am_tensor_dim(am, 1) == 1024);
    if (am) CHECK(((const int64_t *)am_tensor_cdata(am))[1024 + 699] == 1 && ((const int64_t *)am_tensor_cdata(am))[1024 + 700] == 0);
    am_tensors_free(out);
    out = NULL;
    /* Whisper: truncated to 1 s = 16000 samples -> 40 frames of 16 mels */
    CHECK_OK(am_feature_extractor_call(wh, ab, 2, "{\"return_attention_mask\": true}", &out));
    am_tensor *f = out ? am_tensors_get(out, "input_features") : NULL;
    CHECK(f && am_tensor_dim(f, 0) == 2 && am_tensor_dim(f, 1) == 16 && am_tensor_dim(f, 2) == 100);
    am_tensors_free(out);
    am_audio_free(a);
    am_audio_free(b);
    am_audio_free(c8);
out:
    am_feature_extractor_free(w2v);
    am_feature_extractor_free(wh);
    /* configs */
    CHECK(am_feature_extractor_from_json("{\"feature_extractor_type\": \"SpeechT5FeatureExtractor\"}", "x") == NULL);
    CHECK(strstr(am_last_error(), "SpeechT5FeatureExtractor") != NULL);
    CHECK(am_feature_extractor_from_json("{\"sampling_rate\": 16000}", "noclass.json") == NULL);
    CHECK(strstr(am_last_error(), "noclass.json") != NULL);
    CHECK(am_feature_extractor_from_json("{\"feature_extractor_type\": \"WhisperFeatureExtractor\", \"chunk_length\": 1.5}", "x") == NULL);
    CHECK(strstr(am_last_error(), "chunk_length") != NULL);
    CHECK(am_feature_extractor_from_json("{\"feature_extractor_type\": \"WhisperFeatureExtractor\", \"n_fft\": 1e9}", "x") == NULL);
    CHECK(am_feature_extractor_from_json("{\"feature_extractor_type\": \"Wav2Vec2FeatureExtractor\", \"sampling_rate\": \"16k\"}", "x") == NULL);
    CHECK(am_feature_extractor_from_json("{", "broken.json") == NULL);
    CHECK(am_feature_extractor_from_pretrained(am_test_fixture("media")) == NULL);
    CHECK(strstr(am_last_error(), "preprocessor_config.json") != NULL);
    /* AutoFeatureExtractor's fallback: a preprocessor_config.json naming no class, config.json's model_type */
    char dir[64], cmd[512];
    snprintf(dir, sizeof dir, "/tmp/am_audio_fe_%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && echo '{\"sampling_rate\": 16000, \"feature_size\": 16, \"chunk_length\": 1}' > "
             "%s/preprocessor_config.json && echo '{\"model_type\": \"whisper\"}' > %s/config.json",
             dir, dir, dir);
    CHECK(am_test_run(cmd, NULL) == 0);
    am_feature_extractor *fb = am_feature_extractor_from_pretrained(dir);
    CHECKF(fb && !strcmp(am_feature_extractor_class_name(fb), "WhisperFeatureExtractor"), "%s", am_last_error());
    am_feature_extractor_free(fb);
    snprintf(cmd, sizeof cmd, "echo '{\"model_type\": \"bert\"}' > %s/config.json", dir);
    CHECK(am_test_run(cmd, NULL) == 0);
    CHECK(am_feature_extractor_from_pretrained(dir) == NULL);
    CHECK(strstr(am_last_error(), "feature_extractor_type") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    am_test_run(cmd, NULL);
}

/* one extractor and the decoder shared by 4 threads: every thread gets the single-threaded result */
typedef struct th_arg {
    const am_feature_extractor *fe;
    const char *file;
    am_tensors *out;
    size_t n;
} th_arg;
static void *th_run(void *p) {
    th_arg *a = p;
    for (int r = 0; r < 3; r++) {
        am_audio *au = am_audio_load(a->file, 16000);
        if (!au) return NULL;
        a->n = am_audio_length(au);
        const am_audio *one[1] = {au};
        am_tensors_free(a->out);
        a->out = NULL;
        am_feature_extractor_call(a->fe, one, 1, NULL, &a->out);
        am_audio_free(au);
    }
    return NULL;
}
static void test_threads(void) {
    am_feature_extractor *fe = am_feature_extractor_from_pretrained(am_test_fixture("processors/whisper_16mel_40frames_batch2"));
    CHECKF(fe != NULL, "%s", am_last_error());
    if (!fe) return;
    char file[512];
    snprintf(file, sizeof file, "%s", am_test_fixture("media/aud_speech_f_22k.ogg"));
    th_arg ref = {fe, file, NULL, 0}, args[4];
    th_run(&ref);
    CHECK(ref.out != NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (th_arg){fe, file, NULL, 0};
        pthread_create(&th[i], NULL, th_run, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        const am_tensor *a = args[i].out ? am_tensors_get(args[i].out, "input_features") : NULL;
        const am_tensor *b = ref.out ? am_tensors_get(ref.out, "input_features") : NULL;
        CHECK(a && b && args[i].n == ref.n && !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(b)));
        am_tensors_free(args[i].out);
    }
    am_tensors_free(ref.out);
    am_feature_extractor_free(fe);
}

/* the internal view call (the pipelines' chunks) equals the public call on copies */
static void test_views(void) {
    am_feature_extractor *fe = am_feature_extractor_from_pretrained(am_test_fixture("processors/wav2vec2_norm_mask_pad"));
    am_audio *a = am_audio_load(am_test_fixture("media/aud_speech_a_16k.wav"), 16000);
    CHECKF(fe && a, "%s", am_last_error());
    if (fe && a) {
        const float *s = am_audio_samples(a);
        am__audio_view v[2] = {{s, 16000, 16000}, {s + 8000, 12000, 16000}};
        am_audio *c0 = am_audio_from_samples(s, 16000, 16000), *c1 = am_audio_from_samples(s + 8000, 12000, 16000);
        const am_audio *cs[2] = {c0, c1};
        am_tensors *x = NULL, *y = NULL;
        const char *kw = "{\"padding\": true, \"sampling_rate\": 16000}";
        CHECK_OK(am__feature_extractor_call_views(fe, v, 2, kw, &x));
        CHECK_OK(am_feature_extractor_call(fe, cs, 2, kw, &y));
        for (size_t i = 0; x && y && i < am_tensors_count(y); i++) {
            const am_tensor *p = am_tensors_at(y, i), *q = am_tensors_get(x, am_tensors_name(y, i));
            CHECK(q && am_tensor_nbytes(p) == am_tensor_nbytes(q) && !memcmp(am_tensor_cdata(p), am_tensor_cdata(q), am_tensor_nbytes(p)));
        }
        CHECK(x && y && am_tensors_count(x) == 2 && am_tensors_count(y) == 2);
        am_tensors_free(x);
        am_tensors_free(y);
        am_audio_free(c0);
        am_audio_free(c1);
    }
    am_audio_free(a);
    am_feature_extractor_free(fe);
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
    test_extractor_cases();
    test_extractor_errors();
    test_threads();
    test_views();
    am_tensors_free(g_decoded);
    cJSON_Delete(g_index);
    return 0;
}
