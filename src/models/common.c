/* models/common.c — what every architecture's forward needs: weights by module, linear and norm
 * calls, input validation, masks, outputs, and tied parameters. */
#include "core/error.h"
#include "core/threadpool.h"
#include "core/util.h"
#include "models/model.h"
#include <stdlib.h>
#include <string.h>

const float *am__w(const am__module *m, const char *pname) {
    am_tensor *t = am__mod_tensor(m, pname);
    AM_ASSERT(t != NULL && t->dtype == AM_F32);
    return (const float *)t->data;
}

const float *am__f32_view(const am_tensor *t, float **tmp) {
    *tmp = NULL;
    if (!t) return NULL;
    if (t->dtype == AM_F32) return (const float *)t->data;
    int64_t n = am_tensor_numel(t);
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    AM_ASSERT(*tmp != NULL);
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
    AM_ASSERT(w && w->t);
    float *bt = NULL;
    const float *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (b && b->t && !bf) bf = am__f32_view(b->t, &bt);
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
    am__layernorm_f32(M, w->shape[0], x, wf, bf, eps, y);
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

void am__dropout_fwd(am_model *m, const am__module *drop, int64_t n, float *x) {
    if (!drop || !drop->training || drop->p <= 0) return;
    am__dropout_f32(n, x, (float)drop->p, ++m->dropout_seed);
}

float am__dropout_p(const am__module *drop) { return drop && drop->training ? (float)drop->p : 0.0f; }
uint64_t am__dropout_seed(am_model *m) { return ++m->dropout_seed; }

float *am__additive_mask(const am_tensor *mask, int64_t B, int64_t T) {
    float *m = malloc((size_t)(B * T) * sizeof(float));
    if (!m) return NULL;
    for (int64_t i = 0; i < B * T; i++) m[i] = (mask && ((const int64_t *)mask->data)[i] == 0) ? AM_FINFO_MIN_F32 : 0.0f;
    return m;
}

void am__model_tie(am_model *m, const char *alias, const char *target) {
    char **a = realloc(m->tie_alias, (m->n_ties + 1) * sizeof *a);
    AM_ASSERT(a);
    m->tie_alias = a;
    char **t = realloc(m->tie_target, (m->n_ties + 1) * sizeof *t);
    AM_ASSERT(t);
    m->tie_target = t;
    m->tie_alias[m->n_ties] = am__strdup(alias);
    m->tie_target[m->n_ties] = am__strdup(target);
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
