/* tests/test_vision_io.c — image input and image processors against transformers 4.32 / Pillow 9.4
 * (tests/fixtures/media, tests/fixtures/processors): every decoded image equal to PIL's
 * load_image result, BMP/WebP round trips, bad files refused with a message naming them, Pillow's
 * resize reproduced bit for bit, and every image-processor case's pixel_values / pixel_mask /
 * labels and intermediates. */
#include "harness.h"
#include "core/error.h"
#include "vision/vision.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <webp/encode.h>

static am_tensors *g_decoded;

/* tensor t (int64 holding bytes, [H, W, C] or [H, W]) equals the image's pixels */
static int64_t count_diff(const am_tensor *t, const am_image *img, int *maxd) {
    *maxd = 0;
    if (!t || !img) return -1;
    int nd = am_tensor_ndim(t);
    int C = nd == 3 ? (int)am_tensor_dim(t, 2) : 1;
    if (am_tensor_dim(t, 0) != am_image_height(img) || am_tensor_dim(t, 1) != am_image_width(img) ||
        C != am_image_channels(img))
        return -1;
    const int64_t *e = am_tensor_cdata(t);
    const uint8_t *p = am_image_pixels(img);
    int64_t n = am_tensor_numel(t), bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int d = abs((int)e[i] - (int)p[i]);
        if (d) bad++;
        if (d > *maxd) *maxd = d;
    }
    return bad;
}

static void test_decode_fixtures(void) {
    const char *names[] = {"img_cat.png", "img_cat.jpg", "img_astronaut.png", "img_astronaut.jpg", "img_coffee.png",
                           "img_coffee.jpg", "img_camera_gray.png", "img_coffee_rgba.png", "img_cat_palette.png",
                           "img_rocket_exif6.jpg", "img_tiny_7x5.png", "img_wide_240x24.png"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "media/%s", names[i]);
        am_image *img = am_image_load(am_test_fixture(rel), AM_IMAGE_RGB);
        CHECKF(img != NULL, "%s: %s", names[i], am_last_error());
        int maxd;
        int64_t bad = count_diff(am_tensors_get(g_decoded, names[i]), img, &maxd);
        CHECKF(bad == 0, "%s: %lld pixels differ from PIL's decode (max %d)", names[i], (long long)bad, maxd);
        am_image_free(img);
    }
    /* the EXIF-rotated JPEG: stored 75x112, 112 wide after the transpose */
    am_image *r = am_image_load(am_test_fixture("media/img_rocket_exif6.jpg"), AM_IMAGE_RGB);
    CHECK(r && am_image_width(r) == 112 && am_image_height(r) == 75);
    am_image_free(r);
    /* a segmentation map stays one channel of class ids */
    am_image *m = am_image_load(am_test_fixture("media/seg_coffee_labels.png"), AM_IMAGE_LABELS);
    CHECKF(m && am_image_channels(m) == 1 && am_image_width(m) == 128 && am_image_height(m) == 85, "%s", am_last_error());
    if (m) {
        int seen[256] = {0};
        for (int i = 0; i < 128 * 85; i++) seen[am_image_pixels(m)[i]] = 1;
        CHECK(seen[0] && seen[3] && seen[255] && !seen[4]);
    }
    am_image_free(m);
    /* an RGB photo is not a label map */
    CHECK(am_image_load(am_test_fixture("media/img_cat.png"), AM_IMAGE_LABELS) == NULL);
    CHECK(strstr(am_last_error(), "img_cat.png") != NULL);
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* A BMP of `img` at 8 (palette of the first 256 colours: only for images with few colours), 24 or
 * 32 bits per pixel, bottom-up or top-down. */
static uint8_t *make_bmp(const am_image *img, int bpp, bool top_down, size_t *len) {
    int W = am_image_width(img), H = am_image_height(img);
    const uint8_t *px = am_image_pixels(img);
    size_t stride = (((size_t)W * bpp + 31) / 32) * 4;
    size_t pal = bpp == 8 ? 256 * 4 : 0;
    size_t off = 14 + 40 + pal;
    *len = off + stride * H;
    uint8_t *b = calloc(1, *len);
    b[0] = 'B', b[1] = 'M';
    put32(b + 2, (uint32_t)*len);
    put32(b + 10, (uint32_t)off);
    put32(b + 14, 40);
    put32(b + 18, (uint32_t)W);
    put32(b + 22, top_down ? (uint32_t)-H : (uint32_t)H);
    b[26] = 1, b[28] = (uint8_t)bpp;
    uint8_t colours[256][3];
    int nc = 0;
    for (int y = 0; y < H; y++) {
        uint8_t *row = b + off + stride * (top_down ? y : H - 1 - y);
        for (int x = 0; x < W; x++) {
            const uint8_t *s = px + ((size_t)y * W + x) * 3;
            if (bpp == 8) {
                int k = 0;
                while (k < nc && memcmp(colours[k], s, 3)) k++;
                if (k == nc && nc < 256) memcpy(colours[nc++], s, 3);
                row[x] = (uint8_t)(k < 256 ? k : 0);
            } else {
                uint8_t *d = row + (size_t)x * (bpp / 8);
                d[0] = s[2], d[1] = s[1], d[2] = s[0];
                if (bpp == 32) d[3] = 0x7f;
            }
        }
    }
    if (bpp == 8) {
        put32(b + 46, 256);
        for (int k = 0; k < nc; k++) b[54 + 4 * k] = colours[k][2], b[55 + 4 * k] = colours[k][1], b[56 + 4 * k] = colours[k][0];
    }
    return b;
}

