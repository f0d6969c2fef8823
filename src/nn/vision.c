/* nn/vision.c — the pieces vision (and audio) models add to the engine: the patch embedding (a Conv2d
 * whose kernel equals its stride, through kernels/conv.c), Conv1d as a convolution of height 1, and the
 * bicubic resampling of position-embedding grids (torch's F.interpolate, mode="bicubic",
 * align_corners=False). */
#include "core/error.h"
#include "nn/blocks.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

am_status am__patch_embed_fwd(const am__module *conv, int64_t B, int64_t C, int64_t Hi, int64_t Wi, const float *px, float *y, int64_t ld) {
    am__param *w = am__module_find_param(conv, "weight"), *b = am__module_find_param(conv, "bias");
    AM_ASSERT(w && w->t && w->ndim == 4); /* the builder registered a 4-D Conv2d weight, and loading fills it */
    int64_t N = w->shape[0], ph = w->shape[2], pw = w->shape[3], gh = Hi / ph, gw = Wi / pw, M = B * gh * gw;
    if (M == 0) return AM_OK;
    const float *wf = am__f32_cached(w->t), *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    float *out = ld == N ? y : malloc((size_t)(M * N) * sizeof(float));
    if (!wf || (b && b->t && !bf) || !out) {
        if (out != y) free(out);
        return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for %lld image patches", (long long)M);
    }
    int64_t oh, ow;
    am__conv2d_f32(B, C, Hi, Wi, px, true, N, 1, ph, pw, ph, pw, 0, 0, wf, bf, out, &oh, &ow);
    if (out != y) {
        for (int64_t i = 0; i < M; i++) memcpy(y + i * ld, out + i * N, (size_t)N * sizeof(float));
        free(out);
    }
    return AM_OK;
}

am_status am__conv1d_fwd(const am__module *conv, int64_t B, int64_t C, int64_t L, const float *x, bool channels_first, int64_t stride, int64_t pad,
                         int64_t groups, float *y, int64_t *Lout) {
    am__param *w = am__module_find_param(conv, "weight"), *b = am__module_find_param(conv, "bias");
    AM_ASSERT(w && w->t && w->ndim == 3); /* the builder registered a 3-D Conv1d weight, and loading fills it */
    int64_t O = w->shape[0], K = w->shape[2], oh;
    const float *wf = am__f32_cached(w->t), *bf = b && b->t ? am__f32_cached(b->t) : NULL;
    if (!wf || (b && b->t && !bf)) return am__error(AM_ERR_NO_MEMORY, "forward: out of memory for the %s weight", conv->name);
    /* [O, C/g, K] is [O, C/g, 1, K]; [B, C, L] is NCHW with H = 1, [B, L, C] NHWC */
    am__conv2d_f32(B, C, 1, L, x, channels_first, O, groups, 1, K, 1, stride, 0, pad, wf, bf, y, &oh, Lout);
    return AM_OK;
}

/* torch's cubic convolution weights (A = -0.75) of the 4 taps around a source coordinate, and their
 * clamped indices: upsample_bicubic2d's compute_indices_weights, in float as torch computes them */
