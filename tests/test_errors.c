/* tests/test_errors.c — bad input gets a clear error naming the file and the problem, through the
 * API and the CLI (non-zero exit, no crash): every safetensors validation rule, config.json with
 * wrong JSON types, unknown model_type, a weight of the wrong shape, missing and unreadable files. */
#include "auto/auto.h"
#include "harness.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[256];

/* transformers' weight-name patterns: re.search (unanchored, Python syntax such as \d), and a
 * pattern that does not compile is an error naming it, not a pattern silently skipped. */
static void name_patterns(void) {
    static const char *const ok[] = {"decoder", "h\\.\\d+\\.attn\\.masked_bias", "^lm_head\\.weight$", NULL};
    bool m = true;
    CHECK_OK(am__name_pattern_search(ok, "model.decoder.version", "Test", &m));
    CHECK(m);
    CHECK_OK(am__name_pattern_search(ok + 1, "transformer.h.11.attn.masked_bias", "Test", &m));
    CHECK(m);
    CHECK_OK(am__name_pattern_search(ok + 1, "transformer.h.x.attn.masked_bias", "Test", &m));
    CHECK(!m);
    CHECK_OK(am__name_pattern_search(ok + 2, "model.lm_head.weight", "Test", &m));
    CHECK(!m);
    CHECK_OK(am__name_pattern_search(ok + 2, "lm_head.weight", "Test", &m));
    CHECK(m);
    CHECK_OK(am__name_pattern_search(ok, "bad\xff\xfe utf-8", "Test", &m));
    CHECK(!m);
    static const char *const bad[] = {"encoder", "decoder.(block", NULL};
    m = true;
    CHECK(am__name_pattern_search(bad, "x.lm_head", "T5ForConditionalGeneration", &m) == AM_ERR_INTERNAL && !m);
    CHECKF(strstr(am_last_error(), "T5ForConditionalGeneration") && strstr(am_last_error(), "'decoder.(block'") &&
               strstr(am_last_error(), "does not compile"),
           "%s", am_last_error());
    /* a match before the bad pattern is still a match: patterns are tried in order, as any() does */
    CHECK_OK(am__name_pattern_search(bad, "encoder.x", "Test", &m));
    CHECK(m);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* A safetensors image with a given header text and `data_len` bytes of data. */
static void write_st(const char *dir, const char *header, size_t data_len) {
    size_t hl = strlen(header);
    size_t n = 8 + hl + data_len;
    uint8_t *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    write_file(dir, "model.safetensors", b, n);
    free(b);
}

static const char *k_config = "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                              "\"num_attention_heads\": 2, \"intermediate_size\": 8, \"vocab_size\": 10, \"max_position_embeddings\": 8}";

/* Load g_tmp and expect failure whose message contains every needle. */
static void expect_fail(const char *what, const char *n1, const char *n2) {
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, g_tmp, NULL);
    CHECKF(m == NULL, "%s: load should fail", what);
    const char *e = am_last_error();
    CHECKF(n1 == NULL || strstr(e, n1), "%s: message '%s' lacks '%s'", what, e, n1);
    CHECKF(n2 == NULL || strstr(e, n2), "%s: message '%s' lacks '%s'", what, e, n2);
    am_model_free(m);
    /* the CLI: non-zero exit, message on stderr */
    const char *cli = getenv("AM_CLI");
    if (cli) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s info %s 2>&1", cli, g_tmp);
        char *out = NULL;
        int rc = am_test_run(cmd, &out);
        CHECKF(rc == 1, "%s: CLI exit %d", what, rc);
        CHECKF(out && strstr(out, "automodel: ") && (n1 == NULL || strstr(out, n1)), "%s: CLI said: %s", what, out ? out : "");
        free(out);
    }
}

