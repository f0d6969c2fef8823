/* cli/cmd_hub.c — the hub commands: download, login, logout, whoami, push, and `hub serve`. */
#include "cli.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

typedef struct dl_ctx {
    am_download_options o;
    const char *inc[64];
    int ninc;
} dl_ctx;

static const am_cli_opt k_download_opts[] = {
    {"revision", NULL, required_argument, "R", "branch, tag or commit (default main)"},
    {"cache-dir", NULL, required_argument, "DIR", "cache folder (default: see docs/cache.md)"},
    {"token", NULL, required_argument, "TOKEN", "access token (default: HF_TOKEN, then `automodel login`'s)"},
    {"repo-type", NULL, required_argument, "TYPE", "model (default), dataset or space"},
    {"include", NULL, required_argument, "GLOB", "only files matching GLOB (repeatable)"},
    {"local-files-only", NULL, no_argument, NULL, "use the cache only, never the network"},
    {"force-download", NULL, no_argument, NULL, "download again even when cached"},
    {0},
};
const am_cli_cmd am_cli_cmd_download = {"download", "download ID [FILE] [options]",
                                        "hf_hub_download / snapshot_download into the cache; prints the local path.",
                                        k_download_opts, false};

static int dl_opt(void *ctx, const char *name, const char *v) {
    dl_ctx *c = ctx;
    if (!strcmp(name, "revision")) c->o.revision = v;
    else if (!strcmp(name, "cache-dir")) c->o.cache_dir = v;
    else if (!strcmp(name, "token")) c->o.token = v;
    else if (!strcmp(name, "repo-type")) c->o.repo_type = v;
    else if (!strcmp(name, "include")) {
        if (c->ninc >= 63) return am_cli_usage_error("download: at most 63 --include");
        c->inc[c->ninc++] = v;
    } else if (!strcmp(name, "local-files-only")) c->o.local_files_only = true;
    else if (!strcmp(name, "force-download")) c->o.force_download = true;
    return 0;
}

