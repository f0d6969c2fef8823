/* formats/torch_bin.c — pytorch_model.bin: a zip (zip.c) holding a pickled state dict (pickle.c)
 * whose tensors point at raw storages stored as separate entries. Loading maps those entries in
 * place and keeps shared storages shared; saving writes the layout torch.save produces. */
#include "formats/torch_bin.h"
#include "core/error.h"
#include "core/log.h"
#include "core/tensor.h"
#include "core/util.h"
#include "formats/pickle.h"
#include "formats/zip.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- loading ---- */

typedef struct {
    const char *key; /* borrowed from the pickle */
    am_dtype dtype;
    int64_t numel;
    am__storage *st;
} storage_slot;

typedef struct {
    storage_slot *slots;
    size_t cap, n;
} storage_map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

static storage_slot *map_find(storage_map *m, const char *key, bool *found) {
    if (m->n * 2 >= m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        storage_slot *ns = calloc(nc, sizeof *ns);
        if (!ns) return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key) {
                size_t j = hash_str(m->slots[i].key) & (nc - 1);
                while (ns[j].key) j = (j + 1) & (nc - 1);
                ns[j] = m->slots[i];
            }
        free(m->slots);
        m->slots = ns;
        m->cap = nc;
    }
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->slots[j].key && strcmp(m->slots[j].key, key)) j = (j + 1) & (m->cap - 1);
    *found = m->slots[j].key != NULL;
    return &m->slots[j];
}

static void map_free(storage_map *m) {
    for (size_t i = 0; i < m->cap; i++) am__storage_release(m->slots[i].st);
    free(m->slots);
}

/* The storage behind a persistent id, created on first use from the zip entry data/<key>. */
/* Bytes a load may allocate beyond the mapping (inflated storages, copies of strided views): a
 * hostile archive could otherwise ask for far more memory than its size (a stride-0 view of one
 * element with a huge shape, many transposed views of one big storage, a deflate bomb). */
static uint64_t copy_budget(size_t file_len) {
    uint64_t b = (uint64_t)file_len * 4;
    return b > ((uint64_t)256 << 20) ? b : ((uint64_t)256 << 20);
}

static am_status spend(const char *path, uint64_t *budget, uint64_t n, const char *what) {
    if (n > *budget)
        return am__error(AM_ERR_FORMAT, "%s: %s would need %llu more bytes than the file's size allows (%llu left)", path,
                         what, (unsigned long long)n, (unsigned long long)*budget);
    *budget -= n;
    return AM_OK;
}

