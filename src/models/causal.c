/* models/causal.c — shared by the decoder architectures: the KV cache, dense and norm layers that
 * read weights in their stored dtype (decode-sized products on the GEMV), embedding rows, and the
 * sequence-classification pooling index. */
#include "models/causal.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

am__kv_cache *am__kv_new(int64_t layers, int64_t B, int64_t Hkv, int64_t D, int64_t cap) {
    am__kv_cache *c = calloc(1, sizeof *c);
    if (!c) {
        am__error(AM_ERR_NO_MEMORY, "KV cache: out of memory");
        return NULL;
    }
    *c = (am__kv_cache){layers, B, Hkv, D, cap, 0, NULL, NULL};
    size_t n = (size_t)(layers * B * Hkv * cap * D);
    c->k = malloc((n ? n : 1) * sizeof(float));
    c->v = malloc((n ? n : 1) * sizeof(float));
    if (!c->k || !c->v) {
        am__kv_free(c);
        am__error(AM_ERR_NO_MEMORY, "KV cache: out of memory (%lld layers x %lld rows x %lld positions)", (long long)layers, (long long)B,
                  (long long)cap);
        return NULL;
    }
    return c;
}

void am__kv_free(am__kv_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c);
}

void am__kv_store(am__kv_cache *c, int64_t layer, bool value, int64_t T, const float *x, int64_t ld) {
    float *base = value ? am__kv_v(c, layer) : am__kv_k(c, layer);
    int64_t rs = am__kv_row_stride(c);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t t = 0; t < T; t++) {
            const float *src = x + (b * T + t) * ld;
            for (int64_t h = 0; h < c->Hkv; h++)
                memcpy(base + b * rs + (h * c->cap + c->len + t) * c->D, src + h * c->D, (size_t)c->D * sizeof(float));
        }
}

am_status am__kv_reorder(am__kv_cache *c, const int64_t *src) {
    bool identity = true;
    for (int64_t b = 0; b < c->B; b++) identity = identity && src[b] == b;
    if (identity || !c->len) return AM_OK;
    int64_t rs = am__kv_row_stride(c);
    float *tmp = malloc((size_t)(c->B * rs) * sizeof(float));
    if (!tmp) return am__error(AM_ERR_NO_MEMORY, "KV cache reorder: out of memory");
    for (int64_t l = 0; l < c->layers; l++)
        for (int kv = 0; kv < 2; kv++) {
            float *base = kv ? am__kv_v(c, l) : am__kv_k(c, l);
            memcpy(tmp, base, (size_t)(c->B * rs) * sizeof(float));
            for (int64_t b = 0; b < c->B; b++) {
                if (src[b] == b) continue;
                for (int64_t h = 0; h < c->Hkv; h++)
                    memcpy(base + b * rs + h * c->cap * c->D, tmp + src[b] * rs + h * c->cap * c->D, (size_t)(c->len * c->D) * sizeof(float));
            }
        }
    free(tmp);
    return AM_OK;
}

void am__rmsnorm_fwd(const am__module *norm, int64_t M, const float *x, float *y, double eps) {
    am__param *w = am__module_find_param(norm, "weight");
    float *wt = NULL;
    const float *wf = am__f32_cached(w->t);
    if (!wf) wf = am__f32_view(w->t, &wt);
    if (wf) am__rmsnorm_f32(M, w->shape[0], x, wf, eps, y); /* else out of memory: noted */
    free(wt);
}

void am__embed_add(const am_tensor *table, int64_t id, float *dst) {
    int64_t d = table->shape[1];
    if (table->dtype == AM_F32) {
        const float *r = (const float *)table->data + id * d;
        for (int64_t i = 0; i < d; i++) dst[i] += r[i];
        return;
    }
    float *tmp = malloc((size_t)d * sizeof(float));
    if (!tmp) {
        am__oom_note();
        return;
    }
    am__row_f32(table, id, tmp);
    for (int64_t i = 0; i < d; i++) dst[i] += tmp[i];
    free(tmp);
}

int64_t am__last_non_pad(const int64_t *ids, int64_t T, int64_t pad, bool has_pad) {
    if (!has_pad) return T - 1;
    for (int64_t t = 0; t < T; t++)
        if (ids[t] == pad) return t - 1 >= 0 ? t - 1 : T - 1;
    return T - 1;
}

uint8_t *am__mask_bytes(const am_tensor *mask, int64_t n) {
    if (!mask) return NULL;
    uint8_t *m = malloc((size_t)(n ? n : 1));
    if (!m) {
        am__oom_note();
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) m[i] = ((const int64_t *)mask->data)[i] != 0;
    return m;
}

am__attn_args am__kv_attn_args(am__kv_cache *c, int64_t layer, int64_t B, int64_t T, int64_t Hq, const float *q, int64_t q_row, const uint8_t *key_mask,
                               int64_t mask_stride, float *out, int64_t out_row) {
    am__attn_args a = am__attn_packed(B, T, c->len + T, Hq, c->Hkv, c->D, q, q_row, am__kv_k(c, layer), am__kv_v(c, layer), c->D, out, out_row);
    a.kv_head = c->cap * c->D;
    a.kv_batch = am__kv_row_stride(c);
    a.key_mask = key_mask;
    a.mask_stride = mask_stride;
    a.causal = true;
    return a;
}
