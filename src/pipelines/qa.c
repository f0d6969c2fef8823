/* pipelines/qa.c — extractive question answering as transformers 4.32's QuestionAnsweringPipeline
 * does it with a fast tokenizer: (question, context) windows with doc_stride overlap (the
 * tokenizer's only_second overflow), the context-only p_mask, softmaxed start/end scores, the
 * banded outer-product span search, word-aligned character offsets, answers ranked across windows. */
#include "core/error.h"
#include "pipelines/pipeline.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void am__qa_features_free(am__qa_feature *f, size_t n) {
    if (!f) return;
    for (size_t i = 0; i < n; i++) {
        free(f[i].ids);
        free(f[i].type_ids);
        free(f[i].seq_ids);
        free(f[i].word_ids);
        free(f[i].starts);
        free(f[i].ends);
        free(f[i].p_mask);
    }
    free(f);
}

static bool feature_alloc(am__qa_feature *f, size_t n) {
    f->n = n;
    size_t k = n ? n : 1;
    f->ids = malloc(k * sizeof *f->ids);
    f->type_ids = malloc(k * sizeof *f->type_ids);
    f->seq_ids = malloc(k * sizeof *f->seq_ids);
    f->word_ids = malloc(k * sizeof *f->word_ids);
    f->starts = malloc(k * sizeof *f->starts);
    f->ends = malloc(k * sizeof *f->ends);
    f->p_mask = malloc(k);
    return f->ids && f->type_ids && f->seq_ids && f->word_ids && f->starts && f->ends && f->p_mask;
}

am_status am__qa_features(const am_pipeline *p, const am_encoding *e, size_t max_seq_len, size_t stride, am__qa_feature **out,
                          size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    size_t n = am_encoding_len(e), c0 = n, c1 = n, q = 0;
    const int32_t *seq = am_encoding_sequence_ids(e);
    for (size_t i = 0; i < n; i++) {
        if (seq[i] == 0) q++;
        if (seq[i] == 1) {
            if (c0 == n) c0 = i;
            c1 = i + 1;
        }
    }
    if (c0 == n) return am__error(AM_ERR_INVALID_ARGUMENT, "the context gave no tokens");
    size_t ctx = c1 - c0;
    /* Encoding::truncate's windows over the context: [start, start + max_len), step max_len - stride */
    size_t max_len = ctx, step = ctx;
    if (n > max_seq_len) {
        size_t to_remove = n - max_seq_len;
        if (ctx <= to_remove)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "the question is too long: %zu question tokens and %zu special tokens leave no room for the context "
                             "within max_seq_len %zu",
                             q, n - q - ctx, max_seq_len);
        max_len = ctx - to_remove;
        if (stride >= max_len)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "doc_stride %zu must be less than the %zu context tokens that fit in a window of max_seq_len %zu", stride,
                             max_len, max_seq_len);
        step = max_len - stride;
    }
    size_t nf = 0, cap = 4;
    am__qa_feature *fs = calloc(cap, sizeof *fs);
    if (!fs) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    const int32_t *ids = am_encoding_ids(e), *tt = am_encoding_type_ids(e), *wid = am_encoding_word_ids(e);
    for (size_t start = 0;; start += step) {
        size_t stop = start + max_len < ctx ? start + max_len : ctx;
        if (nf == cap) {
            am__qa_feature *v = realloc(fs, 2 * cap * sizeof *v);
            if (!v) goto oom;
            memset(v + cap, 0, cap * sizeof *v);
            fs = v;
            cap *= 2;
        }
        am__qa_feature *f = &fs[nf++];
        size_t len = c0 + (stop - start) + (n - c1);
        if (!feature_alloc(f, len)) goto oom;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i >= c0 && i < c1 && (i - c0 < start || i - c0 >= stop)) continue;
            f->ids[k] = ids[i];
            f->type_ids[k] = tt[i];
            f->seq_ids[k] = seq[i];
            f->word_ids[k] = wid[i];
            am_encoding_offsets(e, i, &f->starts[k], &f->ends[k]);
            /* 1 where no answer can be: the question and special tokens, except the CLS token */
            f->p_mask[k] = seq[i] != 1 && !(p && p->ti.cls_id >= 0 && ids[i] == p->ti.cls_id);
            k++;
        }
        if (stop == ctx) break;
    }
    *out = fs;
    *n_out = nf;
    return AM_OK;
oom:
    am__qa_features_free(fs, nf);
    return am__error(AM_ERR_NO_MEMORY, "out of memory");
}

typedef struct cand {
    float score;
    size_t flat;
} cand;

