/* The pod sandbox process of the test node (tests/it/support/node.rs): it holds the pod's namespaces
 * and does nothing else. No registry is reachable, so the usual pause image cannot be pulled; this
 * is built with musl-gcc -static into a one-file image. Exits on SIGINT/SIGTERM, reaps children
 * (it is PID 1 when a pod shares its process namespace). */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        pause();
    }
}
