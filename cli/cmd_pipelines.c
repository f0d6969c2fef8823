/* cli/cmd_pipelines.c — `automodel classify | ner | qa | fill-mask`: one text (or question and
 * context) from the command line, or one input per line with --input-file (qa: JSON lines with
 * "question" and "context"), answered as transformers' pipelines answer, readable or --json. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct popts {
    am_pipeline_options po;
    am_load_options lo;
    am_task task;
    const char *model, *text, *pair, *question, *context, *input_file;
    bool json;
} popts;

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > 1 << 30) return am_cli_usage_error("%s needs an integer >= %d", flag, lo);
    *out = (int)x;
    return 0;
}

/* Options shared by the pipeline commands; `extra` handles the command's own ones (returns 1 when
 * it consumed argv[i] and argv[i+1], 0 when argv[i] only, -1 when unknown, >= 2 for a usage error). */
static int parse(int argc, char **argv, popts *o, int (*extra)(popts *, const char *, const char *)) {
    o->po = am_pipeline_options_default();
    o->lo = am_load_options_default();
    o->po.load = &o->lo;
    const char *pos[2] = {0};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (npos == 2) return am_cli_usage_error("%s: unexpected argument '%s'", argv[0], a);
            pos[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--local-files-only")) {
            o->lo.local_files_only = true;
            continue;
        }
        int r = extra ? extra(o, a, v) : -1;
        if (r >= 2) return r;
        if (r == 0) continue;
        if (r == 1) {
            i++;
            continue;
        }
        if (!v) return am_cli_usage_error("%s: unknown option '%s' (or it needs a value)", argv[0], a);
        if (!strcmp(a, "--input-file")) o->input_file = v;
        else if (!strcmp(a, "--batch-size")) {
            int b;
            if (parse_int(a, v, 1, &b)) return 2;
            o->po.batch_size = (size_t)b;
        } else if (!strcmp(a, "--task")) {
            if (am_task_parse(v, &o->po.model_task) != AM_OK) return am_cli_usage_error("--task: %s", am_last_error());
        } else if (!strcmp(a, "--dtype")) {
            if (am_dtype_parse(v, &o->lo.dtype) != AM_OK) return am_cli_usage_error("--dtype: %s", am_last_error());
        } else if (!strcmp(a, "--attn"))
            o->lo.attn = !strcmp(v, "eager") ? AM_ATTN_EAGER : !strcmp(v, "sdpa") ? AM_ATTN_SDPA : AM_ATTN_DEFAULT;
        else if (!strcmp(a, "--revision")) o->lo.revision = v;
        else if (!strcmp(a, "--cache-dir")) o->lo.cache_dir = v;
        else if (!strcmp(a, "--device-map")) o->lo.device_map = v;
        else if (!strcmp(a, "--tokenizer")) o->po.tokenizer = v;
        else return am_cli_usage_error("%s: unknown option '%s'", argv[0], a);
        i++;
    }
    if (!npos) return am_cli_usage_error("%s: missing MODEL (a local folder or a hub id)", argv[0]);
    o->model = pos[0];
    o->text = npos > 1 ? pos[1] : NULL;
    return 0;
}

/* ---- output ---- */

static void print_human(am_task task, const am_pipeline_result *r) {
    size_t n = am_pipeline_result_count(r);
    if (task == AM_TASK_SEQUENCE_CLASSIFICATION) {
        const am_label_score *l = am_pipeline_result_labels(r);
        for (size_t i = 0; i < n; i++) printf("%-12s %.4f\n", l[i].label, l[i].score);
    } else if (task == AM_TASK_TOKEN_CLASSIFICATION) {
        const am_entity *e = am_pipeline_result_entities(r);
        if (!n) printf("(no entities)\n");
        for (size_t i = 0; i < n; i++)
            printf("%-20s %-10s %.4f  [%lld, %lld)\n", e[i].word, e[i].entity, e[i].score, (long long)e[i].start, (long long)e[i].end);
    } else if (task == AM_TASK_QUESTION_ANSWERING) {
        const am_answer *a = am_pipeline_result_answers(r);
        if (!n) printf("(no answer)\n");
        for (size_t i = 0; i < n; i++) printf("%s  (score %.4f, characters %lld-%lld)\n", a[i].answer, a[i].score, (long long)a[i].start, (long long)a[i].end);
    } else {
        const am_mask_fill *f = am_pipeline_result_fills(r);
        size_t nm = am_pipeline_result_num_masks(r), k = nm ? n / nm : 0;
        for (size_t m = 0; m < nm; m++) {
            if (nm > 1) printf("mask %zu:\n", m + 1);
            for (size_t i = 0; i < k; i++) printf("%.4f  %-14s %s\n", f[m * k + i].score, f[m * k + i].token_str, f[m * k + i].sequence);
        }
    }
}

