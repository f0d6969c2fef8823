/* tests/pipeline_cases.c — helpers of the pipeline tests over fixtures/pipelines_media (see the header). */
#include "pipeline_cases.h"
#include "harness.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

char *am_test_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

bool am_test_json_same(const cJSON *got, const cJSON *want, const char *key, char *why, size_t nwhy) {
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got)) return snprintf(why, nwhy, "%s: not a number", key ? key : "?"), false;
        double tol = key && !strcmp(key, "score") ? 1e-4 : 0;
        if (fabs(got->valuedouble - want->valuedouble) > tol)
            return snprintf(why, nwhy, "%s: %.17g vs %.17g", key ? key : "?", got->valuedouble, want->valuedouble), false;
        return true;
    }
    if (cJSON_IsString(want)) {
        if (!cJSON_IsString(got) || strcmp(got->valuestring, want->valuestring))
            return snprintf(why, nwhy, "%s: '%s' vs '%s'", key ? key : "?", cJSON_IsString(got) ? got->valuestring : "?", want->valuestring), false;
        return true;
    }
    if (cJSON_IsNull(want)) return cJSON_IsNull(got) ? true : (snprintf(why, nwhy, "%s: not null", key ? key : "?"), false);
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
            return snprintf(why, nwhy, "%s: list of %d vs %d", key ? key : "?", cJSON_IsArray(got) ? cJSON_GetArraySize(got) : -1,
                            cJSON_GetArraySize(want)), false;
        for (int i = 0; i < cJSON_GetArraySize(want); i++)
            if (!am_test_json_same(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), key, why, nwhy)) return false;
        return true;
    }
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) return snprintf(why, nwhy, "object keys differ"), false;
        const cJSON *w;
        int i = 0;
        cJSON_ArrayForEach(w, want) {
            const cJSON *g = cJSON_GetArrayItem(got, i++);
            if (!g || strcmp(g->string, w->string)) return snprintf(why, nwhy, "key '%s' vs '%s'", g ? g->string : "?", w->string), false;
            if (!am_test_json_same(g, w, w->string, why, nwhy)) return false;
        }
        return true;
    }
    if (cJSON_IsBool(want)) return cJSON_IsBool(got) && cJSON_IsTrue(got) == cJSON_IsTrue(want);
    return false;
}

cJSON *am_test_load_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s/case.json", name);
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(c != NULL, "%s", rel);
    return c;
}

size_t am_test_run_inputs(const cJSON *run, char **paths, size_t max) {
    const cJSON *in = cJSON_GetObjectItem(run, "inputs");
    size_t n = 0;
    if (cJSON_IsString(in) && max) paths[n++] = am_test_strdup(am_test_fixture(in->valuestring));
    const cJSON *it;
    if (cJSON_IsArray(in))
        cJSON_ArrayForEach(it, in) if (n < max) paths[n++] = am_test_strdup(am_test_fixture(it->valuestring));
    return n;
}

int am_test_cli_pipeline(const char *cli, const char *name, const char *task, const cJSON *run, char **out) {
    char *paths[8];
    size_t n = am_test_run_inputs(run, paths, 8);
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    char cmd[8192];
    int at = snprintf(cmd, sizeof cmd, "'%s' pipeline %s '%s' --json", cli, task, am_test_fixture(rel));
    for (size_t i = 0; i < n; i++) at += snprintf(cmd + at, sizeof cmd - at, " '%s'", paths[i]);
    const cJSON *kw;
    cJSON_ArrayForEach(kw, cJSON_GetObjectItem(run, "call_kwargs")) {
        char flag[64];
        size_t i = 0;
        for (; kw->string[i] && i + 1 < sizeof flag; i++) flag[i] = kw->string[i] == '_' ? '-' : kw->string[i];
        flag[i] = 0;
        char *v = cJSON_IsString(kw) ? am_test_strdup(kw->valuestring) : cJSON_PrintUnformatted(kw);
        at += snprintf(cmd + at, sizeof cmd - at, " --%s '%s'", flag, v);
        free(v);
    }
    snprintf(cmd + at, sizeof cmd - at, " 2>/dev/null");
    for (size_t i = 0; i < n; i++) free(paths[i]);
    *out = NULL;
    return am_test_run(cmd, out);
}
