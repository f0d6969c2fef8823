/* cli/cmd_generate.c — `automodel generate MODEL (PROMPT | --inputs IN.safetensors --output OUT.safetensors)`:
 * every GenerationConfig field is a flag named after it with dashes. With a PROMPT the model's
 * tokenizer encodes it, decoded text streams to stdout and tokens/s go to stderr. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lists {
    int64_t *eos, *suppress, *begin_suppress, *forced, *bad;
    size_t *bad_lens;
    char **stops;
    size_t n_stops;
} lists;

static void lists_free(lists *l) {
    free(l->eos);
    free(l->suppress);
    free(l->begin_suppress);
    free(l->forced);
    free(l->bad);
    free(l->bad_lens);
    for (size_t i = 0; i < l->n_stops; i++) free(l->stops[i]);
    free(l->stops);
}

static bool parse_i64(const char *s, int64_t *out) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end) return false;
    *out = v;
    return true;
}
static bool parse_f64(const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || isnan(v)) return false;
    *out = v;
    return true;
}

/* JSON int or list of ints -> array (owned); depth 2 (pairs / lists of lists) flattened with lens */
static int json_ids(const char *flag, const char *text, int depth, int64_t **out, size_t *n, size_t **lens, size_t *n_lists) {
    cJSON *j = cJSON_Parse(text);
    int rc = 0;
    *n = 0;
    if (!j) return am_cli_usage_error("%s: not valid JSON: %s", flag, text);
    if (depth == 1 && cJSON_IsNumber(j)) {
        *out = malloc(sizeof(int64_t));
        (*out)[0] = (int64_t)j->valuedouble;
        *n = 1;
        cJSON_Delete(j);
        return 0;
    }
    if (!cJSON_IsArray(j)) rc = am_cli_usage_error("%s: expected a JSON list, got %s", flag, text);
    int total = 0;
    for (cJSON *it = rc ? NULL : j->child; it; it = it->next) total += depth == 2 && cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    *out = calloc((size_t)total + 1, sizeof(int64_t));
    if (lens) *lens = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(size_t));
    if (n_lists) *n_lists = 0;
    for (cJSON *it = rc ? NULL : j->child; it && !rc; it = it->next) {
        if (depth == 2) {
            if (!cJSON_IsArray(it) || !it->child) {
                rc = am_cli_usage_error("%s: expected a list of non-empty lists of token ids", flag);
                break;
            }
            for (cJSON *t = it->child; t; t = t->next) {
                if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble)) {
                    rc = am_cli_usage_error("%s: token ids must be integers", flag);
                    break;
                }
                (*out)[(*n)++] = (int64_t)t->valuedouble;
            }
            if (lens) (*lens)[(*n_lists)++] = (size_t)cJSON_GetArraySize(it);
        } else {
            if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) rc = am_cli_usage_error("%s: token ids must be integers", flag);
            else (*out)[(*n)++] = (int64_t)it->valuedouble;
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* Parses the generation flags; consumed arguments are set to NULL. Returns 0 or an exit status. */
static int parse_gen_flags(int argc, char **argv, am_generate_options *o, lists *l) {
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!a || strncmp(a, "--", 2)) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        /* flags without a value */
        bool *bflag = NULL;
        int *iflag = NULL, ival = 0;
        if (!strcmp(a, "--do-sample")) iflag = &o->do_sample, ival = 1;
        else if (!strcmp(a, "--no-do-sample")) iflag = &o->do_sample, ival = 0;
        else if (!strcmp(a, "--early-stopping")) iflag = &o->early_stopping, ival = 1;
        else if (!strcmp(a, "--no-early-stopping")) iflag = &o->early_stopping, ival = 0;
        else if (!strcmp(a, "--early-stopping=never")) iflag = &o->early_stopping, ival = 2;
        else if (!strcmp(a, "--output-scores")) bflag = &o->output_scores;
        if (iflag || bflag) {
            if (iflag) *iflag = ival;
            else *bflag = true;
            argv[i] = NULL;
            continue;
        }
        static const char *const ints[] = {"--max-new-tokens", "--max-length", "--min-new-tokens", "--min-length", "--num-beams",
                                           "--num-return-sequences", "--top-k", "--no-repeat-ngram-size", "--pad-token-id", "--bos-token-id",
                                           "--forced-bos-token-id", "--forced-eos-token-id", NULL};
        int64_t *iv[] = {&o->max_new_tokens, &o->max_length, &o->min_new_tokens, &o->min_length, &o->num_beams, &o->num_return_sequences,
                         &o->top_k, &o->no_repeat_ngram_size, &o->pad_token_id, &o->bos_token_id, &o->forced_bos_token_id, &o->forced_eos_token_id};
        static const char *const floats[] = {"--length-penalty", "--temperature", "--top-p", "--typical-p", "--repetition-penalty", "--max-time", NULL};
        double *fv[] = {&o->length_penalty, &o->temperature, &o->top_p, &o->typical_p, &o->repetition_penalty, &o->max_time};
        bool known = false;
        for (int k = 0; ints[k]; k++)
            if (!strcmp(a, ints[k])) {
                known = true;
                if (!v || !parse_i64(v, iv[k])) return am_cli_usage_error("%s needs an integer", a);
            }
        for (int k = 0; floats[k]; k++)
            if (!strcmp(a, floats[k])) {
                known = true;
                if (!v || !parse_f64(v, fv[k])) return am_cli_usage_error("%s needs a number", a);
            }
        if (!strcmp(a, "--seed")) {
            known = true;
            int64_t sd;
            if (!v || !parse_i64(v, &sd)) return am_cli_usage_error("--seed needs an integer");
            o->seed = (uint64_t)sd;
        }
        int rc = 0;
        size_t n = 0;
        if (!strcmp(a, "--eos-token-id")) {
            known = true;
            if (!v || (rc = json_ids(a, v, 1, &l->eos, &n, NULL, NULL))) return rc ? rc : am_cli_usage_error("%s needs a value", a);
            if (!n) return am_cli_usage_error("--eos-token-id: give at least one id");
            o->eos_token_ids = l->eos, o->n_eos = n;
        } else if (!strcmp(a, "--suppress-tokens")) {
            known = true;
            if (!v || (rc = json_ids(a, v, 1, &l->suppress, &n, NULL, NULL))) return rc ? rc : am_cli_usage_error("%s needs a value", a);
            o->suppress_tokens = l->suppress, o->n_suppress_tokens = n;
        } else if (!strcmp(a, "--begin-suppress-tokens")) {
            known = true;
            if (!v || (rc = json_ids(a, v, 1, &l->begin_suppress, &n, NULL, NULL))) return rc ? rc : am_cli_usage_error("%s needs a value", a);
            o->begin_suppress_tokens = l->begin_suppress, o->n_begin_suppress_tokens = n;
        } else if (!strcmp(a, "--forced-decoder-ids")) {
            known = true;
            size_t nl = 0;
            size_t *lens = NULL;
            if (!v || (rc = json_ids(a, v, 2, &l->forced, &n, &lens, &nl))) {
                free(lens);
                return rc ? rc : am_cli_usage_error("%s needs a value", a);
            }
            for (size_t k = 0; k < nl; k++)
                if (lens[k] != 2) rc = am_cli_usage_error("--forced-decoder-ids: expected [[position, token], ...]");
            free(lens);
            if (rc) return rc;
            o->forced_decoder_ids = l->forced, o->n_forced_decoder_ids = nl;
        } else if (!strcmp(a, "--bad-words-ids")) {
            known = true;
            size_t nl = 0;
            if (!v || (rc = json_ids(a, v, 2, &l->bad, &n, &l->bad_lens, &nl))) return rc ? rc : am_cli_usage_error("%s needs a value", a);
            o->bad_words_flat = l->bad, o->bad_words_lens = l->bad_lens, o->n_bad_words = nl;
        } else if (!strcmp(a, "--stop-strings")) {
            known = true;
            cJSON *j = v ? cJSON_Parse(v) : NULL;
            if (!j || !(cJSON_IsArray(j) || cJSON_IsString(j))) {
                cJSON_Delete(j);
                return am_cli_usage_error("--stop-strings needs a JSON string or list of strings");
            }
            cJSON *one = cJSON_IsString(j) ? j : NULL;
            for (cJSON *it = one ? one : j->child; it; it = one ? NULL : it->next) {
                if (!cJSON_IsString(it)) {
                    cJSON_Delete(j);
                    return am_cli_usage_error("--stop-strings: every entry must be a string");
                }
                l->stops = realloc(l->stops, (l->n_stops + 1) * sizeof *l->stops);
                l->stops[l->n_stops++] = strdup(it->valuestring);
            }
            cJSON_Delete(j);
            o->stop_strings = (const char *const *)l->stops, o->n_stop_strings = l->n_stops;
        }
        if (known) {
            argv[i] = argv[i + 1] = NULL;
            i++;
        }
    }
    return 0;
}

