/* tests/test_options_size.c — the options structs' `size` contract, for every public options
 * struct: a caller built against an older, smaller automodel.h passes a struct holding only the
 * first fields, with size = sizeof that older struct. The library must read only those bytes and
 * give every later field its default. Each case lays the old struct over a full struct whose later
 * fields hold values that would change the result (or fail the call) if they were read, so the
 * test fails if an entry point reads past the caller's size. size 0 and a size larger than the
 * library's are refused with a message. argv[1] is the sms-spam-bert demo model (a pipeline). */
#include "harness.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The "older headers": the first fields of each struct, as an earlier version would declare them.
 * Fields are appended so that each newer field starts at or after the older struct's sizeof. */
typedef struct old_load_options { size_t size; am_dtype dtype; am_attn_impl attn; } old_load_options;
typedef struct old_forward_options { size_t size; } old_forward_options;
typedef struct old_save_options { size_t size; am_save_format format; } old_save_options;
typedef struct old_encode_options { size_t size; bool add_special_tokens; am_truncation truncation; } old_encode_options;
typedef struct old_decode_options { size_t size; } old_decode_options;
typedef struct old_generate_options {
    size_t size;
    int64_t max_new_tokens, max_length, min_new_tokens, min_length;
} old_generate_options;
typedef struct old_pipeline_options { size_t size; const am_load_options *load; } old_pipeline_options;
typedef struct old_push_options { size_t size; const char *commit_message; } old_push_options;
typedef struct old_download_options { size_t size; const char *revision; } old_download_options;
typedef struct old_hub_server_options { size_t size; const char *root; } old_hub_server_options;
typedef struct old_onnx_export_options { size_t size; int opset; am_dtype dtype; } old_onnx_export_options;

/* The old struct must end where the next field of ours begins (else the test would be testing a
 * layout the header rule forbids). */
#define OLD_ENDS_AT(old, ours, next) _Static_assert(sizeof(old) == offsetof(ours, next), #old " ends at " #next)
OLD_ENDS_AT(old_load_options, am_load_options, num_labels);
OLD_ENDS_AT(old_forward_options, am_forward_options, output_hidden_states);
OLD_ENDS_AT(old_save_options, am_save_options, max_shard_size);
OLD_ENDS_AT(old_encode_options, am_encode_options, max_length);
OLD_ENDS_AT(old_decode_options, am_decode_options, skip_special_tokens);
OLD_ENDS_AT(old_generate_options, am_generate_options, do_sample);
OLD_ENDS_AT(old_pipeline_options, am_pipeline_options, model_task);
OLD_ENDS_AT(old_push_options, am_push_options, commit_description);
OLD_ENDS_AT(old_download_options, am_download_options, cache_dir);
OLD_ENDS_AT(old_hub_server_options, am_hub_server_options, host);
OLD_ENDS_AT(old_onnx_export_options, am_onnx_export_options, external_data);

static am_tensors *ids_input(const int64_t *ids, int64_t n) {
    int64_t shape[2] = {1, n};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    return in;
}

