/* models/common.c — what every architecture's forward needs: weights by module, linear and norm
 * calls, input validation, masks, outputs, and tied parameters. */
#include "core/error.h"
#include "core/log.h"
#include "core/threadpool.h"
#include "core/util.h"
#include "models/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One id-like input checked and converted to int64 [B, T]; an absent input is *out = NULL. */
static am_status take_input(const am_tensors *in, const char *name, int64_t *B, int64_t *T, am_tensor **out) {
    *out = NULL;
    am_tensor *t = am_tensors_get(in, name);
    if (!t) return AM_OK;
    if (t->ndim != 2) return am__error(AM_ERR_SHAPE, "forward: input '%s' must have 2 dimensions [batch, sequence], got %d", name, t->ndim);
    if (*B >= 0 && (t->shape[0] != *B || t->shape[1] != *T)) {
        char a[64], b[64];
        int64_t want[2] = {*B, *T};
        return am__error(AM_ERR_SHAPE, "forward: input '%s' has shape %s, expected %s like input_ids", name, am__shape_str(2, t->shape, a, sizeof a),
                         am__shape_str(2, want, b, sizeof b));
    }
    if (t->dtype != AM_I64 && t->dtype != AM_I32 && t->dtype != AM_BOOL && t->dtype != AM_U8 && !(t->dtype == AM_F32 && strstr(name, "mask")))
        return am__error(AM_ERR_INVALID_ARGUMENT, "forward: input '%s' must be an integer tensor (int64), got %s", name, am_dtype_name(t->dtype));
    *out = am__tensor_convert(t, AM_I64);
    if (!*out) return AM_ERR_NO_MEMORY;
    *B = t->shape[0];
    *T = t->shape[1];
    return AM_OK;
}

am_tensor *am__input_ids(const am_tensors *in, const char *name, int64_t *B, int64_t *T, bool required) {
    am_tensor *t = NULL;
    if (take_input(in, name, B, T, &t) != AM_OK) return NULL;
    if (!t && required) am__error(AM_ERR_INVALID_ARGUMENT, "forward: missing required input '%s'", name);
    return t;
}

am_status am__opt_input(const am_tensors *in, const char *name, int64_t *B, int64_t *T, am_tensor **out) {
    return take_input(in, name, B, T, out);
}

am_status am__check_inputs(const am_model *m, const am_tensors *in) {
    for (size_t i = 0; i < am_tensors_count(in); i++) {
        const char *n = am_tensors_name(in, i);
        bool ok = false;
        for (const char *const *p = m->input_names; p && *p; p++)
            if (!strcmp(*p, n)) ok = true;
        if (!ok) return am__error(AM_ERR_INVALID_ARGUMENT, "%s.forward() got an unexpected keyword argument '%s'", m->spec->class_name, n);
    }
    return AM_OK;
}

static am_status model_attend(const void *m, int role, am__attn_args *a) { return am__attend(m, (am__attn_role)role, a); }
am__fwd am__fwd_begin(am_model *m) { return (am__fwd){am__dropout_seed(m), 0, m->root->training, model_attend, m}; }

am_status am__encode(am__fwd *cx, const am__embed *e, const am__stack *st, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                     const int64_t *types, const int64_t *mask, am_tensors *hs, const char *hs_name, float **hidden) {
    *hidden = NULL;
    float *x = malloc((size_t)(B * T * st->H > 0 ? B * T * st->H : 1) * sizeof(float));
    uint8_t *mb = NULL;
    am_status s = x ? am__mask_bytes(mask, B * T, &mb) : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld hidden rows", (long long)(B * T));
    if (s == AM_OK) s = am__embed_fwd(cx, e, B, T, ids, pos, types, x);
    if (s == AM_OK) {
        am__stack_io io = {.B = B, .T = T, .x = x, .pos = pos, .mask = mb, .mask_stride = T, .hs = hs, .hs_name = hs_name};
        s = am__stack_forward(cx, st, &io);
    }
    free(mb);
    if (s != AM_OK) {
        free(x);
        return s;
    }
    *hidden = x;
    return AM_OK;
}