static bool same_pixels(const am_image *a, const am_image *b) {
    return a && b && am_image_width(a) == am_image_width(b) && am_image_height(a) == am_image_height(b) &&
           am_image_channels(a) == am_image_channels(b) &&
           !memcmp(am_image_pixels(a), am_image_pixels(b), (size_t)am_image_width(a) * am_image_height(a) * am_image_channels(a));
}

static void test_bmp_webp(void) {
    am_image *photo = am_image_load(am_test_fixture("media/img_astronaut.png"), AM_IMAGE_RGB);
    am_image *pal = am_image_load(am_test_fixture("media/img_cat_palette.png"), AM_IMAGE_RGB); /* 16 colours */
    CHECK(photo && pal);
    if (!photo || !pal) return;
    int cases[][2] = {{24, 0}, {24, 1}, {32, 0}, {32, 1}};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        uint8_t *b = make_bmp(photo, cases[i][0], cases[i][1], &n);
        am_image *d = am_image_decode(b, n, AM_IMAGE_RGB, "test.bmp");
        CHECKF(same_pixels(d, photo), "BMP %d-bit top_down=%d: %s", cases[i][0], cases[i][1], d ? "pixels differ" : am_last_error());
        am_image_free(d);
        /* every truncation is an error naming the data, never a crash */
        for (size_t cut = 0; cut < n; cut += n / 7 + 1) {
            am_image *t = am_image_decode(b, cut, AM_IMAGE_RGB, "cut.bmp");
            CHECK(t == NULL && strstr(am_last_error(), "cut.bmp"));
            am_image_free(t);
        }
        free(b);
    }
    size_t n;
    uint8_t *b = make_bmp(pal, 8, false, &n);
    am_image *d = am_image_decode(b, n, AM_IMAGE_RGB, "pal.bmp");
    CHECKF(same_pixels(d, pal), "BMP 8-bit palette: %s", d ? "pixels differ" : am_last_error());
    am_image_free(d);
    am_image *lab = am_image_decode(b, n, AM_IMAGE_LABELS, "pal.bmp");
    CHECK(lab && am_image_channels(lab) == 1);
    am_image_free(lab);
    free(b);

    /* lossless WebP decodes to exactly what was encoded */
    uint8_t *wp = NULL;
    size_t wn = WebPEncodeLosslessRGB(am_image_pixels(photo), am_image_width(photo), am_image_height(photo),
                                      am_image_width(photo) * 3, &wp);
    CHECK(wn > 0);
    d = am_image_decode(wp, wn, AM_IMAGE_RGB, "test.webp");
    CHECKF(same_pixels(d, photo), "WebP lossless: %s", d ? "pixels differ" : am_last_error());
    am_image_free(d);
    d = am_image_decode(wp, wn / 2, AM_IMAGE_RGB, "half.webp");
    CHECK(d == NULL && strstr(am_last_error(), "half.webp"));
    am_image_free(d);
    WebPFree(wp);
    am_image_free(photo);
    am_image_free(pal);
}

static void test_bad_files(void) {
    const char *files[] = {"media/img_cat.jpg", "media/img_cat.png", "media/img_cat_palette.png", "media/img_rocket_exif6.jpg"};
    for (size_t f = 0; f < 4; f++) {
        size_t n;
        char *data = am_test_read_file(am_test_fixture(files[f]), &n);
        CHECK(data != NULL);
        if (!data) continue;
        for (size_t cut = 0; cut < n; cut += n / 13 + 1) {
            am_image *t = am_image_decode(data, cut, AM_IMAGE_RGB, "truncated-file");
            CHECKF(t == NULL, "%s cut at %zu decoded", files[f], cut);
            CHECK(strstr(am_last_error(), "truncated-file") != NULL);
            am_image_free(t);
        }
        /* corrupted bytes: an error or an image, never a crash */
        for (size_t k = 0; k < 40; k++) {
            char *c = malloc(n);
            memcpy(c, data, n);
            c[(k * 7919) % n] ^= (char)(1 + k);
            am_image_free(am_image_decode(c, n, AM_IMAGE_RGB, "corrupt"));
            free(c);
        }
        free(data);
    }
    /* wrong magic, empty, missing */
    am_image *t = am_image_decode("GIF89a....", 10, AM_IMAGE_RGB, "x.gif");
    CHECK(t == NULL && am__error_code() == AM_ERR_FORMAT && strstr(am_last_error(), "x.gif") && strstr(am_last_error(), "identify"));
    CHECK(am_image_decode("", 0, AM_IMAGE_RGB, "empty") == NULL);
    CHECK(am_image_load("/nonexistent/dir/a.png", AM_IMAGE_RGB) == NULL && strstr(am_last_error(), "/nonexistent/dir/a.png"));

    /* decompression bombs: a valid PNG header claiming 20000 x 20000 pixels is refused before any
     * pixel memory is taken (PIL: more than 2 x MAX_IMAGE_PIXELS) */
    size_t n;
    char *png = am_test_read_file(am_test_fixture("media/img_tiny_7x5.png"), &n);
    CHECK(png && n > 33);
    if (png) {
        uint8_t *ihdr = (uint8_t *)png + 16;
        ihdr[0] = 0, ihdr[1] = 0, ihdr[2] = 0x4e, ihdr[3] = 0x20; /* width 20000 */
        ihdr[4] = 0, ihdr[5] = 0, ihdr[6] = 0x4e, ihdr[7] = 0x20; /* height 20000 */
        /* fix the IHDR CRC so only the size is wrong */
        uint32_t crc = 0xffffffffu;
        for (int i = 12; i < 29; i++) {
            crc ^= (uint8_t)png[i];
            for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
        }
        crc ^= 0xffffffffu;
        png[29] = (char)(crc >> 24), png[30] = (char)(crc >> 16), png[31] = (char)(crc >> 8), png[32] = (char)crc;
        t = am_image_decode(png, n, AM_IMAGE_RGB, "bomb.png");
        CHECKF(t == NULL && strstr(am_last_error(), "decompression bomb") && strstr(am_last_error(), "bomb.png"), "%s",
               am_last_error());
        free(png);
    }
    char *jpg = am_test_read_file(am_test_fixture("media/img_cat.jpg"), &n);
    if (jpg) {
        /* the SOF0 frame header's height and width set to 30000 (0x7530) */
        for (size_t i = 2; i + 9 < n; i++)
            if ((uint8_t)jpg[i] == 0xFF && (uint8_t)jpg[i + 1] == 0xC0) {
                jpg[i + 5] = jpg[i + 7] = 0x75, jpg[i + 6] = jpg[i + 8] = 0x30;
                break;
            }
        t = am_image_decode(jpg, n, AM_IMAGE_RGB, "bomb.jpg");
        CHECKF(t == NULL && strstr(am_last_error(), "decompression bomb"), "%s", am_last_error());
        free(jpg);
    }
    /* a BMP claiming a huge size with little data */
    uint8_t bmp[64] = {'B', 'M'};
    put32(bmp + 10, 54), put32(bmp + 14, 40), put32(bmp + 18, 9000), put32(bmp + 22, 9000);
    bmp[26] = 1, bmp[28] = 24;
    t = am_image_decode(bmp, sizeof bmp, AM_IMAGE_RGB, "short.bmp");
    CHECK(t == NULL && strstr(am_last_error(), "truncated"));
}

