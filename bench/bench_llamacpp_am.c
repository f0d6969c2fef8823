/* bench/bench_llamacpp_am.c — automodel's side of bench/bench_llamacpp.sh: one engine, one mode,
 * one thread count per process, measured exactly as bench/llamacpp_run.mjs measures llama.cpp.
 * usage: bench_llamacpp_am MODEL_DIR f32|q8|nf4|fp4 THREADS PROMPT_LEN NEW_TOKENS REPS
 * The prompt is ids (i*7919+13) % vocab; greedy, min_new_tokens = NEW_TOKENS (EOS is an ordinary
 * token, a fixed count). After one warm-up generate, REPS times: a stamp (wall: CLOCK_MONOTONIC,
 * cpu: CLOCK_PROCESS_CPUTIME_ID, all threads) at the start and at every token (on_token); prefill =
 * start -> first token, decode = (last - first) / (NEW_TOKENS - 1). One JSON line out, with the
 * weight bytes a decoded token reads (the footprint less the position embedding, whose one row is
 * looked up; 4-bit adds its float32 block absmaxes, 4 B per 64 weights, which the footprint, like
 * transformers', leaves out; 8-bit's SCB is 4 B per row) and the GEMV ISA. q8 = LLM.int8 with
 * threshold 6 (transformers' default), nf4/fp4 = 4-bit blocks of 64 without double quant; as in
 * transformers the tied lm_head (and wte, ln_f) stays float32 (docs/quantization.md). */
#include "automodel.h"
#include "kernels/kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    double wall, cpu;
} stamp;
typedef struct {
    stamp *s;
    size_t n, cap;
} stamps;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static stamp now(void) { return (stamp){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)}; }

static int on_token(void *user, size_t step, const int64_t *tokens, size_t n_rows) {
    (void)step, (void)tokens, (void)n_rows;
    stamps *st = user;
    if (st->n < st->cap) st->s[st->n++] = now();
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: bench_llamacpp_am MODEL_DIR f32|q8|nf4|fp4 THREADS PROMPT_LEN NEW_TOKENS REPS\n");
        return 2;
    }
    const char *dir = argv[1], *mode = argv[2];
    int threads = atoi(argv[3]);
    int64_t plen = atoll(argv[4]), n = atoll(argv[5]);
    int reps = atoi(argv[6]);
    if (threads < 1 || plen < 1 || n < 2 || reps < 1) {
        fprintf(stderr, "bench_llamacpp_am: THREADS >= 1, PROMPT_LEN >= 1, NEW_TOKENS >= 2, REPS >= 1\n");
        return 2;
    }
    const char *qc = NULL;
    if (!strcmp(mode, "q8")) qc = "{\"load_in_8bit\": true}";
    else if (!strcmp(mode, "nf4")) qc = "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\"}";
    else if (!strcmp(mode, "fp4")) qc = "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"fp4\"}";
    else if (strcmp(mode, "f32")) {
        fprintf(stderr, "bench_llamacpp_am: mode %s: f32, q8, nf4 or fp4\n", mode);
        return 2;
    }
    am_log_set_level(AM_LOG_ERROR);
    am_set_num_threads(threads);
    am_load_options lo = am_load_options_default();
    lo.quantization_config = qc;
    am_model *m = am_model_from_pretrained(AM_TASK_CAUSAL_LM, dir, &lo);
    if (!m) {
        fprintf(stderr, "%s: %s\n", dir, am_last_error());
        return 1;
    }
    const am_tensor *wpe = am_model_get_parameter(m, "transformer.wpe.weight");
    const am_tensor *head = am_model_get_parameter(m, "lm_head.weight");
    if (!wpe || !head) {
        fprintf(stderr, "%s: not a GPT-2 LM head model (transformer.wpe.weight / lm_head.weight)\n", dir);
        return 1;
    }
    int64_t quantized = am_model_num_parameters(m, false, false) - am_model_num_parameters(m, true, false);
    double bytes = (double)am_model_memory_footprint(m, false) - (double)am_tensor_nbytes(wpe);
    if (!strcmp(mode, "nf4") || !strcmp(mode, "fp4")) bytes += (double)quantized / 64 * 4;
    int64_t V = am_tensor_dim(head, 0);
    int64_t *ids = malloc((size_t)plen * sizeof(int64_t));
    for (int64_t i = 0; i < plen; i++) ids[i] = (i * 7919 + 13) % V;
    am_tensor *t = am_tensor_from_data(AM_I64, 2, (int64_t[]){1, plen}, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    free(ids);
    stamps st = {calloc((size_t)n + 1, sizeof(stamp)), 0, (size_t)n + 1};
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = n;
    o.min_new_tokens = n;
    o.do_sample = 0;
    o.num_beams = 1;
    o.pad_token_id = 0;
    o.on_token = on_token;
    o.on_token_user = &st;
    printf("{\"engine\": \"automodel\", \"model\": \"%s\", \"mode\": \"%s\", \"threads\": %d, \"prompt_len\": %lld, \"new_tokens\": %lld, "
           "\"bytes_per_token\": %.0f, \"gemv_isa\": \"%s\", \"runs\": [",
           dir, mode, threads, (long long)plen, (long long)n, bytes, am__gemv_isa());
    for (int r = 0; r <= reps; r++) {
        st.n = 0;
        stamp t0 = now();
        am_tensors *out = am_model_generate(m, in, &o);
        if (!out) {
            fprintf(stderr, "generate: %s\n", am_last_error());
            return 1;
        }
        am_tensors_free(out);
        if (r == 0) continue; /* warm-up: pages in the mapping, builds primitives */
        if (st.n != (size_t)n) {
            fprintf(stderr, "generate: %zu tokens, %lld asked\n", st.n, (long long)n);
            return 1;
        }
        stamp f = st.s[0], l = st.s[st.n - 1];
        printf("%s{\"prefill_wall_ms\": %.3f, \"prefill_cpu_ms\": %.3f, \"decode_wall_ms\": %.4f, \"decode_cpu_ms\": %.4f, \"tokens\": %zu}", r > 1 ? ", " : "",
               (f.wall - t0.wall) * 1e3, (f.cpu - t0.cpu) * 1e3, (l.wall - f.wall) * 1e3 / (double)(st.n - 1), (l.cpu - f.cpu) * 1e3 / (double)(st.n - 1), st.n);
    }
    printf("]}\n");
    free(st.s);
    am_tensors_free(in);
    am_model_free(m);
    return 0;
}
