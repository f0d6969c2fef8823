/* bench/bench_whisper.c — Whisper-tiny-sized transcription (random weights: d_model 384, 4+4 layers,
 * 6 heads, ffn 1536, vocab 51865, 80 mel bins, 30 s = 3000 frames), greedy, the whole process:
 * load the checkpoint and the log-mel features, encoder, N new tokens over the KV cache.
 *
 *   bench_whisper make DIR              write the random checkpoint (seed 7) and DIR/features.safetensors
 *                                       (input_features [1, 80, 3000], a fixed pseudo-random log-mel-like field)
 *   bench_whisper run DIR NEW [OUT]     load + generate NEW tokens (min_new_tokens = NEW: eos cannot stop it
 *                                       early), print "load_s gen_s total_s rtf" on one line; OUT: write the
 *                                       sequences and the first step's scores there (the PyTorch check)
 *
 * AM_BENCH_DTYPE=bf16 loads the weights as bfloat16 (torch_dtype). Times use AM_BENCH_CLOCK=cpu (process CPU time) when set, else wall time; the real-time factor
 * is total / 30 s. bench/bench_whisper.sh alternates it with bench/whisper_torch.py. */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int make(const char *dir) {
    const char *cfg_json =
        "{\"model_type\": \"whisper\", \"architectures\": [\"WhisperForConditionalGeneration\"], \"d_model\": 384, \"encoder_layers\": 4, "
        "\"decoder_layers\": 4, \"encoder_attention_heads\": 6, \"decoder_attention_heads\": 6, \"encoder_ffn_dim\": 1536, \"decoder_ffn_dim\": 1536, "
        "\"vocab_size\": 51865, \"num_mel_bins\": 80, \"max_source_positions\": 1500, \"max_target_positions\": 448, \"decoder_start_token_id\": 50258, "
        "\"pad_token_id\": 50257, \"bos_token_id\": 50257, \"eos_token_id\": 50257, \"begin_suppress_tokens\": null}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = cfg ? am_model_from_config(AM_TASK_SPEECH_SEQ2SEQ, cfg, 7) : NULL;
    if (!m || am_model_save_pretrained(m, dir, NULL) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_free(m);
    am_config_free(cfg);
    /* log-mel-like features in [-1, 1.5]: smooth in time and frequency plus a little noise */
    am_tensor *f = am_tensor_new(AM_F32, 3, (int64_t[]){1, 80, 3000});
    float *x = am_tensor_data(f);
    uint64_t s = 12345;
    for (int64_t i = 0; i < 80 * 3000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t mel = i / 3000, t = i % 3000;
        float noise = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
        x[i] = 0.25f + 0.6f * (float)((mel * 7 + t / 37) % 11) / 11.0f - 0.02f * (float)mel + 0.3f * noise;
    }
    am_tensors *ts = am_tensors_new();
    am_tensors_set(ts, "input_features", f);
    char p[4200];
    snprintf(p, sizeof p, "%s/features.safetensors", dir);
    am_status st = am_tensors_save_safetensors(ts, p);
    am_tensors_free(ts);
    am_tensor_free(f);
    if (st != AM_OK) fprintf(stderr, "%s\n", am_last_error());
    return st != AM_OK;
}

static int run(const char *dir, int64_t n, const char *outp) {
    double t0 = now();
    am_load_options lo = am_load_options_default();
    const char *dt = getenv("AM_BENCH_DTYPE"); /* bf16: the weights loaded as torch_dtype=torch.bfloat16 */
    if (dt && !strcmp(dt, "bf16")) lo.dtype = AM_BF16;
    am_model *m = am_model_from_pretrained(AM_TASK_SPEECH_SEQ2SEQ, dir, &lo);
    char p[4200];
    snprintf(p, sizeof p, "%s/features.safetensors", dir);
    am_tensors *in = m ? am_tensors_load_safetensors(p) : NULL;
    if (!m || !in) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    double t1 = now();
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = o.min_new_tokens = n;
    o.num_beams = 1;
    o.do_sample = 0;
    o.output_scores = outp != NULL;
    am_tensors *out = am_model_generate(m, in, &o);
    double t2 = now();
    if (!out) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    printf("%.4f %.4f %.4f %.4f\n", t1 - t0, t2 - t1, t2 - t0, (t2 - t0) / 30.0);
    if (outp) {
        am_tensors *keep = am_tensors_new();
        am_tensors_set(keep, "sequences", am_tensors_get(out, "sequences"));
        const am_tensor *sc = am_tensors_get(out, "scores");
        int64_t V = am_tensor_dim(sc, 2);
        am_tensor *first = am_tensor_from_data(AM_F32, 2, (int64_t[]){1, V}, am_tensor_cdata(sc));
        am_tensors_set(keep, "first_scores", first);
        am_tensor_free(first);
        if (am_tensors_save_safetensors(keep, outp) != AM_OK) fprintf(stderr, "%s\n", am_last_error());
        am_tensors_free(keep);
    }
    am_tensors_free(out);
    am_tensors_free(in);
    am_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "make")) return make(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "run")) return run(argv[2], atoll(argv[3]), argc >= 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: bench_whisper make DIR | run DIR NEW_TOKENS [OUT.safetensors]\n");
    return 2;
}
