/* tests/test_cli.c — the automodel command as a user meets it: per-command --help listing every
 * option (load options included), unknown flags refused before anything loads, transformers'
 * spellings (--torch-dtype, --attn-implementation, --token, --low-cpu-mem-usage), device_map and
 * attn values checked, messages naming flags on the CLI and keyword arguments in the API, tokenize
 * writing forward's inputs, forward --text, --set / --config, init, and info's new numbers. */
#include "harness.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_cli;
static char g_tmp[256];
static char g_seqcls[4096], g_mism[4096], g_bert_tok[4096], g_gpt2_tok[4096];

/* `automodel ARGS 2>&1` (harness.c) */
#define cli(out, ...) am_test_cli(g_cli, out, __VA_ARGS__)

static bool has(const char *out, const char *s) { return out && strstr(out, s); }

static void test_help(void) {
    char *out;
    int rc = cli(&out, "--help");
    static const char *cmds[] = {"info", "forward", "generate", "save", "init", "tokenize", "classify", "ner", "qa",
                                 "fill-mask", "download", "login", "logout", "whoami", "push", "hub"};
    CHECK(rc == 0);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) CHECKF(has(out, cmds[i]), "automodel --help lists %s", cmds[i]);
    free(out);
    /* every loading command lists the load options, under transformers' names */
    static const char *loading[] = {"info", "forward", "generate", "save", "classify", "ner", "qa", "fill-mask"};
    static const char *load_opts[] = {"--task", "--dtype, --torch-dtype", "--attn-implementation, --attn", "--device-map",
                                      "--low-cpu-mem-usage", "--num-labels", "--ignore-mismatched-sizes", "--no-safetensors",
                                      "--config FILE", "--set KEY=VALUE", "--revision", "--cache-dir", "--token",
                                      "--local-files-only", "--force-download", "--subfolder", "--float32-matmul-precision"};
    for (size_t i = 0; i < sizeof loading / sizeof loading[0]; i++) {
        rc = cli(&out, "%s --help", loading[i]);
        CHECKF(rc == 0 && has(out, "usage: automodel"), "%s --help: rc %d", loading[i], rc);
        for (size_t k = 0; k < sizeof load_opts / sizeof load_opts[0]; k++)
            CHECKF(has(out, load_opts[k]), "%s --help lists %s", loading[i], load_opts[k]);
        free(out);
    }
    /* and each command its own options */
    static const char *own[][3] = {
        {"info", "--json", "--print-config"},          {"forward", "--output-attentions", "--output-hidden-states"},
        {"generate", "--max-new-tokens", "--stop-strings"}, {"save", "--format", "--max-shard-size"},
        {"init", "--seed", "--set"},                   {"tokenize", "--padding", "--max-length"},
        {"classify", "--top-k", "--function"},         {"ner", "--aggregation", "--input-file"},
        {"qa", "--question", "--doc-stride"},          {"fill-mask", "--top-k", "--tokenizer"},
        {"download", "--include", "--repo-type"},      {"login", "--endpoint", "--no-verify"},
        {"whoami", "--json", "--endpoint"},            {"push", "--commit-message", "--create-pr"},
        {"hub", "--port", "--mirror"},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        rc = cli(&out, "%s --help", own[i][0]);
        CHECKF(rc == 0 && has(out, own[i][1]) && has(out, own[i][2]) && has(out, "--help"), "%s --help: rc %d: %s", own[i][0], rc, out);
        free(out);
    }
    /* every `hub serve` limit is a flag (docs/SECURITY.md names them) */
    rc = cli(&out, "hub --help");
    CHECKF(rc == 0 && has(out, "--max-connections-per-ip") && has(out, "--max-body") && has(out, "--max-json-body") &&
               has(out, "--timeout") && has(out, "--fsck") && has(out, "--no-fsync") && has(out, "--max-connections "),
           "hub --help: %s", out);
    free(out);
    rc = cli(&out, "help tokenize");
    CHECK(rc == 0 && has(out, "--text-pair"));
    free(out);
}

