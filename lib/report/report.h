/* report/report.h: the report of a run, the one model after the run.
 *
 * struct report is the JSON report (docs/report-json.md) in memory, typed
 * and compact: what a run measured (samples, counts, fingerprints) and what
 * its verdicts computed (verdicts, p-values, notes).  Fields that follow
 * from these (a side's rate, ok and interval, a stratum's diff, counts of
 * cases and samples, a side's failures) are not kept: the JSON writer and
 * the renderers derive them, and a report that canary wrote, read back and
 * written again, comes out byte for byte the same.  The run builds one
 * (run_report()), report_load() reads one from a file, and every renderer,
 * the history, notify and merge read it.
 *
 * Ownership: a struct report owns every string and array it points at
 * until report_free(): strings and samples in its arena (strings that
 * repeat, such as stratum names, reasons and fingerprints, kept once),
 * cases, strata and fingerprints in arrays of its own.  Renderers borrow
 * it and write only to the FILE they are given.  Error messages (*err) are
 * the caller's to free.
 */
#ifndef CANARY_REPORT_H
#define CANARY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "grader.h"
#include "report/verdict.h"
#include "side.h"
#include "util.h"

/* The version of the JSON report this canary writes and reads. */
#define REPORT_VERSION 1

/* The largest count of samples (per side of a case), repeat, sample index
 * and attempts a report may hold. */
#define REPORT_COUNT_MAX 1000000

/* The largest report file read. */
#define REPORT_FILE_MAX ((size_t)512 << 20)

/* A list of strings of a report. */
struct report_names {
	const char **v;
	size_t n;
};

/* One grader's verdict on a sample. */
struct report_grade {
	const char *grader;         /* its label: "regex", or a named grader's name */
	const char *reason;         /* NULL on a pass */
	double score;               /* 0..1 */
	enum grade grade;
};

/* The tokens a reply declared; each -1 when it did not say. */
struct report_usage {
	long long input, output, total, cached, reasoning;
};

/* One request of a conversation sample. */
struct report_step {
	double latency_ms;
	const char **calls;         /* the tools it called, in order */
	unsigned ncalls;
	int status;                 /* HTTP status */
};

/* One user turn of a conversation sample. */
struct report_turn {
	const char **reasons;       /* "grader: why" per turn grader that did not pass */
	struct report_step *steps;
	unsigned nreasons;
	unsigned nsteps;
	enum grade grade;           /* of the turn's own graders */
};

/* One finished sample. */
struct report_sample {
	double latency_ms;          /* as measured (the JSON rounds it to 0.1) */
	double start_ms;            /* Unix ms its (last) attempt started; 0: not known */
	double ttft_ms;             /* a streamed reply's time to first token; -1: none */
	const char **reasons;       /* "grader: why" per failing grader, or the error */
	const char *fingerprint;    /* NULL when the reply carried none */
	const char *reply_file;     /* --save-replies: its saved sample, or NULL */
	const char *response_id;    /* the reply's "id", or NULL */
	const char *response_model; /* the reply's "model", or NULL */
	struct report_grade *grades; /* every grader that ran, in suite order */
	unsigned ngrades;
	struct report_usage usage;
	int index;                  /* repeat number, from 0 */
	int status;                 /* HTTP status, 0 when none arrived */
	int attempts;
	unsigned nreasons;
	enum grade grade;
	struct report_turn *turns;  /* a conversation's turns (NULL: one request) */
	unsigned nturns;
};

/* One side of a case: its counts and finished samples. */
struct report_side {
	int passed;
	int failed;
	int errors;                 /* samples that could not be measured */
	int first_passed;           /* passed and failed among the first */
	int first_failed;           /* `repeat` samples (confirmation) */
	struct report_sample *samples; /* the finished ones, in order */
	size_t nsamples;
};

/* A case of the suite: one that ran, or one filtered out (skipped). */
struct report_case {
	const char *id;
	size_t stratum;             /* index into report.strata */
	long position;              /* in the suite, from 0; -1 when not known */
	bool skipped;               /* filtered out: only the fields above are set */
	enum verdict verdict;
	double threshold;
	int repeat;                 /* first samples asked per side */
	int confirm;                /* confirmation samples asked per side */
	bool confirmed;             /* it has confirmation samples */
	bool by_stratum;            /* asked by its stratum's screen, not its own */
	double p_value;             /* eval vs prod, exact; 1 when not tested */
	double p_least;
	double p_below;
	bool below;
	const char *note;           /* why flaky or error, or NULL */
	struct report_side side[SIDE__COUNT];
};

