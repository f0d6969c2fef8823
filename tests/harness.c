/* tests/harness.c — main() and helpers shared by every test executable. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
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

long am_test_cli_peak_rss_kb(char *const argv[]) {
    const char *cli = getenv("AM_CLI");
    if (!cli) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execv(cli, argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return ru.ru_maxrss;
}

static bool write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    return (f ? fclose(f) == 0 : false) && ok;
}

bool am_test_cli_random_model(char *dir, const char *config_json) {
    if (!mkdtemp(dir)) return false;
    char cfg[512], model[512], in[512];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(in, sizeof in, "%s/in.safetensors", dir);
    char hdr[] = "{\"input_ids\":{\"dtype\":\"I64\",\"shape\":[1,16],\"data_offsets\":[0,128]}}";
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    unsigned char buf[512] = {0};
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    for (int i = 0; i < 16; i++) {
        int64_t id = (i * 37) % 97;
        memcpy(buf + 8 + padded + 8 * i, &id, 8);
    }
    char *init[] = {"automodel", "init", cfg, model, "--seed", "1", NULL};
    return write_bytes(cfg, config_json, strlen(config_json)) && write_bytes(in, buf, 8 + padded + 128) && am_test_cli_peak_rss_kb(init) > 0;
}

int am_test_cli(const char *cli, char **out, const char *fmt, ...) {
    char args[16384], cmd[20000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", cli, args);
    char *o = NULL;
    int rc = am_test_run(cmd, &o);
    if (out) *out = o;
    else free(o);
    return rc;
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

int am_test_close(const char *what, const am_tensor *got, const am_tensor *want, double atol, double rtol) {
    if (!got || !want || am_tensor_numel(got) != am_tensor_numel(want) || am_tensor_ndim(got) != am_tensor_ndim(want)) {
        fprintf(stderr, "%s: missing or wrong shape\n", what);
        return 0;
    }
    for (int d = 0; d < am_tensor_ndim(want); d++)
        if (am_tensor_dim(got, d) != am_tensor_dim(want, d)) {
            fprintf(stderr, "%s: dim %d is %lld, want %lld\n", what, d, (long long)am_tensor_dim(got, d), (long long)am_tensor_dim(want, d));
            return 0;
        }
    const float *g = am_tensor_cdata(got), *w = am_tensor_cdata(want);
    int64_t bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < am_tensor_numel(want); i++) {
        double d = fabs((double)g[i] - w[i]);
        if (d > worst) worst = d;
        if (!(d <= atol + rtol * fabs((double)w[i])) && !bad++) fprintf(stderr, "%s[%lld] = %.8g, want %.8g\n", what, (long long)i, g[i], w[i]);
    }
    if (bad) fprintf(stderr, "%s: %lld elements out of tolerance (max diff %.3g)\n", what, (long long)bad, worst);
    return bad == 0;
}


void am_test_cli_model_level(const char *dir, const char *task, const am_tensors *in, const cJSON *ml, const am_tensors *exp) {
    const char *cli = getenv("AM_CLI");
    if (!cli) return;
    char tmpl[] = "/tmp/am_test_climl_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL);
    if (!tmp) return;
    char inp[4400], outp[4400], cmd[13500];
    snprintf(inp, sizeof inp, "%s/in.safetensors", tmp);
    snprintf(outp, sizeof outp, "%s/out.safetensors", tmp);
    CHECK_OK(am_tensors_save_safetensors(in, inp));
    snprintf(cmd, sizeof cmd, "%s forward %s --task %s --inputs %s --output %s --output-hidden-states", cli, dir, task, inp, outp);
    int rc = am_test_run(cmd, NULL);
    CHECKF(rc == 0, "CLI forward exit %d: %s", rc, cmd);
    am_tensors *out = rc == 0 ? am_tensors_load_safetensors(outp) : NULL;
    int checked = 0;
    for (const cJSON *o = cJSON_GetObjectItem(ml, "outputs")->child; out && o; o = o->next) {
        if (strncmp(o->string, "model.out.", 10)) continue;
        const char *name = o->string + 10;
        am_tensor *last = NULL;
        const am_tensor *got = am_tensors_get(out, name);
        if (!strcmp(name, "logits_last_position") && (got = am_tensors_get(out, "logits")) != NULL) {
            int64_t B = am_tensor_dim(got, 0), T = am_tensor_dim(got, 1), V = am_tensor_dim(got, 2);
            last = am_tensor_new(AM_F32, 3, (int64_t[]){B, 1, V});
            for (int64_t b = 0; b < B; b++)
                memcpy((float *)am_tensor_data(last) + b * V, (const float *)am_tensor_cdata(got) + (b * T + T - 1) * V, (size_t)V * sizeof(float));
            got = last;
        }
        char what[300];
        snprintf(what, sizeof what, "CLI %s", o->string);
        CHECKF(am_test_close(what, got, am_tensors_get(exp, o->string), cJSON_GetObjectItem(o, "atol")->valuedouble,
                             cJSON_GetObjectItem(o, "rtol")->valuedouble),
               "%s", what);
        am_tensor_free(last);
        checked++;
    }
    CHECKF(checked > 0, "CLI forward: model_level outputs checked (%d)", checked);
    am_tensors_free(out);
    snprintf(cmd, sizeof cmd, "%s info %s --task %s --json", cli, dir, task);
    char *js = NULL;
    rc = am_test_run(cmd, &js);
    CHECKF(rc == 0, "CLI info exit %d", rc);
    cJSON *j = js ? cJSON_Parse(js) : NULL;
    const cJSON *st = cJSON_GetObjectItem(ml, "stats");
    CHECKF(j && cJSON_GetObjectItem(j, "num_parameters")->valuedouble == cJSON_GetObjectItem(st, "num_parameters")->valuedouble, "CLI info num_parameters");
    CHECKF(j && cJSON_GetObjectItem(j, "memory_footprint")->valuedouble == cJSON_GetObjectItem(st, "memory_footprint")->valuedouble, "CLI info memory_footprint");
    CHECKF(j && !strcmp(cJSON_GetObjectItem(j, "class")->valuestring, cJSON_GetObjectItem(ml, "loaded_class")->valuestring), "CLI info class");
    CHECKF(j && !strcmp(cJSON_GetObjectItem(j, "dtype")->valuestring, cJSON_GetObjectItem(st, "dtype")->valuestring), "CLI info dtype");
    cJSON_Delete(j);
    free(js);
    snprintf(cmd, sizeof cmd, "%s info %s --task %s --repr", cli, dir, task);
    char *repr = NULL, p[4400];
    CHECK(am_test_run(cmd, &repr) == 0);
    snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(ml, "repr_file")->valuestring);
    char *want = am_test_read_file(p, NULL);
    size_t rl = repr ? strlen(repr) : 0, wl = want ? strlen(want) : 0;
    /* the CLI prints the repr and a newline; the file may or may not end with one */
    while (rl && repr[rl - 1] == '\n') rl--;
    while (wl && want[wl - 1] == '\n') wl--;
    CHECKF(repr && want && rl == wl && !strncmp(repr, want, rl), "CLI info --repr:\n%s", repr ? repr : "");
    free(repr);
    free(want);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
}