static am_status get_storage(const char *path, am__mapping *map, const am__zip *z, const char *prefix, storage_map *sm,
                             const am__pv *sv, uint64_t *budget, storage_slot **out) {
    bool found = false;
    storage_slot *s = map_find(sm, sv->u.storage.key, &found);
    if (!s) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    if (found) {
        if (s->dtype != sv->u.storage.dtype || s->numel != sv->u.storage.numel)
            return am__error(AM_ERR_FORMAT, "%s: storage '%s' is referenced with two different types or sizes", path,
                             sv->u.storage.key);
        *out = s;
        return AM_OK;
    }
    size_t es = am_dtype_size(sv->u.storage.dtype);
    uint64_t nbytes = (uint64_t)sv->u.storage.numel * es; /* no overflow: checked by the unpickler */
    char *ename = malloc(strlen(prefix) + strlen(sv->u.storage.key) + 8);
    if (!ename) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
    sprintf(ename, "%s/data/%s", prefix, sv->u.storage.key);
    const am__zip_entry *e = am__zip_find(z, ename);
    if (!e) {
        am_status st = am__error(AM_ERR_FORMAT, "%s: storage '%s' has no zip entry '%s'", path, sv->u.storage.key, ename);
        free(ename);
        return st;
    }
    if (e->size < nbytes) {
        am_status st = am__error(AM_ERR_FORMAT, "%s: zip entry '%s' holds %llu bytes but its storage needs %lld x %zu = %llu",
                                 path, ename, (unsigned long long)e->size, (long long)sv->u.storage.numel, es,
                                 (unsigned long long)nbytes);
        free(ename);
        return st;
    }
    if (nbytes > SIZE_MAX) {
        free(ename);
        return am__error(AM_ERR_FORMAT, "%s: storage '%s' is too large for this machine", path, sv->u.storage.key);
    }
    const uint8_t *data;
    void *owned;
    am_status st = e->method != 0 ? spend(path, budget, 2 * e->size, "inflating a storage") : AM_OK;
    if (st == AM_OK) st = am__zip_read(z, e, false, &data, &owned);
    free(ename);
    if (st != AM_OK) return st;
    am__storage *storage;
    if (!owned && ((uintptr_t)data % es) == 0) {
        storage = am__storage_from_mapping(map, data, (size_t)nbytes);
    } else {
        /* deflated, or misaligned for its dtype: one aligned copy */
        storage = am__storage_new((size_t)nbytes);
        if (storage && nbytes) memcpy(storage->ptr, data, (size_t)nbytes);
    }
    free(owned);
    if (!storage) return am__error(AM_ERR_NO_MEMORY, "%s: cannot allocate storage '%s'", path, sv->u.storage.key);
    s->key = sv->u.storage.key;
    s->dtype = sv->u.storage.dtype;
    s->numel = sv->u.storage.numel;
    s->st = storage;
    sm->n++;
    *out = s;
    return AM_OK;
}

