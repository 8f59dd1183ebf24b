/* run/run.h: one run of a suite: jobs (case x target x repeat) on the transport,
 * replies parsed by the target's provider, graded, and gathered into samples
 * and per-case, per-stratum results.
 *
 * Eval and prod samples of a case are submitted interleaved (eval, prod,
 * eval, prod, ...) so that time-dependent effects hit both sides alike.
 *
 * Ownership: a struct run borrows its suite (which must outlive it) and owns
 * every result, sample, reason and fingerprint string; run_free() frees them.
 * Every reason and URL in a run has been through the suite's redact set.
 */
#ifndef CANARY_RUN_H
#define CANARY_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "suite/suite.h"
#include "transport/transport.h"
#include "report/verdict.h"
#include "graders/grader.h"

/* One grader's verdict on one sample. */
struct sample_grade {
	const struct grader *grader;
	enum grade grade;
	char *reason;          /* redacted; NULL on a pass */
};

struct sample {
	enum side side;
	int index;             /* repeat number, from 0 */
	bool done;             /* false when the run was interrupted first */
	enum grade grade;
	char **reasons;        /* "grader: why" per failing grader, or the error */
	size_t nreasons;
	long status;           /* HTTP status, 0 when none arrived */
	double latency_ms;
	int attempts;
	char *fingerprint;     /* NULL when none */
	struct sample_grade *grades; /* every grader that ran, in suite order */
	size_t ngrades;
};

struct side_result {
	int passed;
	int failed;
	int errors;            /* samples that could not be measured */
	int total;             /* samples sent: passed + failed + errors */
	int first_passed;      /* passed and failed among the first `repeat` */
	int first_failed;      /* samples, which decide confirmation */
	double rate;           /* passed / (passed + failed); 0 when none valid */
	bool measured;         /* at least one valid sample */
	bool ok;               /* measured and rate >= threshold */
	double wilson_lo;      /* 95% Wilson interval of rate */
	double wilson_hi;
	struct sample *samples;
	size_t nsamples;
};

struct case_result {
	const struct suite_case *c;
	bool selected;         /* false when filtered out (--stratum, --case, --shard) */
	bool other_shard;      /* filtered out because it belongs to another shard */
	struct side_result side[SIDE__COUNT];
	int repeat;            /* first samples asked per side (its repeat, or --repeat) */
	int confirm;           /* confirmation samples asked per side; 0 unless confirmed */
	bool confirmed;        /* the first samples disagreed or missed the threshold */
	bool repeated;         /* more than one sample asked per side: tested */
	double p_value;        /* two-sided exact, eval vs prod; 1 when not tested */
	double p_least;        /* the least p_value its margins allowed */
	double p_below;        /* one-sided: both sides below threshold (the larger
				* binomial p of the two); 1 when not tested */
	bool below;            /* both sides significantly below threshold */
	char note[128];        /* why error or flaky ("prod: 3 of 10 samples
				* measured"), or "" */
	enum verdict verdict;
};

struct stratum_result {
	const struct stratum *s;
	int ncases;            /* selected cases */
	int passed[SIDE__COUNT]; /* cases passing on each side */
	int counts[VERDICT__COUNT];
	enum verdict verdict;
	bool selected;         /* any selected case */
	bool tested;           /* some case has repeats: p_value is meaningful */
	double p_cmh;          /* exact Cochran-Mantel-Haenszel over its tested cases */
	double p_value;        /* the CMH look and the case look combined */
	double p_least;        /* the least p_value its margins allowed */
	double p_adjusted;     /* p_value x Tarone's K across the strata of the run */
	bool significant;      /* p_adjusted <= the level of differences */
	int direction;         /* significant CMH look: +1 eval passes more, -1
				* prod does; 0 otherwise */
};

struct fingerprint_count {
	char *value;
	int count;
};

