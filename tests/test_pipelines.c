/* tests/test_pipelines.c — pipeline post-processing against hand-computed expectations: classify
 * scores (softmax / sigmoid / none, top-k, pairs, padding, truncation), NER grouping on crafted
 * logits (none / simple / first / average / max, [UNK] words, the no-prefix heuristic), QA span
 * selection (crafted logits, stride windows, word-aligned offsets, a multi-window run checked by
 * brute force), fill-mask top-k, and the errors (empty text, invalid UTF-8, wrong head). The
 * expected numbers come from am_model_forward on hand-built input_ids, never from the pipeline. */
#include "harness.h"
#include "pipelines/pipeline.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_tok[4096];
static int g_warned;
static void log_cb(am_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == AM_LOG_WARNING && strstr(msg, "truncated to 64 tokens")) g_warned++;
}

static am_pipeline *make(am_task task, const char *model, const am_config *cfg, am_pipeline_options *po) {
    am_load_options lo = am_load_options_default();
    lo.config = cfg;
    am_pipeline_options o = po ? *po : am_pipeline_options_default();
    o.load = &lo;
    o.tokenizer = g_tok;
    am_pipeline *p = am_pipeline_new(task, am_test_fixture(model), &o);
    CHECKF(p != NULL, "pipeline on %s: %s", model, am_last_error());
    return p;
}

/* Raw model output `name` for one sequence of ids (attention all ones, type ids given or 0). */
static float *forward_ids(am_model *m, const int32_t *ids, const int32_t *tt, size_t n, const char *name, size_t *count) {
    int64_t shape[2] = {1, (int64_t)n};
    am_tensor *a = am_tensor_new(AM_I64, 2, shape), *b = am_tensor_new(AM_I64, 2, shape), *c = am_tensor_new(AM_I64, 2, shape);
    int64_t *pa = am_tensor_data(a), *pb = am_tensor_data(b), *pc = am_tensor_data(c);
    for (size_t i = 0; i < n; i++) pa[i] = ids[i], pb[i] = 1, pc[i] = tt ? tt[i] : 0;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", a);
    am_tensors_set(in, "attention_mask", b);
    am_tensors_set(in, "token_type_ids", c);
    am_tensors *out = am_model_forward(m, in, NULL);
    float *r = NULL;
    if (out) {
        am_tensor *t = am_tensors_get(out, name);
        *count = (size_t)am_tensor_numel(t);
        r = malloc(*count * sizeof *r);
        memcpy(r, am_tensor_cdata(t), *count * sizeof *r);
    }
    CHECKF(out != NULL, "forward: %s", am_last_error());
    am_tensors_free(out);
    am_tensors_free(in);
    am_tensor_free(a);
    am_tensor_free(b);
    am_tensor_free(c);
    return r;
}

static void softmax_d(const float *x, size_t n, double *out) {
    double mx = -INFINITY, s = 0;
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (size_t i = 0; i < n; i++) s += out[i] = exp((double)x[i] - mx);
    for (size_t i = 0; i < n; i++) out[i] /= s;
}

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 2e-6 + 1e-5 * fabs((double)(b)))

/* ---------------------------------------------------------------- classify */