/* Prints one result; returns 0, or 1 for a failed input. */
static int emit(am_task task, const am_pipeline_result *r, bool json, long line) {
    const char *err = am_pipeline_result_error(r);
    if (err) {
        if (line > 0) fprintf(stderr, "automodel: line %ld: %s\n", line, err);
        else fprintf(stderr, "automodel: %s\n", err);
    }
    if (json || line > 0) {
        char *s = am_pipeline_result_json(r);
        if (s) puts(s);
        am_free(s);
    } else if (!err)
        print_human(task, r);
    return err ? 1 : 0;
}

static char *read_input(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
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
    if (f != stdin) fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* --input-file: one input per line, answered in order, a chunk of lines per am_pipeline_run. */
static int run_file(am_pipeline *p, am_task task, const char *path) {
    size_t len;
    char *data = read_input(path, &len);
    if (!data) {
        fprintf(stderr, "automodel: %s: cannot read the input file\n", path);
        return 1;
    }
    size_t nl = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *s = data; lines && s < data + len;) {
        char *e = memchr(s, '\n', (size_t)(data + len - s));
        if (!e) e = data + len;
        *e = 0;
        if (e > s && e[-1] == '\r') e[-1] = 0;
        if (nl == cap) {
            char **v = realloc(lines, 2 * cap * sizeof *v);
            if (!v) break;
            lines = v;
            cap *= 2;
        }
        lines[nl++] = s;
        s = e + 1;
    }
    int rc = 0;
    const size_t chunk = 1024;
    am_pipeline_result **res = malloc(chunk * sizeof *res);
    const char **texts = malloc(chunk * sizeof *texts), **pairs = malloc(chunk * sizeof *pairs);
    cJSON **js = calloc(chunk, sizeof *js);
    if (!lines || !res || !texts || !pairs || !js) {
        fprintf(stderr, "automodel: out of memory\n");
        rc = 1;
    }
    for (size_t c0 = 0; c0 < nl && !rc; c0 += chunk) {
        size_t m = nl - c0 < chunk ? nl - c0 : chunk;
        for (size_t i = 0; i < m; i++) {
            texts[i] = lines[c0 + i];
            pairs[i] = NULL;
            js[i] = NULL;
            if (task == AM_TASK_QUESTION_ANSWERING) { /* {"question": ..., "context": ...} */
                js[i] = cJSON_Parse(lines[c0 + i]);
                const cJSON *q = cJSON_GetObjectItemCaseSensitive(js[i], "question"), *c = cJSON_GetObjectItemCaseSensitive(js[i], "context");
                texts[i] = cJSON_IsString(q) ? q->valuestring : NULL;
                pairs[i] = cJSON_IsString(c) ? c->valuestring : NULL;
                if (!texts[i] || !pairs[i]) texts[i] = pairs[i] = "";
            }
        }
        if (am_pipeline_run(p, m, texts, task == AM_TASK_QUESTION_ANSWERING ? pairs : NULL, res) != AM_OK) {
            rc = am_cli_fail(path);
        } else {
            for (size_t i = 0; i < m; i++) {
                if (task == AM_TASK_QUESTION_ANSWERING && !js[i]) {
                    fprintf(stderr, "automodel: line %zu: not a JSON object with \"question\" and \"context\"\n", c0 + i + 1);
                    puts("{\"error\": \"not a JSON object with \\\"question\\\" and \\\"context\\\"\"}");
                    rc = 1;
                } else if (emit(task, res[i], true, (long)(c0 + i + 1)))
                    rc = 1;
                am_pipeline_result_free(res[i]);
            }
        }
        for (size_t i = 0; i < m; i++) cJSON_Delete(js[i]);
        fflush(stdout);
    }
    free(js);
    free(res);
    free(texts);
    free(pairs);
    free(lines);
    free(data);
    return rc;
}