/* A stratum: its name, and when it has selected cases, its statistics. */
struct report_stratum {
	const char *name;
	const char *description;    /* NULL when none */
	bool selected;              /* listed under "strata" */
	int ncases;
	int passed[SIDE__COUNT];    /* cases passing on each side */
	int counts[VERDICT__COUNT];
	enum verdict verdict;
	bool tested;
	double p_cmh;
	double p_value;
	double p_least;
	double p_adjusted;
	bool significant;
	int direction;              /* effect: +1 drift, -1 eval-regression, 0 none */
};

struct report_fingerprint {
	const char *value;
	long count;
};

struct report_target {
	const char *url;            /* for display; NULL: null */
	const char *api;            /* the suite's api: name; NULL: not known */
	const char *model;          /* the suite's model:, redacted; NULL: none */
	bool priced;                /* the suite gave a price: */
	double price_input;         /* USD per million input tokens */
	double price_output;        /* USD per million output tokens */
	const char *expected;       /* --expect-fingerprint: the composition the
				     * target must serve, or NULL */
	struct report_names unexpected; /* fingerprints it served that name another
					 * composition, sorted (with expected) */
	struct report_fingerprint *fingerprints; /* in the order met */
	size_t nfingerprints;
	size_t cap;                 /* private */
};

struct report_judge {
	bool present;               /* the suite has a judge */
	const char *model;          /* NULL: null */
	const char *api;
	const char *template;
	const char *template_hash;
	long calls;
	long cache_hits;
};

/* What --budget allowed, and what the run spent. */
struct report_budget {
	bool present;               /* the run had a budget */
	long long tokens;           /* the budget in tokens (0: in dollars) */
	double usd;                 /* the budget in US dollars (0: in tokens) */
	long long spent_tokens;     /* input and output tokens the replies declared */
	double spent_usd;           /* their cost at the targets' prices */
	bool reached;               /* spent met the budget: nothing more was sent */
	long not_run;               /* samples never sent because of it */
};

/* What --history said of the run's prod fingerprints. */
struct report_history {
	bool present;
	struct report_names unevaluated;
	struct report_names new_since_last;
	bool previous_run;
};

/* The most problems with lines of the log a replay report lists. */
#define REPORT_REPLAY_PROBLEMS_MAX 20

/* What `canary replay` read of its log: every line is counted in one of
 * unreadable, unmatched, sampled_out, over_limit or replayed. */
struct report_replay {
	bool present;
	const char *log;            /* the log file as given */
	long lines;                 /* non-empty lines read */
	long replayed;              /* records replayed: the cases */
	long unreadable;            /* lines that are not log records */
	long unmatched;             /* records that no stratum of replay: took */
	long sampled_out;           /* records left out by --sample */
	long over_limit;            /* records left out by --limit */
	struct report_names problems; /* "line N: why", the first of them */
};

struct report {
	const char *canary_version; /* NULL when the report did not say */
	const char *suite;
	long suite_cases;           /* -1 when the report did not say */
	bool has_suite_strata;
	struct report_names suite_strata;
	bool has_skipped;           /* lists the cases left out ("skipped") */
	int shard_index;
	int shard_count;            /* 0: not a --shard run */
	long shard_others;          /* cases of other shards */
	const char *started_at;     /* RFC 3339 */
	long long started_ms;       /* the same in Unix milliseconds */
	double duration_ms;
	enum verdict verdict;
	int exit_code;
	bool interrupted;
	double alpha;               /* 0: the default */
	double min_valid;
	int confirm;
	bool strict;
	bool fail_on_unevaluated;   /* --fail-on-unevaluated */
	long filtered;              /* cases left out by --stratum or --case */
	long requests;
	long attempts;
	long retries;
	struct report_target targets[SIDE__COUNT];
	struct report_judge judge;
	struct report_budget budget;
	struct report_history history;
	struct report_replay replay;
	struct report_names unevaluated; /* prod fingerprints eval never served, sorted */
	struct report_names differing;   /* components in which they differ, sorted */
	struct report_stratum *strata;   /* the suite's in suite order, then any other */
	size_t nstrata;
	struct report_case *cases;       /* in suite order (stratum, position), skipped too */
	size_t ncases;
	/* Private: storage, and the strings and strata by name. */
	struct arena arena;
	struct strmap interned;
	struct strmap strata_by_name;
	size_t cases_cap;
};

