/* tests/test_export.c — ONNX export without ONNX Runtime: the written folder (graph, config,
 * tokenizer files, external data), the options struct, and every refusal — an architecture, task,
 * opset, dtype or --with-past that is not supported, hostile configs (unknown activation, huge
 * dims), an existing non-empty folder — each a clear error before anything is written, with no
 * output folder and no temporary folder left behind. The numbers are checked by run_case.sh
 * through ONNX Runtime (test_onnx_<case>). */
#include "harness.h"
#include "hub/util.h"
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_cli;
static char g_tmp[256];

/* `automodel ARGS 2>&1` (harness.c) */
#define cli(out, ...) am_test_cli(g_cli, out, __VA_ARGS__)

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* nothing in g_tmp but the entries named in keep */
static bool only(const char *keep) {
    DIR *d = opendir(g_tmp);
    bool ok = d != NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!keep || strcmp(e->d_name, keep))) {
            fprintf(stderr, "left behind: %s/%s\n", g_tmp, e->d_name);
            ok = false;
        }
    if (d) closedir(d);
    return ok;
}

/* `export onnx ARGS` fails (rc != 0) with `msg` in its output and leaves nothing in g_tmp */
static void refused(const char *keep, const char *msg, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out;
    int rc = cli(&out, "export onnx %s", args);
    CHECKF(rc != 0 && out && strstr(out, msg), "export onnx %s: rc %d, expected \"%s\" in: %s", args, rc, msg, out ? out : "");
    CHECKF(only(keep), "export onnx %s left files", args);
    free(out);
}

static void test_refusals(void) {
    char out_dir[512];
    snprintf(out_dir, sizeof out_dir, "%s/out", g_tmp);
    const char *bert = am_test_fixture("models/bert_seqcls");
    char b[4096];
    snprintf(b, sizeof b, "%s", bert);
    refused(NULL, "WhisperModel: only WhisperForConditionalGeneration is exportable", "%s %s --task base", am_test_fixture("models/whisper_cg"), out_dir);
    refused(NULL, "--with-past needs a generation head (T5ForConditionalGeneration, BartForConditionalGeneration, WhisperForConditionalGeneration), "
                  "not T5ForQuestionAnswering",
            "%s %s --with-past", am_test_fixture("models/t5_qa"), out_dir);
    refused(NULL, "relative_attention_num_buckets", "%s %s --set relative_attention_num_buckets=2", am_test_fixture("models/t5_cg"), out_dir);
    refused(NULL, "opset 13 is not supported (14 to 17)", "%s %s --opset 13", b, out_dir);
    refused(NULL, "opset 18 is not supported (14 to 17)", "%s %s --opset 18", b, out_dir);
    refused(NULL, "--with-past needs a decoder's causal LM head", "%s %s --with-past", b, out_dir);
    refused(NULL, "--with-past needs a decoder's causal LM head", "%s %s --with-past", am_test_fixture("models/gpt2_seqcls"), out_dir);
    refused(NULL, "--with-past needs a decoder's causal LM head", "%s %s --with-past", am_test_fixture("models/wav2vec2_audiocls"), out_dir);
    refused(NULL, "--external-data must be auto, always or never", "%s %s --external-data sometimes", b, out_dir);
    char *out;
    int rc = cli(&out, "export tflite %s %s", b, out_dir);
    CHECKF(rc == 2 && out && strstr(out, "the first argument is the format, onnx"), "export tflite: rc %d: %s", rc, out ? out : "");
    free(out);
    /* hostile configs: refused by the load, before the export writes anything */
    refused(NULL, "hidden_act", "%s %s --set hidden_act=swishy", b, out_dir);
    refused(NULL, "hidden_size", "%s %s --set hidden_size=100000000000", b, out_dir);
    refused(NULL, "num_hidden_layers", "%s %s --set num_hidden_layers=1000000000", b, out_dir);
    /* Wav2Vec2 reads return_attention_mask from preprocessor_config.json: a broken one is named */
    char w2v[300], cmd[8192];
    snprintf(w2v, sizeof w2v, "%s/w2v", g_tmp);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp '%s'/config.json '%s'/model.safetensors '%s'/ && printf '{\"return_attention_mask\": tru' > '%s'/preprocessor_config.json",
             w2v, am_test_fixture("models/wav2vec2_audiocls"), am_test_fixture("models/wav2vec2_audiocls"), w2v, w2v);
    CHECK(system(cmd) == 0);
    refused("w2v", "preprocessor_config.json", "%s %s", w2v, out_dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w2v);
    CHECK(system(cmd) == 0);
    /* an existing, non-empty folder is never overwritten */
    CHECK(mkdir(out_dir, 0755) == 0);
    char f[600];
    snprintf(f, sizeof f, "%s/keep.txt", out_dir);
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    if (fp) fclose(fp);
    refused("out", "exists and is not empty", "%s %s", b, out_dir);
    CHECK(exists(f));
    unlink(f);
    rmdir(out_dir);
}

