/* bench/bench_decode.c — causal LM speed: a GPT-2 124M-shaped and a 1B Llama-shaped random model
 * (am_model_from_config, saved, reloaded memory-mapped), prefill tokens/s for a 128-token prompt and
 * decode tokens/s (batch 1, greedy) at 1 and 2 threads, f32 and bf16 weights, with the decode GEMV
 * and with oneDNN for the same products, next to the memory-bandwidth bound (weight bytes read per
 * token / read bandwidth measured here with 1 and 2 threads).
 * Quantized at load (docs/quantization.md): q8 (LLM.int8, threshold 6), nf4, nf4dq (double quant),
 * fp4; the rest of the model float32; "oneDNN" is not applicable there (quantized products pick
 * their own path by row count).
 * AM_BENCH_THREADS=1 (or 2): that thread count only (default both).
 * usage: bench_decode [gpt2|llama|all] [f32|bf16|f16|q8|nf4|nf4dq|fp4|all] [new_tokens] [workdir] */
#include "automodel.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "models/causal.h"
#include "readsum.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* AM_BENCH_CLOCK=cpu: process CPU time (single-thread comparisons on a shared machine; with 2
 * threads it sums both, so use wall time there) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- read bandwidth: sum a buffer far larger than the caches ---- */

typedef struct {
    const float *p;
    int64_t chunk;
    float out[256];
} bw_ctx;

static void bw_part(void *v, int64_t b, int64_t e) {
    bw_ctx *c = v;
    for (int64_t i = b; i < e; i++) c->out[i % 256] += sum_any(c->p + i * c->chunk, c->chunk);
}

static double read_bandwidth(int threads) {
    int64_t n = (int64_t)1 << 28; /* 1 GiB of floats */
    float *buf = malloc((size_t)n * sizeof(float));
    if (!buf) return 0;
    for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
    am_set_num_threads(threads);
    bw_ctx c = {buf, n / 256, {0}};
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        am__parallel_for(256, bw_part, &c);
        double dt = now() - t0;
        double gbs = (double)n * 4 / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    free(buf);
    return best;
}

static double memcpy_bandwidth(void) {
    size_t n = (size_t)1 << 29;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) return 0;
    memset(a, 1, n);
    memset(b, 2, n);
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        memcpy(b, a, n);
        double dt = now() - t0;
        if (2.0 * (double)n / dt / 1e9 > best) best = 2.0 * (double)n / dt / 1e9; /* read + write */
    }
    free(a);
    free(b);
    return best;
}

/* ---- models ---- */

typedef struct shape {
    const char *name, *json, *embed_param;
} shape;

static const shape k_shapes[] = {
    {"gpt2-124M",
     "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": 768, \"n_layer\": 12, \"n_head\": 12, \"vocab_size\": 50257, "
     "\"n_positions\": 1024}",
     "transformer.wpe.weight"},
    {"llama-1B",
     "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 2048, \"num_hidden_layers\": 16, "
     "\"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"intermediate_size\": 5632, \"vocab_size\": 32000, "
     "\"max_position_embeddings\": 2048}",
     "model.embed_tokens.weight"},
};