static void test_classify(void) {
    am_pipeline *p = make(AM_TASK_SEQUENCE_CLASSIFICATION, "models/bert_seqcls", NULL, NULL);
    if (!p) return;
    am_model *m = am_pipeline_model(p);
    const int32_t ids[] = {2, 5, 69, 71, 72, 5, 73, 3}; /* [CLS] the cat sat on the mat [SEP] */
    size_t nl;
    float *lg = forward_ids(m, ids, NULL, 8, "logits", &nl);
    CHECK(nl == 3);
    double sm[3];
    softmax_d(lg, 3, sm);
    int best = 0;
    for (int i = 1; i < 3; i++)
        if (sm[i] > sm[best]) best = i;
    static const char *labels[] = {"negative", "neutral", "positive"};

    am_pipeline_result *r = am_pipeline_run1(p, "The cat sat on the mat", NULL);
    CHECK(r && am_pipeline_result_count(r) == 1);
    const am_label_score *l = am_pipeline_result_labels(r);
    if (l) {
        CHECKF(!strcmp(l[0].label, labels[best]), "best label %s, want %s", l[0].label, labels[best]);
        CHECKF(NEAR(l[0].score, sm[best]), "softmax %.9f vs %.9f", l[0].score, sm[best]);
    }
    char *js = am_pipeline_result_json(r);
    CHECKF(js && !strncmp(js, "[{\"label\": \"", 12), "legacy JSON shape: %s", js);
    am_free(js);
    am_pipeline_result_free(r);

    /* top_k all, sigmoid, none, top_k 2 */
    am_pipeline_options o = am_pipeline_options_default();
    for (int mode = 0; mode < 4; mode++) {
        o.top_k = mode == 3 ? 2 : -1;
        o.function = mode == 0 ? AM_FUNCTION_DEFAULT : mode == 1 ? AM_FUNCTION_SIGMOID : mode == 2 ? AM_FUNCTION_NONE : AM_FUNCTION_SOFTMAX;
        p->o.top_k = o.top_k;
        p->o.function = o.function;
        r = am_pipeline_run1(p, "the cat sat on the mat", NULL);
        size_t k = am_pipeline_result_count(r);
        CHECKF(k == (mode == 3 ? 2u : 3u), "mode %d count %zu", mode, k);
        l = am_pipeline_result_labels(r);
        for (size_t i = 0; l && i < k; i++) {
            int id = l[i].id;
            double want = mode == 1 ? 1.0 / (1.0 + exp(-(double)lg[id])) : mode == 2 ? lg[id] : sm[id];
            CHECKF(NEAR(l[i].score, want), "mode %d label %s: %.9f vs %.9f", mode, l[i].label, l[i].score, want);
            CHECK(!strcmp(l[i].label, labels[id]));
            if (i) CHECKF(l[i - 1].score >= l[i].score, "mode %d not sorted", mode);
        }
        am_pipeline_result_free(r);
    }
    p->o.top_k = 0;
    p->o.function = AM_FUNCTION_DEFAULT;

    /* a pair: [CLS] a [SEP] b [SEP] with token types 0 / 1 */
    const int32_t pid[] = {2, 5, 69, 3, 5, 70, 3}, ptt[] = {0, 0, 0, 0, 1, 1, 1};
    size_t n2;
    float *lp = forward_ids(m, pid, ptt, 7, "logits", &n2);
    double sp[3];
    softmax_d(lp, 3, sp);
    r = am_pipeline_run1(p, "the cat", "the dog");
    l = am_pipeline_result_labels(r);
    if (l) CHECKF(NEAR(l[0].score, sp[l[0].id]), "pair score %.9f vs %.9f", l[0].score, sp[l[0].id]);
    am_pipeline_result_free(r);
    free(lp);

    /* a batch with padding and per-input errors */
    const char *texts[] = {"the cat sat on the mat", "", "red", "\xff\xfe bad", "the big old dog sat on the small green mat by the park"};
    am_pipeline_result *rs[5];
    p->o.batch_size = 2;
    CHECK_OK(am_pipeline_run(p, 5, texts, NULL, rs));
    CHECK(rs[0] && !am_pipeline_result_error(rs[0]) && NEAR(am_pipeline_result_labels(rs[0])[0].score, sm[best]));
    CHECKF(rs[1] && am_pipeline_result_error(rs[1]) && strstr(am_pipeline_result_error(rs[1]), "empty"), "empty text error");
    CHECKF(rs[3] && am_pipeline_result_error(rs[3]) && strstr(am_pipeline_result_error(rs[3]), "UTF-8"), "UTF-8 error: %s",
           rs[3] ? am_pipeline_result_error(rs[3]) : "");
    CHECK(rs[2] && !am_pipeline_result_error(rs[2]) && rs[4] && !am_pipeline_result_error(rs[4]));
    js = am_pipeline_result_json(rs[1]);
    CHECKF(js && !strncmp(js, "{\"error\": ", 10), "error JSON %s", js);
    am_free(js);
    for (int i = 0; i < 5; i++) am_pipeline_result_free(rs[i]);
    CHECK(am_pipeline_run1(p, "", NULL) == NULL && strstr(am_last_error(), "empty"));
    p->o.batch_size = 32;
    free(lg);

    /* longer than the model's 64 positions: truncated to [CLS] + 62 tokens + [SEP], with a warning */
    char longtext[2048] = "";
    int32_t lids[64];
    lids[0] = 2;
    for (int i = 0; i < 70; i++) {
        strcat(longtext, i % 2 ? "dog " : "cat ");
        if (i < 62) lids[1 + i] = i % 2 ? 70 : 69;
    }
    lids[63] = 3;
    CHECK(am_pipeline_max_length(p) == 64);
    lg = forward_ids(m, lids, NULL, 64, "logits", &nl);
    softmax_d(lg, 3, sm);
    am_log_level lvl = am_log_get_level();
    am_log_set_level(AM_LOG_WARNING);
    am_log_set_callback(log_cb, NULL);
    r = am_pipeline_run1(p, longtext, NULL);
    am_log_set_callback(NULL, NULL);
    am_log_set_level(lvl);
    CHECKF(g_warned == 1, "one truncation warning, got %d", g_warned);
    CHECK(r && am_pipeline_result_truncated(r));
    l = am_pipeline_result_labels(r);
    if (l) CHECKF(NEAR(l[0].score, sm[l[0].id]), "truncated input score %.9f vs %.9f", l[0].score, sm[l[0].id]);
    am_pipeline_result_free(r);
    free(lg);
    am_pipeline_free(p);

    /* problem_type multi_label_classification: sigmoid by default */
    am_config *cfg = am_config_from_pretrained(am_test_fixture("models/bert_seqcls"));
    CHECK_OK(am_config_set_string(cfg, "problem_type", "multi_label_classification"));
    o = am_pipeline_options_default();
    o.top_k = -1;
    p = make(AM_TASK_SEQUENCE_CLASSIFICATION, "models/bert_seqcls", cfg, &o);
    if (p) {
        lg = forward_ids(am_pipeline_model(p), ids, NULL, 8, "logits", &nl);
        r = am_pipeline_run1(p, "the cat sat on the mat", NULL);
        l = am_pipeline_result_labels(r);
        double tot = 0;
        for (size_t i = 0; l && i < am_pipeline_result_count(r); i++) {
            CHECK(NEAR(l[i].score, 1.0 / (1.0 + exp(-(double)lg[l[i].id]))));
            tot += l[i].score;
        }
        CHECKF(fabs(tot - 1.0) > 1e-3, "multi-label scores should not sum to 1 (%f)", tot);
        am_pipeline_result_free(r);
        free(lg);
        am_pipeline_free(p);
    }
    am_config_free(cfg);

    /* a model without the head the pipeline needs */
    am_pipeline_options wo = am_pipeline_options_default();
    wo.tokenizer = g_tok;
    CHECK(am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, am_test_fixture("models/bert_tokcls"), &wo) == NULL);
    CHECKF(strstr(am_last_error(), "token-classification") && strstr(am_last_error(), "BertForTokenClassification"), "wrong-head error: %s",
           am_last_error());
    CHECK(am_pipeline_new(AM_TASK_MASKED_LM, am_test_fixture("models/bert_qa"), &wo) == NULL);
    CHECKF(strstr(am_last_error(), "question-answering"), "wrong-head error: %s", am_last_error());
}

