/* vision/image.c — image decoding as transformers' load_image sees it through PIL: the format by
 * magic bytes (JPEG through libjpeg-turbo with its defaults, which are PIL's: ISLOW IDCT, fancy
 * upsampling; PNG through libpng; still WebP through libwebp; BMP read here), EXIF orientation
 * (ImageOps.exif_transpose), then convert("RGB") — or, for segmentation maps, the single channel
 * np.array(Image.open(f)) gives. Every library error path longjmps back here: no exit(), no abort. */
#include "vision/vision.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <zlib.h>

am_image *am__image_new(int width, int height, int channels) {
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        am__error(AM_ERR_INVALID_ARGUMENT, "image of %dx%d with %d channels", width, height, channels);
        return NULL;
    }
    am_image *img = calloc(1, sizeof *img);
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    if (img) img->px = malloc(n);
    if (!img || !img->px) {
        free(img);
        am__error(AM_ERR_NO_MEMORY, "out of memory for a %dx%d image", width, height);
        return NULL;
    }
    img->width = width;
    img->height = height;
    img->channels = channels;
    return img;
}

void am_image_free(am_image *img) {
    if (!img) return;
    free(img->px);
    free(img);
}
int am_image_width(const am_image *img) { return img ? img->width : 0; }
int am_image_height(const am_image *img) { return img ? img->height : 0; }
int am_image_channels(const am_image *img) { return img ? img->channels : 0; }
const uint8_t *am_image_pixels(const am_image *img) { return img ? img->px : NULL; }

am_image *am_image_from_pixels(int width, int height, int channels, const uint8_t *pixels) {
    if (!pixels) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_image_from_pixels: pixels is NULL");
        return NULL;
    }
    am_image *img = am__image_new(width, height, channels);
    if (img) memcpy(img->px, pixels, (size_t)width * height * channels);
    return img;
}

/* PIL's _decompression_bomb_check, before any pixel buffer is allocated. */
static am_status check_size(const char *origin, int64_t w, int64_t h) {
    if (w <= 0 || h <= 0) return am__error(AM_ERR_FORMAT, "%s: image has no pixels (%lldx%lld)", origin, (long long)w, (long long)h);
    int64_t pixels = w * h;
    if (pixels > 2 * AM__IMAGE_MAX_PIXELS)
        return am__error(AM_ERR_FORMAT,
                         "%s: image size (%lld pixels) exceeds limit of %lld pixels, could be decompression bomb DOS attack",
                         origin, (long long)pixels, 2 * AM__IMAGE_MAX_PIXELS);
    if (pixels > AM__IMAGE_MAX_PIXELS)
        am__log(AM_LOG_WARNING,
                "%s: image size (%lld pixels) exceeds limit of %lld pixels, could be decompression bomb DOS attack", origin,
                (long long)pixels, AM__IMAGE_MAX_PIXELS);
    return AM_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* EXIF: the Orientation tag (0x0112) of IFD0                                                      */
/* ---------------------------------------------------------------------------------------------- */

static int exif_orientation(const uint8_t *p, size_t n) {
    if (n >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
        p += 6;
        n -= 6;
    }
    if (n < 8) return 1;
    int le;
    if (p[0] == 'I' && p[1] == 'I') le = 1;
    else if (p[0] == 'M' && p[1] == 'M') le = 0;
    else return 1;
#define RD16(q) (le ? (unsigned)((q)[0] | (q)[1] << 8) : (unsigned)((q)[0] << 8 | (q)[1]))
#define RD32(q) (le ? ((uint32_t)(q)[0] | (uint32_t)(q)[1] << 8 | (uint32_t)(q)[2] << 16 | (uint32_t)(q)[3] << 24) \
                    : ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (uint32_t)(q)[3]))
    if (RD16(p + 2) != 42) return 1;
    uint32_t off = RD32(p + 4);
    if (off > n || n - off < 2) return 1;
    unsigned count = RD16(p + off);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)off + 2 + (size_t)i * 12;
        if (e + 12 > n) break;
        if (RD16(p + e) == 0x0112) {
            unsigned type = RD16(p + e + 2);
            unsigned v = type == 3 ? RD16(p + e + 8) : type == 4 ? (unsigned)RD32(p + e + 8) : 1;
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
#undef RD16
#undef RD32
    return 1;
}

