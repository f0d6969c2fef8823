/* fuzz_image — arbitrary bytes as an image file: decoded as a photo (load_image) and as a
 * segmentation map; what decodes is resized with every Pillow filter. Errors are fine, crashes,
 * leaks and undefined behaviour are not. Sizes stay under the decompression-bomb limit. */
#include "automodel.h"
#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int mode = 0; mode < 2; mode++) {
        am_image *img = am_image_decode(data, size, (am_image_mode)mode, "fuzz");
        if (!img) continue;
        if ((int64_t)am_image_width(img) * am_image_height(img) <= 4096)
            for (int f = 0; f <= 5; f++) {
                am_image_free(am_image_resize(img, 5, 3, f));
                am_image_free(am_image_resize(img, am_image_width(img) * 2 + 1, 1, f));
            }
        am_image_free(img);
    }
    return 0;
}
