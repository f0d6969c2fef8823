/* fuzz_safetensors — arbitrary bytes as a safetensors file image: parse, validate, and read
 * every tensor the header admits. */
#include "formats/safetensors.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    am__st_file f;
    if (am__st_parse(data, size, "fuzz.safetensors", &f) != AM_OK) return 0;
    (void)am__st_check_format(&f);
    for (size_t i = 0; i < f.n; i++) {
        am_tensor *t = am__st_tensor(&f, i);
        if (t && am_tensor_nbytes(t)) {
            volatile uint8_t x = ((uint8_t *)am_tensor_data(t))[am_tensor_nbytes(t) - 1];
            (void)x;
        }
        am_tensor_free(t);
    }
    for (size_t i = 0; i < f.n; i++) free(f.entries[i].name);
    free(f.entries);
    free(f.format);
    return 0;
}
