/* vision/vision.h — image input and image processors (internal view of the vision layer).
 * image.c: decoding (JPEG, PNG, BMP, WebP), EXIF orientation and PIL's convert("RGB").
 * resample.c: Pillow 9.4's resize of 8-bit images, bit for bit.
 * imgproc.c: transformers 4.32's image processors (ViT, DeiT, YOLOS, Segformer, ConvNext). */
#ifndef AM_VISION_H
#define AM_VISION_H
#include "automodel.h"

/* A decoded image: height x width x channels bytes, row-major, channels interleaved (HWC). */
struct am_image {
    int width, height, channels; /* channels: 3 (RGB) or 1 (a label map / grey) */
    uint8_t *px;
};

/* PIL's Image.MAX_IMAGE_PIXELS (1024 * 1024 * 1024 // 4 // 3): above it PIL warns, above twice it
 * raises DecompressionBombError; so do we (a warning log line, then AM_ERR_FORMAT). */
#define AM__IMAGE_MAX_PIXELS 89478485LL

/* A new image with uninitialised pixels (NULL with AM_ERR_NO_MEMORY). */
am_image *am__image_new(int width, int height, int channels);

/* PIL's resize((out_w, out_h), resample=filter) of an 8-bit image (any channel count): filter is
 * PIL's code (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING). NULL + error. */
am_image *am__image_resize(const am_image *img, int out_w, int out_h, int filter);

/* The processor call with its intermediates: when `resized` is non-NULL it receives, per input,
 * the image after the resize/crop step and before rescaling (owned by the caller, n entries; the
 * same for segmentation maps in `resized_maps`). */
am_status am__image_processor_call_ex(const am_image_processor *p, const am_image *const *images, size_t n,
                                      const am_image *const *maps, const char *kwargs_json, am_tensors **out,
                                      am_image **resized, am_image **resized_maps);

/* preprocessor_config.json of `path` (a folder holding it, the file itself, or a hub model id
 * resolved through the cache), as AutoImageProcessor / AutoFeatureExtractor find it: *json its text,
 * *file its path, and when the text holds none of `class_keys` (NULL-terminated), *model_type the
 * model_type of the config.json beside it (else NULL); all malloc'd. `what` names the processor
 * kind in the not-found message. */
am_status am__preprocessor_config_read(const char *path, const char *what, const char *const *class_keys, char **json,
                                       char **file, char **model_type);
#endif