static void test_written(void) {
    char out_dir[512], p[700];
    snprintf(out_dir, sizeof out_dir, "%s/roberta", g_tmp);
    /* an empty existing folder is fine; a model with tokenizer files gets them copied */
    CHECK(mkdir(out_dir, 0755) == 0);
    char *out;
    int rc = cli(&out, "export onnx %s %s --external-data always --opset 16", am_test_fixture("models/roberta_causal"), out_dir);
    CHECKF(rc == 0, "export roberta_causal: %s", out);
    free(out);
    static const char *files[] = {"model.onnx", "model.onnx_data", "config.json", "generation_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out_dir, files[i]);
        CHECKF(exists(p), "%s written", p);
    }
    /* external data: the graph holds no weight bytes; the data file holds them */
    size_t gl = 0, dl = 0;
    snprintf(p, sizeof p, "%s/model.onnx", out_dir);
    char *g = am_test_read_file(p, &gl);
    snprintf(p, sizeof p, "%s/model.onnx_data", out_dir);
    char *d = am_test_read_file(p, &dl);
    CHECKF(g && d && dl > 40000 && gl < 40000, "graph %zu bytes, data %zu bytes", gl, dl);
    CHECK(g && memmem(g, gl, "model.onnx_data", 15) != NULL);
    free(g);
    free(d);
    /* the config as save_pretrained writes it */
    snprintf(p, sizeof p, "%s/config.json", out_dir);
    char *cj = am_test_read_file(p, NULL);
    CHECK(cj && strstr(cj, "\"RobertaForCausalLM\"") && strstr(cj, "\"torch_dtype\": \"float32\""));
    free(cj);
    snprintf(p, sizeof p, "rm -rf '%s'", out_dir);
    CHECK(system(p) == 0);
    /* an encoder-decoder generation head with past: Optimum's three files, no model.onnx */
    snprintf(out_dir, sizeof out_dir, "%s/t5", g_tmp);
    rc = cli(&out, "export onnx %s %s --with-past --opset 15", am_test_fixture("models/t5_cg"), out_dir);
    CHECKF(rc == 0, "export t5_cg: %s", out);
    free(out);
    static const char *s2s_files[] = {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "config.json", "generation_config.json"};
    for (size_t i = 0; i < sizeof s2s_files / sizeof s2s_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out_dir, s2s_files[i]);
        CHECKF(exists(p), "%s written", p);
    }
    snprintf(p, sizeof p, "%s/model.onnx", out_dir);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/decoder_with_past_model.onnx", out_dir);
    g = am_test_read_file(p, &gl);
    CHECK(g && memmem(g, gl, "past_key_values.1.encoder.value", 31) && memmem(g, gl, "present.1.decoder.key", 21) &&
          !memmem(g, gl, "present.0.encoder.key", 21) && !memmem(g, gl, "encoder_hidden_states", 21));
    free(g);
    snprintf(p, sizeof p, "rm -rf '%s'", out_dir);
    CHECK(system(p) == 0);
    /* --with-past: Optimum's three decoder files; the merged one holds each weight once (its If
     * branches read them from the outer graph), so its data is the size of one decoder's */
    snprintf(out_dir, sizeof out_dir, "%s/gpt2", g_tmp);
    rc = cli(&out, "export onnx %s %s --with-past --external-data always", am_test_fixture("models/gpt2_lm"), out_dir);
    CHECKF(rc == 0, "export gpt2_lm --with-past: %s", out);
    free(out);
    size_t one = 0, merged = 0;
    snprintf(p, sizeof p, "%s/decoder_model.onnx_data", out_dir);
    free(am_test_read_file(p, &one));
    snprintf(p, sizeof p, "%s/decoder_model_merged.onnx_data", out_dir);
    free(am_test_read_file(p, &merged));
    CHECKF(one > 40000 && merged == one, "merged data %zu bytes, decoder data %zu bytes", merged, one);
    snprintf(p, sizeof p, "%s/decoder_model_merged.onnx", out_dir);
    g = am_test_read_file(p, &gl);
    CHECK(g && gl < 40000 && memmem(g, gl, "use_cache_branch", 16) && memmem(g, gl, "then_branch", 11) && memmem(g, gl, "else_branch", 11));
    free(g);
    snprintf(p, sizeof p, "rm -rf '%s'", out_dir);
    CHECK(system(p) == 0);
    /* a bert with tokenizer files next to it */
    snprintf(out_dir, sizeof out_dir, "%s/sms", g_tmp);
    rc = cli(&out, "export onnx %s %s --dtype float16", am_test_fixture("../../models/sms-spam-bert"), out_dir);
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/tokenizer_config.json", out_dir);
        CHECKF(exists(p), "tokenizer files copied next to the graph");
        snprintf(p, sizeof p, "%s/config.json", out_dir);
        cj = am_test_read_file(p, NULL);
        CHECK(cj && strstr(cj, "\"torch_dtype\": \"float16\""));
        free(cj);
    } else
        CHECKF(0, "export of models/sms-spam-bert: %s", out);
    free(out);
    snprintf(p, sizeof p, "rm -rf '%s'", out_dir);
    CHECK(system(p) == 0);
}