/* ImageOps.exif_transpose: orientation 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
 * 5 TRANSPOSE, 6 ROTATE_270 (90 degrees clockwise), 7 TRANSVERSE, 8 ROTATE_90. */
static am_image *orient(am_image *img, int o) {
    if (o < 2 || o > 8) return img;
    int W = img->width, H = img->height, C = img->channels;
    int swap = o >= 5;
    am_image *out = am__image_new(swap ? H : W, swap ? W : H, C);
    if (!out) {
        am_image_free(img);
        return NULL;
    }
    for (int y = 0; y < out->height; y++)
        for (int x = 0; x < out->width; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x, sy = y; break;
            case 3: sx = W - 1 - x, sy = H - 1 - y; break;
            case 4: sx = x, sy = H - 1 - y; break;
            case 5: sx = y, sy = x; break;
            case 6: sx = y, sy = H - 1 - x; break;
            case 7: sx = W - 1 - y, sy = H - 1 - x; break;
            default: sx = W - 1 - y, sy = x; break; /* 8 */
            }
            memcpy(out->px + ((size_t)y * out->width + x) * C, img->px + ((size_t)sy * W + sx) * C, (size_t)C);
        }
    am_image_free(img);
    return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* JPEG                                                                                            */
/* ---------------------------------------------------------------------------------------------- */

typedef struct jerr_ctx {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    bool truncated;
} jerr_ctx;

static void jpeg_fail(j_common_ptr c) {
    jerr_ctx *e = (jerr_ctx *)c->err;
    longjmp(e->jb, 1);
}
static void jpeg_warn(j_common_ptr c, int level) {
    jerr_ctx *e = (jerr_ctx *)c->err;
    /* PIL raises "image file is truncated" where libjpeg would pad the missing data with grey */
    if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

static am_image *decode_jpeg(const uint8_t *data, size_t len, am_image_mode mode, const char *origin) {
    struct jpeg_decompress_struct cinfo;
    jerr_ctx err;
    am_image *volatile img = NULL;
    uint8_t *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_warn;
    err.truncated = false;
    if (setjmp(err.jb)) {
        char msg[JMSG_LENGTH_MAX];
        err.mgr.format_message((j_common_ptr)&cinfo, msg);
        jpeg_destroy_decompress(&cinfo);
        am_image_free(img);
        free(row);
        am__error(AM_ERR_FORMAT, "%s: broken JPEG data: %s", origin, msg);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    if (check_size(origin, cinfo.image_width, cinfo.image_height) != AM_OK) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            orientation = exif_orientation(m->data, m->data_length);
            break;
        }
    bool grey = false;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: grey = true, cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    default:
        jpeg_destroy_decompress(&cinfo);
        am__error(AM_ERR_UNSUPPORTED, "%s: CMYK/YCCK JPEG images are not supported (only greyscale and RGB/YCbCr)",
                  origin);
        return NULL;
    }
    if (mode == AM_IMAGE_LABELS && !grey) {
        jpeg_destroy_decompress(&cinfo);
        am__error(AM_ERR_UNSUPPORTED, "%s: a segmentation map must be a single-channel (L or P) image; this JPEG is RGB",
                  origin);
        return NULL;
    }
    jpeg_start_decompress(&cinfo);
    int W = (int)cinfo.output_width, H = (int)cinfo.output_height;
    img = am__image_new(W, H, mode == AM_IMAGE_LABELS ? 1 : 3);
    row = img ? malloc((size_t)W * 3) : NULL;
    if (!img || !row) {
        jpeg_destroy_decompress(&cinfo);
        am_image_free(img);
        free(row);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory decoding a %dx%d JPEG", origin, W, H);
        return NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = row;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) break;
        uint8_t *dst = img->px + (size_t)y * W * img->channels;
        if (grey && img->channels == 3)
            for (int x = 0; x < W; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        else
            memcpy(dst, row, (size_t)W * img->channels);
    }
    if (!err.truncated) jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (err.truncated) {
        am_image_free(img);
        am__error(AM_ERR_FORMAT, "%s: image file is truncated (JPEG data ends early)", origin);
        return NULL;
    }
    return mode == AM_IMAGE_RGB ? orient(img, orientation) : img;
}

