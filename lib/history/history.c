/* history/history.c: runs recorded in SQLite, and the queries over them. */
#include "history/history.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fingerprint/fingerprint.h"
#include "report/report.h"
#include "util.h"

struct history {
	sqlite3 *db;
	char *path;
	bool readonly;
	int version;           /* the schema version when opened */
	long busy_ms;
};

/*
 * The schema, as forward migrations: migrations[i] takes a history from
 * version i to version i + 1.  Never edit a released step; add one.
 */
static const char *const migrations[] = {
	/* 0 -> 1: runs and everything measured in them. */
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY,"
	" suite TEXT NOT NULL,"
	" suite_hash TEXT,"
	" started_at INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL,"
	" verdict TEXT NOT NULL,"
	" exit_code INTEGER NOT NULL,"
	" interrupted INTEGER NOT NULL DEFAULT 0,"
	" eval_url TEXT,"
	" prod_url TEXT,"
	" canary_version TEXT);"
	"CREATE INDEX runs_suite_started ON runs (suite, started_at);"
	"CREATE TABLE fingerprints ("
	" run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" side TEXT NOT NULL CHECK (side IN ('eval', 'prod')),"
	" value TEXT NOT NULL,"
	" count INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, side, value)) WITHOUT ROWID;"
	"CREATE INDEX fingerprints_value ON fingerprints (value, side);"
	"CREATE TABLE strata ("
	" run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" stratum TEXT NOT NULL,"
	" position INTEGER NOT NULL,"
	" verdict TEXT NOT NULL,"
	" cases INTEGER NOT NULL,"
	" eval_passed INTEGER NOT NULL,"
	" prod_passed INTEGER NOT NULL,"
	" p_value REAL,"
	" PRIMARY KEY (run_id, stratum)) WITHOUT ROWID;"
	"CREATE TABLE cases ("
	" run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" case_id TEXT NOT NULL,"
	" stratum TEXT NOT NULL,"
	" position INTEGER NOT NULL,"
	" verdict TEXT NOT NULL,"
	" eval_passed INTEGER NOT NULL,"
	" eval_total INTEGER NOT NULL,"
	" prod_passed INTEGER NOT NULL,"
	" prod_total INTEGER NOT NULL,"
	" p_value REAL,"
	" PRIMARY KEY (run_id, case_id)) WITHOUT ROWID;"
	"CREATE TABLE samples ("
	" run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" case_id TEXT NOT NULL,"
	" stratum TEXT NOT NULL,"
	" side TEXT NOT NULL CHECK (side IN ('eval', 'prod')),"
	" idx INTEGER NOT NULL,"
	" grade TEXT NOT NULL CHECK (grade IN ('pass', 'fail', 'error')),"
	" reason TEXT,"
	" latency_ms REAL,"
	" status INTEGER,"
	" attempts INTEGER,"
	" fingerprint TEXT,"
	" PRIMARY KEY (run_id, case_id, side, idx)) WITHOUT ROWID;",
	/* 1 -> 2: shards, and what --notify last told each suite's receivers. */
	"ALTER TABLE runs ADD COLUMN shard TEXT;"
	"CREATE TABLE notifications ("
	" suite TEXT PRIMARY KEY NOT NULL,"
	" state TEXT NOT NULL,"
	" sent_at INTEGER NOT NULL);",
	/* 2 -> 3: the requests a sample took (a conversation's steps). */
	"ALTER TABLE samples ADD COLUMN steps INTEGER;",
	/* 3 -> 4: the failing strata --notify last told (NULL: not known). */
	"ALTER TABLE notifications ADD COLUMN strata TEXT;",
	/* 4 -> 5: the tokens each reply declared, what they cost, and a streamed
	 * reply's time to first token. */
	"ALTER TABLE samples ADD COLUMN input_tokens INTEGER;"
	"ALTER TABLE samples ADD COLUMN output_tokens INTEGER;"
	"ALTER TABLE samples ADD COLUMN cost_usd REAL;"
	"ALTER TABLE samples ADD COLUMN ttft_ms REAL;",
};

_Static_assert(ARRAY_SIZE(migrations) == HISTORY_SCHEMA_VERSION,
	       "one migration per schema version");

#define FP_PREFIX "sha256:"

/* db_error: "history 'path': what: why", the why in plain words for the
 * failures a user can act on. */
static char *db_error(const struct history *h, int rc, const char *what)
{
	const char *msg = h->db ? sqlite3_errmsg(h->db) : "out of memory";
	const char *sep = what ? ": " : "";
	what = what ? what : "";
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return xasprintf("history '%s'%s%s: locked by another process for more than "
				 "%ld ms", h->path, sep, what, h->busy_ms);
	case SQLITE_READONLY:
		return xasprintf("history '%s'%s%s: read-only file or folder (%s)", h->path,
				 sep, what, msg);
	case SQLITE_FULL:
		return xasprintf("history '%s'%s%s: disk full", h->path, sep, what);
	case SQLITE_NOTADB:
		return xasprintf("'%s' is not a canary history (not an SQLite database)",
				 h->path);
	case SQLITE_CANTOPEN:
		return xasprintf("history '%s'%s%s: cannot open the file or its journal beside "
				 "it (is the folder read-only?): %s", h->path, sep, what, msg);
	default:
		return xasprintf("history '%s'%s%s: %s", h->path, sep, what, msg);
	}
}

/* exec_sql: run sql (no rows); -1 and *err on failure. */
static int exec_sql(struct history *h, const char *sql, const char *what, char **err)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*err = db_error(h, rc, what);
		return -1;
	}
	return 0;
}

