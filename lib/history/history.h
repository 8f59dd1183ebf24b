/* history/history.h: every run of a suite recorded in SQLite, and what the history
 * tells: trends, fingerprints never evaluated, flaky cases, degradations.
 *
 * The store is one SQLite file in WAL mode with a 5 s busy timeout and
 * foreign keys on, so several canary processes (an hourly job, a person
 * during an incident) can write and read it at once.  Its schema carries a
 * version (PRAGMA user_version, HISTORY_SCHEMA_VERSION) and is built by
 * forward migrations: opening an older history for writing upgrades it in
 * one transaction.  docs/history.md describes every table.
 *
 * Times are Unix milliseconds (UTC).  A window [since, until] includes both
 * ends.  A pass rate is passed / (passed + failed) over samples: errors are
 * not measurements and count in no rate.
 *
 * Ownership: history_open() and history_open_readonly() return a handle
 * closed by history_close(); a handle is not thread-safe.  Every string,
 * array and struct filled in by a query belongs to the caller: free string
 * arrays with history_strings_free(), structs with their _release() or
 * _free() function and JSON trees with cJSON_Delete().  Error messages
 * (*err) are the caller's to free.
 */
#ifndef CANARY_HISTORY_H
#define CANARY_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "side.h"

struct history;
struct report;

/* The schema version this canary writes; older histories are migrated. */
#define HISTORY_SCHEMA_VERSION 5
/* How long a writer waits for another one's lock before failing. */
#define HISTORY_BUSY_MS 5000

#define HISTORY_HOUR_MS (3600LL * 1000)
#define HISTORY_DAY_MS (24 * HISTORY_HOUR_MS)

/* history_open: open the history at path for recording, creating it (and
 * not its folder) when absent and migrating it when older.  NULL and *err,
 * naming the path, when it cannot be written: read-only file or folder,
 * locked past the busy timeout, not a canary history, newer schema. */
struct history *history_open(const char *path, char **err);

/* history_open_readonly: open an existing history for queries only; it is
 * never written (an older schema is migrated in a copy in memory). */
struct history *history_open_readonly(const char *path, char **err);

void history_close(struct history *h);

/* history_set_busy_timeout: wait at most ms for another process's lock. */
void history_set_busy_timeout(struct history *h, long ms);

/* history_schema_version: the schema version the file had when it was
 * opened (0: new); older ones have since been migrated, in the file by
 * history_open(), in memory by history_open_readonly(). */
int history_schema_version(struct history *h);

/* history_record: write the run of report r in one transaction: its suite
 * and the suite's hash (fingerprint_sha256() of the suite file's bytes; may
 * be NULL), timing, targets, fingerprints, strata, selected cases and every
 * finished sample.  On failure nothing is written.  An interrupted run is
 * recorded with interrupted = 1.  *run_id (may be NULL) gets its id. */
int history_record(struct history *h, const struct report *r, const char *suite_hash,
		   long long *run_id, char **err);

/* history_import: history_record() of a saved report (its suite's hash
 * unknown), unless the history holds its run already: then *recorded is
 * the id of that run and nothing is written (else 0, and *run_id the new
 * run's).  A recorded run is the report's when it has the same suite,
 * start (to the second: reports keep seconds), duration and shard; and a
 * merge holds the samples of its shards and starts when the first of them
 * did, so an unsharded run and a shard run of the suite that started in
 * the same second hold the same samples too.  The look-up and the record
 * are one transaction. */
int history_import(struct history *h, const struct report *r, long long *run_id,
		   long long *recorded, char **err);

/* history_compare: what the history says of r's prod fingerprints, in
 * r->history: history_unevaluated() and history_new_since_last() of r,
 * recorded as run_id (0: not recorded). */
int history_compare(struct history *h, struct report *r, long long run_id, char **err);

/* history_unevaluated: the prod fingerprints of r (sorted) that neither r
 * nor any recorded run of its suite ever saw on the eval target.  Works
 * before and after r is recorded. */
int history_unevaluated(struct history *h, const struct report *r, char ***out, size_t *n,
			char **err);

/* history_new_since_last: the prod fingerprints of r (sorted) that the
 * previous run did not see on prod.  The previous run is the latest
 * recorded run of r's suite that started no later than r, is not r itself
 * (run_id: r's id when recorded, else 0) and saw any prod fingerprint.
 * *has_previous (may be NULL) tells whether there was one; without one the
 * list is empty. */
int history_new_since_last(struct history *h, const struct report *r, long long run_id,
			   char ***out, size_t *n, bool *has_previous, char **err);

/* history_previous_verdict: the verdict of the latest recorded run of suite
 * other than exclude_run_id (0: none); *verdict NULL when there is none. */
