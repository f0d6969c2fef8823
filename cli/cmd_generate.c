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

typedef struct gen_ctx {
    am_generate_options o;
    lists l;
    const char *in_path, *out_path;
} gen_ctx;

#define GEN_INT(name, help) {name, NULL, required_argument, "N", help}
#define GEN_NUM(name, help) {name, NULL, required_argument, "X", help}
static const am_cli_opt k_generate_opts[] = {
    {"inputs", NULL, required_argument, "IN.safetensors", "input_ids (and attention_mask) instead of a PROMPT"},
    {"output", NULL, required_argument, "OUT.safetensors", "write sequences (and scores) here"},
    GEN_INT("max-new-tokens", "max_new_tokens"),
    GEN_INT("max-length", "max_length (prompt included)"),
    GEN_INT("min-new-tokens", "min_new_tokens"),
    GEN_INT("min-length", "min_length"),
    {"do-sample", NULL, no_argument, NULL, "do_sample=True (default: the generation config's)"},
    {"no-do-sample", NULL, no_argument, NULL, "do_sample=False: greedy or beam search"},
    GEN_INT("num-beams", "num_beams"),
    GEN_INT("num-return-sequences", "num_return_sequences"),
    {"early-stopping", NULL, optional_argument, "never", "early_stopping=True (or \"never\")"},
    {"no-early-stopping", NULL, no_argument, NULL, "early_stopping=False"},
    GEN_NUM("length-penalty", "length_penalty"),
    GEN_NUM("temperature", "temperature"),
    GEN_INT("top-k", "top_k"),
    GEN_NUM("top-p", "top_p"),
    GEN_NUM("typical-p", "typical_p"),
    GEN_NUM("repetition-penalty", "repetition_penalty"),
    GEN_INT("no-repeat-ngram-size", "no_repeat_ngram_size"),
    GEN_NUM("max-time", "max_time in seconds"),
    GEN_INT("pad-token-id", "pad_token_id"),
    GEN_INT("bos-token-id", "bos_token_id"),
    {"eos-token-id", NULL, required_argument, "JSON", "eos_token_id: an id or a JSON list of ids"},
    GEN_INT("forced-bos-token-id", "forced_bos_token_id"),
    GEN_INT("forced-eos-token-id", "forced_eos_token_id"),
    GEN_INT("decoder-start-token-id", "decoder_start_token_id"),
    {"suppress-tokens", NULL, required_argument, "JSON", "suppress_tokens: a JSON list of ids"},
    {"begin-suppress-tokens", NULL, required_argument, "JSON", "begin_suppress_tokens: a JSON list of ids"},
    {"forced-decoder-ids", NULL, required_argument, "JSON", "forced_decoder_ids: [[position, token], ...]"},
    {"bad-words-ids", NULL, required_argument, "JSON", "bad_words_ids: [[id, ...], ...]"},
    {"stop-strings", NULL, required_argument, "JSON", "stop_strings: a JSON string or list of strings (needs the tokenizer)"},
    {"seed", NULL, required_argument, "S", "torch.manual_seed(S) for sampling"},
    {"output-scores", NULL, no_argument, NULL, "output_scores=True (written with --output)"},
    {"return-timestamps", NULL, no_argument, NULL, "Whisper: return_timestamps=True (timestamp tokens)"},
    {"no-return-timestamps", NULL, no_argument, NULL, "Whisper: return_timestamps=False"},
    {"language", NULL, required_argument, "LANG", "Whisper: language (<|en|>, en or english)"},
    {"whisper-task", NULL, required_argument, "TASK", "Whisper: task=TASK (transcribe or translate; --task is the load option)"},
    {"is-multilingual", NULL, no_argument, NULL, "Whisper: is_multilingual=True"},
    {"no-is-multilingual", NULL, no_argument, NULL, "Whisper: is_multilingual=False"},
    {0},
};
const am_cli_cmd am_cli_cmd_generate = {"generate", "generate MODEL (PROMPT | --inputs IN.safetensors --output OUT.safetensors) [options]",
                                        "model.generate(): stream the continuation of PROMPT (tokenized by MODEL's tokenizer), "
                                        "or run on input ids.",
                                        k_generate_opts, true};

