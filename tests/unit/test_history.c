/* test_history.c: the run history: recording, migrations, concurrent and
 * failing writers, read-only histories, fingerprint look-ups, the baseline
 * check, flaky cases, the view, JSON and the HTML page. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "history/history.h"
#include "report/report.h"
#include "support.h"
#include "util.h"
#include "report/verdict.h"
#include "version.h"

/* 2026-03-10T12:00:00Z, the "now" of the seeded fixture. */
#define NOW 1773144000000LL
#define HOUR HISTORY_HOUR_MS
#define DAY HISTORY_DAY_MS

#define FP_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define FP_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define REASON_BOOK "tool_call: missing required property 'attendee_emails'"
#define REASON_TIMEOUT "timed out after 30000 ms"

/* Where a test's history is, and the suite its runs are of: two strata,
 * tools (book, cancel) and prompt (refund, repeated twice). */
struct hist_world {
	const char *name;
	char dir[64];
	char *path;
};

/* What one hand-made run did. */
struct run_spec {
	long long started;
	const char *fp[SIDE__COUNT]; /* every finished sample's fingerprint, or NULL */
	const char *refund_prod_fp;  /* refund's prod samples instead, or NULL */
	bool book_fails;             /* on prod */
	bool refund_error;           /* refund's second prod sample errors */
	bool interrupted;            /* refund's samples never finished */
	bool streamed;               /* prod replies came streamed (ttft 20.25, 30.25, ...) */
	int shard_index, shard_count;
};

/* Pass-rate drops allowed, latency and cost not checked. */
static const struct history_check_limits drop_5 = {0.05, -1, -1};
static const struct history_check_limits drop_60 = {0.6, -1, -1};

