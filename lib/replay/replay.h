/* replay/replay.h: `canary replay SUITE LOG.jsonl`, shadow mode: each log
 * record (docs/evidence.md) becomes a case of the stratum the suite's
 * replay: section puts it in; its request is sent to eval and its logged
 * reply stands as prod's sample, both graded with the stratum-level
 * expect.
 *
 * Every non-empty line of the log is counted once: replayed, unreadable
 * (not a record), unmatched (no stratum took it), left out by --sample, or
 * over --limit; the first problems are kept with their line numbers, so
 * nothing is dropped silently.  Lines past the limit are counted without
 * being read as records, and a line is read up to REPLAY_LINE_MAX bytes.
 *
 * Ownership: a struct replay owns its log name, problems and the prod
 * replies it gives the run (run_options.given), until replay_release().
 * replay_prepare() replaces the suite's cases with the records' cases
 * (suite_set_cases()); the suite owns those.  Call replay_release() after
 * replay_prepare() whatever it returned.  Error messages are the caller's.
 */
#ifndef CANARY_REPLAY_H
#define CANARY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/report.h"
#include "run/run.h"
#include "suite/suite.h"

/* The longest line read as a record. */
#define REPLAY_LINE_MAX ((size_t)64 << 20)
/* --limit's default: the most cases a suite may hold. */
#define REPLAY_LIMIT_DEFAULT 10000L

struct replay_options {
	const char *log;       /* the log file; "-" is standard input */
	long limit;            /* records replayed at most */
	double sample;         /* the fraction of records taken, in (0, 1] */
	uint64_t seed;         /* which fraction: a record is taken or not by
				* its line number and the seed alone */
};

/* replay_options_default: no sampling, seed 0, REPLAY_LIMIT_DEFAULT. */
void replay_options_default(struct replay_options *o);

struct replay {
	struct report_replay counts; /* what the report says (its names unused) */
	char *log;
	char **problems;             /* "line N: why", the first of them */
	size_t nproblems;
	struct run_given *given;     /* per suite case, in suite order */
	size_t ngiven;
};

/* replay_sampled: whether the record on line (from 1) is taken by a
 * --sample of fraction with seed. */
bool replay_sampled(uint64_t seed, long line, double fraction);

/* replay_stratum: the stratum (an index) that s's replay: section puts
 * record in (json: the whole record; last_user: its last user message, or
 * NULL); s->nstrata and *why (the caller's) when none. */
size_t replay_stratum(const struct suite *s, const cJSON *record, const char *last_user,
		      char **why);

/* replay_prepare: read the log into rp and make its records s's cases.
 * -1 and *err when nothing can be replayed: s has no replay: section, the
 * log cannot be read, a record lands in a stratum without stratum-level
 * expect, or no record is left to replay (the problems then say why). */
int replay_prepare(struct suite *s, const struct replay_options *o, struct replay *rp,
		   char **err);

/* replay_report: rp's counts and problems into rep->replay, and the log in
 * place of prod's URL. */
void replay_report(const struct replay *rp, struct report *rep);

void replay_release(struct replay *rp);

#endif
