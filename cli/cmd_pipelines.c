/* cli/cmd_pipelines.c — `automodel classify | ner | qa | fill-mask`: one text (or question and
 * context) from the command line, or one input per line with --input-file (qa: JSON lines with
 * "question" and "context"), answered as transformers' pipelines answer, readable or --json. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct popts {
    am_pipeline_options po;
    am_cli_load load;
    const char *model, *text, *pair, *question, *context, *input_file;
    bool json;
    int (*extra)(struct popts *, const char *, const char *); /* the command's own options */
} popts;

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    long long x;
    if (am_cli_int(flag, v, lo, &x)) return 2;
    if (x > 1 << 30) return am_cli_usage_error("--%s: %lld is too large", flag, x);
    *out = (int)x;
    return 0;
}

/* The options every pipeline command takes, then the command's own. */
#define PIPELINE_OPTS                                                                                                   \
    {"json", NULL, no_argument, NULL, "one JSON result, as the pipeline returns it"},                                   \
        {"input-file", NULL, required_argument, "FILE", "one input a line ('-': stdin), JSON lines out"},               \
        {"batch-size", NULL, required_argument, "N", "inputs per forward call (default 32)"},                           \
        {"tokenizer", NULL, required_argument, "TOK", "the tokenizer folder (default: MODEL's)"}

static int common_opt(void *ctx, const char *name, const char *v) {
    popts *o = ctx;
    if (!strcmp(name, "json")) o->json = true;
    else if (!strcmp(name, "input-file")) o->input_file = v;
    else if (!strcmp(name, "tokenizer")) o->po.tokenizer = v;
    else if (!strcmp(name, "batch-size")) {
        int b = 0;
        if (parse_int(name, v, 1, &b)) return 2;
        o->po.batch_size = (size_t)b;
    } else
        return o->extra(o, name, v);
    return 0;
}

/* Parses the command line of a pipeline command: MODEL [TEXT]. */
static int parse(const am_cli_cmd *cmd, int argc, char **argv, popts *o, int (*extra)(popts *, const char *, const char *)) {
    o->po = am_pipeline_options_default();
    am_cli_load_init(&o->load);
    o->extra = extra;
    char **pos;
    int npos, rc = am_cli_parse(cmd, argc, argv, &o->load, common_opt, o, &pos, &npos);
    if (rc) return rc;
    if (npos > 2) return am_cli_usage_error("%s: unexpected argument '%s'", cmd->name, pos[2]);
    if (!npos) return am_cli_usage_error("%s: missing MODEL (a local folder or a hub id)", cmd->name);
    o->model = pos[0];
    o->text = npos > 1 ? pos[1] : NULL;
    o->po.model_task = o->load.task;
    o->po.load = &o->load.o;
    return am_cli_load_config(&o->load, o->model);
}

/* ---- output ---- */

