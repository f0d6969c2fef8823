/* core/tensor.c — tensors, storages, file mappings and dtype conversions. */
#include "core/tensor.h"
#include "core/error.h"
#include "core/threadpool.h"
#include "core/util.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name, *st;
    size_t size;
} k_dtypes[AM_DTYPE_COUNT] = {
    [AM_F32] = {"float32", "F32", 4}, [AM_F16] = {"float16", "F16", 2}, [AM_BF16] = {"bfloat16", "BF16", 2},
    [AM_F64] = {"float64", "F64", 8}, [AM_I64] = {"int64", "I64", 8},   [AM_I32] = {"int32", "I32", 4},
    [AM_I16] = {"int16", "I16", 2},   [AM_I8] = {"int8", "I8", 1},       [AM_U8] = {"uint8", "U8", 1},
    [AM_BOOL] = {"bool", "BOOL", 1},
};

const char *am_dtype_name(am_dtype dt) {
    if (dt == AM_DTYPE_AUTO) return "auto";
    if (dt == AM_DTYPE_DEFAULT) return "None"; /* torch_dtype not given */
    return (unsigned)dt < AM_DTYPE_COUNT ? k_dtypes[dt].name : "unknown";
}
const char *am_dtype_st_name(am_dtype dt) { return (unsigned)dt < AM_DTYPE_COUNT ? k_dtypes[dt].st : "?"; }
size_t am_dtype_size(am_dtype dt) { return (unsigned)dt < AM_DTYPE_COUNT ? k_dtypes[dt].size : 0; }

am_status am_dtype_parse(const char *s, am_dtype *out) {
    static const struct {
        const char *n;
        am_dtype d;
    } alias[] = {{"auto", AM_DTYPE_AUTO}, {"float32", AM_F32}, {"fp32", AM_F32},   {"f32", AM_F32},
                 {"float", AM_F32},       {"float16", AM_F16}, {"fp16", AM_F16},   {"f16", AM_F16},
                 {"half", AM_F16},        {"bfloat16", AM_BF16}, {"bf16", AM_BF16}, {"float64", AM_F64},
                 {"double", AM_F64},      {"int64", AM_I64},   {"int32", AM_I32},  {"int16", AM_I16},
                 {"int8", AM_I8},         {"uint8", AM_U8},    {"bool", AM_BOOL}};
    if (!s) return am__error(AM_ERR_INVALID_ARGUMENT, "dtype: NULL name");
    const char *p = strncmp(s, "torch.", 6) == 0 ? s + 6 : s;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcasecmp(p, alias[i].n)) {
            *out = alias[i].d;
            return AM_OK;
        }
    return am__error(AM_ERR_INVALID_ARGUMENT, "unknown dtype '%s' (expected auto, float32, float16 or bfloat16)", s);
}

bool am__dtype_is_float(am_dtype dt) { return dt == AM_F32 || dt == AM_F16 || dt == AM_BF16 || dt == AM_F64; }

int64_t am__shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

const char *am__shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

void *am__aligned_alloc(size_t n) {
    void *p = NULL;
    /* Large buffers (converted weights, activations) on 2 MiB boundaries with transparent huge
     * pages: filling a freshly converted multi-GB model otherwise spends most of its time in 4 KiB
     * page faults. */
    size_t huge = (size_t)2 << 20;
    if (n >= 4 * huge) {
        if (posix_memalign(&p, huge, (n + huge - 1) & ~(huge - 1)) != 0) return NULL;
        madvise(p, (n + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
        return p;
    }
    if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
    return p;
}

/* ---- mappings ---- */

am__mapping *am__mapping_open(const char *path) {
    size_t len = 0;
    int fd = am__open_regular(path, &len);
    if (fd < 0) return NULL;
    am__mapping *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory", path);
        return NULL;
    }
    m->refcount = 1;
    m->len = len;
    m->path = strdup(path);
    if (m->len) {
        m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->addr == MAP_FAILED) {
            am__error(AM_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
            close(fd);
            free(m->path);
            free(m);
            return NULL;
        }
    }
    close(fd);
    return m;
}

am__mapping *am__mapping_retain(am__mapping *m) {
    if (m) __atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED);
    return m;
}