am_status am__step_last(am__fwd *cx, const am__embed *e, const am__stack *st, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos,
                        const uint8_t *mask, int64_t mask_stride, am__kv_cache *cache, const am__cross *cross, float **last) {
    *last = NULL;
    int64_t H = st->H, M = B * T;
    float *x = malloc((size_t)(M * H > 0 ? M * H : 1) * sizeof(float));
    int64_t *at = malloc((size_t)(B > 0 ? B : 1) * sizeof(int64_t));
    am_status s = x && at ? am__embed_fwd(cx, e, B, T, ids, pos, NULL, x) : am__error(AM_ERR_NO_MEMORY, "generate: out of memory for %lld rows", (long long)M);
    if (s == AM_OK) {
        am__stack_io io = {.B = B, .T = T, .x = x, .pos = pos, .mask = mask, .mask_stride = mask_stride, .cache = cache, .cross = cross};
        s = am__stack_forward(cx, st, &io);
    }
    for (int64_t b = 0; s == AM_OK && b < B; b++) at[b] = T - 1;
    if (s == AM_OK && !(*last = am__gather_rows(x, B, T, H, at))) s = AM_ERR_NO_MEMORY;
    free(x);
    free(at);
    return s;
}

am_status am__linear_output(const am__module *lin, int64_t B, int64_t T, bool per_token, const float *h, am_tensors *out, const char *name) {
    int64_t N = am__module_find_param(lin, "weight")->shape[0], R = per_token ? B * T : B;
    float *y = malloc((size_t)(R * N > 0 ? R * N : 1) * sizeof(float));
    if (!y) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %s [%lld, %lld]", name, (long long)R, (long long)N);
    int64_t s3[3] = {B, T, N}, s2[2] = {B, N};
    am_status s = am__linear_fwd(lin, R, h, y);
    if (s == AM_OK) s = am__put_output(out, name, per_token ? 3 : 2, per_token ? s3 : s2, y);
    free(y);
    return s;
}

am_status am__qa_head_forward(const am__module *qa, int64_t B, int64_t T, const float *h, am_tensors *out) {
    am__param *w = am__module_find_param(qa, "weight");
    int64_t L = w->shape[0];
    if (L != 2) return am__error(AM_ERR_FORMAT, "question answering needs num_labels == 2 (start, end), the qa_outputs layer has %lld", (long long)L);
    float *logits = malloc((size_t)(B * T * 2) * sizeof(float)), *se = malloc((size_t)(B * T * 2) * sizeof(float));
    am_status s = logits && se ? AM_OK : am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the answer logits");
    if (s == AM_OK) s = am__linear_fwd(qa, B * T, h, logits);
    if (s == AM_OK) {
        for (int64_t i = 0; i < B * T; i++) {
            se[i] = logits[2 * i];
            se[B * T + i] = logits[2 * i + 1];
        }
        int64_t shape[2] = {B, T};
        s = am__put_output(out, "start_logits", 2, shape, se);
        if (s == AM_OK) s = am__put_output(out, "end_logits", 2, shape, se + B * T);
    }
    free(logits);
    free(se);
    return s;
}

/* ---- per-call state (am__call) ---- */

static _Thread_local am__call *t_call;

