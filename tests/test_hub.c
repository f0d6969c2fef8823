/* tests/test_hub.c — the hub layer end to end on loopback: naming rules and settings precedence,
 * then a real `hub serve` (in-process, free port): push the fixture model to public and private
 * repos, download it through HF_ENDPOINT into a fresh HF_HOME, check the cache layout file by
 * file against shared/spec/HUB.md §5, offline and network-down reloads, tokens, branches,
 * multipart LFS, tree pagination, the mirror mode, and the login/whoami/logout commands. */
#include "hub/util.h"
#include <cJSON.h>
#include <sys/stat.h>

static char g_url[128];
static const char *g_tok_alice = "tok_alice_write_0123456789";
static const char *g_tok_bob = "tok_bob_read_0123456789";
static const char *g_tok_carol = "tok_carol_write_0123456789";

static void test_names(void) {
    char why[256];
    CHECK(am__hub_valid_repo_id("bert-base-uncased", why, sizeof why));
    CHECK(am__hub_valid_repo_id("google/flan-t5_small.v1", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("a/b/c", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("../etc", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("org/..", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("org--x/name", why, sizeof why) && strstr(why, "--"));
    CHECK(!am__hub_valid_repo_id("-org/name", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("org/name.", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("/abs", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("org/na\nme", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("org/na me", why, sizeof why));
    CHECK(!am__hub_valid_repo_id("", why, sizeof why));
    char longid[200];
    memset(longid, 'a', 97);
    longid[97] = 0;
    CHECK(!am__hub_valid_repo_id(longid, why, sizeof why));
    CHECK(am__hub_valid_repo_path("config.json"));
    CHECK(am__hub_valid_repo_path("sub/dir/model.safetensors"));
    CHECK(!am__hub_valid_repo_path("../x"));
    CHECK(!am__hub_valid_repo_path("a/../x"));
    CHECK(!am__hub_valid_repo_path("/etc/passwd"));
    CHECK(!am__hub_valid_repo_path("a//b"));
    CHECK(!am__hub_valid_repo_path("a/./b"));
    CHECK(!am__hub_valid_repo_path("a\\b"));
    CHECK(!am__hub_valid_repo_path("a\x01"));
    CHECK(!am__hub_valid_repo_path("dir/"));
    CHECK(am__hub_valid_revision("refs/pr/1") && am__hub_valid_revision("main") && !am__hub_valid_revision("../main"));

    char *f = am__hub_repo_folder("model", "org/name");
    CHECK(f && !strcmp(f, "models--org--name"));
    free(f);
    f = am__hub_repo_folder("dataset", "x");
    CHECK(f && !strcmp(f, "datasets--x"));
    free(f);
    char *q = am__hub_quote("refs/pr/1", false);
    CHECK(q && !strcmp(q, "refs%2Fpr%2F1"));
    free(q);
    q = am__hub_quote("dir/a b.json", true);
    CHECK(q && !strcmp(q, "dir/a%20b.json"));
    free(q);
    q = am__hub_unquote("a%2Fb%zz", 8);
    CHECK(q && !strcmp(q, "a/b%zz"));
    free(q);
    CHECK(am__hub_unquote("x%00y", 5) == NULL);
    /* quote(s, safe="/") and quote(s, safe=""): everything but A-Z a-z 0-9 -._~ (and '/') encoded */
    q = am__hub_quote("a+b#c?d%e/f g~.", true);
    CHECK(q && !strcmp(q, "a%2Bb%23c%3Fd%25e/f%20g~."));
    free(q);
    q = am__hub_quote("/x//\xc3\xa9/", true);
    CHECK(q && !strcmp(q, "/x//%C3%A9/"));
    free(q);
    q = am__hub_quote("", false);
    CHECK(q && !strcmp(q, ""));
    free(q);

    /* URLs: the endpoint (and its path) + path + query, as the hand-written formulas gave */
    char *u = NULL;
    CHECK_OK(am__hub_url(&u, "http://127.0.0.1:8080", NULL, "%s/resolve/%s/%s", "org/name", "refs%2Fpr%2F1", "dir/a%20b.json"));
    CHECK(u && !strcmp(u, "http://127.0.0.1:8080/org/name/resolve/refs%2Fpr%2F1/dir/a%20b.json"));
    free(u);
    CHECK_OK(am__hub_url(&u, "https://mirror.example/hf", "create_pr=1", "api/models/%s/commit/%s", "a/b", "main"));
    CHECK(u && !strcmp(u, "https://mirror.example/hf/api/models/a/b/commit/main?create_pr=1"));
    free(u);
    CHECK(am__hub_url(&u, "no scheme here", NULL, "api/whoami-v2") == AM_ERR_INVALID_ARGUMENT && !u);
    CHECK(strstr(am_last_error(), "no scheme here") != NULL);
    static const char *const joins[][3] = {
        {"http://h:1/a/b/c", "/x/y?z=1", "http://h:1/x/y?z=1"},
        {"http://h:1/a/b/c", "d", "http://h:1/a/b/d"},
        {"http://h:1/a", "//other:2/z", "http://other:2/z"},
        {"http://h:1/a", "https://cdn.example/f?sig=a%2Fb", "https://cdn.example/f?sig=a%2Fb"},
    };
    for (size_t i = 0; i < sizeof joins / sizeof *joins; i++) {
        CHECK_OK(am__url_join(joins[i][0], joins[i][1], &u));
        CHECKF(u && !strcmp(u, joins[i][2]), "%s + %s -> %s", joins[i][0], joins[i][1], u ? u : "NULL");
        free(u);
    }
    char *o = am__url_origin("HTTP://User@Host.Example:8080/path?q");
    CHECK(o && !strcmp(o, "http://host.example:8080"));
    free(o);
    o = am__url_origin("https://huggingface.co/api");
    CHECK(o && !strcmp(o, "https://huggingface.co"));
    free(o);
    o = am__url_origin("not a url");
    CHECK(o && !strcmp(o, ""));
    free(o);

    /* hashes: known vectors */
    am__sha256 s;
    uint8_t d[32];
    char hex[65];
    CHECK_OK(am__sha256_init(&s));
    am__sha256_update(&s, "abc", 3);
    CHECK_OK(am__sha256_final(&s, d));
    CHECK(s.ctx == NULL); /* _final releases the context */
    am__hex(d, 32, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    am__sha1 s1;
    CHECK_OK(am__sha1_init(&s1));
    am__sha1_update(&s1, "abc", 3);
    CHECK_OK(am__sha1_final(&s1, d));
    am__hex(d, 20, hex);
    CHECK(!strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    /* one-shot forms; `printf 'hello\n' | git hash-object --stdin` */
    CHECK_OK(am__sha256_hex("abc", 3, hex));
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_OK(am__sha1_hex("hello\n", 6, true, hex));
    CHECK(!strcmp(hex, "ce013625030ba8dba906f756967f9e9ca394464a"));
    CHECK_OK(am__sha1_init(&s1)); /* an abandoned digest is released by _discard */
    am__sha1_update(&s1, "abc", 3);
    am__digest_discard(&s1);
    CHECK(s1.ctx == NULL);
    char sha[65], sha1[41];
    uint64_t size = 0;
    CHECK_OK(am__hash_file(am_test_fixture("hub/bert_seqcls/model.safetensors"), sha, sha1, &size));
    CHECK(!strcmp(sha, "5d73793dba94e6a03d8ddbcbfa5c2691375ddaca1b9e0a0d19b5655bfa926bf2") && size == 84620);
    CHECK_OK(am__hash_file(am_test_fixture("hub/bert_seqcls/config.json"), NULL, sha1, NULL));
    CHECK(!strcmp(sha1, "10f83a948e238d3aaa20c8cee444ea71a25e443d"));
    size_t bl;
    char *b64 = am__base64_encode("hello!?", 7, &bl);
    CHECK(b64 && !strcmp(b64, "aGVsbG8hPw=="));
    uint8_t *dec = NULL;
    size_t dl = 0;
    CHECK(am__base64_decode(b64, bl, &dec, &dl) && dl == 7 && !memcmp(dec, "hello!?", 7));
    free(dec);
    free(b64);
    CHECK(!am__base64_decode("a$==", 4, &dec, &dl));
}

static void count_warnings(am_log_level level, const char *msg, void *user) {
    (void)msg;
    if (level >= AM_LOG_WARNING) ++*(int *)user;
}

static void test_settings(const char *home) {
    am__hub_settings s;
    hu_clean_env(home);
    CHECK_OK(am__hub_settings_load(&s, NULL));
    CHECK(!strcmp(s.endpoint, "https://huggingface.co"));
    char want[4096];
    snprintf(want, sizeof want, "%s/hub", home);
    CHECK(!strcmp(s.cache, want));
    CHECK(s.token == NULL && !s.offline);
    am__hub_settings_free(&s);

    /* the cache folder: transformers 4.32's precedence (docs/cache.md), highest last set */
    int warnings = 0;
    am_log_level level = am_log_get_level();
    am_log_set_level(AM_LOG_WARNING);
    am_log_set_callback(count_warnings, &warnings);
    unsetenv("HF_HOME");
    setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    CHECK_OK(am__hub_settings_load(&s, NULL));
    CHECK(!strcmp(s.cache, "/tmp/xdg/huggingface/hub"));
    am__hub_settings_free(&s);
    setenv("HF_HOME", home, 1);
    CHECK_OK(am__hub_settings_load(&s, NULL));
    CHECK(!strcmp(s.cache, want)); /* HF_HOME over XDG_CACHE_HOME */
    am__hub_settings_free(&s);
    static const char *const chain[][2] = {
        {"PYTORCH_PRETRAINED_BERT_CACHE", "/tmp/ppbc"}, {"PYTORCH_TRANSFORMERS_CACHE", "/tmp/ptc"},
        {"HUGGINGFACE_HUB_CACHE", "/tmp/hhc"},          {"HF_HUB_CACHE", "/tmp/hc"},
        {"TRANSFORMERS_CACHE", "/tmp/tc"},
    };
    for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
        setenv(chain[i][0], chain[i][1], 1);
        CHECK_OK(am__hub_settings_load(&s, NULL));
        CHECKF(!strcmp(s.cache, chain[i][1]), "%s set: cache %s", chain[i][0], s.cache);
        am__hub_settings_free(&s);
    }
    /* TRANSFORMERS_CACHE wins over every other variable, and nothing warns */
    CHECKF(warnings == 0, "%d warnings about the cache variables", warnings);
    am_log_set_callback(NULL, NULL);
    am_log_set_level(level);
    unsetenv("TRANSFORMERS_CACHE");
    unsetenv("PYTORCH_TRANSFORMERS_CACHE");
    unsetenv("PYTORCH_PRETRAINED_BERT_CACHE");
    unsetenv("XDG_CACHE_HOME");
    setenv("HF_ENDPOINT", "http://example.invalid:1/", 1);
    setenv("TRANSFORMERS_OFFLINE", "yes", 1);
    setenv("HUGGING_FACE_HUB_TOKEN", "legacy", 1);
    CHECK_OK(am__hub_settings_load(&s, NULL));
    CHECK(!strcmp(s.cache, "/tmp/hc") && !strcmp(s.endpoint, "http://example.invalid:1") && s.offline);
    CHECK(s.token && !strcmp(s.token, "legacy"));
    am__hub_settings_free(&s);
    setenv("HF_TOKEN", "new", 1);
    am__hub_opts o = am__hub_opts_default();
    o.cache_dir = "/tmp/explicit";
    CHECK_OK(am__hub_settings_load(&s, &o));
    CHECK(!strcmp(s.cache, "/tmp/explicit") && !strcmp(s.token, "new"));
    am__hub_settings_free(&s);
    o.token = "explicit";
    CHECK_OK(am__hub_settings_load(&s, &o));
    CHECK(!strcmp(s.token, "explicit"));
    am__hub_settings_free(&s);
    setenv("HF_ENDPOINT", "ftp://x", 1);
    CHECK(am__hub_settings_load(&s, NULL) == AM_ERR_INVALID_ARGUMENT);

    /* the token file: written 0600, read back, removed */
    hu_clean_env(home);
    CHECK_OK(am_hub_login("hf_filetoken"));
    char tp[4096];
    snprintf(tp, sizeof tp, "%s/token", home);
    struct stat sb;
    CHECK(stat(tp, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    char *t = am_hub_get_token();
    CHECK(t && !strcmp(t, "hf_filetoken"));
    am_free(t);
    setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1", 1);
    t = am_hub_get_token();
    CHECK(t == NULL);
    unsetenv("HF_HUB_DISABLE_IMPLICIT_TOKEN");
    CHECK(am_hub_login("bad token") == AM_ERR_INVALID_ARGUMENT);
    CHECK_OK(am_hub_logout());
    CHECK(stat(tp, &sb) != 0);
    hu_clean_env(home);
}

static char *commit_head(const char *repo, const char *rev, const char *token) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", g_url, repo, rev);
    hu_resp r;
    hu_http("GET", url, token, NULL, NULL, 0, &r);
    cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "sha");
    char *out = cJSON_IsString(sha) ? strdup(sha->valuestring) : NULL;
    cJSON_Delete(j);
    hu_resp_free(&r);
    return out;
}

/* The cache layout of one downloaded file, checked against spec §5. */
static void check_cached(const char *cache, const char *repo_folder, const char *commit, const char *file,
                         const char *etag, const char *src) {
    char p[4096], want_target[512];
    snprintf(p, sizeof p, "%s/%s/snapshots/%s/%s", cache, repo_folder, commit, file);
    int depth = 0;
    for (const char *q = file; *q; q++) depth += *q == '/';
    want_target[0] = 0;
    strcat(want_target, "../../");
    for (int i = 0; i < depth; i++) strcat(want_target, "../");
    strcat(want_target, "blobs/");
    strcat(want_target, etag);
    struct stat sb;
    CHECKF(lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode), "%s is not a symlink", p);
    char *target = hu_readlink(p);
    CHECKF(target && !strcmp(target, want_target), "%s -> %s, want %s", p, target ? target : "?", want_target);
    free(target);
    CHECKF(hu_same_file(p, src), "%s differs from %s", p, src);
    snprintf(p, sizeof p, "%s/%s/blobs/%s", cache, repo_folder, etag);
    CHECKF(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode), "blob %s missing", p);
}

static long count_commits(const char *repo, const char *token, char *first_title, size_t n) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/models/%s/commits/main", g_url, repo);
    hu_resp r;
    hu_http("GET", url, token, NULL, NULL, 0, &r);
    cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    long c = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "title");
    if (first_title) snprintf(first_title, n, "%s", cJSON_IsString(t) ? t->valuestring : "");
    cJSON_Delete(j);
    hu_resp_free(&r);
    return c;
}

static void test_end_to_end(const char *work) {
    char root[4096], home[4096], tokens[4096], model[4096];
    snprintf(root, sizeof root, "%s/root", work);
    snprintf(home, sizeof home, "%s/home1", work);
    snprintf(tokens, sizeof tokens, "%s/tokens", work);
    snprintf(model, sizeof model, "%s", am_test_fixture("hub/bert_seqcls"));
    FILE *f = fopen(tokens, "w");
    fprintf(f, "# test tokens\n%s alice write acme\n%s bob read\n%s carol write\n", g_tok_alice, g_tok_bob, g_tok_carol);
    fclose(f);

    /* a tokens file others can read is refused */
    chmod(tokens, 0644);
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.threads = 4;
    am_hub_server *srv = am_hub_server_start(&so);
    CHECK(srv == NULL && strstr(am_last_error(), "chmod 600"));
    chmod(tokens, 0600);
    srv = am_hub_server_start(&so);
    CHECKF(srv != NULL, "%s", am_last_error());
    if (!srv) return;
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    hu_clean_env(home);
    setenv("HF_ENDPOINT", g_url, 1);

    /* push: public with a message, then a second commit; private; org namespace; refusals */
    am_push_options po = am_push_options_default();
    po.token = g_tok_alice;
    po.commit_message = "Add the tiny model";
    char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    CHECK_OK(am_hub_upload_folder_commit(model, "alice/tiny", &po, &c1));
    CHECK(c1 && am__hub_is_commit(c1));
    char title[256];
    CHECK(count_commits("alice/tiny", NULL, title, sizeof title) == 2 && !strcmp(title, "Add the tiny model"));
    /* same files again: nothing to commit, same head */
    CHECK_OK(am_hub_upload_folder_commit(model, "alice/tiny", &po, &c2));
    CHECK(c1 && c2 && !strcmp(c1, c2));
    free(c2);
    c2 = NULL;
    char m2[4096];
    snprintf(m2, sizeof m2, "%s/m2", work);
    am__mkdirs(m2);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/config.json", m2);
    CHECK(am_test_run("true", NULL) == 0);
    {
        size_t n;
        char *cfg = am_test_read_file(am_test_fixture("hub/bert_seqcls/config.json"), &n);
        am__write_file_atomic(p1, cfg, n);
        free(cfg);
        snprintf(p2, sizeof p2, "%s/model.safetensors", m2);
        char *w = am_test_read_file(am_test_fixture("hub/bert_seqcls/model.safetensors"), &n);
        am__write_file_atomic(p2, w, n);
        free(w);
        snprintf(p2, sizeof p2, "%s/sub", m2);
        am__mkdirs(p2);
        snprintf(p2, sizeof p2, "%s/sub/README.md", m2);
        am__write_file_atomic(p2, "# tiny\n", 7);
    }
    po.commit_message = "Second commit: add a README";
    CHECK_OK(am_hub_upload_folder_commit(m2, "alice/tiny", &po, &c2));
    CHECK(c2 && strcmp(c1, c2));
    CHECK(count_commits("alice/tiny", NULL, title, sizeof title) == 3 && !strcmp(title, "Second commit: add a README"));
    /* a stale parent commit is refused, and the head does not move */
    po.parent_commit = c1;
    po.commit_message = "stale";
    snprintf(p2, sizeof p2, "%s/sub/README.md", m2);
    am__write_file_atomic(p2, "# changed\n", 10);
    CHECK(am_hub_upload_folder_commit(m2, "alice/tiny", &po, NULL) != AM_OK && strstr(am_last_error(), "moved on"));
    char *head = commit_head("alice/tiny", "main", NULL);
    CHECK(head && !strcmp(head, c2));
    free(head);
    po.parent_commit = NULL;
    am__write_file_atomic(p2, "# tiny\n", 7);

    po.private_repo = true;
    po.commit_message = "private upload";
    CHECK_OK(am_hub_upload_folder_commit(model, "alice/secret", &po, &c3));
    po.private_repo = false;
    CHECK_OK(am_hub_upload_folder(model, "acme/shared", &po)); /* alice's organisation */
    CHECK_OK(am_hub_upload_folder(model, "tiny2", &po));       /* no namespace: goes under alice */
    head = commit_head("alice/tiny2", "main", NULL);
    CHECK(head != NULL);
    free(head);
    po.token = g_tok_bob; /* read token */
    CHECK(am_hub_upload_folder(model, "bob/x", &po) == AM_ERR_AUTH);
    po.token = g_tok_carol; /* write token, other namespace */
    CHECK(am_hub_upload_folder(model, "alice/tiny", &po) == AM_ERR_AUTH);
    CHECK(am_hub_upload_folder(model, "acme/y", &po) == AM_ERR_AUTH);
    po.token = "";
    CHECK(am_hub_upload_folder(model, "alice/tiny", &po) == AM_ERR_AUTH && strstr(am_last_error(), "login"));
    po.token = g_tok_alice;

    /* download through HF_ENDPOINT into a fresh HF_HOME */
    am__hub_opts ho = am__hub_opts_default();
    char *dir = NULL;
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG | AM__HUB_WEIGHTS | AM__HUB_GENERATION_CONFIG, NULL, NULL, &dir));
    char cache[4096], want[4096];
    snprintf(cache, sizeof cache, "%s/hub", home);
    snprintf(want, sizeof want, "%s/models--alice--tiny/snapshots/%s", cache, c2);
    CHECKF(dir && !strcmp(dir, want), "%s vs %s", dir ? dir : "(null)", want);
    free(dir);
    check_cached(cache, "models--alice--tiny", c2, "config.json", "10f83a948e238d3aaa20c8cee444ea71a25e443d",
                 am_test_fixture("hub/bert_seqcls/config.json"));
    check_cached(cache, "models--alice--tiny", c2, "model.safetensors",
                 "5d73793dba94e6a03d8ddbcbfa5c2691375ddaca1b9e0a0d19b5655bfa926bf2",
                 am_test_fixture("hub/bert_seqcls/model.safetensors"));
    char p[4096];
    size_t n = 0;
    snprintf(p, sizeof p, "%s/models--alice--tiny/refs/main", cache);
    char *ref = am_test_read_file(p, &n);
    CHECKF(ref && n == 40 && !memcmp(ref, c2, 40), "refs/main = '%s'", ref ? ref : "?");
    free(ref);
    snprintf(p, sizeof p, "%s/models--alice--tiny/.no_exist/%s/generation_config.json", cache, c2);
    CHECKF(am__is_file(p), "missing .no_exist marker %s", p);
    snprintf(p, sizeof p, "%s/CACHEDIR.TAG", cache);
    CHECK(am__is_file(p));
    snprintf(p, sizeof p, "%s/models--alice--tiny/blobs", cache);
    CHECK(hu_count_files(p, NULL) == 2 && hu_count_files(p, ".incomplete") == 0);
    /* nothing else in the snapshot: the weights stopped at model.safetensors */
    snprintf(p, sizeof p, "%s/models--alice--tiny/snapshots/%s", cache, c2);
    CHECK(hu_count_files(p, NULL) == 2);

    /* a subfolder and a file download */
    ho.subfolder = "sub";
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, 0, (const char *const[]){"README.md", NULL}, NULL, &dir));
    snprintf(want, sizeof want, "%s/models--alice--tiny/snapshots/%s/sub", cache, c2);
    CHECK(dir && !strcmp(dir, want));
    free(dir);
    check_cached(cache, "models--alice--tiny", c2, "sub/README.md", "8e2e871357bef652084a73f7173adc5eb8859a33", p2);
    ho.subfolder = NULL;

    /* the first commit is still reachable, by its id */
    ho.revision = c1;
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG, NULL, NULL, &dir));
    snprintf(want, sizeof want, "%s/models--alice--tiny/snapshots/%s", cache, c1);
    CHECK(dir && !strcmp(dir, want));
    free(dir);
    ho.revision = NULL;

    /* errors in transformers' words */
    CHECK(am__hub_resolve("alice/nope", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) != AM_OK &&
          strstr(am_last_error(), "is not a local folder and is not a valid model identifier"));
    ho.revision = "no-such-branch";
    CHECK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NOT_FOUND &&
          strstr(am_last_error(), "is not a valid git identifier"));
    ho.revision = NULL;
    CHECK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG, (const char *const[]){"missing.txt", NULL}, NULL, &dir) ==
              AM_ERR_NOT_FOUND &&
          strstr(am_last_error(), "does not appear to have a file named missing.txt"));
    CHECK(am__hub_resolve("alice/tiny/extra", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NOT_FOUND &&
          strstr(am_last_error(), "not a local folder"));

    /* private: refused without a token or with another user's, served to the owner */
    CHECK(am__hub_resolve("alice/secret", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_AUTH &&
          strstr(am_last_error(), "private repository") && strstr(am_last_error(), "`token=<your_token>`"));
    am_set_option_naming(AM_NAMING_CLI); /* the same message for a command-line caller names the flag */
    CHECK(am__hub_resolve("alice/secret", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_AUTH &&
          strstr(am_last_error(), "`--token <your_token>`") && !strstr(am_last_error(), "token=<"));
    am_set_option_naming(AM_NAMING_API);
    ho.token = g_tok_bob;
    CHECK(am__hub_resolve("alice/secret", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NOT_FOUND);
    ho.token = g_tok_alice;
    CHECK_OK(am__hub_resolve("alice/secret", &ho, AM__HUB_CONFIG | AM__HUB_WEIGHTS, NULL, NULL, &dir));
    snprintf(want, sizeof want, "%s/models--alice--secret/snapshots/%s", cache, c3 ? c3 : "");
    CHECK(dir && !strcmp(dir, want));
    free(dir);
    ho.token = NULL;
    setenv("HF_TOKEN", g_tok_alice, 1); /* the environment's token works the same */
    CHECK_OK(am__hub_resolve("alice/secret", &ho, AM__HUB_CONFIG, NULL, NULL, &dir));
    free(dir);
    unsetenv("HF_TOKEN");
    hu_resp r;
    snprintf(p, sizeof p, "%s/api/models/alice/secret", g_url);
    CHECK(hu_http("GET", p, NULL, NULL, NULL, 0, &r) == 404 && r.hdr_code && !strcmp(r.hdr_code, "RepoNotFound"));
    hu_resp_free(&r);
    CHECK(hu_http("GET", p, g_tok_bob, NULL, NULL, 0, NULL) == 404);
    CHECK(hu_http("GET", p, g_tok_alice, NULL, NULL, 0, NULL) == 200);

    /* offline: same folder with no HTTP at all, even with the server gone */
    setenv("HF_HUB_OFFLINE", "1", 1);
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG | AM__HUB_WEIGHTS | AM__HUB_GENERATION_CONFIG, NULL, NULL, &dir));
    snprintf(want, sizeof want, "%s/models--alice--tiny/snapshots/%s", cache, c2);
    CHECK(dir && !strcmp(dir, want));
    free(dir);
    CHECK(am__hub_resolve("acme/shared", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "We couldn't connect to"));
    unsetenv("HF_HUB_OFFLINE");
    ho.local_files_only = true;
    CHECK(am__hub_resolve("acme/shared", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NETWORK);
    ho.local_files_only = false;

    /* branches: push to a new branch, download it */
    po.revision = "dev";
    po.commit_message = "on dev";
    char *cdev = NULL;
    CHECK_OK(am_hub_upload_folder_commit(model, "alice/tiny", &po, &cdev));
    po.revision = NULL;
    head = commit_head("alice/tiny", "dev", NULL);
    CHECK(head && cdev && !strcmp(head, cdev));
    free(head);
    ho.revision = "dev";
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG, NULL, NULL, &dir));
    free(dir);
    snprintf(p, sizeof p, "%s/models--alice--tiny/refs/dev", cache);
    ref = am_test_read_file(p, &n);
    CHECK(ref && cdev && n == 40 && !memcmp(ref, cdev, 40));
    free(ref);
    ho.revision = NULL;
    /* a pull request: refs/pr/1, encoded as refs%2Fpr%2F1 */
    po.create_pr = true;
    po.commit_message = "a PR";
    char *cpr = NULL;
    CHECK_OK(am_hub_upload_folder_commit(m2, "alice/tiny", &po, &cpr));
    po.create_pr = false;
    ho.revision = "refs/pr/1";
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG, NULL, NULL, &dir));
    free(dir);
    /* huggingface_hub writes refs/{revision}: refs/refs/pr/1, nested folders */
    snprintf(p, sizeof p, "%s/models--alice--tiny/refs/refs/pr/1", cache);
    CHECKF(am__is_file(p), "missing %s", p);
    ho.revision = NULL;
    free(cpr);
    free(cdev);

    /* snapshot_download and the CLI's download */
    am_download_options dopt = am_download_options_default();
    char *snap = NULL;
    CHECK_OK(am_hub_download("alice/tiny", &dopt, &snap));
    snprintf(p, sizeof p, "%s/sub/README.md", snap ? snap : "");
    CHECK(am__is_file(p));
    am_free(snap);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "HF_HOME=%s/home_cli HF_ENDPOINT=%s '%s' download acme/shared --include '*.json'", work, g_url,
             getenv("AM_CLI"));
    CHECK(am_test_run(cmd, &out) == 0 && out && strstr(out, "models--acme--shared/snapshots/"));
    if (out) {
        out[strcspn(out, "\n")] = 0;
        snprintf(p, sizeof p, "%s/config.json", out);
        CHECK(am__is_file(p));
        snprintf(p, sizeof p, "%s/model.safetensors", out);
        CHECK(!am__is_file(p));
    }
    free(out);

    /* tree listing, one entry per page, following Link */
    int entries = 0, pages = 0;
    char next[2048];
    snprintf(next, sizeof next, "%s/api/models/alice/tiny/tree/main?recursive=true&limit=1", g_url);
    while (next[0] && pages < 20) {
        CHECK(hu_http("GET", next, NULL, NULL, NULL, 0, &r) == 200);
        cJSON *j = cJSON_Parse(r.body);
        entries += cJSON_GetArraySize(j);
        cJSON_Delete(j);
        next[0] = 0;
        if (r.hdr_link && strchr(r.hdr_link, '<')) {
            const char *a = strchr(r.hdr_link, '<') + 1;
            snprintf(next, sizeof next, "%.*s", (int)strcspn(a, ">"), a);
        }
        hu_resp_free(&r);
        pages++;
    }
    CHECK(entries == 5 && pages == 5); /* .gitattributes config.json model.safetensors sub sub/README.md */
    snprintf(p, sizeof p, "%s/api/models/alice/tiny/tree/main/nope", g_url);
    CHECK(hu_http("GET", p, NULL, NULL, NULL, 0, NULL) == 404);
    /* Range requests */
    snprintf(p, sizeof p, "%s/alice/tiny/resolve/main/config.json", g_url);
    CHECK(hu_http("GET", p, NULL, (const char *const[]){"Range: bytes=0-0", NULL}, NULL, 0, &r) == 206 && r.len == 1 &&
          r.hdr_range && !strcmp(r.hdr_range, "bytes 0-0/756"));
    hu_resp_free(&r);
    CHECK(hu_http("GET", p, NULL, (const char *const[]){"Range: bytes=-6", NULL}, NULL, 0, &r) == 206 && r.len == 6);
    hu_resp_free(&r);
    CHECK(hu_http("GET", p, NULL, (const char *const[]){"Range: bytes=9999-", NULL}, NULL, 0, NULL) == 416);

    /* the network goes down: the cache answers for what it holds */
    am_hub_server_free(srv);
    srv = NULL;
    CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG | AM__HUB_WEIGHTS, NULL, NULL, &dir));
    snprintf(want, sizeof want, "%s/models--alice--tiny/snapshots/%s", cache, c2);
    CHECK(dir && !strcmp(dir, want));
    free(dir);
    setenv("HF_HUB_ETAG_TIMEOUT", "1", 1);
    CHECK(am__hub_resolve("acme/never", &ho, AM__HUB_CONFIG, NULL, NULL, &dir) == AM_ERR_NETWORK &&
          strstr(am_last_error(), "We couldn't connect to"));

    /* mirror mode: serve the cache we just filled, read-only */
    so = am_hub_server_options_default();
    char root2[4096];
    snprintf(root2, sizeof root2, "%s/root_mirror", work);
    so.root = root2;
    so.mirror = cache;
    so.threads = 2;
    am_hub_server *mir = am_hub_server_start(&so);
    CHECKF(mir != NULL, "%s", am_last_error());
    if (mir) {
        char murl[128], home2[4096];
        snprintf(murl, sizeof murl, "http://127.0.0.1:%d", am_hub_server_port(mir));
        snprintf(home2, sizeof home2, "%s/home_mirror", work);
        hu_clean_env(home2);
        setenv("HF_ENDPOINT", murl, 1);
        CHECK_OK(am__hub_resolve("alice/tiny", &ho, AM__HUB_CONFIG | AM__HUB_WEIGHTS, NULL, NULL, &dir));
        snprintf(p, sizeof p, "%s/model.safetensors", dir ? dir : "");
        CHECK(hu_same_file(p, am_test_fixture("hub/bert_seqcls/model.safetensors")));
        snprintf(p, sizeof p, "%s/hub/models--alice--tiny/snapshots/%s", home2, c2);
        CHECK(dir && !strcmp(dir, p)); /* same commit ids through the mirror */
        free(dir);
        snprintf(p, sizeof p, "%s/api/models/alice/tiny", murl);
        CHECK(hu_http("GET", p, NULL, NULL, NULL, 0, &r) == 200 && strstr(r.body, "model.safetensors"));
        hu_resp_free(&r);
        snprintf(p, sizeof p, "%s/api/models/alice/tiny/preupload/main", murl);
        CHECK(hu_http("POST", p, g_tok_alice, NULL, "{}", 2, NULL) == 401);
        am_hub_server_free(mir);
    }
    free(c1), free(c2), free(c3);
}

