/* cli/cmd_tokenize.c — `automodel tokenize TOKENIZER TEXT` (tokens, ids and offsets, readable)
 * and `automodel tokenize TOKENIZER --cases CASES.jsonl --output OUT.jsonl` (the reference
 * fixture format: one {"id", "result"} line per case). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

static cJSON *int_array(const int32_t *v, size_t n, bool null_neg) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, null_neg && v[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *u8_array(const uint8_t *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *encoding_json(const am_tokenizer *tok, const am_encoding *e) {
    size_t n = am_encoding_len(e);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ids", int_array(am_encoding_ids(e), n, false));
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    cJSON *offs = cJSON_AddArrayToObject(o, "offsets");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(toks, cJSON_CreateString(am_encoding_token(e, i)));
        size_t s, en;
        am_encoding_offsets(e, i, &s, &en);
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(p, cJSON_CreateNumber((double)s));
        cJSON_AddItemToArray(p, cJSON_CreateNumber((double)en));
        cJSON_AddItemToArray(offs, p);
    }
    cJSON_AddItemToObject(o, "attention_mask", u8_array(am_encoding_attention_mask(e), n));
    cJSON_AddItemToObject(o, "type_ids", int_array(am_encoding_type_ids(e), n, false));
    cJSON_AddItemToObject(o, "special_tokens_mask", u8_array(am_encoding_special_tokens_mask(e), n));
    cJSON_AddItemToObject(o, "word_ids", int_array(am_encoding_word_ids(e), n, true));
    cJSON_AddItemToObject(o, "sequence_ids", int_array(am_encoding_sequence_ids(e), n, true));
    static const char *names[4] = {"decode", "decode_skip_special", "transformers_decode", "transformers_decode_skip_special"};
    for (int k = 0; k < 4; k++) {
        am_decode_options d = am_decode_options_default();
        d.skip_special_tokens = k & 1;
        d.clean_up_tokenization_spaces = k >= 2 ? -1 : 0;
        char *s = am_tokenizer_decode(tok, am_encoding_ids(e), n, &d);
        cJSON_AddItemToObject(o, names[k], s ? cJSON_CreateString(s) : cJSON_CreateNull());
        am_free(s);
    }
    return o;
}

static cJSON *error_json(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", am_last_error());
    return o;
}

static bool parse_options(const cJSON *opts, am_encode_options *o, char *err, size_t errn) {
    *o = am_encode_options_default();
    if (!opts) return true;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(opts, "add_special_tokens");
    if (cJSON_IsBool(v)) o->add_special_tokens = cJSON_IsTrue(v);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(opts, "truncation");
    if (cJSON_IsObject(tr)) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(tr, "strategy");
        const char *s = cJSON_IsString(st) ? st->valuestring : "longest_first";
        if (!strcmp(s, "longest_first")) o->truncation = AM_TRUNCATION_LONGEST_FIRST;
        else if (!strcmp(s, "only_first")) o->truncation = AM_TRUNCATION_ONLY_FIRST;
        else if (!strcmp(s, "only_second")) o->truncation = AM_TRUNCATION_ONLY_SECOND;
        else {
            snprintf(err, errn, "unknown truncation strategy '%s'", s);
            return false;
        }
        v = cJSON_GetObjectItemCaseSensitive(tr, "max_length");
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) o->max_length = (size_t)v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(tr, "stride");
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) o->stride = (size_t)v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(tr, "direction");
        if (cJSON_IsString(v)) o->truncation_side = !strcmp(v->valuestring, "left") ? AM_SIDE_LEFT : AM_SIDE_RIGHT;
    }
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(opts, "padding");
    if (cJSON_IsObject(pd)) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(pd, "strategy");
        const char *s = cJSON_IsString(st) ? st->valuestring : "longest";
        if (!strcmp(s, "longest")) o->padding = AM_PADDING_LONGEST;
        else if (!strcmp(s, "max_length")) {
            o->padding = AM_PADDING_MAX_LENGTH;
            v = cJSON_GetObjectItemCaseSensitive(pd, "max_length");
            if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
                if (o->truncation != AM_TRUNCATION_NONE && o->max_length != (size_t)v->valuedouble) {
                    snprintf(err, errn, "different truncation and padding max_length");
                    return false;
                }
                o->max_length = (size_t)v->valuedouble;
            }
        } else {
            snprintf(err, errn, "unknown padding strategy '%s'", s);
            return false;
        }
        v = cJSON_GetObjectItemCaseSensitive(pd, "direction");
        if (cJSON_IsString(v)) o->padding_side = !strcmp(v->valuestring, "left") ? AM_SIDE_LEFT : AM_SIDE_RIGHT;
        v = cJSON_GetObjectItemCaseSensitive(pd, "pad_token");
        if (cJSON_IsString(v)) o->pad_token = v->valuestring;
        v = cJSON_GetObjectItemCaseSensitive(pd, "pad_id");
        if (cJSON_IsNumber(v)) o->pad_id = (int32_t)v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(pd, "pad_type_id");
        if (cJSON_IsNumber(v)) o->pad_type_id = (int32_t)v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(pd, "pad_to_multiple_of");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) o->pad_to_multiple_of = (size_t)v->valuedouble;
    }
    return true;
}

static cJSON *run_case(const am_tokenizer *tok, const cJSON *c, char *err, size_t errn) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
    am_encode_options o;
    if (!parse_options(cJSON_GetObjectItemCaseSensitive(c, "options"), &o, err, errn)) return NULL;
    const char *k = cJSON_IsString(kind) ? kind->valuestring : "single";
    if (!strcmp(k, "single") || !strcmp(k, "pair")) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "text_pair");
        if (!cJSON_IsString(t) || (!strcmp(k, "pair") && !cJSON_IsString(p))) {
            snprintf(err, errn, "case needs 'text'%s", strcmp(k, "pair") ? "" : " and 'text_pair'");
            return NULL;
        }
        am_encoding *e = am_tokenizer_encode(tok, t->valuestring, cJSON_IsString(p) ? p->valuestring : NULL, &o);
        if (!e) return error_json();
        cJSON *r = encoding_json(tok, e);
        am_encoding_free(e);
        return r;
    }
    if (!strcmp(k, "batch") || !strcmp(k, "batch_pair")) {
        bool pairs = !strcmp(k, "batch_pair");
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, pairs ? "pairs" : "texts");
        if (!cJSON_IsArray(arr)) {
            snprintf(err, errn, "case needs '%s'", pairs ? "pairs" : "texts");
            return NULL;
        }
        size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
        const char **a = calloc(n + 1, sizeof *a), **b = calloc(n + 1, sizeof *b);
        am_encoding **encs = calloc(n + 1, sizeof *encs);
        const cJSON *it;
        bool ok = a && b && encs;
        cJSON_ArrayForEach(it, arr) {
            if (!ok) break;
            if (pairs) {
                if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(it->child) || !cJSON_IsString(it->child->next)) ok = false;
                else {
                    a[i] = it->child->valuestring;
                    b[i] = it->child->next->valuestring;
                }
            } else if (!cJSON_IsString(it))
                ok = false;
            else
                a[i] = it->valuestring;
            i++;
        }
        cJSON *r = NULL;
        if (!ok) snprintf(err, errn, "bad batch inputs");
        else if (am_tokenizer_encode_batch(tok, n, a, pairs ? b : NULL, &o, encs))
            r = error_json();
        else {
            r = cJSON_CreateArray();
            for (i = 0; i < n; i++) {
                cJSON_AddItemToArray(r, encoding_json(tok, encs[i]));
                am_encoding_free(encs[i]);
            }
        }
        free(a);
        free(b);
        free(encs);
        return r;
    }
    snprintf(err, errn, "unknown case kind '%s'", k);
    return NULL;
}

static int run_cases(const am_tokenizer *tok, const char *cases, const char *output) {
    size_t len;
    char *buf = read_all(cases, &len);
    if (!buf) {
        fprintf(stderr, "automodel: %s: cannot read: %s\n", cases, strerror(errno));
        return 1;
    }
    size_t tl = strlen(output) + 32;
    char *tmp = malloc(tl);
    snprintf(tmp, tl, "%s.tmp.%d", output, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "automodel: %s: cannot create: %s\n", output, strerror(errno));
        free(buf);
        free(tmp);
        return 1;
    }
    int rc = 0;
    size_t lineno = 0;
    char *p = buf;
    while (*p && !rc) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        if (*p) {
            cJSON *c = cJSON_Parse(p);
            char err[256] = "";
            cJSON *res = NULL;
            if (!cJSON_IsObject(c)) snprintf(err, sizeof err, "not a JSON object");
            else res = run_case(tok, c, err, sizeof err);
            if (!res) {
                fprintf(stderr, "automodel: %s:%zu: %s\n", cases, lineno, err);
                rc = 1;
            } else {
                cJSON *line = cJSON_CreateObject();
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
                cJSON_AddItemToObject(line, "id", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
                cJSON_AddItemToObject(line, "result", res);
                char *s = cJSON_PrintUnformatted(line);
                if (!s || fputs(s, f) < 0 || fputc('\n', f) < 0) rc = 1;
                free(s);
                cJSON_Delete(line);
            }
            cJSON_Delete(c);
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(buf);
    if (fclose(f) != 0) rc = 1;
    if (!rc && rename(tmp, output) != 0) {
        fprintf(stderr, "automodel: %s: cannot write: %s\n", output, strerror(errno));
        rc = 1;
    }
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

int am_cli_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *cases = NULL, *output = NULL, *pair = NULL;
    bool no_special = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) output = argv[++i];
        else if (!strcmp(argv[i], "--pair") && i + 1 < argc) pair = argv[++i];
        else if (!strcmp(argv[i], "--no-special-tokens")) no_special = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: automodel tokenize TOKENIZER TEXT [--pair TEXT2] [--no-special-tokens]\n"
                   "       automodel tokenize TOKENIZER --cases CASES.jsonl --output OUT.jsonl\n");
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] == '-')
            return am_cli_usage_error("tokenize: unknown option '%s'", argv[i]);
        else if (!path) path = argv[i];
        else if (!text) text = argv[i];
        else return am_cli_usage_error("tokenize: unexpected argument '%s'", argv[i]);
    }
    if (!path) return am_cli_usage_error("tokenize: missing TOKENIZER (a folder or tokenizer.json)");
    if (cases && !output) return am_cli_usage_error("tokenize: --cases needs --output");
    if (!cases && !text) return am_cli_usage_error("tokenize: missing TEXT (or --cases CASES.jsonl --output OUT.jsonl)");
    am_tokenizer *tok = am_tokenizer_from_pretrained(path);
    if (!tok) return am_cli_fail(NULL);
    int rc = 0;
    if (cases) rc = run_cases(tok, cases, output);
    else {
        am_encode_options o = am_encode_options_default();
        o.add_special_tokens = !no_special;
        am_encoding *e = am_tokenizer_encode(tok, text, pair, &o);
        if (!e) rc = am_cli_fail("tokenize");
        else {
            size_t n = am_encoding_len(e);
            printf("%zu tokens\n%5s  %8s  %-12s  %s\n", n, "index", "id", "offsets", "token");
            for (size_t i = 0; i < n; i++) {
                size_t s, en;
                am_encoding_offsets(e, i, &s, &en);
                char off[32];
                snprintf(off, sizeof off, "[%zu, %zu)", s, en);
                printf("%5zu  %8d  %-12s  %s\n", i, (int)am_encoding_ids(e)[i], off, am_encoding_token(e, i));
            }
            printf("ids: [");
            for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", (int)am_encoding_ids(e)[i]);
            printf("]\n");
            am_decode_options d = am_decode_options_default();
            char *dec = am_tokenizer_decode(tok, am_encoding_ids(e), n, &d);
            if (dec) printf("decoded: %s\n", dec);
            am_free(dec);
            am_encoding_free(e);
        }
    }
    am_tokenizer_free(tok);
    return rc;
}
