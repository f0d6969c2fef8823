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

/* Output is written by hand: token strings and decoded texts may hold NUL characters. */
typedef struct obuf {
    char *d;
    size_t n, cap;
    bool failed;
} obuf;

static void oput(obuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->d, nc);
        if (!p) {
            b->failed = true;
            return;
        }
        b->d = p;
        b->cap = nc;
    }
    memcpy(b->d + b->n, s, n);
    b->n += n;
    b->d[b->n] = 0;
}
static void oputs(obuf *b, const char *s) { oput(b, s, strlen(s)); }
static void onum(obuf *b, long long v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    oputs(b, t);
}
static void ostr(obuf *b, const char *s, size_t n) {
    oput(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char t[8];
        if (c == '"' || c == '\\') {
            t[0] = '\\';
            t[1] = (char)c;
            oput(b, t, 2);
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (esc) oputs(b, esc);
            else {
                snprintf(t, sizeof t, "\\u%04x", c);
                oputs(b, t);
            }
        } else
            oput(b, (const char *)&c, 1);
    }
    oput(b, "\"", 1);
}

static void encoding_json(obuf *b, const am_tokenizer *tok, const am_encoding *e) {
    size_t n = am_encoding_len(e);
    const int32_t *ids = am_encoding_ids(e);
    oputs(b, "{\"ids\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) oputs(b, ",");
        onum(b, ids[i]);
    }
    oputs(b, "],\"tokens\":[");
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *t = am_encoding_token_n(e, i, &l);
        if (i) oputs(b, ",");
        ostr(b, t, l);
    }
    oputs(b, "],\"offsets\":[");
    for (size_t i = 0; i < n; i++) {
        size_t s, en;
        am_encoding_offsets(e, i, &s, &en);
        oputs(b, i ? ",[" : "[");
        onum(b, (long long)s);
        oputs(b, ",");
        onum(b, (long long)en);
        oputs(b, "]");
    }
    const uint8_t *u8s[2] = {am_encoding_attention_mask(e), am_encoding_special_tokens_mask(e)};
    const int32_t *i32s[3] = {am_encoding_type_ids(e), am_encoding_word_ids(e), am_encoding_sequence_ids(e)};
    static const char *order[5] = {"attention_mask", "type_ids", "special_tokens_mask", "word_ids", "sequence_ids"};
    for (int k = 0; k < 5; k++) {
        oputs(b, "],\"");
        oputs(b, order[k]);
        oputs(b, "\":[");
        for (size_t i = 0; i < n; i++) {
            if (i) oputs(b, ",");
            if (k == 0 || k == 2) onum(b, u8s[k == 2][i]);
            else {
                int32_t v = i32s[k == 1 ? 0 : k == 3 ? 1 : 2][i];
                if (v < 0 && k != 1) oputs(b, "null");
                else onum(b, v);
            }
        }
    }
    oputs(b, "]");
    static const char *names[4] = {"decode", "decode_skip_special", "transformers_decode", "transformers_decode_skip_special"};
    for (int k = 0; k < 4; k++) {
        am_decode_options d = am_decode_options_default();
        d.skip_special_tokens = k & 1;
        d.clean_up_tokenization_spaces = k >= 2 ? -1 : 0;
        size_t l = 0;
        char *s = am_tokenizer_decode_n(tok, ids, n, &d, &l);
        oputs(b, ",\"");
        oputs(b, names[k]);
        oputs(b, "\":");
        if (s) ostr(b, s, l);
        else oputs(b, "null");
        am_free(s);
    }
    oputs(b, "}");
}

static void error_json(obuf *b) {
    oputs(b, "{\"error\":");
    const char *m = am_last_error();
    ostr(b, m, strlen(m));
    oputs(b, "}");
}

/* JSON strings cannot carry NUL through cJSON: \u0000 escapes are parsed as U+F0000 and turned
 * back into NUL bytes (with explicit lengths) here. */
