/* exec.c: let an external program grade the sample.
 *     - exec: [python3, checks/refund.py]
 *     - exec: {argv: [./checks/refund.sh, --strict], timeout: 2s}
 *
 * The program runs without a shell, in the suite's folder, with canary's
 * environment unchanged.  It reads the sample as one JSON object on stdin
 * and answers {"pass": bool, "score": 0..1, "reason": "..."} on stdout.
 * A program that cannot run, exits non-zero, dies, times out or answers
 * anything else gives an error, never a pass or a fail.  It runs inside the
 * run loop, which waits for it: keep checks quick and timeouts modest.
 * When the run stops, the program's process group gets SIGTERM, then
 * SIGKILL once the run's grace has passed (at once on a second signal).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "provider.h"
#include "util.h"

extern char **environ;

#define EXEC_TIMEOUT_MS 10000
#define EXEC_STDOUT_MAX ((size_t)1 << 20)
#define EXEC_STDERR_MAX ((size_t)64 << 10)
#define EXEC_CHUNK 65536
#define EXEC_POLL_MS 100        /* how often a stop flag set elsewhere is noticed */

struct exec {
	char **argv;            /* NULL-terminated, argv[0] as written */
	size_t argc;
	char *path;             /* the absolute path executed */
	char *dir;              /* the working directory (the suite folder), or NULL */
	long timeout_ms;
};

/* One run of the program. */
struct exec_run {
	pid_t pid;
	int in, out, err;       /* our ends of the pipes, -1 once closed */
	int pidfd;              /* -1 when the kernel has no pidfd_open() */
	const char *input;
	size_t input_len, written;
	struct buf stdout_buf;
	char *stderr_tail;      /* the last EXEC_STDERR_MAX bytes of stderr */
	size_t stderr_len;
	bool exited, timed_out, too_much, epipe;
	bool stopped;           /* the run stopped: the program was told to end */
	int status;             /* from waitpid() */
};

/* absolute: path made absolute against the working directory. */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(path);
	char *abs = xasprintf("%s/%s", cwd, path);
	free(cwd);
	return abs;
}

/* runnable: 0 when path is an executable regular file, else an errno. */
static int runnable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	return access(path, X_OK) < 0 ? errno : 0;
}

/* resolve: the absolute path argv[0] (node) runs; a name with a '/' is
 * relative to the suite folder, any other is looked up in PATH. */
static char *resolve(const struct ynode *node, const char *suite_dir, char **err)
{
	const char *name = node->str;
	if (strchr(name, '/')) {
		char *joined = name[0] == '/' || !suite_dir ? xstrdup(name)
							    : xasprintf("%s/%s", suite_dir, name);
		char *path = absolute(joined);
		free(joined);
		int e = runnable(path);
		if (e) {
			*err = ynode_error(node, "cannot run '%s': %s", name, strerror(e));
			free(path);
			return NULL;
		}
		return path;
	}
	const char *search = getenv("PATH");
	if (!search || !search[0])
		search = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = search;;) {
		size_t len = strcspn(p, ":");
		char *dir = len ? xstrndup(p, len) : xstrdup(".");
		char *joined = xasprintf("%s/%s", dir, name);
		free(dir);
		if (runnable(joined) == 0) {
			char *path = absolute(joined);
			free(joined);
			return path;
		}
		free(joined);
		if (!p[len])
			break;
		p += len + 1;
	}
	*err = ynode_error(node, "cannot run '%s': not found in PATH", name);
	return NULL;
}

/* parse_argv: the argv list (or a single word) into p. */
static int parse_argv(struct exec *p, const struct ynode *n, char **err)
{
	if (n->kind == YNODE_MAP) {
		*err = ynode_error(n, "argv must be a list such as [python3, check.py]");
		return -1;
	}
	if (n->kind == YNODE_SCALAR) {
		if (grader_cfg_text(n, "exec command", err) < 0)
			return -1;
		if (n->len == 0 || strpbrk(n->str, " \t\n")) {
			*err = ynode_error(n, "exec runs no shell: write the command as a list, "
					   "e.g. [python3, check.py]");
			return -1;
		}
		p->argv = xcalloc(2, sizeof(*p->argv));
		p->argv[p->argc++] = xstrdup(n->str);
		return 0;
	}
	if (n->n == 0) {
		*err = ynode_error(n, "exec needs a command: an argv list such as "
				   "[python3, check.py]");
		return -1;
	}
	p->argv = xcalloc(n->n + 1, sizeof(*p->argv));
	for (size_t i = 0; i < n->n; i++) {
		if (grader_cfg_text(n->items[i], "exec argument", err) < 0)
			return -1;
		p->argv[p->argc++] = xstrdup(n->items[i]->str);
	}
	if (!p->argv[0][0]) {
		*err = ynode_error(n->items[0], "exec command is empty");
		return -1;
	}
	return 0;
}