/* ---------------------------------------------------------------- NER */

static am_config *ner_config(void) {
    am_config *cfg = am_config_from_pretrained(am_test_fixture("models/bert_tokcls"));
    CHECK_OK(am_config_set_json(cfg, "id2label", "{\"0\": \"O\", \"1\": \"B-PER\", \"2\": \"I-PER\", \"3\": \"B-LOC\", \"4\": \"I-LOC\"}"));
    CHECK_OK(am_config_set_json(cfg, "label2id", "{\"O\": 0, \"B-PER\": 1, \"I-PER\": 2, \"B-LOC\": 3, \"I-LOC\": 4}"));
    return cfg;
}

typedef struct want_ent {
    const char *entity, *word;
    int start, end;
    int index;
    double score;
} want_ent;

static void check_ents(const char *what, am_pipeline_result *r, const want_ent *w, size_t n) {
    CHECKF(r && am_pipeline_result_count(r) == n, "%s: %zu entities, want %zu", what, am_pipeline_result_count(r), n);
    const am_entity *e = am_pipeline_result_entities(r);
    for (size_t i = 0; e && i < n && i < am_pipeline_result_count(r); i++) {
        CHECKF(!strcmp(e[i].entity, w[i].entity), "%s[%zu]: entity %s, want %s", what, i, e[i].entity, w[i].entity);
        CHECKF(!strcmp(e[i].word, w[i].word), "%s[%zu]: word '%s', want '%s'", what, i, e[i].word, w[i].word);
        CHECKF(e[i].start == w[i].start && e[i].end == w[i].end, "%s[%zu]: [%lld, %lld), want [%d, %d)", what, i, (long long)e[i].start,
               (long long)e[i].end, w[i].start, w[i].end);
        CHECKF(e[i].index == w[i].index, "%s[%zu]: index %lld, want %d", what, i, (long long)e[i].index, w[i].index);
        CHECKF(NEAR(e[i].score, w[i].score), "%s[%zu]: score %.9f, want %.9f", what, i, e[i].score, w[i].score);
    }
}

static double pmax(const float *row) {
    double s[5];
    softmax_d(row, 5, s);
    double m = 0;
    for (int i = 0; i < 5; i++) m = s[i] > m ? s[i] : m;
    return m;
}

