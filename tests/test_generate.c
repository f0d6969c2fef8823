/* tests/test_generate.c — generation beyond the fixture runs: the KV-cache path against full
 * forwards, sampling checked statistically (fixed seed reproduces, top_k=1 is greedy, top_p keeps
 * the nucleus, temperature -> 0 is greedy, frequencies follow the softmax), processors (min tokens,
 * bad words, suppress, forced EOS, EOS lists), stop strings, streaming, time limit, bad input, and the
 * CLI's text-prompt mode with a real tokenizer. */
#include "harness.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static am_model *load_case(const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s", am_test_fixture("models/"));
    strncat(p, name, sizeof p - strlen(p) - 1);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, p, NULL);
    CHECKF(m != NULL, "load %s: %s", name, am_last_error());
    return m;
}

static am_tensors *prompt(const int64_t *ids, int64_t B, int64_t T, const int64_t *mask) {
    am_tensors *in = am_tensors_new();
    am_tensor *t = am_tensor_from_data(AM_I64, 2, (int64_t[]){B, T}, ids);
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    if (mask) {
        t = am_tensor_from_data(AM_I64, 2, (int64_t[]){B, T}, mask);
        am_tensors_set(in, "attention_mask", t);
        am_tensor_free(t);
    }
    return in;
}

static const int64_t k_ids[] = {19, 43, 29};

static am_tensors *gen(am_model *m, am_tensors *in, const am_generate_options *o) {
    am_tensors *out = am_model_generate(m, in, o);
    CHECKF(out != NULL, "generate: %s", am_last_error());
    return out;
}

static const int64_t *seq(am_tensors *out, int64_t *L) {
    am_tensor *s = out ? am_tensors_get(out, "sequences") : NULL;
    if (!s) return NULL;
    if (L) *L = am_tensor_dim(s, 1);
    return am_tensor_cdata(s);
}

static bool same_seqs(am_tensors *a, am_tensors *b) {
    am_tensor *x = a ? am_tensors_get(a, "sequences") : NULL, *y = b ? am_tensors_get(b, "sequences") : NULL;
    if (!x || !y || am_tensor_numel(x) != am_tensor_numel(y)) return false;
    return !memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x));
}

/* greedy scores (no processors) are the raw logits: each must equal a full forward of the final
 * sequence at that position */
static void check_cache_vs_forward(am_model *m, const char *label, bool left_pad) {
    int64_t ids[2 * 5] = {34, 72, 35, 60, 9, 0, 0, 19, 43, 29}, mask[10] = {1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    /* models whose positions ignore padding (BERT, RoBERTa, BART's decoder) run unpadded rows */
    if (!left_pad) mask[5] = mask[6] = 1;
    am_tensors *in = prompt(ids, 2, 5, mask);
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = 6;
    o.output_scores = true;
    am_tensors *out = gen(m, in, &o);
    int64_t L = 0;
    const int64_t *s = seq(out, &L);
    am_tensor *sc = out ? am_tensors_get(out, "scores") : NULL;
    if (s && sc) {
        /* forward of each row alone, unpadded (positions 0..), compares with the padded batch */
        for (int64_t r = 0; r < 2; r++) {
            int64_t off = r == 1 && left_pad ? 2 : 0, n = L - off;
            am_tensors *fi = prompt(s + r * L + off, 1, n, NULL);
            am_tensors *fo = am_model_forward(m, fi, NULL);
            CHECKF(fo != NULL, "%s forward: %s", label, am_last_error());
            am_tensor *lg = fo ? am_tensors_get(fo, "logits") : NULL;
            int64_t V = am_tensor_dim(sc, 2), steps = am_tensor_dim(sc, 0);
            double worst = 0;
            for (int64_t st = 0; lg && st < steps; st++) {
                const float *a = (const float *)am_tensor_cdata(sc) + (st * 2 + r) * V;
                const float *b = (const float *)am_tensor_cdata(lg) + (5 - off - 1 + st) * V;
                bool processed = false; /* a processor of the model's generation config (forced EOS: -inf but eos = 0) */
                for (int64_t v = 0; v < V; v++) processed = processed || isinf(a[v]);
                for (int64_t v = 0; v < V && !processed; v++) worst = fmax(worst, fabs((double)a[v] - b[v]) / (1e-4 + 1e-4 * fabs((double)b[v])));
            }
            CHECKF(worst <= 1.0, "%s: cached step logits vs full forward (row %lld): %.3g x tolerance", label, (long long)r, worst);
            am_tensors_free(fo);
            am_tensors_free(fi);
        }
    }
    am_tensors_free(out);
    am_tensors_free(in);
}

static void softmax(const float *x, int64_t n, double *p) {
    double mx = -INFINITY, s = 0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, x[i]);
    for (int64_t i = 0; i < n; i++) s += p[i] = exp(x[i] - mx);
    for (int64_t i = 0; i < n; i++) p[i] /= s;
}