static uint64_t mix64(uint64_t z) { /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t next_call_base(am_model *m) {
    uint64_t k = __atomic_add_fetch(&m->dropout_calls, 1, __ATOMIC_RELAXED);
    return mix64(k * 0x9e3779b97f4a7c15ull);
}

void am__call_begin(am__call *c, am_model *m, uint64_t seed) {
    *c = (am__call){.model = m, .training = m->root->training, .prev = t_call};
    if (c->training) c->dropout_base = seed ? mix64(seed ^ 0x5851f42d4c957f2dull) : next_call_base(m);
    t_call = c;
}
void am__call_end(am__call *c) {
    am__offload_release_all(c->model);
    t_call = c->prev;
}

uint64_t am__dropout_seed(am_model *m) {
    am__call *c = t_call;
    if (c && c->model == m) {
        if (!c->training) return 0; /* eval mode: no dropout, nothing drawn */
        return mix64(c->dropout_base + ++c->dropout_sites * 0x9e3779b97f4a7c15ull);
    }
    /* reached outside am_model_forward/generate (internal callers): a call of its own per site */
    return m->root->training ? next_call_base(m) : 0;
}

float *am__gather_rows(const float *h, int64_t B, int64_t T, int64_t H, const int64_t *at) {
    float *r = malloc((size_t)(B * H > 0 ? B * H : 1) * sizeof(float));
    if (!r) {
        am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld pooled rows", (long long)B);
        return NULL;
    }
    for (int64_t b = 0; b < B; b++) memcpy(r + b * H, h + (b * T + (at ? at[b] : 0)) * H, (size_t)H * sizeof(float));
    return r;
}

int64_t am__last_non_pad(const int64_t *ids, int64_t T, int64_t pad, bool has_pad) {
    if (!has_pad) return T - 1;
    for (int64_t t = 0; t < T; t++)
        if (ids[t] == pad) return t - 1 >= 0 ? t - 1 : T - 1;
    return T - 1;
}

am_status am__last_token_index(const int64_t *ids, int64_t B, int64_t T, bool has_pad, int64_t pad, int64_t *at) {
    if (!has_pad && B != 1) return am__error(AM_ERR_INVALID_ARGUMENT, "Cannot handle batch sizes > 1 if no padding token is defined.");
    for (int64_t b = 0; b < B; b++) at[b] = am__last_non_pad(ids + b * T, T, pad, has_pad);
    return AM_OK;
}

am_status am__eos_index(const int64_t *ids, int64_t B, int64_t T, int64_t eos, int64_t *at) {
    int64_t count = -1;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t t = 0; t < T; t++)
            if (ids[b * T + t] == eos) n++, at[b] = t;
        if (count >= 0 && n != count) return am__error(AM_ERR_INVALID_ARGUMENT, "forward: All examples must have the same number of <eos> tokens.");
        if (n == 0)
            return am__error(AM_ERR_INVALID_ARGUMENT, "forward: row %lld of input_ids has no <eos> token (%lld) to classify at", (long long)b, (long long)eos);
        count = n;
    }
    return AM_OK;
}

void am__model_tie(am_model *m, const char *alias, const char *target) {
    /* called by builders: a failure is the tree's sticky build failure */
    char **a = realloc(m->tie_alias, (m->n_ties + 1) * sizeof *a);
    if (a) m->tie_alias = a;
    char **t = a ? realloc(m->tie_target, (m->n_ties + 1) * sizeof *t) : NULL;
    if (t) m->tie_target = t;
    char *sa = t ? am__strdup(alias) : NULL, *st = sa ? am__strdup(target) : NULL;
    if (!st) {
        free(sa);
        am__module_build_fail();
        return;
    }
    m->tie_alias[m->n_ties] = sa;
    m->tie_target[m->n_ties] = st;
    m->n_ties++;
}

void am__model_apply_ties(am_model *m) {
    for (size_t i = 0; i < m->n_ties; i++) {
        am__param *a = am__module_lookup(m->root, m->tie_alias[i], NULL);
        am__param *t = am__module_lookup(m->root, m->tie_target[i], NULL);
        if (!a || !t || !t->t || a->t == t->t) continue;
        am_tensor_free(a->t);
        a->t = am_tensor_retain(t->t);
    }
}

/* ---- attention with the model's implementation, and output_attentions ---- */

/* The probabilities one forward call records, per role (the call's state: the model stays
 * read-only and concurrent forwards on other threads are unaffected). */
typedef struct am__attn_rec {
    am_tensors *lists[3];
} attn_rec;

