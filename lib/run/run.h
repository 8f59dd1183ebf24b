/* run/run.h: one run of a suite: jobs (case x target x repeat) on the transport,
 * replies parsed by the target's provider, graded, and gathered into samples
 * per case; run_report() then makes them the run's report, which holds the
 * verdicts.
 *
 * Eval and prod samples of a case are submitted interleaved (eval, prod,
 * eval, prod, ...) so that time-dependent effects hit both sides alike.
 *
 * Ownership: a struct run borrows its suite (which must outlive it) and owns
 * every sample, reason and fingerprint string; run_free() frees them.
 * Every reason and URL in a run has been through the suite's redact set.
 */
#ifndef CANARY_RUN_H
#define CANARY_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "run/grading.h"
#include "run/save.h"
#include "grader.h"
#include "provider.h"

/* One grader's verdict on one sample. */
struct sample_grade {
	const struct grader *grader;
	enum grade grade;
	double score;          /* 0..1, as the grader gave it */
	char *reason;          /* redacted; NULL on a pass */
};

/* One request of a conversation sample: a step of one of its turns. */
struct sample_step {
	long status;           /* HTTP status */
	double latency_ms;
	char **calls;          /* the names of the tools it called, in order */
	size_t ncalls;
};

/* One user turn of a conversation sample. */
struct sample_turn {
	enum grade grade;      /* of the turn's own graders; a pass when it has none */
	char **reasons;        /* "grader: why" per grader that did not pass */
	size_t nreasons;
	struct sample_step *steps;
	size_t nsteps;
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
	double start_ms;       /* Unix ms the (last) attempt started (a conversation's
				* first request's); 0: never sent */
	double ttft_ms;        /* a streamed reply's time to first token; -1: none */
	int attempts;
	char *fingerprint;     /* NULL when none */
	char *response_id;     /* the reply's top-level "id", redacted, or NULL */
	char *response_model;  /* its top-level "model", redacted, or NULL */
	struct usage usage;    /* the tokens the reply declared (-1: not declared) */
	struct sample_grade *grades; /* every grader that ran, in suite order */
	size_t ngrades;
	char *reply_file;      /* --save-replies: the saved sample's path, or NULL */
	struct sample_turn *turns;   /* a conversation's turns as far as it went, or NULL */
	size_t nturns;
};

/* The samples of one side of a case: `repeat` first ones, then room for
 * the confirmation samples (nsamples grows when the case is confirmed). */
struct side_result {
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
	bool confirmed;        /* the first samples disagreed or missed the threshold, */
	bool by_stratum;       /* or its stratum's screen asked (stats_screens()) */
};

struct run {
	struct suite *suite;
	struct case_result *cases;  /* one per suite case, in suite order */
	size_t ncases;
	size_t nselected;
	char *url_display[SIDE__COUNT]; /* without credentials or env values */
	long long started_wall_ms;
	long duration_ms;
	bool interrupted;
	struct transport_stats stats;
	struct grader_runtime rt;      /* judge calls and cache hits (the counters only) */
	int shard_index;               /* --shard I/N: I from 0, N (0: not sharded) */
	int shard_count;
	double alpha;                  /* significance level (0: the default 0.05) */
	double min_valid;              /* fraction of samples a side needs valid */
	int confirm;                   /* --confirm N: 0 when off */
	bool strict;                   /* flaky cases fail the run */
	bool fail_on_unevaluated;      /* an unevaluated prod composition fails it */
	const char *expected[SIDE__COUNT]; /* compositions expected (borrowed), or NULL */
	char *warning;                 /* something the run did without, or NULL */
	char *save_error;              /* why --save-replies stopped saving, or NULL */
	long long budget_tokens;       /* --budget N (0: none) */
	double budget_usd;             /* --budget Xusd (0: none) */
	long long spent_tokens;        /* input and output tokens the replies declared */
	double spent_usd;              /* and their cost at the targets' prices */
	bool budget_reached;           /* nothing more was sent once spent met the budget */
};

/* A prod sample given rather than sent (`canary replay`): the reply
 * production logged, already parsed, or why it could not be. */
struct run_given {
	struct reply reply;     /* taken by the run when graded */
	char *error;            /* the reply could not be parsed: an error sample */
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
	const char *save_replies; /* --save-replies DIR, or NULL */
	enum run_save_format save_format; /* --save-replies-format */
	/* --budget: once the tokens (input and output) the replies declare, or
	 * their cost at the targets' prices, reach it, no new request is sent;
	 * 0: no budget.  budget_usd needs a price on both targets. */
	long long budget_tokens;
	double budget_usd;
	bool fail_on_unevaluated; /* --fail-on-unevaluated */
	/* --expect-fingerprint SIDE=MANIFEST: the composition (compact form, full
	 * hashes; borrowed) each side must serve, or NULL. */
	const char *expected[SIDE__COUNT];
	/* given: per suite case (suite order), prod's one sample, graded as if
	 * prod had answered it, so that only eval is sent to (and only its
	 * environment variables are needed); NULL: both sides are sent.  The
	 * run takes each reply; the caller frees the rest. */
	struct run_given *given;
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
 * own, with o's cache and stop; o->graders is c's); for `canary grade`.
 * The caller still releases *reply.  -1 and *err when the verdict cache
 * asked for cannot be opened; *warning (the caller's) says what grading
 * does without, or stays NULL. */
int run_grade_reply(struct suite *s, const struct suite_case *c, enum side side,
		    struct reply *reply, const struct grading_options *o, struct sample *out,
		    char **warning, char **err);

void run_free(struct run *r);

struct report;

/* run_report: the report of a finished run (report/report.h): its cases in
 * suite order with their finished samples, their verdicts and statistics
 * computed (verdict_compute()), its fingerprints analysed
 * (report_analyse_fingerprints()); the caller frees it with report_free().
 * Each case's samples are freed once they are in the report, so that the
 * run and its report are not both whole at once: the run is left only to
 * run_free(). */
struct report *run_report(struct run *r);

/* run_case_hash: the 64-bit FNV-1a hash of a case id that --shard orders
 * cases by. */
uint64_t run_case_hash(const char *id);
void sample_release(struct sample *s);
/* sample_add_reason: add reason to s, rd's secrets masked, on one line. */
void sample_add_reason(struct sample *s, const struct redact *rd, const char *reason);

/* run_display_url: url with userinfo, query and fragment removed; a URL that
 * came from ${env:...} shows as its template. */
char *run_display_url(const struct target *t, const struct redact *r);

#endif