static void hist_world_init(struct hist_world *w, const char *name)
{
	memset(w, 0, sizeof(*w));
	w->name = name;
	snprintf(w->dir, sizeof(w->dir), "/tmp/canary-hist-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	w->path = xasprintf("%s/history.sqlite", w->dir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void hist_world_release(struct hist_world *w)
{
	chmod(w->dir, 0700);
	nftw(w->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(w->path);
}

/* make_report: the report of a finished run as spec says it went. */
static struct report *make_report(struct hist_world *w, const struct run_spec *spec)
{
	static const char *const strata[] = {"tools", "prompt", NULL};
	static const char *const ids[] = {"book", "cancel", "refund"};
	struct report *r = test_report_new(w->name, strata);
	char started[32];

	for (size_t i = 0; i < 3; i++) {
		size_t ci = test_report_case(r, i < 2 ? 0 : 1, ids[i], i < 2 ? 1 : 2);
		for (int side = 0; side < SIDE__COUNT; side++) {
			for (int k = 0; k < r->cases[ci].repeat; k++) {
				if (spec->interrupted && i == 2)
					continue;
				bool fails = side == SIDE_PROD && i == 0 && spec->book_fails;
				bool errs = side == SIDE_PROD && i == 2 && k == 1 && spec->refund_error;
				struct report_sample *s = test_report_sample(
					r, ci, (enum side)side,
					fails ? GRADE_FAIL : errs ? GRADE_ERROR : GRADE_PASS,
					fails ? REASON_BOOK : errs ? REASON_TIMEOUT : NULL, NULL);
				s->latency_ms = 100.5 + 10 * (double)i + k + 50 * side;
				s->status = errs ? 0 : 200;
				s->attempts = errs ? 3 : 1;
				s->ttft_ms = spec->streamed && side == SIDE_PROD && !errs
						     ? 20.25 + 10 * (double)i : -1;
				const char *fp = spec->fp[side];
				if (side == SIDE_PROD && i == 2 && spec->refund_prod_fp)
					fp = spec->refund_prod_fp;
				if (!fp || errs)
					continue;
				s->fingerprint = report_intern(r, fp);
				report_add_fingerprint(r, (enum side)side, fp, 1);
			}
		}
	}
	util_rfc3339(spec->started, started);
	r->started_at = report_strdup(r, started);
	r->started_ms = spec->started;
	r->interrupted = spec->interrupted;
	r->shard_index = spec->shard_index;
	r->shard_count = spec->shard_count;
	r->canary_version = report_strdup(r, CANARY_VERSION);
	verdict_compute(r);
	return r;
}

/* record: make, record and free one run; its id. */
static long long record(struct history *h, struct hist_world *w, const struct run_spec *spec)
{
	char *err = NULL;
	long long id = 0;
	struct report *r = make_report(w, spec);
	int rc = history_record(h, r, "cafe", &id, &err);
	if (rc < 0)
		fail_msg("history_record: %s", err);
	report_free(r);
	return id;
}

static struct history *open_ok(const char *path)
{
	char *err = NULL;
	struct history *h = history_open(path, &err);
	if (!h)
		fail_msg("history_open: %s", err);
	return h;
}

/* Direct SQL on a second connection, as another process would see it. */
static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static long long q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* q_text: the rows of sql, columns joined by '|', rows by '\n'. */
static char *q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (b.len)
			buf_addch(&b, '\n');
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *t = sqlite3_column_text(st, i);
			buf_addf(&b, "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
		}
	}
	sqlite3_finalize(st);
	return buf_detach(&b, NULL);
}

static void assert_query(sqlite3 *db, const char *sql, const char *want)
{
	char *got = q_text(db, sql);
	if (strcmp(got, want) != 0)
		fail_msg("%s\n got: %s\nwant: %s", sql, got, want);
	free(got);
}

static long long rows(sqlite3 *db, const char *table)
{
	char *sql = xasprintf("SELECT count(*) FROM %s", table);
	long long n = q_int(db, sql);
	free(sql);
	return n;
}

static void test_open_creates(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	assert_int_equal(history_schema_version(h), 0);
	history_close(h);

	sqlite3 *db = db_open(w.path);
	assert_int_equal(q_int(db, "PRAGMA user_version"), HISTORY_SCHEMA_VERSION);
	assert_query(db, "PRAGMA journal_mode", "wal");
	assert_query(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
		     "cases\nfingerprints\nnotifications\nruns\nsamples\nstrata");
	sqlite3_close(db);

	/* Opening again finds the current version and changes nothing. */
	h = open_ok(w.path);
	assert_int_equal(history_schema_version(h), HISTORY_SCHEMA_VERSION);
	history_close(h);
	hist_world_release(&w);
}

static void test_record_every_field(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	struct run_spec spec = {
		.started = NOW, .fp = {FP_A, FP_B}, .book_fails = true, .refund_error = true,
		.shard_index = 1, .shard_count = 3,
	};
	long long id = record(h, &w, &spec);
	assert_true(id > 0);
	history_close(h);

	sqlite3 *db = db_open(w.path);
	char *sql = xasprintf("SELECT suite, suite_hash, started_at, duration_ms, verdict, "
			      "exit_code, interrupted, eval_url, prod_url, canary_version, shard "
			      "FROM runs WHERE id = %lld", id);
	assert_query(db, sql,
		     "hist-suite|cafe|1773144000000|1234|drift|1|0|"
		     "http://127.0.0.1:8081/v1/chat/completions|${env:PROD_URL}|" CANARY_VERSION
		     "|1/3");
	free(sql);
	assert_query(db, "SELECT side, value, count FROM fingerprints ORDER BY side, value",
		     "eval|" FP_A "|4\nprod|" FP_B "|3");
	/* refund asked two samples a side: it is tested (p_value is set) even
	 * though one prod sample errored. */
	assert_query(db,
		     "SELECT stratum, position, verdict, cases, eval_passed, prod_passed, "
		     "p_value IS NULL FROM strata ORDER BY position",
		     "tools|0|drift|2|2|1|1\nprompt|1|pass|1|1|1|0");
	assert_query(db,
		     "SELECT case_id, stratum, position, verdict, eval_passed, eval_total, "
		     "prod_passed, prod_total, p_value IS NULL FROM cases ORDER BY position",
		     "book|tools|0|drift|1|1|0|1|1\ncancel|tools|1|pass|1|1|1|1|1\n"
		     "refund|prompt|2|pass|2|2|1|2|0");
	assert_query(db,
		     "SELECT case_id, stratum, side, idx, grade, reason, latency_ms, status, "
		     "attempts, fingerprint FROM samples ORDER BY case_id, side, idx",
		     "book|tools|eval|0|pass|NULL|100.5|200|1|" FP_A "\n"
		     "book|tools|prod|0|fail|" REASON_BOOK "|150.5|200|1|" FP_B "\n"
		     "cancel|tools|eval|0|pass|NULL|110.5|200|1|" FP_A "\n"
		     "cancel|tools|prod|0|pass|NULL|160.5|200|1|" FP_B "\n"
		     "refund|prompt|eval|0|pass|NULL|120.5|200|1|" FP_A "\n"
		     "refund|prompt|eval|1|pass|NULL|121.5|200|1|" FP_A "\n"
		     "refund|prompt|prod|0|pass|NULL|170.5|200|1|" FP_B "\n"
		     "refund|prompt|prod|1|error|" REASON_TIMEOUT "|171.5|0|3|NULL");
	sqlite3_close(db);

	/* The same run read back through the view. */
	char *err = NULL;
	h = history_open_readonly(w.path, &err);
	assert_non_null(h);
	struct history_query q = {.suite = "hist-suite", .since = NOW - DAY, .until = NOW};
	struct history_view v;
	assert_int_equal(history_view_load(h, &q, &v, &err), 0);
	assert_int_equal(v.nruns, 1);
	assert_int_equal(v.runs[0].id, id);
	assert_int_equal(v.runs[0].started_at, NOW);
	assert_int_equal(v.runs[0].duration_ms, 1234);
	assert_string_equal(v.runs[0].verdict, "drift");
	assert_int_equal(v.runs[0].exit_code, 1);
	assert_false(v.runs[0].interrupted);
	assert_string_equal(v.runs[0].suite_hash, "cafe");
	assert_string_equal(v.runs[0].shard, "1/3");
	assert_string_equal(v.runs[0].url[SIDE_PROD], "${env:PROD_URL}");
	assert_int_equal(v.runs[0].nfps[SIDE_EVAL], 1);
	assert_string_equal(v.runs[0].fps[SIDE_EVAL][0].value, FP_A);
	assert_int_equal(v.runs[0].fps[SIDE_EVAL][0].count, 4);
	/* tools eval, tools prod, prompt eval, prompt prod */
	assert_int_equal(v.nseries, 4);
	assert_string_equal(v.series[1].stratum, "tools");
	assert_int_equal(v.series[1].side, SIDE_PROD);
	assert_int_equal(v.series[1].points[0].passed, 1);
	assert_int_equal(v.series[1].points[0].failed, 1);
	assert_string_equal(v.series[1].points[0].verdict, "drift");
	assert_string_equal(v.series[3].stratum, "prompt");
	assert_int_equal(v.series[3].points[0].passed, 1);
	assert_int_equal(v.series[3].points[0].failed, 0);
	assert_int_equal(v.series[3].points[0].errors, 1);
	history_view_release(&v);
	history_close(h);
	hist_world_release(&w);
}

/* A failure in the middle of recording leaves nothing behind. */
static void test_record_is_one_transaction(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	sqlite3 *db = db_open(w.path);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TRIGGER boom BEFORE INSERT ON samples "
				      "WHEN NEW.case_id = 'refund' "
				      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
				      NULL, NULL, NULL), SQLITE_OK);
	struct run_spec spec = {.started = NOW, .fp = {FP_A, FP_A}, .book_fails = true};
	struct report *r = make_report(&w, &spec);
	char *err = NULL;
	long long id = -7;
	assert_int_equal(history_record(h, r, NULL, &id, &err), -1);
	assert_non_null(strstr(err, "injected failure"));
	assert_non_null(strstr(err, w.path));
	assert_int_equal(id, -7);
	free(err);
	err = NULL;
	static const char *const tables[] = {"runs", "fingerprints", "strata", "cases", "samples"};
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		assert_int_equal(rows(db, tables[i]), 0);

	/* Without the fault the same run is recorded whole. */
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(history_record(h, r, NULL, &id, &err), 0);
	assert_int_equal(rows(db, "runs"), 1);
	assert_int_equal(rows(db, "samples"), 8);
	assert_int_equal(q_int(db, "SELECT suite_hash IS NULL FROM runs"), 1);
	/* refund has two valid samples a side: tested, p = 1. */
	assert_query(db, "SELECT p_value FROM cases WHERE case_id = 'refund'", "1.0");
	assert_query(db, "SELECT p_value FROM strata WHERE stratum = 'prompt'", "1.0");
	report_free(r);
	sqlite3_close(db);
	history_close(h);
	hist_world_release(&w);
}

static void test_interrupted_run(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	struct run_spec spec = {.started = NOW, .fp = {FP_A, FP_A}, .interrupted = true};
	record(h, &w, &spec);
	history_close(h);
	sqlite3 *db = db_open(w.path);
	assert_query(db, "SELECT interrupted, exit_code FROM runs", "1|130");
	/* Only the finished samples: book and cancel, one a side. */
	assert_query(db, "SELECT DISTINCT case_id FROM samples ORDER BY 1", "book\ncancel");
	assert_int_equal(rows(db, "samples"), 4);
	sqlite3_close(db);
	hist_world_release(&w);
}