void am__mapping_release(am__mapping *m) {
    if (!m || __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (m->addr) munmap(m->addr, m->len);
    free(m->path);
    free(m);
}

/* ---- tensors ---- */

static am_tensor *tensor_alloc_header(am_dtype dt, int ndim, const int64_t *shape) {
    if ((unsigned)dt >= AM_DTYPE_COUNT || ndim < 0 || ndim > AM_MAX_DIMS) {
        am__error(AM_ERR_INVALID_ARGUMENT, "tensor: bad dtype or rank %d", ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            am__error(AM_ERR_INVALID_ARGUMENT, "tensor: negative dimension");
            return NULL;
        }
    am_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        am__error(AM_ERR_NO_MEMORY, "tensor: out of memory");
        return NULL;
    }
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->strides[i] = s;
        s *= shape[i];
    }
    return t;
}

am_tensor *am__tensor_empty(am_dtype dt, int ndim, const int64_t *shape) {
    am_tensor *t = tensor_alloc_header(dt, ndim, shape);
    if (!t) return NULL;
    size_t n = (size_t)am__shape_numel(ndim, shape) * am_dtype_size(dt);
    am__storage *st = calloc(1, sizeof *st);
    void *p = am__aligned_alloc(n);
    if (!st || !p) {
        free(st);
        free(p);
        free(t);
        am__error(AM_ERR_NO_MEMORY, "tensor: cannot allocate %zu bytes", n);
        return NULL;
    }
    st->refcount = 1;
    st->ptr = p;
    st->nbytes = n;
    t->storage = st;
    t->data = p;
    return t;
}

am_tensor *am_tensor_new(am_dtype dt, int ndim, const int64_t *shape) {
    am_tensor *t = am__tensor_empty(dt, ndim, shape);
    if (t) memset(t->data, 0, t->storage->nbytes);
    return t;
}

am_tensor *am_tensor_from_data(am_dtype dt, int ndim, const int64_t *shape, const void *data) {
    am_tensor *t = am__tensor_empty(dt, ndim, shape);
    if (t && data) memcpy(t->data, data, am_tensor_nbytes(t));
    return t;
}

am_tensor *am__tensor_view_mapping(am__mapping *map, const void *ptr, am_dtype dt, int ndim, const int64_t *shape) {
    am_tensor *t = tensor_alloc_header(dt, ndim, shape);
    if (!t) return NULL;
    am__storage *st = calloc(1, sizeof *st);
    if (!st) {
        free(t);
        am__error(AM_ERR_NO_MEMORY, "tensor: out of memory");
        return NULL;
    }
    st->refcount = 1;
    st->ptr = (void *)ptr;
    st->nbytes = (size_t)am__shape_numel(ndim, shape) * am_dtype_size(dt);
    st->map = am__mapping_retain(map);
    t->storage = st;
    t->data = (void *)ptr;
    return t;
}

am__storage *am__storage_new(size_t nbytes) {
    am__storage *st = calloc(1, sizeof *st);
    void *p = am__aligned_alloc(nbytes);
    if (!st || !p) {
        free(st);
        free(p);
        am__error(AM_ERR_NO_MEMORY, "storage: cannot allocate %zu bytes", nbytes);
        return NULL;
    }
    st->refcount = 1;
    st->ptr = p;
    st->nbytes = nbytes;
    return st;
}

size_t am__arena_bytes(size_t nbytes) { return (nbytes + 63) & ~(size_t)63; }

bool am__arena_init(am__arena *a, size_t nbytes) {
    a->off = 0;
    a->st = nbytes ? am__storage_new(nbytes) : NULL;
    return a->st != NULL;
}

am_tensor *am__arena_tensor(am__arena *a, am_dtype dt, int ndim, const int64_t *shape) {
    size_t n = (size_t)am__shape_numel(ndim, shape) * am_dtype_size(dt);
    if (!a || !a->st || a->off > a->st->nbytes || am__arena_bytes(n) > a->st->nbytes - a->off) return am__tensor_empty(dt, ndim, shape);
    am_tensor *t = am__tensor_view_storage(a->st, a->off, dt, ndim, shape);
    if (t) a->off += am__arena_bytes(n);
    return t;
}

void am__arena_release(am__arena *a) {
    am__storage_release(a->st);
    a->st = NULL;
    a->off = 0;
}

am__storage *am__storage_from_mapping(am__mapping *map, const void *ptr, size_t nbytes) {
    am__storage *st = calloc(1, sizeof *st);
    if (!st) {
        am__error(AM_ERR_NO_MEMORY, "storage: out of memory");
        return NULL;
    }
    st->refcount = 1;
    st->ptr = (void *)ptr;
    st->nbytes = nbytes;
    st->map = am__mapping_retain(map);
    return st;
}

