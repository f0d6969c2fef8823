/* formats/shard_index.h — sharded checkpoints as transformers writes them: reading
 * model.safetensors.index.json / pytorch_model.bin.index.json (checked: types, and shard names that
 * stay inside the index's folder), and the writer side of save_pretrained(max_shard_size=...):
 * size parsing, the shard-filling rule, shard file names and the index text. */
#ifndef AM_FORMATS_SHARD_INDEX_H
#define AM_FORMATS_SHARD_INDEX_H
#include "automodel.h"

typedef struct am__shard_index {
    int64_t total_size;  /* metadata.total_size; -1 when absent */
    size_t n;            /* weight_map entries, in file order */
    char **names;        /* tensor names */
    const char **files;  /* files[i]: the shard holding names[i] (points into shards[]) */
    size_t n_shards;
    char **shards;       /* distinct shard file names, sorted (the order transformers loads them in) */
    char *dir;           /* folder of the index file ("" when parsed from text) */
    size_t *sorted;      /* entry indices in name order, for lookups */
} am__shard_index;

/* Parses index JSON. `origin` names the file in errors. Every shard name must be a plain file
 * name (no '/', '\\', "..", absolute path, empty). Errors: AM_ERR_FORMAT. */
am_status am__shard_index_parse(const char *json, size_t len, const char *origin, am__shard_index **out);
/* Reads and parses `index_path`, then checks that every shard exists next to it
 * (AM_ERR_NOT_FOUND naming the missing shard and the index). */
am_status am__shard_index_load(const char *index_path, am__shard_index **out);
void am__shard_index_free(am__shard_index *idx);
/* The shard file of a tensor name (borrowed), NULL when the index does not list it. */
const char *am__shard_index_file_of(const am__shard_index *idx, const char *name);
/* Checks a loaded shard against the index: every tensor the index assigns to shards[shard] is among
 * `names`, and every one of `names` is assigned to shards[shard]. AM_ERR_FORMAT naming the shard
 * file, the index and the first offending tensor. */
am_status am__shard_index_check_shard(const am__shard_index *idx, size_t shard, const char *const *names, size_t n,
                                      const char *index_origin);
/* Full path of shard `i` (malloc'd): dir + "/" + shards[i]. */
char *am__shard_index_path(const am__shard_index *idx, size_t i);

/* transformers' convert_file_size_to_int: "5GB" = 5e9, "5GiB" = 5*2^30, KB/KiB, MB/MiB alike
 * (case-insensitive); a lowercase final 'b' on KB/MB/GB means bits ("20Kb" = 2500 bytes); a plain
 * integer is bytes. */
am_status am__parse_shard_size(const char *s, uint64_t *out);

typedef struct am__shard_plan {
    size_t n_shards;
    size_t *shard_of;    /* per tensor, 0-based */
    uint64_t total_size; /* sum of tensor bytes, each shared storage counted once */
} am__shard_plan;
/* transformers' shard_checkpoint: walk tensors in state-dict order; a tensor whose storage id
 * was already placed joins that shard; otherwise start a new shard when adding it would push the
 * current one past max_bytes and the current one is not empty. `storage_ids` may be NULL (all
 * distinct). */
am_status am__plan_shards(size_t n, const uint64_t *sizes, const void *const *storage_ids, uint64_t max_bytes,
                          am__shard_plan *out);
void am__shard_plan_free(am__shard_plan *p);
/* "pytorch_model.bin", 1, 5 -> "pytorch_model-00002-of-00005.bin"; likewise ".safetensors"
 * (malloc'd). */
char *am__shard_file_name(const char *weights_name, size_t idx, size_t n_shards);
/* The index text exactly as transformers writes it: json.dumps(index, indent=2, sort_keys=True)
 * + "\n" with {"metadata": {"total_size": N}, "weight_map": {name: file}} (malloc'd). */
char *am__shard_index_json(uint64_t total_size, size_t n, const char *const *names, const char *const *files);
#endif