static int exec_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			char **err)
{
	static const char *const keys[] = { "argv", "timeout", NULL };
	struct exec *p = priv;
	const struct ynode *argv = cfg;
	p->timeout_ms = EXEC_TIMEOUT_MS;
	if (!cfg) {
		*err = xstrdup("exec needs a command");
		return -1;
	}
	if (cfg->kind == YNODE_MAP) {
		if (grader_check_keys(cfg, "exec", keys, err) < 0)
			return -1;
		argv = ynode_get(cfg, "argv");
		if (!argv) {
			*err = ynode_error(cfg, "exec needs argv: [command, args...]");
			return -1;
		}
		const struct ynode *t = ynode_get(cfg, "timeout");
		if (t) {
			if (grader_cfg_text(t, "exec timeout", err) < 0)
				return -1;
			if (util_parse_duration(t->str, &p->timeout_ms) < 0) {
				*err = ynode_error(t, "bad duration '%s' for exec timeout "
						   "(use e.g. 250ms, 2s or 1m)", t->str);
				return -1;
			}
			if (p->timeout_ms <= 0) {
				*err = ynode_error(t, "exec timeout must be more than 0");
				return -1;
			}
		}
	}
	if (parse_argv(p, argv, err) < 0)
		return -1;
	const struct ynode *cmd = argv->kind == YNODE_SEQ ? argv->items[0] : argv;
	const char *suite_dir = env ? env->suite_dir : NULL;
	p->path = resolve(cmd, suite_dir, err);
	if (!p->path)
		return -1;
	if (suite_dir)
		p->dir = absolute(suite_dir);
	return 0;
}

/* utf8_len: the length of the valid UTF-8 sequence at s (n bytes left), or
 * 0 when there is none (a NUL byte counts as invalid: JSON text cannot
 * hold it in a C string). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	return s[0] ? util_utf8_len(s, n) : 0;
}

/* add_text: s[0..len) as a JSON string member, invalid UTF-8 (and NUL) as
 * U+FFFD, so that the program always reads valid JSON. */
static void add_text(cJSON *obj, const char *key, const char *s, size_t len)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_len((const unsigned char *)s + i, len - i);
		if (n) {
			buf_add(&b, s + i, n);
			i += n;
		} else {
			buf_add(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	char *text = buf_detach(&b, NULL);
	cJSON_AddStringToObject(obj, key, text);
	free(text);
}

/* sample_json: the sample as the program reads it. */
static char *sample_json(const struct grade_input *in)
{
	const struct reply *r = in->reply;
	cJSON *o = cJSON_CreateObject();
	const char *content = r->content ? r->content : "";
	add_text(o, "case", in->case_id ? in->case_id : "", in->case_id ? strlen(in->case_id) : 0);
	add_text(o, "target", in->target ? in->target : "", in->target ? strlen(in->target) : 0);
	add_text(o, "input", in->input ? in->input : "", in->input ? strlen(in->input) : 0);
	add_text(o, "content", content, r->content ? r->content_len : 0);
	add_text(o, "subject", in->subject ? in->subject : "", in->subject ? in->subject_len : 0);
	cJSON *calls = cJSON_AddArrayToObject(o, "tool_calls");
	for (size_t i = 0; i < r->ntool_calls; i++) {
		const struct tool_call *tc = &r->tool_calls[i];
		cJSON *c = cJSON_CreateObject();
		if (tc->id)
			add_text(c, "id", tc->id, strlen(tc->id));
		add_text(c, "name", tc->name, strlen(tc->name));
		if (tc->arguments)
			cJSON_AddItemToObject(c, "arguments", cJSON_Duplicate(tc->arguments, true));
		else
			cJSON_AddNullToObject(c, "arguments");
		const char *raw = tc->arguments_raw ? tc->arguments_raw : "";
		add_text(c, "arguments_raw", raw, strlen(raw));
		cJSON_AddItemToArray(calls, c);
	}
	add_text(o, "raw", r->raw ? r->raw : "", r->raw ? r->raw_len : 0);
	cJSON_AddNumberToObject(o, "latency_ms", r->latency_ms);
	cJSON_AddNumberToObject(o, "status", (double)r->status);
	char *text = provider_json_text(o);
	cJSON_Delete(o);
	return text;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* child: the forked process, until execve(); only async-signal-safe calls,
 * since other threads of canary (the stubs of `canary demo`) may hold
 * locks.  A failure goes to fail_fd as {stage, errno}. */
static void child(const struct exec *p, int in, int out, int err, int fail_fd)
{
	int why[2] = {0, 0};
	sigset_t none;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
		why[1] = errno;
		goto fail;
	}
	if (p->dir && chdir(p->dir) < 0) {
		why[0] = 1;
		why[1] = errno;
		goto fail;
	}
	/* Everything but stdio closes on exec: no socket of canary leaks. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	execve(p->path, p->argv, environ);
	why[0] = 2;
	why[1] = errno;
fail:
	if (write(fail_fd, why, sizeof(why)) < 0)
		_exit(127);
	_exit(127);
}

/* read_some: read what fd has now into the run; false at end of file. */
static bool read_some(struct exec_run *x, int fd)
{
	char chunk[EXEC_CHUNK];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0)
			return false;
		if (fd == x->out) {
			if (buf_add(&x->stdout_buf, chunk, (size_t)n) < 0) {
				x->too_much = true;
				return false;
			}
			continue;
		}
		/* stderr: keep the tail, where the last line is. */
		size_t keep = (size_t)n >= EXEC_STDERR_MAX ? 0 : EXEC_STDERR_MAX - (size_t)n;
		if (x->stderr_len > keep) {
			memmove(x->stderr_tail, x->stderr_tail + x->stderr_len - keep, keep);
			x->stderr_len = keep;
		}
		size_t take = (size_t)n > EXEC_STDERR_MAX ? EXEC_STDERR_MAX : (size_t)n;
		memcpy(x->stderr_tail + x->stderr_len, chunk + n - take, take);
		x->stderr_len += take;
	}
}