#define NUL_STANDIN "\xF3\xB0\x80\x80"
static char *nul_escape(const char *line, bool *used) {
    *used = false;
    if (!strstr(line, "\\u0000") || strstr(line, NUL_STANDIN)) return NULL;
    size_t n = strlen(line);
    char *o = malloc(n * 2 + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        if (line[i] == '\\' && i + 1 < n) {
            if (!strncmp(line + i, "\\u0000", 6)) {
                memcpy(o + j, "\\udb80\\udc00", 12);
                j += 12;
                i += 6;
                *used = true;
                continue;
            }
            o[j++] = line[i++];
            o[j++] = line[i++];
            continue;
        }
        o[j++] = line[i++];
    }
    o[j] = 0;
    return o;
}

/* In place: stand-ins back to NUL; returns the byte length. */
static size_t nul_restore(char *s) {
    size_t n = strlen(s), j = 0;
    for (size_t i = 0; i < n;) {
        if (i + 4 <= n && !memcmp(s + i, NUL_STANDIN, 4)) {
            s[j++] = 0;
            i += 4;
        } else
            s[j++] = s[i++];
    }
    s[j] = 0;
    return j;
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
            if (cJSON_IsNumber(v) && v->valuedouble >= 0) o->pad_length = (size_t)v->valuedouble;
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

static bool run_case(obuf *out, const am_tokenizer *tok, cJSON *c, char *err, size_t errn) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
    am_encode_options o;
    if (!parse_options(cJSON_GetObjectItemCaseSensitive(c, "options"), &o, err, errn)) return false;
    const char *k = cJSON_IsString(kind) ? kind->valuestring : "single";
    if (!strcmp(k, "single") || !strcmp(k, "pair")) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
        cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "text_pair");
        if (!cJSON_IsString(t) || (!strcmp(k, "pair") && !cJSON_IsString(p))) {
            snprintf(err, errn, "case needs 'text'%s", strcmp(k, "pair") ? "" : " and 'text_pair'");
            return false;
        }
        size_t tl = nul_restore(t->valuestring), pl = cJSON_IsString(p) ? nul_restore(p->valuestring) : 0;
        am_encoding *e = am_tokenizer_encode_n(tok, t->valuestring, tl, cJSON_IsString(p) ? p->valuestring : NULL, pl, &o);
        if (!e) error_json(out);
        else encoding_json(out, tok, e);
        am_encoding_free(e);
        return true;
    }
    if (!strcmp(k, "batch") || !strcmp(k, "batch_pair")) {
        bool pairs = !strcmp(k, "batch_pair");
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, pairs ? "pairs" : "texts");
        if (!cJSON_IsArray(arr)) {
            snprintf(err, errn, "case needs '%s'", pairs ? "pairs" : "texts");
            return false;
        }
        size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
        const char **a = calloc(n + 1, sizeof *a), **b = calloc(n + 1, sizeof *b);
        size_t *al = calloc(n + 1, sizeof *al), *bl = calloc(n + 1, sizeof *bl);
        am_encoding **encs = calloc(n + 1, sizeof *encs);
        cJSON *it;
        bool ok = a && b && al && bl && encs;
        cJSON_ArrayForEach(it, arr) {
            if (!ok) break;
            if (pairs) {
                if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(it->child) || !cJSON_IsString(it->child->next)) ok = false;
                else {
                    al[i] = nul_restore(it->child->valuestring);
                    bl[i] = nul_restore(it->child->next->valuestring);
                    a[i] = it->child->valuestring;
                    b[i] = it->child->next->valuestring;
                }
            } else if (!cJSON_IsString(it))
                ok = false;
            else {
                al[i] = nul_restore(it->valuestring);
                a[i] = it->valuestring;
            }
            i++;
        }
        if (!ok) snprintf(err, errn, "bad batch inputs");
        else if (am_tokenizer_encode_batch_n(tok, n, a, al, pairs ? b : NULL, pairs ? bl : NULL, &o, encs))
            error_json(out);
        else {
            oputs(out, "[");
            for (i = 0; i < n; i++) {
                if (i) oputs(out, ",");
                encoding_json(out, tok, encs[i]);
                am_encoding_free(encs[i]);
            }
            oputs(out, "]");
        }
        free(a);
        free(b);
        free(al);
        free(bl);
        free(encs);
        return ok;
    }
    snprintf(err, errn, "unknown case kind '%s'", k);
    return false;
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
            bool used;
            char *esc = nul_escape(p, &used);
            cJSON *c = cJSON_Parse(esc ? esc : p);
            free(esc);
            char err[256] = "";
            obuf line = {0};
            bool ok = false;
            if (!cJSON_IsObject(c)) snprintf(err, sizeof err, "not a JSON object");
            else {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
                char *ids = id ? cJSON_PrintUnformatted(id) : NULL;
                oputs(&line, "{\"id\":");
                oputs(&line, ids ? ids : "null");
                free(ids);
                oputs(&line, ",\"result\":");
                ok = run_case(&line, tok, c, err, sizeof err);
                oputs(&line, "}\n");
            }
            if (!ok) {
                fprintf(stderr, "automodel: %s:%zu: %s\n", cases, lineno, err);
                rc = 1;
            } else if (line.failed || fwrite(line.d, 1, line.n, f) != line.n)
                rc = 1;
            free(line.d);
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

