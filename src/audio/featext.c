/* audio/featext.c — transformers 4.32's audio feature extractors from preprocessor_config.json:
 * Wav2Vec2FeatureExtractor and WhisperFeatureExtractor, with SequenceFeatureExtractor.pad's
 * truncation and padding. Numbers as numpy computes them:
 * - Wav2Vec2's zero-mean/unit-variance: mean and variance in float32 with numpy's pairwise
 *   summation, the divisor sqrt(float64(var) + 1e-7) rounded to float32, as numpy 1.24's scalar
 *   promotion and array/scalar casting do;
 * - Whisper's log-mel (audio_utils.spectrogram): float64 frames and window (np.hanning's own
 *   formula), float64 FFT (FFTW, double precision) stored as complex64 as transformers stores it,
 *   |X| by hypot in float64 then squared, the float64 Slaney mel bank (mel_filter_bank with
 *   norm="slaney", mel_scale="slaney") over each filter's non-zero bins, max(1e-10), log10, float32;
 *   then the last frame dropped, max(x, max - 8), (x + 4) / 4 in float32. */
#include "audio/audio.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "vision/vision.h"
#include <cjson/cJSON.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef enum fe_kind { FE_WAV2VEC2, FE_WHISPER } fe_kind;

static const char *const CLASS_NAMES[] = {"Wav2Vec2FeatureExtractor", "WhisperFeatureExtractor"};
/* __call__'s keyword arguments (transformers 4.32), NULL-terminated */
static const char *const KW_WAV2VEC2[] = {"padding", "max_length", "truncation", "pad_to_multiple_of",
                                          "return_attention_mask", "return_tensors", "sampling_rate", NULL};
static const char *const KW_WHISPER[] = {"truncation", "pad_to_multiple_of", "return_tensors", "return_attention_mask",
                                         "padding", "max_length", "sampling_rate", "do_normalize", NULL};
static const char *const *const KWARGS[] = {KW_WAV2VEC2, KW_WHISPER};

/* bounds far above any released extractor, so that a hostile config cannot ask for absurd buffers */
#define MAX_RATE 1000000
#define MAX_FEATURES 4096
#define MAX_NFFT 65536
#define MAX_SAMPLES (1LL << 26)

struct am_feature_extractor {
    fe_kind k;
    int feature_size, sampling_rate;
    bool has_padding_value; /* padding_value: None refuses padding */
    double padding_value;
    bool return_attention_mask, do_normalize, pad_left;
    /* Whisper */
    int n_fft, hop_length, n_freq;
    int64_t chunk_length, n_samples;
    double *window; /* [n_fft] */
    double *mel;    /* [n_freq][feature_size] */
    int *mel_lo, *mel_hi; /* per filter: its non-zero bins [lo, hi) */
    fftw_plan plan;
};

static pthread_mutex_t g_fftw_lock = PTHREAD_MUTEX_INITIALIZER; /* FFTW's planner is not thread-safe */

static bool is_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15; }