static void check_sampling(am_model *m) {
    am_tensors *in = prompt(k_ids, 1, 3, NULL);
    am_generate_options g = am_generate_options_default();
    g.max_new_tokens = 8;
    am_tensors *greedy = gen(m, in, &g);

    /* a fixed seed reproduces; another seed gives another draw */
    am_generate_options o = g;
    o.do_sample = 1;
    o.top_k = 0;
    o.seed = 7;
    am_tensors *a = gen(m, in, &o), *b = gen(m, in, &o);
    CHECK(same_seqs(a, b));
    bool differs = false;
    for (uint64_t sd = 8; sd < 16 && !differs; sd++) {
        o.seed = sd;
        am_tensors *c = gen(m, in, &o);
        differs = !same_seqs(a, c);
        am_tensors_free(c);
    }
    CHECKF(differs, "other seeds give other samples");
    am_tensors_free(a);
    am_tensors_free(b);

    /* top_k = 1 is greedy; so is a temperature close to 0 */
    o = g;
    o.do_sample = 1;
    o.top_k = 1;
    o.seed = 3;
    a = gen(m, in, &o);
    CHECKF(same_seqs(a, greedy), "top_k=1 sampling equals greedy");
    am_tensors_free(a);
    o.top_k = 0;
    o.temperature = 1e-3;
    a = gen(m, in, &o);
    CHECKF(same_seqs(a, greedy), "temperature 1e-3 sampling equals greedy");
    am_tensors_free(a);

    /* frequencies of the first sampled token follow softmax(logits): 4000 draws in one call */
    am_generate_options r = g;
    r.max_new_tokens = 1;
    r.output_scores = true;
    am_tensors *raw = gen(m, in, &r);
    am_tensor *rs = raw ? am_tensors_get(raw, "scores") : NULL;
    int64_t V = rs ? am_tensor_dim(rs, 2) : 0;
    double *p = calloc((size_t)V + 1, sizeof(double));
    if (rs) softmax(am_tensor_cdata(rs), V, p);
    o = g;
    o.do_sample = 1;
    o.top_k = 0;
    o.max_new_tokens = 1;
    o.num_return_sequences = 4000;
    o.seed = 11;
    a = gen(m, in, &o);
    int64_t L = 0;
    const int64_t *s = seq(a, &L);
    double *freq = calloc((size_t)V + 1, sizeof(double));
    for (int64_t i = 0; s && i < 4000; i++) freq[s[i * L + 3]] += 1.0 / 4000;
    double tv = 0;
    for (int64_t v = 0; v < V; v++) tv += fabs(freq[v] - p[v]) / 2;
    CHECKF(s && tv < 0.06, "sampled frequencies vs softmax: total variation %.4f", tv);
    am_tensors_free(a);

    /* top_p keeps the smallest set whose mass reaches top_p (the nucleus), and samples only there */
    o.top_p = 0.6;
    o.output_scores = true;
    o.num_return_sequences = 500;
    a = gen(m, in, &o);
    s = seq(a, &L);
    am_tensor *ws = a ? am_tensors_get(a, "scores") : NULL;
    if (ws && s && rs) {
        const float *w = am_tensor_cdata(ws);
        double kept = 0, min_kept = 1;
        int64_t nk = 0;
        for (int64_t v = 0; v < V; v++)
            if (!isinf(w[v])) {
                kept += p[v];
                min_kept = fmin(min_kept, p[v]);
                nk++;
            }
        CHECKF(kept >= 0.6 - 1e-6 && kept - min_kept < 0.6 + 1e-6, "top_p=0.6 keeps mass %.4f over %lld tokens (smallest %.4f)", kept, (long long)nk,
               min_kept);
        bool all_in = true;
        for (int64_t i = 0; i < 500; i++) all_in = all_in && !isinf(w[s[i * L + 3]]);
        CHECKF(all_in, "top_p samples stay in the nucleus");
    }
    am_tensors_free(a);

    /* top_k keeps k tokens; typical_p keeps fewer than all */
    o = g;
    o.do_sample = 1;
    o.max_new_tokens = 1;
    o.output_scores = true;
    o.top_k = 5;
    a = gen(m, in, &o);
    ws = a ? am_tensors_get(a, "scores") : NULL;
    int64_t finite = 0;
    for (int64_t v = 0; ws && v < V; v++) finite += !isinf(((const float *)am_tensor_cdata(ws))[v]);
    CHECKF(finite == 5, "top_k=5 keeps %lld tokens", (long long)finite);
    am_tensors_free(a);
    o.top_k = 0;
    o.typical_p = 0.5;
    a = gen(m, in, &o);
    ws = a ? am_tensors_get(a, "scores") : NULL;
    finite = 0;
    for (int64_t v = 0; ws && v < V; v++) finite += !isinf(((const float *)am_tensor_cdata(ws))[v]);
    CHECKF(finite >= 1 && finite < V, "typical_p=0.5 keeps %lld of %lld tokens", (long long)finite, (long long)V);
    am_tensors_free(a);

    free(p);
    free(freq);
    am_tensors_free(raw);
    am_tensors_free(greedy);
    am_tensors_free(in);
}