static void cubic_taps(int64_t in, int64_t out, double scale, int64_t *idx, float *wt) {
    /* area_pixel_compute_scale: 1/scale_factor when the caller gave one, else in/out */
    float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    const float A = -0.75f;
    for (int64_t i = 0; i < out; i++) {
        float real = s * ((float)i + 0.5f) - 0.5f; /* cubic: not clamped at 0 */
        int64_t at = (int64_t)floorf(real);
        if (at > in - 1) at = in - 1;
        float t = real - (float)at;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        float x1 = t + 1.0f, x2 = 1.0f - t, x3 = x2 + 1.0f;
        wt[i * 4 + 0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
        wt[i * 4 + 1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
        wt[i * 4 + 2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
        wt[i * 4 + 3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
        for (int j = 0; j < 4; j++) {
            int64_t k = at - 1 + j;
            idx[i * 4 + j] = k < 0 ? 0 : k > in - 1 ? in - 1 : k;
        }
    }
}

am_status am__bicubic_hwc(int64_t ih, int64_t iw, int64_t C, const float *in, int64_t oh, int64_t ow, double scale_h, double scale_w, float *out) {
    if (oh <= 0 || ow <= 0 || C <= 0) return AM_OK;
    if (ih <= 0 || iw <= 0) return am__error(AM_ERR_SHAPE, "bicubic interpolation of an empty %lldx%lld grid", (long long)ih, (long long)iw);
    int64_t *iy = malloc((size_t)(oh + ow) * 4 * sizeof(int64_t));
    float *wy = malloc((size_t)(oh + ow) * 4 * sizeof(float));
    if (!iy || !wy) {
        free(iy);
        free(wy);
        return am__error(AM_ERR_NO_MEMORY, "out of memory for a %lldx%lld interpolation", (long long)oh, (long long)ow);
    }
    int64_t *ix = iy + oh * 4;
    float *wx = wy + oh * 4;
    cubic_taps(ih, oh, scale_h, iy, wy);
    cubic_taps(iw, ow, scale_w, ix, wx);
    /* the height taps outside, each a sum over the width taps, accumulated in tap order as torch's
     * separable kernel does */
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++)
            for (int64_t c = 0; c < C; c++) {
                float acc = 0;
                for (int j = 0; j < 4; j++) {
                    const float *row = in + iy[y * 4 + j] * iw * C + c;
                    float t = row[ix[x * 4] * C] * wx[x * 4];
                    for (int i = 1; i < 4; i++) t += row[ix[x * 4 + i] * C] * wx[x * 4 + i];
                    acc = j ? acc + t * wy[y * 4 + j] : t * wy[y * 4];
                }
                out[(y * ow + x) * C + c] = acc;
            }
    free(iy);
    free(wy);
    return AM_OK;
}

/* torch's linear taps (align_corners=False, size given): source index clamped at 0, the second tap
 * one further unless at the edge; the identity when the sizes agree */
static void linear_taps(int64_t in, int64_t out, int64_t *idx, float *wt) {
    float s = (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        if (in == out) {
            idx[2 * i] = idx[2 * i + 1] = i;
            wt[2 * i] = 1.0f, wt[2 * i + 1] = 0.0f;
            continue;
        }
        float real = s * ((float)i + 0.5f) - 0.5f;
        if (real < 0) real = 0;
        int64_t i0 = (int64_t)real;
        float l1 = real - (float)i0;
        l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
        idx[2 * i] = i0;
        idx[2 * i + 1] = i0 + (i0 < in - 1 ? 1 : 0);
        wt[2 * i] = 1.0f - l1, wt[2 * i + 1] = l1;
    }
}

am_status am__bilinear_hwc(int64_t ih, int64_t iw, int64_t C, const float *in, int64_t oh, int64_t ow, float *out) {
    if (oh <= 0 || ow <= 0 || C <= 0) return AM_OK;
    if (ih <= 0 || iw <= 0) return am__error(AM_ERR_SHAPE, "bilinear interpolation of an empty %lldx%lld grid", (long long)ih, (long long)iw);
    int64_t *iy = malloc((size_t)(oh + ow) * 2 * sizeof(int64_t));
    float *wy = malloc((size_t)(oh + ow) * 2 * sizeof(float));
    if (!iy || !wy) {
        free(iy);
        free(wy);
        return am__error(AM_ERR_NO_MEMORY, "out of memory for a %lldx%lld interpolation", (long long)oh, (long long)ow);
    }
    int64_t *ix = iy + oh * 2;
    float *wx = wy + oh * 2;
    linear_taps(ih, oh, iy, wy);
    linear_taps(iw, ow, ix, wx);
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++)
            for (int64_t c = 0; c < C; c++) {
                const float *r0 = in + iy[2 * y] * iw * C + c, *r1 = in + iy[2 * y + 1] * iw * C + c;
                float t0 = r0[ix[2 * x] * C] * wx[2 * x] + r0[ix[2 * x + 1] * C] * wx[2 * x + 1];
                float t1 = r1[ix[2 * x] * C] * wx[2 * x] + r1[ix[2 * x + 1] * C] * wx[2 * x + 1];
                out[(y * ow + x) * C + c] = t0 * wy[2 * y] + t1 * wy[2 * y + 1];
            }
    free(iy);
    free(wy);
    return AM_OK;
}
