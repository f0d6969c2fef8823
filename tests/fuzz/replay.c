/* tests/fuzz/replay.c — runs a libFuzzer target over every file of its corpus (and a few cheap
 * mutations of each: truncations and byte flips), so the normal and sanitizer builds exercise the
 * fuzz targets as regression tests without clang's libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fclose(f);
        free(buf);
        return 0;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    /* truncations */
    for (long cut = 0; cut < n; cut += n / 16 + 1) {
        uint8_t *t = malloc((size_t)cut + 1);
        memcpy(t, buf, (size_t)cut);
        LLVMFuzzerTestOneInput(t, (size_t)cut);
        free(t);
    }
    /* deterministic byte flips */
    uint32_t s = 2463534242u;
    for (int k = 0; k < 64 && n > 0; k++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        long at = (long)(s % (uint32_t)n);
        uint8_t old = buf[at];
        buf[at] = (uint8_t)(s >> 8);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        buf[at] = old;
    }
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue;
        if (!S_ISDIR(st.st_mode)) {
            files += run_file(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            files += run_file(p);
        }
        if (d) closedir(d);
    }
    printf("replayed %d corpus files\n", files);
    return files > 0 ? 0 : 1;
}