static void test_resize_basics(void) {
    uint8_t px[4 * 3 * 3];
    for (int i = 0; i < 36; i++) px[i] = (uint8_t)(i * 7);
    am_image *img = am_image_from_pixels(4, 3, 3, px);
    CHECK(img != NULL);
    /* same size: a copy; unknown filter: refused */
    am_image *c = am_image_resize(img, 4, 3, 2);
    CHECK(same_pixels(c, img));
    am_image_free(c);
    CHECK(am_image_resize(img, 2, 2, 9) == NULL && strstr(am_last_error(), "resample=9"));
    CHECK(am_image_resize(img, 0, 2, 2) == NULL);
    /* a constant image stays constant under every filter (weights sum to 1 in fixed point) */
    memset(px, 200, sizeof px);
    am_image *k = am_image_from_pixels(4, 3, 3, px);
    for (int f = 0; f <= 5; f++) {
        am_image *r = am_image_resize(k, 9, 7, f);
        bool ok = r != NULL;
        for (int i = 0; r && i < 9 * 7 * 3; i++) ok = ok && am_image_pixels(r)[i] == 200;
        CHECKF(ok, "filter %d on a constant image", f);
        am_image_free(r);
    }
    am_image_free(k);
    am_image_free(img);
}


/* A PNG written with libpng: colour type, bit depth, interlace, optional palette/tRNS. */
typedef struct pngw {
    uint8_t *d;
    size_t n, cap;
} pngw;
static void pngw_write(png_structp png, png_bytep p, size_t n) {
    pngw *w = png_get_io_ptr(png);
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->d = realloc(w->d, w->cap);
    }
    memcpy(w->d + w->n, p, n);
    w->n += n;
}
static void pngw_flush(png_structp png) { (void)png; }
static uint8_t *make_png(int W, int H, int ctype, int depth, int interlace, const uint8_t *rows_data, size_t rowbytes,
                         const png_color *pal, int npal, bool trns, size_t *len) {
    pngw w = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(w.d);
        return NULL;
    }
    png_set_write_fn(png, &w, pngw_write, pngw_flush);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) {
        png_byte a[2] = {0, 128};
        png_color_16 tc = {0, 0, 0, 0, 0};
        png_set_tRNS(png, info, pal ? a : NULL, pal ? 2 : 0, pal ? NULL : &tc);
    }
    png_write_info(png, info);
    png_bytep *rows = malloc(sizeof(png_bytep) * H);
    for (int y = 0; y < H; y++) rows[y] = (png_bytep)rows_data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *len = w.n;
    return w.d;
}

