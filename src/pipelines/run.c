/* pipelines/run.c — am_pipeline_run: per-input encoding (errors kept per input), the batched
 * forward (inputs sorted by length, right-padded, attention-masked), and the text-classification
 * and fill-mask post-processing; NER and QA post-processing live in ner.c and qa.c. */
#include "core/error.h"
#include "core/tensor.h"
#include "core/log.h"
#include "pipelines/pipeline.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pl_seq {
    const int32_t *ids, *type_ids;
    size_t len;
} pl_seq;
typedef am__pl_consume pl_consume;

/* Stable order by length, so batches pad little. */
static void order_by_len(const pl_seq *seqs, size_t n, size_t *order) {
    /* counting sort over lengths: stable, O(n + max_len) */
    size_t mx = 0;
    for (size_t i = 0; i < n; i++)
        if (seqs[i].len > mx) mx = seqs[i].len;
    size_t *cnt = calloc(mx + 2, sizeof *cnt);
    if (!cnt) {
        for (size_t i = 0; i < n; i++) order[i] = i;
        return;
    }
    for (size_t i = 0; i < n; i++) cnt[seqs[i].len + 1]++;
    for (size_t l = 1; l <= mx + 1; l++) cnt[l] += cnt[l - 1];
    for (size_t i = 0; i < n; i++) order[cnt[seqs[i].len]++] = i;
    free(cnt);
}

const float *am__pl_out_f32(const am_tensors *out, const char *name, size_t row, size_t row_elems) {
    am_tensor *t = am_tensors_get(out, name);
    if (!t || am_tensor_dtype(t) != AM_F32) return NULL;
    return (const float *)am_tensor_cdata(t) + row * row_elems;
}

static am_status pl_forward(am_pipeline *p, const pl_seq *seqs, size_t n, pl_consume fn, void *ctx) {
    if (!n) return AM_OK;
    size_t *order = malloc(n * sizeof *order);
    if (!order) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    order_by_len(seqs, n, order);
    am_status s = AM_OK;
    size_t bs = p->o.batch_size;
    int32_t pad = p->ti.pad_id >= 0 ? p->ti.pad_id : 0;
    for (size_t b0 = 0; b0 < n && !s; b0 += bs) {
        size_t B = n - b0 < bs ? n - b0 : bs, T = 0;
        for (size_t r = 0; r < B; r++)
            if (seqs[order[b0 + r]].len > T) T = seqs[order[b0 + r]].len;
        int64_t shape[2] = {(int64_t)B, (int64_t)T};
        am_tensor *ids = am_tensor_new(AM_I64, 2, shape), *am = am_tensor_new(AM_I64, 2, shape),
                  *tt = p->type_ids ? am_tensor_new(AM_I64, 2, shape) : NULL;
        am_tensors *in = am_tensors_new();
        if (!ids || !am || (p->type_ids && !tt) || !in) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (!s) {
            int64_t *pi = am_tensor_data(ids), *pa = am_tensor_data(am), *pt = tt ? am_tensor_data(tt) : NULL;
            for (size_t r = 0; r < B; r++) {
                const pl_seq *q = &seqs[order[b0 + r]];
                for (size_t j = 0; j < T; j++) {
                    bool real = j < q->len;
                    pi[r * T + j] = real ? q->ids[j] : pad;
                    pa[r * T + j] = real;
                    if (pt) pt[r * T + j] = real && q->type_ids ? q->type_ids[j] : 0;
                }
            }
            s = am_tensors_set(in, "input_ids", ids);
            if (!s) s = am_tensors_set(in, "attention_mask", am);
            if (!s && tt) s = am_tensors_set(in, "token_type_ids", tt);
        }
        am_tensors *out = s ? NULL : am_model_forward(p->model, in, NULL);
        if (!s && !out) {
            s = am__error_code() != AM_OK ? am__error_code() : AM_ERR_INTERNAL; /* forward's own status */
            am__error_prefix("%s", p->path);
        }
        /* a bf16/f16 model returns its logits in that dtype; the post-processing reads float32 */
        for (size_t i = 0; out && !s && i < am_tensors_count(out); i++) {
            am_tensor *t = am_tensors_at(out, i);
            if (am_tensor_dtype(t) != AM_BF16 && am_tensor_dtype(t) != AM_F16) continue;
            am_tensor *c = am__tensor_convert(t, AM_F32);
            s = c ? am_tensors_set(out, am_tensors_name(out, i), c) : AM_ERR_NO_MEMORY;
            am_tensor_free(c);
        }
        for (size_t r = 0; r < B && !s; r++) s = fn(ctx, order[b0 + r], out, r, T);
        am_tensors_free(out);
        am_tensors_free(in);
        am_tensor_free(ids);
        am_tensor_free(am);
        am_tensor_free(tt);
    }
    free(order);
    return s;
}