static int run(am_task task, popts *o) {
    if (!o->input_file && !o->text && task != AM_TASK_QUESTION_ANSWERING)
        return am_cli_usage_error("missing TEXT (or --input-file FILE, '-' for stdin)");
    if (task == AM_TASK_QUESTION_ANSWERING && !o->input_file && (!o->question || !o->context))
        return am_cli_usage_error("qa: --question Q and --context C are required (or --input-file FILE of JSON lines)");
    if (o->input_file && (o->text || o->question || o->context))
        return am_cli_usage_error("give either the input on the command line or --input-file, not both");
    am_pipeline *p = am_pipeline_new(task, o->model, &o->po);
    if (!p) return am_cli_fail(NULL);
    int rc;
    if (o->input_file) rc = run_file(p, task, o->input_file);
    else {
        const char *t = task == AM_TASK_QUESTION_ANSWERING ? o->question : o->text;
        const char *q = task == AM_TASK_QUESTION_ANSWERING ? o->context : o->pair;
        am_pipeline_result *r = NULL;
        if (am_pipeline_run(p, 1, &t, q ? &q : NULL, &r) != AM_OK) rc = am_cli_fail(NULL);
        else rc = emit(task, r, o->json, 0);
        am_pipeline_result_free(r);
    }
    am_pipeline_free(p);
    return rc;
}

/* ---- the commands ---- */

static int cls_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "--top-k")) {
        if (v && !strcmp(v, "all")) o->po.top_k = -1;
        else if (parse_int(a, v, 1, &o->po.top_k)) return 2;
        return 1;
    }
    if (!strcmp(a, "--function")) {
        if (!v) return am_cli_usage_error("--function needs softmax, sigmoid or none");
        if (!strcmp(v, "softmax")) o->po.function = AM_FUNCTION_SOFTMAX;
        else if (!strcmp(v, "sigmoid")) o->po.function = AM_FUNCTION_SIGMOID;
        else if (!strcmp(v, "none")) o->po.function = AM_FUNCTION_NONE;
        else return am_cli_usage_error("--function must be softmax, sigmoid or none, not '%s'", v);
        return 1;
    }
    if (!strcmp(a, "--text-pair") && v) {
        o->pair = v;
        return 1;
    }
    return -1;
}

int am_cli_classify(int argc, char **argv) {
    popts o = {0};
    int rc = parse(argc, argv, &o, cls_extra);
    return rc ? rc : run(AM_TASK_SEQUENCE_CLASSIFICATION, &o);
}

static int ner_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "--aggregation")) {
        static const char *names[] = {"none", "simple", "first", "average", "max"};
        for (int k = 0; v && k < 5; k++)
            if (!strcmp(v, names[k])) {
                o->po.aggregation = (am_aggregation)k;
                return 1;
            }
        return am_cli_usage_error("--aggregation must be none, simple, first, average or max");
    }
    return -1;
}

int am_cli_ner(int argc, char **argv) {
    popts o = {0};
    int rc = parse(argc, argv, &o, ner_extra);
    return rc ? rc : run(AM_TASK_TOKEN_CLASSIFICATION, &o);
}

static int qa_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "--question") && v) return o->question = v, 1;
    if (!strcmp(a, "--context") && v) return o->context = v, 1;
    if (!strcmp(a, "--top-k")) return parse_int(a, v, 1, &o->po.top_k) ? 2 : 1;
    if (!strcmp(a, "--max-answer-len")) return parse_int(a, v, 1, &o->po.max_answer_len) ? 2 : 1;
    if (!strcmp(a, "--max-seq-len")) return parse_int(a, v, 1, &o->po.max_seq_len) ? 2 : 1;
    if (!strcmp(a, "--doc-stride")) return parse_int(a, v, 1, &o->po.doc_stride) ? 2 : 1;
    if (!strcmp(a, "--handle-impossible-answer")) return o->po.handle_impossible_answer = true, 0;
    return -1;
}

int am_cli_qa(int argc, char **argv) {
    popts o = {0};
    int rc = parse(argc, argv, &o, qa_extra);
    if (!rc && o.text) return am_cli_usage_error("qa: unexpected argument '%s' (use --question and --context)", o.text);
    return rc ? rc : run(AM_TASK_QUESTION_ANSWERING, &o);
}

static int fm_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "--top-k")) return parse_int(a, v, 1, &o->po.top_k) ? 2 : 1;
    return -1;
}

int am_cli_fill_mask(int argc, char **argv) {
    popts o = {0};
    int rc = parse(argc, argv, &o, fm_extra);
    return rc ? rc : run(AM_TASK_MASKED_LM, &o);
}