static am_status get_int(const cJSON *v, const char *key, const char *origin, int64_t lo, int64_t hi, int64_t *out) {
    if (!is_int(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be an int", origin, key);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be in %lld..%lld (got %.17g)", origin, key, (long long)lo,
                         (long long)hi, v->valuedouble);
    *out = (int64_t)v->valuedouble;
    return AM_OK;
}
static am_status get_bool(const cJSON *v, const char *key, const char *origin, bool *out) {
    if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else if (is_int(v)) *out = v->valuedouble != 0; /* Python truthiness of an int */
    else return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be a bool (true/false)", origin, key);
    return AM_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Whisper's constants: window and mel filter bank (transformers.audio_utils)                      */
/* ---------------------------------------------------------------------------------------------- */

static double hz_to_mel_slaney(double f) {
    const double logstep = 27.0 / log(6.4);
    double m = 3.0 * f / 200.0;
    if (f >= 1000.0) m = 15.0 + log(f / 1000.0) * logstep;
    return m;
}
static double mel_to_hz_slaney(double m) {
    const double logstep = log(6.4) / 27.0;
    double f = 200.0 * m / 3.0;
    if (m >= 15.0) f = 1000.0 * exp(logstep * (m - 15.0));
    return f;
}
/* np.linspace(a, b, num)[i] */
static double linspace(double a, double b, int num, int i) {
    if (i == num - 1) return b;
    return (double)i * ((b - a) / (num - 1)) + a;
}

static am_status whisper_tables(am_feature_extractor *fe, const char *origin) {
    int N = fe->n_fft, F = fe->n_freq = N / 2 + 1, M = fe->feature_size;
    fe->window = fftw_malloc(sizeof(double) * (size_t)N);
    fe->mel = calloc((size_t)F * M, sizeof(double));
    fe->mel_lo = calloc((size_t)M, sizeof(int));
    fe->mel_hi = calloc((size_t)M, sizeof(int));
    double *ff = malloc(sizeof(double) * (size_t)(M + 2));
    if (!fe->window || !fe->mel || !fe->mel_lo || !fe->mel_hi || !ff) {
        free(ff);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory for the mel filter bank", origin);
    }
    /* window_function(n_fft, "hann"), periodic: np.hanning(n_fft + 1)[:-1], numpy's formula */
    int Mw = N + 1;
    for (int j = 0; j < N; j++) {
        double n = (double)(1 - Mw + 2 * j);
        fe->window[j] = 0.5 + 0.5 * cos(M_PI * n / (Mw - 1));
    }
    /* mel_filter_bank(1 + n_fft // 2, feature_size, 0.0, 8000.0, sampling_rate, "slaney", "slaney") */
    double mel_min = hz_to_mel_slaney(0.0), mel_max = hz_to_mel_slaney(8000.0);
    for (int i = 0; i < M + 2; i++) ff[i] = mel_to_hz_slaney(linspace(mel_min, mel_max, M + 2, i));
    double half = (double)(fe->sampling_rate / 2);
    int empty = 0;
    for (int m = 0; m < M; m++) {
        double enorm = 2.0 / (ff[m + 2] - ff[m]);
        double d0 = ff[m + 1] - ff[m], d1 = ff[m + 2] - ff[m + 1];
        int lo = F, hi = 0;
        for (int f = 0; f < F; f++) {
            double fq = linspace(0.0, half, F, f);
            double down = -(ff[m] - fq) / d0, up = (ff[m + 2] - fq) / d1;
            double v = fmax(0.0, fmin(down, up)) * enorm;
            fe->mel[(size_t)f * M + m] = v;
            if (v != 0.0) {
                if (f < lo) lo = f;
                hi = f + 1;
            }
        }
        if (hi == 0) lo = 0, empty++;
        fe->mel_lo[m] = lo, fe->mel_hi[m] = hi;
    }
    free(ff);
    if (empty)
        am__log(AM_LOG_WARNING,
                "%s: at least one mel filter has all zero values. The value for `num_mel_filters` (%d) may be set too high. "
                "Or, the value for `num_frequency_bins` (%d) may be set too low.",
                origin, M, F);
    double *in = fftw_malloc(sizeof(double) * (size_t)N);
    fftw_complex *out = fftw_malloc(sizeof(fftw_complex) * (size_t)F);
    if (in && out) {
        pthread_mutex_lock(&g_fftw_lock);
        fe->plan = fftw_plan_dft_r2c_1d(N, in, out, FFTW_ESTIMATE);
        pthread_mutex_unlock(&g_fftw_lock);
    }
    fftw_free(in);
    fftw_free(out);
    if (!fe->plan) return am__error(AM_ERR_NO_MEMORY, "%s: cannot plan an FFT of %d points", origin, N);
    return AM_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* loading                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/* AutoFeatureExtractor's fallback: config.json's model_type through FEATURE_EXTRACTOR_MAPPING */
static const char *class_for_model_type(const char *mt) {
    static const char *const map[][2] = {{"wav2vec2", "Wav2Vec2FeatureExtractor"},
                                         {"hubert", "Wav2Vec2FeatureExtractor"},
                                         {"wavlm", "Wav2Vec2FeatureExtractor"},
                                         {"data2vec-audio", "Wav2Vec2FeatureExtractor"},
                                         {"sew", "Wav2Vec2FeatureExtractor"},
                                         {"sew-d", "Wav2Vec2FeatureExtractor"},
                                         {"unispeech", "Wav2Vec2FeatureExtractor"},
                                         {"unispeech-sat", "Wav2Vec2FeatureExtractor"},
                                         {"wav2vec2-conformer", "Wav2Vec2FeatureExtractor"},
                                         {"whisper", "WhisperFeatureExtractor"}};
    for (size_t i = 0; mt && i < sizeof map / sizeof *map; i++)
        if (!strcmp(mt, map[i][0])) return map[i][1];
    return NULL;
}

void am_feature_extractor_free(am_feature_extractor *fe) {
    if (!fe) return;
    if (fe->plan) {
        pthread_mutex_lock(&g_fftw_lock);
        fftw_destroy_plan(fe->plan);
        pthread_mutex_unlock(&g_fftw_lock);
    }
    fftw_free(fe->window);
    free(fe->mel);
    free(fe->mel_lo);
    free(fe->mel_hi);
    free(fe);
}

static am_status apply_config(am_feature_extractor *fe, const char *key, const cJSON *v, const char *origin) {
    int64_t i;
    if (!strcmp(key, "feature_size")) {
        if (get_int(v, key, origin, 1, MAX_FEATURES, &i) != AM_OK) return am__error_code();
        fe->feature_size = (int)i;
    } else if (!strcmp(key, "sampling_rate")) {
        if (get_int(v, key, origin, 1, MAX_RATE, &i) != AM_OK) return am__error_code();
        fe->sampling_rate = (int)i;
    } else if (!strcmp(key, "padding_value")) {
        if (cJSON_IsNull(v)) fe->has_padding_value = false;
        else if (!cJSON_IsNumber(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `padding_value` must be a number", origin);
        else fe->has_padding_value = true, fe->padding_value = v->valuedouble;
    } else if (!strcmp(key, "return_attention_mask")) {
        return get_bool(v, key, origin, &fe->return_attention_mask);
    } else if (!strcmp(key, "padding_side")) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "right") && strcmp(v->valuestring, "left")))
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `padding_side` must be \"right\" or \"left\"", origin);
        fe->pad_left = !strcmp(v->valuestring, "left");
    } else if (!strcmp(key, "do_normalize") && fe->k == FE_WAV2VEC2) {
        return get_bool(v, key, origin, &fe->do_normalize);
    } else if (fe->k == FE_WHISPER && !strcmp(key, "hop_length")) {
        if (get_int(v, key, origin, 1, MAX_NFFT, &i) != AM_OK) return am__error_code();
        fe->hop_length = (int)i;
    } else if (fe->k == FE_WHISPER && !strcmp(key, "n_fft")) {
        if (get_int(v, key, origin, 2, MAX_NFFT, &i) != AM_OK) return am__error_code();
        fe->n_fft = (int)i;
    } else if (fe->k == FE_WHISPER && !strcmp(key, "chunk_length")) {
        /* n_samples = chunk_length * sampling_rate feeds np.pad: a float fails there */
        if (!is_int(v))
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `chunk_length` must be an int (a whole number of seconds)", origin);
        if (get_int(v, key, origin, 1, MAX_SAMPLES, &i) != AM_OK) return am__error_code();
        fe->chunk_length = i;
    }
    /* n_samples / nb_max_frames are recomputed by __init__; other keys are plain attributes */
    return AM_OK;
}