static int prepare(struct history *h, const char *sql, sqlite3_stmt **st, const char *what,
		   char **err)
{
	int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*err = db_error(h, rc, what);
		sqlite3_finalize(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

/* step_done: step a statement that returns no row, then reset it. */
static int step_done(struct history *h, sqlite3_stmt *st, const char *what, char **err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		*err = db_error(h, rc, what);
		return -1;
	}
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? xstrdup((const char *)s) : NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int user_version(struct history *h, int *version, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		*err = db_error(h, rc, "cannot read the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* foreign_tables: whether the database holds tables although its version
 * is 0, i.e. it is some other program's database. */
static int foreign_tables(struct history *h, bool *any, char **err)
{
	sqlite3_stmt *st = NULL;
	if (prepare(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &st,
		    "cannot read the schema", err) < 0)
		return -1;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		*err = db_error(h, rc, "cannot read the schema");
		sqlite3_finalize(st);
		return -1;
	}
	*any = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	return 0;
}

/* check_version: refuse a newer schema and another program's database. */
static int check_version(struct history *h, int version, char **err)
{
	if (version > HISTORY_SCHEMA_VERSION) {
		*err = xasprintf("history '%s' has schema version %d, newer than this canary's "
				 "%d", h->path, version, HISTORY_SCHEMA_VERSION);
		return -1;
	}
	if (version == 0) {
		bool any = false;
		if (foreign_tables(h, &any, err) < 0)
			return -1;
		if (any) {
			*err = xasprintf("'%s' is an SQLite database but not a canary history",
					 h->path);
			return -1;
		}
	}
	return 0;
}

/* migrate: bring the schema to HISTORY_SCHEMA_VERSION in one write
 * transaction, reading the version inside it so that two processes opening
 * a new history at once migrate it once. */
static int migrate(struct history *h, char **err)
{
	int version = 0, rc = -1;
	if (exec_sql(h, "BEGIN IMMEDIATE", "cannot write", err) < 0)
		return -1;
	if (user_version(h, &version, err) < 0 || check_version(h, version, err) < 0)
		goto out;
	for (int v = version; v < HISTORY_SCHEMA_VERSION; v++) {
		char *what = xasprintf("cannot migrate from schema version %d", v);
		int step = exec_sql(h, migrations[v], what, err);
		free(what);
		if (step < 0)
			goto out;
	}
	if (version < HISTORY_SCHEMA_VERSION) {
		char *sql = xasprintf("PRAGMA user_version = %d", HISTORY_SCHEMA_VERSION);
		int step = exec_sql(h, sql, "cannot migrate", err);
		free(sql);
		if (step < 0)
			goto out;
	}
	if (exec_sql(h, "COMMIT", "cannot write", err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static struct history *history_new(const char *path)
{
	struct history *h = xcalloc(1, sizeof(*h));
	h->path = xstrdup(path);
	h->busy_ms = HISTORY_BUSY_MS;
	return h;
}

/* check_path: a history is a regular file (or not there yet). */
static int check_path(const char *path, bool must_exist, char **err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		*err = errno == ENOENT ? xasprintf("no history at '%s'", path)
				       : xasprintf("cannot open history '%s': %s", path,
						   strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = xasprintf("cannot open history '%s': not a regular file", path);
		return -1;
	}
	return 0;
}

/* set_wal: switch to WAL mode, which needs the folder to be writable (for
 * the -wal file).  The switch needs an exclusive lock, and SQLite does not
 * wait for it when two processes open a new history at once (it would
 * deadlock), so a busy switch is retried until the busy timeout. */
static int set_wal(struct history *h, char **err)
{
	const char *what = "cannot switch to WAL mode";
	double deadline = util_now_ms() + (double)h->busy_ms;
	for (;;) {
		sqlite3_stmt *st = NULL;
		if (prepare(h, "PRAGMA journal_mode = WAL", &st, what, err) < 0)
			return -1;
		int step = sqlite3_step(st);
		const unsigned char *mode = step == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
		bool wal = mode && strcmp((const char *)mode, "wal") == 0;
		sqlite3_finalize(st);
		if (wal)
			return 0;
		if (step == SQLITE_ROW) {
			*err = xasprintf("history '%s': %s (is the folder read-only?)", h->path,
					 what);
			return -1;
		}
		if ((step != SQLITE_BUSY && step != SQLITE_LOCKED) || util_now_ms() > deadline) {
			*err = db_error(h, step, what);
			return -1;
		}
		/* 1-10 ms, jittered so that two openers do not retry in step. */
		usleep((useconds_t)(1000 + util_random() * 9000));
	}
}

struct history *history_open(const char *path, char **err)
{
	struct history *h = history_new(path);
	int rc = -1;
	if (check_path(path, false, err) < 0)
		goto out;
	int orc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (orc != SQLITE_OK) {
		*err = db_error(h, orc, "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(h->db, 0);
	if (sqlite3_db_readonly(h->db, "main") == 1) {
		*err = xasprintf("history '%s' is read-only", path);
		goto out;
	}
	sqlite3_busy_timeout(h->db, (int)h->busy_ms);
	int version = 0;
	/* The first read finds a file that is not a database.  The version and
	 * the tables are read in one transaction, so a history that another
	 * process creates meanwhile is seen whole or not at all. */
	if (exec_sql(h, "BEGIN", NULL, err) < 0 || user_version(h, &version, err) < 0 ||
	    check_version(h, version, err) < 0 || exec_sql(h, "COMMIT", NULL, err) < 0)
		goto out;
	h->version = version;
	if (exec_sql(h, "PRAGMA foreign_keys = ON", NULL, err) < 0)
		goto out;
	if (set_wal(h, err) < 0 || migrate(h, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		history_close(h);
		h = NULL;
	}
	return h;
}

/* copy_to_memory: replace h's database by a copy in memory, so that an
 * older read-only history can be migrated without writing the file. */
static int copy_to_memory(struct history *h, char **err)
{
	sqlite3 *mem = NULL;
	int rc = -1;
	if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		*err = xasprintf("history '%s': cannot open a copy in memory", h->path);
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(mem, "main", h->db, "main");
	if (!b) {
		*err = xasprintf("history '%s': cannot copy: %s", h->path, sqlite3_errmsg(mem));
		goto out;
	}
	int step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, "cannot copy");
		goto out;
	}
	sqlite3_close(h->db);
	h->db = mem;
	mem = NULL;
	rc = 0;
out:
	sqlite3_close(mem);
	return rc;
}

/* open_readonly: (re)open h's file read-only; immutable: without locks or
 * WAL files, for a file nobody can be writing. */
static int open_readonly(struct history *h, bool immutable, char **err)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf uri;
	sqlite3_close(h->db);
	h->db = NULL;
	buf_init(&uri, BUF_MAX_DEFAULT);
	/* An empty authority, so that a path starting with "//" stays a path. */
	buf_addstr(&uri, h->path[0] == '/' ? "file://" : "file:");
	for (const unsigned char *p = (const unsigned char *)h->path; *p; p++) {
		if (isalnum(*p) || strchr("/-._~", *p)) {
			buf_addch(&uri, (char)*p);
		} else {
			buf_addch(&uri, '%');
			buf_addch(&uri, hex[*p >> 4]);
			buf_addch(&uri, hex[*p & 15]);
		}
	}
	buf_addstr(&uri, immutable ? "?mode=ro&immutable=1" : "?mode=ro");
	int rc = sqlite3_open_v2(uri.data, &h->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	buf_release(&uri);
	if (rc != SQLITE_OK) {
		*err = db_error(h, rc, "cannot open");
		return -1;
	}
	sqlite3_extended_result_codes(h->db, 0);
	sqlite3_busy_timeout(h->db, (int)h->busy_ms);
	return 0;
}

struct history *history_open_readonly(const char *path, char **err)
{
	struct history *h = history_new(path);
	int rc = -1;
	h->readonly = true;
	if (check_path(path, true, err) < 0)
		goto out;
	int version = 0;
	if (open_readonly(h, false, err) < 0)
		goto out;
	if (user_version(h, &version, err) < 0) {
		/* A history in WAL mode in a folder this user cannot write has no
		 * -shm file to read it through: read the file as it is. */
		int code = sqlite3_errcode(h->db);
		if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY)
			goto out;
		free(*err);
		*err = NULL;
		if (open_readonly(h, true, err) < 0 || user_version(h, &version, err) < 0)
			goto out;
	}
	if (check_version(h, version, err) < 0)
		goto out;
	h->version = version;
	if (version < HISTORY_SCHEMA_VERSION &&
	    (copy_to_memory(h, err) < 0 || migrate(h, err) < 0))
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		history_close(h);
		h = NULL;
	}
	return h;
}

void history_close(struct history *h)
{
	if (!h)
		return;
	sqlite3_close(h->db);
	free(h->path);
	free(h);
}

void history_set_busy_timeout(struct history *h, long ms)
{
	h->busy_ms = ms;
	sqlite3_busy_timeout(h->db, ms > INT_MAX ? INT_MAX : (int)ms);
}

int history_schema_version(struct history *h)
{
	return h->version;
}

void history_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Recording.
 */

static int record_fingerprints(struct history *h, sqlite3_stmt *st, const struct report *r,
			       long long id, char **err)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		for (size_t i = 0; i < t->nfingerprints; i++) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, side_name((enum side)side), -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, t->fingerprints[i].value, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, t->fingerprints[i].count);
			if (step_done(h, st, "cannot record the run", err) < 0)
				return -1;
		}
	}
	return 0;
}

static int record_strata(struct history *h, sqlite3_stmt *st, const struct report *r,
			 long long id, char **err)
{
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!s->selected || s->ncases == 0)
			continue;
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, s->name);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
		sqlite3_bind_text(st, 4, verdict_name(s->verdict), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, s->ncases);
		sqlite3_bind_int(st, 6, s->passed[SIDE_EVAL]);
		sqlite3_bind_int(st, 7, s->passed[SIDE_PROD]);
		if (s->tested && isfinite(s->p_value))
			sqlite3_bind_double(st, 8, s->p_value);
		else
			sqlite3_bind_null(st, 8);
		if (step_done(h, st, "cannot record the run", err) < 0)
			return -1;
	}
	return 0;
}