/* PNG colour types and depths, converted as PIL's convert("RGB") does */
static void test_png_variants(void) {
    enum { W = 5, H = 3 };
    uint8_t want[W * H * 3], data[W * H * 8];
    size_t n;
    for (int interlace = 0; interlace < 2; interlace++) {
        /* 16-bit grey (PIL mode I): clipped to 255 */
        for (int i = 0; i < W * H; i++) {
            unsigned v = (unsigned)(i * 4700 % 65536) / (i % 3 ? 1 : 300);
            data[2 * i] = (uint8_t)(v >> 8), data[2 * i + 1] = (uint8_t)v;
            want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = v > 255 ? 255 : (uint8_t)v;
        }
        uint8_t *png = make_png(W, H, PNG_COLOR_TYPE_GRAY, 16, interlace, data, W * 2, NULL, 0, false, &n);
        am_image *img = am_image_decode(png, n, AM_IMAGE_RGB, "g16.png");
        CHECKF(img && !memcmp(am_image_pixels(img), want, sizeof want), "16-bit grey (interlace %d): %s", interlace,
               img ? "pixels differ" : am_last_error());
        am_image_free(img);
        free(png);
        /* 16-bit RGBA: the high byte of each colour, alpha dropped */
        for (int i = 0; i < W * H; i++)
            for (int c = 0; c < 4; c++) {
                unsigned v = (unsigned)(i * 977 + c * 15013) % 65536;
                data[8 * i + 2 * c] = (uint8_t)(v >> 8), data[8 * i + 2 * c + 1] = (uint8_t)v;
                if (c < 3) want[3 * i + c] = (uint8_t)(v >> 8);
            }
        png = make_png(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, interlace, data, W * 8, NULL, 0, false, &n);
        img = am_image_decode(png, n, AM_IMAGE_RGB, "rgba16.png");
        CHECKF(img && !memcmp(am_image_pixels(img), want, sizeof want), "16-bit RGBA (interlace %d): %s", interlace,
               img ? "pixels differ" : am_last_error());
        am_image_free(img);
        free(png);
        /* grey + alpha, 8 bits: grey copied, alpha dropped */
        for (int i = 0; i < W * H; i++) {
            data[2 * i] = (uint8_t)(i * 17), data[2 * i + 1] = (uint8_t)(255 - i);
            want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = (uint8_t)(i * 17);
        }
        png = make_png(W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, interlace, data, W * 2, NULL, 0, false, &n);
        img = am_image_decode(png, n, AM_IMAGE_RGB, "la.png");
        CHECKF(img && !memcmp(am_image_pixels(img), want, sizeof want), "LA (interlace %d)", interlace);
        am_image_free(img);
        free(png);
        /* 2-bit palette with tRNS: every index looked up, transparency ignored; as labels: the indices */
        png_color pal[4] = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {200, 210, 220}};
        memset(data, 0, sizeof data);
        uint8_t idx[W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int k = (x + 2 * y) % 4;
                idx[y * W + x] = (uint8_t)k;
                data[y * 2 + x / 4] |= (uint8_t)(k << (6 - 2 * (x % 4)));
                memcpy(want + 3 * (y * W + x), &pal[k], 3);
            }
        png = make_png(W, H, PNG_COLOR_TYPE_PALETTE, 2, interlace, data, 2, pal, 4, true, &n);
        img = am_image_decode(png, n, AM_IMAGE_RGB, "p2.png");
        CHECKF(img && !memcmp(am_image_pixels(img), want, sizeof want), "2-bit palette (interlace %d): %s", interlace,
               img ? "pixels differ" : am_last_error());
        am_image_free(img);
        img = am_image_decode(png, n, AM_IMAGE_LABELS, "p2.png");
        CHECKF(img && am_image_channels(img) == 1 && !memcmp(am_image_pixels(img), idx, sizeof idx), "2-bit palette as labels");
        am_image_free(img);
        free(png);
        /* 1-bit grey: 0 and 255 */
        memset(data, 0, sizeof data);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int b = (x + y) & 1;
                data[y] |= (uint8_t)(b << (7 - x));
                memset(want + 3 * (y * W + x), b ? 255 : 0, 3);
            }
        png = make_png(W, H, PNG_COLOR_TYPE_GRAY, 1, interlace, data, 1, NULL, 0, false, &n);
        img = am_image_decode(png, n, AM_IMAGE_RGB, "g1.png");
        CHECKF(img && !memcmp(am_image_pixels(img), want, sizeof want), "1-bit grey (interlace %d)", interlace);
        am_image_free(img);
        free(png);
    }
}

/* DeiT's center crop (with transformers' zero padding when the crop is larger) and ConvNext's
 * resize-then-crop, on top of the resize the fixtures check */
