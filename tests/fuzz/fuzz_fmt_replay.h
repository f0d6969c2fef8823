/* tests/fuzz/fuzz_fmt_replay.h — without libFuzzer (normal builds), a formats fuzz target becomes a
 * ctest regression test that feeds it every file of its corpus folder (argv[1]). */
#ifndef AM_FUZZ_FMT_REPLAY_H
#define AM_FUZZ_FMT_REPLAY_H
#ifndef AM_FUZZ_LIBFUZZER
#include "harness.h"
#include <dirent.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int am_test_main(int argc, char **argv) {
    CHECKF(argc > 1, "usage: %s CORPUS_DIR", argv[0]);
    if (argc < 2) return 1;
    DIR *d = opendir(argv[1]);
    CHECKF(d != NULL, "cannot open %s", argv[1]);
    if (!d) return 1;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        size_t len = 0;
        char *buf = am_test_read_file(path, &len);
        if (!buf) continue;
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    CHECKF(n > 0, "empty corpus %s", argv[1]);
    printf("replayed %zu inputs\n", n);
    return 0;
}
#endif
#endif