static void bind_tokens(sqlite3_stmt *st, int i, long long n)
{
	if (n >= 0)
		sqlite3_bind_int64(st, i, n);
	else
		sqlite3_bind_null(st, i);
}

/* bind_cost: what usage cost at t's price; NULL without a price or tokens. */
static void bind_cost(sqlite3_stmt *st, int i, const struct report_target *t,
		      const struct report_usage *u)
{
	if (!t->priced || (u->input < 0 && u->output < 0)) {
		sqlite3_bind_null(st, i);
		return;
	}
	double in = u->input > 0 ? (double)u->input : 0, out = u->output > 0 ? (double)u->output : 0;
	sqlite3_bind_double(st, i, (in * t->price_input + out * t->price_output) / 1e6);
}

static int record_samples(struct history *h, sqlite3_stmt *st, const struct report *r,
			  const struct report_case *c, long long id, char **err)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_side *rs = &c->side[side];
		for (size_t k = 0; k < rs->nsamples; k++) {
			const struct report_sample *s = &rs->samples[k];
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, c->id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, r->strata[c->stratum].name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 4, side_name((enum side)side), -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 5, s->index);
			sqlite3_bind_text(st, 6, grade_name(s->grade), -1, SQLITE_STATIC);
			bind_text(st, 7, s->nreasons > 0 ? s->reasons[0] : NULL);
			sqlite3_bind_double(st, 8, isfinite(s->latency_ms) ? s->latency_ms : 0);
			sqlite3_bind_int64(st, 9, s->status);
			sqlite3_bind_int(st, 10, s->attempts);
			bind_text(st, 11, s->fingerprint);
			sqlite3_bind_int(st, 12, (int)report_sample_steps(s));
			bind_tokens(st, 13, s->usage.input);
			bind_tokens(st, 14, s->usage.output);
			bind_cost(st, 15, &r->targets[side], &s->usage);
			if (s->ttft_ms >= 0 && isfinite(s->ttft_ms))
				sqlite3_bind_double(st, 16, s->ttft_ms);
			else
				sqlite3_bind_null(st, 16);
			if (step_done(h, st, "cannot record the run", err) < 0)
				return -1;
		}
	}
	return 0;
}

static int record_cases(struct history *h, sqlite3_stmt *case_st, sqlite3_stmt *sample_st,
			const struct report *r, long long id, char **err)
{
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		sqlite3_bind_int64(case_st, 1, id);
		sqlite3_bind_text(case_st, 2, c->id, -1, SQLITE_TRANSIENT);
		bind_text(case_st, 3, r->strata[c->stratum].name);
		sqlite3_bind_int64(case_st, 4, c->position >= 0 ? c->position : (long long)i);
		sqlite3_bind_text(case_st, 5, verdict_name(c->verdict), -1, SQLITE_STATIC);
		sqlite3_bind_int(case_st, 6, c->side[SIDE_EVAL].passed);
		sqlite3_bind_int(case_st, 7, report_side_total(&c->side[SIDE_EVAL]));
		sqlite3_bind_int(case_st, 8, c->side[SIDE_PROD].passed);
		sqlite3_bind_int(case_st, 9, report_side_total(&c->side[SIDE_PROD]));
		if (report_case_repeated(c) && isfinite(c->p_value))
			sqlite3_bind_double(case_st, 10, c->p_value);
		else
			sqlite3_bind_null(case_st, 10);
		if (step_done(h, case_st, "cannot record the run", err) < 0 ||
		    record_samples(h, sample_st, r, c, id, err) < 0)
			return -1;
	}
	return 0;
}

/* started_ms: when the run of r started, in Unix ms: as the run measured
 * it, or read from a saved report's started_at. */
static int started_ms(const struct report *r, long long *ms, char **err)
{
	if (r->started_ms >= 0) {
		*ms = r->started_ms;
		return 0;
	}
	if (history_parse_time(r->started_at, ms) == 0)
		return 0;
	*err = xasprintf("cannot record a run whose 'started_at' is not a time: '%s'",
			 r->started_at ? r->started_at : "");
	return -1;
}

/* insert_run: the inserts of history_record(), in the caller's transaction;
 * started: r's start in Unix ms. */
