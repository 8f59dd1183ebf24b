/* suite/suite.h: a canary suite (format v1) loaded from YAML into a model.
 *
 * suite_load() reads the file, checks every key (unknown keys are errors
 * with file:line:col and a suggestion), compiles every grader once, renders
 * the case strings and checks every target template, so that a suite that
 * loads can be run without any further suite error.
 *
 * Ownership: a struct suite owns everything reachable from it: targets,
 * strata, cases, rendered strings, JSON trees, tools and compiled graders.
 * Cases point at graders and tools the suite owns (named graders, equal
 * expect entries and the tools of the suite and of a stratum are shared,
 * never copied).  It all lives until suite_free().
 */
#ifndef CANARY_SUITE_H
#define CANARY_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "redact.h"
#include "side.h"
#include "template.h"
#include "ynode.h"

struct grader;
struct provider;
struct rx;

struct header {
	char *name;
	char *value; /* a template; its rendered value is a secret */
};

enum fingerprint_kind {
	FINGERPRINT_NONE,
	FINGERPRINT_HEADER, /* a response header */
	FINGERPRINT_JSON,   /* a JSON pointer into the response body */
};

/* What every API shares; the options of one API are in its private state. */
struct target {
	enum side side;
	char *url;                 /* a template (or the --target override) */
	bool url_overridden;
	const struct provider *provider;
	void *priv;                /* the provider's private state (its options), or NULL */
	char *model;               /* NULL when not given */
	struct header *headers;
	size_t nheaders;
	enum fingerprint_kind fingerprint;
	char *fingerprint_where;   /* header name or JSON pointer */
	long timeout_ms;           /* 0: the suite default */
	bool priced;               /* price: given */
	double price_input;        /* USD per million input tokens */
	double price_output;       /* USD per million output tokens */
	bool stream;               /* ask for a server-sent event stream */
	/* request: a template (target strings): the defaults' request: with
	 * the target's own deep-merged over it; NULL when neither is given or
	 * the API takes none. */
	cJSON *request;
	int line, col;
};

struct judge_config {
	bool present;
	char *url;                 /* a template of ${env:...} (or the --judge-url override) */
	bool url_overridden;
	const struct provider *provider; /* one with judge_build */
	char *model;
	struct header *headers;
	size_t nheaders;
	double temperature;
	int max_tokens;
	long timeout_ms;
	int line, col;
};

/* A tool a case offers the agent, in no API's format: each provider renders
 * it in its own (suite_tools_json() gives the common parts). */
struct suite_tool {
	char *name;                /* [A-Za-z0-9_-], 1 to 64 bytes */
	char *description;         /* NULL when not given */
	cJSON *parameters;         /* a JSON Schema of type object, checked at load */
};

struct jsonschema;

/* One scripted result of a tool: sent when the call's arguments validate
 * against when. */
struct suite_tool_answer {
	struct jsonschema *when;   /* NULL: any arguments */
	char *result;              /* the text sent: a string as it is, anything else as JSON */
};

/* The scripted results of one tool (tool_results:), tried in order; the
 * name "*" answers every tool that has none of its own. */
struct suite_tool_script {
	char *name;
	struct suite_tool_answer *answers;
	size_t nanswers;
	int line, col;             /* of its key */
};

/* One user turn of a conversation (turns:). */
struct suite_turn {
	char *input;               /* rendered */
	struct grader **expect;    /* the graders of this turn's reply (its own only) */
	size_t nexpect;
	int line, col;
};

/* SUITE_TOOLS_MAX: the most tools a case may offer (OpenAI's limit). */
#define SUITE_TOOLS_MAX 128

/* Which tool the agent must call, when the case offers tools. */
enum tool_choice {
	TOOL_CHOICE_UNSET,         /* not given: the API's default (auto) */
	TOOL_CHOICE_AUTO,          /* any tool, or none */
	TOOL_CHOICE_NONE,          /* no tool */
	TOOL_CHOICE_REQUIRED,      /* some tool (Anthropic calls it any) */
	TOOL_CHOICE_NAMED,         /* the tool named tool_choice_name */
};

