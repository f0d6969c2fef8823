/* bench/bench_tokenizers.c — tokenizer load time and single-threaded encode throughput.
 * usage: bench_tokenizers CORPUS.txt TOKENIZER_DIR...
 * The corpus is cut into documents of 20 lines; every document is encoded with special tokens
 * (batches of 256, one thread), as bench_tokenizers.js does with the Rust library. Prints one
 * line per tokenizer: name, load ms (best of 3), MB/s, tokens/s, tokens. */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS.txt TOKENIZER_DIR...\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(len + 1);
    if (!text || fread(text, 1, len, f) != len) return 1;
    fclose(f);
    text[len] = 0;
    /* documents of 20 lines (the newline between lines kept, the one ending the group dropped) */
    size_t cap = len / 64 + 16, n = 0;
    char **docs = malloc(cap * sizeof *docs);
    char *p = text;
    while (*p) {
        char *s = p;
        int lines = 0;
        while (*p && lines < 20) {
            char *nl = strchr(p, '\n');
            if (!nl) {
                p += strlen(p);
                break;
            }
            lines++;
            p = nl + 1;
            if (lines == 20) nl[0] = 0;
        }
        if (n == cap) docs = realloc(docs, (cap *= 2) * sizeof *docs);
        docs[n++] = s;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(docs[i]);
    printf("corpus: %s, %.2f MB in %zu documents\n", argv[1], (double)bytes / 1e6, n);
    for (int a = 2; a < argc; a++) {
        double best = 1e9;
        am_tokenizer *tok = NULL;
        for (int r = 0; r < 3; r++) {
            am_tokenizer_free(tok);
            double t0 = now();
            tok = am_tokenizer_from_pretrained(argv[a]);
            double dt = now() - t0;
            if (!tok) {
                fprintf(stderr, "%s\n", am_last_error());
                return 1;
            }
            if (dt < best) best = dt;
        }
        am_encoding *encs[256];
        size_t tokens = 0;
        double t0 = now();
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            if (am_tokenizer_encode_batch(tok, k, (const char *const *)docs + i, NULL, NULL, encs)) {
                fprintf(stderr, "%s\n", am_last_error());
                return 1;
            }
            for (size_t j = 0; j < k; j++) {
                tokens += am_encoding_len(encs[j]);
                am_encoding_free(encs[j]);
            }
        }
        double dt = now() - t0;
        const char *name = strrchr(argv[a], '/');
        name = name && name[1] ? name + 1 : argv[a];
        printf("C      %-24s load %8.1f ms   encode %7.2f MB/s %10.0f tokens/s  (%zu tokens, %.2f s)\n", name, best * 1e3,
               (double)bytes / 1e6 / dt, (double)tokens / dt, tokens, dt);
        fflush(stdout);
        am_tokenizer_free(tok);
    }
    free(docs);
    free(text);
    return 0;
}
