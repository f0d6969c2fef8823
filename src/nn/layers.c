/* nn/layers.c — the single-purpose blocks: the linear entry point (a module's weight and bias handed
 * to kernels/linear.c, which picks the path by dtype, rows and ISA), norms, embeddings, dropout sites and rotary tables. */
#include "core/error.h"
#include "nn/blocks.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- dropout ---- */

float am__drop_p(const am__fwd *cx, am__drop d) {
    if (d.mod) return d.mod->training ? (float)d.mod->p : 0.0f;
    return cx->training ? (float)d.p : 0.0f;
}

uint64_t am__fwd_seed(am__fwd *cx) { return cx->seed * 0x9E3779B97F4A7C15ull + ++cx->draws; }

void am__drop_fwd(am__fwd *cx, am__drop d, int64_t n, float *x) {
    float p = am__drop_p(cx, d);
    if (p > 0) am__dropout_f32(n, x, p, am__fwd_seed(cx));
}

/* ---- linear ---- */

const float *am__f32_view(const am_tensor *t, float **tmp) {
    *tmp = NULL;
    if (!t) return NULL;
    if (t->dtype == AM_F32) return (const float *)t->data;
    int64_t n = am_tensor_numel(t);
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*tmp) {
        am__error(AM_ERR_NO_MEMORY, "out of memory converting a %lld-element weight to float32", (long long)n);
        return NULL;
    }
    am__to_f32(t->data, t->dtype, n, *tmp);
    return *tmp;
}

void am__row_f32(const am_tensor *t, int64_t row, float *dst) {
    int64_t w = t->shape[t->ndim - 1];
    am__to_f32((const char *)t->data + (size_t)(row * w) * am_dtype_size(t->dtype), t->dtype, w, dst);
}

/* every float dtype, every ISA: kernels/linear.c picks GEMV, oneDNN f32/bf16 or a float32 copy made
 * once, and owns the per-weight caches; it never fails (without memory for a copy it stays on the
 * GEMV), so the only failure here is a bias that cannot be converted */
am_status am__dense(const am__module *mod, bool kn, int64_t M, const float *x, float *y) {
    am__param *w = am__module_find_param(mod, "weight"), *b = am__module_find_param(mod, "bias");
    AM_ASSERT(w && w->t); /* the tree was built with a weight, and loading fills every parameter */
    float *bt = NULL;
    const float *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (b && b->t && !bf) bf = am__f32_view(b->t, &bt);
    if (b && b->t && !bf) return AM_ERR_NO_MEMORY; /* am__f32_view set the message */
    am__linear_w(M, x, w->t, kn, bf, y, AM__PREC_DEFAULT);
    if (w->t->offloaded) am__tensor_drop_pages(w->t); /* device_map "disk": resident only while used (lm_head too) */
    free(bt);
    return AM_OK;
}

am_status am__linear_fwd(const am__module *lin, int64_t M, const float *x, float *y) { return am__dense(lin, false, M, x, y); }

am_status am__transform_fwd(const am__module *lin, am__act act, const am__norm *norm, int64_t M, const float *x, float *y) {
    am_status s = am__linear_fwd(lin, M, x, y);
    if (s != AM_OK) return s;
    am__act_f32(act, M * am__module_find_param(lin, "weight")->shape[0], y);
    return norm ? am__norm_fwd(norm, M, y, y) : AM_OK;
}

am_status am__put_output(am_tensors *out, const char *name, int ndim, const int64_t *shape, const float *data) {
    am_tensor *t = am_tensor_from_data(AM_F32, ndim, shape, data);
    if (!t) return am__error(AM_ERR_NO_MEMORY, "out of memory for output '%s'", name);
    am_status s = am_tensors_set(out, name, t);
    am_tensor_free(t);
    return s;
}

/* ---- norms ---- */

am_status am__layernorm_fwd(const am__module *ln, int64_t M, const float *x, float *y, double eps) {
    am__norm n = {ln, AM__NORM_LAYER, eps};
    return am__norm_fwd(&n, M, x, y);
}

am_status am__norm_fwd(const am__norm *n, int64_t M, const float *x, float *y) {
    am__param *w = am__module_find_param(n->mod, "weight"), *b = am__module_find_param(n->mod, "bias");
    float *wt = NULL, *bt = NULL;
    const float *wf = am__f32_cached(w->t), *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (!wf) wf = am__f32_view(w->t, &wt);
    if (b && b->t && !bf) bf = am__f32_view(b->t, &bt);
    am_status s = !wf || (b && b->t && !bf) ? AM_ERR_NO_MEMORY : AM_OK;
    if (s == AM_OK && n->kind == AM__NORM_RMS) am__rmsnorm_f32(M, w->shape[0], x, wf, n->eps, y);
    else if (s == AM_OK) am__layernorm_f32(M, w->shape[0], x, wf, bf, n->eps, y);
    free(wt);
    free(bt);
    return s;
}