struct suite_case {
	char *id;
	size_t stratum;            /* index into suite->strata */
	char *input;               /* the last user message, rendered */
	cJSON *messages;           /* rendered; [{role:user,content:input}] for input,
				    * whose strings are references (input's own) */
	cJSON *request;            /* rendered object merged into raw API bodies, or NULL */
	/* tools: the suite's, the stratum's and the case's own, merged by name
	 * (an inner level's tool replaces an outer one's in its place) */
	const struct suite_tool **tools;
	size_t ntools;
	enum tool_choice tool_choice;   /* the innermost level's */
	const char *tool_choice_name;   /* TOOL_CHOICE_NAMED: one of tools' names */
	struct tmpl_var *vars;     /* rendered */
	size_t nvars;
	int repeat;
	double threshold;
	long timeout_ms;           /* its own, else the suite default */
	bool timeout_set;          /* the case gave its own timeout */
	int stream;                /* the case's, else its stratum's stream: 1 true, -1 false, 0 the target's */
	struct grader **expect;    /* stratum-level first, then the case's own */
	size_t nexpect;
	/* turns: the user turns of a conversation (NULL: none; then input and
	 * messages hold the first turn) */
	struct suite_turn *turns;
	size_t nturns;
	/* scripts: the scripted tool results of the suite, the stratum and the
	 * case merged by name (an inner level's replaces an outer one's) */
	const struct suite_tool_script **scripts;
	size_t nscripts;
	int max_steps;             /* requests a turn may take (tool loop) */
	long conversation_timeout_ms; /* the whole conversation (0: none) */
	int line, col;
};

struct stratum {
	char *name;
	char *description;         /* NULL when not given */
	struct grader **expect;    /* the stratum-level graders (replay grades with them) */
	size_t nexpect;
	struct suite_case *cases;
	size_t ncases;
	int line, col;
};

struct suite_defaults {
	int repeat;                /* 1 */
	double threshold;          /* 1.0 */
	long timeout_ms;           /* 30 s */
	long connect_timeout_ms;   /* 10 s */
	int confirm;               /* 0: confirmation samples per side */
	double min_valid;          /* 0.5: fraction of a side's samples that must be valid */
	int max_steps;             /* 8: requests a conversation's turn may take */
	long conversation_timeout_ms; /* 0: none */
};

struct named_grader {
	char *name;
	struct grader *grader;
};

/* What uses a suite string: a target, the judge or a case. */
enum suite_user {
	SUITE_USER_EVAL = SIDE_EVAL,
	SUITE_USER_PROD = SIDE_PROD,
	SUITE_USER_JUDGE,
	SUITE_USER_CASE,
};

/* An ${env:NAME} that was unset when the suite loaded with lazy_env. */
struct suite_unset {
	char *name;
	char *file;                /* where it is used: the suite or an included file, */
	int line, col;
	enum suite_user user;
	const struct suite_case *c; /* SUITE_USER_CASE: which case */
};

/* One replay: {strata: {NAME: {match: REGEX}}} entry. */
struct suite_replay_match {
	size_t stratum;            /* index into suite->strata */
	struct rx *match;          /* on the user's last message */
};

/* replay: how `canary replay` puts a log record into a stratum: by a JSON
 * pointer to the stratum's name in the record, or by the first of the
 * matches (in suite order) whose regex matches the user's last message. */
struct suite_replay {
	bool present;
	char *stratum_pointer;     /* {stratum: /pointer}, or NULL */
	struct suite_replay_match *matches; /* {strata: ...}, in order */
	size_t nmatches;
	int line, col;
};

struct suite {
	char *path;
	char *dir;                 /* the suite's folder, for relative files */
	char *name;
	int version;
	struct suite_defaults defaults;
	struct target targets[SIDE__COUNT];
	struct judge_config judge;
	struct named_grader *named;
	size_t nnamed;
	struct grader **graders;   /* every compiled grader; owned */
	size_t ngraders;
	size_t nentries;           /* grader entries written (named and expect), shared or not */
	struct suite_tool **tools; /* every tool of every level; owned */
	size_t ntools;
	struct suite_tool_script **scripts; /* every tool_results entry of every level; owned */
	size_t nscripts;
	struct stratum *strata;
	size_t nstrata;
	size_t ncases;
	struct suite_replay replay;
	struct redact redact;      /* env values met while loading */
	struct suite_unset *unset; /* lazy_env: the unset variables, by use */
	size_t nunset;
};

/* The text a file is to have, used instead of what it holds (or for a file
 * not written yet), to check a change before it is written. */
struct suite_override {
	const char *path;          /* an included file (NULL: none) */
	const char *data;
	size_t len;
};

struct suite_options {
	const char *target_url[SIDE__COUNT]; /* --target overrides, or NULL */
	struct suite_override override;      /* canary promote's file */
	const char *judge_url;               /* --judge-url override, or NULL */
	/* lazy_env: an unset ${env:...} is not an error at load but recorded in
	 * suite->unset (its strings render it as ""); suite_check_env() must
	 * then pass for what a command uses before it sends anything. */
	bool lazy_env;
};

/* suite_load: load and check a suite file; NULL and *err ("file:line:col:
 * what") on any error.  The YAML text and tree are freed before it returns:
 * the suite keeps only what it was compiled to. */
struct suite *suite_load(const char *path, const struct suite_options *opts, char **err);
/* suite_load_buffer: the same from memory; name is used in messages and
 * relative paths resolve from the current folder. */
struct suite *suite_load_buffer(const char *name, const char *data, size_t len,
				const struct suite_options *opts, char **err);
void suite_free(struct suite *s);