/* LFS multipart: a server offering 32 KiB parts; the 84 KB weights go up in three. */
static void test_multipart(const char *work) {
    char root[4096], home[4096], tokens[4096];
    snprintf(root, sizeof root, "%s/root_mp", work);
    snprintf(home, sizeof home, "%s/home_mp", work);
    snprintf(tokens, sizeof tokens, "%s/tokens_mp", work);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "%s alice write\n", g_tok_alice);
    fclose(f);
    chmod(tokens, 0600);
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.multipart_chunk = 32768;
    so.threads = 2;
    am_hub_server *srv = am_hub_server_start(&so);
    CHECKF(srv != NULL, "%s", am_last_error());
    if (!srv) return;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", am_hub_server_port(srv));
    hu_clean_env(home);
    setenv("HF_ENDPOINT", url, 1);
    am_push_options po = am_push_options_default();
    po.token = g_tok_alice;
    CHECK_OK(am_hub_upload_folder(am_test_fixture("hub/bert_seqcls"), "alice/mp", &po));
    char *p = NULL;
    am_download_options d = am_download_options_default();
    CHECK_OK(am_hub_download_file("alice/mp", "model.safetensors", &d, &p));
    CHECK(p && hu_same_file(p, am_test_fixture("hub/bert_seqcls/model.safetensors")));
    am_free(p);
    am_hub_server_free(srv);
}

