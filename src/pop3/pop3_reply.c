/* pop3_reply.c: being written */
