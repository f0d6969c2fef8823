/* formats/zip.h — a zip archive reader over an in-memory (usually mapped) buffer, and a streaming
 * writer, both limited to what torch.save archives use: stored and deflated entries, ZIP64.
 * The reader trusts nothing in the file: every offset and size is checked against the buffer. */
#ifndef AM_FORMATS_ZIP_H
#define AM_FORMATS_ZIP_H
#include "automodel.h"
#include <stdio.h>

typedef struct am__zip_entry {
    char *name;           /* NUL-terminated, validated (no NUL, no leading '/', no '..' component) */
    uint64_t data_offset; /* of the entry's (compressed) bytes in the buffer */
    uint64_t comp_size;
    uint64_t size;        /* uncompressed */
    uint32_t crc32;
    uint16_t method;      /* 0 stored, 8 deflate */
} am__zip_entry;

typedef struct am__zip {
    const uint8_t *buf; /* borrowed */
    size_t len;
    char *origin;       /* file name used in error messages */
    am__zip_entry *entries;
    size_t n_entries;
} am__zip;

/* Parses the central directory of `buf` (borrowed; must outlive the archive). `origin` names the
 * file in error messages. Errors: AM_ERR_FORMAT naming the file and what is wrong. */
am_status am__zip_open(const void *buf, size_t len, const char *origin, am__zip **out);
void am__zip_free(am__zip *z);
/* Exact-name lookup; NULL when absent. */
const am__zip_entry *am__zip_find(const am__zip *z, const char *name);
/* The entry's bytes. Stored entries point into the buffer (*owned = NULL, CRC not checked, so
 * mapped pages are only touched when used); deflated entries are inflated into a malloc'd buffer
 * returned in *owned (CRC checked). `verify_crc` forces the CRC check for stored entries too. */
am_status am__zip_read(const am__zip *z, const am__zip_entry *e, bool verify_crc, const uint8_t **data,
                       void **owned);

/* Streaming writer: entries are stored (uncompressed), each one's data aligned to `align` bytes
 * with an "FB" padding extra field as PyTorch's writer does. ZIP64 records are added when an
 * offset or size needs them (or always, with force_zip64, for tests). */
typedef struct am__zip_writer am__zip_writer;
am__zip_writer *am__zip_writer_new(FILE *f, const char *origin, size_t align, bool force_zip64);
/* Adds one entry made of `n` chunks (so a storage can be written without first being copied). */
am_status am__zip_writer_add(am__zip_writer *w, const char *name, const void *const *chunks,
                             const size_t *chunk_lens, size_t n);
/* Writes the central directory; the FILE stays open (the caller closes it). */
am_status am__zip_writer_finish(am__zip_writer *w);
void am__zip_writer_free(am__zip_writer *w);
#endif