/* ---- text mode: the tokenizer decodes for stop strings and for the stream ---- */

typedef struct text_ctx {
    am_tokenizer *tok;
    char *last;          /* the decode callback's result */
    int64_t *gen;        /* generated ids of row 0 */
    size_t n_gen, printed;
    int64_t pad;
} text_ctx;

static char *decode_ids(const am_tokenizer *tok, const int64_t *ids, size_t n) {
    int32_t *v = malloc((n ? n : 1) * sizeof(int32_t));
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = (int32_t)ids[i];
    am_decode_options d = am_decode_options_default();
    d.skip_special_tokens = true;
    char *s = am_tokenizer_decode(tok, v, n, &d);
    free(v);
    return s;
}

static const char *decode_cb(void *user, const int64_t *ids, size_t n) {
    text_ctx *t = user;
    am_free(t->last);
    t->last = decode_ids(t->tok, ids, n);
    return t->last ? t->last : "";
}

/* prints what decoding the new tokens added, holding back an incomplete UTF-8 character */
static int stream_cb(void *user, size_t step, const int64_t *tokens, size_t n_rows) {
    (void)step;
    (void)n_rows;
    text_ctx *t = user;
    int64_t *g = realloc(t->gen, (t->n_gen + 1) * sizeof *g);
    if (!g) return 1;
    t->gen = g;
    t->gen[t->n_gen++] = tokens[0];
    char *s = decode_ids(t->tok, t->gen, t->n_gen);
    if (s) {
        size_t len = strlen(s);
        bool partial = len >= 3 && !memcmp(s + len - 3, "\xEF\xBF\xBD", 3);
        if (!partial && len > t->printed) {
            fwrite(s + t->printed, 1, len - t->printed, stdout);
            fflush(stdout);
            t->printed = len;
        }
        am_free(s);
    }
    return 0;
}