/* ---------------------------------------------------------------------------------------------- */
/* PNG                                                                                             */
/* ---------------------------------------------------------------------------------------------- */

typedef struct png_src {
    const uint8_t *p;
    size_t n, at;
    char msg[200];
} png_src;

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (s->n - s->at < n) {
        snprintf(s->msg, sizeof s->msg, "image file is truncated");
        png_longjmp(png, 1);
    }
    memcpy(out, s->p + s->at, n);
    s->at += n;
}
static void png_fail(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    if (!s->msg[0]) snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}
static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static am_image *decode_png(const uint8_t *data, size_t len, am_image_mode mode, const char *origin) {
    png_src src = {.p = data, .n = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory starting the PNG decoder", origin);
        return NULL;
    }
    am_image *volatile img = NULL;
    uint8_t *volatile raw = NULL;
    uint8_t **volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        am_image_free(img);
        free(raw);
        free(rows);
        am__error(AM_ERR_FORMAT, "%s: broken PNG data: %s", origin, src.msg[0] ? src.msg : "decoder error");
        return NULL;
    }
    png_set_read_fn(png, &src, png_read_mem);
    /* ancillary chunk CRC errors are ignored by PIL too; critical ones fail */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_QUIET_USE);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 W, H;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &W, &H, &depth, &ctype, &interlace, NULL, NULL);
    if (check_size(origin, (int64_t)W, (int64_t)H) != AM_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return NULL;
    }
    int orientation = 1;
#ifdef PNG_eXIf_SUPPORTED
    png_bytep exif = NULL;
    png_uint_32 exif_n = 0;
    if (png_get_eXIf_1(png, info, &exif_n, &exif)) orientation = exif_orientation(exif, exif_n);
#endif
    bool has_alpha = (ctype & PNG_COLOR_MASK_ALPHA) != 0;
    bool palette = ctype == PNG_COLOR_TYPE_PALETTE;
    bool colour = (ctype & PNG_COLOR_MASK_COLOR) && !palette;
    if (mode == AM_IMAGE_LABELS && (colour || has_alpha)) {
        png_destroy_read_struct(&png, &info, NULL);
        am__error(AM_ERR_UNSUPPORTED, "%s: a segmentation map must be a single-channel (L or P) image; this PNG has %s",
                  origin, colour ? "colour channels" : "an alpha channel");
        return NULL;
    }
    /* palette indices and sub-byte greys as one byte per sample (grey scaled to 0..255 as PIL's
     * "1"/"L;2"/"L;4" unpackers do); 16-bit colour keeps its high byte (PIL's "RGB;16B" rawmodes);
     * 16-bit grey stays 16 bits and is clipped below (mode I -> RGB clips to 255). */
    if (palette) png_set_packing(png);
    else if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    bool grey16 = depth == 16 && !colour && !palette;
    if (depth == 16 && !grey16) png_set_strip_16(png);
    if (grey16) png_set_swap(png); /* host (little-endian) order for the clip below */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int samples = png_get_channels(png, info);
    raw = malloc(rowbytes * H);
    rows = malloc(sizeof(uint8_t *) * H);
    img = am__image_new((int)W, (int)H, mode == AM_IMAGE_LABELS ? 1 : 3);
    if (!raw || !rows || !img) {
        png_destroy_read_struct(&png, &info, NULL);
        am_image_free(img);
        free(raw);
        free(rows);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory decoding a %ux%u PNG", origin, (unsigned)W, (unsigned)H);
        return NULL;
    }
    for (png_uint_32 y = 0; y < H; y++) rows[y] = raw + rowbytes * y;
    png_read_image(png, rows);
    uint8_t pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i; /* PIL's fresh palette */
    if (palette) {
        png_colorp plte = NULL;
        int np = 0;
        if (png_get_PLTE(png, info, &plte, &np))
            for (int i = 0; i < np && i < 256; i++) pal[i][0] = plte[i].red, pal[i][1] = plte[i].green, pal[i][2] = plte[i].blue;
    }
    png_destroy_read_struct(&png, &info, NULL);
    int C = img->channels;
    for (png_uint_32 y = 0; y < H; y++) {
        const uint8_t *r = rows[y];
        uint8_t *d = img->px + (size_t)y * W * C;
        for (png_uint_32 x = 0; x < W; x++) {
            uint8_t v[3];
            if (grey16) {
                unsigned g = (unsigned)r[2 * x * samples] | (unsigned)r[2 * x * samples + 1] << 8;
                v[0] = v[1] = v[2] = g > 255 ? 255 : (uint8_t)g;
            } else if (palette) {
                if (C == 1) v[0] = r[x];
                else memcpy(v, pal[r[x]], 3);
            } else if (colour) {
                memcpy(v, r + (size_t)x * samples, 3);
            } else {
                v[0] = v[1] = v[2] = r[(size_t)x * samples];
            }
            memcpy(d + (size_t)x * C, v, (size_t)C);
        }
    }
    free(raw);
    free(rows);
    return mode == AM_IMAGE_RGB ? orient(img, orientation) : img;
}