int history_previous_verdict(struct history *h, const char *suite, long long exclude_run_id,
			     char **verdict, char **err);

/* history_last_notification: the state last notified for suite (the state
 * its receivers know), the failing strata told with it (as notify_prepare()
 * wrote them; NULL when told before schema version 3 kept them) and when;
 * *state and *strata NULL and *sent_at_ms 0 when none. */
int history_last_notification(struct history *h, const char *suite, char **state,
			      char **strata, long long *sent_at_ms, char **err);

/* history_note_notification: remember that suite's receivers now know
 * state and strata (NULL: not known), last sent at sent_at_ms (0: known
 * without a message). */
int history_note_notification(struct history *h, const char *suite, const char *state,
			      const char *strata, long long sent_at_ms, char **err);

void history_strings_free(char **v, size_t n);

/*
 * Queries for `canary history`.
 */

/* history_suites: the suites with runs in [since, until], sorted. */
int history_suites(struct history *h, long long since, long long until, char ***out,
		   size_t *n, char **err);

struct history_fp {
	char *value;
	int count;             /* samples that reported it */
};

struct history_run {
	long long id;
	char *suite;
	char *suite_hash;      /* NULL when not given */
	long long started_at;
	long duration_ms;
	char *verdict;
	int exit_code;
	bool interrupted;
	char *url[SIDE__COUNT]; /* display forms, NULL when not recorded */
	char *canary_version;
	char *shard;           /* "I/N" or NULL */
	double prod_latency_ms; /* mean of the prod samples a response came to; -1: none */
	double cost_usd;       /* what the samples of both targets cost; -1: none priced */
	double prod_ttft_ms;   /* mean time to first token of the streamed prod samples; -1: none */
	struct history_fp *fps[SIDE__COUNT]; /* most samples first */
	size_t nfps[SIDE__COUNT];
};

/* One run's samples of one stratum on one target. */
struct history_point {
	long long run_id;
	long long at;          /* the run's start */
	int passed;
	int failed;
	int errors;
	char *verdict;         /* the stratum's verdict in that run */
};

/* A stratum's pass rate on one target over the runs of a window. */
struct history_series {
	char *stratum;
	enum side side;
	struct history_point *points; /* oldest first, one per run with the stratum */
	size_t npoints;
	int passed;            /* pooled over the points */
	int failed;
};

struct history_fingerprint {
	enum side side;
	char *value;
	long long first_seen;  /* first and last run that saw it on this side, */
	long long last_seen;   /* over the whole history of the suite */
	int runs;              /* runs of the window that saw it on this side */
	double share;          /* runs / runs of the window */
	long long samples;     /* samples of the window that reported it */
	bool evaluated;        /* some run of the suite ever saw it on eval */
};

struct history_flaky {
	char *case_id;
	char *stratum;
	int flips;             /* changes between consecutive non-error verdicts */
	int runs;              /* of the last runs, those that recorded the case */
	char **verdicts;       /* oldest first, one per such run */
	size_t nverdicts;
};

/* What a query covers. */
struct history_query {
	const char *suite;
	long long since;
	long long until;
	int flips;             /* flaky: at least this many flips ... (0: 3) */
	int last;              /* ... in the suite's last runs up to until (0: 10) */
};

#define HISTORY_FLIPS_DEFAULT 3
#define HISTORY_LAST_DEFAULT 10

/* Everything `canary history` shows of one suite over a window. */
struct history_view {
	char *suite;
	long long since;
	long long until;
	struct history_run *runs;     /* oldest first */
	size_t nruns;
	struct history_series *series; /* strata in suite order, eval then prod */
	size_t nseries;
	struct history_fingerprint *fingerprints; /* eval then prod, by first seen */
	size_t nfingerprints;
	struct history_flaky *flaky;  /* most flips first */
	size_t nflaky;
	int flips;                    /* the query's flaky thresholds */
	int last;
};

/* history_view_load: fill v with the runs, pass-rate series, fingerprints
 * and flaky cases of q->suite over [q->since, q->until]. */
int history_view_load(struct history *h, const struct history_query *q, struct history_view *v,
		      char **err);
void history_view_release(struct history_view *v);

/* history_flaky: the cases of suite whose verdict flipped at least flips
 * times in its last `last` runs up to until. */
int history_flaky(struct history *h, const char *suite, long long until, int flips, int last,
		  struct history_flaky **out, size_t *n, char **err);
void history_flaky_free(struct history_flaky *f, size_t n);

/* One stratum's prod pass rate, mean latency and mean cost per sample:
 * the baseline window against the recent one. */
