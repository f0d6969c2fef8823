/* fuzz_device_map — arbitrary bytes as from_pretrained's device_map and max_memory (split at the
 * first newline; offload_folder after a second one): the checks run before any loading must accept
 * or refuse with a message, never crash (auto/device_map.c). */
#include "auto/auto.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *mm = strchr(text, '\n'), *folder = NULL;
    if (mm) {
        *mm++ = 0;
        if ((folder = strchr(mm, '\n'))) *folder++ = 0;
    }
    am_load_options o = am_load_options_default();
    o.device_map = text;
    o.max_memory = mm;
    o.offload_folder = folder;
    if (am__device_map_check(&o) != AM_OK && !*am_last_error()) abort(); /* a refusal always says why */
    free(text);
    return 0;
}