/* ---- embeddings ---- */

static am_status add_row(const am_tensor *table, int64_t id, float scale, bool first, float *dst, float *tmp) {
    int64_t d = table->shape[1];
    const float *r = table->dtype == AM_F32 ? (const float *)table->data + id * d : tmp;
    if (table->dtype != AM_F32) am__row_f32(table, id, tmp);
    if (first)
        for (int64_t i = 0; i < d; i++) dst[i] = scale == 1.0f ? r[i] : r[i] * scale;
    else
        for (int64_t i = 0; i < d; i++) dst[i] += r[i];
    return AM_OK;
}

static am_status out_of_range(const char *input, int64_t v, int64_t n) {
    return am__error(AM_ERR_INVALID_ARGUMENT, "forward: %s contains %lld, outside the vocabulary [0, %lld)", input, (long long)v, (long long)n);
}

am_status am__embed_fwd(am__fwd *cx, const am__embed *e, int64_t B, int64_t T, const int64_t *ids, const int64_t *pos, const int64_t *types, float *x) {
    const am_tensor *wt = am__mod_tensor(e->word, "weight");
    const am_tensor *pt = e->pos ? am__mod_tensor(e->pos, "weight") : NULL;
    const am_tensor *tt = e->type ? am__mod_tensor(e->type, "weight") : e->type_from_word && types ? wt : NULL;
    int64_t V = wt->shape[0], H = wt->shape[1], P = pt ? pt->shape[0] - e->pos_offset : 0, TV = tt ? tt->shape[0] : 0, M = B * T;
    float scale = e->scale == 0.0f ? 1.0f : e->scale;
    for (int64_t i = 0; i < M; i++) {
        int64_t p = pos ? pos[i] : i % T;
        if (ids[i] < 0 || ids[i] >= V) return out_of_range("input_ids", ids[i], V);
        if (types && tt && (types[i] < 0 || types[i] >= TV)) return out_of_range("token_type_ids", types[i], TV);
        if (pt && (p < 0 || p >= P))
            return am__error(AM_ERR_INVALID_ARGUMENT, "forward: position %lld is outside the position table (%s = %lld); the sequence is too long",
                             (long long)p, e->pos_limit ? e->pos_limit : "max_position_embeddings", (long long)P);
    }
    float *tmp = malloc((size_t)H * sizeof(float));
    if (!tmp) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for an embedding row");
    for (int64_t i = 0; i < M; i++) {
        float *xr = x + i * H;
        add_row(wt, ids[i], scale, true, xr, tmp);
        if (tt) add_row(tt, types ? types[i] : 0, 1, false, xr, tmp);
        if (pt) add_row(pt, (pos ? pos[i] : i % T) + e->pos_offset, 1, false, xr, tmp);
    }
    free(tmp);
    am_status s = e->norm.mod ? am__norm_fwd(&e->norm, M, x, x) : AM_OK;
    if (s == AM_OK) am__drop_fwd(cx, e->drop, M * H, x);
    return s;
}

/* ---- rotary ---- */

void am__rope_inv_freq(int64_t dim, double base, float *out) {
    for (int64_t i = 0; i < dim / 2; i++) out[i] = 1.0f / powf((float)base, (float)(2 * i) / (float)dim);
}

void am__rope_fill_cache(const am__rope *r, float *d, bool sine) {
    int64_t h = r->dim / 2;
    float *inv = malloc((size_t)(h > 0 ? h : 1) * sizeof(float));
    if (!inv) {
        am__oom_note(); /* the load that filled it fails */
        return;
    }
    am__rope_inv_freq(r->dim, r->base, inv);
    for (int64_t p = 0; p < r->max_pos; p++) {
        float tp = (float)p;
        if (r->kind == AM__ROPE_LINEAR) tp = tp / (float)r->factor;
        for (int64_t i = 0; i < h; i++) {
            float f = tp * inv[i];
            d[p * r->dim + i] = d[p * r->dim + h + i] = sine ? sinf(f) : cosf(f);
        }
    }
    free(inv);
}

am_status am__mask_bytes(const int64_t *mask, int64_t n, uint8_t **out) {
    *out = NULL;
    if (!mask) return AM_OK;
    *out = malloc((size_t)(n ? n : 1));
    if (!*out) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the attention mask");
    for (int64_t i = 0; i < n; i++) (*out)[i] = mask[i] != 0;
    return AM_OK;
}