/* Parses one generation flag into the options. Returns 0 or an exit status. */
static int gen_opt(void *ctx, const char *name, const char *v) {
    gen_ctx *g = ctx;
    am_generate_options *o = &g->o;
    lists *l = &g->l;
    if (!strcmp(name, "inputs")) return g->in_path = v, 0;
    if (!strcmp(name, "output")) return g->out_path = v, 0;
    if (!strcmp(name, "do-sample")) return o->do_sample = 1, 0;
    if (!strcmp(name, "no-do-sample")) return o->do_sample = 0, 0;
    if (!strcmp(name, "no-early-stopping")) return o->early_stopping = 0, 0;
    if (!strcmp(name, "output-scores")) return o->output_scores = true, 0;
    if (!strcmp(name, "return-timestamps")) return o->return_timestamps = 1, 0;
    if (!strcmp(name, "no-return-timestamps")) return o->return_timestamps = 0, 0;
    if (!strcmp(name, "is-multilingual")) return o->is_multilingual = 1, 0;
    if (!strcmp(name, "no-is-multilingual")) return o->is_multilingual = 0, 0;
    if (!strcmp(name, "language")) return o->language = v, 0;
    if (!strcmp(name, "whisper-task")) return o->task = v, 0;
    if (!strcmp(name, "early-stopping")) {
        if (v && strcmp(v, "never") && strcmp(v, "true") && strcmp(v, "false"))
            return am_cli_usage_error("--early-stopping takes no value, or never, true, false (not '%s')", v);
        o->early_stopping = !v || !strcmp(v, "true") ? 1 : !strcmp(v, "never") ? 2 : 0;
        return 0;
    }
    static const char *const ints[] = {"max-new-tokens", "max-length", "min-new-tokens", "min-length", "num-beams",
                                       "num-return-sequences", "top-k", "no-repeat-ngram-size", "pad-token-id", "bos-token-id",
                                       "forced-bos-token-id", "forced-eos-token-id", "decoder-start-token-id", NULL};
    int64_t *iv[] = {&o->max_new_tokens, &o->max_length, &o->min_new_tokens, &o->min_length, &o->num_beams, &o->num_return_sequences,
                     &o->top_k, &o->no_repeat_ngram_size, &o->pad_token_id, &o->bos_token_id, &o->forced_bos_token_id, &o->forced_eos_token_id,
                     &o->decoder_start_token_id};
    static const char *const floats[] = {"length-penalty", "temperature", "top-p", "typical-p", "repetition-penalty", "max-time", NULL};
    double *fv[] = {&o->length_penalty, &o->temperature, &o->top_p, &o->typical_p, &o->repetition_penalty, &o->max_time};
    for (int k = 0; ints[k]; k++)
        if (!strcmp(name, ints[k])) {
            if (!parse_i64(v, iv[k])) return am_cli_usage_error("--%s needs an integer, not '%s'", name, v);
            return 0;
        }
    for (int k = 0; floats[k]; k++)
        if (!strcmp(name, floats[k])) {
            if (!parse_f64(v, fv[k])) return am_cli_usage_error("--%s needs a number, not '%s'", name, v);
            return 0;
        }
    if (!strcmp(name, "seed")) {
        int64_t sd;
        if (!parse_i64(v, &sd)) return am_cli_usage_error("--seed needs an integer, not '%s'", v);
        o->seed = (uint64_t)sd;
        return 0;
    }
    int rc = 0;
    size_t n = 0;
    if (!strcmp(name, "eos-token-id")) {
        free(l->eos);
        l->eos = NULL;
        if ((rc = json_ids("--eos-token-id", v, 1, &l->eos, &n, NULL, NULL))) return rc;
        if (!n) return am_cli_usage_error("--eos-token-id: give at least one id");
        o->eos_token_ids = l->eos, o->n_eos = n;
    } else if (!strcmp(name, "suppress-tokens")) {
        free(l->suppress);
        l->suppress = NULL;
        if ((rc = json_ids("--suppress-tokens", v, 1, &l->suppress, &n, NULL, NULL))) return rc;
        o->suppress_tokens = l->suppress, o->n_suppress_tokens = n;
    } else if (!strcmp(name, "begin-suppress-tokens")) {
        free(l->begin_suppress);
        l->begin_suppress = NULL;
        if ((rc = json_ids("--begin-suppress-tokens", v, 1, &l->begin_suppress, &n, NULL, NULL))) return rc;
        o->begin_suppress_tokens = l->begin_suppress, o->n_begin_suppress_tokens = n;
    } else if (!strcmp(name, "forced-decoder-ids")) {
        size_t nl = 0;
        size_t *lens = NULL;
        free(l->forced);
        l->forced = NULL;
        if ((rc = json_ids("--forced-decoder-ids", v, 2, &l->forced, &n, &lens, &nl))) {
            free(lens);
            return rc;
        }
        for (size_t k = 0; k < nl && !rc; k++)
            if (lens[k] != 2) rc = am_cli_usage_error("--forced-decoder-ids: expected [[position, token], ...]");
        free(lens);
        if (rc) return rc;
        o->forced_decoder_ids = l->forced, o->n_forced_decoder_ids = nl;
    } else if (!strcmp(name, "bad-words-ids")) {
        size_t nl = 0;
        free(l->bad);
        free(l->bad_lens);
        l->bad = NULL;
        l->bad_lens = NULL;
        if ((rc = json_ids("--bad-words-ids", v, 2, &l->bad, &n, &l->bad_lens, &nl))) return rc;
        o->bad_words_flat = l->bad, o->bad_words_lens = l->bad_lens, o->n_bad_words = nl;
    } else if (!strcmp(name, "stop-strings")) {
        cJSON *j = cJSON_Parse(v);
        if (!j || !(cJSON_IsArray(j) || cJSON_IsString(j))) {
            cJSON_Delete(j);
            return am_cli_usage_error("--stop-strings needs a JSON string or list of strings");
        }
        cJSON *one = cJSON_IsString(j) ? j : NULL;
        for (cJSON *it = one ? one : j->child; it; it = one ? NULL : it->next) {
            char **st = cJSON_IsString(it) ? realloc(l->stops, (l->n_stops + 1) * sizeof *l->stops) : NULL;
            if (!st) {
                cJSON_Delete(j);
                return am_cli_usage_error(cJSON_IsString(it) ? "out of memory" : "--stop-strings: every entry must be a string");
            }
            l->stops = st;
            if (!(l->stops[l->n_stops] = strdup(it->valuestring))) {
                cJSON_Delete(j);
                return am_cli_usage_error("out of memory");
            }
            l->n_stops++;
        }
        cJSON_Delete(j);
        o->stop_strings = (const char *const *)l->stops, o->n_stop_strings = l->n_stops;
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
    gen_ctx g;
    memset(&g, 0, sizeof g);
    g.o = am_generate_options_default();
    am_generate_options o;
    lists l;
    am_cli_load ld;
    am_cli_load_init(&ld);
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_generate, argc, argv, &ld, gen_opt, &g, &pos, &npos);
    const char *in_path = g.in_path, *out_path = g.out_path, *path = !rc && npos > 0 ? pos[0] : NULL, *prompt = NULL;
    o = g.o;
    l = g.l;
    if (!rc && !path) rc = am_cli_usage_error("generate: missing MODEL (a local folder or a hub id)");
    if (!rc && npos > 1) {
        if (npos > 2 || in_path) rc = am_cli_usage_error("generate: unexpected argument '%s'", pos[in_path ? 1 : 2]);
        else prompt = pos[1];
    }
    if (!rc && !prompt && (!in_path || !out_path))
        rc = am_cli_usage_error("generate: give a PROMPT, or --inputs IN.safetensors and --output OUT.safetensors");
    am_model *m = rc ? NULL : am_cli_load_model(&ld, path, &rc);
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
                /* an encoder-decoder's sequences are the decoder's: the start token, then new tokens */
                bool ed = false;
                am_config_get_bool(am_model_config(m), "is_encoder_decoder", &ed);
                int64_t prompt_len = ed ? 1 : am_tensor_dim(am_tensors_get(in, "input_ids"), 1);
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
    am_cli_load_free(&ld);
    lists_free(&l);
    return rc == AM_CLI_HELP ? 0 : rc;
}