/*
 * Building a report (the run, the loader, merge and tests).
 */

/* report_new: an empty report: no strata, no cases, suite_cases -1. */
struct report *report_new(void);
void report_free(struct report *r);

/* report_intern: s kept once in r (NULL for NULL). */
const char *report_intern(struct report *r, const char *s);
/* report_strdup: a copy of s in r (NULL for NULL), for strings that do not
 * repeat. */
const char *report_strdup(struct report *r, const char *s);
/* report_names_add: s (interned) at the end of l. */
void report_names_add(struct report *r, struct report_names *l, const char *s);

/* report_stratum_index: the index of the stratum called name, added (not
 * selected) when new. */
size_t report_stratum_index(struct report *r, const char *name);
/* report_add_case: a new case of stratum (an index) with id, at the end,
 * position -1, not skipped, repeat 1, threshold 1, every p-value 1; it
 * stays valid until the next case is added. */
struct report_case *report_add_case(struct report *r, const char *id, size_t stratum);
/* report_side_samples: n zeroed samples for side s, in r's arena, their
 * usage unknown (-1). */
struct report_sample *report_side_samples(struct report *r, struct report_side *s, size_t n);
/* report_sample_reasons: room for n reasons of sample s, none yet. */
const char **report_sample_reasons(struct report *r, struct report_sample *s, size_t n);
/* The counts of struct report_usage by name ("input", "output", "total",
 * "cached", "reasoning"), as the JSON report has them, ending with NULL. */
struct report_usage_field {
	const char *name;
	size_t offset;
};
extern const struct report_usage_field report_usage_fields[];

/* report_sample_grades: n zeroed grades for sample s (ngrades n). */
struct report_grade *report_sample_grades(struct report *r, struct report_sample *s, size_t n);
/* report_sample_turns: n zeroed turns of sample s. */
struct report_turn *report_sample_turns(struct report *r, struct report_sample *s, size_t n);
/* report_turn_steps: n zeroed steps of turn t. */
struct report_step *report_turn_steps(struct report *r, struct report_turn *t, size_t n);
/* report_sample_copy_turns: to's turns, a copy in r of from's. */
void report_sample_copy_turns(struct report *r, struct report_sample *to,
			      const struct report_sample *from);
/* report_strings: room for n strings in r's arena. */
const char **report_strings(struct report *r, size_t n);
/* report_sample_steps: the requests of a sample (1 unless a conversation). */
unsigned report_sample_steps(const struct report_sample *s);
/* report_case_divergence: where a case's eval and prod trajectories first
 * differ, when its sides disagree and a sample of each is a conversation:
 * "turn 1 step 1: eval called check_availability, prod called
 * create_event" (from eval's first passing and prod's first failing sample,
 * or the other way round); NULL otherwise.  The caller frees it. */
char *report_case_divergence(const struct report_case *c);
/* report_add_fingerprint: count more replies of side that carried value. */
void report_add_fingerprint(struct report *r, enum side side, const char *value, long count);
/* report_sort_cases: the cases in suite order: by stratum, then position
 * (unknown last), then as they were. */
void report_sort_cases(struct report *r);
/* report_analyse_fingerprints: r->unevaluated and r->differing from the
 * targets' fingerprints: the prod fingerprints (one per composition) that
 * name no composition eval served (fingerprint_same()), and the components
 * in which they differ from eval's most frequent one. */
void report_analyse_fingerprints(struct report *r);

/* A composition a target served: its samples' grades, and the components in
 * which it differs from eval's most frequent composition. */
struct report_composition {
	const char *value;          /* the first value met that names it */
	long passed;
	long failed;
	long errors;
	bool evaluated;             /* eval served it too */
	char **differing;           /* sorted; each and the array xmalloc'd */
	size_t ndiffering;
};