static void test_crop_classes(void) {
    uint8_t px[3 * 4 * 3];
    for (int i = 0; i < 36; i++) px[i] = (uint8_t)(i + 1);
    am_image *img = am_image_from_pixels(4, 3, 3, px); /* height 3, width 4 */
    am_image_processor *p = am_image_processor_from_json(
        "{\"image_processor_type\": \"DeiTImageProcessor\", \"do_resize\": false, \"crop_size\": {\"height\": 2, \"width\": 2},"
        " \"do_rescale\": false, \"do_normalize\": false}", "deit");
    CHECKF(p != NULL, "%s", am_last_error());
    const am_image *one[1] = {img};
    am_tensors *out = NULL;
    CHECK_OK(am_image_processor_call(p, one, 1, NULL, NULL, &out));
    am_tensor *pv = out ? am_tensors_get(out, "pixel_values") : NULL;
    /* top = (3 - 2) // 2 = 0, left = (4 - 2) // 2 = 1: rows 0-1, columns 1-2 */
    CHECK(pv && am_tensor_dtype(pv) == AM_U8 && am_tensor_dim(pv, 2) == 2 && am_tensor_dim(pv, 3) == 2);
    if (pv) {
        const uint8_t *v = am_tensor_cdata(pv);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 2; x++) CHECK(v[(c * 2 + y) * 2 + x] == px[(y * 4 + x + 1) * 3 + c]);
    }
    am_tensors_free(out);
    /* crop 5 x 2 of a 3-high image: padded canvas 5 x 4, image rows at 1..3, crop rows 0..4, columns 1-2 */
    CHECK_OK(am_image_processor_call(p, one, 1, NULL, "{\"crop_size\": {\"height\": 5, \"width\": 2}}", &out));
    pv = out ? am_tensors_get(out, "pixel_values") : NULL;
    CHECK(pv && am_tensor_dim(pv, 2) == 5 && am_tensor_dim(pv, 3) == 2);
    if (pv) {
        const uint8_t *v = am_tensor_cdata(pv);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 2; x++) {
                    uint8_t e = y == 0 || y == 4 ? 0 : px[((y - 1) * 4 + x + 1) * 3 + c];
                    CHECKF(v[(c * 5 + y) * 2 + x] == e, "padded crop c%d y%d x%d", c, y, x);
                }
    }
    am_tensors_free(out);
    /* kwargs this class does not take */
    CHECK(am_image_processor_call(p, one, 1, NULL, "{\"do_pad\": true}", &out) == AM_ERR_INVALID_ARGUMENT &&
          strstr(am_last_error(), "do_pad"));
    CHECK(am_image_processor_call(p, one, 1, NULL, "[1]", &out) == AM_ERR_INVALID_ARGUMENT);
    am_image_processor_free(p);
    am_image_free(img);

    /* ConvNext, shortest_edge 16 < 384: the short side to int(16 / 0.875) = 18, then a 16 x 16 center crop */
    am_image *cat = am_image_load(am_test_fixture("media/img_cat.png"), AM_IMAGE_RGB); /* 128 x 85 */
    p = am_image_processor_from_json("{\"feature_extractor_type\": \"ConvNextFeatureExtractor\", \"size\": {\"shortest_edge\": 16},"
                                     " \"resample\": 3, \"do_rescale\": false, \"do_normalize\": false}", "convnext");
    CHECKF(p && !strcmp(am_image_processor_class_name(p), "ConvNextImageProcessor"), "%s", am_last_error());
    const am_image *c1[1] = {cat};
    out = NULL;
    if (p && cat) CHECK_OK(am_image_processor_call(p, c1, 1, NULL, NULL, &out));
    am_image *r = cat ? am_image_resize(cat, 27, 18, 3) : NULL; /* int(18 * 128 / 85) = 27 */
    pv = out ? am_tensors_get(out, "pixel_values") : NULL;
    CHECK(pv && r && am_tensor_dim(pv, 2) == 16 && am_tensor_dim(pv, 3) == 16);
    if (pv && r) {
        const uint8_t *v = am_tensor_cdata(pv);
        int bad = 0; /* top = (18 - 16) // 2 = 1, left = (27 - 16) // 2 = 5 */
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++) bad += v[(c * 16 + y) * 16 + x] != am_image_pixels(r)[((y + 1) * 27 + x + 5) * 3 + c];
        CHECKF(bad == 0, "ConvNext crop: %d values differ", bad);
    }
    am_tensors_free(out);
    am_image_free(r);
    /* shortest_edge >= 384: a plain square resize */
    CHECK_OK(am_image_processor_call(p, c1, 1, NULL, "{\"size\": {\"shortest_edge\": 400}}", &out));
    pv = out ? am_tensors_get(out, "pixel_values") : NULL;
    CHECK(pv && am_tensor_dim(pv, 2) == 400 && am_tensor_dim(pv, 3) == 400);
    am_tensors_free(out);
    am_image_processor_free(p);
    am_image_free(cat);

    /* class selection and bad configs */
    CHECK(am_image_processor_from_json("{\"image_processor_type\": \"CLIPImageProcessor\"}", "x") == NULL &&
          am__error_code() == AM_ERR_UNSUPPORTED && strstr(am_last_error(), "CLIPImageProcessor"));
    CHECK(am_image_processor_from_json("{\"size\": 3}", "noclass.json") == NULL && strstr(am_last_error(), "image_processor_type"));
    CHECK(am_image_processor_from_json("{\"image_processor_type\": \"ViTImageProcessor\", \"do_resize\": \"yes\"}", "b.json") ==
              NULL && strstr(am_last_error(), "do_resize"));
    CHECK(am_image_processor_from_json("{not json", "bad.json") == NULL && am__error_code() == AM_ERR_FORMAT);
    p = am_image_processor_from_json("{\"feature_extractor_type\": \"ViTFeatureExtractor\", \"size\": 8, \"unknown_attr\": 1}", "v");
    CHECKF(p && !strcmp(am_image_processor_class_name(p), "ViTImageProcessor"), "%s", am_last_error());
    am_image_processor_free(p);
    /* no class key: AutoImageProcessor's fallback to config.json's model_type */
    char dir[] = "/tmp/am_vision_XXXXXX", f1[64], f2[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(f1, sizeof f1, "%s/preprocessor_config.json", dir);
    snprintf(f2, sizeof f2, "%s/config.json", dir);
    FILE *f = fopen(f1, "w");
    fputs("{\"size\": {\"shortest_edge\": 8, \"longest_edge\": 20}}", f);
    fclose(f);
    CHECK(am_image_processor_from_pretrained(dir) == NULL && strstr(am_last_error(), "image_processor_type"));
    f = fopen(f2, "w");
    fputs("{\"model_type\": \"yolos\"}", f);
    fclose(f);
    p = am_image_processor_from_pretrained(dir);
    CHECKF(p && !strcmp(am_image_processor_class_name(p), "YolosImageProcessor"), "%s", am_last_error());
    am_image_processor_free(p);
    remove(f1);
    remove(f2);
    rmdir(dir);
    /* YOLOS without padding refuses images that end with different sizes */
    p = am_image_processor_from_json("{\"image_processor_type\": \"YolosImageProcessor\", \"size\": {\"shortest_edge\": 8, \"longest_edge\": 20}}", "y");
    am_image *a = am_image_load(am_test_fixture("media/img_cat.png"), AM_IMAGE_RGB);
    am_image *b = am_image_load(am_test_fixture("media/img_astronaut.png"), AM_IMAGE_RGB);
    const am_image *two[2] = {a, b};
    CHECK(p && am_image_processor_call(p, two, 2, NULL, "{\"do_pad\": false}", &out) == AM_ERR_SHAPE);
    CHECK_OK(am_image_processor_call(p, two, 2, NULL, NULL, &out));
    CHECK(out && am_tensors_get(out, "pixel_mask") != NULL);
    am_tensors_free(out);
    am_image_processor_free(p);
    am_image_free(a);
    am_image_free(b);
}

/* PNG writing: every mask PIL wrote for the segmentation pipeline, decoded and written again, gives
 * the same bytes; an RGB image round-trips through the decoder */