/* Copies a strided view into a new contiguous tensor. */
static am_tensor *gather_strided(const void *base, am_dtype dt, int ndim, const int64_t *shape, const int64_t *stride) {
    am_tensor *t = am__tensor_empty(dt, ndim, shape);
    if (!t) return NULL;
    size_t es = am_dtype_size(dt);
    int64_t n = am__shape_numel(ndim, shape);
    int64_t idx[AM_MAX_DIMS] = {0};
    int64_t src = 0;
    char *dst = t->data;
    for (int64_t i = 0; i < n; i++) {
        memcpy(dst + (size_t)i * es, (const char *)base + (size_t)src * es, es);
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                src += stride[d];
                break;
            }
            src -= stride[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
    return t;
}

static am_status make_tensor(const char *path, const char *name, const am__pv *tv, storage_slot *s, uint64_t *budget,
                             am_tensor **out) {
    *out = NULL;
    int nd = tv->u.tensor.ndim;
    const int64_t *shape = tv->u.tensor.shape, *stride = tv->u.tensor.stride;
    am_dtype dt = s->dtype;
    size_t es = am_dtype_size(dt);
    char sb[160], tb[160];
    int64_t numel = 1;
    bool ovf = false;
    for (int i = 0; i < nd; i++) ovf |= __builtin_mul_overflow(numel, shape[i], &numel);
    if (ovf) return am__error(AM_ERR_FORMAT, "%s: tensor '%s' has an impossible size %s", path, name, am__shape_str(nd, shape, sb, sizeof sb));
    if (numel == 0) {
        *out = am__tensor_view_storage(s->st, 0, dt, nd, shape);
        return *out ? AM_OK : AM_ERR_NO_MEMORY;
    }
    /* the last element the view touches must lie inside the storage */
    int64_t last = tv->u.tensor.offset;
    for (int i = 0; i < nd && !ovf; i++) {
        int64_t step;
        ovf |= __builtin_mul_overflow(shape[i] - 1, stride[i], &step);
        ovf |= __builtin_add_overflow(last, step, &last);
    }
    if (ovf || last >= s->numel)
        return am__error(AM_ERR_FORMAT,
                         "%s: tensor '%s' (offset %lld, size %s, stride %s) reaches past the end of its storage '%s' of "
                         "%lld elements",
                         path, name, (long long)tv->u.tensor.offset, am__shape_str(nd, shape, sb, sizeof sb),
                         am__shape_str(nd, stride, tb, sizeof tb), s->key, (long long)s->numel);
    bool contiguous = true;
    int64_t expect = 1;
    for (int i = nd - 1; i >= 0; i--) {
        if (shape[i] != 1 && stride[i] != expect) contiguous = false;
        expect *= shape[i];
    }
    if (contiguous) *out = am__tensor_view_storage(s->st, (size_t)tv->u.tensor.offset * es, dt, nd, shape);
    else if (spend(path, budget, (uint64_t)numel * es, "copying a strided view") != AM_OK) {
        am__error_prefix("tensor '%s'", name);
        return AM_ERR_FORMAT;
    } else *out = gather_strided((const char *)s->st->ptr + (size_t)tv->u.tensor.offset * es, dt, nd, shape, stride);
    if (!*out) {
        am__error_prefix("%s: tensor '%s'", path, name);
        return AM_ERR_NO_MEMORY;
    }
    return AM_OK;
}

/* torch.save before 1.6 wrote a sequence of pickles, starting with a magic number. */
static bool looks_legacy(const uint8_t *p, size_t n) {
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    return n >= sizeof magic && !memcmp(p, magic, sizeof magic);
}

am_status am__torch_bin_load(const char *path, am_tensors **out) {
    *out = NULL;
    am__mapping *map = am__mapping_open(path);
    if (!map) return access(path, F_OK) == 0 ? AM_ERR_IO : AM_ERR_NOT_FOUND;
    am__zip *z = NULL;
    am__pickle *pk = NULL;
    am_tensors *ts = NULL;
    storage_map sm = {0};
    uint64_t budget = copy_budget(map->len);
    void *pkl_owned = NULL;
    char *prefix = NULL;
    am_status st;
    if (looks_legacy(map->addr, map->len)) {
        st = am__error(AM_ERR_UNSUPPORTED,
                       "%s: this is the legacy (pre-PyTorch-1.6) torch.save format, which is not supported; "
                       "re-save it with a recent PyTorch or convert it to safetensors",
                       path);
        goto done;
    }
    if ((st = am__zip_open(map->addr, map->len, path, &z)) != AM_OK) goto done;
    if (z->n_entries == 0) {
        st = am__error(AM_ERR_FORMAT, "%s: empty zip archive, not a torch.save file", path);
        goto done;
    }
    /* Like PyTorch's reader, the archive's folder is the first entry's. */
    const char *slash = strchr(z->entries[0].name, '/');
    if (!slash) {
        st = am__error(AM_ERR_FORMAT, "%s: not a torch.save archive (first entry '%s' is not in a folder)", path,
                       z->entries[0].name);
        goto done;
    }
    size_t plen = (size_t)(slash - z->entries[0].name);
    prefix = malloc(plen + 32);
    if (!prefix) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    memcpy(prefix, z->entries[0].name, plen);
    strcpy(prefix + plen, "/byteorder");
    const am__zip_entry *bo = am__zip_find(z, prefix);
    if (bo) {
        const uint8_t *d;
        void *o;
        if ((st = am__zip_read(z, bo, true, &d, &o)) != AM_OK) goto done;
        bool little = bo->size == 6 && !memcmp(d, "little", 6);
        free(o);
        if (!little) {
            st = am__error(AM_ERR_UNSUPPORTED, "%s: big-endian torch.save archives are not supported", path);
            goto done;
        }
    }
    strcpy(prefix + plen, "/data.pkl");
    const am__zip_entry *pe = am__zip_find(z, prefix);
    if (!pe) {
        st = am__error(AM_ERR_FORMAT, "%s: not a torch.save archive (no '%s' entry)", path, prefix);
        goto done;
    }
    const uint8_t *pkl;
    if ((st = am__zip_read(z, pe, true, &pkl, &pkl_owned)) != AM_OK) goto done;
    prefix[plen] = 0;
    const am__pv *root;
    if ((st = am__unpickle(pkl, (size_t)pe->size, path, NULL, &pk, &root)) != AM_OK) goto done;
    if (root->kind != AM__PV_DICT) {
        st = am__error(AM_ERR_FORMAT, "%s: the pickled object is a %s, not a state dict", path, am__pv_kind_name(root->kind));
        goto done;
    }
    if (!(ts = am_tensors_new())) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < root->u.dict.n; i++) {
        const am__pv *k = root->u.dict.keys[i], *v = root->u.dict.vals[i];
        if (k->kind != AM__PV_STR) {
            st = am__error(AM_ERR_FORMAT, "%s: state dict key %zu is a %s, not a string", path, i, am__pv_kind_name(k->kind));
            goto done;
        }
        if (v->kind != AM__PV_TENSOR) {
            am__log(AM_LOG_WARNING, "%s: '%s' is a %s, not a tensor; ignored", path, k->u.s.p, am__pv_kind_name(v->kind));
            continue;
        }
        storage_slot *slot = NULL;
        if ((st = get_storage(path, map, z, prefix, &sm, v->u.tensor.storage, &budget, &slot)) != AM_OK) goto done;
        am_tensor *t;
        if ((st = make_tensor(path, k->u.s.p, v, slot, &budget, &t)) != AM_OK) goto done;
        st = am_tensors_set(ts, k->u.s.p, t);
        am_tensor_free(t);
        if (st != AM_OK) goto done;
    }
done:
    map_free(&sm);
    free(prefix);
    free(pkl_owned);
    am__pickle_free(pk);
    am__zip_free(z);
    am__mapping_release(map);
    if (st != AM_OK) {
        am_tensors_free(ts);
        return st;
    }
    *out = ts;
    return AM_OK;
}