static int insert_run(struct history *h, const struct report *r, const char *suite_hash,
		      long long started, long long *run_id, char **err)
{
	enum { RUN, FP, STRATUM, CASE, SAMPLE, NSTMT };
	static const char *const sql[NSTMT] = {
		"INSERT INTO runs (suite, suite_hash, started_at, duration_ms, verdict, "
		"exit_code, interrupted, eval_url, prod_url, canary_version, shard) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
		"INSERT INTO fingerprints (run_id, side, value, count) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (run_id, side, value) DO UPDATE SET count = count + excluded.count",
		"INSERT INTO strata (run_id, stratum, position, verdict, cases, eval_passed, "
		"prod_passed, p_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		"INSERT INTO cases (run_id, case_id, stratum, position, verdict, eval_passed, "
		"eval_total, prod_passed, prod_total, p_value) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		"INSERT INTO samples (run_id, case_id, stratum, side, idx, grade, reason, "
		"latency_ms, status, attempts, fingerprint, steps, input_tokens, output_tokens, "
		"cost_usd, ttft_ms) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	};
	sqlite3_stmt *st[NSTMT] = {NULL};
	const char *what = "cannot record the run";
	char *shard = r->shard_count > 0 ? xasprintf("%d/%d", r->shard_index, r->shard_count)
					 : NULL;
	int rc = -1;

	for (int i = 0; i < NSTMT; i++)
		if (prepare(h, sql[i], &st[i], what, err) < 0)
			goto out;
	bind_text(st[RUN], 1, r->suite);
	bind_text(st[RUN], 2, suite_hash);
	sqlite3_bind_int64(st[RUN], 3, started);
	sqlite3_bind_int64(st[RUN], 4, (sqlite3_int64)r->duration_ms);
	sqlite3_bind_text(st[RUN], 5, verdict_name(r->verdict), -1, SQLITE_STATIC);
	sqlite3_bind_int(st[RUN], 6, r->exit_code);
	sqlite3_bind_int(st[RUN], 7, r->interrupted ? 1 : 0);
	bind_text(st[RUN], 8, r->targets[SIDE_EVAL].url);
	bind_text(st[RUN], 9, r->targets[SIDE_PROD].url);
	bind_text(st[RUN], 10, r->canary_version);
	bind_text(st[RUN], 11, shard);
	if (step_done(h, st[RUN], what, err) < 0)
		goto out;
	long long id = sqlite3_last_insert_rowid(h->db);
	if (record_fingerprints(h, st[FP], r, id, err) < 0 ||
	    record_strata(h, st[STRATUM], r, id, err) < 0 ||
	    record_cases(h, st[CASE], st[SAMPLE], r, id, err) < 0)
		goto out;
	*run_id = id;
	rc = 0;
out:
	for (int i = 0; i < NSTMT; i++)
		sqlite3_finalize(st[i]);
	free(shard);
	return rc;
}

/* find_recorded: the id of a recorded run that the run of r is, or holds
 * the samples of (0: none), in the caller's transaction. */
static int find_recorded(struct history *h, const struct report *r, long long started,
			 long long *id, char **err)
{
	const char *what = "cannot read runs";
	sqlite3_stmt *st = NULL;
	char *shard = r->shard_count > 0 ? xasprintf("%d/%d", r->shard_index, r->shard_count)
					 : NULL;
	int rc = -1;

	/* The same run: the same suite, start (to the second: reports keep
	 * seconds), duration and shard.  Or a merge and its first shard, which
	 * started when the merge says it did: an unsharded run and a shard run
	 * of the suite that started in the same second. */
	if (prepare(h,
		    "SELECT id FROM runs WHERE suite = ?1 AND started_at / 1000 = ?2 / 1000 AND ("
		    " (duration_ms = ?3 AND coalesce(shard, '') = coalesce(?4, ''))"
		    " OR ((shard IS NULL) != (?4 IS NULL))"
		    ") ORDER BY id LIMIT 1",
		    &st, what, err) < 0)
		goto out;
	bind_text(st, 1, r->suite);
	sqlite3_bind_int64(st, 2, started);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->duration_ms);
	bind_text(st, 4, shard);
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	*id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(shard);
	return rc;
}

/* record: history_record() (import: history_import()) in one write
 * transaction. */
static int record(struct history *h, const struct report *r, const char *suite_hash,
		  bool import, long long *run_id, long long *recorded, char **err)
{
	const char *what = "cannot record the run";
	long long started = 0, id = 0, found = 0;
	int rc = -1;

	if (h->readonly) {
		*err = xasprintf("history '%s' was opened read-only", h->path);
		return -1;
	}
	if (!r->suite) {
		*err = xstrdup("cannot record a run without its suite");
		return -1;
	}
	if (started_ms(r, &started, err) < 0)
		return -1;
	if (exec_sql(h, "BEGIN IMMEDIATE", what, err) < 0)
		return -1;
	if (import && find_recorded(h, r, started, &found, err) < 0)
		goto out;
	if (found == 0 && insert_run(h, r, suite_hash, started, &id, err) < 0)
		goto out;
	if (exec_sql(h, "COMMIT", what, err) < 0)
		goto out;
	if (run_id && id)
		*run_id = id;
	if (recorded)
		*recorded = found;
	rc = 0;
out:
	if (rc < 0)
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int history_record(struct history *h, const struct report *r, const char *suite_hash,
		   long long *run_id, char **err)
{
	return record(h, r, suite_hash, false, run_id, NULL, err);
}

int history_import(struct history *h, const struct report *r, long long *run_id,
		   long long *recorded, char **err)
{
	return record(h, r, NULL, true, run_id, recorded, err);
}

/*
 * Fingerprints of a run against the history.
 */

static void list_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* Fingerprint values read to be compared by composition (fingerprint_same():
 * spelt with hash prefixes, in another case or order, a value still names
 * the composition it abbreviates). */
struct fp_set {
	char **values;
	size_t n;
	struct fingerprint_read *read;
};

static void fp_set_read(struct fp_set *set)
{
	set->read = xcalloc(set->n + 1, sizeof(*set->read));
	for (size_t i = 0; i < set->n; i++)
		fingerprint_read(&set->read[i], set->values[i]);
}

static bool fp_set_has(const struct fp_set *set, const struct fingerprint_read *f)
{
	for (size_t i = 0; i < set->n; i++)
		if (fingerprint_read_same(&set->read[i], f))
			return true;
	return false;
}

static void fp_set_release(struct fp_set *set)
{
	for (size_t i = 0; set->read && i < set->n; i++)
		fingerprint_read_release(&set->read[i]);
	free(set->read);
	history_strings_free(set->values, set->n);
	*set = (struct fp_set){0};
}

/* fp_set_query: the values of st's first column (bound by the caller). */
static int fp_set_query(struct history *h, sqlite3_stmt *st, struct fp_set *set,
			const char *what, char **err)
{
	int step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		if (v)
			list_add(&set->values, &set->n, (const char *)v);
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		return -1;
	}
	return 0;
}

/* prod_not_in: r's prod fingerprints, one per composition, that name none
 * of the compositions of known, sorted. */
static void prod_not_in(const struct report *r, const struct fp_set *known, char ***out,
			size_t *n)
{
	const struct report_target *t = &r->targets[SIDE_PROD];
	struct fingerprint_read *prod = xcalloc(t->nfingerprints + 1, sizeof(*prod));
	bool *listed = xcalloc(t->nfingerprints + 1, sizeof(*listed));

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < t->nfingerprints; i++) {
		fingerprint_read(&prod[i], t->fingerprints[i].value);
		bool seen = fp_set_has(known, &prod[i]);
		for (size_t k = 0; k < i && !seen; k++)
			seen = listed[k] && fingerprint_read_same(&prod[k], &prod[i]);
		if (seen)
			continue;
		listed[i] = true;
		list_add(out, n, prod[i].value);
	}
	for (size_t i = 0; i < t->nfingerprints; i++)
		fingerprint_read_release(&prod[i]);
	free(prod);
	free(listed);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), util_str_cmp);
}

int history_unevaluated(struct history *h, const struct report *r, char ***out, size_t *n,
			char **err)
{
	const char *what = "cannot read fingerprints";
	const struct report_target *eval = &r->targets[SIDE_EVAL];
	sqlite3_stmt *st = NULL;
	struct fp_set known = {0};
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (!r->suite) {
		*err = xstrdup("cannot look up a run without its suite");
		return -1;
	}
	/* What this run and every recorded run of its suite saw on eval. */
	for (size_t i = 0; i < eval->nfingerprints; i++)
		list_add(&known.values, &known.n, eval->fingerprints[i].value);
	if (prepare(h,
		    "SELECT DISTINCT f.value FROM fingerprints f JOIN runs r ON r.id = f.run_id "
		    "WHERE f.side = 'eval' AND r.suite = ?1",
		    &st, what, err) < 0)
		goto out;
	sqlite3_bind_text(st, 1, r->suite, -1, SQLITE_TRANSIENT);
	if (fp_set_query(h, st, &known, what, err) < 0)
		goto out;
	fp_set_read(&known);
	prod_not_in(r, &known, out, n);
	rc = 0;
out:
	sqlite3_finalize(st);
	fp_set_release(&known);
	return rc;
}

