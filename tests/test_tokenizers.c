/* tests/test_tokenizers.c — the tokenizer layer against the reference outputs of the Rust
 * tokenizers library: every case of every fixture tokenizer through `automodel tokenize --cases`
 * (and the legacy vocab files), compared field by field; plus invalid input, bad files, the
 * tensor and decode API. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *k_tokenizers[] = {"bert-base-uncased", "bert-base-cased", "gpt2", "roberta-base", "t5-small",
                                     "mistral-7b-v0.1", "llama-3.1-8b-instruct", "whisper-tiny"};

static char g_tmp[256];

/* Does `got` match `want` (an Encoding, a list of them, or {"error": ...})? */
static bool result_matches(const cJSON *got, const cJSON *want) {
    if (cJSON_IsObject(want) && cJSON_GetObjectItemCaseSensitive(want, "error"))
        return cJSON_IsObject(got) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(got, "error")) &&
               !strcmp(cJSON_GetObjectItemCaseSensitive(got, "error")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(want, "error")->valuestring);
    return cJSON_Compare(got, want, true);
}

static void first_difference(const cJSON *got, const cJSON *want, char *buf, size_t n) {
    buf[0] = 0;
    const cJSON *g = got, *w = want;
    if (cJSON_IsArray(w) && cJSON_IsArray(g)) {
        for (int i = 0; i < cJSON_GetArraySize(w); i++)
            if (!cJSON_Compare(cJSON_GetArrayItem(g, i), cJSON_GetArrayItem(w, i), true)) {
                g = cJSON_GetArrayItem(g, i);
                w = cJSON_GetArrayItem(w, i);
                break;
            }
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, w) {
        const cJSON *gf = cJSON_GetObjectItemCaseSensitive(g, f->string);
        if (!cJSON_Compare(gf, f, true)) {
            char *a = gf ? cJSON_PrintUnformatted(gf) : NULL, *b = cJSON_PrintUnformatted(f);
            snprintf(buf, n, "field %s: got %.300s, expected %.300s", f->string, a ? a : "(missing)", b ? b : "?");
            free(a);
            free(b);
            return;
        }
    }
    char *a = cJSON_PrintUnformatted(got);
    snprintf(buf, n, "got %.300s", a ? a : "?");
    free(a);
}

/* Run the CLI over `cases` with tokenizer `dir`; compare every case. */
static void check_cases(const char *label, const char *dir, const char *cases) {
    const char *cli = getenv("AM_CLI");
    if (!cli) cli = "./automodel";
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/%s.jsonl", g_tmp, label);
    snprintf(cmd, sizeof cmd, "'%s' tokenize '%s' --cases '%s' --output '%s'", cli, dir, cases, out);
    int rc = am_test_run(cmd, NULL);
    CHECKF(rc == 0, "%s: automodel tokenize --cases failed (%d)", label, rc);
    size_t el, gl;
    char *exp = am_test_read_file(cases, &el), *got = am_test_read_file(out, &gl);
    CHECKF(exp && got, "%s: cannot read %s or %s", label, cases, out);
    if (!exp || !got) {
        free(exp);
        free(got);
        return;
    }
    int total = 0, pass = 0, shown = 0;
    char *ep = exp, *gp = got;
    while (*ep) {
        char *en = strchr(ep, '\n'), *gn = strchr(gp, '\n');
        if (en) *en = 0;
        if (gn) *gn = 0;
        if (*ep) {
            cJSON *e = cJSON_Parse(ep), *g = *gp ? cJSON_Parse(gp) : NULL;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            const cJSON *gid = cJSON_GetObjectItemCaseSensitive(g, "id");
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(e, "expected");
            const cJSON *alt = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "alternate"), "expected");
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(g, "result");
            total++;
            /* the README allows either library version where they differ (`alternate`) */
            bool ok = cJSON_Compare(id, gid, true) && (result_matches(res, want) || (alt && result_matches(res, alt)));
            if (ok) pass++;
            else if (shown++ < 5) {
                char diff[1024];
                first_difference(res, want, diff, sizeof diff);
                fprintf(stderr, "%s: case %s: %s\n", label, cJSON_IsString(id) ? id->valuestring : "?", diff);
            }
            cJSON_Delete(e);
            cJSON_Delete(g);
        }
        ep = en ? en + 1 : ep + strlen(ep);
        gp = gn ? gn + 1 : gp + strlen(gp);
    }
    printf("%-32s %3d / %3d cases match\n", label, pass, total);
    CHECKF(pass == total && total > 0, "%s: %d of %d cases match", label, pass, total);
    free(exp);
    free(got);
}