/* ---- saving ---- */

static const char *storage_class(am_dtype dt) {
    switch (dt) {
    case AM_F32: return "FloatStorage";
    case AM_F16: return "HalfStorage";
    case AM_BF16: return "BFloat16Storage";
    case AM_F64: return "DoubleStorage";
    case AM_I64: return "LongStorage";
    case AM_I32: return "IntStorage";
    case AM_I16: return "ShortStorage";
    case AM_I8: return "CharStorage";
    case AM_U8: return "ByteStorage";
    case AM_BOOL: return "BoolStorage";
    default: return NULL;
    }
}

typedef struct {
    size_t tensor; /* index in ts */
    const void *sptr;
    am_dtype dt;
    size_t group;
} share_item;

static int cmp_share(const void *a, const void *b) {
    const share_item *x = a, *y = b;
    if (x->sptr != y->sptr) return (uintptr_t)x->sptr < (uintptr_t)y->sptr ? -1 : 1;
    if (x->dt != y->dt) return x->dt < y->dt ? -1 : 1;
    return x->tensor < y->tensor ? -1 : x->tensor > y->tensor;
}

typedef struct {
    const char *base; /* bytes written for this storage: [base + lo, base + hi) */
    size_t lo, hi;
    am_dtype dt;
    am_tensor *own;   /* a contiguous copy made for a non-contiguous tensor */
    size_t key;       /* the archive's key, in order of first use */
} group;

