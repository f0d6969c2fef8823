/* formats/safetensors.h — the safetensors format: header parsing with full validation, tensors as
 * zero-copy views into the mapped file, and the writer transformers' save_file matches. */
#ifndef AM_FORMATS_SAFETENSORS_H
#define AM_FORMATS_SAFETENSORS_H
#include "core/tensor.h"

typedef struct am__st_entry {
    char *name;
    am_dtype dtype;
    int ndim;
    int64_t shape[AM_MAX_DIMS];
    uint64_t begin, end; /* relative to the data section */
} am__st_entry;

typedef struct am__st_file {
    char *path;
    am__mapping *map;    /* NULL when parsed from memory */
    const uint8_t *data; /* start of the data section */
    uint64_t data_len;
    size_t n;
    am__st_entry *entries; /* in header order */
    char *format;          /* __metadata__.format, NULL when absent */
} am__st_file;

/* Parse a whole file image (header + data) held in memory; `path` names it in errors.
 * Checks: header length inside the file, JSON object, known dtypes, shapes, shape x dtype size ==
 * byte range, ranges inside the data section and not overlapping, __metadata__ values strings. */
am_status am__st_parse(const uint8_t *buf, size_t len, const char *path, am__st_file *out);
/* mmap + parse. */
am__st_file *am__st_open(const char *path);
void am__st_close(am__st_file *f);
/* transformers refuses files whose metadata format is missing or not pt/tf/flax. */
am_status am__st_check_format(const am__st_file *f);
const am__st_entry *am__st_find(const am__st_file *f, const char *name);
/* Zero-copy view of entry i (retains the mapping); a copy when parsed from memory. */
am_tensor *am__st_tensor(const am__st_file *f, size_t i);
/* Write tensors sorted by name with data in that order, __metadata__ {"format":"pt"}, header
 * space-padded to 8 bytes; atomic (temp file + rename). Tensors must be contiguous. */
am_status am__st_write(const char *path, size_t n, const char *const *names, am_tensor *const *tensors);
#endif
