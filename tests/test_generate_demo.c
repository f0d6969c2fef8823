/* tests/test_generate_demo.c — the shipped demo models/shakespeare-gpt2 end to end: the tokenizer's
 * prompt ids, the last prompt position's logits, and greedy generate() against transformers'
 * reference.json (the leading new tokens whose top1-top2 gap is >= 0.01, so float noise cannot flip
 * them), through the C API and through `automodel generate DIR "prompt"`. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_dir;

static am_tensors *ids_tensor(const cJSON *ids) {
    int n = cJSON_GetArraySize(ids);
    int64_t *v = malloc((size_t)n * sizeof(int64_t));
    int i = 0;
    for (const cJSON *x = ids->child; x; x = x->next) v[i++] = (int64_t)x->valuedouble;
    am_tensor *t = am_tensor_from_data(AM_I64, 2, (int64_t[]){1, n}, v);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    free(v);
    return in;
}

int am_test_main(int argc, char **argv) {
    if (argc < 2) return 2;
    g_dir = argv[1];
    char p[4200];
    snprintf(p, sizeof p, "%s/reference.json", g_dir);
    char *text = am_test_read_file(p, NULL);
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    CHECK(ref != NULL);
    if (!ref) return 1;
    am_model *m = am_model_from_pretrained(AM_TASK_CAUSAL_LM, g_dir, NULL);
    am_tokenizer *tok = am_tokenizer_from_pretrained(g_dir);
    CHECKF(m && tok, "load: %s", am_last_error());
    if (!m || !tok) return 1;
    /* logits at the last prompt position */
    const cJSON *lp = cJSON_GetObjectItem(ref, "last_prompt_logits");
    am_tensors *in = ids_tensor(cJSON_GetObjectItem(lp, "prompt_ids"));
    am_tensors *out = am_model_forward(m, in, NULL);
    am_tensor *lg = out ? am_tensors_get(out, "logits") : NULL;
    CHECK(lg != NULL);
    if (lg) {
        int64_t T = am_tensor_dim(lg, 1), V = am_tensor_dim(lg, 2);
        const float *last = (const float *)am_tensor_cdata(lg) + (T - 1) * V;
        const cJSON *all = cJSON_GetObjectItem(lp, "logits");
        if (cJSON_IsArray(all) && cJSON_GetArraySize(all) == V) {
            int64_t v = 0, bad = 0;
            for (const cJSON *x = all->child; x; x = x->next, v++) bad += fabs(last[v] - x->valuedouble) > 1e-4 + 1e-4 * fabs(x->valuedouble);
            CHECKF(bad == 0, "last prompt logits: %lld of %lld out of tolerance", (long long)bad, (long long)V);
        }
        for (const cJSON *t = cJSON_GetObjectItem(lp, "top10")->child; t; t = t->next) {
            int64_t id = (int64_t)cJSON_GetObjectItem(t, "id")->valuedouble;
            double want = cJSON_GetObjectItem(t, "logit")->valuedouble;
            CHECKF(fabs(last[id] - want) <= 1e-4 + 1e-4 * fabs(want), "logit of %lld: %.6f, want %.6f", (long long)id, last[id], want);
        }
    }
    am_tensors_free(out);
    am_tensors_free(in);
    const char *cli = getenv("AM_CLI");
    for (const cJSON *pr = cJSON_GetObjectItem(ref, "prompts")->child; pr; pr = pr->next) {
        const char *prompt = cJSON_GetObjectItem(pr, "prompt")->valuestring;
        const cJSON *want_ids = cJSON_GetObjectItem(pr, "prompt_ids"), *new_ids = cJSON_GetObjectItem(pr, "greedy_new_ids");
        int stable = cJSON_GetObjectItem(pr, "stable_new_tokens")->valueint;
        am_encoding *enc = am_tokenizer_encode(tok, prompt, NULL, NULL);
        CHECK(enc && (int)am_encoding_len(enc) == cJSON_GetArraySize(want_ids));
        int i = 0;
        for (const cJSON *x = want_ids->child; enc && x && i < (int)am_encoding_len(enc); x = x->next, i++)
            CHECKF(am_encoding_ids(enc)[i] == x->valueint, "[%s] prompt id %d", prompt, i);
        am_encoding_free(enc);
        in = ids_tensor(want_ids);
        am_generate_options o = am_generate_options_default();
        o.do_sample = 0; /* generation_config.json asks for sampling; the reference is greedy */
        o.max_new_tokens = 40;
        o.pad_token_id = 0;
        out = am_model_generate(m, in, &o);
        CHECKF(out != NULL, "[%s] generate: %s", prompt, am_last_error());
        am_tensor *s = out ? am_tensors_get(out, "sequences") : NULL;
        int np = cJSON_GetArraySize(want_ids);
        i = 0;
        for (const cJSON *x = new_ids->child; s && x && i < stable; x = x->next, i++)
            CHECKF(np + i < am_tensor_dim(s, 1) && ((const int64_t *)am_tensor_cdata(s))[np + i] == (int64_t)x->valuedouble, "[%s] new token %d", prompt, i);
        am_tensors_free(out);
        am_tensors_free(in);
        if (cli && stable >= 10) {
            /* the CLI streams the decoded new text; its start is the stable tokens' text */
            char cmd[9000], *got = NULL;
            snprintf(cmd, sizeof cmd, "%s generate %s '%s' --no-do-sample --max-new-tokens 40 2>/dev/null", cli, g_dir, prompt);
            int rc = am_test_run(cmd, &got);
            CHECKF(rc == 0, "[%s] CLI exit %d", prompt, rc);
            int32_t ids[64];
            i = 0;
            for (const cJSON *x = new_ids->child; x && i < stable; x = x->next) ids[i++] = x->valueint;
            char *want = am_tokenizer_decode(tok, ids, (size_t)stable, NULL);
            CHECKF(got && want && !strncmp(got, want, strlen(want)), "[%s] CLI text:\n%s\nwant prefix:\n%s", prompt, got ? got : "", want ? want : "");
            am_free(want);
            free(got);
        }
    }
    am_tokenizer_free(tok);
    am_model_free(m);
    cJSON_Delete(ref);
    free(text);
    return 0;
}
