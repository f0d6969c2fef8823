/* core/tensor.h — the tensor: dtype, shape, strides and a reference-counted storage that is either
 * owned (aligned heap memory) or a view into a memory-mapped file. */
#ifndef AM_CORE_TENSOR_H
#define AM_CORE_TENSOR_H
#include "automodel.h"

/* A read-only memory mapping of a whole file, shared by every tensor that views it. */
typedef struct am__mapping {
    int refcount;
    void *addr;
    size_t len;
    char *path;
} am__mapping;

/* Maps `path` read-only (an empty file gives len 0, addr NULL). NULL + error on failure. */
am__mapping *am__mapping_open(const char *path);
am__mapping *am__mapping_retain(am__mapping *m);
void am__mapping_release(am__mapping *m);

typedef struct am__storage {
    int refcount;
    void *ptr;
    size_t nbytes;
    am__mapping *map; /* non-NULL: ptr lies inside map (not owned) */
} am__storage;

struct am_tensor {
    int refcount;
    am_dtype dtype;
    int ndim;
    int64_t shape[AM_MAX_DIMS];
    int64_t strides[AM_MAX_DIMS]; /* in elements */
    void *data;
    am__storage *storage;
    void *packed;      /* kernel-private packed copy (e.g. oneDNN weights), freed with the tensor */
    void (*packed_free)(void *);
    /* device_map "disk": a view of a mapped file kept out of the resident set (dropped after use);
     * kernels make no permanent cache of it (auto/device_map.c, kernels/linear.c) */
    bool offloaded;
};

/* Storages shared by several tensors (tied weights, views into one torch storage). Both start
 * with one reference, which the caller drops with am__storage_release once its tensors hold theirs. */
am__storage *am__storage_new(size_t nbytes); /* owned, 64-byte aligned, uninitialised */
am__storage *am__storage_from_mapping(am__mapping *map, const void *ptr, size_t nbytes); /* retains map */
void am__storage_release(am__storage *st);
/* A contiguous tensor viewing st->ptr + byte_offset (retains st). Error if the view does not fit. */
am_tensor *am__tensor_view_storage(am__storage *st, size_t byte_offset, am_dtype dt, int ndim, const int64_t *shape);

/* Uninitialised contiguous tensor (64-byte aligned). */
am_tensor *am__tensor_empty(am_dtype dt, int ndim, const int64_t *shape);
/* An arena: tensors carved in order from one storage, each view retaining it (the memory goes
 * with the last view). The loader puts a model's quantized weights in one, so that they sit in
 * 2 MiB pages (am__aligned_alloc) instead of one 4 KiB-page block per weight: the decode GEMVs
 * stream them ~15% faster (bench/llamacpp_results.md). */
typedef struct am__arena {
    am__storage *st;
    size_t off;
} am__arena;
/* What a tensor of nbytes takes in an arena (64-byte aligned). */
size_t am__arena_bytes(size_t nbytes);
/* An arena of nbytes (am__storage_new); false when it cannot be had (0 bytes, or out of memory:
 * that error stays set), and am__arena_tensor then allocates per tensor. */
bool am__arena_init(am__arena *a, size_t nbytes);
/* Uninitialised contiguous tensor from the arena when a is non-NULL and has room, else from
 * am__tensor_empty. */
am_tensor *am__arena_tensor(am__arena *a, am_dtype dt, int ndim, const int64_t *shape);
/* Drops the arena's own reference (its tensors keep the memory). */
void am__arena_release(am__arena *a);
/* A contiguous tensor viewing `nbytes` at `ptr` inside `map` (retains the mapping). */
am_tensor *am__tensor_view_mapping(am__mapping *map, const void *ptr, am_dtype dt, int ndim, const int64_t *shape);
/* A new tensor sharing t's storage with another shape (contiguous, same numel). */
am_tensor *am__tensor_reshape(am_tensor *t, int ndim, const int64_t *shape);
/* Deep copy converted to `dt` (floating <-> floating, int <-> int, bool). */
am_tensor *am__tensor_convert(const am_tensor *t, am_dtype dt);
bool am__tensor_is_contiguous(const am_tensor *t);
bool am__dtype_is_float(am_dtype dt);
int64_t am__shape_numel(int ndim, const int64_t *shape);
/* "[2, 32]" into buf. */
const char *am__shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
bool am__tensor_is_mapped(const am_tensor *t);
/* For a view into a mapped file: drop its whole pages from this process's resident set (the data
 * stays in the page cache and in the file; touching it again faults it back in). Used after a
 * tensor was converted, so loading holds one copy, not two. */
void am__tensor_drop_pages(const am_tensor *t);
/* madvise(MADV_WILLNEED) on a mapped view: read ahead before its layer runs */
void am__tensor_prefetch(const am_tensor *t);

/* Element conversions. */
float am__f16_to_f32(uint16_t h);
uint16_t am__f32_to_f16(float f);
float am__bf16_to_f32(uint16_t h);
uint16_t am__f32_to_bf16(float f); /* round to nearest even, as torch does */

void *am__aligned_alloc(size_t n);
/* float32/bfloat16/float16 -> float32, vectorised (F16C when the CPU has it), on the thread pool. */
void am__to_f32(const void *src, am_dtype dt, int64_t n, float *dst);
/* CPUID: F16C + AVX usable (clang 14's __builtin_cpu_supports does not know "f16c"). */
bool am__cpu_has_f16c(void);
#endif
