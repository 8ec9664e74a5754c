/* pop3_session.c: being written */
