/* tests/test_quant_load.c — loading and serialising quantized models (issue 15).
 * (1) Peak RSS of quantization at load: a GPT-2-shaped model (~105 MB of float32 weights) written
 *     at test time runs `automodel forward` in a child process float32, with --load-in-8bit and
 *     with --load-in-4bit; each quantized weight is made from the mapped checkpoint as it is read
 *     and the source pages are released, so the quantized runs peak within the quantized model's
 *     footprint plus one layer of float32 weights plus a stated overhead, over the same command's
 *     peak on a tiny model; the float32 run does not (the bound separates the two).
 * (2) torch_dtype not given with load_in_8bit / load_in_4bit: float16 for the modules left
 *     unquantized, with transformers 4.32's info message; an explicit float32 keeps float32;
 *     _keep_in_fp32_modules (T5's wo) stays float32.
 * (3) state_dict() of a quantized model lists each quantized module's bitsandbytes state after its
 *     own entries (8-bit SCB; 4-bit weight.absmax, quant_map, nested_*, quant_state.*), and
 *     save_pretrained writes exactly the listed keys (less tied duplicates) with the same bytes.
 * (4) config.json's quantization_config has "llm_int8_threshold": 6.0 (a float, as Python writes). */
#include "harness.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the footprint (parameters and buffers, bytes) of `dir` loaded with these options, in this process */
static long long footprint(const char *dir, bool in8, bool in4) {
    am_load_options o = am_load_options_default();
    o.load_in_8bit = in8, o.load_in_4bit = in4, o.bnb_4bit_quant_type = in4 ? "nf4" : NULL;
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, &o);
    CHECKF(m != NULL, "load %s: %s", dir, am_last_error());
    long long r = m ? (long long)am_model_memory_footprint(m, true) : -1;
    am_model_free(m);
    return r;
}