/* login / whoami / logout through the CLI, with the token on stdin. */
static void test_cli_login(const char *work) {
    char root[4096], tokens[4096], home[4096];
    snprintf(root, sizeof root, "%s/root_cli", work);
    snprintf(tokens, sizeof tokens, "%s/tokens_cli", work);
    snprintf(home, sizeof home, "%s/home_login", work);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "%s alice write acme\n", g_tok_alice);
    fclose(f);
    chmod(tokens, 0600);
    am_hub_server_options so = am_hub_server_options_default();
    so.root = root;
    so.tokens_file = tokens;
    so.threads = 2;
    am_hub_server *srv = am_hub_server_start(&so);
    if (!srv) {
        CHECKF(0, "%s", am_last_error());
        return;
    }
    char env[8192], cmd[16384], *out = NULL;
    snprintf(env, sizeof env, "env -u HF_TOKEN HF_HOME=%s HF_ENDPOINT=http://127.0.0.1:%d", home, am_hub_server_port(srv));
    const char *cli = getenv("AM_CLI");
    snprintf(cmd, sizeof cmd, "echo wrong | %s '%s' login 2>&1", env, cli);
    CHECK(am_test_run(cmd, &out) != 0 && out && strstr(out, "401"));
    free(out);
    snprintf(cmd, sizeof cmd, "echo %s | %s '%s' login 2>&1", g_tok_alice, env, cli);
    CHECK(am_test_run(cmd, &out) == 0 && out && !strstr(out, g_tok_alice)); /* never echoed */
    free(out);
    char tp[4096];
    snprintf(tp, sizeof tp, "%s/token", home);
    size_t n = 0;
    char *t = am_test_read_file(tp, &n);
    CHECK(t && !strcmp(t, g_tok_alice));
    free(t);
    struct stat sb;
    CHECK(stat(tp, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(cmd, sizeof cmd, "%s '%s' whoami", env, cli);
    CHECK(am_test_run(cmd, &out) == 0 && out && !strcmp(out, "alice\n"));
    free(out);
    /* push through the CLI with the stored token */
    snprintf(cmd, sizeof cmd, "%s '%s' push '%s' acme/cli-model --private --commit-message 'from the cli'", env, cli,
             am_test_fixture("hub/bert_seqcls"));
    CHECK(am_test_run(cmd, &out) == 0 && out && strlen(out) == 41);
    free(out);
    snprintf(cmd, sizeof cmd, "%s '%s' logout 2>&1", env, cli);
    CHECK(am_test_run(cmd, NULL) == 0 && stat(tp, &sb) != 0);
    snprintf(cmd, sizeof cmd, "%s '%s' whoami 2>&1", env, cli);
    CHECK(am_test_run(cmd, &out) != 0 && out && strstr(out, "Not logged in"));
    free(out);
    /* private repo, no token any more */
    snprintf(cmd, sizeof cmd, "%s '%s' download acme/cli-model 2>&1", env, cli);
    CHECK(am_test_run(cmd, &out) != 0 && out && strstr(out, "private repository") && strstr(out, "--token <your_token>") &&
          !strstr(out, "token=<your_token>"));
    free(out);
    am_hub_server_free(srv);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    char *work = hu_tmpdir("hub");
    if (!work) return 1;
    char home[4096];
    snprintf(home, sizeof home, "%s/home0", work);
    test_names();
    test_settings(home);
    test_end_to_end(work);
    test_multipart(work);
    test_cli_login(work);
    if (!am_test_failures) hu_rmrf(work);
    else fprintf(stderr, "work folder kept: %s\n", work);
    free(work);
    return 0;
}