/* ---------------------------------------------------------------------------------------------- */
/* WebP (still images; PIL shows the first frame of an animation, which we refuse instead)         */
/* ---------------------------------------------------------------------------------------------- */

static int webp_orientation(const uint8_t *p, size_t n) {
    /* RIFF <size> WEBP, then chunks: fourcc, little-endian size, payload padded to even */
    size_t at = 12;
    while (at + 8 <= n) {
        uint32_t sz = (uint32_t)p[at + 4] | (uint32_t)p[at + 5] << 8 | (uint32_t)p[at + 6] << 16 | (uint32_t)p[at + 7] << 24;
        if (sz > n - at - 8) break;
        if (memcmp(p + at, "EXIF", 4) == 0) return exif_orientation(p + at + 8, sz);
        at += 8 + (size_t)sz + (sz & 1);
    }
    return 1;
}

static am_image *decode_webp(const uint8_t *data, size_t len, am_image_mode mode, const char *origin) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(data, len, &f);
    if (st != VP8_STATUS_OK) {
        am__error(st == VP8_STATUS_NOT_ENOUGH_DATA ? AM_ERR_FORMAT : AM_ERR_FORMAT, "%s: broken WebP data (%s)", origin,
                  st == VP8_STATUS_NOT_ENOUGH_DATA ? "image file is truncated" : "bad bitstream");
        return NULL;
    }
    if (f.has_animation) {
        am__error(AM_ERR_UNSUPPORTED, "%s: animated WebP images are not supported", origin);
        return NULL;
    }
    if (mode == AM_IMAGE_LABELS) {
        am__error(AM_ERR_UNSUPPORTED, "%s: a segmentation map must be a single-channel (L or P) image; WebP is RGB", origin);
        return NULL;
    }
    if (check_size(origin, f.width, f.height) != AM_OK) return NULL;
    int W = f.width, H = f.height;
    uint8_t *rgba = malloc((size_t)W * H * 4);
    am_image *img = rgba ? am__image_new(W, H, 3) : NULL;
    if (!img) {
        free(rgba);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory decoding a %dx%d WebP", origin, W, H);
        return NULL;
    }
    if (!WebPDecodeRGBAInto(data, len, rgba, (size_t)W * H * 4, W * 4)) {
        free(rgba);
        am_image_free(img);
        am__error(AM_ERR_FORMAT, "%s: broken WebP data (decoding failed; truncated?)", origin);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)W * H; i++) memcpy(img->px + 3 * i, rgba + 4 * i, 3); /* alpha dropped */
    free(rgba);
    return orient(img, webp_orientation(data, len));
}

