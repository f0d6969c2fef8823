/* tests/test_demo_spoken_digits_pipeline.c — the spoken-digits-wav2vec2 demo model
 * (models/spoken-digits-wav2vec2) reproduces its held-out accuracy through `automodel pipeline
 * audio-classification`: every one of the 200 test clips (test/test.tsv, espeak-ng voices seen and
 * never seen in training), one per line with --input-file (JSON lines out, default top_k 5),
 * compared with reference.json (transformers 4.32's pipeline on the same files): the predicted label
 * of every clip, its score within 1e-4, the named top-5 lists (labels in order, scores within 1e-4),
 * and 200 / 200 correct. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int am_test_main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/spoken-digits-wav2vec2", *cli = getenv("AM_CLI");
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
    CHECK(n == 200);
    char list[600];
    snprintf(list, sizeof list, "%s/spoken_digits_inputs_%d.txt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(list, "w");
    CHECK(f != NULL);
    if (!f) return 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, files) fprintf(f, "%s/test/%s\n", dir, cJSON_GetObjectItem(e, "file")->valuestring);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' pipeline audio-classification '%s' --input-file '%s'", cli, dir, list);
    char *out = NULL;
    int rc = am_test_run(cmd, &out);
    remove(list);
    CHECKF(rc == 0 && out, "rc %d", rc);
    int correct = 0, agree = 0, lines = 0, named_ok = 0;
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
            CHECKF(same && d <= 1e-4, "%s: got %s %.6f, reference %s %.6f", file, lab->valuestring, sc->valuedouble,
                   cJSON_GetObjectItem(want, "predicted")->valuestring, cJSON_GetObjectItem(want, "score")->valuedouble);
        }
        /* the named top-5 lists: every label in order, every score within 1e-4 */
        const cJSON *nt;
        cJSON_ArrayForEach(nt, cJSON_GetObjectItem(ref, "named_top5")) {
            if (strcmp(cJSON_GetObjectItem(nt, "file")->valuestring, file)) continue;
            const cJSON *w5 = cJSON_GetObjectItem(nt, "top5");
            bool ok = cJSON_GetArraySize(w5) == cJSON_GetArraySize(got);
            for (int k = 0; ok && k < cJSON_GetArraySize(w5); k++) {
                const cJSON *a = cJSON_GetArrayItem(got, k), *b = cJSON_GetArrayItem(w5, k);
                ok = cJSON_IsString(cJSON_GetObjectItem(a, "label")) &&
                     !strcmp(cJSON_GetObjectItem(a, "label")->valuestring, cJSON_GetObjectItem(b, "label")->valuestring) &&
                     fabs(cJSON_GetObjectItem(a, "score")->valuedouble - cJSON_GetObjectItem(b, "score")->valuedouble) <= 1e-4;
            }
            CHECKF(ok, "%s: top-5 differs from reference.json: %s", file, line);
            named_ok += ok;
        }
        cJSON_Delete(got);
        line = nl ? nl + 1 : NULL;
    }
    CHECKF(lines == n, "%d result lines for %d clips", lines, n);
    CHECKF(agree == n, "%d / %d predictions agree with transformers", agree, n);
    int want_correct = (int)cJSON_GetObjectItem(ref, "correct")->valuedouble;
    CHECKF(correct == want_correct && want_correct == 200, "accuracy %d / %d, reference %d / %d", correct, n, want_correct, n);
    CHECKF(named_ok == cJSON_GetArraySize(cJSON_GetObjectItem(ref, "named_top5")), "named top-5 lists matched: %d", named_ok);
    printf("spoken-digits-wav2vec2 through automodel pipeline: %d / %d correct (%.2f %%), largest top-1 score difference %.2e\n",
           correct, n, 100.0 * correct / (n ? n : 1), worst);
    free(out);
    cJSON_Delete(ref);
    return 0;
}