/* report_compositions: the compositions side served, one per composition
 * (fingerprint_same()), in the order met, with the grades of the samples
 * that carried each (those no sample carried left out); their count.  Free with report_compositions_free(). */
size_t report_compositions(const struct report *r, enum side side,
			   struct report_composition **out);
void report_compositions_free(struct report_composition *c, size_t n);

/* report_unevaluated_count: the prod compositions eval never served: the
 * history's count when the report has one, else the run's. */
size_t report_unevaluated_count(const struct report *r);

/* What a run's fingerprints fail: a short state (for notify) and a reason. */
struct report_fingerprint_failure {
	const char *state;
	const char *reason;
};

/* report_fingerprint_failure: NULL when the fingerprints fail nothing; else
 * why: a target did not serve only its expected composition
 * (--expect-fingerprint), or prod served one eval never served with
 * fail_on_unevaluated. */
const struct report_fingerprint_failure *report_fingerprint_failure(const struct report *r);

/* report_apply_fingerprints: raise r's exit code to 1 when it is 0 or 3 and
 * report_fingerprint_failure() says why (verdict_compute() calls it; call it
 * again after the history changed r->history). */
void report_apply_fingerprints(struct report *r);

/*
 * What the JSON and the renderers derive.
 */

/* What one target spent and how fast it answered, over the samples of
 * a stratum or of the run. */
struct report_telemetry {
	long samples;               /* finished samples */
	long timed;                 /* requests a response came to (each step of a conversation) */
	double sum_ms;              /* their latencies summed, */
	double p50_ms;              /* their median (nearest rank), */
	double p95_ms;              /* 95th percentile */
	double max_ms;              /* and maximum; 0 when timed is 0 */
	struct report_usage tokens; /* declared tokens summed; -1 when no reply declared the kind */
	double cost_usd;            /* from tokens and the target's price; -1: no price or no tokens */
	long retries;               /* attempts beyond each request's first */
	long streamed;              /* samples with a time to first token (streamed), */
	double ttft_sum_ms;         /* those times summed, */
	double ttft_p50_ms;         /* their median (nearest rank), */
	double ttft_p95_ms;         /* 95th percentile */
	double ttft_max_ms;         /* and maximum; 0 when streamed is 0 */
};

/* report_telemetry: target side's figures over the cases of stratum (an
 * index; SIZE_MAX: every case of the report). */
void report_telemetry(const struct report *r, size_t stratum, enum side side,
		      struct report_telemetry *out);

/* report_streamed: whether some sample of r has a time to first token. */
bool report_streamed(const struct report *r);

/* report_side_total: passed + failed + errors. */
int report_side_total(const struct report_side *s);
/* report_side_rate: passed / (passed + failed); 0 when none is valid. */
double report_side_rate(const struct report_side *s);
/* report_side_measured: at least one valid sample. */
bool report_side_measured(const struct report_side *s);
/* report_side_ok: measured and the rate meets the case's threshold. */
bool report_side_ok(const struct report_case *c, enum side side);
/* report_case_repeated: more than one sample a side asked for. */
bool report_case_repeated(const struct report_case *c);

/* The most distinct reasons listed per side under "failures". */
#define REPORT_FAILURES_MAX 5

/* report_round: v to the given number of decimals (0 when not finite), so
 * that 2/3 shows as 0.6667 rather than 0.66666666666666663. */
double report_round(double v, int decimals);
/* report_sample_latency: the latency as the JSON has it (to 0.1 ms). */
double report_sample_latency(const struct report_sample *s);
/* report_side_failures: the first distinct reasons (invalid UTF-8 replaced
 * by U+FFFD) of the side's samples that did not pass, in the order met,
 * into out (the caller frees each); their count. */
size_t report_side_failures(const struct report_side *s, char *out[REPORT_FAILURES_MAX]);
/* report_side_summary: one line on a case's side: "ok, 3/3 samples passed",
 * "failed, 1/3 samples passed (rate 0.33, threshold 1)" or "not measured,
 * 0/1 samples passed, 1 error". */
char *report_side_summary(const struct report_case *c, enum side side);

/* report_clean: s with invalid UTF-8 replaced by U+FFFD and cut after about
 * max bytes with "...". */
char *report_clean(const char *s, size_t max);

/*
 * Reading and writing JSON.
 */