static am_tokenizer *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s", name);
    am_tokenizer *t = am_tokenizer_from_pretrained(am_test_fixture(rel));
    CHECKF(t != NULL, "%s: %s", name, am_last_error());
    return t;
}

static void expect_bad_json(const char *json, const char *needle) {
    am_tokenizer *t = am_tokenizer_from_json(json, strlen(json), "bad/tokenizer.json");
    CHECKF(t == NULL, "accepted bad tokenizer.json: %.120s", json);
    CHECKF(t || (strstr(am_last_error(), "bad/tokenizer.json") && strstr(am_last_error(), needle)), "error '%s' lacks '%s'",
           am_last_error(), needle);
    am_tokenizer_free(t);
}

static const char k_bpe_head[] = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":";

static void bad_files(void) {
    char buf[2048];
    /* truncated JSON: a real file cut short */
    size_t len;
    char *full = am_test_read_file(am_test_fixture("tokenizers/gpt2/tokenizer.json"), &len);
    CHECK(full != NULL);
    if (full) {
        am_tokenizer *t = am_tokenizer_from_json(full, len / 2, "cut/tokenizer.json");
        CHECKF(!t && strstr(am_last_error(), "cut/tokenizer.json") && strstr(am_last_error(), "JSON"), "%s", am_last_error());
        am_tokenizer_free(t);
        /* the same through a folder: the message names the file */
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s/truncated", g_tmp);
        snprintf(buf, sizeof buf, "mkdir -p '%s'", dir);
        am_test_run(buf, NULL);
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(full, 1, 1000, f);
            fclose(f);
        }
        t = am_tokenizer_from_pretrained(dir);
        CHECKF(!t && strstr(am_last_error(), path), "%s", am_last_error());
        am_tokenizer_free(t);
        free(full);
    }
    expect_bad_json("", "JSON");
    expect_bad_json("[1, 2]", "top level must be an object");
    expect_bad_json("{\"normalizer\": null}", "missing key 'model'");
    /* wrong types */
    expect_bad_json("{\"model\":{\"type\":\"BPE\",\"vocab\":[1,2],\"merges\":[]}}", "'vocab' must be an object");
    expect_bad_json("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":\"zero\"}}}", "the id of 'a'");
    expect_bad_json("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\"]]}}", "[token, score]");
    expect_bad_json("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}},\"added_tokens\":[{\"id\":\"x\",\"content\":\"a\"}]}", "'id' must be a number");
    expect_bad_json("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}},\"normalizer\":{\"type\":\"Lowercase\"},\"decoder\":7}", "'decoder' must be an object");
    /* merges naming unknown tokens */
    snprintf(buf, sizeof buf, "%s[\"a c\"]}}", k_bpe_head);
    expect_bad_json(buf, "token 'c' that is not in the vocabulary");
    snprintf(buf, sizeof buf, "%s[\"a b\", \"b b\"]}}", k_bpe_head);
    expect_bad_json(buf, "makes token 'bb'");
    snprintf(buf, sizeof buf, "%s[\"a b c\"]}}", k_bpe_head);
    expect_bad_json(buf, "two tokens separated by one space");
    /* a regex that does not compile */
    snprintf(buf, sizeof buf, "%s[\"a b\"]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a|b\"},\"behavior\":\"Isolated\",\"invert\":false}}",
             k_bpe_head);
    expect_bad_json(buf, "does not compile");
    /* unknown component types, named */
    snprintf(buf, sizeof buf, "%s[]},\"normalizer\":{\"type\":\"Frobnicate\"}}", k_bpe_head);
    expect_bad_json(buf, "unknown normalizer type 'Frobnicate'");
    snprintf(buf, sizeof buf, "%s[]},\"pre_tokenizer\":{\"type\":\"Squash\"}}", k_bpe_head);
    expect_bad_json(buf, "unknown pre_tokenizer type 'Squash'");
    snprintf(buf, sizeof buf, "%s[]},\"post_processor\":{\"type\":\"Nope\"}}", k_bpe_head);
    expect_bad_json(buf, "unknown post_processor type 'Nope'");
    snprintf(buf, sizeof buf, "%s[]},\"decoder\":{\"type\":\"Zip\"}}", k_bpe_head);
    expect_bad_json(buf, "unknown decoder type 'Zip'");
    expect_bad_json("{\"model\":{\"type\":\"Markov\",\"vocab\":{}}}", "unknown model type 'Markov'");
    expect_bad_json("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":\"[X] $A\",\"pair\":\"$A $B\",\"special_tokens\":{}}}",
                    "missing special token '[X]'");
    expect_bad_json("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"\xff\":0}}}", "not valid UTF-8");
    /* a folder with nothing to load */
    am_tokenizer *t = am_tokenizer_from_pretrained(g_tmp);
    CHECKF(!t && strstr(am_last_error(), "no tokenizer.json"), "%s", am_last_error());
    t = am_tokenizer_from_pretrained("/nonexistent/tokenizer/dir");
    CHECKF(!t && strstr(am_last_error(), "/nonexistent/tokenizer/dir"), "%s", am_last_error());
}

