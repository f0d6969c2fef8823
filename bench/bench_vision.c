/* bench_vision — image input cost per image: decode (JPEG q90 4:2:0 and PNG, made here from a
 * smooth synthetic W x H photo-like pattern with libjpeg-turbo / libpng), and ViTImageProcessor's
 * default call (224 x 224 BILINEAR, rescale, normalise) on the decoded image.
 *   bench_vision [W H [ROUNDS]]   (default 640 480 50); prints the median ms per image. */
#include "automodel.h"
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint8_t *jpeg_encode(const uint8_t *px, int W, int H, unsigned long *n) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    uint8_t *out = NULL;
    jpeg_mem_dest(&c, &out, n);
    c.image_width = (JDIMENSION)W, c.image_height = (JDIMENSION)H, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * W * 3);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}

static uint8_t *png_encode(const uint8_t *px, int W, int H, size_t *n) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < H; y++) png_write_row(png, px + (size_t)y * W * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return (uint8_t *)buf;
}

static double median_ms(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmpd);
    return t[n / 2];
}

int main(int argc, char **argv) {
    int W = argc > 2 ? atoi(argv[1]) : 640, H = argc > 2 ? atoi(argv[2]) : 480, R = argc > 3 ? atoi(argv[3]) : 50;
    if (W <= 0 || H <= 0 || R <= 0) return 2;
    uint8_t *px = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                px[((size_t)y * W + x) * 3 + c] =
                    (uint8_t)(127.5 + 60 * sin(x * 0.031 * (c + 1)) + 60 * cos(y * 0.023 + c) + ((x * 7 + y * 13) % 5));
    unsigned long jn;
    size_t pn;
    uint8_t *jpg = jpeg_encode(px, W, H, &jn), *pngd = png_encode(px, W, H, &pn);
    am_image_processor *p = am_image_processor_from_json("{\"image_processor_type\": \"ViTImageProcessor\"}", "bench");
    double *t = malloc(sizeof(double) * R);
    const char *names[3] = {"decode JPEG", "decode PNG", "ViT preprocess 224"};
    am_image *img = am_image_decode(jpg, jn, AM_IMAGE_RGB, "bench.jpg");
    if (!p || !img) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    printf("%dx%d image, JPEG %lu bytes, PNG %zu bytes, %d rounds, ms per image (median, min):\n", W, H, jn, pn, R);
    for (int k = 0; k < 3; k++) {
        for (int r = 0; r < R; r++) {
            double t0 = now_ms();
            if (k < 2) {
                am_image *d = k == 0 ? am_image_decode(jpg, jn, AM_IMAGE_RGB, "j") : am_image_decode(pngd, pn, AM_IMAGE_RGB, "p");
                am_image_free(d);
            } else {
                am_tensors *out = NULL;
                const am_image *one[1] = {img};
                am_image_processor_call(p, one, 1, NULL, NULL, &out);
                am_tensors_free(out);
            }
            t[r] = now_ms() - t0;
        }
        double med = median_ms(t, R);
        printf("  %-20s %8.3f %8.3f\n", names[k], med, t[0]);
    }
    am_image_free(img);
    am_image_processor_free(p);
    free(t);
    free(px);
    free(jpg);
    free(pngd);
    return 0;
}