/* write_some: write what the pipe takes of the rest of the input. */
static void write_some(struct exec_run *x)
{
	while (x->written < x->input_len) {
		size_t left = x->input_len - x->written;
		size_t chunk = left < EXEC_CHUNK ? left : EXEC_CHUNK;
		ssize_t n = write(x->in, x->input + x->written, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			/* The program closed its stdin: it needs no more of it. */
			x->epipe = errno == EPIPE;
			break;
		}
		x->written += (size_t)n;
	}
	close_fd(&x->in);
}

static long remaining_ms(double deadline)
{
	double left = deadline - util_now_ms();
	return left <= 0 ? 0 : (long)ceil(left);
}

/* exited: whether the program has exited, left as a zombie (WNOWAIT), so
 * that its id stays its own until reap(); for kernels without pidfds. */
static bool exited(const struct exec_run *x)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)x->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == x->pid;
}

/* pump: feed stdin and collect stdout and stderr until the program has
 * exited, the deadline passes or stdout overflows.  Once rt's stop flag is
 * set the program's group gets SIGTERM and the grace to exit (none when the
 * flag is 2 or more), then reap() kills what is left. */
static void pump(struct exec_run *x, double deadline, const struct grader_runtime *rt)
{
	volatile sig_atomic_t *stop = rt ? rt->stop : NULL;
	for (;;) {
		if (stop && *stop && !x->stopped) {
			x->stopped = true;
			kill(-x->pid, SIGTERM);
			double end = util_now_ms() + (double)rt->grace_ms;
			if (end < deadline)
				deadline = end;
		}
		if (x->stopped && *stop > 1)
			return;
		struct pollfd fds[4];
		int *which[4];
		nfds_t n = 0;
		if (x->in >= 0) {
			fds[n] = (struct pollfd){ .fd = x->in, .events = POLLOUT };
			which[n++] = &x->in;
		}
		if (x->out >= 0) {
			fds[n] = (struct pollfd){ .fd = x->out, .events = POLLIN };
			which[n++] = &x->out;
		}
		if (x->err >= 0) {
			fds[n] = (struct pollfd){ .fd = x->err, .events = POLLIN };
			which[n++] = &x->err;
		}
		if (x->pidfd >= 0) {
			fds[n] = (struct pollfd){ .fd = x->pidfd, .events = POLLIN };
			which[n++] = &x->pidfd;
		}
		long wait = remaining_ms(deadline);
		if (wait == 0) {
			x->timed_out = true;
			return;
		}
		/* Without a pidfd, look at the program every 20 ms. */
		if (x->pidfd < 0 && wait > 20)
			wait = 20;
		if (stop && wait > EXEC_POLL_MS)
			wait = EXEC_POLL_MS;
		int rc = poll(fds, n, wait > 1000000 ? 1000000 : (int)wait);
		if (rc < 0 && errno != EINTR)
			return;
		for (nfds_t i = 0; rc > 0 && i < n; i++) {
			if (!fds[i].revents)
				continue;
			if (which[i] == &x->in) {
				write_some(x);
			} else if (which[i] == &x->pidfd) {
				x->exited = true;
			} else if (!read_some(x, *which[i])) {
				close_fd(which[i]);
			}
			if (x->too_much)
				return;
		}
		if (x->pidfd < 0 && !x->exited)
			x->exited = exited(x);
		if (x->exited) {
			/* Everything it wrote is in the pipes now: take it and go,
			 * even if a process it left behind holds them open. */
			if (x->out >= 0 && !read_some(x, x->out))
				close_fd(&x->out);
			if (x->err >= 0 && !read_some(x, x->err))
				close_fd(&x->err);
			return;
		}
	}
}

