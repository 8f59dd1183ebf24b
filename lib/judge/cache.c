/* judge/cache.c: the judge's verdicts in an SQLite file. */
#include "judge/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "util.h"

#define CACHE_SCHEMA_VERSION 1
#define CACHE_BUSY_MS 5000

struct judge_cache {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *get;
	sqlite3_stmt *put;
	long long (*wall_ms)(void);
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS verdicts ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" pass INTEGER NOT NULL,"
	" score REAL NOT NULL,"
	" reason TEXT NOT NULL,"
	" created_at INTEGER NOT NULL"
	") WITHOUT ROWID;";

char *judge_cache_default_path(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	/* XDG: a relative path is invalid and must be ignored. */
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/canary/judge.sqlite", xdg);
	if (home && home[0])
		return xasprintf("%s/.cache/canary/judge.sqlite", home);
	return NULL;
}

struct judge_cache *judge_cache_choose(const char *path, char **warning, char **err)
{
	char *chosen = path ? xstrdup(path) : judge_cache_default_path();
	if (!chosen)
		return NULL;
	struct judge_cache *c = judge_cache_open(chosen, err);
	free(chosen);
	if (!c && !path) {
		*warning = xasprintf("judge cache off: %s", *err);
		free(*err);
		*err = NULL;
	}
	return c;
}

/* make_dirs: mkdir -p of the folder holding path, new folders mode 0700. */
static int make_dirs(const char *path, char **err)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		struct stat st;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			*err = xasprintf("cannot create the judge cache folder '%s': %s", dir,
					 strerror(errno));
			rc = -1;
			goto out;
		}
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			*err = xasprintf("cannot create the judge cache folder '%s': not a folder",
					 dir);
			rc = -1;
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
out:
	free(dir);
	return rc;
}

/* create_private: create path, empty, mode 0600 when it does not exist, so
 * the verdicts' reasons are the user's only (SQLite gives its -wal and
 * -shm files the database file's mode).  An existing file is left alone. */
static int create_private(const char *path, char **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		*err = xasprintf("judge cache '%s': cannot create: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* cache_fail: "judge cache 'path': what" from the database's last error. */
static char *cache_fail(const struct judge_cache *c, const char *what)
{
	const char *msg = c->db ? sqlite3_errmsg(c->db) : "out of memory";
	if (what)
		return xasprintf("judge cache '%s': %s: %s", c->path, what, msg);
	return xasprintf("judge cache '%s': %s", c->path, msg);
}

struct judge_cache *judge_cache_open(const char *path, char **err)
{
	struct judge_cache *c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->wall_ms = util_wall_ms;
	int rc = -1;
	if (make_dirs(path, err) < 0 || create_private(path, err) < 0)
		goto out;
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*err = cache_fail(c, "cannot open");
		goto out;
	}
	if (sqlite3_db_readonly(c->db, "main") == 1) {
		*err = xasprintf("judge cache '%s' is read-only", path);
		goto out;
	}
	sqlite3_busy_timeout(c->db, CACHE_BUSY_MS);
	sqlite3_stmt *st = NULL;
	int version = -1;
	/* Reading the schema version is the first access: it finds a file that
	 * is not a database. */
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		*err = cache_fail(c, NULL);
		sqlite3_finalize(st);
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > CACHE_SCHEMA_VERSION) {
		*err = xasprintf("judge cache '%s' has schema version %d, newer than this "
				 "canary's %d", path, version, CACHE_SCHEMA_VERSION);
		goto out;
	}
	if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA user_version=1", NULL, NULL, NULL) != SQLITE_OK) {
		*err = cache_fail(c, NULL);
		goto out;
	}
	if (sqlite3_prepare_v2(c->db,
			       "SELECT pass, score, reason FROM verdicts WHERE key = ?1", -1,
			       &c->get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "INSERT OR REPLACE INTO verdicts (key, pass, score, reason, "
			       "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, &c->put, NULL) != SQLITE_OK) {
		*err = cache_fail(c, NULL);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		judge_cache_close(c);
		c = NULL;
	}
	return c;
}

void judge_cache_close(struct judge_cache *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sqlite3_close(c->db);
	free(c->path);
	free(c);
}

void judge_cache_set_clock(struct judge_cache *c, long long (*wall_ms)(void))
{
	c->wall_ms = wall_ms;
}

void judge_cache_key(const char *const *parts, size_t n, char out[JUDGE_CACHE_KEY_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	for (size_t i = 0; i < n; i++) {
		/* 8 bytes of length, big-endian; all ones for NULL. */
		uint64_t len = parts[i] ? (uint64_t)strlen(parts[i]) : UINT64_MAX;
		unsigned char lb[8];
		for (int b = 0; b < 8; b++)
			lb[b] = (unsigned char)(len >> (56 - 8 * b));
		EVP_DigestUpdate(ctx, lb, sizeof(lb));
		if (parts[i])
			EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 != JUDGE_CACHE_KEY_HEX)
		abort();
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[JUDGE_CACHE_KEY_HEX] = '\0';
}

int judge_cache_get(struct judge_cache *c, const char *key, bool *pass, double *score,
		    char **reason, char **err)
{
	int rc = -1;
	sqlite3_reset(c->get);
	sqlite3_bind_text(c->get, 1, key, -1, SQLITE_STATIC);
	int step = sqlite3_step(c->get);
	if (step == SQLITE_DONE) {
		rc = 0;
	} else if (step == SQLITE_ROW) {
		const unsigned char *r = sqlite3_column_text(c->get, 2);
		double s = sqlite3_column_double(c->get, 1);
		/* A row that no verdict could have written is treated as a miss. */
		if (!(s >= 0 && s <= 1)) {
			rc = 0;
			goto out;
		}
		*pass = sqlite3_column_int(c->get, 0) != 0;
		*score = s;
		*reason = xstrdup(r ? (const char *)r : "");
		rc = 1;
	} else {
		*err = cache_fail(c, "cannot read");
	}
out:
	sqlite3_reset(c->get);
	sqlite3_clear_bindings(c->get);
	return rc;
}

int judge_cache_put(struct judge_cache *c, const char *key, bool pass, double score,
		    const char *reason, char **err)
{
	int rc = 0;
	sqlite3_reset(c->put);
	sqlite3_bind_text(c->put, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(c->put, 2, pass ? 1 : 0);
	sqlite3_bind_double(c->put, 3, score);
	sqlite3_bind_text(c->put, 4, reason ? reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(c->put, 5, (sqlite3_int64)(c->wall_ms() / 1000));
	if (sqlite3_step(c->put) != SQLITE_DONE) {
		*err = cache_fail(c, "cannot write");
		rc = -1;
	}
	sqlite3_reset(c->put);
	sqlite3_clear_bindings(c->put);
	return rc;
}

long judge_cache_prune(struct judge_cache *c, int days, char **err)
{
	sqlite3_stmt *st = NULL;
	long n = -1;
	if (sqlite3_prepare_v2(c->db, "DELETE FROM verdicts WHERE created_at < ?1", -1, &st,
			       NULL) != SQLITE_OK) {
		*err = cache_fail(c, "cannot prune");
		goto out;
	}
	sqlite3_int64 now = (sqlite3_int64)(c->wall_ms() / 1000);
	sqlite3_bind_int64(st, 1, now - (sqlite3_int64)days * 86400);
	if (sqlite3_step(st) != SQLITE_DONE) {
		*err = cache_fail(c, "cannot prune");
		goto out;
	}
	n = sqlite3_changes(c->db);
out:
	sqlite3_finalize(st);
	return n;
}