static void test_ner(void) {
    am_config *cfg = ner_config();
    am_pipeline *p = make(AM_TASK_TOKEN_CLASSIFICATION, "models/bert_tokcls", cfg, NULL);
    if (!p) {
        am_config_free(cfg);
        return;
    }
    const char *text = "John Smith lives in New York near Microsoft. Zzz";
    am_encoding *e = am_tokenizer_encode(am_pipeline_tokenizer(p), text, NULL, NULL);
    CHECK(e && am_encoding_len(e) == 13);
    if (!e || am_encoding_len(e) != 13) return;
    /* tokens: [CLS] john smith lives in new york near micro ##soft . [UNK] [SEP]; labels O B-PER I-PER B-LOC I-LOC */
    const float L[13][5] = {
        {5, 0, 0, 0, 0},     {0, 5, 1, 0, 0},     {0, 1, 4, 0, 0}, {6, 0, 0, 0, 0},     {3, 0, 0, 1, 0},
        {0, 0, 0, 4, 1},     {0, 0, 0, 1, 3.5f},  {4, 0, 0, 0, 0}, {0, 0, 0, 3, 2.5f}, {0, 0, 5, 0, 4.5f},
        {5, 0, 0, 0, 0},     {0, 2, 0, 0, 0},     {5, 0, 0, 0, 0},
    };
    am__ner_token toks[13];
    for (size_t i = 0; i < 13; i++) {
        toks[i].id = am_encoding_ids(e)[i];
        toks[i].token = am_encoding_token(e, i);
        am_encoding_offsets(e, i, &toks[i].start, &toks[i].end);
        toks[i].special = am_encoding_special_tokens_mask(e)[i];
    }
    size_t tl = strlen(text);
    double sm8[5], sm9[5];
    softmax_d(L[8], 5, sm8);
    softmax_d(L[9], 5, sm9);

    am_pipeline_result *r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_NONE);
    const want_ent none[] = {
        {"B-PER", "john", 0, 4, 1, pmax(L[1])},       {"I-PER", "smith", 5, 10, 2, pmax(L[2])},
        {"B-LOC", "new", 20, 23, 5, pmax(L[5])},      {"I-LOC", "york", 24, 28, 6, pmax(L[6])},
        {"B-LOC", "micro", 34, 39, 8, pmax(L[8])},    {"I-PER", "##soft", 39, 43, 9, pmax(L[9])},
        {"B-PER", "Zzz", 45, 48, 11, pmax(L[11])}, /* [UNK]: the word from the text */
    };
    check_ents("none", r, none, 7);
    char *js = am_pipeline_result_json(r);
    CHECKF(js && strstr(js, "{\"entity\": \"B-PER\", \"score\": ") && strstr(js, "\"index\": 1, \"word\": \"john\", \"start\": 0, \"end\": 4}"),
           "none JSON: %s", js);
    am_free(js);
    am_pipeline_result_free(r);

    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_SIMPLE);
    const want_ent simple[] = {
        {"PER", "john smith", 0, 10, -1, (pmax(L[1]) + pmax(L[2])) / 2},
        {"LOC", "new york", 20, 28, -1, (pmax(L[5]) + pmax(L[6])) / 2},
        {"LOC", "micro", 34, 39, -1, pmax(L[8])},
        {"PER", "##soft", 39, 43, -1, pmax(L[9])}, /* another tag: a new group; the lone piece keeps its ## */
        {"PER", "Zzz", 45, 48, -1, pmax(L[11])},
    };
    check_ents("simple", r, simple, 5);
    js = am_pipeline_result_json(r);
    CHECKF(js && strstr(js, "{\"entity_group\": \"PER\", \"score\": ") && !strstr(js, "\"index\""), "simple JSON: %s", js);
    am_free(js);
    am_pipeline_result_free(r);

    /* word strategies: "microsoft" is one word of two tokens */
    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_FIRST);
    const want_ent first[] = {
        {"PER", "john smith", 0, 10, -1, (pmax(L[1]) + pmax(L[2])) / 2},
        {"LOC", "new york", 20, 28, -1, (pmax(L[5]) + pmax(L[6])) / 2},
        {"LOC", "microsoft", 34, 43, -1, sm8[3]},
        {"PER", "Zzz", 45, 48, -1, pmax(L[11])},
    };
    check_ents("first", r, first, 4);
    am_pipeline_result_free(r);

    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_MAX);
    want_ent mx[4];
    memcpy(mx, first, sizeof mx);
    mx[2] = (want_ent){"PER", "microsoft", 34, 43, -1, sm9[2]}; /* ##soft's 0.61 beats micro's 0.57 */
    check_ents("max", r, mx, 4);
    am_pipeline_result_free(r);

    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_AVERAGE);
    want_ent av[4];
    memcpy(av, first, sizeof av);
    av[2] = (want_ent){"LOC", "microsoft", 34, 43, -1, (sm8[4] + sm9[4]) / 2}; /* I-LOC averages highest */
    CHECK((sm8[4] + sm9[4]) > (sm8[2] + sm9[2]) && (sm8[4] + sm9[4]) > (sm8[3] + sm9[3]));
    check_ents("average", r, av, 4);
    am_pipeline_result_free(r);

    /* ignore_labels without "O" keeps the O groups */
    p->ignore[0][0] = 0; /* ignore_labels = [""] */
    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_SIMPLE);
    CHECKF(am_pipeline_result_count(r) == 8, "with O kept: %zu groups", am_pipeline_result_count(r));
    if (am_pipeline_result_count(r) == 8) {
        CHECK(!strcmp(am_pipeline_result_entities(r)[1].entity, "O"));
        CHECK(!strcmp(am_pipeline_result_entities(r)[1].word, "lives in"));
        CHECK(!strcmp(am_pipeline_result_entities(r)[6].word, "."));
    }
    am_pipeline_result_free(r);
    p->ignore[0][0] = 'O';

    /* without a continuing-subword prefix: transformers' space heuristic decides words */
    p->ti.subword_prefix = false;
    r = am__ner_postprocess(p, text, tl, toks, 13, &L[0][0], 5, AM_AGGREGATION_FIRST);
    /* "." follows "microsoft" without a space, so it joins that word (and takes micro's label) */
    const want_ent heur[] = {
        {"PER", "john smith", 0, 10, -1, (pmax(L[1]) + pmax(L[2])) / 2},
        {"LOC", "new york", 20, 28, -1, (pmax(L[5]) + pmax(L[6])) / 2},
        {"LOC", "microsoft.", 34, 44, -1, sm8[3]},
        {"PER", "Zzz", 45, 48, -1, pmax(L[11])},
    };
    check_ents("heuristic", r, heur, 4);
    am_pipeline_result_free(r);
    p->ti.subword_prefix = true;
    am_encoding_free(e);

    /* through the model: every token's label is the argmax of its logits */
    const char *t2 = "John lives in Paris";
    r = am_pipeline_run1(p, t2, NULL);
    const int32_t ids[] = {2, 16, 18, 9, 12, 3};
    size_t n;
    float *lg = forward_ids(am_pipeline_model(p), ids, NULL, 6, "logits", &n);
    static const char *lab[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    static const char *words[] = {"john", "lives", "in", "paris"};
    static const int starts[] = {0, 5, 11, 14}, ends[] = {4, 10, 13, 19};
    want_ent w[4];
    size_t nw = 0;
    for (int i = 1; i <= 4; i++) {
        int b = 0;
        for (int k = 1; k < 5; k++)
            if (lg[i * 5 + k] > lg[i * 5 + b]) b = k;
        if (b) w[nw++] = (want_ent){lab[b], words[i - 1], starts[i - 1], ends[i - 1], i, pmax(lg + i * 5)};
    }
    check_ents("model", r, w, nw);
    am_pipeline_result_free(r);
    free(lg);
    am_pipeline_free(p);
    am_config_free(cfg);
}