int history_new_since_last(struct history *h, const struct report *r, long long run_id,
			   char ***out, size_t *n, bool *has_previous, char **err)
{
	const char *what = "cannot read fingerprints";
	sqlite3_stmt *prev = NULL, *st = NULL;
	struct fp_set previous = {0};
	long long started = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (has_previous)
		*has_previous = false;
	if (!r->suite) {
		*err = xstrdup("cannot look up a run without its suite");
		return -1;
	}
	if (started_ms(r, &started, err) < 0)
		return -1;
	if (prepare(h,
		    "SELECT id FROM runs WHERE suite = ?1 AND id != ?2 AND started_at <= ?3 "
		    "AND EXISTS (SELECT 1 FROM fingerprints f WHERE f.run_id = runs.id "
		    "AND f.side = 'prod') ORDER BY started_at DESC, id DESC LIMIT 1",
		    &prev, what, err) < 0 ||
	    prepare(h, "SELECT value FROM fingerprints WHERE run_id = ?1 AND side = 'prod'", &st,
		    what, err) < 0)
		goto out;
	sqlite3_bind_text(prev, 1, r->suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(prev, 2, run_id);
	sqlite3_bind_int64(prev, 3, started);
	int step = sqlite3_step(prev);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto out;
	}
	if (step != SQLITE_ROW) {
		*err = db_error(h, step, what);
		goto out;
	}
	if (has_previous)
		*has_previous = true;
	sqlite3_bind_int64(st, 1, sqlite3_column_int64(prev, 0));
	if (fp_set_query(h, st, &previous, what, err) < 0)
		goto out;
	fp_set_read(&previous);
	prod_not_in(r, &previous, out, n);
	rc = 0;
out:
	sqlite3_finalize(prev);
	sqlite3_finalize(st);
	fp_set_release(&previous);
	return rc;
}

/* names_set: list, now the strings of v. */
static void names_set(struct report *r, struct report_names *list, char **v, size_t n)
{
	*list = (struct report_names){0};
	for (size_t i = 0; i < n; i++)
		report_names_add(r, list, v[i]);
}

int history_compare(struct history *h, struct report *r, long long run_id, char **err)
{
	char **unevaluated = NULL, **fresh = NULL;
	size_t nunevaluated = 0, nfresh = 0;
	bool previous = false;
	int rc = -1;

	if (history_unevaluated(h, r, &unevaluated, &nunevaluated, err) < 0 ||
	    history_new_since_last(h, r, run_id, &fresh, &nfresh, &previous, err) < 0)
		goto out;
	r->history.present = true;
	names_set(r, &r->history.unevaluated, unevaluated, nunevaluated);
	names_set(r, &r->history.new_since_last, fresh, nfresh);
	r->history.previous_run = previous;
	rc = 0;
out:
	history_strings_free(unevaluated, nunevaluated);
	history_strings_free(fresh, nfresh);
	return rc;
}

/* one_text: the text of the single row of st, or NULL when no row. */
static int one_text(struct history *h, sqlite3_stmt *st, char **out, const char *what,
		    char **err)
{
	int step = sqlite3_step(st);
	*out = NULL;
	if (step == SQLITE_ROW) {
		*out = col_dup(st, 0);
		return 0;
	}
	if (step == SQLITE_DONE)
		return 0;
	*err = db_error(h, step, what);
	return -1;
}

