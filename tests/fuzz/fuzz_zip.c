/* tests/fuzz/fuzz_zip.c — the zip reader on arbitrary bytes: open, look up and read every entry. */
#include "core/error.h"
#include "formats/zip.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    am__zip *z = NULL;
    if (am__zip_open(data, size, "fuzz.zip", &z) != AM_OK) return 0;
    for (size_t i = 0; i < z->n_entries; i++) {
        const am__zip_entry *e = &z->entries[i];
        if (am__zip_find(z, e->name) == NULL) abort(); /* every listed name can be found */
        if (e->size > ((uint64_t)64 << 20)) continue; /* legal but slow to inflate */
        const uint8_t *d;
        void *o = NULL;
        if (am__zip_read(z, e, true, &d, &o) == AM_OK && e->size) {
            volatile uint8_t x = d[0] ^ d[e->size - 1]; /* the bytes are really there */
            (void)x;
        }
        free(o);
    }
    am__zip_free(z);
    return 0;
}
