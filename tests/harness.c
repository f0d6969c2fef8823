/* tests/harness.c — main() and helpers shared by every test executable. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <unistd.h>
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

void am_test_check_saved(const char *tmp, const cJSON *rt) {
    char p[4400];
    for (const cJSON *f = cJSON_GetObjectItem(rt, "files")->child; f; f = f->next) {
        snprintf(p, sizeof p, "%s/%s", tmp, f->valuestring);
        CHECKF(access(p, F_OK) == 0, "saved %s", f->valuestring);
    }
    snprintf(p, sizeof p, "%s/config.json", tmp);
    char *cfg = am_test_read_file(p, NULL);
    cJSON *cfgj = cfg ? cJSON_Parse(cfg) : NULL;
    int nkeys = 0;
    for (const cJSON *k = cfgj ? cfgj->child : NULL; k; k = k->next) nkeys += strcmp(k->string, "_name_or_path") != 0;
    CHECK(cJSON_IsString(cJSON_GetObjectItem(cfgj, "_name_or_path")));
    const cJSON *keys = cJSON_GetObjectItem(rt, "config_json_keys");
    CHECKF(nkeys == cJSON_GetArraySize(keys), "saved config has %d keys", nkeys);
    for (const cJSON *k = keys->child; k; k = k->next) CHECKF(cJSON_GetObjectItem(cfgj, k->valuestring) != NULL, "saved config key %s", k->valuestring);
    cJSON_Delete(cfgj);
    free(cfg);
}
