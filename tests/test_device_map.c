/* tests/test_device_map.c — device_map / max_memory / offload_folder (issue 15, item 3).
 * (1) Planning: every strategy on the fixture models; max_memory budgets that force "disk", with
 *     the maps accelerate's infer_auto_device_map + clean_device_map give (traced by hand from its
 *     algorithm over the fixture's tensor sizes, in the comments); a dict map; a dict that leaves
 *     parameters out; the no-offload_folder ValueError on a .bin checkpoint; GPU ids refused;
 *     hostile size strings.
 * (2) Outputs: BERT, GPT-2, Llama and T5 with every module on "disk" (and a cpu/disk split) give
 *     the unrestricted run's outputs bit for bit, forward and greedy generation; a bfloat16 load
 *     writes the converted "disk" weights to offload_folder (<name>.dat + index.json) and also
 *     matches. (3) Peak RSS: a Llama-shaped model (~115 MB of float32 weights) written at test time
 *     runs in a child process with max_memory cpu=20MB; its peak RSS stays within the budget plus a
 *     stated overhead over the process's RSS before loading, while the unrestricted run's does not. */
#include "harness.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static am_model *load(const char *fixture, const char *dm, const char *mm, const char *folder, am_dtype dt) {
    am_load_options o = am_load_options_default();
    o.device_map = dm;
    o.max_memory = mm;
    o.offload_folder = folder;
    o.dtype = dt;
    char path[4200];
    snprintf(path, sizeof path, "%s", am_test_fixture(fixture));
    return am_model_from_pretrained(AM_TASK_AUTO, path, &o);
}

static void expect_map(const char *fixture, const char *dm, const char *mm, const char *want) {
    am_model *m = load(fixture, dm, mm, NULL, AM_F32);
    CHECKF(m != NULL, "%s %s %s: %s", fixture, dm, mm ? mm : "", am_last_error());
    char *got = m ? am_model_hf_device_map(m) : NULL;
    CHECKF(got && !strcmp(got, want), "%s device_map=%s max_memory=%s: got %s, want %s", fixture, dm, mm ? mm : "-", got ? got : "NULL", want);
    am_free(got);
    am_model_free(m);
}

static void expect_error(const char *fixture, const char *dm, const char *mm, const char *msg) {
    am_model *m = load(fixture, dm, mm, NULL, AM_F32);
    CHECKF(m == NULL, "%s device_map=%s max_memory=%s loaded", fixture, dm ? dm : "-", mm ? mm : "-");
    CHECKF(m || strstr(am_last_error(), msg), "%s %s %s: message '%s' lacks '%s'", fixture, dm ? dm : "-", mm ? mm : "-", am_last_error(), msg);
    am_model_free(m);
}