/* size 0 and a newer (larger) size are refused, naming the struct. */
#define CHECK_REFUSED(expr_null, type)                                                             \
    do {                                                                                           \
        CHECKF((expr_null), "%s with a bad size was accepted", #type);                             \
        CHECKF(strstr(am_last_error(), #type ".size") != NULL, "%s: message: %s", #type, am_last_error()); \
    } while (0)

static void load_forward_save(void) {
    const char *dir = am_test_fixture("models/bert_seqcls");
    /* load: num_labels (beyond the old struct) would give 7 labels */
    union { am_load_options full; old_load_options old; } lo;
    lo.full = am_load_options_default();
    lo.full.num_labels = 7;
    lo.full.use_safetensors = false;
    lo.old.size = sizeof lo.old;
    lo.old.dtype = AM_F32;
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, &lo.full);
    CHECKF(m != NULL, "load with old options: %s", am_last_error());
    if (!m) return;
    CHECKF(am_config_num_labels(am_model_config(m)) == 3, "num_labels %d (the field past size was read)",
           am_config_num_labels(am_model_config(m)));

    lo.full.size = 0;
    CHECK_REFUSED(am_model_from_pretrained(AM_TASK_AUTO, dir, &lo.full) == NULL, am_load_options);
    lo.full.size = sizeof lo.full + 8;
    CHECK_REFUSED(am_model_from_pretrained(AM_TASK_AUTO, dir, &lo.full) == NULL, am_load_options);

    /* forward: output_hidden_states past the old struct */
    int64_t ids[4] = {2, 7, 9, 3};
    am_tensors *in = ids_input(ids, 4);
    union { am_forward_options full; old_forward_options old; } fo;
    fo.full = am_forward_options_default();
    fo.full.output_hidden_states = true;
    fo.old.size = sizeof fo.old;
    am_tensors *out = am_model_forward(m, in, &fo.full);
    CHECKF(out != NULL, "forward with old options: %s", am_last_error());
    if (out) {
        CHECK(am_tensors_get(out, "logits") != NULL);
        CHECKF(am_tensors_get(out, "hidden_states.0") == NULL && am_tensors_count(out) == 1,
               "hidden states returned (%zu outputs): the field past size was read", am_tensors_count(out));
    }
    am_tensors_free(out);
    fo.full.size = 0;
    CHECK_REFUSED(am_model_forward(m, in, &fo.full) == NULL, am_forward_options);
    fo.full.size = sizeof fo.full + 1;
    CHECK_REFUSED(am_model_forward(m, in, &fo.full) == NULL, am_forward_options);
    am_tensors_free(in);

    /* save: max_shard_size past the old struct would shard the weights */
    char tmp[] = "/tmp/am_optsize_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    union { am_save_options full; old_save_options old; } so;
    so.full = am_save_options_default();
    so.full.max_shard_size = "1KB";
    so.full.dtype = AM_F16;
    so.old.size = sizeof so.old;
    so.old.format = AM_SAVE_SAFETENSORS;
    CHECK_OK(am_model_save_pretrained(m, tmp, &so.full));
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    CHECKF(access(path, F_OK) == 0, "unsharded %s missing: the field past size was read", path);
    am_tensors *saved = am_tensors_load_safetensors(path);
    CHECK(saved && am_tensors_count(saved) > 0 && am_tensor_dtype(am_tensors_at(saved, 0)) == AM_F32);
    am_tensors_free(saved);
    so.full.size = 0;
    CHECK_REFUSED(am_model_save_pretrained(m, tmp, &so.full) != AM_OK, am_save_options);

    /* ONNX export: external_data and with_past past the old struct would each fail the call */
    union { am_onnx_export_options full; old_onnx_export_options old; } xo;
    xo.full = am_onnx_export_options_default();
    xo.full.external_data = 7;
    xo.full.with_past = true;
    xo.old.size = sizeof xo.old;
    xo.old.opset = 14;
    xo.old.dtype = AM_F16;
    snprintf(path, sizeof path, "%s/onnx", tmp);
    CHECK_OK(am_model_export_onnx(m, path, &xo.full));
    snprintf(path, sizeof path, "%s/onnx/model.onnx", tmp);
    CHECKF(access(path, F_OK) == 0, "%s missing", path);
    xo.full.size = sizeof xo.full + 1;
    snprintf(path, sizeof path, "%s/onnx2", tmp);
    CHECK_REFUSED(am_model_export_onnx(m, path, &xo.full) != AM_OK, am_onnx_export_options);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    am_model_free(m);
}

static void tokenizer_options(void) {
    am_tokenizer *tok = am_tokenizer_from_pretrained(am_test_fixture("tokenizers/bert-base-uncased"));
    CHECKF(tok != NULL, "tokenizer: %s", am_last_error());
    if (!tok) return;
    /* encode: padding to max_length 32 past the old struct */
    union { am_encode_options full; old_encode_options old; } eo;
    eo.full = am_encode_options_default();
    eo.full.padding = AM_PADDING_MAX_LENGTH;
    eo.full.max_length = 32;
    eo.full.pad_length = 32;
    eo.old.size = sizeof eo.old;
    eo.old.add_special_tokens = false;
    eo.old.truncation = AM_TRUNCATION_NONE;
    am_encoding *e = am_tokenizer_encode(tok, "hello world", NULL, &eo.full);
    CHECKF(e != NULL, "encode with old options: %s", am_last_error());
    if (e) CHECKF(am_encoding_len(e) == 2, "%zu tokens (want 2: no special tokens, no padding)", am_encoding_len(e));
    am_encoding_free(e);
    const char *texts[1] = {"hello"};
    am_encoding *encs[1] = {NULL};
    CHECK_OK(am_tokenizer_encode_batch(tok, 1, texts, NULL, &eo.full, encs));
    if (encs[0]) CHECK(am_encoding_len(encs[0]) == 1);
    am_encoding_free(encs[0]);
    am_tensors *ts = am_tokenizer_encode_tensors(tok, 1, texts, NULL, &eo.full);
    CHECK(ts && am_tensor_dim(am_tensors_get(ts, "input_ids"), 1) == 1);
    am_tensors_free(ts);
    eo.full.size = 0;
    CHECK_REFUSED(am_tokenizer_encode(tok, "hello", NULL, &eo.full) == NULL, am_encode_options);
    eo.full.size = sizeof eo.full * 2;
    CHECK_REFUSED(am_tokenizer_encode(tok, "hello", NULL, &eo.full) == NULL, am_encode_options);

    /* decode: skip_special_tokens past the old struct */
    int32_t ids[4] = {101, 7592, 2088, 102};
    union { am_decode_options full; old_decode_options old; } dopt;
    dopt.full = am_decode_options_default();
    dopt.full.skip_special_tokens = true;
    dopt.old.size = sizeof dopt.old;
    char *s = am_tokenizer_decode(tok, ids, 4, &dopt.full);
    CHECKF(s && !strcmp(s, "[CLS] hello world [SEP]"), "decode with old options: '%s' %s", s ? s : "(null)",
           s ? "" : am_last_error());
    am_free(s);
    dopt.full.size = 0;
    CHECK_REFUSED(am_tokenizer_decode(tok, ids, 4, &dopt.full) == NULL, am_decode_options);
    am_tokenizer_free(tok);
}

static void generate_options(void) {
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, am_test_fixture("models/gpt2_lm"), NULL);
    CHECKF(m != NULL, "gpt2_lm: %s", am_last_error());
    if (!m) return;
    int64_t ids[3] = {5, 9, 13};
    am_tensors *in = ids_input(ids, 3);
    /* three beams and three returned sequences past the old struct: greedy gives one row */
    union { am_generate_options full; old_generate_options old; } go;
    go.full = am_generate_options_default();
    go.full.num_beams = 3;
    go.full.num_return_sequences = 3;
    go.full.do_sample = 1;
    go.old.size = sizeof go.old;
    go.old.max_new_tokens = 4;
    go.old.max_length = AM_GEN_UNSET;
    go.old.min_new_tokens = AM_GEN_UNSET;
    go.old.min_length = AM_GEN_UNSET;
    am_tensors *out = am_model_generate(m, in, &go.full);
    CHECKF(out != NULL, "generate with old options: %s", am_last_error());
    am_generate_options greedy = am_generate_options_default();
    greedy.max_new_tokens = 4;
    am_tensors *want = am_model_generate(m, in, &greedy);
    if (out && want) {
        am_tensor *a = am_tensors_get(out, "sequences"), *b = am_tensors_get(want, "sequences");
        CHECKF(am_tensor_dim(a, 0) == 1 && am_tensor_dim(a, 1) == 7, "sequences [%lld, %lld]",
               (long long)am_tensor_dim(a, 0), (long long)am_tensor_dim(a, 1));
        CHECK(am_tensor_nbytes(a) == am_tensor_nbytes(b) && !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(a)));
    }
    am_tensors_free(out);
    am_tensors_free(want);
    go.full.size = 0;
    CHECK_REFUSED(am_model_generate(m, in, &go.full) == NULL, am_generate_options);
    am_tensors_free(in);
    am_model_free(m);
}