/* ---------------------------------------------------------------------------------------------- */
/* BMP (Windows 3/4/5 and OS/2 1.x headers; 1/4/8-bit palette, 16/24/32-bit, BI_RGB and           */
/* BI_BITFIELDS; RLE refused)                                                                      */
/* ---------------------------------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static unsigned le16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* one channel of a bit-field pixel scaled to 8 bits as PIL's "BGR;15"/"BGR;16" unpackers do */
static uint8_t field(uint32_t v, uint32_t mask) {
    if (!mask) return 0;
    int shift = __builtin_ctz(mask);
    uint32_t m = mask >> shift;
    uint32_t x = (v & mask) >> shift;
    if (m == 0xff) return (uint8_t)x;
    if (m == 0x1f) return (uint8_t)((x << 3) | (x >> 2));
    if (m == 0x3f) return (uint8_t)((x << 2) | (x >> 4));
    return (uint8_t)((uint64_t)x * 255 / m);
}

static am_image *decode_bmp(const uint8_t *p, size_t n, am_image_mode mode, const char *origin) {
#define BMP_BAD(...) do { am__error(AM_ERR_FORMAT, __VA_ARGS__); return NULL; } while (0)
    if (n < 26) BMP_BAD("%s: image file is truncated (BMP header)", origin);
    uint32_t off_bits = le32(p + 10), hsize = le32(p + 14);
    int64_t W, H;
    unsigned bpp, compression = 0, ncolors = 0, palent;
    uint32_t masks[4] = {0, 0, 0, 0};
    if (hsize == 12) { /* OS/2 1.x */
        W = le16(p + 18), H = (int16_t)le16(p + 20), bpp = le16(p + 24), palent = 3;
    } else if (hsize >= 40 && hsize <= 124) {
        if (n < 14 + (size_t)hsize && n < 54) BMP_BAD("%s: image file is truncated (BMP header)", origin);
        if (n < 54) BMP_BAD("%s: image file is truncated (BMP header)", origin);
        W = (int32_t)le32(p + 18), H = (int32_t)le32(p + 22), bpp = le16(p + 28), compression = le32(p + 30);
        ncolors = le32(p + 46), palent = 4;
        if (compression == 3 || compression == 6) {
            size_t mo = 54; /* masks follow the 40-byte header, or sit inside a V4/V5 header */
            if (n < mo + 12) BMP_BAD("%s: image file is truncated (BMP bit masks)", origin);
            masks[0] = le32(p + mo), masks[1] = le32(p + mo + 4), masks[2] = le32(p + mo + 8);
        }
    } else {
        am__error(AM_ERR_UNSUPPORTED, "%s: unsupported BMP header size %u", origin, (unsigned)hsize);
        return NULL;
    }
    if (compression == 1 || compression == 2 || compression == 4 || compression == 5) {
        am__error(AM_ERR_UNSUPPORTED, "%s: compressed (RLE/JPEG/PNG) BMP images are not supported", origin);
        return NULL;
    }
    if (compression != 0 && compression != 3 && compression != 6) BMP_BAD("%s: unknown BMP compression %u", origin, compression);
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        BMP_BAD("%s: unsupported BMP bit depth %u", origin, bpp);
    bool top_down = H < 0;
    if (top_down) H = -H;
    if (check_size(origin, W, H) != AM_OK) return NULL;
    bool indexed = bpp <= 8;
    if (mode == AM_IMAGE_LABELS && !indexed) {
        am__error(AM_ERR_UNSUPPORTED, "%s: a segmentation map must be a single-channel (L or P) image; this BMP is RGB", origin);
        return NULL;
    }
    uint8_t pal[256][3];
    memset(pal, 0, sizeof pal);
    if (indexed) {
        unsigned max = 1u << bpp;
        if (ncolors == 0 || ncolors > max) ncolors = max;
        size_t po = 14 + (size_t)hsize;
        if (po + (size_t)ncolors * palent > n) BMP_BAD("%s: image file is truncated (BMP palette)", origin);
        for (unsigned i = 0; i < ncolors; i++) {
            const uint8_t *e = p + po + (size_t)i * palent;
            pal[i][0] = e[2], pal[i][1] = e[1], pal[i][2] = e[0];
        }
    }
    if (bpp == 16 && compression == 0) masks[0] = 0x7c00, masks[1] = 0x03e0, masks[2] = 0x001f;
    size_t stride = (((size_t)W * bpp + 31) / 32) * 4;
    if (off_bits > n || (n - off_bits) / stride < (size_t)H) BMP_BAD("%s: image file is truncated (BMP pixel data)", origin);
    am_image *img = am__image_new((int)W, (int)H, mode == AM_IMAGE_LABELS ? 1 : 3);
    if (!img) return NULL;
    for (int64_t y = 0; y < H; y++) {
        const uint8_t *r = p + off_bits + stride * (size_t)(top_down ? y : H - 1 - y);
        uint8_t *d = img->px + (size_t)y * W * img->channels;
        for (int64_t x = 0; x < W; x++) {
            uint8_t v[3];
            if (indexed) {
                unsigned bit = (unsigned)(x * bpp);
                unsigned idx = (r[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
                if (img->channels == 1) {
                    d[x] = (uint8_t)idx;
                    continue;
                }
                memcpy(v, pal[idx], 3);
            } else if (bpp == 24) {
                v[0] = r[3 * x + 2], v[1] = r[3 * x + 1], v[2] = r[3 * x];
            } else if (bpp == 32 && compression == 0) {
                v[0] = r[4 * x + 2], v[1] = r[4 * x + 1], v[2] = r[4 * x]; /* BGRX: the 4th byte ignored */
            } else {
                uint32_t px = bpp == 16 ? le16(r + 2 * x) : le32(r + 4 * x);
                v[0] = field(px, masks[0]), v[1] = field(px, masks[1]), v[2] = field(px, masks[2]);
            }
            memcpy(d + 3 * x, v, 3);
        }
    }
    return img;
#undef BMP_BAD
}

/* ---------------------------------------------------------------------------------------------- */

am_image *am_image_decode(const void *data, size_t len, am_image_mode mode, const char *origin) {
    if (!origin) origin = "<image data>";
    const uint8_t *p = data;
    if (!p && len) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: image data is NULL", origin);
        return NULL;
    }
    if (mode != AM_IMAGE_RGB && mode != AM_IMAGE_LABELS) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: unknown image mode %d", origin, (int)mode);
        return NULL;
    }
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return decode_jpeg(p, len, mode, origin);
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(p, len, mode, origin);
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return decode_webp(p, len, mode, origin);
    if (len >= 2 && p[0] == 'B' && p[1] == 'M') return decode_bmp(p, len, mode, origin);
    am__error(AM_ERR_FORMAT, "%s: cannot identify image file (not JPEG, PNG, WebP or BMP)", origin);
    return NULL;
}

