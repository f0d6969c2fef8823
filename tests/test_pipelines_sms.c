/* tests/test_pipelines_sms.c — the shipped sms-spam-bert model through the CLI, as a user runs
 * it: the whole test split (test.tsv) in batch mode gives reference.json's accuracy exactly,
 * every prediction equal and every logit (--function none) within 1e-4; the hand-written
 * examples likewise through stdin and the single-text form; CLI errors are clear. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_cli, *g_dir;
static char g_tmp[4096];

/* 'text' for sh */
static void shell_quote(char *out, size_t cap, const char *s) {
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else
            out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = 0;
}

/* Runs the CLI on a file of texts; returns the parsed JSON lines (count in *n). */
static cJSON **run_batch(const char *file, const char *extra, size_t *n, int *rc) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s classify %s --input-file %s %s 2>/dev/null", g_cli, g_dir, file, extra);
    char *out = NULL;
    *rc = am_test_run(cmd, &out);
    size_t cap = 2048, k = 0;
    cJSON **v = calloc(cap, sizeof *v);
    for (char *line = out ? strtok(out, "\n") : NULL; line && k < cap; line = strtok(NULL, "\n")) v[k++] = cJSON_Parse(line);
    free(out);
    *n = k;
    return v;
}

static double score_of(const cJSON *list, const char *label) {
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *l = cJSON_GetObjectItem(it, "label");
        if (cJSON_IsString(l) && !strcmp(l->valuestring, label)) return cJSON_GetObjectItem(it, "score")->valuedouble;
    }
    return NAN;
}

/* logits within 1e-4 and the same prediction, for n results against reference examples */
static int compare(cJSON *const *logits, cJSON *const *labels, const cJSON *examples, size_t n, int *correct, const char *what) {
    int bad = 0;
    size_t i = 0;
    for (const cJSON *ex = examples->child; ex && i < n; ex = ex->next, i++) {
        const cJSON *want = cJSON_GetObjectItem(ex, "logits");
        double ham = score_of(logits[i], "ham"), spam = score_of(logits[i], "spam");
        double eh = fabs(ham - cJSON_GetArrayItem(want, 0)->valuedouble), es = fabs(spam - cJSON_GetArrayItem(want, 1)->valuedouble);
        if (!(eh <= 1e-4 && es <= 1e-4)) {
            if (bad++ < 5) fprintf(stderr, "%s %zu: logits (%f, %f) off by (%g, %g)\n", what, i, ham, spam, eh, es);
        }
        const char *pred = cJSON_GetObjectItem(ex, "predicted")->valuestring;
        const cJSON *best = cJSON_GetArrayItem(labels[i], 0);
        const char *got = best ? cJSON_GetObjectItem(best, "label")->valuestring : "?";
        CHECKF(!strcmp(got, pred), "%s %zu: predicted %s, reference %s", what, i, got, pred);
        CHECKF(cJSON_GetArraySize(labels[i]) == 1, "%s %zu: the default output is one label", what, i);
        const cJSON *label = cJSON_GetObjectItem(ex, "label");
        if (label && !strcmp(got, label->valuestring)) (*correct)++;
    }
    return bad;
}

static void free_all(cJSON **v, size_t n) {
    for (size_t i = 0; i < n; i++) cJSON_Delete(v[i]);
    free(v);
}

