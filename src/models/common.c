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

const float *am__w(const am__module *m, const char *pname) {
    am_tensor *t = am__mod_tensor(m, pname);
    /* callers name a parameter their own builder registered, in a float32-only path: a bug here is automodel's */
    AM_ASSERT(t != NULL && t->dtype == AM_F32);
    return (const float *)t->data;
}

const float *am__f32_view(const am_tensor *t, float **tmp) {
    *tmp = NULL;
    if (!t) return NULL;
    if (t->dtype == AM_F32) return (const float *)t->data;
    int64_t n = am_tensor_numel(t);
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*tmp) {
        am__oom_note();
        return NULL;
    }
    am__to_f32(t->data, t->dtype, n, *tmp);
    return *tmp;
}

void am__row_f32(const am_tensor *t, int64_t row, float *dst) {
    int64_t w = t->shape[t->ndim - 1];
    am__to_f32((const char *)t->data + (size_t)(row * w) * am_dtype_size(t->dtype), t->dtype, w, dst);
}

/* every float dtype, every ISA: kernels/linear.c decides (and owns the per-weight caches) */
static void dense(const am__module *mod, int64_t M, const float *x, float *y, bool kn) {
    am__param *w = am__module_find_param(mod, "weight"), *b = am__module_find_param(mod, "bias");
    /* every linear module is built with a weight, and loading fills every parameter */
    AM_ASSERT(w && w->t);
    float *bt = NULL;
    const float *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (b && b->t && !bf) bf = am__f32_view(b->t, &bt);
    if (b && b->t && !bf) return; /* out of memory: noted */
    am__linear_w(M, x, w->t, kn, bf, y, AM__PREC_DEFAULT);
    free(bt);
}

void am__dense_fwd(const am__module *lin, int64_t M, const float *x, float *y) { dense(lin, M, x, y, false); }
void am__conv1d_fwd(const am__module *conv, int64_t M, const float *x, float *y) { dense(conv, M, x, y, true); }

void am__linear_fwd(const am__module *lin, int64_t M, const float *x, float *y) { dense(lin, M, x, y, false); }

void am__layernorm_fwd(const am__module *ln, int64_t M, const float *x, float *y, double eps) {
    am__param *w = am__module_find_param(ln, "weight");
    am__param *b = am__module_find_param(ln, "bias");
    float *wt = NULL, *bt = NULL;
    const float *wf = am__f32_cached(w->t), *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (!wf) wf = am__f32_view(w->t, &wt);
    if (b && b->t && !bf) bf = am__f32_view(b->t, &bt);
    if (wf && (bf || !b || !b->t)) am__layernorm_f32(M, w->shape[0], x, wf, bf, eps, y); /* else out of memory: noted */
    free(wt);
    free(bt);
}

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

am_status am__put_output(am_tensors *out, const char *name, int ndim, const int64_t *shape, const float *data) {
    am_tensor *t = am_tensor_from_data(AM_F32, ndim, shape, data);
    if (!t) return am__error(AM_ERR_NO_MEMORY, "out of memory for output '%s'", name);
    am_status s = am_tensors_set(out, name, t);
    am_tensor_free(t);
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
void am__call_end(am__call *c) { t_call = c->prev; }

uint64_t am__dropout_seed(am_model *m) {
    am__call *c = t_call;
    if (c && c->model == m) {
        if (!c->training) return 0; /* eval mode: no dropout, nothing drawn */
        return mix64(c->dropout_base + ++c->dropout_sites * 0x9e3779b97f4a7c15ull);
    }
    /* reached outside am_model_forward/generate (internal callers): a call of its own per site */
    return m->root->training ? next_call_base(m) : 0;
}

void am__dropout_fwd(am_model *m, const am__module *drop, int64_t n, float *x) {
    if (!drop || !drop->training || drop->p <= 0) return;
    am__dropout_f32(n, x, (float)drop->p, am__dropout_seed(m));
}

float am__dropout_p(const am__module *drop) { return drop && drop->training ? (float)drop->p : 0.0f; }

float *am__additive_mask(const am_tensor *mask, int64_t B, int64_t T) {
    float *m = malloc((size_t)(B * T) * sizeof(float));
    if (!m) { /* callers read NULL as "no mask": fail the call instead */
        am__oom_note();
        return NULL;
    }
    for (int64_t i = 0; i < B * T; i++) m[i] = (mask && ((const int64_t *)mask->data)[i] == 0) ? AM_FINFO_MIN_F32 : 0.0f;
    return m;
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