static int g_stream_calls, g_stop_after;
static int64_t g_streamed[64];
static int on_token(void *user, size_t step, const int64_t *tokens, size_t n) {
    (void)user;
    (void)n;
    if (step < 64) g_streamed[step] = tokens[0];
    g_stream_calls++;
    return g_stop_after && g_stream_calls >= g_stop_after;
}
static char g_text[1024];
static const char *decode_ids(void *user, const int64_t *ids, size_t n) {
    (void)user;
    g_text[0] = 0;
    for (size_t i = 0; i < n; i++) snprintf(g_text + strlen(g_text), sizeof g_text - strlen(g_text), "<%lld>", (long long)ids[i]);
    return g_text;
}

static void check_processors(am_model *m) {
    am_tensors *in = prompt(k_ids, 1, 3, NULL);
    am_generate_options g = am_generate_options_default();
    g.max_new_tokens = 8;
    g.output_scores = true;
    am_tensors *greedy = gen(m, in, &g);
    int64_t L = 0;
    const int64_t *gs = seq(greedy, &L);
    if (!gs) return;
    int64_t first = gs[3], third = gs[5];

    /* EOS given as a list: stops at the first of them; min_new_tokens holds it back */
    am_generate_options o = g;
    int64_t eos[2] = {98, third};
    o.eos_token_ids = eos;
    o.n_eos = 2;
    am_tensors *a = gen(m, in, &o);
    int64_t La = 0;
    const int64_t *s = seq(a, &La);
    CHECKF(s && La == 6 && s[5] == third, "stops at an eos of the list (length %lld)", (long long)La);
    am_tensors_free(a);
    o.min_new_tokens = 5;
    a = gen(m, in, &o);
    am_tensor *sc = a ? am_tensors_get(a, "scores") : NULL;
    int64_t V = sc ? am_tensor_dim(sc, 2) : 0;
    bool blocked = sc != NULL;
    for (int64_t st = 0; sc && st < 5; st++) blocked = blocked && isinf(((const float *)am_tensor_cdata(sc))[st * V + third]);
    CHECKF(blocked, "min_new_tokens: eos is -inf for the first 5 steps");
    am_tensors_free(a);

    /* bad words: a single token never appears; suppress_tokens are -inf at every step */
    o = g;
    size_t len1 = 1;
    o.bad_words_flat = &first;
    o.bad_words_lens = &len1;
    o.n_bad_words = 1;
    a = gen(m, in, &o);
    s = seq(a, &La);
    bool absent = s != NULL;
    for (int64_t t = 3; s && t < La; t++) absent = absent && s[t] != first;
    CHECKF(absent, "bad_words_ids token never generated");
    am_tensors_free(a);
    o = g;
    int64_t sup[2] = {first, 7};
    o.suppress_tokens = sup;
    o.n_suppress_tokens = 2;
    a = gen(m, in, &o);
    sc = a ? am_tensors_get(a, "scores") : NULL;
    bool sup_ok = sc != NULL;
    for (int64_t st = 0; sc && st < am_tensor_dim(sc, 0); st++)
        sup_ok = sup_ok && isinf(((const float *)am_tensor_cdata(sc))[st * V + first]) && isinf(((const float *)am_tensor_cdata(sc))[st * V + 7]);
    CHECK(sup_ok);
    am_tensors_free(a);

    /* forced EOS at the last step: score 0 there, -inf elsewhere */
    o = g;
    o.forced_eos_token_id = 5;
    a = gen(m, in, &o);
    s = seq(a, &La);
    sc = a ? am_tensors_get(a, "scores") : NULL;
    CHECK(s && La == 11 && s[10] == 5);
    if (sc) {
        const float *last = (const float *)am_tensor_cdata(sc) + 7 * V;
        int64_t fin = 0;
        for (int64_t v = 0; v < V; v++) fin += !isinf(last[v]);
        CHECK(fin == 1 && last[5] == 0.0f);
    }
    am_tensors_free(a);

    /* streaming: one call per step with the chosen token; a non-zero return stops */
    o = g;
    g_stream_calls = 0;
    g_stop_after = 0;
    o.on_token = on_token;
    a = gen(m, in, &o);
    CHECK(g_stream_calls == 8);
    for (int i = 0; i < 8; i++) CHECK(g_streamed[i] == gs[3 + i]);
    am_tensors_free(a);
    g_stream_calls = 0;
    g_stop_after = 3;
    a = gen(m, in, &o);
    s = seq(a, &La);
    CHECKF(s && La == 6, "streamer stop after 3 tokens: length %lld", (long long)La);
    am_tensors_free(a);

    /* stop strings through a decode callback; a wall-clock limit stops after one step */
    o = g;
    char stop[32];
    snprintf(stop, sizeof stop, "<%lld><%lld>", (long long)gs[4], (long long)gs[5]);
    const char *stops[1] = {stop};
    o.stop_strings = stops;
    o.n_stop_strings = 1;
    o.decode = decode_ids;
    a = gen(m, in, &o);
    s = seq(a, &La);
    CHECKF(s && La == 6, "stop string %s: length %lld", stop, (long long)La);
    am_tensors_free(a);
    o = g;
    o.max_time = 1e-9;
    a = gen(m, in, &o);
    s = seq(a, &La);
    CHECK(s && La == 4);
    am_tensors_free(a);

    /* a batch where one row finishes: it is padded with pad_token_id (0) */
    int64_t ids2[6] = {19, 43, 29, 34, 72, 35};
    am_tensors *in2 = prompt(ids2, 2, 3, NULL);
    o = g;
    o.eos_token_ids = &third;
    o.n_eos = 1;
    a = gen(m, in2, &o);
    s = seq(a, &La);
    if (s) {
        CHECK(s[5] == third);
        bool padded = true;
        for (int64_t t = 6; t < La; t++) padded = padded && s[t] == 0;
        CHECKF(padded || La == 6, "finished row padded");
    }
    am_tensors_free(a);
    am_tensors_free(in2);
    am_tensors_free(greedy);
    am_tensors_free(in);
}