int am_test_main(int argc, char **argv) {
    g_dir = argc > 1 ? argv[1] : "models/sms-spam-bert";
    g_cli = getenv("AM_CLI");
    CHECK(g_cli != NULL);
    if (!g_cli) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/reference.json", g_dir);
    char *text = am_test_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/test.tsv", g_dir);
    char *tsv = am_test_read_file(path, NULL);
    CHECK(text && tsv);
    if (!text || !tsv) return 1;
    cJSON *ref = cJSON_Parse(text);
    const cJSON *examples = cJSON_GetObjectItem(ref, "examples"), *hand = cJSON_GetObjectItem(ref, "hand_written");

    /* the texts of test.tsv (label<TAB>text), one per line, as `cut -f2-` gives them */
    snprintf(g_tmp, sizeof g_tmp, "%s/am_sms_%d.txt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(g_tmp, "wb");
    size_t lines = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        char *tab = strchr(line, '\t');
        fprintf(f, "%s\n", tab ? tab + 1 : line);
    }
    fclose(f);
    CHECK(lines == (size_t)cJSON_GetArraySize(examples));

    size_t n1, n2;
    int rc1, rc2;
    cJSON **raw = run_batch(g_tmp, "--function none --top-k all", &n1, &rc1);
    cJSON **lab = run_batch(g_tmp, "--batch-size 16", &n2, &rc2);
    CHECKF(rc1 == 0 && rc2 == 0, "exit %d / %d", rc1, rc2);
    CHECKF(n1 == lines && n2 == lines, "%zu and %zu output lines for %zu inputs", n1, n2, lines);
    int correct = 0;
    if (n1 == lines && n2 == lines) {
        int bad = compare(raw, lab, examples, lines, &correct, "test.tsv line");
        CHECKF(bad == 0, "%d of %zu examples have logits off by more than 1e-4", bad, lines);
        double acc = (double)correct / (double)lines, want = cJSON_GetObjectItem(ref, "test_accuracy")->valuedouble;
        CHECKF(acc == want, "accuracy %.6f, reference %.6f (%d/%zu)", acc, want, correct, lines);
        printf("sms-spam-bert through `automodel classify --input-file`: %d/%zu correct (%.2f%%)\n", correct, lines, 100.0 * acc);
    }
    free_all(raw, n1);
    free_all(lab, n2);

    /* hand-written examples: through stdin ('-') */
    f = fopen(g_tmp, "wb");
    size_t nh = 0;
    for (const cJSON *ex = hand->child; ex; ex = ex->next, nh++) fprintf(f, "%s\n", cJSON_GetObjectItem(ex, "text")->valuestring);
    fclose(f);
    char stdin_file[4200];
    snprintf(stdin_file, sizeof stdin_file, "- < %s", g_tmp);
    raw = run_batch(stdin_file, "--function none --top-k all", &n1, &rc1);
    lab = run_batch(stdin_file, "", &n2, &rc2);
    CHECK(rc1 == 0 && rc2 == 0 && n1 == nh && n2 == nh);
    int hc = 0;
    if (n1 == nh && n2 == nh) CHECK(compare(raw, lab, hand, nh, &hc, "hand-written") == 0);
    free_all(raw, n1);
    free_all(lab, n2);

    /* ... and one at a time on the command line, as the README shows */
    for (const cJSON *ex = hand->child; ex; ex = ex->next) {
        char q[2048], cmd[4096];
        shell_quote(q, sizeof q, cJSON_GetObjectItem(ex, "text")->valuestring);
        snprintf(cmd, sizeof cmd, "%s classify %s %s --json", g_cli, g_dir, q);
        char *out = NULL;
        int rc = am_test_run(cmd, &out);
        cJSON *j = out ? cJSON_Parse(out) : NULL;
        const cJSON *best = cJSON_GetArrayItem(j, 0);
        const cJSON *probs = cJSON_GetObjectItem(ex, "probabilities");
        const char *pred = cJSON_GetObjectItem(ex, "predicted")->valuestring;
        CHECKF(rc == 0 && best && !strcmp(cJSON_GetObjectItem(best, "label")->valuestring, pred), "single text: %s", out);
        if (best) {
            double want = cJSON_GetArrayItem(probs, !strcmp(pred, "spam"))->valuedouble;
            CHECKF(fabs(cJSON_GetObjectItem(best, "score")->valuedouble - want) < 1e-5, "probability %s", out);
        }
        cJSON_Delete(j);
        free(out);
    }

    /* errors: empty text, invalid UTF-8 in a batch, a model without the head */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s classify %s '' 2>&1", g_cli, g_dir);
    int rc = am_test_run(cmd, &out);
    CHECKF(rc == 1 && out && strstr(out, "empty text"), "empty text: rc %d, %s", rc, out);
    free(out);
    f = fopen(g_tmp, "wb");
    fprintf(f, "free prize call now\n\xff\xfe bad bytes\n\nok see you later\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s classify %s --input-file %s 2>/dev/null", g_cli, g_dir, g_tmp);
    rc = am_test_run(cmd, &out);
    CHECKF(rc == 1 && out, "bad lines: rc %d", rc);
    if (out) {
        char *l1 = strtok(out, "\n"), *l2 = strtok(NULL, "\n"), *l3 = strtok(NULL, "\n"), *l4 = strtok(NULL, "\n");
        CHECKF(l1 && !strncmp(l1, "[{\"label\": ", 11), "line 1: %s", l1);
        CHECKF(l2 && strstr(l2, "\"error\"") && strstr(l2, "UTF-8"), "line 2: %s", l2);
        CHECKF(l3 && strstr(l3, "\"error\"") && strstr(l3, "empty"), "line 3: %s", l3);
        CHECKF(l4 && !strncmp(l4, "[{\"label\": \"ham\"", 16), "line 4: %s", l4);
    }
    free(out);
    snprintf(cmd, sizeof cmd, "%s ner %s 'hello there' 2>&1", g_cli, g_dir);
    rc = am_test_run(cmd, &out);
    CHECKF(rc == 1 && out && strstr(out, "sequence-classification") && strstr(out, "token-classification"), "wrong head: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s fill-mask %s 'a [MASK] b' 2>&1", g_cli, g_dir);
    rc = am_test_run(cmd, &out);
    CHECKF(rc == 1 && out && strstr(out, "masked-lm"), "wrong head: %s", out);
    free(out);

    unlink(g_tmp);
    cJSON_Delete(ref);
    free(text);
    free(tsv);
    return 0;
}