/* A lock held past the busy timeout is a clear error, and nothing is
 * written. */
static void test_locked_history(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	sqlite3 *db = db_open(w.path);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	history_set_busy_timeout(h, 50);
	struct run_spec spec = {.started = NOW, .fp = {FP_A, FP_A}};
	struct report *r = make_report(&w, &spec);
	char *err = NULL;
	assert_int_equal(history_record(h, r, NULL, NULL, &err), -1);
	assert_non_null(strstr(err, "locked by another process"));
	assert_non_null(strstr(err, w.path));
	free(err);
	err = NULL;
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(history_record(h, r, NULL, NULL, &err), 0);
	assert_int_equal(rows(db, "runs"), 1);
	report_free(r);
	sqlite3_close(db);
	history_close(h);
	hist_world_release(&w);
}

/* open_and_record: open the history at path and record runs runs, as
 * child c of at_once(); its exit code. */
static int open_and_record(struct hist_world *w, const char *path, int c, int runs)
{
	char *err = NULL;
	struct history *h = history_open(path, &err);
	if (!h) {
		fprintf(stderr, "child %d: %s\n", c, err);
		return 1;
	}
	for (int i = 0; i < runs; i++) {
		struct run_spec spec = {.started = NOW + c * 1000 + i, .fp = {FP_A, FP_A}};
		struct report *r = make_report(w, &spec);
		if (history_record(h, r, NULL, NULL, &err) < 0) {
			fprintf(stderr, "child %d: %s\n", c, err);
			return 2;
		}
		report_free(r);
	}
	history_close(h);
	return 0;
}

/* at_once: n child processes that start together (each waits for the end
 * of one pipe) open the history at path and record runs runs each; every
 * one must succeed. */
