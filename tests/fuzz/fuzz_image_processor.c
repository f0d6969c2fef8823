/* fuzz_image_processor — arbitrary bytes as preprocessor_config.json: loaded, and when its sizes are
 * small, called on a small image (with a segmentation map for Segformer) and with the bytes as the
 * call's keyword arguments too. */
#include "automodel.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* every number inside "size"/"crop_size"/"max_size" small and crop_pct not tiny: the call stays cheap */
static int small(const cJSON *v) {
    if (cJSON_IsNumber(v)) return v->valuedouble <= 64;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) if (!small(it)) return 0;
    return 1;
}
static int cheap(const char *text) {
    cJSON *j = cJSON_Parse(text);
    if (!j) return 0;
    int ok = cJSON_IsObject(j) && small(cJSON_GetObjectItem(j, "size")) && small(cJSON_GetObjectItem(j, "crop_size")) &&
             small(cJSON_GetObjectItem(j, "max_size"));
    const cJSON *cp = cJSON_GetObjectItem(j, "crop_pct");
    if (cJSON_IsNumber(cp) && cp->valuedouble < 0.25) ok = 0;
    cJSON_Delete(j);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    am_image_processor *p = am_image_processor_from_json(text, "fuzz/preprocessor_config.json");
    if (p && cheap(text)) {
        uint8_t px[6 * 5 * 3], lab[6 * 5];
        for (int i = 0; i < 90; i++) px[i] = (uint8_t)(i * 29);
        for (int i = 0; i < 30; i++) lab[i] = (uint8_t)(i % 5 == 4 ? 255 : i % 5);
        am_image *img = am_image_from_pixels(6, 5, 3, px), *map = am_image_from_pixels(6, 5, 1, lab);
        const am_image *imgs[2] = {img, img}, *maps[2] = {map, map};
        int seg = !strcmp(am_image_processor_class_name(p), "SegformerImageProcessor");
        am_tensors *out = NULL;
        if (am_image_processor_call(p, imgs, 2, seg ? maps : NULL, NULL, &out) == AM_OK) am_tensors_free(out);
        out = NULL;
        if (am_image_processor_call(p, imgs, 1, NULL, text, &out) == AM_OK) am_tensors_free(out);
        am_image_free(img);
        am_image_free(map);
    }
    am_image_processor_free(p);
    free(text);
    return 0;
}