static void print_human(am_task task, const am_pipeline_result *r) {
    size_t n = am_pipeline_result_count(r);
    if (task == AM_TASK_SPEECH_SEQ2SEQ) {
        printf("%s\n", am_pipeline_result_text(r));
        const am_transcript_chunk *c = am_pipeline_result_chunks(r);
        for (size_t i = 0; c && i < n; i++) {
            if (isnan(c[i].start)) printf("[  ?  ");
            else printf("[%.3f", c[i].start);
            if (isnan(c[i].end)) printf(" -   ?  ]");
            else printf(" - %.3f]", c[i].end);
            printf(" %s%s%s\n", c[i].language ? c[i].language : "", c[i].language ? ": " : "", c[i].text);
        }
    } else if (task == AM_TASK_SEQUENCE_CLASSIFICATION || task == AM_TASK_IMAGE_CLASSIFICATION || task == AM_TASK_AUDIO_CLASSIFICATION) {
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
    } else if (task == AM_TASK_OBJECT_DETECTION) {
        const am_detection *d = am_pipeline_result_detections(r);
        if (!n) printf("(no objects)\n");
        for (size_t i = 0; i < n; i++)
            printf("%-12s %.4f  box (%lld, %lld) - (%lld, %lld)\n", d[i].label, d[i].score, (long long)d[i].xmin, (long long)d[i].ymin,
                   (long long)d[i].xmax, (long long)d[i].ymax);
    } else if (task == AM_TASK_VISION2SEQ) {
        const am_generated_text *g = am_pipeline_result_generated(r);
        for (size_t i = 0; i < n; i++) printf("%s\n", g[i].generated_text);
    } else if (task == AM_TASK_IMAGE_SEGMENTATION) {
        const am_segment *g = am_pipeline_result_segments(r);
        for (size_t i = 0; i < n; i++) printf("%-12s %s\n", g[i].label, g[i].mask_path);
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

/* --input-file: one input per line (question answering: a JSON object with "question" and
 * "context"), answered in order, a chunk of lines per am_pipeline_call, JSON lines out. */
static int run_file(am_pipeline *p, am_task task, const char *path, const char *kwargs) {
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
    if (!lines || !res) {
        fprintf(stderr, "automodel: out of memory\n");
        rc = 1;
    }
    for (size_t c0 = 0; c0 < nl && !rc; c0 += chunk) {
        size_t m = nl - c0 < chunk ? nl - c0 : chunk;
        if (am_pipeline_call(p, m, (const char *const *)lines + c0, kwargs, res) != AM_OK) {
            rc = am_cli_fail(path);
        } else {
            for (size_t i = 0; i < m; i++) {
                if (emit(task, res[i], true, (long)(c0 + i + 1))) rc = 1;
                am_pipeline_result_free(res[i]);
            }
        }
        fflush(stdout);
    }
    free(res);
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
    if (o->input_file) rc = run_file(p, task, o->input_file, NULL);
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

static int finish(popts *o, int rc, am_task task) {
    if (!rc) rc = run(task, o);
    am_cli_load_free(&o->load);
    return rc == AM_CLI_HELP ? 0 : rc;
}

static const am_cli_opt k_classify_opts[] = {
    PIPELINE_OPTS,
    {"text-pair", NULL, required_argument, "T", "text_pair: the second text"},
    {"top-k", NULL, required_argument, "K|all", "top_k labels (default: the best one)"},
    {"function", NULL, required_argument, "F", "function_to_apply: softmax, sigmoid or none"},
    {0},
};
const am_cli_cmd am_cli_cmd_classify = {"classify", "classify MODEL (TEXT | --input-file F) [options]",
                                        "pipeline(\"text-classification\"): labels and scores.", k_classify_opts, true};

static int cls_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "top-k")) {
        if (!strcmp(v, "all")) o->po.top_k = -1;
        else if (parse_int(a, v, 1, &o->po.top_k)) return 2;
    } else if (!strcmp(a, "function")) {
        if (!strcmp(v, "softmax")) o->po.function = AM_FUNCTION_SOFTMAX;
        else if (!strcmp(v, "sigmoid")) o->po.function = AM_FUNCTION_SIGMOID;
        else if (!strcmp(v, "none")) o->po.function = AM_FUNCTION_NONE;
        else return am_cli_usage_error("--function must be softmax, sigmoid or none, not '%s'", v);
    } else if (!strcmp(a, "text-pair"))
        o->pair = v;
    return 0;
}

int am_cli_classify(int argc, char **argv) {
    popts o;
    memset(&o, 0, sizeof o);
    return finish(&o, parse(&am_cli_cmd_classify, argc, argv, &o, cls_extra), AM_TASK_SEQUENCE_CLASSIFICATION);
}

static const am_cli_opt k_ner_opts[] = {
    PIPELINE_OPTS,
    {"aggregation", NULL, required_argument, "A", "aggregation_strategy: none, simple, first, average or max"},
    {0},
};
const am_cli_cmd am_cli_cmd_ner = {"ner", "ner MODEL (TEXT | --input-file F) [options]",
                                   "pipeline(\"token-classification\"): entities with scores and character spans.", k_ner_opts, true};

static int ner_extra(popts *o, const char *a, const char *v) {
    (void)a;
    static const char *names[] = {"none", "simple", "first", "average", "max"};
    for (int k = 0; k < 5; k++)
        if (!strcmp(v, names[k])) {
            o->po.aggregation = (am_aggregation)k;
            return 0;
        }
    return am_cli_usage_error("--aggregation must be none, simple, first, average or max, not '%s'", v);
}

int am_cli_ner(int argc, char **argv) {
    popts o;
    memset(&o, 0, sizeof o);
    return finish(&o, parse(&am_cli_cmd_ner, argc, argv, &o, ner_extra), AM_TASK_TOKEN_CLASSIFICATION);
}