static void expect_error(am_model *m, am_tensors *in, const am_generate_options *o, const char *what, const char *needle) {
    am_tensors *out = am_model_generate(m, in, o);
    CHECKF(out == NULL, "%s: should fail", what);
    CHECKF(out || strstr(am_last_error(), needle), "%s: message '%s' should mention '%s'", what, am_last_error(), needle);
    am_tensors_free(out);
}

static void check_bad_input(am_model *m, am_model *seqcls) {
    am_generate_options d = am_generate_options_default();
    d.max_new_tokens = 4;
    int64_t longp[70];
    for (int i = 0; i < 70; i++) longp[i] = 5 + i % 50;
    am_tensors *in = prompt(longp, 1, 70, NULL);
    expect_error(m, in, &d, "prompt longer than n_positions", "positions");
    am_tensors_free(in);
    in = prompt(longp, 1, 62, NULL);
    expect_error(m, in, &d, "prompt + new tokens beyond n_positions", "positions");
    am_tensors_free(in);
    in = prompt(longp, 1, 0, NULL);
    expect_error(m, in, &d, "empty prompt", "empty");
    am_tensors_free(in);
    int64_t bad[3] = {1, 99, 2};
    in = prompt(bad, 1, 3, NULL);
    expect_error(m, in, &d, "id outside the vocabulary", "vocabulary");
    bad[1] = -1;
    am_tensors_free(in);
    in = prompt(bad, 1, 3, NULL);
    expect_error(m, in, &d, "negative id", "vocabulary");
    am_tensors_free(in);
    in = prompt(k_ids, 1, 3, NULL);
    am_generate_options o = d;
    o.num_beams = 2;
    o.num_return_sequences = 3;
    expect_error(m, in, &o, "num_beams < num_return_sequences", "num_return_sequences");
    o = d;
    o.num_return_sequences = 2;
    expect_error(m, in, &o, "greedy with num_return_sequences", "num_return_sequences");
    o = d;
    o.do_sample = 1;
    o.temperature = 0;
    expect_error(m, in, &o, "temperature 0", "temperature");
    o.temperature = 1;
    o.top_p = 1.5;
    expect_error(m, in, &o, "top_p 1.5", "top_p");
    o.top_p = 1;
    o.top_k = -3;
    expect_error(m, in, &o, "top_k -3", "top_k");
    o.top_k = 5;
    o.typical_p = 0;
    expect_error(m, in, &o, "typical_p 0", "typical_p");
    o = d;
    o.repetition_penalty = 0;
    expect_error(m, in, &o, "repetition_penalty 0", "penalty");
    o = d;
    o.num_beams = 0;
    expect_error(m, in, &o, "num_beams 0", "num_beams");
    o = d;
    o.max_new_tokens = 0;
    expect_error(m, in, &o, "max_new_tokens 0", "max_new_tokens");
    o = d;
    o.n_stop_strings = 1;
    o.stop_strings = (const char *const[]){"x"};
    expect_error(m, in, &o, "stop strings without decode", "decode");
    o = d;
    o.num_beams = 2;
    o.on_token = on_token;
    expect_error(m, in, &o, "streamer with beams", "beam");
    expect_error(seqcls, in, &d, "a model without LM head", "generate");
    am_tensor *extra = am_tensor_from_data(AM_I64, 2, (int64_t[]){1, 3}, k_ids);
    am_tensors_set(in, "token_type_ids", extra);
    am_tensor_free(extra);
    expect_error(m, in, &d, "an input generate does not take", "token_type_ids");
    am_tensors_free(in);
}