/* ---- encoding with transformers' length warning ---- */

static am_pipeline_result *encode_one(am_pipeline *p, am__pl_kind kind, const char *text, const char *pair, am_encoding **enc,
                                      bool *truncated) {
    *enc = NULL;
    *truncated = false;
    if (!text || !*text) return am__pl_result_error(kind, "empty text: nothing to %s", kind == AM__PL_LABELS ? "classify" : "process");
    if (pair && !*pair) return am__pl_result_error(kind, "empty text pair");
    am_encode_options eo = am_encode_options_default();
    am_encoding *e = am_tokenizer_encode(p->tok, text, pair, &eo);
    /* out of memory fails the whole call (NULL, no encoding); anything else is this input's error */
    if (!e) return am__error_code() == AM_ERR_NO_MEMORY ? NULL : am__pl_result_error(kind, "%s", am_last_error());
    if (am_encoding_len(e) > p->max_len) {
        if (!p->warned_length) /* once per pipeline, as transformers' tokenizer warns once */
            am__log(AM_LOG_WARNING,
                    "Token indices sequence length is longer than the specified maximum sequence length for this model (%zu > %zu); "
                    "inputs this long are truncated to %zu tokens",
                    am_encoding_len(e), p->max_len, p->max_len);
        p->warned_length = true;
        am_encoding_free(e);
        eo.truncation = AM_TRUNCATION_LONGEST_FIRST;
        eo.max_length = p->max_len;
        e = am_tokenizer_encode(p->tok, text, pair, &eo);
        if (!e) return am__error_code() == AM_ERR_NO_MEMORY ? NULL : am__pl_result_error(kind, "%s", am_last_error());
        *truncated = true;
    }
    *enc = e;
    return NULL;
}

/* ---- text classification ---- */

typedef struct cls_ctx {
    am_pipeline *p;
    float *logits; /* [n x C] */
    int C;
} cls_ctx;

static am_status cls_consume(void *vc, size_t seq, const am_tensors *out, size_t row, size_t T) {
    (void)T;
    cls_ctx *c = vc;
    const float *l = am__pl_out_f32(out, "logits", row, (size_t)c->C);
    if (!l) return am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 'logits'", c->p->path);
    memcpy(c->logits + seq * (size_t)c->C, l, (size_t)c->C * sizeof *l);
    return AM_OK;
}

static am_pipeline_function cls_function(const am_pipeline *p) {
    if (p->o.function != AM_FUNCTION_DEFAULT) return p->o.function;
    const am_config *cfg = am_model_config(p->model);
    const char *pt = NULL;
    if (am_config_get_string(cfg, "problem_type", &pt) != AM_OK) pt = NULL;
    if ((pt && !strcmp(pt, "multi_label_classification")) || p->num_labels == 1) return AM_FUNCTION_SIGMOID;
    return AM_FUNCTION_SOFTMAX; /* single_label_classification, or more than one label */
}

