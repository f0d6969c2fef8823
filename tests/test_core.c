/* tests/test_core.c — tensors, dtype conversions, errors, the thread pool. */
#include "core/error.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "core/util.h"
#include "harness.h"
#include "models/model.h"
#include <math.h>
#include <stdlib.h>

static void sum_range(void *ctx, int64_t b, int64_t e) {
    int64_t *acc = ctx;
    for (int64_t i = b; i < e; i++) __atomic_add_fetch(acc, i, __ATOMIC_RELAXED);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int64_t shape[2] = {3, 4};
    am_tensor *t = am_tensor_new(AM_F32, 2, shape);
    CHECK(t && am_tensor_numel(t) == 12 && am_tensor_nbytes(t) == 48);
    CHECK(am_tensor_dim(t, -1) == 4);
    am_tensor *r = am_tensor_retain(t);
    am_tensor_free(r);
    am_tensor_free(t);

    /* an arena: views carved in order, 64-byte aligned, each holding the storage; a tensor that
     * does not fit (and a NULL arena) gets its own; the memory lives until the last view goes */
    am__arena ar;
    CHECK(!am__arena_init(&ar, 0) && ar.st == NULL);
    CHECK(am__arena_init(&ar, am__arena_bytes(10) + am__arena_bytes(48)) && ar.st);
    int64_t s10[1] = {10}, s12[1] = {12};
    am_tensor *a1 = am__arena_tensor(&ar, AM_I8, 1, s10), *a2 = am__arena_tensor(&ar, AM_F32, 1, s12), *a3 = am__arena_tensor(&ar, AM_I8, 1, s10),
              *a4 = am__arena_tensor(NULL, AM_I8, 1, s10);
    CHECK(a1 && a2 && a3 && a4 && a1->storage == ar.st && a2->storage == ar.st && a3->storage != ar.st && a4->storage != ar.st);
    CHECK((char *)a2->data - (char *)a1->data == 64 && (uintptr_t)a1->data % 64 == 0 && ar.st->refcount == 3);
    am__arena_release(&ar);
    CHECK(ar.st == NULL && a1->storage->refcount == 2);
    memset(a2->data, 7, 48); /* still owned by the views (ASan: no use after free) */
    am_tensor_free(a1), am_tensor_free(a2), am_tensor_free(a3), am_tensor_free(a4);

    /* bf16/f16 round trips of representable values are exact; rounding is to nearest even */
    CHECK(am__bf16_to_f32(am__f32_to_bf16(1.5f)) == 1.5f);
    CHECK(am__f16_to_f32(am__f32_to_f16(-2.25f)) == -2.25f);
    CHECK(am__f16_to_f32(am__f32_to_f16(65504.0f)) == 65504.0f);
    CHECK(isinf(am__f16_to_f32(am__f32_to_f16(1e6f))));
    CHECK(am__f16_to_f32(am__f32_to_f16(5.960464477539063e-08f)) == 5.960464477539063e-08f);
    CHECK(am__f32_to_bf16(1.00390625f) == 0x3f80); /* tie to even */

    /* the vectorised widening (F16C where present) equals the scalar conversion for every half */
    {
        uint16_t *h = malloc(65536 * sizeof *h);
        float *f = malloc(65536 * sizeof *f);
        for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
        am__to_f32(h, AM_F16, 65536, f);
        int bad = 0;
        for (int i = 0; i < 65536; i++) {
            float want = am__f16_to_f32((uint16_t)i);
            if (!(f[i] == want || (isnan(f[i]) && isnan(want)))) bad++;
        }
        CHECKF(bad == 0, "%d halves widened differently", bad);
        am__to_f32(h, AM_BF16, 65536, f);
        bad = 0;
        for (int i = 0; i < 65536; i++) {
            float want = am__bf16_to_f32((uint16_t)i);
            if (memcmp(&f[i], &want, 4)) bad++;
        }
        CHECKF(bad == 0, "%d bf16 values widened differently", bad);
        free(h);
        free(f);
    }

    am_dtype d;
    CHECK(am_dtype_parse("torch.bfloat16", &d) == AM_OK && d == AM_BF16);
    CHECK(am_dtype_parse("complex64", &d) == AM_ERR_INVALID_ARGUMENT && strstr(am_last_error(), "complex64"));

    char buf[64];
    am__format_py_float(1e-12, buf, sizeof buf);
    CHECK(!strcmp(buf, "1e-12"));
    am__format_py_float(0.1, buf, sizeof buf);
    CHECK(!strcmp(buf, "0.1"));
    am__format_py_float(1.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "1.0"));
    am__format_py_float(1e-05, buf, sizeof buf);
    CHECK(!strcmp(buf, "1e-05"));
    am__format_py_float(10000.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "10000.0"));
    am__format_py_float(0.0001, buf, sizeof buf);
    CHECK(!strcmp(buf, "0.0001"));

    int64_t acc = 0;
    am_set_num_threads(2);
    am__parallel_for(1000, sum_range, &acc);
    CHECK(acc == 999 * 1000 / 2);
    acc = 0;
    am_set_num_threads(1);
    am__parallel_for(10, sum_range, &acc);
    CHECK(acc == 45);
    am_set_num_threads(0);

    CHECK(am__error(AM_ERR_IO, "x.json: %s", "bad") == AM_ERR_IO && !strcmp(am_last_error(), "x.json: bad"));
    CHECK(!strcmp(am_status_name(AM_ERR_FORMAT), "bad file format"));
    return 0;
}