static void invalid_input(am_tokenizer *bert, am_tokenizer *gpt2) {
    const char *bad[] = {"abc\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok \xc0\xaf", "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        am_encoding *e = am_tokenizer_encode(gpt2, bad[i], NULL, NULL);
        CHECKF(!e && strstr(am_last_error(), "UTF-8"), "invalid UTF-8 %zu accepted (%s)", i, am_last_error());
        am_encoding_free(e);
        e = am_tokenizer_encode(bert, "fine", bad[i], NULL);
        CHECKF(!e && strstr(am_last_error(), "UTF-8"), "invalid UTF-8 pair %zu accepted", i);
        am_encoding_free(e);
    }
    const char *texts[2] = {"good", "bad \xff"};
    am_encoding *encs[2] = {(am_encoding *)1, (am_encoding *)1};
    CHECK(am_tokenizer_encode_batch(bert, 2, texts, NULL, NULL, encs) != AM_OK);
    CHECK(encs[0] == NULL && encs[1] == NULL);
    /* the CLI says so too */
    const char *cli = getenv("AM_CLI");
    if (cli) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' tokenize '%s' \"$(printf 'a\\377b')\" 2>&1", cli, am_test_fixture("tokenizers/gpt2"));
        char *out = NULL;
        int rc = am_test_run(cmd, &out);
        CHECKF(rc != 0 && out && strstr(out, "UTF-8"), "CLI on invalid UTF-8: rc %d: %s", rc, out ? out : "");
        free(out);
    }
    /* NUL characters are text like any other */
    am_encoding *e = am_tokenizer_encode_n(gpt2, "a\0b", 3, NULL, 0, NULL);
    CHECK(e && am_encoding_len(e) == 3);
    if (e) {
        size_t l;
        char *d = am_tokenizer_decode_n(gpt2, am_encoding_ids(e), am_encoding_len(e), NULL, &l);
        CHECK(d && l == 3 && !memcmp(d, "a\0b", 3));
        am_free(d);
    }
    am_encoding_free(e);
}

