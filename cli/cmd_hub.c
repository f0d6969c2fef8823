/* cli/cmd_hub.c — the hub commands: download, login, logout, whoami, push, and `hub serve`. */
#include "cli.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char *opt_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (!strcmp(argv[*i], name)) {
        if (*i + 1 >= argc) return NULL;
        return argv[++*i];
    }
    return NULL;
}

static bool is_opt(const char *a, const char *name) {
    size_t n = strlen(name);
    return !strcmp(a, name) || (!strncmp(a, name, n) && a[n] == '=');
}

int am_cli_download(int argc, char **argv) {
    am_download_options o = am_download_options_default();
    const char *id = NULL, *file = NULL;
    const char *inc[64];
    int ninc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_opt(a, "--revision")) o.revision = opt_value(argc, argv, &i, "--revision");
        else if (is_opt(a, "--cache-dir")) o.cache_dir = opt_value(argc, argv, &i, "--cache-dir");
        else if (is_opt(a, "--token")) o.token = opt_value(argc, argv, &i, "--token");
        else if (is_opt(a, "--repo-type")) o.repo_type = opt_value(argc, argv, &i, "--repo-type");
        else if (is_opt(a, "--include")) {
            const char *v = opt_value(argc, argv, &i, "--include");
            if (v && ninc < 63) inc[ninc++] = v;
        } else if (!strcmp(a, "--local-files-only")) o.local_files_only = true;
        else if (!strcmp(a, "--force-download")) o.force_download = true;
        else if (a[0] == '-' && a[1]) return am_cli_usage_error("download: unknown option %s", a);
        else if (!id) id = a;
        else if (!file) file = a;
        else return am_cli_usage_error("download: too many arguments");
    }
    if (!id) return am_cli_usage_error("usage: automodel download ID [FILE] [--revision R] [--cache-dir D] [--include GLOB]");
    inc[ninc] = NULL;
    if (ninc) o.include = inc;
    char *path = NULL;
    am_status st = file ? am_hub_download_file(id, file, &o, &path) : am_hub_download(id, &o, &path);
    if (st) return am_cli_fail(NULL);
    printf("%s\n", path);
    am_free(path);
    return 0;
}

/* Read a token from stdin without echoing it when stdin is a terminal. */
static char *read_secret(const char *prompt) {
    bool tty = isatty(0);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        if (tcgetattr(0, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(0, TCSAFLUSH, &quiet);
        } else tty = false;
    }
    char buf[1024];
    char *r = fgets(buf, sizeof buf, stdin);
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!r) return NULL;
    buf[strcspn(buf, "\r\n")] = 0;
    char *s = buf;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    char *out = malloc(n + 1);
    if (out) memcpy(out, s, n + 1);
    memset(buf, 0, sizeof buf);
    return out;
}

int am_cli_login(int argc, char **argv) {
    const char *endpoint = NULL;
    bool verify = true;
    for (int i = 1; i < argc; i++) {
        if (is_opt(argv[i], "--endpoint")) endpoint = opt_value(argc, argv, &i, "--endpoint");
        else if (!strcmp(argv[i], "--no-verify")) verify = false;
        else return am_cli_usage_error("usage: automodel login [--endpoint URL] [--no-verify]  (token on stdin)");
    }
    char *tok = read_secret("Enter your token (input will not be visible): ");
    if (!tok || !*tok) {
        free(tok);
        return am_cli_usage_error("login: no token given on stdin");
    }
    if (verify) {
        char *json = NULL;
        if (am_hub_whoami(endpoint, tok, &json)) {
            free(tok);
            return am_cli_fail("login");
        }
        am_free(json);
    }
    am_status st = am_hub_login(tok);
    memset(tok, 0, strlen(tok));
    free(tok);
    if (st) return am_cli_fail("login");
    fprintf(stderr, "Login successful: the token has been saved.\n");
    return 0;
}

int am_cli_logout(int argc, char **argv) {
    (void)argv;
    if (argc > 1) return am_cli_usage_error("usage: automodel logout");
    if (am_hub_logout()) return am_cli_fail("logout");
    fprintf(stderr, "Successfully logged out.\n");
    return 0;
}

