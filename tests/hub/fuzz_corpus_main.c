/* tests/hub/fuzz_corpus_main.c — runs a fuzz target over every file of its seed corpus, so the
 * normal build (no clang, no libFuzzer) keeps the corpus as a regression test. */
#include "harness.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int am_test_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 1;
    }
    DIR *d = opendir(argv[1]);
    CHECKF(d != NULL, "cannot open %s", argv[1]);
    if (!d) return 1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[1], e->d_name);
        size_t len = 0;
        char *buf = am_test_read_file(p, &len);
        if (!buf) continue;
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    CHECKF(n > 0, "empty corpus %s", argv[1]);
    return 0;
}