static void at_once(struct hist_world *w, const char *path, int n, int runs)
{
	pid_t pids[8];
	int go[2];
	assert_true(n <= (int)ARRAY_SIZE(pids));
	assert_int_equal(pipe(go), 0);
	for (int c = 0; c < n; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] > 0)
			continue;
		close(go[1]);
		char byte;
		_exit(read(go[0], &byte, 1) != 0 ? 3 : open_and_record(w, path, c, runs));
	}
	close(go[0]);
	close(go[1]); /* every child reads end-of-file at once */
	for (int c = 0; c < n; c++) {
		int status = 0;
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

/* Two processes create the new history at once, then record: every run of
 * both is there. */
static void test_concurrent_writers(void **state)
{
	enum { CHILDREN = 2, RUNS = 5 };
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	at_once(&w, w.path, CHILDREN, RUNS);
	sqlite3 *db = db_open(w.path);
	assert_int_equal(rows(db, "runs"), CHILDREN * RUNS);
	assert_int_equal(rows(db, "samples"), CHILDREN * RUNS * 8);
	assert_int_equal(q_int(db, "SELECT count(DISTINCT started_at) FROM runs"), CHILDREN * RUNS);
	sqlite3_close(db);
	hist_world_release(&w);
}

/* Processes that open a new history at once all find it a canary history:
 * none reads the version before another creates it and the tables after. */
static void test_concurrent_create(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	for (int round = 0; round < 40; round++) {
		char *path = xasprintf("%s/new-%d.sqlite", w.dir, round);
		at_once(&w, path, 4, 0);
		free(path);
	}
	hist_world_release(&w);
}

/* in_child: run fn(arg) in a child process as an unprivileged user (root
 * ignores file modes); its exit code. */
static int in_child(int (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(9);
		_exit(fn(arg));
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* expect_unwritable: 0 when history_open refuses path with a message that
 * names it. */
static int expect_unwritable(const char *path)
{
	char *err = NULL;
	struct history *h = history_open(path, &err);
	if (h) {
		history_close(h);
		return 1;
	}
	if (!strstr(err, path)) {
		fprintf(stderr, "'%s' does not name '%s'\n", err, path);
		return 2;
	}
	return 0;
}

/* expect_readable: 0 when the history opens read-only and shows its run. */
static int expect_readable(const char *path)
{
	char *err = NULL;
	struct history *h = history_open_readonly(path, &err);
	if (!h) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	char **suites = NULL;
	size_t n = 0;
	int rc = history_suites(h, 0, NOW * 2, &suites, &n, &err) == 0 && n == 1 &&
			 strcmp(suites[0], "hist-suite") == 0 ? 0 : 2;
	history_strings_free(suites, n);
	history_close(h);
	return rc;
}

static void test_readonly_history(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	assert_int_equal(chmod(w.dir, 0755), 0);
	struct history *h = open_ok(w.path);
	struct run_spec spec = {.started = NOW, .fp = {FP_A, FP_A}};
	record(h, &w, &spec);
	history_close(h);

	/* A read-only file. */
	assert_int_equal(chmod(w.path, 0444), 0);
	assert_int_equal(in_child(expect_unwritable, w.path), 0);
	assert_int_equal(in_child(expect_readable, w.path), 0);

	/* A writable file in a read-only folder: WAL needs files beside it. */
	assert_int_equal(chmod(w.path, 0666), 0);
	assert_int_equal(chmod(w.dir, 0555), 0);
	assert_int_equal(in_child(expect_unwritable, w.path), 0);
	assert_int_equal(in_child(expect_readable, w.path), 0);
	/* A new history in a read-only folder. */
	char *fresh = xasprintf("%s/new.sqlite", w.dir);
	assert_int_equal(in_child(expect_unwritable, fresh), 0);
	free(fresh);

	/* A read-only handle never writes. */
	assert_int_equal(chmod(w.dir, 0755), 0);
	char *err = NULL;
	h = history_open_readonly(w.path, &err);
	assert_non_null(h);
	struct report *r = make_report(&w, &spec);
	assert_int_equal(history_record(h, r, NULL, NULL, &err), -1);
	assert_non_null(strstr(err, "read-only"));
	free(err);
	err = NULL;
	assert_int_equal(history_note_notification(h, "hist-suite", "pass", NULL, 1, &err), -1);
	free(err);
	report_free(r);
	history_close(h);
	hist_world_release(&w);
}

static void expect_open_error(const char *path, bool readonly, const char *want)
{
	char *err = NULL;
	struct history *h = readonly ? history_open_readonly(path, &err)
				     : history_open(path, &err);
	assert_null(h);
	if (!strstr(err, want))
		fail_msg("'%s' lacks '%s'", err, want);
	assert_non_null(strstr(err, path));
	free(err);
}

static void test_not_a_history(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	char *p = xasprintf("%s/garbage", w.dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database at all\n", f);
	fclose(f);
	expect_open_error(p, false, "not a canary history");
	expect_open_error(p, true, "not a canary history");
	free(p);

	p = xasprintf("%s/other.sqlite", w.dir);
	sqlite3 *db = db_open(p);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE verdicts (k TEXT)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_open_error(p, false, "not a canary history");
	free(p);

	p = xasprintf("%s/newer.sqlite", w.dir);
	db = db_open(p);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_open_error(p, false, "newer than this canary");
	expect_open_error(p, true, "newer than this canary");
	free(p);

	expect_open_error(w.dir, false, "not a regular file");
	p = xasprintf("%s/missing.sqlite", w.dir);
	expect_open_error(p, true, "no history at");
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	hist_world_release(&w);
}

/* load_sql: a database at path made from a fixture's SQL text. */
static void load_sql(const char *path, const char *fixture)
{
	char *file = xasprintf("%s/history/%s", test_fixtures(), fixture);
	char *err = NULL;
	char *sql = util_read_file(file, 1 << 20, NULL, &err);
	if (!sql)
		fail_msg("%s", err);
	sqlite3 *db = db_open(path);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", file, msg);
	sqlite3_close(db);
	free(sql);
	free(file);
}

/* structure: every table's and index's name and columns. */
static char *structure(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	char *s = q_text(db,
			 "SELECT m.type, m.name, p.cid, p.name, p.type, p.\"notnull\", "
			 "p.dflt_value, p.pk FROM sqlite_master m, pragma_table_info(m.name) p "
			 "WHERE m.type = 'table' ORDER BY m.name, p.cid");
	char *idx = q_text(db,
			   "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
			   "ORDER BY name");
	char *all = xasprintf("%s\n--\n%s\n--%lld", s, idx, q_int(db, "PRAGMA user_version"));
	sqlite3_close(db);
	free(s);
	free(idx);
	return all;
}

/* A conversation's samples record the requests they took. */
static void test_record_steps(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "conversation-drift");
	struct report *r = test_report_fixture("conversation.json");
	struct history *h = open_ok(w.path);
	long long id = 0;
	char *err = NULL;
	if (history_record(h, r, NULL, &id, &err) < 0)
		fail_msg("%s", err);
	history_close(h);
	report_free(r);
	sqlite3 *db = db_open(w.path);
	assert_query(db, "SELECT case_id, side, steps FROM samples ORDER BY case_id, side",
		     "book-then-thank|eval|4\nbook-then-thank|prod|3\ngreet|eval|1\n"
		     "greet|prod|1");
	sqlite3_close(db);
	hist_world_release(&w);
}

/* A streamed sample's time to first token is recorded (NULL when not
 * streamed), and a run's prod mean shows only where some were streamed. */
static void test_record_ttft(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	struct run_spec plain = {.started = NOW - 1000, .fp = {FP_A, FP_A}};
	struct run_spec streamed = {.started = NOW, .fp = {FP_A, FP_A}, .refund_error = true,
				    .streamed = true};
	long long plain_id = record(h, &w, &plain);
	long long id = record(h, &w, &streamed);
	history_close(h);

	sqlite3 *db = db_open(w.path);
	char *sql = xasprintf("SELECT case_id, side, idx, ttft_ms FROM samples WHERE run_id = "
			      "%lld ORDER BY case_id, side, idx", id);
	assert_query(db, sql,
		     "book|eval|0|NULL\nbook|prod|0|20.25\ncancel|eval|0|NULL\n"
		     "cancel|prod|0|30.25\nrefund|eval|0|NULL\nrefund|eval|1|NULL\n"
		     "refund|prod|0|40.25\nrefund|prod|1|NULL");
	free(sql);
	sql = xasprintf("SELECT count(*) FROM samples WHERE run_id = %lld AND ttft_ms IS NOT "
			"NULL", plain_id);
	assert_int_equal(q_int(db, sql), 0);
	free(sql);
	sqlite3_close(db);

	char *err = NULL;
	h = history_open_readonly(w.path, &err);
	assert_non_null(h);
	struct history_query q = {.suite = "hist-suite", .since = NOW - DAY, .until = NOW};
	struct history_view v;
	assert_int_equal(history_view_load(h, &q, &v, &err), 0);
	assert_int_equal(v.nruns, 2);
	assert_true(v.runs[0].prod_ttft_ms == -1);
	assert_true(v.runs[1].prod_ttft_ms == 30.25);
	cJSON *json = history_view_json(&v);
	const cJSON *runs = cJSON_GetObjectItem(json, "runs");
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "prod_ttft_ms"));
	assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 1), "prod_ttft_ms")
			    ->valuedouble == 30.25);
	cJSON_Delete(json);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	history_text_view(f, &v, 10);
	fclose(f);
	assert_non_null(strstr(text, "prod ms  prod ttft ms  cost usd"));
	free(text);
	/* No run streamed: no ttft column. */
	f = open_memstream(&text, &len);
	v.runs[1].prod_ttft_ms = -1;
	history_text_view(f, &v, 10);
	fclose(f);
	assert_null(strstr(text, "ttft"));
	free(text);
	history_view_release(&v);
	history_close(h);
	hist_world_release(&w);
}

static void test_migrate_from_v1(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "old-suite");
	char *old = xasprintf("%s/v1.sqlite", w.dir);
	char *copy = xasprintf("%s/v1-copy.sqlite", w.dir);
	load_sql(old, "v1.sql");
	load_sql(copy, "v1.sql");

	/* Read-only: migrated in memory, the file stays at version 1. */
	char *err = NULL;
	struct history *h = history_open_readonly(copy, &err);
	assert_non_null(h);
	assert_int_equal(history_schema_version(h), 1);
	struct history_query q = {.suite = "old-suite", .since = 0, .until = NOW};
	struct history_view v;
	assert_int_equal(history_view_load(h, &q, &v, &err), 0);
	assert_int_equal(v.nruns, 2);
	assert_null(v.runs[0].shard);
	assert_string_equal(v.runs[1].verdict, "drift");
	history_view_release(&v);
	char *state_ = NULL, *strata_ = NULL;
	long long sent = -1;
	assert_int_equal(history_last_notification(h, "old-suite", &state_, &strata_, &sent,
						   &err), 0);
	assert_null(state_);
	assert_null(strata_);
	history_close(h);
	sqlite3 *db = db_open(copy);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 1);
	sqlite3_close(db);

	/* For writing: migrated in the file, old runs kept. */
	h = open_ok(old);
	assert_int_equal(history_schema_version(h), 1);
	assert_int_equal(history_note_notification(h, "old-suite", "drift", NULL, 42, &err), 0);
	struct run_spec spec = {.started = NOW, .fp = {FP_A, FP_A}, .shard_index = 0,
				.shard_count = 2};
	record(h, &w, &spec);
	history_close(h);
	db = db_open(old);
	assert_int_equal(q_int(db, "PRAGMA user_version"), HISTORY_SCHEMA_VERSION);
	assert_query(db, "SELECT id, suite, verdict, shard FROM runs ORDER BY id",
		     "1|old-suite|pass|NULL\n2|old-suite|drift|NULL\n3|old-suite|pass|0/2");
	assert_query(db, "SELECT suite, state, sent_at, strata FROM notifications",
		     "old-suite|drift|42|NULL");
	assert_int_equal(rows(db, "samples"), 4 + 8);
	sqlite3_close(db);

	/* The migrated file has exactly the structure of a new history, and so
	 * does the seeded fixture: the fixtures' schema is the real one. */
	char *fresh = xasprintf("%s/fresh.sqlite", w.dir);
	history_close(open_ok(fresh));
	char *want = structure(fresh);
	char *got = structure(old);
	assert_string_equal(got, want);
	free(got);
	char *seeded = xasprintf("%s/history/seeded.sqlite", test_fixtures());
	got = structure(seeded);
	assert_string_equal(got, want);
	free(got);
	free(seeded);
	free(want);
	free(fresh);
	free(old);
	free(copy);
	hist_world_release(&w);
}