static void pipeline_options(const char *model) {
    /* top_k -1 (every label) past the old struct; the old struct's load options are old too */
    union { am_load_options full; old_load_options old; } lo;
    lo.full = am_load_options_default();
    lo.full.num_labels = 5;
    lo.old.size = sizeof lo.old;
    union { am_pipeline_options full; old_pipeline_options old; } po;
    po.full = am_pipeline_options_default();
    po.full.top_k = -1;
    po.full.model_task = AM_TASK_QUESTION_ANSWERING;
    po.old.size = sizeof po.old;
    po.old.load = &lo.full;
    am_pipeline *p = am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, model, &po.full);
    CHECKF(p != NULL, "pipeline with old options: %s", am_last_error());
    if (p) {
        am_pipeline_result *r = am_pipeline_run1(p, "Ok lor, I'm at home now.", NULL);
        CHECKF(r && am_pipeline_result_count(r) == 1, "classify gave %zu labels (want 1)", r ? am_pipeline_result_count(r) : 0);
        am_pipeline_result_free(r);
        am_pipeline_free(p);
    }
    po.full.size = 0;
    CHECK_REFUSED(am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, model, &po.full) == NULL, am_pipeline_options);
    po.full.size = sizeof po.old;
    lo.full.size = 0;
    CHECK_REFUSED(am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, model, &po.full) == NULL, am_load_options);
}