static void test_peak_rss(void) {
    if (!getenv("AM_CLI")) {
        fprintf(stderr, "AM_CLI is not set: the RSS test needs the automodel command\n");
        CHECK(0);
        return;
    }
    /* GPT-2-shaped: n_embd 512, 8 blocks of 3.1M Linear (Conv1D) weights = 12.6 MB float32 each,
     * vocab 2000 (wte 4 MB, tied to lm_head and kept unquantized, as transformers keeps it) */
    char dir[] = "/tmp/am_qload_model_XXXXXX";
    const char *cj = "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": 512, \"n_layer\": 8, \"n_head\": 8, "
                     "\"vocab_size\": 2000, \"n_positions\": 64}";
    CHECK(am_test_cli_random_model(dir, cj));
    char model[256], in[256], out[256];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    char *tiny[] = {"automodel", "forward", (char *)am_test_fixture("models/gpt2_lm"), "--inputs", in, "--output", out, NULL};
    char *f32[] = {"automodel", "forward", model, "--inputs", in, "--output", out, NULL};
    char *q8[] = {"automodel", "forward", model, "--inputs", in, "--output", out, "--load-in-8bit", NULL};
    char *q4[] = {"automodel", "forward", model, "--inputs", in, "--output", out, "--load-in-4bit", "--bnb-4bit-quant-type", "nf4", NULL};
    long base = am_test_cli_peak_rss_kb(tiny), p32 = am_test_cli_peak_rss_kb(f32), p8 = am_test_cli_peak_rss_kb(q8), p4 = am_test_cli_peak_rss_kb(q4);
    long long fp8 = footprint(model, true, false), fp4 = footprint(model, false, true);
    CHECK(base > 0 && p32 > 0 && p8 > 0 && p4 > 0 && fp8 > 0 && fp4 > 0);
    /* the stated overhead over the tiny model's peak and the quantized footprint (the Linear
     * weights quantized, the rest float16 as no torch_dtype is given): one block's float32 weights
     * (12.6 MB: the mapped source of the weight being quantized, whose pages are dropped after,
     * and its float32 scratch copy rounded to float16, unmapped after: never more than one
     * block's worth), plus 16 MB of activations, logits and kernel scratch for 16 tokens (the
     * float32 copy the GEMM keeps of the float16 lm_head, 4 MB; the 4-bit GEMM path dequantizes a
     * weight per call, 4 MB for c_fc) and what the allocator keeps of freed scratch. Measured:
     * 8-bit 66 MB, nf4 59 MB, float32 137 MB, tiny 35 MB; before weights were quantized as they
     * are read, 8-bit and 4-bit peaked at 158 and 152 MB, above the float32 run. */
    long layer_kb = 12 * 512 * 512 * 4 / 1024, scratch_kb = 16 * 1024;
    long b8 = base + (long)(fp8 / 1024) + layer_kb + scratch_kb, b4 = base + (long)(fp4 / 1024) + layer_kb + scratch_kb;
    fprintf(stderr, "peak RSS: tiny model %ld kB; float32 %ld kB; 8-bit %ld kB (footprint %lld kB, bound %ld kB); nf4 %ld kB (footprint %lld kB, bound %ld kB)\n",
            base, p32, p8, fp8 / 1024, b8, p4, fp4 / 1024, b4);
    CHECKF(p8 <= b8, "8-bit load peaked at %ld kB, over the bound %ld kB", p8, b8);
    CHECKF(p4 <= b4, "4-bit load peaked at %ld kB, over the bound %ld kB", p4, b4);
    /* the bounds mean something: the float32 load of the same model breaks both */
    CHECKF(p32 > b8 && p32 > b4, "the float32 run peaked at %ld kB, within a bound: the model is too small to tell", p32);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* ---- (2) torch_dtype not given with 8/4-bit: float16 for the rest, as transformers 4.32 ---- */

static char g_log[4096];
static void log_cb(am_log_level lvl, const char *msg, void *user) {
    (void)user;
    if (lvl == AM_LOG_INFO && strstr(msg, "Overriding torch_dtype")) snprintf(g_log, sizeof g_log, "%s", msg);
}

static am_model *load_fixture(const char *fx, am_dtype dt, bool in8, bool in4) {
    am_load_options o = am_load_options_default();
    if (dt != AM_DTYPE_DEFAULT) o.dtype = dt;
    o.load_in_8bit = in8, o.load_in_4bit = in4;
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, am_test_fixture(fx), &o);
    CHECKF(m != NULL, "load %s: %s", fx, am_last_error());
    return m;
}

static am_dtype param_dtype(const am_model *m, const char *name) {
    const am_tensor *t = am_model_get_parameter(m, name);
    CHECKF(t != NULL, "no parameter %s", name);
    return t ? am_tensor_dtype(t) : AM_DTYPE_COUNT;
}

