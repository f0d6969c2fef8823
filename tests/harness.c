/* tests/harness.c — main() and helpers shared by every test executable. */
#include "harness.h"
#include <stdlib.h>
#include <sys/wait.h>

int am_test_failures = 0;
int am_test_checks = 0;

const char *am_test_fixture(const char *rel) {
    static char buf[4096];
    const char *root = getenv("AM_FIXTURES");
    if (!root) root = "tests/fixtures";
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return buf;
}

int am_test_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[len] = 0;
    int st = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *am_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    int rc = am_test_main(argc, argv);
    printf("%d checks, %d failed\n", am_test_checks, am_test_failures);
    return (rc != 0 || am_test_failures) ? 1 : 0;
}