static am_feature_extractor *from_json_typed(const char *json, const char *origin, const char *fallback_type) {
    if (!origin) origin = "preprocessor_config.json";
    if (!json) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: JSON text is NULL", origin);
        return NULL;
    }
    cJSON *root = NULL;
    if (am__json_parse(json, strlen(json), origin, &root) != AM_OK) return NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT, "%s: the feature extractor configuration must be a JSON object", origin);
        return NULL;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "feature_extractor_type");
    const char *type = cJSON_IsString(t) ? t->valuestring : fallback_type;
    if (!type) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT,
                  "%s: `feature_extractor_type` does not name the feature extractor class (nor does a config.json model_type "
                  "beside it)",
                  origin);
        return NULL;
    }
    int k = -1;
    for (int i = 0; i < 2; i++)
        if (!strcmp(type, CLASS_NAMES[i])) k = i;
    if (k < 0) {
        am__error(AM_ERR_UNSUPPORTED,
                  "%s: feature extractor class \"%s\" is not supported (Wav2Vec2FeatureExtractor, WhisperFeatureExtractor)",
                  origin, type);
        cJSON_Delete(root);
        return NULL;
    }
    am_feature_extractor *fe = calloc(1, sizeof *fe);
    if (!fe) {
        cJSON_Delete(root);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    fe->k = (fe_kind)k;
    fe->sampling_rate = 16000;
    fe->has_padding_value = true;
    if (fe->k == FE_WAV2VEC2) {
        fe->feature_size = 1;
        fe->do_normalize = true;
    } else {
        fe->feature_size = 80;
        fe->hop_length = 160;
        fe->chunk_length = 30;
        fe->n_fft = 400;
    }
    const cJSON *it;
    am_status s = AM_OK;
    cJSON_ArrayForEach(it, root) {
        if ((s = apply_config(fe, it->string, it, origin)) != AM_OK) break;
    }
    cJSON_Delete(root);
    if (s == AM_OK && fe->k == FE_WAV2VEC2 && fe->feature_size != 1)
        s = am__error(AM_ERR_UNSUPPORTED, "%s: Wav2Vec2FeatureExtractor with feature_size %d (only 1: raw waveforms)", origin,
                      fe->feature_size);
    if (s == AM_OK && fe->k == FE_WHISPER) {
        fe->n_samples = fe->chunk_length * fe->sampling_rate;
        if (fe->n_samples > MAX_SAMPLES)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: chunk_length * sampling_rate = %lld samples is too many (at most %lld)",
                          origin, (long long)fe->n_samples, MAX_SAMPLES);
        else if (fe->feature_size < 2)
            s = am__error(AM_ERR_UNSUPPORTED, "%s: WhisperFeatureExtractor with feature_size %d (at least 2 mel bins)", origin,
                          fe->feature_size);
        else s = whisper_tables(fe, origin);
    }
    if (s != AM_OK) {
        am_feature_extractor_free(fe);
        return NULL;
    }
    return fe;
}