static am_tensors *prompt_of(int64_t T, int64_t V) {
    int64_t *ids = malloc((size_t)T * sizeof(int64_t));
    for (int64_t i = 0; i < T; i++) ids[i] = (i * 7919 + 13) % V;
    am_tensor *t = am_tensor_from_data(AM_I64, 2, (int64_t[]){1, T}, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    free(ids);
    return in;
}

static double time_generate(am_model *m, am_tensors *in, int64_t new_tokens) {
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = new_tokens;
    o.min_new_tokens = new_tokens; /* no early EOS */
    double t0 = now();
    am_tensors *out = am_model_generate(m, in, &o);
    double dt = now() - t0;
    if (!out) fprintf(stderr, "generate: %s\n", am_last_error());
    am_tensors_free(out);
    return dt;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all", *dts = argc > 2 ? argv[2] : "all";
    int64_t new_tokens = argc > 3 ? atoll(argv[3]) : 128;
    const char *work = argc > 4 ? argv[4] : "/tmp/am_bench_decode";
    mkdir(work, 0755);
    am_log_set_level(AM_LOG_ERROR);
    double bw1 = read_bandwidth(1), bw2 = read_bandwidth(2), mc = memcpy_bandwidth();
    printf("clock: %s\n", getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu") ? "process CPU" : "wall");
    printf("machine: %d threads available, GEMV ISA %s\ncpu: %s\n", am_get_num_threads(), am__gemv_isa(), am_cpu_report_json());
    printf("read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads); memcpy %.1f GB/s (read+write)\n\n", bw1, bw2, mc);
    printf("| model | dtype | threads | weights read/token | bound tok/s | prefill 128 tok/s | decode tok/s (GEMV) | %% of bound | decode tok/s (oneDNN) |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t si = 0; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
        const shape *sh = &k_shapes[si];
        if (strcmp(which, "all") && strncmp(sh->name, which, strlen(which))) continue;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", work, sh->name);
        char cfgp[1100];
        snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
        struct stat st;
        if (stat(cfgp, &st) != 0) {
            am_config *c = am_config_from_json(sh->json, sh->name);
            am_model *m = c ? am_model_from_config(AM_TASK_CAUSAL_LM, c, 42) : NULL;
            if (!m || am_model_save_pretrained(m, dir, NULL) != AM_OK) {
                fprintf(stderr, "%s: %s\n", sh->name, am_last_error());
                return 1;
            }
            am_model_free(m);
            am_config_free(c);
        }
        static const am_dtype k_dt[7] = {AM_F32, AM_BF16, AM_F16, AM_F32, AM_F32, AM_F32, AM_F32};
        static const char *const k_dn[7] = {"f32", "bf16", "f16", "q8", "nf4", "nf4dq", "fp4"};
        static const char *const k_qc[7] = {NULL, NULL, NULL, "{\"load_in_8bit\": true}", "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\"}",
                                            "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\", \"bnb_4bit_use_double_quant\": true}",
                                            "{\"load_in_4bit\": true}"};
        for (int d = 0; d < 7; d++) {
            am_dtype dt = k_dt[d];
            if (strcmp(dts, "all") && strcmp(dts, k_dn[d])) continue;
            am_load_options lo = am_load_options_default();
            lo.dtype = dt;
            lo.quantization_config = k_qc[d];
            am_model *m = am_model_from_pretrained(AM_TASK_CAUSAL_LM, dir, &lo);
            if (!m) {
                fprintf(stderr, "%s: %s\n", dir, am_last_error());
                return 1;
            }
            /* bytes streamed per decoded token: every weight but the embedding rows looked up */
            const am_tensor *emb = am_model_get_parameter(m, sh->embed_param);
            int64_t params = am_model_num_parameters(m, false, false);
            bool tied = !strcmp(sh->embed_param, "transformer.wpe.weight");
            double bytes = (double)(params - am_tensor_numel(emb)) * (double)am_dtype_size(dt);
            if (k_qc[d]) { /* stored bytes, plus the quant state the kernels read (absmax: 4 B per 64 weights, 1 B with double quant) */
                int64_t qn = params - am_model_num_parameters(m, true, false);
                bytes = (double)am_model_memory_footprint(m, false) - (double)am_tensor_nbytes(emb) +
                        (d == 3 ? 0.0 : d == 5 ? (double)qn / 64 : (double)qn / 16);
            }
            (void)tied;
            int64_t V = am_tensor_dim(am_model_get_parameter(m, "lm_head.weight"), 0);
            am_tensors *in = prompt_of(128, V);
            for (int th = 1; th <= 2; th++) {
                if (getenv("AM_BENCH_THREADS") && atoi(getenv("AM_BENCH_THREADS")) != th) continue;
                am_set_num_threads(th);
                time_generate(m, in, 2); /* warm-up: page in the mapping, build primitives */
                am__gemv_disabled = 0;
                double tp = time_generate(m, in, 1);
                double tn = time_generate(m, in, new_tokens);
                double dec = (double)(new_tokens - 1) / (tn - tp);
                double dec2 = 0;
                if (!k_qc[d]) { /* quantized products ignore am__gemv_disabled: nothing to compare */
                    am__gemv_disabled = 1;
                    double tp2 = time_generate(m, in, 1), tn2 = time_generate(m, in, new_tokens);
                    dec2 = (double)(new_tokens - 1) / (tn2 - tp2);
                    am__gemv_disabled = 0;
                }
                double bw = th == 1 ? bw1 : bw2, bound = bw * 1e9 / bytes;
                char d2[32] = "-";
                if (!k_qc[d]) snprintf(d2, sizeof d2, "%.2f", dec2);
                printf("| %s | %s | %d | %.0f MB | %.1f | %.1f | %.2f | %.0f%% | %s |\n", sh->name, k_qc[d] ? k_dn[d] : am_dtype_name(dt), th, bytes / 1e6, bound,
                       128.0 / tp, dec, 100.0 * dec / bound, d2);
                fflush(stdout);
            }
            am_tensors_free(in);
            am_model_free(m);
        }
    }
    return 0;
}