static void assert_strings(char **v, size_t n, const char *const *want, size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
}

static void test_unevaluated_and_new(void **state)
{
	struct hist_world w, other;
	hist_world_init(&w, "hist-suite");
	hist_world_init(&other, "other-suite");
	struct history *h = open_ok(w.path);
	char **v = NULL;
	size_t n = 0;
	bool prev = true;
	char *err = NULL;

	/* Run 1: both on A. */
	struct run_spec s1 = {.started = NOW - 3 * HOUR, .fp = {FP_A, FP_A}};
	struct report *r = make_report(&w, &s1);
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_int_equal(n, 0);
	assert_false(prev);
	long long id1 = 0;
	assert_int_equal(history_record(h, r, NULL, &id1, &err), 0);
	report_free(r);

	/* Another suite evaluates C: it does not count for this one. */
	struct run_spec so = {.started = NOW - 3 * HOUR, .fp = {FP_C, FP_C}};
	record(h, &other, &so);

	/* Run 2: prod moves to B, and to C on refund; eval stays on A. */
	struct run_spec s2 = {.started = NOW - 2 * HOUR, .fp = {FP_A, FP_B},
			      .refund_prod_fp = FP_C};
	r = make_report(&w, &s2);
	static const char *const b_c[] = {FP_B, FP_C};
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_strings(v, n, b_c, 2);
	history_strings_free(v, n);
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_true(prev);
	assert_strings(v, n, b_c, 2);
	history_strings_free(v, n);
	/* Recorded, it still compares with run 1, not with itself. */
	long long id2 = 0;
	assert_int_equal(history_record(h, r, NULL, &id2, &err), 0);
	assert_int_equal(history_new_since_last(h, r, id2, &v, &n, &prev, &err), 0);
	assert_strings(v, n, b_c, 2);
	history_strings_free(v, n);
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_strings(v, n, b_c, 2);
	history_strings_free(v, n);
	report_free(r);

	/* Run 3: eval serves B once: B is evaluated from then on, for every
	 * later run; prod is back on A, which run 2 did not see. */
	struct run_spec s3 = {.started = NOW - HOUR, .fp = {FP_B, FP_A}};
	record(h, &w, &s3);
	struct run_spec s4 = {.started = NOW, .fp = {FP_A, FP_B}, .refund_prod_fp = FP_C};
	r = make_report(&w, &s4);
	static const char *const c_only[] = {FP_C};
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_strings(v, n, c_only, 1);
	history_strings_free(v, n);
	static const char *const b_c2[] = {FP_B, FP_C};
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_strings(v, n, b_c2, 2);
	history_strings_free(v, n);
	report_free(r);

	/* The previous verdict and the notification state. */
	char *verdict = NULL;
	assert_int_equal(history_previous_verdict(h, "hist-suite", 0, &verdict, &err), 0);
	assert_string_equal(verdict, "pass");
	free(verdict);
	assert_int_equal(history_previous_verdict(h, "nobody", 0, &verdict, &err), 0);
	assert_null(verdict);
	char *st = NULL, *strata = NULL;
	long long sent = -1;
	assert_int_equal(history_last_notification(h, "hist-suite", &st, &strata, &sent, &err), 0);
	assert_null(st);
	assert_null(strata);
	assert_int_equal(sent, 0);
	assert_int_equal(history_note_notification(h, "hist-suite", "drift", "[\"tools\"]", 100, &err), 0);
	assert_int_equal(history_note_notification(h, "hist-suite", "pass", "[]", 200, &err), 0);
	assert_int_equal(history_last_notification(h, "hist-suite", &st, &strata, &sent, &err), 0);
	assert_string_equal(st, "pass");
	assert_string_equal(strata, "[]");
	assert_int_equal(sent, 200);
	free(st);
	free(strata);
	(void)id1;
	history_close(h);
	hist_world_release(&w);
	hist_world_release(&other);
}

/* Fingerprints are compared by composition, as a run compares them
 * (docs/fingerprint.md): a value spelt with a hash prefix, in another case,
 * names the composition of the full value. */
