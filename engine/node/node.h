/*
 * node: phalanxd — loads a home directory, brings the app and the stores into step
 * (handshake), connects to peers and runs the consensus thread until SIGINT/SIGTERM.
 * Everything a validator does is wired here; the work itself is in the modules.
 */
#ifndef PX_NODE_H
#define PX_NODE_H

struct node_options {
    const char *home;
    const char *log_spec; /* NULL: the config's */
};

/* Run until stopped. Returns the process exit status (0 after a clean stop, 1 after a
 * start-up error, which has been explained on stderr). */
int node_run(const struct node_options *opts);

#endif
