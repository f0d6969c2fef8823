/* pipelines/ner.c — token-classification post-processing as transformers 4.32's
 * TokenClassificationPipeline does it: softmax per token, gather_pre_entities (subword detection),
 * the word aggregations (first / average / max), B-/I- grouping (simple and the word strategies),
 * and the ignore_labels filter. Works on given logits, so tests can feed crafted numbers. */
#include "core/error.h"
#include "pipelines/pipeline.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pre_ent {
    const char *word; /* borrowed from the encoding, or owned by the result (word_ref for [UNK]) */
    int32_t id;       /* -1 when `word` is not a vocabulary token */
    const float *scores;
    size_t start, end, index;
    bool is_subword;
} pre_ent;

typedef struct ent {
    const char *entity;
    float score;
    size_t index;
    const char *word;
    int32_t id;
    size_t start, end;
} ent;

static const char *label_of(const am_pipeline *p, int id, am_pipeline_result *r) {
    const char *l = am_config_id2label(am_model_config(p->model), id);
    if (l) return l;
    char buf[32];
    snprintf(buf, sizeof buf, "LABEL_%d", id);
    return am__pl_result_own(r, am__strdup(buf));
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* The code point at index cp of text (0 when out of range). */
static uint32_t cp_at(const char *s, size_t len, size_t cp) {
    size_t c = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) == 0x80) continue;
        if (c++ == cp) return b; /* only compared against ' ', so the lead byte is enough */
    }
    return 0;
}

/* convert_tokens_to_string over n entities */
static char *join_words(const am_pipeline *p, const ent *e, size_t n) {
    const char **w = malloc((n ? n : 1) * sizeof *w);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    char *s = NULL;
    bool all_ids = true;
    if (w && ids) {
        for (size_t i = 0; i < n; i++) {
            w[i] = e[i].word;
            ids[i] = e[i].id;
            if (ids[i] < 0) all_ids = false;
        }
        if (p->ti.wp_prefix || all_ids) s = am__pl_tokens_to_string(p, w, ids, n);
        else { /* decoded words: byte-level decoders give back text they cannot map unchanged */
            am__buf b = {0};
            for (size_t i = 0; i < n; i++) am__buf_puts(&b, w[i]);
            if (!n) am__buf_puts(&b, "");
            s = b.failed ? (am__buf_free(&b), NULL) : am__buf_take(&b);
        }
    }
    free(w);
    free(ids);
    return s;
}

/* aggregate_word: one word's tokens -> one entity */
static bool aggregate_word(const am_pipeline *p, am_pipeline_result *r, const pre_ent *g, size_t n, int C, am_aggregation agg,
                           ent *out) {
    ent *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return false;
    for (size_t i = 0; i < n; i++) tmp[i] = (ent){NULL, 0, g[i].index, g[i].word, g[i].id, g[i].start, g[i].end};
    char *word = am__pl_result_own(r, join_words(p, tmp, n));
    free(tmp);
    if (!word) return false;
    int idx;
    float score;
    if (agg == AM_AGGREGATION_FIRST) {
        idx = argmax(g[0].scores, C);
        score = g[0].scores[idx];
    } else if (agg == AM_AGGREGATION_MAX) {
        size_t best = 0; /* Python's max(): the first of equal maxima */
        float bm = g[0].scores[argmax(g[0].scores, C)];
        for (size_t i = 1; i < n; i++) {
            float m = g[i].scores[argmax(g[i].scores, C)];
            if (m > bm) bm = m, best = i;
        }
        idx = argmax(g[best].scores, C);
        score = g[best].scores[idx];
    } else {
        float *avg = malloc((size_t)C * sizeof *avg);
        if (!avg) return false;
        for (int c = 0; c < C; c++) {
            double sum = 0;
            size_t cnt = 0;
            for (size_t i = 0; i < n; i++)
                if (!isnan(g[i].scores[c])) sum += g[i].scores[c], cnt++;
            avg[c] = cnt ? (float)(sum / (double)cnt) : NAN;
        }
        idx = argmax(avg, C);
        score = avg[idx];
        free(avg);
    }
    const char *lab = label_of(p, idx, r);
    if (!lab) return false;
    *out = (ent){lab, score, (size_t)-1, word, -1, g[0].start, g[n - 1].end};
    return true;
}

static void get_tag(const char *name, char *bi, const char **tag) {
    if (!strncmp(name, "B-", 2)) *bi = 'B', *tag = name + 2;
    else if (!strncmp(name, "I-", 2)) *bi = 'I', *tag = name + 2;
    else *bi = 'I', *tag = name; /* not B-/I-: a continuation */
}

static bool ignored(const am_pipeline *p, const char *label) {
    for (size_t i = 0; i < p->n_ignore; i++)
        if (!strcmp(p->ignore[i], label)) return true;
    return false;
}

