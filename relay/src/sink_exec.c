/*
 * sink_exec.c: the --exec sink.  Each message runs COMMAND through
 * /bin/sh -c in a process group of its own, with the JSON document on stdin
 * (from an unlinked temporary file, so a child that never reads cannot block
 * the relay), its stdout sent to the relay's stderr, and WAITLIST_ID,
 * WAITLIST_KIND, WAITLIST_CHANNEL, WAITLIST_IDEMPOTENCY_KEY and
 * WAITLIST_ATTEMPT in its environment (WAITLIST_RELAY_SECRET is not passed
 * on).  Exit 0 = delivered, 100 = dead letter, anything else (or a signal,
 * or the timeout) = retry.
 */
#include "sink.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define OWN_VARS 5				/* WAITLIST_* variables set per message */

/* Inherited variables the child does not get: ours, and the webhook secret. */
static const char *const replaced_vars[] = {
	"WAITLIST_ID=", "WAITLIST_KIND=", "WAITLIST_CHANNEL=", "WAITLIST_IDEMPOTENCY_KEY=",
	"WAITLIST_ATTEMPT=", "WAITLIST_RELAY_SECRET=", NULL
};

/* Whether an inherited "NAME=value" entry passes to the child. */
static bool
inherited(const char *entry)
{
	for (int i = 0; replaced_vars[i] != NULL; i++)
		if (strncmp(entry, replaced_vars[i], strlen(replaced_vars[i])) == 0)
			return false;
	return true;
}

/* The message's WAITLIST_* variables, then the relay's environment less replaced_vars. */
static char **
child_environment(const delivery *d)
{
	int			n = 0,
				k = OWN_VARS;
	char	  **env;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + OWN_VARS + 1, sizeof(char *));
	env[0] = xasprintf("WAITLIST_ID=%lld", d->msg.id);
	env[1] = xasprintf("WAITLIST_KIND=%s", d->msg.kind);
	env[2] = xasprintf("WAITLIST_CHANNEL=%s", d->msg.channel);
	env[3] = xasprintf("WAITLIST_IDEMPOTENCY_KEY=%s", d->msg.idempotency_key);
	env[4] = xasprintf("WAITLIST_ATTEMPT=%d", d->msg.attempts);
	for (int i = 0; i < n; i++)
		if (inherited(environ[i]))
			env[k++] = environ[i];
	return env;
}

/* Free what child_environment allocated (the inherited strings are not ours). */
static void
free_environment(char **env)
{
	for (int i = 0; i < OWN_VARS; i++)
		free(env[i]);
	free(env);
}

/* A rewound, unlinked temporary file holding the body and a newline. */
static FILE *
stdin_file(const delivery *d)
{
	FILE	   *f = tmpfile();

	if (f == NULL)
		return NULL;
	if (fputs(d->msg.body, f) == EOF || fputc('\n', f) == EOF || fflush(f) == EOF)
	{
		fclose(f);
		return NULL;
	}
	rewind(f);
	return f;
}

/* In the child: only async-signal-safe calls from here to execve. */
static void
run_child(int in_fd, const char *command, char **env)
{
	struct sigaction sa;
	sigset_t	none;
	char	   *argv[] = {"sh", "-c", (char *) command, NULL};

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(126);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Start the command for d; false (with a retry verdict) if it could not start. */
bool
exec_start(delivery *d, const relay_config *cfg)
{
	FILE	   *in = stdin_file(d);
	char	  **env;
	pid_t		pid;

	if (in == NULL)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "cannot buffer the message: %s", strerror(errno));
		return false;
	}
	env = child_environment(d);
	log_flush();				/* the relay's lines before the child's */
	pid = fork();
	if (pid == 0)
		run_child(fileno(in), cfg->target, env);
	free_environment(env);
	fclose(in);
	if (pid < 0)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "cannot start the command: %s", strerror(errno));
		return false;
	}
	setpgid(pid, pid);			/* also done by the child; whichever runs first */
	d->pid = pid;
	return true;
}

/* Turn a wait status into the verdict. */
static void
exec_verdict(delivery *d, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
	{
		d->verdict = VERDICT_DELIVERED;
		d->status = 0;
	}
	else if (WIFEXITED(status) && WEXITSTATUS(status) == EXEC_EXIT_GIVE_UP)
		delivery_fail(d, VERDICT_DEAD, EXEC_EXIT_GIVE_UP, "command gave up (exit %d)", EXEC_EXIT_GIVE_UP);
	else if (WIFEXITED(status))
		delivery_fail(d, VERDICT_RETRY, WEXITSTATUS(status), "command exited with %d", WEXITSTATUS(status));
	else
		delivery_fail(d, VERDICT_RETRY, -1, "command killed by signal %d", WTERMSIG(status));
}

/* Kill the child's process group and reap the child. */
static void
exec_kill(delivery *d)
{
	int			status;

	kill(-d->pid, SIGKILL);
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
}

/* True once the child has finished (or timed out and been killed). */
bool
exec_poll(delivery *d, int64_t now)
{
	int			status;
	pid_t		r = waitpid(d->pid, &status, WNOHANG);

	if (r == d->pid)
	{
		d->pid = 0;
		exec_verdict(d, status);
		return true;
	}
	if (now < d->deadline_ms)
		return false;
	exec_kill(d);
	delivery_fail(d, VERDICT_RETRY, -1, "command timed out");
	return true;
}

/* Stop the child now (shutdown); the message is released. */
void
exec_abort(delivery *d)
{
	if (d->pid > 0)
		exec_kill(d);
	delivery_fail(d, VERDICT_RELEASE, -1, "relay shutting down");
}
