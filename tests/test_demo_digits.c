/* tests/test_demo_digits.c — the digits-vit demo model (models/digits-vit) reproduces its reference
 * accuracy through `automodel pipeline image-classification`: every one of the 359 held-out images
 * of test/test.tsv, one per line with --input-file (JSON lines out, default top_k 5), compared with
 * reference.json (transformers 4.32's pipeline on the same files): the predicted label of every
 * file, its score within 1e-4, the five named top-5 lists, and 347 / 359 correct (96.66 %). */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int am_test_main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/digits-vit", *cli = getenv("AM_CLI");
    if (!cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/reference.json", dir);
    char *text = am_test_read_file(path, NULL);
    cJSON *ref = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(ref != NULL, "%s", path);
    if (!ref) return 1;
    const cJSON *files = cJSON_GetObjectItem(ref, "files");
    int n = cJSON_GetArraySize(files);
    CHECK(n == 359);
    /* the inputs: test/<file> for every reference entry, in order */
    char list[600];
    snprintf(list, sizeof list, "%s/digits_vit_inputs.txt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    FILE *f = fopen(list, "w");
    CHECK(f != NULL);
    if (!f) return 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, files) fprintf(f, "%s/test/%s\n", dir, cJSON_GetObjectItem(e, "file")->valuestring);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' pipeline image-classification '%s' --input-file '%s'", cli, dir, list);
    char *out = NULL;
    int rc = am_test_run(cmd, &out);
    remove(list);
    CHECKF(rc == 0 && out, "rc %d", rc);
    int correct = 0, agree = 0, lines = 0;
    double worst = 0;
    char *line = out;
    for (int i = 0; i < n && line && *line; i++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *got = cJSON_Parse(line);
        const cJSON *want = cJSON_GetArrayItem(files, i);
        const char *file = cJSON_GetObjectItem(want, "file")->valuestring;
        lines++;
        CHECKF(cJSON_IsArray(got) && cJSON_GetArraySize(got) == 5, "%s: %s", file, line);
        const cJSON *top = cJSON_GetArrayItem(got, 0);
        const cJSON *lab = cJSON_GetObjectItem(top, "label"), *sc = cJSON_GetObjectItem(top, "score");
        if (cJSON_IsString(lab) && cJSON_IsNumber(sc)) {
            bool same = !strcmp(lab->valuestring, cJSON_GetObjectItem(want, "predicted")->valuestring);
            agree += same;
            correct += !strcmp(lab->valuestring, cJSON_GetObjectItem(want, "label")->valuestring);
            double d = fabs(sc->valuedouble - cJSON_GetObjectItem(want, "score")->valuedouble);
            if (d > worst) worst = d;
            CHECKF(same && d <= 1e-4, "%s: %s %.6f vs %s %.6f", file, lab->valuestring, sc->valuedouble,
                   cJSON_GetObjectItem(want, "predicted")->valuestring, cJSON_GetObjectItem(want, "score")->valuedouble);
        }
        /* the named top-5 lists: labels in order, scores within 1e-4 */
        const cJSON *nt;
        cJSON_ArrayForEach(nt, cJSON_GetObjectItem(ref, "named_top5")) {
            if (strcmp(cJSON_GetObjectItem(nt, "file")->valuestring, file)) continue;
            const cJSON *w5 = cJSON_GetObjectItem(nt, "top5");
            for (int k = 0; k < 5; k++) {
                const cJSON *g = cJSON_GetArrayItem(got, k), *w = cJSON_GetArrayItem(w5, k);
                CHECKF(g && w && !strcmp(cJSON_GetObjectItem(g, "label")->valuestring, cJSON_GetObjectItem(w, "label")->valuestring) &&
                           fabs(cJSON_GetObjectItem(g, "score")->valuedouble - cJSON_GetObjectItem(w, "score")->valuedouble) <= 1e-4,
                       "%s: top-5 entry %d", file, k);
            }
        }
        cJSON_Delete(got);
        line = nl ? nl + 1 : NULL;
    }
    CHECK(lines == n);
    CHECK(agree == n);
    CHECKF(correct == cJSON_GetObjectItem(ref, "correct")->valueint, "%d correct", correct);
    printf("digits-vit: %d / %d correct (%.2f %%; reference %d / %d), predictions equal to transformers' on %d / %d, "
           "max |score - transformers| = %.2g\n",
           correct, n, 100.0 * correct / (n ? n : 1), cJSON_GetObjectItem(ref, "correct")->valueint, cJSON_GetObjectItem(ref, "total")->valueint,
           agree, n, worst);
    free(out);
    cJSON_Delete(ref);
    return 0;
}