static void hub_options(void) {
    char work[] = "/tmp/am_optsize_hub_XXXXXX";
    CHECK(mkdtemp(work) != NULL);
    char root[256], tokens[256], home[256], folder[256], path[512];
    snprintf(root, sizeof root, "%s/root", work);
    snprintf(tokens, sizeof tokens, "%s/tokens", work);
    snprintf(home, sizeof home, "%s/home", work);
    snprintf(folder, sizeof folder, "%s/folder", work);
    mkdir(root, 0755);
    mkdir(folder, 0755);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "hf_alice_token_0123456789 alice write\n");
    fclose(f);
    chmod(tokens, 0600);
    snprintf(path, sizeof path, "%s/hello.txt", folder);
    f = fopen(path, "w");
    fprintf(f, "hello\n");
    fclose(f);

    /* server: an impossible host past the old struct */
    union { am_hub_server_options full; old_hub_server_options old; } so;
    so.full = am_hub_server_options_default();
    so.full.host = "256.256.256.256";
    so.full.tokens_file = "/nonexistent/tokens";
    so.old.size = sizeof so.old;
    so.old.root = root;
    am_hub_server *srv = am_hub_server_start(&so.full);
    CHECKF(srv != NULL, "server with old options: %s", am_last_error());
    if (srv) am_hub_server_free(srv);
    so.full.size = 0;
    CHECK_REFUSED(am_hub_server_start(&so.full) == NULL, am_hub_server_options);
    am_hub_server_options full = am_hub_server_options_default();
    full.root = root;
    full.tokens_file = tokens;
    srv = am_hub_server_start(&full);
    CHECKF(srv != NULL, "server: %s", am_last_error());
    if (!srv) return;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    setenv("HF_ENDPOINT", url, 1);
    setenv("HF_HOME", home, 1);
    setenv("HF_TOKEN", "hf_alice_token_0123456789", 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HUB_OFFLINE");

    /* upload: a repo type, an endpoint and a token past the old struct would each fail the call */
    union { am_push_options full; old_push_options old; } pu;
    pu.full = am_push_options_default();
    pu.full.repo_type = "not-a-type";
    pu.full.endpoint = "http://127.0.0.1:1";
    pu.full.token = "hf_wrong";
    pu.old.size = sizeof pu.old;
    pu.old.commit_message = "from an old header";
    char *commit = NULL;
    CHECK_OK(am_hub_upload_folder_commit(folder, "alice/old-header", &pu.full, &commit));
    CHECK(commit && strlen(commit) == 40);
    am_free(commit);
    pu.full.size = 0;
    CHECK_REFUSED(am_hub_upload_folder(folder, "alice/old-header", &pu.full) != AM_OK, am_push_options);

    /* download: local_files_only and another cache folder past the old struct */
    union { am_download_options full; old_download_options old; } dl;
    dl.full = am_download_options_default();
    dl.full.local_files_only = true;
    dl.full.cache_dir = "/nonexistent/cache";
    dl.full.endpoint = "http://127.0.0.1:1";
    dl.old.size = sizeof dl.old;
    dl.old.revision = "main";
    char *got = NULL;
    CHECK_OK(am_hub_download_file("alice/old-header", "hello.txt", &dl.full, &got));
    CHECKF(got && strstr(got, home) == got, "downloaded to %s (want under %s)", got ? got : "(null)", home);
    am_free(got);
    got = NULL;
    CHECK_OK(am_hub_download("alice/old-header", &dl.full, &got));
    am_free(got);
    dl.full.size = 0;
    got = NULL;
    CHECK_REFUSED(am_hub_download_file("alice/old-header", "hello.txt", &dl.full, &got) != AM_OK, am_download_options);
    CHECK_REFUSED(am_hub_download("alice/old-header", &dl.full, &got) != AM_OK, am_download_options);
    am_hub_server_free(srv);
    unsetenv("HF_TOKEN");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    CHECK(system(cmd) == 0);
}

int am_test_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_options_size SMS_SPAM_BERT_DIR\n");
        return 2;
    }
    load_forward_save();
    tokenizer_options();
    generate_options();
    pipeline_options(argv[1]);
    hub_options();
    return 0;
}
