/* tests/test_hub_model.c — from_pretrained and push_to_hub through a real hub: start `hub serve` on
 * a loopback port, push a fixture model (private and public), load it by repo id into a fresh
 * HF_HOME and compare outputs with the local folder, reload offline, and check that the private
 * repo needs its owner's token. AutoTokenizer and AutoImageProcessor by id too. */
#include "harness.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static am_tensors *run(am_model *m) {
    int64_t shape[2] = {2, 5}, ids[10] = {2, 7, 9, 11, 3, 4, 8, 15, 21, 0};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    am_tensors *out = am_model_forward(m, in, NULL);
    am_tensors_free(in);
    return out;
}

static bool same(am_tensors *a, am_tensors *b) {
    am_tensor *x = am_tensors_get(a, "logits"), *y = am_tensors_get(b, "logits");
    return x && y && am_tensor_nbytes(x) == am_tensor_nbytes(y) && !memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x));
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char work[] = "/tmp/am_hubmodel_XXXXXX";
    CHECK(mkdtemp(work) != NULL);
    char root[256], tokens[256], home[256], home2[256];
    snprintf(root, sizeof root, "%s/root", work);
    snprintf(tokens, sizeof tokens, "%s/tokens", work);
    snprintf(home, sizeof home, "%s/home", work);
    snprintf(home2, sizeof home2, "%s/home2", work);
    mkdir(root, 0755);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "hf_alice_token_0123456789 alice write\nhf_bob_token_0123456789 bob write\n");
    fclose(f);
    chmod(tokens, 0600);
    am_hub_server_options so;
    memset(&so, 0, sizeof so);
    so.size = sizeof so;
    so.root = root;
    so.tokens_file = tokens;
    am_hub_server *srv = am_hub_server_start(&so);
    CHECKF(srv != NULL, "server: %s", am_last_error());
    if (!srv) return 1;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    setenv("HF_ENDPOINT", url, 1);
    setenv("HF_HOME", home, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_TOKEN");
    unsetenv("HF_HUB_OFFLINE");

    char local[4096];
    snprintf(local, sizeof local, "%s", am_test_fixture("models/bert_seqcls"));
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, local, NULL);
    CHECK(m != NULL);
    am_tensors *want = m ? run(m) : NULL;

    /* push_to_hub, private, with a commit message */
    am_push_options po = am_push_options_default();
    po.token = "hf_alice_token_0123456789";
    po.private_repo = true;
    po.commit_message = "Add the sentiment model";
    CHECK_OK(am_model_push_to_hub(m, "alice/tiny-sentiment", &po));
    /* a second commit to the same repo works too */
    CHECK_OK(am_model_push_to_hub(m, "alice/tiny-sentiment", &po));

    /* from_pretrained by id: refused without a token (private = not found), served with alice's */
    am_model *none = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-sentiment", NULL);
    CHECK(none == NULL);
    CHECKF(strstr(am_last_error(), "alice/tiny-sentiment") != NULL, "error names the repo: %s", am_last_error());
    am_load_options lo = am_load_options_default();
    lo.token = "hf_bob_token_0123456789";
    none = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-sentiment", &lo);
    CHECK(none == NULL);
    lo.token = "hf_alice_token_0123456789";
    am_model *h = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-sentiment", &lo);
    CHECKF(h != NULL, "from_pretrained by id: %s", am_last_error());
    if (h && want) {
        am_tensors *got = run(h);
        CHECK(got && same(got, want));
        CHECK(!strcmp(am_model_class_name(h), "BertForSequenceClassification"));
        const char *nop = NULL;
        CHECK(am_config_get_string(am_model_config(h), "_name_or_path", &nop) == AM_OK && !strcmp(nop, "alice/tiny-sentiment"));
        am_tensors_free(got);
    }
    am_model_free(h);

    /* offline: no network, served from the cache */
    setenv("HF_HUB_OFFLINE", "1", 1);
    h = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-sentiment", &lo);
    CHECKF(h != NULL, "offline reload: %s", am_last_error());
    if (h && want) {
        am_tensors *got = run(h);
        CHECK(got && same(got, want));
        am_tensors_free(got);
    }
    am_model_free(h);
    /* offline and not cached: transformers' wording */
    setenv("HF_HOME", home2, 1);
    h = am_model_from_pretrained(AM_TASK_AUTO, "alice/tiny-sentiment", &lo);
    CHECK(h == NULL && strstr(am_last_error(), "couldn't connect"));
    unsetenv("HF_HUB_OFFLINE");

    /* a public repo through the CLI, and the tokenizer by id */
    char tokdir[4096];
    snprintf(tokdir, sizeof tokdir, "%s", am_test_fixture("tokenizers/bert-base-uncased"));
    po.private_repo = false;
    po.token = "hf_bob_token_0123456789";
    CHECK_OK(am_hub_upload_folder(tokdir, "bob/bert-tok", &po));
    am_tokenizer *tk = am_tokenizer_from_pretrained("bob/bert-tok");
    CHECKF(tk != NULL, "tokenizer by id: %s", am_last_error());
    am_tokenizer_free(tk);
    /* AutoImageProcessor by id: preprocessor_config.json fetched into the cache */
    char procdir[4096];
    snprintf(procdir, sizeof procdir, "%s", am_test_fixture("processors/vit_32_bilinear_batch3"));
    CHECK_OK(am_hub_upload_folder(procdir, "bob/vit-proc", &po));
    am_image_processor *ip = am_image_processor_from_pretrained("bob/vit-proc");
    CHECKF(ip && !strcmp(am_image_processor_class_name(ip), "ViTImageProcessor"), "image processor by id: %s", am_last_error());
    am_image_processor_free(ip);
    ip = am_image_processor_from_pretrained("bob/bert-tok"); /* a repo without one */
    CHECKF(ip == NULL && strstr(am_last_error(), "preprocessor_config.json"), "%s", am_last_error());
    const char *cli = getenv("AM_CLI");
    if (cli) {
        char cmd[10000];
        snprintf(cmd, sizeof cmd, "HF_TOKEN=hf_bob_token_0123456789 %s push %s bob/sentiment --commit-message 'from the CLI' >/dev/null 2>&1 && %s info bob/sentiment --json", cli, local,
                 cli);
        char *out = NULL;
        int rc = am_test_run(cmd, &out);
        CHECKF(rc == 0 && out && strstr(out, "\"num_parameters\": 20077"), "CLI push + info by id: rc %d %s", rc, out ? out : "");
        free(out);
    }
    am_tensors_free(want);
    am_model_free(m);
    am_hub_server_free(srv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    CHECK(system(cmd) == 0);
    return 0;
}
