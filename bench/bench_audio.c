/* bench/bench_audio.c — audio input cost of a ~30 s clip, and Whisper's log-mel against Python.
 *
 *   bench_audio MEDIA_DIR [rounds] [runs] [python_script]
 *
 * MEDIA_DIR holds aud_long_16k.wav (tests/fixtures/media: 32.9 s, 16 kHz mono PCM). Timed, median of
 * `runs` after a warm-up, in each of `rounds` alternating rounds:
 *   - am_audio_decode of that WAV to 16 kHz (demux + int16 -> float32 through libswresample);
 *   - am_audio_decode of a synthetic 30 s 44.1 kHz stereo 16-bit WAV (down-mix + resampling);
 *   - WhisperFeatureExtractor() defaults on the 16 kHz clip (pad/truncate to 30 s, 3000 frames x 80 mels);
 *   - then bench/bench_audio.py (default path; /usr/bin/python3) on the same waveform: transformers
 *     4.32's numpy recipe and a torch.stft reimplementation, one thread, with their max |diff| from ours.
 * Single thread on our side (the decode and the log-mel do not use the thread pool). AM_BENCH_CLOCK=cpu
 * times process CPU time (the Python side always does). */
#include "automodel.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmpd);
    return t[n / 2];
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

/* a 30 s 44.1 kHz stereo 16-bit WAV: two gliding tones and a little deterministic noise */
static uint8_t *synth_wav(size_t *len) {
    const uint32_t rate = 44100, frames = rate * 30, bytes = frames * 4;
    uint8_t *w = malloc(44 + (size_t)bytes);
    if (!w) return NULL;
    memcpy(w, "RIFF", 4), put32(w + 4, 36 + bytes), memcpy(w + 8, "WAVEfmt ", 8), put32(w + 16, 16);
    put16(w + 20, 1), put16(w + 22, 2), put32(w + 24, rate), put32(w + 28, rate * 4), put16(w + 32, 4), put16(w + 34, 16);
    memcpy(w + 36, "data", 4), put32(w + 40, bytes);
    uint32_t s = 12345;
    for (uint32_t i = 0; i < frames; i++) {
        double t = (double)i / rate;
        s = s * 1664525u + 1013904223u;
        double noise = ((double)(s >> 16) / 65536.0 - 0.5) * 0.02;
        int l = (int)(9000 * sin(2 * M_PI * (220 + 40 * t) * t) + 3000 * noise * 50);
        int r = (int)(7000 * sin(2 * M_PI * (330 + 25 * t) * t) - 3000 * noise * 50);
        put16(w + 44 + 4 * (size_t)i, (unsigned)(int16_t)l), put16(w + 46 + 4 * (size_t)i, (unsigned)(int16_t)r);
    }
    *len = 44 + (size_t)bytes;
    return w;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static double time_decode(const void *data, size_t len, int runs, size_t *n_out) {
    double *t = malloc(sizeof(double) * (size_t)runs);
    am_audio_free(am_audio_decode(data, len, 16000, "bench")); /* warm-up */
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        am_audio *a = am_audio_decode(data, len, 16000, "bench");
        t[r] = now() - t0;
        if (!a) fprintf(stderr, "decode: %s\n", am_last_error());
        *n_out = am_audio_length(a);
        am_audio_free(a);
    }
    double m = median(t, runs);
    free(t);
    return m;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_audio MEDIA_DIR [rounds] [runs] [python_script]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3, runs = argc > 3 ? atoi(argv[3]) : 5;
    const char *script = argc > 4 ? argv[4] : "bench/bench_audio.py";
    if (rounds < 1) rounds = 1;
    if (runs < 1) runs = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/aud_long_16k.wav", argv[1]);
    size_t wav_len = 0, syn_len = 0;
    char *wav = slurp(path, &wav_len);
    uint8_t *syn = synth_wav(&syn_len);
    am_feature_extractor *fe = am_feature_extractor_from_json("{\"feature_extractor_type\": \"WhisperFeatureExtractor\"}", "bench");
    am_audio *clip = wav ? am_audio_decode(wav, wav_len, 16000, path) : NULL;
    if (!wav || !syn || !fe || !clip) {
        fprintf(stderr, "bench_audio: %s\n", wav ? am_last_error() : "cannot read aud_long_16k.wav");
        return 1;
    }
    const char *cpu = am_cpu_report_json();
    printf("cpu: %s\nclock: %s\n", cpu ? cpu : "?", getenv("AM_BENCH_CLOCK") ? getenv("AM_BENCH_CLOCK") : "wall");

    /* the waveform and our features for the Python side */
    char wave_f[256], feat_f[256];
    snprintf(wave_f, sizeof wave_f, "/tmp/bench_audio_%d.wave.f32", (int)getpid());
    snprintf(feat_f, sizeof feat_f, "/tmp/bench_audio_%d.feat.f32", (int)getpid());
    const am_audio *one[1] = {clip};
    am_tensors *feats = NULL;
    if (am_feature_extractor_call(fe, one, 1, NULL, &feats) != AM_OK) {
        fprintf(stderr, "log-mel: %s\n", am_last_error());
        return 1;
    }
    FILE *f = fopen(wave_f, "wb");
    fwrite(am_audio_samples(clip), sizeof(float), am_audio_length(clip), f);
    fclose(f);
    f = fopen(feat_f, "wb");
    const am_tensor *ft = am_tensors_get(feats, "input_features");
    fwrite(am_tensor_cdata(ft), 1, am_tensor_nbytes(ft), f);
    fclose(f);
    am_tensors_free(feats);
    printf("| round | decode WAV 16k mono 32.9 s ms | decode WAV 44.1k stereo 30 s ms | log-mel ms | numpy (transformers) ms | torch.stft ms |\n");
    printf("|---|---|---|---|---|---|\n");
    double *dw = calloc((size_t)rounds, sizeof(double)), *ds = calloc((size_t)rounds, sizeof(double));
    double *lm = calloc((size_t)rounds, sizeof(double)), *pn = calloc((size_t)rounds, sizeof(double)),
           *pt = calloc((size_t)rounds, sizeof(double));
    double nd = -1, td = -1;
    for (int r = 0; r < rounds; r++) {
        size_t n1 = 0, n2 = 0;
        dw[r] = time_decode(wav, wav_len, runs, &n1);
        ds[r] = time_decode(syn, syn_len, runs, &n2);
        double *t = malloc(sizeof(double) * (size_t)runs);
        for (int k = 0; k < runs; k++) {
            am_tensors *o = NULL;
            double t0 = now();
            am_feature_extractor_call(fe, one, 1, NULL, &o);
            t[k] = now() - t0;
            am_tensors_free(o);
        }
        lm[r] = median(t, runs);
        free(t);
        char cmd[8192], line[1024] = "";
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' %d", script, wave_f, feat_f, runs);
        FILE *p = popen(cmd, "r");
        if (p && fgets(line, sizeof line, p)) {
            const char *a = strstr(line, "\"numpy\": "), *b = strstr(line, "\"torch\": ");
            const char *c = strstr(line, "\"numpy_maxdiff\": "), *d = strstr(line, "\"torch_maxdiff\": ");
            pn[r] = a ? atof(a + 9) : -1, pt[r] = b ? atof(b + 9) : -1;
            nd = c ? atof(c + 17) : -1, td = d ? atof(d + 17) : -1;
        }
        if (p) pclose(p);
        printf("| %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", r + 1, dw[r] * 1e3, ds[r] * 1e3, lm[r] * 1e3, pn[r] * 1e3, pt[r] * 1e3);
        fflush(stdout);
    }
    printf("| median | %.2f | %.2f | %.2f | %.2f | %.2f |\n", median(dw, rounds) * 1e3, median(ds, rounds) * 1e3,
           median(lm, rounds) * 1e3, median(pn, rounds) * 1e3, median(pt, rounds) * 1e3);
    printf("max |diff| of input_features against ours: numpy recipe %.3g, torch.stft float32 %.3g\n", nd, td);
    remove(wave_f);
    remove(feat_f);
    free(dw), free(ds), free(lm), free(pn), free(pt);
    am_audio_free(clip);
    am_feature_extractor_free(fe);
    free(syn);
    free(wav);
    return 0;
}