/* ---------------------------------------------------------------- QA */

/* brute force over one window: the best (start, end) of context tokens (p_mask 0, not index 0) */
static double brute_best(const float *sl, const float *el, const uint8_t *pm, size_t n, size_t max_len, size_t *bs, size_t *be) {
    double s[64], e[64], mxs = -INFINITY, mxe = -INFINITY, ss = 0, se = 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = pm[i] ? -10000.0 : sl[i];
        e[i] = pm[i] ? -10000.0 : el[i];
        mxs = s[i] > mxs ? s[i] : mxs;
        mxe = e[i] > mxe ? e[i] : mxe;
    }
    for (size_t i = 0; i < n; i++) ss += s[i] = exp(s[i] - mxs), se += e[i] = exp(e[i] - mxe);
    double best = -1;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j < n && j - i < max_len; j++)
            if (!pm[i] && !pm[j] && s[i] / ss * e[j] / se > best) best = s[i] / ss * e[j] / se, *bs = i, *be = j;
    return best;
}

static void test_qa(void) {
    /* crafted logits: [CLS] q q [SEP] c c c c [SEP] */
    const uint8_t pm[9] = {0, 1, 1, 1, 0, 0, 0, 0, 1};
    const float sl[9] = {9, 8, 8, 0, 1, 3, 2, 0, 0}, el[9] = {9, 0, 7, 0, 0, 1, 2.5f, 2, 0};
    size_t st[4], en[4];
    double sc[4], null = 1e6;
    size_t m = am__qa_decode(sl, el, pm, 9, 1, 15, false, &null, st, en, sc);
    /* by hand: masked softmax over positions 0 and 4..7, then position 0 zeroed */
    double zs = exp(9) + exp(1) + exp(3) + exp(2) + exp(0), ze = exp(9) + exp(0) + exp(1) + exp(2.5) + exp(2);
    CHECK(m == 1 && st[0] == 5 && en[0] == 6);
    CHECKF(m && NEAR(sc[0], exp(3) / zs * exp(2.5) / ze), "span score %.9g vs %.9g", sc[0], exp(3) / zs * exp(2.5) / ze);
    /* max_answer_len 1: only single tokens */
    m = am__qa_decode(sl, el, pm, 9, 1, 1, false, &null, st, en, sc);
    CHECK(m == 1 && st[0] == 6 && en[0] == 6 && NEAR(sc[0], exp(2) / zs * exp(2.5) / ze)); /* e^4.5 beats e^4 */
    /* top 3, best first; spans touching the question are dropped */
    m = am__qa_decode(sl, el, pm, 9, 3, 15, true, &null, st, en, sc);
    CHECK(m == 3 && st[0] == 5 && en[0] == 6 && st[1] == 5 && en[1] == 7 && st[2] == 6 && en[2] == 6);
    CHECK(m == 3 && sc[0] >= sc[1] && sc[1] >= sc[2] && NEAR(sc[2], exp(2) / zs * exp(2.5) / ze));
    CHECKF(NEAR(null, exp(9) / zs * exp(9) / ze), "min_null_score %.9g", null);

    am_pipeline_options o = am_pipeline_options_default();
    o.max_seq_len = 16;
    o.doc_stride = 4;
    am_pipeline *p = make(AM_TASK_QUESTION_ANSWERING, "models/bert_qa", NULL, &o);
    if (!p) return;
    /* 30 one-token words: windows of 16 - 3 question - 3 special = 10 context tokens, step 6 */
    static const char *w30[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                "red", "blue", "green", "big", "small", "old", "cat", "dog", "sat", "on",
                                "mat", "cafe", "play", "park", "house", "street", "near", "by", "with", "from"};
    char ctx[512] = "";
    int cstart[30], cend[30];
    for (int i = 0; i < 30; i++) {
        if (i) strcat(ctx, " ");
        cstart[i] = (int)strlen(ctx);
        strcat(ctx, w30[i]);
        cend[i] = (int)strlen(ctx);
    }
    const char *q = "where is paris";
    am_encoding *enc = am_tokenizer_encode(am_pipeline_tokenizer(p), q, ctx, NULL);
    am__qa_feature *fs = NULL;
    size_t nf = 0;
    CHECK_OK(am__qa_features(p, enc, 16, 4, &fs, &nf));
    CHECKF(nf == 5, "%zu windows, want 5", nf);
    static const size_t w0[] = {0, 6, 12, 18, 24};
    for (size_t f = 0; f < nf && f < 5; f++) {
        size_t len = f < 4 ? 16 : 12;
        CHECKF(fs[f].n == len, "window %zu: %zu tokens", f, fs[f].n);
        CHECK(fs[f].ids[0] == 2 && fs[f].ids[1] == 28 && fs[f].ids[2] == 7 && fs[f].ids[3] == 12 && fs[f].ids[4] == 3);
        CHECK(fs[f].ids[fs[f].n - 1] == 3);
        for (size_t k = 5; k + 1 < fs[f].n; k++) {
            int word = (int)(w0[f] + k - 5);
            CHECKF(fs[f].ids[k] == am_tokenizer_token_to_id(am_pipeline_tokenizer(p), w30[word]), "window %zu token %zu", f, k);
            CHECK(fs[f].type_ids[k] == 1 && fs[f].p_mask[k] == 0 && (int)fs[f].starts[k] == cstart[word]);
        }
        CHECK(fs[f].p_mask[0] == 0 && fs[f].p_mask[1] == 1 && fs[f].p_mask[4] == 1 && fs[f].p_mask[fs[f].n - 1] == 1);
        CHECK(fs[f].type_ids[2] == 0 && fs[f].type_ids[fs[f].n - 1] == 1);
    }
    /* the pipeline's answer = the best span over all windows, by brute force on each window's logits */
    double best = -1;
    int bw0 = 0, bw1 = 0;
    for (size_t f = 0; f < nf; f++) {
        size_t n1, n2, bs = 0, be = 0;
        float *a = forward_ids(am_pipeline_model(p), fs[f].ids, fs[f].type_ids, fs[f].n, "start_logits", &n1);
        float *b = forward_ids(am_pipeline_model(p), fs[f].ids, fs[f].type_ids, fs[f].n, "end_logits", &n2);
        double v = brute_best(a, b, fs[f].p_mask, fs[f].n, 15, &bs, &be);
        if (v > best) best = v, bw0 = (int)(w0[f] + bs - 5), bw1 = (int)(w0[f] + be - 5);
        free(a);
        free(b);
    }
    am_pipeline_result *r = am_pipeline_run1(p, q, ctx);
    const am_answer *a = am_pipeline_result_answers(r);
    CHECK(r && am_pipeline_result_count(r) == 1);
    if (a) {
        CHECKF(a[0].start == cstart[bw0] && a[0].end == cend[bw1], "answer [%lld, %lld) '%s', want [%d, %d)", (long long)a[0].start,
               (long long)a[0].end, a[0].answer, cstart[bw0], cend[bw1]);
        CHECKF(NEAR(a[0].score, best), "answer score %.9g vs %.9g", a[0].score, best);
        char want[256];
        snprintf(want, sizeof want, "%.*s", cend[bw1] - cstart[bw0], ctx + cstart[bw0]);
        CHECK(!strcmp(a[0].answer, want));
    }
    char *js = am_pipeline_result_json(r);
    CHECKF(js && !strncmp(js, "{\"score\": ", 10) && strstr(js, "\"answer\": "), "qa JSON: %s", js);
    am_free(js);
    am_pipeline_result_free(r);
    /* top 3 across windows, best first */
    p->o.top_k = 3;
    r = am_pipeline_run1(p, q, ctx);
    a = am_pipeline_result_answers(r);
    CHECK(r && am_pipeline_result_count(r) == 3 && a && NEAR(a[0].score, best) && a[0].score >= a[1].score && a[1].score >= a[2].score);
    js = am_pipeline_result_json(r);
    CHECK(js && js[0] == '[');
    am_free(js);
    am_pipeline_result_free(r);
    p->o.top_k = 0;
    am__qa_features_free(fs, nf);
    am_encoding_free(enc);

    /* word-aligned offsets: a span starting or ending inside "microsoft" covers the word */
    enc = am_tokenizer_encode(am_pipeline_tokenizer(p), "who", "john works at microsoft today", NULL);
    CHECK_OK(am__qa_features(p, enc, 64, 4, &fs, &nf));
    /* [CLS] who [SEP] john works at micro ##soft [UNK] [SEP] */
    size_t cs, ce;
    if (nf == 1 && fs[0].n == 10) {
        am__qa_char_span(&fs[0], 7, 7, &cs, &ce);
        CHECKF(cs == 14 && ce == 23, "##soft -> [%zu, %zu)", cs, ce);
        am__qa_char_span(&fs[0], 4, 6, &cs, &ce);
        CHECKF(cs == 5 && ce == 23, "works..micro -> [%zu, %zu)", cs, ce);
    } else
        CHECKF(0, "features %zu / %zu tokens", nf, nf ? fs[0].n : 0);
    am__qa_features_free(fs, nf);
    am_encoding_free(enc);

    /* errors: empty question or context, a question too long for max_seq_len */
    CHECK(am_pipeline_run1(p, "", ctx) == NULL && strstr(am_last_error(), "question"));
    CHECK(am_pipeline_run1(p, q, "") == NULL && strstr(am_last_error(), "context"));
    CHECK(am_pipeline_run1(p, "one two three four five six seven eight nine ten one two three", "cat") == NULL &&
          strstr(am_last_error(), "too long"));
    am_pipeline_free(p);
}