int am_cli_download(int argc, char **argv) {
    dl_ctx c;
    memset(&c, 0, sizeof c);
    c.o = am_download_options_default();
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_download, argc, argv, NULL, dl_opt, &c, &pos, &npos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    if (!npos) return am_cli_usage_error("download: missing ID (see automodel download --help)");
    if (npos > 2) return am_cli_usage_error("download: unexpected argument '%s'", pos[2]);
    c.inc[c.ninc] = NULL;
    if (c.ninc) c.o.include = c.inc;
    char *path = NULL;
    am_status st = npos > 1 ? am_hub_download_file(pos[0], pos[1], &c.o, &path) : am_hub_download(pos[0], &c.o, &path);
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

typedef struct acct_ctx {
    const char *endpoint, *token;
    bool verify, json;
} acct_ctx;

static int acct_opt(void *ctx, const char *name, const char *v) {
    acct_ctx *c = ctx;
    if (!strcmp(name, "endpoint")) c->endpoint = v;
    else if (!strcmp(name, "token")) c->token = v;
    else if (!strcmp(name, "no-verify")) c->verify = false;
    else if (!strcmp(name, "json")) c->json = true;
    return 0;
}

static const am_cli_opt k_login_opts[] = {
    {"endpoint", NULL, required_argument, "URL", "the hub to check the token against (default: HF_ENDPOINT, else huggingface.co)"},
    {"no-verify", NULL, no_argument, NULL, "store the token without asking the hub who it belongs to"},
    {0},
};
const am_cli_cmd am_cli_cmd_login = {"login", "login [options]   (the token is read from stdin)",
                                     "Store a hub token where huggingface-cli keeps it (HF_TOKEN_PATH, else $HF_HOME/token).",
                                     k_login_opts, false};

static int no_positional(const char *cmd, int npos, char **pos) {
    return npos ? am_cli_usage_error("%s: unexpected argument '%s'", cmd, pos[0]) : 0;
}

int am_cli_login(int argc, char **argv) {
    acct_ctx c = {NULL, NULL, true, false};
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_login, argc, argv, NULL, acct_opt, &c, &pos, &npos);
    if (!rc) rc = no_positional("login", npos, pos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    char *tok = read_secret("Enter your token (input will not be visible): ");
    if (!tok || !*tok) {
        free(tok);
        return am_cli_usage_error("login: no token given on stdin");
    }
    if (c.verify) {
        char *json = NULL;
        if (am_hub_whoami(c.endpoint, tok, &json)) {
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

static const am_cli_opt k_no_opts[] = {{0}};
const am_cli_cmd am_cli_cmd_logout = {"logout", "logout", "Delete the stored hub token.", k_no_opts, false};

int am_cli_logout(int argc, char **argv) {
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_logout, argc, argv, NULL, NULL, NULL, &pos, &npos);
    if (!rc) rc = no_positional("logout", npos, pos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    if (am_hub_logout()) return am_cli_fail("logout");
    fprintf(stderr, "Successfully logged out.\n");
    return 0;
}

static const am_cli_opt k_whoami_opts[] = {
    {"json", NULL, no_argument, NULL, "the hub's whole answer"},
    {"endpoint", NULL, required_argument, "URL", "the hub (default: HF_ENDPOINT, else huggingface.co)"},
    {"token", NULL, required_argument, "TOKEN", "ask about this token (default: the stored one)"},
    {0},
};
const am_cli_cmd am_cli_cmd_whoami = {"whoami", "whoami [options]", "The account of the token in use.", k_whoami_opts, false};

int am_cli_whoami(int argc, char **argv) {
    acct_ctx c = {NULL, NULL, true, false};
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_whoami, argc, argv, NULL, acct_opt, &c, &pos, &npos);
    if (!rc) rc = no_positional("whoami", npos, pos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    char *out = NULL;
    if (am_hub_whoami(c.endpoint, c.token, &out)) return am_cli_fail(NULL);
    if (c.json) printf("%s\n", out);
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

static const am_cli_opt k_push_opts[] = {
    {"private", NULL, no_argument, NULL, "create the repository private"},
    {"create-pr", NULL, no_argument, NULL, "open a pull request instead of committing to the branch"},
    {"commit-message", NULL, required_argument, "MSG", "the commit's title"},
    {"commit-description", NULL, required_argument, "TEXT", "the commit's description"},
    {"revision", NULL, required_argument, "BRANCH", "the branch to commit to (default main)"},
    {"token", NULL, required_argument, "TOKEN", "access token (default: HF_TOKEN, then `automodel login`'s)"},
    {"parent-commit", NULL, required_argument, "SHA", "fail unless the branch is at this commit"},
    {"repo-type", NULL, required_argument, "TYPE", "model (default), dataset or space"},
    {0},
};
const am_cli_cmd am_cli_cmd_push = {"push", "push DIR REPO_ID [options]",
                                    "upload_folder: commit DIR's files to REPO_ID (created when missing); prints the commit.",
                                    k_push_opts, false};

static int push_opt(void *ctx, const char *name, const char *v) {
    am_push_options *o = ctx;
    if (!strcmp(name, "private")) o->private_repo = true;
    else if (!strcmp(name, "create-pr")) o->create_pr = true;
    else if (!strcmp(name, "commit-message")) o->commit_message = v;
    else if (!strcmp(name, "commit-description")) o->commit_description = v;
    else if (!strcmp(name, "revision")) o->revision = v;
    else if (!strcmp(name, "token")) o->token = v;
    else if (!strcmp(name, "parent-commit")) o->parent_commit = v;
    else if (!strcmp(name, "repo-type")) o->repo_type = v;
    return 0;
}

int am_cli_push(int argc, char **argv) {
    am_push_options o = am_push_options_default();
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_push, argc, argv, NULL, push_opt, &o, &pos, &npos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    if (npos != 2)
        return npos > 2 ? am_cli_usage_error("push: unexpected argument '%s'", pos[2]) : am_cli_usage_error("push: needs DIR and REPO_ID");
    char *commit = NULL;
    if (am_hub_upload_folder_commit(pos[0], pos[1], &o, &commit)) return am_cli_fail("push");
    printf("%s\n", commit ? commit : "");
    am_free(commit);
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

typedef struct serve_ctx {
    am_hub_server_options o;
    const char *port_file;
} serve_ctx;

static const am_cli_opt k_hub_opts[] = {
    {"host", NULL, required_argument, "ADDR", "listen address (default 127.0.0.1)"},
    {"port", NULL, required_argument, "P", "listen port (0: any free one)"},
    {"port-file", NULL, required_argument, "FILE", "write the port here once listening"},
    {"tokens", NULL, required_argument, "FILE", "accounts and tokens (JSON)"},
    {"mirror", NULL, required_argument, "CACHE_DIR", "also serve the repositories of a hub cache"},
    {"threads", NULL, required_argument, "N", "worker threads"},
    {"multipart-chunk", NULL, required_argument, "BYTES", "part size of multipart uploads"},
    {"max-body", NULL, required_argument, "BYTES", "largest commit body, writers only (default 1 GiB)"},
    {"max-json-body", NULL, required_argument, "BYTES", "largest body of any other request (default 8 MiB)"},
    {"max-connections", NULL, required_argument, "N", "open connections in all (default 1024)"},
    {"max-connections-per-ip", NULL, required_argument, "N", "open connections from one address (default 64)"},
    {"timeout", NULL, required_argument, "SECONDS", "close a connection silent this long (default 30)"},
    {"fsck", NULL, no_argument, NULL, "at start, re-hash every stored object; damaged ones go to quarantine/"},
    {"no-fsync", NULL, no_argument, NULL, "skip fsync (throwaway stores): a power loss may lose acknowledged commits"},
    {0},
};
const am_cli_cmd am_cli_cmd_hub = {"hub", "hub serve ROOT [options]",
                                   "Serve the folder ROOT as a hub (the API download, upload and whoami use).", k_hub_opts, false};

static int serve_opt(void *ctx, const char *name, const char *v) {
    serve_ctx *c = ctx;
    long long n;
    if (!strcmp(name, "host")) c->o.host = v;
    else if (!strcmp(name, "port")) {
        if (am_cli_int(name, v, 0, &n) || n > 65535) return am_cli_usage_error("hub serve: bad --port '%s'", v);
        c->o.port = (int)n;
    } else if (!strcmp(name, "port-file")) c->port_file = v;
    else if (!strcmp(name, "tokens")) c->o.tokens_file = v;
    else if (!strcmp(name, "mirror")) c->o.mirror = v;
    else if (!strcmp(name, "threads")) {
        if (am_cli_int(name, v, 0, &n) || n > 1024) return am_cli_usage_error("hub serve: bad --threads '%s'", v);
        c->o.threads = (int)n;
    } else if (!strcmp(name, "multipart-chunk")) {
        if (am_cli_int(name, v, 0, &n)) return 2;
        c->o.multipart_chunk = (uint64_t)n;
    } else if (!strcmp(name, "max-body") || !strcmp(name, "max-json-body")) {
        if (am_cli_int(name, v, 1, &n)) return 2;
        *(name[4] == 'b' ? &c->o.max_body : &c->o.max_json_body) = (uint64_t)n;
    } else if (!strcmp(name, "max-connections") || !strcmp(name, "max-connections-per-ip") || !strcmp(name, "timeout")) {
        if (am_cli_int(name, v, 1, &n) || n > 1000000)
            return am_cli_usage_error("hub serve: bad --%s '%s' (1 to 1000000)", name, v);
        if (!strcmp(name, "timeout")) c->o.timeout_s = (unsigned)n;
        else if (!strcmp(name, "max-connections")) c->o.max_connections = (unsigned)n;
        else c->o.max_connections_per_ip = (unsigned)n;
    } else if (!strcmp(name, "fsck")) c->o.fsck = true;
    else if (!strcmp(name, "no-fsync")) c->o.no_fsync = true;
    return 0;
}

int am_cli_hub(int argc, char **argv) {
    serve_ctx c;
    memset(&c, 0, sizeof c);
    c.o = am_hub_server_options_default();
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_hub, argc, argv, NULL, serve_opt, &c, &pos, &npos);
    if (rc) return rc == AM_CLI_HELP ? 0 : rc;
    if (!npos || strcmp(pos[0], "serve")) return am_cli_usage_error("usage: automodel %s", am_cli_cmd_hub.usage);
    if (npos > 2) return am_cli_usage_error("hub serve: unexpected argument '%s'", pos[2]);
    am_hub_server_options o = c.o;
    const char *port_file = c.port_file;
    o.root = npos > 1 ? pos[1] : NULL;
    if (!o.root) return am_cli_usage_error("hub serve: ROOT is required");
    /* --fsck asked for a report: show its summary (an info line) even at the default level */
    am_log_level level = am_log_get_level();
    if (o.fsck && level > AM_LOG_INFO) am_log_set_level(AM_LOG_INFO);
    am_hub_server *s = am_hub_server_start(&o);
    am_log_set_level(level);
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
