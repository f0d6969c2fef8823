/* tests/formats_tensors_shim.c — TEMPORARY stand-in for am_tensors (the lead's src/core/tensors.c),
 * linked into the formats tests only while no library source defines am_tensors_new; weak so a
 * real definition always wins. Delete once src/core/tensors.c is merged. */
#include "automodel.h"
#include <stdlib.h>
#include <string.h>

struct am_tensors {
    size_t n, cap;
    char **names;
    am_tensor **ts;
};

__attribute__((weak)) am_tensors *am_tensors_new(void) { return calloc(1, sizeof(am_tensors)); }
__attribute__((weak)) void am_tensors_free(am_tensors *ts) {
    if (!ts) return;
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->names[i]);
        am_tensor_free(ts->ts[i]);
    }
    free(ts->names);
    free(ts->ts);
    free(ts);
}
__attribute__((weak)) am_status am_tensors_set(am_tensors *ts, const char *name, am_tensor *t) {
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->names[i], name)) {
            am_tensor_free(ts->ts[i]);
            ts->ts[i] = am_tensor_retain(t);
            return AM_OK;
        }
    if (ts->n == ts->cap) {
        size_t nc = ts->cap ? ts->cap * 2 : 16;
        char **nn = realloc(ts->names, nc * sizeof *nn);
        if (!nn) return AM_ERR_NO_MEMORY;
        ts->names = nn;
        am_tensor **nt = realloc(ts->ts, nc * sizeof *nt);
        if (!nt) return AM_ERR_NO_MEMORY;
        ts->ts = nt;
        ts->cap = nc;
    }
    ts->names[ts->n] = strdup(name);
    ts->ts[ts->n++] = am_tensor_retain(t);
    return AM_OK;
}
__attribute__((weak)) am_tensor *am_tensors_get(const am_tensors *ts, const char *name) {
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->names[i], name)) return ts->ts[i];
    return NULL;
}
__attribute__((weak)) size_t am_tensors_count(const am_tensors *ts) { return ts->n; }
__attribute__((weak)) const char *am_tensors_name(const am_tensors *ts, size_t i) { return i < ts->n ? ts->names[i] : NULL; }
__attribute__((weak)) am_tensor *am_tensors_at(const am_tensors *ts, size_t i) { return i < ts->n ? ts->ts[i] : NULL; }