static void test_planning(void) {
    static const char *models[] = {"models/gpt2_lm", "models/llama_lm", "models/bert_model", "models/t5_cg", "models/bart_cg"};
    static const char *strategies[] = {"auto", "balanced", "balanced_low_0", "sequential", "cpu"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        for (size_t j = 0; j < sizeof strategies / sizeof *strategies; j++) expect_map(models[i], strategies[j], NULL, "{\"\":\"cpu\"}");
    /* no device_map: no hf_device_map */
    am_model *m = load("models/gpt2_lm", NULL, NULL, NULL, AM_F32);
    CHECK(m && !am_model_hf_device_map(m));
    am_model_free(m);
    /* GPT-2 (n_embd 32, 2 blocks of 50,816 bytes of parameters + 4,100 of buffers = 54,916), cpu =
     * 100,000 bytes: the cpu keeps room for the largest block (45,084 left); "transformer" (130,952)
     * splits; wte (12,672) fits and takes its tied lm_head; wpe (8,192) and drop fit; "transformer.h"
     * splits, h.0 does not fit (20,864 + 54,916) and is a no-split GPT2Block: disk from there on;
     * clean_device_map merges h.0/h.1 into "transformer.h", appended last. */
    expect_map("models/gpt2_lm", "auto", "{\"cpu\": 100000}",
               "{\"transformer.wte\":\"cpu\",\"lm_head\":\"cpu\",\"transformer.wpe\":\"cpu\",\"transformer.drop\":\"cpu\",\"transformer.ln_f\":\"disk\","
               "\"transformer.h\":\"disk\"}");
    expect_map("models/gpt2_lm", "sequential", "cpu=100000", /* the same: no GPU, so no balancing */
               "{\"transformer.wte\":\"cpu\",\"lm_head\":\"cpu\",\"transformer.wpe\":\"cpu\",\"transformer.drop\":\"cpu\",\"transformer.ln_f\":\"disk\","
               "\"transformer.h\":\"disk\"}");
    /* Llama (hidden 32, layers of 36,864 bytes + the rotary inv_freq buffer), cpu = 60KB: room for
     * embed_tokens (12,672) only; every layer, the norm and lm_head on disk ("model.layers", merged
     * from layers.0/1 by clean_device_map, is appended last) */
    expect_map("models/llama_lm", "auto", "cpu=60KB", "{\"model.embed_tokens\":\"cpu\",\"model.norm\":\"disk\",\"lm_head\":\"disk\",\"model.layers\":\"disk\"}");
    expect_map("models/llama_lm", "balanced", "cpu=0", "{\"\":\"disk\"}");
    expect_map("models/llama_lm", "auto", "disk=10GB", "{\"\":\"disk\"}"); /* no "cpu" entry: disk only */
    expect_map("models/llama_lm", "auto", "cpu=1GiB,disk=1GiB", "{\"\":\"cpu\"}");
    /* a dict: hf_device_map is the dict */
    expect_map("models/llama_lm", "{\"model.embed_tokens\": \"cpu\", \"model.layers.0\": \"disk\", \"model.layers.1\": \"cpu\", \"model.norm\": \"cpu\", \"lm_head\": \"disk\"}",
               NULL, "{\"model.embed_tokens\":\"cpu\",\"model.layers.0\":\"disk\",\"model.layers.1\":\"cpu\",\"model.norm\":\"cpu\",\"lm_head\":\"disk\"}");
    expect_map("models/gpt2_lm", "{\"\": \"cpu\"}", NULL, "{\"\":\"cpu\"}");
    expect_error("models/gpt2_lm", "{\"transformer.h\": \"cpu\", \"lm_head\": \"cpu\"}", NULL,
                 "does not give any device for the following parameters: 'transformer.wte.weight'");
    /* disk without offload_folder: fine for safetensors (read in place), transformers' ValueError for .bin */
    expect_error("models/load_legacy_bin", "auto", "cpu=0",
                 "The current `device_map` had weights offloaded to the disk. Please provide an `offload_folder` for them.");
    expect_map("models/load_legacy_bin", "auto", "cpu=1GB", "{\"\":\"cpu\"}");
    /* GPUs: no backend */
    const char *gpus[] = {"0", "3", "cuda", "cuda:0", "mps", "xpu:1", "{\"\": 0}", "{\"encoder\": \"cuda:1\"}", "{\"x\": \"0\"}"};
    for (size_t i = 0; i < sizeof gpus / sizeof *gpus; i++) expect_error("models/gpt2_lm", gpus[i], NULL, "no GPU backend");
    expect_error("models/gpt2_lm", "auto", "{\"0\": \"1GiB\", \"cpu\": \"1GiB\"}", "no GPU backend");
    expect_error("models/gpt2_lm", "auto", "cuda:0=1GB", "no GPU backend");
    /* malformed values */
    const char *bad_maps[] = {"", "disk", "Auto", "{", "[\"cpu\"]", "{\"x\": \"gpu\"}", "{\"x\": -1}", "{\"x\": 1.5}", "{\"x\": null}", "cpu:"};
    for (size_t i = 1; i < sizeof bad_maps / sizeof *bad_maps; i++) {
        am_model *b = load("models/gpt2_lm", bad_maps[i], NULL, NULL, AM_F32);
        CHECKF(!b && strstr(am_last_error(), "device_map"), "device_map=%s: %s", bad_maps[i], am_last_error());
        am_model_free(b);
    }
    const char *bad_sizes[] = {"cpu=", "=1GB", "cpu", "cpu=GiB", "cpu=-1GB", "cpu=1e400GB", "cpu=nanGB", "cpu=infGiB", "cpu=1.5",
                               "cpu=99999999999999999999", "cpu=1 GB", "cpu=0x10", "cpu=1TB", "cpu=1GB,", "cpu=1GB,,disk=1GB",
                               "{\"cpu\": -5}", "{\"cpu\": 1.5}", "{\"cpu\": []}", "{\"cpu\": \"\"}", "{\"cpu\": 1e300}", "[1]", "{\"cpu\": \"1GB\"} x"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        am_model *b = load("models/gpt2_lm", "auto", bad_sizes[i], NULL, AM_F32);
        CHECKF(!b && strstr(am_last_error(), "max_memory"), "max_memory=%s: %s", bad_sizes[i], am_last_error());
        am_model_free(b);
    }
    expect_error("models/gpt2_lm", "auto", "tpu=1GB", "Device tpu is not recognized");
    /* accelerate's units: GiB = 2^30, GB = 10^9, "Gb" bits (/8), floats allowed, an integer is bytes */
    const char *ok_sizes[] = {"cpu=2GiB", "cpu=500MB", "cpu=1.5GB", "cpu=8Gb", "cpu=123456789", "cpu=0.5gib", "{\"cpu\": \"2GiB\", \"disk\": 1000}"};
    for (size_t i = 0; i < sizeof ok_sizes / sizeof *ok_sizes; i++) expect_map("models/gpt2_lm", "auto", ok_sizes[i], "{\"\":\"cpu\"}");
    /* units: 0.1MB is 100,000 bytes (the split above); at 0.15MB, once the blocks are the last
     * large modules left the reserve drops to ln_f's size and everything fits on the cpu */
    expect_map("models/gpt2_lm", "auto", "cpu=0.1MB",
               "{\"transformer.wte\":\"cpu\",\"lm_head\":\"cpu\",\"transformer.wpe\":\"cpu\",\"transformer.drop\":\"cpu\",\"transformer.ln_f\":\"disk\","
               "\"transformer.h\":\"disk\"}");
    expect_map("models/gpt2_lm", "auto", "cpu=0.15MB", "{\"\":\"cpu\"}");
}

/* ---- identical outputs ---- */

static am_tensors *ids_input(const int64_t *ids, int64_t B, int64_t T, const char *name) {
    int64_t shape[2] = {B, T};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    if (name) am_tensors_set(in, name, t);
    am_tensor_free(t);
    return in;
}

static bool same_outputs(const am_tensors *a, const am_tensors *b, const char *what) {
    bool ok = a && b && am_tensors_count(a) == am_tensors_count(b);
    for (size_t i = 0; ok && i < am_tensors_count(a); i++) {
        const am_tensor *x = am_tensors_get(a, am_tensors_name(a, i)), *y = am_tensors_get(b, am_tensors_name(a, i));
        ok = x && y && am_tensor_nbytes(x) == am_tensor_nbytes(y) && !memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x));
        CHECKF(ok, "%s: output '%s' differs", what, am_tensors_name(a, i));
    }
    CHECKF(a && b, "%s: %s", what, am_last_error());
    return ok;
}