/* ---------------------------------------------------------------- fill-mask */

static void test_fill_mask(void) {
    am_pipeline_options o = am_pipeline_options_default();
    am_pipeline *p = make(AM_TASK_MASKED_LM, "models/bert_mlm", NULL, &o);
    if (!p) return;
    const int32_t ids[] = {2, 12, 7, 5, 4, 8, 13, 31, 3}; /* [CLS] paris is the [MASK] of france . [SEP] */
    size_t n;
    float *lg = forward_ids(am_pipeline_model(p), ids, NULL, 9, "logits", &n);
    CHECK(n == 9 * 99);
    double sm[99];
    softmax_d(lg + 4 * 99, 99, sm);
    int top[5];
    for (int k = 0; k < 5; k++) {
        top[k] = -1;
        for (int v = 0; v < 99; v++) {
            bool used = false;
            for (int j = 0; j < k; j++) used |= top[j] == v;
            if (!used && (top[k] < 0 || sm[v] > sm[top[k]])) top[k] = v;
        }
    }
    am_pipeline_result *r = am_pipeline_run1(p, "Paris is the [MASK] of France.", NULL);
    CHECK(r && am_pipeline_result_count(r) == 5 && am_pipeline_result_num_masks(r) == 1);
    const am_mask_fill *f = am_pipeline_result_fills(r);
    const am_tokenizer *tok = am_pipeline_tokenizer(p);
    for (int k = 0; f && k < 5; k++) {
        CHECKF(f[k].token == top[k], "top %d: token %d, want %d", k, f[k].token, top[k]);
        CHECKF(NEAR(f[k].score, sm[top[k]]), "top %d: %.9g vs %.9g", k, f[k].score, sm[top[k]]);
        const char *ts = am_tokenizer_id_to_token(tok, top[k]);
        if (isalpha((unsigned char)ts[0])) {
            CHECKF(!strcmp(f[k].token_str, ts), "token_str '%s' vs '%s'", f[k].token_str, ts);
            char want[128];
            snprintf(want, sizeof want, "paris is the %s of france.", ts);
            CHECKF(!strcmp(f[k].sequence, want), "sequence '%s', want '%s'", f[k].sequence, want);
        }
    }
    char *js = am_pipeline_result_json(r);
    CHECKF(js && !strncmp(js, "[{\"score\": ", 11) && strstr(js, "\"token_str\": ") && strstr(js, "\"sequence\": "), "JSON %s", js);
    am_free(js);
    am_pipeline_result_free(r);
    free(lg);

    p->o.top_k = 2;
    r = am_pipeline_run1(p, "[MASK] is the capital of [MASK].", NULL);
    CHECK(r && am_pipeline_result_num_masks(r) == 2 && am_pipeline_result_count(r) == 4);
    f = am_pipeline_result_fills(r);
    if (f) CHECKF(strstr(f[0].sequence, "[MASK]") != NULL, "several masks keep the others visible: %s", f[0].sequence);
    js = am_pipeline_result_json(r);
    CHECKF(js && !strncmp(js, "[[{", 3), "JSON %s", js);
    am_free(js);
    am_pipeline_result_free(r);

    CHECK(am_pipeline_run1(p, "Paris is the capital of France.", NULL) == NULL && strstr(am_last_error(), "No mask_token ([MASK])"));
    am_pipeline_free(p);
}