/* reap: end what is left of the program's process group (all of it unless
 * it exited by itself) and collect its status. */
static void reap(struct exec_run *x)
{
	/* An exited program is a zombie until waitpid(), so its id, and its
	 * group's, is not reused before the kill. */
	kill(-x->pid, SIGKILL);
	if (!x->exited)
		kill(x->pid, SIGKILL);
	while (waitpid(x->pid, &x->status, 0) < 0 && errno == EINTR)
		;
}

/* open_pipe: a close-on-exec pipe whose ends are above stdio, so that the
 * child's dup2() calls cannot overwrite one another (canary may have been
 * started with stdio closed). */
static int open_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int high = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (high < 0)
			return -1;
		close(fds[i]);
		fds[i] = high;
	}
	return 0;
}

/* run: run p with input on stdin (until rt's stop, if any); 0 when it ran
 * (x says how), -1 and *why when it could not be started. */
static int run(const struct exec *p, struct exec_run *x, const struct grader_runtime *rt,
	       char **why)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, fail[2] = {-1, -1};
	int rc = -1, failed[2];
	sigset_t pipe_set, old;
	bool blocked = false;
	double deadline = util_now_ms() + (double)p->timeout_ms;

	if (open_pipe(in) < 0 || open_pipe(out) < 0 || open_pipe(err) < 0 || open_pipe(fail) < 0) {
		*why = xasprintf("cannot run '%s': %s", p->argv[0], strerror(errno));
		goto out;
	}
	x->pid = fork();
	if (x->pid < 0) {
		*why = xasprintf("cannot run '%s': %s", p->argv[0], strerror(errno));
		goto out;
	}
	if (x->pid == 0)
		child(p, in[0], out[1], err[1], fail[1]);
	setpgid(x->pid, x->pid);   /* also here, so that the group exists at once */
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&fail[1]);
	ssize_t n;
	while ((n = read(fail[0], failed, sizeof(failed))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(failed)) {
		while (waitpid(x->pid, &x->status, 0) < 0 && errno == EINTR)
			;
		const char *where = failed[0] == 1 ? " in the suite's folder" : "";
		*why = xasprintf("cannot run '%s'%s: %s", p->argv[0], where, strerror(failed[1]));
		goto out;
	}
	x->in = in[1];
	x->out = out[0];
	x->err = err[0];
	in[1] = out[0] = err[0] = -1;
	fcntl(x->in, F_SETFL, O_NONBLOCK);
	fcntl(x->out, F_SETFL, O_NONBLOCK);
	fcntl(x->err, F_SETFL, O_NONBLOCK);
	x->pidfd = pidfd_open(x->pid, 0);

	/* A write to a program that closed its stdin raises SIGPIPE in this
	 * thread: block it here, and take the one it raised before unblocking. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old) == 0;
	if (x->input_len == 0)
		close_fd(&x->in);
	pump(x, deadline, rt);
	close_fd(&x->in);
	if (blocked && x->epipe && !sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	if (blocked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	reap(x);
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
		close_fd(&fail[i]);
	}
	return rc;
}

/* stderr_line: the last non-blank line of the program's stderr as
 * "; stderr: \"...\"" with rd's secrets masked, or "" (the caller frees). */
static char *stderr_line(const struct exec_run *x, const struct redact *rd)
{
	const char *s = x->stderr_tail;
	size_t end = x->stderr_len;
	while (end && (unsigned char)s[end - 1] <= ' ')
		end--;
	if (!end)
		return xstrdup("");
	size_t start = end;
	while (start && s[start - 1] != '\n')
		start--;
	while (start < end && (s[start] == ' ' || s[start] == '\t'))
		start++;
	char *ex = grade_excerpt_at(rd, s, x->stderr_len, start, end);
	char *line = xasprintf("; stderr: \"%s\"", ex);
	free(ex);
	return line;
}

/* judge_answer: turn the program's stdout into the grade. */
static void judge_answer(const char *name, const struct exec_run *x, const char *tail,
			 const struct redact *rd, struct grade_result *out)
{
	char *why = NULL;
	cJSON *a = provider_json_parse(x->stdout_buf.data ? x->stdout_buf.data : "",
				       x->stdout_buf.len, rd, &why);
	if (!a) {
		if (x->stdout_buf.len == 0)
			grade_error(out, "'%s' answered nothing on stdout%s", name, tail);
		else
			grade_error(out, "'%s' answered no JSON: %s%s", name, why, tail);
		free(why);
		return;
	}
	const cJSON *pass = cJSON_GetObjectItemCaseSensitive(a, "pass");
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(a, "score");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(a, "reason");
	if (!cJSON_IsObject(a) || !cJSON_IsBool(pass))
		grade_error(out, "'%s' answered no \"pass\": true or false%s", name, tail);
	else if (score && (!cJSON_IsNumber(score) || !(score->valuedouble >= 0) ||
			   score->valuedouble > 1))
		grade_error(out, "'%s' answered a score that is not a number from 0 to 1", name);
	else if (reason && !cJSON_IsString(reason) && !cJSON_IsNull(reason))
		grade_error(out, "'%s' answered a reason that is not a string", name);
	else if (cJSON_IsTrue(pass))
		grade_pass(out);
	else if (cJSON_IsString(reason) && reason->valuestring[0])
		grade_fail(out, "%s", reason->valuestring);
	else
		grade_fail(out, "'%s' failed without a reason", name);
	if (out->grade != GRADE_ERROR && score)
		out->score = score->valuedouble;
	cJSON_Delete(a);
}

static void exec_grade(const void *priv, const struct grade_input *in, struct grade_result *out)
{
	const struct exec *p = priv;
	struct exec_run x = { .in = -1, .out = -1, .err = -1, .pidfd = -1 };
	char *input = sample_json(in), *why = NULL, *tail = NULL;
	char *name = grade_excerpt(NULL, p->argv[0], strlen(p->argv[0]));
	x.input = input;
	x.input_len = strlen(input);
	buf_init(&x.stdout_buf, EXEC_STDOUT_MAX);
	x.stderr_tail = xmalloc(EXEC_STDERR_MAX);
	if (run(p, &x, in->rt, &why) < 0) {
		grade_error(out, "%s", why);
		goto out;
	}
	tail = stderr_line(&x, grade_secrets(in));
	if (x.stopped)
		grade_error(out, "'%s' was stopped with the run", name);
	else if (x.timed_out)
		grade_error(out, "'%s' timed out after %ld ms%s", name, p->timeout_ms, tail);
	else if (x.too_much)
		grade_error(out, "'%s' wrote more than %zu MiB to stdout", name,
			    EXEC_STDOUT_MAX >> 20);
	else if (WIFSIGNALED(x.status))
		grade_error(out, "'%s' was killed by signal %d (%s)%s", name, WTERMSIG(x.status),
			    strsignal(WTERMSIG(x.status)), tail);
	else if (!WIFEXITED(x.status))
		grade_error(out, "'%s' did not exit normally%s", name, tail);
	else if (WEXITSTATUS(x.status) != 0)
		grade_error(out, "'%s' exited with status %d%s", name, WEXITSTATUS(x.status), tail);
	else
		judge_answer(name, &x, tail, grade_secrets(in), out);
out:
	close_fd(&x.in);
	close_fd(&x.out);
	close_fd(&x.err);
	close_fd(&x.pidfd);
	buf_release(&x.stdout_buf);
	free(x.stderr_tail);
	free(input);
	free(why);
	free(tail);
	free(name);
}

static void exec_release(void *priv)
{
	struct exec *p = priv;
	for (size_t i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->path);
	free(p->dir);
}

const struct grader_ops grader_exec = {
	.name = "exec",
	.priv_size = sizeof(struct exec),
	.compile = exec_compile,
	.grade = exec_grade,
	.release = exec_release,
	.slow = true,
};