static void compare(const char *fixture, const char *dm, const char *mm, const char *folder, am_dtype dt, bool seq2seq, bool gen) {
    am_model *ref = load(fixture, NULL, NULL, NULL, dt), *off = load(fixture, dm, mm, folder, dt);
    CHECKF(ref && off, "%s: %s", fixture, am_last_error());
    if (!ref || !off) {
        am_model_free(ref);
        am_model_free(off);
        return;
    }
    static const int64_t ids[] = {5, 17, 42, 8, 91, 3, 64, 12, 7, 33, 20, 2};
    char what[256];
    snprintf(what, sizeof what, "%s device_map=%s max_memory=%s dtype=%s", fixture, dm, mm ? mm : "-", am_dtype_name(dt));
    for (int round = 0; round < 2; round++) { /* twice: the second run faults the released pages back */
        am_tensors *in = ids_input(ids, 2, 6, seq2seq ? "decoder_input_ids" : NULL);
        am_tensors *a = am_model_forward(ref, in, NULL), *b = am_model_forward(off, in, NULL);
        same_outputs(a, b, what);
        am_tensors_free(a);
        am_tensors_free(b);
        am_tensors_free(in);
    }
    if (gen) {
        am_generate_options g = am_generate_options_default();
        g.max_new_tokens = 8;
        g.do_sample = 0;
        for (int beams = 1; beams <= 2; beams++) {
            g.num_beams = beams;
            am_tensors *in = ids_input(ids, 2, 4, NULL);
            am_tensors *a = am_model_generate(ref, in, &g), *b = am_model_generate(off, in, &g);
            same_outputs(a, b, what);
            am_tensors_free(a);
            am_tensors_free(b);
            am_tensors_free(in);
        }
    }
    am_model_free(ref);
    am_model_free(off);
}