static void st_case(const char *what, const char *header, size_t data_len, const char *needle) {
    write_file(g_tmp, "config.json", k_config, strlen(k_config));
    write_st(g_tmp, header, data_len);
    expect_fail(what, "model.safetensors", needle);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_err_XXXXXX");
    CHECK(mkdtemp(g_tmp) != NULL);
    name_patterns();

    /* safetensors validation */
    write_file(g_tmp, "config.json", k_config, strlen(k_config));
    write_file(g_tmp, "model.safetensors", "abc", 3);
    expect_fail("too short", "model.safetensors", "too short");
    uint8_t big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_file(g_tmp, "model.safetensors", big, 10);
    expect_fail("header past end", "model.safetensors", "past the end");
    st_case("bad json", "{\"a\": ", 0, "not valid JSON");
    st_case("not an object", "[1, 2]  ", 0, "not a JSON object");
    st_case("unknown dtype", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    st_case("size mismatch", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8 bytes");
    st_case("outside data", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside the data section");
    st_case("overlap",
            "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],"
            "\"data_offsets\":[4,8]}}",
            8, "overlap");
    st_case("begin > end", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "begin");
    st_case("negative shape", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]");
    st_case("missing metadata", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "metadata");
    st_case("bad format", "{\"__metadata__\":{\"format\":\"np\"},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"np\"");
    st_case("metadata not strings", "{\"__metadata__\":{\"format\":1}}", 0, "not a string");
    st_case("offsets not ints", "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4,
            "data_offsets");

    /* a weight of the wrong shape: transformers' RuntimeError text, naming the file */
    st_case("wrong shape",
            "{\"__metadata__\":{\"format\":\"pt\"},\"embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[3,8],\"data_offsets\":[0,96]}}", 96,
            "size mismatch for embeddings.word_embeddings.weight");

    /* config.json problems */
    write_st(g_tmp, "{\"__metadata__\":{\"format\":\"pt\"}}", 0);
    write_file(g_tmp, "config.json", "{\"model_type\": \"bert\", \"hidden_size\": \"big\"}", strlen("{\"model_type\": \"bert\", \"hidden_size\": \"big\"}"));
    expect_fail("wrong type", "config.json", "\"hidden_size\" must be a number");
    write_file(g_tmp, "config.json", "{\"model_type\": \"bert\", \"id2label\": [1]}", strlen("{\"model_type\": \"bert\", \"id2label\": [1]}"));
    expect_fail("id2label list", "config.json", "id2label");
    write_file(g_tmp, "config.json", "{\"model_type\": \"bert\", \"num_attention_heads\": 5, \"hidden_size\": 8}", strlen("{\"model_type\": \"bert\", \"num_attention_heads\": 5, \"hidden_size\": 8}"));
    expect_fail("heads do not divide", "hidden_size", "num_attention_heads");
    write_file(g_tmp, "config.json", "{\"model_type\": \"blorp\"}", strlen("{\"model_type\": \"blorp\"}"));
    expect_fail("unknown model_type", "config.json", "unknown model_type \"blorp\"");
    write_file(g_tmp, "config.json", "{\"hidden_size\": 8}", strlen("{\"hidden_size\": 8}"));
    expect_fail("no model_type", "config.json", "model_type");
    write_file(g_tmp, "config.json", "{\"model_type\": \"bert\",", strlen("{\"model_type\": \"bert\","));
    expect_fail("truncated config", "config.json", "not valid JSON");
    write_file(g_tmp, "config.json", "[]", strlen("[]"));
    expect_fail("config not object", "config.json", "JSON object");

    /* missing files */
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", g_tmp);
    unlink(p);
    expect_fail("no config", "config.json", "cannot open");
    write_file(g_tmp, "config.json", k_config, strlen(k_config));
    snprintf(p, sizeof p, "%s/model.safetensors", g_tmp);
    unlink(p);
    expect_fail("no weights", g_tmp, "no file named model.safetensors");
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, "/nonexistent/dir/xyz", NULL);
    CHECK(m == NULL && strstr(am_last_error(), "/nonexistent/dir/xyz"));
    /* a config.json that is a directory */
    snprintf(p, sizeof p, "%s/config.json", g_tmp);
    unlink(p);
    mkdir(p, 0755);
    expect_fail("config is a dir", "config.json", NULL);
    rmdir(p);

    /* unknown forward inputs are an error, as transformers' TypeError */
    write_file(g_tmp, "config.json", k_config, strlen(k_config));
    am_config *cfg = am_config_from_pretrained(g_tmp);
    CHECK(cfg != NULL);
    am_model *rm = cfg ? am_model_from_config(AM_TASK_BASE, cfg, 7) : NULL;
    CHECK(rm != NULL && am_model_is_training(rm));
    if (rm) {
        am_tensors *in = am_tensors_new();
        int64_t shape[2] = {1, 3};
        int64_t ids[3] = {1, 2, 3};
        am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
        am_tensors_set(in, "input_ids", t);
        am_tensors_set(in, "pixel_values", t);
        am_tensors *out = am_model_forward(rm, in, NULL);
        CHECK(out == NULL && strstr(am_last_error(), "unexpected keyword argument 'pixel_values'"));
        am_tensors_free(in);
        in = am_tensors_new();
        int64_t bad[3] = {1, 2, 99};
        am_tensor *t2 = am_tensor_from_data(AM_I64, 2, shape, bad);
        am_tensors_set(in, "input_ids", t2);
        out = am_model_forward(rm, in, NULL);
        CHECK(out == NULL && strstr(am_last_error(), "outside the vocabulary"));
        am_tensors_free(in);
        /* an optional input of the wrong shape or dtype is an error naming it */
        in = am_tensors_new();
        am_tensors_set(in, "input_ids", t);
        int64_t mshape[2] = {1, 2};
        am_tensor *badmask = am_tensor_new(AM_I64, 2, mshape);
        am_tensors_set(in, "attention_mask", badmask);
        out = am_model_forward(rm, in, NULL);
        CHECK(out == NULL && strstr(am_last_error(), "'attention_mask' has shape [1, 2], expected [1, 3]"));
        am_tensor *ftt = am_tensor_new(AM_F32, 2, shape);
        am_tensors_free(in);
        in = am_tensors_new();
        am_tensors_set(in, "input_ids", t);
        am_tensors_set(in, "token_type_ids", ftt);
        out = am_model_forward(rm, in, NULL);
        CHECK(out == NULL && strstr(am_last_error(), "'token_type_ids' must be an integer tensor"));
        am_tensors_free(in);
        am_tensor_free(badmask);
        am_tensor_free(ftt);
        /* a sequence longer than the position table */
        in = am_tensors_new();
        int64_t lshape[2] = {1, 9};
        am_tensor *t3 = am_tensor_new(AM_I64, 2, lshape);
        am_tensors_set(in, "input_ids", t3);
        out = am_model_forward(rm, in, NULL);
        CHECK(out == NULL && strstr(am_last_error(), "max_position_embeddings"));
        am_tensors_free(in);
        am_tensor_free(t);
        am_tensor_free(t2);
        am_tensor_free(t3);
        /* save and reload a from_config model */
        char sd[300];
        snprintf(sd, sizeof sd, "%s/saved", g_tmp);
        CHECK_OK(am_model_save_pretrained(rm, sd, NULL));
        am_model *back = am_model_from_pretrained(AM_TASK_AUTO, sd, NULL);
        CHECK(back != NULL && !strcmp(am_model_class_name(back), "BertModel"));
        CHECK(back && am_model_loading_info(back)->n_missing == 0);
        am_model_free(back);
        am_model_free(rm);
    }
    am_config_free(cfg);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    CHECK(system(cmd) == 0);
    return 0;
}