am_feature_extractor *am_feature_extractor_from_json(const char *json, const char *origin) {
    return from_json_typed(json, origin, NULL);
}

am_feature_extractor *am_feature_extractor_from_pretrained(const char *path) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_feature_extractor_from_pretrained: path is NULL");
        return NULL;
    }
    static const char *const keys[] = {"feature_extractor_type", NULL};
    char *json, *file, *mt;
    if (am__preprocessor_config_read(path, "feature extractor", keys, &json, &file, &mt) != AM_OK) return NULL;
    am_feature_extractor *fe = from_json_typed(json, file, class_for_model_type(mt));
    free(json);
    free(file);
    free(mt);
    return fe;
}

const char *am_feature_extractor_class_name(const am_feature_extractor *fe) { return fe ? CLASS_NAMES[fe->k] : NULL; }
int am_feature_extractor_sampling_rate(const am_feature_extractor *fe) { return fe ? fe->sampling_rate : 0; }
const char *const *am_feature_extractor_kwargs(const am_feature_extractor *fe) { return fe ? KWARGS[fe->k] : NULL; }

/* ---------------------------------------------------------------------------------------------- */
/* the call                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef enum pad_strategy { PAD_LONGEST, PAD_MAX_LENGTH, PAD_DO_NOT_PAD } pad_strategy;

typedef struct call_args {
    pad_strategy padding;
    int64_t max_length;         /* -1: None */
    bool truncation;
    int64_t pad_to_multiple_of; /* -1: None */
    int return_attention_mask;  /* -1 None, 0 False, 1 True */
    int do_normalize;           /* Whisper: -1 None, 0, 1 */
} call_args;

static bool has(const char *const *list, const char *key) {
    for (; *list; list++)
        if (!strcmp(*list, key)) return true;
    return false;
}

static am_status opt_int(const cJSON *v, const char *key, const char *cls, int64_t lo, int64_t *out) {
    if (cJSON_IsNull(v)) {
        *out = -1;
        return AM_OK;
    }
    return get_int(v, key, cls, lo, MAX_SAMPLES, out);
}
static am_status opt_bool(const cJSON *v, const char *key, const char *cls, int *out) {
    if (cJSON_IsNull(v)) {
        *out = -1;
        return AM_OK;
    }
    bool b;
    if (get_bool(v, key, cls, &b) != AM_OK) return am__error_code();
    *out = b;
    return AM_OK;
}