size_t am__qa_decode(const float *sl, const float *el, const uint8_t *p_mask, size_t n, size_t top_k, size_t max_answer_len,
                     bool handle_impossible, double *min_null_score, size_t *starts, size_t *ends, double *scores) {
    if (!n || !top_k) return 0;
    float *buf = calloc(4 * n, sizeof *buf);
    cand *best = malloc(top_k * sizeof *best);
    size_t got = 0;
    if (!buf || !best) goto done;
    float *s = buf, *e = buf + n, *ms = buf + 2 * n, *me = buf + 3 * n;
    for (size_t i = 0; i < n; i++) {
        ms[i] = p_mask[i] ? -10000.0f : sl[i];
        me[i] = p_mask[i] ? -10000.0f : el[i];
    }
    am__pl_softmax(ms, n, s);
    am__pl_softmax(me, n, e);
    if (handle_impossible) {
        double null = (double)(s[0] * e[0]);
        if (null < *min_null_score) *min_null_score = null;
    }
    s[0] = e[0] = 0.0f; /* the CLS position is never an answer span here */
    /* every (start, end) cell of the n x n matrix; outside end - start in [0, max_answer_len) it
     * scores 0, as np.tril(np.triu(outer), max_answer_len - 1) leaves it; best first, ties by
     * position (np.argmax's choice) */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float v = j >= i && j - i < max_answer_len ? s[i] * e[j] : 0.0f;
            if (got == top_k && !(v > best[top_k - 1].score)) continue;
            size_t k = got < top_k ? got++ : top_k - 1;
            while (k > 0 && best[k - 1].score < v) {
                best[k] = best[k - 1];
                k--;
            }
            best[k] = (cand){v, i * n + j};
        }
    /* keep spans whose both ends may be part of an answer */
    size_t m = 0;
    for (size_t k = 0; k < got; k++) {
        size_t i = best[k].flat / n, j = best[k].flat % n;
        if (p_mask[i] || p_mask[j]) continue;
        starts[m] = i;
        ends[m] = j;
        scores[m] = best[k].score;
        m++;
    }
    got = m;
done:
    free(buf);
    free(best);
    return got;
}

void am__qa_char_span(const am__qa_feature *f, size_t s, size_t e, size_t *cs, size_t *ce) {
    /* get_indices(align_to_words=True): the whole words holding the start and end tokens */
    int32_t ws = f->word_ids[s], we = f->word_ids[e];
    if (ws < 0 || we < 0 || f->seq_ids[s] != 1 || f->seq_ids[e] != 1) {
        *cs = f->starts[s];
        *ce = f->ends[e];
        return;
    }
    size_t a = SIZE_MAX, b = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->seq_ids[i] != 1) continue;
        if (f->word_ids[i] == ws && a == SIZE_MAX) a = f->starts[i];
        if (f->word_ids[i] == we) b = f->ends[i];
    }
    *cs = a == SIZE_MAX ? f->starts[s] : a;
    *ce = b;
}

typedef struct qa_ctx {
    am__qa_feature **feats; /* flattened */
    float **sl, **el;
    const char *path;
} qa_ctx;

static am_status qa_consume(void *vc, size_t seq, const am_tensors *out, size_t row, size_t T) {
    qa_ctx *c = vc;
    const float *a = am__pl_out_f32(out, "start_logits", row, T), *b = am__pl_out_f32(out, "end_logits", row, T);
    if (!a || !b) return am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 start_logits/end_logits", c->path);
    size_t n = c->feats[seq]->n;
    c->sl[seq] = malloc(n * sizeof(float) + 1);
    c->el[seq] = malloc(n * sizeof(float) + 1);
    if (!c->sl[seq] || !c->el[seq]) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    memcpy(c->sl[seq], a, n * sizeof(float));
    memcpy(c->el[seq], b, n * sizeof(float));
    return AM_OK;
}

