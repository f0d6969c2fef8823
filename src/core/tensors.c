/* core/tensors.c — am_tensors: an insertion-ordered list of named tensors (model inputs, outputs,
 * state dicts, file contents). Lookups are linear: lists are small or scanned once. */
#include "core/error.h"
#include "core/tensor.h"
#include "core/util.h"
#include <stdlib.h>
#include <string.h>

struct am_tensors {
    size_t n, cap;
    char **names;
    am_tensor **items;
};

am_tensors *am_tensors_new(void) {
    am_tensors *ts = calloc(1, sizeof *ts);
    if (!ts) am__error(AM_ERR_NO_MEMORY, "out of memory");
    return ts;
}

void am_tensors_free(am_tensors *ts) {
    if (!ts) return;
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->names[i]);
        am_tensor_free(ts->items[i]);
    }
    free(ts->names);
    free(ts->items);
    free(ts);
}

am_status am_tensors_set(am_tensors *ts, const char *name, am_tensor *t) {
    if (!ts || !name || !t) return am__error(AM_ERR_INVALID_ARGUMENT, "am_tensors_set: NULL argument");
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->names[i], name)) {
            am_tensor_retain(t);
            am_tensor_free(ts->items[i]);
            ts->items[i] = t;
            return AM_OK;
        }
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 16;
        char **nn = realloc(ts->names, cap * sizeof *nn);
        if (!nn) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        ts->names = nn;
        am_tensor **ni = realloc(ts->items, cap * sizeof *ni);
        if (!ni) return am__error(AM_ERR_NO_MEMORY, "out of memory");
        ts->items = ni;
        ts->cap = cap;
    }
    char *nm = am__strdup(name);
    if (!nm) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    ts->names[ts->n] = nm;
    ts->items[ts->n] = am_tensor_retain(t);
    ts->n++;
    return AM_OK;
}

am_tensor *am_tensors_get(const am_tensors *ts, const char *name) {
    if (!ts || !name) return NULL;
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->names[i], name)) return ts->items[i];
    return NULL;
}
size_t am_tensors_count(const am_tensors *ts) { return ts ? ts->n : 0; }
const char *am_tensors_name(const am_tensors *ts, size_t i) { return ts && i < ts->n ? ts->names[i] : NULL; }
am_tensor *am_tensors_at(const am_tensors *ts, size_t i) { return ts && i < ts->n ? ts->items[i] : NULL; }