static void test_fingerprints_by_composition(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	char **v = NULL;
	size_t n = 0;
	bool prev = false;
	char *err = NULL;
	/* FP_A's first 12 and first 16 hex digits, upper and lower case. */
	const char *a12 = "sha256:AAAAAAAAAAAA", *a16 = "sha256:aaaaaaaaaaaaaaaa";

	/* Run 1: eval serves A, prod B. */
	struct run_spec s1 = {.started = NOW - 2 * HOUR, .fp = {FP_A, FP_B}};
	record(h, &w, &s1);

	/* Run 2: prod serves A, spelt short: evaluated (by run 1), but new
	 * since run 1, whose prod served B. */
	struct run_spec s2 = {.started = NOW - HOUR, .fp = {FP_C, a12}};
	struct report *r = make_report(&w, &s2);
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_true(prev);
	static const char *const short_a[] = {"sha256:AAAAAAAAAAAA"};
	assert_strings(v, n, short_a, 1);
	history_strings_free(v, n);
	assert_int_equal(history_record(h, r, NULL, NULL, &err), 0);
	report_free(r);

	/* Run 3: prod serves A spelt longer, and both spellings at once: the
	 * same composition as run 2's, once. */
	struct run_spec s3 = {.started = NOW, .fp = {FP_C, a16}, .refund_prod_fp = FP_A};
	r = make_report(&w, &s3);
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	/* Its history findings, as the report will hold them. */
	assert_int_equal(history_compare(h, r, 0, &err), 0);
	assert_true(r->history.present);
	assert_true(r->history.previous_run);
	assert_int_equal(r->history.unevaluated.n, 0);
	assert_int_equal(r->history.new_since_last.n, 0);
	report_free(r);

	/* C on prod, short and in mixed case: run 2 evaluated it, and it is
	 * new since run 2 (the last recorded), whose prod served A. */
	struct run_spec s4 = {.started = NOW, .fp = {FP_B, "sha256:cCcCcCcCcCcC"}};
	r = make_report(&w, &s4);
	static const char *const short_c[] = {"sha256:cCcCcCcCcCcC"};
	assert_int_equal(history_unevaluated(h, r, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	history_strings_free(v, n);
	assert_int_equal(history_new_since_last(h, r, 0, &v, &n, &prev, &err), 0);
	assert_strings(v, n, short_c, 1);
	history_strings_free(v, n);
	report_free(r);
	history_close(h);
	hist_world_release(&w);
}

/* saved: r written as JSON and read back, as `canary history --import`
 * reads a report: its start to the second. */
static struct report *saved(const struct report *r)
{
	char *json = test_render(report_json, r);
	struct report *back = test_report_parse(json);

	free(json);
	return back;
}

/* Saved reports are recorded once: again, or as the run that --history
 * recorded, or as the merge of a recorded shard, they are not counted
 * twice. */
static void test_import(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	char *err = NULL;
	long long id = 0, recorded = -1;

	/* A run recorded as it ran (its start to the millisecond), then its
	 * saved report. */
	struct run_spec live = {.started = NOW - DAY + 250, .fp = {FP_A, FP_B}};
	long long live_id = record(h, &w, &live);
	struct report *r = make_report(&w, &live), *back = saved(r);
	assert_int_equal(back->started_ms, -1);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, live_id);
	report_free(back);
	report_free(r);

	/* A report imported, then imported again. */
	struct run_spec other = {.started = NOW - HOUR, .fp = {FP_A, FP_A}, .book_fails = true};
	r = make_report(&w, &other);
	back = saved(r);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, 0);
	assert_true(id > live_id);
	long long imported = id;
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, imported);
	report_free(back);
	/* Another run of the same second is another run. */
	r->duration_ms += 1;
	back = saved(r);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, 0);
	report_free(back);
	report_free(r);

	/* A shard, then the merge that starts when it did: the merge holds its
	 * samples.  Another shard of the same second is another run. */
	struct run_spec shard = {.started = NOW, .fp = {FP_A, FP_A}, .shard_count = 2};
	r = make_report(&w, &shard);
	back = saved(r);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, 0);
	long long first_shard = id;
	report_free(back);
	r->shard_index = 1;
	back = saved(r);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, 0);
	report_free(back);
	r->shard_count = 0;
	back = saved(r);
	assert_int_equal(history_import(h, back, &id, &recorded, &err), 0);
	assert_int_equal(recorded, first_shard);
	report_free(back);
	report_free(r);
	history_close(h);

	sqlite3 *db = db_open(w.path);
	assert_query(db, "SELECT count(*), count(DISTINCT started_at / 1000) FROM runs", "5|3");
	assert_query(db, "SELECT started_at, shard FROM runs WHERE id IN (1, 4) ORDER BY id",
		     "1773057600250|NULL\n1773144000000|0/2");
	sqlite3_close(db);

	/* A report without a start it can read is refused, and so is a
	 * history opened to be read. */
	r = make_report(&w, &live);
	r->started_ms = -1;
	r->started_at = "yesterday";
	h = open_ok(w.path);
	assert_int_equal(history_import(h, r, &id, &recorded, &err), -1);
	assert_string_equal(err, "cannot record a run whose 'started_at' is not a time: "
				 "'yesterday'");
	free(err);
	history_close(h);
	h = history_open_readonly(w.path, &err);
	assert_non_null(h);
	assert_int_equal(history_import(h, r, &id, &recorded, &err), -1);
	assert_non_null(strstr(err, "opened read-only"));
	free(err);
	history_close(h);
	report_free(r);
	hist_world_release(&w);
}

/* The check's windows, edges included, on runs recorded here. */
static void test_check_windows(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	/* Outside, just before the baseline: would lower it. */
	struct run_spec out = {.started = NOW - 7 * DAY - 1, .fp = {FP_A, FP_A},
			       .book_fails = true};
	record(h, &w, &out);
	long long base[] = {NOW - 7 * DAY, NOW - 3 * DAY, NOW - 48 * HOUR - 1};
	for (size_t i = 0; i < ARRAY_SIZE(base); i++) {
		struct run_spec s = {.started = base[i], .fp = {FP_A, FP_A}};
		record(h, &w, &s);
	}
	long long recent[] = {NOW - 48 * HOUR, NOW};
	for (size_t i = 0; i < ARRAY_SIZE(recent); i++) {
		struct run_spec s = {.started = recent[i], .fp = {FP_A, FP_A}, .book_fails = true};
		record(h, &w, &s);
	}
	/* After now: not counted. */
	struct run_spec later = {.started = NOW + 1, .fp = {FP_A, FP_A}};
	record(h, &w, &later);

	struct history_check c;
	char *err = NULL;
	assert_int_equal(history_check(h, "hist-suite", NOW, &drop_5, &c, &err), 0);
	assert_int_equal(c.baseline_from, NOW - 7 * DAY);
	assert_int_equal(c.recent_from, NOW - 48 * HOUR);
	assert_int_equal(c.nstrata, 2);
	assert_string_equal(c.strata[0].stratum, "tools");
	assert_int_equal(c.strata[0].base_passed, 6);
	assert_int_equal(c.strata[0].base_failed, 0);
	assert_int_equal(c.strata[0].base_runs, 3);
	assert_int_equal(c.strata[0].recent_passed, 2);
	assert_int_equal(c.strata[0].recent_failed, 2);
	assert_int_equal(c.strata[0].recent_runs, 2);
	assert_true(c.strata[0].compared);
	assert_true(c.strata[0].degraded);
	assert_string_equal(c.strata[1].stratum, "prompt");
	assert_int_equal(c.strata[1].base_passed, 6);
	assert_int_equal(c.strata[1].recent_passed, 4);
	assert_false(c.strata[1].degraded);
	assert_int_equal(c.ncompared, 2);
	assert_int_equal(c.ndegraded, 1);
	cJSON *json = history_check_json(&c, NULL, 0);
	const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(json, "strata"), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s0, "degraded")));
	assert_true(cJSON_GetObjectItem(s0, "change")->valuedouble == -0.5);
	cJSON_Delete(json);
	history_check_release(&c);

	/* A drop of 50% is within a max drop of 60%. */
	assert_int_equal(history_check(h, "hist-suite", NOW, &drop_60, &c, &err), 0);
	assert_int_equal(c.ndegraded, 0);
	history_check_release(&c);

	/* Nothing in the baseline window: nothing compared. */
	assert_int_equal(history_check(h, "hist-suite", NOW + 30 * DAY, &drop_5, &c, &err), 0);
	assert_int_equal(c.ncompared, 0);
	history_check_release(&c);
	history_close(h);
	hist_world_release(&w);
}