static am_pipeline_result *qa_post(am_pipeline *p, const char *context, am__qa_feature *fs, size_t nf, float **sl, float **el) {
    size_t top_k = p->o.top_k > 0 ? (size_t)p->o.top_k : 1, clen = strlen(context);
    am_pipeline_result *r = am__pl_result_new(AM__PL_ANSWERS);
    size_t *st = malloc(top_k * sizeof *st), *en = malloc(top_k * sizeof *en);
    double *sc = malloc(top_k * sizeof *sc), min_null = 1000000;
    if (!r || !st || !en || !sc) goto oom;
    for (size_t f = 0; f < nf; f++) {
        size_t m = am__qa_decode(sl[f], el[f], fs[f].p_mask, fs[f].n, top_k, (size_t)p->o.max_answer_len, p->o.handle_impossible_answer,
                                 &min_null, st, en, sc);
        for (size_t k = 0; k < m; k++) {
            size_t cs, ce;
            am__qa_char_span(&fs[f], st[k], en[k], &cs, &ce);
            char *ans = am__pl_result_own(r, am__pl_substr_cp(context, clen, cs, ce));
            am_answer *a = ans ? am__pl_result_push(r) : NULL;
            if (!a) goto oom;
            *a = (am_answer){sc[k], (int64_t)cs, (int64_t)ce, ans};
        }
    }
    if (p->o.handle_impossible_answer) {
        char *empty = am__pl_result_own(r, am__strdup(""));
        am_answer *a = empty ? am__pl_result_push(r) : NULL;
        if (!a) goto oom;
        *a = (am_answer){min_null, 0, 0, empty};
    }
    /* sorted(answers, key=score, reverse=True)[:top_k]: stable */
    for (size_t i = 1; i < r->n; i++) {
        am_answer x = r->answers[i];
        size_t j = i;
        while (j > 0 && r->answers[j - 1].score < x.score) {
            r->answers[j] = r->answers[j - 1];
            j--;
        }
        r->answers[j] = x;
    }
    if (r->n > top_k) r->n = top_k;
    free(st);
    free(en);
    free(sc);
    return r;
oom:
    free(st);
    free(en);
    free(sc);
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

am_status am__qa_run(am_pipeline *p, size_t n, const char *const *questions, const char *const *contexts, am_pipeline_result **out) {
    size_t max_seq = p->o.max_seq_len > 0 ? (size_t)p->o.max_seq_len : p->max_len < 384 ? p->max_len : 384;
    size_t stride = p->o.doc_stride > 0 ? (size_t)p->o.doc_stride : max_seq / 2 < 128 ? max_seq / 2 : 128;
    if (stride > max_seq)
        return am__error(AM_ERR_INVALID_ARGUMENT, "doc_stride (%zu) is larger than max_seq_len (%zu)", stride, max_seq);
    if (max_seq > p->max_len)
        return am__error(AM_ERR_INVALID_ARGUMENT, "max_seq_len %zu is longer than the model's maximum length %zu", max_seq, p->max_len);
    am__qa_feature **fs = calloc(n ? n : 1, sizeof *fs);
    size_t *nfs = calloc(n ? n : 1, sizeof *nfs), total = 0;
    am_status s = fs && nfs ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n && !s; i++) {
        const char *q = questions[i], *c = contexts[i];
        if (!q || !*q || !c || !*c) {
            out[i] = am__pl_result_error(AM__PL_ANSWERS, "`%s` cannot be empty", !q || !*q ? "question" : "context");
            if (!out[i]) s = AM_ERR_NO_MEMORY;
            continue;
        }
        am_encode_options eo = am_encode_options_default();
        am_encoding *e = am_tokenizer_encode(p->tok, q, c, &eo);
        if (!e || am__qa_features(p, e, max_seq, stride, &fs[i], &nfs[i]) != AM_OK) {
            if (!(out[i] = am__pl_result_error(AM__PL_ANSWERS, "%s", am_last_error()))) s = AM_ERR_NO_MEMORY;
        }
        am_encoding_free(e);
        total += nfs[i];
    }
    am__qa_feature **flat = calloc(total + 1, sizeof *flat);
    const int32_t **ids = calloc(total + 1, sizeof *ids), **tts = calloc(total + 1, sizeof *tts);
    size_t *lens = calloc(total + 1, sizeof *lens);
    float **sl = calloc(total + 1, sizeof *sl), **el = calloc(total + 1, sizeof *el);
    if (!s && !(flat && ids && tts && lens && sl && el)) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!s) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t f = 0; f < nfs[i]; f++, k++) {
                flat[k] = &fs[i][f];
                ids[k] = fs[i][f].ids;
                tts[k] = fs[i][f].type_ids;
                lens[k] = fs[i][f].n;
            }
        qa_ctx c = {flat, sl, el, p->path};
        s = am__pl_forward_rows(p, total, ids, tts, lens, qa_consume, &c);
        k = 0;
        for (size_t i = 0; i < n && !s; k += nfs[i], i++)
            if (nfs[i] && !(out[i] = qa_post(p, contexts[i], fs[i], nfs[i], sl + k, el + k))) s = AM_ERR_NO_MEMORY;
    }
    for (size_t k = 0; k < total; k++) {
        if (sl) free(sl[k]);
        if (el) free(el[k]);
    }
    for (size_t i = 0; i < n; i++)
        if (fs) am__qa_features_free(fs[i], nfs[i]);
    free(fs);
    free(nfs);
    free(flat);
    free(ids);
    free(tts);
    free(lens);
    free(sl);
    free(el);
    if (s)
        for (size_t i = 0; i < n; i++) {
            am_pipeline_result_free(out[i]);
            out[i] = NULL;
        }
    return s;
}
