/* kernels/conv.c — 2-D convolution (nn.Conv2d: stride, zero padding, groups) through oneDNN's
 * convolution primitive from the shared primitive cache (kernels/primcache.h, keyed by shapes and
 * layouts); a portable direct loop when oneDNN is unavailable or refuses the shape. Activations are
 * float32 NCHW (pixel inputs) or NHWC (token rows [B, H*W, C]); weights [O, I/groups, KH, KW]. */
#include "core/error.h"
#include "core/threadpool.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "kernels/primcache.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_key {
    int64_t B, C, H, W, O, OH, OW, G, KH, KW, SH, SW, PH, PW;
    int32_t src_nchw, bias;
    int32_t blocked; /* activations in oneDNN's nChw16c (1-D convolutions), reordered from/to NHWC */
} conv_key;

/* The convolution on NHWC activations; the weights in the layout oneDNN prefers for the shape
 * (md[1]; md[4] is the stored [O, I/G, KH, KW] layout they are reordered from). */
static bool build_conv(const void *key, am__prim *p, dnnl_engine_t engine) {
    const conv_key *k = key;
    dnnl_dims_t sd = {k->B, k->C, k->H, k->W}, dd = {k->B, k->O, k->OH, k->OW}, bd = {k->O};
    dnnl_dims_t wd4 = {k->O, k->C, k->KH, k->KW}, wd5 = {k->G, k->O / k->G, k->C / k->G, k->KH, k->KW};
    dnnl_dims_t st = {k->SH, k->SW}, pl = {k->PH, k->PW};
    /* torch pads both sides by padding; the right side is what makes the output size come out */
    dnnl_dims_t pr = {(k->OH - 1) * k->SH + k->KH - k->H - k->PH, (k->OW - 1) * k->SW + k->KW - k->W - k->PW};
    if (pr[0] < 0) pr[0] = 0;
    if (pr[1] < 0) pr[1] = 0;
    dnnl_memory_desc_t *src = &p->md[0], *wei = &p->md[1], *dst = &p->md[2], *bia = &p->md[3], *plain = &p->md[4];
    int nd = k->G == 1 ? 4 : 5;
    dnnl_format_tag_t act = k->blocked ? dnnl_nChw16c : dnnl_nhwc;
    bool ok = dnnl_memory_desc_init_by_tag(src, 4, sd, dnnl_f32, act) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(wei, nd, nd == 4 ? wd4 : wd5, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(plain, nd, nd == 4 ? wd4 : wd5, dnnl_f32, nd == 4 ? dnnl_oihw : dnnl_goihw) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(dst, 4, dd, dnnl_f32, act) == dnnl_success &&
              (!k->bias || dnnl_memory_desc_init_by_tag(bia, 1, bd, dnnl_f32, dnnl_a) == dnnl_success);
    dnnl_convolution_desc_t cd;
    ok = ok && dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, src, wei, k->bias ? bia : NULL, dst, st, pl, pr) ==
                   dnnl_success;
    ok = ok && am__prim_create(p, &cd, engine);
    const_dnnl_primitive_desc_t pd = NULL;
    ok = ok && dnnl_primitive_get_primitive_desc(p->prim, &pd) == dnnl_success;
    const dnnl_memory_desc_t *w = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    ok = ok && w;
    if (ok) *wei = *w;
    p->nargs = k->bias ? 4 : 3;
    p->arg[0] = DNNL_ARG_SRC, p->arg[1] = DNNL_ARG_WEIGHTS, p->arg[2] = DNNL_ARG_DST, p->arg[3] = DNNL_ARG_BIAS;
    return ok;
}

/* the stored weights into the convolution's layout */
typedef struct wreorder_key {
    dnnl_memory_desc_t from, to;
} wreorder_key;

static bool build_wreorder(const void *key, am__prim *p, dnnl_engine_t engine) {
    const wreorder_key *k = key;
    dnnl_primitive_desc_t rpd = NULL;
    p->md[0] = k->from, p->md[1] = k->to;
    bool ok = dnnl_reorder_primitive_desc_create(&rpd, &p->md[0], engine, &p->md[1], engine, NULL) == dnnl_success &&
              dnnl_primitive_create(&p->prim, rpd) == dnnl_success;
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    p->nargs = 2;
    p->arg[0] = DNNL_ARG_FROM, p->arg[1] = DNNL_ARG_TO;
    return ok;
}

/* oneDNN: NHWC input (pixels transposed once), weights reordered to the primitive's layout. 1: done;
 * 0: oneDNN refused (the caller's loops run); -1: out of memory (noted, nothing computed). */