static void test_png_writer(void) {
    const char *masks[] = {"default_subtask.mask0.png", "default_subtask.mask1.png", "default_subtask.mask2.png",
                           "semantic_png.mask0.png",    "semantic_png.mask1.png",    "semantic_png.mask2.png",
                           "semantic_png.mask3.png",    "semantic_list2.mask0.png",  "semantic_list2.mask1.png",
                           "semantic_list2.mask2.png",  "semantic_list2.mask3.png",  "semantic_list2.mask4.png",
                           "semantic_list2.mask5.png",  "semantic_list2.mask6.png",  "semantic_list2.mask7.png"};
    char out[64];
    snprintf(out, sizeof out, "/tmp/am_png_%d.png", (int)getpid());
    int same_bytes = 0;
    for (size_t i = 0; i < sizeof masks / sizeof *masks; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "media/masks/%s", masks[i]);
        size_t n, m;
        char *want = am_test_read_file(am_test_fixture(rel), &n);
        am_image *img = want ? am_image_decode(want, n, AM_IMAGE_LABELS, masks[i]) : NULL;
        CHECKF(img != NULL, "%s: %s", masks[i], am_last_error());
        if (img) CHECK_OK(am_image_save_png(img, out));
        char *got = img ? am_test_read_file(out, &m) : NULL;
        bool same = got && m == n && !memcmp(got, want, n);
        CHECKF(same, "%s: written PNG differs from PIL's (%zu vs %zu bytes)", masks[i], got ? m : 0, n);
        same_bytes += same;
        am_image *back = got ? am_image_decode(got, m, AM_IMAGE_LABELS, out) : NULL;
        CHECK(back && same_pixels(back, img));
        am_image_free(back);
        am_image_free(img);
        free(got);
        free(want);
    }
    am_image *photo = am_image_load(am_test_fixture("media/img_astronaut.png"), AM_IMAGE_RGB);
    CHECK(photo && am_image_save_png(photo, out) == AM_OK);
    am_image *back = am_image_load(out, AM_IMAGE_RGB);
    CHECK(same_pixels(back, photo));
    am_image_free(back);
    am_image_free(photo);
    CHECK(am_image_save_png(NULL, out) == AM_ERR_INVALID_ARGUMENT);
    remove(out);
    printf("PNG writer: %d of %zu masks byte-identical to PIL's\n", same_bytes, sizeof masks / sizeof *masks);
}

/* EXIF orientations 1-8 (PNG eXIf chunk, little- and big-endian TIFF): exif_transpose's result,
 * built here from PIL's definitions: ROTATE_90 turns counter-clockwise, TRANSPOSE swaps x and y. */
static am_image *rot90(const am_image *a) { /* out(x, y) = in(W-1-y, x) */
    int W = am_image_width(a), H = am_image_height(a);
    uint8_t *px = malloc((size_t)W * H * 3);
    for (int y = 0; y < W; y++)
        for (int x = 0; x < H; x++) memcpy(px + ((size_t)y * H + x) * 3, am_image_pixels(a) + ((size_t)x * W + (W - 1 - y)) * 3, 3);
    am_image *o = am_image_from_pixels(H, W, 3, px);
    free(px);
    return o;
}
static am_image *flip_tb(const am_image *a) {
    int W = am_image_width(a), H = am_image_height(a);
    uint8_t *px = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++) memcpy(px + (size_t)y * W * 3, am_image_pixels(a) + (size_t)(H - 1 - y) * W * 3, (size_t)W * 3);
    am_image *o = am_image_from_pixels(W, H, 3, px);
    free(px);
    return o;
}
/* applies ops: 'r' rot90, 't' flip top-bottom, in order */
static am_image *apply_ops(const am_image *a, const char *ops) {
    am_image *cur = am_image_from_pixels(am_image_width(a), am_image_height(a), 3, am_image_pixels(a));
    for (; *ops; ops++) {
        am_image *n = *ops == 'r' ? rot90(cur) : flip_tb(cur);
        am_image_free(cur);
        cur = n;
    }
    return cur;
}

static void test_exif_orientations(void) {
    enum { W = 4, H = 3 };
    uint8_t px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) px[i] = (uint8_t)(i * 5 + 1);
    am_image *src = am_image_from_pixels(W, H, 3, px);
    /* FLIP_LEFT_RIGHT = rot180 + flip_tb; TRANSPOSE = rot90 + flip_tb; TRANSVERSE = TRANSPOSE + rot180 */
    const char *ops[9] = {"", "", "rrt", "rr", "t", "rt", "rrr", "rtrr", "r"};
    for (int o = 1; o <= 8; o++)
        for (int be = 0; be < 2; be++) {
            uint8_t exif[26];
            memcpy(exif, be ? "MM\0*\0\0\0\x08" : "II*\0\x08\0\0\0", 8);
            uint8_t *e = exif + 8;
            if (be) {
                uint8_t ent[18] = {0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)o, 0, 0, 0, 0, 0, 0};
                memcpy(e, ent, 18);
            } else {
                uint8_t ent[18] = {1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)o, 0, 0, 0, 0, 0, 0, 0};
                memcpy(e, ent, 18);
            }
            pngw w = {0};
            png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
            png_infop info = png_create_info_struct(png);
            png_set_write_fn(png, &w, pngw_write, pngw_flush);
            png_set_IHDR(png, info, W, H, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
            png_set_eXIf_1(png, info, sizeof exif, exif);
            png_write_info(png, info);
            for (int y = 0; y < H; y++) png_write_row(png, px + (size_t)y * W * 3);
            png_write_end(png, info);
            png_destroy_write_struct(&png, &info);
            am_image *got = am_image_decode(w.d, w.n, AM_IMAGE_RGB, "exif.png");
            am_image *want = apply_ops(src, ops[o]);
            CHECKF(same_pixels(got, want), "orientation %d (%s): %s", o, be ? "MM" : "II", got ? "pixels differ" : am_last_error());
            am_image_free(got);
            am_image_free(want);
            free(w.d);
        }
    am_image_free(src);
}