static am_pipeline_result *cls_post(am_pipeline *p, const float *logits, int C) {
    am_pipeline_result *r = am__pl_result_new(AM__PL_LABELS);
    float *sc = malloc((size_t)C * sizeof *sc);
    size_t *ord = malloc((size_t)C * sizeof *ord);
    if (!r || !sc || !ord) goto oom;
    am_pipeline_function f = cls_function(p);
    if (f == AM_FUNCTION_SOFTMAX) am__pl_softmax(logits, (size_t)C, sc);
    else if (f == AM_FUNCTION_SIGMOID)
        for (int i = 0; i < C; i++) sc[i] = 1.0f / (1.0f + expf(-logits[i]));
    else memcpy(sc, logits, (size_t)C * sizeof *sc);
    /* Python's stable sort by score, descending */
    for (int i = 0; i < C; i++) {
        size_t j = (size_t)i;
        while (j > 0 && sc[ord[j - 1]] < sc[i]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = (size_t)i;
    }
    size_t k = p->o.top_k == 0 ? 1 : p->o.top_k < 0 || p->o.top_k > C ? (size_t)C : (size_t)p->o.top_k;
    r->list_shape = p->o.top_k != 0;
    const am_config *cfg = am_model_config(p->model);
    for (size_t i = 0; i < k; i++) {
        am_label_score *it = am__pl_result_push(r);
        if (!it) goto oom;
        int id = (int)ord[i];
        const char *lab = am_config_id2label(cfg, id);
        char buf[32];
        if (!lab) {
            snprintf(buf, sizeof buf, "LABEL_%d", id);
            lab = buf;
        }
        it->id = id;
        it->score = sc[id];
        if (!(it->label = am__pl_result_own(r, am__strdup(lab)))) goto oom;
    }
    free(sc);
    free(ord);
    return r;
oom:
    free(sc);
    free(ord);
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

/* ---- NER ---- */

typedef struct ner_ctx {
    am_pipeline *p;
    float **logits; /* per input [len x C] */
    size_t *lens;
    int C;
} ner_ctx;

static am_status ner_consume(void *vc, size_t seq, const am_tensors *out, size_t row, size_t T) {
    ner_ctx *c = vc;
    const float *l = am__pl_out_f32(out, "logits", row, T * (size_t)c->C);
    if (!l) return am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 'logits'", c->p->path);
    size_t n = c->lens[seq] * (size_t)c->C;
    if (!(c->logits[seq] = malloc(n * sizeof(float) + 1))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    memcpy(c->logits[seq], l, n * sizeof(float));
    return AM_OK;
}

static am_pipeline_result *ner_post(am_pipeline *p, const char *text, const am_encoding *e, const float *logits, int C) {
    size_t n = am_encoding_len(e);
    am__ner_token *toks = calloc(n ? n : 1, sizeof *toks);
    if (!toks) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    const int32_t *ids = am_encoding_ids(e);
    const uint8_t *sp = am_encoding_special_tokens_mask(e);
    for (size_t i = 0; i < n; i++) {
        toks[i].id = ids[i];
        toks[i].token = am_encoding_token(e, i);
        am_encoding_offsets(e, i, &toks[i].start, &toks[i].end);
        toks[i].special = sp[i];
    }
    am_pipeline_result *r = am__ner_postprocess(p, text, strlen(text), toks, n, logits, C, p->o.aggregation);
    free(toks);
    return r;
}

/* ---- fill-mask ---- */

typedef struct fm_ctx {
    am_pipeline *p;
    am_encoding **encs;
    float **logits; /* per input [n_masks x V] */
    size_t V;
} fm_ctx;

static am_status fm_consume(void *vc, size_t seq, const am_tensors *out, size_t row, size_t T) {
    fm_ctx *c = vc;
    const float *l = am__pl_out_f32(out, "logits", row, T * c->V);
    if (!l) return am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 'logits'", c->p->path);
    const am_encoding *e = c->encs[seq];
    const int32_t *ids = am_encoding_ids(e);
    size_t n = am_encoding_len(e), k = 0;
    for (size_t i = 0; i < n; i++) k += ids[i] == c->p->ti.mask_id;
    if (!(c->logits[seq] = malloc(k * c->V * sizeof(float) + 1))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == c->p->ti.mask_id) memcpy(c->logits[seq] + (k++) * c->V, l + i * c->V, c->V * sizeof(float));
    return AM_OK;
}

static am_pipeline_result *fm_post(am_pipeline *p, const am_encoding *e, const float *logits, size_t V) {
    const int32_t *ids0 = am_encoding_ids(e);
    size_t n = am_encoding_len(e), nm = 0;
    for (size_t i = 0; i < n; i++) nm += ids0[i] == p->ti.mask_id;
    size_t k = p->o.top_k > 0 ? (size_t)p->o.top_k : 5;
    if (k > V) k = V;
    am_pipeline_result *r = am__pl_result_new(AM__PL_FILLS);
    float *prob = malloc(V * sizeof *prob);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    size_t *top = malloc(k * sizeof *top);
    if (!r || !prob || !ids || !top) goto oom;
    r->n_masks = nm;
    am_decode_options dopt = am_decode_options_default();
    size_t mi = 0;
    for (size_t pos = 0; pos < n; pos++) {
        if (ids0[pos] != p->ti.mask_id) continue;
        am__pl_softmax(logits + mi * V, V, prob);
        mi++;
        /* torch.topk: largest first; equal values keep the lower id first */
        size_t got = 0;
        for (size_t v = 0; v < V; v++) {
            if (got == k && !(prob[v] > prob[top[k - 1]])) continue;
            size_t j = got < k ? got++ : k - 1;
            while (j > 0 && prob[top[j - 1]] < prob[v]) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = v;
        }
        for (size_t c = 0; c < got; c++) {
            am_mask_fill *f = am__pl_result_push(r);
            if (!f) goto oom;
            f->score = prob[top[c]];
            f->token = (int32_t)top[c];
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                int32_t id = i == pos ? (int32_t)top[c] : ids0[i];
                if (id != p->ti.pad_id) ids[m++] = id;
            }
            dopt.skip_special_tokens = nm == 1; /* several masks: keep the other [MASK]s visible */
            char *seq = am_tokenizer_decode(p->tok, ids, m, &dopt);
            am_decode_options d1 = am_decode_options_default();
            char *ts = am_tokenizer_decode(p->tok, &f->token, 1, &d1);
            if (!(f->sequence = am__pl_result_own(r, seq)) || !(f->token_str = am__pl_result_own(r, ts))) goto oom;
        }
    }
    free(prob);
    free(ids);
    free(top);
    return r;
oom:
    free(prob);
    free(ids);
    free(top);
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

/* ---- the entry points ---- */

static am__pl_kind kind_of(am_task t) {
    return t == AM_TASK_SEQUENCE_CLASSIFICATION ? AM__PL_LABELS
           : t == AM_TASK_TOKEN_CLASSIFICATION  ? AM__PL_ENTITIES
           : t == AM_TASK_QUESTION_ANSWERING    ? AM__PL_ANSWERS
                                                : AM__PL_FILLS;
}

/* Encodes every input, runs the model on those that encoded, and post-processes. */
static am_status run_encoded(am_pipeline *p, size_t n, const char *const *texts, const char *const *pairs, am_pipeline_result **out) {
    am__pl_kind kind = kind_of(p->task);
    am_encoding **encs = calloc(n, sizeof *encs);
    bool *trunc = calloc(n, sizeof *trunc);
    pl_seq *seqs = calloc(n, sizeof *seqs);
    size_t *which = calloc(n, sizeof *which), *lens = calloc(n, sizeof *lens);
    float **logits = calloc(n, sizeof *logits);
    am_status s = encs && trunc && seqs && which && lens && logits ? AM_OK : am__error(AM_ERR_NO_MEMORY, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !s; i++) {
        out[i] = encode_one(p, kind, texts[i], pairs ? pairs[i] : NULL, &encs[i], &trunc[i]);
        if (!out[i] && !encs[i]) s = am__error_code() == AM_ERR_NO_MEMORY ? AM_ERR_NO_MEMORY : am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (!encs[i]) continue;
        if (kind == AM__PL_FILLS) {
            size_t nm = 0, len = am_encoding_len(encs[i]);
            for (size_t j = 0; j < len; j++) nm += am_encoding_ids(encs[i])[j] == p->ti.mask_id;
            if (!nm) {
                out[i] = am__pl_result_error(kind, "No mask_token (%s) found on the input%s", p->ti.mask_token ? p->ti.mask_token : "?",
                                             trunc[i] ? " (after truncation to the model's maximum length)" : "");
                if (!out[i]) s = AM_ERR_NO_MEMORY;
                am_encoding_free(encs[i]);
                encs[i] = NULL;
                continue;
            }
        }
        seqs[m].ids = am_encoding_ids(encs[i]);
        seqs[m].type_ids = am_encoding_type_ids(encs[i]);
        seqs[m].len = lens[m] = am_encoding_len(encs[i]);
        which[m++] = i;
    }
    /* the runner indexes by position in `seqs`; the contexts below map back through `which` */
    am_encoding **mencs = NULL;
    if (!s && m) {
        const am_config *cfg = am_model_config(p->model);
        if (kind == AM__PL_LABELS) {
            cls_ctx c = {p, malloc(m * (size_t)(p->num_labels > 0 ? p->num_labels : 1) * sizeof(float)), p->num_labels};
            if (!c.logits) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            if (!s) s = pl_forward(p, seqs, m, cls_consume, &c);
            for (size_t j = 0; j < m && !s; j++)
                if (!(out[which[j]] = cls_post(p, c.logits + j * (size_t)c.C, c.C))) s = AM_ERR_NO_MEMORY;
            free(c.logits);
        } else if (kind == AM__PL_ENTITIES) {
            ner_ctx c = {p, logits, lens, p->num_labels};
            s = pl_forward(p, seqs, m, ner_consume, &c);
            for (size_t j = 0; j < m && !s; j++)
                if (!(out[which[j]] = ner_post(p, texts[which[j]], encs[which[j]], logits[j], c.C))) s = AM_ERR_NO_MEMORY;
        } else {
            int64_t V = 0;
            if (am_config_get_int(cfg, "vocab_size", &V) != AM_OK || V <= 0) s = am__error(AM_ERR_FORMAT, "%s: config has no vocab_size", p->path);
            mencs = malloc(m * sizeof *mencs);
            if (!s && !mencs) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            for (size_t j = 0; j < m && !s; j++) mencs[j] = encs[which[j]];
            fm_ctx c = {p, mencs, logits, (size_t)V};
            if (!s) s = pl_forward(p, seqs, m, fm_consume, &c);
            for (size_t j = 0; j < m && !s; j++)
                if (!(out[which[j]] = fm_post(p, encs[which[j]], logits[j], (size_t)V))) s = AM_ERR_NO_MEMORY;
        }
        for (size_t j = 0; j < m && !s; j++) out[which[j]]->truncated = trunc[which[j]];
    }
    free(mencs);
    for (size_t i = 0; i < n; i++) {
        if (encs) am_encoding_free(encs[i]);
        if (logits) free(logits[i]);
    }
    free(encs);
    free(trunc);
    free(seqs);
    free(which);
    free(lens);
    free(logits);
    if (s)
        for (size_t i = 0; i < n; i++) {
            am_pipeline_result_free(out[i]);
            out[i] = NULL;
        }
    return s;
}

am_status am_pipeline_run(am_pipeline *p, size_t n, const char *const *texts, const char *const *pairs, am_pipeline_result **out) {
    if (!p || !out || (n && !texts)) return am__error(AM_ERR_INVALID_ARGUMENT, "am_pipeline_run: NULL argument");
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    if (am__pl_is_audio_task(p->task)) {
        if (pairs) return am__error(AM_ERR_INVALID_ARGUMENT, "the %s pipeline takes audio files, not pairs", am_task_name(p->task));
        return am__pl_audio_run(p, n, texts, out);
    }
    if (am__pl_is_image_task(p->task)) {
        if (pairs) return am__error(AM_ERR_INVALID_ARGUMENT, "the %s pipeline takes image files, not pairs", am_task_name(p->task));
        return am__pl_vision_run(p, n, texts, out);
    }
    if (p->task == AM_TASK_QUESTION_ANSWERING) {
        if (!pairs) return am__error(AM_ERR_INVALID_ARGUMENT, "question answering needs a context for every question");
        return am__qa_run(p, n, texts, pairs, out);
    }
    if (pairs && p->task != AM_TASK_SEQUENCE_CLASSIFICATION)
        return am__error(AM_ERR_INVALID_ARGUMENT, "the %s pipeline takes single texts, not pairs", am_task_name(p->task));
    return run_encoded(p, n, texts, pairs, out);
}

am_pipeline_result *am_pipeline_run1(am_pipeline *p, const char *text, const char *pair) {
    am_pipeline_result *r = NULL;
    const char *t[1] = {text}, *q[1] = {pair};
    if (am_pipeline_run(p, 1, t, pair ? q : NULL, &r) != AM_OK) return NULL;
    if (r->error) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s", r->error);
        am_pipeline_result_free(r);
        return NULL;
    }
    return r;
}

am_status am__pl_forward_rows(am_pipeline *p, size_t n, const int32_t *const *ids, const int32_t *const *type_ids, const size_t *lens,
                              am__pl_consume fn, void *ctx) {
    pl_seq *seqs = calloc(n ? n : 1, sizeof *seqs);
    if (!seqs) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) seqs[i] = (pl_seq){ids[i], type_ids ? type_ids[i] : NULL, lens[i]};
    am_status s = pl_forward(p, seqs, n, fn, ctx);
    free(seqs);
    return s;
}