int history_previous_verdict(struct history *h, const char *suite, long long exclude_run_id,
			     char **verdict, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *what = "cannot read runs";
	*verdict = NULL;
	if (prepare(h,
		    "SELECT verdict FROM runs WHERE suite = ?1 AND id != ?2 "
		    "ORDER BY started_at DESC, id DESC LIMIT 1",
		    &st, what, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, exclude_run_id);
	int rc = one_text(h, st, verdict, what, err);
	sqlite3_finalize(st);
	return rc;
}

int history_last_notification(struct history *h, const char *suite, char **state,
			      char **strata, long long *sent_at_ms, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *what = "cannot read notifications";
	int rc = -1;
	*state = *strata = NULL;
	*sent_at_ms = 0;
	if (prepare(h, "SELECT state, sent_at, strata FROM notifications WHERE suite = ?1", &st,
		    what, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, suite, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*state = col_dup(st, 0);
		*sent_at_ms = sqlite3_column_int64(st, 1);
		*strata = col_dup(st, 2);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 0;
	} else {
		*err = db_error(h, step, what);
	}
	sqlite3_finalize(st);
	return rc;
}

int history_note_notification(struct history *h, const char *suite, const char *state,
			      const char *strata, long long sent_at_ms, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *what = "cannot record the notification";
	if (h->readonly) {
		*err = xasprintf("history '%s' was opened read-only", h->path);
		return -1;
	}
	if (prepare(h,
		    "INSERT INTO notifications (suite, state, sent_at, strata) "
		    "VALUES (?1, ?2, ?3, ?4) "
		    "ON CONFLICT (suite) DO UPDATE SET state = excluded.state, "
		    "sent_at = excluded.sent_at, strata = excluded.strata",
		    &st, what, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, sent_at_ms);
	bind_text(st, 4, strata);
	int rc = step_done(h, st, what, err);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Queries for `canary history`.
 */

int history_suites(struct history *h, long long since, long long until, char ***out,
		   size_t *n, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *what = "cannot read runs";
	char **list = NULL;
	size_t count = 0;
	int rc = -1, step;
	*out = NULL;
	*n = 0;
	if (prepare(h,
		    "SELECT DISTINCT suite FROM runs WHERE started_at >= ?1 AND started_at <= ?2 "
		    "ORDER BY suite",
		    &st, what, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);
		list_add(&list, &count, s ? (const char *)s : "");
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
	count = 0;
	rc = 0;
out:
	sqlite3_finalize(st);
	history_strings_free(list, count);
	return rc;
}

double history_rate(int passed, int failed)
{
	return passed + failed > 0 ? (double)passed / (passed + failed) : -1;
}

double history_last_rate(const struct history_series *s)
{
	for (size_t k = s->npoints; k > 0; k--) {
		double r = history_rate(s->points[k - 1].passed, s->points[k - 1].failed);
		if (r >= 0)
			return r;
	}
	return -1;
}

static int side_index(const unsigned char *s)
{
	return s && strcmp((const char *)s, "eval") == 0 ? SIDE_EVAL : SIDE_PROD;
}

/* The runs of the window: the runs table, and each run's fingerprints. */
static int load_runs(struct history *h, const struct history_query *q, struct history_view *v,
		     char **err)
{
	const char *what = "cannot read runs";
	sqlite3_stmt *st = NULL, *fp = NULL;
	int rc = -1, step;
	size_t cap = 0;

	if (prepare(h,
		    "SELECT id, suite, suite_hash, started_at, duration_ms, verdict, exit_code, "
		    "interrupted, eval_url, prod_url, canary_version, shard, "
		    "(SELECT avg(latency_ms) FROM samples WHERE run_id = runs.id "
		    " AND side = 'prod' AND status > 0), "
		    "(SELECT sum(cost_usd) FROM samples WHERE run_id = runs.id), "
		    "(SELECT avg(ttft_ms) FROM samples WHERE run_id = runs.id "
		    " AND side = 'prod') FROM runs "
		    "WHERE suite = ?1 AND started_at >= ?2 AND started_at <= ?3 "
		    "ORDER BY started_at, id",
		    &st, what, err) < 0 ||
	    prepare(h,
		    "SELECT f.run_id, f.side, f.value, f.count FROM fingerprints f "
		    "JOIN runs r ON r.id = f.run_id "
		    "WHERE r.suite = ?1 AND r.started_at >= ?2 AND r.started_at <= ?3 "
		    "ORDER BY r.started_at, r.id, f.side, f.count DESC, f.value",
		    &fp, what, err) < 0)
		goto out;
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *s = i ? fp : st;
		sqlite3_bind_text(s, 1, q->suite, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, q->since);
		sqlite3_bind_int64(s, 3, q->until);
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (v->nruns == cap) {
			cap = cap ? cap * 2 : 64;
			v->runs = xreallocarray(v->runs, cap, sizeof(*v->runs));
		}
		struct history_run *run = &v->runs[v->nruns++];
		memset(run, 0, sizeof(*run));
		run->id = sqlite3_column_int64(st, 0);
		run->suite = col_dup(st, 1);
		run->suite_hash = col_dup(st, 2);
		run->started_at = sqlite3_column_int64(st, 3);
		run->duration_ms = (long)sqlite3_column_int64(st, 4);
		run->verdict = col_dup(st, 5);
		run->exit_code = sqlite3_column_int(st, 6);
		run->interrupted = sqlite3_column_int(st, 7) != 0;
		run->url[SIDE_EVAL] = col_dup(st, 8);
		run->url[SIDE_PROD] = col_dup(st, 9);
		run->canary_version = col_dup(st, 10);
		run->shard = col_dup(st, 11);
		run->prod_latency_ms = sqlite3_column_type(st, 12) == SQLITE_NULL
					       ? -1 : sqlite3_column_double(st, 12);
		run->cost_usd = sqlite3_column_type(st, 13) == SQLITE_NULL
					? -1 : sqlite3_column_double(st, 13);
		run->prod_ttft_ms = sqlite3_column_type(st, 14) == SQLITE_NULL
					    ? -1 : sqlite3_column_double(st, 14);
		if (!run->verdict)
			run->verdict = xstrdup("unknown");
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	/* Both queries walk the runs in the same order. */
	size_t at = 0;
	while ((step = sqlite3_step(fp)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(fp, 0);
		while (at < v->nruns && v->runs[at].id != id)
			at++;
		if (at == v->nruns)
			break;
		struct history_run *run = &v->runs[at];
		int side = side_index(sqlite3_column_text(fp, 1));
		run->fps[side] = xreallocarray(run->fps[side], run->nfps[side] + 1,
					       sizeof(*run->fps[side]));
		run->fps[side][run->nfps[side]++] = (struct history_fp){
			.value = col_dup(fp, 2),
			.count = sqlite3_column_int(fp, 3),
		};
		if (!run->fps[side][run->nfps[side] - 1].value)
			run->fps[side][run->nfps[side] - 1].value = xstrdup("");
	}
	if (step != SQLITE_DONE && step != SQLITE_ROW) {
		*err = db_error(h, step, what);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(fp);
	return rc;
}

/* A stratum while series are gathered. */
struct stratum_acc {
	char *name;
	long long position;    /* in the latest run that had it */
	long long last_at;
	struct history_series side[SIDE__COUNT];
};

static int acc_cmp(const void *a, const void *b)
{
	const struct stratum_acc *x = a, *y = b;
	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	if (x->last_at != y->last_at)
		return x->last_at > y->last_at ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void point_add(struct history_series *s, const struct history_point *p)
{
	s->points = xreallocarray(s->points, s->npoints + 1, sizeof(*s->points));
	s->points[s->npoints++] = *p;
	s->passed += p->passed;
	s->failed += p->failed;
}

/* The pass-rate series: one point per run and stratum and target. */
static int load_series(struct history *h, const struct history_query *q,
		       struct history_view *v, char **err)
{
	const char *what = "cannot read strata";
	sqlite3_stmt *st = NULL;
	struct stratum_acc *acc = NULL;
	size_t nacc = 0;
	int rc = -1, step;

	if (prepare(h,
		    "SELECT r.id, r.started_at, st.stratum, st.position, st.verdict, "
		    " coalesce(a.ep, 0), coalesce(a.ef, 0), coalesce(a.ee, 0), "
		    " coalesce(a.pp, 0), coalesce(a.pf, 0), coalesce(a.pe, 0) "
		    "FROM runs r JOIN strata st ON st.run_id = r.id "
		    "LEFT JOIN (SELECT run_id, stratum, "
		    "  sum(side = 'eval' AND grade = 'pass') AS ep, "
		    "  sum(side = 'eval' AND grade = 'fail') AS ef, "
		    "  sum(side = 'eval' AND grade = 'error') AS ee, "
		    "  sum(side = 'prod' AND grade = 'pass') AS pp, "
		    "  sum(side = 'prod' AND grade = 'fail') AS pf, "
		    "  sum(side = 'prod' AND grade = 'error') AS pe "
		    " FROM samples WHERE run_id IN (SELECT id FROM runs WHERE suite = ?1 "
		    "  AND started_at >= ?2 AND started_at <= ?3) "
		    " GROUP BY run_id, stratum) a ON a.run_id = r.id AND a.stratum = st.stratum "
		    "WHERE r.suite = ?1 AND r.started_at >= ?2 AND r.started_at <= ?3 "
		    "ORDER BY r.started_at, r.id, st.position",
		    &st, what, err) < 0)
		goto out;
	sqlite3_bind_text(st, 1, q->suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, q->since);
	sqlite3_bind_int64(st, 3, q->until);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 2);
		const char *sname = name ? (const char *)name : "";
		struct stratum_acc *a = NULL;
		for (size_t i = 0; i < nacc && !a; i++)
			if (strcmp(acc[i].name, sname) == 0)
				a = &acc[i];
		if (!a) {
			acc = xreallocarray(acc, nacc + 1, sizeof(*acc));
			a = &acc[nacc++];
			memset(a, 0, sizeof(*a));
			a->name = xstrdup(sname);
			for (int side = 0; side < SIDE__COUNT; side++)
				a->side[side].side = (enum side)side;
		}
		a->position = sqlite3_column_int64(st, 3);
		a->last_at = sqlite3_column_int64(st, 1);
		for (int side = 0; side < SIDE__COUNT; side++) {
			struct history_point p = {
				.run_id = sqlite3_column_int64(st, 0),
				.at = sqlite3_column_int64(st, 1),
				.passed = sqlite3_column_int(st, 5 + 3 * side),
				.failed = sqlite3_column_int(st, 6 + 3 * side),
				.errors = sqlite3_column_int(st, 7 + 3 * side),
				.verdict = col_dup(st, 4),
			};
			if (!p.verdict)
				p.verdict = xstrdup("unknown");
			point_add(&a->side[side], &p);
		}
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	if (nacc > 1)
		qsort(acc, nacc, sizeof(*acc), acc_cmp);
	v->series = xcalloc(nacc * SIDE__COUNT + 1, sizeof(*v->series));
	for (size_t i = 0; i < nacc; i++) {
		for (int side = 0; side < SIDE__COUNT; side++) {
			struct history_series *s = &v->series[v->nseries++];
			*s = acc[i].side[side];
			s->stratum = xstrdup(acc[i].name);
			memset(&acc[i].side[side], 0, sizeof(acc[i].side[side]));
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < nacc; i++) {
		free(acc[i].name);
		for (int side = 0; side < SIDE__COUNT; side++) {
			for (size_t k = 0; k < acc[i].side[side].npoints; k++)
				free(acc[i].side[side].points[k].verdict);
			free(acc[i].side[side].points);
		}
	}
	free(acc);
	sqlite3_finalize(st);
	return rc;
}

/* The fingerprints seen in the window, with their whole-history span. */
static int load_fingerprints(struct history *h, const struct history_query *q,
			     struct history_view *v, char **err)
{
	const char *what = "cannot read fingerprints";
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (prepare(h,
		    "SELECT f.side, f.value, count(DISTINCT f.run_id), sum(f.count), "
		    " (SELECT min(r2.started_at) FROM fingerprints f2 JOIN runs r2 "
		    "  ON r2.id = f2.run_id WHERE r2.suite = ?1 AND f2.side = f.side "
		    "  AND f2.value = f.value), "
		    " (SELECT max(r2.started_at) FROM fingerprints f2 JOIN runs r2 "
		    "  ON r2.id = f2.run_id WHERE r2.suite = ?1 AND f2.side = f.side "
		    "  AND f2.value = f.value), "
		    " EXISTS (SELECT 1 FROM fingerprints f3 JOIN runs r3 ON r3.id = f3.run_id "
		    "  WHERE r3.suite = ?1 AND f3.side = 'eval' AND f3.value = f.value) "
		    "FROM fingerprints f JOIN runs r ON r.id = f.run_id "
		    "WHERE r.suite = ?1 AND r.started_at >= ?2 AND r.started_at <= ?3 "
		    "GROUP BY f.side, f.value ORDER BY f.side, 5, f.value",
		    &st, what, err) < 0)
		goto out;
	sqlite3_bind_text(st, 1, q->suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, q->since);
	sqlite3_bind_int64(st, 3, q->until);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		v->fingerprints = xreallocarray(v->fingerprints, v->nfingerprints + 1,
						sizeof(*v->fingerprints));
		struct history_fingerprint *f = &v->fingerprints[v->nfingerprints++];
		f->side = (enum side)side_index(sqlite3_column_text(st, 0));
		f->value = col_dup(st, 1);
		if (!f->value)
			f->value = xstrdup("");
		f->runs = sqlite3_column_int(st, 2);
		f->samples = sqlite3_column_int64(st, 3);
		f->first_seen = sqlite3_column_int64(st, 4);
		f->last_seen = sqlite3_column_int64(st, 5);
		f->evaluated = sqlite3_column_int(st, 6) != 0;
		f->share = v->nruns > 0 ? (double)f->runs / (double)v->nruns : 0;
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int flaky_cmp(const void *a, const void *b)
{
	const struct history_flaky *x = a, *y = b;
	if (x->flips != y->flips)
		return x->flips > y->flips ? -1 : 1;
	int c = strcmp(x->stratum, y->stratum);
	return c ? c : strcmp(x->case_id, y->case_id);
}

static void history_flaky_free_fields(struct history_flaky *f)
{
	free(f->case_id);
	free(f->stratum);
	history_strings_free(f->verdicts, f->nverdicts);
}

void history_flaky_free(struct history_flaky *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		history_flaky_free_fields(&f[i]);
	free(f);
}

int history_flaky(struct history *h, const char *suite, long long until, int flips, int last,
		  struct history_flaky **out, size_t *n, char **err)
{
	const char *what = "cannot read cases";
	sqlite3_stmt *st = NULL;
	struct history_flaky *acc = NULL;
	size_t nacc = 0;
	int rc = -1, step;

	*out = NULL;
	*n = 0;
	if (flips <= 0)
		flips = HISTORY_FLIPS_DEFAULT;
	if (last <= 0)
		last = HISTORY_LAST_DEFAULT;
	if (prepare(h,
		    "SELECT c.case_id, c.stratum, c.verdict FROM cases c "
		    "JOIN (SELECT id, started_at FROM runs WHERE suite = ?1 AND started_at <= ?2 "
		    " ORDER BY started_at DESC, id DESC LIMIT ?3) r ON r.id = c.run_id "
		    "ORDER BY c.case_id, r.started_at, r.id",
		    &st, what, err) < 0)
		goto out;
	sqlite3_bind_text(st, 1, suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, until);
	sqlite3_bind_int(st, 3, last);
	struct history_flaky *cur = NULL;
	const char *prev = NULL;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *stratum = (const char *)sqlite3_column_text(st, 1);
		const char *verdict = (const char *)sqlite3_column_text(st, 2);
		id = id ? id : "";
		verdict = verdict ? verdict : "unknown";
		if (!cur || strcmp(cur->case_id, id) != 0) {
			acc = xreallocarray(acc, nacc + 1, sizeof(*acc));
			cur = &acc[nacc++];
			memset(cur, 0, sizeof(*cur));
			cur->case_id = xstrdup(id);
			prev = NULL;
		}
		/* The latest run names the stratum. */
		free(cur->stratum);
		cur->stratum = xstrdup(stratum ? stratum : "");
		list_add(&cur->verdicts, &cur->nverdicts, verdict);
		cur->runs++;
		if (strcmp(verdict, "error") == 0)
			continue;
		if (prev && strcmp(prev, verdict) != 0)
			cur->flips++;
		prev = cur->verdicts[cur->nverdicts - 1];
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	size_t keep = 0;
	for (size_t i = 0; i < nacc; i++) {
		if (acc[i].flips >= flips)
			acc[keep++] = acc[i];
		else
			history_flaky_free_fields(&acc[i]);
	}
	nacc = keep;
	if (nacc > 1)
		qsort(acc, nacc, sizeof(*acc), flaky_cmp);
	*out = acc;
	*n = nacc;
	acc = NULL;
	nacc = 0;
	rc = 0;
out:
	sqlite3_finalize(st);
	history_flaky_free(acc, nacc);
	return rc;
}

int history_view_load(struct history *h, const struct history_query *q, struct history_view *v,
		      char **err)
{
	memset(v, 0, sizeof(*v));
	if (!q->suite) {
		*err = xstrdup("no suite to show");
		return -1;
	}
	v->suite = xstrdup(q->suite);
	v->since = q->since;
	v->until = q->until;
	v->flips = q->flips > 0 ? q->flips : HISTORY_FLIPS_DEFAULT;
	v->last = q->last > 0 ? q->last : HISTORY_LAST_DEFAULT;
	if (load_runs(h, q, v, err) < 0 || load_series(h, q, v, err) < 0 ||
	    load_fingerprints(h, q, v, err) < 0 ||
	    history_flaky(h, q->suite, q->until, v->flips, v->last, &v->flaky, &v->nflaky,
			  err) < 0) {
		history_view_release(v);
		return -1;
	}
	return 0;
}

void history_view_release(struct history_view *v)
{
	for (size_t i = 0; i < v->nruns; i++) {
		struct history_run *r = &v->runs[i];
		free(r->suite);
		free(r->suite_hash);
		free(r->verdict);
		free(r->canary_version);
		free(r->shard);
		for (int side = 0; side < SIDE__COUNT; side++) {
			free(r->url[side]);
			for (size_t k = 0; k < r->nfps[side]; k++)
				free(r->fps[side][k].value);
			free(r->fps[side]);
		}
	}
	free(v->runs);
	for (size_t i = 0; i < v->nseries; i++) {
		for (size_t k = 0; k < v->series[i].npoints; k++)
			free(v->series[i].points[k].verdict);
		free(v->series[i].points);
		free(v->series[i].stratum);
	}
	free(v->series);
	for (size_t i = 0; i < v->nfingerprints; i++)
		free(v->fingerprints[i].value);
	free(v->fingerprints);
	history_flaky_free(v->flaky, v->nflaky);
	free(v->suite);
	memset(v, 0, sizeof(*v));
}

/*
 * The baseline check.
 */

/* check_stratum: the index of the stratum called name in c, added when new. */
static size_t check_stratum(struct history_check *c, const char *name)
{
	for (size_t i = 0; i < c->nstrata; i++)
		if (strcmp(c->strata[i].stratum, name) == 0)
			return i;
	c->strata = xreallocarray(c->strata, c->nstrata + 1, sizeof(*c->strata));
	c->strata[c->nstrata] = (struct history_check_stratum){
		.stratum = xstrdup(name),
		.base_latency_ms = -1,
		.recent_latency_ms = -1,
		.base_cost_usd = -1,
		.recent_cost_usd = -1,
	};
	return c->nstrata++;
}

/* risen: recent is more than base by more than the relative rise allowed
 * (a negative max: not checked; an unknown mean: not compared). */
static bool risen(double base, double recent, double max)
{
	return max >= 0 && base >= 0 && recent >= 0 && recent > base * (1 + max);
}

int history_check(struct history *h, const char *suite, long long now,
		  const struct history_check_limits *lim, struct history_check *out, char **err)
{
	const char *what = "cannot read samples";
	sqlite3_stmt *order = NULL, *st = NULL;
	int rc = -1, step;

	memset(out, 0, sizeof(*out));
	out->suite = xstrdup(suite);
	out->now = now;
	out->baseline_from = now - HISTORY_CHECK_BASELINE_MS;
	out->recent_from = now - HISTORY_CHECK_RECENT_MS;
	out->limits = *lim;
	if (prepare(h,
		    "SELECT stratum FROM strata WHERE run_id = (SELECT id FROM runs "
		    "WHERE suite = ?1 AND started_at <= ?2 ORDER BY started_at DESC, id DESC "
		    "LIMIT 1) ORDER BY position",
		    &order, what, err) < 0 ||
	    prepare(h,
		    "SELECT s.stratum, r.started_at >= ?3, sum(s.grade = 'pass'), "
		    " sum(s.grade = 'fail'), count(DISTINCT s.run_id), "
		    " avg(CASE WHEN s.status > 0 THEN s.latency_ms END), avg(s.cost_usd) "
		    "FROM samples s JOIN runs r ON r.id = s.run_id "
		    "WHERE r.suite = ?1 AND s.side = 'prod' AND r.started_at >= ?2 "
		    " AND r.started_at <= ?4 "
		    "GROUP BY s.stratum, 2 ORDER BY s.stratum",
		    &st, what, err) < 0)
		goto out;
	sqlite3_bind_text(order, 1, suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(order, 2, now);
	sqlite3_bind_text(st, 1, suite, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, out->baseline_from);
	sqlite3_bind_int64(st, 3, out->recent_from);
	sqlite3_bind_int64(st, 4, now);
	/* Strata in the order of the latest run, then any others by name. */
	while ((step = sqlite3_step(order)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(order, 0);
		check_stratum(out, name ? (const char *)name : "");
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 0);
		struct history_check_stratum *s =
			&out->strata[check_stratum(out, name ? (const char *)name : "")];
		bool recent = sqlite3_column_int(st, 1);
		double latency = sqlite3_column_type(st, 5) == SQLITE_NULL
					 ? -1 : sqlite3_column_double(st, 5);
		double cost = sqlite3_column_type(st, 6) == SQLITE_NULL
				      ? -1 : sqlite3_column_double(st, 6);
		if (recent) {
			s->recent_passed = sqlite3_column_int(st, 2);
			s->recent_failed = sqlite3_column_int(st, 3);
			s->recent_runs = sqlite3_column_int(st, 4);
			s->recent_latency_ms = latency;
			s->recent_cost_usd = cost;
		} else {
			s->base_passed = sqlite3_column_int(st, 2);
			s->base_failed = sqlite3_column_int(st, 3);
			s->base_runs = sqlite3_column_int(st, 4);
			s->base_latency_ms = latency;
			s->base_cost_usd = cost;
		}
	}
	if (step != SQLITE_DONE) {
		*err = db_error(h, step, what);
		goto out;
	}
	for (size_t i = 0; i < out->nstrata; i++) {
		struct history_check_stratum *s = &out->strata[i];
		double base = history_rate(s->base_passed, s->base_failed);
		double recent = history_rate(s->recent_passed, s->recent_failed);
		s->compared = base >= 0 && recent >= 0;
		s->degraded = s->compared && recent < base * (1 - lim->max_drop);
		s->latency_rose =
			risen(s->base_latency_ms, s->recent_latency_ms, lim->max_latency_rise);
		s->cost_rose = risen(s->base_cost_usd, s->recent_cost_usd, lim->max_cost_rise);
		out->ncompared += s->compared;
		out->ndegraded += s->degraded || s->latency_rose || s->cost_rose;
	}
	rc = 0;
out:
	sqlite3_finalize(order);
	sqlite3_finalize(st);
	if (rc < 0)
		history_check_release(out);
	return rc;
}

void history_check_release(struct history_check *c)
{
	for (size_t i = 0; i < c->nstrata; i++)
		free(c->strata[i].stratum);
	free(c->strata);
	free(c->suite);
	memset(c, 0, sizeof(*c));
}

/*
 * Times.
 */

/* digits: n decimal digits at *p into *v, advancing *p. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

int history_parse_time(const char *s, long long *ms)
{
	if (!s || !*s)
		return -1;
	const char *p = s;
	bool all_digits = true;
	for (const char *q = s; *q; q++)
		all_digits = all_digits && isdigit((unsigned char)*q);
	if (all_digits) {
		if (strlen(s) > 15)
			return -1;
		*ms = strtoll(s, NULL, 10);
		return 0;
	}
	int year, mon, day, hour, min, sec;
	if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
	    !digits(&p, 2, &day))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &min) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -1;
	long long frac_ms = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		long long scale = 100;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				frac_ms += (*p - '0') * scale;
			scale /= 10;
			n++;
			p++;
		}
		if (n == 0)
			return -1;
	}
	long long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
		offset = sign * (oh * 3600LL + om * 60LL);
	} else {
		return -1;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
	    sec > 60 || year < 1970)
		return -1;
	struct tm tm = {
		.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
		.tm_hour = hour, .tm_min = min, .tm_sec = sec,
	};
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != day)
		return -1;
	*ms = ((long long)t - offset) * 1000 + frac_ms;
	return 0;
}

int history_parse_since(const char *s, long long now, long long *ms)
{
	static const struct {
		const char *suffix;
		long long scale;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", HISTORY_HOUR_MS},
		{"d", HISTORY_DAY_MS}, {"w", 7 * HISTORY_DAY_MS},
	};
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		for (size_t i = 0; end != s && !errno && i < ARRAY_SIZE(units); i++) {
			if (strcmp(end, units[i].suffix) != 0)
				continue;
			double d = v * (double)units[i].scale;
			if (!(d >= 0) || d > 1e15)
				return -1;
			*ms = now - (long long)(d + 0.5);
			return 0;
		}
	}
	return history_parse_time(s, ms);
}

void history_fp_short(const char *fp, char *out, size_t size)
{
	const size_t prefix = strlen(FP_PREFIX), width = 20;
	if (size == 0)
		return;
	if (!fp || !*fp) {
		snprintf(out, size, "-");
		return;
	}
	size_t n = strlen(fp);
	if (strncmp(fp, FP_PREFIX, prefix) == 0 && n > prefix + 12) {
		snprintf(out, size, "%.*s", (int)(prefix + 12), fp);
		return;
	}
	if (n <= width) {
		snprintf(out, size, "%s", fp);
		return;
	}
	/* Cut on a character boundary. */
	size_t cut = width - 1;
	while (cut > 0 && ((unsigned char)fp[cut] & 0xc0) == 0x80)
		cut--;
	snprintf(out, size, "%.*s\xe2\x80\xa6", (int)cut, fp);
}