/* One processor shared by four threads: every call equals the single-threaded result. */
typedef struct thr_arg {
    const am_image_processor *p;
    const am_image *const *imgs;
    const am_tensor *want;
    int bad;
} thr_arg;
static void *thr_run(void *v) {
    thr_arg *a = v;
    for (int r = 0; r < 5; r++) {
        am_tensors *out = NULL;
        if (am_image_processor_call(a->p, a->imgs, 2, NULL, "{\"resample\": 1}", &out) != AM_OK) a->bad++;
        am_tensor *pv = out ? am_tensors_get(out, "pixel_values") : NULL;
        if (!pv || am_tensor_nbytes(pv) != am_tensor_nbytes(a->want) ||
            memcmp(am_tensor_cdata(pv), am_tensor_cdata(a->want), am_tensor_nbytes(pv)))
            a->bad++;
        am_tensors_free(out);
    }
    return NULL;
}
static void test_threads(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("processors/yolos_64_96_batch2_pad"));
    am_image_processor *p = am_image_processor_from_pretrained(dir);
    am_image *a = am_image_load(am_test_fixture("media/img_rocket_exif6.jpg"), AM_IMAGE_RGB);
    am_image *b = am_image_load(am_test_fixture("media/img_wide_240x24.png"), AM_IMAGE_RGB);
    CHECK(p && a && b);
    if (!p || !a || !b) return;
    const am_image *imgs[2] = {a, b};
    am_tensors *ref = NULL;
    CHECK_OK(am_image_processor_call(p, imgs, 2, NULL, "{\"resample\": 1}", &ref));
    if (!ref) return;
    pthread_t t[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){p, imgs, ref ? am_tensors_get(ref, "pixel_values") : NULL, 0};
        pthread_create(&t[i], NULL, thr_run, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECKF(args[i].bad == 0, "thread %d: %d calls differ", i, args[i].bad);
    }
    am_tensors_free(ref);
    am_image_free(a);
    am_image_free(b);
    am_image_processor_free(p);
}

/* NEAREST picks rows and columns by repeated double additions (xo = s/2, xo += s), as Pillow's
 * affine scaler does: 128 -> 160 rows gives 0.4 + 0.8 + ... = 5.999... at row 7, so source row 5
 * where (7 + 0.5) * 0.8 = 6.0 would give 6 */
static void test_nearest_accumulation(void) {
    uint8_t col[128], row[128];
    for (int i = 0; i < 128; i++) col[i] = row[i] = (uint8_t)i;
    am_image *tall = am_image_from_pixels(1, 128, 1, col), *wide = am_image_from_pixels(128, 1, 1, row);
    am_image *t = am_image_resize(tall, 1, 160, 0), *w = am_image_resize(wide, 160, 1, 0);
    CHECK(t && w);
    if (t && w) {
        int bad_t = 0, bad_w = 0;
        double yo = 0.4;
        for (int i = 0; i < 160; i++, yo += 0.8) {
            bad_t += am_image_pixels(t)[i] != (uint8_t)(int)yo;
            bad_w += am_image_pixels(w)[i] != (uint8_t)(int)yo;
        }
        CHECK(bad_t == 0 && bad_w == 0);
        CHECK(am_image_pixels(t)[7] == 5 && am_image_pixels(w)[7] == 5);
    }
    am_image_free(t);
    am_image_free(w);
    am_image_free(tall);
    am_image_free(wide);
}

/* One case of fixtures/processors: the processor re-loaded from its preprocessor_config.json,
 * called on the decoded inputs with the case's keyword arguments; resized.<i> / resized_map.<i>
 * must be equal, pixel_values within the case's tolerance, pixel_mask and labels exact. */