static void test_default_dtype(void) {
    CHECK(am_load_options_default().dtype == AM_DTYPE_DEFAULT);
    am_log_level old = am_log_get_level();
    am_log_set_level(AM_LOG_INFO);
    am_log_set_callback(log_cb, NULL);
    g_log[0] = 0;
    am_model *m8 = load_fixture("models/bert_model", AM_DTYPE_DEFAULT, true, false);
    /* transformers' logger.info, word for word */
    CHECKF(!strcmp(g_log, "Overriding torch_dtype=None with `torch_dtype=torch.float16` due to requirements of `bitsandbytes` to enable model loading "
                          "in 8-bit or 4-bit. Pass your own torch_dtype to specify the dtype of the remaining non-linear layers or pass "
                          "torch_dtype=torch.float16 to remove this warning."),
           "log: '%s'", g_log);
    g_log[0] = 0;
    am_model *f32 = load_fixture("models/bert_model", AM_F32, true, false), *plain = load_fixture("models/bert_model", AM_DTYPE_DEFAULT, false, false);
    CHECKF(!g_log[0], "an explicit torch_dtype or no quantization logs no override: '%s'", g_log);
    am_log_set_callback(NULL, NULL);
    am_log_set_level(old);
    if (m8 && f32 && plain) {
        CHECK(am_model_dtype(m8) == AM_F16 && am_model_dtype(f32) == AM_F32 && am_model_dtype(plain) == AM_F32);
        /* embeddings, LayerNorm, the unquantized rest float16; the Linear weights int8, their biases float16 */
        CHECK(param_dtype(m8, "embeddings.word_embeddings.weight") == AM_F16 && param_dtype(m8, "embeddings.LayerNorm.weight") == AM_F16);
        CHECK(param_dtype(m8, "encoder.layer.0.attention.self.query.weight") == AM_I8 && param_dtype(m8, "encoder.layer.0.attention.self.query.bias") == AM_F16);
        CHECK(param_dtype(f32, "embeddings.word_embeddings.weight") == AM_F32 && param_dtype(f32, "encoder.layer.0.attention.self.query.bias") == AM_F32);
    }
    am_model_free(m8), am_model_free(f32), am_model_free(plain);
    /* 4-bit: the same, and _keep_in_fp32_modules (T5's "wo") stays float32 and unquantized */
    am_model *t4 = load_fixture("models/t5_cg", AM_DTYPE_DEFAULT, false, true);
    if (t4) {
        CHECK(am_model_dtype(t4) == AM_F16);
        CHECK(param_dtype(t4, "shared.weight") == AM_F16 && param_dtype(t4, "encoder.final_layer_norm.weight") == AM_F16);
        CHECK(param_dtype(t4, "encoder.block.0.layer.0.SelfAttention.q.weight") == AM_U8);
        CHECK(param_dtype(t4, "encoder.block.0.layer.1.DenseReluDense.wo.weight") == AM_F32);
        char *r = am_model_repr(t4);
        CHECK(r && strstr(r, "(wo): Linear(") && strstr(r, "(q): Linear4bit("));
        am_free(r);
    }
    am_model_free(t4);
}