/* report_parse: a saved JSON report; name is the file name used in
 * messages.  Refused (NULL, *err) when it is not JSON, not a canary report
 * or of another version, lacks a field the model reads or has it with the
 * wrong type ("'cases[2].eval.passed' is not a whole number from 0 to
 * 1000000"), or has counts that do not agree: each side's passed + failed +
 * errors is its total, a total is no more than the case's repeat and
 * confirm or the samples listed, a stratum passes no more cases than it
 * has.  Fields it does not know are ignored. */
struct report *report_parse(const char *name, const char *text, size_t len, char **err);
/* report_load: report_parse() of a file ("-": standard input) of at most
 * REPORT_FILE_MAX bytes. */
struct report *report_load(const char *path, char **err);
/* report_json: the JSON report (docs/report-json.md), two-space indented,
 * written as it goes. */
int report_json(FILE *f, const struct report *r, char **err);

/*
 * Renderers.  Each writes one format of a report to f; -1 and *err when
 * writing to f fails.
 */

typedef int report_render_fn(FILE *f, const struct report *r, char **err);

struct report_text_options {
	bool color;               /* ANSI colour */
	bool verbose;             /* every failing sample, not only the first reason */
	const char *exit_reason;  /* why the exit code is worse than the verdict, or NULL */
};

/* report_text_with: the human report: header (suite, counts, targets), the
 * per-stratum table, one line per case that did not pass with each target's
 * reason, and the verdict line; o may be NULL. */
void report_text_with(FILE *out, const struct report *r, const struct report_text_options *o);
/* report_verdict_line: only the final verdict line (for --quiet). */
void report_verdict_line(FILE *out, const struct report *r, const struct report_text_options *o);

/* report_text: report_text_with() without options. */
report_render_fn report_text;
/* report_junit: JUnit XML, one testsuite per stratum (docs/reports.md). */
report_render_fn report_junit;
/* report_markdown: GitHub-flavoured markdown for step summaries, always
 * under REPORT_MARKDOWN_MAX bytes. */
report_render_fn report_markdown;
/* report_prom: Prometheus text exposition format 0.0.4. */
report_render_fn report_prom;
/* report_tap: TAP version 14, one test point per case. */
report_render_fn report_tap;

/* GitHub rejects step summaries over 1 MiB. */
#define REPORT_MARKDOWN_MAX ((size_t)1000 * 1000)

/* The renderers by format name, ending with {NULL, NULL}. */
struct report_format {
	const char *name;
	report_render_fn *render;
};

extern const struct report_format report_formats[];

/* report_format_find: the format named by the first len bytes of name, or
 * NULL. */
const struct report_format *report_format_find(const char *name, size_t len);

/* report_write_atomic: render into PATH.tmp.PID beside path, flush, fsync
 * and rename over path, so a reader (a textfile collector, a CI uploader)
 * never sees half a report; the temporary file is removed on failure. */
int report_write_atomic(const char *path, report_render_fn *render, const struct report *r,
			char **err);

/* report_flush: flush f; -1 and *err when anything written to it failed. */
int report_flush(FILE *f, char **err);

/* report_merge: one report from the reports of shards of one suite (or
 * of any runs of parts of it): the cases of every report in suite order,
 * the skipped cases that ran in none, and every verdict, stratum and the
 * exit code computed again by verdict_compute(), as the unsharded run did,
 * so that merged shards equal the unsharded run but for timing (the
 * earliest start, the longest duration).  Requests, attempts, retries and
 * fingerprint counts are summed; "judge" is the reports' (refused when they
 * name different judges or prompt templates), its calls and cache hits
 * summed; "history" is kept only when there is one report (it describes one
 * run).  Refuses (NULL, *err) reports of different suites, suite versions or
 * settings, a report without its suite's layout (suite_strata, suite_cases,
 * skipped, positions), a case that appears twice or at a taken position,
 * and, when every report says which shard it is, two reports of one shard
 * or a missing shard (unless flags has REPORT_MERGE_PARTIAL).  names[i]
 * names reports[i] in messages; names may be NULL ("report 1", ...). */
struct report *report_merge(struct report *const *reports, const char *const *names, size_t n,
			    unsigned flags, char **err);

/* Flags of report_merge(). */
#define REPORT_MERGE_PARTIAL 1u /* merge even when shards are missing */

#endif