static am_status parse_kwargs(const am_feature_extractor *fe, const char *kwargs_json, call_args *a) {
    const char *cls = CLASS_NAMES[fe->k];
    bool whisper = fe->k == FE_WHISPER;
    *a = (call_args){whisper ? PAD_MAX_LENGTH : PAD_DO_NOT_PAD, -1, whisper, -1, -1, -1};
    if (!kwargs_json || !*kwargs_json) return AM_OK;
    cJSON *kw = cJSON_Parse(kwargs_json);
    if (!kw || !cJSON_IsObject(kw)) {
        cJSON_Delete(kw);
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: keyword arguments must be a JSON object", cls);
    }
    am_status s = AM_OK;
    const cJSON *v;
    cJSON_ArrayForEach(v, kw) {
        const char *key = v->string;
        if (!has(KWARGS[fe->k], key)) {
            s = am__error(AM_ERR_INVALID_ARGUMENT, "%s.__call__() got an unexpected keyword argument '%s'", cls, key);
            break;
        }
        if (!strcmp(key, "padding")) {
            if (cJSON_IsBool(v)) a->padding = cJSON_IsTrue(v) ? PAD_LONGEST : PAD_DO_NOT_PAD;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "longest")) a->padding = PAD_LONGEST;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "max_length")) a->padding = PAD_MAX_LENGTH;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "do_not_pad")) a->padding = PAD_DO_NOT_PAD;
            else if (cJSON_IsString(v))
                s = am__error(AM_ERR_INVALID_ARGUMENT,
                              "%s: '%.64s' is not a valid PaddingStrategy, please select one of ['longest', 'max_length', "
                              "'do_not_pad']",
                              cls, v->valuestring);
            else s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: `padding` must be a bool or 'longest', 'max_length', 'do_not_pad'", cls);
        } else if (!strcmp(key, "max_length")) {
            s = opt_int(v, key, cls, 0, &a->max_length);
        } else if (!strcmp(key, "truncation")) {
            if (cJSON_IsNull(v)) a->truncation = false;
            else {
                bool b;
                if ((s = get_bool(v, key, cls, &b)) == AM_OK) a->truncation = b;
            }
        } else if (!strcmp(key, "pad_to_multiple_of")) {
            s = opt_int(v, key, cls, 1, &a->pad_to_multiple_of);
        } else if (!strcmp(key, "return_attention_mask")) {
            s = opt_bool(v, key, cls, &a->return_attention_mask);
        } else if (!strcmp(key, "do_normalize")) {
            s = opt_bool(v, key, cls, &a->do_normalize);
        } else if (!strcmp(key, "sampling_rate")) {
            if (!cJSON_IsNull(v)) {
                if (!is_int(v)) s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: `sampling_rate` must be an int", cls);
                else if (v->valuedouble != fe->sampling_rate)
                    s = am__error(AM_ERR_INVALID_ARGUMENT,
                                  "The model corresponding to this feature extractor: %s was trained using a sampling rate of "
                                  "%d. Please make sure that the provided `raw_speech` input was sampled with %d and not %.0f.",
                                  cls, fe->sampling_rate, fe->sampling_rate, v->valuedouble);
            }
        } else if (!strcmp(key, "return_tensors")) {
            if (!cJSON_IsNull(v) && !(cJSON_IsString(v) && (!strcmp(v->valuestring, "pt") || !strcmp(v->valuestring, "np"))))
                s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: `return_tensors` must be \"pt\" or \"np\" (tensors are returned either way)", cls);
        }
        if (s != AM_OK) break;
    }
    cJSON_Delete(kw);
    return s;
}

