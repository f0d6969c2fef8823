/* hub/store.h — the server's repository store: repos under ROOT with content-addressed objects,
 * immutable commits (snapshots of path -> object) and refs; plus read-only repos from an HF cache
 * (--mirror). Private to the server (server.c, store.c). */
#ifndef AM_HUB_STORE_H
#define AM_HUB_STORE_H
#include "hub/hub.h"
#include <cJSON.h>

typedef struct st_file {
    char *path;
    char sha256[65]; /* "" when unknown (mirror of a regular file) */
    char sha1[41];   /* git blob id; "" when unknown */
    uint64_t size;
    bool lfs;
    char *blob;      /* absolute path of the content */
} st_file;

typedef struct st_commit {
    char id[41];
    char parent[41];
    char *title, *message, *author, *date;
    st_file *files; /* sorted by path */
    size_t n;
} st_commit;
void am__store_commit_free(st_commit *c);

typedef struct st_repo {
    char id[200];
    char type[16];   /* "model" ... */
    char *dir;       /* ROOT/models--ns--name, or the mirror's cache folder */
    bool mirror;
    bool private_;
    char owner[100]; /* the namespace */
    bool nosync;     /* the store's nosync */
} st_repo;
void am__store_repo_free(st_repo *r);

typedef struct st_store {
    char *root;
    char *mirror; /* realpath or NULL */
    bool nosync;  /* skip fsync (throwaway stores, benchmarks); writes stay atomic, not durable */
} st_store;

/* AM_ERR_NOT_FOUND when absent. */
am_status am__store_repo_open(const st_store *s, const char *type, const char *id, st_repo *out);
/* A revision (branch, tag, refs/pr/N, refs/heads/x, full commit) -> commit id. */
am_status am__store_resolve_rev(const st_repo *r, const char *rev, char out[41]);
am_status am__store_load_commit(const st_repo *r, const char *commit, st_commit *out);
const st_file *am__store_find(const st_commit *c, const char *path);
/* The etag clients cache a file by: sha256 for LFS files, git sha1 otherwise. */
const char *am__store_etag(const st_file *f);

/* Writes; the caller holds the server's write lock. */
am_status am__store_repo_create(const st_store *s, const char *type, const char *id, bool private_, const char *author);
/* Store bytes as an object (sha256-named); *sha256/sha1 out. */
am_status am__store_put_object(const st_repo *r, const void *data, size_t n, char sha256[65], char sha1[41]);
bool am__store_has_object(const st_repo *r, const char *sha256, uint64_t *size);
char *am__store_object_path(const st_repo *r, const char *sha256);
char *am__store_tmp_path(const st_repo *r, const char *name);
/* Write a commit object and point ref `refpath` ("refs/heads/main") at it, atomically. */
am_status am__store_write_commit(const st_repo *r, st_commit *c, const char *refpath);
am_status am__store_write_ref(const st_repo *r, const char *refpath, const char *commit);
bool am__store_ref_exists(const st_repo *r, const char *refpath);
am_status am__store_delete_ref(const st_repo *r, const char *refpath);
/* The names under refs/heads, refs/tags, refs/pr (malloc'd array of malloc'd "refs/..."). */
char **am__store_list_refs(const st_repo *r, size_t *n);
am_status am__store_repo_delete(const st_repo *r);
/* fsync the folder that holds `path` (after a rename or unlink into it); AM_OK when nosync. */
am_status am__store_sync_parent(const char *path, bool nosync);
/* Startup: delete what a crash or a killed upload left behind (every repo's tmp/, and the
 * ".tmp." files of interrupted atomic writes). Returns the number of files removed. */
size_t am__store_cleanup(const st_store *s);
/* Re-hash every stored object of every repo; an object whose bytes do not hash to its name is
 * moved to {repo}/quarantine/ (so it is no longer served and can be uploaded again).
 * *checked / *bad count objects. AM_OK even when some were bad; an error only for I/O. */
am_status am__store_fsck(const st_store *s, size_t *checked, size_t *bad);
#endif
