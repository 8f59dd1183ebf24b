/* notify/notify.h: `canary run --notify URL`: tell a webhook when a suite's state
 * changes, and only then (plus a reminder while a bad state lasts).
 *
 * A run's state is "pass" when it exits 0 (flaky cases allowed), otherwise
 * its verdict: "drift", "regression", "eval-regression", "error", or
 * "flaky" under --strict.  An interrupted run has no state: it notifies
 * nobody and changes nothing.
 *
 * The history remembers, per suite, the state its receivers know and when
 * it was last sent (history_last_notification()), with the strata that
 * failed then.  With no such state ("unknown"), a first run that passes
 * sends nothing but is remembered as known, and a first run in any other
 * state sends.  A change sends (to "pass" it is a recovery); the same state
 * again sends when the set of failing strata changed ("drift in tools"
 * then "drift in tools, prompt"), and is otherwise silent, except that a
 * state other than "pass" is sent again as a reminder once remind_ms have
 * passed since it was last sent.  A failed POST is not remembered, so the
 * next run sends again.
 *
 * The payload is JSON with a Slack-compatible "text" and structured fields
 * (docs/history.md).  It holds only what the run already holds after
 * redaction: display URLs (no userinfo, query or env values), fingerprints,
 * verdicts, counts and redacted reasons; never a header.
 *
 * Ownership: notify_payload() returns a tree the caller frees with
 * cJSON_Delete(); a struct notify_plan owns its strings, payload and body
 * until notify_plan_release(); notify_request() returns a request for
 * transport_submit(), which then owns it.  Error messages are the caller's.
 */
#ifndef CANARY_NOTIFY_H
#define CANARY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct history;
struct http_request;
struct http_result;
struct report;

enum notify_kind {
	NOTIFY_NONE,      /* send nothing */
	NOTIFY_CHANGE,    /* a new state other than pass */
	NOTIFY_RECOVERY,  /* back to pass */
	NOTIFY_REMINDER,  /* the same state other than pass, remind_ms later */
	NOTIFY_STRATA,    /* the same state, other failing strata */
};

/* How many failing cases the payload lists. */
#define NOTIFY_TOP_FAILURES 5

/* notify_kind_name: "none", "change", "recovery", "reminder", "strata". */
const char *notify_kind_name(enum notify_kind k);

/* notify_state: the state of the run of r (a static string), NULL when
 * interrupted. */
const char *notify_state(const struct report *r);

/* notify_decide: what to send for new_state given the state the receivers
 * know (prev_state; NULL or "unknown" when none), when it was last sent and
 * the reminder period (remind_ms <= 0: never remind). */
enum notify_kind notify_decide(const char *prev_state, const char *new_state,
			       long long last_sent_ms, long long now_ms, long remind_ms);

/* notify_failing_strata: the strata of r that did not pass (flaky
 * allowed), sorted, as a JSON array of their names (the caller frees it):
 * what the history keeps to tell a change of them. */
char *notify_failing_strata(const struct report *r);

/* notify_decide_strata: notify_decide(), then NOTIFY_STRATA in place of
 * silence or a reminder when the state is known and the failing strata
 * (notify_failing_strata()) differ from those last told (prev_strata; NULL
 * when not known: no change is told). */
enum notify_kind notify_decide_strata(const char *prev_state, const char *new_state,
				      const char *prev_strata, const char *new_strata,
				      long long last_sent_ms, long long now_ms, long remind_ms);

/* notify_should_send: notify_decide() != NOTIFY_NONE. */
bool notify_should_send(const char *prev_state, const char *new_state, long long last_sent_ms,
			long long now_ms, long remind_ms);

/* notify_payload: the JSON to POST of kind for the run of r: "text",
 * "suite", "state", "verdict", "previous", "kind", "reminder", "exit_code",
 * "started_at", "duration_ms", "strata", "failing_strata", "top_failures",
 * "targets" (display URL and fingerprints), "unevaluated" (the history's,
 * when the report has one, else the run's fingerprint_diff),
 * "new_since_last" (with a history), "report_url" when report_url is given,
 * and "previous_failing_strata" when prev_strata (as
 * notify_failing_strata() writes them) is given. */
cJSON *notify_payload(const struct report *r, const char *prev_state, const char *prev_strata,
		      const char *report_url, enum notify_kind kind);

struct notify_options {
	long long now_ms;
	long remind_ms;                 /* --remind; 0: never */
	const char *report_url;         /* --report-url, or NULL */
};

/* What to send for one run, decided from the history. */
struct notify_plan {
	enum notify_kind kind;
	char *suite;
	char *state;           /* NULL: an interrupted run */
	char *previous;        /* the state the receivers knew, or NULL */
	char *strata;          /* notify_failing_strata() of the run */
	char *previous_strata; /* those the receivers knew, or NULL */
	long long previous_sent_at;
	cJSON *payload;        /* when kind != NOTIFY_NONE */
	char *body;            /* payload printed, when kind != NOTIFY_NONE */
};

/* notify_prepare: decide from h's notification state what to send for the
 * run of r, and build the payload when something is to be sent. */
int notify_prepare(struct history *h, const struct report *r, const struct notify_options *o,
		   struct notify_plan *plan, char **err);

/* notify_commit: remember what the receivers now know: call it after the
 * POST succeeded, and also when plan->kind is NOTIFY_NONE (a first passing
 * run is then remembered as known; otherwise nothing is written).  Never
 * call it after a failed POST. */
int notify_commit(struct history *h, const struct notify_plan *plan, long long now_ms,
		  char **err);

void notify_plan_release(struct notify_plan *plan);

/* notify_request: a POST of plan's body to url (Content-Type:
 * application/json, 10 s timeout, target pool) for transport_submit();
 * the caller sets done and user. */
struct http_request *notify_request(const char *url, const struct notify_plan *plan);

/* notify_delivered: whether a webhook accepted the POST (a 2xx status). */
bool notify_delivered(const struct http_result *res);

/* notify_url_display: a webhook URL for messages: its scheme and host
 * only ("https://hooks.slack.com/..."), since the path of a webhook URL is
 * its secret; the caller frees it. */
char *notify_url_display(const char *url);

#endif