/* numpy's pairwise summation of float32 (pairwise_sum_FLOAT, blocks of 128, 8 accumulators) */
static float pairwise_sum(const float *a, size_t n) {
    if (n < 8) {
        float r = 0.f;
        for (size_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + (size_t)j];
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* zero_mean_unit_var_norm of row[0 .. n) over its first `len` values (numpy float32 semantics);
 * positions from `len` on become padding_value. `tmp` holds n floats. */
static void normalize_row(float *row, size_t n, size_t len, float padding_value, float *tmp) {
    if (len == 0) { /* mean of nothing is nan: the row ends all padding */
        for (size_t i = 0; i < n; i++) row[i] = padding_value;
        return;
    }
    float mean = (float)((double)(0.f + pairwise_sum(row, len)) / (double)len);
    for (size_t i = 0; i < len; i++) tmp[i] = row[i] - mean;
    for (size_t i = 0; i < len; i++) tmp[i] = tmp[i] * tmp[i];
    float var = (float)((double)(0.f + pairwise_sum(tmp, len)) / (double)len);
    float den = (float)sqrt((double)var + 1e-7);
    for (size_t i = 0; i < n; i++) row[i] = i < len ? (row[i] - mean) / den : padding_value;
}

/* the log-mel of one padded waveform: out [n_mel][frames - 1] float32 (row stride `stride`) */
static am_status log_mel(const am_feature_extractor *fe, const float *w, size_t N, float *out, size_t frames_out,
                         size_t stride) {
    int nfft = fe->n_fft, F = fe->n_freq, M = fe->feature_size, hop = fe->hop_length;
    size_t pad = (size_t)(nfft / 2), P = N + 2 * pad;
    double *buf = fftw_malloc(sizeof(double) * (size_t)nfft);
    fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)F);
    double *power = malloc(sizeof(double) * (size_t)F);
    if (!buf || !spec || !power) {
        fftw_free(buf);
        fftw_free(spec);
        free(power);
        return am__error(AM_ERR_NO_MEMORY, "out of memory for the spectrogram");
    }
    for (size_t t = 0; t < frames_out; t++) {
        size_t start = t * (size_t)hop;
        for (int j = 0; j < nfft; j++) {
            /* np.pad(mode="reflect") of w, then index start + j */
            int64_t x = (int64_t)(start + (size_t)j) - (int64_t)pad;
            if (N == 1) x = 0;
            else {
                int64_t period = 2 * ((int64_t)N - 1);
                x %= period;
                if (x < 0) x += period;
                if (x >= (int64_t)N) x = period - x;
            }
            buf[j] = (double)w[x] * fe->window[j];
        }
        (void)P;
        fftw_execute_dft_r2c(fe->plan, buf, spec);
        for (int f = 0; f < F; f++) {
            double re = (float)spec[f][0], im = (float)spec[f][1]; /* stored as complex64 */
            double a = hypot(re, im);
            power[f] = a * a;
        }
        for (int m = 0; m < M; m++) {
            double acc = 0.0;
            for (int f = fe->mel_lo[m]; f < fe->mel_hi[m]; f++) acc += fe->mel[(size_t)f * M + m] * power[f];
            out[(size_t)m * stride + t] = (float)log10(fmax(1e-10, acc));
        }
    }
    fftw_free(buf);
    fftw_free(spec);
    free(power);
    /* max(x, max - 8), (x + 4) / 4 over the kept frames */
    float mx = -INFINITY;
    for (int m = 0; m < M; m++)
        for (size_t t = 0; t < frames_out; t++) mx = fmaxf(mx, out[(size_t)m * stride + t]);
    float floor_v = (float)((double)mx - 8.0);
    for (int m = 0; m < M; m++)
        for (size_t t = 0; t < frames_out; t++) {
            float *p = &out[(size_t)m * stride + t];
            float v = *p > floor_v ? *p : floor_v;
            *p = (v + 4.0f) / 4.0f;
        }
    return AM_OK;
}