static const am_cli_opt k_qa_opts[] = {
    PIPELINE_OPTS,
    {"question", NULL, required_argument, "Q", "the question"},
    {"context", NULL, required_argument, "C", "the text holding the answer"},
    {"top-k", NULL, required_argument, "K", "top_k answers (default 1)"},
    {"max-answer-len", NULL, required_argument, "N", "max_answer_len in tokens (default 15)"},
    {"max-seq-len", NULL, required_argument, "N", "max_seq_len of a window (default: min(model max, 384))"},
    {"doc-stride", NULL, required_argument, "N", "doc_stride: overlap of windows (default: min(max_seq_len / 2, 128))"},
    {"handle-impossible-answer", NULL, no_argument, NULL, "handle_impossible_answer=True"},
    {0},
};
const am_cli_cmd am_cli_cmd_qa = {"qa", "qa MODEL (--question Q --context C | --input-file F) [options]",
                                  "pipeline(\"question-answering\"): the answer span in the context.", k_qa_opts, true};

static int qa_extra(popts *o, const char *a, const char *v) {
    if (!strcmp(a, "question")) o->question = v;
    else if (!strcmp(a, "context")) o->context = v;
    else if (!strcmp(a, "top-k")) return parse_int(a, v, 1, &o->po.top_k);
    else if (!strcmp(a, "max-answer-len")) return parse_int(a, v, 1, &o->po.max_answer_len);
    else if (!strcmp(a, "max-seq-len")) return parse_int(a, v, 1, &o->po.max_seq_len);
    else if (!strcmp(a, "doc-stride")) return parse_int(a, v, 1, &o->po.doc_stride);
    else if (!strcmp(a, "handle-impossible-answer")) o->po.handle_impossible_answer = true;
    return 0;
}

int am_cli_qa(int argc, char **argv) {
    popts o;
    memset(&o, 0, sizeof o);
    int rc = parse(&am_cli_cmd_qa, argc, argv, &o, qa_extra);
    if (!rc && o.text) rc = am_cli_usage_error("qa: unexpected argument '%s' (use --question and --context)", o.text);
    return finish(&o, rc, AM_TASK_QUESTION_ANSWERING);
}

static const am_cli_opt k_fill_mask_opts[] = {
    PIPELINE_OPTS,
    {"top-k", NULL, required_argument, "K", "top_k fills per mask (default 5)"},
    {0},
};
const am_cli_cmd am_cli_cmd_fill_mask = {"fill-mask", "fill-mask MODEL (TEXT | --input-file F) [options]",
                                         "pipeline(\"fill-mask\"): the likeliest tokens for each mask token.", k_fill_mask_opts, true};

static int fm_extra(popts *o, const char *a, const char *v) {
    (void)a;
    return parse_int("top-k", v, 1, &o->po.top_k);
}

int am_cli_fill_mask(int argc, char **argv) {
    popts o;
    memset(&o, 0, sizeof o);
    return finish(&o, parse(&am_cli_cmd_fill_mask, argc, argv, &o, fm_extra), AM_TASK_MASKED_LM);
}

/* ---- automodel pipeline TASK MODEL INPUT... ---- */

/* Every call keyword argument of every pipeline is a dashed flag (the loaded task's own are
 * checked after loading); booleans take an optional value. */