am_status am__attend(const am_model *m, am__attn_role role, am__attn_args *a) {
    a->impl = m->attn;
    am__call *c = t_call;
    attn_rec *r = c && c->model == m ? c->attn_rec : NULL;
    if (!r) return am__attention(a);
    int64_t shape[4] = {a->B, a->Hq, a->Tq, a->Tk};
    am_tensor *t = am_tensor_new(AM_F32, 4, shape);
    if (!t)
        return am__error(AM_ERR_NO_MEMORY, "output_attentions: out of memory for probabilities [%lld, %lld, %lld, %lld]", (long long)a->B,
                         (long long)a->Hq, (long long)a->Tq, (long long)a->Tk);
    a->probs = am_tensor_data(t);
    a->impl = AM_ATTN_EAGER;
    am_status s = am__attention(a);
    a->probs = NULL;
    char idx[32];
    snprintf(idx, sizeof idx, "%zu", am_tensors_count(r->lists[role]));
    if (s == AM_OK) s = am_tensors_set(r->lists[role], idx, t);
    am_tensor_free(t);
    return s;
}

am_status am__attn_record_begin(am__call *c) {
    const am_model *m = c->model;
    attn_rec *r = calloc(1, sizeof *r);
    bool ok = r != NULL;
    for (int i = 0; ok && i < 3; i++) ok = (r->lists[i] = am_tensors_new()) != NULL;
    if (!ok) {
        for (int i = 0; r && i < 3; i++) am_tensors_free(r->lists[i]);
        free(r);
        return am__error(AM_ERR_NO_MEMORY, "output_attentions: out of memory");
    }
    c->attn_rec = r;
    static _Atomic int warned;
    if (m->attn != AM_ATTN_EAGER && !warned++)
        am__log(AM_LOG_WARNING,
                "%s is using the %s attention implementation, but `torch.nn.functional.scaled_dot_product_attention` does not support "
                "`output_attentions=True`. Falling back to the manual attention implementation, but specifying the manual implementation will "
                "be required from Transformers version v5.0.0 onwards. This warning can be removed using the argument "
                "`attn_implementation=\"eager\"` when loading the model.",
                m->spec ? m->spec->class_name : "the model", am__attn_impl_name(m->attn));
    return AM_OK;
}

am_status am__attn_record_end(am__call *c, am_tensors *out, bool ok) {
    attn_rec *r = c->attn_rec;
    c->attn_rec = NULL;
    am_status s = AM_OK;
    if (!r) return AM_OK;
    if (ok && s == AM_OK) {
        /* transformers' names: an encoder-decoder returns decoder_, cross_ and encoder_attentions
         * (Seq2Seq*Output order); an encoder or a decoder alone returns attentions (+ cross_) */
        bool s2s = am_tensors_count(r->lists[AM__ATTN_SELF]) && am_tensors_count(r->lists[AM__ATTN_DECODER]);
        static const int order_s2s[3] = {AM__ATTN_DECODER, AM__ATTN_CROSS, AM__ATTN_SELF}, order[3] = {AM__ATTN_SELF, AM__ATTN_DECODER, AM__ATTN_CROSS};
        static const char *const names_s2s[3] = {"encoder_attentions", "decoder_attentions", "cross_attentions"};
        static const char *const names[3] = {"attentions", "attentions", "cross_attentions"};
        for (int k = 0; s == AM_OK && k < 3; k++) {
            int role = s2s ? order_s2s[k] : order[k];
            const am_tensors *l = r->lists[role];
            for (size_t i = 0; s == AM_OK && i < am_tensors_count(l); i++) {
                char name[64];
                snprintf(name, sizeof name, "%s.%s", (s2s ? names_s2s : names)[role], am_tensors_name(l, i));
                s = am_tensors_set(out, name, am_tensors_at(l, i));
            }
        }
    }
    for (int i = 0; r && i < 3; i++) am_tensors_free(r->lists[i]);
    free(r);
    return s;
}
