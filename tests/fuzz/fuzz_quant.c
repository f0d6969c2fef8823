/* fuzz_quant — quantized checkpoints and quantization configs from arbitrary bytes. First byte
 * even: the rest is a safetensors file image whose tensors go through am__quant_ckpt (int8 weights
 * with SCB, packed 4-bit weights with their quant-state tensors and JSON); odd: the rest is a
 * quantization_config JSON text for am__qconfig_from_options. */
#include "auto/auto.h"
#include "formats/safetensors.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    if (data[0] & 1) {
        char *js = malloc(size);
        if (!js) return 0;
        memcpy(js, data + 1, size - 1);
        js[size - 1] = 0;
        am_load_options o = am_load_options_default();
        o.quantization_config = js;
        am__qconfig q;
        if (am__qconfig_from_options(&o, &q) == AM_OK) am__qconfig_free(&q);
        free(js);
        return 0;
    }
    am__st_file f;
    if (am__st_parse(data + 1, size - 1, "fuzz.safetensors", &f) != AM_OK) return 0;
    char **names = calloc(f.n + 1, sizeof *names);
    am_tensor **ts = calloc(f.n + 1, sizeof *ts);
    size_t n = 0;
    for (size_t i = 0; names && ts && i < f.n; i++) {
        am_tensor *t = am__st_tensor(&f, i);
        if (!t) continue;
        names[n] = strdup(f.entries[i].name);
        ts[n++] = t;
    }
    am__qconfig q;
    memset(&q, 0, sizeof q);
    q.bits = 4, q.threshold = 6.0f, q.q4 = AM__Q_NF4, q.compute = AM_F32;
    if (names && ts && am__quant_ckpt(names, ts, &n, "fuzz.safetensors", &q) == AM_OK)
        for (size_t i = 0; i < n; i++) { /* every quantized weight must be usable */
            const am__qweight *qw = am__qweight_of(ts[i]);
            if (qw && qw->N * qw->K <= 4096) {
                float x[4096] = {0}, y[4096];
                x[0] = 1.0f;
                if (qw->K <= 4096 && qw->N <= 4096) am__qlinear(1, x, ts[i], NULL, y);
            }
        }
    for (size_t i = 0; i < n; i++) {
        free(names ? names[i] : NULL);
        am_tensor_free(ts ? ts[i] : NULL);
    }
    free(names);
    free(ts);
    for (size_t i = 0; i < f.n; i++) free(f.entries[i].name);
    free(f.entries);
    free(f.format);
    return 0;
}