static void put(const char *dir, const char *name, const char *text) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* a hub id: the model from a local `hub serve`, its tokenizer files fetched from the same
 * snapshot into the export (they are not needed by the load, so the export fetches them) */
static void test_hub_id(void) {
    char root[512], home[512], tokens[512], repo[512], out_dir[512], p[700];
    snprintf(root, sizeof root, "%s/hubroot", g_tmp);
    snprintf(home, sizeof home, "%s/hfhome", g_tmp);
    snprintf(tokens, sizeof tokens, "%s/tokens", g_tmp);
    snprintf(repo, sizeof repo, "%s/repo", g_tmp);
    snprintf(out_dir, sizeof out_dir, "%s/fromhub", g_tmp);
    CHECK(mkdir(repo, 0755) == 0);
    put(g_tmp, "tokens", "tok_export_writer_0123456789 alice write\n");
    chmod(tokens, 0600);
    snprintf(p, sizeof p, "cp '%s/config.json' '%s/model.safetensors' '%s/'", am_test_fixture("hub/bert_seqcls"), am_test_fixture("hub/bert_seqcls"), repo);
    CHECK(system(p) == 0);
    put(repo, "tokenizer_config.json", "{\"do_lower_case\": true, \"model_max_length\": 512}\n");
    put(repo, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.threads = 2;
    am_hub_server *srv = am_hub_server_start(&so);
    CHECKF(srv != NULL, "hub server: %s", am_last_error());
    if (!srv) return;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    hu_clean_env(home);
    setenv("HF_ENDPOINT", url, 1);
    am_push_options po = am_push_options_default();
    po.token = "tok_export_writer_0123456789";
    char *commit = NULL;
    CHECK_OK(am_hub_upload_folder_commit(repo, "alice/tiny-bert", &po, &commit));
    free(commit);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-bert", NULL);
    CHECKF(m != NULL, "load alice/tiny-bert: %s", am_last_error());
    if (m) {
        CHECK_OK(am_model_export_onnx(m, out_dir, NULL));
        static const char *files[] = {"model.onnx", "config.json", "tokenizer_config.json", "vocab.txt"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", out_dir, files[i]);
            CHECKF(am__is_file(p), "%s copied from the hub snapshot", p);
        }
        snprintf(p, sizeof p, "%s/vocab.txt", out_dir);
        char *v = am_test_read_file(p, NULL);
        CHECK(v && !strcmp(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"));
        free(v);
        am_model_free(m);
    }
    am_hub_server_free(srv);
    unsetenv("HF_ENDPOINT");
    snprintf(p, sizeof p, "rm -rf '%s' '%s' '%s' '%s' '%s'", root, home, tokens, repo, out_dir);
    CHECK(system(p) == 0);
}

static void test_api(void) {
    am_onnx_export_options o = am_onnx_export_options_default();
    CHECK(o.size == sizeof o && o.opset == 17 && o.dtype == AM_DTYPE_AUTO && o.external_data == 0 && !o.with_past);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, am_test_fixture("models/distilbert_seqcls"), NULL);
    CHECK(m != NULL);
    char out_dir[512];
    snprintf(out_dir, sizeof out_dir, "%s/api", g_tmp);
    o.size = 0;
    CHECK(am_model_export_onnx(m, out_dir, &o) == AM_ERR_INVALID_ARGUMENT);
    o = am_onnx_export_options_default();
    o.dtype = AM_I64;
    CHECK(am_model_export_onnx(m, out_dir, &o) == AM_ERR_INVALID_ARGUMENT && strstr(am_last_error(), "float16"));
    o = am_onnx_export_options_default();
    o.dtype = AM_BF16;
    CHECK_OK(am_model_export_onnx(m, out_dir, &o));
    char p[600];
    snprintf(p, sizeof p, "%s/model.onnx", out_dir);
    CHECK(exists(p));
    CHECK(am_model_export_onnx(NULL, out_dir, NULL) == AM_ERR_INVALID_ARGUMENT);
    am_model_free(m);
    snprintf(p, sizeof p, "rm -rf '%s'", out_dir);
    CHECK(system(p) == 0);
    CHECK(only(NULL));
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_test_export_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    test_refusals();
    test_written();
    test_hub_id();
    test_api();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_tmp);
    return 0;
}