/* a Llama beam-sampling run reproduces with its seed and returns the asked rows */
static void check_beam_sample(am_model *m) {
    am_tensors *in = prompt(k_ids, 1, 3, NULL);
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = 6;
    o.do_sample = 1;
    o.num_beams = 3;
    o.num_return_sequences = 2;
    o.seed = 5;
    am_tensors *a = gen(m, in, &o), *b = gen(m, in, &o);
    CHECK(same_seqs(a, b));
    am_tensor *ss = a ? am_tensors_get(a, "sequences_scores") : NULL;
    CHECK(ss && am_tensor_dim(ss, 0) == 2 && ((const float *)am_tensor_cdata(ss))[0] >= ((const float *)am_tensor_cdata(ss))[1]);
    am_tensors_free(a);
    am_tensors_free(b);
    am_tensors_free(in);
}

/* `automodel generate MODEL "prompt"`: a random GPT-2 with the real GPT-2 tokenizer */
static void check_cli_text(void) {
    const char *cli = getenv("AM_CLI");
    if (!cli) return;
    am_config *c = am_config_from_json("{\"model_type\": \"gpt2\", \"n_embd\": 16, \"n_layer\": 1, \"n_head\": 2, \"n_positions\": 64}", "test");
    am_model *m = c ? am_model_from_config(AM_TASK_CAUSAL_LM, c, 1) : NULL;
    CHECKF(m != NULL, "random gpt2: %s", am_last_error());
    char tmpl[] = "/tmp/am_test_gentext_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (m && dir) {
        CHECK_OK(am_model_save_pretrained(m, dir, NULL));
        char cmd[9000], *outp = NULL;
        snprintf(cmd, sizeof cmd, "cp %s/tokenizer.json %s/tokenizer_config.json %s/", am_test_fixture("tokenizers/gpt2"), am_test_fixture("tokenizers/gpt2"),
                 dir);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof cmd, "%s generate %s \"Hello, my name is\" --max-new-tokens 5 --output %s/o.safetensors 2>%s/err.txt", cli, dir, dir, dir);
        int rc = am_test_run(cmd, &outp);
        CHECKF(rc == 0, "CLI text generate exit %d", rc);
        snprintf(cmd, sizeof cmd, "%s/o.safetensors", dir);
        am_tensors *o = am_tensors_load_safetensors(cmd);
        am_tensor *s = o ? am_tensors_get(o, "sequences") : NULL;
        CHECKF(s && am_tensor_dim(s, 1) >= 5 + 1 && ((const int64_t *)am_tensor_cdata(s))[0] == 15496, "text prompt encoded (\"Hello\" = 15496)");
        snprintf(cmd, sizeof cmd, "%s/err.txt", dir);
        char *err = am_test_read_file(cmd, NULL);
        CHECKF(err && strstr(err, "tokens/s"), "tokens/s reported: %s", err ? err : "");
        free(err);
        free(outp);
        am_tensors_free(o);
        snprintf(cmd, sizeof cmd, "%s generate %s \"Hi\" --top-p 2 --do-sample", cli, dir);
        CHECK(am_test_run(cmd, NULL) != 0);
        snprintf(cmd, sizeof cmd, "%s generate %s --inputs /nonexistent.safetensors --output %s/x.safetensors 2>/dev/null", cli, dir, dir);
        CHECK(am_test_run(cmd, NULL) != 0);
        snprintf(cmd, sizeof cmd, "%s/x.safetensors", dir);
        CHECK(access(cmd, F_OK) != 0);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
    }
    am_model_free(m);
    am_config_free(c);
}