int am_cli_generate(int argc, char **argv) {
    const char *in_path = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!argv[i]) continue;
        if (!strcmp(argv[i], "--inputs") && i + 1 < argc) in_path = argv[i + 1], argv[i] = argv[i + 1] = NULL, i++;
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) out_path = argv[i + 1], argv[i] = argv[i + 1] = NULL, i++;
    }
    am_generate_options o = am_generate_options_default();
    lists l;
    memset(&l, 0, sizeof l);
    int rc = parse_gen_flags(argc, argv, &o, &l);
    if (rc) {
        lists_free(&l);
        return rc;
    }
    const char *path;
    am_model *m = am_cli_load_model(argc, argv, &path, &rc);
    if (!m) {
        lists_free(&l);
        return rc;
    }
    const char *prompt = NULL;
    for (int i = 1; i < argc && !rc; i++)
        if (argv[i]) {
            if (!prompt && !in_path && argv[i][0] != '-') prompt = argv[i];
            else rc = am_cli_usage_error("generate: unexpected argument '%s'", argv[i]);
        }
    if (!rc && !prompt && (!in_path || !out_path))
        rc = am_cli_usage_error("generate: give a PROMPT, or --inputs IN.safetensors and --output OUT.safetensors");
    am_tensors *in = NULL, *out = NULL;
    text_ctx tc;
    memset(&tc, 0, sizeof tc);
    if (!rc && prompt) {
        tc.tok = am_tokenizer_from_pretrained(path);
        if (!tc.tok) rc = am_cli_fail("generate: loading the tokenizer");
        else {
            const char *texts[1] = {prompt};
            am_encode_options eo = am_encode_options_default();
            eo.padding = AM_PADDING_NONE; /* one prompt: nothing to pad */
            in = am_tokenizer_encode_tensors(tc.tok, 1, texts, NULL, &eo);
            if (!in) rc = am_cli_fail("generate: encoding the prompt");
            else {
                /* generate() takes input_ids and attention_mask only */
                am_tensors *keep = am_tensors_new();
                am_tensors_set(keep, "input_ids", am_tensors_get(in, "input_ids"));
                if (am_tensors_get(in, "attention_mask")) am_tensors_set(keep, "attention_mask", am_tensors_get(in, "attention_mask"));
                am_tensors_free(in);
                in = keep;
            }
            o.decode = decode_cb;
            o.decode_user = &tc;
            if (o.num_beams == AM_GEN_UNSET || o.num_beams <= 1) { /* beam search does not stream */
                o.on_token = stream_cb;
                o.on_token_user = &tc;
            }
        }
    } else if (!rc) {
        in = am_tensors_load_safetensors(in_path);
        if (!in) rc = am_cli_fail(NULL);
    }
    if (!rc && o.n_stop_strings && !o.decode) {
        /* stop strings need text: use the model's tokenizer when there is one */
        tc.tok = am_tokenizer_from_pretrained(path);
        if (!tc.tok) rc = am_cli_fail("generate: --stop-strings needs the model's tokenizer");
        o.decode = decode_cb;
        o.decode_user = &tc;
    }
    if (!rc) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        out = am_model_generate(m, in, &o);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!out) rc = am_cli_fail(NULL);
        else {
            if (prompt) {
                double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
                am_tensor *seq = am_tensors_get(out, "sequences");
                int64_t prompt_len = am_tensor_dim(am_tensors_get(in, "input_ids"), 1);
                int64_t new_tokens = am_tensor_dim(seq, 1) - prompt_len;
                if (tc.n_gen == 0) { /* nothing streamed (beam search): print the result */
                    char *s = decode_ids(tc.tok, (const int64_t *)am_tensor_cdata(seq) + prompt_len, (size_t)new_tokens);
                    if (s) fputs(s, stdout);
                    am_free(s);
                }
                fputc('\n', stdout);
                fprintf(stderr, "%lld tokens in %.3f s (%.2f tokens/s)\n", (long long)new_tokens, secs, secs > 0 ? (double)new_tokens / secs : 0.0);
            }
            if (out_path && am_tensors_save_safetensors(out, out_path) != AM_OK) rc = am_cli_fail(NULL);
        }
    }
    am_tensors_free(in);
    am_tensors_free(out);
    am_free(tc.last);
    free(tc.gen);
    am_tokenizer_free(tc.tok);
    am_model_free(m);
    lists_free(&l);
    return rc;
}
