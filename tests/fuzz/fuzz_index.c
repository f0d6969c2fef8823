/* tests/fuzz/fuzz_index.c — shard index parsing (and shard-size strings) on arbitrary bytes. */
#include "core/error.h"
#include "formats/shard_index.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    am__shard_index *idx = NULL;
    if (am__shard_index_parse(s, size, "fuzz.index.json", &idx) == AM_OK) {
        for (size_t i = 0; i < idx->n; i++)
            if (am__shard_index_file_of(idx, idx->names[i]) != idx->files[i]) abort();
        for (size_t i = 0; i < idx->n_shards; i++)
            if (strchr(idx->shards[i], '/') || !strcmp(idx->shards[i], "..")) abort();
    }
    am__shard_index_free(idx);
    uint64_t v;
    if (size < 64) (void)am__parse_shard_size(s, &v);
    free(s);
    return 0;
}