typedef struct tok_ctx {
    const char *cases, *output;
    const char **pairs;
    size_t n_pairs;
    bool no_special, max_length_set, truncation_set;
    am_encode_options eo;
} tok_ctx;

static const am_cli_opt k_tokenize_opts[] = {
    {"output", NULL, required_argument, "FILE", "IN.safetensors: the tensors of tokenizer(TEXT..., return_tensors=\"pt\") "
                                                "(input_ids, attention_mask, token_type_ids when the tokenizer returns "
                                                "them, int64); with --cases: OUT.jsonl"},
    {"text-pair", "pair", required_argument, "TEXT", "text_pair: the second text (repeatable: one per TEXT)"},
    {"padding", NULL, optional_argument, "STRATEGY", "padding=True (longest), or longest, max_length, do_not_pad"},
    {"truncation", NULL, optional_argument, "STRATEGY", "truncation=True (longest_first), or longest_first, only_first, "
                                                        "only_second, do_not_truncate"},
    {"max-length", NULL, required_argument, "N", "max_length (truncation and padding=max_length; default: the "
                                                 "tokenizer's model_max_length)"},
    {"pad-token", NULL, required_argument, "TOKEN", "pad with TOKEN (tokenizer.pad_token = TOKEN; e.g. GPT-2's eos token)"},
    {"no-special-tokens", NULL, no_argument, NULL, "add_special_tokens=False"},
    {"cases", NULL, required_argument, "CASES.jsonl", "run the reference fixture's cases (one JSON object a line) into "
                                                      "--output OUT.jsonl"},
    {0},
};
const am_cli_cmd am_cli_cmd_tokenize = {"tokenize", "tokenize TOKENIZER TEXT... [--output IN.safetensors] [options] | TOKENIZER --cases CASES.jsonl --output OUT.jsonl",
                                        "Tokenize TEXT (TOKENIZER: a folder or a tokenizer.json): print tokens, ids and "
                                        "offsets, or write the model inputs forward --inputs takes.",
                                        k_tokenize_opts, false};

static int tok_opt(void *ctx, const char *name, const char *v) {
    tok_ctx *c = ctx;
    if (!strcmp(name, "cases")) c->cases = v;
    else if (!strcmp(name, "output")) c->output = v;
    else if (!strcmp(name, "no-special-tokens")) c->no_special = true;
    else if (!strcmp(name, "pad-token")) c->eo.pad_token = v;
    else if (!strcmp(name, "text-pair")) {
        const char **p = realloc(c->pairs, (c->n_pairs + 1) * sizeof *p);
        if (!p) return am_cli_usage_error("out of memory");
        c->pairs = p;
        p[c->n_pairs++] = v;
    } else if (!strcmp(name, "padding")) {
        if (!v || !strcmp(v, "longest") || !strcmp(v, "true") || !strcmp(v, "True")) c->eo.padding = AM_PADDING_LONGEST;
        else if (!strcmp(v, "max_length")) c->eo.padding = AM_PADDING_MAX_LENGTH;
        else if (!strcmp(v, "do_not_pad") || !strcmp(v, "false") || !strcmp(v, "False")) c->eo.padding = AM_PADDING_NONE;
        else return am_cli_usage_error("--padding takes no value, or longest, max_length, do_not_pad (not '%s')", v);
    } else if (!strcmp(name, "truncation")) {
        c->truncation_set = true;
        if (!v || !strcmp(v, "longest_first") || !strcmp(v, "true") || !strcmp(v, "True")) c->eo.truncation = AM_TRUNCATION_LONGEST_FIRST;
        else if (!strcmp(v, "only_first")) c->eo.truncation = AM_TRUNCATION_ONLY_FIRST;
        else if (!strcmp(v, "only_second")) c->eo.truncation = AM_TRUNCATION_ONLY_SECOND;
        else if (!strcmp(v, "do_not_truncate") || !strcmp(v, "false") || !strcmp(v, "False")) c->eo.truncation = AM_TRUNCATION_NONE;
        else return am_cli_usage_error("--truncation takes no value, or longest_first, only_first, only_second, do_not_truncate (not '%s')", v);
    } else if (!strcmp(name, "max-length")) {
        long long n;
        if (am_cli_int(name, v, 1, &n)) return 2;
        c->eo.max_length = (size_t)n;
        c->max_length_set = true;
    }
    return 0;
}

