/* vision/resample.c — Pillow 9.4's Image.resize for 8-bit images, reproduced from the algorithm's
 * description (tests/fixtures/processors/README.md, "Resize"): a separable convolution whose
 * filter support widens by the reduction factor (antialiasing), weights normalised per output
 * pixel then turned into 22-bit fixed point, the horizontal pass first and stored as uint8
 * (rounded, clipped), then the vertical pass. NEAREST is a separate point sampler. */
#include "vision/vision.h"
#include "core/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREC 22

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}
static double f_box(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }
static double f_bilinear(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double f_hamming(double x) {
    x = fabs(x);
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    return sinc(x) * (0.54 + 0.46 * cos(M_PI * x));
}
static double f_bicubic(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}
static double f_lanczos(double x) {
    if (x > -3.0 && x < 3.0) return sinc(x) * sinc(x / 3.0);
    return 0.0;
}

typedef struct filt {
    double (*fn)(double);
    double support;
} filt;

static bool filter_of(int code, filt *f) {
    switch (code) {
    case 1: *f = (filt){f_lanczos, 3.0}; return true;
    case 2: *f = (filt){f_bilinear, 1.0}; return true;
    case 3: *f = (filt){f_bicubic, 2.0}; return true;
    case 4: *f = (filt){f_box, 0.5}; return true;
    case 5: *f = (filt){f_hamming, 1.0}; return true;
    default: return false;
    }
}

/* Coefficients of one axis: for output i, taps [lo[i], lo[i] + cnt[i]) with fixed-point k. */
typedef struct coeffs {
    int ksize;
    int *lo, *cnt;
    int32_t *k; /* out x ksize */
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->lo);
    free(c->cnt);
    free(c->k);
}

static am_status coeffs_make(coeffs *c, int in, int out, const filt *f) {
    memset(c, 0, sizeof *c);
    double scale = (double)in / out;
    double fs = scale < 1.0 ? 1.0 : scale;
    double support = f->support * fs;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->lo = malloc(sizeof(int) * out);
    c->cnt = malloc(sizeof(int) * out);
    c->k = calloc((size_t)out * c->ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * c->ksize);
    if (!c->lo || !c->cnt || !c->k || !w) {
        free(w);
        coeffs_free(c);
        return am__error(AM_ERR_NO_MEMORY, "out of memory for resize coefficients (%d -> %d)", in, out);
    }
    double inv = 1.0 / fs;
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int n = xmax - xmin;
        if (n > c->ksize) n = c->ksize;
        if (n < 0) n = 0;
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            w[j] = f->fn((j + xmin - center + 0.5) * inv);
            sum += w[j];
        }
        int32_t *k = c->k + (size_t)i * c->ksize;
        for (int j = 0; j < n; j++) {
            double v = sum != 0.0 ? w[j] / sum : w[j];
            k[j] = (int32_t)(v < 0 ? v * (1 << PREC) - 0.5 : v * (1 << PREC) + 0.5);
        }
        c->lo[i] = xmin;
        c->cnt[i] = n;
    }
    free(w);
    return AM_OK;
}

