/* report/report.h: renderings of a finished run.
 *
 * Every machine format renders from the JSON report tree (report_json_tree),
 * so that a saved report can be rendered again (`canary report`) and shard
 * reports can be merged (`canary merge`) before rendering.
 *
 * Ownership: renderers borrow the run or the tree and write only to the
 * FILE they are given.  report_json() returns a string the caller frees;
 * report_json_tree(), report_json_parse(), report_json_load(),
 * report_recompute() and report_merge() return a tree the caller frees with
 * cJSON_Delete().  Error messages (*err) are the
 * caller's to free.
 */
#ifndef CANARY_REPORT_H
#define CANARY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct run;

/* The version of the JSON report this canary writes and reads. */
#define REPORT_VERSION 1

struct report_text_options {
	bool color;     /* ANSI colour */
	bool verbose;   /* every failing sample, not only the first reason */
};

/* report_text: the human report: header (suite, counts, targets), the
 * per-stratum table, one line per case that did not pass with each target's
 * reason, and the verdict line. */
void report_text(FILE *out, const struct run *r, const struct report_text_options *o);

/* report_verdict_line: only the final verdict line (for --quiet). */
void report_verdict_line(FILE *out, const struct run *r, bool color);

/* report_json_tree: the JSON report as a tree (DESIGN.md fields and more;
 * every field is described in docs/report-json.md). */
cJSON *report_json_tree(const struct run *r);

/* report_json: report_json_tree() printed. */
char *report_json(const struct run *r);

/* report_json_parse: parse a saved JSON report and check it with
 * report_check(); name is the file name used in messages. */
cJSON *report_json_parse(const char *name, const char *text, size_t len, char **err);

/* report_json_load: read and parse a saved JSON report file ("-": standard
 * input) of at most REPORT_FILE_MAX bytes. */
cJSON *report_json_load(const char *path, char **err);

#define REPORT_FILE_MAX ((size_t)512 << 20)

/* report_check: whether a tree has every field the renderers read, with the
 * right types ("'cases[2].eval.passed' is not a whole number from 0 to
 * 1000000" when not), and counts that agree: each side's passed + failed +
 * errors is its total, a total is no more than the case's repeat or the
 * samples listed, a stratum passes no more cases than it has.  Sample
 * counts, repeat, sample index and attempts are at most REPORT_COUNT_MAX,
 * so that no sum of them overflows an int.  A tree without
 * "canary_report", or of another version, fails with a message that says
 * so. */
int report_check(const cJSON *report, char **err);

/* The largest count of samples (per side of a case), repeat, sample index
 * and attempts a report may hold. */
#define REPORT_COUNT_MAX 1000000

/* report_recompute: the report of a run of the tree's cases: the tree
 * rebuilt into a run (cases at their positions, other positions left to
 * other shards), its verdicts, strata and exit code computed again by
 * verdict_compute(), and written as report_json_tree() writes a run's,
 * with the tree's "judge" and "history" as they are.  Needs "suite_strata",
 * "suite_cases" and every case's "position"; refuses two cases at one
 * position. */
cJSON *report_recompute(const cJSON *report, char **err);

/*
 * Renderers of a report tree.  Each checks the tree first and fails (-1 and
 * *err, nothing written) when it lacks a field it needs; it also fails when
 * writing to f fails.
 */

/* report_json_print: the tree as indented JSON. */
int report_json_print(FILE *f, const cJSON *report, char **err);
/* report_text_tree: the text report of report_text() from a tree. */
int report_text_tree(FILE *f, const cJSON *report, char **err);
/* report_junit: JUnit XML, one testsuite per stratum (docs/reports.md). */
int report_junit(FILE *f, const cJSON *report, char **err);
/* report_markdown: GitHub-flavoured markdown for step summaries, always
 * under REPORT_MARKDOWN_MAX bytes. */