static void test_outputs(void) {
    compare("models/bert_model", "auto", "cpu=0", NULL, AM_F32, false, false);
    compare("models/bert_model", "auto", "cpu=60KB", NULL, AM_F32, false, false);
    compare("models/gpt2_lm", "auto", "cpu=0", NULL, AM_F32, false, true);
    compare("models/gpt2_lm", "sequential", "cpu=100000", NULL, AM_F32, false, true);
    compare("models/llama_lm", "auto", "cpu=0", NULL, AM_F32, false, true);
    compare("models/llama_lm", "{\"model.embed_tokens\": \"cpu\", \"model.layers.0\": \"disk\", \"model.layers.1\": \"cpu\", \"model.norm\": \"cpu\", \"lm_head\": \"disk\"}",
            NULL, NULL, AM_F32, false, true);
    compare("models/t5_cg", "auto", "cpu=0", NULL, AM_F32, true, true);
    compare("models/t5_cg", "balanced_low_0", "cpu=30KB", NULL, AM_F32, true, true);
    /* bfloat16: the converted disk weights are written to offload_folder as accelerate does */
    char dir[] = "/tmp/am_offload_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    compare("models/llama_lm", "auto", "cpu=0", dir, AM_BF16, false, true);
    char p[256];
    snprintf(p, sizeof p, "%s/index.json", dir);
    size_t len = 0;
    char *idx = am_test_read_file(p, &len);
    CHECKF(idx && strstr(idx, "\"model.layers.0.mlp.down_proj.weight\"") && strstr(idx, "\"dtype\":\t\"bfloat16\"") &&
               strstr(idx, "\"shape\":\t[32, 64]"),
           "offload index: %s", idx ? idx : "missing");
    free(idx);
    struct stat sb;
    snprintf(p, sizeof p, "%s/model.layers.0.mlp.down_proj.weight.dat", dir);
    CHECKF(stat(p, &sb) == 0 && sb.st_size == 32 * 64 * 2, "%s: %lld bytes", p, (long long)sb.st_size);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    /* bfloat16 on safetensors without offload_folder: private temporary files, nothing left behind */
    compare("models/gpt2_lm", "auto", "cpu=0", NULL, AM_BF16, false, true);
    /* .bin with offload_folder: mapped storages stay in place */
    compare("models/load_legacy_bin", "auto", "cpu=0", "/tmp", AM_F32, false, false);
}

/* Whisper (WhisperEncoderLayer / WhisperDecoderLayer are no-split layers, as in 4.32): forward
 * and generate from the fixture's input features, every module on "disk" and a cpu/disk split,
 * bit for bit against the unrestricted run; Wav2Vec2 (no _no_split_modules) is refused with
 * transformers' message */