static inline uint8_t clip8(int64_t acc) {
    int64_t v = acc >> PREC;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* one pass along x (rows stay) or y (columns stay) */
static void pass_h(const am_image *src, am_image *dst, const coeffs *c) {
    int C = src->channels;
    for (int y = 0; y < dst->height; y++) {
        const uint8_t *r = src->px + (size_t)y * src->width * C;
        uint8_t *d = dst->px + (size_t)y * dst->width * C;
        for (int x = 0; x < dst->width; x++) {
            const int32_t *k = c->k + (size_t)x * c->ksize;
            const uint8_t *s = r + (size_t)c->lo[x] * C;
            for (int ch = 0; ch < C; ch++) {
                int64_t acc = 1 << (PREC - 1);
                for (int j = 0; j < c->cnt[x]; j++) acc += (int64_t)s[(size_t)j * C + ch] * k[j];
                d[(size_t)x * C + ch] = clip8(acc);
            }
        }
    }
}
static void pass_v(const am_image *src, am_image *dst, const coeffs *c) {
    int C = src->channels;
    size_t rowlen = (size_t)src->width * C;
    for (int y = 0; y < dst->height; y++) {
        const int32_t *k = c->k + (size_t)y * c->ksize;
        const uint8_t *s = src->px + (size_t)c->lo[y] * rowlen;
        uint8_t *d = dst->px + (size_t)y * rowlen;
        for (size_t x = 0; x < rowlen; x++) {
            int64_t acc = 1 << (PREC - 1);
            for (int j = 0; j < c->cnt[y]; j++) acc += (int64_t)s[(size_t)j * rowlen + x] * k[j];
            d[x] = clip8(acc);
        }
    }
}

static am_image *copy_image(const am_image *img) {
    am_image *o = am__image_new(img->width, img->height, img->channels);
    if (o) memcpy(o->px, img->px, (size_t)img->width * img->height * img->channels);
    return o;
}

/* NEAREST: the source column is (int)xo, xo starting at 0.5 * s and advanced by s per output pixel
 * (repeated double additions, as Pillow's affine scaler does, not (i + 0.5) * s); rows the same way. */
static am_image *resize_nearest(const am_image *img, int ow, int oh) {
    am_image *o = am__image_new(ow, oh, img->channels);
    int *xs = o ? malloc(sizeof(int) * ow) : NULL;
    if (!xs) {
        am_image_free(o);
        am__error(AM_ERR_NO_MEMORY, "out of memory resizing to %dx%d", ow, oh);
        return NULL;
    }
    double sx = (double)img->width / ow, sy = (double)img->height / oh;
    double xo = 0.5 * sx;
    for (int x = 0; x < ow; x++) {
        int v = (int)xo;
        xs[x] = v >= img->width ? img->width - 1 : v;
        xo += sx;
    }
    int C = img->channels;
    double yo = 0.5 * sy;
    for (int y = 0; y < oh; y++, yo += sy) {
        int yi = (int)yo;
        if (yi >= img->height) yi = img->height - 1;
        const uint8_t *r = img->px + (size_t)yi * img->width * C;
        uint8_t *d = o->px + (size_t)y * ow * C;
        for (int x = 0; x < ow; x++) memcpy(d + (size_t)x * C, r + (size_t)xs[x] * C, (size_t)C);
    }
    free(xs);
    return o;
}

am_image *am__image_resize(const am_image *img, int ow, int oh, int code) {
    if (!img || ow <= 0 || oh <= 0) {
        am__error(AM_ERR_INVALID_ARGUMENT, "resize: height and width must be > 0 (got %dx%d)", ow, oh);
        return NULL;
    }
    if ((int64_t)ow * oh > 2 * AM__IMAGE_MAX_PIXELS) {
        am__error(AM_ERR_INVALID_ARGUMENT, "resize: %dx%d is larger than the %lld-pixel limit", ow, oh,
                  2 * AM__IMAGE_MAX_PIXELS);
        return NULL;
    }
    if (code == 0) return resize_nearest(img, ow, oh);
    filt f;
    if (!filter_of(code, &f)) {
        am__error(AM_ERR_INVALID_ARGUMENT,
                  "resample=%d is not a Pillow filter (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)", code);
        return NULL;
    }
    if (ow == img->width && oh == img->height) return copy_image(img);
    const am_image *cur = img;
    am_image *tmp = NULL;
    if (ow != img->width) {
        coeffs c;
        if (coeffs_make(&c, img->width, ow, &f) != AM_OK) return NULL;
        tmp = am__image_new(ow, img->height, img->channels);
        if (!tmp) {
            coeffs_free(&c);
            return NULL;
        }
        pass_h(img, tmp, &c);
        coeffs_free(&c);
        cur = tmp;
    }
    if (oh == img->height) return tmp;
    coeffs c;
    if (coeffs_make(&c, img->height, oh, &f) != AM_OK) {
        am_image_free(tmp);
        return NULL;
    }
    am_image *o = am__image_new(ow, oh, img->channels);
    if (o) pass_v(cur, o, &c);
    coeffs_free(&c);
    am_image_free(tmp);
    return o;
}

am_image *am_image_resize(const am_image *img, int width, int height, int resample) {
    return am__image_resize(img, width, height, resample);
}