/* group_sub_entities: adjacent entities of one tag -> one group */
static bool emit_group(const am_pipeline *p, am_pipeline_result *r, const ent *e, size_t n) {
    const char *dash = strrchr(e[0].entity, '-'); /* split("-")[-1] */
    const char *group = dash ? dash + 1 : e[0].entity;
    if (ignored(p, group)) return true;
    double sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(e[i].score)) sum += e[i].score, cnt++;
    char *word = am__pl_result_own(r, join_words(p, e, n));
    char *g = am__pl_result_own(r, am__strdup(group));
    am_entity *it = word && g ? am__pl_result_push(r) : NULL;
    if (!it) return false;
    *it = (am_entity){g, cnt ? (float)(sum / (double)cnt) : NAN, -1, word, (int64_t)e[0].start, (int64_t)e[n - 1].end};
    return true;
}

am_pipeline_result *am__ner_postprocess(const am_pipeline *p, const char *text, size_t text_len, const am__ner_token *toks, size_t n,
                                        const float *logits, int C, am_aggregation agg) {
    am_pipeline_result *r = am__pl_result_new(AM__PL_ENTITIES);
    float *scores = malloc((n * (size_t)C + 1) * sizeof *scores);
    pre_ent *pre = malloc((n + 1) * sizeof *pre);
    ent *ents = malloc((n + 1) * sizeof *ents);
    size_t np = 0, ne = 0;
    if (!r || !scores || !pre || !ents || C <= 0) goto oom;
    r->grouped = agg != AM_AGGREGATION_NONE;
    for (size_t i = 0; i < n; i++) am__pl_softmax(logits + i * (size_t)C, (size_t)C, scores + i * (size_t)C);

    /* gather_pre_entities */
    for (size_t i = 0; i < n; i++) {
        if (toks[i].special) continue;
        pre_ent *q = &pre[np++];
        q->word = toks[i].token;
        q->id = toks[i].id;
        q->scores = scores + i * (size_t)C;
        q->start = toks[i].start;
        q->end = toks[i].end;
        q->index = i;
        char *ref = am__pl_result_own(r, am__pl_substr_cp(text, text_len, q->start, q->end));
        if (!ref) goto oom;
        if (p->ti.subword_prefix) /* a word-aware tokenizer: "##soft" is longer than "soft" */
            q->is_subword = am__pl_cp_len(q->word, strlen(q->word)) != am__pl_cp_len(ref, strlen(ref));
        else /* transformers' fallback heuristic: no space just before or at the token */
            q->is_subword = q->start > 0 && cp_at(text, text_len, q->start - 1) != ' ' && cp_at(text, text_len, q->start) != ' ';
        if (toks[i].id == p->ti.unk_id) {
            q->word = ref;
            q->id = -1;
            q->is_subword = false;
        }
    }

    /* aggregate */
    if (agg == AM_AGGREGATION_NONE || agg == AM_AGGREGATION_SIMPLE) {
        for (size_t i = 0; i < np; i++) {
            int k = argmax(pre[i].scores, C);
            const char *lab = label_of(p, k, r);
            if (!lab) goto oom;
            ents[ne++] = (ent){lab, pre[i].scores[k], pre[i].index, pre[i].word, pre[i].id, pre[i].start, pre[i].end};
        }
    } else {
        size_t g0 = 0;
        for (size_t i = 1; i <= np; i++) {
            if (i < np && pre[i].is_subword) continue;
            if (np && !aggregate_word(p, r, pre + g0, i - g0, C, agg, &ents[ne++])) goto oom;
            g0 = i;
        }
    }

    if (agg == AM_AGGREGATION_NONE) {
        for (size_t i = 0; i < ne; i++) {
            if (ignored(p, ents[i].entity)) continue;
            char *lab = am__pl_result_own(r, am__strdup(ents[i].entity));
            am_entity *it = lab ? am__pl_result_push(r) : NULL;
            if (!it) goto oom;
            *it = (am_entity){lab, ents[i].score, (int64_t)ents[i].index, ents[i].word, (int64_t)ents[i].start, (int64_t)ents[i].end};
        }
    } else {
        /* group_entities: a B- tag, or another tag, starts a new group */
        size_t g0 = 0;
        for (size_t i = 1; i <= ne; i++) {
            if (i < ne) {
                char bi, lbi;
                const char *tag, *ltag;
                get_tag(ents[i].entity, &bi, &tag);
                get_tag(ents[i - 1].entity, &lbi, &ltag);
                if (!strcmp(tag, ltag) && bi != 'B') continue;
            }
            if (ne && !emit_group(p, r, ents + g0, i - g0)) goto oom;
            g0 = i;
        }
    }
    /* words borrowed from the encoding must outlive it: copy them into the result */
    for (size_t i = 0; i < r->n; i++) {
        bool owned = false;
        for (size_t k = 0; k < r->n_strs && !owned; k++) owned = r->strs[k] == r->entities[i].word;
        if (!owned && !(r->entities[i].word = am__pl_result_own(r, am__strdup(r->entities[i].word)))) goto oom;
    }
    free(scores);
    free(pre);
    free(ents);
    return r;
oom:
    free(scores);
    free(pre);
    free(ents);
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}