int am_cli_whoami(int argc, char **argv) {
    const char *endpoint = NULL, *token = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (is_opt(argv[i], "--endpoint")) endpoint = opt_value(argc, argv, &i, "--endpoint");
        else if (is_opt(argv[i], "--token")) token = opt_value(argc, argv, &i, "--token");
        else if (!strcmp(argv[i], "--json")) json = true;
        else return am_cli_usage_error("usage: automodel whoami [--json] [--endpoint URL]");
    }
    char *out = NULL;
    if (am_hub_whoami(endpoint, token, &out)) return am_cli_fail(NULL);
    if (json) printf("%s\n", out);
    else {
        /* the "name" field, without pulling a JSON parser into the CLI */
        const char *n = strstr(out, "\"name\":\"");
        if (n) {
            n += 8;
            printf("%.*s\n", (int)strcspn(n, "\""), n);
        } else printf("%s\n", out);
    }
    am_free(out);
    return 0;
}

int am_cli_push(int argc, char **argv) {
    am_push_options o = am_push_options_default();
    const char *dir = NULL, *repo = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--private")) o.private_repo = true;
        else if (!strcmp(a, "--create-pr")) o.create_pr = true;
        else if (is_opt(a, "--commit-message")) o.commit_message = opt_value(argc, argv, &i, "--commit-message");
        else if (is_opt(a, "--commit-description")) o.commit_description = opt_value(argc, argv, &i, "--commit-description");
        else if (is_opt(a, "--revision")) o.revision = opt_value(argc, argv, &i, "--revision");
        else if (is_opt(a, "--token")) o.token = opt_value(argc, argv, &i, "--token");
        else if (is_opt(a, "--parent-commit")) o.parent_commit = opt_value(argc, argv, &i, "--parent-commit");
        else if (is_opt(a, "--repo-type")) o.repo_type = opt_value(argc, argv, &i, "--repo-type");
        else if (a[0] == '-' && a[1]) return am_cli_usage_error("push: unknown option %s", a);
        else if (!dir) dir = a;
        else if (!repo) repo = a;
        else return am_cli_usage_error("push: too many arguments");
    }
    if (!dir || !repo) return am_cli_usage_error("usage: automodel push DIR REPO_ID [--private] [--commit-message M]");
    char *commit = NULL;
    if (am_hub_upload_folder_commit(dir, repo, &o, &commit)) return am_cli_fail("push");
    printf("%s\n", commit ? commit : "");
    am_free(commit);
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

int am_cli_hub(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "serve"))
        return am_cli_usage_error(
            "usage: automodel hub serve ROOT [--host 127.0.0.1] [--port P] [--tokens FILE] [--mirror CACHE_DIR]");
    am_hub_server_options o = am_hub_server_options_default();
    const char *port_file = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is_opt(a, "--host")) o.host = opt_value(argc, argv, &i, "--host");
        else if (is_opt(a, "--port")) {
            const char *v = opt_value(argc, argv, &i, "--port");
            char *end;
            long p = v ? strtol(v, &end, 10) : -1;
            if (!v || *end || p < 0 || p > 65535) return am_cli_usage_error("hub serve: bad --port");
            o.port = (int)p;
        } else if (is_opt(a, "--tokens")) o.tokens_file = opt_value(argc, argv, &i, "--tokens");
        else if (is_opt(a, "--mirror")) o.mirror = opt_value(argc, argv, &i, "--mirror");
        else if (is_opt(a, "--threads")) {
            const char *v = opt_value(argc, argv, &i, "--threads");
            o.threads = v ? atoi(v) : 0;
        } else if (is_opt(a, "--port-file")) port_file = opt_value(argc, argv, &i, "--port-file");
        else if (is_opt(a, "--multipart-chunk")) {
            const char *v = opt_value(argc, argv, &i, "--multipart-chunk");
            o.multipart_chunk = v ? strtoull(v, NULL, 10) : 0;
        } else if (a[0] == '-' && a[1]) return am_cli_usage_error("hub serve: unknown option %s", a);
        else if (!o.root) o.root = a;
        else return am_cli_usage_error("hub serve: too many arguments");
    }
    if (!o.root) return am_cli_usage_error("hub serve: ROOT is required");
    am_hub_server *s = am_hub_server_start(&o);
    if (!s) return am_cli_fail("hub serve");
    int port = am_hub_server_port(s);
    fprintf(stderr, "automodel hub serving %s on http://%s:%d\n", o.root, o.host ? o.host : "127.0.0.1", port);
    if (port_file) { /* lets scripts pick a free port with --port 0 */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
            fprintf(stderr, "automodel: hub serve: cannot write %s\n", port_file);
            am_hub_server_free(s);
            return 1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!g_stop) pause();
    am_hub_server_free(s);
    return 0;
}