static void pkl_tuple(am__buf *b, int n, const int64_t *v) {
    if (n == 0) {
        am__pkl_op(b, ')');
        return;
    }
    if (n > 3) am__pkl_op(b, '(');
    for (int i = 0; i < n; i++) am__pkl_int(b, v[i]);
    am__pkl_op(b, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

am_status am__torch_bin_save_ex(const am_tensors *ts, const char *path, bool force_zip64) {
    size_t n = am_tensors_count(ts);
    share_item *items = calloc(n ? n : 1, sizeof *items);
    size_t *tgroup = calloc(n ? n : 1, sizeof *tgroup);
    group *groups = calloc(n ? n : 1, sizeof *groups);
    size_t ngroups = 0;
    am__buf pkl = {0};
    char *tmp = NULL, *stem = NULL;
    FILE *f = NULL;
    am__zip_writer *w = NULL;
    am_status st = AM_OK;
    if (!items || !tgroup || !groups) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }

    /* Group tensors by (storage, dtype) so a shared storage is written once. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        am_tensor *t = am_tensors_at(ts, i);
        if (!storage_class(t->dtype)) {
            st = am__error(AM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which torch storages cannot hold", path,
                           am_tensors_name(ts, i), am_dtype_name(t->dtype));
            goto done;
        }
        size_t es = am_dtype_size(t->dtype);
        bool shareable = t->storage && am_tensor_numel(t) > 0 && am__tensor_is_contiguous(t) &&
                         (char *)t->data >= (char *)t->storage->ptr &&
                         ((size_t)((char *)t->data - (char *)t->storage->ptr)) % es == 0;
        if (shareable) {
            items[m].tensor = i;
            items[m].sptr = t->storage;
            items[m].dt = t->dtype;
            m++;
        } else {
            group *g = &groups[ngroups];
            g->dt = t->dtype;
            if (am_tensor_numel(t) > 0) {
                if (!(g->own = gather_strided(t->data, t->dtype, t->ndim, t->shape, t->strides))) {
                    st = AM_ERR_NO_MEMORY;
                    goto done;
                }
                g->base = g->own->data;
                g->hi = am_tensor_nbytes(t);
            }
            tgroup[i] = ngroups++;
        }
    }
    qsort(items, m, sizeof *items, cmp_share);
    for (size_t k = 0; k < m; k++) {
        am_tensor *t = am_tensors_at(ts, items[k].tensor);
        size_t lo = (size_t)((char *)t->data - (char *)t->storage->ptr), hi = lo + am_tensor_nbytes(t);
        if (k == 0 || items[k].sptr != items[k - 1].sptr || items[k].dt != items[k - 1].dt) {
            group *g = &groups[ngroups++];
            g->base = t->storage->ptr;
            g->lo = lo;
            g->hi = hi;
            g->dt = t->dtype;
        } else {
            group *g = &groups[ngroups - 1];
            if (lo < g->lo) g->lo = lo;
            if (hi > g->hi) g->hi = hi;
        }
        tgroup[items[k].tensor] = ngroups - 1;
    }
    /* keys in order of first use, as torch numbers them */
    size_t next_key = 0;
    for (size_t g = 0; g < ngroups; g++) groups[g].key = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (groups[tgroup[i]].key == SIZE_MAX) groups[tgroup[i]].key = next_key++;

    /* data.pkl */
    am__pkl_proto(&pkl);
    am__pkl_op(&pkl, '}');
    am__pkl_put(&pkl, 0);
    uint32_t memo = 1, memo_rebuild = 0, memo_od = 0, memo_cls[AM_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if (i % 1000 == 0) am__pkl_op(&pkl, '(');
        am_tensor *t = am_tensors_at(ts, i);
        group *g = &groups[tgroup[i]];
        size_t es = am_dtype_size(t->dtype);
        am__pkl_str(&pkl, am_tensors_name(ts, i));
        if (memo_rebuild) am__pkl_get(&pkl, memo_rebuild);
        else am__pkl_global(&pkl, "torch._utils", "_rebuild_tensor_v2"), am__pkl_put(&pkl, memo_rebuild = memo++);
        am__pkl_op(&pkl, '(');
        am__pkl_op(&pkl, '(');
        am__pkl_str(&pkl, "storage");
        if (memo_cls[t->dtype]) am__pkl_get(&pkl, memo_cls[t->dtype]);
        else am__pkl_global(&pkl, "torch", storage_class(t->dtype)), am__pkl_put(&pkl, memo_cls[t->dtype] = memo++);
        char key[32];
        snprintf(key, sizeof key, "%zu", g->key);
        am__pkl_str(&pkl, key);
        am__pkl_str(&pkl, "cpu");
        am__pkl_int(&pkl, (int64_t)((g->hi - g->lo) / es));
        am__pkl_op(&pkl, 't');
        am__pkl_op(&pkl, 'Q');
        size_t off = g->own || am_tensor_numel(t) == 0 ? 0 : ((size_t)((char *)t->data - g->base) - g->lo) / es;
        am__pkl_int(&pkl, (int64_t)off);
        int64_t stride[AM_MAX_DIMS], s = 1;
        for (int d = t->ndim - 1; d >= 0; d--) stride[d] = s, s *= t->shape[d];
        pkl_tuple(&pkl, t->ndim, t->shape);
        pkl_tuple(&pkl, t->ndim, stride);
        am__pkl_op(&pkl, 0x89);
        if (memo_od) am__pkl_get(&pkl, memo_od);
        else am__pkl_global(&pkl, "collections", "OrderedDict"), am__pkl_put(&pkl, memo_od = memo++);
        am__pkl_op(&pkl, ')');
        am__pkl_op(&pkl, 'R');
        am__pkl_op(&pkl, 't');
        am__pkl_op(&pkl, 'R');
        if (i % 1000 == 999 || i == n - 1) am__pkl_op(&pkl, 'u');
    }
    am__pkl_op(&pkl, '.');
    if (pkl.failed) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }

    /* <stem>: the file name without its extension, as PyTorch's writer names the folder */
    const char *bn = strrchr(path, '/');
    bn = bn ? bn + 1 : path;
    const char *dot = strrchr(bn, '.');
    size_t sl = dot && dot != bn ? (size_t)(dot - bn) : strlen(bn);
    if (!(stem = malloc(sl + 64)) || !(tmp = malloc(strlen(path) + 32))) {
        st = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if (sl == 0) strcpy(stem, "archive");
    else memcpy(stem, bn, sl), stem[sl] = 0;
    sprintf(tmp, "%s.tmp.%d", path, (int)getpid());
    if (!(f = fopen(tmp, "wb"))) {
        st = am__error(AM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    if (!(w = am__zip_writer_new(f, path, 64, force_zip64))) {
        st = AM_ERR_NO_MEMORY;
        goto done;
    }
    size_t base_len = strlen(stem);
    char *ename = stem + base_len; /* entry names are built after the stem in the same buffer */
    const void *chunk;
    size_t clen;
#define ADD(suffix, p, len)                                                                        \
    do {                                                                                           \
        snprintf(ename, 64, "%s", suffix);                                                         \
        chunk = (p), clen = (len);                                                                 \
        if ((st = am__zip_writer_add(w, stem, &chunk, &clen, 1)) != AM_OK) goto done;              \
    } while (0)
    ADD("/data.pkl", pkl.data, pkl.len);
    ADD("/byteorder", "little", 6);
    for (size_t j = 0; j < ngroups; j++) items[groups[j].key].tensor = j; /* reuse items[] as key -> group */
    for (size_t k = 0; k < next_key; k++) {
        const group *g = &groups[items[k].tensor];
        char suffix[48];
        snprintf(suffix, sizeof suffix, "/data/%zu", k);
        ADD(suffix, g->base ? g->base + g->lo : "", g->hi - g->lo);
    }
    ADD("/version", "3\n", 2);
#undef ADD
    if ((st = am__zip_writer_finish(w)) != AM_OK) goto done;
    if (fflush(f) != 0) {
        st = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        st = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = am__error(AM_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
done:
    if (f) fclose(f);
    if (tmp) unlink(tmp);
    free(tmp);
    free(stem);
    am__zip_writer_free(w);
    am__buf_free(&pkl);
    for (size_t g = 0; g < ngroups; g++) am_tensor_free(groups[g].own);
    free(groups);
    free(tgroup);
    free(items);
    return st;
}

am_status am__torch_bin_save(const am_tensors *ts, const char *path) { return am__torch_bin_save_ex(ts, path, false); }