struct history_check_stratum {
	char *stratum;
	int base_passed, base_failed, base_runs;
	int recent_passed, recent_failed, recent_runs;
	bool compared;         /* both windows have valid samples */
	bool degraded;         /* compared and recent < baseline * (1 - max_drop) */
	double base_latency_ms, recent_latency_ms; /* of samples a response came to; -1: none */
	double base_cost_usd, recent_cost_usd;     /* per priced sample; -1: none */
	bool latency_rose;     /* both known and recent > baseline * (1 + max_latency_rise) */
	bool cost_rose;        /* both known and recent > baseline * (1 + max_cost_rise) */
};

/* What history_check() allows: a relative drop of the pass rate, and
 * relative rises of latency and cost (negative: not checked). */
struct history_check_limits {
	double max_drop;
	double max_latency_rise;
	double max_cost_rise;
};

struct history_check {
	char *suite;
	long long now;
	long long baseline_from;  /* now - 7 d */
	long long recent_from;    /* now - 48 h; baseline is [baseline_from, recent_from) */
	struct history_check_limits limits;
	struct history_check_stratum *strata; /* suite order */
	size_t nstrata;
	size_t ncompared;
	size_t ndegraded;      /* strata degraded, or whose latency or cost rose */
};

#define HISTORY_CHECK_RECENT_MS (48 * HISTORY_HOUR_MS)
#define HISTORY_CHECK_BASELINE_MS (7 * HISTORY_DAY_MS)
#define HISTORY_MAX_DROP_DEFAULT 0.05

/* history_check: compare suite's prod pass rate, mean latency and mean
 * cost per stratum over the recent window [now - 48 h, now] with the
 * baseline [now - 7 d, now - 48 h), within lim. */
int history_check(struct history *h, const char *suite, long long now,
		  const struct history_check_limits *lim, struct history_check *out, char **err);
void history_check_release(struct history_check *c);

/* history_rate: passed / (passed + failed), or -1 when nothing was valid. */
double history_rate(int passed, int failed);
/* history_last_rate: the rate of the latest point of s with a valid
 * sample, or -1. */
double history_last_rate(const struct history_series *s);

/* history_parse_time: an absolute time, RFC 3339 ("2026-01-02T03:04:05Z",
 * "...+02:00", fractions allowed) or Unix milliseconds, into ms. */
int history_parse_time(const char *s, long long *ms);
/* history_parse_since: a duration back from now ("90m", "48h", "7d",
 * "2w") or an absolute time (history_parse_time) into ms. */
int history_parse_since(const char *s, long long now, long long *ms);

/* history_fp_short: a short form of a fingerprint for tables ("sha256:" and
 * 12 hex digits, or the first characters), into out. */
void history_fp_short(const char *fp, char *out, size_t size);

/*
 * Renderings for `canary history`: JSON (json.c), text (text.c) and one
 * HTML page (html.c).
 */

/* history_view_json: the view as JSON (docs/history.md). */
cJSON *history_view_json(const struct history_view *v);
/* history_fingerprints_json: --fingerprints: the view's window and its
 * prod fingerprints. */
cJSON *history_fingerprints_json(const struct history_view *v);
/* history_check_json: the check as JSON, flaky cases included. */
cJSON *history_check_json(const struct history_check *c, const struct history_flaky *flaky,
			  size_t nflaky);

/* history_text_view: a suite's window: its last runs (at most runs rows),
 * the pass rate of each stratum on each target as a sparkline, flaky cases
 * and the prod fingerprints never seen on eval. */
void history_text_view(FILE *f, const struct history_view *v, int runs);
/* history_text_fingerprints: every prod fingerprint of the window. */
void history_text_fingerprints(FILE *f, const struct history_view *v);
/* history_text_check: the baseline check of a suite, and its flaky cases
 * (at least flips flips in the last runs). */
void history_text_check(FILE *f, const struct history_check *c, const struct history_flaky *fl,
			size_t nfl, int flips, int last);
/* history_text_percent: a rate as "87.5%", or "n/a" when below 0. */
void history_text_percent(double rate, char *out, size_t size);
/* history_text_duration: "850 ms", "4.3 s" or "2m 03s". */
void history_text_duration(long ms, char *out, size_t size);

struct history_html_options {
	long long generated_at;   /* shown in the header: the caller's clock */
	int runs;                 /* rows of the runs table (0: 20) */
};

/* history_html: one self-contained page (inline CSS and SVG, no script or
 * external resource) for the views: pass rate per stratum per target, the
 * fingerprint timeline per target, the last runs, flaky cases.  Every chart
 * point carries data-* attributes with its exact values. */
int history_html(FILE *f, const struct history_view *views, size_t n,
		 const struct history_html_options *o, char **err);

#endif