static void api(am_tokenizer *bert, am_tokenizer *gpt2) {
    const char *texts[2] = {"Hello world", "A longer sentence, for padding."};
    am_tensors *ts = am_tokenizer_encode_tensors(bert, 2, texts, NULL, NULL);
    CHECKF(ts != NULL, "%s", am_last_error());
    if (ts) {
        am_tensor *ids = am_tensors_get(ts, "input_ids"), *mask = am_tensors_get(ts, "attention_mask");
        am_tensor *tt = am_tensors_get(ts, "token_type_ids");
        CHECK(ids && mask && tt && am_tensor_dtype(ids) == AM_I64 && am_tensor_ndim(ids) == 2 && am_tensor_dim(ids, 0) == 2);
        if (ids && mask) {
            const int64_t *d = am_tensor_cdata(ids), *m = am_tensor_cdata(mask);
            int64_t L = am_tensor_dim(ids, 1);
            CHECK(d[0] == 101 && d[1] == 7592 && d[2] == 2088 && d[3] == 102 && d[4] == 0 && m[3] == 1 && m[4] == 0);
            CHECK(d[L] == 101 && m[L + L - 1] == 1);
        }
        am_tensors_free(ts);
    }
    /* gpt2 has no pad token: padding needs one named */
    ts = am_tokenizer_encode_tensors(gpt2, 2, texts, NULL, NULL);
    CHECKF(!ts && strstr(am_last_error(), "pad"), "%s", am_last_error());
    am_encode_options o = am_encode_options_default();
    o.padding = AM_PADDING_LONGEST;
    o.pad_token = "<|endoftext|>";
    o.padding_side = AM_SIDE_LEFT;
    ts = am_tokenizer_encode_tensors(gpt2, 2, texts, NULL, &o);
    CHECKF(ts && !am_tensors_get(ts, "token_type_ids"), "%s", am_last_error());
    if (ts) {
        const int64_t *d = am_tensor_cdata(am_tensors_get(ts, "input_ids"));
        CHECK(d[0] == 50256 && d[am_tensor_dim(am_tensors_get(ts, "input_ids"), 1) - 1] == 995);
    }
    am_tensors_free(ts);
    /* unpadded batches of different lengths cannot become a tensor */
    am_encoding *encs[2];
    CHECK_OK(am_tokenizer_encode_batch(bert, 2, texts, NULL, NULL, encs));
    ts = am_encodings_to_tensors(bert, encs, 2);
    CHECKF(!ts && strstr(am_last_error(), "pad"), "%s", am_last_error());
    am_encoding_free(encs[0]);
    am_encoding_free(encs[1]);
    /* truncation to model_max_length (gpt2's config: 1024) */
    am_encode_options t = am_encode_options_default();
    t.truncation = AM_TRUNCATION_LONGEST_FIRST;
    size_t n = 5000;
    char *big = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) memcpy(big + 2 * i, "a ", 2);
    big[2 * n] = 0;
    am_encoding *e = am_tokenizer_encode(gpt2, big, NULL, &t);
    CHECKF(e && am_encoding_len(e) == 1024, "len %zu", am_encoding_len(e));
    am_encoding_free(e);
    free(big);
    CHECK(am_tokenizer_model_max_length(gpt2) == 1024);
    CHECK(am_tokenizer_token_to_id(bert, "[CLS]") == 101 && am_tokenizer_token_to_id(bert, "hello") == 7592);
    CHECK(!strcmp(am_tokenizer_id_to_token(bert, 102), "[SEP]") && am_tokenizer_id_to_token(bert, 1 << 30) == NULL);
    CHECK(am_tokenizer_vocab_size(bert) == 30522 && am_tokenizer_vocab_size(gpt2) == 50257);
    int32_t ids[] = {101, 7592, 1010, 2088, 999, 102};
    am_decode_options d = am_decode_options_default();
    char *s = am_tokenizer_decode(bert, ids, 6, &d);
    CHECKF(s && !strcmp(s, "[CLS] hello, world! [SEP]"), "%s", s ? s : am_last_error());
    am_free(s);
    d.skip_special_tokens = true;
    s = am_tokenizer_decode(bert, ids, 6, &d);
    CHECKF(s && !strcmp(s, "hello, world!"), "%s", s ? s : am_last_error());
    am_free(s);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_test_tokenizers.%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_tmp);
    am_test_run(cmd, NULL);
    for (size_t i = 0; i < sizeof k_tokenizers / sizeof k_tokenizers[0]; i++) {
        char dir[512], cases[600], rel[256];
        snprintf(rel, sizeof rel, "tokenizers/%s", k_tokenizers[i]);
        snprintf(dir, sizeof dir, "%s", am_test_fixture(rel));
        snprintf(cases, sizeof cases, "%s/cases.jsonl", dir);
        check_cases(k_tokenizers[i], dir, cases);
    }
    /* legacy files, converted as transformers does, reproduce the same cases */
    const char *legacy[][2] = {{"bert-base-uncased", "legacy/bert-base-uncased (vocab.txt)"}, {"gpt2", "legacy/gpt2 (vocab+merges)"}};
    for (int k = 0; k < 2; k++) {
        char dir[512], cases[600], rel[256];
        snprintf(rel, sizeof rel, "tokenizers/legacy/%s", legacy[k][0]);
        snprintf(dir, sizeof dir, "%s", am_test_fixture(rel));
        snprintf(rel, sizeof rel, "tokenizers/%s/cases.jsonl", legacy[k][0]);
        snprintf(cases, sizeof cases, "%s", am_test_fixture(rel));
        char label[64];
        snprintf(label, sizeof label, "legacy-%s", legacy[k][0]);
        check_cases(label, dir, cases);
    }
    am_tokenizer *bert = load("bert-base-uncased"), *gpt2 = load("gpt2");
    if (bert && gpt2) {
        invalid_input(bert, gpt2);
        api(bert, gpt2);
    }
    am_tokenizer_free(bert);
    am_tokenizer_free(gpt2);
    bad_files();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    am_test_run(cmd, NULL);
    return 0;
}
