#ifndef CRONQ_CRABBITMQ_SHIM_H
#define CRONQ_CRABBITMQ_SHIM_H

/* rabbitmq-c 0.11 (Debian 12). Only CronqAMQP imports this module. */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <linux/sockios.h>

/* amqp_login_with_properties is variadic (SASL arguments); Swift cannot call it. */
static inline amqp_rpc_reply_t cronq_amqp_login_plain(amqp_connection_state_t conn, const char *vhost,
                                                      int frame_max, int heartbeat,
                                                      const amqp_table_t *properties, const char *user,
                                                      const char *password) {
    return amqp_login_with_properties(conn, vhost, 0, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/* Bytes written to the socket that the peer has not acknowledged yet (Linux SIOCOUTQ).
   Used to refuse a publish that would block on a full send buffer: amqp_basic_publish has no timeout. */
static inline int cronq_socket_unsent_bytes(int fd) {
    int value = 0;
    if (ioctl(fd, SIOCOUTQ, &value) != 0) return -1;
    return value;
}

static inline int cronq_socket_send_buffer_size(int fd) {
    int value = 0;
    socklen_t len = sizeof(value);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, &len) != 0) return -1;
    return value;
}

/* Small frames (acks, confirms) must not wait for Nagle's algorithm: turn it off. */
static inline int cronq_socket_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* TCP_CORK: while on, small writes collect into full segments and go out when it is turned off.
   An event loop turns it on for one turn's worth of acks and publishes, then off before it waits. */
static inline int cronq_socket_set_cork(int fd, int on) {
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}


#endif