/* ---------------------------------------------------------------- the CLI */

/* The CLI's --json output equals the API's JSON for the same input and options. */
static void cli_same(const char *cmd_args, am_pipeline_result *r) {
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s --tokenizer %s 2>/dev/null", getenv("AM_CLI"), cmd_args, g_tok);
    int rc = am_test_run(cmd, &out);
    char *want = am_pipeline_result_json(r);
    size_t n = out ? strlen(out) : 0;
    if (n && out[n - 1] == '\n') out[n - 1] = 0;
    CHECKF(rc == 0 && out && want && !strcmp(out, want), "%s\n got  %s\n want %s", cmd_args, out ? out : "", want ? want : "");
    am_free(want);
    free(out);
}

static void test_cli(void) {
    if (!getenv("AM_CLI")) return;
    char args[2048];
    am_config *cfg = NULL;
    am_pipeline_options o = am_pipeline_options_default();
    o.aggregation = AM_AGGREGATION_SIMPLE;
    am_pipeline *p = make(AM_TASK_TOKEN_CLASSIFICATION, "models/bert_tokcls", cfg, &o);
    am_pipeline_result *r = p ? am_pipeline_run1(p, "John Smith lives in New York near Microsoft", NULL) : NULL;
    snprintf(args, sizeof args, "ner %s 'John Smith lives in New York near Microsoft' --aggregation simple --json", am_test_fixture("models/bert_tokcls"));
    if (r) cli_same(args, r);
    /* the generic command, by transformers' task name, with the call keyword argument as a flag */
    snprintf(args, sizeof args, "pipeline token-classification %s 'John Smith lives in New York near Microsoft' --aggregation-strategy simple --json",
             am_test_fixture("models/bert_tokcls"));
    if (r) cli_same(args, r);
    am_pipeline_result_free(r);
    am_pipeline_free(p);

    o = am_pipeline_options_default();
    o.top_k = 2;
    o.max_seq_len = 16;
    o.doc_stride = 4;
    p = make(AM_TASK_QUESTION_ANSWERING, "models/bert_qa", NULL, &o);
    const char *ctx = "one two three four five six seven eight nine ten red blue green big small old cat dog sat on";
    r = p ? am_pipeline_run1(p, "where is paris", ctx) : NULL;
    snprintf(args, sizeof args, "qa %s --question 'where is paris' --context '%s' --top-k 2 --max-seq-len 16 --doc-stride 4 --json",
             am_test_fixture("models/bert_qa"), ctx);
    if (r) cli_same(args, r);
    snprintf(args, sizeof args, "pipeline question-answering %s --question 'where is paris' --context '%s' --top-k 2 --max-seq-len 16 --doc-stride 4 --json",
             am_test_fixture("models/bert_qa"), ctx);
    if (r) cli_same(args, r);
    /* a dict input {"question", "context"}, and the same through am_pipeline_call with kwargs */
    snprintf(args, sizeof args, "pipeline qa %s '{\"question\": \"where is paris\", \"context\": \"%s\"}' --top-k 2 --max-seq-len 16 --doc-stride 4 --json",
             am_test_fixture("models/bert_qa"), ctx);
    if (r) cli_same(args, r);
    if (p && r) {
        am_pipeline_options d = am_pipeline_options_default();
        am_pipeline *p2 = make(AM_TASK_QUESTION_ANSWERING, "models/bert_qa", NULL, &d);
        char kw[1024];
        snprintf(kw, sizeof kw, "{\"question\": \"where is paris\", \"context\": \"%s\", \"top_k\": 2, \"max_seq_len\": 16, \"doc_stride\": 4}", ctx);
        am_pipeline_result *r2 = NULL;
        CHECK_OK(p2 ? am_pipeline_call(p2, 0, NULL, kw, &r2) : AM_ERR_INTERNAL);
        char *a = r2 ? am_pipeline_result_json(r2) : NULL, *b = am_pipeline_result_json(r);
        CHECKF(a && b && !strcmp(a, b), "am_pipeline_call qa: %s vs %s", a ? a : "", b ? b : "");
        am_free(a);
        am_free(b);
        am_pipeline_result_free(r2);
        /* the call's kwargs last for the call only: the pipeline's own settings come back */
        r2 = p2 ? am_pipeline_run1(p2, "where is paris", ctx) : NULL;
        CHECK(r2 && am_pipeline_result_count(r2) == 1);
        am_pipeline_result_free(r2);
        CHECK(p2 && am_pipeline_call(p2, 0, NULL, "{\"topk\": 2}", &r2) == AM_ERR_INVALID_ARGUMENT &&
              strstr(am_last_error(), "'topk' is not a keyword argument of the question-answering pipeline (it takes question, context, top_k"));
        am_pipeline_free(p2);
    }
    /* batch: JSON lines, one answer per line, a bad line answered with an error */
    char file[4096];
    snprintf(file, sizeof file, "%s/am_qa_%d.jsonl", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(file, "wb");
    fprintf(f, "{\"question\": \"where is paris\", \"context\": \"%s\"}\nnot json\n{\"question\": \"where is paris\", \"context\": \"%s\"}\n", ctx, ctx);
    fclose(f);
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s qa %s --tokenizer %s --top-k 2 --max-seq-len 16 --doc-stride 4 --input-file %s 2>/dev/null", getenv("AM_CLI"),
             am_test_fixture("models/bert_qa"), g_tok, file);
    int rc = am_test_run(cmd, &out);
    char *want = r ? am_pipeline_result_json(r) : NULL;
    char *l1 = out ? strtok(out, "\n") : NULL, *l2 = strtok(NULL, "\n"), *l3 = strtok(NULL, "\n");
    CHECKF(rc == 1 && want && l1 && l3 && !strcmp(l1, want) && !strcmp(l3, want) && l2 && strstr(l2, "\"error\""), "qa batch: %s / %s / %s", l1, l2, l3);
    am_free(want);
    free(out);
    remove(file);
    am_pipeline_result_free(r);
    am_pipeline_free(p);

    o = am_pipeline_options_default();
    o.top_k = 3;
    p = make(AM_TASK_MASKED_LM, "models/bert_mlm", NULL, &o);
    r = p ? am_pipeline_run1(p, "paris is the [MASK] of france.", NULL) : NULL;
    snprintf(args, sizeof args, "fill-mask %s 'paris is the [MASK] of france.' --top-k 3 --json", am_test_fixture("models/bert_mlm"));
    if (r) cli_same(args, r);
    snprintf(args, sizeof args, "pipeline fill-mask %s 'paris is the [MASK] of france.' --top-k 3 --json", am_test_fixture("models/bert_mlm"));
    if (r) cli_same(args, r);
    am_pipeline_result_free(r);
    am_pipeline_free(p);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    snprintf(g_tok, sizeof g_tok, "%s", am_test_fixture("pipelines/vocab99"));
    test_classify();
    test_ner();
    test_qa();
    test_fill_mask();
    test_cli();
    return 0;
}
