/* tests/fuzz/fuzz_hub.c — the hub's parsers of untrusted names and encodings: repo ids, repo
 * paths, revisions, percent-decoding, base64, Authorization values (Bearer / Basic), URL joining. Invariants: a valid path never has a
 * ".." or empty part or a control byte; decoding never yields NUL; base64 round-trips. */
#include "hub/hub.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char why[256];
    if (am__hub_valid_repo_id(s, why, sizeof why)) {
        REQUIRE(!strstr(s, "..") && !strstr(s, "--") && s[0] != '/' && strlen(s) <= 193);
        char *f = am__hub_repo_folder("model", s);
        REQUIRE(f && !strchr(f, '/'));
        free(f);
    }
    if (am__hub_valid_repo_path(s)) {
        REQUIRE(s[0] != '/' && !strstr(s, "//"));
        for (const char *p = s; *p; p++) REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '\\');
        char *copy = strdup(s);
        for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) REQUIRE(strcmp(tok, "..") && strcmp(tok, "."));
        free(copy);
    }
    (void)am__hub_valid_revision(s);
    (void)am__hub_is_commit(s);
    char *u = am__hub_unquote((const char *)data, size);
    if (u) {
        REQUIRE(strlen(u) <= size);
        char *q = am__hub_quote(u, false);
        char *back = q ? am__hub_unquote(q, strlen(q)) : NULL;
        REQUIRE(!q || (back && !strcmp(back, u)));
        free(q), free(back), free(u);
    }
    uint8_t *dec = NULL;
    size_t dl = 0;
    if (am__base64_decode(s, size, &dec, &dl)) {
        char *enc = am__base64_encode(dec, dl, NULL);
        uint8_t *dec2 = NULL;
        size_t dl2 = 0;
        REQUIRE(enc && am__base64_decode(enc, strlen(enc), &dec2, &dl2) && dl2 == dl && !memcmp(dec, dec2, dl));
        free(enc), free(dec2), free(dec);
    }
    /* Authorization values: a Basic token read back from "Basic base64(x:TOKEN)" is the same token */
    char *tok = am__hub_auth_token(s);
    if (tok) {
        REQUIRE(*tok && strlen(tok) <= size);
        size_t tl = strlen(tok);
        char *cred = malloc(tl + 3);
        if (cred) {
            memcpy(cred, "x:", 2);
            memcpy(cred + 2, tok, tl + 1);
            char *b64 = am__base64_encode(cred, tl + 2, NULL);
            char *hdr = b64 ? malloc(strlen(b64) + 7) : NULL;
            if (hdr) {
                memcpy(hdr, "Basic ", 6);
                strcpy(hdr + 6, b64);
                char *back = am__hub_auth_token(hdr);
                REQUIRE(back && !strcmp(back, tok));
                free(back);
            }
            free(hdr), free(b64), free(cred);
        }
        free(tok);
    }
    char *j = NULL;
    am_status js = am__url_join("http://host:1/a/b/resolve/main/x", s, &j);
    REQUIRE((js == AM_OK) == (j != NULL));
    free(j);
    char *o = am__url_origin(s);
    free(o);
    free(s);
    return 0;
}