static void test_flaky_cases(void **state)
{
	struct hist_world w;
	hist_world_init(&w, "hist-suite");
	struct history *h = open_ok(w.path);
	/* book: drift, pass, drift, pass, drift, pass; refund errors twice. */
	for (int i = 0; i < 6; i++) {
		struct run_spec s = {.started = NOW - (6 - i) * HOUR, .fp = {FP_A, FP_A},
				     .book_fails = i % 2 == 0, .interrupted = i == 3};
		record(h, &w, &s);
	}
	struct history_flaky *f = NULL;
	size_t n = 0;
	char *err = NULL;
	assert_int_equal(history_flaky(h, "hist-suite", NOW, 3, 10, &f, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].case_id, "book");
	assert_string_equal(f[0].stratum, "tools");
	assert_int_equal(f[0].flips, 5);
	assert_int_equal(f[0].runs, 6);
	static const char *const seq[] = {"drift", "pass", "drift", "pass", "drift", "pass"};
	assert_strings(f[0].verdicts, f[0].nverdicts, seq, 6);
	history_flaky_free(f, n);
	/* In the last 3 runs book flipped twice. */
	assert_int_equal(history_flaky(h, "hist-suite", NOW, 3, 3, &f, &n, &err), 0);
	assert_int_equal(n, 0);
	history_flaky_free(f, n);
	assert_int_equal(history_flaky(h, "hist-suite", NOW, 2, 3, &f, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].flips, 2);
	history_flaky_free(f, n);
	/* Up to a time before the last three runs. */
	assert_int_equal(history_flaky(h, "hist-suite", NOW - 4 * HOUR, 1, 10, &f, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].runs, 3);
	assert_int_equal(f[0].flips, 2);
	history_flaky_free(f, n);
	history_close(h);
	hist_world_release(&w);
}

static struct history *open_seeded(void)
{
	char *path = xasprintf("%s/history/seeded.sqlite", test_fixtures());
	char *err = NULL;
	struct history *h = history_open_readonly(path, &err);
	if (!h)
		fail_msg("%s", err);
	free(path);
	return h;
}

/* The seeded fixture against the numbers derived by hand in seeded.sql. */
static void test_seeded_check(void **state)
{
	struct history *h = open_seeded();
	struct history_check c;
	char *err = NULL;
	assert_int_equal(history_check(h, "calendar-assistant", NOW, &drop_5, &c, &err), 0);
	assert_int_equal(c.nstrata, 3);
	static const struct {
		const char *name;
		int bp, bf, rp, rf;
		bool degraded;
	} want[] = {
		{"tools", 60, 0, 16, 10, true},
		{"prompt", 42, 16, 20, 6, false},
		{"retrieval", 28, 0, 12, 0, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(c.strata[i].stratum, want[i].name);
		assert_int_equal(c.strata[i].base_passed, want[i].bp);
		assert_int_equal(c.strata[i].base_failed, want[i].bf);
		assert_int_equal(c.strata[i].recent_passed, want[i].rp);
		assert_int_equal(c.strata[i].recent_failed, want[i].rf);
		assert_int_equal(c.strata[i].degraded, want[i].degraded);
	}
	assert_int_equal(c.strata[0].recent_runs, 13);
	assert_int_equal(c.strata[0].base_runs, 30);
	history_check_release(&c);

	struct history_flaky *f = NULL;
	size_t n = 0;
	assert_int_equal(history_flaky(h, "calendar-assistant", NOW, 3, 10, &f, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].case_id, "refund-window");
	assert_int_equal(f[0].flips, 4);
	assert_int_equal(f[0].nverdicts, 10);
	history_flaky_free(f, n);
	history_close(h);
}

static void test_seeded_view(void **state)
{
	struct history *h = open_seeded();
	struct history_query q = {
		.suite = "calendar-assistant", .since = NOW - 7 * DAY, .until = NOW,
	};
	struct history_view v;
	char *err = NULL;
	assert_int_equal(history_view_load(h, &q, &v, &err), 0);
	assert_int_equal(v.nruns, 43);
	assert_int_equal(v.runs[0].id, 16);
	assert_int_equal(v.runs[0].started_at, NOW - 7 * DAY);
	assert_int_equal(v.runs[42].id, 58);
	assert_true(v.runs[10].interrupted);
	assert_int_equal(v.runs[10].exit_code, 130);
	assert_int_equal(v.nseries, 6);
	static const char *const strata[] = {"tools", "prompt", "retrieval"};
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(v.series[i].stratum, strata[i / 2]);
		assert_int_equal(v.series[i].side, i % 2 ? SIDE_PROD : SIDE_EVAL);
	}
	assert_int_equal(v.series[0].npoints, 43);
	assert_int_equal(v.series[2].npoints, 42); /* not in the interrupted run */
	assert_int_equal(v.series[1].passed, 76);
	assert_int_equal(v.series[1].failed, 10);
	/* Fingerprints: eval's, then prod's by first sighting. */
	assert_int_equal(v.nfingerprints, 3);
	const struct history_fingerprint *old = &v.fingerprints[1], *neu = &v.fingerprints[2];
	assert_int_equal(old->side, SIDE_PROD);
	assert_true(old->evaluated);
	assert_int_equal(old->first_seen, 1772323200000LL); /* before the window */
	assert_int_equal(old->runs, 33);
	assert_int_equal(neu->side, SIDE_PROD);
	assert_false(neu->evaluated);
	assert_int_equal(neu->first_seen, 1773014400000LL);
	assert_int_equal(neu->last_seen, NOW);
	assert_int_equal(neu->runs, 10);
	assert_true(neu->share > 0.2325 && neu->share < 0.2326);
	assert_int_equal(v.nflaky, 1);

	cJSON *json = history_view_json(&v);
	assert_string_equal(cJSON_GetObjectItem(json, "suite")->valuestring, "calendar-assistant");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(json, "runs")), 43);
	const cJSON *tools = cJSON_GetArrayItem(cJSON_GetObjectItem(json, "strata"), 0);
	assert_string_equal(cJSON_GetObjectItem(tools, "name")->valuestring, "tools");
	const cJSON *prod = cJSON_GetObjectItem(tools, "prod");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(prod, "points")), 43);
	assert_true(cJSON_GetObjectItem(prod, "rate")->valuedouble == 0.8837);
	cJSON_Delete(json);
	history_view_release(&v);

	char **suites = NULL;
	size_t n = 0;
	assert_int_equal(history_suites(h, NOW - 7 * DAY, NOW, &suites, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(suites[1], "calendar-assistant");
	history_strings_free(suites, n);
	history_close(h);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The page escapes the hostile suite and marks every measured point. */
static void test_html(void **state)
{
	struct history *h = open_seeded();
	char **suites = NULL;
	size_t n = 0;
	char *err = NULL;
	assert_int_equal(history_suites(h, NOW - 7 * DAY, NOW, &suites, &n, &err), 0);
	struct history_view views[2];
	size_t points = 0;
	for (size_t i = 0; i < n; i++) {
		struct history_query q = {.suite = suites[i], .since = NOW - 7 * DAY, .until = NOW};
		assert_int_equal(history_view_load(h, &q, &views[i], &err), 0);
		for (size_t k = 0; k < views[i].nseries; k++)
			for (size_t j = 0; j < views[i].series[k].npoints; j++)
				points += history_rate(views[i].series[k].points[j].passed,
						       views[i].series[k].points[j].failed) >= 0;
	}
	char *page = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&page, &len);
	struct history_html_options o = {.generated_at = NOW, .runs = 5};
	assert_int_equal(history_html(f, views, n, &o, &err), 0);
	fclose(f);
	assert_true(len > 1000);
	assert_non_null(strstr(page, "<!DOCTYPE html>"));
	assert_non_null(strstr(page, "generated 2026-03-10T12:00:00Z"));
	/* Self-contained: nothing to fetch, nothing to run. */
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "<svg onload"));
	assert_null(strstr(page, "<b>"));
	assert_null(strstr(page, "http://127.0.0.1:9/\""));
	assert_null(strstr(page, "src=\"http"));
	assert_null(strstr(page, "href=\"http"));
	assert_non_null(strstr(page, "billing &lt;script&gt;alert(&quot;suite&quot;)&lt;/script&gt;"
				     " &amp; co"));
	assert_non_null(strstr(page, "data-stratum=\"&lt;img src=x onerror=alert(3)&gt;\""));
	assert_non_null(strstr(page, "&quot;&gt;&lt;svg onload=alert(2)&gt;"));
	assert_int_equal(count(page, "<circle "), points);
	assert_int_equal(count(page, "<svg class=\"chart\""), 4);
	assert_int_equal(count(page, "<svg class=\"fp-timeline\""), 4);
	assert_int_equal(count(page, "data-fingerprint=\"sha256:4d9855065a0c"), 1 + 10 + 1);
	assert_non_null(strstr(page, "data-stratum=\"tools\" data-target=\"prod\" data-run=\"58\" "
				     "data-at=\"2026-03-10T12:00:00Z\" data-passed=\"1\" "
				     "data-failed=\"1\" data-errors=\"0\" data-rate=\"0.5000\" "
				     "data-verdict=\"drift\""));
	free(page);
	for (size_t i = 0; i < n; i++)
		history_view_release(&views[i]);
	history_strings_free(suites, n);
	history_close(h);
}