void am__storage_release(am__storage *st) {
    if (!st || __atomic_sub_fetch(&st->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (st->map) am__mapping_release(st->map);
    else free(st->ptr);
    free(st);
}

am_tensor *am__tensor_view_storage(am__storage *st, size_t byte_offset, am_dtype dt, int ndim, const int64_t *shape) {
    am_tensor *t = tensor_alloc_header(dt, ndim, shape);
    if (!t) return NULL;
    size_t nbytes = 0;
    bool ovf = __builtin_mul_overflow((size_t)am__shape_numel(ndim, shape), am_dtype_size(dt), &nbytes);
    if (ovf || byte_offset > st->nbytes || nbytes > st->nbytes - byte_offset) {
        free(t);
        am__error(AM_ERR_SHAPE, "tensor view of %zu bytes at offset %zu does not fit its storage of %zu bytes", nbytes,
                  byte_offset, st->nbytes);
        return NULL;
    }
    t->storage = st;
    __atomic_add_fetch(&st->refcount, 1, __ATOMIC_RELAXED);
    t->data = (char *)st->ptr + byte_offset;
    return t;
}

am_tensor *am__tensor_reshape(am_tensor *t, int ndim, const int64_t *shape) {
    if (am__shape_numel(ndim, shape) != am_tensor_numel(t) || !am__tensor_is_contiguous(t)) {
        am__error(AM_ERR_SHAPE, "reshape: element count differs");
        return NULL;
    }
    am_tensor *r = tensor_alloc_header(t->dtype, ndim, shape);
    if (!r) return NULL;
    r->storage = t->storage;
    __atomic_add_fetch(&t->storage->refcount, 1, __ATOMIC_RELAXED);
    r->data = t->data;
    return r;
}

bool am__tensor_is_mapped(const am_tensor *t) { return t && t->storage && t->storage->map; }

void am__tensor_drop_pages(const am_tensor *t) {
    if (!am__tensor_is_mapped(t)) return;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)t->data, e = b + am_tensor_nbytes(t);
    b = (b + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
    e &= ~((uintptr_t)ps - 1);
    if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
}

void am__tensor_prefetch(const am_tensor *t) {
    if (!am__tensor_is_mapped(t)) return;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)t->data & ~((uintptr_t)ps - 1), e = (uintptr_t)t->data + am_tensor_nbytes(t);
    if (e > b) madvise((void *)b, e - b, MADV_WILLNEED);
}

am_tensor *am_tensor_retain(am_tensor *t) {
    if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
    return t;
}

void am_tensor_free(am_tensor *t) {
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (t->packed && t->packed_free) t->packed_free(t->packed);
    am__storage_release(t->storage);
    free(t);
}

am_dtype am_tensor_dtype(const am_tensor *t) { return t->dtype; }
int am_tensor_ndim(const am_tensor *t) { return t->ndim; }
int64_t am_tensor_dim(const am_tensor *t, int i) {
    if (i < 0) i += t->ndim;
    return (i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}
const int64_t *am_tensor_shape(const am_tensor *t) { return t->shape; }
int64_t am_tensor_numel(const am_tensor *t) { return am__shape_numel(t->ndim, t->shape); }
size_t am_tensor_nbytes(const am_tensor *t) { return (size_t)am_tensor_numel(t) * am_dtype_size(t->dtype); }
void *am_tensor_data(am_tensor *t) {
    if (am__tensor_is_mapped(t)) { /* the map is read-only: writing would crash the process */
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tensor_data: the tensor is a read-only view into %s; use am_tensor_cdata, or "
                                           "am_model_parameter_mut for a model weight",
                  t->storage->map->path ? t->storage->map->path : "a mapped file");
        return NULL;
    }
    return t->data;
}
const void *am_tensor_cdata(const am_tensor *t) { return t->data; }

bool am__tensor_is_contiguous(const am_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

/* ---- half precision ---- */

float am__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal */
            float f = ldexpf((float)man, -24);
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t am__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (ax < 0x38800000u) {                                   /* subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        float scaled = a * 16777216.0f; /* 2^24 */
        uint32_t m = (uint32_t)lrintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t mant = ax & 0x7fffff, exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float am__bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t am__f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

typedef struct {
    const void *src;
    am_dtype dt;
    float *dst;
} widen_ctx;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* F16C: eight halves to eight floats per instruction; chosen at run time. */
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) d[i] = am__f16_to_f32(s[i]);
}
#include <cpuid.h>
bool am__cpu_has_f16c(void) {
    static int v = -1; /* any thread may fill it first: all compute the same value */
    int r = __atomic_load_n(&v, __ATOMIC_RELAXED);
    if (r < 0) { /* CPUID.1:ECX bit 29 = F16C, bit 28 = AVX, bit 27 = OSXSAVE (OS saves YMM) */
        unsigned a, b, c, d;
        r = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) && (c & (1u << 28)) && (c & (1u << 27));
        __atomic_store_n(&v, r, __ATOMIC_RELAXED);
    }
    return r;
}
#endif

