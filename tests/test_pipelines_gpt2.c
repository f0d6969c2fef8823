/* tests/test_pipelines_gpt2.c — the shipped shakespeare-gpt2 model against transformers'
 * reference.json: the prompts tokenize to the reference ids, greedy continuations (API and
 * `automodel generate` text mode) match token for token for their first stable_new_tokens (past
 * a top-1/top-2 gap under 0.01 float rounding may pick the runner-up), and the last-position
 * logits of "ROMEO:" are within 1e-4 of all 2,048 reference values. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_dir;

static am_tensors *ids_tensors(const cJSON *ids, int64_t *n_out) {
    int64_t n = cJSON_GetArraySize(ids), shape[2] = {1, n};
    am_tensor *t = am_tensor_new(AM_I64, 2, shape), *m = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(t), *q = am_tensor_data(m);
    int i = 0;
    for (const cJSON *x = ids->child; x; x = x->next, i++) p[i] = (int64_t)x->valuedouble, q[i] = 1;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensors_set(in, "attention_mask", m);
    am_tensor_free(t);
    am_tensor_free(m);
    *n_out = n;
    return in;
}

/* the decoded text of the first k reference ids (what the CLI must print first) */
static char *decode_prefix(const am_tokenizer *tok, const cJSON *ids, int k) {
    int32_t v[64];
    int n = 0;
    for (const cJSON *x = ids->child; x && n < k; x = x->next) v[n++] = (int32_t)x->valuedouble;
    am_decode_options d = am_decode_options_default();
    d.skip_special_tokens = true;
    return am_tokenizer_decode(tok, v, (size_t)n, &d);
}

static void shell_quote(char *out, size_t cap, const char *s) {
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else
            out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = 0;
}

int am_test_main(int argc, char **argv) {
    g_dir = argc > 1 ? argv[1] : "models/shakespeare-gpt2";
    char path[4096];
    snprintf(path, sizeof path, "%s/reference.json", g_dir);
    char *text = am_test_read_file(path, NULL);
    CHECK(text != NULL);
    if (!text) return 1;
    cJSON *ref = cJSON_Parse(text);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, g_dir, NULL);
    am_tokenizer *tok = am_tokenizer_from_pretrained(g_dir);
    CHECKF(m && tok, "load: %s", am_last_error());
    if (!m || !tok) return 1;
    CHECK(!strcmp(am_model_class_name(m), "GPT2LMHeadModel"));

    /* last_prompt_logits: model(input_ids=[[814, 26]]).logits[0, -1] */
    const cJSON *lp = cJSON_GetObjectItem(ref, "last_prompt_logits");
    int64_t n;
    am_tensors *in = ids_tensors(cJSON_GetObjectItem(lp, "prompt_ids"), &n);
    am_tensors *out = am_model_forward(m, in, NULL);
    CHECKF(out != NULL, "forward: %s", am_last_error());
    if (out) {
        const am_tensor *lt = am_tensors_get(out, "logits");
        int64_t V = am_tensor_dim(lt, -1);
        const float *l = (const float *)am_tensor_cdata(lt) + (n - 1) * V;
        const cJSON *want = cJSON_GetObjectItem(lp, "logits");
        CHECK(V == cJSON_GetArraySize(want) && V == 2048);
        double worst = 0;
        int i = 0;
        for (const cJSON *x = want->child; x && i < V; x = x->next, i++) worst = fmax(worst, fabs(l[i] - x->valuedouble));
        CHECKF(worst <= 1e-4, "last-position logits off by %g", worst);
        printf("shakespeare-gpt2: last-position logits of \"ROMEO:\" within %.2g of the reference\n", worst);
    }
    am_tensors_free(out);
    am_tensors_free(in);

    const char *cli = getenv("AM_CLI");
    for (const cJSON *pr = cJSON_GetObjectItem(ref, "prompts")->child; pr; pr = pr->next) {
        const char *prompt = cJSON_GetObjectItem(pr, "prompt")->valuestring;
        const cJSON *pids = cJSON_GetObjectItem(pr, "prompt_ids"), *gids = cJSON_GetObjectItem(pr, "greedy_new_ids");
        int stable = cJSON_GetObjectItem(pr, "stable_new_tokens")->valueint;
        /* the tokenizer: no BOS, no prefix space */
        am_encoding *e = am_tokenizer_encode(tok, prompt, NULL, NULL);
        bool same = e && am_encoding_len(e) == (size_t)cJSON_GetArraySize(pids);
        for (int i = 0; same && i < cJSON_GetArraySize(pids); i++) same = am_encoding_ids(e)[i] == cJSON_GetArrayItem(pids, i)->valueint;
        CHECKF(same, "prompt %s: token ids differ from the reference", prompt);
        am_encoding_free(e);

        /* greedy: do_sample=False, num_beams=1, max_new_tokens=40, pad_token_id=0 */
        in = ids_tensors(pids, &n);
        am_generate_options go = am_generate_options_default();
        go.do_sample = 0;
        go.num_beams = 1;
        go.max_new_tokens = 40;
        go.pad_token_id = 0;
        out = am_model_generate(m, in, &go);
        CHECKF(out != NULL, "generate: %s", am_last_error());
        int match = 0;
        if (out) {
            const am_tensor *seq = am_tensors_get(out, "sequences");
            const int64_t *s = am_tensor_cdata(seq);
            CHECK(am_tensor_dim(seq, 1) == n + 40);
            for (const cJSON *x = gids->child; x && match < 40 && s[n + match] == (int64_t)x->valuedouble; x = x->next) match++;
            CHECKF(match >= stable, "prompt %s: the first %d greedy tokens match, the reference's first %d are stable", prompt, match, stable);
        }
        printf("shakespeare-gpt2 prompt of %d tokens: greedy %2d/40 tokens equal (%d stable)\n", cJSON_GetArraySize(pids), match, stable);
        am_tensors_free(out);
        am_tensors_free(in);

        /* the CLI's text mode prints the continuation */
        if (cli) {
            char q[512], cmd[4096], *o = NULL;
            shell_quote(q, sizeof q, prompt);
            snprintf(cmd, sizeof cmd, "%s generate %s %s --no-do-sample --max-new-tokens 40 2>/dev/null", cli, g_dir, q);
            int rc = am_test_run(cmd, &o);
            char *want = decode_prefix(tok, gids, stable);
            CHECKF(rc == 0 && o && want && !strncmp(o, want, strlen(want)), "CLI generate %s: printed '%s', want it to start with '%s'", prompt,
                   o ? o : "", want ? want : "");
            am_free(want);
            free(o);
        }
    }

    /* the CLI defaults come from generation_config.json (sampling, 200 new tokens) */
    if (cli) {
        char cmd[4096], *o = NULL;
        snprintf(cmd, sizeof cmd, "%s generate %s 'ROMEO:' --seed 1 2>&1 >/dev/null", cli, g_dir);
        int rc = am_test_run(cmd, &o);
        CHECKF(rc == 0 && o && strstr(o, "200 tokens in") && strstr(o, "tokens/s"), "default run: %s", o ? o : "");
        free(o);
    }
    am_tokenizer_free(tok);
    am_model_free(m);
    cJSON_Delete(ref);
    free(text);
    return 0;
}