/* ---- (3) state_dict() lists the bitsandbytes state; save_pretrained writes exactly it ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check_listing(const char *fx, const char *qcfg, const char *const *want_after, const char *anchor) {
    am_load_options o = am_load_options_default();
    o.quantization_config = qcfg;
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, am_test_fixture(fx), &o);
    CHECKF(m != NULL, "load %s: %s", fx, am_last_error());
    if (!m) return;
    size_t n = am_model_state_dict_count(m);
    char **names = calloc(n + 1, sizeof *names);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        names[i] = strdup(am_model_state_dict_name(m, i));
        CHECK(am_model_state_dict_tensor(m, i) != NULL);
        if (!strcmp(names[i], anchor)) at = i;
    }
    /* the module's entries, then its state, in bitsandbytes' _save_to_state_dict order */
    CHECKF(at != SIZE_MAX, "%s: no %s in the state dict", fx, anchor);
    for (size_t k = 0; at != SIZE_MAX && want_after[k]; k++)
        CHECKF(at + 1 + k < n && !strcmp(names[at + 1 + k], want_after[k]), "%s: entry %zu after %s is %s, want %s", fx, k, anchor,
               at + 1 + k < n ? names[at + 1 + k] : "(end)", want_after[k]);
    /* save_pretrained writes the listed keys (less tied duplicates, as transformers drops them) */
    char dir[] = "/tmp/am_qload_sd_XXXXXX", file[256];
    CHECK(mkdtemp(dir) != NULL);
    CHECKF(am_model_save_pretrained(m, dir, NULL) == AM_OK, "save: %s", am_last_error());
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    am_tensors *saved = am_tensors_load_safetensors(file);
    CHECK(saved != NULL);
    size_t ns = saved ? am_tensors_count(saved) : 0;
    for (size_t i = 0; i < ns; i++) {
        const char *k = am_tensors_name(saved, i);
        bool found = false;
        for (size_t j = 0; j < n && !found; j++) found = !strcmp(names[j], k);
        CHECKF(found, "%s: saved key %s is not in the state-dict listing", fx, k);
    }
    for (size_t j = 0; j < n; j++) {
        if (saved && am_tensors_get(saved, names[j])) continue;
        bool tied = false; /* left out of the file: only a tied duplicate may be */
        for (size_t i = 0; i < n && !tied; i++) tied = i != j && am_model_state_dict_tensor(m, i) == am_model_state_dict_tensor(m, j);
        CHECKF(tied, "%s: listed %s is not saved", fx, names[j]);
    }
    /* the state tensors equal what was saved */
    for (size_t j = 0; j < n && saved; j++) {
        const am_tensor *a = am_model_state_dict_tensor(m, j), *b = am_tensors_get(saved, names[j]);
        if (!b || (!strstr(names[j], "SCB") && !strstr(names[j], "weight."))) continue;
        CHECKF(am_tensor_nbytes(a) == am_tensor_nbytes(b) && !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(a)), "%s: %s differs from the saved tensor",
               fx, names[j]);
    }
    /* (4) quantization_config's llm_int8_threshold as transformers writes it: a float */
    snprintf(file, sizeof file, "%s/config.json", dir);
    char *cj = am_test_read_file(file, NULL);
    CHECKF(cj && strstr(cj, "\"llm_int8_threshold\": 6.0,"), "%s: config.json quantization_config lacks \"llm_int8_threshold\": 6.0", fx);
    free(cj);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    am_tensors_free(saved);
    am_model_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void test_state_dict(void) {
    static const char *const scb[] = {"encoder.layer.0.attention.self.query.SCB", "encoder.layer.0.attention.self.key.weight", NULL};
    check_listing("models/bert_model", "{\"load_in_8bit\": true}", scb, "encoder.layer.0.attention.self.query.bias");
    static const char *const nf4dq[] = {"transformer.h.0.attn.c_attn.weight.absmax", "transformer.h.0.attn.c_attn.weight.quant_map",
                                        "transformer.h.0.attn.c_attn.weight.nested_absmax", "transformer.h.0.attn.c_attn.weight.nested_quant_map",
                                        "transformer.h.0.attn.c_attn.weight.quant_state.bitsandbytes__nf4", NULL};
    check_listing("models/gpt2_lm", "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\", \"bnb_4bit_use_double_quant\": true}", nf4dq,
                  "transformer.h.0.attn.c_attn.bias");
    static const char *const fp4[] = {"model.layers.0.self_attn.q_proj.weight.absmax", "model.layers.0.self_attn.q_proj.weight.quant_map",
                                      "model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__fp4", "model.layers.0.self_attn.k_proj.weight", NULL};
    check_listing("models/llama_lm", "{\"load_in_4bit\": true}", fp4, "model.layers.0.self_attn.q_proj.weight");
    /* an unquantized model lists its parameters only */
    am_model *f = load_fixture("models/bert_model", AM_DTYPE_DEFAULT, false, false);
    for (size_t i = 0; f && i < am_model_state_dict_count(f); i++) CHECK(!strstr(am_model_state_dict_name(f, i), "SCB"));
    am_model_free(f);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    test_default_dtype();
    test_state_dict();
    /* under AddressSanitizer freed memory waits in its quarantine (256 MB by default), so the
     * peak of a load that frees each weight's scratch says nothing about the library: the
     * sanitizer build runs the rest */
#if defined(__SANITIZE_ADDRESS__)
    bool asan = true;
#else
    bool asan = false;
#endif
    if (asan) fprintf(stderr, "AddressSanitizer build: the peak-RSS bounds are checked in the Release build only\n");
    if (!getenv("AM_TEST_SKIP_RSS") && !asan) test_peak_rss();
    return 0;
}