struct run {
	struct suite *suite;
	struct case_result *cases;  /* one per suite case, in suite order */
	size_t ncases;
	size_t nselected;
	struct stratum_result *strata; /* one per suite stratum */
	size_t nstrata;
	char *url_display[SIDE__COUNT]; /* without credentials or env values */
	struct fingerprint_count *fingerprints[SIDE__COUNT];
	size_t nfingerprints[SIDE__COUNT];
	enum verdict verdict;
	int exit_code;
	long long started_wall_ms;
	long duration_ms;
	bool interrupted;
	struct transport_stats stats;
	struct grader_runtime rt;      /* judge calls, cache hits, the cache */
	int shard_index;               /* --shard I/N: I from 0, N (0: not sharded) */
	int shard_count;
	char **unevaluated;            /* prod fingerprints never seen on eval */
	size_t nunevaluated;
	char **differing;              /* fingerprint components that differ, sorted */
	size_t ndiffering;
	/* Set by the caller after comparing the run with a history: */
	bool history;                  /* compared with a --history */
	char **history_unevaluated;    /* prod fingerprints no recorded run saw on eval */
	size_t nhistory_unevaluated;
	char **new_since_last;         /* prod fingerprints the previous run did not see */
	size_t nnew_since_last;
	bool has_previous_run;
	char *exit_reason;             /* why exit_code is worse than the verdict, or NULL */
	double alpha;                  /* significance level (0: the default 0.05) */
	double min_valid;              /* fraction of samples a side needs valid */
	int confirm;                   /* --confirm N: 0 when off */
	bool strict;                   /* flaky cases fail the run */
	char *warning;                 /* something the run did without, or NULL */
	const char *judge_template;     /* the judge prompt's version and hash */
	const char *judge_template_hash; /* (not owned: static, or a saved report's) */
};

struct run_options {
	struct transport_options transport;
	long timeout_ms;        /* --timeout: overrides suite and case (0: none) */
	int repeat;             /* --repeat: overrides (0: none) */
	struct suite_filter filter; /* --stratum and --case (borrowed) */
	bool judge_lazy;        /* skip the judge when other graders failed the sample */
	const char *judge_cache;/* --judge-cache path, or NULL for the default */
	bool no_judge_cache;    /* --no-judge-cache */
	int shard_index;        /* --shard I/N, I from 0 */
	int shard_count;        /* 0: not sharded */
	double alpha;           /* --alpha (0: 0.05) */
	int confirm;            /* --confirm N (-1: the suite's defaults) */
	double min_valid;       /* --min-valid (-1: the suite's defaults) */
	bool strict;            /* --strict: flaky fails the run */
	/* Set by a signal handler, or NULL: 1 stops the run (requests and exec
	 * graders in flight get transport.grace_ms), 2 or more ends the grace. */
	volatile sig_atomic_t *stop;
	/* on_sample: called after each sample is graded (for progress and
	 * --verbose), or NULL. */
	void (*on_sample)(const struct run *r, const struct case_result *cr,
			  const struct sample *s, void *user);
	void *user;
};

/* run_options_default: the defaults of `canary run`. */
void run_options_default(struct run_options *o);

/* run_execute: run the suite's selected cases against both targets.  Every
 * failure of a request or grader becomes an error sample, so this fails
 * (NULL, *err) only when the run cannot start at all (e.g. libcurl fails, or
 * the filters select no case). */
struct run *run_execute(struct suite *s, const struct run_options *o, char **err);

/* run_grade_reply: parse a raw reply with the side's provider and grade it
 * with case c's graders into out, judge included (on a transport of its
 * own); for `canary grade`.  rt may be NULL. */
void run_grade_reply(struct suite *s, const struct suite_case *c, enum side side,
		     struct reply *reply, struct grader_runtime *rt, struct sample *out);

void run_free(struct run *r);

struct report;

/* run_report: the report of a finished run (report/report.h): its cases in
 * suite order with their finished samples, verdicts and statistics; the
 * caller frees it with report_free(). */
struct report *run_report(const struct run *r);

/* run_analyse_fingerprints: fill r->unevaluated (prod fingerprints eval
 * never served) and r->differing (the components, sorted, in which they
 * differ from eval's most frequent fingerprint, when fingerprints list
 * component hashes) from r->fingerprints.  The lists must be empty. */
void run_analyse_fingerprints(struct run *r);
/* run_fingerprints_release: free and empty those two lists. */
void run_fingerprints_release(struct run *r);

/* run_case_hash: the 64-bit FNV-1a hash of a case id that --shard orders
 * cases by. */
uint64_t run_case_hash(const char *id);
void sample_release(struct sample *s);

/* run_display_url: url with userinfo, query and fragment removed; a URL that
 * came from ${env:...} shows as its template. */
char *run_display_url(const struct target *t, const struct redact *r);

#endif