#define KW_VALUE(name, meta, help) {name, NULL, required_argument, meta, help}
#define KW_BOOL(name, help) {name, NULL, optional_argument, "BOOL", help}
static const am_cli_opt k_pipeline_opts[] = {
    PIPELINE_OPTS,
    {"output-dir", NULL, required_argument, "DIR", "image-segmentation: where the mask PNGs go (default: .)"},
    KW_VALUE("top-k", "K", "top_k (text-classification, question-answering, fill-mask, image-classification, audio-classification)"),
    KW_VALUE("function-to-apply", "F", "function_to_apply (text-classification): softmax, sigmoid or none"),
    KW_VALUE("aggregation-strategy", "A", "aggregation_strategy (token-classification): none, simple, first, average, max"),
    KW_VALUE("question", "Q", "question (question-answering)"),
    KW_VALUE("context", "C", "context (question-answering)"),
    KW_VALUE("doc-stride", "N", "doc_stride (question-answering)"),
    KW_VALUE("max-answer-len", "N", "max_answer_len (question-answering)"),
    KW_VALUE("max-seq-len", "N", "max_seq_len (question-answering)"),
    KW_BOOL("handle-impossible-answer", "handle_impossible_answer (question-answering)"),
    KW_VALUE("threshold", "X", "threshold (object-detection: default 0.9; image-segmentation)"),
    KW_VALUE("max-new-tokens", "N", "max_new_tokens (image-to-text, automatic-speech-recognition)"),
    KW_VALUE("generate-kwargs", "JSON", "generate_kwargs (image-to-text, automatic-speech-recognition): a dict, e.g. '{\"max_new_tokens\": 4}'"),
    KW_VALUE("subtask", "S", "subtask (image-segmentation): semantic"),
    KW_VALUE("mask-threshold", "X", "mask_threshold (image-segmentation)"),
    KW_VALUE("overlap-mask-area-threshold", "X", "overlap_mask_area_threshold (image-segmentation)"),
    KW_VALUE("return-timestamps", "T", "return_timestamps (automatic-speech-recognition): char or word (CTC), true (Whisper)"),
    KW_VALUE("chunk-length-s", "S", "chunk_length_s (automatic-speech-recognition): cut long audio into chunks of S seconds"),
    KW_VALUE("stride-length-s", "S", "stride_length_s (automatic-speech-recognition): overlap on each side, S or [LEFT, RIGHT] "
                                     "(default chunk_length_s / 6)"),
    KW_BOOL("return-language", "return_language (automatic-speech-recognition, Whisper)"),
    {0},
};
const am_cli_cmd am_cli_cmd_pipeline = {
    "pipeline", "pipeline TASK MODEL INPUT... [--json] [--output-dir D] [--batch-size N] [--input-file F] [--KWARG VALUE ...]",
    "pipeline(TASK, model=MODEL)(INPUT..., **kwargs): text-classification (classify), token-classification (ner), "
    "question-answering (qa), fill-mask, image-classification, object-detection, image-segmentation, image-to-text, "
    "audio-classification, automatic-speech-recognition (asr).",
    k_pipeline_opts, true};

typedef struct pl_cli {
    popts o;
    const char *output_dir;
    cJSON *kwargs;
} pl_cli;

static int pl_opt(void *ctx, const char *name, const char *v) {
    pl_cli *c = ctx;
    if (!strcmp(name, "json")) c->o.json = true;
    else if (!strcmp(name, "input-file")) c->o.input_file = v;
    else if (!strcmp(name, "tokenizer")) c->o.po.tokenizer = v;
    else if (!strcmp(name, "output-dir")) c->output_dir = v;
    else if (!strcmp(name, "batch-size")) {
        int b = 0;
        if (parse_int(name, v, 1, &b)) return 2;
        c->o.po.batch_size = (size_t)b;
    } else { /* a keyword argument: --top-k 3 -> "top_k": 3 */
        char key[64];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof key; i++) key[i] = name[i] == '-' ? '_' : name[i];
        key[i] = 0;
        cJSON *j = am_cli_kwarg_value(v);
        if (!j) return am_cli_usage_error("out of memory");
        cJSON_DeleteItemFromObjectCaseSensitive(c->kwargs, key);
        cJSON_AddItemToObject(c->kwargs, key, j);
    }
    return 0;
}

/* The flags given that the task does not take: refused, naming the ones it does. */
static int check_kwargs(const am_pipeline *p, const char *task, const cJSON *kw) {
    char flag[64], takes[512];
    if (am_cli_unknown_kwarg(kw, am_pipeline_call_kwargs(p), flag, sizeof flag, takes, sizeof takes))
        return am_cli_usage_error("pipeline: --%s is not a keyword argument of the %s pipeline (it takes %s)", flag, task,
                                  *takes ? takes : "none");
    return 0;
}