am_image *am_image_load(const char *path, am_image_mode mode) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_image_load: path is NULL");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    if (am__read_file(path, &buf, &len) != AM_OK) return NULL;
    am_image *img = am_image_decode(buf, len, mode, path);
    free(buf);
    return img;
}

/* ---------------------------------------------------------------------------------------------- */
/* PNG writing as PIL's Image.save(f, "PNG") with default options: IHDR, one IDAT per 64 KiB of
 * compressed data, IEND; rows filtered adaptively (none, up, sub, paeth in that order, the first
 * with the least sum of |signed byte| wins); zlib level 6, window 15, memLevel 9 and the
 * Z_FILTERED strategy PIL picks for filtered rows. Mode L for one channel, RGB for three. All 15
 * mask PNGs of the segmentation pipeline fixtures come out byte-identical. */
/* ---------------------------------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void png_chunk(am__buf *b, const char *type, const uint8_t *data, size_t n) {
    uint8_t hdr[8];
    put_be32(hdr, (uint32_t)n);
    memcpy(hdr + 4, type, 4);
    am__buf_put(b, hdr, 8);
    if (n) am__buf_put(b, data, n);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, data, (uInt)n);
    uint8_t c[4];
    put_be32(c, (uint32_t)crc);
    am__buf_put(b, c, 4);
}

static unsigned row_cost(const uint8_t *r, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += r[i] < 128 ? r[i] : 256u - r[i];
    return s;
}

static uint8_t paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

am_status am_image_save_png(const am_image *img, const char *path) {
    if (!img || !path) return am__error(AM_ERR_INVALID_ARGUMENT, "am_image_save_png: image or path is NULL");
    size_t bpp = (size_t)img->channels, rowlen = (size_t)img->width * bpp;
    uint8_t *prev = calloc(rowlen + 1, 1), *cand = malloc(rowlen + 1), *best = malloc(rowlen + 1);
    am__buf out = {0}, idat = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    am_status st = AM_OK;
    bool zinit = false;
    if (!prev || !cand || !best) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory writing a PNG", path);
        goto done;
    }
    if (deflateInit2(&z, 6, Z_DEFLATED, 15, 9, Z_FILTERED) != Z_OK) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory starting zlib", path);
        goto done;
    }
    zinit = true;
    uint8_t zbuf[65536];
    for (int y = 0; y <= img->height; y++) {
        int flush = y == img->height ? Z_FINISH : Z_NO_FLUSH;
        if (y < img->height) {
            const uint8_t *cur = img->px + (size_t)y * rowlen;
            const uint8_t *up = prev + 1; /* the previous raw row (zeros before the first) */
            best[0] = 0;
            memcpy(best + 1, cur, rowlen);
            unsigned sum = row_cost(best + 1, rowlen), s;
            if (sum > 0) { /* up */
                cand[0] = 2;
                for (size_t i = 0; i < rowlen; i++) cand[1 + i] = (uint8_t)(cur[i] - up[i]);
                if ((s = row_cost(cand + 1, rowlen)) < sum) sum = s, memcpy(best, cand, rowlen + 1);
            }
            if (sum > 0) { /* sub */
                cand[0] = 1;
                for (size_t i = 0; i < rowlen; i++) cand[1 + i] = (uint8_t)(cur[i] - (i >= bpp ? cur[i - bpp] : 0));
                if ((s = row_cost(cand + 1, rowlen)) < sum) sum = s, memcpy(best, cand, rowlen + 1);
            }
            if (sum > 0) { /* paeth */
                cand[0] = 4;
                for (size_t i = 0; i < rowlen; i++)
                    cand[1 + i] = (uint8_t)(cur[i] - paeth(i >= bpp ? cur[i - bpp] : 0, up[i], i >= bpp ? up[i - bpp] : 0));
                if ((s = row_cost(cand + 1, rowlen)) < sum) sum = s, memcpy(best, cand, rowlen + 1);
            }
            memcpy(prev + 1, cur, rowlen);
            z.next_in = best;
            z.avail_in = (uInt)(rowlen + 1);
        } else {
            z.next_in = NULL;
            z.avail_in = 0;
        }
        int zr;
        do {
            z.next_out = zbuf;
            z.avail_out = sizeof zbuf;
            zr = deflate(&z, flush);
            if (zr == Z_STREAM_ERROR) {
                st = am__error(AM_ERR_INTERNAL, "%s: zlib failed", path);
                goto done;
            }
            am__buf_put(&idat, zbuf, sizeof zbuf - z.avail_out);
        } while (z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
    }
    am__buf_put(&out, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)img->width);
    put_be32(ihdr + 4, (uint32_t)img->height);
    ihdr[8] = 8, ihdr[9] = img->channels == 1 ? 0 : 2, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    png_chunk(&out, "IHDR", ihdr, 13);
    for (size_t at = 0; at < idat.len; at += 65536) png_chunk(&out, "IDAT", (const uint8_t *)idat.data + at, idat.len - at < 65536 ? idat.len - at : 65536);
    png_chunk(&out, "IEND", NULL, 0);
    if (out.failed || idat.failed) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory writing a PNG", path);
        goto done;
    }
    st = am__write_file_atomic(path, out.data, out.len);
done:
    if (zinit) deflateEnd(&z);
    free(prev);
    free(cand);
    free(best);
    am__buf_free(&out);
    am__buf_free(&idat);
    return st;
}