static void test_parse_time(void **state)
{
	long long ms = 0;
	assert_int_equal(history_parse_time("2026-03-10T12:00:00Z", &ms), 0);
	assert_int_equal(ms, NOW);
	assert_int_equal(history_parse_time("2026-03-10T14:30:00.250+02:30", &ms), 0);
	assert_int_equal(ms, NOW + 250);
	assert_int_equal(history_parse_time("2026-03-10t12:00:00z", &ms), 0);
	assert_int_equal(ms, NOW);
	assert_int_equal(history_parse_time("1773144000000", &ms), 0);
	assert_int_equal(ms, NOW);
	static const char *const bad[] = {
		"", "yesterday", "2026-03-10", "2026-03-10T12:00:00", "2026-13-10T12:00:00Z",
		"2026-02-30T12:00:00Z", "2026-03-10T24:00:00Z", "2026-03-10T12:00:00+2",
		"2026-03-10T12:00:00Zjunk", "-5", "99999999999999999999", "2026-03-10T12:00:00.Z",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (history_parse_time(bad[i], &ms) == 0)
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(history_parse_since("7d", NOW, &ms), 0);
	assert_int_equal(ms, NOW - 7 * DAY);
	assert_int_equal(history_parse_since("48h", NOW, &ms), 0);
	assert_int_equal(ms, NOW - 48 * HOUR);
	assert_int_equal(history_parse_since("2w", NOW, &ms), 0);
	assert_int_equal(ms, NOW - 14 * DAY);
	assert_int_equal(history_parse_since("90m", NOW, &ms), 0);
	assert_int_equal(ms, NOW - 90 * 60000);
	assert_int_equal(history_parse_since("2026-03-03T12:00:00Z", NOW, &ms), 0);
	assert_int_equal(ms, NOW - 7 * DAY);
	assert_int_equal(history_parse_since("7x", NOW, &ms), -1);
	assert_int_equal(history_parse_since("d", NOW, &ms), -1);
	assert_int_equal(history_parse_since("-7d", NOW, &ms), -1);

	char s[80];
	history_fp_short(FP_A, s, sizeof(s));
	assert_string_equal(s, "sha256:aaaaaaaaaaaa");
	history_fp_short("prompt=ab12;tools=cd34;model=ef56", s, sizeof(s));
	assert_string_equal(s, "prompt=ab12;tools=c\xe2\x80\xa6");
	history_fp_short("short", s, sizeof(s));
	assert_string_equal(s, "short");
	history_fp_short(NULL, s, sizeof(s));
	assert_string_equal(s, "-");
	/* A cut never splits a character. */
	history_fp_short("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			 "\xc3\xa9\xc3\xa9\xc3\xa9", s, sizeof(s));
	assert_string_equal(s, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			       "\xc3\xa9\xe2\x80\xa6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates),
		cmocka_unit_test(test_record_every_field),
		cmocka_unit_test(test_record_is_one_transaction),
		cmocka_unit_test(test_interrupted_run),
		cmocka_unit_test(test_locked_history),
		cmocka_unit_test(test_concurrent_writers),
		cmocka_unit_test(test_concurrent_create),
		cmocka_unit_test(test_readonly_history),
		cmocka_unit_test(test_not_a_history),
		cmocka_unit_test(test_record_steps),
		cmocka_unit_test(test_record_ttft),
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test(test_unevaluated_and_new),
		cmocka_unit_test(test_fingerprints_by_composition),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_check_windows),
		cmocka_unit_test(test_flaky_cases),
		cmocka_unit_test(test_seeded_check),
		cmocka_unit_test(test_seeded_view),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_parse_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