int am_cli_pipeline(int argc, char **argv) {
    pl_cli c;
    memset(&c, 0, sizeof c);
    c.o.po = am_pipeline_options_default();
    am_cli_load_init(&c.o.load);
    c.kwargs = cJSON_CreateObject();
    char **owned = NULL, **pos = NULL;
    size_t n_owned = 0;
    int nargc = 0, npos = 0, rc = 0;
    am_pipeline *p = NULL;
    char *kwj = NULL;
    am_pipeline_result **res = NULL;
    char **nargv = c.kwargs ? am_cli_kwargs_argv(k_pipeline_opts, NULL, argc, argv, &nargc, &owned, &n_owned) : NULL;
    if (!nargv) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    rc = am_cli_parse(&am_cli_cmd_pipeline, nargc, nargv, &c.o.load, pl_opt, &c, &pos, &npos);
    if (rc) goto done;
    if (npos < 2) {
        rc = am_cli_usage_error("pipeline: missing %s (automodel pipeline TASK MODEL INPUT...)", npos ? "MODEL" : "TASK");
        goto done;
    }
    am_task task;
    if (am_pipeline_task_parse(pos[0], &task) != AM_OK) {
        rc = am_cli_usage_error("pipeline: %s", am_last_error());
        goto done;
    }
    size_t n = (size_t)(npos - 2);
    bool qa_kw = task == AM_TASK_QUESTION_ANSWERING && (cJSON_GetObjectItemCaseSensitive(c.kwargs, "question") ||
                                                        cJSON_GetObjectItemCaseSensitive(c.kwargs, "context"));
    if (c.o.input_file && n) {
        rc = am_cli_usage_error("pipeline: give the inputs on the command line or --input-file, not both");
        goto done;
    }
    if (!c.o.input_file && !n && !qa_kw) {
        rc = am_cli_usage_error("pipeline: no INPUT (%s; or --input-file FILE, '-' for stdin)",
                                task == AM_TASK_QUESTION_ANSWERING ? "--question Q --context C, or JSON objects"
                                : am_task_name(task) && (task == AM_TASK_IMAGE_CLASSIFICATION || task == AM_TASK_OBJECT_DETECTION ||
                                                         task == AM_TASK_IMAGE_SEGMENTATION || task == AM_TASK_VISION2SEQ)
                                    ? "image files"
                                : task == AM_TASK_AUDIO_CLASSIFICATION || task == AM_TASK_SPEECH_SEQ2SEQ ? "audio files"
                                                                                                         : "texts");
        goto done;
    }
    c.o.po.output_dir = c.output_dir;
    c.o.po.model_task = c.o.load.task;
    c.o.po.load = &c.o.load.o;
    if ((rc = am_cli_load_config(&c.o.load, pos[1]))) goto done;
    p = am_pipeline_new(task, pos[1], &c.o.po);
    if (!p) {
        rc = am_cli_fail(NULL);
        goto done;
    }
    if ((rc = check_kwargs(p, pos[0], c.kwargs))) goto done;
    kwj = cJSON_PrintUnformatted(c.kwargs);
    if (!kwj) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    if (c.o.input_file) {
        rc = run_file(p, task, c.o.input_file, kwj);
        goto done;
    }
    size_t nres = n ? n : 1;
    res = calloc(nres, sizeof *res);
    if (!res) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    if (am_pipeline_call(p, n, (const char *const *)pos + 2, kwj, res) != AM_OK) {
        rc = am_cli_fail(NULL);
        goto done;
    }
    if (c.o.json && nres > 1) { /* several inputs: the list of their results */
        for (size_t i = 0; i < nres; i++)
            if (am_pipeline_result_error(res[i])) {
                fprintf(stderr, "automodel: %s\n", am_pipeline_result_error(res[i]));
                rc = 1;
            }
        char *s = am_pipeline_results_json((const am_pipeline_result *const *)res, nres);
        if (!s) rc = am_cli_fail(NULL);
        else puts(s);
        am_free(s);
    } else
        for (size_t i = 0; i < nres; i++) {
            if (!c.o.json && nres > 1) printf("%s:\n", pos[2 + i]);
            if (emit(task, res[i], c.o.json, 0)) rc = 1;
        }
done:
    if (res)
        for (size_t i = 0; i < (npos > 2 ? (size_t)(npos - 2) : 1); i++) am_pipeline_result_free(res[i]);
    free(res);
    am_free(kwj);
    am_pipeline_free(p);
    cJSON_Delete(c.kwargs);
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(nargv);
    am_cli_load_free(&c.o.load);
    return rc == AM_CLI_HELP ? 0 : rc;
}
