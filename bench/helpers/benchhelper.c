/*
 * benchhelper: the tiny workload programs the init benchmark runs under
 * each contender.  One static binary, several modes (argv[1]).
 *
 * Every mode writes "TAG <CLOCK_MONOTONIC ns> <pid-in-namespace>\n" lines
 * to a file with a single O_APPEND write, so the harness (outside the PID
 * namespace, same monotonic clock) can compute latencies.
 *
 *   benchhelper stamp    FILE TAG CMD [ARGS...]  write TAG line, then exec CMD
 *   benchhelper trapterm FILE    write "start"; on SIGTERM write "term" and exit 0
 *   benchhelper ignterm  FILE    ignore SIGTERM, write "start", sleep forever
 *   benchhelper hold     FILE TAG  write TAG line, then sleep forever (SIGTERM kills it);
 *                                 the light program of the 1000-program scale workload
 *   benchhelper orphans  FILE N DELAY_US
 *        write "ready", then on every SIGUSR1: write "burst_start", create N
 *        orphans (double fork; the grandchild sleeps DELAY_US and exits, so it
 *        is reparented to PID 1 and becomes a zombie there), write "burst_end".
 *   benchhelper flood    FILE SECONDS
 *        write "start", then 100-byte lines to stdout, 65,500 bytes per write,
 *        as fast as stdout takes them for SECONDS; write "done" and the byte
 *        count to FILE.bytes, then sleep forever (no restart to muddle it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_file;

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Also called from the SIGTERM handler; main() is then parked in pause(),
 * so the snprintf there cannot interrupt another stdio call. */
static void put(const char *tag)
{
    char buf[128];
    long long t = mono_ns();
    int n = snprintf(buf, sizeof buf, "%s %lld %d\n", tag, t, (int)getpid());
    int fd = open(g_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, buf, (size_t)n) < 0) { /* nothing useful to do */ }
    close(fd);
}

static void on_term(int sig)
{
    (void)sig;
    put("term");
    _exit(0);
}

static int usage(void)
{
    fprintf(stderr, "usage: benchhelper stamp FILE TAG CMD...|trapterm FILE|"
                    "ignterm FILE|hold FILE TAG|orphans FILE N DELAY_US|flood FILE SECONDS\n");
    return 2;
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

static void burst(long n, long delay_us)
{
    struct timespec d = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
    for (long i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            if (fork() == 0) {
                while (nanosleep(&d, &d) < 0 && errno == EINTR) {}
                _exit(0);
            }
            _exit(0);
        }
        if (c > 0)
            while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {}
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *mode = argv[1];
    g_file = argv[2];

    if (!strcmp(mode, "stamp")) {
        if (argc < 5)
            return usage();
        put(argv[3]);
        execvp(argv[4], argv + 4);
        perror("benchhelper stamp: exec");
        return 127;
    }
    if (!strcmp(mode, "trapterm")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        put("start");
        sleep_forever();
    }
    if (!strcmp(mode, "hold")) {
        if (argc < 4)
            return usage();
        put(argv[3]);
        sleep_forever();
    }
    if (!strcmp(mode, "ignterm")) {
        signal(SIGTERM, SIG_IGN);
        put("start");
        sleep_forever();
    }
    if (!strcmp(mode, "flood")) {
        if (argc < 4)
            return usage();
        static char buf[65500];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (i % 100 == 99) ? '\n' : (char)('a' + (i % 100) % 26);
        long long end = mono_ns() + (long long)(atof(argv[3]) * 1e9), total = 0;
        put("start");
        while (mono_ns() < end) {
            ssize_t n = write(1, buf, sizeof buf);
            if (n > 0)
                total += n;
            else if (n < 0 && errno != EINTR)
                break;
        }
        put("done");
        char path[4096], line[64];
        snprintf(path, sizeof path, "%s.bytes", g_file);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            int k = snprintf(line, sizeof line, "%lld\n", total);
            if (write(fd, line, (size_t)k) < 0) { /* nothing useful to do */ }
            close(fd);
        }
        sleep_forever();
    }
    if (!strcmp(mode, "orphans")) {
        if (argc < 5)
            return usage();
        long n = atol(argv[3]), delay = atol(argv[4]);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        put("ready");
        for (;;) {
            int sig;
            if (sigwait(&set, &sig) != 0)
                continue;
            put("burst_start");
            burst(n, delay);
            put("burst_end");
        }
    }
    return usage();
}
