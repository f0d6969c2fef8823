/* tests/fuzz/fuzz_pickle.c — the restricted unpickler on arbitrary bytes, then a bounded walk of
 * whatever it built (cycles through the memo are possible, hence the budget). */
#include "core/error.h"
#include "formats/pickle.h"
#include <stdlib.h>

static size_t walk(const am__pv *v, int depth, size_t budget) {
    if (!v || depth > 80 || budget == 0) return budget;
    budget--;
    switch (v->kind) {
    case AM__PV_TUPLE: case AM__PV_LIST: case AM__PV_SET:
        for (size_t i = 0; i < v->u.seq.n && budget; i++) budget = walk(v->u.seq.items[i], depth + 1, budget);
        break;
    case AM__PV_DICT:
        for (size_t i = 0; i < v->u.dict.n && budget; i++) {
            budget = walk(v->u.dict.keys[i], depth + 1, budget);
            budget = walk(v->u.dict.vals[i], depth + 1, budget);
            if (v->u.dict.keys[i]->kind == AM__PV_STR) (void)am__pv_dict_get(v, v->u.dict.keys[i]->u.s.p);
        }
        break;
    case AM__PV_TENSOR:
        if (v->u.tensor.storage->kind != AM__PV_STORAGE || v->u.tensor.ndim > AM_MAX_DIMS) abort();
        break;
    case AM__PV_STR:
        if (v->u.s.p[v->u.s.n] != 0) abort();
        break;
    default: break;
    }
    return budget;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    am__pickle_limits lim = am__pickle_limits_default(size);
    lim.max_alloc = (size_t)64 << 20;
    am__pickle *p = NULL;
    const am__pv *root = NULL;
    if (am__unpickle(data, size, "fuzz.pkl", &lim, &p, &root) == AM_OK) walk(root, 0, 100000);
    am__pickle_free(p);
    return 0;
}