int report_markdown(FILE *f, const cJSON *report, char **err);
/* report_prom: Prometheus text exposition format 0.0.4. */
int report_prom(FILE *f, const cJSON *report, char **err);
/* report_tap: TAP version 14, one test point per case. */
int report_tap(FILE *f, const cJSON *report, char **err);

/* GitHub rejects step summaries over 1 MiB. */
#define REPORT_MARKDOWN_MAX ((size_t)1000 * 1000)

/* The renderers by format name, ending with {NULL, NULL}. */
struct report_format {
	const char *name;
	int (*render)(FILE *f, const cJSON *report, char **err);
};

extern const struct report_format report_formats[];

/* report_format_find: the format named by the first len bytes of name, or
 * NULL. */
const struct report_format *report_format_find(const char *name, size_t len);

/* report_write_atomic: render into PATH.tmp.PID beside path, flush, fsync
 * and rename over path, so a reader (a textfile collector, a CI uploader)
 * never sees half a report; the temporary file is removed on failure. */
int report_write_atomic(const char *path,
			int (*render)(FILE *f, const cJSON *report, char **err),
			const cJSON *report, char **err);

/* report_merge: one report from shard reports of the same suite: cases in
 * suite order, every stratum's statistics, the verdict and the exit code
 * recomputed, so that merged shards equal the unsharded run but for timing.
 * "judge" is the reports' (refused when they name different judges or
 * prompt templates), its calls and cache hits summed; "history" is kept
 * only when there is one report (it describes one run).
 * Refuses (NULL, *err) reports of different suites, suite versions or
 * report versions, a case that appears in two reports, and, when every
 * report says which shard it is, two reports of one shard or a missing
 * shard (unless flags has REPORT_MERGE_PARTIAL).  names[i] names reports[i]
 * in messages; names may be NULL ("report 1", ...). */
cJSON *report_merge_named(cJSON *const *reports, const char *const *names, size_t n,
			  unsigned flags, char **err);
/* report_merge: report_merge_named() without names or flags. */
cJSON *report_merge(cJSON *const *reports, size_t n, char **err);

/* Flags of report_merge_named(). */
#define REPORT_MERGE_PARTIAL 1u /* merge even when shards are missing */

/*
 * Reading a checked tree, shared by the renderers.
 */

/* report_str: the string at key, or "" when absent or not a string. */
const char *report_str(const cJSON *o, const char *key);
/* report_num: the number at key, or 0 when absent or not a number. */
double report_num(const cJSON *o, const char *key);
/* report_int: report_num() as an int, clamped to the int range. */
int report_int(const cJSON *o, const char *key);

/* One case or skipped entry of a report, placed in suite order. */
struct report_item {
	const cJSON *c;        /* an element of "cases" or of "skipped" */
	bool skipped;          /* filtered out: c is from "skipped" */
	size_t stratum;        /* index into report_layout.strata */
};

/* The strata and cases of a report in suite order: strata as in
 * "suite_strata" (then any other met), items by stratum then position. */
struct report_layout {
	const char **strata;   /* borrowed from the tree */
	const cJSON **stratum; /* stratum[i]: the "strata" entry of strata[i], or NULL */
	size_t nstrata;
	struct report_item *items;
	size_t nitems;
};

/* report_layout_init: lay out a checked tree. */
void report_layout_init(struct report_layout *l, const cJSON *report);
void report_layout_release(struct report_layout *l);

/* report_side_summary: one line on a case's side: "ok, 3/3 samples passed",
 * "failed, 1/3 samples passed (rate 0.33, threshold 1)" or "not measured,
 * 0/1 samples passed, 1 error". */
char *report_side_summary(const cJSON *side, double threshold);

/* report_flush: flush f; -1 and *err when anything written to it failed. */
int report_flush(FILE *f, char **err);

/* report_clean: s with invalid UTF-8 replaced by U+FFFD and cut after about
 * max bytes with "...". */
char *report_clean(const char *s, size_t max);


#endif