static int conv_dnnl(const conv_key *k, const float *x, const float *w, const float *bias, float *y) {
    conv_key kk = *k;
    kk.src_nchw = 0;
    float *xt = NULL, *wt = NULL;
    if (k->src_nchw) {
        if (!(xt = malloc((size_t)(k->B * k->C * k->H * k->W) * sizeof(float)))) {
            am__oom_note();
            return -1;
        }
        for (int64_t b = 0; b < k->B; b++)
            for (int64_t c = 0; c < k->C; c++)
                for (int64_t i = 0; i < k->H * k->W; i++) xt[(b * k->H * k->W + i) * k->C + c] = x[(b * k->C + c) * k->H * k->W + i];
        x = xt;
    }
    am__omp_sync_threads();
    unsigned long oom = am__oom_events();
    am__prim *cp = am__prim_get(&kk, sizeof kk, build_conv);
    bool ok = cp != NULL;
    if (ok && !dnnl_memory_desc_equal(&cp->md[1], &cp->md[4])) {
        wreorder_key rk;
        memset(&rk, 0, sizeof rk);
        rk.from = cp->md[4], rk.to = cp->md[1];
        size_t sz = dnnl_memory_desc_get_size(&cp->md[1]);
        if (!(wt = am__aligned_alloc(sz ? sz : 64))) am__oom_note();
        void *const rptr[2] = {(void *)w, wt};
        ok = wt && am__prim_run(&rk, sizeof rk, build_wreorder, rptr);
        w = wt;
    }
    /* blocked activations: NHWC in, nChw16c through the convolution, NHWC out */
    float *xb = NULL, *yb = NULL;
    dnnl_memory_desc_t pin, pout;
    if (ok && kk.blocked) {
        dnnl_dims_t sd = {k->B, k->C, k->H, k->W}, dd = {k->B, k->O, k->OH, k->OW};
        ok = dnnl_memory_desc_init_by_tag(&pin, 4, sd, dnnl_f32, dnnl_nhwc) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&pout, 4, dd, dnnl_f32, dnnl_nhwc) == dnnl_success;
        xb = ok ? am__aligned_alloc(dnnl_memory_desc_get_size(&cp->md[0])) : NULL;
        yb = ok && xb ? am__aligned_alloc(dnnl_memory_desc_get_size(&cp->md[2])) : NULL;
        if (ok && !yb) am__oom_note();
        ok = ok && yb;
        wreorder_key rk;
        memset(&rk, 0, sizeof rk);
        rk.from = pin, rk.to = cp->md[0];
        void *const rptr[2] = {(void *)x, xb};
        ok = ok && am__prim_run(&rk, sizeof rk, build_wreorder, rptr);
        x = xb;
    }
    void *const ptr[4] = {(void *)x, (void *)w, yb ? yb : y, (void *)bias};
    ok = ok && am__prim_exec(cp, ptr);
    if (ok && yb) {
        wreorder_key rk;
        memset(&rk, 0, sizeof rk);
        rk.from = cp->md[2], rk.to = pout;
        void *const rptr[2] = {yb, y};
        ok = am__prim_run(&rk, sizeof rk, build_wreorder, rptr);
    }
    free(xb);
    free(yb);
    if (cp) am__prim_release(cp);
    free(xt);
    free(wt);
    return ok ? 1 : am__oom_events() != oom ? -1 : 0;
}

/* the same sums in plain loops (no oneDNN) */
static void conv_loops(const conv_key *k, const float *x, const float *w, const float *bias, float *y) {
    int64_t cg = k->C / k->G, og = k->O / k->G;
    for (int64_t b = 0; b < k->B; b++)
        for (int64_t oy = 0; oy < k->OH; oy++)
            for (int64_t ox = 0; ox < k->OW; ox++)
                for (int64_t o = 0; o < k->O; o++) {
                    int64_t g = o / og;
                    float acc = bias ? bias[o] : 0.0f;
                    for (int64_t ci = 0; ci < cg; ci++) {
                        int64_t c = g * cg + ci;
                        for (int64_t ky = 0; ky < k->KH; ky++) {
                            int64_t iy = oy * k->SH + ky - k->PH;
                            if (iy < 0 || iy >= k->H) continue;
                            for (int64_t kx = 0; kx < k->KW; kx++) {
                                int64_t ix = ox * k->SW + kx - k->PW;
                                if (ix < 0 || ix >= k->W) continue;
                                float v = k->src_nchw ? x[((b * k->C + c) * k->H + iy) * k->W + ix] : x[((b * k->H + iy) * k->W + ix) * k->C + c];
                                acc += v * w[((o * cg + ci) * k->KH + ky) * k->KW + kx];
                            }
                        }
                    }
                    y[((b * k->OH + oy) * k->OW + ox) * k->O + o] = acc;
                }
}

void am__conv2d_f32(int64_t B, int64_t C, int64_t H, int64_t W, const float *x, bool src_nchw, int64_t O, int64_t groups, int64_t KH, int64_t KW, int64_t SH,
                    int64_t SW, int64_t PH, int64_t PW, const float *w, const float *bias, float *y, int64_t *OH, int64_t *OW) {
    conv_key k;
    memset(&k, 0, sizeof k);
    k.B = B, k.C = C, k.H = H, k.W = W, k.O = O, k.G = groups, k.KH = KH, k.KW = KW, k.SH = SH, k.SW = SW, k.PH = PH, k.PW = PW;
    k.OH = (H + 2 * PH - KH) / SH + 1;
    k.OW = (W + 2 * PW - KW) / SW + 1;
    k.src_nchw = src_nchw, k.bias = bias != NULL;
    /* 1-D convolutions over many frames (Wav2Vec2's feature encoder) with channels in blocks of 16:
     * oneDNN's direct kernel on nChw16c (bench/audio_results_wav2vec2.md) */
    k.blocked = H == 1 && groups == 1 && C % 16 == 0 && O % 16 == 0 && !src_nchw && !getenv("AM_CONV_NHWC");
    *OH = k.OH, *OW = k.OW;
    if (B <= 0 || k.OH <= 0 || k.OW <= 0 || O <= 0) return;
    if (!getenv("AM_NO_DNNL") && conv_dnnl(&k, x, w, bias, y)) return; /* done, or out of memory (noted) */
    conv_loops(&k, x, w, bias, y);
}