static void run_processor_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "processors/%s/case.json", name);
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(c != NULL, "%s: case.json", name);
    if (!c) return;
    snprintf(rel, sizeof rel, "processors/%s", name);
    am_image_processor *p = am_image_processor_from_pretrained(am_test_fixture(rel));
    CHECKF(p != NULL, "%s: %s", name, am_last_error());
    const cJSON *cls = cJSON_GetObjectItem(c, "processor_class");
    CHECK(p && cJSON_IsString(cls) && !strcmp(am_image_processor_class_name(p), cls->valuestring));
    snprintf(rel, sizeof rel, "processors/%s/expected.safetensors", name);
    am_tensors *exp = am_tensors_load_safetensors(am_test_fixture(rel));
    CHECKF(exp != NULL, "%s: %s", name, am_last_error());
    const cJSON *inputs = cJSON_GetObjectItem(c, "inputs");
    const cJSON *maps = cJSON_GetObjectItem(c, "segmentation_maps");
    size_t n = (size_t)cJSON_GetArraySize(inputs);
    am_image *imgs[8] = {0}, *mimgs[8] = {0}, *res[8] = {0}, *rmaps[8] = {0};
    bool have_maps = cJSON_IsArray(maps) && cJSON_GetArraySize(maps) > 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *f = cJSON_GetObjectItem(cJSON_GetArrayItem(inputs, (int)i), "file")->valuestring;
        imgs[i] = am_image_load(am_test_fixture(f), AM_IMAGE_RGB);
        CHECKF(imgs[i] != NULL, "%s: %s", f, am_last_error());
        if (have_maps) {
            const cJSON *m = cJSON_GetArrayItem(maps, (int)i);
            const cJSON *mf = cJSON_IsObject(m) ? cJSON_GetObjectItem(m, "file") : m;
            mimgs[i] = am_image_load(am_test_fixture(mf->valuestring), AM_IMAGE_LABELS);
            CHECKF(mimgs[i] != NULL, "%s: %s", mf->valuestring, am_last_error());
        }
    }
    /* the call's keyword arguments, as recorded */
    cJSON *kw = cJSON_Duplicate(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "call"), "kwargs"), 1);
    char *kwj = kw ? cJSON_PrintUnformatted(kw) : NULL;
    am_tensors *out = NULL;
    if (p && exp) {
        am_status s = am__image_processor_call_ex(p, (const am_image *const *)imgs, n,
                                                  have_maps ? (const am_image *const *)mimgs : NULL, kwj, &out, res, rmaps);
        CHECKF(s == AM_OK, "%s: %s", name, am_last_error());
    }
    if (out) {
        for (size_t i = 0; i < n; i++) {
            char key[48];
            int maxd;
            snprintf(key, sizeof key, "resized.%zu", i);
            int64_t bad = count_diff(am_tensors_get(exp, key), res[i], &maxd);
            CHECKF(bad == 0, "%s: %s: %lld values differ (max %d)", name, key, (long long)bad, maxd);
            if (have_maps) {
                snprintf(key, sizeof key, "resized_map.%zu", i);
                bad = count_diff(am_tensors_get(exp, key), rmaps[i], &maxd);
                CHECKF(bad == 0, "%s: %s: %lld values differ (max %d)", name, key, (long long)bad, maxd);
            }
        }
        const cJSON *tol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "tolerance"), "pixel_values"), "atol");
        double atol = cJSON_IsNumber(tol) ? tol->valuedouble : 0.0;
        for (size_t k = 0; k < am_tensors_count(exp); k++) {
            const char *tn = am_tensors_name(exp, k);
            if (!strncmp(tn, "resized", 7)) continue;
            am_tensor *e = am_tensors_at(exp, k), *g = am_tensors_get(out, tn);
            CHECKF(g != NULL, "%s: output %s missing", name, tn);
            if (!g) continue;
            bool shape_ok = am_tensor_ndim(g) == am_tensor_ndim(e);
            for (int d = 0; shape_ok && d < am_tensor_ndim(e); d++) shape_ok = am_tensor_dim(g, d) == am_tensor_dim(e, d);
            CHECKF(shape_ok, "%s: %s shape", name, tn);
            if (!shape_ok) continue;
            am_tensor *gf = am_tensor_to(g, AM_F64), *ef = am_tensor_to(e, AM_F64);
            CHECK(gf && ef);
            if (!gf || !ef) {
                am_tensor_free(gf);
                am_tensor_free(ef);
                continue;
            }
            const double *a = am_tensor_cdata(gf), *b = am_tensor_cdata(ef);
            double worst = 0;
            for (int64_t j = 0; j < am_tensor_numel(e); j++) worst = fmax(worst, fabs(a[j] - b[j]));
            double lim = !strcmp(tn, "pixel_values") ? atol : 0.0;
            CHECKF(worst <= lim, "%s: %s max |diff| %g > %g", name, tn, worst, lim);
            /* pixel_values is transformers' float32 recipe bit for bit */
            if (!strcmp(tn, "pixel_values") && am_tensor_dtype(g) == AM_F32)
                CHECKF(!memcmp(am_tensor_cdata(g), am_tensor_cdata(e), am_tensor_nbytes(e)), "%s: pixel_values not bit-exact", name);
            am_tensor_free(gf);
            am_tensor_free(ef);
        }
        /* nothing transformers does not return */
        CHECKF(am_tensors_count(out) == am_tensors_count(exp) - (size_t)(2 * n) + (have_maps ? 0 : (size_t)n),
               "%s: %zu outputs", name, am_tensors_count(out));
    }
    printf("processor case %s: %s\n", name, am_test_failures ? "(failures so far)" : "ok");
    for (size_t i = 0; i < 8; i++) {
        am_image_free(imgs[i]);
        am_image_free(mimgs[i]);
        am_image_free(res[i]);
        am_image_free(rmaps[i]);
    }
    am_tensors_free(out);
    am_tensors_free(exp);
    cJSON_free(kwj);
    cJSON_Delete(kw);
    cJSON_Delete(c);
    am_image_processor_free(p);
}

static void test_processor_cases(void) {
    char *text = am_test_read_file(am_test_fixture("processors/index.json"), NULL);
    cJSON *idx = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(idx != NULL);
    const cJSON *cases = idx ? cJSON_GetObjectItem(idx, "cases") : NULL;
    int ran = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cases) {
        const cJSON *cls = cJSON_GetObjectItem(it, "class");
        const char *nm = it->string ? it->string : cJSON_GetStringValue(cJSON_GetObjectItem(it, "case"));
        if (!nm || !cJSON_IsString(cls) || !strstr(cls->valuestring, "ImageProcessor")) continue;
        run_processor_case(nm);
        ran++;
    }
    CHECKF(ran == 11, "%d image cases ran", ran);
    cJSON_Delete(idx);
}

/* -------------------------------------------------------------------------------------------- */

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_decoded = am_tensors_load_safetensors(am_test_fixture("media/decoded_rgb.safetensors"));
    CHECKF(g_decoded != NULL, "%s", am_last_error());
    if (!g_decoded) return 1;
    test_decode_fixtures();
    test_bmp_webp();
    test_bad_files();
    test_resize_basics();
    test_processor_cases();
    test_png_variants();
    test_crop_classes();
    test_png_writer();
    test_exif_orientations();
    test_threads();
    test_nearest_accumulation();
    am_tensors_free(g_decoded);
    return 0;
}