static void widen_range(void *vctx, int64_t b, int64_t e) {
    widen_ctx *c = vctx;
    if (c->dt == AM_BF16) { /* bf16 is the top half of a float32: a shift, which vectorises */
        const uint16_t *s = c->src;
        uint32_t *d = (uint32_t *)c->dst;
        for (int64_t i = b; i < e; i++) d[i] = (uint32_t)s[i] << 16;
    } else if (c->dt == AM_F16) {
        const uint16_t *s = c->src;
#if defined(__x86_64__) && defined(__GNUC__)
        if (am__cpu_has_f16c()) {
            f16_to_f32_f16c(s + b, c->dst + b, e - b);
            return;
        }
#endif
        for (int64_t i = b; i < e; i++) c->dst[i] = am__f16_to_f32(s[i]);
    } else memcpy(c->dst + b, (const float *)c->src + b, (size_t)(e - b) * sizeof(float));
}

void am__to_f32(const void *src, am_dtype dt, int64_t n, float *dst) {
    /* callers widen only float tensors (they dispatch on dtype first): another dtype is automodel's bug */
    AM_ASSERT(dt == AM_F32 || dt == AM_BF16 || dt == AM_F16);
    widen_ctx c = {src, dt, dst};
    if (n < (1 << 16)) widen_range(&c, 0, n);
    else am__parallel_for(n, widen_range, &c);
}


static double load_as_double(const void *p, am_dtype dt, int64_t i) {
    switch (dt) {
    case AM_F32: return ((const float *)p)[i];
    case AM_F16: return am__f16_to_f32(((const uint16_t *)p)[i]);
    case AM_BF16: return am__bf16_to_f32(((const uint16_t *)p)[i]);
    case AM_F64: return ((const double *)p)[i];
    case AM_I64: return (double)((const int64_t *)p)[i];
    case AM_I32: return ((const int32_t *)p)[i];
    case AM_I16: return ((const int16_t *)p)[i];
    case AM_I8: return ((const int8_t *)p)[i];
    case AM_U8: return ((const uint8_t *)p)[i];
    case AM_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

am_tensor *am__tensor_convert(const am_tensor *t, am_dtype dt) {
    am_tensor *r = am__tensor_empty(dt, t->ndim, t->shape);
    if (!r) return NULL;
    int64_t n = am_tensor_numel(t);
    const void *src = t->data;
    void *dst = r->data;
    if (t->dtype == dt) {
        memcpy(dst, src, am_tensor_nbytes(t));
        return r;
    }
    if (dt == AM_F32 && (t->dtype == AM_BF16 || t->dtype == AM_F16)) {
        am__to_f32(src, t->dtype, n, dst);
        return r;
    }
    if (t->dtype == AM_F32 && dt == AM_BF16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = am__f32_to_bf16(((const float *)src)[i]);
        return r;
    }
    if (t->dtype == AM_F32 && dt == AM_F16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = am__f32_to_f16(((const float *)src)[i]);
        return r;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = load_as_double(src, t->dtype, i);
        switch (dt) {
        case AM_F32: ((float *)dst)[i] = (float)v; break;
        case AM_F16: ((uint16_t *)dst)[i] = am__f32_to_f16((float)v); break;
        case AM_BF16: ((uint16_t *)dst)[i] = am__f32_to_bf16((float)v); break;
        case AM_F64: ((double *)dst)[i] = v; break;
        case AM_I64: ((int64_t *)dst)[i] = (int64_t)v; break;
        case AM_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
        case AM_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
        case AM_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
        case AM_U8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
        case AM_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
        default: break;
        }
    }
    return r;
}

am_tensor *am_tensor_to(const am_tensor *t, am_dtype dt) {
    if (!t) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tensor_to: NULL tensor");
        return NULL;
    }
    if ((int)dt < 0 || dt >= AM_DTYPE_COUNT) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_tensor_to: %d is not a tensor dtype", (int)dt);
        return NULL;
    }
    if (!am__tensor_is_contiguous(t)) {
        am__error(AM_ERR_UNSUPPORTED, "am_tensor_to: the tensor is not contiguous");
        return NULL;
    }
    am_tensor *r = am__tensor_convert(t, dt);
    if (!r) am__error(AM_ERR_NO_MEMORY, "am_tensor_to: out of memory for %lld elements", (long long)am_tensor_numel(t));
    return r;
}