/* suite_find_case: the case named id, or stratum/id as every output
 * names it; NULL when none. */
const struct suite_case *suite_find_case(const struct suite *s, const char *id);

/* suite_case_index: the place of c in suite order (strata in order, each
 * stratum's cases in order), from 0. */
size_t suite_case_index(const struct suite *s, const struct suite_case *c);

/* Which cases a command works on (--stratum, --case; each repeatable, and
 * repeats add up).  A case is selected when its stratum is one of strata
 * (or strata is empty) and one of the globs of cases matches its id or its
 * stratum/id (or cases is empty).  The strings are borrowed; the arrays
 * belong to the filter until suite_filter_release(). */
struct suite_filter {
	const char **strata;
	size_t nstrata;
	const char **cases;
	size_t ncases;
};

/* suite_filter_add: append value to a filter's list (strata or cases). */
void suite_filter_add(const char ***list, size_t *n, const char *value);
void suite_filter_release(struct suite_filter *f);

/* suite_case_matches: whether glob matches c's id or its stratum/id. */
bool suite_case_matches(const struct suite *s, const struct suite_case *c, const char *glob);

/* suite_select: selected[i] for the i-th case in suite order (s->ncases
 * entries); -1 and *err when a stratum of f does not exist or a glob of f
 * matches no case of the selected strata. */
int suite_select(const struct suite *s, const struct suite_filter *f, bool *selected,
		 char **err);

/* suite_check_env: -1 and *err, one "file:line:col: environment variable
 * 'NAME' is not set (used by ...)" line per use, when a variable that the
 * work needs was unset at load: the targets whose bit (1 << side) is in
 * sides, the cases selected (selected[i] for the i-th case in suite order;
 * NULL: every case), and the judge when one of those cases has a judge
 * grader.  0 when nothing needed is unset, always so for a suite loaded
 * without lazy_env. */
int suite_check_env(const struct suite *s, unsigned sides, const bool *selected, char **err);

#define SUITE_SIDES_ALL ((1u << SIDE__COUNT) - 1)

/* suite_target_set_api: read t's replies as api p instead of its own (for
 * `canary grade --api`); -1 and *err when p needs options of its own, which
 * only a target of api p has. */
int suite_target_set_api(struct target *t, const struct provider *p, char **err);

/* suite_merge_request: merge into body, as provider_merge_request() does
 * (the request's keys win), the request of case c on target t: t's
 * request template rendered with ctx, with c's own request deep-merged over
 * it (an object member of both is merged, anything else replaced).  -1 and
 * *err when the template does not render. */
int suite_merge_request(cJSON *body, const struct target *t, const struct suite_case *c,
			const struct tmpl_ctx *ctx, char **err);

/* suite_tools_json: c's tools, each {"name", "description", SCHEMA_KEY:
 * parameters} (no description when it has none), or NULL when it offers
 * none: the form every API's tools build on ("parameters" for OpenAI and
 * ${tools}, "input_schema" for Anthropic).  The caller owns the array. */
cJSON *suite_tools_json(const struct suite_case *c, const char *schema_key);

/* suite_streams: whether case c asks target t for an event stream. */
bool suite_streams(const struct target *t, const struct suite_case *c);

/* suite_tool_choice_word: "auto", "none" or "required" for those choices
 * (OpenAI's words, and the suite's), NULL for the others. */
const char *suite_tool_choice_word(enum tool_choice choice);

/* suite_case_converses: whether c is a conversation (it has turns, or
 * scripted tool results for the tools it offers) rather than one request. */
bool suite_case_converses(const struct suite_case *c);

/* suite_tool_result: the result c scripts for a call of tool name with
 * arguments args (NULL: not JSON): its first answer whose when: matches,
 * else the "*" script's.  NULL and *why (static text) when none does. */
const char *suite_tool_result(const struct suite_case *c, const char *name, const cJSON *args,
			      const char **why);
/* suite_case_of_messages: c, a new case of stratum si: id and messages
 * (both taken; messages [{role, content}] as a case's, the last user one
 * its input), request (taken, may be NULL: an object merged into raw API
 * bodies), graded with the stratum-level expect, repeat 1, threshold 1,
 * the suite's default timeout, no tools or vars; for `canary replay`. */
void suite_case_of_messages(const struct suite *s, size_t si, char *id, cJSON *messages,
			    cJSON *request, struct suite_case *c);

/* suite_set_cases: make cases (n of them, taken with what they own) the
 * cases of stratum si in place of its own, which are freed; s->ncases
 * follows. */
void suite_set_cases(struct suite *s, size_t si, struct suite_case *cases, size_t n);

/* suite_case_ctx: the template context for rendering a target's strings for
 * one case (allowed = TMPL_TARGET, redact = &s->redact). */
void suite_case_ctx(struct suite *s, const struct suite_case *c, struct tmpl_ctx *ctx);

#endif