/* the decode GEMV (whatever ISA AM_GEMV_ISA allows) against a double-precision loop: both weight
 * layouts, f32/bf16/f16 storage, odd sizes that exercise every tail */
static void check_gemv(void) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 7, 9}, {2, 5, 17}, {3, 37, 70}, {5, 64, 33}, {8, 300, 260}, {1, 1030, 515}, {4, 129, 1024}};
    uint64_t st = 12345;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float *x = malloc((size_t)(M * K) * sizeof(float)), *w = malloc((size_t)(N * K) * sizeof(float)), *b = malloc((size_t)N * sizeof(float));
        float *y = malloc((size_t)(M * N) * sizeof(float));
        uint16_t *h = malloc((size_t)(N * K) * sizeof(uint16_t));
        for (int64_t i = 0; i < M * K; i++) x[i] = (float)((double)((st = st * 6364136223846793005ULL + 1) >> 40) / (1 << 24) - 0.5);
        for (int64_t i = 0; i < N * K; i++) w[i] = (float)((double)((st = st * 6364136223846793005ULL + 1) >> 40) / (1 << 24) - 0.5);
        for (int64_t i = 0; i < N; i++) b[i] = (float)i * 0.01f;
        for (int dt = 0; dt < 3; dt++) {
            /* round the weights to the storage type so the reference sees the same values */
            for (int64_t i = 0; i < N * K; i++) {
                if (dt == 1) {
                    h[i] = am__f32_to_bf16(w[i]);
                    w[i] = am__bf16_to_f32(h[i]);
                } else if (dt == 2) {
                    h[i] = am__f32_to_f16(w[i]);
                    w[i] = am__f16_to_f32(h[i]);
                }
            }
            for (int kn = 0; kn < 2; kn++) {
                /* kn: the same matrix stored [K, N] */
                float *wk = malloc((size_t)(N * K) * sizeof(float));
                uint16_t *hk = malloc((size_t)(N * K) * sizeof(uint16_t));
                for (int64_t n = 0; n < N; n++)
                    for (int64_t k = 0; k < K; k++) {
                        wk[k * N + n] = w[n * K + k];
                        hk[k * N + n] = h[n * K + k];
                    }
                const void *wp = dt == 0 ? (const void *)(kn ? wk : w) : (const void *)(kn ? hk : h);
                am__gemv(M, N, K, x, wp, (am__wtype)dt, kn, b, y);
                double worst = 0;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double ref = b[n];
                        for (int64_t k = 0; k < K; k++) ref += (double)x[m * K + k] * w[n * K + k];
                        worst = fmax(worst, fabs(ref - y[m * N + n]));
                    }
                CHECKF(worst < 1e-4 * sqrt((double)K), "gemv %s M=%lld N=%lld K=%lld dtype %d kn %d: max error %.3g", am__gemv_isa(), (long long)M,
                       (long long)N, (long long)K, dt, kn, worst);
                free(wk);
                free(hk);
            }
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(h);
    }
}

int am_test_main(int argc, char **argv) {
    check_gemv();
    if (argc > 1 && !strcmp(argv[1], "kernels")) return 0;
    am_model *gpt2 = load_case("gpt2_lm"), *llama = load_case("llama_lm"), *seqcls = load_case("gpt2_seqcls");
    if (!gpt2 || !llama || !seqcls) return 1;
    check_cache_vs_forward(gpt2, "gpt2", true);
    check_cache_vs_forward(llama, "llama", true);
    /* the decoders built on the other engines: the MLM head under a causal mask, BART's decoder alone */
    const char *more[] = {"bert_causal", "roberta_causal", "bart_causal"};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        am_model *d = load_case(more[i]);
        CHECKF(d != NULL && am_model_can_generate(d), "%s loads and can generate", more[i]);
        if (d) check_cache_vs_forward(d, more[i], false);
        am_model_free(d);
    }
    check_sampling(gpt2);
    check_sampling(llama);
    check_processors(gpt2);
    check_bad_input(gpt2, seqcls);
    check_beam_sample(llama);
    check_cli_text();
    am_model_free(gpt2);
    am_model_free(llama);
    am_model_free(seqcls);
    return 0;
}
