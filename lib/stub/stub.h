/* stub/stub.h: a scripted agent speaking the openai-chat, openai-responses
 * and anthropic-messages APIs, streaming and not (libmicrohttpd).
 *
 * A script is YAML: rules matched in order against the request's
 * conversation (its last user turn, earlier turns, the turn and step
 * numbers, the tool results it ends with); each answers text, a refusal,
 * tool calls, an error status or a raw body, with an optional latency,
 * probability, declared token usage and stream faults (see docs/stub.md).
 * Used by `canary stub`, `canary demo` and the tests.
 *
 * The server runs a thread per connection, so slow rules (latency, hang,
 * a slow stream) never serialise other requests; stub_stop() is prompt
 * even while requests sleep.  The request log holds bodies, never headers.
 *
 * Ownership: stub_start() takes the script, and frees it when it fails;
 * stub_stop() stops the server and frees it and the script.
 */
#ifndef CANARY_STUB_H
#define CANARY_STUB_H

#include <stddef.h>

struct stub_script;
struct stub;

/* stub_script_load: read and check a script; errors read
 * "file:line:col: what". */
struct stub_script *stub_script_load(const char *path, char **err);
struct stub_script *stub_script_load_buffer(const char *name, const char *data, size_t len,
					    char **err);
void stub_script_free(struct stub_script *s);

/* stub_api_names: the APIs a stub speaks, NULL-terminated; the first is
 * the default. */
extern const char *const stub_api_names[];

struct stub_options {
	const char *host;     /* "127.0.0.1" */
	const char *api;      /* for paths that name none; NULL: "openai-chat" */
	int port;             /* 0: any free port */
	const char *log_path; /* append one JSON line per request, or NULL */
	unsigned seed;        /* for probabilities; 0: from the clock */
};

/* stub_start: listen (o may be NULL for the defaults) and serve until
 * stub_stop(); the server accepts connections when this returns. */
struct stub *stub_start(struct stub_script *script, const struct stub_options *o, char **err);
int stub_port(const struct stub *s);
/* stub_requests: how many requests the stub has answered, counting every
 * request it logs (errors, close and hang included). */
long stub_requests(const struct stub *s);
void stub_stop(struct stub *s);

#endif