static void test_unknown_flags(void) {
    char *out;
    /* a typo'd flag on a model that does not exist: the flag is reported, nothing is loaded */
    int rc = cli(&out, "info /nonexistent/model --nmu-labels 3");
    CHECKF(rc == 2 && has(out, "--nmu-labels") && !has(out, "/nonexistent"), "rc %d: %s", rc, out);
    free(out);
    static const char *cmds[] = {"info M", "forward M", "generate M P", "save M O", "init C O", "tokenize T X", "classify M X",
                                 "ner M X", "qa M", "fill-mask M X", "download R", "login", "logout", "whoami", "push D R", "hub serve R"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        rc = cli(&out, "%s --bogus-flag", cmds[i]);
        CHECKF(rc == 2 && has(out, "unknown option '--bogus-flag'"), "%s: rc %d: %s", cmds[i], rc, out);
        free(out);
    }
    rc = cli(&out, "info %s --num-labels", g_seqcls);
    CHECKF(rc == 2 && has(out, "'--num-labels' needs a value"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --num-labels zero", g_seqcls);
    CHECKF(rc == 2 && has(out, "--num-labels needs an integer"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --dtype float8", g_seqcls);
    CHECKF(rc == 2 && has(out, "--dtype"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s extra", g_seqcls);
    CHECKF(rc == 2 && has(out, "unexpected argument 'extra'"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "frobnicate");
    CHECK(rc == 2 && has(out, "unknown command"));
    free(out);
}

/* the value of "key": N in a JSON line */
static long long json_num(const char *js, const char *key) {
    char k[128];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = js ? strstr(js, k) : NULL;
    return p ? atoll(p + strlen(k)) : -1;
}

static void test_load_spellings(void) {
    char *out, *ref;
    int rc = cli(&ref, "info %s --json", g_seqcls);
    CHECK(rc == 0 && has(ref, "\"dtype\": \"float32\""));
    /* --torch-dtype is --dtype */
    rc = cli(&out, "info %s --torch-dtype bfloat16 --json", g_seqcls);
    CHECKF(rc == 0 && has(out, "\"dtype\": \"bfloat16\""), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --dtype=float16 --json", g_seqcls);
    CHECKF(rc == 0 && has(out, "\"dtype\": \"float16\""), "rc %d: %s", rc, out);
    free(out);
    /* accepted spellings that change nothing here: the same report */
    static const char *same[] = {"--low-cpu-mem-usage", "--attn-implementation sdpa", "--attn sdpa", "--token hf_unused"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        rc = cli(&out, "info %s %s --json", g_seqcls, same[i]);
        CHECKF(rc == 0 && out && ref && !strcmp(out, ref), "%s: rc %d: %s", same[i], rc, out);
        free(out);
    }
    /* a device_map: the same report plus model.hf_device_map */
    static const char *maps[][2] = {{"--device-map cpu", "{\"\":\"cpu\"}"},
                                    {"--device-map '{\"\": \"cpu\"}'", "{\"\":\"cpu\"}"},
                                    {"--device-map auto", "{\"\":\"cpu\"}"},
                                    {"--device-map sequential --max-memory cpu=0 --max-memory disk=1GB", "{\"\":\"disk\"}"},
                                    {"--device-map '{\"bert\": \"cpu\", \"classifier\": \"disk\"}'", "{\"bert\":\"cpu\",\"classifier\":\"disk\"}"}};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        rc = cli(&out, "info %s %s --json", g_seqcls, maps[i][0]);
        char want[256];
        snprintf(want, sizeof want, "]}, \"hf_device_map\": %s}\n", maps[i][1]);
        size_t rl = ref ? strlen(ref) : 0;
        bool same_head = out && ref && rl > 3 && !strncmp(out, ref, rl - 2); /* ref ends "]}}\n" */
        CHECKF(rc == 0 && same_head && strstr(out, want), "%s: rc %d: %s", maps[i][0], rc, out);
        free(out);
    }
    /* attn: the model records its implementation (sdpa by default), info --json shows it */
    CHECK(has(ref, "\"attn_implementation\": \"sdpa\""));
    free(ref);
    rc = cli(&out, "info %s --attn-implementation eager --json", g_seqcls);
    CHECKF(rc == 0 && has(out, "\"attn_implementation\": \"eager\""), "rc %d: %s", rc, out);
    free(out);
    /* attn: transformers' values only */
    rc = cli(&out, "info %s --attn-implementation flash", g_seqcls);
    CHECKF(rc == 2 && has(out, "eager, sdpa or flash_attention_2") && has(out, "'flash'"), "rc %d: %s", rc, out);
    free(out);
    /* device_map: GPUs are refused (no GPU backend), a malformed value explained */
    static const char *refused[] = {"cuda:0", "0", "'{\"\": 0}'", "'{\"bert\": \"cpu\", \"classifier\": \"cuda:1\"}'"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        rc = cli(&out, "info /nonexistent/model --device-map %s", refused[i]);
        CHECKF(rc == 1 && has(out, "--device-map") && has(out, "no GPU backend") && !has(out, "device_map"), "%s: rc %d: %s", refused[i], rc, out);
        free(out);
    }
    rc = cli(&out, "info %s --device-map gpu-please", g_seqcls);
    CHECKF(rc == 1 && has(out, "When passing --device-map as a string") && has(out, "gpu-please"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --device-map auto --max-memory cpu=lots", g_seqcls);
    CHECKF(rc == 1 && has(out, "--max-memory") && has(out, "not in a valid format"), "rc %d: %s", rc, out);
    free(out);
    /* the API names the keyword argument */
    am_load_options o = am_load_options_default();
    o.device_map = "cuda:0";
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, g_seqcls, &o);
    CHECKF(!m && strstr(am_last_error(), "device_map: device cuda:0") && !strstr(am_last_error(), "--device-map"), "%s", am_last_error());
    am_model_free(m);
    o.device_map = "{\"\": \"cpu\"}";
    m = am_model_from_pretrained(AM_TASK_AUTO, g_seqcls, &o);
    CHECKF(m != NULL, "device_map cpu: %s", am_last_error());
    am_model_free(m);
}

static void test_error_naming(void) {
    /* a head whose size differs from the checkpoint's: the API names the keyword argument ... */
    am_load_options o = am_load_options_default();
    o.num_labels = 5;
    CHECK(am_get_option_naming() == AM_NAMING_API);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, g_mism, &o);
    CHECKF(!m && strstr(am_last_error(), "`ignore_mismatched_sizes=True`") && !strstr(am_last_error(), "--ignore"), "%s", am_last_error());
    am_model_free(m);
    /* ... a command-line caller the flag */
    am_set_option_naming(AM_NAMING_CLI);
    CHECK(am_get_option_naming() == AM_NAMING_CLI);
    m = am_model_from_pretrained(AM_TASK_AUTO, g_mism, &o);
    CHECKF(!m && strstr(am_last_error(), "`--ignore-mismatched-sizes`") && !strstr(am_last_error(), "=True"), "%s", am_last_error());
    am_model_free(m);
    am_set_option_naming(AM_NAMING_API);
    char *out;
    int rc = cli(&out, "info %s --num-labels 5", g_mism);
    CHECKF(rc == 1 && has(out, "--ignore-mismatched-sizes") && !has(out, "ignore_mismatched_sizes=True"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --num-labels 5 --ignore-mismatched-sizes --json", g_mism);
    CHECKF(rc == 0 && has(out, "\"mismatched_keys\": [[\"classifier.bias\""), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --no-safetensors", g_seqcls);
    CHECKF(rc == 1 && has(out, "(--no-safetensors)") && !has(out, "use_safetensors"), "rc %d: %s", rc, out);
    free(out);
}

/* int64 tensor `name` of a safetensors file, as a list "[a, b, ...]" per row joined by ";" */
static char *tensor_text(const char *path, const char *name, int64_t *rows, int64_t *cols) {
    am_tensors *ts = am_tensors_load_safetensors(path);
    am_tensor *t = ts ? am_tensors_get(ts, name) : NULL;
    char *s = NULL;
    if (t && am_tensor_dtype(t) == AM_I64 && am_tensor_ndim(t) == 2) {
        *rows = am_tensor_dim(t, 0);
        *cols = am_tensor_dim(t, 1);
        size_t cap = (size_t)(*rows * *cols) * 24 + 16, n = 0;
        s = malloc(cap);
        const int64_t *d = am_tensor_cdata(t);
        for (int64_t i = 0; s && i < *rows * *cols; i++)
            n += (size_t)snprintf(s + n, cap - n, "%s%lld", i == 0 ? "" : i % *cols ? "," : ";", (long long)d[i]);
    }
    am_tensors_free(ts);
    return s;
}

static void test_tokenize_tensors(void) {
    char *out, path[512];
    snprintf(path, sizeof path, "%s/in.safetensors", g_tmp);
    /* tokenizer(["hello world", "the quick brown fox"], padding=True, return_tensors="pt") */
    int rc = cli(&out, "tokenize %s 'hello world' 'the quick brown fox' --padding --output %s", g_bert_tok, path);
    CHECKF(rc == 0, "rc %d: %s", rc, out);
    free(out);
    int64_t r = 0, c = 0;
    char *ids = tensor_text(path, "input_ids", &r, &c), *mask = tensor_text(path, "attention_mask", &r, &c),
         *types = tensor_text(path, "token_type_ids", &r, &c);
    CHECKF(ids && !strcmp(ids, "101,7592,2088,102,0,0;101,1996,4248,2829,4419,102"), "input_ids %s", ids);
    CHECKF(mask && !strcmp(mask, "1,1,1,1,0,0;1,1,1,1,1,1"), "attention_mask %s", mask);
    CHECKF(types && !strcmp(types, "0,0,0,0,0,0;0,0,0,0,0,0"), "token_type_ids %s", types);
    free(ids), free(mask), free(types);
    /* a pair: token_type_ids mark the second text; truncation to max_length */
    rc = cli(&out, "tokenize %s 'hello world' --text-pair 'the quick brown fox' --truncation --max-length 8 --output %s", g_bert_tok, path);
    CHECKF(rc == 0, "rc %d: %s", rc, out);
    free(out);
    ids = tensor_text(path, "input_ids", &r, &c);
    types = tensor_text(path, "token_type_ids", &r, &c);
    CHECKF(ids && !strcmp(ids, "101,7592,2088,102,1996,4248,2829,102"), "pair input_ids %s", ids);
    CHECKF(types && !strcmp(types, "0,0,0,0,1,1,1,1"), "pair token_type_ids %s", types);
    free(ids), free(types);
    /* padding=max_length */
    rc = cli(&out, "tokenize %s 'hello' --padding=max_length --max-length 5 --output %s", g_bert_tok, path);
    ids = tensor_text(path, "input_ids", &r, &c);
    CHECKF(rc == 0 && ids && !strcmp(ids, "101,7592,102,0,0"), "rc %d %s: %s", rc, ids, out);
    free(ids), free(out);
    /* max_length alone truncates, with transformers' warning */
    rc = cli(&out, "tokenize %s 'the quick brown fox' --max-length 4 --output %s", g_bert_tok, path);
    ids = tensor_text(path, "input_ids", &r, &c);
    CHECKF(rc == 0 && ids && !strcmp(ids, "101,1996,4248,102") && has(out, "Defaulting to 'longest_first'"), "rc %d %s: %s", rc, ids, out);
    free(ids), free(out);
    /* GPT-2's tokenizer returns no token_type_ids */
    rc = cli(&out, "tokenize %s 'Hello world' --output %s", g_gpt2_tok, path);
    am_tensors *ts = am_tensors_load_safetensors(path);
    CHECKF(rc == 0 && ts && am_tensors_count(ts) == 2 && am_tensors_get(ts, "input_ids") && am_tensors_get(ts, "attention_mask"),
           "gpt2: rc %d: %s", rc, out);
    am_tensors_free(ts);
    free(out);
    /* GPT-2 has no pad token: padding needs one, named as the flag */
    rc = cli(&out, "tokenize %s 'Hello world' 'a b c' --padding --output %s", g_gpt2_tok, path);
    CHECKF(rc == 1 && has(out, "does not have a padding token; set --pad-token"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "tokenize %s 'Hello world' 'a b c' --padding --pad-token '<|endoftext|>' --output %s", g_gpt2_tok, path);
    ids = tensor_text(path, "input_ids", &r, &c);
    mask = tensor_text(path, "attention_mask", &r, &c);
    CHECKF(rc == 0 && ids && !strcmp(ids, "15496,995,50256;64,275,269") && mask && !strcmp(mask, "1,1,0;1,1,1"), "rc %d %s %s: %s", rc, ids, mask, out);
    free(ids), free(mask), free(out);
    /* errors */
    rc = cli(&out, "tokenize %s 'hello world' 'the quick brown fox' --output %s", g_bert_tok, path);
    CHECKF(rc == 1 && has(out, "different lengths") && has(out, "--padding"), "unpadded: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "tokenize %s a b --text-pair c --output %s", g_bert_tok, path);
    CHECKF(rc == 2 && has(out, "one per text"), "pairs: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "tokenize %s a --output %s/x.jsonl", g_bert_tok, g_tmp);
    CHECKF(rc == 2 && has(out, "safetensors"), "jsonl without --cases: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "tokenize %s a --padding=sideways", g_bert_tok);
    CHECKF(rc == 2 && has(out, "--padding"), "rc %d: %s", rc, out);
    free(out);
    /* the readable mode still works */
    rc = cli(&out, "tokenize %s 'hello world'", g_bert_tok);
    CHECKF(rc == 0 && has(out, "ids: [101, 7592, 2088, 102]"), "rc %d: %s", rc, out);
    free(out);
}

static void test_generate_naming(void) {
    /* generate's advice names the flag on the CLI */
    char path[512], *out;
    snprintf(path, sizeof path, "%s/ids.safetensors", g_tmp);
    int64_t shape[2] = {1, 5}, ids[5] = {5, 6, 7, 8, 9};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *ts = am_tensors_new();
    CHECK(t && ts && am_tensors_set(ts, "input_ids", t) == AM_OK && am_tensors_save_safetensors(ts, path) == AM_OK);
    am_tensor_free(t);
    am_tensors_free(ts);
    char model[4096];
    snprintf(model, sizeof model, "%s", am_test_fixture("models/gpt2_lm"));
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "AM_LOG_LEVEL=warning '%s' generate %s --inputs %s --output %s/gen.safetensors --max-length 5 --no-do-sample 2>&1",
             g_cli, model, path, g_tmp);
    int rc = am_test_run(cmd, &out);
    CHECKF(rc == 0 && has(out, "You should consider increasing `--max-new-tokens`") && !has(out, "`max_new_tokens`"), "rc %d: %s", rc, out);
    free(out);
}

static void test_set_config(void) {
    char *out;
    /* --set: JSON-typed values, as config.key = value */
    int rc = cli(&out, "info %s --set hidden_dropout_prob=0.25 --set 'label2id={\"NO\": 0, \"MAYBE\": 1, \"YES\": 2}' --set "
                       "'id2label={\"0\": \"NO\", \"1\": \"MAYBE\", \"2\": \"YES\"}' --set problem_type=single_label_classification --print-config",
                 g_seqcls);
    CHECKF(rc == 0 && has(out, "\"hidden_dropout_prob\": 0.25") && has(out, "\"0\": \"NO\"") && has(out, "\"problem_type\": \"single_label_classification\""),
           "rc %d: %s", rc, out);
    free(out);
    /* num_labels through the config: the head is rebuilt, so the checkpoint's no longer fits */
    rc = cli(&out, "info %s --set num_labels=4", g_seqcls);
    CHECKF(rc == 1 && has(out, "classifier.weight") && has(out, "--ignore-mismatched-sizes"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --set num_labels=4 --ignore-mismatched-sizes --print-config", g_seqcls);
    CHECKF(rc == 0 && has(out, "\"LABEL_3\""), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --set 'hidden_size=[1,'", g_seqcls);
    CHECKF(rc == 2 && has(out, "not valid JSON"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --set novalue", g_seqcls);
    CHECKF(rc == 2 && has(out, "KEY=VALUE"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --set hidden_size=\\\"big\\\"", g_seqcls);
    CHECKF(rc == 1 && has(out, "\"hidden_size\" must be a number"), "a string hidden_size is refused as config.json's would be: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "init %s %s/never --set vocab_size=many", g_seqcls, g_tmp);
    CHECKF(rc == 1 && has(out, "\"vocab_size\" must be a number"), "init --set: rc %d: %s", rc, out);
    free(out);
    /* --config FILE: another config.json replaces the model's */
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "sed 's/\"hidden_act\": \"gelu\"/\"hidden_act\": \"relu\"/' %s/config.json > %s/alt.json", g_seqcls, g_tmp);
    CHECK(system(cmd) == 0);
    rc = cli(&out, "info %s --config %s/alt.json --set attention_probs_dropout_prob=0.5 --print-config", g_seqcls, g_tmp);
    CHECKF(rc == 0 && has(out, "\"hidden_act\": \"relu\"") && has(out, "\"attention_probs_dropout_prob\": 0.5"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "info %s --config %s/missing.json", g_seqcls, g_tmp);
    CHECKF(rc == 1 && has(out, "--config"), "rc %d: %s", rc, out);
    free(out);
    /* the pipelines take them too */
    rc = cli(&out, "classify %s hello --set num_labels=4 --tokenizer %s", g_seqcls, g_bert_tok);
    CHECKF(rc == 1 && has(out, "--ignore-mismatched-sizes"), "classify --set: rc %d: %s", rc, out);
    free(out);
}

static void test_info_numbers(void) {
    char *js, *txt;
    int rc = cli(&js, "info %s --json", g_seqcls);
    int rc2 = cli(&txt, "info %s", g_seqcls);
    CHECK(rc == 0 && rc2 == 0);
    long long all = json_num(js, "num_parameters"), noemb = json_num(js, "num_parameters_exclude_embeddings"), fp = json_num(js, "memory_footprint");
    /* BERT's embeddings: word (99 x 32), position (64 x 32), token type (2 x 32) */
    CHECKF(all - noemb == (99 + 64 + 2) * 32, "embeddings %lld", all - noemb);
    char want[256];
    snprintf(want, sizeof want, "parameters: %lld (trainable %lld, without embeddings %lld)", all, all, noemb);
    CHECKF(has(txt, want), "%s in %s", want, txt);
    snprintf(want, sizeof want, "memory footprint: %lld bytes (%.2f MB)", fp, (double)fp / 1e6);
    CHECKF(has(txt, want), "%s in %s", want, txt);
    free(js);
    free(txt);
}

static void test_init_forward_text(void) {
    char *out, dir[512], dir2[512], cmd[9000];
    snprintf(dir, sizeof dir, "%s/init", g_tmp);
    snprintf(dir2, sizeof dir2, "%s/init2", g_tmp);
    /* from_config with the real vocabulary, so that bert-base-uncased's tokenizer fits */
    int rc = cli(&out, "init %s %s --seed 7 --set vocab_size=30522", g_seqcls, dir);
    CHECKF(rc == 0 && has(out, "BertForSequenceClassification"), "init: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "init %s %s --seed 7 --set vocab_size=30522", g_seqcls, dir2);
    free(out);
    snprintf(cmd, sizeof cmd, "cmp -s %s/model.safetensors %s/model.safetensors", dir, dir2);
    CHECK(rc == 0 && system(cmd) == 0); /* the seed decides the weights */
    rc = cli(&out, "init %s %s --seed 8 --set vocab_size=30522", g_seqcls, dir2);
    free(out);
    CHECK(rc == 0 && system(cmd) != 0);
    rc = cli(&out, "info %s --json", dir);
    CHECKF(rc == 0 && json_num(out, "num_parameters") - json_num(out, "num_parameters_exclude_embeddings") == (30522 + 64 + 2) * 32, "%s", out);
    free(out);
    rc = cli(&out, "init %s %s --task masked-lm --seed 1", g_seqcls, dir2);
    free(out);
    rc = cli(&out, "info %s", dir2);
    CHECKF(rc == 0 && has(out, "BertForMaskedLM"), "init --task: %s", out);
    free(out);
    rc = cli(&out, "init %s", g_seqcls);
    CHECK(rc == 2 && has(out, "OUT_DIR"));
    free(out);

    /* forward --text: the model folder's tokenizer, the same outputs as tokenize + forward --inputs */
    snprintf(cmd, sizeof cmd, "cp %s/tokenizer.json %s/", g_bert_tok, dir);
    CHECK(system(cmd) == 0);
    rc = cli(&out, "forward %s --text 'hello world' --text 'the quick brown fox' --output %s/a.safetensors", dir, g_tmp);
    CHECKF(rc == 0, "forward --text: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "tokenize %s 'hello world' 'the quick brown fox' --padding --output %s/in.safetensors", dir, g_tmp);
    free(out);
    rc |= cli(&out, "forward %s --inputs %s/in.safetensors --output %s/b.safetensors", dir, g_tmp, g_tmp);
    free(out);
    snprintf(cmd, sizeof cmd, "cmp -s %s/a.safetensors %s/b.safetensors", g_tmp, g_tmp);
    CHECK(rc == 0 && system(cmd) == 0);
    am_tensors *o = NULL;
    snprintf(cmd, sizeof cmd, "%s/a.safetensors", g_tmp);
    o = am_tensors_load_safetensors(cmd);
    am_tensor *lg = o ? am_tensors_get(o, "logits") : NULL;
    CHECK(lg && am_tensor_dim(lg, 0) == 2 && am_tensor_dim(lg, 1) == 3);
    am_tensors_free(o);
    /* --output-attentions: each layer's probabilities [batch, heads, T, T], every row summing to 1 */
    rc = cli(&out, "forward %s --text 'hello world' --output-attentions --output %s/att.safetensors", dir, g_tmp);
    CHECKF(rc == 0, "--output-attentions: rc %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/att.safetensors", g_tmp);
    o = am_tensors_load_safetensors(cmd);
    am_tensor *at = o ? am_tensors_get(o, "attentions.0") : NULL;
    CHECKF(at && am_tensor_ndim(at) == 4 && am_tensor_dim(at, 0) == 1 && am_tensor_dim(at, 2) == 4 && am_tensor_dim(at, 3) == 4,
           "attentions.0 [1, H, 4, 4]");
    if (at && am_tensor_dtype(at) == AM_F32) {
        const float *p = am_tensor_cdata(at);
        double sum = 0;
        for (int k = 0; k < 4; k++) sum += p[k];
        CHECKF(fabs(sum - 1.0) < 1e-5, "attention row sums to %g", sum);
    }
    CHECK(o && !am_tensors_get(o, "attentions.99") && am_tensors_get(o, "logits"));
    am_tensors_free(o);
    /* --float32-matmul-precision medium: float32 weights computed in bf16 where the CPU has bf16
     * units (so the logits move), bit-identical elsewhere; a value torch refuses is refused */
    static const char *long_text = "the quick brown fox jumps over the lazy dog and runs far away";
    rc = cli(&out, "forward %s --text '%s' --float32-matmul-precision highest --output %s/hi.safetensors", dir, long_text, g_tmp);
    free(out);
    rc |= cli(&out, "forward %s --text '%s' --float32-matmul-precision medium --output %s/med.safetensors", dir, long_text, g_tmp);
    free(out);
    CHECK(rc == 0);
    bool bf16_units = strstr(am_cpu_report_json(), "\"gemm_bf16\": \"onednn_bf16\"") != NULL;
    snprintf(cmd, sizeof cmd, "cmp -s %s/hi.safetensors %s/med.safetensors", g_tmp, g_tmp);
    CHECKF((system(cmd) != 0) == bf16_units, "medium precision changes the logits exactly when bf16 units exist (%d)", bf16_units);
    rc = cli(&out, "forward %s --text 'hello' --float32-matmul-precision fast", dir);
    CHECKF(rc != 0 && has(out, "--float32-matmul-precision") && has(out, "medium") && !has(out, "float32_matmul_precision"), "rc %d: %s", rc, out);
    free(out);
    /* checked before a hub id is resolved: no network wait (the endpoint here does not answer) */
    rc = cli(&out, "info some-org/some-model --float32-matmul-precision fast --dtype float32");
    CHECKF(rc != 0 && has(out, "--float32-matmul-precision") && !has(out, "some-org"), "hub id: rc %d: %s", rc, out);
    free(out);
    /* without --output: a summary; --tokenizer for a folder without one */
    rc = cli(&out, "forward %s --text 'hello world' --text-pair 'again'", dir);
    CHECKF(rc == 0 && has(out, "logits: float32 [1, 3] "), "summary: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text 'hello' --inputs x.safetensors", dir);
    CHECKF(rc == 2 && has(out, "either --inputs"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text a --text b --text-pair c", dir);
    CHECKF(rc == 2 && has(out, "one per text"), "rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text 'hello'", g_seqcls);
    CHECKF(rc == 1 && has(out, "tokenizer"), "no tokenizer: rc %d: %s", rc, out);
    free(out);
    /* a GPT-2 model: one text needs no padding (no pad token); a batch pads with --pad-token */
    char gdir[512];
    snprintf(gdir, sizeof gdir, "%s/gpt2", g_tmp);
    rc = cli(&out, "init %s %s --set vocab_size=50257", am_test_fixture("models/gpt2_lm"), gdir);
    CHECKF(rc == 0, "init gpt2: %s", out);
    free(out);
    rc = cli(&out, "forward %s --text 'Hello world' --tokenizer %s", gdir, g_gpt2_tok);
    CHECKF(rc == 0 && has(out, "logits: float32 [1, 2, 50257] "), "gpt2 one text: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text 'Hello world' --text 'a b c' --tokenizer %s", gdir, g_gpt2_tok);
    CHECKF(rc == 1 && has(out, "--pad-token"), "gpt2 batch: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text 'Hello world' --text 'a b c' --tokenizer %s --pad-token '<|endoftext|>'", gdir, g_gpt2_tok);
    CHECKF(rc == 0 && has(out, "logits: float32 [2, 3, 50257] "), "gpt2 batch: rc %d: %s", rc, out);
    free(out);
    rc = cli(&out, "forward %s --text 'hello' --tokenizer %s", g_seqcls, g_gpt2_tok);
    CHECKF(rc != 0, "GPT-2 ids beyond a 99-token vocabulary are an error, not a crash: rc %d: %s", rc, out);
    free(out);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    snprintf(g_seqcls, sizeof g_seqcls, "%s", am_test_fixture("models/bert_seqcls"));
    snprintf(g_mism, sizeof g_mism, "%s", am_test_fixture("models/load_num_labels_override"));
    snprintf(g_bert_tok, sizeof g_bert_tok, "%s", am_test_fixture("tokenizers/bert-base-uncased"));
    snprintf(g_gpt2_tok, sizeof g_gpt2_tok, "%s", am_test_fixture("tokenizers/gpt2"));
    snprintf(g_tmp, sizeof g_tmp, "/tmp/am_test_cli_XXXXXX");
    if (!mkdtemp(g_tmp)) return 1;
    test_help();
    test_unknown_flags();
    test_load_spellings();
    test_error_naming();
    test_tokenize_tensors();
    test_set_config();
    test_generate_naming();
    test_info_numbers();
    test_init_forward_text();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_tmp);
    return 0;
}
