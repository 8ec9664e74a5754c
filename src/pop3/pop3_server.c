/* pop3_server.c: being written */