am_status am__feature_extractor_call_views(const am_feature_extractor *fe, const am__audio_view *audio, size_t n,
                                           const char *kwargs_json, am_tensors **out) {
    if (!out) return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: `out` is NULL");
    *out = NULL;
    if (!fe || !audio || n == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: no audio given");
    if (n > (1u << 20)) return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: too many inputs (%zu)", n);
    const char *cls = CLASS_NAMES[fe->k];
    bool whisper = fe->k == FE_WHISPER;
    call_args a;
    if (parse_kwargs(fe, kwargs_json, &a) != AM_OK) return am__error_code();
    for (size_t i = 0; i < n; i++) {
        if (!audio[i].samples && audio[i].n) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: audio %zu has no samples", cls, i);
        if (audio[i].rate != fe->sampling_rate)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "The model corresponding to this feature extractor: %s was trained using a sampling rate of %d. "
                             "Please make sure that the provided `raw_speech` input was sampled with %d and not %d.",
                             cls, fe->sampling_rate, fe->sampling_rate, audio[i].rate);
        if ((int64_t)audio[i].n > MAX_SAMPLES * 4)
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: audio %zu is too long (%zu samples)", cls, i, audio[i].n);
    }
    int64_t max_length = a.max_length;
    if (whisper && max_length <= 0) max_length = fe->n_samples; /* max_length if max_length else self.n_samples */
    /* attention mask: Whisper passes `return_attention_mask or do_normalize` to pad() */
    int ram_arg = a.return_attention_mask;
    if (whisper && ram_arg != 1) ram_arg = a.do_normalize;
    bool want_mask = ram_arg != -1 ? ram_arg == 1 : fe->return_attention_mask;
    /* _get_padding_strategies */
    pad_strategy ps = a.padding;
    if (max_length < 0 && ps == PAD_MAX_LENGTH)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "When setting ``padding=PaddingStrategy.MAX_LENGTH``, make sure that max_length is defined");
    if (ps != PAD_DO_NOT_PAD && !fe->has_padding_value)
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "Asking to pad but the feature_extractor does not have a padding value. Please select a value to use "
                         "as `padding_value`. For example: `feature_extractor.padding_value = 0.0`.");
    /* _truncate */
    int64_t mult = a.pad_to_multiple_of;
    size_t *len = calloc(n, sizeof *len);
    if (!len) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) len[i] = audio[i].n;
    if (a.truncation) {
        if (max_length < 0) {
            free(len);
            return am__error(AM_ERR_INVALID_ARGUMENT, "When setting ``truncation=True``, make sure that ``max_length`` is defined.");
        }
        int64_t ml = max_length;
        if (mult > 0 && ml % mult) ml = (ml / mult + 1) * mult;
        for (size_t i = 0; i < n; i++)
            if ((int64_t)len[i] > ml) len[i] = (size_t)ml;
    }
    if (ps == PAD_LONGEST) {
        max_length = 0;
        for (size_t i = 0; i < n; i++)
            if ((int64_t)len[i] > max_length) max_length = (int64_t)len[i];
        ps = PAD_MAX_LENGTH;
    }
    int64_t target = max_length;
    if (target >= 0 && mult > 0 && target % mult) target = (target / mult + 1) * mult;
    if (target > MAX_SAMPLES * 4) {
        free(len);
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: padding to %lld samples is too many", cls, (long long)target);
    }
    size_t T = 0;
    for (size_t i = 0; i < n; i++) {
        size_t Ti = ps != PAD_DO_NOT_PAD && (int64_t)len[i] < target ? (size_t)target : len[i];
        if (i && Ti != T) {
            free(len);
            return am__error(AM_ERR_SHAPE,
                             "%s: Unable to create tensor, you should probably activate padding with 'padding=True' to have "
                             "batched tensors with the same length (lengths %zu and %zu)",
                             cls, T, Ti);
        }
        T = Ti;
    }
    if (whisper && T == 0) {
        free(len);
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: empty audio", cls);
    }
    am_status st = AM_OK;
    am_tensors *ts = am_tensors_new();
    am_tensor *values = NULL, *mask = NULL, *feats = NULL;
    float *tmp = malloc((T ? T : 1) * sizeof(float));
    int64_t vshape[2] = {(int64_t)n, (int64_t)T};
    values = am_tensor_new(AM_F32, 2, vshape);
    if (want_mask) mask = am_tensor_new(AM_I64, 2, vshape);
    if (!ts || !tmp || !values || (want_mask && !mask)) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory for %zu x %zu samples", cls, n, T);
        goto done;
    }
    float pv = (float)fe->padding_value;
    float *vd = am_tensor_data(values);
    int64_t *md = mask ? am_tensor_data(mask) : NULL;
    for (size_t i = 0; i < n; i++) {
        float *row = vd + i * T;
        size_t off = fe->pad_left ? T - len[i] : 0;
        for (size_t j = 0; j < T; j++) row[j] = pv;
        if (len[i]) memcpy(row + off, audio[i].samples, len[i] * sizeof(float));
        if (md)
            for (size_t j = 0; j < T; j++) md[i * T + j] = j >= off && j < off + len[i];
    }
    /* zero-mean / unit-variance: the real samples (the mask's sum, taken from the row's start as
     * transformers does) when a mask is used, else the whole row */
    bool norm = whisper ? a.do_normalize == 1 : fe->do_normalize;
    bool use_mask = whisper ? true : (md && a.padding != PAD_DO_NOT_PAD);
    if (norm)
        for (size_t i = 0; i < n; i++) normalize_row(vd + i * T, T, use_mask && md ? len[i] : T, pv, tmp);
    if (!whisper) {
        if ((st = am_tensors_set(ts, "input_values", values)) != AM_OK) goto done;
        if (mask && (st = am_tensors_set(ts, "attention_mask", mask)) != AM_OK) goto done;
        goto done;
    }
    /* Whisper: the log-mel of every row */
    {
        size_t pad = (size_t)(fe->n_fft / 2);
        size_t P = T + 2 * pad;
        if (P < (size_t)fe->n_fft) {
            st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: %zu samples are too few for n_fft %d", cls, T, fe->n_fft);
            goto done;
        }
        size_t frames = 1 + (P - (size_t)fe->n_fft) / (size_t)fe->hop_length;
        if (frames < 2) {
            st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: %zu samples give no frame once the last is dropped", cls, T);
            goto done;
        }
        int64_t fshape[3] = {(int64_t)n, fe->feature_size, (int64_t)(frames - 1)};
        feats = am_tensor_new(AM_F32, 3, fshape);
        if (!feats) {
            st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory for input_features", cls);
            goto done;
        }
        float *fd = am_tensor_data(feats);
        for (size_t i = 0; i < n && st == AM_OK; i++)
            st = log_mel(fe, vd + i * T, T, fd + i * (size_t)fe->feature_size * (frames - 1), frames - 1, frames - 1);
        if (st != AM_OK) goto done;
        if ((st = am_tensors_set(ts, "input_features", feats)) != AM_OK) goto done;
        if (mask && a.return_attention_mask == 1) { /* rescale from samples to frames: mask[:, ::hop_length] */
            size_t hop = (size_t)fe->hop_length, k = (T + hop - 1) / hop;
            int64_t sshape[2] = {(int64_t)n, (int64_t)k};
            am_tensor *sub = am_tensor_new(AM_I64, 2, sshape);
            if (!sub) {
                st = am__error(AM_ERR_NO_MEMORY, "out of memory");
                goto done;
            }
            int64_t *sd = am_tensor_data(sub);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < k; j++) sd[i * k + j] = md[i * T + j * hop];
            st = am_tensors_set(ts, "attention_mask", sub);
            am_tensor_free(sub);
        } else if (mask) {
            st = am_tensors_set(ts, "attention_mask", mask);
        }
    }
done:
    am_tensor_free(values);
    am_tensor_free(mask);
    am_tensor_free(feats);
    free(tmp);
    free(len);
    if (st != AM_OK) {
        am_tensors_free(ts);
        return st;
    }
    *out = ts;
    return AM_OK;
}

am_status am_feature_extractor_call(const am_feature_extractor *fe, const am_audio *const *audio, size_t n,
                                    const char *kwargs_json, am_tensors **out) {
    if (out) *out = NULL;
    if (!audio || n == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: no audio given");
    if (n > (1u << 20)) return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: too many inputs (%zu)", n);
    am__audio_view *v = calloc(n, sizeof *v);
    if (!v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!audio[i]) {
            free(v);
            return am__error(AM_ERR_INVALID_ARGUMENT, "feature extractor: audio %zu is NULL", i);
        }
        v[i] = (am__audio_view){audio[i]->samples, audio[i]->n, audio[i]->rate};
    }
    am_status s = am__feature_extractor_call_views(fe, v, n, kwargs_json, out);
    free(v);
    return s;
}