static void print_encoding(const am_tokenizer *tok, const am_encoding *e) {
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
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int am_cli_tokenize(int argc, char **argv) {
    tok_ctx c;
    memset(&c, 0, sizeof c);
    c.eo = am_encode_options_default();
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_tokenize, argc, argv, NULL, tok_opt, &c, &pos, &npos);
    const char *const *texts = rc ? NULL : (const char *const *)pos + 1;
    size_t n = npos > 1 ? (size_t)npos - 1 : 0;
    if (!rc && !npos) rc = am_cli_usage_error("tokenize: missing TOKENIZER (a folder or tokenizer.json)");
    if (!rc && c.cases && !c.output) rc = am_cli_usage_error("tokenize: --cases needs --output OUT.jsonl");
    if (!rc && c.cases && n) rc = am_cli_usage_error("tokenize: give either TEXT or --cases, not both");
    if (!rc && !c.cases && !n) rc = am_cli_usage_error("tokenize: missing TEXT (or --cases CASES.jsonl --output OUT.jsonl)");
    if (!rc && c.n_pairs && c.n_pairs != n) rc = am_cli_usage_error("tokenize: %zu --text-pair for %zu TEXT: give one per text", c.n_pairs, n);
    if (!rc && !c.cases && c.output && !ends_with(c.output, ".safetensors"))
        rc = am_cli_usage_error("tokenize: --output %s: the tensors are written as safetensors (name it *.safetensors)", c.output);
    if (rc) {
        free(c.pairs);
        return rc == AM_CLI_HELP ? 0 : rc;
    }
    c.eo.add_special_tokens = !c.no_special;
    if (c.max_length_set && !c.truncation_set && c.eo.padding == AM_PADDING_NONE) {
        /* transformers: max_length without truncation or padding truncates (longest_first), with this warning */
        fprintf(stderr, "Truncation was not explicitly activated but `max_length` is provided a specific value, please use "
                        "`--truncation` to explicitly truncate examples to max length. Defaulting to 'longest_first' "
                        "truncation strategy.\n");
        c.eo.truncation = AM_TRUNCATION_LONGEST_FIRST;
    }
    if (c.eo.padding == AM_PADDING_MAX_LENGTH) c.eo.pad_length = c.eo.max_length;
    am_tokenizer *tok = am_tokenizer_from_pretrained(pos[0]);
    if (!tok) {
        free(c.pairs);
        return am_cli_fail(NULL);
    }
    if (c.cases) rc = run_cases(tok, c.cases, c.output);
    else if (c.output) {
        am_tensors *t = am_tokenizer_encode_tensors(tok, n, texts, c.n_pairs ? c.pairs : NULL, &c.eo);
        if (!t) rc = am_cli_fail("tokenize");
        else if (am_tensors_save_safetensors(t, c.output) != AM_OK) rc = am_cli_fail(NULL);
        am_tensors_free(t);
    } else
        for (size_t i = 0; i < n && !rc; i++) {
            am_encoding *e = am_tokenizer_encode(tok, texts[i], c.n_pairs ? c.pairs[i] : NULL, &c.eo);
            if (!e) rc = am_cli_fail("tokenize");
            else print_encoding(tok, e);
            am_encoding_free(e);
        }
    am_tokenizer_free(tok);
    free(c.pairs);
    return rc;
}