static void test_speech(void) {
    am_tensors *fx = am_tensors_load_safetensors(am_test_fixture("models/whisper_cg/expected.safetensors"));
    CHECKF(fx != NULL, "whisper_cg expected: %s", am_last_error());
    static const char *const maps[][2] = {{"auto", "cpu=0"}, {"sequential", "cpu=20KB"}};
    for (size_t k = 0; fx && k < 2; k++) {
        am_model *ref = load("models/whisper_cg", NULL, NULL, NULL, AM_F32), *off = load("models/whisper_cg", maps[k][0], maps[k][1], NULL, AM_F32);
        CHECKF(ref && off, "whisper_cg device_map=%s: %s", maps[k][0], am_last_error());
        char *dm = off ? am_model_hf_device_map(off) : NULL;
        CHECKF(dm && strstr(dm, "\"disk\""), "whisper_cg device_map=%s max_memory=%s: %s", maps[k][0], maps[k][1], dm ? dm : "NULL");
        am_free(dm);
        char what[128];
        snprintf(what, sizeof what, "whisper_cg device_map=%s max_memory=%s", maps[k][0], maps[k][1]);
        for (int round = 0; ref && off && round < 2; round++) {
            am_tensors *in = am_tensors_new();
            am_tensors_set(in, "input_features", am_tensors_get(fx, "in.input_features"));
            am_tensors_set(in, "decoder_input_ids", am_tensors_get(fx, "in.decoder_input_ids"));
            am_tensors *a = am_model_forward(ref, in, NULL), *b = am_model_forward(off, in, NULL);
            same_outputs(a, b, what);
            am_tensors_free(a), am_tensors_free(b), am_tensors_free(in);
        }
        am_generate_options g = am_generate_options_default();
        g.max_new_tokens = 8;
        for (int beams = 1; ref && off && beams <= 2; beams++) {
            g.num_beams = beams;
            am_tensors *in = am_tensors_new();
            am_tensors_set(in, "input_features", am_tensors_get(fx, "gen.input_features"));
            am_tensors *a = am_model_generate(ref, in, &g), *b = am_model_generate(off, in, &g);
            same_outputs(a, b, what);
            am_tensors_free(a), am_tensors_free(b), am_tensors_free(in);
        }
        am_model_free(ref), am_model_free(off);
    }
    am_tensors_free(fx);
    expect_error("models/wav2vec2_audiocls", "auto", NULL, "Wav2Vec2ForSequenceClassification does not support `device_map='auto'` yet.");
    expect_error("models/wav2vec2_audiocls", "sequential", "cpu=0", "does not support `device_map='sequential'` yet.");
}

/* ---- peak RSS ---- */

static void test_rss(void) {
    if (!getenv("AM_CLI")) {
        fprintf(stderr, "AM_CLI is not set: the RSS test needs the automodel command\n");
        CHECK(0);
        return;
    }
    /* Llama-shaped: hidden 512, 8 layers of 13.6 MB (f32), vocab 2000: 117 MB of weights, written
     * by `automodel init` (from_config + save_pretrained) in a fresh process */
    char dir[] = "/tmp/am_rss_model_XXXXXX";
    const char *cj = "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 512, "
                     "\"intermediate_size\": 1536, \"num_hidden_layers\": 8, \"num_attention_heads\": 8, "
                     "\"num_key_value_heads\": 8, \"vocab_size\": 2000, \"max_position_embeddings\": 64}";
    CHECK(am_test_cli_random_model(dir, cj)); /* input_ids inside both vocabularies */
    char model[256], in[256], out[256];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    char *tiny[] = {"automodel", "generate", (char *)am_test_fixture("models/llama_lm"), "--inputs", in, "--output", out, "--max-new-tokens", "4", NULL};
    char *full[] = {"automodel", "generate", model, "--inputs", in, "--output", out, "--max-new-tokens", "4", NULL};
    char *off[] = {"automodel", "generate", model, "--inputs", in, "--output", out, "--max-new-tokens", "4", "--device-map", "auto", "--max-memory", "cpu=20MB", NULL};
    long base = am_test_cli_peak_rss_kb(tiny), p_full = am_test_cli_peak_rss_kb(full), p_off = am_test_cli_peak_rss_kb(off);
    /* budget 20 MB (on the cpu: embed_tokens, 4 MB; the rest on disk) + the stated overhead: one
     * layer resident while it runs (13.6 MB), lm_head (4 MB) during its product, activations and
     * scratch: 24 MB in all, over the peak of the same command on a tiny model (the library, its
     * thread pool and oneDNN) */
    long budget_kb = 20000, overhead_kb = 24 * 1024;
    fprintf(stderr, "peak RSS: tiny model %ld kB, unrestricted %ld kB, device_map auto + cpu=20MB %ld kB (bound %ld kB)\n", base, p_full, p_off,
            base + budget_kb + overhead_kb);
    CHECK(base > 0 && p_full > 0 && p_off > 0);
    CHECKF(p_off <= base + budget_kb + overhead_kb, "offloaded peak %ld kB over the bound %ld kB", p_off, base + budget_kb + overhead_kb);
    /* the bound means something: the same model without a device_map breaks it */
    CHECKF(p_full > base + budget_kb + overhead_kb, "the unrestricted run peaked at %ld kB, within the bound: the model is too small to tell", p_full);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    test_planning();
    test_outputs();
    test_speech();
    if (!getenv("AM_TEST_SKIP_RSS")) test_rss();
    return 0;
}
